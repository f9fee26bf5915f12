"""Scripted candidates: whole completions sampled with the request's settings, from YAML."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
from offline_sdk import sdk
from openai.types.chat import ChatCompletionMessageParam
from scipy.stats import chisquare

from llmpresets import ConfigError, load_presets, sampling
from llmpresets.offline import OfflineTransport, load_scripted, make_rule
from llmpresets.tokens.encodings import get_encoding

WEAR: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "It is sunny. What should I wear today?"}
]
TABLE = {"Sunglasses.": 0.7, "A hat.": 0.2, "A jacket.": 0.1}


def wear_transport(**kwargs: Any) -> OfflineTransport:
    return OfflineTransport(scripted=[make_rule("what should I wear", TABLE)], **kwargs)


def draw(client: openai.OpenAI, total: int, **settings: Any) -> Counter[str]:
    """``total`` samples, 128 choices per request, through the SDK."""
    counts: Counter[str] = Counter()
    seed = 0
    while sum(counts.values()) < total:
        n = min(128, total - sum(counts.values()))
        reply = client.chat.completions.create(
            model="gpt-4o", messages=WEAR, n=n, seed=seed, **settings
        )
        counts.update(choice.message.content or "" for choice in reply.choices)
        seed += 1
    return counts


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"temperature": 0.5},
        {"temperature": 1.5},
        {"temperature": 1.0, "top_p": 0.8},
    ],
)
def test_samples_follow_sampling_probabilities(settings: dict[str, Any]) -> None:
    """10,000 samples match sampling.probabilities of the table (chi-square, p > 0.001)."""
    texts = list(TABLE)
    expected = sampling.probabilities(np.log(list(TABLE.values())), **settings)
    counts = draw(sdk(wear_transport()), 10_000, **settings)
    assert set(counts) <= {text for text, p in zip(texts, expected, strict=True) if p > 0}
    kept = [i for i, p in enumerate(expected) if p > 0]
    observed = [counts[texts[i]] for i in kept]
    if len(kept) > 1:
        result = chisquare(observed, [expected[i] * 10_000 for i in kept])
        assert result.pvalue > 0.001


def test_greedy_always_picks_the_most_likely_completion() -> None:
    """Temperature 0 picks the most probable completion every time."""
    assert draw(sdk(wear_transport()), 200, temperature=0) == Counter({"Sunglasses.": 200})


def test_only_the_last_user_message_is_matched() -> None:
    """A rule matching an earlier message does not answer; matching is case-insensitive."""
    client = sdk(wear_transport(seed=0))
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "What should I wear?"},
        {"role": "assistant", "content": "Sunglasses."},
        {"role": "user", "content": "Tell me a story."},
    ]
    reply = client.chat.completions.create(model="gpt-4o", messages=messages, max_tokens=20)
    assert reply.choices[0].message.content not in TABLE
    shout: list[ChatCompletionMessageParam] = [{"role": "user", "content": "WHAT SHOULD I WEAR"}]
    reply = client.chat.completions.create(model="gpt-4o", messages=shout)
    assert reply.choices[0].message.content in TABLE


def test_regex_rules_match_by_pattern() -> None:
    """regex: true matches the last user message with re.search."""
    rule = make_rule(r"^\s*(hi|hello)\b", {"Hey!": 1.0}, regex=True)
    client = sdk(OfflineTransport(scripted=[rule], seed=0))
    reply = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello there"}]
    )
    assert reply.choices[0].message.content == "Hey!"


def test_probabilities_below_one_leave_the_rest_to_the_model() -> None:
    """When a table sums below 1, the remainder is the model answering instead."""
    client = sdk(OfflineTransport(scripted=[make_rule("wear", {"Sunglasses.": 0.5})]))
    counts = draw(client, 400)
    assert 120 < counts["Sunglasses."] < 280
    assert sum(counts.values()) - counts["Sunglasses."] > 120


def test_scripted_logprobs_come_from_the_table() -> None:
    """A scripted completion's first token carries log(its probability) and its rivals."""
    reply = sdk(wear_transport()).chat.completions.create(
        model="gpt-4o", messages=WEAR, seed=0, temperature=0, logprobs=True, top_logprobs=3
    )
    content = reply.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content is not None
    assert math.isclose(content[0].logprob, math.log(0.7))
    assert math.isclose(sum(entry.logprob for entry in content), math.log(0.7))
    first = [
        get_encoding("o200k_base").decode([ids[0]])
        for ids in (get_encoding("o200k_base").encode(text) for text in ("Sunglasses.", "A hat."))
    ]
    assert [top.token for top in content[0].top_logprobs] == first
    assert math.isclose(content[0].top_logprobs[1].logprob, math.log(0.3))


