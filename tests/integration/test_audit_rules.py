"""Rule checks over planted histories: each breach is signed with a real key but written behind
the application's back (the write side would refuse it), and the audit names the rule and the
event. The legitimate history they are planted into yields no error-level finding."""

from __future__ import annotations

from datetime import date, time

import pytest
from agreements import open_legacy_special
from auditkit import audited, plant
from vocabulary import donate, hours, open_general, open_restricted, pay, project, register_volunteer

from audits.bundle import collect
from audits.findings import ERROR, WARNING
from audits.verify import audit
from ledger.envelope import open_sealed
from ledger.verify import check_log


@pytest.fixture
def history(cast):
    """A restricted special fund SF (elderly care in TOWN, 2026), a general fund GEN, a project P1
    paid once from SF, a management payment from GEN, and a volunteer's session."""
    open_restricted(cast, "SF", valid_from=date(2026, 1, 1), valid_until=date(2026, 12, 31))
    open_general(cast, "GEN")
    donate(cast, "SF", 100_000)
    donate(cast, "GEN", 50_000)
    project(cast, "P1", budget=60_000)
    pay(cast, "SF", 40_000, project="P1", on=date(2026, 3, 1))
    pay(cast, "GEN", 1_000, kind="management", payee="长宁区社区基金会", purpose="办公费")
    register_volunteer(cast)
    hours(cast, time(9), time(12))
    return cast


def stored(cast, type_name: str, stream: str | None = None) -> tuple[int, dict]:
    """(position, payload) of the last stored event of a type (and stream)."""
    for n in reversed(list(cast.ledger.log_positions())):
        if n.topic == type_name and (stream is None or n.originator_id == stream):
            sealed = open_sealed(bytes(n.state), stream=n.originator_id, version=n.originator_version, topic=n.topic)
            return n.id, dict(sealed.payload)
    raise LookupError(type_name)


def found(cast, rule: str, severity: str = ERROR) -> list:
    """The findings of one rule in a full audit of the ledger."""
    return [f for f in audited(cast.ledger, figures=False).findings if f.rule == rule and f.severity == severity]


def positions(findings) -> set[int]:
    return {e.position for f in findings for e in f.events}


def test_the_legitimate_history_has_no_error_findings(history):
    for quarter in ("2026-03-31", "2026-06-30", "2026-09-30"):  # P1's progress, published on time
        history.ledger.record_publication(history.accountant, "CNCF", item="project_progress", subject="P1",
                                          title="P1 项目进展", where="慈善中国", published_on=date.fromisoformat(quarter))
    result = audited(history.ledger)
    assert result.ok
    assert [f.one_line() for f in result.findings if f.severity == ERROR] == []


def _paid_from_sf(cast, **changes) -> int:
    _, paid = stored(cast, "Fund.Paid", "fund:SF")
    return plant(cast.ledger, "fund:SF", "Fund.Paid", dict(paid, entry="planted", **changes), cast.accountant.key)


@pytest.mark.parametrize(("rule", "changes"), [
    ("funds.domain", {"domain": "child_welfare"}),
    ("funds.street-town", {"street_town": "hongqiao"}),
    ("funds.dates", {"paid_on": "2027-01-04"}),
])
def test_special_fund_used_outside_its_purpose_is_found(history, rule, changes):
    assert found(history, rule) == []
    position = _paid_from_sf(history, **changes)
    [finding] = found(history, rule)
    assert positions([finding]) == {position} and finding.fund == "SF"


def _fee_planted(cast, code: str) -> int:
    """A management fee of ¥10 from ``code``, as SF's payment but behind the write side's back."""
    _, paid = stored(cast, "Fund.Paid", "fund:SF")
    postings = [dict(p, account=p["account"].replace("SF", code)) for p in paid["postings"]]
    return plant(cast.ledger, f"fund:{code}", "Fund.Paid",
                 dict(paid, entry=f"fee-{code}", kind="management", amount=1_000, postings=postings), cast.accountant.key)


