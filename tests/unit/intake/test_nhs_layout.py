"""End to end: the NHS-shaped county through intake with the presets gives the contract county.

One small county is written contract-shaped, and NHS-shaped from it (``write_nhs_layout``, which
``generate_county(layout="nhs")`` calls, byte for byte: tests/unit/synth/test_nhs_layout.py), so
both hold the same people, events and person tokens; both are taken in: the contract files
without a mapping, the NHS files with the ``nhs_mapping.yaml`` composed from the presets beside
them. The processed
tables are equal row for row (after sorting by each table's key), and the rows intake filtered
per file and rule are exactly the noise rows the writer put in. Every analysis and report reads
only the processed tables, so equal processed tables imply identical headline results (only
``data_sha256``, which hashes the raw files, and ``data_source`` differ); no report is built here.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from evalkit import config
from evalkit.contract import PRIMARY_KEY, TABLES
from evalkit.intake import IntakeError, run_intake
from evalkit.intake.mapping import IntakeMapping
from evalkit.synth import generate_county
from evalkit.synth.nhs_layout import MANIFEST_FILE, MAPPING_FILE, write_nhs_layout

SEED = 7
POPULATION = 4_000  # the smallest county the generator's tests use (tests/unit/synth)
EXTRACT_END = dt.date(2025, 12, 31)
PRESETS = (
    Path(__file__).resolve().parents[3] / "intake_mappings" / "presets"
)  # after every synthetic date; the same for both intakes


def _sources_accepted() -> bool:
    """Whether intake takes the multi-file mapping form (``tables.<t>.sources``) yet."""
    try:
        IntakeMapping.model_validate({"tables": {"activity": {"sources": [{"file": "a.csv"}]}}})
    except ValidationError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _sources_accepted(),
    reason="intake does not accept multi-file mappings (tables.<table>.sources) yet",
)


def _county(out: Path, **options: object) -> Path:
    generate_county(
        out,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=POPULATION,
        seed=SEED,
        fmt="csv",
        progress=False,
        **options,
    )
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Raw and processed folders of the contract-shaped and the NHS-shaped county."""
    root = tmp_path_factory.mktemp("nhs_end_to_end")
    raw_c = _county(root / "contract")
    raw_n = root / "nhs"
    write_nhs_layout(raw_c, raw_n, seed=SEED, presets_dir=PRESETS)
    run_intake(raw_c, root / "contract_processed", progress=False, extract_end=EXTRACT_END)
    run_intake(
        raw_n,
        root / "nhs_processed",
        mapping=raw_n / MAPPING_FILE,
        progress=False,
        extract_end=EXTRACT_END,
    )
    return {
        "raw_nhs": raw_n,
        "contract": root / "contract_processed",
        "nhs": root / "nhs_processed",
    }


def _table(folder: Path, table: str) -> pd.DataFrame:
    df = pd.read_parquet(folder / f"{table}.parquet")
    return df.sort_values(list(PRIMARY_KEY[table])).reset_index(drop=True)


def _report(folder: Path) -> dict:
    return json.loads((folder / "intake_report.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("table", TABLES)
def test_nhs_extract_intake_equals_contract_county_intake(both: dict, table: str) -> None:
    pd.testing.assert_frame_equal(_table(both["nhs"], table), _table(both["contract"], table))


def test_nhs_extract_filtered_rows_per_rule_are_the_noise_rows_written(both: dict) -> None:
    manifest = json.loads((both["raw_nhs"] / MANIFEST_FILE).read_text(encoding="utf-8"))
    report = _report(both["nhs"])
    filtered = {
        src["file"]: {rule: n for rule, n in src["rows_filtered"].items() if n}
        for entry in report["tables"].values()
        for src in entry["sources"]
        if any(src["rows_filtered"].values())
    }
    assert filtered == manifest["noise"]
    for entry in report["tables"].values():  # nothing quarantined: every kept row is valid
        assert entry["rows_quarantined"] == 0
        for src in entry["sources"]:
            assert src["rows_read"] == manifest["files"][src["file"]]


def test_nhs_extract_no_date_of_birth_reaches_processed_data(both: dict) -> None:
    pop = pd.read_parquet(both["nhs"] / "population.parquet")
    assert "DATE_OF_BIRTH" not in pop.columns and "date_of_birth" not in pop.columns
    text = (both["nhs"] / "intake_report.json").read_text(encoding="utf-8")
    raw = pd.read_csv(both["raw_nhs"] / "GP_REGISTER.csv", dtype=str, nrows=50)
    assert not any(d in text for d in raw["DATE_OF_BIRTH"])


# ---- --nhs-numbers: synthetic NHS numbers, pseudonymised by the key holder, then intake --------
KEY = b"evalkit test key, never a real one"  # 34 bytes: a key file's minimum is 32


@pytest.fixture(scope="module")
def numbered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same county in the NHS layout with NHS numbers, and its pseudonymised copy."""
    from evalkit.intake.pseudonymise import pseudonymise_file

    root = tmp_path_factory.mktemp("nhs_numbers")
    raw = _county(root / "numbers", layout="nhs", nhs_numbers=True)
    manifest = json.loads((raw / MANIFEST_FILE).read_text(encoding="utf-8"))
    pseudo = root / "pseudonymised"
    for f, column in manifest["person_columns"].items():
        pseudonymise_file(raw / f, column=column, out=pseudo / f, key=KEY)
    for f in [*(set(manifest["files"]) - set(manifest["person_columns"])), MAPPING_FILE]:
        (pseudo / f).write_bytes((raw / f).read_bytes())  # files without a person column
    run_intake(
        pseudo, root / "processed", mapping=pseudo / MAPPING_FILE, progress=False,
        extract_end=EXTRACT_END,
    )  # fmt: skip
    return {"raw": raw, "processed": root / "processed"}


def test_nhs_numbers_layout_straight_into_intake_is_refused(numbered: dict, tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="pseudonymise") as err:
        run_intake(numbered["raw"], tmp_path, mapping=numbered["raw"] / MAPPING_FILE)
    numbers = pd.read_csv(numbered["raw"] / "GP_REGISTER.csv", dtype=str, nrows=100)
    assert not any(n in str(err.value) for n in numbers["PSEUDO_NHS_NUMBER"])


def test_nhs_numbers_pseudonymised_give_the_contract_county_under_the_new_tokens(
    both: dict, numbered: dict
) -> None:
    """Pseudonymise + intake = the contract county, each person under their keyed token."""
    from evalkit.intake.pseudonymise import token

    tokens = pd.read_csv(both["raw_nhs"] / "GP_REGISTER.csv", dtype=str)["PSEUDO_NHS_NUMBER"]
    numbers = pd.read_csv(numbered["raw"] / "GP_REGISTER.csv", dtype=str)["PSEUDO_NHS_NUMBER"]
    assert numbers.str.fullmatch(r"999\d{7}").all()  # the test range, never issued
    new = {t: token(KEY, n) for t, n in zip(tokens, numbers, strict=True)}
    for table in TABLES:
        expected = pd.read_parquet(both["contract"] / f"{table}.parquet")
        if "person_id" in expected:
            expected["person_id"] = expected["person_id"].map(new)
        got = pd.read_parquet(numbered["processed"] / f"{table}.parquet")
        key = list(PRIMARY_KEY[table])
        pd.testing.assert_frame_equal(
            got.sort_values(key).reset_index(drop=True),
            expected.sort_values(key).reset_index(drop=True),
        )
