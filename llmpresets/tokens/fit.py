"""Context pre-flight (:func:`check_context`) and fitting a conversation (:func:`fit_messages`).

Both count with :mod:`llmpresets.tokens.counting` and compare against the model's limits from the
registry: the prompt must stay within ``max_input_tokens`` and, with the output reserved,
within ``context_window``. A model whose limits are unknown is not checked; it gets one
:class:`UnknownModelLimitsWarning` per model name saying how to declare it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import ContextWindowExceeded
from .counting import (
    MessageLike,
    MessageT,
    TokenCounter,
    ToolLike,
    as_list,
    as_mapping,
    counter_for,
)

if TYPE_CHECKING:
    from ..config.models import ModelSpec
    from ..config.presets import PresetBook

__all__ = [
    "DEFAULT_RESERVE_OUTPUT_TOKENS",
    "Budget",
    "UnknownModelLimitsWarning",
    "budget_for_tokens",
    "check_context",
    "fit_messages",
]

# fit_messages' default room for the reply (clamped to the model's max output and half its window).
DEFAULT_RESERVE_OUTPUT_TOKENS = 4096
_PINNED_ROLES = frozenset({"system", "developer"})
_warned_models: set[str] = set()


class UnknownModelLimitsWarning(UserWarning):
    """The model's context window is unknown, so the context check was skipped."""


@dataclass(frozen=True)
class Budget:
    """How a prompt sits in a model's limits (``None`` limits: the model's are unknown).

    ``reserved_output_tokens`` is the room kept for the reply; ``remaining`` is how many more
    prompt tokens would still pass the same check (negative: over by that much, only from
    ``check_context(..., strict=False)``).

    >>> budget = check_context([{"role": "user", "content": "hello world"}], "gpt-4")
    >>> budget.prompt_tokens, budget.context_window, budget.reserved_output_tokens
    (9, 8192, 8183)
    >>> budget.remaining
    8182
    """

    model: str
    prompt_tokens: int
    max_input_tokens: int | None
    context_window: int | None
    reserved_output_tokens: int
    remaining: int | None
    max_output_tokens: int | None = None
    encoding: str = "o200k_base"
    # False where the model's tokenizer is not public: prompt_tokens is then an estimate (an
    # o200k count times the provider's safety factor, rounded up), never an exact count.
    exact: bool = True

    @property
    def known(self) -> bool:
        """Whether the model's limits are known (otherwise nothing was checked)."""
        return self.context_window is not None

    @property
    def fits(self) -> bool:
        """The prompt passes the check (always true for an unknown model)."""
        return self.remaining is None or self.remaining >= 0

    @property
    def prompt_limit(self) -> int | None:
        """The most prompt tokens this check allows."""
        return None if self.remaining is None else self.prompt_tokens + self.remaining

    @property
    def percent_used(self) -> float | None:
        """The prompt as a percentage of :attr:`prompt_limit`."""
        limit = self.prompt_limit
        if limit is None:
            return None
        return 100.0 * self.prompt_tokens / limit if limit > 0 else float("inf")


def check_context(
    messages: Iterable[MessageLike],
    model: str,
    max_output_tokens: int | None = None,
    tools: Iterable[ToolLike] | None = None,
    *,
    config: PresetBook | None = None,
    strict: bool = True,
    stacklevel: int = 1,
) -> Budget:
    """Check that a request fits ``model`` before sending it; return its :class:`Budget`.

    With ``max_output_tokens`` both limits must hold: prompt <= ``max_input_tokens`` and
    prompt + ``max_output_tokens`` <= ``context_window``. Without it the model's full max output
    is *not* reserved (gpt-4 has an 8,192 window and 8,192 max output: that would refuse every
    prompt); the reservation is clamped, ``min(max_output_tokens of the model, context_window -
    prompt)``, and the check fails only when the prompt exceeds ``max_input_tokens`` or leaves
    no room for a single output token. Raises :class:`~llmpresets.ContextWindowExceeded` (with
    the numbers and the model) unless ``strict=False``, which returns the budget with a
    negative ``remaining``. A model with unknown limits is not checked: one
    :class:`UnknownModelLimitsWarning` per model name, and a budget with ``None`` limits
    (``stacklevel`` as for :func:`warnings.warn`: a wrapper passes 2 to name its own caller).

    >>> hello = [{"role": "user", "content": "hi"}]
    >>> check_context(hello, "gpt-5", max_output_tokens=1000).remaining
    271992
    """
    counter = counter_for(model, config)
    prompt_tokens = counter.scaled(counter.prompt(messages, tools))
    return _budget(
        counter.spec, prompt_tokens, max_output_tokens, strict=strict, stacklevel=2 + stacklevel
    )


