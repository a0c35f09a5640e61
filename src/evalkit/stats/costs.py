"""Economics on any matched panel: cost difference, bootstrap over matched sets, ROI, WELLBYs.

Four public calls, each returning a frozen result object (docs/design/methods.md section 4):

- :func:`matched_cost_difference`: the matched difference in mean cost change, participants'
  post − pre minus their matched controls' weighted post − pre, with a bootstrap over matched
  sets. Each unit's change is computed once and summed per matched set once; a bootstrap
  resample is then a weighted sum of those set totals (resample counts as weights), not a model
  refit, so 999 resamples of a county-sized match take about a second.
- :func:`return_on_investment`: NHS saving per participant ÷ programme cost per participant
  (gross, "£ saved per £1"), net = gross − 1, and the cost per emergency admission avoided,
  each with a CI carried through the *same* bootstrap resamples.
- :func:`wellby_valuation`: a change in ONS4 life satisfaction valued in WELLBYs with HM
  Treasury's Green Book values (central, low, high), as social value per £1 of programme cost.
- :func:`cost_per_participant`: a programme cost quoted per starter or per participant, as a
  cost per participant (every referred person counted once).

Why the matched difference in mean cost change. On a balanced matched panel (every unit
observed in every period of the window) with weights constant within unit, it equals the
two-way fixed-effects linear difference-in-differences (:func:`evalkit.stats.did.did`,
``model="linear"``) exactly, times the number of post periods: the weighted two-way within
transformation of ``treated x post`` is then ``(d_i − d̄)(p_t − p̄)``, so the least-squares
coefficient is the weighted difference in the units' mean post − pre changes. Unlike the fixed-
effects fit, it decomposes into per-set totals, so the bootstrap over matched sets uses the same
estimator as the point estimate, as docs/design/methods.md asks. On an unbalanced panel (a unit
missing months after death, deregistration or the end of the data) the two weight the incomplete
units differently and differ slightly; the result's notes count such units.

This module imports nothing from evalkit's domain modules; it reads its WELLBY values from
``evalkit/definitions/wellby.yaml`` (data, not code).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy import stats

from evalkit.definitions.wellby import WellbyValues, load_wellby
from evalkit.jsonsafe import json_safe

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DIFFERENCE_COLUMNS",
    "MatchedDifferenceResult",
    "ReturnOnInvestmentResult",
    "WellbyResult",
    "WellbyValues",
    "cost_per_participant",
    "load_wellby",
    "matched_cost_difference",
    "return_on_investment",
    "wellby_valuation",
]

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

_METHODS = ("percentile", "BCa")


def _html(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ============================================================================================
# Programme cost per participant
# ============================================================================================
def cost_per_participant(
    amount: float,
    basis: Literal["participant", "starter"],
    *,
    start_rate: float | None = None,
) -> float:
    """Programme cost per participant (every referred person, counted once).

    A cost quoted per starter is spent only on people who start, so per participant it is
    ``amount x start_rate`` (docs/design/methods.md section 4), with ``start_rate`` the share of
    participants who started.

    Parameters
    ----------
    amount : float
        Cost as quoted (positive).
    basis : {"participant", "starter"}
        Whom ``amount`` is per.
    start_rate : float, optional
        Starters ÷ participants, in (0, 1]; required for ``basis="starter"``.

    Returns
    -------
    float
        Cost per participant.

    Examples
    --------
    >>> cost_per_participant(410.0, "starter", start_rate=0.8)
    328.0
    >>> cost_per_participant(320.0, "participant")
    320.0
    """
    if not (math.isfinite(amount) and amount > 0):
        raise ValueError(f"amount must be a positive number, not {amount!r}")
    if basis == "participant":
        return float(amount)
    if basis != "starter":
        raise ValueError(f"basis must be 'participant' or 'starter', not {basis!r}")
    if start_rate is None or not (0 < start_rate <= 1):
        raise ValueError(f"a per-starter cost needs a start_rate in (0, 1], not {start_rate!r}")
    return float(amount) * float(start_rate)


# ============================================================================================
# Matched difference in mean cost change, with the bootstrap over matched sets
# ============================================================================================
@dataclass(frozen=True, eq=False, repr=False)
class MatchedDifferenceResult:
    """Result of :func:`matched_cost_difference`.

    The first outcome is the headline (``estimate`` ... ``control_change`` are its figures);
    further outcomes (``also``) share the same bootstrap resamples and are rows of ``tidy()``.

    Attributes
    ----------
    outcome : str
        Headline outcome column.
    estimate : float
        Participants' weighted mean change (post − pre, per unit, times ``periods``) minus the
        matched controls' weighted mean change. Negative: participants' outcome fell relative
        to their controls'.
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
        Per matched set: treated and control weight totals and weighted change totals per
        outcome (``t_w``, ``c_w``, ``t_<outcome>``, ``c_<outcome>``), the bootstrap's input.
    spec : dict
        Arguments used, defaults resolved (seed included).
    notes : tuple of str
        Units or sets dropped and why; the estimator and the bootstrap.
    """

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
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Units used (participants and controls)."""
        return self.n_treated + self.n_control

    def tidy(self) -> pd.DataFrame:
        """One row per outcome, columns :data:`DIFFERENCE_COLUMNS`."""
        return self.by_outcome.loc[:, list(DIFFERENCE_COLUMNS)].copy()

    def row(self, outcome: str) -> dict[str, Any]:
        """The ``tidy()`` row of one outcome as a dict."""
        t = self.by_outcome.set_index("outcome")
        if outcome not in t.index:
            raise KeyError(f"outcome '{outcome}' was not estimated; have {list(t.index)}")
        return {"outcome": outcome, **t.loc[outcome].to_dict()}

    def summary(self) -> str:
        """Header (analysis, estimand, inference, N), table and notes."""
        s = self.spec
        lines = [
            f"Matched difference in mean change: {self.outcome} "
            f"(participants' post − pre minus matched controls' post − pre, x{s['periods']:g})",
            f"Inference: {s['method']} bootstrap over matched sets, {s['resamples']} resamples, "
            f"seed {s['seed']}, {s['level']:.0%} CI",
            f"N = {self.n_sets:,} matched sets: {self.n_treated:,} participants, "
            f"{self.n_control:,} controls",
            "",
            f"Estimate: {self.estimate:.4g} (95% CI {self.ci_low:.4g} to {self.ci_high:.4g}), "
            f"bootstrap SE {self.std_error:.4g}",
            "",
            self.tidy().to_string(index=False, float_format=lambda v: f"{v:.4g}"),
        ]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _html(self.summary())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures per outcome, the spec and the notes (no replicates)."""
        return json_safe(
            {
                "analysis": "matched_cost_difference",
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
        """Estimate and CI of each outcome as a horizontal point-and-interval chart.

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
        import matplotlib.pyplot as plt

        t = self.by_outcome.set_index("outcome")
        names = list(outcomes) if outcomes is not None else list(t.index[1:]) or [self.outcome]
        labels = labels or {}
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
        y = np.arange(len(names))[::-1]
        est = sign * t.loc[names, "estimate"].to_numpy(dtype=float)
        a = sign * t.loc[names, "ci_low"].to_numpy(dtype=float)
        b = sign * t.loc[names, "ci_high"].to_numpy(dtype=float)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color="C0", capsize=3)
        ax.axvline(0, color="grey", lw=1, ls="--")
        ax.set_yticks(y, [labels.get(n, n) for n in names])
        ax.set_xlabel(
            xlabel or ("saving" if sign < 0 else "difference") + " per participant (95% CI)"
        )
        return ax

    def plot_bootstrap(self, outcome: str | None = None, *, ax: Axes | None = None) -> Axes:
        """Histogram of one outcome's bootstrap replicates, estimate and zero marked.

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
        import matplotlib.pyplot as plt

        outcome = outcome or self.outcome
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        r = self.row(outcome)
        ax.hist(self.replicates[outcome].dropna(), bins=40, color="C0", alpha=0.7)
        ax.axvline(r["estimate"], color="C1", lw=2, label="estimate")
        for v in (r["ci_low"], r["ci_high"]):
            ax.axvline(v, color="C1", lw=1, ls=":")
        ax.axvline(0, color="grey", lw=1, ls="--", label="no difference")
        ax.set_xlabel(f"{outcome}: difference per participant")
        ax.set_ylabel("bootstrap resamples")
        ax.legend(frameon=False)
        return ax


def _binary(s: pd.Series, name: str) -> np.ndarray:
    vals = pd.to_numeric(s.astype("float64") if s.dtype == bool else s, errors="coerce")
    if vals.isna().any() or not vals.isin([0, 1]).all():
        raise ValueError(f"column '{name}' must be 0/1 (or boolean) without missing values")
    return vals.to_numpy(dtype=np.int8)


def matched_cost_difference(
    panel: pd.DataFrame,
    outcome: str,
    *,
    unit: str,
    matched_set: str,
    treated: str,
    post: str,
    weights: str | None = None,
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

    Bootstrap. Matched sets are resampled with replacement (they are independent; units within
    a set are not), ``resamples`` times, by :func:`scipy.stats.bootstrap` (``paired=True`` over
    the per-set totals). Because each set's four totals (participants' and controls' weight sums
    and weighted change sums) are computed once, a resample's estimate is a ratio of weighted
    sums of them: no model refit. Every outcome in ``also`` uses the same resamples, so
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
        Matching weight per unit (positive); default 1 for every unit.
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
        over time, or fewer than two matched sets remain.

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
    cols = [unit, matched_set, treated, post, *outcomes] + ([weights] if weights else [])
    missing = [c for c in dict.fromkeys(cols) if c not in panel.columns]
    if missing:
        raise ValueError(f"panel lacks column(s) {missing}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, not {method!r}")
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
    notes: list[str] = []
    work = pd.DataFrame(
        {
            "_u": panel[unit].to_numpy(),
            "_s": panel[matched_set].to_numpy(),
            "_t": _binary(panel[treated], treated),
            "_p": _binary(panel[post], post),
            "_w": (
                pd.to_numeric(panel[weights]).to_numpy(dtype=float)
                if weights
                else np.ones(len(panel))
            ),
        }
    )
    for j, o in enumerate(outcomes):
        work[f"_y{j}"] = panel[o].to_numpy(dtype=float)
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
    ycols = [f"_y{j}" for j in range(len(outcomes))]
    means = work.groupby(["_u", "_p"], sort=True)[ycols].mean()
    pre = means.xs(0, level="_p").reindex(per_unit.index)
    pst = means.xs(1, level="_p").reindex(per_unit.index)
    change = (pst - pre) * float(periods)
    units = pd.DataFrame(
        {"_s": per_unit["_s_min"], "_t": per_unit["_t_min"], "_w": per_unit["_w_min"]}
    ).join(change)
    incomplete = change[ycols[0]].isna()
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
            "two-way fixed-effects DiD on the same rows (they are equal on a balanced panel)."
        )

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

    k = len(outcomes)
    tws, cws = sets["t_w"].to_numpy(), sets["c_w"].to_numpy()
    tys = [sets[f"t_{o}"].to_numpy() for o in outcomes]
    cys = [sets[f"c_{o}"].to_numpy() for o in outcomes]

    def statistic(*arrays: np.ndarray, axis: int = -1) -> np.ndarray:
        t_w, c_w = arrays[0].sum(axis=axis), arrays[1].sum(axis=axis)
        out = [
            arrays[2 + j].sum(axis=axis) / t_w - arrays[2 + k + j].sum(axis=axis) / c_w
            for j in range(k)
        ]
        return np.stack(out)

    point = statistic(tws, cws, *tys, *cys)
    if isinstance(seed, np.random.Generator):
        rng, seed_used = seed, "Generator"
    else:
        rng, seed_used = np.random.default_rng(seed), seed
        if seed is None:
            notes.append("No seed given: the bootstrap interval will differ between runs.")
    boot = stats.bootstrap(
        (tws, cws, *tys, *cys),
        statistic,
        n_resamples=int(resamples),
        paired=True,
        vectorized=True,
        confidence_level=level,
        method=method,
        rng=rng,
    )
    lo = np.atleast_1d(boot.confidence_interval.low)
    hi = np.atleast_1d(boot.confidence_interval.high)
    se = np.atleast_1d(boot.standard_error)
    dist = np.asarray(boot.bootstrap_distribution).reshape(k, -1)
    t_change = [float(sets[f"t_{o}"].sum() / tws.sum()) for o in outcomes]
    c_change = [float(sets[f"c_{o}"].sum() / cws.sum()) for o in outcomes]
    n_t, n_c = int((kept["_t"] == 1).sum()), int((kept["_t"] == 0).sum())
    by_outcome = pd.DataFrame(
        {
            "outcome": outcomes,
            "estimate": point.astype(float),
            "std_error": se.astype(float),
            "ci_low": lo.astype(float),
            "ci_high": hi.astype(float),
            "treated_change": t_change,
            "control_change": c_change,
            "n_sets": len(sets),
            "n_treated": n_t,
            "n_control": n_c,
        }
    )
    notes.append(
        "Each unit's change is its mean post-period value minus its mean pre-period value"
        + (f", times {periods:g}" if periods != 1 else "")
        + "; participants' weighted mean change minus controls' weighted mean change."
    )
    spec = {
        "outcome": outcome,
        "also": outcomes[1:],
        "unit": unit,
        "matched_set": matched_set,
        "treated": treated,
        "post": post,
        "weights": weights,
        "periods": float(periods),
        "resamples": int(resamples),
        "seed": seed_used,
        "level": float(level),
        "method": method,
        "resampling": "matched sets with replacement (scipy.stats.bootstrap, paired)",
    }
    return MatchedDifferenceResult(
        outcome=outcome,
        estimate=float(point[0]),
        std_error=float(se[0]),
        ci_low=float(lo[0]),
        ci_high=float(hi[0]),
        treated_change=t_change[0],
        control_change=c_change[0],
        n_sets=len(sets),
        n_treated=n_t,
        n_control=n_c,
        by_outcome=by_outcome,
        replicates=pd.DataFrame(dist.T, columns=outcomes),
        sets=sets.reset_index(),
        spec=spec,
        notes=tuple(notes),
    )


# ============================================================================================
# Return on investment and cost per admission avoided
# ============================================================================================
@dataclass(frozen=True, eq=False, repr=False)
class ReturnOnInvestmentResult:
    """Result of :func:`return_on_investment`: NHS saving against programme cost.

    Attributes
    ----------
    saving, saving_ci_low, saving_ci_high : float
        NHS cost saving per participant (positive: participants cost less than their matched
        controls predict) with its bootstrap CI: minus the matched cost difference.
    programme_cost : float
        Programme cost per participant (fixed, not resampled).
    gross, gross_ci_low, gross_ci_high : float
        Gross return per £1, saving ÷ programme cost (Green Book benefit-cost ratio).
    net, net_ci_low, net_ci_high : float
        Net return per £1, gross − 1 (0 is break-even).
    std_error : float
        Bootstrap SD of the gross return.
    share_break_even : float
        Share of bootstrap resamples with gross ≥ 1 (a description of the bootstrap
        distribution, not a posterior probability).
    admissions_avoided, admissions_ci_low, admissions_ci_high : float or None
        Emergency admissions avoided per participant (minus the matched difference), with CI.
    cost_per_admission_avoided, cpa_ci_low, cpa_ci_high : float or None
        Programme cost ÷ admissions avoided; the interval is the programme cost over the
        admissions interval's limits, unbounded (``inf``) above when that interval includes
        zero; None where not defined (no admissions avoided).
    replicates : pd.DataFrame
        Per resample: ``saving``, ``gross``, ``net`` (and ``admissions_avoided``).
    spec, notes
        Arguments used; plain-English lines (perspective, price year, caveats).
    """

    saving: float
    saving_ci_low: float
    saving_ci_high: float
    programme_cost: float
    gross: float
    gross_ci_low: float
    gross_ci_high: float
    net: float
    net_ci_low: float
    net_ci_high: float
    std_error: float
    share_break_even: float
    admissions_avoided: float | None
    admissions_ci_low: float | None
    admissions_ci_high: float | None
    cost_per_admission_avoided: float | None
    cpa_ci_low: float | None
    cpa_ci_high: float | None
    replicates: pd.DataFrame
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def estimate(self) -> float:
        """Gross return per £1 (alias used across evalkit result objects)."""
        return self.gross

    @property
    def ci_low(self) -> float:
        """Lower limit of the gross return's CI."""
        return self.gross_ci_low

    @property
    def ci_high(self) -> float:
        """Upper limit of the gross return's CI."""
        return self.gross_ci_high

    def tidy(self) -> pd.DataFrame:
        """One row per figure: ``term``, ``estimate``, ``ci_low``, ``ci_high``, ``unit``."""
        rows = [
            ("nhs_cost_saving_per_participant", self.saving, self.saving_ci_low,
             self.saving_ci_high, "GBP"),
            ("programme_cost_per_participant", self.programme_cost, None, None, "GBP"),
            ("roi_gross", self.gross, self.gross_ci_low, self.gross_ci_high, "GBP per GBP 1"),
            ("roi_net", self.net, self.net_ci_low, self.net_ci_high, "GBP per GBP 1"),
        ]  # fmt: skip
        if self.admissions_avoided is not None:
            rows += [
                ("emergency_admissions_avoided_per_participant", self.admissions_avoided,
                 self.admissions_ci_low, self.admissions_ci_high, "admissions"),
                ("cost_per_emergency_admission_avoided", self.cost_per_admission_avoided,
                 self.cpa_ci_low, self.cpa_ci_high, "GBP"),
            ]  # fmt: skip
        return pd.DataFrame(rows, columns=["term", "estimate", "ci_low", "ci_high", "unit"])

    def summary(self) -> str:
        """Header, table and notes."""
        s = self.spec
        lines = [
            "Return on investment: NHS cost saving per participant ÷ programme cost per "
            "participant (NHS cash perspective)",
            f"Inference: {s['method']} bootstrap over matched sets ({s['resamples']} resamples, "
            f"seed {s['seed']}), the same resamples for every figure",
            "",
            f"Gross ROI £{self.gross:.2f} per £1 (95% CI {self.gross_ci_low:.2f} to "
            f"{self.gross_ci_high:.2f}); net {self.net:+.2f} "
            f"({self.net_ci_low:+.2f} to {self.net_ci_high:+.2f}); "
            f"{self.share_break_even:.0%} of resamples at or above break-even",
            "",
            self.tidy().to_string(index=False, float_format=lambda v: f"{v:,.4g}"),
        ]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _html(self.summary())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures (an unbounded limit becomes None, with a note), spec and notes."""
        return json_safe(
            {
                "analysis": "return_on_investment",
                "nhs_cost_saving_per_participant": {
                    "estimate": self.saving,
                    "ci_low": self.saving_ci_low,
                    "ci_high": self.saving_ci_high,
                },
                "programme_cost_per_participant": self.programme_cost,
                "roi": {
                    "estimate": self.gross,
                    "ci_low": self.gross_ci_low,
                    "ci_high": self.gross_ci_high,
                },
                "roi_net": {
                    "estimate": self.net,
                    "ci_low": self.net_ci_low,
                    "ci_high": self.net_ci_high,
                },
                "std_error": self.std_error,
                "share_break_even": self.share_break_even,
                "emergency_admissions_avoided_per_participant": {
                    "estimate": self.admissions_avoided,
                    "ci_low": self.admissions_ci_low,
                    "ci_high": self.admissions_ci_high,
                },
                "cost_per_emergency_admission_avoided": {
                    "estimate": self.cost_per_admission_avoided,
                    "ci_low": self.cpa_ci_low,
                    "ci_high": self.cpa_ci_high,
                },
                "spec": dict(self.spec),
                "notes": list(self.notes),
            }
        )

    def plot_bootstrap(self, *, ax: Axes | None = None) -> Axes:
        """Bootstrap distribution of the gross ROI with the break-even line (£1 per £1).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on (nothing is saved or shown).
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        ax.hist(self.replicates["gross"], bins=40, color="C0", alpha=0.7)
        ax.axvline(1.0, color="black", lw=1.5, ls="--", label="break-even (£1 per £1)")
        ax.axvline(self.gross, color="C1", lw=2, label=f"estimate £{self.gross:.2f}")
        ax.axvspan(self.gross_ci_low, self.gross_ci_high, color="C1", alpha=0.12, label="95% CI")
        ax.set_xlabel("gross return: NHS saving per £1 of programme cost")
        ax.set_ylabel("bootstrap resamples")
        ax.legend(frameon=False)
        return ax


