"""Difference-in-differences: textbook identities, independent implementations, truth, errors.

References used here and their tolerances:
- 2x2 panel: the difference of the four means and a CR1 sandwich computed with numpy in the
  test. Both are exact linear algebra, so the tolerances (1e-10 and 1e-8) are floating-point
  ones.
- pyfixest ``feols`` (since 0.4 also the engine of the linear fit, so no longer independent of
  it for the linear model; linearmodels ``PanelOLS`` is the independent reference, in
  ``test_did_fit_linear.py``). Both libraries remove the fixed
  effects by iterating until changes fall below 1e-8 (linearmodels: of each column's SD;
  pyfixest: ``fixef_tol`` 1e-8 by default), so estimates must agree to far better than 1e-5 of
  an SE; we require 1e-6 of an SE for the estimate and 1e-6 relative for the SE.
- statsmodels GLM Poisson with explicit unit and time dummies. Both fits stop on a relative
  deviance change (ours 1e-10, statsmodels ``tol=1e-12``), which leaves coefficient errors far
  below 1e-6 of an SE: we require that, and 1e-6 relative for the SE.
- pyfixest ``wald_test`` on the same event-study terms (an R matrix selecting the tested
  periods): the statistic to 1e-5 relative for the linear model (coefficients and sandwich as
  above) and 1e-4 for the Poisson model: the reference fit stops its IRLS at pyfixest's default
  ``iwls_tol`` (1e-8), ours at 1e-10, which moves the statistic by about 1e-5 relative.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from matplotlib.axes import Axes
from scipy import stats

from evalkit.stats.did import DID_TERM, TIDY_COLUMNS, DidResult, did
from evalkit.stats.result import Result

pf = pytest.importorskip("pyfixest")

SE_TOL = 1e-6  # see module docstring


# ---------------------------------------------------------------------- data
def _two_by_two(seed: int = 0, n_treated: int = 16, n_control: int = 24) -> pd.DataFrame:
    """Balanced 2-period panel; matched sets: treated unit i with controls i, i+16 (mod 16)."""
    rng = np.random.default_rng(seed)
    n = n_treated + n_control
    unit = np.repeat(np.arange(n), 2)
    t = np.tile([0, 1], n)
    treated = (unit < n_treated).astype(int)
    subclass = np.where(treated == 1, unit, (unit - n_treated) % n_treated)
    age = np.repeat(rng.normal(60, 10, n), 2)
    y = rng.normal(2, 1, 2 * n) + 0.7 * treated * t + 0.3 * t + 0.5 * treated
    return pd.DataFrame(
        {"id": unit, "t": t, "treat": treated, "post": t, "set": subclass, "age": age, "y": y}
    )


def _panel(
    seed: int,
    n_sets: int = 100,
    periods: range = range(-6, 6),
    effect: float = 0.5,
    pretrend: float = 0.0,
    drop: float = 0.0,
) -> pd.DataFrame:
    """Matched panel: sets of 1 treated + 3 controls, unit and period effects, known effect.

    ``pretrend`` adds ``pretrend * k`` to treated units in pre-periods k < 0; ``drop`` removes
    that share of rows at random (an unbalanced panel).
    """
    rng = np.random.default_rng(seed)
    n_units = 4 * n_sets
    periods_arr = np.asarray(periods)
    unit = np.repeat(np.arange(n_units), len(periods_arr))
    k = np.tile(periods_arr, n_units)
    treated = (unit % 4 == 0).astype(int)
    post = (k >= 0).astype(int)
    alpha = rng.normal(0, 1, n_units)[unit] + 0.4 * treated
    gamma = 0.05 * k + 0.3 * np.sin(k)
    y = alpha + gamma + effect * treated * post + rng.normal(0, 1, len(unit))
    y = y + pretrend * treated * np.where(k < 0, k, 0)
    df = pd.DataFrame(
        {
            "person": unit,
            "month": k,
            "referred": treated,
            "post": post,
            "subclass": unit // 4,
            "w": np.where(treated == 1, 1.0, 1.0 / 3.0) * rng.uniform(0.5, 1.5, n_units)[unit],
            "age": rng.normal(60, 10, n_units)[unit],
            "sex": rng.choice(["F", "M"], n_units)[unit],
            "y": y,
        }
    )
    if drop:
        df = df.loc[rng.random(len(df)) >= drop].reset_index(drop=True)
    return df


def _count_panel(
    seed: int,
    n_sets: int,
    periods: range,
    rate_ratio: float,
    base: float = 0.3,
    zero_units: int = 0,
) -> pd.DataFrame:
    """Poisson counts with exposure varying by unit-period and a known rate ratio."""
    rng = np.random.default_rng(seed)
    n_units = 4 * n_sets
    periods_arr = np.asarray(periods)
    unit = np.repeat(np.arange(n_units), len(periods_arr))
    k = np.tile(periods_arr, n_units)
    treated = (unit % 4 == 0).astype(int)
    post = (k >= 0).astype(int)
    frailty = rng.gamma(2.0, 0.5, n_units)[unit] * np.where(treated == 1, 1.5, 1.0)
    exposure = rng.uniform(0.3, 1.0, len(unit))
    mu = base * frailty * np.exp(0.02 * k) * rate_ratio ** (treated * post) * exposure
    y = rng.poisson(mu)
    if zero_units:
        y[np.isin(unit, np.arange(1, 1 + zero_units))] = 0  # controls with no events at all
    return pd.DataFrame(
        {
            "person": unit,
            "month": k,
            "referred": treated,
            "post": post,
            "subclass": unit // 4,
            "exposure": exposure,
            "events": y,
        }
    )


def _fit(df: pd.DataFrame, **kw) -> DidResult:
    args = {
        "outcome": "y",
        "unit": "person",
        "time": "month",
        "treated": "referred",
        "post": "post",
        "cluster": "subclass",
    }
    args.update(kw)
    return did(df, **args)


def _feols(fml: str, df: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(fml, data=df, vcov={"CRV1": "subclass"}, **kw)


# ---------------------------------------------------------------------- 2x2 identities
def test_did_balanced_2x2_estimate_equals_difference_of_four_means() -> None:
    df = _two_by_two()
    res = did(df, "y", "id", "t", "treat", "post", cluster="set")
    m = df.groupby(["treat", "post"])["y"].mean()
    expected = (m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0])
    assert res.estimate == pytest.approx(expected, abs=1e-10)
    assert (res.n, res.n_units, res.n_treated_units, res.n_control_units) == (80, 40, 16, 24)
    assert res.n_clusters == 16


def _within_2x2(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Two-way within transform of a balanced panel: x - x_i. - x_.t + x.."""
    out = []
    for c in cols:
        x = df[c].astype(float)
        out.append(
            x
            - df.groupby("id")[c].transform("mean")
            - df.groupby("t")[c].transform("mean")
            + x.mean()
        )
    return np.column_stack(out)


