"""Every public page reads in one language, on SQLite and PostgreSQL: a Chinese page holds none of
the code's English words (event types, statuses, kinds, codes of donor types and domains, error
texts), an English page no Chinese besides proper names that are data (a fund's or a donor's name,
a reason someone typed), and no full-width comma; both for the pages, their error pages and the
receipt check. The switch to the other language (marked with its own ``lang``) is not counted."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, time
from html.parser import HTMLParser

import pytest
from agreements import agreement
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application import Actor
from ledger.events import EVENT_TYPES
from ledger.receipts import issue_receipt
from ledger.signing import SigningKey, parse_note

TOWN = "xianxiaxincun"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
CODE_WORDS = {
    *EVENT_TYPES, *(t.split(".")[1] for t in EVENT_TYPES),
    "requested", "approved", "rejected", "paid", "reversed", "donation", "grant", "payment", "allocation",
    "release", "service record", "anonymous", "any", "resident", "business", "stationed_unit", "government",
    "cash", "transfer", "in_kind", "government_purchase", "venture_philanthropy", "welfare_lottery",
    "district_special_fund", "elderly_care", "child_welfare", "social_assistance", "community_governance",
    "allowance", "management", "fundraising", "special", "general", "restricted", "unrestricted",
    "does not exist", "not JSON", "Expecting value", "None", "True", "False", "null", "Verified", "field",
    "xianxiaxincun", "hongqiao", "xinhualu", "huayanglu", "fund", "project", "street-town", "page",
}
"""English words of the code that must not stand on a Chinese page."""


class Visible(HTMLParser):
    """The text a reader sees in the page's own language: no script, style or chart, and not what an
    element marks as another language (the language switch)."""

    SKIP = frozenset({"script", "style", "svg", "code", "textarea"})  # textarea: what the visitor pasted

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang, self.stack, self.parts = lang, [], []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "input", "meta", "link", "hr", "wbr"):
            return
        attrs = dict(attrs)
        other = attrs.get("lang") and not attrs["lang"].startswith(self.lang) and tag != "html"
        self.stack.append(tag in self.SKIP or bool(other) or (self.stack[-1] if self.stack else False))

    def handle_endtag(self, tag):
        if tag not in ("br", "img", "input", "meta", "link", "hr", "wbr") and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]) and data.strip():
            self.parts.append(data.strip())


def visible(html: str, lang: str) -> str:
    parser = Visible(lang)
    parser.feed(html)
    return "\n".join(parser.parts)


def _seed(cast, log: Actor) -> dict[str, int]:
    led, acct = cast.ledger, cast.accountant
    led.open_fund(acct, "XX-SF", "仙霞养老专项基金", "CNCF", kind="special", restricted=True, purpose="仙霞养老",
                  street_town=TOWN, street_towns=[TOWN], domains=["elderly_care"], agreement=agreement(ref="协议-1"),
                  valid_until=date(2029, 10, 30))
    led.open_fund(acct, "GEN", "非限定性基金", "CNCF")
    kept = led.record_donation(acct, "XX-SF", 120_050, donor_type="resident", donor_name="张三丰",
                               received_on=date(2026, 3, 2)).positions[0]
    led.record_donation(acct, "GEN", 30_000, donor_type="business", street_town="hongqiao",
                        received_on=date(2026, 4, 9))
    wrong = led.record_donation(acct, "XX-SF", 999_900, donor_type="resident", received_on=date(2026, 3, 5))
    led.reverse(acct, wrong.positions[0], reason="重复录入")
    led.register_project(acct, "P1", "长者助餐", street_town=TOWN, domain="elderly_care", organisation="LELING",
                         budget=100_000, funding_source="fund", approval_ref="长民〔2026〕7号",
                         starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31), reach=200,
                         milestones=[("启动", 30_000), ("结项", 70_000)])
    number = led.request_disbursement(acct, "XX-SF", 30_000, project="P1", milestone="启动", purpose="启动款",
                                      on=date(2026, 4, 1)).ident
    led.approve_disbursement(cast.approver, number, approval_ref="审批-1", on=date(2026, 4, 2))
    paid = led.pay_disbursement(acct, number, on=date(2026, 4, 3)).positions
    led.reverse(acct, paid[0], reason="收款账户有误")
    led.request_disbursement(acct, "XX-SF", 1_000, project="P1", milestone="结项", purpose="二期", on=date(2026, 5, 1))
    allowance = led.request_disbursement(acct, "GEN", 500, kind="allowance", payee="社工站", domain="elderly_care",
                                         street_town=TOWN, purpose="津贴", on=date(2026, 5, 2)).ident
    led.approve_disbursement(cast.approver, allowance, approval_ref="审批-2", on=date(2026, 5, 3))
    led.pay_disbursement(acct, allowance, on=date(2026, 5, 4))
    led.register_volunteer(cast.recorder, "V1", "李四光", TOWN, registered_on=date(2026, 1, 5))
    session = led.record_hours(cast.recorder, "V1", organisation="LELING", domain="elderly_care",
                               on=date(2026, 3, 1), start=time(9, 0), end=time(10, 30), content="送餐").positions[0]
    extra = led.record_hours(cast.recorder, "V1", organisation="LELING", domain="elderly_care",
                             on=date(2026, 3, 8), start=time(9, 0), end=time(11, 0), content="送餐")
    led.reverse(cast.recorder, extra.positions[0], reason="签到时间登记错误")
    led.sign_checkpoint(log)
    return {"donation": kept, "session": session}


@pytest.fixture
def site(cast):
    ledger = cast.ledger
    key = SigningKey.generate(ledger.origin)
    ledger.register_principal(cast.root, ledger.origin, "账本日志", ["log"], key=key.verifier)
    key.write(ledger.settings.resolved_key_dir)
    positions = _seed(cast, Actor(ledger.origin, key))
    with TestClient(create_app(ledger=ledger), raise_server_exceptions=False) as client:
        yield client, ledger, positions


def _data(ledger) -> list[str]:
    """Every text the events carry (names, purposes, reasons, references): proper names that are data."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, str) and CJK.search(value):
            found.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for n in ledger.log_positions():
        walk(json.loads(parse_note(bytes(n.state)).text)["payload"])
    masked = {name[0] + "*" * (len(name) - 1) for name in found if len(name) <= 4}  # 张** as the pages mask them
    return sorted(found | masked, key=len, reverse=True)


