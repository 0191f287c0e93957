"""Failover to a stale standby and restores of an older backup (issue #18 items 1 and 2, #17 item 11):
the ledger keeps its newest published checkpoint outside the database, refuses to sign over a
history shorter than or different from it, and a server on such a copy serves nothing and says why.

The clusters are the test's own (tests/pgcluster.py); the steps follow docs/operations.md,
"Replicas and failover"."""

from __future__ import annotations

import shutil
import sqlite3

import pgcluster
import pytest
from conftest import found_ledger
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application import Actor, Ledger
from ledger.commands.log import HistoryConflict
from ledger.settings import Settings
from ledger.signing import SigningKey
from ledger.witness import Witness

WITNESS = "mca.changning.example/witness"


def _log_actor(cast) -> Actor:
    ledger = cast.ledger
    key = SigningKey.generate(ledger.origin)
    key.write(ledger.settings.resolved_key_dir)
    ledger.register_principal(cast.root, ledger.origin, "账本日志", ["log"], key=key.verifier)
    return Actor(ledger.origin, key)


def _grow(cast, prefix: str, n: int) -> None:
    for i in range(n):
        cast.actor(f"{prefix}{i}", ["recorder"], organisation="LELING")


def _witnessed_checkpoint(ledger: Ledger, log: Actor, witness_dir) -> int:
    stored = ledger.sign_checkpoint(log)
    if not (witness_dir / "witness-state.json").exists() and not any(witness_dir.glob("*.key")):
        Witness.create(witness_dir, WITNESS)
    witness = Witness(witness_dir, WITNESS)
    checkpoint, line = witness.cosign(stored.note, log.key.verifier, ledger.merkle.consistency_proof)
    ledger.checkpoints.add_cosignature(checkpoint, witness.key.verifier, line)
    return checkpoint.size


def _served_refuses(settings: Settings, why: str) -> None:
    with TestClient(create_app(settings)) as client:
        health = client.get("/health")
        assert health.status_code == 503, health.text
        body = health.json()
        assert body["status"] == "refused" and why in body["detail"], body
        history = next(c for c in body["checks"] if c["name"] == "history")
        assert history["status"] == "failing" and why in history["detail"]
        for path in ("/", "/api/v1/funds", "/log/checkpoints"):
            page = client.get(path)
            assert page.status_code == 503 and page.json()["rule"] == "history-conflict", (path, page.text)


@pytest.mark.postgres
def test_a_failover_to_a_stale_standby_is_refused_and_never_signs_a_conflicting_checkpoint(tmp_path, monkeypatch):
    pgcluster.need_clusters()
    monkeypatch.setenv("WUSHE_REPLICATION_CHECK", "warn")  # the unsafe setup of the incident, allowed loudly
    primary = pgcluster.Cluster.create()
    standby = None
    try:
        standby = primary.standby()
        url = pgcluster.fresh_db(primary)
        cast = found_ledger(url, tmp_path)
        log = _log_actor(cast)
        _grow(cast, "a", 3)
        first = _witnessed_checkpoint(cast.ledger, log, tmp_path / "witness")
        standby.wait_replayed(primary)
        standby.stop()  # the standby stalls: what follows never reaches it
        _grow(cast, "b", 4)
        newest = _witnessed_checkpoint(cast.ledger, log, tmp_path / "witness")
        assert newest > first
        cast.ledger.close()
        primary.stop("immediate")  # the primary dies; the stale standby is promoted
        standby.start()
        standby.promote()
        promoted = url.replace(f":{primary.port}/", f":{standby.port}/")
        settings = Settings(data_dir=tmp_path / "data", database_url=promoted, checkpoint_interval=0)

        ledger = Ledger(settings)
        try:
            assert "older copy" in ledger.history_problem().en
            with pytest.raises(HistoryConflict, match="older copy"):
                ledger.sign_checkpoint(log)
            # New writes on the promoted copy take the lost positions: a different history, never signed.
            stale = found_ledger.__globals__["Cast"](ledger, cast.root, None, None, None, None)
            _grow(stale, "c", 8)
            assert ledger.merkle.sync() > newest
            assert "rewritten" in ledger.history_problem().en
            with pytest.raises(HistoryConflict, match="rewritten"):
                ledger.sign_checkpoint(log)
            assert max(ledger.checkpoints.sizes()) == first  # nothing signed after the failover
        finally:
            ledger.close()
        _served_refuses(settings, "rewritten")
    finally:
        pgcluster.clean_up(*(c for c in (primary, standby) if c is not None))


def test_an_older_backup_restored_over_a_newer_ledger_is_refused(tmp_path, monkeypatch):
    """SQLite: the store file copied while small, restored after a witnessed checkpoint of more."""
    database = tmp_path / "ledger.sqlite3"
    cast = found_ledger(f"sqlite:///{database}", tmp_path)
    log = _log_actor(cast)
    _grow(cast, "a", 2)
    cast.ledger.sign_checkpoint(log)
    backup = tmp_path / "backup.sqlite3"
    source, target = sqlite3.connect(database), sqlite3.connect(backup)
    source.backup(target)  # SQLite's online backup: consistent, the WAL included
    source.close()
    target.close()
    _grow(cast, "b", 3)
    _witnessed_checkpoint(cast.ledger, log, tmp_path / "witness")
    cast.ledger.close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"ledger.sqlite3{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, database)  # the restore
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{database}", checkpoint_interval=0)
    ledger = Ledger(settings)
    try:
        problem = ledger.history_problem()
        assert "older copy" in problem.en and "witnessed" in problem.en and "已见证" in problem.zh
        with pytest.raises(HistoryConflict):
            ledger.sign_checkpoint(log)
    finally:
        ledger.close()
    _served_refuses(settings, "older copy")
