"""Healthcare activity: latent need, transient health episodes, seasonality and trend.

Each person's expected count per setting and calendar month is::

    mu0 = base_s x age_s(age) x sex_s x prod(condition_s) x deprivation_s x need_is
          x season_s(month) x trend(month) x (1 + w_s x episode_im) x registered_fraction_im

``need_is`` is log-normal with a component shared across settings (so counts are over-dispersed
and correlated across settings); ``episode_im`` is the intensity of transient health episodes that
start at random and decay over months: they raise utilisation for a while and (in the realistic
regime) make referral more likely, which creates the pre-referral peak and regression to the mean.
Counts are Poisson given ``mu0``.
"""

from __future__ import annotations

import numpy as np

from evalkit.contract import CONDITIONS, SETTINGS
from evalkit.synth.calendar import Calendar
from evalkit.synth.people import Population

ALL_SETTINGS = (*SETTINGS, "prescription_item")
#: Events per person-year at age 40, no conditions, least deprived, average need.
BASE_PER_YEAR = {
    "gp_appointment": 3.4,
    "ae_attendance": 0.22,
    "emergency_admission": 0.045,
    "outpatient_attendance": 1.3,
    "ooh_contact": 0.2,
    "prescription_item": 9.0,
    # Hard world's negative control: planned (elective) admissions, day cases included. An
    # assumption informed by HES (about 8 million elective admissions a year in England, some
    # 0.14 per person-year, concentrated in older people with conditions): about 0.1 per
    # person-year for adults with long-term conditions (docs/decisions/negative-control.md).
    "elective_admission": 0.04,
}
#: Multiplier per condition present, by setting (order of contract.CONDITIONS:
#: copd, asthma, chronic_pain, anxiety, depression, diabetes, chd, smi).
CONDITION_MULT = {
    "gp_appointment": (1.7, 1.3, 1.8, 1.4, 1.5, 1.5, 1.5, 1.5),
    "ae_attendance": (1.6, 1.3, 1.3, 1.3, 1.3, 1.2, 1.4, 1.8),
    "emergency_admission": (2.5, 1.4, 1.2, 1.1, 1.2, 1.5, 2.0, 1.8),
    "outpatient_attendance": (1.5, 1.1, 1.6, 1.1, 1.1, 1.6, 1.8, 1.3),
    "ooh_contact": (1.6, 1.3, 1.4, 1.4, 1.4, 1.2, 1.3, 1.6),
    "prescription_item": (2.5, 1.8, 2.0, 1.5, 1.8, 2.5, 2.5, 2.0),
    "elective_admission": (1.3, 1.1, 1.5, 1.0, 1.1, 1.3, 1.5, 1.1),
}
#: Rate ratio most deprived decile vs least (A&E about doubles: county.md section 6).
DEPRIVATION_RR = {
    "gp_appointment": 1.15,
    "ae_attendance": 2.0,
    "emergency_admission": 1.6,
    "outpatient_attendance": 1.1,
    "ooh_contact": 1.5,
    "prescription_item": 1.3,
    "elective_admission": 1.05,
}
#: Winter amplitude (peak in January); respiratory conditions add to emergency admissions.
SEASON_AMPLITUDE = {
    "gp_appointment": 0.08,
    "ae_attendance": 0.05,
    "emergency_admission": 0.15,
    "outpatient_attendance": 0.0,
    "ooh_contact": 0.12,
    "prescription_item": 0.03,
    "elective_admission": 0.04,
}
RESPIRATORY_EXTRA_AMPLITUDE = 0.15
TREND_PER_YEAR = 0.015
#: How strongly a transient episode raises each setting (per unit of episode intensity).
EPISODE_WEIGHT = {
    "gp_appointment": 2.0,
    "ae_attendance": 3.0,
    "emergency_admission": 5.0,
    "outpatient_attendance": 0.8,
    "ooh_contact": 2.5,
    "prescription_item": 0.5,
    "elective_admission": 0.8,
}
NEED_SHARED_SD = 0.55
NEED_OWN_SD = 0.35
EPISODE_BASE_ONSET = 0.006  # per month
EPISODE_DECAY = np.exp(-1 / 1.5)  # intensity falls by 1/e in six weeks
EPISODE_SHAPE, EPISODE_SCALE = 2.0, 0.75  # Gamma magnitude, mean 1.5
BURN_IN_MONTHS = 12
#: Episode intensity above this raises utilisation no further (overlapping episodes would
#: otherwise give a few people hundreds of GP appointments a year).
EPISODE_RATE_CAP = 3.0
#: Upper bound on a person's monthly episode onset probability.
EPISODE_MAX_ONSET = 0.05


def _age_multiplier(setting: str, age: np.ndarray) -> np.ndarray:
    a = age.astype(float)
    infant = np.exp(-a / 4.0)
    if setting == "gp_appointment":
        return np.exp(0.012 * (a - 40)) * (1 + 0.8 * infant)
    if setting == "ae_attendance":
        return np.exp(0.02 * np.maximum(a - 60, 0)) * (1 + 0.8 * infant)
    if setting == "emergency_admission":
        return np.maximum(np.exp(0.035 * (a - 40)), 0.4) * (1 + 0.6 * infant)
    if setting == "outpatient_attendance":
        return np.exp(0.015 * (a - 40))
    if setting == "ooh_contact":
        return np.exp(0.01 * np.maximum(a - 60, 0)) * (1 + 1.2 * infant)
    if setting == "elective_admission":
        return np.exp(0.025 * (a - 40))
    return np.exp(0.03 * (a - 40))  # prescription items


