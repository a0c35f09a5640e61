"""Covariates of any (person, date) rows, measured exactly at those dates.

Matched controls inherit their participant's exact index date, which is not the date their
candidate row was indexed on (the Monday of the week, or the 1st of the month in the earlier
design). :func:`covariates_at` re-measures them at the inherited date (demographics at the
date, conditions diagnosed by it, prior use counted to the day), so that nothing dated after a
control's index date describes it (docs/design/methods.md, section 1). The cohort exposes it as
:meth:`evalkit.cohort.Cohort.covariates_at`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from evalkit.cohort.eligibility import (
    available_conditions,
    covariates_at_index,
    ethnicity_group_expr,
)
from evalkit.cohort.prior_utilisation import PRIOR_WINDOWS, prior_counts_days
from evalkit.cohort.tables import MAX_CANDIDATE_ROWS, CohortError, Tables, open_tables
from evalkit.contract import CONDITIONS, imd_quintile
from evalkit.dates import event_month_start_days

if TYPE_CHECKING:
    from evalkit.cohort.result import Cohort

__all__ = [
    "PeopleArrays",
    "covariates_at",
    "covariates_from_attributes",
    "fetch_events",
    "people_attributes",
]


def fetch_events(tables: Tables, ev: ir.Table, lo_day: int, hi_day: int) -> dict[str, np.ndarray]:
    """Events with ``lo_day <= day < hi_day`` as numpy arrays: ``pk``, ``day``, ``code``.

    ``ev`` has ``pk`` (integer person key), ``event_date`` and ``setting_code``; days are day
    numbers (days since 1970-01-01). Narrow types: int32, int32, int8.
    """
    lo = dt.date(1970, 1, 1) + dt.timedelta(days=int(lo_day))
    hi = dt.date(1970, 1, 1) + dt.timedelta(days=int(hi_day))
    sel = ev.filter(ev.event_date >= lo, ev.event_date < hi).select(
        pk=ev.pk.cast("int32"),
        day=ev.event_date.epoch_days().cast("int32"),
        code=ev.setting_code.cast("int8"),
    )
    df = tables.fetch(sel, limit=4 * MAX_CANDIDATE_ROWS)
    return {
        "pk": df["pk"].to_numpy(dtype=np.int32),
        "day": df["day"].to_numpy(dtype=np.int32),
        "code": df["code"].to_numpy(dtype=np.int8),
    }


@dataclass(frozen=True)
class PeopleArrays:
    """Per-person covariate ingredients as arrays indexed by the person key ``pk``.

    ``cond_day`` holds each available condition's diagnosis day number (a far-future sentinel
    when none); ``sex`` and ``ethnicity_group`` are codes into their ``*_categories``.
    """

    person_id: pd.Series
    year_of_birth: np.ndarray
    sex: np.ndarray
    sex_categories: pd.Index
    imd_decile: np.ndarray
    imd_quintile: np.ndarray
    ethnicity_group: np.ndarray
    ethnicity_categories: pd.Index
    cond_day: dict[str, np.ndarray]


#: Day number used for "never diagnosed".
_NEVER = np.iinfo(np.int64).max


def people_attributes(tables: Tables, pool: ir.Table, conditions: list[str]) -> PeopleArrays:
    """What the covariates at any date are made of, per person of the pool (by ``pk``).

    Year of birth, sex, IMD decile and quintile, ethnicity group (the expressions of
    :func:`~evalkit.cohort.eligibility.covariates_at_index`) and the diagnosis day of each
    available condition. Array position ``pk`` is the person with that key.
    """
    sel = pool.select(
        "pk",
        "person_id",
        year_of_birth=pool.year_of_birth.cast("int32"),
        sex=pool.sex,
        imd_decile=pool.imd_decile.cast("int8"),
        imd_quintile=imd_quintile(pool.imd_decile).cast("int8"),
        ethnicity_group=ethnicity_group_expr(pool.ethnicity),
        **{f"day_{c}": pool[c].epoch_days().cast("int32") for c in conditions},
    )
    df = tables.fetch(sel, limit=MAX_CANDIDATE_ROWS)
    pk = df["pk"].to_numpy(np.int64)
    n = int(pk.max(initial=0)) + 1
    pos = np.zeros(n, dtype=np.int64)
    pos[pk] = np.arange(len(df))
    d = df.take(pos).reset_index(drop=True)
    sex = d["sex"].astype("category")
    eth = d["ethnicity_group"].astype("category")

    def days(col: str) -> np.ndarray:
        v = pd.array(d[col], dtype="Int64")
        return np.asarray(v.fillna(_NEVER), dtype=np.int64)

    return PeopleArrays(
        person_id=d["person_id"],
        year_of_birth=d["year_of_birth"].to_numpy(np.int64),
        sex=sex.cat.codes.to_numpy(),
        sex_categories=sex.cat.categories,
        imd_decile=d["imd_decile"].to_numpy(np.int8),
        imd_quintile=d["imd_quintile"].to_numpy(np.int8),
        ethnicity_group=eth.cat.codes.to_numpy(),
        ethnicity_categories=eth.cat.categories,
        cond_day={c: days(f"day_{c}") for c in conditions},
    )


def covariates_from_attributes(
    attrs: PeopleArrays, pk: np.ndarray, day: np.ndarray
) -> dict[str, object]:
    """``person_id`` and the covariates at index of rows (person key, index day number).

    Returns the columns in order, as arrays (a dict, so the caller builds one table).

    The numpy twin of :func:`~evalkit.cohort.eligibility.covariates_at_index`, for the millions
    of candidate rows (same columns, types and rules: age = the date's year - year of birth; a
    condition counts when diagnosed on or before the date). The tests check the two agree.
    """
    year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    out: dict[str, object] = {
        "person_id": attrs.person_id.take(pk).reset_index(drop=True),
        "age": (year - attrs.year_of_birth[pk]).astype(np.int16),
        "sex": pd.Categorical.from_codes(attrs.sex[pk], categories=attrs.sex_categories),
        "imd_decile": attrs.imd_decile[pk],
        "imd_quintile": attrs.imd_quintile[pk],
        "ethnicity_group": pd.Categorical.from_codes(
            attrs.ethnicity_group[pk], categories=attrs.ethnicity_categories
        ),
    }
    total = np.zeros(len(pk), dtype=np.int8)
    for c in CONDITIONS:
        if c in attrs.cond_day:
            flag = (attrs.cond_day[c][pk] <= day).astype(np.int8)
        else:
            flag = np.zeros(len(pk), dtype=np.int8)
        out[f"cond_{c}"] = flag
        total += flag
    out["n_conditions"] = total
    return out


def covariates_at(cohort: Cohort, rows: pd.DataFrame) -> pd.DataFrame:
    """The candidates' covariate columns for (``person_id``, ``index_date``) rows, at those dates.

    Parameters
    ----------
    cohort : Cohort
        Supplies the tables (its event store when it covers the dates), the settings and the
        event-month convention of the prior windows (``spec["event_months"]``).
    rows : pd.DataFrame
        ``person_id`` and ``index_date``; any index, duplicates allowed.

    Returns
    -------
    pd.DataFrame
        Same index as ``rows``: ``person_id``, ``index_date``, then ``age``, ``sex``,
        ``imd_decile``, ``imd_quintile``, ``ethnicity_group``, ``cond_<condition>``,
        ``n_conditions``, ``prior12_<setting>``, ``prior3_<setting>`` (the columns and types of
        ``cohort.candidates``).

    Raises
    ------
    CohortError
        ``rows`` lacks a column, or names a person who is not in the population table.
    """
    missing = [c for c in ("person_id", "index_date") if c not in rows.columns]
    if missing:
        raise CohortError(f"rows lack column(s) {missing}")
    settings = cohort.settings
    convention = cohort.spec.get("event_months", "index")
    store = cohort.event_store
    tables = store.tables if store is not None else open_tables(cohort.data_dir)
    r = pd.DataFrame(
        {
            "_r": np.arange(len(rows), dtype=np.int64),
            "person_id": rows["person_id"].astype(str).to_numpy(),
            "index_date": pd.to_datetime(rows["index_date"]).dt.normalize().to_numpy(),
        }
    )
    out_index = rows.index
    if r.empty:
        cols = cohort.candidates.columns
        keep = ["person_id", "index_date", *_covariate_names(cohort)]
        return cohort.candidates.loc[[], [c for c in keep if c in cols]].set_axis(out_index)
    people = pd.DataFrame({"person_id": np.unique(r["person_id"].to_numpy())})
    people["k"] = np.arange(len(people), dtype=np.int64)
    scratch: list[str] = []
    try:
        types = {"_r": "int64", "person_id": "string", "index_date": "date"}
        name, up = tables.upload(r, "atrows", types)
        scratch.append(name)
        name, pt = tables.upload(people, "atpeople", {"person_id": "string", "k": "int64"})
        scratch.append(name)
        pop = tables.population
        j = up.join(pop, "person_id")
        cov = covariates_at_index(j, j.index_date, available_conditions(pop))
        demo = tables.fetch(j.select("_r", **cov).order_by("_r"), limit=MAX_CANDIDATE_ROWS)
        if len(demo) != len(r):
            raise CohortError(
                f"{len(r) - len(demo)} row(s) name a person who is not in the population table"
            )
        day = r["index_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
        lo_day = int(event_month_start_days(day.min(), -PRIOR_WINDOWS[0], "index"))
        hi_day = int(day.max()) + 2
        ev = _events_for(tables, store, pt, settings, lo_day, hi_day)
        evs = fetch_events(tables, ev, lo_day, hi_day)
    finally:
        tables.drop(*scratch)
    key = people.set_index("person_id")["k"].loc[r["person_id"]].to_numpy()
    excl = cohort.spec.get("index_day") == "excluded" and convention == "day_after"
    prior = prior_counts_days(
        evs["pk"],
        evs["day"],
        evs["code"],
        key,
        day,
        len(settings),
        convention,
        exclude_index_day=excl,
    )
    names = [f"prior{w}_{s}" for w in PRIOR_WINDOWS for s in settings]
    out = pd.concat(
        [
            r[["person_id", "index_date"]],
            demo.drop(columns="_r"),
            pd.DataFrame(prior, columns=names),
        ],
        axis=1,
    )
    out["index_date"] = out["index_date"].astype("datetime64[s]")
    for c in ("sex", "ethnicity_group"):
        out[c] = out[c].astype("category")
    out.index = out_index
    return out


def _events_for(
    tables: Tables, store: object, people: ir.Table, settings: list[str], lo_day: int, hi_day: int
) -> ir.Table:
    """Events of ``people`` keyed by their ``k``: from the event store when it covers the range."""
    lo = dt.date(1970, 1, 1) + dt.timedelta(days=lo_day)
    hi = dt.date(1970, 1, 1) + dt.timedelta(days=hi_day)
    stored = tuple(getattr(store, "settings", ()))
    if (
        store is not None
        # The store holds the outcome settings first (negative controls after them).
        and stored[: len(settings)] == tuple(settings)
        and store.start <= lo  # type: ignore[attr-defined]
        and hi <= store.end  # type: ignore[attr-defined]
    ):
        pool = store.pool.select("pk", "person_id")  # type: ignore[attr-defined]
        in_pool = people.join(pool, "person_id")
        n_in = tables.fetch(in_pool.count().name("n").as_table())["n"].iloc[0]
        n_all = tables.fetch(people.count().name("n").as_table())["n"].iloc[0]
        if int(n_in) == int(n_all):
            keys = in_pool.select("pk", "k")
            e = store.events.join(keys, "pk")  # type: ignore[attr-defined]
            e = e.filter(e.setting_code < len(settings))
            return e.select(pk="k", event_date="event_date", setting_code="setting_code")
    act = tables.activity
    e = act.filter(act.setting.isin(settings)).join(people, "person_id")
    code = ibis.cases(*[(e.setting == s, i) for i, s in enumerate(settings)]).cast("int8")
    return e.select(pk="k", event_date="event_date", setting_code=code)


def _covariate_names(cohort: Cohort) -> list[str]:
    from evalkit.contract import CONDITIONS

    return [
        "age",
        "sex",
        "imd_decile",
        "imd_quintile",
        "ethnicity_group",
        *[f"cond_{c}" for c in CONDITIONS],
        "n_conditions",
        *[f"prior{w}_{s}" for w in PRIOR_WINDOWS for s in cohort.settings],
    ]
