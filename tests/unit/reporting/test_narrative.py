"""Headline sentences: relative and absolute together, uncertainty in words, never "no effect"."""

from __future__ import annotations

import pytest

from evalkit.reporting import narrative as nar


def _rr(est: float, lo: float, hi: float) -> dict:
    return {
        "setting": "emergency_admission",
        "window_months": 6,
        "estimate": est,
        "ci_low": lo,
        "ci_high": hi,
    }


@pytest.mark.parametrize(
    ("rr", "diff", "must", "must_not"),
    [
        (
            _rr(0.69, 0.54, 0.88),
            -0.041,
            ["31% lower", "12% to 46% lower", "about 4 fewer"],
            ["not distinguishable"],
        ),
        (_rr(1.31, 1.10, 1.60), 0.05, ["31% higher", "10% to 60% higher", "about 5 more"], []),
        (
            _rr(0.92, 0.80, 1.06),
            -0.01,
            ["not distinguishable from no change", "from 20% lower to 6% higher"],
            ["no effect."],
        ),
        (None, -0.02, ["about 2 fewer", "not distinguishable"], ["lower than expected"]),
    ],
)
def test_utilisation_headline_case_table(rr, diff, must, must_not) -> None:
    d = {
        "setting": "emergency_admission",
        "window_months": 6,
        "estimate": diff,
        "ci_low": diff - 0.03,
        "ci_high": diff + 0.03,
    }
    s = nar.utilisation_headline(rr, d)
    for m in must:
        assert m in s, s
    for m in must_not:
        assert m not in s, s


def test_utilisation_headline_suppressed_says_so() -> None:
    d = {
        "setting": "emergency_admission",
        "window_months": 6,
        "estimate": None,
        "ci_low": None,
        "ci_high": None,
    }
    assert "not reported" in nar.utilisation_headline(None, d)


def test_cost_headline_in_pounds() -> None:
    d = {
        "setting": "total_cost",
        "window_months": 12,
        "estimate": -250.0,
        "ci_low": -400.0,
        "ci_high": -100.0,
    }
    s = nar.utilisation_headline(None, d)
    assert "£250 less per participant" in s and "£100 to £400 less" in s


def test_wellbeing_sentence_includes_interval_and_direction() -> None:
    s = nar.wellbeing_sentence(
        {"n_paired": 40, "mean_change": -1.5, "ci_low": -2.5, "ci_high": -0.5}, "CAT"
    )
    assert "fell by 1.5" in s and "-2.5 to -0.5" in s
