"""Unit tests for evalkit.stats.matching: rules, errors, notes, weights, and fast == brute force."""

from __future__ import annotations

import html
import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.stats.matching import MatchResult, match
from evalkit.stats.result import Result
from helpers.bruteforce_matcher import assert_valid_match, bruteforce_match, pairs_by_treated


def frame(d_treated, d_control, **extra) -> pd.DataFrame:
    """Rows with a precomputed distance column ``d``; treated first."""
    d = list(d_treated) + list(d_control)
    df = pd.DataFrame({"treat": [1] * len(d_treated) + [0] * len(d_control), "d": d})
    for k, v in extra.items():
        df[k] = v
    return df


def matched_controls(res: MatchResult) -> dict:
    return pairs_by_treated(res)


@pytest.fixture
def simple() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame(
        {
            "age": rng.integers(20, 80, n),
            "sex": rng.choice(["F", "M"], n),
            "group": rng.choice(["a", "b", "c"], n),
            "flag": rng.integers(0, 2, n),
        }
    )
    lin = -1.5 + 0.03 * (df["age"] - 50) + 0.5 * (df["group"] == "b") + 0.4 * df["flag"]
    df["treat"] = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    return df


# ---------------------------------------------------------------- rules on small hand cases


def test_match_equidistant_controls_takes_smaller_distance():
    # 0.5 - 0.25 == 0.75 - 0.5 exactly: the tie goes to the smaller distance value.
    res = match(frame([0.5], [0.75, 0.25]), "treat", [], distance="d", caliper=None)
    assert matched_controls(res) == {0: [2]}


def test_match_equal_distance_controls_takes_smallest_label_whatever_row_order():
    df = frame([0.5], [0.25, 0.25, 0.25, 0.9])
    df.index = [10, 7, 3, 5, 1]
    for perm in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 3, 1]):
        res = match(df.iloc[perm], "treat", [], distance="d", caliper=None)
        assert matched_controls(res) == {10: [3]}


def test_match_nearer_control_on_the_right_is_chosen():
    # The case matchit-lalonde.md says Debian's MatchIt 4.5.1 gets wrong.
    res = match(frame([0.50], [0.49, 0.505]), "treat", [], distance="d", caliper=None)
    assert matched_controls(res) == {0: [2]}


def test_match_ratio_two_chooses_in_rounds_like_matchit():
    # Round 1: A (largest) takes 0.96, B takes 0.93; round 2: A takes 0.2, B has none left.
    df = frame([1.0, 0.9], [0.96, 0.93, 0.2])
    res = match(df, "treat", [], distance="d", caliper=None, ratio=2)
    assert matched_controls(res) == {0: [2, 4], 1: [3]}
    assert list(res.pairs.sort_values(["treated", "round"])["round"]) == [1, 2, 1]
    assert_valid_match(res)


def test_match_ratio_with_unequal_sets_gives_matchit_att_weights():
    # Sets {A: c2, c4}, {B: c3}: raw control weights 1/2, 1/2, 1 (sum 2) rescaled to sum to 3.
    df = frame([1.0, 0.9], [0.96, 0.93, 0.2])
    res = match(df, "treat", [], distance="d", caliper=None, ratio=2)
    w = res.matched["weight"]
    assert w.loc[[0, 1]].tolist() == [1.0, 1.0]
    np.testing.assert_allclose(w.loc[[2, 4, 3]], [0.75, 0.75, 1.5], rtol=1e-12)


def test_match_with_replacement_reuses_control_and_counts_weight():
    df = frame([1.0, 1.1], [1.05, 0.0])
    res = match(df, "treat", [], distance="d", caliper=None, replace=True)
    assert matched_controls(res) == {0: [2], 1: [2]}
    assert res.matched["subclass"].isna().all()
    assert res.matched.loc[2, "weight"] == 1.0  # used twice, rescaled to 1 distinct control
    assert res.n_controls_matched == 1
    assert_valid_match(res)


