"""evalkit.stats.matching: greedy nearest-neighbour propensity-score matching on any DataFrame.

>>> import evalkit as ek  # doctest: +SKIP
>>> m = ek.match(df, treatment="treat", covariates=["age", "sex"], ratio=3)  # doctest: +SKIP
>>> m.balance()  # doctest: +SKIP
"""

from evalkit.stats.matching.nearest import match
from evalkit.stats.matching.result import MatchResult

__all__ = ["MatchResult", "match"]
