"""Short history and short follow-up: who has complete 24-month and 12-month windows.

Real extracts hold participants with less than 24 months of history before their index date
or less than 12 months of follow-up after it (registered late, deregistered, died, or the data
ends). They stay in the cohort: months outside the data have exposure 0 in the panel
(docs/design/methods.md, "Short history or follow-up"). This module flags them so that the
cohort and the report can count them and a sensitivity analysis can restrict to complete
windows.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from evalkit.cohort.tables import Tables, to_date_series
from evalkit.dates import event_month_start_days

__all__ = [
    "FOLLOWUP_MONTHS",
    "HISTORY_MONTHS",
    "WINDOW_FLAGS",
    "coverage_note",
    "coverage_table",
    "window_flags",
]

#: Months of history (event months -24 .. -1) and follow-up (0 .. 11) a complete window has.
HISTORY_MONTHS, FOLLOWUP_MONTHS = 24, 12
#: Participant columns added by :func:`window_flags`.
WINDOW_FLAGS: tuple[str, ...] = ("full_history_24m", "full_followup_12m")


def window_flags(
    tables: Tables,
    participants: pd.DataFrame,
    data_start: dt.date,
    data_end: dt.date,
    convention: str,
) -> pd.DataFrame:
    """Add ``full_history_24m`` and ``full_followup_12m`` (bool) to the participants.

    Full history: observed (registered and inside the extract) from the first day of event
    month -24. Full follow-up: registered, alive and inside the extract through the last day
    of event month 11. Event months follow ``convention`` (:func:`evalkit.dates.event_month_start`).
    """
    out = participants.drop(columns=list(WINDOW_FLAGS), errors="ignore")
    if out.empty:
        return out.assign(**{c: pd.Series(dtype=bool) for c in WINDOW_FLAGS})
    pop = tables.population
    ids = ibis.memtable(pd.DataFrame({"person_id": out["person_id"].astype(str).unique()}))
    j = pop.semi_join(ids, "person_id")
    res = tables.fetch(
        j.select("person_id", "registered_from", "registered_to", "date_of_death")
    ).set_index("person_id")
    start = pd.Timestamp(data_start).to_datetime64().astype("datetime64[D]").astype(np.int64)
    end = pd.Timestamp(data_end).to_datetime64().astype("datetime64[D]").astype(np.int64)
    never = np.iinfo(np.int64).max

    def days(col: str, fill: int) -> np.ndarray:
        s = to_date_series(res[col].reindex(out["person_id"]))
        d = s.to_numpy(dtype="datetime64[D]")
        v = d.astype(np.int64)
        return np.where(np.isnat(d), fill, v)

    first = np.maximum(days("registered_from", never), start)
    last = np.minimum.reduce(
        [days("registered_to", never), days("date_of_death", never), np.full(len(out), end)]
    )
    idx = out["index_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    hist_from = event_month_start_days(idx, -HISTORY_MONTHS, convention)
    follow_to = event_month_start_days(idx, FOLLOWUP_MONTHS, convention) - 1
    out["full_history_24m"] = first <= hist_from
    out["full_followup_12m"] = last >= follow_to
    return out


def coverage_table(participants: pd.DataFrame) -> pd.DataFrame:
    """Participants by window completeness: ``window``, ``complete``, ``incomplete``.

    Rows: ``history_24m``, ``followup_12m`` and ``both``.
    """
    h = participants["full_history_24m"].astype(bool)
    f = participants["full_followup_12m"].astype(bool)
    both = h & f
    return pd.DataFrame(
        {
            "window": ["history_24m", "followup_12m", "both"],
            "complete": [int(h.sum()), int(f.sum()), int(both.sum())],
            "incomplete": [int((~h).sum()), int((~f).sum()), int((~both).sum())],
        }
    )


def coverage_note(participants: pd.DataFrame) -> str:
    """One plain-English line on the participants with short history or follow-up."""
    t = coverage_table(participants).set_index("window")
    return (
        f"Short windows: {t.loc['history_24m', 'incomplete']} participant(s) have less than "
        f"{HISTORY_MONTHS} months of observed history before index and "
        f"{t.loc['followup_12m', 'incomplete']} less than {FOLLOWUP_MONTHS} months of "
        "follow-up after it; they stay in (months outside the data have exposure 0), and "
        "controls are treated the same way."
    )
