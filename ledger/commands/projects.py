"""Projects and disbursements (项目与拨付): budgets, milestones, surveys, and request → approve → pay."""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.accounting import OVERHEAD_KINDS, SHARE_KINDS
from ledger.commands.base import Actor, LedgerBase, Recorded
from ledger.commands.checks import check_amount, check_code, clean, require_text
from ledger.disbursements import DISBURSEMENT_KINDS, Disbursement
from ledger.errors import InvalidInput
from ledger.messages import codes as _codes
from ledger.messages import msg
from ledger.principals import ACCOUNTANT, APPROVER, RECORDER
from ledger.projects import FUNDING_SOURCES, MAX_REACH, Project


class ProjectCommands(LedgerBase):
    """Projects undertaken by organisations, and the maker-checker path of money out of a fund."""

    def register_project(
        self, actor: Actor, code: str, name: str, *, street_town: str, domain: str, organisation: str,
        budget: int, funding_source: str, approval_ref: str, starts_on: date, ends_on: date, reach: int,
        community: str | None = None, milestones: list[tuple[str, int]] | None = None, foundation: str | None = None,
    ) -> Recorded:
        """A project under one foundation (by default the accountant's own), serving ``reach`` people."""
        responsible = foundation or self.authorise(actor, ACCOUNTANT).foundation
        if responsible is None:
            raise InvalidInput("foundation", "name the foundation responsible for the project", "须指明负责该项目的基金会")
        self.authorise(actor, ACCOUNTANT, foundation=responsible)
        self._require_kind(responsible, ("foundation", "community_foundation"), "foundation")
        if isinstance(reach, bool) or not isinstance(reach, int) or not 0 < reach <= MAX_REACH:
            raise InvalidInput("reach", f"the number of people the project serves, from 1 to {MAX_REACH:,}",
                               f"服务对象人数须为1至{MAX_REACH:,}的整数")
        check_code(code, "code")
        require_text(name, "name")
        check_amount(budget, "budget")
        self.reference.street_town(street_town)
        self.reference.domain(domain)
        self._require_kind(organisation, ("social_organisation", "social_work_station", "community_foundation"),
                           "organisation")
        if funding_source not in FUNDING_SOURCES:
            raise InvalidInput("funding_source", msg("choose from {choices}", choices=_codes(FUNDING_SOURCES)))
        require_text(approval_ref, "approval_ref")
        if ends_on < starts_on:
            raise InvalidInput("ends_on", msg("ends before it starts"))
        planned = []
        for milestone_name, amount in milestones or []:
            require_text(milestone_name, "milestones")
            check_amount(amount, "milestones")
            planned.append({"name": milestone_name.strip(), "amount": amount})
        if len({m["name"] for m in planned}) != len(planned):
            raise InvalidInput("milestones", msg("milestone names must be unique"))
        if sum(m["amount"] for m in planned) > budget:
            raise InvalidInput("milestones", msg("the milestones add up to more than the budget"))
        project = Project(
            code=code, name=name.strip(), street_town=street_town, community=clean(community, "community"), domain=domain,
            organisation=organisation, budget=budget, funding_source=funding_source,
            approval_ref=approval_ref.strip(), starts_on=starts_on.isoformat(), ends_on=ends_on.isoformat(),
            milestones=planned, foundation=responsible, reach=reach,
        )
        return self._create(actor, code, project, "project", "code")

    def evaluate_project(
        self, actor: Actor, code: str, *, score: int, respondents: int, survey_ref: str,
        surveyed_on: date | None = None, method: str = "questionnaire",
    ) -> Recorded:
        """Record a residents' satisfaction survey (满意度测评) of a project: by an accountant of the
        project's foundation or the recorder of its undertaking organisation, and plausible."""
        require_text(method, "method")

        def body() -> Recorded:
            project = self.project(code)
            self.authorise_for_project(actor, project, ACCOUNTANT, RECORDER)
            project.evaluate(
                score=score, respondents=respondents,
                surveyed_on=self._business_date(surveyed_on, "surveyed_on").isoformat(), method=method,
                survey_ref=clean(survey_ref, "survey_ref") or "",
            )
            return self._save(actor, code, project)

        return self._command(body)

    def request_disbursement(
        self, actor: Actor, fund: str, amount: int, *, kind: str = "project", project: str | None = None,
        payee: str | None = None, milestone: str | None = None, domain: str | None = None,
        street_town: str | None = None, purpose: str = "", on: date | None = None,
        shares: dict[str, int] | None = None, basis: str | None = None,
    ) -> Recorded:
        """Request a payment out of a fund; it is checked now and again when paid. A shared cost
        (``shared``) states its split into programme, management and fundraising parts and the
        basis of that split (共同费用分配依据)."""
        check_amount(amount)
        if kind not in DISBURSEMENT_KINDS:
            raise InvalidInput("kind", msg("choose from {choices}", choices=_codes(DISBURSEMENT_KINDS)))
        require_text(purpose, "purpose")
        if kind == "shared":
            shares = dict(shares or {})
            if set(shares) - set(SHARE_KINDS) or not shares:
                raise InvalidInput("shares", f"split a shared cost into {', '.join(SHARE_KINDS)}",
                                   "共同费用须分配至业务活动成本、管理费用、筹资费用")
            for part in shares.values():
                check_amount(part, "shares")
            if sum(shares.values()) != amount:
                raise InvalidInput("shares", "the parts add up to the amount", "分配金额之和须等于支出金额")
            require_text(basis or "", "basis")
        elif shares is not None or basis is not None:
            raise InvalidInput("shares", "only a shared cost is split", "只有共同费用才需分配")
        requested_on = self._business_date(on, "on")
        source = self.fund(fund)
        self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
        source.check_open()
        if kind == "project":
            if project is None:
                raise InvalidInput("project", msg("a project payment names its project"))
            target = self.project(project)
            self.authorise_for_project(actor, target, ACCOUNTANT, payment=True)
            payee = payee or target.organisation
            target.check_payee(payee)
            target.check_milestone(milestone)
            target.check_within_budget(amount)
            domain, street_town = target.domain, target.street_town
        else:
            if project is not None and kind != "programme":
                raise InvalidInput("project", msg("a disbursement of the kind {kind} names no project", kind=_codes([kind])))
            if project is not None:  # the foundation's own work on a project: its evaluation, its audit
                target = self.project(project)
                domain, street_town = target.domain, target.street_town
            require_text(payee or "", "payee")
            if kind == "grant":
                # a grant goes to another legal person (资助): the receiver records it as a donation
                self.organisation(payee.strip(), "payee")
            if kind == "allowance" and (domain is None or street_town is None):
                raise InvalidInput("street_town", msg("an allowance names its street-town and service domain"))
            if domain is not None:
                self.reference.domain(domain)
            if street_town is not None:
                self.reference.street_town(street_town)
        if kind in OVERHEAD_KINDS:
            source.check_overhead(kind, amount)
        else:
            source.check_use(domain=domain, street_town=street_town, on=requested_on)
        source.check_covers(amount)
        number = self.new_id()
        disbursement = Disbursement(
            number=number, fund=fund, kind=kind, project=project, payee=(payee or "").strip(), amount=amount,
            milestone=clean(milestone, "milestone"), domain=domain, street_town=street_town, purpose=purpose.strip(),
            requested_by=actor.handle, requested_on=requested_on.isoformat(),
            **({"shares": shares, "basis": basis.strip()} if kind == "shared" else {}),
        )
        return self._create(actor, number, disbursement, "disbursement", "number")

    def approve_disbursement(
        self, actor: Actor, number: str, *, approval_ref: str, on: date | None = None
    ) -> Recorded:
        approved_on = self._business_date(on, "on").isoformat()

        def body() -> Recorded:
            disbursement = self.disbursement(number)
            source = self.fund(disbursement.fund)
            self.authorise(actor, APPROVER, foundation=source.foundation)
            disbursement.approve(approver=actor.handle, approval_ref=approval_ref, approved_on=approved_on)
            source.check_covers(disbursement.amount)
            return self._save(actor, number, disbursement)

        return self._command(body)

    def reject_disbursement(self, actor: Actor, number: str, *, reason: str) -> Recorded:
        def body() -> Recorded:
            disbursement = self.disbursement(number)
            source = self.fund(disbursement.fund)
            self.authorise(actor, APPROVER, foundation=source.foundation)
            disbursement.reject(approver=actor.handle, reason=reason)
            return self._save(actor, number, disbursement)

        return self._command(body)

    def pay_disbursement(self, actor: Actor, number: str, *, on: date | None = None) -> Recorded:
        """Pay an approved disbursement: the fund, the project and the disbursement in one transaction."""

        def body() -> Recorded:
            disbursement = self.disbursement(number)
            source = self.fund(disbursement.fund)
            self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
            paid_on = self._business_date(on, "on")
            disbursement.check_payable(paid_on.isoformat())
            touched: list[Any] = [disbursement, source]
            target = disbursement.project or disbursement.street_town or source.code
            if disbursement.kind == "grant":
                target = disbursement.payee
            if disbursement.kind == "project":
                project = self.project(disbursement.project)
                self.authorise_for_project(actor, project, ACCOUNTANT, payment=True)
                project.record_payment(
                    disbursement=number, amount=disbursement.amount, milestone=disbursement.milestone,
                    payee=disbursement.payee,
                )
                touched.append(project)
                target = project.code
            source.pay(
                entry=number, amount=disbursement.amount, kind=disbursement.kind, target=target,
                payee=disbursement.payee, domain=disbursement.domain, street_town=disbursement.street_town,
                on=paid_on, shares=getattr(disbursement, "shares", None),
            )
            disbursement.mark_paid(paid_by=actor.handle, paid_on=paid_on.isoformat())
            return self._save(actor, number, *touched)

        return self._command(body)

