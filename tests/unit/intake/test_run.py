"""Intake: every quarantine reason on a hand-built extract, reconciliation, formats, errors.

One intake run over a small extract carrying one case per row (the case table below: expected
reason, invalid value, and edge values that must be accepted) keeps the suite fast.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import ibis
import pandas as pd
import pandera.errors
import pytest

from evalkit import contract as C
from evalkit.intake import IntakeError, is_stale, run_intake
from evalkit.intake.checks import instrument_rules
from evalkit.intake.example import (
    EXAMPLE_EXTRACT_END,
    EXAMPLE_INSTRUMENTS,
    P,
    example_tables,
    write_tables,
)
from evalkit.intake.schemas import accepted_schema
from helpers.intake_example import example_kw

KW = example_kw()

Q_SEX = "00000000000000b1"  # population row quarantined for an invalid code
DUP = "00000000000000b2"


def _pid(i: int) -> str:
    return f"{0xC00 + i:016x}"


def _pop(pid: str, **edits: str) -> dict[str, str]:
    row = dict(example_tables()["population"].iloc[0])
    row.update(person_id=pid, **edits)
    return row


# (table, row values, expected reason or None for accepted, expected column)
def _cases() -> list[tuple[str, dict[str, str], str | None, str | None]]:
    act = {
        "event_id": "",
        "person_id": P[0],
        "event_date": "2022-05-05",
        "setting": "gp_appointment",
        "bed_days": "",
    }
    ref = {
        "episode_id": "",
        "person_id": P[0],
        "programme": "mindsong",
        "provider": "Art Shape",
        "referral_date": "2022-09-01",
        "referral_source": "gp",
        "start_date": "2022-09-10",
        "end_date": "2022-11-30",
        "sessions_offered": "12",
        "sessions_attended": "12",
        "discharge_reason": "completed",
    }
    mea = {
        "episode_id": "r01",
        "instrument": "swemwbs",
        "timepoint": "followup_3m",
        "assessed_on": "2022-10-01",
        "item": "",
        "response": "3",
    }
    cases: list[tuple[str, dict[str, str], str | None, str | None]] = [
        # population: invalid
        ("population", _pop(_pid(1), sex=""), C.MISSING_REQUIRED, "sex"),
        ("population", _pop("ABC123"), C.MALFORMED_PERSON_ID, "person_id"),
        ("population", _pop(_pid(2), year_of_birth="19x0"), C.INVALID_TYPE, "year_of_birth"),
        (
            "population",
            _pop(_pid(3), registered_from="12/03/2015"),
            C.INVALID_TYPE,
            "registered_from",
        ),
        (
            "population",
            _pop(_pid(4), registered_from="2021-02-30"),
            C.IMPOSSIBLE_DATE,
            "registered_from",
        ),
        (
            "population",
            _pop(_pid(5), registered_from="1900-01-01"),
            C.IMPOSSIBLE_DATE,
            "registered_from",
        ),
        (
            "population",
            _pop(_pid(6), date_of_death="2024-04-01"),
            C.IMPOSSIBLE_DATE,
            "date_of_death",
        ),
        ("population", _pop(_pid(7), copd="2019-13-01"), C.IMPOSSIBLE_DATE, "copd"),
        ("population", _pop(Q_SEX, sex="U"), C.INVALID_CODE, "sex"),
        ("population", _pop(_pid(8), ethnicity="Q"), C.INVALID_CODE, "ethnicity"),
        ("population", _pop(_pid(9), imd_decile="11"), C.OUT_OF_RANGE, "imd_decile"),
        ("population", _pop(_pid(10), imd_decile="0"), C.OUT_OF_RANGE, "imd_decile"),
        ("population", _pop(_pid(11), year_of_birth="1899"), C.OUT_OF_RANGE, "year_of_birth"),
        (
            "population",
            _pop(_pid(12), registered_to="2014-12-31"),
            C.DATES_OUT_OF_ORDER,
            "registered_to",
        ),
        (
            "population",
            _pop(_pid(13), date_of_death="2014-12-31"),
            C.DATES_OUT_OF_ORDER,
            "date_of_death",
        ),
        ("population", _pop(P[1]), C.DUPLICATE_PERSON_ID, "person_id"),
        # precedence: missing_required comes before malformed_person_id and invalid_code
        ("population", _pop("ABC", sex="", ethnicity="Q"), C.MISSING_REQUIRED, "sex"),
        # precedence within a reason: the first column in contract order is named
        (
            "population",
            _pop(_pid(14), year_of_birth="x", imd_decile="y"),
            C.INVALID_TYPE,
            "year_of_birth",
        ),
        # population: edges that are accepted
        (
            "population",
            _pop(_pid(20), year_of_birth="1900", registered_from="1900-01-02"),
            None,
            None,
        ),
        ("population", _pop(_pid(21), date_of_death="2024-03-31"), None, None),
        (
            "population",
            _pop(_pid(22), registered_to="2015-01-01", date_of_death="2015-01-01"),
            None,
            None,
        ),
        ("population", _pop(_pid(23), imd_decile="10", ethnicity="99", sex="X"), None, None),
        ("population", _pop(_pid(24), imd_decile=" 3.0 ", pcn=" P01 "), None, None),
        ("population", _pop(DUP), None, None),
        ("population", _pop(DUP, sex="F"), C.DUPLICATE_PERSON_ID, "person_id"),
        # activity
        (
            "activity",
            {**act, "event_id": "a01", "event_date": ""},
            C.MISSING_REQUIRED,
            "event_date",
        ),
        ("activity", {**act, "event_id": "a02", "setting": "dentist"}, C.INVALID_CODE, "setting"),
        ("activity", {**act, "event_id": "a03", "bed_days": "-1"}, C.OUT_OF_RANGE, "bed_days"),
        ("activity", {**act, "event_id": "a04", "bed_days": "two"}, C.INVALID_TYPE, "bed_days"),
        (
            "activity",
            {**act, "event_id": "a05", "person_id": "not-an-id"},
            C.MALFORMED_PERSON_ID,
            "person_id",
        ),
        ("activity", {**act, "event_id": "e001"}, C.DUPLICATE_EVENT_ID, "event_id"),
        (
            "activity",
            {**act, "event_id": "a06", "person_id": _pid(99)},
            C.UNKNOWN_PERSON,
            "person_id",
        ),
        (
            "activity",
            {**act, "event_id": "a07", "person_id": Q_SEX},
            C.PARENT_QUARANTINED,
            "person_id",
        ),
        (
            "activity",
            {**act, "event_id": "a08", "event_date": "2014-12-31"},
            C.EVENT_OUTSIDE_REGISTRATION,
            "event_date",
        ),
        (
            "activity",
            {**act, "event_id": "a09", "person_id": P[2], "event_date": "2023-02-01"},
            C.EVENT_OUTSIDE_REGISTRATION,
            "event_date",
        ),
        (
            "activity",
            {**act, "event_id": "a10", "person_id": P[3], "event_date": "2022-12-02"},
            C.EVENT_OUTSIDE_REGISTRATION,
            "event_date",
        ),
        (
            "activity",
            {**act, "event_id": "a11", "event_date": "2015-01-01", "setting": "prescription_item"},
            None,
            None,
        ),
        (
            "activity",
            {**act, "event_id": "a12", "person_id": P[2], "event_date": "2023-01-31"},
            None,
            None,
        ),
        ("activity", {**act, "event_id": "a13", "person_id": DUP}, None, None),
        # parent first: the person's population row (malformed id ABC123) was quarantined, so
        # this row is parent_quarantined although its own id is malformed and its setting empty
        (
            "activity",
            {**act, "event_id": "a14", "person_id": "ABC123", "setting": ""},
            C.PARENT_QUARANTINED,
            "person_id",
        ),
        # referrals
        (
            "referrals",
            {**ref, "episode_id": "q01", "programme": "dance"},
            C.UNKNOWN_PROGRAMME,
            "programme",
        ),
        (
            "referrals",
            {**ref, "episode_id": "q02", "referral_source": "pharmacist"},
            C.INVALID_CODE,
            "referral_source",
        ),
        (
            "referrals",
            {**ref, "episode_id": "q03", "discharge_reason": "lost"},
            C.INVALID_CODE,
            "discharge_reason",
        ),
        (
            "referrals",
            {**ref, "episode_id": "q04", "sessions_offered": "-2", "sessions_attended": "0"},
            C.OUT_OF_RANGE,
            "sessions_offered",
        ),
        (
            "referrals",
            {**ref, "episode_id": "q05", "start_date": "2022-08-01"},
            C.DATES_OUT_OF_ORDER,
            "start_date",
        ),
        (
            "referrals",
            {**ref, "episode_id": "q06", "end_date": "2022-09-09"},
            C.DATES_OUT_OF_ORDER,
            "end_date",
        ),
        (
            "referrals",
            {**ref, "episode_id": "q07", "start_date": "", "end_date": "2022-08-30"},
            C.DATES_OUT_OF_ORDER,
            "end_date",
        ),
        (
            "referrals",
            {**ref, "episode_id": "q08", "sessions_attended": "13"},
            C.ATTENDED_EXCEEDS_OFFERED,
            "sessions_attended",
        ),
        (
            "referrals",
            {**ref, "episode_id": "q09", "person_id": _pid(98)},
            C.UNKNOWN_PERSON,
            "person_id",
        ),
        # A repeat of a held row's episode_id stays a duplicate; a repeat of an accepted one is
        # settled by the episode rule (tests/unit/intake/test_episodes.py).
        (
            "referrals",
            {**ref, "episode_id": "q09", "person_id": _pid(98)},
            C.DUPLICATE_EPISODE,
            "episode_id",
        ),
        (
            "referrals",
            {**ref, "episode_id": "q10", "person_id": Q_SEX},
            C.PARENT_QUARANTINED,
            "person_id",
        ),
        (
            "referrals",
            {
                **ref,
                "episode_id": "q11",
                "sessions_offered": "0",
                "sessions_attended": "0",
                "start_date": "",
                "end_date": "",
            },
            None,
            None,
        ),
        ("referrals", {**ref, "episode_id": "q12", "referral_date": "2022-09-10"}, None, None),
        (
            "referrals",
            {**ref, "episode_id": "q13", "person_id": "ABC123", "programme": "dance"},
            C.PARENT_QUARANTINED,
            "person_id",
        ),
        # measures
        (
            "measures",
            {**mea, "instrument": "phq9", "item": "1"},
            C.UNKNOWN_INSTRUMENT,
            "instrument",
        ),
        ("measures", {**mea, "item": "8"}, C.UNKNOWN_ITEM, "item"),
        ("measures", {**mea, "item": "1", "response": "6"}, C.RESPONSE_OUT_OF_RANGE, "response"),
        ("measures", {**mea, "item": "2", "response": "0"}, C.RESPONSE_OUT_OF_RANGE, "response"),
        ("measures", {**mea, "item": "3", "response": "x"}, C.INVALID_TYPE, "response"),
        ("measures", {**mea, "item": "4", "timepoint": "mid"}, C.INVALID_CODE, "timepoint"),
        (
            "measures",
            {**mea, "timepoint": "baseline", "item": "1"},
            C.DUPLICATE_RESPONSE,
            "episode_id,instrument,timepoint,item",
        ),
        ("measures", {**mea, "episode_id": "r99", "item": "1"}, C.UNKNOWN_EPISODE, "episode_id"),
        ("measures", {**mea, "episode_id": "q01", "item": "1"}, C.PARENT_QUARANTINED, "episode_id"),
        # parent first: referral q01 was quarantined; this row's own fault is moot
        (
            "measures",
            {**mea, "episode_id": "q01", "item": "2", "response": "9"},
            C.PARENT_QUARANTINED,
            "episode_id",
        ),
        # two-level cascade: person quarantined -> referral q10 -> its measures
        ("measures", {**mea, "episode_id": "q10", "item": "1"}, C.PARENT_QUARANTINED, "episode_id"),
        ("measures", {**mea, "item": "5", "response": "5"}, None, None),
        ("measures", {**mea, "item": "6", "response": "1"}, None, None),
        ("measures", {**mea, "item": "7", "response": ""}, None, None),  # missing item
        (
            "measures",
            {
                **mea,
                "episode_id": "r03",
                "instrument": "ons4",
                "timepoint": "end",
                "assessed_on": "2023-03-01",  # r03 was referred 2023-01-09
                "item": "anxiety",
                "response": "10",
            },
            None,
            None,
        ),
        (
            "measures",
            {
                **mea,
                "episode_id": "r03",
                "instrument": "ons4",
                "timepoint": "end",
                "assessed_on": "2023-03-01",  # r03 was referred 2023-01-09
                "item": "happiness",
                "response": "11",
            },
            C.RESPONSE_OUT_OF_RANGE,
            "response",
        ),
    ]
    return cases


def _case_extract() -> tuple[dict[str, pd.DataFrame], dict[str, dict[int, tuple]]]:
    """Base example plus the case rows; expected (reason, column) by table and row_number."""
    tables = example_tables()
    expected: dict[str, dict[int, tuple]] = {t: {} for t in C.TABLES}
    for table, row, reason, column in _cases():
        df = tables[table]
        tables[table] = pd.concat([df, pd.DataFrame([row])[df.columns]], ignore_index=True)
        expected[table][len(tables[table])] = (reason, column)
    return tables, expected


@pytest.fixture(scope="module")
def case_run(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("cases")
    tables, expected = _case_extract()
    write_tables(tables, base / "raw", "csv")
    (base / "raw" / "synthetic_faults.json").write_text("not json: intake must never read it")
    report = run_intake(base / "raw", base / "out", validate=True, **KW)
    return base, tables, expected, report


def test_run_intake_case_table_gives_each_row_its_specific_reason(case_run) -> None:
    base, _tables, expected, _ = case_run
    for table in C.TABLES:
        q = pd.read_parquet(base / "out" / "quarantine" / f"{table}.parquet")
        got = {int(r.row_number): (r.reason, r.column) for r in q.itertuples()}
        want = {n: rc for n, rc in expected[table].items() if rc[0] is not None}
        assert got == want, table
        accepted_cases = [n for n, rc in expected[table].items() if rc[0] is None]
        assert not set(accepted_cases) & set(got), table


def test_run_intake_counts_reconcile_in_report(case_run) -> None:
    base, tables, _, report = case_run
    data = json.loads((base / "out" / "intake_report.json").read_text())
    for table in C.TABLES:
        entry = data["tables"][table]
        assert entry["rows_read"] == len(tables[table])
        assert entry["rows_read"] == entry["rows_accepted"] + entry["rows_quarantined"]
        assert sum(entry["quarantined_by_reason"].values()) == entry["rows_quarantined"]
        assert len(pd.read_parquet(base / "out" / f"{table}.parquet")) == entry["rows_accepted"]
        digest = hashlib.sha256((base / "raw" / f"{table}.csv").read_bytes()).hexdigest()
        assert entry["sha256"] == digest
        assert entry["source_file"] == f"{table}.csv"
        assert set(entry["quarantined_by_reason"]) <= set(C.REASONS)
    assert report.rows_read == report.rows_accepted + report.rows_quarantined
    assert data["reconciled"] is True


def test_run_intake_quarantine_keeps_original_text_and_names_file_row_column(case_run) -> None:
    base, tables, _, _ = case_run
    q = pd.read_parquet(base / "out" / "quarantine" / "population.parquet")
    row = q[q["row_number"] == q["row_number"].min()].iloc[0]
    src = tables["population"].iloc[int(row["row_number"]) - 1]
    assert row["person_id"] == src["person_id"]
    for table in C.TABLES:
        q = pd.read_parquet(base / "out" / "quarantine" / f"{table}.parquet")
        for r in q.itertuples():
            assert r.message.startswith(f"{table}.csv row {r.row_number}, column {r.column}")
            assert r.reason in r.message


def test_run_intake_accepted_tables_are_typed_and_keep_file_order(case_run) -> None:
    base, *_ = case_run
    pop = pd.read_parquet(base / "out" / "population.parquet")
    assert list(pop.columns) == list(C.COLUMNS["population"])
    assert pop["registered_from"].map(type).eq(dt.date).all()
    assert pop["imd_decile"].dtype == "int64"
    assert "0000000000000c18" in set(pop["person_id"])  # ' 3.0 ' trimmed and read as 3
    assert int(pop.loc[pop["person_id"] == "0000000000000c18", "imd_decile"].iloc[0]) == 3
    act = pd.read_parquet(base / "out" / "activity.parquet")
    assert list(act["event_id"][:3]) == ["e001", "e002", "e003"]
    meas = pd.read_parquet(base / "out" / "measures.parquet")
    assert meas["response"].isna().sum() == 2  # the base's missing item and case item 7


def test_run_intake_csv_and_parquet_inputs_give_identical_tables(tmp_path: Path, case_run) -> None:
    base, tables, *_ = case_run
    write_tables(tables, tmp_path / "raw", "parquet")
    run_intake(tmp_path / "raw", tmp_path / "out", validate=False, **KW)
    for table in C.TABLES:
        a = pd.read_parquet(base / "out" / f"{table}.parquet")
        b = pd.read_parquet(tmp_path / "out" / f"{table}.parquet")
        pd.testing.assert_frame_equal(a, b)
        qa = pd.read_parquet(base / "out" / "quarantine" / f"{table}.parquet")
        qb = pd.read_parquet(tmp_path / "out" / "quarantine" / f"{table}.parquet")
        pd.testing.assert_frame_equal(
            qa[["row_number", "reason", "column"]], qb[["row_number", "reason", "column"]]
        )


def _typed(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The all-text example tables with int and date columns typed, as a warehouse writes them."""
    out = {}
    for name, df in tables.items():
        df = df.replace("", None)
        for c, kind in C.COLUMNS[name].items():
            if c in df and kind == "date":
                df[c] = pd.to_datetime(df[c]).dt.date
            elif c in df and kind == "int":
                df[c] = df[c].astype("Int32")
        out[name] = df
    return out


