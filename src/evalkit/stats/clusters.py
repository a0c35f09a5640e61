"""Connected clusters of groups that share members: the resampling units of a bootstrap.

A bootstrap over matched sets treats the sets as independent. They are not when one person is
a control in several sets (or a control in one and a participant in another, as the target
trial allows before a person's own referral): resampling those sets apart splits one person's
rows between draws and understates the variance. The remedy is to resample *connected
clusters*: the connected components of the bipartite graph group <-> member (a member with
every group it belongs to, and every group with every member it holds), so that two groups
sharing no member directly but linked through a chain of shared members fall in one cluster.
Components are found with :func:`scipy.sparse.csgraph.connected_components` on that graph.

Nothing here knows what a group or a member is: :func:`connected_clusters` takes two columns
of ids. :func:`evalkit.stats.costs.matched_cost_difference` uses it with the matched set as the
group and the person as the member.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["ConnectedClusters", "connected_clusters"]


@dataclass(frozen=True)
class ConnectedClusters:
    """Connected components of a group <-> member graph, one label per group.

    Attributes
    ----------
    groups : pd.Index
        The groups, sorted (the order of :attr:`labels`).
    labels : np.ndarray
        Cluster of each group, ``0 .. n_clusters - 1``, numbered in the order of each cluster's
        first group; so when no member is shared, ``labels`` is ``0, 1, 2, ...`` and cluster k
        is group k.
    n_members : int
        Distinct members.
    n_members_shared : int
        Members belonging to more than one group.
    n_links : int
        Distinct (group, member) pairs.
    n_links_shared : int
        Those pairs whose member belongs to more than one group.
    """

    groups: pd.Index
    labels: np.ndarray
    n_members: int
    n_members_shared: int
    n_links: int
    n_links_shared: int

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.groups)

    @property
    def n_clusters(self) -> int:
        """Number of connected clusters."""
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    @property
    def sizes(self) -> np.ndarray:
        """Groups per cluster, in cluster order."""
        return np.bincount(self.labels, minlength=self.n_clusters)

    def of(self, groups: Any) -> np.ndarray:
        """Cluster label of each of ``groups`` (ids among :attr:`groups`).

        Raises
        ------
        KeyError
            A group that is not in the graph.
        """
        pos = self.groups.get_indexer(pd.Index(groups))
        if (pos < 0).any():
            raise KeyError("group(s) not in the graph")
        return self.labels[pos]

    def summary(self) -> dict[str, Any]:
        """Cluster sizes in groups: the figures a report gives beside the bootstrap.

        Returns
        -------
        dict
            ``n_groups``, ``n_clusters``, ``n_groups_largest_cluster``,
            ``n_groups_in_shared_clusters`` (groups in clusters of more than one group),
            ``share_groups_in_shared_clusters``, ``share_largest_cluster`` (its groups over all
            groups) and ``share_links_shared`` (group-member pairs whose member is in more than
            one group).
        """
        sizes = self.sizes
        n = self.n_groups
        shared = int(sizes[sizes > 1].sum())
        largest = int(sizes.max()) if len(sizes) else 0
        return {
            "n_groups": n,
            "n_clusters": self.n_clusters,
            "n_groups_largest_cluster": largest,
            "n_groups_in_shared_clusters": shared,
            "share_groups_in_shared_clusters": shared / n if n else float("nan"),
            "share_largest_cluster": largest / n if n else float("nan"),
            "share_links_shared": (
                self.n_links_shared / self.n_links if self.n_links else float("nan")
            ),
        }


def connected_clusters(groups: Any, members: Any) -> ConnectedClusters:
    """Connected clusters of groups linked by shared members.

    Each position ``i`` says that member ``members[i]`` belongs to group ``groups[i]``
    (repeats are harmless). Groups are nodes ``0 .. G - 1`` and members nodes ``G .. G + M - 1``
    of an undirected bipartite graph with an edge per pair; its connected components
    (:func:`scipy.sparse.csgraph.connected_components`) restricted to the group nodes are the
    clusters. Chains merge: groups A and C are one cluster when A shares a member with B and B
    another with C. Labels are renumbered in the order of each cluster's first group (groups
    sorted), which makes them deterministic whatever order the pairs come in.

    Parameters
    ----------
    groups, members : array-like
        Equal-length ids (any sortable type, no missing values).

    Returns
    -------
    ConnectedClusters

    Raises
    ------
    ValueError
        Lengths differ or an id is missing.

    Examples
    --------
    >>> c = connected_clusters(["a", "a", "b", "b", "c", "d"], [1, 2, 2, 3, 4, 3])
    >>> list(c.groups), c.labels.tolist(), c.sizes.tolist()
    (['a', 'b', 'c', 'd'], [0, 0, 1, 0], [3, 1])
    """
    g = pd.Series(np.asarray(groups))
    m = pd.Series(np.asarray(members))
    if len(g) != len(m):
        raise ValueError(f"groups and members differ in length ({len(g)} and {len(m)})")
    if g.isna().any() or m.isna().any():
        raise ValueError("groups and members must not have missing values")
    pairs = pd.DataFrame({"g": g, "m": m}).drop_duplicates()
    g_codes, g_index = pd.factorize(pairs["g"], sort=True)
    m_codes, m_index = pd.factorize(pairs["m"], sort=True)
    n_g, n_m = len(g_index), len(m_index)
    edges = sparse.coo_array(
        (np.ones(len(pairs), dtype=np.int8), (g_codes, n_g + m_codes)),
        shape=(n_g + n_m, n_g + n_m),
    )
    _, raw = connected_components(edges, directed=False)
    _, first, inverse = np.unique(raw[:n_g], return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    per_member = np.bincount(m_codes, minlength=n_m)
    return ConnectedClusters(
        groups=pd.Index(g_index),
        labels=rank[inverse.ravel()],
        n_members=n_m,
        n_members_shared=int((per_member > 1).sum()),
        n_links=len(pairs),
        n_links_shared=int((per_member[m_codes] > 1).sum()),
    )