def test_scripted_reply_obeys_max_tokens_and_stream() -> None:
    """max_tokens cuts a scripted completion (length); streaming gives the same text."""
    client = sdk(OfflineTransport(scripted=[make_rule("wear", {"Sunglasses and a hat.": 1.0})]))
    cut = client.chat.completions.create(model="gpt-4o", messages=WEAR, max_tokens=2)
    assert cut.choices[0].finish_reason == "length"
    assert "Sunglasses and a hat.".startswith(cut.choices[0].message.content or "-")
    stream = client.chat.completions.create(model="gpt-4o", messages=WEAR, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Sunglasses and a hat."


def test_transport_loads_a_scripted_yaml_file(tmp_path: Path) -> None:
    """OfflineTransport(scripted=path) reads the file's rules."""
    path = tmp_path / "scripted.yaml"
    path.write_text(
        "scripted:\n"
        "  - match: what should I wear\n"
        "    completions:\n"
        "      - {text: Sunglasses., probability: 1.0}\n"
    )
    reply = sdk(OfflineTransport(scripted=path)).chat.completions.create(
        model="gpt-4o", messages=WEAR
    )
    assert reply.choices[0].message.content == "Sunglasses."


def test_config_scripted_rules_are_the_default(tmp_path: Path) -> None:
    """offline.scripted in presets.yaml answers when no rules are given."""
    config = tmp_path / "presets.yaml"
    config.write_text(
        "offline:\n  scripted:\n    - match: wear\n      completions:\n"
        "        - {text: Boots., probability: 1.0}\n"
    )
    reply = sdk(OfflineTransport(config=load_presets(config))).chat.completions.create(
        model="gpt-4o", messages=WEAR
    )
    assert reply.choices[0].message.content == "Boots."


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    [
        (
            "scripted:\n  - match: wear\n    completions:\n      - {text: A., probability: 1.5}\n",
            4,
            "scripted.0.completions.0.probability",
            "allowed: 0 < probability ≤ 1",
        ),
        (
            "scripted:\n  - match: wear\n    completions:\n"
            "      - {text: A., probability: 1.0}\n    regx: true\n",
            5,
            "scripted.0.regx",
            "did you mean 'regex'",
        ),
        (
            "scripted:\n  - match: '(unclosed'\n    regex: true\n    completions:\n"
            "      - {text: A., probability: 1.0}\n",
            2,
            "scripted.0",
            "invalid regex",
        ),
        ("rules: []\n", 1, None, "expected a mapping with the key 'scripted'"),
        ("scripted: []\nextra: 1\n", 2, "extra", "valid fields: scripted"),
    ],
)
def test_bad_scripted_file_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str | None, fragment: str
) -> None:
    """Validation errors read 'file:line: field: problem; allowed' like presets.yaml's."""
    path = tmp_path / "scripted.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_scripted(path)
    error = caught.value
    assert error.file == str(path) and error.line == line
    assert fragment in str(error)
    if field is not None:
        assert error.field is not None and error.field.startswith(field)
        assert f"{path}:{line}: {field}" in str(error)


def test_make_rule_rejects_a_bad_table() -> None:
    """Probabilities over 1 in total are a ConfigError."""
    with pytest.raises(ConfigError, match="sum to"):
        make_rule("x", {"A.": 0.8, "B.": 0.8})
