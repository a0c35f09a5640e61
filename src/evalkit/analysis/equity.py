"""Inequalities for a programme: reach, pathway, outcomes by deprivation.

The analyses of docs/design/methods.md section 3.

Four analyses on a :class:`~evalkit.analysis.study.Study`, each returning a frozen result
object (``tidy()``, ``summary()``, ``plot()``, ``to_dict()``):

- :func:`reach` / :func:`reach_all`: participants per eligible person-year by IMD quintile,
  ethnicity group, sex and age band, as Poisson rate ratios against a reference group.
- :func:`pathway`: referred -> started -> attended at least half the sessions -> completed ->
  baseline measure -> follow-up measure, overall and by IMD quintile or ethnicity group.
- :func:`outcomes_by_deprivation`: the matched DiD rate ratio and the wellbeing change by IMD
  quintile (adjacent quintiles pooled when numbers are small), with a heterogeneity test.
- :func:`referral_trends`: referrals per month by source and the wait from referral to start.

Eligibility, index dates and group definitions are the cohort layer's
(:mod:`evalkit.cohort.eligibility`, :func:`evalkit.cohort.build_cohort`); nothing here defines
a new eligibility rule. Counts are raw: disclosure control is applied by ``reporting``.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd

from evalkit import engine
from evalkit.analysis.study import Study
from evalkit.analysis.utilisation import (
    BASELINE,
    MatchedCohort,
    cohort_for,
    utilisation,
)
from evalkit.analysis.wellbeing import wellbeing_instruments, wellbeing_scores
from evalkit.cohort import Cohort
from evalkit.cohort.eligibility import (
    UNKNOWN_ETHNICITY,
    add_months,
    age_at,
    eligibility_checks,
    ethnicity_group_expr,
)
from evalkit.config import Programme, instruments
from evalkit.contract import SEXES
from evalkit.jsonsafe import json_safe
from evalkit.stats.prepost import prepost
from evalkit.stats.rates import HeterogeneityResult, Method, heterogeneity, rate_ratios

__all__ = [
    "AGE_BAND_STARTS",
    "GROUPS",
    "MIN_GROUP_EVENTS",
    "MIN_GROUP_PARTICIPANTS",
    "PATHWAY_STEPS",
    "POOLING_SCHEMES",
    "OutcomesByDeprivationResult",
    "PathwayResult",
    "ReachAllResult",
    "ReachResult",
    "ReferralTrendsResult",
    "age_bands",
    "main_instrument",
    "outcomes_by_deprivation",
    "pathway",
    "reach",
    "reach_all",
    "referral_trends",
]

#: Groups reach is reported by (data contract ``reach.group``).
GROUPS: tuple[str, ...] = ("imd_quintile", "ethnicity_group", "sex", "age_band")

#: Reporting order of the ONS five high-level ethnicity groups, then not stated / not known.
ETHNICITY_ORDER: tuple[str, ...] = ("White", "Mixed", "Asian", "Black", "Other", UNKNOWN_ETHNICITY)

#: Where age bands start after the programme's minimum age (the first band starts at
#: ``eligibility.age_min``; the last is open). Adults: the bands NHS England's population
#: health tables use (18-34, 35-49, 50-64, 65-74, 75+). Children and young people (a programme
#: whose ``age_max`` is under 18): school stages - primary (to 10), lower secondary (11-13),
#: GCSE years (14-15) and post-16 (16+).
AGE_BAND_STARTS: dict[str, tuple[int, ...]] = {
    "adult": (35, 50, 65, 75),
    "child": (11, 14, 16),
}

#: Pathway steps in order (data contract ``pathway.step``).
PATHWAY_STEPS: tuple[str, ...] = (
    "referred",
    "started",
    "attended_half",
    "completed",
    "baseline_measure",
    "followup_measure",
)

#: Groupings of IMD quintiles tried in order by :func:`outcomes_by_deprivation`: the first in
#: which every group has enough participants (and events) is used.
POOLING_SCHEMES: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((1,), (2,), (3,), (4,), (5,)),
    ((1, 2), (3,), (4, 5)),
    ((1, 2), (3, 4, 5)),
)
#: Fewest participants a group needs in :func:`outcomes_by_deprivation` (matched participants
#: for utilisation, paired questionnaires for wellbeing).
MIN_GROUP_PARTICIPANTS = 20
#: Fewest participant events a group needs in each of the baseline and follow-up windows for
#: its own rate ratio (a log rate from 10 events has an SE of about 0.3).
MIN_GROUP_EVENTS = 10

#: Okabe-Ito colour-blind-safe palette.
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

_GROUP_LABEL = {
    "imd_quintile": "IMD quintile",
    "ethnicity_group": "Ethnicity group",
    "sex": "Sex",
    "age_band": "Age band",
}


def _html(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def _cache(study: Study) -> dict[str, Any]:
    return study.__dict__.setdefault("_cache", {})


# --------------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------------
def age_bands(programme: Programme) -> tuple[tuple[int, ...], list[str]]:
    """Age band starts and labels for a programme, from :data:`AGE_BAND_STARTS`.

    Ages are the cohort layer's ``age``: index year minus year of birth, which may exceed the
    age on the index date by one (so a children's programme for 8-17 year olds sees ages up to
    18, all in the open top band).

    Parameters
    ----------
    programme : Programme

    Returns
    -------
    (tuple of int, list of str)
        Lower bounds of the bands and their labels (``"18-34"``, ..., ``"75+"``).

    Examples
    --------
    >>> from evalkit.config import load_programme
    >>> age_bands(load_programme("cyp"))[1]
    ['8-10', '11-13', '14-15', '16+']
    """
    e = programme.eligibility
    kind = "child" if e.age_max < 18 else "adult"
    starts = (e.age_min, *[s for s in AGE_BAND_STARTS[kind] if e.age_min < s <= e.age_max])
    labels = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(starts)]
    labels.append(f"{starts[-1]}+")
    return starts, labels


def _band(age: pd.Series, starts: Sequence[int], labels: list[str]) -> pd.Series:
    idx = np.searchsorted(np.asarray(starts), age.to_numpy(dtype=float), side="right") - 1
    idx = np.clip(idx, 0, len(labels) - 1)  # year-based age can sit one below age_min
    return pd.Series(np.asarray(labels, dtype=object)[idx], index=age.index)


def _level_order(group: str, levels: Sequence[str], programme: Programme) -> list[str]:
    levels = [str(x) for x in levels]
    if group == "imd_quintile":
        order = [str(k) for k in range(1, 6)]
    elif group == "ethnicity_group":
        order = list(ETHNICITY_ORDER)
    elif group == "sex":
        order = list(SEXES)
    else:
        order = age_bands(programme)[1]
    return [x for x in order if x in levels] + sorted(x for x in levels if x not in order)


def main_instrument(study: Study) -> str:
    """The programme's main instrument as scored: the first of its ``instruments`` list.

    An instrument whose items are reported separately (ONS4) is represented by its first
    item (``ons4_life_satisfaction``).
    """
    return wellbeing_instruments(study)[0]


# --------------------------------------------------------------------------------------------
# Reach
# --------------------------------------------------------------------------------------------
def _month_starts(lo: dt.date, hi: dt.date) -> list[dt.date]:
    out, y, m = [], lo.year, lo.month
    while (y, m) <= (hi.year, hi.month):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _referral_period(cohort: Cohort) -> tuple[dt.date, dt.date]:
    d = pd.to_datetime(cohort.participants["index_date"])
    lo = d.min().date().replace(day=1)
    last = d.max().date()
    nxt = dt.date(last.year + last.month // 12, last.month % 12 + 1, 1)
    return lo, nxt - dt.timedelta(days=1)


def _person_months(study: Study, cohort: Cohort, period: tuple[dt.date, dt.date]) -> pd.DataFrame:
    """Eligible person-months not yet referred, by IMD quintile, ethnicity, sex and age.

    One row per combination: ``imd_quintile``, ``ethnicity_group``, ``sex``, ``age``,
    ``person_months`` and ``first_referrals_in_month`` (person-months in which the person's
    first referral to the programme fell). Computed in the engine (cached on the study).
    """
    key = ("reach_person_months", period)
    cache = _cache(study)
    if key in cache:
        return cache[key]
    prog = study.programme
    pop, ref = study.tables["population"], study.tables["referrals"]
    months = pd.DataFrame({"month_start": pd.to_datetime(_month_starts(*period))})
    mt = ibis.memtable(months).cast({"month_start": "date"})
    r = ref.filter(ref.programme == prog.slug)
    first = r.group_by("person_id").aggregate(first_referral=r.referral_date.min())
    first = first.rename(ref_person_id="person_id")
    req = [c for c in prog.eligibility.conditions_any if c in pop.columns]
    last = period[1]
    maybe = pop.filter(ibis.or_(*[pop[c].notnull() & (pop[c] <= last) for c in req]))
    grid = maybe.cross_join(mt)
    checks = eligibility_checks(
        grid,
        grid.month_start,
        prog,
        data_start=cohort.data_start,
        history_months=int(cohort.spec["history_months"]),
    )
    grid = grid.filter(*checks.values())
    grid = grid.left_join(first, grid.person_id == first.ref_person_id)
    grid = grid.filter(grid.first_referral.isnull() | (grid.first_referral >= grid.month_start))
    in_month = grid.first_referral.notnull() & (
        grid.first_referral < add_months(grid.month_start, 1)
    )
    grid = grid.select(
        imd_quintile=((grid.imd_decile + 1) // 2).cast("int8"),
        ethnicity_group=ethnicity_group_expr(grid.ethnicity),
        sex=grid.sex,
        age=age_at(grid.year_of_birth, grid.month_start),
        in_month=in_month.cast("int32"),
    )
    agg = grid.group_by("imd_quintile", "ethnicity_group", "sex", "age").aggregate(
        person_months=grid.count(), first_referrals_in_month=grid.in_month.sum()
    )
    out = engine.to_pandas(study.con, agg)
    cache[key] = out
    return out


def _participants_at_index(cohort: Cohort, period: tuple[dt.date, dt.date]) -> pd.DataFrame:
    c = cohort.candidates
    p = c.loc[c["referred"] == 1, ["person_id", "index_date", "imd_quintile"]].copy()
    for col in ("ethnicity_group", "sex", "age"):
        p[col] = c.loc[p.index, col].astype(object if col != "age" else "int64")
    d = pd.to_datetime(p["index_date"])
    keep = (d >= pd.Timestamp(period[0])) & (d <= pd.Timestamp(period[1]))
    return p[keep]


@dataclass(frozen=True)
class ReachResult:
    """Participants per eligible person-year by the levels of one group, as rate ratios.

    Attributes
    ----------
    group : str
        ``imd_quintile``, ``ethnicity_group``, ``sex`` or ``age_band``.
    reference_level : str
        IMD quintile ``"5"`` (least deprived); otherwise the level with the most eligible
        person-time.
    table : pd.DataFrame
        ``tidy()``'s table.
    n_participants : int
        Participants counted (first referrals in the referral period, eligible at index).
    eligible_person_years : float
        Total eligible person-time not yet referred, in years.
    period_start, period_end : datetime.date
        The referral period (whole calendar months).
    method : str
        Rate-ratio CI method (see :func:`evalkit.stats.rates.rate_ratio`).
    spec : dict
    notes : tuple of str
    """

    group: str
    reference_level: str
    table: pd.DataFrame
    n_participants: int
    eligible_person_years: float
    period_start: dt.date
    period_end: dt.date
    method: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """One row per level.

        Columns: ``group``, ``level``, ``participants``, ``eligible_person_years``,
        ``rate_per_1000_person_years``, ``ratio_vs_reference``, ``reference_level``,
        ``ci_low``, ``ci_high``, ``std_error`` (log ratio), ``p_value``, ``is_reference``.
        """
        return self.table.copy()

    def entries(self) -> list[dict[str, Any]]:
        """The data contract's ``reach`` entries for this group (JSON-safe, raw counts).

        Each entry has exactly ``group``, ``level``, ``participants``,
        ``eligible_person_years``, ``ratio_vs_reference``, ``reference_level``, ``ci_low``,
        ``ci_high``; the reference level's ratio is 1 with ``ci_low`` and ``ci_high`` null.
        """
        keys = [
            "group",
            "level",
            "participants",
            "eligible_person_years",
            "ratio_vs_reference",
            "reference_level",
            "ci_low",
            "ci_high",
        ]
        return json_safe(self.table[keys].to_dict(orient="records"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``group``, ``reference_level``, ``method``, ``period``, ``entries``, notes."""
        return json_safe(
            {
                "group": self.group,
                "reference_level": self.reference_level,
                "method": self.method,
                "period": [self.period_start, self.period_end],
                "n_participants": self.n_participants,
                "eligible_person_years": self.eligible_person_years,
                "entries": self.entries(),
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )

    def summary(self) -> str:
        """Header, table and notes."""
        t = self.tidy().drop(columns=["group", "reference_level", "is_reference"])
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            table = t.to_string(index=False, float_format=lambda x: f"{x:.4g}")
        head = [
            f"Reach by {_GROUP_LABEL.get(self.group, self.group).lower()}: "
            f"{self.spec.get('programme', '')}",
            "Estimand: first referrals per eligible person-year, relative to "
            f"{self.group} {self.reference_level}",
            f"Model: Poisson rates; {self.method} 95% CI for the rate ratio",
            f"N: {self.n_participants} participants, {self.eligible_person_years:,.0f} eligible "
            f"person-years, {self.period_start} to {self.period_end}",
        ]
        return "\n".join([*head, "", table, "", *[f"- {n}" for n in self.notes]])

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _html(self.summary())

    def plot(self, ax: Any = None, *, table: pd.DataFrame | None = None) -> Any:
        """Rate ratio and 95% CI by level on a log scale, with a reference line at 1.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        table : pd.DataFrame, optional
            A disclosure-controlled copy of ``tidy()`` to draw instead (a suppressed count is
            shown as ``n=*``).

        Returns
        -------
        matplotlib.axes.Axes
        """
        return _forest(
            [(self.group, self.tidy() if table is None else table)],
            ax=ax,
            title=f"Reach by {_GROUP_LABEL.get(self.group, self.group).lower()}",
        )


def _log_axis(ax: Any) -> None:
    """Log-scale x axis with plain tick labels (0.5, 1, 2 rather than 5 x 10^-1)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(fmt)
    lo, hi = ax.get_xlim()
    if lo > 0 and hi / lo < 20:  # under about a decade: label the minor ticks too
        ax.xaxis.set_minor_formatter(fmt)
        ax.tick_params(axis="x", which="minor", labelsize="x-small")
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def _n_label(n: Any) -> str:
    """``n=12``, or ``n=*`` for a suppressed (missing) count."""
    try:
        return f"n={int(n)}"
    except (TypeError, ValueError):
        return "n=*"


def _num(v: Any) -> float:
    """A float, NaN for None or a suppressed value."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _forest(parts: list[tuple[str, pd.DataFrame]], ax: Any = None, title: str = "") -> Any:
    """Forest plot of ratio_vs_reference with CI; reference levels drawn hollow at 1."""
    import matplotlib.pyplot as plt

    n = sum(len(t) for _, t in parts)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.35 * n + 1.2))
    y, labels, ticks = 0, [], []
    for k, (group, t) in enumerate(parts):
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        for r in t.to_dict(orient="records"):
            ratio, lo, hi = (_num(r.get(c)) for c in ("ratio_vs_reference", "ci_low", "ci_high"))
            pre = f"{_GROUP_LABEL.get(group, group)}: " if len(parts) > 1 else ""
            labels.append(f"{pre}{r['level']} ({_n_label(r.get('participants'))})")
            ticks.append(-y)
            is_ref = r.get("is_reference", str(r["level"]) == str(r.get("reference_level")))
            if is_ref:
                ax.plot([1], [-y], marker="o", mfc="white", mec=colour, ls="none")
            elif np.isfinite(ratio) and ratio > 0:
                ax.plot([ratio], [-y], marker="s", color=colour, ls="none")
                lo_d = lo if np.isfinite(lo) and lo > 0 else ratio
                hi_d = hi if np.isfinite(hi) else ratio
                ax.hlines(-y, lo_d, hi_d, color=colour, lw=1.5)
            y += 1
        y += 0.5
    ax.axvline(1, color="#555555", ls="--", lw=1)
    _log_axis(ax)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels)
    ax.set_xlabel("Rate ratio vs reference group (log scale, 95% CI; hollow = reference)")
    if title:
        ax.set_title(title)
    return ax


