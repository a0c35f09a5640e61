"""Summary of the target-trial simulation (``bench_target_trial.py``): tables and checks.

Plain means over replications, hand-written; the Monte Carlo SEs follow Morris, White & Crowther
(2019, Stat Med 38:2074, table 6): bias ``sd(err) / sqrt(R)``, coverage ``sqrt(p (1 - p) / R)``,
RMSE by the delta method on the MSE (``sd(err^2) / sqrt(R) / (2 RMSE)``). ``err`` is the log
estimate minus the log of the replication's own true rate ratio.

The acceptance checks (hard world; asserted for the target trial, reported for legacy):

- observables: 95% CI coverage in 93-97% and ``|bias| <= max(2.576 MCSE, 0.01)`` for emergency
  admissions and GP appointments at 6 and 12 months (``coverage``, ``bias``);
- realistic: the matched DiD's residual bias reported (``residual_bias``), and naive pre/post's
  ``|bias|`` above the DiD's by more than 2.576 MCSE (``naive_worse``). The MCSE is that of the
  paired difference ``|bias_naive| - |bias_did|`` on the same replications: per replication
  ``s_n e_n - s_d e_d`` with ``s`` the sign of each method's mean error (the delta method for
  absolute values, valid when neither bias is within a few MCSE of zero; the table shows both).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FULL_REPS = 1000
COVERAGE_BAND = (0.93, 0.97)
#: |bias| within this many Monte Carlo SEs (the 99% Monte Carlo level) ...
BIAS_MCSE_LIMIT = 2.576
#: ... or within this many log units, whichever is larger (the acceptance floor).
BIAS_FLOOR = 0.01
GROUP = ["world", "regime", "design", "setting", "window", "method"]
CHECKED_SETTINGS = ("emergency_admission", "gp_appointment")
CHECKED_WINDOWS = (6, 12)


def errors(g: pd.DataFrame) -> pd.DataFrame:
    """Estimable rows of ``g`` with ``err`` (log estimate - log truth) and ``covered``."""
    ok = g[np.isfinite(g["estimate"]) & (g["estimate"] > 0) & np.isfinite(g["ci_low"])]
    ok = ok[np.isfinite(ok["ci_high"]) & np.isfinite(ok["truth"]) & (ok["truth"] > 0)]
    return ok.assign(
        err=np.log(ok["estimate"]) - np.log(ok["truth"]),
        covered=(ok["ci_low"] <= ok["truth"]) & (ok["truth"] <= ok["ci_high"]),
    )


def performance(err: np.ndarray, se: np.ndarray, covered: np.ndarray) -> dict[str, float]:
    """Bias, RMSE, empirical SD, mean SE and coverage, with Monte Carlo SEs (module docstring)."""
    n = len(err)
    if n == 0:
        return {"replications": 0}
    nan = math.nan
    bias = float(err.mean())
    sd = float(err.std(ddof=1)) if n > 1 else nan
    mse = float((err**2).mean())
    rmse = math.sqrt(mse)
    cov = float(covered.mean())
    return {
        "replications": n,
        "bias_log": bias,
        "bias_mcse": sd / math.sqrt(n) if n > 1 else nan,
        "rmse_log": rmse,
        "rmse_mcse": float((err**2).std(ddof=1)) / math.sqrt(n) / (2 * rmse)
        if n > 1 and rmse > 0
        else nan,
        "empirical_sd_log": sd,
        "mean_se_log": float(np.mean(se)),
        "coverage": cov,
        "coverage_mcse": math.sqrt(cov * (1 - cov) / n),
    }


def summarise(reps: pd.DataFrame) -> pd.DataFrame:
    """One row per world, regime, design, setting, window and method."""
    out = []
    for key, g in reps.groupby(GROUP, sort=True):
        ok = errors(g)
        perf = performance(
            ok["err"].to_numpy(), ok["std_error"].to_numpy(), ok["covered"].to_numpy()
        )
        out.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "not_estimable": len(g) - len(ok),
                "mean_truth_rr": float(ok["truth"].mean()) if len(ok) else math.nan,
                **perf,
            }
        )
    return pd.DataFrame(out)


def valid_rows(reps: pd.DataFrame) -> pd.DataFrame:
    """Rows of the current code (the design API) on a county of the named world."""
    if reps.empty:
        return reps
    return reps[(reps["design_impl"] == "current") & (reps["world_generated"] == reps["world"])]


def valid_replications(reps: pd.DataFrame, world: str = "hard") -> dict[str, int]:
    """Replications per regime with valid target-trial rows in ``world``."""
    v = valid_rows(reps)
    if v.empty:
        return {}
    v = v[(v["world"] == world) & (v["design"] == "target_trial")]
    return {str(k): int(n) for k, n in v.groupby("regime")["rep"].nunique().items()}


def paired_gap(did: pd.DataFrame, naive: pd.DataFrame) -> tuple[float, float, int]:
    """``|bias_naive| - |bias_did|`` on the replications both estimated, and its MCSE."""
    a = errors(did).set_index("rep")["err"]
    b = errors(naive).set_index("rep")["err"]
    both = a.index.intersection(b.index)
    a, b = a.loc[both].to_numpy(), b.loc[both].to_numpy()
    n = len(both)
    if n < 2:
        return math.nan, math.nan, n
    d = np.sign(b.mean()) * b - np.sign(a.mean()) * a
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)), n


def _check(name: str, cell: dict[str, Any], value: float, mcse: float, limit: str, ok: Any):
    return {"check": name, **cell, "value": value, "mcse": mcse, "limit": limit, "passed": ok}


def acceptance_checks(reps: pd.DataFrame, world: str = "hard") -> pd.DataFrame:
    """The acceptance checks (module docstring), one row each; ``asserted`` for the target trial."""
    if reps.empty:
        return pd.DataFrame()
    table = summarise(reps).set_index(GROUP)
    rows = []
    for (w, regime, design), g in reps[reps["world"] == world].groupby(
        ["world", "regime", "design"]
    ):
        for setting in CHECKED_SETTINGS:
            for window in CHECKED_WINDOWS:
                cell = {"world": w, "regime": regime, "design": design}
                cell |= {"setting": setting, "window": window}
                key = (w, regime, design, setting, window, "matched_did")
                if key not in table.index:
                    continue
                r = table.loc[key]
                if regime == "observables":
                    lo, hi = COVERAGE_BAND
                    ok = lo <= r["coverage"] <= hi
                    rows.append(
                        _check(
                            "coverage", cell, r["coverage"], r["coverage_mcse"], f"{lo}-{hi}", ok
                        )
                    )
                    lim = max(BIAS_MCSE_LIMIT * r["bias_mcse"], BIAS_FLOOR)
                    ok = abs(r["bias_log"]) <= lim
                    rows.append(
                        _check("bias", cell, r["bias_log"], r["bias_mcse"], f"<= {lim:.4f}", ok)
                    )
                    continue
                rows.append(
                    _check("residual_bias", cell, r["bias_log"], r["bias_mcse"], "reported", None)
                )
                sel = g[(g["setting"] == setting) & (g["window"] == window)]
                gap, mcse, _ = paired_gap(
                    sel[sel["method"] == "matched_did"], sel[sel["method"] == "naive_prepost"]
                )
                lim = BIAS_MCSE_LIMIT * mcse
                rows.append(_check("naive_worse", cell, gap, mcse, f"> {lim:.4f}", gap > lim))
    out = pd.DataFrame(rows)
    if not out.empty:
        out["asserted"] = (out["design"] == "target_trial") & out["passed"].notna()
    return out


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _fmt(x: Any, spec: str = ".4f") -> str:
    if isinstance(x, bool | np.bool_):
        return "pass" if x else "FAIL"
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, float | np.floating):
        return f"{x:,.0f}" if float(x).is_integer() and abs(x) >= 1 else format(x, spec)
    return str(x)


def _markdown(df: pd.DataFrame) -> list[str]:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c]) for c in cols) + " |")
    return lines


def side_by_side(table: pd.DataFrame, world: str, regime: str) -> pd.DataFrame:
    """Target trial and legacy beside each other, one row per setting, window and method."""
    t = table[(table["world"] == world) & (table["regime"] == regime)]
    out = []
    for (setting, window, method), g in t.groupby(["setting", "window", "method"], sort=False):
        row: dict[str, Any] = {"setting": setting, "window": window, "method": method}
        g = g.sort_values("design", key=lambda d: d != "target_trial", kind="stable")
        for _, r in g.iterrows():
            if not r.get("replications"):
                continue
            d = "TT" if r["design"] == "target_trial" else "legacy"
            row[f"{d} R"] = int(r["replications"])
            row[f"{d} bias (MCSE)"] = f"{r['bias_log']:+.4f} ({r['bias_mcse']:.4f})"
            row[f"{d} RMSE"] = r["rmse_log"]
            row[f"{d} emp SD / mean SE"] = f"{r['empirical_sd_log']:.4f} / {r['mean_se_log']:.4f}"
            row[f"{d} coverage (MCSE)"] = f"{r['coverage']:.3f} ({r['coverage_mcse']:.3f})"
        out.append(row)
    return pd.DataFrame(out)


def diagnostics(reps: pd.DataFrame) -> pd.DataFrame:
    """Per world, regime and design: participants, matching, censoring, weights, seconds."""
    one = reps.drop_duplicates(["world", "regime", "design", "rep"])
    out = []
    for (w, regime, design), g in one.groupby(["world", "regime", "design"]):

        def med(c: str, g: pd.DataFrame = g) -> float:
            return float(g[c].median()) if c in g and g[c].notna().any() else math.nan

        def ext(c: str, fn: Any, g: pd.DataFrame = g) -> float:
            return float(fn(g[c])) if c in g and g[c].notna().any() else math.nan

        out.append(
            {
                "world": w,
                "regime": regime,
                "design": design,
                "replications": g["rep"].nunique(),
                "participants (median)": med("participants"),
                "matched share (median)": med("matched_share"),
                "matched share (min)": ext("matched_share", np.min),
                "controls censored (median)": med("controls_censored_share"),
                "control rows censored (median)": med("controls_censored_rows_share"),
                "controls referred within 12 m (median)": med("controls_referred_12m_share"),
                "IPCW raw min": ext("ipcw_raw_min", np.min),
                "IPCW raw max": ext("ipcw_raw_max", np.max),
                "IPCW used p1 (median)": med("ipcw_p1"),
                "IPCW used p99 (median)": med("ipcw_p99"),
                "design s (median)": med("design_seconds"),
                "generation s (median)": med("generate_seconds"),
            }
        )
    return pd.DataFrame(out)


def _header(reps: pd.DataFrame, meta: dict[str, Any]) -> list[str]:
    per = reps.drop_duplicates(["world", "regime", "rep"])
    achieved = per.groupby(["world", "regime"])["rep"].nunique()
    impl = sorted(reps["design_impl"].unique()) if len(reps) else []
    worlds = sorted(reps["world_generated"].astype(str).unique()) if len(reps) else []
    codes = sorted(reps["code"].dropna().unique()) if "code" in reps else []
    lines = [
        "# Simulation study: target-trial matched DiD against the legacy design",
        "",
        f"Written by `{meta['command']}` on {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC.",
        "",
        f"- Programme `{meta['programme']}`, the eligible pool of a county of "
        f'{meta["population"]:,} per replication (`pool="eligible"`), seed {meta["base_seed"]} '
        "+ replication, the same seed in every world and regime; both designs on the same county.",
        "- Replications achieved: "
        + (", ".join(f"{w} {g} {n}" for (w, g), n in achieved.items()) or "none")
        + f" (requested {meta['reps_requested']} per world and regime).",
        f"- Code that ran: design `{', '.join(impl)}`; counties of world `{', '.join(worlds)}` "
        "(`older` = code without the target-trial APIs, `unrecorded` = a county without a world: "
        "a pilot that times the pipeline, whose figures are not the study's); fingerprint of the "
        "evalkit code that "
        f"decides the estimates: `{', '.join(codes) or 'not recorded'}`.",
        "- Log rate-ratio scale; truth = the replication's own `synthetic_truth.json` (a negative "
        "control's is 1); MCSE = Monte Carlo SE (Morris et al. 2019). TT = target trial.",
    ]
    if math.isfinite(meta.get("wall_minutes", math.nan)):
        lines.append(
            f"- Wall time of this run {meta['wall_minutes']:.1f} min, workers: {meta['workers']}."
        )
    if len(per) and "seconds" in per:
        lines.append(
            f"- Seconds per replication (one county, both designs, one worker): median "
            f"{per['seconds'].median():.1f}; per design in the diagnostics table."
        )
    return [*lines, ""]


def write_report(reps: pd.DataFrame, path: Path, meta: dict[str, Any]) -> pd.DataFrame:
    """Write ``path`` (markdown) and the summary CSV beside it; return the summary table."""
    table = summarise(reps) if len(reps) else pd.DataFrame(columns=GROUP)
    lines = _header(reps, meta)
    counts = valid_replications(reps)
    if min(counts.values(), default=0) < FULL_REPS:
        lines += [
            f"**Incomplete:** valid replications (hard world, target trial, current code): "
            f"{counts or 'none'}; the acceptance checks apply at {FULL_REPS} per regime. "
            "Resume with `PYTHONPATH=src python bench/bench_target_trial.py --reps 1000`.",
            "",
        ]
    for (w, regime), _ in table.groupby(["world", "regime"]) if len(table) else []:
        lines += [f"## World {w}, regime {regime}", ""]
        lines += [*_markdown(side_by_side(table, w, regime)), ""]
    checks = acceptance_checks(valid_rows(reps)) if len(reps) else pd.DataFrame()
    lines += ["## Acceptance checks (hard world; valid rows only)", ""]
    if checks.empty:
        lines += [
            "No valid rows (the design's new API on a county of the named world): not evaluated.",
            "",
        ]
    else:
        shown = checks.assign(
            passed=checks["passed"].map(lambda x: "-" if x is None else x),
            asserted=checks["asserted"].map({True: "yes", False: "no"}),
        )
        lines += [*_markdown(shown), ""]
        lines += [
            "`asserted`: checked by the slow test at 1,000 replications (target trial); the legacy "
            "design's rows show what the change bought.",
            "",
        ]
    if len(reps):
        lines += ["## Diagnostics per replication", "", *_markdown(diagnostics(reps)), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    table.to_csv(path.with_name(path.stem + "_summary.csv"), index=False)
    return table