def test_match_outside_caliper_leaves_participant_unmatched():
    # SD of d = 0.5 (values 0, 0, 1, 1) -> width 0.1; treated at 1.0 has no control within 0.1.
    df = frame([0.0, 1.0], [0.05, 1.0 + 1e-9 + 0.5])
    df.loc[3, "d"] = 1.0 + 0.5
    res = match(df, "treat", [], distance="d", caliper=0.1)
    assert res.n_matched_treated == 1
    assert res.unmatched.loc[1, "reason"] == "no_control_within_caliper"
    assert any("found no control" in n for n in res.notes)
    assert_valid_match(res)


def test_match_exact_stratum_without_controls_reports_reason():
    df = frame([0.5, 0.6], [0.55], s=["x", "y", "x"])
    res = match(df, "treat", [], exact=["s"], distance="d", caliper=None)
    assert res.unmatched.loc[1, "reason"] == "no_controls_in_stratum"
    assert res.unmatched.loc[1, "s"] == "y"


def test_match_used_controls_reports_reason():
    df = frame([0.5, 0.6], [0.55, 0.0])
    df.loc[3, "treat"] = 0
    res = match(df, "treat", [], exact=None, distance="d", caliper=0.3)
    assert res.unmatched.loc[0, "reason"] == "controls_used"  # 0.6 goes first and takes 0.55


def test_match_unit_excludes_own_unit_and_reuse_of_a_unit():
    # Treated row of person 1 cannot take person 1's control row; person 2 supplies one row only.
    df = frame([0.5, 0.52], [0.5, 0.51, 0.53, 0.9], u=[1, 3, 1, 2, 2, 4])
    res = match(df, "treat", [], distance="d", caliper=None, unit="u")
    got = matched_controls(res)
    assert got[0] != [2]
    units = df.loc[res.pairs["control"], "u"]
    assert units.is_unique
    assert_valid_match(res)


def test_match_m_order_smallest_processes_low_scores_first():
    df = frame([1.0, 0.9], [0.95])
    assert matched_controls(match(df, "treat", [], distance="d", caliper=None)) == {0: [2]}
    res = match(df, "treat", [], distance="d", caliper=None, m_order="smallest")
    assert matched_controls(res) == {1: [2]}


# ---------------------------------------------------------------- fast == brute force


