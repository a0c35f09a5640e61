"""Greedy nearest-neighbour matching on a one-dimensional distance, without an all-pairs matrix.

The rules (the public docstring of :func:`evalkit.stats.matching.match` and
``docs/decisions/matching.md`` state them for users):

* Controls are eligible for a treated row when they share its exact stratum, lie within the
  caliper (``abs(d_c - d_t) <= width`` in floating point), do not share its ``unit``, have not
  already been matched to it, and are still available: without replacement a control row is used
  at most once; with ``unit`` a unit supplies at most one control row overall (with replacement
  that one row may be reused).  With ``available_until`` a control row may serve only treated
  rows whose ``time`` is earlier than its own ``available_until`` (a risk set's candidate who
  becomes treated later in the period can serve the treated rows before that moment only).
* ``ratio`` rounds: in round ``j`` every treated row, in the given order, takes its nearest
  eligible control.  The eligible pool only shrinks, so a treated row that finds no control in a
  round finds none later either.
* Nearest means smallest exact ``abs(d_c - d_t)``; ties go to the control with the smaller
  distance value, then to the smaller label rank (the position of the row's index label in
  sorted order).  The rule never looks at row order, so shuffling the input cannot change the
  result.

Why hand-written: no maintained Python library does MatchIt-style greedy k-round matching with
exact strata, calipers, a unit constraint and documented tie-breaking.  The implementation sorts
the controls of each stratum by ``(distance, label rank)`` once; a treated row's two candidate
neighbours are found by binary search, and used controls are skipped with two "next available"
maps (union-find with path compression), so each step costs about ``O(log n)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

import numpy as np

__all__ = ["REASONS", "GreedyResult", "greedy_match"]

#: Reasons a treated row found no control, in the order they are checked.
REASONS = {
    "no_controls_in_stratum": "no control rows share its exact stratum",
    "no_control_within_caliper": "no control in its stratum lies within the caliper",
    "controls_used": (
        "every control within the caliper was already used by another participant "
        "(or belongs to the participant's own unit, or was no longer available at its time)"
    ),
}


@dataclass(frozen=True)
class GreedyResult:
    """Raw output of :func:`greedy_match` (row positions, not labels).

    Attributes
    ----------
    treated : np.ndarray
        Row position of the treated row of each matched pair.
    control : np.ndarray
        Row position of the control row of each matched pair.
    round : np.ndarray
        Round (1-based) in which the pair was formed.
    n_matches : np.ndarray
        Number of controls found, per treated row, aligned with ``treated_rows``.
    treated_rows : np.ndarray
        Row positions of all treated rows (in ascending position order).
    reason : np.ndarray
        Reason key (see ``REASONS``) for treated rows with no control, else ``""``.
    """

    treated: np.ndarray
    control: np.ndarray
    round: np.ndarray
    n_matches: np.ndarray
    treated_rows: np.ndarray
    reason: np.ndarray


def _exact_le(a_low: float, t: float, a_high: float) -> bool:
    """Whether ``t - a_low <= a_high - t`` holds exactly (dyadic rationals, no rounding)."""
    ft = Fraction(t)
    return ft - Fraction(a_low) <= Fraction(a_high) - ft


def _groups(stratum: np.ndarray) -> list[np.ndarray]:
    """Positions of each stratum code present, ascending within a code (a stable grouping).

    A few codes (the usual exact-matching case) are found with one comparison each; many
    codes with a stable sort, which is slower for few.
    """
    counts = np.bincount(stratum)
    codes = np.flatnonzero(counts)
    if codes.size <= 8:
        return [np.flatnonzero(stratum == c) for c in codes]
    by_s = np.argsort(stratum, kind="stable")
    return np.split(by_s, np.cumsum(counts[codes])[:-1])


def _within_reach(dd: np.ndarray, tv: np.ndarray, width: float) -> np.ndarray | None:
    """Mask of ``dd`` that may lie within ``width`` of a value of sorted ``tv`` (None: all may).

    A superset of the matcher's own test ``abs(d_c - d_t) <= width``: the caliper intervals
    around the treated values are widened by far more than floating-point rounding of that test
    can move a boundary, then merged, so a control is tested against a handful of intervals
    rather than searched among every treated value. Rows kept though outside every caliper are
    never matched and never decide a reason (every eligible control is nearer).
    """
    big = max(abs(float(tv[0])), abs(float(tv[-1])), width)
    reach = width * (1 + 1e-9) + 1e-12 * big
    lo, hi = tv - reach, tv + reach
    brk = np.flatnonzero(lo[1:] > hi[:-1]) + 1
    starts = lo[np.concatenate([[0], brk])]
    ends = hi[np.concatenate([brk - 1, [tv.size - 1]])]
    if starts.size == 1:
        keep = (dd >= starts[0]) & (dd <= ends[0])
    else:
        j = np.searchsorted(starts, dd, side="right") - 1
        keep = (j >= 0) & (dd <= ends[np.maximum(j, 0)])
    return None if keep.all() else keep


def _sort_controls(
    d: np.ndarray,
    stratum: np.ndarray,
    rank: np.ndarray,
    treated_d: dict[int, np.ndarray] | None = None,
    width: float | None = None,
) -> np.ndarray:
    """Positions (into the inputs) sorted by (stratum, d, rank), like ``np.lexsort``.

    Faster than ``np.lexsort((rank, d, stratum))`` on large pools: strata are grouped first and
    each is sorted on its own (smaller sorts, better cache use) by one float sort; only the runs
    of tied distances are then reordered by rank, with one integer sort over the tied rows. With
    a caliper (``treated_d``: sorted treated distances per stratum, and ``width``), rows farther
    than the caliper from every treated row of their stratum are dropped first (see
    :func:`_within_reach`): they can never be matched, and sorting only the rest is what makes
    county-scale pools fast.
    """
    m = d.shape[0]
    if m == 0:
        return np.empty(0, dtype=np.int64)
    n_r = int(rank.max()) + 1
    parts = []
    for sub in _groups(stratum):
        dd = d[sub]
        if width is not None and treated_d is not None:
            keep = _within_reach(dd, treated_d[int(stratum[sub[0]])], width)
            if keep is not None:
                sub, dd = sub[keep], dd[keep]
            if sub.size == 0:
                continue
        oo = np.argsort(dd)
        ds = dd[oo]
        tie = ds[1:] == ds[:-1]
        if tie.any():
            in_run = np.zeros(ds.size, dtype=bool)
            in_run[1:] = tie
            in_run[:-1] |= tie
            pos = np.flatnonzero(in_run)
            run = np.concatenate([[0], np.cumsum(~tie)])[pos]
            tied = oo[pos]
            oo[pos] = tied[np.argsort(run * n_r + rank[sub[tied]])]
        parts.append(sub[oo])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class _Pool:
    """The controls that can be matched, sorted by (stratum, distance, label rank).

    Attributes
    ----------
    rows : np.ndarray
        Input row position of each sorted control.
    distance : np.ndarray
        Distance of each sorted control.
    start, end : np.ndarray
        First and one-past-last sorted position of each stratum code.
    block_start : np.ndarray
        First position of the run of equal (stratum, distance) each position belongs to: the
        smallest label of a tie.
    unit : np.ndarray or None
        Unit code of each sorted control.
    unit_positions : dict
        Unit code -> sorted positions of its controls, to retire a unit's other rows at once.
    """

    rows: np.ndarray
    distance: np.ndarray
    start: np.ndarray
    end: np.ndarray
    block_start: np.ndarray
    unit: np.ndarray | None
    unit_positions: dict[int, np.ndarray]


def _treated_distances(
    d: np.ndarray, stratum: np.ndarray, treated_rows: np.ndarray
) -> dict[int, np.ndarray]:
    """Sorted treated distances per stratum code (for pruning the pool to the caliper)."""
    t_str_all = stratum[treated_rows]
    o_t = np.lexsort((d[treated_rows], t_str_all))
    ts, tds = t_str_all[o_t], d[treated_rows][o_t]
    cuts = np.concatenate([[0], np.flatnonzero(ts[1:] != ts[:-1]) + 1, [ts.size]])
    return {int(ts[a]): tds[a:b] for a, b in pairwise(cuts)}


def _unit_positions(cunit: np.ndarray) -> dict[int, np.ndarray]:
    """Sorted-control positions of each unit (CSR)."""
    out: dict[int, np.ndarray] = {}
    uo = np.argsort(cunit, kind="stable")
    us = cunit[uo]
    cut = np.flatnonzero(np.diff(us)) + 1
    for grp in np.split(uo, cut):
        if grp.size:
            out[int(cunit[grp[0]])] = grp
    return out


def _build_pool(
    d: np.ndarray,
    stratum: np.ndarray,
    label_rank: np.ndarray,
    ctrl_rows: np.ndarray,
    has_treated: np.ndarray,
    treated_d: dict[int, np.ndarray] | None,
    caliper_width: float | None,
    unit: np.ndarray | None,
) -> _Pool:
    """Sort the usable controls once: the only order the matcher uses."""
    # Controls in strata without treated rows can never be used: leave them out of the sort.
    if not has_treated.all():
        ctrl_rows = ctrl_rows[has_treated[stratum[ctrl_rows]]]
    order = _sort_controls(
        d[ctrl_rows], stratum[ctrl_rows], label_rank[ctrl_rows], treated_d, caliper_width
    )
    cs = ctrl_rows[order]
    cd = d[cs]
    cstr = stratum[cs]
    m = cs.shape[0]
    codes = np.arange(has_treated.shape[0])
    new_block = np.ones(m, dtype=bool)
    if m > 1:
        new_block[1:] = (cd[1:] != cd[:-1]) | (cstr[1:] != cstr[:-1])
    block_start = np.maximum.accumulate(np.where(new_block, np.arange(m), 0)) if m else new_block
    cunit = unit[cs] if unit is not None else None
    return _Pool(
        rows=cs,
        distance=cd,
        start=np.searchsorted(cstr, codes, side="left"),
        end=np.searchsorted(cstr, codes, side="right"),
        block_start=block_start,
        unit=cunit,
        unit_positions=_unit_positions(cunit) if cunit is not None else {},
    )


def _insertion_points(
    pool: _Pool, d: np.ndarray, stratum: np.ndarray, treated_rows: np.ndarray
) -> np.ndarray:
    """Per row: insertion point of each treated row among its stratum's sorted controls.

    The first sorted position whose distance is ``>= d_t`` (only treated rows are filled in).
    """
    ins = np.empty(d.shape[0], dtype=np.int64)
    t_str = stratum[treated_rows]
    for s in np.unique(t_str):
        sel = treated_rows[t_str == s]
        lo, hi = pool.start[s], pool.end[s]
        ins[sel] = lo + np.searchsorted(pool.distance[lo:hi], d[sel], side="left")
    return ins


class _Available:
    """Which sorted positions are still available: two "next available" maps (union-find).

    Only removed positions have an entry (the keys of ``right`` are the removed positions);
    lookups compress the paths they walk.
    """

    __slots__ = ("left", "right")

    def __init__(self) -> None:
        self.right: dict[int, int] = {}
        self.left: dict[int, int] = {}

    def next_right(self, i: int) -> int:
        """The first available position at or after ``i``."""
        nxt_r = self.right
        root = i
        while root in nxt_r:
            root = nxt_r[root]
        while i != root:
            nxt = nxt_r[i]
            nxt_r[i] = root
            i = nxt
        return root

    def next_left(self, i: int) -> int:
        """The last available position at or before ``i``."""
        nxt_l = self.left
        root = i
        while root in nxt_l:
            root = nxt_l[root]
        while i != root:
            nxt = nxt_l[i]
            nxt_l[i] = root
            i = nxt
        return root

    def remove(self, i: int) -> None:
        """Take position ``i`` out of the pool."""
        self.right[i] = i + 1
        self.left[i] = i - 1


def _nearest(
    pool: _Pool,
    avail: _Available,
    dt: float,
    p: int,
    stratum: int,
    excluded: Callable[[int], bool],
) -> int | None:
    """Sorted position of the nearest available, not excluded control in ``stratum``.

    ``p`` is the treated row's insertion point; None when the stratum has no such control.
    """
    # Python ints: comparing them with numpy scalars in the loops below is several times slower.
    lo, hi = int(pool.start[stratum]), int(pool.end[stratum])
    find_r, find_l = avail.next_right, avail.next_left
    r = find_r(p)
    while r < hi and excluded(r):
        r = find_r(r + 1)
    q = find_l(p - 1)
    while q >= lo and excluded(q):
        q = find_l(q - 1)
    if q >= lo:
        # Among controls tied at d[q], take the smallest label (first in the run).
        q2 = find_r(max(int(pool.block_start[q]), lo))
        while excluded(q2):
            q2 = find_r(q2 + 1)
        q = q2
    has_r, has_l = r < hi, q >= lo
    if has_l and has_r:
        cd = pool.distance
        gap_l = abs(cd[q] - dt)
        gap_r = abs(cd[r] - dt)
        if gap_l < gap_r:
            return q
        if gap_r < gap_l:
            return r
        # Rounded gaps tie: decide exactly; an exact tie goes to the smaller value.
        return q if _exact_le(cd[q], dt, cd[r]) else r
    if has_l:
        return q
    return r if has_r else None


def _retire(
    pool: _Pool, avail: _Available, pick: int, replace: bool, used_unit_row: dict[int, int]
) -> None:
    """Remove a chosen control (without replacement) and its unit's other rows (with a unit)."""
    if not replace:
        avail.remove(pick)
    if pool.unit is not None:
        u = int(pool.unit[pick])
        if u not in used_unit_row:
            used_unit_row[u] = pick
            removed = avail.right  # its keys are the removed positions
            for pos in pool.unit_positions[u]:
                if pos != pick and pos not in removed:
                    avail.remove(int(pos))


