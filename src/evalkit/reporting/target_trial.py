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

import re
from typing import Any

import numpy as np
import pandas as pd

from evalkit.cohort.coverage import FOLLOWUP_MONTHS, HISTORY_MONTHS, coverage_table
from evalkit.reporting.disclosure import DEFAULT_RULE, DisclosureRule

__all__ = [
    "ESTIMAND_TEXT",
    "MAX_LOG_ODDS_SE",
    "MIN_CENSORED_FOR_MODEL",
    "censored_sentence",
    "censored_share",
    "censoring_model_table",
    "censoring_report",
    "censoring_summary",
    "censoring_weights_table",
    "covariate_words",
    "design_context",
    "estimand_context",
    "estimand_sentence",
    "panel_window_flags",
    "published_notes",
    "published_share",
    "share_phrase",
    "window_coverage",
    "window_coverage_table",
    "with_published_share",
]

#: The estimand of each design, in words a commissioner can quote (``design`` of the matched
#: cohort's spec). ``target_trial`` is the report's; ``legacy`` is the design before it.
ESTIMAND_TEXT: dict[str, str] = {
    "target_trial": (
        "People referred to the programme on a given date are compared with similar people who "
        "were eligible but not referred on that date; each referral date is treated as the start "
        "of its own small trial, and follow-up starts the day after it. Comparison people who "
        "were referred later are followed only until their own referral, with weights that "
        "correct for the people who leave the comparison group this way. The result answers: "
        "what difference does being referred now make, compared with not being referred now?"
    ),
    "legacy": (
        "People referred to the programme are compared with similar people who were not "
        "referred in the same calendar month, and comparison people are followed "
        "whether or not they were referred later (the comparison is with usual care, which may "
        "include a later referral)."
    ),
}
#: The fewest censored controls for the censoring model's coefficients and the weights'
#: distribution to be published (a model estimate rests on at least 10 events, after ACRO's
#: threshold of 10; docs/design/methods.md section 5).
MIN_CENSORED_FOR_MODEL = 10
#: Largest standard error of a censoring-model log-odds shown; above it the term is separated
#: (a group with almost no referrals) and its numbers mean nothing.
MAX_LOG_ODDS_SE = 10.0
#: Terms of the censoring model's baseline hazard (:func:`evalkit.stats.ipcw`'s time terms:
#: one indicator per month, or an intercept and a restricted cubic spline of time).
_BASELINE_HAZARD_TERM = r"intercept|time|time_rcs\d+|time\[.*\]"
#: Columns of the weights' distribution and of the model table when there is no censoring model.
_DISTRIBUTION = ("min", "p1", "p25", "median", "p75", "p99", "max", "mean")
MODEL_COLUMNS = (
    "model",
    "term",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "p_value",
    "note",
)


