"""The receipt document's contents, on SQLite and PostgreSQL (no browser needed): the donor named as
recorded (the receipt goes to the donor), text escaped, non-donations and reversed gifts refused,
and a month chosen by the gift's business date within one foundation."""

from __future__ import annotations

from datetime import date

import pytest
from agreements import agreement

from api.receipt_document import ReceiptRefused, donation_receipt, month_receipts, render_receipts_html
from ledger.application import Actor
from ledger.signing import SigningKey

URL = "https://wushe.example"


@pytest.fixture
def scene(cast):
    ledger = cast.ledger
    key = SigningKey.generate(ledger.origin)
    ledger.register_principal(cast.root, ledger.origin, "账本日志", ["log"], key=key.verifier)
    ledger.open_fund(cast.accountant, "ELDER", "仙霞助老专项基金", "CNCF", kind="special", restricted=True,
                     purpose="养老服务", street_town="xianxiaxincun", domains=["elderly_care"],
                     agreement=agreement())
    ledger.open_fund(cast.other_accountant, "OF", "另一基金", "OTHERF", street_town="hongqiao")
    return cast, Actor(ledger.origin, key)


def gift(cast, fund: str, fen: int, day: date, name: str | None = "张小明", actor=None) -> int:
    return cast.ledger.record_donation(actor or cast.accountant, fund, fen, donor_type="resident", donor_name=name,
                                       received_on=day).positions[0]


def test_the_receipt_names_the_donor_as_recorded_and_escapes_what_it_prints(scene):
    cast, log = scene
    position = gift(cast, "ELDER", 1_000_005, date(2026, 11, 3), name="<script>alert(1)</script>张")
    r = donation_receipt(cast.ledger, position, log, URL)
    assert (r.number, r.amount_words, r.amount_figures) == (f"CNCF-2026-{position:08d}", "人民币壹万元零伍分",
                                                            "¥10,000.05")
    assert (r.foundation_name, r.fund_name, r.purpose, r.received_on) == ("长宁区社区基金会", "仙霞助老专项基金", "养老服务",
                                                                          "2026-11-03")
    assert r.donor == "<script>alert(1)</script>张" and r.recorded_by == "acct"  # not masked: it is the donor's own
    assert r.link.startswith(URL + "/v/") and r.receipt["position"] == position
    html = render_receipts_html([r], contact="长宁区社区基金会 021-0000 0000")
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "人民币壹万元零伍分" in html
    assert "021-0000 0000" in html and "公益事业捐赠票据" in html
    anonymous = donation_receipt(cast.ledger, gift(cast, "ELDER", 500, date(2026, 11, 4), name=None), log, URL)
    assert anonymous.donor == "匿名 Anonymous"


def test_no_receipt_for_a_non_donation_or_a_reversed_one(scene):
    cast, log = scene
    with pytest.raises(ReceiptRefused) as refused:
        donation_receipt(cast.ledger, 1, log, URL)
    assert "not a donation" in refused.value.message and "不是捐赠记录" in refused.value.message_zh
    position = gift(cast, "ELDER", 8_800, date(2026, 11, 4))
    cast.ledger.reverse(cast.accountant, position, reason="重复录入")
    with pytest.raises(ReceiptRefused) as refused:
        donation_receipt(cast.ledger, position, log, URL)
    assert refused.value.rule == "receipt-refused" and "冲正" in refused.value.message_zh


def test_a_month_is_the_foundation_s_gifts_by_their_date(scene):
    cast, log = scene
    late = gift(cast, "ELDER", 5_000, date(2026, 11, 30))
    early = gift(cast, "ELDER", 100_000, date(2026, 11, 1))
    gone = gift(cast, "ELDER", 2_000, date(2026, 11, 5))
    cast.ledger.reverse(cast.accountant, gone, reason="退款")
    gift(cast, "ELDER", 3_000, date(2026, 10, 31))
    gift(cast, "ELDER", 3_000, date(2026, 12, 1))
    gift(cast, "OF", 4_000, date(2026, 11, 3), actor=cast.other_accountant)
    batch = month_receipts(cast.ledger, "CNCF", "2026-11", log, URL)
    assert [r.position for r in batch.receipts] == [early, late] and batch.reversed == [gone]
    assert [r.position for r in month_receipts(cast.ledger, "OTHERF", "2026-11", log, URL).receipts] != []