def _cr1(df: pd.DataFrame, regressors: list[str], k_extra: int = 0) -> np.ndarray:
    """CR1 covariance after the within transform, K = regressors (+ k_extra), numpy only."""
    x = _within_2x2(df, regressors)
    y = _within_2x2(df, ["y"])[:, 0]
    xtx_inv = np.linalg.inv(x.T @ x)
    b = xtx_inv @ x.T @ y
    e = y - x @ b
    groups = df["set"].to_numpy()
    meat = np.zeros((x.shape[1], x.shape[1]))
    for g in np.unique(groups):
        s = x[groups == g].T @ e[groups == g]
        meat += np.outer(s, s)
    n, g_count, k = len(df), len(np.unique(groups)), x.shape[1] + k_extra
    factor = g_count / (g_count - 1) * (n - 1) / (n - k)
    return factor * xtx_inv @ meat @ xtx_inv


def test_did_balanced_2x2_se_equals_numpy_cr1_sandwich() -> None:
    df = _two_by_two()
    df["dpost"] = df["treat"] * df["post"]
    res = did(df, "y", "id", "t", "treat", "post", cluster="set")
    v = _cr1(df, ["dpost"])
    assert res.std_error == pytest.approx(math.sqrt(v[0, 0]), abs=1e-8)


