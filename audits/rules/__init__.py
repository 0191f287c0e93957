"""Rule checks (规则核查): one module per rule family, each a pure function ``check(history)`` over
the replayed, verified history, returning findings that name the rule and the events.

The write side refuses most of these breaches already; the auditor re-checks them because it
trusts neither the server nor the code that ran there."""

from __future__ import annotations

from audits.findings import Finding
from audits.replay import Replay
from audits.rules import (
    annual_ratios,
    budget,
    disclosure,
    maker_checker,
    overdraft,
    releases,
    special_funds,
    volunteer_hours,
)

RULES = (special_funds, overdraft, maker_checker, budget, releases, volunteer_hours, annual_ratios, disclosure)


def check_all(history: Replay) -> list[Finding]:
    return [finding for rule in RULES for finding in rule.check(history)]
