"""Comparing cohort frames from an engine with each other and with the pandas reference."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def normal(df: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Types made comparable: text as str, dates as ``datetime64[s]``, integers as ``Int64``.

    So that the reference's Python dates and ints and the engine's categoricals, int8 and
    int16 compare by value; floats stay float64 (exposure must agree exactly).
    """
    out = df[list(columns)] if columns is not None else df
    out = out.copy()
    for c in out.columns:
        s = out[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        if pd.api.types.is_datetime64_any_dtype(s) or _holds_dates(s):
            out[c] = pd.to_datetime(s).astype("datetime64[s]")
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
            out[c] = s.astype("Int64")
        elif pd.api.types.is_float_dtype(s):
            out[c] = s.astype("float64")
        elif _all_int_or_null(s):
            out[c] = pd.array(s.tolist(), dtype="Int64")
        else:
            out[c] = s.astype(object).where(s.notna(), None)
    return out.reset_index(drop=True)


def _holds_dates(s: pd.Series) -> bool:
    import datetime as dt

    v = s.dropna()
    return s.dtype == object and len(v) > 0 and all(isinstance(x, dt.date) for x in v)


def _all_int_or_null(s: pd.Series) -> bool:
    v = s.dropna()
    return s.dtype == object and len(v) > 0 and all(isinstance(x, int) for x in v)


def sorted_on_all(df: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted on every column (for frames whose row order is not part of the contract)."""
    return df.sort_values(list(df.columns), ignore_index=True)


def assert_same(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    what: str = "",
) -> None:
    """``actual`` equals ``expected`` on ``columns`` (default: all of ``expected``'s), in order."""
    cols = list(columns) if columns is not None else list(expected.columns)
    a, e = normal(actual, cols), normal(expected, cols)
    for c in cols:  # a column empty on one side has no type of its own: take the other's
        if a[c].dtype != e[c].dtype and e[c].isna().all():
            e[c] = e[c].astype(a[c].dtype)
        elif a[c].dtype != e[c].dtype and a[c].isna().all():
            a[c] = a[c].astype(e[c].dtype)
    try:
        pd.testing.assert_frame_equal(a, e)
    except AssertionError as exc:
        raise AssertionError(
            f"{what}\nactual:\n{a.to_string()}\nexpected:\n{e.to_string()}\n{exc}"
        ) from None


def expected_frame(header: str, rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """A hand-written expected table: column names in ``header`` (spaces), one tuple a row.

    A column of ints and Nones is ``Int64`` (pandas alone would make it float).
    """
    df = pd.DataFrame([list(r) for r in rows], columns=header.split(), dtype=object)
    for c in df.columns:
        v = df[c].dropna()
        if len(v) and all(isinstance(x, bool) for x in v):
            df[c] = df[c].astype(bool)
        elif len(v) and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            df[c] = pd.array(df[c].tolist(), dtype="Int64")
        elif len(v) and all(isinstance(x, float | int) for x in v):
            df[c] = df[c].astype("float64")
    return df
