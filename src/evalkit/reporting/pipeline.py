"""From raw data to ``reports/<slug>/``: data, notebook execution, HTML, disclosure check.

``make report PROGRAMME=mindsong`` calls :func:`render_report` through the CLI:

1. :func:`ensure_data` decides what the report is built from (:func:`resolve_data`): real
   processed data when there are any, else the files in ``data/raw`` (with their mapping), else
   the demo county in ``data/demo``; and runs intake when the processed data are missing or
   stale. evalkit never writes into ``data/raw``, and never falls back to the demo county
   when there is real data;
2. papermill executes ``notebooks/report.ipynb`` with the programme's parameters; the notebook
   calls :func:`evalkit.reporting.build_report`, which runs every analysis once and writes
   ``results.json``, table CSVs and figure PNGs into a staging folder;
3. nbconvert renders the executed notebook to ``index.html`` with every input cell removed
   (from the same execution, never a second run);
4. the disclosure checker scans the staging folder; only a clean report replaces the old one
   (:func:`evalkit.files.swap_folder`), so an interrupted or failed run never leaves a
   half-written report in place. Builds of one programme run one at a time, and each first
   removes what a killed one left (``docs/decisions/crash-safety.md``).

:func:`build_index` then writes the comparison page, ``reports/index.html``, from every built
report's ``results.json`` (template ``templates/sections/comparison.html.j2``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.config import instruments, load_programme, load_programmes, load_unit_costs
from evalkit.contract import TABLES
from evalkit.files import (
    BUILD_PID_ENV,
    LockTimeout,
    build_lock,
    clean_leftovers,
    swap_folder,
    write_text,
)
from evalkit.intake.source_record import SOURCE_FILE, TRUTH_FILE, read_source
from evalkit.intake.staleness import REPORT_FILE
from evalkit.reporting.checker import CheckResult, check_outputs
from evalkit.reporting.notebook_paths import scrub_paths

NOTEBOOK = "notebooks/report.ipynb"
#: PYTHONHASHSEED of the report kernel (and of nbval's, via the Makefile): reproducible bytes.
HASH_SEED = "0"
#: The report kernel's CPU code paths, fixed so that the same inputs give the same bytes on any
#: x86-64 machine with AVX2: OpenBLAS's Haswell kernels (not the ones it would pick for this
#: CPU), numpy's dispatch capped at x86-64-v3 (no AVX-512 loops), numba compiling for Haswell.
#: A different CPU otherwise changes the last bits of some fits, and now and then a published
#: figure's last digit (assumptions log ENV-3). Ignored where it does not apply (e.g. on ARM).
CPU_ENV: dict[str, str] = {
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "NUMBA_CPU_NAME": "haswell",
}
TEMPLATES = Path(__file__).parent / "templates"
Say = Callable[[str], None]
#: How long a report build waits for another build of the same programme (s).
LOCK_TIMEOUT = 2 * 3600.0


class ReportError(RuntimeError):
    """A report could not be built (missing data, failed notebook, disclosure finding)."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence third-party warnings inside report cells (they would differ run to run)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block (the kernel inherits them)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def has_raw_tables(raw: str | Path) -> bool:
    """Whether ``raw`` holds at least one contract table (CSV or Parquet)."""
    raw = Path(raw)
    return any((raw / f"{t}.{ext}").exists() for t in TABLES for ext in ("csv", "parquet"))


#: Files in a raw folder that are not data: git's placeholder and the folder's own notes.
NOT_DATA = frozenset({".gitkeep", "README.md"})


class DataError(ReportError):
    """What to build a report from cannot be decided safely (said in one message)."""


@dataclass(frozen=True)
class DataChoice:
    """What a report is built from, as :func:`resolve_data` decided.

    Attributes
    ----------
    kind : {"extract", "synthetic"}
        Real data (or a user's own files), or a synthetic county.
    raw : Path or None
        Raw folder intake reads; None when the processed data are used as they are (their raw
        files are not here to check against).
    processed : Path
        Processed folder the report reads.
    mapping : Path or None
        Intake mapping for ``raw`` (given, or recorded in the source record).
    reason : str
        One line saying why, for the console and the log.
    demo : bool
        ``raw`` is the demo county's folder (generated there when it is missing).
    """

    kind: str
    raw: Path | None
    processed: Path
    mapping: Path | None
    reason: str
    demo: bool = False


