"""Did you mean: the registry's model name closest to one it lacks, when that is probably a typo.

A name is suggested when it is within a small edit distance of the unknown one (Damerau's
optimal string alignment: an insertion, a deletion, a substitution or two neighbours swapped
each cost 1), at most 1 for names under 8 characters and 2 otherwise, compared without case.
Names that differ only in version numbers (digits and dots, and the dashes around them) are
never suggested: ``gpt-6.3-sol``
or ``gpt-6.9-sol`` is a different (perhaps newer) model than ``gpt-6.2-sol`` or ``gpt-6-sol``,
not a misspelling of it.

Every place that reads a model name uses this one rule: the strict lookup's
:class:`~llmpresets.UnknownModelError`, the :class:`ModelNameWarning` of
:func:`~llmpresets.resolve_params` and :func:`~llmpresets.get_model`, the CLI (exit 2) and
the offline backend's 404 ``model_not_found``.

>>> closest_model("gpt-6-sool", ["gpt-6-sol", "gpt-6-luna", "gpt-4o"])
'gpt-6-sol'
>>> closest_model("gpt-6.3-sol", ["gpt-6.2-sol"]) is None
True
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

__all__ = [
    "ModelNameWarning",
    "ModelRegistry",
    "closest_model",
    "did_you_mean",
    "warn_if_misspelt",
]


class ModelRegistry(Protocol):
    """What a suggestion reads of a :class:`~llmpresets.config.presets.PresetBook` (which
    imports this module, so it is named by its shape here)."""

    @property
    def models(self) -> Mapping[str, Any]: ...

    @property
    def aliases(self) -> Mapping[str, str]: ...

    def model(self, name: str, *, strict: bool = False) -> Any: ...


_VERSION_CHARACTERS = str.maketrans("", "", "0123456789.")


def _without_versions(name: str) -> str:
    """``name`` with its version numbers (and the dashes that set them apart) taken out:
    ``claude-opus-5`` and ``claude-opus`` both read ``claude-opus``."""
    return "-".join(part for part in name.translate(_VERSION_CHARACTERS).split("-") if part)


class ModelNameWarning(UserWarning):
    """A model name the registry lacks is a small edit away from one it has (probably a typo).

    The name is still used (with the rules of its family, when it has one); declare the model
    under ``models:`` in your presets.yaml to silence it, or fix the name.
    """


def _distance(left: str, right: str, limit: int) -> int:
    """Optimal string alignment distance, or ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(left) - len(right)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(right) + 1))
    for i, char in enumerate(left, 1):
        current = [i] + [0] * len(right)
        for j, other in enumerate(right, 1):
            cost = 0 if char == other else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char == right[j - 2] and left[i - 2] == other:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def closest_model(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` most probably misspells, or None (see the module docstring).

    Ties go to the name listed first in sorted order, so the answer is stable.
    """
    wanted = name.casefold()
    limit = 1 if len(wanted) < 8 else 2
    best: tuple[int, str] | None = None
    for candidate in sorted(set(known)):
        folded = candidate.casefold()
        if folded == wanted:
            return candidate if candidate != name else None  # only the case differs
        if _without_versions(folded) == _without_versions(wanted):
            continue  # another version, not a typo
        distance = _distance(wanted, folded, limit)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, candidate)
    return None if best is None else best[1]


def did_you_mean(name: str, book: ModelRegistry) -> str | None:
    """The registry model (or alias) of ``book`` that ``name`` probably misspells, if
    ``name`` is not itself a model the registry knows."""
    if book.model(name).known:
        return None
    return closest_model(name, [*book.models, *book.aliases])


def warn_if_misspelt(name: str, book: ModelRegistry, *, stacklevel: int = 1) -> None:
    """Warn :class:`ModelNameWarning` when ``name`` is unknown and close to a known model.

    ``stacklevel`` is as for :func:`warnings.warn`, counted from the caller of this function.
    """
    suggestion = did_you_mean(name, book)
    if suggestion is None:
        return
    warnings.warn(
        f"model {name!r} is not in the model registry; did you mean {suggestion!r}? "
        "(a name the registry lacks runs with the rules of its family and unknown limits; "
        "declare it under 'models:' in your presets.yaml if it is right)",
        ModelNameWarning,
        stacklevel=stacklevel + 1,
    )
