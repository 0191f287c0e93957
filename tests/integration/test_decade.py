"""Years of the demo ledger (``ledger.decade.seed_years``) at a tiny scale, on SQLite and
PostgreSQL: every kind of activity each year, deterministic, the same content in bulk and one
command at a time, and the whole log verifies, folds and audits."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from auditkit import audited
from replayed import folded, verified_log, views

from ledger.application import Actor, Ledger
from ledger.decade import expected_events, seed_years
from ledger.demo import DEMO_WITNESS
from ledger.errors import InvalidInput
from ledger.principals import LOG
from ledger.settings import Settings
from ledger.signing import SigningKey
from ledger.verify import check_log
from projections.runner import Projections


def founded(database_url: str, data_dir: Path) -> Ledger:
    """A ledger as `wushe init` leaves it: root and log keys in the key directory."""
    key_dir = data_dir / "keys"
    ledger = Ledger(Settings(data_dir=data_dir, key_dir=key_dir), database_url=database_url)
    root = SigningKey.generate("root")
    root.write(key_dir)
    ledger.found("root", "长宁区民政局", root)
    log_key = SigningKey.generate(ledger.origin)
    ledger.register_principal(Actor("root", root), ledger.origin, "账本日志", [LOG], key=log_key.verifier)
    log_key.write(key_dir)
    return ledger


def content(ledger: Ledger) -> str:
    """A digest of the business content: every event outside the directory (keys are random),
    without its recording timestamp."""
    digest = hashlib.sha256()
    for event in verified_log(ledger):
        if event.stream != "directory":
            digest.update(json.dumps([event.type, event.stream, event.version, event.payload], sort_keys=True).encode())
    return digest.hexdigest()


@pytest.fixture
def two_years(database_url, tmp_path):
    ledger = founded(database_url, tmp_path)
    stats = seed_years(ledger, tmp_path / "keys", scale=1, years=2, batch_events=500)
    try:
        yield ledger, stats
    finally:
        ledger.close()


def test_each_year_has_its_giving_day_surge_rounds_rotation_corrections_and_cosigned_checkpoints(two_years):
    ledger, stats = two_years
    log = verified_log(ledger)
    end = min(date(2026, 10, 31), ledger.today())
    years = {end.year - 1, end.year} if end >= date(end.year, 9, 9) else {end.year - 2, end.year - 1}
    kinds = Counter(e.type for e in log)
    surge = Counter(e.payload["received_on"][:4] for e in log
                    if e.type == "Fund.DonationReceived" and e.payload["note"] == "九九公益日")
    assert {int(y) for y in surge} == years
    assert all(n >= 60 for n in surge.values())  # a third of ~300 gifts a year in one week
    vp = [e for e in log if e.type == "Fund.GrantReceived" and e.payload["source"] == "venture_philanthropy"]
    assert len(vp) == 2
    assert sum(1 for e in log if e.type == "Fund.GrantReceived" and e.payload["source"] == "government_purchase") == 80
    assert kinds["Directory.KeyRotated"] == 2
    assert kinds["Disbursement.Approved"] > 20 and kinds["Project.PaymentRecorded"] > 20
    assert kinds["Fund.Reversed"] >= 2 and kinds["Volunteer.ServiceReversed"] >= 4 and kinds["Disbursement.Reversed"] >= 1
    assert kinds["Volunteer.ServiceRecorded"] > 1000
    sizes = ledger.checkpoints.sizes()
    assert len(sizes) == stats["checkpoints"] >= 24  # monthly, and one for the setup
    assert sizes[-1] == ledger.recorder.max_notification_id() == stats["events"]
    assert all([c.split("+")[0] for c in ledger.checkpoints.at(size).cosigners] == [DEMO_WITNESS] for size in sizes)
    assert abs(stats["events"] - expected_events(1, 2)) < 0.05 * stats["events"]


def test_the_years_verify_fold_and_audit(two_years):
    ledger, _ = two_years
    assert all(check.ok for check in check_log(ledger.log_positions()))
    p = Projections(ledger, batch=500)
    p.run()
    assert views(p) == folded(verified_log(ledger))
    incremental = views(p)
    p.rebuild()
    assert views(p) == incremental
    assert audited(ledger).ok


def test_same_seed_same_content_in_bulk_or_one_command_at_a_time(tmp_path):
    digests = {}
    for name, seed, bulk in (("bulk", 7, True), ("again", 7, True), ("commands", 7, False), ("other", 8, True)):
        data = tmp_path / name
        ledger = founded(f"sqlite:///{data / 'ledger.sqlite3'}", data)
        seed_years(ledger, data / "keys", scale=1, years=1, seed=seed, bulk=bulk)
        digests[name] = content(ledger)
        ledger.close()
    assert digests["bulk"] == digests["again"] == digests["commands"]
    assert digests["other"] != digests["bulk"]


@pytest.mark.parametrize(("field", "options"), [("scale", {"scale": 0}), ("scale", {"scale": -3}),
                                                ("years", {"years": 0}), ("years", {"years": 51})])
def test_bad_scale_or_years_is_refused_and_nothing_written(tmp_path, field, options):
    ledger = founded(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path)
    before = ledger.recorder.max_notification_id()
    with pytest.raises(InvalidInput) as err:
        seed_years(ledger, tmp_path / "keys", **options)
    assert err.value.field == field
    assert ledger.recorder.max_notification_id() == before
    ledger.close()
