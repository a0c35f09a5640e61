"""Prior utilisation at index: events per setting in the 12 and 3 calendar months before it.

A row's prior-``w`` count is its events in event months ``-w`` .. ``-1`` of the data contract's
"Time": with the contract's event months (``"day_after"``) that is ``(index - w months,
index]``, the index day included (the referring consultation is baseline); with the earlier
convention (``"index"``) ``[index - w months, index)``.

:func:`prior_counts_days` counts any (person, date) rows exactly to the day, in numpy, from the
events brought over once (person key, day number, setting code): it is what the cohort uses for
every row. :func:`prior_counts_exact` (a date-range join in the engine) and
:func:`prior_counts_monthly` (whole calendar months, for rows indexed on the 1st) are the
earlier implementations, kept as independent checks.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from evalkit.cohort.tables import MAX_CANDIDATE_ROWS, Tables
from evalkit.dates import (
    add_months_expr,
    event_month_start_days,
    month_index_expr,
    month_index_series,
)

__all__ = [
    "PRIOR_WINDOWS",
    "count_before",
    "prior_counts_days",
    "prior_counts_exact",
    "prior_counts_grid",
    "prior_counts_monthly",
]

#: Prior-utilisation windows (months before index) measured as covariates (docs/design/methods.md).
PRIOR_WINDOWS: tuple[int, int] = (12, 3)


def prior_counts_exact(
    tables: Tables,
    ev: ir.Table,
    rows: pd.DataFrame,
    settings: Sequence[str],
    scratch: list[str],
) -> np.ndarray:
    """Prior counts by a date-range join of events to each row's own windows (participants).

    Parameters
    ----------
    tables : Tables
        The connection the events live on.
    ev : ibis.Table
        Events with ``pk``, ``event_date`` and ``setting_code`` (position in ``settings``).
    rows : pd.DataFrame
        ``row_id``, ``pk`` and ``index_date`` of the rows to count for.
    settings : sequence of str
        Settings counted, in ``setting_code`` order.
    scratch : list of str
        Receives the name of the uploaded row table, for the caller to drop.

    Returns
    -------
    np.ndarray
        int32, one row per row of ``rows``: the :data:`PRIOR_WINDOWS` counts, all settings of
        the 12-month window first, then the 3-month window.
    """
    w12, w3 = PRIOR_WINDOWS
    k = len(settings)
    out = np.zeros((len(rows), 2 * k), dtype=np.int32)
    if rows.empty:
        return out
    name, r = tables.upload(
        rows.assign(pk=rows["pk"].astype(np.int64)),
        "prow",
        {"row_id": "int64", "pk": "int32", "index_date": "date"},
    )
    scratch.append(name)
    j = r.join(ev, "pk")
    j = j.filter(j.event_date >= add_months_expr(j.index_date, -w12), j.event_date < j.index_date)
    in3 = j.event_date >= add_months_expr(j.index_date, -w3)
    agg = {}
    for i in range(k):
        agg[f"a{i}"] = (j.setting_code == i).ifelse(1, 0).sum()
        agg[f"b{i}"] = ((j.setting_code == i) & in3).ifelse(1, 0).sum()
    res = tables.fetch(j.group_by("row_id").aggregate(**agg))
    pos = pd.Index(rows["row_id"].to_numpy()).get_indexer(res["row_id"].to_numpy())
    for i in range(k):
        out[pos, i] = res[f"a{i}"].to_numpy()
        out[pos, k + i] = res[f"b{i}"].to_numpy()
    return out


def prior_counts_monthly(
    tables: Tables, ev: ir.Table, rows: pd.DataFrame, settings: Sequence[str]
) -> np.ndarray:
    """Prior counts for rows indexed on the 1st of a month, from person-month counts.

    The engine counts events per (person, calendar month, setting): an aggregate of at most
    people x months x settings rows (about 1.3 million at county scale, small integers). The
    moving 12- and 3-month sums are then differences of cumulative sums over a dense
    (person, setting, month) array in numpy. On the shared 2-core machine this was several
    times faster than each SQL formulation tried (a ``RANGE`` window, a month fan-out join,
    ``ASOF`` joins on cumulative sums, a dense ``ROWS`` window); ``docs/decisions/cohort.md``
    has the timings. Arguments and result are those of :func:`prior_counts_exact` (``rows``
    without ``row_id``).
    """
    w12, w3 = PRIOR_WINDOWS
    k = len(settings)
    out = np.zeros((len(rows), 2 * k), dtype=np.int32)
    if rows.empty:
        return out
    row_mi = month_index_series(rows["index_date"]).to_numpy()
    pk = rows["pk"].to_numpy(dtype=np.int64)
    m0 = int(row_mi.min()) - w12
    ev = ev.mutate(mi=month_index_expr(ev.event_date))
    ev = ev.filter(ev.mi >= m0, ev.mi < int(row_mi.max()))
    pm = ev.group_by("pk", "setting_code", "mi").aggregate(n=ev.count())
    pm = tables.fetch(pm, limit=4 * MAX_CANDIDATE_ROWS)
    n_months = int(row_mi.max()) - m0
    n_pk = int(max(pk.max(), pm["pk"].max() if len(pm) else 0)) + 1
    # counts[pk, setting, 1 + month - m0] for months m0 .. m0 + n_months - 1; slot 0 stays 0,
    # so after a cumulative sum, cum[.., t] counts months m0 .. m0 + t - 1.
    counts = np.zeros((n_pk, k, n_months + 1), dtype=np.int32)
    if len(pm):
        slot = pm["mi"].to_numpy(dtype=np.int64) - m0 + 1
        keep = (slot >= 1) & (slot <= n_months)
        np.add.at(
            counts,
            (
                pm["pk"].to_numpy(dtype=np.int64)[keep],
                pm["setting_code"].to_numpy(dtype=np.int64)[keep],
                slot[keep],
            ),
            pm["n"].to_numpy(dtype=np.int32)[keep],
        )
    cum = np.cumsum(counts, axis=2, dtype=np.int32)
    t = row_mi - m0  # cum[.., t] counts the months before the row's month
    for i in range(k):
        c = cum[:, i, :]
        out[:, i] = c[pk, t] - c[pk, t - w12]
        out[:, k + i] = c[pk, t] - c[pk, t - w3]
    return out


# --------------------------------------------------------------------------------------------
# Exact to the day, in numpy
# --------------------------------------------------------------------------------------------
#: Largest dense (people x settings x distinct days) block :func:`count_before` builds at once.
_DENSE_CELLS = 20_000_000


def prior_counts_days(
    ev_key: np.ndarray,
    ev_day: np.ndarray,
    ev_code: np.ndarray,
    row_key: np.ndarray,
    row_day: np.ndarray,
    n_settings: int,
    convention: str = "day_after",
    *,
    exclude_index_day: bool = False,
) -> np.ndarray:
    """Prior-12 and prior-3 counts per setting for (person, index day) rows, exact to the day.

    Parameters
    ----------
    ev_key, ev_day, ev_code : np.ndarray
        Events: person key (any integer), day number (days since 1970-01-01) and setting code
        (``0 .. n_settings - 1``).
    row_key, row_day : np.ndarray
        The rows: person key and index day number.
    n_settings : int
        Number of setting codes.
    convention : str
        ``"day_after"`` (window ``(index - w months, index]``) or ``"index"`` (``[index - w
        months, index)``); :data:`evalkit.dates.EVENT_MONTH_CONVENTIONS`.
    exclude_index_day : bool
        Leave the index day itself out of the windows (``(index - w months, index)``): its
        contacts are the referral's own (see ``build_cohort(index_day=)``).

    Returns
    -------
    np.ndarray
        int32, one row per row: all settings' 12-month counts, then the 3-month counts (the
        layout of :func:`prior_counts_exact`).
    """
    w12, w3 = PRIOR_WINDOWS
    row_day = np.asarray(row_day, dtype=np.int64)
    # Window [lo, hi) in day numbers: event months -w .. -1 of the row's index (computed once
    # per distinct index day: the rows share few).
    days, inv = np.unique(row_day, return_inverse=True)
    hi = event_month_start_days(days, 0, convention)
    if exclude_index_day:
        hi = np.minimum(hi, days)
    bounds = np.stack(
        [
            hi,
            event_month_start_days(days, -w12, convention),
            event_month_start_days(days, -w3, convention),
        ],
        axis=1,
    )
    c = count_before(ev_key, ev_day, ev_code, row_key, bounds[inv.ravel()], n_settings)
    out = np.empty((len(row_day), 2 * n_settings), dtype=np.int32)
    out[:, :n_settings] = c[:, 0, :] - c[:, 1, :]
    out[:, n_settings:] = c[:, 0, :] - c[:, 2, :]
    return out


def prior_counts_grid(
    ev_key: np.ndarray,
    ev_day: np.ndarray,
    ev_code: np.ndarray,
    row_key: np.ndarray,
    row_ti: np.ndarray,
    grid_days: np.ndarray,
    n_settings: int,
    convention: str = "day_after",
    dtype: type = np.int32,
    *,
    exclude_index_day: bool = False,
) -> np.ndarray:
    """:func:`prior_counts_days` for rows on a grid of shared index days (the risk sets).

    Row ``i`` is indexed on ``grid_days[row_ti[i]]`` (``grid_days`` ascending: the Mondays of
    the index weeks, or the 1st of the index months). The windows slide forward with the
    grid, so an event falls in the windows of a contiguous run of grid days: it adds 1 at the
    run's start and -1 after its end, and a cumulative sum over the grid gives every (person,
    grid day, setting) count at once (chunked over people). Same result as
    :func:`prior_counts_days`, checked by the tests. ``dtype`` is the result's integer type
    (int16 halves the memory of millions of rows; the caller checks the counts fit);
    ``exclude_index_day`` as in :func:`prior_counts_days`.
    """
    w12, w3 = PRIOR_WINDOWS
    grid_days = np.asarray(grid_days, dtype=np.int64)
    row_ti = np.asarray(row_ti, dtype=np.int64)
    out = np.zeros((len(row_ti), 2 * n_settings), dtype=dtype)
    if len(row_ti) == 0 or len(ev_key) == 0:
        return out
    if np.any(np.diff(grid_days) <= 0):
        raise ValueError("grid_days must be strictly increasing")
    people, row_p = _compact(np.asarray(row_key, dtype=np.int64))
    ev_key = np.asarray(ev_key, dtype=np.int64)
    pos = np.minimum(np.searchsorted(people, ev_key), len(people) - 1)
    keep = people[pos] == ev_key
    ev_p, ev_d = pos[keep], np.asarray(ev_day, dtype=np.int64)[keep]
    ev_c = np.asarray(ev_code, dtype=np.int64)[keep]
    n_t, n_p, k = len(grid_days), len(people), n_settings
    # Rows by grid day (the risk sets come that way): each block of grid days is a contiguous
    # slice of rows, and the count table is laid out (grid day, person, setting) to match.
    order = None
    if np.any(np.diff(row_ti) < 0):
        order = np.argsort(row_ti, kind="stable")
        row_ti, row_p = row_ti[order], row_p[order]
    hi = event_month_start_days(grid_days, 0, convention)  # windows are [lo, hi)
    if exclude_index_day:
        hi = np.minimum(hi, grid_days)
    block = max(1, _DENSE_CELLS // (n_p * k))
    res = np.empty((len(row_ti), 2 * k), dtype=dtype)
    # A running count never exceeds a (person, setting)'s number of events: int16 when that
    # fits (half the memory traffic), else int32.
    most = int(np.bincount(ev_p * k + ev_c).max(initial=0))
    acc = np.int16 if most <= np.iinfo(np.int16).max else np.int32
    buf = np.empty((min(block, n_t), n_p * k), dtype=acc)
    for col, w in ((0, w12), (k, w3)):
        lo = event_month_start_days(grid_days, -w, convention)
        first = np.searchsorted(hi, ev_d, side="right")  # first grid day with hi > day
        last = np.searchsorted(lo, ev_d, side="right")  # one past the last with lo <= day
        run = first < last
        cell = (ev_p[run] * k + ev_c[run]).astype(np.int32)
        # +1 where an event's run of grid days starts, -1 after it ends.
        steps = np.concatenate([first[run], last[run]]).astype(np.int32)
        sign = np.concatenate([np.ones(run.sum(), acc), -np.ones(run.sum(), acc)])
        cells = np.concatenate([cell, cell])
        carry = np.zeros(n_p * k, dtype=acc)
        for t0 in range(0, n_t, block):
            t1 = min(n_t, t0 + block)
            m = (steps >= t0) & (steps < t1)
            cum = buf[: t1 - t0]  # one buffer for every block: no fresh pages per block
            cum[1:] = 0
            cum[0] = carry
            flat = (steps[m] - t0).astype(np.int64) * (n_p * k) + cells[m]
            np.add.at(cum.reshape(-1), flat, sign[m])
            np.cumsum(cum, axis=0, out=cum)
            carry = cum[-1].copy()
            r0, r1 = np.searchsorted(row_ti, t0), np.searchsorted(row_ti, t1)
            at = (row_ti[r0:r1] - t0) * n_p + row_p[r0:r1]
            res[r0:r1, col : col + k] = cum.reshape(-1, k)[at]
    if order is None:
        return res
    out[order] = res
    return out


def count_before(
    ev_key: np.ndarray,
    ev_day: np.ndarray,
    ev_code: np.ndarray,
    row_key: np.ndarray,
    q_day: np.ndarray,
    n_codes: int,
) -> np.ndarray:
    """Per row and query day, each code's events of the row's person dated before that day.

    ``q_day`` is ``(n_rows, n_queries)``; the result is int32 ``(n_rows, n_queries, n_codes)``.
    Two exact methods, chosen by cost: when the rows share few distinct query days (weekly or
    monthly risk sets), events are binned between consecutive distinct query days and
    cumulated over a dense (person, code, bin) block, chunked over people; otherwise each
    query is a ``searchsorted`` in the sorted (person, code, day) event keys.
    """
    q_day = np.asarray(q_day, dtype=np.int64)
    n_rows, n_q = q_day.shape
    out = np.zeros((n_rows, n_q, n_codes), dtype=np.int32)
    if n_rows == 0 or len(ev_key) == 0:
        return out
    people, row_p = _compact(np.asarray(row_key, dtype=np.int64))
    ev_key = np.asarray(ev_key, dtype=np.int64)
    pos = np.minimum(np.searchsorted(people, ev_key), len(people) - 1)
    keep = people[pos] == ev_key
    ev_p = pos[keep]
    ev_d = np.asarray(ev_day, dtype=np.int64)[keep]
    ev_c = np.asarray(ev_code, dtype=np.int64)[keep]
    if len(ev_p) == 0:
        return out
    days, q_j = _compact(q_day.ravel())
    q_j = q_j.reshape(n_rows, n_q)
    dense_cost = len(people) * n_codes * (len(days) + 1)
    search_cost = n_rows * n_q * n_codes * max(1, int(np.log2(len(ev_p) + 1)))
    if dense_cost <= 4 * search_cost:
        _count_dense(ev_p, ev_d, ev_c, row_p, q_j, days, len(people), n_codes, out)
    else:
        _count_search(ev_p, ev_d, ev_c, row_p, q_day, n_codes, out)
    return out


def _compact(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each value's position among them.

    ``np.unique(..., return_inverse=True)`` without the sort, for integers in a short range
    (person keys, day numbers).
    """
    if len(values) == 0:
        return values, values.astype(np.int64)
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > 4 * len(values) + 1_000_000:
        uniq, inv = np.unique(values, return_inverse=True)
        return uniq, inv.ravel().astype(np.int64)
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[values - lo] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present) + lo, rank[values - lo]