def estimand_sentence(design: str | None) -> str:
    """The estimand of ``design`` in plain English (the target trial's when it is not given).

    Examples
    --------
    >>> estimand_sentence("target_trial").startswith("People referred to the programme on a")
    True
    >>> estimand_sentence("legacy").endswith("include a later referral).")
    True
    """
    if design is not None and design not in ESTIMAND_TEXT:
        raise ValueError(f"unknown design {design!r}: one of {', '.join(ESTIMAND_TEXT)}")
    return ESTIMAND_TEXT[design or "target_trial"]


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
    nothing a reader can use). A term whose standard error exceeds :data:`MAX_LOG_ODDS_SE` is a
    group with (almost) no referrals among the controls, whose log-odds run off towards minus
    infinity (separation): its numbers are blanked and its ``note`` says so, rather than print a
    meaningless -19 with a CI of thousands. Not published below :data:`MIN_CENSORED_FOR_MODEL`
    censored controls.
    """
    keep = ~coefficients["term"].astype(str).str.fullmatch(_BASELINE_HAZARD_TERM)
    out = coefficients.loc[keep].reset_index(drop=True)
    if n_censored < MIN_CENSORED_FOR_MODEL:
        return out.iloc[0:0].assign(note=pd.Series(dtype=object))
    separated = out["std_error"].astype(float) > MAX_LOG_ODDS_SE
    numbers = ["estimate", "std_error", "ci_low", "ci_high", "p_value"]
    out.loc[separated, numbers] = float("nan")
    out["note"] = np.where(separated, "not estimable: (almost) no referrals in this group", "")
    return out


def censored_sentence(design: str, share: float | None) -> str:
    """The report's share of matched controls censored, in words (empty for the legacy design).

    ``share`` is the published share (:func:`published_share`); None when its count is
    suppressed.

    Examples
    --------
    >>> censored_sentence("target_trial", 0.0447761)  # doctest: +NORMALIZE_WHITESPACE
    'About 4.5% of the matched comparison people were referred to the programme later and
    were followed only until their own referral.'
    >>> censored_sentence("legacy", 0.05)
    ''
    """
    if design != "target_trial":
        return ""
    if share is None:
        return (
            "Very few of the matched comparison people were referred to the programme later "
            "(too few to show how many); they were followed only until their own referral."
        )
    if share == 0:
        return "None of the matched comparison people was referred to the programme later."
    return (
        f"About {share_phrase(share)} of the matched comparison people were referred to the "
        "programme later and were followed only until their own referral."
    )


def censoring_report(
    mc: Any, rule: DisclosureRule = DEFAULT_RULE
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The censoring part of ``results.json`` and its tables, disclosure-controlled.

    ``mc`` is a :class:`~evalkit.analysis.utilisation.MatchedCohort`: its ``design``,
    ``estimand``, ``censor_counts`` (matched control units and those censored) and
    ``censoring`` (the :class:`~evalkit.stats.censoring.IpcwResult`, None for the legacy
    design). Returns the part (design, estimand in its short form and in plain English, the
    :func:`censoring_summary` row, the weights' distribution, the censoring model's covariate
    terms and its spec) and the tables ``censoring``, ``censoring_weights`` and
    ``censoring_model``.
    """
    counts = dict(getattr(mc, "censor_counts", {}) or {})
    n_controls = int(counts.get("n_controls", mc.n_controls))
    n_censored = int(counts.get("n_censored", 0))
    res = getattr(mc, "censoring", None)
    summary = censoring_summary(
        n_controls,
        n_censored,
        res.truncation if res is not None else None,
        n_at_risk=res.n_units if res is not None else None,
        rule=rule,
    )
    if res is not None:
        weights = censoring_weights_table(res.distribution_table(), n_censored)
        model = censoring_model_table(res.tidy(), n_censored)
        spec = {k: v for k, v in res.spec.items() if k not in ("unit", "time", "censored")}
    else:
        weights = pd.DataFrame(columns=["weights", *_DISTRIBUTION])
        model = pd.DataFrame(columns=MODEL_COLUMNS)
        spec = {}
    design = str(getattr(mc, "design", "legacy"))
    part = {
        "design": design,
        "estimand": str(getattr(mc, "estimand", "")),
        "estimand_text": estimand_sentence(design),
        **summary,
        "weights": weights.to_dict(orient="records"),
        "model": model.to_dict(orient="records"),
        "model_spec": spec,
    }
    tables = {
        "censoring": pd.DataFrame([summary], dtype=object),
        "censoring_weights": weights,
        "censoring_model": model,
    }
    return part, tables


def censored_share(results: dict[str, Any]) -> str:
    """The share of matched controls censored for the comparison page ("11%", or why not).

    Examples
    --------
    >>> censored_share({"censoring": {"design": "target_trial", "share_censored": 0.1075}})
    '11%'
    >>> censored_share({"censoring": {"design": "legacy", "share_censored": 0.0}})
    'not censored (earlier design)'
    >>> censored_share({})
    '–'
    """
    part = results.get("censoring")
    if not part:
        return "–"
    if part.get("design") != "target_trial":
        return "not censored (earlier design)"
    return share_phrase(part.get("share_censored"))


def with_published_share(entry: dict[str, Any], share: float | None) -> dict[str, Any]:
    """A ``utilisation`` entry whose ``controls_censored_share`` is the published one.

    The analysis computes the share from the raw counts; beside the rounded ``n_controls`` it
    would give the exact count censored away, so every ``matched_did`` entry carries the share
    from the published counts instead (:func:`censoring_summary`), and an entry without
    controls (the naive figure) carries None.

    Examples
    --------
    >>> with_published_share({"method": "matched_did", "controls_censored_share": 0.0468594},
    ...                      0.0447761)["controls_censored_share"]
    0.0447761
    """
    if "controls_censored_share" not in entry and entry.get("method") != "matched_did":
        return entry
    out = dict(entry)
    out["controls_censored_share"] = share if entry.get("method") == "matched_did" else None
    return out


def estimand_context(results: dict[str, Any]) -> dict[str, str]:
    """The estimand paragraph's words (``estimand.html.j2``) from the results' censoring part."""
    part = results.get("censoring") or {}
    design = part.get("design", "target_trial")
    return {
        "sentence": part.get("estimand_text") or estimand_sentence(design),
        "censored": censored_sentence(design, part.get("share_censored")),
    }


