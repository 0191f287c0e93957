"""An insider with write access to the database (issue #17, items 8 and 9), on SQLite and
PostgreSQL: rows deleted or reordered under the last checkpoint, and a genuinely signed event slipped
into a free log position below a revocation. Signatures alone cannot see either; the log's shape
(``ledger.integrity``) and the Merkle tree can, and the write side must not trust such an event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eventsourcing.persistence import StoredEvent
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
        self.run((f"INSERT INTO {self.table} ({self.pos}, originator_id, originator_version, topic, state) "
                  "VALUES (?, ?, ?, ?, ?)", (position, stream, version, topic, state)))

    def gap(self, width: int) -> None:
        """Make the next event's log position skip ``width`` numbers, as a rolled-back insert does on
        PostgreSQL (on SQLite, by moving the newest row up: it must not be in the tree yet)."""
        t = self.table
        if self.postgres:
            self.run((f"SELECT setval(pg_get_serial_sequence('{t}', 'notification_id'), "
                      f"(SELECT MAX(notification_id) FROM {t}) + ?)", (width,)))
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