def test_did_2x2_with_covariate_se_uses_k_without_fixed_effects() -> None:
    # With a covariate x post term K = 2, so (N - 1) / (N - K) matters; counting the 40 unit and
    # 1 time effect as parameters too would give a visibly larger SE (that is what we must not do).
    df = _two_by_two(seed=3)
    df["dpost"] = df["treat"] * df["post"]
    df["age_post"] = df["age"] * df["post"]
    res = did(df, "y", "id", "t", "treat", "post", cluster="set", covariates=["age"])
    se = math.sqrt(_cr1(df, ["dpost", "age_post"])[0, 0])
    se_counting_effects = math.sqrt(_cr1(df, ["dpost", "age_post"], k_extra=41)[0, 0])
    assert res.std_error == pytest.approx(se, abs=1e-8)
    assert se_counting_effects > 1.3 * se
    age_row = res.tidy().set_index("term").loc["age_x_post"]
    assert age_row["std_error"] == pytest.approx(math.sqrt(_cr1(df, ["dpost", "age_post"])[1, 1]))


# ---------------------------------------------------------------------- independent: pyfixest
@pytest.mark.parametrize("drop", [0.0, 0.05], ids=["balanced", "unbalanced"])
def test_did_linear_matches_pyfixest_feols(drop: float) -> None:
    df = _panel(seed=11, n_sets=150, drop=drop)
    df["tp"] = df["referred"] * df["post"]
    res = _fit(df)
    ref = _feols("y ~ tp | person + month", df, ssc=pf.ssc(k_fixef="none"))
    se_ref = float(ref.se()["tp"])
    assert res.estimate == pytest.approx(float(ref.coef()["tp"]), abs=SE_TOL * se_ref)
    assert res.std_error == pytest.approx(se_ref, rel=SE_TOL)
    lo, hi = ref.confint().loc["tp"]
    assert (res.ci_low, res.ci_high) == pytest.approx((lo, hi), abs=SE_TOL * se_ref)
    assert res.p_value == pytest.approx(float(ref.pvalue()["tp"]), rel=1e-4)
    # pyfixest's default ssc (k_fixef="nonnested") also counts the period effects, which are
    # not nested in the clusters: its K is k + T (T - 1 period dummies plus one for the nested
    # unit effects). Undo that factor explicitly: ours = default * sqrt((N - k - T) / (N - k)).
    default = _feols("y ~ tp | person + month", df)
    n, k, t = len(df), 1, df["month"].nunique()
    adjusted = float(default.se()["tp"]) * math.sqrt((n - k - t) / (n - k))
    assert res.std_error == pytest.approx(adjusted, rel=SE_TOL)


def test_did_linear_recovers_known_effect_within_3_se() -> None:
    df = _panel(seed=5, n_sets=150, effect=0.5)
    res = _fit(df)
    assert abs(res.estimate - 0.5) < 3 * res.std_error


def test_did_linear_weighted_matches_pyfixest_feols_weights() -> None:
    df = _panel(seed=12, n_sets=120, drop=0.03)
    df["tp"] = df["referred"] * df["post"]
    res = _fit(df, weights="w")
    ref = _feols("y ~ tp | person + month", df, weights="w", ssc=pf.ssc(k_fixef="none"))
    se_ref = float(ref.se()["tp"])
    assert res.estimate == pytest.approx(float(ref.coef()["tp"]), abs=SE_TOL * se_ref)
    assert res.std_error == pytest.approx(se_ref, rel=SE_TOL)
    assert "Observations weighted by 'w'." in res.notes


