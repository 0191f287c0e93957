"""The backup and restore runbook of docs/operations.md, step by step (issue #18 item 6): `wushe
backup` takes the SQLite store and its key directory together; a restore of the newest backup
passes `wushe audit verify --trust <last witnessed checkpoint>`, one of an older backup does not,
and the server on it refuses once the witnessed checkpoint is adopted. A PostgreSQL ledger is
pointed to the database's own tools."""

from __future__ import annotations

import shutil

from ledger.application import Ledger
from ledger.settings import Settings

WITNESS = "mca.changning.example/witness"


def _donations(cli, n: int, start: int) -> None:
    for i in range(n):
        cli("donation", "record", "--fund", "GEN", "--amount", f"{100 + start + i}", "--donor-type", "resident",
            "--donor-name", "张三", "--method", "cash", "--street-town", "xinhualu", "--date", "2026-03-01",
            "--as", "acct")


def _witnessed(cli, tmp_path) -> None:
    cli("checkpoint")
    cli("witness", "cosign", WITNESS, "--dir", str(tmp_path / "witness"))


def test_the_backup_and_restore_runbook(cli, database_url, tmp_path, monkeypatch):
    if not database_url.startswith("sqlite"):
        refused = cli("backup", "--out", str(tmp_path / "b"), ok=False)
        assert refused.exit_code == 2 and "pg_dumpall --roles-only" in refused.output
        return
    cli("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    cli("fund", "open", "GEN", "--name", "非限定性基金", "--foundation", "CNCF", "--as", "acct")
    cli("witness", "init", WITNESS, "--dir", str(tmp_path / "witness"))
    _donations(cli, 3, 0)
    _witnessed(cli, tmp_path)
    older = tmp_path / "backup-older"
    cli("backup", "--out", str(older))
    assert (older / "keys" / "api-secret").exists() or (older / "keys" / "root.key").exists()
    assert (older / "keys" / "root.key").exists() and (older / "ledger.sqlite3").exists()
    assert (older / "checkpoint.txt").read_text().startswith("wushe.example/changning\n")
    _donations(cli, 4, 10)
    _witnessed(cli, tmp_path)
    newest = tmp_path / "witnessed.txt"  # the runbook: the last checkpoint the witness cosigned
    newest.write_text(cli("history", "show", "--note").output)
    assert "— " + WITNESS in newest.read_text()
    newer = tmp_path / "backup-newer"
    cli("backup", "--out", str(newer))

    def restore(backup) -> Settings:
        target = tmp_path / f"restored-{backup.name}"
        shutil.copytree(backup / "keys", target / "keys")
        shutil.copy(backup / "ledger.sqlite3", target / "ledger.sqlite3")
        monkeypatch.setenv("WUSHE_DATA_DIR", str(target))
        monkeypatch.setenv("WUSHE_DATABASE_URL", f"sqlite:///{target / 'ledger.sqlite3'}")
        return Settings()

    settings = restore(newer)
    verified = cli("audit", "verify", "--database", settings.resolved_database_url, "--trust", str(newest), ok=False)
    assert verified.exit_code == 0, verified.output
    assert cli("history", "adopt", str(newest)).exit_code == 0

    settings = restore(older)
    refused = cli("audit", "verify", "--database", settings.resolved_database_url, "--trust", str(newest), ok=False)
    assert refused.exit_code != 0, refused.output
    # The restored key directory's record is as old as the store: bring the witnessed checkpoint back.
    assert cli("history", "show").exit_code == 0
    adopted = cli("history", "adopt", str(newest), ok=False)
    assert adopted.exit_code == 1 and "older copy" in adopted.output
    ledger = Ledger(settings)
    try:
        assert "older copy" in ledger.history_problem().en
    finally:
        ledger.close()