def covariate_words(covariates: list[str]) -> str:
    """The censoring model's covariates in words, grouped as a reader thinks of them.

    Examples
    --------
    >>> covariate_words(["age", "imd_decile", "cond_copd", "cond_asthma", "sex",
    ...                  "log1p_prior12_gp_appointment", "log1p_prior3_gp_appointment",
    ...                  "log1p_use_3m"])  # doctest: +NORMALIZE_WHITESPACE
    'age, IMD decile, sex, long-term conditions (COPD and asthma), use of each setting in the
    12 and 3 months before the index date (log of 1 + count) and use of all settings in the 3
    months before each month (log of 1 + count)'
    """
    acronyms = {"copd": "COPD", "chd": "CHD", "smi": "SMI"}
    conditions = [
        acronyms.get(c.removeprefix("cond_"), c.removeprefix("cond_"))
        for c in covariates
        if c.startswith("cond_")
    ]
    prior = sorted(
        {c.split("_")[1].removeprefix("prior") for c in covariates if c.startswith("log1p_prior")},
        key=lambda w: -int(w) if w.isdigit() else 0,
    )
    named = {"imd_decile": "IMD decile", "ethnicity_group": "ethnicity group"}
    out = [
        named.get(c, c.replace("_", " "))
        for c in covariates
        if not c.startswith(("cond_", "log1p_prior", "log1p_use_"))
    ]
    if conditions:
        out.append(f"long-term conditions ({_words(conditions)})")
    if prior:
        out.append(
            f"use of each setting in the {_words(prior)} months before the index date "
            "(log of 1 + count)"
        )
    for c in covariates:
        if c.startswith("log1p_use_"):
            months = c.removeprefix("log1p_use_").removesuffix("m")
            out.append(
                f"use of all settings in the {months} months before each month (log of 1 + count)"
            )
    return _words(out)


def _words(items: list[str]) -> str:
    names = [str(i).replace("_", " ") for i in items]
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def design_context(results: dict[str, Any]) -> dict[str, Any]:
    """The design appendix's words (``appendix_design.html.j2``), from what the analysis used.

    Everything comes from ``results.json``: the matching spec (``parameters.matching``) and the
    censoring part's model spec, so the appendix cannot say more than the code did.
    """
    part = results.get("censoring") or {}
    matching = (results.get("parameters") or {}).get("matching") or {}
    spec = part.get("model_spec") or {}
    context: dict[str, Any] = {
        **estimand_context(results),
        "estimand": part.get("estimand", ""),
        "exact": _words(list(matching.get("exact", []))) or "nothing",
        "ratio": matching.get("ratio", ""),
        "caliper": matching.get("caliper", ""),
        "available_until": bool(matching.get("available_until")),
        "model_spec": spec,
    }
    if spec:
        trunc = spec.get("truncate")
        numerator = spec.get("numerator") or []
        context.update(
            covariates=covariate_words(list(spec.get("covariates", []))),
            time_terms="one indicator per month"
            if spec.get("time_terms") == "indicators"
            else "a restricted cubic spline",
            truncation=(
                f"truncated at the {trunc[0]:.0%} and {trunc[1]:.0%} quantiles of the weights"
                if trunc
                else "not truncated"
            ),
        )
        if spec.get("stabilised") and numerator:
            context["stabilised_by"] = f"the month and {_words(numerator)}"
    return context


#: A share of matched controls quoted in a note ("11.5% of matched controls ...").
_SHARE_IN_NOTE = re.compile(r"\b\d+(?:\.\d+)?% of (the )?matched controls")


def share_phrase(share: float | None) -> str:
    """A published share of matched controls as a phrase ("4.5%", or "very few" when suppressed).

    Examples
    --------
    >>> share_phrase(0.0447761), share_phrase(0.25), share_phrase(None)
    ('4.5%', '25%', 'very few (too few to show)')
    """
    if share is None:
        return "very few (too few to show)"
    return f"{share:.1%}" if share < 0.1 else f"{share:.0%}"


def published_notes(rows: list[dict[str, Any]], share: float | None) -> list[dict[str, Any]]:
    """Sensitivity rows whose notes quote the share of controls censored as published.

    The analysis writes the share from the raw counts into the note of "controls not censored";
    beside the rounded count of matched controls that would give the exact number censored
    (or a suppressed one), so the published note quotes the share from the rounded counts.

    Examples
    --------
    >>> published_notes([{"note": "11.7% of matched controls were referred"}], 0.115)
    [{'note': '12% of matched controls were referred'}]
    """
    out = []
    for row in rows:
        note = row.get("note")
        if isinstance(note, str) and _SHARE_IN_NOTE.search(note):
            note = _SHARE_IN_NOTE.sub(f"{share_phrase(share)} of matched controls", note)
            row = {**row, "note": note}
        out.append(row)
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

    Columns ``group``, ``window``, ``n_complete``, ``n_incomplete``, ``share_incomplete`` (the
    published incomplete count over the published total of the row, so the share cannot undo
    the rounding) and ``suppressed`` (the row's suppressed fields, or None); a suppressed value
    is None (shown as ``*``).
    """
    rows = []
    cols = ["group", "window", "complete", "incomplete"]
    for group, window, complete, incomplete in coverage[cols].itertuples(index=False):
        row: dict[str, Any] = {
            "group": group,
            "window": window,
            "n_complete": rule.count(int(complete)),
            "n_incomplete": rule.count(int(incomplete)),
            "share_incomplete": published_share(
                int(incomplete), int(complete) + int(incomplete), rule
            ),
        }
        row["suppressed"] = [k for k, v in row.items() if v is None] or None
        rows.append(row)
    return pd.DataFrame(rows, dtype=object)
