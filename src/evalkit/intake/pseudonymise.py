"""``evalkit pseudonymise``: NHS numbers replaced by keyed tokens at source, by the key holder.

The one key holder (the ICB's data processor, never a provider) runs it on a file that carries
NHS numbers, before the file goes anywhere else: each value of the named column is normalised
(spaces and dashes removed), checked with the Modulus 11 check digit
(:mod:`evalkit.nhs_number`) and, if valid, replaced by the data contract's ``person_id`` token:
the first :data:`TOKEN_HEX_CHARS` lower-case hex characters of HMAC-SHA-256(key, number). The
same number gives the same token in every file tokenised with the same key, so tables and
providers' submissions link; another key gives unrelated tokens. Without the key a token cannot
be reversed: an unkeyed hash could (there are at most 10^9 stems to try).

A row whose value is not a valid NHS number goes to the quarantine file beside the output
(:func:`quarantine_path`) with its row number and the reason (:data:`REASONS`), never the value;
every other column of every tokenised row is written unchanged. No NHS number is written
anywhere: not to the output, the quarantine, the log or an error message (errors name files,
columns, line numbers and counts only). Both files are written to temporary files and moved
into place only when complete (:func:`evalkit.files.atomic_path`).

The key comes from the environment (:data:`KEY_ENV`) or a key file, never from the command line
(where it would stay in the shell history and the process list) and never from the
repository; :func:`load_key` refuses to go on without one, or with one shorter than
:data:`MIN_KEY_BYTES` bytes. See ``docs/pseudonymisation.md``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import stat
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from evalkit.files import atomic_path
from evalkit.intake.errors import IntakeError
from evalkit.intake.identifiers import (
    EMPTY,
    NOT_TEN_DIGITS,
    WRONG_CHECK_DIGIT,
    nhs_number_problem,
    nhs_number_shares,
    normalise_nhs_number,
)

__all__ = [
    "KEY_ENV",
    "MIN_KEY_BYTES",
    "REASONS",
    "SAMPLE_ROWS",
    "TOKEN_HEX_CHARS",
    "PseudonymisationError",
    "PseudonymiseResult",
    "load_key",
    "pseudonymise_file",
    "quarantine_path",
    "token",
]

#: Environment variable holding the key (as text; its UTF-8 bytes are the key).
KEY_ENV = "EVALKIT_PSEUDONYMISATION_KEY"
#: Shortest key accepted: 32 bytes, the output size of SHA-256 (RFC 2104 advises a key no
#: shorter than the hash output; ``openssl rand -hex 32`` gives 64 characters).
MIN_KEY_BYTES = 32
#: Length of a token: 32 hex characters (128 bits), the data contract's ``person_id``.
TOKEN_HEX_CHARS = 32
#: Quarantine reasons, in the order they are tested.
REASONS: tuple[str, ...] = (EMPTY, NOT_TEN_DIGITS, WRONG_CHECK_DIGIT)
#: Rows of each other column looked at for NHS numbers (a warning, not a refusal).
SAMPLE_ROWS = 10_000
#: Rows per Parquet batch.
_BATCH_ROWS = 65_536
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class PseudonymisationError(IntakeError):
    """``pseudonymise`` cannot go on: no key, a short key, or an unusable file or column.

    The message names the file, column or line, never a value.
    """


def token(key: bytes, number: str) -> str:
    """The ``person_id`` token of a normalised, valid NHS number under ``key``.

    Examples
    --------
    >>> token(b"k" * 32, "9434765919") == token(b"k" * 32, "9434765919")
    True
    >>> len(token(b"k" * 32, "9434765919"))
    32
    """
    return hmac.digest(key, number.encode("ascii"), hashlib.sha256).hex()[:TOKEN_HEX_CHARS]


def load_key(key_file: Path | None = None, environ: Mapping[str, str] | None = None) -> bytes:
    """The pseudonymisation key, from ``key_file`` or the :data:`KEY_ENV` environment variable.

    A key file's bytes are the key, less a final line ending (``openssl rand -hex 32 > key``
    writes one); the environment variable's UTF-8 bytes are the key. Giving both is refused, so
    that no run silently uses another key than the last one.

    Raises
    ------
    PseudonymisationError
        No key, both sources given, the key file unreadable, or the key shorter than
        :data:`MIN_KEY_BYTES` bytes.
    """
    environ = os.environ if environ is None else environ
    from_env = environ.get(KEY_ENV)
    if key_file is not None and from_env:
        raise PseudonymisationError(
            f"both {KEY_ENV} and --key-file are set: give the key one way only, so that every "
            "run uses the same key"
        )
    if key_file is not None:
        try:
            key = Path(key_file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise PseudonymisationError(
                f"{key_file}: cannot read the key file ({exc.strerror})"
            ) from None
        source = f"the key file {key_file}"
    elif from_env:
        key = from_env.encode("utf-8")
        source = KEY_ENV
    else:
        raise PseudonymisationError(
            f"no pseudonymisation key: set {KEY_ENV} or give --key-file. Only the key holder "
            "(the ICB's data processor) runs pseudonymise; the key is never given on the command "
            "line or kept in the repository (docs/pseudonymisation.md)"
        )
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymisationError(
            f"the key in {source} is {len(key)} bytes; at least {MIN_KEY_BYTES} are needed "
            "(e.g. `openssl rand -hex 32` gives 64 characters)"
        )
    return key


def key_file_warning(key_file: Path | None) -> str | None:
    """A warning if a key file can be read by others than its owner (POSIX permissions)."""
    if key_file is None or sys.platform == "win32":
        return None
    try:
        mode = Path(key_file).stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{key_file} can be read by others than its owner: `chmod 600 {key_file}`"
    return None


def quarantine_path(out: Path) -> Path:
    """Where the quarantine of ``out`` goes: ``<stem>.quarantine<suffix>`` beside it.

    Examples
    --------
    >>> quarantine_path(Path("out/referrals.csv")).as_posix()
    'out/referrals.quarantine.csv'
    """
    out = Path(out)
    return out.with_name(f"{out.stem}.quarantine{out.suffix}")


@dataclass(frozen=True)
class PseudonymiseResult:
    """What one run did, in counts: rows read = tokenised + quarantined.

    Attributes
    ----------
    input, output, quarantine : Path
        The files read and written.
    column : str
        The column of NHS numbers.
    rows_read, rows_tokenised, rows_quarantined : int
        Data rows (the header is not a row).
    quarantined_by_reason : dict
        Rows per reason, in the order of :data:`REASONS`.
    distinct_tokens : int
        Distinct valid numbers (people) among the tokenised rows.
    other_columns_like_nhs_numbers : tuple of str
        Other columns whose first :data:`SAMPLE_ROWS` rows look like NHS numbers (the intake
        rule of :mod:`evalkit.intake.identifiers`): written unchanged, so warned about.
    """

    input: Path
    output: Path
    quarantine: Path
    column: str
    rows_read: int
    rows_tokenised: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    distinct_tokens: int = 0
    other_columns_like_nhs_numbers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.rows_read != self.rows_tokenised + self.rows_quarantined:
            raise RuntimeError(  # an invariant, checked even under python -O
                f"{self.input}: rows do not reconcile: read {self.rows_read}, tokenised "
                f"{self.rows_tokenised}, quarantined {self.rows_quarantined}"
            )

    def warnings(self) -> list[str]:
        """Plain-English warnings (other columns that look like NHS numbers)."""
        return [
            f"{self.input}: column {c!r} also looks like NHS numbers (in its first "
            f"{SAMPLE_ROWS:,} rows) and was written unchanged: drop it, or pseudonymise it too"
            for c in self.other_columns_like_nhs_numbers
        ]

    def summary(self) -> str:
        """Counts and files, never a value."""
        why = ", ".join(f"{r} {n:,}" for r, n in self.quarantined_by_reason.items())
        lines = [
            f"pseudonymise {self.input} column {self.column!r}: rows read {self.rows_read:,} = "
            f"tokenised {self.rows_tokenised:,} + quarantined {self.rows_quarantined:,}"
            + (f" ({why})" if why else ""),
            f"distinct people (tokens): {self.distinct_tokens:,}",
            f"wrote {self.output} and {self.quarantine}",
        ]
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings()])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe counts and paths."""
        return {
            "input": str(self.input),
            "output": str(self.output),
            "quarantine": str(self.quarantine),
            "column": self.column,
            "rows_read": self.rows_read,
            "rows_tokenised": self.rows_tokenised,
            "rows_quarantined": self.rows_quarantined,
            "quarantined_by_reason": dict(self.quarantined_by_reason),
            "distinct_tokens": self.distinct_tokens,
            "other_columns_like_nhs_numbers": list(self.other_columns_like_nhs_numbers),
        }


