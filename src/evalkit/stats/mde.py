"""Power, minimum detectable effects (MDE) and sample sizes for evalkit's two designs.

Two designs, each with three questions (what could N detect; what power for this effect; how
many are needed):

- **Matched difference-in-differences on counts** (:func:`mde_did`, :func:`power_did`,
  :func:`sample_size_did`): the rate ratio of a Poisson DiD (participants' post/pre ratio over
  their matched controls' post/pre ratio) and the linear DiD's difference per person over the
  window.
- **Paired pre/post change** of a questionnaire score (:func:`mde_paired`, :func:`power_paired`,
  :func:`sample_size_paired`), the paired t-test :func:`evalkit.stats.prepost.prepost` runs.

Each returns a frozen :class:`DidPower` or :class:`PairedPower` with the solved figures, the
spec, notes, ``tidy()``, ``summary()``, ``to_dict()``, ``sentence()`` (the plain-English line
for a report) and ``plot_power_curve()``. ``mde_from_se`` gives Bloom's (1995) MDE from the
standard error of an estimate that has already been computed.

The variance of the DiD is derived below (:func:`did_log_rr_variance`); the paired design uses
statsmodels' ``TTestPower`` (through :mod:`evalkit.stats.prepost`, so the MDE beside a
wellbeing estimate is the same number either way). This module imports nothing from evalkit's
domain modules: it works for any programme or data set.

References: Bloom HS (1995) Minimum detectable effects, Evaluation Review 19:547-56; Cameron AC,
Trivedi PK (2013) Regression Analysis of Count Data, 2nd ed., ch. 3 (negative binomial NB2
variance); Frison L, Pocock SJ (1992) Repeated measures in clinical trials, Stat Med 11:1685-704
(pre/post correlation in the variance of a change).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from evalkit.jsonsafe import json_safe

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "TIDY_COLUMNS",
    "DidPower",
    "PairedPower",
    "did_difference_variance",
    "did_log_rr_variance",
    "mde_did",
    "mde_from_se",
    "mde_paired",
    "power_did",
    "power_paired",
    "sample_size_did",
    "sample_size_paired",
]

#: Columns of ``tidy()`` for both result classes.
TIDY_COLUMNS: tuple[str, ...] = ("term", "estimate", "scale")

SolvedFor = Literal["mde", "power", "sample_size"]

_THETA_GRID = np.exp(np.linspace(math.log(1e-3), -1e-9, 600))


# ----------------------------------------------------------------------------------------------
# The DiD variance
# ----------------------------------------------------------------------------------------------
def _alpha_dispersion(
    k: float | None, variance_to_mean: float | None, mean_total: float, name: str
) -> float:
    """Excess dispersion a = 1/k of the NB2 variance mu + a mu^2 from k or variance/mean."""
    if k is not None and variance_to_mean is not None:
        raise ValueError(f"give {name} as k or as variance_to_mean, not both")
    if variance_to_mean is not None:
        if variance_to_mean < 1:
            raise ValueError(
                f"{name} variance_to_mean must be at least 1 (1 = Poisson), got {variance_to_mean}"
            )
        return (variance_to_mean - 1.0) / mean_total
    if k is None or math.isinf(k):
        return 0.0
    if k <= 0:
        raise ValueError(f"{name} k (negative binomial shape) must be positive, got {k}")
    return 1.0 / k


@dataclass(frozen=True)
class _CountDesign:
    """Resolved inputs of the count DiD (per-person means, dispersions, correlations)."""

    n: float
    m: float
    mu0: float
    mu1: float
    a0: float
    a1: float
    rho: float
    psi: float
    window: int
    baseline: int
    c0: float
    c1: float
    deff: float = 1.0

    def q(self, theta: float | np.ndarray) -> tuple[Any, Any]:
        """Per-person variance of the log post/pre ratio: (participants at theta, controls)."""
        q0 = 1.0 / self.mu0 + self.a0
        q1 = 1.0 / self.mu1 + self.a1
        q_c = q0 + q1 - 2.0 * self.rho * math.sqrt(q0 * q1)
        q_t = q_c + (1.0 / np.asarray(theta, dtype=float) - 1.0) / self.mu1
        return q_t, q_c


def _combine(q_t: Any, q_c: float, n: float, m: float, psi: float, deff: float = 1.0) -> Any:
    """Variance of (participants' mean change score) - (controls' mean change score).

    ``q_t``, ``q_c`` are per-person variances; ``psi`` the correlation of the change scores of
    two members of one matched set; k = m / n controls per participant.
    """
    k = m / n
    if psi and k < 1:
        raise ValueError("matching_correlation needs at least one control per participant")
    within = ((k - 1.0) / k) * psi * q_c if psi else 0.0
    cross = 2.0 * psi * np.sqrt(q_t * q_c) if psi else 0.0
    return deff * (q_t + q_c / k + within - cross) / n


def _design(
    n_participants: float,
    *,
    ratio: float | None,
    n_controls: float | None,
    baseline_rate: float,
    post_rate: float | None,
    k: float | None,
    variance_to_mean: float | None,
    k_post: float | None,
    correlation: float,
    window_months: int,
    baseline_months: int,
    completeness: float,
    baseline_completeness: float,
    matching_correlation: float,
    design_effect: float = 1.0,
) -> _CountDesign:
    if n_participants <= 0:
        raise ValueError(f"n_participants must be positive, got {n_participants}")
    if (ratio is None) == (n_controls is None):
        raise ValueError("give either ratio (controls per participant) or n_controls")
    m = ratio * n_participants if ratio is not None else float(n_controls)  # type: ignore[arg-type]
    if m <= 0:
        raise ValueError("the design needs at least one matched control")
    if baseline_rate <= 0:
        raise ValueError(
            f"baseline_rate must be positive (events per person-month), got {baseline_rate}"
        )
    post_rate = baseline_rate if post_rate is None else post_rate
    if post_rate <= 0:
        raise ValueError(f"post_rate must be positive, got {post_rate}")
    if not -1 < correlation < 1:
        raise ValueError(f"correlation must lie in (-1, 1), got {correlation}")
    if not 0 <= matching_correlation < 1:
        raise ValueError(f"matching_correlation must lie in [0, 1), got {matching_correlation}")
    if matching_correlation and m < n_participants:
        raise ValueError("matching_correlation needs at least one control per participant")
    if not (0 < completeness <= 1 and 0 < baseline_completeness <= 1):
        raise ValueError("completeness and baseline_completeness must lie in (0, 1]")
    if window_months < 1 or baseline_months < 1:
        raise ValueError("window_months and baseline_months must be at least 1")
    if not design_effect > 0:
        raise ValueError(f"design_effect must be positive, got {design_effect}")
    mu0 = baseline_rate * baseline_months * baseline_completeness
    mu1 = post_rate * window_months * completeness
    a0 = _alpha_dispersion(k, variance_to_mean, mu0, "dispersion")
    a1 = a0 if k_post is None else _alpha_dispersion(k_post, None, mu1, "dispersion (post)")
    return _CountDesign(
        n=float(n_participants),
        m=float(m),
        mu0=mu0,
        mu1=mu1,
        a0=a0,
        a1=a1,
        rho=float(correlation),
        psi=float(matching_correlation),
        window=int(window_months),
        baseline=int(baseline_months),
        c0=float(baseline_completeness),
        c1=float(completeness),
        deff=float(design_effect),
    )


def did_log_rr_variance(
    n_participants: float,
    *,
    baseline_rate: float,
    ratio: float | None = None,
    n_controls: float | None = None,
    rate_ratio: float = 1.0,
    post_rate: float | None = None,
    k: float | None = None,
    variance_to_mean: float | None = None,
    k_post: float | None = None,
    correlation: float = 0.0,
    window_months: int = 6,
    baseline_months: int = 12,
    completeness: float = 1.0,
    baseline_completeness: float = 1.0,
    matching_correlation: float = 0.0,
    design_effect: float = 1.0,
) -> float:
    r"""Variance of the log rate ratio of a matched count DiD (delta method).

    **Model.** Person i's count over the baseline (B months, share c0 of it observed) is Y0 with
    mean mu0 = lambda0 * B * c0; over the window after index (W months, share c1 observed) it is
    Y1 with mean mu1 = lambda1 * W * c1 for a control and theta * mu1 for a participant (theta is
    the rate ratio; lambda1 = lambda0 unless the controls' rate changes over time, e.g. regression
    to the mean after matching on prior use). Counts are over-dispersed as the negative binomial
    NB2: Var(Yp) = mu_p + a_p * mu_p^2, with a = 1/k (k is the NB shape; a = 0 is Poisson;
    a variance/mean ratio phi of the baseline total gives a0 = (phi - 1) / mu0). The person's
    baseline and window totals have correlation rho (Corr(Y0, Y1)).

    **Estimator.** The rate ratio is estimated as the ratio of group totals
    (T1 / T0) / (C1 / C0), with T the participants' and C the controls' totals; it is what a
    fixed-effects Poisson DiD with unit and period effects and person-time offsets estimates
    when person-time is spread alike across people (its score is T1 - (T0 + T1) p).

    **Delta method.** log(T1/T0) ~ log(mu1 theta / mu0) + (1/n) sum_i z_i with the person's
    change score z_i = Y1_i / (theta mu1) - Y0_i / mu0, so

    .. math::

        q_c = \mathrm{Var}(z) = q_0 + q_1 - 2\rho\sqrt{q_0 q_1},\quad
        q_0 = 1/\mu_0 + a_0,\quad q_1 = 1/\mu_1 + a_1

    for a control. A participant's window count under rate ratio theta is, for any mixed
    Poisson count, the control count binomially thinned by theta, so its variance gains
    theta(1 - theta) mu1 while the covariance with Y0 scales by theta:
    q_t(theta) = q_c + (1/theta - 1) / mu1. With n participants and m controls (k = m / n per
    matched set) and psi the correlation between the change scores of two members of one
    matched set (matching on prior use can make them move together; psi = 0 assumes
    independence, the conservative choice),

    .. math::

        \mathrm{Var}(\log\hat\theta) = \frac{1}{n}\left[q_t + \frac{q_c}{k}
        + \frac{k-1}{k}\psi q_c - 2\psi\sqrt{q_t q_c}\right],

    which is q_t / n + q_c / m when psi = 0. Two checks: Poisson counts (a = 0) with rho = 0
    give the textbook 1/E[T0] + 1/E[T1] + 1/E[C0] + 1/E[C1]; a person effect shared by both
    periods (gamma frailty with a0 = a1 = a, so rho = a / sqrt(q0 q1)) cancels from q_c,
    as the unit fixed effects remove it.

    Hand-written because no library offers the variance of a matched count DiD; statsmodels'
    power classes assume a known variance per observation.

    Parameters
    ----------
    n_participants : float
        Participants with at least one matched control.
    baseline_rate : float
        Events per person-month in the baseline (matched controls' pre-period rate).
    ratio, n_controls : float, optional
        Controls per participant, or the number of controls (give one). With unequal
        matching weights, use the effective number (sum w)^2 / sum w^2.
    rate_ratio : float
        True rate ratio theta (1 = no effect).
    post_rate : float, optional
        Controls' events per person-month in the window (default ``baseline_rate``).
    k, variance_to_mean : float, optional
        Over-dispersion of the baseline total: negative binomial shape k (None = Poisson) or
        its variance/mean ratio (give at most one).
    k_post : float, optional
        Negative binomial shape of the window total (default: the same excess dispersion
        a = 1/k as the baseline).
    correlation : float
        Correlation rho between a person's baseline and window totals.
    window_months, baseline_months : int
        W and B.
    completeness, baseline_completeness : float
        Share of the window's and the baseline's person-time observed (0 to 1].
    matching_correlation : float
        psi above, in [0, 1).
    design_effect : float
        Factor multiplying the variance (default 1): e.g. the ratio of an estimate's observed
        squared SE to this formula's, to carry an analysis's actual precision into its MDE.

    Returns
    -------
    float
        Var(log rate ratio).

    Examples
    --------
    Poisson, no correlation, 100 participants, 100 controls, 0.1 events a month, B = W = 12:
    each total has mean 1.2, so the variance is 4 / (100 * 1.2).

    >>> round(did_log_rr_variance(100, baseline_rate=0.1, ratio=1, window_months=12), 6)
    0.033333
    """
    d = _design(
        n_participants,
        ratio=ratio,
        n_controls=n_controls,
        baseline_rate=baseline_rate,
        post_rate=post_rate,
        k=k,
        variance_to_mean=variance_to_mean,
        k_post=k_post,
        correlation=correlation,
        window_months=window_months,
        baseline_months=baseline_months,
        completeness=completeness,
        baseline_completeness=baseline_completeness,
        matching_correlation=matching_correlation,
        design_effect=design_effect,
    )
    if rate_ratio <= 0:
        raise ValueError(f"rate_ratio must be positive, got {rate_ratio}")
    return float(_var(d, rate_ratio, d.n))


def _var(d: _CountDesign, theta: Any, n: float, m: float | None = None) -> Any:
    """Var(log RR) of design ``d`` at ``theta`` with n participants (m controls: fixed or k*n)."""
    m = d.m / d.n * n if m is None else m
    q_t, q_c = d.q(theta)
    return _combine(q_t, q_c, n, m, d.psi, d.deff)


def _diff_var(d: _CountDesign, n: float, m: float | None = None) -> float:
    """Variance of the linear DiD's difference per person over the window (null)."""
    m = d.m / d.n * n if m is None else m
    v0 = d.mu0 + d.a0 * d.mu0**2
    v1 = d.mu1 + d.a1 * d.mu1**2
    e0 = d.baseline * d.c0
    e1 = d.window * d.c1
    per_month = v1 / e1**2 + v0 / e0**2 - 2.0 * d.rho * math.sqrt(v0 * v1) / (e0 * e1)
    return float(d.window**2 * _combine(per_month, per_month, n, m, d.psi, d.deff))


def did_difference_variance(n_participants: float, **design: Any) -> float:
    """Variance of the linear DiD's difference in events per person over the window.

    Same model and arguments as :func:`did_log_rr_variance` (without ``rate_ratio``). The
    linear DiD compares each person's mean monthly count after index (over the observed
    months, W * c1 of them) with before (B * c0 months): d = Y1 / (W c1) - Y0 / (B c0), so
    Var(d) = V1 / (W c1)^2 + V0 / (B c0)^2 - 2 rho sqrt(V0 V1) / (W c1 B c0) with
    Vp = mu_p + a_p mu_p^2; the difference per person over the window is W times the
    per-month DiD, and the groups combine as in :func:`did_log_rr_variance` (null variance).

    Parameters
    ----------
    n_participants : float
        Participants.
    **design
        Keyword arguments of :func:`did_log_rr_variance`.

    Returns
    -------
    float
        Variance in (events per person)^2.

    Examples
    --------
    >>> round(did_difference_variance(100, baseline_rate=0.1, ratio=1, window_months=12), 6)
    0.048
    """
    d = _design(n_participants, **_design_kwargs(design))
    return _diff_var(d, d.n)


def _design_kwargs(design: dict[str, Any]) -> dict[str, Any]:
    allowed = {
        "ratio": None,
        "n_controls": None,
        "baseline_rate": None,
        "post_rate": None,
        "k": None,
        "variance_to_mean": None,
        "k_post": None,
        "correlation": 0.0,
        "window_months": 6,
        "baseline_months": 12,
        "completeness": 1.0,
        "baseline_completeness": 1.0,
        "matching_correlation": 0.0,
        "design_effect": 1.0,
    }
    unknown = set(design) - set(allowed)
    if unknown:
        raise TypeError(f"unknown design argument(s): {sorted(unknown)}")
    if design.get("baseline_rate") is None:
        raise TypeError("baseline_rate is required")
    return {**allowed, **design}


# ----------------------------------------------------------------------------------------------
# Power and its inversions
# ----------------------------------------------------------------------------------------------
def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return float(stats.norm.ppf(1 - alpha / 2))


def _power_from(delta: Any, se: Any, alpha: float) -> Any:
    """Power of the two-sided Wald z-test of a true shift ``delta`` with standard error ``se``."""
    z = _z(alpha)
    r = np.abs(delta) / se
    return stats.norm.cdf(r - z) + stats.norm.cdf(-r - z)


def _rr_power(d: _CountDesign, theta: Any, n: float, m: float | None, alpha: float) -> Any:
    return _power_from(np.log(theta), np.sqrt(_var(d, theta, n, m)), alpha)


def _solve_mde_rr(
    d: _CountDesign, n: float, m: float | None, alpha: float, power: float, side: str
) -> float:
    """Rate ratio nearest 1 with the target power, on the fall (<1) or rise (>1) side.

    The power of a fall is not monotone: as theta -> 0 the participants' window counts vanish
    and the log rate ratio's variance grows without bound, so the root is found between the
    grid point nearest 1 that reaches the target and 1. NaN if no theta reaches it.
    """

    def f(t: float) -> float:
        return float(_rr_power(d, t, n, m, alpha)) - power

    if side == "fall":
        grid = _THETA_GRID
        pw = _rr_power(d, grid, n, m, alpha)
        ok = np.flatnonzero(pw >= power)
        if ok.size == 0:
            return math.nan
        j = ok[-1]
        if j == len(grid) - 1:
            return float(grid[-1])
        return float(optimize.brentq(f, grid[j], grid[j + 1], xtol=1e-12))
    hi = 2.0
    while f(hi) < 0:
        hi *= 2
        if hi > 1e6:
            return math.nan
    return float(optimize.brentq(f, 1.0 + 1e-12, hi, xtol=1e-12))


def mde_from_se(
    std_error: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    df: float | None = None,
) -> float:
    """Minimum detectable effect from the standard error of an estimate (Bloom 1995).

    MDE = (z_{1 - alpha/2} + z_{power}) * SE, with t quantiles on ``df`` degrees of freedom
    when given; the multiplier is 2.80 at 80% power and 5% two-sided. For a log rate ratio the
    detectable fall is ``exp(-mde_from_se(se))``.

    Parameters
    ----------
    std_error : float
        Standard error of the estimate (log scale for a ratio).
    alpha, power : float
        Two-sided significance level and power.
    df : float, optional
        Degrees of freedom of a t-based test (e.g. clusters - 1).

    Returns
    -------
    float
        The MDE on the scale of ``std_error``.

    Examples
    --------
    >>> round(mde_from_se(1.0), 4)
    2.8016
    """
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    if df is None:
        mult = _z(alpha) + stats.norm.ppf(power)
    else:
        mult = stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)
    return float(mult * std_error)


