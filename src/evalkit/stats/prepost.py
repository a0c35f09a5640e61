"""Pre/post analysis of a scored instrument: paired change, effect size, shares, attrition.

``prepost()`` takes the scores table (:func:`~evalkit.stats.scoring.score_measures`, or any
DataFrame with ``episode_id``, ``instrument``, ``timepoint`` and ``score``) and returns a frozen
:class:`PrePostResult`. The estimand is the complete-case mean within-episode change from
``before`` to ``after`` among episodes with a scorable score at both. The report states how
complete follow-up was and how completers differed at baseline, because complete-case change
is biased when drop-out depends on the outcome.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from evalkit.definitions.instruments import InstrumentDefinition, instruments
from evalkit.stats.scoring import goal_columns

__all__ = ["PrePostResult", "dz_confidence_interval", "prepost"]

EFFECT_SIZE_NAME = "d_z"
EFFECT_SIZE_METHOD = (
    "d_z (standardised response mean) = mean change / SD of change (n - 1 denominator), "
    "no small-sample correction; 95% CI by inverting the noncentral t distribution of "
    "t = d_z * sqrt(n) (Steiger & Fouladi 1997; Cumming & Finch 2001)"
)
_EPS = 1e-9

Direction = Literal["higher", "lower"]


# ----------------------------------------------------------------------------------------------
# Small statistical helpers
# ----------------------------------------------------------------------------------------------
def dz_confidence_interval(d_z: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval for the paired effect size d_z by inverting the noncentral t.

    With n paired differences, t = d_z·√n follows a noncentral t distribution with n − 1
    degrees of freedom and noncentrality δ·√n. The limits are the δ for which the observed t
    sits at the upper and lower (1 − level)/2 tail (Steiger & Fouladi 1997). Hand-written on
    ``scipy.stats.nct`` and Brent's root finder because neither scipy nor statsmodels offers
    this interval; it is exact under normal differences, unlike the Hedges–Olkin normal
    approximation. The CDF is ``scipy.special.nctdtr`` (the ufunc behind ``stats.nct.cdf``),
    called directly because the root finder calls it a few dozen times.

    Parameters
    ----------
    d_z : float
        Observed mean change divided by the SD of the changes.
    n : int
        Number of pairs (at least 2).
    level : float
        Confidence level.

    Returns
    -------
    tuple of float
        Lower and upper limit (NaN when ``n < 2`` or ``d_z`` is not finite).

    Examples
    --------
    >>> lo, hi = dz_confidence_interval(0.5, 30)
    >>> round(lo, 3), round(hi, 3)
    (0.116, 0.876)
    """
    if n < 2 or not np.isfinite(d_z):
        return (math.nan, math.nan)
    df = n - 1
    t_obs = d_z * math.sqrt(n)
    tail = (1 - level) / 2

    # Bracket around the normal approximation, SE(ncp) ~ sqrt(1 + t^2 / (2 df)).
    step = 4.0 * math.sqrt(1.0 + t_obs**2 / (2.0 * df))

    def limit(p: float) -> float:
        # P(T <= t_obs | ncp) falls as ncp rises. special.nctdtr is the noncentral t CDF
        # (the ufunc behind stats.nct.cdf, without its per-call argument checking).
        def f(ncp: float) -> float:
            return float(special.nctdtr(df, ncp, t_obs)) - p

        lo, hi = t_obs - step, t_obs + step
        # nctdtr returns NaN for extreme inputs (e.g. two pairs with nearly equal changes):
        # then the interval is not computable, never a crash.
        for _ in range(60):
            v = f(lo)
            if math.isnan(v) or v >= 0:
                break
            lo -= step
        for _ in range(60):
            v = f(hi)
            if math.isnan(v) or v <= 0:
                break
            hi += step
        if math.isnan(f(lo)) or math.isnan(f(hi)) or f(lo) < 0 or f(hi) > 0:
            return math.nan
        try:
            return optimize.brentq(f, lo, hi, xtol=1e-10) / math.sqrt(n)
        except ValueError:
            return math.nan

    return (limit(1 - tail), limit(tail))


