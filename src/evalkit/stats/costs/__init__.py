"""Economics on any matched panel: cost difference, bootstrap over matched sets, ROI, WELLBYs.

Public calls, each returning a frozen result object (docs/design/methods.md section 4):

- :func:`matched_cost_difference`: the matched difference in mean cost change, participants'
  post − pre minus their matched controls' weighted post − pre, with a bootstrap over matched
  sets (or, with ``cluster=``, over connected clusters of sets sharing a person,
  :mod:`evalkit.stats.clusters`). Each unit's change is computed once and summed per matched
  set once; a bootstrap resample is then a weighted sum of those set totals (resample counts
  as weights), not a model refit, so 999 resamples of a county-sized match take about a
  second.
- :func:`return_on_investment`: NHS saving per participant ÷ programme cost per participant
  (gross, "£ saved per £1"), net = gross − 1, and the cost per emergency admission avoided,
  each with a CI carried through the *same* bootstrap resamples.
- :func:`wellby_valuation`: a change in ONS4 life satisfaction valued in WELLBYs with HM
  Treasury's Green Book values (central, low, high), as social value per £1 of programme cost;
  :func:`wellby_itt_valuation` values the intention-to-treat change over everyone referred
  (people without a follow-up questionnaire at no change) as the central figure and the
  completers' change as its upper bound.
- :func:`cost_per_participant`: a programme cost quoted per starter or per participant, as a
  cost per participant (every referred person counted once).

Why the matched difference in mean cost change. On a balanced matched panel (every unit
observed in every period of the window) with weights constant within unit, it equals the
two-way fixed-effects linear difference-in-differences (:func:`evalkit.stats.did.did`,
``model="linear"``) exactly, times the number of post periods: the weighted two-way within
transformation of ``treated x post`` is then ``(d_i − d̄)(p_t − p̄)``, so the least-squares
coefficient is the weighted difference in the units' mean post − pre changes. Unlike the fixed-
effects fit, it decomposes into per-set totals, so the bootstrap over matched sets uses the same
estimator as the point estimate, as docs/design/methods.md asks. On an unbalanced panel (a unit
missing months after death, deregistration or the end of the data) the two weight the incomplete
units differently and differ slightly; the result's notes count such units. With ``time=``
the difference is taken month by month (each follow-up row against its unit's own baseline
mean, each month's control mean over the controls still observed, optionally weighted per row by
``row_weights=``, e.g. censoring weights), so censored or short follow-up does not count early
months as the whole window (docs/decisions/economics-censoring.md).

Modules: :mod:`~evalkit.stats.costs.per_participant` (programme cost per participant),
:mod:`~evalkit.stats.costs.matched_difference` (the matched difference and its bootstrap),
:mod:`~evalkit.stats.costs.roi` (return on investment), :mod:`~evalkit.stats.costs.wellby`
(WELLBY valuation), :mod:`~evalkit.stats.costs.wellby_itt` (its intention-to-treat version),
:mod:`~evalkit.stats.costs.set_bootstrap` (per-set totals and the bootstrap) and
:mod:`~evalkit.stats.costs.unit_changes` (argument checks, each unit's change). Nothing
here imports evalkit's domain modules: the WELLBY values are an argument of
:func:`wellby_valuation` (evalkit's analysis layer passes
:func:`evalkit.definitions.load_wellby`'s).
"""

from evalkit.definitions.wellby import WellbyValues
from evalkit.stats.costs.matched_difference import (
    DIFFERENCE_COLUMNS,
    MatchedDifferenceResult,
    matched_cost_difference,
)
from evalkit.stats.costs.per_participant import cost_per_participant
from evalkit.stats.costs.roi import ReturnOnInvestmentResult, return_on_investment
from evalkit.stats.costs.wellby import WellbyResult, wellby_valuation
from evalkit.stats.costs.wellby_itt import (
    MeanChange,
    intention_to_treat_change,
    mean_change,
    wellby_itt_valuation,
)

__all__ = [
    "DIFFERENCE_COLUMNS",
    "MatchedDifferenceResult",
    "MeanChange",
    "ReturnOnInvestmentResult",
    "WellbyResult",
    "WellbyValues",
    "cost_per_participant",
    "intention_to_treat_change",
    "matched_cost_difference",
    "mean_change",
    "return_on_investment",
    "wellby_itt_valuation",
    "wellby_valuation",
]
