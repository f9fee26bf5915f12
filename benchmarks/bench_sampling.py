"""How fast is ``llmpresets.sampling.sample`` against plain numpy baselines, in the same run?

(a) Peaked, LLM-like logits with typical presets vs a one-pass numpy softmax (max, subtract,
    exp, sum, divide; in place, so it is the fastest plain softmax) of the same logits.
    Target: at most 2x. The point: no full sort of the vocabulary when the nucleus is small.
(b) Flat logits (all equal, and tiny noise), where the nucleus is most of the vocabulary, vs a
    full ``np.argsort`` of the logits. Target: at most 1.5x.
(c) Per-call time on a small (3,000-token) vocabulary, where call overhead dominates.

Run: ``python benchmarks/bench_sampling.py``. Times are medians over repeated calls.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from llmpresets import sampling

FloatArray = npt.NDArray[np.float64]

VOCABULARIES = (50_000, 128_000, 200_000)
PRESETS: dict[str, dict[str, Any]] = {
    "T0.8 p0.9": {"temperature": 0.8, "top_p": 0.9},
    "T1.0 p0.95 minp0.05": {"temperature": 1.0, "top_p": 0.95, "min_p": 0.05},
}
PEAKED_TARGET = 2.0
FLAT_TARGET = 1.5


def median_seconds(function: Callable[[], object], budget: float = 0.25) -> float:
    """Median time of one call, over repeated calls filling about ``budget`` seconds."""
    function()  # warm up
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-7)
    repeats = max(5, min(2000, int(budget / once)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def softmax(z: FloatArray) -> FloatArray:
    e: FloatArray = np.subtract(z, z.max())
    np.exp(e, out=e)
    e /= e.sum()
    return e


def normal_plus_standouts(size: int, rng: np.random.Generator) -> FloatArray:
    """normal(0, 2) logits plus five standouts: a nucleus of a few tokens."""
    z = rng.normal(0.0, 2.0, size)
    z[rng.choice(size, 5, replace=False)] += np.array([14.0, 12.0, 11.0, 10.0, 9.0])
    return z


def zipf_like(size: int, rng: np.random.Generator) -> FloatArray:
    """Logits of p(rank) ~ rank^-1.5, shuffled: a few tokens carry the nucleus over a long tail."""
    z = -1.5 * np.log(np.arange(1, size + 1)) + rng.normal(0.0, 0.05, size)
    return rng.permutation(z)


def main() -> int:
    rng = np.random.default_rng(2024)
    draw = np.random.default_rng(7)
    failures = 0
    header = f"{'case':<52}{'vocab':>8}{'sample':>11}{'baseline':>11}{'ratio':>7}  result"
    print(header)
    print("-" * len(header))

    def row(case: str, size: int, ours: float, base: float, target: float, name: str) -> None:
        nonlocal failures
        ratio = ours / base
        ok = ratio <= target
        failures += not ok
        verdict = f"{'PASS' if ok else 'FAIL'} (<= {target}x {name})"
        print(
            f"{case:<52}{size:>8}{ours * 1e6:>9.0f}us{base * 1e6:>9.0f}us{ratio:>7.2f}  {verdict}"
        )

    for size in VOCABULARIES:
        for family, make in (("normal+standouts", normal_plus_standouts), ("zipf", zipf_like)):
            z = make(size, rng)
            base = median_seconds(partial(softmax, z))
            for preset, options in PRESETS.items():
                kept = np.count_nonzero(sampling.probabilities(z, **options))
                ours = median_seconds(partial(sampling.sample, z, rng=draw, **options))
                case = f"(a) {family}, {preset} [{kept} kept]"
                row(case, size, ours, base, PEAKED_TARGET, "softmax")
    for size in VOCABULARIES:
        for family, z in (
            ("all equal", np.zeros(size)),
            ("tiny noise", rng.normal(0.0, 1e-6, size)),
        ):
            base = median_seconds(partial(np.argsort, z))
            for preset, options in PRESETS.items():
                ours = median_seconds(partial(sampling.sample, z, rng=draw, **options))
                row(f"(b) flat {family}, {preset}", size, ours, base, FLAT_TARGET, "argsort")

    print()
    print("(c) small vocabulary, 3,000 tokens: time per sample() call")
    z = normal_plus_standouts(3_000, rng)
    print(f"    {'softmax baseline':<34}{median_seconds(lambda: softmax(z)) * 1e6:>7.1f} us")
    small: dict[str, dict[str, Any]] = {
        "no filters": {},
        "greedy (T=0)": {"temperature": 0.0},
        "T0.7 top_k 40": {"temperature": 0.7, "top_k": 40},
        **PRESETS,
    }
    for preset, options in small.items():
        ours = median_seconds(partial(sampling.sample, z, rng=draw, **options))
        print(f"    {preset:<34}{ours * 1e6:>7.1f} us")
    print()
    print("all targets met" if not failures else f"{failures} target(s) missed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