@st.composite
def problems(draw):
    n = draw(st.integers(2, 24))
    grid = st.sampled_from([k / 4 for k in range(-6, 7)])
    anyf = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)
    d = draw(st.lists(st.one_of(grid, grid, anyf), min_size=n, max_size=n))
    treat = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    treat[0], treat[-1] = True, False
    strata = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    units = draw(st.lists(st.integers(0, max(1, n // 2)), min_size=n, max_size=n))
    labels = draw(st.permutations(range(n)))
    labels = [3 * lab + 1 for lab in labels]  # non-contiguous labels, in a random row order
    return {
        "df": pd.DataFrame(
            {"treat": np.array(treat, dtype=int), "d": d, "s": strata, "u": units},
            index=labels,
        ),
        "ratio": draw(st.integers(1, 3)),
        "caliper": draw(st.one_of(st.none(), st.floats(0.01, 2.0))),
        "replace": draw(st.booleans()),
        "exact": draw(st.booleans()),
        "unit": draw(st.booleans()),
        "order": draw(st.sampled_from(["largest", "smallest"])),
    }


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_match_fast_equals_bruteforce_on_generated_data(p):
    df = p["df"]
    kwargs = dict(
        exact=["s"] if p["exact"] else None,
        ratio=p["ratio"],
        caliper=p["caliper"],
        replace=p["replace"],
        distance="d",
        unit="u" if p["unit"] else None,
        m_order=p["order"],
    )
    d_t, d_c = df.loc[df.treat == 1, "d"], df.loc[df.treat == 0, "d"]
    width = None if p["caliper"] is None else p["caliper"] * float(np.std(df["d"], ddof=1))
    try:
        res = match(df, "treat", [], **kwargs)
    except ValueError as exc:
        if "no overlap" in str(exc):
            assert d_t.min() > d_c.max() or d_t.max() < d_c.min()
            return
        assert "no treated unit found a control" in str(exc)
        res = None
    if res is not None:
        width = res.caliper_width
    ref = bruteforce_match(
        df["d"].to_dict(),
        (df["treat"] == 1).to_dict(),
        stratum=df["s"].to_dict() if p["exact"] else None,
        unit=df["u"].to_dict() if p["unit"] else None,
        ratio=p["ratio"],
        caliper_width=width,
        replace=p["replace"],
        order=p["order"],
    )
    ref = {t: c for t, c in ref.items() if c}
    if res is None:
        assert ref == {}
        return
    assert pairs_by_treated(res) == ref
    assert_valid_match(res)


def test_match_caliper_width_is_caliper_times_sd_over_all_rows():
    df = frame([0.0, 1.0, 2.0], [0.5, 1.5, 3.0, 4.0])
    res = match(df, "treat", [], distance="d", caliper=1.0)
    assert res.caliper_width == pytest.approx(1.0 * np.std(df["d"], ddof=1), rel=1e-12)


# ---------------------------------------------------------------- propensity model and notes


def test_match_constant_covariate_is_dropped_with_note(simple):
    df = simple.assign(region="north", one=1)
    res = match(df, "treat", ["age", "one", "region", "flag"])
    assert any("'one' is constant" in n and "dropped" in n for n in res.notes)
    assert any("'region' is constant" in n for n in res.notes)
    assert "one" not in res.propensity_params.index
    ref = match(simple, "treat", ["age", "flag"])
    np.testing.assert_allclose(res.distance, ref.distance, rtol=0, atol=1e-9)


def test_match_collinear_term_is_dropped_with_note(simple):
    df = simple.assign(age2=simple["age"] * 2 + 1)
    res = match(df, "treat", ["age", "age2"])
    assert any("'age2' is collinear" in n for n in res.notes)


def test_match_categorical_covariate_is_one_hot_with_first_level_reference(simple):
    res = match(simple, "treat", ["age", "group"], caliper=None)
    assert list(res.propensity_params.index) == ["const", "age", "group_b", "group_c"]
    bal = res.balance()
    assert {"group_a", "group_b", "group_c"} <= set(bal.index)
    assert np.isnan(bal.loc["group_b", "var_ratio_before"])


def test_match_sampled_fit_corrects_intercept_by_log_fraction():
    # True model: logit P(treat) = -3 + x. Fit on all treated + 10% of controls: the raw
    # sampled intercept would be -3 - log(0.1) = -0.70; corrected it must be near -3.
    # SE of the intercept ~ sqrt(1/n_treated + 1/n_sampled_controls) ~ 0.03; allow 4 SE.
    rng = np.random.default_rng(11)
    n = 60_000
    x = rng.normal(size=n)
    treat = (rng.random(n) < 1 / (1 + np.exp(3 - x))).astype(int)
    df = pd.DataFrame({"x": x, "treat": treat})
    n_c = int((treat == 0).sum())
    n_s = n_c // 10
    res = match(df, "treat", ["x"], propensity_sample=n_s, sample_controls_above=1000, seed=3)
    assert res.spec["propensity_fit"] == "sampled"
    assert any("random sample" in s and "log(fraction)" in s for s in res.notes)
    se = np.sqrt(1 / treat.sum() + 1 / n_s)
    assert abs(res.propensity_params["const"] - (-3.0)) < 4 * se
    assert abs(res.propensity_params["x"] - 1.0) < 4 * se


def test_match_small_pool_fits_on_all_rows_with_note(simple):
    res = match(simple, "treat", ["age"])
    assert res.spec["propensity_fit"] == "full"
    assert any("fitted on all" in n for n in res.notes)


def test_match_sampled_fit_is_seeded_and_row_order_free():
    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame({"x": rng.normal(size=n)})
    df["treat"] = (rng.random(n) < 1 / (1 + np.exp(2 - df["x"]))).astype(int)
    kw = dict(propensity_sample=800, sample_controls_above=500, seed=9)
    a = match(df, "treat", ["x"], **kw)
    b = match(df.sample(frac=1, random_state=1), "treat", ["x"], **kw)
    np.testing.assert_allclose(a.propensity_params, b.propensity_params, rtol=1e-9)


def test_match_rows_shuffled_gives_same_pairs(simple):
    a = match(simple, "treat", ["age", "group", "flag"], exact=["sex"], ratio=2)
    b = match(
        simple.sample(frac=1, random_state=3),
        "treat",
        ["age", "group", "flag"],
        exact=["sex"],
        ratio=2,
    )
    assert pairs_by_treated(a) == pairs_by_treated(b)
    assert_valid_match(a)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"covariates": ["age", "nope"]}, r"unknown column.*'nope'"),
        ({"exact": ["nope"]}, r"unknown column.*'nope'"),
        ({"unit": "nope"}, r"unknown column.*'nope'"),
        ({"distance": "nope"}, r"unknown column.*distance must be"),
        ({"treatment": "nope"}, "unknown column"),
        ({"ratio": 0}, "ratio must be a positive integer"),
        ({"caliper": -1}, "caliper must be"),
        ({"m_order": "closest"}, "m_order"),
    ],
)
def test_match_bad_arguments_raise_naming_the_problem(simple, kwargs, message):
    args = {"treatment": "treat", "covariates": ["age"], **kwargs}
    with pytest.raises(ValueError, match=message):
        match(simple, **args)


