"""A response body produced by a thread of its own: the downloads read the views and write CSV,
XLSX or JSON in a dedicated thread, never on the event loop and never holding one of the thread
pool's workers while the client is slow to read, so a big download delays no other page.

The thread hands pieces to the event loop through a small queue: when the client reads slowly the
queue fills and the thread waits (backpressure: memory stays at a few pieces); when the client goes
away the thread is told to stop and ends at its next piece, closing its snapshot of the views.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import AsyncIterator, Callable

logger = logging.getLogger("wushe")

QUEUE_DEPTH = 8
"""Pieces waiting between the thread and the client."""
_DONE = object()


class Stopped(Exception):
    """The client went away: the producing thread stops."""


Emit = Callable[[bytes], None]


def threaded_body(produce: Callable[[Emit], None], name: str = "wushe-download") -> AsyncIterator[bytes]:
    """The body ``produce(emit)`` writes, piece by piece, from a thread started when the response starts."""

    async def body() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_DEPTH)
        stop = threading.Event()

        def put(item: object) -> None:
            try:
                sent = asyncio.run_coroutine_threadsafe(pieces.put(item), loop)
            except RuntimeError:  # the event loop has closed: nobody is reading any more
                raise Stopped from None
            while True:
                try:
                    sent.result(timeout=0.5)
                    return
                except concurrent.futures.TimeoutError:
                    if stop.is_set():
                        sent.cancel()
                        raise Stopped from None

        def emit(data: bytes) -> None:
            if stop.is_set():
                raise Stopped
            if data:
                put(data)

        def run() -> None:
            try:
                produce(emit)
                put(_DONE)
            except Stopped:
                pass
            except BaseException as exc:  # handed to the response, which ends the body
                logger.exception("download failed")
                try:
                    put(exc)
                except Stopped:
                    pass

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        try:
            while True:
                item = await pieces.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    return body()
