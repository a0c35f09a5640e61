"""Checking and preparing the panel for :func:`evalkit.stats.did.did`.

:func:`prepare_inputs` checks the columns named in a :class:`DidColumns`, leaves out rows with a
missing value or a weight of 0 (with a note each), checks that the panel is a difference-in-
differences design (binary ``treated`` constant within unit, treated and control units with pre
and post rows, one row per unit and period, positive exposure) and returns the analysed rows as
arrays (:class:`DidInputs`). Every problem raises a ValueError that names the column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

__all__ = [
    "DidColumns",
    "DidInputs",
    "as_binary",
    "check_columns",
    "crude_rates",
    "prepare_inputs",
]


@dataclass(frozen=True)
class DidColumns:
    """The column of every role in a :func:`evalkit.stats.did.did` call (None: not given)."""

    outcome: str
    unit: str
    time: str
    treated: str
    post: str
    cluster: str | tuple[str, ...] | None
    exposure: str | None
    weights: str | None
    covariates: tuple[str, ...] = ()

    @property
    def cluster_cols(self) -> tuple[str, ...]:
        """The cluster column(s) used: ``cluster`` (one, or two for two-way), else ``unit``."""
        if self.cluster is None:
            return (self.unit,)
        return (self.cluster,) if isinstance(self.cluster, str) else tuple(self.cluster)

    @property
    def cluster_col(self) -> str | list[str]:
        """The cluster as recorded in a spec: one column name, or the two of a two-way."""
        cols = self.cluster_cols
        return cols[0] if len(cols) == 1 else list(cols)

    def named(self) -> dict[str, str | None]:
        """Role to column, covariates as ``covariates[i]`` (two-way clusters as ``cluster[i]``)."""
        named: dict[str, str | None] = {
            "outcome": self.outcome,
            "unit": self.unit,
            "time": self.time,
            "treated": self.treated,
            "post": self.post,
        }
        if self.cluster is None or isinstance(self.cluster, str):
            named["cluster"] = self.cluster
        else:
            named.update({f"cluster[{i}]": c for i, c in enumerate(self.cluster)})
        named.update({"exposure": self.exposure, "weights": self.weights})
        named.update({f"covariates[{i}]": c for i, c in enumerate(self.covariates)})
        return named


@dataclass(frozen=True, eq=False)
class DidInputs:
    """The analysed rows of a panel, as arrays in row order.

    Attributes
    ----------
    data : pd.DataFrame
        The analysed rows of the used columns.
    y : np.ndarray
        Outcome (float).
    treated, post : np.ndarray
        0/1 indicators (int8).
    unit_codes, time_codes : np.ndarray
        Integer codes of the unit and period (sorted levels).
    time_levels : pd.Index
        The period of each time code.
    exposure : np.ndarray
        Person-time at risk (ones without an exposure column).
    weights : np.ndarray
        Observation weights (ones without a weights column).
    cluster_codes : tuple of np.ndarray
        Integer codes of each cluster dimension (one, or two for two-way clustering).
    """

    data: pd.DataFrame
    y: np.ndarray
    treated: np.ndarray
    post: np.ndarray
    unit_codes: np.ndarray
    time_codes: np.ndarray
    time_levels: pd.Index
    exposure: np.ndarray
    weights: np.ndarray
    cluster_codes: tuple[np.ndarray, ...]


def as_binary(values: pd.Series, name: str, role: str) -> np.ndarray:
    """0/1 integer array from a 0/1 or boolean column, or a ValueError naming the column."""
    if is_bool_dtype(values):
        return values.to_numpy(dtype=np.int8)
    if not is_numeric_dtype(values):
        raise ValueError(
            f"{role} column {name!r} must be 0/1 or boolean; it has dtype {values.dtype}"
        )
    arr = values.to_numpy(dtype=float)
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        found = sorted(set(np.unique(arr[bad]).tolist()))[:5]
        raise ValueError(
            f"{role} column {name!r} must be binary (0/1); found other values, e.g. {found}"
        )
    return arr.astype(np.int8)


def check_columns(panel: pd.DataFrame, named: dict[str, str | None]) -> None:
    """Raise a ValueError listing every named column that is not in ``panel``."""
    missing = [
        f"{role}={col!r}" for role, col in named.items() if col is not None and col not in panel
    ]
    if missing:
        cols = list(map(str, panel.columns))
        shown = ", ".join(cols[:30]) + (", ..." if len(cols) > 30 else "")
        raise ValueError(f"unknown column(s): {'; '.join(missing)}; the panel has: {shown}")


def crude_rates(
    y: np.ndarray,
    tr: np.ndarray,
    post: np.ndarray,
    units: np.ndarray,
    pt: np.ndarray,
    w: np.ndarray,
) -> pd.DataFrame:
    """Units, events, person-time and their ratio per group and period (weighted sums).

    Rows in the order treated pre, treated post, control pre, control post; combinations
    without rows are left out.
    """
    frame = pd.DataFrame(
        {
            "group": np.where(tr == 1, "treated", "control"),
            "period": np.where(post == 1, "post", "pre"),
            "unit": units,
            "events": w * y,
            "person_time": w * pt,
        }
    )
    out = frame.groupby(["group", "period"], sort=False).agg(
        n_units=("unit", "nunique"), events=("events", "sum"), person_time=("person_time", "sum")
    )
    out["rate"] = out["events"] / out["person_time"]
    order = pd.MultiIndex.from_product([["treated", "control"], ["pre", "post"]])
    return out.reindex(order).dropna(how="all").rename_axis(["group", "period"]).reset_index()


# ---------------------------------------------------------------------- rows analysed
def _drop_missing(data: pd.DataFrame, used: list[str], notes: list[str]) -> pd.DataFrame:
    """Leave out rows with a missing value in a used column, with a note."""
    na = data.isna()
    if na.to_numpy().any():
        bad_cols = [c for c in used if na[c].any()]
        n_na = int(na.any(axis=1).sum())
        notes.append(
            f"{n_na:,} row(s) with a missing value in {', '.join(map(repr, bad_cols))} were left "
            "out."
        )
        data = data.loc[~na.any(axis=1)]
    if data.empty:
        raise ValueError("no rows left to analyse (every row has a missing value)")
    return data


def _apply_weights(data: pd.DataFrame, weights: str, notes: list[str]) -> pd.DataFrame:
    """Check the weights column and leave out rows of weight 0, with notes."""
    if not is_numeric_dtype(data[weights]):
        raise ValueError(f"weights column {weights!r} must be numeric")
    wv = data[weights].to_numpy(dtype=float)
    if (wv < 0).any() or not np.isfinite(wv).all():
        raise ValueError(f"weights column {weights!r} must be finite and non-negative")
    if (wv == 0).any():
        notes.append(f"{int((wv == 0).sum()):,} row(s) with weight 0 were left out.")
        data = data.loc[wv > 0]
    notes.append(f"Observations weighted by {weights!r}.")
    if data.empty:
        raise ValueError(f"no rows left to analyse: every weight in {weights!r} is 0")
    return data


def _outcome_values(data: pd.DataFrame, outcome: str, model: str) -> np.ndarray:
    """The outcome as floats: finite, and non-negative for the Poisson model."""
    y = data[outcome].to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(f"outcome column {outcome!r} has infinite values")
    if model == "poisson" and (y < 0).any():
        raise ValueError(
            f"outcome column {outcome!r} has negative values: the Poisson model needs y >= 0"
        )
    return y


# ---------------------------------------------------------------------- design checks
def _check_treated_by_unit(
    data: pd.DataFrame, cols: DidColumns, tr: np.ndarray, unit_codes: np.ndarray
) -> None:
    """``treated`` constant within unit, and both treated and control units present."""
    n_unit_levels = int(unit_codes.max()) + 1
    tr_min = np.full(n_unit_levels, 2, dtype=np.int8)
    tr_max = np.full(n_unit_levels, -1, dtype=np.int8)
    np.minimum.at(tr_min, unit_codes, tr)
    np.maximum.at(tr_max, unit_codes, tr)
    mixed = tr_min != tr_max
    if mixed.any():
        examples = pd.unique(data[cols.unit].to_numpy()[mixed[unit_codes]])[:3].tolist()
        raise ValueError(
            f"treated column {cols.treated!r} is not constant within unit {cols.unit!r}: "
            f"{int(mixed.sum()):,} unit(s) have both 0 and 1 (e.g. {examples})"
        )
    if (tr_max == 1).sum() == 0:
        raise ValueError(f"no treated units: {cols.treated!r} is 0 for every analysed row")
    if (tr_max == 0).sum() == 0:
        raise ValueError(f"no control units: {cols.treated!r} is 1 for every analysed row")


def _check_pre_and_post(post: str, tr: np.ndarray, po: np.ndarray) -> None:
    """Both the treated and the control units have pre-period and post-period rows."""
    if (po[tr == 1] == 1).all() or (po[tr == 1] == 0).all():
        which = "post" if (po[tr == 1] == 0).all() else "pre"
        raise ValueError(
            f"the treated units have no {which}-period rows ({post!r} is "
            f"{1 - int(which == 'post')} in every treated row)"
        )
    if (po[tr == 0] == 1).all() or (po[tr == 0] == 0).all():
        which = "post" if (po[tr == 0] == 0).all() else "pre"
        raise ValueError(f"the control units have no {which}-period rows")


def _check_one_row_per_period(
    cols: DidColumns, unit_codes: np.ndarray, time_codes: np.ndarray
) -> None:
    """No repeated (unit, time) rows."""
    keys = unit_codes.astype(np.int64) * (int(time_codes.max()) + 1) + time_codes
    if len(np.unique(keys)) != len(keys):
        raise ValueError(
            f"repeated ({cols.unit!r}, {cols.time!r}) rows: a panel has one row per unit and period"
        )


def _exposure_values(
    data: pd.DataFrame, exposure: str | None, model: str, notes: list[str]
) -> np.ndarray:
    """Positive person-time at risk per row (ones without an exposure column), with notes."""
    if exposure is None:
        if model == "poisson":
            notes.append("No exposure given: every row counts as equal person-time at risk.")
        return np.ones(len(data))
    if not is_numeric_dtype(data[exposure]):
        raise ValueError(f"exposure column {exposure!r} must be numeric")
    ex = data[exposure].to_numpy(dtype=float)
    nonpos = ~(ex > 0) | ~np.isfinite(ex)
    if nonpos.any():
        raise ValueError(
            f"exposure column {exposure!r} must be positive person-time at risk: "
            f"{int(nonpos.sum()):,} row(s) are zero, negative or infinite (drop rows with no "
            "time at risk before fitting)"
        )
    if model == "linear":
        notes.append(
            f"Exposure {exposure!r} is used by the Poisson model only; the linear model ignores it."
        )
    return ex


def _cluster_codes(
    data: pd.DataFrame, cols: DidColumns, unit_codes: np.ndarray, notes: list[str]
) -> tuple[np.ndarray, ...]:
    """Integer codes of each cluster dimension, with a note when units are not nested in one."""
    if len(cols.cluster_cols) > 2:
        raise ValueError(f"cluster takes one or two columns, not {len(cols.cluster_cols)}")
    out = []
    for col in cols.cluster_cols:
        cl_codes, _ = pd.factorize(data[col], sort=True)
        if cols.cluster is not None:
            per_unit = pd.Series(cl_codes).groupby(unit_codes).nunique()
            if (per_unit > 1).any():
                notes.append(
                    f"{int((per_unit > 1).sum()):,} unit(s) span more than one cluster of "
                    f"{col!r}: the unit effects are not nested in the clusters."
                )
        out.append(cl_codes)
    return tuple(out)


# ---------------------------------------------------------------------- public entry
def prepare_inputs(
    panel: pd.DataFrame, cols: DidColumns, model: str, notes: list[str]
) -> DidInputs:
    """Check ``panel`` for a difference-in-differences fit and return its analysed rows.

    Parameters
    ----------
    panel : pd.DataFrame
        One row per unit and period; every column of ``cols`` is in it.
    cols : DidColumns
        The column of every role.
    model : {"linear", "poisson"}
        The model to be fitted (the Poisson model needs a non-negative outcome).
    notes : list of str
        Notes are appended to it: rows left out, weights, exposure, clusters.

    Returns
    -------
    DidInputs

    Raises
    ------
    ValueError
        On any of the problems :func:`evalkit.stats.did.did` lists.
    """
    named = cols.named()
    used = list(dict.fromkeys(c for c in named.values() if c is not None))
    data = _drop_missing(panel.loc[:, used], used, notes)
    if not (is_numeric_dtype(data[cols.outcome]) or is_bool_dtype(data[cols.outcome])):
        raise ValueError(
            f"outcome column {cols.outcome!r} must be numeric; it is {data[cols.outcome].dtype}"
        )
    if cols.weights is not None:
        data = _apply_weights(data, cols.weights, notes)
    y = _outcome_values(data, cols.outcome, model)
    tr = as_binary(data[cols.treated], cols.treated, "treated")
    po = as_binary(data[cols.post], cols.post, "post")
    unit_codes, _ = pd.factorize(data[cols.unit], sort=True)
    time_codes, time_levels = pd.factorize(data[cols.time], sort=True)
    _check_treated_by_unit(data, cols, tr, unit_codes)
    _check_pre_and_post(cols.post, tr, po)
    _check_one_row_per_period(cols, unit_codes, time_codes)
    ex = _exposure_values(data, cols.exposure, model, notes)
    cl_codes = _cluster_codes(data, cols, unit_codes, notes)
    w = data[cols.weights].to_numpy(dtype=float) if cols.weights is not None else np.ones(len(data))
    return DidInputs(
        data=data,
        y=y,
        treated=tr,
        post=po,
        unit_codes=unit_codes,
        time_codes=time_codes,
        time_levels=time_levels,
        exposure=ex,
        weights=w,
        cluster_codes=cl_codes,
    )