def raw_files(raw: str | Path) -> list[Path]:
    """Every data file a user put in ``raw`` (any name, any depth), sorted.

    Hidden files, ``.gitkeep`` and ``README.md`` are not data.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / ".gitkeep").write_text(""); _ = (d / "GP_EXTRACT.csv").write_text("a")
    >>> [p.name for p in raw_files(d)]
    ['GP_EXTRACT.csv']
    """
    raw = Path(raw)
    if not raw.is_dir():
        return []
    return sorted(
        p
        for p in raw.rglob("*")
        if p.is_file()
        and p.name not in NOT_DATA
        and not any(part.startswith(".") for part in p.relative_to(raw).parts)
    )


def _listed(files: list[Path], raw: Path, at_most: int = 5) -> str:
    names = [p.relative_to(raw).as_posix() for p in files]
    more = f" and {len(names) - at_most} more" if len(names) > at_most else ""
    return ", ".join(names[:at_most]) + more


def resolve_data(
    raw: str | Path = "data/raw",
    processed: str | Path = "data/processed",
    *,
    demo: str | Path | None = None,
    mapping: str | Path | None = None,
) -> DataChoice:
    """Decide what a report is built from; reads files only, writes nothing.

    In this order:

    1. ``processed`` holds real processed data (a source record saying ``kind: extract``): use
       them, with the raw files in ``raw`` (else the folder the record names) to check them
       against, and the given ``mapping``, else the one recorded;
    2. ``raw`` holds any file: intake of those files (with ``mapping``). Files that are not the
       contract's tables and no mapping is a :class:`DataError`, never a fall-back to the demo;
    3. nothing real anywhere: the demo county in ``demo`` (default ``data/demo``, beside
       ``raw``) and its processed tables in ``demo/processed``.

    Raises
    ------
    DataError
        Raw files that need a mapping and have none; a mapping but no raw files; processed
        tables without a source record (made before evalkit 0.4) and no raw files.
    """
    raw, processed = Path(raw), Path(processed)
    demo = Path(demo) if demo else raw.parent / "demo"
    mapping = Path(mapping) if mapping else None
    if raw.resolve() == demo.resolve():
        return _demo_choice(demo, "the demo county")
    record = read_source(processed)
    files = raw_files(raw)
    if record is not None and record.get("kind") == "extract":
        return _extract_choice(raw, processed, record, files, mapping)
    if files:
        if mapping is None and not has_raw_tables(raw):
            raise DataError(
                f"{raw} holds files that are not the data contract's tables "
                f"({_listed(files, raw)}) and no mapping was given: pass --mapping "
                "intake_mappings/<source>.yaml (make report MAPPING=intake_mappings/<source>.yaml;"
                " README, 'Using real data'). No report was built and the demo county was not used."
            )
        synthetic = mapping is None and (raw / TRUTH_FILE).is_file()
        return DataChoice(
            "synthetic" if synthetic else "extract",
            raw,
            processed,
            mapping,
            f"using the files in {raw}" + (f" with mapping {mapping}" if mapping else ""),
        )
    if mapping is not None:
        raise DataError(
            f"--mapping {mapping} was given but {raw} holds no files: put the extract there "
            "(or pass --raw). No report was built and the demo county was not used."
        )
    if record is None and (processed / REPORT_FILE).is_file():
        raise DataError(
            f"{processed} holds processed tables with no source record ({SOURCE_FILE}; evalkit "
            f"before 0.4 wrote none) and {raw} is empty, so what they were made from is not "
            f"known: run intake on their extract again (evalkit intake --raw <folder> --mapping "
            f"<file>), or remove them (make clean) to use the demo county."
        )
    return _demo_choice(demo, f"{raw} is empty and there is no real processed data")


def _demo_choice(demo: Path, why: str) -> DataChoice:
    return DataChoice(
        "synthetic", demo, demo / "processed", None, f"{why}: the demo county in {demo}", True
    )


