"""Intake mapping files: a warehouse-named extract gives the same tables as the contract's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from evalkit import contract as C
from evalkit.intake import IntakeError, MappingError, load_mapping, run_intake
from evalkit.intake.example import (
    example_tables,
    write_tables,
)
from helpers.intake_example import example_kw

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "intake_mappings" / "example_warehouse.yaml"
KW = example_kw(extract_end=False, validate=False)


def _warehouse_extract(raw: Path) -> None:
    """Write the example tables the way the example warehouse would export them."""
    m = yaml.safe_load(EXAMPLE.read_text())
    inverse_recode = {
        "sex": {"M": "1", "F": "2", "X": "9"},
        "setting": {
            "gp_appointment": "GP",
            "ae_attendance": "AE",
            "emergency_admission": "NEL",
            "outpatient_attendance": "OPATT",
            "ooh_contact": "111",
        },
        "programme": {"mindsong": "MS", "cyp": "CYP"},
        "referral_source": {"gp": "GP", "social_prescriber": "SP", "school": "SCH"},
        "discharge_reason": {"completed": "COMP", "did_not_start": "DNS", "ongoing": "ONG"},
        "instrument": {"swemwbs": "SWEMWBS", "ons4": "ONS4"},
        "timepoint": {"baseline": "T0", "end": "T1"},
    }
    raw.mkdir(parents=True)
    for table, df in example_tables().items():
        spec = m["tables"][table]
        df = df.copy()
        for col, kind in C.COLUMNS[table].items():
            if col not in df:  # an optional column the example does not carry
                continue
            if col in inverse_recode:
                df[col] = df[col].map(inverse_recode[col]).fillna(df[col])
            if kind == "date":
                d = pd.to_datetime(df[col].replace("", None), format="%Y-%m-%d")
                df[col] = d.dt.strftime("%d/%m/%Y").fillna("NULL")
        df = df.rename(columns={v: k for k, v in spec["columns"].items()})
        df["LOAD_TIMESTAMP"] = "2024-04-02 03:00:00"  # warehouse housekeeping: ignored
        df.to_csv(raw / spec["file"], index=False)


def test_example_mapping_warehouse_extract_gives_contract_tables(tmp_path: Path) -> None:
    write_tables(example_tables(), tmp_path / "contract", "csv")
    ref = run_intake(
        tmp_path / "contract", tmp_path / "ref", extract_end=None, mapping=None, **{**KW}
    )  # extract end: today (data end 2023)
    _warehouse_extract(tmp_path / "wh")
    res = run_intake(tmp_path / "wh", tmp_path / "res", mapping=EXAMPLE, **KW)
    for table in C.TABLES:
        a = pd.read_parquet(tmp_path / "ref" / f"{table}.parquet")
        b = pd.read_parquet(tmp_path / "res" / f"{table}.parquet")
        pd.testing.assert_frame_equal(a, b)
        assert res.tables[table].rows_quarantined == 0
        assert res.tables[table].ignored_columns == ("LOAD_TIMESTAMP",)
    assert ref.rows_accepted == res.rows_accepted
    assert res.spec["extract_end"] == "2024-03-31"


def test_example_mapping_sex_codes_follow_nhs_data_dictionary() -> None:
    m = load_mapping(EXAMPLE)
    assert m.table("population").recode["sex"] == {"1": "M", "2": "F", "9": "X", "0": "X", "X": "X"}
    assert "ethnicity" not in m.table("population").recode  # NHS codes are the contract's


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("tables:\n  population:\n    colums: {A: person_id}\n", "tables.population.colums"),
        ("date_fromat: '%d/%m/%Y'\n", "date_fromat"),
        ("date_format: '%d/%b/%Y'\n", "date_format"),
        ("tables:\n  population:\n    columns: {A: personid}\n", "personid"),
        ("tables:\n  activty: {}\n", "activty"),
        ("person_id_pattern: '[0-9'\n", "person_id_pattern"),
        ("tables:\n  activity:\n    file: ../x.csv\n", "tables.activity.file"),
    ],
)
def test_load_mapping_typo_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    p = tmp_path / "source.yaml"
    p.write_text(text)
    with pytest.raises(MappingError) as err:
        load_mapping(p)
    assert str(p) in str(err.value) and field in str(err.value)


def test_run_intake_mapped_column_missing_names_source_column(tmp_path: Path) -> None:
    _warehouse_extract(tmp_path / "wh")
    f = tmp_path / "wh" / "SUS_GP_ACTIVITY.csv"
    pd.read_csv(f, dtype=str).drop(columns=["POINT_OF_DELIVERY"]).to_csv(f, index=False)
    with pytest.raises(IntakeError, match=r"SUS_GP_ACTIVITY\.csv: .*'POINT_OF_DELIVERY'"):
        run_intake(tmp_path / "wh", tmp_path / "out", mapping=EXAMPLE, **KW)


def test_run_intake_mapping_file_missing_names_table_file(tmp_path: Path) -> None:
    _warehouse_extract(tmp_path / "wh")
    (tmp_path / "wh" / "CH_MDS_OUTCOMES.csv").unlink()
    with pytest.raises(IntakeError, match=r"CH_MDS_OUTCOMES\.csv: file not found"):
        run_intake(tmp_path / "wh", tmp_path / "out", mapping=EXAMPLE, **KW)
