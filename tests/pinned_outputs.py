"""Test helper (not a test module): seeded outputs that speed work must never change.

``python tests/pinned_outputs.py`` rewrites ``tests/data/pinned_outputs.json`` from the current
code; do that only for a deliberate change of the model or the sampler, never to make a speed
change pass. ``tests/test_offline_lm.py`` and ``tests/test_sampling.py`` compare against it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from llmpresets import sampling
from llmpresets.offline import OfflineTransport

PINNED = Path(__file__).parent / "data" / "pinned_outputs.json"

PROMPTS = (
    ("Tell me a story about a dragon.", None),
    ("Write a Python function that returns the largest item in a list.", "code"),
    ("Is 7 a prime number?", "factual"),
    ("Ideas for a birthday party", "brainstorm"),
)
SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "chat": {"temperature": 0.8, "top_p": 0.9},
    "code": {"temperature": 0.2, "top_p": 0.1, "extra_body": {"top_k": 10}},
    "brainstorm": {"temperature": 1.5, "top_p": 0.95},
    "min_p": {"temperature": 1.0, "extra_body": {"min_p": 0.05}},
    "penalties": {"temperature": 0.9, "frequency_penalty": 0.6, "presence_penalty": 0.4},
    "logprobs": {"temperature": 0.7, "logprobs": True, "top_logprobs": 3},
    "n3": {"temperature": 1.0, "n": 3},
}


def _choices(reply: Any) -> list[dict[str, Any]]:
    """A reply's choices as pinned: text, finish reason and (when asked) the logprobs."""
    choices = []
    for choice in reply.choices:
        entry: dict[str, Any] = {"text": choice.message.content, "finish": choice.finish_reason}
        if choice.logprobs is not None and choice.logprobs.content is not None:
            entry["logprobs"] = [
                [item.token, item.logprob, [alt.logprob for alt in item.top_logprobs]]
                for item in choice.logprobs.content
            ]
        choices.append(entry)
    return choices


def chat_outputs() -> dict[str, Any]:
    """Replies of the default offline model through the SDK, per prompt, setting and seed."""
    from offline_sdk import sdk

    client = sdk(OfflineTransport())
    outputs: dict[str, Any] = {}
    for prompt, use_case in PROMPTS:
        headers = {"x-llmpresets-use-case": use_case} if use_case else {}
        for name, settings in SETTINGS.items():
            for seed in (0, 1, 2):
                reply = client.chat.completions.create(
                    model="gpt-4o",
                    messages=[{"role": "user", "content": prompt}],
                    seed=seed,
                    max_tokens=40,
                    extra_headers=headers,
                    **settings,
                )
                outputs[f"{prompt[:24]}|{name}|{seed}"] = _choices(reply)
    # A transport made with a seed: the same sequence on every run.
    seeded = sdk(OfflineTransport(seed=5))
    outputs["transport seed 5"] = [
        seeded.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Say something."}],
            max_tokens=24,
        )
        .choices[0]
        .message.content
        for _ in range(3)
    ]
    return outputs


STRUCTURED_PROMPT = "Alice is 31, lives in Paris and likes chess and tennis. Reply in JSON."


def strict_object(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object schema as strict mode wants it: every property required, no others."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
        **extra,
    }


STRUCTURED_SCHEMAS: dict[str, dict[str, Any]] = {
    "person": strict_object(
        {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "city": {"type": "string"},
            "hobbies": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
            "score": {"type": "number"},
            "member": {"type": "boolean"},
            "kind": {"type": "string", "enum": ["person", "robot"]},
        }
    ),
    "nested": strict_object(
        {
            "owner": {"$ref": "#/$defs/who"},
            "items": {"type": "array", "items": {"$ref": "#/$defs/who"}, "maxItems": 2},
            "value": {
                "anyOf": [{"type": "integer", "minimum": 0, "maximum": 99}, {"type": "null"}]
            },
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
        },
        **{
            "$defs": {"who": strict_object({"name": {"type": "string"}, "ok": {"type": "boolean"}})}
        },
    ),
}
STRUCTURED_SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "chat": {"temperature": 0.8, "top_p": 0.9},
    "code": {"temperature": 0.2, "top_p": 0.1, "extra_body": {"top_k": 10}},
    "min_p": {"temperature": 1.0, "extra_body": {"min_p": 0.05}},
    "penalties": {"temperature": 0.9, "frequency_penalty": 0.6, "presence_penalty": 0.4},
    "logprobs": {"temperature": 0.7, "logprobs": True, "top_logprobs": 2},
    "greedy": {"temperature": 0.0},
    "n2": {"temperature": 1.2, "n": 2},
}
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": strict_object({"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}),
        "strict": True,
    },
}


