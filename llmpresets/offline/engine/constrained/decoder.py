"""Constrained decoding: a source's next-token logits, masked by a grammar, then the sampler.

The engine every structured reply goes through (chat ``response_format``, tool-call arguments,
and any endpoint that needs text from a grammar). Given a next-token step function (from
:func:`~llmpresets.offline.lm.sources.make_token_stepper`), a compiled
:class:`~llmpresets.offline.engine.constrained.grammar.Grammar`, the request's
:class:`~llmpresets.offline.engine.types.SamplingSettings` and a numpy ``Generator``,
:func:`generate_constrained` returns a :class:`~llmpresets.offline.engine.text.Generation`
whose text the grammar accepts whenever it finishes with ``stop``.

One step, as inference engines do it (vLLM, SGLang and llama.cpp with llguidance)::

    source logits (over the source's vocabulary)
      -> log-softmax, scattered onto the tokenizer's ids; holes filled (smoothing)
      -> + shape prior (JSON only: string lengths, item counts, number lengths, prompt words)
      -> + penalties and logit_bias
      -> mask: tokens the grammar forbids get -inf
      -> llmpresets.sampling: temperature, top_k, top_p, min_p; draw

Smoothing gives every grammar-allowed token a finite score, so a grammar can always be
followed: a token outside the source's support scores ``log(DATA_MASS / |data tokens|)`` when
it is a *data token* (JSON punctuation, one- and two-digit numbers, ``true``/``false``/``null``,
end of text),
else ``log(FLOOR_MASS / vocabulary size)``. The floor tokens all share one score, so they are
handled as one class whose fate under top-k / top-p / min-p is computed exactly (the sampler
keeps or cuts tied tokens together, :mod:`._floor`); the ~200,000-entry vocabulary is never
materialised on a step. The result is exactly ``sampling.probabilities`` of the full masked
vector.

What a step costs is mostly fixed work on a few thousand candidates, and its inputs repeat:
a JSON reply meets a few dozen distinct masks, the n-gram model hands back one read-only
array per context, and the JSON state is small. So the mask is written into a buffer
(:meth:`Grammar.mask_buffer`) and read once per distinct mask (:func:`._candidates.mask_view`;
the view that followed a mask and a token is tried first), and a step's prepared draw is kept
per (mask, source array, JSON state, settings): a step seen before draws with one search. A
new step inside a string is settled from what every length of the string shares
(:mod:`._string_step`). The draws, and the random numbers they use, are those of the full
computation.

Bytes the grammar forces (an object's next key, ``":"``) are appended as the tokenizer would
write them, without a draw (llguidance's fast-forward tokens); they count as completion tokens
and report a logprob of 0.

The shape prior (JSON grammars only, :mod:`._json_prior`) makes replies look like data
rather than prose: strings close after a typical length, containers after a few items, numbers
after a few digits; a string's first token may copy a word of ``hints`` (the prompt), so
``{"city": ...}`` after "weather in Paris" tends to say ``"Paris"``.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ....sampling import GREEDY_TEMPERATURE
from ..emitter import Emitter, alternatives, token_bytes, token_bytes_table, token_logprob
from ..types import Generation, TokenLogprob
from .candidates import (
    DATA_MASS,
    FLOOR_MASS,
    BoundedCache,
    Candidates,
    MaskView,
    candidates_for,
    clear_mask_views,
    mask_view,
)
from .floor import NEGLIGIBLE, PreparedDraw, plan_floor_draw, sample_with_floor
from .json_prior import (
    CONTAINER_CLOSE_SLOPE,
    DECISION_BASE,
    HINT_BONUS,
    STRING_CLOSE_SLOPE,
    TYPICAL_ITEMS,
    JsonShape,
    PriorState,
    shape_prior,
    string_close,
)
from .string_step import ListDraw, StringBase, string_base, string_step

if TYPE_CHECKING:
    import tiktoken

    from ..types import SamplingSettings
    from .grammar import Grammar

__all__ = [
    "COMMON_WORDS",
    "CONTAINER_CLOSE_SLOPE",
    "DATA_MASS",
    "FLOOR_MASS",
    "HINT_BONUS",
    "STRING_CLOSE_SLOPE",
    "TYPICAL_ITEMS",
    "TokenStep",
    "clear_caches",
    "generate_constrained",
    "hint_tokens",
    "sample_with_floor",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
TokenStep = Callable[[Sequence[int]], FloatArray]


# --------------------------------------------------------------------------- prompt words


_WORD = re.compile(r"[^\W_]+")
# Words too common to say what a prompt is about (hints, and tool relevance in _structured).
_COMMON_TEXT = (
    "the and for are but not you all any can had her was one our out has his how its may new "
    "now see who did get let put say she too use what when where which while with this that "
    "from have they will would there their about into than then them these those some such "
    "your each many most other only over also just like make made very more tell give please "
    "extract write answer return returns find show list name call tool function value result "
    "results given input output data json reply format schema object"
)
COMMON_WORDS = frozenset(_COMMON_TEXT.split())


def hint_tokens(encoding: tiktoken.Encoding, texts: Iterable[str]) -> IntArray:
    """Token ids of the content words of ``texts`` (with and without a leading space): what
    a reply copies into its strings. Short words, common function words and words that are
    not one token are left out.

    >>> from llmpresets.tokens.encodings import get_encoding
    >>> encoding = get_encoding("o200k_base")
    >>> sorted(encoding.decode([t]) for t in hint_tokens(encoding, ["the weather in Paris"]))
    [' Paris', ' weather', 'Paris', 'weather']
    """
    texts = tuple(texts)
    key = (encoding.name, texts)
    known = _hint_cache.get(key)
    if known is not None:
        return known
    ids: set[int] = set()
    for text in texts:
        for word in set(_WORD.findall(text)):
            if (len(word) < 3 and not word.isdigit()) or word.lower() in COMMON_WORDS:
                continue
            ids.update(_word_tokens(encoding, word))
    found = np.array(sorted(ids), dtype=np.int64)
    found.flags.writeable = False
    if sum(len(text) for text in texts) <= _HINT_TEXT_LIMIT:  # long tool results: not kept
        if len(_hint_cache) >= _WORD_CACHE_LIMIT:
            _hint_cache.clear()
        _hint_cache[key] = found
    return found


# hint_tokens' answers per (encoding, texts), for texts of at most _HINT_TEXT_LIMIT characters.
_hint_cache: dict[tuple[str, tuple[str, ...]], IntArray] = {}
_HINT_TEXT_LIMIT = 1 << 14


_word_cache: dict[tuple[str, str], tuple[int, ...]] = {}
_WORD_CACHE_LIMIT = 8192


def _word_tokens(encoding: tiktoken.Encoding, word: str) -> tuple[int, ...]:
    """The single-token forms of ``word`` (bare and after a space), cached per word: the
    same prompt words come back with every request of a conversation."""
    key = (encoding.name, word)
    tokens = _word_cache.get(key)
    if tokens is None:
        forms = (encoding.encode_ordinary(form) for form in (word, " " + word))
        # A piece of a longer word would be noise on its own.
        tokens = tuple(form[0] for form in forms if len(form) == 1)
        if len(_word_cache) >= _WORD_CACHE_LIMIT:
            _word_cache.clear()
        _word_cache[key] = tokens
    return tokens


# --------------------------------------------------------------------------- steps


@dataclass(eq=False, slots=True)  # (not frozen: one is made at every fresh step)
class _Step:
    """A sampled step's scores (read-only) and how it draws, for the same inputs again."""

    view: weakref.ref[MaskView]
    logits: weakref.ref[FloatArray]
    draw: PreparedDraw | ListDraw


