"""Sums over any period of whole days from the rollups (``projections.base.Rolled``), never from a
scan of the days in between.

A period ``first``–``last`` is cut into at most five runs: the days of its partial first month, the
whole months of its partial first year, its whole years, the whole months of its partial last year
and the days of its partial last month. Each run is one range of one table's key, so a decade's
report of one street-town reads a few hundred rows however long the log has grown.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from projections.base import EVERY, Rolled

BEGINNING = date(1, 1, 1)
"""The start of "every day up to": a balance or a count at a date sums the runs from here."""


def _month_end(day: date) -> date:
    return day.replace(day=monthrange(day.year, day.month)[1])


def _next(day: date) -> date | None:
    return None if day == date.max else day + timedelta(days=1)


def spans(first: date, last: date) -> list[tuple[int, str, str]]:
    """The runs covering ``first``–``last`` (both included): (length of the ``day`` key: 10 days,
    7 months, 4 years; first key; last key), in order."""
    out: list[tuple[int, str, str]] = []
    day: date | None = first
    while day is not None and day <= last:
        if day.month == 1 and day.day == 1 and date(day.year, 12, 31) <= last:
            end = last.year if last.month == 12 and last.day == 31 else last.year - 1
            out.append((4, f"{day.year:04d}", f"{end:04d}"))
            day = None if end == date.max.year else date(end + 1, 1, 1)
        elif day.day == 1 and _month_end(day) <= last:
            if last.year > day.year:
                stop = date(day.year, 12, 31)
            else:
                stop = last if _month_end(last) == last else last.replace(day=1) - timedelta(days=1)
            out.append((7, f"{day.year:04d}-{day.month:02d}", f"{stop.year:04d}-{stop.month:02d}"))
            day = _next(stop)
        else:
            stop = min(_month_end(day), last)
            out.append((10, day.isoformat(), stop.isoformat()))
            day = _next(stop)
    return out


def sums(views, rolled: Rolled, first: date, last: date, scopes: Sequence[str] | None, by: Sequence[str],
         where: str = "", params: tuple = ()) -> dict[tuple, dict[str, int]]:
    """The counters of ``rolled`` summed over the period, grouped by the columns ``by``.

    ``scopes`` are values of the first key (street-towns, funds); None is the whole district (the
    ``*`` rows of a rollup that keeps them; the partial months, and a rollup without them, summed
    over every street-town it knows).
    ``where`` narrows further (an SQL fragment on the key columns, with ``params``)."""
    counters = rolled.daily.counters
    scope = rolled.daily.keys[0]
    totals: dict[tuple, dict[str, int]] = {}
    for grain, lo, hi in spans(first, last):
        table = rolled.at(grain)
        if scopes is None and (grain == 10 or not rolled.daily.rollups[0][2]):  # every scope's rows
            values = tuple(r[0] for r in views.query(f"SELECT DISTINCT {scope} AS s FROM {{t}} WHERE {scope} <> ?",
                                                     (EVERY,), t=rolled.years))
        else:
            values = (EVERY,) if scopes is None else tuple(scopes)
        if not values:
            continue
        clause = f"{scope} IN ({', '.join('?' * len(values))}) AND "
        group = ", ".join(by)
        sql = (f"SELECT {group + ', ' if group else ''}{', '.join(f'SUM({c}) AS {c}' for c in counters)} "
               f"FROM {{t}} WHERE {clause}day >= ? AND day <= ?{' AND ' + where if where else ''}"
               f"{' GROUP BY ' + group if group else ''}")
        for row in views.query(sql, (*values, lo, hi, *params), t=table):
            key, amounts = tuple(row[: len(by)]), row[len(by):]
            into = totals.setdefault(key, dict.fromkeys(counters, 0))
            for column, amount in zip(counters, amounts, strict=True):
                into[column] += int(amount or 0)
    return totals


def distinct_donors(views, first: date, last: date, towns: Sequence[str] | None) -> int:
    """Donors with a gift received in the period and not reversed by its end; each anonymous gift
    is a donor of its own. ``towns`` None: the whole district, a donor giving in two street-towns
    counted once.

    Exact: the donors of each run come from the per-gift rows of its partial months (``GIFTS``)
    and the per-donor month and year rows (``DONOR_MONTHS``, ``DONOR_YEARS``),
    less each gift received in the period and reversed by its end (``REVERSED_GIFTS``, as few as
    the corrections); a donor counts if any gift is left. Over all time (no gift outside the period)
    the count kept per street-town (``DONOR_COUNT``) answers in one row."""
    from projections.streettowns import (
        ANONYMOUS_DONOR,
        DONOR_COUNT,
        DONOR_MONTHS,
        DONOR_YEARS,
        FLOWED,
        GIFTS,
        REVERSED_GIFTS,
    )

    scopes = list(towns) if towns is not None else [EVERY]
    bounds = views.query("SELECT MIN(day) AS lo, MAX(day) AS hi FROM {t} WHERE street_town IN "
                         f"({', '.join('?' * len(scopes))}) AND category >= 'donation:' AND category < 'donation;'",
                         tuple(scopes), t=FLOWED.years)
    lo, hi = bounds[0] if bounds else (None, None)
    if lo is None:
        return 0
    if first <= date(int(lo), 1, 1) and last >= date(int(hi), 12, 31) and len(scopes) == 1:
        found = views.query("SELECT donors FROM {t} WHERE street_town = ?", (scopes[0],), t=DONOR_COUNT)
        return int(found[0][0]) if found else 0
    parts: list[str] = []
    params: list[Any] = []
    town_clause = "" if towns is None else f"street_town IN ({', '.join('?' * len(towns))}) AND "
    town_values = () if towns is None else tuple(towns)
    names = {10: "{d}", 7: "{m}", 4: "{y}"}
    for grain, lo_key, hi_key in spans(first, last):
        n = "1" if grain == 10 else "gifts"  # a day's rows are gifts, the others sums of them
        parts.append(f"SELECT donor AS donor, {n} AS n FROM {names[grain]} WHERE {town_clause}day >= ? AND day <= ?")
        params += [*town_values, lo_key, hi_key]
    parts.append(f"SELECT donor AS donor, -1 AS n FROM {{r}} WHERE {town_clause}day >= ? AND day <= ? AND reversed <= ?")
    params += [*town_values, first.isoformat(), last.isoformat(), last.isoformat()]
    sql = (f"SELECT COALESCE(SUM(CASE WHEN donor = ? THEN n ELSE 1 END), 0) AS donors FROM ("
           f"SELECT donor AS donor, SUM(n) AS n FROM ({' UNION ALL '.join(parts)}) AS g "
           f"GROUP BY donor HAVING SUM(n) > 0) AS d")
    found = views.query(sql, (ANONYMOUS_DONOR, *params), d=GIFTS, m=DONOR_MONTHS, y=DONOR_YEARS,
                        r=REVERSED_GIFTS)
    return int(found[0][0])


def monthly(views, rolled: Rolled, scope: str | None, by: Iterable[str] = ()) -> list[tuple]:
    """Every month's rows of a rollup for one scope (None: the district's ``*`` rows), by month."""
    by = tuple(by)
    counters = rolled.daily.counters
    group = ", ".join(("day", *by))
    return views.query(f"SELECT {group}, {', '.join(f'SUM({c}) AS {c}' for c in counters)} FROM {{t}} "
                       f"WHERE {rolled.daily.keys[0]} = ? GROUP BY {group} ORDER BY {group}",
                       (scope if scope is not None else EVERY,), t=rolled.months)
