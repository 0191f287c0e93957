"""Organisations (community social organisations 社区社会组织, foundations, stations) and projects
(项目) they undertake (承接), with budgets, milestone payments and residents' satisfaction."""

from __future__ import annotations

from eventsourcing.domain import event

from ledger.aggregate import LedgerAggregate
from ledger.errors import AlreadyReversed, BudgetExceeded, ImplausibleEvaluation, InvalidInput, WrongPayee
from ledger.messages import msg
from ledger.money import format_cny

ORGANISATION_KINDS = ("social_organisation", "foundation", "community_foundation", "social_work_station")
"""Community social organisation (社区社会组织), foundation (基金会), community foundation (社区基金会),
social-work station (社工站) of the "1+10+N" network."""

ORGANISATION_TYPES = ("foundation", "social_group", "social_service")
"""The legal form, for the annual ratios: foundation (基金会), social group (社会团体), social service
organisation (社会服务机构)."""

DISCLOSURE_ITEMS = ("annual_report", "financial_report", "project_progress", "project_final", "leftover",
                    "major_event", "correction", "other")
"""What a publication discloses (《慈善组织信息公开办法》): the annual work report (年度工作报告), the
financial report (财务会计报告), a project's progress (项目进展) or its full report after it ends
(项目结项), the handling of leftover property (剩余财产处理), a major event due within 30 days
(重大事项), a correction note (更正说明), or anything else."""

FUNDING_SOURCES = ("government_purchase", "venture_philanthropy", "fund")
"""Government purchase of services (政府购买服务), venture-philanthropy grant (公益创投), or a fund."""


def organisation_id(code: str) -> str:
    return f"organisation:{code}"


def project_id(code: str) -> str:
    return f"project:{code}"


class Organisation(LedgerAggregate):
    """A registered body that undertakes projects, records volunteer hours, or hosts funds."""

    @staticmethod
    def create_id(code: str) -> str:
        return organisation_id(code)

    @event("Registered")
    def __init__(
        self, code: str, name: str, kind: str, street_town: str, community: str | None,
        credit_code: str | None, registered_on: str,
    ) -> None:
        self.code = code
        self.name = name
        self.kind = kind
        self.street_town = street_town
        self.community = community
        self.credit_code = credit_code
        self.registered_on = registered_on
        self.profiles: list[dict] = []
        """Charity status over time: each ``{since, charity, public_fundraising, type}``."""
        self.publications: list[dict] = []
        """What it published (信息公开), in the order recorded."""

    def record_profile(self, *, charity: bool, public_fundraising: bool, org_type: str, since: str,
                       document_ref: str) -> None:
        """Its standing under 《慈善法》: a charitable organisation (慈善组织) or not, with public-fundraising
        qualification (公开募捐资格) or not, and its legal form; from ``since`` on."""
        if org_type not in ORGANISATION_TYPES:
            raise InvalidInput("org_type", f"choose from {', '.join(ORGANISATION_TYPES)}")
        if public_fundraising and not charity:
            raise InvalidInput("public_fundraising", "only a charitable organisation holds public-fundraising "
                               "qualification", "只有慈善组织才能取得公开募捐资格")
        if self.profiles and since <= self.profiles[-1]["since"]:
            raise InvalidInput("since", f"a profile from {self.profiles[-1]['since']} is recorded; a new one starts "
                               "later", "新的登记信息须晚于已记录的日期")
        self._profile_recorded(charity=charity, public_fundraising=public_fundraising, org_type=org_type, since=since,
                               document_ref=document_ref)

    def publish(self, *, item: str, subject: str, title: str, where: str, published_on: str) -> None:
        """A publication (信息公开): what was disclosed, about what, where, and when."""
        if item not in DISCLOSURE_ITEMS:
            raise InvalidInput("item", f"choose from {', '.join(DISCLOSURE_ITEMS)}")
        self._published(item=item, subject=subject, title=title, where=where, published_on=published_on)

    @event("ProfileRecorded")
    def _profile_recorded(self, charity: bool, public_fundraising: bool, org_type: str, since: str,
                          document_ref: str) -> None:
        self.profiles.append({"since": since, "charity": charity, "public_fundraising": public_fundraising,
                              "type": org_type})

    @event("DisclosurePublished")
    def _published(self, item: str, subject: str, title: str, where: str, published_on: str) -> None:
        self.publications.append({"item": item, "subject": subject, "title": title, "where": where,
                                  "published_on": published_on, "version": self.version})


MAX_REACH = 10_000_000
"""More people than any district holds: the ceiling of a project's stated reach."""


