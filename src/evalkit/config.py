"""Configuration: programme YAML files and paths.

Programmes are data, not code. Each is a YAML file validated by a pydantic model
that forbids unknown fields, so a typo in a config stops with a message naming the file and the
field (``programmes/mindsong.yaml: matching.ratoi: Extra inputs are not permitted``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from evalkit.contract import CONDITIONS, OPTIONAL_SETTINGS, REFERRAL_SOURCES, SETTINGS
from evalkit.definitions import (
    DEFINITIONS_DIR,
    ConfigError,
    InstrumentDefinition,
    StrictModel,
    Threshold,
    UnitCost,
    UnitCostTable,
    instruments,
    instruments_dir,
    load_instrument,
    load_unit_costs,
    load_yaml,
    validation_message,
)

#: Names programme code reads from here; the definitions live in :mod:`evalkit.definitions`.
__all__ = [
    "DEFAULT_PRIMARY",
    "DEFINITIONS_DIR",
    "NEGATIVE_CONTROL_SETTINGS",
    "PACKAGE_DIR",
    "ConfigError",
    "InstrumentDefinition",
    "Programme",
    "Threshold",
    "UnitCost",
    "UnitCostTable",
    "instruments",
    "instruments_dir",
    "load_instrument",
    "load_programme",
    "load_programme_file",
    "load_programmes",
    "load_unit_costs",
    "programmes_dir",
    "project_root",
]

PACKAGE_DIR = Path(__file__).resolve().parent


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------
def project_root() -> Path:
    """Return the project root: ``$EVALKIT_ROOT``, else the nearest parent holding ``programmes/``.

    Falls back to the current directory, so ``evalkit`` run from a checkout just works.
    """
    env = os.environ.get("EVALKIT_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "programmes").is_dir() and (candidate / "pyproject.toml").is_file():
            return candidate
    return here


def programmes_dir() -> Path:
    """Directory of programme YAML files (``$EVALKIT_PROGRAMMES`` overrides)."""
    env = os.environ.get("EVALKIT_PROGRAMMES")
    return Path(env).resolve() if env else project_root() / "programmes"


# --------------------------------------------------------------------------------------------
# Programmes
# --------------------------------------------------------------------------------------------
ConditionName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Eligibility(StrictModel):
    """Who could have been referred: age range at index and required conditions (any of)."""

    age_min: int = Field(ge=0, le=120)
    age_max: int = Field(ge=0, le=120)
    conditions_any: list[ConditionName] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Eligibility:
        if self.age_min > self.age_max:
            raise ValueError("age_min is above age_max")
        unknown = set(self.conditions_any) - set(CONDITIONS)
        if unknown:
            raise ValueError(
                f"conditions_any names unknown conditions {sorted(unknown)}; "
                f"known: {', '.join(CONDITIONS)}"
            )
        return self


#: The primary outcome when a programme's config names none (setting, window in months).
DEFAULT_PRIMARY: tuple[str, int] = ("emergency_admission", 12)


#: Settings a programme may name as negative-control outcomes: optional settings of the data
#: contract that no programme can plausibly change within 12 months and that share the outcomes'
#: confounding (docs/decisions/negative-control.md). Never costed, never in ``total_cost``.
NEGATIVE_CONTROL_SETTINGS: tuple[str, ...] = tuple(
    s for s in OPTIONAL_SETTINGS if s == "elective_admission"
)


class PrimaryOutcome(StrictModel):
    """The one setting and window a programme's claim of effect rests on."""

    setting: str
    window_months: int = Field(ge=1, le=12)


