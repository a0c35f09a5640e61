"""The ``evalkit`` command line: every Makefile target calls one of these commands.

Each run writes a log file to ``logs/`` (command, arguments, versions, timings) so that what was
done can be traced afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from evalkit import __version__
from evalkit.config import ConfigError, project_root

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="evalkit: reproducible evaluation of creative health programmes.",
)
log = logging.getLogger("evalkit")

CONTRACT_TABLES = ("population", "activity", "referrals", "measures")


def _setup_logging(command: str) -> Path:
    """Log to ``logs/<timestamp>-<command>.log`` and INFO to stderr."""
    logs = project_root() / "logs"
    logs.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = logs / f"{stamp}-{command}.log"
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.INFO)
    fh = logging.FileHandler(path, encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(fh)
    sh = logging.StreamHandler(sys.stderr)
    sh.setLevel(logging.WARNING)
    root.addHandler(sh)
    log.info(
        "evalkit %s, Python %s, %s", __version__, platform.python_version(), platform.platform()
    )
    log.info("command: %s", " ".join(sys.argv))
    return path


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    log.error(message)
    raise typer.Exit(code=2)


def _has_raw_tables(raw: Path) -> bool:
    return any((raw / f"{t}.{ext}").exists() for t in CONTRACT_TABLES for ext in ("csv", "parquet"))


@app.command()
def programmes() -> None:
    """List the programmes defined in programmes/*.yaml."""
    from evalkit.config import load_programmes

    try:
        progs = load_programmes()
    except ConfigError as exc:
        _fail(str(exc))
    for slug, prog in progs.items():
        typer.echo(f"{slug:<16} {prog.title}")


@app.command()
def synth(
    scale: Annotated[str, typer.Option(help="demo (60,000 people) or county (660,000)")] = "demo",
    population: Annotated[int | None, typer.Option(help="people; overrides the scale")] = None,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same files")] = 42,
    regime: Annotated[str, typer.Option(help="realistic or observables selection")] = "realistic",
    faults: Annotated[float, typer.Option(help="share of rows made faulty (0 = clean)")] = 0.0,
    format: Annotated[
        str | None,
        typer.Option("--format", help="csv or parquet (default: csv for demo, parquet for county)"),
    ] = None,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("data/raw"),
    with_prescriptions: Annotated[bool, typer.Option(help="also write prescription items")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Generate the synthetic county (tables of the data contract + synthetic_truth.json)."""
    from evalkit.config import instruments, load_programmes, load_unit_costs
    from evalkit.synth import generate_county

    logfile = _setup_logging("synth")
    fmt = format or ("parquet" if scale == "county" else "csv")
    try:
        result = generate_county(
            out,
            programmes=load_programmes(),
            instrument_defs=instruments(),
            unit_costs=load_unit_costs(),
            population=population,
            scale=scale,
            seed=seed,
            regime=regime,
            faults=faults,
            fmt=fmt,
            with_prescriptions=with_prescriptions,
            progress=progress,
        )
    except (ConfigError, ValueError, FileExistsError) as exc:
        _fail(str(exc))
    log.info(result.summary())
    typer.echo(result.summary())
    typer.echo(f"log: {logfile}")


@app.command()
def intake(
    raw: Annotated[Path, typer.Option(help="directory of raw tables")] = Path("data/raw"),
    out: Annotated[Path, typer.Option(help="directory for processed tables")] = Path(
        "data/processed"
    ),
    mapping: Annotated[
        Path | None, typer.Option(help="intake mapping YAML for a real extract")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
) -> None:
    """Validate raw tables into typed Parquet; quarantine rejected rows with reasons."""
    _setup_logging("intake")
    _run_intake(raw, out, mapping, progress)


def _run_intake(raw: Path, out: Path, mapping: Path | None, progress: bool) -> None:
    from evalkit.intake import IntakeError, run_intake

    t0 = time.perf_counter()
    try:
        report = run_intake(raw, out, mapping=mapping, progress=progress)
    except (IntakeError, ConfigError) as exc:
        _fail(str(exc))
    typer.echo(report.summary() if hasattr(report, "summary") else str(report))
    log.info("intake finished in %.1f s", time.perf_counter() - t0)


def _intake_is_stale(raw: Path, out: Path) -> bool:
    """Processed data are stale when missing or when any raw file's hash has changed."""
    from evalkit.intake import is_stale

    return is_stale(raw, out)


@app.command()
def data(
    raw: Annotated[Path, typer.Option(help="directory of raw tables")] = Path("data/raw"),
    out: Annotated[Path, typer.Option(help="directory for processed tables")] = Path(
        "data/processed"
    ),
    seed: Annotated[int, typer.Option(help="seed for the demo county")] = 42,
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
) -> None:
    """Generate the demo county if the raw directory is empty, then run intake if stale."""
    _setup_logging("data")
    _ensure_data(raw, out, seed, progress)


def _ensure_data(raw: Path, out: Path, seed: int, progress: bool) -> None:
    from evalkit.config import instruments, load_programmes, load_unit_costs
    from evalkit.synth import generate_county

    if not _has_raw_tables(raw):
        typer.echo(f"[1/2] {raw} is empty: generating the demo county (seed {seed})")
        result = generate_county(
            raw,
            programmes=load_programmes(),
            instrument_defs=instruments(),
            unit_costs=load_unit_costs(),
            scale="demo",
            seed=seed,
            fmt="csv",
            progress=progress,
        )
        typer.echo(result.summary())
    else:
        typer.echo(f"[1/2] using the raw tables in {raw}")
    if _intake_is_stale(raw, out):
        typer.echo(f"[2/2] intake: {raw} -> {out}")
        _run_intake(raw, out, None, progress)
    else:
        typer.echo(f"[2/2] {out} is up to date with {raw}")


@app.command()
def report(
    programme: Annotated[str, typer.Option(help="programme slug, e.g. mindsong")] = "mindsong",
    raw: Annotated[Path, typer.Option(help="directory of raw tables")] = Path("data/raw"),
    processed: Annotated[Path, typer.Option(help="processed tables")] = Path("data/processed"),
    out: Annotated[Path, typer.Option(help="reports directory")] = Path("reports"),
    seed: Annotated[int, typer.Option(help="seed for the demo county")] = 42,
) -> None:
    """Build reports/<programme>/: data first, then the analyses' results.json and tables."""
    from evalkit.config import load_programme

    _setup_logging(f"report-{programme}")
    try:
        load_programme(programme)
    except ConfigError as exc:
        _fail(str(exc))
    _ensure_data(raw, processed, seed, progress=True)
    _report_one(programme, processed, out)


def _report_one(programme: str, processed: Path, out: Path) -> None:
    from evalkit.reporting.programme import build_programme_outputs

    t0 = time.perf_counter()

    def say(msg: str) -> None:
        typer.echo(f"[{programme}] {msg} ({time.perf_counter() - t0:.0f} s)")
        log.info("%s: %s", programme, msg)

    target = build_programme_outputs(programme, processed, out, progress=say)
    typer.echo(f"[{programme}] wrote {target}/results.json and table CSVs")
    typer.secho(
        f"The HTML report for '{programme}' is not built yet (the report notebooks are a later "
        "issue); results.json and the CSV tables are ready.",
        fg=typer.colors.YELLOW,
    )


@app.command()
def reports(
    raw: Annotated[Path, typer.Option(help="directory of raw tables")] = Path("data/raw"),
    processed: Annotated[Path, typer.Option(help="processed tables")] = Path("data/processed"),
    out: Annotated[Path, typer.Option(help="reports directory")] = Path("reports"),
) -> None:
    """Build every programme's results (the comparison page comes with the HTML reports)."""
    from evalkit.config import load_programmes

    _setup_logging("reports")
    _ensure_data(raw, processed, 42, progress=True)
    for slug in load_programmes():
        _report_one(slug, processed, out)


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m evalkit.cli``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
