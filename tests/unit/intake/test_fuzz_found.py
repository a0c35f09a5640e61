"""Intake faults the fuzzer found (``test_fuzz_read.py``, ``test_fuzz_pipeline.py``), one each.

Each test is named after the fault, holds the smallest input the fuzzer shrank it to, and fails
on the code before its fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit import contract as C
from evalkit.intake import IntakeError, MappingError, load_mapping, run_intake
from evalkit.intake.example import (
    example_tables,
    write_tables,
)
from helpers.intake_example import example_kw

KW = example_kw(validate=False, threads=1)
POPULATION_HEADER = ",".join(C.COLUMNS["population"]).encode()


def _intake_error(tmp_path: Path, table: str, data: bytes) -> str:
    """The message of the IntakeError that intake of the example, ``table`` replaced, stops with."""
    raw = tmp_path / "raw"
    write_tables(example_tables(), raw, "csv")
    (raw / f"{table}.csv").write_bytes(data)
    with pytest.raises(IntakeError) as err:
        run_intake(raw, tmp_path / "out", **KW)
    message = str(err.value)
    assert message.startswith(f"{raw / f'{table}.csv'}: ")
    return message


def test_parse_error_duckdb_gave_no_line_for_a_line_feed_in_a_carriage_return_file(
    tmp_path: Path,
) -> None:
    # Lines end in CR; an unquoted LF in the first cell. DuckDB says only "The CSV Parser state
    # machine reached an invalid state", naming no line.
    data = POPULATION_HEADER + b"\r0\n,1950,F,A,E01022001,3,Cheltenham,P01,2015-01-01,,,2018-05-01"
    data += b",,,,,,,\r"
    message = _intake_error(tmp_path, "population", data)
    assert "line 2: expected 19 columns, found 1" in message


def test_parse_error_without_a_line_named_the_first_line_of_mixed_line_endings(
    tmp_path: Path,
) -> None:
    # The same, with every line well formed for Python's csv module: the endings are the fault.
    data = b"event_id,person_id,event_date,setting,bed_days\r\ne001,00000000000000a1,"
    data += b"2022-01-05,gp_appointment,\re002,00000000000000a1,2022-01-05,gp_appointment,\n"
    message = _intake_error(tmp_path, "activity", data)
    assert "mixed line endings: line 2 ends with CR, line 1 with CR LF" in message


def test_header_with_an_empty_column_name_leaked_a_sql_parser_error(tmp_path: Path) -> None:
    # A header cut short after a delimiter: DuckDB said "Parser Error: zero-length delimited
    # identifier" (the empty name in the staging SQL), naming neither the line nor the column.
    data = b"\xef\xbb\xbf" + b",".join(POPULATION_HEADER.split(b",")[:18]) + b","
    message = _intake_error(tmp_path, "population", data)
    assert "line 1 (header), column(s) [19] of 19 have no name" in message
    assert "Parser Error" not in message


def test_utf16_file_without_byte_order_mark_said_missing_columns_not_utf16(tmp_path: Path) -> None:
    # UTF-16-LE of ASCII text is valid UTF-8 (with NULs): the header split into columns such as
    # 'p\x00e\x00r...' and intake said every required column was missing.
    text = example_tables()["measures"].to_csv(index=False)
    message = _intake_error(tmp_path, "measures", text.encode("utf-16-le"))
    assert "NUL bytes" in message
    assert "UTF-16" in message
    assert "missing required" not in message


def test_utf16_byte_order_mark_was_reported_as_an_invalid_start_byte(tmp_path: Path) -> None:
    text = example_tables()["referrals"].to_csv(index=False)
    message = _intake_error(tmp_path, "referrals", text.encode("utf-16"))
    assert "line 1: a UTF-16 byte-order mark" in message
    assert "save it as UTF-8" in message


def test_latin1_byte_near_the_top_was_given_as_a_byte_offset_not_a_line(tmp_path: Path) -> None:
    # A byte in the first 8 KB fails the header read: the message gave "at byte 1187" only.
    pop = example_tables()["population"]
    pop.loc[2, "district"] = "Stroud é"
    message = _intake_error(tmp_path, "population", pop.to_csv(index=False).encode("latin-1"))
    assert "line 4: not UTF-8 text (byte 0xe9 at column" in message


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("source: a\nsource: b\n", "source", 2),
        (
            "tables:\n  population:\n    file: A.csv\n  population:\n    file: B.csv\n",
            "population",
            4,
        ),
        ("tables:\n  activity: {columns: {ID: event_id, ID: person_id}}\n", "ID", 2),
    ],
)
def test_duplicate_yaml_key_was_silently_replaced_by_the_last(
    tmp_path: Path, text: str, key: str, line: int
) -> None:
    # PyYAML keeps the last of two equal keys: a second population: replaced the first unseen.
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert f"key {key!r} given twice" in message
    assert f"line {line}" in message


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_mapping_file_not_utf8_escaped_as_a_unicode_decode_error(
    tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_bytes("# Café\nsource: x\n".encode(encoding))
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert str(err.value).startswith(f"{path}: line 1: not UTF-8 text")
