"""Event studies of a matched cohort: the pre-trend test covers the months not matched on."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from evalkit.analysis.event_study import (
    PretrendResult,
    event_study,
    pretrend_months,
    pretrend_test,
)
from evalkit.analysis.utilisation import event_study as event_study_from_utilisation
from evalkit.cohort import PRIOR_WINDOWS


@pytest.fixture(scope="module")
def mc(demo_matched):
    return demo_matched["mindsong"]


def test_pretrend_months_end_before_the_longest_prior_use_window_matched_on(mc) -> None:
    first, last = pretrend_months(mc)
    assert first == int(mc.panel["event_month"].min())
    assert last == -max(PRIOR_WINDOWS) - 1  # the default covariates match on prior12_*
    # Matched on no prior-use count: every month before the reference month can test.
    no_prior = replace(mc, spec={**mc.spec, "covariates": ["conditions"]})
    assert pretrend_months(no_prior) == (first, -2)


def test_event_study_tests_only_the_months_not_matched_on(mc) -> None:
    first, last = pretrend_months(mc)
    es = event_study(mc, "gp_appointment")
    assert es.pretrend_periods == tuple(range(first, last + 1))
    assert es.pretrend_df == last - first + 1
    assert es.spec["reference_period"] == -1
    assert event_study_from_utilisation is event_study  # still importable from utilisation


def test_pretrend_test_reports_poisson_and_linear_p_values(mc) -> None:
    res = pretrend_test(mc, "emergency_admission")
    assert isinstance(res, PretrendResult)
    assert res.poisson is not None and res.poisson.spec["model"] == "poisson"
    assert res.linear.spec["model"] == "linear"
    first, last = pretrend_months(mc)
    entry = json.loads(json.dumps(res.entry()))
    assert entry == {
        "first_month": first,
        "last_month": last,
        "poisson_p": pytest.approx(res.poisson.pretrend_p_value),
        "linear_p": pytest.approx(res.linear.pretrend_p_value),
    }
    assert 0 <= entry["poisson_p"] <= 1 and 0 <= entry["linear_p"] <= 1
    assert list(res.tidy()["model"]) == ["poisson", "linear"]
    assert "not matched on" in res.summary()
    # A Poisson fit already made (the report's figure) is reused, not refitted.
    again = pretrend_test(mc, "emergency_admission", poisson=res.poisson)
    assert again.poisson is res.poisson and again.entry() == res.entry()


def test_pretrend_test_on_costs_has_the_linear_model_only(mc) -> None:
    res = pretrend_test(mc, "total_cost")
    assert res.poisson is None
    entry = res.entry()
    assert entry["poisson_p"] is None and entry["linear_p"] is not None


def test_pretrend_test_poisson_not_estimable_when_a_tested_month_has_no_participant_events(
    mc,
) -> None:
    first, _ = pretrend_months(mc)
    panel = mc.panel.copy()
    empty = (panel["referred"] == 1) & (panel["event_month"] == first)
    panel.loc[empty, "emergency_admission"] = 0
    res = pretrend_test(replace(mc, panel=panel), "emergency_admission")
    assert res.entry()["poisson_p"] is None and res.entry()["linear_p"] is not None
    assert f"[{first}]" in res.poisson_not_testable and res.notes[0] == res.poisson_not_testable
    assert list(res.tidy()["model"]) == ["linear"]
