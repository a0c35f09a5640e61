"""The target-trial design in the report: the estimand in words, censoring and short windows.

Each referral date opens a trial (docs/design/methods.md section 1): people referred on it are
compared with similar people eligible and not referred on it; a control referred later is censored
at their own referral, with inverse-probability-of-censoring weights. The report names that
estimand in plain English, shows the share of matched controls censored and the weights'
distribution (and the censoring model), and counts the people whose history before the index date
or follow-up after it is shorter than the analysis windows. Every count here goes through the
disclosure rule, and every share is computed from the published (rounded) counts, so a share
cannot undo the rounding of the count it rests on.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from evalkit.cohort.coverage import FOLLOWUP_MONTHS, HISTORY_MONTHS, coverage_table
from evalkit.reporting.disclosure import DEFAULT_RULE, DisclosureRule

__all__ = [
    "DESIGNS",
    "MIN_CENSORED_FOR_MODEL",
    "censoring_model_table",
    "censoring_summary",
    "censoring_weights_table",
    "estimand_sentence",
    "panel_window_flags",
    "published_share",
    "window_coverage",
    "window_coverage_table",
]

#: The estimand of each design, in words a commissioner can quote (``design`` of the matched
#: cohort's spec). ``target_trial`` is the report's; ``legacy`` is the design before it.
DESIGNS: dict[str, str] = {
    "target_trial": (
        "People referred to the programme on a given date are compared with similar people who "
        "were eligible but not referred on that date; each referral date is treated as the start "
        "of its own small trial, and follow-up starts the day after it. Comparison people who "
        "were referred later are followed only until their own referral, with weights that "
        "correct for the people who leave the comparison group this way. The result answers: "
        "what difference does being referred now make, compared with not being referred now?"
    ),
    "legacy": (
        "People referred to the programme are compared with similar people who had not been "
        "referred by the start of the same calendar month, and comparison people are followed "
        "whether or not they were referred later (the comparison is with usual care, which may "
        "include a later referral)."
    ),
}
#: The fewest censored controls for the censoring model's coefficients and the weights'
#: distribution to be published (a model estimate rests on at least 10 events, after ACRO's
#: threshold of 10; docs/design/methods.md section 5).
MIN_CENSORED_FOR_MODEL = 10
#: Terms of the censoring model's baseline hazard (:func:`evalkit.stats.ipcw`'s time terms:
#: one indicator per month, or an intercept and a restricted cubic spline of time).
_BASELINE_HAZARD_TERM = r"intercept|time|time_rcs\d+|time\[.*\]"


def estimand_sentence(design: str | None) -> str:
    """The estimand of ``design`` in plain English (the target trial's when it is not given).

    Examples
    --------
    >>> estimand_sentence("target_trial").startswith("People referred to the programme on a")
    True
    >>> estimand_sentence("legacy").endswith("include a later referral).")
    True
    """
    if design is not None and design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}: one of {', '.join(DESIGNS)}")
    return DESIGNS[design or "target_trial"]


def published_share(
    numerator: int | None, denominator: int | None, rule: DisclosureRule = DEFAULT_RULE
) -> float | None:
    """A share of people from the controlled counts (None when either is suppressed or 0 people).

    Both raw counts are controlled first (1-7 suppressed, others rounded), and the share is the
    ratio of what is published, so a reader who knows the published denominator learns nothing
    more about the numerator than its published count.

    Examples
    --------
    >>> published_share(47, 1003)  # 45 / 1005
    0.0447761
    >>> published_share(3, 1003) is None  # the numerator is suppressed
    True
    >>> published_share(0, 1003)
    0.0
    """
    num, den = rule.count(numerator), rule.count(denominator)
    if num is None or not den:
        return None
    return float(f"{num / den:.6g}")


def censoring_summary(
    n_controls: int,
    n_censored: int,
    truncation: tuple[float, float] | None,
    *,
    n_at_risk: int | None = None,
    rule: DisclosureRule = DEFAULT_RULE,
) -> dict[str, Any]:
    """The censoring table's one row: matched controls, how many were censored, the share.

    Parameters
    ----------
    n_controls : int
        Matched control units (a person at one index date).
    n_censored : int
        Of them, those referred to the programme after their index date (censored there).
    truncation : (float, float) or None
        The weight values the censoring weights were clipped to.
    n_at_risk : int, optional
        Control units in the censoring model (followed into month 0 or later).
    rule : DisclosureRule
        Disclosure control for the counts; the share is computed from the controlled counts.
    """
    suppressed = [
        k for k, v in (("n_controls", n_controls), ("n_censored", n_censored)) if rule.is_small(v)
    ]
    row: dict[str, Any] = {
        "n_controls": rule.count(n_controls),
        "n_censored": rule.count(n_censored),
        "share_censored": published_share(n_censored, n_controls, rule),
    }
    if n_at_risk is not None:
        row["n_at_risk"] = rule.count(n_at_risk)
        if rule.is_small(n_at_risk):
            suppressed.append("n_at_risk")
    shown = truncation is not None and not rule.is_small(n_censored)
    row["truncated_below"] = float(truncation[0]) if shown and truncation else None
    row["truncated_above"] = float(truncation[1]) if shown and truncation else None
    if row["share_censored"] is None:
        suppressed.append("share_censored")
    if suppressed:
        row["suppressed"] = sorted(set(suppressed))
    return row


def censoring_weights_table(distribution: pd.DataFrame, n_censored: int) -> pd.DataFrame:
    """The censoring weights' distribution (rows: before truncation, used), or no rows.

    ``distribution`` is :meth:`evalkit.stats.censoring.IpcwResult.distribution_table`. Weights
    resting on fewer than :data:`MIN_CENSORED_FOR_MODEL` censored controls are not published
    (an empty table with the same columns).
    """
    if n_censored < MIN_CENSORED_FOR_MODEL:
        return distribution.iloc[0:0].copy()
    return distribution.reset_index(drop=True).copy()


def censoring_model_table(coefficients: pd.DataFrame, n_censored: int) -> pd.DataFrame:
    """The censoring models' coefficients (log-odds of referral in a month), or no rows.

    ``coefficients`` is :meth:`evalkit.stats.censoring.IpcwResult.tidy`. The baseline hazard's
    terms are left out (one indicator per month, or an intercept and a spline of time: they say
    nothing a reader can use). Not published below :data:`MIN_CENSORED_FOR_MODEL` censored
    controls.
    """
    keep = ~coefficients["term"].astype(str).str.fullmatch(_BASELINE_HAZARD_TERM)
    out = coefficients.loc[keep].reset_index(drop=True)
    if n_censored < MIN_CENSORED_FOR_MODEL:
        return out.iloc[0:0].copy()
    return out


def panel_window_flags(panel: pd.DataFrame) -> pd.DataFrame:
    """Per unit of a matched panel: complete 24-month history and 12-month follow-up (bool).

    The cohort's definitions (:func:`evalkit.cohort.coverage.window_flags`) read off the panel:
    observed from the first day of event month -24 is person-time 1 in month -24 (at risk every
    day of it, registration being one interval), and observed through the last day of month 11
    is person-time 1 in month 11. Columns ``unit``, ``referred``, ``full_history_24m``,
    ``full_followup_12m``; a unit without a row for a month counts as not observed in it.
    """
    units = panel.groupby("unit", sort=True, observed=True)["referred"].first()

    def full(month: int) -> pd.Series:
        rows = panel.loc[panel["event_month"] == month, ["unit", "exposure"]]
        observed = rows.set_index("unit")["exposure"] >= 1.0
        return observed.reindex(units.index, fill_value=False).astype(bool)

    return pd.DataFrame(
        {
            "unit": units.index,
            "referred": units.to_numpy(),
            "full_history_24m": full(-HISTORY_MONTHS).to_numpy(),
            "full_followup_12m": full(FOLLOWUP_MONTHS - 1).to_numpy(),
        }
    )


def window_coverage(participants: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """People with complete and incomplete windows: every participant, and the matched controls.

    ``participants`` is :meth:`evalkit.cohort.Cohort.window_coverage` (every participant, matched
    or not); the matched controls' rows come from the matched panel (:func:`panel_window_flags`),
    counted per control unit (a person at one inherited index date). Columns ``group``,
    ``window`` (``history_24m``, ``followup_12m``, ``both``), ``complete``, ``incomplete``:
    raw counts, before disclosure control.
    """
    flags = panel_window_flags(panel)
    controls = coverage_table(flags[flags["referred"] == 0])
    return pd.concat(
        [
            participants.assign(group="participants"),
            controls.assign(group="matched controls"),
        ],
        ignore_index=True,
    )[["group", "window", "complete", "incomplete"]]


def window_coverage_table(
    coverage: pd.DataFrame, rule: DisclosureRule = DEFAULT_RULE
) -> pd.DataFrame:
    """:func:`window_coverage` controlled: counts suppressed or rounded, shares from them.

    Columns ``group``, ``window``, ``n_complete``, ``n_incomplete`` and ``share_incomplete``
    (the published incomplete count over the published total of the row, so the share cannot
    undo the rounding; NaN where either is suppressed).
    """
    complete = coverage["complete"].astype(int).tolist()
    incomplete = coverage["incomplete"].astype(int).tolist()
    share = [published_share(i, c + i, rule) for c, i in zip(complete, incomplete, strict=True)]
    return pd.DataFrame(
        {
            "group": coverage["group"].to_numpy(),
            "window": coverage["window"].to_numpy(),
            "n_complete": pd.array([rule.count(v) for v in complete], dtype="Int64"),
            "n_incomplete": pd.array([rule.count(v) for v in incomplete], dtype="Int64"),
            "share_incomplete": [math.nan if s is None else s for s in share],
        }
    )
