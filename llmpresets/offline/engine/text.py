"""One choice of one request: sample tokens, apply penalties, stop sequences and the length cap.

Per step (the order inference engines use): the source's logits; OpenAI's penalties
``logit[j] -= count[j] * frequency_penalty + (count[j] > 0) * presence_penalty`` over the tokens
generated so far; ``logit_bias`` added to its tokens' logits (a token the source gives no logit
stays impossible; scripted candidates are whole completions, so it does not apply to them);
then :func:`llmpresets.sampling.sample` (temperature, top_k, top_p, min_p).
Sampling ``<|endoftext|>`` ends the reply (``stop``, not counted) unless the request says
``ignore_eos`` (vLLM's extension, through ``extra_body``); reaching the token cap ends it with
``length``; a stop sequence ends it with ``stop`` and is cut from the text.

``logprobs`` report the model's own distribution, ``log_softmax(logits)`` before penalties,
``logit_bias``, temperature and filters (what the model believed, not what the sampler kept);
``-inf`` is reported as ``-9999.0`` as the API does.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from ..backend.scripted import ScriptedTable
from ..lm.protocol import RUN_END, Stepper
from ..lm.sources import token_text
from .types import Generation, SamplingSettings, TokenLogprob

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "generate",
    "generate_scripted",
    "seeded_generator",
]

_VERY_UNLIKELY = -9999.0


# Per encoding name, each token's bytes once looked up (a constrained reply reads them for
# every token; the tables only grow to the tokens ever generated).
_token_bytes_tables: dict[str, dict[int, bytes]] = {}


def token_bytes_table(encoding: tiktoken.Encoding) -> dict[int, bytes]:
    """The cache :func:`_token_bytes` fills for ``encoding`` (a miss: call it)."""
    table = _token_bytes_tables.get(encoding.name)
    if table is None:
        table = _token_bytes_tables.setdefault(encoding.name, {})
    return table


def _token_bytes(encoding: tiktoken.Encoding, token: int) -> bytes:
    table = token_bytes_table(encoding)
    data = table.get(token)
    if data is None:
        data = encoding.decode_single_token_bytes(token)
        table[token] = data
    return data


_token_texts: dict[str, dict[int, str | None]] = {}
_UNKNOWN_TEXT: Any = object()


def _complete_text(encoding: tiktoken.Encoding, token: int) -> str | None:
    """The token's text when its bytes are whole UTF-8 on their own, else None (cached)."""
    texts = _token_texts.get(encoding.name)
    if texts is None:
        texts = _token_texts.setdefault(encoding.name, {})
    try:
        return texts[token]
    except KeyError:
        pass
    try:
        text: str | None = _token_bytes(encoding, token).decode("utf-8")
    except UnicodeDecodeError:
        text = None
    texts[token] = text
    return text


