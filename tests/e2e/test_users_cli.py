"""`wushe users`: a token issued on the command line works against the API and signs as its
principal; the key is sealed at rest (the database never holds the token or the raw key); a
revoked token stops working; mistakes are clear messages with a non-zero exit."""

from __future__ import annotations

import re
import stat

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application import Ledger
from ledger.settings import Settings


@pytest.fixture
def wushe(cli):
    run = cli
    run("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    return run


def _token(output: str) -> str:
    found = re.findall(r"wst_[A-Za-z0-9_-]{43}", output)
    assert len(found) == 1, output
    return found[0]


def test_a_cli_token_acts_as_its_principal_until_revoked(wushe, tmp_path, database_url):
    token = _token(wushe("users", "token", "acct", "--label", "出纳电脑").output)
    secret = tmp_path / "data" / "keys" / "api-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    listed = wushe("users", "list").output
    assert "acct" in listed and "出纳电脑" in listed and token not in listed

    ledger = Ledger(Settings(data_dir=tmp_path / "data"), database_url=database_url)
    try:
        raw_key = (tmp_path / "data" / "keys" / "acct.key").read_text().strip().encode()
        rows = ledger.tables.fetchall(f"SELECT token_hash, sealed_key FROM {ledger.tables.table('wushe_api_tokens')}")
        assert rows and all(token.encode() not in bytes(r[1]) and raw_key not in bytes(r[1]) for r in rows)
        assert all(r[0] != token for r in rows)
        with TestClient(create_app(ledger=ledger)) as client:
            auth = {"Authorization": f"Bearer {token}"}
            me = client.get("/api/v1/auth/whoami", headers=auth)
            assert me.status_code == 200 and me.json()["handle"] == "acct"
            opened = client.post("/api/v1/funds", json={"code": "GEN", "name": "综合基金", "foundation": "CNCF",
                                                         "street_town": "xinhualu"},
                                 headers={**auth, "Idempotency-Key": "open-gen"})
            assert opened.status_code == 201, opened.text
            ids = re.findall(r"\b[0-9a-f]{12}\b", wushe("users", "list").output)
            assert len(ids) == 1
            wushe("users", "revoke", ids[0])
            assert client.get("/api/v1/auth/whoami", headers=auth).status_code == 401
    finally:
        ledger.close()


def test_mistakes_are_clear_and_non_zero(wushe):
    missing = wushe("users", "token", "nobody", ok=False)
    assert missing.exit_code != 0 and "nobody" in missing.output
    short = wushe("users", "revoke", "abc", ok=False)
    assert short.exit_code == 1 and "token_id" in short.output
    unknown = wushe("users", "revoke", "0123456789ab", ok=False)
    assert unknown.exit_code == 1 and "0123456789ab" in unknown.output