def return_on_investment(
    difference: MatchedDifferenceResult,
    programme_cost: float,
    *,
    admissions: str | None = None,
) -> ReturnOnInvestmentResult:
    """Gross and net ROI, and cost per admission avoided, from a matched cost difference.

    The saving is minus the matched difference in mean cost change (so positive when
    participants cost less than their matched controls predict). ``gross = saving ÷ cost``,
    ``net = gross − 1``. The programme cost is a fixed config value, so the gross ROI's bootstrap
    replicates are the saving's replicates divided by it, and its percentile interval is exactly
    the saving's interval divided by it.

    Cost per emergency admission avoided = programme cost ÷ admissions avoided per participant.
    Its interval is the programme cost over the limits of the admissions interval (from the same
    resamples). When the admissions interval includes zero the ratio is unbounded above (the
    programme may avoid no admissions), reported as ``inf`` with a note; when the point estimate
    avoids no admissions, the ratio is not defined (None).

    Parameters
    ----------
    difference : MatchedDifferenceResult
        From :func:`matched_cost_difference`; its headline outcome is the cost.
    programme_cost : float
        Programme cost per participant (positive), same price year as the cost.
    admissions : str, optional
        Name of the admissions count outcome among ``difference``'s outcomes (``also``).

    Returns
    -------
    ReturnOnInvestmentResult

    Examples
    --------
    >>> p = pd.DataFrame({
    ...     "unit": [1, 1, 2, 2, 3, 3, 4, 4], "set": [1, 1, 1, 1, 2, 2, 2, 2],
    ...     "treated": [1, 1, 0, 0, 1, 1, 0, 0], "post": [0, 1] * 4,
    ...     "cost": [100.0, 40.0, 100.0, 90.0, 50.0, 60.0, 50.0, 80.0]})
    >>> d = matched_cost_difference(p, "cost", unit="unit", matched_set="set",
    ...                             treated="treated", post="post", seed=1)
    >>> r = return_on_investment(d, programme_cost=25.0)
    >>> r.saving, r.gross, round(r.net, 6)
    (35.0, 1.4, 0.4)
    """
    if not (math.isfinite(programme_cost) and programme_cost > 0):
        raise ValueError(f"programme_cost must be a positive number, not {programme_cost!r}")
    c = float(programme_cost)
    saving = -difference.estimate
    s_lo, s_hi = -difference.ci_high, -difference.ci_low
    rep_saving = -difference.replicates[difference.outcome].to_numpy(dtype=float)
    gross = rep_saving / c
    reps = pd.DataFrame({"saving": rep_saving, "gross": gross, "net": gross - 1})
    notes = [
        "Perspective: NHS cash. The saving is the matched difference in mean cost change "
        "(participants' post − pre minus their matched controls'), sign reversed.",
        "Gross = saving ÷ programme cost per participant (£ returned per £1); net = gross − 1 "
        "(0 is break-even). The programme cost is fixed; only the saving is uncertain.",
    ]
    if s_lo <= 0 <= s_hi:
        notes.append("The saving's CI includes zero: the data are compatible with no saving.")
    adm = adm_lo = adm_hi = cpa = cpa_lo = cpa_hi = None
    if admissions is not None:
        row = difference.row(admissions)
        adm = -float(row["estimate"])
        adm_lo, adm_hi = -float(row["ci_high"]), -float(row["ci_low"])
        reps["admissions_avoided"] = -difference.replicates[admissions].to_numpy(dtype=float)
        if adm > 0:
            cpa = c / adm
            if adm_lo > 0:
                cpa_lo, cpa_hi = c / adm_hi, c / adm_lo
            else:
                cpa_lo, cpa_hi = c / adm_hi, math.inf
                notes.append(
                    "The CI of emergency admissions avoided includes zero, so the cost per "
                    "admission avoided is unbounded above (the programme may avoid none); only "
                    "its lower limit is informative."
                )
        else:
            notes.append(
                "The point estimate avoids no emergency admissions, so a cost per admission "
                "avoided is not defined."
            )
    spec = {
        "programme_cost": c,
        "admissions": admissions,
        "outcome": difference.outcome,
        "method": difference.spec["method"],
        "resamples": difference.spec["resamples"],
        "seed": difference.spec["seed"],
        "level": difference.spec["level"],
    }
    return ReturnOnInvestmentResult(
        saving=saving,
        saving_ci_low=s_lo,
        saving_ci_high=s_hi,
        programme_cost=c,
        gross=saving / c,
        gross_ci_low=s_lo / c,
        gross_ci_high=s_hi / c,
        net=saving / c - 1,
        net_ci_low=s_lo / c - 1,
        net_ci_high=s_hi / c - 1,
        std_error=difference.std_error / c,
        share_break_even=float(np.mean(gross >= 1.0)),
        admissions_avoided=adm,
        admissions_ci_low=adm_lo,
        admissions_ci_high=adm_hi,
        cost_per_admission_avoided=cpa,
        cpa_ci_low=cpa_lo,
        cpa_ci_high=cpa_hi,
        replicates=reps,
        spec=spec,
        notes=tuple(notes),
    )


