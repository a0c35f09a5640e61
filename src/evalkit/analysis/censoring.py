"""The target trial's censoring and stacked time effects on a matched person-month panel.

Each referral date opens a trial (docs/design/methods.md section 1): a matched control stands for
"not referred now" only until it is referred itself. From the event month containing its own
referral (``censor_month`` of :func:`evalkit.cohort.build_panel`) a control's rows are not
observed, and the controls still observed are re-weighted by the inverse probability of having
stayed unreferred so far (:func:`evalkit.ipcw`): a monthly pooled-logistic hazard of referral
over control unit-months m >= 0, on the index covariates (as the propensity model enters them,
prior-use counts as ``log1p``) and ``log1p`` of the last 3 months' use (all settings summed, from
the panel, so it moves with the pre-referral rise). The outcome model's weight,
``analysis_weight``, is the matching weight (``weight``, constant within a unit, as the other
analyses of the panel expect it) times that weight on follow-up rows (1 on baseline rows and for
participants).

Time effects are specific to each index month's sub-experiment: the ``stack_time`` column is
index month x event month, and matched sets share their participant's index month. The choices
and what they assume are in docs/decisions/censoring.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from evalkit.cohort import Cohort
from evalkit.stats.censoring import IpcwResult, ipcw
from evalkit.stats.matching import MatchResult

__all__ = [
    "ANALYSIS_WEIGHT",
    "COHORT_OPTIONS",
    "DESIGNS",
    "ESTIMANDS",
    "RECENT_USE",
    "UNCENSORED_ESTIMAND",
    "Censored",
    "censor_panel",
    "censoring_covariates",
    "censoring_rows",
    "cohort_options",
    "index_covariates",
    "rate_ratio_not_estimable",
    "recent_use",
    "stack_time",
]

#: The designs :func:`evalkit.analysis.utilisation.matched_cohort` builds.
DESIGNS: tuple[str, ...] = ("target_trial", "legacy")
#: What each design estimates (results.json ``utilisation[].estimand``).
ESTIMANDS: dict[str, str] = {
    "target_trial": "referral now vs not now, controls censored at own referral (IPCW)",
    "legacy": (
        "referral vs not referred by the start of the index month, controls followed whatever "
        "happens (against usual care, which may include later referral)"
    ),
}
#: The estimand of the target trial's sensitivity analysis without censoring.
UNCENSORED_ESTIMAND = (
    "referral now vs not now, controls not censored (against usual care, which may include "
    "later referral)"
)
#: The outcome model's weight column of a target-trial panel (matching x censoring weight).
ANALYSIS_WEIGHT = "analysis_weight"
#: Months of use before an event month that the censoring model's time-varying term sums.
RECENT_USE = 3
#: Name of the time-varying covariate of the censoring model.
RECENT_USE_COLUMN = f"log1p_use_{RECENT_USE}m"


#: Options of :func:`evalkit.cohort.build_cohort` for each design: the target trial's weekly risk
#: sets and day-after event months are the cohort layer's defaults; the legacy design is the one
#: before it (risk sets by calendar month, month 0 starting on the index date).
COHORT_OPTIONS: dict[str, dict[str, str]] = {
    "target_trial": {},
    "legacy": {"risk_set": "month", "event_months": "index"},
}


def cohort_options(design: str, build_cohort: Callable[..., Any]) -> dict[str, str]:
    """The design's options (:data:`COHORT_OPTIONS`) that ``build_cohort`` takes."""
    takes = set(inspect.signature(build_cohort).parameters)
    return {k: v for k, v in COHORT_OPTIONS[design].items() if k in takes}


def stack_time(panel: pd.DataFrame) -> pd.Series:
    """Index month x event month (``"2024-03:+05"``): one set of time effects per sub-experiment.

    ``index_month`` is the participant's (controls inherit it with the index date); a panel
    without the column takes it from the (inherited) ``index_date``.
    """
    if "index_month" in panel:
        month = panel["index_month"].astype(str)
    else:
        month = pd.to_datetime(panel["index_date"]).dt.strftime("%Y-%m")
    em = panel["event_month"].astype(int)
    return month + ":" + em.map("{:+03d}".format)


