"""The staff console's sign-in, sessions and forms over HTTP, on SQLite and PostgreSQL: sealed keys,
session fixation, CSRF, lockout that spares colleagues, TOTP, idle timeout and sign-out; forms that
name the rule next to the field, keep what was typed and write nothing; double submission."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from apisite import TOWN, fresh
from consolesite import PASSWORD, ConsoleSite, console_fixture, field_errors, hidden  # noqa: F401

from api.console.credentials import CREDENTIALS
from api.console.sessions import COOKIE, DEVICE_COOKIE, SESSIONS


def _new_staff(console: ConsoleSite, roles=("accountant",), totp: str | None = None, **scope):
    scope = scope or ({"foundation": "CNCF"} if "accountant" in roles or "approver" in roles else {})
    actor = console.site.cast.actor(fresh("staff-"), list(roles), **scope)
    console.app.state.console.credentials.set_password(actor.key, PASSWORD, totp_secret=totp)
    return actor


def _rows(console: ConsoleSite, table: str) -> list[tuple]:
    t = console.app.state.console.sessions.tables
    return t.fetchall(f"SELECT * FROM {t.table(table)}")


def test_the_database_and_server_secret_do_not_hold_a_usable_key(console):
    actor = _new_staff(console)
    client = console.browser()
    assert console.sign_in(client, actor.handle).status_code == 303
    # the whole base64 blob (it may itself hold "+"), the raw seed and its hex: none is stored
    blob = actor.key.skey.encode().split(b"+", 4)[-1]
    seed = actor.key.seed
    secrets = (blob, seed, seed.hex().encode())
    for table in (CREDENTIALS, SESSIONS):
        for row in _rows(console, table):
            for v in row:
                stored = bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
                assert not any(s in stored for s in secrets), f"{table} holds the signing key in the clear"
    credentials = console.app.state.console.credentials
    # the server secret and the database without the password open nothing …
    assert credentials.unseal(actor.handle, "") is None
    assert credentials.unseal(actor.handle, PASSWORD + "x") is None
    # … and the password with the database but another server's secret opens nothing either
    other = type(credentials)(console.ledger, b"\x01" * 32, credentials.settings)
    assert other.unseal(actor.handle, PASSWORD) is None
    assert credentials.unseal(actor.handle, PASSWORD).key.skey == actor.key.skey
    # the session row's key opens only with the cookie: another cookie value finds nothing
    assert console.app.state.console.sessions.lookup("A" * 43) is None


def test_a_write_through_the_console_is_signed_by_the_person(console):
    from conftest import signer_of

    actor = _new_staff(console)
    client = console.browser()
    console.sign_in(client, actor.handle)
    fund = console.site.fund()
    answer = console.post_form(client, "/console/record/donation",
                               {"fund": fund, "amount": "88.80", "donor_type": "business", "method": "cash"})
    assert answer.status_code == 303, answer.text
    position = int(re.search(r"positions=(\d+)", answer.headers["location"]).group(1))
    assert signer_of(console.ledger, position) == actor.handle
    assert console.ledger.fund(fund).balance == 8880


def test_sign_in_rotates_the_session_id_and_ends_the_old_one(console):
    """Session fixation: a cookie planted before sign-in (even a live session of the attacker's)
    is never the victim's session afterwards."""
    attacker, victim = _new_staff(console), _new_staff(console)
    planted = console.browser()
    console.sign_in(planted, attacker.handle)
    fixed = planted.cookies.get(COOKIE)
    browser = console.browser()
    browser.cookies.set(COOKIE, fixed, domain="testserver.local")
    assert console.sign_in(browser, victim.handle).status_code == 303
    assert browser.cookies.get(COOKIE) != fixed
    assert victim.handle in browser.get("/console/").text
    # the planted id no longer works for anybody
    replay = console.browser()
    replay.cookies.set(COOKIE, fixed, domain="testserver.local")
    assert replay.get("/console/").status_code == 303
    # a made-up id planted before sign-in is not adopted either
    browser2 = console.browser()
    browser2.cookies.set(COOKIE, "made-up-session-id", domain="testserver.local")
    console.sign_in(browser2, victim.handle)
    assert browser2.cookies.get(COOKIE) != "made-up-session-id"


def test_cookies_are_httponly_samesite_strict_and_secure_over_https(console):
    actor = _new_staff(console)
    plain = console.browser()
    answer = console.sign_in(plain, actor.handle)
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    from fastapi.testclient import TestClient

    https = TestClient(console.app, base_url="https://testserver", follow_redirects=False)
    answer = console.sign_in(https, actor.handle)
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(COOKIE + "="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_csrf_missing_wrong_or_cross_site_is_refused_and_writes_nothing(console):
    actor = _new_staff(console)
    client = console.browser()
    console.sign_in(client, actor.handle)
    fund = console.site.fund()
    data = {"fund": fund, "amount": "5", "donor_type": "resident", "method": "cash", "idempotency_key": fresh("k")}
    other = console.browser()
    console.sign_in(other, _new_staff(console).handle)
    before = console.site.head()
    assert client.post("/console/record/donation", data=data).status_code == 403
    assert client.post("/console/record/donation", data={**data, "csrf": "forged"}).status_code == 403
    token = hidden(client.get("/console/record/donation").text, "csrf")
    cross = client.post("/console/record/donation", data={**data, "csrf": token},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and 'data-rule="csrf"' in cross.text
    # another person's token does not work in this session
    theirs = hidden(other.get("/console/record/donation").text, "csrf")
    assert client.post("/console/record/donation", data={**data, "csrf": theirs}).status_code == 403
    assert console.site.head() == before
    # the sign-in form itself carries a token bound to the browser (no login CSRF)
    fresh_browser = console.browser()
    refused = fresh_browser.post("/console/sign-in", data={"handle": actor.handle, "password": PASSWORD, "csrf": "x"})
    assert refused.status_code == 403 and COOKIE not in fresh_browser.cookies


def test_sign_out_ends_the_session_on_the_server(console):
    actor = _new_staff(console)
    client = console.browser()
    console.sign_in(client, actor.handle)
    cookie = client.cookies.get(COOKIE)
    token = hidden(client.get("/console/").text, "csrf")
    assert client.post("/console/sign-out", data={"csrf": token}).status_code == 303
    stolen = console.browser()
    stolen.cookies.set(COOKIE, cookie, domain="testserver.local")
    assert stolen.get("/console/").status_code == 303


def test_an_idle_session_ends(console, monkeypatch):
    actor = _new_staff(console)
    client = console.browser()
    console.sign_in(client, actor.handle)
    assert client.get("/console/").status_code == 200
    sessions = console.app.state.console.sessions
    later = time.time() + sessions.settings.idle_minutes * 60 + 5
    monkeypatch.setattr(sessions, "clock", lambda: later)
    assert client.get("/console/").status_code == 303


def test_lockout_after_failed_tries_spares_colleagues_and_known_devices(console):
    victim, colleague = _new_staff(console), _new_staff(console)
    known = console.browser()
    console.sign_in(known, victim.handle)  # this browser signed in as the victim before
    attacker = console.browser()
    for _ in range(5):
        assert console.sign_in(attacker, victim.handle, "wrong password 1").status_code == 401
    locked = console.sign_in(attacker, victim.handle)  # even the right password, from here, now
    assert locked.status_code == 429 and COOKIE not in attacker.cookies
    # a colleague at the same address signing in as themselves is not refused
    assert console.sign_in(console.browser(), colleague.handle).status_code == 303


def test_the_shared_address_limit_never_refuses_a_known_device(console, monkeypatch):
    limiter = console.app.state.limiter
    from limits import parse

    monkeypatch.setattr(limiter, "auth", parse("3/minute"))
    person = _new_staff(console)
    device = console.browser()
    console.sign_in(device, person.handle)
    device_cookie = device.cookies.get(DEVICE_COOKIE)
    guesser = console.browser()
    for n in range(3):
        console.sign_in(guesser, fresh("nobody-"), "wrong password 1")
    assert console.sign_in(console.browser(), person.handle).status_code == 429  # a new browser must wait
    returning = console.browser()
    returning.cookies.set(DEVICE_COOKIE, device_cookie, domain="testserver.local", path="/console")
    assert console.sign_in(returning, person.handle).status_code == 303  # a known device is let through
    limiter._limiter.clear(limiter.auth, "auth", "testclient")


def test_an_approver_with_a_second_factor_needs_a_fresh_code(console):
    secret = pyotp.random_base32()
    approver = _new_staff(console, ("approver",), totp=secret)
    assert console.sign_in(console.browser(), approver.handle).status_code == 401
    assert console.sign_in(console.browser(), approver.handle, code="000000").status_code == 401
    code = pyotp.TOTP(secret).now()
    assert console.sign_in(console.browser(), approver.handle, code=code).status_code == 303
    replayed = console.sign_in(console.browser(), approver.handle, code=code)
    assert replayed.status_code == 401 and "used" in replayed.text or "已使用" in replayed.text


def test_a_revoked_key_ends_the_session(console):
    actor = _new_staff(console)
    client = console.browser()
    console.sign_in(client, actor.handle)
    console.ledger.revoke_key(console.site.cast.root, actor.key.key_id, reason="离职")
    assert client.get("/console/").status_code == 303
    assert console.sign_in(console.browser(), actor.handle).status_code == 401


def test_api_tokens_keep_working_beside_the_console(console):
    assert console.site.get("accountant", "/api/v1/auth/whoami").status_code == 200


# --- forms -----------------------------------------------------------------------------------------


def test_a_refused_form_names_the_rule_next_to_the_field_keeps_the_values_and_writes_nothing(console):
    client = console.as_role("accountant")
    fund = console.site.fund(300)
    before = console.site.head()
    typed = {"fund": fund, "amount": "5000", "kind": "allowance", "payee": "张社工", "domain": "elderly_care",
             "street_town": TOWN, "purpose": "社工津贴"}
    answer = console.post_form(client, "/console/record/disbursement", typed)
    assert answer.status_code == 409
    assert field_errors(answer.text) == {"amount": "no-overdraft"}
    assert "余额不足" in answer.text and 'value="5000"' in answer.text and 'value="张社工"' in answer.text
    bad = console.post_form(client, "/console/record/donation", {"fund": fund, "amount": "1.234",
                                                                   "donor_type": "resident", "method": "cash"})
    assert bad.status_code == 422 and field_errors(bad.text) == {"amount": "invalid-input"}
    assert "最多两位小数" in bad.text and "pattern" not in bad.text
    missing = console.post_form(client, "/console/record/grant", {"fund": fund, "amount": "10"})
    assert set(field_errors(missing.text)) == {"source", "payer"}
    english = client.post("/console/record/disbursement?lang=en", data={
        **typed, "csrf": hidden(answer.text, "csrf"), "idempotency_key": hidden(answer.text, "idempotency_key")})
    assert "cannot pay" in english.text and "余额不足" not in english.text
    client.get("/console/?lang=zh")
    assert console.site.head() == before


def test_a_second_click_or_a_reload_records_once(console):
    client = console.as_role("accountant")
    fund = console.site.fund()
    page = client.get("/console/record/donation").text
    data = {"csrf": hidden(page, "csrf"), "idempotency_key": hidden(page, "idempotency_key"), "fund": fund,
            "amount": "12.34", "donor_type": "resident", "method": "cash"}
    first = client.post("/console/record/donation", data=data)
    second = client.post("/console/record/donation", data=data)
    assert first.status_code == second.status_code == 303
    assert "replayed=1" in second.headers["location"]
    assert first.headers["location"].split("&replayed")[0] == second.headers["location"].split("&replayed")[0]
    assert console.ledger.fund(fund).balance == 1234
    # the result page is a GET: reloading it writes nothing
    head = console.site.head()
    assert client.get(first.headers["location"]).status_code == 200 and console.site.head() == head


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_console_page_has_no_raw_english_on_chinese_pages(console, lang):
    client = console.as_role("accountant")
    text = client.get(f"/console/record/project?lang={lang}").text
    if lang == "zh":
        assert "Register a project" not in text and "登记项目" in text
    else:
        assert "Register a project" in text and "登记项目" not in text
    client.get("/console/?lang=zh")


def test_a_special_fund_is_opened_from_the_console_only_with_its_agreement(console):
    client = console.as_role("accountant")
    before = console.site.head()
    code = fresh("SF")
    typed = {"code": code, "name": "仙霞新村社区专项基金", "foundation": "CNCF", "special": "on",
             "purpose": "社区养老服务", "street_town": TOWN, "agreement_ref": f"协议-{code}"}
    bare = console.post_form(client, "/console/record/fund-open", typed)
    assert bare.status_code == 422
    assert {"agreement.use", "agreement.termination", "agreement.leftover"} <= set(field_errors(bare.text))
    assert 'value="仙霞新村社区专项基金"' in bare.text  # what was typed is kept
    no_ref = console.post_form(client, "/console/record/fund-open", {
        **typed, "agreement_ref": "", "agreement.use": "资助本街道养老项目", "agreement.termination": "协议期满",
        "agreement.leftover": "用于相近目的"})
    assert no_ref.status_code == 422 and "agreement_ref" in field_errors(no_ref.text)
    agreed = {**typed, "agreement.use": "资助本街道养老项目", "agreement.termination": "协议期满或目的实现",
              "agreement.leftover": "转入本街道相近目的的公益活动", "agreement.fee_rate_bp": "2.5"}
    bad_rate = console.post_form(client, "/console/record/fund-open", {**agreed, "agreement.fee_rate_bp": "两成"})
    assert bad_rate.status_code == 422 and "agreement.fee_rate_bp" in field_errors(bad_rate.text)
    assert console.site.head() == before  # nothing refused was written

    opened = console.post_form(client, "/console/record/fund-open", agreed)
    assert opened.status_code == 303, opened.text
    fund = console.ledger.fund(code)
    assert fund.kind == "special" and fund.agreement_ref == f"协议-{code}"
    assert fund.agreement["fee_rate_bp"] == 250 and fund.agreement["leftover"] == "转入本街道相近目的的公益活动"
