"""The target-trial design in the report: estimand text, censoring and short-window tables."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from evalkit.reporting.checker import PEOPLE_PHRASE
from evalkit.reporting.disclosure import DisclosureRule
from evalkit.reporting.html import render
from evalkit.reporting.tables import view_table
from evalkit.reporting.target_trial import (
    ESTIMAND_TEXT,
    MIN_CENSORED_FOR_MODEL,
    censored_sentence,
    censoring_model_table,
    censoring_report,
    censoring_summary,
    censoring_weights_table,
    design_context,
    estimand_context,
    estimand_sentence,
    panel_window_flags,
    published_notes,
    published_share,
    window_coverage,
    window_coverage_table,
    with_published_share,
)
from evalkit.stats.censoring import ipcw

RULE = DisclosureRule()


# ---------------------------------------------------------------------- estimand
def test_estimand_sentence_target_trial_names_censoring_and_weights() -> None:
    text = estimand_sentence("target_trial")
    assert "not referred on that date" in text
    assert "followed only until their own referral" in text and "weights" in text
    assert estimand_sentence(None) == text


def test_estimand_sentence_legacy_says_later_referral_is_not_censored() -> None:
    assert "which may include a later referral" in estimand_sentence("legacy")
    assert set(ESTIMAND_TEXT) == {"target_trial", "legacy"}


def test_estimand_sentence_unknown_design_raises() -> None:
    with pytest.raises(ValueError, match="unknown design"):
        estimand_sentence("pooled")


# ---------------------------------------------------------------------- shares
@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [
        (47, 1003, 45 / 1005),  # both rounded first: 45 / 1005, not 47 / 1003
        (0, 1003, 0.0),  # a true zero stays 0
        (3, 1003, None),  # numerator suppressed
        (7, 7, None),  # edge: both suppressed
        (8, 12, 1.0),  # 10 / 10: rounding can make a share 1
        (10, 0, None),  # no denominator
        (None, 100, None),
    ],
)
def test_published_share_case_table(num, den, expected) -> None:
    got = published_share(num, den, RULE)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-6)


def test_published_share_cannot_undo_rounding() -> None:
    # Every numerator that rounds to the same published count gives the same share.
    shares = {published_share(n, 1003, RULE) for n in (43, 44, 45, 46, 47)}
    assert len(shares) == 1


# ---------------------------------------------------------------------- censoring
def test_censoring_summary_controls_counts_and_derives_share_from_them() -> None:
    row = censoring_summary(1003, 47, (0.8, 1.6), n_at_risk=998, rule=RULE)
    assert row["n_controls"] == 1005 and row["n_censored"] == 45 and row["n_at_risk"] == 1000
    assert row["share_censored"] == pytest.approx(45 / 1005, rel=1e-6)
    assert (row["truncated_below"], row["truncated_above"]) == (0.8, 1.6)
    assert "suppressed" not in row


def test_censoring_summary_small_censored_count_suppressed_with_its_share() -> None:
    row = censoring_summary(400, 5, (0.9, 1.2), rule=RULE)
    assert row["n_censored"] is None and row["share_censored"] is None
    assert row["truncated_below"] is None and row["truncated_above"] is None
    assert row["suppressed"] == ["n_censored", "share_censored"]


def test_censoring_summary_no_censoring_gives_zero_share() -> None:
    row = censoring_summary(400, 0, None, rule=RULE)
    assert row["n_censored"] == 0 and row["share_censored"] == 0.0
    assert row["truncated_below"] is None


def _distribution() -> pd.DataFrame:
    stats = ("min", "p1", "p25", "median", "p75", "p99", "max", "mean")
    return pd.DataFrame(
        [
            {"weights": "before truncation", **dict.fromkeys(stats, 1.0), "max": 9.0},
            {"weights": "used", **dict.fromkeys(stats, 1.0), "max": 1.5},
        ]
    )


def test_censoring_weights_table_published_from_enough_censored_controls() -> None:
    table = censoring_weights_table(_distribution(), MIN_CENSORED_FOR_MODEL)
    assert table["weights"].tolist() == ["before truncation", "used"]
    assert table["max"].tolist() == [9.0, 1.5]


def test_censoring_weights_table_too_few_censored_has_no_rows_same_columns() -> None:
    table = censoring_weights_table(_distribution(), MIN_CENSORED_FOR_MODEL - 1)
    assert table.empty and list(table.columns) == list(_distribution().columns)


def _coefficients() -> pd.DataFrame:
    terms = ["time[0]", "time[1]", "age", "prior3_total_log"]
    return pd.DataFrame(
        {
            "model": ["denominator"] * 4,
            "term": terms,
            "estimate": [-5.0, -5.1, 0.01, 0.4],
            "std_error": [0.2, 0.2, 0.005, 0.1],
            "ci_low": [-5.4, -5.5, 0.0, 0.2],
            "ci_high": [-4.6, -4.7, 0.02, 0.6],
            "p_value": [0.0, 0.0, 0.04, 0.0001],
        }
    )


def test_censoring_model_table_drops_month_indicators_keeps_covariates() -> None:
    table = censoring_model_table(_coefficients(), 50)
    assert table["term"].tolist() == ["age", "prior3_total_log"]


def test_censoring_model_table_drops_spline_of_time_and_intercept() -> None:
    coef = _coefficients()
    coef["term"] = ["intercept", "time", "time_rcs1", "age"]
    assert censoring_model_table(coef, 50)["term"].tolist() == ["age"]


def test_censoring_model_table_blanks_a_separated_term_with_a_note() -> None:
    coef = _coefficients()
    coef.loc[3, ["estimate", "std_error", "ci_low", "ci_high"]] = [-18.9, 38044.3, -7e4, 7e4]
    table = censoring_model_table(coef, 50).set_index("term")
    assert table.loc["prior3_total_log", ["estimate", "ci_low", "p_value"]].isna().all()
    assert table.loc["prior3_total_log", "note"].startswith("not estimable")
    assert table.loc["age", "estimate"] == 0.01 and table.loc["age", "note"] == ""


def test_censoring_model_table_too_few_censored_has_no_rows() -> None:
    assert censoring_model_table(_coefficients(), 3).empty


# ---------------------------------------------------------------------- short windows
def _panel() -> pd.DataFrame:
    """Three units over months -24, -23, 10, 11: full; short history; short follow-up."""
    rows = []
    exposure = {
        1: {-24: 1.0, -23: 1.0, 10: 1.0, 11: 1.0},  # participant, complete
        2: {-24: 0.4, -23: 1.0, 10: 1.0, 11: 1.0},  # control registered during month -24
        3: {-24: 1.0, -23: 1.0, 10: 1.0, 11: 0.0},  # control whose data end in month 10
    }
    for unit, months in exposure.items():
        for m, e in months.items():
            rows.append({"unit": unit, "referred": int(unit == 1), "event_month": m, "exposure": e})
    return pd.DataFrame(rows)


def test_panel_window_flags_read_the_first_and_last_month() -> None:
    flags = panel_window_flags(_panel()).set_index("unit")
    assert flags["full_history_24m"].tolist() == [True, False, True]
    assert flags["full_followup_12m"].tolist() == [True, True, False]
    assert flags["referred"].tolist() == [1, 0, 0]


def test_panel_window_flags_missing_month_row_is_not_observed() -> None:
    p = _panel()
    flags = panel_window_flags(p[~((p["unit"] == 1) & (p["event_month"] == 11))])
    assert not flags.set_index("unit").at[1, "full_followup_12m"]


def test_window_coverage_participants_from_cohort_controls_from_panel() -> None:
    participants = pd.DataFrame(
        {
            "window": ["history_24m", "followup_12m", "both"],
            "complete": [90, 80, 75],
            "incomplete": [10, 20, 25],
        }
    )
    cov = window_coverage(participants, _panel())
    ctrl = cov[cov["group"] == "matched controls"].set_index("window")
    assert ctrl.loc["history_24m"].tolist() == ["matched controls", 1, 1]
    assert ctrl.loc["followup_12m", "incomplete"] == 1 and ctrl.loc["both", "incomplete"] == 2
    assert cov[cov["group"] == "participants"]["complete"].tolist() == [90, 80, 75]


def test_window_coverage_table_controls_counts_and_shares_from_published_counts() -> None:
    coverage = pd.DataFrame(
        {
            "group": ["participants", "participants", "matched controls"],
            "window": ["history_24m", "followup_12m", "history_24m"],
            "complete": [156, 203, 477],
            "incomplete": [47, 0, 3],
        }
    )
    table = window_coverage_table(coverage, RULE)
    assert table["n_complete"].tolist() == [155, 205, 475]
    assert table.at[0, "n_incomplete"] == 45 and table.at[1, "n_incomplete"] == 0
    assert pd.isna(table.at[2, "n_incomplete"])  # 3 people: suppressed
    # Shares over the published total of the row (203 -> 205 people), never the raw counts.
    assert table.at[0, "share_incomplete"] == pytest.approx(45 / 205, rel=1e-6)
    assert table.at[1, "share_incomplete"] == 0.0
    assert table.at[2, "share_incomplete"] is None
    assert table.at[2, "suppressed"] == ["n_incomplete", "share_incomplete"]
    assert table.at[0, "suppressed"] is None
    assert table["group"].tolist() == ["participants", "participants", "matched controls"]


# ---------------------------------------------------------------------- censoring part
def _ipcw_result(n_units: int = 60, seed: int = 3):
    """A small censoring model: units over months 0..3, censored at random by a covariate."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_units):
        x = float(rng.normal())
        for t in range(4):
            c = int(rng.random() < 0.08 + 0.05 * (x > 0))
            rows.append({"unit": u, "t": t, "x": x, "c": c})
            if c:
                break
    return ipcw(pd.DataFrame(rows), "unit", "t", "c", ["x"])


