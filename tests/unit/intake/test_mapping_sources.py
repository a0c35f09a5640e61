"""Multi-file intake mappings: a contract table unioned from several source files.

Two activity files (SUS+-like spells and ECDS-like attendances) with different column names,
date formats, a derive, constants, code-list filters and a datetime; a population file whose
date of birth gives ``year_of_birth``. Every count below is counted by hand from the rows
written here.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evalkit import contract as C
from evalkit.intake import IntakeError, MappingError, load_mapping, run_intake
from evalkit.intake.example import (
    P,
    example_tables,
)
from evalkit.intake.staleness import is_stale
from helpers.intake_example import example_kw

KW = example_kw(validate=False)  # the module fixture's run checks its output with pandera

#: The example population's dates of birth, written day/month/year (year as in example_tables).
DOB = ["12/03/1950", "01/07/1972", "30/11/1988", "05/05/1940", "17/09/2009"]

# SUS+-like spells: admission method filters (keep) and gives the setting (derive).
APC = pd.DataFrame(
    [
        (P[0], "s1", "10/03/2022", "21", "4"),  # 1 emergency: accepted
        (P[1], "s2", "02/02/2023", "22", "0"),  # 2 emergency: accepted
        (P[0], "s3", "15/04/2022", "11", "2"),  # 3 elective: accepted (negative control)
        (P[1], "s4", "01/05/2022", "31", "1"),  # 4 maternity: filtered (keep)
        (P[2], "s5", "01/06/2022", "", "1"),  # 5 no method: filtered (keep)
        (P[2], "s6", "01/07/2022", "2C", "1"),  # 6 kept, but not in derive: invalid_code
        (P[0], "s7", "2022-03-10", "21", "1"),  # 7 not day/month/year: invalid_type
    ],
    columns=["PSEUDO_ID", "SPELL_ID", "ADMISSION_DATE", "ADMISSION_METHOD", "LOS"],
)
# ECDS-like attendances: every row is an A&E attendance (constant); first attendances only.
ECDS = pd.DataFrame(
    [
        ("a1", P[1], "2021-11-20 14:05", "1"),  # 1 accepted, date 2021-11-20
        ("a2", P[1], "2021-12-01T08:00:00", "2"),  # 2 follow-up: filtered (keep)
        ("a3", P[3], "2023-01-05 10:00", "1"),  # 3 after P[3]'s death: quarantined
        ("a4", P[0], "2022-02-01 23:59", "1"),  # 4 accepted, date 2022-02-01
    ],
    columns=["ATTENDANCE_ID", "PATIENT", "ARRIVAL_DATETIME", "ATTENDANCE_CATEGORY"],
)
MAPPING = {
    "source": "test: two activity files",
    "tables": {
        "population": {
            "file": "GP_REGISTER.csv",
            "date_of_birth": {"column": "DOB", "format": "%d/%m/%Y"},
        },
        "activity": {
            "sources": [
                {
                    "file": "SUS_APC_SPELLS.csv",
                    "columns": {
                        "PSEUDO_ID": "person_id",
                        "SPELL_ID": "event_id",
                        "ADMISSION_DATE": "event_date",
                        "LOS": "bed_days",
                    },
                    "date_format": "%d/%m/%Y",
                    "keep": {"ADMISSION_METHOD": ["11", "21", "22", "2C"]},
                    "derive": {
                        "setting": {
                            "from": "ADMISSION_METHOD",
                            "codes": {
                                "11": "elective_admission",
                                "21": "emergency_admission",
                                "22": "emergency_admission",
                            },
                        }
                    },
                },
                {
                    "file": "ECDS.csv",
                    "columns": {
                        "ATTENDANCE_ID": "event_id",
                        "PATIENT": "person_id",
                        "ARRIVAL_DATETIME": "event_date",
                    },
                    "datetimes": ["ARRIVAL_DATETIME"],
                    "constants": {"setting": "ae_attendance"},
                    "keep": {"ATTENDANCE_CATEGORY": [1]},
                },
            ]
        },
    },
}


def _write(raw: Path, mapping: dict, population: pd.DataFrame | None = None) -> Path:
    """The extract and its mapping: population with DOB, two activity files, the rest as is."""
    raw.mkdir(parents=True)
    tables = example_tables()
    pop = tables["population"].drop(columns=["year_of_birth"]) if population is None else population
    if population is None:
        pop.insert(1, "DOB", DOB)
    pop.to_csv(raw / "GP_REGISTER.csv", index=False)
    APC.to_csv(raw / "SUS_APC_SPELLS.csv", index=False)
    ECDS.to_csv(raw / "ECDS.csv", index=False)
    for t in ("referrals", "measures"):
        tables[t].to_csv(raw / f"{t}.csv", index=False)
    path = raw.parent / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping))
    return path


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("multi")
    mapping = _write(base / "raw", MAPPING)
    report = run_intake(base / "raw", base / "out", mapping=mapping, **{**KW, "validate": True})
    return base, mapping, report


def test_multi_file_activity_is_the_union_of_both_files_exactly(multi) -> None:
    base, _, _ = multi
    got = pd.read_parquet(base / "out" / "activity.parquet")
    d = dt.date
    want = pd.DataFrame(
        {
            "event_id": ["s1", "s2", "s3", "a1", "a4"],
            "person_id": [P[0], P[1], P[0], P[1], P[0]],
            "event_date": [
                *(d(2022, 3, 10), d(2023, 2, 2), d(2022, 4, 15)),
                *(d(2021, 11, 20), d(2022, 2, 1)),
            ],
            "setting": [
                *("emergency_admission", "emergency_admission", "elective_admission"),
                *("ae_attendance", "ae_attendance"),
            ],
            "bed_days": pd.array([4, 0, 2, None, None], dtype="Int64"),
        }
    )
    assert list(got.columns) == list(C.COLUMNS["activity"])
    got["bed_days"] = got["bed_days"].astype("Int64")
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_multi_file_counts_reconcile_per_file_by_hand(multi) -> None:
    base, _, report = multi
    entry = json.loads((base / "out" / "intake_report.json").read_text())["tables"]["activity"]
    apc, ecds = entry["sources"]
    assert apc["file"] == "SUS_APC_SPELLS.csv" and ecds["file"] == "ECDS.csv"
    assert (apc["rows_read"], apc["rows_kept"]) == (7, 3)
    assert apc["rows_filtered"] == {"keep ADMISSION_METHOD": 2}
    assert apc["rows_quarantined"] == {"invalid_type": 1, "invalid_code": 1}
    assert (ecds["rows_read"], ecds["rows_kept"]) == (4, 2)
    assert ecds["rows_filtered"] == {"keep ATTENDANCE_CATEGORY": 1}
    assert ecds["rows_quarantined"] == {"event_outside_registration": 1}
    for s in (apc, ecds):
        filtered, quarantined = (
            sum(s["rows_filtered"].values()),
            sum(s["rows_quarantined"].values()),
        )
        assert s["rows_read"] == s["rows_kept"] + filtered + quarantined
    assert (entry["rows_read"], entry["rows_accepted"]) == (11, 5)
    assert (entry["rows_filtered"], entry["rows_quarantined"]) == (3, 3)
    assert entry["filtered_by_rule"] == {"keep ADMISSION_METHOD": 2, "keep ATTENDANCE_CATEGORY": 1}
    assert entry["source_file"] == "SUS_APC_SPELLS.csv, ECDS.csv"
    assert report.to_dict()["reconciled"] is True


def test_multi_file_quarantine_names_file_and_its_own_row(multi) -> None:
    base, _, _ = multi
    q = pd.read_parquet(base / "out" / "quarantine" / "activity.parquet")
    got = [(r.source_file, r.row_number, r.reason, r.column) for r in q.itertuples()]
    assert got == [
        ("SUS_APC_SPELLS.csv", 6, "invalid_code", "setting"),
        ("SUS_APC_SPELLS.csv", 7, "invalid_type", "event_date"),
        ("ECDS.csv", 3, "event_outside_registration", "event_date"),
    ]
    # The source's own text: the unlisted code, the date as the file wrote it.
    assert list(q["setting"]) == ["2C", "21", "ae_attendance"]
    assert list(q["event_date"]) == ["01/07/2022", "2022-03-10", "2023-01-05 10:00"]
    msg = q["message"].tolist()
    assert msg[0].startswith("SUS_APC_SPELLS.csv row 6, column setting = '2C'")
    assert "ADMISSION_METHOD code not listed in the mapping's derive of setting" in msg[0]
    assert msg[2].startswith("ECDS.csv row 3, column event_date = '2023-01-05 10:00'")


def test_filtered_rows_are_written_nowhere(multi) -> None:
    base, _, _ = multi
    ids = set(pd.read_parquet(base / "out" / "activity.parquet")["event_id"])
    ids |= set(pd.read_parquet(base / "out" / "quarantine" / "activity.parquet")["event_id"])
    assert not {"s4", "s5", "a2"} & ids
    assert '"s4' not in (base / "out" / "intake_report.json").read_text()


def test_date_of_birth_gives_year_and_never_survives(multi) -> None:
    base, _, _ = multi
    pop = pd.read_parquet(base / "out" / "population.parquet")
    assert list(pop["year_of_birth"]) == [1950, 1972, 1988, 1940, 2009]
    assert "DOB" not in pop.columns
    _assert_no_dob(base / "out", DOB)


def _assert_no_dob(out: Path, dobs: list[str]) -> None:
    """No date of birth, in any spelling, in any processed, quarantine or report file."""
    spellings = set(dobs)
    for d in dobs:
        day, month, year = d.split("/")
        spellings.add(f"{year}-{month}-{day}")
    for f in [*out.glob("*.parquet"), *out.glob("quarantine/*.parquet")]:
        text = pd.read_parquet(f).astype(str).to_csv()
        assert not [s for s in spellings if s in text], f
    for f in (out / "population.parquet", out / "quarantine" / "population.parquet"):
        text = pd.read_parquet(f).astype(str).to_csv()  # not even the day and month
        assert not [d for d in dobs if d[:5] in text], f
    for f in out.glob("*.json"):
        assert not [s for s in spellings if s in f.read_text()], f


def test_date_of_birth_not_a_date_quarantined_without_showing_it(tmp_path: Path) -> None:
    pop = example_tables()["population"].drop(columns=["year_of_birth"])
    bad = ["12/03/1950", "1972-07-01", "31/02/1988", "05/05/1940", "17/09/2009"]
    pop.insert(1, "DOB", bad)
    mapping = _write(tmp_path / "raw", MAPPING, population=pop)
    run_intake(tmp_path / "raw", tmp_path / "out", mapping=mapping, **KW)
    q = pd.read_parquet(tmp_path / "out" / "quarantine" / "population.parquet")
    assert [(r.row_number, r.reason, r.column) for r in q.itertuples()] == [
        (2, "invalid_type", "year_of_birth"),
        (3, "invalid_type", "year_of_birth"),
    ]
    assert q["year_of_birth"].str.startswith("<date of birth not a date").all()
    _assert_no_dob(tmp_path / "out", ["01/07/1972", "31/02/1988", *bad[::4]])


def test_multi_file_staleness_hashes_every_file(multi, tmp_path: Path) -> None:
    base, mapping, _ = multi
    assert not is_stale(base / "raw", base / "out", mapping=mapping)
    record = json.loads((base / "out" / "source.json").read_text())
    names = [(f["table"], f["name"]) for f in record["raw_files"]]
    assert ("activity", "SUS_APC_SPELLS.csv") in names and ("activity", "ECDS.csv") in names
    # The second file changed (same size): stale.
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in (base / "raw").iterdir():
        (raw / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    for f in [*(base / "out").glob("*.*"), *(base / "out").glob("quarantine/*")]:
        dest = out / f.relative_to(base / "out")
        dest.parent.mkdir(exist_ok=True)
        dest.write_bytes(f.read_bytes())
    assert not is_stale(raw, out, mapping=mapping)
    text = (raw / "ECDS.csv").read_text()
    (raw / "ECDS.csv").write_text(text.replace("23:59", "23:58"))
    assert is_stale(raw, out, mapping=mapping)


def test_single_file_form_is_one_source(tmp_path: Path) -> None:
    """The table-level form and a one-entry sources list read the same file the same way."""
    m = load_mapping(_write(tmp_path / "raw", MAPPING))
    (one,) = m.table("population").files()
    assert one.file == "GP_REGISTER.csv" and one.date_of_birth is not None
    assert [s.file for s in m.table("activity").files()] == ["SUS_APC_SPELLS.csv", "ECDS.csv"]
    assert m.table("measures").files()[0].file is None  # default file name


def test_keep_column_missing_from_header_names_file_and_hint(tmp_path: Path) -> None:
    mapping = _write(tmp_path / "raw", MAPPING)
    ECDS.rename(columns={"ATTENDANCE_CATEGORY": "Attendance_Category"}).to_csv(
        tmp_path / "raw" / "ECDS.csv", index=False
    )
    with pytest.raises(IntakeError, match=r"ECDS\.csv: column\(s\) \['ATTENDANCE_CATEGORY'\]") as e:
        run_intake(tmp_path / "raw", tmp_path / "out", mapping=mapping, **KW)
    assert "did you mean 'Attendance_Category'" in str(e.value)


def _sources(*files: dict) -> dict:
    return {"tables": {"activity": {"sources": list(files)}}}


_APC = {"file": "a.csv"}


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (
            {"tables": {"activity": {"file": "a.csv", "sources": [_APC]}}},
            "['file'] given at table level beside sources",
        ),
        (_sources({**_APC, "constants": {"nope": "x"}}), "constants: ['nope'] are not columns"),
        (
            _sources({**_APC, "derive": {"nope": {"from": "A", "codes": {"1": "x"}}}}),
            "derive: ['nope'] are not columns",
        ),
        (
            {"tables": {"referrals": {"derive": {"provider": {"from": "A", "codes": {"1": "x"}}}}}},
            "no code list",
        ),
        (_sources({**_APC, "date_of_birth": {"column": "DOB"}}), "activity has no year_of_birth"),
        (_sources({**_APC, "datetimes": ["SETTING"]}), "which is not a date column"),
        (_sources({"columns": {"X": "event_id"}}), "needs file"),
        (_sources({**_APC, "keep": {"A": []}}), "at least one code"),
        (_sources(_APC, _APC), "listed more than once"),
        (_sources({**_APC, "keeps": {"A": ["1"]}}), "Extra inputs are not permitted"),
        (
            _sources(
                {**_APC, "constants": {"setting": "ae_attendance"}, "columns": {"S": "setting"}}
            ),
            "also given by constants",
        ),
        (_sources({**_APC, "date_format": "%d/%m"}), "%Y exactly once"),
    ],
)
def test_load_mapping_multi_file_errors_name_the_field(
    tmp_path: Path, raw: dict, needle: str
) -> None:
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(MappingError) as err:
        load_mapping(p)
    assert str(p) in str(err.value) and needle in str(err.value)


def test_parquet_and_csv_files_give_the_same_union(multi, tmp_path: Path) -> None:
    """ECDS as Parquet (a real timestamp, typed ids) beside the spells' CSV: the same tables."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base, _, _ = multi
    mapping = yaml.safe_load(yaml.safe_dump(MAPPING))
    mapping["tables"]["activity"]["sources"][1]["file"] = "ECDS.parquet"
    path = _write(tmp_path / "raw", mapping)
    (tmp_path / "raw" / "ECDS.csv").unlink()
    when = pd.to_datetime(ECDS["ARRIVAL_DATETIME"].str.replace("T", " "), format="mixed")
    pq.write_table(
        pa.table(
            {
                "ATTENDANCE_ID": ECDS["ATTENDANCE_ID"],
                "PATIENT": ECDS["PATIENT"],
                "ARRIVAL_DATETIME": pa.array(when, type=pa.timestamp("s")),
                "ATTENDANCE_CATEGORY": pa.array(ECDS["ATTENDANCE_CATEGORY"].astype(int)),
            }
        ),
        tmp_path / "raw" / "ECDS.parquet",
    )
    run_intake(tmp_path / "raw", tmp_path / "out", mapping=path, **KW)
    for t in C.TABLES:
        a = pd.read_parquet(base / "out" / f"{t}.parquet")
        b = pd.read_parquet(tmp_path / "out" / f"{t}.parquet")
        pd.testing.assert_frame_equal(a, b, obj=t)
    q = pd.read_parquet(tmp_path / "out" / "quarantine" / "activity.parquet")
    assert list(q["source_file"]) == ["SUS_APC_SPELLS.csv"] * 2 + ["ECDS.parquet"]
    assert list(q["row_number"]) == [6, 7, 3]


