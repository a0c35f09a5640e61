"""Reach: participants per eligible person-year by group, as Poisson rate ratios.

The numerator is the cohort layer's participants (each person's first referral, eligible at
index); the denominator is the eligible population's person-time at risk of a first referral,
counted month by month in the engine with the cohort layer's eligibility rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import pandas as pd

from evalkit import engine
from evalkit.analysis.equity.groups import (
    GROUP_LABEL,
    GROUPS,
    age_band,
    age_bands,
    level_order,
)
from evalkit.analysis.equity.text import n_label, summary_text
from evalkit.analysis.study import Study
from evalkit.analysis.utilisation import cohort_for
from evalkit.cohort import Cohort
from evalkit.cohort.eligibility import age_at, eligibility_checks, ethnicity_group_expr
from evalkit.config import Programme
from evalkit.contract import imd_quintile
from evalkit.dates import add_months, add_months_expr, month_index
from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.rates import Method, rate_ratios
from evalkit.stats.result import Result

__all__ = [
    "REPORT_GROUPS",
    "ReachAllResult",
    "ReachResult",
    "reach",
    "reach_all",
    "reach_figure_table",
]

#: Groups of the report's reach figure (:meth:`ReachAllResult.plot`'s ``groups``).
REPORT_GROUPS: tuple[str, ...] = ("imd_quintile", "ethnicity_group")

#: Keys of a data-contract ``reach`` entry, in order.
ENTRY_KEYS: tuple[str, ...] = (
    "group",
    "level",
    "participants",
    "eligible_person_years",
    "ratio_vs_reference",
    "reference_level",
    "ci_low",
    "ci_high",
)


# --------------------------------------------------------------------------------------------
# Eligible person-time and participants
# --------------------------------------------------------------------------------------------
def _cache(study: Study) -> dict[str, Any]:
    return study.__dict__.setdefault("_cache", {})


def _month_starts(lo: dt.date, hi: dt.date) -> list[dt.date]:
    """The 1st of every calendar month from ``lo``'s month to ``hi``'s, inclusive."""
    first = lo.replace(day=1)
    return [add_months(first, k) for k in range(month_index(hi) - month_index(first) + 1)]


def _referral_period(cohort: Cohort) -> tuple[dt.date, dt.date]:
    d = pd.to_datetime(cohort.participants["index_date"])
    lo = d.min().date().replace(day=1)
    nxt = add_months(d.max().date().replace(day=1), 1)
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
        grid.first_referral < add_months_expr(grid.month_start, 1)
    )
    grid = grid.select(
        imd_quintile=imd_quintile(grid.imd_decile).cast("int8"),
        ethnicity_group=ethnicity_group_expr(grid.ethnicity),
        sex=grid.sex,
        age=age_at(grid.year_of_birth, grid.month_start),
        in_month=in_month.ifelse(1, 0).cast("int32"),  # portable bool -> 0/1
    )
    agg = grid.group_by("imd_quintile", "ethnicity_group", "sex", "age").aggregate(
        person_months=grid.count(), first_referrals_in_month=grid.in_month.sum()
    )
    out = engine.to_pandas(study.con, agg, stage="equity")
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


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
def _group_name(group: str) -> str:
    return GROUP_LABEL.get(group, group)


#: Axis label of every reach figure.
REACH_XLABEL = (
    "Rate ratio vs reference group (log scale, 95% CI): referrals per eligible person-year"
)


def reach_figure_table(table: pd.DataFrame, groups: Sequence[str] | None = None) -> pd.DataFrame:
    """A reach table as :func:`evalkit.stats.plots.forest` draws it: ``label``, ``estimate``.

    Parameters
    ----------
    table : pd.DataFrame
        Reach rows (``tidy()`` or a disclosure-controlled copy, e.g. the report's ``reach``
        table): ``group``, ``level``, ``participants``, ``ratio_vs_reference``, ``ci_low``,
        ``ci_high``.
    groups : sequence of str, optional
        Keep only these groups (default every group in ``table``).

    Returns
    -------
    pd.DataFrame
        The rows with ``label`` (the level with its count, ``n=*`` when suppressed, after the
        group's name when more than one group is shown) and ``estimate``; suppressed values
        are NaN, so those rows (and the reference levels, which have no interval) are not
        drawn.
    """
    t = table if groups is None else table[table["group"].isin(list(groups))]
    t = t.copy()
    for col in ("ratio_vs_reference", "ci_low", "ci_high"):
        t[col] = pd.to_numeric(t[col], errors="coerce")
    prefix = t["group"].nunique() > 1
    pre = t["group"].map(lambda g: f"{_group_name(str(g))}: ") if prefix else ""
    t["label"] = pre + t["level"].astype(str) + " (" + t["participants"].map(n_label) + ")"
    return t.rename(columns={"ratio_vs_reference": "estimate"})


def _plot_forest(table: pd.DataFrame, ax: Any, title: str) -> Any:
    return plots.forest(table, label_col="label", ax=ax, title=title, xlabel=REACH_XLABEL)


@dataclass(frozen=True, repr=False)
class ReachResult(Result):
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

    analysis = "reach"

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
        return json_safe(self.table[list(ENTRY_KEYS)].to_dict(orient="records"))

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

    def summary_header(self) -> list[str]:
        """Group and programme, estimand, model, and the numbers behind it."""
        return [
            f"Reach by {_group_name(self.group).lower()}: {self.spec.get('programme', '')}",
            "Estimand: first referrals per eligible person-year, relative to "
            f"{self.group} {self.reference_level}",
            f"Model: Poisson rates; {self.method} 95% CI for the rate ratio",
            f"N: {self.n_participants} participants, {self.eligible_person_years:,.0f} eligible "
            f"person-years, {self.period_start} to {self.period_end}",
        ]

    def summary(self) -> str:
        """Header, table and notes."""
        t = self.tidy().drop(columns=["group", "reference_level", "is_reference"])
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            table = t.to_string(index=False, float_format=lambda x: f"{x:.4g}")
        return summary_text(self.summary_header(), [table], self.notes)

    def figure_table(self, table: pd.DataFrame | None = None) -> pd.DataFrame:
        """The rows :meth:`plot` draws (:func:`reach_figure_table` of ``table``, default tidy)."""
        return reach_figure_table(self.tidy() if table is None else table)

    def plot(self, ax: Any = None, *, table: pd.DataFrame | None = None) -> Any:
        """Rate ratio and 95% CI by level on a log scale, with a reference line at 1.

        Drawn with :func:`evalkit.stats.plots.forest` from :meth:`figure_table`; the
        reference level (no interval) is not drawn.

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
        return _plot_forest(
            self.figure_table(table),
            ax,
            f"Reach by {_group_name(self.group).lower()} (reference {self.reference_level})",
        )


@dataclass(frozen=True, repr=False)
class ReachAllResult(Result):
    """Reach by every group (:data:`GROUPS`): one :class:`ReachResult` each."""

    analysis = "reach"

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

    def figure_table(
        self, table: pd.DataFrame | None = None, *, groups: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The rows :meth:`plot` draws: :func:`reach_figure_table` of ``table`` (default tidy).

        Parameters
        ----------
        table : pd.DataFrame, optional
            A disclosure-controlled copy of ``tidy()`` (the report's ``reach`` table).
        groups : sequence of str, optional
            The groups shown (default all; the report shows :data:`REPORT_GROUPS`).
        """
        return reach_figure_table(self.tidy() if table is None else table, groups)

    def plot(
        self,
        ax: Any = None,
        *,
        table: pd.DataFrame | None = None,
        groups: Sequence[str] | None = None,
    ) -> Any:
        """The groups' rate ratios in one forest plot (log scale, reference line at 1).

        Drawn with :func:`evalkit.stats.plots.forest` from :meth:`figure_table`, as the
        report draws its reach figure (``table`` the published reach table, ``groups``
        :data:`REPORT_GROUPS`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        table : pd.DataFrame, optional
            A disclosure-controlled copy of ``tidy()`` to draw instead.
        groups : sequence of str, optional
            The groups shown (default all).

        Returns
        -------
        matplotlib.axes.Axes
        """
        return _plot_forest(
            self.figure_table(table, groups=groups),
            ax,
            "Referral rate against the reference group",
        )


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------
def _person_years_and_participants(
    pm: pd.DataFrame, parts: pd.DataFrame, group: str, programme: Programme
) -> tuple[pd.DataFrame, list[str]]:
    """Eligible person-years and participants per level of ``group`` (``level`` as strings)."""
    notes: list[str] = []
    if group == "age_band":
        starts, labels = age_bands(programme)
        pm["age_band"] = age_band(pm["age"], starts, labels)
        parts["age_band"] = age_band(parts["age"], starts, labels)
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
    return data, notes


def _reference_level(
    data: pd.DataFrame, group: str, reference: str | None
) -> tuple[str, list[str]]:
    """The reference level (given, IMD quintile 5, or the most person-time) and its note."""
    notes: list[str] = []
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
    return reference, notes


def _reach_table(rr: pd.DataFrame, group: str, reference: str) -> pd.DataFrame:
    """``tidy()``'s table from :func:`evalkit.stats.rates.rate_ratios` output (in level order)."""
    return pd.DataFrame(
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


def _reach_notes(
    table: pd.DataFrame, pm: pd.DataFrame, parts: pd.DataFrame, cohort: Cohort
) -> list[str]:
    """Notes on participants outside the person-time grid, exclusions and empty levels."""
    notes: list[str] = []
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
    return notes


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
        ``age_band`` uses :func:`~evalkit.analysis.equity.groups.age_bands` (children's bands
        for a programme under 18).
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
    data, notes = _person_years_and_participants(pm, parts, group, prog)
    reference, ref_notes = _reference_level(data, group, reference)
    notes += ref_notes
    rr = rate_ratios(
        data, "level", "participants", "person_years", reference=reference, method=method
    )
    order = level_order(group, rr["level"].tolist(), prog)
    rr = rr.set_index("level").loc[order].reset_index()
    table = _reach_table(rr, group, reference)
    notes += _reach_notes(table, pm, parts, cohort)
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


def reach_all(study: Study, *, method: Method = "exact") -> ReachAllResult:
    """Reach by IMD quintile, ethnicity group, sex and age band (see :func:`reach`)."""
    return ReachAllResult({g: reach(study, g, method=method) for g in GROUPS})
