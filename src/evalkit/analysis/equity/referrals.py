"""Referral trends: referrals per month by source, and the wait from referral to start.

Every referral episode counts (re-referrals too: this is demand on the service).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.analysis.equity.text import summary_text
from evalkit.analysis.study import Study
from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.result import Result

__all__ = ["ReferralTrendsResult", "referral_trends"]


@dataclass(frozen=True, repr=False)
class ReferralTrendsResult(Result):
    """Referrals per month by source and the wait from referral to start.

    Attributes
    ----------
    referrals : pd.DataFrame
        ``month`` (``YYYY-MM``), ``referral_source``, ``n``: every calendar month from the first
        to the last referral, zero-filled.
    waiting : pd.DataFrame
        ``period``, ``n_started``, ``median_days``, ``q1_days``, ``q3_days`` per month or
        quarter of referral, and a final ``period == "all"`` row.
    freq : {"month", "quarter"}
    spec : dict
    notes : tuple of str
    """

    analysis = "referral_trends"

    referrals: pd.DataFrame
    waiting: pd.DataFrame
    freq: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def median_wait_days(self) -> float:
        """Median days from referral to start over the whole period."""
        return float(self.waiting.loc[self.waiting["period"] == "all", "median_days"].iloc[0])

    def tidy(self, kind: Literal["referrals", "waiting"] = "referrals") -> pd.DataFrame:
        """The referrals table (default) or the waiting-time table."""
        if kind == "referrals":
            return self.referrals.copy()
        if kind == "waiting":
            return self.waiting.copy()
        raise ValueError("kind must be 'referrals' or 'waiting'")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``referrals_by_month`` and ``waiting_times`` rows, ``freq``, notes."""
        return json_safe(
            {
                "referrals_by_month": self.referrals.to_dict(orient="records"),
                "waiting_times": self.waiting.to_dict(orient="records"),
                "waiting_freq": self.freq,
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )

    def summary_header(self) -> list[str]:
        """Programme, referrals counted, and what the waiting-time table shows."""
        return [
            f"Referral trends: {self.spec.get('programme', '')}",
            f"Referrals (every episode, including re-referrals): {int(self.referrals['n'].sum())}",
            f"Wait from referral to start, days, by {self.freq} of referral (median, IQR)",
        ]

    def summary(self) -> str:
        """Referrals per source and year, waiting times, notes."""
        r = self.referrals.assign(year=self.referrals["month"].str[:4])
        by_year = r.pivot_table(
            index="year", columns="referral_source", values="n", aggfunc="sum", fill_value=0
        )
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            t1 = by_year.to_string()
            t2 = self.waiting.to_string(index=False, float_format=lambda x: f"{x:.4g}")
        return summary_text(
            self.summary_header(), ["Referrals by year and source\n" + t1, t2], self.notes
        )

    def plot(
        self,
        kind: Literal["referrals", "waiting"] = "referrals",
        ax: Any = None,
        *,
        table: pd.DataFrame | None = None,
    ) -> Any:
        """Stacked bars of referrals per month by source, or the median wait with its IQR.

        Drawn with :func:`evalkit.stats.plots.stacked_bars` and
        :func:`evalkit.stats.plots.quantile_band`.

        Returns
        -------
        matplotlib.axes.Axes
        """
        if kind == "referrals" and table is not None:
            # The report's figure: published referrals per quarter (period, source, n).
            return plots.stacked_bars(
                table,
                x="period",
                stack="referral_source",
                value="n",
                ax=ax,
                title="Referrals per quarter",
                ylabel="Referrals (rounded to 5)",
            )
        if kind == "referrals":
            return plots.stacked_bars(
                self.referrals,
                x="month",
                stack="referral_source",
                value="n",
                ax=ax,
                title="Referrals by month and source",
                ylabel="Referrals per month",
                max_ticks=12,
            )
        if kind == "waiting":
            return plots.quantile_band(
                self.waiting[self.waiting["period"] != "all"],
                x="period",
                middle="median_days",
                low="q1_days",
                high="q3_days",
                ax=ax,
                title=f"Wait to start by {self.freq} of referral",
                ylabel="Days from referral to start",
                max_ticks=12,
            )
        raise ValueError("kind must be 'referrals' or 'waiting'")


def referral_trends(
    study: Study, *, freq: Literal["month", "quarter", "year"] = "quarter"
) -> ReferralTrendsResult:
    """Referrals per calendar month by referral source, and waiting time to start.

    Counts every referral episode to the programme (re-referrals too: this is demand on the
    service). The wait is ``start_date - referral_date`` in days for episodes that started,
    summarised by month or quarter of referral (median and quartiles, numpy's default linear
    interpolation), and over the whole period.

    Parameters
    ----------
    study : Study
    freq : {"month", "quarter", "year"}
        Period of the waiting-time table (default quarter: a month holds few starters).

    Returns
    -------
    ReferralTrendsResult
    """
    if freq not in ("month", "quarter", "year"):
        raise ValueError("freq must be 'month', 'quarter' or 'year'")
    ref = study.referrals.copy()
    notes: list[str] = []
    rd = pd.to_datetime(ref["referral_date"])
    ref["month"] = rd.dt.to_period("M")
    if ref.empty:
        raise ValueError(f"no referrals to {study.programme.slug}")
    months = pd.period_range(ref["month"].min(), ref["month"].max(), freq="M")
    sources = sorted(ref["referral_source"].astype(str).unique())
    counts = ref.groupby(["month", "referral_source"]).size()
    full = pd.MultiIndex.from_product([months, sources], names=["month", "referral_source"])
    counts = counts.reindex(full, fill_value=0).rename("n").reset_index()
    counts["month"] = counts["month"].astype(str)
    counts["n"] = counts["n"].astype("int64")

    started = ref[ref["start_date"].notna()].copy()
    started["wait_days"] = (
        pd.to_datetime(started["start_date"]) - pd.to_datetime(started["referral_date"])
    ).dt.days
    negative = int((started["wait_days"] < 0).sum())
    if negative:
        notes.append(f"{negative} episode(s) with a start before the referral left out.")
        started = started[started["wait_days"] >= 0]
    p = pd.to_datetime(started["referral_date"]).dt.to_period(
        {"month": "M", "quarter": "Q", "year": "Y"}[freq]
    )
    started["period"] = p.astype(str)

    def summarise(x: pd.Series) -> pd.Series:
        q = np.percentile(x, [25, 50, 75]) if len(x) else [math.nan] * 3
        return pd.Series(
            {"n_started": len(x), "median_days": q[1], "q1_days": q[0], "q3_days": q[2]}
        )

    wait = started.groupby("period")["wait_days"].apply(summarise).unstack().reset_index()
    overall = summarise(started["wait_days"]).to_frame().T.assign(period="all")
    wait = pd.concat([wait, overall], ignore_index=True)
    wait = wait[["period", "n_started", "median_days", "q1_days", "q3_days"]]
    wait["n_started"] = wait["n_started"].astype("int64")
    notes.append(
        f"{len(ref)} referral episodes ({ref['person_id'].nunique()} people); "
        f"{len(started)} started."
    )
    spec = {"programme": study.programme.slug, "freq": freq}
    return ReferralTrendsResult(counts, wait, freq, spec, tuple(notes))
