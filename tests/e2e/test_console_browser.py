"""The staff console in a real browser (Debian's Chromium through Playwright, never a downloaded
one) against `wushe serve`, on SQLite and PostgreSQL: maker-checker in two browsers (one requests,
the other approves on a phone, the first pays), a correction that reaches the public corrections
page, keyboard-only use of the donation form, every page at 390 px without sideways scrolling and
without console errors, and a screenshot of every console page in both languages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from datetime import time as clock
from pathlib import Path

import pytest
from conftest import fresh_postgres_schema
from test_browser import (
    _UNLABELLED,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    Watched,
    _free_port,
    _wushe,
    browser,  # noqa: F401  (the public pages' fixture: Debian's Chromium)
)
from test_browser import pytestmark as _browser_marks

from api.auth import load_secret
from api.console.credentials import CredentialStore
from api.settings import ApiSettings
from ledger.application import Actor, Ledger
from ledger.settings import Settings
from ledger.signing import SigningKey, read_signing_key

pytestmark = _browser_marks
PASSWORD = "browser test password"
TOWN = "xianxiaxincun"


@dataclass
class Served:
    url: str
    database_url: str
    data_dir: Path
    fund: str = "GEN"

    def ledger(self) -> Ledger:
        return Ledger(Settings(data_dir=self.data_dir, checkpoint_interval=0), database_url=self.database_url)


def _prepare(data_dir: Path, database_url: str, env: dict[str, str]) -> None:
    """A small foundation: an accountant, an approver, a recorder and an auditor with console
    passwords, a fund with money, a project, a volunteer with a session."""
    _wushe(env, "init")
    ledger = Ledger(Settings(data_dir=data_dir, checkpoint_interval=0), database_url=database_url)
    key_dir = data_dir / "keys"
    try:
        root = Actor("root", read_signing_key(key_dir, "root"))
        ledger.register_organisation(root, "CNCF", "长宁区社区基金会", "foundation", "xinhualu", registered_on=date(2020, 1, 1))
        ledger.register_organisation(root, "LELING", "乐龄互助社", "social_organisation", TOWN, registered_on=date(2021, 5, 1))
        store = CredentialStore(ledger, load_secret(ApiSettings().secret_path(key_dir)))
        store.settings = store.settings.model_copy(update={"argon2_memory_kib": 8192, "argon2_time": 1})
        actors = {}
        for handle, name, roles, scope in [
            ("acct", "陈会计", ["accountant"], {"foundation": "CNCF"}),
            ("appr", "王秘书长", ["approver"], {"foundation": "CNCF"}),
            ("rec", "乐龄记录员", ["recorder"], {"organisation": "LELING"}),
            ("aud", "区审计局审计员", ["auditor"], {}),
        ]:
            key = SigningKey.generate(handle)
            ledger.register_principal(root, handle, name, roles, key=key.verifier, **scope)
            key.write(key_dir)
            store.set_password(key, PASSWORD)
            actors[handle] = Actor(handle, key)
        acct = actors["acct"]
        ledger.open_fund(acct, "GEN", "社区公益金", "CNCF", street_town=TOWN)
        ledger.record_donation(acct, "GEN", 5_000_000, donor_type="business", donor_name="长宁来福士", donor_public=True)
        ledger.register_project(acct, "P1", "乐龄助餐", street_town=TOWN, domain="elderly_care", organisation="LELING",
                                budget=3_000_000, funding_source="fund", approval_ref="长民〔2026〕7号",
                                starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31), milestones=[("一期", 1_000_000)],
                                reach=120)
        ledger.register_volunteer(actors["rec"], "V001", "李四", TOWN, registered_on=date(2026, 1, 5))
        ledger.record_hours(actors["rec"], "V001", organisation="LELING", domain="elderly_care", on=date(2026, 3, 1),
                            start=clock(9), end=clock(11, 30), content="陪伴独居老人")
    finally:
        ledger.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(request, tmp_path_factory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("console-browser")
    urls = iter([f"sqlite:///{data_dir / 'ledger.sqlite3'}"]) if request.param == "sqlite" else fresh_postgres_schema()
    database_url = next(urls)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "WUSHE_DATA_DIR": str(data_dir), "WUSHE_DATABASE_URL": database_url,
           "WUSHE_CHECKPOINT_INTERVAL": "0", "WUSHE_PUBLIC_URL": url, "WUSHE_API_AUTH_RATE": "10000/minute"}
    _prepare(data_dir, database_url, env)
    server = subprocess.Popen([sys.executable, "-m", "wushe", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"wushe serve did not start: {server.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield Served(url, database_url, data_dir)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        next(urls, None)


def _watch(chromium, served: Served, viewport=DESKTOP) -> Watched:
    return Watched(chromium, viewport, served.url)


def _record_donation(w: Watched, amount: str, donor_type: str, method: str, donor_name: str = "") -> None:
    page = w.open("/console/record/donation")
    page.select_option("#f-fund", "GEN")
    page.fill("#f-amount", amount)
    page.select_option("#f-donor_type", donor_type)
    page.select_option("#f-method", method)
    if donor_name:
        page.fill("#f-donor_name", donor_name)
    page.click("form.record button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/recorded\?.*"))


def _sign_in(w: Watched, handle: str) -> None:
    page = w.open("/console/sign-in")
    page.fill("#f-handle", handle)
    page.fill("#f-password", PASSWORD)
    page.click("form.signin button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))


def _real(problems: list[str]) -> list[str]:
    """Problems, less the favicon fetch a quick next navigation cuts short and a download ending its
    navigation (both reported as ERR_ABORTED, neither a page's fault)."""
    return [p for p in problems if not ("ERR_ABORTED" in p and ("favicon" in p or ".pdf" in p))]


def _refusals_only(problems: list[str]) -> list[str]:
    """Problems other than the refused forms a test provokes on purpose (4xx form answers)."""
    return [p for p in _real(problems) if not re.match(r"HTTP (409|422): .*/console/record/", p)
            and not re.match(r"console: Failed to load resource: .* status of (409|422)", p)]


def test_maker_checker_in_two_browsers(browser, served):  # noqa: F811  (the fixture)
    maker, checker = _watch(browser, served), _watch(browser, served, PHONE)
    try:
        _sign_in(maker, "acct")
        page = maker.open("/console/record/disbursement")
        page.select_option("#f-fund", "GEN")
        page.fill("#f-amount", "2500")
        page.select_option("#f-kind", "project")
        page.select_option("#f-project", "P1")
        page.fill("#f-milestone", "一期")
        page.fill("#f-purpose", "乐龄助餐一期款")
        page.click("form.record button[type=submit]")
        page.wait_for_url(re.compile(r".*/console/recorded\?.*"))
        number = page.locator("#recorded-id").inner_text()

        _sign_in(checker, "appr")
        queue = checker.open("/console/approvals")
        card = queue.locator(f'li[data-number="{number}"]')
        assert card.count() == 1 and "2,500.00" in card.inner_text()
        assert queue.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        card.locator("a.button").click()
        checker.page.wait_for_url(re.compile(rf".*/console/approvals/{number}"))
        assert checker.page.locator(".checks-list li.bad").count() == 0
        assert "maker-checker" in checker.page.inner_text(".checks-list")
        assert checker.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        checker.page.fill("#f-approval_ref", "长民〔2026〕12号")
        checker.page.click("#h-approve ~ form button[type=submit]")
        checker.page.wait_for_url(re.compile(r".*/console/approvals\?done=.*"))
        assert checker.page.locator(f'li[data-number="{number}"]').count() == 0

        home = maker.open("/console/")
        home.locator(f'#pending tr[data-number="{number}"] a').click()
        maker.page.wait_for_url(re.compile(r".*/console/record/pay\?number=.*"))
        maker.page.click("form.record button[type=submit]")
        maker.page.wait_for_url(re.compile(r".*/console/recorded\?form=pay.*"))
        assert _real(maker.problems) == [] and _real(checker.problems) == []
    finally:
        maker.close()
        checker.close()
    ledger = served.ledger()
    try:
        assert ledger.disbursement(number).status == "paid"
        assert ledger.disbursement(number).requested_by == "acct"
    finally:
        ledger.close()


def test_a_correction_reaches_the_public_corrections_page(browser, served):  # noqa: F811  (the fixture)
    w = _watch(browser, served)
    try:
        _sign_in(w, "acct")
        _record_donation(w, "321.09", "resident", "cash")
        page = w.page
        position = page.locator("#recorded-positions").inner_text().lstrip("#")
        search = w.open("/console/corrections?q=32109")
        search.locator(f'tr[data-position="{position}"] a').click()
        w.page.wait_for_url(re.compile(rf".*/console/corrections/{position}"))
        assert "-32,109" not in w.page.inner_text("#preview-heading")  # heading names the event
        assert "¥-321.09" in w.page.inner_text(".review table") or "-¥321.09" in w.page.inner_text(".review table")
        w.page.fill("#f-reason", "重复录入，浏览器测试冲正")
        w.page.click("form.record button[type=submit]")
        w.page.wait_for_url(re.compile(r".*/console/recorded\?form=correction.*"))
        public = w.open("/corrections")
        assert "重复录入，浏览器测试冲正" in public.inner_text("main")
        assert _real(w.problems) == []
    finally:
        w.close()


def test_the_donation_form_by_keyboard_alone(browser, served):  # noqa: F811  (the fixture)
    w = _watch(browser, served)
    try:
        _sign_in(w, "acct")
        page = w.open("/console/record/donation")
        page.keyboard.press("Tab")  # the skip link first
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")  # past the header and menu, to the form
        steps = [("f-fund", "ArrowDown"), ("f-amount", "88.50"), ("f-donor_type", "ArrowDown"),
                 ("f-method", "ArrowDown"), ("f-donor_name", "张三"), ("f-donor_public", "Space"),
                 ("f-note", "九九公益日")]
        for target, action in steps:  # Tab along (a date input takes a Tab per part) to each field in turn
            for _ in range(30):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.id") == target:
                    break
            assert page.evaluate("document.activeElement.id") == target, target
            if action in ("ArrowDown", "Space"):
                page.keyboard.press(action)
            else:
                page.keyboard.type(action)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.type") == "submit"
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/console/recorded\?.*"))
        assert _real(w.problems) == []
    finally:
        w.close()
    ledger = served.ledger()
    try:
        position = max(s.id for s in ledger.log_positions() if s.topic == "Fund.DonationReceived")
        _, event = ledger.read_position(position)
        assert (event.amount, event.donor_name, event.donor_public, event.note) == (8850, "张三", True, "九九公益日")
    finally:
        ledger.close()


def _pages(role: str) -> dict[str, str]:
    common = {"home": "/console/"}
    return {**common, **{
        "acct": {"donation": "/console/record/donation", "grant": "/console/record/grant",
                 "allocation": "/console/record/allocation", "release": "/console/record/release",
                 "fund-open": "/console/record/fund-open", "fund-close": "/console/record/fund-close",
                 "project": "/console/record/project", "disbursement": "/console/record/disbursement",
                 "pay": "/console/record/pay", "corrections": "/console/corrections",
                 "correction": "/console/corrections/{donation}", "volunteers": "/console/volunteers",
                 "recorded": "/console/recorded?form=donation&id=demo&positions=1",
                 "import": "/console/import/donations", "receipts": "/console/receipts",
                 "receipt": "/console/receipts/{donation}", "income": "/console/record/income",
                 "publication": "/console/record/publication", "statements": "/console/statements?year=2026"},
        "appr": {"approvals": "/console/approvals"},
        "rec": {"volunteers": "/console/volunteers", "volunteer": "/console/volunteers/V001",
                "volunteer-form": "/console/record/volunteer", "hours": "/console/record/hours",
                "certificate": "/console/certificates/{session}", "import-hours": "/console/import/hours"},
        "aud": {"audit": "/console/audit", "statements": "/console/statements?year=2026&foundation=CNCF"},
    }[role]}


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_every_console_page_loads_cleanly_and_is_screenshotted(browser, served, screen, request):  # noqa: F811  (the fixture)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    store = request.node.callspec.params["served"]
    ledger = served.ledger()
    try:
        donation = min(s.id for s in ledger.log_positions() if s.topic == "Fund.DonationReceived")
        session = min(s.id for s in ledger.log_positions() if s.topic == "Volunteer.ServiceRecorded")
    finally:
        ledger.close()
    signin = _watch(browser, served, PHONE if screen == "phone" else DESKTOP)
    try:
        for lang in ("zh", "en"):
            page = signin.open(f"/console/sign-in?lang={lang}")
            page.screenshot(path=str(SCREENSHOTS / f"console-sign-in-{lang}-{screen}.png"), full_page=True)
    finally:
        signin.close()
    for role in ("acct", "appr", "rec", "aud"):
        w = _watch(browser, served, PHONE if screen == "phone" else DESKTOP)
        try:
            _sign_in(w, role)
            for lang in ("zh", "en"):
                for name, path in _pages(role).items():
                    path = path.format(donation=donation, session=session)
                    page = w.open(f"{path}{'&' if '?' in path else '?'}lang={lang}")
                    if name == "receipt":  # the printable document itself, not a console page
                        assert "大写" in page.inner_text("body") or "capital" in page.inner_text("body").lower()
                        continue
                    assert page.locator("h1").count() == 1, (role, name)
                    assert page.evaluate(_UNLABELLED) == [], (role, name, "every field has a label")
                    if screen == "phone":
                        width = page.evaluate("document.documentElement.scrollWidth")
                        assert width <= PHONE["width"], (role, name, width)
                    if lang == "zh":
                        assert "Sign out" not in page.inner_text("body"), (role, name)
                    if store == "sqlite":
                        page.screenshot(path=str(SCREENSHOTS / f"console-{role}-{name}-{lang}-{screen}.png"),
                                        full_page=True)
            assert _real(w.problems) == [], w.problems
        finally:
            w.close()


def test_a_refused_form_in_the_browser_keeps_what_was_typed(browser, served):  # noqa: F811  (the fixture)
    w = _watch(browser, served)
    try:
        _sign_in(w, "acct")
        page = w.open("/console/record/disbursement")
        page.select_option("#f-fund", "GEN")
        page.fill("#f-amount", "999999")
        page.select_option("#f-kind", "allowance")
        page.fill("#f-payee", "张社工")
        page.select_option("#f-domain", "elderly_care")
        page.select_option("#f-street_town", TOWN)
        page.fill("#f-purpose", "津贴")
        page.click("form.record button[type=submit]")
        page.wait_for_selector("#error-amount")
        assert page.get_attribute("#error-amount", "data-rule") == "no-overdraft"
        assert page.input_value("#f-amount") == "999999" and page.input_value("#f-payee") == "张社工"
        assert _refusals_only(w.problems) == []
    finally:
        w.close()


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def test_an_import_with_a_bad_row_is_refused_whole_then_succeeds_when_fixed(browser, served):  # noqa: F811  (the fixture)
    w = _watch(browser, served)
    good = (FIXTURES / "platform-gongyi.csv").read_bytes()
    mapping = {"name": "mapping.toml", "mimeType": "application/toml",
               "buffer": (FIXTURES / "platform-gongyi.toml").read_bytes()}
    ledger = served.ledger()
    try:
        before = ledger.fund("GEN").balance
    finally:
        ledger.close()
    try:
        _sign_in(w, "acct")
        page = w.open("/console/import/donations")
        page.set_input_files("#f-file", {"name": "orders.csv", "mimeType": "text/csv",
                                         "buffer": good.replace(b"18.80", b"18.8x0")})
        page.select_option("#f-fund", "GEN")
        page.set_input_files("#f-mapping_file", mapping)
        page.click("#preview-button")
        page.wait_for_selector("#preview")
        assert page.locator('tr[data-status="error"]').count() == 1 and page.locator("#commit").count() == 0
        page = w.open("/console/import/donations")
        page.set_input_files("#f-file", {"name": "orders.csv", "mimeType": "text/csv", "buffer": good})
        page.select_option("#f-fund", "GEN")
        page.set_input_files("#f-mapping_file", mapping)
        page.click("#preview-button")
        page.wait_for_selector("#commit")
        page.click("#commit")
        page.wait_for_selector("#imported")
        assert _real(w.problems) == []
    finally:
        w.close()
    ledger = served.ledger()
    try:
        assert ledger.fund("GEN").balance == before + 142346
    finally:
        ledger.close()


def test_a_receipt_pdf_from_the_console_verifies_with_wushe_verify_receipt(browser, served, tmp_path):  # noqa: F811  (the fixture)
    w = _watch(browser, served)
    try:
        _sign_in(w, "acct")
        _record_donation(w, "1200.50", "resident", "transfer", "收据测试人")
        page = w.page
        with page.expect_download() as download:
            page.click("#receipt-pdf")
        pdf = tmp_path / "receipt.pdf"
        download.value.save_as(pdf)
        assert _real(w.problems) == []
    finally:
        w.close()
    env = {**os.environ, "WUSHE_DATA_DIR": str(served.data_dir), "WUSHE_DATABASE_URL": served.database_url}
    ledger = served.ledger()
    try:
        log_key = ledger.directory().active_keys(ledger.origin)[-1].key.vkey
    finally:
        ledger.close()
    done = subprocess.run([sys.executable, "-m", "wushe", "verify", "receipt", str(pdf), "--log-key", log_key],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1,200.50" in done.stdout or "120050" in done.stdout