def test_did_covariates_enter_as_covariate_x_post_like_pyfixest() -> None:
    df = _panel(seed=13, n_sets=100)
    df["tp"] = df["referred"] * df["post"]
    df["age_post"] = df["age"] * df["post"]
    df["male_post"] = (df["sex"] == "M") * df["post"]
    res = _fit(df, covariates=["age", "sex"])
    ref = _feols("y ~ tp + age_post + male_post | person + month", df, ssc=pf.ssc(k_fixef="none"))
    tidy = res.tidy().set_index("term")
    for ours, theirs in [
        (DID_TERM, "tp"),
        ("age_x_post", "age_post"),
        ("sex[M]_x_post", "male_post"),
    ]:
        se_ref = float(ref.se()[theirs])
        assert tidy.loc[ours, "estimate"] == pytest.approx(ref.coef()[theirs], abs=SE_TOL * se_ref)
        assert tidy.loc[ours, "std_error"] == pytest.approx(se_ref, rel=SE_TOL)
    assert res.spec["k"] == 3


def test_did_post_varying_within_period_enters_post_term() -> None:
    # Calendar-time panel: each matched set has its own index month, which its controls inherit,
    # so post is not a function of the period and must be entered on its own.
    rng = np.random.default_rng(14)
    n_sets, months = 120, np.arange(16)
    unit = np.repeat(np.arange(4 * n_sets), len(months))
    month = np.tile(months, 4 * n_sets)
    subclass = unit // 4
    index_month = rng.integers(5, 11, n_sets)[subclass]
    referred = (unit % 4 == 0).astype(int)
    post = (month >= index_month).astype(int)
    y = rng.normal(0, 1, 4 * n_sets)[unit] + 0.1 * month + 0.3 * post + 0.5 * referred * post
    y = y + rng.normal(0, 1, len(unit))
    df = pd.DataFrame(
        {
            "person": unit,
            "month": month,
            "referred": referred,
            "post": post,
            "subclass": subclass,
            "y": y,
        }
    )
    df["tp"] = df["referred"] * df["post"]
    res = _fit(df)
    ref = _feols("y ~ tp + post | person + month", df, ssc=pf.ssc(k_fixef="none"))
    se_ref = float(ref.se()["tp"])
    assert res.estimate == pytest.approx(float(ref.coef()["tp"]), abs=SE_TOL * se_ref)
    assert res.std_error == pytest.approx(se_ref, rel=SE_TOL)
    assert "post" in set(res.tidy()["term"])
    assert any("not absorbed by the period effects" in n for n in res.notes)
    with pytest.raises(ValueError, match="time relative to treatment"):
        _fit(df, event_study=True)


# ---------------------------------------------------------------------- Poisson
def test_did_poisson_recovers_known_rate_ratio_within_3_se() -> None:
    df = _count_panel(seed=21, n_sets=400, periods=range(-12, 12), rate_ratio=0.8)
    res = _fit(df, outcome="events", exposure="exposure", model="poisson")
    assert res.scale == "rate_ratio"
    assert abs(math.log(res.estimate) - math.log(0.8)) < 3 * res.std_error
    assert res.ci_low < res.estimate < res.ci_high
    assert res.coefficient == pytest.approx(math.log(res.estimate))


def test_did_poisson_matches_statsmodels_glm_with_dummies() -> None:
    df = _count_panel(seed=22, n_sets=15, periods=range(-3, 3), rate_ratio=0.7, zero_units=2)
    res = _fit(df, outcome="events", exposure="exposure", model="poisson")
    # Reference: the same model with explicit unit and period dummies, on the units the FE
    # Poisson keeps (an all-zero unit has a dummy of minus infinity and no information).
    kept = df.loc[df.groupby("person")["events"].transform("sum") > 0].reset_index(drop=True)
    kept["tp"] = kept["referred"] * kept["post"]
    x = pd.get_dummies(kept[["person", "month"]].astype(str), drop_first=True, dtype=float)
    x.insert(0, "tp", kept["tp"].astype(float))
    x = sm.add_constant(x)
    glm = sm.GLM(kept["events"], x, family=sm.families.Poisson(), offset=np.log(kept["exposure"]))
    fit = glm.fit(
        tol=1e-12,
        cov_type="cluster",
        cov_kwds={"groups": kept["subclass"].to_numpy(), "use_correction": False},
    )
    # statsmodels' own correction would count every dummy in K; apply ours explicitly:
    # G / (G - 1) * (N - 1) / (N - K) with K = 1 (the non-absorbed regressor only).
    n, g, k = len(kept), kept["subclass"].nunique(), 1
    se_ref = math.sqrt(fit.cov_params().loc["tp", "tp"] * g / (g - 1) * (n - 1) / (n - k))
    assert res.coefficient == pytest.approx(fit.params["tp"], abs=SE_TOL * se_ref)
    assert res.std_error == pytest.approx(se_ref, rel=SE_TOL)
    assert res.n == n
    assert res.n_units == kept["person"].nunique()
    n_zero = int((df.groupby("person")["events"].sum() == 0).sum())
    assert n_zero >= 2  # the two forced all-zero units, and any that happen to have no events
    assert any(f"{n_zero} unit(s) whose outcome is zero" in note for note in res.notes)


