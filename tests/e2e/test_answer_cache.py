"""The public answers kept by their tag (``api.caching.Answers``), on SQLite and PostgreSQL: a second
reader of the same page at the same views position gets the bytes the first was sent without the
page being built again; a new event, another language or other parameters build anew; errors are
never kept; concurrent readers of one page build it once; memory stays within its bound."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from rawsql import RawSQL
from waiting import until

from api import caching, public_data, reads
from api.caching import Answers, Stored
from api.main import create_app
from api.settings import ApiSettings
from ledger.application import Actor, Ledger
from ledger.checkpoints import CheckpointStore
from ledger.signing import SigningKey
from ledger.witness import Witness
from projections.runner import Projections

API = "/api/v1/public"
UNLIMITED = ApiSettings(public_rate="100000/minute", auth_rate="100000/minute")


@pytest.fixture(name="site")
def site_fixture(cast):
    led = cast.ledger
    led.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town="xianxiaxincun")
    led.record_donation(cast.accountant, "GEN", 12_345, donor_type="resident")
    app = create_app(ledger=led, api_settings=UNLIMITED)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, cast


def _counting(monkeypatch, name: str) -> list[int]:
    built = []
    real = getattr(public_data, name)

    def counted(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(public_data, name, counted)
    return built


@pytest.mark.parametrize("path", ["/funds/GEN", f"{API}/funds/GEN"])
def test_a_second_reader_gets_the_same_bytes_unbuilt_and_a_new_event_builds_anew(site, monkeypatch, path):
    client, cast = site
    built = _counting(monkeypatch, "fund_page")
    first, second = client.get(path), client.get(path)
    assert first.status_code == second.status_code == 200
    assert (first.headers["x-wushe-cache"], second.headers["x-wushe-cache"]) == ("miss", "hit")
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert second.headers["content-type"] == first.headers["content-type"]
    assert len(built) == 1
    assert "123.45" in first.text

    cast.ledger.record_donation(cast.accountant, "GEN", 100_000, donor_type="resident")
    after = client.get(path)
    assert after.headers["x-wushe-cache"] == "miss" and after.headers["etag"] != first.headers["etag"]
    assert "1,123.45" in after.text or "1123.45" in after.text  # the new balance, never the kept one
    assert len(built) == 2


def test_the_receipt_form_is_built_once_per_language_and_answers_304(site):
    client, _ = site
    first, second = client.get("/verify"), client.get("/verify")
    assert (first.headers["x-wushe-cache"], second.headers["x-wushe-cache"]) == ("miss", "hit")
    assert second.content == first.content and "收据" in first.text
    assert client.get("/verify", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    english = client.get("/verify", params={"lang": "en"})
    assert english.headers["etag"] != first.headers["etag"] and "receipt" in english.text.lower()


def test_language_and_parameters_are_answers_of_their_own_and_the_cookie_still_follows_the_reader(site):
    client, _ = site
    zh = client.get("/funds/GEN")
    en = client.get("/funds/GEN", params={"lang": "en"})
    assert en.headers["x-wushe-cache"] == "miss" and en.content != zh.content
    client.cookies.clear()
    again = client.get("/funds/GEN", params={"lang": "en"})
    assert again.headers["x-wushe-cache"] == "hit"
    assert "wushe_lang=en" in again.headers.get("set-cookie", "")  # asked for English: remembered, hit or not
    assert client.get("/funds/GEN", params={"limit": 1}).headers["x-wushe-cache"] == "miss"


def test_errors_are_built_each_time_and_never_kept(site, monkeypatch):
    client, _ = site
    built = _counting(monkeypatch, "fund_page")
    for _ in range(2):
        missing = client.get("/funds/NOPE")
        assert missing.status_code == 404 and missing.headers["x-wushe-cache"] == "miss"
        assert client.get(f"{API}/funds/NOPE").status_code == 404
    assert len(built) == 4
    assert client.get("/funds/GEN", params={"limit": "0"}).status_code == 422
    assert client.get("/funds/GEN", params={"limit": "0"}).headers["x-wushe-cache"] == "miss"


def test_concurrent_readers_of_one_page_build_it_once(site, monkeypatch):
    client, _ = site
    gate = threading.Event()
    built = []
    real = public_data.fund_page

    def slow(*args, **kwargs):
        built.append(1)
        gate.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(public_data, "fund_page", slow)
    with ThreadPoolExecutor(6) as pool:
        answers = [pool.submit(client.get, "/funds/GEN") for _ in range(6)]
        threading.Timer(0.5, gate.set).start()
        bodies = [a.result(timeout=30) for a in answers]
    assert {b.status_code for b in bodies} == {200} and len({b.content for b in bodies}) == 1
    assert len(built) == 1
    assert sorted(b.headers["x-wushe-cache"] for b in bodies) == ["hit"] * 5 + ["miss"]


KEPT_PAGES = ["/", "/street-towns/xianxiaxincun", "/funds", "/funds/GEN", "/projects", "/hours", "/corrections",
              "/organisations", "/checkpoints", "/verify", f"{API}/overview", f"{API}/street-towns/xianxiaxincun",
              f"{API}/funds/GEN", f"{API}/projects", f"{API}/hours", f"{API}/checkpoints"]


def test_every_page_is_kept_when_log_positions_have_gaps(cast, database_url):
    """On PostgreSQL a rolled-back insert leaves a hole in the log's numbering, so the views' position
    (a log position) runs ahead of the count of events: a page that named a count as the position it
    was built at would never be kept, and be built again on every request."""
    led = cast.ledger
    led.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town="xianxiaxincun")
    led.record_donation(cast.accountant, "GEN", 12_345, donor_type="resident")
    RawSQL(led, database_url).gap(5)  # before any reader has folded or grown over the newest event
    led.record_donation(cast.accountant, "GEN", 500, donor_type="resident")
    key = SigningKey.generate(led.origin)
    led.register_principal(cast.root, led.origin, "账本日志", ["log"], key=key.verifier)
    led.sign_checkpoint(Actor(led.origin, key))
    positions = [n.id for n in led.recorder.select_notifications(start=1, limit=10_000)]
    assert positions[-1] - len(positions) == 5  # the gap is real
    app = create_app(ledger=led, api_settings=UNLIMITED)
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in KEPT_PAGES:
            first, second = client.get(path), client.get(path)
            assert first.status_code == second.status_code == 200, (path, first.text[:300])
            assert (first.headers["x-wushe-cache"], second.headers["x-wushe-cache"]) == ("miss", "hit"), path
            assert second.content == first.content


ASKED = [*((path, {}) for path in KEPT_PAGES), ("/funds/GEN", {"lang": "en"}), ("/projects", {"limit": "1"}),
         (f"{API}/funds/GEN", {"limit": "2"}), ("/street-towns/xianxiaxincun", {"lang": "zh", "year": "2026"})]


def _without_kept_layer(app):
    """The app as it was before the kept-answer layer: every request through the router."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not caching.KeptAnswers]
    return app


