"""Unit tests of the target-trial harness's arithmetic (fast; not marked slow).

Run: ``PYTHONPATH=src python -m pytest -q bench/test_target_trial_summary.py``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_target_trial as harness
import target_trial_summary as summary


def _rows(errs: np.ndarray, se: float, *, method: str = "matched_did", **key) -> pd.DataFrame:
    """Rows whose log estimate is log(truth) + err, with Wald 95% CIs of SE ``se``."""
    truth = 0.8
    est = truth * np.exp(errs)
    base = {
        "world": "hard",
        "regime": "observables",
        "design": "target_trial",
        "setting": "emergency_admission",
        "window": 6,
        "design_impl": "current",
        "world_generated": "hard",
        **key,
    }
    return pd.DataFrame(
        {
            **base,
            "method": method,
            "rep": np.arange(len(errs)),
            "estimate": est,
            "std_error": se,
            "ci_low": est * math.exp(-1.96 * se),
            "ci_high": est * math.exp(1.96 * se),
            "truth": truth,
        }
    )


def test_performance_small_vector_equals_hand_computation() -> None:
    err = np.array([0.1, -0.1, 0.2, 0.0])
    se = np.array([0.1, 0.1, 0.1, 0.3])
    covered = np.array([True, True, False, True])
    p = summary.performance(err, se, covered)
    sd = math.sqrt((0.05**2 + 0.15**2 + 0.15**2 + 0.05**2) / 3)  # deviations from 0.05
    assert p["bias_log"] == pytest.approx(0.05, abs=1e-15)
    assert p["bias_mcse"] == pytest.approx(sd / 2, rel=1e-12)
    assert p["rmse_log"] == pytest.approx(math.sqrt(0.06 / 4), rel=1e-12)
    sq = err**2
    assert p["rmse_mcse"] == pytest.approx(
        np.std(sq, ddof=1) / 2 / (2 * math.sqrt(0.015)), rel=1e-12
    )
    assert p["mean_se_log"] == pytest.approx(0.15)
    assert p["coverage"] == 0.75
    assert p["coverage_mcse"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))


def test_summarise_bias_is_mean_log_error_per_group_and_drops_inestimable() -> None:
    a = _rows(np.array([0.1, 0.3]), 0.1)
    b = _rows(np.array([-0.2, 0.0, 0.2]), 0.1, design="legacy")
    bad = _rows(np.array([0.0]), 0.1, design="legacy").assign(estimate=np.nan, rep=9)
    t = summary.summarise(pd.concat([a, b, bad])).set_index("design")
    assert t.loc["target_trial", "bias_log"] == pytest.approx(0.2)
    assert t.loc["legacy", "bias_log"] == pytest.approx(0.0, abs=1e-12)
    assert t.loc["legacy", "replications"] == 3
    assert t.loc["legacy", "not_estimable"] == 1
    # CIs of +-1.96 SE: an error of 0.3 with SE 0.1 is outside, 0.1 inside.
    assert t.loc["target_trial", "coverage"] == 0.5


def test_paired_gap_equals_difference_of_absolute_biases_with_paired_mcse() -> None:
    rng = np.random.default_rng(1)
    e_did = rng.normal(-0.02, 0.1, 200)
    e_naive = e_did - 0.2 + rng.normal(0, 0.01, 200)  # both biases negative
    gap, mcse, n = summary.paired_gap(_rows(e_did, 0.1), _rows(e_naive, 0.1))
    assert n == 200
    assert gap == pytest.approx(abs(e_naive.mean()) - abs(e_did.mean()), rel=1e-12)
    assert mcse == pytest.approx(np.std(e_did - e_naive, ddof=1) / math.sqrt(200), rel=1e-12)


def _study(bias: float, n: int = 1000, seed: int = 7) -> pd.DataFrame:
    """A study with 1,000 replications of a normal estimator with known bias and SE 0.1."""
    rng = np.random.default_rng(seed)
    parts = []
    for setting in summary.CHECKED_SETTINGS:
        for window in summary.CHECKED_WINDOWS:
            e = rng.normal(0, 0.1, n)
            e = e - e.mean() + bias  # the sample bias is exactly ``bias``
            key = {"setting": setting, "window": window}
            parts.append(_rows(e, 0.1, **key))
            parts.append(
                _rows(e - 0.3 + rng.normal(0, 0.02, n), 0.1, method="naive_prepost", **key)
            )
            parts.append(_rows(e, 0.1, regime="realistic", **key))
            naive = e - 0.3 + rng.normal(0, 0.02, n)
            parts.append(_rows(naive, 0.1, regime="realistic", method="naive_prepost", **key))
    return pd.concat(parts, ignore_index=True)


def test_acceptance_checks_pass_for_an_unbiased_calibrated_estimator() -> None:
    checks = summary.acceptance_checks(_study(0.0))
    asserted = checks[checks["asserted"]]
    # 4 cells x (coverage, bias) in observables + 4 naive_worse in realistic.
    assert len(asserted) == 12
    assert asserted["passed"].all(), asserted
    assert (checks["check"] == "residual_bias").sum() == 4


def test_acceptance_checks_fail_bias_at_five_mcse_and_floor_applies() -> None:
    # MCSE of the bias is 0.1 / sqrt(1000) = 0.0032, so 2.576 MCSE = 0.0081 < the 0.01 floor.
    ok = summary.acceptance_checks(_study(0.008))
    bias_ok = ok[(ok["check"] == "bias")]
    assert bias_ok["passed"].all(), bias_ok  # inside the 0.01 floor
    bad = summary.acceptance_checks(_study(0.016))  # 5 MCSE and above the floor
    bias_bad = bad[bad["check"] == "bias"]
    assert not bias_bad["passed"].any(), bias_bad


def test_acceptance_checks_coverage_fails_when_ses_too_small() -> None:
    reps = _study(0.0)
    narrow = reps.assign(  # CIs of +-1.96 x 0.07 around the same estimates: about 84% coverage
        ci_low=reps["estimate"] * math.exp(-1.96 * 0.07),
        ci_high=reps["estimate"] * math.exp(1.96 * 0.07),
    )
    cov = summary.acceptance_checks(narrow).query("check == 'coverage'")
    assert not cov["passed"].any(), cov


def test_valid_rows_keep_only_current_code_in_the_named_world() -> None:
    a = _rows(np.zeros(3), 0.1)
    b = _rows(np.zeros(2), 0.1, design_impl="older", regime="realistic")
    c = _rows(np.zeros(2), 0.1, world_generated="unrecorded", regime="realistic")
    reps = pd.concat([a, b, c])
    assert len(summary.valid_rows(reps)) == 3
    assert summary.valid_replications(reps) == {"observables": 3}


def test_referred_within_counts_control_units_referred_in_window() -> None:
    panel = pd.DataFrame(
        {
            "unit": [1, 1, 2, 3, 4, 9],
            "person_id": ["a", "a", "b", "c", "d", "p"],
            "referred": [0, 0, 0, 0, 0, 1],
            "index_date": pd.to_datetime(["2022-01-15"] * 6),
        }
    )
    referrals = pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "p"],
            # a: on the index date (counts); b: 12 months later to the day (outside);
            # c: 11 months later (counts); p: a participant (ignored).
            "referral_date": ["2022-01-15", "2023-01-15", "2022-12-15", "2022-02-01"],
        }
    )
    assert harness.referred_within(panel, referrals, 12) == pytest.approx(2 / 4)


def test_design_impl_names_the_code_that_ran() -> None:
    caps = {"world": True, "risk_set": True, "design": True}
    assert harness.design_impl(caps) == "current"
    assert harness.design_impl({**caps, "risk_set": False}) == "partial"
    assert harness.design_impl({**caps, "risk_set": False, "design": False}) == "older"


def test_done_keys_refuses_rows_of_other_code(tmp_path: Path) -> None:
    out = tmp_path / "reps.csv"
    row = {
        "programme": harness.PROGRAMME,
        "population": harness.POPULATION,
        "pool": harness.POOL,
        "world": "hard",
        "regime": "observables",
        "rep": 0,
        "design": "target_trial",
        "design_impl": "older",
        "world_generated": "unrecorded",
    }
    pd.DataFrame([row]).to_csv(out, index=False)
    old = {"world": False, "risk_set": False, "design": False}
    assert harness.done_keys(out, old) == {("hard", "observables", 0)}
    with pytest.raises(SystemExit, match="must not be mixed"):
        harness.done_keys(out, {"world": True, "risk_set": True, "design": True})
    pd.DataFrame([{**row, "population": 5}]).to_csv(out, index=False)
    with pytest.raises(SystemExit, match="population"):
        harness.done_keys(out, old)


def _replication(**matched) -> harness.Replication:
    """A Replication over stand-ins (the metrics read attributes only)."""
    from types import SimpleNamespace as NS

    truth = {
        "programmes": {
            harness.PROGRAMME: {
                "utilisation": {
                    "emergency_admission": {
                        "rate_ratio": {"6": 0.8},
                        "difference_per_person": {"6": -0.05},
                    }
                }
            }
        }
    }
    cohort = NS(n_participants=200, n_candidate_rows=5000)
    mc = NS(cohort=cohort, n_participants=190, n_controls=560, **matched)
    res = NS(linear=NS(estimate=-0.01, std_error=0.004))
    return harness.Replication(
        "hard", "observables", 0, 1, "target_trial", truth, None, mc,
        {("emergency_admission", 6): res, ("elective_admission", 6): res},
    )  # fmt: skip


def test_true_rate_ratio_reads_truth_and_negative_control_is_one() -> None:
    r = _replication()
    assert r.true_rate_ratio("emergency_admission", 6) == (0.8, "synthetic_truth")
    assert r.true_rate_ratio("elective_admission", 6) == (1.0, "negative_control")
    assert math.isnan(r.true_rate_ratio("gp_appointment", 6)[0])


def test_cohort_and_linear_metrics_equal_hand_values() -> None:
    r = _replication()
    m = harness.cohort_metric(r)
    assert m["matched_share"] == pytest.approx(190 / 200)
    assert (m["participants"], m["matched"], m["control_units"]) == (200, 190, 560)
    lin = harness.linear_metric(r, "emergency_admission", 6)
    assert lin == pytest.approx(
        {"diff_estimate": -0.06, "diff_std_error": 0.024, "diff_truth": -0.05}
    )
    assert harness.linear_metric(r, "elective_admission", 6)["diff_truth"] == 0.0


def test_ipcw_metric_reads_the_censoring_distribution_and_is_nan_without_one() -> None:
    from types import SimpleNamespace as NS

    raw = {"min": 0.5, "p1": 0.6, "median": 1.0, "p99": 2.5, "max": 4.0, "mean": 1.02}
    used = {**raw, "min": 0.6, "max": 2.5}
    cens = NS(distribution=raw, distribution_used=used, n_truncated=7)
    m = harness.ipcw_metric(_replication(censoring=cens))
    assert (m["ipcw_raw_max"], m["ipcw_max"], m["ipcw_min"]) == (4.0, 2.5, 0.6)
    assert m["ipcw_truncated_rows"] == 7
    none = harness.ipcw_metric(_replication())
    assert all(math.isnan(v) for v in none.values())


def test_design_rows_one_row_per_cell_and_method_with_metric_columns() -> None:
    from dataclasses import replace
    from types import SimpleNamespace as NS

    panel = pd.DataFrame(
        {"unit": [1], "person_id": ["a"], "referred": [0], "index_date": ["2022-01-03"]}
    )
    r = _replication(panel=panel, spec={})
    pois = NS(estimate=0.9, std_error=0.1, ci_low=0.74, ci_high=1.1)
    naive = NS(rate_ratio=0.7, log_rr_std_error=0.08, rr_ci_low=0.6, rr_ci_high=0.82)
    res = NS(poisson=pois, naive=naive, linear=NS(estimate=0.0, std_error=0.1))
    r = replace(
        r,
        study=NS(referrals=pd.DataFrame({"person_id": ["a"], "referral_date": ["2022-03-01"]})),
        results={("emergency_admission", w): res for w in harness.WINDOWS},
        settings=("emergency_admission",),
    )
    rows = pd.DataFrame(harness.design_rows(r, {"world": "hard"}))
    assert len(rows) == 2 * len(harness.WINDOWS)
    did = rows[(rows["method"] == "matched_did") & (rows["window"] == 6)].iloc[0]
    nv = rows[(rows["method"] == "naive_prepost") & (rows["window"] == 6)].iloc[0]
    assert (did["estimate"], did["std_error"], did["truth"]) == (0.9, 0.1, 0.8)
    assert (nv["estimate"], nv["std_error"], nv["ci_high"]) == (0.7, 0.08, 0.82)
    assert did["controls_referred_12m_share"] == 1.0  # the one control is referred 2 months on
    assert did["matched_share"] == pytest.approx(0.95)


def test_done_keys_refuses_rows_of_other_estimating_code(tmp_path: Path) -> None:
    out = tmp_path / "reps.csv"
    caps = {"world": True, "risk_set": True, "design": True}
    row = {
        "programme": harness.PROGRAMME,
        "population": harness.POPULATION,
        "pool": harness.POOL,
        "world": "hard",
        "regime": "realistic",
        "rep": 4,
        "design": "target_trial",
        "design_impl": "current",
        "world_generated": "hard",
        "code": harness.code_fingerprint(),
    }
    pd.DataFrame([row]).to_csv(out, index=False)
    assert harness.done_keys(out, caps) == {("hard", "realistic", 4)}
    pd.DataFrame([{**row, "code": "0123456789ab"}]).to_csv(out, index=False)
    with pytest.raises(SystemExit, match="code that decides the estimates changed"):
        harness.done_keys(out, caps)
    assert harness.done_keys(out, caps, allow_code_change=True) == {("hard", "realistic", 4)}


def test_code_fingerprint_is_stable_hex() -> None:
    fp = harness.code_fingerprint()
    assert fp == harness.code_fingerprint()
    assert len(fp) == 12
    int(fp, 16)
