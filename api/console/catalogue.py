"""Every console form: its fields, who sees it, and the API route it posts through."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from api.console import labels, views
from api.console.forms import Field, Form, Option
from api.console.web import PREFIX, Staff
from api.routes import accounting, record
from ledger.disclosures import ITEM_NAMES
from ledger.money import parse_rate_bp

ACCOUNTANT = ("accountant",)


# --- options read per request, scoped like the writes -------------------------------------------


def fund_options(request: Request, staff: Staff) -> list[Option]:
    return [(f["code"], f"{f['code']} {f['name']}", f"{f['code']} {f['name']}")
            for f in views.funds(request, staff, open_only=True)]


def open_fund_options(request: Request, staff: Staff) -> list[Option]:
    return [(f["code"], f"{f['code']} {f['name']}", f"{f['code']} {f['name']}")
            for f in views.funds(request, staff, open_only=True) if not f["balance"]]


def town_options(request: Request, staff: Staff) -> list[Option]:
    return [(t.code, t.name_zh, t.name_en) for t in request.app.state.ledger.reference.street_towns]


def domain_options(request: Request, staff: Staff) -> list[Option]:
    return [(d.code, d.name_zh, d.name_en) for d in request.app.state.ledger.reference.domains]


def foundation_options(request: Request, staff: Staff) -> list[Option]:
    rows = views.organisations(request, "foundation", "community_foundation")
    scope = views.foundation_scope(staff)
    return [(o["code"], f"{o['code']} {o['name']}", f"{o['code']} {o['name']}") for o in rows
            if scope is None or o["code"] == scope]


def undertaker_options(request: Request, staff: Staff) -> list[Option]:
    rows = views.organisations(request, "social_organisation", "social_work_station", "community_foundation")
    return [(o["code"], f"{o['code']} {o['name']}", f"{o['code']} {o['name']}") for o in rows]


def project_options(request: Request, staff: Staff) -> list[Option]:
    return [(p["code"], f"{p['code']} {p['name']}", f"{p['code']} {p['name']}") for p in views.projects(request)]


def approved_options(request: Request, staff: Staff) -> list[Option]:
    from ledger.money import format_cny

    return [(d["number"], f"{d['number'][:8]} · {d['fund']} · {format_cny(d['amount'])} · {d['purpose']}",
             f"{d['number'][:8]} · {d['fund']} · {format_cny(d['amount'])} · {d['purpose']}")
            for d in views.disbursements(request, staff, "approved")]


def own_organisation(request: Request, staff: Staff) -> list[Option]:
    org = staff.principal.organisation
    rows = [o for o in views.organisations(request) if o["code"] == org]
    return [(o["code"], f"{o['code']} {o['name']}", f"{o['code']} {o['name']}") for o in rows]


def static(table: dict[str, tuple[str, str]]):
    return lambda request, staff: labels.options(table)


# --- fields used by several forms ---------------------------------------------------------------


def _amount(name: str = "amount", zh: str = "金额（元）", en: str = "Amount (yuan)") -> Field:
    return Field(name, zh, en, "amount", required=True, hint_zh="最多两位小数，例如 1200.50",
                 hint_en="at most two decimal places, e.g. 1200.50")


def _date(name: str, zh: str, en: str) -> Field:
    return Field(name, zh, en, "date", hint_zh="留空为今天", hint_en="empty: today")


FUND = Field("fund", "基金", "Fund", "select", fund_options, required=True)
TOWN = Field("street_town", "街镇", "Street-town", "select", town_options, optional_choice=True,
             hint_zh="基金面向全区时必填", hint_en="required when the fund serves the whole district")


def _milestones(body: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for i in range(1, 6):
        name, amount = body.pop(f"milestone_name_{i}", ""), body.pop(f"milestone_amount_{i}", "")
        if name or amount:
            rows.append({"name": name, "amount": amount})
    if rows:
        body["milestones"] = rows
    return body


def _agreement(body: dict[str, Any]) -> dict[str, Any]:
    """The agreement's parts, typed as fields of their own, as the ``agreement`` object (its
    reference is the fund's agreement reference; its fee rate typed as a percent)."""
    parts = {k.removeprefix("agreement."): body.pop(k) for k in list(body) if k.startswith("agreement.")}
    if not (parts or body.get("special")):
        return body
    if "fee_rate_bp" in parts:
        parts["fee_rate_bp"] = parse_rate_bp(parts["fee_rate_bp"], field="agreement.fee_rate_bp")
    body["agreement"] = {"ref": body.pop("agreement_ref", ""), "use": "", "termination": "", "leftover": "", **parts}
    return body


