"""The report's tables: disclosure-controlled views of the results, and their HTML.

Every table a reader sees is a *view* (:data:`TABLE_VIEWS`) of one controlled table: which
columns, which count columns (shown as ``*`` where suppressed), the caption, and the analysis
function that computed it (carried into the HTML as ``data-analysis``, so a reader gets from any
table to its code in one hop).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis import (
    economics,
    outcomes_by_deprivation,
    pathway,
    reach_all,
    referral_trends,
    wellbeing_all,
)
from evalkit.analysis.equity import PATHWAY_STEPS
from evalkit.analysis.equity.reach_rates import ENTRY_KEYS as REACH_KEYS
from evalkit.analysis.negative_control import negative_controls
from evalkit.analysis.power import mde_utilisation_all
from evalkit.analysis.utilisation import matched_cohort, sensitivity, utilisation_all
from evalkit.config import instruments
from evalkit.jsonsafe import round_floats
from evalkit.reporting import declared
from evalkit.reporting import narrative as nar
from evalkit.reporting.checker import PEOPLE_PHRASE
from evalkit.reporting.disclosure import DEFAULT_RULE, DisclosureRule, control_entries
from evalkit.reporting.html import Html, qualified_name, render
from evalkit.reporting.target_trial import MODEL_COLUMNS, window_coverage, with_published_share

#: Covariates that are not 0/1 indicators (their balance rows rest on every person).
CONTINUOUS_COVARIATES = ("distance", "age", "imd_decile", "prior12_", "prior3_")


def _cell(value: Any, *, is_count: bool, digits: int) -> dict[str, str]:
    """Text and CSS class of one table cell (a suppressed count shows as ``*``)."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if is_count:
        return {"css": "ek-count num", "text": "*" if missing else f"{int(value):,}"}
    if missing:
        return {"css": "num", "text": "–"}
    if isinstance(value, float | np.floating):
        return {"css": "num", "text": f"{value:,.{digits}f}"}
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return {"css": "num", "text": f"{value:,}"}
    return {"css": "", "text": str(value)}


def html_table(
    df: pd.DataFrame,
    *,
    caption: str,
    counts: tuple[str, ...] = (),
    digits: int = 2,
    labels: dict[str, str] | None = None,
    name: str = "",
    analysis: str = "",
    note: str = "",
    kinds: dict[str, str] | None = None,
) -> Html:
    """An accessible HTML table (caption, header scopes); count cells marked ``ek-count``.

    A suppressed value (``None``/NaN in a count column) is shown as ``*``; the disclosure checker
    reads the ``ek-count`` cells. ``kinds`` gives each column's declared disclosure class
    (:mod:`evalkit.reporting.declarations`), written on its header as ``data-kind`` for the
    checker. ``analysis`` names the function that computed the table; ``note``, if any, is one
    line under the table (what its columns mean).
    """
    labels, kinds = labels or {}, kinds or {}
    rows = [
        [
            _cell(v, is_count=col in counts, digits=digits)
            for col, v in zip(df.columns, rec, strict=True)
        ]
        for rec in df.itertuples(index=False)
    ]
    return render(
        "table.html.j2",
        name=name,
        analysis=analysis,
        caption=caption,
        header=[labels.get(c, c.replace("_", " ")) for c in df.columns],
        kinds=[kinds.get(c, "") for c in df.columns],
        rows=rows,
        note=note,
    )


def is_binary_row(name: str) -> bool:
    """Whether a balance-table row is a 0/1 indicator (its mean times N counts people)."""
    return not any(name == c or name.startswith(c) for c in CONTINUOUS_COVARIATES)


