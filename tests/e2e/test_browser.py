"""The public pages in a real browser: Debian's Chromium driven by Playwright against `wushe serve`
on a seeded demo ledger (`wushe init` + `wushe demo`, as a resident would meet it).

Every page loads with no console error and no failed request, on a desktop and a phone-sized screen;
the figures shown equal the public API's JSON; the verify page accepts a good receipt and refuses a
tampered one; no page carries a phone number, an identity number or the name of anyone who did not
consent; the English switch works; a screenshot of each page lands in build/screenshots/.

Chromium is never downloaded: the tests use /usr/bin/chromium (`apt-get install chromium`). Without
it they are skipped locally, and fail in CI (CI=true), where .ci/run installs it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.money import format_cny, parse_amount
from ledger.settings import Settings

CHROMIUM = Path(os.environ.get("WUSHE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PHONE_NUMBER = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
IDENTITY_NUMBER = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

_missing = None if sync_playwright and CHROMIUM.exists() else (
    "playwright is not installed" if sync_playwright is None else f"no Chromium at {CHROMIUM} (apt-get install chromium)")
if _missing and os.environ.get("CI"):
    raise RuntimeError(f"browser tests must run in CI: {_missing}")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(_missing is not None, reason=_missing or "")]


@dataclass
class Demo:
    url: str
    data_dir: Path
    town: str
    fund: str
    project: str
    receipt: dict
    """A donation receipt of a donor who did not consent to be named."""
    secrets: set[str] = field(default_factory=set)
    """Names of donors and volunteers who did not consent to be named."""

    def json(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wushe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "wushe", *args], env=env, capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    return done


def _secrets_and_a_private_donation(data_dir: Path) -> tuple[set[str], int]:
    """Read the demo's own events (not the pages) for the names that must never show."""
    ledger = Ledger(Settings(data_dir=data_dir, checkpoint_interval=0))
    try:
        hidden, shown, private, reversed_entries = set(), set(), [], set()
        for stored in ledger.log_positions():
            if stored.topic == "Fund.DonationReceived":
                event = ledger.mapper.to_domain_event(stored)
                if event.donor_name:
                    (shown if event.donor_public else hidden).add(event.donor_name)
                    if not event.donor_public:
                        private.append((stored.id, event.entry))
            elif stored.topic == "Fund.Reversed":
                reversed_entries.add(ledger.mapper.to_domain_event(stored).entry)
            elif stored.topic == "Volunteer.Registered":
                event = ledger.mapper.to_domain_event(stored)
                (shown if event.name_public else hidden).add(event.name)
        standing = [position for position, entry in private if entry not in reversed_entries]  # receipts are issued
        assert standing  # only for what still stands
        return hidden - shown, standing[0]
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("browser-demo")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "WUSHE_DATA_DIR": str(data_dir), "WUSHE_CHECKPOINT_INTERVAL": "0", "WUSHE_PUBLIC_URL": url}
    env.pop("WUSHE_DATABASE_URL", None)
    _wushe(env, "init")
    _wushe(env, "demo", "--scale", "1")
    secrets, position = _secrets_and_a_private_donation(data_dir)
    receipt_file = data_dir / "receipt.json"
    _wushe(env, "receipt", str(position), "--out", str(receipt_file))
    server = subprocess.Popen([sys.executable, "-m", "wushe", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"wushe serve did not start: {server.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield Demo(url, data_dir, "xinjing", "SF-xinjing", "P-xinjing-01", json.loads(receipt_file.read_text()),
                   secrets)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page whose console errors, failed requests and HTTP errors are recorded."""

    def __init__(self, browser, viewport: dict[str, int], base: str) -> None:
        self.context = browser.new_context(viewport=viewport, locale="zh-CN")
        self.page = self.context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        # a favicon fetch that the next navigation cuts short is no fault of the page
        self.page.on("requestfailed", lambda r: (r.url.endswith("/favicon.svg") and "ERR_ABORTED" in (r.failure or ""))
                     or self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def open(self, path: str):
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None and response.status == 200, (path, response and response.status)
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desktop(browser, demo) -> Iterator[Watched]:
    watched = Watched(browser, DESKTOP, demo.url)
    yield watched
    watched.close()


@pytest.fixture
def phone(browser, demo) -> Iterator[Watched]:
    watched = Watched(browser, PHONE, demo.url)
    yield watched
    watched.close()


_UNLABELLED = """() => {
  const named = (el) => {
    if (el.tagName === 'IMG') return el.hasAttribute('alt');
    if (el.getAttribute('aria-label')) return true;
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    if (ids.length) return ids.every((id) => (document.getElementById(id)?.textContent || '').trim());
    if (el.labels && el.labels.length) return true;
    return false;
  };
  const checked = document.querySelectorAll(
    'img, svg[role=img], [role=img], input:not([type=hidden]), textarea, select');
  return Array.from(checked).filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 80));
}"""


def _pages(demo: Demo) -> dict[str, str]:
    return {
        "home": "/", "street-town": f"/street-towns/{demo.town}",
        "street-town-donations": f"/street-towns/{demo.town}/donations", "funds": "/funds", "fund": f"/funds/{demo.fund}",
        "projects": "/projects", "project": f"/projects/{demo.project}", "hours": "/hours",
        "corrections": "/corrections", "organisations": "/organisations", "checkpoints": "/checkpoints",
        "verify": "/verify",
        "receipt": demo.receipt["verify_path"],
    }


# --- every page ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_every_page_loads_cleanly_and_is_screenshotted(request, demo, screen):
    watched: Watched = request.getfixturevalue(screen)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for lang in ("zh", "en"):
        for name, path in _pages(demo).items():
            separator = "&" if "?" in path else "?"
            page = watched.open(f"{path}{separator}lang={lang}" if name != "receipt" else path)
            assert page.locator("h1").count() == 1, (name, "one top heading")
            assert page.evaluate(_UNLABELLED) == [], (name, "every image, chart and form field has a text label")
            if screen == "phone":  # nothing wider than the screen: wide tables scroll inside their own box
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], (name, width)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{lang}-{screen}.png"), full_page=True)
    assert watched.problems == []


def test_figures_on_the_pages_equal_the_api(desktop, demo):
    checks = {
        "/": "overview", f"/street-towns/{demo.town}": f"street-towns/{demo.town}",
        f"/funds/{demo.fund}": f"funds/{demo.fund}", f"/projects/{demo.project}": f"projects/{demo.project}",
        "/hours": "hours", "/corrections": "corrections",
    }
    for path, api in checks.items():
        data = demo.json(f"/api/v1/public/{api}")
        page = desktop.open(path)
        compared = 0
        for key, value in data["summary"].items():
            shown = page.locator(f"#summary-{key}").inner_text().strip()
            if isinstance(value, str) and re.fullmatch(r"-?\d+\.\d\d", value) and "¥" in shown:
                assert shown == format_cny(_fen(value)), (path, key)
                compared += 1
            elif isinstance(value, int) and not isinstance(value, bool):
                assert shown == f"{value:,}", (path, key)
                compared += 1
        assert compared >= 2, path
    overview = demo.json("/api/v1/public/overview")
    page = desktop.open("/")
    rows = page.locator("table[data-table=street_towns] tbody tr")
    assert rows.count() == 10
    for i, town in enumerate(overview["tables"]["street_towns"]):
        row = rows.nth(i)
        assert row.locator("th").inner_text().strip() == town["name_zh"]
        assert row.locator("td[data-key=income]").inner_text().strip() == format_cny(_fen(town["income"]))
        assert row.locator("td[data-key=fund_balance]").inner_text().strip() == format_cny(_fen(town["fund_balance"]))
    chart = page.locator("svg.chart")
    assert chart.get_attribute("role") == "img" and "¥" in page.locator("svg.chart desc").text_content()
    assert desktop.problems == []


def _fen(text: str) -> int:
    return -parse_amount(text[1:]) if text.startswith("-") else (parse_amount(text) if text != "0.00" else 0)


def test_a_resident_goes_from_home_to_a_receipt_check_on_a_phone_in_english(phone, demo):
    page = phone.open("/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Xinjing Town").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Xinjing Town")
    page.locator("table[data-table=projects] a").first.click()
    page.wait_for_load_state()
    assert "/projects/" in page.url and page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Milestones").is_visible()
    page.get_by_role("link", name="Corrections", exact=True).first.click()
    page.wait_for_load_state()
    assert page.locator("table[data-table=corrections] tbody tr").count() >= 1
    assert page.get_by_role("columnheader", name="Reason").is_visible()
    page.get_by_role("link", name="Verify a receipt").click()
    page.wait_for_load_state()
    page.get_by_label("Or paste the receipt JSON").fill(json.dumps(demo.receipt))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert page.locator("#verdict h2").inner_text().endswith("Verified")
    # The language stays English throughout, by the links and by the cookie.
    page.goto(demo.url + "/hours")
    assert page.locator("html").get_attribute("lang") == "en"
    assert phone.problems == []


_CHART_TEXT = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, px: parseFloat(t.getAttribute('font-size')) * box.width / svg.viewBox.baseVal.width,
            left: r.left - box.left, right: r.right - box.left, under: t.getAttribute('text-anchor') === 'middle',
            width: box.width};
  });
})"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_monthly_chart_reads_on_a_phone(phone, demo, lang):
    for path in ("/", f"/street-towns/{demo.town}"):
        page = phone.open(f"{path}?lang={lang}")
        charts = page.evaluate(_CHART_TEXT)
        assert charts, path
        for texts in charts:
            assert min(t["px"] for t in texts) >= 12, (path, "labels of 12 px or more")
            assert all(-1 <= t["left"] and t["right"] <= t["width"] + 1 for t in texts), (path, "inside the chart")
            months = [t for t in texts if t["under"]]
            assert len(months) >= 2 and any(re.search(r"\d{4}", t["text"]) for t in months), path
            assert all(a["right"] <= b["left"] for a, b in zip(months, months[1:], strict=False)), (path, months)
    assert phone.problems == []


def test_names_in_tables_keep_a_readable_width_on_a_phone(phone, demo):
    narrowest = """() => Math.min(...[...document.querySelectorAll('tbody th')]
                                   .map(c => c.getBoundingClientRect().width))"""
    for path in ("/", f"/street-towns/{demo.town}", "/funds", "/projects", "/hours", "/organisations",
                 "/corrections", f"/street-towns/{demo.town}/donations"):
        page = phone.open(path)
        assert page.evaluate(narrowest) >= 90, (path, "a name cell is at least ~6 characters wide")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        # long lists come a page at a time: no page is a scroll of every row there is
        assert page.evaluate("document.documentElement.scrollHeight") <= 10_000, path
    assert phone.problems == []


def test_the_verify_page_accepts_a_good_receipt_and_refuses_a_tampered_one(desktop, demo, tmp_path):
    good = tmp_path / "receipt.json"
    good.write_text(json.dumps(demo.receipt))
    page = desktop.open("/verify")
    page.get_by_label("选择收据文件（.json）").set_input_files(str(good))
    page.get_by_role("button", name="校验").click()
    page.wait_for_load_state()
    verdict = page.locator("#verdict-text").inner_text()
    assert page.locator("#verdict h2").inner_text() == "✓ 已校验"
    assert f"账本日志第 {demo.receipt['position']} 条" in verdict
    assert f"规模为 {demo.receipt['tree_size']} 的签名检查点" in verdict
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "verify-accepted-zh-desktop.png"), full_page=True)

    tampered = json.loads(json.dumps(demo.receipt))
    record = next(e for e in tampered["entries"] if e["role"] == "record")
    event = base64.b64decode(record["event"])
    amount = re.search(rb'"amount":(\d+)', event).group(1)
    record["event"] = base64.b64encode(event.replace(b'"amount":' + amount, b'"amount":' + amount + b"0")).decode()
    page = desktop.open("/verify")
    page.get_by_label("或粘贴收据 JSON").fill(json.dumps(tampered))
    page.get_by_role("button", name="校验").click()
    page.wait_for_load_state()
    assert page.locator("#verdict h2").inner_text() == "✗ 未通过校验"
    assert f"不在该检查点下日志的第 {tampered['leaf_index']} 片叶" in page.locator("#verdict-text").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "verify-refused-zh-desktop.png"), full_page=True)

    page = desktop.open(demo.receipt["verify_path"])  # the QR code's link
    assert "已校验" in page.locator("body").inner_text()
    assert desktop.problems == []


def test_no_page_carries_personal_data(desktop, demo):
    assert demo.secrets, "the demo has donors and volunteers who did not consent"
    for lang in ("zh", "en"):
        for name, path in _pages(demo).items():
            page = desktop.open(path + (f"?lang={lang}" if name != "receipt" else ""))
            text = page.content()
            leaked = sorted(n for n in demo.secrets if n in text)
            assert leaked == [], (name, leaked)
            assert not PHONE_NUMBER.search(page.locator("body").inner_text()), name
            assert not IDENTITY_NUMBER.search(page.locator("body").inner_text()), name


def test_the_api_docs_render_offline_under_a_strict_content_security_policy(browser, demo):
    """/docs with every request to another host refused and a CSP that forbids inline script."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    outside, problems = [], []
    policy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"

    def route(request_route):
        if not request_route.request.url.startswith(demo.url):
            outside.append(request_route.request.url)
            return request_route.abort()
        if request_route.request.url.split("?")[0] == demo.url + "/docs":
            response = request_route.fetch()
            return request_route.fulfill(response=response,
                                         headers={**response.headers, "content-security-policy": policy})
        return request_route.continue_()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(demo.url + "/docs", wait_until="load")
        page.locator(".opblock").first.wait_for(timeout=30_000)
        assert page.locator(".opblock").count() > 20  # every operation of the API, rendered
        assert "/api/v1/public/verify" in page.locator("body").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "api-docs-desktop.png"))
        assert outside == [], outside
        assert problems == [], problems
    finally:
        context.close()


