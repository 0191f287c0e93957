"""A response body produced by a thread of its own: the downloads read the views and write CSV,
XLSX or JSON in a dedicated thread, never on the event loop and never in one of the thread pool's
workers, so a big download delays no other page.

The thread writes into a temporary spool file and the response sends from it as the thread goes:
the client gets the first rows at once, and the thread never waits for a slow client. That
matters: the thread reads the views inside one snapshot transaction, and PostgreSQL ends a
transaction left idle too long (eventsourcing sets ``idle_in_transaction_session_timeout``), so a
download must not hold one open at the client's pace. Memory stays at one piece; the spool takes
disk space of the body's size in the temporary directory until the response ends. When the client
goes away the thread is told to stop and ends at its next piece, closing its snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable

logger = logging.getLogger("wushe")

PIECE = 256 * 1024
"""The most bytes sent at a time."""


class Stopped(Exception):
    """The client went away: the producing thread stops."""


Emit = Callable[[bytes], None]


class _Spool:
    """A temporary file written by one thread and read by the event loop, closed when both are done."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by release(), by the last user
        self.loop = loop
        self.lock = threading.Lock()
        self.written = 0
        self.done = False
        self.error: BaseException | None = None
        self.users = 2
        self.stop = threading.Event()
        self.wake = asyncio.Event()

    def notify(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.wake.set)
        except RuntimeError:  # the event loop has closed: nobody is reading any more
            self.stop.set()

    def write(self, data: bytes) -> None:
        if self.stop.is_set():
            raise Stopped
        if data:
            os.pwrite(self.file.fileno(), data, self.written)
            with self.lock:
                self.written += len(data)
            self.notify()

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            last = self.users == 0
        if last:
            self.file.close()


def threaded_body(produce: Callable[[Emit], None], name: str = "wushe-download") -> AsyncIterator[bytes]:
    """The body ``produce(emit)`` writes, sent as it is written, from a thread started when the
    response starts."""

    async def body() -> AsyncIterator[bytes]:
        spool = _Spool(asyncio.get_running_loop())

        def run() -> None:
            try:
                produce(spool.write)
            except Stopped:
                pass
            except BaseException as exc:  # handed to the response, which ends the body
                logger.exception("download failed")
                spool.error = exc
            finally:
                with spool.lock:
                    spool.done = True
                spool.notify()
                spool.release()

        threading.Thread(target=run, name=name, daemon=True).start()
        sent = 0
        try:
            while True:
                spool.wake.clear()
                with spool.lock:
                    written, done = spool.written, spool.done
                if sent < written:
                    piece = os.pread(spool.file.fileno(), min(written - sent, PIECE), sent)
                    sent += len(piece)
                    yield piece
                elif done:
                    if spool.error is not None:
                        raise spool.error
                    return
                else:
                    await spool.wake.wait()
        finally:
            spool.stop.set()
            spool.release()

    return body()
