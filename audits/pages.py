"""Every public page's figures, as the server shows them, carried in the audit bundle and recomputed
by the auditor's replay (issue #17, item 12): the district, each street-town, the funds and each
fund, the projects and each project, the volunteer hours and the corrections — not only the
transparency reports. A poisoned view showed on a page is then a named difference in the audit.

The pages are built by the very code that serves them (``api.public_data``), over the ledger's views
at export, and over views folded from the verified history alone at audit (``audits.figures``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audits.findings import CRITICAL, WARNING, Finding
from projections import funds, projects
from projections.base import Table
from projections.live import DistrictView
from projections.report import snapshot


def shown_paths(views: Any, reference: Any) -> list[str]:
    """The paths of every public page with figures, for the views as they stand."""
    with snapshot(views) as s:
        fund_codes = [r["code"] for r in s.rows(funds.FUNDS, order="code")]
        project_codes = [r["code"] for r in s.rows(projects.PROJECTS, order="code")]
    return ["", *(f"street-towns/{t.code}" for t in reference.street_towns), "funds",
            *(f"funds/{c}" for c in fund_codes), "projects", *(f"projects/{c}" for c in project_codes), "hours",
            "corrections"]


def page(ledger: Any, views: Any, path: str) -> dict[str, Any]:
    """The JSON of the public page at ``path`` (``""`` for the district), as ``/api/v1/public`` answers it."""
    from api import public_data

    match path.split("/"):
        case [""]:
            built = public_data.district_page(ledger, DistrictView(_Readable(views)))
        case ["street-towns", code]:
            built = public_data.street_town_page(ledger, views, code)
        case ["funds"]:
            built = public_data.funds_page(ledger, views)
        case ["funds", code]:
            built = public_data.fund_page(ledger, views, code)
        case ["projects"]:
            built = public_data.projects_page(ledger, views)
        case ["projects", code]:
            built = public_data.project_page(ledger, views, code)
        case ["hours"]:
            built = public_data.hours_page(ledger, views)
        case ["corrections"]:
            built = public_data.corrections_page(ledger, views)
        case _:
            raise ValueError(f"no public page at /{path}")
    return {"path": path, **built.as_json()}


def published_pages(ledger: Any, views: Any) -> list[dict[str, Any]]:
    """Every public page with figures, from the ledger's views (run them first)."""
    return [page(ledger, views, path) for path in shown_paths(views, ledger.reference)]


class _Readable:
    """What ``DistrictView`` reads (``position()``, ``rows()``) over any views ``snapshot`` opens."""

    def __init__(self, views: Any) -> None:
        self.views = views

    def position(self) -> int:
        with snapshot(self.views) as s:
            return s.position

    def rows(self, table: Table, where: str = "", params: tuple = (), order: str = "") -> list[dict[str, Any]]:
        with snapshot(self.views) as s:
            return s.rows(table, where, params, order)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.views, name)


class _Replayed:
    """The replayed ledger as the page code reads it: its reference data, and no checkpoint (the log's
    own facts are checked by the audit's Merkle checks, not recomputed here)."""

    class _NoCheckpoints:
        @staticmethod
        def latest() -> None:
            return None

    checkpoints = _NoCheckpoints()

    def __init__(self, ledger: Any) -> None:
        self.reference = ledger.reference
        self.origin = ledger.origin


def compare_pages(views_at: Any, pages: Sequence[dict[str, Any]]) -> tuple[list[Finding], int]:
    """A finding for every published page the events do not reproduce; and how many did."""
    from audits.figures import BeforeState, UnfoldableEvent, _differences

    findings, matched = [], 0
    for shown in pages:
        try:
            path, position = str(shown["path"]), int(shown["position"])
            views = views_at(position)
            again = page(_Replayed(views.ledger), views, path)
        except UnfoldableEvent:
            break  # the transparency reports' comparison names the event
        except BeforeState as exc:
            findings.append(Finding("integrity.pages", WARNING, f"a published page was not recomputed: {exc}",
                                    "已公布的页面早于审计状态，未重算"))
            continue
        except Exception as exc:  # noqa: BLE001  (a page the events cannot give at all is a difference too)
            findings.append(Finding("integrity.pages", CRITICAL, f"the published page /{shown.get('path')} cannot be "
                                    f"recomputed from the events: {type(exc).__name__}: {exc}",
                                    f"无法由事件重算已公布的页面 /{shown.get('path')}"))
            continue
        differences = list(_differences(_figures(shown), _figures(again)))
        if not differences:
            matched += 1
            continue
        listed = "; ".join(f"{p}: published {a!r}, events give {b!r}" for p, a, b in differences[:5])
        findings.append(Finding("integrity.pages", CRITICAL,
                                f"the public page /{path} at log position {position} differs from the events: {listed}",
                                f"公开页面 /{path}（日志位置 {position}）的数字与事件重算结果不符（{len(differences)} 处）",
                                details={"path": path, "differences": [{"path": p, "published": a, "recomputed": b}
                                                                       for p, a, b in differences[:50]]}))
    return findings, matched


def _figures(shown: dict[str, Any]) -> dict[str, Any]:
    """What a page shows: everything but the facts the log, not the views, gives (the latest checkpoint)."""
    return {k: v for k, v in shown.items() if k not in ("checkpoint", "latest_checkpoint")}


