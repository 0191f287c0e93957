"""Maker-checker (双人复核): a disbursement is approved by an approver other than the person who
requested it — by the names in the payload and by the keys that signed — before it is paid, and
every fund payment belongs to such a disbursement."""

from __future__ import annotations

from typing import Any

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, fund_code, pack, run, unpack
from ledger.principals import APPROVER


class Check(RuleCheck):
    def __init__(self, requested: dict[str, Entry] | None = None, approved: dict[str, Entry] | None = None) -> None:
        self.requested = requested or {}
        self.approved = approved or {}

    def dump(self) -> Any:
        return {"requested": {n: pack(e, "street_town", "fund", "requested_by", "requested_on")
                              for n, e in self.requested.items()},
                "approved": {n: pack(e, "approved_on", "approved_by") for n, e in self.approved.items()}}

    @classmethod
    def load(cls, data: Any) -> Check:
        return cls({n: unpack(e) for n, e in data["requested"].items()},
                   {n: unpack(e) for n, e in data["approved"].items()})

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        requested, approved = self.requested, self.approved
        number = e.stream.partition(":")[2]
        if e.type == "Disbursement.Requested":
            requested[number] = e
        elif e.type == "Disbursement.Approved":
            approved[number] = e
            return _approval(principals, requested.get(number), e, number)
        elif e.type == "Disbursement.Paid":
            request = requested.get(number)
            where = _where(request)
            if number not in approved:
                return [breach("maker-checker.unapproved", f"disbursement {number} was paid without approval",
                               f"拨付 {number} 未经审批即付款", e, **where)]
            if (e.payload.get("paid_on") or "") < (approved[number].payload.get("approved_on") or ""):
                return [breach("maker-checker.order", f"disbursement {number} was paid on "
                               f"{e.payload.get('paid_on')}, before its approval "
                               f"({approved[number].payload.get('approved_on')})",
                               f"拨付 {number} 付款日期早于审批日期", approved[number], e, **where)]
        elif e.type == "Fund.Paid" and e.payload.get("entry") not in approved:
            return [breach("maker-checker.unapproved", f"fund {fund_code(e)} paid {e.payload.get('entry')} "
                           "with no approved disbursement of that number",
                           f"基金 {fund_code(e)} 的付款 {e.payload.get('entry')} 没有对应的已审批拨付", e,
                           street_town=e.payload.get("street_town"), fund=fund_code(e))]
        return []


def check(history: Replay) -> list[Finding]:
    return run(Check(), history)


def _where(request: Entry | None) -> dict:
    if request is None:
        return {}
    return {"street_town": request.payload.get("street_town"), "fund": request.payload.get("fund")}


def _approval(principals: Principals, request: Entry | None, approval: Entry, number: str) -> list[Finding]:
    where = _where(request)
    if request is None:
        return [breach("maker-checker.unapproved", f"disbursement {number} was approved but never requested",
                       f"拨付 {number} 无申请却有审批", approval)]
    findings = []
    maker, checker = request.payload.get("requested_by"), approval.payload.get("approved_by")
    if maker == checker or request.signer == approval.signer:
        findings.append(breach("maker-checker.same-person", f"disbursement {number} was requested and approved by the "
                               f"same person ({maker} / signed by {request.signer} and {approval.signer})",
                               f"拨付 {number} 的申请人与审批人为同一人", request, approval, **where))
    principal = principals.get(approval.signer)
    if principal is None or APPROVER not in principal.roles:
        findings.append(breach("maker-checker.not-approver", f"disbursement {number} was approved by "
                               f"{approval.signer}, who has no approver role",
                               f"拨付 {number} 的审批人 {approval.signer} 不具备审批角色", approval, **where))
    if (approval.payload.get("approved_on") or "") < (request.payload.get("requested_on") or ""):
        findings.append(breach("maker-checker.order", f"disbursement {number} was approved before it was requested",
                               f"拨付 {number} 审批日期早于申请日期", request, approval, **where))
    return findings