def control_balance(
    balance: pd.DataFrame,
    n_treated: int,
    n_control_before: float,
    n_control_after: float,
    rule: DisclosureRule = DEFAULT_RULE,
    n_treated_after: float | None = None,
) -> pd.DataFrame:
    """Balance table whose 0/1 rows cannot give a count away.

    For a 0/1 covariate the mean times the group size is a count of people. Where that count is
    small the mean and every statistic built from it (SMD, variance ratio, eCDF) are
    suppressed; otherwise the mean is published as the share of the *rounded* count in the
    *rounded* group (3 decimals) and the SMD and eCDF distance are recomputed from those shares
    (a raw mean with six digits, or a raw SMD, would let a reader solve for the raw count and
    group size). ``n_treated_after`` is the matched participants (default ``n_treated``).
    """
    out = balance.copy()
    groups = {
        "mean_treated": n_treated,
        "mean_control_before": n_control_before,
        "mean_control_after": n_control_after,
        "mean_treated_after": n_treated if n_treated_after is None else n_treated_after,
    }
    for name in out.index:
        if not is_binary_row(str(name)):
            continue
        raw = {col: float(out.at[name, col]) for col in groups if col in out}
        small = {col: rule.is_small(round(raw[col] * groups[col])) for col in raw}
        for col, mean in raw.items():
            if not math.isnan(mean) and not small[col]:
                count, size = rule.count(round(mean * groups[col])), rule.count(groups[col])
                out.loc[name, col] = (
                    round(count / size, 3) if count is not None and size else np.nan
                )
        _binary_stats(out, name)
        if small.get("mean_treated") or small.get("mean_control_before"):
            out.loc[name, [c for c in out if c.endswith("_before")]] = np.nan
        if small.get("mean_treated") or small.get("mean_control_after"):
            out.loc[name, [c for c in out if c.endswith("_after")]] = np.nan
        if small.get("mean_treated"):
            out.loc[name, "mean_treated"] = np.nan
    return out


def _binary_stats(out: pd.DataFrame, name: Any) -> None:
    """SMD and eCDF distance of a 0/1 row from its published shares (as ``balance_row``)."""
    p = float(out.at[name, "mean_treated"])
    sd = math.sqrt(p * (1 - p)) if not math.isnan(p) else float("nan")
    for when, treated in (("before", "mean_treated"), ("after", "mean_treated_after")):
        control = f"mean_control_{when}"
        if treated not in out or control not in out:
            continue
        diff = float(out.at[name, treated]) - float(out.at[name, control])
        if f"smd_{when}" in out:
            smd = diff / sd if sd > 0 else (0.0 if diff == 0 else float("nan"))
            out.loc[name, f"smd_{when}"] = smd
        if f"ecdf_max_{when}" in out:
            out.loc[name, f"ecdf_max_{when}"] = abs(diff)


def overlap_bins(mc: Any, rule: DisclosureRule, n_bins: int = 25) -> pd.DataFrame:
    """The match's overlap table (:meth:`MatchResult.overlap_table`), disclosure-controlled."""
    table = mc.match.overlap_table(n_bins)
    for col in ("participants", "controls_matched", "controls_all"):
        table[col] = [rule.count(int(x)) for x in table[col]]
    return table


_UTIL_COLS = [
    "setting",
    "window_months",
    "role",
    "method",
    "population",
    "scale",
    "estimate",
    "ci_low",
    "ci_high",
    "p_holm",
    "n_participants",
    "n_controls",
]
#: What a utilisation table's ``role`` and Holm-adjusted p mean (one line under each table).
ROLE_NOTE = (
    "Role, from the analysis plan: primary = the primary outcome, tested on its own; secondary "
    "= the secondary settings at the primary window, their rate-ratio p-values adjusted together "
    "with Holm's method (Holm-adjusted p); exploratory = every other figure. The other windows "
    "are nested in the primary window (a shorter window is the first months of a longer one), "
    "so they are marked nested and are not corrected for multiple comparisons."
)
#: The role text of a figure at a window other than the primary one.
NESTED_ROLE = "exploratory (nested window, not corrected)"


def p_text(p: float | None) -> str | None:
    """A p-value as a table cell shows it: three decimals, ``<0.001``, or None (shown –).

    Examples
    --------
    >>> p_text(0.04812), p_text(0.0002), p_text(None), p_text(float("nan"))
    ('0.048', '<0.001', None, None)
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return None
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def utilisation_view(scale: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The utilisation table's rows on ``scale``, roles spelt out for the reader.

    A figure at a window other than the primary outcome's is ``exploratory (nested window, not
    corrected)``; ``p_holm`` (secondary rate ratios only) is shown as text (:func:`p_text`).
    The primary window is read from the table's primary entry, so with none (an old
    results.json) the roles are shown as they are.
    """

    def view(d: pd.DataFrame) -> pd.DataFrame:
        out = d[d["scale"] == scale].copy()
        if "role" in out:
            primary = d.loc[d["role"] == "primary", "window_months"].unique()
            if len(primary) == 1:
                nested = (out["window_months"] != primary[0]) & (out["role"] == "exploratory")
                out["role"] = out["role"].where(~nested, NESTED_ROLE)
        if "p_holm" in out:
            out["p_holm"] = [p_text(p) for p in out["p_holm"]]
        return out

    return view


