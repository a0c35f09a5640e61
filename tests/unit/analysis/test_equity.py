"""analysis.equity on the demo county: reach, pathway, outcomes by deprivation, referral trends.

Truth comes from the generator (``synthetic_truth.json`` and the programme configs' ``synthetic``
blocks); the analysis never reads it. On the demo county (60,000 people, seed 42, realistic
regime) each programme has about 100 participants, so tolerances come from sampling error:
the reach truth must lie inside the 95% CI, and each pathway step's share must lie within 3
binomial standard errors of the generator's probability.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from scipy.stats import binom

from evalkit.analysis import wellbeing_scores
from evalkit.analysis.equity import (
    PATHWAY_STEPS,
    age_bands,
    outcomes_by_deprivation,
    pathway,
    reach,
    reach_all,
    referral_trends,
)
from evalkit.analysis.utilisation import cohort_for
from evalkit.config import Eligibility, instruments, load_programme
from evalkit.stats import plots
from evalkit.stats.result import Result

PROGRAMMES = ("mindsong", "cyp", "chronic_pain")
#: Keys of a data-contract ``reach`` entry (docs/design/data-contract.md, results.json).
REACH_KEYS = {
    "group",
    "level",
    "participants",
    "eligible_person_years",
    "ratio_vs_reference",
    "reference_level",
    "ci_low",
    "ci_high",
}
PATHWAY_KEYS = {"step", "group", "level", "n"}
SE_TOL = 3  # pathway shares: |observed - generator probability| < 3 binomial SE


@pytest.fixture(scope="module")
def truth(demo_county: Path) -> dict:
    return json.loads((demo_county / "synthetic_truth.json").read_text())


@pytest.fixture(scope="module")
def studies(demo_studies) -> dict:
    return {p: demo_studies[p] for p in PROGRAMMES}


@pytest.fixture(scope="module")
def mindsong_mc(demo_matched):
    return demo_matched["mindsong"]


@pytest.fixture(scope="module")
def mindsong_obd(studies, mindsong_mc):
    return outcomes_by_deprivation(studies["mindsong"], mindsong_mc)


# --------------------------------------------------------------------------------------------
# Reach
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("programme", PROGRAMMES)
def test_reach_imd_q1_over_q5_above_one_with_truth_in_ci(studies, truth, programme) -> None:
    res = reach(studies[programme], "imd_quintile")
    row = res.tidy().set_index("level").loc["1"]
    true_rr = truth["programmes"][programme]["reach"]["imd_quintile"]["1"]
    assert row["ratio_vs_reference"] > 1, res.summary()
    assert row["ci_low"] <= true_rr <= row["ci_high"], (true_rr, res.summary())
    assert res.reference_level == "5"


def test_reach_person_years_equal_independent_pandas_computation(studies, demo_processed) -> None:
    # The eligibility rules written out again in pandas, month by month: the engine's grid
    # must give exactly the same eligible person-months per IMD quintile.
    study = studies["mindsong"]
    res = reach(study, "imd_quintile")
    cohort = cohort_for(study)
    prog = study.programme
    pop = pd.read_parquet(demo_processed / "population.parquet")
    ref = pd.read_parquet(demo_processed / "referrals.parquet")
    date_cols = ["registered_from", "registered_to", "date_of_death", "copd", "asthma"]
    for c in date_cols:
        pop[c] = pd.to_datetime(pop[c])
    ref = ref[ref["programme"] == prog.slug]
    first = pd.to_datetime(ref.groupby("person_id")["referral_date"].min())
    first_ref = pop["person_id"].map(first)
    data_start = pd.Timestamp(cohort.data_start)
    history = cohort.spec["history_months"]
    quintile = (pop["imd_decile"] + 1) // 2
    months = pd.date_range(res.period_start, res.period_end, freq="MS")
    # The referral period: the calendar months from the first to the last referral.
    lo, hi = pd.to_datetime(ref["referral_date"]).agg(["min", "max"])
    assert len(months) == (hi.year - lo.year) * 12 + hi.month - lo.month + 1
    pm = pd.Series(0, index=range(1, 6), dtype="int64")
    observed_from = pop["registered_from"].where(pop["registered_from"] > data_start, data_start)
    for m in months:
        age = m.year - pop["year_of_birth"]
        ok = (age >= prog.eligibility.age_min) & (age <= prog.eligibility.age_max + 1)
        ok &= (pop["copd"] <= m) | (pop["asthma"] <= m)
        ok &= (pop["registered_from"] <= m) & (
            pop["registered_to"].isna() | (pop["registered_to"] >= m)
        )
        ok &= pop["date_of_death"].isna() | (pop["date_of_death"] >= m)
        ok &= observed_from <= m - pd.DateOffset(months=history)
        ok &= first_ref.isna() | (first_ref >= m)
        pm = pm.add(quintile[ok].value_counts(), fill_value=0)
    got = res.tidy().set_index("level")["eligible_person_years"]
    for q in range(1, 6):
        assert got[str(q)] == pytest.approx(pm[q] / 12, rel=1e-12), q


def test_reach_participants_sum_to_cohort_participants_for_every_group(studies) -> None:
    study = studies["cyp"]
    n = cohort_for(study).n_participants
    all_groups = reach_all(study)
    for group, res in all_groups.results.items():
        assert res.tidy()["participants"].sum() == n, group
        assert res.eligible_person_years == pytest.approx(
            all_groups["imd_quintile"].eligible_person_years
        )


def test_reach_entries_have_exactly_the_contract_keys(studies) -> None:
    res = reach_all(studies["mindsong"])
    entries = json.loads(json.dumps(res.entries()))
    assert entries and all(set(e) == REACH_KEYS for e in entries)
    assert {e["group"] for e in entries} == {"imd_quintile", "ethnicity_group", "sex", "age_band"}
    assert all(isinstance(e["level"], str) and isinstance(e["participants"], int) for e in entries)
    refs = [e for e in entries if e["level"] == e["reference_level"]]
    assert len(refs) == 4
    assert all(e["ratio_vs_reference"] == 1 and e["ci_low"] is None for e in refs)
    assert json.loads(json.dumps(res.to_dict()))["reach"] == entries


def test_reach_reference_is_largest_group_outside_imd(studies) -> None:
    for group in ("ethnicity_group", "sex", "age_band"):
        t = reach(studies["chronic_pain"], group).tidy()
        largest = t.loc[t["eligible_person_years"].idxmax(), "level"]
        assert (t["reference_level"] == largest).all(), group


def test_reach_rate_ratio_equals_hand_ratio_of_rates(studies) -> None:
    t = reach(studies["chronic_pain"], "imd_quintile").tidy().set_index("level")
    hand = (t.loc["2", "participants"] / t.loc["2", "eligible_person_years"]) / (
        t.loc["5", "participants"] / t.loc["5", "eligible_person_years"]
    )
    assert t.loc["2", "ratio_vs_reference"] == pytest.approx(hand, rel=1e-12)


def test_reach_children_use_school_stage_age_bands(studies) -> None:
    t = reach(studies["cyp"], "age_band").tidy()
    assert set(t["level"]) <= {"8-10", "11-13", "14-15", "16+"}
    assert t["participants"].sum() == cohort_for(studies["cyp"]).n_participants


@pytest.mark.parametrize(
    ("age_min", "age_max", "expected"),
    [
        (18, 120, ["18-34", "35-49", "50-64", "65-74", "75+"]),  # adults
        (8, 17, ["8-10", "11-13", "14-15", "16+"]),  # children: school stages
        (40, 70, ["40-49", "50-64", "65+"]),  # starts inside a band
        (12, 15, ["12-13", "14+"]),  # narrow children's range
        (75, 120, ["75+"]),  # one band
    ],
)
def test_age_bands_case_table(age_min, age_max, expected) -> None:
    prog = load_programme("mindsong")
    elig = Eligibility(age_min=age_min, age_max=age_max, conditions_any=["copd"])
    assert age_bands(prog.model_copy(update={"eligibility": elig}))[1] == expected


def test_reach_unknown_group_raises(studies) -> None:
    with pytest.raises(ValueError, match="group must be one of"):
        reach(studies["mindsong"], "district")


# --------------------------------------------------------------------------------------------
# Pathway
# --------------------------------------------------------------------------------------------
def _expected_end_response(p: float, mnar: float, regime: str) -> float:
    """E[expit(logit(p) + mnar z)], z ~ N(0, 1) (the generator's MNAR end response)."""
    if regime != "realistic" or mnar == 0:
        return p
    z, w = np.polynomial.hermite_e.hermegauss(60)
    return float((w * expit(logit(p) + mnar * z)).sum() / w.sum())


@pytest.mark.parametrize("programme", PROGRAMMES)
def test_pathway_funnel_reproduces_generator_dropout(studies, truth, programme) -> None:
    """Each step's share of the previous step against the generator's probability.

    From ``synth/programmes.py`` and ``synth/questionnaires.py``: a referral starts with
    ``p_start`` (truth: ``selection.attendance.expected_p_start``); completers attend at least
    half the sessions and drop-outs fewer, so attended_half | started has the mean
    ``p_complete`` of starters (truth per quintile, weighted here by the observed starters);
    a starter gives a baseline with ``p_baseline`` and an end questionnaire (completers) with
    ``p_end_completer`` shifted by the MNAR term; a questionnaire is scorable when enough items
    are answered (each missing with ``p_item_missing``). completed | attended_half fails only
    when someone moves or dies mid-course, for which the generator records no probability, so
    that step is not compared.
    """
    prog = load_programme(programme)
    wb = prog.synthetic.wellbeing
    sel = truth["programmes"][programme]["selection"]["attendance"]
    inst = instruments()[prog.instruments[0]]
    k = len(inst.items)
    need = inst.min_items or k
    p_scorable = float(binom.sf(need - 1, k, 1 - wb.p_item_missing))
    res = pathway(studies[programme], "imd_quintile")
    n = res.count
    started_q = {q: n("started", "imd_quintile", q) for q in "12345"}
    p_half = sum(
        started_q[q] * sel["by_imd_quintile"][q]["expected_p_complete_given_start"] for q in "12345"
    ) / sum(started_q.values())
    p_end = _expected_end_response(wb.p_end_completer, wb.mnar_strength, truth["regime"])
    checks = [
        ("started", "referred", sel["expected_p_start"]),
        ("attended_half", "started", p_half),
        ("baseline_measure", "completed", wb.p_baseline * p_scorable),
        ("followup_measure", "baseline_measure", p_end * p_scorable),
    ]
    for step, prev, p in checks:
        m = n(prev)
        se = math.sqrt(p * (1 - p) / m)
        assert abs(n(step) / m - p) < SE_TOL * se, (programme, step, n(step), m, p)
    for q in "12345":
        p = sel["by_imd_quintile"][q]["expected_p_start"]
        m = n("referred", "imd_quintile", q)
        obs = n("started", "imd_quintile", q) / m
        assert abs(obs - p) < SE_TOL * math.sqrt(p * (1 - p) / m), (programme, q, obs, p)


def test_pathway_nested_counts_never_increase_and_levels_add_up(studies) -> None:
    res = pathway(studies["chronic_pain"], "ethnicity_group")
    t = res.tidy()
    for (_, _), sub in t.groupby(["group", "level"]):
        counts = sub.set_index("step").loc[list(PATHWAY_STEPS), "n"].to_numpy()
        assert (np.diff(counts) <= 0).all()
    by = t[t["group"] == "ethnicity_group"].groupby("step")["n"].sum()
    overall = t[t["group"] == "all"].set_index("step")["n"]
    assert (by.reindex(overall.index) == overall).all()


def test_pathway_unnested_steps_equal_direct_counts(studies) -> None:
    study = studies["mindsong"]
    res = pathway(study, nested=False)
    ep = study.index_episodes
    scores = wellbeing_scores(study)
    main = scores[(scores["instrument"] == "swemwbs") & scores["scorable"]]
    expected = {
        "referred": len(ep),
        "started": int(ep["start_date"].notna().sum()),
        "attended_half": int((ep["sessions_attended"] * 2 >= ep["sessions_offered"]).sum()),
        "completed": int((ep["discharge_reason"] == "completed").sum()),
        "baseline_measure": int((main["timepoint"] == "baseline").sum()),
        "followup_measure": int((main["timepoint"] == "end").sum()),
    }
    assert {s: res.count(s) for s in PATHWAY_STEPS} == expected


def test_pathway_entries_have_exactly_the_contract_keys(studies) -> None:
    res = pathway(studies["cyp"], "imd_quintile")
    entries = json.loads(json.dumps(res.to_dict()))["pathway"]
    assert all(set(e) == PATHWAY_KEYS for e in entries)
    assert [e["step"] for e in entries[:6]] == list(PATHWAY_STEPS)
    ref = pd.read_parquet(studies["cyp"].data_dir / "referrals.parquet")
    n_people = ref.loc[ref["programme"] == "cyp", "person_id"].nunique()  # counted independently
    assert entries[0] == {"step": "referred", "group": "all", "level": "all", "n": n_people}
    assert {e["level"] for e in entries if e["group"] == "imd_quintile"} == set("12345")


# --------------------------------------------------------------------------------------------
# Outcomes by deprivation
# --------------------------------------------------------------------------------------------
def test_outcomes_by_deprivation_keeps_whole_matched_sets(mindsong_obd, mindsong_mc) -> None:
    t = mindsong_obd.tidy()
    for setting in ("emergency_admission", "gp_appointment"):
        rows = t[t["outcome"] == setting]
        assert len(rows) >= 2, mindsong_obd.summary()
        assert rows["n_participants"].sum() == mindsong_mc.n_participants
        assert rows["n_controls"].sum() == mindsong_mc.n_controls
        quintiles = sorted(int(q) for qs in rows["imd_quintiles"] for q in qs.split(","))
        assert quintiles == [1, 2, 3, 4, 5]
        assert (rows["n_participants"] >= 20).all()
        assert (rows[["events_baseline", "events_followup"]] >= 10).all().all()


def test_outcomes_by_deprivation_groups_share_control_people(mindsong_obd, mindsong_mc) -> None:
    # Why Cochran's Q is not used: control people serve matched sets of different IMD groups.
    p = mindsong_mc.panel
    q = mindsong_mc.cohort.candidates["imd_quintile"]
    part = p.loc[p["referred"] == 1, ["unit", "subclass"]].drop_duplicates()
    set_q = pd.Series(q.loc[part["unit"]].to_numpy(), index=part["subclass"].to_numpy())
    ctl = p.loc[p["referred"] == 0, ["person_id", "subclass"]].drop_duplicates()
    n_quintiles = ctl.assign(q=ctl["subclass"].map(set_q)).groupby("person_id")["q"].nunique()
    assert (n_quintiles > 1).sum() > 0
    assert mindsong_obd.spec["cluster"] == mindsong_mc.spec["cluster"]


def test_outcomes_by_deprivation_heterogeneity_matches_pyfixest_wald(
    mindsong_obd, mindsong_mc
) -> None:
    """The interaction model refitted with pyfixest on the same rows; its own ``wald_test``.

    Tolerance 1e-4 relative: pyfixest stops its IRLS at its default 1e-8, ours at 1e-10
    (tests/unit/stats/test_did_groups.py).
    """
    import warnings

    import pyfixest as pf

    from evalkit.analysis.utilisation import window_rows

    setting = "gp_appointment"
    rows = mindsong_obd.tidy()[lambda d: d["outcome"] == setting]
    model = mindsong_obd.models[setting]
    pairs = zip(rows["level"], rows["imd_quintiles"], strict=True)
    lookup = {int(x): lvl for lvl, qs in pairs for x in qs.split(",")}
    p = window_rows(mindsong_mc.panel, 6).copy()
    q = mindsong_mc.cohort.candidates["imd_quintile"]
    part = p.loc[p["referred"] == 1, ["unit", "subclass"]].drop_duplicates()
    set_group = pd.Series(q.loc[part["unit"]].map(lookup).to_numpy(), index=part["subclass"])
    group = p["subclass"].map(set_group)
    levels = sorted(rows["level"])
    p["tp"] = p["referred"] * p["post"]
    names = []
    for j, lvl in enumerate(levels[1:], start=1):
        p[f"post_{j}"] = p["post"] * (group == lvl)
        names.append(f"post_{j}")
    for j, lvl in enumerate(levels[1:], start=1):
        p[f"tp_{j}"] = p["tp"] * (group == lvl)
        names.append(f"tp_{j}")
    p["log_exposure"] = np.log(p["exposure"])
    cl = mindsong_mc.spec["cluster"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.fepois(
            f"{setting} ~ tp + " + " + ".join(names) + f" | unit + {mindsong_mc.time_column}",
            data=p,
            offset="log_exposure",
            weights=mindsong_mc.weight_column,
            vcov={"CRV1": "+".join(cl) if isinstance(cl, list) else cl},
            ssc=pf.ssc(k_adj=True, k_fixef="none", G_adj=True, G_df="conventional"),
        )
        k = len(levels)
        r = np.zeros((k - 1, 2 * k - 1))
        for i in range(k - 1):
            r[i, k + i] = 1.0
        wald = ref.wald_test(R=r, distribution="chi2")
    het = mindsong_obd.heterogeneity[setting]
    assert het.statistic == pytest.approx(float(wald["statistic"]), rel=1e-4)
    assert het.df == k - 1
    assert het.p_value == pytest.approx(float(wald["pvalue"]), rel=1e-3)
    # The published group rate ratios are the model's: exp(b), exp(b + d_j).
    b = ref.coef()
    expected = [b["tp"]] + [b["tp"] + b[f"tp_{j}"] for j in range(1, k)]
    se = model.tidy()["std_error"].to_numpy()
    assert np.abs(np.log(rows["estimate"].to_numpy()) - expected).max() < 1e-4 * se.min()


def test_outcomes_by_deprivation_low_thresholds_give_five_quintiles(studies, mindsong_mc) -> None:
    res = outcomes_by_deprivation(
        studies["mindsong"],
        mindsong_mc,
        settings=("gp_appointment",),
        min_participants=1,
        min_events=1,
    )
    rows = res.tidy()[lambda d: d["outcome"] == "gp_appointment"]
    assert rows["level"].tolist() == ["1", "2", "3", "4", "5"]
    assert res.heterogeneity["gp_appointment"].df == 4


def test_outcomes_by_deprivation_wellbeing_change_equals_hand_mean(studies, mindsong_mc) -> None:
    study = studies["mindsong"]
    res = outcomes_by_deprivation(study, mindsong_mc, settings=(), min_participants=5)
    rows = res.tidy()
    assert set(rows["outcome"]) == {"swemwbs"} and len(rows) >= 2, res.summary()
    s = wellbeing_scores(study)
    s = s[(s["instrument"] == "swemwbs") & s["scorable"]]
    wide = s.pivot_table(index="episode_id", columns="timepoint", values="score")
    q = s.drop_duplicates("episode_id").set_index("episode_id")["imd_quintile"]
    change = (wide["end"] - wide["baseline"]).dropna()
    for r in rows.itertuples():
        quintiles = [int(x) for x in r.imd_quintiles.split(",")]
        sub = change[q.reindex(change.index).isin(quintiles)]
        assert r.n_participants == len(sub)
        assert r.estimate == pytest.approx(sub.mean(), rel=1e-10)


def test_outcomes_by_deprivation_unreachable_threshold_reports_no_estimates(
    studies, mindsong_mc
) -> None:
    res = outcomes_by_deprivation(
        studies["mindsong"], mindsong_mc, settings=("gp_appointment",), min_participants=10**6
    )
    assert res.tidy().empty and not res.heterogeneity
    assert sum("no estimates by deprivation" in n for n in res.notes) == 2


# --------------------------------------------------------------------------------------------
# Referral trends
# --------------------------------------------------------------------------------------------
def test_referral_trends_counts_reconcile_and_waits_match_numpy(studies) -> None:
    study = studies["chronic_pain"]
    res = referral_trends(study)
    ref = study.referrals
    t = res.tidy()
    assert t["n"].sum() == len(ref)
    months = pd.PeriodIndex(t["month"].unique(), freq="M")
    assert len(months) == months.max().ordinal - months.min().ordinal + 1  # no gaps
    by_source = t.groupby("referral_source")["n"].sum()
    assert by_source.to_dict() == ref["referral_source"].value_counts().to_dict()
    started = ref[ref["start_date"].notna()]
    wait = (started["start_date"] - started["referral_date"]).dt.days
    assert res.median_wait_days == np.median(wait)
    w = res.tidy("waiting")
    assert w.loc[w["period"] != "all", "n_started"].sum() == len(started)


# --------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------
def test_every_result_plots_summarises_and_serialises(studies, mindsong_obd) -> None:
    study = studies["mindsong"]
    results = [
        reach(study, "imd_quintile"),
        reach_all(study),
        pathway(study, "imd_quintile"),
        mindsong_obd,
        referral_trends(study),
    ]
    for res in results:
        ax = res.plot()
        assert isinstance(ax, matplotlib.axes.Axes)
        plt.close(ax.figure)
        assert isinstance(res.summary(), str) and res.summary()
        json.dumps(res.to_dict())
    ax = results[-1].plot("waiting")
    assert isinstance(ax, matplotlib.axes.Axes)
    plt.close("all")


def test_reach_plot_accepts_disclosure_controlled_table(studies) -> None:
    res = reach(studies["mindsong"], "imd_quintile")
    controlled = res.tidy().astype({"participants": "object"})
    smallest = controlled["participants"] == controlled["participants"].min()
    controlled.loc[smallest, "participants"] = None  # as if suppressed
    ax = res.plot(table=controlled)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("n=*" in lab for lab in labels)
    plt.close("all")


def test_every_result_is_a_stats_result_whose_repr_is_its_summary(studies, mindsong_obd) -> None:
    study = studies["mindsong"]
    results = [reach_all(study), pathway(study), mindsong_obd, referral_trends(study)]
    for res in [*results, results[0]["sex"]]:
        assert isinstance(res, Result)
        assert repr(res) == res.summary()
        assert res._repr_html_().startswith("<pre>")


def test_reach_and_deprivation_figures_are_drawn_by_stats_plots_forest(
    studies, mindsong_obd, monkeypatch
) -> None:
    calls = []
    forest = plots.forest

    def spy(table, **kwargs):
        calls.append((table, kwargs))
        return forest(table, **kwargs)

    monkeypatch.setattr(plots, "forest", spy)
    res = reach_all(studies["mindsong"])
    res.plot()
    table, kwargs = calls[-1]
    assert kwargs["label_col"] == "label"
    tidy = res.tidy()
    assert table["estimate"].tolist() == pytest.approx(tidy["ratio_vs_reference"].tolist())
    assert table["label"].iloc[0] == f"IMD quintile: 1 (n={tidy['participants'].iloc[0]})"
    mindsong_obd.plot()
    table, kwargs = calls[-1]
    assert kwargs["log"] is True
    assert table["label"].str.startswith("IMD ").all()
    plt.close("all")


def test_pathway_plot_with_suppressed_referred_count_labels_it_and_leaves_a_gap(studies) -> None:
    res = pathway(studies["mindsong"], "imd_quintile")
    controlled = res.tidy().astype({"n": "object"})
    first = (controlled["level"] == "1") & (controlled["step"] == "referred")
    controlled.loc[first, "n"] = None
    ax = res.plot(table=controlled)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == f"all (n={res.count('referred')})"
    assert "IMD 1 (n=*)" in labels
    line = ax.get_lines()[labels.index("IMD 1 (n=*)")]
    assert np.isnan(np.asarray(line.get_ydata(), dtype=float)).all()
    plt.close("all")