def test_csv_ignored_column_before_contract_columns_keeps_each_column_its_own(
    tmp_path: Path,
) -> None:
    """Bug: a column outside the contract before contract columns shifted their values."""
    raw = tmp_path / "raw"
    raw.mkdir()
    tables = example_tables()
    tables["population"].insert(1, "GP_NOTES", "x")
    for t, df in tables.items():
        df.to_csv(raw / f"{t}.csv", index=False)
    report = run_intake(raw, tmp_path / "out", **KW)
    assert report.rows_quarantined == 0
    pop = pd.read_parquet(tmp_path / "out" / "population.parquet")
    assert list(pop["year_of_birth"]) == [1950, 1972, 1988, 1940, 2009]


def test_rows_filtered_after_the_checks_reconcile_per_file(tmp_path: Path, monkeypatch) -> None:
    """The seam for table-level rules (the referrals' episode rule): a rule filtering ECDS row 4
    (union row 7 + 4) is counted in ECDS's rows_filtered and left out of the accepted rows."""
    import ibis

    from evalkit.intake import process

    others = process.late_rules  # the real rules (the referrals' episode rule) stay

    def rule(con, table, named, present, ctx, rejected, out_tmp):
        if table != "activity":
            return others(con, table, named, present, ctx, rejected, out_tmp)
        late = named.filter(named.row_number == 11).select("row_number", rule=ibis.literal("r"))
        return rejected, late

    monkeypatch.setattr(process, "late_rules", rule)
    mapping = _write(tmp_path / "raw", MAPPING)
    report = run_intake(tmp_path / "raw", tmp_path / "out", mapping=mapping, **KW)
    t = report.tables["activity"]
    assert t.sources[1].rows_filtered == {"keep ATTENDANCE_CATEGORY": 1, "r": 1}
    assert (t.sources[1].rows_kept, t.rows_accepted, t.rows_filtered) == (1, 4, 4)
    assert report.to_dict()["reconciled"] is True
    ids = pd.read_parquet(tmp_path / "out" / "activity.parquet")["event_id"]
    assert list(ids) == ["s1", "s2", "s3", "a1"]


