"""What a report may claim: its primary, secondary and exploratory outcomes, fixed by the plan.

A programme's config names one primary outcome (a setting and a window; by default emergency
admissions at 12 months) and an ordered list of secondary settings, read at the primary window
(:class:`evalkit.config.Outcomes`); ``evalkit plan lock`` freezes them with the other options
(:mod:`evalkit.reporting.plan`). :func:`outcome_plan` decides which apply to a report: the
lock's when the plan is locked, whatever the config or the run asks for, else the config's (or
the run's). :func:`with_roles` labels every ``utilisation`` entry with its ``role`` and gives
each secondary entry ``p_holm``: Holm's adjustment of the secondary settings' rate-ratio
p-values at the primary window. Every other window is exploratory; the windows are nested
(each starts the day after referral), which a note says instead of a correction.
:func:`plan_section` assembles results.json's ``plan``: the lock status, the outcomes that
applied, who chose them, the Holm family, the notes, and the deviations, where a request to
change a locked outcome is listed with the locked value kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit.config import ConfigError, Outcomes, Programme
from evalkit.definitions.labels import setting_label
from evalkit.reporting.plan import outcomes_plan, read_lock
from evalkit.stats.multiplicity import holm

__all__ = [
    "KEPT_FROM_LOCK",
    "ROLES",
    "OutcomePlan",
    "outcome_plan",
    "plan_section",
    "requested_outcomes",
    "with_roles",
]

#: The roles a utilisation entry can have, from the strongest claim to none.
ROLES: tuple[str, ...] = ("primary", "secondary", "exploratory")
#: Plan options a report keeps from the lock whatever is asked for (a request is a deviation).
KEPT_FROM_LOCK: tuple[str, ...] = (
    "outcomes.primary.setting",
    "outcomes.primary.window_months",
    "outcomes.secondary",
)
#: The scale whose p-values Holm adjusts (the Poisson model's rate ratio, the relative change).
HOLM_SCALE = "rate_ratio"


@dataclass(frozen=True)
class OutcomePlan:
    """The primary and secondary outcomes a report uses, and where they came from.

    ``chosen_by`` is ``"lock"`` (the locked plan's), ``"config"`` (named in the programme's
    YAML), ``"default"`` (the config names none) or ``"run time"`` (passed to the report);
    ``requested`` is the plan's ``outcomes`` as the config and the run ask for them, which the
    report compares with the lock.
    """

    setting: str
    window_months: int
    secondary: tuple[str, ...]
    locked: bool
    chosen_by: str
    requested: dict[str, Any]

    def role(self, entry: dict[str, Any]) -> str:
        """``primary``, ``secondary`` or ``exploratory`` for one ``utilisation`` entry.

        Only matched DiD entries at the primary window can be primary or secondary; the naive
        before/after figure (no comparison group) is always exploratory.

        Examples
        --------
        >>> p = OutcomePlan("emergency_admission", 12, ("gp_appointment",), False, "default", {})
        >>> e = {"method": "matched_did", "setting": "gp_appointment", "window_months": 12}
        >>> p.role(e), p.role({**e, "window_months": 6}), p.role({**e, "method": "naive_prepost"})
        ('secondary', 'exploratory', 'exploratory')
        """
        if entry.get("method") != "matched_did" or entry.get("window_months") != self.window_months:
            return "exploratory"
        if entry.get("setting") == self.setting:
            return "primary"
        return "secondary" if entry.get("setting") in self.secondary else "exploratory"


def requested_outcomes(
    programme: Programme,
    *,
    primary: tuple[str, int] | None = None,
    secondary: Sequence[str] | None = None,
) -> tuple[dict[str, Any], str]:
    """The plan's ``outcomes`` as the config asks for them, a run's choice on top; who chose.

    A run-time ``primary`` without ``secondary`` takes the default secondaries (the other
    settings in config order). A choice the config could not hold (a setting or window it does
    not analyse) raises :class:`~evalkit.config.ConfigError`.
    """
    if primary is None and secondary is None:
        return outcomes_plan(programme), programme.outcomes.chosen_by()
    raw = programme.outcomes.model_dump()
    if primary is not None:
        raw["primary"] = {"setting": primary[0], "window_months": int(primary[1])}
        raw["secondary"] = None
    if secondary is not None:
        raw["secondary"] = list(secondary)
    try:
        outcomes = Outcomes.model_validate(raw)
    except ValidationError as exc:
        msg = "; ".join(str(e["msg"]) for e in exc.errors())
        raise ConfigError(f"{programme.slug}: outcomes chosen at run time: {msg}") from None
    return outcomes_plan(programme.model_copy(update={"outcomes": outcomes})), "run time"


def outcome_plan(
    programme: Programme,
    plans_dir: str | Path = "plans",
    *,
    primary: tuple[str, int] | None = None,
    secondary: Sequence[str] | None = None,
) -> OutcomePlan:
    """The outcomes a report uses: the lock's if the plan is locked, else the config's or run's.

    A lock written before plans named a primary outcome has none to keep; the config's then
    applies, unlocked.
    """
    requested, chosen_by = requested_outcomes(programme, primary=primary, secondary=secondary)
    doc = read_lock(programme, plans_dir)
    locked = ((doc or {}).get("plan") or {}).get("outcomes") or {}
    source, is_locked = (locked, True) if "primary" in locked else (requested, False)
    return OutcomePlan(
        setting=source["primary"]["setting"],
        window_months=int(source["primary"]["window_months"]),
        secondary=tuple(source["secondary"]),
        locked=is_locked,
        chosen_by="lock" if is_locked else chosen_by,
        requested=requested,
    )


def _missing_reason(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "no rate ratio could be estimated (too few events, or no convergence)"
    return "its p-value is not published (too few participants to show safely)"


def with_roles(
    raw: list[dict[str, Any]], published: list[dict[str, Any]], plan: OutcomePlan
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Label each ``utilisation`` entry with its ``role``; Holm-adjust the secondary p-values.

    Parameters
    ----------
    raw, published : list of dict
        The same entries before and after disclosure control (and rounding), in one order.
        Holm adjusts the *published* p-values, so ``p_holm`` equals statsmodels'
        ``multipletests(method="holm")`` on the p-values results.json shows, and a p-value
        suppressed with its count suppresses nothing else by accident.
    plan : OutcomePlan

    Returns
    -------
    raw, published : list of dict
        Copies with ``role`` on every entry and ``p_holm`` on every secondary one (the adjusted
        p-value on the rate-ratio scale; None on the per-person difference, which Holm does
        not adjust, and for a rate ratio left out of the family).
    multiplicity : dict
        ``method``, ``scale``, ``window_months``, ``family`` (the secondary settings adjusted
        together, in plan order) and ``notes`` (plain English: the family, what was left out
        of it and why, the nested windows).
    """
    if len(raw) != len(published):
        raise ValueError("raw and published entries must match one to one")
    roles = [plan.role(e) for e in published]
    family = [
        i for i, e in enumerate(published) if roles[i] == "secondary" and e["scale"] == HOLM_SCALE
    ]
    p_holm = dict(zip(family, holm([published[i].get("p_value") for i in family]), strict=True))
    by_setting = {published[i]["setting"]: i for i in family}
    adjusted = [s for s in plan.secondary if p_holm.get(by_setting.get(s, -1)) is not None]
    w = plan.window_months
    notes = [_family_note(adjusted, w)]
    for s in plan.secondary:
        if s not in adjusted:
            i = by_setting.get(s)
            notes.append(
                f"{setting_label(s, capital=True)} at {w} months: "
                f"{_missing_reason(None if i is None else published[i])}, so it is left out of "
                "the Holm adjustment, which adjusts the other secondary outcomes together."
            )
    windows = sorted({int(e["window_months"]) for e in published} - {w})
    if windows:
        notes.append(_nested_note(windows, w))
    notes.append(
        "The naive before/after figures (participants only, no comparison group) and total "
        "NHS cost are exploratory here; the costs section values the change in cost."
    )

    def label(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for i, e in enumerate(entries):
            extra: dict[str, Any] = {"role": roles[i]}
            if roles[i] == "secondary":
                extra["p_holm"] = p_holm.get(i)
            out.append({**e, **extra})
        return out

    multiplicity = {
        "method": "holm",
        "scale": HOLM_SCALE,
        "window_months": w,
        "family": adjusted,
        "notes": notes,
    }
    return label(raw), label(published), multiplicity


def _labels(settings: Sequence[str]) -> str:
    names = [setting_label(s) for s in settings]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _family_note(adjusted: list[str], window: int) -> str:
    """Which secondary outcomes Holm adjusted together."""
    if not adjusted:
        return (
            f"No secondary outcome at {window} months has a published rate-ratio p-value, so "
            "none is adjusted for multiple comparisons."
        )
    return (
        f"Secondary outcomes: the rate-ratio p-values of {_labels(adjusted)} at {window} "
        "months are adjusted together with Holm's method (p_holm), which keeps the chance of "
        "any false positive among them at 5%; the primary outcome is tested on its own."
    )


def _nested_note(windows: list[int], primary_window: int) -> str:
    """Why the other windows get a note, not a correction.

    Examples
    --------
    >>> _nested_note([3, 6], 12)[:60]
    'The 3- and 6-month windows are nested with the 12-month prim'
    """
    shown = (
        f"{windows[0]}-month window is"
        if len(windows) == 1
        else ", ".join(f"{x}-" for x in windows[:-1]) + f" and {windows[-1]}-month windows are"
    )
    return (
        f"The {shown} nested with the {primary_window}-month primary window "
        "(every window starts the day after referral, so a shorter window is the first months "
        "of a longer one): their estimates re-use the same months and are not separate tests. "
        "They are exploratory, and not corrected for multiple comparisons."
    )


def plan_section(
    status: dict[str, Any], plan: OutcomePlan, multiplicity: dict[str, Any]
) -> dict[str, Any]:
    """results.json's ``plan``: :func:`~evalkit.reporting.plan.plan_status` and the outcomes.

    Adds ``primary`` (``{"setting", "window_months"}``), ``secondary`` (ordered settings),
    ``outcomes_chosen_by`` (``lock``, ``config``, ``default`` or ``run time``) and
    ``multiplicity`` (:func:`with_roles`). A deviation in one of :data:`KEPT_FROM_LOCK` did not
    happen: it is listed with ``requested`` (what the config or the run asked for) and ``used``
    set to the locked value the report kept.
    """
    deviations = []
    for d in status.get("deviations") or []:
        if plan.locked and d["option"] in KEPT_FROM_LOCK:
            d = {**d, "requested": d["used"], "used": d["locked"]}
        deviations.append(d)
    return {
        **status,
        "deviations": deviations,
        "primary": {"setting": plan.setting, "window_months": plan.window_months},
        "secondary": list(plan.secondary),
        "outcomes_chosen_by": plan.chosen_by,
        "multiplicity": multiplicity,
    }
