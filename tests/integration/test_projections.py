"""The projection runner on real ledgers, on SQLite and PostgreSQL: the views agree with the
aggregates and the postings, every event is folded exactly once whatever happens in between
(steps, crashes, rebuilds, two runners at once), and a tampered event stops the runner."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, time
from time import sleep

import pytest
from conftest import found_ledger
from eventsourcing.persistence import ConnectionUnavailableError, OperationalError
from fastapi.testclient import TestClient
from rawsql import RawSQL
from replayed import folded, verified_log, views
from vocabulary import (
    TOWN,
    approved,
    donate,
    log_actor,
    open_general,
    open_restricted,
    pay,
    project,
    register_volunteer,
    request,
)
from vocabulary import hours as record_hours

from api.main import create_app
from ledger.application import Ledger
from ledger.errors import TamperedEvent
from ledger.settings import Settings
from ledger.stores import is_postgres
from projections import donations, funds, hours, projects, runner, streettowns
from projections.base import MemoryStore
from projections.runner import Projections

# --- what the views should hold ------------------------------------------------------------------


def postings(ledger: Ledger) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for event in verified_log(ledger):
        for p in event.payload.get("postings") or []:
            totals[p["account"]] += p["amount"]
    return totals


# --- a busy ledger -------------------------------------------------------------------------------


@dataclass
class Busy:
    funds: tuple[str, ...] = ("GEN", "GEN2", "SF", "DIST", "OTH")
    projects: tuple[str, ...] = ("P1", "P2")
    disbursements: list[str] = field(default_factory=list)
    volunteers: tuple[str, ...] = ("V001", "V002")


def busy(c) -> Busy:
    """Donations, grants, allocation, release, project payments, an allowance, management costs, and
    reversals of a donation, an allocation, a payment and a session; hours; a survey. Runs one
    command at a time, or inside ``Ledger.bulk()`` (positions asked through ``positions_of``)."""
    b = Busy()
    led = c.ledger
    open_general(c, "GEN")
    open_general(c, "GEN2")
    open_restricted(c, "SF")
    c.ledger.open_fund(c.accountant, "DIST", "全区基金", "CNCF")  # district-wide: no home street-town
    open_general(c, "OTH", foundation="OTHERF", actor=c.other_accountant)
    donate(c, "GEN", 100_000, donor_name="张三", donor_public=True, received_on=date(2026, 3, 1))
    donate(c, "GEN", 20_000, donor_type="business", received_on=date(2026, 3, 2))
    mistake = donate(c, "GEN", 5_000, donor_name="张三", received_on=date(2026, 3, 3))
    donate(c, "SF", 80_000, received_on=date(2026, 3, 1))
    donate(c, "DIST", 30_000, street_town="hongqiao", donor_type="stationed_unit", donor_name="某驻区单位")
    donate(c, "OTH", 10_000, actor=c.other_accountant)
    led.record_grant(
        c.accountant, "SF", 50_000, source="welfare_lottery", payer="长宁区民政局", received_on=date(2026, 3, 5)
    )
    led.record_grant(c.accountant, "GEN", 40_000, source="government_purchase", payer="长宁区民政局")
    led.allocate(c.accountant, "GEN", "SF", 15_000, reason="配套资金", on=date(2026, 3, 6))
    wrong_allocation = led.allocate(c.accountant, "GEN", "GEN2", 10_000, reason="调剂")
    led.release_restriction(c.accountant, "SF", "GEN2", 5_000, basis="捐赠协议第5条期满解除")
    project(c, "P1", budget=100_000, milestones=[("首期", 40_000), ("尾期", 60_000)])
    project(c, "P2", budget=50_000)
    led.evaluate_project(c.accountant, "P1", score=90, respondents=10, survey_ref="问卷-1")
    led.evaluate_project(c.recorder, "P1", score=60, respondents=30, survey_ref="问卷-1")
    first = pay(c, "SF", 30_000, project="P1", milestone="首期")
    wrong_payment = pay(c, "GEN", 20_000, project="P2")
    pay(c, "GEN", 7_000, project="P2")
    pay(c, "GEN", 3_000, kind="allowance", payee="王社工", domain="elderly_care", street_town=TOWN)
    pay(c, "GEN", 2_000, kind="management", payee="长宁区社区基金会")
    pay(c, "DIST", 4_000, kind="allowance", payee="赵社工", domain="child_welfare", street_town="hongqiao")
    rejected = request(c, "GEN", 1_000, project="P2")
    led.reject_disbursement(c.approver, rejected, reason="材料不全")
    pending = request(c, "SF", 6_000, project="P1", milestone="尾期")
    waiting = approved(c, "GEN", 2_500, project="P2")
    b.disbursements = [first.ident, wrong_payment.ident, rejected, pending, waiting]
    register_volunteer(c, "V001")
    register_volunteer(c, "V002")
    record_hours(c, time(9), time(11))
    wrong_session = record_hours(c, time(14), time(15, 30))
    record_hours(c, time(13), time(0), on=date(2026, 3, 2))
    record_hours(c, time(9), time(10), volunteer="V002")
    # corrections: a donation, an allocation (from its incoming leg), a payment (from its Disbursement.Paid), a session
    led.reverse(c.accountant, led.positions_of(mistake)[0], reason="重复录入")
    led.reverse(c.accountant, led.positions_of(wrong_allocation)[1], reason="调错基金")
    disbursement_paid = next(
        p
        for p, (s, _) in zip(led.positions_of(wrong_payment), wrong_payment.streams, strict=True)
        if s.startswith("disbursement:")
    )
    led.reverse(c.accountant, disbursement_paid, reason="承接方退回")
    led.reverse(c.recorder, led.positions_of(wrong_session)[0], reason="时段录错")
    return b


def more(c, n: int = 3) -> None:
    """A few more events after the first run."""
    for i in range(n):
        donate(c, "GEN", 1_000 + i, donor_name=f"后来者{i}")
    c.ledger.record_grant(c.accountant, "SF", 9_000, source="venture_philanthropy", payer="区社会组织服务中心")


# --- the views agree with the ledger -------------------------------------------------------------


def test_views_agree_with_aggregates_and_postings(cast):
    b = busy(cast)
    led = cast.ledger
    p = Projections(led)
    assert p.run() == led.recorder.max_notification_id()
    v = views(p)

    for code in b.funds:
        assert v["view_funds"][(code,)]["balance"] == led.fund(code).balance, code
    for code in b.projects:
        row, aggregate = v["view_projects"][(code,)], led.project(code)
        assert (row["paid"], row["payments"], row["budget"]) == (
            aggregate.paid,
            len(aggregate.payments),
            aggregate.budget,
        )
    for number in b.disbursements:
        assert v["view_disbursements"][(number,)]["status"] == led.disbursement(number).status
    for number in b.volunteers:
        sessions = led.volunteer(number).sessions.values()
        assert v["view_volunteers"][(number,)]["minutes"] == sum(end - start for _, start, end, _ in sessions)
        assert v["view_volunteers"][(number,)]["sessions"] == len(sessions)

    totals = postings(led)
    restricted = sum(led.fund(code).restricted_part for code in b.funds if led.fund(code).restricted)
    designated = sum(r["balance"] for r in v["view_funds"].values() if r["restricted"]) - restricted
    unrestricted = sum(r["balance"] for r in v["view_funds"].values() if not r["restricted"])
    assert restricted == -sum(a for k, a in totals.items() if k.startswith("Income:Restricted"))
    assert unrestricted + designated == -sum(a for k, a in totals.items()
                                             if k.startswith(("Income:Unrestricted", "Expenses:")))
    for code in b.funds:
        assert v["view_funds"][(code,)]["balance"] == totals[f"Assets:Funds:{code}"]
    assert totals["Equity:Interfund"] == 0
    for code in b.projects:
        assert v["view_projects"][(code,)]["paid"] == totals.get(f"Expenses:Programs:{code}", 0)

    # the hand-checkable figures of the busy day
    assert led.fund("GEN").balance == 100_000 + 20_000 + 40_000 - 15_000 - 7_000 - 3_000 - 2_000
    assert v["view_funds"][("GEN",)]["reversed"] == 5_000 + 10_000 + 20_000
    assert v["view_funds"][("GEN",)]["income"] == 160_000 and v["view_funds"][("GEN",)]["spent"] == 12_000
    p1, p2 = v["view_projects"][("P1",)], v["view_projects"][("P2",)]
    assert (p1["requested"], p1["approved"], p1["paid"], p1["respondents"], p1["satisfied"]) == (
        6_000,
        30_000,
        30_000,
        40,
        2_700,
    )
    assert (p2["requested"], p2["approved"], p2["paid"], p2["payments"]) == (0, 7_000 + 2_500, 7_000, 1)
    assert v["view_project_milestones"][("P1", "首期")]["paid"] == 30_000
    income = {k: r["amount"] for k, r in v["view_town_income"].items() if r["amount"]}
    assert income == {
        (TOWN, "donation:resident"): 100_000 + 80_000 + 10_000,
        (TOWN, "donation:business"): 20_000,
        (TOWN, "grant:welfare_lottery"): 50_000,
        (TOWN, "grant:government_purchase"): 40_000,
        ("hongqiao", "donation:stationed_unit"): 30_000,
    }
    spending = {k: r["amount"] for k, r in v["view_town_spending"].items() if r["amount"]}
    assert spending == {
        (TOWN, "project"): 37_000,
        (TOWN, "allowance"): 3_000,
        ("hongqiao", "allowance"): 4_000,
        (streettowns.DISTRICT, "management"): 2_000,
    }
    zhang = streettowns.donor_key({"donor_name": "张三"}, "")
    assert v["view_town_donors"][(TOWN, zhang)]["gifts"] == 1  # the reversed second gift is uncounted
    assert v["view_town_communities"] == {
        (TOWN, "虹古居委"): {"street_town": TOWN, "community": "虹古居委", "organisations": 1}
    }
    assert v["view_town_hours"][(TOWN, "elderly_care")]["minutes"] == 120 + 660 + 60
    assert len(v["view_corrections"]) == 5  # donation, both allocation legs, payment, session
    assert {r["reverses_type"] for r in v["view_corrections"].values()} == {
        "Fund.DonationReceived",
        "Fund.AllocatedIn",
        "Disbursement.Paid",
        "Volunteer.ServiceRecorded",
    }

    assert v == folded(verified_log(led))


def test_a_fund_balance_on_any_date_is_the_sum_of_daily_movements(cast):
    busy(cast)
    p = Projections(cast.ledger)
    p.run()
    today = cast.ledger.today().isoformat()
    daily = p.rows(funds.DAILY, "fund = ? AND day <= ?", ("GEN", today))
    assert sum(r["delta"] for r in daily) == cast.ledger.fund("GEN").balance
    on_march_second = p.rows(funds.DAILY, "fund = ? AND day <= ?", ("GEN", "2026-03-02"))
    assert sum(r["delta"] for r in on_march_second) == 120_000


# --- exactly once --------------------------------------------------------------------------------


def test_running_in_steps_equals_one_run_and_running_again_folds_nothing(cast):
    busy(cast)
    log = verified_log(cast.ledger)
    p = Projections(cast.ledger, batch=4)
    done = 0
    for step in (1, 2, 3, 5, 7, 11):
        assert p.run(limit=step) == step
        done += step
        assert p.position() == log[done - 1].position
        assert views(p) == folded(log[:done])
    assert p.run(limit=len(log)) == len(log) - done
    stepwise = views(p)
    assert p.run() == 0
    assert views(p) == stepwise
    assert p.position() == log[-1].position
    assert stepwise == folded(log)


def test_runs_between_commands_equal_one_run(cast):
    p = Projections(cast.ledger, batch=2)
    open_general(cast, "GEN")
    p.run()
    busy_steps = [
        lambda: donate(cast, "GEN", 5_000, donor_name="张三"),
        lambda: project(cast, "P1"),
        lambda: pay(cast, "GEN", 1_000, project="P1"),
        lambda: register_volunteer(cast),
        lambda: record_hours(cast, time(9), time(10)),
    ]
    for step in busy_steps:
        step()
        p.run(limit=1)
    p.run()
    assert views(p) == folded(verified_log(cast.ledger))
    incremental = views(p)
    assert p.rebuild() == cast.ledger.recorder.max_notification_id()
    assert views(p) == incremental


def test_rebuild_equals_incremental(cast):
    busy(cast)
    p = Projections(cast.ledger, batch=7)
    p.run(limit=20)
    more(cast)
    p.run()
    incremental = views(p)
    assert p.rebuild() == cast.ledger.recorder.max_notification_id()
    assert views(p) == incremental
    assert p.position() == cast.ledger.recorder.max_notification_id()


def test_status_counts_the_unfolded_events(cast):
    busy(cast)
    p = Projections(cast.ledger)
    head = cast.ledger.recorder.max_notification_id()
    log = verified_log(cast.ledger)
    assert (p.status().position, p.status().head, p.status().lag) == (0, head, len(log))
    p.run(limit=10)
    assert (p.status().position, p.status().lag) == (log[9].position, len(log) - 10)
    p.run()
    assert p.status().lag == 0
    more(cast, 2)
    assert p.status().lag == 3 and p.status().head == head + 3
    p.run()
    assert p.status() == runner.Status(head + 3, head + 3, 0)


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("after", [0, 1, 7, 40])
def test_a_crash_mid_batch_writes_nothing_and_the_next_run_completes(cast, monkeypatch, after):
    busy(cast)
    p = Projections(cast.ledger)
    p.run(limit=15)
    more(cast)
    before, position = views(p), p.position()
    applied = 0
    real_write = Projections._write

    class CrashingCursor:
        """Passes statements through until the power is cut after ``after`` row writes."""

        def __init__(self, cursor):
            self.cursor = cursor

        def executemany(self, statement, rows):
            nonlocal applied
            for row in rows:
                if applied == after:
                    raise Crash("power cut")
                self.cursor.executemany(statement, [row])
                applied += 1

    def write_then_crash(self, cursor, batch, *digests):
        return real_write(self, CrashingCursor(cursor), batch, *digests)

    monkeypatch.setattr(Projections, "_write", write_then_crash)
    with pytest.raises(Crash):
        p.run()
    monkeypatch.undo()
    assert applied == after
    assert p.position() == position
    assert views(p) == before
    log = verified_log(cast.ledger)
    assert p.run() == len([e for e in log if e.position > position])
    assert views(p) == folded(log)


def test_a_fold_that_fails_leaves_the_batch_unwritten(cast, monkeypatch):
    busy(cast)
    p = Projections(cast.ledger, batch=1000)
    real_fold = projects.fold

    def fold_failing_on_payments(event, read):
        if event.type == "Project.PaymentRecorded":
            raise Crash("bug in a view")
        return real_fold(event, read)

    monkeypatch.setattr(projects, "fold", fold_failing_on_payments)
    with pytest.raises(Crash):
        p.run()
    assert p.position() == 0
    assert all(not rows for rows in views(p).values())
    monkeypatch.undo()
    p.run()
    assert views(p) == folded(verified_log(cast.ledger))


@pytest.mark.parametrize("separate_ledgers", [False, True], ids=["one-process", "two-processes"])
def test_two_runners_at_once_count_every_event_once(cast, database_url, tmp_path, separate_ledgers):
    busy(cast)
    more(cast, 10)
    others = []
    if separate_ledgers:
        others = [Ledger(Settings(data_dir=tmp_path / f"data{i}"), database_url=database_url) for i in range(2)]
        runners = [Projections(o, batch=batch) for o, batch in zip(others, (3, 5), strict=True)]
    else:
        runners = [Projections(cast.ledger, batch=3), Projections(cast.ledger, batch=5)]
    sqlite = not is_postgres(database_url)
    if sqlite:
        # Should a SQLite batch still fail (a busy database), it must leave nothing behind,
        # and the retry must not count anything twice.
        for r in runners:
            r.ledger.recorder.datastore.pool.pool_timeout = 0.5
    start = threading.Barrier(len(runners))
    errors: list[BaseException] = []
    failed_batches: list[BaseException] = []

    def go(p: Projections) -> None:
        try:
            start.wait()
            for _ in range(200):
                try:
                    if p.run(limit=4) == 0:
                        return
                except (OperationalError, ConnectionUnavailableError) as exc:
                    if not sqlite:
                        raise
                    failed_batches.append(exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(r,)) for r in runners]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        for r in runners:
            r.run()
        expected = folded(verified_log(cast.ledger))
        for r in runners:
            assert views(r) == expected
    finally:
        for o in others:
            o.close()


@pytest.fixture
def on_sqlite(tmp_path):
    c = found_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path)
    try:
        yield c
    finally:
        c.ledger.close()


def test_sqlite_a_command_during_a_batch_in_the_same_process_is_not_refused(on_sqlite, monkeypatch):
    c = on_sqlite
    busy(c)
    c.ledger.recorder.datastore.pool.pool_timeout = 1.0  # the deadlock lasts this long instead of 5 s
    p = Projections(c.ledger)
    reading, outcome = threading.Event(), {}
    real_select = c.ledger.recorder.select_notifications

    def slow_select(*args, **kwargs):  # a batch that takes a moment to read (a busy disk, a long log)
        if threading.current_thread() is runner_thread:
            reading.set()
            sleep(0.4)
        return real_select(*args, **kwargs)

    monkeypatch.setattr(c.ledger.recorder, "select_notifications", slow_select)

    def command() -> None:
        reading.wait(5)
        try:
            donate(c, "GEN", 1_234)
            outcome["command"] = "ok"
        except Exception as exc:  # noqa: BLE001
            outcome["command"] = repr(exc)

    runner_thread = threading.Thread(target=lambda: outcome.setdefault("run", p.run()))
    writer = threading.Thread(target=command)
    writer.start()
    runner_thread.start()
    runner_thread.join(30)
    writer.join(30)
    assert outcome["command"] == "ok"


def test_sqlite_a_commit_from_another_process_during_a_batch_does_not_fail_the_run(on_sqlite, tmp_path, monkeypatch):
    c = on_sqlite
    busy(c)
    other = Ledger(Settings(data_dir=tmp_path / "other"), database_url=c.ledger.database_url)
    try:
        p = Projections(c.ledger)
        real_select = c.ledger.recorder.select_notifications
        once = []

        def select_while_another_process_writes(*args, **kwargs):
            if not once:
                once.append(True)
                other.record_donation(c.accountant, "GEN", 4_321, donor_type="resident")
            return real_select(*args, **kwargs)

        monkeypatch.setattr(c.ledger.recorder, "select_notifications", select_while_another_process_writes)
        try:
            p.run()
        finally:
            monkeypatch.undo()
        p.run()
        assert views(p) == folded(verified_log(c.ledger))
    finally:
        other.close()


# --- verification --------------------------------------------------------------------------------


def _tamper(ledger: Ledger, database_url: str, position: int) -> None:
    """Flip one digit of the amount in the stored bytes of the event at ``position``."""
    raw = RawSQL(ledger, database_url)
    [(state,)] = raw.run((f"SELECT state FROM {raw.table} WHERE {raw.pos} = ?", (position,)))[0]
    state = bytes(state)
    at = state.index(b'"amount":') + len(b'"amount":')
    digit = state[at : at + 1]
    damaged = state[:at] + (b"9" if digit != b"9" else b"8") + state[at + 1 :]
    raw.run((f"UPDATE {raw.table} SET state = ? WHERE {raw.pos} = ?", (damaged, position)))


@pytest.mark.parametrize("batch", [1, 1000])
def test_a_tampered_event_stops_the_runner_and_nothing_after_it_is_folded(cast, database_url, batch):
    busy(cast)
    p = Projections(cast.ledger, batch=batch)
    p.run()
    before_more = views(p)
    position = p.position()
    open_general(cast, "LATE")
    donate(cast, "LATE", 1_000)
    forged = donate(cast, "GEN", 2_345).positions[0]
    donate(cast, "GEN", 1_111)
    genuine = verified_log(cast.ledger)
    _tamper(cast.ledger, database_url, forged)
    with pytest.raises(TamperedEvent):
        p.run()
    with pytest.raises(TamperedEvent):
        p.run()  # it stays stopped
    if batch == 1:
        # everything before the forged event is folded, nothing from it on
        assert p.position() == max(e.position for e in genuine if e.position < forged)
        assert views(p) == folded([e for e in genuine if e.position < forged])
    else:
        # the whole batch holding it is left unwritten
        assert p.position() == position
        assert views(p) == before_more
    assert ("GEN", "2345") not in {(r["fund"], str(r["amount"])) for r in views(p)["view_fund_entries"].values()}
    with pytest.raises(TamperedEvent):
        p.rebuild()


# --- a rebuild trusts what a checkpoint vouches for, and nothing else --------------------------------


def count_verifications(monkeypatch, ledger: Ledger) -> list[int]:
    """Positions of the events the ledger's signing mapper verifies from now on."""
    seen: list[int] = []
    real = ledger.mapper.to_domain_event

    def counting(stored):
        seen.append(stored.id)
        return real(stored)

    monkeypatch.setattr(ledger.mapper, "to_domain_event", counting)
    return seen


