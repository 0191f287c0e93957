"""Recording endpoints (记账): every write verb of the CLI over HTTP, for accountants, approvers and
recorders. The acting principal comes from the bearer token and signs the events with their key;
the ledger checks role and scope (one foundation, one organisation, maker-checker) itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, time
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from api.auth import Caller, CallerDep
from api.idempotency import IdempotencyKeys, KeyRace, Remembered, fingerprint
from api.problems import IdempotencyInFlight, IdempotencyKeyReused
from api.schemas import PROBLEMS
from api.validation import Amount
from ledger.application import Actor, Donation, Recorded
from ledger.disbursements import DISBURSEMENT_KINDS
from ledger.funds import DONATION_METHODS, DONOR_TYPES, GRANT_SOURCES, IN_KIND_BASES
from ledger.money import parse_amount
from ledger.projects import FUNDING_SOURCES, ORGANISATION_KINDS
from ledger.text import check_tree

router = APIRouter(prefix="/api/v1", tags=["record"], responses=PROBLEMS)

Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Letters, digits, '-' and '_'")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]

Clock = Annotated[str, Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", description="HH:MM, 24:00 ends a day")]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=128,
                                       pattern=r"^[\x21-\x7e]+$",
                                       description="Unique per request; a retry with the same key is answered "
                                                   "with the first answer and writes nothing")]




def _iso_text(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError("date_type", "a date is a string YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_text)]
"""A calendar date, only as an ISO string (no timestamps)."""


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: object) -> object:
        """Before any field is parsed, so the problem names the dotted field (``milestones.0.name``)
        and says which character (``ledger.text``): a 422 ``control-character``."""
        check_tree(data)
        return data


class Written(BaseModel):
    """What a write recorded."""

    id: str = Field(description="The business id: entry, disbursement number, service record, code…")
    positions: list[int] = Field(description="Log positions of the events written, in order")


def _answer(status: int, ident: str, positions: tuple[int, ...], replayed: bool = False) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(Written(id=ident, positions=list(positions)).model_dump(), status_code=status, headers=headers)


def _replay(request: Request, key: str, print_: str, found: Remembered) -> JSONResponse:
    if found.fingerprint != print_:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was used for a different request", f"幂等键 {key!r} 已用于另一请求",
            field="Idempotency-Key")
    keys: IdempotencyKeys = request.app.state.idempotency
    return _answer(found.status, found.ident, keys.positions(found), replayed=True)


def _in_flight(key: str) -> IdempotencyInFlight:
    return IdempotencyInFlight(f"a request with Idempotency-Key {key!r} is still running; retry later",
                               f"幂等键 {key!r} 的请求仍在处理，请稍后重试", field="Idempotency-Key")


def _after_race(request: Request, caller: Caller, key: str, print_: str) -> JSONResponse:
    """Another transaction stored this key first: its answer, once it can be seen."""
    found = request.app.state.idempotency.find(caller.actor.handle, key)
    if found is None:  # stored by a transaction we cannot see yet
        raise _in_flight(key)
    return _replay(request, key, print_, found)


def _fingerprint(request: Request, body: BaseModel | None) -> str:
    return fingerprint("POST", request.url.path, body.model_dump(mode="json") if body is not None else None)


def _write(request: Request, caller: Caller, key: str, body: BaseModel | None,
           command: Callable[[Actor], Recorded], donation: Donation | None = None):
    """Run one write under its Idempotency-Key (see ``api.idempotency``); a donation goes through
    the app's group commit when it has one (``api.groupcommit``)."""
    keys: IdempotencyKeys = request.app.state.idempotency
    principal = caller.actor.handle
    print_ = _fingerprint(request, body)
    first = caller.first_read
    # The request's first query read the key's stored answer already (api.auth.TokenStore.lookup).
    found = first.remembered if first is not None and first.idempotency_key == key else keys.find(principal, key)
    if found is not None:
        return _replay(request, key, print_, found)
    with keys.running(principal, key) as mine:
        if not mine:
            raise _in_flight(key)
        batcher = getattr(request.app.state, "batcher", None)
        try:
            if donation is not None and batcher is not None:
                recorded = batcher.record(donation, principal, key, print_)
            else:
                recorded = keys.run(principal, key, print_, 201, lambda: command(caller.actor))
        except KeyRace:
            return _after_race(request, caller, key, print_)
    return _answer(201, recorded.ident, recorded.positions)