# ----------------------------------------------------------------------------------------------
# Result object: count DiD
# ----------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{x:.0%}" if abs(x) >= 0.1 else f"{x:.1%}"


def _fmt_n(x: float) -> str:
    return f"{round(x):,}"


@dataclass(frozen=True, eq=False, repr=False)
class DidPower:
    """Power, MDE and sample size of a matched count DiD (see :func:`did_log_rr_variance`).

    Attributes
    ----------
    solved_for : {"mde", "power", "sample_size"}
        Which question was answered.
    n_participants, n_controls : float
        Participants and controls (solved, rounded up, for ``"sample_size"``).
    rate_ratio : float
        The effect considered: the MDE (fall) for ``"mde"``, the given rate ratio otherwise.
    power, alpha : float
        Power at ``rate_ratio`` and the two-sided significance level.
    target_power : float
        Power the MDE and sample size aim at.
    mde_rate_ratio, mde_rate_ratio_rise : float
        Smallest fall and rise in the rate (as rate ratios) detectable with ``target_power``;
        NaN when none is.
    mde_percent_fall : float
        ``1 - mde_rate_ratio``.
    mde_difference_per_person : float
        The linear DiD's MDE: events per participant over the window (a magnitude).
    expected_events_per_participant : float
        Events per participant over the window without an effect (lambda1 * W * c1).
    std_error_log_rr : float
        SE of the log rate ratio with no effect.
    std_error_difference : float
        SE of the difference per person over the window.
    window_months, baseline_months : int
    outcome : str
        Label used in sentences (e.g. ``"emergency admissions"``).
    spec : dict
        Every input, defaults resolved.
    notes : tuple of str
    """

    solved_for: SolvedFor
    n_participants: float
    n_controls: float
    rate_ratio: float
    power: float
    alpha: float
    target_power: float
    mde_rate_ratio: float
    mde_rate_ratio_rise: float
    mde_difference_per_person: float
    expected_events_per_participant: float
    std_error_log_rr: float
    std_error_difference: float
    window_months: int
    baseline_months: int
    outcome: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    _design: _CountDesign | None = field(default=None, repr=False)

    @property
    def mde_percent_fall(self) -> float:
        """Smallest detectable fall as a share (1 - rate ratio)."""
        return 1.0 - self.mde_rate_ratio

    @property
    def estimate(self) -> float:
        """The solved quantity: MDE rate ratio, power, or participants needed."""
        return {
            "mde": self.mde_rate_ratio,
            "power": self.power,
            "sample_size": self.n_participants,
        }[self.solved_for]

    def value_for(self, scale: str) -> float:
        """The MDE on a results.json scale: ``"rate_ratio"`` or ``"difference_per_person"``."""
        if scale == "rate_ratio":
            return self.mde_rate_ratio
        if scale == "difference_per_person":
            return self.mde_difference_per_person
        raise ValueError(f"unknown scale {scale!r}")

    def power_at(self, rate_ratio: float | np.ndarray) -> Any:
        """Power of the design at other rate ratios (same n, controls and alpha)."""
        if self._design is None:
            raise ValueError("no design attached")
        return _rr_power(self._design, rate_ratio, self.n_participants, self.n_controls, self.alpha)

    # ------------------------------------------------------------------ views
    def sentence(self) -> str:
        """The plain-English line for a report."""
        w = f"over {self.window_months} months"
        what = self.outcome
        ctrl = f" and {_fmt_n(self.n_controls)} matched controls" if self.n_controls >= 1 else ""
        tp = f"{self.target_power:.0%} power"
        sig = f"{self.alpha:.0%} significance"
        if self.solved_for == "sample_size":
            k = self.n_controls / self.n_participants
            return (
                f"To detect a {_pct(1 - self.rate_ratio)} "
                f"{'fall' if self.rate_ratio < 1 else 'rise'} in {what} {w} with {tp} at {sig}, "
                f"about {_fmt_n(self.n_participants)} participants would be needed "
                f"(with {k:.2g} matched controls each)."
            )
        if self.solved_for == "power":
            return (
                f"With {_fmt_n(self.n_participants)} participants{ctrl}, this evaluation would "
                f"have a {self.power:.0%} chance of detecting a {_pct(abs(1 - self.rate_ratio))} "
                f"{'fall' if self.rate_ratio < 1 else 'rise'} in {what} {w} (at {sig})."
            )
        if math.isnan(self.mde_rate_ratio):
            return (
                f"With {_fmt_n(self.n_participants)} participants{ctrl}, no fall in {what} {w} "
                f"could be detected reliably ({tp}, {sig}): there are too few events."
            )
        return (
            f"With {_fmt_n(self.n_participants)} participants{ctrl}, this evaluation could "
            f"reliably detect only falls in {what} larger than {_pct(self.mde_percent_fall)} "
            f"{w} (a rate ratio of {self.mde_rate_ratio:.2f} or lower; {tp}, {sig})."
        )

    def tidy(self) -> pd.DataFrame:
        """One row per figure: ``term``, ``estimate``, ``scale`` (:data:`TIDY_COLUMNS`)."""
        rows = [
            ("n_participants", self.n_participants, "count"),
            ("n_controls", self.n_controls, "count"),
            ("rate_ratio", self.rate_ratio, "rate_ratio"),
            ("power", self.power, "probability"),
            ("mde_rate_ratio", self.mde_rate_ratio, "rate_ratio"),
            ("mde_rate_ratio_rise", self.mde_rate_ratio_rise, "rate_ratio"),
            ("mde_difference_per_person", self.mde_difference_per_person, "difference_per_person"),
            ("expected_events_per_participant", self.expected_events_per_participant, "events"),
            ("std_error_log_rr", self.std_error_log_rr, "log_rate_ratio"),
            ("std_error_difference", self.std_error_difference, "difference_per_person"),
        ]
        return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))

    def summary(self) -> str:
        """Header, the tidy table, the sentence and the notes."""
        head = [
            f"Power analysis: matched DiD on counts, {self.outcome} ({self.solved_for})",
            f"Design: {_fmt_n(self.n_participants)} participants, {self.n_controls:,.0f} controls; "
            f"{self.window_months}-month window vs {self.baseline_months}-month baseline",
            f"Test: two-sided Wald z on the log rate ratio, alpha {self.alpha:g}, target power "
            f"{self.target_power:g}",
            "",
            self.sentence(),
            "",
            self.tidy().to_string(index=False, float_format=lambda v: f"{v:.4g}"),
        ]
        if self.notes:
            head += ["", "Notes:", *(f"- {n}" for n in self.notes)]
        return "\n".join(head)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the figures, the sentence, the spec and the notes."""
        out = {
            "analysis": "power_did",
            "solved_for": self.solved_for,
            **{r.term: r.estimate for r in self.tidy().itertuples(index=False)},
            "mde_percent_fall": self.mde_percent_fall,
            "alpha": self.alpha,
            "target_power": self.target_power,
            "window_months": self.window_months,
            "baseline_months": self.baseline_months,
            "outcome": self.outcome,
            "sentence": self.sentence(),
            "spec": self.spec,
            "notes": list(self.notes),
        }
        return json_safe(out)

    def plot_power_curve(self, ax: Axes | None = None) -> Axes:
        """Power against the true rate ratio, with the target and the MDEs marked."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        lo = 0.2 if math.isnan(self.mde_rate_ratio) else max(0.05, self.mde_rate_ratio * 0.6)
        theta = np.exp(np.linspace(math.log(lo), math.log(1 / lo), 300))
        ax.plot(theta, self.power_at(theta), color="C0")
        ax.axhline(self.target_power, color="0.5", linestyle="--", linewidth=0.8)
        for v in (self.mde_rate_ratio, self.mde_rate_ratio_rise):
            if np.isfinite(v):
                ax.axvline(v, color="C1", linewidth=0.8)
        ax.axvline(1.0, color="0.3", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlabel(f"True rate ratio, {self.outcome}")
        ax.set_ylabel("Power")
        ax.set_ylim(0, 1)
        ax.set_title(
            f"{_fmt_n(self.n_participants)} participants, {self.window_months}-month window",
            fontsize=9,
        )
        return ax


def _did_result(
    d: _CountDesign,
    solved_for: SolvedFor,
    rate_ratio: float | None,
    alpha: float,
    power: float,
    outcome: str,
    spec: dict[str, Any],
    notes: list[str],
    fixed_m: bool,
) -> DidPower:
    n, m = d.n, d.m
    m_arg = m if fixed_m else None
    fall = _solve_mde_rr(d, n, m_arg, alpha, power, "fall")
    rise = _solve_mde_rr(d, n, m_arg, alpha, power, "rise")
    se_diff = math.sqrt(_diff_var(d, n, m_arg))
    mde_diff = mde_from_se(se_diff, alpha=alpha, power=power, df=max(n - 1.0, 1.0))
    theta = fall if rate_ratio is None else rate_ratio
    pw = float(_rr_power(d, theta, n, m_arg, alpha)) if np.isfinite(theta) else math.nan
    if math.isnan(fall):
        notes.append(
            f"No fall in the rate reaches {power:.0%} power: with so few expected events the "
            "log rate ratio is too uncertain at any effect size."
        )
    return DidPower(
        solved_for=solved_for,
        n_participants=n,
        n_controls=m,
        rate_ratio=float(theta),
        power=pw,
        alpha=alpha,
        target_power=power,
        mde_rate_ratio=fall,
        mde_rate_ratio_rise=rise,
        mde_difference_per_person=mde_diff,
        expected_events_per_participant=d.mu1,
        std_error_log_rr=float(math.sqrt(_var(d, 1.0, n, m_arg))),
        std_error_difference=se_diff,
        window_months=d.window,
        baseline_months=d.baseline,
        outcome=outcome,
        spec=spec,
        notes=tuple(notes),
        _design=d,
    )


def _common_notes(d: _CountDesign) -> list[str]:
    notes = [
        "Variance by the delta method on the four group totals, negative binomial (NB2) "
        "over-dispersion and the within-person baseline/window correlation "
        "(see did_log_rr_variance).",
        f"Expected events per person: {d.mu0:.3g} in the baseline, {d.mu1:.3g} in the window "
        "without an effect.",
    ]
    if d.psi == 0:
        notes.append(
            "Change scores of matched-set members are treated as independent "
            "(matching_correlation 0): conservative if matching makes them move together."
        )
    return notes


def mde_did(
    n_participants: float,
    *,
    baseline_rate: float,
    ratio: float | None = None,
    n_controls: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    outcome: str = "events",
    **design: Any,
) -> DidPower:
    """Minimum detectable rate ratio (and difference per person) of a matched count DiD.

    Solves, for the rate ratio theta nearest 1 on each side, ``power(theta) = power`` with
    ``power(theta) = Phi(|log theta| / SE(theta) - z) + Phi(-|log theta| / SE(theta) - z)``,
    z = z_{1 - alpha/2}, SE(theta) from :func:`did_log_rr_variance` at theta (the Wald test
    uses the SE at the estimate). The difference per person is the linear DiD's
    ``mde_from_se(SE, df=n - 1)``.

    Parameters
    ----------
    n_participants : float
        Participants.
    baseline_rate : float
        Controls' baseline events per person-month.
    ratio, n_controls : float, optional
        Controls per participant or the number of controls (give one).
    alpha, power : float
        Two-sided significance level and target power (defaults 0.05 and 0.8).
    outcome : str
        Label for sentences, e.g. ``"emergency admissions"``.
    **design
        Other keyword arguments of :func:`did_log_rr_variance` (``post_rate``, ``k``,
        ``variance_to_mean``, ``k_post``, ``correlation``, ``window_months``,
        ``baseline_months``, ``completeness``, ``baseline_completeness``,
        ``matching_correlation``, ``design_effect``).

    Returns
    -------
    DidPower
        ``solved_for="mde"``; ``rate_ratio`` is the detectable fall.

    Examples
    --------
    >>> res = mde_did(140, baseline_rate=0.05, ratio=3, k=1.0, correlation=0.3)
    >>> round(res.power, 3)
    0.8
    """
    kw = _design_kwargs({**design, "baseline_rate": baseline_rate})
    kw.update(ratio=ratio, n_controls=n_controls)
    d = _design(n_participants, **kw)
    spec = {**kw, "n_participants": n_participants, "alpha": alpha, "power": power}
    return _did_result(
        d, "mde", None, alpha, power, outcome, spec, _common_notes(d), n_controls is not None
    )


def power_did(
    rate_ratio: float,
    n_participants: float,
    *,
    baseline_rate: float,
    ratio: float | None = None,
    n_controls: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    outcome: str = "events",
    **design: Any,
) -> DidPower:
    """Power of a matched count DiD to detect a true rate ratio ``rate_ratio``.

    Parameters are those of :func:`mde_did`; ``power`` is the target used for the MDEs the
    result also carries.

    Returns
    -------
    DidPower
        ``solved_for="power"``.

    Examples
    --------
    >>> res = mde_did(140, baseline_rate=0.05, ratio=3)
    >>> round(power_did(res.mde_rate_ratio, 140, baseline_rate=0.05, ratio=3).power, 6)
    0.8
    """
    if rate_ratio <= 0:
        raise ValueError(f"rate_ratio must be positive, got {rate_ratio}")
    kw = _design_kwargs({**design, "baseline_rate": baseline_rate})
    kw.update(ratio=ratio, n_controls=n_controls)
    d = _design(n_participants, **kw)
    spec = {**kw, "n_participants": n_participants, "rate_ratio": rate_ratio, "alpha": alpha}
    return _did_result(
        d,
        "power",
        float(rate_ratio),
        alpha,
        power,
        outcome,
        spec,
        _common_notes(d),
        n_controls is not None,
    )


def sample_size_did(
    rate_ratio: float,
    *,
    baseline_rate: float,
    ratio: float | None = None,
    n_controls: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    outcome: str = "events",
    max_participants: float = 1e8,
    **design: Any,
) -> DidPower:
    """Participants needed for a matched count DiD to detect ``rate_ratio`` with ``power``.

    With ``ratio`` controls per participant, Var(log RR) = V / n for a V that does not depend
    on n, so n = (z_{1-alpha/2} + z_power)^2 V / (log theta)^2 up to the far tail's tiny share of
    power; the root of the exact power function is found (Brent) and rounded up. With a fixed
    ``n_controls`` the controls' share of the variance does not shrink, so some effects cannot
    be reached at any n (ValueError).

    Parameters are those of :func:`mde_did`.

    Returns
    -------
    DidPower
        ``solved_for="sample_size"``; ``n_participants`` is the whole number needed and
        ``power`` the power it achieves (at least the target).

    Examples
    --------
    >>> res = sample_size_did(0.8, baseline_rate=0.05, ratio=3, k=1.0, correlation=0.3)
    >>> res.power >= 0.8
    True
    """
    if rate_ratio <= 0 or rate_ratio == 1:
        raise ValueError(f"rate_ratio must be positive and not 1, got {rate_ratio}")
    kw = _design_kwargs({**design, "baseline_rate": baseline_rate})
    kw.update(ratio=ratio, n_controls=n_controls)
    d1 = _design(1.0, **{**kw, "n_controls": None, "ratio": ratio or 1.0})
    fixed_m = n_controls is not None
    m_fixed = float(n_controls) if fixed_m else None  # type: ignore[arg-type]

    def f(n: float) -> float:
        return float(_rr_power(d1, rate_ratio, n, m_fixed, alpha)) - power

    lo = 1.0
    if f(lo) >= 0:
        n_star = lo
    else:
        if f(max_participants) < 0:
            raise ValueError(
                f"no number of participants up to {max_participants:,.0f} reaches {power:.0%} "
                f"power for a rate ratio of {rate_ratio:g} with this design"
            )
        n_star = float(optimize.brentq(f, lo, max_participants, xtol=1e-6))
    n_int = float(math.ceil(n_star - 1e-9))
    kw_n = {**kw}
    if not fixed_m:
        kw_n["ratio"] = ratio
    d = _design(n_int, **kw_n)
    spec = {**kw, "rate_ratio": rate_ratio, "alpha": alpha, "power": power}
    notes = _common_notes(d)
    notes.append(f"Exact solution {n_star:.1f} participants, rounded up.")
    return _did_result(
        d, "sample_size", float(rate_ratio), alpha, power, outcome, spec, notes, fixed_m
    )


# ----------------------------------------------------------------------------------------------
# Paired pre/post change
# ----------------------------------------------------------------------------------------------
def _sd_change(
    sd_change: float | None,
    sd_baseline: float | None,
    sd_after: float | None,
    correlation: float | None,
) -> float:
    if sd_change is not None:
        if sd_baseline is not None or correlation is not None:
            raise ValueError("give sd_change, or sd_baseline with correlation, not both")
        if not sd_change > 0:
            raise ValueError(f"sd_change must be positive, got {sd_change}")
        return float(sd_change)
    if sd_baseline is None or correlation is None:
        raise ValueError("give sd_change, or sd_baseline and correlation")
    sd_a = sd_baseline if sd_after is None else sd_after
    if not -1 <= correlation <= 1:
        raise ValueError(f"correlation must lie in [-1, 1], got {correlation}")
    v = sd_baseline**2 + sd_a**2 - 2 * correlation * sd_baseline * sd_a
    if not v > 0:
        raise ValueError("the SD of change is zero for these inputs")
    return float(math.sqrt(v))


def _paired_n(n: float, completeness: float) -> int:
    if not 0 < completeness <= 1:
        raise ValueError(f"completeness must lie in (0, 1], got {completeness}")
    return math.floor(n * completeness + 1e-9)


def _ttest_power() -> Any:
    from statsmodels.stats.power import TTestPower

    return TTestPower()


def _paired_power(effect: float, sd: float, n_paired: int, alpha: float) -> float:
    if n_paired < 2:
        return math.nan
    return float(
        _ttest_power().power(
            effect_size=abs(effect) / sd, nobs=n_paired, alpha=alpha, alternative="two-sided"
        )
    )


def _paired_mde(sd: float, n_paired: int, alpha: float, power: float) -> float:
    from evalkit.stats.prepost import _mde_standardised

    if n_paired < 3:
        return math.nan
    return _mde_standardised(int(n_paired), float(alpha), float(power)) * sd


@dataclass(frozen=True, eq=False, repr=False)
class PairedPower:
    """Power, MDE and sample size of a paired pre/post change (paired t-test).

    Attributes
    ----------
    solved_for : {"mde", "power", "sample_size"}
    n : float
        People with a baseline measure (solved, rounded up, for ``"sample_size"``).
    completeness : float
        Share of them with a follow-up measure.
    n_paired : int
        floor(n * completeness): the pairs the test uses.
    sd_change : float
        SD of the within-person change.
    effect : float
        The mean change considered: the MDE for ``"mde"``, the given change otherwise.
    power, alpha, target_power : float
    mde : float
        Smallest mean change (a magnitude, instrument points) detectable with
        ``target_power``.
    mde_standardised : float
        ``mde / sd_change`` (d_z).
    outcome, unit : str
        Labels for sentences (``"SWEMWBS"``, ``"points"``).
    spec : dict
    notes : tuple of str
    """

    solved_for: SolvedFor
    n: float
    completeness: float
    n_paired: int
    sd_change: float
    effect: float
    power: float
    alpha: float
    target_power: float
    mde: float
    mde_standardised: float
    outcome: str
    unit: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def estimate(self) -> float:
        """The solved quantity: MDE, power, or people needed at baseline."""
        return {"mde": self.mde, "power": self.power, "sample_size": self.n}[self.solved_for]

    def sentence(self) -> str:
        """The plain-English line for a report."""
        tp = f"{self.target_power:.0%} power"
        sig = f"{self.alpha:.0%} significance"
        pairs = f"{self.n_paired:,} people with both questionnaires"
        if self.solved_for == "sample_size":
            return (
                f"To detect a mean change of {self.effect:.3g} {self.unit} in {self.outcome} "
                f"with {tp} at {sig}, about {_fmt_n(self.n)} people would need a baseline "
                f"questionnaire ({self.n_paired:,} completing both, at "
                f"{self.completeness:.0%} follow-up)."
            )
        if self.solved_for == "power":
            return (
                f"With {pairs}, this evaluation would have a {self.power:.0%} chance of "
                f"detecting a mean change of {self.effect:.3g} {self.unit} in {self.outcome} "
                f"(at {sig})."
            )
        if math.isnan(self.mde):
            return f"With {pairs}, no change in {self.outcome} could be detected reliably."
        return (
            f"With {pairs}, this evaluation could reliably detect only mean changes in "
            f"{self.outcome} larger than {self.mde:.3g} {self.unit} "
            f"(d_z {self.mde_standardised:.2f}; {tp}, {sig})."
        )

    def tidy(self) -> pd.DataFrame:
        """One row per figure: ``term``, ``estimate``, ``scale``."""
        rows = [
            ("n", self.n, "count"),
            ("n_paired", self.n_paired, "count"),
            ("completeness", self.completeness, "share"),
            ("sd_change", self.sd_change, "score"),
            ("effect", self.effect, "score"),
            ("power", self.power, "probability"),
            ("mde", self.mde, "score"),
            ("mde_standardised", self.mde_standardised, "d_z"),
        ]
        return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))

    def summary(self) -> str:
        """Header, the tidy table, the sentence and the notes."""
        lines = [
            f"Power analysis: paired pre/post change, {self.outcome} ({self.solved_for})",
            f"Test: paired t (statsmodels TTestPower), alpha {self.alpha:g}, target power "
            f"{self.target_power:g}",
            "",
            self.sentence(),
            "",
            self.tidy().to_string(index=False, float_format=lambda v: f"{v:.4g}"),
        ]
        if self.notes:
            lines += ["", "Notes:", *(f"- {n}" for n in self.notes)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the figures, the sentence, the spec and the notes."""
        out = {
            "analysis": "power_paired",
            "solved_for": self.solved_for,
            **{r.term: r.estimate for r in self.tidy().itertuples(index=False)},
            "alpha": self.alpha,
            "target_power": self.target_power,
            "outcome": self.outcome,
            "sentence": self.sentence(),
            "spec": self.spec,
            "notes": list(self.notes),
        }
        return json_safe(out)

    def plot_power_curve(self, ax: Axes | None = None) -> Axes:
        """Power against the true mean change, with the target and the MDE marked."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        top = 2 * self.mde if np.isfinite(self.mde) else self.sd_change
        x = np.linspace(0, top, 200)
        ax.plot(x, [_paired_power(v, self.sd_change, self.n_paired, self.alpha) for v in x])
        ax.axhline(self.target_power, color="0.5", linestyle="--", linewidth=0.8)
        if np.isfinite(self.mde):
            ax.axvline(self.mde, color="C1", linewidth=0.8)
        ax.set_xlabel(f"True mean change, {self.outcome} ({self.unit})")
        ax.set_ylabel("Power")
        ax.set_ylim(0, 1)
        ax.set_title(f"{self.n_paired:,} pairs", fontsize=9)
        return ax


def _paired_result(
    solved_for: SolvedFor,
    n: float,
    completeness: float,
    sd: float,
    effect: float | None,
    alpha: float,
    power: float,
    outcome: str,
    unit: str,
    spec: dict[str, Any],
    notes: list[str],
) -> PairedPower:
    n_paired = _paired_n(n, completeness)
    mde = _paired_mde(sd, n_paired, alpha, power)
    eff = mde if effect is None else float(effect)
    pw = _paired_power(eff, sd, n_paired, alpha) if np.isfinite(eff) else math.nan
    if n_paired < 3:
        notes.append("Fewer than 3 pairs: no MDE.")
    return PairedPower(
        solved_for=solved_for,
        n=float(n),
        completeness=float(completeness),
        n_paired=n_paired,
        sd_change=sd,
        effect=eff,
        power=pw,
        alpha=alpha,
        target_power=power,
        mde=mde,
        mde_standardised=mde / sd if np.isfinite(mde) else math.nan,
        outcome=outcome,
        unit=unit,
        spec=spec,
        notes=tuple(notes),
    )


def mde_paired(
    n: float,
    *,
    sd_change: float | None = None,
    sd_baseline: float | None = None,
    sd_after: float | None = None,
    correlation: float | None = None,
    completeness: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
    outcome: str = "the score",
    unit: str = "points",
) -> PairedPower:
    """Minimum detectable mean change of a paired pre/post design.

    The paired t-test on floor(n * completeness) pairs detects a standardised change d_z with
    the target power (statsmodels ``TTestPower``, noncentral t); the MDE is d_z times the SD of
    the change, given directly or as sqrt(sd_b^2 + sd_a^2 - 2 r sd_b sd_a) from the baseline
    (and follow-up) SDs and the pre/post correlation r. The same computation as the ``mde`` of
    :func:`evalkit.stats.prepost.prepost`.

    Parameters
    ----------
    n : float
        People with a baseline measure (or the pairs, with ``completeness=1``).
    sd_change : float, optional
        SD of the within-person change.
    sd_baseline, sd_after, correlation : float, optional
        Alternatively the SDs (``sd_after`` defaults to ``sd_baseline``) and their correlation.
    completeness : float
        Share of baseline measures with a follow-up.
    alpha, power : float
    outcome, unit : str
        Labels for sentences.

    Returns
    -------
    PairedPower

    Examples
    --------
    >>> res = mde_paired(100, sd_change=1.0)
    >>> round(res.mde, 4)
    0.2829
    """
    sd = _sd_change(sd_change, sd_baseline, sd_after, correlation)
    spec = {
        "n": n,
        "sd_change": sd,
        "sd_baseline": sd_baseline,
        "sd_after": sd_after,
        "correlation": correlation,
        "completeness": completeness,
        "alpha": alpha,
        "power": power,
        "test": "paired t, two-sided",
    }
    return _paired_result("mde", n, completeness, sd, None, alpha, power, outcome, unit, spec, [])


def power_paired(
    effect: float,
    n: float,
    *,
    sd_change: float | None = None,
    sd_baseline: float | None = None,
    sd_after: float | None = None,
    correlation: float | None = None,
    completeness: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
    outcome: str = "the score",
    unit: str = "points",
) -> PairedPower:
    """Power of a paired pre/post design to detect a true mean change ``effect``.

    Parameters are those of :func:`mde_paired`.

    Returns
    -------
    PairedPower
        ``solved_for="power"``.

    Examples
    --------
    >>> round(power_paired(0.2829, 100, sd_change=1.0).power, 3)
    0.8
    """
    sd = _sd_change(sd_change, sd_baseline, sd_after, correlation)
    spec = {"effect": effect, "n": n, "sd_change": sd, "completeness": completeness, "alpha": alpha}
    return _paired_result(
        "power", n, completeness, sd, effect, alpha, power, outcome, unit, spec, []
    )


def sample_size_paired(
    effect: float,
    *,
    sd_change: float | None = None,
    sd_baseline: float | None = None,
    sd_after: float | None = None,
    correlation: float | None = None,
    completeness: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
    outcome: str = "the score",
    unit: str = "points",
) -> PairedPower:
    """People needed at baseline to detect a mean change ``effect`` with ``power``.

    statsmodels ``TTestPower.solve_power`` gives the pairs needed; they are rounded up and
    divided by ``completeness`` (rounded up) for the baseline measures needed.

    Returns
    -------
    PairedPower
        ``solved_for="sample_size"``; ``power`` is what the whole number of pairs achieves.

    Examples
    --------
    >>> sample_size_paired(0.5, sd_change=1.0).n_paired
    34
    """
    if effect == 0:
        raise ValueError("effect must not be 0")
    sd = _sd_change(sd_change, sd_baseline, sd_after, correlation)
    pairs = _ttest_power().solve_power(
        effect_size=abs(effect) / sd, nobs=None, alpha=alpha, power=power, alternative="two-sided"
    )
    pairs = math.ceil(float(np.asarray(pairs).reshape(-1)[0]) - 1e-9)
    n = math.ceil(pairs / completeness - 1e-9)
    while _paired_n(n, completeness) < pairs:
        n += 1
    spec = {"effect": effect, "sd_change": sd, "completeness": completeness, "alpha": alpha}
    notes = [f"{pairs} pairs needed; {n} baseline measures at {completeness:.0%} follow-up."]
    return _paired_result(
        "sample_size", n, completeness, sd, effect, alpha, power, outcome, unit, spec, notes
    )