def budget_for_tokens(
    prompt_tokens: int,
    model: str,
    max_output_tokens: int | None = None,
    *,
    config: PresetBook | None = None,
    strict: bool = True,
) -> Budget:
    """The :func:`check_context` verdict for a prompt already counted (e.g. plain text).

    >>> budget_for_tokens(8000, "gpt-4", strict=False).remaining
    191
    """
    counter = counter_for(model, config)
    return _budget(counter.spec, prompt_tokens, max_output_tokens, strict=strict, stacklevel=3)


def _budget(
    spec: ModelSpec,
    prompt_tokens: int,
    max_output_tokens: int | None,
    *,
    strict: bool,
    stacklevel: int,
) -> Budget:
    if max_output_tokens is not None and (
        isinstance(max_output_tokens, bool)
        or not isinstance(max_output_tokens, int)
        or max_output_tokens < 1
    ):
        raise ValueError(
            f"max_output_tokens must be an int >= 1 or None, got {max_output_tokens!r}"
        )
    window = spec.context_window
    if not spec.known or window is None:
        _warn_unknown(spec, stacklevel + 1)
        reserved = max_output_tokens if max_output_tokens is not None else 0
        return Budget(
            model=spec.name,
            prompt_tokens=prompt_tokens,
            max_input_tokens=None,
            context_window=None,
            reserved_output_tokens=reserved,
            remaining=None,
            max_output_tokens=spec.max_output_tokens,
            encoding=spec.encoding,
            exact=spec.tokenizer_public,
        )
    max_input = min(spec.max_input_tokens or window, window)
    model_max = spec.max_output_tokens
    if (
        strict
        and max_output_tokens is not None
        and model_max is not None
        and max_output_tokens > model_max
    ):
        raise _over_max_output(spec, prompt_tokens, max_output_tokens, "max_output_tokens")
    if max_output_tokens is None:
        model_output = spec.max_output_tokens if spec.max_output_tokens is not None else window
        reserved = max(0, min(model_output, window - prompt_tokens))
        prompt_limit = min(max_input, window - 1)
    else:
        reserved = max_output_tokens
        prompt_limit = min(max_input, window - max_output_tokens)
    budget = Budget(
        model=spec.name,
        prompt_tokens=prompt_tokens,
        max_input_tokens=max_input,
        context_window=window,
        reserved_output_tokens=reserved,
        remaining=prompt_limit - prompt_tokens,
        max_output_tokens=spec.max_output_tokens,
        encoding=spec.encoding,
        exact=spec.tokenizer_public,
    )
    if strict and not budget.fits:
        raise _exceeded(budget, explicit_output=max_output_tokens is not None)
    return budget


def _over_max_output(
    spec: ModelSpec, prompt_tokens: int, output_tokens: int, name: str
) -> ContextWindowExceeded:
    """The error for an output reservation above the model's maximum output."""
    assert spec.context_window is not None and spec.max_output_tokens is not None
    window = spec.context_window
    return ContextWindowExceeded(
        f"{name} {output_tokens:,} is more than {spec.name}'s maximum output of "
        f"{spec.max_output_tokens:,} tokens; lower it to at most {spec.max_output_tokens:,}",
        model=spec.name,
        prompt_tokens=prompt_tokens,
        max_input_tokens=min(spec.max_input_tokens or window, window),
        context_window=window,
        reserved_output_tokens=output_tokens,
    )


