"""The matched cost difference's inputs: the arguments checked and each unit's change.

Steps 1 and 2 of :func:`~evalkit.stats.costs.matched_cost_difference`: the panel and options
checked, the panel's rows under fixed column names, each unit's change (post mean minus pre
mean, times the periods) and the units dropped for lacking a pre or a post row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["METHODS", "check_arguments", "drop_incomplete_units", "long_frame", "unit_changes"]

#: Bootstrap intervals :func:`~evalkit.stats.costs.matched_cost_difference` offers.
METHODS = ("percentile", "BCa")


def _binary(s: pd.Series, name: str) -> np.ndarray:
    vals = pd.to_numeric(s.astype("float64") if s.dtype == bool else s, errors="coerce")
    if vals.isna().any() or not vals.isin([0, 1]).all():
        raise ValueError(f"column '{name}' must be 0/1 (or boolean) without missing values")
    return vals.to_numpy(dtype=np.int8)


# ------------------------------------------------------------------ step 1: the arguments
def check_arguments(
    panel: pd.DataFrame,
    columns: Sequence[str],
    outcomes: Sequence[str],
    *,
    matched_set: str,
    resamples: int,
    level: float,
    periods: float,
    method: str,
    time: str | None = None,
    row_weights: str | None = None,
    cluster: str | None = None,
) -> None:
    """Raise ``ValueError`` unless the panel and options suit :func:`matched_cost_difference`.

    Parameters
    ----------
    panel : pd.DataFrame
        The panel.
    columns : sequence of str
        Every column the estimator reads (all must be present).
    outcomes : sequence of str
        Outcome columns (numeric, no missing values).
    matched_set : str
        Matched-set column (no missing values).
    resamples, level, periods, method, time, row_weights, cluster
        As :func:`~evalkit.stats.costs.matched_cost_difference`.
    """
    missing = [c for c in dict.fromkeys(columns) if c not in panel.columns]
    if missing:
        raise ValueError(f"panel lacks column(s) {missing}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if int(resamples) < 2:
        raise ValueError("resamples must be at least 2")
    if not 0 < level < 1:
        raise ValueError("level must lie in (0, 1)")
    if not (math.isfinite(periods) and periods > 0):
        raise ValueError("periods must be a positive number")
    for o in outcomes:
        if not pd.api.types.is_numeric_dtype(panel[o]) or panel[o].isna().any():
            raise ValueError(f"outcome '{o}' must be numeric without missing values")
    if panel[matched_set].isna().any():
        raise ValueError(
            f"'{matched_set}' has missing values: every unit must belong to one matched set "
            "(matching with replacement has no disjoint sets to resample)"
        )
    if cluster is not None and panel[cluster].isna().any():
        raise ValueError(
            f"cluster column '{cluster}' has missing values: every row must name whom it belongs to"
        )
    _check_periods(panel, time, row_weights)


def _check_periods(panel: pd.DataFrame, time: str | None, row_weights: str | None) -> None:
    """Raise ``ValueError`` unless the period column and the row weights are usable."""
    if row_weights is not None:
        if time is None:
            raise ValueError(
                "row_weights need time: weights that vary over a unit's rows weight each "
                "period's arm means, so the estimate is formed period by period"
            )
        r = pd.to_numeric(panel[row_weights], errors="coerce").to_numpy(dtype=float)
        if not (np.isfinite(r).all() and (r >= 0).all()):
            raise ValueError(f"row weights '{row_weights}' must be finite and non-negative")
    if time is not None and panel[time].isna().any():
        raise ValueError(f"period column '{time}' has missing values")


# ------------------------------------------------------------------ step 2: each unit's change
def long_frame(
    panel: pd.DataFrame,
    outcomes: Sequence[str],
    *,
    unit: str,
    matched_set: str,
    treated: str,
    post: str,
    w: str | None,
    time: str | None = None,
    r: str | None = None,
) -> pd.DataFrame:
    """The panel's rows with fixed column names: ``_u _s _t _p _w _r _k`` and ``_y0, ...``.

    ``_r`` is the row weight (1 without ``r``), ``_k`` the period (0 without ``time``).
    """
    ones = np.ones(len(panel))
    work = pd.DataFrame(
        {
            "_u": panel[unit].to_numpy(),
            "_s": panel[matched_set].to_numpy(),
            "_t": _binary(panel[treated], treated),
            "_p": _binary(panel[post], post),
            "_w": (pd.to_numeric(panel[w]).to_numpy(dtype=float) if w else ones),
            "_r": (pd.to_numeric(panel[r]).to_numpy(dtype=float) if r else ones),
            "_k": panel[time].to_numpy() if time else np.zeros(len(panel), dtype=np.int8),
        }
    )
    for j, o in enumerate(outcomes):
        work[f"_y{j}"] = panel[o].to_numpy(dtype=float)
    return work


def unit_changes(
    work: pd.DataFrame,
    n_outcomes: int,
    periods: float,
    *,
    matched_set: str,
    treated: str,
    weights: str | None,
) -> pd.DataFrame:
    """Per unit: set, group, weight and change (post mean − pre mean) x ``periods``.

    The means are weighted by the row weights ``_r`` (1 unless ``row_weights`` were given).

    Parameters
    ----------
    work : pd.DataFrame
        Rows with columns ``_u _s _t _p _w _r`` and ``_y0`` ... (one per outcome).
    n_outcomes : int
        Number of outcome columns ``_y<j>``.
    periods : float
        Multiplier of the per-period change.
    matched_set, treated, weights : str
        Column names, for the error messages.

    Returns
    -------
    pd.DataFrame
        Indexed by unit (sorted): ``_s``, ``_t``, ``_w`` and ``_y<j>`` (the change; NaN for a
        unit without both a pre and a post row of positive row weight).

    Raises
    ------
    ValueError
        The set, group or weight varies within a unit.
    """
    per_unit = work.groupby("_u", sort=True).agg(
        _s_min=("_s", "min"),
        _s_max=("_s", "max"),
        _t_min=("_t", "min"),
        _t_max=("_t", "max"),
        _w_min=("_w", "min"),
        _w_max=("_w", "max"),
    )
    if (per_unit["_s_min"] != per_unit["_s_max"]).any():
        raise ValueError(f"'{matched_set}' varies within a unit")
    if (per_unit["_t_min"] != per_unit["_t_max"]).any():
        raise ValueError(f"'{treated}' varies within a unit")
    if not np.allclose(per_unit["_w_min"], per_unit["_w_max"], rtol=1e-12, atol=0):
        raise ValueError(f"'{weights}' varies within a unit")
    ycols = [f"_y{j}" for j in range(n_outcomes)]
    keys = [work["_u"], work["_p"]]
    sums = work[ycols].mul(work["_r"], axis=0).groupby(keys, sort=True).sum()
    means = sums.div(work["_r"].groupby(keys, sort=True).sum(), axis=0)
    means = means.replace([np.inf, -np.inf], np.nan)
    pre = means.xs(0, level="_p").reindex(per_unit.index)
    pst = means.xs(1, level="_p").reindex(per_unit.index)
    change = (pst - pre) * float(periods)
    return pd.DataFrame(
        {"_s": per_unit["_s_min"], "_t": per_unit["_t_min"], "_w": per_unit["_w_min"]}
    ).join(change)


def drop_incomplete_units(
    units: pd.DataFrame, work: pd.DataFrame, notes: list[str]
) -> pd.DataFrame:
    """Units with both a pre and a post row and a positive weight; notes the drops and gaps."""
    incomplete = units["_y0"].isna()
    if incomplete.any():
        notes.append(
            f"{int(incomplete.sum())} unit(s) without both a pre and a post row were dropped."
        )
    nonpos = ~(units["_w"] > 0) & ~incomplete
    if nonpos.any():
        notes.append(f"{int(nonpos.sum())} unit(s) with a weight that is not positive dropped.")
    units = units[~incomplete & ~nonpos]
    n_rows = work.groupby("_u").size().reindex(units.index)
    n_periods = int(n_rows.max()) if len(n_rows) else 0
    short = int((n_rows < n_periods).sum())
    if short:
        notes.append(
            f"{short} of {len(units)} unit(s) have fewer rows than the fullest ({n_periods}): "
            "the panel is unbalanced, so this estimate can differ slightly from the linear "
            "two-way fixed-effects DiD on the same rows (they are equal on a balanced panel with "
            "weights constant within unit)."
        )
    return units