class _Emitter:
    """Turns tokens into text pieces, watching the cap and the stop sequences."""

    def __init__(self, encoding: tiktoken.Encoding, settings: SamplingSettings) -> None:
        self.encoding = encoding
        self.settings = settings
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.result = Generation(logprobs=[] if settings.logprobs else None)
        self.tail = ""  # the last characters, enough to find a stop sequence across pieces
        self.longest_stop = max((len(stop) for stop in settings.stop), default=0)
        self.texts = _token_texts.setdefault(encoding.name, {})
        self.done = False

    def add(self, token: int, info: TokenLogprob | None) -> None:
        result = self.result
        piece = self._piece(token)
        result.completion_tokens += 1
        if info is not None and result.logprobs is not None:
            result.logprobs.append(info)
        if self.longest_stop and piece:
            window = self.tail + piece
            found = [window.find(stop) for stop in self.settings.stop]
            cut = min((index for index in found if index >= 0), default=-1)
            if cut >= 0:
                self._cut(len(self.tail), window, cut)
                return
            self.tail = window[-(self.longest_stop - 1) :] if self.longest_stop > 1 else ""
        result.pieces.append(piece)
        if result.completion_tokens >= self.settings.max_tokens:
            self.finish("length")

    @property
    def emitted(self) -> int:
        """Tokens emitted so far."""
        return self.result.completion_tokens

    def add_plain(self, tokens: list[int]) -> None:
        """:meth:`add` for several tokens without logprobs, when there are no stop sequences
        (at most the room left under ``max_tokens``)."""
        if not tokens:
            return
        result = self.result
        result.pieces.extend(map(self._piece, tokens))  # one at a time: the decoder has state
        result.completion_tokens += len(tokens)
        if result.completion_tokens >= self.settings.max_tokens:
            self.finish("length")

    def _piece(self, token: int) -> str:
        """The token's text: a whole UTF-8 token after a whole one is its own (cached) text;
        otherwise the incremental decoder joins bytes split across tokens."""
        decoder = self.decoder
        if not decoder.getstate()[0]:
            piece: str | None = self.texts.get(token, _UNKNOWN_TEXT)
            if piece is _UNKNOWN_TEXT:
                piece = _complete_text(self.encoding, token)
            if piece is not None:
                return piece
        return decoder.decode(_token_bytes(self.encoding, token))

    def _cut(self, tail_length: int, window: str, cut: int) -> None:
        """A stop sequence starts at ``window[cut]``: drop it and everything after it.

        Earlier pieces are trimmed in place (never removed), so piece ``i`` stays token ``i``.
        """
        pieces = self.result.pieces
        if cut >= tail_length:
            pieces.append(window[tail_length:cut])
        else:
            remove = tail_length - cut
            index = len(pieces) - 1
            while remove and index >= 0:
                take = min(remove, len(pieces[index]))
                pieces[index] = pieces[index][: len(pieces[index]) - take]
                remove -= take
                index -= 1
            pieces.append("")
        self.finish("stop", flush=False)

    def finish(self, reason: str, *, flush: bool = True) -> None:
        if flush:
            rest = self.decoder.decode(b"", final=True)
            if rest:
                if self.result.pieces:
                    self.result.pieces[-1] += rest
                else:
                    self.result.pieces.append(rest)
        self.result.finish_reason = reason
        self.done = True


def _log_softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    top = float(np.max(logits))
    shifted = logits - top
    result: NDArray[np.float64] = shifted - math.log(float(np.exp(shifted).sum()))
    return result


def _report(value: float) -> float:
    return value if value > _VERY_UNLIKELY else _VERY_UNLIKELY


# The model's own distribution at a step, summarised once per logits array: a source's cached,
# read-only arrays (the n-gram model's) recur across tokens and requests, so logprobs cost a
# dictionary lookup there instead of a pass over the whole vocabulary (bounded, oldest out).
_SUMMARY_CACHE_SIZE = 512
_summaries: dict[int, tuple[NDArray[np.float64], tuple[float, float], list[int]]] = {}
# Alternatives are looked for among tokens within this many nats of the best first.
_ALTERNATIVE_WINDOW = 30.0


def _summary(logits: NDArray[np.float64], top: int) -> tuple[tuple[float, float], list[int]]:
    """((peak, log of the shifted softmax's sum), the ``top`` best positions, best first).

    A logprob is ``(logit - peak) - log_sum``: the same arithmetic as a full log-softmax.
    """
    cacheable = not logits.flags.writeable
    if cacheable:
        hit = _summaries.get(id(logits))
        if hit is not None and hit[0] is logits and len(hit[2]) >= top:
            return hit[1], hit[2][:top]
    peak = float(np.max(logits))
    normaliser = (peak, math.log(float(np.exp(logits - peak).sum())))
    best: list[int] = []
    if top:
        # Only tokens near the peak can be among the best few: select among them.
        near = np.flatnonzero(logits >= peak - _ALTERNATIVE_WINDOW)
        pool = near if len(near) >= top else np.arange(len(logits))
        count = min(top, len(pool))
        chosen = pool[np.argpartition(-logits[pool], count - 1)[:count]]
        best = [int(index) for index in chosen[np.lexsort((chosen, -logits[chosen]))]]
    if cacheable:
        if len(_summaries) >= _SUMMARY_CACHE_SIZE:
            del _summaries[next(iter(_summaries))]
        _summaries[id(logits)] = (logits, normaliser, best)  # the array is kept: ids stay unique
    return normaliser, best


