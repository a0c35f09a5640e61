"""No NHS number anywhere after pseudonymise -> intake -> report -> provider reports (issue 17).

One small county is written NHS-shaped with synthetic NHS numbers (``--nhs-numbers``: valid
Mod-11, 999 test range) and taken through the whole flow as a key holder and an analyst would:
intake straight from the raw files is refused; ``evalkit pseudonymise`` (the command line, key in
``EVALKIT_PSEUDONYMISATION_KEY``) tokenises every file's person column; intake takes the
tokenised files with the composed mapping; the mindsong report is built; ``evalkit providers``
writes each provider's data-quality report and problem list. Then every file written by those
steps (processed tables, quarantine, intake and source records, command logs, captured output
and log records, the report folder with its notebook and figures, CSVs, provider reports, the
problem lists, pseudonymise's outputs and quarantines) is scanned for every input NHS number,
plain (``9991234567``), spaced (``999 123 4567``) and dashed (``999-123-4567``): as bytes (PNG
metadata, Parquet footers and statistics) and, for Parquet, after decoding every column to text.

The scan can fail: the same scanner finds every number in the raw input, and finds the spaced and
dashed forms inside a compressed Parquet column. A number counts where its ten digits stand
alone (not inside a longer run of digits), so a float's digits never match by chance.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from evalkit import config
from evalkit.intake import IntakeError, run_intake
from evalkit.reporting import render_report
from evalkit.synth import generate_county
from evalkit.synth.nhs_layout import MANIFEST_FILE, MAPPING_FILE

SEED = 17  # not the demo's seed: no other test writes these numbers
POPULATION = 20_000  # mindsong builds at 20,000 (at 10,000 its MDEs fail: cohort too small)
KEY = "evalkit flow test key, never a real one (34+ bytes)"
PROGRAMME = "mindsong"
#: Ten digits standing alone, optionally in 3-3-4 groups separated by a space or a dash.
_NUMBER = re.compile(rb"(?<![0-9])([0-9]{3})[ -]?([0-9]{3})[ -]?([0-9]{4})(?![0-9])")
#: Files the scan must at least have read (the flow writes far more; see ``test_scan_covers``).
MIN_FILES = 40


def _numbers_in(data: bytes) -> set[str]:
    """Every ten-digit number in ``data``, plain, spaced or dashed, normalised to ten digits."""
    return {b"".join(m.groups()).decode("ascii") for m in _NUMBER.finditer(data)}


def _parquet_text(path: Path) -> Iterator[bytes]:
    """Every column of a Parquet file decoded to text, a batch of rows at a time."""
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=200_000):
        for col in batch.columns:
            if pa.types.is_dictionary(col.type):
                col = col.dictionary_decode()
            text = pc.cast(col, pa.string()) if not pa.types.is_string(col.type) else col
            yield "\n".join(v or "" for v in text.to_pylist()).encode("utf-8")


def _found(path: Path, numbers: frozenset[str]) -> set[str]:
    """The input numbers in one file: its bytes, and for Parquet its decoded columns."""
    hits = _numbers_in(path.read_bytes()) & numbers
    if path.suffix == ".parquet":
        for text in _parquet_text(path):
            hits |= _numbers_in(text) & numbers
    return hits


def _files(*folders: Path) -> list[Path]:
    return sorted(p for f in folders for p in f.rglob("*") if p.is_file())


class _Capture(logging.Handler):
    """Every log record of the flow, at every level, as text (a file the scan reads)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@contextlib.contextmanager
