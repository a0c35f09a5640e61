"""Summary statistics of a generated county: what freezes the hard world.

``tests/unit/synth/test_hard_world.py`` pins these for small hard counties
(``tests/reference/hard_world_summary.json``, written by
``tests/reference/make_hard_world_summary.py``): if the generator changes, the pinned values
change, and the change has to be made on purpose. The statistics are read from the written
tables and the truth file, as an analyst would see them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb

from evalkit.synth.truth import TRUTH_FILE

__all__ = ["REFERRING_SETTINGS", "world_summary"]

#: Settings of a referring contact (a same-day contact of one of these counts).
REFERRING_SETTINGS = ("gp_appointment", "outpatient_attendance")


def _months(a: dt.date, b: dt.date) -> int:
    """Whole calendar months from ``a`` to ``b`` (negative if ``b`` is earlier), by month number."""
    return (b.year - a.year) * 12 + (b.month - a.month) - (b.day < a.day)


def world_summary(out: Path) -> dict[str, Any]:
    """Counts and truths of the county in ``out`` (Parquet tables and ``synthetic_truth.json``).

    Participants per programme; events per setting; first referrals by day of the month
    (1-10, 11-20, 21-31) and the number of distinct days; first referrals with a same-day GP
    or outpatient contact; re-referrals; participants with less than 12 months of follow-up
    or 24 months of history in the data; emergency-admission and GP totals per calendar month
    around the shock; the truth's rate ratios and the participants eligible 3 months before
    their referral.
    """
    out = Path(out)
    truth = json.loads((out / TRUTH_FILE).read_text())
    start = dt.date.fromisoformat(truth["study_start"])
    end = dt.date.fromisoformat(truth["study_end"])
    con = duckdb.connect()
    ref, act = f"read_parquet('{out}/referrals.parquet')", f"read_parquet('{out}/activity.parquet')"
    con.execute(
        f"""create temp table firsts as
        select * from (select *, row_number() over (partition by person_id, programme
                       order by referral_date, episode_id) as k from {ref}) where k = 1"""
    )
    settings = dict(con.execute(f"select setting, count(*) from {act} group by 1").fetchall())
    days = con.execute("select day(referral_date) as d from firsts").fetchall()
    dom = [d for (d,) in days]
    same_day = con.execute(
        f"""select count(*) from firsts f where exists (select 1 from {act} a
            where a.person_id = f.person_id and a.event_date = f.referral_date
              and a.setting in {REFERRING_SETTINGS})"""
    ).fetchone()[0]
    dates = [d for (d,) in con.execute("select referral_date from firsts").fetchall()]
    monthly = con.execute(
        f"""select strftime(event_date, '%Y-%m') as m, setting, count(*) from {act}
            where event_date between DATE '2021-06-01' and DATE '2023-10-31'
              and setting in ('gp_appointment', 'emergency_admission', 'ae_attendance')
            group by 1, 2 order by 1, 2"""
    ).fetchall()
    by_month: dict[str, dict[str, int]] = {}
    for m, s, n in monthly:
        by_month.setdefault(s, {})[m] = int(n)
    progs = truth["programmes"]
    return {
        "world": truth["world"],
        "regime": truth["regime"],
        "people_written": truth["people_written"],
        "participants": {p: v["n_participants"] for p, v in progs.items()},
        "referral_rows": int(con.execute(f"select count(*) from {ref}").fetchone()[0]),
        "rereferrals": int(
            con.execute(f"select count(*) from {ref}").fetchone()[0]
            - con.execute("select count(*) from firsts").fetchone()[0]
        ),
        "events": {s: int(n) for s, n in sorted(settings.items())},
        "referral_day_of_month": {
            "1-10": sum(d <= 10 for d in dom),
            "11-20": sum(10 < d <= 20 for d in dom),
            "21-31": sum(d > 20 for d in dom),
            "distinct_days": len(set(dom)),
        },
        "same_day_referring_contact": int(same_day),
        "same_day_referring_contact_share": round(same_day / max(len(dom), 1), 6),
        "follow_up_under_12_months": sum(_months(d, end) < 12 for d in dates),
        "history_under_24_months": sum(_months(start, d) < 24 for d in dates),
        "monthly_totals": by_month,
        "eligible_3_months_before_referral": {
            p: v.get("eligible_3_months_before_referral") for p, v in progs.items()
        },
        "rate_ratio": {
            p: {s: v["rate_ratio"] for s, v in sorted(prog["utilisation"].items())}
            for p, prog in progs.items()
        },
    }
