"""The failed-login limit (issue 17 item 6), on SQLite and PostgreSQL: failures are counted per
client address, where forwarded headers count only from the configured proxies (none by default,
so a fresh X-Forwarded-For per request does not reset the count); a valid token is never refused
by the limit (a whole office behind one NAT keeps working while someone there mistypes); and the
token is checked before the request body is read, so an unauthenticated caller gets its 401
whatever it sends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from apisite import assert_problem, fresh, site_fixture  # noqa: F401  (the site fixture)

from api.settings import ApiSettings

API_SETTINGS = ApiSettings(public_rate="100000/minute", auth_rate="5/minute")
BAD = {"Authorization": "Bearer wst_" + "x" * 43}


@pytest.fixture(autouse=True)
def _fresh_counts(site):
    site.client.app.state.limiter.reset()  # the module's site is shared: each test counts from zero


def _exhaust(site) -> None:
    for _ in range(5):
        assert_problem(site.client.get("/api/v1/auth/whoami", headers=BAD), 401, "authentication")


def test_a_valid_token_is_never_refused_by_the_failure_limit(site):
    _exhaust(site)
    refused = site.client.get("/api/v1/auth/whoami", headers=BAD)
    assert_problem(refused, 429, "rate-limit")
    assert int(refused.headers["Retry-After"]) >= 1
    for _ in range(3):  # the colleague at the next desk, same address
        assert site.get("accountant", "/api/v1/auth/whoami").status_code == 200
    written = site.post("accountant", "/api/v1/donations", {"fund": site.fund(), "amount": "1", "donor_type": "resident"})
    assert written.status_code == 201, written.text


@pytest.mark.parametrize("body", [b"{not json", b"[" * 20_000 + b"]" * 20_000, b'{"fund": "\x00"}'])
def test_the_token_is_checked_before_the_body_is_read(site, body):
    before = site.head()
    answer = site.client.post("/api/v1/donations", content=body,
                              headers={"content-type": "application/json", "Idempotency-Key": fresh("k"),
                                       "Authorization": f"Bearer wst_{fresh('nope')}"})
    assert_problem(answer, 401, "authentication")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    no_token = site.client.post("/api/v1/donations", content=body, headers={"content-type": "application/json"})
    assert_problem(no_token, 401, "authentication")
    assert site.head() == before


def test_forwarded_headers_do_not_change_the_address_of_a_direct_client(site):
    for n in range(5):
        headers = {**BAD, "X-Forwarded-For": f"203.0.113.{n}", "Forwarded": f"for=198.51.100.{n}",
                   "X-Real-IP": f"192.0.2.{n}"}
        assert_problem(site.client.get("/api/v1/auth/whoami", headers=headers), 401, "authentication")
    assert_problem(site.client.get("/api/v1/auth/whoami", headers={**BAD, "X-Forwarded-For": "203.0.113.99"}),
                   429, "rate-limit")


# --- a real server, as `wushe serve` runs ----------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _served(env: dict[str, str]):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "wushe", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health/live", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(process.stderr.read().decode()[-2000:])
        time.sleep(0.2)


def _stop(process) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(15)


@pytest.mark.parametrize("trusted", [None, '["127.0.0.1"]'])
def test_served_the_limit_holds_against_fresh_forwarded_headers_unless_the_proxy_is_trusted(
        cli, tmp_path, database_url, trusted):
    cli("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    token = re.findall(r"wst_[A-Za-z0-9_-]{43}", cli("users", "token", "acct").output)[0]
    env = {**os.environ, "WUSHE_DATA_DIR": str(tmp_path / "data"), "WUSHE_DATABASE_URL": database_url,
           "WUSHE_API_AUTH_RATE": "5/minute", "WUSHE_CHECKPOINT_INTERVAL": "0"}
    env.pop("WUSHE_API_TRUSTED_PROXIES", None)
    env.pop("FORWARDED_ALLOW_IPS", None)
    if trusted:
        env["WUSHE_API_TRUSTED_PROXIES"] = trusted
    process, base = _served(env)
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            statuses = [http.get("/api/v1/auth/whoami", headers={**BAD, "X-Forwarded-For": f"203.0.113.{n}"}).status_code
                        for n in range(8)]
            valid = http.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"})
    finally:
        _stop(process)
    assert valid.status_code == 200, valid.text
    if trusted is None:  # loopback is not a proxy unless configured: every request is the same client
        assert statuses == [401] * 5 + [429] * 3
    else:  # behind a trusted proxy, each forwarded address counts on its own
        assert statuses == [401] * 8
