"""The whole-log fold's pieces (``projections.bulk``): rollups summed from the final daily rows equal
the rollups the runner derives change by change, and the digests of rows hashed as the store holds
them equal the row-by-row digests the incremental runner keeps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections import bulk, digest
from projections.base import Change, MemoryStore, Table, rolled
from projections.hours import VOLUNTEERS

HOURS = rolled("t_daily", "t_monthly", "t_yearly", ("town", "day", "domain"), ("minutes", "sessions"), every=True)

changes = st.lists(st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["elderly", "youth"]),
    st.integers(-500, 500),
    st.integers(-2, 3),
), max_size=60)


@given(changes)
def test_rollups_summed_from_the_final_days_equal_those_derived_change_by_change(made):
    folded = [Change(HOURS.daily.name, (town, day, domain), add={"minutes": minutes, "sessions": sessions})
              for town, day, domain, minutes, sessions in made]
    memory = MemoryStore(HOURS.tables)
    memory.apply(folded)
    rows = bulk.Rows(HOURS.tables)
    rows.apply(folded)
    rows.roll_up()
    for table in HOURS.tables:
        assert {key: rows.read(table.name, key) for key in rows.rows[table.name]} == memory.rows[table.name]


def test_rows_a_fold_gave_odd_types_are_stored_and_hashed_as_the_store_gives_them_back():
    folded = [
        Change(VOLUNTEERS.name, ("V-1",), add={"minutes": 90, "sessions": 1},
               put={"name": "张三", "street_town": "xinhua", "name_public": True, "registered_on": "2024-01-02"}),
        Change(VOLUNTEERS.name, ("V-2",), add={"minutes": 30, "sessions": 1},
               put={"name": "李四", "street_town": 7, "name_public": 0, "registered_on": None}),
    ]
    rows = bulk.Rows([VOLUNTEERS])
    rows.apply(folded)
    stored = rows.stored(VOLUNTEERS.name)
    assert stored == [("V-1", 90, 1, "张三", "xinhua", 1, "2024-01-02"), ("V-2", 30, 1, "李四", "7", 0, None)]
    assert [type(v) for v in stored[0]] == [str, int, int, str, str, int, str]
    by_row = sum(digest.row_hash(VOLUNTEERS, rows.read(VOLUNTEERS.name, key)) for key in rows.rows[VOLUNTEERS.name])
    assert digest.sum_of_stored(VOLUNTEERS, stored) == by_row


def test_a_row_hash_depends_on_the_table_each_value_and_its_type():
    table = Table("t", ("k",), ("n",), ("s",))
    base = digest.row_hash(table, {"k": "x", "n": 1, "s": "1"})
    assert base != digest.row_hash(table, {"k": "x", "n": 2, "s": "1"})
    assert base != digest.row_hash(table, {"k": "x", "n": 1, "s": None})
    assert base != digest.row_hash(Table("u", ("k",), ("n",), ("s",)), {"k": "x", "n": 1, "s": "1"})
    assert digest.sum_of_stored(table, [("x", 1, "1")]) == base
    assert digest.sum_of_stored(table, [("x", "1", "1")]) != base  # a number stored as text is another row