def _cohort(res, n_controls: int, n_censored: int, design: str = "target_trial"):
    return SimpleNamespace(
        design=design,
        estimand="referral now vs not now, controls censored at own referral (IPCW)",
        censoring=res,
        censor_counts={"n_controls": n_controls, "n_censored": n_censored},
        n_controls=n_controls,
    )


def test_censoring_report_controls_counts_and_keeps_model_covariates() -> None:
    res = _ipcw_result()
    part, tables = censoring_report(_cohort(res, 303, res.n_censored_units), RULE)
    assert part["design"] == "target_trial" and part["estimand"].startswith("referral now")
    assert part["estimand_text"] == estimand_sentence("target_trial")
    assert part["n_controls"] == 305 and part["n_censored"] == RULE.count(res.n_censored_units)
    assert part["share_censored"] == published_share(res.n_censored_units, 303, RULE)
    assert part["n_at_risk"] == RULE.count(res.n_units)
    assert part["truncated_below"] == pytest.approx(res.truncation[0])
    assert [r["weights"] for r in part["weights"]] == ["before truncation", "used"]
    assert {r["term"] for r in part["model"]} == {"x"}  # month indicators left out
    assert part["model"][0]["note"] == ""
    assert "unit" not in part["model_spec"] and part["model_spec"]["stabilised"] is True
    assert set(tables) == {"censoring", "censoring_weights", "censoring_model"}
    assert tables["censoring"].iloc[0]["n_controls"] == 305


