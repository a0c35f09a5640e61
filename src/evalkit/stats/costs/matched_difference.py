"""Matched difference in mean cost change, with the bootstrap over matched sets.

Each unit's change (mean post-period value minus mean pre-period value) is computed once and
summed per matched set once; a bootstrap resample is then a weighted sum of those set totals
(resample counts as weights), not a model refit (docs/design/methods.md section 4). With a
period column the totals are kept per matched set and post period, so that time-varying row
weights (censoring weights) weight each period's arm means
(:mod:`~evalkit.stats.costs.set_bootstrap`, which also holds the per-set totals and the
bootstrap) and :mod:`~evalkit.stats.costs.unit_changes` (the arguments checked, each unit's
change). Here: the estimator and its result's table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.clusters import connected_clusters
from evalkit.stats.costs.set_bootstrap import (
    SetBootstrap,
    bootstrap_sets,
    period_cells,
    set_totals,
    unit_cells,
)
from evalkit.stats.costs.unit_changes import (
    check_arguments,
    drop_incomplete_units,
    long_frame,
    unit_changes,
)
from evalkit.stats.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["DIFFERENCE_COLUMNS", "MatchedDifferenceResult", "matched_cost_difference"]

#: Columns of :meth:`MatchedDifferenceResult.tidy`, in order.
DIFFERENCE_COLUMNS: tuple[str, ...] = (
    "outcome",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "treated_change",
    "control_change",
    "n_sets",
    "n_treated",
    "n_control",
)


@dataclass(frozen=True, eq=False, repr=False)
class MatchedDifferenceResult(Result):
    """Result of :func:`matched_cost_difference`.

    The first outcome is the headline (``estimate`` ... ``control_change`` are its figures);
    further outcomes (``also``) share the same bootstrap resamples and are rows of ``tidy()``.

    Attributes
    ----------
    outcome : str
        Headline outcome column.
    estimate : float
        Participants' weighted mean change (post − pre, times ``periods``) minus the matched
        controls' weighted mean change (with ``spec["time"]``, standardised to the
        participants' post periods). Negative: participants' outcome fell relative to their
        controls'.
    std_error : float
        Standard deviation of the bootstrap replicates.
    ci_low, ci_high : float
        Bootstrap confidence interval (``spec["method"]``, ``spec["level"]``).
    treated_change, control_change : float
        The two weighted mean changes whose difference is ``estimate``.
    n_sets, n_treated, n_control : int
        Matched sets, participant units and control units used.
    by_outcome : pd.DataFrame
        One row per outcome (:data:`DIFFERENCE_COLUMNS`), the headline first.
    replicates : pd.DataFrame
        Bootstrap replicates, one column per outcome, one row per resample.
    sets : pd.DataFrame
        Per matched set (and, with ``spec["time"]``, per post period: a ``period`` column):
        treated and control weight totals and weighted change totals per outcome (``t_w``,
        ``c_w``, ``t_<outcome>``, ``c_<outcome>``), the bootstrap's input; with
        ``spec["cluster"]`` also each set's resampling ``cluster`` (0, 1, ...).
    clusters : dict
        With ``spec["cluster"]``, the resampling clusters' sizes in matched sets
        (:meth:`evalkit.stats.clusters.ConnectedClusters.summary`, keys renamed from groups to
        sets: ``n_sets``, ``n_clusters``, ``n_sets_largest_cluster``,
        ``n_sets_in_shared_clusters``, ``share_sets_in_shared_clusters``,
        ``share_largest_cluster``, ``share_links_shared``); empty when sets are resampled.
    spec : dict
        Arguments used, defaults resolved (seed included).
    notes : tuple of str
        Units or sets dropped and why; the estimator and the bootstrap.
    """

    analysis = "matched_cost_difference"

    outcome: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    treated_change: float
    control_change: float
    n_sets: int
    n_treated: int
    n_control: int
    by_outcome: pd.DataFrame
    replicates: pd.DataFrame
    sets: pd.DataFrame
    clusters: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Units used (participants and controls)."""
        return self.n_treated + self.n_control

    @property
    def resampling_unit(self) -> str:
        """What the bootstrap resampled: ``"connected cluster"`` or ``"matched set"``."""
        return "connected cluster" if self.spec.get("cluster") else "matched set"

    def tidy(self) -> pd.DataFrame:
        """One row per outcome, columns :data:`DIFFERENCE_COLUMNS`."""
        return self.by_outcome.loc[:, list(DIFFERENCE_COLUMNS)].copy()

    def row(self, outcome: str) -> dict[str, Any]:
        """The ``tidy()`` row of one outcome as a dict."""
        t = self.by_outcome.set_index("outcome")
        if outcome not in t.index:
            raise KeyError(f"outcome '{outcome}' was not estimated; have {list(t.index)}")
        return {"outcome": outcome, **t.loc[outcome].to_dict()}

    def summary_header(self) -> list[str]:
        """Analysis, estimand, inference, N and the headline estimate (above the table)."""
        s = self.spec
        return [
            f"Matched difference in mean change: {self.outcome} "
            f"(participants' post − pre minus matched controls' post − pre, x{s['periods']:g})",
            f"Inference: {s['method']} bootstrap over {self._resampled()}, {s['resamples']} "
            f"resamples, seed {s['seed']}, {s['level']:.0%} CI",
            f"N = {self.n_sets:,} matched sets: {self.n_treated:,} participants, "
            f"{self.n_control:,} controls",
            "",
            f"Estimate: {self.estimate:.4g} (95% CI {self.ci_low:.4g} to {self.ci_high:.4g}), "
            f"bootstrap SE {self.std_error:.4g}",
        ]

    def _resampled(self) -> str:
        """What was resampled, in words (the summary's inference line)."""
        c = self.clusters
        if not c:
            return "matched sets"
        return (
            f"{c['n_clusters']:,} connected clusters of matched sets (sharing "
            f"'{self.spec['cluster']}'; largest {c['n_sets_largest_cluster']:,} sets)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures per outcome, the spec and the notes (no replicates)."""
        return json_safe(
            {
                "analysis": self.analysis,
                "outcome": self.outcome,
                "estimate": self.estimate,
                "std_error": self.std_error,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "treated_change": self.treated_change,
                "control_change": self.control_change,
                "n_sets": self.n_sets,
                "n_treated": self.n_treated,
                "n_control": self.n_control,
                "by_outcome": self.tidy().to_dict(orient="records"),
                "clusters": dict(self.clusters),
                "spec": dict(self.spec),
                "notes": list(self.notes),
            }
        )

    def plot_outcomes(
        self,
        outcomes: Sequence[str] | None = None,
        *,
        labels: dict[str, str] | None = None,
        sign: float = 1.0,
        xlabel: str | None = None,
        ax: Axes | None = None,
    ) -> Axes:
        """Estimate and CI of each outcome, one row each (:func:`evalkit.stats.plots.forest`).

        Parameters
        ----------
        outcomes : sequence of str, optional
            Outcomes to show, top to bottom (default: all but the headline).
        labels : dict, optional
            Display label per outcome.
        sign : float
            Multiply by ``-1`` to show savings rather than differences.
        xlabel : str, optional
            Axis label (default names the scale).
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure's otherwise.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on (nothing is saved or shown).
        """
        t = self.by_outcome.set_index("outcome")
        names = list(outcomes) if outcomes is not None else list(t.index[1:]) or [self.outcome]
        labels = labels or {}
        est = sign * t.loc[names, "estimate"].to_numpy(dtype=float)
        a = sign * t.loc[names, "ci_low"].to_numpy(dtype=float)
        b = sign * t.loc[names, "ci_high"].to_numpy(dtype=float)
        table = pd.DataFrame(
            {
                "label": [labels.get(n, n) for n in names],
                "estimate": est,
                "ci_low": np.minimum(a, b),
                "ci_high": np.maximum(a, b),
            }
        )
        return plots.forest(
            table,
            label_col="label",
            log=False,
            ax=ax,
            xlabel=xlabel or ("saving" if sign < 0 else "difference") + " per participant (95% CI)",
        )

    def plot_bootstrap(self, outcome: str | None = None, *, ax: Axes | None = None) -> Axes:
        """Histogram of one outcome's bootstrap replicates, estimate, CI and zero marked.

        Parameters
        ----------
        outcome : str, optional
            Outcome (default: the headline).
        ax : matplotlib Axes, optional
            Axes to draw on.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on.
        """
        outcome = outcome or self.outcome
        r = self.row(outcome)
        return plots.bootstrap_histogram(
            self.replicates[outcome].dropna(),
            estimate=r["estimate"],
            ci_low=r["ci_low"],
            ci_high=r["ci_high"],
            reference=0.0,
            reference_label="no difference",
            xlabel=f"{outcome}: difference per participant",
            ax=ax,
        )


def matched_cost_difference(
    panel: pd.DataFrame,
    outcome: str,
    *,
    unit: str,
    matched_set: str,
    treated: str,
    post: str,
    weights: str | None = None,
    time: str | None = None,
    row_weights: str | None = None,
    cluster: str | None = None,
    also: Sequence[str] = (),
    periods: float = 1.0,
    resamples: int = 999,
    seed: int | np.random.Generator | None = None,
    level: float = 0.95,
    method: Literal["percentile", "BCa"] = "percentile",
) -> MatchedDifferenceResult:
    """Matched difference in mean change of an outcome, with a bootstrap over matched sets.

    For each unit ``i``: ``change_i = (mean of the outcome over its post rows − mean over its
    pre rows) x periods``. The estimate is ``Σ_T w_i change_i / Σ_T w_i − Σ_C w_i change_i /
    Σ_C w_i`` (participants T, controls C, matching weights w), which on a balanced panel with
    weights constant within unit equals the linear two-way fixed-effects DiD coefficient times
    ``periods`` (module docstring). With MatchIt-style ATT weights (controls weighted 1/k within
    a set of k controls) it is the mean over participants of their change minus the mean change
    of their own controls.

    Period by period (``time`` given; needed when weights vary over a unit's rows, as censoring
    weights do). Each post row's change is its value minus its unit's pre-period mean, times
    ``periods``, and its weight is ``w_i x r_it`` (``row_weights``, default 1). In each post
    period each arm's weighted mean change is taken over the units observed in that period;
    the participants' figure is their weighted mean over all their post rows, the controls' the
    mean of their period means with the participants' weight in each period as the weights
    (direct standardisation to the participants' follow-up person-time). A control censored in
    a period stops contributing from then, and the controls still observed stand in for it
    through their row weights (inverse probability of censoring), as in the outcome regression
    weighted by ``w x r``; a unit lost at the end of the data likewise counts only in the
    periods it has. On a balanced panel with ``w`` constant within unit and ``r`` = 1 the two
    estimators are equal (and equal to the linear DiD).

    Bootstrap. Matched sets are resampled with replacement (units within a set are not
    independent), ``resamples`` times, by :func:`scipy.stats.bootstrap` over the set indices
    (the draws of ``paired=True`` over per-set arrays). Sets are not independent either when
    one person is in several (a control matched at several index dates, or a control before
    their own referral and a participant after): with ``cluster`` (e.g. the person id) the
    resampling units are the connected clusters of sets sharing a value, directly or through a
    chain (:func:`evalkit.stats.clusters.connected_clusters`), each cluster drawn whole, so a
    person's rows are never split between draws. When no value is shared the clusters are the
    sets and the draws for a seed are the set bootstrap's. Because each set's totals
    (participants' and controls' weight sums and weighted change sums, per post period with
    ``time``) are computed once, a resample's estimate is the same function of its counts
    times those totals: no model refit. Every outcome in ``also`` uses the same resamples, so
    differences and ratios between outcomes can be carried through jointly.

    Why the percentile interval by default, not BCa: the percentile interval respects monotone
    transformations, so the ROI interval is exactly the saving interval divided by the programme
    cost (a reader can check it by hand), and it needs no extra estimation. BCa's gains
    (second-order accuracy under skew) come with Monte Carlo noise in its bias and acceleration
    terms that needs more than the default 999 resamples to settle (Efron & Tibshirani 1993,
    ch. 14, suggest at least 1,000-2,000), and a jackknife over sets. The percentile interval's
    coverage for zero-inflated, heavy-tailed NHS costs is checked by simulation in
    ``bench/bench_roi_bootstrap.py``: 94.2 % (Monte Carlo SE 0.7 %) with 300 matched sets, but
    91.2 % with 70 sets, where BCa did no better (90.3 %); with few sets both are too narrow.
    ``method="BCa"`` is available as a sensitivity check.

    Parameters
    ----------
    panel : pd.DataFrame
        One row per unit and period, restricted to the analysis window (pre and post rows).
    outcome : str
        Headline outcome column (numeric, e.g. cost per person-month).
    unit : str
        Unit id (constant ``treated``, ``matched_set`` and weight within unit).
    matched_set : str
        Matched-set id (one or more participants and at least one control per set; sets that
        lack either after dropping units are dropped with a note). No missing values: matching
        with replacement has no disjoint sets to resample.
    treated : str
        0/1 column, 1 for participants.
    post : str
        0/1 column, 1 for rows after the index.
    weights : str, optional
        Matching weight per unit (positive, constant within unit); default 1 for every unit.
    time : str, optional
        Period column (e.g. event month): the estimate is formed period by period (above).
        Default: the unit-level estimator.
    row_weights : str, optional
        Weight per row (non-negative, e.g. a censoring weight), multiplying ``weights``; the
        pre-period mean of a unit is weighted by it too. Needs ``time``.
    cluster : str, optional
        Column of who a row belongs to (e.g. ``person_id``; no missing values): matched sets
        sharing a value, directly or through a chain, are resampled together (above). Default:
        sets resampled independently.
    also : sequence of str
        Further outcome columns estimated on the same units and resamples.
    periods : float
        Multiplier of the per-period change (e.g. 12 for a 12-month window of monthly rows, so
        the figure is per participant over the window, as ``difference_per_person``).
    resamples : int
        Bootstrap resamples (default 999).
    seed : int or numpy.random.Generator, optional
        Seed of the resampling; the same seed gives the same interval. None draws fresh entropy
        (noted).
    level : float
        Confidence level (default 0.95).
    method : {"percentile", "BCa"}
        Bootstrap interval.

    Returns
    -------
    MatchedDifferenceResult
        Estimate, bootstrap SE and CI, per-outcome table and replicates.

    Raises
    ------
    ValueError
        A column is missing or not of the kind required, a unit changes group, set or weight
        over time, ``row_weights`` without ``time``, or fewer than two matched sets remain.

    Examples
    --------
    >>> p = pd.DataFrame({
    ...     "unit": [1, 1, 2, 2, 3, 3, 4, 4], "set": [1, 1, 1, 1, 2, 2, 2, 2],
    ...     "treated": [1, 1, 0, 0, 1, 1, 0, 0], "post": [0, 1] * 4,
    ...     "cost": [100.0, 40.0, 100.0, 90.0, 50.0, 60.0, 50.0, 80.0]})
    >>> res = matched_cost_difference(p, "cost", unit="unit", matched_set="set",
    ...                               treated="treated", post="post", seed=1)
    >>> res.treated_change, res.control_change, res.estimate
    (-25.0, 10.0, -35.0)
    """
    outcomes = [outcome, *[o for o in also if o != outcome]]
    optional = [c for c in (weights, time, row_weights, cluster) if c]
    check_arguments(
        panel,
        [unit, matched_set, treated, post, *outcomes, *optional],
        outcomes,
        matched_set=matched_set,
        resamples=resamples,
        level=level,
        periods=periods,
        method=method,
        time=time,
        row_weights=row_weights,
        cluster=cluster,
    )
    notes: list[str] = []
    work = long_frame(
        panel,
        outcomes,
        unit=unit,
        matched_set=matched_set,
        treated=treated,
        post=post,
        w=weights,
        time=time,
        r=row_weights,
    )
    units = unit_changes(
        work, len(outcomes), periods, matched_set=matched_set, treated=treated, weights=weights
    )
    units = drop_incomplete_units(units, work, notes)
    sets, kept = set_totals(units, outcomes, notes)
    labels, cluster_sizes = None, {}
    if cluster is not None:
        labels, cluster_sizes = _set_clusters(
            panel[cluster], work, kept, sets.index, cluster, notes
        )
    if time is None:
        cells = unit_cells(sets, outcomes)
        table = sets.reset_index()
    else:
        table, cells = period_cells(work, kept, sets.index, outcomes, periods, notes)
    if labels is not None:
        table["cluster"] = table["matched_set"].map(pd.Series(labels, index=sets.index))
    boot, seed_used = bootstrap_sets(
        cells,
        len(outcomes),
        resamples=resamples,
        seed=seed,
        level=level,
        method=method,
        notes=notes,
        clusters=labels,
    )
    by_outcome = _outcome_table(len(sets), kept, outcomes, boot)
    notes.append(_estimator_note(periods, time, row_weights))
    spec = {
        "outcome": outcome,
        "also": outcomes[1:],
        "unit": unit,
        "matched_set": matched_set,
        "treated": treated,
        "post": post,
        "weights": weights,
        "time": time,
        "row_weights": row_weights,
        "estimator": "unit" if time is None else "period",
        "periods": float(periods),
        "resamples": int(resamples),
        "seed": seed_used,
        "level": float(level),
        "method": method,
        "cluster": cluster,
        "resampling": (
            "matched sets with replacement (scipy.stats.bootstrap, paired)"
            if cluster is None
            else f"connected clusters of matched sets sharing '{cluster}' "
            "(scipy.sparse.csgraph.connected_components), with replacement "
            "(scipy.stats.bootstrap, paired)"
        ),
    }
    head = by_outcome.iloc[0]
    return MatchedDifferenceResult(
        outcome=outcome,
        estimate=float(boot.point[0]),
        std_error=float(boot.std_error[0]),
        ci_low=float(boot.ci_low[0]),
        ci_high=float(boot.ci_high[0]),
        treated_change=float(head["treated_change"]),
        control_change=float(head["control_change"]),
        n_sets=len(sets),
        n_treated=int(head["n_treated"]),
        n_control=int(head["n_control"]),
        by_outcome=by_outcome,
        replicates=pd.DataFrame(boot.distribution.T, columns=outcomes),
        sets=table,
        clusters=cluster_sizes,
        spec=spec,
        notes=tuple(notes),
    )


# ------------------------------------------------------------------ step 3: the resampling units
def _set_clusters(
    values: pd.Series,
    work: pd.DataFrame,
    kept: pd.DataFrame,
    set_ids: pd.Index,
    cluster: str,
    notes: list[str],
) -> tuple[np.ndarray, dict[str, Any]]:
    """Cluster label of each set used (in ``set_ids`` order) and the clusters' sizes in sets.

    The graph links each set used to the ``cluster`` values of its units' rows (units kept
    only: a dropped unit adds nothing to any set's totals, so it ties no sets together).
    """
    rows = work["_u"].isin(kept.index).to_numpy()
    cc = connected_clusters(work["_s"].to_numpy()[rows], values.to_numpy()[rows])
    labels = cc.of(set_ids)
    if len(np.unique(labels)) < 2:
        raise ValueError(
            f"the matched sets form {cc.n_clusters} connected cluster through shared "
            f"'{cluster}' values: a bootstrap needs at least two"
        )
    sizes = {k.replace("groups", "sets"): v for k, v in cc.summary().items()}
    notes.append(
        f"Bootstrap over {sizes['n_clusters']} connected clusters of matched sets (sets sharing "
        f"a '{cluster}', directly or through a chain, are drawn together): the largest holds "
        f"{sizes['n_sets_largest_cluster']} of {sizes['n_sets']} sets; "
        f"{sizes['share_sets_in_shared_clusters']:.0%} of sets are in a cluster of more than "
        f"one; {sizes['share_links_shared']:.0%} of set memberships belong to a '{cluster}' in "
        "more than one set."
    )
    return labels, sizes


# ------------------------------------------------------------------ step 4: the table
def _outcome_table(
    n_sets: int, kept: pd.DataFrame, outcomes: Sequence[str], boot: SetBootstrap
) -> pd.DataFrame:
    """One row per outcome, columns :data:`DIFFERENCE_COLUMNS`."""
    n_t, n_c = int((kept["_t"] == 1).sum()), int((kept["_t"] == 0).sum())
    return pd.DataFrame(
        {
            "outcome": list(outcomes),
            "estimate": boot.point.astype(float),
            "std_error": boot.std_error.astype(float),
            "ci_low": boot.ci_low.astype(float),
            "ci_high": boot.ci_high.astype(float),
            "treated_change": boot.treated.astype(float),
            "control_change": boot.control.astype(float),
            "n_sets": n_sets,
            "n_treated": n_t,
            "n_control": n_c,
        }
    )


def _estimator_note(periods: float, time: str | None, row_weights: str | None) -> str:
    """The notes' sentence on the estimator used."""
    times = f", times {periods:g}" if periods != 1 else ""
    if time is None:
        return (
            f"Each unit's change is its mean post-period value minus its mean pre-period value"
            f"{times}; participants' weighted mean change minus controls' weighted mean change."
        )
    weights = (
        f"the unit's weight times the row's '{row_weights}'" if row_weights else "the unit's weight"
    )
    return (
        f"Period by period ('{time}'): each post row's change from its unit's own pre-period "
        f"mean{times}, weighted by {weights}; participants' weighted mean change minus the "
        "controls' per-period weighted mean changes averaged over the participants' post "
        "periods (standardised to the participants' follow-up person-time)."
    )
