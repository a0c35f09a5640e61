"""The variance of a matched count difference-in-differences, the formula every DiD MDE uses.

:func:`did_log_rr_variance` (the log rate ratio of a Poisson DiD) and
:func:`did_difference_variance` (the linear DiD's difference per person) take the design as
keyword arguments; :func:`count_design` checks and resolves them once into a
:class:`CountDesign`, and :func:`log_rr_variance` / :func:`difference_variance` evaluate that
design at other sample sizes and rate ratios (what the power and MDE solvers need).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CountDesign",
    "combine_change_variances",
    "count_design",
    "design_arguments",
    "did_difference_variance",
    "did_log_rr_variance",
    "difference_variance",
    "log_rr_variance",
]


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
class CountDesign:
    """Resolved inputs of the count DiD (per-person means, dispersions, correlations).

    Built by :func:`count_design`: ``n`` participants and ``m`` controls; ``mu0`` and ``mu1``
    the expected baseline and window totals per person (no effect); ``a0`` and ``a1`` their NB2
    excess dispersions; ``rho`` the within-person correlation of the two totals; ``psi`` the
    correlation of change within a matched set; ``window`` and ``baseline`` in months; ``c0``
    and ``c1`` the shares of baseline and window observed; ``deff`` a design effect.
    """

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


def combine_change_variances(
    q_t: Any, q_c: float, n: float, m: float, psi: float, deff: float = 1.0
) -> Any:
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


# ----------------------------------------------------------------------------------------------
# Checking the design
# ----------------------------------------------------------------------------------------------
def _controls(n_participants: float, ratio: float | None, n_controls: float | None) -> float:
    """The number of controls m, from the ratio or the count (exactly one given)."""
    if n_participants <= 0:
        raise ValueError(f"n_participants must be positive, got {n_participants}")
    if (ratio is None) == (n_controls is None):
        raise ValueError("give either ratio (controls per participant) or n_controls")
    m = ratio * n_participants if ratio is not None else float(n_controls)  # type: ignore[arg-type]
    if m <= 0:
        raise ValueError("the design needs at least one matched control")
    return m


def _post_rate(baseline_rate: float, post_rate: float | None) -> float:
    """The controls' window rate (default the baseline rate), both checked positive."""
    if baseline_rate <= 0:
        raise ValueError(
            f"baseline_rate must be positive (events per person-month), got {baseline_rate}"
        )
    post_rate = baseline_rate if post_rate is None else post_rate
    if post_rate <= 0:
        raise ValueError(f"post_rate must be positive, got {post_rate}")
    return post_rate


def _check_correlations(
    correlation: float, matching_correlation: float, m: float, n_participants: float
) -> None:
    """The within-person and within-set correlations lie in their ranges."""
    if not -1 < correlation < 1:
        raise ValueError(f"correlation must lie in (-1, 1), got {correlation}")
    if not 0 <= matching_correlation < 1:
        raise ValueError(f"matching_correlation must lie in [0, 1), got {matching_correlation}")
    if matching_correlation and m < n_participants:
        raise ValueError("matching_correlation needs at least one control per participant")


def _check_follow_up(
    completeness: float,
    baseline_completeness: float,
    window_months: int,
    baseline_months: int,
    design_effect: float,
) -> None:
    """Shares observed in (0, 1], periods of at least a month, a positive design effect."""
    if not (0 < completeness <= 1 and 0 < baseline_completeness <= 1):
        raise ValueError("completeness and baseline_completeness must lie in (0, 1]")
    if window_months < 1 or baseline_months < 1:
        raise ValueError("window_months and baseline_months must be at least 1")
    if not design_effect > 0:
        raise ValueError(f"design_effect must be positive, got {design_effect}")


def count_design(
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
) -> CountDesign:
    """Check the arguments of :func:`did_log_rr_variance` and resolve them into a design.

    Raises ``ValueError`` naming the first invalid argument.
    """
    m = _controls(n_participants, ratio, n_controls)
    post_rate = _post_rate(baseline_rate, post_rate)
    _check_correlations(correlation, matching_correlation, m, n_participants)
    _check_follow_up(
        completeness, baseline_completeness, window_months, baseline_months, design_effect
    )
    mu0 = baseline_rate * baseline_months * baseline_completeness
    mu1 = post_rate * window_months * completeness
    a0 = _alpha_dispersion(k, variance_to_mean, mu0, "dispersion")
    a1 = a0 if k_post is None else _alpha_dispersion(k_post, None, mu1, "dispersion (post)")
    return CountDesign(
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


def design_arguments(design: dict[str, Any]) -> dict[str, Any]:
    """The design keyword arguments with defaults filled in; unknown names or no rate raise."""
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
# The variances
# ----------------------------------------------------------------------------------------------
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
    d = count_design(
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
    return float(log_rr_variance(d, rate_ratio, d.n))


def log_rr_variance(d: CountDesign, theta: Any, n: float, m: float | None = None) -> Any:
    """Var(log RR) of design ``d`` at rate ratio ``theta`` with ``n`` participants.

    ``m`` controls when fixed; by default the design's controls per participant times ``n``.
    ``theta`` may be an array (one variance per rate ratio).
    """
    m = d.m / d.n * n if m is None else m
    q_t, q_c = d.q(theta)
    return combine_change_variances(q_t, q_c, n, m, d.psi, d.deff)


def difference_variance(d: CountDesign, n: float, m: float | None = None) -> float:
    """Variance of the linear DiD's difference per person over the window (no effect).

    ``n`` participants and ``m`` controls as in :func:`log_rr_variance`.
    """
    m = d.m / d.n * n if m is None else m
    v0 = d.mu0 + d.a0 * d.mu0**2
    v1 = d.mu1 + d.a1 * d.mu1**2
    e0 = d.baseline * d.c0
    e1 = d.window * d.c1
    per_month = v1 / e1**2 + v0 / e0**2 - 2.0 * d.rho * math.sqrt(v0 * v1) / (e0 * e1)
    return float(d.window**2 * combine_change_variances(per_month, per_month, n, m, d.psi, d.deff))


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
    d = count_design(n_participants, **design_arguments(design))
    return difference_variance(d, d.n)
