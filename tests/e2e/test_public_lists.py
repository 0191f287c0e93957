"""The public lists a page at a time (issue 14 items 2 and 3), on SQLite and PostgreSQL: keyset
cursors walk every row exactly once forwards and backwards, totals count every row selected, the
residents' filters select what they say, the JSON carries the same cursors, and every public answer
has an ETag that a client holding it gets a 304 for, without the page being built."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from api import public_data
from api.main import create_app
from api.settings import ApiSettings
from ledger.application import Actor
from ledger.signing import SigningKey
from projections.base import CHINA

API = "/api/v1/public"
TOWN, OTHER = "xianxiaxincun", "hongqiao"
UNLIMITED = ApiSettings(public_rate="100000/minute", auth_rate="100000/minute")
TODAY = __import__("datetime").datetime.now(CHINA).date()


def _projects(cast) -> dict[str, dict]:
    """Seven projects: two street-towns, two domains, ended, running and not yet started."""
    led, acct = cast.ledger, cast.accountant
    led.register_organisation(cast.root, "HQORG", "虹桥邻里社", "social_organisation", OTHER, community="虹桥居委",
                              registered_on=date(2024, 3, 1))
    year = TODAY.year
    made = {
        "P-01": {"name": "长者助餐", "street_town": TOWN, "domain": "elderly_care", "starts_on": date(year - 3, 1, 1),
                     "ends_on": date(year - 2, 12, 31)},
        "P-02": {"name": "儿童托管", "street_town": TOWN, "domain": "child_welfare", "starts_on": date(year - 1, 1, 1),
                     "ends_on": date(year + 1, 12, 31)},
        "P-03": {"name": "长者陪诊", "street_town": OTHER, "domain": "elderly_care", "starts_on": date(year - 1, 6, 1),
                     "ends_on": date(year + 2, 5, 31)},
        "P-04": {"name": "社区议事会", "street_town": OTHER, "domain": "community_governance", "starts_on": date(year + 1, 1, 1),
                     "ends_on": date(year + 1, 12, 31)},
        "P-05": {"name": "助老食堂 100%", "street_town": TOWN, "domain": "elderly_care", "starts_on": date(year - 2, 1, 1),
                     "ends_on": date(year + 3, 12, 31)},
        "P-06": {"name": "Reading Club", "street_town": OTHER, "domain": "child_welfare", "starts_on": date(year - 3, 3, 1),
                     "ends_on": date(year - 3, 9, 30)},
        "P-07": {"name": "老年大学", "street_town": TOWN, "domain": "elderly_care", "starts_on": date(year, 1, 1),
                     "ends_on": date(year, 12, 31)},
    }
    for n, (code, p) in enumerate(made.items(), start=1):
        led.register_project(acct, code, p["name"], street_town=p["street_town"], domain=p["domain"],
                             organisation="LELING" if p["street_town"] == TOWN else "HQORG", budget=10_000 * n,
                             funding_source="fund", approval_ref=f"长民〔2026〕{n}号", reach=100,
                             starts_on=p["starts_on"], ends_on=p["ends_on"])
    return made


@pytest.fixture(name="site")
def site_fixture(cast):
    led, acct = cast.ledger, cast.accountant
    projects = _projects(cast)
    led.open_fund(acct, "GEN", "综合基金", "CNCF", street_town=TOWN)
    gifts = []
    for n in range(9):
        on = date(2024 + n % 3, 1 + n, 10)  # three years, each gift its own day
        gifts.append(led.record_donation(acct, "GEN", 1_000 * (n + 1), donor_type="resident", received_on=on).positions[0])
    for position in gifts[:5]:
        led.reverse(acct, position, reason=f"录入错误 {position}")
    app = create_app(ledger=led, api_settings=UNLIMITED)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, cast, projects


def _walk(client, path: str, table: str, **params) -> tuple[list[list[dict]], dict]:
    """Every page of a list through the JSON's ``next`` cursors."""
    pages, answer = [], None
    while True:
        answer = client.get(f"{API}/{path}", params=params)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        pages.append(data["tables"][table])
        assert data["next"] == data["paging"][table]["next"]
        if data["next"] is None:
            return pages, data
        params = {**params, "after": data["next"]}


