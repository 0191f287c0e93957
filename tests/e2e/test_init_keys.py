"""`wushe init` and the key directory, on SQLite and PostgreSQL: a second store initialised against
the same key directory is refused before anything is written, naming the key file and the way out,
and the first ledger keeps working with the keys it had."""

from __future__ import annotations

import re

import pytest
from conftest import fresh_postgres_schema
from typer.testing import CliRunner

from wushe.cli import app

runner = CliRunner()
LOG_STEM = "wushe.example_changning"


def _run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def second_url(database_url, tmp_path):
    """Another, empty store of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.sqlite3'}"
    else:
        yield from fresh_postgres_schema()


def test_init_of_a_second_store_never_replaces_a_key_and_says_how_to_proceed(database_url, second_url, tmp_path,
                                                                               monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("WUSHE_DATA_DIR", str(data))
    monkeypatch.delenv("WUSHE_KEY_DIR", raising=False)
    monkeypatch.delenv("WUSHE_ACTOR", raising=False)
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    assert _run("init").exit_code == 0
    keys = data / "keys"
    before = {p.name: p.read_bytes() for p in keys.iterdir() if p.is_file()}
    assert f"{LOG_STEM}.key" in before and "root.key" in before

    # README's "Using PostgreSQL", followed in a checkout that already holds a ledger's keys
    monkeypatch.setenv("WUSHE_DATABASE_URL", second_url)
    refused = _run("init")
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert f"{LOG_STEM}.key" in refused.output  # names the file
    assert "--data-dir" in refused.output and "WUSHE_KEY_DIR" in refused.output  # and the way out
    assert re.search(r"[\u4e00-\u9fff]", refused.output)  # in Chinese too
    assert {p.name: p.read_bytes() for p in keys.iterdir() if p.is_file()} == before  # not one byte changed
    elsewhere = tmp_path / "other-keys"
    monkeypatch.setenv("WUSHE_KEY_DIR", str(elsewhere))
    assert _run("init").exit_code == 0, "nothing was half-written: the second store can still be initialised"
    assert (elsewhere / f"{LOG_STEM}.key").exists()

    # the first ledger still signs checkpoints and receipts with its own keys
    monkeypatch.delenv("WUSHE_KEY_DIR")
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    assert _run("org", "register", "CNCF", "--name", "长宁区社区基金会", "--kind", "foundation",
                "--street-town", "xinhualu", "--as", "root").exit_code == 0
    checkpoint = _run("checkpoint")
    assert checkpoint.exit_code == 0, checkpoint.output
    assert _run("receipt", "3", "--out", str(tmp_path / "r.json")).exit_code == 0


def test_a_key_file_is_never_overwritten(tmp_path):
    from ledger.signing import KeyFileExists, SigningKey

    first = SigningKey.generate("someone")
    path = first.write(tmp_path)
    with pytest.raises(KeyFileExists) as refused:
        SigningKey.generate("someone").write(tmp_path)
    assert str(path) in str(refused.value)
    assert SigningKey.from_skey(path.read_text()).key_id == first.key_id
