"""From raw data to ``reports/<slug>/``: data, notebook execution, HTML, disclosure check.

``make report PROGRAMME=mindsong`` calls :func:`render_report` through the CLI:

1. :func:`ensure_data` generates the demo county when ``data/raw`` has no contract table, and
   runs intake when the processed data are missing or stale;
2. papermill executes ``notebooks/report.ipynb`` with the programme's parameters; the notebook
   calls :func:`evalkit.reporting.build_report`, which runs every analysis once and writes
   ``results.json``, table CSVs and figure PNGs into a staging folder;
3. nbconvert renders the executed notebook to ``index.html`` with every input cell removed
   (from the same execution, never a second run);
4. the disclosure checker scans the staging folder; only a clean report replaces the old one
   (:func:`evalkit.files.swap_folder`), so an interrupted or failed run never leaves a
   half-written report in place.

:func:`build_index` then writes the comparison page, ``reports/index.html``, from every built
report's ``results.json`` (template ``templates/sections/comparison.html.j2``).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from markupsafe import Markup

from evalkit import __version__
from evalkit.config import instruments, load_programme, load_programmes, load_unit_costs
from evalkit.contract import TABLES
from evalkit.definitions.labels import setting_label
from evalkit.files import swap_folder, write_text
from evalkit.reporting.checker import CheckResult, check_outputs
from evalkit.reporting.findings import WELLBY_CAVEAT
from evalkit.reporting.html import render
from evalkit.reporting.target_trial import censored_share

NOTEBOOK = "notebooks/report.ipynb"
#: PYTHONHASHSEED of the report kernel (and of nbval's, via the Makefile): reproducible bytes.
HASH_SEED = "0"
TEMPLATES = Path(__file__).parent / "templates"
Say = Callable[[str], None]


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


def ensure_data(
    raw: str | Path = "data/raw",
    processed: str | Path = "data/processed",
    *,
    seed: int = 42,
    progress: bool = False,
    say: Say | None = None,
) -> Path:
    """Generate the demo county if ``raw`` is empty, then run intake if ``processed`` is stale.

    Returns the processed directory. Real extracts are never overwritten: generation happens
    only when ``raw`` has no contract table at all. An empty ``raw`` ("") skips both steps (the
    processed data are used as they are).
    """
    if not str(raw):
        return Path(processed)
    from evalkit.intake import is_stale, run_intake
    from evalkit.synth import generate_county

    say = say or (lambda msg: None)
    raw, processed = Path(raw), Path(processed)
    with quiet():
        if not has_raw_tables(raw):
            say(f"{raw} is empty: generating the demo county (seed {seed})")
            generate_county(
                raw,
                programmes=load_programmes(),
                instrument_defs=instruments(),
                unit_costs=load_unit_costs(),
                scale="demo",
                seed=seed,
                fmt="csv",
                progress=progress,
            )
        else:
            say(f"using the raw tables in {raw}")
        if is_stale(raw, processed):
            say(f"intake: {raw} -> {processed}")
            run_intake(raw, processed, progress=progress)
        else:
            say(f"{processed} is up to date with {raw}")
    return processed


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


def export_html(notebook: str | Path, title: str) -> str:
    """Render an executed notebook to a standalone HTML page with no input cells."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    nb.metadata["title"] = title
    nb.cells = front_first(nb.cells)
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
    the previous report only if the scan is clean.
    """
    import papermill as pm

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
    reports.mkdir(parents=True, exist_ok=True)
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
        with quiet(), _env(EVALKIT_ROOT=str(project_root()), PYTHONHASHSEED=HASH_SEED):
            pm.execute_notebook(
                str(nb_path),
                str(staging / "notebook.ipynb"),
                parameters=params,
                cwd=str(nb_path.parent),
                progress_bar=progress,
                log_output=False,
                kernel_name="python3",
            )
        say("rendering HTML (inputs removed)")
        page = export_html(staging / "notebook.ipynb", f"{prog.title}: evaluation report")
        (staging / "index.html").write_text(page, encoding="utf-8")
        say("checking disclosure control")
        check = check_outputs(staging, person_ids=person_ids(processed))
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


# --- the comparison page -------------------------------------------------------------------
def _find(entries: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for e in entries:
        if all(e.get(k) == v for k, v in match.items()):
            return e
    return None


def _ci(e: dict[str, Any] | None, fmt: str = "{:.2f}") -> str:
    if not e or e.get("estimate") is None:
        return "–"
    if e.get("ci_low") is None or e.get("ci_high") is None:
        return fmt.format(e["estimate"])
    return f"{fmt.format(e['estimate'])} ({fmt.format(e['ci_low'])} to {fmt.format(e['ci_high'])})"


def _count(n: Any) -> int | None:
    """A count from results.json as the page shows it: an int, or None where suppressed."""
    return None if n is None else int(n)


#: The settings the comparison page compares, in its order (their names from the label table).
COMPARED_SETTINGS: tuple[str, ...] = ("emergency_admission", "gp_appointment", "ae_attendance")


def comparison_rows(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The comparison page's metrics for one programme: (label, value, is_count)."""
    util = results.get("utilisation", [])
    m = results.get("matching", {})
    rows: list[tuple[str, str, bool]] = [
        ("Participants (referred)", m.get("n_participants"), True),
        ("Participants matched", m.get("n_matched"), True),
        ("Matched controls", m.get("n_controls"), True),
        ("Matched controls referred later (followed until then)", censored_share(results), False),
    ]
    for setting in COMPARED_SETTINGS:
        label = f"{setting_label(setting, capital=True)}, 6 months"
        e = _find(util, setting=setting, window_months=6, method="matched_did", scale="rate_ratio")
        rows.append((f"{label}: rate ratio (95% CI)", _ci(e), False))
        n = _find(
            util, setting=setting, window_months=6, method="naive_prepost", scale="rate_ratio"
        )
        rows.append((f"{label}: naive before/after (95% CI)", _ci(n), False))
    wb = results.get("wellbeing", [])
    primary = (results.get("parameters", {}).get("instruments") or [None])[0]
    e = _find(wb, instrument=primary) if primary else None
    change = (
        {"estimate": e.get("mean_change"), "ci_low": e.get("ci_low"), "ci_high": e.get("ci_high")}
        if e
        else None
    )
    rows.append(
        ("Main wellbeing measure: mean change (95% CI)", f"{primary}: {_ci(change)}", False)
    )
    reach = _find(results.get("reach", []), group="imd_quintile", level="1")
    reach_ci = (
        {
            "estimate": reach.get("ratio_vs_reference"),
            "ci_low": reach.get("ci_low"),
            "ci_high": reach.get("ci_high"),
        }
        if reach
        else None
    )
    rows.append(("Reach, most vs least deprived fifth: rate ratio (95% CI)", _ci(reach_ci), False))
    path = results.get("pathway", [])
    ref = _find(path, step="referred", group="all")
    done = _find(path, step="completed", group="all")
    ok = ref and done and ref.get("n") and done.get("n") is not None
    share = f"{done['n'] / ref['n']:.0%}" if ok else "–"
    rows.append(("Share of referred people who completed", share, False))
    econ = results.get("economics") or {}
    sav = econ.get("nhs_cost_saving_per_participant")
    rows.append(
        ("NHS cost saving per participant, 12 months, £ (95% CI)", _ci(sav, "{:,.0f}"), False)
    )
    rows.append(("Return per £1 of programme cost, gross (95% CI)", _ci(econ.get("roi")), False))
    w = econ.get("wellby_social_value_per_pound") or {}
    wtext = _ci(w)
    if w.get("completers_upper") is not None:
        wtext += f"; completers {w['completers_upper']:.2f}"
    elif w.get("estimate") is not None and "completers_upper" not in w:
        wtext += " (completers only)"  # a results.json from before the ITT figure
    rows.append(
        (
            "WELLBY social value per £1, intention to treat (95% CI; completers' upper bound): "
            "a wellbeing valuation, not NHS cash (note below the table)",
            wtext,
            False,
        )
    )
    return rows