def _pathway_view(group: str, caption: str) -> dict[str, Any]:
    """Table view of the pathway by ``group``: one row per level, one count column per step."""

    def wide(d: pd.DataFrame) -> pd.DataFrame:
        # dropna=False keeps a step whose counts are all suppressed (shown as *).
        return (
            d[d["group"] == group]
            .pivot_table(
                index="level",
                columns="step",
                values="n",
                aggfunc="first",
                sort=False,
                dropna=False,
            )
            .reset_index()
            .rename(columns={"level": group})
        )

    return {
        "source": "pathway",
        "analysis": pathway,
        "filter": wide,
        "columns": [group, *PATHWAY_STEPS],
        "counts": PATHWAY_STEPS,
        # the pivot's columns: the group's levels (labels) and one count per step
        "kinds": {group: "label", **dict.fromkeys(PATHWAY_STEPS, "count")},
        "caption": caption,
    }


TABLE_VIEWS: dict[str, dict[str, Any]] = {
    "reach": {
        "analysis": reach_all,
        "source": "reach",
        # The reach entry's keys with the reference level moved last.
        "columns": [*(k for k in REACH_KEYS if k != "reference_level"), "reference_level"],
        "counts": ("participants",),
        "digits": 2,
        "labels": {
            "eligible_person_years": "eligible person-years",
            "ratio_vs_reference": "rate ratio vs reference",
        },
        "caption": "Reach: participants (people at their first referral) per eligible "
        "person-year, as rate ratios against the reference group with exact Poisson 95% CIs.",
    },
    "pathway": {
        "analysis": pathway,
        "source": "pathway",
        "filter": lambda d: d[d["group"] == "all"],
        "columns": ["step", "n"],
        "counts": ("n",),
        "caption": "Pathway, everyone referred: people at each step (each step counts people "
        "who also passed the steps before it).",
    },
    "pathway_imd": _pathway_view(
        "imd_quintile", "Pathway by IMD quintile (1 = most deprived): people at each step."
    ),
    "pathway_ethnicity": _pathway_view(
        "ethnicity_group", "Pathway by ethnicity group: people at each step."
    ),
    "outcomes_by_deprivation": {
        "analysis": outcomes_by_deprivation,
        "source": "outcomes_by_deprivation",
        "columns": ["outcome", "scale", "level", "n_participants", "estimate", "ci_low", "ci_high"],
        "counts": ("n_participants",),
        "labels": {"level": "IMD quintiles"},
        "caption": "Outcomes by deprivation: matched DiD rate ratios (6 months) and wellbeing "
        "change by IMD quintile group (pooled where groups are small).",
    },
    "waiting_times": {
        "analysis": referral_trends,
        "source": "waiting_times",
        "columns": ["period", "n_started", "median_days", "q1_days", "q3_days"],
        "counts": ("n_started",),
        "digits": 0,
        "caption": "Waiting time from referral to the first session, days (median and "
        "quartiles) by year of referral; suppressed where the number of starters in a year "
        "is 1 to 7.",
    },
    "unit_costs": {
        "analysis": economics,
        "source": "unit_costs",
        "columns": [
            "setting",
            "cost",
            "price_year",
            "source",
            "original_price_year",
            "inflated",
            "flag",
        ],
        "digits": 0,
        "caption": "Unit costs (£ per event) with source and price year; costs from older "
        "years are inflated with the NHS Cost Inflation Index and flagged.",
    },
    "referrals_by_source": {
        "analysis": referral_trends,
        "source": "referrals_by_year_source",
        "columns": ["period", "referral_source", "n"],
        "counts": ("n",),
        "labels": {"period": "year", "n": "referrals"},
        "caption": "Referrals (every episode) per calendar year by referral source.",
    },
    "cost_by_setting": {
        "analysis": economics,
        "source": "cost_by_setting",
        "columns": [
            "setting",
            "unit_cost",
            "events_difference_per_participant",
            "cost_difference_per_participant",
            "cost_ci_low",
            "cost_ci_high",
        ],
        "digits": 2,
        "caption": "NHS cost change per participant by setting over 12 months: events and £ "
        "(participants against matched controls, 95% bootstrap CI).",
    },
    "utilisation_rate_ratios": {
        "analysis": utilisation_all,
        "source": "utilisation",
        "filter": utilisation_view("rate_ratio"),
        "columns": _UTIL_COLS,
        "counts": ("n_participants", "n_controls"),
        "labels": {"p_holm": "Holm-adjusted p"},
        "caption": "Rate ratios by setting and window: matched difference-in-differences beside "
        "the naive before/after figure (participants alone, no comparison group), for the "
        "matched participants (the same people as the matched comparison) and for all "
        "participants (population). Below 1 = fewer events than expected.",
        "note": ROLE_NOTE,
    },
    "utilisation_differences": {
        "analysis": utilisation_all,
        "source": "utilisation",
        "filter": utilisation_view("difference_per_person"),
        "columns": [c for c in _UTIL_COLS if c != "p_holm"],
        "counts": ("n_participants", "n_controls"),
        "caption": "Absolute change: events per participant over the window (total_cost: £ per "
        "participant), matched DiD beside naive before/after (matched and all participants).",
        "note": ROLE_NOTE + " Holm's adjustment is on the rate ratios (the table above).",
    },
    "negative_controls": {
        "analysis": negative_controls,
        "source": "negative_controls",
        "columns": [
            "outcome",
            "window_months",
            "scale",
            "estimate",
            "ci_low",
            "ci_high",
            "expected",
            "n_participants",
            "n_controls",
            "note",
        ],
        "counts": ("n_participants", "n_controls"),
        "labels": {"window_months": "months", "expected": "expected if unbiased"},
        "caption": "Negative control: the matched difference-in-differences on an outcome the "
        "programme cannot plausibly change (rate ratio, and planned admissions per participant "
        "over the window), in each window. An estimate away from its expected value (1 for the "
        "rate ratio, 0 for the difference) signals residual confounding, not an effect.",
    },
    "mde": {
        "analysis": mde_utilisation_all,
        "source": "utilisation",
        "filter": lambda d: d[(d["method"] == "matched_did") & (d["scale"] == "rate_ratio")],
        "columns": [
            "setting",
            "window_months",
            "n_participants",
            "n_controls",
            "estimate",
            "ci_low",
            "ci_high",
            "mde",
        ],
        "counts": ("n_participants", "n_controls"),
        "labels": {"mde": "minimum detectable rate ratio"},
        "caption": "Minimum detectable effects (80% power, 5% two-sided) beside each matched "
        "DiD rate ratio: a fall smaller than 1 − MDE could not reliably be detected.",
    },
    "wellbeing": {
        "analysis": wellbeing_all,
        "source": "wellbeing",
        "columns": [
            "label",
            "n_baseline",
            "n_paired",
            "mean_before",
            "mean_after",
            "mean_change",
            "ci_low",
            "ci_high",
            "effect_size",
            "share_improved",
            "share_deteriorated",
            "note",  # only where a measure has too few people to estimate its change
        ],
        "counts": ("n_baseline", "n_paired"),
        "caption": "Wellbeing measures: paired change from the start to the end of the "
        "programme among people with both measures (a change, not an effect).",
    },
    "balance": {
        "analysis": matched_cohort,
        "source": "balance",
        "columns": [
            "covariate",
            "mean_treated",
            "mean_control_before",
            "smd_before",
            "mean_control_after",
            "smd_after",
            "var_ratio_after",
        ],
        "digits": 3,
        "caption": "Covariate balance: means and standardised mean differences before and "
        "after matching (rows resting on a suppressed count, 1 to 7, are shown as –).",
    },
    "sensitivity": {
        "analysis": sensitivity,
        "source": "sensitivity",
        "columns": ["analysis", "estimate", "ci_low", "ci_high", "note"],
        "caption": "Sensitivity analyses for emergency admissions at 6 months (rate ratios). "
        "First row: the Rambachan-Roth breakdown value for the primary outcome, a multiple of "
        "the largest month-to-month change in months -24 to -13, not a rate ratio (its note "
        "says what it means). Controls not censored: controls referred later are followed on "
        "(the comparison is then with usual care, which may include a later referral); "
        "month-0 washout: the first "
        "month after referral is left out; E-value row: the strength of confounding needed to "
        "explain the estimate away, which applies to a single rate ratio under the E-value's "
        "own assumptions and does not measure differing trends between the groups.",
    },
    "censoring": {
        "analysis": matched_cohort,
        "source": "censoring",
        "columns": [
            "n_controls",
            "n_censored",
            "share_censored",
            "n_at_risk",
            "truncated_below",
            "truncated_above",
        ],
        "counts": ("n_controls", "n_censored", "n_at_risk"),
        "digits": 3,
        "labels": {
            "n_controls": "matched controls",
            "n_censored": "referred later (censored)",
            "share_censored": "share censored",
            "n_at_risk": "in the censoring model",
            "truncated_below": "weights truncated below at",
            "truncated_above": "weights truncated above at",
        },
        "caption": "Matched controls referred to the programme after their index date: they "
        "are followed only until their own referral, and the controls still followed are "
        "weighted by the inverse probability of not having been referred so far (the share is "
        "computed from the rounded counts).",
    },
    "censoring_weights": {
        "analysis": matched_cohort,
        "source": "censoring_weights",
        "columns": ["weights", "min", "p1", "p25", "median", "p75", "p99", "max", "mean"],
        "digits": 3,
        "labels": {"p1": "1st percentile", "p99": "99th percentile", "p25": "25th", "p75": "75th"},
        "caption": "Censoring weights of the matched controls' follow-up months: distribution "
        "before truncation and as used (stabilised weights average about 1). Not shown when "
        "fewer than 10 matched controls were censored.",
    },
    "censoring_model": {
        "analysis": matched_cohort,
        "source": "censoring_model",
        "columns": list(MODEL_COLUMNS),
        "digits": 3,
        "labels": {"estimate": "log-odds", "std_error": "SE"},
        "caption": "Censoring model: log-odds of being referred to the programme in a month, "
        "among matched controls not yet referred (pooled logistic regression over control "
        "months; the month effects are not shown). Not shown when fewer than 10 matched "
        "controls were censored.",
    },
    "window_coverage": {
        "analysis": window_coverage,
        "source": "window_coverage",
        "columns": ["group", "window", "n_complete", "n_incomplete", "share_incomplete"],
        "counts": ("n_complete", "n_incomplete"),
        "digits": 3,
        "labels": {
            "n_complete": "complete",
            "n_incomplete": "shorter",
            "share_incomplete": "share shorter",
        },
        "caption": "People with less than 24 months of data before their index date "
        "(history_24m) or less than 12 months after it (followup_12m): they stay in the "
        "analysis, and months outside their data are not counted. Participants: everyone "
        "referred; matched controls: a person at one index date.",
    },
    "matching": {
        "analysis": matched_cohort,
        "source": "matching",
        "columns": [
            "n_participants",
            "n_matched",
            "n_unmatched",
            "n_controls",
            "share_matched",
            "max_abs_smd_after",
            "caliper_width",
        ],
        "counts": ("n_participants", "n_matched", "n_unmatched", "n_controls"),
        "digits": 3,
        "labels": {
            "n_participants": "participants",
            "n_matched": "matched",
            "n_unmatched": "not matched",
            "n_controls": "matched controls",
            "share_matched": "share matched",
            "max_abs_smd_after": "largest |SMD| after",
            "caliper_width": "caliper (logit units)",
        },
        "caption": "Matching summary: participants with at least one matched control, and the "
        "largest standardised difference remaining on any covariate.",
    },
}


