"""E-value (VanderWeele & Ding 2017): hand-worked values, conventions and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from evalkit.stats.evalue import EValueResult, evalue, evalue_rr

# Case table: (rr, expected E-value), each worked by hand from E = RR + sqrt(RR * (RR - 1)),
# with RR < 1 replaced by 1 / RR first.
#   3.9: 3.9 + sqrt(3.9 * 2.9) = 3.9 + sqrt(11.31) = 3.9 + 3.363034 = 7.263034
#        (the paper's example, evalue_vanderweele_ding_2017.csv)
#   1.8: 1.8 + sqrt(1.8 * 0.8) = 1.8 + sqrt(1.44) = 1.8 + 1.2 = 3.0 (the paper's CI E-value)
#   2:   2 + sqrt(2)
#   0.5: inverted to 2, so 2 + sqrt(2)
#   0.9: inverted to 10/9: 10/9 + sqrt(10/9 * 1/9) = (10 + sqrt(10)) / 9
#   1:   1 + 0 = 1 (no association needs no confounding)
#: The paper's worked example (VanderWeele & Ding 2017), in a file beside its source.
PUBLISHED_FILE = Path(__file__).parents[2] / "reference" / "evalue_vanderweele_ding_2017.csv"
PUBLISHED = pd.read_csv(PUBLISHED_FILE, comment="#").to_dict(orient="records")

EVALUE_CASES = [
    (3.9, 3.9 + math.sqrt(11.31)),
    (1.8, 3.0),
    (2.0, 2.0 + math.sqrt(2.0)),
    (0.5, 2.0 + math.sqrt(2.0)),
    (0.9, (10.0 + math.sqrt(10.0)) / 9.0),
    (1.0, 1.0),
]


@pytest.mark.parametrize(("rr", "expected"), EVALUE_CASES)
def test_evalue_rr_case_table_matches_hand_worked_values(rr: float, expected: float) -> None:
    assert evalue_rr(rr) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("ref", PUBLISHED, ids=lambda r: f"rr{r['rr']}")
def test_evalue_published_example_gives_7_26_and_3_0(ref: dict) -> None:
    # VanderWeele & Ding (2017): RR 3.9 (95% CI 1.8 to 8.7); E-values 7.26 and 3.0.
    res = evalue(ref["rr"], ref["ci_low"], ref["ci_high"])
    assert round(res.evalue, int(ref["evalue_decimals"])) == ref["evalue"]
    assert res.evalue_ci == pytest.approx(ref["evalue_ci"], abs=1e-12)
    assert res.spec["ci_limit_used"] == ref["ci_limit_used"]


def test_evalue_protective_ratio_uses_upper_limit_inverted() -> None:
    # RR 0.8 (0.7 to 0.9): point 1/0.8 = 1.25 -> 1.25 + sqrt(1.25 * 0.25) = 1.25 + sqrt(0.3125);
    # the limit closest to 1 is 0.9 -> (10 + sqrt(10)) / 9.
    res = evalue(0.8, 0.7, 0.9)
    assert res.evalue == pytest.approx(1.25 + math.sqrt(0.3125), abs=1e-12)
    assert res.evalue_ci == pytest.approx((10 + math.sqrt(10)) / 9, abs=1e-12)
    assert res.spec["ci_limit_used"] == 0.9
    assert any("inverse" in n for n in res.notes)


@pytest.mark.parametrize(("lo", "hi"), [(0.7, 1.1), (0.95, 1.0), (1.0, 1.3)])
def test_evalue_ci_including_one_gives_one(lo: float, hi: float) -> None:
    res = evalue(min(max(0.85, lo), hi), lo, hi)
    assert res.evalue_ci == 1.0
    assert any("includes 1" in n for n in res.notes)


def test_evalue_without_ci_has_no_ci_evalue() -> None:
    res = evalue(2.0)
    assert res.evalue_ci is None
    assert list(res.tidy()["quantity"]) == ["point"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0,), "positive"),
        ((-1.2,), "positive"),
        ((math.inf,), "positive"),
        ((1.5, 1.2, None), "both"),
        ((1.5, 1.6, 2.0), "does not contain"),
        ((1.5, 0.0, 2.0), "positive"),
    ],
)
def test_evalue_bad_input_raises_value_error(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        evalue(*args)


def test_evalue_result_views_are_consistent_and_json_safe() -> None:
    res = evalue(0.8, 0.7, 0.9)
    assert isinstance(res, EValueResult)
    tidy = res.tidy()
    assert list(tidy.columns) == ["quantity", "rate_ratio", "evalue"]
    assert tidy["evalue"].tolist() == [res.evalue, res.evalue_ci]
    d = json.loads(json.dumps(res.to_dict()))
    assert d["evalue"] == pytest.approx(res.evalue)
    assert "E-value" in res.summary()
    assert repr(res) == res.summary() and res._repr_html_().startswith("<pre>")
    with pytest.raises(AttributeError):
        res.evalue = 2.0  # type: ignore[misc]
