"""Special and restricted fund usage (专项基金使用): a special fund has a written purpose; every payment
from a restricted fund was requested for a stated purpose and lies within the fund's domains,
street-towns and dates; and no management or fundraising fee is taken from it without an
agreement (《上海市基金会专项基金管理办法》)."""

from __future__ import annotations

from typing import Any

from audits.findings import WARNING, Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, fund_code, run

FEES = ("management", "fundraising")


class Check(RuleCheck):
    def __init__(self, funds: dict[str, dict[str, Any]] | None = None, purposes: dict[str, str] | None = None) -> None:
        self.funds = funds or {}
        """Fund code → the payload of its ``Fund.Opened``."""
        self.purposes = purposes or {}
        """Disbursement number → the purpose its request stated."""

    def dump(self) -> Any:
        return {"funds": self.funds, "purposes": self.purposes}

    @classmethod
    def load(cls, data: Any) -> Check:
        return cls(data["funds"], data["purposes"])

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
        if fund.get("domains") and domain not in fund["domains"]:
            findings.append(breach("funds.domain", f"fund {code} paid {p['entry']} for domain {domain}, outside its "
                                   f"purpose ({', '.join(fund['domains'])})",
                                   f"限定性基金 {code} 的支出 {p['entry']} 用于 {domain}，超出限定领域", e, **where))
        if fund.get("street_towns") and town not in fund["street_towns"]:
            findings.append(breach("funds.street-town", f"fund {code} paid {p['entry']} in {town}, outside "
                                   f"{', '.join(fund['street_towns'])}",
                                   f"限定性基金 {code} 的支出 {p['entry']} 发生在 {town}，超出限定街镇", e, **where))
        if (fund.get("valid_from") and day < fund["valid_from"]) or (fund.get("valid_until") and day > fund["valid_until"]):
            findings.append(breach("funds.dates", f"fund {code} paid {p['entry']} on {day}, outside "
                                   f"{fund.get('valid_from') or '…'}–{fund.get('valid_until') or '…'}",
                                   f"限定性基金 {code} 的支出 {p['entry']} 日期 {day} 超出使用期限", e, **where))
        if p.get("kind") in FEES:
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