# Steps whose inputs are all fixed objects or values: the mask's view, the source's cached
# (read-only) logits for a context, the JSON state and the sampling settings. The entries
# know the view and the logits by weak references: an id in a key is theirs while they
# live, and the cache holds only its own scores (~15 KB a step inside a string).
_steps: BoundedCache[_Step] = BoundedCache(24 << 20)


def _step_scores(
    view: MaskView,
    model: FloatArray,
    state: PriorState | None,
    candidates: Candidates,
    counts: dict[int, int],
    settings: SamplingSettings,
    bias: tuple[IntArray, FloatArray],
) -> FloatArray:
    """The allowed candidates' scores: source, shape prior, penalties and bias, floor."""
    scores = model[view.allowed]
    if state is not None:
        scores = shape_prior(state, view.classes, view.hint_word, view.copy, scores)
    scores = _adjust(scores, candidates.ids, view.allowed, counts, settings, *bias)
    # Every explicit score sits above the floor class (sample_with_floor's assumption);
    # ``scores`` is this step's own array (the gather above made it), so in place.
    floored: FloatArray = np.maximum(scores, candidates.above_floor, out=scores)
    return floored


def generate_constrained(
    step: TokenStep,
    vocab: IntArray | None,
    encoding: tiktoken.Encoding,
    grammar: Grammar,
    settings: SamplingSettings,
    rng: np.random.Generator,
    *,
    hints: IntArray | None = None,
    json_shape: bool | None = None,
) -> Generation:
    """Sample one reply that follows ``grammar`` (see the module docstring).

    ``step(generated token ids) -> logits`` over ``vocab`` positions (or over token ids when
    ``vocab`` is None), as :func:`~llmpresets.offline.lm.sources.make_token_stepper` returns.
    ``hints``: token ids favoured inside JSON strings (:func:`hint_tokens` of the prompt).
    ``json_shape``: apply the JSON shape prior (default: when the grammar is a JSON schema).
    The reply ends with ``stop`` when the grammar is complete (or end-of-text is drawn where
    the grammar allows it) and with ``length`` at ``settings.max_tokens``; ``stop`` sequences
    cut it as for free text.

    >>> import numpy as np
    >>> from llmpresets.tokens.encodings import get_encoding
    >>> from llmpresets.offline.engine.constrained.grammar import json_schema_grammar
    >>> from llmpresets.offline.engine.types import SamplingSettings
    >>> encoding = get_encoding("o200k_base")
    >>> grammar = json_schema_grammar(encoding, {"type": "object", "properties":
    ...     {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": False})
    >>> reply = generate_constrained(lambda ids: np.zeros(encoding.n_vocab), None, encoding,
    ...     grammar, SamplingSettings(temperature=0), np.random.default_rng(0))
    >>> reply.text, reply.finish_reason
    ('{"ok":false}', 'stop')
    """
    candidates = candidates_for(encoding, vocab, hints)
    ids = candidates.ids
    shape = JsonShape() if (grammar.kind == "json" if json_shape is None else json_shape) else None
    matcher = grammar.matcher()
    mask = grammar.mask_buffer()
    emitter = Emitter(encoding, settings)
    end_of_text = encoding.eot_token
    bias = _bias(settings, ids)
    # Penalties change the scores with every token: such steps are never the same twice.
    repeatable = not (settings.frequency_penalty or settings.presence_penalty)
    settings_key = _settings_key(settings)
    # Steps inside strings settled by _string_step: the settings it handles (top_p alone).
    top_p = settings.top_p
    strings = (
        repeatable
        and not len(bias[0])
        and shape is not None
        and settings.top_k is None
        and settings.min_p is None
        and settings.temperature >= GREEDY_TEMPERATURE
        and top_p is not None
        and 0.0 < top_p < 1.0 - NEGLIGIBLE
    )
    counts: dict[int, int] = {}
    generated: list[int] = []
    last_logits: FloatArray | None = None
    last_model = candidates.hole
    view: MaskView | None = None
    drawn = -1  # the token drawn at ``view``'s step (-1: tokens were forced since)
    hint_key = candidates.hint_key

    def model_for(logits: FloatArray) -> FloatArray:
        """The source's smoothed scores over the candidates (made only when needed: a cached
        step does without them)."""
        nonlocal last_logits, last_model
        # The n-gram model hands back its cached, read-only array for a context it has seen.
        if logits is not last_logits or logits.flags.writeable:
            last_logits, last_model = logits, _cached_model_scores(logits, candidates)
        return last_model

    # Without stop sequences or logprobs the emitter takes the reply's tokens at the end, in
    # one call (the same pieces, in order); the loop watches max_tokens itself.
    plain = not settings.stop and not settings.logprobs
    add = emitter.add
    cap = settings.max_tokens

    known_bytes = token_bytes_table(encoding)

    def emit(token: int, info: TokenLogprob | None) -> None:
        generated.append(token)
        if not repeatable:  # only penalties read the counts
            counts[token] = counts.get(token, 0) + 1
        if shape is not None:
            shape.feed(known_bytes.get(token) or token_bytes(encoding, token))
            hinted = shape.in_string and token in hint_key
            shape.last_hinted = hinted
            if hinted:
                shape.used.add(hint_key[token])
        if not plain:
            add(token, info)

    while not emitter.done and len(generated) < cap:
        if matcher.is_stopped():  # finished, or in error (llguidance stops then too)
            break
        forced = matcher.compute_ff_tokens() if matcher.compute_ff_bytes() else None
        if forced:
            # One call for the group: a reply cut inside it ends here, matcher and all.
            matcher.consume_tokens(forced)
            for token in forced:
                if emitter.done or len(generated) >= cap:
                    break
                info = _certain(encoding, token) if settings.logprobs else None
                emit(token, info)
            drawn = -1
            continue
        words = mask.fill(matcher)
        if view is None:
            view = mask_view(candidates, words, mask.raw)
        elif drawn >= 0:  # the view that followed this one and this token before, if alike
            view = view.follow(drawn, words, mask.raw)
        elif mask.raw != view.words:
            view = mask_view(candidates, words, mask.raw)
        if view.floor_count == 0 and not len(view.allowed):
            break  # nothing allowed: the grammar is done
        logits = step(generated)
        state = shape.prior_state() if shape is not None else None
        cached: _Step | None = None
        model: FloatArray | None = None
        scores: FloatArray | None = None
        key: Hashable = None
        reuse = repeatable and not logits.flags.writeable
        if reuse:
            key = (id(view), id(logits), state, settings_key)
            cached = _steps.get(key)
            if cached is not None and (cached.view() is not view or cached.logits() is not logits):
                cached = None
        if cached is None and reuse and strings and state is not None and state.length:
            # Inside a string only the closing tokens' score changes with the length: the
            # step is settled from what the lengths share (None: left to the full computation).
            model = model_for(logits)
            settled, scores = _string_ready(view, model, logits, state, settings)
            if settled is not None:
                cached = _Step(weakref.ref(view), weakref.ref(logits), settled)
                _steps.put(key, cached, settled.nbytes + 200)
        if cached is None:
            if scores is None:
                model = model_for(logits) if model is None else model
                scores = _step_scores(view, model, state, candidates, counts, settings, bias)
            plan = plan_floor_draw(scores, candidates.floor, view.floor_count, settings)
            if reuse:
                # Kept for the next time these inputs come back: one search then.
                scores.flags.writeable = False
                ready = plan.prepare(scores)
                entry = _Step(weakref.ref(view), weakref.ref(logits), ready)
                _steps.put(key, entry, scores.nbytes + ready.nbytes + 200)
                choice = ready.pick(rng)
            else:
                choice = plan.draw(scores, rng)
        else:
            choice = cached.draw.pick(rng)
        if choice >= 0:
            token = view.allowed_ids.item(choice)
        else:  # one of the tied floor tokens, uniformly (greedy: the lowest id)
            pool = view.floor_pool()
            greedy = settings.temperature < GREEDY_TEMPERATURE
            token = int(pool[0 if greedy else rng.integers(len(pool))])
        if token == end_of_text:
            break
        info = None
        if settings.logprobs:
            model = model_for(logits) if model is None else model
            info = _logprob_info(encoding, model, ids, candidates, token, settings.top_logprobs)
        if not matcher.consume_token(token):
            break  # cannot happen with a correct mask; never loop on it
        emit(token, info)
        drawn = token
    if plain:
        emitter.add_plain(generated)  # finishes with "length" at max_tokens
    if not emitter.done:
        emitter.finish("stop")  # the grammar is complete (or end of text was drawn)
    return emitter.result


