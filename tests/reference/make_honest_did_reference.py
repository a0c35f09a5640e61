"""Write the shared event study and diff-diff's HonestDiD bounds read by ``test_honest.py``.

Run once, offline, with diff-diff 3.13.0 installed in a scratch environment (it is not an
evalkit dependency, so ``make test`` only reads the two CSVs this writes)::

    python -m venv dd-venv && dd-venv/bin/pip install diff-diff==3.13.0
    PYTHONHASHSEED=0 dd-venv/bin/python tests/reference/make_honest_did_reference.py

- ``honest_did_event_study.csv``: a contiguous event study fitted by diff-diff's
  ``MultiPeriodDiD(cluster="unit")`` on a panel simulated here (numpy, seed 20231105): 40 units
  (20 treated) over periods 1 to 8, treatment from period 5, a linear pre-trend among the
  treated, reference period 4. Event time = period - 5: pre-periods -4, -3, -2, reference -1,
  post 0 to 3. One row per event time: ``coefficient`` and the cluster-robust covariance
  (columns ``v_<event time>``), to 17 significant digits.
- ``honest_did_diffdiff.csv``: ``HonestDiD(method="relative_magnitude", l_vec=...)`` on that
  fit: for the mean of the post-periods (``target = mean``) and the first post-period alone
  (``target = first``), per Mbar the identified set (``lb``, ``ub``) and robust CI (``ci_lb``,
  ``ci_ub``), and (``quantity = breakdown``) ``breakdown_value(tol=1e-10)``.

diff-diff's benchmark is every pre-period step, including the step from -2 to the reference;
its robust CI for Delta^RM is the identified set widened by z times the target's SE (its code:
"conservative naive FLCI", ARP "disabled pending calibration").
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
EVENT_STUDY = HERE / "honest_did_event_study.csv"
REFERENCE = HERE / "honest_did_diffdiff.csv"
MBAR = (0.0, 0.25, 0.5, 1.0, 2.0)
FIRST_POST = 5


def make_panel(seed: int = 20231105) -> pd.DataFrame:
    """The simulated panel: one row per unit and period."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(40):
        treated = int(u < 20)
        unit_effect = rng.normal()
        for t in range(1, 9):
            trend = 0.15 * treated * (t - 4) if t < FIRST_POST else 0.0
            effect = treated * (t >= FIRST_POST) * (0.5 + 0.1 * (t - FIRST_POST))
            y = unit_effect + 0.2 * t + trend + effect + rng.normal(0.0, 0.5)
            rows.append((u, t, treated, y))
    return pd.DataFrame(rows, columns=["unit", "period", "treated", "y"])


def main() -> None:
    """Fit, run HonestDiD and write both CSVs."""
    from diff_diff import MultiPeriodDiD
    from diff_diff.honest_did import HonestDiD

    warnings.simplefilter("ignore")
    fit = MultiPeriodDiD(cluster="unit").fit(
        make_panel(),
        outcome="y",
        treatment="treated",
        time="period",
        post_periods=[5, 6, 7, 8],
        reference_period=4,
        unit="unit",
    )
    periods = sorted(int(p) for p in fit.period_effects)
    idx = [fit.interaction_indices[p] for p in periods]
    event = [p - FIRST_POST for p in periods]
    es = pd.DataFrame(
        {"period": event, "coefficient": [fit.period_effects[p].effect for p in periods]}
    )
    vcov = fit.vcov[np.ix_(idx, idx)]
    for j, e in enumerate(event):
        es[f"v_{e}"] = vcov[:, j]
    es.to_csv(EVENT_STUDY, index=False, float_format="%.17g")

    n_post = len(fit.post_periods)
    targets = {"mean": np.full(n_post, 1 / n_post), "first": np.eye(n_post)[0]}
    rows = []
    for name, l_vec in targets.items():
        honest = HonestDiD(method="relative_magnitude", l_vec=l_vec)
        for m in MBAR:
            r = honest.fit(fit, M=m)
            rows.append(("bounds", name, m, r.lb, r.ub, r.ci_lb, r.ci_ub))
        bd = honest.breakdown_value(fit, tol=1e-10)
        rows.append(("breakdown", name, bd, np.nan, np.nan, np.nan, np.nan))
    ref = pd.DataFrame(rows, columns=["quantity", "target", "mbar", "lb", "ub", "ci_lb", "ci_ub"])
    ref.to_csv(REFERENCE, index=False, float_format="%.17g")
    print(f"wrote {EVENT_STUDY.name} ({len(es)} periods) and {REFERENCE.name} ({len(ref)} rows)")


if __name__ == "__main__":
    main()
