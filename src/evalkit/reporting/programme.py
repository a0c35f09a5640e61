"""Programme-level descriptions for the report's methods appendix."""

from __future__ import annotations

from typing import Any

from evalkit.config import instruments


def methods_appendix(instrument_names: list[str]) -> dict[str, Any]:
    """Describe each instrument for the methods appendix.

    States its scoring, its missing-item rule (and whether that is the developers' verified rule
    or the conservative fallback), its change thresholds and sources.
    """
    defs = instruments()
    out = {}
    for name in instrument_names:
        d = defs[name]
        out[name] = {
            "title": d.title,
            "scoring": d.scoring,
            "direction": d.direction,
            "missing_rule": d.missing_rule,
            "missing_rule_verified": d.missing_rule_verified,
            "missing_rule_source": d.missing_rule_source,
            "thresholds": [t.model_dump() for t in d.thresholds],
            "sources": list(d.sources),
        }
    return {"instruments": out}
