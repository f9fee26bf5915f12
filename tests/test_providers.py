"""Presets on every provider: the capability table's rules, the quoted refusals, offline per
provider, the Client's base URL and key, estimated counts, per-provider preset values."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import openai
import pytest
from offline_sdk import sdk

import llmpresets
from llmpresets import load_presets, resolve_params
from llmpresets.config.adapt import resolve
from llmpresets.config.providers import PROVIDERS
from llmpresets.offline import OfflineTransport

USER: list[Any] = [{"role": "user", "content": "Say hi"}]
BOOK = load_presets([])
OTHER = ("anthropic", "google", "xai", "deepseek", "mistral")
MODELS = [
    (name, BOOK.model(name).provider)
    for name in sorted(BOOK.models)
    if BOOK.model(name).provider in OTHER
]


def _body_values(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**kwargs, **(kwargs.get("extra_body") or {})}


@pytest.mark.parametrize(("model", "provider"), MODELS)
def test_every_preset_obeys_the_models_rules_on_its_compatible_endpoint(
    model: str, provider: str
) -> None:
    """Each packaged preset, resolved for each current model of each provider, sends only
    knobs that endpoint takes, inside the model's ranges, never a refused pair, and nothing
    the model rejects or (not sampling) refuses."""
    spec = BOOK.model(model)
    info = PROVIDERS[provider]  # type: ignore[index]
    for use_case in BOOK.names():
        resolution = resolve(use_case, model, config=BOOK, policy="silent")
        sent = resolution.kwargs
        assert resolution.provider == provider
        for name in llmpresets.config.params.PARAMETERS:
            spelled = {"max_output_tokens": "max_tokens"}.get(name, name)
            if spelled in sent:
                assert info.takes(name) or name == "reasoning_effort", (use_case, name)
                assert name not in spec.rejects, (use_case, name)
                assert name not in info.compat_ignored, (use_case, name)
        for name, (low, high) in spec.ranges.items():
            if name in sent:
                assert low <= sent[name] <= high, (use_case, name)
        for conflict in spec.conflicts:
            both = all(p in sent for p in conflict.params)
            if conflict.when == "greedy":
                both = both and sent["temperature"] < 1e-5 and sent["top_p"] != 1
            assert not both, (use_case, conflict.params)
        if not spec.sampling_allowed(resolution.effort):
            assert "temperature" not in sent and "top_p" not in sent, use_case


@pytest.mark.parametrize(("model", "provider"), MODELS)
def test_the_offline_backend_accepts_what_the_library_sends_each_provider(
    model: str, provider: str
) -> None:
    """At the provider's own base URL the offline backend accepts every preset's kwargs."""
    client = sdk(OfflineTransport(seed=0), base_url=PROVIDERS[provider].base_url)  # type: ignore[index,arg-type]
    for use_case in BOOK.names():
        kwargs = resolve_params(use_case, model, config=BOOK, policy="silent", max_output_tokens=4)
        reply = client.chat.completions.create(messages=USER, **kwargs)
        assert reply.choices[0].message.role == "assistant"


@pytest.mark.parametrize("model", [name for name, provider in MODELS if provider == "anthropic"])
def test_anthropic_kwargs_carry_max_tokens_effort_and_no_removed_sampling(model: str) -> None:
    """api="anthropic": max_tokens always (messages.create requires it); API version
    2026-10-21 removes temperature, top_p and top_k; effort in output_config."""
    spec = BOOK.model(model)
    for use_case in BOOK.names():
        resolution = resolve(use_case, model, api="anthropic", config=BOOK, policy="silent")
        kwargs = resolution.kwargs
        assert isinstance(kwargs["max_tokens"], int) and kwargs["max_tokens"] >= 1
        assert not {"temperature", "top_p", "top_k"} & set(kwargs)
        effort = kwargs.get("output_config", {}).get("effort")
        if effort is not None:
            assert effort in spec.efforts("chat") and effort != "none"


def test_anthropic_legacy_version_sends_one_sampling_knob_within_range(tmp_path: Path) -> None:
    """With anthropic_version 2023-06-01 Sonnet 4.6 gets temperature (capped at 1), not top_p."""
    path = tmp_path / "presets.yaml"
    path.write_text("settings:\n  anthropic_version: '2023-06-01'\n")
    book = load_presets(path)
    sent = resolve_params("brainstorm", "claude-sonnet-4-6", api="anthropic", config=book)
    assert sent["temperature"] == 1.0 and "top_p" not in sent


@pytest.mark.parametrize("model", [name for name, provider in MODELS if provider == "google"])
def test_gemini_config_thinks_at_an_accepted_level_or_budget(model: str) -> None:
    """api="gemini": thinking_level among the model's levels, or its budget for that effort;
    Gemini 3 leaves the preset's sampling out (Google: keep temperature 1.0)."""
    spec = BOOK.model(model)
    for use_case in BOOK.names():
        config = resolve_params(use_case, model, api="gemini", config=BOOK, policy="silent")
        thinking = config.get("thinking_config", {})
        if "thinking_level" in thinking:
            assert thinking["thinking_level"] in spec.efforts("chat")
        if "thinking_budget" in thinking:
            assert thinking["thinking_budget"] in spec.thinking_budgets.values()
        if spec.sampling_with_thinking == "discouraged":
            assert not {"temperature", "top_p", "top_k"} & set(config)


