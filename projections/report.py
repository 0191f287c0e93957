"""The transparency report (信息公开报告): one period's public figures for a street-town or the whole
district, read from the views in one consistent snapshot.

Money is integer fen inside the report; every amount has a ``<name>_yuan`` sibling, an exact decimal
string for the edges (JSON, CSV, spreadsheets). Time is integer minutes, with an ``hours`` decimal
string beside it. The report holds no personal data: no donor, payee or volunteer names or numbers
(donors are only counted).

Period rules, as in the views: money and organisations count on their business dates; a money
correction (冲正) counts on the day it was made, so an earlier period's figures stay as published;
volunteer hours count on the service date, and an hours correction on the day it was made too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ledger.disbursements import DISBURSEMENT_KINDS
from ledger.errors import InvalidInput
from ledger.funds import DONOR_TYPES, GRANT_SOURCES
from ledger.messages import msg
from ledger.money import to_decimal_string
from projections import corrections, funds, hours, periods, projects, streettowns
from projections.base import Table
from projections.periods import BEGINNING, sums
from projections.runner import POSITION, Projections

REPORT_VERSION = 1
"""Bumped when the report's shape changes, so consumers of the JSON can tell."""

SOURCES: dict[str, tuple[str, str]] = {
    **{f"donation:{t}": z for t, z in zip(DONOR_TYPES, (
        ("居民捐赠", "Donations from residents"),
        ("企业捐赠", "Donations from businesses"),
        ("驻区单位捐赠", "Donations from units stationed in the district"),
        ("基金会捐赠", "Donations from foundations"),
        ("政府捐赠", "Donations from government"),
    ), strict=True)},
    **{f"grant:{s}": z for s, z in zip(GRANT_SOURCES, (
        ("政府购买服务", "Government purchase of services"),
        ("公益创投", "Venture philanthropy"),
        ("福彩公益金", "Welfare lottery"),
        ("区社会组织发展专项资金", "District special fund"),
    ), strict=True)},
}
"""Income sources (收入来源) in the order the report lists them, with Chinese and English names."""

SPENDING_KINDS: dict[str, tuple[str, str]] = dict(zip(DISBURSEMENT_KINDS[:4], (
    ("项目支出", "Project payments"),
    ("社工专业人才津贴", "Social-worker talent allowances"),
    ("管理费用", "Management costs"),
    ("筹资费用", "Fundraising costs"),
), strict=True))
"""The spending kinds every report lists; the later kinds are listed when a period has them."""
SPENDING_NAMES: dict[str, tuple[str, str]] = {**SPENDING_KINDS, **dict(zip(DISBURSEMENT_KINDS[4:], (
    ("资助其他组织", "Grants to other organisations"),
    ("本机构项目费用（评估、审计等）", "Own programme costs (evaluation, audit)"),
    ("分摊的共同费用", "Shared costs, allocated"),
    ("其他费用", "Other expenses"),
), strict=True))}


def yuan(fen: int) -> str:
    return to_decimal_string(fen)


