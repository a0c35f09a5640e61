"""Prior-use counts exact to the day: the numpy kernels against a brute force in Python.

The brute force applies the data contract's windows with :func:`evalkit.dates.add_months` on
``datetime.date`` values, one event and one row at a time.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from evalkit.cohort import prior_utilisation as pu
from evalkit.dates import add_months

EPOCH = dt.date(1970, 1, 1)
K = 3


def _day(d: dt.date) -> int:
    return (d - EPOCH).days


def _brute(ev_key, ev_day, ev_code, row_key, row_day, convention: str) -> np.ndarray:
    out = np.zeros((len(row_key), 2 * K), dtype=np.int64)
    for i, (rk, rd) in enumerate(zip(row_key, row_day, strict=True)):
        idx = EPOCH + dt.timedelta(days=int(rd))
        for j, w in enumerate((12, 3)):
            lo = add_months(idx, -w)
            for ek, ed, ec in zip(ev_key, ev_day, ev_code, strict=True):
                if ek != rk:
                    continue
                d = EPOCH + dt.timedelta(days=int(ed))
                inside = lo < d <= idx if convention == "day_after" else lo <= d < idx
                out[i, j * K + ec] += inside
    return out


def _events(rng: np.random.Generator, n_people: int, n: int) -> tuple[np.ndarray, ...]:
    key = rng.integers(0, n_people, n) * 7 + 100  # keys need not be 0..n-1
    day = rng.integers(_day(dt.date(2021, 1, 1)), _day(dt.date(2024, 6, 30)), n)
    return key, day, rng.integers(0, K, n)


# Tricky index dates: 31 January, 29 February, the 1st of a month, 30 November.
TRICKY = [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2023, 3, 1), dt.date(2023, 11, 30)]


@pytest.mark.parametrize("convention", ["day_after", "index"])
def test_prior_counts_days_equal_brute_force(convention: str) -> None:
    rng = np.random.default_rng(11)
    ev = _events(rng, 15, 600)
    # Events exactly on the window edges of the tricky dates, so the boundaries are exercised.
    edges = []
    for d in TRICKY:
        for w in (0, -3, -12):
            b = add_months(d, w)
            edges += [_day(b) - 1, _day(b), _day(b) + 1]
    ek = np.concatenate([ev[0], np.full(len(edges), 100)])
    ed = np.concatenate([ev[1], edges])
    ec = np.concatenate([ev[2], np.arange(len(edges)) % K])
    row_key = np.concatenate([rng.integers(0, 16, 80) * 7 + 100, np.full(len(TRICKY), 100)])
    row_day = np.concatenate(
        [
            rng.integers(_day(dt.date(2022, 1, 1)), _day(dt.date(2024, 6, 1)), 80),
            list(map(_day, TRICKY)),
        ]
    )
    got = pu.prior_counts_days(ek, ed, ec, row_key, row_day, K, convention)
    ref = _brute(ek, ed, ec, row_key, row_day, convention)
    np.testing.assert_array_equal(got, ref)
    assert ref[-len(TRICKY) :].sum() > 0  # the edge events are counted somewhere


@pytest.mark.parametrize("convention", ["day_after", "index"])
def test_prior_counts_grid_equal_days_and_brute_force(convention: str) -> None:
    rng = np.random.default_rng(5)
    ek, ed, ec = _events(rng, 25, 1500)
    mondays = np.arange(_day(dt.date(2022, 1, 3)), _day(dt.date(2024, 6, 1)), 7)
    grid = np.sort(rng.choice(mondays, 40, replace=False))
    ti = rng.integers(0, len(grid), 300)
    row_key = rng.integers(0, 26, 300) * 7 + 100  # one person has no events
    got = pu.prior_counts_grid(ek, ed, ec, row_key, ti, grid, K, convention)
    days = pu.prior_counts_days(ek, ed, ec, row_key, grid[ti], K, convention)
    np.testing.assert_array_equal(got, days)
    sub = slice(0, 40)
    ref = _brute(ek, ed, ec, row_key[sub], grid[ti][sub], convention)
    np.testing.assert_array_equal(got[sub], ref)


def test_prior_counts_grid_small_blocks_carry_over(monkeypatch: pytest.MonkeyPatch) -> None:
    # Blocks of one grid day: the running count must carry from block to block.
    rng = np.random.default_rng(8)
    ek, ed, ec = _events(rng, 10, 800)
    grid = np.arange(_day(dt.date(2023, 1, 2)), _day(dt.date(2024, 3, 1)), 7)
    ti = np.arange(len(grid)).repeat(3)
    rk = np.tile(np.array([100, 107, 114]), len(grid))
    whole = pu.prior_counts_grid(ek, ed, ec, rk, ti, grid, K)
    monkeypatch.setattr(pu, "_DENSE_CELLS", 1)
    np.testing.assert_array_equal(pu.prior_counts_grid(ek, ed, ec, rk, ti, grid, K), whole)
    np.testing.assert_array_equal(whole, pu.prior_counts_days(ek, ed, ec, rk, grid[ti], K))


def test_count_before_dense_and_search_methods_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    ek, ed, ec = _events(rng, 30, 2000)
    rk = rng.integers(0, 31, 500) * 7 + 100
    q = rng.integers(_day(dt.date(2020, 6, 1)), _day(dt.date(2025, 1, 1)), (500, 3))
    ref = np.zeros((500, 3, K), dtype=np.int64)
    for i in range(500):
        own = ek == rk[i]
        for j in range(3):
            for c in range(K):
                ref[i, j, c] = np.sum(own & (ec == c) & (ed < q[i, j]))
    both = pu.count_before(ek, ed, ec, rk, q, K)  # chooses a method by cost
    np.testing.assert_array_equal(both, ref)
    people, rp = np.unique(rk, return_inverse=True)
    pos = np.minimum(np.searchsorted(people, ek), len(people) - 1)
    keep = people[pos] == ek
    dense = np.zeros((500, 3, K), dtype=np.int32)
    search = np.zeros((500, 3, K), dtype=np.int32)
    days, qj = np.unique(q, return_inverse=True)
    args = (pos[keep], ed[keep], ec[keep], rp)
    pu._count_dense(*args, qj.reshape(q.shape), days, len(people), K, dense)
    pu._count_search(*args, q, K, search)
    np.testing.assert_array_equal(dense, ref)
    np.testing.assert_array_equal(search, ref)


def test_prior_counts_no_events_or_rows() -> None:
    empty = np.array([], dtype=np.int64)
    out = pu.prior_counts_days(empty, empty, empty, np.array([1, 2]), np.array([19000, 19001]), K)
    assert out.shape == (2, 2 * K) and not out.any()
    grid = pu.prior_counts_grid(empty, empty, empty, empty, empty, np.array([19000]), K)
    assert grid.shape == (0, 2 * K)
