"""The report's sentences on heterogeneity by deprivation (reporting.findings).

They read ``results.json``'s ``outcomes_by_deprivation.heterogeneity``: one joint Wald test per
outcome (chi-square with k - 1 df), no Cochran's Q and no I².
"""

from __future__ import annotations

from evalkit.reporting.findings import deprivation_findings


def _results(p: float | None, df: int = 2) -> dict:
    het = {"test": "wald", "distribution": "chi2", "statistic": 1.0, "df": df, "p_value": p}
    return {"outcomes_by_deprivation": {"heterogeneity": {"gp_appointment": het}}}


def test_deprivation_findings_names_the_wald_test_groups_and_df() -> None:
    (line,) = deprivation_findings(_results(0.3, df=4))
    assert "the 5 deprivation groups (Wald, chi-square with 4 df) p = 0.30" in line
    assert "does not distinguish" in line and "not evidence that they are equal" in line
    assert "I²" not in line and "Q" not in line


def test_deprivation_findings_small_p_says_the_estimates_appear_to_differ() -> None:
    (line,) = deprivation_findings(_results(0.01))
    assert line.endswith("the estimates appear to differ between groups.")


def test_deprivation_findings_without_a_p_value_says_nothing() -> None:
    assert deprivation_findings(_results(None)) == []
    assert deprivation_findings({}) == []
