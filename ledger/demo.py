"""A realistic, deterministic demo ledger for Changning: foundations and special funds, donors of
every type (with a 99 Giving Day surge), government purchases and venture-philanthropy grants,
projects paid by milestone under maker-checker, social-worker allowances, volunteers with a year of
hours, satisfaction surveys, a key rotation and a few corrections.

The same seed and scale always give the same business content; only recording timestamps differ.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

from ledger.application import Actor, Ledger
from ledger.disclosures import add_months
from ledger.errors import LedgerError
from ledger.signing import SigningKey, key_file_stem, read_signing_key, retire_key_files
from ledger.witness import Witness

DEMO_END = date(2026, 10, 31)
"""The demo year ends here (or today, if earlier), so the data does not drift with the calendar."""

FOUNDATION = "CNCF"
DEMO_WITNESS = "mca.changning.example/witness"
"""The demo's witness: the district civil affairs bureau (区民政局), cosigning each checkpoint."""
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红建文辉力鹏飞斌宇浩凯秀云琳晨"
COMMUNITIES = ["一居委", "二居委", "三居委", "四居委", "五居委", "六居委"]
BUSINESSES = ["长宁来福士", "虹桥南丰城", "中山公园龙之梦", "上海动物园", "天山茶城", "缤谷广场", "金虹桥商场", "东华大学"]
STATIONED_UNITS = ["区人民医院", "区图书馆", "武警某部", "虹桥机场公司", "上海电信长宁局", "市三女中"]
PROJECT_THEMES = {
    "elderly_care": ["长者助餐", "独居老人探访", "认知症友好社区", "适老化改造"],
    "social_assistance": ["困难家庭帮扶", "临时救助陪伴", "残障人士就业支持"],
    "child_welfare": ["四点半课堂", "困境儿童关爱", "亲子阅读"],
    "marriage_funeral": ["婚姻家庭辅导", "文明祭扫宣传"],
    "community_governance": ["楼组自治", "垃圾分类", "邻里议事会", "加装电梯协商"],
}
SERVICE_CONTENT = {
    "elderly_care": "为社区长者送餐、陪伴聊天",
    "social_assistance": "协助困难家庭申请救助、整理物资",
    "child_welfare": "课后陪伴辅导小学生作业",
    "marriage_funeral": "文明祭扫宣传与现场引导",
    "community_governance": "垃圾分类桶站值守与宣传",
}


class DemoExists(Exception):
    """The demo's principals are already registered."""


def demo_town(ledger: Ledger, i: int) -> str:
    """The reference data's ``i``-th street-town (cycling): the demo names no district's towns itself."""
    towns = ledger.reference.street_towns
    return towns[i % len(towns)].code


def district_name(ledger: Ledger) -> str:
    return ledger.reference.district.name_zh


def themes(ledger: Ledger, domain: str) -> list[str]:
    """Project themes of a service domain: the demo's own for the domains it knows, else the domain's name."""
    return PROJECT_THEMES.get(domain) or [ledger.reference.domain(domain).name_zh]


def service_content(ledger: Ledger, domain: str) -> str:
    return SERVICE_CONTENT.get(domain) or f"{ledger.reference.domain(domain).name_zh}志愿服务"


def lottery_domains(ledger: Ledger) -> list[str]:
    """The welfare-lottery fund's domains: elderly care, assistance and children where the reference has them."""
    codes = [d.code for d in ledger.reference.domains]
    wanted = [d for d in ("elderly_care", "social_assistance", "child_welfare") if d in codes]
    return wanted or codes[:3]


def allowance_domain(ledger: Ledger) -> str:
    """The domain social workers' allowances are booked under: community governance where the
    reference has it, else its last domain."""
    codes = [d.code for d in ledger.reference.domains]
    return "community_governance" if "community_governance" in codes else codes[-1]


