"""Mapping presets: one table's source list for a common NHS extract shape, composed into a mapping.

A preset (``intake_mappings/presets/<name>.yaml``) holds the ``tables.<table>.sources`` entries of
the multi-file mapping shape (``intake_mappings/README.md``) for one kind of extract: a GP
register, SUS+ spells, ECDS, and so on, each documented in ``docs/presets/<name>.md``. A user
composes them into one complete mapping from a short composition::

    source: "County ICB extract, March 2024"
    presets: [gp_register, sus_apc_spells, ecds, sus_outpatients, gp_appointments, ooh_111,
              creative_health_mds]
    providers: {MINDSONG: Mindsong Community Choirs}   # code in file names: provider name
    files: {SUS_APC_SPELLS.csv: sus_apc_2024_03.csv}    # a preset's file name: yours
    extract_end: 2024-03-31                             # any top-level mapping field

:func:`compose_mapping` returns the complete mapping (a plain dict, written as YAML with
:func:`mapping_yaml`), which intake validates as any other mapping file. Composition is plain
concatenation: each table's sources are the presets' sources in the order the presets are
listed. A preset marked ``per_provider`` has its ``{provider_code}`` and ``{provider}``
placeholders filled once per provider, so each provider's file carries its provider name.

Imports nothing from evalkit, so synth (which writes a composed mapping beside an NHS-shaped
extract) and intake can both use it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "PRESETS_SUBDIR",
    "PresetError",
    "compose_mapping",
    "load_preset",
    "mapping_yaml",
    "provider_code",
]

#: Where presets live, relative to the project root.
PRESETS_SUBDIR = Path("intake_mappings") / "presets"
#: Keys of a composition besides the top-level mapping fields passed through unchanged.
_COMPOSITION_KEYS = frozenset({"presets", "providers", "files"})
#: Top-level fields of a preset file.
_PRESET_KEYS = frozenset({"preset", "title", "documentation", "per_provider", "tables"})
_PLACEHOLDERS = ("{provider_code}", "{provider}")


class PresetError(ValueError):
    """A preset or a composition is missing or malformed; the message names the file or key."""


def provider_code(name: str) -> str:
    """The code of a provider in file names: upper-case letters and digits joined by ``_``.

    Examples
    --------
    >>> provider_code("Artlift-style Community Arts")
    'ARTLIFT_STYLE_COMMUNITY_ARTS'
    """
    code = "_".join(re.findall(r"[A-Za-z0-9]+", name)).upper()
    if not code:
        raise PresetError(f"provider {name!r}: no letters or digits to make a file code from")
    return code


def load_preset(name: str, presets_dir: Path) -> dict[str, Any]:
    """Read and check one preset file ``<presets_dir>/<name>.yaml``."""
    path = Path(presets_dir) / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in Path(presets_dir).glob("*.yaml"))
        raise PresetError(f"preset {name!r}: {path} not found; known presets: {', '.join(known)}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PresetError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
        raise PresetError(f"{path}: a preset needs a 'tables' mapping of table -> sources")
    extra = sorted(set(doc) - _PRESET_KEYS)
    if extra:
        raise PresetError(f"{path}: unknown key(s) {extra}; known: {sorted(_PRESET_KEYS)}")
    for table, entry in doc["tables"].items():
        sources = entry.get("sources") if isinstance(entry, dict) else None
        if not isinstance(sources, list) or not sources:
            raise PresetError(f"{path}: tables.{table}.sources must be a non-empty list")
    return doc


def _fill(value: Any, code: str, name: str) -> Any:
    """``value`` with the provider placeholders filled in, at any depth."""
    if isinstance(value, str):
        return value.replace("{provider_code}", code).replace("{provider}", name)
    if isinstance(value, dict):
        return {_fill(k, code, name): _fill(v, code, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, code, name) for v in value]
    return value


def _has_placeholder(value: Any) -> bool:
    text = yaml.safe_dump(value)
    return any(p in text for p in _PLACEHOLDERS)


def compose_mapping(composition: Mapping[str, Any], presets_dir: Path) -> dict[str, Any]:
    """One complete intake mapping from a composition of presets.

    Parameters
    ----------
    composition : mapping
        ``presets`` (names, in order), ``providers`` (file code -> provider name; needed when a
        listed preset is ``per_provider``), ``files`` (a preset's file name -> the extract's), and
        any top-level mapping field (``source``, ``extract_end``, ``null_values``, ...), which is
        copied as it is.
    presets_dir : Path
        Folder holding the preset files.

    Returns
    -------
    dict
        The mapping: the top-level fields, then ``tables`` with each table's sources in preset
        order. Every ``files`` entry must rename a file some preset names (a typo is an error,
        never silently ignored).
    """
    names = composition.get("presets")
    if not isinstance(names, list) or not names:
        raise PresetError("composition: 'presets' must be a non-empty list of preset names")
    if len(set(names)) != len(names):
        raise PresetError(f"composition: presets listed more than once: {names}")
    providers = dict(composition.get("providers") or {})
    renames = dict(composition.get("files") or {})
    out: dict[str, Any] = {
        k: copy.deepcopy(v) for k, v in composition.items() if k not in _COMPOSITION_KEYS
    }
    tables: dict[str, dict[str, list]] = {}
    for name in names:
        for table, sources in _preset_sources(name, presets_dir, providers).items():
            tables.setdefault(table, {"sources": []})["sources"].extend(sources)
    _rename_files(tables, renames)
    out["tables"] = tables
    return out


class _Dumper(yaml.SafeDumper):
    """Block style, except code lists (lists of scalars), which stay on one line."""


def _list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(v, (dict, list)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _list)


def _preset_sources(
    name: str, presets_dir: Path, providers: Mapping[str, str]
) -> dict[str, list[dict[str, Any]]]:
    """One preset's sources per table, expanded once per provider if it is per provider."""
    preset = load_preset(name, presets_dir)
    per_provider = bool(preset.get("per_provider"))
    if per_provider and not providers:
        raise PresetError(f"composition: preset {name!r} is per provider; list 'providers'")
    if not per_provider and _has_placeholder(preset["tables"]):
        raise PresetError(f"preset {name!r}: placeholders need 'per_provider: true'")
    out: dict[str, list[dict[str, Any]]] = {}
    for table, entry in preset["tables"].items():
        if per_provider:
            out[table] = [
                _fill(copy.deepcopy(src), str(code), str(provider))
                for src in entry["sources"]
                for code, provider in providers.items()
            ]
        else:
            out[table] = copy.deepcopy(entry["sources"])
    return out


def _rename_files(tables: dict[str, dict[str, list]], renames: Mapping[str, str]) -> None:
    """Rename sources' files in place; a rename of a file no preset names is an error."""
    used: set[str] = set()
    for entry in tables.values():
        for src in entry["sources"]:
            if src.get("file") in renames:
                used.add(src["file"])
                src["file"] = renames[src["file"]]
    unknown = sorted(set(renames) - used)
    if unknown:
        raise PresetError(f"composition: files {unknown} are not files of the listed presets")


def mapping_yaml(mapping: Mapping[str, Any], header: str = "") -> str:
    """A composed mapping as YAML text, in key order, with an optional comment header."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    body = yaml.dump(dict(mapping), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(lines) + ("\n" if lines else "") + body
