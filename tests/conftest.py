"""Shared fixtures: the synthetic counties and their matched cohorts, built once per test session.

Under pytest-xdist (``make test PYTEST_WORKERS=2``) the counties on disk are built once for all
workers: the first worker to ask builds them under a file lock in the session's shared temporary
directory and the others wait for it and reuse them (``helpers.shared.shared_dir``). In-memory
fixtures (studies, matched cohorts) are built once per worker that needs them, and only for the
programmes its tests ask for. Tests read these fixtures and never modify them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from evalkit import config
from evalkit.synth import generate_county
from helpers.shared import LazyMap, shared_dir


def _generate_demo(out: Path, **options: object) -> Path:
    """The demo county (60,000 people, seed 42, Parquet) into ``out``, with ``options``."""
    generate_county(
        out,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        scale="demo",
        seed=42,
        fmt="parquet",
        progress=False,
        **options,
    )
    return out


def _intake(raw: Path, root: Path) -> Path:
    """Intake of ``raw`` into ``root/processed``."""
    from evalkit.intake import run_intake

    out = root / "processed"
    run_intake(raw, out, progress=False)
    return out


@pytest.fixture(scope="session")
def demo_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county (60,000 people, seed 42, Parquet), generated once per session."""
    root = shared_dir(tmp_path_factory, "demo_county", lambda d: _generate_demo(d / "raw"))
    return root / "raw"


@pytest.fixture(scope="session")
def demo_processed(demo_county: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county after intake (``data/processed`` layout), once per session."""
    root = shared_dir(tmp_path_factory, "demo_processed", lambda d: _intake(demo_county, d))
    return root / "processed"


@pytest.fixture(scope="session")
def demo_observables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hard demo county in the observables regime (seed 42), raw tables, once per session.

    Referral depends only on what the analysis can match on, so the matched DiD's assumptions
    hold and its truth checks are exact up to sampling error (the realistic default adds latent
    episodes, whose residual bias is reported, not tested against 3 SE).
    """

    def build(d: Path) -> None:
        _generate_demo(d / "raw", regime="observables", world="hard")

    return shared_dir(tmp_path_factory, "demo_observables", build) / "raw"


@pytest.fixture(scope="session")
def demo_observables_processed(
    demo_observables: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The observables demo county after intake."""

    def build(d: Path) -> None:
        _intake(demo_observables, d)

    return shared_dir(tmp_path_factory, "demo_observables_processed", build) / "processed"


@pytest.fixture(scope="session")
def demo_studies(demo_processed: Path) -> Mapping[str, Any]:
    """Every programme's study on the processed demo county, opened once per session.

    Shared by every test module that analyses the demo county; tests read it, never modify it.
    """
    from evalkit.analysis import load_study

    return LazyMap(sorted(config.load_programmes()), lambda p: load_study(p, demo_processed))


@pytest.fixture(scope="session")
def demo_matched(demo_studies: Mapping[str, Any]) -> Mapping[str, Any]:
    """Every programme's default matched cohort (target trial) on the demo county, once."""
    from evalkit.analysis.utilisation import matched_cohort

    return LazyMap(list(demo_studies), lambda p: matched_cohort(demo_studies[p]))


@pytest.fixture(scope="session")
def demo_matched_legacy(demo_studies: Mapping[str, Any]) -> Mapping[str, Any]:
    """Every programme's matched cohort with ``design="legacy"`` on the demo county, once."""
    from evalkit.analysis.utilisation import matched_cohort

    return LazyMap(list(demo_studies), lambda p: matched_cohort(demo_studies[p], design="legacy"))


@pytest.fixture(scope="session")
def observables_matched(demo_observables_processed: Path) -> Mapping[str, Any]:
    """Every programme's default matched cohort on the observables demo county, once."""
    from evalkit.analysis import load_study
    from evalkit.analysis.utilisation import matched_cohort

    return LazyMap(
        sorted(config.load_programmes()),
        lambda p: matched_cohort(load_study(p, demo_observables_processed)),
    )
