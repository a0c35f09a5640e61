"""WELLBY valuation by intention to treat (non-responders at no change) and its upper bound."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from scipy import stats

from evalkit.definitions import load_wellby
from evalkit.stats.costs import (
    intention_to_treat_change,
    mean_change,
    wellby_itt_valuation,
    wellby_valuation,
)

WELLBY = load_wellby()


def test_itt_change_is_completers_mean_times_responders_over_referred() -> None:
    # Hand-built: 4 responders with changes summing to 4.0, 10 people referred.
    changes = [2.0, -1.0, 0.5, 2.5]
    itt = intention_to_treat_change(changes, 10)
    comp = mean_change(changes)
    assert comp.estimate == pytest.approx(1.0)
    assert itt.estimate == pytest.approx(comp.estimate * 4 / 10, rel=1e-15)
    assert itt.estimate == pytest.approx(0.4, rel=1e-15)
    assert itt.n == 10 and comp.n == 4


def test_itt_change_ci_is_scipy_t_interval_of_zero_padded_changes() -> None:
    rng = np.random.default_rng(1)
    changes = rng.normal(0.6, 1.5, 40)
    itt = intention_to_treat_change(changes, 100)
    ref = stats.ttest_1samp(np.r_[changes, np.zeros(60)], 0.0).confidence_interval(0.95)
    assert (itt.ci_low, itt.ci_high) == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert itt.std_error == pytest.approx(stats.sem(np.r_[changes, np.zeros(60)]), rel=1e-12)
    # the completers' interval is the paired pre/post one: the t interval of the changes
    comp = mean_change(changes)
    ref_c = stats.ttest_1samp(changes, 0.0).confidence_interval(0.95)
    assert (comp.ci_low, comp.ci_high) == pytest.approx((ref_c.low, ref_c.high), rel=1e-12)


def test_itt_change_everyone_responding_equals_completers() -> None:
    changes = [0.3, 1.2, -0.4, 0.9]
    a, b = intention_to_treat_change(changes, 4), mean_change(changes)
    assert (a.estimate, a.ci_low, a.ci_high) == (b.estimate, b.ci_low, b.ci_high)


@pytest.mark.parametrize(
    ("changes", "n_referred", "message"),
    [([1.0, 2.0, 3.0], 2, "below"), ([1.0], 5, "two"), ([1.0, np.nan], 5, "finite")],
)
def test_itt_change_invalid_input_raises(changes, n_referred, message) -> None:
    with pytest.raises(ValueError, match=message):
        intention_to_treat_change(changes, n_referred)


def test_wellby_itt_valuation_central_is_itt_upper_is_completers() -> None:
    changes = [2.0, -1.0, 0.5, 2.5]
    r = wellby_itt_valuation(changes, 10, 260.0, price_year="2019", values=WELLBY)
    itt, comp = intention_to_treat_change(changes, 10), mean_change(changes)
    by_hand = wellby_valuation(
        itt.estimate, 260.0, change_ci=(itt.ci_low, itt.ci_high), price_year="2019", values=WELLBY
    )
    assert r.basis == "intention_to_treat"
    assert (r.estimate, r.low, r.high) == pytest.approx(
        (by_hand.estimate, by_hand.low, by_hand.high)
    )
    assert (r.ci_low, r.ci_high) == pytest.approx((by_hand.ci_low, by_hand.ci_high))
    assert r.estimate == pytest.approx(0.4 * 13000 / 260.0)
    assert r.completers_upper == pytest.approx(1.0 * 13000 / 260.0)
    assert r.completers.ci_low == pytest.approx(comp.ci_low * 13000 / 260.0)
    assert r.completers.basis == "completers"
    assert r.estimate == pytest.approx(r.completers_upper * 4 / 10)
    assert (r.n_responders, r.n_referred) == (4, 10)
    assert any("Intention to treat" in n for n in r.notes)
    assert any("upper bound" in n for n in r.notes)


def test_wellby_itt_valuation_views_carry_both_figures() -> None:
    from matplotlib.axes import Axes

    r = wellby_itt_valuation([0.4, 1.1, -0.2, 0.8, 0.3], 12, 300.0, values=WELLBY)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["basis"] == "intention_to_treat"
    assert d["n_responders"] == 5 and d["n_referred"] == 12
    up = d["completers_upper"]["social_value_per_pound"]
    assert up["estimate"] == pytest.approx(r.completers_upper)
    assert up["ci_low"] < up["estimate"] < up["ci_high"]
    assert d["social_value_per_pound"]["estimate"] == pytest.approx(r.estimate)
    assert "completers_central" in set(r.tidy()["value"])
    assert "upper bound" in r.summary()
    assert isinstance(r.plot_values(), Axes)
    # a plain valuation says whose change it is and has no upper bound
    plain = wellby_valuation(0.5, 300.0, values=WELLBY)
    assert plain.basis == "completers" and plain.completers_upper is None
    assert plain.to_dict()["completers_upper"] is None


def test_wellby_valuation_unknown_basis_raises() -> None:
    with pytest.raises(ValueError, match="basis"):
        wellby_valuation(0.5, 300.0, values=WELLBY, basis="everyone")  # type: ignore[arg-type]