def test_a_fee_from_restricted_money_needs_an_agreement(history):
    beyond = _paid_from_sf(history, kind="management")  # SF's agreement agrees no management fee
    assert positions(found(history, "funds.fee")) == {beyond}
    # special funds opened before agreements were required: a reference to check on paper, or none
    open_legacy_special(history.ledger, history.accountant, "OLDREF", agreement_ref="协议-旧-1")
    open_legacy_special(history.ledger, history.accountant, "NOAGREE", agreement_ref=None)
    for code in ("OLDREF", "NOAGREE"):
        donate(history, code, 5_000)
    to_check, unagreed = _fee_planted(history, "OLDREF"), _fee_planted(history, "NOAGREE")
    assert positions(found(history, "funds.fee", WARNING)) == {to_check}
    assert positions(found(history, "funds.fee")) == {beyond, unagreed}


def test_an_old_special_fund_without_its_agreement_still_loads_verifies_and_audits(history):
    """A FundOpened of the first version (``agreement_ref`` only) keeps its meaning on replay: the
    fund loads, takes money and pays, the log verifies and the audit raises no error for it."""
    opened = open_legacy_special(history.ledger, history.accountant, "OLD", agreement_ref="协议-旧-2")
    _, payload = stored(history, "Fund.Opened", "fund:OLD")
    assert "agreement" not in payload and payload["agreement_ref"] == "协议-旧-2"
    donate(history, "OLD", 30_000)
    pay(history, "OLD", 10_000, project="P1", on=date(2026, 4, 1))
    fund = history.ledger.fund("OLD")
    assert fund.kind == "special" and fund.agreement is None and fund.agreement_ref == "协议-旧-2"
    assert fund.balance == 20_000
    result = audited(history.ledger)
    assert result.ok  # integrity: every event, the old one too, verifies
    assert [f.one_line() for f in result.findings if f.severity == ERROR and f.rule.startswith("funds.")] == []
    assert result.events > opened.positions[0] and result.pages_checked == result.pages_matched
    assert all(check.ok for check in check_log(history.ledger.log_positions()))


