"""Offline embeddings: the API's shape, determinism, and an order a retrieval test can rely on."""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest
from offline_sdk import sdk

from llmpresets.offline import OfflineTransport, embed


@pytest.fixture(scope="module")
def client() -> openai.OpenAI:
    return sdk(OfflineTransport(seed=0))


def vectors(client: openai.OpenAI, texts: list[str], **options: object) -> np.ndarray:
    reply = client.embeddings.create(model="text-embedding-3-small", input=texts, **options)  # type: ignore[arg-type]
    return np.array([item.embedding for item in reply.data])


def test_texts_sharing_words_are_closer(client: openai.OpenAI) -> None:
    """A query is closest to the document that shares its words, farthest from one sharing none."""
    query = "how do I bake sourdough bread"
    documents = [
        "sourdough bread needs a starter and a long bake",
        "bread rolls for breakfast",
        "the tax deadline for small companies",
    ]
    found = vectors(client, [query, *documents])
    scores = found[1:] @ found[0]
    assert list(np.argsort(-scores)) == [0, 1, 2]


def test_vectors_are_unit_length_and_deterministic(client: openai.OpenAI) -> None:
    """The same input gives the same vector, every request and every transport; norm 1."""
    first = vectors(client, ["red apples"])
    again = vectors(sdk(OfflineTransport()), ["red apples"])
    assert np.array_equal(first, again)
    assert np.linalg.norm(first[0]) == pytest.approx(1.0, abs=1e-6)


def test_models_have_their_dimensions(client: openai.OpenAI) -> None:
    """text-embedding-3-small 1,536, -3-large 3,072, ada-002 1,536."""
    for model, size in (
        ("text-embedding-3-small", 1536),
        ("text-embedding-3-large", 3072),
        ("text-embedding-ada-002", 1536),
    ):
        reply = client.embeddings.create(model=model, input="hello")
        assert len(reply.data[0].embedding) == size


def test_dimensions_shortens_and_renormalises(client: openai.OpenAI) -> None:
    """dimensions=d is the first d components of the full vector, renormalised."""
    full = vectors(client, ["shorten me"])[0]
    short = vectors(client, ["shorten me"], dimensions=256)[0]
    expected = full[:256] / np.linalg.norm(full[:256])
    assert np.allclose(short, expected, atol=1e-6)


def test_float_and_base64_agree() -> None:
    """encoding_format base64 carries the same little-endian float32 numbers as float."""
    import httpx2

    transport = OfflineTransport()
    client = httpx2.Client(transport=transport, base_url="http://offline.test/v1")
    body = {"model": "text-embedding-3-small", "input": "same numbers"}
    as_float = client.post("/embeddings", json=body).json()["data"][0]["embedding"]
    encoded = client.post("/embeddings", json={**body, "encoding_format": "base64"}).json()
    decoded = np.frombuffer(base64.b64decode(encoded["data"][0]["embedding"]), dtype="<f4")
    assert decoded.tolist() == as_float


def test_batches_token_arrays_and_usage(client: openai.OpenAI) -> None:
    """A batch keeps its order; a token array embeds its text; usage counts cl100k tokens."""
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base")
    texts = ["first text here", "second one"]
    reply = client.embeddings.create(model="text-embedding-3-small", input=texts)
    assert [item.index for item in reply.data] == [0, 1]
    assert reply.usage.prompt_tokens == sum(len(encoding.encode(t)) for t in texts)
    tokens = client.embeddings.create(
        model="text-embedding-3-small", input=[encoding.encode(texts[0])]
    )
    assert tokens.data[0].embedding == reply.data[0].embedding


def test_embed_matches_the_endpoint(client: openai.OpenAI) -> None:
    """llmpresets.offline.embed gives what POST /embeddings answers (float32)."""
    assert np.allclose(embed("one two")[0], vectors(client, ["one two"])[0], atol=1e-7)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "text-embedding-ada-002", "dimensions": 8}, "does not support specifying"),
        ({"model": "text-embedding-3-small", "dimensions": 5000}, "Must be between 1 and 1536"),
        ({"model": "gpt-4o"}, "does not support embeddings"),
        ({"model": "text-embedding-3-small", "input": ""}, "'$.input' is invalid"),
        ({"model": "text-embedding-3-small", "input": [[10**9]]}, "Invalid token"),
        ({"model": "text-embedding-3-small", "input": " x" * 9000}, "maximum context length"),
    ],
)
def test_invalid_requests_get_400(
    client: openai.OpenAI, options: dict[str, object], message: str
) -> None:
    """Requests the API refuses are 400s with a message saying why."""
    arguments: dict[str, object] = {"input": "hello", **options}
    with pytest.raises(openai.BadRequestError, match=message.replace("$", r"\$")):
        client.embeddings.create(**arguments)  # type: ignore[arg-type]