class _Tokeniser:
    """Judges and tokenises values, remembering each distinct value's outcome once."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.seen: dict[str, tuple[str | None, str | None]] = {}
        self.tokens: set[str] = set()
        self.reasons: Counter[str] = Counter()

    def judge(self, value: str | None) -> tuple[str | None, str | None]:
        """``(token, None)`` for a valid number, ``(None, reason)`` otherwise (not counted)."""
        text = "" if value is None else value
        out = self.seen.get(text)
        if out is None:
            digits = normalise_nhs_number(text)
            problem = nhs_number_problem(digits)
            out = (None, problem) if problem else (token(self.key, digits), None)
            self.seen[text] = out
            if out[0] is not None:
                self.tokens.add(out[0])
        return out

    def __call__(self, value: str | None) -> tuple[str | None, str | None]:
        """:meth:`judge`, counting the reason of a value that is not a valid number."""
        out = self.judge(value)
        if out[1] is not None:
            self.reasons[out[1]] += 1
        return out


def _format(path: Path, what: str) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PseudonymisationError(
            f"{path}: the {what} must be a .csv or .parquet file (named by its suffix)"
        )
    return fmt


def pseudonymise_file(
    input: Path, *, column: str, out: Path, key: bytes, delimiter: str = ","
) -> PseudonymiseResult:
    """Replace the NHS numbers in ``input[column]`` with tokens; quarantine invalid rows.

    Parameters
    ----------
    input : Path
        A CSV (UTF-8, first line the header) or Parquet file.
    column : str
        The column of NHS numbers (spaces and dashes allowed).
    out : Path
        The output, in the same format; the quarantine goes beside it (:func:`quarantine_path`)
        with ``row_number`` (1-based data row, as intake numbers rows), ``column`` and
        ``reason``.
    key : bytes
        The key (:func:`load_key`).
    delimiter : str
        CSV field separator (CSV only).

    Returns
    -------
    PseudonymiseResult
        Counts that reconcile: rows read = tokenised + quarantined.

    Raises
    ------
    PseudonymisationError
        A short key, an unknown format, a missing column, an output that would overwrite the
        input, or a file that cannot be read. Nothing is written then.
    """
    input, out = Path(input), Path(out)
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymisationError(f"the key is {len(key)} bytes; at least {MIN_KEY_BYTES}")
    fmt = _format(input, "input")
    if _format(out, "output") != fmt:
        raise PseudonymisationError(
            f"{out}: the output must have the input's format ({fmt}), so that every other "
            "column is written unchanged"
        )
    if not input.is_file():
        raise PseudonymisationError(f"{input}: file not found")
    qpath = quarantine_path(out)
    for p in (out, qpath):
        if p.resolve() == input.resolve():
            raise PseudonymisationError(
                f"{p}: would overwrite the input; raw files are never edited"
            )
    tok = _Tokeniser(key)
    run = _csv if fmt == "csv" else _parquet
    rows_read, others = run(input, column, out, qpath, tok, delimiter)
    by_reason = {r: tok.reasons[r] for r in REASONS if tok.reasons[r]}
    quarantined = sum(by_reason.values())
    return PseudonymiseResult(
        input=input,
        output=out,
        quarantine=qpath,
        column=column,
        rows_read=rows_read,
        rows_tokenised=rows_read - quarantined,
        rows_quarantined=quarantined,
        quarantined_by_reason=by_reason,
        distinct_tokens=len(tok.tokens),
        other_columns_like_nhs_numbers=others,
    )


def _missing_column(path: Path, column: str, columns: list[str]) -> PseudonymisationError:
    return PseudonymisationError(
        f"{path}: no column {column!r}; the file has {', '.join(map(repr, columns))}"
    )


def _looks_like(samples: Mapping[str, list[str | None]]) -> tuple[str, ...]:
    return tuple(c for c, v in samples.items() if nhs_number_shares(v).looks_like_nhs_numbers)


# --- CSV ------------------------------------------------------------------------------------


def _csv_rows(path: Path, delimiter: str) -> Iterator[list[str]]:
    """The file's rows as lists of text; errors name the line, never its content."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter, strict=True)
            try:
                yield from reader
            except csv.Error:
                raise PseudonymisationError(
                    f"{path} line {reader.line_num}: not valid CSV (a quote is not closed, or "
                    "a field is malformed)"
                ) from None
    except UnicodeDecodeError as exc:
        raise PseudonymisationError(
            f"{path}: not UTF-8 text (at byte {exc.start:,}); export it as UTF-8"
        ) from None


