"""Constrained decoding: a source's next-token logits, masked by a grammar, then the sampler.

The engine every structured reply goes through (chat ``response_format``, tool-call arguments,
and any endpoint that needs text from a grammar). Given a next-token step function (from
:func:`~llmpresets.offline._sources.make_token_stepper`), a compiled
:class:`~llmpresets.offline._grammar.Grammar`, the request's
:class:`~llmpresets.offline._request.SamplingSettings` and a numpy ``Generator``,
:func:`generate_constrained` returns a :class:`~llmpresets.offline._generate.Generation`
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
keeps or cuts tied tokens together); the ~200,000-entry vocabulary is never materialised on a
step. The result is exactly ``sampling.probabilities`` of the full masked vector.

Bytes the grammar forces (an object's next key, ``":"``) are appended as the tokenizer would
write them, without a draw (llguidance's fast-forward tokens); they count as completion tokens
and report a logprob of 0.

The shape prior (JSON grammars only, :mod:`._json_prior`) makes replies look like data
rather than prose: strings close after a typical length, containers after a few items, numbers
after a few digits; a string's first token may copy a word of ``hints`` (the prompt), so
``{"city": ...}`` after "weather in Paris" tends to say ``"Paris"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ._generate import Generation, TokenLogprob, _Emitter, _token_bytes
from ._json_prior import (
    CONTAINER_CLOSE_SLOPE,
    HINT_BONUS,
    PROPER_BONUS,
    STRING_CLOSE_SLOPE,
    TYPICAL_ITEMS,
    JsonShape,
    TokenClasses,
    classes_for,
    shape_prior,
)
from ._sources import token_text

if TYPE_CHECKING:
    import tiktoken

    from ._grammar import Grammar
    from ._request import SamplingSettings

__all__ = [
    "COMMON_WORDS",
    "CONTAINER_CLOSE_SLOPE",
    "DATA_MASS",
    "FLOOR_MASS",
    "HINT_BONUS",
    "STRING_CLOSE_SLOPE",
    "TYPICAL_ITEMS",
    "TokenStep",
    "generate_constrained",
    "sample_with_floor",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
TokenStep = Callable[[Sequence[int]], FloatArray]

# Smoothing: the probability mass given to tokens outside the source's support.
FLOOR_MASS = 1e-9
DATA_MASS = 1e-3
HINT_MASS = 0.3

_GREEDY = 1e-5
_NEGLIGIBLE = 1e-12


# --------------------------------------------------------------------------- sampling


def sample_with_floor(
    scores: FloatArray,
    floor: float,
    floor_count: int,
    settings: SamplingSettings,
    rng: np.random.Generator,
) -> int:
    """Sample from ``scores`` plus ``floor_count`` tokens tied at ``floor``; -1 = a floor token.

    Exactly :func:`llmpresets.sampling.sample` over the concatenated vector (every score is
    assumed > ``floor``; a tie is broken towards ``scores``, which come first): the floor
    tokens are tied, so top-k, top-p and min-p keep all of them or none, and whether they
    survive is computed from their count and score without building them.
    """
    from ..sampling import sample

    temperature, top_k, top_p, min_p = (
        settings.temperature,
        settings.top_k,
        settings.top_p,
        settings.min_p,
    )
    if floor_count == 0 or (len(scores) and temperature < _GREEDY):
        return int(
            sample(scores, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, rng=rng)
        )
    if len(scores) == 0:
        return -1
    peak = float(scores.max()) / temperature
    floor_weight = math.exp(floor / temperature - peak)
    if (
        top_p is not None
        and top_p < 1 - _NEGLIGIBLE
        and floor_count * floor_weight < _NEGLIGIBLE
        and (top_k is None or top_k > len(scores))
    ):
        # The floor holds less than 1e-12 of the mass (the top token alone weighs 1): the
        # nucleus cuts it, and scaling top_p by 1 + 1e-12 would change nothing.
        return int(sample(scores, temperature=temperature, top_p=top_p, min_p=min_p, rng=rng))
    mass = float(np.exp(scores / temperature - peak).sum())
    floor_mass = floor_count * floor_weight
    kept_by_k = top_k is None or top_k > len(scores)
    survives = (
        kept_by_k
        and (top_p is None or top_p >= 1 or mass / (mass + floor_mass) < top_p)
        and (min_p is None or floor_weight >= min_p)
    )
    if survives:
        if rng.random() * (mass + floor_mass) >= mass:
            return -1
        return int(sample(scores, temperature=temperature, rng=rng))
    nucleus = top_p
    if top_p is not None and top_p < 1 and kept_by_k:
        # The floor's mass sits under the nucleus: scale top_p so the scores keep the same set.
        nucleus = top_p * (mass + floor_mass) / mass
        if nucleus >= 1:
            nucleus = None
    return int(
        sample(
            scores,
            temperature=temperature,
            top_k=None if kept_by_k else top_k,
            top_p=nucleus,
            min_p=min_p,
            rng=rng,
        )
    )


def _allowed(
    words: NDArray[np.uint32], word_of: IntArray, bit_of: NDArray[np.uint32]
) -> NDArray[np.bool_]:
    """The mask's bit of each candidate (``word_of`` / ``bit_of``: its word and bit)."""
    bits: NDArray[np.bool_] = ((words[word_of] >> bit_of) & 1).astype(bool)
    return bits