def test_a_rebuild_verifies_only_the_events_after_the_newest_checkpoint(cast, monkeypatch):
    busy(cast)
    signed = cast.ledger.sign_checkpoint(log_actor(cast)).checkpoint
    more(cast)
    log = verified_log(cast.ledger)
    p = Projections(cast.ledger, batch=5)
    p.run(limit=7)
    p.run()
    incremental = views(p)
    seen = count_verifications(monkeypatch, cast.ledger)
    assert p.rebuild() == len(log)
    assert views(p) == incremental == folded(log)
    assert seen == [e.position for e in log[signed.size:]]  # the vouched-for prefix is not re-verified
    seen.clear()
    assert p.rebuild(verify_all=True) == len(log)
    assert views(p) == incremental
    assert seen == [e.position for e in log]


def test_a_first_run_into_empty_views_folds_the_log_as_a_rebuild_does(cast, monkeypatch):
    busy(cast)
    signed = cast.ledger.sign_checkpoint(log_actor(cast)).checkpoint
    log = verified_log(cast.ledger)
    p = Projections(cast.ledger)
    seen = count_verifications(monkeypatch, cast.ledger)
    assert p.run() == len(log)
    assert views(p) == folded(log) and p.position() == log[-1].position
    assert seen == [e.position for e in log[signed.size:]]


