"""The documentation stays true: the event catalogue lists every type, the signing example verifies."""

from __future__ import annotations

import re
from pathlib import Path

from ledger import events
from ledger.envelope import open_sealed
from ledger.signing import VerifierKey

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_event_catalogue_lists_every_event_type_and_no_other():
    text = (DOCS / "events.md").read_text()
    documented = set(re.findall(r"`((?:Directory|Organisation|Project|Fund|Disbursement|Volunteer)\.[A-Za-z]+)`", text))
    assert documented == set(events.EVENT_TYPES)


def test_worked_example_in_signing_md_verifies_and_detects_a_changed_byte():
    text = (DOCS / "signing.md").read_text()
    vkey = re.search(r"verifier key\n`([^`]+)`", text).group(1)
    block = text.split("Stored bytes of a ¥50.00 donation")[1].split("```\n")[1]
    stored = block.encode()
    key = VerifierKey.from_vkey(vkey)
    sealed = open_sealed(stored, stream="fund:SF-xianxiaxincun", version=7, topic="Fund.DonationReceived")
    assert sealed.key_id == key.key_id == "acct-xianxia+ee5a2de9"
    assert sealed.signed_by(key)
    forged = open_sealed(stored.replace(b'"amount":5000,"donor', b'"amount":9000,"donor'),
                         stream="fund:SF-xianxiaxincun", version=7, topic="Fund.DonationReceived")
    assert not forged.signed_by(key)


def _section(name: str, heading: str) -> str:
    text = (DOCS / name).read_text()
    start = text.index(heading)
    following = re.search(r"\n## ", text[start + len(heading):])
    return text[start: start + len(heading) + (following.start() if following else len(text))]


def test_event_catalogue_names_every_role_and_every_stream():
    from ledger.principals import ROLES

    text = (DOCS / "events.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `Directory.PrincipalRegistered`"))
    assert all(f"`{role}`" in row for role in ROLES), row
    for stream in ("`directory`", "`organisation:<code>`", "`project:<code>`", "`fund:<code>`",
                   "`disbursement:<number>`", "`volunteer:<number>`"):
        assert re.search(rf"^## .*{re.escape(stream)}", text, re.MULTILINE), stream
    assert "Shanghai date" in text and "day it was recorded" in text  # when a correction counts
    assert "`Fund.Paid` of the same `entry`" in text  # which postings a payment's reversal flips
    report = _section("events.md", "## The transparency report")
    for field in ("report", "version", "ledger", "position", "district", "street_town", "period", "income",
                  "spending", "projects", "special_funds", "hours", "organisations", "corrections", "donations"):
        assert re.search(rf"^\| [^|]*`{field}`", report, re.MULTILINE), field


def test_the_log_api_and_the_audit_api_are_documented_field_by_field():
    from api.routes.audit import KeyOut, StoredEventOut
    from api.routes.log import CheckpointOut, ConsistencyOut, InclusionOut

    log_api = _section("verification.md", "## 5. The API of the log")
    for model in (CheckpointOut, InclusionOut, ConsistencyOut):
        for name in model.model_fields:
            assert f'"{name}"' in log_api, (model.__name__, name)
    assert "latest checkpoint's" in log_api and "oldest first" in log_api
    api = (DOCS / "api.md").read_text()
    for model in (StoredEventOut, KeyOut):
        for name in model.model_fields:
            assert f'"{name}"' in api, (model.__name__, name)
    trust = _section("verification.md", "## 7. What `wushe audit verify` checks")
    assert "`wushe checkpoint` prints" in trust


def test_signing_md_names_the_key_files_with_slashes_and_retired_keys():
    from ledger.signing import key_file_stem

    text = (DOCS / "signing.md").read_text()
    assert f"`{key_file_stem('wushe.example/changning')}.key`" in text
    assert "`<stem>.retired-<position>.key`" in text and "`<stem>.retired-<position>.pub`" in text
