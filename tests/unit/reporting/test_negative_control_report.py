"""The report's negative-control section and the naive figure on the same people.

Hand-built results.json entries (no county): the negative-control entries are controlled like
the utilisation entries and described from the controlled values only; the section takes the
rate ratio where it was estimated and the per-participant difference otherwise; a setting not
in the data gets one line saying so; the regression-to-the-mean sentence contrasts the matched
DiD with the naive figure on the matched participants and shows the all-participants figure
beside it with the number not matched.
"""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from evalkit.reporting import figures as figs
from evalkit.reporting import narrative as nar
from evalkit.reporting.build import negative_control_table, published_negative_controls
from evalkit.reporting.disclosure import DEFAULT_RULE
from evalkit.reporting.findings import negative_control_findings, regression_to_mean
from evalkit.reporting.tables import view_table
from evalkit.stats import plots

matplotlib.use("Agg")

NC = "elective_admission"


def _nc(window: int, scale: str, estimate: float | None, lo=None, hi=None, **kw) -> dict:
    return {
        "setting": NC,
        "window_months": window,
        "method": "matched_did",
        "scale": scale,
        "estimate": estimate,
        "ci_low": lo,
        "ci_high": hi,
        "std_error": 0.1,
        "p_value": 0.5,
        "n_participants": 212,
        "n_controls": 633,
        "estimand": "referral now vs not now",
        "controls_censored_share": 0.0468594,
        "role": "negative_control",
        "expected": 1.0 if scale == "rate_ratio" else 0.0,
        "in_data": True,
        **kw,
    }


class _Result:
    """Stands in for NegativeControlResult: only ``entries()`` is read."""

    def __init__(self, entries: list[dict]) -> None:
        self._entries = entries

    def entries(self) -> list[dict]:
        return self._entries


def test_published_negative_controls_controlled_rounded_with_sentence() -> None:
    raw = [_nc(12, "rate_ratio", 1.0412345, 0.851, 1.27), _nc(12, "difference_per_person", 0.01)]
    out = published_negative_controls(_Result(raw), DEFAULT_RULE, 0.05)
    assert [e["n_participants"] for e in out] == [210, 210]  # rounded to the nearest 5
    assert [e["n_controls"] for e in out] == [635, 635]
    assert all(e["controls_censored_share"] == 0.05 for e in out)  # the published share
    assert all(e["role"] == "negative_control" for e in out)
    assert out[0]["estimate"] == 1.04123  # 6 significant digits, as results.json
    assert out[0]["sentence"].startswith("Planned (elective) admissions at 12 months: rate ratio")
    assert "compatible with no change" in out[0]["sentence"]


def test_published_negative_controls_small_count_suppresses_estimate_and_sentence() -> None:
    raw = [_nc(6, "rate_ratio", 0.5, 0.3, 0.9, n_participants=6)]
    (e,) = published_negative_controls(_Result(raw), DEFAULT_RULE, 0.05)
    assert e["n_participants"] is None
    assert e["estimate"] is None and e["ci_low"] is None and e["p_value"] is None
    assert {"n_participants", "estimate"} <= set(e["suppressed"])
    assert e["sentence"].endswith("not reported (too few participants to show safely).")
    assert "0.5" not in e["sentence"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (_nc(12, "rate_ratio", 1.04, 0.85, 1.27), "rate ratio 1.04 (95% CI 0.85 to 1.27), compat"),
        (_nc(12, "rate_ratio", 0.8, 0.7, 0.92), "away from 1: a sign of residual confounding"),
        (_nc(12, "rate_ratio", 1.3, 1.1, 1.5), "away from 1: a sign of residual confounding"),
        (_nc(12, "rate_ratio", 0.9, 0.9, 1.2), "compatible with no change"),  # edge: CI at 1
        (_nc(6, "rate_ratio", None, note="x"), "a rate ratio could not be estimated"),
        (_nc(6, "difference_per_person", -0.05, -0.08, -0.02), "away from no change"),
        (_nc(6, "difference_per_person", 0.02, -0.01, 0.05), "compatible with no change"),
        (_nc(6, "rate_ratio", None, in_data=False), "not in the data"),
    ],
)
def test_negative_control_sentence_case_table(entry: dict, expected: str) -> None:
    assert expected in nar.negative_control_sentence(entry)


def test_negative_control_findings_rate_ratio_where_estimated_else_difference() -> None:
    entries = [
        _nc(6, "rate_ratio", None, note="not estimable"),
        _nc(6, "difference_per_person", 0.02, -0.01, 0.05),
        _nc(12, "rate_ratio", 1.1, 0.9, 1.3),
        _nc(12, "difference_per_person", 0.03, -0.02, 0.08),
    ]
    found = negative_control_findings({"negative_controls": entries})
    assert found["settings"] == [NC]
    assert len(found["lines"]) == 2
    assert "per 100 participants" in found["lines"][0]  # 6 months: the difference
    assert "rate ratio 1.10" in found["lines"][1]  # 12 months: the rate ratio
    assert "residual confounding" in found["explained"]
    assert "does not show that the emergency-admission estimate is free" in found["limits"]