@pytest.mark.parametrize("tamper", ["rewrite", "delete", "restream"])
def test_a_rebuild_refuses_a_log_that_differs_from_its_checkpoint_and_keeps_the_old_views(cast, database_url, tamper):
    busy(cast)
    log = verified_log(cast.ledger)
    cast.ledger.sign_checkpoint(log_actor(cast))
    p = Projections(cast.ledger)
    p.run()
    before, position = views(p), p.position()
    donation = next(e for e in log if e.type == "Fund.DonationReceived" and e.payload["amount"] == 20_000)
    raw = RawSQL(cast.ledger, database_url)
    if tamper == "rewrite":
        _tamper(cast.ledger, database_url, donation.position)
    elif tamper == "delete":
        raw.run((f"DELETE FROM {raw.table} WHERE {raw.pos} = ?", (donation.position,)))
    else:  # the row claims another stream than the one its bytes were signed for
        raw.run((f"UPDATE {raw.table} SET originator_id = ? WHERE {raw.pos} = ?", ("fund:ELSEWHERE", donation.position)))
    with pytest.raises(TamperedEvent) as refused:
        p.rebuild()
    if tamper == "rewrite":
        assert (refused.value.stream, refused.value.version) == (donation.stream, donation.version)
    elif tamper == "restream":
        assert f"signed as {donation.stream} v{donation.version}" in str(refused.value)
    assert views(p) == before and p.position() == position  # rolled back: the old views stay
    with pytest.raises(TamperedEvent):
        p.rebuild(verify_all=True)


