"""The formulas of power, minimum detectable effects (MDE) and sample sizes, for any data set.

:mod:`evalkit.analysis.power` applies them to a programme's study; this package knows nothing
of programmes. Two designs, each with three questions (what could N detect; what power for this
effect; how many are needed):

- **Matched difference-in-differences on counts** (:mod:`~evalkit.stats.mde.did`:
  :func:`mde_did`, :func:`power_did`, :func:`sample_size_did`): the rate ratio of a Poisson DiD
  (participants' post/pre ratio over their matched controls' post/pre ratio) and the linear
  DiD's difference per person over the window. Its variance is derived in
  :mod:`~evalkit.stats.mde.did_variance` (:func:`did_log_rr_variance`,
  :func:`did_difference_variance`).
- **Paired pre/post change** of a questionnaire score (:mod:`~evalkit.stats.mde.paired`:
  :func:`mde_paired`, :func:`power_paired`, :func:`sample_size_paired`), the paired t-test
  :func:`evalkit.stats.prepost.prepost` runs, through statsmodels' ``TTestPower``.

Each returns a frozen :class:`DidPower` or :class:`PairedPower` (an
:class:`evalkit.stats.result.Result`) with the solved figures, the spec, notes, ``tidy()``,
``summary()``, ``to_dict()``, ``sentence()`` (the plain-English line for a report) and
``plot_power_curve()``. :func:`mde_from_se` (:mod:`~evalkit.stats.mde.wald`) gives Bloom's
(1995) MDE from the standard error of an estimate that has already been computed. Nothing here
imports evalkit's domain modules.

References: Bloom HS (1995) Minimum detectable effects, Evaluation Review 19:547-56; Cameron AC,
Trivedi PK (2013) Regression Analysis of Count Data, 2nd ed., ch. 3 (negative binomial NB2
variance); Frison L, Pocock SJ (1992) Repeated measures in clinical trials, Stat Med 11:1685-704
(pre/post correlation in the variance of a change).
"""

from evalkit.stats.mde.common import TIDY_COLUMNS, SolvedFor
from evalkit.stats.mde.did import DidPower, mde_did, power_did, sample_size_did
from evalkit.stats.mde.did_variance import (
    CountDesign,
    did_difference_variance,
    did_log_rr_variance,
    log_rr_variance,
)
from evalkit.stats.mde.paired import PairedPower, mde_paired, power_paired, sample_size_paired
from evalkit.stats.mde.wald import mde_from_se

__all__ = [
    "TIDY_COLUMNS",
    "CountDesign",
    "DidPower",
    "PairedPower",
    "SolvedFor",
    "did_difference_variance",
    "did_log_rr_variance",
    "log_rr_variance",
    "mde_did",
    "mde_from_se",
    "mde_paired",
    "power_did",
    "power_paired",
    "sample_size_did",
    "sample_size_paired",
]