def _popcount(words: NDArray[np.uint32]) -> int:
    if hasattr(np, "bitwise_count"):
        return int(np.bitwise_count(words).sum(dtype=np.int64))
    return int(np.unpackbits(words.view(np.uint8)).sum())  # numpy < 2


def _all_allowed(words: NDArray[np.uint32], size: int) -> IntArray:
    """Every allowed token id (only when a floor token is drawn: rare, or a sparse mask)."""
    busy = np.flatnonzero(words)
    bits = np.unpackbits(words[busy].view(np.uint8), bitorder="little").reshape(-1, 32)
    rows, columns = np.nonzero(bits)
    ids = (busy[rows] * 32 + columns).astype(np.int64)
    return ids[ids < size]


# --------------------------------------------------------------------------- generation


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

    >>> from llmpresets._encodings import get_encoding
    >>> encoding = get_encoding("o200k_base")
    >>> sorted(encoding.decode([t]) for t in hint_tokens(encoding, ["the weather in Paris"]))
    [' Paris', ' weather', 'Paris', 'weather']
    """
    ids: set[int] = set()
    for text in texts:
        for word in set(_WORD.findall(text)):
            if (len(word) < 3 and not word.isdigit()) or word.lower() in COMMON_WORDS:
                continue
            for form in (word, " " + word):
                tokens = encoding.encode_ordinary(form)
                if len(tokens) == 1:  # a piece of a longer word would be noise on its own
                    ids.update(tokens)
    return np.array(sorted(ids), dtype=np.int64)


@dataclass
class _Candidates:
    """The explicit candidates of one reply: the source's support, data tokens and hints."""

    ids: IntArray  # sorted token ids
    source_slot: IntArray  # for each source position, its index in ids
    hole: FloatArray  # score of each candidate when the source gives it nothing
    hint_word: IntArray  # for a prompt word's token, a key of the word (both forms); else -1
    floor: float
    total_floor: int  # vocabulary tokens that are not candidates
    copy: FloatArray  # per candidate: log-probability of copying it from the prompt (-inf)
    word_of: IntArray  # each candidate's 32-bit word in llguidance's mask
    bit_of: NDArray[np.uint32]  # and its bit in that word
    classes: TokenClasses  # the shape prior's token flags, per candidate (by slot, not id)

    @classmethod
    def build(
        cls, encoding: tiktoken.Encoding, vocab: IntArray | None, hints: IntArray
    ) -> _Candidates:
        classes = classes_for(encoding)
        size = encoding.n_vocab
        support = np.arange(size, dtype=np.int64) if vocab is None else vocab
        ids = np.union1d(np.union1d(support, classes.data_ids), hints)
        floor = math.log(FLOOR_MASS / size)
        data_score = math.log(DATA_MASS / len(classes.data_ids))
        hole = np.full(len(ids), floor)
        hole[np.isin(ids, classes.data_ids, assume_unique=True)] = data_score
        hinted = np.isin(ids, hints, assume_unique=True)
        hint_word = np.full(len(ids), -1, dtype=np.int64)
        copy = np.full(len(ids), -np.inf)
        if len(hints):
            keys: dict[str, int] = {}
            for slot in np.flatnonzero(hinted):
                text = encoding.decode([int(ids[slot])]).strip()
                hint_word[slot] = keys.setdefault(text.lower(), len(keys))
                copy[slot] = math.log(HINT_MASS / len(hints))
                if text[:1].isupper():
                    copy[slot] += PROPER_BONUS  # names are what strings copy most
        return cls(
            ids=ids,
            source_slot=np.searchsorted(ids, support),
            hole=hole,
            hint_word=hint_word,
            floor=floor,
            total_floor=size - len(ids),
            copy=copy,
            word_of=ids >> 5,
            bit_of=(ids & 31).astype(np.uint32),
            # Gathered once: a step reads its allowed slots from these small arrays instead
            # of the vocabulary-sized ones (same values, far fewer cache misses).
            classes=TokenClasses(
                data_ids=classes.data_ids,
                quote=classes.quote[ids],
                first=classes.first[ids],
                digits=classes.digits[ids],
                long=classes.long[ids],
                separator=classes.separator[ids],
                alnum=classes.alnum[ids],
            ),
        )