def test_every_view_names_each_event_type_it_folds(cast):
    """The runner only calls the folds a type concerns: every other fold yields nothing for it."""
    busy(cast)
    store = MemoryStore(runner.TABLES)
    for event in verified_log(cast.ledger):
        for view in runner.VIEWS:
            changes = list(view.fold(event, store.read))
            assert not changes or event.type in view.TYPES, (view.__name__, event.type)
        store.apply(runner.changes_for(event, store.read))


# --- health --------------------------------------------------------------------------------------


def test_health_reports_the_projections_lag(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 5_000)
    head = cast.ledger.recorder.max_notification_id()
    # No background runner: the lag stays until something folds (tests/e2e/test_public_reads.py has the runner)
    settings = cast.ledger.settings.model_copy(update={"views_interval": 0})
    with TestClient(create_app(settings, ledger=cast.ledger)) as client:
        body = client.get("/health").json()
        assert (body["events"], body["projections_position"], body["projections_lag"]) == (head, 0, head)
        client.app.state.projections.run()
        body = client.get("/health").json()
        assert (body["projections_position"], body["projections_lag"]) == (head, 0)
        donate(cast, "GEN", 1_000)
        donate(cast, "GEN", 2_000)
        body = client.get("/health").json()
        assert (body["events"], body["projections_position"], body["projections_lag"]) == (head + 2, head, 2)
        Projections(cast.ledger).run(limit=1)  # another runner (the CLI) shares the same tables
        assert client.get("/health").json()["projections_lag"] == 1


