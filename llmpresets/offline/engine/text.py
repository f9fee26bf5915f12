"""Free text: one choice of one request, sampled token by token from a next-token source.

Per step (the order inference engines use): the source's logits; OpenAI's penalties
``logit[j] -= count[j] * frequency_penalty + (count[j] > 0) * presence_penalty`` over the tokens
generated so far; ``logit_bias`` added to its tokens' logits (a token the source gives no logit
stays impossible; scripted candidates are whole completions, so it does not apply to them);
then :func:`llmpresets.sampling.sample` (temperature, top_k, top_p, min_p).
Sampling ``<|endoftext|>`` ends the reply (``stop``, not counted) unless the request says
``ignore_eos`` (vLLM's extension, through ``extra_body``); reaching the token cap ends it with
``length``; a stop sequence ends it with ``stop`` and is cut from the text
(:class:`~llmpresets.offline.engine.emitter.Emitter`).

``logprobs`` report the model's own distribution, ``log_softmax(logits)`` before penalties,
``logit_bias``, temperature and filters (what the model believed, not what the sampler kept);
``-inf`` is reported as ``-9999.0`` as the API does.

How tokens are drawn: every step by the sampler (:func:`_sample_every_token`), unless the
source offers a *settler* (the n-gram model, :mod:`llmpresets.offline.lm.ngram.fast`) and
the request reads nothing but the model's own distribution (no penalties, bias or logprobs).
A settler decides the steps whose filters leave one token without computing their logits,
a run at a time when there are no stop sequences to watch (:func:`_settle_runs`), else one
token at a time (:func:`_settle_tokens`); a step it cannot decide goes to the sampler, with
the random number the settler drew for it. Either way the tokens, and the random numbers
they use, are those of the sampler alone.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..._cache import BoundedCache
from ...sampling import Sampler
from ..lm.protocol import RUN_BUDGET, RUN_END, Run, Stepper
from .emitter import Alternatives, Emitter, alternatives, token_logprob
from .frozen import is_frozen
from .types import Generation, SamplingSettings, TokenLogprob

if TYPE_CHECKING:
    import tiktoken

__all__ = ["generate"]


def generate(
    step: Stepper,
    vocab: NDArray[np.int64] | None,
    encoding: tiktoken.Encoding,
    settings: SamplingSettings,
    rng: np.random.Generator,
) -> Generation:
    """Sample one choice from a next-token source (see the module docstring)."""
    reply = _FreeText(step, vocab, encoding, settings, rng)
    # A source that can tell when the filters leave one token (the n-gram model, see
    # lm/ngram/fast) answers most steps without logits; only on the model's own distribution.
    settler = step.shortcut
    shortcut = (
        settler(
            temperature=settings.temperature,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=settings.min_p,
            exclude=reply.masked,
        )
        if settler is not None and not (reply.penalised or len(reply.biased) or settings.logprobs)
        else None
    )
    token_ids = step.token_ids
    if shortcut is None:
        _sample_every_token(reply)
    elif not reply.emitter.longest_stop:
        _settle_runs(reply, shortcut.run, token_ids)
    else:
        _settle_tokens(reply, shortcut.run, token_ids)
    return reply.emitter.result


class _FreeText:
    """One reply being written: the tokens so far (as source positions), the penalties'
    counts, and the sampler's step (:meth:`sample_next`)."""

    def __init__(
        self,
        step: Stepper,
        vocab: NDArray[np.int64] | None,
        encoding: tiktoken.Encoding,
        settings: SamplingSettings,
        rng: np.random.Generator,
    ) -> None:
        self.step = step
        self.vocab = vocab
        self.encoding = encoding
        self.settings = settings
        self.rng = rng
        self.sampler = Sampler(
            temperature=settings.temperature,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=settings.min_p,
        )
        self.emitter = Emitter(encoding, settings)
        self.end_of_text = encoding.eot_token
        self.penalised = bool(settings.frequency_penalty or settings.presence_penalty)
        self.counts: NDArray[np.float64] | None = None  # per position, once penalised
        # vLLM's ignore_eos: <|endoftext|> can never be sampled, so replies run to the cap.
        self.masked: int | None = None
        if settings.ignore_eos:
            end = encoding.eot_token
            hits = np.flatnonzero(vocab == end) if vocab is not None else [end]
            self.masked = int(hits[0]) if len(hits) else None
        self.biased, self.bias = _bias_positions(settings.logit_bias, vocab)
        self.positions: list[int] = []  # the generated tokens, as positions in the logits

    def token_at(self, position: int, token_ids: list[int] | None) -> int:
        """The token id at a position of the source's logits."""
        return token_ids[position] if token_ids is not None else _token_of(self.vocab, position)

    def sample_next(self, drawn: float | None = None) -> None:
        """One step by the sampler: the source's logits, penalties and bias, the filters and
        a draw; the token is emitted (end of text ends the reply). ``drawn``: the uniform
        number a settler already drew for this step, used instead of a fresh one."""
        settings, emitter = self.settings, self.emitter
        logits = self.step(self.positions)
        scores = logits
        if self.penalised:
            if self.counts is None:
                self.counts = np.zeros(len(logits))
            counts = self.counts
            scores = (
                logits
                - counts * settings.frequency_penalty
                - (counts > 0) * settings.presence_penalty
            )
        if len(self.biased):
            scores = scores.copy() if scores is logits else scores
            inside = self.biased < len(scores)
            scores[self.biased[inside]] += self.bias[inside]
        # A source's frozen logits (the n-gram model's, one array per context) keep their
        # filtered distribution between tokens and requests: a repeated context costs a search.
        frozen = is_frozen(logits)
        distribution = self.sampler.distribution(
            scores, reuse=frozen and scores is logits, exclude=self.masked
        )
        position = distribution.pick(self.rng) if drawn is None else distribution.pick_with(drawn)
        vocab = self.vocab
        token = int(vocab[position]) if vocab is not None else position
        if token == self.end_of_text:
            emitter.finish("stop")
            return
        info = (
            _free_text_logprob(
                self.encoding, logits, position, vocab, settings.top_logprobs, frozen
            )
            if settings.logprobs
            else None
        )
        emitter.add(token, info)
        self.positions.append(position)
        if self.counts is not None:
            self.counts[position] += 1


