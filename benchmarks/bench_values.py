"""What reading values from the conversation costs a structured reply, measured in one run.

1. Reading alone: a new conversation's spans (the spans cache cleared before each read) and
   every field's candidates for the schema of ``bench_structured.py``, against one structured
   reply made without values (the engine's ``generate_constrained``, the chat preset). Target
   (issue 20): reading <= 20% of a structured reply's time.
2. Whole replies, interleaved: the same request with values read (a fresh read each time) and
   without. A reply with values forces the values' tokens instead of drawing them, so it may
   be faster than one without; the figure is for scale.
3. A plain chat call reads nothing: ``make_plan`` returns before reading when a request has
   neither tools nor a JSON format (``bench_offline.py`` measures that path).

Run: ``python benchmarks/bench_values.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from _timing import interleaved, verdict

from llmpresets.offline import default_language_model
from llmpresets.offline.engine.constrained.decoder import generate_constrained
from llmpresets.offline.engine.structured import closed_grammar
from llmpresets.offline.engine.types import SamplingSettings
from llmpresets.offline.engine.values import read_conversation
from llmpresets.offline.engine.values.matching import candidates, describe
from llmpresets.offline.engine.values.spans import clear_spans
from llmpresets.offline.lm.sources import make_token_stepper
from llmpresets.tokens.encodings import get_encoding

TARGET_SHARE = 0.20
PROMPT = (
    "Alice Martin is 31, lives in Paris and likes chess and tennis. She is a member, "
    "email alice.martin@example.com, member id M-20931."
)
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You extract profiles."},
    {"role": "user", "content": PROMPT},
]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "city": {"type": "string"},
        "hobbies": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
        "score": {"type": "number"},
        "member": {"type": "boolean"},
        "kind": {"type": "string", "enum": ["person", "robot"]},
        "note": {"type": "string"},
        "country": {"type": "string"},
        "email": {"type": "string"},
        "member_id": {"type": "string"},
    },
    "additionalProperties": False,
}
SCHEMA["required"] = list(SCHEMA["properties"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    encoding = get_encoding("o200k_base")
    grammar = closed_grammar(encoding, SCHEMA)
    source = default_language_model("o200k_base")
    step, vocab = make_token_stepper(source, encoding.encode_ordinary(PROMPT), encoding)
    settings = SamplingSettings(temperature=0.8, top_p=0.9, max_tokens=400)
    fields = [
        describe(child, name, SCHEMA, required=True) for name, child in SCHEMA["properties"].items()
    ]
    seeds = iter(range(10**9))

    def read() -> None:
        clear_spans()
        values = read_conversation(MESSAGES)
        assert values is not None
        for field in fields:
            candidates(field, values.spans, latest_text=values.latest_text)

    def without_values() -> None:
        generate_constrained(
            step, vocab, encoding, grammar, settings, np.random.default_rng(next(seeds))
        )

    def with_values() -> None:
        clear_spans()
        values = read_conversation(MESSAGES)
        assert values is not None
        guide = values.guide(SCHEMA, encoding, settings)
        generate_constrained(
            step,
            vocab,
            encoding,
            grammar,
            settings,
            np.random.default_rng(next(seeds)),
            values=guide,
        )

    timings = interleaved(
        {"read": read, "reply without values": without_values, "reply with values": with_values},
        rounds=args.rounds,
        calls=args.calls,
    )
    for name, timing in timings.items():
        print(f"{name:22}: {timing.show('ms')}")
    share = timings["read"].median / timings["reply without values"].median
    print(f"reading / a structured reply: {share:.1%}  {verdict(share, TARGET_SHARE)}")
    whole = timings["reply with values"].median / timings["reply without values"].median
    print(f"reply with values / without: {whole:.2f}x (values are forced, not drawn)")


if __name__ == "__main__":
    main()
