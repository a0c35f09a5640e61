"""Validated outcome instruments (WEMWBS, SWEMWBS, ONS4, GBO, ...): items, scoring, thresholds.

One YAML file per instrument in ``definitions/instruments/``; :func:`instruments` loads them all.
The statistics layer takes an :class:`InstrumentDefinition` as an argument, so its scoring rules
are data the caller passes.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from evalkit.definitions.base import DEFINITIONS_DIR, ConfigError, StrictModel, load_model


class Threshold(StrictModel):
    """A change threshold for individual change, with its source."""

    kind: Literal["reliable_change", "meaningful_change"]
    value: float = Field(gt=0)
    source: str
    verified: bool = True
    note: str = ""


class InstrumentDefinition(StrictModel):
    """One validated outcome instrument: its items, scoring and change thresholds.

    ``direction`` says which way is better (``higher`` for WEMWBS, ``lower`` for CAT). Items of
    an instrument ``reported_separately`` (ONS4) are never summed: each item is its own score.
    """

    name: str
    title: str
    items: list[str] = Field(min_length=1)
    item_min: int
    item_max: int
    item_labels: dict[str, str] = {}
    reverse_scored: list[str] = []
    scoring: Literal["sum", "sum_then_convert", "per_item", "mean_of_goals"]
    conversion: dict[int, float] | None = None
    subscales: dict[str, list[str]] = {}
    direction: Literal["higher", "lower"] = "higher"
    item_directions: dict[str, Literal["higher", "lower"]] = {}
    reported_separately: bool = False
    min_items: int | None = None
    missing_rule: str
    missing_rule_verified: bool
    missing_rule_source: str = ""
    thresholds: list[Threshold] = []
    norms: dict[str, Any] = {}
    sources: list[str] = Field(min_length=1)
    notes: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> InstrumentDefinition:
        if self.item_min >= self.item_max:
            raise ValueError("item_min must be below item_max")
        unknown = set(self.reverse_scored) - set(self.items)
        if unknown:
            raise ValueError(f"reverse_scored names unknown items {sorted(unknown)}")
        for sub, its in self.subscales.items():
            if set(its) - set(self.items):
                raise ValueError(f"subscale {sub} names unknown items")
        if self.scoring == "sum_then_convert" and not self.conversion:
            raise ValueError("scoring sum_then_convert needs a conversion table")
        return self

    @property
    def score_range(self) -> tuple[float, float]:
        """Smallest and largest possible score (per item for per-item instruments)."""
        if self.scoring in ("per_item", "mean_of_goals"):
            return float(self.item_min), float(self.item_max)
        lo, hi = len(self.items) * self.item_min, len(self.items) * self.item_max
        if self.conversion:
            return float(self.conversion[lo]), float(self.conversion[hi])
        return float(lo), float(hi)

    def item_direction(self, item: str) -> str:
        """Which way is better for one item (per-item instruments may differ, e.g. ONS4 anxiety)."""
        return self.item_directions.get(item, self.direction)


def instruments_dir() -> Path:
    """Directory of instrument definition files (``$EVALKIT_INSTRUMENTS`` overrides)."""
    env = os.environ.get("EVALKIT_INSTRUMENTS")
    return Path(env).resolve() if env else DEFINITIONS_DIR / "instruments"


def load_instrument(path: Path) -> InstrumentDefinition:
    """Load and validate one instrument definition file."""
    return load_model(InstrumentDefinition, path)


@lru_cache(maxsize=8)
def _instruments_cached(directory: str) -> dict[str, InstrumentDefinition]:
    out: dict[str, InstrumentDefinition] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        inst = load_instrument(path)
        if inst.name != path.stem:
            raise ConfigError(f"{path}: name: '{inst.name}' does not match the file name")
        out[inst.name] = inst
    return out


def instruments() -> dict[str, InstrumentDefinition]:
    """All instrument definitions, by name."""
    return dict(_instruments_cached(str(instruments_dir())))