async def _donate(request: Request, caller: Caller, key: str, body: BaseModel, donation: Donation,
                  command: Callable[[Actor], Recorded]):
    """``_write`` for a donation, awaiting the group commit on the event loop instead of holding
    a worker thread while the batch commits. Anything but a new key goes the thread's way."""
    batcher = getattr(request.app.state, "batcher", None)
    first = caller.first_read
    if batcher is None or first is None or first.idempotency_key != key or first.remembered is not None:
        return await run_in_threadpool(_write, request, caller, key, body, command, donation)
    keys: IdempotencyKeys = request.app.state.idempotency
    principal = caller.actor.handle
    print_ = _fingerprint(request, body)
    with keys.running(principal, key) as mine:
        if not mine:
            raise _in_flight(key)
        try:
            # Shielded: a client that goes away must not cancel a donation the batch may already hold.
            recorded = await asyncio.shield(asyncio.wrap_future(batcher.submit(donation, principal, key, print_)))
        except KeyRace:
            return await run_in_threadpool(_after_race, request, caller, key, print_)
    return _answer(201, recorded.ident, recorded.positions)


def _time(text: str) -> time:
    return time(0, 0) if text == "24:00" else time.fromisoformat(text)


WRITTEN = {"response_model": Written, "status_code": 201}

# --- organisations and funds ---------------------------------------------------------------------


class OrganisationIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "HQ-LINLI", "name": "虹桥邻里中心", "kind": "social_organisation", "street_town": "hongqiao"}]})

    code: Code
    name: Text
    kind: Literal[ORGANISATION_KINDS]  # type: ignore[valid-type]
    street_town: Code
    community: Text | None = None
    credit_code: Text | None = None
    registered_on: Day | None = None


@router.post("/organisations", **WRITTEN)
def register_organisation(request: Request, caller: CallerDep, key: IdempotencyKey, body: OrganisationIn):
    """Register an organisation (组织); root only."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.register_organisation(
        a, body.code, body.name, body.kind, body.street_town, community=body.community,
        credit_code=body.credit_code, registered_on=body.registered_on))


class AgreementIn(Command):
    """A special fund's agreement (专项基金协议, 《上海市基金会专项基金管理办法》)."""

    model_config = ConfigDict(extra="forbid")

    ref: Text = Field(description="Agreement reference (协议编号)")
    use: Text = Field(description="How the fund's property is used (使用方式)")
    termination: Text = Field(description="When the fund ends (终止条件)")
    leftover: Text = Field(description="What happens to its leftover property (剩余财产处理)")
    leftover_fund: Code | None = Field(None, description="The fund the leftover goes to, if the agreement names one")
    fee_rate_bp: StrictInt = Field(0, description="The agreed management fee in basis points of the fund's "
                                                  "income: 300 = 3 %; 0 = none")


class FundIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "XX-SF", "name": "仙霞新村街道社区专项基金", "foundation": "CNCF", "special": True, "purpose": "养老服务", "street_town": "xianxiaxincun", "domains": ["elderly_care"], "agreement": {"ref": "XX-SF-2026-01", "use": "资助本街道社区养老服务项目", "termination": "协议期满或设立目的已实现", "leftover": "用于本街道相同或相近目的的公益活动", "fee_rate_bp": 300}}]})

    code: Code
    name: Text
    foundation: Code = Field(description="Host foundation's organisation code")
    special: StrictBool = Field(False, description="A special community fund (专项基金); always restricted")
    restricted: StrictBool = Field(False, description="Restricted net assets (限定性)")
    purpose: str = Field("", max_length=2000)
    street_town: Code | None = None
    domains: list[Code] = Field(default_factory=list, max_length=20)
    street_towns: list[Code] = Field(default_factory=list, max_length=20)
    valid_from: Day | None = None
    valid_until: Day | None = None
    agreement_ref: Text | None = Field(None, description="A restricted fund's agreement reference; a special "
                                                         "fund's is ``agreement.ref``")
    agreement: AgreementIn | None = Field(None, description="A special fund's agreement: required for a special fund")