def _seen(answer) -> tuple:
    return answer.status_code, answer.content, sorted(answer.headers.multi_items())


def test_the_kept_answer_layer_sends_what_the_route_sends_without_finding_the_route(site, monkeypatch):
    """A kept answer (and its 304) sent from outside the router is the answer the route sends, byte
    for byte and header for header, to the same request: another app on the same ledger without
    the layer is asked the same; and no such request reaches the router."""
    client, cast = site
    key = SigningKey.generate(cast.ledger.origin)
    cast.ledger.register_principal(cast.root, cast.ledger.origin, "账本日志", ["log"], key=key.verifier)
    cast.ledger.sign_checkpoint(Actor(cast.ledger.origin, key))
    plain = _without_kept_layer(create_app(ledger=cast.ledger, api_settings=UNLIMITED))
    with TestClient(plain, raise_server_exceptions=False) as other:
        until(lambda: client.app.state.reads.at_once() is not None and plain.state.reads.at_once() is not None)
        for path, params in ASKED:  # both keep every answer once
            assert client.get(path, params=params).status_code == other.get(path, params=params).status_code == 200
        routed = []
        real = type(client.app.router).__call__

        async def counted(router, scope, receive, send):
            if router is client.app.router:
                routed.append(scope["path"])
            await real(router, scope, receive, send)

        monkeypatch.setattr(type(client.app.router), "__call__", counted)
        cookie_set = []
        for path, params in ASKED:
            mine, theirs = client.get(path, params=params), other.get(path, params=params)
            assert mine.headers["x-wushe-cache"] == "hit" and _seen(mine) == _seen(theirs), (path, params)
            if "set-cookie" in mine.headers:  # asked for the other language than the cookie's: remembered
                cookie_set.append(path)
            held = {"If-None-Match": mine.headers["etag"]}
            mine, theirs = client.get(path, params=params, headers=held), other.get(path, params=params, headers=held)
            assert mine.status_code == 304 and _seen(mine) == _seen(theirs), (path, params)
        # the form's tag is its own (fresh_form): its route answers it; so does the route of an
        # answer that changes the language cookie
        assert cookie_set == ["/funds/GEN", "/street-towns/xianxiaxincun"]
        assert sorted(routed) == sorted(["/verify"] * 2 + cookie_set)  # their 304s come after: cookie set
        assert client.get("/funds/GEN", params={"lang": "en"}).headers["x-wushe-cache"] == "hit"
        client.cookies.clear()  # asked for English without the cookie: the route answers and sets it
        assert "wushe_lang=en" in client.get("/funds/GEN", params={"lang": "en"}).headers["set-cookie"]
        cast.ledger.record_donation(cast.accountant, "GEN", 100, donor_type="resident")
        until(lambda: client.app.state.keeper.reached >= cast.ledger.recorder.max_notification_id())
        assert client.get("/funds/GEN").headers["x-wushe-cache"] == "miss"  # a new tag: built by the route
        assert routed[-1] == "/funds/GEN"


