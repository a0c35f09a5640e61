"""Participants and their index dates: first referrals, eligibility at index, exclusions.

A participant's index date is their first referral to the programme in the referral period
(later referrals are part of their exposure); they must be eligible on it
(:mod:`evalkit.cohort.eligibility`), else they are excluded with the first rule they fail. Every
referral, in the period or not, stops the person being a candidate control from its date on
(:func:`referral_blocks`).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from evalkit.cohort.eligibility import EXCLUSION_REASONS, eligibility_checks
from evalkit.cohort.tables import Tables, to_date_series
from evalkit.config import Programme

__all__ = [
    "attach_row_ids",
    "check_participants",
    "count_lacking_condition",
    "first_referrals",
    "observed_from",
    "participant_notes",
    "referral_blocks",
]


def first_referrals(
    tables: Tables, programme: Programme, period: tuple[dt.date | None, dt.date | None]
) -> pd.DataFrame:
    """First referral per person in the referral period (ties on a date: lowest episode_id).

    "Lowest" compares the ids as UTF-8 bytes on every engine (:meth:`Tables.byte_order`).
    """
    ref = tables.referrals
    r = ref.filter(ref.programme == programme.slug)
    lo, hi = period
    if lo is not None:
        r = r.filter(r.referral_date >= lo)
    if hi is not None:
        r = r.filter(r.referral_date <= hi)
    by_episode = [r.referral_date, tables.byte_order(r.episode_id)]  # episode ids as bytes
    by_person = ibis.window(group_by=r.person_id, order_by=by_episode)
    r = r.mutate(
        _rn=ibis.row_number().over(by_person),
        n_referrals=r.episode_id.count().over(ibis.window(group_by=r.person_id)),
    )
    first = r.filter(r._rn == 0).select(
        "person_id",
        "episode_id",
        index_date=r.referral_date,
        started=r.start_date.notnull(),
        completed=(r.discharge_reason == "completed").fill_null(False),
        n_referrals=r.n_referrals.cast("int32"),
    )
    out = tables.fetch(first)
    out["index_date"] = to_date_series(out["index_date"])
    return out


def check_participants(
    tables: Tables, first: pd.DataFrame, programme: Programme, start: dt.date, history: int
) -> pd.DataFrame:
    """Attach the first failing eligibility rule (``reason``; missing = eligible)."""
    pop = tables.population
    rows = ibis.memtable(first[["person_id", "index_date"]]).cast({"index_date": "date"})
    j = rows.left_join(pop, rows.person_id == pop.person_id)
    checks = eligibility_checks(
        j, j.index_date, programme, data_start=start, history_months=history
    )
    flags = j.select(
        person_id=j.person_id,
        not_in_population=j.person_id_right.isnull(),
        **{k: v.fill_null(False) for k, v in checks.items()},
    )
    res = tables.fetch(flags)
    res = first.merge(res, on="person_id", how="left", validate="one_to_one")
    reason = pd.Series(pd.NA, index=res.index, dtype="object")
    for r in EXCLUSION_REASONS:
        fails = res[r].astype(bool) if r == "not_in_population" else ~res[r].astype(bool)
        reason = reason.where(reason.notna() | ~fails, r)
    res["reason"] = reason
    res = res.drop(columns=list(EXCLUSION_REASONS))
    res["index_month"] = res["index_date"].dt.strftime("%Y-%m")
    cols = [
        "person_id",
        "episode_id",
        "index_date",
        "index_month",
        "started",
        "completed",
        "n_referrals",
        "reason",
    ]
    return res[cols].sort_values(["index_date", "person_id"], ignore_index=True)


def referral_blocks(
    tables: Tables, programme: Programme, extra: pd.DataFrame | None = None
) -> ir.Table | pd.DataFrame:
    """Per referred person, the first date from which they can no longer be a control."""
    ref = tables.referrals
    r = ref.filter(ref.programme == programme.slug).select("person_id", block_date="referral_date")
    if extra is not None and len(extra):
        # Small: bring the programme's referral blocks over and combine in pandas; the result
        # is uploaded as a table by the risk-set builder.
        base = tables.fetch(r)
        both = pd.concat([base, extra[["person_id", "block_date"]]], ignore_index=True)
        both["block_date"] = to_date_series(both["block_date"])
        return both.groupby("person_id", as_index=False)["block_date"].min()
    return r.group_by("person_id").aggregate(block_date=r.block_date.min())


def attach_row_ids(participants: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Give each participant the ``row_id`` of their row in ``candidates`` (second column)."""
    prow = candidates.loc[candidates["referred"] == 1, ["row_id", "person_id"]]
    out = participants.drop(columns=["row_id"], errors="ignore").merge(
        prow, on="person_id", how="left", validate="one_to_one"
    )
    cols = ["person_id", "row_id", *[c for c in out.columns if c not in ("person_id", "row_id")]]
    return out[cols].sort_values(["index_date", "person_id"], ignore_index=True)


def participant_notes(
    programme: Programme,
    first: pd.DataFrame,
    excluded: pd.DataFrame,
    history: int,
    period: tuple[dt.date | None, dt.date | None],
) -> list[str]:
    """Plain-English notes on the referred people, the eligibility rules and the exclusions."""
    e = programme.eligibility
    where = (
        "in the referral table"
        if period == (None, None)
        else f"between {period[0] or 'the start'} and {period[1] or 'the end'}"
    )
    notes = [
        f"{len(first)} people referred to {programme.slug} {where}; index date = first referral "
        f"(later referrals of the same person are part of their exposure); "
        f"{len(first) - len(excluded)} eligible at index.",
        f"Eligibility at index: age {e.age_min}-{e.age_max} (year of birth only: age = index "
        f"year - year of birth, eligible when {e.age_min} <= age <= {e.age_max + 1}, i.e. "
        f"possibly in range on the index date), any of {', '.join(e.conditions_any)} diagnosed "
        f"on or before index, registered and alive on the index date, with {history} months of "
        "observed registration before it.",
    ]
    if len(excluded):
        counts = excluded["reason"].value_counts()
        parts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items())
        notes.append(f"{len(excluded)} referred people excluded at index ({parts}).")
    return notes


def count_lacking_condition(candidates: pd.DataFrame, programme: Programme) -> int:
    """Participant rows with none of the programme's required conditions at their index."""
    p = candidates[candidates["referred"] == 1]
    cols = [f"cond_{c}" for c in programme.eligibility.conditions_any]
    return int((p[cols].sum(axis=1) == 0).sum())


def observed_from(tables: Tables, person_ids: pd.Series, start: dt.date) -> pd.Series:
    """First observed day per person: ``max(registered_from, start)``, indexed by person_id."""
    pop = tables.population
    ids = ibis.memtable(pd.DataFrame({"person_id": person_ids.unique()}))
    j = pop.semi_join(ids, "person_id")
    res = tables.fetch(
        j.select("person_id", f=ibis.greatest(j.registered_from, ibis.literal(start)))
    )
    return pd.Series(to_date_series(res["f"]).to_numpy(), index=res["person_id"])
