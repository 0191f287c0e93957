"""Disbursements (拨付): every payment out of a fund is requested by one person, approved by a
different one (maker-checker, 双人复核), and then paid."""

from __future__ import annotations

from eventsourcing.domain import event

from ledger.aggregate import LedgerAggregate
from ledger.errors import AlreadyReversed, InvalidInput, InvalidState, MakerChecker
from ledger.messages import msg, term

DISBURSEMENT_KINDS = ("project", "allowance", "management", "fundraising", "grant", "programme", "shared", "other")
"""A project payment by milestone (项目款), a social-worker talent allowance (社工专业人才津贴),
management costs (管理费用), fundraising costs (筹资费用), a grant to another legal person such as
another foundation (资助), the foundation's own programme costs such as the evaluation or audit of
projects (业务活动成本：评估、审计), a shared cost split by a stated basis (共同费用分配), and other
expenses (其他费用)."""

REQUESTED, APPROVED, REJECTED, PAID, REVERSED = "requested", "approved", "rejected", "paid", "reversed"
STATUS = {REQUESTED: term("requested"), APPROVED: term("approved"), REJECTED: term("rejected"), PAID: term("paid"),
          REVERSED: term("reversed")}
"""A disbursement's status as people read it."""
VERBS = {"approve": APPROVED, "reject": REJECTED, "pay": PAID, "reverse": REVERSED}


def disbursement_id(number: str) -> str:
    return f"disbursement:{number}"


class Disbursement(LedgerAggregate):
    """A request to pay an amount from a fund, and its approval and payment."""

    @staticmethod
    def create_id(number: str) -> str:
        return disbursement_id(number)

    @event("Requested")
    def __init__(
        self, number: str, fund: str, kind: str, project: str | None, payee: str, amount: int,
        milestone: str | None, domain: str | None, street_town: str | None, purpose: str,
        requested_by: str, requested_on: str, shares: dict | None = None, basis: str | None = None,
    ) -> None:
        self.number = number
        self.shares = shares
        """A shared cost's parts (programme, management, fundraising), fen; None otherwise."""
        self.basis = basis
        """The stated basis of a shared cost's split (分配依据: hours, floor area, head count …)."""
        self.fund = fund
        self.kind = kind
        self.project = project
        self.payee = payee
        self.amount = amount
        self.milestone = milestone
        self.domain = domain
        self.street_town = street_town
        self.purpose = purpose
        self.requested_by = requested_by
        self.requested_on = requested_on
        self.approved_on: str | None = None
        self.status = REQUESTED
        self.approved_by: str | None = None
        self.approval_ref: str | None = None

    def approve(self, *, approver: str, approval_ref: str, approved_on: str) -> None:
        """Rule 2: the approver is a different person from the requester, deciding after the request."""
        self._check_status(REQUESTED, "approve")
        self._check_not_before(approved_on, self.requested_on, "requested")
        if approver == self.requested_by:
            raise MakerChecker(msg("{approver} requested disbursement {number} and cannot also approve it",
                                   approver=approver, number=self.number), field="approver")
        if not approval_ref.strip():
            raise InvalidInput("approval_ref", msg("an approval needs its reference number"))
        self._approved(approved_by=approver, approval_ref=approval_ref.strip(), approved_on=approved_on)

    def reject(self, *, approver: str, reason: str) -> None:
        self._check_status(REQUESTED, "reject")
        if approver == self.requested_by:
            raise MakerChecker(msg("{approver} requested disbursement {number} and cannot also decide it",
                                   approver=approver, number=self.number), field="approver")
        if not reason.strip():
            raise InvalidInput("reason", msg("a rejection needs a reason"))
        self._rejected(rejected_by=approver, reason=reason.strip())

    def check_payable(self, paid_on: str | None = None) -> None:
        self._check_status(APPROVED, "pay")
        if paid_on is not None:
            self._check_not_before(paid_on, self.approved_on, "approved")

    def mark_paid(self, *, paid_by: str, paid_on: str) -> None:
        self.check_payable(paid_on)
        self._paid(paid_by=paid_by, paid_on=paid_on)

    def mark_reversed(self, *, reason: str) -> None:
        if self.status == REVERSED:
            raise AlreadyReversed(msg("disbursement {number} was already reversed", number=self.number))
        self._check_status(PAID, "reverse")
        self._reversed(reason=reason)

    def _check_not_before(self, day: str, earlier: str | None, what: str) -> None:
        """Rule 2 in time: nothing is approved before it was requested or paid before it was approved."""
        if earlier is not None and day < earlier:
            raise InvalidInput("on", msg("{day} is before disbursement {number} was {what} ({earlier})", day=day,
                                         number=self.number, what=STATUS[what], earlier=earlier))

    def _check_status(self, wanted: str, verb: str) -> None:
        if self.status != wanted:
            raise InvalidState(msg("disbursement {number} is {status}; only one that is {wanted} can be {done}",
                                   number=self.number, status=STATUS[self.status], wanted=STATUS[wanted],
                                   done=STATUS[VERBS[verb]]))

    @event("Approved")
    def _approved(self, approved_by: str, approval_ref: str, approved_on: str) -> None:
        self.status = APPROVED
        self.approved_by = approved_by
        self.approval_ref = approval_ref
        self.approved_on = approved_on

    @event("Rejected")
    def _rejected(self, rejected_by: str, reason: str) -> None:
        self.status = REJECTED

    @event("Paid")
    def _paid(self, paid_by: str, paid_on: str) -> None:
        self.status = PAID

    @event("Reversed")
    def _reversed(self, reason: str) -> None:
        self.status = REVERSED
