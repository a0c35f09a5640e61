"""Does the reported MDE have 80 % power? A simulation check of the matched-DiD MDE.

For a programme of the demo county, setting (emergency admissions, GP appointments) and the
6-month window, the MDE :func:`evalkit.analysis.power.mde_utilisation` reports is imposed as a
true effect and the report's own estimator (``evalkit.did(..., model="poisson",
exposure="exposure", weights="weight", cluster="subclass")`` on the windowed matched panel, as
:func:`evalkit.analysis.utilisation.utilisation` calls it) is run on each of R >= 500
replications; the share rejecting "no effect" at 5 % (two-sided) should be 75-85 %.

Design
------
Regenerating the county per replication costs about 20 s, so replications are drawn from one
matched panel instead:

1. **Resample matched sets** (cluster bootstrap): n sets drawn with replacement from the n
   matched sets, each keeping its participant, controls, weights and calendar months; a set
   drawn twice enters as two sets (new unit and set ids), as two different people would.
2. **Impose a known effect** by binomially thinning every participant's window counts
   (event months 0 .. W - 1) with probability theta. For any mixed-Poisson count (Poisson,
   negative binomial) thinning by theta gives exactly the count with theta times the rate, so
   the effect is multiplicative on the rate, as the MDE assumes.
3. **Null value.** The panel already carries the programme's own effect (and any residual
   bias), so the bootstrap world's "no additional effect" value is the full panel's own
   estimate b0 (plug-in principle); a replication rejects when |b* - b0| / SE* > 1.96, with
   SE* its own cluster-robust SE (the bootstrap test of Hall & Wilson 1991: centre on the
   sample estimate, studentise with each replication's SE). With theta = 1 the rejection rate
   is the test's size in this world, which should be near 5 %.
4. **Two worlds.** ``placebo``: the placebo cohort (index dates 18 months before referral,
   rematched), where the programme cannot have acted, so the participants' counts are
   null-world counts and thinning creates the effect from scratch. ``main``: the report's own
   matched cohort; its participants' window counts already carry the programme's effect,
   so their window means are lower than the MDE formula (which takes the controls' rates)
   assumes, and thinning stacks theta on top of that.

What the bootstrap preserves, and what it does not: resampling whole matched sets keeps the
within-set dependence (shared calendar months, matching on prior use) and the
person-level over-dispersion and pre/post correlation, and its variance is consistent for the
variance of a smooth statistic of n i.i.d. sets (it is what the cluster-robust SE estimates).
It holds the matching fixed: a new county would also redraw who is matched to whom and the
propensity model, which adds variance this design does not see (as neither the DiD's SE nor the
MDE formula does). It cannot create people unlike those observed, so with about 70 sets the
rare-event tails are the observed ones; and because the MDE's inputs are estimated from the
same panel the bootstrap resamples, it checks the formula against the precision of this
design, not the accuracy of those inputs as estimates of a population's.

Two MDEs are checked: ``design`` (the formula with inputs from the matched controls) and
``calibrated`` (the formula scaled to reproduce the fitted model's own SE at the fitted rate
ratio). The summary gives per programme, world, setting and MDE: the MDE, the rejection rate
with its Monte Carlo SE sqrt(p(1 - p) / R), the bootstrap SD of the log rate ratio at
theta = 1 against the formula's SE and the fit's SE.

Findings (evalkit 0.3.0, 500 replications each, 6 months, placebo world, the calibrated MDE
that results.json reports). **County scale** (the programme's eligible pool of a
660,000-person county, ``--scale county``; ``results/mde_simulation_county_<programme>.csv``):
rejection at the MDE 81.6 % (MC SE 1.7) and 76.0 % (1.9) for mindsong emergency admissions
and GP appointments (1,050 matched participants), 80.2 % (1.8) and 78.6 % (1.8) for
chronic_pain (1,167): all inside 75-85 %; the test's size with no effect is 5.0-7.4 %. This is
what the slow test asserts. **Demo scale** (87-121 matched participants;
``results/mde_simulation.csv``, both worlds, both MDEs): 87-90 % in the placebo world for
the calibrated MDE (82.8 % for chronic_pain GP), because the cluster-robust Wald test is itself
liberal there (it rejects a true null in 2.6-10 % of replications) and every estimate of the
design's variance is uncertain by 10-15 %, which moves the power at the MDE by several points;
in the ``main`` world the programme's own effect on the participants pulls it down (65-81 %).
The demo figures are reported, not asserted: at that size an MDE is a rough guide, which the
report says.

Script::

    PYTHONPATH=src python bench/bench_mde_simulation.py --reps 500 --data /path/to/processed

(without ``--data`` a demo county, seed 42, is generated in a temporary directory, ~30 s; with
``--scale county`` the programmes' eligible pool of a 660,000-person county, ~15 s).
Test: ``python -m pytest -m slow bench/bench_mde_simulation.py`` (county scale, placebo world,
calibrated MDE, for mindsong and chronic_pain; about 6 minutes per programme on one core).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PROGRAMMES = ("mindsong", "chronic_pain")
SETTINGS = ("emergency_admission", "gp_appointment")
WINDOW = 6
REPS = 500
SEED = 20240808
BAND = (0.75, 0.85)
OUT = Path(__file__).resolve().parent / "results" / "mde_simulation.csv"
Z = 1.959963984540054


def _demo_processed(tmp: Path) -> Path:
    from evalkit import config
    from evalkit.intake import run_intake
    from evalkit.synth import generate_county

    raw, processed = tmp / "raw", tmp / "processed"
    generate_county(
        raw,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        scale="demo",
        seed=42,
        fmt="parquet",
        progress=False,
    )
    run_intake(raw, processed, progress=False)
    return processed


def _fit(panel: pd.DataFrame, setting: str, cluster: str = "person_id"):
    from evalkit.stats.did import did

    return did(
        panel,
        outcome=setting,
        unit="unit",
        time="event_month",
        treated="referred",
        post="post",
        cluster=cluster,
        exposure="exposure",
        model="poisson",
        weights="weight",
    )


def simulate(
    panel: pd.DataFrame,
    setting: str,
    thetas: dict[str, float],
    reps: int,
    seed: int,
    cluster: str = "person_id",
) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Bootstrap matched sets, thin participants' window counts by each theta, refit.

    Returns the full panel's coefficient b0 and, per theta label, the replications'
    coefficients and SEs (NaN where the fit failed). The same resampled sets serve every theta
    (common random numbers), each theta with its own thinning draws. ``cluster`` is the
    report's (the matched cohort's ``spec["cluster"]``); clustering by person, a person's rows
    in the k-th copy of any drawn set form one cluster, so a set drawn twice gives two
    independent copies while two different sets sharing a control person stay linked.
    """
    from evalkit.analysis.utilisation import window_rows

    cols = ["unit", "subclass", "referred", "weight", "event_month", "post", "exposure", setting]
    p = window_rows(panel, WINDOW)[[*cols, "person_id"]].reset_index(drop=True)
    p["person_code"] = pd.factorize(p["person_id"])[0]
    p = p.drop(columns="person_id")
    b0 = _fit(p.assign(person_id=p["person_code"]), setting, cluster).coefficient
    idx = p.groupby("subclass").indices
    sets = list(idx)
    n = len(sets)
    sizes = np.array([len(idx[s]) for s in sets])
    rng = np.random.default_rng(seed)
    y = p[setting].to_numpy()
    thin_rows = ((p["referred"] == 1) & (p["post"] == 1)).to_numpy()
    coef = {k: np.full(reps, np.nan) for k in thetas}
    se = {k: np.full(reps, np.nan) for k in thetas}
    for r in range(reps):
        pick = rng.integers(0, n, n)
        rows = np.concatenate([idx[sets[k]] for k in pick])
        label = np.repeat(np.arange(n), sizes[pick])
        # k-th draw of the same set: its copy number (0 for the first)
        copy = pd.Series(pick).groupby(pick).cumcount().to_numpy()
        b = p.iloc[rows].copy()
        b["subclass"] = label
        b["unit"] = b["unit"].to_numpy(dtype=np.int64) * (n + 1) + label
        b["person_id"] = b["person_code"].to_numpy(dtype=np.int64) * (n + 1) + np.repeat(
            copy, sizes[pick]
        )
        yb, tb = y[rows], thin_rows[rows]
        for name, theta in thetas.items():
            yy = yb.copy()
            if theta != 1.0:
                yy[tb] = rng.binomial(yb[tb].astype(np.int64), theta)
            b[setting] = yy
            try:
                f = _fit(b, setting, cluster)
            except ValueError:
                continue
            coef[name][r], se[name][r] = f.coefficient, f.std_error
    return b0, coef, se


