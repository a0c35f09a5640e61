"""The NHS-shaped county: a pure transformation of the contract tables, mapped back exactly.

These tests do not need intake: a small reading of the preset mapping shape in pandas
(:func:`_apply_mapping`, written from ``intake_mappings/README.md``'s description of ``keep``,
``derive``, ``constants``, ``datetimes`` and ``date_of_birth``, independently of the writer)
takes the NHS files back to the contract tables. Intake of the same files is
``tests/unit/intake/test_nhs_layout.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evalkit import config
from evalkit.contract import COLUMNS, PRIMARY_KEY, TABLES
from evalkit.presets import PresetError, compose_mapping, mapping_yaml, provider_code
from evalkit.synth import generate_county
from evalkit.synth.nhs_layout import (
    MANIFEST_FILE,
    MAPPING_FILE,
    NHS_PRESETS,
    read_contract,
    write_nhs_layout,
)
from evalkit.synth.streams import STREAMS, spawn_streams

ROOT = Path(__file__).resolve().parents[3]
PRESETS = ROOT / "intake_mappings" / "presets"
SEED = 7
POPULATION = 4_000  # the smallest county the generator tests use (test_generate.py)


def _generate(out: Path, **kw: object) -> Path:
    generate_county(
        out,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=POPULATION,
        seed=SEED,
        fmt="parquet",
        progress=False,
        **kw,
    )
    return out


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small contract-layout county (Parquet)."""
    return _generate(tmp_path_factory.mktemp("nhs_contract") / "raw")