# ============================================================================================
# WELLBY valuation
# ============================================================================================
@dataclass(frozen=True, eq=False, repr=False)
class WellbyResult:
    """Result of :func:`wellby_valuation`: a life-satisfaction change as social value per £1.

    Attributes
    ----------
    change, change_ci_low, change_ci_high : float
        Mean change in life satisfaction (0-10 points) and its CI, as given.
    programme_cost : float
        Programme cost per participant.
    duration_years : float
        Assumed persistence of the change.
    discount_rate : float
        Annual rate applied from year 1 on (Green Book health rate).
    wellby_years : float
        Discounted person-years of the change (``duration_years`` when it is at most 1).
    value_central, value_low, value_high : float
        Value of one WELLBY at ``price_year``.
    price_year : str
        Price year of the values (and of the result).
    inflator : float
        Factor applied to the source values (1 when left in their own price year).
    estimate, low, high : float
        Social value per £1 of programme cost at the central, low and high WELLBY value.
    ci_low, ci_high : float or None
        Social value per £1 at the central value over the change's CI (the change's
        uncertainty, carried through separately from the range of values).
    social_value_per_participant : float
        ``change x value_central x wellby_years`` in £.
    spec, notes
        Arguments used; plain-English lines (assumptions, flags).
    """

    change: float
    change_ci_low: float | None
    change_ci_high: float | None
    programme_cost: float
    duration_years: float
    discount_rate: float
    wellby_years: float
    value_central: float
    value_low: float
    value_high: float
    price_year: str
    inflator: float
    estimate: float
    low: float
    high: float
    ci_low: float | None
    ci_high: float | None
    social_value_per_participant: float
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """One row per WELLBY value: ``value``, ``wellby_value``, per participant, per £1."""
        rows = []
        for name, v in (
            ("low", self.value_low),
            ("central", self.value_central),
            ("high", self.value_high),
        ):
            per = self.change * v * self.wellby_years
            rows.append(
                {
                    "value": name,
                    "wellby_value": v,
                    "social_value_per_participant": per,
                    "social_value_per_pound": per / self.programme_cost,
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Header, table and notes."""
        ci = (
            ""
            if self.ci_low is None
            else f"; over the change's 95% CI {self.ci_low:.2f} to {self.ci_high:.2f}"
        )
        lines = [
            "Wellbeing valuation (WELLBY, HM Treasury Green Book): social value, not NHS cash",
            f"Life satisfaction change {self.change:+.3f} points (0-10) x "
            f"{self.wellby_years:.3g} WELLBY-year(s) x £{self.value_central:,.0f} "
            f"({self.price_year} prices) ÷ programme cost £{self.programme_cost:,.2f}",
            "",
            f"Social value per £1: £{self.estimate:.2f} (WELLBY value range £{self.low:.2f} to "
            f"£{self.high:.2f}{ci})",
            "",
            self.tidy().to_string(index=False, float_format=lambda v: f"{v:,.4g}"),
        ]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _html(self.summary())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures, spec and notes."""
        return json_safe(
            {
                "analysis": "wellby_valuation",
                "social_value_per_pound": {
                    "estimate": self.estimate,
                    "low": self.low,
                    "high": self.high,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                },
                "life_satisfaction_change": {
                    "estimate": self.change,
                    "ci_low": self.change_ci_low,
                    "ci_high": self.change_ci_high,
                },
                "social_value_per_participant": self.social_value_per_participant,
                "wellby_value": {
                    "central": self.value_central,
                    "low": self.value_low,
                    "high": self.value_high,
                    "price_year": self.price_year,
                    "inflator": self.inflator,
                },
                "duration_years": self.duration_years,
                "discount_rate": self.discount_rate,
                "wellby_years": self.wellby_years,
                "programme_cost_per_participant": self.programme_cost,
                "spec": dict(self.spec),
                "notes": list(self.notes),
            }
        )

    def plot_values(self, *, ax: Axes | None = None) -> Axes:
        """Social value per £1 at the low, central and high WELLBY values, £1 marked.

        The central bar carries the change's CI as an error bar.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on (nothing is saved or shown).
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t = self.tidy()
        x = np.arange(len(t))
        ax.bar(x, t["social_value_per_pound"], color=["C7", "C0", "C7"])
        if self.ci_low is not None:
            ax.errorbar(
                [1],
                [self.estimate],
                yerr=[[self.estimate - self.ci_low], [self.ci_high - self.estimate]],
                fmt="none",
                color="black",
                capsize=4,
            )
        ax.axhline(1.0, color="black", lw=1, ls="--")
        ax.set_xticks(
            x, [f"{v}\n£{w:,.0f}" for v, w in zip(t["value"], t["wellby_value"], strict=True)]
        )
        ax.set_ylabel("social value per £1 of programme cost")
        return ax


def _wellby_years(duration: float, rate: float) -> float:
    """Discounted person-years of a change lasting ``duration`` years.

    Year 0 (the first year) is not discounted; year k (k ≥ 1) is discounted by ``(1 + rate) ** k``;
    a part year counts its fraction.
    """
    total, k = 0.0, 0
    while duration - k > 0:
        total += min(1.0, duration - k) / (1.0 + rate) ** k
        k += 1
    return total


def wellby_valuation(
    change: float,
    programme_cost: float,
    *,
    change_ci: tuple[float, float] | None = None,
    duration_years: float | None = None,
    price_year: str | None = None,
    values: WellbyValues | None = None,
) -> WellbyResult:
    """Value a mean change in life satisfaction in WELLBYs, per £1 of programme cost.

    ``social value per £1 = change x WELLBY value x discounted duration ÷ programme cost``, at
    HM Treasury's central value (£13,000 in 2019 prices) and its low and high values (£10,000,
    £16,000; Wellbeing Guidance for Appraisal, July 2021), uprated with the GDP deflator to
    ``price_year`` when the deflator covers it (a flag says how), else left in 2019 prices with
    a flag. The CI of the change is carried through at the central value, separately from the
    range of values.

    Duration. The default, one year (``duration_years_default`` in ``wellby.yaml``), is the
    WELLBY's own unit: one point for one person for one year. The minimum dataset measures life
    satisfaction at baseline and at the end of the programme (weeks later), so how long the
    change lasts is not observed; one year is a modest assumption that keeps the figure close to
    what was measured, and the result scales linearly with it so a reader can rescale. Discounting
    is not applied within the first year (Green Book: year 0 is not discounted); a longer duration
    is discounted from year 1 at the Green Book health rate (1.5%).

    This is a valuation of a measured change among people who answered both questionnaires,
    not an effect estimate (there is no control group for questionnaires), and it is social
    value, not NHS cash: keep it apart from the ROI.

    Parameters
    ----------
    change : float
        Mean change in life satisfaction, 0-10 points (after − before).
    programme_cost : float
        Programme cost per participant (positive), at ``price_year``.
    change_ci : (float, float), optional
        CI of the change.
    duration_years : float, optional
        Persistence of the change (default from the WELLBY file: 1 year).
    price_year : str, optional
        Price year of the programme cost (e.g. ``"2023/24"``); default the values' own (2019).
    values : WellbyValues, optional
        Default :func:`load_wellby`.

    Returns
    -------
    WellbyResult

    Examples
    --------
    >>> r = wellby_valuation(0.5, 325.0)
    >>> r.estimate, r.low, r.high
    (20.0, 15.384615384615385, 24.615384615384617)
    """
    if not math.isfinite(change):
        raise ValueError(f"change must be a finite number, not {change!r}")
    if not (math.isfinite(programme_cost) and programme_cost > 0):
        raise ValueError(f"programme_cost must be a positive number, not {programme_cost!r}")
    w = values or load_wellby()
    dur = float(w.duration_years_default if duration_years is None else duration_years)
    if not (math.isfinite(dur) and dur > 0):
        raise ValueError(f"duration_years must be positive, not {duration_years!r}")
    vals, py, k, inflation_note = w.at_price_year(price_year)
    years = _wellby_years(dur, w.discount_rate)
    c = float(programme_cost)
    per = {n: change * getattr(vals, n) * years / c for n in ("central", "low", "high")}
    ci_low = ci_high = None
    lo_c = hi_c = None
    if change_ci is not None:
        lo_c, hi_c = float(change_ci[0]), float(change_ci[1])
        ci_low = lo_c * vals.central * years / c
        ci_high = hi_c * vals.central * years / c
    notes = [
        f"WELLBY values: {w.source}; £{w.values.central:,.0f} central (£{w.values.low:,.0f} to "
        f"£{w.values.high:,.0f}) in {w.price_year} prices; check: {w.check}",
        inflation_note,
        f"Duration assumed: {dur:g} year(s) "
        + (
            "(the WELLBY's own unit); not discounted within the first year."
            if dur <= 1
            else f"; discounted from year 1 at {w.discount_rate:.1%} ({w.discount_rate_source})."
        ),
        "A change among people with both questionnaires (no control group): a valuation of the "
        "measured change, not of an effect of the programme. Social value, not NHS cash.",
    ]
    if change_ci is not None and lo_c is not None and hi_c is not None and lo_c <= 0 <= hi_c:
        notes.append("The change's CI includes zero: the social value may be nil.")
    spec = {
        "duration_years": dur,
        "discount_rate": w.discount_rate,
        "price_year_requested": price_year,
        "wellby_source": w.name,
        "wellby_url": w.url,
    }
    return WellbyResult(
        change=float(change),
        change_ci_low=lo_c,
        change_ci_high=hi_c,
        programme_cost=c,
        duration_years=dur,
        discount_rate=w.discount_rate,
        wellby_years=years,
        value_central=vals.central,
        value_low=vals.low,
        value_high=vals.high,
        price_year=py,
        inflator=k,
        estimate=per["central"],
        low=per["low"],
        high=per["high"],
        ci_low=ci_low,
        ci_high=ci_high,
        social_value_per_participant=change * vals.central * years,
        spec=spec,
        notes=tuple(n for n in notes if n),
    )
