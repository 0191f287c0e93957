"""Rule checks (规则核查): one module per rule family, each a pure function ``check(history)`` over
the replayed, verified history, returning findings that name the rule and the events.

The write side refuses most of these breaches already; the auditor re-checks them because it
trusts neither the server nor the code that ran there."""

from __future__ import annotations

from audits.findings import ERROR, Finding
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
    """Every rule's findings. Signed events may still carry payloads no command would write; a rule
    that cannot read one reports that instead of stopping the audit."""
    findings: list[Finding] = []
    for rule in RULES:
        try:
            findings += rule.check(history)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            name = rule.__name__.rsplit(".", 1)[-1]
            findings.append(Finding("audit.unreadable", ERROR, f"rule check {name} could not read the history: "
                                    f"{type(exc).__name__}: {exc}", f"规则核查 {name} 无法读取历史记录"))
    return findings