def _logprob_info(
    encoding: tiktoken.Encoding,
    logits: NDArray[np.float64],
    position: int,
    vocab: NDArray[np.int64] | None,
    top: int,
) -> TokenLogprob:
    normaliser, best = _summary(logits, top)

    def token_of(index: int) -> int:
        return int(vocab[index]) if vocab is not None else index

    # The alternatives depend on the step's distribution only: built once per cached array.
    key = (id(logits), id(vocab), encoding.name, top)
    cached = _alternatives.get(key)
    if cached is not None and cached[0] is logits:
        alternatives = cached[1]
    else:
        alternatives = [
            (
                token_text(encoding, token_of(index)),
                list(_token_bytes(encoding, token_of(index))),
                _report(float(logits[index]) - normaliser[0] - normaliser[1]),
            )
            for index in best
        ]
        if not logits.flags.writeable:
            if len(_alternatives) >= _SUMMARY_CACHE_SIZE:
                del _alternatives[next(iter(_alternatives))]
            _alternatives[key] = (logits, alternatives)
    token = token_of(position)
    return TokenLogprob(
        token_text(encoding, token),
        list(_token_bytes(encoding, token)),
        _report(float(logits[position]) - normaliser[0] - normaliser[1]),
        alternatives,
    )


_alternatives: dict[
    tuple[int, int, str, int], tuple[NDArray[np.float64], list[tuple[str, list[int], float]]]
] = {}


def generate(
    step: Stepper,
    vocab: NDArray[np.int64] | None,
    encoding: tiktoken.Encoding,
    settings: SamplingSettings,
    rng: np.random.Generator,
) -> Generation:
    """Sample one choice from a next-token source (see the module docstring)."""
    from ...sampling import Sampler

    sampler = Sampler(
        temperature=settings.temperature,
        top_k=settings.top_k,
        top_p=settings.top_p,
        min_p=settings.min_p,
    )
    emitter = _Emitter(encoding, settings)
    end_of_text = encoding.eot_token
    frequency, presence = settings.frequency_penalty, settings.presence_penalty
    penalised = bool(frequency or presence)
    counts: NDArray[np.float64] | None = None
    # vLLM's ignore_eos: <|endoftext|> can never be sampled, so replies run to the cap.
    masked: int | None = None
    if settings.ignore_eos:
        hits = np.flatnonzero(vocab == end_of_text) if vocab is not None else [end_of_text]
        masked = int(hits[0]) if len(hits) else None
    biased, bias = _bias_positions(settings.logit_bias, vocab)
    # A source that can tell when the filters leave one token (the n-gram model, see
    # _settle) answers most steps without logits; only on the model's own distribution.
    settler = step.shortcut
    shortcut = (
        settler(
            temperature=settings.temperature,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=settings.min_p,
            exclude=masked,
        )
        if settler is not None and not (penalised or len(biased) or settings.logprobs)
        else None
    )
    # Without stop sequences, settled tokens are emitted a run at a time.
    run = shortcut.run if shortcut is not None and not emitter.longest_stop else None
    settle = shortcut.settle if shortcut is not None and run is None else None
    positions: list[int] = []
    draws: np.random.Generator = rng
    token_ids = step.token_ids
    while not emitter.done:
        if run is not None:
            start = len(positions)
            outcome, drawn = run(positions, rng, settings.max_tokens - emitter.emitted)
            if token_ids is not None:
                emitter.add_plain([token_ids[position] for position in positions[start:]])
            else:
                emitter.add_plain([_token_of(vocab, position) for position in positions[start:]])
            if outcome == RUN_END:
                emitter.finish("stop")
                break
            if emitter.done:
                break
            # A step left to the sampler (with the number the run drew, if it drew one).
            draws = rng if drawn is None else cast("np.random.Generator", _Replay(drawn))
        elif settle is not None:
            position, drawn = settle(positions, rng)
            if position >= 0:
                token = token_ids[position] if token_ids is not None else _token_of(vocab, position)
                if token == end_of_text:
                    emitter.finish("stop")
                    break
                emitter.add(token, None)
                positions.append(position)
                continue
            # The settler drew a number too close to call: the sampler decides with it.
            draws = rng if drawn is None else cast("np.random.Generator", _Replay(drawn))
        logits = step(positions)
        scores = logits
        if penalised:
            if counts is None:
                counts = np.zeros(len(logits))
            scores = logits - counts * frequency - (counts > 0) * presence
        if len(biased):
            scores = scores.copy() if scores is logits else scores
            inside = biased < len(scores)
            scores[biased[inside]] += bias[inside]
        # A source's cached, read-only logits (the n-gram model's) keep their filtered
        # distribution between tokens and requests: a repeated context costs one search.
        reuse = scores is logits and not logits.flags.writeable and logits.flags.owndata
        position = sampler.sample(scores, draws, reuse=reuse, exclude=masked)
        token = int(vocab[position]) if vocab is not None else int(position)
        if token == end_of_text:
            emitter.finish("stop")
            break
        info = (
            _logprob_info(encoding, logits, position, vocab, settings.top_logprobs)
            if settings.logprobs
            else None
        )
        emitter.add(token, info)
        positions.append(position)
        if counts is not None:
            counts[position] += 1
    return emitter.result


