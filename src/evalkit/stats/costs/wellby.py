"""WELLBY valuation: a change in ONS4 life satisfaction as social value per £1 of programme cost.

With HM Treasury's Green Book values (central, low, high), which the caller passes (a
:class:`~evalkit.definitions.wellby.WellbyValues`; evalkit's analysis layer passes
:func:`evalkit.definitions.load_wellby`'s), docs/design/methods.md section 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from evalkit.definitions.wellby import WellbyValues
from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.costs.roi import MoneyResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["WellbyResult", "wellby_valuation"]


@dataclass(frozen=True, eq=False, repr=False)
class WellbyResult(MoneyResult):
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
    basis : {"completers", "intention_to_treat"}
        Whose change is valued: the people with both questionnaires, or everyone referred
        with the others counted as no change (:func:`~evalkit.stats.costs.wellby_itt_valuation`).
    n_responders, n_referred : int or None
        People with both questionnaires and people referred (intention to treat only).
    completers : WellbyResult or None
        On an intention-to-treat valuation, the completers' valuation: its upper bound when
        people without a follow-up changed less than those with one.
    spec, notes
        Arguments used; plain-English lines (assumptions, flags).
    """

    analysis = "wellby_valuation"

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
    basis: str = "completers"
    n_responders: int | None = None
    n_referred: int | None = None
    completers: WellbyResult | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def completers_upper(self) -> float | None:
        """The completers' social value per £1 (the upper bound), on an ITT valuation."""
        return self.completers.estimate if self.completers is not None else None

    def tidy(self) -> pd.DataFrame:
        """One row per WELLBY value: ``value``, ``wellby_value``, per participant, per £1.

        Rows ``low``, ``central``, ``high``; on an intention-to-treat valuation also
        ``completers_central`` (the completers' version, the upper bound).
        """
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
        if self.completers is not None:
            c = self.completers
            rows.append(
                {
                    "value": "completers_central",
                    "wellby_value": c.value_central,
                    "social_value_per_participant": c.social_value_per_participant,
                    "social_value_per_pound": c.estimate,
                }
            )
        return pd.DataFrame(rows)

    def summary_header(self) -> list[str]:
        """What is valued, how, and the headline figure (above the table)."""
        ci = (
            ""
            if self.ci_low is None
            else f"; over the change's 95% CI {self.ci_low:.2f} to {self.ci_high:.2f}"
        )
        head = [
            "Wellbeing valuation (WELLBY, HM Treasury Green Book): social value, not NHS cash",
            f"Life satisfaction change {self.change:+.3f} points (0-10; {self._whose()}) x "
            f"{self.wellby_years:.3g} WELLBY-year(s) x £{self.value_central:,.0f} "
            f"({self.price_year} prices) ÷ programme cost £{self.programme_cost:,.2f}",
            "",
            f"Social value per £1: £{self.estimate:.2f} (WELLBY value range £{self.low:.2f} to "
            f"£{self.high:.2f}{ci})",
        ]
        c = self.completers
        if c is not None:
            cci = "" if c.ci_low is None else f" (95% CI {c.ci_low:.2f} to {c.ci_high:.2f})"
            head.append(
                f"Completers only, the upper bound: £{c.estimate:.2f} per £1{cci}, change "
                f"{c.change:+.3f} points"
            )
        return head

    def _whose(self) -> str:
        """Whose change, in words (the summary's header)."""
        if self.basis == "intention_to_treat":
            return (
                f"intention to treat: {self.n_responders} of {self.n_referred} people referred "
                "answered both questionnaires, the rest counted as no change"
            )
        return "people with both questionnaires"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures, spec and notes."""
        return json_safe(
            {
                "analysis": self.analysis,
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
                "basis": self.basis,
                "n_responders": self.n_responders,
                "n_referred": self.n_referred,
                "completers_upper": (
                    None
                    if self.completers is None
                    else {
                        "social_value_per_pound": {
                            "estimate": self.completers.estimate,
                            "low": self.completers.low,
                            "high": self.completers.high,
                            "ci_low": self.completers.ci_low,
                            "ci_high": self.completers.ci_high,
                        },
                        "life_satisfaction_change": {
                            "estimate": self.completers.change,
                            "ci_low": self.completers.change_ci_low,
                            "ci_high": self.completers.change_ci_high,
                        },
                    }
                ),
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

        Drawn with :func:`evalkit.stats.plots.forest` (no log scale); the central value carries
        the change's CI (the low and high values are a range, not an interval). On an
        intention-to-treat valuation a last row shows the completers' version (upper bound).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on (nothing is saved or shown).
        """
        t = self.tidy()
        t = t[t["value"].isin(["low", "central", "high"])]
        table = pd.DataFrame(
            {
                "label": [
                    f"{v} (£{w:,.0f})" for v, w in zip(t["value"], t["wellby_value"], strict=True)
                ],
                "estimate": t["social_value_per_pound"],
                "ci_low": t["social_value_per_pound"],
                "ci_high": t["social_value_per_pound"],
            }
        )
        if self.ci_low is not None:
            central = t["value"] == "central"
            table.loc[central, ["ci_low", "ci_high"]] = [self.ci_low, self.ci_high]
        c = self.completers
        if c is not None:
            lo, hi = (c.estimate, c.estimate) if c.ci_low is None else (c.ci_low, c.ci_high)
            row = {"label": "completers only, central (upper bound)", "estimate": c.estimate}
            extra = pd.DataFrame([row | {"ci_low": lo, "ci_high": hi}])
            table = pd.concat([table, extra], ignore_index=True)
        ax = plots.forest(
            table,
            label_col="label",
            log=False,
            ax=ax,
            xlabel="social value per £1 of programme cost (dashed: £1)",
        )
        ax.axvline(1.0, color="0.3", lw=1, ls="--")
        return ax


