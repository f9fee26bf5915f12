"""The provider table: who serves a model, where, with which key, which knobs each endpoint takes.

One :class:`ProviderInfo` per provider, stated once, as data (the per-*model* facts, such as
Claude's temperature range or a refused pair, live in the model registry,
:mod:`llmpresets.config.models`). Resolution (:mod:`llmpresets.config.adapt`), the Client's
base URL and key variable, the offline backend's provider rules and ``docs/providers.md`` all
read this table:

- ``base_url`` / ``key_env``: the provider's OpenAI-compatible endpoint and the environment
  variables its key is read from, first found wins;
- ``compat_params``: our parameter names its OpenAI-compatible endpoint takes; ``compat_ignored``:
  the ones it accepts and silently ignores (the library does not send them, and the offline
  backend ignores them too); anything else is not sent there;
- ``extra_body``: knobs that reach it only through the SDK's ``extra_body`` (vLLM's ``top_k``);
- ``native_api`` / ``native_params``: the provider's own SDK (``api="anthropic"``,
  ``api="gemini"``) and how it spells each knob there;
- ``estimate_factor``: with no public tokenizer, counts are an o200k count times this factor,
  rounded up (a safety margin, not a measurement: ``Budget.exact`` is False).

>>> provider_for_url("https://api.anthropic.com/v1/")
'anthropic'
>>> provider_for_url("http://127.0.0.1:8000/v1")
'openai-compatible'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "NATIVE_APIS",
    "PROVIDERS",
    "PROVIDER_NAMES",
    "NativeApi",
    "ProviderInfo",
    "ProviderName",
    "provider_for_url",
]

ProviderName = Literal[
    "openai", "anthropic", "google", "xai", "deepseek", "mistral", "openai-compatible"
]
PROVIDER_NAMES: tuple[ProviderName, ...] = (
    "openai",
    "anthropic",
    "google",
    "xai",
    "deepseek",
    "mistral",
    "openai-compatible",
)
NativeApi = Literal["anthropic", "gemini"]
NATIVE_APIS: tuple[NativeApi, ...] = ("anthropic", "gemini")

# What every OpenAI-style chat endpoint takes (our names; the spelling is the parameter table's).
_OPENAI_STYLE = frozenset(
    {
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "max_output_tokens",
        "reasoning_effort",
        "verbosity",
        "logprobs",
        "top_logprobs",
        "n",
        "seed",
        "stop",
    }
)


@dataclass(frozen=True)
class ProviderInfo:
    """One provider: its endpoint, key variables, knobs per endpoint, counting margin, source."""

    name: ProviderName
    label: str
    base_url: str | None
    key_env: tuple[str, ...]
    hosts: tuple[str, ...]
    compat_params: frozenset[str]
    compat_ignored: frozenset[str] = frozenset()
    extra_body: frozenset[str] = frozenset()
    native_api: NativeApi | None = None
    native_params: Mapping[str, str] = field(default_factory=dict)
    estimate_factor: float | None = None
    source: str = ""
    checked: str = "2026-12-08"
    notes: str = ""

    def takes(self, name: str) -> bool:
        """Whether its OpenAI-compatible endpoint takes our parameter ``name`` (and uses it)."""
        return name in self.compat_params or name in self.extra_body


PROVIDERS: Mapping[ProviderName, ProviderInfo] = {
    p.name: p
    for p in (
        ProviderInfo(
            "openai",
            "OpenAI",
            None,  # the SDK's own default
            ("OPENAI_API_KEY",),
            ("openai.com",),
            _OPENAI_STYLE,
            source="https://developers.openai.com/api/docs/api-reference/chat/create",
        ),
        ProviderInfo(
            "anthropic",
            "Anthropic",
            "https://api.anthropic.com/v1/",
            ("ANTHROPIC_API_KEY",),
            ("anthropic.com",),
            # "temperature: Between 0 and 1 (inclusive)", top_p "Fully supported", "n: Must be
            # exactly 1"; the rest of the list is "Ignored".
            frozenset({"temperature", "top_p", "max_output_tokens", "stop", "n"}),
            compat_ignored=frozenset(
                {
                    "frequency_penalty",
                    "presence_penalty",
                    "logprobs",
                    "top_logprobs",
                    "seed",
                    "reasoning_effort",
                }
            ),
            native_api="anthropic",
            native_params={
                "temperature": "temperature",
                "top_p": "top_p",
                "top_k": "top_k",
                "max_output_tokens": "max_tokens",
                "stop": "stop_sequences",
            },
            estimate_factor=1.35,
            source="https://platform.claude.com/docs/en/api/openai-sdk",
            notes="Compat endpoint: temperature above 1 is capped at 1, n must be 1; penalties, "
            "seed, logprobs and reasoning_effort are ignored. API version 2026-10-21 (the "
            "default of the current SDKs) removes temperature, top_p and top_k.",
        ),
        ProviderInfo(
            "google",
            "Google (Gemini)",
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            ("generativelanguage.googleapis.com",),
            frozenset(
                {"temperature", "top_p", "max_output_tokens", "reasoning_effort", "stop", "n"}
            ),
            native_api="gemini",
            native_params={
                "temperature": "temperature",
                "top_p": "top_p",
                "top_k": "top_k",
                "max_output_tokens": "max_output_tokens",
                "presence_penalty": "presence_penalty",
                "frequency_penalty": "frequency_penalty",
                "stop": "stop_sequences",
                "seed": "seed",
                "n": "candidate_count",
            },
            estimate_factor=1.2,
            source="https://ai.google.dev/gemini-api/docs/openai",
            notes="reasoning_effort on the compat endpoint maps to the thinking level (Gemini 3) "
            "or budget (2.5).",
        ),
        ProviderInfo(
            "xai",
            "xAI",
            "https://api.x.ai/v1",
            ("XAI_API_KEY",),
            ("x.ai",),
            frozenset(_OPENAI_STYLE - {"verbosity"}),
            estimate_factor=1.2,
            source="https://docs.x.ai/developers/model-capabilities/text/reasoning",
            notes="Reasoning models refuse presence/frequency penalties and stop.",
        ),
        ProviderInfo(
            "deepseek",
            "DeepSeek",
            "https://api.deepseek.com",
            ("DEEPSEEK_API_KEY",),
            ("deepseek.com",),
            frozenset(_OPENAI_STYLE - {"verbosity", "n", "seed"}),
            estimate_factor=1.2,
            source="https://api-docs.deepseek.com/guides/thinking_mode",
            notes="In thinking mode temperature, top_p and the penalties are accepted and "
            "ignored; thinking is switched with extra_body={'thinking': {'type': ...}}.",
        ),
        ProviderInfo(
            "mistral",
            "Mistral",
            "https://api.mistral.ai/v1",
            ("MISTRAL_API_KEY",),
            ("mistral.ai",),
            frozenset(
                {
                    "temperature",
                    "top_p",
                    "frequency_penalty",
                    "presence_penalty",
                    "max_output_tokens",
                    "n",
                    "stop",
                }
            ),
            estimate_factor=1.2,
            source="https://docs.mistral.ai/api/",
            notes='"top_p must be 1 when using greedy sampling." (temperature 0).',
        ),
        ProviderInfo(
            "openai-compatible",
            "OpenAI-compatible servers (vLLM, SGLang, llama.cpp, Ollama)",
            None,
            ("OPENAI_API_KEY",),
            (),
            _OPENAI_STYLE,
            extra_body=frozenset({"top_k", "min_p", "repetition_penalty"}),
            source="https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",
            notes="top_k, min_p and repetition_penalty travel in extra_body; vLLM checks top_k "
            "(-1 or 0 off, else >= 1) and min_p in [0, 1].",
        ),
    )
}


def provider_for_url(base_url: str | None) -> ProviderName | None:
    """The provider whose host ``base_url`` names; ``openai-compatible`` for any other server;
    ``None`` for no URL (the model's own provider decides)."""
    if not base_url:
        return None
    host = (urlsplit(str(base_url)).hostname or "").lower()
    for info in PROVIDERS.values():
        if any(host == h or host.endswith("." + h) for h in info.hosts):
            return info.name
    return "openai-compatible"
