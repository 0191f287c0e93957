"""Corrections (更正): a money or hours event reversed by new signed events with a reason, never edited."""

from __future__ import annotations

from typing import Any

from ledger import events
from ledger.commands.base import Actor, LedgerBase, Recorded
from ledger.commands.checks import require_text
from ledger.disbursements import Disbursement
from ledger.errors import NotFound, NotReversible
from ledger.funds import Fund
from ledger.messages import codes as _codes
from ledger.messages import msg
from ledger.principals import ACCOUNTANT, RECORDER


class CorrectionCommands(LedgerBase):
    """Reversals of money and hours events by log position."""

    def reverse(self, actor: Actor, position: int, *, reason: str) -> Recorded:
        """Reverse a money or hours event by appending signed reversing events with a reason."""
        require_text(reason, "reason")
        reason = reason.strip()

        def body() -> Recorded:
            stored, original = self.read_position(position)
            kind = stored.topic
            if kind not in events.REVERSIBLE:
                raise NotReversible(msg("events of the type {kind} cannot be reversed", kind=_codes([kind])),
                                    field="position")
            reverses = {"stream": str(stored.originator_id), "version": stored.originator_version, "type": kind}
            if kind == "Volunteer.ServiceRecorded":
                return self._reverse_hours(actor, original, reverses, reason)
            if kind == "Disbursement.Paid":
                return self._reverse_payment(actor, self.disbursement(str(stored.originator_id).split(":", 1)[1]),
                                             reverses, reason)
            fund = self.fund(str(stored.originator_id).split(":", 1)[1])
            self.authorise(actor, ACCOUNTANT, foundation=fund.foundation)
            if kind == "Fund.Paid":
                return self._reverse_payment(actor, self.disbursement(original.entry), reverses, reason)
            touched = [fund]
            fund.reverse(entry=original.entry, reverses=reverses, original_postings=original.postings, reason=reason)
            if kind in ("Fund.AllocatedOut", "Fund.AllocatedIn", "Fund.RestrictionReleased"):
                other_code = getattr(original, "to_fund", None) or original.from_fund
                other = self.fund(other_code)
                self.authorise(actor, ACCOUNTANT, foundation=other.foundation)
                leg = self._find_entry(other, original.entry)
                other.reverse(entry=original.entry, reverses=reverses, original_postings=leg.postings, reason=reason)
                touched.append(other)
            return self._save(actor, original.entry, *touched)

        return self._command(body)

    def _reverse_payment(self, actor: Actor, disbursement: Disbursement, reverses: dict, reason: str) -> Recorded:
        fund = self.fund(disbursement.fund)
        self.authorise(actor, ACCOUNTANT, foundation=fund.foundation)
        disbursement.mark_reversed(reason=reason)
        paid = self._find_entry(fund, disbursement.number)
        fund.reverse(entry=disbursement.number, reverses=reverses, original_postings=paid.postings, reason=reason)
        touched: list[Any] = [disbursement, fund]
        if disbursement.kind == "project":
            project = self.project(disbursement.project)
            self.authorise_for_project(actor, project, ACCOUNTANT, payment=True)
            project.reverse_payment(disbursement=disbursement.number, reason=reason)
            touched.append(project)
        return self._save(actor, disbursement.number, *touched)

    def _reverse_hours(self, actor: Actor, original: Any, reverses: dict, reason: str) -> Recorded:
        volunteer = self.volunteer(original.originator_id.split(":", 1)[1])
        self.authorise(actor, RECORDER, organisation=original.organisation)
        volunteer.reverse_service(record=original.record, reverses=reverses, reason=reason)
        return self._save(actor, original.record, volunteer)

    def _find_entry(self, fund: Fund, entry: str) -> Any:
        """The fund's event of ``entry`` that carries postings (not a reversal), newest first. Rows
        whose signed bytes do not even contain the entry id are passed over unopened, so a
        long-lived fund is not verified event by event to reverse one payment. (Inside a bulk
        import, ``reverse`` has written the batch already when it read the event by position.)"""
        needle = f'"{entry}"'.encode()
        through: int | None = None
        while True:
            page = self.recorder.select_events(fund.id, lte=through, desc=True, limit=500)
            for stored in page:
                if needle not in bytes(stored.state):
                    continue
                event = self.mapper.to_domain_event(stored)
                if getattr(event, "entry", None) == entry and hasattr(event, "postings") and not isinstance(
                    event, Fund.Reversed
                ):
                    return event
            if len(page) < 500:
                raise NotFound("entry", entry, field="position")
            through = page[-1].originator_version - 1