def test_match_no_treated_units_raises(simple):
    with pytest.raises(ValueError, match="no treated units"):
        match(simple.assign(treat=0), "treat", ["age"])


def test_match_no_control_units_raises(simple):
    with pytest.raises(ValueError, match="no control units"):
        match(simple.assign(treat=1), "treat", ["age"])


def test_match_non_binary_treatment_raises(simple):
    with pytest.raises(ValueError, match=r"not binary.*2"):
        match(simple.assign(treat=simple["treat"] * 2), "treat", ["age"])
    with pytest.raises(ValueError, match="not binary"):
        match(simple.assign(treat="yes"), "treat", ["age"])


def test_match_no_overlap_raises():
    with pytest.raises(ValueError, match="no overlap"):
        match(frame([2.0, 3.0], [0.0, 1.0]), "treat", [], distance="d")


def test_match_no_controls_inside_caliper_raises():
    df = frame([0.0, 10.0], [5.0, 5.1])
    with pytest.raises(ValueError, match=r"no treated unit found a control.*caliper"):
        match(df, "treat", [], distance="d", caliper=0.1)


def test_match_missing_values_raise(simple):
    df = simple.astype({"age": float})
    df.loc[0, "age"] = np.nan
    with pytest.raises(ValueError, match=r"missing values.*'age'"):
        match(df, "treat", ["age"])


def test_match_duplicate_index_raises(simple):
    with pytest.raises(ValueError, match="duplicate labels"):
        match(simple.set_index(np.zeros(len(simple), dtype=int)), "treat", ["age"])


# ---------------------------------------------------------------- result object


def test_match_result_views_are_consistent(simple):
    res = match(simple, "treat", ["age", "group", "flag"], exact=["sex"], ratio=2)
    assert_valid_match(res)
    tidy = res.tidy()
    assert list(tidy.columns[:2]) == ["covariate", "type"]
    assert tidy.loc[tidy.covariate == "flag", "type"].item() == "binary"
    bal = res.balance()
    assert bal.index[0] == "distance"
    assert np.isnan(bal.loc["flag", "var_ratio_after"])
    assert "ATT" in res.summary() and "Notes:" in res.summary()
    assert isinstance(res, Result)
    assert repr(res) == res.summary() and res.summary() in html.unescape(res._repr_html_())
    json.dumps(res.to_dict())
    assert res.to_dict()["n_matched_treated"] == res.n_matched_treated
    assert res.matched.columns.tolist() == ["treat", "subclass", "weight", "distance"]
    assert res.matched.index.isin(simple.index).all()
    md = res.matched_data()
    assert {"age", "subclass", "weight"} <= set(md.columns)


def test_match_balance_after_uses_weights(simple):
    res = match(simple, "treat", ["age"], ratio=3, caliper=0.05)
    m = res.matched_data()
    c = m[m.treat == 0]
    expected = np.average(c["age"], weights=c["weight"])
    assert res.balance().loc["age", "mean_control_after"] == pytest.approx(expected, rel=1e-12)


def test_match_plots_return_axes(simple):
    import matplotlib.pyplot as plt

    res = match(simple, "treat", ["age", "group"])
    ax1 = res.plot_love()
    ax2 = res.plot_overlap()
    assert isinstance(ax1, plt.Axes) and isinstance(ax2, plt.Axes)
    plt.close("all")


