"""Economics for a programme: NHS cost saving, return on investment and WELLBY valuation.

Composes :mod:`evalkit.stats.costs` on a programme's matched cohort (docs/design/methods.md
section 4: costed utilisation, return on investment and wellbeing valuation):

- the matched difference in mean NHS cost change over ``window_months`` after referral against
  the 12 months before (each setting's events priced with the study's unit-cost table, as in the
  panel's ``total_cost``), formed event month by event month with the outcome model's weights
  (:data:`ROW_WEIGHT`, below), with a bootstrap over connected clusters of matched sets: sets
  sharing a person (a control matched at several index dates, or a control before their own
  referral and a participant after), directly or through a chain, are drawn together
  (:data:`CLUSTER`; docs/decisions/economics-bootstrap.md);
- gross and net return on investment against the programme cost per participant (a cost quoted
  per starter converted with the programme's start rate), and the cost per emergency admission
  avoided, from the same resamples;
- the ONS4 life-satisfaction change valued in WELLBYs (central, low, high), social value per £1,
  kept apart from the NHS cash figure: by intention to treat over everyone referred (people
  without a follow-up questionnaire count as no change) as the central figure, the completers'
  change as its upper bound;
- the unit-cost table, each cost with its source, price year and inflation flag.

``economics(study, mc).to_dict()`` is the ``economics`` entry of ``results.json``.

Weights. The cost difference uses the weights of the utilisation DiD on the same rows: each
unit's matching weight (``weight``) and, in the target-trial design, on a control's follow-up
months its censoring weight (``ipcw``; the DiD's ``analysis_weight`` is their product). As the
censoring weight varies over a control's months, the difference is formed event month by event
month (``matched_cost_difference(time="event_month", row_weights="ipcw")``): a control censored
at its own referral stops counting from that month and the controls still observed stand in
for it, so the saving estimates what the outcome model estimates; why the two still differ a
little is in docs/decisions/economics-censoring.md. The legacy design has no censoring
weights and uses the same period-by-period estimator with the matching weights.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from evalkit.analysis.economics_result import COST_FIGURE_COLUMNS, EconomicsResult
from evalkit.analysis.study import Study
from evalkit.analysis.utilisation import BASELINE, MatchedCohort
from evalkit.analysis.wellbeing import wellbeing
from evalkit.config import UnitCostTable
from evalkit.definitions import load_wellby
from evalkit.stats import PrePostResult
from evalkit.stats.costs import (
    MatchedDifferenceResult,
    WellbyResult,
    cost_per_participant,
    matched_cost_difference,
    return_on_investment,
    wellby_itt_valuation,
)

__all__ = [
    "COST_FIGURE_COLUMNS",
    "EconomicsResult",
    "economics",
    "economics_window",
    "programme_cost",
    "unit_cost_table",
]

#: Setting whose avoided events give the cost per admission avoided.
ADMISSIONS = "emergency_admission"
#: The matched panel's period column and its censoring-weight column (target-trial design).
PERIOD = "event_month"
ROW_WEIGHT = "ipcw"
#: Who a panel row belongs to: matched sets sharing one are resampled together.
CLUSTER = "person_id"
#: Below this many resampling clusters the bootstrap interval is flagged as too narrow (bench).
FEW_SETS = 150
#: Above this share of the matched sets in one cluster, the notes say the bootstrap is coarse.
LARGE_CLUSTER_SHARE = 0.10
#: Wellbeing entry valued in WELLBYs.
LIFE_SATISFACTION = "ons4_life_satisfaction"

UNIT_COST_COLUMNS: tuple[str, ...] = (
    "setting",
    "cost",
    "price_year",
    "original_cost",
    "original_price_year",
    "inflator",
    "inflated",
    "unit",
    "source",
    "flag",
)


def unit_cost_table(table: UnitCostTable, settings: list[str] | None = None) -> pd.DataFrame:
    """The unit-cost table as rows: cost, price year, source and inflation flag per setting.

    Parameters
    ----------
    table : UnitCostTable
        Study's unit costs (:func:`evalkit.config.load_unit_costs`).
    settings : list of str, optional
        Settings to show (default all in the table).

    Returns
    -------
    pd.DataFrame
        Columns :data:`UNIT_COST_COLUMNS`; ``inflated`` is True where the cost was uprated from
        an older price year; ``flag`` repeats the table's caveat (e.g. per episode, not spell).
    """
    rows = []
    for s in settings or list(table.costs):
        uc = table.costs[s]
        rows.append(
            {
                "setting": s,
                "cost": uc.cost,
                "price_year": table.price_year,
                "original_cost": uc.original_cost,
                "original_price_year": uc.original_price_year,
                "inflator": uc.inflator,
                "inflated": uc.original_price_year != table.price_year,
                "unit": uc.unit,
                "source": uc.source,
                "flag": uc.flag.strip(),
            }
        )
    return pd.DataFrame(rows, columns=list(UNIT_COST_COLUMNS))


def economics_window(panel: pd.DataFrame, window_months: int) -> pd.DataFrame:
    """Rows of the matched panel used: baseline months −12..−1 and months 0..W−1, exposed.

    The same rows as the utilisation DiD: person-months with zero exposure (before
    registration, after death or deregistration, outside the extract) are left out.
    """
    em = panel["event_month"]
    keep = ((em >= BASELINE[0]) & (em <= BASELINE[1])) | ((em >= 0) & (em < window_months))
    return panel[keep & (panel["exposure"] > 0)]


def programme_cost(study: Study) -> dict[str, Any]:
    """The programme's cost per participant, from its config and its start rate.

    "Participant" is every person referred to the programme, counted once however often
    referred; a starter is a participant any of whose referrals started. A cost quoted per
    starter is converted with the start rate (starters ÷ participants), docs/design/methods.md
    section 4.

    Parameters
    ----------
    study : Study
        The programme's study (config ``cost`` and referrals).

    Returns
    -------
    dict
        ``amount``, ``basis``, ``price_year``, ``source`` (as configured), ``start_rate``,
        ``n_referred``, ``n_starters``, ``per_participant`` and ``notes`` (list of str).
    """
    cost = study.programme.cost
    ep = study.referrals
    # A person counts once: a starter if any of their referrals to the programme started.
    per_person = ep["start_date"].notna().groupby(ep["person_id"]).any()
    n_ref, n_start = len(per_person), int(per_person.sum())
    start_rate = n_start / n_ref if n_ref else float("nan")
    notes: list[str] = []
    if cost.basis == "starter":
        if n_start == 0:
            raise ValueError(
                f"{study.programme.slug}: the cost is per starter but nobody started, so a "
                "cost per participant cannot be derived"
            )
        per = cost_per_participant(cost.amount, "starter", start_rate=start_rate)
        notes.append(
            f"The programme cost is quoted per starter (£{cost.amount:,.2f}); per participant "
            f"it is £{cost.amount:,.2f} x start rate {start_rate:.3f} ({n_start} of {n_ref} "
            f"people referred started) = £{per:,.2f}."
        )
    else:
        per = cost_per_participant(cost.amount, "participant")
        notes.append(f"The programme cost is quoted per participant (£{cost.amount:,.2f}).")
    notes.append(f"Programme cost source: {cost.source}.")
    if cost.price_year != study.unit_costs.price_year:
        notes.append(
            f"FLAG: the programme cost is in {cost.price_year} prices, the NHS costs in "
            f"{study.unit_costs.price_year} prices; the programme cost was not inflated."
        )
    info = {
        "amount": cost.amount,
        "basis": cost.basis,
        "price_year": cost.price_year,
        "source": cost.source,
        "start_rate": start_rate,
        "n_referred": n_ref,
        "n_starters": n_start,
        "per_participant": per,
        "notes": notes,
    }
    return info


def economics(
    study: Study,
    mc: MatchedCohort,
    *,
    window_months: int = 12,
    resamples: int = 999,
    seed: int | None = None,
    duration_years: float | None = None,
    life_satisfaction: PrePostResult | None = None,
) -> EconomicsResult:
    """NHS cost saving, ROI, cost per admission avoided and WELLBY value for a programme.

    Parameters
    ----------
    study : Study
        From :func:`evalkit.analysis.load_study`: programme config (cost), referrals (start
        rate), measures (ONS4) and unit costs.
    mc : MatchedCohort
        From :func:`evalkit.analysis.utilisation.matched_cohort`; its panel's ``total_cost``
        is already priced with the cohort's unit-cost table.
    window_months : int
        Months after referral (1-12) compared with the 12 months before (default 12).
    resamples : int
        Bootstrap resamples over matched sets (default 999).
    seed : int, optional
        Bootstrap seed; default the programme's matching seed, so a report reruns identically.
    duration_years : float, optional
        Persistence of the life-satisfaction change for the WELLBY valuation (default from
        ``wellby.yaml``: 1 year).
    life_satisfaction : PrePostResult, optional
        ONS4 life-satisfaction pre/post (default computed with
        :func:`evalkit.analysis.wellbeing.wellbeing`).

    Returns
    -------
    EconomicsResult
        ``to_dict()`` is the ``economics`` entry of ``results.json``.

    Raises
    ------
    ValueError
        ``window_months`` outside 1-12 or too few matched sets for a bootstrap.
    """
    if not 1 <= int(window_months) <= 12:
        raise ValueError(f"window_months must be between 1 and 12, not {window_months}")
    prog = study.programme
    seed = prog.matching.seed if seed is None else int(seed)
    table = mc.cohort.unit_costs
    settings = list(mc.cohort.settings)
    notes: list[str] = []
    if table.name != study.unit_costs.name:
        notes.append(
            f"FLAG: the panel was priced with unit-cost table '{table.name}', the study names "
            f"'{study.unit_costs.name}'; the panel's table is used throughout."
        )

    panel = economics_window(mc.panel, int(window_months)).copy()
    cost_cols = []
    for s in settings:
        panel[f"cost_{s}"] = panel[s].to_numpy(dtype=float) * table.cost_of(s)
        cost_cols.append(f"cost_{s}")
    also = [*cost_cols, *settings]
    row_weights = ROW_WEIGHT if ROW_WEIGHT in panel else None
    diff = matched_cost_difference(
        panel,
        "total_cost",
        unit="unit",
        matched_set="subclass",
        treated="referred",
        post="post",
        weights="weight",
        time=PERIOD,
        row_weights=row_weights,
        cluster=CLUSTER if CLUSTER in panel else None,
        also=also,
        periods=float(window_months),
        resamples=resamples,
        seed=seed,
    )
    cost_info = programme_cost(study)
    cost_notes = cost_info.pop("notes")
    roi = return_on_investment(
        diff,
        cost_info["per_participant"],
        admissions=ADMISSIONS if ADMISSIONS in settings else None,
    )
    if ADMISSIONS not in settings:
        notes.append(f"{ADMISSIONS} is not a programme setting: no cost per admission avoided.")

    notes.append(_weights_note(mc.design, row_weights))
    n_all, n_used = mc.cohort.n_participants, diff.n_treated
    notes.append(
        f"Participants are people referred (intention to treat), each counted once at the first "
        f"referral: {n_used} of {n_all} eligible participants had matched controls and complete "
        f"baseline and follow-up rows, and the saving is per such participant."
    )
    notes.append(
        f"NHS costs: each setting's events priced with '{table.name}' ({table.price_year} "
        f"prices, {table.inflation_index}); an emergency admission is priced per finished "
        "consultant episode, which understates the cost of a spell."
    )
    notes.extend(cost_notes)
    notes.extend(_bootstrap_notes(diff))
    notes.extend(
        n
        for n in diff.notes
        if "unbalanced" in n or "dropped" in n  # the ones a reader needs
    )

    by = []
    for s in settings:
        c, e = diff.row(f"cost_{s}"), diff.row(s)
        by.append(
            {
                "setting": s,
                "unit_cost": table.cost_of(s),
                "events_difference_per_participant": e["estimate"],
                "events_ci_low": e["ci_low"],
                "events_ci_high": e["ci_high"],
                "cost_difference_per_participant": c["estimate"],
                "cost_ci_low": c["ci_low"],
                "cost_ci_high": c["ci_high"],
                "saving_per_participant": -c["estimate"],
            }
        )
    by_setting = pd.DataFrame(by)

    wres: WellbyResult | None = None
    if "ons4" in prog.instruments:
        ls = life_satisfaction if life_satisfaction is not None else _life_sat(study)
        if ls is None or ls.n_paired < 2 or not math.isfinite(ls.mean_change):
            notes.append("Too few paired ONS4 life-satisfaction measures for a WELLBY valuation.")
        else:
            wres = wellby_itt_valuation(
                paired_changes(ls),
                cost_info["n_referred"],
                cost_info["per_participant"],
                duration_years=duration_years,
                price_year=table.price_year,
                values=load_wellby(),
            )
            notes.append(
                f"WELLBY valuation by intention to treat: the ONS4 life-satisfaction changes of "
                f"the {ls.n_paired} people with a baseline and an end measure, summed over all "
                f"{cost_info['n_referred']} people referred, those without both measures "
                f"counted as no change (follow-up completeness {ls.follow_up_completeness:.0%}"
                "). The completers' mean change applied to everyone is shown as an upper bound: "
                "it assumes people without a follow-up measure changed as much."
            )
    else:
        notes.append("The programme does not collect ONS4: no WELLBY valuation.")

    spec = {
        "programme": prog.slug,
        "window_months": int(window_months),
        "baseline_months": [BASELINE[0], BASELINE[1]],
        "resamples": int(resamples),
        "seed": seed,
        "duration_years": wres.duration_years if wres is not None else duration_years,
        "unit_costs": table.name,
        "inflation_index": table.inflation_index,
        "settings": settings,
        "estimator": "matched difference in mean cost change, event month by event month "
        "(bootstrap over "
        + (
            "connected clusters of matched sets sharing a person)"
            if diff.clusters
            else "matched sets)"
        ),
        "cluster": diff.spec["cluster"],
        "wellby_basis": "intention to treat (non-responders at no change); completers as the "
        "upper bound",
        "design": mc.design,
        "weights": "weight x " + row_weights if row_weights else "weight",
    }
    return EconomicsResult(
        programme=prog.slug,
        price_year=table.price_year,
        window_months=int(window_months),
        programme_cost=cost_info,
        difference=diff,
        roi=roi,
        wellby=wres,
        unit_costs=unit_cost_table(table, settings),
        by_setting=by_setting,
        spec=spec,
        notes=tuple(notes),
    )


def paired_changes(ls: PrePostResult) -> pd.Series:
    """The paired changes of a pre/post result: one per person with both measures.

    Raises
    ------
    ValueError
        When their number is not the result's ``n_paired``.
    """
    ch = ls.data["change"].dropna()
    if len(ch) != ls.n_paired:
        raise ValueError(f"{len(ch)} paired changes in the data, n_paired is {ls.n_paired}")
    return ch


def _bootstrap_notes(d: MatchedDifferenceResult) -> list[str]:
    """The notes on the bootstrap's resampling units: clusters, their sizes, too few."""
    out = []
    c = d.clusters
    n_units = c["n_clusters"] if c else d.n_sets
    if c:
        out.append(
            "The bootstrap resamples connected clusters of matched sets, not sets: a person "
            "in several sets (a control matched at several index dates, or a control before "
            "their own referral and a participant after) ties those sets together, directly "
            "or through a chain, and a cluster is drawn whole; the clusters' sizes are in "
            "results.json (economics.nhs_cost_difference.bootstrap.clusters, counts rounded)."
        )
        if c["share_largest_cluster"] > LARGE_CLUSTER_SHARE:
            # No count or share in the sentence: published notes carry no counts of people.
            out.append(
                f"One cluster holds more than {LARGE_CLUSTER_SHARE:.0%} of the matched sets: the "
                "bootstrap draws it as one unit, so the interval rests on fewer independent "
                "pieces than the number of sets suggests and is itself uncertain."
            )
    if n_units < FEW_SETS:
        what = "resampling clusters" if c else "matched sets"
        # No count in the sentence: the report publishes notes without counts of people.
        out.append(
            f"Fewer than {FEW_SETS} {what}: with so few, bootstrap intervals for "
            "heavy-tailed NHS costs are somewhat too narrow (simulation in "
            "bench/bench_roi_bootstrap.py: 91% coverage for a nominal 95% at 70 sets, 94% at "
            "300); read the interval as a lower bound on the uncertainty."
        )
    return out


def _weights_note(design: str, row_weights: str | None) -> str:
    """The notes' sentence naming the weights the cost difference used."""
    if row_weights:
        return (
            f"Weights ({design} design): each unit's matching weight ('weight') times, on a "
            f"control's follow-up months, its censoring weight ('{row_weights}', stabilised "
            "inverse probability of not yet being referred; controls censored at their own "
            "referral): the utilisation DiD's analysis_weight. The cost change is compared "
            "event month by event month, the controls' standardised to the participants' "
            "follow-up months."
        )
    return (
        f"Weights ({design} design): each unit's matching weight ('weight'), constant over its "
        "months; no censoring weights. The cost change is compared event month by event month, "
        "the controls' standardised to the participants' follow-up months."
    )


def _life_sat(study: Study) -> PrePostResult | None:
    try:
        return wellbeing(study, LIFE_SATISFACTION)
    except (ValueError, KeyError):
        return None
