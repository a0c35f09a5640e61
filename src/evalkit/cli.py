"""The ``evalkit`` command line: every Makefile target calls one of these commands.

Each run writes a log file to ``logs/`` (command, arguments, versions, timings) so that what was
done can be traced afterwards; a failure is one line ending with that log's path, never a
traceback unless ``--debug`` (:mod:`evalkit.cli_errors`). A folder or choice has one option name
in every command that takes it: ``--raw``, ``--processed``, ``--reports``, ``--demo``,
``--plans``, ``--mapping``, ``--engine``, ``--programme``; ``--out`` only names a single output
file. The names used before 0.4 are hidden aliases that print one deprecation line.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from evalkit.cli_errors import EvalkitGroup, log, notebook_failure, renamed, warn
from evalkit.cli_errors import fail as _fail
from evalkit.cli_errors import setup_logging as _setup_logging
from evalkit.cli_options import (
    DemoOption,
    EngineOption,
    MappingOption,
    OldOut,
    ProcessedOption,
    RawOption,
    ReportsOption,
    SeedOption,
)
from evalkit.config import ConfigError, project_root

app = typer.Typer(
    cls=EvalkitGroup,
    add_completion=False,
    no_args_is_help=True,
    help="evalkit: reproducible evaluation of creative health programmes.",
)


@app.callback()
def _options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="show the traceback of a failure (accepted anywhere on the command line; "
            "or EVALKIT_DEBUG=1)",
        ),
    ] = False,
) -> None:
    """evalkit: reproducible evaluation of creative health programmes."""


@app.command()
def programmes() -> None:
    """List the programmes defined in programmes/*.yaml."""
    from evalkit.config import load_programmes, programmes_dir

    _setup_logging("programmes")
    try:
        progs = load_programmes()
    except ConfigError as exc:
        _fail(str(exc))
    if not progs:
        _fail(f"{programmes_dir()}: no programme configs (<slug>.yaml); add one (README, Layout)")
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
    demo: Annotated[
        Path | None,
        typer.Option(
            help="folder of the synthetic county: data/demo by default, data/demo/nhs with "
            "--layout nhs (so the demo county the reports use stays in place); never data/raw, "
            "which is the user's"
        ),
    ] = None,
    with_prescriptions: Annotated[bool, typer.Option(help="also write prescription items")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    pool: Annotated[
        str, typer.Option(help="all, or eligible: only people who could join a programme")
    ] = "all",
    world: Annotated[
        str,
        typer.Option(
            help="hard (default: referral any day, driven by use up to it; shock; negative "
            "control) or legacy (the generator before issue #14)"
        ),
    ] = "hard",
    layout: Annotated[
        str,
        typer.Option(
            help="contract (the data contract's four tables) or nhs (NHS-shaped multi-file CSV "
            "extracts: GP register, SUS+, ECDS, GP appointments, 111, the minimum dataset per "
            "provider, with nhs_mapping.yaml beside them)"
        ),
    ] = "contract",
    nhs_numbers: Annotated[
        bool,
        typer.Option(
            "--nhs-numbers",
            help="with --layout nhs: synthetic NHS numbers (999 test range) in the person "
            "columns, for evalkit pseudonymise to replace before intake",
        ),
    ] = False,
    old_out: OldOut = None,
) -> None:
    """Generate the synthetic county (tables of the data contract + synthetic_truth.json)."""
    from evalkit.config import instruments, load_programmes, load_unit_costs
    from evalkit.synth import generate_county

    logfile = _setup_logging("synth")
    out = renamed("--out", "--demo", old_out, demo, None)
    if out is None:
        out = Path("data/demo/nhs") if layout == "nhs" else Path("data/demo")
    if out.resolve() == (project_root() / "data" / "raw").resolve():
        _fail(
            "data/raw holds only the data you put there; evalkit never writes it. The synthetic "
            "county goes to data/demo (the default) or another --demo folder."
        )
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
            pool=pool,
            world=world,
            layout=layout,
            nhs_numbers=nhs_numbers,
        )
    except FileExistsError as exc:  # a county there that is not synthetic, or a file in the way
        _fail(str(exc) if exc.errno is None else f"--demo {out}: {exc.strerror}: {exc.filename}")
    except (ConfigError, ValueError) as exc:
        _fail(str(exc))
    log.info(result.summary())
    typer.echo(result.summary())
    typer.echo(f"log: {logfile}")


@app.command()
def intake(
    raw: Annotated[Path, typer.Option(help="directory of raw tables")] = Path("data/raw"),
    processed: Annotated[Path, typer.Option(help="directory for processed tables")] = Path(
        "data/processed"
    ),
    mapping: MappingOption = None,
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
    engine: EngineOption = None,
    old_out: OldOut = None,
) -> None:
    """Validate raw tables into typed Parquet; quarantine rejected rows with reasons.

    Intake's checks run on embedded DuckDB; with ``--engine postgres`` the accepted tables are
    then loaded into the warehouse schema the reports read.
    """
    _setup_logging("intake")
    processed = renamed("--out", "--processed", old_out, processed, Path("data/processed"))
    _check_engine(engine)
    _run_intake(raw, processed, mapping, progress)
    _use_engine(engine, processed)


def _run_intake(raw: Path, out: Path, mapping: Path | None, progress: bool) -> None:
    from evalkit.intake import IntakeError, run_intake

    t0 = time.perf_counter()
    try:
        report = run_intake(raw, out, mapping=mapping, progress=progress)
    except (IntakeError, ConfigError) as exc:
        _fail(str(exc))
    typer.echo(report.summary() if hasattr(report, "summary") else str(report))
    log.info("intake finished in %.1f s", time.perf_counter() - t0)


@app.command()
def pseudonymise(
    input: Annotated[Path, typer.Argument(help="CSV or Parquet file holding NHS numbers")],
    column: Annotated[str, typer.Option(help="the column of NHS numbers")],
    out: Annotated[
        Path, typer.Option(help="output file, same format; its quarantine is written beside it")
    ],
    key_file: Annotated[
        Path | None,
        typer.Option(help="file holding the key (else $EVALKIT_PSEUDONYMISATION_KEY)"),
    ] = None,
    delimiter: Annotated[str, typer.Option(help="CSV field separator")] = ",",
) -> None:
    """Replace NHS numbers with keyed tokens; run by the key holder only, never a provider."""
    from evalkit.intake import IntakeError
    from evalkit.intake.pseudonymise import key_file_warning, load_key, pseudonymise_file

    _setup_logging("pseudonymise")
    try:
        key = load_key(key_file)
        result = pseudonymise_file(input, column=column, out=out, key=key, delimiter=delimiter)
    except IntakeError as exc:  # names files, columns and counts, never a value
        _fail(str(exc), trace=False)
    except Exception as exc:  # its message or traceback could hold a value: never shown
        _fail(
            f"{input}: pseudonymise failed ({type(exc).__name__}); nothing was written",
            trace=False,
        )
    warning = key_file_warning(key_file)
    if warning:
        warn(warning)
    typer.echo(result.summary())  # its warnings included
    log.info(result.summary())


def _check_engine(kind: str | None) -> None:
    """Fail at once on an unknown ``--engine`` (before any data are prepared)."""
    from evalkit import engines

    try:
        engines.choose(kind)
    except engines.EngineChoiceError as exc:
        _fail(str(exc))


def _use_engine(kind: str | None, processed: Path | None = None) -> None:
    """Choose the engine for this command and its report kernels; load PostgreSQL if needed.

    With ``processed`` and PostgreSQL, the warehouse schema is (re)loaded from that folder when
    its load record differs, so a report is always of the data its provenance names.
    """
    from evalkit import engines
    from evalkit.engine import EngineError

    try:
        choice = engines.choose(kind)
        engines.use(choice)
        log.info("engine: %s", choice.describe())
        if processed is not None and choice.kind != "duckdb":
            t0 = time.perf_counter()
            loaded = engines.ensure_loaded(choice, processed)
            if loaded:
                rows = sum(loaded.values())
                typer.echo(
                    f"[engine] loaded {processed} into {choice.describe()}: {rows:,} rows "
                    f"({time.perf_counter() - t0:.0f} s)"
                )
            if choice.kind == "spark":  # the kernels start Spark; only check it can start
                missing = engines.spark_available()
                if missing:
                    _fail(missing)
            else:
                engines.connect(choice)  # an unreachable server fails here, in one line
    except (engines.EngineChoiceError, EngineError) as exc:
        _fail(str(exc))


@app.command()
def data(
    raw: RawOption = Path("data/raw"),
    processed: ProcessedOption = Path("data/processed"),
    mapping: MappingOption = None,
    demo: DemoOption = None,
    seed: SeedOption = None,
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
    engine: EngineOption = None,
    old_out: OldOut = None,
) -> None:
    """Intake of the real data (with its mapping); the demo county in data/demo if there is none."""
    _setup_logging("data")
    processed = renamed("--out", "--processed", old_out, processed, Path("data/processed"))
    _check_engine(engine)
    used = _ensure_data(raw, processed, seed, progress, mapping=mapping, demo=demo)
    _use_engine(engine, used)


def _ensure_data(
    raw: Path,
    out: Path,
    seed: int | None,
    progress: bool,
    *,
    mapping: Path | None = None,
    demo: Path | None = None,
) -> Path:
    """What the report is built from (:func:`evalkit.reporting.pipeline.ensure_data`).

    Returns the processed folder to build from; any doubt about the data is one error.
    """
    from evalkit.intake import IntakeError
    from evalkit.reporting.pipeline import DataError, ensure_data

    def say(msg: str) -> None:
        typer.echo(f"[data] {msg}")
        log.info("data: %s", msg)

    if str(raw) and not raw.is_dir():
        _fail(
            f"--raw {raw}: no such folder. Put the extract there, or leave --raw out to use "
            "data/raw (the demo county when data/raw is empty)"
        )
    try:
        choice = ensure_data(
            raw, out, demo=demo, mapping=mapping, seed=seed, progress=progress, say=say
        )
    except (DataError, IntakeError, ConfigError, ValueError, FileExistsError) as exc:
        _fail(str(exc))
    log.info("data: %s, processed %s", choice.kind, choice.processed)
    return choice.processed


def _resolved_processed(processed: Path | None) -> Path:
    """``processed`` if given, else the folder a report would be built from (nothing run)."""
    from evalkit.reporting.pipeline import DataError, resolve_data

    if processed is not None:
        if not processed.is_dir():
            _fail(f"--processed {processed}: no such folder; run `make data` (evalkit data) first")
        return processed
    try:
        return resolve_data().processed
    except DataError as exc:
        _fail(str(exc))
        raise  # pragma: no cover - _fail exits


def _check_programme(programme: str) -> Any:
    """The programme's config; an unknown or invalid one fails with the programmes there are."""
    from evalkit.config import load_programme, load_programmes

    try:
        return load_programme(programme)
    except (ConfigError, FileNotFoundError, KeyError) as exc:
        message = str(exc)
        if "available" not in message:
            try:
                message += f"; available: {', '.join(load_programmes())}"
            except ConfigError:
                pass
        _fail(message)
        raise  # pragma: no cover - _fail exits


@app.command()
def report(
    programme: Annotated[str, typer.Option(help="programme slug, e.g. mindsong")] = "mindsong",
    raw: RawOption = Path("data/raw"),
    processed: ProcessedOption = Path("data/processed"),
    reports: ReportsOption = Path("reports"),
    mapping: MappingOption = None,
    demo: DemoOption = None,
    seed: SeedOption = None,
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
    engine: EngineOption = None,
    old_out: OldOut = None,
) -> None:
    """Build reports/<programme>/: data if needed, the executed notebook, HTML and checks."""
    _setup_logging(f"report-{programme}")
    reports = renamed("--out", "--reports", old_out, reports, Path("reports"))
    _check_programme(programme)
    _check_engine(engine)
    used = _ensure_data(raw, processed, seed, progress, mapping=mapping, demo=demo)
    _use_engine(engine, used)
    _report_one(programme, used, reports, progress)
    _index(reports)


def _report_one(programme: str, processed: Path, out: Path, progress: bool) -> None:
    from evalkit.reporting import ReportError, render_report

    t0 = time.perf_counter()

    def say(msg: str) -> None:
        typer.echo(f"[{programme}] {msg} ({time.perf_counter() - t0:.0f} s)")
        log.info("%s: %s", programme, msg)

    from papermill.exceptions import PapermillExecutionError

    try:
        target = render_report(programme, processed, out, progress=progress, say=say)
    except ReportError as exc:
        _fail(str(exc))
    except PapermillExecutionError as exc:  # a cell failed: which, and why, in one line
        _fail(f"{programme}: {notebook_failure(exc)}")
    typer.echo(f"[{programme}] wrote {target}/index.html ({time.perf_counter() - t0:.0f} s)")
    from evalkit.reporting.small import built_scope

    scope, reason = built_scope(target)
    if scope != "full":  # a programme with no (or few) participants: say so once, exit 0
        typer.echo(f"[{programme}] {reason} The report says so.")
        log.info("%s: %s report (%s)", programme, scope, reason)


def _index(out: Path) -> None:
    from evalkit.reporting import build_index

    path = build_index(out)
    typer.echo(f"[index] wrote {path}")


@app.command()
def reports(
    raw: RawOption = Path("data/raw"),
    processed: ProcessedOption = Path("data/processed"),
    reports: ReportsOption = Path("reports"),
    mapping: MappingOption = None,
    demo: DemoOption = None,
    seed: SeedOption = None,
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
    engine: EngineOption = None,
    old_out: OldOut = None,
) -> None:
    """Build every programme's report and the comparison page reports/index.html."""
    from evalkit.config import load_programmes

    _setup_logging("reports")
    out = renamed("--out", "--reports", old_out, reports, Path("reports"))
    _check_engine(engine)
    try:
        slugs = list(load_programmes())
    except ConfigError as exc:
        _fail(str(exc))
    used = _ensure_data(raw, processed, seed, progress, mapping=mapping, demo=demo)
    _use_engine(engine, used)
    for slug in slugs:
        _report_one(slug, used, out, progress)
    _index(out)


@app.command()
def check(
    reports: ReportsOption = Path("reports"),
    processed: Annotated[
        Path | None,
        typer.Option(help="processed tables, for person ids (default: what reports use)"),
    ] = None,
    old_out: OldOut = None,
) -> None:
    """Scan the reports for small counts and identifiers; exit 1 on any finding."""
    from evalkit.reporting.pipeline import check_reports

    _setup_logging("check")
    out = renamed("--out", "--reports", old_out, reports, Path("reports"))
    slugs = sorted(p.parent.name for p in out.glob("*/results.json"))
    if not slugs:
        what = "no such folder" if not out.is_dir() else "no report in it (no */results.json)"
        _fail(f"--reports {out}: {what}, so nothing was checked; build one first (make report)")
    result = check_reports(out, slugs, _resolved_processed(processed))
    typer.echo(result.summary())
    if not result.ok:
        raise typer.Exit(code=1)


