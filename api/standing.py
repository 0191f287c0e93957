"""Where the public figures stand, and whether they may be shown (issue #17, items 10 and 12).

Figures are never silently stale: when the views' runner fails (a tampered event stops it, a
database error) the pages keep the figures they have, with a banner naming the log position they
stand at and the log's head, and ``/health`` says ``degraded``. Figures of a view that failed its
check against the digests the runner kept (an UPDATE of a view table) are not served at all: the
pages answer 503 saying why, the JSON a problem+json, until a check passes again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import LedgerError
from ledger.messages import msg


class ViewsWithheld(LedgerError):
    """The views failed their check against the digests the runner kept."""

    rule = "views-withheld"
    status = 503
    title_zh = "公开数据暂停发布"


def withheld(views: tuple[str, ...], position: int) -> ViewsWithheld:
    return ViewsWithheld(msg("the figures are withheld: the views {views} no longer match what the runner folded "
                             "from the signed log (changed behind its back at log position {position}); they are "
                             "shown again once rebuilt from the log", views=", ".join(views), position=position))


@dataclass(frozen=True)
class Standing:
    """Why the figures may be out of date or withheld, and where they stand."""

    position: int
    """The log position the views have folded to."""
    head: int
    """The log's last position."""
    failure: str | None
    """The runner's last error (its problem: the tampered event it stopped at), if it fails."""
    withheld: tuple[str, ...]
    """Views not served: they failed their check."""


def standing(keeper, projections) -> Standing | None:
    """None while all is well (the runner's last round succeeded, the views passed their check);
    else where the figures stand. Costs two queries, only when something is wrong."""
    failure = keeper.failure and (f"{keeper.failure}: {keeper.problem}" if keeper.problem else keeper.failure)
    if not failure and not keeper.withheld:
        return None
    try:
        position = projections.position()
        head = keeper.ledger.recorder.max_notification_id() or 0
    except Exception:  # noqa: BLE001  (the store itself is down: the banner still says the figures may be stale)
        position = head = 0
    return Standing(position, head, failure, keeper.withheld)


def install(app) -> None:
    """Answer ``ViewsWithheld`` raised anywhere (a page's freshness tag reads the views before the page
    is built): a page says why in HTML, the public JSON and downloads with problem+json."""
    from api.problems import problem_response

    async def refused(request, exc: ViewsWithheld):
        path = request.url.path
        if path.startswith(("/api/", "/downloads/")):
            return problem_response(exc, {"Retry-After": "60"})
        from api.routes.pages import withheld_page

        return withheld_page(request, exc)

    app.add_exception_handler(ViewsWithheld, refused)