def check_reference(ledger: Ledger) -> None:
    """Refuse, before anything is written, reference data the demo cannot draw on."""
    from ledger.errors import InvalidInput
    from ledger.messages import msg

    if not ledger.reference.street_towns:
        raise InvalidInput("reference_file", msg("the reference file lists no street-towns: the demo needs one"))
    if not ledger.reference.domains:
        raise InvalidInput("reference_file", msg("the reference file lists no service domains: the demo needs one"))


@dataclass
class _Cast:
    root: Actor
    accountant: Actor
    accountant2: Actor
    approver: Actor
    recorders: dict[str, Actor]


CORRECTION_REASONS = [
    "重复录入，冲正原记录 Duplicate entry reversed",
    "金额录入错误，冲正后按正确金额重新登记 Wrong amount; re-recorded",
    "捐赠人撤回指定用途，冲正 Donor withdrew the gift",
]
HOURS_REASON = "签到时间登记错误，冲正 Wrong sign-in time"


def _end_date(ledger: Ledger) -> date:
    return min(DEMO_END, ledger.today())


class _Witnessing:
    """The log's schedule in miniature: checkpoints signed with the log key, each cosigned by the
    district's witness (whose key the ledger's own pages trust)."""

    def __init__(self, ledger: Ledger, key_dir: Path) -> None:
        self.ledger = ledger
        self.log_actor = Actor(ledger.origin, read_signing_key(key_dir, ledger.origin))
        witness_dir = key_dir.parent / "witness"
        self.created: list[Path] = []
        """Files this run wrote (removed again if the demo fails before writing an event)."""
        stem = key_file_stem(DEMO_WITNESS)
        if (witness_dir / f"{stem}.key").exists() and not (witness_dir / "witness-state.json").exists():
            witness_vkey = Witness(witness_dir, DEMO_WITNESS).key.verifier  # left by a demo that wrote nothing
        else:
            witness_vkey = Witness.create(witness_dir, DEMO_WITNESS)
            self.created += [witness_dir / f"{stem}.key", witness_dir / f"{stem}.pub"]
        self.witness = Witness(witness_dir, DEMO_WITNESS)
        trusted = key_dir / "witnesses"
        trusted.mkdir(exist_ok=True)
        pub = trusted / f"{stem}.pub"
        if not pub.exists():
            self.created.append(pub)
        pub.write_text(witness_vkey.vkey + "\n")
        self.log_key = ledger.directory().active_keys(ledger.origin)[-1].key

    def undo(self) -> None:
        """Remove the files this run created (only when it wrote no event: the log keeps what it has)."""
        for path in self.created:
            path.unlink(missing_ok=True)

    def checkpoint(self) -> None:
        ledger = self.ledger
        stored = ledger.sign_checkpoint(self.log_actor)
        checkpoint, line = self.witness.cosign(stored.note, self.log_key, ledger.merkle.consistency_proof)
        ledger.checkpoints.add_cosignature(checkpoint, self.witness.key.verifier, line)


def _root(ledger: Ledger, key_dir: Path) -> Actor:
    handle = next(h for h, p in ledger.directory().principals.items() if "root" in p.roles)
    return Actor(handle, read_signing_key(key_dir, handle))