@app.command()
def providers(
    processed: Annotated[
        Path | None,
        typer.Option(help="processed tables (default: the folder a report would be built from)"),
    ] = None,
    reports: Annotated[
        Path, typer.Option(help="reports folder: provider reports go in its providers/")
    ] = Path("reports"),
    returns: Annotated[
        Path, typer.Option(help="row-level problem lists for each provider (outside reports/)")
    ] = Path("data/returns"),
    old_data: Annotated[Path | None, typer.Option("--data", hidden=True)] = None,
    old_out: Annotated[Path | None, typer.Option("--out", hidden=True)] = None,
) -> None:
    """Provider data-quality reports in reports/providers/; problem lists in data/returns/."""
    from evalkit.reporting.pipeline import person_ids
    from evalkit.reporting.providers import (
        provider_quality,
        provider_slug,
        write_provider_reports,
    )

    _setup_logging("providers")
    data = renamed("--data", "--processed", old_data, processed, None)
    # The old --out named the provider folder itself, --reports names the reports folder.
    out = renamed("--out", "--reports", old_out, reports / "providers", Path("reports/providers"))
    processed = _resolved_processed(data)
    try:
        quality = provider_quality(processed)
        write_provider_reports(quality, out, returns, person_ids=person_ids(processed))
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    for p in quality.providers:
        slug = provider_slug(p)
        typer.echo(f"[providers] {p}: {out / slug}/index.html, {returns / slug}/problems.csv")


