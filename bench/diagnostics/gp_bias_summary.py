import sys

import numpy as np
import pandas as pd

d = pd.concat(
    [
        pd.read_csv(
            f, header=None, names="rep null var setting win est se truth naive npart nctrl".split()
        )
        for f in sys.argv[1:]
    ]
)
d["b"] = np.log(d.est) - np.log(d.truth)
full = d.groupby("rep").null.nunique()
d = d[d.rep.isin(full[full == 2].index)]
print("reps", d.rep.nunique())
for (v, s, w), g in d.groupby(["var", "setting", "win"]):
    e = g[g.null == 0].set_index("rep").b
    n = g[g.null == 1].set_index("rep").b
    k = len(e)

    def cell(x: pd.Series) -> str:
        return f"{x.mean():+.4f} ({x.std() / len(x) ** 0.5:.4f})"

    print(f"{v:9s}{s[:6]} {w:2d} effect {cell(e)}  null {cell(n)}  diff {cell(e - n)}")