def _organisations(ledger: Ledger, root: Actor, rng: random.Random, scale: int, counts: Counter) -> dict[str, list[str]]:
    """The foundation, a social-work station per street-town and its community organisations."""
    ledger.register_organisation(root, FOUNDATION, f"{district_name(ledger)}社区公益基金会", "foundation",
                                 demo_town(ledger, 2),
                                 registered_on=date(2016, 3, 1))
    orgs_by_town: dict[str, list[str]] = {}
    for i, town in enumerate(t.code for t in ledger.reference.street_towns):
        name_zh = ledger.reference.street_town(town).name_zh
        ledger.register_organisation(root, f"STN-{town}", f"{name_zh}社工站", "social_work_station", town,
                                     registered_on=date(2022, 6, 1))
        orgs_by_town[town] = []
        for j in range(2 + scale + (i % 3)):
            code = f"ORG-{town}-{j + 1:02d}"
            theme = rng.choice(["乐龄", "阳光", "邻里", "绿色", "童心", "助残", "睦邻", "银发"])
            ledger.register_organisation(root, code, f"{name_zh}{theme}{['服务社', '互助会', '志愿队'][j % 3]}",
                                         "social_organisation", town, community=f"{name_zh[:2]}{COMMUNITIES[j % 6]}",
                                         registered_on=date(2018 + j % 5, 1 + j % 12, 10))
            orgs_by_town[town].append(code)
            counts["organisations"] += 1
    return orgs_by_town


def _cast(ledger: Ledger, key_dir: Path, root: Actor, orgs_by_town: dict[str, list[str]], counts: Counter) -> _Cast:
    """The demo's people, each with a key written to the key directory."""

    def person(handle: str, name: str, roles: list[str], **scope: str) -> Actor:
        key = SigningKey.generate(handle)
        ledger.register_principal(root, handle, name, roles, key=key.verifier, **scope)
        key.write(key_dir)
        counts["principals"] += 1
        return Actor(handle, key)

    cast = _Cast(
        root=root,
        accountant=person("demo-accountant", "基金会会计 陈会计", ["accountant"], foundation=FOUNDATION),
        accountant2=person("demo-accountant-2", "基金会出纳 刘出纳", ["accountant"], foundation=FOUNDATION),
        approver=person("demo-approver", "基金会秘书长 王秘书长", ["approver"], foundation=FOUNDATION),
        recorders={},
    )
    person("demo-auditor", "区审计局 审计员", ["auditor"])
    for orgs in orgs_by_town.values():
        cast.recorders[orgs[0]] = person(f"rec-{orgs[0].lower()}", f"{orgs[0]} 志愿服务记录人", ["recorder"],
                                         organisation=orgs[0])
    return cast


def _rotate(ledger: Ledger, key_dir: Path, root: Actor, handle: str) -> Actor:
    """Rotate a principal's key; the old key file is kept, renamed after the rotation's position."""
    new_key = SigningKey.generate(handle)
    rotation = ledger.rotate_key(root, handle, new_key.verifier)
    retire_key_files(key_dir, handle, ledger.positions_of(rotation)[0])
    new_key.write(key_dir)
    return Actor(handle, new_key)


def _funds(ledger: Ledger, acct: Actor, rng: random.Random, start: date, end: date, counts: Counter) -> None:
    """The unrestricted fund, the venture-philanthropy and welfare-lottery funds, and per
    street-town a special fund (专项基金) and a government-purchase fund, usable from ``start``."""
    towns = [t.code for t in ledger.reference.street_towns]
    domains = [d.code for d in ledger.reference.domains]
    ledger.open_fund(acct, "GENERAL", "非限定性基金", FOUNDATION, purpose="基金会日常公益支出")
    ledger.open_fund(acct, "VP-ROUND", f"{district_name(ledger)}公益创投资金", FOUNDATION, restricted=True,
                     purpose="公益创投项目资助", valid_from=start, valid_until=end + timedelta(days=730),
                     agreement_ref="长民社〔2025〕8号")
    ledger.open_fund(acct, "LOTTERY", "福彩公益金社区项目", FOUNDATION, restricted=True,
                     purpose="福彩公益金用于养老、救助、儿童福利", domains=lottery_domains(ledger),
                     valid_from=start, valid_until=end + timedelta(days=730))
    for town in towns:
        name_zh = ledger.reference.street_town(town).name_zh
        allowed = sorted(rng.sample(domains, min(3, len(domains))))
        ledger.open_fund(acct, f"SF-{town}", f"{name_zh}社区专项基金", FOUNDATION, kind="special", restricted=True,
                         purpose=f"用于{name_zh}社区{'、'.join(ledger.reference.domain(d).name_zh for d in allowed)}",
                         street_town=town, street_towns=[town], domains=allowed, valid_from=start,
                         valid_until=end + timedelta(days=1095), agreement=_agreement(town, name_zh))
        ledger.open_fund(acct, f"GOV-{town}", f"{name_zh}政府购买服务资金", FOUNDATION, restricted=True,
                         purpose="街镇政府购买社区服务项目", street_town=town, street_towns=[town],
                         valid_from=start, valid_until=end + timedelta(days=365))
        counts["funds"] += 2
    counts["funds"] += 3


