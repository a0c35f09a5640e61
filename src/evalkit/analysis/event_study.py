"""Event studies of a matched cohort, and the pre-trend test on the months not matched on.

Matching on prior use (``prior12_<setting>``, ``prior3_<setting>``: counts over months -12 to -1)
forces participants and controls to agree on those months, so their event-study coefficients
are near 1 by construction and cannot show whether the two groups were on parallel paths. The
months before the longest matched window (-24 to -13 with the default covariates) were not
matched on: only they can test the design. :func:`pretrend_test` tests them jointly, in both
the Poisson (rate ratio) and the linear (events per person-month) event study, and
:func:`event_study` draws every month with that test attached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from evalkit.cohort import PRIOR_WINDOWS
from evalkit.jsonsafe import json_safe
from evalkit.stats.did import DidResult, did
from evalkit.stats.result import Result

if TYPE_CHECKING:
    from evalkit.analysis.utilisation import MatchedCohort

__all__ = [
    "PretrendResult",
    "event_study",
    "event_study_or_none",
    "pretrend_months",
    "pretrend_test",
]

#: The event study's reference month (its coefficient is 1 on the rate-ratio scale).
REFERENCE_MONTH = -1


def pretrend_months(mc: MatchedCohort) -> tuple[int, int]:
    """First and last event month the pre-trend test covers: the months not matched on.

    From the first month any participant was observed in (exposure above 0: a programme whose
    participants were all referred in the data's first two years has no month -24) to the month
    before the longest prior-use window the match used (``prior12_*``: month -13); to month -2
    (the month before the reference) if the match used no prior-use count.
    """
    columns = mc.cohort.covariate_columns(mc.spec["covariates"])
    matched = [w for w in PRIOR_WINDOWS if any(c.startswith(f"prior{w}_") for c in columns)]
    last = -max(matched) - 1 if matched else REFERENCE_MONTH - 1
    panel = mc.panel
    observed = panel.loc[(panel["exposure"] > 0) & (panel["referred"] == 1), "event_month"]
    first = int(observed.min() if len(observed) else panel["event_month"].min())
    if last < first:
        raise ValueError(
            f"no event month before the matched window: the panel starts at month {first}"
        )
    return first, last


def event_study(
    mc: MatchedCohort, setting: str, *, model: Literal["linear", "poisson"] = "poisson"
) -> DidResult:
    """Event-month coefficients (-24..11, reference -1) with the joint pre-trend test.

    On the matched cohort's panel and weights (observed rows and censoring weights in the
    target trial); the per-month coefficients need event-month time effects, so they are
    pooled across index months here (the headline DiD stacks them). The pre-trend test covers
    the months not matched on (:func:`pretrend_months`), not months -12 to -2, whose
    coefficients matching on prior use has forced towards 0.
    """
    first, last = pretrend_months(mc)
    p = mc.panel[mc.panel["exposure"] > 0]
    kw = {"exposure": "exposure"} if model == "poisson" else {}
    return did(
        p,
        outcome=setting,
        unit="unit",
        time="event_month",
        treated="referred",
        post="post",
        cluster=mc.spec.get("cluster") or "subclass",  # as utilisation._cluster
        model=model,
        event_study=True,
        weights=mc.weight_column,
        reference_period=REFERENCE_MONTH,
        pretrend_periods=list(range(first, last + 1)),
        **kw,
    )


#: How :func:`evalkit.stats.did.did` says a Poisson fit cannot be made on these data: it does
#: not converge (pyfixest), or no participant (or no control) has an event at all.
NOT_ESTIMABLE = ("Demeaning failed", "units are left")


def event_study_or_none(mc: MatchedCohort, setting: str) -> DidResult | None:
    """The Poisson :func:`event_study`, or None when it cannot be fitted (:data:`NOT_ESTIMABLE`).

    A small programme's month-by-month Poisson fit can fail to converge, or have no
    participant with an event; the report then shows the figure as not drawn instead of
    stopping.
    """
    try:
        return event_study(mc, setting)
    except ValueError as exc:
        if not any(m in str(exc) for m in NOT_ESTIMABLE):
            raise
        return None


#: Columns of :meth:`PretrendResult.tidy`.
PRETREND_COLUMNS: tuple[str, ...] = (
    "model",
    "test",
    "statistic",
    "df",
    "denominator_df",
    "p_value",
    "first_month",
    "last_month",
)


@dataclass(frozen=True, repr=False)
class PretrendResult(Result):
    """The joint pre-trend test on the months not matched on, Poisson and linear.

    Attributes
    ----------
    setting : str
        The outcome.
    first_month, last_month : int
        The event months tested (inclusive): the months not matched on.
    poisson : DidResult or None
        The Poisson event study (None for ``total_cost``, which is money, not a count).
    linear : DidResult
        The linear event study.
    poisson_not_testable : str
        Why the Poisson test is not reported (empty when it is): a tested month in which
        participants or controls have no events has a rate ratio of 0 or infinity (the fit
        separates), and a Wald test on it means nothing.
    """

    analysis = "pretrend"

    setting: str
    first_month: int
    last_month: int
    poisson: DidResult | None
    linear: DidResult
    poisson_not_testable: str = ""

    @property
    def poisson_p(self) -> float:
        """p-value of the Poisson model's joint test (NaN without a testable Poisson fit)."""
        if self.poisson is None or self.poisson_not_testable:
            return math.nan
        return self.poisson.pretrend_p_value

    @property
    def linear_p(self) -> float:
        """p-value of the linear model's joint test."""
        return self.linear.pretrend_p_value

    @property
    def notes(self) -> tuple[str, ...]:
        """The fits' notes, each once."""
        fits = [f for f in (self.poisson, self.linear) if f is not None]
        own = (self.poisson_not_testable,) if self.poisson_not_testable else ()
        return tuple(dict.fromkeys([*own, *(n for f in fits for n in f.notes)]))

    def tidy(self) -> pd.DataFrame:
        """One row per model: the test, its statistic, degrees of freedom and p-value."""
        rows = []
        for fit in (self.poisson, self.linear):
            if fit is None or (fit is self.poisson and self.poisson_not_testable):
                continue
            linear = fit.spec["model"] == "linear"
            rows.append(
                {
                    "model": fit.spec["model"],
                    "test": "F" if linear else "chi2",
                    "statistic": fit.pretrend_stat,
                    "df": fit.pretrend_df,
                    "denominator_df": fit.pretrend_denominator_df,
                    "p_value": fit.pretrend_p_value,
                    "first_month": self.first_month,
                    "last_month": self.last_month,
                }
            )
        return pd.DataFrame(rows, columns=list(PRETREND_COLUMNS))

    def summary_header(self) -> list[str]:
        """What was tested, and why these months."""
        return [
            f"Pre-trend test: {self.setting}, event months {self.first_month} to "
            f"{self.last_month} (the months not matched on), all coefficients zero",
            "Months -12 to -1 are not tested: matching on prior use forced them to balance.",
        ]

    def entry(self) -> dict[str, Any]:
        """The results.json ``pretrend`` entry of this setting."""
        return json_safe(
            {
                "first_month": self.first_month,
                "last_month": self.last_month,
                "poisson_p": self.poisson_p,
                "linear_p": self.linear_p,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the entry, the setting and the tidy rows."""
        return json_safe(
            {
                "analysis": self.analysis,
                "setting": self.setting,
                **self.entry(),
                "table": self.tidy().to_dict(orient="records"),
                "notes": list(self.notes),
            }
        )


def pretrend_test(
    mc: MatchedCohort, setting: str, *, poisson: DidResult | None = None
) -> PretrendResult:
    """Joint pre-trend test on the months not matched on, in the Poisson and linear models.

    Fits :func:`event_study` with both models (``poisson``: a Poisson event study already
    fitted, e.g. the one the report draws, to reuse; ``total_cost`` gets the linear model
    only). A small p-value says participants' and controls' use diverged before the months
    matched on, so the matched comparison's parallel-trends assumption is in doubt; a large
    one is no proof of parallel trends (the test may lack power, and trends may differ after
    referral for reasons the past does not show).
    """
    first, last = pretrend_months(mc)
    if poisson is None and setting != "total_cost":
        poisson = event_study(mc, setting, model="poisson")
    linear = event_study(mc, setting, model="linear")
    why = "" if poisson is None else _separated_months(mc, setting, first, last)
    return PretrendResult(setting, first, last, poisson, linear, why)


def _separated_months(mc: MatchedCohort, setting: str, first: int, last: int) -> str:
    """Why the Poisson test of months ``first``..``last`` is not estimable, or "".

    A month in which the participants (or the controls) have no events has a Poisson
    coefficient at minus (plus) infinity; the fit stops at a huge SE instead, and the Wald test
    on it is meaningless.
    """
    empty = months_without_events(mc, setting, range(first, last + 1))
    if not empty:
        return ""
    return (
        f"{setting}: month(s) {empty} have no participant or no control events, so their "
        "Poisson rate ratios are 0 or infinite (the fit separates) and the Poisson pre-trend "
        "test is not estimable; the linear test stands."
    )


#: Columns of a published event-study table blanked where a month's rate ratio is not estimable.
ESTIMATE_COLUMNS: tuple[str, ...] = ("estimate", "std_error", "ci_low", "ci_high", "p_value")


def months_without_events(
    mc: MatchedCohort, setting: str, months: range | None = None
) -> list[int]:
    """Event months in which the participants or the controls have no ``setting`` events.

    Counted on the rows with exposure (those the fits use); with ``months``, a month absent
    from the panel counts as having none.
    """
    p = mc.panel[mc.panel["exposure"] > 0]
    if months is not None:
        p = p[p["event_month"].between(months.start, months.stop - 1)]
    events = p.groupby(["event_month", "referred"])[setting].sum().unstack(fill_value=0)
    events = events.reindex(columns=[0, 1], fill_value=0)
    if months is not None:
        events = events.reindex(index=months, fill_value=0)
    return [int(m) for m in events.index[(events[0] <= 0) | (events[1] <= 0)]]


def estimable_event_study(table: pd.DataFrame, mc: MatchedCohort, setting: str) -> pd.DataFrame:
    """A Poisson event study's table with the months whose rate ratio is not estimable blanked.

    A month in which the participants (or the controls) have no events has a Poisson
    coefficient at minus (plus) infinity; the fit stops at a huge estimate and SE instead (seen:
    a rate ratio of 1e107 with SE 4e5 on the log scale), which is not a finding. Such months get
    no estimate, interval or p-value, and a ``note`` saying why. Every coefficient is relative
    to the reference month, so when that month itself has no participant or no control events,
    no month is estimable. Counts come from the panel the fit used (rows with exposure).
    """
    empty = set(months_without_events(mc, setting))
    out = table.copy()
    out["note"] = None
    if REFERENCE_MONTH in empty:
        why = (
            f"not estimable: the reference month {REFERENCE_MONTH} has no participant or no "
            "control events, and every month is compared with it"
        )
        rows = out["period"] != REFERENCE_MONTH
    else:
        why = "not estimable: no participant or no control events this month"
        rows = out["period"].isin(empty)
    cols = [c for c in ESTIMATE_COLUMNS if c in out.columns]
    out[cols] = out[cols].astype(object)
    out.loc[rows, cols] = None
    out.loc[rows, "note"] = why
    return out
