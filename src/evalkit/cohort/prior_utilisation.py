"""Prior utilisation at index: events per setting in the 12 and 3 calendar months before it.

A row's prior-``w`` count is its events in ``[index - w months, index)`` (event months ``-w``
.. ``-1`` of the data contract's "Time"). Participants' exact index dates use a date-range join
(:func:`prior_counts_exact`, cheap for a few thousand rows); candidate rows, indexed on the 1st
of a month, use whole calendar months (:func:`prior_counts_monthly`): activity is counted once
per person and calendar month and the windows are differences of cumulative sums.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from evalkit.cohort.tables import MAX_CANDIDATE_ROWS, Tables
from evalkit.dates import add_months_expr, month_index_expr, month_index_series

__all__ = ["PRIOR_WINDOWS", "prior_counts_exact", "prior_counts_monthly"]

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
