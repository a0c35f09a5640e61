"""prepost(): paired change, CI, effect size, shares, direction, completeness, attrition."""

import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.definitions import instruments
from evalkit.stats.prepost import PrePostResult, dz_confidence_interval, prepost
from evalkit.stats.scoring import score_measures

DEFS = instruments()


def _scores(instrument, before, after, *, extra=None):
    """Scores table from dicts episode -> score (``after`` may lack episodes)."""
    rows = [(e, instrument, "baseline", s) for e, s in before.items()]
    rows += [(e, instrument, "end", s) for e, s in after.items()]
    df = pd.DataFrame(rows, columns=["episode_id", "instrument", "timepoint", "score"])
    df["scorable"] = df["score"].notna()
    if extra:
        for col, mapping in extra.items():
            df[col] = df["episode_id"].map(mapping)
    return df


def _simulated(n, mean_change, sd_change, seed, instrument="wemwbs"):
    rng = np.random.default_rng(seed)
    before = rng.normal(45, 8, n)
    after = before + rng.normal(mean_change, sd_change, n)
    ids = [f"e{i}" for i in range(n)]
    scores = _scores(
        instrument, dict(zip(ids, before, strict=True)), dict(zip(ids, after, strict=True))
    )
    return scores, before, after


# ----- inference -----------------------------------------------------------------------------
def test_prepost_ci_and_p_agree_exactly_with_ttest_rel_and_hand_formula():
    s, before, after = _simulated(40, 3.0, 6.0, seed=11)
    r = prepost(s, "wemwbs", definitions=DEFS)
    ref = stats.ttest_rel(after, before)
    ci = ref.confidence_interval(0.95)
    assert r.n_paired == 40
    assert r.mean_change == pytest.approx(np.mean(after - before), rel=1e-12)
    assert r.ci_low == pytest.approx(ci.low, rel=1e-10)
    assert r.ci_high == pytest.approx(ci.high, rel=1e-10)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    # hand formula: mean ± t(0.975, n-1) · sd / sqrt(n)
    d = after - before
    se = d.std(ddof=1) / math.sqrt(40)
    half = stats.t.ppf(0.975, 39) * se
    assert r.std_error == pytest.approx(se, rel=1e-12)
    assert r.ci_low == pytest.approx(d.mean() - half, rel=1e-10)
    assert r.ci_high == pytest.approx(d.mean() + half, rel=1e-10)
    assert r.mean_after - r.mean_before == pytest.approx(r.mean_change, rel=1e-12)


def test_prepost_ci_coverage_on_fixed_seed_is_near_95_percent():
    # 300 replications of n = 25 pairs with true mean change 2, analysed as the levels of `by`
    # in one call. Coverage SE = sqrt(.95 x .05 / 300) = 0.0126; accept 95% ± 3 SE.
    reps, n = 300, 25
    parts = []
    for rep in range(reps):
        s, _, _ = _simulated(n, 2.0, 5.0, seed=1000 + rep)
        s["episode_id"] = f"r{rep}_" + s["episode_id"]
        s["replicate"] = rep
        parts.append(s)
    r = prepost(pd.concat(parts, ignore_index=True), "wemwbs", by="replicate", definitions=DEFS)
    g = r.by_group
    assert len(g) == reps and (g["n_paired"] == n).all()
    coverage = ((g["ci_low"] <= 2.0) & (2.0 <= g["ci_high"])).mean()
    se = math.sqrt(0.95 * 0.05 / reps)
    assert abs(coverage - 0.95) <= 3 * se


def test_prepost_known_mean_change_within_three_standard_errors():
    s, _, _ = _simulated(500, 4.0, 6.0, seed=5)
    r = prepost(s, "wemwbs", definitions=DEFS)
    assert abs(r.mean_change - 4.0) <= 3 * r.std_error


# ----- effect size ----------------------------------------------------------------------------
def test_prepost_effect_size_is_dz_mean_change_over_sd_of_change():
    s, before, after = _simulated(30, 2.0, 4.0, seed=3)
    r = prepost(s, "wemwbs", definitions=DEFS)
    d = after - before
    assert r.effect_size_name == "d_z"
    assert r.effect_size == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
    # d_z = t / sqrt(n) for the paired t statistic
    assert r.effect_size == pytest.approx(stats.ttest_rel(after, before).statistic / math.sqrt(30))
    assert r.effect_size_ci_low < r.effect_size < r.effect_size_ci_high


