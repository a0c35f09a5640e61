"""HTML fragments of the report, rendered from Jinja templates (``templates/sections/``).

The page itself is the executed notebook rendered by nbconvert with evalkit's own template;
each section's HTML inside it comes from a template here, never from strings assembled in
Python. Autoescaping is on, so every value a template shows is escaped.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["Html", "qualified_name", "render"]

SECTION_TEMPLATES = Path(__file__).resolve().parent / "templates" / "sections"


class Html:
    """A fragment of HTML that renders in Jupyter (and, through nbconvert, in the report)."""

    def __init__(self, body: str) -> None:
        self.body = body

    def _repr_html_(self) -> str:
        return self.body

    def __html__(self) -> str:
        """The fragment as markup, so a template that includes it does not escape it."""
        return self.body

    def __repr__(self) -> str:  # plain-text view for terminals and nbval's text/plain
        return "[report section: shown as HTML]"


def gbp(x: float, dp: int = 2) -> str:
    """Pounds with a proper minus sign: ``gbp(-1.3)`` is "−£1.30"."""
    return f"{'−' if x < 0 else ''}£{abs(x):,.{dp}f}"


def count(n: int | None) -> str:
    """A controlled count for display: ``*`` where suppressed, thousands separated."""
    return "*" if n is None else f"{n:,}"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment of the section templates (autoescaped, strict undefined)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(SECTION_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["gbp"] = gbp
    env.filters["count"] = count
    env.filters["json"] = lambda v: json.dumps(v)
    return env


def render(template: str, **context: Any) -> Html:
    """Render ``templates/sections/<template>`` with ``context`` as an :class:`Html` fragment."""
    return Html(environment().get_template(template).render(**context).strip())


def qualified_name(function: Any) -> str:
    """``module.name`` of a function, as the report's ``data-analysis`` attributes carry it.

    Examples
    --------
    >>> qualified_name(render)
    'evalkit.reporting.html.render'
    """
    return f"{function.__module__}.{function.__qualname__}"
