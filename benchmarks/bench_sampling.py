"""How fast is ``llmpresets.sampling.sample`` against the floor of any softmax sampler?

The floor is one pass over the logits in their own dtype, the least any sampler must do:
max, subtract, exp, sum (in place, into a preallocated buffer, and no division). Each case is
measured on float32 logits (what models emit) and on float64, against the floor in the same
dtype, in interleaved rounds (medians, with the fastest and slowest round). Times are this
thread's CPU time (``time.thread_time``; all of it is single-threaded numpy): on a shared
machine, wall time also counts the turns other processes take, which land on some rounds and
not others and, past a load of about one per core, on most rounds of the longer calls. A round
times one call on a 200,000-token vocabulary (20 on a small one).

(a) Peaked, LLM-like logits (a few standouts over normal noise; Zipf-like), 200,000 tokens,
    with typical presets. Target: at most 2x the float32 floor.
(b) Flat logits (small noise: the nucleus is most of the vocabulary, so top_p must find its
    threshold without sorting everything), 200,000 tokens. Target: at most 3x the float32 floor.
(c) A 1,792-token vocabulary (the packaged offline model's), where fixed costs dominate:
    ``sample()``, a ``Sampler`` with its settings checked once, and a ``Sampler`` reusing the
    prepared distribution of a read-only array (what the offline loop does on a repeated
    context).

Run: ``python benchmarks/bench_sampling.py [--rounds N] [--seed S]`` (``--seed`` draws other logits
of the same shapes: the targets hold for any of them, not just the default arrays).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from _timing import interleaved, verdict

from llmpresets import sampling

Logits = npt.NDArray[np.floating[Any]]
SIZE = 200_000
PRESETS: dict[str, dict[str, Any]] = {
    "T0.8 p0.9": {"temperature": 0.8, "top_p": 0.9},
    "T1.0 p0.95 minp0.05": {"temperature": 1.0, "top_p": 0.95, "min_p": 0.05},
    "T0.7 k40": {"temperature": 0.7, "top_k": 40},
}
PEAKED_TARGET = 2.0
FLAT_TARGET = 3.0


def floor_for(z: Logits) -> Callable[[], object]:
    """max, subtract, exp, sum over ``z`` in its own dtype, into a preallocated buffer."""
    buffer = np.empty_like(z)

    def floor() -> object:
        np.subtract(z, z.max(), out=buffer)
        np.exp(buffer, out=buffer)
        return np.add.reduce(buffer)

    return floor


def peaked(size: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    z = rng.normal(0.0, 2.0, size)
    z[rng.choice(size, 5, replace=False)] += np.array([14.0, 12.0, 11.0, 10.0, 9.0])
    return z


def zipf(size: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    return rng.permutation(-1.5 * np.log(np.arange(1, size + 1)) + rng.normal(0.0, 0.05, size))


def flat(scale: float) -> Callable[[int, np.random.Generator], npt.NDArray[np.float64]]:
    def make(size: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        return rng.normal(0.0, scale, size)

    return make


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--seed", type=int, default=2024, help="seed of the logits drawn")
    arguments = parser.parse_args()
    rounds = arguments.rounds
    rng = np.random.default_rng(arguments.seed)
    failures = 0
    header = f"{'case':<54}{'dtype':>8}  {'sample: median [min-max]':>30}  {'floor':>9}  ratio"
    print(f"CPU time of this thread, {rounds} interleaved rounds, logits seed {arguments.seed}")
    print(header)
    print("-" * (len(header) + 24))
    families: list[tuple[str, str, Callable[[int, np.random.Generator], Any], float]] = [
        ("a", "peaked: normal + 5 standouts", peaked, PEAKED_TARGET),
        ("a", "peaked: zipf 1.5", zipf, PEAKED_TARGET),
        ("b", "flat: normal(0, 1e-3)", flat(1e-3), FLAT_TARGET),
        ("b", "flat: normal(0, 0.05)", flat(0.05), FLAT_TARGET),
    ]
    for part, family, make, target in families:
        base = make(SIZE, rng)
        for dtype in (np.float32, np.float64):
            z = base.astype(dtype)
            contenders: dict[str, Callable[[], object]] = {"floor": floor_for(z)}
            draw = np.random.default_rng(7)
            for preset, options in PRESETS.items():
                contenders[preset] = partial(sampling.sample, z, rng=draw, **options)
            timings = interleaved(contenders, rounds=rounds, calls=1, clock=time.thread_time)
            floor = timings["floor"].median
            for preset in PRESETS:
                ratio = timings[preset].median / floor
                ok = ratio <= target
                failures += not ok
                print(
                    f"({part}) {family + ', ' + preset:<50}{np.dtype(dtype).name:>8}  "
                    f"{timings[preset].show():>30}  {floor * 1e6:7.0f}us  {ratio:5.2f}  "
                    f"{verdict(ratio, target)}"
                )
    print()
    print("(c) 1,792-token vocabulary (the packaged model's), chat preset T0.8 p0.9, float64")
    z64 = peaked(1792, rng)
    frozen = z64.copy()
    frozen.setflags(write=False)
    sampler = sampling.Sampler(temperature=0.8, top_p=0.9)
    draw = np.random.default_rng(7)
    small = interleaved(
        {
            "floor": floor_for(z64),
            "sample()": partial(sampling.sample, z64, rng=draw, temperature=0.8, top_p=0.9),
            "Sampler.sample": partial(sampler.sample, z64, draw),
            "Sampler.sample, reused": partial(sampler.sample, frozen, draw, reuse=True),
        },
        rounds=rounds,
        calls=20,
        clock=time.thread_time,
    )
    for name, measured in small.items():
        ratio = measured.median / small["floor"].median
        print(f"    {name:<28}{measured.show()}  ratio {ratio:.2f}")
    print()
    print("all targets met" if not failures else f"{failures} target(s) missed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
