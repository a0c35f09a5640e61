"""Configuration: programme YAML files, instrument definitions, unit costs and paths.

Programmes and instruments are data, not code. Each is a YAML file validated by a pydantic model
that forbids unknown fields, so a typo in a config stops with a message naming the file and the
field (``programmes/mindsong.yaml: matching.ratoi: Extra inputs are not permitted``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalkit.contract import CONDITIONS, REFERRAL_SOURCES, SETTINGS

PACKAGE_DIR = Path(__file__).resolve().parent
DEFINITIONS_DIR = PACKAGE_DIR / "definitions"


class ConfigError(ValueError):
    """A configuration file is missing or invalid; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
# Instruments
# --------------------------------------------------------------------------------------------
class Threshold(_Strict):
    """A change threshold for individual change, with its source."""

    kind: Literal["reliable_change", "meaningful_change"]
    value: float = Field(gt=0)
    source: str
    verified: bool = True
    note: str = ""


class InstrumentDefinition(_Strict):
    """One validated outcome instrument: its items, scoring and change thresholds.

    ``direction`` says which way is better (``higher`` for WEMWBS, ``lower`` for CAT). Items of
    an instrument ``reported_separately`` (ONS4) are never summed: each item is its own score.
    """

    name: str
    title: str
    items: list[str] = Field(min_length=1)
    item_min: int
    item_max: int
    item_labels: dict[str, str] = {}
    reverse_scored: list[str] = []
    scoring: Literal["sum", "sum_then_convert", "per_item", "mean_of_goals"]
    conversion: dict[int, float] | None = None
    subscales: dict[str, list[str]] = {}
    direction: Literal["higher", "lower"] = "higher"
    item_directions: dict[str, Literal["higher", "lower"]] = {}
    reported_separately: bool = False
    min_items: int | None = None
    missing_rule: str
    missing_rule_verified: bool
    missing_rule_source: str = ""
    thresholds: list[Threshold] = []
    norms: dict[str, Any] = {}
    sources: list[str] = Field(min_length=1)
    notes: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> InstrumentDefinition:
        if self.item_min >= self.item_max:
            raise ValueError("item_min must be below item_max")
        unknown = set(self.reverse_scored) - set(self.items)
        if unknown:
            raise ValueError(f"reverse_scored names unknown items {sorted(unknown)}")
        for sub, its in self.subscales.items():
            if set(its) - set(self.items):
                raise ValueError(f"subscale {sub} names unknown items")
        if self.scoring == "sum_then_convert" and not self.conversion:
            raise ValueError("scoring sum_then_convert needs a conversion table")
        return self

    @property
    def score_range(self) -> tuple[float, float]:
        """Smallest and largest possible score (per item for per-item instruments)."""
        if self.scoring in ("per_item", "mean_of_goals"):
            return float(self.item_min), float(self.item_max)
        lo, hi = len(self.items) * self.item_min, len(self.items) * self.item_max
        if self.conversion:
            return float(self.conversion[lo]), float(self.conversion[hi])
        return float(lo), float(hi)

    def item_direction(self, item: str) -> str:
        """Which way is better for one item (per-item instruments may differ, e.g. ONS4 anxiety)."""
        return self.item_directions.get(item, self.direction)


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{path}: {loc}: {e['msg']}")
    return "\n".join(lines)


def _load_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def instruments_dir() -> Path:
    """Directory of instrument definition files (``$EVALKIT_INSTRUMENTS`` overrides)."""
    env = os.environ.get("EVALKIT_INSTRUMENTS")
    return Path(env).resolve() if env else DEFINITIONS_DIR / "instruments"


def load_instrument(path: Path) -> InstrumentDefinition:
    """Load and validate one instrument definition file."""
    raw = _load_yaml(path)
    try:
        return InstrumentDefinition.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from None


