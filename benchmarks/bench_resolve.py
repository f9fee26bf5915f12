"""resolve_params per call: a preset adapted to a model and endpoint, in microseconds.

The floor is the cheapest way to get the same kwargs with no adaptation at all: a dict copy of
the precomputed answer, measured in the same run (interleaved rounds, medians with the fastest
and slowest round). What resolve_params adds is the preset lookup, the model lookup
(snapshots, aliases, families) and the rule walk of DESIGN §5. Per-call overrides add their
range checks on top (one case below).

Run: python benchmarks/bench_resolve.py [--rounds N] [--calls N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import interleaved

from llmpresets import load_presets, resolve_params
from llmpresets.config.params import Api

CASES: tuple[tuple[str, str, Api, dict[str, Any]], ...] = (
    ("code", "gpt-4o", "chat", {}),
    ("creative", "gpt-6-sol", "responses", {}),
    ("code", "gpt-6.2-astra", "chat", {}),
    ("chat", "gpt-5.1-2025-11-13", "chat", {}),
    ("brainstorm", "gpt-6.9-sol", "responses", {}),  # not in the registry: family rules
    ("code", "gpt-6-sol", "chat", {"temperature": 0.1, "reasoning_effort": "none"}),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    book = load_presets()
    print(f"resolve_params per call ({args.rounds} interleaved rounds x {args.calls} calls)")
    print(f"  {'case':<58} {'resolve_params':>28} {'floor (dict copy)':>28}")
    for use_case, model, api, overrides in CASES:
        answer = resolve_params(use_case, model, api=api, config=book, **overrides)

        def floor(answer: dict[str, Any] = answer) -> object:
            return dict(answer)

        def ours(
            use_case: str = use_case,
            model: str = model,
            api: Api = api,
            overrides: dict[str, Any] = overrides,
        ) -> object:
            return resolve_params(use_case, model, api=api, config=book, **overrides)

        results = interleaved(
            {"floor": floor, "resolve_params": ours}, rounds=args.rounds, calls=args.calls
        )
        given = f" +{','.join(overrides)}" if overrides else ""
        case = f"{use_case} {model} {api}{given}"
        print(f"  {case:<58} {results['resolve_params'].show():>28} {results['floor'].show():>28}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
