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
