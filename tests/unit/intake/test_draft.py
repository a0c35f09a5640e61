"""``evalkit mapping draft``: a valid mapping drafted from an extract, with nothing identifying.

The NHS-shaped synthetic county (``write_nhs_layout`` of a small contract county) is drafted
with and without the presets; a file of NHS numbers (999 test range), dates of birth, postcodes
and names is drafted and its output searched for every one of those values.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalkit import config
from evalkit.cli import app
from evalkit.intake import IntakeError
from evalkit.intake.draft import (
    KIND_BIRTH,
    KIND_CODE,
    KIND_DATE,
    KIND_NHS,
    KIND_NUMBER,
    KIND_POSTCODE,
    draft_mapping,
)
from evalkit.intake.mapping import load_mapping
from evalkit.nhs_number import nhs_check_digit
from evalkit.synth import generate_county
from evalkit.synth.nhs_layout import write_nhs_layout

PRESETS = Path(__file__).resolve().parents[3] / "intake_mappings" / "presets"
SEED = 7
POPULATION = 4_000  # the smallest county the generator's tests use (as test_nhs_layout.py)


@pytest.fixture(scope="module")
def nhs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("draft_nhs")
    generate_county(
        root / "contract",
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=POPULATION,
        seed=SEED,
        fmt="csv",
        progress=False,
    )
    out = root / "nhs"
    write_nhs_layout(root / "contract", out, seed=SEED, presets_dir=PRESETS)
    return out


def _loads(text: str, tmp_path: Path) -> dict:
    path = tmp_path / "draft.yaml"
    path.write_text(text, encoding="utf-8")
    load_mapping(path)  # valid as written
    return yaml.safe_load(text)


def _nhs_numbers(n: int) -> list[str]:
    """Valid NHS numbers in the 999 test range (never issued to a person)."""
    out = []
    stem = 999_000_000
    while len(out) < n:
        check = nhs_check_digit(str(stem))
        if check is not None:
            out.append(f"{stem}{check}")
        stem += 7
    return out


def test_draft_nhs_layout_with_presets_is_valid_and_matches_the_presets(
    nhs_dir: Path, tmp_path: Path
) -> None:
    d = draft_mapping(nhs_dir, presets_dir=PRESETS)
    doc = _loads(d.yaml(), tmp_path)
    files = {p.name for p in nhs_dir.iterdir() if p.suffix == ".csv"}
    drafted = {s["file"] for t in doc["tables"].values() for s in t["sources"]}
    assert drafted == files  # one sources entry per file
    preset = yaml.safe_load((PRESETS / "gp_register.yaml").read_text())
    want = preset["tables"]["population"]["sources"][0]
    (gp,) = doc["tables"]["population"]["sources"]
    assert gp["columns"] == want["columns"]
    assert gp["date_of_birth"] == want["date_of_birth"]
    assert gp["date_format"] == want["date_format"]
    (ecds,) = [s for s in doc["tables"]["activity"]["sources"] if s["file"].startswith("ECDS")]
    assert ecds["datetimes"] == ["ARRIVAL_DATETIME"]


def test_draft_nhs_layout_without_presets_is_valid_with_codes_in_comments(
    nhs_dir: Path, tmp_path: Path
) -> None:
    d = draft_mapping(nhs_dir, presets_dir=None)
    text = d.yaml()
    doc = _loads(text, tmp_path)
    # Contract-like names are matched; the rest are comments for the user.
    assert "episode_id" in doc["tables"]["referrals"]["sources"][0]["columns"].values()
    assert '# "GENDER_CODE": ?  # code; codes:' in text
    assert '# "DATE_OF_BIRTH": ?  # date of birth, format %d/%m/%Y (values not shown)' in text
    # A file no column matched goes by its name: one sources entry per file, columns commented.
    files = {p.name for p in nhs_dir.iterdir() if p.suffix == ".csv"}
    drafted = {s["file"]: t for t, e in doc["tables"].items() for s in e["sources"]}
    assert set(drafted) == files
    assert drafted["SUS_APC_SPELLS.csv"] == "activity"
    assert '# "ADMISSION_METHOD": ?  # code; codes of 13: "21" (' in text
    by_file = {f.file: f for f in d.files}
    kinds = {c.name: c.kind for c in by_file["GP_REGISTER.csv"].columns}
    assert kinds["DATE_OF_BIRTH"] == KIND_BIRTH
    assert kinds["REGISTRATION_START_DATE"] == KIND_DATE
    assert kinds["GENDER_CODE"] == KIND_CODE


def _identifying_file(path: Path, n: int = 60) -> dict[str, list[str]]:
    nhs = _nhs_numbers(n)
    dob = [f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1930 + i}" for i in range(n)]
    postcodes = [f"GL{1 + i % 50} {i % 10}AB" for i in range(n)]
    names = [f"Person Name{i}" for i in range(n)]
    note = "Seen with her daughter Ann at home, 3 Long Road"  # one text, few distinct values
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["NHS_NO", "DOB", "POSTCODE", "FULL_NAME", "GENDER", "AGE", "SEEN_ON", "NOTE"])
        for i in range(n):
            sex = "F" if i < 45 else "M"
            seen = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
            w.writerow([nhs[i], dob[i], postcodes[i], names[i], sex, str(20 + i), seen, note])
    return {"nhs": nhs, "dob": dob, "postcode": postcodes, "name": names, "note": [note]}


def test_draft_never_shows_nhs_numbers_dates_of_birth_postcodes_or_names(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    values = _identifying_file(raw / "PATIENTS.csv")
    result = CliRunner().invoke(app, ["mapping", "draft", str(raw)])
    assert result.exit_code == 0, result.output
    out = result.output
    for kind, shown in values.items():
        leaked = [v for v in shown if v in out]
        assert not leaked, f"{kind} values in the draft: {len(leaked)}"
    assert not [v for v in values["nhs"] if f"{v[:3]} {v[3:6]} {v[6:]}" in out]
    d = draft_mapping(raw)
    kinds = {c.name: c for c in d.files[0].columns}
    assert kinds["NHS_NO"].kind == KIND_NHS
    assert kinds["DOB"].kind == KIND_BIRTH and kinds["DOB"].date_format == "%d/%m/%Y"
    assert kinds["POSTCODE"].kind == KIND_POSTCODE
    assert kinds["AGE"].kind == KIND_NUMBER
    # 45 F and 15 M: both counts at or above 10 are shown as they are.
    assert kinds["GENDER"].codes == (("F", "45"), ("M", "15"))
    assert kinds["SEEN_ON"].date_format == "%Y-%m-%d"
    assert kinds["SEEN_ON"].kind == KIND_DATE


def test_draft_small_counts_are_shown_as_under_ten_and_rows_are_limited(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = ["person_id;Sex ;imd_decile;ADMIT_METHOD;SERVICE;WHEN"]
    for i in range(1000):
        code = "21" if i % 100 else "2A"  # 2A is 1 row in 100
        service = "111" if i % 2 else "OOH"
        when = "20240105" if i % 2 else "05012024"
        rows.append(f"{i:016x};{'F' if i % 2 else 'M'};{1 + i % 10};{code};{service};{when}")
    (raw / "population.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    d = draft_mapping(raw, rows=200)
    (f,) = d.files
    assert f.rows_sampled == 200
    assert f.table == "population"
    assert f.renames == {"Sex ": "sex", "imd_decile": "imd_decile", "person_id": "person_id"}
    assert d.delimiter == ";"
    codes = {c.name: c.codes for c in f.columns}
    assert codes["ADMIT_METHOD"] == (("21", "198"), ("2A", "<10"))
    assert codes["SERVICE"] == (("111", "100"), ("OOH", "100"))  # a 3-digit code is no date
    assert codes["WHEN"] == ()  # compact dates are never shown as codes
    assert {c.name: c.hidden for c in f.columns}["WHEN"] == 2
    doc = _loads(d.yaml(), tmp_path)
    assert doc["delimiter"] == ";"
    assert '# "ADMIT_METHOD": ?  # code; codes: "21" (198), "2A" (<10)' in d.yaml()


def test_draft_parquet_file_is_read(tmp_path: Path) -> None:
    import pandas as pd

    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame(
        {
            "EVENT_ID": [f"e{i}" for i in range(30)],
            "event_date": pd.date_range("2024-01-01", periods=30),
        }
    ).to_parquet(raw / "act.parquet")
    (f,) = draft_mapping(raw).files
    assert f.table == "activity"
    assert f.renames == {"EVENT_ID": "event_id", "event_date": "event_date"}
    assert f.date_format == "%Y-%m-%d"


def test_draft_of_a_folder_without_files_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match=r"no \.csv or \.parquet file"):
        draft_mapping(tmp_path)
    result = CliRunner().invoke(app, ["mapping", "draft", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "not a directory" in result.output


def test_draft_bad_csv_names_the_line_and_cause_never_the_row(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    nhs = _nhs_numbers(1)[0]
    (raw / "p.csv").write_text(f"person_id,sex\nabc,F\nx,M,{nhs}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["mapping", "draft", str(raw)])
    assert result.exit_code == 2
    assert "p.csv: cannot be read as CSV: line 3: expected 2 columns, found 3" in result.output
    assert nhs not in result.output
    (raw / "p.csv").write_text("person_id,sex,sex\na,F,F\n", encoding="utf-8")
    with pytest.raises(IntakeError, match=r"\['sex'\] appear more than once in the header"):
        draft_mapping(raw)


def test_draft_header_only_file_is_matched_by_its_names(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "referrals.csv").write_text("person_id,episode_id,programme,referral_date\n")
    (raw / "misc.csv").write_text("FOO,BAR\n1,2\n")
    d = draft_mapping(raw)
    f, misc = sorted(d.files, key=lambda f: f.file != "referrals.csv")
    assert (f.table, f.rows_sampled, len(f.renames)) == ("referrals", 0, 4)
    assert misc.table is None  # neither its columns nor its name say: comments only
    assert "# misc.csv: neither its columns nor its name match a contract table" in d.yaml()
    assert _loads(d.yaml(), tmp_path)["tables"]["referrals"]["sources"][0]["file"] == (
        "referrals.csv"
    )
