"""requirements.lock is the single source of truth for the environment.

environment.yml (for conda users) must name the same packages at the same versions, and every
dependency pyproject.toml declares (runtime and the dev extra) must be pinned in the lock at a
version its specifier allows. No conda channel is reachable here, so these checks parse the files.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
ENVIRONMENT = ROOT / "environment.yml"
PYPROJECT = ROOT / "pyproject.toml"


def _lock_pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and version and not re.search(r"[<>=!~;\[\s]", version), (
            f"requirements.lock: not an exact pin: {raw!r}"
        )
        key = canonicalize_name(name)
        assert key not in pins, f"requirements.lock: {name} is pinned twice"
        pins[key] = version
    return pins


def _environment() -> dict:
    return yaml.safe_load(ENVIRONMENT.read_text(encoding="utf-8"))


def _environment_pip_pins(env: dict) -> dict[str, str]:
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml: expected one pip: section"
    pins: dict[str, str] = {}
    for entry in pip_sections[0]:
        if entry.startswith("-"):  # an option such as `-e .` (evalkit itself), not a package
            continue
        name, sep, version = entry.partition("==")
        assert sep, f"environment.yml: not an exact pin: {entry!r}"
        key = canonicalize_name(name)
        assert key not in pins, f"environment.yml: {name} listed twice"
        pins[key] = version
    return pins


def _project_requirements() -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for group in project.get("optional-dependencies", {}).values():
        reqs.extend(Requirement(r) for r in group)
    return reqs


@pytest.fixture(scope="module")
def lock() -> dict[str, str]:
    return _lock_pins(LOCK.read_text(encoding="utf-8"))


def test_lock_pins_every_line_exactly(lock):
    # _lock_pins asserts on each line; a realistic lock has well over the direct dependencies.
    assert len(lock) > len(_project_requirements())


def test_lock_parser_inexact_pin_fails():
    with pytest.raises(AssertionError, match="not an exact pin"):
        _lock_pins("numpy>=2\n")
    with pytest.raises(AssertionError, match="pinned twice"):
        _lock_pins("PyYAML==6.0.3\npyyaml==6.0.2\n")


def test_environment_yml_conda_part_names_python_311_and_pip():
    deps = _environment()["dependencies"]
    plain = [d for d in deps if isinstance(d, str)]
    assert "python=3.11" in plain
    assert "pip" in plain


def test_environment_yml_same_packages_and_versions_as_lock(lock):
    env = _environment_pip_pins(_environment())
    only_lock = sorted(set(lock) - set(env))
    only_env = sorted(set(env) - set(lock))
    differ = sorted(
        f"{k}: lock {lock[k]}, env {env[k]}" for k in set(lock) & set(env) if lock[k] != env[k]
    )
    assert not (only_lock or only_env or differ), (
        f"environment.yml differs from requirements.lock (run python scripts/lock.py --env-only): "
        f"only in lock {only_lock}; only in environment.yml {only_env}; versions {differ}"
    )


def test_environment_yml_installs_evalkit_itself():
    pip_entries = next(d["pip"] for d in _environment()["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_entries


def test_pyproject_dependency_pinned_in_lock_within_its_specifier(lock):
    missing, outside = [], []
    for req in _project_requirements():
        key = canonicalize_name(req.name)
        if key not in lock:
            missing.append(req.name)
        elif req.specifier and not req.specifier.contains(lock[key], prereleases=True):
            outside.append(f"{req} (locked {lock[key]})")
    assert not missing, f"pyproject.toml names packages the lock does not pin: {missing}"
    assert not outside, f"locked versions outside pyproject.toml's specifiers: {outside}"


def test_pyproject_requires_python_311(lock):
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(project["requires-python"])
    assert "3.11.7" in spec
    assert "3.12.0" not in spec


def test_lock_sqlglot_pinned_to_version_tested_with_ibis(lock):
    # docs/reference/stack.md: ibis 12.0.0's DuckDB backend breaks with sqlglot 30.30.0 and works
    # with 28.0.0. Changing either pin needs the engine-layer end-to-end test to pass again.
    assert lock["ibis-framework"] == "12.0.0"
    assert lock["sqlglot"].split(".")[0] == "28"


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_lock_closed_under_dependencies_of_installed_pins(lock):
    """Every requirement of a locked package (and of pyproject's extras) is itself locked.

    Checked against the metadata of the running environment, only for packages installed at the
    locked version, so it is exact in the project's .venv and partial elsewhere.
    """
    marker_env = default_environment()
    checked = 0
    unpinned: set[str] = set()
    todo = [(key, set()) for key in lock]
    todo += [(canonicalize_name(r.name), set(r.extras)) for r in _project_requirements()]
    for key, extras in todo:
        if _installed_version(key) != lock.get(key):
            continue
        checked += 1
        envs = [{**marker_env, "extra": extra} for extra in (extras or {""})]
        for spec in importlib.metadata.requires(key) or []:
            req = Requirement(spec)
            if req.marker is not None and not any(req.marker.evaluate(e) for e in envs):
                continue
            if canonicalize_name(req.name) not in lock:
                unpinned.add(f"{req.name} (needed by {key})")
    if checked < len(lock) // 2:
        pytest.skip(f"only {checked} of {len(lock)} locked packages installed at their pins")
    assert not unpinned, f"requirements.lock misses dependencies: {sorted(unpinned)}"
