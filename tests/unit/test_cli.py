"""The command line: clear errors, plan locking, and the power question."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evalkit.cli import app

runner = CliRunner()


def test_report_unknown_programme_lists_available() -> None:
    result = runner.invoke(app, ["report", "--programme", "nosuch"])
    assert result.exit_code == 2
    assert "available: chronic_pain, cyp, mindsong" in result.output


def test_plan_lock_writes_hash_and_refuses_second_lock(tmp_path: Path) -> None:
    first = runner.invoke(app, ["plan", "lock", "--programme", "cyp", "--plans-dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    doc = json.loads((tmp_path / "cyp.lock.json").read_text())
    assert len(doc["sha256"]) == 64 and doc["programme"] == "cyp"
    second = runner.invoke(
        app, ["plan", "lock", "--programme", "cyp", "--plans-dir", str(tmp_path)]
    )
    assert second.exit_code == 2 and "--force" in second.output
    forced = runner.invoke(
        app, ["plan", "lock", "--programme", "cyp", "--plans-dir", str(tmp_path), "--force"]
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
    need = runner.invoke(
        app,
        ["power", "--programme", "mindsong", "--effect", "0.2", "--processed", str(demo_processed)],
    )
    assert need.exit_code == 0, need.output
    could = runner.invoke(
        app,
        [
            "power",
            "--programme",
            "mindsong",
            "--participants",
            "150",
            "--processed",
            str(demo_processed),
        ],
    )
    assert could.exit_code == 0, could.output
    assert need.output != could.output
