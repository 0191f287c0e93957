"""Funds (基金): general funds and special community funds (社区专项基金), each a balance that
never goes below zero, fed by donations and grants and drawn on by paid disbursements."""

from __future__ import annotations

from datetime import date

from eventsourcing.domain import event

from ledger import accounting as acc
from ledger.aggregate import LedgerAggregate
from ledger.errors import AlreadyReversed, FundClosed, FundRestricted, InsufficientFunds, InvalidInput
from ledger.messages import codes as _codes
from ledger.messages import msg, term
from ledger.money import format_cny

DONOR_TYPES = ("resident", "business", "stationed_unit", "foundation", "government")
"""Donor types: resident (居民), business (企业), unit stationed in the district (驻区单位),
foundation (基金会), government (政府)."""

DONATION_METHODS = ("cash", "transfer", "in_kind")
"""Cash (现金), bank transfer (转账), or goods in kind at a stated value (实物)."""

GRANT_SOURCES = (
    "government_purchase",
    "venture_philanthropy",
    "welfare_lottery",
    "district_special_fund",
)
"""Non-donation income: government purchase of services (政府购买服务), venture-philanthropy grants
(公益创投), welfare-lottery money (福彩公益金), the district special fund for social-organisation
development (区社会组织发展专项资金)."""

FUND_KINDS = ("general", "special")


def fund_id(code: str) -> str:
    return f"fund:{code}"


