"""Power, MDE and sample size of a paired pre/post change in a questionnaire score.

The paired t-test :func:`evalkit.stats.prepost.prepost` runs, through statsmodels'
``TTestPower`` (the MDE beside a wellbeing estimate is the same number either way): what could
N people detect (:func:`mde_paired`), what power for this change (:func:`power_paired`), how
many baseline questionnaires are needed (:func:`sample_size_paired`). Each returns a
:class:`PairedPower`.

References: Frison L, Pocock SJ (1992) Repeated measures in clinical trials, Stat Med
11:1685-704 (pre/post correlation in the variance of a change).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from evalkit.stats.mde.common import TIDY_COLUMNS, SolvedFor, format_count, power_dict
from evalkit.stats.plots import power_curve
from evalkit.stats.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["PairedPower", "mde_paired", "power_paired", "sample_size_paired"]


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
    from evalkit.stats.prepost import mde_standardised

    if n_paired < 3:
        return math.nan
    return mde_standardised(int(n_paired), float(alpha), float(power)) * sd


@dataclass(frozen=True, eq=False, repr=False)
class PairedPower(Result):
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

    analysis: ClassVar[str] = "power_paired"

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
                f"with {tp} at {sig}, about {format_count(self.n)} people would need a baseline "
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

    def summary_header(self) -> list[str]:
        """The test above the table, then the sentence."""
        return [
            f"Power analysis: paired pre/post change, {self.outcome} ({self.solved_for})",
            f"Test: paired t (statsmodels TTestPower), alpha {self.alpha:g}, target power "
            f"{self.target_power:g}",
            "",
            self.sentence(),
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the figures, the sentence, the spec and the notes."""
        return power_dict(self, "power_paired")

    def power_curve_table(self, points: int = 200) -> pd.DataFrame:
        """Power at ``points`` true mean changes from 0 to twice the MDE (``change``, ``power``).

        Up to one SD of change when there is no MDE.
        """
        top = 2 * self.mde if np.isfinite(self.mde) else self.sd_change
        x = np.linspace(0, top, points)
        power = [_paired_power(v, self.sd_change, self.n_paired, self.alpha) for v in x]
        return pd.DataFrame({"change": x, "power": power})

    def plot_power_curve(self, ax: Axes | None = None) -> Axes:
        """Power against the true mean change, with the target and the MDE marked."""
        return power_curve(
            self.power_curve_table(),
            x="change",
            target_power=self.target_power,
            marks=(self.mde,),
            ax=ax,
            xlabel=f"True mean change, {self.outcome} ({self.unit})",
            title=f"{self.n_paired:,} pairs",
        )


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