def wellbeing_table(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """The wellbeing table: one row per measure, effect sizes oriented "positive = better"."""
    defs = instruments()
    rows = []
    for e in entries:
        name = e["instrument"]
        base, _, item = name.partition("_") if name not in defs else (name, "", "")
        title = defs[base].title if base in defs else name
        es = e.get("effect_size") or {}
        shares = e.get("shares") or {}
        rows.append(
            {
                "instrument": name,
                "label": f"{title}: {item.replace('_', ' ')}" if item else title,
                "n_baseline": e.get("n_baseline"),
                "n_paired": e.get("n_paired"),
                "mean_before": e.get("mean_before"),
                "mean_after": e.get("mean_after"),
                "mean_change": e.get("mean_change"),
                "ci_low": e.get("ci_low"),
                "ci_high": e.get("ci_high"),
                "effect_size": es.get("estimate"),
                "effect_size_ci_low": es.get("ci_low"),
                "effect_size_ci_high": es.get("ci_high"),
                "mde": e.get("mde"),
                "share_improved": shares.get("improved"),
                "share_deteriorated": shares.get("deteriorated"),
            }
        )
    df = pd.DataFrame(rows)
    # Standardised change with "positive = better" for every measure.
    for e, i in zip(entries, range(len(df)), strict=True):
        if e.get("direction") == "lower" and df.at[i, "effect_size"] is not None:
            for c in ("effect_size", "effect_size_ci_low", "effect_size_ci_high"):
                df.at[i, c] = -df.at[i, c] if df.at[i, c] is not None else None
            lo, hi = df.at[i, "effect_size_ci_high"], df.at[i, "effect_size_ci_low"]
            df.at[i, "effect_size_ci_low"], df.at[i, "effect_size_ci_high"] = lo, hi
    return df.astype(
        {c: float for c in df.columns if c.startswith(("effect", "mean", "ci", "share", "mde"))}
    )


_COUNT_IN_TEXT = re.compile(
    r"\b\d+ of \d+\b|\bamong the \d+\b|\bOnly \d+\b|\b\d+ unit|\b\d+ matched"
)


def safe_notes(notes: list[str] | tuple[str, ...]) -> list[str]:
    """Notes that quote no count of people (a note that does is left out of the report).

    Examples
    --------
    >>> safe_notes(["67 of 94 participants matched", "Costs in 2023/24 prices"])
    ['Costs in 2023/24 prices']
    """
    return [n for n in notes if not PEOPLE_PHRASE.search(n) and not _COUNT_IN_TEXT.search(n)]


def strip_notes(obj: Any) -> Any:
    """A result dict without its free-text notes (they may quote raw counts)."""
    if isinstance(obj, dict):
        return {k: strip_notes(v) for k, v in obj.items() if k != "notes"}
    if isinstance(obj, list):
        return [strip_notes(v) for v in obj]
    return obj


def referrals_by(trends: Any, rule: DisclosureRule, freq: str, by_source: bool) -> pd.DataFrame:
    """Referrals per period (``"Q"`` or ``"Y"``), by source or in total, disclosure-controlled."""
    t = trends.tidy("referrals")
    period = pd.PeriodIndex(pd.to_datetime(t["month"]), freq=freq).astype(str)
    keys = ["period", "referral_source"] if by_source else ["period"]
    out = t.assign(period=period).groupby(keys, as_index=False, sort=True)["n"].sum()
    if not by_source:
        out["referral_source"] = "all sources"
    return pd.DataFrame(control_entries(out.to_dict(orient="records"), rule))


def view_table(name: str, tables: dict[str, pd.DataFrame]) -> Html:
    """One of the report's controlled tables (:data:`TABLE_VIEWS`) as an accessible HTML table."""
    spec = TABLE_VIEWS[name]
    df = tables[spec["source"]]
    if spec.get("filter"):
        df = spec["filter"](df)
    cols = [c for c in spec["columns"] if c in df]
    decls = declared.table_declarations(spec["source"]) or {}
    kinds = {c: d.kind for c in cols if (d := declared.lookup(decls, c)) is not None}
    kinds |= spec.get("kinds", {})
    return html_table(
        df[cols],
        kinds=kinds,
        caption=spec["caption"],
        counts=tuple(c for c in cols if c in spec.get("counts", ())),
        digits=spec.get("digits", 2),
        labels=spec.get("labels"),
        name=name,
        analysis=qualified_name(spec["analysis"]),
        note=spec.get("note", ""),
    )


def published_negative_controls(
    result: Any, rule: DisclosureRule, share: float | None
) -> list[dict[str, Any]]:
    """results.json ``negative_controls``: the entries controlled and rounded, with a sentence.

    The same control as the utilisation entries (counts 1-7 suppressed with the estimates
    resting on them, the rest rounded; the censored share from the published counts); the
    sentence is written from the controlled entry, so it never quotes a suppressed figure.
    """
    raw = [with_published_share(e, share) for e in result.entries()]
    published = round_floats(control_entries(raw, rule))
    return [{**e, "sentence": nar.negative_control_sentence(e)} for e in published]


def negative_control_table(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """The negative-control table: one row per setting, window and scale, labelled for people."""
    table = pd.DataFrame(entries)
    if table.empty:
        return table
    table.insert(0, "outcome", [nar.setting_label(s, capital=True) for s in table["setting"]])
    if "note" not in table:
        table["note"] = None
    return table