# What the string steps of a (mask view, source array, temperature) share (_string_step).
_string_bases: BoundedCache[StringBase] = BoundedCache(16 << 20)


def _string_ready(
    view: MaskView,
    model: FloatArray,
    logits: FloatArray,
    state: PriorState,
    settings: SamplingSettings,
) -> tuple[ListDraw | None, FloatArray | None]:
    """A string step settled by :func:`._string_step.string_step`, or None: the dense path;
    then, when this step made the string base, the step's scores (what :func:`_step_scores`
    makes: the base's scores with the closing tokens' own), which the dense path needs."""
    close = string_close(state)
    if not view.closing.size and close > 0:
        return None, None  # the prior turns to the separators (shape_prior): the dense path
    key = (id(view), id(logits), settings.temperature)
    entry = _string_bases.get(key)
    scores = None
    if entry is None or entry.view() is not view or entry.logits() is not logits:
        built = string_base(view, model, logits, settings.temperature)
        if built is None:
            return None, None
        entry, scores = built
        _string_bases.put(key, entry, entry.nbytes)
    assert settings.top_p is not None
    candidates = view.candidates
    # The dense step raises every score to just above the floor; a closing score never
    # needs it (it is at least DECISION_BASE - 8 nats), but it is the same expression.
    close = max(DECISION_BASE + close, candidates.above_floor)
    settled = string_step(
        entry, close, candidates.floor, view.floor_count, settings.temperature, settings.top_p
    )
    if settled is not None or scores is None:
        return settled, None
    scores[entry.closing] = close  # shape_prior's closing score, floored as _step_scores does
    return None, scores


