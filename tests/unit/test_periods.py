"""A period of whole days is cut into at most five runs of days, months and years that cover each
of its days exactly once (projections.periods.spans)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.periods import spans

days = st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31))


def covered(first: date, last: date) -> list[date]:
    """Every day the runs cover, in order (a day may be listed twice: the test would see it)."""
    out: list[date] = []
    for grain, lo, hi in spans(first, last):
        if grain == 4:
            start, end = date(int(lo), 1, 1), date(int(hi), 12, 31)
        elif grain == 7:
            start = date(int(lo[:4]), int(lo[5:]), 1)
            y, m = int(hi[:4]), int(hi[5:])
            end = (date(y + (m == 12), m % 12 + 1, 1)) - timedelta(days=1)
        else:
            start, end = date.fromisoformat(lo), date.fromisoformat(hi)
        assert start <= end, (grain, lo, hi)
        out += [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return out


@settings(max_examples=400, deadline=None)
@given(first=days, length=st.integers(0, 4000))
def test_runs_cover_each_day_once(first, length):
    last = first + timedelta(days=length)
    assert covered(first, last) == [first + timedelta(days=i) for i in range(length + 1)]
    runs = spans(first, last)
    assert len(runs) <= 5
    assert sum(1 for grain, _, _ in runs if grain == 4) <= 1


def test_all_time_is_one_run_of_years():
    assert spans(date(2000, 1, 1), date(9999, 12, 31)) == [(4, "2000", "9999")]
    assert spans(date(1, 1, 1), date(2026, 3, 31)) == [(4, "0001", "2025"), (7, "2026-01", "2026-03")]