@pytest.mark.parametrize(("d", "n"), [(0.5, 30), (-0.2, 12), (1.5, 8), (0.0, 50)])
def test_dz_confidence_interval_limits_put_observed_t_at_the_tails(d, n):
    lo, hi = dz_confidence_interval(d, n)
    t_obs = d * math.sqrt(n)
    # defining property of the noncentral-t interval
    assert stats.nct.cdf(t_obs, n - 1, lo * math.sqrt(n)) == pytest.approx(0.975, abs=1e-8)
    assert stats.nct.cdf(t_obs, n - 1, hi * math.sqrt(n)) == pytest.approx(0.025, abs=1e-8)


def test_dz_confidence_interval_large_n_agrees_with_normal_approximation():
    # Hedges-Olkin style approximation SE(d_z) ~ sqrt(1/n + d^2 / (2n)); the two differ by
    # O(1/n), so at n = 2000 they agree to well within 0.005 (1/n = 0.0005).
    d, n = 0.3, 2000
    lo, hi = dz_confidence_interval(d, n)
    se = math.sqrt(1 / n + d**2 / (2 * n))
    assert lo == pytest.approx(d - 1.959964 * se, abs=0.005)
    assert hi == pytest.approx(d + 1.959964 * se, abs=0.005)


def test_dz_confidence_interval_too_few_pairs_is_nan():
    assert all(math.isnan(x) for x in dz_confidence_interval(0.4, 1))


# ----- shares and direction -------------------------------------------------------------------
def test_prepost_shares_wemwbs_threshold_hand_example():
    # WEMWBS reliable change threshold 8.6, higher is better.
    # changes: +10 improved, +9 improved, +8 unchanged, 0 unchanged, -9 deteriorated,
    # -2 unchanged -> 2/6 improved, 3/6 unchanged, 1/6 deteriorated
    before = {"a": 40, "b": 40, "c": 40, "d": 40, "e": 40, "f": 40}
    after = {"a": 50, "b": 49, "c": 48, "d": 40, "e": 31, "f": 38}
    r = prepost(_scores("wemwbs", before, after), "wemwbs", definitions=DEFS)
    assert r.threshold == 8.6
    assert r.threshold_kind == "reliable_change"
    assert (r.n_improved, r.n_unchanged, r.n_deteriorated) == (2, 3, 1)
    assert r.share_improved == pytest.approx(2 / 6)
    assert r.share_unchanged == pytest.approx(3 / 6)
    assert r.share_deteriorated == pytest.approx(1 / 6)
    # mean change (10 + 9 + 8 + 0 - 9 - 2) / 6 = 16 / 6
    assert r.mean_change == pytest.approx(16 / 6)


def test_prepost_cat_fall_counts_as_improvement():
    # CAT: lower is better, MCID 2. changes -3 improved, -2 improved (meets MCID),
    # -1 unchanged, +2 deteriorated, +5 deteriorated; mean (-3-2-1+2+5)/5 = 0.2
    before = {"a": 20, "b": 20, "c": 20, "d": 20, "e": 20}
    after = {"a": 17, "b": 18, "c": 19, "d": 22, "e": 25}
    r = prepost(_scores("cat", before, after), "cat", definitions=DEFS)
    assert r.direction == "lower"
    assert r.threshold == 2.0
    assert (r.n_improved, r.n_unchanged, r.n_deteriorated) == (2, 1, 2)
    assert r.mean_change == pytest.approx(0.2)


def test_prepost_rcads_direction_is_lower_and_no_threshold_means_any_change():
    before = {"a": 20, "b": 20, "c": 20}
    after = {"a": 15, "b": 20, "c": 21}
    r = prepost(_scores("rcads_anxiety", before, after), "rcads_anxiety", definitions=DEFS)
    assert r.direction == "lower"
    assert r.threshold is None
    assert (r.n_improved, r.n_unchanged, r.n_deteriorated) == (1, 1, 1)
    assert any("No reliable or meaningful change threshold" in n for n in r.notes)


