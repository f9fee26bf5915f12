"""llmpresets: sampling presets per use case, token budgets you can trust, and an offline
OpenAI-compatible backend so the same code runs and is tested without an API key.

>>> import llmpresets
>>> llmpresets.load_presets()["code"].temperature
0.2

Importing the package is cheap: the public names below load their modules (and openai, numpy,
pydantic) on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
    ContextWindowExceeded,
    IncompleteResponseError,
    LLMPresetsError,
    MessageFormatError,
    MissingAPIKeyError,
    RateLimitError,
    SourceError,
    TokenizerError,
    UnknownModelError,
    UnknownPresetError,
    UnsupportedParameterError,
)

if TYPE_CHECKING:
    from . import sampling
    from ._adapt import UnsupportedParameterWarning, get_model, resolve_params
    from ._client import AsyncClient, ChatResult, Client, ResponseResult, offline_mode
    from ._fit import Budget, UnknownModelLimitsWarning, check_context, fit_messages
    from ._models import ModelSpec
    from ._presets import Preset, PresetBook, load_presets
    from ._tokens import count_message_tokens, count_tokens
    from .offline import OfflineTransport

__version__ = "0.1.0"

_LAZY = {
    "AsyncClient": "._client",
    "Budget": "._fit",
    "ChatResult": "._client",
    "Client": "._client",
    "ModelSpec": "._models",
    "OfflineTransport": ".offline",
    "Preset": "._presets",
    "PresetBook": "._presets",
    "ResponseResult": "._client",
    "UnknownModelLimitsWarning": "._fit",
    "UnsupportedParameterWarning": "._adapt",
    "check_context": "._fit",
    "count_message_tokens": "._tokens",
    "count_tokens": "._tokens",
    "fit_messages": "._fit",
    "get_model": "._adapt",
    "load_presets": "._presets",
    "offline_mode": "._client",
    "resolve_params": "._adapt",
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "Budget",
    "ChatResult",
    "Client",
    "ConfigError",
    "ContextWindowExceeded",
    "IncompleteResponseError",
    "LLMPresetsError",
    "MessageFormatError",
    "MissingAPIKeyError",
    "ModelSpec",
    "OfflineTransport",
    "Preset",
    "PresetBook",
    "RateLimitError",
    "ResponseResult",
    "SourceError",
    "TokenizerError",
    "UnknownModelError",
    "UnknownModelLimitsWarning",
    "UnknownPresetError",
    "UnsupportedParameterError",
    "UnsupportedParameterWarning",
    "__version__",
    "check_context",
    "count_message_tokens",
    "count_tokens",
    "fit_messages",
    "get_model",
    "load_presets",
    "offline_mode",
    "resolve_params",
    "sampling",
]


def __getattr__(name: str) -> Any:
    if name == "sampling":
        return importlib.import_module(".sampling", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmpresets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