def test_native_api_for_another_providers_model_is_a_config_error() -> None:
    """api="anthropic" for an OpenAI model names the mismatch."""
    with pytest.raises(llmpresets.ConfigError, match="gpt-4o is an openai model"):
        resolve_params("chat", "gpt-4o", api="anthropic")


# ------------------------------------------------------------------ quoted refusals

CLAUDE_PAIR = (
    "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
)
REFUSALS = [
    ("anthropic", {"model": "claude-sonnet-4-6", "temperature": 0.5, "top_p": 0.9}, CLAUDE_PAIR),
    ("anthropic", {"model": "claude-haiku-4-5", "temperature": 0.5, "top_p": 0.9}, CLAUDE_PAIR),
    (
        "anthropic",
        {"model": "claude-sonnet-4-5-20250929", "temperature": 0.2, "top_p": 0.5},
        CLAUDE_PAIR,
    ),
    ("anthropic", {"model": "claude-opus-4-1", "temperature": 0.2, "top_p": 0.5}, CLAUDE_PAIR),
    (
        "anthropic",
        {"model": "claude-opus-4-7", "temperature": 0.0},
        "`temperature` is deprecated for this model.",
    ),
    (
        "anthropic",
        {"model": "claude-opus-4-8", "temperature": 0.7},
        "`temperature` is deprecated for this model.",
    ),
    (
        "anthropic",
        {
            "model": "claude-sonnet-4-6",
            "temperature": 0.5,
            "extra_body": {"thinking": {"type": "enabled", "budget_tokens": 2048}},
        },
        "`temperature` may only be set to 1 when thinking is enabled",
    ),
    (
        "anthropic",
        {"model": "claude-sonnet-5", "temperature": 0.0},
        "`temperature` is deprecated for this model.",
    ),
    (
        "google",
        {"model": "gemini-2.5-flash", "frequency_penalty": 0.5},
        'Invalid JSON payload received. Unknown name "frequency_penalty": Cannot find field.',
    ),
    (
        "xai",
        {"model": "grok-4.3", "presence_penalty": 0.5},
        "Model grok-4.3 does not support parameter presencePenalty.",
    ),
    (
        "xai",
        {"model": "grok-4.20-0309-reasoning", "stop": ["END"]},
        "Model grok-4.20-0309-reasoning does not support parameter stop.",
    ),
    (
        "mistral",
        {"model": "mistral-large-latest", "temperature": 0, "top_p": 0.5},
        "top_p must be 1 when using greedy sampling.",
    ),
]


@pytest.mark.parametrize(("provider", "request_", "message"), REFUSALS)
def test_offline_refuses_what_each_provider_refuses_with_its_words(
    provider: str, request_: dict[str, Any], message: str
) -> None:
    """At the provider's base URL: HTTP 400 with the message users quote."""
    client = sdk(OfflineTransport(seed=0), base_url=PROVIDERS[provider].base_url)  # type: ignore[index,arg-type]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(messages=USER, max_tokens=4, **request_)
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, dict) and caught.value.body["message"] == message


ACCEPTED = [
    # Anthropic caps temperature at 1 and ignores penalties, seed and reasoning_effort.
    (
        "anthropic",
        {
            "model": "claude-sonnet-4-6",
            "temperature": 1.5,
            "frequency_penalty": 1.0,
            "seed": 3,
            "reasoning_effort": "high",
        },
    ),
    # Either knob alone is fine on the models that refuse the pair.
    ("anthropic", {"model": "claude-sonnet-4-6", "top_p": 0.9}),
    # DeepSeek in thinking mode accepts temperature and ignores it.
    ("deepseek", {"model": "deepseek-v4-pro", "temperature": 0.3, "presence_penalty": 1.0}),
    # Mistral: top_p with a temperature above 0.
    ("mistral", {"model": "mistral-small-latest", "temperature": 0.3, "top_p": 0.5}),
    # Non-reasoning Grok takes stop.
    ("xai", {"model": "grok-4.20-0309-non-reasoning", "stop": ["END"], "temperature": 0.5}),
    (
        "google",
        {"model": "gemini-2.5-flash", "temperature": 0.3, "top_p": 0.5, "reasoning_effort": "none"},
    ),
]


