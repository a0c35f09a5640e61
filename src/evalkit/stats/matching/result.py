"""The result object of :func:`evalkit.stats.matching.match`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.matching.balance import balance_frame, balance_row
from evalkit.stats.matching.design import ColumnCache, Covariate, describe_covariates
from evalkit.stats.matching.greedy import REASONS
from evalkit.stats.result import Result

__all__ = ["MatchResult"]


@dataclass(frozen=True, eq=False, repr=False)
class MatchResult(Result):
    """Matched sample, diagnostics and balance from :func:`evalkit.stats.matching.match`.

    Attributes
    ----------
    matched : pd.DataFrame
        One row per matched row (treated and control), on the input's own index, in input
        order: the treatment column under its own name, ``subclass`` (matched-set id, 1, 2, ...
        numbered in the order of the treated rows' index labels; ``<NA>`` with replacement, as in
        MatchIt), ``weight`` (ATT weights, see :func:`~evalkit.stats.matching.match`) and
        ``distance``.
    unmatched : pd.DataFrame
        Treated rows with no control: ``distance``, the exact-matching columns and ``reason``
        (``no_controls_in_stratum``, ``no_control_within_caliper`` or ``controls_used``).
    pairs : pd.DataFrame
        One row per (treated, control) pair: ``treated`` and ``control`` index labels,
        ``round`` (1..ratio) and ``subclass``.
    distance : pd.Series
        The matching distance of every input row (input index).
    propensity : pd.Series or None
        The propensity score of every input row (None when ``distance`` named a column).
    propensity_params : pd.Series or None
        Logistic-regression coefficients on the original covariate scale.
    n_treated, n_controls : int
        Treated and control rows in the input.
    n_matched_treated : int
        Treated rows with at least one control.
    n_controls_matched : int
        Distinct control rows in the matched sample.
    caliper_width : float or None
        The caliper on the distance scale (``caliper`` times the SD of the distance).
    spec : dict
        The arguments used, defaults resolved.
    notes : tuple of str
        Plain-English notes: model choices, dropped covariates, unmatched rows.
    data : pd.DataFrame
        The input data (a reference, not a copy; used by :meth:`balance`).
    described_covariates : tuple of Covariate
        How each covariate entered (numeric, binary or categorical with its levels); fixes the
        rows and types of :meth:`balance` and :meth:`tidy`.
    """

    analysis = "matching"

    matched: pd.DataFrame
    unmatched: pd.DataFrame
    pairs: pd.DataFrame
    distance: pd.Series
    propensity: pd.Series | None
    propensity_params: pd.Series | None
    n_treated: int
    n_controls: int
    n_matched_treated: int
    n_controls_matched: int
    caliper_width: float | None
    spec: dict[str, Any]
    notes: tuple[str, ...]
    data: pd.DataFrame
    described_covariates: tuple[Covariate, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ views
    @property
    def treatment(self) -> str:
        """Name of the treatment column."""
        return self.spec["treatment"]

    def with_balance_on(self, data: pd.DataFrame, covariates: list[str]) -> MatchResult:
        """The same matched sets, with balance and the tidy table reported on other covariates.

        For a propensity model fitted on transformed covariates (for example ``log1p`` of
        counts) whose balance should be shown on the covariates as they are: ``data`` holds
        the same rows (same index) with those columns. Matching again on the fitted distance
        gives the same sets at the cost of a second matching; this only re-describes the
        covariates. Everything else (sets, pairs, distance, model, notes, spec) is kept.
        """
        if not data.index.equals(self.data.index):
            raise ValueError("data must hold the matched data's rows, in the same order")
        return replace(
            self,
            data=data,
            described_covariates=tuple(describe_covariates(data, list(covariates))),
            _cache={},
        )

    def balance(self) -> pd.DataFrame:
        """Covariate balance before and after matching (ATT conventions of MatchIt).

        Returns
        -------
        pd.DataFrame
            Indexed by ``covariate``: a ``distance`` row first, then each covariate (a
            categorical covariate as one row per level, ``<covariate>_<level>``). Columns
            ``mean_treated`` (all treated), ``mean_control_before`` (all controls),
            ``smd_before``, ``var_ratio_before``, ``ecdf_max_before``, ``mean_control_after``
            (weighted matched controls), ``smd_after``, ``var_ratio_after``,
            ``ecdf_max_after`` and ``mean_treated_after`` (matched treated; equals
            ``mean_treated`` when every treated row is matched). SMDs divide by the SD of all
            treated rows before matching; see :mod:`evalkit.stats.matching.balance`.
        """
        if "balance" not in self._cache:
            treated = self._treated_mask()
            weight = np.zeros(len(self.data))
            pos = self.data.index.get_indexer(self.matched.index)
            weight[pos] = self.matched["weight"].to_numpy()
            rows: dict[str, dict[str, float]] = {
                "distance": balance_row(self.distance.to_numpy(), treated, weight, binary=False)
            }
            cols = ColumnCache(self.data)
            for cov in self.described_covariates:
                for name, level in cov.balance_rows():
                    x = cols.values(cov, level)
                    rows[name] = balance_row(
                        x, treated, weight, binary=cov.categorical or cov.binary
                    )
            self._cache["balance"] = balance_frame(rows)
        return self._cache["balance"].copy()

    def tidy(self) -> pd.DataFrame:
        """Balance table as a flat DataFrame (``covariate`` column first); other views read it.

        Returns
        -------
        pd.DataFrame
            Columns ``covariate``, ``type`` (``distance``, ``continuous`` or ``binary``), then
            the columns of :meth:`balance`.
        """
        bal = self.balance().reset_index()
        kinds = {"distance": "distance"}
        for cov in self.described_covariates:
            for name, _ in cov.balance_rows():
                kinds[name] = "binary" if (cov.categorical or cov.binary) else "continuous"
        bal.insert(1, "type", bal["covariate"].map(kinds))
        return bal

    def summary_header(self) -> list[str]:
        """Lines above the balance table: method, distance and model, strata, caliper, N."""
        s = self.spec
        cal = "none" if s["caliper"] is None else f"{s['caliper']} SD ({self.caliper_width:.4g})"
        exact = ", ".join(s["exact"]) if s["exact"] else "none"
        if s["distance"] in ("logit", "propensity"):
            model = "logistic regression" + (
                " on all treated rows and a sample of controls (intercept corrected)"
                if s["propensity_fit"] == "sampled"
                else " on all rows"
            )
            dist = (
                "logit of the propensity score" if s["distance"] == "logit" else "propensity score"
            )
        else:
            model = "none (distance supplied)"
            dist = f"column '{s['distance']}'"
        return [
            "Matching: greedy nearest neighbour "
            f"({s['ratio']}:1, {'with' if s['replace'] else 'without'} replacement)",
            "Estimand: ATT",
            f"Distance: {dist}; propensity model: {model}",
            f"Exact: {exact}; caliper: {cal}; order: {s['m_order']}"
            + (f"; unit: {s['unit']}" if s["unit"] else ""),
            f"N: {self.n_treated} treated, {self.n_controls} controls; matched "
            f"{self.n_matched_treated} treated, {self.n_controls_matched} controls",
        ]

    def summary(self) -> str:
        """Header (method, estimand, model, N), the balance table and the notes.

        The table is :meth:`balance` rounded to 4 decimals with ``-`` for missing values
        (MatchIt's layout), hence this override of :meth:`Result.summary`.

        Returns
        -------
        str
            Plain text; also how the result renders (``repr()`` and Jupyter).
        """
        table = self.tidy().set_index("covariate").drop(columns="type")
        lines = [*self.summary_header(), "", table.round(4).to_string(na_rep="-")]
        if self.notes:
            lines += ["", "Notes:", *(f"- {n}" for n in self.notes)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe aggregates for ``results.json`` (no row-level data).

        Returns
        -------
        dict
            ``analysis``, ``spec``, counts, ``unmatched_by_reason``, ``caliper_width``,
            ``propensity_params``, ``balance`` (records of :meth:`tidy`) and ``notes``.
        """
        reasons = self.unmatched["reason"].value_counts()
        out = {
            "analysis": self.analysis,
            "estimand": "ATT",
            "spec": self.spec,
            "n_treated": self.n_treated,
            "n_controls": self.n_controls,
            "n_matched_treated": self.n_matched_treated,
            "n_controls_matched": self.n_controls_matched,
            "unmatched_by_reason": {k: int(reasons.get(k, 0)) for k in REASONS},
            "caliper_width": self.caliper_width,
            "propensity_params": None
            if self.propensity_params is None
            else self.propensity_params.to_dict(),
            "balance": self.tidy().to_dict(orient="records"),
            "notes": list(self.notes),
        }
        return json_safe(out)

    def matched_data(self) -> pd.DataFrame:
        """Return the matched input rows joined with ``subclass``, ``weight`` and ``distance``.

        Returns
        -------
        pd.DataFrame
            ``data.loc[matched.index]`` plus the three matching columns.
        """
        extra = self.matched.drop(columns=[self.treatment])
        return (
            self.data.loc[self.matched.index]
            .drop(columns=[c for c in extra.columns if c in self.data.columns])
            .join(extra)
        )

    # ------------------------------------------------------------------ plots
    def overlap_table(self, bins: int = 30) -> pd.DataFrame:
        """Counts of the matching distance per bin: treated rows, matched and all controls.

        The bins are ``bins`` equal widths between the 0.5th and 99.5th percentiles of the
        distance over all rows; values beyond are counted in the end bins, so a few extreme
        scores do not squeeze the rest into one bar. Rows are counted once each (a control
        reused with replacement too).

        Parameters
        ----------
        bins : int
            Number of bins.

        Returns
        -------
        pd.DataFrame
            One row per bin: ``bin_mid`` and the counts ``participants`` (treated rows),
            ``controls_matched`` and ``controls_all``; the table
            :func:`evalkit.stats.plots.overlap` draws.
        """
        dist = self.distance.to_numpy()
        treated = self._treated_mask()
        matched = self.distance.index.isin(self.matched.index)
        lo, hi = np.nanpercentile(dist, [0.5, 99.5])
        edges = np.linspace(lo, hi, bins + 1)

        def counts(rows: np.ndarray) -> np.ndarray:
            return np.histogram(np.clip(dist[rows], lo, hi), bins=edges)[0]

        return pd.DataFrame(
            {
                "bin_mid": (edges[:-1] + edges[1:]) / 2,
                "participants": counts(treated),
                "controls_matched": counts(~treated & matched),
                "controls_all": counts(~treated),
            }
        )

    def plot_love(
        self, ax: Any = None, *, threshold: float = 0.1, table: pd.DataFrame | None = None
    ) -> Any:
        """Love plot: absolute SMD per covariate before and after matching.

        Drawn by :func:`evalkit.stats.plots.love` from :meth:`balance`.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when omitted.
        threshold : float
            Reference line (Austin's 0.1).
        table : pd.DataFrame, optional
            A disclosure-controlled copy of :meth:`balance` to draw instead (the report's).

        Returns
        -------
        matplotlib.axes.Axes
            The axes (never saved or shown).
        """
        return plots.love(self.balance() if table is None else table, ax=ax, threshold=threshold)

    def plot_overlap(
        self, ax: Any = None, *, bins: int = 30, table: pd.DataFrame | None = None
    ) -> Any:
        """Share of treated rows, matched controls and all controls per bin of the distance.

        Drawn by :func:`evalkit.stats.plots.overlap` from :meth:`overlap_table`.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when omitted.
        bins : int
            Number of bins (shared by all three groups).
        table : pd.DataFrame, optional
            A disclosure-controlled copy of :meth:`overlap_table` to draw instead (the report's).

        Returns
        -------
        matplotlib.axes.Axes
            The axes (never saved or shown).
        """
        return plots.overlap(self.overlap_table(bins) if table is None else table, ax=ax)

    # ------------------------------------------------------------------ helpers
    def _treated_mask(self) -> np.ndarray:
        return self.data[self.treatment].to_numpy().astype(bool)
