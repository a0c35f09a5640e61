"""The matcher's fast paths against their plain definitions.

The speed-ups in ``evalkit.stats.matching`` (issue #18) must not move a matched pair: each helper
is checked here against the slow formula it replaces, on small synthetic inputs with ties, many
strata and values on the caliper boundary. (A faster propensity fit, a vectorised log-likelihood
deciding the Newton steps, was withdrawn: it changed the last bits of the coefficients, and with
them tied matches, in the chronic_pain demo's placebo cohort, moving its published placebo
figures; the fit is the one before 0.4.)
"""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.stats.matching.design import ColumnCache, Covariate, _standardised_design
from evalkit.stats.matching.greedy import _groups, _sort_controls, _within_reach


def _lexsorted(d, stratum, rank, keep=None):
    """The definition: positions sorted by (stratum, d, rank), optionally only ``keep``."""
    order = np.lexsort((rank, d, stratum))
    return order if keep is None else order[keep[order]]


@pytest.mark.parametrize("n_strata", [1, 3, 8, 9, 40])
def test_groups_are_a_stable_grouping_by_stratum(n_strata):
    rng = np.random.default_rng(n_strata)
    stratum = rng.integers(0, n_strata, 500) * 2  # gaps in the codes, some codes absent
    got = _groups(stratum)
    codes = np.unique(stratum)
    assert len(got) == codes.size
    for c, g in zip(codes, got, strict=True):
        np.testing.assert_array_equal(g, np.flatnonzero(stratum == c))


@pytest.mark.parametrize("n_strata", [1, 2, 12])
def test_sort_controls_equals_lexsort_with_ties_and_shuffled_ranks(n_strata):
    rng = np.random.default_rng(7 + n_strata)
    n = 3000
    d = rng.integers(0, 40, n) / 8.0  # heavy ties
    stratum = rng.integers(0, n_strata, n)
    rank = rng.permutation(n)  # labels not in row order
    np.testing.assert_array_equal(_sort_controls(d, stratum, rank), _lexsorted(d, stratum, rank))


def _reachable(d, stratum, treated_d, width):
    """The matcher's own test: within ``width`` of some treated value of the stratum."""
    out = np.zeros(d.size, dtype=bool)
    for s, tv in treated_d.items():
        sel = stratum == s
        out[sel] = (np.abs(d[sel][:, None] - tv[None, :]) <= width).any(axis=1)
    return out


def test_sort_controls_with_caliper_keeps_every_reachable_control_in_order():
    rng = np.random.default_rng(11)
    n = 4000
    d = rng.normal(size=n).round(3)
    stratum = rng.integers(0, 3, n)
    rank = rng.permutation(n)
    width = 0.05
    treated_d = {s: np.sort(rng.normal(size=25).round(3)) for s in range(3)}
    # controls exactly on the caliper boundary of a treated value, on both sides
    for s, tv in treated_d.items():
        d[np.flatnonzero(stratum == s)[:4]] = [tv[0] - width, tv[0] + width, tv[5] + width, 9.0]
    got = _sort_controls(d, stratum, rank, treated_d, width)
    reach = _reachable(d, stratum, treated_d, width)
    assert reach[got].sum() == reach.sum()  # nothing reachable dropped
    # kept rows are in (stratum, d, rank) order, and far ones are dropped
    np.testing.assert_array_equal(got, _lexsorted(d, stratum, rank, np.isin(np.arange(n), got)))
    assert not np.isin(np.flatnonzero(d == 9.0), got).any()


def test_within_reach_is_a_superset_of_the_floating_point_caliper_test():
    rng = np.random.default_rng(5)
    tv = np.sort(rng.uniform(-4, 4, 30))
    width = 0.013
    # values a few ulps either side of every interval boundary, plus random ones
    edges = np.concatenate([tv - width, tv + width])
    dd = np.concatenate(
        [np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf), edges, rng.uniform(-5, 5, 500)]
    )
    keep = _within_reach(dd, tv, width)
    keep = np.ones(dd.size, dtype=bool) if keep is None else keep
    exact = (np.abs(dd[:, None] - tv[None, :]) <= width).any(axis=1)
    assert (keep | ~exact).all()
    assert keep.sum() - exact.sum() <= 4 * tv.size  # only hairs over a boundary are extra


def test_within_reach_returns_none_when_everything_is_reachable():
    assert _within_reach(np.array([0.0, 0.1, 0.2]), np.array([0.1]), 0.5) is None


def test_standardised_design_scale_is_numpys_std_to_the_bit():
    """The fused centre/scale must give c.mean() and c.std() exactly: the fit's bits rest on it."""
    import pandas as pd

    rng = np.random.default_rng(9)
    df = pd.DataFrame({"a": rng.normal(3, 2, 5001), "b": rng.integers(0, 90, 5001)})
    terms = [("a", Covariate("a", False), None), ("b", Covariate("b", False), None)]
    des = _standardised_design(ColumnCache(df), terms, np.arange(len(df)), False, [])
    for j, col in enumerate(["a", "b"]):
        c = df[col].to_numpy(dtype=np.float64)
        assert des.centre[j] == c.mean()
        assert des.scale[j] == c.std()
        np.testing.assert_array_equal(des.xs[:, j], (c - c.mean()) / c.std())
