"""What an instrument's definition says about its pre/post analysis.

The direction (which way is better), the first change threshold and the population norm of an
instrument, or of one item of an instrument reported item by item (``ons4_anxiety``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from evalkit.definitions.instruments import InstrumentDefinition
from evalkit.stats.prepost.shares import ChangeThreshold, Direction

__all__ = ["ResolvedInstrument", "resolve_instrument"]


@dataclass(frozen=True)
class ResolvedInstrument:
    """An instrument name resolved against the definitions (``definition`` None: unknown)."""

    definition: InstrumentDefinition | None
    item: str | None
    direction: Direction
    threshold: ChangeThreshold
    norm: float | None
    norm_label: str | None
    title: str


def _find(
    instrument: str, defs: Mapping[str, InstrumentDefinition]
) -> tuple[InstrumentDefinition | None, str | None]:
    """The definition of ``instrument`` and, for a separately reported item, the item."""
    defn = defs.get(instrument)
    if defn is not None:
        return defn, None
    for d in defs.values():
        if d.reported_separately and instrument.startswith(d.name + "_"):
            cand = instrument[len(d.name) + 1 :]
            if cand in d.items:
                return d, cand
    return None, None


def _norm(defn: InstrumentDefinition, item: str | None) -> tuple[float | None, str | None]:
    """Population mean and its label (per item where the definition gives one per item)."""
    mean = defn.norms.get("mean")
    if isinstance(mean, Mapping) and item is not None:
        mean = mean.get(item)
    if isinstance(mean, int | float):
        return float(mean), str(defn.norms.get("label", "population mean"))
    return None, None


def resolve_instrument(
    instrument: str,
    defs: Mapping[str, InstrumentDefinition],
    direction: Direction | None,
) -> ResolvedInstrument:
    """Direction, threshold, norm and title of ``instrument`` from its definition.

    ``direction`` overrides the definition's; an instrument without a definition gets the
    given direction (else ``"higher"``), no threshold and no norm.
    """
    defn, item = _find(instrument, defs)
    if defn is None:
        return ResolvedInstrument(
            None,
            None,
            direction or "higher",
            ChangeThreshold(None, None, None),
            None,
            None,
            instrument,
        )
    dirn = direction or (defn.item_direction(item) if item else defn.direction)
    thr = defn.thresholds[0] if defn.thresholds else None
    norm, label = _norm(defn, item)
    title = defn.title + (f": {defn.item_labels.get(item, item)}" if item else "")
    return ResolvedInstrument(
        defn,
        item,
        dirn,
        ChangeThreshold(thr.value, thr.kind, thr.source)
        if thr
        else ChangeThreshold(None, None, None),
        norm,
        label,
        title,
    )
