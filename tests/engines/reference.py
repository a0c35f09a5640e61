"""A plain-pandas reference for the cohort layer, for the engine tests.

Written from the rules as documented (``docs/design/data-contract.md``, "Time";
``docs/design/methods.md``, section 1; the docstrings of :func:`evalkit.cohort.build_cohort` and
:func:`evalkit.cohort.build_panel`), not from evalkit's Ibis or numpy code, and deliberately
naive: Python dates, loops over people and index dates, no vectorised tricks. Only the default
design is covered: weekly risk sets, event months from the day after the index date, the index
day's own contacts left out.

The rules, as this module reads them:

- ``date + k months`` keeps the day, clamped to the target month's length.
- A participant's index date is their first referral to the programme in the referral period
  (ties on a date: the lowest ``episode_id``, compared as bytes); they must be eligible on it.
- Eligible on a date ``d``: ``age_min <= year(d) - year_of_birth <= age_max + 1``; one of the
  required conditions diagnosed on or before ``d``; ``registered_from <= d``, ``registered_to``
  empty or ``>= d``; ``date_of_death`` empty or ``>= d``; and ``max(registered_from,
  data_start) <= d - history months`` (history = max(baseline months, 12)).
- Candidate rows: for the Monday ``W`` of each ISO week holding an (eligible) participant's
  index date, everyone eligible on ``W`` whose first referral to the programme (any date) is
  empty or after ``W``; that referral is ``own_referral_date``.
- Rows: the participants by (index date, person_id), then the candidates by (Monday,
  person_id); person ids compared as bytes.
- Prior-``w`` count of a row indexed on ``d``: its person's events with ``d - w months < date <
  d`` (both ends open: the index day is the referral's own).
- Event month ``m`` of an index date ``i`` runs from ``i + m months + 1 day`` to ``i + m + 1
  months`` inclusive; month -1 loses the index day. Exposure is the share of the month's days
  on which the person is registered (``registered_from`` .. ``registered_to``), alive (to the
  day of death) and inside the data period.
- A control's ``censor_month`` is the event month holding its own referral, 0 when that is on
  or before the index date it inherits, empty when it falls after the panel's last month.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.config import Programme, UnitCostTable
from evalkit.contract import CONDITIONS, ETHNICITY_GROUP

D = dt.date
ONE_DAY = dt.timedelta(days=1)
PRIOR_WINDOWS = (12, 3)
UNKNOWN_ETHNICITY = ("Z", "99")


# --------------------------------------------------------------------------- dates
def add_months(d: dt.date, k: int) -> dt.date:
    """Same day ``k`` calendar months later, clamped to the month's length."""
    year, month0 = divmod(d.year * 12 + d.month - 1 + k, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return D(year, month0 + 1, min(d.day, last))


def month_start(index: dt.date, m: int) -> dt.date:
    """First day of event month ``m``: the day after ``index + m`` months."""
    return add_months(index, m) + ONE_DAY


def event_month(index: dt.date, day: dt.date) -> int:
    """The event month holding ``day`` (by search, not by formula)."""
    m = (day.year - index.year) * 12 + day.month - index.month - 2
    while month_start(index, m + 1) <= day:
        m += 1
    while month_start(index, m) > day:
        m -= 1
    return m


def monday(d: dt.date) -> dt.date:
    """Monday of the ISO week holding ``d``."""
    return d - dt.timedelta(days=d.weekday())


def _date(v: object) -> dt.date | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, dt.datetime):
        return v.date()
    return v  # a datetime.date


def _bytes(s: str) -> bytes:
    return s.encode("utf-8")


# --------------------------------------------------------------------------- the tables
class Data:
    """The processed tables of a directory, as Python rows."""

    def __init__(self, data_dir: Path | str) -> None:
        data_dir = Path(data_dir)
        pop = pd.read_parquet(data_dir / "population.parquet")
        act = pd.read_parquet(data_dir / "activity.parquet")
        ref = pd.read_parquet(data_dir / "referrals.parquet")
        self.people = {r["person_id"]: r for r in _records(pop)}
        self.events = _records(act)
        self.referrals = _records(ref)

    def period(self) -> tuple[dt.date, dt.date]:
        """First and last event date (the default data period)."""
        days = [e["event_date"] for e in self.events]
        return min(days), max(days)


def _records(df: pd.DataFrame) -> list[dict]:
    out = []
    for r in df.to_dict("records"):
        out.append({k: (_date(v) if _is_date_col(k) else _plain(v)) for k, v in r.items()})
    return out


