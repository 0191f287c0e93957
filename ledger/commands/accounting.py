"""Accounting (会计): goods given in kind handed out, other income, service contracts earned by
milestone, the end of a special fund, a foundation's charity standing and its publications."""

from __future__ import annotations

from datetime import date

from ledger.commands.base import Actor, LedgerBase, Recorded
from ledger.commands.checks import check_amount, check_code, clean, require_text
from ledger.disclosures import add_months
from ledger.errors import InvalidInput
from ledger.principals import ACCOUNTANT, ROOT


class AccountingCommands(LedgerBase):
    """What a foundation's accountant records beyond donations, grants and disbursements."""

    def distribute_goods(
        self, actor: Actor, fund: str, amount: int, *, description: str, quantity: int, target: str,
        domain: str | None = None, street_town: str | None = None, on: date | None = None,
    ) -> Recorded:
        """Goods given in kind handed out or used (存货发放), at their stated value."""
        check_amount(amount)
        require_text(description, "description")
        check_code(target, "target")
        entry = self.new_id()

        def body() -> Recorded:
            source = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
            if domain is not None:
                self.reference.domain(domain)
            if street_town is not None:
                self.reference.street_town(street_town)
            source.distribute_goods(entry=entry, amount=amount, description=description.strip(), quantity=quantity,
                                    target=target, domain=domain, street_town=street_town,
                                    on=self._business_date(on, "on"))
            return self._save(actor, entry, source)

        return self._command(body)

    def record_other_income(
        self, actor: Actor, fund: str, amount: int, *, kind: str, payer: str, note: str | None = None,
        on: date | None = None,
    ) -> Recorded:
        """Bank interest (利息), investment income (投资收益) or other income (其他收入)."""
        check_amount(amount)
        require_text(payer, "payer")
        entry = self.new_id()

        def body() -> Recorded:
            target = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            target.receive_other_income(entry=entry, amount=amount, kind=kind, payer=payer.strip(), note=clean(note),
                                        on=self._business_date(on, "on"))
            return self._save(actor, entry, target)

        return self._command(body)

    def sign_contract(
        self, actor: Actor, fund: str, contract: str, *, buyer: str, milestones: list[tuple[str, int]],
        document_ref: str, on: date | None = None,
    ) -> Recorded:
        """A service contract (政府购买服务) in an unrestricted fund, with its milestones."""
        check_code(contract, "contract")
        require_text(buyer, "buyer")
        require_text(document_ref, "document_ref")
        planned = []
        for name, amount in milestones:
            require_text(name, "milestones")
            check_amount(amount, "milestones")
            planned.append({"name": name.strip(), "amount": amount})
        if not planned or len({m["name"] for m in planned}) != len(planned):
            raise InvalidInput("milestones", "at least one milestone, names unique", "须有里程碑，且名称不重复")

        def body() -> Recorded:
            target = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            target.sign_contract(contract=contract, buyer=buyer.strip(), amount=sum(m["amount"] for m in planned),
                                 milestones=planned, document_ref=document_ref.strip(),
                                 on=self._business_date(on, "on"))
            return self._save(actor, contract, target)

        return self._command(body)

    def receive_contract_payment(self, actor: Actor, fund: str, contract: str, amount: int, *,
                                 on: date | None = None) -> Recorded:
        check_amount(amount)
        entry = self.new_id()

        def body() -> Recorded:
            target = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            target.receive_contract_payment(entry=entry, contract=contract, amount=amount,
                                            on=self._business_date(on, "on"))
            return self._save(actor, entry, target)

        return self._command(body)

    def deliver_service(self, actor: Actor, fund: str, contract: str, milestone: str, *,
                        on: date | None = None) -> Recorded:
        """A contract's milestone delivered: its service income is earned (确认提供服务收入)."""
        entry = self.new_id()

        def body() -> Recorded:
            target = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            target.deliver_service(entry=entry, contract=contract, milestone=milestone,
                                   on=self._business_date(on, "on"))
            return self._save(actor, entry, target)

        return self._command(body)

    def terminate_special_fund(self, actor: Actor, fund: str, *, reason: str, to_fund: str | None = None,
                               on: date | None = None) -> Recorded:
        """End a special fund (专项基金终止): the leftover goes to the fund its agreement names, or to a
        restricted fund of the same foundation sharing a purpose domain; disclosure due in 3 months."""
        require_text(reason, "reason")
        entry = self.new_id()

        def body() -> Recorded:
            source = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
            source.check_terminable()
            agreed = (source.agreement or {}).get("leftover_fund")
            target_code = to_fund or agreed
            target = self.fund(target_code, "to_fund") if target_code else None
            if target is not None:
                if target.code == source.code:
                    raise InvalidInput("to_fund", "a fund cannot receive its own leftover", "不能转入本基金")
                if target.foundation != source.foundation:
                    raise InvalidInput("to_fund", "the leftover stays with the host foundation", "剩余财产须留在本基金会")
                if agreed and target.code != agreed:
                    raise InvalidInput("to_fund", f"the agreement names {agreed} for the leftover",
                                       f"协议约定剩余财产转入 {agreed}")
                if not agreed and not (target.restricted and set(target.domains) & set(source.domains)):
                    raise InvalidInput("to_fund", f"{target.code} does not share a purpose with {source.code}: the "
                                       "leftover goes to a same or similar purpose",
                                       f"{target.code} 与 {source.code} 用途不同，剩余财产须用于相同或相近目的")
            day = self._business_date(on, "on")
            source.terminate(entry=entry, to_fund=target, reason=reason.strip(), on=day,
                             disclose_by=add_months(day, 3).isoformat())
            return self._save(actor, entry, source, *([target] if target is not None else []))

        return self._command(body)

    def record_profile(self, actor: Actor, organisation: str, *, charity: bool, public_fundraising: bool,
                       org_type: str, since: date, document_ref: str) -> Recorded:
        """A foundation's standing as the civil-affairs bureau recorded it (慈善组织认定, 公开募捐资格证书)."""
        require_text(document_ref, "document_ref")

        def body() -> Recorded:
            org = self.organisation(organisation)
            self.authorise(actor, ROOT, ACCOUNTANT, foundation=organisation)
            org.record_profile(charity=bool(charity), public_fundraising=bool(public_fundraising), org_type=org_type,
                               since=since.isoformat(), document_ref=document_ref.strip())
            return self._save(actor, organisation, org)

        return self._command(body)

    def record_publication(self, actor: Actor, organisation: str, *, item: str, subject: str, title: str,
                           where: str, published_on: date | None = None) -> Recorded:
        """A publication (信息公开) of the foundation: the disclosure calendar counts it."""
        require_text(subject, "subject")
        require_text(title, "title")
        require_text(where, "where")

        def body() -> Recorded:
            org = self.organisation(organisation)
            self.authorise(actor, ACCOUNTANT, foundation=organisation)
            org.publish(item=item, subject=subject.strip(), title=title.strip(), where=where.strip(),
                        published_on=self._business_date(published_on, "published_on").isoformat())
            return self._save(actor, organisation, org)

        return self._command(body)