def test_run_intake_typed_parquet_gives_same_tables_as_csv(tmp_path: Path) -> None:
    tables = example_tables()
    tables["activity"].loc[1, "event_date"] = "1800-01-01"  # impossible, typed or not
    tables["population"].loc[2, "imd_decile"] = "11"  # out of range, typed or not
    write_tables(tables, tmp_path / "csv", "csv")
    (tmp_path / "pq").mkdir()
    for name, df in _typed(tables).items():
        df.to_parquet(tmp_path / "pq" / f"{name}.parquet", index=False)
    a = run_intake(tmp_path / "csv", tmp_path / "out_csv", validate=True, **KW)
    b = run_intake(tmp_path / "pq", tmp_path / "out_pq", validate=True, **KW)
    assert a.tables["activity"].quarantined_by_reason[C.IMPOSSIBLE_DATE] == 1
    assert a.tables["population"].quarantined_by_reason == {C.OUT_OF_RANGE: 1}
    for table in C.TABLES:
        assert a.tables[table].quarantined_by_reason == b.tables[table].quarantined_by_reason
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "out_csv" / f"{table}.parquet"),
            pd.read_parquet(tmp_path / "out_pq" / f"{table}.parquet"),
        )
        qa = pd.read_parquet(tmp_path / "out_csv" / "quarantine" / f"{table}.parquet")
        qb = pd.read_parquet(tmp_path / "out_pq" / "quarantine" / f"{table}.parquet")
        pd.testing.assert_frame_equal(qa.drop(columns="message"), qb.drop(columns="message"))


