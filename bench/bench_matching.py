"""Timings of evalkit.match on county-scale workloads, against R MatchIt in the same run.

(a) a plain pool: 200,000 controls and 1,500 treated, exact on sex, caliper 0.2, 3:1;
(b) the risk-set workload: ~50,000 people x 36 calendar months stacked (1.8 M candidate rows),
    1,500 participants, exact on month and sex, 3:1, caliper 0.2.

Each side is timed as propensity fit plus matching, data already in memory, no unit constraint:
evalkit's ``match()`` for its default (fit on a sample of controls above 100,000 control rows)
and for a full-data fit, R's ``matchit()`` (``distance = "glm", link = "linear.logit"``, the
same model as evalkit's full fit). Each call is repeated ``--repeats`` times and the best wall
and CPU times kept (the machine is shared). The ratio is MatchIt over evalkit's full fit. Max
abs SMD after matching is over the covariates; for MatchIt it is given by its ``summary()`` and
by evalkit's definitions applied to its weights, and the pairs shared with evalkit are counted.

MatchIt 4.5.1 to 4.5.3 (Debian's ``r-cran-matchit`` is 4.5.1) compared integer-truncated gaps
(MatchIt issue #163, fixed in 4.5.4): the left neighbour always wins and calipers under 1 are
ignored. The R script probes for this and the output says which build ran; ``--r-lib DIR``
points R_LIBS at another build (e.g. 4.5.1 rebuilt with upstream's ``std::abs`` fix), and can
be repeated to time several. With ``--r`` this needs ``r-base-core`` and ``r-cran-matchit``.

Run: PYTHONPATH=src python bench/bench_matching.py [--r [--r-lib DIR ...]] [--only a|b]
     [--repeats N] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.stats.matching import match
from evalkit.stats.matching.balance import balance_row
from evalkit.stats.matching.design import ColumnCache, describe_covariates

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


def _weights_balance(df: pd.DataFrame, treated: np.ndarray, weight: np.ndarray) -> float:
    """Max |SMD| after matching of any matching weights, by evalkit's definitions.

    Those are MatchIt's ATT definitions (treated SD before matching, every factor level), so
    applied to MatchIt's own weights this reproduces its ``summary()`` figure: the two sides are
    then compared like for like.
    """
    out = 0.0
    cache = ColumnCache(df)
    for cov in describe_covariates(df, COVARIATES):
        for _, level in cov.balance_rows():
            row = balance_row(
                cache.values(cov, level), treated, weight, binary=cov.categorical or cov.binary
            )
            out = max(out, abs(row["smd_after"]))
    return out


def run_evalkit(df: pd.DataFrame, exact: list[str], propensity_sample, repeats: int) -> dict:
    """Best wall and CPU time of ``repeats`` calls to match(); balance of the last."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        m = match(
            df,
            "treat",
            COVARIATES,
            exact=exact,
            ratio=3,
            caliper=0.2,
            propensity_sample=propensity_sample,
        )
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    bal = m.balance()
    return {
        "seconds": min(wall),
        "cpu": min(cpu),
        "max_abs_smd": bal.drop(index="distance")["smd_after"].abs().max(),
        "matched": m.n_matched_treated,
        "treated": m.n_treated,
        "fit": m.spec["propensity_fit"],
        "pairs": set(zip(m.pairs["treated"], m.pairs["control"], strict=True)),
    }


