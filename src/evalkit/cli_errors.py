"""How the ``evalkit`` command line fails: one line saying what, where and what to do, and the log.

Every command logs to ``logs/<timestamp>-<command>.log`` (:func:`setup_logging`). A failure
prints one line, ``error: ... (log: logs/...)``, and exits 2; a mistake on the command line
(unknown option, bad value) is one such line too, not click's usage box. An unexpected error
(a bug) is one line naming it, exit 1, with its traceback in the log only; ``--debug``
anywhere on the command line (or ``EVALKIT_DEBUG=1``) shows the traceback as well. Renamed
options keep their old name as a hidden alias that prints one deprecation line
(:func:`renamed`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import os
import platform
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

# typer (0.29) carries its own copy of click; its exceptions and context are these.
from typer._click import Context
from typer._click import exceptions as click_errors
from typer._click.globals import get_current_context
from typer.core import TyperGroup

from evalkit import __version__
from evalkit.config import project_root

log = logging.getLogger("evalkit")
T = TypeVar("T")

#: The flag (and environment variable) that shows tracebacks.
DEBUG_FLAG = "--debug"
DEBUG_ENV = "EVALKIT_DEBUG"
#: Exit codes: a failure evalkit explains; an unexpected error (a bug; traceback in the log).
EXIT_FAILURE = 2
EXIT_BUG = 1

_state: dict[str, Any] = {"log": None, "debug": False}


def debugging() -> bool:
    """Whether ``--debug`` (or ``EVALKIT_DEBUG=1``) was given."""
    return bool(_state["debug"])


def setup_logging(command: str) -> Path:
    """Log to ``logs/<timestamp>-<command>.log`` (INFO) and warnings to stderr.

    With ``--debug`` stderr gets INFO too. Returns the log's path, which every failure
    message ends with.
    """
    logs = project_root() / "logs"
    logs.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = logs / f"{stamp}-{re.sub(r'[^A-Za-z0-9_-]', '_', command)}.log"  # a typed slug too
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.INFO)
    fh = logging.FileHandler(path, encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(fh)
    sh = logging.StreamHandler(sys.stderr)
    sh.setLevel(logging.INFO if debugging() else logging.WARNING)
    # Errors the CLI has already shown (``fail``) go to the log file only.
    sh.addFilter(lambda record: not getattr(record, "shown", False))
    root.addHandler(sh)
    log.info(
        "evalkit %s, Python %s, %s", __version__, platform.python_version(), platform.platform()
    )
    log.info("command: %s", " ".join(sys.argv))
    _state["log"] = path
    return path


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (shorter to read)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _log_suffix() -> str:
    path = _state["log"]
    return f" (log: {_shown(path)})" if path is not None else ""


def fail(message: str, *, trace: bool = True) -> NoReturn:
    """Print ``error: <message> (log: <path>)`` and exit 2.

    With ``--debug`` the traceback of the exception being handled, if any, is shown and logged
    too (not with ``trace=False``, where a chained exception's text could hold a data value,
    e.g. pseudonymise's). Without it the message is all: it says what, where and what to do.
    """
    if _state["log"] is None:
        setup_logging(_command_name(get_current_context(silent=True), []))
    handling = sys.exc_info()[1] is not None and trace and debugging()
    if handling:
        traceback.print_exc(file=sys.stderr)
    log.error(message, exc_info=handling, extra={"shown": True})
    typer.secho(f"error: {message}{_log_suffix()}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=EXIT_FAILURE)


def warn(message: str) -> None:
    """One ``warning:`` line on stderr, also logged."""
    typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)
    log.warning(message, extra={"shown": True})


def renamed(old: str, new: str, old_value: T | None, new_value: T, default: T) -> T:
    """The value of an option given by its new name or by its old, hidden one (deprecated).

    The old name prints one deprecation line; both names at once is an error.
    """
    if old_value is None:
        return new_value
    if new_value != default:
        fail(f"{old} is the old name of {new}: give {new} only")
    warn(f"{old} is deprecated here, use {new} (the old name will be removed in evalkit 0.5)")
    return old_value


def notebook_failure(exc: Any) -> str:
    """One line for a failed report notebook cell (papermill's ``PapermillExecutionError``).

    The cell's own traceback (colour codes removed) goes to the log: the staging folder that
    held the executed notebook is removed when a build fails.
    """
    cell = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(exc.traceback or []))
    log.error("report notebook cell [%s]:\n%s", exc.exec_count, cell, extra={"shown": True})
    first = next((x for x in str(exc.evalue).splitlines() if x.strip()), "")
    return (
        f"the report notebook failed in cell [{exc.exec_count}] with {exc.ename}: {first}; "
        "the previous report is kept (the cell's traceback is in the log)"
    )


def _pop_debug(args: list[str]) -> bool:
    """Remove ``--debug`` from ``args`` (anywhere before ``--``); whether it was there."""
    end = args.index("--") if "--" in args else len(args)
    found = DEBUG_FLAG in args[:end]
    args[:end] = [a for a in args[:end] if a != DEBUG_FLAG]
    return found


def _command_name(ctx: Context | None, args: Sequence[str]) -> str:
    """A name for the log file of a run that failed before its command started."""
    if ctx is not None and ctx.parent is not None:
        return "-".join(ctx.command_path.split()[1:]) or "evalkit"
    first = next((a for a in args if not a.startswith("-")), "")
    return first if first.isidentifier() else "evalkit"


class EvalkitGroup(TyperGroup):
    """The top-level command group: every failure one line with the log path (module doc)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run a command; turn click's usage errors and unexpected errors into one line."""
        argv = list(sys.argv[1:] if args is None else args)
        _state["debug"] = _pop_debug(argv) or os.environ.get(DEBUG_ENV, "") not in ("", "0")
        _state["log"] = None
        code = self._run(argv, prog_name, complete_var, extra)
        if not standalone_mode:
            return code
        sys.exit(code or 0)

    def _run(
        self, argv: list[str], prog_name: str | None, complete_var: str | None, extra: Any
    ) -> int:
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as exc:
            typer.echo(exc.format_message())
            return 0
        except click_errors.UsageError as exc:
            return self._usage_error(exc, argv)
        except click_errors.ClickException as exc:
            return _said(exc.format_message(), _command_name(None, argv), exc.exit_code)
        except typer.Abort:
            return _said("stopped (aborted)", _command_name(None, argv), EXIT_BUG)
        except Exception as exc:  # a bug: one line here, the traceback in the log
            if debugging():
                raise
            return _unexpected(exc, argv)
        return int(code) if isinstance(code, int) else 0

    @staticmethod
    def _usage_error(exc: click_errors.UsageError, argv: list[str]) -> int:
        ctx = exc.ctx
        helping = f"`{ctx.command_path} --help` lists" if ctx is not None else "--help lists"
        what = exc.format_message().strip().rstrip(".")
        if isinstance(exc, click_errors.NoSuchOption) and ctx is not None:
            what = _no_such_option(exc.option_name, ctx)
        return _said(f"{what}; {helping} the options", _command_name(ctx, argv), EXIT_FAILURE)


def _no_such_option(name: str, ctx: Context) -> str:
    """The unknown-option message, suggesting only options ``--help`` shows (no old names)."""
    shown = [
        opt
        for param in ctx.command.params
        if not getattr(param, "hidden", False)
        for opt in param.opts
        if opt.startswith("--")
    ]
    close = difflib.get_close_matches(name, shown, n=3)
    return f"No such option: {name}" + (f" (did you mean {', '.join(close)}?)" if close else "")


def _said(message: str, command: str, code: int) -> int:
    """Log ``message`` (to this run's log, or a new one) and print it as one line."""
    if _state["log"] is None:
        setup_logging(command)
    log.error(message, extra={"shown": True})
    typer.secho(f"error: {message}{_log_suffix()}", fg=typer.colors.RED, err=True)
    return code


def _unexpected(exc: Exception, argv: list[str]) -> int:
    if _state["log"] is None:
        setup_logging(_command_name(None, argv))
    log.error("unexpected error", exc_info=exc, extra={"shown": True})
    first = next((line for line in str(exc).splitlines() if line.strip()), "")
    what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    typer.secho(
        f"error: unexpected {what}; evalkit did not foresee this, so please report it with the "
        f"log (its traceback is there; {DEBUG_FLAG} shows it here){_log_suffix()}",
        fg=typer.colors.RED,
        err=True,
    )
    return EXIT_BUG
