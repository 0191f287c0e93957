"""The audit bundle (审计包): everything an auditor needs to replay the ledger offline, written as
plain files — the stored events byte for byte, the keys, every checkpoint with its cosignatures,
and the figures the transparency report published. ``docs/verification.md`` §6 gives the format."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from audits.findings import unreadable
from ledger.errors import LedgerError

FORMAT = "wushe-audit-bundle/v1"
MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
CHECKPOINTS = "checkpoints.jsonl"
KEYS = "keys.json"
FIGURES = "figures.json"
FILES = (EVENTS, CHECKPOINTS, KEYS, FIGURES)
INDEX_EVERY = 10_000
"""The manifest's ``events_index`` gives the byte offset of every this-many-th line of the events."""

_DATE = re.compile(r"^(\d{4})-\d{2}-\d{2}$")


class BundleError(ValueError):
    """A directory that is not a readable audit bundle."""


@dataclass(frozen=True)
class StoredRow:
    """One stored event exactly as the store kept it: its row columns and its signed bytes."""

    position: int
    stream: str
    version: int
    type: str
    state: bytes


@dataclass
class Bundle:
    """An audit bundle in memory, from files or straight from a store."""

    origin: str | None
    rows: list[StoredRow]
    checkpoints: list[tuple[int, bytes]]
    """(tree size, signed note with cosignature lines), in the order given."""
    keys: dict[str, Any] | None = None
    figures: list[dict[str, Any]] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    """Each foundation's published 民非 statements of every report year (``audits.statements``)."""
    pages: list[dict[str, Any]] = field(default_factory=list)
    """Every public page's figures as the server showed them (``audits.pages``)."""
    manifest: dict[str, Any] = field(default_factory=dict)
    damaged_files: list[str] = field(default_factory=list)
    """Files whose SHA-256 differs from the manifest's."""
    figures_error: str | None = None
    """Why the published figures could not be read at export (the bundle is written all the same)."""
    first_leaf: int = 0
    """The leaf index of ``rows[0]``: 0 unless only the log's tail was read (an incremental audit)."""