def recent_use(panel: pd.DataFrame, settings: list[str], months: int = RECENT_USE) -> pd.Series:
    """Events in all ``settings`` in the ``months`` event months before each row's month.

    The panel holds every event month of a unit (months with no person-time count 0), so the
    sum over the previous rows of the same unit is the sum over the previous months.
    """
    total = panel[settings].sum(axis=1).astype(float)
    by_unit = total.groupby(panel["unit"], sort=False)
    out = pd.Series(0.0, index=total.index)
    for k in range(1, months + 1):
        out += by_unit.shift(k).fillna(0.0)  # before the panel's first month: nothing known
    return out


def rate_ratio_not_estimable(p: pd.DataFrame, setting: str, time: str, min_events: int) -> str:
    """Why the Poisson DiD on these rows would be degenerate, or "" when it is not.

    Participants need at least ``min_events`` events in the baseline and in the follow-up.
    With stacked time effects (one per index month x event month) they also need that many in
    sub-experiment months where the controls have events too: a participant's event in a
    month in which its sub-experiment's controls have none is absorbed by that month's effect
    only as the rate ratio runs off to infinity (the fixed-effects Poisson estimate does not
    exist; at demo size children's emergency admissions did this).
    """
    treated = p[p["referred"] == 1]
    events = treated.groupby("post")[setting].sum()
    fewest = int(min(events.get(0, 0), events.get(1, 0)))
    if fewest < min_events:
        period = "baseline" if events.get(0, 0) <= events.get(1, 0) else "follow-up"
        return f"participants had {fewest} event(s) in the {period} period, fewer than {min_events}"
    if time == "event_month":
        return ""
    by_cell = p.groupby([time, "referred"], observed=True)[setting].sum().unstack(fill_value=0)
    controls = by_cell[0] if 0 in by_cell else pd.Series(0, index=by_cell.index)
    shared = by_cell.index[(controls > 0).to_numpy()]
    in_shared = treated[treated[time].isin(shared)].groupby("post")[setting].sum()
    fewest = int(min(in_shared.get(0, 0), in_shared.get(1, 0)))
    if fewest < min_events:
        period = "baseline" if in_shared.get(0, 0) <= in_shared.get(1, 0) else "follow-up"
        return (
            f"{fewest} of the participants' {period} events fall in sub-experiment months "
            f"where the matched controls have any, fewer than {min_events}"
        )
    return ""


def censoring_rows(panel: pd.DataFrame) -> pd.DataFrame:
    """Control unit-months at risk of censoring: months 0 .. ``censor_month`` (or the last).

    Each control unit from event month 0 to the month of its own referral (``censored`` 1
    there), or to the panel's last month when it is not referred in it; months with no
    person-time are left out unless they are the month of the referral.
    """
    c = panel["censor_month"].astype("Float64").to_numpy(dtype=float, na_value=np.inf)
    em = panel["event_month"].to_numpy()
    ctrl = panel["referred"].to_numpy() == 0
    censored = em == c
    keep = ctrl & (em >= 0) & (em <= c) & ((panel["exposure"].to_numpy() > 0) | censored)
    out = panel.loc[keep].copy()
    out["censored"] = censored[keep].astype(np.int8)
    return out


@dataclass(frozen=True)
class Censored:
    """A matched panel after censoring, with its weights and what was censored.

    Attributes
    ----------
    panel : pd.DataFrame
        The panel without the controls' rows from ``censor_month`` on, with ``stack_time``,
        ``ipcw`` (1 on baseline rows and for participants) and ``analysis_weight`` = the
        matching ``weight`` x ``ipcw`` (the outcome model's weight).
    uncensored : pd.DataFrame
        The whole panel with ``stack_time`` and the matching weight (the sensitivity analysis
        "controls not censored").
    ipcw : IpcwResult
        The censoring model and weights.
    n_controls : int
        Matched control units.
    n_censored : int
        Of them, referred to the programme within the panel's follow-up (censored).
    n_control_rows, n_censored_rows : int
        Control follow-up person-months (month 0 on, with person-time), and those dropped.
    """

    panel: pd.DataFrame
    uncensored: pd.DataFrame
    ipcw: IpcwResult
    n_controls: int
    n_censored: int
    n_control_rows: int
    n_censored_rows: int

    @property
    def share(self) -> float:
        """Share of matched control units censored."""
        return self.n_censored / self.n_controls if self.n_controls else float("nan")

    @property
    def rows_share(self) -> float:
        """Share of control follow-up person-months dropped by censoring."""
        return self.n_censored_rows / self.n_control_rows if self.n_control_rows else float("nan")