def _sex_multiplier(setting: str, sex: np.ndarray) -> np.ndarray:
    female = {"gp_appointment": 1.25, "outpatient_attendance": 1.1}.get(setting, 1.0)
    return np.where(sex == "F", female, np.where(sex == "X", (1 + female) / 2, 1.0))


def person_need(
    pop: Population, idx: np.ndarray, rng: np.random.Generator, settings: tuple[str, ...]
) -> np.ndarray:
    """Log-normal need per person and setting (mean 1), correlated through the frailty."""
    shared = pop.frailty[idx]
    own = rng.standard_normal((idx.size, len(settings)))
    log_need = NEED_SHARED_SD * shared[:, None] + NEED_OWN_SD * own
    return np.exp(log_need - (NEED_SHARED_SD**2 + NEED_OWN_SD**2) / 2)


def episodes(
    pop: Population, idx: np.ndarray, cal: Calendar, rng: np.random.Generator
) -> np.ndarray:
    """Transient episode intensity per person and study month, shape (n, n_months), float32.

    Onsets are Bernoulli per month (more frequent with frailty and conditions), magnitudes Gamma;
    intensity decays geometrically. A year of burn-in gives the first study month a steady state.
    """
    n_cond = (pop.diagnosis[idx] < np.iinfo(np.int32).max).sum(axis=1)
    p = np.minimum(
        EPISODE_BASE_ONSET * np.exp(0.5 * pop.frailty[idx] + 0.25 * n_cond), EPISODE_MAX_ONSET
    )
    total = cal.n_months + BURN_IN_MONTHS
    onset = rng.random((idx.size, total)) < p[:, None]
    size = rng.gamma(EPISODE_SHAPE, EPISODE_SCALE, size=(idx.size, total)) * onset
    out = np.empty((idx.size, cal.n_months), dtype=np.float32)
    level = np.zeros(idx.size)
    for m in range(total):
        level = level * EPISODE_DECAY + size[:, m]
        if m >= BURN_IN_MONTHS:
            out[:, m - BURN_IN_MONTHS] = level
    return out


def registered_fraction(pop: Population, idx: np.ndarray, cal: Calendar) -> np.ndarray:
    """Share of each calendar month a person is registered and alive, shape (n, n_months)."""
    starts = cal.month_starts
    lo = np.maximum(pop.reg_from[idx][:, None], starts[None, :-1])
    end_incl = np.minimum(pop.reg_end[idx], starts[-1] - 1)
    hi = np.minimum(end_incl[:, None] + 1, starts[None, 1:])
    days = np.clip(hi - lo, 0, None)
    return (days / cal.month_lengths[None, :]).astype(np.float64)


def monthly_rates(
    pop: Population,
    idx: np.ndarray,
    need: np.ndarray,
    episode: np.ndarray,
    cal: Calendar,
    settings: tuple[str, ...],
    *,
    season_amplitude: dict[str, float] | None = None,
    calendar_mult: np.ndarray | None = None,
) -> np.ndarray:
    """Expected events per full calendar month, shape (n, n_months, n_settings), no exposure.

    ``season_amplitude`` replaces :data:`SEASON_AMPLITUDE` for the settings it names and
    ``calendar_mult`` (n_months, n_settings) multiplies every person's rates (the hard world's
    shock); both absent in the legacy world.
    """
    seasons = {**SEASON_AMPLITUDE, **(season_amplitude or {})}
    starts = cal.month_starts[:-1]
    age = (starts[None, :] - pop.birth[idx][:, None]) / 365.25  # (n, M)
    present = pop.diagnosis[idx][:, :, None] <= starts[None, None, :]  # (n, C, M)
    dep = (10 - pop.imd_decile[idx]) / 9.0
    moy = cal.calendar_month_of_year
    season_wave = np.cos(2 * np.pi * (moy - 1) / 12)  # +1 in January
    trend = np.exp(TREND_PER_YEAR * np.arange(cal.n_months) / 12)
    resp = (
        (pop.diagnosis[idx][:, CONDITIONS.index("copd")] < np.iinfo(np.int32).max)
        | (pop.diagnosis[idx][:, CONDITIONS.index("asthma")] < np.iinfo(np.int32).max)
    ).astype(float)
    out = np.empty((idx.size, cal.n_months, len(settings)), dtype=np.float64)
    for k, s in enumerate(settings):
        rate = BASE_PER_YEAR[s] / 12 * _age_multiplier(s, age)
        rate *= _sex_multiplier(s, pop.sex[idx])[:, None]
        log_cond = np.log(np.array(CONDITION_MULT[s]))
        rate *= np.exp(np.einsum("ncm,c->nm", present, log_cond))
        rate *= (1 + (DEPRIVATION_RR[s] - 1) * dep)[:, None]
        rate *= need[:, k][:, None]
        amp = seasons[s] + (RESPIRATORY_EXTRA_AMPLITUDE * resp if s == "emergency_admission" else 0)
        amp = np.broadcast_to(np.asarray(amp, dtype=float), (idx.size,))
        rate *= 1 + amp[:, None] * season_wave[None, :]
        rate *= trend[None, :]
        rate *= 1 + EPISODE_WEIGHT[s] * np.minimum(episode, EPISODE_RATE_CAP)
        if calendar_mult is not None:
            rate *= calendar_mult[None, :, k]
        out[:, :, k] = rate
    return out


def bed_days(n: int, age: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Length of stay of emergency spells: 0 for same-day, longer for older people."""
    mean = 2.0 + 5.0 * np.clip((age - 40) / 50, 0, 1.5)
    p = 1 / (1 + mean / 1.5)
    return rng.negative_binomial(1.5, p, size=n).astype(np.int32)
