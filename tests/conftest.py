"""Shared fixtures: a synthetic county generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit import config
from evalkit.synth import generate_county


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


@pytest.fixture(scope="session")
def demo_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county (60,000 people, seed 42, Parquet), generated once per session."""
    return _generate_demo(tmp_path_factory.mktemp("demo_county") / "raw")


@pytest.fixture(scope="session")
def demo_processed(demo_county: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county after intake (``data/processed`` layout), once per session."""
    return _intake(demo_county, tmp_path_factory.mktemp("demo_processed"))


def _intake(raw: Path, root: Path) -> Path:
    """Intake of ``raw`` into ``root/processed``."""
    from evalkit.intake import run_intake

    out = root / "processed"
    run_intake(raw, out, progress=False)
    return out


@pytest.fixture(scope="session")
def demo_observables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hard demo county in the observables regime (seed 42), raw tables, once per session.

    Referral depends only on what the analysis can match on, so the matched DiD's assumptions
    hold and its truth checks are exact up to sampling error (the realistic default adds latent
    episodes, whose residual bias is reported, not tested against 3 SE).
    """
    out = tmp_path_factory.mktemp("demo_observables") / "raw"
    return _generate_demo(out, regime="observables", world="hard")


@pytest.fixture(scope="session")
def demo_observables_processed(
    demo_observables: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The observables demo county after intake."""
    return _intake(demo_observables, tmp_path_factory.mktemp("demo_observables_processed"))
