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
    # ibis 12 + sqlglot 30 breaks exactly this call (shared/reference/stack.md): keep it tested.
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    t = con.create_table("t", df)
    out = engine.to_pandas(con, t.filter(t.a >= 2).order_by("a"))
    assert out["b"].tolist() == ["y", "z"]
    assert int(con.raw_sql("SELECT current_setting('threads')").fetchone()[0]) == 1


def test_stage_raw_csv_numbers_data_rows_from_one_in_file_order(con, tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text('id,note\n3,"multi\nline"\n1,plain\n2,\n', encoding="utf-8")
    t = engine.stage_raw_csv(
        con, p, columns=["id", "note"], staging_path=tmp_path / "s.parquet", name="raw_x"
    )
    out = engine.to_pandas(con, t.order_by("row_number"))
    assert out["row_number"].tolist() == [1, 2, 3]
    assert out["id"].tolist() == ["3", "1", "2"]
    assert out["note"].tolist()[:2] == ["multi\nline", "plain"]
    assert pd.isna(out["note"].iloc[2])


def test_stage_raw_csv_wrong_field_count_raises_naming_file(con, tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(engine.EngineError, match=r"bad\.csv: cannot be read as CSV"):
        engine.stage_raw_csv(
            con, p, columns=["a", "b"], staging_path=tmp_path / "s.parquet", name="raw_bad"
        )


def test_stage_raw_parquet_renders_dates_with_format_and_numbers_rows(con, tmp_path: Path) -> None:
    p = tmp_path / "x.parquet"
    pd.DataFrame({"d": [dt.date(2021, 3, 4), None], "n": [5, 6]}).to_parquet(p)
    t = engine.stage_raw_parquet(con, p, columns=["d", "n"], name="raw_p", date_format="%d/%m/%Y")
    out = engine.to_pandas(con, t.order_by("row_number"))
    assert out["row_number"].tolist() == [1, 2]
    assert out["d"].iloc[0] == "04/03/2021" and pd.isna(out["d"].iloc[1])
    assert out["n"].tolist() == ["5", "6"]


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


def test_atomic_path_exception_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), engine.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_to_pandas_large_result_is_refused(con) -> None:
    t = con.create_table("big", pd.DataFrame({"k": range(11)}))
    with pytest.raises(engine.EngineError, match="more than 10 rows"):
        engine.to_pandas(con, t, limit=10)
    assert len(engine.to_pandas(con, t.aggregate(n=t.count()), limit=10)) == 1


def test_open_processed_missing_table_names_it(con, tmp_path: Path) -> None:
    with pytest.raises(engine.EngineError, match=r"population\.parquet: processed table not found"):
        engine.open_processed(con, tmp_path)
