"""Regenerate ``requirements.lock`` and ``environment.yml``; ``requirements.lock`` is the source.

Usage (from the repository root, with Python 3.11)::

    python scripts/lock.py            # fresh resolve: newest versions pyproject.toml allows
    python scripts/lock.py --env-only # rewrite environment.yml from the current lock
    python scripts/lock.py --check    # exit 1 if environment.yml does not match the lock

``make lock`` runs the first form. A fresh resolve installs the runtime dependencies and the
``dev`` extra of ``pyproject.toml`` into a throw-away virtual environment, freezes it, and writes
every installed distribution (except pip, setuptools, wheel and evalkit) pinned with ``==``. Known
incompatibilities are held back by bounds in ``pyproject.toml`` itself (for example sqlglot for
ibis 12, ``docs/reference/stack.md``), so that a resolve cannot pick them up. Review the diff and
run ``make test`` before committing a new lock.

Only the standard library is used, so this runs before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
ENVIRONMENT = ROOT / "environment.yml"
PYPROJECT = ROOT / "pyproject.toml"

LOCK_HEADER = (
    "# Pinned versions of every package evalkit installs (Python 3.11). "
    "Regenerate with `make lock`."
)
#: Installers are not pinned in the lock: the venv keeps the ones its Python ships.
UNPINNED = {"pip", "setuptools", "wheel", "evalkit"}


def normalise(name: str) -> str:
    """Normalise a distribution name per PEP 503 (``Jinja2`` and ``jinja2`` are one package).

    Examples
    --------
    >>> normalise("ruamel.yaml_Clib")
    'ruamel-yaml-clib'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK) -> dict[str, tuple[str, str]]:
    """Pinned packages of a lock file: normalised name -> (name as written, version).

    Raises
    ------
    ValueError
        A line that is not ``name==version``, or a package pinned twice.
    """
    pins: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", line)
        if not match:
            raise ValueError(f"{path}:{number}: not a 'name==version' pin: {raw!r}")
        name, version = match.groups()
        key = normalise(name)
        if key in pins:
            raise ValueError(f"{path}:{number}: {name} is pinned twice")
        pins[key] = (name, version)
    return pins


def project_requirements(path: Path = PYPROJECT) -> list[str]:
    """Runtime dependencies plus every optional-dependency group of ``pyproject.toml``."""
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    reqs = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        reqs.extend(group)
    return reqs


def environment_yml(pins: dict[str, tuple[str, str]]) -> str:
    """Text of ``environment.yml``: conda's python 3.11 and pip, everything else pinned via pip.

    Every package goes through pip at the lock's version, so a conda user gets exactly the
    environment ``make`` builds; conda supplies only the interpreter and pip.
    """
    lines = [
        "# Generated from requirements.lock by scripts/lock.py: do not edit by hand.",
        "# conda env create -f environment.yml && conda activate evalkit",
        "name: evalkit",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
    ]
    for _, (name, version) in sorted(pins.items()):
        lines.append(f"      - {name}=={version}")
    lines.append("      - -e .")
    return "\n".join(lines) + "\n"


def write_lock(pins: dict[str, tuple[str, str]], path: Path = LOCK) -> None:
    """Write pins sorted by normalised name, one ``name==version`` a line."""
    body = [f"{name}=={version}" for _, (name, version) in sorted(pins.items())]
    path.write_text("\n".join([LOCK_HEADER, *body]) + "\n", encoding="utf-8")


def resolve() -> dict[str, tuple[str, str]]:
    """Install pyproject's requirements into a throw-away venv and return its frozen pins."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"lock: run with Python 3.11 (this is {sys.version.split()[0]})")
    reqs = project_requirements()
    with tempfile.TemporaryDirectory(prefix="evalkit-lock-") as tmp:
        venv = Path(tmp) / "venv"
        python = venv / "bin" / "python"
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input"]
        print(f"lock: resolving {len(reqs)} requirements in a fresh venv", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "--quiet", "--progress-bar", "off", *reqs], check=True)
        subprocess.run([*pip, "check"], check=True)
        frozen = subprocess.run(
            [*pip, "list", "--format=freeze"], check=True, capture_output=True, text=True
        ).stdout
    pins: dict[str, tuple[str, str]] = {}
    for line in frozen.splitlines():
        name, _, version = line.partition("==")
        if version and normalise(name) not in UNPINNED:
            pins[normalise(name)] = (name, version)
    return pins


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--env-only", action="store_true", help="rewrite environment.yml only")
    mode.add_argument("--check", action="store_true", help="check environment.yml is current")
    args = parser.parse_args(argv)

    if args.check:
        expected = environment_yml(read_lock())
        current = ENVIRONMENT.read_text(encoding="utf-8") if ENVIRONMENT.exists() else ""
        if current != expected:
            print("lock: environment.yml is out of date; run scripts/lock.py --env-only")
            return 1
        print("lock: environment.yml matches requirements.lock")
        return 0

    if not args.env_only:
        old = read_lock() if LOCK.exists() else {}
        pins = resolve()
        write_lock(pins)
        changed = sorted(
            f"{pins[k][0]} {old[k][1] if k in old else '(new)'} -> {pins[k][1]}"
            for k in pins
            if k not in old or old[k][1] != pins[k][1]
        )
        removed = sorted(old[k][0] for k in old if k not in pins)
        print(f"lock: wrote {LOCK.name} ({len(pins)} packages)")
        for line in changed:
            print(f"  changed {line}")
        for name in removed:
            print(f"  removed {name}")

    ENVIRONMENT.write_text(environment_yml(read_lock()), encoding="utf-8")
    print(f"lock: wrote {ENVIRONMENT.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
