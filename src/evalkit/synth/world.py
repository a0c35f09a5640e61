"""The two synthetic worlds: ``legacy`` (the generator before issue #14) and ``hard`` (the default).

The hard world is not fitted to any estimator (``docs/decisions/synthetic-county.md``, "Hard
realism"): referral on any day of the month from a daily hazard of the use recorded up to that
day, the referring contact on the referral day, a wider referral window (short history and short
follow-up), a winter peak in every setting, a one-off shock in calendar time and a
negative-control setting (``elective_admission``, ``docs/decisions/negative-control.md``). The
legacy world keeps every draw of the old generator, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.contract import SETTINGS
from evalkit.synth.calendar import Calendar

__all__ = [
    "HARD_CALENDAR",
    "NEGATIVE_CONTROL",
    "REFERRING_CONTACT",
    "SHOCK",
    "WORLDS",
    "Shock",
    "World",
    "make_world",
]

WORLDS = ("hard", "legacy")
#: The negative-control setting of the hard world (true rate ratio exactly 1).
NEGATIVE_CONTROL = "elective_admission"
#: Hard world: referrals in 0-based study months 15..68 (July 2020 to November 2024), so the
#: earliest participants have 15 months of history and the latest 3 to 4 months of follow-up.
HARD_CALENDAR = Calendar(referral_first_month=15, referral_last_month=68)
#: The setting of the contact that makes a referral, by referral source (none: no contact).
REFERRING_CONTACT = {
    "gp": "gp_appointment",
    "social_prescriber": "gp_appointment",
    "hospital_clinician": "outpatient_attendance",
    "camhs": "outpatient_attendance",
}
#: Hard world: a winter peak in every setting (legacy has none for outpatients).
HARD_SEASON_AMPLITUDE = {"outpatient_attendance": 0.04}


@dataclass(frozen=True)
class Shock:
    """A one-off fall in use in one calendar month, recovering linearly.

    In study month ``month`` a setting's rate is multiplied by ``floor[setting]``; the shortfall
    shrinks linearly to nothing ``recovery_months`` later. It applies to everyone, participants
    with and without the programme alike.
    """

    month: int
    floor: dict[str, float]
    recovery_months: int

    def multiplier(self, n_months: int, settings: tuple[str, ...]) -> np.ndarray:
        """Rate multiplier per study month and setting, shape (n_months, n_settings)."""
        m = np.arange(n_months)
        left = np.clip(1 - (m - self.month) / self.recovery_months, 0, 1) * (m >= self.month)
        out = np.ones((n_months, len(settings)))
        for k, s in enumerate(settings):
            if s in self.floor:
                out[:, k] = 1 - (1 - self.floor[s]) * left
        return out


#: Study month 40 is August 2022: GP, A&E and out-of-hours use fall to 70%, emergency admissions
#: to 85%, and recover over 12 months (a system shock like a cyber incident or industrial action).
SHOCK = Shock(
    month=40,
    floor={
        "gp_appointment": 0.70,
        "ae_attendance": 0.70,
        "ooh_contact": 0.70,
        "emergency_admission": 0.85,
    },
    recovery_months=12,
)


@dataclass(frozen=True)
class World:
    """What differs between the worlds; the legacy world is the old generator."""

    name: str
    cal: Calendar
    settings: tuple[str, ...]  # settings simulated (contract order, then extras)
    outcome_settings: tuple[str, ...]  # settings the truth states rate ratios for
    season_extra: dict[str, float]  # winter amplitude replacing activity.SEASON_AMPLITUDE
    shock: Shock | None

    @property
    def hard(self) -> bool:
        """Whether this is the hard world."""
        return self.name == "hard"

    def calendar_multiplier(self) -> np.ndarray | None:
        """Rate multiplier per study month and setting (the shock), or None (legacy)."""
        if self.shock is None:
            return None
        return self.shock.multiplier(self.cal.n_months, self.settings)


def make_world(name: str, with_prescriptions: bool) -> World:
    """The world ``name`` ("hard" or "legacy") with its settings."""
    extra = ("prescription_item",) if with_prescriptions else ()
    if name == "legacy":
        return World(name, Calendar(), (*SETTINGS, *extra), SETTINGS, {}, None)
    if name == "hard":
        settings = (*SETTINGS, NEGATIVE_CONTROL, *extra)
        return World(
            name,
            HARD_CALENDAR,
            settings,
            (*SETTINGS, NEGATIVE_CONTROL),
            dict(HARD_SEASON_AMPLITUDE),
            SHOCK,
        )
    raise ValueError(f"world must be one of {list(WORLDS)}, got {name!r}")
