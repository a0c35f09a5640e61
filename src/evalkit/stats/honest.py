"""Rambachan-Roth sensitivity bounds: relative magnitudes of a parallel-trends violation.

Rambachan A, Roth J. A More Credible Approach to Parallel Trends. Review of Economic Studies
2023;90(5):2555-2591. An event study's coefficient for period t is the effect plus the trend
violation: ``beta_t = tau_t + delta_t``, with ``delta_ref = 0`` at the reference period and
``tau_t = 0`` before treatment (no anticipation), so ``delta_pre = beta_pre``. The relative
magnitudes restriction Delta^RM(Mbar) says that after treatment the violation changes from one
period to the next by at most Mbar times the largest period-to-period change seen before it::

    |delta_t - delta_{t-1}| <= Mbar * B   for every t from reference + 1 to the last post period,
    B = max |beta_{s+1} - beta_s|          over consecutive periods s, s + 1 of the benchmark.

What differs from the paper (and from diff-diff's ``HonestDiD``): the benchmark is the periods
*given* (``pre``), not every pre-period; the step from the last benchmark period to the reference
counts only when that period is the one just before the reference. Matched designs pass the
months not matched on (event months -24 to -13), because the months matched on are forced to
balance and the month before referral carries the referral itself. The violation is still
anchored at the reference and accumulates through every period from it to the last post period,
whether or not those periods carry weight in the target.

**Identified set** (exact, given the coefficients). The target is ``theta = l' tau_post``. Writing
``delta_t`` as the sum of its steps, ``max l' delta = Mbar * B * K`` with
``K = sum_k |sum_{t >= k} l_t|`` (k over the periods from reference + 1), and the restriction is
symmetric, so the set is ``l' beta_post -/+ Mbar * B * K``: its width is linear in Mbar. (This is
the linear programme of the paper's eqs. 5-6 solved in closed form; the tests check it against
``scipy.optimize.linprog``.)

**Robust confidence interval.** Not the paper's conditional / hybrid (ARP) interval, which no
well-kept Python library provides for an arbitrary benchmark (diff-diff 3.13 has it disabled; see
``docs/decisions/honest-did.md``). Two intervals are offered, both equal to the estimate's own
Wald interval at Mbar = 0:

- ``inference="bounds"`` (default): each bound widened by z times its own delta-method SE. The
  upper bound is ``l' beta_post + Mbar K |d' beta_pre|`` where d picks the largest benchmark
  step, so its gradient is ``l + Mbar K sign(d' beta) d``: the benchmark's sampling error is
  counted. The delta method holds the largest step fixed, so it understates the benchmark's
  uncertainty when two steps are nearly tied; the largest of several noisy steps is also
  biased upwards, which widens the bounds. Coverage is not guaranteed.
- ``inference="estimate"``: the bounds widened by z times the SE of ``l' beta_post`` only,
  the benchmark treated as known (diff-diff 3.13's interval for Delta^RM, reproduced to 1e-6
  in the tests on a contiguous event study).

The breakdown value is the smallest Mbar whose robust CI includes 0 (found by a fine grid and
``scipy.optimize.brentq``; 0 when the estimate's own CI includes 0, None when no Mbar overturns
it, i.e. the benchmark is 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from evalkit.jsonsafe import json_safe
from evalkit.stats.plots import honest_bounds
from evalkit.stats.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "HONEST_COLUMNS",
    "HonestResult",
    "relative_magnitudes",
]

#: Columns of :meth:`HonestResult.tidy`, one row per Mbar (on the coefficients' scale).
HONEST_COLUMNS: tuple[str, ...] = ("mbar", "id_low", "id_high", "ci_low", "ci_high")

#: Default Mbar grid: the paper's figures run 0 to 2.
DEFAULT_MBAR: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)

_Inference = Literal["bounds", "estimate"]


@dataclass(frozen=True)
class _Inputs:
    """The checked pieces: target weights, benchmark steps and their covariances."""

    theta: float
    se_theta: float
    k: float
    steps: pd.DataFrame  # from, to, change, std_error
    largest: int  # row of steps holding the benchmark
    b: float  # the benchmark, |change| of that row
    grad_theta: np.ndarray
    grad_step: np.ndarray  # gradient of the largest step's signed change
    vcov: np.ndarray


def _as_series(coefs: Mapping[Any, float] | pd.Series) -> pd.Series:
    s = pd.Series(coefs, dtype=float) if not isinstance(coefs, pd.Series) else coefs.astype(float)
    if s.index.has_duplicates:
        raise ValueError("coefs: each period must appear once")
    return s


def _check(
    coefs: pd.Series,
    vcov: pd.DataFrame,
    pre: list[int],
    post: list[int],
    reference: int,
) -> None:
    """Raise a ValueError naming what is wrong with the periods or the covariance."""
    periods = list(coefs.index)
    if reference in periods:
        raise ValueError(
            f"coefs has a coefficient for the reference period {reference!r}; the reference is "
            "0 by construction and must be left out"
        )
    if not (isinstance(vcov, pd.DataFrame) and list(vcov.index) == list(vcov.columns)):
        raise ValueError("vcov must be a DataFrame with the same periods as rows and columns")
    missing_v = [p for p in periods if p not in vcov.index]
    if missing_v:
        raise ValueError(f"vcov has no row for period(s) {missing_v}")
    if not post:
        raise ValueError("post is empty: give the periods the target averages over")
    if any(p <= reference for p in post):
        raise ValueError(f"post periods must come after the reference period {reference}")
    if any(p >= reference for p in pre):
        raise ValueError(f"pre (benchmark) periods must come before the reference {reference}")
    absent = [p for p in [*pre, *post] if p not in periods]
    if absent:
        raise ValueError(f"no coefficient for period(s) {absent}")
    if len(set(post)) != len(post) or len(set(pre)) != len(pre):
        raise ValueError("pre and post must not repeat a period")


def _inputs(
    coefs: pd.Series,
    vcov: pd.DataFrame,
    pre_periods: Sequence[int],
    post_periods: Sequence[int],
    reference: int,
    weights: Sequence[float] | None,
) -> _Inputs:
    """Check the arguments and compute the target, K and the benchmark steps."""
    pre, post = [int(p) for p in pre_periods], [int(p) for p in post_periods]
    _check(coefs, vcov, pre, post, reference)
    periods = list(coefs.index)
    w = np.full(len(post), 1 / len(post)) if weights is None else np.asarray(weights, float)
    if w.shape != (len(post),) or not np.isfinite(w).all():
        raise ValueError(f"weights must be {len(post)} finite numbers, one per post period")
    sigma = vcov.loc[periods, periods].to_numpy(float)
    if not (np.isfinite(sigma).all() and np.allclose(sigma, sigma.T)):
        raise ValueError("vcov must be finite and symmetric")
    pos = {p: i for i, p in enumerate(periods)}
    beta = coefs.to_numpy(float)

    grad_theta = np.zeros(len(periods))
    for p, wt in zip(post, w, strict=True):
        grad_theta[pos[p]] += wt
    theta = float(grad_theta @ beta)
    se_theta = math.sqrt(max(float(grad_theta @ sigma @ grad_theta), 0.0))
    # K = sum over steps k = ref+1..max(post) of |sum of weights on periods >= k|.
    weight_of = dict(zip(post, w, strict=True))
    path = range(reference + 1, max(post) + 1)
    tails = np.cumsum([weight_of.get(t, 0.0) for t in reversed(path)])
    k = float(np.abs(tails).sum())

    bench = set(pre) | {reference}
    rows, grads = [], []
    for s in sorted(pre):
        if s + 1 not in bench:
            continue
        g = np.zeros(len(periods))
        if s + 1 != reference:
            g[pos[s + 1]] += 1.0
        g[pos[s]] -= 1.0
        rows.append((s, s + 1, float(g @ beta), math.sqrt(max(float(g @ sigma @ g), 0.0))))
        grads.append(g)
    if not rows:
        raise ValueError(
            "pre must hold two consecutive periods (or the one just before the reference): "
            "the benchmark is the largest change from one period to the next"
        )
    steps = pd.DataFrame(rows, columns=["from_period", "to_period", "change", "std_error"])
    largest = int(np.argmax(np.abs(steps["change"].to_numpy())))
    sign = 1.0 if steps["change"].iloc[largest] >= 0 else -1.0
    b = abs(float(steps["change"].iloc[largest]))
    return _Inputs(theta, se_theta, k, steps, largest, b, grad_theta, sign * grads[largest], sigma)


def _ci(
    inp: _Inputs, mbar: np.ndarray, z: float, inference: _Inference
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Identified set and robust CI at each Mbar of ``mbar`` (an array).

    The bounds' gradients are ``grad_theta -/+ Mbar K grad_step``, so their variances are
    quadratics in Mbar: ``a -/+ 2 Mbar K c + (Mbar K)^2 e``.
    """
    half = mbar * inp.b * inp.k
    lo, hi = inp.theta - half, inp.theta + half
    if inference == "estimate":
        se_lo = se_hi = np.full_like(mbar, inp.se_theta)
    else:
        a = inp.se_theta**2
        c = float(inp.grad_theta @ inp.vcov @ inp.grad_step)
        e = float(inp.grad_step @ inp.vcov @ inp.grad_step)
        mk = mbar * inp.k
        se_hi = np.sqrt(np.maximum(a + 2 * mk * c + mk**2 * e, 0.0))
        se_lo = np.sqrt(np.maximum(a - 2 * mk * c + mk**2 * e, 0.0))
    return lo, hi, lo - z * se_lo, hi + z * se_hi