def _paired_stats(change: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Mean change, SE, t CI and p (one-sample t on the changes = paired t), d_z with CI."""
    n = int(change.size)
    out = dict.fromkeys(
        (
            "mean_change",
            "sd_change",
            "std_error",
            "ci_low",
            "ci_high",
            "p_value",
            "t_statistic",
            "effect_size",
            "effect_size_ci_low",
            "effect_size_ci_high",
        ),
        math.nan,
    )
    out["n"] = n
    out["df"] = float(n - 1) if n >= 1 else math.nan
    if n == 0:
        return out
    out["mean_change"] = float(change.mean())
    if n < 2:
        return out
    sd = float(change.std(ddof=1))
    out["sd_change"] = sd
    out["std_error"] = sd / math.sqrt(n)
    if sd > 0:
        res = stats.ttest_1samp(change, 0.0)
        ci = res.confidence_interval(level)
        out.update(
            ci_low=float(ci.low),
            ci_high=float(ci.high),
            p_value=float(res.pvalue),
            t_statistic=float(res.statistic),
        )
        d = out["mean_change"] / sd
        lo, hi = dz_confidence_interval(d, n, level)
        out.update(effect_size=d, effect_size_ci_low=lo, effect_size_ci_high=hi)
    else:
        out.update(ci_low=out["mean_change"], ci_high=out["mean_change"])
    return out


def _welch(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Means of a and b, difference a − b with Welch CI and p (scipy ``ttest_ind``)."""
    out = {
        "mean_a": float(a.mean()) if a.size else math.nan,
        "mean_b": float(b.mean()) if b.size else math.nan,
        "n_a": int(a.size),
        "n_b": int(b.size),
    }
    out["difference"] = out["mean_a"] - out["mean_b"]
    out.update(ci_low=math.nan, ci_high=math.nan, p_value=math.nan)
    if a.size >= 2 and b.size >= 2 and (a.std() > 0 or b.std() > 0):
        res = stats.ttest_ind(a, b, equal_var=False)
        ci = res.confidence_interval(level)
        out.update(ci_low=float(ci.low), ci_high=float(ci.high), p_value=float(res.pvalue))
    return out


@lru_cache(maxsize=512)
def _mde_standardised(n: int, alpha: float, power: float) -> float:
    from statsmodels.stats.power import TTestPower

    es = TTestPower().solve_power(
        effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided"
    )
    # Two-sided power is symmetric in the effect size; the solver may return the negative root.
    return abs(float(np.asarray(es, dtype=float).reshape(-1)[0]))


def _mde(sd_change: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable mean change (paired t, two-sided) on the instrument's own scale.

    statsmodels' ``TTestPower`` solves for the detectable d_z at ``n`` pairs; times the SD of
    the changes it gives the change in score points.
    """
    if n < 3 or not np.isfinite(sd_change) or sd_change <= 0:
        return math.nan
    return _mde_standardised(n, alpha, power) * sd_change


def _categories(change: np.ndarray, direction: Direction, threshold: float | None) -> np.ndarray:
    """Categorise changes as improved, unchanged or deteriorated (direction, threshold)."""
    better = change if direction == "higher" else -change
    cut = _EPS if threshold is None else threshold - _EPS
    cat = np.full(change.shape, "unchanged", dtype=object)
    if threshold is None:
        cat[better > cut] = "improved"
        cat[better < -cut] = "deteriorated"
    else:
        cat[better >= cut] = "improved"
        cat[better <= -cut] = "deteriorated"
    return cat


# ----------------------------------------------------------------------------------------------
# Definition lookup
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Resolved:
    definition: InstrumentDefinition | None
    item: str | None
    direction: Direction
    threshold: float | None
    threshold_kind: str | None
    threshold_source: str | None
    norm: float | None
    norm_label: str | None
    title: str


def _resolve(
    instrument: str,
    defs: Mapping[str, InstrumentDefinition],
    direction: Direction | None,
) -> _Resolved:
    defn: InstrumentDefinition | None = defs.get(instrument)
    item: str | None = None
    if defn is None:
        for d in defs.values():
            if d.reported_separately and instrument.startswith(d.name + "_"):
                cand = instrument[len(d.name) + 1 :]
                if cand in d.items:
                    defn, item = d, cand
                    break
    if defn is None:
        return _Resolved(
            None, None, direction or "higher", None, None, None, None, None, instrument
        )
    dirn = direction or (defn.item_direction(item) if item else defn.direction)
    thr = defn.thresholds[0] if defn.thresholds else None
    norm, label = None, None
    mean = defn.norms.get("mean")
    if isinstance(mean, Mapping) and item is not None:
        mean = mean.get(item)
    if isinstance(mean, int | float):
        norm = float(mean)
        label = str(defn.norms.get("label", "population mean"))
    title = defn.title + (f": {defn.item_labels.get(item, item)}" if item else "")
    return _Resolved(
        defn,
        item,
        dirn,
        thr.value if thr else None,
        thr.kind if thr else None,
        thr.source if thr else None,
        norm,
        label,
        title,
    )


# ----------------------------------------------------------------------------------------------
# Result object
# ----------------------------------------------------------------------------------------------


def _json(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, Mapping):
        return {str(k): _json(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json(x) for x in v]
    return v


@dataclass(frozen=True, eq=False, repr=False)
class PrePostResult:
    """Paired pre/post change of one instrument (or one separately reported item).

    Numbers are attributes; ``data`` holds one row per episode with a scorable ``before`` or
    ``after`` score (``before``, ``after``, ``change``, ``completer``, ``category``, ``group``),
    ``by_group`` the same analysis per level of ``by`` and ``covariate_comparison`` the
    completer/non-completer comparison of each covariate. ``tidy()`` is the canonical table.
    """

    instrument: str
    title: str
    before: str
    after: str
    direction: Direction
    n_baseline: int
    n_after: int
    n_paired: int
    follow_up_completeness: float
    mean_before: float
    mean_after: float
    mean_change: float
    sd_change: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    t_statistic: float
    df: float
    mde: float
    effect_size: float
    effect_size_ci_low: float
    effect_size_ci_high: float
    effect_size_name: str
    effect_size_method: str
    threshold: float | None
    threshold_kind: str | None
    threshold_source: str | None
    n_improved: int
    n_unchanged: int
    n_deteriorated: int
    share_improved: float
    share_unchanged: float
    share_deteriorated: float
    n_completers: int
    n_noncompleters: int
    baseline_mean_completers: float
    baseline_mean_noncompleters: float
    baseline_difference: float
    baseline_difference_ci_low: float
    baseline_difference_ci_high: float
    baseline_difference_p_value: float
    norm: float | None
    norm_label: str | None
    by: str | None
    by_group: pd.DataFrame
    covariate_comparison: pd.DataFrame
    data: pd.DataFrame
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    # --- style aliases ------------------------------------------------------------------------
    @property
    def estimate(self) -> float:
        """Mean change (alias used across evalkit result objects)."""
        return self.mean_change

    @property
    def n(self) -> int:
        """Paired N."""
        return self.n_paired

    # --- views --------------------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """One row per figure: ``group``, ``level``, ``term``, ``estimate``, CI, SE, p, ``n``.

        Terms: ``mean_before``, ``mean_after``, ``mean_change``, ``d_z``, ``share_improved``,
        ``share_unchanged``, ``share_deteriorated``, ``follow_up_completeness``,
        ``baseline_mean_completers``, ``baseline_mean_noncompleters``,
        ``baseline_difference`` for ``group == "all"``; then ``mean_change``, ``d_z`` and the
        shares per level of ``by``.
        """
        nan = math.nan
        rows: list[dict[str, Any]] = []

        def add(group, level, term, est, se=nan, lo=nan, hi=nan, p=nan, n=0):
            rows.append(
                {
                    "instrument": self.instrument,
                    "group": group,
                    "level": level,
                    "term": term,
                    "estimate": est,
                    "std_error": se,
                    "ci_low": lo,
                    "ci_high": hi,
                    "p_value": p,
                    "n": n,
                }
            )

        add("all", "all", "mean_before", self.mean_before, n=self.n_paired)
        add("all", "all", "mean_after", self.mean_after, n=self.n_paired)
        add(
            "all",
            "all",
            "mean_change",
            self.mean_change,
            self.std_error,
            self.ci_low,
            self.ci_high,
            self.p_value,
            self.n_paired,
        )
        add(
            "all",
            "all",
            self.effect_size_name,
            self.effect_size,
            lo=self.effect_size_ci_low,
            hi=self.effect_size_ci_high,
            n=self.n_paired,
        )
        add("all", "all", "share_improved", self.share_improved, n=self.n_paired)
        add("all", "all", "share_unchanged", self.share_unchanged, n=self.n_paired)
        add("all", "all", "share_deteriorated", self.share_deteriorated, n=self.n_paired)
        add("all", "all", "follow_up_completeness", self.follow_up_completeness, n=self.n_baseline)
        add(
            "all",
            "all",
            "baseline_mean_completers",
            self.baseline_mean_completers,
            n=self.n_completers,
        )
        add(
            "all",
            "all",
            "baseline_mean_noncompleters",
            self.baseline_mean_noncompleters,
            n=self.n_noncompleters,
        )
        add(
            "all",
            "all",
            "baseline_difference",
            self.baseline_difference,
            lo=self.baseline_difference_ci_low,
            hi=self.baseline_difference_ci_high,
            p=self.baseline_difference_p_value,
            n=self.n_completers + self.n_noncompleters,
        )
        if self.by is not None:
            for r in self.by_group.itertuples(index=False):
                lvl = str(r.level)
                add(
                    self.by,
                    lvl,
                    "mean_change",
                    r.mean_change,
                    r.std_error,
                    r.ci_low,
                    r.ci_high,
                    r.p_value,
                    r.n_paired,
                )
                add(
                    self.by,
                    lvl,
                    self.effect_size_name,
                    r.effect_size,
                    lo=r.effect_size_ci_low,
                    hi=r.effect_size_ci_high,
                    n=r.n_paired,
                )
                add(self.by, lvl, "share_improved", r.share_improved, n=r.n_paired)
                add(self.by, lvl, "share_deteriorated", r.share_deteriorated, n=r.n_paired)
                add(
                    self.by,
                    lvl,
                    "follow_up_completeness",
                    r.follow_up_completeness,
                    n=r.n_baseline,
                )
        out = pd.DataFrame(rows)
        out["n"] = out["n"].astype("int64")
        return out

    def summary(self) -> str:
        """Plain-text summary: header, table (from ``tidy()``) and notes."""
        thr = (
            f"{self.threshold_kind.replace('_', ' ')} threshold {self.threshold:g}"
            if self.threshold is not None and self.threshold_kind
            else "no published threshold: any change"
        )
        header = [
            f"Pre/post change: {self.title} [{self.instrument}]",
            f"Estimand: mean within-episode change, {self.before} to {self.after}, among "
            "episodes scorable at both (complete cases)",
            "Model: paired t (one-sample t on the changes); effect size "
            f"{self.effect_size_name} (SRM)",
            f"Inference: 95% CI from the t distribution, df = {self.df:g}",
            f"N: {self.n_baseline} scorable {self.before}, {self.n_paired} paired "
            f"(follow-up completeness {self.follow_up_completeness:.1%})",
            f"Direction: {self.direction} is better; shares use {thr}",
        ]
        tab = self.tidy().drop(columns="instrument")
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            table = tab.to_string(index=False, float_format=lambda x: f"{x:.4g}")
        notes = ["Notes:", *(f"- {n}" for n in self.notes)] if self.notes else []
        return "\n".join([*header, "", table, "", *notes])

    def __repr__(self) -> str:
        return (
            f"PrePostResult(instrument={self.instrument!r}, n_paired={self.n_paired}, "
            f"mean_change={self.mean_change:.4g}, ci=({self.ci_low:.4g}, {self.ci_high:.4g}))"
        )

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: the data contract's ``wellbeing`` entry plus extra keys.

        Core keys: ``instrument``, ``timepoints``, ``n_paired``, ``mean_change``, ``ci_low``,
        ``ci_high``; also ``mde``, ``std_error``, ``p_value``, ``n_baseline``,
        ``follow_up_completeness``, ``mean_before``, ``mean_after``, ``direction``,
        ``effect_size``, ``shares``, ``baseline_comparison``, ``by_group``, ``notes``.
        NaN becomes ``None``.
        """
        out: dict[str, Any] = {
            "instrument": self.instrument,
            "timepoints": [self.before, self.after],
            "n_paired": self.n_paired,
            "mean_change": self.mean_change,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "std_error": self.std_error,
            "p_value": self.p_value,
            "mde": self.mde,
            "n_baseline": self.n_baseline,
            "follow_up_completeness": self.follow_up_completeness,
            "mean_before": self.mean_before,
            "mean_after": self.mean_after,
            "sd_change": self.sd_change,
            "direction": self.direction,
            "effect_size": {
                "name": self.effect_size_name,
                "estimate": self.effect_size,
                "ci_low": self.effect_size_ci_low,
                "ci_high": self.effect_size_ci_high,
                "method": self.effect_size_method,
            },
            "shares": {
                "improved": self.share_improved,
                "unchanged": self.share_unchanged,
                "deteriorated": self.share_deteriorated,
                "n_improved": self.n_improved,
                "n_unchanged": self.n_unchanged,
                "n_deteriorated": self.n_deteriorated,
                "threshold": self.threshold,
                "threshold_kind": self.threshold_kind or "any_change",
                "threshold_source": self.threshold_source,
            },
            "baseline_comparison": {
                "n_completers": self.n_completers,
                "n_noncompleters": self.n_noncompleters,
                "mean_completers": self.baseline_mean_completers,
                "mean_noncompleters": self.baseline_mean_noncompleters,
                "difference": self.baseline_difference,
                "ci_low": self.baseline_difference_ci_low,
                "ci_high": self.baseline_difference_ci_high,
                "p_value": self.baseline_difference_p_value,
                "test": "Welch t",
            },
            "by": self.by,
            "by_group": self.by_group.to_dict(orient="records") if self.by else [],
            "covariate_comparison": self.covariate_comparison.to_dict(orient="records"),
            "spec": self.spec,
            "notes": list(self.notes),
        }
        return _json(out)

    # --- plots --------------------------------------------------------------------------------
    def plot_paired(self, ax: Any = None, *, kind: Literal["hist", "slope"] = "hist") -> Any:
        """Plot the paired change and return the Axes.

        ``kind="hist"`` (default): histogram of each episode's change with the mean change and
        its 95% CI, zero, and the improvement/deterioration thresholds. ``kind="slope"``: one
        line per episode from ``before`` to ``after`` with the mean in bold.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        paired = self.data[self.data["completer"]]
        if kind == "slope":
            for b, a in zip(paired["before_paired"], paired["after_paired"], strict=True):
                ax.plot([0, 1], [b, a], color="0.6", alpha=0.25, lw=0.8)
            ax.plot([0, 1], [self.mean_before, self.mean_after], color="C0", lw=3, label="mean")
            ax.set_xticks([0, 1], [self.before, self.after])
            ax.set_ylabel("score")
            ax.legend(loc="best")
        else:
            ch = paired["change"].to_numpy()
            if ch.size:
                ax.hist(ch, bins=min(30, max(5, int(np.sqrt(ch.size)) * 2)), color="0.75")
            ax.axvline(0, color="0.3", lw=1)
            if np.isfinite(self.mean_change):
                ax.axvline(self.mean_change, color="C0", lw=2, label="mean change")
            if np.isfinite(self.ci_low):
                ax.axvspan(self.ci_low, self.ci_high, color="C0", alpha=0.2, label="95% CI")
            if self.threshold is not None:
                sign = 1 if self.direction == "higher" else -1
                ax.axvline(sign * self.threshold, color="C2", ls="--", label="improvement")
                ax.axvline(-sign * self.threshold, color="C3", ls="--", label="deterioration")
            ax.set_xlabel(f"change ({self.after} − {self.before})")
            ax.set_ylabel("episodes")
            ax.legend(loc="best", fontsize="small")
        ax.set_title(f"{self.instrument}: paired change (n = {self.n_paired})")
        return ax

    def plot_distribution(self, ax: Any = None) -> Any:
        """Before and after score distributions (paired episodes) with the population norm."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        paired = self.data[self.data["completer"]]
        b, a = paired["before_paired"], paired["after_paired"]
        vals = pd.concat([b, a]).to_numpy(dtype="float64")
        if vals.size:
            bins = np.histogram_bin_edges(vals, bins=min(30, max(5, int(np.sqrt(vals.size)))))
            ax.hist(b, bins=bins, histtype="step", lw=2, label=self.before)
            ax.hist(a, bins=bins, histtype="step", lw=2, label=self.after)
        if self.norm is not None:
            ax.axvline(self.norm, color="k", ls=":", label=self.norm_label or "norm")
        ax.set_xlabel("score")
        ax.set_ylabel("episodes")
        ax.set_title(f"{self.instrument}: {self.before} and {self.after} (paired)")
        ax.legend(loc="best", fontsize="small")
        return ax


# ----------------------------------------------------------------------------------------------
# The analysis
# ----------------------------------------------------------------------------------------------
def _episode_table(sub: pd.DataFrame, timepoint: str, extra: Sequence[str]) -> pd.DataFrame:
    rows = sub[(sub["timepoint"] == timepoint) & sub["_scorable"]]
    cols = ["episode_id", "score", *extra]
    return rows[cols].set_index("episode_id")


def _analyse(ep: pd.DataFrame, rows: np.ndarray | None = None) -> dict[str, float]:
    """Figures for a set of episodes (all, or the positions ``rows``).

    ``ep`` has ``before`` and ``after`` (each scorable score or NaN), ``before_paired`` and
    ``after_paired`` (the scores the change compares), ``change``, ``completer`` and
    ``category``. Works on NumPy arrays because it runs once per group.
    """
    sel = slice(None) if rows is None else rows
    comp = ep["completer"].to_numpy(dtype=bool)[sel]
    change = ep["change"].to_numpy(dtype="float64")[sel][comp]
    res = _paired_stats(change)
    n_base = int(ep["before"].notna().to_numpy()[sel].sum())
    cats = ep["category"].to_numpy(dtype=object)[sel][comp]
    n_p = int(comp.sum())
    bp = ep["before_paired"].to_numpy(dtype="float64")[sel][comp]
    ap = ep["after_paired"].to_numpy(dtype="float64")[sel][comp]
    res.update(
        n_baseline=n_base,
        n_paired=n_p,
        follow_up_completeness=(n_p / n_base) if n_base else math.nan,
        mean_before=float(bp.mean()) if n_p else math.nan,
        mean_after=float(ap.mean()) if n_p else math.nan,
        n_improved=int((cats == "improved").sum()),
        n_unchanged=int((cats == "unchanged").sum()),
        n_deteriorated=int((cats == "deteriorated").sum()),
    )
    for k in ("improved", "unchanged", "deteriorated"):
        res[f"share_{k}"] = res[f"n_{k}"] / n_p if n_p else math.nan
    return res


def prepost(
    scores: pd.DataFrame,
    instrument: str,
    before: str = "baseline",
    after: str = "end",
    *,
    by: str | Literal[False] | None = None,
    covariates: Sequence[str] | None = None,
    definitions: Mapping[str, InstrumentDefinition] | Iterable[InstrumentDefinition] | None = None,
    direction: Direction | None = None,
    threshold: float | Literal["definition", "none"] = "definition",
) -> PrePostResult:
    """Paired pre/post change of one instrument, with effect size, shares and attrition.

    Parameters
    ----------
    scores : pd.DataFrame
        One row per (``episode_id``, ``instrument``, ``timepoint``) with ``score`` and
        optionally ``scorable`` (default: score not NaN), as
        :func:`~evalkit.stats.scoring.score_measures` returns. Episode-level columns
        (``imd_quintile``, covariates) may be merged on; they are read from the ``before`` row.
    instrument : str
        Instrument name as in ``scores`` (``wemwbs``, ``ons4_anxiety``, ``gbo``).
    before, after : str
        Timepoints compared.
    by : str or False, optional
        Column whose levels get their own results (default ``imd_quintile`` when ``scores``
        has it; ``False`` for none). Read from each episode's ``before`` row.
    covariates : sequence of str, optional
        Numeric episode-level columns compared between completers and non-completers (means,
        difference, Welch p), alongside the baseline score. The change estimate itself is not
        adjusted.
    definitions : mapping or iterable of InstrumentDefinition, optional
        Instrument definitions (default: evalkit's). They give the direction (which way is
        better), the change threshold and the population norm.
    direction : {"higher", "lower"}, optional
        Override (or supply, for an instrument without a definition) which way is better.
    threshold : float, "definition" or "none"
        Individual change threshold for the improved/deteriorated shares: the definition's
        first threshold (default), a value on the instrument's scale, or ``"none"`` for any
        change.

    Returns
    -------
    PrePostResult
        Frozen result; see its attributes, ``summary()``, ``tidy()`` and ``to_dict()``.

    Notes
    -----
    Episodes count as paired when both scores are scorable. The mean change, its SE, 95% CI
    and p come from the one-sample t-test of the changes (``scipy.stats.ttest_1samp``,
    identical to the paired ``ttest_rel``). The effect size is d_z, the standardised response
    mean (mean change / SD of change), with a noncentral-t CI
    (:func:`dz_confidence_interval`). A change counts as an improvement when it moves in the
    better direction by at least the threshold (``>=``), a deterioration likewise in the
    other direction; without a threshold any non-zero change counts. For a goal-based
    instrument (``scoring: mean_of_goals``) an episode's change is the mean over its goals
    rated at both timepoints of (after − before), read from the ``goal_*`` columns; its
    before and after are the means over those same goals, so mean change = mean after − mean
    before exactly.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"episode_id": ["a", "a", "b", "b", "c", "c", "d"],
    ...                   "instrument": "wemwbs",
    ...                   "timepoint": ["baseline", "end"] * 3 + ["baseline"],
    ...                   "score": [40., 46., 50., 52., 45., 44., 38.]})
    >>> r = prepost(s, "wemwbs")
    >>> r.n_paired, r.n_baseline, r.mean_change
    (3, 4, 2.3333333333333335)
    """
    defs = (
        instruments()
        if definitions is None
        else (
            dict(definitions)
            if isinstance(definitions, Mapping)
            else {d.name: d for d in definitions}
        )
    )
    required = ["episode_id", "instrument", "timepoint", "score"]
    missing = [c for c in required if c not in scores.columns]
    if missing:
        raise KeyError(f"scores lacks column(s) {missing}")
    if before == after:
        raise ValueError("before and after must be different timepoints")
    notes: list[str] = []
    sub = scores[scores["instrument"] == instrument].copy()
    if sub.empty:
        known = ", ".join(sorted(map(str, scores["instrument"].unique())))
        raise ValueError(f"no scores for instrument '{instrument}'; scores hold: {known}")
    if sub.duplicated(["episode_id", "timepoint"]).any():
        raise ValueError(
            f"scores hold more than one row per episode and timepoint for '{instrument}'"
        )
    scorable = sub["scorable"] if "scorable" in sub.columns else sub["score"].notna()
    sub["_scorable"] = scorable.astype(bool) & sub["score"].notna()

    res_def = _resolve(instrument, defs, direction)
    if res_def.definition is None:
        notes.append(
            f"No definition for '{instrument}': direction '{res_def.direction}' "
            f"({'given' if direction else 'assumed'}), no change threshold, no norm."
        )
    thr, thr_kind, thr_src = res_def.threshold, res_def.threshold_kind, res_def.threshold_source
    if threshold == "none":
        thr = thr_kind = thr_src = None
    elif not isinstance(threshold, str):
        if threshold <= 0:
            raise ValueError("threshold must be positive")
        thr, thr_kind, thr_src = float(threshold), "user_supplied", "given in the call"
    elif threshold != "definition":
        raise ValueError("threshold must be a number, 'definition' or 'none'")
    if thr is None:
        notes.append(
            "No reliable or meaningful change threshold is defined for this measure: the "
            "shares count any change in the better direction as improved, any change in the "
            "other as deteriorated."
        )
    else:
        notes.append(
            f"Shares use the {str(thr_kind).replace('_', ' ')} threshold of {thr:g} points "
            f"({thr_src})."
        )

    # Episode-level extra columns, read from the (scorable) before row.
    if by is None and "imd_quintile" in sub.columns:
        by = "imd_quintile"
    by = by or None
    if by is not None and by not in sub.columns:
        raise KeyError(f"by column '{by}' is not in scores")
    covariates = list(covariates or [])
    absent = [c for c in covariates if c not in sub.columns]
    if absent:
        raise KeyError(f"covariate column(s) {absent} not in scores")
    extra = list(dict.fromkeys([*([by] if by else []), *covariates]))

    is_goals = res_def.definition is not None and res_def.definition.scoring == "mean_of_goals"
    gcols = goal_columns(res_def.definition) if is_goals and res_def.definition else []
    if is_goals and not all(c in sub.columns for c in gcols):
        notes.append(
            "Goal columns are missing from scores: change is after − before of the mean "
            "goal score, not the mean over goals of the change."
        )
        gcols = []

    b = _episode_table(sub, before, [*extra, *gcols])
    a = _episode_table(sub, after, gcols)
    ep = pd.DataFrame({"before": b["score"]}).join(pd.DataFrame({"after": a["score"]}), how="outer")
    if gcols:
        gb = b[gcols].reindex(ep.index).to_numpy(dtype="float64")
        ga = a[gcols].reindex(ep.index).to_numpy(dtype="float64")
        both = ~np.isnan(gb) & ~np.isnan(ga)
        n_common = both.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.where(both, ga - gb, 0.0).sum(axis=1) / n_common
            mb = np.where(both, gb, 0.0).sum(axis=1) / n_common
            ma = np.where(both, ga, 0.0).sum(axis=1) / n_common
        has_both = ep["before"].notna() & ep["after"].notna()
        no_common = int((has_both & (n_common == 0)).sum())
        ep["change"] = np.where(n_common > 0, diff, np.nan)
        ep["completer"] = has_both & (n_common > 0)
        ep["before_paired"] = np.where(ep["completer"], mb, np.nan)
        ep["after_paired"] = np.where(ep["completer"], ma, np.nan)
        notes.append(
            "Goal-based: each episode's change is the mean over its goals rated at both "
            "timepoints of (after − before); before/after means use those same goals."
        )
        if no_common:
            notes.append(
                f"{no_common} episode(s) had scorable goals at both timepoints but no goal "
                "rated at both; they are not paired."
            )
    else:
        ep["change"] = ep["after"] - ep["before"]
        ep["completer"] = ep["before"].notna() & ep["after"].notna()
        ep["before_paired"] = ep["before"].where(ep["completer"])
        ep["after_paired"] = ep["after"].where(ep["completer"])
    ep["category"] = None
    comp = ep["completer"].to_numpy()
    ep.loc[comp, "category"] = _categories(
        ep.loc[comp, "change"].to_numpy(dtype="float64"), res_def.direction, thr
    )
    for col in extra:
        ep[col] = b[col].reindex(ep.index) if col in b.columns else np.nan

    overall = _analyse(ep)

    n_after_only = int((ep["before"].isna() & ep["after"].notna()).sum())
    if n_after_only:
        notes.append(
            f"{n_after_only} episode(s) have a scorable {after} score but no scorable "
            f"{before} score; they are not in the paired analysis."
        )
    if overall["n_paired"] < 2:
        notes.append("Fewer than 2 paired episodes: no CI, p-value or effect size.")
    elif not overall["sd_change"] > 0:
        notes.append("Every change is identical (SD 0): no t-test or effect size.")

    # Completers vs non-completers at baseline (full baseline score).
    base = ep[ep["before"].notna()]
    w = _welch(
        base.loc[base["completer"], "before"].to_numpy(dtype="float64"),
        base.loc[~base["completer"], "before"].to_numpy(dtype="float64"),
    )
    if w["n_b"] < 2 or w["n_a"] < 2:
        notes.append(
            "Too few completers or non-completers (fewer than 2) to compare their baseline scores."
        )
    cov_rows = []
    for c in covariates:
        vals = pd.to_numeric(base[c], errors="coerce") if base[c].dtype != bool else base[c]
        vals = vals.astype("float64")
        if vals.isna().all():
            notes.append(f"Covariate '{c}' is not numeric or is empty; not compared.")
            continue
        ok = vals.notna()
        cw = _welch(
            vals[ok & base["completer"]].to_numpy(),
            vals[ok & ~base["completer"]].to_numpy(),
        )
        cov_rows.append(
            {
                "covariate": c,
                "mean_completers": cw["mean_a"],
                "mean_noncompleters": cw["mean_b"],
                "difference": cw["difference"],
                "ci_low": cw["ci_low"],
                "ci_high": cw["ci_high"],
                "p_value": cw["p_value"],
                "n_completers": cw["n_a"],
                "n_noncompleters": cw["n_b"],
            }
        )
    cov_cols = [
        "covariate",
        "mean_completers",
        "mean_noncompleters",
        "difference",
        "ci_low",
        "ci_high",
        "p_value",
        "n_completers",
        "n_noncompleters",
    ]
    cov_table = pd.DataFrame(cov_rows, columns=cov_cols)

    # By group.
    group_cols = [
        "level",
        "n_baseline",
        "n_paired",
        "follow_up_completeness",
        "mean_before",
        "mean_after",
        "mean_change",
        "std_error",
        "ci_low",
        "ci_high",
        "p_value",
        "effect_size",
        "effect_size_ci_low",
        "effect_size_ci_high",
        "share_improved",
        "share_unchanged",
        "share_deteriorated",
    ]
    group_rows = []
    if by is not None:
        lv = ep[by]
        n_missing = int((lv.isna() & ep["before"].notna()).sum())
        if n_missing:
            notes.append(f"{n_missing} episode(s) have no '{by}' and are left out of the groups.")
        grouped = ep[lv.notna()]
        for level, rows in sorted(grouped.groupby(by).indices.items()):
            r = _analyse(grouped, rows)
            group_rows.append({"level": level, **{k: r[k] for k in group_cols[1:]}})
    by_table = pd.DataFrame(group_rows, columns=group_cols)

    data = ep.rename_axis("episode_id").reset_index()
    if by is not None:
        data["group"] = data[by]
    notes.append(
        "Complete-case analysis: the change is estimated among episodes with both scores; if "
        "those lost to follow-up differ, it may not describe everyone who started."
    )
    defn = res_def.definition
    if defn is not None and not defn.missing_rule_verified:
        notes.append(
            f"Missing-item rule for {defn.name} is not verified against the developer's "
            f"publication; the conservative rule was applied: {defn.missing_rule}"
        )

    spec = {
        "instrument": instrument,
        "before": before,
        "after": after,
        "by": by,
        "covariates": covariates,
        "direction": res_def.direction,
        "threshold": thr,
        "threshold_kind": thr_kind,
        "threshold_source": thr_src,
        "confidence_level": 0.95,
        "effect_size": EFFECT_SIZE_NAME,
        "mde_power": 0.8,
        "mde_alpha": 0.05,
        "definition": defn.name if defn else None,
    }
    return PrePostResult(
        instrument=instrument,
        title=res_def.title,
        before=before,
        after=after,
        direction=res_def.direction,
        n_baseline=overall["n_baseline"],
        n_after=int(ep["after"].notna().sum()),
        n_paired=overall["n_paired"],
        follow_up_completeness=overall["follow_up_completeness"],
        mean_before=overall["mean_before"],
        mean_after=overall["mean_after"],
        mean_change=overall["mean_change"],
        sd_change=overall["sd_change"],
        std_error=overall["std_error"],
        ci_low=overall["ci_low"],
        ci_high=overall["ci_high"],
        p_value=overall["p_value"],
        t_statistic=overall["t_statistic"],
        df=overall["df"],
        mde=_mde(overall["sd_change"], overall["n_paired"]),
        effect_size=overall["effect_size"],
        effect_size_ci_low=overall["effect_size_ci_low"],
        effect_size_ci_high=overall["effect_size_ci_high"],
        effect_size_name=EFFECT_SIZE_NAME,
        effect_size_method=EFFECT_SIZE_METHOD,
        threshold=thr,
        threshold_kind=thr_kind,
        threshold_source=thr_src,
        n_improved=overall["n_improved"],
        n_unchanged=overall["n_unchanged"],
        n_deteriorated=overall["n_deteriorated"],
        share_improved=overall["share_improved"],
        share_unchanged=overall["share_unchanged"],
        share_deteriorated=overall["share_deteriorated"],
        n_completers=w["n_a"],
        n_noncompleters=w["n_b"],
        baseline_mean_completers=w["mean_a"],
        baseline_mean_noncompleters=w["mean_b"],
        baseline_difference=w["difference"],
        baseline_difference_ci_low=w["ci_low"],
        baseline_difference_ci_high=w["ci_high"],
        baseline_difference_p_value=w["p_value"],
        norm=res_def.norm,
        norm_label=res_def.norm_label,
        by=by,
        by_group=by_table,
        covariate_comparison=cov_table,
        data=data,
        spec=spec,
        notes=tuple(notes),
    )