def _exceeded(budget: Budget, *, explicit_output: bool, lead: str = "") -> ContextWindowExceeded:
    assert budget.context_window is not None and budget.max_input_tokens is not None
    prompt, window, max_input = budget.prompt_tokens, budget.context_window, budget.max_input_tokens
    reserved = budget.reserved_output_tokens
    model = budget.model
    if prompt > max_input:
        problem = (
            f"the prompt has {prompt:,} tokens, over {model}'s input limit of {max_input:,} "
            f"by {prompt - max_input:,}"
        )
    elif explicit_output:
        problem = (
            f"the prompt has {prompt:,} tokens and {reserved:,} are reserved for output: "
            f"{prompt + reserved:,}, over {model}'s context window of {window:,} by "
            f"{prompt + reserved - window:,}"
        )
    else:
        problem = (
            f"the prompt has {prompt:,} tokens and leaves no room for output in {model}'s "
            f"context window of {window:,}"
        )
    limits = (
        f"(context window {window:,}, max input {max_input:,}, reserved output {reserved:,}, "
        f"prompt limit {max(budget.prompt_limit or 0, 0):,})"
    )
    return ContextWindowExceeded(
        f"{lead}{problem} {limits}; shorten the messages, lower max_output_tokens, or use "
        "llmpresets.fit_messages() to drop old turns",
        model=model,
        prompt_tokens=prompt,
        max_input_tokens=max_input,
        context_window=window,
        reserved_output_tokens=reserved,
    )


def _warn_unknown(spec: ModelSpec, stacklevel: int) -> None:
    if spec.name in _warned_models:
        return
    _warned_models.add(spec.name)
    why = (
        "is not in the model registry"
        if not spec.known
        else "has no context_window in the model registry"
    )
    rules = (
        f" It takes the rules of {spec.family} (its family) for parameters." if spec.family else ""
    )
    if not spec.known:
        from ..config.presets import default_book
        from ..config.suggest import closest_model

        book = default_book()
        suggestion = closest_model(spec.name, [*book.models, *book.aliases])
        rules += f" Did you mean {suggestion!r}?" if suggestion else ""
    warnings.warn(
        f"model {spec.name!r} {why}, so the context check was skipped (tokens are counted with "
        f"{spec.encoding}).{rules} Declare its limits from its model page in your presets.yaml "
        "(`llmpresets models` shows the fields):\n"
        f"models:\n  {spec.name}:\n    context_window: ...\n    max_output_tokens: ...\n"
        f"    encoding: {spec.encoding}",
        UnknownModelLimitsWarning,
        stacklevel=stacklevel,
    )


# --------------------------------------------------------------------------- fitting