def collect(ledger: Any, *, figures: bool = True, since: tuple[int, int] | None = None) -> Bundle:
    """Read a ledger's store into a bundle: rows as stored (nothing is verified or re-encoded here),
    checkpoints, the keys the directory holds, and the published transparency reports. With
    ``since`` = (leaf index, log position), only the rows from that position on are read, and
    ``first_leaf`` says which leaf they start at (the keys and the figures are then left out)."""
    if since and figures:
        raise ValueError("the published figures are collected with the whole log only")
    start = since[1] if since else 1
    rows = [StoredRow(n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
            for n in ledger.log_positions(start=start)]
    store = ledger.checkpoints
    checkpoints = [(size, store.at(size).note) for size in store.sizes()]
    try:
        origin = ledger.origin if ledger.is_founded else None
    except (LedgerError, KeyError, TypeError, ValueError):  # a directory the ledger refuses (or cannot even
        origin = None  # apply): the verifier will name the event
    bundle = Bundle(origin, rows, checkpoints, keys=None if since else _keys(rows),
                    first_leaf=since[0] if since else 0)
    if figures:
        try:
            bundle.figures, bundle.pages = _published(ledger, rows)
            from audits.statements import published

            bundle.statements = published(ledger, report_years(rows, ledger.today()))
        except (LedgerError, KeyError, TypeError, ValueError) as exc:
            # A log the ledger's own views cannot fold is exactly what an auditor must see: export it anyway.
            en, zh = unreadable(exc)
            bundle.figures_error = f"the ledger's views cannot fold its log: {en} 账本视图无法处理日志：{zh}"
    return bundle


def _keys(rows: list[StoredRow]) -> dict[str, Any]:
    """The keys the directory events register and revoke, with the log positions where they do.
    Informational: a verifier derives the same from the directory events themselves."""
    from audits.replay import directory_keys

    return directory_keys(rows)


def report_years(rows: Iterable[StoredRow], today: date) -> list[int]:
    """The calendar years the published figures cover: from the earliest year any event records on
    or names as a business date, up to today's year; at most ten."""
    first = min((y for row in rows if (y := _earliest_year(row)) is not None), default=today.year)
    return list(range(max(min(first, today.year), today.year - 9), today.year + 1))


def _earliest_year(row: StoredRow) -> int | None:
    """The earliest year a stored event's timestamp or payload dates mention (None if unreadable)."""
    try:
        body = json.loads(row.state[: row.state.index(b"\n")])
        payload = body["payload"]
        years = [int(body["timestamp"][:4])]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(payload, dict):
        years += [int(m.group(1)) for v in payload.values() if isinstance(v, str) and (m := _DATE.match(v))]
    return min(years)


def _published(ledger: Any, rows: list[StoredRow]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The transparency reports the ledger publishes, as it publishes them: from its views, for the
    district and each street-town, per calendar year; and every public page with figures."""
    from audits.pages import published_pages
    from projections.report import transparency_report
    from projections.runner import Projections

    projections = Projections(ledger)
    projections.run()
    scopes = [None] + [t.code for t in ledger.reference.street_towns]
    reports = []
    for year in report_years(rows, ledger.today()):
        for scope in scopes:
            reports.append(transparency_report(projections, start=date(year, 1, 1), end=date(year, 12, 31),
                                               street_town=scope))
    return reports, published_pages(ledger, projections)


# --- files ---------------------------------------------------------------------------------------


def write(bundle: Bundle, directory: Path, *, log_key: str | None = None) -> dict[str, Any]:
    """Write the bundle's files and its manifest into ``directory`` (created; must be empty)."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty; export into a new directory 目录非空")
    offsets, offset = [], 0
    with (directory / EVENTS).open("wb") as handle:
        for leaf, row in enumerate(bundle.rows):
            if leaf % INDEX_EVERY == 0:
                offsets.append(offset)
            line = (json.dumps({"leaf_index": leaf, "position": row.position, "stream": row.stream,
                                "version": row.version, "type": row.type,
                                "state": base64.b64encode(row.state).decode()}, ensure_ascii=False) + "\n").encode()
            handle.write(line)
            offset += len(line)
    with (directory / CHECKPOINTS).open("w", encoding="utf-8", newline="\n") as handle:
        for size, note in bundle.checkpoints:
            handle.write(json.dumps({"tree_size": size, "note": note.decode("utf-8")}, ensure_ascii=False) + "\n")
    (directory / KEYS).write_text(json.dumps(bundle.keys or {}, ensure_ascii=False, indent=1) + "\n")
    (directory / FIGURES).write_text(json.dumps({"reports": bundle.figures, "statements": bundle.statements,
                                                 "pages": bundle.pages}, ensure_ascii=False, indent=1) + "\n")
    manifest = {
        "format": FORMAT,
        "origin": bundle.origin,
        "log_key": log_key,
        "events": len(bundle.rows),
        "head_position": bundle.rows[-1].position if bundle.rows else 0,
        "checkpoints": len(bundle.checkpoints),
        "latest_tree_size": max((s for s, _ in bundle.checkpoints), default=0),
        "reports": len(bundle.figures),
        "statements": len(bundle.statements),
        "pages": len(bundle.pages),
        "figures_error": bundle.figures_error,
        "events_index": {"every": INDEX_EVERY, "offsets": offsets},
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": {name: _sha256(directory / name) for name in FILES},
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    return manifest


def read(directory: Path, *, from_leaf: int = 0) -> Bundle:
    """Load a bundle; files that fail their manifest hash are listed, not refused, so the verifier
    can still name what in them is wrong. With ``from_leaf``, only the events from that leaf on are
    read, found through the manifest's ``events_index`` (the events file's hash is then not checked:
    the caller's Merkle checks cover the leaves it reads)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{directory} has no {MANIFEST}: not an audit bundle 不是审计包") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {directory / MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{directory / MANIFEST} is not a {FORMAT} manifest")
    expected = manifest.get("files") or {}
    hashed = FILES if not from_leaf else tuple(name for name in FILES if name != EVENTS)
    damaged = [name for name in hashed if (directory / name).exists() and expected.get(name) != _sha256(directory / name)]
    rows: list[StoredRow] = []
    for number, record in _tail(directory / EVENTS, from_leaf, manifest.get("events_index")):
        try:
            rows.append(StoredRow(int(record["position"]), str(record["stream"]), int(record["version"]),
                                  str(record["type"]), base64.b64decode(record["state"], validate=True)))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{EVENTS} line {number}: malformed record ({exc})") from None
    checkpoints = []
    for number, record in _jsonl(directory / CHECKPOINTS):
        try:
            checkpoints.append((int(record["tree_size"]), str(record["note"]).encode("utf-8")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{CHECKPOINTS} line {number}: malformed record ({exc})") from None
    keys = _json(directory / KEYS)
    published = _json(directory / FIGURES) or {}
    figures = published.get("reports") or []
    return Bundle(manifest.get("origin"), rows, checkpoints, keys=keys, figures=figures,
                  statements=published.get("statements") or [], pages=published.get("pages") or [],
                  manifest=manifest, damaged_files=damaged,
                  first_leaf=from_leaf)


def _tail(path: Path, from_leaf: int, index: Any) -> Iterable[tuple[int, dict]]:
    """The events from leaf ``from_leaf`` on: seek to the indexed line at or before it, skip to it."""
    if not from_leaf:
        yield from _jsonl(path)
        return
    try:
        every, offsets = int(index["every"]), [int(o) for o in index["offsets"]]
        slot = min(from_leaf // every, len(offsets) - 1)
        offset, first = offsets[slot], slot * every
    except (KeyError, TypeError, ValueError, IndexError):  # no index (an older bundle): read from the start
        offset, first = 0, 0
    for number, record in _jsonl(path, offset, first + 1, skip_below=from_leaf + 1):
        leaf = number - 1
        if leaf >= from_leaf:
            if record.get("leaf_index") != leaf:
                raise BundleError(f"{EVENTS}: the line for leaf {leaf} says leaf_index {record.get('leaf_index')!r} "
                                  "(the manifest's events_index does not fit the file)")
            yield number, record


def _jsonl(path: Path, offset: int = 0, first: int = 1, skip_below: int = 0) -> Iterable[tuple[int, dict]]:
    """(line number, object) of each line from byte ``offset`` (line ``first``); lines numbered
    below ``skip_below`` are passed over unparsed."""
    if not path.exists():
        raise BundleError(f"the bundle has no {path.name}")
    with path.open("rb") as handle:
        handle.seek(offset)
        for number, line in enumerate(handle, first):
            if number >= skip_below and line.strip():
                try:
                    yield number, json.loads(line)
                except ValueError as exc:
                    raise BundleError(f"{path.name} line {number} is not JSON: {exc}") from None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise BundleError(f"{path.name} is not JSON: {exc}") from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