def test_did_poisson_weighted_matches_statsmodels_glm_var_weights() -> None:
    df = _count_panel(seed=22, n_sets=15, periods=range(-3, 3), rate_ratio=0.7)
    rng = np.random.default_rng(0)
    per_unit = rng.uniform(0.5, 1.5, df["person"].nunique())
    df["w"] = np.where(df["referred"] == 1, 1.0, 1 / 3) * per_unit[df["person"]]
    res = _fit(df, outcome="events", exposure="exposure", model="poisson", weights="w")
    kept = df.loc[df.groupby("person")["events"].transform("sum") > 0].reset_index(drop=True)
    kept["tp"] = kept["referred"] * kept["post"]
    x = pd.get_dummies(kept[["person", "month"]].astype(str), drop_first=True, dtype=float)
    x.insert(0, "tp", kept["tp"].astype(float))
    glm = sm.GLM(
        kept["events"],
        sm.add_constant(x),
        family=sm.families.Poisson(),
        offset=np.log(kept["exposure"]),
        var_weights=kept["w"],
    )
    with warnings.catch_warnings():
        # statsmodels warns that cluster covariances are "not fully supported" with weights;
        # the weighted score sandwich it computes is the one we need, which is what is compared.
        warnings.simplefilter("ignore")
        fit = glm.fit(
            tol=1e-12,
            cov_type="cluster",
            cov_kwds={"groups": kept["subclass"].to_numpy(), "use_correction": False},
        )
    n, g, k = len(kept), kept["subclass"].nunique(), 1
    se_ref = math.sqrt(fit.cov_params().loc["tp", "tp"] * g / (g - 1) * (n - 1) / (n - k))
    assert res.coefficient == pytest.approx(fit.params["tp"], abs=SE_TOL * se_ref)
    assert res.std_error == pytest.approx(se_ref, rel=SE_TOL)


def test_did_poisson_without_exposure_notes_equal_person_time() -> None:
    df = _count_panel(seed=23, n_sets=30, periods=range(-3, 3), rate_ratio=1.0)
    res = _fit(df, outcome="events", model="poisson")
    assert any("No exposure given" in n for n in res.notes)


# ---------------------------------------------------------------------- event study
def test_did_event_study_without_pretrend_does_not_reject() -> None:
    df = _panel(seed=31, n_sets=100, effect=0.5)
    res = _fit(df, event_study=True)
    es = res.event_study
    assert es is not None
    assert list(es.columns[:5]) == ["period", "estimate", "std_error", "ci_low", "ci_high"]
    assert es["period"].tolist() == list(range(-6, 6))
    ref = es.loc[es["reference"]]
    assert ref["period"].tolist() == [-1] and ref["estimate"].tolist() == [0.0]
    pre = es.loc[es["pre"] & ~es["reference"]]
    post = es.loc[~es["pre"]]
    assert (np.abs(pre["estimate"] / pre["std_error"]) < 3).all()
    assert (np.abs(post["estimate"] - 0.5) < 3 * post["std_error"]).all()
    assert res.pretrend_df == 5
    assert res.pretrend_p_value > 0.01
    # the pooled DiD is still reported beside the event study
    assert res.estimate == pytest.approx(_fit(df).estimate)