# --------------------------------------------------------------------------- draw strategies


def _sample_every_token(reply: _FreeText) -> None:
    """The plain loop: every token from the sampler."""
    while not reply.emitter.done:
        reply.sample_next()


def _settle_runs(reply: _FreeText, run: Run, token_ids: list[int] | None) -> None:
    """Settled tokens a run at a time (no stop sequences to watch, so the emitter takes the
    run whole); the step a run stops at goes to the sampler."""
    emitter, positions = reply.emitter, reply.positions
    while not emitter.done:
        start = len(positions)
        outcome, drawn = run(positions, reply.rng, reply.settings.max_tokens - emitter.emitted)
        settled = positions[start:]
        if token_ids is not None:
            emitter.add_plain([token_ids[position] for position in settled])
        else:
            emitter.add_plain([_token_of(reply.vocab, position) for position in settled])
        if outcome == RUN_END:
            emitter.finish("stop")
            return
        if emitter.done:
            return
        reply.sample_next(drawn)


def _settle_tokens(reply: _FreeText, run: Run, token_ids: list[int] | None) -> None:
    """Settled tokens one at a time, ``run(..., 1)`` (the emitter watches the stop sequences
    after each); a step the shortcut cannot decide goes to the sampler."""
    emitter, positions = reply.emitter, reply.positions
    while not emitter.done:
        outcome, drawn = run(positions, reply.rng, 1)
        if outcome == RUN_END:
            emitter.finish("stop")
            return
        if outcome != RUN_BUDGET:  # left to the sampler (with the number it drew, if any)
            reply.sample_next(drawn)
            continue
        emitter.add(reply.token_at(positions[-1], token_ids), None)


# --------------------------------------------------------------------------- logprobs

# The model's own distribution at a step, summarised once per frozen logits array (the n-gram
# model's recur across tokens and requests), so logprobs cost a lookup there instead of a pass
# over the whole vocabulary; and the alternatives built from it, per vocabulary and count.
# Entries hold the array, so the id in a key stays its own (see engine/frozen.py).
_summaries: BoundedCache[int, tuple[NDArray[np.float64], tuple[float, float], list[int]]] = (
    BoundedCache("free-text logprob summaries", 16 << 20)
)
_alternatives: BoundedCache[tuple[int, int, str, int], tuple[NDArray[np.float64], Alternatives]] = (
    BoundedCache("free-text logprob alternatives", 16 << 20)
)
# Alternatives are looked for among tokens within this many nats of the best first.
_ALTERNATIVE_WINDOW = 30.0


def _summary(
    logits: NDArray[np.float64], top: int, cacheable: bool
) -> tuple[tuple[float, float], list[int]]:
    """((peak, log of the shifted softmax's sum), the ``top`` best positions, best first);
    kept for ``logits`` when ``cacheable`` (they are frozen, see :mod:`.frozen`).

    A logprob is ``(logit - peak) - log_sum``: the same arithmetic as a full log-softmax.
    """
    if cacheable:
        hit = _summaries.peek(id(logits))
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
        _summaries.put(id(logits), (logits, normaliser, best), logits.nbytes + 64 * len(best))
    return normaliser, best


def _free_text_logprob(
    encoding: tiktoken.Encoding,
    logits: NDArray[np.float64],
    position: int,
    vocab: NDArray[np.int64] | None,
    top: int,
    frozen: bool,
) -> TokenLogprob:
    """The ``logprobs`` entry of the token at ``position``, from the model's own logits
    (``frozen``: :func:`~.frozen.is_frozen` of them, so what they give may be kept)."""
    (peak, log_sum), best = _summary(logits, top, frozen)
    # The alternatives depend on the step's distribution only: built once per frozen array.
    key = (id(logits), id(vocab), encoding.name, top)
    cached = _alternatives.peek(key)
    if cached is not None and cached[0] is logits:
        others = cached[1]
    else:
        others = alternatives(
            encoding,
            ((_token_of(vocab, index), float(logits[index]) - peak - log_sum) for index in best),
        )
        if frozen:
            _alternatives.put(key, (logits, others), logits.nbytes + 200 * len(others))
    return token_logprob(
        encoding,
        _token_of(vocab, position),
        float(logits[position]) - peak - log_sum,
        others,
    )


# --------------------------------------------------------------------------- helpers


def _token_of(vocab: NDArray[np.int64] | None, position: int) -> int:
    return int(vocab[position]) if vocab is not None else position


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
