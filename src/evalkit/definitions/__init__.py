"""Definitions: instruments, unit costs, WELLBY values and labels, as validated data.

The facts evalkit relies on (an instrument's items and missing-item rule, a unit cost's source and
price year, the Green Book's WELLBY value, the reader's name of each code) live in YAML files
beside this module; the models here validate them. This layer sits below ``config`` (programmes
refer to instruments by name); the statistics layer takes these objects as arguments.

Names are loaded from their modules on first use, so that importing one model module (as the
statistics layer does with ``definitions.instruments``) loads nothing else: ``definitions.costs``
checks unit costs against the data contract's settings, and the statistics layer must not load
the contract.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public name -> the module of this package that defines it.
_NAMES: dict[str, str] = {
    "DEFINITIONS_DIR": "base",
    "ConfigError": "base",
    "StrictModel": "base",
    "load_model": "base",
    "load_yaml": "base",
    "validation_message": "base",
    "UnitCost": "costs",
    "UnitCostTable": "costs",
    "load_unit_costs": "costs",
    "InstrumentDefinition": "instruments",
    "Threshold": "instruments",
    "instruments": "instruments",
    "instruments_dir": "instruments",
    "load_instrument": "instruments",
    "Labels": "labels",
    "event_noun": "labels",
    "labels": "labels",
    "setting_label": "labels",
    "Deflator": "wellby",
    "WellbyRange": "wellby",
    "WellbyValues": "wellby",
    "load_wellby": "wellby",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(import_module(f"evalkit.definitions.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'evalkit.definitions' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_NAMES])
