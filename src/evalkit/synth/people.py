"""The registered population: age, sex, ethnicity, area, registration, deaths and conditions.

Modelled on Gloucestershire (``docs/reference/county.md``): an England-like age structure with
a younger Gloucester and older Cotswold and Forest of Dean; 92.5% White with more diversity in
Gloucester; life expectancy about 80 (men) and 84 (women); long-term conditions whose prevalence
rises with age and with deprivation and which cluster through a shared health latent; people
joining and leaving registration during the six years.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from evalkit.contract import CONDITIONS, ETHNICITY_CODES, imd_quintile
from evalkit.synth.calendar import NONE, Calendar, to_days
from evalkit.synth.geography import Geography

# England age structure, 5-year bands to 90+ (ONS Census 2021, rounded %).
AGE_BANDS = np.array([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90])
AGE_SHARE = np.array(
    [5.4, 5.9, 6.0, 5.6, 5.9, 6.5, 6.8, 6.6, 6.2, 6.3, 6.9, 6.7, 5.8, 4.9, 5.0, 3.6, 2.4, 1.4, 0.8]
)
#: District age tilt (log-odds per 40 years above 40): Gloucester youngest, Cotswold oldest.
AGE_TILT = {
    "Cheltenham": 0.0,
    "Cotswold": 0.35,
    "Forest of Dean": 0.25,
    "Gloucester": -0.2,
    "Stroud": 0.15,
    "Tewkesbury": 0.1,
}
# Ethnic category shares for the county (Census 2021 groups split into NHS codes), plus records
# with ethnicity not stated (Z) or not known (99), as on GP systems.
ETHNICITY_SHARE = {
    "A": 84.0, "B": 0.6, "C": 4.6,
    "D": 0.6, "E": 0.3, "F": 0.6, "G": 0.7,
    "H": 1.2, "J": 0.5, "K": 0.3, "L": 0.9,
    "M": 0.4, "N": 0.8, "P": 0.1,
    "R": 0.3, "S": 0.5,
    "Z": 2.6, "99": 1.0,
}  # fmt: skip
#: Multiplier on the non-White shares by district (Gloucester more diverse).
DIVERSITY = {
    "Cheltenham": 1.3,
    "Cotswold": 0.5,
    "Forest of Dean": 0.4,
    "Gloucester": 2.3,
    "Stroud": 0.6,
    "Tewkesbury": 0.8,
}

#: Condition: (target prevalence in its age base, minimum age, age log-odds per 10 years,
#: deprivation log-odds from least to most deprived decile).
CONDITION_MODEL: dict[str, tuple[float, int, float, float]] = {
    "copd": (0.030, 35, 0.55, 1.0),
    "asthma": (0.070, 2, 0.04, 0.3),
    "chronic_pain": (0.120, 18, 0.22, 0.45),
    "anxiety": (0.065, 6, 0.05, 0.4),
    "depression": (0.110, 12, 0.05, 0.5),
    "diabetes": (0.070, 17, 0.40, 0.6),
    "chd": (0.045, 35, 0.65, 0.4),
    "smi": (0.009, 16, 0.03, 0.8),
}
INCIDENT_SHARE = 0.15  # share of cases first diagnosed during the six years
YEARLY_LEAVING = 0.03  # deregistration hazard per year
JOINING_SHARE = 0.12  # share of people who join the county's lists during the study


@dataclass
class Population:
    """Person-level arrays (one entry per person) and the public ``population`` table."""

    n: int
    year_of_birth: np.ndarray
    birth: np.ndarray  # day number
    sex: np.ndarray  # "F" / "M" / "X"
    ethnicity: np.ndarray
    lsoa: np.ndarray
    district: np.ndarray
    pcn: np.ndarray
    imd_decile: np.ndarray
    reg_from: np.ndarray  # day number
    reg_to: np.ndarray  # day number or NONE
    death: np.ndarray  # day number or NONE
    diagnosis: np.ndarray  # (n, n_conditions) day numbers or NONE
    health: np.ndarray  # shared health latent (conditions and utilisation)
    frailty: np.ndarray  # utilisation frailty shared across settings

    @property
    def imd_quintile(self) -> np.ndarray:
        """IMD quintile 1 (most deprived) to 5 (:func:`evalkit.contract.imd_quintile`)."""
        return imd_quintile(self.imd_decile)

    @property
    def reg_end(self) -> np.ndarray:
        """Last day registered and alive (inclusive), or NONE."""
        return np.minimum(self.reg_to, self.death)

    def subset(self, rows: np.ndarray) -> Population:
        """The same people arrays restricted to ``rows`` (person indices)."""
        kw = {k: (v[rows] if isinstance(v, np.ndarray) else v) for k, v in vars(self).items()}
        kw["n"] = int(rows.size)
        return Population(**kw)

    def age_at(self, day: int | np.ndarray) -> np.ndarray:
        """Age in completed years at a day number (vectorised)."""
        return np.floor((np.asarray(day) - self.birth) / 365.25).astype(np.int32)


def _sample_ages(rng: np.random.Generator, tilt: np.ndarray) -> np.ndarray:
    mids = np.append(AGE_BANDS[:-1] + 2.5, 95.0)
    base = AGE_SHARE / AGE_SHARE.sum()
    weights = base[None, :] * np.exp(tilt[:, None] * (mids[None, :] - 40) / 40)
    weights /= weights.sum(axis=1, keepdims=True)
    u = rng.random(tilt.size)
    band = (weights.cumsum(axis=1) < u[:, None]).sum(axis=1)
    band = np.minimum(band, AGE_BANDS.size - 1)
    width = np.where(band == AGE_BANDS.size - 1, 10.0, 5.0)
    return AGE_BANDS[band] + rng.random(tilt.size) * width


def build_population(n: int, geo: Geography, cal: Calendar, rng: np.random.Generator) -> Population:
    """Draw ``n`` people (everyone ever registered in the study), a county like Gloucestershire."""
    lsoas = geo.lsoas
    area = rng.choice(len(lsoas), size=n, p=lsoas["weight"].to_numpy())
    district = lsoas["district"].to_numpy()[area]
    tilt = pd.Series(district).map(AGE_TILT).to_numpy(dtype=float)
    age0 = _sample_ages(rng, tilt)  # exact age at study start
    start = to_days(cal.start)
    end = to_days(cal.end)
    birth = np.floor(start - age0 * 365.25).astype(np.int64)
    yob = (birth.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970).astype(
        np.int32
    )
    sex = rng.choice(np.array(["F", "M", "X"]), size=n, p=[0.505, 0.493, 0.002])
    ethnicity = _draw_ethnicity(rng, district, n)

    imd = lsoas["imd_decile"].to_numpy()[area].astype(np.int32)
    dep = (10 - imd) / 9.0  # 0 least deprived .. 1 most deprived
    health = rng.standard_normal(n)
    frailty = 0.5 * health + np.sqrt(1 - 0.25) * rng.standard_normal(n)
    diagnosis = _draw_conditions(rng, birth, dep, health, start, end)
    reg_from, reg_to, observed_from = _draw_registration(rng, birth, start, end)
    death = _draw_deaths(rng, birth, sex, dep, diagnosis, observed_from, reg_to, start, end)
    # Registration ends with death; registered_to is only for leaving the area.
    reg_to = np.where(death < NONE, NONE, reg_to)
    # A condition cannot be first diagnosed after registration ended.
    last_day = np.minimum(np.minimum(reg_to, death), end)
    diagnosis = np.where(diagnosis <= last_day[:, None], diagnosis, NONE).astype(np.int32)

    return Population(
        n=n,
        year_of_birth=yob,
        birth=birth,
        sex=sex,
        ethnicity=ethnicity.astype(str),
        lsoa=lsoas["lsoa"].to_numpy()[area],
        district=district,
        pcn=lsoas["pcn"].to_numpy()[area],
        imd_decile=imd,
        reg_from=reg_from.astype(np.int64),
        reg_to=reg_to.astype(np.int64),
        death=death.astype(np.int64),
        diagnosis=diagnosis,
        health=health,
        frailty=frailty,
    )


def _draw_ethnicity(rng: np.random.Generator, district: np.ndarray, n: int) -> np.ndarray:
    """Ethnic category codes, district by district (non-White shares scaled by ``DIVERSITY``)."""
    codes = np.array(ETHNICITY_CODES)
    share = np.array([ETHNICITY_SHARE[c] for c in ETHNICITY_CODES])
    non_white = ~np.isin(codes, ["A", "B", "C", "Z", "99"])
    ethnicity = np.empty(n, dtype=object)
    for d, mult in DIVERSITY.items():
        idx = np.flatnonzero(district == d)
        p = share * np.where(non_white, mult, 1.0)
        ethnicity[idx] = rng.choice(codes, size=idx.size, p=p / p.sum())
    return ethnicity


def _draw_conditions(
    rng: np.random.Generator,
    birth: np.ndarray,
    dep: np.ndarray,
    health: np.ndarray,
    start: int,
    end: int,
) -> np.ndarray:
    """Diagnosis day of each condition per person, shape (n, conditions), NONE if never.

    Logistic in age and deprivation with a shared health latent; the intercept is calibrated
    (bisection) so that prevalence in the condition's age base meets its target.
    """
    n = birth.size
    age_end = (end - birth) / 365.25
    diagnosis = np.full((n, len(CONDITIONS)), NONE, dtype=np.int32)
    for j, cond in enumerate(CONDITIONS):
        target, min_age, age_slope, dep_slope = CONDITION_MODEL[cond]
        base = age_end >= min_age
        lin = age_slope * (age_end - 50) / 10 + dep_slope * dep + 0.5 * health
        lo, hi = -15.0, 5.0
        for _ in range(40):
            mid = (lo + hi) / 2
            if expit(mid + lin[base]).mean() < target:
                lo = mid
            else:
                hi = mid
        has = base & (rng.random(n) < expit((lo + hi) / 2 + lin))
        first_possible = birth + int(min_age * 365.25)
        incident = rng.random(n) < INCIDENT_SHARE
        earliest = np.maximum(first_possible, start - 20 * 365)
        prevalent_day = earliest + (rng.random(n) * np.maximum(start - earliest, 1)).astype(
            np.int64
        )
        inc_low = np.maximum(first_possible, start)
        incident_day = inc_low + (rng.random(n) * np.maximum(end - inc_low, 1)).astype(np.int64)
        day = np.where(incident | (first_possible >= start), incident_day, prevalent_day)
        diagnosis[has, j] = np.minimum(day[has], end).astype(np.int32)
    return diagnosis


def _draw_registration(
    rng: np.random.Generator, birth: np.ndarray, start: int, end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Registration: most registered before the study; some join during it; some leave.

    Returns ``registered_from``, ``registered_to`` (NONE: still registered) and the first day
    observed in the study.
    """
    n = birth.size
    joins = rng.random(n) < JOINING_SHARE
    past = start - (rng.random(n) * 25 * 365.25).astype(np.int64)
    reg_from = np.where(joins, start + (rng.random(n) * (end - start - 30)).astype(np.int64), past)
    reg_from = np.maximum(reg_from, birth)
    observed_from = np.maximum(reg_from, start)
    leave_after = rng.exponential(1 / YEARLY_LEAVING, size=n) * 365.25
    reg_to = observed_from + leave_after.astype(np.int64)
    reg_to = np.where(reg_to <= end, reg_to, NONE)
    return reg_from, reg_to, observed_from


