"""Effect world only: truth among all vs among matched participants (captured lam0/lam1)."""

import csv
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/
import bench_target_trial as b
import evalkit.synth.generate as G
import evalkit.synth.participants as P

CAP = {}
_fa = P.followup_activity


def fa(prog, persons, ref_day, dose, *a, **k):
    lam0, lam1, ev = _fa(prog, persons, ref_day, dose, *a, **k)
    CAP.setdefault("parts", []).append((persons.copy(), lam0, lam1, dose.copy()))
    return lam0, lam1, ev


P.followup_activity = fa
_dp = G._draw_people


def dp(*a, **k):
    pop, ids = _dp(*a, **k)
    CAP["ids"] = np.asarray(ids)
    return pop, ids


G._draw_people = dp


def main(lo, hi, outf):
    from evalkit import config
    from evalkit.analysis import load_study
    from evalkit.analysis.utilisation import matched_cohort, utilisation
    from evalkit.synth import generate_county

    f = open(outf, "a", newline="")
    w = csv.writer(f)
    for rep in range(lo, hi):
        seed = b.BASE_SEED + rep
        tmp = Path(tempfile.mkdtemp(prefix="gpb2_"))
        CAP.clear()
        try:
            progs = config.load_programmes()
            generate_county(
                tmp,
                programmes={b.PROGRAMME: progs[b.PROGRAMME]},
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
            persons, lam0, lam1, dose = CAP["parts"][0]
            pid = CAP["ids"][persons]
            study = load_study(b.study_programme(tmp), tmp)
            mc = matched_cohort(study, design="target_trial")
            matched = set(mc.panel.loc[mc.panel.referred == 1, "person_id"])
            m = np.isin(pid, list(matched))
            from evalkit.contract import SETTINGS

            for s in ("emergency_admission", "gp_appointment"):
                si = list(SETTINGS).index(s)
                for win in (3, 6, 12):
                    r = utilisation(mc, s, win)
                    ta = lam1[:, :win, si].sum() / lam0[:, :win, si].sum()
                    tm = lam1[m, :win, si].sum() / lam0[m, :win, si].sum()
                    p = r.poisson
                    w.writerow(
                        [
                            rep,
                            s,
                            win,
                            p.estimate if p else math.nan,
                            p.std_error if p else math.nan,
                            ta,
                            tm,
                            m.mean(),
                            dose[m].mean(),
                            dose[~m].mean() if (~m).any() else math.nan,
                        ]
                    )
            f.flush()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(rep, time.strftime("%H:%M:%S"), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