_candidate_cache: dict[tuple[str, bytes, bytes], _Candidates] = {}
_CANDIDATE_CACHE_LIMIT = 64


def _candidates(
    encoding: tiktoken.Encoding, vocab: IntArray | None, hints: IntArray | None
) -> _Candidates:
    """:meth:`_Candidates.build`, cached per (encoding, vocabulary, hints): a request's choices
    and tool calls, and the requests of an agent loop, share one."""
    hints = hints if hints is not None else np.zeros(0, dtype=np.int64)
    key = (
        encoding.name,
        b"" if vocab is None else np.asarray(vocab, dtype=np.int64).tobytes(),
        np.asarray(hints, dtype=np.int64).tobytes(),
    )
    cached = _candidate_cache.get(key)
    if cached is None:
        cached = _Candidates.build(encoding, vocab, hints)
        if len(_candidate_cache) >= _CANDIDATE_CACHE_LIMIT:
            _candidate_cache.clear()
        _candidate_cache[key] = cached
    return cached


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
    ``vocab`` is None), as :func:`~llmpresets.offline._sources.make_token_stepper` returns.
    ``hints``: token ids favoured inside JSON strings (:func:`hint_tokens` of the prompt).
    ``json_shape``: apply the JSON shape prior (default: when the grammar is a JSON schema).
    The reply ends with ``stop`` when the grammar is complete (or end-of-text is drawn where
    the grammar allows it) and with ``length`` at ``settings.max_tokens``; ``stop`` sequences
    cut it as for free text.

    >>> import numpy as np
    >>> from llmpresets._encodings import get_encoding
    >>> from llmpresets.offline._grammar import json_schema_grammar
    >>> from llmpresets.offline._request import SamplingSettings
    >>> encoding = get_encoding("o200k_base")
    >>> grammar = json_schema_grammar(encoding, {"type": "object", "properties":
    ...     {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": False})
    >>> reply = generate_constrained(lambda ids: np.zeros(encoding.n_vocab), None, encoding,
    ...     grammar, SamplingSettings(temperature=0), np.random.default_rng(0))
    >>> reply.text, reply.finish_reason
    ('{"ok":false}', 'stop')
    """
    candidates = _candidates(encoding, vocab, hints)
    ids = candidates.ids
    shape = JsonShape() if (grammar.kind == "json" if json_shape is None else json_shape) else None
    matcher = grammar.matcher()
    emitter = _Emitter(encoding, settings)
    end_of_text = encoding.eot_token
    bias = dict(settings.logit_bias)
    bias_slots = np.searchsorted(ids, list(bias)) if bias else np.zeros(0, dtype=np.int64)
    bias_values = np.array(list(bias.values()), dtype=np.float64)
    if bias:
        inside = (bias_slots < len(ids)) & (ids[np.minimum(bias_slots, len(ids) - 1)] == list(bias))
        bias_slots, bias_values = bias_slots[inside], bias_values[inside]
    counts: dict[int, int] = {}
    generated: list[int] = []
    last_logits: FloatArray | None = None
    model = candidates.hole

    hint_key = {
        int(candidates.ids[slot]): int(candidates.hint_word[slot])
        for slot in np.flatnonzero(candidates.hint_word >= 0)
    }

    def emit(token: int, info: TokenLogprob | None) -> None:
        generated.append(token)
        counts[token] = counts.get(token, 0) + 1
        if shape is not None:
            shape.feed(_token_bytes(encoding, token))
            shape.last_hinted = shape.in_string and token in hint_key
            if shape.last_hinted:
                shape.used.add(hint_key[token])
        emitter.add(token, info)

    while not emitter.done:
        if matcher.is_stopped() or matcher.is_error():
            emitter.finish("stop")
            break
        forced = matcher.compute_ff_tokens()
        if forced:
            for token in forced:
                if emitter.done:
                    break
                matcher.consume_token(token)
                info = _certain(encoding, token) if settings.logprobs else None
                emit(token, info)
            continue
        words = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint32)
        allowed = np.flatnonzero(_allowed(words, candidates.word_of, candidates.bit_of))
        allowed_ids = ids[allowed]
        logits = step(generated)
        # The n-gram model hands back its cached, read-only array for a context it has seen.
        if logits is not last_logits or logits.flags.writeable:
            last_logits, model = logits, _cached_model_scores(logits, candidates)
        scores = model[allowed]
        if shape is not None:
            scores = shape_prior(
                shape,
                candidates.classes,
                allowed,
                candidates.hint_word[allowed],
                candidates.copy[allowed],
                scores,
            )
        scores = _adjust(scores, ids, allowed, counts, settings, bias_slots, bias_values)
        floor_count = _popcount(words) - len(allowed)
        if floor_count == 0 and not len(scores):
            emitter.finish("stop")  # nothing allowed: the grammar is done
            break
        scores = np.maximum(scores, np.nextafter(candidates.floor, 0))
        choice = sample_with_floor(scores, candidates.floor, floor_count, settings, rng)
        if choice >= 0:
            token = int(allowed_ids[choice])
        else:  # one of the tied floor tokens, uniformly (greedy: the lowest id)
            pool = np.setdiff1d(_all_allowed(words, encoding.n_vocab), ids, assume_unique=True)
            greedy = settings.temperature < _GREEDY
            token = int(pool[0 if greedy else rng.integers(len(pool))])
        if token == end_of_text:
            emitter.finish("stop")
            break
        info = (
            _logprob_info(encoding, model, ids, candidates, token, settings.top_logprobs)
            if settings.logprobs
            else None
        )
        if not matcher.consume_token(token):
            emitter.finish("stop")  # cannot happen with a correct mask; never loop on it
            break
        emit(token, info)
    if not emitter.done:
        emitter.finish("stop")
    return emitter.result


_score_cache: dict[tuple[int, int], tuple[FloatArray, _Candidates, FloatArray]] = {}
_SCORE_CACHE_LIMIT = 256  # of ~20 KB each


def _cached_model_scores(logits: FloatArray, candidates: _Candidates) -> FloatArray:
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
    if len(_score_cache) >= _SCORE_CACHE_LIMIT:
        _score_cache.clear()
    _score_cache[key] = (logits, candidates, model)  # the references keep the ids unique
    return model


def _model_scores(logits: FloatArray, candidates: _Candidates) -> FloatArray:
    """Log-softmax of the source on its support, holes filled, over the candidate ids."""
    logits = np.asarray(logits, dtype=np.float64)
    scores = candidates.hole.copy()
    slots = candidates.source_slot
    top = float(logits.max())
    shifted = logits - top
    weights = np.exp(shifted)  # exp(-inf) = 0: impossible tokens weigh nothing
    values = shifted - math.log(float(weights.sum()))
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
    text, data = token_text(encoding, token), list(_token_bytes(encoding, token))
    return TokenLogprob(text, data, 0.0, [(text, data, 0.0)])


def _logprob_info(
    encoding: tiktoken.Encoding,
    model: FloatArray,
    ids: IntArray,
    candidates: _Candidates,
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
    alternatives = []
    if top:
        count = min(top, len(model))
        best = np.argpartition(-model, count - 1)[:count]
        best = best[np.lexsort((best, -model[best]))]
        for index in best:
            other = int(ids[index])
            alternatives.append(
                (
                    token_text(encoding, other),
                    list(_token_bytes(encoding, other)),
                    max(float(model[index]) - log_norm, -9999.0),
                )
            )
    return TokenLogprob(
        token_text(encoding, token),
        list(_token_bytes(encoding, token)),
        max(float(own) - log_norm, -9999.0),
        alternatives,
    )
