"""Reports for programmes of every size: what is shown when there are few participants.

A programme with no participants, or a handful, still gets a report, and the report says in
words why it shows less ("too few to say") instead of failing:

- no participants in the period: a one-page report saying so (:data:`NONE`);
- 1 to ``MIN_FOR_ESTIMATES - 1``: reach and pathway only, as disclosure control allows, and a
  line saying why nothing else is shown (:data:`REACH_AND_PATHWAY`);
- ``MIN_FOR_ESTIMATES`` or more: the full report; a model estimate whose own participants (or
  matched controls, where there are controls) are fewer than ``MIN_FOR_ESTIMATES`` is not
  published and the section says so.

The threshold follows ACRO's rule for model estimates (docs/decisions/small-programmes.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

#: Fewest participants (and, where there are controls, matched controls) a model estimate is
#: published with: ACRO's minimum for a regression (docs/decisions/small-programmes.md).
MIN_FOR_ESTIMATES = 10

Scope = Literal["none", "reach_and_pathway", "full"]
NONE: Scope = "none"
REACH_AND_PATHWAY: Scope = "reach_and_pathway"
FULL: Scope = "full"

#: The sections a report of each scope runs (the others say why they are not shown).
SCOPE_SECTIONS: dict[Scope, frozenset[str]] = {
    NONE: frozenset(),
    REACH_AND_PATHWAY: frozenset({"reach", "pathway", "referral_trends"}),
}

#: Sections that estimate from the matched comparison (not run with too few matched people).
MATCHED_SECTIONS = frozenset(
    {"utilisation", "event_studies", "sensitivity", "outcomes_by_deprivation", "economics"}
)

#: The section that makes each table (by its source name) and figure (by its name's start).
SECTION_OF: dict[str, str] = {
    "reach": "reach",
    "pathway": "pathway",
    "referral": "referral_trends",
    "waiting_times": "referral_trends",
    "matching": "matched_cohort",
    "balance": "matched_cohort",
    "overlap": "matched_cohort",
    "love_plot": "matched_cohort",
    "censoring": "matched_cohort",
    "window_coverage": "matched_cohort",
    "utilisation": "utilisation",
    "compare_": "utilisation",
    "negative_controls": "utilisation",
    "mde": "utilisation",
    "event_study": "event_studies",
    "sensitivity": "sensitivity",
    "honest_did": "sensitivity",
    "wellbeing": "wellbeing",
    "outcomes_by_deprivation": "outcomes_by_deprivation",
    "cost_by_setting": "economics",
    "unit_costs": "economics",
}

#: What a wellbeing entry says when too few people answered both questionnaires.
TOO_FEW_PAIRED = "too few participants with both questionnaires to estimate this"


def scope_for(n_participants: int) -> Scope:
    """What a report of ``n_participants`` shows.

    Examples
    --------
    >>> [scope_for(n) for n in (0, 1, 9, 10)]
    ['none', 'reach_and_pathway', 'reach_and_pathway', 'full']
    """
    if n_participants < 0:
        raise ValueError(f"n_participants must be 0 or more, got {n_participants}")
    if n_participants == 0:
        return NONE
    return REACH_AND_PATHWAY if n_participants < MIN_FOR_ESTIMATES else FULL


def section_of(name: str) -> str | None:
    """The report section that makes table or figure ``name`` (None if not known).

    Examples
    --------
    >>> section_of("compare_gp_appointment"), section_of("pathway_imd_quintile")
    ('utilisation', 'pathway')
    """
    for start, section in SECTION_OF.items():
        if name.startswith(start):
            return section
    return None


def scope_reason(scope: Scope, title: str) -> str:
    """Why a report of ``scope`` shows what it shows, in one or two sentences."""
    if scope == NONE:
        return (
            f"No one was referred to {title} and eligible at referral in the period of the "
            "data, so there is nothing to report: no reach, pathway, healthcare-use, wellbeing "
            "or cost figures."
        )
    if scope == REACH_AND_PATHWAY:
        return (
            f"Fewer than {MIN_FOR_ESTIMATES} people took part, too few to estimate any change "
            f"(a model estimate is published only with at least {MIN_FOR_ESTIMATES} "
            f"participants, and {MIN_FOR_ESTIMATES} controls where there are controls), so "
            "this report shows only who was referred and where they left the pathway, as "
            "disclosure control allows; healthcare use, wellbeing, outcomes by deprivation "
            "and costs are not shown."
        )
    return ""


def too_few_matched() -> str:
    """Why the matched comparison's sections are not shown (too few matched people)."""
    return (
        f"Not shown: too few participants matched to controls to estimate this (a model "
        f"estimate is published only with at least {MIN_FOR_ESTIMATES} matched participants "
        f"and {MIN_FOR_ESTIMATES} matched controls)."
    )


def enough_matched(n_matched: int, n_controls: float) -> bool:
    """Whether the matched comparison has enough people for a model estimate.

    Examples
    --------
    >>> enough_matched(10, 10.0), enough_matched(12, 9.0), enough_matched(9, 30.0)
    (True, False, False)
    """
    return n_matched >= MIN_FOR_ESTIMATES and n_controls >= MIN_FOR_ESTIMATES


