"""Rule checks (规则核查): one module per rule family, each a pure function ``check(history)`` over
the replayed, verified history, returning findings that name the rule and the events. Each module's
``Check`` runs the same rule event by event with a state that can be saved and resumed
(``RuleRun``), which is how an incremental audit continues from a saved audit state.

The write side refuses most of these breaches already; the auditor re-checks them because it
trusts neither the server nor the code that ran there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from audits.findings import ERROR, Finding, unreadable
from audits.replay import Entry, Replay
from audits.rules import (
    annual_ratios,
    budget,
    disclosure,
    imports,
    maker_checker,
    overdraft,
    releases,
    special_funds,
    volunteer_hours,
)
from audits.rules.common import Principals, RuleCheck

RULES = (special_funds, overdraft, maker_checker, budget, releases, volunteer_hours, annual_ratios, disclosure,
         imports)
READ_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


def _name(rule) -> str:
    return rule.__name__.rsplit(".", 1)[-1]


def _unreadable(name: str, exc: Exception, entry: Entry | None = None) -> Finding:
    en, zh = unreadable(exc)
    where = f" at #{entry.position} {entry.stream} v{entry.version} {entry.type}" if entry else ""
    where_zh = f"（事件 #{entry.position} {entry.stream} 第{entry.version}版）" if entry else ""
    return Finding("audit.unreadable", ERROR, f"rule check {name} could not read the history{where}: {en}",
                   f"规则核查 {name} 无法读取历史记录{where_zh}：{zh}", (entry.ref(),) if entry else ())


class RuleRun:
    """Every rule family's running state and the findings its events settled so far. Signed events
    may still carry payloads no command would write; a rule that cannot read one reports that
    instead of stopping the audit (and reports nothing else: its other findings are dropped)."""

    def __init__(self, checks: dict[str, RuleCheck] | None = None, settled: dict[str, list[Finding]] | None = None,
                 broken: dict[str, Finding] | None = None) -> None:
        self.checks = checks if checks is not None else {_name(r): r.Check() for r in RULES}
        self.settled = settled if settled is not None else {name: [] for name in self.checks}
        self.broken = broken or {}

    def feed(self, entries: Iterable[Entry], principals: Principals) -> None:
        for e in entries:
            for name, check in self.checks.items():
                if name in self.broken:
                    continue
                try:
                    self.settled[name] += check.feed(e, principals)
                except READ_ERRORS as exc:
                    self.broken[name] = _unreadable(name, exc, e)

    def finish(self, principals: Principals) -> list[Finding]:
        findings: list[Finding] = []
        for name, check in self.checks.items():
            if name not in self.broken:
                try:
                    findings += self.settled[name] + check.finish(principals)
                    continue
                except READ_ERRORS as exc:
                    findings.append(_unreadable(name, exc))
                    continue
            findings.append(self.broken[name])
        return findings

    def dump(self) -> dict[str, Any]:
        return {name: {"state": None if name in self.broken else check.dump(),
                       "settled": [f.as_json() for f in self.settled[name]],
                       "broken": self.broken[name].as_json() if name in self.broken else None}
                for name, check in self.checks.items()}

    @classmethod
    def load(cls, data: dict[str, Any]) -> RuleRun:
        from audits.state import StateError, finding_from_json

        by_name = {_name(r): r for r in RULES}
        if set(data) != set(by_name):
            raise StateError(f"the state's rule checks ({', '.join(sorted(data))}) are not this version's "
                             f"({', '.join(sorted(by_name))})")
        checks, settled, broken = {}, {}, {}
        for name, rule in by_name.items():
            saved = data[name]
            checks[name] = rule.Check() if saved["broken"] else rule.Check.load(saved["state"])
            settled[name] = [finding_from_json(f) for f in saved["settled"]]
            if saved["broken"]:
                broken[name] = finding_from_json(saved["broken"])
        return cls(checks, settled, broken)


def check_all(history: Replay) -> list[Finding]:
    """Every rule's findings over a whole history."""
    run = RuleRun()
    run.feed(history.entries, history.principals)
    return run.finish(history.principals)
