"""What a report of few participants shows (evalkit.reporting.small), and the HTML it keeps."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest

from evalkit.reporting.disclosure import DEFAULT_RULE, DEPENDENTS, control_entry
from evalkit.reporting.pipeline import NOT_SHOWN_CSS, shown_sections
from evalkit.reporting.small import (
    FULL,
    MIN_FOR_ESTIMATES,
    NONE,
    REACH_AND_PATHWAY,
    TOO_FEW_PAIRED,
    enough_matched,
    scope_for,
    section_of,
    small_parts,
    without_small_estimates,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "results.schema.json").read_text()
)


# expected, edge and invalid sizes
@pytest.mark.parametrize(
    ("n", "scope"),
    [
        (0, NONE),
        (1, REACH_AND_PATHWAY),
        (7, REACH_AND_PATHWAY),
        (8, REACH_AND_PATHWAY),
        (MIN_FOR_ESTIMATES - 1, REACH_AND_PATHWAY),
        (MIN_FOR_ESTIMATES, FULL),
        (500, FULL),
    ],
)
def test_scope_for_size_gives_what_the_report_shows(n: int, scope: str) -> None:
    assert scope_for(n) == scope


def test_scope_for_negative_count_raises() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        scope_for(-1)


def test_min_for_estimates_is_acro_ten() -> None:
    assert MIN_FOR_ESTIMATES == 10


@pytest.mark.parametrize(
    ("matched", "controls", "enough"),
    [(10, 10.0, True), (9, 100.0, False), (40, 9.5, False), (10, 30.0, True)],
)
def test_enough_matched_needs_ten_of_each(matched: int, controls: float, enough: bool) -> None:
    assert enough_matched(matched, controls) is enough


@pytest.mark.parametrize(
    ("name", "section"),
    [
        ("reach", "reach"),
        ("pathway_ethnicity_group", "pathway"),
        ("referrals_by_year_source", "referral_trends"),
        ("waiting_times", "referral_trends"),
        ("utilisation", "utilisation"),
        ("compare_emergency_admission", "utilisation"),
        ("event_study_gp_appointment", "event_studies"),
        ("honest_did", "sensitivity"),
        ("love_plot", "matched_cohort"),
        ("censoring_weights", "matched_cohort"),
        ("wellbeing_change", "wellbeing"),
        ("cost_by_setting", "economics"),
        ("no_such_table", None),
    ],
)
def test_section_of_names_the_section_that_makes_it(name: str, section: str | None) -> None:
    assert section_of(name) == section


def test_wellbeing_under_ten_paired_keeps_counts_and_loses_estimates() -> None:
    """9 pairs are too few people, 10 too few residual degrees of freedom (9); 11 are enough."""
    entries = [
        {"instrument": "a", "n_paired": 9, "n_baseline": 20, "mean_change": 1.2, "ci_low": 0.1},
        {"instrument": "b", "n_paired": 11, "n_baseline": 20, "mean_change": 1.0, "ci_low": 0.2},
        {"instrument": "c", "n_paired": 10, "n_baseline": 20, "mean_change": 1.1, "ci_low": 0.3},
    ]
    small, enough, ten = without_small_estimates(
        entries, "n_paired", DEPENDENTS["n_paired"], TOO_FEW_PAIRED
    )
    assert ten["mean_change"] is None and ten["note"] == TOO_FEW_PAIRED
    assert small["mean_change"] is None and small["ci_low"] is None
    assert small["n_paired"] == 9 and small["n_baseline"] == 20 and small["note"] == TOO_FEW_PAIRED
    assert enough == entries[1]
    published = control_entry(small, DEFAULT_RULE)  # 9 is published, rounded to 10
    assert published["n_paired"] == 10 and published["mean_change"] is None


@pytest.mark.parametrize("scope", [NONE, REACH_AND_PATHWAY, FULL])
def test_small_parts_are_valid_against_the_schema(scope: str) -> None:
    extra = small_parts(
        scope,  # type: ignore[arg-type]
        True,
        None if scope == REACH_AND_PATHWAY else 0,
        title="A programme",
        setting="emergency_admission",
        window_months=12,
        instrument="swemwbs",
    )
    schema = SCHEMA["properties"]
    for key, part in extra.parts.items():
        sub = {**schema[key], "$defs": SCHEMA["$defs"]}
        assert jsonschema.Draft202012Validator(sub).is_valid(part), key
    plan = {**schema["plan"], "$defs": SCHEMA["$defs"]}
    multiplicity = plan["properties"]["multiplicity"]
    assert jsonschema.Draft202012Validator(multiplicity).is_valid(extra.multiplicity)
    assert extra.methods["small_programme"]["scope"] == scope
    assert list(extra.tables["matching"].columns) == ["n_participants", "n_matched", "n_controls"]


def test_small_parts_of_a_full_report_add_nothing() -> None:
    extra = small_parts(
        FULL, False, 100, title="t", setting="gp_appointment", window_months=6, instrument=None
    )
    assert not extra.parts and not extra.methods and not extra.tables


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "source": text}


def _code(html: str | None) -> dict:
    outputs = [] if html is None else [{"data": {"text/html": html}}]
    return {"cell_type": "code", "outputs": outputs}


def test_shown_sections_drops_sections_with_only_not_shown_lines() -> None:
    notice = f'<p class="{NOT_SHOWN_CSS}">Not shown</p>'
    title, summary = _code("<h1>t</h1>"), _code("<h2>Summary</h2>")
    reach = [_md("## Reach and pathway"), _code(None), _code("<table></table>")]
    use = [_md("## Healthcare use"), _code(None), _code(notice), _md("### Month by month")]
    appendix = [_md("## Methods and data appendix"), _code("<h3>Data</h3>")]
    cells = [title, summary, *reach, *use, *appendix]
    assert shown_sections(cells) == [title, summary, *reach, *appendix]
    no_narrative = [title, summary, reach[1], reach[2], appendix[1]]
    assert shown_sections(cells, narrative=False) == no_narrative


def test_shown_sections_keeps_a_figure_only_section() -> None:
    cells = [_md("## Wellbeing"), {"cell_type": "code", "outputs": [{"data": {"image/png": "x"}}]}]
    assert shown_sections(cells) == cells


def test_pretrend_months_after_short_history_starts_at_first_observed_month() -> None:
    """Bug: 12 participants all referred in the data's first two years had no month -24, and
    the event study raised "pretrend_periods: -24 is not a value of 'event_month'"."""
    from evalkit.analysis.event_study import pretrend_months

    panel = pd.DataFrame(
        {
            "event_month": [-24, -21, -24, -21, -13, -13],
            "exposure": [0.0, 1.0, 0.0, 1.0, 1.0, 1.0],
            "referred": [1, 1, 0, 0, 1, 0],
        }
    )
    mc = SimpleNamespace(
        panel=panel,
        spec={"covariates": ["prior_utilisation_12m"]},
        cohort=SimpleNamespace(covariate_columns=lambda cov: ["prior12_gp_appointment"]),
    )
    assert pretrend_months(mc) == (-21, -13)  # type: ignore[arg-type]


def test_naive_figure_of_no_events_is_not_estimable_with_a_note() -> None:
    """Bug: a dozen children with no planned admission stopped the report (statsmodels: "The
    first guess on the deviance function returned a nan")."""
    from evalkit.analysis.utilisation_result import no_events_naive

    rows = pd.DataFrame(
        {"unit": [1, 1, 2, 2], "post": [0, 1, 0, 1], "exposure": [1.0, 1.0, 1.0, 0.0]}
        | {"elective_admission": [0, 0, 0, 0]}
    )
    res = no_events_naive(rows, "elective_admission", 6)
    assert res is not None and res.n_units == 2 and res.rate_before == 0.0
    assert res.tidy()["estimate"].isna().all() and "not estimable" in res.notes[0]
    with_event = rows.assign(elective_admission=[0, 1, 0, 0])
    assert no_events_naive(with_event, "elective_admission", 6) is None


def test_sensitivity_row_of_a_failed_fit_says_not_estimable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bug: the ratio 1:1 re-match of 12 participants had a singular censoring model
    (LinAlgError) and stopped the report; the battery row now says so."""
    from evalkit.analysis import utilisation as u

    def singular(*args: object, **kwargs: object) -> None:
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(u, "utilisation", singular)
    mc: Any = object()
    row = u._attempted_row("per-protocol (completers)", None, mc, "gp_appointment", 6)
    assert row["note"] == "not estimable: Singular matrix" and row["n"] == 0
    assert np.isnan(row["estimate"])


def test_event_study_that_does_not_converge_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.analysis import event_study as es

    def fails(message: str) -> Any:
        def run(*args: object, **kwargs: object) -> None:
            raise ValueError(message)

        return run

    monkeypatch.setattr(es, "event_study", fails("Demeaning failed after 10000 iterations."))
    assert es.event_study_or_none(object(), "gp_appointment") is None  # type: ignore[arg-type]
    monkeypatch.setattr(es, "event_study", fails("after dropping ... no treated units are left"))
    assert es.event_study_or_none(object(), "gp_appointment") is None  # type: ignore[arg-type]
    monkeypatch.setattr(es, "event_study", fails("a real problem"))
    with pytest.raises(ValueError, match="a real problem"):
        es.event_study_or_none(object(), "gp_appointment")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "message", ["post_rate must be positive, got 0.0", "x=4.0 is NaN; solver cannot continue."]
)
def test_mde_of_a_setting_without_events_is_left_out(
    monkeypatch: pytest.MonkeyPatch, message: str
) -> None:
    """Bug: a setting with no events (cyp, 16 participants) or too few for the power curve
    (chronic_pain, 10) stopped the report; its entries are now published without an MDE."""
    from evalkit.analysis import power

    def mde(mc: object, setting: str, w: int, **kwargs: object) -> str:
        if setting == "ae_attendance":
            raise ValueError(message)
        return f"{setting} {w}"

    monkeypatch.setattr(power, "mde_utilisation", mde)
    outcomes = SimpleNamespace(settings=["gp_appointment", "ae_attendance"], windows_months=[6])
    mc: Any = SimpleNamespace(cohort=SimpleNamespace(programme=SimpleNamespace(outcomes=outcomes)))
    out = power.mde_utilisation_all(mc)
    assert out == {("gp_appointment", 6): "gp_appointment 6", ("total_cost", 6): "total_cost 6"}

    def other(*args: object, **kwargs: object) -> None:
        raise ValueError("something else")  # any other error is a real problem

    monkeypatch.setattr(power, "mde_utilisation", other)
    with pytest.raises(ValueError, match="something else"):
        power.mde_utilisation_all(mc)