@router.post("/funds", **WRITTEN)
def open_fund(request: Request, caller: CallerDep, key: IdempotencyKey, body: FundIn):
    """Open a fund or special fund (基金/专项基金) of the accountant's foundation."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.open_fund(
        a, body.code, body.name, body.foundation, kind="special" if body.special else "general",
        restricted=body.restricted or body.special, purpose=body.purpose, street_town=body.street_town,
        domains=body.domains, street_towns=body.street_towns, valid_from=body.valid_from,
        valid_until=body.valid_until, agreement_ref=body.agreement_ref,
        agreement=body.agreement.model_dump() if body.agreement else None))


class CloseIn(Command):
    reason: Text


FundCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.post("/funds/{code}/close", **WRITTEN)
def close_fund(request: Request, caller: CallerDep, key: IdempotencyKey, code: FundCode, body: CloseIn):
    """Close an empty fund."""
    return _write(request, caller, key, body,
                  lambda a: request.app.state.ledger.close_fund(a, code, body.reason))


class AllocationIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"from_fund": "GEN", "to_fund": "SPARE", "amount": "100", "reason": "备用金"}]})

    from_fund: Code
    to_fund: Code
    amount: Amount
    reason: Text
    on: Day | None = None


@router.post("/allocations", **WRITTEN)
def allocate(request: Request, caller: CallerDep, key: IdempotencyKey, body: AllocationIn):
    """Allocate unrestricted money between funds (调拨)."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.allocate(
        a, body.from_fund, body.to_fund, parse_amount(body.amount), reason=body.reason, on=body.on))


class ReleaseIn(Command):
    fund: Code
    to_fund: Code
    amount: Amount
    basis: Text
    on: Day | None = None


@router.post("/releases", **WRITTEN)
def release_restriction(request: Request, caller: CallerDep, key: IdempotencyKey, body: ReleaseIn):
    """Release a restriction into an unrestricted fund (解除限定)."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.release_restriction(
        a, body.fund, body.to_fund, parse_amount(body.amount), basis=body.basis, on=body.on))


# --- money in ------------------------------------------------------------------------------------


class DonationIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"fund": "GEN", "amount": "1200.50", "donor_type": "resident", "donor_name": "张三"}]})

    fund: Code
    amount: Amount
    donor_type: Literal[DONOR_TYPES]  # type: ignore[valid-type]
    method: Literal[DONATION_METHODS] = "transfer"  # type: ignore[valid-type]
    donor_name: Text | None = None
    donor_public: StrictBool = Field(False, description="The donor consents to be named publicly")
    in_kind_description: Text | None = None
    in_kind_basis: Literal[IN_KIND_BASES] | None = Field(  # type: ignore[valid-type]
        None, description="A gift in kind: how its stated value was found (receipt, market, appraisal)")
    quantity: StrictInt | None = Field(None, gt=0, description="A gift in kind: how many")
    unit: Text | None = Field(None, description="A gift in kind: the unit (台, 份 …)")
    received_on: Day | None = None
    street_town: Code | None = None
    note: Text | None = None


@router.post("/donations", **WRITTEN)
async def record_donation(request: Request, caller: CallerDep, key: IdempotencyKey, body: DonationIn):
    """Record a donation (捐赠) into a fund."""
    donation = Donation(
        actor=caller.actor, fund=body.fund, amount=parse_amount(body.amount), donor_type=body.donor_type,
        method=body.method, donor_name=body.donor_name, donor_public=body.donor_public,
        in_kind_description=body.in_kind_description, received_on=body.received_on, street_town=body.street_town,
        note=body.note, in_kind_basis=body.in_kind_basis, quantity=body.quantity, unit=body.unit)
    return await _donate(request, caller, key, body, donation, lambda a: request.app.state.ledger.record_donation(
        a, donation.fund, donation.amount, donor_type=donation.donor_type, method=donation.method,
        donor_name=donation.donor_name, donor_public=donation.donor_public,
        in_kind_description=donation.in_kind_description, received_on=donation.received_on,
        street_town=donation.street_town, note=donation.note, in_kind_basis=donation.in_kind_basis,
        quantity=donation.quantity, unit=donation.unit))


class GrantIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"fund": "GEN", "amount": "50000", "source": "government_purchase", "payer": "长宁区民政局"}]})

    fund: Code
    amount: Amount
    source: Literal[GRANT_SOURCES]  # type: ignore[valid-type]
    payer: Text
    document_ref: Text | None = None
    received_on: Day | None = None
    street_town: Code | None = None


@router.post("/grants", **WRITTEN)
def record_grant(request: Request, caller: CallerDep, key: IdempotencyKey, body: GrantIn):
    """Record government purchase, venture philanthropy, welfare lottery or district fund income (拨款)."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.record_grant(
        a, body.fund, parse_amount(body.amount), source=body.source, payer=body.payer,
        document_ref=body.document_ref, received_on=body.received_on, street_town=body.street_town))


