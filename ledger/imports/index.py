"""The import tables beside the events: every imported row's source reference (so a file uploaded
again records nothing twice), every import, and the remembered column mappings.

The references are an index of what the signed events already say (each imported event carries
its ``imported`` source and reference), written in the same transaction as those events: the
primary key refuses a second import of a reference even from another process at the same moment,
and the index holds nothing the log does not (it could be recomputed from the events). Mappings are settings of how to read
a source's files, not facts of the ledger: they live here, unsigned, and change nothing any figure
or audit depends on (docs/import.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.errors import NotFound
from ledger.imports.mapping import Mapping, mapping_from
from ledger.sidetables import Cursor, SideTables

REFERENCES = "wushe_import_refs"
IMPORTS = "wushe_imports"
MAPPINGS = "wushe_import_mappings"
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class Imported:
    """A reference recorded before: the digest of its row and the event that recorded it."""

    reference: str
    digest: str
    stream: str
    version: int
    import_id: str


@dataclass(frozen=True)
class ImportRecord:
    """One committed import, for the history the console lists."""

    import_id: str
    kind: str
    scope: str
    source: str
    mapping: str
    filename: str
    file_sha256: str
    rows: int
    recorded: int
    duplicates: int
    actor: str
    at: str


class ImportIndex:
    """The tables, created on first use."""

    def __init__(self, tables: SideTables) -> None:
        self.t = tables
        self._made = False

    def create(self) -> None:
        if self._made:
            return
        t = self.t
        with t.transaction(commit=True, lock=REFERENCES) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(REFERENCES)} (scope TEXT NOT NULL, source TEXT NOT NULL, "
                "reference TEXT NOT NULL, digest TEXT NOT NULL, stream TEXT NOT NULL, "
                f"version {t.bigint} NOT NULL, import_id TEXT NOT NULL, PRIMARY KEY (scope, source, reference))")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(IMPORTS)} (import_id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                "scope TEXT NOT NULL, source TEXT NOT NULL, mapping TEXT NOT NULL, filename TEXT NOT NULL, "
                f"file_sha256 TEXT NOT NULL, rows_read {t.bigint} NOT NULL, recorded {t.bigint} NOT NULL, "
                f"duplicates {t.bigint} NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL)")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(MAPPINGS)} (scope TEXT NOT NULL, name TEXT NOT NULL, "
                "kind TEXT NOT NULL, definition TEXT NOT NULL, saved_by TEXT NOT NULL, saved_at TEXT NOT NULL, "
                "PRIMARY KEY (scope, name))")
        self._made = True

    # --- references ----------------------------------------------------------------------------

    def known(self, scope: str, source: str, references: Sequence[str]) -> dict[str, Imported]:
        """Which of these references the source has had imported before."""
        self.create()
        found: dict[str, Imported] = {}
        for start in range(0, len(references), _LOOKUP_CHUNK):
            chunk = list(references[start:start + _LOOKUP_CHUNK])
            marks = ", ".join("?" for _ in chunk)
            for ref, digest, stream, version, import_id in self.t.fetchall(
                f"SELECT reference, digest, stream, version, import_id FROM {self.t.table(REFERENCES)} "
                f"WHERE scope = ? AND source = ? AND reference IN ({marks})", [scope, source, *chunk]):
                found[ref] = Imported(ref, digest, stream, int(version), import_id)
        return found

    def write(self, cursor: Cursor, record: ImportRecord, rows: Iterable[tuple[str, str, str, int]],
              mapping: Mapping | None) -> None:
        """Inside the events' transaction: each new reference, the import, and the mapping used.
        A reference another import wrote meanwhile fails the whole transaction (primary key)."""
        t = self.t
        cursor.executemany(
            f"INSERT INTO {t.table(REFERENCES)} (scope, source, reference, digest, stream, version, import_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(record.scope, record.source, ref, digest, stream, version, record.import_id)
             for ref, digest, stream, version in rows])
        cursor.execute(
            f"INSERT INTO {t.table(IMPORTS)} (import_id, kind, scope, source, mapping, filename, file_sha256, "
            "rows_read, recorded, duplicates, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.import_id, record.kind, record.scope, record.source, record.mapping, record.filename,
             record.file_sha256, record.rows, record.recorded, record.duplicates, record.actor, record.at))
        if mapping is not None:
            _put_mapping(cursor, t, record.scope, mapping, record.actor, record.at)

    def imports(self, scope: str, limit: int = 50) -> list[ImportRecord]:
        """The latest imports of a foundation or organisation, newest first."""
        self.create()
        rows = self.t.fetchall(
            f"SELECT import_id, kind, scope, source, mapping, filename, file_sha256, rows_read, recorded, duplicates, "
            f"actor, at FROM {self.t.table(IMPORTS)} WHERE scope = ? ORDER BY at DESC LIMIT ?", (scope, limit))
        return [ImportRecord(*r[:7], int(r[7]), int(r[8]), int(r[9]), r[10], r[11]) for r in rows]

    # --- mappings ------------------------------------------------------------------------------

    def save_mapping(self, scope: str, mapping: Mapping, saved_by: str) -> None:
        self.create()
        with self.t.transaction(commit=True, lock=MAPPINGS) as cursor:
            _put_mapping(cursor, self.t, scope, mapping, saved_by, now())

    def mapping(self, scope: str, name: str) -> Mapping:
        self.create()
        row = self.t.fetchone(f"SELECT definition FROM {self.t.table(MAPPINGS)} WHERE scope = ? AND name = ?",
                              (scope, name))
        if row is None:
            raise NotFound("mapping", name, field="mapping")
        return mapping_from(json.loads(row[0]), f"mapping {name!r}")

    def mappings(self, scope: str, kind: str | None = None) -> list[tuple[Mapping, str, str]]:
        """Every remembered mapping of a scope: (mapping, saved by, saved at), by name."""
        self.create()
        rows = self.t.fetchall(
            f"SELECT definition, saved_by, saved_at FROM {self.t.table(MAPPINGS)} WHERE scope = ? ORDER BY name",
            (scope,))
        found = [(mapping_from(json.loads(d)), by, at) for d, by, at in rows]
        return [f for f in found if kind is None or f[0].kind == kind]

    def suggest(self, scope: str, kind: str, headers: Sequence[str]) -> list[Mapping]:
        """The remembered mappings whose columns all appear among a file's headers."""
        present = set(headers)
        return [m for m, _, _ in self.mappings(scope, kind) if set(m.wanted) <= present]


def _put_mapping(cursor: Cursor, t: SideTables, scope: str, mapping: Mapping, saved_by: str, at: str) -> None:
    cursor.execute(f"DELETE FROM {t.table(MAPPINGS)} WHERE scope = ? AND name = ?", (scope, mapping.name))
    cursor.execute(
        f"INSERT INTO {t.table(MAPPINGS)} (scope, name, kind, definition, saved_by, saved_at) VALUES (?, ?, ?, ?, ?, ?)",
        (scope, mapping.name, mapping.kind, json.dumps(mapping.as_json(), ensure_ascii=False, sort_keys=True),
         saved_by, at))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def scope_of(kind: str, owner: str) -> str:
    """Donations are imported for a foundation, hours for an organisation."""
    return f"{'foundation' if kind == 'donations' else 'organisation'}:{owner}"