def _csv_header(rows: Iterator[list[str]], path: Path, column: str) -> tuple[list[str], int]:
    """The header, checked, and the position of ``column`` in it."""
    header = next(rows, None)
    if header is None:
        raise PseudonymisationError(f"{path}: the file is empty (no header line)")
    if len(set(header)) != len(header):
        raise PseudonymisationError(f"{path}: the header names a column more than once")
    if column not in header:
        raise _missing_column(path, column, header)
    return header, header.index(column)


def _data_rows(rows: Iterator[list[str]], path: Path, width: int) -> Iterator[list[str]]:
    """Data rows, each with the header's number of fields; blank lines skipped, as DuckDB does.

    In a one-column file a blank line is an empty value, not a blank line.
    """
    n = 0
    for row in rows:
        if not row:
            if width > 1:
                continue
            row = [""]
        n += 1
        if len(row) != width:
            raise PseudonymisationError(
                f"{path} data row {n:,}: {len(row)} fields, the header has {width}"
            )
        yield row


def _csv(
    path: Path,
    column: str,
    out: Path,
    qpath: Path,
    tok: _Tokeniser,
    delimiter: str,
) -> tuple[int, tuple[str, ...]]:
    """Stream a CSV file row by row into the output and the quarantine."""
    rows = _csv_rows(path, delimiter)
    header, at = _csv_header(rows, path, column)
    others = [i for i in range(len(header)) if i != at]
    samples: dict[str, list[str | None]] = {header[i]: [] for i in others}
    n = 0
    with atomic_path(out) as tmp_out, atomic_path(qpath) as tmp_q:
        with (
            tmp_out.open("w", newline="", encoding="utf-8") as fo,
            tmp_q.open("w", newline="", encoding="utf-8") as fq,
        ):
            w_out = csv.writer(fo, delimiter=delimiter, lineterminator="\n")
            w_q = csv.writer(fq, lineterminator="\n")
            w_out.writerow(header)
            w_q.writerow(["row_number", "column", "reason"])
            for n, row in enumerate(_data_rows(rows, path, len(header)), start=1):
                value, reason = tok(row[at])
                if value is None:
                    w_q.writerow([n, column, reason])
                    continue
                row[at] = value
                w_out.writerow(row)
                if n <= SAMPLE_ROWS:
                    for i in others:
                        samples[header[i]].append(row[i])
    return n, _looks_like(samples)