def test_prepost_ons4_anxiety_fall_is_improvement_happiness_fall_is_deterioration():
    before = {"a": 6, "b": 5, "c": 5}
    after = {"a": 4, "b": 5, "c": 6}  # changes -2, 0, +1
    anx = prepost(_scores("ons4_anxiety", before, after), "ons4_anxiety", definitions=DEFS)
    hap = prepost(_scores("ons4_happiness", before, after), "ons4_happiness", definitions=DEFS)
    assert anx.direction == "lower"
    assert (anx.n_improved, anx.n_unchanged, anx.n_deteriorated) == (1, 1, 1)
    assert anx.data.set_index("episode_id").loc["a", "category"] == "improved"
    assert hap.direction == "higher"
    assert hap.data.set_index("episode_id").loc["a", "category"] == "deteriorated"
    assert hap.data.set_index("episode_id").loc["c", "category"] == "improved"
    assert anx.norm == 3.23  # ONS UK mean YE March 2023


def test_prepost_threshold_override_and_none():
    before = {"a": 40, "b": 40}
    after = {"a": 45, "b": 41}
    r5 = prepost(_scores("wemwbs", before, after), "wemwbs", threshold=5, definitions=DEFS)
    assert (r5.n_improved, r5.n_unchanged) == (1, 1)
    r0 = prepost(_scores("wemwbs", before, after), "wemwbs", threshold="none", definitions=DEFS)
    assert r0.n_improved == 2
    assert r0.threshold is None


# ----- completeness and completers vs non-completers ------------------------------------------
def test_prepost_completeness_and_completer_comparison_hand_example():
    # completers a, b, c at baseline 40, 44, 48 (mean 44, var 16); non-completers d, e at 30, 34
    # (mean 32, var 8); f has an end score only. n_baseline 5, paired 3, completeness 0.6.
    before = {"a": 40, "b": 44, "c": 48, "d": 30, "e": 34}
    after = {"a": 42, "b": 47, "c": 50, "f": 33}
    r = prepost(_scores("wemwbs", before, after), "wemwbs", definitions=DEFS)
    assert (r.n_baseline, r.n_paired, r.n_after) == (5, 3, 4)
    assert r.follow_up_completeness == pytest.approx(0.6)
    assert r.baseline_mean_completers == pytest.approx(44.0)
    assert r.baseline_mean_noncompleters == pytest.approx(32.0)
    assert r.baseline_difference == pytest.approx(12.0)
    # Welch by hand: SE = sqrt(16/3 + 8/2) = sqrt(28/3); df = (28/3)^2 / ((16/3)^2/2 + 4^2/1)
    se = math.sqrt(28 / 3)
    df = (28 / 3) ** 2 / ((16 / 3) ** 2 / 2 + 16)
    half = stats.t.ppf(0.975, df) * se
    assert r.baseline_difference_ci_low == pytest.approx(12 - half, rel=1e-9)
    assert r.baseline_difference_ci_high == pytest.approx(12 + half, rel=1e-9)
    assert r.baseline_difference_p_value == pytest.approx(2 * stats.t.sf(12 / se, df), rel=1e-9)
    assert any("1 episode(s) have a scorable end score" in n for n in r.notes)
    # mean change (2 + 3 + 2) / 3
    assert r.mean_change == pytest.approx(7 / 3)


def test_prepost_covariates_compared_between_completers_and_noncompleters():
    before = {"a": 40, "b": 44, "c": 48, "d": 30, "e": 34}
    after = {"a": 42, "b": 47, "c": 50}
    age = {"a": 60, "b": 70, "c": 80, "d": 30, "e": 40}
    s = _scores("wemwbs", before, after, extra={"age": age})
    r = prepost(s, "wemwbs", covariates=["age"], definitions=DEFS)
    row = r.covariate_comparison.set_index("covariate").loc["age"]
    assert row["mean_completers"] == pytest.approx(70.0)
    assert row["mean_noncompleters"] == pytest.approx(35.0)
    assert row["difference"] == pytest.approx(35.0)


