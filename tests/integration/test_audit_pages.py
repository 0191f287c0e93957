"""The audit bundle carries every public page's figures (issue #17, item 12), on SQLite and
PostgreSQL: the district, street-towns, funds and each fund, projects and each project, hours and
corrections, as the server shows them; the auditor's replay recomputes each from the events, so a
view poisoned behind the runner's back — which no transparency report shows — is a named finding."""

from __future__ import annotations

from datetime import time

import pytest
from auditkit import audited
from rawsql import RawSQL
from vocabulary import donate, hours, open_general, pay, project, register_volunteer

from audits import bundle as bundles
from audits.verify import audit
from projections.runner import Projections


@pytest.fixture
def scene(cast):
    open_general(cast, "GEN")
    project(cast, "P1")
    donate(cast, "GEN", 50_000)
    pay(cast, "GEN", 12_000, project="P1")
    register_volunteer(cast)
    hours(cast, time(9), time(11))
    return cast


def test_the_bundle_carries_every_public_page_and_a_clean_ledger_reproduces_them(scene, tmp_path):
    bundle = bundles.collect(scene.ledger)
    paths = {p["path"] for p in bundle.pages}
    assert {"", "funds", "funds/GEN", "projects", "projects/P1", "hours", "corrections",
            "street-towns/xianxiaxincun"} <= paths
    result = audited(scene.ledger)
    assert result.ok, [f.one_line() for f in result.findings]
    assert result.pages_checked == len(bundle.pages) and result.pages_matched == result.pages_checked
    bundles.write(bundle, tmp_path / "b")
    again = audit(bundles.read(tmp_path / "b"), reference=scene.ledger.reference)
    assert again.ok and again.pages_matched == len(bundle.pages)


def test_a_poisoned_fund_balance_shown_on_the_pages_is_named_by_the_audit(scene, database_url):
    views = Projections(scene.ledger)
    views.run()
    RawSQL(scene.ledger, database_url).run(
        (f"UPDATE {views.tables.table('view_funds')} SET balance = balance + 1000000 WHERE code = ?", ("GEN",)))
    result = audited(scene.ledger)
    poisoned = [f for f in result.findings if f.rule == "integrity.pages"]
    assert {f.details["path"] for f in poisoned} >= {"funds", "funds/GEN", ""}
    fund = next(f for f in poisoned if f.details["path"] == "funds/GEN")
    [difference] = [d for d in fund.details["differences"] if d["path"] == "summary.balance"]
    assert (difference["published"], difference["recomputed"]) == ("10380.00", "380.00")
    assert not result.ok
    assert {f.rule for f in result.integrity_failures} == {"integrity.pages"}  # the reports never showed it
