"""The saved, signed audit state and the incremental audit from it, on SQLite and PostgreSQL: an
incremental audit finds what a full audit of the same log finds (findings and figures), reading
only the events after the state; a breach among the new events is found; a log that does not
extend the state, a state signed by another key, an edited state or a truncated log is refused."""

from __future__ import annotations

import base64
import json
from datetime import date, time

import pytest
from auditkit import plant
from test_merkle_log import Raw
from vocabulary import donate, hours, log_actor, open_general, open_restricted, pay, register_volunteer

from audits import bundle as bundles
from audits import state as states
from audits.tree import LeafTree
from audits.verify import StateMismatch, audit, resume
from ledger.checkpoints import Checkpoint
from ledger.signing import SigningKey, make_note


@pytest.fixture
def audited(cast, tmp_path):
    """A ledger audited in full at its checkpoint, the state saved with the auditor's key; returns
    (cast, log actor, auditor key, state file)."""
    log = log_actor(cast)
    open_restricted(cast, "SF")
    open_general(cast, "GEN")
    donate(cast, "SF", 100_000)
    donate(cast, "GEN", 50_000)
    pay(cast, "GEN", 1_000, kind="management", payee="长宁区社区基金会", purpose="办公费")
    register_volunteer(cast)
    hours(cast, time(9), time(12))
    cast.ledger.sign_checkpoint(log)
    donate(cast, "GEN", 7_000)  # after the checkpoint: audited, but not in the state
    auditor = states.keygen(tmp_path / "auditor")
    result = audit(bundles.collect(cast.ledger), reference=cast.ledger.reference, save_state=True)
    assert result.ok and result.state is not None, [f.one_line() for f in result.findings]
    path = tmp_path / "state.wushe-audit"
    states.save(result.state, path, auditor)
    return cast, log, auditor, path


def grow(cast, log) -> None:
    """More of everything after the state, and a checkpoint over it."""
    donate(cast, "SF", 30_000)
    pay(cast, "GEN", 2_000, kind="management", payee="长宁区社区基金会", purpose="办公费")
    hours(cast, time(14), time(16))
    hours(cast, time(9), time(10), on=date(2026, 3, 2))
    cast.ledger.sign_checkpoint(log)


def as_json(result) -> list[str]:
    return [json.dumps(f.as_json(), sort_keys=True, ensure_ascii=False) for f in result.findings]


def incremental(cast, path, auditor, *, tmp_path=None, save=False):
    """Resume from the state file: from the store's tail, or (with ``tmp_path``) from a bundle on disk."""
    state = states.load(path, auditor.verifier)
    if tmp_path is None:  # the store's tail, and the figures the ledger publishes
        tail = bundles.collect(cast.ledger, figures=False, since=(state.tree_size - 1, state.position))
        tail.figures = bundles.collect(cast.ledger).figures
    else:
        directory = tmp_path / f"bundle-{state.tree_size}"
        bundles.write(bundles.collect(cast.ledger), directory)
        tail = bundles.read(directory, from_leaf=state.tree_size - 1)
    return resume(state, tail, reference=cast.ledger.reference, save_state=save), state


@pytest.mark.parametrize("source", ["store", "files"])
def test_an_incremental_audit_finds_what_a_full_audit_finds(audited, tmp_path, source):
    cast, log, auditor, path = audited
    grow(cast, log)
    full = audit(bundles.collect(cast.ledger), reference=cast.ledger.reference)
    again, state = incremental(cast, path, auditor, tmp_path=tmp_path if source == "files" else None, save=True)
    assert again.ok and full.ok
    assert as_json(again) == as_json(full)
    assert (again.reports_checked, again.reports_matched) == (full.reports_checked, full.reports_matched)
    assert again.reports_checked > 0 and again.reports_matched == again.reports_checked
    assert again.events == full.events and again.trusted_size == state.tree_size
    assert again.verified_signatures < full.verified_signatures  # only the events after the state
    # and on from the new state: a second step equals the full audit again
    assert again.state is not None and again.state.tree_size > state.tree_size
    states.save(again.state, path, auditor)
    donate(cast, "GEN", 1_234)
    cast.ledger.sign_checkpoint(log)
    third, _ = incremental(cast, path, auditor, tmp_path=tmp_path if source == "files" else None)
    assert as_json(third) == as_json(audit(bundles.collect(cast.ledger), reference=cast.ledger.reference))


def test_a_breach_among_the_new_events_is_found_incrementally(audited):
    cast, log, auditor, path = audited
    [session] = [n for n in cast.ledger.log_positions() if n.topic == "Volunteer.ServiceRecorded"]
    payload = json.loads(bytes(session.state).split(b"\n", 1)[0])["payload"]
    overlap = plant(cast.ledger, "volunteer:V001", "Volunteer.ServiceRecorded",
                    dict(payload, record="R-overlap", start="11:00", end="13:00", minutes=120), cast.recorder.key)
    cast.ledger.sign_checkpoint(log)
    again, _ = incremental(cast, path, auditor)
    [finding] = [f for f in again.findings if f.rule == "hours.overlap"]
    assert overlap in {e.position for e in finding.events} and session.id in {e.position for e in finding.events}
    assert as_json(again) == as_json(audit(bundles.collect(cast.ledger), reference=cast.ledger.reference))


