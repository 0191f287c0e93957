"""Funds and money (基金与资金): opening and closing funds, donations (also group-committed), grants,
allocations and releases of restriction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.application import project_aggregate

from ledger.commands.base import _DIRECTORY_FRESH, Actor, LedgerBase, Recorded
from ledger.commands.checks import check_amount, check_code, check_imported, clean, require_text
from ledger.errors import InvalidInput, LedgerError
from ledger.funds import FUND_KINDS, Fund, fund_id
from ledger.intransaction import also_in_transaction, saving
from ledger.mapper import signing_as
from ledger.messages import codes as _codes
from ledger.messages import msg
from ledger.principals import ACCOUNTANT
from ledger.signing import SigningKey

MAX_BATCH_FUNDS = 1000
"""Funds whose state the group committer keeps between batches (``record_donations``)."""



@dataclass(frozen=True)
class Donation:
    """One donation of a group commit (``Ledger.record_donations``); fields as ``record_donation``."""

    actor: Actor
    fund: str
    amount: int
    donor_type: str
    method: str = "transfer"
    donor_name: str | None = None
    donor_public: bool = False
    in_kind_description: str | None = None
    received_on: date | None = None
    street_town: str | None = None
    note: str | None = None
    imported: dict | None = None
    in_kind_basis: str | None = None
    quantity: int | None = None
    unit: str | None = None


AGREEMENT_TEXTS = ("use", "termination", "leftover")
"""What a special fund's agreement must state besides its purpose (《上海市基金会专项基金管理办法》
第五条): how the money is used, when the fund ends, and what happens to its leftover property."""


def check_agreement(agreement: dict | None, purpose: str) -> dict | None:
    """A special fund's agreement, cleaned: ``ref``, ``use``, ``termination``, ``leftover``, an
    optional ``leftover_fund`` and the agreed management-fee rate ``fee_rate_bp`` (basis points)."""
    if agreement is None:
        return None
    if not isinstance(agreement, dict):
        raise InvalidInput("agreement", "the agreement is an object of its parts", "协议须按各项分别填写")
    for name in ("ref", *AGREEMENT_TEXTS):
        require_text(agreement.get(name) or "", f"agreement.{name}")
    rate = agreement.get("fee_rate_bp", 0)
    if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= 10_000:
        raise InvalidInput("agreement.fee_rate_bp", "the agreed management-fee rate is basis points, 0 to 10000",
                           "协议管理费率以万分之一计，须在0到10000之间")
    leftover_fund = clean(agreement.get("leftover_fund"), "agreement.leftover_fund")
    if leftover_fund is not None:
        check_code(leftover_fund, "agreement.leftover_fund")
    return {"ref": agreement["ref"].strip(), "purpose": purpose, **{k: agreement[k].strip() for k in AGREEMENT_TEXTS},
            "leftover_fund": leftover_fund, "fee_rate_bp": rate}


class FundCommands(LedgerBase):
    """Money in and between funds; every command checks the fund's rules before saving."""

    def open_fund(
        self, actor: Actor, code: str, name: str, foundation: str, *, kind: str = "general",
        restricted: bool = False, purpose: str = "", street_town: str | None = None,
        domains: list[str] | None = None, street_towns: list[str] | None = None,
        valid_from: date | None = None, valid_until: date | None = None, agreement_ref: str | None = None,
        agreement: dict | None = None,
    ) -> Recorded:
        """Open a fund; a special fund (专项基金) only with its agreement (``check_agreement``), which
        sets the management fee it may pay and what happens when it ends. Special funds opened
        before agreements were required (``agreement_ref`` only) keep replaying as they were."""
        self.authorise(actor, ACCOUNTANT, foundation=foundation)
        check_code(code, "code")
        require_text(name, "name")
        self._require_kind(foundation, ("foundation", "community_foundation"), "foundation")
        if kind not in FUND_KINDS:
            raise InvalidInput("kind", msg("choose from {choices}", choices=_codes(FUND_KINDS)))
        if kind == "special":
            if not restricted:
                raise InvalidInput("restricted", msg("a special fund is always restricted to its purpose"))
            if not purpose.strip():
                raise InvalidInput("purpose", msg("a special fund needs a written purpose"))
        if restricted and not purpose.strip():
            raise InvalidInput("purpose", msg("a restricted fund needs a written purpose"))
        if agreement is not None and kind != "special":
            raise InvalidInput("agreement", "only a special fund has a special-fund agreement", "只有专项基金才有专项基金协议")
        if kind == "special" and agreement is None:
            raise InvalidInput("agreement", "a special fund is opened with its agreement: reference, use, termination "
                               "conditions, leftover handling and the agreed management-fee rate",
                               "开设专项基金须载明其协议：协议编号、使用方式、终止条件、剩余财产处理及约定的管理费率")
        agreed = check_agreement(agreement, purpose.strip())
        ref = clean(agreement_ref, "agreement_ref")
        if agreed and ref is not None and ref != agreed["ref"]:
            raise InvalidInput("agreement_ref", f"differs from the agreement's reference {agreed['ref']}",
                               f"与协议编号 {agreed['ref']} 不一致")
        if street_town is not None:
            self.reference.street_town(street_town)
        for code_ in street_towns or []:
            self.reference.street_town(code_, field="street_towns")
        for code_ in domains or []:
            self.reference.domain(code_, field="domains")
        if valid_from and valid_until and valid_until < valid_from:
            raise InvalidInput("valid_until", msg("ends before it starts"))
        fund = Fund(
            code=code, name=name.strip(), foundation=foundation, kind=kind, restricted=restricted,
            purpose=purpose.strip(), street_town=street_town, domains=sorted(set(domains or [])),
            street_towns=sorted(set(street_towns or [])),
            valid_from=valid_from.isoformat() if valid_from else None,
            valid_until=valid_until.isoformat() if valid_until else None,
            agreement_ref=agreed["ref"] if agreed else ref,
            **({"agreement": agreed} if agreed else {}),
        )
        return self._create(actor, code, fund, "fund", "code")

    def close_fund(self, actor: Actor, code: str, reason: str) -> Recorded:
        def body() -> Recorded:
            fund = self.fund(code)
            self.authorise(actor, ACCOUNTANT, foundation=fund.foundation)
            require_text(reason, "reason")
            fund.close(reason.strip())
            return self._save(actor, code, fund)

        return self._command(body)

    def record_donation(
        self, actor: Actor, fund: str, amount: int, *, donor_type: str, method: str = "transfer",
        donor_name: str | None = None, donor_public: bool = False, in_kind_description: str | None = None,
        received_on: date | None = None, street_town: str | None = None, note: str | None = None,
        imported: dict | None = None,
        in_kind_basis: str | None = None, quantity: int | None = None, unit: str | None = None,
    ) -> Recorded:
        """A donation (捐赠) into a fund; it carries the fund's restriction. A gift in kind is held as
        goods (存货) at its stated value with the basis of that value, quantity and unit. Returns the entry id.
        ``imported``: the row of an uploaded list it came from (``ledger.commands.imports``)."""
        check_amount(amount)
        check_imported(imported)
        entry = self.new_id()

        donation = Donation(actor, fund, amount, donor_type, method, donor_name, donor_public, in_kind_description,
                            received_on, street_town, note, imported, in_kind_basis, quantity, unit)

        def body() -> Recorded:
            target = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            self._receive(target, entry, donation)
            return self._save(actor, entry, target)

        return self._command(body)

    def _receive(self, target: Fund, entry: str, d: Donation) -> None:
        target.receive_donation(
            entry=entry, amount=d.amount, method=d.method, donor_type=d.donor_type, donor_name=clean(d.donor_name, "donor_name"),
            donor_public=d.donor_public, in_kind_description=clean(d.in_kind_description, "in_kind_description"),
            received_on=self._business_date(d.received_on, "received_on"),
            street_town=self._street_town_for(target, d.street_town), note=clean(d.note, "note"), imported=d.imported,
            in_kind_basis=d.in_kind_basis, quantity=d.quantity, unit=clean(d.unit, "unit"),
        )

    def record_donations(
        self, donations: list[Donation], alongside: Callable[[Any, list[Recorded | LedgerError]], None] | None = None
    ) -> list[Recorded | LedgerError]:
        """Group commit: many donations saved in one transaction, each event signed by the key of
        the principal who recorded it. A refused donation is answered with its error and the
        others go ahead; the answers are in the order given. Any failure of the save itself
        (another writer got to a fund first) raises, and nothing of the batch is written.

        ``alongside(cursor, answers)`` runs inside that transaction with each answer's id and
        stream (positions are not known yet), to write rows that must commit with the events.

        One committer calls this at a time. It keeps the funds it saved for the next batch and
        brings them up to date with one read for the whole batch (the events any process stored
        since, each verified as on every load); a fund written by another process between that
        read and the save makes the save fail on the stream's version, as any load-check-save would."""
        codes = {d.fund for d in donations}
        with self._batch_lock:
            self._fresh_directory()
            fresh = _DIRECTORY_FRESH.set(True)
            try:
                funds = self._batch_load(codes)
                answers = self._record_batch(donations, funds, alongside)
            except BaseException:
                for code in codes:  # perhaps changed in memory but not saved: load them again next time
                    self._batch_funds.pop(code, None)
                raise
            finally:
                _DIRECTORY_FRESH.reset(fresh)
            if len(self._batch_funds) + len(funds) > MAX_BATCH_FUNDS:
                self._batch_funds.clear()
            self._batch_funds.update((code, fund) for code, fund in funds.items() if isinstance(fund, Fund))
            return answers

    def _batch_load(self, codes: set[str]) -> dict[str, Fund | LedgerError]:
        """Each fund as stored now: those kept from earlier batches fast-forwarded in one read,
        the others loaded; a fund that cannot be loaded is its error."""
        kept = {code: self._batch_funds[code] for code in codes if code in self._batch_funds}
        funds: dict[str, Fund | LedgerError] = {}
        newer: dict[str, list[Any]] = {}
        for stored in self.tables.events_after({fund_id(code): fund.version for code, fund in kept.items()}):
            newer.setdefault(str(stored.originator_id), []).append(self.mapper.to_domain_event(stored))
        for code, fund in kept.items():
            funds[code] = project_aggregate(fund, newer.get(fund_id(code), []))
        for code in codes - kept.keys():
            try:
                funds[code] = self.fund(code)
            except LedgerError as exc:
                funds[code] = exc
        return funds

    def _record_batch(
        self, donations: list[Donation], funds: dict[str, Fund | LedgerError],
        alongside: Callable[[Any, list[Recorded | LedgerError]], None] | None,
    ) -> list[Recorded | LedgerError]:
        answers: list[Recorded | LedgerError | None] = [None] * len(donations)
        signer: dict[int, SigningKey] = {}
        made: list[tuple[int, str, Any]] = []
        authorised: set[tuple[str, str]] = set()
        touched: dict[str, Fund] = {}
        for i, d in enumerate(donations):
            target = funds[d.fund]
            try:
                check_amount(d.amount)
                if isinstance(target, LedgerError):
                    raise target
                if (d.actor.key.key_id, target.foundation) not in authorised:
                    self.authorise(d.actor, ACCOUNTANT, foundation=target.foundation)
                    authorised.add((d.actor.key.key_id, target.foundation))
                entry = self.new_id()
                self._receive(target, entry, d)
            except LedgerError as exc:
                answers[i] = exc
                continue
            touched[d.fund] = target
            event = target.pending_events[-1]
            signer[id(event)] = d.actor.key
            made.append((i, entry, event))
        bulk = self._bulk()
        if made and bulk is not None:
            if alongside is not None:
                raise RuntimeError("record_donations(alongside=...) writes rows with its events: not inside bulk()")
            bulk.defer("group", funds.values(), lambda event: signer[id(event)])
            for i, entry, event in made:
                answers[i] = Recorded(ident=entry, positions=(),
                                      streams=((str(event.originator_id), event.originator_version),))
        elif made:
            planned = list(answers)
            for i, entry, event in made:
                planned[i] = Recorded(ident=entry, positions=(),
                                      streams=((str(event.originator_id), event.originator_version),))
            writer = (lambda cursor, ident, streams: alongside(cursor, planned)) if alongside else None
            with signing_as(lambda event: signer[id(event)]), saving("group"), also_in_transaction(writer):
                recordings = self.save(*touched.values())
            position = {id(r.domain_event): r.notification.id for r in recordings}
            for i, entry, event in made:
                answers[i] = Recorded(ident=entry, positions=(position[id(event)],),
                                      streams=((str(event.originator_id), event.originator_version),))
        return answers  # type: ignore[return-value]

    def record_grant(
        self, actor: Actor, fund: str, amount: int, *, source: str, payer: str,
        document_ref: str | None = None, received_on: date | None = None, street_town: str | None = None,
    ) -> Recorded:
        """Income other than donations: government purchase, venture philanthropy, welfare lottery…"""
        check_amount(amount)
        entry = self.new_id()

        def body() -> Recorded:
            target = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            target.receive_grant(
                entry=entry, amount=amount, source=source, payer=payer, document_ref=clean(document_ref, "document_ref"),
                received_on=self._business_date(received_on, "received_on"),
                street_town=self._street_town_for(target, street_town),
            )
            return self._save(actor, entry, target)

        return self._command(body)

    def allocate(
        self, actor: Actor, from_fund: str, to_fund: str, amount: int, *, reason: str, on: date | None = None
    ) -> Recorded:
        """Move unrestricted money from one fund to another (调拨)."""
        check_amount(amount)
        require_text(reason, "reason")
        entry = self.new_id()

        def body() -> Recorded:
            source, target = self._two_funds(from_fund, to_fund)
            self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            source.allocate_out(
                entry=entry, amount=amount, to_fund=target, reason=reason.strip(), on=self._business_date(on, "on")
            )
            return self._save(actor, entry, source, target)

        return self._command(body)

    def release_restriction(
        self, actor: Actor, fund: str, to_fund: str, amount: int, *, basis: str, on: date | None = None
    ) -> Recorded:
        """Release a restriction (解除限定): restricted money becomes unrestricted, with its basis."""
        check_amount(amount)
        entry = self.new_id()

        def body() -> Recorded:
            source, target = self._two_funds(fund, to_fund)
            self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            source.release_restriction(
                entry=entry, amount=amount, to_fund=target, basis=basis, on=self._business_date(on, "on")
            )
            return self._save(actor, entry, source, target)

        return self._command(body)

    def _two_funds(self, first: str, second: str) -> tuple[Fund, Fund]:
        if first == second:
            raise InvalidInput("to_fund", msg("the source and the target are the same fund"))
        return self.fund(first, "from_fund"), self.fund(second, "to_fund")

    def _street_town_for(self, fund: Fund, street_town: str | None) -> str:
        town = street_town or fund.street_town
        if town is None:
            raise InvalidInput("street_town", msg("fund {fund} serves the whole district: name the street-town",
                                                  fund=fund.code))
        self.reference.street_town(town)
        return town

