"""First contact: every command with a typical mistake says so in one line, with the log path.

Each case is a user's mistake (unknown programme, missing folder, bad option value, no data);
none runs an analysis. The answer must be exactly one line on the console, ``error: ...`` ending
with ``(log: <path>)``, that log must exist and hold the message, and there is no traceback
(issue #19 item 6). ``--debug`` shows the traceback; renamed options still work, with one
deprecation line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.config import project_root

runner = CliRunner()
LOG = re.compile(r"\(log: (?P<path>[^)]+\.log)\)$")


@pytest.fixture()
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Folders for the mistakes: an empty one, one of files that are not data, none at all.

    The project root is a scratch folder (so the logs go there); the programmes are the real ones.
    """
    monkeypatch.setenv("EVALKIT_PROGRAMMES", str(project_root() / "programmes"))
    monkeypatch.setenv("EVALKIT_ROOT", str(tmp_path))
    monkeypatch.setenv("EVALKIT_PSEUDONYMISATION_KEY", "k" * 64)
    monkeypatch.delenv("EVALKIT_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    empty, junk = tmp_path / "empty", tmp_path / "junk"
    empty.mkdir()
    junk.mkdir()
    (junk / "GP_EXTRACT.csv").write_text("PSEUDO_NHS_NUMBER,GENDER_CODE\nabc,1\n")
    return {"tmp": tmp_path, "empty": empty, "junk": junk, "nope": tmp_path / "nope"}


#: (command line with {empty}, {junk}, {nope} placeholders, a word the message must contain).
MISTAKES: dict[str, tuple[str, str]] = {
    "unknown command": ("repot", "No such command"),
    "unknown option": ("report --programmes mindsong", "No such option"),
    "option value of the wrong type": ("power --months six --effect 0.2", "--months"),
    "programmes: no programme configs": ("programmes", "no programme configs"),
    "synth: bad option value": ("synth --scale huge --demo {empty}/s", "scale"),
    "synth: into a folder that is a file": ("synth --demo {junk}/GP_EXTRACT.csv", "File exists"),
    "intake: missing folder": ("intake --raw {nope} --processed {empty}/p", "not found"),
    "intake: no data": ("intake --raw {empty} --processed {empty}/p", "population"),
    "intake: bad engine": ("intake --raw {empty} --engine oracle", "oracle"),
    "pseudonymise: missing file": (
        "pseudonymise {nope}.csv --column nhs_number --out {empty}/x.csv",
        "nope.csv",
    ),
    "data: missing folder": ("data --raw {nope} --processed {empty}/p", "--raw"),
    "data: files that need a mapping": ("data --raw {junk} --processed {empty}/p", "--mapping"),
    "report: unknown programme": ("report --programme nosuch", "available: chronic_pain"),
    "report: missing folder": ("report --raw {nope} --processed {empty}/p", "no such folder"),
    "report: bad engine": ("report --raw {empty} --engine oracle", "duckdb, postgres, spark"),
    "report: missing mapping file": ("report --raw {junk} --mapping {nope}.yaml", "nope.yaml"),
    "report: no data it can use": ("report --raw {junk} --processed {empty}/p", "no mapping"),
    "reports: missing folder": ("reports --raw {nope} --processed {empty}/p", "no such folder"),
    "check: missing folder": ("check --reports {nope} --processed {empty}", "no such folder"),
    "check: no reports": ("check --reports {empty} --processed {empty}", "nothing was checked"),
    "providers: missing folder": ("providers --processed {nope}", "no such folder"),
    "providers: no data": ("providers --processed {empty}", "intake"),
    "power: unknown programme": ("power --programme nosuch --effect 0.2", "available"),
    "power: bad effect": ("power --effect 2 --processed {empty}", "--effect"),
    "power: bad setting": ("power --setting gp --effect 0.2 --processed {empty}", "--setting"),
    "power: no data": ("power --effect 0.2 --processed {empty}", "make data"),
    "load: bad engine": ("load --engine oracle --processed {empty}", "oracle"),
    "load: no data": ("load --engine spark --processed {empty}", "make data"),
    "plan show: unknown programme": ("plan show --programme nosuch", "available"),
    "plan lock: unknown programme": ("plan lock --programme nosuch --plans {empty}", "available"),
    "mapping draft: missing folder": ("mapping draft --raw {nope}", "nope"),
    "mapping draft: no data": ("mapping draft --raw {empty}", "no .csv or .parquet"),
    "mapping draft: no folder given": ("mapping draft", "--raw"),
}


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def _one_error_line(result: object) -> str:
    """The single console line of a failed run (asserting there is only that)."""
    lines = _lines(result.output)  # type: ignore[attr-defined]
    assert len(lines) == 1, result.output  # type: ignore[attr-defined]
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    return lines[0]


@pytest.mark.parametrize("case", list(MISTAKES))
def test_a_mistake_is_one_line_with_the_log_and_no_traceback(
    case: str, where: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 2, one ``error:`` line naming what is wrong, ending with a log that holds it."""
    line, word = MISTAKES[case]
    if case.startswith("programmes:"):
        monkeypatch.setenv("EVALKIT_PROGRAMMES", str(where["empty"]))
    args = line.format(**{k: str(v) for k, v in where.items()}).split()
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    error = _one_error_line(result)
    assert word in error, error
    found = LOG.search(error)
    assert found, error
    log = where["tmp"] / found["path"]
    assert log.is_file() and log.parent == where["tmp"] / "logs"
    message = error[len("error: ") : found.start()].strip()
    assert message in log.read_text(), "the log holds the message"


def test_old_option_name_still_works_with_one_deprecation_line(where: dict[str, Path]) -> None:
    """``plan lock --plans-dir`` (before 0.4) is ``--plans`` now: same lock, one warning line."""
    result = runner.invoke(
        app, ["plan", "lock", "--programme", "cyp", "--plans-dir", str(where["empty"])]
    )
    assert result.exit_code == 0, result.output
    assert (where["empty"] / "cyp.lock.json").is_file()
    warnings = [x for x in _lines(result.output) if x.startswith("warning:")]
    assert len(warnings) == 1 and "--plans-dir" in warnings[0] and "--plans" in warnings[0]


def test_an_unknown_option_suggests_only_the_options_help_shows(where: dict[str, Path]) -> None:
    """A misspelt option is answered with its visible neighbours, never a hidden old name."""
    near = _one_error_line(runner.invoke(app, ["report", "--reprts", "x"]))
    assert "did you mean --reports" in near
    far = _one_error_line(runner.invoke(app, ["report", "--ot", "x"]))
    assert "No such option: --ot" in far and "--out" not in far


def test_old_and_new_option_name_together_is_a_mistake(where: dict[str, Path]) -> None:
    empty = str(where["empty"])
    result = runner.invoke(app, ["check", "--out", empty, "--reports", f"{empty}/r"])
    assert result.exit_code == 2
    assert "give --reports only" in _one_error_line(result)


def test_debug_shows_the_traceback(where: dict[str, Path]) -> None:
    """The same mistake with ``--debug`` (anywhere on the line) shows where it was raised."""
    quiet = runner.invoke(app, ["plan", "show", "--programme", "nosuch"])
    loud = runner.invoke(app, ["plan", "show", "--programme", "nosuch", "--debug"])
    assert quiet.exit_code == loud.exit_code == 2
    assert "Traceback" not in quiet.output and "Traceback" in loud.output


def test_an_unexpected_error_is_one_line_and_its_traceback_goes_to_the_log(
    where: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug: exit 1, one line naming the exception; the traceback in the log (``--debug``)."""
    import evalkit.config

    def broken() -> None:
        raise RuntimeError("something evalkit did not foresee\nsecond line")

    monkeypatch.setattr(evalkit.config, "load_programmes", broken)
    result = runner.invoke(app, ["programmes"])
    assert result.exit_code == 1
    error = _one_error_line(result)
    assert "unexpected RuntimeError: something evalkit did not foresee" in error
    assert "second line" not in error
    log = where["tmp"] / LOG.search(error)["path"]  # type: ignore[index]
    assert "Traceback" in log.read_text() and "def broken" not in error
    debug = runner.invoke(app, ["--debug", "programmes"])
    assert isinstance(debug.exception, RuntimeError)


def test_no_arguments_prints_the_help(where: dict[str, Path]) -> None:
    result = runner.invoke(app, [])
    assert result.exit_code == 0
    assert "report" in result.output and "error" not in result.output


def test_a_programme_with_no_participants_says_so_in_one_line(
    where: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report of no one is built (exit 0) and the console says why it shows nothing."""
    import json

    import evalkit.reporting
    from evalkit import cli

    reason = "No one was referred to Singing for Breathing and eligible at referral."
    target = where["tmp"] / "reports" / "mindsong"

    def one_page(programme: str, processed: Path, out: Path, **kw: object) -> Path:
        target.mkdir(parents=True)
        small = {"small_programme": {"scope": "none", "reason": reason}}
        (target / "results.json").write_text(json.dumps({"methods": small}))
        return target

    monkeypatch.setattr(evalkit.reporting, "render_report", one_page)
    cli._report_one("mindsong", where["empty"], target.parent, progress=False)
    lines = _lines(capsys.readouterr().out)
    assert lines[-1] == f"[mindsong] {reason} The report says so."
    assert not any(line.startswith("error") for line in lines)


def test_a_failed_notebook_cell_is_one_line_naming_the_cell(
    where: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """papermill's multi-line error becomes one line; the cell's traceback goes to the log."""
    from papermill.exceptions import PapermillExecutionError

    import evalkit.reporting
    from evalkit import cli
    from evalkit.cli_errors import setup_logging

    def failing(*args: object, **kw: object) -> Path:
        tb = ["\x1b[0;31mKeyError\x1b[0m  Traceback", "in build_report(...)", "KeyError: 'reach'"]
        raise PapermillExecutionError(24, 24, "report.run_reach()", "KeyError", "'reach'", tb)

    monkeypatch.setattr(evalkit.reporting, "render_report", failing)
    log = setup_logging("report-mindsong")
    with pytest.raises(typer.Exit) as stopped:
        cli._report_one("mindsong", where["empty"], where["tmp"] / "reports", progress=False)
    assert getattr(stopped.value, "exit_code", None) == 2
    error = _lines(capsys.readouterr().err)
    assert len(error) == 1
    assert "failed in cell [24] with KeyError: 'reach'" in error[0] and "(log: " in error[0]
    text = log.read_text()
    assert "in build_report(...)" in text and "\x1b[" not in text
