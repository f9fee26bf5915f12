"""The constrained-decoding engine's caches and buffers change speed, never a draw."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from llmpresets._cache import cache_report, clear_caches
from llmpresets.offline import default_language_model
from llmpresets.offline.engine.constrained import candidates as candidates_module
from llmpresets.offline.engine.constrained.candidates import candidates_for, mask_view
from llmpresets.offline.engine.constrained.decoder import generate_constrained
from llmpresets.offline.engine.constrained.fast import step_cache
from llmpresets.offline.engine.constrained.floor import plan_floor_draw
from llmpresets.offline.engine.constrained.grammar import json_schema_grammar
from llmpresets.offline.engine.constrained.json_prior import JsonShape, PriorState, shape_prior
from llmpresets.offline.engine.constrained.scores import step_scores
from llmpresets.offline.engine.prompt_words import hint_tokens
from llmpresets.offline.engine.types import SamplingSettings
from llmpresets.offline.lm.sources import make_token_stepper
from llmpresets.tokens.encodings import get_encoding

ENCODING = get_encoding("o200k_base")
PROMPT = "Alice is 31, lives in Paris and likes chess and tennis."
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "hobbies": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "score": {"type": "number"},
        "kind": {"enum": ["person", "robot"]},
    },
    "required": ["name", "age", "hobbies", "score", "kind"],
    "additionalProperties": False,
}
TEXT = '{"name":"Alice Smith","age":31,"hobbies":["chess","tennis"],"score":1.5,"kind":"person"}'


def replies(
    settings: SamplingSettings, seeds: range, *, fast: bool = True
) -> list[tuple[str, str]]:
    grammar = json_schema_grammar(ENCODING, SCHEMA)
    source = default_language_model("o200k_base")
    step, vocab = make_token_stepper(source, ENCODING.encode_ordinary(PROMPT), ENCODING)
    hints = hint_tokens(ENCODING, [PROMPT])
    made = []
    for seed in seeds:
        reply = generate_constrained(
            step,
            vocab,
            ENCODING,
            grammar,
            settings,
            np.random.default_rng(seed),
            hints=hints,
            fast=fast,
        )
        made.append((reply.text, reply.finish_reason))
    return made


@pytest.mark.parametrize(
    "settings",
    [
        SamplingSettings(temperature=0.8, top_p=0.9, max_tokens=120),
        SamplingSettings(temperature=1.0, max_tokens=120),
        SamplingSettings(temperature=0.0, max_tokens=120),
        SamplingSettings(temperature=1.0, top_k=5, min_p=0.02, max_tokens=120),
        SamplingSettings(temperature=0.9, logit_bias=((1, -3.0), (12, 2.0)), max_tokens=120),
    ],
)
def test_cached_steps_draw_exactly_as_fresh_ones(settings: SamplingSettings) -> None:
    """Replies made with every cache cleared before each one equal replies made with warm
    caches, in either order, and replies made by the plain maths alone (``fast=False``): a
    cached mask view or step draws the same token with the same random numbers."""
    seeds = range(12)
    cold = []
    for seed in seeds:
        clear_caches()
        cold.extend(replies(settings, range(seed, seed + 1)))
    clear_caches()
    warm = replies(settings, seeds)
    again = replies(settings, seeds)
    assert warm == cold
    assert again == cold
    assert replies(settings, seeds, fast=False) == cold
    for text, finish in cold:
        if finish == "stop":
            json.loads(text)


def test_warm_steps_are_found_in_the_cache() -> None:
    """The same request again reuses its steps (what makes a repeated prompt fast)."""
    clear_caches()
    replies(SamplingSettings(temperature=0.8, top_p=0.9, max_tokens=120), range(3))
    used = {name: used for name, _, used, _ in cache_report()}
    assert used["constrained steps"] > 0
    assert used["constrained mask views"] > 0


def test_the_mask_buffer_holds_what_compute_bitmask_returns() -> None:
    """Grammar.mask_buffer().fill(matcher) writes the bytes compute_bitmask returns, at
    every step of a reply."""
    grammar = json_schema_grammar(ENCODING, SCHEMA)
    matcher = grammar.matcher()
    buffer = grammar.mask_buffer()
    for token in ENCODING.encode(TEXT):
        assert buffer.fill(matcher).tobytes() == matcher.compute_bitmask()
        assert matcher.consume_token(token)


def test_a_mask_view_is_found_again_only_for_the_same_mask() -> None:
    """Equal masks share one view; masks that agree on every sampled word but differ
    elsewhere get views of their own, with the right allowed candidates."""
    clear_caches()
    candidates = candidates_for(ENCODING, None, None)
    words = np.zeros((ENCODING.n_vocab + 31) // 32, dtype=np.uint32)
    words[[0, 1, 2]] = 0xFFFFFFFF
    first = mask_view(candidates, words)
    assert mask_view(candidates, words.copy()) is first
    other = words.copy()
    other[1] = 0  # word 1 is not one of the sampled words (every 31st)
    second = mask_view(candidates, other)
    assert second is not first
    assert second.allowed_ids.tolist() == [*range(32), *range(64, 96)]
    assert mask_view(candidates, words) is first
    assert first.floor_count == 0 and len(first.allowed) == 96


def _full_state(shape: JsonShape) -> PriorState:
    """Every field of the shape, none zeroed (what prior_state may simplify)."""
    kind, commas = shape.stack[-1] if shape.stack else (0, 0)
    return PriorState(
        shape.in_string,
        shape.is_key,
        shape.length,
        shape.last_hinted,
        frozenset(shape.used),
        len(shape.stack),
        kind,
        commas,
        shape.after_value,
        shape.digits,
    )


@pytest.mark.parametrize(
    "text",
    [
        TEXT,
        '{"a":[[1,22,333],{"b":"x y"}],"c":"","d":-12.5e3,"e":[true,false,null]}',
        '[{"k":"Paris"},{"k":"Alice"},{"k":"chess game"}]',
    ],
)
def test_prior_state_keeps_everything_the_prior_reads(text: str) -> None:
    """The prior of ``prior_state()`` (fields the prior ignores zeroed, so more steps are
    found in the cache) equals the prior of the shape's full state, all along a reply."""
    hints = hint_tokens(ENCODING, [PROMPT])
    candidates = candidates_for(ENCODING, None, hints)
    rng = np.random.default_rng(0)
    scores = rng.normal(-8.0, 3.0, len(candidates.ids))
    slots = np.sort(rng.choice(len(candidates.ids), 4000, replace=False))
    slots = np.union1d(slots, np.flatnonzero(candidates.hint_word >= 0))
    classes = candidates_module._gather(candidates.classes, slots)
    hint_word, copy = candidates.hint_word[slots], candidates.copy[slots]
    shape = JsonShape()
    for token in ENCODING.encode(text):
        reduced = shape_prior(shape.prior_state(), classes, hint_word, copy, scores[slots])
        full = shape_prior(_full_state(shape), classes, hint_word, copy, scores[slots])
        np.testing.assert_array_equal(reduced, full)
        shape.feed(ENCODING.decode_single_token_bytes(token))
        shape.last_hinted = shape.in_string and token in candidates.hint_key
        if shape.last_hinted:
            shape.used.add(candidates.hint_key[token])


