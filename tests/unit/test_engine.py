"""The engine layer: Ibis over DuckDB, raw staging with row numbers, atomic Parquet writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from evalkit import engine


@pytest.fixture
def con():
    c = engine.connect(threads=1)
    yield c
    c.disconnect()


def test_connect_create_table_from_dataframe_round_trips(con) -> None:
    # ibis 12 + sqlglot 30 breaks exactly this call (docs/reference/stack.md): keep it tested.
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    t = con.create_table("t", df)
    out = engine.to_pandas(con, t.filter(t.a >= 2).order_by("a"))
    assert out["b"].tolist() == ["y", "z"]
    assert int(con.raw_sql("SELECT current_setting('threads')").fetchone()[0]) == 1


def test_stage_raw_csv_numbers_data_rows_from_one_in_file_order(con, tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text('id,note\n3,"multi\nline"\n1,plain\n2,\n', encoding="utf-8")
    t = engine.stage_raw_csv(con, p, columns=["id", "note"], name="raw_x")
    out = engine.to_pandas(con, t.order_by("row_number"))
    assert out["row_number"].tolist() == [1, 2, 3]
    assert out["id"].tolist() == ["3", "1", "2"]
    assert out["note"].tolist()[:2] == ["multi\nline", "plain"]
    assert pd.isna(out["note"].iloc[2])


def test_stage_raw_csv_wrong_field_count_raises_naming_file(con, tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(engine.EngineError, match=r"bad\.csv: cannot be read as CSV"):
        engine.stage_raw_csv(con, p, columns=["a", "b"], name="raw_bad")


def test_stage_raw_parquet_renders_dates_with_format_and_numbers_rows(con, tmp_path: Path) -> None:
    p = tmp_path / "x.parquet"
    pd.DataFrame({"d": [dt.date(2021, 3, 4), None], "n": [5, 6]}).to_parquet(p)
    cols = {"d": "text", "n": "text"}
    t = engine.stage_raw_parquet(con, p, columns=cols, name="raw_p", date_format="%d/%m/%Y")
    out = engine.to_pandas(con, t.order_by("row_number"))
    assert out["row_number"].tolist() == [1, 2]
    assert out["d"].iloc[0] == "04/03/2021" and pd.isna(out["d"].iloc[1])
    assert out["n"].tolist() == ["5", "6"]


def test_stage_raw_parquet_native_columns_keep_their_types(con, tmp_path: Path) -> None:
    p = tmp_path / "x.parquet"
    pd.DataFrame({"d": [dt.date(2021, 3, 4), None], "n": [5, 6]}).to_parquet(p)
    t = engine.stage_raw_parquet(con, p, columns={"d": "date", "n": "int"}, name="raw_n")
    assert t.schema()["d"].is_date() and t.schema()["n"].is_int64()
    with pytest.raises(engine.EngineError, match="column n is BIGINT, not a date"):
        engine.stage_raw_parquet(con, p, columns={"n": "date"}, name="raw_bad")


def test_write_parquet_failed_check_leaves_no_file(con, tmp_path: Path) -> None:
    t = con.create_table("w", pd.DataFrame({"k": [2, 1]}))
    target = tmp_path / "out.parquet"

    def reject(path: Path) -> None:
        assert path.is_file() and path != target
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        engine.write_parquet(con, t, target, order_by=["k"], check=reject)
    assert list(tmp_path.iterdir()) == []
    engine.write_parquet(con, t, target, order_by=["k"])
    assert pd.read_parquet(target)["k"].tolist() == [1, 2]


def test_to_pandas_large_result_is_refused(con) -> None:
    t = con.create_table("big", pd.DataFrame({"k": range(11)}))
    with pytest.raises(engine.EngineError, match="more than 10 rows"):
        engine.to_pandas(con, t, limit=10)
    assert len(engine.to_pandas(con, t.aggregate(n=t.count()), limit=10)) == 1


def test_open_processed_missing_table_names_it(con, tmp_path: Path) -> None:
    with pytest.raises(engine.EngineError, match=r"population\.parquet: processed table not found"):
        engine.open_processed(con, tmp_path)


def _ordered_parquet(path: Path, n: int) -> None:
    """``n`` rows in many small row groups, so that two threads read them in parallel."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = [f"k{(i * 7919) % n:07d}" for i in range(n)]  # a permutation: not sorted by key
    pq.write_table(pa.table({"key": keys, "v": list(range(n))}), path, row_group_size=2_000)


