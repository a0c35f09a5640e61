"""The data contract as code: the IMD quintile on every kind of input, and the code lists."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from evalkit import contract
from evalkit.contract import imd_quintile

#: IMD decile -> quintile (1 = most deprived fifth): deciles 1-2 are quintile 1, ..., 9-10 are 5.
DECILE_TO_QUINTILE = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 9: 5, 10: 5}
DECILES = list(DECILE_TO_QUINTILE)
QUINTILES = list(DECILE_TO_QUINTILE.values())


# ----- imd_quintile ---------------------------------------------------------------------------
@pytest.mark.parametrize(("decile", "quintile"), DECILE_TO_QUINTILE.items())
def test_imd_quintile_of_an_int(decile: int, quintile: int) -> None:
    got = imd_quintile(decile)
    assert got == quintile and isinstance(got, int)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8"])
def test_imd_quintile_of_a_numpy_array_keeps_an_integer_dtype(dtype: str) -> None:
    got = imd_quintile(np.array(DECILES, dtype=dtype))
    assert got.tolist() == QUINTILES
    assert np.issubdtype(got.dtype, np.integer)


def test_imd_quintile_of_numpy_scalars() -> None:
    assert imd_quintile(np.int64(7)) == 4
    assert imd_quintile(np.int8(10)) == 5


def test_imd_quintile_of_a_pandas_series_keeps_index_and_missing_values() -> None:
    s = pd.Series([1, 4, None, 10], dtype="Int64", index=list("abcd"))
    got = imd_quintile(s)
    assert got.index.tolist() == list("abcd")
    assert got.dtype == "Int64"
    assert got.tolist()[:2] == [1, 2] and got.tolist()[3] == 5
    assert got.isna().tolist() == [False, False, True, False]


def test_imd_quintile_of_a_pandas_int_series_equals_the_table() -> None:
    got = imd_quintile(pd.Series(DECILES, dtype="int64"))
    assert got.tolist() == QUINTILES and got.dtype == "int64"


def test_imd_quintile_of_an_ibis_expression_runs_on_duckdb() -> None:
    ibis = pytest.importorskip("ibis")
    con = ibis.duckdb.connect()
    t = con.create_table("people", pd.DataFrame({"imd_decile": DECILES}))
    expr = t.mutate(imd_quintile=imd_quintile(t.imd_decile).cast("int8"))
    got = expr.order_by("imd_decile").to_pandas()
    assert got["imd_quintile"].tolist() == QUINTILES
    # Without the cast the result stays an integer column (floor division, not true division).
    raw = t.select(q=imd_quintile(t.imd_decile)).to_pandas()["q"]
    assert sorted(raw.tolist()) == sorted(QUINTILES)
    assert pd.api.types.is_integer_dtype(raw)


# ----- code lists -----------------------------------------------------------------------------
CODE_LISTS = {
    "TABLES": contract.TABLES,
    "CONDITIONS": contract.CONDITIONS,
    "SETTINGS": contract.SETTINGS,
    "OPTIONAL_SETTINGS": contract.OPTIONAL_SETTINGS,
    "SEXES": contract.SEXES,
    "ETHNICITY_CODES": contract.ETHNICITY_CODES,
    "REFERRAL_SOURCES": contract.REFERRAL_SOURCES,
    "DISCHARGE_REASONS": contract.DISCHARGE_REASONS,
    "TIMEPOINTS": contract.TIMEPOINTS,
    "REASONS": contract.REASONS,
}


@pytest.mark.parametrize("name", CODE_LISTS)
def test_code_list_is_a_non_empty_tuple_of_unique_strings(name: str) -> None:
    codes = CODE_LISTS[name]
    assert isinstance(codes, tuple) and codes
    assert all(isinstance(c, str) and c for c in codes)
    assert len(set(codes)) == len(codes)


def test_optional_settings_are_not_among_the_required_settings() -> None:
    assert not set(contract.OPTIONAL_SETTINGS) & set(contract.SETTINGS)


def test_every_ethnicity_code_falls_in_one_of_the_ons_groups() -> None:
    groups = {"White", "Mixed", "Asian", "Black", "Other", "Not stated", "Not known"}
    assert set(contract.ETHNICITY_GROUP.values()) == groups
    assert contract.ETHNICITY_CODES == tuple(contract.ETHNICITY_GROUP)


def test_every_table_has_columns_nullables_optionals_and_a_primary_key_it_holds() -> None:
    for table in contract.TABLES:
        cols = contract.COLUMNS[table]
        assert set(contract.NULLABLE[table]) <= set(cols), table
        assert set(contract.OPTIONAL_COLUMNS[table]) <= set(cols), table
        assert set(contract.PRIMARY_KEY[table]) <= set(cols), table
        assert not set(contract.PRIMARY_KEY[table]) & contract.NULLABLE[table], table
    assert set(contract.COLUMNS) == set(contract.TABLES)


def test_column_types_are_the_contracts_logical_types() -> None:
    kinds = {t for cols in contract.COLUMNS.values() for t in cols.values()}
    assert kinds <= {"string", "int", "date"}


def test_condition_columns_are_dates_of_the_population_table() -> None:
    pop = contract.COLUMNS["population"]
    assert all(pop[c] == "date" for c in contract.CONDITIONS)
    assert set(contract.CONDITIONS) <= contract.NULLABLE["population"]


def test_every_fault_maps_to_a_row_reason_of_its_table() -> None:
    assert set(contract.FAULT_REASONS) == set(contract.TABLES)
    for faults in contract.FAULT_REASONS.values():
        assert set(faults.values()) <= set(contract.REASONS)
    assert contract.MISSING_COLUMN not in contract.REASONS  # file-level, never a row reason


def test_person_id_pattern_and_earliest_date() -> None:
    pattern = re.compile(contract.PERSON_ID_PATTERN)
    assert pattern.match("0123456789abcdef")
    assert not pattern.match("0123456789ABCDEF") and not pattern.match("0123")
    assert contract.EARLIEST_DATE.isoformat() == "1900-01-02"  # 1900-01-01 is a placeholder
