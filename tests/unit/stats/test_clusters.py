"""Connected clusters of groups sharing members: hand-built graphs and an independent check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.stats.clusters import connected_clusters


def union_find_partition(groups, members) -> set[frozenset]:
    """Clusters as sets of groups, by a plain union-find over groups (an independent check)."""
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_group: dict = {}
    for g, m in zip(groups, members, strict=True):
        find(g)
        if m in first_group:
            parent[find(g)] = find(first_group[m])
        else:
            first_group[m] = g
    out: dict = {}
    for g in parent:
        out.setdefault(find(g), set()).add(g)
    return {frozenset(s) for s in out.values()}


def partition(c) -> set[frozenset]:
    return {frozenset(c.groups[c.labels == k]) for k in range(c.n_clusters)}


@pytest.mark.parametrize(
    ("groups", "members", "expected"),
    [
        # every member in one group: singletons, numbered in group order
        ([3, 1, 2, 1], ["a", "b", "c", "d"], [{1}, {2}, {3}]),
        # a chain: 1-2 share x, 2-3 share y, so 1 and 3 merge though they share nobody
        ([1, 1, 2, 2, 3, 3], ["p", "x", "x", "y", "y", "q"], [{1, 2, 3}]),
        # two chains and a singleton
        ([1, 2, 3, 4, 5, 5], ["x", "x", "y", "y", "z", "w"], [{1, 2}, {3, 4}, {5}]),
        # a member repeated within one group links nothing
        ([1, 1, 2], ["x", "x", "y"], [{1}, {2}]),
        # one member in every group: one cluster
        ([1, 2, 3, 4], ["x", "x", "x", "x"], [{1, 2, 3, 4}]),
    ],
)
def test_connected_clusters_hand_built_graphs(groups, members, expected) -> None:
    c = connected_clusters(groups, members)
    assert partition(c) == {frozenset(e) for e in expected}
    assert sorted(c.sizes.tolist()) == sorted(len(e) for e in expected)
    assert c.n_clusters == len(expected)


def test_connected_clusters_singletons_are_numbered_like_the_sorted_groups() -> None:
    c = connected_clusters([30, 10, 20], ["a", "b", "c"])
    assert list(c.groups) == [10, 20, 30]
    assert c.labels.tolist() == [0, 1, 2]
    assert c.n_members_shared == 0
    assert c.summary()["share_groups_in_shared_clusters"] == 0.0


def test_connected_clusters_summary_counts_sizes() -> None:
    # clusters {1, 2, 3} (chain), {4}, {5, 6}
    c = connected_clusters([1, 2, 2, 3, 4, 5, 6], ["x", "x", "y", "y", "z", "w", "w"])
    s = c.summary()
    assert s["n_groups"] == 6
    assert s["n_clusters"] == 3
    assert s["n_groups_largest_cluster"] == 3
    assert s["n_groups_in_shared_clusters"] == 5
    assert s["share_groups_in_shared_clusters"] == pytest.approx(5 / 6)
    assert s["share_largest_cluster"] == pytest.approx(3 / 6)
    # pairs (1,x) (2,x) (2,y) (3,y) (5,w) (6,w) have a shared member; (4,z) does not
    assert s["share_links_shared"] == pytest.approx(6 / 7)
    assert c.n_members_shared == 3


def test_connected_clusters_order_of_pairs_does_not_change_labels() -> None:
    rng = np.random.default_rng(3)
    g = rng.integers(0, 200, 500)
    m = rng.integers(0, 400, 500)
    a = connected_clusters(g, m)
    perm = rng.permutation(500)
    b = connected_clusters(g[perm], m[perm])
    assert a.groups.equals(b.groups)
    assert np.array_equal(a.labels, b.labels)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_connected_clusters_agree_with_union_find_on_random_graphs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 600
    g = rng.integers(0, 250, n)
    m = rng.integers(0, 700, n)  # some members in several groups, chains of various lengths
    c = connected_clusters(g, m)
    assert partition(c) == union_find_partition(g.tolist(), m.tolist())
    # labels follow each cluster's first group
    firsts = [int(np.flatnonzero(c.labels == k)[0]) for k in range(c.n_clusters)]
    assert firsts == sorted(firsts)


def test_connected_clusters_of_maps_groups_to_labels() -> None:
    c = connected_clusters(["a", "b", "c"], [1, 1, 2])
    assert c.of(["c", "a", "b"]).tolist() == [1, 0, 0]
    with pytest.raises(KeyError):
        c.of(["z"])


@pytest.mark.parametrize(
    ("groups", "members", "message"),
    [
        ([1, 2], [1], "length"),
        ([1, None], [1, 2], "missing"),
        ([1, 2], [np.nan, 2], "missing"),
    ],
)
def test_connected_clusters_invalid_input_raises(groups, members, message) -> None:
    with pytest.raises(ValueError, match=message):
        connected_clusters(pd.Series(groups), pd.Series(members))
