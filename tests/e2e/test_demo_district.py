"""`wushe demo` for another district (issue #18 item 7): the demo draws its street-towns, service
domains and names from the reference file, and a demo that fails leaves nothing behind, so that
the next try succeeds. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.settings import Settings
from wushe.cli import app

XUHUI = Path(__file__).parent.parent / "fixtures" / "xuhui.toml"


def test_a_demo_of_another_district_draws_on_its_reference_data_and_a_failed_one_leaves_nothing(
        database_url, tmp_path, monkeypatch):
    data = tmp_path / "data"
    broken = tmp_path / "no-domains.toml"
    broken.write_text("domains = []\n" + XUHUI.read_text().split("[[domains]]")[0])  # the towns, no service domain
    monkeypatch.setenv("WUSHE_DATA_DIR", str(data))
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    monkeypatch.setenv("WUSHE_LEDGER_NAME", "wushe.example/xuhui")
    monkeypatch.setenv("WUSHE_REFERENCE_FILE", str(broken))
    for name in ("WUSHE_ACTOR", "WUSHE_KEY_DIR", "WUSHE_API_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0

    def head() -> int:
        ledger = Ledger(Settings())
        try:
            return ledger.recorder.max_notification_id() or 0
        finally:
            ledger.close()

    before = head()
    failed = runner.invoke(app, ["demo"])
    assert failed.exit_code != 0 and "service domains" in failed.output and "服务领域" in failed.output, failed.output
    assert head() == before, "a failed demo wrote events"
    assert not (data / "witness").exists() or not any((data / "witness").iterdir()), "a failed demo left a witness key"
    assert not list((data / "keys").glob("witnesses/*.pub"))

    monkeypatch.setenv("WUSHE_REFERENCE_FILE", str(XUHUI))
    seeded = runner.invoke(app, ["demo"])
    assert seeded.exit_code == 0, seeded.output
    ledger = Ledger(Settings())
    try:
        assert ledger.fund("SF-tianping").street_town == "tianping"
        assert ledger.fund("SF-longhua").street_town == "longhua"
        domains = set(ledger.fund("SF-xujiahui").domains)
        assert domains <= {"elderly_care", "youth_services", "community_health"}
        assert "徐汇区" in ledger.fund("VP-ROUND").name
        assert ledger.checkpoints.latest().cosigners, "the demo's witness cosigned"
    finally:
        ledger.close()
