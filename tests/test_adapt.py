"""Capability adaptation: the exact parameters each (use case x model) sends."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import llmpresets
from llmpresets import ConfigError, UnsupportedParameterError, get_model, resolve_params
from llmpresets.config.adapt import UnsupportedParameterWarning, _warned, resolve

CODE_4O = {"temperature": 0.2, "top_p": 0.1}
# (use case, model) -> (chat.completions.create kwargs, responses.create kwargs), model omitted.
# One row per rule of DESIGN §5, per family.
TABLE: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # Non-reasoning: the sampling settings, no effort, no verbosity; no penalties on responses.
    (
        "code",
        "gpt-4o",
        {**CODE_4O, "max_tokens": 1024},
        {**CODE_4O, "max_output_tokens": 1024},
    ),
    (
        "creative",
        "gpt-4o",
        {"temperature": 1.0, "top_p": 0.95, "frequency_penalty": 0.3, "max_tokens": 1024},
        {"temperature": 1.0, "top_p": 0.95, "max_output_tokens": 1024},
    ),
    (
        "brainstorm",
        "gpt-3.5-turbo",
        {"temperature": 1.4, "top_p": 0.95, "presence_penalty": 0.6, "max_tokens": 768},
        {"temperature": 1.4, "top_p": 0.95, "max_output_tokens": 768},
    ),
    # o-series: low/medium/high, never sampling; a preset's none becomes the nearest, low.
    ("code", "o3-mini", {"reasoning_effort": "medium"}, {"reasoning": {"effort": "medium"}}),
    ("creative", "o4-mini", {"reasoning_effort": "low"}, {"reasoning": {"effort": "low"}}),
    # o1-mini takes no effort at all, and no sampling: only the output limit remains.
    ("chat", "o1-mini", {}, {}),
    # gpt-5: minimal..high, no sampling at any effort; verbosity.
    (
        "factual",
        "gpt-5",
        {"reasoning_effort": "low", "verbosity": "low"},
        {"reasoning": {"effort": "low"}, "text": {"verbosity": "low"}},
    ),
    (
        "chat",
        "gpt-5-nano",
        {"reasoning_effort": "minimal", "verbosity": "medium"},
        {"reasoning": {"effort": "minimal"}, "text": {"verbosity": "medium"}},
    ),
    # gpt-5.1 on: none + sampling for a sampling preset, the effort without sampling otherwise.
    (
        "chat",
        "gpt-5.1",
        {
            "temperature": 0.8,
            "top_p": 0.9,
            "max_completion_tokens": 512,
            "reasoning_effort": "none",
            "verbosity": "medium",
        },
        {
            "temperature": 0.8,
            "top_p": 0.9,
            "max_output_tokens": 512,
            "reasoning": {"effort": "none"},
            "text": {"verbosity": "medium"},
        },
    ),
    (
        "code",
        "gpt-6-sol",
        {"reasoning_effort": "medium", "verbosity": "low"},
        {"reasoning": {"effort": "medium"}, "text": {"verbosity": "low"}},
    ),
    (
        "brainstorm",
        "gpt-6-luna",
        {
            "temperature": 1.4,
            "top_p": 0.95,
            "presence_penalty": 0.6,
            "max_completion_tokens": 768,
            "reasoning_effort": "none",
            "verbosity": "high",
        },
        {
            "temperature": 1.4,
            "top_p": 0.95,
            "max_output_tokens": 768,
            "reasoning": {"effort": "none"},
            "text": {"verbosity": "high"},
        },
    ),
    # No none (astra, 6.1-sol, 6.2-sol): the nearest effort, never a sampling parameter.
    (
        "creative",
        "gpt-6.2-astra",
        {"reasoning_effort": "low", "verbosity": "high"},
        {"reasoning": {"effort": "low"}, "text": {"verbosity": "high"}},
    ),
    (
        "code",
        "gpt-6.1-sol",
        {"reasoning_effort": "medium", "verbosity": "low"},
        {"reasoning": {"effort": "medium"}, "text": {"verbosity": "low"}},
    ),
]


@pytest.mark.parametrize(("use_case", "model", "chat", "responses"), TABLE)
def test_sent_parameters_per_use_case_and_model(
    use_case: str, model: str, chat: dict[str, Any], responses: dict[str, Any]
) -> None:
    """The table of (use case x model) -> kwargs, as both endpoints spell them."""
    assert resolve_params(use_case, model, policy="error") == {"model": model, **chat}
    sent = resolve_params(use_case, model, api="responses", policy="error")
    assert sent == {"model": model, **responses}


def test_default_run_is_quiet_and_reports_what_it_left_out() -> None:
    """Values only the packaged defaults set are dropped without a warning, with a reason."""
    _warned.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolution = resolve("code", "gpt-4o")
        resolve("creative", "gpt-6.2-astra")
    assert "OpenAI's API has no top_k" in resolution.dropped["top_k"]
    assert "not a reasoning model" in resolution.dropped["reasoning_effort"]


def test_gpt6_temperature_needs_an_explicit_none() -> None:
    """No GPT-6 model defaults to none: a temperature alone is dropped (and warned)."""
    _warned.clear()
    with pytest.warns(UnsupportedParameterWarning, match="only at reasoning effort 'none'"):
        assert "temperature" not in resolve_params("code", "gpt-6-sol", temperature=0.5)
    sent = resolve_params("code", "gpt-6-sol", temperature=0.5, reasoning_effort="none")
    assert sent["temperature"] == 0.5 and sent["reasoning_effort"] == "none"


def test_effort_max_only_on_responses_for_gpt_6_astra() -> None:
    """gpt-6-astra takes max on /responses; on chat your max is not sent (warned), so the model
    runs at its default: a value you set is dropped, never swapped for another."""
    _warned.clear()
    assert resolve_params("code", "gpt-6-astra", api="responses", reasoning_effort="max")[
        "reasoning"
    ] == {"effort": "max"}
    with pytest.warns(UnsupportedParameterWarning, match="runs at its default 'medium'"):
        sent = resolve_params("code", "gpt-6-astra", reasoning_effort="max")
    assert "reasoning_effort" not in sent
    with pytest.raises(UnsupportedParameterError):
        resolve_params("code", "gpt-6-astra", reasoning_effort="none", policy="error")


def test_nested_spellings_merge_with_other_fields() -> None:
    """reasoning={"summary": ...} and text={"format": ...} keep their other fields."""
    sent = resolve_params(
        "code",
        "gpt-6-sol",
        api="responses",
        reasoning={"effort": "high", "summary": "auto"},
        text={"format": {"type": "text"}},
    )
    assert sent["reasoning"] == {"effort": "high", "summary": "auto"}
    assert sent["text"] == {"format": {"type": "text"}, "verbosity": "low"}


def test_function_tools_with_effort_on_chat_switch_a_default_effort_to_none() -> None:
    """gpt-6-sol refuses function tools with an effort on chat: a preset's effort becomes none."""
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    resolution = resolve("code", "gpt-6-sol", tools=tools)
    assert resolution.kwargs["reasoning_effort"] == "none"
    assert "only at effort 'none'" in resolution.dropped["reasoning_effort"]
    with pytest.raises(ConfigError, match="Function tools with reasoning_effort"):
        resolve("code", "gpt-6-sol", tools=tools, reasoning_effort="high")
    with pytest.raises(ConfigError, match="has no effort 'none'"):
        resolve("code", "gpt-6-astra", tools=tools)  # no none to fall back to
    assert resolve("code", "gpt-6-sol", api="responses", tools=tools).kwargs["reasoning"] == {
        "effort": "medium"
    }