def test_negative_control_findings_not_in_data_one_line_and_no_settings() -> None:
    absent = [_nc(w, s, None, in_data=False) for w in (3, 6) for s in ("rate_ratio",)]
    found = negative_control_findings({"negative_controls": absent})
    assert len(found["lines"]) == 1 and "not in the data" in found["lines"][0]
    assert negative_control_findings({})["settings"] == []


def test_negative_control_table_view_labels_for_people() -> None:
    raw = [_nc(12, "rate_ratio", 1.04, 0.85, 1.27), _nc(12, "difference_per_person", 0.01)]
    table = negative_control_table(published_negative_controls(_Result(raw), DEFAULT_RULE, None))
    html = view_table("negative_controls", {"negative_controls": table}).body
    assert "Planned (elective) admissions" in html
    assert 'data-analysis="evalkit.analysis.negative_control.negative_controls"' in html
    assert 'class="ek-count num">210<' in html


# ------------------------------------------------------------------ naive on the same people
def _util(method: str, est: float, lo: float, hi: float, population: str | None = None) -> dict:
    e = {
        "setting": "emergency_admission",
        "window_months": 12,
        "method": method,
        "scale": "rate_ratio",
        "estimate": est,
        "ci_low": lo,
        "ci_high": hi,
        "n_participants": 200,
        "n_controls": 600 if method == "matched_did" else 0,
    }
    return {**e, "population": population} if population else e


RESULTS = {
    "plan": {"primary": {"setting": "emergency_admission", "window_months": 12}},
    "matching": {"n_participants": 215, "n_matched": 200, "n_unmatched": 15},
    "utilisation": [
        _util("matched_did", 0.9, 0.68, 1.19),
        _util("naive_prepost", 0.74, 0.58, 0.95, "matched"),
        _util("naive_prepost", 0.67, 0.55, 0.83, "all"),
    ],
}


def test_regression_to_mean_contrasts_did_with_naive_on_matched_participants() -> None:
    text = regression_to_mean(RESULTS)
    assert text.startswith("Looking at the matched participants alone")
    assert "26% lower than in the year before" in text  # the matched participants' 0.74
    assert "regression to the mean" in text
    assert "about 215, about 15 of whom could not be matched" in text
    assert "33% lower than in the year before" in text  # all participants' 0.67
    assert "due to who was matched" in text and "not to regression to the mean" in text


def test_regression_to_mean_every_participant_matched_and_suppressed_count() -> None:
    all_matched = {**RESULTS, "matching": {"n_participants": 200, "n_unmatched": 0}}
    assert "Every participant was matched" in regression_to_mean(all_matched)
    few = {**RESULTS, "matching": {"n_participants": 205, "n_unmatched": None}}
    assert "a few of whom could not be matched" in regression_to_mean(few)


def test_regression_to_mean_older_results_without_population_still_read() -> None:
    old = {
        **RESULTS,
        "utilisation": [
            _util("matched_did", 0.9, 0.68, 1.19),
            _util("naive_prepost", 0.67, 0.55, 0.83),
        ],
    }
    text = regression_to_mean(old)
    assert text.startswith("Looking at participants alone") and "who was matched" not in text


def test_comparison_series_separates_naive_populations() -> None:
    t = pd.DataFrame(RESULTS["utilisation"])
    assert list(plots.comparison_series(t)) == [
        "matched_did",
        "naive_prepost:matched",
        "naive_prepost:all",
    ]
    assert list(plots.comparison_series(t.drop(columns="population"))) == [
        "matched_did",
        "naive_prepost",
        "naive_prepost",
    ]


def test_comparison_figure_draws_did_and_both_naive_figures() -> None:
    t = pd.DataFrame(RESULTS["utilisation"])
    fig = figs.comparison_figure(
        t,
        "compare_emergency_admission",
        "Emergency admissions",
        analysis=regression_to_mean,
        plot=lambda table: plots.comparison(table, label="Emergency admissions"),
    )
    assert "naive before/after, matched participants at 12 months 0.74" in fig.alt
    assert "naive before/after, all participants at 12 months 0.67" in fig.alt
    assert "matched DiD at 12 months 0.90" in fig.alt
    assert "due to who was matched" in fig.caption


def test_negative_control_entries_follow_the_results_schema() -> None:
    import json
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(__file__).parents[3] / "docs" / "results.schema.json").read_text())
    entry = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], "$ref": "#/$defs/negative_control_entry"}
    )
    raw = [
        _nc(12, "rate_ratio", 1.04, 0.85, 1.27),
        _nc(6, "rate_ratio", None, note="rate ratio not estimable: too few events at this size"),
        _nc(3, "difference_per_person", None, in_data=False, note="not in the data"),
        _nc(6, "rate_ratio", 0.5, 0.3, 0.9, n_participants=6),
    ]
    for e in published_negative_controls(_Result(raw), DEFAULT_RULE, 0.05):
        assert entry.is_valid(e), list(entry.iter_errors(e))
    assert "negative_controls" in schema["required"]
    util = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], "$ref": "#/$defs/utilisation_entry"}
    )
    naive = {**RESULTS["utilisation"][1], "estimand": "x", "role": "exploratory"}
    assert util.is_valid(naive)
    assert not util.is_valid({k: v for k, v in naive.items() if k != "population"})