def _extract_choice(
    raw: Path,
    processed: Path,
    record: dict[str, Any],
    files: list[Path],
    mapping: Path | None,
) -> DataChoice:
    """Real processed data: their raw folder to check them against, and their mapping."""
    recorded = Path(record["mapping"]) if record.get("mapping") else None
    mapping = mapping or recorded
    recorded_raw = record.get("raw_dir")
    where = raw if files else Path(recorded_raw) if recorded_raw else None
    if where is None or not (files or raw_files(where)):
        return DataChoice(
            "extract",
            None,
            processed,
            mapping,
            f"using the processed extract in {processed} as it is (its raw files are not in "
            f"{raw}, so it cannot be checked against them)",
        )
    via = f" with mapping {mapping}" if mapping else ""
    return DataChoice(
        "extract", where, processed, mapping, f"using the extract in {where}{via} ({processed})"
    )


def _ensure_demo(demo: Path, seed: int | None, progress: bool, say: Say) -> None:
    """Generate the demo county in ``demo`` if it is missing or another ``seed`` is asked for."""
    from evalkit.synth import generate_county

    have = None
    if has_raw_tables(demo) and (demo / TRUTH_FILE).is_file():
        with contextlib.suppress(OSError, ValueError):
            have = json.loads((demo / TRUTH_FILE).read_text(encoding="utf-8")).get("seed")
    if have is not None and (seed is None or seed == have):
        return
    seed = 42 if seed is None else seed
    say(f"generating the demo county in {demo} (seed {seed})")
    generate_county(
        demo,
        programmes=load_programmes(),
        instrument_defs=instruments(),
        unit_costs=load_unit_costs(),
        scale="demo",
        seed=seed,
        fmt="csv",
        progress=progress,
    )


def ensure_data(
    raw: str | Path = "data/raw",
    processed: str | Path = "data/processed",
    *,
    demo: str | Path | None = None,
    mapping: str | Path | None = None,
    seed: int | None = None,
    progress: bool = False,
    say: Say | None = None,
) -> DataChoice:
    """Make the data a report is built from ready: :func:`resolve_data`, then intake if stale.

    The demo county is generated (in ``demo``, default ``data/demo``) only when there is no
    real data at all, and again when another ``seed`` is asked for (None: the one there, else
    42). Intake runs when the processed tables are missing or stale (raw files changed, another
    mapping): for real data with the mapping given, else the one recorded. Nothing is ever
    written into ``raw``. An empty ``raw`` ("") skips all of it: the processed data are used as
    they are.
    """
    from evalkit.intake import is_stale, run_intake

    say = say or (lambda msg: None)
    if not str(raw):
        record = read_source(processed) or {}
        return DataChoice(
            str(record.get("kind", "unknown")), None, Path(processed), None, "as given"
        )
    choice = resolve_data(raw, processed, demo=demo, mapping=mapping)
    say(choice.reason)
    with quiet():
        if choice.demo and choice.raw is not None:
            _ensure_demo(choice.raw, seed, progress, say)
        if choice.raw is None:
            return choice
        if is_stale(choice.raw, choice.processed, mapping=choice.mapping):
            via = f" (mapping {choice.mapping})" if choice.mapping else ""
            say(f"intake: {choice.raw} -> {choice.processed}{via}")
            run_intake(choice.raw, choice.processed, mapping=choice.mapping, progress=progress)
        else:
            say(f"{choice.processed} is up to date with {choice.raw}")
    return choice


def person_ids(processed: str | Path) -> frozenset[str]:
    """Every person id in the processed population (for the identifier scan)."""
    import pyarrow.parquet as pq

    path = Path(processed) / "population.parquet"
    if not path.exists():
        return frozenset()
    return frozenset(pq.read_table(path, columns=["person_id"]).column(0).to_pylist())


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def front_first(cells: list[Any]) -> list[Any]:
    """Cells in report order: those tagged ``ek-front`` moved to just after the ``ek-title`` cell.

    The notebook computes section by section, so the summary (which needs every section) is
    computed last; commissioners read it first.

    Examples
    --------
    >>> cells = [{"metadata": {"tags": t}} for t in (["ek-title"], [], ["ek-front"])]
    >>> [_tags(c) for c in front_first(cells)]
    [['ek-title'], ['ek-front'], []]
    """
    front = [c for c in cells if "ek-front" in _tags(c)]
    rest = [c for c in cells if "ek-front" not in _tags(c)]
    at = next((i + 1 for i, c in enumerate(rest) if "ek-title" in _tags(c)), 0)
    return rest[:at] + front + rest[at:]


