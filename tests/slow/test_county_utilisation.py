"""County-scale checks of the utilisation analysis (marker ``slow``, not in make test).

Two synthetic counties (660,000 people, seed 42, Parquet, the ``hard`` world: referral days
anywhere in the month, driven by use up to the referral day, re-referrals and later referral of
eligible people, a winter peak and a one-off shock, short history or follow-up for some) are
generated once per session, with each programme's configured rate ratio for emergency
admissions and GP appointments set to ``COUNTY_RATE_RATIO`` (0.55; see "Stronger effects"
below): the ``observables`` regime (referral depends only on what the analysis matches on) and
the ``realistic`` regime (referral also follows unobserved transient health episodes). Each
programme is analysed with the report's design, the target trial (``DESIGN``: weekly risk sets,
covariates at the exact index date, controls censored at their own referral with IPCW,
index-month x event-month effects), against the truth for that estimand. The analysis reads
the raw Parquet directly: the generator writes the processed tables' columns and types, and the
clean county (no faults) passes intake unchanged, so intake's minutes are not spent twice here.

What is checked:

- observables: for each programme, the matched DiD rate ratio for emergency admissions and GP
  appointments at 3, 6 and 12 months lies within 3 standard errors (log scale) of the true rate
  ratio in ``synthetic_truth.json`` (the target-trial release asks for 6 and 12; 3 is kept from
  0.3.0); the negative-control setting (``elective_admission``, named in every programme's
  ``outcomes.negative_controls``, true rate ratio exactly 1): its matched DiD rate ratio, from
  :func:`evalkit.analysis.negative_control.negative_controls` as the report computes it, lies
  within 3 SE of 1 (its 99.7% interval covers 1) at 3, 6 and 12 months; whether its 95% CI
  covers 1 is printed and recorded, not asserted: nine 95% intervals (3 programmes x 3 nested
  windows) would all cover 1 well under 95% of the time with no bias at all (see the placebo
  check below), and the calibration of the 95% interval over replications is the simulation
  bench's (bench/bench_target_trial.py);
- realistic: the naive pre/post estimate for emergency admissions is more than 2 of its own
  standard errors from the truth (regression to the mean) at 6 and 12 months; at 3 months it is
  printed and recorded, not asserted (below); the matched DiD's residual bias is printed and
  recorded (``record_property``), with sanity checks only;
- diagnostics at default settings: every covariate's |SMD| after matching is below 0.1 and at
  least 95% of participants are matched;
- placebo index dates 18 months earlier: the emergency-admission rate ratio's CI at 3 and 6
  months includes 1, with the family of six placebo intervals (3 programmes x 2 windows) held
  at 95% together (Bonferroni: each at 1 - 0.05/6). Six separate 95% intervals would all include
  1 only about 74% of the time with no bias at all (found: chronic_pain 3 months, RR 1.26, 95% CI
  1.02-1.55, p = 0.03 on one county draw); each plain 95% interval is printed and recorded.

Why not at 3 months: the issue asks that the naive bias for emergency admissions exceed 2 SE,
without naming a window. In the generator the episode that prompts referral is still decaying
in the first months after it, so the naive 3-month window is the least biased (a log bias of
about -0.1 to -0.4) and, with few admissions in three months (children have almost none), the
noisiest (SE 0.06-0.25): its expected z is near 2 for ``cyp`` and ``chronic_pain``, so a 2-SE
test there passes or fails with the seed (found: ``cyp`` -1.87, ``chronic_pain`` -1.58, -1.74 and
-2.14 on four county draws), while at 6 and 12 months the same bias is 3-13 SE. The 3-month
figures are still printed and recorded.

Stronger effects: the issue asks for these checks "with a true rate ratio of 0.85 or below".
The demo configs' effects (e.g. 0.75 for mindsong's emergency admissions) are diluted by
non-starters, drop-outs' half dose and the three-month ramp, so the realised truths in
``synthetic_truth.json`` are 0.86-0.95 and the condition would apply to no cell. The county
here is therefore generated with a configured 0.55 for both settings (realised 0.75-0.84 at
seed 42; each test first asserts that its truth is at most 0.85, so the condition is checked,
not assumed).

Set ``EVALKIT_COUNTY_REALISTIC`` / ``EVALKIT_COUNTY_OBSERVABLES`` to directories already holding
such a county generated with the same stronger effects
(``python tests/slow/test_county_utilisation.py --regime observables DIR``) to skip
generation; the fixture checks the truth file's regime, scale, seed and configured effects.

Run: ``PYTHONPATH=src python -m pytest -m slow tests/slow/test_county_utilisation.py -s``.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from evalkit import config
from evalkit.analysis import load_study
from evalkit.analysis.negative_control import negative_controls
from evalkit.analysis.utilisation import (
    MatchedCohort,
    UtilisationResult,
    matched_cohort,
    utilisation,
)
from evalkit.cohort import placebo_cohort
from evalkit.config import Programme
from evalkit.synth import generate_county

pytestmark = pytest.mark.slow

PROGRAMMES = ("mindsong", "cyp", "chronic_pain")
SETTINGS = ("emergency_admission", "gp_appointment")
#: Negative-control settings (true rate ratio exactly 1), from the programme configs.
NEGATIVE_CONTROLS = ("elective_admission",)
#: The synthetic world and the analysis design checked.
WORLD = "hard"
DESIGN = "target_trial"
WINDOWS = (3, 6, 12)
#: Windows at which the naive bias for emergency admissions must exceed 2 SE (module docstring).
NAIVE_ASSERT_WINDOWS = (6, 12)
SEED = 42
#: Configured rate ratio for the checked settings in the county generated here (docstring).
COUNTY_RATE_RATIO = 0.55
#: The issue's condition on the true rate ratio for the county-scale checks.
MAX_TRUE_RR = 0.85


def county_programmes() -> dict:
    """The programme configs with ``COUNTY_RATE_RATIO`` for the checked settings."""
    out = {}
    for slug, prog in config.load_programmes().items():
        d = prog.model_dump()
        rr = d["synthetic"]["effects"]["rate_ratio"]
        rr.update({s: COUNTY_RATE_RATIO for s in SETTINGS})
        out[slug] = type(prog).model_validate(d)
    return out


def _takes(fn: Callable[..., object], name: str) -> bool:
    """Whether ``fn`` takes the keyword ``name`` (the target-trial APIs, detected)."""
    return name in inspect.signature(fn).parameters


def generate(out: Path, regime: str, *, population: int | None = None, pool: str = "all") -> Path:
    """Generate the county these tests use (stronger effects, seed 42, Parquet, hard world).

    ``population`` and ``pool`` only to try the helpers on a small county.
    """
    generate_county(
        out,
        programmes=county_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        scale="county",
        population=population,
        seed=SEED,
        regime=regime,
        fmt="parquet",
        progress=False,
        pool=pool,
        **({"world": WORLD} if _takes(generate_county, "world") else {}),
    )
    return out


def _county(regime: str, factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get(f"EVALKIT_COUNTY_{regime.upper()}")
    if given:
        out = Path(given)
        meta = json.loads((out / "synthetic_truth.json").read_text())
        assert (meta["regime"], meta["scale"], meta["seed"]) == (regime, "county", SEED), meta
        assert meta.get("world") == WORLD, f"{out} holds world {meta.get('world')!r}, not {WORLD}"
        for p in PROGRAMMES:
            rr = meta["programmes"][p]["selection"]["effects"]["rate_ratio"]
            assert all(rr[s] == COUNTY_RATE_RATIO for s in SETTINGS), (p, rr)
        return out
    return generate(factory.mktemp(f"county_{regime}") / "raw", regime)


@pytest.fixture(scope="session")
def county_observables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """County in the observables regime, generated once per session."""
    return _county("observables", tmp_path_factory)


@pytest.fixture(scope="session")
def county_realistic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """County in the realistic regime, generated once per session."""
    return _county("realistic", tmp_path_factory)


def design_kw() -> dict[str, str]:
    """``design=DESIGN`` where ``matched_cohort`` takes it (its default otherwise)."""
    return {"design": DESIGN} if _takes(matched_cohort, "design") else {}


def study_programme(county: Path, slug: str) -> Programme:
    """The programme config as the report uses it (it names the negative controls itself)."""
    prog = config.load_programmes()[slug]
    assert set(NEGATIVE_CONTROLS) <= set(prog.outcomes.negative_controls), prog.outcomes
    return prog


def _matched(
    county: Path, programmes: tuple[str, ...] = PROGRAMMES
) -> dict[str, tuple[MatchedCohort, object]]:
    out = {}
    for p in programmes:
        study = load_study(study_programme(county, p), county)
        out[p] = (matched_cohort(study, **design_kw()), study)
    return out


@pytest.fixture(scope="session")
def matched_observables(county_observables: Path) -> dict:
    """Matched cohorts (default settings) per programme, observables regime."""
    return _matched(county_observables)


@pytest.fixture(scope="session")
def matched_realistic(county_realistic: Path) -> dict:
    """Matched cohorts (default settings) per programme, realistic regime."""
    return _matched(county_realistic)


def _true_rr(county: Path, programme: str, setting: str, window: int) -> float:
    truth = json.loads((county / "synthetic_truth.json").read_text())
    util = truth["programmes"][programme]["utilisation"]
    if setting not in util and setting in NEGATIVE_CONTROLS:
        return 1.0  # the negative control's truth, by construction
    return float(util[setting]["rate_ratio"][str(window)])


def within_3se(res: UtilisationResult, true_rr: float) -> tuple[bool, float]:
    """Whether the matched Poisson DiD is within 3 SE (log scale) of ``true_rr``, and its z."""
    p = res.poisson
    assert p is not None, res.notes
    z = (np.log(p.estimate) - np.log(true_rr)) / p.std_error
    return bool(abs(z) < 3), float(z)


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("programme", PROGRAMMES)
def test_matched_did_observables_regime_within_3se_of_truth(
    matched_observables, county_observables, programme, setting, window
) -> None:
    mc, _ = matched_observables[programme]
    res = utilisation(mc, setting, window)
    assert res.poisson is not None, res.notes
    true_rr = _true_rr(county_observables, programme, setting, window)
    assert true_rr <= MAX_TRUE_RR, f"truth {true_rr:.4f} above {MAX_TRUE_RR}: strengthen the effect"
    ok, z = within_3se(res, true_rr)
    print(
        f"\nobservables {programme} {setting} {window}m: RR {res.poisson.estimate:.4f} "
        f"(SE log {res.poisson.std_error:.4f}), truth {true_rr:.4f}, z {z:+.2f}"
    )
    assert ok, res.summary()


@pytest.fixture(scope="session")
def negative_observables(matched_observables) -> dict:
    """The report's negative-control fits per programme, observables regime."""
    return {p: negative_controls(mc) for p, (mc, _) in matched_observables.items()}


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("setting", NEGATIVE_CONTROLS)
@pytest.mark.parametrize("programme", PROGRAMMES)
def test_negative_control_observables_regime_within_3se_of_one(
    negative_observables, county_observables, programme, setting, window, record_property
) -> None:
    res = negative_observables[programme]
    assert setting in res.settings, (res.absent, res.notes)  # the hard county writes it
    fit = next(f for f in res.fits if (f.setting, f.window_months) == (setting, window))
    entry = next(
        e
        for e in res.entries()
        if (e["setting"], e["window_months"], e["scale"]) == (setting, window, "rate_ratio")
    )
    assert entry["role"] == "negative_control" and entry["expected"] == 1.0
    true_rr = _true_rr(county_observables, programme, setting, window)
    assert true_rr == 1.0, true_rr
    ok, z = within_3se(fit, true_rr)
    p = fit.poisson
    print(
        f"\nobservables {programme} {setting} {window}m (negative control): RR {p.estimate:.4f} "
        f"(95% CI {p.ci_low:.4f}-{p.ci_high:.4f}, SE log {p.std_error:.4f}), z {z:+.2f}"
    )
    record_property("negative_control_z", z)
    record_property("negative_control_ci95_covers_1", bool(p.ci_low <= 1 <= p.ci_high))
    assert entry["estimate"] == p.estimate
    assert ok, fit.summary()


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("programme", PROGRAMMES)
def test_naive_prepost_realistic_regime_biased_beyond_2se(
    matched_realistic, county_realistic, programme, window, record_property
) -> None:
    mc, _ = matched_realistic[programme]
    res = utilisation(mc, "emergency_admission", window)
    true_rr = _true_rr(county_realistic, programme, "emergency_admission", window)
    assert true_rr <= MAX_TRUE_RR, f"truth {true_rr:.4f} above {MAX_TRUE_RR}: strengthen the effect"
    truth = np.log(true_rr)
    naive, naive_se = np.log(res.naive.rate_ratio), res.naive.log_rr_std_error
    naive_z = abs(naive - truth) / naive_se
    line = (
        f"realistic {programme} emergency_admission {window}m: truth RR "
        f"{np.exp(truth):.4f}; naive {res.naive.rate_ratio:.4f} (|bias| {naive_z:.2f} SE)"
    )
    if res.poisson is not None:
        did_bias = np.log(res.poisson.estimate) - truth
        line += (
            f"; matched DiD {res.poisson.estimate:.4f} (95% CI {res.poisson.ci_low:.4f}"
            f"-{res.poisson.ci_high:.4f}), residual bias {did_bias:+.4f} log = "
            f"{did_bias / res.poisson.std_error:+.2f} SE"
        )
        record_property("matched_did_residual_bias_log", float(did_bias))
        record_property("matched_did_residual_bias_se", float(did_bias / res.poisson.std_error))
        # Sanity only: a finite rate ratio with a positive SE and a CI around it.
        assert res.poisson.std_error > 0
        assert res.poisson.ci_low < res.poisson.estimate < res.poisson.ci_high
    print("\n" + line)
    record_property("naive_bias_over_se", float(naive_z))
    if window in NAIVE_ASSERT_WINDOWS:  # 3 months: reported only (module docstring)
        assert naive_z > 2, line