# ----- GBO ------------------------------------------------------------------------------------
def _gbo_measures():
    rows = []

    def q(ep, tp, ratings):
        for goal, r in ratings.items():
            rows.append((ep, "gbo", tp, "2024-01-01", goal, r))

    q("one", "baseline", {"1": 6})
    q("one", "end", {"1": 8})  # one goal: change 2
    q("two", "baseline", {"1": 2, "3": 4})
    q("two", "end", {"1": 5, "3": 7})  # two goals: changes 3, 3 -> 3
    q("three", "baseline", {"1": 1, "2": 2})
    q("three", "end", {"1": 4, "2": 2, "3": 9})  # goal 3 only at end: changes 3, 0 -> 1.5
    q("lost", "baseline", {"1": 3, "2": 3, "3": 3})  # no end
    return pd.DataFrame(
        rows, columns=["episode_id", "instrument", "timepoint", "assessed_on", "item", "response"]
    )


def test_prepost_gbo_change_is_mean_over_goals_rated_at_both():
    scores = score_measures(_gbo_measures(), DEFS)
    r = prepost(scores, "gbo", definitions=DEFS)
    ch = r.data.set_index("episode_id")["change"]
    assert ch["one"] == pytest.approx(2.0)
    assert ch["two"] == pytest.approx(3.0)
    # goal 3 only rated at end is ignored: (3 + 0) / 2 = 1.5, not 5 - 1.5 = 3.5
    assert ch["three"] == pytest.approx(1.5)
    assert r.n_paired == 3
    assert r.n_baseline == 4
    assert r.mean_change == pytest.approx((2 + 3 + 1.5) / 3)
    # before/after over the same goals keep mean change = after - before
    assert r.mean_after - r.mean_before == pytest.approx(r.mean_change)
    assert r.threshold is None


# ----- groups, output, plots, errors ----------------------------------------------------------
def test_prepost_by_imd_quintile_matches_subset_analysis():
    s, _, _ = _simulated(60, 2.0, 5.0, seed=8)
    q = {f"e{i}": (i % 3) + 1 for i in range(60)}
    s["imd_quintile"] = s["episode_id"].map(q)
    r = prepost(s, "wemwbs", by="imd_quintile", definitions=DEFS)
    assert r.by == "imd_quintile"
    assert r.by_group["level"].tolist() == [1, 2, 3]
    for level in (1, 2, 3):
        sub = prepost(s[s["imd_quintile"] == level], "wemwbs", definitions=DEFS)
        assert sub.by is None and sub.by_group.empty
        row = r.by_group.set_index("level").loc[level]
        assert row["n_paired"] == sub.n_paired
        assert row["mean_change"] == pytest.approx(sub.mean_change)
        assert row["ci_low"] == pytest.approx(sub.ci_low)
    assert (r.tidy()["group"] == "imd_quintile").any()


@pytest.mark.parametrize("by", [None, False])
def test_prepost_groups_by_nothing_unless_by_names_a_column(by):
    # The statistics layer has no domain default: an imd_quintile column is not a grouping.
    s, _, _ = _simulated(30, 2.0, 5.0, seed=8)
    s["imd_quintile"] = s["episode_id"].map({f"e{i}": (i % 3) + 1 for i in range(30)})
    r = prepost(s, "wemwbs", by=by, definitions=DEFS)
    assert r.by is None and r.by_group.empty and r.spec["by"] is None
    assert set(r.tidy()["group"]) == {"all"}
    assert "group" not in r.data.columns
    assert r.to_dict()["by_group"] == []


def test_prepost_column_names_are_arguments_and_give_identical_results():
    s, _, _ = _simulated(40, 2.0, 5.0, seed=12)
    s["imd_quintile"] = s["episode_id"].map({f"e{i}": (i % 2) + 1 for i in range(40)})
    s["age"] = s["episode_id"].str[1:].astype(int) + 20
    s.loc[s.index[-1], "scorable"] = False
    names = {
        "episode_id": "person",
        "instrument": "scale",
        "timepoint": "wave",
        "score": "value",
        "scorable": "ok",
    }
    kwargs = {"by": "imd_quintile", "covariates": ["age"], "definitions": DEFS}
    want = prepost(s, "wemwbs", **kwargs)
    got = prepost(
        s.rename(columns=names),
        "wemwbs",
        **kwargs,
        episode_col="person",
        instrument_col="scale",
        timepoint_col="wave",
        score_col="value",
        scorable_col="ok",
    )
    assert got.to_dict() == want.to_dict()
    assert got.summary() == want.summary()
    pd.testing.assert_frame_equal(got.tidy(), want.tidy())
    pd.testing.assert_frame_equal(got.data.rename(columns={"person": "episode_id"}), want.data)
    assert got.episode_col == "person"
    assert list(got.paired_table().columns) == ["person", "before", "after", "change"]