def reach(
    study: Study,
    group: Literal["imd_quintile", "ethnicity_group", "sex", "age_band"] = "imd_quintile",
    *,
    reference: str | None = None,
    method: Method = "exact",
    period: tuple[dt.date, dt.date] | None = None,
    cohort: Cohort | None = None,
) -> ReachResult:
    """Participants per eligible person-year by the levels of a group, as Poisson rate ratios.

    Numerator: the programme's participants as the cohort layer defines them (each person's
    first referral, eligible at index), counted by their group at index. Denominator:
    eligible person-time at risk of a first referral during the referral period, in whole
    calendar months: a person contributes a month when they meet the programme's eligibility
    rules (:func:`evalkit.cohort.eligibility.eligibility_checks`, with the cohort's data start
    and history months) on its 1st and had not been referred to the programme before it (the
    month of their first referral counts, later months do not). Their group is measured on
    that 1st (age: the year's age, as at index). The referral period runs from the 1st of the
    month of the earliest first referral to the end of the month of the latest.

    Parameters
    ----------
    study : Study
    group : {"imd_quintile", "ethnicity_group", "sex", "age_band"}
        ``age_band`` uses :func:`age_bands` (children's bands for a programme under 18).
    reference : str, optional
        Reference level; default IMD quintile ``"5"`` (least deprived), otherwise the level
        with the most eligible person-time.
    method : {"exact", "wald-log"}
        Rate-ratio CI (default the exact conditional one; see
        :func:`evalkit.stats.rates.rate_ratio`).
    period : (date, date), optional
        Referral period (inclusive); default as above.
    cohort : Cohort, optional
        Default the study's cohort (:func:`evalkit.analysis.utilisation.cohort_for`).

    Returns
    -------
    ReachResult
    """
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, not {group!r}")
    prog = study.programme
    cohort = cohort or cohort_for(study)
    period = period or _referral_period(cohort)
    pm = _person_months(study, cohort, period).copy()
    parts = _participants_at_index(cohort, period)
    notes: list[str] = []
    if group == "age_band":
        starts, labels = age_bands(prog)
        pm["age_band"] = _band(pm["age"], starts, labels)
        parts["age_band"] = _band(parts["age"], starts, labels)
        notes.append(
            f"Age bands {', '.join(labels)} (age = year minus year of birth, as the cohort "
            "layer measures it)."
        )
    pm["level"] = pm[group].astype(str)
    parts["level"] = parts[group].astype(str)
    data = pd.concat(
        [
            pm.groupby("level")["person_months"].sum().div(12).rename("person_years"),
            parts.groupby("level").size().rename("participants"),
        ],
        axis=1,
    ).fillna(0)
    data = data.reset_index().rename(columns={"index": "level"})
    if reference is None:
        if group == "imd_quintile":
            reference = "5"
        else:
            reference = str(data.sort_values(["person_years", "level"]).iloc[-1]["level"])
            notes.append(f"Reference level: {reference}, the group with most eligible person-time.")
    else:
        reference = str(reference)
    if reference not in set(data["level"]):
        raise ValueError(f"reference level {reference!r} is not a level of {group}")
    rr = rate_ratios(
        data, "level", "participants", "person_years", reference=reference, method=method
    )
    order = _level_order(group, rr["level"].tolist(), prog)
    rr = rr.set_index("level").loc[order].reset_index()
    table = pd.DataFrame(
        {
            "group": group,
            "level": rr["level"].astype(str),
            "participants": rr["count"].astype("int64"),
            "eligible_person_years": rr["exposure"].astype(float),
            "rate_per_1000_person_years": 1000 * rr["rate"],
            "ratio_vs_reference": rr["ratio"],
            "reference_level": reference,
            "ci_low": rr["ci_low"],
            "ci_high": rr["ci_high"],
            "std_error": rr["std_error"],
            "p_value": rr["p_value"],
            "is_reference": rr["is_reference"].astype(bool),
        }
    )
    not_in_grid = len(parts) - int(pm["first_referrals_in_month"].sum())
    if not_in_grid > 0:
        notes.append(
            f"{not_in_grid} participant(s) were eligible at their referral date but not on the "
            "1st of that month (e.g. registered or diagnosed mid-month); they are counted as "
            "participants and contribute no person-time in that month."
        )
    if cohort.n_excluded:
        notes.append(
            f"{cohort.n_excluded} referred people not eligible at their index date (cohort "
            "layer) are not counted as participants."
        )
    if (table["eligible_person_years"] == 0).any():
        lv = table.loc[table["eligible_person_years"] == 0, "level"].tolist()
        notes.append(f"Levels with participants but no eligible person-time: {lv}.")
    zero = table.loc[(table["participants"] == 0) & ~table["is_reference"], "level"].tolist()
    if zero:
        notes.append(
            f"No participants in {', '.join(zero)}: ratio 0 with an exact upper limit only."
        )
    notes.append(
        "Person-time in whole calendar months: eligible on the 1st (age, condition, "
        "registration, history rules of the cohort layer) and not yet referred to the programme."
    )
    spec = {
        "programme": prog.slug,
        "group": group,
        "reference": reference,
        "method": method,
        "period": [period[0].isoformat(), period[1].isoformat()],
        "history_months": int(cohort.spec["history_months"]),
        "data_start": cohort.data_start.isoformat(),
    }
    return ReachResult(
        group=group,
        reference_level=reference,
        table=table,
        n_participants=int(table["participants"].sum()),
        eligible_person_years=float(table["eligible_person_years"].sum()),
        period_start=period[0],
        period_end=period[1],
        method=method,
        spec=spec,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class ReachAllResult:
    """Reach by every group (:data:`GROUPS`): one :class:`ReachResult` each."""

    results: dict[str, ReachResult]

    def __getitem__(self, group: str) -> ReachResult:
        return self.results[group]

    def tidy(self) -> pd.DataFrame:
        """Every group's ``tidy()`` stacked."""
        return pd.concat([r.tidy() for r in self.results.values()], ignore_index=True)

    def entries(self) -> list[dict[str, Any]]:
        """The whole ``reach`` list of results.json (data-contract entries, every group)."""
        return [e for r in self.results.values() for e in r.entries()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``reach`` (the entries) and ``by_group`` (each group's ``to_dict()``)."""
        return {
            "reach": self.entries(),
            "by_group": {g: r.to_dict() for g, r in self.results.items()},
        }

    def summary(self) -> str:
        """Each group's summary."""
        return "\n\n".join(r.summary() for r in self.results.values())

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _html(self.summary())

    def plot(self, ax: Any = None, *, table: pd.DataFrame | None = None) -> Any:
        """All groups in one forest plot (log scale, reference line at 1).

        ``table`` may be a disclosure-controlled copy of ``tidy()`` to draw instead.
        """
        t = self.tidy() if table is None else table
        parts = [(str(g), sub) for g, sub in t.groupby("group", sort=False)]
        return _forest(parts, ax=ax, title="Reach by group")


def reach_all(study: Study, *, method: Method = "exact") -> ReachAllResult:
    """Reach by IMD quintile, ethnicity group, sex and age band (see :func:`reach`)."""
    return ReachAllResult({g: reach(study, g, method=method) for g in GROUPS})


# --------------------------------------------------------------------------------------------
# Pathway
# --------------------------------------------------------------------------------------------
def _pathway_flags(study: Study) -> pd.DataFrame:
    """One row per index episode with a boolean column per step (own definition, not nested)."""
    ep = study.index_episodes
    inst = main_instrument(study)
    scores = wellbeing_scores(study)
    s = scores[(scores["instrument"] == inst) & scores["scorable"].astype(bool)]
    base = set(s.loc[s["timepoint"] == "baseline", "episode_id"])
    end = set(s.loc[s["timepoint"] == "end", "episode_id"])
    offered = ep["sessions_offered"].fillna(0)
    attended = ep["sessions_attended"].fillna(0)
    return pd.DataFrame(
        {
            "episode_id": ep["episode_id"],
            "imd_quintile": ep["imd_quintile"].astype("Int64").astype(str),
            "ethnicity_group": ep["ethnicity_group"].astype(str),
            "referred": True,
            "started": ep["start_date"].notna().to_numpy(),
            "attended_half": ((offered > 0) & (2 * attended >= offered)).to_numpy(),
            "completed": (ep["discharge_reason"] == "completed").fillna(False).to_numpy(),
            "baseline_measure": ep["episode_id"].isin(base).to_numpy(),
            "followup_measure": ep["episode_id"].isin(end).to_numpy(),
        }
    )


@dataclass(frozen=True)
class PathwayResult:
    """Counts of people at each pathway step, overall and by group.

    Attributes
    ----------
    table : pd.DataFrame
        ``tidy()``'s table.
    by : str or None
    nested : bool
        True: each step counts people who reached it *and every earlier step* (a funnel).
    instrument : str
        The main instrument behind the measure steps.
    spec : dict
    notes : tuple of str
    """

    table: pd.DataFrame
    by: str | None
    nested: bool
    instrument: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """One row per step and level.

        Columns: ``step``, ``group``, ``level``, ``n``, ``share_of_referred``,
        ``share_of_previous`` (n over the previous step's n).
        """
        return self.table.copy()

    def count(self, step: str, group: str = "all", level: str = "all") -> int:
        """The count at one step (overall by default)."""
        t = self.table
        row = t[(t["step"] == step) & (t["group"] == group) & (t["level"] == str(level))]
        return int(row["n"].iloc[0]) if len(row) else 0

    def entries(self) -> list[dict[str, Any]]:
        """The data contract's ``pathway`` entries: ``step``, ``group``, ``level``, ``n`` (raw)."""
        return json_safe(self.table[["step", "group", "level", "n"]].to_dict(orient="records"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``pathway`` (the entries), ``nested``, ``instrument``, ``notes``."""
        return json_safe(
            {
                "pathway": self.entries(),
                "nested": self.nested,
                "instrument": self.instrument,
                "by": self.by,
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )

    def summary(self) -> str:
        """Steps as rows, levels as columns (counts), then notes."""
        wide = self.table.pivot_table(
            index="step", columns=["group", "level"], values="n", aggfunc="sum", sort=False
        ).reindex(list(PATHWAY_STEPS))
        with pd.option_context("display.width", 140, "display.max_columns", 30):
            table = wide.to_string()
        head = [
            f"Pathway: {self.spec.get('programme', '')}" + (f" by {self.by}" if self.by else ""),
            "Counts of people (first referrals) at each step"
            + (", each step requiring the earlier ones" if self.nested else ""),
            f"Measure steps: {self.instrument}",
        ]
        return "\n".join([*head, "", table, "", *[f"- {n}" for n in self.notes]])

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _html(self.summary())

    def plot(self, ax: Any = None, *, table: pd.DataFrame | None = None) -> Any:
        """Step plot of the share of referred people retained at each step, one line per level.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        table : pd.DataFrame, optional
            A disclosure-controlled copy of ``tidy()`` (``step``, ``group``, ``level``, ``n``)
            to draw instead; shares are recomputed from its counts, a suppressed count leaves
            a gap.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        src = self.table if table is None else table
        x = np.arange(len(PATHWAY_STEPS))
        levels = src[["group", "level"]].drop_duplicates().itertuples(index=False)
        markers = "osD^v<>p"
        for k, (g, lvl) in enumerate(levels):
            t = src[(src["group"] == g) & (src["level"] == lvl)]
            t = t.set_index("step").reindex(list(PATHWAY_STEPS))
            overall = g == "all"
            counts = pd.to_numeric(t["n"], errors="coerce").astype(float)
            n0 = counts.iloc[0]
            share = counts / n0 if n0 and np.isfinite(n0) else counts * np.nan
            prefix = "" if overall else ("IMD " if g == "imd_quintile" else "")
            ax.step(
                x,
                share,
                where="mid",
                color="#000000" if overall else OKABE_ITO[k % len(OKABE_ITO)],
                lw=2.5 if overall else 1.3,
                marker=markers[k % len(markers)],
                label=f"{'all' if overall else prefix + str(lvl)} ({_n_label(n0)})",
            )
        ax.set_xticks(x)
        ax.set_xticklabels([s.replace("_", " ") for s in PATHWAY_STEPS], rotation=20, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("Share of referred people")
        ax.set_title("Pathway" + (f" by {self.by.replace('_', ' ')}" if self.by else ""))
        ax.legend(fontsize="small", frameon=False)
        return ax


def pathway(
    study: Study,
    by: Literal["imd_quintile", "ethnicity_group"] | None = None,
    *,
    nested: bool = True,
) -> PathwayResult:
    """People at each step of the pathway, overall and (optionally) by IMD quintile or ethnicity.

    One person = one index episode (each person's first referral to the programme, as in the
    wellbeing section). Step definitions (the referrals columns of the data contract):

    ``referred``
        Every first referral.
    ``started``
        ``start_date`` recorded (the contract's "first session attended").
    ``attended_half``
        ``sessions_attended >= sessions_offered / 2`` with ``sessions_offered > 0``.
    ``completed``
        ``discharge_reason == "completed"``.
    ``baseline_measure``
        A scorable ``baseline`` questionnaire of the main instrument (:func:`main_instrument`:
        the first in the programme's ``instruments``), scored by evalkit's scoring under the
        instrument's missing-item rule.
    ``followup_measure``
        A scorable ``end`` questionnaire of the main instrument.

    With ``nested=True`` (default) each step also requires every earlier step, so the counts
    form a funnel and show where people are lost; ``followup_measure`` then counts completers
    with both questionnaires, fewer than the wellbeing section's ``n_paired`` (which counts
    every starter with both). ``nested=False`` counts each step on its own definition.

    Parameters
    ----------
    study : Study
    by : {"imd_quintile", "ethnicity_group"}, optional
        Also count by the levels of this group (group at the index referral).
    nested : bool

    Returns
    -------
    PathwayResult
        Rows for ``group == "all"`` (``level == "all"``) and, with ``by``, for each level.
    """
    if by not in (None, "imd_quintile", "ethnicity_group"):
        raise ValueError("by must be None, 'imd_quintile' or 'ethnicity_group'")
    flags = _pathway_flags(study)
    if nested:
        for prev, step in itertools.pairwise(PATHWAY_STEPS):
            flags[step] = flags[step] & flags[prev]
    steps = list(PATHWAY_STEPS)
    rows = []

    def add(group: str, level: str, sub: pd.DataFrame) -> None:
        counts = sub[steps].sum().astype("int64")
        n0 = int(counts["referred"])
        prev = n0
        for step in steps:
            n = int(counts[step])
            rows.append(
                {
                    "step": step,
                    "group": group,
                    "level": level,
                    "n": n,
                    "share_of_referred": n / n0 if n0 else math.nan,
                    "share_of_previous": n / prev if prev else math.nan,
                }
            )
            prev = n

    add("all", "all", flags)
    notes: list[str] = []
    if by is not None:
        order = _level_order(by, flags[by].unique().tolist(), study.programme)
        for lvl in order:
            add(by, lvl, flags[flags[by] == lvl])
        if by == "imd_quintile" and "<NA>" in order:
            notes.append("Level <NA>: referred people not found in the population table.")
    inst = main_instrument(study)
    notes.append(
        f"Measure steps use {inst}, the programme's main instrument; a questionnaire counts when "
        "it is scorable under the instrument's missing-item rule."
    )
    if nested:
        notes.append("Each step counts people who also reached every earlier step.")
    miss = int(((flags["completed"] | flags["attended_half"]) & ~flags["started"]).sum())
    if not nested and miss:
        notes.append(f"{miss} episode(s) attended or completed without a start date.")
    spec = {"programme": study.programme.slug, "by": by, "nested": nested, "instrument": inst}
    return PathwayResult(pd.DataFrame(rows), by, nested, inst, spec, tuple(notes))


# --------------------------------------------------------------------------------------------
# Outcomes by deprivation
# --------------------------------------------------------------------------------------------
def _label(quintiles: Sequence[int]) -> str:
    q = list(quintiles)
    return str(q[0]) if len(q) == 1 else f"{q[0]}-{q[-1]}"


def _choose_scheme(
    counts: pd.DataFrame, checks: Sequence[tuple[str, int]]
) -> tuple[tuple[tuple[int, ...], ...] | None, str]:
    """First pooling scheme in which every group meets every (column, minimum) check."""
    for scheme in POOLING_SCHEMES:
        ok = True
        for grp in scheme:
            tot = counts.reindex(list(grp)).fillna(0).sum()
            if any(tot[col] < need for col, need in checks):
                ok = False
                break
        if ok:
            return scheme, " | ".join(_label(g) for g in scheme)
    return None, "all"


@dataclass(frozen=True)
class OutcomesByDeprivationResult:
    """Utilisation effect and wellbeing change by IMD quintile group, with heterogeneity tests.

    Attributes
    ----------
    table : pd.DataFrame
        ``tidy()``'s table: one row per outcome and group.
    heterogeneity : dict of str to HeterogeneityResult
        Cochran's Q across the groups of each outcome (log scale for rate ratios).
    window_months : int
    instrument : str
    spec : dict
    notes : tuple of str
    """

    table: pd.DataFrame
    heterogeneity: dict[str, HeterogeneityResult]
    window_months: int
    instrument: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """One row per outcome and IMD group.

        Columns: ``outcome``, ``method`` (``matched_did`` / ``prepost``), ``scale``
        (``rate_ratio`` / ``mean_change``), ``grouping`` (e.g. ``"1-2 | 3 | 4-5"``), ``level``
        (e.g. ``"1-2"``), ``imd_quintiles``, ``n_participants``, ``n_controls``,
        ``events_baseline``, ``events_followup`` (participants' events; utilisation),
        ``estimate``, ``std_error`` (log scale for rate ratios), ``ci_low``, ``ci_high``,
        ``p_value``.
        """
        return self.table.copy()

    def heterogeneity_table(self) -> pd.DataFrame:
        """One row per outcome: ``outcome``, ``q``, ``df``, ``p_value``, ``i2``, ``k``."""
        rows = [
            {
                "outcome": o,
                "scale": h.scale,
                "q": h.q,
                "df": h.df,
                "p_value": h.p_value,
                "i2": h.i2,
                "k": h.k,
            }
            for o, h in self.heterogeneity.items()
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the whole result.

        Keys: ``by``, ``window_months``, ``instrument``, ``entries`` (the tidy rows),
        ``heterogeneity`` (per outcome), ``spec``, ``notes``.
        """
        return json_safe(
            {
                "by": "imd_quintile",
                "window_months": self.window_months,
                "instrument": self.instrument,
                "entries": self.table.to_dict(orient="records"),
                "heterogeneity": {o: h.to_dict() for o, h in self.heterogeneity.items()},
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )

    def summary(self) -> str:
        """Header, estimates by group, heterogeneity tests, notes."""
        cols = [
            "outcome",
            "scale",
            "level",
            "n_participants",
            "estimate",
            "ci_low",
            "ci_high",
        ]
        with pd.option_context("display.width", 140, "display.max_columns", 20):
            table = self.table[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}")
            het = self.heterogeneity_table().to_string(
                index=False, float_format=lambda x: f"{x:.4g}"
            )
        head = [
            f"Outcomes by deprivation (IMD quintile of the participant): "
            f"{self.spec.get('programme', '')}",
            f"Utilisation: matched DiD rate ratio, {self.window_months} months after referral vs "
            "12 before, matched sets kept whole; wellbeing: paired mean change of "
            f"{self.instrument} (not an effect: no control group)",
            "Heterogeneity: Cochran's Q across groups (chi-square, k - 1 df)",
        ]
        return "\n".join([*head, "", table, "", het, "", *[f"- {n}" for n in self.notes]])

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _html(self.summary())

    def plot(self, outcome: str | None = None, ax: Any = None) -> Any:
        """Estimate with 95% CI by IMD group for one outcome (default the first).

        Rate ratios on a log scale with a line at 1; mean changes with a line at 0.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if self.table.empty:
            raise ValueError("no estimates by deprivation to plot (see notes)")
        outcome = outcome or str(self.table["outcome"].iloc[0])
        t = self.table[self.table["outcome"] == outcome]
        if t.empty:
            raise ValueError(f"no rows for outcome {outcome!r}")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.45 * len(t) + 1.5))
        is_rr = t["scale"].iloc[0] == "rate_ratio"
        y = -np.arange(len(t))
        for i, r in enumerate(t.itertuples(index=False)):
            colour = OKABE_ITO[i % len(OKABE_ITO)]
            if np.isfinite(r.estimate):
                ax.plot([r.estimate], [y[i]], marker="s", color=colour, ls="none")
                ax.hlines(y[i], r.ci_low, r.ci_high, color=colour, lw=1.5)
        ax.axvline(1 if is_rr else 0, color="#555555", ls="--", lw=1)
        if is_rr:
            _log_axis(ax)
        ax.set_yticks(y)
        ax.set_yticklabels(
            [f"IMD {r.level} ({_n_label(r.n_participants)})" for r in t.itertuples()]
        )
        h = self.heterogeneity.get(outcome)
        sub = f"; heterogeneity p = {h.p_value:.2g}" if h is not None and h.k >= 2 else ""
        ax.set_xlabel(("Rate ratio (log scale)" if is_rr else "Mean change") + ", 95% CI")
        ax.set_title(f"{outcome.replace('_', ' ')} by IMD quintile group{sub}")
        return ax


def _participant_quintile(mc: MatchedCohort) -> pd.Series:
    """IMD quintile at index of each matched participant row (indexed by ``unit``)."""
    units = mc.panel.loc[mc.panel["referred"] == 1, "unit"].unique()
    q = mc.cohort.candidates.loc[units, "imd_quintile"]
    return pd.Series(q.to_numpy(dtype=np.int64), index=units)


def _utilisation_by_group(
    mc: MatchedCohort,
    setting: str,
    months: int,
    min_participants: int,
    min_events: int,
) -> tuple[list[dict[str, Any]], list[str]]:
    quint = _participant_quintile(mc)
    panel = mc.panel
    em = panel["event_month"]
    win = (((em >= BASELINE[0]) & (em <= BASELINE[1])) | ((em >= 0) & (em < months))) & (
        panel["exposure"] > 0
    )
    part = panel[win & (panel["referred"] == 1)]
    ev = part.groupby(["unit", "post"])[setting].sum().unstack(fill_value=0)
    ev = ev.reindex(columns=[0, 1], fill_value=0)
    per_q = pd.DataFrame(
        {
            "n": quint.groupby(quint).size(),
            "events_baseline": ev[0].groupby(quint.reindex(ev.index)).sum(),
            "events_followup": ev[1].groupby(quint.reindex(ev.index)).sum(),
        }
    ).fillna(0)
    scheme, label = _choose_scheme(
        per_q,
        [
            ("n", min_participants),
            ("events_baseline", min_events),
            ("events_followup", min_events),
        ],
    )
    notes: list[str] = []
    if scheme is None:
        notes.append(
            f"{setting}: no grouping of IMD quintiles gives every group {min_participants} "
            f"matched participants and {min_events} participant events before and after; "
            "no estimates by deprivation."
        )
        return [], notes
    if scheme is not POOLING_SCHEMES[0]:
        notes.append(f"{setting}: IMD quintiles pooled as {label} (small numbers).")
    subclass = panel.loc[panel["referred"] == 1, ["unit", "subclass"]].drop_duplicates()
    rows = []
    for grp in scheme:
        units = quint.index[quint.isin(grp)]
        sets = set(subclass.loc[subclass["unit"].isin(units), "subclass"])
        sub_panel = panel[panel["subclass"].isin(sets)]
        sub = replace(
            mc,
            panel=sub_panel,
            naive=mc.naive[mc.naive["unit"].isin(units)],
        )
        res = utilisation(sub, setting, months)
        tot = per_q.reindex(list(grp)).fillna(0).sum()
        row = {
            "outcome": setting,
            "method": "matched_did",
            "scale": "rate_ratio",
            "grouping": label,
            "level": _label(grp),
            "imd_quintiles": ",".join(map(str, grp)),
            "n_participants": sub.n_participants,
            "n_controls": sub.n_controls,
            "events_baseline": int(tot["events_baseline"]),
            "events_followup": int(tot["events_followup"]),
            "estimate": math.nan,
            "std_error": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "p_value": math.nan,
        }
        if res.poisson is not None:
            p = res.poisson
            row.update(
                estimate=p.estimate,
                std_error=p.std_error,
                ci_low=p.ci_low,
                ci_high=p.ci_high,
                p_value=p.p_value,
            )
        else:
            notes.extend(res.notes)
        rows.append(row)
    return rows, notes


def _wellbeing_by_group(
    study: Study, instrument: str, min_participants: int
) -> tuple[list[dict[str, Any]], list[str]]:
    scores = wellbeing_scores(study)
    scores = scores[scores["instrument"] == instrument].copy()
    notes: list[str] = []
    if scores.empty:
        return [], [f"{instrument}: no questionnaires."]
    scores["imd_quintile"] = scores["imd_quintile"].astype("Int64")
    defs = instruments()
    base = prepost(scores, instrument, definitions=defs, by="imd_quintile")
    bg = base.by_group.copy()
    bg["level"] = pd.to_numeric(bg["level"], errors="coerce")
    bg = bg.dropna(subset=["level"])
    per_q = bg.set_index(bg["level"].astype(int))[["n_paired"]]
    scheme, label = _choose_scheme(per_q, [("n_paired", min_participants)])
    if scheme is None:
        notes.append(
            f"{instrument}: no grouping of IMD quintiles gives every group {min_participants} "
            "paired questionnaires; no estimates by deprivation."
        )
        return [], notes
    if scheme is not POOLING_SCHEMES[0]:
        notes.append(f"{instrument}: IMD quintiles pooled as {label} (small numbers).")
    lookup = {q: _label(g) for g in scheme for q in g}
    scores["imd_group"] = scores["imd_quintile"].map(lookup)
    res = prepost(scores, instrument, definitions=defs, by="imd_group")
    by = res.by_group.set_index(res.by_group["level"].astype(str))
    rows = []
    for grp in scheme:
        lvl = _label(grp)
        r = by.loc[lvl] if lvl in by.index else None
        rows.append(
            {
                "outcome": instrument,
                "method": "prepost",
                "scale": "mean_change",
                "grouping": label,
                "level": lvl,
                "imd_quintiles": ",".join(map(str, grp)),
                "n_participants": int(r["n_paired"]) if r is not None else 0,
                "n_controls": 0,
                "events_baseline": None,
                "events_followup": None,
                "estimate": float(r["mean_change"]) if r is not None else math.nan,
                "std_error": float(r["std_error"]) if r is not None else math.nan,
                "ci_low": float(r["ci_low"]) if r is not None else math.nan,
                "ci_high": float(r["ci_high"]) if r is not None else math.nan,
                "p_value": float(r["p_value"]) if r is not None else math.nan,
            }
        )
    return rows, notes


def outcomes_by_deprivation(
    study: Study,
    mc: MatchedCohort,
    *,
    settings: Sequence[str] = ("emergency_admission", "gp_appointment"),
    months: int = 6,
    instrument: str | None = None,
    min_participants: int = MIN_GROUP_PARTICIPANTS,
    min_events: int = MIN_GROUP_EVENTS,
) -> OutcomesByDeprivationResult:
    """Utilisation effect and wellbeing change by the participant's IMD quintile.

    Utilisation: the matched DiD rate ratio (:func:`evalkit.analysis.utilisation.utilisation`,
    fixed-effects Poisson, clustered as the main analysis) on the part of the matched panel whose
    participant is in the group, keeping whole matched sets (a participant with their
    controls). Wellbeing: the paired mean change of the main instrument (baseline to end) among
    the group's participants (:func:`evalkit.stats.prepost.prepost`).

    Pooling. Groups are the five quintiles when each has at least ``min_participants``
    participants (matched participants, or paired questionnaires for wellbeing) and, for a
    rate ratio, at least ``min_events`` participant events in both the 12 months before and
    the window after referral; otherwise quintiles 1-2, 3 and 4-5; otherwise 1-2 and 3-5
    (:data:`POOLING_SCHEMES`). The choice is made per outcome and stated in the notes; with no
    adequate grouping the outcome has no estimates by deprivation.

    Heterogeneity: Cochran's Q across the groups (log rate ratios with their SEs; mean changes
    with theirs), valid because the groups hold disjoint participants and matched sets
    (:func:`evalkit.stats.rates.heterogeneity`).

    Parameters
    ----------
    study : Study
    mc : MatchedCohort
        From :func:`evalkit.analysis.utilisation.matched_cohort`.
    settings : sequence of str
        Utilisation settings (default emergency admissions and GP appointments).
    months : int
        Window after referral (default 6).
    instrument : str, optional
        Wellbeing measure; default :func:`main_instrument`.
    min_participants, min_events : int
        Pooling thresholds (defaults :data:`MIN_GROUP_PARTICIPANTS`,
        :data:`MIN_GROUP_EVENTS`).

    Returns
    -------
    OutcomesByDeprivationResult
    """
    instrument = instrument or main_instrument(study)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    het: dict[str, HeterogeneityResult] = {}
    for setting in settings:
        r, n = _utilisation_by_group(mc, setting, months, min_participants, min_events)
        rows += r
        notes += n
        if r:
            het[setting] = heterogeneity(
                [x["estimate"] for x in r],
                [x["std_error"] for x in r],
                scale="log",
                labels=[x["level"] for x in r],
            )
    r, n = _wellbeing_by_group(study, instrument, min_participants)
    rows += r
    notes += n
    if r:
        het[instrument] = heterogeneity(
            [x["estimate"] for x in r],
            [x["std_error"] for x in r],
            labels=[x["level"] for x in r],
        )
    notes.append(
        f"Pooling thresholds: {min_participants} participants per group; for rate ratios also "
        f"{min_events} participant events before and after referral."
    )
    notes.append(
        "The wellbeing change has no control group: it is a change, not an effect estimate."
    )
    spec = {
        "programme": study.programme.slug,
        "settings": list(settings),
        "window_months": months,
        "instrument": instrument,
        "min_participants": min_participants,
        "min_events": min_events,
        "pooling_schemes": [[list(g) for g in s] for s in POOLING_SCHEMES],
        "matching": mc.spec,
    }
    columns = [
        "outcome",
        "method",
        "scale",
        "grouping",
        "level",
        "imd_quintiles",
        "n_participants",
        "n_controls",
        "events_baseline",
        "events_followup",
        "estimate",
        "std_error",
        "ci_low",
        "ci_high",
        "p_value",
    ]
    table = pd.DataFrame(rows, columns=columns)
    return OutcomesByDeprivationResult(table, het, months, instrument, spec, tuple(notes))


# --------------------------------------------------------------------------------------------
# Referral trends
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReferralTrendsResult:
    """Referrals per month by source and the wait from referral to start.

    Attributes
    ----------
    referrals : pd.DataFrame
        ``month`` (``YYYY-MM``), ``referral_source``, ``n``: every calendar month from the first
        to the last referral, zero-filled.
    waiting : pd.DataFrame
        ``period``, ``n_started``, ``median_days``, ``q1_days``, ``q3_days`` per month or
        quarter of referral, and a final ``period == "all"`` row.
    freq : {"month", "quarter"}
    spec : dict
    notes : tuple of str
    """

    referrals: pd.DataFrame
    waiting: pd.DataFrame
    freq: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def median_wait_days(self) -> float:
        """Median days from referral to start over the whole period."""
        return float(self.waiting.loc[self.waiting["period"] == "all", "median_days"].iloc[0])

    def tidy(self, kind: Literal["referrals", "waiting"] = "referrals") -> pd.DataFrame:
        """The referrals table (default) or the waiting-time table."""
        if kind == "referrals":
            return self.referrals.copy()
        if kind == "waiting":
            return self.waiting.copy()
        raise ValueError("kind must be 'referrals' or 'waiting'")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``referrals_by_month`` and ``waiting_times`` rows, ``freq``, notes."""
        return json_safe(
            {
                "referrals_by_month": self.referrals.to_dict(orient="records"),
                "waiting_times": self.waiting.to_dict(orient="records"),
                "waiting_freq": self.freq,
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )

    def summary(self) -> str:
        """Referrals per source and year, waiting times, notes."""
        r = self.referrals.assign(year=self.referrals["month"].str[:4])
        by_year = r.pivot_table(
            index="year", columns="referral_source", values="n", aggfunc="sum", fill_value=0
        )
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            t1 = by_year.to_string()
            t2 = self.waiting.to_string(index=False, float_format=lambda x: f"{x:.4g}")
        head = [
            f"Referral trends: {self.spec.get('programme', '')}",
            f"Referrals (every episode, including re-referrals): {int(r['n'].sum())}",
            f"Wait from referral to start, days, by {self.freq} of referral (median, IQR)",
        ]
        return "\n".join(
            [
                *head,
                "",
                "Referrals by year and source",
                t1,
                "",
                t2,
                "",
                *[f"- {n}" for n in self.notes],
            ]
        )

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _html(self.summary())

    def plot(self, kind: Literal["referrals", "waiting"] = "referrals", ax: Any = None) -> Any:
        """Stacked bars of referrals per month by source, or the median wait with its IQR.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 3.8))
        if kind == "referrals":
            wide = self.referrals.pivot_table(
                index="month", columns="referral_source", values="n", fill_value=0, sort=True
            )
            x = np.arange(len(wide))
            bottom = np.zeros(len(wide))
            for k, src in enumerate(wide.columns):
                ax.bar(
                    x,
                    wide[src],
                    bottom=bottom,
                    color=OKABE_ITO[k % len(OKABE_ITO)],
                    label=src.replace("_", " "),
                )
                bottom += wide[src].to_numpy()
            step = max(1, len(wide) // 12)
            ax.set_xticks(x[::step])
            ax.set_xticklabels(wide.index[::step], rotation=45, ha="right")
            ax.set_ylabel("Referrals per month")
            ax.set_title("Referrals by month and source")
            ax.legend(fontsize="small", frameon=False)
        elif kind == "waiting":
            w = self.waiting[self.waiting["period"] != "all"]
            x = np.arange(len(w))
            ax.fill_between(
                x, w["q1_days"], w["q3_days"], color=OKABE_ITO[5], alpha=0.4, label="IQR"
            )
            ax.plot(x, w["median_days"], color=OKABE_ITO[0], marker="o", label="median")
            step = max(1, len(w) // 12)
            ax.set_xticks(x[::step])
            ax.set_xticklabels(w["period"].iloc[::step], rotation=45, ha="right")
            ax.set_ylabel("Days from referral to start")
            ax.set_title(f"Wait to start by {self.freq} of referral")
            ax.legend(fontsize="small", frameon=False)
        else:
            raise ValueError("kind must be 'referrals' or 'waiting'")
        return ax


def referral_trends(
    study: Study, *, freq: Literal["month", "quarter", "year"] = "quarter"
) -> ReferralTrendsResult:
    """Referrals per calendar month by referral source, and waiting time to start.

    Counts every referral episode to the programme (re-referrals too: this is demand on the
    service). The wait is ``start_date - referral_date`` in days for episodes that started,
    summarised by month or quarter of referral (median and quartiles, numpy's default linear
    interpolation), and over the whole period.

    Parameters
    ----------
    study : Study
    freq : {"month", "quarter", "year"}
        Period of the waiting-time table (default quarter: a month holds few starters).

    Returns
    -------
    ReferralTrendsResult
    """
    if freq not in ("month", "quarter", "year"):
        raise ValueError("freq must be 'month', 'quarter' or 'year'")
    ref = study.referrals.copy()
    notes: list[str] = []
    rd = pd.to_datetime(ref["referral_date"])
    ref["month"] = rd.dt.to_period("M")
    if ref.empty:
        raise ValueError(f"no referrals to {study.programme.slug}")
    months = pd.period_range(ref["month"].min(), ref["month"].max(), freq="M")
    sources = sorted(ref["referral_source"].astype(str).unique())
    counts = ref.groupby(["month", "referral_source"]).size()
    full = pd.MultiIndex.from_product([months, sources], names=["month", "referral_source"])
    counts = counts.reindex(full, fill_value=0).rename("n").reset_index()
    counts["month"] = counts["month"].astype(str)
    counts["n"] = counts["n"].astype("int64")

    started = ref[ref["start_date"].notna()].copy()
    started["wait_days"] = (
        pd.to_datetime(started["start_date"]) - pd.to_datetime(started["referral_date"])
    ).dt.days
    negative = int((started["wait_days"] < 0).sum())
    if negative:
        notes.append(f"{negative} episode(s) with a start before the referral left out.")
        started = started[started["wait_days"] >= 0]
    p = pd.to_datetime(started["referral_date"]).dt.to_period(
        {"month": "M", "quarter": "Q", "year": "Y"}[freq]
    )
    started["period"] = p.astype(str)

    def summarise(x: pd.Series) -> pd.Series:
        q = np.percentile(x, [25, 50, 75]) if len(x) else [math.nan] * 3
        return pd.Series(
            {"n_started": len(x), "median_days": q[1], "q1_days": q[0], "q3_days": q[2]}
        )

    wait = started.groupby("period")["wait_days"].apply(summarise).unstack().reset_index()
    overall = summarise(started["wait_days"]).to_frame().T.assign(period="all")
    wait = pd.concat([wait, overall], ignore_index=True)
    wait = wait[["period", "n_started", "median_days", "q1_days", "q3_days"]]
    wait["n_started"] = wait["n_started"].astype("int64")
    notes.append(
        f"{len(ref)} referral episodes ({ref['person_id'].nunique()} people); "
        f"{len(started)} started."
    )
    spec = {"programme": study.programme.slug, "freq": freq}
    return ReferralTrendsResult(counts, wait, freq, spec, tuple(notes))