#: The valuation's caveat, by whose change is valued.
_BASIS_NOTES = {
    "completers": "A change among people with both questionnaires (no control group): a "
    "valuation of the measured change, not of an effect of the programme. Social value, not "
    "NHS cash.",
    "intention_to_treat": "Intention to treat: the completers' total change spread over "
    "everyone referred, people without a follow-up questionnaire counted as no change; still "
    "an uncontrolled before/after change (no control group), a valuation of it, not of an "
    "effect of the programme. Social value, not NHS cash.",
}


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
    values: WellbyValues,
    change_ci: tuple[float, float] | None = None,
    duration_years: float | None = None,
    price_year: str | None = None,
    basis: Literal["completers", "intention_to_treat"] = "completers",
) -> WellbyResult:
    """Value a mean change in life satisfaction in WELLBYs, per £1 of programme cost.

    ``social value per £1 = change x WELLBY value x discounted duration ÷ programme cost``, at
    HM Treasury's central value (£13,000 in 2019 prices) and its low and high values (£10,000,
    £16,000; Wellbeing Guidance for Appraisal, July 2021), uprated with the GDP deflator to
    ``price_year`` when the deflator covers it (a flag says how), else left in 2019 prices with
    a flag. The CI of the change is carried through at the central value, separately from the
    range of values.

    Duration. The default, one year (``values.duration_years_default``), is the
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
    values : WellbyValues
        WELLBY values, their price year, deflator, discount rate and default duration (evalkit's
        are :func:`evalkit.definitions.load_wellby`'s). An argument, so the statistics layer
        reads no domain data itself.
    change_ci : (float, float), optional
        CI of the change.
    duration_years : float, optional
        Persistence of the change (default ``values.duration_years_default``: 1 year).
    price_year : str, optional
        Price year of the programme cost (e.g. ``"2023/24"``); default the values' own (2019).
    basis : {"completers", "intention_to_treat"}
        Whose mean ``change`` is: people with both questionnaires (default), or everyone
        referred with the others at zero (:func:`~evalkit.stats.costs.wellby_itt_valuation`
        values both); it changes the notes, not the arithmetic.

    Returns
    -------
    WellbyResult

    Examples
    --------
    >>> from evalkit.definitions import load_wellby
    >>> r = wellby_valuation(0.5, 325.0, values=load_wellby())
    >>> r.estimate, r.low, r.high
    (20.0, 15.384615384615385, 24.615384615384617)
    """
    if basis not in _BASIS_NOTES:
        raise ValueError(f"basis must be one of {sorted(_BASIS_NOTES)}, not {basis!r}")
    if not math.isfinite(change):
        raise ValueError(f"change must be a finite number, not {change!r}")
    if not (math.isfinite(programme_cost) and programme_cost > 0):
        raise ValueError(f"programme_cost must be a positive number, not {programme_cost!r}")
    w = values
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
        _BASIS_NOTES[basis],
    ]
    if change_ci is not None and lo_c is not None and hi_c is not None and lo_c <= 0 <= hi_c:
        notes.append("The change's CI includes zero: the social value may be nil.")
    spec = {
        "basis": basis,
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
        basis=basis,
        spec=spec,
        notes=tuple(n for n in notes if n),
    )