class Fund(LedgerAggregate):
    """A fund held by a host foundation; a special fund (专项基金) is always restricted to its purpose."""

    @staticmethod
    def create_id(code: str) -> str:
        return fund_id(code)

    @event("Opened")
    def __init__(
        self,
        code: str,
        name: str,
        foundation: str,
        kind: str,
        restricted: bool,
        purpose: str,
        street_town: str | None,
        domains: list,
        street_towns: list,
        valid_from: str | None,
        valid_until: str | None,
        agreement_ref: str | None,
    ) -> None:
        self.code = code
        self.name = name
        self.foundation = foundation
        self.kind = kind
        self.restricted = restricted
        self.purpose = purpose
        self.street_town = street_town
        self.domains = list(domains)
        self.street_towns = list(street_towns)
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.agreement_ref = agreement_ref
        self.balance = 0
        self.closed = False
        self.reversed_entries: set[str] = set()

    @property
    def account(self) -> str:
        return acc.fund_account(self.code)

    # --- rules -----------------------------------------------------------------------------------

    def check_open(self) -> None:
        if self.closed:
            raise FundClosed(msg("fund {fund} is closed", fund=self.code))

    def check_use(self, *, domain: str | None, street_town: str | None, on: date) -> None:
        """Rule 1: a restricted fund pays only within its domains, street-towns and dates."""
        if not self.restricted:
            return
        if self.domains and domain not in self.domains:
            raise FundRestricted(msg("fund {fund} may only pay for {allowed}, not {asked}", fund=self.code,
                                     allowed=_codes(self.domains), asked=_codes([domain])), field="domain")
        if self.street_towns and street_town not in self.street_towns:
            raise FundRestricted(msg("fund {fund} may only pay in {allowed}, not in {asked}", fund=self.code,
                                     allowed=_codes(self.street_towns), asked=_codes([street_town])), field="street_town")
        day = on.isoformat()
        if (self.valid_from and day < self.valid_from) or (self.valid_until and day > self.valid_until):
            raise FundRestricted(msg("fund {fund} may only pay between {start} and {end}", fund=self.code,
                                     start=self.valid_from or "…", end=self.valid_until or "…"), field="date")

    def check_covers(self, amount: int) -> None:
        """Rule 1: no fund goes below zero."""
        if amount > self.balance:
            raise InsufficientFunds(msg("fund {fund} holds {balance}, cannot pay {amount}", fund=self.code,
                                        balance=format_cny(self.balance), amount=format_cny(amount)), field="amount")

    def check_unrestricted_spend(self, kind: str) -> None:
        if self.restricted:
            raise FundRestricted(msg("{kind} costs may not be taken from restricted fund {fund}",
                                     kind=term("management") if kind == "management" else term("fundraising"),
                                     fund=self.code), field="fund")

    # --- commands --------------------------------------------------------------------------------

    def receive_donation(
        self,
        *,
        entry: str,
        amount: int,
        method: str,
        donor_type: str,
        donor_name: str | None,
        donor_public: bool,
        in_kind_description: str | None,
        received_on: date,
        street_town: str,
        note: str | None,
        imported: dict | None = None,
    ) -> None:
        """``imported`` names the row of an uploaded list it came from ({"source", "reference"})."""
        self.check_open()
        if donor_type not in DONOR_TYPES:
            raise InvalidInput("donor_type", msg("choose from {choices}", choices=_codes(DONOR_TYPES)))
        if method not in DONATION_METHODS:
            raise InvalidInput("method", msg("choose from {choices}", choices=_codes(DONATION_METHODS)))
        if method == "in_kind" and not (in_kind_description or "").strip():
            raise InvalidInput("in_kind_description", msg("an in-kind gift needs a description"))
        if donor_public and not donor_name:
            raise InvalidInput("donor_public", msg("a donor who consents to be named needs a name"))
        postings = acc.balanced(
            [
                acc.posting(self.account, amount),
                acc.posting(acc.donation_income(self.restricted, donor_type), -amount),
            ]
        )
        self._donation_received(
            entry=entry,
            amount=amount,
            method=method,
            donor_type=donor_type,
            donor_name=donor_name,
            donor_public=donor_public,
            in_kind_description=in_kind_description if method == "in_kind" else None,
            received_on=received_on.isoformat(),
            street_town=street_town,
            note=note,
            postings=postings,
            imported=imported,
        )

    def receive_grant(
        self, *, entry: str, amount: int, source: str, payer: str, document_ref: str | None,
        received_on: date, street_town: str,
    ) -> None:
        self.check_open()
        if source not in GRANT_SOURCES:
            raise InvalidInput("source", msg("choose from {choices}", choices=_codes(GRANT_SOURCES)))
        if not payer.strip():
            raise InvalidInput("payer", msg("name the paying body"))
        postings = acc.balanced(
            [
                acc.posting(self.account, amount),
                acc.posting(acc.grant_income(self.restricted, source), -amount),
            ]
        )
        self._grant_received(
            entry=entry, amount=amount, source=source, payer=payer.strip(), document_ref=document_ref,
            received_on=received_on.isoformat(), street_town=street_town, postings=postings,
        )

    def allocate_out(self, *, entry: str, amount: int, to_fund: Fund, reason: str, on: date) -> None:
        """Move money to another fund. A restricted fund's money leaves only by spending or release."""
        self.check_open()
        to_fund.check_open()
        if self.restricted:
            raise FundRestricted(msg("restricted fund {fund} cannot allocate to other funds; release the restriction first",
                                     fund=self.code), field="from_fund")
        self.check_covers(amount)
        out_legs = [acc.posting(self.account, -amount), acc.posting(acc.INTERFUND, amount)]
        in_legs = [acc.posting(to_fund.account, amount), acc.posting(acc.INTERFUND, -amount)]
        if to_fund.restricted:
            # Unrestricted money placed in a restricted fund becomes restricted net assets.
            in_legs += acc.negated(acc.release_legs(amount))
        self._allocated_out(
            entry=entry, amount=amount, to_fund=to_fund.code, reason=reason, on=on.isoformat(),
            postings=acc.balanced(out_legs),
        )
        to_fund._allocated_in(
            entry=entry, amount=amount, from_fund=self.code, reason=reason, on=on.isoformat(),
            postings=acc.balanced(in_legs),
        )

    def release_restriction(self, *, entry: str, amount: int, to_fund: Fund, basis: str, on: date) -> None:
        """Release (解除限定) part of a restricted fund into an unrestricted fund, with its basis."""
        self.check_open()
        to_fund.check_open()
        if not self.restricted:
            raise InvalidInput("fund", msg("fund {fund} is not restricted", fund=self.code))
        if to_fund.restricted:
            raise InvalidInput("to_fund", msg("fund {fund} is restricted", fund=to_fund.code))
        if not basis.strip():
            raise InvalidInput("basis", msg("state the agreement or rule that lifts the restriction"))
        self.check_covers(amount)
        out_legs = [acc.posting(self.account, -amount), acc.posting(acc.INTERFUND, amount), *acc.release_legs(amount)]
        in_legs = [acc.posting(to_fund.account, amount), acc.posting(acc.INTERFUND, -amount)]
        self._restriction_released(
            entry=entry, amount=amount, to_fund=to_fund.code, basis=basis.strip(), on=on.isoformat(),
            postings=acc.balanced(out_legs),
        )
        to_fund._allocated_in(
            entry=entry, amount=amount, from_fund=self.code, reason=basis.strip(), on=on.isoformat(),
            postings=acc.balanced(in_legs),
        )

    def pay(
        self, *, entry: str, amount: int, kind: str, target: str, payee: str, domain: str | None,
        street_town: str | None, on: date,
    ) -> None:
        """Pay an approved disbursement out of this fund."""
        self.check_open()
        if kind in ("management", "fundraising"):
            self.check_unrestricted_spend(kind)
        else:
            self.check_use(domain=domain, street_town=street_town, on=on)
        self.check_covers(amount)
        legs = [acc.posting(self.account, -amount), acc.posting(acc.expense_account(kind, target), amount)]
        if self.restricted:
            legs += acc.release_legs(amount)
        self._paid(
            entry=entry, amount=amount, kind=kind, target=target, payee=payee, domain=domain,
            street_town=street_town, paid_on=on.isoformat(), postings=acc.balanced(legs),
        )

    def reverse(self, *, entry: str, reverses: dict, original_postings: list, reason: str) -> None:
        """Append the reversal (冲正) of one of this fund's money events."""
        self.check_open()  # money reversed into a closed fund could never leave it again
        if entry in self.reversed_entries:
            raise AlreadyReversed(msg("entry {entry} of fund {fund} was already reversed", entry=entry, fund=self.code))
        postings = acc.balanced(acc.negated(original_postings))
        effect = acc.effect_on(self.account, postings)
        if effect < 0:
            self.check_covers(-effect)
        self._reversed(entry=entry, reverses=reverses, reason=reason, postings=postings)

    def close(self, reason: str) -> None:
        self.check_open()
        if self.balance:
            raise InvalidInput("fund", msg("fund {fund} still holds {balance}; release or allocate it first",
                                           fund=self.code, balance=format_cny(self.balance)))
        self._closed(reason=reason)

    # --- state changes ---------------------------------------------------------------------------

    def _post(self, postings: list) -> None:
        self.balance += acc.effect_on(self.account, postings)

    @event("DonationReceived")
    def _donation_received(
        self, entry: str, amount: int, method: str, donor_type: str, donor_name: str | None,
        donor_public: bool, in_kind_description: str | None, received_on: str, street_town: str,
        note: str | None, postings: list, imported: dict | None = None,
    ) -> None:
        self._post(postings)

    @event("GrantReceived")
    def _grant_received(
        self, entry: str, amount: int, source: str, payer: str, document_ref: str | None,
        received_on: str, street_town: str, postings: list,
    ) -> None:
        self._post(postings)

    @event("AllocatedOut")
    def _allocated_out(self, entry: str, amount: int, to_fund: str, reason: str, on: str, postings: list) -> None:
        self._post(postings)

    @event("AllocatedIn")
    def _allocated_in(self, entry: str, amount: int, from_fund: str, reason: str, on: str, postings: list) -> None:
        self._post(postings)

    @event("RestrictionReleased")
    def _restriction_released(
        self, entry: str, amount: int, to_fund: str, basis: str, on: str, postings: list
    ) -> None:
        self._post(postings)

    @event("Paid")
    def _paid(
        self, entry: str, amount: int, kind: str, target: str, payee: str, domain: str | None,
        street_town: str | None, paid_on: str, postings: list,
    ) -> None:
        self._post(postings)

    @event("Reversed")
    def _reversed(self, entry: str, reverses: dict, reason: str, postings: list) -> None:
        self._post(postings)
        self.reversed_entries.add(entry)

    @event("Closed")
    def _closed(self, reason: str) -> None:
        self.closed = True
