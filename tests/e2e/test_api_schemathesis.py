"""Schemathesis 4 against the app's own OpenAPI schema, in process, on SQLite and PostgreSQL, with
a fixed seed: positive and negative cases for every operation, as a principal holding every role
(so requests reach the ledger's own checks). No answer may be a server error, negative data must be
refused with a 4xx, and every answer must conform to the documented schema and content type."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from apisite import site_fixture  # noqa: F401  (the site fixture)
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from api.main import create_app
from ledger.application import Ledger
from ledger.settings import Settings

CHECKS = [not_a_server_error, negative_data_rejection, response_schema_conformance, content_type_conformance]
OURS = {"record", "audit", "auth"}
"""Tags of the authenticated routers, held to every check. The public, log and health routers
(built elsewhere) are held to "no server error" here; their own tests cover the rest."""


@pytest.fixture(scope="module")
def fuzzed(site):
    """A token of a principal with every role and no foundation scope."""
    everyone = site.cast.actor("fuzzer", ["root", "accountant", "approver", "recorder", "auditor"],
                               organisation="LELING")
    for code, money in (("GEN", 10_000_000), ("SPARE", 0)):  # the funds the schema's examples name
        site.ledger.open_fund(site.cast.accountant, code, f"{code} 基金", "CNCF", street_town="xianxiaxincun")
        if money:
            site.ledger.record_donation(site.cast.accountant, code, money, donor_type="business")
    TOKEN["bearer"] = site.client.app.state.tokens.issue(everyone.key)
    return TOKEN["bearer"]


def _openapi() -> dict:
    """The schema as the app serves it (it does not depend on the ledger's contents)."""
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(Settings(data_dir=Path(folder)))
        try:
            return create_app(ledger=ledger).openapi()
        finally:
            ledger.close()


schema = schemathesis.openapi.from_dict(_openapi())
TOKEN: dict[str, str] = {}
"""The fuzzing principal's token on the store under test (set by the ``fuzzed`` fixture)."""


@schema.auth()
class Bearer:
    """Schemathesis applies the token itself, so its negative cases may also leave it out."""

    def get(self, case, context):
        return TOKEN.get("bearer", "wst_not-issued-yet")  # cases built while collecting answer 401

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_schema_and_never_fails(case, fuzzed, site):
    case.operation.schema.app = site.client.app
    tags = set(case.operation.definition.raw.get("tags", []))
    case.call_and_validate(checks=CHECKS if tags & OURS else [not_a_server_error], app=site.client.app)