@pytest.mark.parametrize(("provider", "request_"), ACCEPTED)
def test_offline_accepts_what_each_provider_accepts(
    provider: str, request_: dict[str, Any]
) -> None:
    """What the provider accepts (or silently ignores) is answered, not refused."""
    client = sdk(OfflineTransport(seed=0), base_url=PROVIDERS[provider].base_url)  # type: ignore[index,arg-type]
    reply = client.chat.completions.create(messages=USER, max_tokens=4, **request_)
    assert reply.choices[0].message.role == "assistant"


def test_same_request_at_a_generic_url_gets_no_provider_rules() -> None:
    """The provider rules apply at the provider's host only (a test host is OpenAI-style)."""
    client = sdk(OfflineTransport(seed=0))
    reply = client.chat.completions.create(
        messages=USER, max_tokens=4, model="claude-sonnet-4-6", temperature=0.5, top_p=0.9
    )
    assert reply.choices[0].message.role == "assistant"


# ------------------------------------------------------------------ resolution details


def test_resolution_says_why_claude_got_one_sampling_knob() -> None:
    """Brainstorm on Sonnet 4.6: temperature brought to 1, top_p left out, both explained."""
    resolution = resolve("brainstorm", "claude-sonnet-4-6", policy="silent")
    assert resolution.kwargs["temperature"] == 1.0 and "top_p" not in resolution.kwargs
    assert "range 0..1" in resolution.dropped["temperature"]
    assert CLAUDE_PAIR in resolution.dropped["top_p"]


def test_the_users_top_p_wins_the_refused_pair() -> None:
    """A per-call top_p beats the preset's temperature on a model refusing both."""
    sent = resolve_params("chat", "claude-haiku-4-5", top_p=0.7, policy="silent")
    assert sent["top_p"] == 0.7 and "temperature" not in sent


def test_a_local_server_gets_the_open_model_knobs() -> None:
    """base_url on localhost: min_p and top_k in extra_body, whatever the model's name."""
    sent = resolve_params("creative", "qwen3", base_url="http://127.0.0.1:8000/v1")
    assert sent["extra_body"] == {"min_p": 0.05}
    sent = resolve_params("code", "qwen3", base_url="http://localhost:11434/v1")
    assert sent["extra_body"]["top_k"] == 10


def test_deepseek_thinking_switch_travels_in_extra_body() -> None:
    """DeepSeek V4: effort none is thinking disabled; sampling then sent."""
    sent = resolve_params("chat", "deepseek-v4-pro")
    assert sent["extra_body"] == {"thinking": {"type": "disabled"}}
    assert sent["temperature"] == 0.8
    code = resolve(("code"), "deepseek-v4-pro", policy="silent")
    assert "temperature" not in code.kwargs and "ignores it" in code.dropped["temperature"]


def test_per_provider_preset_values_apply_to_that_provider_only(tmp_path: Path) -> None:
    """presets.NAME.providers.anthropic replaces the preset's values on Anthropic only."""
    path = tmp_path / "presets.yaml"
    path.write_text("presets:\n  chat:\n    providers:\n      anthropic: {temperature: 0.5}\n")
    book = load_presets(path)
    assert resolve_params("chat", "claude-sonnet-4-6", config=book)["temperature"] == 0.5
    assert resolve_params("chat", "gpt-4o", config=book)["temperature"] == 0.8


def test_per_provider_preset_values_are_validated_with_file_and_line(tmp_path: Path) -> None:
    """An unknown provider or an out-of-range value is a ConfigError naming file and line."""
    path = tmp_path / "presets.yaml"
    path.write_text("presets:\n  chat:\n    providers:\n      antropic: {temperature: 0.5}\n")
    with pytest.raises(llmpresets.ConfigError, match=r"presets\.yaml:4: .*providers\.antropic"):
        load_presets(path)
    path.write_text("presets:\n  chat:\n    providers:\n      anthropic: {temperature: 7}\n")
    with pytest.raises(llmpresets.ConfigError, match=r"presets\.yaml:4: .*0 ≤ temperature ≤ 2"):
        load_presets(path)


