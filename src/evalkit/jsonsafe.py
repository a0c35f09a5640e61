"""JSON helpers shared by every layer: JSON-safe conversion and the one float rounding.

Imports nothing from evalkit, so the statistical engines can use it and stay independent of the
domain modules.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd


def json_safe(obj: Any) -> Any:
    """Convert numpy scalars, NaN, dates, paths and containers to JSON-safe Python objects.

    NaN and infinities become ``None``; anything unknown becomes its string.

    Examples
    --------
    >>> json_safe({"a": np.float64("nan"), "b": (np.int64(2), dt.date(2024, 1, 31))})
    {'a': None, 'b': [2, '2024-01-31']}
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return _scalar(obj)


def _finite(x: Any) -> float | None:
    v = float(x)
    return None if not math.isfinite(v) else v


#: JSON-safe form of a scalar, by type, in the order they are tried (bool before int).
_SCALARS: tuple[tuple[type | tuple[type, ...], Any], ...] = (
    (str, lambda x: x),
    ((bool, np.bool_), bool),
    ((int, np.integer), int),
    ((float, np.floating), _finite),
    ((pd.Timestamp, np.datetime64), lambda x: pd.Timestamp(x).isoformat()),
    (dt.date, lambda x: x.isoformat()),
)


def _scalar(obj: Any) -> Any:
    """One scalar as JSON: None, str, bool, int, finite float, ISO date; else its string."""
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    for kinds, convert in _SCALARS:
        if isinstance(obj, kinds):
            return convert(obj)
    return str(obj)


def round_floats(obj: Any, digits: int = 6) -> Any:
    """Round every float to ``digits`` significant digits (NaN and infinities become None).

    Rounded floats make reruns byte-identical (data contract: 6 significant digits).

    Examples
    --------
    >>> round_floats({"a": 1.23456789, "b": [float("nan"), 2]})
    {'a': 1.23457, 'b': [None, 2]}
    """
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return None if not math.isfinite(x) else float(f"{x:.{digits}g}")
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, dict):
        return {str(k): round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [round_floats(v, digits) for v in obj]
    return json_safe(obj)
