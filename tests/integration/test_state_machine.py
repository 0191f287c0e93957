"""The whole application as a hypothesis state machine, on SQLite and on PostgreSQL: money in and
out, maker-checker disbursements, volunteer hours, corrections, key rotation and revocation, signed
checkpoints and projection catch-up, in any order. A small model of what was sent predicts each
fund's balance and which payments and sessions must be refused; after every step no fund is
negative, each new event's postings balance and each new checkpoint is consistent with the one
before; the views equal a from-scratch fold whenever they catch up; at the end a rebuild equals
them and the audit of the whole log passes."""

from __future__ import annotations

import tempfile
import uuid
from datetime import date, time, timedelta
from pathlib import Path

import psycopg
import pytest
from agreements import agreement
from conftest import POSTGRES_URL, REQUIRE_POSTGRES, Cast, found_ledger, postgres_problem
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test
from replayed import balanced_books, folded, verified_log, views

from audits.bundle import collect
from audits.findings import CRITICAL
from audits.verify import audit
from ledger import merkle
from ledger.application import Actor
from ledger.checkpoints import open_checkpoint
from ledger.errors import KeyRevoked, LedgerError
from ledger.principals import LOG
from ledger.signing import SigningKey
from projections.runner import Projections

TOWN = "xianxiaxincun"
START = date(2026, 3, 1)
FUNDS = ("GEN", "AUX", "SPECIAL")
"""Two unrestricted funds and a special fund for elderly care in TOWN."""
UNRESTRICTED = FUNDS[:2]
VOLUNTEERS = ("V1", "V2")
BUDGET = 60_000
MONEY_IN = {"Fund.DonationReceived", "Fund.GrantReceived"}

fund = st.sampled_from(FUNDS)
fen = st.one_of(st.integers(1, 20_000), st.sampled_from([1, 5_000, 30_000]))


