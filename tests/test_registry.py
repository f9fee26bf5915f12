"""The model registry: complete for the installed SDK, and enforced offline as the API does."""

from __future__ import annotations

import fnmatch
import typing
from pathlib import Path
from typing import Any

import openai
import pytest
from offline_sdk import sdk
from openai.types.shared.chat_model import ChatModel

from llmpresets import get_model, load_presets
from llmpresets.config.models import ModelSpec
from llmpresets.offline import OfflineTransport

USER: list[Any] = [{"role": "user", "content": "Say hi"}]
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
]


def test_every_text_chat_model_of_the_installed_sdk_is_in_the_registry() -> None:
    """A name the SDK's ChatModel literal adds fails here until the registry covers it."""
    book = load_presets()
    out_of_scope = book.out_of_scope
    missing = [
        name
        for name in typing.get_args(ChatModel)
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in out_of_scope)
        and not book.model(name).known
    ]
    assert missing == []


def test_out_of_scope_models_take_no_familys_rules() -> None:
    """gpt-4o-search-preview is not gpt-4o: its rules are unknown, not gpt-4o's."""
    for name in ("gpt-4o-search-preview", "gpt-4o-mini-audio-preview-2024-12-17"):
        spec = get_model(name)
        assert not spec.known and spec.family is None


@pytest.mark.parametrize(
    ("name", "window", "efforts", "sampling"),
    [
        ("gpt-6.2-astra", 1_050_000, ("low", "medium", "high", "xhigh", "max"), "never"),
        ("gpt-6-sol", 1_050_000, ("none", "low", "medium", "high", "xhigh", "max"), "effort_none"),
        (
            "gpt-5.6-luna",
            1_050_000,
            ("none", "low", "medium", "high", "xhigh", "max"),
            "effort_none",
        ),
        ("gpt-5.1-2025-11-13", 400_000, ("none", "low", "medium", "high"), "effort_none"),
        ("gpt-5-mini-2025-08-07", 400_000, ("minimal", "low", "medium", "high"), "never"),
        ("o3-2025-04-16", 200_000, ("low", "medium", "high"), "never"),
        ("gpt-4o-2024-11-20", 128_000, (), "always"),
    ],
)
def test_facts_of_todays_models(
    name: str, window: int, efforts: tuple[str, ...], sampling: str
) -> None:
    """DESIGN §5's facts: windows, efforts per model, the sampling rule."""
    spec = get_model(name)
    assert (spec.context_window, spec.efforts("chat"), spec.sampling) == (window, efforts, sampling)
    assert spec.source and spec.source.startswith("https://developers.openai.com/")


def test_gpt_6_astra_takes_max_only_on_responses() -> None:
    """Efforts per endpoint: max on /responses, not on /chat/completions."""
    spec = get_model("gpt-6-astra")
    assert "max" in spec.efforts("responses") and "max" not in spec.efforts("chat")


def test_cost_prices_cached_input_and_long_prompts() -> None:
    """Cached input at its price; above 272K input the whole request at 2x / 1.5x."""
    spec = get_model("gpt-6-sol")  # $2 in, $0.20 cached, $10 out
    assert spec.cost(200_000, 0) == pytest.approx(0.4)
    assert spec.cost(100_000, 10_000, cached_tokens=50_000) == pytest.approx(0.1 + 0.01 + 0.1)
    assert spec.cost(300_000, 1_000) == pytest.approx(300_000 * 4e-6 + 1_000 * 15e-6)
    assert get_model("gpt-6.2-astra").cost(1, 1) is None  # no official price found


def test_user_file_declares_a_model_with_every_capability(tmp_path: Path) -> None:
    """A user's own model: limits, encoding, efforts per endpoint, rules, prices, source."""
    path = tmp_path / "presets.yaml"
    path.write_text(
        """
models:
  acme-reasoner:
    context_window: 500000
    max_input_tokens: 400000
    max_output_tokens: 64000
    encoding: o200k_base
    encoding_published: false
    reasoning_efforts: {chat: [none, low, high], responses: [none, low, high, max]}
    default_effort: low
    sampling: effort_none
    rejects: [stop, max_tokens]
    tools_with_effort: false
    verbosity: true
    endpoints: [chat, responses]
    prices: {input: 1.0, cached_input: 0.1, output: 4.0,
             long_context: {above_input_tokens: 200000, input_multiplier: 2, output_multiplier: 2}}
    source: https://example.com/acme-reasoner
    checked: 2026-11-30
""",
        encoding="utf-8",
    )
    spec = load_presets(path).model("acme-reasoner")
    assert spec.efforts("responses")[-1] == "max" and spec.efforts("chat")[-1] == "high"
    assert (spec.default_effort, spec.sampling, spec.tools_with_effort) == (
        "low",
        "effort_none",
        False,
    )
    assert (
        spec.rejects == {"stop", "max_tokens"} and spec.verbosity and spec.checked == "2026-11-30"
    )
    assert spec.cost(100_000, 0) == pytest.approx(0.1)


