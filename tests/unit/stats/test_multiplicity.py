"""Holm's adjustment: statsmodels' values on the same p-values, missing ones left out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from evalkit.stats.multiplicity import holm


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_holm_equals_statsmodels_multipletests_on_the_same_p_values(seed: int) -> None:
    p = np.random.default_rng(seed).uniform(0, 0.2, size=5).tolist()
    ref = multipletests(p, alpha=0.05, method="holm")[1]
    assert holm(p) == pytest.approx(list(ref), abs=0)


def test_holm_missing_p_values_left_out_of_family_and_stay_none() -> None:
    p = np.random.default_rng(7).uniform(0, 0.1, size=4).tolist()
    with_gaps = [p[0], None, p[1], math.nan, p[2], p[3]]
    out = holm(with_gaps)
    assert out[1] is None and out[3] is None
    # The present ones are adjusted as a family of four, not six.
    ref = multipletests(p, method="holm")[1]
    assert [out[0], out[2], out[4], out[5]] == pytest.approx(list(ref), abs=0)


def test_holm_single_p_value_is_unchanged_and_adjusted_never_below_raw() -> None:
    p = np.random.default_rng(11).uniform(0, 1, size=6).tolist()
    assert holm(p[:1]) == [p[0]]
    assert all(q >= r for q, r in zip(holm(p), p, strict=True))
    assert all(q <= 1 for q in holm(p))


def test_holm_nothing_present_gives_all_none() -> None:
    assert holm([None, math.nan]) == [None, None]
