"""Special and restricted fund usage (专项基金使用): a special fund has a written purpose; every payment
from a restricted fund was requested for a stated purpose and lies within the fund's domains,
street-towns and dates; and no management or fundraising fee is taken from it without an
agreement (《上海市基金会专项基金管理办法》). A special fund opened with its agreement
(``agreement.fee_rate_bp``) may pay the agreed management fee, up to that rate of the donations and
grants it received — the same cap the write side applies; one opened before agreements were
recorded (``agreement_ref`` only) leaves the fee to be checked against the paper agreement."""

from __future__ import annotations

from typing import Any

from audits.findings import WARNING, Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, fund_code, run

FEES = ("management", "fundraising")


class Check(RuleCheck):
    def __init__(self, funds: dict[str, dict[str, Any]] | None = None, purposes: dict[str, str] | None = None,
                 money: dict[str, list] | None = None) -> None:
        self.funds = funds or {}
        """Fund code → the payload of its ``Fund.Opened``."""
        self.purposes = purposes or {}
        """Disbursement number → the purpose its request stated."""
        self.money = money or {}
        """Fund code → [income received, fees taken, {entry: [kind, amount]}], for the agreed fee's cap."""

    def dump(self) -> Any:
        return {"funds": self.funds, "purposes": self.purposes, "money": self.money}

    @classmethod
    def load(cls, data: Any) -> Check:
        return cls(data["funds"], data["purposes"], data.get("money"))

    def _count(self, e: Entry) -> None:
        """Income and fees of each special fund with an agreement, net of their reversals."""
        code, p = fund_code(e), e.payload
        fund = self.funds.get(code) or {}
        if fund.get("kind") != "special" or not fund.get("agreement"):
            return
        entries = self.money.setdefault(code, [0, 0, {}])[2]
        if e.type in ("Fund.DonationReceived", "Fund.GrantReceived"):
            self.money[code][0] += p["amount"]
            entries[p.get("entry")] = ["income", p["amount"]]
        elif e.type == "Fund.Paid" and p.get("kind") == "management":
            entries[p.get("entry")] = ["fee", p["amount"]]
        elif e.type == "Fund.Reversed":
            kind, amount = entries.pop(p.get("entry"), ["", 0])
            self.money[code][0 if kind == "income" else 1] -= amount if kind else 0

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        findings = []
        if e.type == "Fund.Opened":
            self.funds[e.payload["code"]] = e.payload
            if e.payload.get("kind") == "special" and not str(e.payload.get("purpose") or "").strip():
                findings.append(breach("funds.purpose", f"special fund {e.payload.get('code')} was opened with no "
                                       "written purpose", f"专项基金 {e.payload.get('code')} 设立时没有书面用途", e,
                                       street_town=e.payload.get("street_town"), fund=e.payload.get("code")))
        if e.type == "Disbursement.Requested" and e.payload.get("number") is not None:
            self.purposes[e.payload["number"]] = str(e.payload.get("purpose") or "").strip()
        if e.stream.startswith("fund:"):
            self._count(e)
        if e.type != "Fund.Paid":
            return findings
        code, p = fund_code(e), e.payload
        fund = self.funds.get(code)
        if fund is None or not fund.get("restricted"):
            return findings
        purposes = self.purposes
        town, domain, day = p.get("street_town"), p.get("domain"), p.get("paid_on") or e.timestamp.date().isoformat()
        where = {"street_town": town, "fund": code}
        if not purposes.get(p.get("entry")):
            findings.append(breach("funds.purpose", f"fund {code} paid {p['entry']} with no stated purpose (no "
                                   "disbursement request saying what it is for)",
                                   f"限定性基金 {code} 的支出 {p['entry']} 没有说明用途", e, **where))
        fee = p.get("kind") in FEES  # a fee is no spending on the purpose: the fee rules below judge it
        if fund.get("domains") and domain not in fund["domains"] and not fee:
            findings.append(breach("funds.domain", f"fund {code} paid {p['entry']} for domain {domain}, outside its "
                                   f"purpose ({', '.join(fund['domains'])})",
                                   f"限定性基金 {code} 的支出 {p['entry']} 用于 {domain}，超出限定领域", e, **where))
        if fund.get("street_towns") and town not in fund["street_towns"] and not fee:
            findings.append(breach("funds.street-town", f"fund {code} paid {p['entry']} in {town}, outside "
                                   f"{', '.join(fund['street_towns'])}",
                                   f"限定性基金 {code} 的支出 {p['entry']} 发生在 {town}，超出限定街镇", e, **where))
        if (fund.get("valid_from") and day < fund["valid_from"]) or (fund.get("valid_until") and day > fund["valid_until"]):
            findings.append(breach("funds.dates", f"fund {code} paid {p['entry']} on {day}, outside "
                                   f"{fund.get('valid_from') or '…'}–{fund.get('valid_until') or '…'}",
                                   f"限定性基金 {code} 的支出 {p['entry']} 日期 {day} 超出使用期限", e, **where))
        if p.get("kind") == "management" and (fund.get("agreement") or {}).get("fee_rate_bp") is not None:
            rate = int(fund["agreement"]["fee_rate_bp"])
            income, fees, _ = self.money.get(code, [0, 0, {}])
            cap = income * rate // 10_000
            if fees + p["amount"] > cap:
                findings.append(breach("funds.fee", f"fund {code} took a management fee of {p['amount']} fen "
                                       f"({p['entry']}) beyond its agreement's {rate / 100}% of the income received "
                                       f"(cap {cap} fen, {fees} fen taken before)",
                                       f"专项基金 {code} 提取的管理费超出协议约定的 {rate / 100}%", e, **where))
            self.money.setdefault(code, [0, 0, {}])[1] += p["amount"]
        elif p.get("kind") in FEES:
            if fund.get("agreement_ref"):
                findings.append(breach("funds.fee", f"fund {code} took a {p['kind']} fee ({p['entry']}); check that "
                                       f"agreement {fund['agreement_ref']} allows it",
                                       f"限定性基金 {code} 列支了{p['kind']}费用，请核对协议 {fund['agreement_ref']}",
                                       e, severity=WARNING, **where))
            else:
                findings.append(breach("funds.fee", f"fund {code} took a {p['kind']} fee ({p['entry']}) from "
                                       "restricted money with no agreement",
                                       f"限定性基金 {code} 无协议却列支了{p['kind']}费用", e, **where))
        return findings


def check(history: Replay) -> list[Finding]:
    return run(Check(), history)
