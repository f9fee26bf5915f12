"""Structured outputs offline: response_format JSON by constrained decoding, through the SDK."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import jsonschema
import numpy as np
import openai
import pytest
from offline_sdk import sdk
from openai.types.chat import ChatCompletionMessageParam
from pinned_outputs import strict_object
from pydantic import BaseModel
from scipy import stats

from llmpresets import sampling
from llmpresets.offline import OfflineTransport, make_rule
from llmpresets.offline.engine.constrained.decoder import generate_constrained
from llmpresets.offline.engine.constrained.floor import sample_with_floor
from llmpresets.offline.engine.constrained.grammar import json_schema_grammar
from llmpresets.offline.engine.types import SamplingSettings
from llmpresets.tokens.encodings import get_encoding


def user(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


PROMPT = user("Alice is 31, lives in Paris and likes chess. Reply in JSON.")


SCHEMAS: dict[str, dict[str, Any]] = {
    "flat": strict_object(
        {"name": {"type": "string"}, "age": {"type": "integer"}, "ok": {"type": "boolean"}}
    ),
    "nested": strict_object(
        {
            "person": strict_object(
                {"name": {"type": "string"}, "home": strict_object({"city": {"type": "string"}})}
            ),
            "score": {"type": "number"},
        }
    ),
    "array_bounds": strict_object(
        {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4}}
    ),
    "enum": strict_object({"color": {"type": "string", "enum": ["red", "green", "blue"]}}),
    "any_of": strict_object(
        {"value": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]}}
    ),
    "refs": strict_object(
        {
            "owner": {"$ref": "#/$defs/pet"},
            "others": {"type": "array", "items": {"$ref": "#/$defs/pet"}},
        },
        **{
            "$defs": {
                "pet": strict_object(
                    {"kind": {"enum": ["cat", "dog"]}, "legs": {"type": "integer"}}
                )
            }
        },
    ),
    "number_bounds": strict_object(
        {
            "percent": {"type": "number", "minimum": 0, "maximum": 100},
            "count": {"type": "integer", "exclusiveMinimum": 5, "maximum": 9},
        }
    ),
    "pattern": strict_object({"code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"}}),
    "formats": strict_object(
        {
            "when": {"type": "string", "format": "date"},
            "mail": {"type": "string", "format": "email"},
            "id": {"type": "string", "format": "uuid"},
        }
    ),
    "optional": strict_object({"nickname": {"type": ["string", "null"]}, "n": {"type": "integer"}}),
}
SETTINGS: list[dict[str, Any]] = [
    {"temperature": 0},
    {"temperature": 0.7, "top_p": 0.9},
    {"temperature": 1.0},
    {"temperature": 1.6, "top_p": 0.95},
]


def json_schema_format(schema: dict[str, Any], name: str = "answer") -> Any:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_finished_reply_is_valid_for_its_schema(name: str) -> None:
    """For each schema and sampling setting, finished replies validate with jsonschema."""
    schema = SCHEMAS[name]
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    client = sdk(OfflineTransport())
    finished = 0
    for index, settings in enumerate(SETTINGS):
        reply = client.chat.completions.create(
            model="gpt-4o",
            messages=PROMPT,
            response_format=json_schema_format(schema),
            seed=index,
            max_tokens=400,
            **settings,
        )
        choice = reply.choices[0]
        if choice.finish_reason == "stop":
            finished += 1
            assert choice.message.content is not None
            validator.validate(json.loads(choice.message.content))
    assert finished >= 3


def test_json_object_is_a_json_object() -> None:
    """response_format json_object gives a JSON object, compact as the API writes it."""
    client = sdk(OfflineTransport())
    for seed in range(5):
        reply = client.chat.completions.create(
            model="gpt-4o",
            messages=PROMPT,
            response_format={"type": "json_object"},
            seed=seed,
            max_tokens=400,
        )
        content = reply.choices[0].message.content
        assert content is not None
        if reply.choices[0].finish_reason == "stop":
            assert isinstance(json.loads(content), dict)
        assert content.startswith("{")


def test_streamed_and_plain_replies_are_identical_usage_included() -> None:
    """The same seeded structured request streamed joins to the plain reply, same usage."""
    client = sdk(OfflineTransport())
    params: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": PROMPT,
        "response_format": json_schema_format(SCHEMAS["nested"]),
        "seed": 11,
        "temperature": 1.0,
    }
    plain = client.chat.completions.create(**params)
    chunks = list(
        client.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = next(c.usage for c in chunks if c.usage is not None)
    assert text == plain.choices[0].message.content
    assert usage == plain.usage


def test_the_same_seed_gives_the_same_object_and_temperature_changes_values() -> None:
    """A seeded request is a pure function of (seed, request); temperature changes values."""
    params: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": PROMPT,
        "response_format": json_schema_format(SCHEMAS["flat"]),
    }
    first = sdk(OfflineTransport()).chat.completions.create(**params, seed=3, temperature=1.2)
    again = sdk(OfflineTransport(seed=77)).chat.completions.create(
        **params, seed=3, temperature=1.2
    )
    assert first.choices[0].message.content == again.choices[0].message.content
    greedy = {
        sdk(OfflineTransport())
        .chat.completions.create(**params, seed=s, temperature=0)
        .choices[0]
        .message.content
        for s in range(4)
    }
    hot = {
        sdk(OfflineTransport())
        .chat.completions.create(**params, seed=s, temperature=1.5)
        .choices[0]
        .message.content
        for s in range(4)
    }
    assert len(greedy) == 1 and len(hot) > 1


class Person(BaseModel):
    name: str
    age: int
    city: str


def test_parse_with_a_pydantic_model() -> None:
    """chat.completions.parse(response_format=Model) gives a parsed model instance."""
    reply = sdk(OfflineTransport(seed=1)).chat.completions.parse(
        model="gpt-4o", messages=PROMPT, response_format=Person
    )
    parsed = reply.choices[0].message.parsed
    assert isinstance(parsed, Person)
    assert reply.choices[0].finish_reason == "stop"


def test_max_tokens_mid_object_ends_with_length_and_parse_raises() -> None:
    """A cap reached mid-object ends with finish_reason length; parse() raises, as online."""
    client = sdk(OfflineTransport())
    reply = client.chat.completions.create(
        model="gpt-4o",
        messages=PROMPT,
        response_format=json_schema_format(SCHEMAS["nested"]),
        max_tokens=4,
        seed=1,
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 4
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(
            model="gpt-4o", messages=PROMPT, response_format=Person, max_tokens=3
        )


# --------------------------------------------------------------------------- refusals


def error_of(**params: Any) -> dict[str, Any]:
    client = sdk(OfflineTransport())
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", **params)
    body = caught.value.body
    assert isinstance(body, dict)
    return body


def test_json_object_needs_the_word_json_in_the_messages() -> None:
    """json_object without "json" in any message is the API's 400."""
    body = error_of(messages=user("Hi"), response_format={"type": "json_object"})
    assert body["message"] == (
        "'messages' must contain the word 'json' in some form, to use 'response_format' of "
        "type 'json_object'."
    )
    assert body["param"] == "messages"


