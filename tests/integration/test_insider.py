"""An insider with write access to the database (issue #17, items 8 and 9), on SQLite and
PostgreSQL: rows deleted or reordered under the last checkpoint, and a genuinely signed event slipped
into a free log position below a revocation. Signatures alone cannot see either; the log's shape
(``ledger.integrity``) and the Merkle tree can, and the write side must not trust such an event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rawsql import RawSQL
from typer.testing import CliRunner
from vocabulary import log_actor

from ledger.application import Ledger
from ledger.checkpoints import CHECKPOINTS, Checkpoint, sign_checkpoint
from ledger.envelope import open_sealed, seal
from ledger.errors import TamperedEvent
from ledger.settings import Settings
from ledger.signing import SigningKey
from ledger.verify import check_log

TOWN = "xianxiaxincun"


class Raw(RawSQL):
    def row(self, position: int) -> tuple[str, int, str, bytes]:
        sql = f"SELECT originator_id, originator_version, topic, state FROM {self.table} WHERE {self.pos} = ?"
        [(stream, version, topic, state)] = self.run((sql, (position,)))[0]
        return stream, int(version), topic, bytes(state)

    def delete(self, position: int) -> None:
        self.run((f"DELETE FROM {self.table} WHERE {self.pos} = ?", (position,)))

    def swap(self, a: int, b: int) -> None:
        t, p = self.table, self.pos
        self.run((f"UPDATE {t} SET {p} = -1 WHERE {p} = ?", (a,)),
                 (f"UPDATE {t} SET {p} = ? WHERE {p} = ?", (a, b)),
                 (f"UPDATE {t} SET {p} = ? WHERE {p} = -1", (b,)))

    def insert_at(self, position: int, stream: str, version: int, topic: str, state: bytes) -> None:
        sql = (f"INSERT INTO {self.table} ({self.pos}, originator_id, originator_version, topic, state) "
               "VALUES (?, ?, ?, ?, ?)")
        self.run((sql, (position, stream, version, topic, state)))

    def gap(self, width: int) -> None:
        """Make the next event's log position skip ``width`` numbers, as a rolled-back insert does on
        PostgreSQL (on SQLite, by moving the newest row up: it must not be in the tree yet)."""
        t = self.table
        if self.postgres:
            sql = (f"SELECT setval(pg_get_serial_sequence('{t}', 'notification_id'), "
                   f"(SELECT MAX(notification_id) FROM {t}) + ?)")
            self.run((sql, (width,)))
        else:
            self.run((f"UPDATE {t} SET rowid = rowid + ? WHERE rowid = (SELECT MAX(rowid) FROM {t})", (width,)))

    def positions(self) -> list[int]:
        [rows] = self.run((f"SELECT {self.pos} FROM {self.table} ORDER BY {self.pos}", ()))
        return [int(r[0]) for r in rows]


@pytest.fixture
def scene(cast, database_url):
    """GEN holds three donations (v2–v4), OTHER one (v2)."""
    ledger = cast.ledger
    for code in ("GEN", "OTHER"):
        ledger.open_fund(cast.accountant, code, f"{code} 基金", "CNCF", street_town=TOWN)
    at = {}
    for name, amount in (("a", 10_000), ("b", 20_000), ("c", 30_000)):
        at[name] = ledger.record_donation(cast.accountant, "GEN", amount, donor_type="resident").positions[0]
    at["other"] = ledger.record_donation(cast.accountant, "OTHER", 5_000, donor_type="resident").positions[0]
    return cast, Raw(ledger, database_url), at


def checkpointed(cast) -> None:
    cast.ledger.sign_checkpoint(log_actor(cast))


def signatures_all_valid(ledger) -> bool:
    return all(check.ok for check in check_log(ledger.log_positions()))


def reopened(cast, database_url, tmp_path) -> Ledger:
    return Ledger(Settings(data_dir=tmp_path / "reopened"), database_url=database_url)


def verify_cli(database_url, tmp_path, monkeypatch):
    from wushe.cli import app

    monkeypatch.setenv("WUSHE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    return CliRunner().invoke(app, ["log", "--verify", "--limit", "0"])


# --- item 8: rows deleted or reordered -----------------------------------------------------------


def test_a_clean_log_verifies_with_its_shape(scene, database_url, tmp_path, monkeypatch):
    cast, _, _ = scene
    checkpointed(cast)
    report = cast.ledger.check_structure()
    assert report.ok and report.checkpoint_size == report.leaves == report.events
    result = verify_cli(database_url, tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "signed and valid" in result.output and f"checkpoint {report.checkpoint_size}" in result.output


def test_a_row_deleted_under_the_checkpoint_is_named(scene, database_url, tmp_path, monkeypatch):
    cast, raw, at = scene
    checkpointed(cast)
    raw.delete(at["b"])  # GEN v3
    assert signatures_all_valid(cast.ledger)  # every remaining event is genuinely signed
    report = cast.ledger.check_structure()
    first = report.breaks[0]
    assert first.position == at["b"] and "missing" in first.problem
    assert any(b.stream == "fund:GEN" and b.version == 4 and "v3 missing" in b.problem for b in report.breaks)
    assert any("fewer than" in b.problem or "do not hash" in b.problem for b in report.breaks)
    result = verify_cli(database_url, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert f"#{at['b']}" in result.output and "altered behind the ledger's back" in result.output


def test_a_deleted_row_is_seen_without_any_tree_or_checkpoint(scene):
    cast, raw, at = scene
    raw.delete(at["a"])  # nothing has been checkpointed, and the tree has not grown
    report = cast.ledger.check_structure()
    assert report.checkpoint_size is None
    assert [(b.position, b.stream, b.version) for b in report.breaks] == [(at["b"], "fund:GEN", 3)]
    assert "jumps from v1 to v3" in report.breaks[0].problem


def test_the_last_event_deleted_is_named_by_its_leaf(scene, database_url, tmp_path, monkeypatch):
    cast, raw, at = scene
    checkpointed(cast)
    raw.delete(at["other"])  # the newest event: no stream shows a gap
    report = cast.ledger.check_structure()
    assert report.breaks[0].position == at["other"] and "missing" in report.breaks[0].problem
    assert verify_cli(database_url, tmp_path, monkeypatch).exit_code == 1


def test_reordered_rows_are_named_at_the_first_moved(scene, database_url, tmp_path, monkeypatch):
    cast, raw, at = scene
    checkpointed(cast)
    raw.swap(at["a"], at["other"])  # GEN v2 now after GEN v4; OTHER v2 before GEN v2's place
    assert signatures_all_valid(cast.ledger)
    report = cast.ledger.check_structure()
    assert report.breaks[0].position == at["a"]
    assert any("reordered" in b.problem for b in report.breaks)
    assert any("do not hash" in b.problem for b in report.breaks)
    result = verify_cli(database_url, tmp_path, monkeypatch)
    assert result.exit_code == 1 and f"#{at['a']}" in result.output


def test_a_newest_checkpoint_not_signed_by_the_log_key_is_named(scene):
    cast, raw, _ = scene
    checkpointed(cast)
    latest = cast.ledger.checkpoints.latest().checkpoint
    impostor = SigningKey.generate(cast.ledger.origin)  # the log's name, not its key
    forged = Checkpoint(latest.origin, latest.size, bytes(32))
    raw.run((f"UPDATE {cast.ledger.checkpoints.tables.table(CHECKPOINTS)} SET note = ?, root_hash = ?",
             (sign_checkpoint(forged, impostor), forged.root)))
    report = cast.ledger.check_structure()
    assert report.checkpoint_size is None
    assert [b.stream for b in report.breaks] == ["checkpoint"] and "not signed by the log's key" in report.breaks[0].problem


# --- item 9: a forged event in a free log position below a revocation ----------------------------


@pytest.fixture
def gap_scene(cast, database_url):
    """GEN holds ¥100. A free log position lies below the accountant's key's revocation (the ids of a
    rolled-back insert); the key was stolen before it was revoked."""
    ledger, raw = cast.ledger, Raw(cast.ledger, database_url)
    ledger.open_fund(cast.accountant, "GEN", "GEN 基金", "CNCF", street_town=TOWN)
    ledger.record_donation(cast.accountant, "GEN", 10_000, donor_type="resident")
    ledger.open_fund(cast.accountant, "OTHER", "OTHER 基金", "CNCF", street_town=TOWN)
    raw.gap(3)  # (on SQLite this moves OTHER's opening up: the free positions lie after GEN's donation)
    ledger.revoke_key(cast.root, cast.accountant.key.key_id, reason="密钥泄露")
    revoked_at = raw.positions()[-1]
    free = sorted(set(range(1, revoked_at)) - set(raw.positions()))
    assert free, "the store must hold a free position below the revocation"
    successor = cast.actor("acct2", ["accountant"], foundation="CNCF")
    return cast, raw, {"revoked_at": revoked_at, "free": free[0], "successor": successor}


def forge_below_revocation(cast, raw, at) -> int:
    """The thief signs a ¥5,000 donation with the stolen key, dated before the revocation, and puts it
    into the free position below it: by log position it comes before the revocation."""
    [[(donated,)]] = raw.run((f"SELECT MAX({raw.pos}) FROM {raw.table} WHERE originator_id = 'fund:GEN'", ()))
    stream, version, topic, state = raw.row(int(donated))  # (on SQLite the gap moved it)
    genuine = open_sealed(state, stream=stream, version=version, topic=topic)
    forged = seal(stream=stream, version=version + 1, type_name=topic, timestamp=genuine.timestamp + timedelta(seconds=1),
                  payload=dict(genuine.payload, amount=500_000, entry="forged"), key=cast.accountant.key)
    raw.insert_at(at["free"], stream, version + 1, topic, forged)
    assert at["free"] < at["revoked_at"]
    return at["free"]


def test_a_forged_event_in_a_gap_below_the_revocation_cannot_be_spent(gap_scene):
    cast, raw, at = gap_scene
    forged = forge_below_revocation(cast, raw, at)
    assert signatures_all_valid(cast.ledger)  # by position it is signed before the revocation
    with pytest.raises(TamperedEvent) as err:
        cast.ledger.request_disbursement(at["successor"], "GEN", 500_000, kind="management", payee="基金会",
                                         purpose="办公")
    assert (err.value.stream, err.value.version) == ("fund:GEN", 3)
    assert "not a leaf of the Merkle log" in err.value.problem
    report = cast.ledger.check_structure()
    assert report.breaks[0].position == forged
    assert [b.problem for b in report.breaks if "not a leaf" in b.problem] and len(report.breaks) == 1


def test_a_freshly_opened_ledger_refuses_the_forged_event_too(gap_scene, database_url, tmp_path):
    cast, raw, at = gap_scene
    forge_below_revocation(cast, raw, at)
    other = reopened(cast, database_url, tmp_path)
    try:
        with pytest.raises(TamperedEvent):
            other.fund("GEN")
        with pytest.raises(TamperedEvent), other.bulk():
            other.request_disbursement(at["successor"], "GEN", 1_000, kind="management", payee="基金会",
                                       purpose="办公")
    finally:
        other.close()


def test_log_verify_names_the_forged_event(gap_scene, database_url, tmp_path, monkeypatch):
    cast, raw, at = gap_scene
    forged = forge_below_revocation(cast, raw, at)
    result = verify_cli(database_url, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert f"#{forged}" in result.output and "not a leaf" in result.output


def test_the_views_never_fold_the_forged_event(gap_scene):
    from projections.runner import Projections

    cast, raw, at = gap_scene
    views = Projections(cast.ledger)
    views.run()
    forge_below_revocation(cast, raw, at)
    with pytest.raises(TamperedEvent) as err:
        views.rebuild()
    assert "not a leaf" in err.value.problem


def test_without_a_forgery_the_fund_still_spends(gap_scene):
    cast, _, at = gap_scene
    cast.ledger.request_disbursement(at["successor"], "GEN", 10_000, kind="management", payee="基金会", purpose="办公")