@pytest.mark.parametrize(
    ("settings", "floor_count"),
    [
        (SamplingSettings(temperature=0.8, top_p=0.9), 190_000),
        (SamplingSettings(temperature=1.0), 40),
        (SamplingSettings(temperature=1.3, min_p=0.01), 0),
    ],
)
def test_a_floor_draw_plan_draws_alike_with_and_without_reuse(
    settings: SamplingSettings, floor_count: int
) -> None:
    """A plan made ready for read-only scores (FloorDraw.prepare, the cached step) draws the
    tokens a fresh plan draws, from the same random numbers."""
    scores = np.random.default_rng(1).normal(-6.0, 2.0, 3000)
    scores.flags.writeable = False
    plan = plan_floor_draw(scores, -40.0, floor_count, settings)
    fresh, kept = np.random.default_rng(9), np.random.default_rng(9)
    expected = [
        plan_floor_draw(scores, -40.0, floor_count, settings).draw(scores, fresh)
        for _ in range(200)
    ]
    ready = plan.prepare(scores)
    assert [ready.pick(kept) for _ in range(200)] == expected
    assert fresh.random() == kept.random()


def test_candidates_follow_a_writable_vocabulary_that_changed_in_place() -> None:
    """A read-only vocabulary array is known by identity; a writable one is read again, so
    changing it in place gives candidates for the new contents."""
    fixed = np.arange(100, 200, dtype=np.int64)
    fixed.flags.writeable = False
    assert candidates_for(ENCODING, fixed, None) is candidates_for(ENCODING, fixed, None)
    vocab = np.arange(100, 200, dtype=np.int64)
    before = candidates_for(ENCODING, vocab, None)
    vocab[0] = 5000
    after = candidates_for(ENCODING, vocab, None)
    assert 5000 in after.ids and 5000 not in before.ids


STRING_SETTINGS = [
    SamplingSettings(temperature=0.8, top_p=0.9, max_tokens=120),
    SamplingSettings(temperature=1.0, top_p=0.95, max_tokens=120),
    SamplingSettings(temperature=0.3, top_p=0.5, max_tokens=120),
    SamplingSettings(temperature=1.4, top_p=0.99, max_tokens=120),
]


