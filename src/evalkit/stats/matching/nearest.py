"""Greedy nearest-neighbour propensity-score matching on any DataFrame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import expit

from evalkit.stats.matching.design import (
    ColumnCache,
    Covariate,
    describe_covariates,
    fit_propensity,
)
from evalkit.stats.matching.greedy import REASONS, GreedyResult, greedy_match
from evalkit.stats.matching.result import MatchResult

__all__ = ["AUTO_CONTROL_SAMPLE", "match"]

#: Control rows sampled for the propensity fit when ``propensity_sample="auto"`` applies
#: (the programme config's ``control_sample_size`` default).
AUTO_CONTROL_SAMPLE = 50_000

_DISTANCES = ("logit", "propensity")
_ORDERS = ("largest", "smallest", "random", "data")
_RESERVED = ("subclass", "weight", "distance")


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _label_rank(index: pd.Index) -> np.ndarray:
    """Rank of each row's index label in sorted label order (the tie-breaker)."""
    n = len(index)
    if index.is_monotonic_increasing:
        return np.arange(n)
    try:
        order = index.argsort()
    except TypeError as exc:
        raise ValueError(
            "the index labels cannot be sorted, so ties cannot be broken by label; "
            "reset the index (data.reset_index()) or use sortable labels"
        ) from exc
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def _strata(data: pd.DataFrame, exact: list[str]) -> np.ndarray:
    codes = np.zeros(len(data), dtype=np.int64)
    size = 1
    for col in exact:
        c, uniq = pd.factorize(data[col], sort=False)
        codes = codes * max(len(uniq), 1) + c
        size *= max(len(uniq), 1)
        if size > len(data):  # keep codes dense: the matcher allocates arrays by max code
            codes, uniq_codes = pd.factorize(codes, sort=False)
            size = len(uniq_codes)
    return codes.astype(np.int64)


def _needed_columns(
    treatment: str, covariates: list[str], exact: list[str], distance: str, unit: str | None
) -> list[str]:
    """Columns the call reads, in the order they are named."""
    needed = [treatment, *covariates, *exact]
    if unit is not None:
        needed.append(unit)
    if distance not in _DISTANCES:
        needed.append(distance)
    return needed


def _check_columns(data: pd.DataFrame, needed: list[str], distance: str) -> None:
    """Raise naming every column the data lack (and the distance options when it is one)."""
    missing = [c for c in dict.fromkeys(needed) if c not in data.columns]
    if not missing:
        return
    shown = ", ".join(map(repr, list(data.columns)[:30]))
    raise ValueError(
        f"unknown column(s) {', '.join(map(repr, missing))}; the data have columns {shown}"
        + (" ..." if data.shape[1] > 30 else "")
        + (
            f" (distance must be 'logit', 'propensity' or a column name; got {distance!r})"
            if distance in missing
            else ""
        )
    )


def _check_arguments(
    treatment: str,
    covariates: list[str],
    exact: list[str],
    distance: str,
    ratio: int,
    caliper: float | None,
    m_order: str,
) -> None:
    """Raise on a treatment column that clashes, or a ratio, caliper or order out of range."""
    if treatment in covariates or treatment in exact:
        raise ValueError(f"the treatment column {treatment!r} cannot also be a covariate")
    if treatment in _RESERVED:
        raise ValueError(
            f"the treatment column may not be called {treatment!r}: match() adds columns "
            f"{', '.join(_RESERVED)}"
        )
    if not covariates and distance in _DISTANCES:
        raise ValueError("give at least one covariate for the propensity model")
    if not isinstance(ratio, int | np.integer) or isinstance(ratio, bool) or ratio < 1:
        raise ValueError(f"ratio must be a positive integer, got {ratio!r}")
    if caliper is not None and not (np.isfinite(caliper) and caliper > 0):
        raise ValueError(f"caliper must be a positive number of SDs or None, got {caliper!r}")
    if m_order not in _ORDERS:
        raise ValueError(f"m_order must be one of {', '.join(_ORDERS)}; got {m_order!r}")


