"""Next-token sources as the engine meets them: any source made typed, and its step functions.

A source (:class:`~llmpresets.offline.lm.protocol.NextTokenSource`) is anything with
``next_logits(context_ids) -> logits``, or a plain callable ``(context_ids) -> logits``
(:class:`CallableSource`). The context is the tokenizer ids of the rendered prompt
(:func:`.prompt.render_prompt`), then ``<|endofprompt|>``, then the ids generated so far.
Logits are a 1-D array; position ``i`` is token id ``i`` unless the source has a
``vocabulary`` listing the token id of each position. ``-inf`` marks an impossible token.
Generation ends when the tokenizer's ``<|endoftext|>`` is sampled.

The optional capabilities (``vocabulary``, ``encoding_name``, ``bind``) are declared in
:mod:`llmpresets.offline.lm.protocol`; :func:`as_source` reads them once, so
:func:`make_stepper` and :func:`make_token_stepper` see a typed
:class:`~llmpresets.offline.lm.protocol.SourceBase`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ..._cache import BoundedCache
from ..._errors import SourceError
from .prompt import end_of_prompt
from .protocol import (
    BindsPrompts,
    FloatArray,
    HasEncoding,
    HasVocabulary,
    IntArray,
    NextTokenSource,
    SourceBase,
    Stepper,
)

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "PARTIAL_PREFIX",
    "CallableSource",
    "as_source",
    "make_stepper",
    "make_token_stepper",
    "token_text",
]

StepFunction = Callable[[Sequence[int]], FloatArray]


class CallableSource(SourceBase):
    """Adapt a plain function ``(context_ids) -> logits`` to
    :class:`~llmpresets.offline.lm.protocol.NextTokenSource`.

    >>> import numpy as np
    >>> source = CallableSource(lambda context: np.zeros(5), vocabulary=[10, 11, 12, 13, 14])
    >>> source.next_logits([1, 2]).shape
    (5,)
    """

    def __init__(
        self,
        function: Callable[[Sequence[int]], ArrayLike],
        *,
        vocabulary: Sequence[int] | None = None,
        encoding_name: str | None = None,
    ) -> None:
        self.function = function
        self.vocabulary = None if vocabulary is None else np.asarray(vocabulary, dtype=np.int64)
        self.encoding_name = encoding_name

    def next_logits(self, context_ids: Sequence[int]) -> FloatArray:
        return np.asarray(self.function(context_ids), dtype=np.float64)

    def __repr__(self) -> str:
        return f"CallableSource({self.function!r})"


class DeclaredSource(SourceBase):
    """A source that is not a :class:`~llmpresets.offline.lm.protocol.SourceBase`, with the
    optional capabilities it declares (read once, through their protocols)."""

    def __init__(self, source: NextTokenSource) -> None:
        self.source = source
        if isinstance(source, HasVocabulary):
            vocabulary = source.vocabulary
            self.vocabulary = None if vocabulary is None else np.asarray(vocabulary, np.int64)
        if isinstance(source, HasEncoding):
            self.encoding_name = source.encoding_name
        self._binds = source if isinstance(source, BindsPrompts) else None

    def next_logits(self, context_ids: Sequence[int]) -> ArrayLike:
        return self.source.next_logits(context_ids)

    def bind(self, prompt_ids: Sequence[int], style: str | None = None) -> Stepper | None:
        if self._binds is None:
            return None
        return FunctionStepper(self._binds.bind(prompt_ids))  # the use case is SourceBase's

    def __repr__(self) -> str:
        return repr(self.source)


def as_source(source: object) -> SourceBase:
    """``source`` with its optional capabilities typed: itself when it is a
    :class:`~llmpresets.offline.lm.protocol.SourceBase`; an object with ``next_logits`` is
    read through the capability protocols; a callable is wrapped; else TypeError."""
    if isinstance(source, SourceBase):
        return source
    if isinstance(source, NextTokenSource):
        return DeclaredSource(source)
    if callable(source):
        return CallableSource(source)
    raise TypeError(
        f"source must have next_logits(context_ids) or be a callable returning logits, "
        f"got {type(source).__name__}"
    )


class FunctionStepper(Stepper):
    """A plain step function (a source's own ``bind`` result) as a :class:`Stepper`."""

    __slots__ = ("function",)

    def __init__(self, function: StepFunction) -> None:
        self.function = function

    def __call__(self, generated_positions: Sequence[int]) -> FloatArray:
        return self.function(generated_positions)


def make_stepper(
    source: NextTokenSource,
    prompt_ids: Sequence[int],
    encoding: tiktoken.Encoding,
    *,
    style: str | None = None,
) -> tuple[Stepper, IntArray | None]:
    """A function from generated positions to checked logits, and the position -> id map.

    ``style`` is the use case the Client sent (header
    ``llmpresets.config.headers.USE_CASE_HEADER``); a source that binds prompts (the n-gram
    model) uses it to choose its section.
    """
    typed = as_source(source)
    vocab = typed.vocabulary
    bound = typed.bind(prompt_ids, style=style)
    if bound is not None:
        return bound, vocab
    return ContextStepper(typed, prompt_ids, encoding, vocab), vocab


class ContextStepper(Stepper):
    """Steps a source through ``next_logits``: the prompt's ids, ``<|endofprompt|>``, then
    the ids of the positions generated so far; the logits are checked (:class:`SourceError`)."""

    __slots__ = ("_context", "_fixed", "_limit", "_source", "_vocab")

    def __init__(
        self,
        source: SourceBase,
        prompt_ids: Sequence[int],
        encoding: tiktoken.Encoding,
        vocab: IntArray | None,
    ) -> None:
        self._source = source
        self._context = [*prompt_ids, end_of_prompt(encoding)]
        self._fixed = len(self._context)
        self._vocab = vocab
        self._limit = encoding.n_vocab if vocab is None else len(vocab)

    def __call__(self, generated_positions: Sequence[int]) -> FloatArray:
        context, vocab = self._context, self._vocab
        del context[self._fixed :]
        if vocab is not None:
            context.extend(int(vocab[position]) for position in generated_positions)
        else:
            context.extend(generated_positions)
        return _checked_logits(self._source, context, self._limit)


def _checked_logits(source: NextTokenSource, context: list[int], limit: int) -> FloatArray:
    """``source.next_logits(context)`` as float64, or a SourceError saying what was wrong."""
    try:
        logits = np.asarray(source.next_logits(list(context)), dtype=np.float64)
    except Exception as exc:
        raise SourceError(f"the next-token source {source!r} failed: {exc!r}") from exc
    if logits.ndim != 1 or not 0 < logits.shape[0] <= limit:
        raise SourceError(
            f"the next-token source returned logits of shape {logits.shape}; expected a 1-D "
            f"array of at most {limit} values (one per token id)"
        )
    if np.isnan(logits).any() or np.isposinf(logits).any() or np.isneginf(logits).all():
        raise SourceError("the next-token source returned NaN or +inf logits, or all -inf")
    return logits


# Each vocabulary's token id -> position map: building one costs about a millisecond for a
# few thousand tokens, and every structured request needs it. About 120 bytes an entry: the
# budget holds the packaged models' maps many times over, or one of a whole tokenizer's size.
_positions_by_vocabulary: BoundedCache[bytes, dict[int, int]] = BoundedCache(
    "lm token positions", budget=32 << 20
)


def _positions(vocab: IntArray) -> dict[int, int]:
    """Each token id's position in ``vocab`` (cached per vocabulary)."""
    key = vocab.tobytes()
    cached = _positions_by_vocabulary.peek(key)
    if cached is None:
        cached = {int(token): index for index, token in enumerate(vocab.tolist())}
        _positions_by_vocabulary.put(key, cached, nbytes=len(key) + 120 * len(cached))
    return cached


def make_token_stepper(
    source: NextTokenSource,
    prompt_ids: Sequence[int],
    encoding: tiktoken.Encoding,
    *,
    style: str | None = None,
) -> tuple[StepFunction, IntArray | None]:
    """As :func:`make_stepper`, but the function takes the generated *token ids*.

    For constrained decoding, where a grammar may force tokens the source's vocabulary lacks
    (JSON punctuation the n-gram corpus never saw): such a token is passed to a source that
    binds prompts as position ``-1`` (no history matches it; the n-gram model backs off past
    it), and to any other source as itself, in the context of ids.
    """
    typed = as_source(source)
    step, vocab = make_stepper(typed, prompt_ids, encoding, style=style)
    if vocab is None:
        return step, None
    if isinstance(step, ContextStepper):  # the source reads ids: pass them as they are
        context = [*prompt_ids, end_of_prompt(encoding)]
        fixed = len(context)

        def by_id(token_ids: Sequence[int]) -> FloatArray:
            del context[fixed:]
            context.extend(int(token) for token in token_ids)
            return _checked_logits(typed, context, len(vocab))

        return by_id, vocab
    position_of = _positions(vocab)  # the source bound the prompt: it reads positions
    positions: list[int] = []  # the positions of ``mirrored``, the caller's list of ids
    mirrored: Sequence[int] | None = None

    def by_position(token_ids: Sequence[int]) -> FloatArray:
        # Called once a step with a reply's list of ids, one or a few longer each time;
        # another list (the next reply, the next tool call) is mapped afresh.
        nonlocal mirrored
        known = len(positions)
        if token_ids is not mirrored or len(token_ids) < known:
            mirrored = token_ids
            positions[:] = [position_of.get(int(t), -1) for t in token_ids]
        elif len(token_ids) == known + 1:  # one token more: the usual step
            positions.append(position_of.get(int(token_ids[known]), -1))
        elif len(token_ids) > known:
            positions.extend([position_of.get(int(t), -1) for t in token_ids[known:]])
        return step(positions)

    return by_position, vocab


# A token's text as the API shows it, per (encoding name, token id): at most one entry per
# vocabulary id ever shown; about 250 bytes each.
_token_texts: BoundedCache[tuple[str, int], str] = BoundedCache("lm token texts", budget=16 << 20)


# token_text's mark of a token whose bytes are not whole UTF-8 on their own.
PARTIAL_PREFIX = "bytes:"


def token_text(encoding: tiktoken.Encoding, token: int) -> str:
    """A token as the API shows it: its text, or ``bytes:\\xNN`` for a partial character."""
    key = (encoding.name, token)
    text = _token_texts.peek(key)
    if text is None:
        data = encoding.decode_single_token_bytes(token)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = PARTIAL_PREFIX + "".join(f"\\x{byte:02x}" for byte in data)
        _token_texts.put(key, text, nbytes=200 + len(text))
    return text
