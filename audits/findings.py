"""What an audit reports: findings, each naming its rule, its severity and the events it is about."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CRITICAL = "critical"
"""The history itself cannot be trusted (a signature, the Merkle tree, a checkpoint)."""
ERROR = "error"
"""A rule of the law or of the fund was broken."""
WARNING = "warning"
"""Something an auditor should look at; not a breach by itself."""
SEVERITIES = (CRITICAL, ERROR, WARNING)
SEVERITY_NAMES = {CRITICAL: ("严重", "Critical"), ERROR: ("错误", "Error"), WARNING: ("警告", "Warning")}
"""Each severity as a reader sees it: Chinese, English."""


def unreadable(exc: BaseException) -> tuple[str, str]:
    """Why an event's payload could not be read by the views or a rule, in words (English,
    Chinese) instead of a Python error: the payload is signed but is not what its type defines."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and getattr(exc, "message_zh", None):  # a named error of the ledger
        return message, exc.message_zh  # type: ignore[attr-defined]
    if isinstance(exc, KeyError) and exc.args:
        return f"the field {exc.args[0]!r} is missing", f"缺少字段 {exc.args[0]!r}"
    if isinstance(exc, TypeError) and "NoneType" in str(exc):
        return ("it refers to a record the history does not hold (a reversal of an event that is not there, say)",
                "它引用了历史中不存在的记录（例如冲正一条并不存在的事件）")
    return ("a field holds a value of another kind than its event type defines",
            "某字段的值与该事件类型的定义不符")


@dataclass(frozen=True)
class EventRef:
    """One event a finding is about, as the log names it."""

    position: int | None
    """The store's log position (notification id); None when the event is missing."""
    stream: str
    version: int | None
    type: str | None = None
    leaf_index: int | None = None


@dataclass(frozen=True)
class Finding:
    """One thing an audit found wrong."""

    rule: str
    """Stable rule id, e.g. ``integrity.modified`` or ``funds.overdraft``."""
    severity: str
    message_en: str
    message_zh: str
    events: tuple[EventRef, ...] = ()
    street_town: str | None = None
    """The street-town (街镇) concerned, when there is one, for the per-street-town summary."""
    fund: str | None = None
    """The fund concerned, when there is one, for the per-fund summary."""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def integrity(self) -> bool:
        return self.rule.startswith("integrity.")

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["events"] = [asdict(e) for e in self.events]
        return data

    def one_line(self) -> str:
        named = ", ".join(_ref_text(e) for e in self.events[:3])
        more = f" (+{len(self.events) - 3} more)" if len(self.events) > 3 else ""
        zh, _ = SEVERITY_NAMES.get(self.severity, (self.severity, self.severity))
        return f"[{self.severity} {zh}] {self.rule}: {self.message_en} / {self.message_zh}" + (
            f" — {named}{more}" if named else "")


def _ref_text(ref: EventRef) -> str:
    where = f"#{ref.position}" if ref.position is not None else "missing"
    version = f" v{ref.version}" if ref.version is not None else ""
    kind = f" {ref.type}" if ref.type else ""
    return f"{where} {ref.stream}{version}{kind}"