def _unmatched_reasons(
    pool: _Pool,
    d: np.ndarray,
    stratum: np.ndarray,
    ins: np.ndarray,
    treated_rows: np.ndarray,
    n_matches: np.ndarray,
    has_ctrl: np.ndarray,
    width: float | None,
) -> np.ndarray:
    """Reason key (see ``REASONS``) per treated row with no control, else ``""``."""
    cd = pool.distance
    reason = np.full(treated_rows.shape[0], "", dtype=object)
    for i in np.flatnonzero(n_matches == 0):
        t = int(treated_rows[i])
        s = stratum[t]
        lo, hi = pool.start[s], pool.end[s]
        if not has_ctrl[s]:
            reason[i] = "no_controls_in_stratum"
            continue
        if width is not None:
            p = int(ins[t])
            gaps = [abs(cd[j] - d[t]) for j in (p - 1, p) if lo <= j < hi]
            if not gaps or min(gaps) > width:
                reason[i] = "no_control_within_caliper"
                continue
        reason[i] = "controls_used"
    return reason


def _excluder(
    mine: list[int],
    cunit: np.ndarray | None,
    ut: int | None,
    until: np.ndarray | None,
    tt: float,
) -> Callable[[int], bool]:
    """The test of which available positions a treated row may still not take.

    Those are its own matches (``mine``), its own unit's controls (``ut``) and controls no
    longer available at its time ``tt``.
    """
    if cunit is None and until is None:
        return mine.__contains__  # the common case, without a closure per call

    def excluded(pos: int) -> bool:
        if cunit is not None and cunit[pos] == ut:
            return True
        if until is not None and until[pos] <= tt:
            return True
        return bool(mine) and pos in mine

    return excluded


