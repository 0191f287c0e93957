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

from ledger.errors import LedgerError

FORMAT = "wushe-audit-bundle/v1"
MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
CHECKPOINTS = "checkpoints.jsonl"
KEYS = "keys.json"
FIGURES = "figures.json"
FILES = (EVENTS, CHECKPOINTS, KEYS, FIGURES)

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
    manifest: dict[str, Any] = field(default_factory=dict)
    damaged_files: list[str] = field(default_factory=list)
    """Files whose SHA-256 differs from the manifest's."""
    figures_error: str | None = None
    """Why the published figures could not be read at export (the bundle is written all the same)."""


def collect(ledger: Any, *, figures: bool = True) -> Bundle:
    """Read a ledger's store into a bundle: rows as stored (nothing is verified or re-encoded here),
    checkpoints, the keys the directory holds, and the published transparency reports."""
    rows = [StoredRow(n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
            for n in ledger.log_positions()]
    store = ledger.checkpoints
    checkpoints = [(size, store.at(size).note) for size in store.sizes()]
    try:
        origin = ledger.origin if ledger.is_founded else None
    except LedgerError:  # a directory the ledger refuses: the verifier will name the event
        origin = None
    bundle = Bundle(origin, rows, checkpoints, keys=_keys(rows))
    if figures:
        try:
            bundle.figures = _published(ledger, rows)
        except (LedgerError, KeyError, TypeError, ValueError) as exc:
            # A log the ledger's own views cannot fold is exactly what an auditor must see: export it anyway.
            bundle.figures_error = f"{type(exc).__name__}: {exc}"
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


def _published(ledger: Any, rows: list[StoredRow]) -> list[dict[str, Any]]:
    """The transparency reports the ledger publishes, as it publishes them: from its views, for the
    district and each street-town, per calendar year."""
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
    return reports


# --- files ---------------------------------------------------------------------------------------


def write(bundle: Bundle, directory: Path, *, log_key: str | None = None) -> dict[str, Any]:
    """Write the bundle's files and its manifest into ``directory`` (created; must be empty)."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty; export into a new directory 目录非空")
    leaf = 0
    with (directory / EVENTS).open("w", encoding="utf-8", newline="\n") as handle:
        for leaf, row in enumerate(bundle.rows):
            handle.write(json.dumps({"leaf_index": leaf, "position": row.position, "stream": row.stream,
                                     "version": row.version, "type": row.type,
                                     "state": base64.b64encode(row.state).decode()}, ensure_ascii=False) + "\n")
    with (directory / CHECKPOINTS).open("w", encoding="utf-8", newline="\n") as handle:
        for size, note in bundle.checkpoints:
            handle.write(json.dumps({"tree_size": size, "note": note.decode("utf-8")}, ensure_ascii=False) + "\n")
    (directory / KEYS).write_text(json.dumps(bundle.keys or {}, ensure_ascii=False, indent=1) + "\n")
    (directory / FIGURES).write_text(json.dumps({"reports": bundle.figures}, ensure_ascii=False, indent=1) + "\n")
    manifest = {
        "format": FORMAT,
        "origin": bundle.origin,
        "log_key": log_key,
        "events": len(bundle.rows),
        "head_position": bundle.rows[-1].position if bundle.rows else 0,
        "checkpoints": len(bundle.checkpoints),
        "latest_tree_size": max((s for s, _ in bundle.checkpoints), default=0),
        "reports": len(bundle.figures),
        "figures_error": bundle.figures_error,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": {name: _sha256(directory / name) for name in FILES},
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    return manifest


def read(directory: Path) -> Bundle:
    """Load a bundle; files that fail their manifest hash are listed, not refused, so the verifier
    can still name what in them is wrong."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{directory} has no {MANIFEST}: not an audit bundle 不是审计包") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {directory / MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{directory / MANIFEST} is not a {FORMAT} manifest")
    expected = manifest.get("files") or {}
    damaged = [name for name in FILES if (directory / name).exists() and expected.get(name) != _sha256(directory / name)]
    rows: list[StoredRow] = []
    for number, record in _jsonl(directory / EVENTS):
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
    figures = (_json(directory / FIGURES) or {}).get("reports") or []
    return Bundle(manifest.get("origin"), rows, checkpoints, keys=keys, figures=figures, manifest=manifest,
                  damaged_files=damaged)


def _jsonl(path: Path) -> Iterable[tuple[int, dict]]:
    if not path.exists():
        raise BundleError(f"the bundle has no {path.name}")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
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