#: The class of the line a table, figure or sentence shows when its section was not run.
NOT_SHOWN_CSS = "ek-not-shown"


def _shows_something(cell: Any) -> bool:
    """Whether a code cell's output shows anything but a 'not shown' line."""
    for out in cell.get("outputs", []):
        data = out.get("data", {}) if isinstance(out, dict) else {}
        text = "".join(data.get("text/html", "")) or "".join(data.get("text/plain", ""))
        if "image/png" in data or (text.strip() and NOT_SHOWN_CSS not in text):
            return True
    return False


def shown_sections(cells: list[Any], *, narrative: bool = True) -> list[Any]:
    """Cells without the report sections (``## `` headings) in which nothing is shown.

    A small programme's report (:mod:`evalkit.reporting.small`) does not run most sections;
    their headings, method text and "not shown" lines are left out of its HTML, since the
    summary says why once. ``narrative=False`` also leaves out every markdown cell (a report of
    no one describes no analysis). Cells before the first heading are always kept.

    Examples
    --------
    >>> md = {"cell_type": "markdown", "source": "## Wellbeing"}
    >>> empty = {"cell_type": "code", "outputs": []}
    >>> shown_sections([{"cell_type": "code", "outputs": []}, md, empty]) == [empty]
    True
    """
    groups: list[list[Any]] = [[]]
    for c in cells:
        if c.get("cell_type") == "markdown" and "".join(c.get("source", "")).startswith("## "):
            groups.append([])
        groups[-1].append(c)
    kept = groups[0] + [c for g in groups[1:] if any(_shows_something(c) for c in g) for c in g]
    return [c for c in kept if narrative or c.get("cell_type") != "markdown"]


