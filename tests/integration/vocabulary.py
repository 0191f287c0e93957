"""A small vocabulary for the integration tests: open funds, donate, pay, record hours, and
assert that a refused command wrote nothing."""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from datetime import date, time

from agreements import agreement

from ledger.application import Actor
from ledger.signing import SigningKey

TOWN = "xianxiaxincun"
"""LELING's street-town; the restricted funds below serve it and elderly care only."""


def open_general(c, code: str, foundation: str = "CNCF", actor: Actor | None = None, **kw):
    return c.ledger.open_fund(actor or c.accountant, code, f"{code} 基金", foundation, street_town=TOWN, **kw)


def open_restricted(c, code: str, **kw):
    spec = dict(
        kind="special",
        restricted=True,
        purpose="仙霞新村养老服务专项",
        domains=["elderly_care"],
        street_towns=[TOWN],
        agreement=agreement(),
    )
    spec.update(kw)
    return open_general(c, code, **spec)


def donate(c, code: str, fen: int, actor: Actor | None = None, **kw):
    kw.setdefault("donor_type", "resident")
    return c.ledger.record_donation(actor or c.accountant, code, fen, **kw)


def project(
    c, code: str, *, budget: int = 100_000, domain: str = "elderly_care", street_town: str = TOWN, milestones=None
):
    return c.ledger.register_project(
        c.accountant,
        code,
        f"项目 {code}",
        street_town=street_town,
        domain=domain,
        organisation="LELING",
        budget=budget,
        funding_source="fund",
        approval_ref="长民〔2026〕7号",
        reach=500, starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        milestones=milestones,
    )


def request(c, fund: str, fen: int, actor: Actor | None = None, **kw) -> str:
    kw.setdefault("purpose", "助老服务")
    return c.ledger.request_disbursement(actor or c.accountant, fund, fen, **kw).ident


def approved(c, fund: str, fen: int, **kw) -> str:
    number = request(c, fund, fen, **kw)
    c.ledger.approve_disbursement(c.approver, number, approval_ref="批复-1")
    return number


def register_volunteer(c, number: str = "V001"):
    return c.ledger.register_volunteer(c.recorder, number, "李四", TOWN, registered_on=date(2026, 1, 5))


def hours(
    c,
    start: time,
    end: time,
    *,
    on: date = date(2026, 3, 1),
    actor: Actor | None = None,
    volunteer: str = "V001",
    organisation: str = "LELING",
):
    return c.ledger.record_hours(
        actor or c.recorder,
        volunteer,
        organisation=organisation,
        domain="elderly_care",
        on=on,
        start=start,
        end=end,
        content="陪伴独居老人",
    )


@contextmanager
def nothing_written(c, funds=(), projects=(), disbursements=(), volunteers=()):
    """Assert the log did not grow and no balance, paid total, status or session changed."""

    def state():
        ledger = c.ledger
        return (
            ledger.recorder.max_notification_id(),
            {f: ledger.fund(f).balance for f in funds},
            {p: ledger.project(p).paid for p in projects},
            {d: ledger.disbursement(d).status for d in disbursements},
            {v: dict(ledger.volunteer(v).sessions) for v in volunteers},
        )

    before = state()
    yield
    assert state() == before


def assert_named(err, rule: str, field: str | None) -> None:
    assert err.value.rule == rule
    assert err.value.field == field
    assert err.value.message and err.value.message_zh


def pay(c, fund: str, fen: int, **kw):
    """Request, approve (by the second person) and pay; returns the pay command's Recorded."""
    kw.setdefault("purpose", "助老服务")
    number = c.ledger.request_disbursement(c.accountant, fund, fen, **kw).ident
    c.ledger.approve_disbursement(c.approver, number, approval_ref="批复-1")
    return c.ledger.pay_disbursement(c.accountant, number)


def balance(c, code: str) -> int:
    return c.ledger.fund(code).balance


def all_events(c):
    """(stored, decoded) for the whole log, in order."""
    return [(n, c.ledger.mapper.to_domain_event(n)) for n in c.ledger.log_positions()]


def postings_by_account(c) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for _, event in all_events(c):
        for p in getattr(event, "postings", None) or []:
            totals[p["account"]] += p["amount"]
    return totals


def topic_at(c, position: int) -> str:
    stored, _ = c.ledger.read_position(position)
    return stored.topic


def log_actor(c) -> Actor:
    """The log principal, as `wushe init` makes it: handle = origin, role log."""
    key = SigningKey.generate(c.ledger.origin)
    c.ledger.register_principal(c.root, c.ledger.origin, "账本日志", ["log"], key=key.verifier)
    return Actor(c.ledger.origin, key)
