"""``evalkit pseudonymise``: keyed tokens, quarantine without values, no NHS number anywhere.

References: HMAC-SHA-256 against RFC 4231 (test case 2) and the standard library's ``hmac.new``;
NHS numbers from docs/reference/nhs-number.md (published examples) and the 999 test range, with
the check digit computed by :func:`evalkit.nhs_number.check_digits`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.intake import IntakeError, run_intake
from evalkit.intake.example import (
    P,
    example_tables,
    write_tables,
)
from evalkit.intake.pseudonymise import (
    KEY_ENV,
    MIN_KEY_BYTES,
    TOKEN_HEX_CHARS,
    PseudonymisationError,
    load_key,
    pseudonymise_file,
    quarantine_path,
    token,
)
from evalkit.nhs_number import is_valid_nhs_number
from helpers.intake_example import example_kw
from helpers.nhs_numbers import assert_no_number, dashed, invalid_ten_digit, spaced, valid_numbers

KEY = b"evalkit-test-key-0123456789abcdef-not-a-real-key"
OTHER_KEY = b"another-test-key-0123456789abcdef-not-a-real-key"
runner = CliRunner()
KW = example_kw(validate=False)


# --- the token ------------------------------------------------------------------------------


def test_token_is_hmac_sha256_truncated_rfc4231_case_2() -> None:
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
    full = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert token(b"Jefe", "what do ya want for nothing?") == full[:TOKEN_HEX_CHARS]


def test_token_matches_hmac_new_and_the_contract_format() -> None:
    for n in valid_numbers(20):
        t = token(KEY, n)
        assert t == hmac.new(KEY, n.encode(), hashlib.sha256).hexdigest()[:32]
        assert re.fullmatch(r"[0-9a-f]{32}", t)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(valid_numbers(50)),
    st.lists(st.sampled_from(["", " ", "-", " - "]), min_size=9, max_size=9),
)
def test_any_spacing_of_a_number_gives_its_token(number: str, seps: list[str]) -> None:
    written = number[0] + "".join(s + d for s, d in zip(seps, number[1:], strict=True))
    path_tokens = _tokenise_values([written, number])
    assert path_tokens == [token(KEY, number)] * 2


def _tokenise_values(values: list[str]) -> list[str]:
    """The tokens pseudonymise writes for ``values`` (one CSV column)."""
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "in.csv"
        pd.DataFrame({"nhs": values}).to_csv(src, index=False)
        pseudonymise_file(src, column="nhs", out=Path(d) / "out.csv", key=KEY)
        return pd.read_csv(Path(d) / "out.csv", dtype=str)["nhs"].tolist()


# --- the key --------------------------------------------------------------------------------


def test_load_key_refuses_no_key_short_key_and_two_keys(tmp_path: Path) -> None:
    with pytest.raises(PseudonymisationError, match=f"no pseudonymisation key.*{KEY_ENV}"):
        load_key(None, environ={})
    with pytest.raises(PseudonymisationError, match=f"31 bytes; at least {MIN_KEY_BYTES}"):
        load_key(None, environ={KEY_ENV: "k" * 31})
    f = tmp_path / "key"
    f.write_bytes(b"k" * 31 + b"\n")
    with pytest.raises(PseudonymisationError, match="31 bytes"):
        load_key(f, environ={})
    with pytest.raises(PseudonymisationError, match="one way only"):
        load_key(f, environ={KEY_ENV: "k" * 40})
    with pytest.raises(PseudonymisationError, match="cannot read the key file"):
        load_key(tmp_path / "missing", environ={})


def test_key_file_and_environment_give_the_same_key(tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_bytes(KEY + b"\n")  # `openssl rand -hex 32 > key` ends in a newline
    assert load_key(f, environ={}) == KEY == load_key(None, environ={KEY_ENV: KEY.decode()})


def test_cli_without_key_refuses_with_one_message(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({"nhs": valid_numbers(3)}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    env = {KEY_ENV: None, "EVALKIT_ROOT": str(tmp_path)}
    result = runner.invoke(
        app, ["pseudonymise", str(src), "--column", "nhs", "--out", str(out)], env=env
    )
    assert result.exit_code != 0
    assert "no pseudonymisation key" in result.output and "Traceback" not in result.output
    assert not out.exists() and not quarantine_path(out).exists()


def test_cli_has_no_option_for_the_key_value(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["pseudonymise", "x.csv", "--column", "c", "--out", "o.csv", "--key", "k" * 40]
    )
    assert result.exit_code != 0 and "No such option" in result.output


# --- files ----------------------------------------------------------------------------------


def _episodes(numbers: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "episode_id": [f"ep{i:03d}" for i in range(len(numbers))],
            "nhs_number": numbers,
            "provider": ["Art Shape, Ltd" if i % 2 else "Music Works" for i in range(len(numbers))],
            "sessions": [str(i) for i in range(len(numbers))],
        }
    )


def test_invalid_numbers_quarantined_with_row_and_reason_never_the_value(tmp_path: Path) -> None:
    good = valid_numbers(3)
    bad_check = invalid_ten_digit(1)[0]
    values = [
        spaced(good[0]),
        bad_check,
        "",
        "94347659",
        good[1],
        "943476591X",
        dashed(good[2]),
        "9990000005",
    ]
    src = tmp_path / "in.csv"
    _episodes(values).to_csv(src, index=False)
    out = tmp_path / "out" / "episodes.csv"
    res = pseudonymise_file(src, column="nhs_number", out=out, key=KEY)
    assert (res.rows_read, res.rows_tokenised, res.rows_quarantined) == (8, 3, 5)
    assert res.quarantined_by_reason == {"empty": 1, "not 10 digits": 2, "check digit wrong": 2}
    q = pd.read_csv(quarantine_path(out), dtype=str, keep_default_na=False)
    assert list(q.columns) == ["row_number", "column", "reason"]
    assert q.values.tolist() == [
        ["2", "nhs_number", "check digit wrong"],
        ["3", "nhs_number", "empty"],
        ["4", "nhs_number", "not 10 digits"],
        ["6", "nhs_number", "not 10 digits"],
        ["8", "nhs_number", "check digit wrong"],
    ]
    assert_no_number(
        [out, quarantine_path(out)], [*good, bad_check, "9990000005"], (res.summary(),)
    )


def test_other_columns_unchanged_csv(tmp_path: Path) -> None:
    numbers = valid_numbers(6)
    df = _episodes(numbers)
    src = tmp_path / "in.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    pseudonymise_file(src, column="nhs_number", out=out, key=KEY)
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(got.columns) == list(df.columns)
    pd.testing.assert_frame_equal(got.drop(columns="nhs_number"), df.drop(columns="nhs_number"))
    assert got["nhs_number"].tolist() == [token(KEY, n) for n in numbers]


def test_other_columns_unchanged_parquet_types_kept(tmp_path: Path) -> None:
    numbers = valid_numbers(5)
    table = pa.table(
        {
            "episode_id": pa.array([f"e{i}" for i in range(6)]),
            "nhs_number": pa.array([int(n) for n in numbers] + [None], type=pa.int64()),
            "referral_date": pa.array(
                [dt.date(2022, 1, i + 1) for i in range(6)], type=pa.date32()
            ),
            "sessions": pa.array([1, 2, None, 4, 5, 6], type=pa.int32()),
        }
    )
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    out = tmp_path / "out.parquet"
    res = pseudonymise_file(src, column="nhs_number", out=out, key=KEY)
    assert res.quarantined_by_reason == {"empty": 1}
    got = pq.read_table(out)
    assert got.schema.field("nhs_number").type == pa.string()
    assert got.column("nhs_number").to_pylist() == [token(KEY, n) for n in numbers]
    assert got.drop_columns("nhs_number").equals(table.slice(0, 5).drop_columns("nhs_number"))
    q = pq.read_table(quarantine_path(out)).to_pylist()
    assert q == [{"row_number": 6, "column": "nhs_number", "reason": "empty"}]


def test_parquet_float_column_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"nhs": pa.array([9434765919.0])}), src)
    with pytest.raises(PseudonymisationError, match="text or integers"):
        pseudonymise_file(src, column="nhs", out=tmp_path / "o.parquet", key=KEY)
    assert list(tmp_path.iterdir()) == [src]


def test_tokens_stable_across_runs_and_files_and_differ_under_another_key(tmp_path: Path) -> None:
    numbers = valid_numbers(30)
    a = tmp_path / "provider_a.csv"
    _episodes([spaced(n) for n in numbers[:20]]).to_csv(a, index=False)
    b = tmp_path / "provider_b.parquet"
    pq.write_table(
        pa.Table.from_pandas(_episodes([dashed(n) for n in numbers[10:]]), preserve_index=False), b
    )
    pseudonymise_file(a, column="nhs_number", out=tmp_path / "a1.csv", key=KEY)
    pseudonymise_file(a, column="nhs_number", out=tmp_path / "a2.csv", key=KEY)
    assert (tmp_path / "a1.csv").read_bytes() == (tmp_path / "a2.csv").read_bytes()
    pseudonymise_file(b, column="nhs_number", out=tmp_path / "b.parquet", key=KEY)
    pseudonymise_file(a, column="nhs_number", out=tmp_path / "a_other.csv", key=OTHER_KEY)
    ta = pd.read_csv(tmp_path / "a1.csv", dtype=str)["nhs_number"].tolist()
    tb = pq.read_table(tmp_path / "b.parquet").column("nhs_number").to_pylist()
    assert ta[10:20] == tb[:10]  # the same ten people, written differently, in two files
    assert len(set(ta) | set(tb)) == 30
    other = pd.read_csv(tmp_path / "a_other.csv", dtype=str)["nhs_number"].tolist()
    assert not set(other) & set(ta) and len(set(other)) == 20


def test_errors_name_lines_and_columns_never_values(tmp_path: Path) -> None:
    n = valid_numbers(2)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(f"id,nhs\n1,{n[0]}\n2,{spaced(n[1])},extra\n")
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text(f'id,nhs\n1,"{n[0]}\n')
    cases = [
        (ragged, "nhs", r"data row 2: 3 fields, the header has 2"),
        (unclosed, "nhs", r"not valid CSV"),
        (ragged, "nhs_no", r"no column 'nhs_no'; the file has 'id', 'nhs'"),
    ]
    for src, column, message in cases:
        out = tmp_path / "out.csv"
        with pytest.raises(PseudonymisationError, match=message) as info:
            pseudonymise_file(src, column=column, out=out, key=KEY)
        assert_no_number([], n, (str(info.value),))
        assert not out.exists() and not quarantine_path(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ragged.csv",
        "unclosed.csv",
    ]  # no temp files


def test_refuses_to_overwrite_input_and_to_change_format(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({"nhs": valid_numbers(2)}).to_csv(src, index=False)
    with pytest.raises(PseudonymisationError, match="overwrite the input"):
        pseudonymise_file(src, column="nhs", out=src, key=KEY)
    named_like_a_quarantine = tmp_path / "o.quarantine.csv"
    named_like_a_quarantine.write_bytes(src.read_bytes())
    with pytest.raises(PseudonymisationError, match="overwrite the input"):
        pseudonymise_file(named_like_a_quarantine, column="nhs", out=tmp_path / "o.csv", key=KEY)
    with pytest.raises(PseudonymisationError, match="input's format"):
        pseudonymise_file(src, column="nhs", out=tmp_path / "o.parquet", key=KEY)
    with pytest.raises(PseudonymisationError, match="at least 32"):
        pseudonymise_file(src, column="nhs", out=tmp_path / "o.csv", key=b"short")


def test_failure_keeps_the_previous_output(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,nhs\n1,9434765919\n2,9434765919,extra\n")
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    with pytest.raises(PseudonymisationError):
        pseudonymise_file(src, column="nhs", out=out, key=KEY)
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_other_column_of_nhs_numbers_is_warned_about_by_name_only(tmp_path: Path) -> None:
    numbers = valid_numbers(10)
    df = _episodes(numbers[:5])
    df["carer_nhs"] = numbers[5:]
    src = tmp_path / "in.csv"
    df.to_csv(src, index=False)
    res = pseudonymise_file(src, column="nhs_number", out=tmp_path / "o.csv", key=KEY)
    assert res.other_columns_like_nhs_numbers == ("carer_nhs",)
    assert "column 'carer_nhs' also looks like NHS numbers" in res.summary()
    assert_no_number([], numbers, (res.summary(),))


# --- the whole path: CLI run, scan of every file, intake ----------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cli_run_writes_no_number_anywhere(tmp_path: Path, fmt: str) -> None:
    numbers = [*valid_numbers(40), "9434765919", "4010232137"]
    wrong = invalid_ten_digit(5)
    values = [
        spaced(n) if i % 3 == 0 else dashed(n) if i % 3 == 1 else n for i, n in enumerate(numbers)
    ]
    src = tmp_path / "raw" / f"episodes.{fmt}"
    src.parent.mkdir()
    df = _episodes(values + wrong + ["", "12 34"])
    if fmt == "csv":
        df.to_csv(src, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), src)
    out = tmp_path / "tokens" / f"episodes.{fmt}"
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    os.chmod(key_file, 0o600)
    env = {KEY_ENV: None, "EVALKIT_ROOT": str(tmp_path)}
    args = [
        "pseudonymise",
        str(src),
        "--column",
        "nhs_number",
        "--out",
        str(out),
        "--key-file",
        str(key_file),
    ]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "rows read 49 = tokenised 42 + quarantined 7" in result.output
    logs = list((tmp_path / "logs").glob("*pseudonymise*.log"))
    assert len(logs) == 1
    written = [out, quarantine_path(out), *logs]
    assert_no_number(written, numbers + wrong, (result.output,))
    assert "warning" not in result.output  # key file 600, no other identifier column


def test_pseudonymised_extract_goes_through_intake_and_links(tmp_path: Path) -> None:
    """NHS numbers, written three ways in three files, link after pseudonymise; raw is refused."""
    numbers = valid_numbers(len(P))
    form = {"population": spaced, "activity": dashed, "referrals": str}
    tables = example_tables()
    for name, f in form.items():
        tables[name]["person_id"] = tables[name]["person_id"].map(
            dict(zip(P, map(f, numbers), strict=True))
        )
    raw = tmp_path / "raw"
    write_tables(tables, raw)
    with pytest.raises(IntakeError, match="evalkit pseudonymise"):
        run_intake(raw, tmp_path / "refused", **KW)
    tokened = tmp_path / "tokened"
    tokened.mkdir()
    (tokened / "measures.csv").write_bytes((raw / "measures.csv").read_bytes())
    for name in form:
        pseudonymise_file(
            raw / f"{name}.csv", column="person_id", out=tokened / f"{name}.csv", key=KEY
        )
    report = run_intake(tokened, tmp_path / "processed", **KW)
    for name, t in report.tables.items():
        assert t.rows_accepted == t.rows_read, (name, t.quarantined_by_reason)
    processed = list((tmp_path / "processed").rglob("*"))
    assert_no_number([p for p in processed if p.is_file()], numbers)
    assert all(is_valid_nhs_number(n) for n in numbers)


def test_cli_warns_when_the_key_file_is_readable_by_others(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({"nhs": valid_numbers(2)}).to_csv(src, index=False)
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    os.chmod(key_file, 0o644)
    env = {KEY_ENV: None, "EVALKIT_ROOT": str(tmp_path)}
    args = ["pseudonymise", str(src), "--column", "nhs", "--out", str(tmp_path / "o.csv")]
    result = runner.invoke(app, [*args, "--key-file", str(key_file)], env=env)
    assert result.exit_code == 0, result.output
    assert "can be read by others than its owner: `chmod 600" in result.output


def test_blank_lines_are_skipped_and_not_numbered_as_intake_does(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,nhs\n1,12\n\n2,9434765919\n3,\n\n")
    out = tmp_path / "o.csv"
    res = pseudonymise_file(src, column="nhs", out=out, key=KEY)
    assert (res.rows_read, res.rows_tokenised) == (3, 1)
    q = pd.read_csv(quarantine_path(out), dtype=str)
    assert q["row_number"].tolist() == ["1", "3"] and q["reason"].tolist() == [
        "not 10 digits",
        "empty",
    ]
