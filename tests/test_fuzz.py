"""Fuzzing the three doors into the library: transport request bodies, presets files, the CLI.

Each property states what must hold for *any* input: no exception escapes, no 5xx, no
traceback, an error that is one of ours. Examples are few and small (``max_examples``), so the
suite stays quick; the strategies lean on the shapes that broke things before (wrong types in
every field, huge numbers, surrogates, deep nesting, anchors, whitespace runs).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmpresets import ConfigError, load_presets
from llmpresets.cli import main
from llmpresets.offline import OfflineTransport

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --------------------------------------------------------------------------- JSON values

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "auto", "none", "text", "json_schema", "function", "user", "\ud800"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

# --------------------------------------------------------------------------- request bodies

FIELDS = [
    "temperature", "top_p", "top_k", "min_p", "n", "seed", "max_tokens", "max_completion_tokens",
    "stop", "logprobs", "top_logprobs", "logit_bias", "stream", "stream_options", "tools",
    "tool_choice", "parallel_tool_calls", "response_format", "metadata", "store", "user",
    "service_tier", "reasoning_effort", "verbosity", "frequency_penalty", "presence_penalty",
    "modalities", "prediction", "audio", "prompt_cache_key", "safety_identifier", "unknown",
]  # fmt: skip
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "tool", "bogus"])},
        optional={"content": json_values, "name": json_values, "tool_calls": json_values},
    ),
    max_size=3,
)
bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt-4o", "gpt-5", "o3-mini", "unknown-model", ""]) | scalars,
        "messages": messages | json_values,
    },
    optional={field: json_values for field in FIELDS},
)


@pytest.fixture(scope="module")
def transport() -> OfflineTransport:
    return OfflineTransport(seed=0)


def _send(transport: OfflineTransport, content: bytes) -> httpx2.Response:
    with httpx2.Client(transport=transport, base_url="http://offline.test/v1") as client:
        response: httpx2.Response = client.post("/chat/completions", content=content)
        response.read()
        return response


def _small(body: dict[str, Any]) -> dict[str, Any]:
    """Keep accepted requests quick: a small output limit unless the value is invalid anyway."""
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 64 < value <= 2**20:
            body[key] = 64
    if isinstance(body.get("n"), int) and not isinstance(body["n"], bool) and body["n"] > 4:
        body["n"] = 4
    return body


@FUZZ
@given(body=bodies)
def test_no_request_body_escapes_or_gets_a_5xx(transport: OfflineTransport, body: Any) -> None:
    """Any JSON body: an answer below 500 with the API's error shape, never an exception."""
    content = json.dumps(_small(body), ensure_ascii=False).encode("utf-8", "surrogatepass")
    response = _send(transport, content)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert "Traceback" not in error["message"]


@FUZZ
@given(content=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_no_raw_body_escapes(transport: OfflineTransport, content: bytes) -> None:
    """Any bytes at all (not JSON, surrogates, NaN): a 4xx, never an exception."""
    response = _send(transport, content)
    assert 400 <= response.status_code < 500 or response.status_code == 200


# --------------------------------------------------------------------------- presets files

yaml_scalars = st.one_of(
    st.sampled_from(["0.5", "-1", "2.5", ".nan", ".inf", "null", "yes", "'0.5'", "~", "[]", "{}"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(alphabet="abc-_.: \t*&!%@`'\"{}[]#|>", max_size=10),
)
preset_fields = st.sampled_from(
    ["temperature", "top_p", "top_k", "min_p", "max_output_tokens", "description", "recommended",
     "reasoning_effort", "verbosity", "bogus"]
)  # fmt: skip
model_fields = st.sampled_from(
    ["context_window", "max_output_tokens", "max_input_tokens", "encoding", "aliases", "bogus"]
)


@st.composite
def presets_files(draw: st.DrawFn) -> str:
    lines = ["presets:"]
    for name in draw(st.lists(st.sampled_from(["code", "chat", "mine", "b@d"]), max_size=3)):
        lines.append(f"  {name}:")
        for field in draw(st.lists(preset_fields, max_size=3, unique=True)):
            lines.append(f"    {field}: {draw(yaml_scalars)}")
    lines.append("models:")
    for name in draw(st.lists(st.sampled_from(["gpt-4o", "m1", " "]), max_size=2)):
        lines.append(f"  {name!s}:")
        for field in draw(st.lists(model_fields, max_size=3, unique=True)):
            lines.append(f"    {field}: {draw(yaml_scalars)}")
    if draw(st.booleans()):
        lines.append(f"settings:\n  default_model: {draw(yaml_scalars)}")
    if draw(st.booleans()):
        lines.append("anchors: &a [1, 2]\nmore: [*a, *a]")
    depth = draw(st.integers(min_value=0, max_value=120))
    if depth:
        lines.append("deep: " + "[" * depth + "]" * depth)
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):  # damage it
        cut = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:cut] + draw(st.text(max_size=5)) + text[cut:]
    return text


@FUZZ
@given(text=presets_files())
def test_any_presets_file_loads_or_is_a_config_error(tmp_path: Path, text: str) -> None:
    """A file either loads or raises ConfigError naming the file; nothing else escapes."""
    path = tmp_path / "presets.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    error: ConfigError | None = None
    try:
        load_presets(path)
    except ConfigError as exc:
        error = exc
    if error is not None:
        assert error.file is None or error.file == str(path)
        assert str(error)


# --------------------------------------------------------------------------- the CLI

COMMANDS = [
    ["presets"],
    ["presets", "--json"],
    ["schema"],
    ["models"],
    ["validate"],
    ["count"],
    ["count", "--messages"],
    ["explain", "--use-case"],
    ["run", "--max-tokens", "8", "--use-case"],
]
arguments = st.lists(
    st.sampled_from(["code", "chat", "-", "--json", "--model", "gpt-4o", "nope", "--temperature",
                     "9", "-1", "--top-p", "0.5", "--seed", "1", "--n", "2", "", "--bogus"])
    | st.text(max_size=6),
    max_size=4,
)  # fmt: skip
stdin_texts = st.one_of(
    st.text(max_size=80),
    json_values.map(json.dumps),
    st.integers(min_value=1, max_value=3000).map(lambda depth: "[" * depth + "]" * depth),
    st.just('[{"role": "user", "content": "hi"}]'),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=st.sampled_from(COMMANDS), extra=arguments, stdin=stdin_texts)
def test_any_command_line_ends_with_a_documented_code_and_no_traceback(
    command: list[str],
    extra: list[str],
    stdin: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any arguments and any standard input: exit 0, 1 or 2, and no traceback printed."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.delenv("LLMPRESETS_DEBUG", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code = main([*command, *extra])
    captured = capsys.readouterr()
    assert code in (0, 1, 2), (command, extra, captured.err)
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    assert "internal error" not in captured.err, captured.err
