"""File modes (issue 17 item 7): the data directory holds every donor's and volunteer's name (the
SQLite store) and the private keys, so it is created 0700, the store and its -wal / -shm files
0600, and nothing starts on a key directory that others may read."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from ledger.signing import SigningKey


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_private_data_directory(cli, tmp_path, database_url):
    data = tmp_path / "data"
    assert _mode(data) == 0o700, oct(_mode(data))
    assert _mode(data / "keys") == 0o700
    assert all(_mode(p) == 0o600 for p in (data / "keys").glob("*.key"))
    if database_url.startswith("sqlite"):
        store = Path(database_url.removeprefix("sqlite:///"))
        assert _mode(store) == 0o600, oct(_mode(store))


def test_the_sqlite_store_and_its_wal_and_shm_are_0600_even_if_they_were_not(tmp_path):
    data = tmp_path / "deep" / "data"
    store = data / "ledger.sqlite3"
    ledger = Ledger(Settings(data_dir=data))
    try:
        root = SigningKey.generate("root")
        ledger.found("root", "长宁区民政局", root)
        wal, shm = store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")
        assert wal.exists() and shm.exists()  # WAL mode, the connection still open
        assert {p.name: oct(_mode(p)) for p in (store, wal, shm)} == {
            p.name: oct(0o600) for p in (store, wal, shm)}
        assert _mode(data) == 0o700 and _mode(data.parent) == 0o700
    finally:
        ledger.close()
    store.chmod(0o644)  # a store written by an older version
    reopened = Ledger(Settings(data_dir=data))
    try:
        assert reopened.is_founded
        assert _mode(store) == 0o600
    finally:
        reopened.close()


@pytest.mark.parametrize("mode", [0o755, 0o704, 0o701])
def test_nothing_signs_or_serves_with_a_key_directory_others_can_read(cli, tmp_path, database_url, mode):
    keys = tmp_path / "data" / "keys"
    keys.chmod(mode)
    refused = cli("org", "register", "LELING", "--name", "乐龄互助社", "--kind", "social_organisation",
                  "--street-town", "xianxiaxincun", "--as", "root", ok=False)
    assert refused.exit_code != 0
    assert str(keys) in refused.output and "chmod 700" in refused.output
    served = cli("serve", "--port", "1", ok=False)
    assert served.exit_code != 0 and str(keys) in served.output

    from api.main import create_app
    from ledger.filemodes import UnsafeKeyDirectory

    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    with pytest.raises(UnsafeKeyDirectory, match="chmod 700"):
        create_app(settings)
    keys.chmod(0o700)
    assert cli("org", "register", "LELING", "--name", "乐龄互助社", "--kind", "social_organisation",
               "--street-town", "xianxiaxincun", "--registered-on", str(date(2021, 1, 1)), "--as", "root").exit_code == 0


def test_the_first_signed_checkpoint_makes_a_missing_key_directory_private(cast):
    """A ledger whose keys come from settings may have no key directory yet: the record of the
    published checkpoint (``ledger.published``) creates it 0700, and a server then starts on it."""
    from api.main import create_app
    from ledger.application import Actor

    led = cast.ledger
    keys = led.settings.resolved_key_dir
    for left in keys.iterdir() if keys.exists() else ():
        left.unlink()
    if keys.exists():
        keys.rmdir()
    log = SigningKey.generate(led.origin)
    led.register_principal(cast.root, led.origin, "账本日志", ["log"], key=log.verifier)
    led.sign_checkpoint(Actor(led.origin, log))
    assert (keys / "published-checkpoint.json").exists()
    assert _mode(keys) == 0o700, oct(_mode(keys))
    assert _mode(keys / "published-checkpoint.json") == 0o600
    create_app(ledger=led)  # refuses (UnsafeKeyDirectory) on a key directory others can read
