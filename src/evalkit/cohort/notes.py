"""The cohort's notes on its risk set: what the candidate rows are and what the extract holds."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from evalkit.cohort.design import Design
from evalkit.cohort.tables import Tables
from evalkit.config import Programme
from evalkit.contract import CONDITIONS

__all__ = ["candidate_notes", "negative_control_notes"]


def candidate_notes(
    tables: Tables,
    programme: Programme,
    candidates: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    inferred: bool,
    design: Design,
) -> list[str]:
    """Notes on the candidate rows, the event months, the extract and missing conditions."""
    c = candidates[candidates["referred"] == 0]
    unit = "index_month" if design.risk_set == "month" else "index_week"
    per_month = candidates.groupby(unit, observed=True)["referred"].agg(["sum", "size"])
    empty = per_month.index[(per_month["size"] - per_month["sum"]) == 0].astype(str).tolist()
    later = int(c["own_referral_date"].notna().sum())
    if design.risk_set == "month":
        rule = (
            f"over {len(per_month)} index months; a candidate's index date is the 1st of the "
            "month, and people referred to the programme before the end of that month are not "
            "candidates (a person is a control before their own referral, never after)."
        )
    else:
        rule = (
            f"over {len(per_month)} index weeks; a candidate's index date is the Monday of an "
            "ISO week holding a participant's referral, and people referred to the programme on or "
            "before that Monday are not candidates; people referred later (that week or "
            "after) stay candidates, with their own referral date kept for censoring only."
        )
    if design.exclude_index_day:
        months_rule = (
            "Event months: month -1 ends on the index date, month 0 starts the day after; the "
            "index day's own contacts (the consultation that makes a referral) are left out of "
            "month -1 and of the prior-use windows, which are (index - 12 months, index) and "
            "(index - 3 months, index), for participants and controls alike."
        )
    elif design.event_months == "day_after":
        months_rule = (
            "Event months: the index day ends month -1 (contacts on it are baseline), month 0 "
            "starts the day after; prior-use windows are (index - 12 months, index] and (index "
            "- 3 months, index]."
        )
    else:
        months_rule = (
            "Event months: month 0 starts on the index date; prior-use windows are [index - "
            "12 months, index) and [index - 3 months, index)."
        )
    notes = [
        f"Risk set: {len(c)} candidate control rows ({c['person_id'].nunique()} people) {rule}",
        f"{later} candidate rows belong to people referred to the programme after the row's "
        "index date (own_referral_date; used for censoring, never for choosing).",
        months_rule,
        f"Activity extract {start} to {end}"
        + (" (first and last event date in the activity table)" if inferred else " (given)")
        + "; person-time outside it is not at risk.",
    ]
    missing = [x for x in CONDITIONS if x not in tables.population.columns]
    if missing:
        notes.append(f"Conditions not in the extract, recorded as 0: {', '.join(missing)}.")
    if empty:
        what = "months" if design.risk_set == "month" else "weeks"
        notes.append(f"Index {what} with no candidate controls: {', '.join(empty)}.")
    return notes


def negative_control_notes(present: list[str], absent: list[str]) -> list[str]:
    """Notes on the negative-control settings: counted in the panels, or not in the data.

    Examples
    --------
    >>> negative_control_notes([], ["elective_admission"])  # doctest: +NORMALIZE_WHITESPACE
    ['Negative control elective_admission: not in the data (the activity extract has no row
    of this setting), so it is not analysed.']
    """
    notes = []
    if present:
        notes.append(
            f"Negative-control setting(s) {', '.join(present)}: counted in the panels with the "
            "same event-month rules as the outcomes; not matched on and not costed (total_cost "
            "sums the outcome settings only)."
        )
    notes += [
        f"Negative control {s}: not in the data (the activity extract has no row of this "
        "setting), so it is not analysed."
        for s in absent
    ]
    return notes
