"""Person-month outcome panels: counts, costs and person-time at risk per event month.

Event months follow the cohort's ``spec["event_months"]`` (:mod:`evalkit.dates`):

- ``"day_after"`` (the data contract's "Time"): month ``m`` runs from the day after ``index +
  m`` calendar months to ``index + m + 1`` calendar months, both inclusive, so the index date
  ends month -1 (index 15 March: month -1 is 16 February to 15 March, month 0 is 16 March to 15
  April) and the referring consultation on the index day is baseline;
- ``"index"`` (the earlier design): month ``m`` runs from ``index + m`` months (inclusive) to
  ``index + m + 1`` months (exclusive); month 0 starts on the index date.

Month boundaries clamp the day to the month's length (31 January + 1 month = 28/29 February).
Counts and person-time use the same boundary expression, so they always agree.

Matched controls inherit the index date of the participant in their matched set
(docs/design/methods.md, as OpenSAFELY does), and with it the participant's ``index_month`` and
``index_week``. A control referred to the programme later carries ``censor_month``, the event
month holding its own referral; the exposure is left uncensored here (the analysis layer
censors, so that the uncensored sensitivity analysis can reuse the panel).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import numpy as np
import pandas as pd

from evalkit.cohort.result import Cohort
from evalkit.cohort.tables import CohortError, Tables, open_tables
from evalkit.dates import (
    add_months,
    event_month_of_days,
    event_month_start_expr,
    iso_week_monday_series,
    month_index_expr,
)

__all__ = ["EVENT_MONTHS", "build_panel", "followup_before_own_referral", "naive_panel"]

#: Default event months: 24 months before index to 12 months after (months -24 .. 11).
EVENT_MONTHS: tuple[int, int] = (-24, 11)

#: Largest panel brought into pandas (matched rows x event months).
MAX_PANEL_ROWS = 10_000_000


def build_panel(
    cohort: Cohort,
    matched: pd.DataFrame | None = None,
    *,
    months: tuple[int, int] = EVENT_MONTHS,
    con: Any = None,
) -> pd.DataFrame:
    """Long person-month panel of matched rows: counts, cost and person-time per event month.

    Parameters
    ----------
    cohort : Cohort
        From :func:`~evalkit.cohort.build_cohort` (or :func:`~evalkit.cohort.placebo_cohort`).
    matched : pd.DataFrame, optional
        Matched rows of ``cohort.candidates``: ``row_id`` (a column, or else the index, as
        :func:`evalkit.match` returns it on the candidates' index), ``referred``, ``subclass``
        (matched-set id; empty for matching with replacement) and ``weight``. Default: the
        participants only (:func:`naive_panel`).
    months : (int, int)
        First and last event month, inclusive (default -24 .. 11).
    con : ibis backend, optional
        Engine connection; default a new DuckDB connection.

    Returns
    -------
    pd.DataFrame
        One row per (matched row, event month), sorted by ``unit`` then ``event_month``:
        ``unit`` (= ``row_id``), ``person_id``, ``subclass``, ``referred``, ``weight``,
        ``index_date`` (inherited by controls), ``index_month`` (``"YYYY-MM"``) and
        ``index_week`` (its ISO week's Monday, ``"YYYY-MM-DD"``) of that index date,
        ``censor_month`` (nullable Int16: for a control, the event month holding its own
        referral to the programme, 0 when that is on or before the inherited index date, NA
        when never referred within the panel's months; NA for participants),
        ``event_month``, ``post`` (1 when
        ``event_month >= 0``), one count per outcome setting (``gp_appointment``, ...), one per
        negative-control setting the data holds (:attr:`Cohort.negative_controls`, e.g.
        ``elective_admission``; same event-month rules), ``total_cost`` (the outcome settings'
        counts x unit costs, at the unit-cost table's price year; negative controls are never
        costed) and ``exposure`` (share of
        the event month registered, alive and inside the activity extract, 0 to 1). Months with
        zero exposure are kept with ``exposure`` 0; the DiD layer decides what to do with them.
        ``panel.attrs`` holds ``spec`` and ``notes``.

    Raises
    ------
    CohortError
        ``matched`` lacks a column, names an unknown ``row_id``, contradicts the cohort's
        ``referred``, or a matched set has no (or two) participant rows.
    """
    lo, hi = int(months[0]), int(months[1])
    if lo > hi:
        raise ValueError(f"months must be (first, last) with first <= last, got {months}")
    notes: list[str] = []
    units = (
        _participant_units(cohort) if matched is None else _matched_units(cohort, matched, notes)
    )
    settings = cohort.panel_settings
    store = cohort.event_store
    if con is None and store is not None:
        tables = store.tables
    else:
        tables = open_tables(cohort.data_dir, con)
    convention = cohort.spec.get("event_months", "index")
    units = _add_index_labels(units, convention, hi)
    exclude_day = cohort.spec.get("index_day") == "excluded" and convention == "day_after"
    counts_exposure = _reused_engine_panel(
        tables, units, settings, lo, hi, cohort, convention, exclude_index_day=exclude_day
    )
    panel = units.drop(columns="own_referral_date").merge(
        counts_exposure, on="unit", how="right", validate="one_to_many"
    )
    costed = cohort.settings  # the outcome settings: negative controls are never costed
    costs = np.array([cohort.unit_costs.cost_of(s) for s in costed])
    panel["total_cost"] = panel[costed].to_numpy(dtype=np.float64) @ costs
    panel["post"] = (panel["event_month"] >= 0).astype(np.int8)
    cols = [
        "unit",
        "person_id",
        "subclass",
        "referred",
        "weight",
        "index_date",
        "index_month",
        "index_week",
        "censor_month",
        "event_month",
        "post",
        *settings,
        "total_cost",
        "exposure",
    ]
    panel = panel[cols].sort_values(["unit", "event_month"], ignore_index=True)
    n_zero = int((panel["exposure"] == 0).sum())
    if convention == "day_after":
        rule = (
            "event month m runs from the day after index + m calendar months to index + m + 1 "
            "months inclusive (the index day ends month -1)."
        )
    else:
        rule = "event month m runs from index + m calendar months to index + m + 1 months."
    notes.append(f"{len(units)} rows x {hi - lo + 1} event months ({lo} to {hi}); {rule}")
    ctrl = units["referred"] == 0
    n_cens = int(units.loc[ctrl, "censor_month"].notna().sum())
    if ctrl.any():
        n_zero_cens = int((units.loc[ctrl, "censor_month"] == 0).sum())
        notes.append(
            f"{n_cens} of {int(ctrl.sum())} control units are referred to the programme within "
            f"the panel's months (censor_month set; {n_zero_cens} on or before the inherited "
            "index date, censor_month 0); exposure is left uncensored here."
        )
    notes.append(
        f"{n_zero} person-months have zero exposure (before registration, after death or "
        "deregistration, or outside the activity extract); they are kept with exposure 0."
    )
    notes.append(
        f"total_cost prices each event with the unit-cost table '{cohort.unit_costs.name}' "
        f"({cohort.unit_costs.price_year} prices)."
    )
    panel.attrs["spec"] = {
        "programme": cohort.programme.slug,
        "months": [lo, hi],
        "settings": list(costed),
        "negative_controls": list(cohort.negative_controls),
        "unit_costs": cohort.unit_costs.name,
        "matched": matched is not None,
        "event_months": convention,
        "control_units_censored": n_cens,
        "placebo_shift_months": cohort.spec.get("placebo_shift_months", 0),
    }
    panel.attrs["notes"] = tuple(notes)
    return panel


def followup_before_own_referral(
    cohort: Cohort,
    panel: pd.DataFrame,
    *,
    months: tuple[int, int] | None = None,
    con: Any = None,
) -> pd.DataFrame:
    """Rows of the controls referred later, with person-time and events ending at their referral.

    A matched control that is referred to the programme itself follows "not referred now" up
    to the day before its own referral, so the target trial censors it there, not at the start
    of the event month holding the referral: the days before the referral (when the use that
    led to it happened) are usual care, and dropping them would censor on the outcome
    (docs/decisions/censoring.md, "Censored at the day"). For every control unit of ``panel``
    with a ``censor_month``, this returns its rows from ``censor_month`` on with the same
    columns as :func:`build_panel`'s (settings, ``total_cost``, ``exposure``), counting only
    events dated before its own referral date and person-time up to the day before it; the
    censor month keeps its part before the referral, later months have exposure 0. The
    referral day itself (the consultation that made the referral) is not counted.

    Parameters
    ----------
    cohort : Cohort
        The cohort ``panel`` was built from (``candidates`` hold ``own_referral_date``).
    panel : pd.DataFrame
        From :func:`build_panel` on matched rows (``unit`` = the candidates' ``row_id``).
    months : (int, int), optional
        The panel's event months (default: its smallest and largest ``event_month``).
    con : ibis backend, optional
        Engine connection, as in :func:`build_panel`.
    """
    cols = [*cohort.panel_settings, "total_cost", "exposure"]
    ctrl = (panel["referred"] == 0) & panel["censor_month"].notna()
    if not ctrl.any():
        return panel.iloc[0:0][["unit", "event_month", *cols]].copy()
    if months is None:
        months = (int(panel["event_month"].min()), int(panel["event_month"].max()))
    lo, hi = int(months[0]), int(months[1])
    units = panel.loc[ctrl, ["unit", "person_id", "index_date", "censor_month"]].drop_duplicates(
        "unit"
    )
    own = cohort.candidates["own_referral_date"].to_numpy(dtype="datetime64[s]")
    units["end_date"] = own[units["unit"].to_numpy(dtype=np.int64)]
    tables = open_tables(cohort.data_dir, con)
    convention = cohort.spec.get("event_months", "index")
    exclude_day = cohort.spec.get("index_day") == "excluded" and convention == "day_after"
    cut = _reused_engine_panel(
        tables,
        units,
        cohort.panel_settings,
        lo,
        hi,
        cohort,
        convention,
        exclude_index_day=exclude_day,
        end_before=True,
    )
    costs = np.array([cohort.unit_costs.cost_of(s) for s in cohort.settings])
    cut["total_cost"] = cut[cohort.settings].to_numpy(dtype=np.float64) @ costs
    first = units.set_index("unit")["censor_month"].astype("int64")
    keep = cut["event_month"].to_numpy() >= first.loc[cut["unit"]].to_numpy()
    out = cut.loc[keep, ["unit", "event_month", *cols]]
    return out.sort_values(["unit", "event_month"], ignore_index=True)


def naive_panel(
    cohort: Cohort, *, months: tuple[int, int] = EVENT_MONTHS, con: Any = None
) -> pd.DataFrame:
    """Panel of the participants alone (for the naive pre/post comparison).

    Same columns as :func:`build_panel`; ``subclass`` is the participant's own ``row_id`` and
    ``weight`` is 1.
    """
    return build_panel(cohort, None, months=months, con=con)


# --------------------------------------------------------------------------------------------
def _participant_units(cohort: Cohort) -> pd.DataFrame:
    c = cohort.candidates
    p = c.loc[c["referred"] == 1, ["row_id", "person_id", "index_date"]]
    return pd.DataFrame(
        {
            "unit": p["row_id"].to_numpy(dtype=np.int64),
            "person_id": p["person_id"].to_numpy(),
            "subclass": pd.array(p["row_id"].to_numpy(), dtype="Int64"),
            "referred": np.ones(len(p), dtype=np.int8),
            "weight": np.ones(len(p)),
            "index_date": p["index_date"].to_numpy(),
            "own_referral_date": np.full(len(p), np.datetime64("NaT"), dtype="datetime64[s]"),
        }
    )


def _matched_units(cohort: Cohort, matched: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    m = matched
    if "row_id" in m.columns:
        row_id = m["row_id"]
    else:
        row_id = pd.Series(m.index, index=m.index)
        notes.append("row_id taken from the index of `matched`.")
    missing = [c for c in ("referred", "subclass", "weight") if c not in m.columns]
    if missing:
        raise CohortError(f"matched rows lack column(s) {missing}")
    rid = pd.to_numeric(row_id, errors="raise").to_numpy(dtype=np.int64)
    if len(np.unique(rid)) != len(rid):
        raise CohortError("matched rows repeat a row_id; give each matched row once")
    c = cohort.candidates
    if rid.min(initial=0) < 0 or rid.max(initial=-1) >= len(c):
        raise CohortError("matched rows name a row_id that is not in cohort.candidates")
    cand = c.iloc[rid]
    referred = m["referred"].to_numpy().astype(np.int8)
    if (referred != cand["referred"].to_numpy()).any():
        raise CohortError("matched `referred` disagrees with cohort.candidates for some rows")
    subclass = pd.array(m["subclass"].to_numpy(), dtype="Int64")
    index_date = cand["index_date"].to_numpy().copy()
    sub = pd.Series(subclass)
    treated = referred == 1
    tsub = sub[treated]
    if tsub.notna().any():
        if tsub.dropna().duplicated().any():
            raise CohortError("a matched set (subclass) holds more than one participant row")
        date_of_set = pd.Series(index_date[treated], index=tsub.to_numpy()).loc[
            lambda s: s.index.notna()
        ]
        ctrl_with = (~treated) & sub.notna().to_numpy()
        keys = sub[ctrl_with].astype("int64")
        unknown = ~keys.isin(date_of_set.index.astype("int64"))
        if unknown.any():
            raise CohortError(
                f"{int(unknown.sum())} control row(s) belong to a matched set with no participant"
            )
        date_of_set.index = date_of_set.index.astype("int64")
        index_date[ctrl_with] = date_of_set.loc[keys.to_numpy()].to_numpy()
    ctrl_without = (~treated) & sub.isna().to_numpy()
    if ctrl_without.any():
        notes.append(
            f"{int(ctrl_without.sum())} control row(s) have no matched set (matching with "
            "replacement): they keep their own index date (the 1st of their index month)."
        )
    return pd.DataFrame(
        {
            "unit": rid,
            "person_id": cand["person_id"].to_numpy(),
            "subclass": subclass,
            "referred": referred,
            "weight": m["weight"].to_numpy(dtype=np.float64),
            "index_date": index_date,
            "own_referral_date": _own_referral(cand, referred),
        }
    )


def _own_referral(cand: pd.DataFrame, referred: np.ndarray) -> np.ndarray:
    """Controls' own referral dates (NaT for participants and for cohorts without the column)."""
    if "own_referral_date" not in cand.columns:
        return np.full(len(cand), np.datetime64("NaT"), dtype="datetime64[s]")
    own = cand["own_referral_date"].to_numpy(dtype="datetime64[s]").copy()
    own[referred == 1] = np.datetime64("NaT")
    return own


def _add_index_labels(units: pd.DataFrame, convention: str, hi: int) -> pd.DataFrame:
    """Add ``index_month``, ``index_week`` (of the unit's index date) and ``censor_month``."""
    out = units.copy()
    idx = pd.Series(pd.to_datetime(out["index_date"]).to_numpy(dtype="datetime64[s]"))
    out["index_month"] = idx.dt.strftime("%Y-%m").to_numpy()
    out["index_week"] = iso_week_monday_series(idx).dt.strftime("%Y-%m-%d").to_numpy()
    own = out["own_referral_date"].to_numpy(dtype="datetime64[D]")
    has = ~np.isnat(own)
    idx_d = idx.to_numpy(dtype="datetime64[D]").astype(np.int64)
    m = np.zeros(len(out), dtype=np.int64)
    if has.any():
        m[has] = event_month_of_days(own[has].astype(np.int64), idx_d[has], convention)
    # On or before the inherited index date: censored from month 0.
    m = np.maximum(m, 0)
    keep = has & (m <= hi)
    censor = pd.array(np.where(keep, m, 0), dtype="Int16")
    censor[~keep] = pd.NA
    out["censor_month"] = censor
    for c in ("index_month", "index_week"):
        out[c] = out[c].astype("category")
    return out


def _reused_engine_panel(
    tables: Tables,
    units: pd.DataFrame,
    settings: list[str],
    lo: int,
    hi: int,
    cohort: Cohort,
    convention: str,
    *,
    exclude_index_day: bool,
    end_before: bool = False,
) -> pd.DataFrame:
    """:func:`_engine_panel`, computing each (person, index date) once per cohort.

    A unit's counts and person-time depend only on its person and index date (with the
    cohort's settings, months and conventions), so the sensitivity battery's re-matchings
    (calipers, ratios, per-protocol...) share the rows already computed: only pairs not seen
    before go to the engine. The cache lives on the cohort (``_panel_cache``); the result is
    identical to computing every unit afresh (``tests/unit/cohort/test_panel_reuse.py``). With
    ``end_before`` (controls' follow-up cut at their own referral) the end date is part of the
    key.
    """
    key = (tuple(settings), lo, hi, convention, exclude_index_day, end_before)
    by = ["person_id", "index_date", *(["end_date"] if end_before else [])]
    caches = cohort.__dict__.setdefault("_panel_cache", {})  # frozen dataclass: no setattr
    seen: pd.DataFrame | None = caches.get(key)
    pairs = units[by].drop_duplicates(ignore_index=True)
    if seen is not None:
        have = seen[by].drop_duplicates()
        flag = pairs.merge(have, on=by, how="left", indicator=True)
        new = pairs.loc[(flag["_merge"] == "left_only").to_numpy()].reset_index(drop=True)
    else:
        new = pairs
    if len(new):
        fresh_units = new.assign(unit=np.arange(len(new), dtype=np.int64))
        fresh = _engine_panel(
            tables,
            fresh_units,
            settings,
            lo,
            hi,
            cohort,
            convention,
            exclude_index_day=exclude_index_day,
            end_before=end_before,
        )
        fresh = fresh_units.merge(fresh, on="unit", how="right", validate="one_to_many").drop(
            columns="unit"
        )
        seen = fresh if seen is None else pd.concat([seen, fresh], ignore_index=True)
        caches[key] = seen
    assert seen is not None
    out = units[["unit", *by]].merge(seen, on=by, how="left", validate="many_to_many")
    cols = ["unit", "event_month", "exposure", *settings]
    if len(out) != len(units) * (hi - lo + 1):
        raise CohortError("internal error: reused panel rows do not equal units x event months")
    return out[cols].sort_values(["unit", "event_month"], ignore_index=True)


def _engine_panel(
    tables: Tables,
    units: pd.DataFrame,
    settings: list[str],
    lo: int,
    hi: int,
    cohort: Cohort,
    convention: str,
    *,
    exclude_index_day: bool = False,
    end_before: bool = False,
) -> pd.DataFrame:
    """Compute counts per setting and exposure per (unit, event month) in the engine.

    With ``exclude_index_day`` the index day (the last day of month -1) is neither counted nor
    at risk: month -1's person-time ends the day before it. With ``end_before`` each unit's
    person-time and events end the day before its ``end_date`` (a column of ``units``).

    Events come from the cohort's event store (integer person keys, already restricted to the
    risk set) when it is held and covers the months asked for; otherwise from the activity
    table.
    """
    pop, act = tables.population, tables.activity
    ucols, utypes = ["unit", "person_id", "index_date"], {"unit": "int64", "person_id": "string"}
    if end_before:
        ucols.append("end_date")
        utypes["end_date"] = "date"
    u = ibis.memtable(units[ucols]).cast({**utypes, "index_date": "date"})
    mt = ibis.memtable({"event_month": list(range(lo, hi + 1))}).cast({"event_month": "int64"})

    # Person-time at risk.
    grid = u.cross_join(mt)
    grid = grid.mutate(
        _a=event_month_start_expr(grid.index_date, grid.event_month, convention),
        _b=event_month_start_expr(grid.index_date, grid.event_month + 1, convention),
    )
    g = grid.join(
        pop.select("person_id", "registered_from", "registered_to", "date_of_death"), "person_id"
    )
    data_start, data_end = ibis.literal(cohort.data_start), ibis.literal(cohort.data_end)
    at_risk_from = ibis.greatest(g.registered_from, data_start).epoch_days()
    last = ibis.least(
        g.registered_to.fill_null(cohort.data_end),
        g.date_of_death.fill_null(cohort.data_end),
        data_end,
    )
    at_risk_to = last.epoch_days() + 1  # exclusive
    if end_before:
        at_risk_to = ibis.least(at_risk_to, g.end_date.epoch_days())
    a, b = g._a, g._b
    if exclude_index_day:
        b = (g.event_month == -1).ifelse(b - 1, b)
    days = ibis.greatest(ibis.least(b, at_risk_to) - ibis.greatest(a, at_risk_from), 0)
    expo = g.select("unit", "event_month", exposure=days.cast("float64") / (b - a))

    # Events keyed by ``_k`` (the store's integer key, or person_id), setting as its position.
    store = cohort.event_store
    first = add_months(pd.Timestamp(units["index_date"].min()).date(), lo)
    last_excl = add_months(pd.Timestamp(units["index_date"].max()).date(), hi + 1)
    last_excl += dt.timedelta(days=1)  # month hi may end on index + hi + 1 months
    if (
        not end_before
        and store is not None
        and store.tables.con is tables.con
        and tuple(store.settings) == tuple(settings)
        and store.start <= first
        and last_excl <= store.end
    ):
        uk = u.join(store.pool.select("person_id", "pk"), "person_id").select(
            "unit", "index_date", _k="pk"
        )
        ev = store.events.select(_k="pk", event_date="event_date", setting_code="setting_code")
    else:
        uk = u.select("unit", "index_date", *(["end_date"] if end_before else []), _k="person_id")
        ev = act.filter(
            act.setting.isin(settings), act.event_date >= first, act.event_date < last_excl
        )
        ev = ev.select(
            _k="person_id",
            event_date="event_date",
            setting_code=ibis.cases(*[(ev.setting == s, i) for i, s in enumerate(settings)]),
        )
    ev = ev.semi_join(uk.select("_k"), "_k")
    j = uk.join(ev, "_k")
    if end_before:
        j = j.filter(j.event_date < j.end_date)
    # Event month from the calendar-month difference, one less when the event falls before
    # that month's boundary (the same boundary expression as the person-time above).
    m0 = month_index_expr(j.event_date) - month_index_expr(j.index_date)
    j = j.mutate(_m0=m0).filter(m0 >= lo, m0 <= hi + 1)
    start_m0 = event_month_start_expr(j.index_date, j._m0, convention)
    j = j.mutate(
        event_month=(j.event_date.epoch_days() < start_m0).ifelse(j._m0 - 1, j._m0)
    ).filter(lambda t: (t.event_month >= lo) & (t.event_month <= hi))
    if exclude_index_day:
        j = j.filter(j.event_date != j.index_date)
    counts = j.group_by("unit", "event_month").aggregate(
        **{s: (j.setting_code == i).ifelse(1, 0).sum() for i, s in enumerate(settings)}
    )
    out = expo.left_join(
        counts, [expo.unit == counts.unit, expo.event_month == counts.event_month]
    ).select(
        "unit",
        "event_month",
        "exposure",
        **{s: counts[s].fill_null(0).cast("int32") for s in settings},
    )
    df = tables.fetch(out, limit=MAX_PANEL_ROWS)
    if len(df) != len(units) * (hi - lo + 1):
        raise CohortError("internal error: panel rows do not equal units x event months")
    df["event_month"] = df["event_month"].astype(np.int16)
    return df
