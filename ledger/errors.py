"""Named domain errors: each says which rule or field was broken, in English and Chinese.

The API turns them into RFC 9457 problem documents and the CLI into a message and a non-zero exit;
``rule`` is the stable machine-readable name, ``field`` names the offending input where there is one.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    rule: str = "ledger-error"
    status: int = 422
    title_zh: str = "账本错误"

    def __init__(self, message: str, message_zh: str | None = None, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or self.title_zh
        self.field = field

    def __str__(self) -> str:
        return f"{self.message_zh} / {self.message}"


# --- input ---------------------------------------------------------------------------------------


class InvalidInput(LedgerError):
    """A field of a command is malformed."""

    rule = "invalid-input"
    title_zh = "输入无效"

    def __init__(self, field: str, problem: str, problem_zh: str | None = None):
        super().__init__(f"{field}: {problem}", f"{field}：{problem_zh or problem}", field=field)


class InvalidAmount(InvalidInput):
    """An amount is not a positive decimal string with at most two places within bounds."""

    rule = "invalid-amount"
    title_zh = "金额无效"

    def __init__(self, field: str, problem: str):
        super().__init__(field, problem, f"金额无效（{problem}）")


class UnknownReference(InvalidInput):
    """A street-town, domain or other reference-data code is not in the loaded reference data."""

    rule = "unknown-reference"
    title_zh = "未知的参考数据"


class NotFound(LedgerError):
    """The fund, project, organisation, principal or event named does not exist."""

    rule = "not-found"
    status = 404
    title_zh = "未找到"

    def __init__(self, kind: str, ident: str, *, field: str | None = None):
        super().__init__(f"{kind} {ident!r} does not exist", f"{kind} {ident!r} 不存在", field=field)


class AlreadyExists(LedgerError):
    """Something with this identifier was recorded before."""

    rule = "already-exists"
    status = 409
    title_zh = "已存在"

    def __init__(self, kind: str, ident: str, *, field: str | None = None):
        super().__init__(f"{kind} {ident!r} already exists", f"{kind} {ident!r} 已存在", field=field)


# --- authority and keys --------------------------------------------------------------------------


class NotAuthorised(LedgerError):
    """The acting principal lacks the role or scope for this command."""

    rule = "not-authorised"
    status = 403
    title_zh = "无权操作"


class UnknownKey(LedgerError):
    """A signature names a key id the ledger has never registered."""

    rule = "unknown-key"
    status = 403
    title_zh = "未知密钥"


class KeyRevoked(LedgerError):
    """A key was revoked before the event it signs (or is revoked now, on write)."""

    rule = "key-revoked"
    status = 403
    title_zh = "密钥已吊销"


class TamperedEvent(LedgerError):
    """A stored event does not verify: its bytes, signature, stream, version or type were altered."""

    rule = "tampered-event"
    status = 500
    title_zh = "事件校验失败"

    def __init__(self, stream: str, version: int, problem: str):
        super().__init__(
            f"stored event {stream} v{version} fails verification: {problem}",
            f"存储事件 {stream} 第{version}版校验失败：{problem}",
        )
        self.stream = stream
        self.version = version
        self.problem = problem


# --- rules of DOMAIN.md --------------------------------------------------------------------------


class InsufficientFunds(LedgerError):
    """Rule 1: no fund goes below zero."""

    rule = "no-overdraft"
    status = 409
    title_zh = "余额不足"


class FundRestricted(LedgerError):
    """Rule 1: a restricted fund pays only for its purposes, domains, street-towns and dates."""

    rule = "restricted-purpose"
    status = 409
    title_zh = "超出限定用途"


class FundClosed(LedgerError):
    """A closed fund takes no more income and pays nothing."""

    rule = "fund-closed"
    status = 409
    title_zh = "基金已关闭"


class MakerChecker(LedgerError):
    """Rule 2: a disbursement is approved by a different person than the one who requested it."""

    rule = "maker-checker"
    status = 409
    title_zh = "审批人不得为申请人"


class InvalidState(LedgerError):
    """The command does not fit the current state (e.g. paying an unapproved disbursement)."""

    rule = "invalid-state"
    status = 409
    title_zh = "状态不允许此操作"


class BudgetExceeded(LedgerError):
    """Rule 3: project payments never exceed the approved budget."""

    rule = "within-budget"
    status = 409
    title_zh = "超出项目预算"


class WrongPayee(LedgerError):
    """Rule 3: project payments go only to the organisation that undertook the project."""

    rule = "undertaking-organisation"
    status = 409
    title_zh = "收款方不是承接组织"


class ImplausibleEvaluation(LedgerError):
    """A satisfaction survey (满意度测评) that cannot be true of its project: more respondents than
    the project serves (its stated reach), a score outside 0–100, or no survey reference."""

    rule = "evaluation-plausible"
    status = 422
    title_zh = "满意度测评不合理"


class HoursImpossible(LedgerError):
    """Rule 4: a session must end after it starts, within one day, at most 24 h a day."""

    rule = "hours-plausible"
    status = 422
    title_zh = "服务时长不合理"


class HoursOverlap(LedgerError):
    """Rule 4: a volunteer's sessions never overlap."""

    rule = "hours-no-overlap"
    status = 409
    title_zh = "服务时段重叠"


class AlreadyReversed(LedgerError):
    """A correction reverses an event once; a second reversal is refused."""

    rule = "reversed-once"
    status = 409
    title_zh = "该事件已被冲正"


class NotReversible(LedgerError):
    """Only money and hours events can be reversed."""

    rule = "not-reversible"
    status = 422
    title_zh = "该事件不可冲正"