def test_hours_views_match_the_sessions(cast):
    busy(cast)
    p = Projections(cast.ledger)
    p.run()
    live = {(number, record) for number in ("V001", "V002") for record in cast.ledger.volunteer(number).sessions}
    rows = p.rows(hours.SESSIONS)
    assert {(r["volunteer"], r["record"]) for r in rows if r["reversed"] is None} == live
    assert len([r for r in rows if r["reversed"]]) == 1
    assert sum(r["minutes"] for r in p.rows(hours.BY_ORGANISATION)) == sum(
        r["minutes"] for r in rows if r["reversed"] is None
    )


def test_views_built_to_an_older_shape_are_dropped_and_folded_again(cast):
    busy(cast)
    first = Projections(cast.ledger)
    first.run()
    before = views(first)
    # Pretend the tables were built by an earlier version of the views, with a stale column set.
    t = first.tables
    with t.transaction(commit=True) as cursor:
        cursor.execute(f"UPDATE {t.table(runner.POSITION)} SET position = ? WHERE name = 'shape'", (runner.SHAPE + 1,))
        cursor.execute(f"ALTER TABLE {t.table(funds.FUNDS.name)} DROP COLUMN reversed")
    again = Projections(cast.ledger)
    assert again.status().position == 0 and again.rows(funds.FUNDS) == []
    again.run()
    assert views(again) == before


def test_declared_indexes_exist_and_serve_the_fund_page_query(cast):
    """The public fund page lists a fund's gifts a page at a time: the (fund, day, entry) index is built with the
    views, so the query does not scan every gift of the district."""
    busy(cast)
    projections = Projections(cast.ledger)
    projections.run()
    t = projections.tables
    with t.transaction(commit=False) as cursor:
        if t.postgres:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = ? AND tablename = ?",
                           (t.datastore.schema, donations.DONATIONS.name))
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                           (donations.DONATIONS.name,))
        names = {row[0] for row in cursor.fetchall()}
    assert "view_public_donations_by_fund_day_entry" in names  # the gifts page one at a time, newest first
    gifts = projections.rows(donations.DONATIONS)
    fund = gifts[0]["fund"]
    newest = projections.rows(donations.DONATIONS, "fund = ?", (fund,), order="day DESC, entry")[:3]
    assert [g["day"] for g in newest] == sorted((g["day"] for g in gifts if g["fund"] == fund), reverse=True)[:3]