def test_a_tampered_new_event_is_named(audited, database_url):
    cast, log, auditor, path = audited
    position = donate(cast, "GEN", 4_321).positions[0]
    cast.ledger.sign_checkpoint(log)
    Raw(cast.ledger, database_url).edit(position, b'"amount":4321', b'"amount":4322')
    again, _ = incremental(cast, path, auditor)
    assert not again.ok
    assert any(f.rule == "integrity.modified" and f.events[0].position == position for f in again.findings)


def test_a_history_rewritten_before_the_state_is_refused(audited, tmp_path):
    """An operator with the log key rewrites an audited donation and signs new checkpoints over the
    rewritten log: the full audit names the event; the incremental one refuses, because the state's
    frontier and the new events no longer give the new checkpoint's root."""
    cast, log, auditor, path = audited
    grow(cast, log)
    directory = tmp_path / "forged"
    bundles.write(bundles.collect(cast.ledger), directory)
    lines = (directory / bundles.EVENTS).read_text().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        state = base64.b64decode(record["state"])
        if b'"amount":50000' in state:
            record["state"] = base64.b64encode(state.replace(b'"amount":50000', b'"amount":5000', 1)).decode()
            lines[i] = json.dumps(record, ensure_ascii=False)
            break
    else:
        raise AssertionError("the audited donation is not in the bundle")
    (directory / bundles.EVENTS).write_text("\n".join(lines) + "\n")
    tree = LeafTree.of([base64.b64decode(json.loads(line)["state"]) for line in lines])
    notes = [json.dumps({"tree_size": size, "note": make_note(Checkpoint(cast.ledger.origin, size, tree.root(size)).text,
                                                              log.key).decode()})
             for size in cast.ledger.checkpoints.sizes()]
    (directory / bundles.CHECKPOINTS).write_text("\n".join(notes) + "\n")
    full = audit(bundles.read(directory), reference=cast.ledger.reference)
    assert not full.ok and "integrity.modified" in {f.rule for f in full.integrity_failures}
    state = states.load(path, auditor.verifier)
    with pytest.raises(StateMismatch, match="does not extend the audited state"):
        resume(state, bundles.read(directory, from_leaf=state.tree_size - 1), reference=cast.ledger.reference)


def test_a_truncated_log_is_refused(audited, database_url):
    cast, _, auditor, path = audited
    state = states.load(path, auditor.verifier)
    raw = Raw(cast.ledger, database_url)
    for n in [n for n in cast.ledger.log_positions() if n.id >= state.position]:
        raw.delete(n.id)
    with pytest.raises(StateMismatch, match="truncated or rewritten"):
        resume(state, bundles.collect(cast.ledger, figures=False, since=(state.tree_size - 1, state.position)),
               reference=cast.ledger.reference)


def test_a_state_of_another_ledger_is_refused(audited):
    cast, _, auditor, path = audited
    state = states.load(path, auditor.verifier)
    tail = bundles.collect(cast.ledger, figures=False, since=(state.tree_size - 1, state.position))
    tail.origin = "wushe.example/elsewhere"
    with pytest.raises(StateMismatch, match="elsewhere"):
        resume(state, tail, reference=cast.ledger.reference)


def test_a_state_signed_by_another_key_edited_or_of_another_version_is_refused(audited, tmp_path):
    _, _, auditor, path = audited
    with pytest.raises(states.StateError, match="not signed by the auditor key"):
        states.load(path, SigningKey.generate("auditor").verifier)
    data = path.read_bytes()
    magic, header, signature, body = data.split(b"\n", 3)
    edited = tmp_path / "edited"
    edited.write_bytes(b"\n".join([magic, header.replace(b'"tree_size":', b'"tree_size":1', 1), signature, body]))
    with pytest.raises(states.StateError, match="not signed by the auditor key"):
        states.load(edited, auditor.verifier)
    edited.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(states.StateError, match="does not match its signed hash"):
        states.load(edited, auditor.verifier)
    edited.write_bytes(data[: len(data) - 10])
    with pytest.raises(states.StateError, match="edited or truncated"):
        states.load(edited, auditor.verifier)
    edited.write_bytes(data.replace(b"wushe-audit-state/v1\n", b"wushe-audit-state/v2\n", 1))
    with pytest.raises(states.StateError, match="v2 state; this wushe reads wushe-audit-state/v1"):
        states.load(edited, auditor.verifier)
    edited.write_bytes(b"not a state\n")
    with pytest.raises(states.StateError, match="not a wushe audit state"):
        states.load(edited, auditor.verifier)