def test_unknown_response_format_type_is_a_400() -> None:
    """response_format type 'bogus' names the supported values."""
    body = error_of(messages=PROMPT, response_format={"type": "bogus"})
    assert body["message"] == (
        "Invalid value: 'bogus'. Supported values are: 'text', 'json_object', and 'json_schema'."
    )
    assert body["param"] == "response_format.type" and body["code"] == "invalid_value"


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            "In context=(), 'additionalProperties' is required to be supplied and to be false.",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            "In context=(), 'required' is required to be supplied and to be an array including "
            "every key in properties. Missing 'b'.",
        ),
        (
            strict_object({"a": {"type": "string", "minLength": 2}}),
            "In context=('properties', 'a'), 'minLength' is not permitted.",
        ),
        (
            strict_object({"a": strict_object({"b": {"type": "string"}}, allOf=[])}),
            "In context=('properties', 'a'), 'allOf' is not permitted.",
        ),
        (
            {"type": "array", "items": {"type": "string"}},
            "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"array\"'.",
        ),
    ],
)
def test_strict_schema_rules_have_the_apis_wording(schema: dict[str, Any], message: str) -> None:
    """A strict schema that breaks a structured-outputs rule is refused as the API does."""
    body = error_of(messages=PROMPT, response_format=json_schema_format(schema, "thing"))
    assert body["message"] == f"Invalid schema for response_format 'thing': {message}"
    assert body["param"] == "response_format"


