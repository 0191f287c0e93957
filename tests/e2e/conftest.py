"""Shared by the end-to-end tests of the command line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner, Result

from wushe.cli import app


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch) -> Callable[..., Result]:
    """`wushe` against a fresh, initialised ledger in ``tmp_path/data`` with the CNCF foundation
    registered; call it with the arguments (``ok=False`` when the command may fail)."""
    monkeypatch.setenv("WUSHE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    monkeypatch.delenv("WUSHE_ACTOR", raising=False)
    monkeypatch.delenv("WUSHE_API_SECRET_FILE", raising=False)
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run("init")
    run("org", "register", "CNCF", "--name", "长宁区社区基金会", "--kind", "foundation", "--street-town", "xinhualu",
        "--as", "root")
    return run