# --- lists a page at a time, and their filters ------------------------------------------------------

_LABELS = {"zh": {"next": "下一页", "prev": "上一页", "filter": "筛选"},
           "en": {"next": "Next", "prev": "Previous", "filter": "Filter"}}


def _listed(page, table: str) -> list[str]:
    return [a.get_attribute("href").split("?")[0].rsplit("/", 1)[-1]
            for a in page.locator(f"table[data-table={table}] tbody tr th a").all()]


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_resident_pages_through_and_filters_the_projects_on_a_phone(phone, demo, lang):
    words = _LABELS[lang]
    every = [p["project"] for p in demo.json("/api/v1/public/projects?limit=1000")["tables"]["projects"]]
    assert len(every) > 3
    page = phone.open(f"/projects?limit=3&lang={lang}")
    assert page.locator("html").get_attribute("lang") == ("en" if lang == "en" else "zh-CN")
    pages = [_listed(page, "projects")]
    _fits(page)
    while page.locator("nav.pager a[rel=next]").count():
        page.get_by_role("link", name=words["next"], exact=True).click()
        page.wait_for_load_state()
        _fits(page)
        pages.append(_listed(page, "projects"))
    assert [code for p in pages for code in p] == every  # every project once, in order
    assert all(len(p) == 3 for p in pages[:-1])
    page.get_by_role("link", name=words["prev"], exact=True).click()  # and back one page
    page.wait_for_load_state()
    assert _listed(page, "projects") == pages[-2]
    assert page.locator("html").get_attribute("lang") == ("en" if lang == "en" else "zh-CN")

    # the filter form: one street-town, then a search within the district by part of a name
    page = phone.open(f"/projects?lang={lang}")
    page.locator("form.filters select[name=street_town]").select_option(demo.town)
    page.get_by_role("button", name=words["filter"], exact=True).click()
    page.wait_for_load_state()
    _fits(page)
    local = demo.json(f"/api/v1/public/projects?street_town={demo.town}&limit=1000")
    assert _listed(page, "projects") == [p["project"] for p in local["tables"]["projects"]]
    assert page.locator("#summary-projects").inner_text().strip() == f"{local['summary']['projects']:,}"
    assert page.locator("html").get_attribute("lang") == ("en" if lang == "en" else "zh-CN")
    name = local["tables"]["projects"][0]["name"]
    page.locator("form.filters select[name=street_town]").select_option("")
    page.locator("form.filters input[name=q]").fill(name[:2])
    page.get_by_role("button", name=words["filter"], exact=True).click()
    page.wait_for_load_state()
    found = demo.json(f"/api/v1/public/projects?q={urllib.parse.quote(name[:2])}&limit=1000")
    assert _listed(page, "projects") == [p["project"] for p in found["tables"]["projects"]]
    assert demo.project in every
    assert phone.problems == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_corrections_and_organisations_page_and_filter_on_a_phone(phone, demo, lang):
    words = _LABELS[lang]
    everything = demo.json("/api/v1/public/corrections?limit=1000")["tables"]["corrections"]
    page = phone.open(f"/corrections?limit=2&lang={lang}")
    shown = []
    while True:
        _fits(page)
        shown += [int(t.inner_text().replace(",", "")) for t in
                  page.locator("table[data-table=corrections] tbody tr th").all() if t.inner_text().strip()]
        if not page.locator("nav.pager a[rel=next]").count():
            break
        page.get_by_role("link", name=words["next"], exact=True).click()
        page.wait_for_load_state()
    assert shown == [c["position"] for c in everything]
    year = everything[0]["day"][:4]
    page = phone.open(f"/corrections?lang={lang}")
    page.locator("form.filters input[name=year]").fill(year)
    page.locator("form.filters select[name=street_town]").select_option(demo.town)
    page.get_by_role("button", name=words["filter"], exact=True).click()
    page.wait_for_load_state()
    chosen = demo.json(f"/api/v1/public/corrections?year={year}&street_town={demo.town}")
    assert page.locator("#summary-corrections").inner_text().strip() == f"{chosen['summary']['corrections']:,}"

    organisations = demo.json(f"/api/v1/public/organisations?street_town={demo.town}&limit=1000")
    page = phone.open(f"/organisations?street_town={demo.town}&limit=5&lang={lang}")
    listed = []
    while True:
        _fits(page)
        listed += [t.inner_text().strip() for t in page.locator("table[data-table=organisations] tbody tr th").all()]
        if not page.locator("nav.pager a[rel=next]").count():
            break
        page.get_by_role("link", name=words["next"], exact=True).click()
        page.wait_for_load_state()
    assert listed == [o["organisation"] for o in organisations["tables"]["organisations"]]
    assert phone.problems == []


