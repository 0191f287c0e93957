"""Imports (导入): a donation list or a volunteer sign-in sheet, every row checked by the ledger's own
commands and written all or nothing, each source reference at most once.

The whole file is one bulk batch that is never flushed early: every row runs its command
(``record_donation``, ``record_hours``) against the working state the rows above it left (so two
overlapping sessions in one sheet are caught like any other), a refused row is kept with its
errors, and only when no row is refused is the batch written — in ONE transaction, together with
the import's references (``ledger.imports.index``). A preview runs exactly the same and writes
nothing. A file is at most ``MAX_ROWS`` rows, which bounds the memory a batch holds.

Each recorded event carries ``imported = {"source", "reference"}`` (docs/events.md): the platform's
order number, the bank's transaction serial, or — for an export without one — the row's content and
its occurrence in the file. A reference the source has had imported before is not recorded again;
the same reference with other content is refused as a conflict.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger.commands.base import Actor, LedgerBase, Recorded
from ledger.errors import InvalidInput, LedgerError
from ledger.imports.index import ImportIndex, ImportRecord, now, scope_of
from ledger.imports.mapping import FIELDS, CellError, Mapping, ParsedRow, RowReader
from ledger.imports.sheets import MAX_ROWS, read_sheet
from ledger.intransaction import also_in_transaction
from ledger.principals import ACCOUNTANT, RECORDER

Progress = Callable[[int, int], None]
"""``progress(rows checked, rows in the file)``."""

NEW, DUPLICATE, ERROR = "new", "duplicate", "error"
_LEDGER_FIELDS = {"received_on": "date", "on": "date", "imported.reference": "reference"}
"""A command's field names where the mapping's differ."""
_ATTEMPTS = 3


class ImportRefused(LedgerError):
    """An import with a row the ledger refuses: nothing of it is written."""

    rule = "import-refused"
    status = 422
    title_zh = "导入被拒绝"

    def __init__(self, outcome: ImportOutcome) -> None:
        bad = outcome.count(ERROR)
        first = next(r for r in outcome.rows if r.status == ERROR)
        e = first.errors[0]
        where = f" [{e.column}]" if e.column else ""
        super().__init__(
            f"{bad} of {len(outcome.rows)} rows are refused, so nothing was imported; first: row {first.number}"
            f"{where}: {e.message}",
            f"{len(outcome.rows)} 行中有 {bad} 行未通过校验，未导入任何记录；首个：第 {first.number} 行{where}：{e.message_zh}",
            field="file")
        self.outcome = outcome


@dataclass
class RowOutcome:
    """One data row of the file, as checked (and, if the import was committed, recorded)."""

    number: int
    """Its row number in the spreadsheet."""
    status: str
    """``new`` (passes every rule; recorded if committed), ``duplicate`` (imported before, skipped) or ``error``."""
    reference: str | None
    values: dict[str, Any]
    """The fields read from the row, as the command receives them."""
    errors: list[CellError] = field(default_factory=list)
    ident: str | None = None
    """The entry or service record id given to it."""
    stream: tuple[str, int] | None = None
    """(stream, version) of its event, or of the earlier event for a duplicate."""

    def as_json(self) -> dict[str, Any]:
        return {"row": self.number, "status": self.status, "reference": self.reference, "values": self.values,
                "errors": [e.as_json() for e in self.errors], "ident": self.ident,
                "stream": list(self.stream) if self.stream else None}


@dataclass
class ImportOutcome:
    """What an import found and did: every row, and whether it was written."""

    import_id: str
    kind: str
    scope: str
    source: str
    mapping: str
    filename: str
    file_sha256: str
    header_row: int
    rows: list[RowOutcome]
    committed: bool = False
    positions: tuple[int, int] | None = None
    """First and last log position written."""

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def refused(self) -> bool:
        return any(r.status == ERROR for r in self.rows)

    @property
    def amount(self) -> int:
        """Fen of the rows that are (or would be) recorded, for a donation list."""
        return sum(r.values.get("amount", 0) for r in self.rows if r.status == NEW)

    def as_json(self) -> dict[str, Any]:
        return {"import_id": self.import_id, "kind": self.kind, "scope": self.scope, "source": self.source,
                "mapping": self.mapping, "filename": self.filename, "file_sha256": self.file_sha256,
                "header_row": self.header_row, "committed": self.committed,
                "positions": list(self.positions) if self.positions else None,
                "counts": {s: self.count(s) for s in (NEW, DUPLICATE, ERROR)}, "amount": self.amount,
                "rows": [r.as_json() for r in self.rows]}


class _Discard(Exception):
    """Leaves the bulk block so that its batch is dropped: a preview, a refused or an empty import."""

    def __init__(self, outcome: ImportOutcome) -> None:
        self.outcome = outcome


@dataclass(frozen=True)
class _Plan:
    kind: str
    actor: Actor
    scope: str
    mapping: Mapping
    filename: str
    data: bytes
    record: Callable[[ParsedRow, dict], Recorded]
    overrides: dict[str, Any]
    remember: bool


class ImportCommands(LedgerBase):
    """Donation lists and sign-in sheets, checked and written whole (``wushe import``)."""

    def import_donations(
        self, actor: Actor, data: bytes, filename: str, mapping: Mapping, fund: str, *,
        street_town: str | None = None, commit: bool = True, remember: bool = True, progress: Progress | None = None,
    ) -> ImportOutcome:
        """Check every row of a donation list into ``fund`` and, with ``commit``, record them all in
        one transaction, or raise ImportRefused and record nothing. Without ``commit``: the preview,
        the same checks, nothing written. ``remember`` keeps the mapping for the foundation."""
        target = self.fund(fund)
        self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
        _check_kind(mapping, "donations")

        def record(row: ParsedRow, imported: dict) -> Recorded:
            v = row.values
            return self.record_donation(
                actor, fund, v["amount"], donor_type=v["donor_type"], method=v.get("method", "transfer"),
                donor_name=v.get("donor_name"), donor_public=v.get("donor_public", False),
                in_kind_description=v.get("in_kind_description"), received_on=date.fromisoformat(v["date"]),
                street_town=v.get("street_town"), note=v.get("note"), imported=imported)

        overrides = {"street_town": street_town} if street_town else {}
        plan = _Plan("donations", actor, scope_of("donations", target.foundation), mapping, filename, data, record,
                     overrides, remember)
        return self._import(plan, commit, progress)

    def import_hours(
        self, actor: Actor, data: bytes, filename: str, mapping: Mapping, *, organisation: str | None = None,
        domain: str | None = None, commit: bool = True, remember: bool = True, progress: Progress | None = None,
    ) -> ImportOutcome:
        """Check every row of a volunteer sign-in sheet (签到表) for ``organisation`` (default: the
        recorder's own) and record them all or none, as ``import_donations``. Each session is
        recorded by the organising body's recorder (谁组织谁记录); ``domain`` fills rows without one."""
        organisation = organisation or self.directory().principal(actor.handle).organisation
        if organisation is None:
            raise InvalidInput("organisation", "name the organisation whose sheet this is", "须指明组织单位")
        self.organisation(organisation)
        self.authorise(actor, RECORDER, organisation=organisation)
        _check_kind(mapping, "hours")

        def record(row: ParsedRow, imported: dict) -> Recorded:
            v = row.values
            person = self.volunteer(v["volunteer"])
            named = v.get("volunteer_name")
            if named is not None and named != person.name:
                raise InvalidInput("volunteer_name", f"the sheet names {named!r}, but volunteer {person.number} is "
                                   f"registered as {person.name!r}",
                                   f"签到表写的是 {named!r}，但志愿者 {person.number} 登记的姓名是 {person.name!r}")
            return self.record_hours(
                actor, v["volunteer"], organisation=organisation, domain=v["domain"],
                on=date.fromisoformat(v["date"]), start=_clock(v["start"]), end=_clock(v["end"]),
                content=v["content"], street_town=v.get("street_town"), imported=imported)

        overrides = {"domain": domain} if domain else {}
        plan = _Plan("hours", actor, scope_of("hours", organisation), mapping, filename, data, record, overrides,
                     remember)
        return self._import(plan, commit, progress)

    # --- the run -------------------------------------------------------------------------------

    def _import(self, plan: _Plan, commit: bool, progress: Progress | None) -> ImportOutcome:
        m = plan.mapping
        sheet = read_sheet(plan.data, plan.filename, wanted=m.wanted, header_row=m.header_row, encoding=m.encoding,
                           sheet=m.sheet)
        reader = RowReader(m, self.reference, plan.overrides)
        parsed = [reader.read(row.number, row.cells) for row in sheet.rows if not reader.skipped(row.cells)]
        if not parsed:
            raise InvalidInput("file", "holds no data rows below its header", "表头下没有数据行")
        digest = hashlib.sha256(plan.data).hexdigest()
        for attempt in range(_ATTEMPTS):
            outcome = ImportOutcome(uuid.uuid4().hex, plan.kind, plan.scope, m.source, m.name, plan.filename, digest,
                                    sheet.header_row, [])
            try:
                self._check_and_write(plan, reader, parsed, outcome, commit, progress)
            except _Discard as discard:
                outcome = discard.outcome
            except IntegrityError:
                # Another writer got to one of the funds, volunteers or references first; the
                # transaction wrote nothing. Check again from what is stored now.
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            if commit and outcome.refused:
                raise ImportRefused(outcome)
            return outcome
        raise AssertionError("unreachable")

    def _check_and_write(self, plan: _Plan, reader: RowReader, parsed: list[ParsedRow], outcome: ImportOutcome,
                         commit: bool, progress: Progress | None) -> None:
        index = ImportIndex(self.tables)
        known = index.known(plan.scope, plan.mapping.source, [p.reference for p in parsed if p.reference])
        first_row: dict[str, int] = {}
        written: list[tuple[RowOutcome, str]] = []
        with self.bulk(batch_events=2 * MAX_ROWS + 10) as bulk:  # never full: written only at the end
            for done, p in enumerate(parsed, start=1):
                row = RowOutcome(p.number, ERROR if p.errors else NEW, p.reference, p.values, list(p.errors))
                if not p.errors:
                    self._check_row(plan, reader, p, row, known, first_row, written)
                outcome.rows.append(row)
                if progress is not None:
                    progress(done, len(parsed))
            if outcome.refused or not commit or not written:
                raise _Discard(outcome)
            if bulk.batches:
                raise AssertionError("an import's batch was written before its end")
            record = ImportRecord(outcome.import_id, plan.kind, plan.scope, plan.mapping.source, plan.mapping.name,
                                  plan.filename, outcome.file_sha256, len(parsed), len(written),
                                  outcome.count(DUPLICATE), plan.actor.handle, now())
            refs = [(r.reference, digest, *r.stream) for r, digest in written]  # type: ignore[misc]
            with also_in_transaction(lambda cursor, ident, streams: index.write(
                    cursor, record, refs, plan.mapping if plan.remember else None)):
                bulk.flush()
        first, last = written[0][0].stream, written[-1][0].stream
        outcome.positions = (self.tables.position_of(*first), self.tables.position_of(*last))  # type: ignore[misc]
        outcome.committed = True

    def _check_row(self, plan: _Plan, reader: RowReader, p: ParsedRow, row: RowOutcome, known: dict,
                   first_row: dict[str, int], written: list) -> None:
        ref = p.reference
        if ref in first_row:
            row.status = ERROR
            row.errors.append(CellError(
                "reference", reader.column_of("reference"), "import-reference-repeated",
                f"reference {ref!r} is already on row {first_row[ref]} of this file",
                f"来源编号 {ref!r} 与本文件第 {first_row[ref]} 行重复"))
            return
        first_row[ref] = p.number  # type: ignore[index]
        before = known.get(ref)
        if before is not None:
            row.stream = (before.stream, before.version)
            if before.digest == p.digest:
                row.status = DUPLICATE
                return
            row.status = ERROR
            row.errors.append(CellError(
                "reference", reader.column_of("reference"), "import-conflict",
                f"reference {ref!r} of {plan.mapping.source} was imported before ({before.stream} v{before.version}) "
                "with other content; correct that record instead of importing it again",
                f"来源编号 {ref!r} 已于此前导入（{before.stream} 第{before.version}版），内容与本行不同；"
                "请更正原记录，而不是再次导入"))
            return
        try:
            recorded = plan.record(p, {"source": plan.mapping.source, "reference": ref})
        except LedgerError as exc:
            row.status = ERROR
            name = _LEDGER_FIELDS.get(exc.field or "", exc.field)
            row.errors.append(reader.error(name if name in FIELDS[plan.kind] else None, exc))
            return
        row.ident, row.stream = recorded.ident, recorded.streams[0]
        written.append((row, p.digest))


def _check_kind(mapping: Mapping, kind: str) -> None:
    if mapping.kind != kind:
        raise InvalidInput("mapping", f"{mapping.name} maps {mapping.kind}, not {kind}",
                           f"映射 {mapping.name} 用于{'捐赠' if mapping.kind == 'donations' else '志愿服务'}，不适用于此导入")


def _clock(text: str) -> time:
    return time(0, 0) if text == "24:00" else time.fromisoformat(text)
