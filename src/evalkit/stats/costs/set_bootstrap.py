"""Per-set totals by cell, the arms' mean changes from them, and the bootstrap over matched sets.

:func:`~evalkit.stats.costs.matched_cost_difference` is a function of totals per matched set:
for each cell (one cell for the unit-level estimator, one per post period for the
period-by-period one) the participants' and the controls' weight sums and weighted change
sums. A bootstrap resample draws matched sets with replacement; its totals are the resample
counts times the set totals (a matrix product) and its estimate is the same function of them as
the point estimate's, so no resample refits anything.

Cell totals are arrays of shape ``(sets, cells, 2 + 2 x outcomes)``; the last axis holds the
participants' weight ``t_w``, the controls' weight ``c_w``, then the participants' weighted
change sum of each outcome, then the controls'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "SetBootstrap",
    "arm_changes",
    "bootstrap_sets",
    "cluster_totals",
    "period_cells",
    "resample_counts",
    "set_totals",
    "unit_cells",
]


@dataclass(frozen=True)
class SetBootstrap:
    """Point estimates and bootstrap summaries over matched sets, one entry per outcome."""

    point: np.ndarray
    treated: np.ndarray
    control: np.ndarray
    std_error: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    #: Replicates, shape (outcomes, resamples).
    distribution: np.ndarray


def arm_changes(totals: np.ndarray, n_outcomes: int) -> tuple[np.ndarray, np.ndarray]:
    """Participants' and controls' weighted mean changes from cell totals.

    Participants: their weighted change sum over every cell divided by their weight. Controls:
    each cell's weighted mean change, averaged over the cells with the participants' weight in
    each cell as the weights (direct standardisation to the participants' person-time, so a
    period in which fewer controls remain is compared with the participants of that period).
    A cell in which either arm weighs nothing is left out of both. With one cell this is the
    plain difference of the two weighted means.

    Parameters
    ----------
    totals : np.ndarray
        Shape ``(..., cells, 2 + 2 x n_outcomes)`` (module docstring).
    n_outcomes : int
        Number of outcomes.

    Returns
    -------
    treated, control : np.ndarray
        Shape ``(n_outcomes, ...)``.

    Examples
    --------
    >>> z = np.array([[[2.0, 4.0, 10.0, 8.0], [1.0, 1.0, 4.0, 3.0]]])  # two cells, one outcome
    >>> t, c = arm_changes(z[0], 1)
    >>> float(t[0]), float(c[0])
    (4.666666666666667, 2.3333333333333335)
    """
    k = n_outcomes
    tw, cw = totals[..., 0], totals[..., 1]
    use = (tw > 0) & (cw > 0)
    tw_used = np.where(use, tw, 0.0)
    cw_safe = np.where(use, cw, 1.0)
    weight = tw_used.sum(axis=-1)[..., None]
    ty = np.where(use[..., None], totals[..., 2 : 2 + k], 0.0)
    cy = np.where(use[..., None], totals[..., 2 + k : 2 + 2 * k], 0.0)
    treated = ty.sum(axis=-2) / weight
    control = (tw_used[..., None] * cy / cw_safe[..., None]).sum(axis=-2) / weight
    return np.moveaxis(treated, -1, 0), np.moveaxis(control, -1, 0)


def resample_counts(idx: np.ndarray, n_sets: int) -> np.ndarray:
    """How often each set occurs in each resample of set indices (the last axis).

    Examples
    --------
    >>> resample_counts(np.array([[0, 0, 2], [1, 2, 2]]), 3).tolist()
    [[2.0, 0.0, 1.0], [0.0, 1.0, 2.0]]
    """
    lead = idx.shape[:-1]
    flat = np.asarray(idx, dtype=np.intp).reshape(-1, idx.shape[-1])
    offsets = (np.arange(flat.shape[0], dtype=np.intp) * n_sets)[:, None]
    counts = np.bincount((flat + offsets).ravel(), minlength=flat.shape[0] * n_sets)
    return counts.reshape(*lead, n_sets).astype(float)


def cluster_totals(cells: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Per-set cell totals summed per cluster: shape ``(clusters, ...)``, cluster k at row k.

    Examples
    --------
    >>> cluster_totals(np.array([[1.0], [2.0], [4.0]]), np.array([0, 1, 0])).tolist()
    [[5.0], [2.0]]
    """
    labels = np.asarray(clusters, dtype=np.intp)
    if labels.shape != (cells.shape[0],):
        raise ValueError(f"{len(labels)} cluster labels for {cells.shape[0]} sets")
    if len(labels) and (labels.min() < 0 or set(np.unique(labels)) != set(range(labels.max() + 1))):
        raise ValueError("cluster labels must be 0 .. C - 1, each used")
    out = np.zeros((int(labels.max()) + 1 if len(labels) else 0, *cells.shape[1:]))
    np.add.at(out, labels, cells)
    return out


