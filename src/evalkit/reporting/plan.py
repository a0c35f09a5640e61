"""The locked analysis plan: freeze a programme's analysis options before outcomes are read.

``lock_plan("mindsong")`` writes ``plans/mindsong.lock.json``::

    {"programme": "mindsong", "sha256": "<hex>", "locked_on": "YYYY-MM-DD", "plan": {...}}

where ``plan`` is :func:`resolved_plan` (outcomes with the primary outcome and the ordered
secondary settings, windows, matching, covariates, the estimators, the sensitivity battery,
instruments, the unit-cost table, the MDE's power and significance and disclosure control,
every default resolved) and ``sha256`` the SHA-256 of its canonical JSON
(:func:`canonical_json`). A report calls :func:`plan_status` with the options its result
objects actually used (``spec`` of the matched cohort, the sensitivity battery, notebook
parameters that set analysis options), and states whether it followed the lock and lists each
deviation (option, locked value, used value); a programme without a lock is reported as
unlocked. A locked primary outcome is kept whatever the config or the run asks for
(:mod:`evalkit.reporting.claims`): the request is listed as a deviation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

from evalkit.analysis import utilisation
from evalkit.analysis.censoring import ANALYSIS_WEIGHT, ESTIMANDS, RECENT_USE, censor_panel
from evalkit.cohort import build_cohort
from evalkit.config import Programme, UnitCostTable, instruments, load_programme, load_unit_costs
from evalkit.files import write_json
from evalkit.jsonsafe import json_safe
from evalkit.reporting.disclosure import DEFAULT_RULE

__all__ = [
    "PLAN_VERSION",
    "canonical_json",
    "flatten",
    "lock_path",
    "lock_plan",
    "outcomes_plan",
    "plan_hash",
    "plan_status",
    "read_lock",
    "resolved_plan",
    "sensitivity_battery",
]

#: Version of the plan's layout; bump when its keys change meaning (2: the target trial's
#: design, censoring and stacked time effects under ``estimation``; 3: the primary outcome and
#: the ordered secondary settings under ``outcomes``, resolved).
PLAN_VERSION = 3
#: The design the report runs (:func:`evalkit.analysis.utilisation.matched_cohort`'s default).
DESIGN: str = inspect.signature(utilisation.matched_cohort).parameters["design"].default
_CENSORING_TRUNCATE = inspect.signature(censor_panel).parameters["truncate"].default
#: The index day's own contacts: "excluded" (neither baseline nor prior use) or "baseline"
#: (:func:`evalkit.cohort.build_cohort`'s default).
INDEX_DAY: str = inspect.signature(build_cohort).parameters["index_day"].default


def sensitivity_battery() -> dict[str, Any]:
    """The sensitivity battery the analysis runs (``analysis.utilisation.SENSITIVITY_BATTERY``)."""
    return json_safe(utilisation.SENSITIVITY_BATTERY)


def _programme(programme: str | Programme) -> Programme:
    return load_programme(programme) if isinstance(programme, str) else programme


def outcomes_plan(programme: str | Programme) -> dict[str, Any]:
    """The plan's ``outcomes``: settings, windows and the primary and secondary outcomes, resolved.

    ``primary`` is ``{"setting", "window_months"}`` and ``secondary`` the ordered settings at
    the primary window, defaults filled in (:meth:`evalkit.config.Outcomes.primary_outcome`),
    so a config that names the default explicitly locks the same plan as one that leaves it out.
    """
    out = _programme(programme).outcomes
    setting, window = out.primary_outcome()
    return {
        "settings": list(out.settings),
        "windows_months": list(out.windows_months),
        "baseline_months": out.baseline_months,
        "history_months": out.history_months,
        "primary": {"setting": setting, "window_months": window},
        "secondary": out.secondary_settings(),
    }


def resolved_plan(
    programme: str | Programme,
    *,
    unit_costs: UnitCostTable | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> dict[str, Any]:
    """The programme's analysis options with every default resolved, as a JSON-safe dict.

    Parameters
    ----------
    programme : str or Programme
        Slug (``programmes/<slug>.yaml``) or a loaded programme.
    unit_costs : UnitCostTable, optional
        Unit-cost table (default: the one shipped with evalkit).
    alpha, power : float
        Significance level and power of the MDEs.

    Returns
    -------
    dict
        Keys ``plan_version``, ``programme``, ``outcomes`` (settings, windows, baseline and
        history months, the primary outcome and the secondary settings: :func:`outcomes_plan`),
        ``matching`` (as :func:`evalkit.analysis.utilisation.matched_cohort`
        resolves it: ratio, caliper, exact, covariates, distance, replace,
        sample_controls_above, control_sample_size, seed), ``estimation`` (DiD models,
        windows, inference), ``sensitivity`` (:func:`sensitivity_battery`), ``wellbeing``
        (instruments as reported, primary instrument, timepoints, thresholds), ``economics``
        (programme cost), ``unit_costs`` (table, price year, cost per setting), ``power``
        and ``disclosure``. The synthetic-county settings are not analysis options and are
        left out.
    """
    prog = _programme(programme)
    costs = unit_costs or load_unit_costs()
    m = prog.matching
    rule = utilisation.control_rule(m.one_control_per_person, DESIGN)
    defs = instruments()
    reported = []
    for name in prog.instruments:
        d = defs[name]
        reported += [f"{name}_{i}" for i in d.items] if d.reported_separately else [name]
    baseline = list(utilisation.BASELINE)
    weights = ANALYSIS_WEIGHT if DESIGN == "target_trial" else "weight"
    plan: dict[str, Any] = {
        "plan_version": PLAN_VERSION,
        "programme": prog.slug,
        "eligibility": prog.eligibility.model_dump(),
        "outcomes": outcomes_plan(prog),
        "matching": {
            "ratio": int(m.ratio),
            "caliper": m.caliper,
            "exact": list(m.exact),
            "covariates": list(m.covariates),
            "distance": m.distance,
            "replace": m.replace,
            "sample_controls_above": m.sample_controls_above,
            "control_sample_size": m.control_sample_size,
            "seed": m.seed,
            **rule,
            "propensity_terms": "log1p of prior-utilisation counts",
            # Target trial: a candidate serves only participants referred before its own referral.
            "available_until": "own_referral_date" if DESIGN == "target_trial" else None,
        },
        "estimation": {
            "estimand": "ATT, intention to treat from the referral date",
            "design": DESIGN,
            "design_estimand": ESTIMANDS[DESIGN],
            "event_months": "month 0 starts the day after the index date",
            "index_day": INDEX_DAY,
            "time_effects": "index month x event month (stacked)",
            "censoring": {
                "at": "a matched control's own referral to the programme",
                "weights": "stabilised inverse-probability-of-censoring weights: pooled "
                "logistic hazard of referral per control month on the index covariates and "
                f"log1p of the last {RECENT_USE} months' use; numerator: the month alone",
                "truncate": list(_CENSORING_TRUNCATE),
            },
            "baseline_months": baseline,
            "windows_months": list(prog.outcomes.windows_months),
            "rate_ratio": {
                "model": "poisson",
                "fixed_effects": ["unit", "stack_time"],
                "exposure": "exposure",
                "weights": weights,
                "cluster": rule["cluster"],
            },
            "difference_per_person": {
                "model": "linear",
                "fixed_effects": ["unit", "stack_time"],
                "weights": weights,
                "cluster": rule["cluster"],
            },
            "min_events_for_rate_ratio": utilisation.MIN_EVENTS,
            "confidence_level": 0.95,
        },
        "sensitivity": sensitivity_battery(),
        "wellbeing": {
            "instruments": list(prog.instruments),
            "reported": reported,
            "primary_instrument": prog.primary_instrument,
            "timepoints": ["baseline", "end"],
            "threshold": "definition",
            "by": "imd_quintile",
        },
        "economics": {"programme_cost": prog.cost.model_dump()},
        "unit_costs": {
            "table": costs.name,
            "price_year": costs.price_year,
            "inflation_index": costs.inflation_index,
            "costs": {k: v.cost for k, v in sorted(costs.costs.items())},
        },
        "power": {"alpha": alpha, "power": power},
        "disclosure": {"threshold": DEFAULT_RULE.threshold, "rounding_base": DEFAULT_RULE.base},
    }
    return json_safe(plan)


def canonical_json(obj: Any) -> str:
    """Canonical JSON: JSON-safe values, sorted keys, no whitespace, UTF-8 text.

    The same options always give the same string (and so the same hash), whatever the order
    in which they were built.

    Examples
    --------
    >>> canonical_json({"b": [1, 2.5], "a": (True, None)})
    '{"a":[true,null],"b":[1,2.5]}'
    """
    return json.dumps(
        json_safe(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def plan_hash(plan: dict[str, Any]) -> str:
    """SHA-256 (hex) of the plan's canonical JSON."""
    return hashlib.sha256(canonical_json(plan).encode("utf-8")).hexdigest()