def test_prepost_missing_renamed_column_is_named():
    s = _scores("wemwbs", {"a": 40}, {"a": 44})
    with pytest.raises(KeyError, match="person"):
        prepost(s, "wemwbs", definitions=DEFS, episode_col="person")


def test_prepost_to_dict_has_contract_keys_and_is_json_safe():
    s, _, _ = _simulated(20, 2.0, 5.0, seed=2)
    d = prepost(s, "wemwbs", definitions=DEFS).to_dict()
    for key in (
        "instrument",
        "timepoints",
        "n_paired",
        "mean_change",
        "ci_low",
        "ci_high",
        "mde",
        "effect_size",
        "shares",
        "follow_up_completeness",
    ):
        assert key in d
    assert d["timepoints"] == ["baseline", "end"]
    json.dumps(d, allow_nan=False)


def test_prepost_result_is_frozen_and_summarises():
    s, _, _ = _simulated(20, 2.0, 5.0, seed=4)
    r = prepost(s, "wemwbs", definitions=DEFS)
    assert isinstance(r, PrePostResult)
    with pytest.raises(AttributeError):
        r.mean_change = 0  # type: ignore[misc]
    text = r.summary()
    assert "d_z" in text and "follow-up completeness" in text
    assert r._repr_html_().startswith("<pre>")
    tidy = r.tidy()
    assert list(tidy.columns) == [
        "instrument",
        "group",
        "level",
        "term",
        "estimate",
        "std_error",
        "ci_low",
        "ci_high",
        "p_value",
        "n",
    ]


def test_prepost_plots_return_axes():
    s, _, _ = _simulated(20, 2.0, 5.0, seed=6)
    r = prepost(s, "wemwbs", definitions=DEFS)
    assert r.plot_paired().get_xlabel().startswith("change")
    assert r.plot_paired(kind="slope") is not None
    ax = r.plot_distribution()
    assert any(line.get_label().startswith("England") for line in ax.get_lines())
    matplotlib.pyplot.close("all")


def test_prepost_single_pair_gives_nan_ci_with_note():
    r = prepost(_scores("wemwbs", {"a": 40, "b": 41}, {"a": 44}), "wemwbs", definitions=DEFS)
    assert r.n_paired == 1
    assert math.isnan(r.ci_low) and math.isnan(r.effect_size)
    assert any("Fewer than 2 paired" in n for n in r.notes)


def test_prepost_unscorable_rows_are_not_paired():
    s = _scores("wemwbs", {"a": 40, "b": 41, "c": 42}, {"a": 44, "b": np.nan, "c": 45})
    r = prepost(s, "wemwbs", definitions=DEFS)
    assert r.n_paired == 2
    assert r.n_baseline == 3


def test_prepost_duplicate_rows_raise():
    s = _scores("wemwbs", {"a": 40}, {"a": 44})
    with pytest.raises(ValueError, match="more than one row"):
        prepost(pd.concat([s, s]), "wemwbs", definitions=DEFS)


def test_prepost_unknown_instrument_in_scores_raises():
    s = _scores("wemwbs", {"a": 40}, {"a": 44})
    with pytest.raises(ValueError, match="no scores for instrument"):
        prepost(s, "cat", definitions=DEFS)


def test_prepost_swemwbs_from_measures_uses_metric_scores():
    # baseline all 3s: raw 21 -> 19.25; end all 4s: raw 28 -> 25.03 (published table)
    rows = [
        ("e1", "swemwbs", tp, "2024-01-01", str(i), v)
        for tp, v in (("baseline", 3), ("end", 4))
        for i in range(1, 8)
    ]
    m = pd.DataFrame(
        rows, columns=["episode_id", "instrument", "timepoint", "assessed_on", "item", "response"]
    )
    r = prepost(score_measures(m, DEFS), "swemwbs", definitions=DEFS)
    assert r.mean_change == pytest.approx(25.03 - 19.25)
    # 5.78 >= 2.87 reliable change threshold
    assert r.n_improved == 1