def _check_rows(data: pd.DataFrame, needed: list[str]) -> None:
    """Raise on duplicate index labels or missing values in the columns the call reads."""
    if not data.index.is_unique:
        raise ValueError(
            "the index has duplicate labels; match() reports rows by index label, so make it "
            "unique (e.g. data.reset_index(drop=True))"
        )
    cols = list(dict.fromkeys([c for c in needed if c in data.columns]))
    na = [c for c in cols if data[c].isna().any()]
    if na:
        raise ValueError(
            f"missing values in column(s) {', '.join(map(repr, na))}; "
            "drop or impute them before matching"
        )


def _treatment_indicator(data: pd.DataFrame, treatment: str) -> np.ndarray:
    """The boolean treatment indicator; raise unless it is binary with both groups present."""
    t = data[treatment]
    if pd.api.types.is_bool_dtype(t.dtype):
        treated = t.to_numpy(dtype=bool)
    elif pd.api.types.is_numeric_dtype(t.dtype):
        tv = t.to_numpy()
        ok = (tv == 0) | (tv == 1)
        if not ok.all():
            bad = pd.unique(tv[~ok])[:5]
            raise ValueError(
                f"treatment {treatment!r} is not binary: it must be 0/1 or True/False, found "
                f"{', '.join(map(str, bad))}"
            )
        treated = tv == 1
    else:
        raise ValueError(
            f"treatment {treatment!r} is not binary: it must be 0/1 or True/False (dtype {t.dtype})"
        )
    if not treated.any():
        raise ValueError(f"no treated units: no row has {treatment} == 1")
    if treated.all():
        raise ValueError(f"no control units: every row has {treatment} == 1")
    return treated


