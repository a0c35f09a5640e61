"""The locked analysis plan: resolved options, canonical hash, lock file and deviations."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from evalkit.config import Outcomes, load_programme
from evalkit.reporting.plan import (
    canonical_json,
    flatten,
    lock_plan,
    plan_hash,
    plan_status,
    resolved_plan,
    sensitivity_battery,
)


def test_resolved_plan_has_every_section_with_defaults_resolved() -> None:
    plan = resolved_plan("mindsong")
    for key in (
        "outcomes",
        "matching",
        "estimation",
        "sensitivity",
        "wellbeing",
        "unit_costs",
        "power",
    ):
        assert key in plan, key
    prog = load_programme("mindsong")
    assert plan["matching"]["ratio"] == prog.matching.ratio == 3
    assert plan["matching"]["covariates"] == list(prog.matching.covariates)
    assert plan["outcomes"]["windows_months"] == [3, 6, 12]
    assert "ons4_life_satisfaction" in plan["wellbeing"]["reported"]
    assert plan["sensitivity"] == sensitivity_battery()
    assert "synthetic" not in plan
    json.dumps(plan, allow_nan=False)


def test_plan_hash_is_sha256_of_canonical_json_and_stable() -> None:
    plan = resolved_plan("mindsong")
    expected = hashlib.sha256(canonical_json(plan).encode("utf-8")).hexdigest()
    assert plan_hash(plan) == expected
    # Key order does not change the hash; a value does.
    reordered = dict(reversed(list(plan.items())))
    assert plan_hash(reordered) == expected
    assert plan_hash(resolved_plan("mindsong")) == expected
    changed = json.loads(json.dumps(plan))
    changed["matching"]["caliper"] = 0.1
    assert plan_hash(changed) != expected


def test_lock_plan_writes_lock_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = lock_plan("mindsong", tmp_path, today="2024-05-01")
    assert path == tmp_path / "mindsong.lock.json"
    doc = json.loads(path.read_text())
    assert set(doc) == {"programme", "sha256", "locked_on", "plan"}
    assert doc["programme"] == "mindsong"
    assert doc["locked_on"] == "2024-05-01"
    assert doc["sha256"] == plan_hash(doc["plan"]) == plan_hash(resolved_plan("mindsong"))
    with pytest.raises(FileExistsError, match="already locked"):
        lock_plan("mindsong", tmp_path)
    lock_plan("mindsong", tmp_path, today="2024-06-01", force=True)
    assert json.loads(path.read_text())["locked_on"] == "2024-06-01"
    assert not list(tmp_path.glob(".*.tmp"))


def test_plan_status_followed_plan_has_no_deviations(tmp_path: Path) -> None:
    lock_plan("mindsong", tmp_path, today="2024-05-01")
    plan = resolved_plan("mindsong")
    status = plan_status("mindsong", {"matching": plan["matching"]}, tmp_path)
    assert status["locked"] is True
    assert status["locked_on"] == "2024-05-01"
    assert status["sha256"] == plan_hash(plan)
    assert status["deviations"] == []
    assert status["lock_valid"] is True


def test_plan_status_option_changed_after_locking_lists_deviation(tmp_path: Path) -> None:
    lock_plan("mindsong", tmp_path, today="2024-05-01")
    # After locking, the evaluator edits the programme's caliper; the analysis then uses it.
    prog = load_programme("mindsong")
    edited = prog.model_copy(update={"matching": prog.matching.model_copy(update={"caliper": 0.1})})
    used = {"matching": resolved_plan(edited)["matching"]}
    status = plan_status("mindsong", used, tmp_path)
    assert status["deviations"] == [{"option": "matching.caliper", "locked": 0.2, "used": 0.1}]


def test_plan_status_notebook_parameter_deviation_by_dotted_name(tmp_path: Path) -> None:
    lock_plan("cyp", tmp_path, today="2024-05-01")
    used = {"matching.ratio": 5, "outcomes.windows_months": [3, 6, 12], "notebook.seed": 42}
    status = plan_status("cyp", used, tmp_path)
    assert status["deviations"] == [{"option": "matching.ratio", "locked": 3, "used": 5}]
    assert status["unplanned"] == ["notebook.seed"]


def test_plan_status_same_number_different_type_is_not_a_deviation(tmp_path: Path) -> None:
    lock_plan("cyp", tmp_path)
    status = plan_status("cyp", {"matching": {"ratio": 3.0, "caliper": 0.2}}, tmp_path)
    assert status["deviations"] == []


def test_plan_status_unlocked_programme_says_so(tmp_path: Path) -> None:
    status = plan_status("chronic_pain", {"matching": {"ratio": 3}}, tmp_path)
    assert status == {
        "locked": False,
        "sha256": None,
        "locked_on": None,
        "deviations": [],
        "unplanned": [],
        "lock_valid": None,
    }


def test_plan_status_hand_edited_lock_is_flagged(tmp_path: Path) -> None:
    path = lock_plan("mindsong", tmp_path)
    doc = json.loads(path.read_text())
    doc["plan"]["matching"]["ratio"] = 5
    path.write_text(json.dumps(doc))
    assert plan_status("mindsong", {}, tmp_path)["lock_valid"] is False


def test_flatten_nested_and_dotted_names() -> None:
    assert flatten({"a": {"b": {"c": 1}, "d": [1, 2]}, "e.f": None, "g": {}}) == {
        "a.b.c": 1,
        "a.d": [1, 2],
        "e.f": None,
        "g": {},
    }


def test_resolved_plan_names_the_target_trial_design_and_its_censoring() -> None:
    plan = resolved_plan("mindsong")
    est = plan["estimation"]
    assert plan["matching"]["available_until"] == "own_referral_date"
    assert est["design"] == "target_trial" and est["index_day"] == "excluded"
    assert est["design_estimand"].startswith("referral now vs not now")
    assert est["censoring"]["truncate"] == [0.01, 0.99]
    assert est["rate_ratio"]["fixed_effects"] == ["unit", "stack_time"]
    assert est["difference_per_person"]["fixed_effects"] == ["unit", "stack_time"]


def test_plan_status_design_changed_after_locking_lists_deviation(tmp_path: Path) -> None:
    lock_plan("mindsong", tmp_path, today="2024-05-01")
    used = {"estimation.design": "legacy", "estimation.censoring.truncate": [0.01, 0.99]}
    status = plan_status("mindsong", used, tmp_path)
    assert status["deviations"] == [
        {"option": "estimation.design", "locked": "target_trial", "used": "legacy"}
    ]


def test_resolved_plan_names_primary_and_secondary_outcomes_resolved() -> None:
    prog = load_programme("mindsong")
    out = resolved_plan(prog)["outcomes"]
    setting, window = prog.outcomes.primary_outcome()
    assert out["primary"] == {"setting": setting, "window_months": window}
    assert out["secondary"] == prog.outcomes.secondary_settings()


def test_resolved_plan_default_outcomes_named_or_left_out_lock_the_same_plan() -> None:
    """A config that writes the default primary and secondaries out locks the same hash."""
    prog = load_programme("mindsong")
    left_out = prog.model_copy(
        update={"outcomes": prog.outcomes.model_copy(update={"primary": None, "secondary": None})}
    )
    setting, window = left_out.outcomes.primary_outcome()
    named = prog.model_copy(
        update={
            "outcomes": Outcomes(
                **{
                    **left_out.outcomes.model_dump(exclude={"primary", "secondary"}),
                    "primary": {"setting": setting, "window_months": window},
                    "secondary": left_out.outcomes.secondary_settings(),
                }
            )
        }
    )
    assert left_out.outcomes.chosen_by() == "default" and named.outcomes.chosen_by() == "config"
    assert plan_hash(resolved_plan(left_out)) == plan_hash(resolved_plan(named))