def test_responses_only_model_refused_on_chat() -> None:
    """codex-mini-latest is only on /v1/responses: chat is a ConfigError naming respond()."""
    with pytest.raises(ConfigError, match=r"only available on /v1/responses.*respond\(\)"):
        resolve_params("code", "codex-mini-latest")


@pytest.mark.parametrize(
    ("name", "family"),
    [("gpt-6.9-sol", "gpt-6-sol"), ("gpt-6.5-astra", "gpt-6-astra"), ("o5", None)],
)
def test_unknown_models_take_their_familys_rules(name: str, family: str | None) -> None:
    """gpt-6* is GPT-6, not gpt-4o: its rules come from the family, its limits stay unknown."""
    spec = get_model(name)
    assert not spec.known and spec.family == family and spec.context_window is None


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4.1-mini", "gpt-4", "o3"])
def test_top_k_and_min_p_never_reach_openai(model: str) -> None:
    """OpenAI has no top_k / min_p: they are not sent, not even in extra_body."""
    params = resolve_params("creative", model, policy="silent", top_k=5, min_p=0.1)
    assert "top_k" not in params and "min_p" not in params and "extra_body" not in params


def test_openai_compatible_server_gets_top_k_and_min_p_in_extra_body() -> None:
    """A vLLM-style base_url receives top_k / min_p through extra_body."""
    params = resolve_params("code", "my-llama", base_url="http://localhost:8000/v1", min_p=0.05)
    assert params["extra_body"] == {"top_k": 10, "min_p": 0.05}
    assert params["temperature"] == 0.2