def test_non_strict_schema_skips_the_strict_rules() -> None:
    """Without strict, optional properties and free objects are fine (best effort, no 400)."""
    schema: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}}
    reply = sdk(OfflineTransport()).chat.completions.create(
        model="gpt-4o",
        messages=PROMPT,
        seed=2,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    )
    content = reply.choices[0].message.content
    assert content is not None and content.startswith("{")


def test_a_schema_the_engine_cannot_compile_is_a_400_not_a_500() -> None:
    """An invalid regex in a pattern is an API-shaped 400 naming the format."""
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}}
    body = error_of(
        messages=PROMPT,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    )
    assert body["message"].startswith("Invalid schema for response_format 'x': ")
    assert body["param"] == "response_format"


def test_json_schema_needs_a_name() -> None:
    """response_format json_schema without a name is missing_required_parameter."""
    body = error_of(
        messages=PROMPT, response_format={"type": "json_schema", "json_schema": {"schema": {}}}
    )
    assert body["code"] == "missing_required_parameter"
    assert body["param"] == "response_format.json_schema.name"


# --------------------------------------------------------------------------- the maths


ENUM_SCHEMA = strict_object({"color": {"type": "string", "enum": ["red", "green", "blue"]}})


def test_scripted_enum_choice_follows_sampling_probabilities_under_the_mask() -> None:
    """Scripted JSON answers are drawn by sampling.probabilities over the ones the schema
    accepts: 'purple' is masked out, the rest keep their renormalised, tempered weights."""
    table = {
        '{"color":"red"}': 0.4,
        '{"color":"green"}': 0.3,
        '{"color":"purple"}': 0.2,
        '{"color":"blue"}': 0.1,
    }
    rule = make_rule("favourite colour", table)
    transport = OfflineTransport(scripted=[rule])
    client = sdk(transport)
    settings: dict[str, Any] = {"temperature": 0.8}
    total = 2000
    counts: Counter[str] = Counter()
    for seed in range(total // 100):
        reply = client.chat.completions.create(
            model="gpt-4o",
            messages=user("What is your favourite colour? Answer in JSON."),
            response_format=json_schema_format(ENUM_SCHEMA),
            n=100,
            seed=seed,
            **settings,
        )
        counts.update(choice.message.content or "" for choice in reply.choices)
    logits = np.log(list(table.values()))
    logits[2] = -np.inf  # the grammar's mask
    expected = sampling.probabilities(logits, **settings) * total
    observed = [counts[text] for text in table]
    assert observed[2] == 0
    keep = [0, 1, 3]
    result = stats.chisquare([observed[i] for i in keep], [expected[i] for i in keep])
    assert result.pvalue > 1e-3


def test_token_level_enum_choice_follows_sampling_probabilities_under_the_mask() -> None:
    """With a source that scores every token, the draw that picks the enum value follows
    sampling.probabilities of the source's log-softmax masked by the grammar."""
    encoding = get_encoding("o200k_base")
    grammar = json_schema_grammar(encoding, ENUM_SCHEMA)
    logits = np.random.default_rng(0).normal(0, 2, size=encoding.n_vocab)
    settings = SamplingSettings(temperature=0.9, top_p=0.95)
    matcher = grammar.matcher()
    forced: list[int] = []
    while tokens := matcher.compute_ff_tokens():
        matcher.consume_tokens(tokens)
        forced.extend(tokens)
    words = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint32)
    allowed = [t for t in range(encoding.n_vocab) if (int(words[t >> 5]) >> (t & 31)) & 1]
    masked = np.full(encoding.n_vocab, -np.inf)
    masked[allowed] = logits[allowed] - np.log(np.exp(logits).sum())
    expected = sampling.probabilities(masked, **_kwargs(settings))
    by_text = {encoding.decode_single_token_bytes(t).decode(): t for t in allowed}
    capped = SamplingSettings(temperature=0.9, top_p=0.95, max_tokens=len(forced) + 1)
    draws = 600
    counts: Counter[int] = Counter()
    for seed in range(draws):
        reply = generate_constrained(
            lambda ids: logits,
            None,
            encoding,
            grammar,
            capped,
            np.random.default_rng(seed),
            json_shape=False,
        )
        counts[by_text[reply.pieces[len(forced)]]] += 1
    support = sorted(allowed, key=lambda t: -expected[t])
    big = [t for t in support if expected[t] * draws >= 5]
    observed = [counts[t] for t in big]
    wanted = [expected[t] * draws for t in big]
    rest = draws * (1 - sum(expected[t] for t in big))
    if rest >= 5:
        observed.append(draws - sum(observed))
        wanted.append(rest)
    assert len(big) >= 2 and sum(observed) == pytest.approx(sum(wanted), rel=0.01)
    assert stats.chisquare(observed, wanted).pvalue > 1e-3