def censor_panel(
    panel: pd.DataFrame,
    index_covariates: pd.DataFrame,
    settings: list[str],
    *,
    truncate: tuple[float, float] | None = (0.01, 0.99),
    before_referral: pd.DataFrame | None = None,
) -> Censored:
    """Censor controls at their own referral and weight the rest (module docstring).

    With ``before_referral`` (:func:`evalkit.cohort.followup_before_own_referral`) a control
    is censored at the day of its referral: its censor month keeps the days before the
    referral (counts and person-time from ``before_referral``), with the censoring weight of
    the month before (it was uncensored at the month's start), and later months are dropped.
    Without it the whole censor month is dropped (the earlier, month-level rule, which drops
    the pre-referral rise in use that led to the referral: censoring on the outcome).

    Parameters
    ----------
    panel : pd.DataFrame
        From :func:`evalkit.cohort.build_panel` on matched rows: ``unit``, ``referred``,
        ``event_month``, ``exposure``, ``weight`` (matching), the ``settings`` counts,
        ``censor_month`` (nullable: the event month of a control's own referral, 0 when on or
        before the inherited index date) and ``index_month`` (or ``index_date``).
    index_covariates : pd.DataFrame
        Indexed by ``unit``: the censoring model's index covariates, numeric or categorical,
        measured at each unit's (inherited) index date.
    settings : list of str
        Count columns summed into the last 3 months' use.
    truncate : (float, float) or None
        Passed to :func:`evalkit.ipcw`.
    before_referral : pd.DataFrame, optional
        ``unit``, ``event_month`` and the panel's count, ``total_cost`` and ``exposure``
        columns of censored controls' rows from their censor month on, ending at the referral.
    """
    if "censor_month" not in panel:
        raise ValueError(
            "the panel has no 'censor_month' column (the cohort layer's event month of each "
            "control's own referral): the target-trial design needs it"
        )
    base = panel.copy()
    base["stack_time"] = stack_time(base)
    base[RECENT_USE_COLUMN] = np.log1p(recent_use(base, settings))
    rows = censoring_rows(base)
    covariates = list(index_covariates.columns)
    data = rows.drop(columns=[c for c in covariates if c in rows]).join(index_covariates, on="unit")
    res = ipcw(
        data, "unit", "event_month", "censored", [*covariates, RECENT_USE_COLUMN], truncate=truncate
    )
    # Observed control follow-up rows take their cumulative weight; rows the model did not see
    # (months with no person-time) carry the unit's last weight; everything else weighs 1.
    base["ipcw"] = np.nan
    base.loc[res.weights.index, "ipcw"] = res.weights
    follow = (base["referred"] == 0) & (base["event_month"] >= 0)
    base.loc[follow, "ipcw"] = base.loc[follow].groupby("unit")["ipcw"].ffill()
    base["ipcw"] = base["ipcw"].fillna(1.0)
    c = base["censor_month"].astype("Float64").to_numpy(dtype=float, na_value=np.inf)
    em = base["event_month"].to_numpy()
    ctrl = base["referred"].to_numpy() == 0
    follow_rows = follow.to_numpy() & (base["exposure"].to_numpy() > 0)
    if before_referral is None:
        dropped = ctrl & (em >= c)
        out = base.loc[~dropped].copy()
    else:
        dropped = ctrl & (em > c)
        part = ctrl & (em == c)
        out = base.copy()
        # The censor month's days before the referral, weighted as uncensored at its start.
        out.loc[part, "ipcw"] = np.nan
        out.loc[follow, "ipcw"] = out.loc[follow].groupby("unit")["ipcw"].ffill()
        out["ipcw"] = out["ipcw"].fillna(1.0)
        cut = before_referral.set_index(["unit", "event_month"])
        key = pd.MultiIndex.from_arrays(
            [out.loc[part, "unit"].to_numpy(), out.loc[part, "event_month"].to_numpy()]
        )
        vals = cut.reindex(key)
        if vals.isna().any().any():
            raise ValueError("before_referral lacks the censor month of some censored control")
        for col in cut.columns:
            out.loc[part, col] = vals[col].to_numpy().astype(out[col].dtype)
        dropped = dropped | (part & (out["exposure"].to_numpy() <= 0))
        out = out.loc[~dropped].copy()
    out[ANALYSIS_WEIGHT] = out["weight"].astype(float) * out["ipcw"]
    ctrl_units = base.loc[base["referred"] == 0, "unit"]
    cens_units = base.loc[(base["referred"] == 0) & np.isfinite(c), "unit"]
    uncensored = panel.copy()
    uncensored["stack_time"] = base["stack_time"]
    return Censored(
        panel=out.drop(columns=[RECENT_USE_COLUMN]),
        uncensored=uncensored,
        ipcw=res,
        n_controls=int(ctrl_units.nunique()),
        n_censored=int(cens_units.nunique()),
        n_control_rows=int(follow_rows.sum()),
        n_censored_rows=int((follow_rows & dropped).sum()),
    )


