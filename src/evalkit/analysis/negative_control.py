"""Negative-control outcomes: the matched DiD on a setting the programme cannot change.

A negative-control outcome shares the confounding of the real outcomes and has no plausible
route from the programme (Lipsitch, Tchetgen Tchetgen & Cohen, *Epidemiology* 2010;21:383-388),
so its true rate ratio is 1 and an estimate away from 1 signals residual confounding, not
benefit or harm. The programmes name ``elective_admission`` (planned admissions;
``docs/decisions/negative-control.md``). :func:`negative_controls` fits the same matched
Poisson and linear DiD as :func:`evalkit.analysis.utilisation.utilisation` on each negative
control the cohort counts, in every configured window. Its entries are not outcomes: no Holm
adjustment, never a headline, never in total cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.analysis.utilisation import MatchedCohort, utilisation
from evalkit.analysis.utilisation_result import UtilisationResult
from evalkit.definitions.labels import setting_label
from evalkit.jsonsafe import json_safe
from evalkit.stats.result import Result

__all__ = [
    "NEGATIVE_CONTROL_ROLE",
    "NOT_ESTIMABLE",
    "NOT_IN_DATA",
    "NegativeControlResult",
    "negative_controls",
]

#: The ``role`` of every negative-control entry (never primary, secondary or exploratory).
NEGATIVE_CONTROL_ROLE = "negative_control"
#: The entry note of a rate ratio that is not estimable (no count: the note is published).
NOT_ESTIMABLE = "rate ratio not estimable: too few events at this size"
#: The entry note of a negative control the activity data does not hold.
NOT_IN_DATA = "not in the data"
#: The value each scale's estimate has when the comparison is free of residual confounding.
EXPECTED: dict[str, float] = {"rate_ratio": 1.0, "difference_per_person": 0.0}


@dataclass(frozen=True, repr=False)
class NegativeControlResult(Result):
    """The matched DiD on each negative-control setting and window, and the ones not in the data.

    ``fits`` holds one :class:`UtilisationResult` per (setting, window) the cohort counts;
    ``absent`` the configured settings the activity data has no row of (reported as "not in
    the data", never as zero events); ``windows`` the configured windows.
    """

    analysis = "negative_controls"

    fits: tuple[UtilisationResult, ...]
    absent: tuple[str, ...]
    windows: tuple[int, ...]
    notes: tuple[str, ...] = ()

    def entries(self) -> list[dict[str, Any]]:
        """The results.json ``negative_controls`` entries, per (setting, window) and scale.

        The shape of a ``matched_did`` utilisation entry plus ``role`` ("negative_control"),
        ``expected`` (1 for the rate ratio, 0 for the difference per person) and ``in_data``.
        A rate ratio that is not estimable (too few events) and a setting not in the data keep
        their row, with the estimate None and a ``note`` saying why.
        """
        out = []
        for fit in self.fits:
            rr = next((e for e in fit.entries() if _is_did(e, "rate_ratio")), None)
            diff = next(e for e in fit.entries() if _is_did(e, "difference_per_person"))
            if rr is None:  # the count behind the reason stays in the result's notes
                rr = {**_empty(diff), "scale": "rate_ratio", "note": NOT_ESTIMABLE}
            out += [_tag(rr, in_data=True), _tag(diff, in_data=True)]
        for setting in self.absent:
            for w in self.windows:
                base = {"setting": setting, "window_months": w, "method": "matched_did"}
                for scale in EXPECTED:
                    row = {**_empty(base), "scale": scale, "note": NOT_IN_DATA}
                    out.append(_tag(row, in_data=False))
        return out

    def tidy(self) -> pd.DataFrame:
        """One row per entry (:meth:`entries`)."""
        return pd.DataFrame(self.entries())

    def summary_header(self) -> list[str]:
        """What was estimated and against what."""
        shown = ", ".join(setting_label(s) for s in self.settings) or "none in the data"
        return [
            f"Negative controls ({shown}): matched DiD in the {', '.join(map(str, self.windows))}"
            "-month windows; the truth is no change (rate ratio 1)."
        ]

    @property
    def settings(self) -> list[str]:
        """The negative-control settings analysed, in order."""
        return list(dict.fromkeys(f.setting for f in self.fits))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the entries, the settings not in the data and the notes."""
        return json_safe(
            {
                "analysis": self.analysis,
                "settings": self.settings,
                "absent": list(self.absent),
                "windows_months": list(self.windows),
                "entries": self.entries(),
                "notes": list(self.notes),
            }
        )


def _is_did(entry: dict[str, Any], scale: str) -> bool:
    return entry["method"] == "matched_did" and entry["scale"] == scale


def _empty(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with its numbers blanked (not estimable, or not in the data)."""
    blank = ("estimate", "ci_low", "ci_high", "std_error", "p_value")
    return {
        "n_participants": None,
        "n_controls": None,
        "estimand": None,
        "controls_censored_share": None,
        **entry,
        **dict.fromkeys(blank),
    }


def _tag(entry: dict[str, Any], *, in_data: bool) -> dict[str, Any]:
    return {
        **entry,
        "role": NEGATIVE_CONTROL_ROLE,
        "expected": EXPECTED[entry["scale"]],
        "in_data": in_data,
    }


def negative_controls(mc: MatchedCohort) -> NegativeControlResult:
    """Matched DiD on each negative-control setting in every window of ``outcomes.windows_months``.

    The same matched sets, weights, time effects and clustering as the outcomes
    (:func:`~evalkit.analysis.utilisation.utilisation`); a configured setting the data does
    not hold is listed in ``absent`` with a note, never fitted on zeros.
    """
    cohort = mc.cohort
    windows = tuple(cohort.programme.outcomes.windows_months)
    present = [s for s in getattr(cohort, "negative_controls", []) if s in mc.panel]
    configured = list(cohort.programme.outcomes.negative_controls)
    absent = tuple(s for s in configured if s not in present)
    fits = tuple(utilisation(mc, s, w) for s in present for w in windows)
    notes = [n for f in fits for n in f.notes]
    notes += [
        f"{setting_label(s, capital=True)} ({s}): not in the data (the activity extract has no "
        "row of this setting), so this negative control is not analysed."
        for s in absent
    ]
    return NegativeControlResult(fits, absent, windows, tuple(notes))