def _is_date_col(name: str) -> bool:
    return name.endswith(("_date", "_from", "_to", "_on")) or name in (
        "date_of_death",
        *CONDITIONS,
    )


def _plain(v: object) -> object:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v


# --------------------------------------------------------------------------- eligibility
REASONS = (
    "age_outside_range",
    "no_required_condition_by_index",
    "not_registered_at_index",
    "died_before_index",
    "short_registration_history",
)


def failed_rule(
    p: dict | None, d: dt.date, programme: Programme, data_start: dt.date, history: int
) -> str | None:
    """The first eligibility rule person ``p`` fails on ``d`` (None: eligible)."""
    if p is None:
        return "not_in_population"
    e = programme.eligibility
    age = d.year - p["year_of_birth"]
    conds = [p.get(c) for c in e.conditions_any]
    fails = {
        "age_outside_range": not (e.age_min <= age <= e.age_max + 1),
        "no_required_condition_by_index": not any(c is not None and c <= d for c in conds),
        "not_registered_at_index": not (
            p["registered_from"] <= d and (p["registered_to"] is None or p["registered_to"] >= d)
        ),
        "died_before_index": p["date_of_death"] is not None and p["date_of_death"] < d,
        "short_registration_history": max(p["registered_from"], data_start)
        > add_months(d, -history),
    }
    return next((r for r in REASONS if fails[r]), None)


def history_months(programme: Programme) -> int:
    return max(programme.outcomes.baseline_months, PRIOR_WINDOWS[0])


# --------------------------------------------------------------------------- the cohort
def participants(
    data: Data,
    programme: Programme,
    data_start: dt.date,
    referral_period: tuple[dt.date | None, dt.date | None] = (None, None),
) -> pd.DataFrame:
    """First referral per person in the period, with ``reason`` (None: a participant)."""
    lo, hi = referral_period
    refs = [
        r
        for r in data.referrals
        if r["programme"] == programme.slug
        and (lo is None or r["referral_date"] >= lo)
        and (hi is None or r["referral_date"] <= hi)
    ]
    by_person: dict[str, list[dict]] = {}
    for r in refs:
        by_person.setdefault(r["person_id"], []).append(r)
    rows = []
    history = history_months(programme)
    for pid, rs in by_person.items():
        first = min(rs, key=lambda r: (r["referral_date"], _bytes(r["episode_id"])))
        d = first["referral_date"]
        rows.append(
            {
                "person_id": pid,
                "episode_id": first["episode_id"],
                "index_date": d,
                "n_referrals": len(rs),
                "reason": failed_rule(data.people.get(pid), d, programme, data_start, history),
            }
        )
    rows.sort(key=lambda r: (r["index_date"], _bytes(r["person_id"])))
    cols = ["person_id", "episode_id", "index_date", "n_referrals", "reason"]
    return pd.DataFrame(rows, columns=cols)


def first_referral(data: Data, programme: Programme) -> dict[str, dt.date]:
    """Each referred person's first referral to the programme, at any date."""
    out: dict[str, dt.date] = {}
    for r in data.referrals:
        if r["programme"] == programme.slug:
            pid, d = r["person_id"], r["referral_date"]
            out[pid] = min(d, out.get(pid, d))
    return out


def candidates(
    data: Data,
    programme: Programme,
    *,
    data_period: tuple[dt.date, dt.date] | None = None,
    referral_period: tuple[dt.date | None, dt.date | None] = (None, None),
) -> pd.DataFrame:
    """The stacked rows: participants then candidate controls, with covariates at index."""
    start, _ = data_period or data.period()
    history = history_months(programme)
    parts = participants(data, programme, start, referral_period)
    parts = parts[parts["reason"].isna()]
    blocks = first_referral(data, programme)
    rows = [
        {"person_id": r.person_id, "index_date": r.index_date, "referred": 1, "own": None}
        for r in parts.itertuples()
    ]
    people = sorted(data.people, key=_bytes)
    for w in sorted({monday(d) for d in parts["index_date"]}):
        for pid in people:
            if failed_rule(data.people[pid], w, programme, start, history) is not None:
                continue
            block = blocks.get(pid)
            if block is None or block > w:
                rows.append({"person_id": pid, "index_date": w, "referred": 0, "own": block})
    settings = list(programme.outcomes.settings)
    out = [_covariates(data, r, settings) for r in rows]
    df = pd.DataFrame(out)
    df.insert(0, "row_id", np.arange(len(df)))
    return df