def _approvals(ident: str, positions: tuple[int, ...]) -> str:
    return f"{PREFIX}/approvals?done={ident}"


FORMS: dict[str, Form] = {f.slug: f for f in [
    Form("donation", "登记捐赠", "Record a donation", record.DonationIn, record.record_donation, [
        FUND, _amount(),
        Field("donor_type", "捐赠人类型", "Donor type", "select", static(labels.DONOR_TYPES), required=True),
        Field("method", "捐赠方式", "Method", "select", static(labels.METHODS), required=True),
        Field("donor_name", "捐赠人名称", "Donor's name"),
        Field("donor_public", "捐赠人同意公开姓名", "The donor consents to be named publicly", "checkbox",
              hint_zh="未勾选时公示页显示为 张**", hint_en="unticked, public pages show 张**"),
        Field("in_kind_description", "实物说明", "In-kind description", "textarea",
              hint_zh="实物捐赠须写明物品与数量，金额为申报价值", hint_en="for goods: what and how many; the amount is their stated value"),
        _date("received_on", "收到日期", "Received on"), TOWN,
        Field("note", "备注", "Note"),
    ], ACCOUNTANT, lede_zh="捐赠计入所选基金，并带有该基金的限定用途。", lede_en="The gift goes into the fund and carries its restriction."),
    Form("grant", "登记拨款收入", "Record a grant", record.GrantIn, record.record_grant, [
        FUND, _amount(),
        Field("source", "来源", "Source", "select", static(labels.GRANT_SOURCES), required=True),
        Field("payer", "拨款单位", "Payer", required=True),
        Field("document_ref", "文件或合同编号", "Document or contract reference"),
        _date("received_on", "收到日期", "Received on"), TOWN,
    ], ACCOUNTANT),
    Form("allocation", "基金间调拨", "Allocate between funds", record.AllocationIn, record.allocate, [
        Field("from_fund", "调出基金", "From fund", "select", fund_options, required=True),
        Field("to_fund", "调入基金", "To fund", "select", fund_options, required=True),
        _amount(), Field("reason", "事由", "Reason", required=True), _date("on", "日期", "Date"),
    ], ACCOUNTANT, lede_zh="只有非限定性资金可以调拨。", lede_en="Only unrestricted money can be allocated."),
    Form("release", "解除限定", "Release a restriction", record.ReleaseIn, record.release_restriction, [
        Field("fund", "限定性基金", "Restricted fund", "select", fund_options, required=True),
        Field("to_fund", "转入非限定性基金", "Into unrestricted fund", "select", fund_options, required=True),
        _amount(), Field("basis", "依据（协议条款、捐赠人同意等）", "Basis (agreement clause, donor's consent…)", required=True),
        _date("on", "日期", "Date"),
    ], ACCOUNTANT),
    Form("fund-open", "开设基金", "Open a fund", record.FundIn, record.open_fund, [
        Field("code", "基金代码", "Fund code", required=True, hint_zh="字母、数字、- 和 _", hint_en="letters, digits, - and _"),
        Field("name", "名称", "Name", required=True),
        Field("foundation", "托管基金会", "Host foundation", "select", foundation_options, required=True),
        Field("special", "社区专项基金（专项基金始终为限定性）", "Special community fund (always restricted)", "checkbox"),
        Field("restricted", "限定性", "Restricted", "checkbox"),
        Field("purpose", "书面用途", "Written purpose", "textarea", hint_zh="限定性基金必填", hint_en="required when restricted"),
        Field("street_town", "所属街镇", "Street-town", "select", town_options, optional_choice=True,
              hint_zh="留空为面向全区", hint_en="empty: the whole district"),
        Field("domains", "可用于的服务领域", "Domains it may pay for", "checks", domain_options),
        Field("street_towns", "可用于的街镇", "Street-towns it may pay for", "checks", town_options),
        _date("valid_from", "起始日期", "Valid from"), _date("valid_until", "截止日期", "Valid until"),
        Field("agreement_ref", "协议编号", "Agreement reference"),
        Field("agreement.use", "协议：使用方式", "Agreement: how the money is used", "textarea",
              hint_zh="专项基金必填", hint_en="required for a special fund"),
        Field("agreement.termination", "协议：终止条件", "Agreement: when the fund ends", "textarea",
              hint_zh="专项基金必填", hint_en="required for a special fund"),
        Field("agreement.leftover", "协议：剩余财产处理", "Agreement: what happens to its leftover", "textarea",
              hint_zh="专项基金必填", hint_en="required for a special fund"),
        Field("agreement.leftover_fund", "剩余财产转入基金", "Fund the leftover goes to", "select", fund_options,
              optional_choice=True),
        Field("agreement.fee_rate_bp", "约定管理费率（%）", "Agreed management fee (%)",
              hint_zh="百分比，最多两位小数，例如 3 或 2.5；无则留空", hint_en="a percent, e.g. 3 or 2.5; empty: none"),
    ], ACCOUNTANT, extra=_agreement,
        lede_zh="开设专项基金须登记专项基金协议：使用方式、终止条件、剩余财产处理与约定管理费率。",
        lede_en="A special fund is opened with its agreement: use, termination, leftover and the agreed fee."),
    Form("fund-close", "关闭基金", "Close a fund", record.CloseIn, record.close_fund, [
        Field("code", "基金（余额须为零）", "Fund (its balance must be zero)", "select", open_fund_options, required=True),
        Field("reason", "关闭原因", "Why it closes", required=True),
    ], ACCOUNTANT, path_param="code"),
    Form("income", "登记其他收入", "Record other income", accounting.OtherIncomeIn, accounting.record_other_income, [
        FUND, _amount(),
        Field("kind", "类别", "Kind", "select", static(labels.OTHER_INCOME), required=True),
        Field("payer", "付款方", "Payer", required=True, hint_zh="例如开户银行", hint_en="e.g. the bank"),
        Field("note", "摘要", "Note"), _date("on", "日期", "Date"),
    ], ACCOUNTANT, path_param="fund",
        lede_zh="银行利息、投资收益与其他收入（不是捐赠，也不是政府补助）。",
        lede_en="Bank interest, investment income and other income (neither a gift nor a government grant)."),
    Form("publication", "登记信息公开", "Record a publication", accounting.PublicationIn, accounting.record_publication, [
        Field("organisation", "基金会", "Foundation", "select", foundation_options, required=True),
        Field("item", "公开事项", "Item", "select", static(ITEM_NAMES), required=True),
        Field("subject", "所涉年度、项目或基金", "Year, project or fund it concerns", required=True),
        Field("title", "标题", "Title", required=True),
        Field("where", "公开渠道", "Where published", required=True, hint_zh="例如慈善中国、本会网站",
              hint_en="e.g. 慈善中国 (the national platform), the foundation's site"),
        _date("published_on", "公开日期", "Published on"),
    ], ACCOUNTANT, path_param="organisation",
        lede_zh="《慈善组织信息公开办法》要求的公开：信息公开日历据此判断按时、逾期或待公开。",
        lede_en="A publication the disclosure rules require: the disclosure calendar judges on time, late or due by it."),
    Form("project", "登记项目", "Register a project", record.ProjectIn, record.register_project, [
        Field("code", "项目代码", "Project code", required=True),
        Field("name", "项目名称", "Name", required=True),
        Field("street_town", "街镇", "Street-town", "select", town_options, required=True),
        Field("community", "社区（居委）", "Community"),
        Field("domain", "服务领域", "Domain", "select", domain_options, required=True),
        Field("organisation", "承接组织", "Undertaking organisation", "select", undertaker_options, required=True),
        Field("foundation", "负责基金会", "Responsible foundation", "select", foundation_options, optional_choice=True,
              hint_zh="留空为本人所属基金会", hint_en="empty: your own foundation"),
        Field("reach", "服务对象人数", "Residents served", "number", required=True,
              hint_zh="满意度调查的受访人数不得超过此数", hint_en="no satisfaction survey may have more respondents"),
        _amount("budget", "批准预算（元）", "Approved budget (yuan)"),
        Field("funding_source", "资金来源", "Funding source", "select", static(labels.FUNDING_SOURCES), required=True),
        Field("approval_ref", "立项批文号", "Approval reference", required=True),
        Field("starts_on", "开始日期", "Starts on", "date", required=True),
        Field("ends_on", "结束日期", "Ends on", "date", required=True),
    ], ACCOUNTANT, extra=_milestones,
        lede_zh="里程碑（最多五个）：名称与金额，合计不超过预算。", lede_en="Milestones (up to five): name and amount, adding up to at most the budget."),
    Form("disbursement", "申请拨付", "Request a disbursement", record.DisbursementIn, record.request_disbursement, [
        FUND, _amount(),
        Field("kind", "类别", "Kind", "select", static(labels.DISBURSEMENT_KINDS), required=True),
        Field("project", "项目（项目款）", "Project (project payments)", "select", project_options, optional_choice=True),
        Field("milestone", "里程碑", "Milestone"),
        Field("payee", "收款方", "Payee", hint_zh="项目款默认为承接组织", hint_en="project payments: the undertaking organisation"),
        Field("domain", "服务领域（津贴）", "Domain (allowances)", "select", domain_options, optional_choice=True),
        Field("street_town", "街镇（津贴）", "Street-town (allowances)", "select", town_options, optional_choice=True),
        Field("purpose", "用途", "Purpose", required=True), _date("on", "申请日期", "Requested on"),
    ], ACCOUNTANT, lede_zh="申请须由另一位审批人批准后才能支付。", lede_en="A different person, an approver, must approve it before it is paid."),
    Form("pay", "支付已批准的拨付", "Pay an approved disbursement", record.PaymentIn, record.pay_disbursement, [
        Field("number", "已批准的拨付", "Approved disbursement", "select", approved_options, required=True),
        _date("on", "支付日期", "Paid on"),
    ], ACCOUNTANT, path_param="number"),
    Form("approve", "批准拨付", "Approve a disbursement", record.ApprovalIn, record.approve_disbursement, [
        Field("number", "拨付编号", "Disbursement", "hidden", required=True),
        Field("approval_ref", "批复文号", "Approval reference", required=True),
        _date("on", "批准日期", "Approved on"),
    ], ("approver",), path_param="number", done=_approvals),
    Form("reject", "驳回拨付", "Reject a disbursement", record.RejectionIn, record.reject_disbursement, [
        Field("number", "拨付编号", "Disbursement", "hidden", required=True),
        Field("reason", "驳回理由", "Reason", required=True),
    ], ("approver",), path_param="number", done=_approvals),
    Form("volunteer", "登记志愿者", "Register a volunteer", record.VolunteerIn, record.register_volunteer, [
        Field("number", "志愿者编号", "Volunteer number", required=True),
        Field("name", "姓名", "Name", required=True),
        Field("street_town", "街镇", "Street-town", "select", town_options, required=True),
        Field("name_public", "本人同意公开姓名", "Consents to be named publicly", "checkbox"),
        _date("registered_on", "登记日期", "Registered on"),
    ], ("recorder", "accountant")),
    Form("hours", "记录志愿服务", "Record a service session", record.HoursIn, record.record_hours, [
        Field("volunteer", "志愿者编号", "Volunteer number", required=True),
        Field("organisation", "组织单位（本单位）", "Organising body (your own)", "select", own_organisation, required=True),
        Field("domain", "服务领域", "Domain", "select", domain_options, required=True),
        Field("on", "服务日期", "Date", "date", required=True),
        Field("start", "开始时间", "Start", "time", required=True),
        Field("end", "结束时间", "End", "time", required=True, hint_zh="24:00 表示当日结束", hint_en="24:00 ends the day"),
        Field("content", "服务内容", "Service content", required=True),
        Field("street_town", "街镇", "Street-town", "select", town_options, optional_choice=True,
              hint_zh="留空为组织所在街镇", hint_en="empty: the organisation's street-town"),
    ], ("recorder",), lede_zh="谁组织谁记录：只能为本单位组织的服务记录时长。",
        lede_en="The organising body records its own sessions (谁组织谁记录)."),
    Form("correction", "更正（冲正）", "Correct an event", record.CorrectionIn, record.correct, [
        Field("position", "日志序号", "Log position", "number", required=True),
        Field("reason", "更正说明", "Correction note", "textarea", required=True,
              hint_zh="将公开显示在更正说明页", hint_en="shown publicly on the corrections page"),
    ], ("accountant", "recorder")),
]}