def _check_inputs(
    data: pd.DataFrame,
    treatment: str,
    covariates: list[str],
    exact: list[str],
    distance: str,
    unit: str | None,
    ratio: int,
    caliper: float | None,
    m_order: str,
) -> np.ndarray:
    """Validate the call; return the boolean treatment indicator."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    needed = _needed_columns(treatment, covariates, exact, distance, unit)
    _check_columns(data, needed, distance)
    _check_arguments(treatment, covariates, exact, distance, ratio, caliper, m_order)
    _check_rows(data, needed)
    return _treatment_indicator(data, treatment)


# ---------------------------------------------------------------------------- the distance
@dataclass(frozen=True)
class _Distance:
    """The matching distance of every row and how it was obtained."""

    values: np.ndarray
    propensity: pd.Series | None
    params: pd.Series | None
    fit_kind: str  # "full", "sampled" or "none" (a column)
    sample_used: int | None
    notes: list[str]


def _control_sample(
    propensity_sample: Literal["auto"] | int | None, n_c: int, sample_controls_above: int
) -> int | None:
    """Control rows to sample for the propensity fit (None: fit on all rows)."""
    if propensity_sample is None:
        control_sample = None
    elif propensity_sample == "auto":
        control_sample = AUTO_CONTROL_SAMPLE
    elif isinstance(propensity_sample, int | np.integer) and propensity_sample >= 1:
        control_sample = int(propensity_sample)
    else:
        raise ValueError(
            f"propensity_sample must be 'auto', a positive integer or None; got "
            f"{propensity_sample!r}"
        )
    if control_sample is not None and n_c <= max(sample_controls_above, control_sample):
        control_sample = None
    return control_sample


def _propensity_distance(
    data: pd.DataFrame,
    treated: np.ndarray,
    covs: list[Covariate],
    distance: str,
    rank: np.ndarray,
    *,
    propensity_sample: Literal["auto"] | int | None,
    sample_controls_above: int,
    seed: int,
) -> _Distance:
    """Fit the propensity model; the distance is its logit or the score itself."""
    n = len(data)
    n_t = int(treated.sum())
    n_c = n - n_t
    control_sample = _control_sample(propensity_sample, n_c, sample_controls_above)
    fit = fit_propensity(
        ColumnCache(data), covs, treated, control_sample=control_sample, label_rank=rank, seed=seed
    )
    notes = list(fit.notes)
    if fit.sampled:
        fit_kind, sample_used = "sampled", control_sample
        notes.append(
            f"Propensity model fitted on all {n_t} treated rows and a random sample of "
            f"{control_sample} of {n_c} control rows (fraction {fit.sampling_fraction:.4g}, "
            f"seed {seed}); intercept corrected by log(fraction) = "
            f"{np.log(fit.sampling_fraction):.4f} (case-control sampling)."
        )
    else:
        fit_kind, sample_used = "full", None
        notes.append(f"Propensity model fitted on all {n} rows.")
    eta = fit.linear_predictor
    prop = pd.Series(expit(eta), index=data.index, name="propensity")
    d = eta if distance == "logit" else prop.to_numpy()
    return _Distance(
        np.asarray(d, dtype=np.float64), prop, fit.params, fit_kind, sample_used, notes
    )


def _column_distance(data: pd.DataFrame, distance: str) -> _Distance:
    """The distance read from a numeric column (no model)."""
    col = data[distance]
    if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        raise ValueError(f"distance column {distance!r} must be numeric")
    d = col.to_numpy(dtype=np.float64)
    note = f"Distance taken from column '{distance}'; no propensity model fitted."
    return _Distance(np.asarray(d, dtype=np.float64), None, None, "none", None, [note])


def _check_overlap(d: np.ndarray, treated: np.ndarray) -> None:
    """Raise on a non-finite distance or one whose groups do not overlap at all."""
    if not np.isfinite(d).all():
        raise ValueError("the distance has non-finite values (check the covariates' scale)")
    dt, dc = d[treated], d[~treated]
    if dt.min() > dc.max() or dt.max() < dc.min():
        raise ValueError(
            "no overlap: the distance of every treated row lies "
            f"{'above' if dt.min() > dc.max() else 'below'} that of every control row "
            f"(treated {dt.min():.4g} to {dt.max():.4g}, controls {dc.min():.4g} to "
            f"{dc.max():.4g})"
        )


def _caliper_width(d: np.ndarray, caliper: float | None) -> tuple[float | None, list[str]]:
    """The caliper on the distance scale (``caliper`` times the SD over all rows) and its note."""
    if caliper is None:
        return None, []
    sd = float(np.std(d, ddof=1))
    width = float(caliper) * sd
    note = (
        f"Caliper {caliper} SD of the distance (SD {sd:.4g} over all {d.shape[0]} rows) = "
        f"{width:.4g}."
    )
    return width, [note]


# ---------------------------------------------------------------------------- the matcher
def _treated_order(
    d: np.ndarray, t_rows: np.ndarray, rank: np.ndarray, m_order: str, seed: int
) -> np.ndarray:
    """Row positions of the treated rows in the order a round takes them."""
    if m_order == "largest":
        return t_rows[np.lexsort((rank[t_rows], -d[t_rows]))]
    if m_order == "smallest":
        return t_rows[np.lexsort((rank[t_rows], d[t_rows]))]
    if m_order == "random":
        by_label = t_rows[np.argsort(rank[t_rows], kind="stable")]
        return by_label[np.random.default_rng(seed).permutation(by_label.shape[0])]
    return t_rows


def _check_any_matched(g: GreedyResult) -> None:
    """Raise, with the reasons, when no treated row found a control."""
    if g.treated.size == 0:
        counts = pd.Series(g.reason).value_counts()
        detail = "; ".join(f"{REASONS[k]}: {v}" for k, v in counts.items())
        raise ValueError(
            "no treated unit found a control (no controls inside the caliper or exact strata "
            f"for any treated unit): {detail}"
        )


# ---------------------------------------------------------------------------- the result
def _att_weights(
    g: GreedyResult, t_rows: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MatchIt's ATT weights per row, the matched treated rows and the distinct controls used."""
    n_per_t = np.zeros(n, dtype=np.int64)
    np.add.at(n_per_t, g.treated, 1)
    weight = np.zeros(n)
    matched_t = t_rows[g.n_matches > 0]
    weight[matched_t] = 1.0
    np.add.at(weight, g.control, 1.0 / n_per_t[g.treated])
    ctrl_used = np.unique(g.control)
    weight[ctrl_used] *= ctrl_used.size / weight[ctrl_used].sum()
    return weight, matched_t, ctrl_used


def _subclass_of(
    g: GreedyResult, matched_t: np.ndarray, rank: np.ndarray, n: int, replace: bool
) -> np.ndarray:
    """Matched-set number per row, 1, 2, ... in treated label order (all 0 with replacement)."""
    sub_of = np.zeros(n, dtype=np.int64)
    if not replace:
        by_label = matched_t[np.argsort(rank[matched_t], kind="stable")]
        sub_of[by_label] = np.arange(1, by_label.size + 1)
        sub_of[g.control] = sub_of[g.treated]
    return sub_of


