"""Idempotency-Key on every POST, on SQLite and PostgreSQL: a retry answers the first answer and
writes nothing; a different request under the same key is a 422; a retry while the first is still
running is a 409; a refused request is not remembered; a race between two servers writes once."""

from __future__ import annotations

import threading

from apisite import assert_problem, fresh, site_fixture  # noqa: F401  (the site fixture)

DONATION = "/api/v1/donations"


def _donation(fund: str, amount: str = "88.80") -> dict:
    return {"fund": fund, "amount": amount, "donor_type": "resident", "donor_name": "张小明"}


def test_a_retry_returns_the_first_answer_and_writes_nothing(site):
    fund = site.fund()
    first = site.post("accountant", DONATION, _donation(fund), key="retry-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    head = site.head()
    for _ in range(3):
        again = site.post("accountant", DONATION, _donation(fund), key="retry-1")
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
    assert site.head() == head
    assert site.ledger.fund(fund).balance == 8880


def test_a_retried_payment_pays_once(site):
    fund = site.fund(10_000)
    number = site.approved(fund, 4_000)
    answers = [site.post("accountant", f"/api/v1/disbursements/{number}/pay", {}, key=f"pay-{number}")
               for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert site.ledger.fund(fund).balance == 6_000


def test_the_same_key_with_a_different_request_is_422(site):
    fund = site.fund()
    key = fresh("k-")
    assert site.post("accountant", DONATION, _donation(fund), key=key).status_code == 201
    head = site.head()
    assert_problem(site.post("accountant", DONATION, _donation(fund, "88.81"), key=key), 422,
                   "idempotency-key-reused", "Idempotency-Key")
    grant = {"fund": fund, "amount": "88.80", "source": "welfare_lottery", "payer": "市福彩中心"}
    assert_problem(site.post("accountant", "/api/v1/grants", grant, key=key), 422, "idempotency-key-reused")
    assert site.head() == head
    assert site.ledger.fund(fund).balance == 8880


def test_keys_belong_to_their_principal(site):
    """Another principal's identical key is a different key: it neither replays nor collides."""
    fund = site.fund(5_000)
    key = fresh("shared-")
    mine = site.post("accountant", DONATION, _donation(fund), key=key)
    theirs = site.post("accountant_approver", DONATION, _donation(fund), key=key)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert site.ledger.fund(fund).balance == 5_000 + 2 * 8880


def test_a_retry_while_the_first_is_running_is_409(site, monkeypatch):
    fund = site.fund()
    ledger = site.ledger
    started, release = threading.Event(), threading.Event()
    originals = {name: getattr(ledger, name) for name in ("record_donation", "record_donations")}

    def slowed(name):
        def slow(*args, **kwargs):  # alone or in a group commit, the write takes a while
            started.set()
            assert release.wait(10)
            return originals[name](*args, **kwargs)

        return slow

    for name in originals:
        monkeypatch.setattr(ledger, name, slowed(name))
    key = fresh("slow-")
    first: list = []
    runner = threading.Thread(target=lambda: first.append(site.post("accountant", DONATION, _donation(fund), key=key)))
    runner.start()
    try:
        assert started.wait(10)
        assert_problem(site.post("accountant", DONATION, _donation(fund), key=key), 409, "idempotency-in-flight")
    finally:
        release.set()
        runner.join(10)
    assert first[0].status_code == 201
    for name, original in originals.items():
        monkeypatch.setattr(ledger, name, original)
    replay = site.post("accountant", DONATION, _donation(fund), key=key)
    assert replay.json() == first[0].json()
    assert ledger.fund(fund).balance == 8880


def test_a_refused_request_is_not_remembered(site):
    """Nothing was written, so the key was not stored with it: the retry runs again."""
    fund = site.fund(1_000)
    payload = {"fund": fund, "amount": "20.00", "kind": "allowance", "payee": "张社工", "domain": "elderly_care",
               "street_town": "xianxiaxincun", "purpose": "社工津贴"}
    key = fresh("overdraft-")
    assert_problem(site.post("accountant", "/api/v1/disbursements", payload, key=key), 409, "no-overdraft")
    site.ledger.record_donation(site.cast.accountant, fund, 5_000, donor_type="business")
    assert site.post("accountant", "/api/v1/disbursements", payload, key=key).status_code == 201


def test_two_servers_racing_on_one_key_write_once(site, monkeypatch):
    """Server B looked the key up before server A committed: B's own transaction then finds the key
    taken, rolls back its events with it and answers A's answer."""
    fund = site.fund()
    key = fresh("race-")
    a = site.post("accountant", DONATION, _donation(fund), key=key)
    head = site.head()
    keys = site.client.app.state.idempotency
    real_find = keys.find
    looked: list = []

    def find(*args):
        """The first lookup misses (server A has not committed yet); later ones see the row."""
        looked.append(args)
        return None if len(looked) == 1 else real_find(*args)

    monkeypatch.setattr(keys, "find", find)
    b = site.post("accountant", DONATION, _donation(fund), key=key)
    assert b.status_code == 201 and b.json() == a.json() and b.headers["Idempotent-Replayed"] == "true"
    assert site.head() == head
    assert site.ledger.fund(fund).balance == 8880


def test_the_key_is_required_and_bounded(site):
    fund = site.fund()
    headers = {"Authorization": f"Bearer {site.tokens['accountant']}"}
    assert_problem(site.client.post(DONATION, json=_donation(fund), headers=headers), 422, "invalid-input",
                   "Idempotency-Key")
    headers["Idempotency-Key"] = "x" * 129
    assert_problem(site.client.post(DONATION, json=_donation(fund), headers=headers), 422, "invalid-input")
    assert site.ledger.fund(fund).balance == 0