def test_match_overlap_table_counts_every_row_once_in_fixed_bins(simple):
    res = match(simple, "treat", ["age", "group"], ratio=2)
    bins = res.overlap_table(bins=12)
    assert bins.columns.tolist() == ["bin_mid", "participants", "controls_matched", "controls_all"]
    assert len(bins) == 12 and bins["bin_mid"].is_monotonic_increasing
    assert bins["participants"].sum() == res.n_treated
    assert bins["controls_matched"].sum() == res.n_controls_matched
    assert bins["controls_all"].sum() == res.n_controls
    # The bins span the 0.5th to 99.5th percentiles; rows beyond fall in the end bins.
    lo, hi = np.nanpercentile(res.distance, [0.5, 99.5])
    width = (hi - lo) / 12
    assert bins["bin_mid"].iloc[0] == pytest.approx(lo + width / 2)
    assert bins["bin_mid"].iloc[-1] == pytest.approx(hi - width / 2)


def test_match_result_is_frozen(simple):
    res = match(simple, "treat", ["age"])
    with pytest.raises(AttributeError):
        res.n_treated = 3


def test_match_separating_covariate_does_not_break_the_caliper() -> None:
    # A covariate held only by controls separates the groups: its coefficient diverges. The fit
    # used to stop at once on a step test relative to that coefficient, leaving the others wrong
    # and the distance SD (hence the caliper) astronomically large.
    rng = np.random.default_rng(5)
    n = 3_000
    x2 = rng.normal(size=n)
    treat = (rng.random(n) < 1 / (1 + np.exp(2.0 - 1.0 * x2))).astype(int)
    x1 = np.where(treat == 1, 0, (rng.random(n) < 0.3).astype(int))
    df = pd.DataFrame({"treat": treat, "x1": x1, "x2": x2})
    res = match(df, treatment="treat", covariates=["x1", "x2"], caliper=0.2)
    # The non-separating coefficient must reach its optimum (the true log-odds slope is 1.0,
    # SE about 0.06 at this size), and the caliper must stay on the scale of the logit.
    assert res.propensity_params["x2"] == pytest.approx(1.0, abs=0.25)
    assert res.caliper_width is not None and res.caliper_width < 5
    assert abs(res.balance().loc["x2", "smd_after"]) < 0.1


def test_available_until_keeps_a_control_from_treated_rows_at_or_after_its_time() -> None:
    """A candidate treated later in the period serves only the treated rows before that moment."""
    df = pd.DataFrame(
        {
            "treat": [1, 1, 0, 0],
            "d": [0.50, 0.52, 0.51, 0.90],
            "t": [3.0, 6.0, np.nan, np.nan],
            "until": [np.nan, np.nan, 5.0, np.nan],
        },
        index=[10, 11, 20, 21],
    )
    free = match(df, "treat", [], distance="d", caliper=None)
    # Without the constraint the later treated row (d=0.52, processed first) takes row 20.
    assert set(free.pairs.loc[free.pairs["treated"] == 11, "control"]) == {20}
    m = match(df, "treat", [], distance="d", caliper=None, time="t", available_until="until")
    pairs = dict(zip(m.pairs["treated"], m.pairs["control"], strict=True))
    assert pairs == {11: 21, 10: 20}  # row 20 (until 5) cannot serve time 6, only time 3
    shuffled = match(
        df.iloc[[3, 1, 0, 2]],
        "treat",
        [],
        distance="d",
        caliper=None,
        time="t",
        available_until="until",
    )
    assert shuffled.pairs.equals(m.pairs)
    with pytest.raises(ValueError, match="together"):
        match(df, "treat", [], distance="d", time="t")


def test_available_until_reads_datetimes_and_equal_times_exclude() -> None:
    df = pd.DataFrame(
        {
            "treat": [1, 0, 0],
            "d": [0.5, 0.5, 0.7],
            "t": pd.to_datetime(["2022-03-16", None, None]),
            "until": pd.to_datetime([None, "2022-03-16", None]),
        }
    )
    m = match(df, "treat", [], distance="d", caliper=None, time="t", available_until="until")
    assert m.pairs["control"].tolist() == [
        2
    ]  # referred on the treated row's own date: not a control
