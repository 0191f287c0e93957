"""Replay a bundle's log in order and check it: row order and stream versions, every signature
under the key in force at that log position (in parallel), and the directory of keys itself.

The checks of one event are the ledger's own (``ledger.envelope.open_sealed``,
``ledger.verify.advance_directory``); this module adds what only a whole-log view can see — an
event missing from a stream, the same bytes twice, rows out of order — and names each event.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audits.bundle import StoredRow
from audits.directory import directory_problem, root_signed
from audits.findings import CRITICAL, EventRef, Finding
from ledger.envelope import EnvelopeError, open_sealed
from ledger.errors import TamperedEvent
from ledger.principals import DIRECTORY_ID, Directory, Principal
from ledger.signing import VerifierKey, parse_note
from ledger.verify import advance_directory

CHUNK = 2000
"""Events per unit of work sent to a signature-checking process."""
INLINE_BELOW = 4000
"""Logs smaller than this are checked in this process: starting workers would cost more."""

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Entry:
    """One verified event of the replayed history, as the rule checks see it."""

    position: int
    leaf_index: int
    stream: str
    version: int
    type: str
    timestamp: datetime
    payload: dict[str, Any]
    signer: str
    """The handle (key name) of the principal whose key signed the event."""

    def ref(self) -> EventRef:
        return EventRef(self.position, self.stream, self.version, self.type, self.leaf_index)


@dataclass(frozen=True)
class KeySpan:
    """Where in the log a key counts: after the event that added it, before the one that revoked it."""

    key_id: str
    principal: str
    vkey: str
    added_at: int
    revoked_at: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Prefix:
    """What a replay of the leaves from ``leaves`` on starts from, as a saved audit state knows the
    leaves before: their directory events (replayed again: a few hundred), the last position and
    each stream's last version."""

    leaves: int
    directory: Sequence[StoredRow] = ()
    last_position: int | None = None
    streams: dict[str, tuple[int, int]] | None = None
    """Stream → (last version, its position)."""


def stream_versions(rows: Sequence[StoredRow], before: dict[str, tuple[int, int]] | None = None) -> dict[str, tuple[int, int]]:
    """Each stream's last version and its position after ``rows`` (of a log that verified)."""
    streams = dict(before or {})
    for row in rows:
        streams[row.stream] = (row.version, row.position)
    return streams


@dataclass
class Replay:
    """The replayed history and what the replay found wrong with the log."""

    entries: list[Entry]
    principals: dict[str, Principal]
    keys: dict[str, KeySpan]
    findings: list[Finding]
    verified_signatures: int
    """Events other than the directory's whose signature was checked and verifies."""
    origin: str | None
    failed_signatures: int = 0
    """Events other than the directory's that were checked and fail."""
    directory_events: int = 0
    """The directory's events: each checked with the root key in force (step 1), not counted above."""
    directory_failed: int = 0
    trusted_unchecked: int = 0
    """Events below a trusted checkpoint (or a saved state) whose signatures were not checked again."""

    @property
    def signatures_checked(self) -> int:
        return self.verified_signatures + self.failed_signatures


def ref(row: StoredRow, leaf: int | None = None) -> EventRef:
    return EventRef(row.position, row.stream, row.version, row.type, leaf)


def classify(problem: str) -> str:
    """The mutation class a single-event problem reveals."""
    if "signed for stream" in problem:
        return "integrity.replayed"
    if "signed as version" in problem:
        return "integrity.reordered"
    if any(k in problem for k in ("unknown key", "revoked", "not a current root key", "before the directory")):
        return "integrity.unauthorised-key"
    return "integrity.modified"


_ZH = {
    "integrity.replayed": "事件被挪入另一流（重放）",
    "integrity.reordered": "事件顺序被改动",
    "integrity.unauthorised-key": "签名密钥在该位置无效（伪造或已吊销）",
    "integrity.modified": "事件内容或签名被篡改",
}


def event_finding(row: StoredRow, leaf: int, problem: str) -> Finding:
    rule = classify(problem)
    return Finding(rule, CRITICAL, f"event #{row.position} {row.stream} v{row.version} {row.type}: {problem}",
                   f"事件 #{row.position} {row.stream} 第{row.version}版 {row.type}：{_ZH[rule]}", (ref(row, leaf),))


