"""The ledger's codes as staff read them, Chinese and English (donor types, methods, kinds…)."""

from __future__ import annotations

DONOR_TYPES = {"resident": ("居民", "Resident"), "business": ("企业", "Business"),
               "stationed_unit": ("驻区单位", "Unit stationed in the district"),
               "foundation": ("基金会", "Foundation"), "government": ("政府", "Government")}
METHODS = {"cash": ("现金", "Cash"), "transfer": ("转账", "Bank transfer"), "in_kind": ("实物（按申报价值）", "In kind, at its stated value")}
GRANT_SOURCES = {"government_purchase": ("政府购买服务", "Government purchase of services"),
                 "venture_philanthropy": ("公益创投", "Venture philanthropy"),
                 "welfare_lottery": ("福彩公益金", "Welfare lottery"),
                 "district_special_fund": ("区社会组织发展专项资金", "District fund for social organisations")}
FUNDING_SOURCES = {"government_purchase": ("政府购买服务", "Government purchase of services"),
                   "venture_philanthropy": ("公益创投", "Venture philanthropy"), "fund": ("基金资助", "A fund")}
DISBURSEMENT_KINDS = {"project": ("项目款", "Project payment"), "allowance": ("社工津贴", "Social-worker allowance"),
                      "management": ("管理费用", "Management cost"), "fundraising": ("筹资费用", "Fundraising cost")}
OTHER_INCOME = {"interest": ("利息收入", "Bank interest"), "investment": ("投资收益", "Investment income"),
                "other": ("其他收入", "Other income")}
ORGANISATION_TYPES = {"foundation": ("基金会", "Foundation"), "social_group": ("社会团体", "Social group"),
                      "social_service": ("社会服务机构", "Social service organisation")}
STATUS = {"requested": ("待审批", "Awaiting approval"), "approved": ("已批准", "Approved"),
          "rejected": ("已驳回", "Rejected"), "paid": ("已支付", "Paid"), "reversed": ("已冲正", "Reversed")}
ROLES = {"root": ("系统管理员", "Root"), "accountant": ("会计", "Accountant"), "approver": ("审批人", "Approver"),
         "recorder": ("志愿服务记录人", "Hours recorder"), "auditor": ("审计", "Auditor"), "log": ("日志密钥", "Log key")}
EVENTS = {
    "Fund.DonationReceived": ("捐赠", "Donation"), "Fund.GrantReceived": ("拨款收入", "Grant"),
    "Fund.AllocatedOut": ("调出", "Allocation out"), "Fund.AllocatedIn": ("调入", "Allocation in"),
    "Fund.RestrictionReleased": ("解除限定", "Restriction released"), "Fund.Paid": ("支付", "Payment"),
    "Disbursement.Paid": ("拨付已付", "Disbursement paid"), "Volunteer.ServiceRecorded": ("志愿服务记录", "Service session"),
}


def options(table: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    return [(code, zh, en) for code, (zh, en) in table.items()]