# Each distinct (sampling settings, logit_bias) as an int, for the step cache's keys. A number
# is never given twice (a forgotten setting gets a new one), so a key never means two settings.
_settings_keys: dict[tuple[object, ...], int] = {}
_settings_numbers = itertools.count()
_SETTINGS_LIMIT = 4096
_settings_lock = threading.Lock()


def _settings_key(settings: SamplingSettings) -> int:
    sampling = (settings.temperature, settings.top_k, settings.top_p, settings.min_p)
    key = (*sampling, settings.logit_bias)
    number = _settings_keys.get(key)
    if number is None:
        with _settings_lock:
            if len(_settings_keys) >= _SETTINGS_LIMIT:
                _settings_keys.clear()
            number = _settings_keys.setdefault(key, next(_settings_numbers))
    return number


def clear_caches() -> None:
    """Forget every cached candidate set, mask view, step and smoothed source array (the
    engine then works as on its first request for a prompt; benchmarks and tests use it)."""
    clear_mask_views()
    _steps.clear()
    _string_bases.clear()
    _score_cache.clear()
    _word_cache.clear()
    _hint_cache.clear()


def _bias(settings: SamplingSettings, ids: IntArray) -> tuple[IntArray, FloatArray]:
    """logit_bias as (candidate slots, values); biased tokens outside the candidates (floor
    tokens) are left out."""
    bias = dict(settings.logit_bias)
    slots = np.searchsorted(ids, list(bias)) if bias else np.zeros(0, dtype=np.int64)
    values = np.array(list(bias.values()), dtype=np.float64)
    if bias:
        inside = (slots < len(ids)) & (ids[np.minimum(slots, len(ids) - 1)] == list(bias))
        slots, values = slots[inside], values[inside]
    return slots, values


