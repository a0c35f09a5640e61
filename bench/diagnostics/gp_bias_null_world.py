"""Paired diagnostic: GP/EA target-trial bias in the effect world vs a null world (all RR 1)."""

import csv
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/
import bench_target_trial as b


def gen(out, seed, null):
    from evalkit import config
    from evalkit.synth import generate_county

    progs = config.load_programmes()
    p = progs[b.PROGRAMME]
    if null:
        d = p.model_dump()
        d["synthetic"]["effects"]["rate_ratio"] = {
            k: 1.0 for k in d["synthetic"]["effects"]["rate_ratio"]
        }
        p = type(p).model_validate(d)
    generate_county(
        out,
        programmes={b.PROGRAMME: p},
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=b.POPULATION,
        seed=seed,
        regime="observables",
        fmt="parquet",
        progress=False,
        pool=b.POOL,
        world="hard",
    )
    return json.loads((out / "synthetic_truth.json").read_text())


def main(lo, hi, outf):
    from evalkit.analysis import load_study
    from evalkit.analysis.utilisation import matched_cohort, utilisation

    f = open(outf, "a", newline="")
    w = csv.writer(f)
    for rep in range(lo, hi):
        seed = b.BASE_SEED + rep
        for null in (False, True):
            tmp = Path(tempfile.mkdtemp(prefix="gpb_"))
            try:
                truth = gen(tmp, seed, null)
                study = load_study(b.study_programme(tmp), tmp)
                mc = matched_cohort(study, design="target_trial")
                util = truth["programmes"][b.PROGRAMME]["utilisation"]
                from dataclasses import replace

                from evalkit.analysis.utilisation import without_censoring

                variants = {
                    "ipcw": mc,
                    "uncens": without_censoring(mc),
                    "cens_unw": replace(mc, panel=mc.panel.drop(columns=["analysis_weight"])),
                }
                for vname, vmc in variants.items():
                    for s in ("emergency_admission", "gp_appointment"):
                        for win in (3, 6, 12):
                            r = utilisation(vmc, s, win)
                            tr = util.get(s, {}).get("rate_ratio", {}).get(str(win), math.nan)
                            p = r.poisson
                            w.writerow(
                                [
                                    rep,
                                    int(null),
                                    vname,
                                    s,
                                    win,
                                    p.estimate if p else math.nan,
                                    p.std_error if p else math.nan,
                                    tr,
                                    r.naive.rate_ratio,
                                    mc.n_participants,
                                    mc.n_controls,
                                ]
                            )
                f.flush()
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        print(rep, time.strftime("%H:%M:%S"), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
