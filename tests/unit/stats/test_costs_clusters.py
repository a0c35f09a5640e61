"""The cost difference's bootstrap over connected clusters of matched sets sharing a person."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import evalkit.stats.costs.set_bootstrap as set_bootstrap
from evalkit.stats.costs import matched_cost_difference
from evalkit.stats.costs.set_bootstrap import cluster_totals


def shared_panel(
    n_blocks: int,
    *,
    seed: int,
    shared_sd: float = 3.0,
    effect: float = -2.0,
    months: int = 1,
) -> pd.DataFrame:
    """Blocks of three matched sets (one participant, three controls each) sharing a person.

    In each block one person is a control in all three sets (a unit per set, as a control
    matched at three index dates is); the other controls and the participants are in one set
    only. A person's change (post − pre) carries a component ``u`` of SD ``shared_sd`` that is
    the same in every set the person is in; every unit adds independent noise of SD 1. So the
    three sets of a block are correlated through the shared control: with equal weights the
    difference of set s, d_s = t_s − (c_s1 + c_s2 + c_s3)/3, has variance 1 + (shared_sd² +
    3)/9 and covariance shared_sd²/9 with each other set of its block, and the estimator (the
    mean of the d_s over S = 3 x n_blocks sets) has variance
    (3 var(d_s) + 6 cov) / (9 n_blocks), against 3 var(d_s) / (9 n_blocks) if the sets were
    independent. ``months`` post rows per unit, each carrying the same change (the
    period-by-period estimator then equals the unit-level one).
    """
    rng = np.random.default_rng(seed)
    rows = []
    unit = 0
    for b in range(n_blocks):
        shared_person = f"s{b}"
        u_shared = rng.normal(0.0, shared_sd)
        for j in range(3):
            s = 3 * b + j
            members = [(f"t{s}", 1, 0.0), (shared_person, 0, u_shared)]
            members += [(f"c{s}_{i}", 0, 0.0) for i in range(2)]  # one-set controls: noise only
            for person, treated, u in members:
                level = rng.gamma(2.0, 50.0)
                change = u + rng.normal(0.0, 1.0) + (effect if treated else 0.0)
                rows.append((unit, person, s, treated, -1, 0, level))
                for m in range(months):
                    rows.append((unit, person, s, treated, m, 1, level + change))
                unit += 1
    return pd.DataFrame(rows, columns=["unit", "person", "set", "treated", "month", "post", "cost"])


def true_sd(n_blocks: int, shared_sd: float = 3.0) -> float:
    """The estimator's true SD on :func:`shared_panel` (its docstring)."""
    var_d = 1 + (shared_sd**2 + 3) / 9
    cov = shared_sd**2 / 9
    return math.sqrt((3 * var_d + 6 * cov) / (9 * n_blocks))


def fit(panel: pd.DataFrame, **kw):
    args = dict(unit="unit", matched_set="set", treated="treated", post="post", seed=5)
    args.update(kw)
    return matched_cost_difference(panel, "cost", **args)


def test_cluster_totals_sum_sets_per_cluster() -> None:
    cells = np.arange(12.0).reshape(4, 1, 3)
    out = cluster_totals(cells, np.array([0, 1, 0, 2]))
    assert out.shape == (3, 1, 3)
    np.testing.assert_array_equal(out[0], cells[0] + cells[2])
    np.testing.assert_array_equal(out[2], cells[3])
    with pytest.raises(ValueError, match=r"0 \.\. C - 1"):
        cluster_totals(cells, np.array([0, 2, 0, 2]))


def test_cluster_bootstrap_without_shared_people_equals_set_bootstrap() -> None:
    # Every person in one set: the clusters are the sets, numbered as the sets, so the same
    # seed gives the same resamples (replicate for replicate) as the bootstrap over sets.
    panel = shared_panel(20, seed=1)
    panel["person"] = panel["unit"]
    for kw in ({}, {"time": "month"}):
        a, b = fit(panel, **kw), fit(panel, cluster="person", **kw)
        pd.testing.assert_frame_equal(a.replicates, b.replicates)
        assert (a.ci_low, a.ci_high, a.std_error) == (b.ci_low, b.ci_high, b.std_error)
        assert b.clusters["n_clusters"] == b.clusters["n_sets"] == 60
        assert b.clusters["share_sets_in_shared_clusters"] == 0.0