class Application(RuleBasedStateMachine):
    """One founded ledger per example; ``store`` is ``sqlite`` or ``postgres``."""

    store = "sqlite"
    requests = Bundle("requests")
    reversible = Bundle("reversible")

    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory()
        self.schema = None
        if self.store == "sqlite":
            url = f"sqlite:///{Path(self._tmp.name) / 'ledger.sqlite3'}"
        else:
            self.schema = f"t_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{self.schema}"')
            url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema={self.schema}"
        self.c: Cast = found_ledger(url, Path(self._tmp.name))
        led = self.c.ledger
        self.log_actor = Actor(led.origin, SigningKey.generate(led.origin))
        led.register_principal(self.c.root, led.origin, "账本日志", [LOG], key=self.log_actor.key.verifier)
        self.spare = self.c.actor("acct2", ["accountant"], foundation="CNCF")
        self.spare_revoked = False
        self.retired: list[Actor] = []
        for code in FUNDS:
            special = code == "SPECIAL"
            led.open_fund(self.c.accountant, code, f"{code} 基金", "CNCF", street_town=TOWN,
                          **({"kind": "special", "restricted": True, "purpose": "仙霞新村养老服务专项",
                              "domains": ["elderly_care"], "street_towns": [TOWN], "agreement": agreement(ref="协议-1")}
                             if special else {}))
        led.register_project(self.c.accountant, "P1", "长者助餐", street_town=TOWN, domain="elderly_care",
                             organisation="LELING", budget=BUDGET, funding_source="fund",
                             approval_ref="长民〔2026〕7号", reach=500, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
        for number in VOLUNTEERS:
            led.register_volunteer(self.c.recorder, number, "李四", TOWN, registered_on=date(2026, 1, 5))
        self.balance = dict.fromkeys(FUNDS, 0)
        """What each fund should hold, from the amounts of the commands that succeeded."""
        self.project_paid = 0
        self.sessions: dict[str, dict[str, tuple[date, int, int]]] = {v: {} for v in VOLUNTEERS}
        """Live service sessions per volunteer: record id → (day, start minute, end minute)."""
        self.projections = Projections(led, batch=7)
        self.checked_through = 0
        self.last_checkpoint = None

    @property
    def led(self):
        return self.c.ledger

    def head(self) -> int:
        return self.led.recorder.max_notification_id() or 0

    def refused(self, command, *rules: str) -> LedgerError:
        """Run a command that must be refused with one of ``rules`` and write nothing."""
        before = self.head()
        with pytest.raises(LedgerError) as err:
            command()
        assert err.value.rule in rules, err.value
        assert self.head() == before
        event(f"refused: {err.value.rule}")
        return err.value

    # --- money in --------------------------------------------------------------------------------

    @rule(target=reversible, code=fund, amount=fen, day=st.integers(0, 200), grant=st.booleans())
    def money_in(self, code, amount, day, grant):
        on = START + timedelta(days=day)
        if grant:
            recorded = self.led.record_grant(self.c.accountant, code, amount, source="government_purchase",
                                             payer="长宁区民政局", received_on=on)
        else:
            recorded = self.led.record_donation(self.c.accountant, code, amount, donor_type="resident",
                                                donor_name="张三", received_on=on)
        self.balance[code] += amount
        return ("in", recorded.positions[0], code, amount)

    @rule(target=reversible, source=st.sampled_from(UNRESTRICTED), amount=fen)
    def allocate(self, source, amount):
        target = UNRESTRICTED[1 - UNRESTRICTED.index(source)]
        if amount > self.balance[source]:
            self.refused(lambda: self.led.allocate(self.c.accountant, source, target, amount, reason="调剂"),
                         "no-overdraft")
            return ("none",)
        recorded = self.led.allocate(self.c.accountant, source, target, amount, reason="调剂")
        self.balance[source] -= amount
        self.balance[target] += amount
        return ("allocation", recorded.positions[0], source, amount, target)

    # --- disbursements (maker-checker) -----------------------------------------------------------

    @rule(target=requests, code=fund, amount=fen, project=st.booleans())
    def request(self, code, amount, project):
        spec = ({"kind": "project", "project": "P1"} if project else
                {"kind": "allowance", "payee": "王社工", "domain": "elderly_care", "street_town": TOWN})
        try:
            number = self.led.request_disbursement(self.c.accountant, code, amount, purpose="助老服务", **spec).ident
        except LedgerError as exc:
            assert exc.rule in ("no-overdraft", "within-budget"), exc
            assert amount > self.balance[code] or exc.rule == "within-budget"
            return ("none",)
        assert amount <= self.balance[code]
        return (number, code, amount, project)

    @rule(item=requests, reject=st.booleans())
    def decide(self, item, reject):
        if item[0] == "none":
            return
        number = item[0]
        try:
            if reject:
                self.led.reject_disbursement(self.c.approver, number, reason="材料不全")
            else:
                self.led.approve_disbursement(self.c.approver, number, approval_ref="批复-1")
        except LedgerError as exc:
            assert exc.rule in ("invalid-state", "no-overdraft"), exc

    @rule(target=reversible, code=fund, amount=fen, project=st.booleans())
    def pay_at_once(self, code, amount, project):
        """Request, approve and pay in a row: most payments are made this way."""
        item = self.request(code, amount, project)
        if item[0] != "none":
            self.decide(item, reject=False)
        return self.pay(item)

    @rule(target=reversible, item=requests)
    def pay(self, item):
        if item[0] == "none":
            return ("none",)
        number, code, amount, project = item
        status = self.led.disbursement(number).status
        if status != "approved":
            self.refused(lambda: self.led.pay_disbursement(self.c.accountant, number), "invalid-state")
            return ("none",)
        over_budget = project and self.project_paid + amount > BUDGET
        if amount > self.balance[code] or over_budget:
            self.refused(lambda: self.led.pay_disbursement(self.c.accountant, number), "no-overdraft",
                         "within-budget")
            return ("none",)
        recorded = self.led.pay_disbursement(self.c.accountant, number)
        assert self.led.disbursement(number).status == "paid"
        event("paid")
        self.balance[code] -= amount
        self.project_paid += amount if project else 0
        return ("payment", recorded.positions[0], code, amount, project)

    # --- volunteer hours -------------------------------------------------------------------------

    @rule(target=reversible, volunteer=st.sampled_from(VOLUNTEERS), day=st.integers(0, 5),
          hour=st.integers(0, 22), length=st.integers(1, 3))
    def hours(self, volunteer, day, hour, length):
        on = START + timedelta(days=day)
        begin, end = hour * 60, min((hour + length) * 60, 24 * 60)
        stop = time(0) if end == 24 * 60 else time(end // 60)
        overlaps = any(d == on and b < end and begin < e for d, b, e in self.sessions[volunteer].values())

        def record():
            return self.led.record_hours(self.c.recorder, volunteer, organisation="LELING", domain="elderly_care",
                                         on=on, start=time(hour), end=stop, content="陪伴独居老人")

        if overlaps:
            self.refused(record, "hours-no-overlap")
            return ("none",)
        recorded = record()
        self.sessions[volunteer][recorded.ident] = (on, begin, end)
        return ("hours", recorded.positions[0], volunteer, recorded.ident)

    # --- corrections -----------------------------------------------------------------------------

    @rule(item=consumes(reversible))
    def correct(self, item):
        kind = item[0]
        if kind == "none":
            return
        position = item[1]
        actor = self.c.recorder if kind == "hours" else self.c.accountant
        if kind == "in" and item[3] > self.balance[item[2]]:
            self.refused(lambda: self.led.reverse(actor, position, reason="更正"), "no-overdraft")
            return
        if kind == "allocation" and item[3] > self.balance[item[4]]:
            self.refused(lambda: self.led.reverse(actor, position, reason="更正"), "no-overdraft")
            return
        self.led.reverse(actor, position, reason="重复录入")
        event(f"reversed: {kind}")
        if kind == "in":
            self.balance[item[2]] -= item[3]
        elif kind == "allocation":
            self.balance[item[2]] += item[3]
            self.balance[item[4]] -= item[3]
        elif kind == "payment":
            self.balance[item[2]] += item[3]
            self.project_paid -= item[3] if item[4] else 0
        else:
            del self.sessions[item[2]][item[3]]
        # The same event cannot be reversed twice.
        self.refused(lambda: self.led.reverse(actor, position, reason="再次更正"), "reversed-once", "invalid-state")

    # --- keys ------------------------------------------------------------------------------------

    @rule()
    def rotate_accountant_key(self):
        new = SigningKey.generate("acct")
        self.led.rotate_key(self.c.root, "acct", new.verifier)
        self.retired.append(self.c.accountant)
        self.c.accountant = Actor("acct", new)

    @rule(code=fund)
    def retired_key_is_refused(self, code):
        if self.retired:
            self.refused(lambda: self.led.record_donation(self.retired[-1], code, 100, donor_type="resident"),
                         KeyRevoked.rule)

    @rule()
    def revoke_or_restore_spare_accountant(self):
        if self.spare_revoked:
            self.spare = Actor("acct2", SigningKey.generate("acct2"))
            self.led.add_key(self.c.root, "acct2", self.spare.key.verifier)
        else:
            self.led.revoke_key(self.c.root, self.spare.key.key_id, reason="离职")
        self.spare_revoked = not self.spare_revoked

    @rule(target=reversible, code=fund, amount=fen)
    def spare_accountant_donates(self, code, amount):
        def donate():
            return self.led.record_donation(self.spare, code, amount, donor_type="business")

        if self.spare_revoked:
            self.refused(donate, KeyRevoked.rule)
            return ("none",)
        recorded = donate()
        self.balance[code] += amount
        return ("in", recorded.positions[0], code, amount)

    # --- the verifiable log and the read side ----------------------------------------------------

    @rule()
    def checkpoint(self):
        stored = self.led.sign_checkpoint(self.log_actor)
        assert stored.checkpoint.size == self.led.merkle.size()

    @rule(limit=st.one_of(st.none(), st.integers(1, 10)))
    def catch_up(self, limit):
        self.projections.run(limit=limit)
        position = self.projections.position()
        assert views(self.projections) == folded([e for e in verified_log(self.led) if e.position <= position])

    # --- after every step ------------------------------------------------------------------------

    @invariant()
    def funds_hold_what_was_sent_and_never_go_negative(self):
        for code in FUNDS:
            assert self.led.fund(code).balance == self.balance[code] >= 0, code
        assert self.led.project("P1").paid == self.project_paid <= BUDGET

    @invariant()
    def new_events_postings_balance(self):
        new = [e for e in verified_log(self.led) if e.position > self.checked_through]
        balanced_books(new)
        self.checked_through = max((e.position for e in new), default=self.checked_through)

    @invariant()
    def each_checkpoint_consistent_with_the_one_before(self):
        latest = self.led.checkpoints.latest()
        if latest is None or latest == self.last_checkpoint:
            return
        checkpoint, _ = open_checkpoint(latest.note, self.log_actor.key.verifier)
        assert checkpoint.root == self.led.merkle.root(checkpoint.size)
        if self.last_checkpoint is not None:
            old = self.last_checkpoint.checkpoint
            proof = self.led.merkle.consistency_proof(old.size, checkpoint.size)
            assert merkle.verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, proof)
        self.last_checkpoint = latest

    def teardown(self):
        try:
            led = self.led
            self.projections.run()
            incremental = views(self.projections)
            log = verified_log(led)
            assert incremental == folded(log)
            assert self.projections.rebuild() == len(log)
            assert views(self.projections) == incremental
            by_account = balanced_books(log)
            for code in FUNDS:
                assert by_account.get(f"Assets:Funds:{code}", 0) == self.balance[code]
                assert incremental["view_funds"][(code,)]["balance"] == self.balance[code]
            led.sign_checkpoint(self.log_actor)
            self.each_checkpoint_consistent_with_the_one_before()
            result = audit(collect(led), reference=led.reference, log_key=self.log_actor.key.verifier)
            assert result.ok, result.integrity_failures
            bad = [f for f in result.findings if f.severity == CRITICAL or f.rule in _MUST_NOT_FIND]
            assert not bad, bad
        finally:
            self.c.ledger.close()
            self._tmp.cleanup()
            if self.schema is not None:
                with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')


_MUST_NOT_FIND = ("funds.overdraft", "funds.domain", "funds.street-town", "maker-checker.same-person",
                  "maker-checker.unapproved", "maker-checker.order", "projects.budget", "projects.payee",
                  "hours.overlap", "hours.recorder", "hours.times")
"""Rules the ledger enforces when writing, so a replay must never find them broken."""


class OnPostgres(Application):
    store = "postgres"


_SETTINGS = {"deadline": None, "derandomize": True, "database": None, "print_blob": True,
             "suppress_health_check": [HealthCheck.too_slow]}


def test_the_application_on_sqlite():
    run_state_machine_as_test(Application, settings=settings(max_examples=10, stateful_step_count=40, **_SETTINGS))


def test_the_application_on_postgres():
    problem = postgres_problem()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"WUSHE_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: {problem}")
        pytest.skip(f"PostgreSQL unavailable at {POSTGRES_URL}: {problem}")
    run_state_machine_as_test(OnPostgres, settings=settings(max_examples=5, stateful_step_count=40, **_SETTINGS))
