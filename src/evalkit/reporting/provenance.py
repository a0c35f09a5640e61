"""What a report was built from, in words: the banner on its first screen.

``results.json`` carries ``data_source`` (the data contract's fields, read from the source
record intake writes: :func:`evalkit.intake.source_record.data_source`); the report's title
cell says the same in one sentence, so nobody takes a synthetic report for a real one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from evalkit.intake.source_record import data_source

__all__ = ["banner_context", "built_from", "data_source"]


def _date_words(iso: str | None) -> str:
    """``2024-03-31`` as "31 March 2024" (an unknown date said so)."""
    if not iso:
        return "an unknown date"
    d = dt.date.fromisoformat(iso)
    return f"{d.day} {d:%B %Y}"


def built_from(ds: dict[str, Any]) -> str:
    """The first-screen sentence saying what the report was built from.

    Examples
    --------
    >>> built_from({"kind": "synthetic", "source": "synthetic demo county, seed 42"})
    'Built from: synthetic demo county, seed 42 – not real data.'
    >>> built_from({"kind": "extract", "source": "ICB warehouse", "extract_end": "2024-03-31",
    ...             "mapping": "intake_mappings/icb.yaml"})
    'Built from: extract “ICB warehouse” to 31 March 2024, mapping intake_mappings/icb.yaml.'
    """
    kind = ds.get("kind")
    if kind == "synthetic":
        return f"Built from: {ds.get('source')} – not real data."
    if kind == "extract":
        end = _date_words(ds.get("extract_end"))
        if ds.get("mapping"):
            return f"Built from: extract “{ds.get('source')}” to {end}, mapping {ds['mapping']}."
        return f"Built from: {ds.get('source')} to {end}, no mapping file."
    return (
        "Built from: processed data with no source record (made before evalkit 0.4), so what "
        "they were made from is not known; run intake again."
    )


def banner_context(ds: dict[str, Any] | None) -> dict[str, Any]:
    """The title template's ``source`` argument: the sentence, and whether it is real data."""
    ds = ds or {}
    return {"kind": ds.get("kind", "unknown"), "text": built_from(ds)}