@lru_cache(maxsize=8)
def _instruments_cached(directory: str) -> dict[str, InstrumentDefinition]:
    out: dict[str, InstrumentDefinition] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        inst = load_instrument(path)
        if inst.name != path.stem:
            raise ConfigError(f"{path}: name: '{inst.name}' does not match the file name")
        out[inst.name] = inst
    return out


def instruments() -> dict[str, InstrumentDefinition]:
    """All instrument definitions, by name."""
    return dict(_instruments_cached(str(instruments_dir())))


# --------------------------------------------------------------------------------------------
# Unit costs
# --------------------------------------------------------------------------------------------
class UnitCost(_Strict):
    """The NHS cost of one event in a setting, with where the figure came from."""

    setting: str
    cost: float = Field(gt=0, description="cost at the table's price year")
    original_cost: float = Field(gt=0)
    original_price_year: str
    inflator: float = Field(gt=0, description="original_price_year to the table's price year")
    unit: str
    source: str
    flag: str = ""


class UnitCostTable(_Strict):
    """Unit costs per setting at one price year."""

    name: str
    price_year: str
    inflation_index: str
    costs: dict[str, UnitCost]

    @model_validator(mode="after")
    def _check(self) -> UnitCostTable:
        for key, uc in self.costs.items():
            if key != uc.setting:
                raise ValueError(f"costs.{key}: setting '{uc.setting}' does not match its key")
            expected = round(uc.original_cost * uc.inflator, 2)
            if abs(expected - uc.cost) > 0.01:
                raise ValueError(
                    f"costs.{key}: cost {uc.cost} is not original_cost x inflator ({expected})"
                )
        missing = set(SETTINGS) - set(self.costs)
        if missing:
            raise ValueError(f"no unit cost for settings {sorted(missing)}")
        return self

    def cost_of(self, setting: str) -> float:
        """Unit cost of one event in ``setting`` at the table's price year."""
        return self.costs[setting].cost


def load_unit_costs(path: Path | None = None) -> UnitCostTable:
    """Load the unit-cost table (default: the one shipped with evalkit)."""
    path = path or DEFINITIONS_DIR / "unit_costs.yaml"
    raw = _load_yaml(path)
    try:
        return UnitCostTable.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from None


# --------------------------------------------------------------------------------------------
# Programmes
# --------------------------------------------------------------------------------------------
ConditionName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Eligibility(_Strict):
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


class Outcomes(_Strict):
    """Utilisation outcomes and windows."""

    settings: list[str] = list(SETTINGS)
    windows_months: list[int] = [3, 6, 12]
    baseline_months: int = Field(12, ge=1, le=24)
    history_months: int = Field(24, ge=12, le=36)

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


class Matching(_Strict):
    """Matching defaults (methods.md section 1)."""

    ratio: int = Field(3, ge=1, le=10)
    caliper: float | None = Field(0.2, gt=0)
    distance: Literal["logit", "propensity"] = "logit"
    replace: bool = False
    exact: list[str] = ["sex", "index_month"]
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


class Cost(_Strict):
    """Programme cost with its source."""

    amount: float = Field(gt=0)
    basis: Literal["participant", "starter"] = "participant"
    price_year: str
    source: str


class SyntheticEffects(_Strict):
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


class SyntheticAttendance(_Strict):
    """Attendance and drop-out of the synthetic programme."""

    sessions_offered: int = Field(ge=1, le=52)
    session_interval_days: int = Field(7, ge=1, le=31)
    wait_days_mean: float = Field(28, gt=0)
    p_start: float = Field(ge=0, le=1)
    p_complete: float = Field(ge=0, le=1, description="among starters, least deprived quintile")
    deprivation_start_odds_ratio: float = Field(0.85, gt=0)
    deprivation_complete_odds_ratio: float = Field(0.85, gt=0)


class SyntheticWellbeing(_Strict):
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


class Synthetic(_Strict):
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


class Programme(_Strict):
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
    raw = _load_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        prog = Programme.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from None
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