def index_covariates(
    cohort: Cohort, m: MatchResult, panel: pd.DataFrame, columns: list[str], notes: list[str]
) -> tuple[pd.DataFrame, MatchResult]:
    """Every matched unit's covariates at its (inherited) index date, and the match using them.

    Participants' rows are measured at their referral date already. A matched control's row
    was measured at its own risk-set date (the week's Monday); where the cohort layer offers
    ``Cohort.covariates_at`` it is measured again at the participant's date it inherits, and
    the match's balance table (after matching) reads the re-measured values.
    """
    units = panel.drop_duplicates("unit").set_index("unit")
    cols = list(dict.fromkeys(columns))
    out = cohort.candidates.loc[units.index, cols].copy()
    measure = getattr(cohort, "covariates_at", None)
    ctrl = units.index[units["referred"].to_numpy() == 0]
    if measure is None or len(ctrl) == 0:
        return out, m
    rows = pd.DataFrame(
        {
            "person_id": units.loc[ctrl, "person_id"].to_numpy(),
            "index_date": units.loc[ctrl, "index_date"].to_numpy(),
        },
        index=ctrl,
    )
    again = measure(rows)
    # The match's own copy of the candidates (a log1p-extended one) is updated in place, only
    # on the matched control rows; the cohort's candidates are never changed.
    data = m.data.copy() if m.data is cohort.candidates else m.data
    for c in [c for c in cols if c in again]:
        _set_rows(out, ctrl, c, again.loc[ctrl, c])
        if c in data:
            _set_rows(data, ctrl, c, again.loc[ctrl, c])
    notes.append(
        f"{len(ctrl):,} matched control rows' covariates re-measured at the index date they "
        "inherit from their participant: balance after matching and covariate adjustment use "
        "them (the risk set was chosen on the covariates at its own date; the whole pool's "
        "column, before matching, holds the re-measured values for these rows too)."
    )
    return out, replace(m, data=data, _cache={})


def _set_rows(frame: pd.DataFrame, rows: pd.Index, column: str, values: pd.Series) -> None:
    """Set ``frame.loc[rows, column]`` keeping the column's dtype (an error if that loses data)."""
    target = frame[column].dtype
    if isinstance(target, pd.CategoricalDtype):
        new = pd.Categorical(values.astype(str).to_numpy(), categories=target.categories)
        if pd.isna(new).sum() > values.isna().sum():
            raise ValueError(f"re-measured {column!r} has a level the candidates do not")
        frame.loc[rows, column] = new
        return
    arr = values.to_numpy()
    cast = arr.astype(target)
    if not np.array_equal(cast, arr):
        raise ValueError(f"re-measured {column!r} does not fit the candidates' {target}")
    frame.loc[rows, column] = cast


def censoring_covariates(index_cov: pd.DataFrame, log_prefixes: tuple[str, ...]) -> pd.DataFrame:
    """The censoring model's index covariates: as the propensity model enters them."""
    out = index_cov.copy()
    for c in [c for c in out.columns if c.startswith(log_prefixes)]:
        out[f"log1p_{c}"] = np.log1p(out.pop(c).to_numpy(dtype=np.float64))
    return out