def test_run_intake_twice_gives_byte_identical_outputs(tmp_path: Path, case_run) -> None:
    base, tables, *_ = case_run
    write_tables(tables, tmp_path / "raw", "csv")
    run_intake(tmp_path / "raw", tmp_path / "out", validate=False, **KW)
    for name in [*C.TABLES, *[f"quarantine/{t}" for t in C.TABLES]]:
        a = (base / "out" / f"{name}.parquet").read_bytes()
        b = (tmp_path / "out" / f"{name}.parquet").read_bytes()
        assert a == b, name
    ra = json.loads((base / "out" / "intake_report.json").read_text())
    rb = json.loads((tmp_path / "out" / "intake_report.json").read_text())
    ra["spec"].pop("schema_validation")
    rb["spec"].pop("schema_validation")
    assert ra == rb


def test_run_intake_missing_file_names_it(tmp_path: Path) -> None:
    write_tables(example_tables(), tmp_path, "csv")
    (tmp_path / "referrals.csv").unlink()
    with pytest.raises(IntakeError, match=r"referrals\.csv: file not found"):
        run_intake(tmp_path, tmp_path / "out", **KW)
    assert not (tmp_path / "out").exists()


def test_run_intake_csv_and_parquet_both_present_names_both(tmp_path: Path) -> None:
    tables = example_tables()
    write_tables(tables, tmp_path, "csv")
    write_tables({"measures": tables["measures"]}, tmp_path, "parquet")
    with pytest.raises(IntakeError, match=r"measures\.csv and .*measures\.parquet: both exist"):
        run_intake(tmp_path, tmp_path / "out", **KW)