def test_provider_can_be_forced_either_way() -> None:
    """provider= overrides the base_url guess."""
    assert "extra_body" in resolve_params(
        "code", "x", provider="openai-compatible", policy="silent"
    )
    params = resolve_params(
        "code", "x", base_url="http://localhost/v1", provider="openai", policy="silent"
    )
    assert "extra_body" not in params


def test_openai_hosts_count_as_openai() -> None:
    """api.openai.com is OpenAI even when given explicitly."""
    params = resolve_params("code", "gpt-4o", base_url="https://api.openai.com/v1", policy="silent")
    assert "extra_body" not in params


def test_warn_policy_warns_once_per_model_and_parameter() -> None:
    """A value the user set that the model rejects: dropped, warned once, naming both."""
    _warned.clear()
    with pytest.warns(UnsupportedParameterWarning, match=r"'o3'.*temperature") as record:
        resolve_params("code", "o3", temperature=0.3, top_p=0.2)
    assert "top_p" in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_params("code", "o3", temperature=0.3, top_p=0.2)  # second time: silent


def test_error_policy_raises_before_anything_is_sent() -> None:
    """policy='error' turns a dropped user value into UnsupportedParameterError."""
    with pytest.raises(UnsupportedParameterError, match=r"'o1'.*temperature"):
        resolve_params("chat", "o1", policy="error", temperature=0.5)


def test_default_temperature_is_not_a_conflict_for_reasoning_models() -> None:
    """temperature=1 is the only value reasoning models take: dropped without complaint."""
    assert resolve_params("chat", "o3", policy="error", temperature=1, top_p=None) == {
        "model": "o3",
        "reasoning_effort": "low",
    }


def test_output_limit_aliases_are_renamed_for_the_model() -> None:
    """max_tokens / max_completion_tokens / max_output_tokens are one setting."""
    assert resolve_params("chat", "gpt-4o", max_completion_tokens=50)["max_tokens"] == 50
    assert (
        resolve_params("chat", "o3", policy="silent", max_tokens=50)["max_completion_tokens"] == 50
    )
    assert resolve_params("chat", "o3", api="responses", max_tokens=50)["max_output_tokens"] == 50
    assert "max_tokens" not in resolve_params("chat", "gpt-4o", max_output_tokens=None)


def test_passthrough_parameters_are_kept() -> None:
    """SDK arguments outside the preset pass through unchanged."""
    params = resolve_params(
        "chat", "gpt-4o", seed=3, stop=["\n"], n=2, response_format={"type": "json_object"}
    )
    assert params["seed"] == 3 and params["stop"] == ["\n"] and params["n"] == 2
    assert params["response_format"] == {"type": "json_object"}


def test_reasoning_models_reject_logprobs() -> None:
    """logprobs is dropped for reasoning models, kept for chat models."""
    assert "logprobs" not in resolve_params("chat", "gpt-5", policy="silent", logprobs=True)
    assert resolve_params("chat", "gpt-4o", logprobs=True)["logprobs"] is True


@pytest.mark.parametrize(
    ("name", "family", "window", "max_input", "max_output", "encoding"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o", 128000, 128000, 16384, "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", 128000, 128000, 16384, "o200k_base"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano", 1047576, 1047576, 32768, "o200k_base"),
        ("gpt-5-2025-08-07", "gpt-5", 400000, 272000, 128000, "o200k_base"),
        ("o3-mini-2025-01-31", "o3-mini", 200000, 200000, 100000, "o200k_base"),
        ("gpt-4-0613", "gpt-4", 8192, 8192, 8192, "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo", 128000, 128000, 4096, "cl100k_base"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo", 16385, 16385, 4096, "cl100k_base"),
        (
            "ft:gpt-4o-mini-2024-07-18:acme::abc123",
            "gpt-4o-mini",
            128000,
            128000,
            16384,
            "o200k_base",
        ),
    ],
)
def test_snapshots_resolve_to_their_family(
    name: str, family: str, window: int, max_input: int, max_output: int, encoding: str
) -> None:
    """Dated snapshots and fine-tunes get their family's limits, keeping their own name."""
    spec = get_model(name)
    assert spec.name == name and spec.known
    assert (spec.context_window, spec.max_input_tokens, spec.max_output_tokens, spec.encoding) == (
        window,
        max_input,
        max_output,
        encoding,
    )
    assert spec.reasoning == get_model(family).reasoning


