"""What the cohort layer brings from the engine into pandas, on a small synthetic county.

``build_cohort`` + ``build_panel`` on every engine, with :func:`evalkit.engine.fetch_log`: no
activity row comes back as such (no ``event_id``, ``event_date`` or ``bed_days`` column in any
fetched frame), and the rows fetched are bounded by what the design says comes back
(``evalkit.cohort.risk_set``): the referred people's rows (four small fetches: first referrals,
their eligibility, their index rows, their window flags), the candidate rows, the pool's
per-person attributes (the pool: participants and people with a required condition by the last
index date), the pool's outcome events in the prior windows as integers (from 12 months before
the first index date to the day after the last), and the panel's rows. The pool's events are the
largest fetch by far: the prior-use counts are computed in numpy, not in the engine.
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

ONE_DAY = dt.timedelta(days=1)

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
    """The terms of the bound on rows fetched, each counted from the processed files.

    The risk set's pool can only hold the participants and people with one of the programme's
    required conditions diagnosed by the last index date (eligibility needs one on the index
    date): their attributes and their outcome events in the prior windows are what the cohort
    brings back for the covariates.
    """
    conditions = list(cohort.programme.eligibility.conditions_any)
    pop = pd.read_parquet(county / "population.parquet", columns=["person_id", *conditions])
    act = pd.read_parquet(
        county / "activity.parquet", columns=["person_id", "event_date", "setting"]
    )
    ref = pd.read_parquet(county / "referrals.parquet", columns=["person_id", "programme"])
    referred = set(ref.loc[ref["programme"] == cohort.programme.slug, "person_id"])
    c = cohort.candidates
    days = pd.to_datetime(c["index_date"]).dt.date
    lo, last = add_months(days.min(), -12), days.max()
    diagnosed = pop[conditions].apply(lambda s: pd.to_datetime(s).dt.date <= last).any(axis=1)
    pool = set(pop.loc[diagnosed, "person_id"]) | referred
    when = pd.to_datetime(act["event_date"]).dt.date
    # fetch_events reads up to the day after the last index date (its end is exclusive).
    events = act["setting"].isin(cohort.settings) & (when >= lo) & (when <= last + ONE_DAY)
    events &= act["person_id"].isin(pool)
    return {
        "referred people x 4": 4 * len(referred),
        "candidate rows": len(c),
        "pool (diagnosed by the last index date, or referred)": len(pool),
        "the pool's outcome events in the windows": int(events.sum()),
        "panel rows": len(panel),
        "data period and settings held": 1 + len(cohort.programme.outcomes.negative_controls),
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
