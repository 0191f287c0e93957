"""HTTP caching of the public answers: an ``ETag`` from what the answer is computed from, and
``If-None-Match`` answered 304 before anything is built.

A public page, JSON answer or download is a function of the views' log position, the latest signed
checkpoint (its size and cosignatures: the street-town and checkpoints pages show it), the request's
path and parameters, the reader's language, the Shanghai date (a project's status is judged on it)
and this server's code and templates. The tag hashes exactly these, so reading it costs two small
queries, and a client (or a reverse proxy, docs/operations.md) that holds the answer for the same
tag gets ``304 Not Modified`` with no body. ``Cache-Control: public, max-age=0, must-revalidate``
lets browsers and proxies keep a copy but ask each time: figures change with every event.

The tag is read before the page: a runner committing in between makes the page newer than its tag,
never older, so a stale copy is never confirmed (the next request simply gets a 200 again).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response

from api import i18n
from api.deps import public_reads
from projections.base import CHINA

CACHE_CONTROL = "public, max-age=0, must-revalidate"
HERE = Path(__file__).resolve().parent


def _fingerprint() -> str:
    """The server's code and templates, so a new release never answers 304 for an old page."""
    digest = hashlib.sha256()
    for folder, pattern in ((HERE, "*.py"), (HERE / "routes", "*.py"), (HERE / "templates", "*.html"),
                            (HERE / "static", "*")):
        for path in sorted(folder.glob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


CODE = _fingerprint()


def etag(request: Request, position: int, checkpoint: tuple[int, int], lang: str, standing: str = "") -> str:
    """The tag of the answer to ``request`` computed at ``position`` under ``checkpoint`` (and the
    views' runner's failure, which puts a banner on the page: ``api.standing``)."""
    params = sorted(request.query_params.multi_items())
    today = datetime.now(CHINA).date().isoformat()
    basis = repr((CODE, request.url.path, params, lang, today, checkpoint, standing))
    return f'"{position}-{hashlib.sha256(basis.encode()).hexdigest()[:20]}"'


def matches(header: str | None, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (weak comparison, as RFC 9110 asks for it)."""
    if not header:
        return False
    wanted = tag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def headers(tag: str) -> dict[str, str]:
    return {"ETag": tag, "Cache-Control": CACHE_CONTROL, "Vary": "Cookie"}


def fresh(request: Request, response: Response) -> dict[str, str]:
    """A dependency of every public GET: brings the read side current, tags the answer, and
    answers 304 at once when the client holds this very answer. Returns the headers to send
    (already set on ``response`` for routes that return data rather than a response)."""
    reads = public_reads(request)
    latest = reads.ledger.checkpoints.latest()
    checkpoint = (latest.checkpoint.size, len(latest.cosigners)) if latest is not None else (0, 0)
    lang = i18n.language(request, request.query_params.get("lang"))
    tag = etag(request, reads.projections.position(), checkpoint, lang, repr(request.app.state.keeper.problem))
    sent = headers(tag)
    if matches(request.headers.get("if-none-match"), tag):
        raise HTTPException(304, headers=sent)
    response.headers.update(sent)
    return sent


Fresh = Annotated[dict[str, str], Depends(fresh)]
"""The answer's ETag and Cache-Control (a 304 already, when the client holds this answer)."""
