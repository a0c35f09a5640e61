"""The options several ``evalkit`` commands share: one name for each folder and choice.

``--raw`` (the extract as received), ``--processed`` (intake's tables), ``--reports`` (the
reports folder), ``--demo`` (the demo county), ``--mapping`` (an intake mapping file) and
``--engine`` mean the same in every command that takes them; ``--out`` names a single output
file only. Options renamed in 0.4 keep their old name as a hidden alias (:data:`OldOut`,
:func:`evalkit.cli_errors.renamed`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: Options shared by the commands that decide what a report is built from.
RawOption = Annotated[Path, typer.Option(help="raw files as received (never written)")]
MappingOption = Annotated[
    Path | None,
    typer.Option(exists=True, dir_okay=False, help="intake mapping YAML for the extract in --raw"),
]
ProcessedOption = Annotated[Path, typer.Option(help="processed tables of real data")]
ReportsOption = Annotated[Path, typer.Option(help="reports folder")]
SeedOption = Annotated[
    int | None, typer.Option(help="demo county seed (default: the demo there, else 42)")
]
DemoOption = Annotated[Path | None, typer.Option(help="demo county folder (default data/demo)")]


EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="where data are prepared: duckdb (default, embedded), postgres "
        "($EVALKIT_DATABASE_URL) or spark (master $EVALKIT_DATABASE_URL, default local[2])",
    ),
]


#: The hidden pre-0.4 name of a renamed folder option (:func:`evalkit.cli_errors.renamed`).
OldOut = Annotated[Path | None, typer.Option("--out", hidden=True)]