# --- order of rows and versions in streams ---------------------------------------------------------


def check_order(rows: Sequence[StoredRow], prefix: Prefix | None = None) -> list[Finding]:
    """Positions rise; each stream's versions run 1, 2, 3… in log order; no bytes appear twice.
    After a ``prefix``, versions continue from its streams' (bytes are compared within ``rows``
    only: a copy of an earlier event repeats its signed stream and version, so it is found as a
    version out of order)."""
    prefix = prefix or Prefix(0)
    findings: list[Finding] = []
    last_position: int | None = prefix.last_position
    last_version: dict[str, tuple[int, int]] = dict(prefix.streams or {})
    seen: dict[bytes, int] = {}
    for leaf, row in enumerate(rows, prefix.leaves):
        here = (ref(row, leaf),)
        if last_position is not None and row.position <= last_position:
            findings.append(Finding("integrity.reordered", CRITICAL,
                                    f"event #{row.position} {row.stream} v{row.version} comes after #{last_position}",
                                    f"事件 #{row.position} 排在 #{last_position} 之后：日志顺序被改动", here))
        last_position = row.position if last_position is None else max(last_position, row.position)
        previous = seen.get(row.state)
        if previous is not None:
            findings.append(Finding("integrity.replayed", CRITICAL,
                                    f"event #{row.position} {row.stream} v{row.version} repeats the bytes of #{previous}",
                                    f"事件 #{row.position} 与 #{previous} 字节相同：重放", here))
        seen.setdefault(row.state, row.position)
        version, at = last_version.get(row.stream, (0, 0))
        if row.version == version:
            findings.append(Finding("integrity.inserted", CRITICAL,
                                    f"stream {row.stream} has version {row.version} twice (#{at} and #{row.position})",
                                    f"流 {row.stream} 第{row.version}版出现两次：有事件被插入", here))
        elif row.version < version:
            findings.append(Finding("integrity.reordered", CRITICAL,
                                    f"{row.stream} v{row.version} (#{row.position}) comes after v{version} (#{at})",
                                    f"{row.stream} 第{row.version}版排在第{version}版之后：顺序被改动", here))
        elif row.version > version + 1:
            missing = f"v{version + 1}" + (f"–v{row.version - 1}" if row.version - 1 > version + 1 else "")
            findings.append(Finding("integrity.deleted", CRITICAL,
                                    f"{row.stream} {missing} missing before v{row.version} (#{row.position})",
                                    f"{row.stream} 缺少 {missing}：事件被删除",
                                    (EventRef(None, row.stream, version + 1), *here)))
        last_version[row.stream] = (max(version, row.version), row.position)
    return findings


# --- the directory of keys -------------------------------------------------------------------------


def replay_directory(rows: Sequence[StoredRow], prefix: Prefix | None = None,
                     ) -> tuple[Directory | None, dict[str, KeySpan], list[Finding]]:
    """Apply the directory events in log order with the ledger's own check of each; a directory
    event that fails is reported and skipped, as ``ledger.verify.check_log`` does. A ``prefix``'s
    directory events come first."""
    prefix = prefix or Prefix(0)
    directory: Directory | None = None
    spans: dict[str, KeySpan] = {}
    findings: list[Finding] = []
    for leaf, row in [(None, r) for r in prefix.directory] + list(enumerate(rows, prefix.leaves)):
        if row.stream != DIRECTORY_ID:
            continue
        try:
            sealed = open_sealed(row.state, stream=row.stream, version=row.version, topic=row.type)
            broken = directory_problem(directory, sealed)
            if broken is not None and root_signed(directory, sealed):
                rule, en, zh = broken
                findings.append(Finding(rule, CRITICAL, f"event #{row.position} directory v{row.version} {row.type}: {en}",
                                        f"事件 #{row.position} directory 第{row.version}版 {row.type}：{zh}",
                                        (ref(row, leaf),)))
                continue
            directory = advance_directory(directory, sealed)
        except EnvelopeError as exc:
            findings.append(event_finding(row, leaf, str(exc)))
            continue
        except TamperedEvent as exc:
            findings.append(event_finding(row, leaf, exc.problem))
            continue
        except Exception as exc:  # noqa: BLE001 -- a payload that cannot be applied is as damaged as a bad signature
            findings.append(event_finding(row, leaf, f"cannot be applied: {exc}"))
            continue
        for key_id, record in directory.keys.items():
            if key_id not in spans:
                spans[key_id] = KeySpan(key_id, record.principal, record.key.vkey, row.position)
            elif record.revoked_at is not None and spans[key_id].revoked_at is None:
                old = spans[key_id]
                spans[key_id] = KeySpan(key_id, old.principal, old.vkey, old.added_at, row.position,
                                        record.revoked_reason)
    return directory, spans, findings


