"""Programme economics on the demo county: data-contract shape, ROI by hand, truth, DiD match."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest

from evalkit.analysis import load_study
from evalkit.analysis.economics import economics, economics_window, programme_cost
from evalkit.analysis.utilisation import utilisation
from evalkit.analysis.wellbeing import wellbeing
from evalkit.definitions import load_wellby

WINDOW = 12


@pytest.fixture(scope="module")
def study(demo_studies):
    return demo_studies["mindsong"]


@pytest.fixture(scope="module")
def mc(demo_matched):
    return demo_matched["mindsong"]


@pytest.fixture(scope="module")
def mc_legacy(demo_matched_legacy):
    """Pooled event-month effects, weights fixed per unit: where the identity below holds.

    Under the target trial the outcome model adds censoring weights that vary within a unit
    (the cost difference carries them, event month by event month) and index-month x
    event-month effects, which weight the sub-experiments differently from the matched
    difference: close (tested below), not an identity.
    """
    return demo_matched_legacy["mindsong"]


@pytest.fixture(scope="module")
def econ(study, mc):
    return economics(study, mc, window_months=WINDOW)


@pytest.fixture(scope="module")
def truth(demo_county: Path) -> dict:
    return json.loads((demo_county / "synthetic_truth.json").read_text())


def linear_did_entry(mc, months: int) -> dict:
    res = utilisation(mc, "total_cost", months)
    return next(
        e
        for e in res.entries()
        if e["method"] == "matched_did" and e["scale"] == "difference_per_person"
    )


def test_economics_dict_has_data_contract_shape(econ) -> None:
    d = json.loads(json.dumps(econ.to_dict()))
    assert d["price_year"] == "2023/24"
    assert isinstance(d["programme_cost_per_participant"], float)
    assert set(d["nhs_cost_saving_per_participant"]) == {
        "estimate",
        "ci_low",
        "ci_high",
        "window_months",
    }
    assert d["nhs_cost_saving_per_participant"]["window_months"] == WINDOW
    assert set(d["roi"]) == {"estimate", "ci_low", "ci_high"}
    # data contract ("Additions"): the ITT estimate, low, high, the change's CI carried through
    # and the completers' version; then extras
    assert {"estimate", "low", "high", "ci_low", "ci_high", "completers_upper"} <= set(
        d["wellby_social_value_per_pound"]
    )
    for key in ("nhs_cost_saving_per_participant", "roi"):
        v = d[key]
        assert v["ci_low"] <= v["estimate"] <= v["ci_high"], key
    w = d["wellby_social_value_per_pound"]
    assert w["low"] <= w["estimate"] <= w["high"]
    assert w["ci_low"] <= w["estimate"] <= w["ci_high"]


def test_economics_roi_by_hand_equals_reported(econ) -> None:
    # ROI computed by hand from the report's own numbers equals the reported ROI.
    d = econ.to_dict()
    saving, cost = d["nhs_cost_saving_per_participant"], d["programme_cost_per_participant"]
    for k in ("estimate", "ci_low", "ci_high"):
        assert d["roi"][k] == pytest.approx(saving[k] / cost, rel=1e-12)
        assert d["roi_net"][k] == pytest.approx(saving[k] / cost - 1, rel=1e-12)
    # mindsong's cost is per participant in its YAML.
    assert cost == 320.0


def test_economics_saving_is_positive_when_participants_cost_less(econ) -> None:
    d = econ.difference
    assert econ.saving == -d.estimate
    assert (d.treated_change - d.control_change < 0) == (econ.saving > 0)


def test_economics_same_seed_same_numbers(study, mc, econ) -> None:
    again = economics(study, mc, window_months=WINDOW)
    assert again.to_dict() == econ.to_dict()
    other = economics(study, mc, window_months=WINDOW, seed=7)
    assert other.saving == econ.saving
    assert other.roi.saving_ci_low != econ.roi.saving_ci_low


def test_economics_balanced_panel_equals_utilisation_linear_did(study, mc_legacy) -> None:
    # docs/design/methods.md section 4: on a balanced matched panel the estimator IS the linear
    # DiD. Keep units observed in every month of the window, and the sets that keep a participant
    # and a control; then the economics saving is minus utilisation's total_cost
    # difference_per_person. (Legacy design: see the mc_legacy fixture.)
    mc = mc_legacy
    win = economics_window(mc.panel, WINDOW)
    n_rows = win.groupby("unit").size()
    full = set(n_rows.index[n_rows == 12 + WINDOW])
    p = mc.panel[mc.panel["unit"].isin(full)]
    groups = p.groupby("subclass")["referred"].agg(["min", "max"])
    sets = groups.index[(groups["min"] == 0) & (groups["max"] == 1)]
    balanced = dataclasses.replace(mc, panel=p[p["subclass"].isin(sets)])
    assert len(sets) >= 30  # enough sets for the comparison to mean something
    econ = economics(study, balanced, window_months=WINDOW, resamples=99)
    entry = linear_did_entry(balanced, WINDOW)
    # Exact algebra on both sides: agreement to floating-point precision.
    assert -econ.saving == pytest.approx(entry["estimate"], rel=1e-9)


def test_economics_full_panel_close_to_utilisation_linear_did(study, mc_legacy) -> None:
    # On the demo county's unbalanced panel (deaths, moves, end of data) the two estimators
    # weight incomplete units differently: equal only on a balanced panel (test above). The
    # gap must stay small against the sampling error: under a quarter of the DiD's SE.
    econ = economics(study, mc_legacy, window_months=WINDOW, resamples=99)
    entry = linear_did_entry(mc_legacy, WINDOW)
    assert abs(-econ.saving - entry["estimate"]) < 0.25 * entry["std_error"]


@pytest.mark.parametrize("months", [6, WINDOW])
def test_economics_target_trial_close_to_stacked_linear_did(study, mc, econ, months) -> None:
    # Under the target trial both figures use the same rows and the same weights (matching x
    # censoring weight) for the same estimand; they differ only in how they weight the
    # sub-experiment x event-month contrasts (docs/decisions/economics-censoring.md), a
    # difference of weighting, not of data. So the gap must be small against the sampling
    # error: under a quarter of the DiD's SE, the standard the legacy design meets above.
    res = econ if months == WINDOW else economics(study, mc, window_months=months, resamples=99)
    entry = linear_did_entry(mc, months)
    assert mc.design == "target_trial" and mc.weight_column == "analysis_weight"
    assert abs(-res.saving - entry["estimate"]) < 0.25 * entry["std_error"]


def test_economics_notes_name_the_weights_used(study, mc, mc_legacy, econ) -> None:
    # results.json's economics notes say which weights the cost difference used.
    d = econ.to_dict()
    assert econ.difference.spec["row_weights"] == "ipcw"
    assert econ.difference.spec["time"] == "event_month"
    assert d["spec"]["weights"] == "weight x ipcw"
    assert any(n.startswith("Weights (target_trial design)") and "'ipcw'" in n for n in d["notes"])
    legacy = economics(study, mc_legacy, window_months=WINDOW, resamples=99).to_dict()
    assert legacy["spec"]["weights"] == "weight"
    assert any(
        n.startswith("Weights (legacy design)") and "no censoring weights" in n
        for n in legacy["notes"]
    )


def test_economics_saving_ci_covers_synthetic_truth(econ, truth) -> None:
    true_diff = truth["programmes"]["mindsong"]["utilisation"]["total_cost"][
        "difference_per_person"
    ][str(WINDOW)]
    true_saving = -true_diff
    r = econ.roi
    covered = r.saving_ci_low <= true_saving <= r.saving_ci_high
    within_3se = abs(r.saving - true_saving) < 3 * econ.difference.std_error
    assert covered or within_3se, (true_saving, econ.summary())


def test_economics_setting_costs_add_up_to_total(econ) -> None:
    by = econ.by_setting
    assert by["cost_difference_per_participant"].sum() == pytest.approx(
        econ.difference.estimate, rel=1e-9
    )
    assert (by["cost_difference_per_participant"] + by["saving_per_participant"]).abs().max() == 0
    for _, row in by.iterrows():
        assert row["cost_difference_per_participant"] == pytest.approx(
            row["events_difference_per_participant"] * row["unit_cost"], rel=1e-9
        )


def test_economics_every_unit_cost_names_source_and_price_year(econ) -> None:
    uc = econ.unit_costs
    assert set(uc["setting"]) == set(econ.spec["settings"])
    assert uc["source"].str.len().gt(0).all()
    assert (uc["price_year"] == "2023/24").all()
    assert uc["original_price_year"].str.len().gt(0).all()
    ooh = uc.set_index("setting").loc["ooh_contact"]
    assert ooh["inflated"] and ooh["flag"]
    entries = econ.to_dict()["unit_costs"]
    assert all(e["source"] and e["price_year"] for e in entries)


def test_economics_wellby_itt_central_completers_upper(study, econ) -> None:
    # Central figure: the ONS4 life-satisfaction change by intention to treat over everyone
    # referred (no follow-up = no change), i.e. the completers' mean x responders / referred;
    # the completers' figure (the paired pre/post mean and CI) is the upper bound.
    ls = wellbeing(study, "ons4_life_satisfaction")
    w = econ.wellby
    assert w is not None and w.basis == "intention_to_treat"
    n_ref = econ.programme_cost["n_referred"]
    assert w.n_referred == n_ref == study.referrals["person_id"].nunique()
    assert w.n_responders == ls.n_paired
    assert w.change == pytest.approx(ls.mean_change * ls.n_paired / n_ref, rel=1e-12)
    k = load_wellby().at_price_year("2023/24")[2]
    cost = econ.programme_cost["per_participant"]
    assert w.estimate == pytest.approx(w.change * 13000 * k * 1.0 / cost, rel=1e-12)
    c = w.completers
    assert c.change == pytest.approx(ls.mean_change, rel=1e-12)
    assert c.estimate == pytest.approx(ls.mean_change * 13000 * k / cost, rel=1e-12)
    assert c.ci_low == pytest.approx(ls.ci_low * 13000 * k / cost, rel=1e-12)
    assert c.ci_high == pytest.approx(ls.ci_high * 13000 * k / cost, rel=1e-12)
    if ls.mean_change > 0:
        assert w.estimate < c.estimate  # ITT below its upper bound when some did not respond
    d = econ.to_dict()["wellby_social_value_per_pound"]
    assert d["estimate"] == w.estimate
    assert (d["ci_low"], d["ci_high"]) == (w.ci_low, w.ci_high)
    assert d["completers_upper"] == c.estimate
    assert (d["completers_ci_low"], d["completers_ci_high"]) == (c.ci_low, c.ci_high)
    assert any("intention to treat" in n and "upper bound" in n for n in econ.notes)


def test_economics_bootstrap_resamples_connected_clusters(mc, econ) -> None:
    # The saving's bootstrap draws connected clusters of matched sets sharing a person, and
    # results.json says so with the clusters' sizes (counts of sets; the report controls them).
    d = econ.difference
    assert d.spec["cluster"] == "person_id"
    cluster_of_set = d.sets.drop_duplicates("matched_set").set_index("matched_set")["cluster"]
    rows = economics_window(mc.panel, WINDOW)
    # the units the estimate uses: rows before and after the index (a unit without both adds
    # nothing to its set's totals, so it ties no sets together), in the sets kept
    both = rows.groupby("unit")["post"].nunique().eq(2)
    rows = rows[rows["unit"].map(both) & rows["subclass"].isin(cluster_of_set.index)]
    per_person = rows["subclass"].map(cluster_of_set).groupby(rows["person_id"]).nunique()
    assert (per_person == 1).all()  # no person's rows in two clusters
    shared = rows.groupby("person_id")["subclass"].nunique().gt(1).sum()
    assert shared > 0  # the demo county has people in several sets
    boot = econ.to_dict()["nhs_cost_difference"]["bootstrap"]
    assert boot["unit"] == "connected cluster of matched sets sharing a person"
    c = boot["clusters"]
    assert c["n_sets"] == d.n_sets
    assert c["n_clusters"] == cluster_of_set.nunique() < d.n_sets
    assert c["n_sets_largest_cluster"] == cluster_of_set.value_counts().max()
    sizes = cluster_of_set.map(cluster_of_set.value_counts())
    assert c["share_sets_in_shared_clusters"] == pytest.approx((sizes > 1).mean(), rel=1e-12)


def test_programme_cost_per_starter_uses_start_rate(demo_processed: Path) -> None:
    cyp = load_study("cyp", demo_processed)
    info = programme_cost(cyp)
    assert cyp.programme.cost.basis == "starter"
    started = cyp.referrals["start_date"].notna().groupby(cyp.referrals["person_id"]).any()
    assert info["start_rate"] == started.mean()
    assert info["per_participant"] == pytest.approx(cyp.programme.cost.amount * started.mean())
    assert any("per starter" in n for n in info["notes"])


def test_economics_views_and_plots(econ) -> None:
    from matplotlib.axes import Axes

    assert "NHS cost saving per participant" in econ.summary()
    terms = set(econ.tidy()["term"])
    assert {"roi_gross", "roi_net", "wellby_social_value_per_pound"} <= terms
    assert "wellby_social_value_per_pound_completers_upper" in terms
    assert "upper bound" in econ.summary() and "connected clusters" in econ.summary()
    for ax in (econ.plot_roi(), econ.plot_cost_by_setting(), econ.plot_wellby()):
        assert isinstance(ax, Axes)


def test_economics_window_outside_range_raises(study, mc) -> None:
    with pytest.raises(ValueError, match="window_months"):
        economics(study, mc, window_months=13)
