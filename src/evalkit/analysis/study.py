"""A programme's study: its config, the processed data and the engine connection.

``load_study("mindsong")`` is what a notebook calls first; every analysis function takes the
study and reads what it needs through the engine layer, so notebooks hold no data wrangling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from evalkit import engine, engines
from evalkit.config import Programme, UnitCostTable, load_programme, load_unit_costs
from evalkit.contract import ETHNICITY_GROUP, imd_quintile


@dataclass
class Study:
    """One programme's evaluation data: config, processed tables and unit costs.

    Small per-programme tables (referrals, the participants' population rows, measures) are
    brought into pandas once and cached; the large activity table stays in the engine.
    """

    programme: Programme
    data_dir: Path
    unit_costs: UnitCostTable
    con: Any = field(repr=False)

    @cached_property
    def tables(self) -> dict[str, ibis.Table]:
        """Lazy Ibis tables of the processed data, on the study's engine."""
        from evalkit.contract import TABLES

        return {t: engines.open_table(self.con, self.data_dir, t) for t in TABLES}

    @cached_property
    def referrals(self) -> pd.DataFrame:
        """All referrals to this programme (every episode, including re-referrals)."""
        t = self.tables["referrals"]
        return engine.to_pandas(
            self.con, t.filter(t.programme == self.programme.slug), stage="study"
        )

    @cached_property
    def index_episodes(self) -> pd.DataFrame:
        """Each participant's first referral (the index episode), with their demographics.

        Later referrals of the same person are part of their exposure, not new participants.
        Adds ``imd_quintile`` (1 = most deprived), ``ethnicity_group`` (ONS five groups, or
        "Unknown" for not stated / not known) and ``age`` at referral (year of referral minus
        year of birth).
        """
        ref = self.referrals.sort_values(["referral_date", "episode_id"], kind="stable")
        first = ref.drop_duplicates("person_id", keep="first")
        pop = self.tables["population"]
        people = engine.to_pandas(
            self.con,
            pop.filter(pop.person_id.isin(first["person_id"].tolist())).select(
                "person_id", "year_of_birth", "sex", "ethnicity", "imd_decile"
            ),
            stage="study",
        )
        out = first.merge(people, on="person_id", how="left", validate="one_to_one")
        out["imd_quintile"] = imd_quintile(out["imd_decile"])
        group = out["ethnicity"].map(ETHNICITY_GROUP)
        out["ethnicity_group"] = group.where(~group.isin(["Not stated", "Not known"]), "Unknown")
        out["age"] = pd.to_datetime(out["referral_date"]).dt.year - out["year_of_birth"]
        return out.reset_index(drop=True)

    @cached_property
    def measures(self) -> pd.DataFrame:
        """Item responses of the programme's index episodes."""
        m = self.tables["measures"]
        eps = self.index_episodes["episode_id"].tolist()
        return engine.to_pandas(self.con, m.filter(m.episode_id.isin(eps)), stage="study")


def load_study(
    programme: str | Programme,
    data_dir: str | Path = "data/processed",
    *,
    unit_costs: UnitCostTable | None = None,
    con: Any = None,
) -> Study:
    """Open a programme's study on the processed data (run ``make data`` first)."""
    prog = load_programme(programme) if isinstance(programme, str) else programme
    return Study(
        programme=prog,
        data_dir=Path(data_dir),
        unit_costs=unit_costs or load_unit_costs(),
        con=con or engines.connect(),
    )