def export_html(notebook: str | Path, title: str, *, scope: str = "full") -> str:
    """Render an executed notebook to a standalone HTML page with no input cells.

    A report of a smaller ``scope`` than ``"full"`` (:mod:`evalkit.reporting.small`) leaves
    out the sections it does not show (:func:`shown_sections`).
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    nb.metadata["title"] = title
    nb.cells = front_first(nb.cells)
    if scope != "full":
        nb.cells = shown_sections(nb.cells, narrative=scope != "none")
    exporter = HTMLExporter(
        template_name="evalkit_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"language_code": "en"})
    return body


def render_report(
    programme: str,
    processed: str | Path = "data/processed",
    reports: str | Path = "reports",
    *,
    notebook: str | Path | None = None,
    parameters: dict[str, Any] | None = None,
    progress: bool = False,
    say: Say | None = None,
) -> Path:
    """Execute the report notebook for ``programme`` and write ``reports/<slug>/`` atomically.

    Writes ``index.html`` (no code), ``notebook.ipynb`` (executed, with code), ``results.json``,
    table CSVs and ``figures/*.png``; then scans them with the disclosure checker and replaces
    the previous report only if the scan is clean. Builds of one programme run one at a time
    (``reports/.<slug>.lock``: a second one waits, and fails after :data:`LOCK_TIMEOUT`); each
    first removes what killed builds of the programme left (``docs/decisions/crash-safety.md``).
    """
    from evalkit.config import project_root

    say = say or (lambda msg: None)
    prog = load_programme(programme)
    processed = Path(processed).resolve()
    if not (processed / "intake_report.json").exists():
        raise ReportError(
            f"no processed data in {processed} (intake_report.json is missing): run "
            "`make data` (or `evalkit data`) first"
        )
    nb_path = Path(notebook) if notebook else project_root() / NOTEBOOK
    if not nb_path.exists():
        raise ReportError(f"report notebook not found: {nb_path}")
    reports = Path(reports).resolve()
    try:
        with build_lock(reports, prog.slug, timeout=LOCK_TIMEOUT):
            clean_leftovers(reports, [f".{prog.slug}-staging-*"], swapped=prog.slug)
            return _render(prog, processed, nb_path, reports, parameters, progress, say)
    except LockTimeout as exc:
        raise ReportError(str(exc)) from None


def _render(
    prog: Any,
    processed: Path,
    nb_path: Path,
    reports: Path,
    parameters: dict[str, Any] | None,
    progress: bool,
    say: Say,
) -> Path:
    """The build itself, holding the programme's lock: staging folder, notebook, HTML, swap."""
    import papermill as pm

    from evalkit.config import project_root

    target = reports / prog.slug
    staging = Path(tempfile.mkdtemp(prefix=f".{prog.slug}-staging-", dir=reports))
    staging.chmod(0o755)  # mkdtemp makes it private; a report folder is meant to be shared
    try:
        params = {
            "programme": prog.slug,
            "data_dir": str(processed),
            "raw_dir": "",
            "output_dir": str(staging),
            **(parameters or {}),
        }
        say("executing the report notebook (analyses, tables, figures)")
        # The kernel finds programmes/ and definitions through EVALKIT_ROOT, wherever it runs.
        # A fixed hash seed: pyfixest 0.60 handles fixed-effect names with Python sets in
        # places, so a Poisson fit's 7th significant digit follows the per-process string-hash
        # randomisation (the data are identical; see assumptions log ENV-2).
        # EVALKIT_BUILD_PID: the crash test hook kills this process with the kernel.
        build = {BUILD_PID_ENV: str(os.getpid())}
        with (
            quiet(),
            _env(EVALKIT_ROOT=str(project_root()), PYTHONHASHSEED=HASH_SEED, **build, **CPU_ENV),
        ):
            pm.execute_notebook(
                str(nb_path),
                str(staging / "notebook.ipynb"),
                parameters=params,
                cwd=str(nb_path.parent),
                progress_bar=progress,
                log_output=False,
                kernel_name="python3",
                # The kernel's own start-up and shutdown log (e.g. "running over TCP without
                # encryption": a local kernel on loopback) is noise to a report's reader;
                # errors in cells still stop the build (papermill raises them).
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        scrub_paths(
            staging / "notebook.ipynb",
            project=project_root(),
            staging=staging,
            target=target,
            paths=[str(processed), str(nb_path.resolve()), str(nb_path.parent.resolve())],
        )
        say("rendering HTML (inputs removed)")
        page = export_html(
            staging / "notebook.ipynb",
            f"{prog.title}: evaluation report",
            scope=_scope(staging / "results.json"),
        )
        write_text(page, staging / "index.html")
        say("checking disclosure control")
        check = check_outputs(staging, person_ids=person_ids(processed), declarations=True)
        if not check.ok:
            raise ReportError(
                f"disclosure check failed for {prog.slug}; the previous report is kept.\n"
                + check.summary()
            )
        swap_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _scope(results: Path) -> str:
    """The scope a built report shows (``methods.small_programme``; ``"full"`` if none)."""
    if not results.is_file():
        return "full"
    methods = json.loads(results.read_text(encoding="utf-8")).get("methods") or {}
    return str((methods.get("small_programme") or {}).get("scope", "full"))


# The comparison page lives in evalkit.reporting.comparison; re-exported for callers.
from evalkit.reporting.comparison import COMPARED_SETTINGS as COMPARED_SETTINGS  # noqa: E402
from evalkit.reporting.comparison import ROW_NOTES as ROW_NOTES  # noqa: E402
from evalkit.reporting.comparison import WELLBY_ROW as WELLBY_ROW  # noqa: E402
from evalkit.reporting.comparison import build_index as build_index  # noqa: E402
from evalkit.reporting.comparison import comparison_rows as comparison_rows  # noqa: E402
from evalkit.reporting.comparison import comparison_table as comparison_table  # noqa: E402


def check_reports(reports: str | Path, programmes: list[str], processed: str | Path) -> CheckResult:
    """Disclosure scan of every programme's report folder (each must have HTML, CSV and JSON).

    Hidden folders are never required; a killed build's ``.<slug>-staging-*`` or ``.<slug>-old``
    is scanned and is itself a finding (never published; the next build removes it).
    """
    shown = [p for p in programmes if not p.startswith(".")]
    return check_outputs(
        reports, person_ids=person_ids(processed), require=shown, declarations=True
    )