def _pages(client, ledger, positions) -> dict[str, str]:
    paths = ["/", "/funds", "/funds/XX-SF", "/funds/GEN", "/projects", "/projects/P1", "/hours", "/corrections",
             f"/corrections?street_town={TOWN}", "/checkpoints", "/verify", "/funds/NOPE", "/projects/NOPE",
             "/street-towns/nowhere"]
    paths += [f"/street-towns/{t.code}" for t in ledger.reference.street_towns]
    return {p: p for p in paths}


def _verdicts(client, ledger, positions, lang: str) -> dict[str, str]:
    receipt = issue_receipt(ledger, positions["donation"], None)
    record = next(e for e in receipt["entries"] if e["role"] == "record")
    tampered = json.loads(json.dumps(receipt))
    next(e for e in tampered["entries"] if e["role"] == "record")["event"] = base64.b64encode(
        base64.b64decode(record["event"]).replace(b'"amount":120050', b'"amount":920050')).decode()
    answers = {}
    for name, text in (("good", json.dumps(receipt)), ("tampered", json.dumps(tampered)), ("junk", "{not json")):
        answers[f"POST /verify ({name})"] = client.post("/verify", params={"lang": lang}, data={"receipt": text}).text
    return answers


def test_chinese_pages_hold_no_english_words_of_the_code(site):
    client, ledger, positions = site
    problems = []
    pages = {p: client.get(p, params={"lang": "zh"}).text for p in _pages(client, ledger, positions)}
    pages.update(_verdicts(client, ledger, positions, "zh"))
    for path, html in pages.items():
        text = visible(html, "zh")
        for word in CODE_WORDS:
            if re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w-])", text):
                problems.append(f"{path}: {word!r}")
    assert not problems, "\n".join(sorted(problems))


def test_english_pages_hold_no_chinese_besides_names_that_are_data(site):
    client, ledger, positions = site
    data = _data(ledger)
    problems = []
    pages = {p: client.get(p, params={"lang": "en"}).text for p in _pages(client, ledger, positions)}
    pages.update(_verdicts(client, ledger, positions, "en"))
    for path, html in pages.items():
        text = visible(html, "en")
        if "，" in text or "：" in text or "（" in text:
            problems.append(f"{path}: full-width punctuation in {[line for line in text.splitlines() if re.search('[，：（]', line)][:3]}")
        for value in data:
            text = text.replace(value, " ")
        left = sorted({line for line in text.splitlines() if CJK.search(line)})
        if left:
            problems.append(f"{path}: {left[:5]}")
    assert not problems, "\n".join(problems)