def _draw_deaths(
    rng: np.random.Generator,
    birth: np.ndarray,
    sex: np.ndarray,
    dep: np.ndarray,
    diagnosis: np.ndarray,
    observed_from: np.ndarray,
    reg_to: np.ndarray,
    start: int,
    end: int,
) -> np.ndarray:
    """Death day (NONE: none while registered in the study).

    Gompertz-like hazard by age at mid-study, lower for women, higher with deprivation and
    conditions; about 80 (men) and 84 (women) years of life expectancy.
    """
    age_mid = (start + end) / 2 / 1 - birth
    age_mid = age_mid / 365.25
    has_cond = diagnosis < NONE
    cond_mult = (
        1
        + 1.0 * has_cond[:, CONDITIONS.index("copd")]
        + 0.6 * has_cond[:, CONDITIONS.index("chd")]
        + 0.4 * has_cond[:, CONDITIONS.index("diabetes")]
        + 0.8 * has_cond[:, CONDITIONS.index("smi")]
    )
    hazard = np.exp(-10.9 + 0.098 * age_mid) * np.where(sex == "F", 0.68, 1.0)
    hazard *= (1 + 0.25 * dep) * cond_mult
    death_after = rng.exponential(1 / np.maximum(hazard, 1e-9)) * 365.25
    death = observed_from + death_after.astype(np.int64)
    alive_reg_end = np.where(reg_to < NONE, reg_to, end)
    return np.where(death <= alive_reg_end, death, NONE)
