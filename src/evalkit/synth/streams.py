"""Named random streams, and what every step of one generation shares.

Everything is drawn from one ``numpy.random.SeedSequence`` split into the named streams of
:data:`STREAMS`; a step asks for a sub-stream by name and key (a chunk of people, a
programme), and every sub-stream is independent of the others, so the order in which steps ask
for their generators never changes a draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from evalkit.config import Programme
from evalkit.synth.calendar import Calendar
from evalkit.synth.world import World

__all__ = ["CHUNK", "STREAMS", "Generation", "n_chunks", "spawn_streams", "stream_rng"]

#: People simulated at a time (bounds memory at county scale).
CHUNK = 20_000
STREAMS = (
    "geography", "population", "ids", "need", "episodes", "counts", "referrals", "attendance",
    "participants", "events", "questionnaires", "faults", "rereferrals", "nhs_layout",
    "submissions",
)  # fmt: skip
# New streams go at the end: spawn() gives child i the key (i,), so appending one never changes
# the draws of the others (``nhs_layout``: the NHS-shaped extracts' codes and noise rows;
# ``submissions``: the day each referral row was submitted, ``referrals.submitted_on``).


def spawn_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """One seed sequence per named stream of :data:`STREAMS`."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return dict(zip(STREAMS, children, strict=True))


def stream_rng(ss: np.random.SeedSequence, *key: int) -> np.random.Generator:
    """A generator for a sub-stream (e.g. one chunk), independent of the other sub-streams."""
    return np.random.default_rng(
        np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, *key))
    )


def n_chunks(n: int) -> int:
    """Chunks of :data:`CHUNK` people needed for ``n`` people."""
    return (n + CHUNK - 1) // CHUNK


@dataclass
class Generation:
    """What every step of one generation shares."""

    cal: Calendar
    streams: dict[str, np.random.SeedSequence]
    settings: tuple[str, ...]
    programmes: dict[str, Programme]
    slugs: list[str]  # programmes in slug order (the order of their streams and of ties)
    regime: str
    n_full: int  # people drawn (the whole county, also when only the pool is written)
    bar: tqdm
    world: World  # legacy or hard (its calendar is ``cal``, its settings ``settings``)

    def rng(self, stream: str, *key: int) -> np.random.Generator:
        """The generator of one named stream (and sub-stream ``key``)."""
        return stream_rng(self.streams[stream], *key)
