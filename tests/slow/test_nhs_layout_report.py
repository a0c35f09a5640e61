"""End to end with a report (marker ``slow``): the NHS-shaped demo county gives the same report.

The demo county (60,000 people, seed 42) is written NHS-shaped from its own contract tables
(:func:`evalkit.synth.nhs_layout.write_nhs_layout`: GP register with dates of birth, SUS+ spells
by admission method with elective and maternity spells, ECDS, outpatients with cancelled and
missed appointments, GPAD-like appointments with DNAs, 111/OOH, the minimum dataset per
provider), taken in with the mapping composed from the presets (``intake_mappings/presets``),
and the mindsong report is built from it and from the contract-shaped county. Every published
number must be identical: ``results.json`` is compared whole, except ``data_sha256`` (it hashes
the raw files, which differ) and ``data_source`` (it names the mapping), and every table CSV
byte for byte. The fast end-to-end check (tests/unit/intake/test_nhs_layout.py) compares the
processed tables on a small county; this one shows the report on top of them agrees too.
About two report builds and one intake of the NHS files (several minutes on 2 cores).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from evalkit.intake import run_intake
from evalkit.reporting import render_report
from evalkit.synth.nhs_layout import MAPPING_FILE, write_nhs_layout

pytestmark = pytest.mark.slow

PROGRAMME = "mindsong"
SEED = 42  # the demo county's seed (tests/conftest.py)
PRESETS = Path(__file__).resolve().parents[2] / "intake_mappings" / "presets"
DIFFERENT_BY_DESIGN = ("data_sha256", "data_source")


def _comparable(results: dict) -> dict:
    """``results.json`` without the fields that name the raw files, and without versions."""
    return {
        k: v
        for k, v in results.items()
        if k not in DIFFERENT_BY_DESIGN and k not in ("evalkit_version", "package_versions")
    }


def test_nhs_shaped_county_gives_the_contract_county_report(
    demo_county: Path, tmp_path: Path
) -> None:
    extract_end = dt.date.today()  # the same for both intakes (their default)
    contract_processed = tmp_path / "contract_processed"
    run_intake(demo_county, contract_processed, progress=False, extract_end=extract_end)
    nhs_raw = tmp_path / "nhs_raw"
    write_nhs_layout(demo_county, nhs_raw, seed=SEED, presets_dir=PRESETS)
    nhs_processed = tmp_path / "nhs_processed"
    intake = run_intake(
        nhs_raw,
        nhs_processed,
        mapping=nhs_raw / MAPPING_FILE,
        progress=False,
        extract_end=extract_end,
    )
    assert intake.rows_quarantined == 0

    reports = {}
    for name, processed in (("contract", contract_processed), ("nhs", nhs_processed)):
        out = tmp_path / f"reports_{name}"
        render_report(PROGRAMME, processed, out)
        reports[name] = out / PROGRAMME

    results = {
        name: json.loads((folder / "results.json").read_text(encoding="utf-8"))
        for name, folder in reports.items()
    }
    assert results["nhs"]["data_source"]["mapping"] is not None
    assert results["contract"]["data_source"]["mapping"] is None
    assert _comparable(results["nhs"]) == _comparable(results["contract"])

    csvs = sorted(p.relative_to(reports["contract"]) for p in reports["contract"].rglob("*.csv"))
    assert csvs, "the report wrote no tables"
    for rel in csvs:
        assert (reports["nhs"] / rel).read_bytes() == (reports["contract"] / rel).read_bytes(), rel
