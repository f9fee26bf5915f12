"""What a next-token source is, and what the engine may ask of one: the typed contracts of lm.

Imports nothing else of the package: every module of ``lm`` and the engine read it.

A **source** is anything with ``next_logits(context_ids) -> logits`` (:class:`NextTokenSource`).
Three capabilities are optional, each a protocol of its own, so a reader and mypy see them:

- :class:`HasVocabulary` — ``vocabulary``: the token id of each position of the logits (the
  n-gram model's support is its corpus vocabulary); without it, position ``i`` is token id ``i``;
- :class:`HasEncoding` — ``encoding_name``: the tokenizer the source speaks (default: the
  requested model's);
- :class:`BindsPrompts` — ``bind(prompt_ids)``: read the prompt once and return a function of
  the *positions* generated so far.

:class:`SourceBase` declares all three with typed defaults (none of them), and its ``bind``
also receives the request's use case (``style``); the package's own sources subclass it, and
:func:`llmpresets.offline.lm.sources.as_source` gives any other source the same typed face,
reading its capabilities once.

A **stepper** (:class:`Stepper`) is one prompt's step function: generated positions -> logits.
It may offer a :class:`Shortcut`, a way to settle steps without building their logits (the
n-gram model's, see :mod:`llmpresets.offline.lm.ngram.fast`); its ``run`` says why it stopped
with one of :data:`RUN_BUDGET`, :data:`RUN_END`, :data:`RUN_SAMPLE`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "RUN_BUDGET",
    "RUN_END",
    "RUN_SAMPLE",
    "BindsPrompts",
    "FloatArray",
    "HasEncoding",
    "HasVocabulary",
    "IntArray",
    "NextTokenSource",
    "Run",
    "Shortcut",
    "SourceBase",
    "Stepper",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Why a shortcut's run of steps stopped: the budget was used, the end of text came, or a step
# is left to the sampler.
RUN_BUDGET, RUN_END, RUN_SAMPLE = 0, 1, 2


@runtime_checkable
class NextTokenSource(Protocol):
    """Anything that gives next-token logits for a context of tokenizer ids.

    >>> import numpy as np
    >>> class Uniform:
    ...     def next_logits(self, context_ids):
    ...         return np.zeros(1000)
    >>> isinstance(Uniform(), NextTokenSource)
    True
    """

    def next_logits(self, context_ids: Sequence[int]) -> ArrayLike: ...


@runtime_checkable
class HasVocabulary(Protocol):
    """Optional: the token id of each position of the source's logits (None: the identity)."""

    @property
    def vocabulary(self) -> ArrayLike | None: ...


@runtime_checkable
class HasEncoding(Protocol):
    """Optional: the name of the tokenizer the source speaks (None: the requested model's)."""

    @property
    def encoding_name(self) -> str | None: ...


@runtime_checkable
class BindsPrompts(Protocol):
    """Optional, a fast path: read the prompt once, then give logits for generated *positions*
    (indices into the vocabulary; -1 for a token outside it). A source that also wants the
    request's use case subclasses :class:`SourceBase`, whose ``bind`` receives it."""

    def bind(self, prompt_ids: Sequence[int]) -> Callable[[Sequence[int]], FloatArray]: ...


# A shortcut's entry point (see Shortcut).
Run = Callable[[list[int], np.random.Generator, int], tuple[int, float | None]]


class Shortcut(NamedTuple):
    """Steps settled without their logits, each drawn exactly as the sampler would draw it
    from the step's logits with the same random numbers (none for a lone survivor, else one
    ``rng.random()``).

    ``run(positions, rng, budget)`` settles steps one after another, appending them to
    ``positions``; it stops after ``budget`` steps (:data:`RUN_BUDGET`), at the end of text
    (:data:`RUN_END`, not appended), or at a step it leaves to the sampler (:data:`RUN_SAMPLE`):
    sample that step from its logits as usual, with ``u`` as the random number when ``run``
    returned one (it drew ``u`` but ``u`` fell too close to a boundary to call). One step at a
    time (when stop sequences must be watched after each token) is ``run(positions, rng, 1)``.
    """

    run: Run


class Stepper:
    """One prompt's step function: the positions generated so far -> the next logits.

    Optional capabilities, with typed defaults (none): :attr:`token_ids` and :meth:`shortcut`.
    """

    __slots__ = ()

    def __call__(self, generated_positions: Sequence[int]) -> FloatArray:
        raise NotImplementedError

    @property
    def token_ids(self) -> list[int] | None:
        """The tokenizer id of each position, as a list (None: read the vocabulary array)."""
        return None

    def shortcut(
        self,
        *,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        min_p: float | None,
        exclude: int | None = None,
    ) -> Shortcut | None:
        """A :class:`Shortcut` for these sampling settings (``exclude``: a position never
        drawn), or None: every step goes through the logits."""
        return None


class SourceBase:
    """A next-token source with its optional capabilities declared (defaults: none of them).

    Subclass it to offer them; a source that does not is read through the protocols above
    (:func:`llmpresets.offline.lm.sources.as_source`).
    """

    vocabulary: IntArray | None = None
    encoding_name: str | None = None

    def next_logits(self, context_ids: Sequence[int]) -> ArrayLike:
        raise NotImplementedError

    def bind(self, prompt_ids: Sequence[int], style: str | None = None) -> Stepper | None:
        """A :class:`Stepper` over generated positions (None: no fast path, the stepper calls
        :meth:`next_logits` with the whole context). ``style`` is the request's use case (the
        Client's header), or None."""
        return None