def lock_path(programme: str | Programme, plans_dir: str | Path = "plans") -> Path:
    """``<plans_dir>/<slug>.lock.json``."""
    slug = programme if isinstance(programme, str) else programme.slug
    return Path(plans_dir) / f"{slug}.lock.json"


def read_lock(programme: str | Programme, plans_dir: str | Path = "plans") -> dict[str, Any] | None:
    """The lock file's content (``programme``, ``sha256``, ``locked_on``, ``plan``), or None."""
    path = lock_path(programme, plans_dir)
    return json.loads(path.read_text()) if path.exists() else None


def lock_plan(
    programme: str | Programme,
    plans_dir: str | Path = "plans",
    today: dt.date | str | None = None,
    *,
    force: bool = False,
    unit_costs: UnitCostTable | None = None,
) -> Path:
    """Freeze the programme's resolved plan into ``<plans_dir>/<slug>.lock.json``.

    Parameters
    ----------
    programme : str or Programme
    plans_dir : str or Path
        Directory of lock files (created if missing).
    today : date or "YYYY-MM-DD", optional
        Lock date (default: today).
    force : bool
        Replace an existing lock (a new lock is a new plan: the report then compares with it).
    unit_costs : UnitCostTable, optional

    Returns
    -------
    Path
        The lock file, written atomically (temporary file, then rename).

    Raises
    ------
    FileExistsError
        A lock exists and ``force`` is False.
    """
    prog = _programme(programme)
    path = lock_path(prog, plans_dir)
    if path.exists() and not force:
        raise FileExistsError(
            f"{path} exists: the plan for {prog.slug} is already locked "
            f"(use force=True to replace it)"
        )
    if today is None:
        day = dt.date.today()
    elif isinstance(today, str):
        day = dt.date.fromisoformat(today)
    else:
        day = today
    plan = resolved_plan(prog, unit_costs=unit_costs)
    doc = {
        "programme": prog.slug,
        "sha256": plan_hash(plan),
        "locked_on": day.isoformat(),
        "plan": plan,
    }
    return write_json(doc, path, ensure_ascii=False)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted option names; lists and scalars are values.

    Examples
    --------
    >>> flatten({"matching": {"ratio": 3, "exact": ["sex"]}, "power.alpha": 0.05})
    {'matching.ratio': 3, 'matching.exact': ['sex'], 'power.alpha': 0.05}
    """
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out.update(flatten(v, key))
            else:
                out[key] = json_safe(v)
        return out
    return {prefix: json_safe(obj)} if prefix else {}


def _same(a: Any, b: Any) -> bool:
    """Equal as options: numbers by value (3 == 3.0), anything else by canonical JSON."""
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool | type(None)):
        return not isinstance(b, bool) and float(a) == float(b)
    return canonical_json(a) == canonical_json(b)


def plan_status(
    programme: str | Programme, used: dict[str, Any], plans_dir: str | Path = "plans"
) -> dict[str, Any]:
    """Compare the locked plan with the options the analysis actually used.

    Parameters
    ----------
    programme : str or Programme
    used : dict
        The options used, in the plan's shape (nested, e.g. ``{"matching": mc.spec}``) or as
        dotted names (``{"matching.ratio": 5}``): the ``spec`` of each result object and the
        notebook parameters that set analysis options.
    plans_dir : str or Path

    Returns
    -------
    dict
        ``locked`` (bool), ``sha256`` and ``locked_on`` of the lock (None when unlocked),
        ``deviations``: ``[{"option", "locked", "used"}]`` for every used option whose value
        differs from the lock's, sorted by option; ``unplanned``: used options the lock does
        not name (not deviations); ``lock_valid``: the lock's hash matches its plan (False
        when the file was edited by hand).
    """
    doc = read_lock(programme, plans_dir)
    if doc is None:
        return {
            "locked": False,
            "sha256": None,
            "locked_on": None,
            "deviations": [],
            "unplanned": [],
            "lock_valid": None,
        }
    locked = flatten(doc["plan"])
    used_flat = flatten(used)
    deviations = []
    unplanned = []
    for option in sorted(used_flat):
        value = used_flat[option]
        if option not in locked:
            unplanned.append(option)
        elif not _same(value, locked[option]):
            deviations.append({"option": option, "locked": locked[option], "used": value})
    return {
        "locked": True,
        "sha256": doc.get("sha256"),
        "locked_on": doc.get("locked_on"),
        "deviations": deviations,
        "unplanned": unplanned,
        "lock_valid": doc.get("sha256") == plan_hash(doc["plan"]),
    }
