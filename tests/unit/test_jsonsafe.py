"""JSON-safe conversion and the one float rounding (evalkit.jsonsafe): case tables."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.jsonsafe import json_safe, round_floats

# ----- json_safe ------------------------------------------------------------------------------
#: (case, value, JSON-safe value, its exact type)
JSON_SAFE_CASES = [
    ("none", None, None, type(None)),
    ("str", "abc", "abc", str),
    ("empty_str", "", "", str),
    ("bool", True, True, bool),
    ("numpy_bool", np.bool_(False), False, bool),
    ("int", 7, 7, int),
    ("numpy_int64", np.int64(-3), -3, int),
    ("numpy_uint8", np.uint8(255), 255, int),
    ("float", 1.5, 1.5, float),
    ("numpy_float32", np.float32(0.25), 0.25, float),
    ("numpy_float64", np.float64(2.0), 2.0, float),
    ("nan", math.nan, None, type(None)),
    ("numpy_nan", np.float64("nan"), None, type(None)),
    ("inf", math.inf, None, type(None)),
    ("minus_inf", -np.inf, None, type(None)),
    ("pandas_na", pd.NA, None, type(None)),
    ("pandas_nat", pd.NaT, None, type(None)),
    ("date", dt.date(2024, 1, 31), "2024-01-31", str),
    ("datetime", dt.datetime(2024, 1, 31, 12, 30), "2024-01-31T12:30:00", str),
    ("timestamp", pd.Timestamp("2024-02-29"), "2024-02-29T00:00:00", str),
    ("datetime64", np.datetime64("2024-03-01"), "2024-03-01T00:00:00", str),
    ("path", Path("a/b.csv"), "a/b.csv", str),
    ("unknown_object", complex(1, 2), "(1+2j)", str),
]


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [c[1:] for c in JSON_SAFE_CASES],
    ids=[c[0] for c in JSON_SAFE_CASES],
)
def test_json_safe_scalar_case_table(value, expected, kind) -> None:
    got = json_safe(value)
    assert got == expected
    assert type(got) is kind


def test_json_safe_nested_containers_become_dicts_and_lists_with_string_keys() -> None:
    value = {
        "a": (np.int64(1), [np.float64("nan"), {"b": dt.date(2024, 5, 1)}]),
        3: np.bool_(True),
        "c": [],
    }
    got = json_safe(value)
    assert got == {"a": [1, [None, {"b": "2024-05-01"}]], "3": True, "c": []}
    assert json.loads(json.dumps(got, allow_nan=False)) == got


def test_json_safe_bool_is_not_turned_into_an_int() -> None:
    # bool is an int subclass: it must be tried first.
    assert json_safe([True, np.bool_(True)]) == [True, True]
    assert all(type(v) is bool for v in json_safe([True, np.bool_(True)]))


def test_json_safe_is_idempotent() -> None:
    value = {"x": [np.float64(1.25), math.inf, pd.Timestamp("2024-01-01"), None]}
    once = json_safe(value)
    assert json_safe(once) == once


# ----- round_floats ---------------------------------------------------------------------------
#: (case, value, digits, rounded value)
ROUND_CASES = [
    ("six_significant", 1.23456789, 6, 1.23457),
    ("large", 123456789.0, 6, 123457000.0),
    ("small", 0.000123456789, 6, 0.000123457),
    ("negative", -2.718281828, 6, -2.71828),
    ("three_digits", 3.14159, 3, 3.14),
    ("exact_already", 0.5, 6, 0.5),
    ("zero", 0.0, 6, 0.0),
    ("numpy_float", np.float64(1 / 3), 6, 0.333333),
    ("nan", math.nan, 6, None),
    ("inf", math.inf, 6, None),
    ("minus_inf", -math.inf, 6, None),
    ("int_unchanged", 123456789, 6, 123456789),
    ("numpy_int", np.int64(42), 6, 42),
    ("bool_unchanged", True, 6, True),
    ("str_unchanged", "1.23456789", 6, "1.23456789"),
    ("none", None, 6, None),
]


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [c[1:] for c in ROUND_CASES],
    ids=[c[0] for c in ROUND_CASES],
)
def test_round_floats_case_table(value, digits, expected) -> None:
    got = round_floats(value, digits)
    assert got == expected
    assert type(got) is type(expected)


def test_round_floats_nested_and_other_objects_made_json_safe() -> None:
    value = {"a": [1.23456789, (np.float32(2.5), math.nan)], 7: dt.date(2024, 1, 2)}
    assert round_floats(value) == {"a": [1.23457, [2.5, None]], "7": "2024-01-02"}


@pytest.mark.parametrize("digits", [3, 6, 10])
def test_round_floats_is_idempotent(digits: int) -> None:
    rng = np.random.default_rng(20240601)
    values = {
        "uniform": rng.uniform(-1e6, 1e6, 200).tolist(),
        "lognormal": rng.lognormal(0, 8, 200).tolist(),
        "special": [math.nan, math.inf, 0.0, -0.0, 1e-300, 5e-324],
    }
    once = round_floats(values, digits)
    assert round_floats(once, digits) == once


def test_round_floats_output_serialises_without_nan() -> None:
    got = round_floats({"x": [math.nan, 1 / 7, np.float64(-math.inf)]})
    assert json.dumps(got, allow_nan=False) == '{"x": [null, 0.142857, null]}'
