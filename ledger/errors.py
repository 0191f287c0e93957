"""Named domain errors: each says which rule or field was broken, in English and Chinese.

The API turns them into RFC 9457 problem documents and the CLI into a message and a non-zero exit;
``rule`` is the stable machine-readable name, ``field`` names the offending input where there is one.
"""

from __future__ import annotations

from ledger.messages import Msg, msg, term


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose.

    The message is a :class:`~ledger.messages.Msg` of the catalogue (both languages from one
    English text); a pair of plain strings is still taken, for the few texts built elsewhere."""

    rule: str = "ledger-error"
    status: int = 422
    title_zh: str = "账本错误"

    def __init__(self, message: str | Msg, message_zh: str | None = None, *, field: str | None = None):
        if isinstance(message, Msg):
            message, message_zh = message.en, message.zh
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or self.title_zh
        self.field = field

    def __str__(self) -> str:
        return f"{self.message_zh} / {self.message}"


# --- the words messages name things with ----------------------------------------------------------

FIELDS: dict[str, Msg] = {
    "actor": term("acting principal"), "amount": term("amount"), "approval_ref": term("approval reference"),
    "approver": term("approver"), "authorization": term("Authorization header"), "basis": term("basis"),
    "budget": term("budget"), "code": term("code"), "community": term("neighbourhood committee"),
    "content": term("service content"), "credit_code": term("unified social credit code"), "date": term("date"),
    "document_ref": term("document reference"), "domain": term("service domain"), "domains": term("service domains"),
    "donor_name": term("donor's name"), "donor_public": term("consent to be named"), "donor_type": term("donor type"),
    "end": term("end time"), "ends_on": term("end date"), "first": term("first tree size"),
    "foundation": term("foundation"), "from_fund": term("source fund"), "fund": term("fund"),
    "funding_source": term("funding source"), "handle": term("handle"), "Idempotency-Key": term("Idempotency-Key"),
    "in_kind_description": term("description of goods in kind"), "key": term("key"), "key_id": term("key id"),
    "kind": term("kind"), "leaf_index": term("leaf index"), "ledger": term("ledger"), "limit": term("limit"),
    "method": term("method"), "milestone": term("milestone"), "milestones": term("milestones"), "name": term("name"),
    "name_public": term("consent to be named"), "note": term("note"), "number": term("number"),
    "on": term("date"), "organisation": term("organisation"), "out": term("output file"), "path": term("page"),
    "payee": term("payee"), "payer": term("payer"), "position": term("log position"), "principal": term("principal"),
    "purpose": term("purpose"), "reason": term("reason"), "received_on": term("date received"),
    "reference": term("receipt link"), "reference_file": term("reference data file"),
    "registered_on": term("registration date"), "respondents": term("respondents"), "restricted": term("restricted"),
    "roles": term("roles"), "root_key": term("root key"), "score": term("satisfaction score"),
    "second": term("second tree size"), "source": term("source"), "special": term("special fund"),
    "start": term("start time"), "starts_on": term("start date"), "street_town": term("street-town"),
    "street_towns": term("street-towns"), "surveyed_on": term("survey date"), "table": term("table"),
    "text": term("text"), "to_fund": term("target fund"), "token_id": term("token id"), "tree_size": term("tree size"),
    "valid_from": term("valid from"), "valid_until": term("valid until"), "volunteer": term("volunteer"),
    "body": term("request body"), "lang": term("language"), "name_zh": term("Chinese name"),
    "agreement": term("special fund agreement"), "agreement_ref": term("agreement reference"),
    "agreement.ref": term("agreement reference"), "agreement.use": term("the fund's use"),
    "agreement.termination": term("termination conditions"), "agreement.leftover": term("leftover handling"),
    "agreement.leftover_fund": term("fund receiving the leftover"),
    "agreement.fee_rate_bp": term("agreed management-fee rate"),
}
"""Each input a message can name, by its field name, as people read it."""

KINDS: dict[str, Msg] = {
    "checkpoint": term("checkpoint"), "checkpoint of tree size": term("checkpoint of tree size"),
    "disbursement": term("disbursement"), "domain": term("service domain"), "entry": term("entry"),
    "event at log position": term("event at log position"), "file": term("file"), "fund": term("fund"),
    "key": term("key"), "ledger": term("ledger"), "organisation": term("organisation"), "page": term("page"),
    "principal": term("principal"), "project": term("project"), "receipt link": term("receipt link"),
    "service record": term("service record"), "street-town": term("street-town"), "table": term("table"),
    "token": term("token"), "volunteer": term("volunteer"), "milestone": term("milestone"),
    "idempotency key": term("idempotency key"), "registered key": term("registered key"),
}
"""The kinds of thing that may be missing or already there (NotFound, AlreadyExists)."""


def field_label(name: str) -> Msg:
    """How a message names an input: its label, or for one the ledger does not know, its name as code."""
    return FIELDS.get(name) or Msg(f"`{name}`")


# --- input ---------------------------------------------------------------------------------------


class InvalidInput(LedgerError):
    """A field of a command is malformed."""

    rule = "invalid-input"
    title_zh = "输入无效"

    def __init__(self, field: str, problem: str | Msg, problem_zh: str | None = None):
        if isinstance(problem, Msg):
            label = field_label(field)
            super().__init__(f"{field}: {problem.en}", f"{label.zh}：{problem.zh}", field=field)
        else:
            super().__init__(f"{field}: {problem}", f"{field_label(field).zh}：{problem_zh or problem}", field=field)
        self.problem = problem


class InvalidAmount(InvalidInput):
    """An amount is not a positive decimal string with at most two places within bounds."""

    rule = "invalid-amount"
    title_zh = "金额无效"


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
        super().__init__(msg("{kind} {ident} does not exist", kind=KINDS.get(kind) or term(kind), ident=repr(ident)),
                         field=field)
        self.kind, self.ident = kind, ident


class AlreadyExists(LedgerError):
    """Something with this identifier was recorded before."""

    rule = "already-exists"
    status = 409
    title_zh = "已存在"

    def __init__(self, kind: str, ident: str, *, field: str | None = None):
        super().__init__(msg("{kind} {ident} already exists", kind=KINDS.get(kind) or term(kind), ident=repr(ident)),
                         field=field)


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


TAMPER_PROBLEMS: dict[str, Msg] = {
    "signature does not verify": term("signature does not verify"),
    "appears before the directory's genesis": term("appears before the directory's genesis"),
    "the directory does not begin with Directory.Founded": term("the directory does not begin with its genesis"),
}
"""The fixed problems of a stored event, in words (the others name a key or a field as they are)."""


class TamperedEvent(LedgerError):
    """A stored event does not verify: its bytes, signature, stream, version or type were altered."""

    rule = "tampered-event"
    status = 500
    title_zh = "事件校验失败"

    def __init__(self, stream: str, version: int, problem: str):
        super().__init__(msg("stored event {stream} v{version} fails verification: {problem}", stream=stream,
                             version=version, problem=TAMPER_PROBLEMS.get(problem, problem)))
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