def test_datetimes_with_a_timed_date_format_read_the_same(multi, tmp_path: Path) -> None:
    """``datetimes`` with ``date_format: '%Y-%m-%d %H:%M'`` (time in the format) or without."""
    base, _, _ = multi
    mapping = yaml.safe_load(yaml.safe_dump(MAPPING))
    mapping["tables"]["activity"]["sources"][1]["date_format"] = "%Y-%m-%d %H:%M"
    path = _write(tmp_path / "raw", mapping)
    ecds = ECDS.copy()
    ecds["ARRIVAL_DATETIME"] = ecds["ARRIVAL_DATETIME"].str[:16].str.replace("T", " ")
    ecds.to_csv(tmp_path / "raw" / "ECDS.csv", index=False)
    run_intake(tmp_path / "raw", tmp_path / "out", mapping=path, **KW)
    a = pd.read_parquet(base / "out" / "activity.parquet")
    pd.testing.assert_frame_equal(a, pd.read_parquet(tmp_path / "out" / "activity.parquet"))


def test_date_of_birth_parquet_date_column_gives_year(multi, tmp_path: Path) -> None:
    """A date of birth held as a Parquet date gives the same year_of_birth as the CSV text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base, _, _ = multi
    mapping = yaml.safe_load(yaml.safe_dump(MAPPING))
    mapping["tables"]["population"]["file"] = "GP_REGISTER.parquet"
    path = _write(tmp_path / "raw", mapping)
    pop = pd.read_csv(tmp_path / "raw" / "GP_REGISTER.csv", dtype=str, keep_default_na=False)
    (tmp_path / "raw" / "GP_REGISTER.csv").unlink()
    dob = pd.to_datetime(pop.pop("DOB"), format="%d/%m/%Y").dt.date
    table = pa.Table.from_pandas(pop, preserve_index=False).append_column("DOB", pa.array(dob))
    pq.write_table(table, tmp_path / "raw" / "GP_REGISTER.parquet")
    run_intake(tmp_path / "raw", tmp_path / "out", mapping=path, **KW)
    a = pd.read_parquet(base / "out" / "population.parquet")
    pd.testing.assert_frame_equal(a, pd.read_parquet(tmp_path / "out" / "population.parquet"))
    _assert_no_dob(tmp_path / "out", DOB)