def test_projects_page_through_every_row_once_in_order_and_back(site):
    client, _, made = site
    pages, last = _walk(client, "projects", "projects", limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [r["project"] for p in pages for r in p] == sorted(made)
    assert last["paging"]["projects"]["total"] == 7 and last["summary"]["projects"] == 7
    # back from the last page by the previous cursors: the same pages, in reverse
    back, previous = [], last["paging"]["projects"]["previous"]
    while previous is not None:
        data = client.get(f"{API}/projects", params={"limit": 3, "before": previous}).json()
        back.append(data["tables"]["projects"])
        previous = data["paging"]["projects"]["previous"]
    assert back == pages[:-1][::-1]


def test_the_filters_select_what_residents_ask_for(site):
    client, _, made = site

    def codes(**params) -> list[str]:
        data = client.get(f"{API}/projects", params={"limit": 100, **params}).json()
        assert data["paging"]["projects"]["total"] == len(data["tables"]["projects"]) == data["summary"]["projects"]
        return [r["project"] for r in data["tables"]["projects"]]

    assert codes(street_town=OTHER) == ["P-03", "P-04", "P-06"]
    assert codes(domain="elderly_care") == ["P-01", "P-03", "P-05", "P-07"]
    assert codes(street_town=TOWN, domain="elderly_care") == ["P-01", "P-05", "P-07"]
    assert codes(year=TODAY.year) == ["P-02", "P-03", "P-05", "P-07"]
    assert codes(year=TODAY.year - 3) == ["P-01", "P-06"]
    assert codes(status="ended") == ["P-01", "P-06"]
    assert codes(status="upcoming") == ["P-04"]
    assert codes(status="running") == ["P-02", "P-03", "P-05", "P-07"]
    assert codes(q="长者") == ["P-01", "P-03"]
    assert codes(q="reading") == ["P-06"]  # either case
    assert codes(q="p-0") == sorted(made)  # the code too
    assert codes(q="100%") == ["P-05"] and codes(q="%") == ["P-05"]  # the search's own % is literal
    assert codes(q="_") == []
    assert codes(street_town="", domain="", q="  ") == sorted(made)  # a form's blank choices filter nothing
    budget = client.get(f"{API}/projects", params={"street_town": OTHER, "limit": 1}).json()["summary"]["budget"]
    assert budget == "1300.00"  # the totals count every project selected, not the page shown (300 + 400 + 600 yuan)


def test_bad_list_parameters_are_4xx_naming_the_parameter(site):
    client, _, _ = site
    for params, status, name in (({"after": "not-a-cursor"}, 422, "after"), ({"limit": "0"}, 422, "limit"),
                                 ({"limit": "1001"}, 422, "limit"), ({"year": "26"}, 422, "year"),
                                 ({"year": "２０２６"}, 422, "year"), ({"limit": "²"}, 422, "limit"),
                                 ({"q": "a\u202eb"}, 422, "q"),
                                 ({"status": "lost"}, 422, "status"), ({"street_town": "atlantis"}, 404, "street_town"),
                                 ({"domain": "nope"}, 404, "domain"), ({"q": "x" * 101}, 422, "q"),
                                 ({"after": "WyJQLTAxIl0", "before": "WyJQLTAxIl0"}, 422, "before")):
        answer = client.get(f"{API}/projects", params=params)
        assert answer.status_code == status and answer.json()["field"] == name, (params, answer.text)
    assert client.get(f"{API}/projects", params={"limit": "1000"}).status_code == 200
    html = client.get("/projects", params={"limit": "101"})  # a page holds at most 100 rows
    assert html.status_code == 422 and "text/html" in html.headers["content-type"]


def test_html_pages_link_first_previous_next_and_keep_filters_and_language(site):
    client, _, _ = site
    seen, url, first = [], "/projects?domain=elderly_care&limit=2&lang=en", None
    while url:
        page = client.get(url)
        assert page.status_code == 200
        html = page.text
        assert 'lang="en"' in html
        seen += re.findall(r'<a href="/projects/(P-\d\d)\?lang=en">', html)
        links = dict(re.findall(r'<a rel="(first|prev|next)" href="([^"]+)"', html))
        if first is None:
            assert "first" not in links and "prev" not in links
            first = url
        else:
            assert parse_qs(urlparse(unescape(links["first"])).query) == {"domain": ["elderly_care"], "limit": ["2"],
                                                                          "lang": ["en"]}
        url = unescape(links["next"]) if "next" in links else None
        if url:
            assert parse_qs(urlparse(url).query)["domain"] == ["elderly_care"]
    assert seen == ["P-01", "P-03", "P-05", "P-07"]
    assert "Showing 2 of 4" in client.get(first).text
    zh = client.get("/projects", params={"street_town": OTHER, "lang": "zh"}).text
    assert "显示 3 条，共 3 条" in zh and '<option value="hongqiao" selected>' in zh


def test_a_funds_gifts_newest_first_a_page_at_a_time_and_by_year(site):
    client, _, _ = site
    pages, _ = _walk(client, "funds/GEN", "donations", limit=4)
    days = [g["day"] for p in pages for g in p]
    assert len(days) == 9 and days == sorted(days, reverse=True)
    one_year = client.get(f"{API}/funds/GEN", params={"year": 2025}).json()
    assert [g["day"][:4] for g in one_year["tables"]["donations"]] == ["2025"] * 3
    assert one_year["paging"]["donations"]["total"] == 3


def test_corrections_hours_organisations_and_checkpoints_page_too(site):
    client, cast, _ = site
    pages, last = _walk(client, "corrections", "corrections", limit=2)
    positions = [c["position"] for p in pages for c in p]
    assert len(positions) == 5 and positions == sorted(positions, reverse=True)
    assert last["summary"]["corrections"] == 5
    assert client.get(f"{API}/corrections", params={"street_town": OTHER}).json()["paging"]["corrections"]["total"] == 0
    assert client.get(f"{API}/corrections", params={"year": TODAY.year}).json()["summary"]["corrections"] == 5
    assert client.get(f"{API}/corrections", params={"year": 2024}).json()["summary"]["corrections"] == 0  # made today
    organisations, _ = _walk(client, "organisations", "organisations", limit=2)
    codes = [o["organisation"] for p in organisations for o in p]
    assert codes == sorted(codes) and {"CNCF", "OTHERF", "LELING", "HQORG"} <= set(codes)
    only = client.get(f"{API}/organisations", params={"street_town": OTHER, "q": "邻里"}).json()
    assert [o["organisation"] for o in only["tables"]["organisations"]] == ["HQORG"]
    assert client.get("/organisations", params={"year": 2024}).status_code == 200
    hours = client.get(f"{API}/hours", params={"street_town": TOWN, "domain": "elderly_care"}).json()
    assert hours["paging"]["by_organisation"]["total"] == 0
    led = cast.ledger
    key = SigningKey.generate(led.origin)
    led.register_principal(cast.root, led.origin, "账本日志", ["log"], key=key.verifier)
    for n in range(3):
        led.record_donation(cast.accountant, "GEN", 100 + n, donor_type="resident")
        led.sign_checkpoint(Actor(led.origin, key))
    signed, last = _walk(client, "checkpoints", "checkpoints", limit=1)
    sizes = [c["tree_size"] for p in signed for c in p]
    assert sizes == led.checkpoints.sizes()[::-1] and last["summary"]["checkpoints"] == 3
    assert [c["consistent"] for p in signed for c in p] == [True, True, None]  # each checked against the one before
    tag = client.get("/checkpoints").headers["etag"]
    assert client.get("/checkpoints", headers={"If-None-Match": tag}).status_code == 304
    led.record_donation(cast.accountant, "GEN", 1, donor_type="resident")
    led.sign_checkpoint(Actor(led.origin, key))
    assert client.get("/checkpoints", headers={"If-None-Match": tag}).status_code == 200  # a new checkpoint, a new tag


def test_every_public_answer_has_an_etag_and_a_client_holding_it_gets_304_unbuilt(site, monkeypatch):
    client, cast, _ = site
    paths = ["/", "/projects", "/projects/P-01", "/funds/GEN", f"/street-towns/{TOWN}", "/hours", "/corrections",
             "/organisations", "/disclosures", f"{API}/disclosures", f"{API}/overview", f"{API}/projects?limit=2", f"{API}/district",
             "/downloads/csv/projects?table=projects", "/downloads/json/funds/GEN", "/downloads/xlsx/corrections"]
    tags = {}
    for path in paths:
        first = client.get(path)
        assert first.status_code == 200, path
        tag = first.headers["etag"]
        assert re.fullmatch(r'"\d+-[0-9a-f]{20}"', tag) and first.headers["cache-control"].startswith("public")
        tags[path] = tag
        again = client.get(path, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag, path
        assert client.get(path, headers={"If-None-Match": f'W/{tag}, "other"'}).status_code == 304
    assert len(set(tags.values())) == len(paths)  # each answer its own tag

    def never(*args, **kwargs):
        raise AssertionError("a 304 must not build the page")

    monkeypatch.setattr(public_data, "projects_page", never)
    assert client.get("/projects", headers={"If-None-Match": tags["/projects"]}).status_code == 304
    monkeypatch.undo()
    # the language, the parameters and any new event make a new tag
    assert client.get("/projects", params={"lang": "en"}).headers["etag"] != tags["/projects"]
    assert client.get("/projects", params={"limit": 3}).headers["etag"] != tags["/projects"]
    client.cookies.clear()
    cast.ledger.record_donation(cast.accountant, "GEN", 500, donor_type="resident")
    fresh = client.get("/projects", headers={"If-None-Match": tags["/projects"]})
    assert fresh.status_code == 200 and fresh.headers["etag"] != tags["/projects"]


def test_rate_limits_still_hold_for_public_reads_and_downloads(cast):
    app = create_app(ledger=cast.ledger, api_settings=ApiSettings(public_rate="3/minute", auth_rate="100/minute"))
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in (f"{API}/projects", "/downloads/csv/projects?table=projects"):
            app.state.limiter.reset()
            answers = [client.get(path) for _ in range(4)]
            assert [a.status_code for a in answers] == [200, 200, 200, 429], path
            assert answers[-1].json()["rule"] == "rate-limit" and int(answers[-1].headers["Retry-After"]) >= 1
        app.state.limiter.reset()
        tag = client.get(f"{API}/projects").headers["etag"]
        held = [client.get(f"{API}/projects", headers={"If-None-Match": tag}).status_code for _ in range(3)]
        assert held == [304, 304, 429]  # a 304 is cheap, but it is a read: it counts


def test_a_funds_uses_the_largest_first_on_its_page_and_every_one_on_its_use_page(cast, monkeypatch):
    led, acct = cast.ledger, cast.accountant
    led.open_fund(acct, "USE", "综合基金", "CNCF", street_town=TOWN)
    led.record_donation(acct, "USE", 1_000_000, donor_type="resident")
    paid = {}
    for n in range(1, 6):
        code = f"U-{n}"
        led.register_project(acct, code, f"项目{n}", street_town=TOWN, domain="elderly_care", organisation="LELING",
                             budget=100_000, funding_source="fund", approval_ref=f"批{n}", reach=10,
                             starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
        for amount in (1_000 * n, 7 * n):  # two payments each: the use sums them
            number = led.request_disbursement(acct, "USE", amount, project=code, purpose="服务").ident
            led.approve_disbursement(cast.approver, number, approval_ref=f"批-{code}-{amount}")
            led.pay_disbursement(acct, number)
        paid[code] = 1_007 * n
    monkeypatch.setattr(public_data, "USES_SHOWN", 2)
    app = create_app(ledger=led, api_settings=UNLIMITED)
    with TestClient(app, raise_server_exceptions=False) as client:
        fund = client.get(f"{API}/funds/USE").json()
        assert [u["project"] for u in fund["tables"]["usage"]] == ["U-5", "U-4"]  # the largest first, two shown
        assert fund["summary"]["uses"] == 5
        page = client.get("/funds/USE").text
        assert 'href="/funds/USE/usage"' in page

        rows, cursor = [], None
        while True:
            answer = client.get(f"{API}/funds/USE/usage", params={"limit": 2, **({"after": cursor} if cursor else {})})
            assert answer.status_code == 200
            body = answer.json()
            rows += body["tables"]["usage"]
            cursor = body["next"]
            if cursor is None:
                break
        assert [(r["project"], r["payments"]) for r in rows] == [(f"U-{n}", 2) for n in range(5, 0, -1)]
        assert {r["project"]: r["amount"] for r in rows} == {c: f"{v / 100:.2f}" for c, v in paid.items()}
        assert body["summary"]["used"] == f"{sum(paid.values()) / 100:.2f}" == fund["summary"]["spent"]
        html = client.get("/funds/USE/usage", params={"lang": "en", "limit": 2})
        assert html.status_code == 200 and "Every use" in html.text and "after=" in html.text
        assert client.get("/funds/NOPE/usage").status_code == 404
        download = client.get("/downloads/csv/funds/USE?table=usage")
        assert download.status_code == 200 and download.text.count("\n") == 6  # the header and every use