R_SCRIPT = r"""
suppressMessages(library(MatchIt))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
ex <- strsplit(args[2], ",")[[1]]
reps <- as.integer(args[3])
# MatchIt 4.5.1-4.5.3 compared integer-truncated gaps (issue #163, fixed in 4.5.4): the left
# neighbour always won and calipers under 1 were ignored. Treated at 0.5, controls at 0 and 0.9.
pr <- data.frame(treat = c(1, 0, 0), x = c(0.5, 0, 0.9))
pm <- matchit(treat ~ x, data = pr, distance = pr$x, method = "nearest")
bug <- pm$match.matrix[1, 1] != "3"
f <- treat ~ age + imd_decile + ethnicity_group + conditions + prior_12m + prior_3m
wall <- cpu <- numeric(reps)
for (i in seq_len(reps)) {
  p0 <- proc.time()
  m <- matchit(f, data = d, method = "nearest", distance = "glm", link = "linear.logit",
               ratio = 3, caliper = 0.2, exact = ex)
  el <- proc.time() - p0
  wall[i] <- el[["elapsed"]]
  cpu[i] <- el[["user.self"]] + el[["sys.self"]]
}
s <- summary(m)$sum.matched
mm <- m$match.matrix
pairs <- cbind(rep(as.integer(rownames(mm)), ncol(mm)), as.integer(mm))
write.csv(pairs[!is.na(pairs[, 2]), , drop = FALSE], args[5], row.names = FALSE)
write.csv(data.frame(weight = m$weights), args[6], row.names = FALSE)
writeLines(c(as.character(packageVersion("MatchIt")), as.character(bug), min(wall), min(cpu),
             max(abs(s[-1, "Std. Mean Diff."])), sum(m$weights[d$treat == 1] > 0)), args[4])
"""


