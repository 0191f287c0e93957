"""Two app instances on one store, as two server processes would be, on SQLite and PostgreSQL: each
request's first read answers the token, the directory's version and the Idempotency-Key together,
so what one instance revokes or stores counts on the other for its very next request, though the
other keeps the unsealed key and the directory in memory."""

from __future__ import annotations

import uuid

import pytest
from apisite import assert_problem, build_site
from conftest import fresh_postgres_schema
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from ledger.application import Ledger

API_SETTINGS = ApiSettings(group_commit=True, public_rate="100000/minute", auth_rate="100000/minute")
DONATION = "/api/v1/donations"


@pytest.fixture(params=["sqlite", "postgres"])
def pair(request, tmp_path):
    """(site on instance A, a client of instance B): the same store and API secret, nothing shared in memory."""
    urls = iter([f"sqlite:///{tmp_path / 'ledger.sqlite3'}"]) if request.param == "sqlite" else fresh_postgres_schema()
    site = build_site(next(urls), tmp_path, API_SETTINGS)
    other = Ledger(site.ledger.settings, database_url=site.ledger.database_url)
    try:
        yield site, TestClient(create_app(ledger=other, api_settings=API_SETTINGS))
    finally:
        other.close()
        site.ledger.close()
        next(urls, None)


def _donate(client, site, fund: str, key: str | None = None, role: str = "accountant"):
    return client.post(DONATION, json={"fund": fund, "amount": "1.00", "donor_type": "resident"},
                       headers=site.headers(role, key))


def test_a_token_revoked_on_one_instance_is_refused_by_the_other_at_once(pair):
    site, b = pair
    fund = site.fund()
    assert _donate(b, site, fund).status_code == 201  # B has unsealed the token's key and keeps it
    tokens = site.client.app.state.tokens  # instance A's
    assert tokens.revoke(next(t.token_id for t in tokens.list() if t.handle == "acct")) == 1
    head = site.head()
    assert_problem(_donate(b, site, fund), 401, field="authorization")
    assert site.head() == head


def test_a_key_revoked_on_one_instance_is_refused_by_the_other_at_once(pair):
    site, b = pair
    fund = site.fund()
    assert _donate(b, site, fund).status_code == 201  # B's directory is current
    site.ledger.revoke_key(site.cast.root, site.cast.accountant.key.key_id, "离职 left")  # instance A
    head = site.head()
    body = assert_problem(_donate(b, site, fund), 401, field="authorization")
    assert site.cast.accountant.key.key_id in body["detail_en"]
    assert site.head() == head
    assert _donate(b, site, fund, role="accountant_approver").status_code == 201  # other keys still work


def test_an_answer_stored_by_one_instance_is_replayed_by_the_other(pair):
    site, b = pair
    fund = site.fund()
    key = uuid.uuid4().hex
    first = _donate(site.client, site, fund, key)
    assert first.status_code == 201
    head = site.head()
    again = _donate(b, site, fund, key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = b.post(DONATION, json={"fund": fund, "amount": "2.00", "donor_type": "resident"},
                     headers=site.headers("accountant", key))
    assert_problem(changed, 422, "idempotency-key-reused", "Idempotency-Key")
    assert site.head() == head


def test_group_commits_of_two_instances_on_one_fund_add_up(pair):
    site, b = pair
    fund = site.fund()
    answers = [_donate(client, site, fund) for _ in range(3) for client in (site.client, b)]
    assert [a.status_code for a in answers] == [201] * 6
    versions = sorted(p for a in answers for p in a.json()["positions"])
    assert len(set(versions)) == 6
    assert site.ledger.fund(fund).balance == 600