def directory_keys(rows: Sequence[StoredRow]) -> dict[str, Any]:
    """The keys file of a bundle: every key with where it was added and revoked."""
    _, spans, _ = replay_directory(rows)
    return keys_file(spans, rows)


def keys_file(spans: dict[str, KeySpan], rows: Sequence[StoredRow]) -> dict[str, Any]:
    """The keys file's content for the key spans a replay of ``rows`` rebuilt."""
    return {"keys": [vars(s) for s in spans.values()],
            "directory_events": [r.position for r in rows if r.stream == DIRECTORY_ID]}


# --- signatures, in parallel -----------------------------------------------------------------------

_SPANS: dict[str, KeySpan] = {}


def _init_worker(spans: dict[str, KeySpan]) -> None:
    global _SPANS
    _SPANS = spans
    for span in spans.values():  # parse each key once per process
        _KEYS[span.key_id] = VerifierKey.from_vkey(span.vkey)


_KEYS: dict[str, VerifierKey] = {}


def check_signature(row: StoredRow, spans: dict[str, KeySpan], genesis: int | None) -> str | None:
    """What is wrong with one non-directory event, or None: bytes, row, key in force, signature."""
    try:
        sealed = open_sealed(row.state, stream=row.stream, version=row.version, topic=row.type)
    except EnvelopeError as exc:
        return str(exc)
    if genesis is None or row.position < genesis:
        return "appears before the directory's genesis"
    span = spans.get(sealed.key_id)
    if span is None or span.added_at > row.position:
        return f"signed by unknown key {sealed.key_id}"
    if span.revoked_at is not None and span.revoked_at < row.position:
        return f"signed by key {sealed.key_id} after it was revoked (#{span.revoked_at})"
    key = _KEYS.get(span.key_id) or VerifierKey.from_vkey(span.vkey)
    if not sealed.signed_by(key):
        return "signature does not verify"
    return None


def _check_chunk(chunk: list[StoredRow], genesis: int | None) -> list[str | None]:
    return [check_signature(row, _SPANS, genesis) for row in chunk]


def check_signatures(rows: Sequence[StoredRow], spans: dict[str, KeySpan], genesis: int | None, *,
                     workers: int | None = None, progress: Progress | None = None) -> list[str | None]:
    """One verdict per row (None: valid), using ``workers`` processes (default: every core)."""
    return start_signatures(rows, spans, genesis, workers=workers, progress=progress)()


def start_signatures(rows: Sequence[StoredRow], spans: dict[str, KeySpan], genesis: int | None, *,
                     workers: int | None = None, progress: Progress | None = None) -> Callable[[], list[str | None]]:
    """Start checking the signatures in worker processes and return at once; calling the result
    waits for the verdicts. Small logs (or one worker) are checked here, before returning."""
    inline = workers == 1 or (workers is None and len(rows) < INLINE_BELOW)
    workers = workers or os.cpu_count() or 1
    chunks = [list(rows[i : i + CHUNK]) for i in range(0, len(rows), CHUNK)]
    if inline:
        _init_worker(spans)
        verdicts: list[str | None] = []
        for chunk in chunks:
            verdicts += _check_chunk(chunk, genesis)
            if progress:
                progress(len(chunk))
        return lambda: verdicts
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(spans,))
    futures = [pool.submit(_check_chunk, chunk, genesis) for chunk in chunks]
    if progress:
        for future, size in zip(futures, map(len, chunks), strict=True):
            future.add_done_callback(lambda _, n=size: progress(n))

    def verdicts() -> list[str | None]:
        try:
            return [verdict for future in futures for verdict in future.result()]
        finally:
            pool.shutdown()

    return verdicts


