"""The Makefile front door: `make help` lists every target, and the venv stamp logic works.

None of these tests builds a virtual environment: the venv cases point VENV at a stub whose
`python` is a shell script, and use `make -n` (print, do not run) where a rebuild would happen.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = ROOT / "Makefile"
TARGET_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\s*:(?!=)")
HELP_LINE_RE = re.compile(r"^  (\S+)\s+(\S.*)$")
USER_TARGETS = {"data", "report", "reports", "test", "test-slow", "lint", "bench", "synth"}

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _clean_environ() -> dict[str, str]:
    # Under `make test` the outer make passes its flags and command-line variables (VENV=...)
    # down through MAKEFLAGS; these tests must see only the variables they set.
    drop = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VENV", "PYTEST_ARGS"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _make(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None):
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env={**_clean_environ(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _targets_and_descriptions() -> dict[str, str | None]:
    """Every explicit target in the Makefile and the `## ` comment directly above it."""
    out: dict[str, str | None] = {}
    previous = ""
    for line in MAKEFILE.read_text(encoding="utf-8").splitlines():
        match = TARGET_RE.match(line)
        if match:
            desc = previous[3:].strip() if previous.startswith("## ") else None
            out.setdefault(match.group(1), desc)
        previous = line
    return out


def _help_lines(stdout: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in map(HELP_LINE_RE.match, stdout.splitlines()) if m}


def _stub_venv(tmp_path: Path, version_ok: bool = True, pytest_exit: int = 0) -> Path:
    """A fake .venv whose python answers the 3.11 check and exits `pytest_exit` otherwise."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-c" ]; then exit {0 if version_ok else 1}; fi\n'
        f"exit {pytest_exit}\n"
    )
    python.chmod(0o755)
    (venv / ".stamp").touch()
    return venv


def test_makefile_every_target_has_a_description():
    targets = _targets_and_descriptions()
    assert USER_TARGETS <= set(targets)
    undocumented = sorted(t for t, d in targets.items() if not d)
    assert not undocumented, f"targets without a '## ' line above them: {undocumented}"


def test_make_help_lists_every_target_with_its_description():
    result = _make("-s", "help")
    assert result.returncode == 0, result.stderr
    listed = _help_lines(result.stdout)
    assert listed == _targets_and_descriptions()


def test_make_default_goal_is_help():
    assert _make("-s").stdout == _make("-s", "help").stdout


def test_make_help_without_venv_does_not_build_one(tmp_path):
    venv = tmp_path / "no-venv-here"
    result = _make("-s", "help", env={"VENV": str(venv)})
    assert result.returncode == 0, result.stderr
    assert not venv.exists()
    dry = _make("-n", "help", env={"VENV": str(venv)})
    assert "venv.sh" not in dry.stdout


def test_make_test_missing_venv_builds_it_first(tmp_path):
    dry = _make("-n", "test", env={"VENV": str(tmp_path / "missing")})
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    build = next(i for i, line in enumerate(lines) if "scripts/venv.sh" in line)
    run = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert build < run
    assert '-m "not slow and not r"' in lines[run]


def test_make_test_fresh_stamp_skips_rebuild(tmp_path):
    venv = _stub_venv(tmp_path)
    dry = _make("-n", "test", env={"VENV": str(venv)})
    assert dry.returncode == 0, dry.stderr
    assert "scripts/venv.sh" not in dry.stdout
    assert "-m pytest" in dry.stdout


def test_make_test_stamp_older_than_lock_rebuilds(tmp_path):
    venv = _stub_venv(tmp_path)
    os.utime(venv / ".stamp", (0, 0))  # older than requirements.lock and pyproject.toml
    dry = _make("-n", "test", env={"VENV": str(venv)})
    assert "scripts/venv.sh" in dry.stdout


def test_make_test_venv_python_not_311_rebuilds(tmp_path):
    venv = _stub_venv(tmp_path, version_ok=False)
    dry = _make("-n", "test", env={"VENV": str(venv)})
    assert "scripts/venv.sh" in dry.stdout


def test_make_test_pytest_exit_5_fails_with_message(tmp_path):
    venv = _stub_venv(tmp_path, pytest_exit=5)
    result = _make("test", env={"VENV": str(venv)})
    assert result.returncode != 0
    assert "collected no tests" in result.stderr


def test_make_test_pytest_success_passes(tmp_path):
    venv = _stub_venv(tmp_path, pytest_exit=0)
    result = _make("test", env={"VENV": str(venv)})
    assert result.returncode == 0, result.stderr


def _data_tree(root: Path) -> None:
    """A project's data folders after a demo report and an intake of real data."""
    shutil.copy(MAKEFILE, root / "Makefile")
    for rel in (
        "data/raw/population.csv",
        "data/raw/.gitkeep",
        "data/processed/.gitkeep",
        "data/processed/activity.parquet",
        "data/processed/quarantine/activity.parquet",
        "data/demo/population.csv",
        "data/demo/synthetic_truth.json",
        "data/demo/processed/activity.parquet",
        "data/demo/processed/quarantine/activity.parquet",
        "reports/.gitkeep",
        "reports/mindsong/index.html",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_make_clean_keeps_raw_data_demo_county_and_gitkeep(tmp_path):
    _data_tree(tmp_path)
    result = _make("clean", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _files(tmp_path) == [
        "Makefile",
        "data/demo/population.csv",
        "data/demo/synthetic_truth.json",
        "data/processed/.gitkeep",
        "data/raw/.gitkeep",
        "data/raw/population.csv",
        "reports/.gitkeep",
    ]


def test_make_distclean_removes_demo_county_never_raw(tmp_path):
    _data_tree(tmp_path)
    venv = tmp_path / "venv-to-remove"
    (venv / "bin").mkdir(parents=True)
    result = _make("distclean", cwd=tmp_path, env={"VENV": str(venv)})
    assert result.returncode == 0, result.stderr
    assert not venv.exists()
    assert _files(tmp_path) == [
        "Makefile",
        "data/processed/.gitkeep",
        "data/raw/.gitkeep",
        "data/raw/population.csv",
        "reports/.gitkeep",
    ]


@pytest.mark.parametrize("target", ["data", "report", "reports"])
def test_make_mapping_is_passed_to_evalkit(tmp_path, target):
    venv = _stub_venv(tmp_path)
    dry = _make("-n", target, "MAPPING=intake_mappings/icb.yaml", env={"VENV": str(venv)})
    assert dry.returncode == 0, dry.stderr
    line = next(x for x in dry.stdout.splitlines() if "/evalkit " in x)
    assert line.split("/evalkit ", 1)[1].split()[0] == target
    assert "--mapping intake_mappings/icb.yaml" in line
    plain = _make("-n", target, env={"VENV": str(venv)})
    assert "--mapping" not in plain.stdout


def test_make_synth_writes_data_demo_never_raw(tmp_path):
    venv = _stub_venv(tmp_path)
    dry = _make("-n", "synth", env={"VENV": str(venv)})
    assert dry.returncode == 0, dry.stderr
    assert "--demo data/demo" in dry.stdout and "data/raw" not in dry.stdout


def test_makefile_cpu_env_is_the_report_kernels():
    """Every make recipe runs with the report kernels' fixed CPU code paths (exported)."""
    from evalkit.reporting.pipeline import CPU_ENV

    lines = MAKEFILE.read_text().splitlines()
    for key, value in CPU_ENV.items():
        assert f"export {key} := {value}" in lines, key
