"""evalkit: reproducible evaluation of creative health programmes for an NHS ICB.

The statistical engines are importable on any DataFrame::

    import evalkit as ek
    m = ek.match(df, treatment="treat", covariates=["age", "educ"])
    fit = ek.did(panel, outcome="y", unit="id", time="t", treated="treat", post="post")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.4.0"

_LAZY = {
    "match": ("evalkit.stats.matching", "match"),
    "did": ("evalkit.stats.did", "did"),
    "stacked_did": ("evalkit.stats.stacked", "stacked_did"),
    "prepost": ("evalkit.stats.prepost", "prepost"),
    "ipcw": ("evalkit.stats.censoring", "ipcw"),
}

#: Layers reachable as attributes (``ek.analysis``, ``ek.reporting``), imported on first use.
_SUBMODULES = ("analysis", "reporting", "cohort", "stats", "synth", "intake", "definitions")

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    # Lazy so that `import evalkit` stays fast for the CLI and the generator.
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    if name in _SUBMODULES:
        return import_module(f"evalkit.{name}")
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