def _breakdown(inp: _Inputs, z: float, inference: _Inference) -> float | None:
    """Smallest Mbar whose robust CI includes 0 (0 if the Mbar = 0 CI does; None if none)."""

    def gaps(m: np.ndarray) -> np.ndarray:  # > 0 while the CI excludes 0
        _, _, lo, hi = _ci(inp, m, z, inference)
        return lo if inp.theta > 0 else -hi

    if gaps(np.zeros(1))[0] <= 0:
        return 0.0
    if inp.k * inp.b == 0:
        return None
    # Mbar at which the identified set alone reaches 0 bounds the answer from above; the first
    # sign change on a fine grid below it is then refined by brentq.
    top = abs(inp.theta) / (inp.k * inp.b)
    grid = np.linspace(0.0, top, 2001)
    first = int(np.argmax(gaps(grid) <= 0))
    return float(
        optimize.brentq(
            lambda m: float(gaps(np.array([m]))[0]),
            grid[first - 1],
            grid[first],
            xtol=1e-12,
            rtol=1e-12,
        )
    )


@dataclass(frozen=True, repr=False)
class HonestResult(Result):
    """Rambachan-Roth relative-magnitudes bounds on one target of an event study.

    Attributes
    ----------
    estimate, std_error : float
        The target ``l' beta_post`` (weighted post-period coefficients) and its SE.
    ci_low, ci_high : float
        Its Wald CI (the robust CI at Mbar = 0).
    benchmark : float
        B, the largest change between consecutive benchmark periods (absolute).
    benchmark_periods : tuple of int
        The two periods of that change.
    k : float
        Steps over which the violation accumulates, weighted: the set's half-width is
        Mbar * benchmark * k.
    breakdown_mbar : float or None
        Smallest Mbar whose robust CI includes 0 (None: no Mbar does).
    table : pd.DataFrame
        One row per Mbar (:data:`HONEST_COLUMNS`).
    steps : pd.DataFrame
        The benchmark's period-to-period changes with their SEs.
    spec : dict
        Arguments used (pre, post, reference, weights, alpha, inference).
    notes : tuple of str
        What was assumed, in words.
    """

    analysis = "relative_magnitudes"

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    benchmark: float
    benchmark_periods: tuple[int, int]
    k: float
    breakdown_mbar: float | None
    table: pd.DataFrame = field(compare=False)
    steps: pd.DataFrame = field(compare=False)
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """One row per Mbar: identified set (``id_low``, ``id_high``) and robust CI."""
        return self.table.loc[:, list(HONEST_COLUMNS)].copy()

    def summary_header(self) -> list[str]:
        """What was bounded, against which benchmark, and the breakdown value."""
        pre = self.spec["pre"]
        bd = "none" if self.breakdown_mbar is None else f"{self.breakdown_mbar:.4g}"
        return [
            "Rambachan-Roth relative magnitudes (Delta^RM)",
            f"Target: weighted post periods {self.spec['post'][0]}..{self.spec['post'][-1]}, "
            f"estimate {self.estimate:.4g} (SE {self.std_error:.4g})",
            f"Benchmark: largest step in periods {min(pre)}..{max(pre)}: {self.benchmark:.4g} "
            f"({self.benchmark_periods[0]} to {self.benchmark_periods[1]})",
            f"Robust CI: {self.spec['inference']} (see notes); breakdown Mbar {bd}",
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the scalars, the spec, the Mbar table, the steps and notes."""
        return json_safe(
            {
                "analysis": self.analysis,
                "estimate": self.estimate,
                "std_error": self.std_error,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "benchmark": self.benchmark,
                "benchmark_periods": list(self.benchmark_periods),
                "k": self.k,
                "breakdown_mbar": self.breakdown_mbar,
                "spec": self.spec,
                "table": self.tidy().to_dict(orient="records"),
                "steps": self.steps.to_dict(orient="records"),
                "notes": list(self.notes),
            }
        )

    def plot_sensitivity(self, *, ax: Axes | None = None, log: bool = False) -> Axes:
        """Robust CI and identified set against Mbar (:func:`evalkit.stats.plots.honest_bounds`)."""
        return honest_bounds(self.tidy(), breakdown=self.breakdown_mbar, ax=ax, exponentiate=log)


def relative_magnitudes(
    coefs: Mapping[int, float] | pd.Series,
    vcov: pd.DataFrame,
    *,
    pre: Sequence[int],
    post: Sequence[int],
    reference: int,
    mbar: Sequence[float] = DEFAULT_MBAR,
    alpha: float = 0.05,
    weights: Sequence[float] | None = None,
    inference: _Inference = "bounds",
) -> HonestResult:
    """Bounds on an event study's post-period target under Delta^RM(Mbar), per Mbar.

    Parameters
    ----------
    coefs : Series or mapping
        Event-study coefficients by period (integers; log rate ratios for a Poisson model),
        the reference period left out (it is 0).
    vcov : DataFrame
        Their covariance, rows and columns labelled by period.
    pre : sequence of int
        The benchmark periods: B is the largest change between two consecutive ones (and
        from the period before the reference to the reference, if that period is given).
    post : sequence of int
        Periods the target averages (after the reference).
    reference : int
        The reference period (violation 0 there).
    mbar : sequence of float
        Mbar values (non-negative).
    alpha : float
        1 - confidence level of the robust CI.
    weights : sequence of float, optional
        Target weights, one per ``post`` period (default: equal, the mean).
    inference : {"bounds", "estimate"}
        Robust CI: each bound widened by its own delta-method SE (default), or by the target's
        SE alone, the benchmark treated as known (diff-diff 3.13's interval).

    Returns
    -------
    HonestResult

    Raises
    ------
    ValueError
        On a missing coefficient, a period on the wrong side of the reference, a benchmark
        without two consecutive periods, a negative Mbar or bad alpha.

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.Series({-3: 0.1, -2: 0.0, 0: 0.5, 1: 0.5})
    >>> v = pd.DataFrame(0.01 * np.eye(4), index=b.index, columns=b.index)
    >>> r = relative_magnitudes(b, v, pre=[-3, -2], post=[0, 1], reference=-1, mbar=[0, 1])
    >>> r.benchmark, r.k  # step -3 to -2; weights 1/2 accumulate over steps 0 and 1
    (0.1, 1.5)
    >>> [round(x, 4) for x in r.tidy().iloc[1, 1:3]]
    [0.35, 0.65]
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")
    grid = [float(m) for m in mbar]
    if not grid or any(not math.isfinite(m) or m < 0 for m in grid):
        raise ValueError(f"mbar must be non-negative numbers, not {list(mbar)!r}")
    if inference not in ("bounds", "estimate"):
        raise ValueError(f"inference must be 'bounds' or 'estimate', not {inference!r}")
    inp = _inputs(_as_series(coefs), vcov, pre, post, int(reference), weights)
    z = float(stats.norm.ppf(1 - alpha / 2))
    m = np.asarray(grid, dtype=float)
    table = pd.DataFrame(dict(zip(HONEST_COLUMNS, (m, *_ci(inp, m, z, inference)), strict=True)))
    step = inp.steps.iloc[inp.largest]
    notes = [
        f"Benchmark: the largest change between consecutive periods of {min(pre)}..{max(pre)} "
        f"({int(step['from_period'])} to {int(step['to_period'])}); other pre-periods do not "
        "set it.",
        f"The violation is 0 at period {reference} and may change by up to Mbar x benchmark in "
        f"each period from {int(reference) + 1} to {max(post)}.",
        "Robust CI: "
        + (
            "each bound widened by its delta-method SE (benchmark's sampling error counted at "
            "its largest step)"
            if inference == "bounds"
            else "bounds widened by the target's SE only (benchmark treated as known)"
        )
        + "; not the paper's conditional/hybrid interval.",
    ]
    spec = {
        "pre": sorted(int(p) for p in pre),
        "post": [int(p) for p in post],
        "reference": int(reference),
        "weights": None if weights is None else [float(x) for x in weights],
        "mbar": grid,
        "alpha": float(alpha),
        "inference": inference,
    }
    return HonestResult(
        estimate=inp.theta,
        std_error=inp.se_theta,
        ci_low=inp.theta - z * inp.se_theta,
        ci_high=inp.theta + z * inp.se_theta,
        benchmark=abs(float(step["change"])),
        benchmark_periods=(int(step["from_period"]), int(step["to_period"])),
        k=inp.k,
        breakdown_mbar=_breakdown(inp, z, inference),
        table=table,
        steps=inp.steps,
        spec=spec,
        notes=tuple(notes),
    )
