"""HTTP caching of the public answers: an ``ETag`` from what the answer is computed from, and
``If-None-Match`` answered 304 before anything is built.

A public page, JSON answer or download is a function of the views' log position, the latest signed
checkpoint (its size and cosignatures: the street-town and checkpoints pages show it), the request's
path and parameters, the reader's language, the Shanghai date (a project's status is judged on it)
and this server's code and templates. The tag hashes exactly these (the store's part as the
views' runner last read it, ``api.reads.PublicReads.at_once``, else two small queries), and a
client (or a reverse proxy, docs/operations.md) that holds the answer for the same tag gets
``304 Not Modified`` with no body. ``Cache-Control: public, max-age=0, must-revalidate``
lets browsers and proxies keep a copy but ask each time: figures change with every event.

The tag is read before the page: a runner committing in between makes the page newer than its tag,
never older, so a stale copy is never confirmed (the next request simply gets a 200 again).

The server keeps the answers it built by their tag (:class:`Answers`, ``WUSHE_API_ANSWER_CACHE_MIB``):
the views change only when the runner advances, so a second reader of the same page at the same
position gets the bytes the first one was sent, without the page being read or rendered again. An
answer is kept only when it was built at the very position its tag names, with status 200, on a
read side that is not behind its primary (a page behind says how many seconds behind: those are
built each time). While one request builds an answer, others asking for the same tag wait for it
instead of building it too. ``X-Wushe-Cache: hit`` or ``miss`` says which an answer was.

A GET for a kept answer is sent by :class:`KeptAnswers`, an ASGI layer just outside the router:
it makes the same tag from the same inputs (:func:`figures_tag`) and sends the kept bytes, or the 304,
without the route being found or its parameters and dependencies resolved, which was most of a
kept page's cost (docs/performance.md section 8). Everything else, a missing or stale tag
included, goes on to the route, which answers as before. The middleware outside the layer (the
rate limits, the security headers, the history guard) sees every request either way.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api import i18n
from api.deps import public_reads
from api.reads import ReadSide
from projections.base import CHINA
from projections.keeper import read_basis

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


async def fresh(request: Request, response: Response) -> dict[str, str]:
    """A dependency of every public GET: brings the read side current, tags the answer, and
    answers 304 at once when the client holds this very answer. Returns the headers to send
    (already set on ``response`` for routes that return data rather than a response).

    On the event loop when the tag's inputs are known without a query (``PublicReads.at_once``:
    the runner keeps them), which is what a kept answer's request costs; else in the thread pool,
    where the read side may wait for this process's last write and the inputs are read."""
    quick = request.app.state.reads.at_once()
    if quick is None:
        return await run_in_threadpool(_fresh_from_store, request, response)
    side, basis = quick
    request.state.read_side = side
    return _tagged(request, response, side, basis.position, basis.checkpoint)


def _fresh_from_store(request: Request, response: Response) -> dict[str, str]:
    side = public_reads(request)
    basis = read_basis(side.projections, side.ledger.checkpoints, 0)
    return _tagged(request, response, side, basis.position, basis.checkpoint)


def _request_tag(request: Request, position: int, checkpoint: tuple[int, int], standing: str) -> str:
    return etag(request, position, checkpoint, i18n.language(request, request.query_params.get("lang")), standing)


def figures_tag(request: Request, keeper, position: int, checkpoint: tuple[int, int]) -> str:
    """The tag of a figures answer (every public GET but the receipt form) at ``position``: what
    :func:`fresh` and :class:`KeptAnswers` both tag with, so they always agree."""
    return _request_tag(request, position, checkpoint, repr(keeper.problem))


def _tagged(request: Request, response: Response, side: ReadSide, position: int,
            checkpoint: tuple[int, int]) -> dict[str, str]:
    tag = figures_tag(request, request.app.state.keeper, position, checkpoint)
    return _answer_tag(request, response, position, tag, keep=not side.behind)


