"""A PostgreSQL ledger backed up and restored into a new cluster as docs/operations.md's restore
runbook says (issue #18 item 6): `pg_dump` alone misses the roles (the restore fails on them),
`pg_dumpall --roles-only` first makes it clean, and the restored ledger with its key directory
passes `wushe audit verify --trust` the last checkpoint. Clusters of the test's own (tests/pgcluster.py)."""

from __future__ import annotations

import shutil
import subprocess

import pgcluster
import pytest
from conftest import found_ledger
from typer.testing import CliRunner

from ledger.application import Actor, Ledger
from ledger.settings import Settings
from ledger.signing import SigningKey
from wushe.cli import app as cli_app

pytestmark = pytest.mark.postgres


def _client(program: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(pgcluster.BIN / program), *args], capture_output=True, text=True, check=False,
                          timeout=pgcluster.COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)


def test_a_dump_restored_with_its_roles_and_keys_passes_the_audit_against_the_last_checkpoint(tmp_path, monkeypatch):
    pgcluster.need_clusters()
    old = pgcluster.Cluster.create("old")
    new = None
    try:
        new = pgcluster.Cluster.create("new", base=old.base)
        old.sql("CREATE ROLE wushe LOGIN")
        old.sql("CREATE DATABASE ledger OWNER wushe")
        url = f"postgresql://wushe@127.0.0.1:{old.port}/ledger"
        cast = found_ledger(url, tmp_path)
        key = SigningKey.generate(cast.ledger.origin)
        key.write(cast.ledger.settings.resolved_key_dir)
        cast.ledger.register_principal(cast.root, cast.ledger.origin, "账本日志", ["log"], key=key.verifier)
        cast.actor("rec-2", ["recorder"], organisation="LELING")
        stored = cast.ledger.sign_checkpoint(Actor(cast.ledger.origin, key))
        cast.ledger.close()
        checkpoint = tmp_path / "checkpoint.txt"
        checkpoint.write_bytes(stored.note)

        at_old = ["-h", "127.0.0.1", "-p", str(old.port), "-U", "postgres"]
        at_new = ["-h", "127.0.0.1", "-p", str(new.port), "-U", "postgres"]
        roles, dump = tmp_path / "roles.sql", tmp_path / "ledger.dump"
        assert _client("pg_dumpall", *at_old, "--roles-only", "-f", str(roles)).returncode == 0
        assert _client("pg_dump", *at_old, "-Fc", "-d", "ledger", "-f", str(dump)).returncode == 0
        keys = tmp_path / "keys-backup"
        shutil.copytree(cast.ledger.settings.resolved_key_dir, keys)

        # pg_dump alone: the restore stops on the missing role.
        new.sql("CREATE DATABASE without_roles")
        bare = _client("pg_restore", *at_new, "-d", "without_roles", "--exit-on-error", str(dump))
        assert bare.returncode != 0 and 'role "wushe" does not exist' in bare.stderr, bare.stderr
        # The runbook: roles first, then the database, then the key directory beside it.
        assert _client("psql", *at_new, "-q", "-f", str(roles), "postgres").returncode == 0
        new.sql("CREATE DATABASE ledger OWNER wushe")
        restored = _client("pg_restore", *at_new, "-d", "ledger", "--exit-on-error", str(dump))
        assert restored.returncode == 0, restored.stderr
        data = tmp_path / "restored"
        shutil.copytree(keys, data / "keys")
        new_url = f"postgresql://wushe@127.0.0.1:{new.port}/ledger"
        ledger = Ledger(Settings(data_dir=data), database_url=new_url)
        try:
            assert ledger.history_problem() is None and ledger.checkpoints.latest().checkpoint == stored.checkpoint
        finally:
            ledger.close()
        monkeypatch.setenv("WUSHE_DATA_DIR", str(data))
        monkeypatch.setenv("WUSHE_DATABASE_URL", new_url)
        result = CliRunner().invoke(cli_app, ["audit", "verify", "--database", new_url, "--trust", str(checkpoint)])
        assert result.exit_code == 0, result.output
    finally:
        pgcluster.clean_up(*(c for c in (old, new) if c is not None))