def test_did_event_study_with_injected_pretrend_rejects() -> None:
    df = _panel(seed=31, n_sets=100, effect=0.5, pretrend=0.2)
    res = _fit(df, event_study=True)
    assert res.pretrend_p_value < 0.001


def test_did_event_study_pretrend_f_matches_pyfixest_wald() -> None:
    df = _panel(seed=32, n_sets=80, pretrend=0.05)
    res = _fit(df, event_study=True)
    pre_periods = [k for k in range(-6, -1)]
    other = [k for k in range(0, 6)]
    for k in pre_periods + other:
        df[f"e{k + 10}"] = ((df["referred"] == 1) & (df["month"] == k)).astype(float)
    names = [f"e{k + 10}" for k in pre_periods + other]
    ref = _feols("y ~ " + " + ".join(names) + " | person + month", df, ssc=pf.ssc(k_fixef="none"))
    b = ref.coef()[names[:5]].to_numpy()
    v = ref._vcov[:5, :5]
    f_stat = float(b @ np.linalg.solve(v, b)) / 5
    assert res.pretrend_stat == pytest.approx(f_stat, rel=1e-5)
    es = res.event_study.set_index("period")
    for k, name in zip(pre_periods + other, names, strict=True):
        assert es.loc[k, "estimate"] == pytest.approx(ref.coef()[name], abs=SE_TOL * ref.se()[name])


def _event_dummies(df: pd.DataFrame, periods: list[int], time: str = "month") -> list[str]:
    """Add ``treated x 1{time == k}`` columns for ``periods``; their names, in order."""
    for k in periods:
        df[f"e{k + 10}"] = ((df["referred"] == 1) & (df[time] == k)).astype(float)
    return [f"e{k + 10}" for k in periods]


def _wald_rows(names: list[str], tested: list[str]) -> np.ndarray:
    """The R matrix selecting the ``tested`` coefficients of a fit on ``names``."""
    return np.eye(len(names))[[names.index(n) for n in tested]]


def test_did_event_study_pretrend_periods_match_pyfixest_wald_on_those_terms() -> None:
    # Only the earliest pre-periods are tested (as a matched design tests the months it did
    # not match on); the pretrend lies in them, the rest of the path is clean.
    df = _panel(seed=32, n_sets=80, pretrend=0.05)
    chosen = [-6, -5, -4]
    res = _fit(df, event_study=True, pretrend_periods=chosen)
    periods = [k for k in range(-6, 6) if k != -1]
    names = _event_dummies(df, periods)
    ref = _feols("y ~ " + " + ".join(names) + " | person + month", df, ssc=pf.ssc(k_fixef="none"))
    tested = [names[periods.index(k)] for k in chosen]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyfixest: "distribution changed to chi2" for R != I
        w = float(ref.wald_test(R=_wald_rows(names, tested), distribution="chi2")["statistic"])
    assert res.pretrend_periods == tuple(chosen)
    assert res.pretrend_df == len(chosen)
    assert res.pretrend_denominator_df == ref._dfd
    assert res.pretrend_stat * len(chosen) == pytest.approx(w, rel=1e-5)
    f_ref = stats.f.sf(w / len(chosen), len(chosen), ref._dfd)  # F(q, G - 1), as fixest
    assert res.pretrend_p_value == pytest.approx(f_ref, rel=1e-4)
    assert res.spec["pretrend_periods"] == chosen
    assert res.to_dict()["pretrend"]["periods"] == chosen
    assert "periods -6 to -4" in res.summary()
    # The default still tests every pre-period.
    assert _fit(df, event_study=True).pretrend_periods == (-6, -5, -4, -3, -2)