def _covariates(data: Data, row: dict, settings: Sequence[str]) -> dict:
    p = data.people[row["person_id"]]
    d = row["index_date"]
    eth = p["ethnicity"]
    out = {
        "person_id": row["person_id"],
        "index_date": d,
        "index_month": d.strftime("%Y-%m"),
        "index_week": monday(d).isoformat(),
        "referred": row["referred"],
        "own_referral_date": row["own"],
        "age": d.year - p["year_of_birth"],
        "sex": p["sex"],
        "imd_decile": p["imd_decile"],
        "imd_quintile": (p["imd_decile"] + 1) // 2,
        "ethnicity_group": (
            "Unknown"
            if eth is None or eth in UNKNOWN_ETHNICITY or eth not in ETHNICITY_GROUP
            else ETHNICITY_GROUP[eth]
        ),
    }
    flags = {f"cond_{c}": int(p.get(c) is not None and p[c] <= d) for c in CONDITIONS}
    out.update(flags)
    out["n_conditions"] = sum(flags.values())
    mine = [e for e in data.events if e["person_id"] == row["person_id"]]
    for w in PRIOR_WINDOWS:
        lo = add_months(d, -w)
        for s in settings:
            out[f"prior{w}_{s}"] = sum(
                1 for e in mine if e["setting"] == s and lo < e["event_date"] < d
            )
    return out


# --------------------------------------------------------------------------- the panel
def panel_settings(data: Data, programme: Programme) -> list[str]:
    """Outcome settings, then the negative controls the activity table holds at all."""
    held = {e["setting"] for e in data.events}
    negative = [s for s in programme.outcomes.negative_controls if s in held]
    return [*programme.outcomes.settings, *negative]


def panel(
    data: Data,
    programme: Programme,
    unit_costs: UnitCostTable,
    cands: pd.DataFrame,
    matched: pd.DataFrame,
    *,
    data_period: tuple[dt.date, dt.date] | None = None,
    months: tuple[int, int] = (-24, 11),
) -> pd.DataFrame:
    """Rows per (matched row, event month): counts, cost, exposure, censor month."""
    start, end = data_period or data.period()
    settings = panel_settings(data, programme)
    costed = list(programme.outcomes.settings)
    lo, hi = months
    by_row = cands.set_index("row_id")
    set_date = {
        int(m.subclass): _date(by_row.loc[int(m.row_id), "index_date"])
        for m in matched.itertuples()
        if m.referred == 1 and not pd.isna(m.subclass)
    }
    rows = []
    for m in sorted(matched.itertuples(), key=lambda m: int(m.row_id)):
        c = by_row.loc[int(m.row_id)]
        sub = None if pd.isna(m.subclass) else int(m.subclass)
        idx = set_date[sub] if (m.referred == 0 and sub is not None) else _date(c["index_date"])
        own = None if m.referred == 1 else _date(c["own_referral_date"])
        censor = None
        if own is not None:
            k = max(event_month(idx, own), 0)
            censor = k if k <= hi else None
        p = data.people[c["person_id"]]
        mine = [e for e in data.events if e["person_id"] == c["person_id"]]
        for em in range(lo, hi + 1):
            a, b = month_start(idx, em), month_start(idx, em + 1)
            if em == -1:
                b = idx  # the index day is in no month
            counts = {
                s: sum(1 for e in mine if e["setting"] == s and a <= e["event_date"] < b)
                for s in settings
            }
            rows.append(
                {
                    "unit": int(m.row_id),
                    "person_id": c["person_id"],
                    "subclass": sub,
                    "referred": int(m.referred),
                    "weight": float(m.weight),
                    "index_date": idx,
                    "index_month": idx.strftime("%Y-%m"),
                    "index_week": monday(idx).isoformat(),
                    "censor_month": censor,
                    "event_month": em,
                    "post": int(em >= 0),
                    **counts,
                    "total_cost": sum(counts[s] * unit_costs.cost_of(s) for s in costed),
                    "exposure": _at_risk_days(p, a, b, start, end) / (b - a).days,
                }
            )
    return pd.DataFrame(rows).astype({"subclass": "Int64", "censor_month": "Int64"})


def _at_risk_days(p: dict, a: dt.date, b: dt.date, start: dt.date, end: dt.date) -> int:
    """Days of ``[a, b)`` registered, alive and inside ``[start, end]``."""
    first = max(p["registered_from"], start, a)
    last = min(x for x in (p["registered_to"], p["date_of_death"], end) if x is not None)
    last = min(last, b - ONE_DAY)
    return max((last - first).days + 1, 0)