def test_a_witness_cosignature_changes_every_tag(cast, tmp_path):
    """The tag names the latest checkpoint's size and how many witnesses cosigned it: a reader who
    holds a page gets 304 until a witness cosigns, then the page anew (it shows the cosignature)."""
    led = cast.ledger
    led.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town="xianxiaxincun")
    key = SigningKey.generate(led.origin)
    led.register_principal(cast.root, led.origin, "账本日志", ["log"], key=key.verifier)
    stored = led.sign_checkpoint(Actor(led.origin, key))
    assert led.checkpoints.standing() == (stored.checkpoint.size, 0)
    app = create_app(ledger=led, api_settings=UNLIMITED)
    with TestClient(app, raise_server_exceptions=False) as client:
        held = {path: client.get(path).headers["etag"] for path in ("/", "/checkpoints", f"{API}/funds/GEN")}
        assert {client.get(p, headers={"If-None-Match": t}).status_code for p, t in held.items()} == {304}
        Witness.create(tmp_path / "witness", "mca.example")
        witness = Witness(tmp_path / "witness", "mca.example")
        checkpoint, line = witness.cosign(stored.note, key.verifier, led.merkle.consistency_proof)
        led.checkpoints.add_cosignature(checkpoint, witness.key.verifier, line)
        assert led.checkpoints.standing() == (stored.checkpoint.size, 1)
        for path, tag in held.items():
            again = client.get(path, headers={"If-None-Match": tag})
            assert again.status_code == 200 and again.headers["etag"] != tag, path
        assert "mca.example" in client.get(f"{API}/checkpoints").text


def _cosigned_checkpoint(led, cast, tmp_path):
    """A checkpoint signed by a log key of the ledger, and a witness's line over it."""
    key = SigningKey.generate(led.origin)
    led.register_principal(cast.root, led.origin, "账本日志", ["log"], key=key.verifier)
    stored = led.sign_checkpoint(Actor(led.origin, key))
    Witness.create(tmp_path / "witness", "mca.example")
    witness = Witness(tmp_path / "witness", "mca.example")
    checkpoint, line = witness.cosign(stored.note, key.verifier, led.merkle.consistency_proof)
    return checkpoint, witness.key.verifier, line


def _store_reads_by_requests(monkeypatch) -> list[str]:
    """Every read of the views' position or of the checkpoints' standing made by any thread but the
    views' runner: the requests' (the event loop's or the thread pool's)."""
    seen: list[str] = []
    for owner, name in ((Projections, "position"), (CheckpointStore, "standing")):
        real = getattr(owner, name)

        def recorded(self, *args, _real=real, _name=name, **kwargs):
            if threading.current_thread().name != "wushe-views":
                seen.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(owner, name, recorded)
    return seen