def _count_dense(
    ev_p: np.ndarray,
    ev_d: np.ndarray,
    ev_c: np.ndarray,
    row_p: np.ndarray,
    q_j: np.ndarray,
    days: np.ndarray,
    n_people: int,
    n_codes: int,
    out: np.ndarray,
) -> None:
    """Dense method of :func:`count_before`; ``q_j`` are positions of the query days in ``days``."""
    # An event is before days[j] exactly when fewer than j + 1 query days are <= its day.
    ev_b = np.searchsorted(days, ev_d, side="right")
    n_bins = len(days) + 1
    n_q = q_j.shape[1]
    chunk = max(1, _DENSE_CELLS // (n_codes * n_bins))
    ev_order = np.argsort(ev_p, kind="stable")
    ev_sorted = ev_p[ev_order]
    row_order = np.argsort(row_p, kind="stable")
    row_sorted = row_p[row_order]
    q_sorted = q_j[row_order]
    res = np.empty((len(row_p), n_q, n_codes), dtype=np.int32)
    codes = np.arange(n_codes)
    for p0 in range(0, n_people, chunk):
        p1 = min(n_people, p0 + chunk)
        e = ev_order[np.searchsorted(ev_sorted, p0) : np.searchsorted(ev_sorted, p1)]
        r0, r1 = np.searchsorted(row_sorted, p0), np.searchsorted(row_sorted, p1)
        if r0 == r1:
            continue
        # Layout (person, bin, code): a row's counts for one query day are contiguous.
        flat = ((ev_p[e] - p0) * n_bins + ev_b[e]) * n_codes + ev_c[e]
        hist = np.bincount(flat, minlength=(p1 - p0) * n_bins * n_codes)
        cum = np.cumsum(hist.reshape(p1 - p0, n_bins, n_codes), axis=1, dtype=np.int32)
        cum = cum.reshape(-1)
        # cum[p, j, c] counts bins 0 .. j, i.e. events before days[j].
        base = (row_sorted[r0:r1] - p0) * n_bins
        for k in range(n_q):
            idx = ((base + q_sorted[r0:r1, k]) * n_codes)[:, None] + codes
            res[r0:r1, k, :] = cum[idx]
    out[row_order] = res


def _count_search(
    ev_p: np.ndarray,
    ev_d: np.ndarray,
    ev_c: np.ndarray,
    row_p: np.ndarray,
    q_day: np.ndarray,
    n_codes: int,
    out: np.ndarray,
) -> None:
    d0 = int(ev_d.min())
    span = int(ev_d.max()) - d0 + 1
    keys = np.sort((ev_p * n_codes + ev_c) * span + (ev_d - d0))
    q = np.clip(q_day - d0, 0, span)
    for c in range(n_codes):
        base = (row_p.astype(np.int64) * n_codes + c) * span
        first = np.searchsorted(keys, base)  # the (person, code) block starts here
        for k in range(q_day.shape[1]):
            out[:, k, c] = np.searchsorted(keys, base + q[:, k]) - first
