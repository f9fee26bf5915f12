"""Constrained decoding: a source's next-token logits, masked by a grammar, then the sampler.

The engine every structured reply goes through (chat ``response_format``, tool-call arguments,
and any endpoint that needs text from a grammar). Given a next-token step function (from
:func:`~llmpresets.offline.lm.sources.make_token_stepper`), a compiled
:class:`~llmpresets.offline.engine.constrained.grammar.Grammar`, the request's
:class:`~llmpresets.offline.engine.types.SamplingSettings` and a numpy ``Generator``,
:func:`generate_constrained` returns a :class:`~llmpresets.offline.engine.types.Generation`
whose text the grammar accepts whenever it finishes with ``stop``.

One step, as inference engines do it (vLLM, SGLang and llama.cpp with llguidance)::

    bytes the grammar forces: appended without a draw
    mask: the tokens the grammar allows, read for the reply's candidates   (Steps.view)
    source logits (over the source's vocabulary)                          (the step function)
      -> log-softmax, scattered onto the tokenizer's ids; holes filled    (scores.model_scores)
      -> + shape prior (JSON only: string lengths, item counts, number lengths, prompt words)
      -> + penalties and logit_bias; tokens the mask forbids left out     (scores.step_scores)
      -> llmpresets.sampling: temperature, top_k, top_p, min_p; draw      (floor.plan_floor_draw)

Bytes the grammar forces (an object's next key, ``":"``) are appended as the tokenizer would
write them (llguidance's fast-forward tokens); they count as completion tokens and report a
logprob of 0.

Smoothing gives every grammar-allowed token a finite score, so a grammar can always be
followed: a token outside the source's support scores ``log(DATA_MASS / |data tokens|)`` when
it is a *data token* (JSON punctuation, one- and two-digit numbers, ``true``/``false``/``null``,
end of text), else ``log(FLOOR_MASS / vocabulary size)`` (:mod:`.candidates`). The floor
tokens all share one score, so they are handled as one class whose fate under top-k / top-p /
min-p is computed exactly (the sampler keeps or cuts tied tokens together, :mod:`.floor`); the
~200,000-entry vocabulary is never materialised on a step. The result is exactly
``sampling.probabilities`` of the full masked vector.

The shape prior (JSON grammars only, :mod:`.json_prior`) makes replies look like data rather
than prose: strings close after a typical length, containers after a few items, numbers after
a few digits; a string's first token may copy a word of ``hints`` (the prompt's words,
:func:`~llmpresets.offline.engine.prompt_words.hint_tokens`), so ``{"city": ...}`` after
"weather in Paris" tends to say ``"Paris"``.

The plain maths of a step is :class:`PlainSteps`. By default the decoder runs its fast path
instead, :class:`~llmpresets.offline.engine.constrained.fast.step_cache.StepCache`: mask
views, smoothed source arrays and whole steps found again, and steps inside strings settled
from what their lengths share -- the same tokens from the same random numbers.
``generate_constrained(..., fast=False)`` runs the plain maths (tests compare the two).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from ....sampling import GREEDY_TEMPERATURE
from ..emitter import Emitter, alternatives, token_bytes, token_bytes_table, token_logprob
from .candidates import Candidates, MaskView, candidates_for
from .fast.step_cache import StepCache
from .floor import plan_floor_draw
from .json_prior import JsonShape, PriorState
from .scores import Bias, bias_slots, model_scores, step_scores

if TYPE_CHECKING:
    import tiktoken

    from ..types import Generation, SamplingSettings, TokenLogprob
    from .grammar import Grammar

__all__ = ["PlainSteps", "Steps", "TokenStep", "ValueSource", "generate_constrained"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Words = NDArray[np.uint32]
TokenStep = Callable[[Sequence[int]], FloatArray]

_NO_HINTS: IntArray = np.zeros(0, dtype=np.int64)
_NO_HINTS.flags.writeable = False


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
    fast: bool = True,
    values: ValueSource | None = None,
) -> Generation:
    """Sample one reply that follows ``grammar`` (see the module docstring).

    ``step(generated token ids) -> logits`` over ``vocab`` positions (or over token ids when
    ``vocab`` is None), as :func:`~llmpresets.offline.lm.sources.make_token_stepper` returns.
    ``hints``: token ids favoured inside JSON strings (the prompt's words).
    ``json_shape``: apply the JSON shape prior (default: when the grammar is a JSON schema).
    ``fast=False``: the plain maths of every step, without the fast path's caches and
    shortcuts (the same reply, slower).
    ``values``: proposes the conversation's value at each JSON value the reply starts
    (:class:`~llmpresets.offline.engine.values.ValueGuide`); its tokens are forced when the
    grammar accepts them all.
    The reply ends with ``stop`` when the grammar is complete (or end-of-text is drawn where
    the grammar allows it), and with ``length`` at ``settings.max_tokens`` or wherever the
    grammar allows nothing more short of acceptance (a reply is never called finished when
    its grammar does not accept it); ``stop`` sequences cut it as for free text.

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
    hints = _NO_HINTS if hints is None else hints
    shaped = grammar.kind == "json" if json_shape is None else json_shape
    candidates = (
        candidates_for(encoding, vocab, hints) if fast else Candidates.build(encoding, vocab, hints)
    )
    bias = bias_slots(settings, candidates.ids)
    steps: Steps = (
        StepCache(candidates, settings, bias, shaped)
        if fast
        else PlainSteps(candidates, settings, bias)
    )
    reply = _Reply(encoding, settings, candidates, shaped)
    matcher, mask = grammar.matcher(), grammar.mask_buffer()
    shape, generated, emitter = reply.shape, reply.generated, reply.emitter
    end_of_text, cap = encoding.eot_token, settings.max_tokens
    drawn = -1  # the token drawn at the last step (-1: tokens were forced since)
    if values is not None and shape is not None:
        shape.track_values()
    # The grammar stops when it is complete, or in error (llguidance stops then too).
    while not emitter.done and len(generated) < cap and not matcher.is_stopped():
        # Bytes the grammar forces: appended without a draw.
        pending = matcher.compute_ff_bytes()
        forced = matcher.compute_ff_tokens() if pending else None
        if not forced and values is not None:
            # The conversation's value for a value starting here, when the grammar takes it.
            forced = values.continuation(
                shape, pending, lambda tokens: matcher.validate_tokens(tokens) == len(tokens), rng
            )
        if forced:
            # One call for the group: a reply cut inside it ends here, matcher and all.
            matcher.consume_tokens(forced)
            reply.add_forced(forced)
            drawn = -1
            continue
        # The mask, read for the candidates.
        view = steps.view(mask.fill(matcher), mask.raw, drawn)
        if view.floor_count == 0 and not len(view.allowed):
            break  # nothing allowed: the grammar is done
        # The source's logits; the step's scores, the filters and the draw.
        logits = step(generated)
        state = shape.prior_state() if shape is not None else None
        choice, model = steps.choose(view, logits, state, reply.counts, rng)
        token = view.allowed_ids.item(choice) if choice >= 0 else _floor_token(view, settings, rng)
        if token == end_of_text:
            break
        info = None
        if settings.logprobs:
            model = steps.model(logits) if model is None else model
            info = _constrained_logprob(encoding, model, candidates, token, settings.top_logprobs)
        if not matcher.consume_token(token):
            break  # cannot happen with a correct mask; never loop on it
        reply.add(token, info)
        drawn = token
    # Finished only where the grammar accepts what was written: a grammar that allows nothing
    # more short of acceptance (a dead end, or llguidance's parser limits reached mid-reply)
    # leaves the reply cut, as a reply cut by the cap is.
    if matcher.is_error():
        grammar.forget()  # a limit reached: its shared lexer would stop the next reply at once
    return reply.finish(complete=matcher.is_accepting())


class ValueSource(Protocol):
    """Proposes values copied from the conversation (the value reader's guide)."""

    def continuation(
        self,
        shape: JsonShape | None,
        pending: bytes,
        accepts: Callable[[list[int]], bool],
        rng: np.random.Generator,
    ) -> list[int] | None:
        """Tokens that write the value starting at ``shape`` (after the forced ``pending``
        bytes; ``shape`` is None for a grammar that is not JSON), or None to draw as usual."""
        ...


class Steps(Protocol):
    """What the decoder asks of a step, answered by the plain maths (:class:`PlainSteps`)
    or by the fast path (:class:`~.fast.step_cache.StepCache`), alike."""

    def view(self, words: Words, whole: bytearray, after: int) -> MaskView:
        """The mask ``words`` (``whole``: their bytes, overwritten at the next step) read
        for the reply's candidates; ``after``: the token drawn at the step before (-1: tokens
        were forced since)."""
        ...

    def model(self, logits: FloatArray) -> FloatArray:
        """The source's smoothed scores over the candidates."""
        ...

    def choose(
        self,
        view: MaskView,
        logits: FloatArray,
        state: PriorState | None,
        counts: dict[int, int],
        rng: np.random.Generator,
    ) -> tuple[int, FloatArray | None]:
        """The draw: a slot of ``view.allowed``, or -1 for one of the floor tokens; and the
        smoothed scores, if the step made them."""
        ...


class PlainSteps:
    """Each step in full, as the module docstring lists it: no caches, no shortcuts."""

    def __init__(self, candidates: Candidates, settings: SamplingSettings, bias: Bias) -> None:
        self.candidates = candidates
        self.settings = settings
        self.bias = bias

    def view(self, words: Words, whole: bytearray, after: int) -> MaskView:
        return MaskView.build(self.candidates, words)

    def model(self, logits: FloatArray) -> FloatArray:
        return model_scores(logits, self.candidates)

    def choose(
        self,
        view: MaskView,
        logits: FloatArray,
        state: PriorState | None,
        counts: dict[int, int],
        rng: np.random.Generator,
    ) -> tuple[int, FloatArray | None]:
        candidates, settings = self.candidates, self.settings
        model = self.model(logits)
        scores = step_scores(view, model, state, candidates, counts, settings, self.bias)
        plan = plan_floor_draw(scores, candidates.floor, view.floor_count, settings)
        return plan.draw(scores, rng), model


class _Reply:
    """The tokens of one reply so far: the JSON shape they make (for the prior), the
    penalties' counts, and the emitter that writes them."""

    def __init__(
        self,
        encoding: tiktoken.Encoding,
        settings: SamplingSettings,
        candidates: Candidates,
        shaped: bool,
    ) -> None:
        self.encoding = encoding
        self.settings = settings
        self.emitter = Emitter(encoding, settings)
        self.shape = JsonShape() if shaped else None
        self.hint_key = candidates.hint_key
        self.generated: list[int] = []
        self.counts: dict[int, int] = {}  # per token id; only penalties read them
        self.counted = bool(settings.frequency_penalty or settings.presence_penalty)
        # Without stop sequences or logprobs the emitter takes the reply's tokens at the end,
        # in one call (the same pieces, in order); the loop watches max_tokens itself.
        self.plain = not settings.stop and not settings.logprobs
        self.known_bytes = token_bytes_table(encoding)

    def add(self, token: int, info: TokenLogprob | None) -> None:
        """Append a token (``info``: its logprobs entry, when they are asked for)."""
        self.generated.append(token)
        if self.counted:
            self.counts[token] = self.counts.get(token, 0) + 1
        shape = self.shape
        if shape is not None:
            shape.feed(self.known_bytes.get(token) or token_bytes(self.encoding, token))
            hinted = shape.in_string and token in self.hint_key
            shape.last_hinted = hinted
            if hinted:
                shape.used.add(self.hint_key[token])
        if not self.plain:
            self.emitter.add(token, info)

    def add_forced(self, forced: list[int]) -> None:
        """Append the tokens the grammar forced (llguidance's fast-forward tokens): certain,
        each its own only alternative; as many as the cap leaves room for."""
        for token in forced:
            if self.emitter.done or len(self.generated) >= self.settings.max_tokens:
                break
            info = _certain(self.encoding, token) if self.settings.logprobs else None
            self.add(token, info)

    def finish(self, *, complete: bool) -> Generation:
        """The reply, ended with ``stop`` when the grammar is ``complete`` (accepting), unless
        the cap or a stop sequence ended it; with ``length`` when it is not."""
        if self.plain:
            self.emitter.add_plain(self.generated)  # finishes with "length" at max_tokens
        if not self.emitter.done:
            self.emitter.finish("stop" if complete else "length")
        return self.emitter.result


def _floor_token(view: MaskView, settings: SamplingSettings, rng: np.random.Generator) -> int:
    """A draw of the floor class: one of its tied tokens the mask allows, uniformly (greedy:
    the lowest id)."""
    pool = view.floor_pool()
    greedy = settings.temperature < GREEDY_TEMPERATURE
    return int(pool[0 if greedy else rng.integers(len(pool))])


def _certain(encoding: tiktoken.Encoding, token: int) -> TokenLogprob:
    """The logprobs entry of a forced token: certain, its own only alternative."""
    return token_logprob(encoding, token, 0.0, alternatives(encoding, [(token, 0.0)]))


def _constrained_logprob(
    encoding: tiktoken.Encoding,
    model: FloatArray,
    candidates: Candidates,
    token: int,
    top: int,
) -> TokenLogprob:
    """The model's (smoothed) log-probability of ``token`` and the best alternatives."""
    ids = candidates.ids
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