class Outcomes(StrictModel):
    """Utilisation outcomes and windows, with the primary and the ordered secondary outcomes.

    ``primary`` and ``secondary`` left out (None) mean the defaults: emergency admissions at 12
    months (:data:`DEFAULT_PRIMARY`), and the programme's other settings in config order, at
    the primary window. :meth:`primary_outcome` and :meth:`secondary_settings` resolve them.
    """

    settings: list[str] = list(SETTINGS)
    windows_months: list[int] = [3, 6, 12]
    baseline_months: int = Field(12, ge=1, le=24)
    history_months: int = Field(24, ge=12, le=36)
    primary: PrimaryOutcome | None = None
    secondary: list[str] | None = None
    negative_controls: list[str] = []

    @field_validator("settings")
    @classmethod
    def _known_settings(cls, v: list[str]) -> list[str]:
        unknown = set(v) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; known: {', '.join(SETTINGS)}")
        return v

    @field_validator("windows_months")
    @classmethod
    def _windows(cls, v: list[int]) -> list[int]:
        if not v or any(w < 1 or w > 12 for w in v):
            raise ValueError("windows_months must be between 1 and 12")
        return sorted(v)

    @field_validator("negative_controls")
    @classmethod
    def _negative_controls(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in NEGATIVE_CONTROL_SETTINGS]
        if unknown:
            allowed = ", ".join(NEGATIVE_CONTROL_SETTINGS)
            raise ValueError(f"negative_controls names {unknown}; allowed: {allowed}")
        if len(set(v)) != len(v):
            raise ValueError("negative_controls names a setting twice")
        return v

    @model_validator(mode="after")
    def _claims(self) -> Outcomes:
        setting, window = self.primary_outcome()
        if setting not in self.settings:
            raise ValueError(f"primary setting '{setting}' is not one of settings")
        if window not in self.windows_months:
            raise ValueError(f"primary window {window} is not one of windows_months")
        secondary = self.secondary or []
        unknown = [s for s in secondary if s not in self.settings]
        if unknown:
            raise ValueError(f"secondary settings {unknown} are not in settings")
        if setting in secondary:
            raise ValueError(f"secondary names the primary setting '{setting}'")
        if len(set(secondary)) != len(secondary):
            raise ValueError("secondary names a setting twice")
        both = [s for s in self.negative_controls if s in self.settings]
        if both:
            raise ValueError(f"negative_controls {both} are also outcome settings")
        return self

    def primary_outcome(self) -> tuple[str, int]:
        """The primary (setting, window in months): as configured, else the default."""
        if self.primary is None:
            return DEFAULT_PRIMARY
        return self.primary.setting, self.primary.window_months

    def secondary_settings(self) -> list[str]:
        """The secondary settings in order: as configured, else every other setting."""
        if self.secondary is not None:
            return list(self.secondary)
        primary = self.primary_outcome()[0]
        return [s for s in self.settings if s != primary]

    def chosen_by(self) -> str:
        """``"config"`` when the file names primary or secondary outcomes, else ``"default"``."""
        return "config" if self.primary is not None or self.secondary is not None else "default"


class Matching(StrictModel):
    """Matching defaults (docs/design/methods.md section 1)."""

    ratio: int = Field(3, ge=1, le=10)
    caliper: float | None = Field(0.2, gt=0)
    distance: Literal["logit", "propensity"] = "logit"
    replace: bool = False
    #: Exact strata: sex and the risk set (ISO week of the index date; "index_month" with the
    #: monthly risk sets of the earlier design).
    exact: list[str] = ["sex", "index_week"]
    covariates: list[str] = [
        "age",
        "imd_decile",
        "ethnicity_group",
        "conditions",
        "prior_utilisation_12m",
        "prior_utilisation_3m",
    ]
    sample_controls_above: int = Field(100_000, ge=1000)
    control_sample_size: int = Field(50_000, ge=1000)
    seed: int = 20240401
    #: Let a person serve as a control at most once across all index months (``unit`` in
    #: :func:`evalkit.match`). Off by default: with risk-set (incidence-density) sampling a
    #: person must stay available to every risk set, or the heaviest long-term users, who
    #: qualify in many months, are used up and the matched controls are lighter users than
    #: the participants (docs/decisions/matching.md, "Controls across risk sets").
    one_control_per_person: bool = False


class Cost(StrictModel):
    """Programme cost with its source."""

    amount: float = Field(gt=0)
    basis: Literal["participant", "starter"] = "participant"
    price_year: str
    source: str


