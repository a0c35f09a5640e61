import sys

import numpy as np
import pandas as pd

d = pd.read_csv(
    sys.argv[1],
    header=None,
    names="rep null var setting win est se truth naive npart nctrl".split(),
)
d["b"] = np.log(d.est) - np.log(d.truth)
p = d.pivot_table(index=["rep", "null", "setting", "win"], columns="var", values="b").reset_index()
print("reps", p.rep.nunique())
for (nl, s, w), g in p.groupby(["null", "setting", "win"]):
    k = len(g)
    x = g.ipcw - g.uncens
    y = g.ipcw - g.cens_unw

    def cell(z: pd.Series) -> str:
        return f"{z.mean():+.4f} ({z.std() / len(z) ** 0.5:.4f})"

    print(f"null={nl} {s[:6]} {w:2d} ipcw-uncens {cell(x)}  ipcw-unweighted {cell(y)}")
