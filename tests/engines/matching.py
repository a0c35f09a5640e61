"""A stand-in for matching in the engine tests: deterministic, so every engine gets one input."""

from __future__ import annotations

import pandas as pd


def simple_matching(candidates: pd.DataFrame) -> pd.DataFrame:
    """Each participant with up to two unused candidate rows of its week (the lowest row_ids).

    The last control found is left without a matched set (``subclass`` empty, as matching with
    replacement leaves them), so that the panel's own-index-date path runs too.
    """
    c = candidates
    used: set[int] = set()
    rows = []
    for p in c[c["referred"] == 1].itertuples():
        rows.append((p.row_id, 1, p.row_id, 1.0))
        week = c[(c["referred"] == 0) & (c["index_week"] == p.index_week)]
        free = [int(r) for r in week["row_id"] if int(r) not in used][:2]
        used.update(free)
        rows += [(r, 0, p.row_id, 0.5) for r in free]
    out = pd.DataFrame(rows, columns=["row_id", "referred", "subclass", "weight"])
    out["subclass"] = out["subclass"].astype("Int64")
    ctrl = out.index[out["referred"] == 0]
    if len(ctrl):
        out.loc[ctrl[-1], "subclass"] = pd.NA
    return out