# --- projects ------------------------------------------------------------------------------------


class Milestone(Command):
    name: Text
    amount: Amount


class ProjectIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "P2", "name": "乐龄助餐", "street_town": "xianxiaxincun", "domain": "elderly_care", "organisation": "LELING", "budget": "30000", "funding_source": "fund", "approval_ref": "长民〔2026〕7号", "starts_on": "2026-01-01", "ends_on": "2026-12-31", "reach": 300}]})

    code: Code
    name: Text
    street_town: Code
    domain: Code
    organisation: Code = Field(description="Undertaking organisation (承接组织)")
    budget: Amount
    funding_source: Literal[FUNDING_SOURCES]  # type: ignore[valid-type]
    approval_ref: Text = Field(description="Approval reference (批文号)")
    starts_on: Day
    ends_on: Day
    reach: StrictInt = Field(ge=1, le=10_000_000, description="Residents the project serves (服务对象人数): "
                                                               "no survey of it may have more respondents")
    foundation: Code | None = Field(None, description="The foundation responsible for the project; default: "
                                                      "the accountant's own")
    community: Text | None = None
    milestones: list[Milestone] = Field(default_factory=list, max_length=50)


@router.post("/projects", **WRITTEN)
def register_project(request: Request, caller: CallerDep, key: IdempotencyKey, body: ProjectIn):
    """Register an approved project (项目)."""

    def command(a: Actor) -> Recorded:
        milestones = [(m.name, parse_amount(m.amount, field="milestones")) for m in body.milestones]
        return request.app.state.ledger.register_project(
            a, body.code, body.name, street_town=body.street_town, domain=body.domain,
            organisation=body.organisation, budget=parse_amount(body.budget, field="budget"),
            funding_source=body.funding_source, approval_ref=body.approval_ref, starts_on=body.starts_on,
            ends_on=body.ends_on, reach=body.reach, foundation=body.foundation, community=body.community,
            milestones=milestones)

    return _write(request, caller, key, body, command)


class EvaluationIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"score": 92, "respondents": 40, "survey_ref": "问卷-2026-07"}]})

    score: StrictInt = Field(ge=0, le=100, description="Percent of respondents satisfied")
    respondents: StrictInt = Field(ge=1, le=10_000_000, description="At most the project's reach")
    survey_ref: Text = Field(description="The survey's reference (问卷或报告编号)")
    surveyed_on: Day | None = None
    method: str = Field("questionnaire", min_length=1, max_length=100)


@router.post("/projects/{code}/evaluations", **WRITTEN)
def evaluate_project(request: Request, caller: CallerDep, key: IdempotencyKey, code: FundCode, body: EvaluationIn):
    """Record residents' satisfaction with a project (满意度测评): by an accountant of the project's
    foundation or its undertaking organisation's recorder; no more respondents than its reach."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.evaluate_project(
        a, code, score=body.score, respondents=body.respondents, survey_ref=body.survey_ref,
        surveyed_on=body.surveyed_on, method=body.method))


# --- disbursements (maker-checker) ---------------------------------------------------------------


class DisbursementIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"fund": "GEN", "amount": "800", "kind": "allowance", "payee": "张社工", "domain": "elderly_care", "street_town": "xianxiaxincun", "purpose": "社工津贴"}]})

    fund: Code
    amount: Amount
    purpose: Text
    kind: Literal[DISBURSEMENT_KINDS] = "project"  # type: ignore[valid-type]
    project: Code | None = None
    payee: Text | None = None
    milestone: Text | None = None
    domain: Code | None = None
    street_town: Code | None = None
    on: Day | None = None


@router.post("/disbursements", **WRITTEN)
def request_disbursement(request: Request, caller: CallerDep, key: IdempotencyKey, body: DisbursementIn):
    """Request a disbursement (拨付申请); a different person approves it."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.request_disbursement(
        a, body.fund, parse_amount(body.amount), kind=body.kind, project=body.project, payee=body.payee,
        milestone=body.milestone, domain=body.domain, street_town=body.street_town, purpose=body.purpose,
        on=body.on))


