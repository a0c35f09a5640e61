"""Disclosure control: the HES rule (0 stays 0, 1-7 suppressed, others to the nearest 5)."""

from __future__ import annotations

import pytest

from evalkit.reporting.disclosure import DisclosureRule, control_entry


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, 0),  # a true zero is shown
        (1, None),  # edge: smallest suppressed
        (7, None),  # edge: largest suppressed
        (8, 10),  # 8 rounds to 10 (intended: the rule never shows 8)
        (12, 10),
        (12.5, 10),  # floats are counts truncated to int first
        (13, 15),
        (102, 100),
        (103, 105),  # halves round up
        (None, None),
    ],
)
def test_rule_count_case_table(raw, expected) -> None:
    assert DisclosureRule().count(raw) == expected


def test_rule_without_rounding_keeps_large_counts() -> None:
    rule = DisclosureRule(rounding=False)
    assert rule.count(12) == 12
    assert rule.count(3) is None


def test_control_entry_suppresses_small_count_and_its_statistics() -> None:
    entry = {
        "instrument": "wemwbs",
        "n_paired": 5,
        "mean_change": 2.1,
        "ci_low": 0.1,
        "ci_high": 4.0,
        "n_baseline": 40,
    }
    out = control_entry(entry)
    assert out["n_paired"] is None
    assert out["mean_change"] is None and out["ci_low"] is None
    assert out["n_baseline"] == 40
    assert set(out["suppressed"]) == {"n_paired", "mean_change", "ci_low", "ci_high"}


def test_control_entry_rounds_large_counts_and_keeps_estimates() -> None:
    entry = {
        "setting": "gp_appointment",
        "n_participants": 88,
        "n_controls": 263,
        "estimate": 0.9,
        "ci_low": 0.8,
        "ci_high": 1.0,
    }
    out = control_entry(entry)
    assert (out["n_participants"], out["n_controls"]) == (90, 265)
    assert out["estimate"] == 0.9
    assert "suppressed" not in out
