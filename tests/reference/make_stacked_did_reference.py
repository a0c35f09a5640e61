"""Write the shared panel and diff-diff's StackedDiD results read by ``test_stacked.py``.

Run once, offline, with diff-diff 3.13.0 installed (``pip install diff-diff==3.13.0``; it is not
an evalkit dependency, so ``make test`` only reads the two CSVs this writes)::

    PYTHONHASHSEED=0 .venv/bin/python tests/reference/make_stacked_did_reference.py

- ``stacked_did_panel.csv``: 30 units over periods 1 to 10 (numpy, seed 20240131): adoption
  cohorts 2 (trimmed: its window starts before period 1), 4, 6, 8 and 10 (trimmed: its window
  ends after period 10, but its units are clean controls for cohorts 4 and 6), and never-treated
  units (``adoption`` empty); outcome = unit effect + period effect + a cohort- and
  event-time-specific effect + noise.
- ``stacked_did_diffdiff.csv``: ``StackedDiD(kappa_pre=2, kappa_post=2, weighting="aggregate",
  control_group="not_yet_treated", cluster="unit")`` on that panel (never-treated coded 0, as
  diff-diff expects): one row per ``quantity`` and ``key``, the value to 17 significant digits:
  ``event`` (key: event time; the coefficient and its SE), ``att`` (the overall ATT and SE),
  ``control_weight`` (key: sub-experiment; the Q-weight of its controls), ``n_stacked_obs``,
  ``n_clusters``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PANEL = HERE / "stacked_did_panel.csv"
REFERENCE = HERE / "stacked_did_diffdiff.csv"

#: Units per adoption period (None: never treated).
COHORTS: dict[int | None, int] = {2: 3, 4: 6, 6: 4, 8: 3, 10: 2, None: 12}
PERIODS = range(1, 11)
WINDOW = (2, 2)


def make_panel(seed: int = 20240131) -> pd.DataFrame:
    """The shared panel: one row per unit and period."""
    rng = np.random.default_rng(seed)
    adoption = [a for a, n in COHORTS.items() for _ in range(n)]
    unit_effect = rng.normal(0.0, 1.0, len(adoption))
    period_effect = rng.normal(0.0, 0.5, len(PERIODS))
    rows = []
    for u, a in enumerate(adoption):
        for j, t in enumerate(PERIODS):
            effect = 0.0 if a is None or t < a else 1.0 + 0.25 * (t - a) + 0.1 * a
            y = unit_effect[u] + period_effect[j] + effect + rng.normal(0.0, 0.3)
            rows.append((u + 1, t, np.nan if a is None else float(a), y))
    return pd.DataFrame(rows, columns=["unit", "period", "adoption", "y"])


def diff_diff_reference(panel: pd.DataFrame) -> pd.DataFrame:
    """diff-diff's StackedDiD on ``panel``: coefficients, SEs, Q-weights, counts."""
    from diff_diff import StackedDiD

    data = panel.assign(first_treat=panel["adoption"].fillna(0.0))
    est = StackedDiD(
        kappa_pre=WINDOW[0],
        kappa_post=WINDOW[1],
        weighting="aggregate",
        control_group="not_yet_treated",
        cluster="unit",
    )
    res = est.fit(data, outcome="y", unit="unit", time="period", first_treat="first_treat")
    rows = [
        ("event", h, eff["effect"], eff["se"])
        for h, eff in sorted(res.event_study_effects.items())
        if h != -1
    ]
    rows.append(("att", "", res.overall_att, res.overall_se))
    stacked = res.stacked_data
    controls = stacked.loc[stacked["_D_sa"] == 0].groupby("_sub_exp")["_Q_weight"]
    if (controls.nunique() != 1).any():
        raise AssertionError("Q-weights vary within a sub-experiment on a balanced panel")
    rows += [("control_weight", int(a), w, np.nan) for a, w in controls.first().items()]
    rows.append(("n_stacked_obs", "", float(res.n_stacked_obs), np.nan))
    rows.append(("n_clusters", "", float(res.n_clusters), np.nan))
    return pd.DataFrame(rows, columns=["quantity", "key", "estimate", "std_error"])


def main() -> None:
    """Write both CSVs."""
    panel = make_panel()
    panel.to_csv(PANEL, index=False, float_format="%.17g")
    diff_diff_reference(pd.read_csv(PANEL)).to_csv(REFERENCE, index=False, float_format="%.17g")
    print(f"wrote {PANEL.name} ({len(panel)} rows) and {REFERENCE.name}")


if __name__ == "__main__":
    main()
