"""Intake faults found by trying it on real-shaped extracts: each test is named after its fault."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evalkit import contract as C
from evalkit.intake import IntakeError, run_intake
from evalkit.intake.example import (
    example_tables,
    write_tables,
)
from helpers.intake_example import example_kw

KW = example_kw()


def _run(tmp_path: Path, tables: dict[str, pd.DataFrame], **kw):
    write_tables(tables, tmp_path / "raw", "csv")
    return run_intake(tmp_path / "raw", tmp_path / "out", **{**KW, **kw})


@pytest.mark.parametrize("case", ["header_only", "every_row_quarantined"])
def test_zero_accepted_rows_crashed_as_an_intake_bug_and_wrote_no_quarantine(
    tmp_path: Path, case: str
) -> None:
    tables = example_tables()
    if case == "header_only":
        tables["measures"] = tables["measures"].iloc[:0]
    else:
        tables["measures"]["response"] = "99"
    report = _run(tmp_path, tables, validate=True)
    t = report.tables["measures"]
    assert t.rows_accepted == 0
    assert t.rows_read == t.rows_quarantined == len(tables["measures"])
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine" / "measures.parquet")
    assert len(quarantine) == t.rows_quarantined
    assert len(pd.read_parquet(tmp_path / "out" / "measures.parquet")) == 0
    note = next(n for n in report.notes if n.startswith("measures.csv: no row accepted"))
    if case == "every_row_quarantined":
        assert t.quarantined_by_reason == {C.RESPONSE_OUT_OF_RANGE: t.rows_read}
        assert C.RESPONSE_OUT_OF_RANGE in note
    else:
        assert "header" in note


def _break_line(tmp_path: Path, kind: str) -> tuple[Path, int]:
    """Example tables with a long activity file whose physical line 301 is broken by ``kind``."""
    tables = example_tables()
    act = pd.concat([tables["activity"]] * 40, ignore_index=True)
    tables["activity"] = act.assign(event_id=[f"e{i:04d}" for i in range(len(act))])
    write_tables(tables, tmp_path / "raw", "csv")
    path = tmp_path / "raw" / "activity.csv"
    lines = path.read_bytes().split(b"\n")
    line = 301  # beyond the first 8 KB, which the header check decodes
    if kind == "short":
        lines[line - 1] = lines[line - 1].rsplit(b",", 1)[0]
    elif kind == "long":
        lines[line - 1] += b",extra"
    else:
        lines[line - 1] = lines[line - 1].replace(b"_", b"\xe9", 1)
    path.write_bytes(b"\n".join(lines))
    return path, line


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("short", "expected 5 columns, found 4"),
        ("long", "expected 5 columns, found 6"),
        ("not_utf8", "not UTF-8 text"),
    ],
)
def test_parse_error_dropped_duckdbs_cause(tmp_path: Path, kind: str, cause: str) -> None:
    path, line = _break_line(tmp_path, kind)
    with pytest.raises(IntakeError) as err:
        run_intake(tmp_path / "raw", tmp_path / "out", **KW, validate=False)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert f"Line: {line}" in message
    assert cause in message


@pytest.mark.parametrize("found", [";", "\t", "|"])
def test_wrong_delimiter_said_all_columns_missing_not_which_delimiter_was_found(
    tmp_path: Path, found: str
) -> None:
    tables = example_tables()
    write_tables(tables, tmp_path / "raw", "csv")
    tables["population"].to_csv(tmp_path / "raw" / "population.csv", index=False, sep=found)
    shown = "\\t" if found == "\t" else found
    with pytest.raises(IntakeError, match=r"population\.csv: the header is split by") as err:
        run_intake(tmp_path / "raw", tmp_path / "out", **KW, validate=False)
    assert f"split by '{shown}', not ','" in str(err.value)
    assert f"delimiter: '{shown}'" in str(err.value)


def test_near_miss_column_names_got_no_hint(tmp_path: Path) -> None:
    tables = example_tables()
    tables["population"] = tables["population"].rename(
        columns={"person_id": "Person_ID", "sex": "sex ", "imd_decile": "imd_decle"}
    )
    with pytest.raises(IntakeError, match=r"population\.csv: missing required") as err:
        _run(tmp_path, tables, validate=False)
    message = str(err.value)
    for shown, contract in [
        ("Person_ID", "person_id"),
        ("sex ", "sex"),
        ("imd_decle", "imd_decile"),
    ]:
        assert f"'{shown}' for '{contract}'" in message
    assert "'GP_NOTES'" not in message


def test_recode_error_showed_neither_source_nor_recoded_value(tmp_path: Path) -> None:
    tables = example_tables()
    pop = tables["population"]
    pop["sex"] = pop["sex"].map({"F": "2", "M": "1", "X": "0"})
    pop.loc[1, "sex"] = "9"  # recoded to U: not a contract code
    pop.loc[2, "sex"] = "7"  # not in the recode: passes through unchanged, not a code
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("tables:\n  population:\n    recode:\n      sex: {1: M, 2: F, 0: X, 9: U}\n")
    report = _run(tmp_path, tables, mapping=mapping, validate=False)
    assert report.tables["population"].quarantined_by_reason == {C.INVALID_CODE: 2}
    q = pd.read_parquet(tmp_path / "out" / "quarantine" / "population.parquet")
    assert q["sex"].tolist() == ["9", "7"]  # the source text, unchanged
    first, second = q["message"]
    assert "column sex = '9' recoded to 'U': invalid_code" in first
    assert "column sex = '7' (not listed in the mapping's recode of sex): invalid_code" in second


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_null_spellings_matched_case_sensitively(tmp_path: Path, fmt: str) -> None:
    tables = example_tables()
    pop = tables["population"]
    pop.loc[0, "lsoa"] = "null"  # a text column: empty, so missing_required
    pop.loc[1, "registered_to"] = "Null"
    pop.loc[2, "date_of_death"] = " n/a "
    tables["measures"].loc[14, "response"] = "null"  # episode r03, whose person is accepted
    write_tables(tables, tmp_path / "raw", fmt)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('null_values: ["NULL", "N/A"]\n')
    report = run_intake(tmp_path / "raw", tmp_path / "out", mapping=mapping, **KW, validate=True)
    assert report.tables["population"].quarantined_by_reason == {C.MISSING_REQUIRED: 1}
    q = pd.read_parquet(tmp_path / "out" / "quarantine" / "population.parquet")
    assert q["column"].tolist() == ["lsoa"]
    out = pd.read_parquet(tmp_path / "out" / "population.parquet").set_index("person_id")
    assert out.loc[pop.loc[1, "person_id"], "registered_to"] is None
    assert out.loc[pop.loc[2, "person_id"], "date_of_death"] is None
    measures = pd.read_parquet(tmp_path / "out" / "measures.parquet")
    assert measures["response"].isna().sum() == 1


def test_date_logic_across_tables_was_not_checked(tmp_path: Path) -> None:
    """Referral after death or deregistration, born after referral, registered before birth,
    questionnaires dated far outside their episode: each quarantined; the edge days accepted."""
    tables = example_tables()
    pop, ref, mea = tables["population"], tables["referrals"], tables["measures"]
    born_late, born_2020 = "00000000000000d1", "00000000000000d2"
    for pid, yob, reg in [(born_late, "2012", "2010-05-01"), (born_2020, "2020", "2020-03-01")]:
        row = {**pop.iloc[0].to_dict(), "person_id": pid, "year_of_birth": yob}
        pop.loc[len(pop)] = {**row, "registered_from": reg}
    base = ref.iloc[1].to_dict()  # did_not_start: no start or end date
    for eid, pid, day in [
        ("r10", pop.loc[2, "person_id"], "2023-02-10"),  # after registered_to 2023-01-31
        ("r11", pop.loc[3, "person_id"], "2022-12-02"),  # after date_of_death 2022-12-01
        ("r12", pop.loc[3, "person_id"], "2022-12-01"),  # the day of death: accepted
        ("r13", born_2020, "2019-11-01"),  # born in 2020
    ]:
        ref.loc[len(ref)] = {**base, "episode_id": eid, "person_id": pid, "referral_date": day}
    m = mea.iloc[0].to_dict()  # episode r01: referred 2022-04-01, ended 2022-07-06
    for tp, item, day in [
        ("followup_3m", "1", "2022-01-01"),  # 90 days before the referral: accepted
        ("followup_6m", "1", "2021-12-31"),  # 91 days before
        ("followup_6m", "2", "2023-07-07"),  # 366 days after the end
        ("followup_6m", "3", "2023-07-06"),  # 365 days after: accepted
    ]:
        mea.loc[len(mea)] = {**m, "timepoint": tp, "item": item, "assessed_on": day}
    ons = mea[mea["episode_id"] == "r03"].iloc[0].to_dict()  # an episode with no end yet
    mea.loc[len(mea)] = {**ons, "timepoint": "followup_6m", "assessed_on": "2024-03-01"}
    report = _run(tmp_path, tables, validate=True)
    by_reason = {t: r.quarantined_by_reason for t, r in report.tables.items()}
    assert by_reason["population"] == {C.REGISTERED_BEFORE_BIRTH: 1}
    assert by_reason["referrals"] == {C.REFERRAL_AFTER_DEATH: 2, C.BORN_AFTER_REFERRAL: 1}
    assert by_reason["measures"] == {C.ASSESSED_OUTSIDE_EPISODE: 2}
    q = pd.read_parquet(tmp_path / "out" / "quarantine" / "referrals.parquet")
    assert q["episode_id"].tolist() == ["r10", "r11", "r13"]
    assert set(q["column"]) == {"referral_date"}
    q = pd.read_parquet(tmp_path / "out" / "quarantine" / "measures.parquet")
    assert q["assessed_on"].tolist() == ["2021-12-31", "2023-07-07"]


def _identifying_rows(tables: dict[str, pd.DataFrame]) -> None:
    """Rejected population and referral rows whose named values identify, or are long."""
    pop, ref = tables["population"], tables["referrals"]
    row = pop.iloc[0].to_dict()
    pop.loc[len(pop)] = {**row, "person_id": "943 476 5919"}  # an NHS number as the id
    pop.loc[len(pop)] = {**row, "person_id": "00000000000000e1", "year_of_birth": "1950-03-12"}
    pop.loc[len(pop)] = {**row, "person_id": "00000000000000e2", "sex": "gl50 1aa"}  # postcode
    pop.loc[len(pop)] = {**row, "person_id": "ABC-123"}
    ref.loc[len(ref)] = {**ref.iloc[0].to_dict(), "episode_id": "r20", "programme": "p" * 60}


def test_intake_report_examples_copied_identifying_raw_values(tmp_path: Path) -> None:
    tables = example_tables()
    _identifying_rows(tables)
    report = _run(tmp_path, tables, validate=False)
    examples = report.tables["population"].examples
    text = (tmp_path / "out" / "intake_report.json").read_text()
    for raw in ("943 476 5919", "1950-03-12", "gl50 1aa", "ABC-123", "p" * 25):
        assert raw not in text
    assert "column person_id = '<NHS number masked>': malformed_person_id" in examples[0]
    assert "column year_of_birth = '<date of birth masked>': invalid_type" in examples[1]
    assert "column sex = '<postcode masked>': invalid_code" in examples[2]
    assert "column person_id = 'xxx-999': malformed_person_id" in examples[3]
    (programme,) = report.tables["referrals"].examples
    assert f"column programme = '{'p' * 24}...': unknown_programme" in programme


def test_quarantine_files_kept_identifying_values_unmasked(tmp_path: Path) -> None:
    tables = example_tables()
    _identifying_rows(tables)
    pop = tables["population"]
    nhs_in_lsoa = {**pop.iloc[1].to_dict(), "person_id": "00000000000000e3", "sex": "?"}
    pop.loc[len(pop)] = {**nhs_in_lsoa, "lsoa": "9434765919", "pcn": "9434765918"}
    _run(tmp_path, tables, validate=False)
    q = pd.read_parquet(tmp_path / "out" / "quarantine" / "population.parquet")
    q = q.set_index("row_number")
    n = len(example_tables()["population"])
    assert q.loc[n + 1, "person_id"] == "<NHS number masked>"
    assert q.loc[n + 2, "year_of_birth"] == "<date of birth masked>"
    assert q.loc[n + 3, "sex"] == "<postcode masked>"
    assert q.loc[n + 4, "person_id"] == "ABC-123"  # not identifying: unchanged
    assert q.loc[n + 5, "lsoa"] == "<NHS number masked>"  # any column
    assert q.loc[n + 5, "pcn"] == "9434765918"  # ten digits, but not a valid NHS number
    assert q.loc[n + 5, "sex"] == "?"
    for raw in ("943 476 5919", "1950-03-12", "gl50 1aa", "9434765919"):
        assert not q.astype(str).apply(lambda col, raw=raw: col.str.contains(raw)).any().any()
    other = [c for c in q.columns if c not in ("person_id", "year_of_birth", "sex", "lsoa")]
    source = pop.iloc[n:].reset_index(drop=True)
    got = q.loc[n + 1 :, [c for c in other if c in source.columns]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got.fillna(""), source[got.columns].astype(str), check_dtype=False
    )