def _walk_pages(page, words: dict[str, str], table: str) -> list[list[str]]:
    """The first cell of each row of ``table``, page by page, following the 'next' links to the end;
    every page must fit the phone's width and keep its language."""
    lang = page.locator("html").get_attribute("lang")
    pages = []
    while True:
        _fits(page)
        assert page.locator("html").get_attribute("lang") == lang
        pages.append([t.inner_text().strip() for t in page.locator(f"table[data-table={table}] tbody tr th").all()])
        if not page.locator(f"nav.pager[data-pager={table}] a[rel=next]").count():
            return pages
        page.locator(f"nav.pager[data-pager={table}]").get_by_role("link", name=words["next"], exact=True).click()
        page.wait_for_load_state()


def _every(demo: Demo, path: str, table: str) -> list[dict]:
    """Every row of a public list in one JSON answer (the demo's lists are under the JSON's 1,000)."""
    data = demo.json(f"{path}?limit=1000")
    assert data["next"] is None
    return data["tables"][table]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_resident_pages_through_a_funds_gifts_and_uses_the_hours_and_the_checkpoints_on_a_phone(phone, demo, lang):
    words = _LABELS[lang]
    fund = demo.json(f"/api/v1/public/funds/{demo.fund}")
    gifts = _every(demo, f"/api/v1/public/funds/{demo.fund}", "donations")
    assert len(gifts) > 4 and len(gifts) == fund["paging"]["donations"]["total"]
    pages = _walk_pages(phone.open(f"/funds/{demo.fund}?limit=4&lang={lang}"), words, "donations")
    assert len(pages) == -(-len(gifts) // 4) and all(len(p) == 4 for p in pages[:-1])
    assert sum(len(p) for p in pages) == len(gifts)  # every gift once, newest first as in the JSON
    days = [date.fromisoformat(g["day"]) for g in gifts]
    assert [cell for p in pages for cell in p] == [f"{d.day} {d:%b} {d.year}" if lang == "en" else
                                                   f"{d.year}年{d.month}月{d.day}日" for d in days]

    spent = "GENERAL"  # the demo's general fund pays several projects and street-towns
    uses = _every(demo, f"/api/v1/public/funds/{spent}/usage", "usage")
    assert len(uses) > 2
    page = phone.open(f"/funds/{spent}?lang={lang}")  # the fund page links to every use
    page.locator("#summary-uses a").click()
    page.wait_for_load_state()
    assert page.url.split("?")[0].endswith(f"/funds/{spent}/usage")
    assert page.locator("html").get_attribute("lang") == ("en" if lang == "en" else "zh-CN")
    pages = _walk_pages(phone.open(f"/funds/{spent}/usage?limit=2&lang={lang}"), words, "usage")
    assert all(len(p) == 2 for p in pages[:-1])  # the largest use first, as in the JSON
    assert [cell for p in pages for cell in p] == [u["kind_en" if lang == "en" else "kind"] for u in uses]

    hours = _every(demo, "/api/v1/public/hours", "by_organisation")
    assert len(hours) > 3
    pages = _walk_pages(phone.open(f"/hours?limit=3&lang={lang}"), words, "by_organisation")
    assert [cell for p in pages for cell in p] == [h["organisation_name"] for h in hours]

    signed = _every(demo, "/api/v1/public/checkpoints", "checkpoints")
    assert len(signed) > 2
    pages = _walk_pages(phone.open(f"/checkpoints?limit=2&lang={lang}"), words, "checkpoints")
    assert [int(cell.replace(",", "")) for p in pages for cell in p] == [c["tree_size"] for c in signed]
    assert phone.problems == []
