"""The one result base every analysis returns (after MatchIt's and pyfixest's result objects).

A result is a frozen dataclass of numbers with four views, the same on every analysis:

- :meth:`Result.tidy`: a DataFrame with fixed snake_case columns; every other view reads it;
- :meth:`Result.summary`: plain text, a header (what was estimated, how, on how many), the
  tidy table and the notes; ``repr()`` and Jupyter show it;
- :meth:`Result.to_dict`: JSON-safe (NaN becomes ``None``, numpy scalars Python numbers);
- ``plot_*()``: draws on a matplotlib Axes with the one figure function for that figure.

Subclasses implement :meth:`tidy` and, where the default header is not enough,
:meth:`summary_header` (lines above the table) or :meth:`summary` itself.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import pandas as pd

from evalkit.jsonsafe import json_safe

__all__ = ["ESTIMATE_COLUMNS", "Result", "format_table"]

#: The columns of one estimate in a tidy table, in order (estimate, SE, 95% CI, p-value).
ESTIMATE_COLUMNS: tuple[str, ...] = ("estimate", "std_error", "ci_low", "ci_high", "p_value")


def format_table(table: pd.DataFrame, digits: int = 4) -> str:
    """A tidy table as aligned plain text, floats to ``digits`` significant digits."""
    if table.empty:
        return "(no rows)"
    with pd.option_context("display.width", 120, "display.max_rows", 200):
        return table.to_string(index=False, float_format=lambda v: f"{v:.{digits}g}")


class Result:
    """Base of every analysis result: summary, tidy table, JSON-safe dict, HTML in Jupyter."""

    #: Short name of the analysis, used in headers and as ``to_dict()["analysis"]``.
    analysis: str = "analysis"

    def tidy(self) -> pd.DataFrame:
        """The result as a tidy table (subclasses define its columns)."""
        raise NotImplementedError

    def summary_header(self) -> list[str]:
        """Lines above the table in :meth:`summary` (default: the analysis name)."""
        return [self.analysis]

    def format_tidy(self, table: pd.DataFrame) -> str:
        """The tidy table as text in :meth:`summary` (default: :func:`format_table`)."""
        return format_table(table)

    def summary(self) -> str:
        """Header, tidy table and notes as plain text."""
        lines = [*self.summary_header(), "", self.format_tidy(self.tidy())]
        notes = tuple(getattr(self, "notes", ()) or ())
        if notes:
            lines += ["", "Notes:", *(f"- {n}" for n in notes)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: the analysis name, every scalar field, the spec, notes and tidy rows."""
        out: dict[str, Any] = {"analysis": self.analysis}
        if dataclasses.is_dataclass(self):
            for f in dataclasses.fields(self):
                value = getattr(self, f.name)
                if isinstance(value, pd.DataFrame | pd.Series) or hasattr(value, "to_dict"):
                    continue
                out[f.name] = value
        out["table"] = self.tidy().to_dict(orient="records")
        return json_safe(out)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"
