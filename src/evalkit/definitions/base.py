"""What every definition file shares: its folder, its error and its strict loader.

Definitions are data, not code: each is a YAML file validated by a pydantic model that forbids
unknown fields, so a typo stops with a message naming the file and the field
(``instruments/wemwbs.yaml: item_mx: Extra inputs are not permitted``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

#: Folder of the definition files shipped with evalkit.
DEFINITIONS_DIR = Path(__file__).resolve().parent


class ConfigError(ValueError):
    """A configuration file is missing or invalid; the message names the file and field."""


class StrictModel(BaseModel):
    """A frozen pydantic model that rejects unknown fields (every definition and config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def validation_message(path: Path, err: ValidationError) -> str:
    """One line per field error: ``<file>: <field.path>: <message>``."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{path}: {loc}: {e['msg']}")
    return "\n".join(lines)


def load_yaml(path: Path) -> Any:
    """Parse a YAML file, raising :class:`ConfigError` naming the file if it is missing or bad."""
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def load_model(model: type[StrictModel], path: Path) -> Any:
    """Load ``path`` and validate it as ``model``; errors name the file and the field."""
    raw = load_yaml(path)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_message(path, exc)) from None