@pytest.fixture(scope="module")
def nhs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same county written by ``generate_county(layout="nhs")``."""
    return _generate(tmp_path_factory.mktemp("nhs_layout") / "raw", layout="nhs")


# ---- an independent reading of the mapping shape (pandas) ----------------------------------
def _dates(s: pd.Series, fmt: str) -> pd.Series:
    parsed = pd.to_datetime(s.where(s != ""), format=fmt)
    return parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), None)


def _apply_source(folder: Path, table: str, src: dict) -> tuple[pd.DataFrame, dict[str, int]]:
    """One source file as contract rows, and the rows filtered per rule."""
    df = pd.read_csv(folder / src["file"], dtype=str, keep_default_na=False)
    filtered: dict[str, int] = {}
    keep = pd.Series(True, index=df.index)
    for col, codes in src.get("keep", {}).items():
        ok = df[col].isin([str(c) for c in codes])
        filtered[f"keep {col}"] = int((keep & ~ok).sum())
        keep &= ok
    df = df[keep]
    out = pd.DataFrame(index=df.index)
    present = {s: t for s, t in src.get("columns", {}).items() if s in df}  # optional: absent
    for source, target in present.items():
        out[target] = df[source]
    for target, rule in src.get("derive", {}).items():
        codes = {str(k): v for k, v in rule["codes"].items()}
        assert df[rule["from"]].isin(list(codes)).all(), "every kept code derives"
        out[target] = df[rule["from"]].map(codes)
    for source in src.get("datetimes", []):  # the date is kept, the time after it dropped
        target = src["columns"][source]
        out[target] = out[target].str.replace(r"[T ]+\d{1,2}:\d{2}(:\d{2})?$", "", regex=True)
    for target, value in src.get("constants", {}).items():
        out[target] = value
    for target, mapping in src.get("recode", {}).items():
        out[target] = out[target].map(lambda v, m=mapping: m.get(v, v))
    if "date_of_birth" in src:
        dob = pd.to_datetime(
            df[src["date_of_birth"]["column"]], format=src["date_of_birth"]["format"]
        )
        out["year_of_birth"] = dob.dt.year.astype(str)
    for c, kind in COLUMNS[table].items():
        if kind == "date" and c in out:
            out[c] = _dates(out[c], src.get("date_format", "%Y-%m-%d"))
    return out.replace({"": None}), filtered


def _apply_mapping(folder: Path) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, int]]]:
    mapping = yaml.safe_load((folder / MAPPING_FILE).read_text(encoding="utf-8"))
    tables, filtered = {}, {}
    for table, entry in mapping["tables"].items():
        parts = []
        for src in entry["sources"]:
            part, counts = _apply_source(folder, table, src)
            parts.append(part)
            if any(counts.values()):
                filtered[src["file"]] = counts
        tables[table] = pd.concat(parts, ignore_index=True)
    return tables, filtered


def _sorted(df: pd.DataFrame, table: str) -> pd.DataFrame:
    cols = [c for c in COLUMNS[table] if c in df.columns]
    df = df[cols].astype(object).where(df[cols].notna(), None)
    return df.sort_values(list(PRIMARY_KEY[table])).reset_index(drop=True)


@pytest.fixture(scope="module")
def mapped(nhs: Path) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, int]]]:
    """The NHS files read through their nhs_mapping.yaml: tables, and rows filtered per rule."""
    return _apply_mapping(nhs)


# ---- tests ----------------------------------------------------------------------------------
def test_nhs_layout_mapped_back_equals_contract_tables(contract: Path, mapped: tuple) -> None:
    """The NHS files, read through nhs_mapping.yaml, are the contract tables exactly."""
    tables, _ = mapped
    original = {t: tb.to_pandas() for t, tb in read_contract(contract).items()}
    for t in TABLES:
        pd.testing.assert_frame_equal(_sorted(tables[t], t), _sorted(original[t], t))


def test_nhs_layout_filtered_rows_are_the_noise_rows_written(nhs: Path, mapped: tuple) -> None:
    """Every noise row is filtered by its file's named rule, and nothing else is."""
    _, filtered = mapped
    manifest = json.loads((nhs / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert filtered == manifest["noise"]
    assert set(manifest["noise"]) == {
        "SUS_APC_SPELLS.csv",
        "ECDS_ATTENDANCES.csv",
        "SUS_OP_APPOINTMENTS.csv",
        "GP_APPOINTMENTS.csv",
    }
    assert all(n > 0 for counts in manifest["noise"].values() for n in counts.values())


def test_generate_nhs_layout_is_the_transformation_of_the_contract_county(
    contract: Path, nhs: Path, tmp_path: Path
) -> None:
    """generate_county(layout="nhs") writes the same bytes as transforming the contract county."""
    direct = write_nhs_layout(contract, tmp_path, seed=SEED, presets_dir=PRESETS)
    for f in direct.rows:
        assert (tmp_path / f).read_bytes() == (nhs / f).read_bytes(), f
    assert not any(p.name.startswith(".contract-") for p in nhs.iterdir())
    assert not any((nhs / f"{t}.parquet").exists() or (nhs / f"{t}.csv").exists() for t in TABLES)


def test_nhs_stream_appended_leaves_the_contract_streams_unchanged() -> None:
    """nhs_layout came after the 13 streams before it, so each of theirs keeps its seed."""
    earlier = (
        "geography", "population", "ids", "need", "episodes", "counts", "referrals", "attendance",
        "participants", "events", "questionnaires", "faults", "rereferrals",
    )  # fmt: skip
    assert STREAMS[: len(earlier)] == earlier and STREAMS[len(earlier)] == "nhs_layout"
    before = np.random.SeedSequence(SEED).spawn(len(earlier))
    now = spawn_streams(SEED)
    for name, ss in zip(earlier, before, strict=True):
        assert now[name].spawn_key == ss.spawn_key and now[name].entropy == ss.entropy


def test_gp_register_date_of_birth_within_year_and_never_after_registration(
    contract: Path, nhs: Path
) -> None:
    pop = read_contract(contract)["population"].to_pandas()
    reg = pd.read_csv(nhs / "GP_REGISTER.csv", dtype=str, keep_default_na=False)
    merged = pop.merge(reg, left_on="person_id", right_on="PSEUDO_NHS_NUMBER", validate="1:1")
    dob = pd.to_datetime(merged["DATE_OF_BIRTH"], format="%d/%m/%Y")
    assert (dob.dt.year.astype(str) == merged["year_of_birth"]).all()
    assert (dob <= pd.to_datetime(merged["registered_from"])).all()
    assert dob.dt.day_of_year.nunique() > 300  # spread over the year, not one placeholder day
    expected = {"M": {"1"}, "F": {"2"}, "X": {"9", "0"}}
    for sex, codes in expected.items():
        assert set(merged.loc[merged["sex"] == sex, "GENDER_CODE"]) <= codes


def test_noise_codes_are_never_kept_codes(nhs: Path) -> None:
    """Maternity, cancelled, DNA and planned follow-up rows carry codes the presets filter."""
    files = {
        "SUS_APC_SPELLS.csv": ("ADMISSION_METHOD", {"31", "32"}),
        "SUS_OP_APPOINTMENTS.csv": ("ATTENDED", {"2", "3", "4", "7"}),
        "GP_APPOINTMENTS.csv": ("APPT_STATUS", {"DNA"}),
        "ECDS_ATTENDANCES.csv": ("EC_ATTENDANCE_CATEGORY", {"4"}),
    }
    for f, (col, noise) in files.items():
        df = pd.read_csv(nhs / f, dtype=str, keep_default_na=False)
        is_noise = df.iloc[:, 0].str.startswith("N")
        assert set(df.loc[is_noise, col]) <= noise, f
        assert not set(df.loc[~is_noise, col]) & noise, f


def test_apc_spells_hold_elective_spells_as_the_negative_control(contract: Path, nhs: Path) -> None:
    act = read_contract(contract)["activity"].to_pandas()
    n_elective = int((act["setting"] == "elective_admission").sum())
    apc = pd.read_csv(nhs / "SUS_APC_SPELLS.csv", dtype=str, keep_default_na=False)
    assert n_elective > 0
    assert int(apc["ADMISSION_METHOD"].isin(["11", "12", "13"]).sum()) == n_elective


def test_nhs_layout_same_seed_same_bytes_other_seed_other_noise(
    contract: Path, tmp_path: Path
) -> None:
    a = write_nhs_layout(contract, tmp_path / "a", seed=SEED, presets_dir=PRESETS)
    write_nhs_layout(contract, tmp_path / "b", seed=SEED, presets_dir=PRESETS)
    c = write_nhs_layout(contract, tmp_path / "c", seed=SEED + 1, presets_dir=PRESETS)

    def digest(folder: Path, f: str) -> str:
        return hashlib.sha256((folder / f).read_bytes()).hexdigest()

    assert all(digest(tmp_path / "a", f) == digest(tmp_path / "b", f) for f in a.rows)
    assert digest(tmp_path / "a", "SUS_OP_APPOINTMENTS.csv") != digest(
        tmp_path / "c", "SUS_OP_APPOINTMENTS.csv"
    )
    assert a.rows["GP_REGISTER.csv"] == c.rows["GP_REGISTER.csv"]


def test_person_values_seam_replaces_every_token(contract: Path, tmp_path: Path) -> None:
    """``person_values`` (the seam for --nhs-numbers) writes its value for every token."""
    pop = read_contract(contract)["population"]
    tokens = pop["person_id"].to_pylist()
    values = {t: f"P{i:09d}" for i, t in enumerate(tokens)}
    write_nhs_layout(contract, tmp_path, seed=SEED, presets_dir=PRESETS, person_values=values)
    for f, col in (
        ("GP_REGISTER.csv", "PSEUDO_NHS_NUMBER"),
        ("GP_APPOINTMENTS.csv", "PSEUDO_NHS_NUMBER"),
    ):
        df = pd.read_csv(tmp_path / f, dtype=str)
        assert df[col].str.fullmatch(r"P\d{9}").all()
    mds = next(tmp_path.glob("CHMDS_REFERRALS_*.csv"))
    assert pd.read_csv(mds, dtype=str)["NHS_NUMBER"].str.fullmatch(r"P\d{9}").all()


def test_write_nhs_layout_refuses_files_it_did_not_write(contract: Path, tmp_path: Path) -> None:
    (tmp_path / "GP_REGISTER.csv").write_text("someone's real extract\n")
    with pytest.raises(FileExistsError, match=r"GP_REGISTER\.csv"):
        write_nhs_layout(contract, tmp_path, seed=SEED, presets_dir=PRESETS)
    assert (tmp_path / "GP_REGISTER.csv").read_text() == "someone's real extract\n"


def test_contract_layout_over_nhs_layout_removes_the_nhs_files(tmp_path: Path) -> None:
    out = _generate(tmp_path / "raw", layout="nhs")
    _generate(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{t}.parquet" for t in TABLES] + ["synthetic_truth.json"]
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layout": "sus"}, "layout must be one of"),
        ({"layout": "nhs", "faults": 0.01}, "contract layout only"),
        ({"layout": "nhs", "with_prescriptions": True}, "no prescriptions extract"),
        ({"nhs_numbers": True}, "NHS layout only"),
    ],
)
def test_generate_layout_bad_options_refused(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _generate(tmp_path / "x", **options)


# ---- presets and their composition ----------------------------------------------------------
def test_every_nhs_preset_has_its_documentation_page() -> None:
    for name in NHS_PRESETS:
        preset = yaml.safe_load((PRESETS / f"{name}.yaml").read_text(encoding="utf-8"))
        assert preset["preset"] == name
        assert (ROOT / preset["documentation"]).is_file(), preset["documentation"]


def test_compose_mapping_per_provider_preset_gives_one_source_per_provider() -> None:
    m = compose_mapping(
        {"presets": ["creative_health_mds"], "providers": {"A": "Arts A", "B": "Arts B"}}, PRESETS
    )
    files = [s["file"] for s in m["tables"]["referrals"]["sources"]]
    assert files == ["CHMDS_REFERRALS_A.csv", "CHMDS_REFERRALS_B.csv"]
    assert [s["constants"]["provider"] for s in m["tables"]["referrals"]["sources"]] == [
        "Arts A",
        "Arts B",
    ]
    assert len(m["tables"]["measures"]["sources"]) == 2


def test_compose_mapping_concatenates_sources_in_preset_order_and_renames_files() -> None:
    m = compose_mapping(
        {
            "source": "test",
            "extract_end": "2024-03-31",
            "presets": ["sus_apc_spells", "ecds"],
            "files": {"ECDS_ATTENDANCES.csv": "ecds_2024.csv"},
        },
        PRESETS,
    )
    assert [s["file"] for s in m["tables"]["activity"]["sources"]] == [
        "SUS_APC_SPELLS.csv",
        "ecds_2024.csv",
    ]
    assert m["source"] == "test" and m["extract_end"] == "2024-03-31"
    assert yaml.safe_load(mapping_yaml(m, header="x")) == m


@pytest.mark.parametrize(
    ("composition", "message"),
    [
        ({"presets": ["sus_apc"]}, "preset 'sus_apc'.*known presets"),
        ({"presets": []}, "non-empty list"),
        ({"presets": ["ecds", "ecds"]}, "more than once"),
        ({"presets": ["creative_health_mds"]}, "list 'providers'"),
        ({"presets": ["ecds"], "files": {"ECDS.csv": "x.csv"}}, r"\['ECDS.csv'\] are not files"),
    ],
)
def test_compose_mapping_bad_composition_named(composition: dict, message: str) -> None:
    with pytest.raises(PresetError, match=message):
        compose_mapping(composition, PRESETS)


def test_nhs_example_mapping_is_the_presets_composed_for_the_demo_providers() -> None:
    """intake_mappings/nhs_example.yaml never drifts from the presets it is built from."""
    providers = sorted({p for prog in config.load_programmes().values() for p in prog.providers})
    expected = compose_mapping(
        {
            "source": "Example ICB extract in NHS shapes (the presets composed)",
            "presets": list(NHS_PRESETS),
            "providers": {provider_code(p): p for p in providers},
        },
        PRESETS,
    )
    example = yaml.safe_load((ROOT / "intake_mappings" / "nhs_example.yaml").read_text("utf-8"))
    assert example == expected


# ---- the command line -----------------------------------------------------------------------
def test_cli_synth_layout_nhs_writes_extracts_and_mapping_to_data_demo_nhs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default the NHS layout goes to data/demo/nhs, leaving the demo county in data/demo."""
    from typer.testing import CliRunner

    from evalkit.cli import app

    monkeypatch.setenv("EVALKIT_ROOT", str(ROOT))
    monkeypatch.chdir(tmp_path)
    args = ["synth", "--population", "2000", "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--layout", "nhs"])
    assert result.exit_code == 0, result.output
    assert "for the mapping to filter" in result.output
    out = tmp_path / "data" / "demo" / "nhs"
    assert (out / MAPPING_FILE).is_file() and (out / "GP_REGISTER.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "data" / "demo").iterdir()) == ["nhs"]
    bad = CliRunner().invoke(app, [*args, "--layout", "sus"])
    assert bad.exit_code == 2
    assert "layout must be one of ['contract', 'nhs']" in bad.output
    assert "Traceback" not in bad.output