def test_the_json_schema_has_per_provider_presets() -> None:
    """`llmpresets schema` describes presets.NAME.providers and the model's provider field."""
    from llmpresets.config.schema import config_json_schema

    text = str(config_json_schema())
    assert "ProviderPreset" in text and "anthropic_version" in text and "tokenizer_public" in text


# ------------------------------------------------------------------ client and counting


def test_client_uses_the_providers_base_url_offline_too() -> None:
    """Client(model="claude-...") speaks to Anthropic's compatible endpoint (offline as well,
    so the offline backend applies Anthropic's rules)."""
    client = llmpresets.Client(model="claude-sonnet-4-6", offline=True, seed=1)
    assert str(client.openai.base_url) == "https://api.anthropic.com/v1/"
    result = client.chat(USER, use_case="brainstorm")
    assert result.params["temperature"] == 1.0 and "top_p" not in result.params


def test_client_reads_the_providers_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """No XAI_API_KEY: the error names it; with it, the client is built for api.x.ai."""
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    monkeypatch.delenv("LLMPRESETS_OFFLINE", raising=False)
    with pytest.raises(llmpresets.MissingAPIKeyError, match="XAI_API_KEY"):
        llmpresets.Client(model="grok-4.3", offline=False)
    monkeypatch.setenv("XAI_API_KEY", "xai-test-key")
    client = llmpresets.Client(model="grok-4.3", offline=False)
    assert str(client.openai.base_url).startswith("https://api.x.ai/v1")
    assert "xai-test-key" not in repr(client)


def test_gemini_key_falls_back_to_google_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """GEMINI_API_KEY first, then GOOGLE_API_KEY."""
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("LLMPRESETS_OFFLINE", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    client = llmpresets.Client(model="gemini-3.5-flash", offline=False)
    assert client.openai.api_key == "g-key"


def test_counts_without_a_public_tokenizer_are_labelled_estimates() -> None:
    """Claude: the o200k count times 1.35, rounded up; Budget.exact is False; OpenAI exact."""
    text = "The quick brown fox jumps over the lazy dog. " * 20
    exact = llmpresets.count_tokens(text, "gpt-4o")
    assert llmpresets.count_tokens(text, "claude-sonnet-4-6") == math.ceil(exact * 1.35)
    messages = [{"role": "user", "content": text}]
    assert llmpresets.check_context(messages, "claude-sonnet-4-6").exact is False
    assert llmpresets.check_context(messages, "gpt-4o").exact is True


# ------------------------------------------------------------------ the CLI


def test_cli_models_lists_one_provider(capsys: pytest.CaptureFixture[str]) -> None:
    """`llmpresets models --provider xai` lists xAI's models and no other."""
    from llmpresets.cli import main

    assert main(["models", "--provider", "xai"]) == 0
    out = capsys.readouterr().out
    assert "grok-4.3" in out and "claude" not in out and "gpt-4o" not in out


def test_cli_presets_for_a_model_on_its_native_api(capsys: pytest.CaptureFixture[str]) -> None:
    """`llmpresets presets --model M --api anthropic` shows messages.create kwargs and why."""
    from llmpresets.cli import main

    assert main(["presets", "--model", "claude-sonnet-4-6", "--api", "anthropic"]) == 0
    out = capsys.readouterr().out
    assert "output_config={'effort': 'medium'}" in out and "2026-10-21" in out


def test_cli_count_says_estimate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`llmpresets count` labels a count without a public tokenizer as an estimate."""
    from llmpresets.cli import main

    text = tmp_path / "t.txt"
    text.write_text("hello world, how are you")
    assert main(["count", "--model", "gemini-3.5-flash", str(text)]) == 0
    assert "(estimate" in capsys.readouterr().out
    assert main(["count", "--json", "--model", "claude-opus-5-5", str(text)]) == 0
    assert '"exact": false' in capsys.readouterr().out


def test_cli_explain_names_the_provider(capsys: pytest.CaptureFixture[str]) -> None:
    """`llmpresets explain --model claude-...` says which provider got what."""
    from llmpresets.cli import main

    assert main(["explain", "--model", "claude-sonnet-4-6", "-u", "code"]) == 0
    assert "sent to claude-sonnet-4-6 (anthropic)" in capsys.readouterr().out


def test_respond_on_a_provider_without_responses_is_a_config_error() -> None:
    """Anthropic's compatible endpoint has no /v1/responses: said before any request."""
    client = llmpresets.Client(model="claude-sonnet-4-6", offline=True)
    with pytest.raises(llmpresets.ConfigError, match="no /v1/responses"):
        client.respond("hi")
