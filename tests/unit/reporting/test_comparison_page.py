"""The comparison page reports each programme at its own primary window (issue #15)."""

from __future__ import annotations

from typing import Any

from evalkit.reporting.pipeline import COMPARED_SETTINGS, comparison_rows, comparison_table

PRIMARY_ROW = "Primary outcome in the analysis plan (window the rows below use)"
RR_ROW = "Emergency admissions, primary window: rate ratio (95% CI)"
NAIVE_ROW = (
    "Emergency admissions, primary window: naive before/after, matched participants (95% CI)"
)


def _did(setting: str, window: int, estimate: float, role: str) -> dict[str, Any]:
    return {
        "setting": setting,
        "window_months": window,
        "method": "matched_did",
        "scale": "rate_ratio",
        "population": "matched",
        "estimate": estimate,
        "ci_low": estimate - 0.1,
        "ci_high": estimate + 0.1,
        "role": role,
    }


def _naive(setting: str, window: int, estimate: float) -> dict[str, Any]:
    return {
        **_did(setting, window, estimate, "exploratory"),
        "method": "naive_prepost",
    }


def _results(window: int, *, locked: bool) -> dict[str, Any]:
    """Emergency admissions at 6 and 12 months; the plan's primary window is ``window``."""
    util = [
        _did("emergency_admission", 6, 0.6, "primary" if window == 6 else "exploratory"),
        _did("emergency_admission", 12, 0.8, "primary" if window == 12 else "exploratory"),
        _naive("emergency_admission", 6, 0.5),
        _naive("emergency_admission", 12, 0.7),
    ]
    plan = {"primary": {"setting": "emergency_admission", "window_months": window}}
    return {"utilisation": util, "plan": {**plan, "locked": locked}}


def test_each_programme_is_shown_at_its_own_primary_window_named_in_the_cell() -> None:
    rows = {label: v for label, v, _ in comparison_rows(_results(6, locked=True))}
    assert rows[PRIMARY_ROW] == "Emergency admissions, 6 months (locked)"
    assert rows[RR_ROW] == "0.60 (0.50 to 0.70) (6 months, primary)"
    assert rows[NAIVE_ROW] == "0.50 (0.40 to 0.60) (6 months, exploratory)"
    rows = {label: v for label, v, _ in comparison_rows(_results(12, locked=False))}
    assert rows[PRIMARY_ROW] == "Emergency admissions, 12 months (plan not locked)"
    assert rows[RR_ROW] == "0.80 (0.70 to 0.90) (12 months, primary)"


def test_programmes_with_different_windows_share_one_row_per_metric() -> None:
    table = comparison_table({"a": _results(6, locked=True), "b": _results(12, locked=False)})
    by_label = {r["label"]: r["values"] for r in table}
    assert by_label[RR_ROW] == [
        "0.60 (0.50 to 0.70) (6 months, primary)",
        "0.80 (0.70 to 0.90) (12 months, primary)",
    ]
    assert not any("6 months" in r["label"] or "12 months" in r["label"] for r in table[:-3])


def test_a_results_json_without_a_plan_uses_the_default_twelve_months() -> None:
    old = _results(12, locked=False)
    old.pop("plan")
    for e in old["utilisation"]:
        e.pop("role")
    rows = {label: v for label, v, _ in comparison_rows(old)}
    assert rows[PRIMARY_ROW] == "Emergency admissions, 12 months (plan not locked)"
    assert rows[RR_ROW] == "0.80 (0.70 to 0.90) (12 months)"


def test_a_setting_without_an_estimate_at_the_window_shows_a_dash_and_the_window() -> None:
    rows = {label: v for label, v, _ in comparison_rows(_results(12, locked=False))}
    assert COMPARED_SETTINGS[1] == "gp_appointment"
    assert rows["GP appointments, primary window: rate ratio (95% CI)"] == "– (12 months)"
