"""PostgreSQL 15 clusters of a test's own: ``initdb`` into a temporary directory on a free loopback
port, ``pg_ctl`` start, stop and promote, a hot standby made by ``pg_basebackup -R``, synchronous
replication, and a hung server (every process of the cluster stopped with SIGSTOP).

Everything is bounded in time (each command has a timeout) and listens on 127.0.0.1 only, with no
Unix socket. As root (CI), the server programs run as the ``postgres`` user, which owns the
directories; as a normal user they run as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import psycopg
import pytest

BIN = Path(os.environ.get("WUSHE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
COMMAND_TIMEOUT = 60
"""Seconds any one server program (initdb, pg_ctl, pg_basebackup) may take."""


def available() -> str | None:
    """Why clusters cannot be started here, or None."""
    if not (BIN / "initdb").exists():
        return f"no PostgreSQL programs in {BIN} (set WUSHE_TEST_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run the server as"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _run(args: list[str], timeout: float = COMMAND_TIMEOUT) -> str:
    done = subprocess.run(_as_server_user(args), capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


def _base_dir() -> Path:
    """A directory the server user can enter (pytest's tmp_path is 0700 root's when run as root)."""
    base = Path(tempfile.mkdtemp(prefix="wushe-pg-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(base, entry.pw_uid, entry.pw_gid)
    base.chmod(0o700)
    return base


class Cluster:
    """One PostgreSQL server: its data directory, port and log file."""

    def __init__(self, base: Path, name: str, port: int) -> None:
        self.base = base
        self.name = name
        self.port = port
        self.data = base / name
        self.logfile = base / f"{name}.log"
        self.stopped_pids: list[int] = []

    # --- making clusters ---------------------------------------------------------------------

    @classmethod
    def create(cls, name: str = "primary", base: Path | None = None, **settings: str) -> Cluster:
        """initdb a new cluster (trust authentication on loopback) and start it."""
        cluster = cls(base or _base_dir(), name, free_port())
        _run([str(BIN / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "--no-sync",
              "-E", "UTF8", "--locale=C.UTF-8"])
        conf = {"listen_addresses": "'127.0.0.1'", "port": str(cluster.port), "unix_socket_directories": "''",
                "fsync": "on", "wal_level": "replica", "max_wal_senders": "5", "hot_standby": "on",
                "shared_buffers": "16MB", "max_connections": "60", "log_min_messages": "warning",
                "wal_keep_size": "64MB", **settings}
        cluster._append_conf(conf)
        (cluster.data / "pg_hba.conf").write_text(
            "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n")
        cluster.start()
        return cluster

    def standby(self, name: str = "standby") -> Cluster:
        """A streaming hot standby of this cluster (``pg_basebackup -R``), started."""
        standby = Cluster(self.base, name, free_port())
        _run([str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
              "-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])
        standby._append_conf({"port": str(standby.port), "cluster_name": f"'{name}'",
                              "primary_conninfo": f"'host=127.0.0.1 port={self.port} user=postgres "
                                                  f"application_name={name}'"})
        standby.start()
        return standby

    def _append_conf(self, settings: dict[str, str]) -> None:
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    # --- running -----------------------------------------------------------------------------

    def start(self) -> None:
        _run([str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "30", "start"])

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` is a crash: no shutdown checkpoint)."""
        self.resume()
        with suppress(RuntimeError):
            _run([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"])

    def promote(self) -> None:
        _run([str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "30", "promote"])

    def reload(self) -> None:
        self.sql("SELECT pg_reload_conf()")

    def set(self, **settings: str) -> None:
        """ALTER SYSTEM each setting and reload."""
        for key, value in settings.items():
            self.sql(f"ALTER SYSTEM SET {key} = '{value}'")
        self.reload()

    def hang(self) -> None:
        """Stop every process of the server (SIGSTOP): connections stay open, nothing answers."""
        pids = self._pids()
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        self.stopped_pids = pids

    def resume(self) -> None:
        for pid in self.stopped_pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.stopped_pids = []

    def _pids(self) -> list[int]:
        pid_file = self.data / "postmaster.pid"
        postmaster = int(pid_file.read_text().split("\n", 1)[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *(int(c) for c in children)]

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.data, ignore_errors=True)

    # --- talking to it -----------------------------------------------------------------------

    def url(self, db: str = "postgres", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}" + (f"?{query}" if query else "")

    def sql(self, query: str, params: tuple = (), db: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.url(db), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def create_db(self, name: str) -> str:
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_until(self, query: str, expected, timeout: float = 30.0, db: str = "postgres") -> None:
        """Poll ``query`` until its first value equals ``expected`` (RuntimeError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            with suppress(psycopg.Error):
                rows = self.sql(query, db=db)
                value = rows[0][0] if rows else None
                if value == expected:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: {query} gave {value!r}, not {expected!r}, within {timeout} s")

    def wait_replayed(self, primary: Cluster, timeout: float = 30.0) -> None:
        """Wait until this standby has replayed everything the primary has written so far."""
        lsn = primary.sql("SELECT pg_current_wal_lsn()::text")[0][0]
        self.wait_until(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn", True, timeout)


def clean_up(*clusters: Cluster) -> None:
    bases = {c.base for c in clusters}
    for cluster in clusters:
        with suppress(Exception):
            cluster.destroy()
    for base in bases:
        shutil.rmtree(base, ignore_errors=True)


# --- pytest fixtures (tests/conftest.py imports `replicated`, so every module may use it) -------


def need_clusters() -> None:
    """Skip with a loud reason where clusters cannot start, unless WUSHE_REQUIRE_POSTGRES=1 (CI)."""
    problem = available()
    if problem is not None:
        if os.environ.get("WUSHE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"WUSHE_REQUIRE_POSTGRES=1 but test clusters cannot start: {problem}")
        pytest.skip(f"PostgreSQL test clusters unavailable: {problem}")


@pytest.fixture(scope="module")
def replicated() -> Iterator[tuple[Cluster, Cluster]]:
    """A primary and its streaming hot standby, shared by a module's tests (asynchronous unless a
    test names the standby synchronous; tests put things back as they found them)."""
    need_clusters()
    primary = Cluster.create()
    try:
        standby = primary.standby()
    except BaseException:
        clean_up(primary)
        raise
    try:
        yield primary, standby
    finally:
        clean_up(primary, standby)


def fresh_db(cluster: Cluster) -> str:
    """The URL of a new database on the cluster."""
    return cluster.create_db(f"l_{uuid.uuid4().hex[:10]}")
