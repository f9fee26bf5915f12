"""Shared timing for the benchmarks: interleaved rounds, medians, min-max, ratios.

Every contender is timed once per round, in an order that rotates from round to round, so
a slow spell of a shared machine lands on all of them alike; each figure is the median over
the rounds, shown with the fastest and slowest round. A ratio is a median over the floor's
median, both measured in the same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Seconds per call over the rounds: median, fastest and slowest round."""

    median: float
    low: float
    high: float

    def show(self, unit: str = "us") -> str:
        scale = {"us": 1e6, "ms": 1e3, "s": 1.0}[unit]
        return f"{self.median * scale:9.1f} {unit} [{self.low * scale:.1f}-{self.high * scale:.1f}]"


def timing(samples: list[float]) -> Timing:
    return Timing(statistics.median(samples), min(samples), max(samples))


def interleaved(
    contenders: Mapping[str, Callable[[], object]],
    *,
    rounds: int,
    calls: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Timing]:
    """Seconds per call of each contender: ``rounds`` rounds of ``calls`` calls each, the
    contenders' order rotating every round (each is called once untimed first, to warm up).

    ``clock`` is wall time by default; ``time.thread_time`` counts only this thread's CPU time,
    which a shared machine's other processes cannot inflate (for single-threaded work)."""
    names = list(contenders)
    for name in names:
        contenders[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            function = contenders[name]
            started = clock()
            for _ in range(calls):
                function()
            samples[name].append((clock() - started) / calls)
    return {name: timing(values) for name, values in samples.items()}


def verdict(ratio: float, target: float) -> str:
    return f"{'PASS' if ratio <= target else 'FAIL'} (target <= {target:g}x)"