_WORD = 0xFFFFFFFF


def seeded_generator(entropy: Sequence[int]) -> np.random.Generator:
    """``np.random.default_rng(np.random.SeedSequence(entropy))``: the same stream, cheaper.

    The entropy (non-negative ints) goes in as the 32-bit little-endian words numpy's own
    splitter would make of it (at least one word per int), which SeedSequence takes as they
    are; numpy's splitter, run under ``np.errstate``, cost as much as the seeding itself.
    """
    words: list[int] = []
    for value in entropy:
        if value < 0:
            raise ValueError(f"entropy must be non-negative, got {value}")
        words.append(value & _WORD)
        value >>= 32
        while value:
            words.append(value & _WORD)
            value >>= 32
    return np.random.default_rng(np.random.SeedSequence(np.array(words, dtype=np.uint32)))


def _token_of(vocab: NDArray[np.int64] | None, position: int) -> int:
    return int(vocab[position]) if vocab is not None else position


class _Replay:
    """A random number already drawn, handed to the sampler as its one ``rng.random()``."""

    __slots__ = ("_u",)

    def __init__(self, u: float) -> None:
        self._u = u

    def random(self) -> float:
        return self._u


def _bias_positions(
    logit_bias: tuple[tuple[int, float], ...], vocab: NDArray[np.int64] | None
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The positions in the source's logits of ``logit_bias``'s tokens, and their biases."""
    if not logit_bias:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    by_token = dict(logit_bias)
    if vocab is None:
        tokens = np.fromiter(by_token, dtype=np.int64, count=len(by_token))
        return tokens, np.array([by_token[int(token)] for token in tokens])
    positions = np.flatnonzero(np.isin(vocab, list(by_token))).astype(np.int64)
    return positions, np.array([by_token[int(vocab[position])] for position in positions])


def choose_scripted(
    table: ScriptedTable, settings: SamplingSettings, rng: np.random.Generator
) -> int:
    """Sample a candidate of the table with the request's sampling settings."""
    from ...sampling import sample

    return int(
        sample(
            np.asarray(table.logits, dtype=np.float64),
            temperature=settings.temperature,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=settings.min_p,
            rng=rng,
        )
    )


def generate_scripted(
    table: ScriptedTable,
    candidate: int,
    encoding: tiktoken.Encoding,
    settings: SamplingSettings,
) -> Generation:
    """Emit a chosen scripted completion through the same cap and stop rules."""
    emitter = _Emitter(encoding, settings)
    per_token: Sequence[tuple[float, list[tuple[int, float]]]] = (
        table.token_logprobs(candidate) if settings.logprobs else []
    )
    for index, token in enumerate(table.token_ids[candidate]):
        info = None
        if settings.logprobs:
            logprob, siblings = per_token[index]
            info = TokenLogprob(
                token_text(encoding, token),
                list(_token_bytes(encoding, token)),
                _report(logprob),
                [
                    (token_text(encoding, other), list(_token_bytes(encoding, other)), value)
                    for other, value in siblings[: settings.top_logprobs]
                ],
            )
        emitter.add(token, info)
        if emitter.done:
            break
    if not emitter.done:
        emitter.finish("stop")
    return emitter.result
