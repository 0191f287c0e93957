"""Bulk import (``Ledger.bulk``), on SQLite and PostgreSQL: the same commands with every rule
checked, written in batches; the rows are the same kind of signed events as one at a time, they
verify, the views fold them like any others, the audit passes, and a failure writes nothing of
its batch."""

from __future__ import annotations

from datetime import date, time

import pytest
from auditkit import audited
from conftest import signer_of
from replayed import folded, verified_log, views
from test_projections import busy
from vocabulary import TOWN, donate, open_general, project, register_volunteer
from vocabulary import hours as record_hours

from ledger.bulk import BulkAborted
from ledger.errors import AlreadyExists, InsufficientFunds, KeyRevoked, MakerChecker, NotAuthorised
from ledger.signing import SigningKey
from ledger.verify import check_log
from projections.runner import Projections


def head(c) -> int:
    return c.ledger.recorder.max_notification_id() or 0


def test_a_busy_history_in_bulk_verifies_folds_and_audits_like_one_at_a_time(cast):
    before = head(cast)
    with cast.ledger.bulk(batch_events=7) as bulk:
        b = busy(cast)
        assert bulk.batches > 3  # the corrections' reads wrote what was pending; full batches too
    assert head(cast) == before + bulk.written
    assert all(check.ok for check in check_log(cast.ledger.log_positions()))
    # the same rows as one at a time: signed notes, each by the key of the command's actor
    stored = list(cast.ledger.log_positions())[before:]
    assert {s.topic for s in stored} >= {"Fund.DonationReceived", "Disbursement.Approved", "Fund.Paid",
                                         "Volunteer.ServiceReversed", "Project.PaymentReversed"}
    approved = [s.id for s in stored if s.topic == "Disbursement.Approved"]
    assert {signer_of(cast.ledger, p) for p in approved} == {"appr"}
    assert {signer_of(cast.ledger, s.id) for s in stored if s.topic == "Volunteer.ServiceRecorded"} == {"rec-leling"}
    # the rules held across batches: balances as the commands left them, one pending disbursement
    assert cast.ledger.disbursement(b.disbursements[3]).status == "requested"
    p = Projections(cast.ledger, batch=50)
    p.run()
    assert views(p) == folded(verified_log(cast.ledger))
    incremental = views(p)
    assert p.rebuild() == head(cast)
    assert views(p) == incremental
    assert audited(cast.ledger).ok


def test_commands_in_a_batch_see_its_unsaved_events_and_directory(cast):
    open_general(cast, "GEN")
    led = cast.ledger
    with led.bulk(batch_events=1000) as bulk:
        donate(cast, "GEN", 10_000)
        assert led.fund("GEN").balance == 10_000  # a pending donation counts for the next load
        project(cast, "P1")
        number = led.request_disbursement(cast.accountant, "GEN", 6_000, project="P1", purpose="助老").ident
        led.approve_disbursement(cast.approver, number, approval_ref="批复-1")
        led.pay_disbursement(cast.accountant, number)
        # a principal registered in the batch acts in it, before anything is written
        key = SigningKey.generate("rec-new")
        led.register_principal(cast.root, "rec-new", "新记录人", ["recorder"], organisation="LELING",
                               key=key.verifier)
        register_volunteer(cast)
        from ledger.application import Actor

        recorded = record_hours(cast, time(9), time(10), actor=Actor("rec-new", key))
        assert recorded.positions == () and recorded.streams == (("volunteer:V001", 2),)
        assert bulk.pending > 0 and bulk.written == 0
        [position] = led.positions_of(recorded)  # written now, so it has a position
        assert bulk.pending == 0
    assert signer_of(led, position) == "rec-new"
    assert led.fund("GEN").balance == 4_000
    assert led.disbursement(number).status == "paid"


@pytest.mark.parametrize("refusal", ["overdraft", "maker-checker", "scope", "duplicate", "rotated-key"])
def test_a_refused_command_in_a_bulk_raises_its_error_and_the_batch_writes_nothing(cast, refusal):
    open_general(cast, "GEN")
    led = cast.ledger
    both = cast.actor("acct-appr", ["accountant", "approver"], foundation="CNCF")
    before = head(cast)
    errors = {"overdraft": InsufficientFunds, "maker-checker": MakerChecker, "scope": NotAuthorised,
              "duplicate": AlreadyExists, "rotated-key": KeyRevoked}
    with pytest.raises(errors[refusal]), led.bulk(batch_events=1000):
        donate(cast, "GEN", 5_000)
        project(cast, "P1")
        if refusal == "overdraft":
            led.request_disbursement(cast.accountant, "GEN", 5_001, project="P1", purpose="助老")
        elif refusal == "maker-checker":
            number = led.request_disbursement(both, "GEN", 1_000, project="P1", purpose="助老").ident
            led.approve_disbursement(both, number, approval_ref="自批")
        elif refusal == "scope":
            donate(cast, "GEN", 1_000, actor=cast.other_accountant)
        elif refusal == "duplicate":
            project(cast, "P1")  # pending, not yet written: still taken
        else:
            led.rotate_key(cast.root, "acct", SigningKey.generate("acct").verifier)
            donate(cast, "GEN", 1_000)  # the old key, rotated out earlier in the same batch
    assert head(cast) == before
    assert led.fund("GEN").balance == 0
    assert [k.key.key_id for k in led.directory().active_keys("acct")] == [cast.accountant.key.key_id]