def without_small_estimates(
    entries: list[dict[str, Any]],
    n_key: str,
    dependents: tuple[str, ...],
    note: str,
    n_parameters: int = 1,
) -> list[dict[str, Any]]:
    """Entries with too few people for an estimate: estimates blanked, a note.

    An estimate needs :data:`MIN_FOR_ESTIMATES` people (``n_key``) and as many residual
    degrees of freedom (``n - n_parameters``; a paired mean change has one parameter), ACRO's
    two thresholds. The count itself stays (disclosure control treats it as any other count);
    the statistics resting on it (``dependents``) become None, and ``note`` says why. Other
    entries are returned as they are.

    Examples
    --------
    >>> without_small_estimates([{"n": 10, "mean": 1.5}], "n", ("mean",), "too few")
    [{'n': 10, 'mean': None, 'note': 'too few'}]
    >>> without_small_estimates([{"n": 11, "mean": 1.5}], "n", ("mean",), "too few")
    [{'n': 11, 'mean': 1.5}]
    """
    out = []
    for e in entries:
        n = e.get(n_key)
        if n is not None and (n < MIN_FOR_ESTIMATES or n - n_parameters < MIN_FOR_ESTIMATES):
            e = {**e, **{k: None for k in dependents if k in e}, "note": note}
        out.append(e)
    return out


def methods_entry(scope: Scope, reason: str) -> dict[str, Any]:
    """results.json ``methods.small_programme``: what was shown and why (reports under full)."""
    return {"scope": scope, "min_for_estimates": MIN_FOR_ESTIMATES, "reason": reason}


def section_notice(scope: Scope) -> str:
    """The line a section of a small report shows in place of its tables and figures."""
    if scope == NONE:
        return "Not shown: no participants in the period of the data."
    return (
        f"Not shown: fewer than {MIN_FOR_ESTIMATES} participants, too few to estimate this "
        "(see the summary)."
    )


def participant_count(study: Any) -> int:
    """The programme's participants: first referrals in the period, eligible at referral.

    0 when no one was referred, or no one referred was eligible at referral (the cohort layer
    refuses to build a cohort of no one; this says it in a number instead).
    """
    from evalkit.analysis.utilisation import cohort_for
    from evalkit.cohort.tables import CohortError

    if study.index_episodes.empty:
        return 0
    try:
        return int(cohort_for(study).n_participants)
    except CohortError as err:
        # build_cohort's two "no one" refusals; any other CohortError is a real problem.
        if "eligible at index" in str(err) or "no referrals to programme" in str(err):
            return 0
        raise


def placeholder_parts(
    scope: Scope,
    n_participants: int | None,
    *,
    setting: str,
    window_months: int,
    instrument: str | None,
    reason: str,
) -> dict[str, Any]:
    """results.json parts of the sections that did not run, empty but valid against the schema.

    ``n_participants`` is the controlled count. Used under the parts that did run, so a part
    that exists is never replaced.
    """
    return {
        "matching": {
            "n_participants": n_participants,
            "n_matched": 0 if scope == NONE else None,
            "n_controls": 0 if scope == NONE else None,
            "note": reason,
        },
        "censoring": {},
        "window_coverage": [],
        "negative_controls": [],
        "event_study": {},
        "pretrend": {},
        "sensitivity": [],
        "honest_did": {
            "setting": setting,
            "window_months": window_months,
            "estimable": False,
            "reason": reason,
        },
        "reach": [],
        "pathway": [],
        "outcomes_by_deprivation": {
            "by": "imd_quintile",
            "window_months": window_months,
            "instrument": instrument,
            "entries": [],
            "heterogeneity": {},
            "spec": {},
        },
        "waiting_times": [],
        "economics": None,
    }


@dataclass(frozen=True)
class SmallParts:
    """What a report with sections not run adds: placeholder parts, methods entry, tables."""

    parts: dict[str, Any] = field(default_factory=dict)
    methods: dict[str, Any] = field(default_factory=dict)
    multiplicity: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def reason_for(scope: Scope, title: str) -> str:
    """Why a report shows less than a full one: its scope's reason, else too few matched."""
    if scope != FULL:
        return scope_reason(scope, title)
    return (
        "Too few participants were matched to controls to estimate any change in healthcare "
        f"use or its cost (a model estimate is published only with at least {MIN_FOR_ESTIMATES} "
        f"matched participants and {MIN_FOR_ESTIMATES} matched controls); who was referred, "
        "the pathway, matching and wellbeing are shown."
    )


def small_parts(
    scope: Scope,
    any_not_shown: bool,
    n_participants: int | None,
    *,
    title: str,
    setting: str,
    window_months: int,
    instrument: str | None,
) -> SmallParts:
    """results.json additions of a report with sections not run (nothing when all ran).

    ``n_participants`` is the controlled count. The ``matching`` table (CSV) is written in
    every report, so a report of no one still has a table for ``evalkit check`` to scan.
    """
    if not any_not_shown:
        return SmallParts()
    reason = reason_for(scope, title)
    parts = placeholder_parts(
        scope,
        n_participants,
        setting=setting,
        window_months=window_months,
        instrument=instrument,
        reason=reason,
    )
    matching = {k: v for k, v in parts["matching"].items() if k != "note"}
    return SmallParts(
        parts=parts,
        methods={"small_programme": methods_entry(scope, reason)},
        multiplicity={
            "method": "holm",
            "scale": "rate_ratio",
            "window_months": window_months,
            "family": [],
            "notes": [reason],
        },
        tables={"matching": pd.DataFrame([matching])},
    )


def built_scope(folder: Path) -> tuple[str, str]:
    """The scope of a built report and why (``methods.small_programme``; full if none)."""
    try:
        results = json.loads((Path(folder) / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return FULL, ""
    small = (results.get("methods") or {}).get("small_programme") or {}
    return str(small.get("scope", FULL)), str(small.get("reason", ""))
