"""Gloucestershire-like geography: districts, LSOAs with IMD deciles, Primary Care Networks.

Figures from ``docs/reference/county.md``: six districts with their 2011 LSOA counts (373 in
all), the county's LSOAs by national IMD 2019 decile (12, 19, 18, 25, 31, 50, 47, 50, 62, 59), the
most deprived decile in Gloucester (9), Cheltenham (2) and the Forest of Dean (1), the most
deprived quintile in Gloucester (21), Cheltenham (8), Forest of Dean (1) and Tewkesbury (1), the
Forest of Dean's high *average* deprivation, and 15 PCNs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: District: (LSOAs 2011, mid-2021 population, PCNs, skew of its remaining deciles; < 1 means
#: more deprived than the county's remaining mix, > 1 less deprived).
DISTRICTS: dict[str, tuple[int, int, int, float]] = {
    "Cheltenham": (75, 118_800, 3, 1.1),
    "Cotswold": (51, 91_300, 2, 1.8),
    "Forest of Dean": (50, 87_900, 2, 0.45),
    "Gloucester": (78, 132_400, 4, 0.7),
    "Stroud": (69, 121_500, 2, 1.7),
    "Tewkesbury": (50, 97_000, 2, 1.3),
}
#: LSOAs per national IMD decile in the county (decile 1 = most deprived).
DECILE_COUNTS = np.array([12, 19, 18, 25, 31, 50, 47, 50, 62, 59])
#: Decile 1 and 2 LSOAs by district (county.md section 2.2).
DECILE1 = {"Gloucester": 9, "Cheltenham": 2, "Forest of Dean": 1}
DECILE2 = {"Gloucester": 12, "Cheltenham": 6, "Tewkesbury": 1}


@dataclass(frozen=True)
class Geography:
    """The county's small areas."""

    lsoas: pd.DataFrame  # lsoa, district, imd_decile, pcn, weight


def build_geography(rng: np.random.Generator) -> Geography:
    """Build the 373 LSOAs with districts, IMD deciles and PCNs (deterministic given ``rng``).

    The decile of each LSOA is allocated so that both margins hold exactly: the county's count per
    decile and each district's pockets of deprivation; the remaining deciles are shared out by a
    skew per district (the Forest of Dean's widespread moderate deprivation, Cotswold's and
    Stroud's affluence).
    """
    rows = []
    remaining_slots: list[tuple[float, str]] = []
    for district, (n_lsoa, _, _, skew) in DISTRICTS.items():
        d1 = DECILE1.get(district, 0)
        d2 = DECILE2.get(district, 0)
        rows += [(district, 1)] * d1 + [(district, 2)] * d2
        rest = n_lsoa - d1 - d2
        # Slot positions in (0, 1): skew > 1 pushes a district's LSOAs towards less deprived.
        pos = ((np.arange(rest) + 0.5) / rest) ** (1.0 / skew)
        remaining_slots += [(float(p), district) for p in pos]
    remaining_deciles = np.repeat(np.arange(3, 11), DECILE_COUNTS[2:])
    remaining_slots.sort()
    rows += [(d, int(dec)) for (_, d), dec in zip(remaining_slots, remaining_deciles, strict=True)]
    df = pd.DataFrame(rows, columns=["district", "imd_decile"])
    df = df.sort_values(["district", "imd_decile"], kind="stable").reset_index(drop=True)
    df["lsoa"] = [f"E01{22000 + i:06d}" for i in range(len(df))]

    # Population weight per LSOA: the district's population shared with +-15% noise.
    weights = np.empty(len(df))
    pcns = np.empty(len(df), dtype=object)
    pcn_no = 0
    for district, (_, pop, n_pcn, _) in DISTRICTS.items():
        idx = np.flatnonzero(df["district"].to_numpy() == district)
        w = rng.lognormal(0.0, 0.15, size=idx.size)
        weights[idx] = pop * w / w.sum()
        # PCNs: contiguous blocks of a shuffled order, so each mixes deprivation levels.
        order = rng.permutation(idx.size)
        for k, block in enumerate(np.array_split(order, n_pcn)):
            pcns[idx[block]] = f"U{60101 + pcn_no + k:05d}"
        pcn_no += n_pcn
    df["pcn"] = pcns
    df["weight"] = weights / weights.sum()
    return Geography(lsoas=df[["lsoa", "district", "imd_decile", "pcn", "weight"]])