def _matched_frame(
    data: pd.DataFrame,
    treatment: str,
    rows: np.ndarray,
    sub_of: np.ndarray,
    weight: np.ndarray,
    d: np.ndarray,
    replace: bool,
) -> pd.DataFrame:
    """One row per matched row: treatment, ``subclass`` (NA with replacement), weight, distance."""
    subclass = pd.arrays.IntegerArray(sub_of[rows], np.full(rows.size, replace))
    return pd.DataFrame(
        {
            treatment: data[treatment].iloc[rows].to_numpy(),
            "subclass": subclass,
            "weight": weight[rows],
            "distance": d[rows],
        },
        index=data.index[rows],
    )


def _pairs_frame(
    idx: pd.Index, g: GreedyResult, sub_of: np.ndarray, rank: np.ndarray, replace: bool
) -> pd.DataFrame:
    """One row per pair, in treated label order then round."""
    pair_sub = pd.arrays.IntegerArray(sub_of[g.treated], np.full(g.treated.size, replace))
    pairs = pd.DataFrame(
        {
            "treated": idx[g.treated],
            "control": idx[g.control],
            "round": g.round,
            "subclass": pair_sub,
        }
    )
    return pairs.iloc[np.lexsort((g.round, rank[g.treated]))].reset_index(drop=True)


def _unmatched_frame(
    data: pd.DataFrame, g: GreedyResult, t_rows: np.ndarray, d: np.ndarray, exact: list[str]
) -> pd.DataFrame:
    """Treated rows with no control: distance, exact-matching columns and reason."""
    un = g.n_matches == 0
    un_rows = t_rows[un]
    unmatched = pd.DataFrame({"distance": d[un_rows]}, index=data.index[un_rows])
    for col in exact:
        unmatched[col] = data[col].iloc[un_rows].to_numpy()
    unmatched["reason"] = g.reason[un].astype(str) if un.any() else pd.Series(dtype=str)
    return unmatched


def _outcome_notes(
    unmatched: pd.DataFrame, g: GreedyResult, n_t: int, ratio: int, unit: str | None
) -> list[str]:
    """Notes on unmatched and partly matched treated rows and on the unit rule."""
    notes = []
    if len(unmatched):
        counts = unmatched["reason"].value_counts()
        detail = "; ".join(f"{v} because {REASONS[k]}" for k, v in counts.items())
        notes.append(f"{len(unmatched)} of {n_t} treated rows found no control: {detail}.")
    partial = int(((g.n_matches > 0) & (g.n_matches < ratio)).sum())
    if partial:
        notes.append(f"{partial} matched treated rows found fewer than {ratio} controls.")
    if unit is not None:
        notes.append(
            f"Rows sharing '{unit}' supplied at most one control row, and no treated row was "
            "matched to a row of its own unit."
        )
    return notes


def _as_float_time(col: pd.Series, name: str) -> np.ndarray:
    """A numeric or datetime column as float (days for datetimes); missing values as inf."""
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        v = col.to_numpy(dtype="datetime64[ns]")
        out = (v.astype("datetime64[D]").astype(np.int64)).astype(np.float64)
        out[np.isnat(v)] = np.inf
        return out
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.to_numpy(dtype=np.float64, na_value=np.inf)
    raise ValueError(f"column {name!r} must be numeric or datetime, got dtype {col.dtype}")


def _availability(
    data: pd.DataFrame, treated: np.ndarray, time: str | None, available_until: str | None
) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
    """The ``time`` / ``available_until`` arrays of :func:`match` (both or neither)."""
    if (time is None) != (available_until is None):
        raise ValueError("give time and available_until together (or neither)")
    if time is None or available_until is None:
        return None, None, []
    for c in (time, available_until):
        if c not in data.columns:
            raise ValueError(f"column {c!r} is not in data")
    t = _as_float_time(data[time], time)
    if np.isinf(t[treated]).any():
        raise ValueError(f"missing values in {time!r} for treated rows")
    until = _as_float_time(data[available_until], available_until)
    limited = int(np.isfinite(until[~treated]).sum())
    notes = (
        [
            f"A control row served only treated rows whose '{time}' is before its "
            f"'{available_until}' ({limited:,} control rows have one)."
        ]
        if limited
        else []
    )
    return t, until, notes