def test_run_intake_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    tables = example_tables()
    tables["activity"] = tables["activity"].drop(columns=["setting"])
    write_tables(tables, tmp_path, "csv")
    with pytest.raises(IntakeError, match=r"activity\.csv: missing required column.*'setting'"):
        run_intake(tmp_path, tmp_path / "out", **KW)


@pytest.fixture(scope="module")
def variant_run(tmp_path_factory: pytest.TempPathFactory):
    """Optional columns dropped, an unknown column added, no extract end given, a future date."""
    base = tmp_path_factory.mktemp("variant")
    tables = example_tables()
    tables["population"] = tables["population"].drop(columns=["smi", "chd"])
    tables["population"]["GP_NOTES"] = "x"
    tables["activity"] = tables["activity"].drop(columns=["bed_days"])
    future = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    tables["activity"].loc[0, "event_date"] = future
    write_tables(tables, base / "raw", "csv")
    kw = {k: v for k, v in KW.items() if k != "extract_end"}
    report = run_intake(base / "raw", base / "out", validate=False, **kw)
    return base, report


def test_run_intake_optional_and_unknown_columns_are_reported(variant_run) -> None:
    base, report = variant_run
    pop = report.tables["population"]
    assert pop.ignored_columns == ("GP_NOTES",)
    assert set(pop.absent_optional_columns) == {"chd", "smi"}
    out = pd.read_parquet(base / "out" / "population.parquet")
    assert "GP_NOTES" not in out and "smi" not in out
    assert "bed_days" not in pd.read_parquet(base / "out" / "activity.parquet")
    assert report.tables["population"].rows_quarantined == 0
    assert any("GP_NOTES" in n for n in report.notes)


