"""MDEs beside a programme's estimates and planning power, on the demo county."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.analysis.power import (
    add_mde,
    design_inputs,
    mde_utilisation,
    mde_wellbeing,
    power_plan,
)
from evalkit.analysis.utilisation import utilisation, utilisation_table
from evalkit.analysis.wellbeing import wellbeing
from evalkit.definitions.labels import setting_label
from evalkit.stats.mde import log_rr_variance


@pytest.fixture(scope="module")
def study(demo_studies):
    return demo_studies["mindsong"]


@pytest.fixture(scope="module")
def mc(demo_matched):
    return demo_matched["mindsong"]


# ------------------------------------------------------------------ design inputs by hand
def _toy_panel() -> pd.DataFrame:
    """Two matched sets; controls' counts chosen so the moments can be checked by hand."""
    rows = []
    # (unit, subclass, referred, weight, baseline total, window total)
    units = [
        (1, 1, 1, 1.0, 6, 1),
        (2, 1, 0, 1.0, 12, 6),
        (3, 1, 0, 1.0, 0, 0),
        (4, 2, 1, 1.0, 3, 3),
        (5, 2, 0, 1.0, 24, 12),
        (6, 2, 0, 1.0, 12, 0),
    ]
    for unit, sub, ref, w, y0, y1 in units:
        for em in range(-12, 3):
            post = int(em >= 0)
            total, months = (y1, 3) if post else (y0, 12)
            # Spread the total evenly over the months it covers.
            rows.append(
                {
                    "unit": unit,
                    "subclass": sub,
                    "referred": ref,
                    "weight": w,
                    "event_month": em,
                    "post": post,
                    "exposure": 1.0,
                    "y": total / months,
                }
            )
    return pd.DataFrame(rows)


def test_design_inputs_toy_panel_by_hand() -> None:
    inp = design_inputs(_toy_panel(), "y", 3)
    # Controls' baseline totals 12, 0, 24, 12 over 12 months each: rate 48 / 48 = 1.0.
    assert inp["baseline_rate"] == pytest.approx(1.0)
    # Window totals 6, 0, 12, 0 over 3 months each: 18 / 12 = 1.5.
    assert inp["post_rate"] == pytest.approx(1.5)
    # NB2 moments: mu0 = 12 each; sum((y - mu)^2 - mu) = (0 + 144 + 144 + 0) - 48 = 240;
    # sum mu^2 = 576: a0 = 240 / 576.
    assert 1 / inp["k"] == pytest.approx(240 / 576)
    # mu1 = 4.5: residuals 1.5, -4.5, 7.5, -4.5; sum r^2 - mu = 2.25+20.25+56.25+20.25-18 = 81;
    # sum mu^2 = 81: a1 = 1.
    assert 1 / inp["k_post"] == pytest.approx(1.0)
    r0, r1 = np.array([0, -12, 12, 0.0]), np.array([1.5, -4.5, 7.5, -4.5])
    assert inp["correlation"] == pytest.approx(np.corrcoef(r0, r1)[0, 1])
    assert inp["completeness"] == 1.0
    assert inp["baseline_completeness"] == 1.0
    assert inp["n_controls_effective"] == pytest.approx(4.0)
    # Change scores y1/4.5 - y0/12 of the controls; each set has one pair (counted twice).
    z = np.array([6 / 4.5 - 1, 0 - 0, 12 / 4.5 - 2, 0 - 1])
    z = z - z.mean()
    psi = ((z[0] * z[1] + z[2] * z[3]) * 2 / 4) / np.mean(z**2)
    assert inp["matching_correlation"] == pytest.approx(min(max(psi, 0.0), 0.9))


# ------------------------------------------------------------------ retrospective MDEs
def test_mde_utilisation_demo_county_is_a_fall_with_80_percent_power(mc) -> None:
    res = mde_utilisation(mc, "gp_appointment", 6)
    assert 0 < res.mde_rate_ratio < 1 < res.mde_rate_ratio_rise
    assert res.power == pytest.approx(0.8, abs=1e-6)
    assert res.n_participants == mc.n_participants
    assert res.mde_difference_per_person > 0
    assert res.spec["source"] == "matched controls"
    assert res.sentence().startswith(f"With {mc.n_participants} participants")
    json.dumps(res.to_dict())


def test_mde_utilisation_calibrated_reproduces_fit_se_at_estimate(mc) -> None:
    fit = utilisation(mc, "gp_appointment", 6)
    cal = mde_utilisation(mc, "gp_appointment", 6, fit=fit, method="calibrated")
    design = cal.design
    se_at_fit = math.sqrt(log_rr_variance(design, fit.poisson.estimate, design.n))
    assert se_at_fit == pytest.approx(fit.poisson.std_error, rel=1e-9)
    with pytest.raises(ValueError, match="needs the fitted"):
        mde_utilisation(mc, "gp_appointment", 6, method="calibrated")


def test_add_mde_annotates_matched_did_entries_only(mc) -> None:
    fits = [utilisation(mc, "gp_appointment", 6), utilisation(mc, "total_cost", 6)]
    mdes = {(f.setting, 6): mde_utilisation(mc, f.setting, 6, fit=f) for f in fits}
    entries = add_mde(utilisation_table(fits).to_dict(orient="records"), mdes)
    for e in entries:
        if e["method"] == "matched_did":
            assert e["mde"] is not None and e["mde"] > 0, e
            assert e["mde_sentence"]
        else:
            assert "mde" not in e
    rr = [e for e in entries if e["scale"] == "rate_ratio" and e["method"] == "matched_did"]
    assert all(e["mde"] < 1 for e in rr)
    cost = mdes[("total_cost", 6)]
    assert math.isnan(cost.mde_rate_ratio) and cost.mde_difference_per_person > 0
    # Sentences name the setting from the one label table.
    assert cost.outcome == setting_label("total_cost")
    assert mdes[("gp_appointment", 6)].outcome == setting_label("gp_appointment")


def test_mde_wellbeing_equals_prepost_mde(study) -> None:
    res = wellbeing(study, "swemwbs")
    mde = mde_wellbeing(res)
    assert mde.mde == pytest.approx(res.mde, rel=1e-12)
    assert mde.n_paired == res.n_paired
    assert "people with both questionnaires" in mde.sentence()


# ------------------------------------------------------------------ prospective
def test_power_plan_effect_and_participants_round_trip(study) -> None:
    need = power_plan(study, effect=0.2, setting="gp_appointment", months=6, sample=1500)
    assert need.solved_for == "sample_size"
    assert need.rate_ratio == pytest.approx(0.8)
    assert need.power >= 0.8
    assert need.n_controls == pytest.approx(3 * need.n_participants)
    n = int(need.n_participants)
    could = power_plan(study, participants=n, setting="gp_appointment", months=6, sample=1500)
    assert could.solved_for == "mde"
    # The same sample of the eligible pool: n participants detect a 20% fall or smaller.
    assert 0.8 <= could.mde_rate_ratio < 0.8 + 0.01
    both = power_plan(
        study, participants=n, effect=0.2, setting="gp_appointment", months=6, sample=1500
    )
    assert both.power == pytest.approx(need.power, abs=1e-9)
    assert "eligible" in " ".join(need.notes)


def test_power_plan_from_directory_needs_programme(demo_processed: Path) -> None:
    with pytest.raises(ValueError, match="programme slug"):
        power_plan(demo_processed, effect=0.2)
    with pytest.raises(ValueError, match="not an outcome"):
        power_plan(demo_processed, "mindsong", effect=0.2, setting="prescription_item")