def fit_messages(
    messages: Iterable[MessageT],
    model: str,
    reserve_output_tokens: int | None = None,
    tools: Iterable[ToolLike] | None = None,
    *,
    truncate: bool = False,
    config: PresetBook | None = None,
    stacklevel: int = 1,
) -> list[MessageT]:
    """The messages, with the oldest turns dropped until the request fits ``model``.

    A turn is a user message with the messages that follow it up to the next user message (the
    messages before the first user message are a turn too). Every system and developer message
    is kept, and so is the newest turn; an assistant message with ``tool_calls`` and its
    ``tool`` replies sit in one turn, so they are kept or dropped together. The result passes
    ``check_context(result, model, max_output_tokens=reserve_output_tokens, tools=tools)``
    (``max_output_tokens=None`` for a reserve of 0: room for one output token), and a reserve
    that check refuses whatever the prompt (above the model's max output) is refused here too.
    ``reserve_output_tokens`` defaults to ``min(4096, the model's max output, half its window)``.

    If that minimum still does not fit, ``truncate=True`` cuts the middle of the longest kept
    message whose content is a string (marking the cut); otherwise, or if even that cannot fit,
    :class:`~llmpresets.ContextWindowExceeded` is raised. The messages are returned as given
    (the truncated one as a copy); nothing is changed in place. A model with unknown limits
    gets the messages back unchanged and one :class:`UnknownModelLimitsWarning` (``stacklevel``
    as in :func:`check_context`).

    >>> history = [{"role": "system", "content": "Be brief."}]
    >>> for n in range(3000):
    ...     history += [{"role": "user", "content": f"question {n}"},
    ...                 {"role": "assistant", "content": f"answer {n}"}]
    >>> fitted = fit_messages(history, "gpt-4", reserve_output_tokens=1000)
    >>> fitted[0]["content"], fitted[-1]["content"], len(fitted) < len(history)
    ('Be brief.', 'answer 2999', True)
    """
    counter = counter_for(model, config)
    kept = as_list(messages, "messages", "messages")
    counts = [counter.scaled(counter.message(message, index)) for index, message in enumerate(kept)]
    total = 3 + counter.tools(tools) + sum(counts)
    spec = counter.spec
    window = spec.context_window
    if not spec.known or window is None:
        _warn_unknown(spec, stacklevel=2 + stacklevel)
        return list(kept)
    if reserve_output_tokens is None:
        model_output = spec.max_output_tokens or DEFAULT_RESERVE_OUTPUT_TOKENS
        reserve_output_tokens = min(DEFAULT_RESERVE_OUTPUT_TOKENS, model_output, window // 2)
    elif isinstance(reserve_output_tokens, bool) or not isinstance(reserve_output_tokens, int):
        raise ValueError(f"reserve_output_tokens must be an int, got {reserve_output_tokens!r}")
    elif reserve_output_tokens < 0:
        raise ValueError(f"reserve_output_tokens must be >= 0, got {reserve_output_tokens}")
    max_input = min(spec.max_input_tokens or window, window)
    if reserve_output_tokens == 0:
        # As check_context without max_output_tokens: room for at least one output token.
        limit = min(max_input, window - 1)
    elif spec.max_output_tokens is not None and reserve_output_tokens > spec.max_output_tokens:
        # check_context refuses this reservation whatever the prompt; so do we.
        raise _over_max_output(spec, total, reserve_output_tokens, "reserve_output_tokens")
    else:
        limit = min(max_input, window - reserve_output_tokens)
    if total <= limit:
        return list(kept)

    dropped: set[int] = set()
    turns = _turns(kept)
    for turn in turns[:-1]:
        if total <= limit:
            break
        dropped.update(turn)
        total -= sum(counts[index] for index in turn)
    result = [message for index, message in enumerate(kept) if index not in dropped]
    if total <= limit:
        return result

    if truncate:
        positions = [index for index in range(len(kept)) if index not in dropped]
        fitted = _truncate_longest(counter, kept, counts, positions, total - limit)
        if fitted is not None:
            position, replacement = fitted
            result[positions.index(position)] = replacement
            return result
    budget = Budget(
        model=spec.name,
        prompt_tokens=total,
        max_input_tokens=max_input,
        context_window=window,
        reserved_output_tokens=reserve_output_tokens,
        remaining=limit - total,
        max_output_tokens=spec.max_output_tokens,
        encoding=spec.encoding,
        exact=spec.tokenizer_public,
    )
    lead = (
        "cannot fit the messages even after dropping every older turn (kept: the system and "
        "developer messages and the newest turn"
        + (
            ", with the longest message cut"
            if truncate
            else "; truncate=True would cut the middle of the longest message"
        )
        + "): "
    )
    raise _exceeded(budget, explicit_output=True, lead=lead)


def _turns(messages: list[Any]) -> list[list[int]]:
    """Indexes of the droppable turns, oldest first (system / developer messages excluded)."""
    turns: list[list[int]] = []
    for index, message in enumerate(messages):
        role = as_mapping(message, f"message {index}").get("role")
        if role in _PINNED_ROLES:
            continue
        if role == "user" or not turns:
            turns.append([])
        turns[-1].append(index)
    return turns


_MARKER = "\n[... {omitted} tokens omitted ...]\n"


def _truncate_longest(
    counter: TokenCounter, messages: list[Any], counts: list[int], positions: list[int], excess: int
) -> tuple[int, Any] | None:
    """Cut ``excess`` tokens from the middle of the longest string-content message."""
    candidates = [
        index
        for index in positions
        if isinstance(as_mapping(messages[index], "").get("content"), str)
    ]
    if not candidates:
        return None
    index = max(candidates, key=lambda i: counts[i])
    original = messages[index]
    content: str = as_mapping(original, "").get("content")  # type: ignore[assignment]
    ids = counter.encode(content)
    target = counts[index] - excess  # the most tokens the message may have afterwards
    keep = len(ids) - excess - len(counter.encode(_MARKER.format(omitted=len(ids))))
    for _ in range(8):
        keep = max(keep, 0)
        head = counter.encoding.decode_bytes(ids[: keep - keep // 2]).decode("utf-8", "ignore")
        tail_ids = ids[len(ids) - keep // 2 :] if keep // 2 else []
        tail = counter.encoding.decode_bytes(tail_ids).decode("utf-8", "ignore")
        text = head + _MARKER.format(omitted=len(ids) - keep) + tail
        replacement = _with_content(original, text)
        over = counter.message(replacement, index) - target
        if over <= 0:
            return index, replacement
        if keep == 0:
            return None
        keep -= over
    return None


def _with_content(message: Any, content: str) -> Any:
    if isinstance(message, Mapping):
        return {**message, "content": content}
    return message.model_copy(update={"content": content})