def run(
    processed: Path,
    programmes: tuple[str, ...] = PROGRAMMES,
    reps: int = REPS,
    seed: int = SEED,
    worlds: tuple[str, ...] = ("placebo", "main"),
    methods: tuple[str, ...] = ("design", "calibrated"),
) -> pd.DataFrame:
    """Run the study; one row per programme, world, setting and MDE method."""
    from evalkit.analysis import load_study
    from evalkit.analysis.power import mde_utilisation
    from evalkit.analysis.utilisation import matched_cohort, utilisation
    from evalkit.cohort import placebo_cohort

    rows = []
    for prog in programmes:
        study = load_study(prog, processed)
        mc = matched_cohort(study)
        cohorts = {"main": mc}
        if "placebo" in worlds:
            cohorts["placebo"] = matched_cohort(study, cohort=placebo_cohort(mc.cohort, 18))
        for world in worlds:
            m = cohorts[world]
            for s_i, setting in enumerate(SETTINGS):
                t0 = time.perf_counter()
                fit = utilisation(m, setting, WINDOW)
                if fit.poisson is None:
                    print(f"{prog} {world} {setting}: no rate ratio ({fit.notes})")
                    continue
                mdes = {
                    "design": mde_utilisation(m, setting, WINDOW),
                    "calibrated": mde_utilisation(m, setting, WINDOW, fit=fit, method="calibrated"),
                }
                thetas = {
                    k: v.mde_rate_ratio
                    for k, v in mdes.items()
                    if k in methods and np.isfinite(v.mde_rate_ratio)
                }
                thetas["no_effect"] = 1.0
                b0, coef, se = simulate(
                    m.panel,
                    setting,
                    thetas,
                    reps,
                    seed + 1000 * s_i + 17 * len(rows),
                    cluster=m.spec.get("cluster", "subclass"),
                )
                sd_null = float(np.nanstd(coef["no_effect"], ddof=1))
                secs = time.perf_counter() - t0
                for name, theta in thetas.items():
                    ok = np.isfinite(coef[name]) & np.isfinite(se[name])
                    rej = np.abs(coef[name][ok] - b0) / se[name][ok] > Z
                    p_rej = float(rej.mean())
                    mde = mdes.get(name, mdes["design"])
                    rows.append(
                        {
                            "programme": prog,
                            "world": world,
                            "setting": setting,
                            "window_months": WINDOW,
                            "mde_method": name,
                            "rate_ratio": theta,
                            "reps": int(ok.sum()),
                            "rejection_rate": p_rej,
                            "mc_se": math.sqrt(p_rej * (1 - p_rej) / max(ok.sum(), 1)),
                            "target": 0.05 if name == "no_effect" else 0.8,
                            "n_participants": m.n_participants,
                            "n_controls": m.n_controls,
                            "estimate_b0": b0,
                            "bootstrap_sd_log_rr": sd_null,
                            "formula_se_log_rr": mde.std_error_log_rr,
                            "fit_se_log_rr": fit.poisson.std_error,
                            "mean_replication_se": float(np.nanmean(se[name])),
                            "seconds": secs,
                        }
                    )
                print(
                    pd.DataFrame(rows[-len(thetas) :])[
                        [
                            "programme",
                            "world",
                            "setting",
                            "mde_method",
                            "rate_ratio",
                            "rejection_rate",
                            "mc_se",
                            "bootstrap_sd_log_rr",
                            "formula_se_log_rr",
                        ]
                    ].to_string(index=False, header=len(rows) == len(thetas)),
                    flush=True,
                )
    return pd.DataFrame(rows)


