"""Model limits and capabilities: what each model accepts and how much it can hold.

A :class:`ModelSpec` is built from the ``models:`` section of the layered configuration. Lookup
resolves dated snapshots and fine-tunes to their family; a model the registry lacks gets a spec
with unknown limits and tiktoken's own encoding for it (``o200k_base`` when tiktoken has none).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CHAT_PARAMETERS",
    "ModelFields",
    "ModelSpec",
    "SamplingParameter",
    "lookup_model",
]

SamplingParameter = Literal[
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "frequency_penalty",
    "presence_penalty",
    "logprobs",
    "top_logprobs",
    "seed",
    "stop",
    "n",
]
CHAT_PARAMETERS: frozenset[str] = frozenset(typing.get_args(SamplingParameter))

# OpenAI's chat API has no top_k / min_p; vLLM-style servers take them in the body.
_OPENAI_CHAT = CHAT_PARAMETERS - {"top_k", "min_p"}
# Reasoning models take only the default temperature and reject these.
_REASONING_REJECTS = frozenset(
    {"temperature", "top_p", "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs"}
)

EncodingName = Literal["o200k_base", "cl100k_base"]


class ModelFields(BaseModel):
    """One entry under ``models:`` as a user writes it (every field optional)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    context_window: int | None = Field(
        default=None, ge=1, description="Total tokens the model holds: prompt plus output."
    )
    max_input_tokens: int | None = Field(
        default=None, ge=1, description="Cap on prompt tokens, when lower than the context window."
    )
    max_output_tokens: int | None = Field(
        default=None, ge=1, description="Most tokens one reply may have."
    )
    encoding: EncodingName | None = Field(
        default=None, description="tiktoken encoding of the model."
    )
    reasoning: bool | None = Field(
        default=None,
        description="Reasoning model: default temperature only, no top_p / penalties / logprobs, "
        "max_completion_tokens instead of max_tokens.",
    )
    aliases: list[str] | None = Field(
        default=None,
        description="Other names of this model (e.g. preview snapshots a date would misfile).",
    )
    accepts: list[SamplingParameter] | None = Field(
        default=None,
        description="Parameters the model accepts, replacing the default for its kind.",
    )

    @model_validator(mode="after")
    def _limits_fit_the_window(self) -> ModelFields:
        window = self.context_window
        if window is not None:
            for field in ("max_input_tokens", "max_output_tokens"):
                value = getattr(self, field)
                if value is not None and value > window:
                    raise ValueError(
                        f"{field} ({value}) is larger than context_window ({window}); "
                        f"allowed: {field} <= context_window"
                    )
        return self


class ModelSpec(BaseModel):
    """Resolved limits and capabilities of one model.

    ``context_window`` is ``None`` for a model the registry does not know; the context check
    is then skipped (with a warning that says how to declare it).

    >>> from llmpresets import get_model
    >>> get_model("gpt-5").max_input_tokens
    272000
    """

    model_config = ConfigDict(frozen=True)

    name: str
    context_window: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    encoding: str = "o200k_base"
    reasoning: bool = False
    accepts: frozenset[str] = _OPENAI_CHAT
    known: bool = True

    @property
    def capabilities(self) -> frozenset[str]:
        """The request parameters this model accepts (on OpenAI's API)."""
        return self.accepts

    @property
    def output_parameter(self) -> str:
        """``max_completion_tokens`` for reasoning models, ``max_tokens`` otherwise."""
        return "max_completion_tokens" if self.reasoning else "max_tokens"

    @classmethod
    def from_fields(cls, name: str, fields: ModelFields) -> ModelSpec:
        reasoning = bool(fields.reasoning)
        if fields.accepts is not None:
            accepts: frozenset[str] = frozenset(fields.accepts)
        else:
            accepts = _OPENAI_CHAT - _REASONING_REJECTS if reasoning else _OPENAI_CHAT
        window = fields.context_window
        max_input = fields.max_input_tokens if fields.max_input_tokens is not None else window
        return cls(
            name=name,
            context_window=window,
            max_input_tokens=max_input,
            max_output_tokens=fields.max_output_tokens,
            encoding=fields.encoding or _tiktoken_encoding_name(name),
            reasoning=reasoning,
            accepts=accepts,
        )

    @classmethod
    def unknown(cls, name: str) -> ModelSpec:
        return cls(name=name, encoding=_tiktoken_encoding_name(name), known=False)


# gpt-4o-2024-08-06, gpt-4-0613, gpt-4-1106-preview, gpt-4-turbo-preview
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})(?:-preview)?$|-preview$")


def _family_candidates(name: str) -> list[str]:
    candidates = [name]
    if name.startswith("ft:"):  # ft:gpt-4o-mini-2024-07-18:org::id
        base = name.split(":")[1]
        candidates.append(base)
        name = base
    stripped = _SNAPSHOT.sub("", name)
    if stripped != name:
        candidates.append(stripped)
    return candidates


def lookup_model(
    registry: Mapping[str, ModelSpec], name: str, aliases: Mapping[str, str] | None = None
) -> ModelSpec | None:
    """The registry's spec for ``name`` or its family, keeping the requested name.

    An exact name or alias wins; then dated-snapshot and fine-tune suffixes are stripped.
    """
    aliases = aliases or {}
    for candidate in _family_candidates(name):
        spec = registry.get(candidate) or registry.get(aliases.get(candidate, ""))
        if spec is not None:
            return spec if candidate == name else spec.model_copy(update={"name": name})
    return None


def _tiktoken_encoding_name(model: str) -> str:
    from ._encodings import encoding_name_for_model

    return encoding_name_for_model(model)