def comparison_table(data: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The comparison page's rows: each metric's label and its value in every programme.

    ``data`` maps a programme's slug to its results.json, in column order. Count values are
    ints (None where suppressed), the template shows them as controlled counts.
    """
    per = [comparison_rows(r) for r in data.values()]
    if not per:
        return []
    return [
        {
            "label": label,
            "is_count": is_count,
            "values": [_count(p[i][1]) if is_count else str(p[i][1]) for p in per],
        }
        for i, (label, _, is_count) in enumerate(per[0])
    ]


def build_index(reports: str | Path = "reports") -> Path:
    """Write ``reports/index.html``: every built programme side by side in the same metrics."""
    reports = Path(reports)
    found = sorted(
        p.parent for p in reports.glob("*/results.json") if not p.parent.name.startswith(".")
    )
    data = {p.name: json.loads((p / "results.json").read_text()) for p in found}
    # Titles escaped as html.escape does (an apostrophe as &#x27;), as the page always has.
    programmes = [
        {"slug": slug, "title": Markup(html.escape(load_programme(slug).title))} for slug in data
    ]
    page = render(
        "comparison.html.j2",
        programmes=programmes,
        rows=comparison_table(data),
        wellby_caveat=WELLBY_CAVEAT,
        version=__version__,
    )
    return write_text(page.body + "\n", reports / "index.html")


def check_reports(reports: str | Path, programmes: list[str], processed: str | Path) -> CheckResult:
    """Disclosure scan of every programme's report folder (each must have HTML, CSV and JSON)."""
    return check_outputs(reports, person_ids=person_ids(processed), require=programmes)
