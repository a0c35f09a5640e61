"""What a report may claim: roles from the plan, Holm on secondaries, a locked primary kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from evalkit.config import ConfigError, Outcomes, Programme, load_programme
from evalkit.definitions.labels import setting_label
from evalkit.reporting import findings
from evalkit.reporting.claims import (
    KEPT_FROM_LOCK,
    OutcomePlan,
    outcome_plan,
    plan_section,
    with_roles,
)
from evalkit.reporting.html import render
from evalkit.reporting.plan import lock_plan, plan_status


def _with_primary(prog: Programme, setting: str, window: int) -> Programme:
    """The programme as if its config named another primary (secondaries by default)."""
    raw = {
        **prog.outcomes.model_dump(),
        "primary": {"setting": setting, "window_months": window},
        "secondary": None,
    }
    return prog.model_copy(update={"outcomes": Outcomes.model_validate(raw)})


def _entries(prog: Programme, seed: int = 0) -> list[dict]:
    """Utilisation entries in results.json's shape, every setting and window, random p-values."""
    rng = np.random.default_rng(seed)
    out = []
    for setting in [*prog.outcomes.settings, "total_cost"]:
        for w in prog.outcomes.windows_months:
            base = {"setting": setting, "window_months": w, "n_participants": 150}
            scales = ["rate_ratio", "difference_per_person"]
            if setting == "total_cost":  # money: no rate ratio
                scales = ["difference_per_person"]
            for scale in scales:
                out.append(
                    {
                        **base,
                        "method": "matched_did",
                        "scale": scale,
                        "estimate": float(rng.uniform(0.7, 1.1)),
                        "ci_low": 0.6,
                        "ci_high": 1.2,
                        "p_value": float(rng.uniform(0, 0.3)),
                    }
                )
                out.append({**base, "method": "naive_prepost", "scale": scale, "p_value": None})
    return out


@pytest.fixture
def mindsong() -> Programme:
    return load_programme("mindsong")


@pytest.fixture
def plan(mindsong: Programme, tmp_path: Path) -> OutcomePlan:
    return outcome_plan(mindsong, tmp_path)


@pytest.mark.parametrize(
    ("method", "setting", "window", "role"),
    [
        ("matched_did", "emergency_admission", 12, "primary"),
        ("matched_did", "gp_appointment", 12, "secondary"),
        ("matched_did", "emergency_admission", 6, "exploratory"),
        ("matched_did", "gp_appointment", 3, "exploratory"),
        ("matched_did", "total_cost", 12, "exploratory"),
        ("naive_prepost", "emergency_admission", 12, "exploratory"),
    ],
)
def test_role_case_table(
    plan: OutcomePlan, method: str, setting: str, window: int, role: str
) -> None:
    assert (plan.setting, plan.window_months) == ("emergency_admission", 12)
    entry = {"method": method, "setting": setting, "window_months": window}
    assert plan.role(entry) == role


def test_with_roles_secondary_p_holm_equals_multipletests_on_published_p_values(
    mindsong: Programme, plan: OutcomePlan
) -> None:
    entries = _entries(mindsong)
    raw, published, multiplicity = with_roles(entries, entries, plan)
    assert all("role" in e for e in raw) and raw == published
    sec = [e for e in published if e["role"] == "secondary" and e["scale"] == "rate_ratio"]
    assert {e["setting"] for e in sec} == set(plan.secondary)
    ref = multipletests([e["p_value"] for e in sec], method="holm")[1]
    assert [e["p_holm"] for e in sec] == pytest.approx(list(ref), abs=0)
    assert multiplicity["family"] == list(plan.secondary)
    # Holm adjusts the rate ratios only; the per-person differences carry no adjusted p-value.
    diffs = [e for e in published if e["role"] == "secondary" and e["scale"] != "rate_ratio"]
    assert diffs and all(e["p_holm"] is None for e in diffs)
    assert all("p_holm" not in e for e in published if e["role"] != "secondary")
    assert {e["role"] for e in published if e["method"] == "naive_prepost"} == {"exploratory"}


def test_with_roles_not_estimable_secondary_left_out_of_family_with_note(
    mindsong: Programme, plan: OutcomePlan
) -> None:
    dropped = plan.secondary[1]
    entries = [
        e
        for e in _entries(mindsong)
        if not (
            e["setting"] == dropped
            and e["scale"] == "rate_ratio"
            and e["window_months"] == plan.window_months
        )
    ]
    _, published, multiplicity = with_roles(entries, entries, plan)
    assert multiplicity["family"] == [s for s in plan.secondary if s != dropped]
    sec = [e for e in published if e["role"] == "secondary" and e["scale"] == "rate_ratio"]
    ref = multipletests([e["p_value"] for e in sec], method="holm")[1]
    assert [e["p_holm"] for e in sec] == pytest.approx(list(ref), abs=0)
    note = next(
        n for n in multiplicity["notes"] if n.startswith(setting_label(dropped, capital=True))
    )
    assert "left out of the Holm adjustment" in note and "no rate ratio" in note


def test_with_roles_suppressed_p_value_is_left_out_and_gets_no_p_holm(
    mindsong: Programme, plan: OutcomePlan
) -> None:
    raw = _entries(mindsong)
    target = plan.secondary[0]
    published = [
        {**e, "p_value": None, "suppressed": ["p_value"]}
        if (e["setting"], e["window_months"], e["scale"])
        == (target, plan.window_months, "rate_ratio")
        else e
        for e in raw
    ]
    raw_out, pub_out, multiplicity = with_roles(raw, published, plan)
    assert target not in multiplicity["family"]
    for entries in (raw_out, pub_out):  # the raw p-value does not leak through p_holm
        e = next(
            x
            for x in entries
            if (x["setting"], x["window_months"], x["scale"], x["method"])
            == (target, plan.window_months, "rate_ratio", "matched_did")
        )
        assert e["p_holm"] is None
    assert any("not published" in n for n in multiplicity["notes"])


