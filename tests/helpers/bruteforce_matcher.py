"""Test-only brute-force greedy matcher, and the shared invariant checker for match results.

`bruteforce_match` is the obvious all-pairs implementation of the rules documented in
`evalkit.stats.matching.match` (and docs/decisions/matching.md). It shares no code with
evalkit's fast matcher: it receives the distance values and applies every rule literally,
scanning every control for every treated row in every round. Exact arithmetic
(fractions) decides "nearest", as the documented rule says.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd


def bruteforce_match(
    distance: dict[Any, float],
    treated: dict[Any, bool],
    *,
    stratum: dict[Any, Any] | None = None,
    unit: dict[Any, Any] | None = None,
    ratio: int = 1,
    caliper_width: float | None = None,
    replace: bool = False,
    order: str = "largest",
) -> dict[Any, list[Any]]:
    """Greedy k-round nearest-neighbour matching, all pairs, by the documented rules.

    Parameters
    ----------
    distance, treated, stratum, unit : dict
        Per row label: distance value, treated flag, exact stratum key, unit id.
    ratio : int
        Rounds.
    caliper_width : float or None
        Largest allowed float ``abs(d_c - d_t)``.
    replace : bool
        Whether a control row may serve several treated rows.
    order : {"largest", "smallest"}
        Treated rows by descending (ascending) distance, ties by ascending label.

    Returns
    -------
    dict
        Treated label -> list of control labels in the order chosen (rounds 1..k).
    """
    labels = sorted(distance)
    t_labels = [lab for lab in labels if treated[lab]]
    c_labels = [lab for lab in labels if not treated[lab]]
    sign = -1 if order == "largest" else 1
    t_order = sorted(t_labels, key=lambda lab: (sign * distance[lab], lab))
    matches: dict[Any, list[Any]] = {t: [] for t in t_order}
    used_rows: set[Any] = set()
    unit_row: dict[Any, Any] = {}  # unit -> the one control row it has supplied
    rules = _Rules(distance, stratum, unit, caliper_width, replace)

    for _round in range(ratio):
        for t in t_order:
            eligible = [c for c in c_labels if rules.eligible(c, t, matches, used_rows, unit_row)]
            if not eligible:
                continue
            best = _nearest(eligible, t, distance)
            matches[t].append(best)
            used_rows.add(best)
            if unit is not None:
                unit_row.setdefault(unit[best], best)
    return matches


class _Rules:
    """The documented eligibility rules, one literal check each."""

    def __init__(
        self,
        distance: dict[Any, float],
        stratum: dict[Any, Any] | None,
        unit: dict[Any, Any] | None,
        caliper_width: float | None,
        replace: bool,
    ) -> None:
        self.distance = distance
        self.stratum = stratum
        self.unit = unit
        self.caliper_width = caliper_width
        self.replace = replace

    def eligible(
        self,
        c: Any,
        t: Any,
        matches: dict[Any, list[Any]],
        used_rows: set[Any],
        unit_row: dict[Any, Any],
    ) -> bool:
        """Whether control ``c`` may be matched to treated ``t`` now."""
        stratum, unit, distance = self.stratum, self.unit, self.distance
        if stratum is not None and stratum[c] != stratum[t]:
            return False  # another exact stratum
        if unit is not None and unit[c] == unit[t]:
            return False  # the treated row's own unit
        if c in matches[t]:
            return False  # already matched to this treated row
        if not self.replace and c in used_rows:
            return False  # used, without replacement
        if unit is not None and unit[c] in unit_row and unit_row[unit[c]] != c:
            return False  # its unit already supplied another row
        w = self.caliper_width
        return w is None or abs(distance[c] - distance[t]) <= w  # inside the caliper


def _nearest(eligible: list[Any], t: Any, distance: dict[Any, float]) -> Any:
    """Smallest exact gap, then the smaller distance value, then the smaller label."""
    return min(
        eligible,
        key=lambda c: (
            abs(Fraction(distance[c]) - Fraction(distance[t])),
            distance[c],
            c,
        ),
    )


def pairs_by_treated(result: Any) -> dict[Any, list[Any]]:
    """The fast matcher's pairs as treated label -> controls in round order."""
    out: dict[Any, list[Any]] = defaultdict(list)
    for row in result.pairs.sort_values(["treated", "round"]).itertuples(index=False):
        out[row.treated].append(row.control)
    return dict(out)