def test_write_parquet_skip_rows_keeps_file_order_and_bytes(tmp_path: Path) -> None:
    con = engine.connect(threads=2)
    src = tmp_path / "src.parquet"
    _ordered_parquet(src, 60_000)
    raw = engine.stage_raw_parquet(con, src, columns={"key": "text", "v": "int"}, name="raw_o")
    con.create_table("gone", pd.DataFrame({"g": [3, 10_000, 59_999]}))
    gone = engine.table(con, "gone")
    target = tmp_path / "out.parquet"
    kw = {"source_order": ("raw_o", "row_number"), "skip_rows": gone}
    n = engine.write_parquet(con, raw, target, **kw)
    out = pd.read_parquet(target)
    assert n == len(out) == 60_000 - 3
    assert out["row_number"].tolist() == [
        r for r in range(1, 60_001) if r not in (3, 10_000, 59_999)
    ]
    again = tmp_path / "again.parquet"
    engine.write_parquet(con, raw, again, **kw)
    assert again.read_bytes() == target.read_bytes()
    con.disconnect()


def test_write_parquet_source_order_through_join_sorts(tmp_path: Path) -> None:
    # An anti join was seen writing rows out of order: the plan check must send it to a sort.
    con = engine.connect(threads=2)
    src = tmp_path / "src.parquet"
    _ordered_parquet(src, 60_000)
    raw = engine.stage_raw_parquet(con, src, columns={"key": "text", "v": "int"}, name="raw_j")
    con.create_table("gone_j", pd.DataFrame({"g": [3, 10_000, 59_999]}))
    gone = engine.table(con, "gone_j")
    expr = raw.anti_join(gone, raw.row_number == gone.g)
    assert not engine.plan_keeps_order(con, engine.sql(expr), "raw_j")
    target = tmp_path / "out.parquet"
    engine.write_parquet(con, expr, target, source_order=("raw_j", "row_number"), drop=["v"])
    out = pd.read_parquet(target)
    assert list(out.columns) == ["row_number", "key"]
    assert out["row_number"].is_monotonic_increasing and len(out) == 60_000 - 3
    con.disconnect()


def test_plan_keeps_order_aggregate_or_other_source_is_refused(con, tmp_path: Path) -> None:
    src = tmp_path / "src.parquet"
    _ordered_parquet(src, 100)
    raw = engine.stage_raw_parquet(con, src, columns={"key": "text", "v": "int"}, name="raw_a")
    grouped = raw.group_by("key").aggregate(n=raw.count())
    assert not engine.plan_keeps_order(con, engine.sql(grouped), "raw_a")
    assert not engine.plan_keeps_order(con, engine.sql(raw.order_by("v")), "raw_a")
    assert not engine.plan_keeps_order(con, engine.sql(raw), "some_other_table")
    assert engine.plan_keeps_order(con, engine.sql(raw.filter(raw.v > 3)), "raw_a")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["a", "b", "b", None, "c", "c", "c", "d"], {"b", "c"}),  # sorted: adjacent repeats
        (["b", "a", "b", None, "c", "a"], {"a", "b"}),  # not sorted: grouped
        (["a", None, "a"], {"a"}),  # a null between two copies is ignored
        (["a", "b", "c"], set()),
    ],
)
def test_duplicate_keys_sorted_or_not_finds_every_repeated_key(con, keys, expected) -> None:
    con.create_table("dk", pd.DataFrame({"k": pd.Series(keys, dtype="object")}))
    out = engine.duplicate_keys(con, engine.table(con, "dk"), ["k"], "dk_rep")
    assert set(engine.to_pandas(con, out)["k"]) == expected


def test_duplicate_keys_two_columns_groups(con) -> None:
    df = pd.DataFrame({"a": ["x", "x", "y", "x"], "b": ["1", "2", "1", "1"]})
    con.create_table("dk2", df)
    out = engine.to_pandas(
        con, engine.duplicate_keys(con, engine.table(con, "dk2"), ["a", "b"], "r2")
    )
    assert out.values.tolist() == [["x", "1"]]
