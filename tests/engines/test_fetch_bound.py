"""What the cohort layer brings from the engine into pandas, on a small synthetic county.

``build_cohort`` + ``build_panel`` on every engine, with :func:`evalkit.engine.fetch_log`: no
activity row comes back as such (no ``event_id``, ``event_date`` or ``bed_days`` column in any
fetched frame), and the rows fetched are bounded by what the design says comes
back (``evalkit.cohort.risk_set``): the referred people's rows (four small fetches: first
referrals, their eligibility, their index rows, their window flags), the candidate rows, the
pool's per-person attributes (at most the population), the pool's outcome events in the prior
windows as integers (at most the county's outcome events from 12 months before the first index
date to the last), and the panel's rows. The activity table itself is far larger.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from evalkit import config
from evalkit.engine import fetch_log
from evalkit.intake import run_intake
from evalkit.synth import generate_county

from .conftest import EngineRun, mindsong
from .matching import simple_matching
from .reference import add_months

pytestmark = [
    pytest.mark.engines,
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
]

#: Columns only an activity row has: none may reach pandas (``setting`` does, as the list of
#: the negative-control settings the table holds: one row each).
ACTIVITY_ONLY = {"event_id", "event_date", "bed_days"}


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3,000-person synthetic county (seed 11) after intake: the demo's shape, 1/20 of it."""
    root = tmp_path_factory.mktemp("fetch_county")
    generate_county(
        root / "raw",
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=3_000,
        seed=11,
        fmt="parquet",
        progress=False,
    )
    run_intake(root / "raw", root / "processed", progress=False)
    return root / "processed"


def _bound(county: Path, cohort, panel: pd.DataFrame) -> dict[str, int]:
    """The terms of the bound on rows fetched, each counted from the processed files."""
    pop = pd.read_parquet(county / "population.parquet", columns=["person_id"])
    act = pd.read_parquet(county / "activity.parquet", columns=["event_date", "setting"])
    ref = pd.read_parquet(county / "referrals.parquet", columns=["person_id", "programme"])
    c = cohort.candidates
    days = pd.to_datetime(c["index_date"]).dt.date
    lo = add_months(days.min(), -12)
    hi = days.max() + dt.timedelta(days=2)
    when = pd.to_datetime(act["event_date"]).dt.date
    outcome = act["setting"].isin(cohort.settings) & (when >= lo) & (when < hi)
    return {
        "referred people x 4": 4 * ref.loc[ref["programme"] == "mindsong", "person_id"].nunique(),
        "candidate rows": len(c),
        "population": len(pop),
        "outcome events in the windows": int(outcome.sum()),
        "panel rows": len(panel),
        "period and settings": 2,
        "activity rows (not a term)": len(act),
    }


def test_fetch_bounded_and_no_activity_rows_fetched(engine: EngineRun, county: Path) -> None:
    fetch_log(reset=True)
    cohort = engine.cohort(county, mindsong())
    panel = engine.panel(cohort, simple_matching(cohort.candidates))
    log = fetch_log(reset=True)
    assert set(log) == {"cohort"}, f"stages fetched: {sorted(log)}"
    fetched = log["cohort"]
    assert not fetched["columns"] & ACTIVITY_ONLY, fetched["columns"] & ACTIVITY_ONLY
    terms = _bound(county, cohort, panel)
    activity = terms.pop("activity rows (not a term)")
    bound = sum(terms.values())
    assert fetched["rows"] <= bound, f"{fetched['rows']} rows fetched > {bound}: {terms}"
    assert bound < activity, f"the bound {bound} is not below the activity table's {activity}"