def _answer_tag(request: Request, response: Response, position: int, tag: str, *, keep: bool) -> dict[str, str]:
    """The request's tag set on ``response`` (a 304 raised when the client holds it), and the key
    its answer is kept under (none unless ``keep``)."""
    sent = headers(tag)
    if matches(request.headers.get("if-none-match"), tag):
        raise HTTPException(304, headers=sent)
    response.headers.update(sent)
    request.state.answer_key = (tag, position) if keep else None
    return sent


async def fresh_form(request: Request, response: Response) -> dict[str, str]:
    """The tag of a page that shows no figures and no checkpoint (the receipt check's form): its
    path, parameters, language and this server's code, on the event loop with no query, so the
    form is built once and then sent as kept. While the views' runner fails or a view is withheld
    the page carries the banner naming positions: then it has no tag and is built each time."""
    keeper = request.app.state.keeper
    if keeper.failure or keeper.withheld:
        request.state.answer_key = None
        return {"Cache-Control": "no-cache"}
    return _answer_tag(request, response, 0, _request_tag(request, 0, (0, 0), "form"), keep=True)


@dataclass(frozen=True)
class Stored:
    body: bytes
    media_type: str
    path: str = ""
    """The request path the answer was built for (:meth:`Answers.holds`)."""


class Answers:
    """Built answers by their ETag, least recently used dropped first beyond ``max_bytes``."""

    WAIT = 30.0
    """Seconds a request waits for another one building the same answer before building it itself."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[str, Stored] = OrderedDict()
        self._building: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._paths: Counter[str] = Counter()

    def holds(self, path: str) -> bool:
        """Whether some answer for ``path`` is kept (for any parameters or position): a request
        for another path need not be tagged to know it finds nothing."""
        return path in self._paths

    def _forget(self, stored: Stored) -> None:
        self.size -= len(stored.body)
        self._paths[stored.path] -= 1
        if self._paths[stored.path] <= 0:
            del self._paths[stored.path]

    def get(self, key: str) -> Stored | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, stored: Stored) -> None:
        if len(stored.body) > self.max_bytes // 4:  # one answer never pushes out most of the others
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._forget(old)
            self._entries[key] = stored
            self.size += len(stored.body)
            self._paths[stored.path] += 1
            while self.size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._forget(dropped)

    def answer(self, key: str, position: int, build: Callable[[], tuple[Response, int | None]],
               path: str = "") -> tuple[Response | Stored, bool]:
        """The stored answer for ``key`` (and True), or one built now (and False), kept when it
        was built at ``position`` with status 200."""
        while True:
            with self._lock:
                found = self._entries.get(key)
                if found is not None:
                    self._entries.move_to_end(key)
                    return found, True
                pending = self._building.get(key)
                if pending is None:
                    pending = self._building[key] = threading.Event()
                    break
            if not pending.wait(self.WAIT) or self.get(key) is None:
                # the other build failed, was not kept, or is slow: build this one alone
                response, _ = build()
                return response, False
        try:
            response, built_at = build()
            if response.status_code == 200 and built_at == position and isinstance(response.body, bytes):
                self.put(key, Stored(response.body, response.media_type or "application/octet-stream", path))
            return response, False
        finally:
            with self._lock:
                self._building.pop(key, None)
            pending.set()


def _from_store(found: Stored, sent: dict[str, str]) -> Response:
    response = Response(found.body, media_type=found.media_type)
    response.headers.update({**sent, "X-Wushe-Cache": "hit"})
    return response


def kept(request: Request, sent: dict[str, str]) -> Response | None:
    """The answer kept under this request's tag, if there is one now, looked up without waiting
    for anybody: an ``async`` route answers a hit on the event loop, and goes to the thread pool
    (:func:`answered`) only to build, or to wait for a reader building the same answer."""
    answers: Answers | None = getattr(request.app.state, "answers", None)
    key = getattr(request.state, "answer_key", None)
    found = None if answers is None or key is None else answers.get(key[0])
    return None if found is None else _from_store(found, sent)


def cached(request: Request, sent: dict[str, str], build: Callable[[], tuple[Response, int | None]]) -> Response:
    """The answer ``build`` makes (the response and the position it was built at), or the same
    bytes kept from an earlier request under this request's tag (:func:`fresh` sets it)."""
    answers: Answers | None = getattr(request.app.state, "answers", None)
    key = getattr(request.state, "answer_key", None)
    if answers is None or key is None:
        response, _ = build()
        response.headers.update(sent)
        return response
    found, hit = answers.answer(key[0], key[1], build, request.scope["path"])
    if hit:
        return _from_store(found, sent)  # type: ignore[arg-type]
    found.headers.update({**sent, "X-Wushe-Cache": "miss"})  # type: ignore[union-attr]
    return found  # type: ignore[return-value]