# --- the whole replay ------------------------------------------------------------------------------


class PendingReplay:
    """A replay whose signatures are being checked in worker processes. Meanwhile ``speculative``
    holds the history as it is if every signature verifies, so the caller can fold the views and
    run the rules on it while the workers work; ``result()`` gives the replay as checked, and says
    (``Replay.entries is speculative``) whether that history stood."""

    def __init__(self, rows: Sequence[StoredRow], trusted_leaves: int, workers: int | None,
                 progress: Progress | None, prefix: Prefix | None) -> None:
        self.rows, self.prefix = rows, prefix or Prefix(0)
        self.findings = check_order(rows, self.prefix)
        self.directory, self.spans, directory_findings = replay_directory(rows, self.prefix)
        self.findings += directory_findings
        self.bad_directory = {f.events[0].leaf_index for f in directory_findings}
        genesis = next((r.position for r in [*self.prefix.directory, *rows]
                        if r.stream == DIRECTORY_ID and r.version == 1), None)
        fresh = [(leaf, row) for leaf, row in enumerate(rows, self.prefix.leaves)
                 if row.stream != DIRECTORY_ID and leaf >= trusted_leaves]
        self.fresh_leaves = [leaf for leaf, _ in fresh]
        self._verdicts = start_signatures([row for _, row in fresh], self.spans, genesis, workers=workers,
                                          progress=progress)
        self.parsed = [(leaf, row, None if leaf in self.bad_directory else _entry(row, leaf))
                       for leaf, row in enumerate(rows, self.prefix.leaves)]
        self.speculative = [entry for leaf, _, entry in self.parsed if entry is not None]
        self.principals = dict(self.directory.principals) if self.directory is not None else {}

    def result(self) -> Replay:
        verdicts = dict(zip(self.fresh_leaves, self._verdicts(), strict=True))
        findings, entries, failed = list(self.findings), [], 0
        for leaf, row, entry in self.parsed:
            problem = verdicts.get(leaf)
            if problem is not None:
                failed += 1
                findings.append(event_finding(row, leaf, problem))
            elif leaf in self.bad_directory:
                continue
            elif entry is None:  # only a trusted row can get here unverified; it must still parse
                findings.append(event_finding(row, leaf, "cannot be opened"))
            else:
                entries.append(entry)
        if len(entries) == len(self.speculative):
            entries = self.speculative
        origin = self.directory.ledger_name if self.directory else None
        directory = sum(1 for row in self.rows if row.stream == DIRECTORY_ID)
        unchecked = len(self.rows) - directory - len(self.fresh_leaves)
        return Replay(entries, self.principals, self.spans, findings, len(self.fresh_leaves) - failed, origin,
                      failed, directory, len(self.bad_directory), unchecked)


def replay(rows: Sequence[StoredRow], *, trusted_leaves: int = 0, workers: int | None = None,
           progress: Progress | None = None, prefix: Prefix | None = None) -> Replay:
    """Check every row and rebuild the history from the rows that verify. Rows below
    ``trusted_leaves`` (a prefix a trusted checkpoint already covers) are not signature-checked
    again. With a ``prefix`` (from a saved audit state), ``rows`` are the leaves after it."""
    return PendingReplay(rows, trusted_leaves, workers, progress, prefix).result()


def _entry(row: StoredRow, leaf: int) -> Entry | None:
    try:
        note = parse_note(row.state)
        body = json.loads(note.text)
        return Entry(row.position, leaf, row.stream, row.version, row.type,
                     datetime.fromisoformat(body["timestamp"]), body["payload"], note.signatures[0].name)
    except (ValueError, KeyError, TypeError, IndexError):
        return None