def test_bad_capability_values_name_the_field_and_the_allowed_values(tmp_path: Path) -> None:
    """An unknown effort or rejected parameter is a ConfigError with the file and line."""
    from llmpresets import ConfigError

    path = tmp_path / "presets.yaml"
    path.write_text("models:\n  m:\n    reasoning_efforts: [extreme]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"presets.yaml:3: models\.m\.reasoning_efforts"):
        load_presets(path)
    path.write_text("models:\n  m:\n    rejects: [temprature]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown parameter 'temprature'"):
        load_presets(path)


def _refusal(**request: Any) -> openai.BadRequestError:
    client = sdk(OfflineTransport(seed=0))
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(messages=USER, **request)
    return info.value


@pytest.mark.parametrize(
    ("request_", "message", "param", "code"),
    [
        (
            {"model": "gpt-5", "temperature": 0.8},
            "Unsupported value: 'temperature' does not support 0.8 with this model. Only the "
            "default (1) value is supported.",
            "temperature",
            "unsupported_value",
        ),
        (
            {"model": "gpt-5.1", "reasoning_effort": "minimal"},
            "Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model. Supported "
            "values are: 'none', 'low', 'medium', and 'high'.",
            "reasoning_effort",
            "unsupported_value",
        ),
        (
            {"model": "gpt-6-sol", "top_p": 0.5},  # default effort medium: no sampling
            "Unsupported parameter: 'top_p' is not supported with this model.",
            "top_p",
            "unsupported_parameter",
        ),
        (
            {"model": "gpt-5.6-luna", "tools": TOOLS, "reasoning_effort": "low"},
            "Function tools with reasoning_effort are not supported for gpt-5.6-luna in "
            "/v1/chat/completions. To use function tools, use /v1/responses or set "
            "reasoning_effort to 'none'.",
            "reasoning_effort",
            None,
        ),
        (
            {"model": "gpt-4o", "reasoning_effort": "low"},
            "Unrecognized request argument supplied: reasoning_effort",
            None,
            None,
        ),
        (
            {"model": "o3-mini", "max_tokens": 10},
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        ),
        (
            {"model": "o4-mini", "stop": ["\n"]},
            "Unsupported parameter: 'stop' is not supported with this model.",
            "stop",
            "unsupported_parameter",
        ),
        (
            {"model": "gpt-4o", "verbosity": "low"},
            "Unsupported value: 'verbosity' does not support 'low' with this model. Supported "
            "values are: 'medium'.",
            "verbosity",
            "unsupported_value",
        ),
        (
            {"model": "gpt-6.2-astra", "reasoning_effort": "none"},
            "Unsupported value: 'none' is not supported with the 'gpt-6.2-astra' model. "
            "Supported values are: 'low', 'medium', 'high', 'xhigh', and 'max'.",
            "reasoning_effort",
            "unsupported_value",
        ),
    ],
)
def test_offline_refuses_what_the_api_refuses(
    request_: dict[str, Any], message: str, param: str | None, code: str | None
) -> None:
    """Green offline means green online: the API's status, message, param and code."""
    error = _refusal(**request_)
    assert error.status_code == 400
    assert error.body == {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }


def test_offline_accepts_what_the_api_accepts() -> None:
    """Temperature at an explicit none, the default temperature 1, verbosity medium on gpt-4o."""
    client = sdk(OfflineTransport(seed=0))
    for request in (
        {"model": "gpt-6-sol", "temperature": 0.3, "reasoning_effort": "none"},
        {"model": "gpt-5", "temperature": 1},
        {"model": "gpt-4o", "verbosity": "medium"},
        {"model": "gpt-6-sol", "tools": TOOLS, "reasoning_effort": "none"},
        {"model": "gpt-6-luna-2026-10-01", "reasoning_effort": "xhigh"},
    ):
        reply = client.chat.completions.create(messages=USER, max_completion_tokens=5, **request)
        assert reply.choices[0].message.role == "assistant"


def test_what_resolve_params_sends_the_offline_backend_accepts() -> None:
    """For every model and use case, the library's own kwargs pass the offline rules."""
    from llmpresets import resolve_params

    client = sdk(OfflineTransport(seed=0))
    book = load_presets()
    for name in sorted(book.models):
        spec: ModelSpec = book.model(name)
        if "chat" not in spec.endpoints or spec.provider != "openai":
            continue  # other providers: tests/test_providers.py, at their own base URLs
        for use_case in book.names():
            kwargs = resolve_params(use_case, name, policy="silent", max_output_tokens=4)
            client.chat.completions.create(messages=USER, **kwargs)


def test_chat_result_reports_dropped_and_cost() -> None:
    """ChatResult.dropped says what the preset asked for and why it was not sent; cost in USD."""
    from llmpresets import Client

    result = Client(offline=True, seed=1, model="gpt-6-sol").chat(USER, use_case="code")
    assert "temperature" in result.dropped and "temperature" not in result.params
    assert result.usage is not None
    expected = get_model("gpt-6-sol").cost(
        result.usage.prompt_tokens, result.usage.completion_tokens
    )
    assert result.cost == pytest.approx(expected) and expected is not None and expected > 0
    assert Client(offline=True, model="gpt-6.2-astra").chat(USER).cost is None  # no price


def test_client_seed_is_sent_online_as_the_apis_seed() -> None:
    """Client(seed=7) online sends seed=7 on chat requests (offline it seeds the backend)."""
    import json

    import httpx2

    from llmpresets import Client

    bodies: list[dict[str, Any]] = []
    inner = OfflineTransport(seed=0)

    def record(request: httpx2.Request) -> httpx2.Response:
        bodies.append(json.loads(request.read()))
        return inner.handle_request(request)

    client = Client(api_key="sk-test", seed=7, transport=httpx2.MockTransport(record))
    client.chat(USER)
    assert bodies[0]["seed"] == 7


def test_models_command_lists_and_describes(capsys: pytest.CaptureFixture[str]) -> None:
    """`llmpresets models` lists every model; NAME shows its rules, prices and source."""
    from llmpresets.cli import main

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "gpt-6.2-astra" in listing and "at effort none" in listing
    assert main(["models", "gpt-6-astra"]) == 0
    one = capsys.readouterr().out
    assert "low,medium,high,xhigh (+max on responses)" in one and "$10 (cached 1) / $50" in one
    assert main(["models", "gpt-6-sol", "--json"]) == 0
    assert '"sampling": "effort_none"' in capsys.readouterr().out


def test_default_run_prints_no_warning(capsys: pytest.CaptureFixture[str]) -> None:
    """The first command a user runs: no warning about the packaged defaults themselves."""
    from llmpresets.cli import main

    for model in ("gpt-4o", "gpt-6.2-astra", "o3"):
        code = main(["run", "Write a function", "--use-case", "code", "--offline", "-m", model])
        assert code == 0
        assert "warning" not in capsys.readouterr().err


def test_a_user_file_equal_to_the_defaults_stays_quiet(tmp_path: Path) -> None:
    """A copy of the packaged presets.yaml (or a checkout's ./presets.yaml) sets nothing new:
    the packaged top_k is still dropped quietly; a changed value is the user's and warns."""
    import warnings

    from llmpresets.config.adapt import UnsupportedParameterWarning, _warned, resolve
    from llmpresets.config.presets import packaged_presets_path

    copy = tmp_path / "presets.yaml"
    copy.write_text(packaged_presets_path().read_text(encoding="utf-8"), encoding="utf-8")
    book = load_presets(copy)
    _warned.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "top_k" in resolve("code", "gpt-4o", config=book).dropped
    copy.write_text("presets:\n  code:\n    top_k: 5\n", encoding="utf-8")
    with pytest.warns(UnsupportedParameterWarning, match="top_k"):
        resolve("code", "gpt-4o", config=load_presets(copy))


def test_run_reaches_responses_only_models_and_takes_api(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`run -m gpt-5.2-pro` goes to /v1/responses by itself; --api responses for any model."""
    from llmpresets.cli import main

    assert main(["run", "Write a function", "-u", "code", "-m", "gpt-5.2-pro", "--offline"]) == 0
    assert "· responses ·" in capsys.readouterr().err
    args = ["run", "Hi", "-m", "gpt-6-sol", "--api", "responses", "--offline", "--json"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert '"api": "responses"' in out and '"reasoning"' in out
    assert main(["presets", "--model", "codex-mini-latest"]) == 0
    assert "reasoning={'effort': 'medium'}" in capsys.readouterr().out