def structured_outputs() -> dict[str, Any]:
    """Seeded JSON replies and tool calls of the offline model through the SDK: the
    constrained decoder's draws, pinned like the free text's."""
    from offline_sdk import sdk

    client = sdk(OfflineTransport())
    messages: Any = [{"role": "user", "content": STRUCTURED_PROMPT}]
    formats: dict[str, Any] = {
        name: {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
        for name, schema in STRUCTURED_SCHEMAS.items()
    }
    formats["json_object"] = {"type": "json_object"}
    outputs: dict[str, Any] = {}
    for name, response_format in formats.items():
        for setting, settings in STRUCTURED_SETTINGS.items():
            for seed in (0, 1):
                reply = client.chat.completions.create(
                    model="gpt-4o",
                    messages=messages,
                    seed=seed,
                    max_tokens=120,
                    response_format=response_format,
                    **settings,
                )
                outputs[f"{name}|{setting}|{seed}"] = _choices(reply)
    weather: Any = [{"role": "user", "content": "What is the weather in Paris and in Rome?"}]
    tool_choices: dict[str, Any] = {"required": "required", "auto": "auto"}
    for choice_name, tool_choice in tool_choices.items():
        for seed in (0, 1, 2):
            reply = client.chat.completions.create(
                model="gpt-4o",
                messages=weather,
                seed=seed,
                tools=[WEATHER_TOOL],
                tool_choice=tool_choice,
                temperature=0.9,
            )
            message = reply.choices[0].message
            outputs[f"tools|{choice_name}|{seed}"] = {
                "text": message.content,
                "calls": [
                    [call.function.name, call.function.arguments]
                    for call in message.tool_calls or []
                    if call.type == "function"
                ],
                "finish": reply.choices[0].finish_reason,
            }
    return outputs


def _logit_cases() -> dict[str, np.ndarray[Any, np.dtype[np.float64]]]:
    rng = np.random.default_rng(20240601)
    cases: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    for size in (6, 1792, 3000, 200_000):
        z = rng.normal(0.0, 2.0, size)
        z[rng.choice(size, min(5, size), replace=False)] += np.array([14.0, 12.0, 11.0, 10.0, 9.0])[
            : min(5, size)
        ]
        cases[f"peaked {size}"] = z
        cases[f"zipf {size}"] = rng.permutation(
            -1.5 * np.log(np.arange(1, size + 1)) + rng.normal(0.0, 0.05, size)
        )
        cases[f"flat {size}"] = rng.normal(0.0, 1e-3, size)
    masked = rng.normal(0.0, 1.0, 5000)
    masked[rng.choice(5000, 4000, replace=False)] = -np.inf
    cases["masked 5000"] = masked
    return cases


SAMPLE_SETTINGS: dict[str, dict[str, Any]] = {
    "plain": {},
    "T0.8 p0.9": {"temperature": 0.8, "top_p": 0.9},
    "T0.2 p0.1 k10": {"temperature": 0.2, "top_p": 0.1, "top_k": 10},
    "T1.5 p0.95": {"temperature": 1.5, "top_p": 0.95},
    "minp0.05": {"min_p": 0.05},
    "k40 p0.9 minp0.02": {"top_k": 40, "top_p": 0.9, "min_p": 0.02},
    "T0.7 k40": {"temperature": 0.7, "top_k": 40},
    "greedy": {"temperature": 0.0},
}


def sample_outputs() -> dict[str, list[int]]:
    """Draws of ``sampling.sample`` on float64 logits: 12 in a row from one seeded generator,
    then 12 at once with ``size``."""
    outputs: dict[str, list[int]] = {}
    for case, z in _logit_cases().items():
        for name, settings in SAMPLE_SETTINGS.items():
            rng = np.random.default_rng(11)
            draws = [sampling.sample(z, rng=rng, **settings) for _ in range(12)]
            draws += sampling.sample(z, rng=rng, size=12, **settings).tolist()
            outputs[f"{case}|{name}"] = draws
    return outputs


def same_reply(actual: Any, expected: Any) -> bool:
    """Equal, with logprobs to 1e-12 relative: a sum's last bit can depend on the alignment
    numpy's SIMD loops meet, which changes from process to process."""
    if isinstance(expected, float):
        return isinstance(actual, float) and math.isclose(actual, expected, rel_tol=1e-12)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same_reply(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same_reply(actual[key], value) for key, value in expected.items())
        )
    return bool(actual == expected)


def current() -> dict[str, Any]:
    return {
        "chat": chat_outputs(),
        "sample": sample_outputs(),
        "structured": structured_outputs(),
    }


def pinned() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(PINNED.read_text(encoding="utf-8"))
    return loaded


if __name__ == "__main__":
    PINNED.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {PINNED}")