def hours_of(minutes: int) -> str:
    """Minutes as hours with two places, rounded half up (the minutes stay exact beside it)."""
    return str((Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _money(fen: int, name: str = "amount") -> dict[str, Any]:
    return {name: fen, f"{name}_yuan": yuan(fen)}


Rows = Callable[..., list[dict[str, Any]]]


class Snapshot:
    """Read-only access to the views as of one instant (see :func:`snapshot`)."""

    def __init__(self, cursor, tables) -> None:
        self._cursor = cursor
        self._tables = tables
        cursor.execute(f"SELECT position FROM {tables.table(POSITION)} WHERE name = 'views'")
        row = cursor.fetchone()
        self.position = int(row[0]) if row else 0
        """The last log position folded into what this snapshot reads."""

    def rows(self, table: Table, where: str = "", params: tuple = (), order: str = "",
             limit: int | None = None) -> list[dict[str, Any]]:
        """Rows of one view (``where``/``order`` are SQL fragments with ``?`` placeholders), the
        first ``limit`` of them if given."""
        sql = f"SELECT {', '.join(table.columns)} FROM {self._tables.table(table.name)}"
        if where:
            sql += f" WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        self._cursor.execute(sql, params)
        return [dict(zip(table.columns, r, strict=True)) for r in self._cursor.fetchall()]

    def query(self, sql: str, params: tuple = (), **views: Table) -> list[tuple]:
        """Any read-only SQL; ``{name}`` placeholders become the store's names of the views given.
        Give every selected column a distinct name (``AS``): PostgreSQL rows arrive keyed by name."""
        self._cursor.execute(sql.format(**{k: self._tables.table(t.name) for k, t in views.items()}), params)
        return self._cursor.fetchall()


@contextmanager
def snapshot(projections: Projections) -> Iterator[Snapshot]:
    """The views as of one instant: every read shares one transaction (REPEATABLE READ on
    PostgreSQL; SQLite's read transaction in WAL mode is a snapshot), so a runner committing a
    batch meanwhile cannot split the figures."""
    tables = projections.tables
    with tables.transaction(commit=False) as cursor:
        if tables.postgres:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield Snapshot(cursor, tables)


def transparency_report(
    projections: Projections, *, start: date, end: date, street_town: str | None = None, full: bool = True
) -> dict[str, Any]:
    """The figures for ``start``–``end`` (both included) of one street-town, or of the whole
    district when ``street_town`` is None. Reads the views as they are: run the projections first.

    Every figure is a sum over the rollups (``projections.periods``): a few hundred rows for any
    period, however long the log. ``full=False`` leaves out the two lists that grow with the
    period (the projects paid and the corrections made), for a page that shows neither."""
    ledger = projections.ledger
    reference = ledger.reference
    for value, field in ((start, "start"), (end, "end")):
        if not isinstance(value, date):
            raise InvalidInput(field, msg("must be a date written YYYY-MM-DD, such as 2026-03-01"))
    if end < start:
        raise InvalidInput("end", msg("the period ends ({end}) before it starts ({start})", end=end.isoformat(),
                                      start=start.isoformat()))
    town = reference.street_town(street_town) if street_town is not None else None
    first, last = start.isoformat(), end.isoformat()

    def in_town(row: dict[str, Any]) -> bool:
        return town is None or row["street_town"] == town.code

    scopes = None if town is None else [town.code]
    with snapshot(projections) as views:
        position, rows = views.position, views.rows
        flows = [{"category": k[0], **v} for k, v in sorted(
            sums(views, streettowns.FLOWED, start, end, scopes, ("category",)).items(), key=_listed_order)]
        income = _income(flows)
        spending = _spending(flows)
        spent_on_projects = _projects(views, start, end, scopes) if full else {"rows": [], **_money(0, "total")}
        special = _special_funds(views, end, town.code if town else None)
        volunteer_hours = _hours(views, start, end, scopes, reference)
        organisations = _organisations(views, end, scopes, reference)
        made = rows(corrections.CORRECTIONS, "day >= ? AND day <= ?", (first, last), order="position") if full else []
        distinct_donors = periods.distinct_donors(views, start, end, scopes)
    corrected = _corrections(made, in_town)

    donation_count = sum(r["count"] for r in income["rows"] if r["category"].startswith("donation:"))
    return {
        "report": "transparency",
        "version": REPORT_VERSION,
        "ledger": ledger.origin,
        "position": position,
        "district": {"code": reference.district.code, "name_zh": reference.district.name_zh,
                     "name_en": reference.district.name_en},
        "street_town": None if town is None else {"code": town.code, "name_zh": town.name_zh,
                                                  "name_en": town.name_en},
        "period": {"start": first, "end": last},
        "income": income,
        "spending": spending,
        "projects": spent_on_projects,
        "special_funds": special,
        "hours": volunteer_hours,
        "organisations": organisations,
        "corrections": corrected,
        "donations": {"count": donation_count, "distinct_donors": distinct_donors},
    }


# --- the sections ---------------------------------------------------------------------------------


def _listed_order(item: tuple[tuple[str, ...], Any]) -> tuple[int, str]:
    """Categories in the order the report lists them: spending kinds as the ledger defines them."""
    category = item[0][0]
    kind = category.split(":", 1)[1] if category.startswith("spent:") else None
    return (DISBURSEMENT_KINDS.index(kind) if kind in DISBURSEMENT_KINDS else len(DISBURSEMENT_KINDS), category)


def _income(flows: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, list[int]] = {category: [0, 0] for category in SOURCES}
    for row in flows:
        if row["category"].startswith(("donation:", "grant:")):
            pair = totals.setdefault(row["category"], [0, 0])
            pair[0] += row["amount"]
            pair[1] += row["count"]
    listed = []
    for category, (amount, count) in totals.items():
        kind, _, source = category.partition(":")
        name_zh, name_en = SOURCES.get(category, (category, category))
        listed.append({"category": category, "kind": kind, "source": source, "name_zh": name_zh,
                       "name_en": name_en, **_money(amount), "count": count})
    donations = sum(r["amount"] for r in listed if r["kind"] == "donation")
    grants = sum(r["amount"] for r in listed if r["kind"] == "grant")
    return {"rows": listed, **_money(donations, "donations"), **_money(grants, "grants"),
            **_money(donations + grants, "total")}


def _spending(flows: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, list[int]] = {kind: [0, 0] for kind in SPENDING_KINDS}
    for row in flows:
        if row["category"].startswith("spent:"):
            pair = totals.setdefault(row["category"].split(":", 1)[1], [0, 0])
            pair[0] += row["amount"]
            pair[1] += row["count"]
    listed = [{"kind": kind, "name_zh": SPENDING_NAMES.get(kind, (kind, kind))[0],
               "name_en": SPENDING_NAMES.get(kind, (kind, kind))[1], **_money(amount), "count": count}
              for kind, (amount, count) in totals.items()]
    return {"rows": listed, **_money(sum(r["amount"] for r in listed), "total")}


def _projects(views: Snapshot, start: date, end: date, scopes: list[str] | None) -> dict[str, Any]:
    """Project payments in the period, net of payments reversed in it (on the reversal's day),
    summed from the payments' rollup (a few rows per project, not one per payment)."""
    per_project: dict[str, dict[str, Any]] = {}
    for (project, ref), row in sums(views, projects.PAID, start, end, scopes, ("project", "approval_ref")).items():
        entry = per_project.setdefault(project, {"paid": 0, "reversed": 0, "payments": 0, "refs": set()})
        entry["paid"] += row["paid"]
        entry["reversed"] += row["reversed"]
        entry["payments"] += row["paid_count"] - row["reversed_count"]
        if ref and row["paid_count"]:
            entry["refs"].add(ref)
    rows = views.rows
    known = {p["code"]: p for p in _by_codes(rows, projects.PROJECTS, "code", list(per_project))}
    names = {o["code"]: o["name"] for o in _by_codes(
        rows, streettowns.ORGANISATIONS, "code", sorted({p["organisation"] for p in known.values() if p["organisation"]}))}
    listed = []
    for code in sorted(per_project):
        entry, project = per_project[code], known.get(code, {})
        listed.append({
            "project": code, "name": project.get("name"), "street_town": project.get("street_town"),
            "community": project.get("community"), "domain": project.get("domain"),
            "organisation": project.get("organisation"), "organisation_name": names.get(project.get("organisation")),
            "funding_source": project.get("funding_source"), "approval_ref": project.get("approval_ref"),
            "disbursement_approval_refs": sorted(entry["refs"]), **_money(project.get("budget") or 0, "budget"),
            **_money(entry["paid"], "paid"), **_money(entry["reversed"], "reversed"),
            **_money(entry["paid"] - entry["reversed"]), "payments": entry["payments"],
        })
    return {"rows": listed, **_money(sum(r["amount"] for r in listed), "total")}


def _by_codes(rows: Rows, table: Table, column: str, codes: list[str]) -> list[dict[str, Any]]:
    """The rows whose ``column`` is one of ``codes``, read in chunks (a statement's placeholders are few)."""
    found: list[dict[str, Any]] = []
    for i in range(0, len(codes), 500):
        chunk = codes[i:i + 500]
        found += rows(table, f"{column} IN ({', '.join('?' * len(chunk))})", tuple(chunk))
    return found


def _special_funds(views: Snapshot, end: date, town: str | None) -> dict[str, Any]:
    """Special funds (专项基金) whose home is the street-town (all of them for the district), with
    each one's balance at the period's end summed from its yearly, monthly and daily movements."""
    where, params = ("kind = 'special' AND street_town = ?", (town,)) if town else ("kind = 'special'", ())
    special = views.rows(funds.FUNDS, where, params, order="code")
    moved = sums(views, funds.MOVED, BEGINNING, end, [f["code"] for f in special], ("fund",)) if special else {}
    balances = {k[0]: v["delta"] for k, v in moved.items()}
    listed = []
    for f in special:
        listed.append({
            "fund": f["code"], "name": f["name"], "foundation": f["foundation"], "street_town": f["street_town"],
            "restricted": bool(f["restricted"]), "purpose": f["purpose"], "domains": json.loads(f["domains"] or "[]"),
            "street_towns": json.loads(f["street_towns"] or "[]"), "valid_from": f["valid_from"],
            "valid_until": f["valid_until"], "agreement_ref": f["agreement_ref"], "closed": bool(f["closed"]),
            **_money(balances.get(f["code"], 0), "balance"),
        })
    return {"rows": listed, **_money(sum(r["balance"] for r in listed), "total_balance")}


def _hours(views: Snapshot, start: date, end: date, scopes: list[str] | None, reference) -> dict[str, Any]:
    totals: dict[str, list[int]] = {d.code: [0, 0] for d in reference.domains}
    for (domain,), row in sorted(sums(views, hours.HOURED, start, end, scopes, ("domain",)).items()):
        pair = totals.setdefault(domain, [0, 0])
        pair[0] += row["minutes"]
        pair[1] += row["sessions"]
    names = {d.code: d for d in reference.domains}
    listed = []
    for domain, (minutes, sessions) in totals.items():
        named = names.get(domain)
        listed.append({"domain": domain, "name_zh": named.name_zh if named else domain,
                       "name_en": named.name_en if named else domain, "minutes": minutes,
                       "hours": hours_of(minutes), "sessions": sessions})
    minutes = sum(r["minutes"] for r in listed)
    return {"rows": listed, "minutes": minutes, "hours": hours_of(minutes),
            "sessions": sum(r["sessions"] for r in listed)}


def _organisations(views: Snapshot, end: date, scopes: list[str] | None, reference) -> dict[str, Any]:
    """Community social organisations (社区社会组织) registered by the end of the period, per
    community (居委), against the plan's average target. Communities without any organisation are
    unknown to the ledger; organisations that name no community are listed but not averaged."""
    target = reference.organisations_per_community_target
    counts = {key: row["organisations"] for key, row in sums(
        views, streettowns.ORGANISED, BEGINNING, end, scopes, ("street_town", "community")).items()
        if row["organisations"]}
    towns = {t.code: t for t in reference.street_towns}
    listed = [{"street_town": town, "street_town_zh": towns[town].name_zh if town in towns else town,
               "community": community or None, "organisations": n, "target": target,
               "meets_target": bool(community) and n >= target}
              for (town, community), n in sorted(counts.items())]
    averaged = [r for r in listed if r["community"]]
    total = sum(r["organisations"] for r in averaged)
    average = (Decimal(total) / len(averaged)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if averaged else None
    return {"rows": listed, "target": target, "communities": len(averaged),
            "organisations": sum(r["organisations"] for r in listed),
            "average": None if average is None else str(average),
            "meets_target": average is not None and average >= target}


def _corrections(made: list[dict[str, Any]], in_town) -> dict[str, Any]:
    """Corrections (更正说明) made in the period, each with its reason and street-town."""
    listed = [{
        "position": c["position"], "day": c["day"], "type": c["type"], "corrects": c["reverses_type"],
        "fund": c["fund"], "organisation": c["organisation"], "street_town": c["street_town"],
        "amount": c["amount"], "amount_yuan": None if c["amount"] is None else yuan(c["amount"]),
        "minutes": c["minutes"], "reason": c["reason"],
    } for c in made if in_town(c)]
    return {"rows": listed, "count": len(listed)}