def _rounds(
    pool: _Pool,
    d: np.ndarray,
    ins: np.ndarray,
    stratum: np.ndarray,
    treated_order: np.ndarray,
    ratio: int,
    width: float | None,
    replace: bool,
    unit: np.ndarray | None,
    time: np.ndarray | None,
    until: np.ndarray | None,
) -> tuple[list[int], list[int], list[int], dict[int, list[int]]]:
    """The ``ratio`` rounds: pairs (treated row, sorted control position, round) and matches."""
    order = np.asarray(treated_order, dtype=np.int64)
    order_t = order.tolist()
    # Per treated row, in processing order, as Python scalars (numpy scalars are slow in loops).
    order_d = d[order].tolist()
    order_ins = ins[order].tolist()
    order_s = stratum[order].tolist()
    avail = _Available()
    used_unit_row: dict[int, int] = {}
    matched_by: dict[int, list[int]] = {t: [] for t in order_t}
    active = [True] * len(order_t)
    pairs_t: list[int] = []
    pairs_c: list[int] = []
    pairs_r: list[int] = []
    cd = pool.distance
    # Round rnd: every treated row still active, in the given order, takes its nearest eligible
    # control; a row that finds none is retired (the pool only shrinks).
    for rnd in range(1, ratio + 1):
        for i, t in enumerate(order_t):
            if not active[i]:
                continue
            dt = order_d[i]
            mine = matched_by[t]
            excluded = _excluder(
                mine,
                pool.unit,
                unit[t] if unit is not None else None,
                until,
                float(time[t]) if until is not None and time is not None else 0.0,
            )
            pick = _nearest(pool, avail, dt, order_ins[i], order_s[i], excluded)
            if pick is None or (width is not None and abs(cd[pick] - dt) > width):
                active[i] = False
                continue
            mine.append(pick)
            pairs_t.append(t)
            pairs_c.append(pick)
            pairs_r.append(rnd)
            _retire(pool, avail, pick, replace, used_unit_row)
    return pairs_t, pairs_c, pairs_r, matched_by


