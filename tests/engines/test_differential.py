"""Differential test: random small counties give the same cohort and panel on every engine.

Hypothesis draws a few dozen people (mixed-case ids, so byte and linguistic order differ;
NULL and month-end dates; deaths, deregistrations, late registrations), a few hundred events
and a handful of referrals (ties on a date, referrals to another programme). The cohort
(``build_cohort``: candidates, participants, exclusions) and the panel of a simple matching
(``build_panel``) on each engine must equal DuckDB's exactly; under ``slow`` so must the
censored follow-up of controls referred later (``followup_before_own_referral``), the
covariates at the inherited index dates (``Cohort.covariates_at``) and the placebo cohort.
The candidates and the panel must also equal the pandas reference (``reference.py``) on every
column. Ten examples in ``make test`` (derandomised: the same ten each run; three on Spark,
whose builds take seconds), a hundred (random) under ``slow``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.cohort import CohortError, placebo_cohort
from evalkit.cohort.panel import followup_before_own_referral
from evalkit.config import load_unit_costs

from . import reference
from .compare import assert_same
from .conftest import EngineCon, EngineRun, mindsong
from .matching import simple_matching
from .tables import event, person, referral, write_tables

pytestmark = [
    pytest.mark.engines,
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
]

D = dt.date
FIRST, LAST = D(2019, 1, 1), D(2024, 12, 31)
SETTINGS = (
    "gp_appointment",
    "ae_attendance",
    "emergency_admission",
    "outpatient_attendance",
    "ooh_contact",
    "elective_admission",
)
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


def _month_end(year: int, month: int) -> dt.date:
    return D(year, month, calendar.monthrange(year, month)[1])


#: Any day, or a month's last day (a third of draws), or 29 February.
days = st.one_of(
    st.dates(FIRST, LAST),
    st.builds(_month_end, st.integers(2019, 2024), st.integers(1, 12)),
    st.sampled_from([D(2020, 2, 29), D(2024, 2, 29)]),
)
#: Referral dates: after a year of data (the history participants need), month ends often.
referral_days = st.one_of(
    st.dates(D(2020, 3, 1), D(2024, 10, 31)),
    st.builds(_month_end, st.integers(2020, 2023), st.integers(1, 12)),
    st.just(D(2024, 2, 29)),
)
ids = st.text(alphabet="abAB_-09", min_size=1, max_size=3)
#: Years of birth: mostly adults, and the edges of mindsong's 18-120 (age = year - birth year).
births = st.sampled_from([1900, 1901, 1950, 1950, 1985, 1985, 2004, 2005])


def often(value: object, other: st.SearchStrategy) -> st.SearchStrategy:
    """``value`` five times in six, else a draw from ``other``."""
    return st.one_of(*[st.just(value)] * 5, other)


@st.composite
def counties(draw: st.DrawFn) -> dict:
    """People, events and referrals of a small county, and the data period to use."""
    pids = draw(st.lists(ids, min_size=20, max_size=40, unique=True))
    people = []
    for pid in pids:
        reg_from = draw(often(D(2005, 1, 1), days))
        reg_to, death = draw(often(None, days)), draw(often(None, days))
        people.append(
            person(
                pid,
                year_of_birth=draw(
                    st.sampled_from([1900, 1901, 1950, 1950, 1985, 1985, 2004, 2005])
                ),
                sex=draw(st.sampled_from(["F", "M", "X"])),
                ethnicity=draw(st.sampled_from(["A", "H", "M", "R", "Z", "99"])),
                imd_decile=draw(st.integers(1, 10)),
                # Intake refuses registration ending, or death, before registration began.
                registered_from=reg_from,
                registered_to=None if reg_to is None else max(reg_to, reg_from),
                date_of_death=None if death is None else max(death, reg_from),
                copd=draw(often(D(2010, 1, 1), st.one_of(st.none(), days))),
                asthma=draw(st.one_of(st.none(), days)),
                depression=draw(st.one_of(st.none(), days)),
            )
        )
    # One person surely a participant, so that every example has a cohort.
    people.append(person("anchor"))
    who = st.sampled_from([*pids, "anchor"])
    events = [
        event(p, d, s)
        for p, d, s in draw(
            st.lists(st.tuples(who, days, st.sampled_from(SETTINGS)), min_size=100, max_size=300)
        )
    ]
    tie = draw(referral_days)  # a date several referrals may share
    refs = [
        referral(p, d, episode_id=e, programme=prog)
        for p, d, e, prog in draw(
            st.lists(
                st.tuples(
                    who,
                    st.one_of(st.just(tie), referral_days),
                    ids,
                    st.sampled_from(["mindsong", "mindsong", "cyp"]),
                ),
                min_size=4,
                max_size=12,
                unique_by=lambda r: r[2],
            )
        )
    ]
    refs.append(referral("anchor", D(2022, 6, 15), episode_id="anchor-ep"))
    period = draw(st.one_of(st.none(), st.just((D(2019, 3, 1), D(2024, 10, 31)))))
    return {"people": people, "events": events, "referrals": refs, "data_period": period}


def _build(run: EngineRun, data: Path, period, extended: bool) -> dict | str:
    """Everything the engine computes for one county (the CohortError's text if it raises)."""
    try:
        cohort = run.cohort(data, data_period=period)
    except CohortError as exc:
        return str(exc)
    matched = simple_matching(cohort.candidates)
    panel = run.panel(cohort, matched)
    units = panel.drop_duplicates("unit")[["person_id", "index_date"]]
    out = {"cohort": cohort, "matched": matched, "panel": panel}
    if extended:
        out["followup"] = followup_before_own_referral(cohort, panel, con=run.engine.con)
        out["covariates_at"] = cohort.covariates_at(units)
        try:
            out["placebo"] = placebo_cohort(cohort, 18, con=run.engine.con).candidates
        except CohortError as exc:
            out["placebo"] = str(exc)
    return out


def _differential(engine: EngineRun, base: EngineRun, county: dict, extended: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="evalkit-engines-") as tmp:
        data = write_tables(Path(tmp), county["people"], county["events"], county["referrals"])
        period = county["data_period"]
        ours = _build(engine, data, period, extended)
        theirs = _build(base, data, period, extended) if engine.kind != "duckdb" else ours
        if isinstance(theirs, str) or isinstance(ours, str):
            assert ours == theirs, f"{engine.kind} gave {ours!r}, DuckDB {theirs!r}"
            return
        cohort = ours["cohort"]
        for name in ("candidates", "participants", "excluded"):
            pd.testing.assert_frame_equal(getattr(cohort, name), getattr(theirs["cohort"], name))
        for name in [k for k in ours if k not in ("cohort", "matched")]:
            if isinstance(theirs[name], str):
                assert ours[name] == theirs[name], f"{engine.kind} {name}: {ours[name]!r}"
            else:
                pd.testing.assert_frame_equal(ours[name], theirs[name], obj=name)
        ref_data = reference.Data(data)
        ref = reference.candidates(ref_data, mindsong(), data_period=period)
        assert_same(cohort.candidates, ref, what=f"{engine.kind} candidates vs the reference")
        ref_panel = reference.panel(
            ref_data,
            mindsong(),
            load_unit_costs(),
            cohort.candidates,
            ours["matched"],
            data_period=(cohort.data_start, cohort.data_end),
        )
        assert_same(ours["panel"], ref_panel, what=f"{engine.kind} panel vs the reference")


@pytest.fixture
def duckdb_run(duckdb_con: EngineCon) -> EngineRun:
    """DuckDB, the engine every other one is compared with."""
    return EngineRun(duckdb_con, schema="unused")


#: Examples per engine in make test (a Spark build takes seconds, DuckDB's a fraction of one).
EXAMPLES = {"duckdb": 10, "postgres": 10, "spark": 3}


def test_random_county_same_cohort_and_panel_on_every_engine(
    engine: EngineRun, duckdb_run: EngineRun
) -> None:
    @settings(
        max_examples=EXAMPLES[engine.kind],
        deadline=None,
        derandomize=True,
        suppress_health_check=HEALTH,
    )
    @given(county=counties())
    def check(county: dict) -> None:
        _differential(engine, duckdb_run, county, extended=False)

    check()


@pytest.mark.slow
def test_random_county_same_cohort_and_panel_on_every_engine_100(
    engine: EngineRun, duckdb_run: EngineRun
) -> None:
    @settings(max_examples=100, deadline=None, suppress_health_check=HEALTH)
    @given(county=counties())
    def check(county: dict) -> None:
        _differential(engine, duckdb_run, county, extended=True)

    check()