def test_censoring_report_few_censored_withholds_weights_and_model() -> None:
    res = _ipcw_result()
    part, tables = censoring_report(_cohort(res, 300, 6), RULE)
    assert part["n_censored"] is None and part["share_censored"] is None
    assert part["weights"] == [] and part["model"] == []
    assert tables["censoring_weights"].empty and tables["censoring_model"].empty
    assert part["suppressed"] == ["n_censored", "share_censored"]


def test_censoring_report_legacy_design_has_no_model() -> None:
    part, tables = censoring_report(_cohort(None, 300, 0, design="legacy"), RULE)
    assert part["n_censored"] == 0 and part["model_spec"] == {} and part["weights"] == []
    assert tables["censoring_model"].empty and "term" in tables["censoring_model"]
    assert part["estimand_text"] == estimand_sentence("legacy")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"method": "matched_did", "controls_censored_share": 0.0468594}, 0.0447761),
        ({"method": "matched_did"}, 0.0447761),  # added where the analysis had none
        ({"method": "naive_prepost", "controls_censored_share": 0.0468594}, None),
    ],
)
def test_with_published_share_replaces_the_raw_share(entry, expected) -> None:
    assert with_published_share(entry, 0.0447761)["controls_censored_share"] == expected


def test_with_published_share_leaves_naive_entry_without_the_key_alone() -> None:
    assert with_published_share({"method": "naive_prepost"}, 0.1) == {"method": "naive_prepost"}


# ---------------------------------------------------------------------- words and HTML
def test_censored_sentence_cases() -> None:
    assert censored_sentence("target_trial", 0.0447761).startswith("About 4.5% of the matched")
    assert censored_sentence("target_trial", 0.25).startswith("About 25% of")
    assert censored_sentence("target_trial", 0.0).startswith("None of the matched")
    assert "too few to show" in censored_sentence("target_trial", None)
    assert censored_sentence("legacy", 0.3) == ""


def test_estimand_paragraph_renders_the_estimand_and_the_share() -> None:
    res = _ipcw_result()
    part, _ = censoring_report(_cohort(res, 303, 47), RULE)
    html = render("estimand.html.j2", **estimand_context({"censoring": part})).body
    assert "What is compared." in html and "not referred on that date" in html
    assert "About 15% of the matched comparison people" in html  # 45 / 305, rounded counts
    assert not PEOPLE_PHRASE.search(html)  # no count of people in the text


