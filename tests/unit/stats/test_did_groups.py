"""DiD by group in one model and its Wald test of heterogeneity (evalkit.stats.did_groups).

References used here and their tolerances:
- statsmodels GLM Poisson (and OLS) with explicit unit and period dummies, the same post x group
  and treated x post x group terms, and a cluster-robust covariance by person
  (``use_correction=False``, then our CR1 factor G/(G-1) * (N-1)/(N-K) with K the non-absorbed
  regressors only, applied explicitly: statsmodels' own factor would count every dummy in K).
  The Wald statistic is statsmodels' own ``wald_test`` on that fit divided by the factor. Both
  Poisson fits stop on a relative deviance change (ours 1e-10, statsmodels ``tol=1e-12``),
  which leaves coefficients within 1e-6 of an SE of each other; the statistic, a quadratic form
  in them, agrees to 1e-5 relative; SEs to 1e-6 relative.
- pyfixest ``wald_test`` on the same model fitted by pyfixest with two-way clustering: 1e-4
  relative for Poisson (its IRLS stops at its default ``iwls_tol`` 1e-8, ours at 1e-10, which
  moves the statistic by about 1e-5 relative) and 1e-6 for the linear model.
The panels share control persons across the matched sets of different groups, and the
covariance is clustered by person, so every reference check is also a check that shared
controls are handled.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from evalkit.stats.did_groups import GROUP_COLUMNS, DidByGroupResult, did_by_group
from evalkit.stats.wald import equality_wald

pf = pytest.importorskip("pyfixest")

GROUPS = ("1-2", "3", "4-5")


def _shared_panel(
    seed: int,
    n_sets: int = 90,
    rate_ratios: tuple[float, ...] = (0.8, 0.8, 0.8),
    ratio: int = 3,
    n_control_people: int | None = None,
    periods: range = range(-4, 4),
    base: float = 0.4,
) -> pd.DataFrame:
    """Matched sets (one participant, ``ratio`` control units), groups by set, shared controls.

    Control units are drawn with replacement from a pool of control people smaller than the
    number of control slots, so a person is often a control in several sets, of different
    groups. A control person's copies carry the same events and exposure month by month (one
    person, one record, as in a matched panel whose sets share an index month); participants'
    events follow their group's rate ratio after index.
    """
    rng = np.random.default_rng(seed)
    k = len(rate_ratios)
    n_control_people = n_control_people or (n_sets * ratio) // 2
    months = np.asarray(periods)
    trend = np.exp(0.03 * months)
    # One series per control person, shared by all their copies.
    c_frailty = rng.gamma(2.0, 0.5, n_control_people)
    c_expo = rng.uniform(0.4, 1.0, (n_control_people, len(months)))
    c_events = rng.poisson(base * c_frailty[:, None] * trend * c_expo)
    set_group = np.arange(n_sets) % k
    frames = []
    for s in range(n_sets):
        g = set_group[s]
        fr = rng.gamma(2.0, 0.5) * 1.3
        expo = rng.uniform(0.4, 1.0, len(months))
        mu = base * fr * trend * expo * rate_ratios[g] ** (months >= 0)
        series = [("p", s, rng.poisson(mu), expo, 1)]
        for c in rng.integers(0, n_control_people, ratio):
            series.append(("c", int(c), c_events[c], c_expo[c], 0))
        for slot, (kind, pid, ev, ex, tr) in enumerate(series):
            frames.append(
                pd.DataFrame(
                    {
                        "subclass": s,
                        "unit": s * (ratio + 1) + slot,
                        "person": f"{kind}{pid}",
                        "referred": tr,
                        "group": GROUPS[g] if k <= 3 else f"g{g}",
                        "month": months,
                        "exposure": ex,
                        "events": ev,
                    }
                )
            )
    panel = pd.concat(frames, ignore_index=True)
    panel["post"] = (panel["month"] >= 0).astype(int)
    unit_w = rng.uniform(0.6, 1.4, panel["unit"].max() + 1)
    panel["w"] = np.where(panel["referred"] == 1, 1.0, 1 / ratio) * unit_w[panel["unit"]]
    # A continuous outcome for the linear model, shared by a control person's copies too.
    noise = rng.normal(0, 0.5, (n_control_people + n_sets, len(months)))
    row = np.where(
        panel["referred"] == 1,
        n_control_people + panel["subclass"],
        panel["person"].str[1:].astype(int),
    )
    panel["y"] = panel["events"] + noise[row, panel.groupby("unit").cumcount()]
    return panel


def _fit(df: pd.DataFrame, **kw) -> DidByGroupResult:
    args = {
        "outcome": "events",
        "unit": "unit",
        "time": "month",
        "treated": "referred",
        "post": "post",
        "group": "group",
        "cluster": "person",
        "exposure": "exposure",
        "model": "poisson",
        "weights": "w",
    }
    args.update(kw)
    return did_by_group(df, **args)


def _design(df: pd.DataFrame) -> pd.DataFrame:
    """Explicit regressors: group terms first (level j as ``_j``), then unit and period dummies."""
    x = pd.DataFrame(index=df.index)
    tp = df["referred"] * df["post"]
    x["tp"] = tp.astype(float)
    levels = sorted(df["group"].unique())
    for j, lvl in enumerate(levels[1:], start=1):
        x[f"post_{j}"] = (df["post"] * (df["group"] == lvl)).astype(float)
    for j, lvl in enumerate(levels[1:], start=1):
        x[f"tp_{j}"] = (tp * (df["group"] == lvl)).astype(float)
    dummies = pd.get_dummies(df[["unit", "month"]].astype(str), drop_first=True, dtype=float)
    return sm.add_constant(pd.concat([x, dummies], axis=1))


def _interaction_rows(x: pd.DataFrame, levels: list[str]) -> np.ndarray:
    r = np.zeros((len(levels) - 1, x.shape[1]))
    for i in range(len(levels) - 1):
        r[i, list(x.columns).index(f"tp_{i + 1}")] = 1.0
    return r


def _cr1(n: int, g: int, k: int) -> float:
    return g / (g - 1) * (n - 1) / (n - k)


# ---------------------------------------------------------------------- reference: statsmodels
def test_did_by_group_poisson_wald_matches_statsmodels_glm_clustered_by_person() -> None:
    df = _shared_panel(seed=1, rate_ratios=(0.6, 0.9, 1.3))
    res = _fit(df)
    kept = df.loc[df.groupby("unit")["events"].transform("sum") > 0].reset_index(drop=True)
    x = _design(kept)
    glm = sm.GLM(
        kept["events"],
        x,
        family=sm.families.Poisson(),
        offset=np.log(kept["exposure"]),
        var_weights=kept["w"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cluster covariance not fully supported with weights"
        ref = glm.fit(
            tol=1e-12,
            cov_type="cluster",
            cov_kwds={"groups": pd.factorize(kept["person"])[0], "use_correction": False},
        )
        levels = sorted(kept["group"].unique())
        w_raw = float(
            ref.wald_test(_interaction_rows(x, levels), use_f=False, scalar=True).statistic
        )
    factor = _cr1(len(kept), kept["person"].nunique(), k=5)  # tp, 2 post shifts, 2 interactions
    assert res.statistic == pytest.approx(w_raw / factor, rel=1e-5)
    assert res.df == 2
    assert res.p_value == pytest.approx(stats.chi2.sf(w_raw / factor, 2), rel=1e-4)
    # Each group's log rate ratio and SE: b, then b + d_j, from the same covariance.
    cov = ref.cov_params() * factor
    for j, row in enumerate(res.tidy().itertuples()):
        names = ["tp"] if j == 0 else ["tp", f"tp_{j}"]
        coef = float(ref.params[names].sum())
        se = math.sqrt(float(cov.loc[names, names].to_numpy().sum()))
        assert row.coefficient == pytest.approx(coef, abs=1e-6 * se)
        assert row.std_error == pytest.approx(se, rel=1e-6)
        assert row.estimate == pytest.approx(math.exp(coef), rel=1e-6)
    assert res.n == len(kept)


def test_did_by_group_linear_f_matches_statsmodels_ols_clustered_by_person() -> None:
    df = _shared_panel(seed=2, rate_ratios=(0.7, 1.0, 1.2))
    res = _fit(df, outcome="y", model="linear", exposure=None)
    x = _design(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.WLS(df["y"], x, weights=df["w"]).fit(
            cov_type="cluster",
            cov_kwds={"groups": pd.factorize(df["person"])[0], "use_correction": False},
        )
        levels = sorted(df["group"].unique())
        w_raw = float(
            ref.wald_test(_interaction_rows(x, levels), use_f=False, scalar=True).statistic
        )
    g = df["person"].nunique()
    w = w_raw / _cr1(len(df), g, k=5)
    assert res.wald.distribution == "F"
    assert res.statistic == pytest.approx(w / 2, rel=1e-6)
    assert res.wald.denominator_df == g - 1
    assert res.p_value == pytest.approx(stats.f.sf(w / 2, 2, g - 1), rel=1e-5)


# ---------------------------------------------------------------------- reference: pyfixest
@pytest.mark.parametrize("model", ["poisson", "linear"])
def test_did_by_group_two_way_wald_matches_pyfixest_wald_test(model: str) -> None:
    df = _shared_panel(seed=3, rate_ratios=(0.7, 1.0, 1.3))
    df["index_month"] = df["subclass"] % 7
    outcome = "events" if model == "poisson" else "y"
    res = _fit(
        df, outcome=outcome, model=model, cluster=["index_month", "person"],
        exposure="exposure" if model == "poisson" else None,
    )  # fmt: skip
    x = _design(df).iloc[:, 1:6]  # the five group terms
    data = pd.concat([df, x], axis=1)
    data["log_exposure"] = np.log(data["exposure"])
    fml = f"{outcome} ~ " + " + ".join(x.columns) + " | unit + month"
    kw = dict(
        data=data,
        vcov={"CRV1": "index_month+person"},
        ssc=pf.ssc(k_adj=True, k_fixef="none", G_adj=True, G_df="conventional"),
        weights="w",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = (
            pf.fepois(fml, offset="log_exposure", **kw)
            if model == "poisson"
            else pf.feols(fml, **kw)
        )
        r = np.zeros((2, 5))
        r[0, 3] = r[1, 4] = 1.0
        wald = ref.wald_test(R=r, distribution="chi2")
    w = float(wald["statistic"])
    ours = res.statistic if model == "poisson" else res.statistic * res.df
    assert ours == pytest.approx(w, rel=1e-4 if model == "poisson" else 1e-6)
    assert res.n_clusters == df["index_month"].nunique()


# ---------------------------------------------------------------------- properties
def test_did_by_group_wald_equals_equality_test_on_the_group_estimates() -> None:
    # The heterogeneity test does not depend on the parametrisation: testing d_j = 0 is testing
    # that the k group effects (b, b + d_j) are equal, on their joint covariance.
    res = _fit(_shared_panel(seed=4, rate_ratios=(0.7, 0.9, 1.2)))
    t = res.tidy()
    idx = ["treated_x_post", *(f"treated_x_post_x_group[{g}]" for g in t["group"][1:])]
    lmat = np.eye(3)
    lmat[1:, 0] = 1.0
    v = lmat @ res.vcov.loc[idx, idx].to_numpy() @ lmat.T
    eq = equality_wald(t["coefficient"].to_numpy(), v)
    assert eq.statistic == pytest.approx(res.statistic, rel=1e-8)


def test_did_by_group_shared_controls_give_correlated_group_estimates() -> None:
    # Controls shared across groups' sets make the groups' estimates covary: the covariance the
    # one model estimates, and the one Cochran's Q (independent estimates) assumes away.
    df = _shared_panel(seed=5, n_sets=120, n_control_people=60)
    shared = df[df["referred"] == 0].groupby("person")["group"].nunique()
    assert (shared > 1).mean() > 0.5  # most control people serve more than one group
    res = _fit(df)
    t = res.tidy()
    with_events = df[df.groupby("unit")["events"].transform("sum") > 0]
    fitted = with_events.drop_duplicates("unit").groupby(["group", "referred"]).size()
    assert t["n_treated_units"].tolist() == fitted.xs(1, level="referred").tolist()
    assert t["n_control_units"].tolist() == fitted.xs(0, level="referred").tolist()
    idx = ["treated_x_post", *(f"treated_x_post_x_group[{g}]" for g in t["group"][1:])]
    lmat = np.eye(3)
    lmat[1:, 0] = 1.0
    v = lmat @ res.vcov.loc[idx, idx].to_numpy() @ lmat.T
    corr = v / np.sqrt(np.outer(np.diag(v), np.diag(v)))
    assert np.all(corr[np.triu_indices(3, 1)] > 0.02)


def test_did_by_group_known_difference_rejects() -> None:
    # log(1.5 / 0.6) = 0.92 between the extreme groups, against SEs of about 0.15 at this
    # size: a z of about 4 or more, so the power at the 0.001 level is about 0.9 or more.
    res = _fit(_shared_panel(seed=6, n_sets=300, rate_ratios=(0.6, 1.0, 1.5)))
    assert res.p_value < 1e-3
    for (_, row), rr in zip(res.tidy().iterrows(), (0.6, 1.0, 1.5), strict=True):
        assert abs(math.log(row["estimate"]) - math.log(rr)) < 3 * row["std_error"]


def test_did_by_group_no_difference_does_not_reject() -> None:
    res = _fit(_shared_panel(seed=7, n_sets=300, rate_ratios=(0.8, 0.8, 0.8)))
    assert res.p_value > 0.01  # this seed; the slow test checks the size over replications
    t = res.tidy()
    assert (np.abs(np.log(t["estimate"]) - math.log(0.8)) < 3 * t["std_error"]).all()


@pytest.mark.slow
def test_did_by_group_null_rejection_rate_is_nominal_with_shared_controls() -> None:
    # 300 null replications: the 5% test rejects in 5% +/- 2.576 * sqrt(.05 * .95 / 300) = 3.2
    # points (binomial Monte Carlo error), with controls shared across groups.
    p = np.array(
        [_fit(_shared_panel(seed=1000 + r, n_sets=150, n_control_people=110)).p_value
         for r in range(300)]
    )  # fmt: skip
    rate = float((p < 0.05).mean())
    assert abs(rate - 0.05) < 2.576 * math.sqrt(0.05 * 0.95 / 300), rate


def test_did_by_group_result_views_are_consistent_and_json_safe() -> None:
    res = _fit(_shared_panel(seed=8))
    t = res.tidy()
    assert list(t.columns) == list(GROUP_COLUMNS)
    assert t["reference"].tolist() == [True, False, False]
    assert t["group"].tolist() == sorted(GROUPS)
    assert res.spec["reference_group"] == "1-2" and res.spec["cluster"] == "person"
    d = json.loads(json.dumps(res.to_dict()))
    assert d["wald"]["test"] == "wald" and d["wald"]["df"] == 2
    assert "chi2(2)" in res.summary()


# ---------------------------------------------------------------------- errors
def test_did_by_group_one_level_raises() -> None:
    df = _shared_panel(seed=9).assign(group="all")
    with pytest.raises(ValueError, match="at least 2 needed"):
        _fit(df)


def test_did_by_group_group_varying_within_unit_raises() -> None:
    df = _shared_panel(seed=9)
    df.loc[df.index[::5], "group"] = "3"
    with pytest.raises(ValueError, match="not constant within unit"):
        _fit(df.assign(group=np.where(df["month"] == 0, "1-2", df["group"])))


def test_did_by_group_group_without_controls_raises() -> None:
    df = _shared_panel(seed=9)
    df = df[~((df["group"] == "3") & (df["referred"] == 0))]
    with pytest.raises(ValueError, match="no control rows"):
        _fit(df)


def test_did_by_group_unknown_group_column_names_it() -> None:
    with pytest.raises(ValueError, match="group='imd'"):
        _fit(_shared_panel(seed=9), group="imd")