def _fd_capture(path: Path) -> Iterator[None]:
    """Both stdout and stderr, the processes' file descriptors too (the kernel), into ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        buf_out, buf_err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(buf_out), contextlib.redirect_stderr(buf_err):
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    with open(path, "a", encoding="utf-8") as f:
        f.write(buf_out.getvalue() + buf_err.getvalue())


def _cli(args: list[str], root: Path, capture: Path, env: dict[str, str] | None = None) -> None:
    """Run one ``evalkit`` command with its logs under ``root/logs``; keep all it printed."""
    from typer.testing import CliRunner

    from evalkit.cli import app

    env = {
        "EVALKIT_ROOT": str(root),
        "EVALKIT_PROGRAMMES": str(config.programmes_dir()),
        **(env or {}),
    }
    result = CliRunner().invoke(app, args, env=env)
    with open(capture, "a", encoding="utf-8") as f:
        f.write(f"$ evalkit {' '.join(args)}\n{result.output}\n")
        with contextlib.suppress(ValueError, AttributeError):
            f.write(result.stderr)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The whole flow once; every folder it wrote, the input numbers and its run time."""
    t0, started = time.perf_counter(), time.time()
    root = tmp_path_factory.mktemp("nhs_numbers_flow")
    raw, pseudo, processed = root / "raw", root / "pseudonymised", root / "processed"
    reports, returns, captured = root / "reports", root / "data" / "returns", root / "captured"
    captured.mkdir()
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    capture = _Capture()
    refusal = ""
    steps: dict[str, float] = {}
    try:
        logger.addHandler(capture)
        logger.setLevel(logging.DEBUG)
        synth = generate_county(
            raw,
            programmes=config.load_programmes(),
            instrument_defs=config.instruments(),
            unit_costs=config.load_unit_costs(),
            population=POPULATION,
            seed=SEED,
            fmt="csv",
            progress=False,
            layout="nhs",
            nhs_numbers=True,
        )
        (captured / "synth.txt").write_text(synth.summary(), encoding="utf-8")
        steps["synth"] = time.perf_counter()
        manifest = json.loads((raw / MANIFEST_FILE).read_text(encoding="utf-8"))

        with pytest.raises(IntakeError, match="pseudonymise") as err:  # straight in: refused
            run_intake(raw, root / "refused", mapping=raw / MAPPING_FILE, progress=False)
        refusal = str(err.value)
        (captured / "refused_intake.txt").write_text(refusal, encoding="utf-8")

        pseudo.mkdir()
        for f, column in manifest["person_columns"].items():
            args = ["pseudonymise", str(raw / f), "--column", column, "--out", str(pseudo / f)]
            _cli(args, root, captured / "pseudonymise.txt", {"EVALKIT_PSEUDONYMISATION_KEY": KEY})
            logger.addHandler(capture)  # the command line set up its own logging
            logger.setLevel(logging.DEBUG)
        for f in [*(set(manifest["files"]) - set(manifest["person_columns"])), MAPPING_FILE]:
            (pseudo / f).write_bytes((raw / f).read_bytes())  # files without a person column
        steps["pseudonymise"] = time.perf_counter()

        intake = run_intake(pseudo, processed, mapping=pseudo / MAPPING_FILE, progress=False)
        (captured / "intake.txt").write_text(intake.summary(), encoding="utf-8")
        steps["intake"] = time.perf_counter()
        said: list[str] = []
        with _fd_capture(captured / "report_fd.txt"):
            target = render_report(PROGRAMME, processed, reports, say=said.append)
        (captured / "report_say.txt").write_text("\n".join(said), encoding="utf-8")
        steps["report"] = time.perf_counter()
        args = ["providers", "--processed", str(processed), "--reports", str(reports)]
        _cli([*args, "--returns", str(returns)], root, captured / "providers.txt")
        steps["providers"] = time.perf_counter()
    finally:
        (captured / "log_records.txt").write_text("\n".join(capture.lines), encoding="utf-8")
        logger.handlers[:] = handlers
        logger.setLevel(level)
    numbers: set[str] = set()
    for f, column in manifest["person_columns"].items():
        numbers |= set(_column(raw / f, column))
    return {
        "root": root,
        "raw": raw,
        "report": target,
        "returns": returns,
        "numbers": frozenset(numbers),
        "manifest": manifest,
        "refusal": refusal,
        "seconds": time.perf_counter() - t0,
        "steps": {
            k: v - t for (k, v), t in zip(steps.items(), [t0, *steps.values()], strict=False)
        },
        "started": started,
    }


def _column(path: Path, column: str) -> Iterable[str]:
    """One column of a CSV file as text."""
    opts = pacsv.ConvertOptions(column_types={column: pa.string()}, include_columns=[column])
    return pacsv.read_csv(path, convert_options=opts)[column].to_pylist()


def _project_files_since(started: float) -> list[Path]:
    """Files in the project checkout changed since ``started`` (outside .git and .venv).

    Anything the flow wrote beside the checkout by mistake (a log, a cache) is among them; so are
    other runs' files, which cannot hold this test's numbers (its seed is its own).
    """
    out = []
    for folder, dirs, names in os.walk(config.project_root()):
        dirs[:] = [d for d in dirs if d not in {".git", ".venv", "__pycache__", ".ruff_cache"}]
        for n in names:
            p = Path(folder) / n
            with contextlib.suppress(OSError):
                if p.is_file() and p.stat().st_mtime >= started:
                    out.append(p)
    return out