class Project(LedgerAggregate):
    """A project with an approved budget, undertaken by one organisation in one street-town and domain,
    under the responsibility of one foundation, serving a stated number of people (its reach)."""

    @staticmethod
    def create_id(code: str) -> str:
        return project_id(code)

    @event("Registered")
    def __init__(
        self, code: str, name: str, street_town: str, community: str | None, domain: str,
        organisation: str, budget: int, funding_source: str, approval_ref: str,
        starts_on: str, ends_on: str, milestones: list, foundation: str | None = None, reach: int | None = None,
    ) -> None:
        self.code = code
        self.name = name
        self.street_town = street_town
        self.community = community
        self.domain = domain
        self.organisation = organisation
        self.budget = budget
        self.funding_source = funding_source
        self.approval_ref = approval_ref
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.milestones = list(milestones)
        self.foundation = foundation
        """The foundation whose accountants register, evaluate and pay the project; None for a
        project registered before the ledger recorded it (its events keep that meaning)."""
        self.reach = reach
        """Residents the project serves (服务对象人数), as stated at registration; None before it was."""
        self.paid = 0
        self.payments: dict[str, int] = {}
        self.evaluations = 0

    @property
    def remaining(self) -> int:
        return self.budget - self.paid

    # --- rules -----------------------------------------------------------------------------------

    def check_payee(self, payee: str) -> None:
        """Rule 3: payments go only to the organisation that undertook the project."""
        if payee != self.organisation:
            raise WrongPayee(msg("project {project} is undertaken by {organisation}; {payee} cannot be paid",
                                 project=self.code, organisation=self.organisation, payee=payee), field="payee")

    def check_within_budget(self, amount: int) -> None:
        """Rule 3: payments never exceed the approved budget."""
        if self.paid + amount > self.budget:
            raise BudgetExceeded(msg("project {project} has {left} of its {budget} budget left, cannot pay {amount}",
                                     project=self.code, left=format_cny(self.remaining), budget=format_cny(self.budget),
                                     amount=format_cny(amount)), field="amount")

    def check_milestone(self, milestone: str | None) -> None:
        if milestone is not None and self.milestones and milestone not in [m["name"] for m in self.milestones]:
            raise InvalidInput("milestone", msg("project {project} has the milestones {names}", project=self.code,
                                                names=[m["name"] for m in self.milestones]))

    # --- commands --------------------------------------------------------------------------------

    def record_payment(self, *, disbursement: str, amount: int, milestone: str | None, payee: str) -> None:
        self.check_payee(payee)
        self.check_within_budget(amount)
        self._payment_recorded(disbursement=disbursement, amount=amount, milestone=milestone, payee=payee)

    def reverse_payment(self, *, disbursement: str, reason: str) -> None:
        if disbursement not in self.payments:
            raise AlreadyReversed(msg("payment {disbursement} is not on project {project}: reversed already, or never made",
                                      disbursement=disbursement, project=self.code))
        self._payment_reversed(disbursement=disbursement, amount=self.payments[disbursement], reason=reason)

    def evaluate(self, *, score: int, respondents: int, surveyed_on: str, method: str, survey_ref: str) -> None:
        """Residents' satisfaction (居民满意度): percent satisfied among respondents, who cannot be
        more than the people the project serves, with the reference of the survey that found it."""
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            raise ImplausibleEvaluation(f"score: {score!r} is not a whole percentage from 0 to 100",
                                        f"满意度须为0到100的整数，而非 {score!r}", field="score")
        if isinstance(respondents, bool) or not isinstance(respondents, int) or respondents <= 0:
            raise InvalidInput("respondents", msg("at least one respondent"))
        if self.reach is None:
            raise ImplausibleEvaluation(
                f"project {self.code} states no reach (the number of people it serves), so its respondents "
                "cannot be checked", f"项目 {self.code} 未登记服务对象人数，无法核对受访人数", field="respondents")
        if respondents > self.reach:
            raise ImplausibleEvaluation(
                f"respondents: {respondents:,} people answered, but project {self.code} serves {self.reach:,}",
                f"受访人数 {respondents:,} 超过项目 {self.code} 的服务对象人数 {self.reach:,}", field="respondents")
        if not isinstance(survey_ref, str) or not survey_ref.strip():
            raise ImplausibleEvaluation("survey_ref: name the survey (questionnaire or report reference)",
                                        "须写明测评依据（问卷或报告编号）", field="survey_ref")
        self._evaluated(score=score, respondents=respondents, surveyed_on=surveyed_on, method=method,
                        survey_ref=survey_ref.strip())

    # --- state changes ---------------------------------------------------------------------------

    @event("PaymentRecorded")
    def _payment_recorded(self, disbursement: str, amount: int, milestone: str | None, payee: str) -> None:
        self.paid += amount
        self.payments[disbursement] = amount

    @event("PaymentReversed")
    def _payment_reversed(self, disbursement: str, amount: int, reason: str) -> None:
        self.paid -= amount
        del self.payments[disbursement]

    @event("Evaluated")
    def _evaluated(self, score: int, respondents: int, surveyed_on: str, method: str,
                   survey_ref: str | None = None) -> None:
        self.evaluations += 1