def test_design_appendix_says_what_the_analysis_used() -> None:
    res = _ipcw_result()
    part, _ = censoring_report(_cohort(res, 303, 47), RULE)
    results = {
        "censoring": part,
        "parameters": {
            "matching": {
                "exact": ["sex", "index_week"],
                "ratio": 3,
                "caliper": 0.2,
                "available_until": "own_referral_date",
            }
        },
    }
    html = render("appendix_design.html.j2", **design_context(results)).body
    assert "exact on sex and index week" in html
    assert "controls to each participant up to 3:1" in html
    assert "serves only participants referred before its own referral" in html
    assert not PEOPLE_PHRASE.search(html)  # the checker would flag "3 controls"
    assert "pooled logistic hazard" in html
    assert "covariates: x; time: one indicator per month" in html
    assert "truncated at the 1% and 99% quantiles" in html
    assert "stabilised by a model of the month alone" in html
    legacy = {"censoring": censoring_report(_cohort(None, 300, 0, "legacy"), RULE)[0]}
    assert (
        "not censored in this design"
        in render("appendix_design.html.j2", **design_context(legacy)).body
    )


@pytest.mark.parametrize("name", ["censoring", "censoring_weights", "censoring_model"])
def test_censoring_views_name_matched_cohort_and_mark_counts(name: str) -> None:
    res = _ipcw_result()
    _, tables = censoring_report(_cohort(res, 303, 6), RULE)
    html = view_table(name, tables).body
    assert 'data-analysis="evalkit.analysis.utilisation.matched_cohort"' in html
    assert f'data-table="{name}"' in html
    if name == "censoring":  # the suppressed count shows as *
        assert '<td class="ek-count num">*</td>' in html
        assert '<td class="ek-count num">305</td>' in html


def test_window_coverage_view_names_its_function_and_stars_suppressed() -> None:
    coverage = pd.DataFrame(
        {
            "group": ["participants", "matched controls"],
            "window": ["history_24m", "history_24m"],
            "complete": [156, 477],
            "incomplete": [47, 3],
        }
    )
    html = view_table("window_coverage", {"window_coverage": window_coverage_table(coverage)}).body
    assert 'data-analysis="evalkit.reporting.target_trial.window_coverage"' in html
    assert html.count('<td class="ek-count num">*</td>') == 1
    assert '<td class="ek-count num">45</td>' in html


def test_published_notes_quote_the_published_share_not_the_raw_one() -> None:
    rows = [
        {"analysis": "main analysis", "note": ""},
        {
            "analysis": "controls not censored (against usual care, which may include later "
            "referral)",
            "note": "0.6% of matched controls were referred during follow-up; here they are "
            "followed on, with matching weights only",
        },
    ]
    out = published_notes(rows, None)  # 3 of 480: suppressed
    assert out[0] == rows[0]
    assert out[1]["note"].startswith("very few (too few to show) of matched controls were")
    assert "0.6%" not in out[1]["note"]
    assert published_notes(rows, 0.0447761)[1]["note"].startswith("4.5% of matched controls")
    assert rows[1]["note"].startswith("0.6%")  # the input is not changed


@pytest.mark.parametrize(
    ("target_trial", "phrase"),
    [
        (True, "eligible but not referred on the same date"),
        (False, "who were not referred (matched on"),
    ],
)
def test_summary_first_screen_names_the_design(target_trial: bool, phrase: str) -> None:
    html = render(
        "summary.html.j2",
        plan_notice="",
        programme=SimpleNamespace(description="A programme."),
        matching={"n_participants": 100, "n_matched": 95, "n_controls": 285},
        reach_sentence="",
        headlines=[],
        regression_to_mean="",
        powered_for="",
        honest_sentence="",
        target_trial=target_trial,
    ).body
    assert phrase in html
    assert ("followed only until their own referral" in html) is target_trial


def test_comparison_page_row_shows_the_published_share_or_why_not() -> None:
    from evalkit.reporting.pipeline import comparison_rows

    results = {"censoring": {"design": "target_trial", "share_censored": 0.213333}}
    rows = {label: value for label, value, _ in comparison_rows(results)}
    assert rows["Matched controls referred later (followed until then)"] == "21%"
    legacy = {"censoring": {"design": "legacy", "share_censored": 0.0}}
    rows = {label: value for label, value, _ in comparison_rows(legacy)}
    assert rows["Matched controls referred later (followed until then)"].startswith("not censored")


def test_every_new_view_shows_all_its_columns() -> None:
    from evalkit.reporting.tables import TABLE_VIEWS

    res = _ipcw_result()
    _, tables = censoring_report(_cohort(res, 303, 47), RULE)
    coverage = pd.DataFrame(
        {"group": ["participants"], "window": ["both"], "complete": [80], "incomplete": [20]}
    )
    tables["window_coverage"] = window_coverage_table(coverage, RULE)
    for name in ("censoring", "censoring_weights", "censoring_model", "window_coverage"):
        spec = TABLE_VIEWS[name]
        missing = set(spec["columns"]) - set(tables[spec["source"]].columns)
        assert not missing, (name, missing)
