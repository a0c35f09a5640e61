"""Timings of evalkit.match on county-scale workloads.

(a) a plain pool: 200,000 controls and 1,500 treated, exact on sex, caliper 0.2, 3:1;
(b) the risk-set workload: ~50,000 people x 36 calendar months stacked (1.8 M candidate rows),
    1,500 participants, exact on month and sex, 3:1, caliper 0.2.

Each is timed as propensity fit plus matching, data already in memory, no unit constraint, for
evalkit's default (fit on a sample of controls above 100,000 control rows) and for a full-data
fit, each with its max |SMD| after matching. With ``--r`` (needs ``r-base-core`` and
``r-cran-matchit``) the same data and spec are run through R MatchIt in the same process run
and the ratio is printed.

Run: PYTHONPATH=src python bench/bench_matching.py [--r] [--only a|b]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.stats.matching import match

COVARIATES = ["age", "imd_decile", "ethnicity_group", "conditions", "prior_12m", "prior_3m"]


def _people(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "sex": rng.choice(["F", "M"], n),
            "imd_decile": rng.integers(1, 11, n),
            "ethnicity_group": rng.choice(
                ["white", "asian", "black", "mixed", "other"], n, p=[0.86, 0.06, 0.03, 0.03, 0.02]
            ),
            "conditions": rng.poisson(1.5, n),
            "prior_12m": rng.poisson(3.0, n),
        }
    )


def _score(df: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    return (
        -0.02 * (df["age"] - 50)
        - 0.08 * df["imd_decile"]
        + 0.3 * df["conditions"]
        + 0.15 * df["prior_12m"]
        + 0.4 * df["prior_3m"]
        + 0.3 * (df["sex"] == "F")
        + rng.normal(0, 0.3, len(df))
    ).to_numpy()


def plain_pool(n_controls: int = 200_000, n_treated: int = 1_500, seed: int = 1) -> pd.DataFrame:
    """Controls and treated drawn so that treated have a higher score (selection on X)."""
    rng = np.random.default_rng(seed)
    n = n_controls * 3
    df = _people(rng, n)
    df["prior_3m"] = rng.binomial(df["prior_12m"], 0.25)
    s = _score(df, rng)
    p = 1 / (1 + np.exp(-(s - np.quantile(s, 0.995))))
    p = p / p.sum()
    treated_ix = rng.choice(n, n_treated, replace=False, p=p)
    rest = np.setdiff1d(np.arange(n), treated_ix)
    control_ix = rng.choice(rest, n_controls, replace=False)
    out = pd.concat([df.iloc[treated_ix].assign(treat=1), df.iloc[control_ix].assign(treat=0)])
    return out.reset_index(drop=True)


def risk_set(n_people: int = 50_000, months: int = 36, n_treated: int = 1_500, seed: int = 2):
    """Stacked person-month candidate rows; participants at their referral month."""
    rng = np.random.default_rng(seed)
    people = _people(rng, n_people)
    people["person_id"] = np.arange(n_people)
    rows = people.loc[people.index.repeat(months)].reset_index(drop=True)
    rows["index_month"] = np.tile(np.arange(months), n_people)
    rows["prior_3m"] = rng.binomial(rows["prior_12m"], 0.25)
    s = _score(rows, rng)
    p = np.exp(s - s.max())
    p = p / p.sum()
    first = rng.choice(len(rows), n_treated * 2, replace=False, p=p)
    first = pd.Series(first).groupby(rows["person_id"].to_numpy()[first]).first().to_numpy()
    first = first[:n_treated]
    rows["treat"] = 0
    rows.loc[first, "treat"] = 1
    ref_month = pd.Series(
        rows.loc[first, "index_month"].to_numpy(), index=rows.loc[first, "person_id"].to_numpy()
    )
    rm = rows["person_id"].map(ref_month)
    keep = rm.isna() | (rows["index_month"] < rm) | (rows["treat"] == 1)
    return rows[keep].reset_index(drop=True)


def run_evalkit(df: pd.DataFrame, exact: list[str], propensity_sample) -> dict:
    t0 = time.perf_counter()
    m = match(
        df,
        "treat",
        COVARIATES,
        exact=exact,
        ratio=3,
        caliper=0.2,
        propensity_sample=propensity_sample,
    )
    t1 = time.perf_counter()
    bal = m.balance()
    smd = bal.drop(index="distance")["smd_after"].abs().max()
    return {
        "seconds": t1 - t0,
        "max_abs_smd": smd,
        "matched": m.n_matched_treated,
        "treated": m.n_treated,
        "fit": m.spec["propensity_fit"],
    }


R_SCRIPT = r"""
suppressMessages(library(MatchIt))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
ex <- strsplit(args[2], ",")[[1]]
f <- treat ~ age + imd_decile + ethnicity_group + conditions + prior_12m + prior_3m
t0 <- Sys.time()
m <- matchit(f, data = d, method = "nearest", distance = "glm", link = "linear.logit",
             ratio = 3, caliper = 0.2, exact = ex)
el <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
s <- summary(m)$sum.matched
cat(el, max(abs(s[-1, "Std. Mean Diff."])), sum(m$weights[d$treat == 1] > 0), "\n")
"""


def run_r(df: pd.DataFrame, exact: list[str]) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        df.to_csv(csv, index=False)
        script = Path(tmp) / "m.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", str(script), str(csv), ",".join(exact)],
            capture_output=True,
            text=True,
            check=True,
        )
    el, smd, matched = out.stdout.split()
    return {"seconds": float(el), "max_abs_smd": float(smd), "matched": int(matched)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--r", action="store_true", help="also time R MatchIt")
    ap.add_argument("--only", choices=["a", "b"])
    args = ap.parse_args()
    work = {
        "a": ("plain pool 200k controls, exact sex", plain_pool, ["sex"]),
        "b": ("risk set ~1.8M rows, exact month x sex", risk_set, ["index_month", "sex"]),
    }
    for key, (label, make, exact) in work.items():
        if args.only and key != args.only:
            continue
        df = make()
        print(f"({key}) {label}: {len(df):,} rows, {int(df['treat'].sum()):,} treated")
        match(df.head(5000), "treat", COVARIATES, exact=exact, caliper=None)  # warm-up imports
        for name, ps in (("default", "auto"), ("full fit", None)):
            r = run_evalkit(df, exact, ps)
            print(
                f"  evalkit {name:9s}: {r['seconds']:.3f} s  max|SMD| {r['max_abs_smd']:.4f}  "
                f"matched {r['matched']}/{r['treated']}  ({r['fit']})"
            )
            if name == "default":
                base = r["seconds"]
        if args.r:
            rr = run_r(df, exact)
            if rr is None:
                print("  R MatchIt: Rscript not found")
            else:
                print(
                    f"  R MatchIt        : {rr['seconds']:.3f} s  max|SMD| "
                    f"{rr['max_abs_smd']:.4f}  matched {rr['matched']}  "
                    f"ratio R/evalkit {rr['seconds'] / base:.1f}x"
                )


if __name__ == "__main__":
    main()