# The entries hold the source's array and the candidates, so the ids in a key stay theirs.
_score_cache: BoundedCache[tuple[FloatArray, Candidates, FloatArray]] = BoundedCache(24 << 20)


def _cached_model_scores(logits: FloatArray, candidates: Candidates) -> FloatArray:
    """:func:`_model_scores`, remembered for the n-gram model's cached, read-only arrays (one
    per context, never changed): the requests of an agent loop, and the choices of one,
    revisit contexts. Writable arrays (other sources) are scored afresh every time."""
    if logits.flags.writeable:
        return _model_scores(logits, candidates)
    key = (id(logits), id(candidates))
    hit = _score_cache.get(key)
    if hit is not None and hit[0] is logits and hit[1] is candidates:
        return hit[2]
    model = _model_scores(logits, candidates)
    model.flags.writeable = False
    _score_cache.put(key, (logits, candidates, model), logits.nbytes + model.nbytes)
    return model


def _model_scores(logits: FloatArray, candidates: Candidates) -> FloatArray:
    """Log-softmax of the source on its support, holes filled, over the candidate ids."""
    logits = np.asarray(logits, dtype=np.float64)
    scores = candidates.hole.copy()
    slots = candidates.source_slot
    top = float(logits.max())
    shifted = logits - top
    total = float(np.exp(shifted).sum())  # exp(-inf) = 0: impossible tokens weigh nothing
    values = np.subtract(shifted, math.log(total), out=shifted)
    if float(values.min()) == -math.inf:  # some token impossible: a hole to fill
        values = np.where(np.isfinite(values), values, scores[slots])
    scores[slots] = values
    result: FloatArray = scores
    return result