async def answered(request: Request, sent: dict[str, str],
                   build: Callable[[], tuple[Response, int | None]]) -> Response:
    """:func:`cached` from an ``async`` route: a kept answer is sent from the event loop; building
    one (or waiting for a reader building the same one) always runs in the thread pool."""
    return kept(request, sent) or await run_in_threadpool(cached, request, sent, build)


async def cached_json(request: Request, sent: dict[str, str], build: Callable[[], dict],
                      at: str = "position") -> Response:
    """A JSON answer of the public API through the cache (:func:`answered`); its member ``at``
    says the position it was built at."""

    def made() -> tuple[Response, int | None]:
        content = build()
        response = JSONResponse(jsonable_encoder(content))
        side = getattr(request.state, "read_side", None)
        if side is not None and side.behind:
            response.headers["X-Wushe-Figures-As-Of"] = str(side.as_of_position)
            response.headers["X-Wushe-Behind-Primary"] = str(side.behind)
        position = content.get(at) if isinstance(content, dict) else None
        return response, position if isinstance(position, int) else None

    return await answered(request, sent, made)


Fresh = Annotated[dict[str, str], Depends(fresh)]
"""The answer's ETag and Cache-Control (a 304 already, when the client holds this answer)."""

FreshForm = Annotated[dict[str, str], Depends(fresh_form)]
""":data:`Fresh` for a page that shows neither figures nor checkpoints (:func:`fresh_form`)."""


async def fresh_reads(request: Request, tag: Fresh) -> ReadSide:
    """The read side :func:`fresh` chose for this request (FastAPI runs ``fresh`` once a request),
    without a second trip to the thread pool."""
    return request.state.read_side


FreshReads = Annotated[ReadSide, Depends(fresh_reads)]
"""Public reads for a route that also takes :data:`Fresh`."""


class KeptAnswers:
    """Sends a GET's kept answer (or its 304) from just outside the router: the tag made as
    :func:`fresh` makes it, from the runner's reading (``PublicReads.at_once``), and looked up
    in :class:`Answers`. Falls through to the app whenever the route could answer otherwise: no
    reading to tag from, a read side behind its primary, an answer that would set the language
    cookie, or nothing kept under the tag. Only paths with an answer kept are tagged here."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self._kept(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        if answer is None:
            await self.app(scope, receive, send)
        else:
            await answer(scope, receive, send)

    def _kept(self, scope: Scope) -> Response | None:
        answers: Answers | None = getattr(self.state, "answers", None)
        if answers is None or not answers.holds(scope["path"]):
            return None
        quick = self.state.reads.at_once()
        if quick is None or quick[0].behind:
            return None
        request = Request(scope)
        asked = request.query_params.get("lang")
        if asked is not None and request.cookies.get(i18n.COOKIE) != asked:
            return None  # the route answers and sets the cookie (pages._remember_language)
        basis = quick[1]
        tag = figures_tag(request, self.state.keeper, basis.position, basis.checkpoint)
        found = answers.get(tag)
        if found is None:
            return None
        sent = headers(tag)
        if matches(request.headers.get("if-none-match"), tag):
            return Response(status_code=304, headers=sent)
        return _from_store(found, sent)


def install(app) -> None:
    """The kept-answer layer, innermost of the app's middleware: add it before any other."""
    app.add_middleware(KeptAnswers, state=app.state)