def assert_valid_match(result: Any) -> None:
    """Invariants every `MatchResult` must satisfy (counts, reuse, strata, caliper, weights)."""
    data: pd.DataFrame = result.data
    spec = result.spec
    tcol = spec["treatment"]
    treated = data[tcol].astype(bool)
    m = result.matched
    pairs = result.pairs

    # Counts reconcile.
    assert result.n_treated == int(treated.sum())
    assert result.n_controls == int((~treated).sum())
    assert result.n_matched_treated + len(result.unmatched) == result.n_treated
    m_t = m[m[tcol].astype(bool)]
    m_c = m[~m[tcol].astype(bool)]
    assert len(m_t) == result.n_matched_treated
    assert len(m_c) == result.n_controls_matched
    assert set(pairs["treated"]) == set(m_t.index)
    assert set(pairs["control"]) == set(m_c.index)
    assert set(result.unmatched.index).isdisjoint(m_t.index)
    assert set(result.unmatched.index) | set(m_t.index) == set(data.index[treated])
    assert m.index.is_unique
    per_t = Counter(pairs["treated"])
    assert all(1 <= k <= spec["ratio"] for k in per_t.values())
    assert not pairs.duplicated(["treated", "control"]).any()
    assert (data.loc[pairs["control"], tcol].astype(bool) == False).all()  # noqa: E712

    # No control reused without replacement; subclasses are the matched sets.
    if not spec["replace"]:
        assert pairs["control"].is_unique
        assert m["subclass"].notna().all()
        for sub, grp in m.groupby("subclass"):
            assert grp[tcol].astype(bool).sum() == 1, sub
        sub_t = m.loc[pairs["treated"], "subclass"].to_numpy()
        sub_c = m.loc[pairs["control"], "subclass"].to_numpy()
        assert (sub_t == sub_c).all()
        assert sorted(m_t["subclass"]) == list(range(1, result.n_matched_treated + 1))
    else:
        assert m["subclass"].isna().all()

    # Exact strata and caliper respected; distance column is the matching distance.
    for col in spec["exact"]:
        assert (
            data.loc[pairs["treated"], col].to_numpy() == data.loc[pairs["control"], col].to_numpy()
        ).all(), col
    d = result.distance
    np.testing.assert_array_equal(m["distance"].to_numpy(), d.loc[m.index].to_numpy())
    if result.caliper_width is not None:
        gap = np.abs(d.loc[pairs["treated"]].to_numpy() - d.loc[pairs["control"]].to_numpy())
        assert (gap <= result.caliper_width).all()

    # Unit: a unit supplies at most one control row and never its own treated row's control.
    if spec["unit"] is not None:
        u = data[spec["unit"]]
        assert (u.loc[pairs["treated"]].to_numpy() != u.loc[pairs["control"]].to_numpy()).all()
        assert u.loc[m_c.index].is_unique

    # Weights as documented (MatchIt ATT).
    assert (m_t["weight"] == 1.0).all()
    raw = defaultdict(float)
    for t, k in per_t.items():
        for c in pairs.loc[pairs["treated"] == t, "control"]:
            raw[c] += 1.0 / k
    raw_s = pd.Series(raw)
    expected = raw_s * len(raw_s) / raw_s.sum()
    np.testing.assert_allclose(m_c["weight"].loc[expected.index], expected, rtol=1e-12)
    np.testing.assert_allclose(m_c["weight"].sum(), result.n_controls_matched, rtol=1e-12)
