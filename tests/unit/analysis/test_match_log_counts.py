"""Balance on raw counts after a log1p propensity model: re-described, not re-matched.

Until 0.4 ``_match_log_counts`` matched twice (the second time on the first call's distance) to
get a balance table on the raw counts; :meth:`MatchResult.with_balance_on` gives it without the
second matching. The reference here is that second matching, done as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evalkit.analysis import utilisation as U
from evalkit.stats.matching import match


@pytest.mark.parametrize("programme", ["mindsong", "cyp"])
def test_rebalanced_equals_matching_again(demo_matched: Mapping[str, Any], programme: str) -> None:
    mc = demo_matched[programme]
    cand = mc.cohort.candidates
    spec = mc.spec
    covariates = mc.cohort.covariate_columns(spec["covariates"])
    fast = U._match_log_counts(cand, covariates, spec)

    counts = [c for c in covariates if c.startswith(U.LOG_COUNT_PREFIXES)]
    logged = {f"log1p_{c}": np.log1p(cand[c].to_numpy(dtype=np.float64)) for c in counts}
    data = cand.assign(**logged)
    common = dict(
        treatment="referred",
        exact=spec["exact"],
        ratio=spec["ratio"],
        caliper=spec["caliper"],
        replace=spec["replace"],
        unit=spec.get("unit"),
        sample_controls_above=spec["sample_controls_above"],
        seed=spec["seed"],
        time="index_date",
        available_until=spec["available_until"],
    )
    ps_cov = [f"log1p_{c}" if c in counts else c for c in covariates]
    m_ps = match(data, covariates=ps_cov, distance=spec["distance"], **common)
    data[U._PS_DISTANCE] = m_ps.distance
    slow = match(data, covariates=covariates, distance=U._PS_DISTANCE, **common)

    pd.testing.assert_frame_equal(fast.matched, slow.matched)
    pd.testing.assert_frame_equal(fast.unmatched, slow.unmatched)
    pd.testing.assert_frame_equal(fast.pairs, slow.pairs)
    pd.testing.assert_series_equal(fast.distance, slow.distance)
    pd.testing.assert_frame_equal(fast.balance(), slow.balance())
    pd.testing.assert_frame_equal(fast.tidy(), slow.tidy())
    assert fast.caliper_width == slow.caliper_width
    assert (fast.n_treated, fast.n_controls, fast.n_matched_treated, fast.n_controls_matched) == (
        slow.n_treated,
        slow.n_controls,
        slow.n_matched_treated,
        slow.n_controls_matched,
    )


def test_with_balance_on_needs_the_same_rows(demo_matched: Mapping[str, Any]) -> None:
    m = demo_matched["mindsong"].match
    with pytest.raises(ValueError, match="same order"):
        m.with_balance_on(m.data.iloc[::-1], ["age"])
