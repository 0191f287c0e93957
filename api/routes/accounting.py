"""Accounting endpoints (会计): what a foundation's accountant records beyond donations, grants and
disbursements — other income, goods handed out, service contracts earned by milestone, the end of a
special fund, the foundation's charity standing and its publications — and the three 民非
statements for a period. Each write is the `wushe` command of the same name over HTTP
(``ledger.commands.accounting``); the ledger checks role and scope itself."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.auth import CallerDep
from api.problems import PrinterUnavailable
from api.routes.record import WRITTEN, Code, Command, Day, FundCode, IdempotencyKey, Milestone, Text, _write
from api.schemas import PROBLEMS
from api.validation import Amount
from ledger.application import Actor
from ledger.funds import OTHER_INCOME_KINDS
from ledger.money import parse_amount
from ledger.principals import ACCOUNTANT, APPROVER, AUDITOR, ROOT
from ledger.projects import DISCLOSURE_ITEMS, ORGANISATION_TYPES

router = APIRouter(prefix="/api/v1", tags=["accounting"], responses=PROBLEMS)

ContractCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The contract's code")]
OrganisationCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The foundation's code")]


class OtherIncomeIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "12.34", "kind": "interest", "payer": "上海银行长宁支行", "note": "第三季度结息"}]})

    amount: Amount
    kind: Literal[OTHER_INCOME_KINDS] = Field(description="interest (利息), investment (投资收益), other (其他收入)")  # type: ignore[valid-type]
    payer: Text
    note: Text | None = None
    on: Day | None = None


@router.post("/funds/{code}/income", **WRITTEN)
def record_other_income(request: Request, caller: CallerDep, key: IdempotencyKey, code: FundCode, body: OtherIncomeIn):
    """Record bank interest, investment income or other income into a fund."""

    def command(a: Actor):
        return request.app.state.ledger.record_other_income(
            a, code, parse_amount(body.amount), kind=body.kind, payer=body.payer, note=body.note, on=body.on)

    return _write(request, caller, key, body, command)


class GoodsOut(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "600", "description": "助老米面油礼包", "quantity": 20, "target": "P1"}]})

    amount: Amount = Field(description="The stated value of what is handed out, yuan")
    description: Text
    quantity: StrictInt = Field(ge=1, le=10_000_000)
    target: Code = Field(description="The project or purpose code the goods serve")
    domain: Code | None = None
    street_town: Code | None = None
    on: Day | None = None


@router.post("/funds/{code}/goods-distributions", **WRITTEN)
def distribute_goods(request: Request, caller: CallerDep, key: IdempotencyKey, code: FundCode, body: GoodsOut):
    """Hand out or use goods given in kind (存货发放): their stated value becomes a programme cost."""

    def command(a: Actor):
        return request.app.state.ledger.distribute_goods(
            a, code, parse_amount(body.amount), description=body.description, quantity=body.quantity,
            target=body.target, domain=body.domain, street_town=body.street_town, on=body.on)

    return _write(request, caller, key, body, command)


class ContractIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"contract": "C2026-01", "buyer": "长宁区民政局", "document_ref": "长民购〔2026〕3号",
         "milestones": [{"name": "上半年", "amount": "50000"}, {"name": "下半年", "amount": "50000"}]}]})

    contract: Code
    buyer: Text
    document_ref: Text = Field(description="The contract's document reference (合同编号)")
    milestones: list[Milestone] = Field(min_length=1, max_length=50)
    on: Day | None = None


@router.post("/funds/{code}/contracts", **WRITTEN)
def sign_contract(request: Request, caller: CallerDep, key: IdempotencyKey, code: FundCode, body: ContractIn):
    """A service contract (政府购买服务) in an unrestricted fund, earned milestone by milestone."""

    def command(a: Actor):
        milestones = [(m.name, parse_amount(m.amount, field="milestones")) for m in body.milestones]
        return request.app.state.ledger.sign_contract(a, code, body.contract, buyer=body.buyer, milestones=milestones,
                                                      document_ref=body.document_ref, on=body.on)

    return _write(request, caller, key, body, command)


class ContractPaymentIn(Command):
    amount: Amount
    on: Day | None = None


@router.post("/funds/{code}/contracts/{contract}/payments", **WRITTEN)
def receive_contract_payment(request: Request, caller: CallerDep, key: IdempotencyKey, code: FundCode,
                             contract: ContractCode, body: ContractPaymentIn):
    """Money received under a contract: 预收账款 until a milestone is delivered."""

    def command(a: Actor):
        return request.app.state.ledger.receive_contract_payment(a, code, contract, parse_amount(body.amount),
                                                                 on=body.on)

    return _write(request, caller, key, body, command)


class DeliveryIn(Command):
    milestone: Text
    on: Day | None = None


@router.post("/funds/{code}/contracts/{contract}/deliveries", **WRITTEN)
def deliver_service(request: Request, caller: CallerDep, key: IdempotencyKey, code: FundCode,
                    contract: ContractCode, body: DeliveryIn):
    """A contract's milestone delivered: its service income is earned (确认提供服务收入)."""

    def command(a: Actor):
        return request.app.state.ledger.deliver_service(a, code, contract, body.milestone, on=body.on)

    return _write(request, caller, key, body, command)