def bootstrap_sets(
    cells: np.ndarray,
    n_outcomes: int,
    *,
    resamples: int,
    seed: int | np.random.Generator | None,
    level: float,
    method: str,
    notes: list[str],
    clusters: np.ndarray | None = None,
) -> tuple[SetBootstrap, Any]:
    """Resample matched sets (or clusters of them) with replacement; estimates from cell totals.

    :func:`scipy.stats.bootstrap` resamples the set indices (as it does internally for
    ``paired=True``, so the draws for a seed are those of a paired bootstrap over per-set
    arrays); a resample's totals are its counts times ``cells``. With ``clusters`` the sets'
    totals are first summed per cluster and the clusters are resampled instead, so the sets of
    one cluster (and every row of a person in them) are always drawn together. Clusters are
    numbered so that, when every cluster is one set, cluster k is set k and the draws for a
    seed are exactly the set bootstrap's (:func:`evalkit.stats.clusters.connected_clusters`).

    Parameters
    ----------
    cells : np.ndarray
        Per-set cell totals, shape ``(sets, cells, 2 + 2 x n_outcomes)``.
    n_outcomes : int
        Number of outcomes.
    resamples, seed, level, method
        As :func:`~evalkit.stats.costs.matched_cost_difference`.
    notes : list of str
        Appended to when no seed is given.
    clusters : np.ndarray, optional
        Cluster label (``0 .. C - 1``) of each set, in the order of ``cells``; default each set
        its own cluster.

    Returns
    -------
    SetBootstrap, seed used
        The summaries and the seed as recorded in the spec (``"Generator"`` for a generator).
    """
    # The point estimate from the sets' totals, so that it is the same to the last bit with
    # or without clusters; only the resampling units change.
    treated, control = arm_changes(cells.sum(axis=0), n_outcomes)
    if clusters is not None:
        cells = cluster_totals(cells, clusters)
    n_sets = cells.shape[0]
    flat = cells.reshape(n_sets, -1)

    def statistic(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        counts = resample_counts(np.moveaxis(idx, axis, -1), n_sets)
        totals = (counts @ flat).reshape(*counts.shape[:-1], *cells.shape[1:])
        treated, control = arm_changes(totals, n_outcomes)
        return treated - control

    if isinstance(seed, np.random.Generator):
        rng, seed_used = seed, "Generator"
    else:
        rng, seed_used = np.random.default_rng(seed), seed
        if seed is None:
            notes.append("No seed given: the bootstrap interval will differ between runs.")
    boot = stats.bootstrap(
        (np.arange(n_sets),),
        statistic,
        n_resamples=int(resamples),
        vectorized=True,
        confidence_level=level,
        method=method,
        rng=rng,
    )
    result = SetBootstrap(
        point=treated - control,
        treated=treated,
        control=control,
        std_error=np.atleast_1d(boot.standard_error),
        ci_low=np.atleast_1d(boot.confidence_interval.low),
        ci_high=np.atleast_1d(boot.confidence_interval.high),
        distribution=np.asarray(boot.bootstrap_distribution).reshape(n_outcomes, -1),
    )
    return result, seed_used


def set_totals(
    units: pd.DataFrame, outcomes: Sequence[str], notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per matched set: weight totals and weighted change totals of participants and controls.

    Parameters
    ----------
    units : pd.DataFrame
        From :func:`unit_changes`, incomplete units dropped.
    outcomes : sequence of str
        Outcome names, in the order of the ``_y<j>`` columns.
    notes : list of str
        Appended to when sets lacking a participant or a control are dropped.

    Returns
    -------
    sets : pd.DataFrame
        Indexed by ``matched_set``: ``t_w``, ``c_w``, ``t_<outcome>``, ``c_<outcome>``.
    kept : pd.DataFrame
        The units of the sets kept.

    Raises
    ------
    ValueError
        Fewer than two usable matched sets.
    """
    tw = units["_w"] * units["_t"]
    cw = units["_w"] * (1 - units["_t"])
    parts = {"t_w": tw, "c_w": cw}
    for j, o in enumerate(outcomes):
        parts[f"t_{o}"] = tw * units[f"_y{j}"]
        parts[f"c_{o}"] = cw * units[f"_y{j}"]
    sets = pd.DataFrame(parts).groupby(units["_s"], sort=True).sum()
    sets.index.name = "matched_set"
    ok = (sets["t_w"] > 0) & (sets["c_w"] > 0)
    if (~ok).any():
        notes.append(
            f"{int((~ok).sum())} matched set(s) without both a participant and a control "
            "(after the drops above) were dropped."
        )
    sets = sets[ok]
    kept = units[units["_s"].isin(sets.index)]
    if len(sets) < 2:
        raise ValueError(f"{len(sets)} usable matched set(s): a bootstrap needs at least two")
    return sets, kept


def unit_cells(sets: pd.DataFrame, outcomes: Sequence[str]) -> np.ndarray:
    """One cell per set from the unit-level set totals (``t_w``, ``c_w``, ``t_<o>``, ``c_<o>``)."""
    cols = ["t_w", "c_w", *[f"t_{o}" for o in outcomes], *[f"c_{o}" for o in outcomes]]
    return sets[cols].to_numpy(dtype=float)[:, None, :]


def period_cells(
    work: pd.DataFrame,
    kept: pd.DataFrame,
    set_ids: pd.Index,
    outcomes: Sequence[str],
    periods: float,
    notes: list[str],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per matched set and post period: each arm's weight and weighted change totals.

    A post row's change is its value minus its unit's pre-period mean (weighted by the row
    weights ``_r``), times ``periods``; its weight is the unit's weight ``_w`` times the row's
    ``_r``. So each period's arm means are over the units observed in that period, with their
    time-varying weights (e.g. censoring weights), and each unit's own baseline is removed.

    Parameters
    ----------
    work : pd.DataFrame
        Rows with ``_u _s _t _p _w _r _k`` (period) and ``_y0`` ... (one per outcome).
    kept : pd.DataFrame
        The units used, indexed by unit.
    set_ids : pd.Index
        The matched sets used, in the order of the result's first axis.
    outcomes : sequence of str
        Outcome names, in the order of the ``_y<j>`` columns.
    periods : float
        Multiplier of the per-period change.
    notes : list of str
        Appended to when a post period lacks participants or controls.

    Returns
    -------
    table : pd.DataFrame
        One row per matched set and post period: ``matched_set``, ``period``, ``t_w``,
        ``c_w``, ``t_<outcome>``, ``c_<outcome>``.
    cells : np.ndarray
        The same totals, shape ``(sets, periods, 2 + 2 x outcomes)`` (zero where a set has no
        row in a period).
    """
    ycols = [f"_y{j}" for j in range(len(outcomes))]
    rows = work[work["_u"].isin(kept.index)]
    pre = rows[rows["_p"] == 0]
    pre_w = pre["_r"].groupby(pre["_u"]).sum()
    pre_mean = pre[ycols].mul(pre["_r"], axis=0).groupby(pre["_u"]).sum().div(pre_w, axis=0)
    post = rows[rows["_p"] == 1]
    change = (post[ycols].to_numpy() - pre_mean.loc[post["_u"]].to_numpy()) * float(periods)
    w = (post["_w"] * post["_r"]).to_numpy()
    t = post["_t"].to_numpy()
    tw, cw = w * t, w * (1 - t)
    parts = {"t_w": tw, "c_w": cw}
    for j, o in enumerate(outcomes):
        parts[f"t_{o}"] = tw * change[:, j]
    for j, o in enumerate(outcomes):
        parts[f"c_{o}"] = cw * change[:, j]
    keys = [post["_s"].to_numpy(), post["_k"].to_numpy()]
    table = pd.DataFrame(parts).groupby(keys, sort=True).sum()
    table.index.names = ["matched_set", "period"]
    grid = pd.MultiIndex.from_product(
        [set_ids, table.index.get_level_values("period").unique().sort_values()],
        names=table.index.names,
    )
    full = table.reindex(grid, fill_value=0.0)
    n_periods = len(grid.levels[1])
    cells = full.to_numpy(dtype=float).reshape(len(set_ids), n_periods, len(parts))
    by_period = cells.sum(axis=0)
    lonely = int(((by_period[:, 0] > 0) != (by_period[:, 1] > 0)).sum())
    if lonely:
        notes.append(
            f"{lonely} post period(s) with participants but no controls observed (or the "
            "reverse) were left out of both arms."
        )
    return table.reset_index(), cells
