"""Power, MDE and sample size of a matched difference-in-differences on counts.

Three questions, one design (:func:`evalkit.stats.mde.did_variance.did_log_rr_variance`): what
could N participants detect (:func:`mde_did`), what power for this effect (:func:`power_did`),
how many participants are needed (:func:`sample_size_did`). Each returns a :class:`DidPower`
with the rate ratio of a Poisson DiD (participants' post/pre ratio over their matched controls'
post/pre ratio) and the linear DiD's difference per person over the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize

from evalkit.stats.mde.common import TIDY_COLUMNS, SolvedFor, format_count, power_dict
from evalkit.stats.mde.did_variance import (
    CountDesign,
    count_design,
    design_arguments,
    difference_variance,
    log_rr_variance,
)
from evalkit.stats.mde.wald import mde_from_se, wald_power
from evalkit.stats.plots import power_curve
from evalkit.stats.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["DidPower", "mde_did", "power_did", "sample_size_did"]

_THETA_GRID = np.exp(np.linspace(math.log(1e-3), -1e-9, 600))


# ----------------------------------------------------------------------------------------------
# Power and its inversion on the rate-ratio scale
# ----------------------------------------------------------------------------------------------
def _rr_power(d: CountDesign, theta: Any, n: float, m: float | None, alpha: float) -> Any:
    return wald_power(np.log(theta), np.sqrt(log_rr_variance(d, theta, n, m)), alpha)


def _solve_mde_rr(
    d: CountDesign, n: float, m: float | None, alpha: float, power: float, side: str
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


# ----------------------------------------------------------------------------------------------
# Result object: count DiD
# ----------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    """A share for a sentence: whole percent from 10%, one decimal below."""
    return f"{x:.0%}" if abs(x) >= 0.1 else f"{x:.1%}"


@dataclass(frozen=True, eq=False, repr=False)
class DidPower(Result):
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
    design : CountDesign, optional
        The resolved design, for :meth:`power_at` (None when the result was assembled by
        hand, e.g. a cost MDE).
    """

    analysis: ClassVar[str] = "power_did"

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
    design: CountDesign | None = field(default=None, repr=False)

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
        if self.design is None:
            raise ValueError("no design attached")
        return _rr_power(self.design, rate_ratio, self.n_participants, self.n_controls, self.alpha)

    # ------------------------------------------------------------------ views
    def sentence(self) -> str:
        """The plain-English line for a report."""
        w = f"over {self.window_months} months"
        what = self.outcome
        n = format_count(self.n_participants)
        ctrl = (
            f" and {format_count(self.n_controls)} matched controls" if self.n_controls >= 1 else ""
        )
        tp = f"{self.target_power:.0%} power"
        sig = f"{self.alpha:.0%} significance"
        if self.solved_for == "sample_size":
            k = self.n_controls / self.n_participants
            return (
                f"To detect a {_pct(1 - self.rate_ratio)} "
                f"{'fall' if self.rate_ratio < 1 else 'rise'} in {what} {w} with {tp} at {sig}, "
                f"about {n} participants would be needed "
                f"(with {k:.2g} matched controls each)."
            )
        if self.solved_for == "power":
            return (
                f"With {n} participants{ctrl}, this evaluation would "
                f"have a {self.power:.0%} chance of detecting a {_pct(abs(1 - self.rate_ratio))} "
                f"{'fall' if self.rate_ratio < 1 else 'rise'} in {what} {w} (at {sig})."
            )
        if math.isnan(self.mde_rate_ratio):
            return (
                f"With {n} participants{ctrl}, no fall in {what} {w} "
                f"could be detected reliably ({tp}, {sig}): there are too few events."
            )
        return (
            f"With {n} participants{ctrl}, this evaluation could "
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

    def summary_header(self) -> list[str]:
        """The design and test above the table, then the sentence."""
        return [
            f"Power analysis: matched DiD on counts, {self.outcome} ({self.solved_for})",
            f"Design: {format_count(self.n_participants)} participants, "
            f"{self.n_controls:,.0f} controls; "
            f"{self.window_months}-month window vs {self.baseline_months}-month baseline",
            f"Test: two-sided Wald z on the log rate ratio, alpha {self.alpha:g}, target power "
            f"{self.target_power:g}",
            "",
            self.sentence(),
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the figures, the sentence, the spec and the notes."""
        return power_dict(
            self,
            "power_did",
            before_alpha={"mde_percent_fall": self.mde_percent_fall},
            after_power={
                "window_months": self.window_months,
                "baseline_months": self.baseline_months,
            },
        )

    def power_curve_table(self, points: int = 300) -> pd.DataFrame:
        """Power at ``points`` true rate ratios either side of 1 (``rate_ratio``, ``power``).

        The range reaches beyond the MDE (0.2 to 5 when there is none).
        """
        lo = 0.2 if math.isnan(self.mde_rate_ratio) else max(0.05, self.mde_rate_ratio * 0.6)
        theta = np.exp(np.linspace(math.log(lo), math.log(1 / lo), points))
        return pd.DataFrame({"rate_ratio": theta, "power": self.power_at(theta)})

    def plot_power_curve(self, ax: Axes | None = None) -> Axes:
        """Power against the true rate ratio, with the target and the MDEs marked."""
        return power_curve(
            self.power_curve_table(),
            x="rate_ratio",
            target_power=self.target_power,
            marks=(self.mde_rate_ratio, self.mde_rate_ratio_rise),
            reference=1.0,
            log=True,
            ax=ax,
            xlabel=f"True rate ratio, {self.outcome}",
            title=f"{format_count(self.n_participants)} participants, "
            f"{self.window_months}-month window",
        )


def _did_result(
    d: CountDesign,
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
    se_diff = math.sqrt(difference_variance(d, n, m_arg))
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
        std_error_log_rr=float(math.sqrt(log_rr_variance(d, 1.0, n, m_arg))),
        std_error_difference=se_diff,
        window_months=d.window,
        baseline_months=d.baseline,
        outcome=outcome,
        spec=spec,
        notes=tuple(notes),
        design=d,
    )


def _common_notes(d: CountDesign) -> list[str]:
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
    kw = design_arguments({**design, "baseline_rate": baseline_rate})
    kw.update(ratio=ratio, n_controls=n_controls)
    d = count_design(n_participants, **kw)
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
    kw = design_arguments({**design, "baseline_rate": baseline_rate})
    kw.update(ratio=ratio, n_controls=n_controls)
    d = count_design(n_participants, **kw)
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
    kw = design_arguments({**design, "baseline_rate": baseline_rate})
    kw.update(ratio=ratio, n_controls=n_controls)
    d1 = count_design(1.0, **{**kw, "n_controls": None, "ratio": ratio or 1.0})
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
    d = count_design(n_int, **kw_n)
    spec = {**kw, "rate_ratio": rate_ratio, "alpha": alpha, "power": power}
    notes = _common_notes(d)
    notes.append(f"Exact solution {n_star:.1f} participants, rounded up.")
    return _did_result(
        d, "sample_size", float(rate_ratio), alpha, power, outcome, spec, notes, fixed_m
    )