def test_cluster_bootstrap_never_splits_a_person_between_clusters() -> None:
    panel = shared_panel(15, seed=2)
    res = fit(panel, cluster="person")
    cluster_of_set = res.sets.set_index("matched_set")["cluster"]
    per_person = panel["set"].map(cluster_of_set).groupby(panel["person"]).nunique()
    assert (per_person == 1).all()
    # each block of three sets is one cluster, and no two blocks share one
    assert res.clusters["n_clusters"] == 15
    assert res.clusters["n_sets_largest_cluster"] == 3
    assert res.clusters["share_sets_in_shared_clusters"] == 1.0
    assert res.spec["cluster"] == "person"
    assert res.resampling_unit == "connected cluster"
    assert any("connected clusters" in n for n in res.notes)


def test_cluster_bootstrap_resample_is_union_of_whole_clusters(monkeypatch) -> None:
    # Capture the resample counts the bootstrap draws (one count per cluster), rebuild a
    # resample's panel by hand from whole clusters (every row of every set of a drawn cluster,
    # as often as it was drawn) and refit it: the refit equals one of the replicates.
    panel = shared_panel(8, seed=3, months=3)
    seen: list[np.ndarray] = []
    real = set_bootstrap.resample_counts

    def spy(idx: np.ndarray, n_sets: int) -> np.ndarray:
        out = real(idx, n_sets)
        seen.append(out.reshape(-1, n_sets))
        return out

    monkeypatch.setattr(set_bootstrap, "resample_counts", spy)
    res = fit(panel, cluster="person", time="month", resamples=50)
    monkeypatch.undo()
    counts = np.concatenate(seen)
    assert counts.shape[1] == res.clusters["n_clusters"] == 8
    sets_of = res.sets.drop_duplicates("matched_set").groupby("cluster")["matched_set"].apply(list)
    replicates = res.replicates["cost"].to_numpy()
    for draw in counts[:5]:
        pieces, j = [], 0
        for cluster, times in enumerate(draw.astype(int)):
            for _ in range(times):
                j += 1
                p = panel[panel["set"].isin(sets_of[cluster])].copy()
                p["unit"] = p["unit"] + 100_000 * j
                p["set"] = p["set"] + 100_000 * j
                pieces.append(p)
        refit = fit(pd.concat(pieces, ignore_index=True), time="month", resamples=2)
        assert np.isclose(replicates, refit.estimate, rtol=1e-10, atol=1e-10).any()


def test_cluster_bootstrap_se_matches_truth_under_sharing_set_bootstrap_too_small() -> None:
    # Heavy sharing (every set shares a control with two others, the shared person's change
    # varying three times the noise): the estimator's true SD is known (shared_panel), and the
    # sets-as-independent SD is about 27% smaller. The bootstrap SE over connected clusters
    # must agree with the truth and exceed the set bootstrap's. Tolerance: a bootstrap SE from
    # G = 500 clusters varies between data sets by about 1/sqrt(2G) = 3.2% relative, its Monte
    # Carlo error with B = 1,999 resamples is 1/sqrt(2B) = 1.6%; 4 x their root sum of squares.
    n_blocks, b = 500, 1999
    panel = shared_panel(n_blocks, seed=4)
    truth = true_sd(n_blocks)
    naive = fit(panel, resamples=b)
    clustered = fit(panel, resamples=b, cluster="person")
    tol = 4 * math.hypot(1 / math.sqrt(2 * n_blocks), 1 / math.sqrt(2 * b))
    assert abs(clustered.std_error / truth - 1) < tol
    assert clustered.std_error > naive.std_error
    assert naive.std_error / truth < 1 - tol  # the set bootstrap understates it
    # the point estimate is the same estimator either way, and unbiased for the effect
    assert clustered.estimate == naive.estimate
    assert abs(clustered.estimate - (-2.0)) < 4 * truth


def test_cluster_bootstrap_one_cluster_raises() -> None:
    panel = shared_panel(3, seed=5)
    panel["person"] = "everyone"
    with pytest.raises(ValueError, match="at least two"):
        fit(panel, cluster="person")


def test_cluster_bootstrap_missing_cluster_value_raises() -> None:
    panel = shared_panel(3, seed=6)
    panel.loc[0, "person"] = None
    with pytest.raises(ValueError, match="missing"):
        fit(panel, cluster="person")
