"""Legacy /completions and the model list, through the real SDK over the offline transport."""

from __future__ import annotations

import openai
import pytest
from offline_sdk import sdk

from llmpresets.offline import OfflineTransport

PROMPTS = ["Once upon a time", "def add("]


@pytest.fixture
def client() -> openai.OpenAI:
    return sdk(OfflineTransport(seed=0))


def test_choices_per_prompt_and_usage(client: openai.OpenAI) -> None:
    """n choices per prompt, in prompt order; 16 tokens by default; usage sums every choice."""
    reply = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt=PROMPTS, n=2, seed=1, temperature=1.0
    )
    assert reply.object == "text_completion"
    assert [choice.index for choice in reply.choices] == [0, 1, 2, 3]
    assert reply.choices[2].text.startswith("def")
    assert reply.usage is not None
    assert reply.usage.completion_tokens <= 4 * 16
    assert reply.usage.prompt_tokens == 4 + 3  # cl100k tokens of the two prompts


def test_stream_matches_the_whole_reply(client: openai.OpenAI) -> None:
    """A seeded streamed completion has the same texts and usage as the plain one."""
    options = {"model": "davinci-002", "prompt": PROMPTS, "seed": 4, "max_tokens": 10}
    whole = client.completions.create(**options)  # type: ignore[call-overload]
    texts: dict[int, str] = {}
    usage = None
    for chunk in client.completions.create(  # type: ignore[call-overload]
        **options, stream=True, stream_options={"include_usage": True}
    ):
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
        usage = chunk.usage or usage
    assert [texts[i] for i in sorted(texts)] == [c.text for c in whole.choices]
    assert usage == whole.usage


def test_logprobs_echo_and_token_prompts(client: openai.OpenAI) -> None:
    """logprobs=k gives k alternatives per token; echo prefixes the prompt; token ids work."""
    reply = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Hello", logprobs=2, max_tokens=5, seed=0
    )
    logprobs = reply.choices[0].logprobs
    assert logprobs is not None and logprobs.tokens is not None
    assert "".join(logprobs.tokens) == reply.choices[0].text
    assert all(len(top) <= 2 for top in logprobs.top_logprobs or [])
    echoed = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Hello", echo=True, max_tokens=5, seed=0
    )
    assert echoed.choices[0].text == "Hello" + reply.choices[0].text
    by_ids = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt=[9906], max_tokens=5, seed=0
    )
    assert by_ids.choices[0].text == reply.choices[0].text


def test_chat_models_get_the_apis_404(client: openai.OpenAI) -> None:
    """A registry chat model on /completions: 404, pointing at /chat/completions."""
    with pytest.raises(openai.NotFoundError, match="This is a chat model"):
        client.completions.create(model="gpt-4o", prompt="hi")


def test_legacy_context_window(client: openai.OpenAI) -> None:
    """Prompt plus max_tokens over the model's window: the legacy wording's 400."""
    with pytest.raises(openai.BadRequestError, match="maximum context length is 4096"):
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt=" x" * 4090, max_tokens=10)


def test_models_list_the_served_models(client: openai.OpenAI) -> None:
    """GET /models lists the registry and the embedding and legacy models; each retrievable."""
    names = {model.id for model in client.models.list()}
    assert {"gpt-4o", "text-embedding-3-small", "gpt-3.5-turbo-instruct"} <= names
    assert client.models.retrieve("text-embedding-3-large").id == "text-embedding-3-large"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_generated_tokens_are_bounded_across_prompts(client: openai.OpenAI) -> None:
    """Many prompts share the per-request cap on generated tokens; too many prompts is a 400."""
    from llmpresets.offline.api.limits import MAX_TOKENS_PER_REQUEST

    reply = client.completions.create(
        model="davinci-002", prompt=["Tell me a story"] * 64, max_tokens=4000, n=2
    )
    assert reply.usage is not None
    assert reply.usage.completion_tokens <= MAX_TOKENS_PER_REQUEST
    with pytest.raises(openai.BadRequestError, match="at most 2048 prompts"):
        client.completions.create(model="davinci-002", prompt=["x"] * 2049, max_tokens=1)