class TerminationIn(Command):
    reason: Text
    to_fund: Code | None = Field(None, description="Where the leftover goes; default: the fund the agreement names")
    on: Day | None = None


@router.post("/funds/{code}/terminate", **WRITTEN)
def terminate_special_fund(request: Request, caller: CallerDep, key: IdempotencyKey, code: FundCode,
                           body: TerminationIn):
    """End a special fund (专项基金终止): the leftover moves as its agreement says; disclosure due in 3 months."""

    def command(a: Actor):
        return request.app.state.ledger.terminate_special_fund(a, code, reason=body.reason, to_fund=body.to_fund,
                                                               on=body.on)

    return _write(request, caller, key, body, command)


class ProfileIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"charity": True, "public_fundraising": True, "org_type": "foundation", "since": "2019-06-01",
         "document_ref": "沪民慈认〔2019〕12号"}]})

    charity: StrictBool = Field(description="Recognised as a charitable organisation (慈善组织)")
    public_fundraising: StrictBool = Field(description="Holds the public-fundraising qualification (公开募捐资格)")
    org_type: Literal[ORGANISATION_TYPES]  # type: ignore[valid-type]
    since: Day
    document_ref: Text


@router.post("/organisations/{code}/profile", **WRITTEN)
def record_profile(request: Request, caller: CallerDep, key: IdempotencyKey, code: OrganisationCode, body: ProfileIn):
    """A foundation's standing as the civil-affairs bureau recorded it: the annual ratios judge by it."""

    def command(a: Actor):
        return request.app.state.ledger.record_profile(
            a, code, charity=body.charity, public_fundraising=body.public_fundraising, org_type=body.org_type,
            since=body.since, document_ref=body.document_ref)

    return _write(request, caller, key, body, command)


class PublicationIn(Command):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"item": "annual_report", "subject": "2025", "title": "2025年度工作报告", "where": "慈善中国"}]})

    item: Literal[DISCLOSURE_ITEMS]  # type: ignore[valid-type]
    subject: Text = Field(description="What it discloses: the year, the project or the fund")
    title: Text
    where: Text = Field(description="Where it was published (慈善中国, the foundation's site …)")
    published_on: Day | None = None


@router.post("/organisations/{code}/publications", **WRITTEN)
def record_publication(request: Request, caller: CallerDep, key: IdempotencyKey, code: OrganisationCode,
                       body: PublicationIn):
    """A publication (信息公开) of the foundation: the disclosure calendar counts it."""

    def command(a: Actor):
        return request.app.state.ledger.record_publication(a, code, item=body.item, subject=body.subject,
                                                           title=body.title, where=body.where,
                                                           published_on=body.published_on)

    return _write(request, caller, key, body, command)


# --- the three statements ------------------------------------------------------------------------


class StatementsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    foundation: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    year: int = Field(ge=1900, le=9999)
    month: int | None = Field(None, ge=1, le=12)
    quarter: int | None = Field(None, ge=1, le=4)
    format: Literal["json", "xlsx", "pdf"] = "json"


MEDIA = {"json": "application/json", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf"}


@router.get("/statements", response_class=Response, responses={200: {"content": {m: {} for m in MEDIA.values()},
                                                                     "description": "The statements"}})
def statements(request: Request, caller: CallerDep, query: Annotated[StatementsQuery, Query()]) -> Response:
    """资产负债表、业务活动表、现金流量表 (会民非01/02/03表) of one foundation for a month, a quarter or a
    year, recomputed from the verified log — as `wushe statements` writes them. For the foundation's
    accountants and approvers, auditors and root."""
    from ledger.statements import Period, ledger_books
    from ledger.statements import statements as compute
    from projections.statement_files import render_html, xlsx_bytes

    ledger = request.app.state.ledger
    ledger.organisation(query.foundation, "foundation")
    ledger.authorise(caller.actor, ACCOUNTANT, APPROVER, AUDITOR, ROOT, foundation=query.foundation)
    period = Period.of(query.year, month=query.month, quarter=query.quarter)
    doc = compute(ledger_books(ledger), query.foundation, period)
    suffix = {"month": f"-{period.number:02d}", "quarter": f"-Q{period.number}", "year": ""}[period.kind]
    name = f"statements-{query.foundation}-{query.year}{suffix}.{query.format}"
    if query.format == "json":
        content = json.dumps(doc, ensure_ascii=False, indent=1).encode()
    elif query.format == "xlsx":
        content = xlsx_bytes(doc)
    else:
        from api.pdf import PdfUnavailable, print_pdf

        try:
            content = print_pdf(render_html(doc))
        except PdfUnavailable as exc:
            raise PrinterUnavailable(str(exc), f"无法生成PDF：{exc}", field="format") from None
    return Response(content, media_type=MEDIA[query.format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
                             "X-Wushe-Ties-Out": "true" if doc["checks"]["ok"] else "false"})