def _written(flow: dict) -> list[Path]:
    """Every file the flow wrote, except the raw input (the NHS-shaped county itself)."""
    return [p for p in _files(flow["root"]) if flow["raw"] not in p.parents]


def test_the_input_holds_valid_numbers_from_the_test_range(flow: dict) -> None:
    assert len(flow["numbers"]) > POPULATION // 2
    assert all(re.fullmatch(r"999\d{7}", n) for n in flow["numbers"])


def test_the_scanner_finds_every_input_number_in_the_raw_files(flow: dict) -> None:
    """The control: the scan of the raw county finds every number, so the scan below can fail."""
    found: set[str] = set()
    for f in _files(flow["raw"]):
        found |= _found(f, flow["numbers"])
    assert found == flow["numbers"]


def test_the_scanner_finds_numbers_only_parquet_decoding_shows(flow: dict, tmp_path: Path) -> None:
    """An integer column is binary on disk: only decoding finds it; spaced and dashed forms too."""
    a, b, c = sorted(flow["numbers"])[:3]
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "plain": pa.array([int(a)] * 3, pa.int64()),
            "spaced": [f"{b[:3]} {b[3:6]} {b[6:]}"] * 3,
            "dashed": [f"{c[:3]}-{c[3:6]}-{c[6:]}"] * 3,
        }
    )
    pq.write_table(table, path, compression="zstd", write_statistics=False)
    assert a not in _numbers_in(path.read_bytes())
    assert _found(path, flow["numbers"]) == {a, b, c}


def test_intake_straight_from_the_nhs_numbers_is_refused_without_a_number(flow: dict) -> None:
    assert "pseudonymise" in flow["refusal"]
    assert not _numbers_in(flow["refusal"].encode()) & flow["numbers"]


def test_the_flow_wrote_a_report_and_every_providers_report_and_problem_list(flow: dict) -> None:
    assert (flow["report"] / "index.html").is_file()
    assert (flow["report"] / "notebook.ipynb").is_file()
    assert list((flow["report"] / "figures").glob("*.png"))
    providers = flow["root"] / "reports" / "providers"
    slugs = sorted(p.name for p in providers.iterdir() if p.is_dir())
    assert len(slugs) >= 2
    for s in slugs:
        assert (providers / s / "index.html").is_file()
        assert (providers / s / "quality.csv").is_file()
        assert (flow["returns"] / s / "problems.csv").is_file()


def test_scan_covers_every_kind_of_output(flow: dict) -> None:
    files = _written(flow)
    assert len(files) > MIN_FILES
    names = {p.name for p in files}
    suffixes = {p.suffix for p in files}
    assert {"intake_report.json", "source.json", "notebook.ipynb", "problems.csv"} <= names
    assert {".parquet", ".csv", ".png", ".log", ".html", ".txt"} <= suffixes
    assert any(".quarantine" in n for n in names)  # pseudonymise's quarantine files
    logs = list((flow["root"] / "logs").glob("*-pseudonymise.log"))  # one per second
    runs = sum(p.read_text(encoding="utf-8").count(" command: ") for p in logs)
    assert runs == len(flow["manifest"]["person_columns"])


def test_no_input_nhs_number_is_written_anywhere(flow: dict) -> None:
    """Every file of the flow, bytes and decoded Parquet columns: no input number in any form."""
    leaks = {}
    for f in _written(flow):
        hits = _found(f, flow["numbers"])
        if hits:
            leaks[f.relative_to(flow["root"]).as_posix()] = len(hits)
    assert leaks == {}, f"NHS numbers found (file: how many distinct): {leaks}"


def test_no_input_nhs_number_is_written_beside_the_checkout(flow: dict) -> None:
    leaks = {}
    for f in _project_files_since(flow["started"]):
        try:
            hits = _found(f, flow["numbers"])
        except (OSError, pa.ArrowInvalid):  # another run's file, removed or half-written
            continue
        if hits:
            leaks[f.relative_to(config.project_root()).as_posix()] = len(hits)
    assert leaks == {}, f"NHS numbers found (file: how many distinct): {leaks}"


def test_flow_run_time(flow: dict) -> None:
    """Not a limit: the build's run time, printed for the suite's budget (-s shows it)."""
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in flow["steps"].items())
    print(f"\nNHS-numbers flow built in {flow['seconds']:.0f} s ({steps})")
    assert flow["seconds"] > 0