def test_run_intake_default_extract_end_is_today(variant_run) -> None:
    _, report = variant_run
    assert report.tables["activity"].quarantined_by_reason == {C.IMPOSSIBLE_DATE: 1}
    assert report.spec["extract_end"] == dt.date.today().isoformat()


def test_run_intake_failure_leaves_previous_outputs_untouched(tmp_path: Path) -> None:
    write_tables(example_tables(), tmp_path / "raw", "csv")
    out = tmp_path / "out"
    (out / "quarantine").mkdir(parents=True)
    for name in [*C.TABLES, *[f"quarantine/{t}" for t in C.TABLES]]:
        (out / f"{name}.parquet").write_bytes(b"previous run")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    # The last table breaks (a line with too many fields): found only after three tables ran.
    with (tmp_path / "raw" / "measures.csv").open("a") as fh:
        fh.write("r01,swemwbs,end,2022-07-06,1,3,EXTRA\n")
    with pytest.raises(IntakeError, match=r"measures\.csv: cannot be read as CSV"):
        run_intake(tmp_path / "raw", out, validate=False, **KW)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_is_stale_after_run_false_then_true_when_raw_changes(variant_run, tmp_path: Path) -> None:
    base, _ = variant_run
    assert is_stale(tmp_path / "nothing", base / "out")
    assert not is_stale(base / "raw", base / "out")
    shutil.copytree(base / "raw", tmp_path / "raw")
    with (tmp_path / "raw" / "activity.csv").open("a") as fh:
        fh.write(f"e999,{P[0]},2022-02-02,gp_appointment\n")
    assert is_stale(tmp_path / "raw", base / "out")