def greedy_match(
    distance: np.ndarray,
    is_treated: np.ndarray,
    stratum: np.ndarray,
    label_rank: np.ndarray,
    treated_order: np.ndarray,
    *,
    ratio: int,
    caliper_width: float | None,
    replace: bool,
    unit: np.ndarray | None = None,
    time: np.ndarray | None = None,
    available_until: np.ndarray | None = None,
) -> GreedyResult:
    """Match treated rows to controls greedily, k rounds, as the module docstring states.

    Parameters
    ----------
    distance : np.ndarray
        Finite float distance per row.
    is_treated : np.ndarray
        Boolean, True for treated rows.
    stratum : np.ndarray
        Non-negative integer exact-stratum code per row (all zero without exact matching).
    label_rank : np.ndarray
        Rank of each row's index label in sorted order (unique integers); breaks ties.
    treated_order : np.ndarray
        Row positions of the treated rows in processing order (each treated row once).
    ratio : int
        Number of rounds (controls per treated row).
    caliper_width : float or None
        Maximum ``abs(d_c - d_t)``; None for no caliper.
    replace : bool
        Whether a control row may serve several treated rows.
    unit : np.ndarray or None
        Integer unit code per row; rows of one unit supply at most one control row, and a
        treated row never takes a control of its own unit.
    time, available_until : np.ndarray or None
        Float per row, given together: a control row may serve a treated row only when the
        treated row's ``time`` is strictly less than the control row's ``available_until``
        (``inf`` for a control that is always available).

    Returns
    -------
    GreedyResult
        Pairs (row positions) and, per treated row, the number of controls and a reason for
        treated rows left without any.
    """
    d = np.asarray(distance, dtype=np.float64)
    n = d.shape[0]
    stratum = np.asarray(stratum, dtype=np.int64)
    ctrl_rows = np.flatnonzero(~is_treated)
    treated_rows = np.flatnonzero(is_treated)
    n_str = int(stratum.max()) + 1 if n else 0
    has_ctrl = np.zeros(n_str, dtype=bool)
    has_ctrl[stratum[ctrl_rows]] = True
    has_t = np.zeros(n_str, dtype=bool)
    has_t[stratum[treated_rows]] = True
    treated_d = None
    if caliper_width is not None:
        treated_d = _treated_distances(d, stratum, treated_rows)
    pool = _build_pool(d, stratum, label_rank, ctrl_rows, has_t, treated_d, caliper_width, unit)
    ins = _insertion_points(pool, d, stratum, treated_rows)
    until = None
    if available_until is not None and time is not None:
        until = np.asarray(available_until, dtype=np.float64)[pool.rows]
    pairs_t, pairs_c, pairs_r, matched_by = _rounds(
        pool, d, ins, stratum, treated_order, ratio, caliper_width, replace, unit, time, until
    )
    n_matches_map = {t: len(v) for t, v in matched_by.items()}
    n_matches = np.array([n_matches_map.get(int(t), 0) for t in treated_rows], dtype=np.int64)
    reason = _unmatched_reasons(
        pool, d, stratum, ins, treated_rows, n_matches, has_ctrl, caliper_width
    )
    cs = pool.rows
    return GreedyResult(
        treated=np.asarray(pairs_t, dtype=np.int64),
        control=cs[np.asarray(pairs_c, dtype=np.int64)] if pairs_c else np.empty(0, np.int64),
        round=np.asarray(pairs_r, dtype=np.int64),
        n_matches=n_matches,
        treated_rows=treated_rows,
        reason=reason,
    )