def test_did_poisson_event_study_pretrend_periods_match_pyfixest_wald() -> None:
    df = _count_panel(seed=34, n_sets=150, periods=range(-6, 4), rate_ratio=0.8)
    chosen = [-6, -5, -4, -3]
    res = _fit(
        df, outcome="events", exposure="exposure", model="poisson", event_study=True,
        pretrend_periods=chosen,
    )  # fmt: skip
    periods = [k for k in range(-6, 4) if k != -1]
    names = _event_dummies(df, periods)
    df["log_exposure"] = np.log(df["exposure"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.fepois(
            "events ~ " + " + ".join(names) + " | person + month", data=df,
            vcov={"CRV1": "subclass"}, offset="log_exposure", ssc=pf.ssc(k_fixef="none"),
        )  # fmt: skip
        tested = [names[periods.index(k)] for k in chosen]
        wald = ref.wald_test(R=_wald_rows(names, tested), distribution="chi2")
    assert res.pretrend_periods == tuple(chosen)
    assert res.pretrend_stat == pytest.approx(float(wald["statistic"]), rel=1e-4)
    assert res.pretrend_p_value == pytest.approx(float(wald["pvalue"]), rel=1e-3)
    # The coefficients and covariance kept for sensitivity analyses are the fit's.
    coef = res.event_study_coef.loc[chosen].to_numpy()
    v = res.event_study_vcov.loc[chosen, chosen].to_numpy()
    assert float(coef @ np.linalg.solve(v, coef)) == pytest.approx(res.pretrend_stat)


def test_did_poisson_event_study_reports_rate_ratios() -> None:
    df = _count_panel(seed=33, n_sets=150, periods=range(-4, 4), rate_ratio=0.8)
    res = _fit(df, outcome="events", exposure="exposure", model="poisson", event_study=True)
    es = res.event_study
    assert es.loc[es["reference"], "estimate"].tolist() == [1.0]
    assert (es["estimate"] > 0).all()
    assert res.pretrend_df == 3
    assert res.pretrend_p_value > 0.01


# ---------------------------------------------------------------------- result object
def test_did_result_views_are_consistent_and_json_safe() -> None:
    df = _panel(seed=41, n_sets=40)
    res = _fit(df, event_study=True, covariates=["age"])
    tidy = res.tidy()
    assert tuple(tidy.columns) == TIDY_COLUMNS
    assert tidy.iloc[0]["term"] == DID_TERM
    assert tidy.iloc[0]["estimate"] == res.estimate
    assert (tidy["term"] == "event").sum() == 11
    d = json.loads(json.dumps(res.to_dict()))
    assert d["estimate"] == pytest.approx(res.estimate)
    assert d["spec"]["cluster"] == "subclass"
    assert d["pretrend"]["df"] == 5
    text = res.summary()
    assert "Difference-in-differences" in text and "CR1" in text and "Pre-trend" in text
    assert "<pre>" in res._repr_html_()
    assert isinstance(res, Result) and repr(res) == text
    with pytest.raises(AttributeError):
        res.estimate = 0.0  # type: ignore[misc]
    rates = res.crude_rates
    assert set(rates["group"]) == {"treated", "control"}
    assert rates["events"].sum() == pytest.approx(df["y"].sum())


def test_did_plot_event_study_returns_axes() -> None:
    import matplotlib.pyplot as plt

    res = _fit(_panel(seed=42, n_sets=30), event_study=True)
    ax = res.plot_event_study()
    assert isinstance(ax, Axes)
    assert ax.get_title().startswith("y: ")  # drawn by evalkit.stats.plots.event_study
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="event_study=True"):
        _fit(_panel(seed=42, n_sets=30)).plot_event_study()


def test_did_default_cluster_is_unit_with_note() -> None:
    df = _panel(seed=43, n_sets=30)
    res = did(df, "y", "person", "month", "referred", "post")
    assert res.spec["cluster"] == "person"
    assert res.n_clusters == df["person"].nunique()
    assert any("clustered by unit" in n for n in res.notes)


def test_did_evalue_needs_rate_ratio() -> None:
    df = _count_panel(seed=44, n_sets=100, periods=range(-3, 3), rate_ratio=0.7)
    res = _fit(df, outcome="events", exposure="exposure", model="poisson")
    ev = res.evalue()
    assert ev.estimate == res.estimate
    with pytest.raises(ValueError, match="poisson"):
        _fit(_panel(seed=44, n_sets=20)).evalue()


def test_did_missing_rows_left_out_with_note() -> None:
    df = _panel(seed=45, n_sets=30)
    df.loc[[3, 7], "y"] = np.nan
    res = _fit(df)
    assert res.n == len(df) - 2
    assert any("2 row(s) with a missing value in 'y'" in n for n in res.notes)


# ---------------------------------------------------------------------- errors
def _set(df: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    """A copy of ``df`` with ``value`` in the first row of ``column``."""
    out = df.copy()
    out.loc[0, column] = value
    return out


_POISSON_EVENTS = {"outcome": "events", "model": "poisson"}

#: Bad call of each kind: (linear panel, count panel) -> (panel, arguments, error pattern).
_BAD: dict[str, Callable[[pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, dict, str]]] = {
    "unknown_column": lambda df, _: (df, {"outcome": "nope"}, "unknown column.*outcome='nope'"),
    "treated_not_constant": lambda df, _: (
        _set(df, "referred", 0),
        {},
        "not constant within unit",
    ),
    "no_treated": lambda df, _: (df.loc[df["referred"] == 0], {}, "no treated units"),
    "no_controls": lambda df, _: (df.loc[df["referred"] == 1], {}, "no control units"),
    "post_not_binary": lambda df, _: (
        _set(df, "post", 2),
        {},
        "post column 'post' must be binary",
    ),
    "treated_not_binary": lambda df, _: (
        df.assign(referred=df["referred"] * 2),
        {},
        "treated column 'referred' must be binary",
    ),
    "exposure_nonpositive": lambda _, counts: (
        _set(counts, "exposure", 0.0),
        {**_POISSON_EVENTS, "exposure": "exposure"},
        "exposure column 'exposure' must be positive",
    ),
    "negative_count": lambda _, counts: (
        _set(counts, "events", -1),
        _POISSON_EVENTS,
        "negative values",
    ),
    "duplicate_rows": lambda df, _: (pd.concat([df, df.iloc[:1]]), {}, "repeated"),
    "bad_model": lambda df, _: (df, {"model": "logit"}, "model must be one of"),
    "reference_missing": lambda df, _: (
        df,
        {"event_study": True, "reference_period": -99},
        "reference_period -99",
    ),
    "reference_post": lambda df, _: (
        df,
        {"event_study": True, "reference_period": 2},
        "not a pre-period",
    ),
    "pretrend_reference": lambda df, _: (
        df,
        {"event_study": True, "pretrend_periods": [-3, -1]},
        "pretrend_periods: -1 is the reference period",
    ),
    "pretrend_post": lambda df, _: (
        df,
        {"event_study": True, "pretrend_periods": [-3, 0]},
        "pretrend_periods: 0 is not a pre-period",
    ),
    "pretrend_missing": lambda df, _: (
        df,
        {"event_study": True, "pretrend_periods": [-99]},
        "pretrend_periods: -99 is not a value",
    ),
    "pretrend_empty": lambda df, _: (
        df,
        {"event_study": True, "pretrend_periods": []},
        "pretrend_periods is empty",
    ),
    "no_post_rows": lambda df, _: (df.loc[df["post"] == 0], {}, "no post-period rows"),
    "negative_weights": lambda df, _: (_set(df, "w", -1.0), {"weights": "w"}, "non-negative"),
}


def _bad(kind: str) -> tuple[pd.DataFrame, dict, str]:
    df = _panel(seed=51, n_sets=10)
    counts = _count_panel(seed=51, n_sets=10, periods=range(-2, 2), rate_ratio=1.0)
    return _BAD[kind](df, counts)


@pytest.mark.parametrize("kind", list(_BAD))
def test_did_bad_call_raises_value_error_naming_problem(kind: str) -> None:
    df, kw, match = _bad(kind)
    with pytest.raises(ValueError, match=match):
        _fit(df, **kw)