def test_an_overdraft_at_any_moment_is_found(history):
    _, paid = stored(history, "Fund.Paid", "fund:GEN")
    big = [dict(p, amount=p["amount"] // 1_000 * 60_000) for p in paid["postings"]]  # ¥600 out of ¥490
    position = plant(history.ledger, "fund:GEN", "Fund.Paid", dict(paid, entry="big", amount=60_000, postings=big),
                     history.accountant.key)
    donate(history, "GEN", 100_000)  # refilled afterwards: the moment still counts
    [finding] = found(history, "funds.overdraft")
    assert positions([finding]) == {position} and finding.details["balance"] == 49_000 - 60_000


def test_maker_checker_breaches_are_found(history):
    cast = history
    _, requested = stored(cast, "Disbursement.Requested")
    _, approved = stored(cast, "Disbursement.Approved")
    stream = "disbursement:SELF"
    first = plant(cast.ledger, stream, "Disbursement.Requested", dict(requested, number="SELF"), cast.accountant.key)
    second = plant(cast.ledger, stream, "Disbursement.Approved", dict(approved, approved_by="acct"), cast.accountant.key)
    assert positions(found(cast, "maker-checker.same-person")) == {first, second}
    assert positions(found(cast, "maker-checker.not-approver")) == {second}
    stray = _paid_from_sf(cast)  # a fund payment whose disbursement number was never approved
    assert positions(found(cast, "maker-checker.unapproved")) == {stray}


def test_project_payments_over_budget_or_to_another_payee_are_found(history):
    _, payment = stored(history, "Project.PaymentRecorded")
    over = plant(history.ledger, "project:P1", "Project.PaymentRecorded", dict(payment, disbursement="X1"),
                 history.accountant.key)  # 40k + 40k > 60k
    other = plant(history.ledger, "project:P1", "Project.PaymentRecorded",
                  dict(payment, disbursement="X2", amount=1, payee="OTHERF"), history.accountant.key)
    assert over in positions(found(history, "projects.budget"))
    assert positions(found(history, "projects.payee")) == {other, stored(history, "Project.Registered")[0]}


def test_implausible_surveys_are_found(history):
    cast = history
    registered, _ = stored(cast, "Project.Registered")  # P1 states its reach (vocabulary registers 500)
    plausible = cast.ledger.evaluate_project(cast.accountant, "P1", score=90, respondents=40,
                                             survey_ref="问卷-1").positions[0]
    survey = {"score": 0, "respondents": 1_000_000, "surveyed_on": "2026-05-01", "method": "questionnaire"}
    crowd = plant(cast.ledger, "project:P1", "Project.Evaluated", dict(survey, survey_ref="问卷-2"), cast.accountant.key)
    nameless = plant(cast.ledger, "project:P1", "Project.Evaluated", dict(survey, respondents=3), cast.accountant.key)
    findings = found(cast, "projects.evaluation")
    assert positions(findings) == {registered, crowd, nameless} and plausible not in positions(findings)
    assert any("1000000 respondents" in f.message_en for f in findings)
    assert any("survey reference" in f.message_en for f in findings)


def test_a_release_from_an_unrestricted_fund_without_basis_or_arrival_is_found(history):
    _, paid = stored(history, "Fund.Paid", "fund:GEN")
    release = {"entry": "R1", "amount": 100, "to_fund": "SF", "basis": " ", "on": "2026-03-02",
               "postings": paid["postings"]}
    position = plant(history.ledger, "fund:GEN", "Fund.RestrictionReleased", release, history.accountant.key)
    for rule in ("releases.not-restricted", "releases.into-restricted", "releases.basis", "releases.unmatched"):
        assert positions(found(history, rule)) == {position}, rule


def test_implausible_volunteer_hours_are_found(history):
    cast = history
    _, session = stored(cast, "Volunteer.ServiceRecorded")
    overlap = plant(cast.ledger, "volunteer:V001", "Volunteer.ServiceRecorded",
                    dict(session, record="R-overlap", start="11:00", end="23:00", minutes=720), cast.recorder.key)
    late = plant(cast.ledger, "volunteer:V001", "Volunteer.ServiceRecorded",
                 dict(session, record="R-late", start="12:00", end="24:00", minutes=720), cast.accountant.key)
    assert positions(found(cast, "hours.overlap")) >= {overlap, late}
    assert positions(found(cast, "hours.over-24")) >= {overlap, late}
    assert positions(found(cast, "hours.recorder")) == {late}  # signed by an accountant, not LELING's recorder


def test_annual_ratios_of_the_2016_regulation_are_checked(history):
    cast = history
    _, gift = stored(cast, "Fund.DonationReceived", "fund:GEN")
    _, fee = stored(cast, "Fund.Paid", "fund:GEN")

    def scaled(payload, amount, **changes):
        return dict(payload, amount=amount, postings=[dict(p, amount=amount if p["amount"] > 0 else -amount)
                                                      for p in payload["postings"]], **changes)

    plant(cast.ledger, "fund:GEN", "Fund.DonationReceived", scaled(gift, 1_000_000_00, entry="g24",
                                                                  received_on="2024-06-01"), cast.accountant.key)
    fee_2025 = plant(cast.ledger, "fund:GEN", "Fund.Paid", scaled(fee, 300_000_00, entry="m25", paid_on="2025-06-01"),
                     cast.accountant.key)
    # 2025: nothing spent on charity against ¥1m income in 2024; ¥300k management of ¥300k spending
    [spending] = found(cast, "ratios.charitable-spending")
    [management] = found(cast, "ratios.management")
    assert spending.details["year"] == management.details["year"] == 2025
    assert fee_2025 in positions([management])
    assert "¥700,000.00" in spending.message_en  # 70% of the 2024 income


def test_management_costs_below_200k_are_exempt(history):
    cast = history
    _, fee = stored(cast, "Fund.Paid", "fund:GEN")
    _, gift = stored(cast, "Fund.DonationReceived", "fund:GEN")
    for year in (2024, 2025):
        plant(cast.ledger, "fund:GEN", "Fund.DonationReceived",
              dict(gift, entry=f"g{year}", received_on=f"{year}-02-01"), cast.accountant.key)
        plant(cast.ledger, "fund:GEN", "Fund.Paid", dict(fee, entry=f"m{year}", paid_on=f"{year}-03-01"),
              cast.accountant.key)  # all of the year's spending is management, but only ¥10
    assert found(cast, "ratios.management") == []


def test_a_correction_without_a_note_is_found(history):
    position = plant(history.ledger, "fund:GEN", "Fund.Reversed",
                     {"entry": "C1", "reverses": {"stream": "fund:GEN", "version": 2, "type": "Fund.DonationReceived"},
                      "reason": "", "postings": []}, history.accountant.key)
    assert positions(found(history, "disclosure.correction-note")) == {position}
    # P1 runs all of 2026: its quarterly progress was due and never published (the full report, due
    # 2027-03-31, is no finding yet); one published late is a warning
    overdue = found(history, "disclosure.overdue")
    assert [f.details["due"] for f in overdue if f.details["subject"] == "P1"][:1] == ["2026-04-01"]
    history.ledger.record_publication(history.accountant, "CNCF", item="project_progress", subject="P1",
                                      title="P1 项目进展", where="慈善中国", published_on=date(2026, 4, 20))
    [late] = found(history, "disclosure.late", WARNING)
    assert (late.details["due"], late.details["published_on"]) == ("2026-04-01", "2026-04-20")


def test_special_fund_money_needs_a_written_purpose(history):
    assert found(history, "funds.purpose") == []
    _, opened = stored(history, "Fund.Opened", "fund:SF")
    unwritten = plant(history.ledger, "fund:NOPURPOSE", "Fund.Opened", dict(opened, code="NOPURPOSE", purpose=" "),
                      history.accountant.key)
    stray = _paid_from_sf(history)  # paid with no disbursement request saying what it is for
    assert positions(found(history, "funds.purpose")) == {unwritten, stray}


def test_income_corrected_in_its_year_does_not_count_towards_the_ratio(history):
    from datetime import UTC, datetime

    cast = history
    _, gift = stored(cast, "Fund.DonationReceived", "fund:GEN")
    big = dict(gift, entry="g24", amount=1_000_000_00, received_on="2024-06-01",
               postings=[dict(p, amount=1_000_000_00 if p["amount"] > 0 else -1_000_000_00) for p in gift["postings"]])
    position = plant(cast.ledger, "fund:GEN", "Fund.DonationReceived", big, cast.accountant.key)
    plant(cast.ledger, "fund:GEN", "Fund.DonationReceived", dict(gift, entry="g25", received_on="2025-02-01"),
          cast.accountant.key)
    assert len(found(cast, "ratios.charitable-spending")) == 1  # 2025 spent nothing against ¥1m
    version = cast.ledger.tables.first_version_after("fund:GEN", position - 1)[0]
    plant(cast.ledger, "fund:GEN", "Fund.Reversed",
          {"entry": "c24", "reverses": {"stream": "fund:GEN", "version": version, "type": "Fund.DonationReceived"},
           "reason": "重复录入", "postings": [dict(p, amount=-p["amount"]) for p in big["postings"]]},
          cast.accountant.key, timestamp=datetime(2024, 7, 1, tzinfo=UTC))
    assert found(cast, "ratios.charitable-spending") == []  # 2024's income is ¥0 once corrected in 2024


def test_a_signed_event_no_command_could_write_is_named_not_a_crash(history):
    _, gift = stored(history, "Fund.DonationReceived", "fund:GEN")
    broken = {k: v for k, v in gift.items() if k not in ("amount", "postings")}
    published = collect(history.ledger).figures
    position = plant(history.ledger, "fund:GEN", "Fund.DonationReceived", broken, history.accountant.key)
    bundle = collect(history.ledger)
    assert bundle.figures == [] and "amount" in bundle.figures_error  # exported all the same
    bundle.figures = [dict(r, position=position) for r in published]  # as if published after the event
    result = audit(bundle, reference=history.ledger.reference)
    [figures] = [f for f in result.findings if f.rule == "integrity.figures"]
    assert [e.position for e in figures.events] == [position]
    assert "audit.unreadable" in {f.rule for f in result.findings}  # a rule that needs the amount says so