def match(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    exact: Sequence[str] | None = None,
    ratio: int = 1,
    caliper: float | None = 0.2,
    replace: bool = False,
    distance: str = "logit",
    unit: str | None = None,
    *,
    time: str | None = None,
    available_until: str | None = None,
    m_order: Literal["largest", "smallest", "random", "data"] = "largest",
    propensity_sample: Literal["auto"] | int | None = "auto",
    sample_controls_above: int = 100_000,
    seed: int = 20240401,
) -> MatchResult:
    """Greedy nearest-neighbour matching on a propensity score, as MatchIt's ``method="nearest"``.

    Estimates each row's propensity score by logistic regression of ``treatment`` on
    ``covariates``, then gives every treated row up to ``ratio`` controls from its exact stratum,
    nearest on the distance and within the caliper. Works on any DataFrame; rows are reported
    by index label.

    Parameters
    ----------
    data : pd.DataFrame
        One row per candidate (treated or control); the index labels must be unique and
        sortable (they break ties).
    treatment : str
        Binary column, 1/True for treated rows.
    covariates : sequence of str
        Columns of the propensity model and the balance table. Numeric and bool columns enter as
        they are; object, string and category columns are one-hot encoded (first level as
        reference in the model, every level in the balance table). A covariate that is constant
        in the data, or a term collinear with earlier ones, is dropped from the model with a
        note.
    exact : sequence of str, optional
        Columns on which treated rows and their controls must agree exactly.
    ratio : int, default 1
        Controls per treated row (k:1).
    caliper : float or None, default 0.2
        Largest allowed ``abs(d_c - d_t)`` in standard deviations of the distance; the SD is the
        sample SD over all rows of ``data`` (which are the rows the model describes; with a
        sampled fit it is still taken over all rows). ``None``: no caliper.
    replace : bool, default False
        Whether a control row may be matched to several treated rows.
    distance : str, default "logit"
        ``"logit"``: the logit of the propensity score (Austin's recommendation for calipers);
        ``"propensity"``: the score itself (MatchIt's default); or the name of a numeric column
        holding a precomputed distance (no model is fitted).
    unit : str, optional
        Column identifying units that own several rows (a person on several risk-set months).
        A unit supplies at most one control row overall (with replacement, that row may be
        reused), and a treated row never takes a control of its own unit.
    time, available_until : str, optional
        Given together: a control row may serve a treated row only when the treated row's
        ``time`` is strictly earlier than the control row's ``available_until`` (numeric or
        datetime columns; a missing ``available_until`` means always available). For risk sets
        coarser than a day: a candidate who is treated later in the same period can be a control
        for the treated rows before that moment, never for those on or after it.
    m_order : {"largest", "smallest", "random", "data"}, default "largest"
        Order of treated rows within a round: descending distance (MatchIt's default for a
        propensity score), ascending, random (seeded, from label order) or input order (the
        only option that depends on row order).
    propensity_sample : "auto", int or None, default "auto"
        Fit the propensity model on every treated row plus a seeded random sample of control
        rows, with the intercept corrected by ``log(f)`` (``f`` the sampling fraction of
        controls; case-control sampling). Sampling happens only when there are more than
        ``sample_controls_above`` control rows; ``"auto"`` samples 50,000 control rows, an
        integer that many, ``None`` always fits on all rows. The notes say which was done.
    sample_controls_above : int, default 100_000
        Control-row count above which ``propensity_sample`` applies.
    seed : int, default 20240401
        Seed for the control sample and for ``m_order="random"``.

    Returns
    -------
    MatchResult
        Matched rows, unmatched treated rows with reasons, pairs, balance and notes.

    Raises
    ------
    ValueError
        Unknown column, missing values, non-binary treatment, no treated or no control rows,
        no overlap of the distance between groups, or no treated row with a control in its
        stratum and caliper.

    Notes
    -----
    *Rounds.* As in MatchIt, controls are chosen in ``ratio`` rounds: every treated row's first
    control, then every treated row's second, and so on; within a round treated rows are taken
    in ``m_order`` (ties in distance by ascending index label). The pool only shrinks, so a
    treated row that finds no control in a round finds none later.

    *Nearest and ties.* The nearest eligible control minimises ``abs(d_c - d_t)`` computed
    exactly; among equidistant controls the one with the smaller distance value wins (as in
    MatchIt, which prefers the control to the left), then the one whose index label sorts
    first. The rule never uses row order, so permuting the rows leaves the result unchanged.
    The caliper test is ``abs(d_c - d_t) <= width`` in floating point.

    *Weights (ATT, as MatchIt).* A matched treated row weighs 1. Each control receives
    ``1 / (number of controls in the set)`` from every matched set it belongs to; control
    weights are then scaled so they sum to the number of distinct matched controls. With k:1
    matching and every treated row given k controls, every weight is 1.

    *Performance.* Controls of each exact stratum are sorted once by (distance, label); each
    treated row's neighbours are found by binary search and used controls are skipped with
    "next available" maps, so matching costs ``O((n + k m) log n)`` for n controls and m
    treated rows; no distance matrix is built.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"x": rng.normal(size=200)})
    >>> df["treat"] = (rng.random(200) < 1 / (1 + np.exp(1 - df["x"]))).astype(int)
    >>> m = match(df, treatment="treat", covariates=["x"], caliper=None)
    >>> m.n_matched_treated == m.n_treated
    True
    """
    covariates = _as_list(covariates)
    exact = _as_list(exact)
    treated = _check_inputs(
        data, treatment, covariates, exact, distance, unit, ratio, caliper, m_order
    )
    n = len(data)
    n_t = int(treated.sum())
    rank = _label_rank(data.index)
    covs = describe_covariates(data, covariates)
    if distance in _DISTANCES:
        dist = _propensity_distance(
            data,
            treated,
            covs,
            distance,
            rank,
            propensity_sample=propensity_sample,
            sample_controls_above=sample_controls_above,
            seed=seed,
        )
    else:
        dist = _column_distance(data, distance)
    d = dist.values
    _check_overlap(d, treated)
    width, caliper_notes = _caliper_width(d, caliper)

    strata = _strata(data, exact) if exact else np.zeros(n, dtype=np.int64)
    unit_codes = pd.factorize(data[unit])[0].astype(np.int64) if unit is not None else None
    t_rows = np.flatnonzero(treated)
    t_arr, until_arr, until_notes = _availability(data, treated, time, available_until)
    g = greedy_match(
        d,
        treated,
        strata,
        rank,
        _treated_order(d, t_rows, rank, m_order, seed),
        ratio=ratio,
        caliper_width=width,
        replace=replace,
        unit=unit_codes,
        time=t_arr,
        available_until=until_arr,
    )
    _check_any_matched(g)

    weight, matched_t, ctrl_used = _att_weights(g, t_rows, n)
    sub_of = _subclass_of(g, matched_t, rank, n, replace)
    rows = np.sort(np.concatenate([matched_t, ctrl_used]))
    unmatched = _unmatched_frame(data, g, t_rows, d, exact)
    spec = {
        "method": "nearest",
        "estimand": "ATT",
        "treatment": treatment,
        "covariates": covariates,
        "exact": exact,
        "ratio": int(ratio),
        "caliper": None if caliper is None else float(caliper),
        "replace": bool(replace),
        "distance": distance,
        "unit": unit,
        "time": time,
        "available_until": available_until,
        "m_order": m_order,
        "propensity_sample": propensity_sample,
        "propensity_fit": dist.fit_kind,
        "control_sample_size": dist.sample_used,
        "sample_controls_above": int(sample_controls_above),
        "seed": int(seed),
    }
    notes = [
        *dist.notes,
        *caliper_notes,
        *until_notes,
        *_outcome_notes(unmatched, g, n_t, ratio, unit),
    ]
    return MatchResult(
        matched=_matched_frame(data, treatment, rows, sub_of, weight, d, replace),
        unmatched=unmatched,
        pairs=_pairs_frame(data.index, g, sub_of, rank, replace),
        distance=pd.Series(d, index=data.index, name="distance"),
        propensity=dist.propensity,
        propensity_params=dist.params,
        n_treated=n_t,
        n_controls=n - n_t,
        n_matched_treated=int(matched_t.size),
        n_controls_matched=int(ctrl_used.size),
        caliper_width=width,
        spec=spec,
        notes=tuple(notes),
        data=data,
        described_covariates=tuple(covs),
    )