Number = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Disbursement number")]


class ApprovalIn(Command):
    approval_ref: Text
    on: Day | None = None


@router.post("/disbursements/{number}/approve", **WRITTEN)
def approve_disbursement(request: Request, caller: CallerDep, key: IdempotencyKey, number: Number,
                         body: ApprovalIn):
    """Approve a disbursement (审批); never one's own request."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.approve_disbursement(
        a, number, approval_ref=body.approval_ref, on=body.on))


class RejectionIn(Command):
    reason: Text


@router.post("/disbursements/{number}/reject", **WRITTEN)
def reject_disbursement(request: Request, caller: CallerDep, key: IdempotencyKey, number: Number,
                        body: RejectionIn):
    """Reject a disbursement request."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.reject_disbursement(
        a, number, reason=body.reason))


class PaymentIn(Command):
    on: Day | None = None


@router.post("/disbursements/{number}/pay", **WRITTEN)
def pay_disbursement(request: Request, caller: CallerDep, key: IdempotencyKey, number: Number, body: PaymentIn):
    """Pay an approved disbursement (支付)."""
    return _write(request, caller, key, body,
                  lambda a: request.app.state.ledger.pay_disbursement(a, number, on=body.on))


# --- volunteers ----------------------------------------------------------------------------------


class VolunteerIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"number": "V0002", "name": "王芳", "street_town": "xianxiaxincun"}]})

    number: Code
    name: Text
    street_town: Code
    name_public: StrictBool = Field(False, description="The volunteer consents to be named publicly")
    registered_on: Day | None = None


@router.post("/volunteers", **WRITTEN)
def register_volunteer(request: Request, caller: CallerDep, key: IdempotencyKey, body: VolunteerIn):
    """Register a volunteer (志愿者)."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.register_volunteer(
        a, body.number, body.name, body.street_town, registered_on=body.registered_on,
        name_public=body.name_public))


class HoursIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"volunteer": "V001", "organisation": "LELING", "domain": "elderly_care", "on": "2026-03-01", "start": "09:00", "end": "11:30", "content": "陪伴独居老人"}]})

    volunteer: Code
    organisation: Code = Field(description="The organising body; recorders record only their own")
    domain: Code
    on: Day
    start: Clock
    end: Clock
    content: Text = Field(description="Service content (服务内容)")
    street_town: Code | None = None


@router.post("/hours", **WRITTEN)
def record_hours(request: Request, caller: CallerDep, key: IdempotencyKey, body: HoursIn):
    """Record a volunteer's service session (志愿服务记录)."""
    return _write(request, caller, key, body, lambda a: request.app.state.ledger.record_hours(
        a, body.volunteer, organisation=body.organisation, domain=body.domain, on=body.on,
        start=_time(body.start), end=_time(body.end), content=body.content, street_town=body.street_town))


# --- corrections ---------------------------------------------------------------------------------


class CorrectionIn(Command):
    position: StrictInt = Field(ge=1, le=2**63 - 1, description="Log position of the event to reverse")
    reason: Text = Field(description="Correction note (更正说明)")


@router.post("/corrections", **WRITTEN)
def correct(request: Request, caller: CallerDep, key: IdempotencyKey, body: CorrectionIn):
    """Reverse a money or hours event with a reason (冲正); the original stays in the log."""
    return _write(request, caller, key, body,
                  lambda a: request.app.state.ledger.reverse(a, body.position, reason=body.reason))
