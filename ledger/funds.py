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

IN_KIND_BASES = ("receipt", "market", "appraisal")
"""How an in-kind gift's stated value was found, in the order of the fair-value rule of
《〈民间非营利组织会计制度〉若干问题的解释》: the donor's receipt or agreement (发票、协议等凭据),
else the market price of the same or similar goods (同类或类似资产的市场价格), else an appraisal (评估)."""

OTHER_INCOME_KINDS = ("interest", "investment", "other")
"""Bank interest (银行存款利息), investment income (投资收益) and other income (其他收入)."""

SUBLEDGER_INCOME = {"interest": "Interest", "investment": "Investment", "other": "Other"}


def fund_id(code: str) -> str:
    return f"fund:{code}"


_OVERHEAD_TERMS = {"management": term("management"), "fundraising": term("fundraising"),
                   "other": term("other costs"), "shared": term("shared costs")}
"""The costs a restricted fund never pays, as a refusal names them."""


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
        agreement: dict | None = None,
    ) -> None:
        self.code = code
        self._agreement = agreement
        """A special fund's agreement (专项基金协议): purpose, use, termination conditions, leftover
        handling, the agreed management-fee rate in basis points (``fee_rate_bp``)."""
        self._kinds: dict[str, tuple[str, int]] = {}
        """Entry → (income or fee, amount), so a reversal takes back what it reverses."""
        self.terminated: dict | None = None
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
        """Money (货币资金) the fund holds; goods in kind are not money and are kept apart."""
        self.goods = 0
        """The stated value of goods in kind (存货) the fund holds."""
        self.restricted_part = 0
        """Of the fund's net assets, the restricted (限定性) part: all of a restricted fund's money
        but what the foundation's board placed in it from unrestricted money (a designation)."""
        self.income = 0
        """Donations and grants received, net of their reversals (the base of an agreed fee)."""
        self.fees = 0
        """Management fees taken from the fund, net of their reversals."""
        self.contracts: dict[str, dict] = {}
        self.closed = False
        self.reversed_entries: set[str] = set()

    @property
    def account(self) -> str:
        return acc.fund_account(self.code)

    @property
    def goods_account(self) -> str:
        return acc.goods_account(self.code)

    def _release(self, amount: int) -> list:
        """The release legs for spending ``amount``: restricted money is spent first, so only the
        part of it the fund still holds is released (a designation was never restricted)."""
        released = min(amount, self.restricted_part) if self.restricted else 0
        return acc.release_legs(released) if released else []

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

    def check_overhead(self, kind: str, amount: int) -> None:
        """Overheads come from unrestricted money; a special fund pays only the management fee its
        agreement sets (《上海市基金会专项基金管理办法》), up to that rate of what it received."""
        agreement = self.agreement
        if kind == "management" and self.kind == "special" and agreement and agreement.get("fee_rate_bp"):
            cap = self.income * agreement["fee_rate_bp"] // 10_000
            if self.fees + amount > cap:
                raise FundRestricted(
                    f"fund {self.code}'s agreement allows a management fee of {agreement['fee_rate_bp'] / 100}% of "
                    f"its income ({format_cny(cap)}); {format_cny(self.fees)} is taken, {format_cny(amount)} more "
                    "would exceed it",
                    f"专项基金 {self.code} 协议约定的管理费为收入的 {agreement['fee_rate_bp'] / 100}%（{format_cny(cap)}），"
                    f"已提取 {format_cny(self.fees)}，再提取 {format_cny(amount)} 将超出", field="amount")
            return
        self.check_unrestricted_spend(kind)

    @property
    def agreement(self) -> dict | None:
        return getattr(self, "_agreement", None)

    def check_unrestricted_spend(self, kind: str) -> None:
        if self.restricted:
            raise FundRestricted(msg("{kind} costs may not be taken from restricted fund {fund}",
                                     kind=_OVERHEAD_TERMS.get(kind, term("management")),
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
        in_kind_basis: str | None = None,
        quantity: int | None = None,
        unit: str | None = None,
    ) -> None:
        """``imported`` names the row of an uploaded list it came from ({"source", "reference"})."""
        self.check_open()
        if donor_type not in DONOR_TYPES:
            raise InvalidInput("donor_type", msg("choose from {choices}", choices=_codes(DONOR_TYPES)))
        if method not in DONATION_METHODS:
            raise InvalidInput("method", msg("choose from {choices}", choices=_codes(DONATION_METHODS)))
        if method == "in_kind" and not (in_kind_description or "").strip():
            raise InvalidInput("in_kind_description", msg("an in-kind gift needs a description"))
        if method == "in_kind":
            if in_kind_basis not in IN_KIND_BASES:
                raise InvalidInput("in_kind_basis", f"state how the value was found: {', '.join(IN_KIND_BASES)}",
                                   "实物捐赠须说明入账价值的依据（凭据、市场价格或评估）")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0 or not (unit or "").strip():
                raise InvalidInput("quantity", "an in-kind gift states its quantity and unit", "实物捐赠须写明数量和单位")
        elif in_kind_basis is not None or quantity is not None:
            raise InvalidInput("in_kind_basis", "only a gift in kind has a valuation basis and a quantity",
                               "只有实物捐赠才填写估值依据和数量")
        if donor_public and not donor_name:
            raise InvalidInput("donor_public", msg("a donor who consents to be named needs a name"))
        # goods in kind are held as inventory (存货), not money: they can never pay a cash payment
        held = self.goods_account if method == "in_kind" else self.account
        postings = acc.balanced(
            [
                acc.posting(held, amount),
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
            **({"in_kind_basis": in_kind_basis, "quantity": quantity, "unit": unit.strip()}
               if method == "in_kind" else {}),
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
        if to_fund.foundation != self.foundation:
            raise InvalidInput(
                "to_fund", f"{self.foundation} and {to_fund.foundation} are two legal persons: money between them is "
                "a grant (a 'grant' disbursement of the giver, a donation to the receiver), not an allocation",
                f"{self.foundation} 与 {to_fund.foundation} 是两个法人，相互之间的资金往来是资助（捐出方拨付、"
                "接受方记捐赠收入），不是内部调拨",
            )
        self.check_covers(amount)
        # A designation by the foundation's own board does not make money restricted (限定性 only
        # by a resource provider or by law): into a restricted fund it stays unrestricted net assets.
        out_legs = [acc.posting(self.account, -amount), acc.posting(acc.INTERFUND, amount)]
        in_legs = [acc.posting(to_fund.account, amount), acc.posting(acc.INTERFUND, -amount)]
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
        if amount > self.restricted_part:
            raise InvalidInput("amount", f"fund {self.code} holds {format_cny(self.restricted_part)} of restricted money",
                               f"基金 {self.code} 的限定性资金仅 {format_cny(self.restricted_part)}")
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
        street_town: str | None, on: date, shares: dict | None = None,
    ) -> None:
        """Pay an approved disbursement out of this fund."""
        self.check_open()
        if kind in acc.OVERHEAD_KINDS:
            self.check_overhead(kind, amount)
        else:
            self.check_use(domain=domain, street_town=street_town, on=on)
        self.check_covers(amount)
        legs = [acc.posting(self.account, -amount)]
        legs += [acc.posting(account, part) for account, part in acc.expense_legs(kind, target, amount, shares)]
        legs += self._release(amount)
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


    # --- goods in kind, other income, service contracts, termination (v2) ----------------------

    def distribute_goods(
        self, *, entry: str, amount: int, description: str, quantity: int, target: str, domain: str | None,
        street_town: str | None, on: date,
    ) -> None:
        """Hand out or use goods given in kind (存货发放): their stated value becomes a programme cost."""
        self.check_open()
        self.check_use(domain=domain, street_town=street_town, on=on)
        if amount > self.goods:
            raise InsufficientFunds(f"fund {self.code} holds goods worth {format_cny(self.goods)}, not "
                                    f"{format_cny(amount)}", f"基金 {self.code} 的存货价值仅 {format_cny(self.goods)}",
                                    field="amount")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidInput("quantity", "a positive whole number", "数量须为正整数")
        legs = [acc.posting(self.goods_account, -amount), acc.posting(f"Expenses:Goods:{target}", amount)]
        legs += self._release(amount)
        self._goods_distributed(entry=entry, amount=amount, description=description, quantity=quantity,
                                target=target, domain=domain, street_town=street_town, on=on.isoformat(),
                                postings=acc.balanced(legs))

    def receive_other_income(self, *, entry: str, amount: int, kind: str, payer: str, note: str | None,
                             on: date) -> None:
        """Bank interest, investment income or other income (利息、投资收益、其他收入) into this fund."""
        self.check_open()
        if kind not in OTHER_INCOME_KINDS:
            raise InvalidInput("kind", f"choose from {', '.join(OTHER_INCOME_KINDS)}")
        postings = acc.balanced([acc.posting(self.account, amount),
                                 acc.posting(acc.other_income(self.restricted, kind), -amount)])
        self._other_income_received(entry=entry, amount=amount, kind=kind, payer=payer, note=note, on=on.isoformat(),
                                    postings=postings)

    def sign_contract(self, *, contract: str, buyer: str, amount: int, milestones: list, document_ref: str,
                      on: date) -> None:
        """A service contract (政府购买服务合同): service income (提供服务收入) is earned milestone by
        milestone; money received ahead of the service is an advance receipt (预收账款)."""
        self.check_open()
        if self.restricted:
            raise InvalidInput("fund", f"fund {self.code} is restricted: a service contract is an exchange, its income "
                               "unrestricted; record it in an unrestricted fund",
                               f"基金 {self.code} 为限定性基金；购买服务属交换交易，其收入为非限定性，应在非限定性基金中核算")
        if contract in self.contracts:
            raise InvalidInput("contract", f"fund {self.code} already has contract {contract}", f"合同 {contract} 已登记")
        if sum(m["amount"] for m in milestones) != amount:
            raise InvalidInput("milestones", "the milestones add up to the contract's amount", "各里程碑金额之和须等于合同金额")
        self._contract_signed(contract=contract, buyer=buyer, amount=amount, milestones=milestones,
                              document_ref=document_ref, on=on.isoformat())

    def _contract(self, contract: str) -> dict:
        try:
            return self.contracts[contract]
        except KeyError:
            raise InvalidInput("contract", f"fund {self.code} has no contract {contract}",
                               f"基金 {self.code} 没有合同 {contract}") from None

    def receive_contract_payment(self, *, entry: str, contract: str, amount: int, on: date) -> None:
        """Money from the buyer: it settles what was earned and not yet paid (应收账款) first, the rest
        is held as an advance receipt (预收账款) until the service is delivered."""
        self.check_open()
        c = self._contract(contract)
        if c["received"] + amount > c["amount"]:
            raise InvalidInput("amount", f"contract {contract} is for {format_cny(c['amount'])}; "
                               f"{format_cny(c['received'])} is received already",
                               f"合同 {contract} 金额 {format_cny(c['amount'])}，已收 {format_cny(c['received'])}")
        owed = max(0, c["earned"] - c["received"])
        settles = min(owed, amount)
        legs = [acc.posting(self.account, amount)]
        if settles:
            legs.append(acc.posting(acc.receivable_account(self.code, contract), -settles))
        if amount - settles:
            legs.append(acc.posting(acc.advance_account(self.code, contract), -(amount - settles)))
        self._contract_payment_received(entry=entry, contract=contract, amount=amount, on=on.isoformat(),
                                        postings=acc.balanced(legs))

    def deliver_service(self, *, entry: str, contract: str, milestone: str, on: date) -> None:
        """A milestone of a contract delivered: its amount is earned (提供服务收入) out of the advance
        receipt, and what the advance does not cover is owed by the buyer (应收账款)."""
        self.check_open()
        c = self._contract(contract)
        planned = {m["name"]: m["amount"] for m in c["milestones"]}
        if milestone not in planned:
            raise InvalidInput("milestone", f"contract {contract} has milestones {', '.join(planned)}",
                               f"合同里程碑为 {', '.join(planned)}")
        if milestone in c["delivered"]:
            raise InvalidInput("milestone", f"milestone {milestone} of {contract} is delivered already",
                               f"里程碑 {milestone} 已交付")
        amount = planned[milestone]
        advance = max(0, c["received"] - c["earned"])
        from_advance = min(advance, amount)
        legs = []
        if from_advance:
            legs.append(acc.posting(acc.advance_account(self.code, contract), from_advance))
        if amount - from_advance:
            legs.append(acc.posting(acc.receivable_account(self.code, contract), amount - from_advance))
        legs.append(acc.posting(acc.service_income(contract), -amount))
        self._service_delivered(entry=entry, contract=contract, milestone=milestone, amount=amount, on=on.isoformat(),
                                postings=acc.balanced(legs))

    def check_terminable(self) -> None:
        self.check_open()
        if self.kind != "special":
            raise InvalidInput("fund", f"fund {self.code} is not a special fund", f"基金 {self.code} 不是专项基金")
        if self.goods:
            raise InvalidInput("fund", f"fund {self.code} still holds goods worth {format_cny(self.goods)}",
                               f"基金 {self.code} 尚有存货 {format_cny(self.goods)}，须先处理")
        if self.terminated is not None:
            raise InvalidInput("fund", f"special fund {self.code} is terminated already", f"专项基金 {self.code} 已终止")

    def terminate(self, *, entry: str, to_fund: Fund | None, reason: str, on: date, disclose_by: str) -> None:
        """End a special fund (专项基金终止): its leftover money goes to a fund of the same or a
        similar purpose, as the agreement says, in the same transaction; the disclosure of that
        handling is due within three months (``disclose_by``)."""
        self.check_terminable()
        leftover = self.balance
        if leftover and to_fund is None:
            raise InvalidInput("to_fund", f"fund {self.code} holds {format_cny(leftover)}: name the fund of the same or "
                               "a similar purpose it goes to", f"基金 {self.code} 尚有 {format_cny(leftover)}，须指明相同或相近用途的接收基金")
        restricted_part = min(leftover, self.restricted_part)
        designated = leftover - restricted_part

        def legs(sign: int) -> list:
            out = [acc.posting(acc.RESTRICTED_INTERFUND, sign * restricted_part)] if restricted_part else []
            return out + ([acc.posting(acc.INTERFUND, sign * designated)] if designated else [])

        self._terminated(entry=entry, amount=leftover, to_fund=to_fund.code if to_fund else None, reason=reason,
                         on=on.isoformat(), disclose_by=disclose_by,
                         postings=acc.balanced([acc.posting(self.account, -leftover), *legs(1)]) if leftover else [])
        if leftover and to_fund is not None:
            # restricted money stays restricted in a fund of the same purpose: no release
            in_legs = [acc.posting(to_fund.account, leftover), *legs(-1)]
            if restricted_part and not to_fund.restricted:
                in_legs += acc.release_legs(restricted_part)
            to_fund._allocated_in(entry=entry, amount=leftover, from_fund=self.code, reason=reason, on=on.isoformat(),
                                  postings=acc.balanced(in_legs))
        self._closed(reason=reason)

    @event("GoodsDistributed")
    def _goods_distributed(self, entry: str, amount: int, description: str, quantity: int, target: str,
                           domain: str | None, street_town: str | None, on: str, postings: list) -> None:
        self._post(postings)

    @event("OtherIncomeReceived")
    def _other_income_received(self, entry: str, amount: int, kind: str, payer: str, note: str | None, on: str,
                               postings: list) -> None:
        self._post(postings)

    @event("ContractSigned")
    def _contract_signed(self, contract: str, buyer: str, amount: int, milestones: list, document_ref: str,
                         on: str) -> None:
        self.contracts[contract] = {"buyer": buyer, "amount": amount, "milestones": list(milestones),
                                    "received": 0, "earned": 0, "delivered": []}

    @event("ContractPaymentReceived")
    def _contract_payment_received(self, entry: str, contract: str, amount: int, on: str, postings: list) -> None:
        self._post(postings)
        self.contracts[contract]["received"] += amount
        self._kinds[entry] = ("received:" + contract, amount)

    @event("ServiceDelivered")
    def _service_delivered(self, entry: str, contract: str, milestone: str, amount: int, on: str,
                           postings: list) -> None:
        self._post(postings)
        self.contracts[contract]["earned"] += amount
        self.contracts[contract]["delivered"].append(milestone)
        self._kinds[entry] = ("earned:" + contract + ":" + milestone, amount)

    @event("Terminated")
    def _terminated(self, entry: str, amount: int, to_fund: str | None, reason: str, on: str, disclose_by: str,
                    postings: list) -> None:
        self._post(postings)
        self.terminated = {"on": on, "to_fund": to_fund, "leftover": amount, "disclose_by": disclose_by}

    # --- state changes ---------------------------------------------------------------------------

    def _post(self, postings: list) -> None:
        self.balance += acc.effect_on(self.account, postings)
        self.goods += acc.effect_on(self.goods_account, postings)
        self.restricted_part -= sum(p["amount"] for p in postings if p["account"].startswith("Income:Restricted:")
                                    or p["account"] == acc.RESTRICTED_INTERFUND)

    @event("DonationReceived")
    def _donation_received(
        self, entry: str, amount: int, method: str, donor_type: str, donor_name: str | None,
        donor_public: bool, in_kind_description: str | None, received_on: str, street_town: str,
        note: str | None, postings: list, imported: dict | None = None,
        in_kind_basis: str | None = None, quantity: int | None = None, unit: str | None = None,
    ) -> None:
        self._post(postings)
        self.income += amount
        self._kinds[entry] = ("income", amount)

    @event("GrantReceived")
    def _grant_received(
        self, entry: str, amount: int, source: str, payer: str, document_ref: str | None,
        received_on: str, street_town: str, postings: list,
    ) -> None:
        self._post(postings)
        self.income += amount
        self._kinds[entry] = ("income", amount)

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
        if kind == "management":
            self.fees += amount
            self._kinds[entry] = ("fee", amount)

    @event("Reversed")
    def _reversed(self, entry: str, reverses: dict, reason: str, postings: list) -> None:
        self._post(postings)
        self.reversed_entries.add(entry)
        kind, amount = self._kinds.get(entry, ("", 0))
        if kind == "income":
            self.income -= amount
        elif kind == "fee":
            self.fees -= amount
        if kind.startswith("received:"):
            self.contracts[kind.split(":")[1]]["received"] -= amount
        elif kind.startswith("earned:"):
            _, contract, milestone = kind.split(":", 2)
            self.contracts[contract]["earned"] -= amount
            self.contracts[contract]["delivered"].remove(milestone)

    @event("Closed")
    def _closed(self, reason: str) -> None:
        self.closed = True
