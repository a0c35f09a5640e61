"""Naive pre/post change for the treated alone (evalkit.stats.naive).

Reference: the rate ratio is the ratio of the crude rates after and before (a Poisson GLM on a
single 0/1 regressor with a log person-time offset reproduces the crude ratio exactly, up to
the solver's tolerance, here 1e-8 relative).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evalkit.stats.naive import NaiveResult, naive_prepost
from evalkit.stats.result import Result


def _treated_panel(seed: int = 0, n_units: int = 60) -> pd.DataFrame:
    """Person-months of treated people only: 3 before, 3 after, a rate ratio of about 0.7."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), 6)
    post = np.tile([0, 0, 0, 1, 1, 1], n_units)
    exposure = rng.uniform(0.5, 1.0, len(unit))
    events = rng.poisson(0.4 * exposure * np.where(post == 1, 0.7, 1.0))
    return pd.DataFrame({"id": unit, "post": post, "events": events, "exposure": exposure})


def test_naive_rate_ratio_equals_ratio_of_crude_rates() -> None:
    df = _treated_panel()
    res = naive_prepost(df, "events", "id", "post", exposure="exposure", window_months=3)
    after, before = (df[df["post"] == k] for k in (1, 0))
    crude = (after["events"].sum() / after["exposure"].sum()) / (
        before["events"].sum() / before["exposure"].sum()
    )
    assert res.rate_ratio == pytest.approx(crude, rel=1e-8)
    assert res.rr_ci_low < res.rate_ratio < res.rr_ci_high
    assert res.n_units == 60


def test_naive_result_is_a_result_with_json_safe_dict() -> None:
    df = _treated_panel(seed=1)
    df.loc[0, "exposure"] = 0.0
    res = naive_prepost(df, "events", "id", "post", exposure="exposure", window_months=3)
    assert isinstance(res, NaiveResult) and isinstance(res, Result)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["analysis"] == "naive_prepost"
    assert d["rate_ratio"] == pytest.approx(res.rate_ratio)
    assert d["spec"]["window_months"] == 3
    assert d["notes"] == ["1 rows with no person-time at risk left out."]
    assert [r["scale"] for r in d["table"]] == ["rate_ratio", "difference_per_person"]
    assert repr(res) == res.summary()
    assert res._repr_html_().startswith("<pre>Naive pre/post (events)")