def test_a_refusal_caught_inside_the_bulk_leaves_the_batch_as_it_was(cast):
    open_general(cast, "GEN")
    led = cast.ledger
    with led.bulk() as bulk:
        donate(cast, "GEN", 5_000)
        with pytest.raises(InsufficientFunds):
            led.request_disbursement(cast.accountant, "GEN", 9_000, kind="management", payee="基金会",
                                     purpose="办公")
        donate(cast, "GEN", 1_000)
        assert bulk.pending == 2
    assert led.fund("GEN").balance == 6_000


def test_a_command_that_fails_half_way_stops_the_bulk_and_its_batch_is_dropped(cast, monkeypatch):
    open_general(cast, "GEN")
    donate(cast, "GEN", 50_000)
    project(cast, "P1")
    led = cast.ledger
    number = led.request_disbursement(cast.accountant, "GEN", 1_000, project="P1", purpose="助老").ident
    led.approve_disbursement(cast.approver, number, approval_ref="批复-1")
    before = head(cast)
    from ledger.funds import Fund

    def broken(self, **_):
        raise InsufficientFunds("planted failure after the project changed", "模拟故障")

    with pytest.raises(BulkAborted), led.bulk() as bulk:
        donate(cast, "GEN", 7_000)
        with monkeypatch.context() as m:
            m.setattr(Fund, "pay", broken)
            with pytest.raises(InsufficientFunds):
                led.pay_disbursement(cast.accountant, number)  # the project took the payment, the fund failed
        donate(cast, "GEN", 1_000)  # refused: the batch holds a half-made change
    assert bulk.written == 0
    assert head(cast) == before
    assert led.project("P1").paid == 0 and led.fund("GEN").balance == 50_000


def test_batches_flushed_before_a_failure_stay_written(cast):
    open_general(cast, "GEN")
    led = cast.ledger
    before = head(cast)
    with pytest.raises(InsufficientFunds), led.bulk(batch_events=3) as bulk:
        for i in range(7):
            donate(cast, "GEN", 100 + i)
        led.request_disbursement(cast.accountant, "GEN", 10**6, kind="management", payee="基金会", purpose="办公")
    assert bulk.written == 6 and head(cast) == before + 6  # two full batches; the seventh donation dropped
    assert led.fund("GEN").balance == sum(100 + i for i in range(6))


def test_outside_bulk_commands_write_at_once_and_bulks_do_not_nest(cast):
    open_general(cast, "GEN")
    led = cast.ledger
    recorded = donate(cast, "GEN", 1_000)
    assert recorded.positions == (head(cast),)
    assert led.positions_of(recorded) == recorded.positions
    with led.bulk(), pytest.raises(RuntimeError), led.bulk():
        pass


def test_a_checkpoint_in_a_bulk_covers_the_batch_and_the_tree_takes_only_verified_events(cast, monkeypatch):
    from ledger.application import Actor
    from ledger.principals import LOG

    led = cast.ledger
    log_key = SigningKey.generate(led.origin)
    led.register_principal(cast.root, led.origin, "日志", [LOG], key=log_key.verifier)
    open_general(cast, "GEN")
    checked = []
    original = led.mapper.to_domain_event
    monkeypatch.setattr(led.mapper, "to_domain_event", lambda n: checked.append(getattr(n, "id", None)) or original(n))
    with led.bulk(batch_events=100):
        for i in range(5):
            donate(cast, "GEN", 1_000 + i, received_on=date(2026, 3, 1))
        stored = led.sign_checkpoint(Actor(led.origin, log_key))
    assert stored.checkpoint.size == head(cast) == led.merkle.size()
    bulk_positions = set(range(head(cast) - 4, head(cast) + 1))
    assert not bulk_positions & set(checked)  # sealed here, byte for byte: vouched, not verified again
    assert set(range(1, head(cast) - 4)) <= set(checked)  # the rest was verified as the tree grew
    assert led.fund("GEN").street_town == TOWN