def test_a_kept_answer_is_tagged_from_the_runners_reading_without_a_query(site, monkeypatch):
    """While the runner reads the tag's inputs each round, a request for a kept answer (or one the
    client holds) reads nothing from the store: it is answered on the event loop."""
    client, _ = site
    first = client.get("/funds/GEN")
    until(lambda: client.app.state.reads.at_once() is not None)
    seen = _store_reads_by_requests(monkeypatch)
    again = client.get("/funds/GEN")
    held = client.get("/funds/GEN", headers={"If-None-Match": again.headers["etag"]})
    assert again.headers["x-wushe-cache"] == "hit" and again.content == first.content
    assert held.status_code == 304
    assert seen == []


def test_an_old_reading_or_a_checkpoint_kept_since_sends_the_tag_back_to_the_store(cast, tmp_path, monkeypatch):
    led = cast.ledger
    led.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town="xianxiaxincun")
    checkpoint, witness, line = _cosigned_checkpoint(led, cast, tmp_path)
    app = create_app(led.settings.model_copy(update={"views_interval": 3600}), ledger=led, api_settings=UNLIMITED)
    with TestClient(app) as client:  # the runner reads once at start, then only when a write wakes it
        until(lambda: app.state.reads.at_once() is not None)
        tag = client.get("/checkpoints").headers["etag"]
        led.checkpoints.add_cosignature(checkpoint, witness, line)  # this process: the reading is stale at once
        assert app.state.reads.at_once() is None
        seen = _store_reads_by_requests(monkeypatch)
        after = client.get("/checkpoints", headers={"If-None-Match": tag})
        assert after.status_code == 200 and "mca.example" in after.text and seen
        app.state.keeper.basis = replace(app.state.keeper.basis, read_at=time.monotonic() - reads.BASIS_AGE - 1,
                                         generation=led.checkpoints.generation)
        assert app.state.reads.at_once() is None  # older than BASIS_AGE: read from the store


def test_a_cosignature_kept_by_another_process_changes_the_tag_within_a_round(cast, tmp_path):
    """Another process (the witness's CLI, a second server) writes the checkpoint store behind this
    one's back: the runner's next reading carries it into every tag."""
    led = cast.ledger
    led.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town="xianxiaxincun")
    checkpoint, witness, line = _cosigned_checkpoint(led, cast, tmp_path)
    other = Ledger(led.settings, database_url=led.database_url)
    app = create_app(led.settings.model_copy(update={"views_interval": 0.05}), ledger=led, api_settings=UNLIMITED)
    try:
        with TestClient(app) as client:
            until(lambda: app.state.reads.at_once() is not None)
            tag = client.get("/checkpoints").headers["etag"]
            other.checkpoints.add_cosignature(checkpoint, witness, line)
            until(lambda: client.get("/checkpoints", headers={"If-None-Match": tag}).status_code == 200)
            assert "mca.example" in client.get("/checkpoints").text
    finally:
        other.close()


def test_the_cache_can_be_turned_off(cast):
    cast.ledger.open_fund(cast.accountant, "GEN", "综合基金", "CNCF")
    app = create_app(ledger=cast.ledger, api_settings=ApiSettings(public_rate="1000/minute", answer_cache_mib=0))
    with TestClient(app) as client:
        assert app.state.answers is None
        assert all("x-wushe-cache" not in client.get("/funds/GEN").headers for _ in range(2))


def _made(body: bytes, position: int = 7, status: int = 200):
    return lambda: (Response(body, status_code=status, media_type="text/html"), position)


def test_memory_stays_within_its_bound_and_the_least_recently_used_goes_first():
    answers = Answers(max_bytes=1000)
    for n in range(5):
        answers.answer(f"k{n}", 7, _made(bytes([n]) * 200))
    assert answers.get("k0") is not None  # k0 used again: k1 is now the least recently used
    answers.answer("k5", 7, _made(b"x" * 200))
    assert answers.size <= 1000 and answers.get("k1") is None and answers.get("k0") is not None
    answers.answer("big", 7, _made(b"y" * 600))  # over a quarter of the bound: sent, not kept
    assert answers.get("big") is None and answers.size <= 1000


def test_an_answer_built_at_another_position_than_its_tag_or_failed_is_not_kept():
    answers = Answers(max_bytes=10_000)
    answers.answer("newer", 7, _made(b"built after the runner moved", position=8))
    answers.answer("failed", 7, _made(b"oops", status=503))
    assert answers.get("newer") is None and answers.get("failed") is None
    _, hit = answers.answer("kept", 7, _made(b"ok"))
    assert not hit and answers.get("kept") == Stored(b"ok", "text/html")
