"""Rambachan-Roth bounds on the primary outcome: the analysis and what the report publishes."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from evalkit.analysis.event_study import event_study
from evalkit.analysis.honest_did import breakdown_sentence, honest_did
from evalkit.reporting.claims import OutcomePlan
from evalkit.reporting.honest import HONEST_ROW_LABEL, honest_summary, primary_sensitivity

SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "results.schema.json"


@pytest.fixture(scope="module")
def mc(demo_matched):
    return demo_matched["mindsong"]  # the session's shared cohort (tests/conftest.py)


@pytest.fixture(scope="module")
def poisson(mc):
    return event_study(mc, "emergency_admission")


def _plan(setting: str, window: int = 12) -> OutcomePlan:
    return OutcomePlan(setting, window, (), locked=False, chosen_by="default", requested={})


def test_honest_did_targets_the_event_studys_mean_log_rate_ratio(mc, poisson) -> None:
    res = honest_did(mc, "emergency_admission", 12, poisson=poisson)
    table = poisson.event_study.set_index("period")
    log_rr = np.log(table["estimate"])
    # Target: mean of months 0..11; benchmark: largest step between months -24..-13.
    assert res.bounds.estimate == pytest.approx(log_rr.loc[0:11].mean(), abs=1e-9)
    steps = log_rr.loc[-24:-13].diff().abs().dropna()
    assert res.bounds.benchmark == pytest.approx(steps.max(), abs=1e-9)
    assert res.bounds.spec["pre"] == list(range(-24, -12))
    assert res.bounds.spec["reference"] == -1
    # 12 equal weights over months 0..11 accumulated from month -1: K = (12 + ... + 1) / 12.
    assert res.bounds.k == pytest.approx(6.5, abs=1e-12)
    entry = res.entry()
    assert entry["benchmark_months"] == [-24, -13]
    assert entry["target_months"] == [0, 11]


def test_honest_did_month_without_participant_events_is_not_estimable(mc, poisson) -> None:
    panel = mc.panel.copy()
    panel.loc[(panel["referred"] == 1) & (panel["event_month"] == -20), "emergency_admission"] = 0
    with pytest.raises(ValueError, match=r"\[-20\].*not computed"):
        honest_did(replace(mc, panel=panel), "emergency_admission", 12, poisson=poisson)


def test_primary_sensitivity_publishes_a_schema_valid_section_row_and_figure(mc, poisson) -> None:
    out = primary_sensitivity(mc, _plan("emergency_admission"), {"emergency_admission": poisson})
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(out.part, schema["properties"]["honest_did"])
    assert out.part["estimable"] is True
    assert out.part["sentence"].startswith("In the month-by-month event study")
    assert out.rows[0]["analysis"] == HONEST_ROW_LABEL
    bd = out.part["breakdown_mbar"]
    assert (math.isnan(out.rows[0]["estimate"]) and bd is None) or out.rows[0]["estimate"] == bd
    assert out.figure is not None and out.figure.drawn_by.endswith("honest_bounds")


def test_primary_sensitivity_cost_outcome_is_not_estimable(mc) -> None:
    out = primary_sensitivity(mc, _plan("total_cost"))
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(out.part, schema["properties"]["honest_did"])
    assert out.part["estimable"] is False and "cost" in out.part["reason"]
    assert out.rows == [] and out.figure is None
    assert honest_summary(out.part).startswith("Rambachan-Roth bounds")


@pytest.mark.parametrize(
    ("breakdown", "expected"),
    [
        (0.0, "is not distinguishable from no change even if trends stayed parallel"),
        (0.0289, "would be overturned by a violation of parallel trends 0.029 times the largest"),
        (None, "is not overturned by any multiple"),
    ],
)
def test_breakdown_sentence_cases(breakdown: float | None, expected: str) -> None:
    entry = {"benchmark_months": [-24, -13], "window_months": 12, "breakdown_mbar": breakdown}
    sentence = breakdown_sentence(entry, "GP appointments")
    assert expected in sentence
    assert "months -24 to -13" in sentence
    assert honest_summary({"estimable": True, "sentence": sentence}) == sentence
    assert honest_summary(None) == ""


def test_results_schema_honest_did_needs_the_bounds_when_estimable_and_a_reason_when_not() -> None:
    sub = json.loads(SCHEMA.read_text())["properties"]["honest_did"]
    validator = jsonschema.Draft202012Validator(sub)
    base = {"setting": "gp_appointment", "window_months": 12}
    assert validator.is_valid({**base, "estimable": False, "reason": "no events"})
    assert not validator.is_valid({**base, "estimable": False})
    assert not validator.is_valid({**base, "estimable": True, "sentence": "s"})