def test_with_roles_nested_windows_get_a_note_not_a_correction(
    mindsong: Programme, plan: OutcomePlan
) -> None:
    entries = _entries(mindsong)
    _, published, multiplicity = with_roles(entries, entries, plan)
    others = sorted(set(mindsong.outcomes.windows_months) - {plan.window_months})
    nested = [n for n in multiplicity["notes"] if "nested" in n]
    assert len(nested) == 1 and all(f"{w}-" in nested[0] for w in others)
    assert all("p_holm" not in e for e in published if e["window_months"] != plan.window_months)


def test_outcome_plan_unlocked_says_who_chose(mindsong: Programme, tmp_path: Path) -> None:
    assert outcome_plan(mindsong, tmp_path).chosen_by == "config"
    default = mindsong.model_copy(
        update={
            "outcomes": mindsong.outcomes.model_copy(update={"primary": None, "secondary": None})
        }
    )
    p = outcome_plan(default, tmp_path)
    assert (p.setting, p.window_months, p.chosen_by, p.locked) == (
        "emergency_admission",
        12,
        "default",
        False,
    )
    run = outcome_plan(mindsong, tmp_path, primary=("gp_appointment", 6))
    assert (run.setting, run.window_months, run.chosen_by) == ("gp_appointment", 6, "run time")
    assert "gp_appointment" not in run.secondary


def test_outcome_plan_run_time_choice_the_config_cannot_hold_is_an_error(
    mindsong: Programme, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="primary window 9"):
        outcome_plan(mindsong, tmp_path, primary=("gp_appointment", 9))


@pytest.mark.parametrize("how", ["config", "run time"])
def test_locked_primary_stays_primary_and_the_request_is_a_deviation(
    mindsong: Programme, tmp_path: Path, how: str
) -> None:
    lock_plan(mindsong, tmp_path, today="2024-05-01")
    locked_primary = mindsong.outcomes.primary_outcome()
    other = mindsong.outcomes.secondary_settings()[0]
    if how == "config":
        plan = outcome_plan(_with_primary(mindsong, other, locked_primary[1]), tmp_path)
    else:
        plan = outcome_plan(mindsong, tmp_path, primary=(other, locked_primary[1]))
    assert (plan.setting, plan.window_months) == locked_primary
    assert plan.locked and plan.chosen_by == "lock"
    assert list(plan.secondary) == mindsong.outcomes.secondary_settings()
    status = plan_status(mindsong, {"outcomes": plan.requested}, tmp_path)
    entries = _entries(mindsong)
    section = plan_section(status, plan, with_roles(entries, entries, plan)[2])
    assert section["primary"] == {"setting": locked_primary[0], "window_months": locked_primary[1]}
    dev = {d["option"]: d for d in section["deviations"]}
    assert set(dev) <= set(KEPT_FROM_LOCK) and "outcomes.primary.setting" in dev
    assert dev["outcomes.primary.setting"] == {
        "option": "outcomes.primary.setting",
        "locked": locked_primary[0],
        "used": locked_primary[0],
        "requested": other,
    }
    notice = render(
        "plan_notice.html.j2",
        plan=section,
        deviations=section["deviations"],
        sha="abc",
        outcomes=findings.plan_outcomes_sentence({"plan": section}),
    ).body
    assert "Deviations from the locked analysis plan" in notice
    assert f"asked for &#34;{other}&#34;" in notice or f'asked for "{other}"' in notice
    assert "the locked choice was kept" in notice
    assert f"Primary outcome: {setting_label(locked_primary[0])}" in notice


def test_followed_lock_has_no_outcome_deviation(mindsong: Programme, tmp_path: Path) -> None:
    lock_plan(mindsong, tmp_path)
    plan = outcome_plan(mindsong, tmp_path)
    status = plan_status(mindsong, {"outcomes": plan.requested}, tmp_path)
    assert status["deviations"] == []
    assert plan_section(status, plan, {})["outcomes_chosen_by"] == "lock"


def test_findings_claims_follow_the_plan_labelled(mindsong: Programme, plan: OutcomePlan) -> None:
    entries = _entries(mindsong)
    _, published, multiplicity = with_roles(entries, entries, plan)
    results = {
        "utilisation": published,
        "plan": plan_section({"locked": False, "deviations": []}, plan, multiplicity),
    }
    items = findings.claims(results)
    labels = [i["label"] for i in items]
    k = len(plan.secondary)
    assert labels == ["Primary outcome", *["Secondary outcome"] * k, "Exploratory"]
    assert items[0]["text"].startswith(
        f"{setting_label(plan.setting, capital=True)} in the {plan.window_months} months"
    )
    for item, s in zip(items[1:-1], plan.secondary, strict=True):
        assert item["text"].startswith(setting_label(s, capital=True))
        assert f"adjusting for the {k} secondary outcomes tested together (Holm)" in item["text"]
    assert "exploratory" in items[-1]["text"] and "not separate tests" in items[-1]["text"]
    assert findings.primary_outcome(results) == (plan.setting, plan.window_months)


def test_findings_no_constant_headline_window() -> None:
    assert not hasattr(findings, "HEADLINE_WINDOW")