def test_string_steps_settle_exactly_as_the_dense_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step the string-step shortcut settles inside a string keeps the dense step's
    tokens with bit-identical running sums of their weights (so the same draws); a flat step
    it leaves to the dense path gets the dense step's scores bit for bit from the base just
    made; and the replies are those of the plain maths alone (``fast=False``)."""
    real = step_cache.string_ready
    settled, flat = [], []

    def checked(view: Any, model: Any, logits: Any, state: Any, settings: Any) -> Any:
        ready, given = real(view, model, logits, state, settings)
        none: Any = np.zeros(0, dtype=np.int64)
        scores = step_scores(
            view, model, state, view.candidates, {}, settings, (none, none.astype(float))
        )
        if given is not None:  # a flat step's scores, from the string base just made
            assert ready is None
            assert given.tobytes() == scores.tobytes()  # bit for bit
            flat.append(state.length)
        if ready is not None:
            dense = plan_floor_draw(scores, view.candidates.floor, view.floor_count, settings)
            expected = dense.prepare(scores)
            assert (expected.mass, expected.total) == (0.0, 0.0)  # no coin for the floor
            assert expected.prepared is not None
            single = expected.prepared.single
            if single is not None:
                assert ready.slots == [single]
            else:
                tokens, weight = expected.prepared.tokens, expected.prepared.weight
                assert tokens is not None and weight is not None
                assert ready.slots == tokens.tolist()
                assert ready.cumulative == weight.cumsum().tolist()  # bit for bit
            settled.append(state.length)
        return ready, given

    fast = {}
    monkeypatch.setattr(step_cache, "string_ready", checked)  # a spy: it answers as before
    for settings in STRING_SETTINGS:
        clear_caches()
        fast[settings] = replies(settings, range(40))
    assert len(settled) > 50 and len(set(settled)) > 5  # many steps, at many lengths
    assert len(flat) > 5  # and flat steps, left to the dense path with the base's scores
    for settings in STRING_SETTINGS:
        assert replies(settings, range(40), fast=False) == fast[settings]


def test_the_token_stepper_reads_each_replys_own_tokens() -> None:
    """One stepper serves every reply and tool call of a request: a new list of ids (another
    reply, another function's arguments) is read as itself, never as the last reply's prefix
    (a shorter or a longer one)."""
    source = default_language_model("o200k_base")
    prompt = ENCODING.encode_ordinary(PROMPT)

    def fresh(ids: list[int]) -> Any:
        step, _ = make_token_stepper(source, prompt, ENCODING)
        return step(ids)

    words = ENCODING.encode_ordinary(" the cat sat on the mat and the dog ran off")
    other = ENCODING.encode_ordinary(" a bird sang in a tree by the old river")
    step, _ = make_token_stepper(source, prompt, ENCODING)
    first: list[int] = []
    for token in words:
        first.append(token)
        step(first)
    for ids in (other[:3], other[:12], words[:1]):  # shorter, longer, then a prefix
        reply: list[int] = []
        for token in ids:
            reply.append(token)
            assert np.array_equal(step(reply), fresh(list(reply)))


MASK_SCHEMAS: list[dict[str, Any]] = [
    SCHEMA,
    {"type": "object"},  # response_format json_object
    {
        "type": "object",
        "properties": {
            "code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$"},
            "kind": {"enum": ["a b", "tab\\t", "line"]},
            "when": {"type": "string", "format": "date"},
            "size": {"type": "number", "minimum": 0, "maximum": 10},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 3},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
        },
        "required": ["code", "kind", "when", "size", "tags", "either"],
        "additionalProperties": False,
    },
]


@pytest.mark.parametrize("encoding_name", ["o200k_base", "cl100k_base"])
def test_json_grammars_mask_as_with_the_whole_tokenizer(encoding_name: str) -> None:
    """JSON grammars run on llguidance's tokenizer without the multi-byte tokens that hold a
    raw control character (compact JSON never contains one). At every step of many replies
    the masks, the forced bytes and the forced tokens are those of the whole tokenizer, and
    the whole tokenizer never allows a token that was left out."""
    import json

    import llguidance

    from llmpresets.offline.engine.constrained.grammar import _CONTROL, tokenizer_for

    encoding = get_encoding(encoding_name)
    whole = tokenizer_for(encoding)
    left_out = [
        token
        for data, token in encoding._mergeable_ranks.items()
        if len(data) > 1 and _CONTROL.search(data)
    ]
    assert len(left_out) > 1000
    settings = SamplingSettings(temperature=1.2, top_p=0.98, max_tokens=80)
    source = default_language_model(encoding_name)
    step, vocab = make_token_stepper(source, encoding.encode_ordinary(PROMPT), encoding)
    steps = 0
    for schema in MASK_SCHEMAS:
        grammar = json_schema_grammar(encoding, schema)
        text = json.dumps(schema, separators=(",", ":"))
        compiled = llguidance.LLMatcher.grammar_from_json_schema(
            text, overrides={"whitespace_flexible": False}
        )
        reference = llguidance.LLMatcher(whole, compiled, log_level=0)
        for seed in range(6):
            reply = generate_constrained(
                step, vocab, encoding, grammar, settings, np.random.default_rng(seed)
            )
            tokens = encoding.encode(reply.text)
            ours, theirs = grammar.matcher(), reference.deep_copy()
            for token in [*tokens, None]:
                mask = np.frombuffer(theirs.compute_bitmask(), dtype=np.uint8)
                assert ours.compute_bitmask() == mask.tobytes()
                assert not np.unpackbits(mask, bitorder="little")[left_out].any()
                assert ours.compute_ff_bytes() == theirs.compute_ff_bytes()
                forced = theirs.deep_copy().compute_ff_tokens()
                assert ours.deep_copy().compute_ff_tokens() == forced
                steps += 1
                if token is None or not theirs.consume_token(token):
                    break
                assert ours.consume_token(token)
    assert steps > 300
