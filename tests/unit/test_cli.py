"""The command line: clear errors, plan locking, and the power question."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app

runner = CliRunner()


def test_report_unknown_programme_lists_available() -> None:
    result = runner.invoke(app, ["report", "--programme", "nosuch"])
    assert result.exit_code == 2
    assert "available: chronic_pain, cyp, mindsong" in result.output


def test_plan_lock_writes_hash_and_refuses_second_lock(tmp_path: Path) -> None:
    first = runner.invoke(app, ["plan", "lock", "--programme", "cyp", "--plans", str(tmp_path)])
    assert first.exit_code == 0, first.output
    doc = json.loads((tmp_path / "cyp.lock.json").read_text())
    assert len(doc["sha256"]) == 64 and doc["programme"] == "cyp"
    second = runner.invoke(app, ["plan", "lock", "--programme", "cyp", "--plans", str(tmp_path)])
    assert second.exit_code == 2 and "--force" in second.output
    forced = runner.invoke(
        app, ["plan", "lock", "--programme", "cyp", "--plans", str(tmp_path), "--force"]
    )
    assert forced.exit_code == 0


def test_power_needs_exactly_one_question(tmp_path: Path) -> None:
    both = runner.invoke(
        app, ["power", "--effect", "0.2", "--participants", "100", "--processed", str(tmp_path)]
    )
    neither = runner.invoke(app, ["power", "--processed", str(tmp_path)])
    assert both.exit_code == 2 and neither.exit_code == 2
    assert "exactly one" in both.output


def test_power_answers_both_questions(demo_processed: Path) -> None:
    """Each question prints what :func:`power_plan` solves (seeded, so the same numbers)."""
    from evalkit.analysis.power import power_plan
    from evalkit.reporting import quiet

    base = ["power", "--programme", "mindsong", "--processed", str(demo_processed)]
    need = runner.invoke(app, [*base, "--effect", "0.2"])
    could = runner.invoke(app, [*base, "--participants", "150"])
    assert need.exit_code == 0, need.output
    assert could.exit_code == 0, could.output
    with quiet():
        n_needed = power_plan(demo_processed, "mindsong", effect=0.2)
        mde_150 = power_plan(demo_processed, "mindsong", participants=150)
    assert n_needed.solved_for == "sample_size" and mde_150.solved_for == "mde"
    assert need.output.strip() == n_needed.summary().strip()
    assert could.output.strip() == mde_150.summary().strip()
    assert f"{math.ceil(n_needed.n_participants):,}" in need.output


def test_synth_into_data_raw_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """data/raw holds only what the user put there: the generator never writes it."""
    from evalkit.config import project_root

    (tmp_path / "data" / "raw").mkdir(parents=True)
    monkeypatch.setenv("EVALKIT_ROOT", str(tmp_path))
    monkeypatch.setenv("EVALKIT_PROGRAMMES", str(project_root() / "programmes"))
    result = runner.invoke(app, ["synth", "--demo", str(tmp_path / "data" / "raw")])
    assert result.exit_code == 2
    assert "evalkit never writes it" in result.output
    assert list((tmp_path / "data" / "raw").iterdir()) == []
