"""The staff console served for tests: the API test site (``apisite``) with a console password for
every principal, and a browser-like client per role (its own cookie jar) that signs in and posts
forms with their CSRF token and Idempotency-Key, as the pages give them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from apisite import ROLES, Site, build_site
from conftest import fresh_postgres_schema
from fastapi.testclient import TestClient

from api.console.settings import ConsoleSettings

PASSWORD = "correct horse battery staple"
FAST = ConsoleSettings(argon2_memory_kib=8192, argon2_time=1, argon2_parallelism=1)
"""Cheap stretching for tests (the default costs 64 MiB per sign-in)."""


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in the page"
    return found.group(1)


def field_errors(html: str) -> dict[str, str]:
    """Rule shown next to each refused field: {field: rule}."""
    return dict(re.findall(r'id="error-([\w.]+)" data-rule="([\w-]+)"', html))


@dataclass
class ConsoleSite:
    site: Site
    clients: dict[str, TestClient] = field(default_factory=dict)

    @property
    def app(self):
        return self.site.client.app

    @property
    def ledger(self):
        return self.site.ledger

    def browser(self) -> TestClient:
        """A fresh client with its own cookies, not signed in."""
        return TestClient(self.app, follow_redirects=False)

    def sign_in(self, client: TestClient, handle: str, password: str = PASSWORD, code: str = ""):
        page = client.get("/console/sign-in").text
        form = page[page.index('action="/console/sign-in"'):]  # not the sign-out form of a live session
        return client.post("/console/sign-in", data={"handle": handle, "password": password, "code": code,
                                                     "csrf": hidden(form, "csrf")})

    def as_role(self, role: str) -> TestClient:
        """A client signed in as the principal of ``role`` (one per role, kept)."""
        if role not in self.clients:
            client = self.browser()
            if role != "anonymous":
                answer = self.sign_in(client, self.site.actors[role].handle)
                assert answer.status_code == 303, answer.text
            self.clients[role] = client
        return self.clients[role]

    def post_form(self, client: TestClient, path: str, data: dict, *, form_page: str | None = None,
                  key: str | None = None):
        """Post a console form as its page gives it: the CSRF token and Idempotency-Key from the page."""
        page = client.get(form_page or path)
        if page.status_code != 200:
            return page
        body = {"csrf": hidden(page.text, "csrf"), **data}
        if "idempotency_key" in page.text:
            body["idempotency_key"] = key or hidden(page.text, "idempotency_key")
        return client.post(path, data=body)


def build_console(database_url: str, tmp_path) -> ConsoleSite:
    site = build_site(database_url, tmp_path)
    # the log key, so certificates get a checkpoint that covers them
    site.client.app.state.log_actor = site.cast.actor(site.ledger.origin, ["log"])
    console = site.client.app.state.console
    console.credentials.settings = FAST
    for actor in site.actors.values():
        console.credentials.set_password(actor.key, PASSWORD)
    return ConsoleSite(site)


@pytest.fixture(scope="module", params=["sqlite", "postgres"], name="console")
def console_fixture(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("console")
    urls = iter([f"sqlite:///{tmp_path / 'ledger.sqlite3'}"]) if request.param == "sqlite" else fresh_postgres_schema()
    built = build_console(next(urls), tmp_path)
    try:
        yield built
    finally:
        built.ledger.close()
        next(urls, None)


__all__ = ["PASSWORD", "ROLES", "ConsoleSite", "console_fixture", "field_errors", "hidden"]
