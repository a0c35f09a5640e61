"""Labels for people: the reader's name for every code (``labels.yaml`` beside this module).

One table serves every sentence, table and figure, so "emergency admissions" is spelt the same
everywhere and a new setting needs one line of YAML, not a code change.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from evalkit.definitions.base import DEFINITIONS_DIR, StrictModel, load_model

__all__ = ["Labels", "event_noun", "labels", "setting_label"]


class Labels(StrictModel):
    """The label table: settings (plural, lower case) and the nouns after a count."""

    settings: dict[str, str] = Field(min_length=1)
    event_nouns: dict[str, str] = Field(min_length=1)


@lru_cache(maxsize=1)
def labels() -> Labels:
    """The label table shipped with evalkit."""
    return load_model(Labels, DEFINITIONS_DIR / "labels.yaml")


def _capitalise(text: str) -> str:
    return text[0].upper() + text[1:] if text else text


def setting_label(setting: str, *, capital: bool = False) -> str:
    """The reader's name for a setting (``emergency_admission`` -> "emergency admissions").

    An unknown code falls back to its words (underscores as spaces).

    Examples
    --------
    >>> setting_label("ae_attendance", capital=True)
    'A&E attendances'
    >>> setting_label("emergency_admission", capital=True)
    'Emergency admissions'
    """
    label = labels().settings.get(setting, setting.replace("_", " "))
    return _capitalise(label) if capital else label


def event_noun(setting: str) -> str:
    """The noun after a count of events in ``setting`` ("4 fewer admissions").

    Examples
    --------
    >>> event_noun("emergency_admission")
    'admissions'
    """
    return labels().event_nouns.get(setting, setting.replace("_", " "))