def _kwargs(settings: SamplingSettings) -> dict[str, Any]:
    return {
        "temperature": settings.temperature,
        "top_k": settings.top_k,
        "top_p": settings.top_p,
        "min_p": settings.min_p,
    }


@pytest.mark.parametrize(
    "settings",
    [
        SamplingSettings(temperature=1.0),
        SamplingSettings(temperature=2.0),
        SamplingSettings(temperature=1.3, top_p=0.5),
        SamplingSettings(temperature=1.0, top_k=3),
        SamplingSettings(temperature=1.0, min_p=0.01),
        SamplingSettings(temperature=0.0),
    ],
)
def test_floor_class_sampling_equals_sampling_over_the_full_vector(
    settings: SamplingSettings,
) -> None:
    """sample_with_floor draws as sampling.probabilities over scores + N tied floor tokens."""
    scores = np.array([-1.0, -2.0, -3.5, -6.0])
    floor, count = -9.0, 40
    full = np.concatenate([scores, np.full(count, floor)])
    expected = sampling.probabilities(full, **_kwargs(settings))
    expected = np.append(expected[:4], expected[4:].sum())
    draws = 6000
    counts = np.zeros(5)
    rng = np.random.default_rng(5)
    for _ in range(draws):
        choice = sample_with_floor(scores, floor, count, settings, rng)
        counts[choice if choice >= 0 else 4] += 1
    keep = expected > 0
    assert counts[~keep].sum() == 0
    if keep.sum() > 1:
        result = stats.chisquare(counts[keep], expected[keep] * draws)
        assert result.pvalue > 1e-3


def test_seeded_structured_replies_match_the_pinned_outputs() -> None:
    """Speed work keeps every seeded JSON reply, logprob, tool call and finish reason of the
    constrained decoder as recorded in tests/data/pinned_outputs.json (regenerate only on
    purpose), whatever the engine's caches hold: each request runs twice."""
    from pinned_outputs import pinned, same_reply, structured_outputs

    expected = pinned()["structured"]
    for _ in range(2):
        actual = structured_outputs()
        assert actual.keys() == expected.keys()
        for key, value in expected.items():
            assert same_reply(actual[key], value), key