def _adjust(
    scores: FloatArray,
    ids: IntArray,
    allowed: IntArray,
    counts: dict[int, int],
    settings: SamplingSettings,
    bias_slots: IntArray,
    bias_values: FloatArray,
) -> FloatArray:
    """OpenAI's frequency / presence penalties and logit_bias, on the allowed candidates."""
    frequency, presence = settings.frequency_penalty, settings.presence_penalty
    if not (frequency or presence or len(bias_slots)):
        return scores
    full = np.zeros(len(ids))
    if frequency or presence:
        seen = np.fromiter(counts, dtype=np.int64, count=len(counts))
        times = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        slots = np.searchsorted(ids, seen)
        inside = (slots < len(ids)) & (ids[np.minimum(slots, len(ids) - 1)] == seen)
        full[slots[inside]] -= times[inside] * frequency + presence
    if len(bias_slots):
        full[bias_slots] += bias_values
    adjusted: FloatArray = scores + full[allowed]
    return adjusted


def _certain(encoding: tiktoken.Encoding, token: int) -> TokenLogprob:
    """The logprobs entry of a forced token: certain, its own only alternative."""
    return token_logprob(encoding, token, 0.0, alternatives(encoding, [(token, 0.0)]))


def _logprob_info(
    encoding: tiktoken.Encoding,
    model: FloatArray,
    ids: IntArray,
    candidates: Candidates,
    token: int,
    top: int,
) -> TokenLogprob:
    """The model's (smoothed) log-probability of ``token`` and the best alternatives."""
    peak = float(model.max())
    total = float(np.exp(model - peak).sum()) + candidates.total_floor * math.exp(
        candidates.floor - peak
    )
    log_norm = peak + math.log(total)
    slot = int(np.searchsorted(ids, token))
    own = model[slot] if slot < len(ids) and ids[slot] == token else candidates.floor
    best: list[int] = []
    if top:
        count = min(top, len(model))
        chosen = np.argpartition(-model, count - 1)[:count]
        best = chosen[np.lexsort((chosen, -model[chosen]))].tolist()
    others = alternatives(encoding, ((int(ids[i]), float(model[i]) - log_norm) for i in best))
    return token_logprob(encoding, token, float(own) - log_norm, others)
