"""Donations through the API's group commit, on SQLite and PostgreSQL: requests that arrive
together share one transaction, each still answered (and replayed) as its own; when a batch's save
fails, each request runs on its own and none is lost or doubled."""

from __future__ import annotations

import threading
import uuid

from apisite import assert_problem, site_fixture  # noqa: F401  (the site fixture)
from eventsourcing.persistence import IntegrityError

from api.settings import ApiSettings

API_SETTINGS = ApiSettings(group_commit=True, public_rate="100000/minute", auth_rate="100000/minute")

DONATION = "/api/v1/donations"


def _post_all(site, bodies_and_keys):
    answers: dict[int, object] = {}

    def send(i, body, key):
        answers[i] = site.post("accountant", DONATION, body, key=key)

    threads = [threading.Thread(target=send, args=(i, b, k)) for i, (b, k) in enumerate(bodies_and_keys)]
    for t in threads:
        t.start()
    return threads, answers


def test_requests_waiting_together_are_committed_together(site, monkeypatch):
    funds = [site.fund(), site.fund()]
    ledger = site.ledger
    real = ledger.record_donations
    sizes: list[int] = []
    first_started, release = threading.Event(), threading.Event()

    def spy(donations, **kwargs):
        sizes.append(len(donations))
        if len(sizes) == 1:  # hold the first batch so the others queue up behind it
            first_started.set()
            assert release.wait(10)
        return real(donations, **kwargs)

    monkeypatch.setattr(ledger, "record_donations", spy)
    work = [({"fund": funds[i % 2], "amount": f"{i + 1}.00", "donor_type": "resident"}, uuid.uuid4().hex)
            for i in range(9)]
    threads, answers = _post_all(site, work[:1])
    assert first_started.wait(10)
    more, more_answers = _post_all(site, work[1:])
    while site.client.app.state.batcher._queue.qsize() < 8:
        threading.Event().wait(0.01)
    release.set()
    for t in threads + more:
        t.join(20)
    answers.update({i + 1: a for i, a in more_answers.items()})
    assert sorted(sizes) == [1, 8]
    assert all(answers[i].status_code == 201 for i in range(9)), [answers[i].text for i in range(9)]
    assert ledger.fund(funds[0]).balance == sum((i + 1) * 100 for i in range(0, 9, 2))
    assert ledger.fund(funds[1]).balance == sum((i + 1) * 100 for i in range(1, 9, 2))
    head = site.head()
    for i, (body, key) in enumerate(work):  # every key of the batch replays its own answer
        again = site.post("accountant", DONATION, body, key=key)
        assert again.json() == answers[i].json() and again.headers["Idempotent-Replayed"] == "true"
    assert site.head() == head


def test_a_failed_batch_runs_each_request_alone(site, monkeypatch):
    fund = site.fund()
    def conflict(*args, **kwargs):
        raise IntegrityError("another process wrote to the fund first")

    monkeypatch.setattr(site.ledger, "record_donations", conflict)
    answers = [site.post("accountant", DONATION, {"fund": fund, "amount": "5", "donor_type": "resident"})
               for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert site.ledger.fund(fund).balance == 1_500


def test_a_refused_donation_through_the_group_commit_is_its_own_problem(site):
    fund = site.fund()
    refused = site.post("other_accountant", DONATION, {"fund": fund, "amount": "5", "donor_type": "resident"})
    assert_problem(refused, 403, "not-authorised")
    assert site.post("accountant", DONATION, {"fund": fund, "amount": "5", "donor_type": "resident"}).status_code == 201
    assert site.ledger.fund(fund).balance == 500


def test_a_batch_that_lost_a_race_is_tried_again_as_a_batch(site, monkeypatch):
    fund = site.fund()
    real, calls = site.ledger.record_donations, []

    def lose_once(donations, **kwargs):
        calls.append(len(donations))
        if len(calls) == 1:
            raise IntegrityError("another process wrote to the fund first")
        return real(donations, **kwargs)

    def never_alone(*args, **kwargs):
        raise AssertionError("the batch was given up")

    monkeypatch.setattr(site.ledger, "record_donations", lose_once)
    monkeypatch.setattr(site.ledger, "record_donation", never_alone)
    answer = site.post("accountant", DONATION, {"fund": fund, "amount": "5", "donor_type": "resident"})
    assert answer.status_code == 201 and calls == [1, 1]
    assert site.ledger.fund(fund).balance == 500