def test_is_stale_same_size_edit_is_caught_by_hash(variant_run, tmp_path: Path) -> None:
    base, _ = variant_run
    shutil.copytree(base / "raw", tmp_path / "raw")
    path = tmp_path / "raw" / "activity.csv"
    text = path.read_text()
    path.write_text(text.replace("gp_appointment", "gp_appointmenu", 1))  # same size
    assert path.stat().st_size == (base / "raw" / "activity.csv").stat().st_size
    assert is_stale(tmp_path / "raw", base / "out")


def test_intake_report_result_object_views(case_run) -> None:
    *_, report = case_run
    tidy = report.tidy()
    assert list(tidy.columns) == ["table", "outcome", "n"]
    assert tidy["n"].sum() == report.rows_read
    assert "population" in report.summary()
    assert json.loads(json.dumps(report.to_dict()))["tables"]["activity"]["rows_read"] > 0
    assert report.plot_quarantine() is not None


@pytest.mark.parametrize(
    ("column", "value"),
    [("imd_decile", 11), ("registered_from", None)],
)
def test_accepted_schema_invalid_value_fails_pandera(column: str, value: object) -> None:
    row = example_tables()["population"].iloc[[0]].drop(columns=list(C.CONDITIONS))
    df = row.assign(
        year_of_birth=1950,
        imd_decile=3,
        registered_from=dt.date(2015, 1, 1),
        registered_to=None,
        date_of_death=None,
    )
    cols = list(df.columns)
    schema = accepted_schema(
        "population",
        columns=cols,
        extract_end=EXAMPLE_EXTRACT_END,
        instruments=instrument_rules(EXAMPLE_INSTRUMENTS),
    )
    types = {
        "registered_from": "date",
        "registered_to": "date",
        "date_of_death": "date",
        "year_of_birth": "int64",
        "imd_decile": "int64",
    }
    schema_ibis = ibis.schema({c: types.get(c, "string") for c in cols})
    schema.validate(ibis.memtable(df, schema=schema_ibis))  # the valid row passes
    bad = df.assign(**{column: value})
    with pytest.raises((pandera.errors.SchemaError, pandera.errors.SchemaErrors)):
        schema.validate(ibis.memtable(bad, schema=schema_ibis), lazy=True)