@app.command()
def power(
    programme: Annotated[str, typer.Option(help="programme slug")] = "mindsong",
    effect: Annotated[
        float | None, typer.Option(help="relative fall to detect: 0.2 = a 20% fall")
    ] = None,
    participants: Annotated[int | None, typer.Option(min=1, help="planned participants")] = None,
    setting: Annotated[str, typer.Option(help="activity setting")] = "emergency_admission",
    months: Annotated[int, typer.Option(min=1, help="window after referral, months")] = 6,
    ratio: Annotated[
        int | None,
        typer.Option(min=1, help="controls per participant (default: the programme's)"),
    ] = None,
    processed: Annotated[
        Path | None, typer.Option(help="processed tables (default: what reports use)")
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Participants needed to detect --effect, or what --participants could detect."""
    from evalkit.analysis.power import power_plan

    _setup_logging("power")
    settings = _check_programme(programme).outcomes.settings
    if (effect is None) == (participants is None):
        _fail("give exactly one of --effect (e.g. 0.2) or --participants (e.g. 150)")
    if effect is not None and not (-10 < effect < 1 and effect != 0):
        _fail(f"--effect {effect}: a relative fall below 1, e.g. 0.2 for a 20% fall")
    if setting not in settings:
        _fail(f"--setting {setting}: not an outcome of {programme}; one of {', '.join(settings)}")
    processed = _resolved_processed(processed)
    if not (processed / "intake_report.json").exists():
        _fail(f"no processed data in {processed}: run `make data` first")
    _use_engine(engine, processed)
    from evalkit.reporting import quiet

    try:
        with quiet():
            result = power_plan(
                processed,
                programme,
                effect=effect,
                participants=participants,
                setting=setting,
                months=months,
                ratio=ratio,
            )
    except ValueError as exc:
        _fail(f"{programme}: {exc}")
    typer.echo(result.summary())
    log.info(result.summary())


@app.command()
def load(
    engine: Annotated[str, typer.Option("--engine", help="postgres or spark")] = "postgres",
    processed: Annotated[
        Path | None, typer.Option(help="processed tables (default: what reports use)")
    ] = None,
) -> None:
    """Put the processed tables where the engine reads them (PostgreSQL: its own schema).

    PostgreSQL gets every processed table in ``$EVALKIT_DATABASE_SCHEMA`` (default
    evalkit_processed), replaced whole, with a load record that reports check. Spark reads the
    processed Parquet where it is, so there is nothing to copy.
    """
    from evalkit import engines
    from evalkit.engine import EngineError

    _setup_logging("load")
    _check_engine(engine)
    processed = _resolved_processed(processed)
    if not (processed / "intake_report.json").exists():
        _fail(f"no processed data in {processed}: run `make data` first")
    try:
        choice = engines.choose(engine)
        if choice.kind != "postgres":
            engines.connect(choice)
            typer.echo(f"{choice.describe()} reads {processed}/*.parquet in place: nothing to load")
            return
        t0 = time.perf_counter()
        loaded = engines.load_postgres(choice, processed)
    except (engines.EngineChoiceError, EngineError) as exc:
        _fail(str(exc))
    for name, rows in loaded.items():
        typer.echo(f"[load] {choice.schema}.{name}: {rows:,} rows")
    took = time.perf_counter() - t0
    typer.echo(f"[load] {processed} -> {choice.describe()} in {took:.1f} s")
    log.info("load: %s rows %s in %.1f s", choice.describe(), loaded, took)


plan_app = typer.Typer(help="Locked analysis plans: freeze a programme's options before analysis.")
app.add_typer(plan_app, name="plan")


@plan_app.command("lock")
def plan_lock(
    programme: Annotated[str, typer.Option(help="programme slug")] = "mindsong",
    plans: Annotated[Path, typer.Option(help="where lock files live")] = Path("plans"),
    force: Annotated[bool, typer.Option(help="replace an existing lock")] = False,
    old_plans_dir: Annotated[Path | None, typer.Option("--plans-dir", hidden=True)] = None,
) -> None:
    """Freeze the programme's resolved analysis options into plans/<programme>.lock.json."""
    import json

    from evalkit.reporting.plan import lock_plan

    _setup_logging("plan-lock")
    plans_dir = renamed("--plans-dir", "--plans", old_plans_dir, plans, Path("plans"))
    _check_programme(programme)
    try:
        path = lock_plan(programme, plans_dir, force=force)
    except FileExistsError as exc:
        _fail(str(exc).replace("force=True", "--force"))
    doc = json.loads(path.read_text())
    typer.echo(f"locked {programme} on {doc['locked_on']}: {path} (sha256 {doc['sha256']})")


@plan_app.command("show")
def plan_show(
    programme: Annotated[str, typer.Option(help="programme slug")] = "mindsong",
) -> None:
    """Print the programme's resolved analysis plan (what `plan lock` would freeze)."""
    import json

    from evalkit.reporting.plan import plan_hash, resolved_plan

    _setup_logging("plan-show")
    _check_programme(programme)
    plan = resolved_plan(programme)
    typer.echo(json.dumps(plan, indent=1, sort_keys=True))
    typer.echo(f"sha256 {plan_hash(plan)}")


mapping_app = typer.Typer(help="Intake mappings: draft one for an extract no preset fits.")
app.add_typer(mapping_app, name="mapping")


@mapping_app.command("draft")
def mapping_draft(
    raw_dir: Annotated[
        Path | None,
        typer.Argument(help="folder of the extract's CSV / Parquet files (or --raw)"),
    ] = None,
    raw: Annotated[
        Path | None, typer.Option(help="folder of the extract's CSV / Parquet files")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write the draft here (default: stdout)")] = None,
    rows: Annotated[
        int, typer.Option(min=1, help="rows read from the start of each file")
    ] = 20_000,
) -> None:
    """Draft a mapping: each file's columns, kinds and sample codes (masked), as valid YAML."""
    from evalkit.intake import IntakeError
    from evalkit.intake.draft import draft_mapping
    from evalkit.presets import PRESETS_SUBDIR

    _setup_logging("mapping-draft")
    if raw_dir is not None and raw is not None and raw_dir != raw:
        _fail(f"two folders given ({raw_dir} and --raw {raw}): give the extract's folder once")
    raw_dir = raw_dir or raw
    if raw_dir is None:
        _fail("which extract? give its folder: evalkit mapping draft --raw <folder>")
    if out is not None and out.resolve().is_relative_to(raw_dir.resolve()):
        _fail(f"{out}: inside {raw_dir}, which evalkit only reads; write the draft elsewhere")
    try:
        draft = draft_mapping(raw_dir, rows=rows, presets_dir=project_root() / PRESETS_SUBDIR)
    except IntakeError as exc:
        _fail(str(exc))
    if out is None:
        typer.echo(draft.yaml(), nl=False)
    else:
        from evalkit.files import write_text

        write_text(draft.yaml(), out)
        typer.echo(draft.summary())
        typer.echo(f"wrote {out}: fill in the commented columns, then evalkit intake --mapping")
    log.info(draft.summary())


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m evalkit.cli``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