@pytest.mark.parametrize("regime", ["realistic", "observables"])
@pytest.mark.parametrize("programme", PROGRAMMES)
def test_matching_default_settings_balanced_and_95pct_matched(request, regime, programme) -> None:
    mc, _ = request.getfixturevalue(f"matched_{regime}")[programme]
    bal = mc.match.balance().drop(index="distance")
    share = mc.n_participants / mc.cohort.n_participants
    worst = bal["smd_after"].abs().sort_values(ascending=False)
    print(
        f"\n{regime} {programme}: matched {mc.n_participants}/{mc.cohort.n_participants} "
        f"({share:.1%}); largest |SMD| after: "
        + ", ".join(f"{k} {v:.3f}" for k, v in worst.head(3).items())
    )
    assert share >= 0.95, (share, mc.summary())
    assert (worst < 0.1).all(), worst[worst >= 0.1].to_dict()


#: Placebo intervals tested together: 3 programmes x 2 windows, family-wise 5% (Bonferroni).
PLACEBO_FAMILY_SIZE = 6
PLACEBO_FAMILY_ALPHA = 0.05


@pytest.mark.parametrize("programme", PROGRAMMES)
def test_placebo_index_dates_realistic_regime_cis_include_one(
    matched_realistic, programme, record_property
) -> None:
    mc, study = matched_realistic[programme]
    placebo = placebo_cohort(mc.cohort, 18)
    pmc = matched_cohort(study, cohort=placebo, **design_kw())
    failures = []
    z = float(norm.ppf(1 - PLACEBO_FAMILY_ALPHA / (2 * PLACEBO_FAMILY_SIZE)))
    for window in (3, 6):
        res = utilisation(pmc, "emergency_admission", window)
        assert res.poisson is not None, res.notes
        p = res.poisson
        lo, hi = (p.estimate * math.exp(s * z * p.std_error) for s in (-1, 1))
        print(
            f"\nplacebo {programme} emergency_admission {window}m: RR {p.estimate:.4f} "
            f"(95% CI {p.ci_low:.4f}-{p.ci_high:.4f}; family-wise CI {lo:.4f}-{hi:.4f}), "
            f"{pmc.n_participants} participants"
        )
        record_property(f"placebo_{window}m", [p.estimate, p.ci_low, p.ci_high, lo, hi])
        if not lo <= 1 <= hi:
            failures.append((window, p.estimate, lo, hi))
    assert not failures, failures


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Generate the county these slow tests use.")
    ap.add_argument("--regime", choices=["realistic", "observables"], required=True)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    print(generate(args.out, args.regime))
