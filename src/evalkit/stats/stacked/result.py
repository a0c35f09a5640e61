"""The result of :func:`evalkit.stats.stacked.stacked_did`: :class:`StackedDidResult`.

A :class:`~evalkit.stats.did_result.DidResult` (so a :class:`~evalkit.stats.result.Result`):
``estimate`` is the aggregate ATT, :attr:`~evalkit.stats.did_result.DidResult.event_study` the
event-time coefficients, ``tidy()`` both, ``plot_event_study()`` draws them with
:func:`evalkit.stats.plots.event_study`; it adds the table of sub-experiments and the stacked
data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.jsonsafe import json_safe
from evalkit.stats.did_result import DidResult

__all__ = ["ATT_TERM", "StackedDidResult"]

#: Name of the aggregate ATT (mean of the post-period coefficients) in :meth:`tidy`.
ATT_TERM = "att"


@dataclass(frozen=True, eq=False, repr=False)
class StackedDidResult(DidResult):
    """Result of :func:`~evalkit.stats.stacked.stacked_did`.

    The fields of :class:`~evalkit.stats.did_result.DidResult`, read for the stack:
    ``estimate``, ``std_error``, ``ci_low``, ``ci_high`` and ``p_value`` are the aggregate ATT,
    the mean of the post-period (event time >= 0) coefficients, with its SE from their
    covariance; for ``model="poisson"`` the mean is of the log rate ratios, reported as
    ``exp`` (a geometric-mean rate ratio) with the SE on the log scale, and ``coefficient`` is
    the mean itself. ``event_study`` has one row per event time (``period``), the reference
    period -1 included (estimate 0, or 1 on the rate-ratio scale; no SE), and the pre-trend
    test is the joint Wald test of the pre-period coefficients. ``n`` counts stacked rows (a
    unit appears once per sub-experiment it is in); ``n_units`` the distinct units of the
    stack, of which ``n_treated_units`` are treated in a sub-experiment and
    ``n_control_units`` clean controls in one (a unit adopting late can be both, so the two
    may add up to more than ``n_units``). ``crude_rates`` sums the stacked rows (weighted),
    ``post`` meaning event time >= 0.

    Attributes
    ----------
    sub_experiments : pd.DataFrame
        One row per adoption time of the panel: ``adoption``, ``status`` (``kept`` or why it
        was trimmed), ``n_treated``, ``n_control`` (clean-control units), ``control_weight``
        (the Q-weight of its controls; NaN when trimmed) and ``rows`` (stacked rows).
    stacked : pd.DataFrame
        The stacked data: the panel's used columns and ``sub_experiment``, ``event_time``,
        ``treated`` and ``weight``, one row per sub-experiment, unit and period.
    """

    sub_experiments: pd.DataFrame | None = None
    stacked: pd.DataFrame | None = None

    analysis = "stacked_did"

    def summary_header(self) -> list[str]:
        """Analysis and estimand, model, inference, N, the ATT and the pre-trend test."""
        spec = self.spec
        pre, post = spec["window"]
        fe = "sub-experiment x unit and sub-experiment x event-time fixed effects"
        model = f"linear, {fe}" if spec["model"] == "linear" else f"Poisson, {fe}"
        if spec["model"] == "poisson" and spec["exposure"]:
            model += f", offset log({spec['exposure']})"
        weights = "Q-weights (Wing et al. 2024)" if spec["weights"] == "wing" else "unweighted"
        scale = "rate ratio" if self.scale == "rate_ratio" else "difference"
        dist = "t(G - 1)" if spec["model"] == "linear" else "normal"
        kept = (self.sub_experiments["status"] == "kept").sum()
        lines = [
            f"Stacked difference-in-differences: {spec['outcome']} ({scale}, aggregate ATT = "
            f"mean of event times 0 to {post}, reference -1)",
            f"Stack: {kept} sub-experiment(s) by {spec['adoption']}, window -{pre} to +{post}, "
            f"clean controls never treated or adopting after the window, {weights}",
            f"Model: {model}",
            f"Inference: cluster-robust CR1 by {spec['cluster']} ({self.n_clusters:,} clusters), "
            f"{dist}, 95% CI",
            f"N = {self.n:,} stacked rows, {self.n_units:,} units ({self.n_treated_units:,} "
            f"treated, {self.n_control_units:,} clean controls)",
            "",
            f"ATT: {self.estimate:.4g} (95% CI {self.ci_low:.4g} to {self.ci_high:.4g}), "
            f"SE{' (log scale)' if self.scale == 'rate_ratio' else ''} {self.std_error:.4g}, "
            f"p = {self.p_value:.4g}",
        ]
        pre_line = self._pretrend_line()
        if pre_line:
            lines.append(pre_line)
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: that of :class:`DidResult` and the sub-experiments (no stacked rows).

        Returns
        -------
        dict
            NaN becomes ``None``; numpy scalars become Python numbers.
        """
        out = super().to_dict()
        table = self.sub_experiments
        out["sub_experiments"] = json_safe([] if table is None else table.to_dict(orient="records"))
        return out
