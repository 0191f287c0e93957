"""The app's routers own disjoint paths: no path one router answers is also matched by a route of
another, so the order ``api.main.create_app`` includes them in (the residents' pages first, for a
shorter walk) changes no answer."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from starlette.routing import Route

from api.main import create_app
from ledger.settings import Settings


def _sample(path: str) -> str:
    """A concrete path the route pattern matches: each parameter filled in."""
    return re.sub(r"\{[^}:]+:path\}", "sample/more", re.sub(r"\{[^}:]+\}", "sample", path))


def _routes_by_router(app) -> list[tuple[int, Route]]:
    """(which of the app's routes, or included router, it belongs to, the route), for every route."""
    found = []
    for n, entry in enumerate(app.routes):
        inner = getattr(entry, "original_router", None)
        for route in (inner.routes if inner is not None else [entry]):
            if isinstance(route, Route | APIRoute):
                found.append((n, route))
    return found


def test_no_two_routers_match_the_same_path(tmp_path):
    from typer.testing import CliRunner

    from wushe.cli import app as cli

    assert CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "init"]).exit_code == 0
    app = create_app(Settings(data_dir=tmp_path))
    routes = _routes_by_router(app)
    assert len(routes) > 80 and len({owner for owner, _ in routes}) > 10
    overlaps = [(route.path, other.path) for owner, route in routes for elsewhere, other in routes
                if owner != elsewhere and other.path_regex.match(_sample(route.path))]
    assert overlaps == []
    first = app.routes[1].original_router.routes  # after FastAPI's own /openapi.json
    assert "/" in {route.path for route in first}  # the residents' pages are tried first


def _calls(dependant) -> set:
    found = {dependant.call}
    for inner in dependant.dependencies:
        found |= _calls(inner)
    return found


def test_every_public_list_documents_the_parameters_it_reads(tmp_path):
    """The JSON lists read their parameters from the query string themselves (api.selection): each
    route that does still lists every one in the OpenAPI document, and nothing else reads them."""
    from typer.testing import CliRunner

    from api.selection import DESCRIBED, json_selection
    from wushe.cli import app as cli

    assert CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "init"]).exit_code == 0
    app = create_app(Settings(data_dir=tmp_path))
    operations = app.openapi()["paths"]
    reading = [route for _, route in _routes_by_router(app)
               if isinstance(route, APIRoute) and json_selection in _calls(route.dependant)]
    assert len(reading) == 9
    for route in reading:
        listed = {p["name"] for p in operations[route.path]["get"]["parameters"] if p["in"] == "query"}
        assert set(DESCRIBED) <= listed, route.path
        assert "422" in operations[route.path]["get"]["responses"], route.path