def _write(df: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    df.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(out)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="processed or raw county directory")
    ap.add_argument(
        "--scale",
        choices=["demo", "county"],
        default="demo",
        help="without --data: generate the demo county, or the programmes' eligible pool of a "
        "county-scale county",
    )
    ap.add_argument("--reps", type=int, default=REPS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--programmes", nargs="+", default=list(PROGRAMMES))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--worlds", nargs="+", choices=["placebo", "main"], default=["placebo", "main"])
    ap.add_argument(
        "--methods",
        nargs="+",
        choices=["design", "calibrated"],
        default=["design", "calibrated"],
        help="MDEs to impose (the report's is calibrated)",
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            processed = args.data
        elif args.scale == "county":
            processed = county_pool(Path(tmp) / "county", tuple(args.programmes))
        else:
            processed = _demo_processed(Path(tmp))
        df = run(
            processed,
            tuple(args.programmes),
            args.reps,
            args.seed,
            tuple(args.worlds),
            tuple(args.methods),
        )
    df["total_seconds"] = time.perf_counter() - t0
    _write(df, args.out)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(df.drop(columns=["total_seconds"]).to_string(index=False, float_format="%.4g"))
    print(f"total {time.perf_counter() - t0:.0f} s; written to {args.out}")
    return df


def county_pool(
    out: Path, programmes: tuple[str, ...] = ("mindsong",), population: int = 660_000
) -> Path:
    """The programmes' eligible pool of a county-scale synthetic county (seed 42, realistic).

    ``generate_county(pool="eligible")`` simulates only the people who can enter the
    programme's cohort (at any index or placebo date), with referral calibrated to the whole
    county, so the matched cohort is the county-scale one; the raw Parquet has the processed
    tables' columns and types, so it is read directly.
    """
    from evalkit import config
    from evalkit.synth import generate_county

    progs = config.load_programmes()
    generate_county(
        out,
        programmes={p: progs[p] for p in programmes},
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=population,
        seed=42,
        regime="realistic",
        fmt="parquet",
        progress=False,
        pool="eligible",
    )
    return out


@pytest.mark.slow
@pytest.mark.parametrize("programme", PROGRAMMES)
def test_mde_simulation_rejects_at_mde_about_80_percent(tmp_path: Path, programme: str) -> None:
    """With a true effect equal to the reported MDE, 75-85 % of replications reject.

    Checked at county scale (the programme's eligible pool of a 660,000-person county, about
    1,000-1,200 matched participants) for the MDE results.json reports (``calibrated``) in the
    placebo world (a null world: see the module docstring), emergency admissions and GP
    appointments at 6 months, 500 replications. The band is widened by 1.96 Monte Carlo SEs
    on each side, so the test fails only when the true rejection rate is outside 75-85 %
    beyond chance. At demo scale (87-121 matched participants) the cluster-robust Wald test is
    itself liberal and the check is reported, not asserted (module docstring). About 6 minutes per
    programme on one core (5.5-6 min measured).
    """
    df = run(
        county_pool(tmp_path / "county", (programme,)),
        (programme,),
        REPS,
        SEED,
        worlds=("placebo",),
        methods=("calibrated",),
    )
    _write(df, OUT.with_name(f"mde_simulation_test_{programme}.csv"))
    for setting in SETTINGS:
        sel = df[(df["setting"] == setting) & (df["mde_method"] == "calibrated")]
        assert len(sel) == 1, setting
        r = sel.iloc[0]
        assert r["reps"] >= 500
        tol = 1.96 * r["mc_se"]
        assert BAND[0] - tol <= r["rejection_rate"] <= BAND[1] + tol, r.to_dict()


if __name__ == "__main__":
    main()