def _agreement(town: str, name_zh: str) -> dict:
    """A street-town special fund's agreement (专项基金协议) with the host foundation: 3 % agreed
    management fee; the leftover to a same or similar purpose in the same street-town."""
    return {"ref": f"专项基金协议-{town}-2025", "use": f"资助{name_zh}社区服务项目及困难家庭帮扶，专款专用",
            "termination": "协议期满、设立目的已实现或无法实现、连续两年未开展活动，经管委会决议终止",
            "leftover": "终止后剩余财产由基金会用于同一街镇相同或相近目的的公益活动，并在三个月内公开",
            "fee_rate_bp": 300}


def _donation(ledger: Ledger, rng: random.Random, town: str, day: date, giving_day: date) -> tuple[str, int, dict]:
    """One donor's gift: (fund, amount in fen, the other fields of ``record_donation``)."""
    donor_type = rng.choices(["resident", "business", "stationed_unit", "foundation", "government"],
                             [70, 15, 9, 4, 2])[0]
    if donor_type == "resident":
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
        amount = rng.choice([2000, 5000, 9900, 10000, 20000, 50000, 99900, 100000])
    elif donor_type == "business":
        name = rng.choice(BUSINESSES)
        amount = rng.choice([500000, 1000000, 2000000, 3000000])
    elif donor_type == "stationed_unit":
        name = rng.choice(STATIONED_UNITS)
        amount = rng.choice([300000, 500000, 800000])
    elif donor_type == "foundation":
        name = "上海某慈善基金会"
        amount = rng.choice([2000000, 5000000])
    else:
        name = f"{ledger.reference.street_town(town).name_zh}办事处"
        amount = rng.choice([1000000, 2000000])
    in_kind = donor_type == "business" and rng.random() < 0.2
    fund = f"SF-{town}" if rng.random() < 0.75 else "GENERAL"
    named = rng.random() < 0.9
    public = named and (donor_type != "resident" or rng.random() < 0.3)
    method = "in_kind" if in_kind else rng.choice(["transfer", "transfer", "cash"])
    return fund, amount, {
        "donor_type": donor_type, "donor_name": name if named else None, "donor_public": public, "method": method,
        "in_kind_description": "米面油爱心礼包" if in_kind else None, "received_on": day, "street_town": town,
        "note": "九九公益日" if abs((day - giving_day).days) <= 3 else None,
        # goods in kind are held at the invoice value of the gift packs (one pack per ¥100)
        **({"in_kind_basis": "receipt", "quantity": max(1, amount // 10000), "unit": "份"} if in_kind else {}),
    }


def seed_demo(ledger: Ledger, key_dir: Path, *, scale: int = 1, seed: int = 2023, progress: Any = None) -> dict:
    """Write the demo ledger; returns counts of what was recorded."""
    rng = random.Random(seed)
    ledger.new_id = lambda: f"{rng.getrandbits(64):016x}"
    if "demo-accountant" in ledger.directory().principals:
        raise DemoExists()
    end = _end_date(ledger)
    start = end - timedelta(days=364)
    counts: Counter[str] = Counter()
    check_reference(ledger)
    root = _root(ledger, key_dir)
    witnessing = _Witnessing(ledger, key_dir)
    head = ledger.recorder.max_notification_id() or 0
    try:
        return _seed(ledger, key_dir, rng, scale, start, end, counts, root, witnessing, progress)
    except BaseException:
        if (ledger.recorder.max_notification_id() or 0) == head:
            witnessing.undo()
        raise


def _seed(ledger: Ledger, key_dir: Path, rng: random.Random, scale: int, start: date, end: date,
          counts: Counter, root: Actor, witnessing: _Witnessing, progress: Any) -> dict:

    def checkpoint_and_witness() -> None:
        witnessing.checkpoint()
        counts["checkpoints"] += 1
    towns = [t.code for t in ledger.reference.street_towns]
    domains = [d.code for d in ledger.reference.domains]

    def say(message: str) -> None:
        if counts:
            checkpoint_and_witness()
        if progress is not None:
            progress.print(f"  · {message}")

    # --- bodies and people ---------------------------------------------------------------------
    say("organisations and principals 组织与主体")
    orgs_by_town = _organisations(ledger, root, rng, scale, counts)
    cast = _cast(ledger, key_dir, root, orgs_by_town, counts)
    acct = cast.accountant

    # --- funds ---------------------------------------------------------------------------------
    say("funds 基金")
    _funds(ledger, acct, rng, start, end, counts)

    # --- income --------------------------------------------------------------------------------
    say("donations and grants 捐赠与拨款")
    positions: dict[str, list[int]] = {"donations": []}
    n_donations = 120 * scale
    giving_day = date(end.year if date(end.year, 9, 9) <= end else end.year - 1, 9, 9)
    for i in range(n_donations):
        if i % 3 == 0:  # a third of gifts arrive in the 99 Giving Day (九九公益日) week
            day = giving_day + timedelta(days=rng.randint(-3, 3))
        else:
            day = start + timedelta(days=rng.randint(0, 364))
        day = min(day, end)
        town = rng.choice(towns)
        fund, amount, fields = _donation(ledger, rng, town, day, giving_day)
        recorded = ledger.record_donation(acct, fund, amount, **fields)
        positions["donations"].append(recorded.positions[0])
        counts["donations"] += 1
    for town in towns:
        for quarter in range(4):
            day = start + timedelta(days=10 + 91 * quarter)
            ledger.record_grant(acct, f"GOV-{town}", rng.choice([15000000, 20000000, 25000000]) * scale,
                                source="government_purchase", payer=f"{ledger.reference.street_town(town).name_zh}办事处",
                                document_ref=f"购买服务合同-{town}-Q{quarter + 1}", received_on=day)
            counts["grants"] += 1
    district = district_name(ledger)
    ledger.record_grant(acct, "VP-ROUND", 80000000 * scale, source="venture_philanthropy", payer=f"{district}民政局",
                        document_ref=f"{district}公益创投大赛", received_on=start + timedelta(days=40),
                        street_town=demo_town(ledger, 2))
    ledger.record_grant(acct, "LOTTERY", 30000000 * scale, source="welfare_lottery", payer=f"{district}福利彩票发行中心",
                        document_ref="福彩进社区", received_on=start + timedelta(days=60), street_town=demo_town(ledger, 4))
    ledger.record_grant(acct, "GENERAL", 20000000 * scale, source="district_special_fund", payer=f"{district}民政局",
                        document_ref=f"{district}推进社会组织发展专项资金", received_on=start + timedelta(days=30),
                        street_town=demo_town(ledger, 1))
    counts["grants"] += 3
    # the foundation's standing (慈善组织, 公开募捐资格), bank interest, and the gift packs handed out
    ledger.record_profile(root, FOUNDATION, charity=True, public_fundraising=True, org_type="foundation",
                          since=start, document_ref="慈善组织认定及公开募捐资格证书")
    ledger.record_other_income(acct, "GENERAL", 12_345 * scale, kind="interest", payer="开户银行",
                               note="活期存款利息", on=start + timedelta(days=90))
    for town in towns:
        goods = ledger.fund(f"SF-{town}").goods
        if goods:
            ledger.distribute_goods(acct, f"SF-{town}", goods, description="米面油爱心礼包发放给困难家庭",
                                    quantity=max(1, goods // 10000), target=f"SF-{town}",
                                    domain=ledger.fund(f"SF-{town}").domains[0], street_town=town,
                                    on=end)
            counts["goods"] += 1

    # --- projects and payments -----------------------------------------------------------------
    say("projects, disbursements and allowances 项目、拨付与津贴")
    approver = cast.approver
    projects: list[tuple[str, str, int, str]] = []
    for town in towns:
        special = ledger.fund(f"SF-{town}")
        for k in range(3 * scale):
            if k % 3 == 0:
                domain, source, fund = rng.choice(special.domains), "fund", special.code
                budget = rng.choice([3000000, 5000000, 8000000, 12000000])
            else:
                domain, source, fund = rng.choice(domains), "government_purchase", f"GOV-{town}"
                budget = rng.choice([12000000, 20000000, 30000000])
            code = f"P-{town}-{k + 1:02d}"
            org = rng.choice(orgs_by_town[town])
            theme = rng.choice(themes(ledger, domain))
            p_start = start + timedelta(days=rng.randint(15, 120))
            ledger.register_project(
                acct, code, f"{ledger.reference.street_town(town).name_zh}{theme}项目", street_town=town, domain=domain,
                organisation=org, budget=budget, funding_source=source,
                approval_ref=f"长{town[:2].upper()}民〔{p_start.year}〕{10 + k}号", starts_on=p_start,
                ends_on=p_start + timedelta(days=rng.choice([180, 270, 365])),
                community=f"{ledger.reference.street_town(town).name_zh[:2]}{COMMUNITIES[k % 6]}",
                milestones=[("启动", budget * 3 // 10), ("中期", budget * 4 // 10), ("结项", budget - budget * 7 // 10)],
                reach=200 + (k * 53) % 600,  # no draw of the generator: the rest of the demo stays as it was
            )
            projects.append((code, fund, budget, p_start.isoformat()))
            counts["projects"] += 1
    payments: list[int] = []
    for code, fund, budget, p_start in projects:
        first = date.fromisoformat(p_start)
        for step, (milestone, share) in enumerate([("启动", 3), ("中期", 4), ("结项", 3)]):
            pay_day = first + timedelta(days=20 + 100 * step)
            if pay_day > end:
                break
            amount = budget * share // 10 if milestone != "结项" else budget - budget * 7 // 10
            if ledger.fund(fund).balance < amount:
                break
            request = ledger.request_disbursement(acct, fund, amount, project=code, milestone=milestone,
                                                  purpose=f"{code} {milestone}款", on=pay_day - timedelta(days=7))
            if rng.random() < 0.05:
                ledger.reject_disbursement(approver, request.ident, reason="材料不全，请补充中期评估报告")
                counts["rejected"] += 1
                break
            ledger.approve_disbursement(approver, request.ident, approval_ref=f"审批-{pay_day:%Y%m}-{request.ident[:6]}",
                                        on=pay_day - timedelta(days=3))
            paid = ledger.pay_disbursement(cast.accountant2, request.ident, on=pay_day)
            payments.append(paid.positions[0])
            counts["payments"] += 1
        survey_day = first + timedelta(days=150)
        if survey_day <= end:
            ledger.evaluate_project(acct, code, score=rng.randint(82, 99), respondents=rng.randint(30, 200),
                                    survey_ref=f"满意度问卷-{code}", surveyed_on=survey_day)
            counts["evaluations"] += 1
    for month in range(0, 12, 3):
        day = start + timedelta(days=28 + 30 * month)
        for town in towns[: 3 + scale]:
            request = ledger.request_disbursement(
                acct, "GENERAL", 150000, kind="allowance", payee=f"{town}社工站持证社工", domain=allowance_domain(ledger),
                street_town=town, purpose="社工专业人才津贴", on=day - timedelta(days=5))
            ledger.approve_disbursement(approver, request.ident, approval_ref=f"津贴-{day:%Y%m}",
                                        on=day - timedelta(days=2))
            ledger.pay_disbursement(cast.accountant2, request.ident, on=day)
            counts["allowances"] += 1
    request = ledger.request_disbursement(acct, "GENERAL", 1200000, kind="management", payee="基金会办公室",
                                          purpose="年度审计与办公费用", on=end - timedelta(days=30))
    ledger.approve_disbursement(approver, request.ident, approval_ref="秘书处-管理费-01", on=end - timedelta(days=25))
    ledger.pay_disbursement(cast.accountant2, request.ident, on=end - timedelta(days=20))
    counts["management"] += 1
    # each long project's progress published a few days before it is due (《慈善组织信息公开办法》)
    for code, *_ in projects:
        planned = ledger.project(code)
        starts, ends = date.fromisoformat(planned.starts_on), date.fromisoformat(planned.ends_on)
        due = add_months(starts, 3)
        while add_months(starts, 6) < ends and due <= min(ends, end + timedelta(days=5)):
            ledger.record_publication(acct, FOUNDATION, item="project_progress", subject=code,
                                      title=f"{planned.name}实施情况", where="全国慈善信息公开平台（慈善中国）",
                                      published_on=min(end, due - timedelta(days=5)))
            counts["publications"] += 1
            due = add_months(due, 3)

    # --- volunteers and hours ------------------------------------------------------------------
    say("volunteers and a year of hours 志愿者与服务时长")
    service_positions: list[int] = []
    for town in towns:
        org = orgs_by_town[town][0]
        recorder = cast.recorders[org]
        for v in range(3 * scale):
            number = f"V{towns.index(town) + 1:02d}{v + 1:04d}"
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            ledger.register_volunteer(recorder, number, name, town, registered_on=start,
                                      name_public=rng.random() < 0.2)
            counts["volunteers"] += 1
            day = start + timedelta(days=rng.randint(0, 6))
            while day <= end:
                hour = rng.choice([8, 9, 13, 14, 18])
                domain = rng.choice(domains)
                recorded = ledger.record_hours(
                    recorder, number, organisation=org, domain=domain, on=day, start=time(hour, 0),
                    end=time(hour + rng.choice([1, 2, 3]), rng.choice([0, 30])), content=service_content(ledger, domain),
                )
                service_positions.append(recorded.positions[0])
                counts["service_records"] += 1
                day += timedelta(days=rng.choice([7, 10, 14, 21]))

    # --- a key rotation and corrections --------------------------------------------------------
    say("key rotation and corrections 密钥轮换与更正")
    acct = _rotate(ledger, key_dir, root, "demo-accountant")
    reasons = CORRECTION_REASONS
    for k, position in enumerate(positions["donations"][: 2 + scale]):
        try:
            ledger.reverse(acct, position, reason=reasons[k % len(reasons)])
            counts["corrections"] += 1
        except LedgerError:
            pass  # the money may already be spent: then it is left alone, as an accountant would
    if payments:
        ledger.reverse(cast.accountant2, payments[-1], reason="收款账户信息有误，款项退回 Payment returned: wrong account")
        counts["corrections"] += 1
    for position in service_positions[:: max(1, len(service_positions) // (3 * scale))][: 3 * scale]:
        _, event = ledger.read_position(position)
        recorder = cast.recorders[event.organisation]
        ledger.reverse(recorder, position, reason=HOURS_REASON)
        counts["corrections"] += 1
    checkpoint_and_witness()
    counts["events"] = ledger.recorder.max_notification_id() or 0
    return dict(counts)