def run_r(df: pd.DataFrame, exact: list[str], repeats: int, r_lib: str) -> dict | None:
    """Time ``matchit()`` (fit + match, data loaded) in R; its pairs and weights."""
    if shutil.which("Rscript") is None:
        return None
    env = dict(os.environ)
    if r_lib:
        env["R_LIBS"] = r_lib
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        df.to_csv(t / "d.csv", index=False)
        (t / "m.R").write_text(R_SCRIPT)
        files = [t / "out.txt", t / "pairs.csv", t / "weights.csv"]
        subprocess.run(
            ["Rscript", str(t / "m.R"), str(t / "d.csv"), ",".join(exact), str(repeats)]
            + [str(f) for f in files],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        version, bug, wall, cpu, smd, matched = files[0].read_text().split()
        pairs = pd.read_csv(files[1]).to_numpy() - 1  # R rows are 1-based
        weight = pd.read_csv(files[2])["weight"].to_numpy()
    return {
        "version": version,
        "bug": bug == "TRUE",
        "seconds": float(wall),
        "cpu": float(cpu),
        "max_abs_smd": float(smd),
        "max_abs_smd_evalkit_def": _weights_balance(df, df["treat"].to_numpy() == 1, weight),
        "matched": int(matched),
        "pairs": {(int(a), int(b)) for a, b in pairs},
    }


def _r_label(rr: dict, r_lib: str) -> str:
    fixed = "with the issue #163 bug" if rr["bug"] else "nearest and caliper correct"
    where = "a private R library" if r_lib else "the system R library"
    return f"MatchIt {rr['version']} from {where} ({fixed})"


def _report(lines: list[str], rows: list[dict]) -> str:
    """The results file: context lines, then one table row per run."""
    head = (
        "| workload | run | wall s (best) | CPU s (best) | max abs SMD | max abs SMD, evalkit "
        "definitions | matched | pairs shared with evalkit full fit | MatchIt / evalkit full "
        "fit (wall, CPU) |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['workload']} | {r['run']} | {r['seconds']:.3f} | {r['cpu']:.3f} | "
        f"{r['smd']} | {r['smd_ek']} | {r['matched']} | {r['shared']} | {r['ratio']} |\n"
        for r in rows
    )
    return "\n".join(lines) + "\n\n" + head + body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--r", action="store_true", help="also time R MatchIt")
    ap.add_argument(
        "--r-lib",
        action="append",
        help="R library holding the MatchIt to time (R_LIBS); repeat to compare builds; "
        "'' for the system one (default)",
    )
    ap.add_argument("--only", choices=["a", "b"])
    ap.add_argument("--repeats", type=int, default=5, help="calls per side; best time kept")
    ap.add_argument("--write", action="store_true", help="write bench/results/matching.md")
    ap.add_argument("--note", action="append", default=[], help="a line for the results file")
    args = ap.parse_args()
    work = {
        "a": ("plain pool 200k controls, exact sex", plain_pool, ["sex"]),
        "b": ("risk set ~1.8M rows, exact month x sex", risk_set, ["index_month", "sex"]),
    }
    rows: list[dict] = []
    load0 = os.getloadavg()[0]
    for key, (label, make, exact) in work.items():
        if args.only and key != args.only:
            continue
        df = make()
        n_t = int(df["treat"].sum())
        print(f"({key}) {label}: {len(df):,} rows, {n_t:,} treated")
        match(df.head(5000), "treat", COVARIATES, exact=exact, caliper=None)  # warm-up imports
        full = None
        for name, ps in (("default", "auto"), ("full fit", None)):
            r = run_evalkit(df, exact, ps, args.repeats)
            print(
                f"  evalkit {name:9s}: {r['seconds']:.3f} s (CPU {r['cpu']:.3f} s)  max|SMD| "
                f"{r['max_abs_smd']:.4f}  matched {r['matched']}/{r['treated']}  ({r['fit']})"
            )
            full = r
            rows.append(
                {
                    "workload": f"({key})",
                    "run": f"evalkit {name} ({r['fit']} fit)",
                    "seconds": r["seconds"],
                    "cpu": r["cpu"],
                    "smd": f"{r['max_abs_smd']:.4f}",
                    "smd_ek": f"{r['max_abs_smd']:.4f}",
                    "matched": f"{r['matched']:,}/{r['treated']:,}",
                    "shared": "",
                    "ratio": "",
                }
            )
        for r_lib in (args.r_lib or [""]) if args.r else []:
            rr = run_r(df, exact, args.repeats, r_lib)
            if rr is None:
                print("  R MatchIt: Rscript not found")
                continue
            shared = len(rr["pairs"] & full["pairs"])
            ratio = f"{rr['seconds'] / full['seconds']:.1f}x, {rr['cpu'] / full['cpu']:.1f}x"
            print(
                f"  {_r_label(rr, r_lib)}: {rr['seconds']:.3f} s (CPU {rr['cpu']:.3f} s)  "
                f"max|SMD| {rr['max_abs_smd']:.4f} (evalkit's definitions "
                f"{rr['max_abs_smd_evalkit_def']:.4f})  matched {rr['matched']}  pairs shared "
                f"with evalkit full fit {shared}/{len(full['pairs'])}  ratio to evalkit full "
                f"fit {ratio}"
            )
            rows.append(
                {
                    "workload": f"({key})",
                    "run": _r_label(rr, r_lib),
                    "seconds": rr["seconds"],
                    "cpu": rr["cpu"],
                    "smd": f"{rr['max_abs_smd']:.4f}",
                    "smd_ek": f"{rr['max_abs_smd_evalkit_def']:.4f}",
                    "matched": f"{rr['matched']:,}/{n_t:,}",
                    "shared": f"{shared:,}/{len(full['pairs']):,}",
                    "ratio": ratio,
                }
            )
    if args.write:
        lines = [
            "# Matching: evalkit.match against R MatchIt (bench/bench_matching.py)",
            "",
            f"Run on {time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, OPENBLAS_NUM_THREADS="
            f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; load average "
            f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (machine shared "
            "with other work).",
            f"Each side is called {args.repeats} times in this one run and its best wall-clock "
            "and best CPU time are shown: propensity fit plus matching, data in memory, 3:1, "
            "caliper 0.2 SD of the logit, no unit. R's time is `matchit()` alone, evalkit's "
            "`match()` alone. Max abs SMD is over the covariates (every factor level; not the "
            "distance): for MatchIt first by its `summary()`, then by evalkit's definitions "
            "applied to MatchIt's weights.",
            *args.note,
        ]
        out = Path(__file__).parent / "results" / "matching.md"
        out.write_text(_report(lines, rows))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