def test_unknown_model_has_unknown_limits_and_tiktoken_encoding() -> None:
    """A model the registry lacks: limits None, encoding from tiktoken's map, else o200k_base."""
    spec = get_model("text-embedding-3-small")
    assert not spec.known and spec.context_window is None and spec.encoding == "cl100k_base"
    assert get_model("my-local-model").encoding == "o200k_base"


@pytest.mark.parametrize(
    ("override", "allowed"),
    [
        ({"temperature": 7}, "0 ≤ temperature ≤ 2"),
        ({"top_p": 0}, "0 < top_p ≤ 1"),
        ({"top_k": 0}, "top_k ≥ 1"),
        ({"min_p": 2}, "0 ≤ min_p ≤ 1"),
        ({"presence_penalty": -3}, "-2 ≤ presence_penalty ≤ 2"),
        ({"max_tokens": 0}, "max_output_tokens ≥ 1"),
        ({"temperature": "hot"}, "valid number"),
        ({"n": 0}, "1 ≤ n ≤ 128"),
        ({"top_logprobs": 30}, "0 ≤ top_logprobs ≤ 20"),
    ],
)
def test_invalid_call_overrides_are_refused_before_sending(
    override: dict[str, Any], allowed: str
) -> None:
    """A per-call value out of range is a ConfigError naming it: the request is never built."""
    with pytest.raises(ConfigError, match="per-call override") as info:
        resolve_params("chat", "gpt-4o", **override)
    assert allowed in str(info.value)


def test_dropped_parameter_warning_names_the_callers_line() -> None:
    """The warning is attributed to the line that called resolve_params."""
    _warned.clear()
    with pytest.warns(UnsupportedParameterWarning) as record:
        resolve_params("code", "gpt-4.1-nano", top_k=3)
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    ("name", "window", "max_output", "reasoning"),
    [
        ("gpt-4-1106-preview", 128000, 4096, False),
        ("gpt-4-0125-preview", 128000, 4096, False),
        ("gpt-4-turbo-preview", 128000, 4096, False),
        ("chatgpt-4o-latest", 128000, 16384, False),
        ("o1-mini-2024-09-12", 128000, 65536, True),
        ("o1-preview-2024-09-12", 128000, 32768, True),
    ],
)
def test_aliases_beat_snapshot_stripping(
    name: str, window: int, max_output: int, reasoning: bool
) -> None:
    """Preview snapshots whose suffix looks like a date resolve by alias to the right model."""
    spec = get_model(name)
    assert (spec.context_window, spec.max_output_tokens, spec.reasoning) == (
        window,
        max_output,
        reasoning,
    )


def test_strict_lookup_raises_unknown_model_error() -> None:
    """get_model(strict=True) names the known models instead of guessing."""
    with pytest.raises(
        llmpresets.UnknownModelError, match=r"known models: chatgpt-4o-latest, .*codex-mini-latest"
    ):
        get_model("gpt-17", strict=True)


def test_preset_output_limit_is_lowered_to_the_models_maximum(tmp_path: Any) -> None:
    """A preset's max_output_tokens above the model's is clamped; a per-call one is an error."""
    path = tmp_path / "p.yaml"
    path.write_text("presets:\n  code:\n    max_output_tokens: 20000\n", encoding="utf-8")
    book = llmpresets.load_presets(path)
    assert resolve_params("code", "gpt-4o", config=book, policy="silent")["max_tokens"] == 16384
    assert resolve_params("code", "gpt-4.1", config=book, policy="silent")["max_tokens"] == 20000
    with pytest.raises(ConfigError, match="maximum output of 16,384"):
        resolve_params("code", "gpt-4o", config=book, max_tokens=20000)
