"""A ledger served by ``wushe serve`` as a real subprocess on a loopback port, set up through the
command line as docs/api.md says (principals, funds, a project, volunteers, tokens), and a journal
of the writes clients sent to it: what was asked, under which Idempotency-Key, and what came back."""

from __future__ import annotations

import copy
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from typer.testing import CliRunner

from api.idempotency import KEYS
from ledger.application import CHINA_STANDARD_TIME, Ledger
from ledger.settings import Settings
from wushe.cli import app as cli_app

TOWN = "xianxiaxincun"
FUNDS = ("GEN-A", "GEN-B")
"""Donations go into these; payments come out of PAY."""
PAYING_FUND = "PAY"
PROJECT = "P1"
VOLUNTEERS = ("V1", "V2", "V3")
ROLES = ("acct", "appr", "rec")
WUSHE = Path(sys.executable).with_name("wushe")
CLIENT_TIMEOUT = 30.0
"""A request unanswered this long counts as a hang."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """One ledger's files, its settings as environment variables, and its server process."""

    def __init__(self, database_url: str, tmp_path: Path, monkeypatch) -> None:
        self.database_url = database_url
        self.data_dir = tmp_path / "data"
        self.appname = f"wushe-fault-{uuid.uuid4().hex[:10]}"
        """PostgreSQL application_name of the server's connections (libpq reads PGAPPNAME)."""
        self.env = {
            "WUSHE_DATABASE_URL": database_url, "WUSHE_DATA_DIR": str(self.data_dir),
            "WUSHE_CHECKPOINT_INTERVAL": "1", "WUSHE_API_PUBLIC_RATE": "100000/minute",
            "WUSHE_API_AUTH_RATE": "100000/minute",
        }
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        for name in ("WUSHE_ACTOR", "WUSHE_KEY_DIR", "WUSHE_API_SECRET_FILE"):
            monkeypatch.delenv(name, raising=False)
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.log = tmp_path / "server.log"
        self.tokens: dict[str, str] = {}
        self.setup_head = 0

    # --- setting up through the command line -----------------------------------------------------

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(cli_app, list(args))
        assert result.exit_code == 0, (args, result.output)
        return result.output

    def set_up(self) -> None:
        cli = self.cli
        cli("init")
        cli("org", "register", "CNCF", "--name", "长宁区社区基金会", "--kind", "foundation", "--street-town", "xinhualu",
            "--as", "root")
        cli("org", "register", "LELING", "--name", "乐龄互助社", "--kind", "social_organisation",
            "--street-town", TOWN, "--as", "root")
        cli("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
        cli("principal", "add", "appr", "--name", "审批人", "--role", "approver", "--foundation", "CNCF", "--as", "root")
        cli("principal", "add", "rec", "--name", "记录员", "--role", "recorder", "--organisation", "LELING",
            "--as", "root")
        for code in (*FUNDS, PAYING_FUND):
            cli("fund", "open", code, "--name", f"{code} 社区基金", "--foundation", "CNCF", "--street-town", TOWN,
                "--as", "acct")
        cli("donation", "record", "--fund", PAYING_FUND, "--amount", "2000", "--donor-type", "business", "--as", "acct")
        cli("project", "register", PROJECT, "--name", "长者助餐", "--street-town", TOWN, "--domain", "elderly_care",
            "--organisation", "LELING", "--budget", "100000", "--funding-source", "fund",
            "--approval-ref", "长民〔2026〕7号", "--starts-on", "2020-01-01", "--ends-on", "2030-12-31", "--reach", "500", "--as", "acct")
        for number in VOLUNTEERS:
            cli("volunteer", "register", number, "--name", "李四", "--street-town", TOWN, "--registered-on", "2020-01-01",
                "--as", "rec")
        for role in ROLES:
            self.tokens[role] = re.findall(r"wst_[A-Za-z0-9_-]{43}", cli("users", "token", role))[0]
        with self.ledger() as ledger:
            self.setup_head = ledger.recorder.max_notification_id()

    def ledger(self) -> closing[Ledger]:
        """The ledger opened in the test process, closed on leaving the ``with``."""
        return closing(Ledger(Settings(data_dir=self.data_dir), database_url=self.database_url))

    # --- the server ------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *serve_options: str) -> None:
        assert self.process is None
        self.port = free_port()
        env = {**os.environ, **self.env, "PGAPPNAME": self.appname}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([str(WUSHE), "serve", "--port", str(self.port), *serve_options], env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not come up:\n{self.log.read_text()}")

    def twin(self) -> Served:
        """A second server process over the same database, key directory and tokens."""
        other = copy.copy(self)
        other.process, other.port = None, 0
        other.log = self.log.with_name(f"twin-{uuid.uuid4().hex[:6]}.log")
        return other

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush, connections dropped mid-request."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=CLIENT_TIMEOUT)


# --- the journal of writes -----------------------------------------------------------------------


@dataclass
class Write:
    """One POST as a client sent it, and its answer (None when the connection died first)."""

    kind: str
    role: str
    path: str
    body: dict
    key: str
    status: int | None = None
    answer: dict | None = None
    retry_after: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Journal:
    writes: list[Write] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    days: itertools.count = field(default_factory=lambda: itertools.count(1))
    """Days back from today for service sessions, shared so no two sessions of a volunteer overlap."""

    def acknowledged(self) -> int:
        with self.lock:
            return sum(w.acknowledged for w in self.writes)

    def of(self, kind: str) -> list[Write]:
        return [w for w in self.writes if w.kind == kind]


class Writer:
    """Sustained writes from one client thread until its server goes away or it is told to stop."""

    def __init__(self, served: Served, journal: Journal, number: int, stop: threading.Event) -> None:
        self.served, self.journal, self.number, self.stop = served, journal, number, stop
        self.donations = 0
        self.unexpected: list[str] = []
        self.transport_error: Exception | None = None
        """Why the connection to the server failed, if it did."""
        self.last: Write | None = None
        """This writer's latest write."""

    def send(self, http: httpx.Client, kind: str, role: str, path: str, body: dict, key: str | None = None) -> Write:
        write = self.last = Write(kind, role, path, body, key or uuid.uuid4().hex)
        with self.journal.lock:
            self.journal.writes.append(write)
        answer = http.post(path, json=body, headers=headers(self.served, role, write.key))
        write.status, write.retry_after = answer.status_code, answer.headers.get("Retry-After")
        json_body = answer.headers.get("content-type", "").endswith("json")
        write.answer = answer.json() if json_body else {"text": answer.text}
        return write

    def run(self, kinds: tuple[str, ...]) -> None:
        with self.served.client() as http:
            try:
                while not self.stop.is_set():
                    for kind in kinds:
                        if not self.step(http, kind):
                            return
            except httpx.TransportError as exc:
                self.transport_error = exc  # the server died under us: the write in flight stays unanswered

    def step(self, http: httpx.Client, kind: str) -> bool:
        """One business step; False when a write was refused in a way this test does not expect."""
        n = self.number
        if kind == "donation":
            self.donations += 1
            body = {"fund": FUNDS[n % len(FUNDS)], "amount": f"{1 + (self.donations * 7 + n) % 500}.{n:02d}",
                    "donor_type": "resident", "donor_name": "张三"}
            done = [self.send(http, "donation", "acct", "/api/v1/donations", body)]
        elif kind == "hours":
            # Each writer records its own volunteer, one session a day, going back from today.
            with self.journal.lock:
                on = (_today() - timedelta(days=next(self.journal.days))).isoformat()
            body = {"volunteer": VOLUNTEERS[n % len(VOLUNTEERS)], "organisation": "LELING", "domain": "elderly_care",
                    "on": on, "start": "09:00", "end": "10:30", "content": "陪伴独居老人"}
            done = [self.send(http, "hours", "rec", "/api/v1/hours", body)]
        else:  # a payment: request, approve (someone else), pay — the last touches fund, project, disbursement
            request = self.send(http, "request", "acct", "/api/v1/disbursements",
                                {"fund": PAYING_FUND, "amount": "1.00", "purpose": "长者助餐", "project": PROJECT})
            done = [request]
            if request.acknowledged:
                number = request.answer["id"]
                done.append(self.send(http, "approve", "appr", f"/api/v1/disbursements/{number}/approve",
                                      {"approval_ref": "批复-1"}))
                if done[-1].acknowledged:
                    done.append(self.send(http, "pay", "acct", f"/api/v1/disbursements/{number}/pay", {}))
        refused = [w for w in done if not w.acknowledged and not allowed_refusal(w)]
        self.unexpected += [f"{w.kind} {w.status} {w.answer}" for w in refused]
        return not refused


def allowed_refusal(write: Write) -> bool:
    """Answers a client may get under faults without anything being wrong: retry later."""
    rule = (write.answer or {}).get("rule")
    return write.status == 503 and rule == "store-unavailable" or write.status == 409 and rule == "write-conflict"


def headers(served: Served, role: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {served.tokens[role]}", "Idempotency-Key": key}


def _today():
    from datetime import datetime

    return datetime.now(CHINA_STANDARD_TIME).date()


def remembered_keys(ledger: Ledger) -> dict[str, tuple[str, list[tuple[str, int]]]]:
    """Idempotency-Key → (business id, [(stream, version)]) of every write the store committed."""
    import json

    rows = ledger.tables.fetchall(f"SELECT idem_key, ident, streams FROM {ledger.tables.table(KEYS)}")
    return {key: (ident, [(s, int(v)) for s, v in json.loads(streams)]) for key, ident, streams in rows}
