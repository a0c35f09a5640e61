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
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from evalkit.cohort.eligibility import available_conditions, covariates_at_index
from evalkit.cohort.prior_utilisation import PRIOR_WINDOWS, prior_counts_days
from evalkit.cohort.tables import MAX_CANDIDATE_ROWS, CohortError, Tables, open_tables
from evalkit.dates import event_month_start_days

if TYPE_CHECKING:
    from evalkit.cohort.result import Cohort

__all__ = ["covariates_at", "fetch_events"]


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
    prior = prior_counts_days(
        evs["pk"], evs["day"], evs["code"], key, day, len(settings), convention
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
    if (
        store is not None
        and tuple(store.settings) == tuple(settings)  # type: ignore[attr-defined]
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
