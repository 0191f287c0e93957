"""A special fund's agreement (专项基金协议) as the tests state it, for the ledger, the API and the CLI,
and a special fund as the ledger recorded it before agreements were required."""

from __future__ import annotations

from ledger.funds import Fund

TOWN = "xianxiaxincun"

AGREEMENT = {
    "ref": "协议-2026-01",
    "use": "资助仙霞新村街道社区养老服务项目，专款专用",
    "termination": "协议期满或设立目的已实现",
    "leftover": "用于本街道相同或相近目的的公益活动",
    "fee_rate_bp": 0,
}
"""The standard agreement: no management fee agreed, no fund named for the leftover."""


def agreement(**changes) -> dict:
    """The standard agreement with some parts changed (``ref=…``, ``fee_rate_bp=300``…)."""
    return {**AGREEMENT, **changes}


def agreement_options(**changes) -> list[str]:
    """The same agreement as ``wushe fund open`` options (the fee as a percent)."""
    a = agreement(**changes)
    options = ["--agreement-ref", a["ref"], "--agreement-use", a["use"], "--agreement-termination", a["termination"],
               "--agreement-leftover", a["leftover"], "--fee-rate", f"{a['fee_rate_bp'] / 100:g}"]
    if a.get("leftover_fund"):
        options += ["--agreement-leftover-fund", a["leftover_fund"]]
    return options


def open_legacy_special(ledger, actor, code: str, foundation: str = "CNCF", *, agreement_ref: str | None = "协议-旧",
                        purpose: str = "仙霞新村养老服务专项", **fields):
    """A special fund opened as the first version recorded it: an ``agreement_ref`` (or nothing), no
    agreement in its signed payload; elderly care in TOWN unless told. Written through the aggregate,
    as no command writes it any more."""
    spec = {"name": f"{code} 专项基金", "street_town": TOWN, "domains": ["elderly_care"], "street_towns": [TOWN],
            "valid_from": None, "valid_until": None, **fields}
    fund = Fund(code=code, foundation=foundation, kind="special", restricted=True, purpose=purpose,
                agreement_ref=agreement_ref, **spec)
    fund.pending_events[0].__dict__.pop("agreement", None)
    return ledger._save(actor, code, fund)
