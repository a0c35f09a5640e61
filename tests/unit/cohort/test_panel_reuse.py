"""Panels reuse rows already computed for the same cohort, and are identical to direct ones.

The sensitivity battery re-matches on one cohort (calipers, ratios, per-protocol), so most of
its units' (person, index date) pairs were computed for the main panel; ``build_panel`` fetches
only new pairs from the engine. The reference is the direct computation, every unit sent to the
engine as it is (``_engine_panel``, with the reuse layer bypassed), on a copy of the cohort with
no cache (``dataclasses.replace`` makes one): comparing two runs of the reuse layer would not
catch an error inside it (a first version lost the follow-up cut at the controls' own referral,
and a test of reused against reused passed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pytest

from evalkit import engine
from evalkit.cohort import build_panel
from evalkit.cohort import panel as panel_module


@pytest.fixture
def direct(monkeypatch: pytest.MonkeyPatch):
    """Within the block, panels are computed directly: every unit to the engine, no reuse."""
    import contextlib

    def passthrough(tables, units, settings, lo, hi, cohort, convention, **kw):
        return panel_module._engine_panel(tables, units, settings, lo, hi, cohort, convention, **kw)

    @contextlib.contextmanager
    def block():
        with monkeypatch.context() as m:
            m.setattr(panel_module, "_reused_engine_panel", passthrough)
            yield

    return block


def _matched(mc: Any, keep_every: int) -> pd.DataFrame:
    """The main matched rows with every ``keep_every``-th matched set left out (a re-matching)."""
    m = mc.match.matched.copy()
    m["row_id"] = m.index
    sets = sorted(m["subclass"].dropna().unique())
    drop = set(sets[::keep_every])
    return m.loc[~m["subclass"].isin(drop)]


def test_reused_panel_equals_fresh(demo_matched: Mapping[str, Any], direct) -> None:
    mc = demo_matched["mindsong"]
    cohort = mc.cohort
    build_panel(cohort, _matched(mc, 10**9))  # warm: every main unit's rows computed
    subset = _matched(mc, 3)
    engine.fetch_log(reset=True)
    reused = build_panel(cohort, subset)
    fetched = engine.fetch_log().get("cohort", {"rows": 0})["rows"]
    with direct():
        fresh = build_panel(dataclasses.replace(cohort), subset)
    pd.testing.assert_frame_equal(reused, fresh)
    assert reused.attrs == fresh.attrs
    assert fetched == 0  # nothing new to fetch: every pair was computed for the main panel


def test_new_units_are_fetched_and_old_ones_not(demo_matched: Mapping[str, Any], direct) -> None:
    mc = demo_matched["mindsong"]
    cohort = dataclasses.replace(mc.cohort)  # an empty cache
    first = _matched(mc, 2)
    build_panel(cohort, first)
    engine.fetch_log(reset=True)
    both = build_panel(cohort, _matched(mc, 10**9))
    fetched = engine.fetch_log().get("cohort", {"rows": 0})["rows"]
    n_months = both["event_month"].nunique()
    new_pairs = (
        both[["person_id", "index_date"]].drop_duplicates().shape[0]
        - build_panel(cohort, first)[["person_id", "index_date"]].drop_duplicates().shape[0]
    )
    assert 0 < fetched <= new_pairs * n_months
    pd.testing.assert_frame_equal(
        both, build_panel(dataclasses.replace(cohort), _matched(mc, 10**9))
    )


def test_covariates_at_reused_equal_fresh(demo_matched: Mapping[str, Any]) -> None:
    """Re-measuring controls at inherited dates: cached pairs give exactly a fresh measurement."""
    mc = demo_matched["mindsong"]
    cohort = dataclasses.replace(mc.cohort)
    cand = cohort.candidates
    rows = cand.loc[cand.index[::50], ["person_id", "index_date"]]
    first = cohort.covariates_at(rows.iloc[: len(rows) // 2])
    more = pd.concat([rows, rows.iloc[:5]])  # duplicates, and a non-default index
    more.index = range(1000, 1000 + len(more))
    reused = cohort.covariates_at(more)
    from evalkit.cohort.at_dates import covariates_at  # the direct measurement, no reuse

    fresh = covariates_at(dataclasses.replace(mc.cohort), more)
    pd.testing.assert_frame_equal(reused, fresh)
    pd.testing.assert_frame_equal(first, fresh.iloc[: len(first)].set_axis(first.index))


def test_followup_cut_at_own_referral_reused_equal_fresh(
    demo_matched: Mapping[str, Any], direct
) -> None:
    """Controls' follow-up cut at their own referral: cached rows equal a fresh computation."""
    from evalkit.cohort.panel import followup_before_own_referral

    mc = demo_matched["mindsong"]
    cohort = dataclasses.replace(mc.cohort)
    panel = build_panel(cohort, _matched(mc, 10**9))
    subset = build_panel(cohort, _matched(mc, 2))
    followup_before_own_referral(cohort, subset)  # warm with part of the controls
    reused = followup_before_own_referral(cohort, panel)
    with direct():
        fresh = followup_before_own_referral(dataclasses.replace(mc.cohort), panel)
    assert len(fresh) > 0
    assert (fresh["exposure"] < 1).any()  # the cut at the own referral is there
    pd.testing.assert_frame_equal(reused, fresh)
