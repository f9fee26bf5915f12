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
    CassetteMissError,
    ConfigError,
    ContextWindowExceeded,
    IncompleteResponseError,
    LLMPresetsError,
    MessageFormatError,
    MissingAPIKeyError,
    NetworkBlockedError,
    RateLimitError,
    SourceError,
    TokenizerError,
    UnknownModelError,
    UnknownPresetError,
    UnsupportedParameterError,
)

if TYPE_CHECKING:
    from . import sampling
    from .client.client import AsyncClient, ChatResult, Client, ResponseResult, offline_mode
    from .config.adapt import UnsupportedParameterWarning, get_model, resolve_params
    from .config.models import ModelSpec
    from .config.presets import Preset, PresetBook, load_presets
    from .config.suggest import ModelNameWarning
    from .offline import OfflineTransport
    from .testing import Cassette, CassetteMissWarning, intercept_openai
    from .tokens.counting import count_message_tokens, count_tokens
    from .tokens.fit import Budget, UnknownModelLimitsWarning, check_context, fit_messages

__version__ = "0.1.0"

_LAZY = {
    "AsyncClient": ".client.client",
    "Budget": ".tokens.fit",
    "Cassette": ".testing",
    "CassetteMissWarning": ".testing",
    "ChatResult": ".client.client",
    "Client": ".client.client",
    "ModelNameWarning": ".config.suggest",
    "ModelSpec": ".config.models",
    "OfflineTransport": ".offline",
    "Preset": ".config.presets",
    "PresetBook": ".config.presets",
    "ResponseResult": ".client.client",
    "UnknownModelLimitsWarning": ".tokens.fit",
    "UnsupportedParameterWarning": ".config.adapt",
    "check_context": ".tokens.fit",
    "count_message_tokens": ".tokens.counting",
    "count_tokens": ".tokens.counting",
    "fit_messages": ".tokens.fit",
    "get_model": ".config.adapt",
    "intercept_openai": ".testing",
    "load_presets": ".config.presets",
    "offline_mode": ".client.client",
    "resolve_params": ".config.adapt",
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "Budget",
    "Cassette",
    "CassetteMissError",
    "CassetteMissWarning",
    "ChatResult",
    "Client",
    "ConfigError",
    "ContextWindowExceeded",
    "IncompleteResponseError",
    "LLMPresetsError",
    "MessageFormatError",
    "MissingAPIKeyError",
    "ModelNameWarning",
    "ModelSpec",
    "NetworkBlockedError",
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
    "intercept_openai",
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