class SyntheticEffects(StrictModel):
    """True effects the generator builds in (rate ratio at full effect for a completer)."""

    rate_ratio: dict[str, float]
    ramp_months: int = Field(3, ge=1, le=12)
    dropout_dose: float = Field(0.5, ge=0, le=1)

    @field_validator("rate_ratio")
    @classmethod
    def _settings(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        if any(r <= 0 or r > 3 for r in v.values()):
            raise ValueError("rate ratios must lie in (0, 3]")
        return v


class SyntheticAttendance(StrictModel):
    """Attendance and drop-out of the synthetic programme."""

    sessions_offered: int = Field(ge=1, le=52)
    session_interval_days: int = Field(7, ge=1, le=31)
    wait_days_mean: float = Field(28, gt=0)
    p_start: float = Field(ge=0, le=1)
    p_complete: float = Field(ge=0, le=1, description="among starters, least deprived quintile")
    deprivation_start_odds_ratio: float = Field(0.85, gt=0)
    deprivation_complete_odds_ratio: float = Field(0.85, gt=0)


class SyntheticWellbeing(StrictModel):
    """Latent wellbeing change (SD units) and questionnaire completion."""

    baseline_mean: float = 0.0
    effect_completer: float = 0.4
    effect_dropout: float = 0.15
    effect_sd: float = Field(0.5, ge=0)
    p_baseline: float = Field(0.9, ge=0, le=1)
    p_end_completer: float = Field(0.8, ge=0, le=1)
    p_end_dropout: float = Field(0.3, ge=0, le=1)
    p_item_missing: float = Field(0.01, ge=0, le=0.5)
    mnar_strength: float = Field(
        0.5, ge=0, description="realistic regime: log-odds of end response per SD of latent change"
    )


class Synthetic(StrictModel):
    """How the synthetic county generates this programme."""

    referrals_per_year_per_100k: float = Field(gt=0)
    referral_sources: dict[str, float]
    imd_quintile_referral_rr: dict[int, float]
    age_log_rr_per_decade: float = 0.0
    female_log_rr: float = 0.0
    episode_log_rr: float = 1.0
    prior_util_log_rr: float = 0.6
    admission_log_rr: float = 1.0
    effects: SyntheticEffects
    attendance: SyntheticAttendance
    wellbeing: SyntheticWellbeing = SyntheticWellbeing()
    rereferral_probability: float = Field(0.03, ge=0, le=0.5)

    @field_validator("referral_sources")
    @classmethod
    def _sources(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - set(REFERRAL_SOURCES)
        if unknown:
            raise ValueError(f"unknown referral sources {sorted(unknown)}")
        if abs(sum(v.values()) - 1) > 1e-6:
            raise ValueError("referral source shares must add up to 1")
        return v

    @field_validator("imd_quintile_referral_rr")
    @classmethod
    def _quintiles(cls, v: dict[int, float]) -> dict[int, float]:
        if set(v) != {1, 2, 3, 4, 5}:
            raise ValueError("give a rate ratio for each IMD quintile 1-5")
        return v


class Programme(StrictModel):
    """One creative health programme: who it is for, what it measures, how it is analysed."""

    slug: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str
    providers: list[str] = Field(min_length=1)
    eligibility: Eligibility
    instruments: list[str] = Field(min_length=1)
    primary_instrument: str
    outcomes: Outcomes = Outcomes()
    matching: Matching = Matching()
    cost: Cost
    synthetic: Synthetic

    @model_validator(mode="after")
    def _check(self) -> Programme:
        if self.primary_instrument not in self.instruments:
            raise ValueError("primary_instrument must be one of instruments")
        return self


def load_programme_file(path: Path) -> Programme:
    """Load and validate one programme YAML, naming the file and field on error."""
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        prog = Programme.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_message(path, exc)) from None
    if prog.slug != path.stem:
        raise ConfigError(f"{path}: slug: '{prog.slug}' does not match the file name")
    known = instruments()
    unknown = [i for i in prog.instruments if i not in known]
    if unknown:
        raise ConfigError(
            f"{path}: instruments: unknown instrument(s) {unknown}; defined: {', '.join(known)}"
        )
    return prog


def load_programmes(directory: Path | None = None) -> dict[str, Programme]:
    """All programmes in ``directory`` (default ``programmes/``), by slug, in name order."""
    directory = directory or programmes_dir()
    if not directory.is_dir():
        raise ConfigError(f"{directory}: programme directory not found")
    return {p.stem: load_programme_file(p) for p in sorted(directory.glob("*.yaml"))}


def load_programme(slug: str, directory: Path | None = None) -> Programme:
    """One programme by slug; an unknown slug lists the available ones."""
    directory = directory or programmes_dir()
    path = directory / f"{slug}.yaml"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise ConfigError(f"unknown programme '{slug}'; available: {available}")
    return load_programme_file(path)