def test_mde_standardised_negative_root_of_the_solver_is_never_returned() -> None:
    import itertools

    # statsmodels' solver returned a one-element array, and for n = 73 the negative root; the
    # paired-t MDE at 80% power is positive and falls as n grows (d = 0.996 at n = 10 is the
    # textbook value for a one-sample t: (z_.975 + z_.8) / sqrt(n) ~ 0.886, inflated by the t).
    from evalkit.stats.prepost import mde_standardised

    values = [mde_standardised(n, 0.05, 0.8) for n in range(10, 130)]
    assert all(v > 0 for v in values)
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_dz_interval_not_computable_returns_nan_not_crash() -> None:
    import math

    from evalkit.stats.prepost import dz_confidence_interval

    low, _ = dz_confidence_interval(39.68, 2)  # two pairs with nearly equal changes
    assert math.isnan(low)


def test_prepost_and_score_measures_require_the_instrument_definitions():
    s = _scores("wemwbs", {"a": 40}, {"a": 44})
    with pytest.raises(TypeError):
        prepost(s, "wemwbs")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="definitions is required"):
        prepost(s, "wemwbs", definitions=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        score_measures(_gbo_measures())  # type: ignore[call-arg]


def test_prepost_definitions_as_iterable_equal_mapping():
    s, _, _ = _simulated(15, 2.0, 5.0, seed=9)
    by_map = prepost(s, "wemwbs", definitions=DEFS).to_dict()
    assert prepost(s, "wemwbs", definitions=list(DEFS.values())).to_dict() == by_map


def test_prepost_instrument_without_definition_uses_given_direction():
    s = _scores("toy", {"a": 5, "b": 5, "c": 5}, {"a": 3, "b": 6, "c": 5})
    r = prepost(s, "toy", definitions={}, direction="lower")
    assert r.direction == "lower" and r.threshold is None and r.norm is None
    assert (r.n_improved, r.n_unchanged, r.n_deteriorated) == (1, 1, 1)
    assert any("No definition for 'toy'" in n and "(given)" in n for n in r.notes)


def test_prepost_repr_is_the_summary_of_the_result_base():
    from evalkit.stats.result import Result

    s, _, _ = _simulated(12, 2.0, 5.0, seed=10)
    r = prepost(s, "wemwbs", definitions=DEFS)
    assert isinstance(r, Result)
    assert repr(r) == r.summary()
    assert r.summary().startswith("Pre/post change: ")
    assert "instrument" not in r.summary().splitlines()[len(r.summary_header()) + 1]


def test_prepost_plots_draw_with_the_shared_figure_functions(monkeypatch):
    from evalkit.stats import plots
    from evalkit.stats.prepost import result as result_module

    calls = []
    for name in ("paired_change", "before_after"):
        real = getattr(plots, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(result_module, name, spy)
    s, _, _ = _simulated(20, 2.0, 5.0, seed=6)
    r = prepost(s, "wemwbs", definitions=DEFS)
    ax = r.plot_paired()
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"mean change", "improvement", "deterioration"} <= set(labels)
    r.plot_paired(kind="slope")
    r.plot_distribution()
    assert calls == ["paired_change", "paired_change", "before_after"]
    assert list(r.paired_table().columns) == ["episode_id", "before", "after", "change"]
    assert len(r.paired_table()) == r.n_paired
    matplotlib.pyplot.close("all")


def test_prepost_effect_size_table_lower_is_better_is_flipped_positive() -> None:
    import dataclasses

    from evalkit.stats.prepost import PrePostResult

    fields = {f.name for f in dataclasses.fields(PrePostResult)}
    assert {"effect_size", "effect_size_ci_low", "effect_size_ci_high", "direction"} <= fields
    base = {name: None for name in fields}
    base.update(
        title="CAT", direction="lower", effect_size=-0.5, effect_size_ci_low=-0.8,
        effect_size_ci_high=-0.2,
    )  # fmt: skip
    r = PrePostResult(**base)
    t = r.effect_size_table()
    assert t.loc[0, "effect_size"] == 0.5
    assert (t.loc[0, "effect_size_ci_low"], t.loc[0, "effect_size_ci_high"]) == (0.2, 0.8)