# --- Parquet --------------------------------------------------------------------------------


def _as_text(arr: pa.Array, path: Path, column: str) -> pa.Array:
    """A column's values as text: text as it is, integers in decimal; other types refused."""
    t = arr.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)):
        raise PseudonymisationError(
            f"{path}: column {column!r} is {arr.type}; NHS numbers must be text or integers"
        )
    return arr.cast(pa.string())


def _judge_batch(values: pa.Array, tok: _Tokeniser) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Tokens of the valid rows, the keep mask, and the reasons of the other rows.

    Each distinct value of the batch is judged once (dictionary encoding) and the outcomes are
    spread back to the rows with ``take``, so a table with many rows per person costs one HMAC
    per person and no Python work per row.
    """
    enc = values.dictionary_encode()
    judged = [tok.judge(v) for v in enc.dictionary.to_pylist()]
    tokens = pa.array([t for t, _ in judged], type=pa.string()).take(enc.indices)
    keep = pc.is_valid(tokens)
    dropped = pc.invert(keep)
    reasons = pa.array([r for _, r in judged], type=pa.string()).take(enc.indices)
    # A null value has no dictionary entry: its index, and so its reason, is null.
    reasons = pc.fill_null(reasons.filter(dropped), EMPTY)
    return tokens.filter(keep), keep, reasons


def _parquet(
    path: Path,
    column: str,
    out: Path,
    qpath: Path,
    tok: _Tokeniser,
    delimiter: str,
) -> tuple[int, tuple[str, ...]]:
    """Read a Parquet file batch by batch; only ``column`` changes (to text tokens)."""
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        raise PseudonymisationError(f"{path}: not a readable Parquet file") from None
    schema = pf.schema_arrow
    if column not in schema.names:
        raise _missing_column(path, column, schema.names)
    at = schema.get_field_index(column)
    out_schema = schema.set(at, pa.field(column, pa.string()))
    if schema.field(at).type != pa.string() and out_schema.metadata:
        # pandas' metadata would describe the column's old type.
        out_schema = out_schema.with_metadata(
            {k: v for k, v in out_schema.metadata.items() if k != b"pandas"}
        )
    text_columns = [
        f.name
        for f in schema
        if f.name != column and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    ]
    samples: dict[str, list[str | None]] = {c: [] for c in text_columns}
    n = 0
    q_rows: list[int] = []
    q_reasons: list[str] = []
    with atomic_path(out) as tmp_out, atomic_path(qpath) as tmp_q:
        writer = pq.ParquetWriter(tmp_out, out_schema)
        try:
            for batch in _batches(pf, path):
                tokens, keep, reasons = _judge_batch(_as_text(batch.column(at), path, column), tok)
                rows = pc.add(pc.indices_nonzero(pc.invert(keep)), n + 1)
                q_rows += rows.to_pylist()
                batch_reasons = reasons.to_pylist()
                q_reasons += batch_reasons
                tok.reasons.update(batch_reasons)
                arrays = list(batch.filter(keep).columns)
                arrays[at] = tokens
                kept = pa.RecordBatch.from_arrays(arrays, schema=out_schema)
                writer.write_batch(kept)
                if n < SAMPLE_ROWS:
                    head = kept.slice(0, SAMPLE_ROWS - n)
                    for c in text_columns:
                        samples[c] += head.column(c).to_pylist()
                n += batch.num_rows
        finally:
            writer.close()
        quarantine = pa.table(
            {
                "row_number": pa.array(q_rows, type=pa.int64()),
                "column": pa.array([column] * len(q_rows), type=pa.string()),
                "reason": pa.array(q_reasons, type=pa.string()),
            }
        )
        pq.write_table(quarantine, tmp_q)
    return n, _looks_like(samples)


def _batches(pf: pq.ParquetFile, path: Path) -> Iterator[pa.RecordBatch]:
    """The file's record batches; a read error names the file only."""
    it = pf.iter_batches(batch_size=_BATCH_ROWS)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except (pa.ArrowException, OSError):
            raise PseudonymisationError(f"{path}: a row group cannot be read") from None
        yield batch
