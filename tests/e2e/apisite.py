"""A served ledger for the API tests: the conftest cast plus an auditor and an accountant who is also
an approver, a bearer token for each, and helpers that seed what a request needs."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from agreements import agreement
from conftest import found_ledger, fresh_postgres_schema
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings

TOWN = "xianxiaxincun"
PROBLEM = "application/problem+json"
ROLES = ("anonymous", "root", "accountant", "other_accountant", "approver", "recorder", "auditor")
"""Who calls: no token, then one principal of each role (other_accountant: of another foundation)."""

_serial = itertools.count(1)


def fresh(prefix: str) -> str:
    return f"{prefix}{next(_serial)}-{uuid.uuid4().hex[:6]}"


@dataclass
class Site:
    client: TestClient
    cast: Any
    tokens: dict[str, str] = field(default_factory=dict)
    """Bearer token per role name of ``ROLES`` (none for anonymous)."""
    actors: dict[str, Any] = field(default_factory=dict)

    @property
    def ledger(self):
        return self.cast.ledger

    def headers(self, role: str, key: str | None = None) -> dict[str, str]:
        h = {"Idempotency-Key": key or uuid.uuid4().hex}
        if role in self.tokens:
            h["Authorization"] = f"Bearer {self.tokens[role]}"
        return h

    def post(self, role: str, path: str, body: dict, key: str | None = None):
        return self.client.post(path, json=body, headers=self.headers(role, key))

    def get(self, role: str, path: str, **params):
        return self.client.get(path, params=params, headers=self.headers(role))

    def head(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    # --- seeding through the ledger, as the accountant -------------------------------------------

    def fund(self, money_fen: int = 0, **kw) -> str:
        code = fresh("F")
        self.ledger.open_fund(self.cast.accountant, code, f"{code} 基金", "CNCF", street_town=TOWN, **kw)
        if money_fen:
            self.ledger.record_donation(self.cast.accountant, code, money_fen, donor_type="resident")
        return code

    def restricted_fund(self, money_fen: int) -> str:
        return self.fund(money_fen, kind="special", restricted=True, purpose="仙霞新村养老服务专项",
                         domains=["elderly_care"], street_towns=[TOWN], agreement=agreement())

    def requested(self, fund: str, fen: int = 100, actor=None) -> str:
        return self.ledger.request_disbursement(actor or self.cast.accountant, fund, fen, kind="allowance",
                                                payee="张社工", domain="elderly_care", street_town=TOWN,
                                                purpose="社工津贴").ident

    def approved(self, fund: str, fen: int = 100) -> str:
        number = self.requested(fund, fen)
        self.ledger.approve_disbursement(self.cast.approver, number, approval_ref="批复-1")
        return number


def build_site(database_url: str, tmp_path, api_settings: ApiSettings | None = None) -> Site:
    cast = found_ledger(database_url, tmp_path)
    ledger = cast.ledger
    auditor = cast.actor("aud", ["auditor"])
    both = cast.actor("acct-appr", ["accountant", "approver"], foundation="CNCF")
    ledger.register_volunteer(cast.recorder, "V001", "李四", TOWN, registered_on=date(2026, 1, 5))
    ledger.register_project(cast.accountant, "P1", "助老项目", street_town=TOWN, domain="elderly_care",
                            organisation="LELING", budget=10_000_000, funding_source="fund",
                            approval_ref="长民〔2026〕7号", reach=500, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    settings = api_settings or ApiSettings(public_rate="100000/minute", auth_rate="100000/minute")
    app = create_app(ledger=ledger, api_settings=settings)
    actors = {"root": cast.root, "accountant": cast.accountant, "other_accountant": cast.other_accountant,
              "approver": cast.approver, "recorder": cast.recorder, "auditor": auditor, "accountant_approver": both}
    site = Site(TestClient(app), cast, actors=actors)
    site.tokens = {role: app.state.tokens.issue(actor.key) for role, actor in actors.items()}
    return site


@pytest.fixture(scope="module", params=["sqlite", "postgres"], name="site")
def site_fixture(request, tmp_path_factory):
    """One served ledger per store for a whole test module (tests make their own fresh funds)."""
    tmp_path = tmp_path_factory.mktemp("site")
    if request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'ledger.sqlite3'}"])
    else:
        urls = fresh_postgres_schema()
    # a test module may set API_SETTINGS to serve its site with other API settings
    s = build_site(next(urls), tmp_path, getattr(request.module, "API_SETTINGS", None))
    try:
        yield s
    finally:
        s.ledger.close()
        next(urls, None)


def assert_problem(response, status: int, rule: str | None = None, field: str | None = None) -> dict:
    """An RFC 9457 answer in Chinese and English, naming the rule (and field, if given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["detail"] and body["detail_en"] and body["title"]
    if rule is not None:
        assert body["rule"] == rule, body
    if field is not None:
        assert body.get("field") == field, body
    return body
