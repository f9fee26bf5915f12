"""Offline ``POST /embeddings``: deterministic vectors in which shared words mean closeness.

A text becomes a bag of features: its words (lower-cased ``\\w+`` runs, weight 1 each time they
occur), its word bigrams (weight 0.5) and the character trigrams of the whole text (weight 0.1,
so that ``retry`` and ``retries`` are a little alike and a text of punctuation alone still has a
vector). Each feature is hashed (BLAKE2b, salted with the model's name) to the seed of a
Gaussian vector of the model's dimension: together these rows form a fixed random projection
of the hashed-feature space (the Johnson–Lindenstrauss construction), so the cosine similarity
of two vectors tracks the overlap of their features. The sum is normalised to length 1, as
OpenAI's embeddings are. Consequences a retrieval test can rely on:

- the same text, model and ``dimensions`` give the same vector on every machine and run;
- texts that share words are closer than texts that share none (unrelated texts have a cosine
  similarity near 0, within a few ``1/sqrt(dimensions)``);
- ``dimensions=d`` gives the first ``d`` components of the full vector, renormalised
  (OpenAI's text-embedding-3 models shorten the same way).

Inputs: a string, an array of strings, an array of token ids, or an array of such arrays (at
most 2,048 inputs, each at most 8,192 tokens of the model's tokenizer, 300,000 in all, so a
request costs at most a few seconds); ``encoding_format``
``float`` or ``base64`` (little-endian float32, what the SDK asks for by default). Usage counts
the input tokens with the model's tokenizer.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..._cache import memoize
from .errors import (
    WireError,
    invalid_value,
    missing,
    quoted_list,
    texts_or_token_arrays,
    unrecognized,
)

__all__ = [
    "EMBEDDING_MODELS",
    "EmbeddingModel",
    "EmbeddingRequest",
    "embed",
    "embeddings_payload",
    "parse_embeddings_request",
]


@dataclass(frozen=True)
class EmbeddingModel:
    """An embedding model's native dimension, whether it can be shortened, and its tokenizer."""

    dimensions: int
    shortenable: bool
    encoding: str = "cl100k_base"
    max_input_tokens: int = 8192


# From the models' pages (developers.openai.com/api/docs/models/ID).
EMBEDDING_MODELS: Mapping[str, EmbeddingModel] = {
    "text-embedding-3-small": EmbeddingModel(1536, shortenable=True),
    "text-embedding-3-large": EmbeddingModel(3072, shortenable=True),
    "text-embedding-ada-002": EmbeddingModel(1536, shortenable=False),
}
MAX_INPUTS = 2048
MAX_REQUEST_TOKENS = 300_000  # summed over a request's inputs, as the API caps them
_WORD = re.compile(r"\w+")
_WEIGHTS = {"word": 1.0, "bigram": 0.5, "trigram": 0.1}


@dataclass(frozen=True)
class EmbeddingRequest:
    """A validated ``POST /embeddings`` body: texts (token arrays decoded), and their counts."""

    model: str
    texts: list[str]
    token_counts: list[int]
    dimensions: int
    encoding_format: str


def _invalid_input() -> WireError:
    return WireError(
        400,
        "'$.input' is invalid. Please check the API reference: "
        "https://platform.openai.com/docs/api-reference.",
    )


def _model(body: Mapping[str, Any]) -> tuple[str, EmbeddingModel]:
    name = body.get("model")
    if name is None or name == "":
        raise WireError(400, "you must provide a model parameter")
    if not isinstance(name, str):
        raise WireError(
            400, "Invalid type for 'model': expected a string.", param="model", code="invalid_type"
        )
    model = EMBEDDING_MODELS.get(name)
    if model is None:
        raise WireError(
            400,
            f"The model `{name}` does not support embeddings (known embedding models: "
            f"{', '.join(EMBEDDING_MODELS)}).",
            param="model",
            code="model_not_supported",
        )
    return name, model


def _inputs(value: Any) -> list[str | list[int]]:
    """The request's inputs, each a string or a (non-empty) token array, in order."""
    return texts_or_token_arrays(value, _invalid_input, empty_arrays=False)


def parse_embeddings_request(body: Mapping[str, Any]) -> EmbeddingRequest:
    """Validate an embeddings body; raise :class:`WireError` with the API's status and message."""
    from ...tokens.encodings import get_encoding

    unknown = sorted(set(body) - {"model", "input", "dimensions", "encoding_format", "user"})
    if unknown:
        raise unrecognized(unknown[:1], named=True)
    if "input" not in body:
        raise missing("input")
    name, model = _model(body)
    inputs = _inputs(body["input"])
    if len(inputs) > MAX_INPUTS:
        raise WireError(
            400,
            f"Invalid 'input': maximum batch size is {MAX_INPUTS} inputs, got {len(inputs)}.",
            param="input",
        )
    encoding_format = body.get("encoding_format", "float")
    if encoding_format is None:
        encoding_format = "float"
    if encoding_format not in ("float", "base64"):
        raise invalid_value("encoding_format", encoding_format, quoted_list(("float", "base64")))
    dimensions = _dimensions(body.get("dimensions"), name, model)
    encoding = get_encoding(model.encoding)
    texts: list[str] = []
    counts: list[int] = []
    for item in inputs:
        if isinstance(item, str):
            if item == "":
                raise _invalid_input()
            count = len(encoding.encode_ordinary(item))
            text = item
        else:
            if any(token < 0 or token >= encoding.n_vocab for token in item):
                raise WireError(
                    400,
                    f"Invalid token in 'input': ids must be in [0, {encoding.n_vocab - 1}].",
                    param="input",
                    code="invalid_value",
                )
            count = len(item)
            text = encoding.decode(item, errors="replace")
        if count > model.max_input_tokens:
            raise WireError(
                400,
                f"This model's maximum context length is {model.max_input_tokens} tokens, "
                f"however you requested {count} tokens ({count} in your prompt; 0 for the "
                "completion). Please reduce your prompt; or completion length.",
                code="context_length_exceeded",
            )
        texts.append(text)
        counts.append(count)
    if sum(counts) > MAX_REQUEST_TOKENS:
        raise WireError(
            400,
            f"Requested {sum(counts)} tokens, max {MAX_REQUEST_TOKENS} tokens per request",
            param="input",
            code="max_tokens_per_request",
        )
    return EmbeddingRequest(name, texts, counts, dimensions, encoding_format)


def _dimensions(value: Any, name: str, model: EmbeddingModel) -> int:
    if value is None:
        return model.dimensions
    if not model.shortenable:
        raise WireError(
            400, "This model does not support specifying dimensions.", param="dimensions"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(
            400,
            "Invalid type for 'dimensions': expected an integer.",
            param="dimensions",
            code="invalid_type",
        )
    if not 1 <= value <= model.dimensions:
        raise WireError(
            400,
            f"Invalid value for 'dimensions' = {value}. Must be between 1 and "
            f"{model.dimensions} for {name}.",
            param="dimensions",
            code="invalid_value",
        )
    return value


def _features(text: str) -> Counter[tuple[str, str]]:
    lowered = text.casefold()
    words = _WORD.findall(lowered)
    features: Counter[tuple[str, str]] = Counter(("word", word) for word in words)
    features.update(("bigram", f"{a} {b}") for a, b in itertools.pairwise(words))
    padded = f" {' '.join(lowered.split())} "
    features.update(("trigram", padded[i : i + 3]) for i in range(len(padded) - 2))
    return features


@memoize("embedding feature rows", budget=32 << 20)
def _row(model: str, kind: str, feature: str, dimensions: int) -> NDArray[np.float32]:
    """The projection row of one feature: Gaussian, seeded by the feature's salted hash."""
    digest = hashlib.blake2b(
        f"{kind}\x00{feature}".encode("utf-8", "surrogatepass"),
        digest_size=16,
        person=b"llmp-embed-v1",
        salt=hashlib.blake2b(model.encode(), digest_size=16).digest(),
    ).digest()
    rng = np.random.default_rng(int.from_bytes(digest, "little"))
    row = rng.standard_normal(dimensions, dtype=np.float32)
    row.flags.writeable = False
    return row


def embed(
    texts: str | Sequence[str],
    model: str = "text-embedding-3-small",
    dimensions: int | None = None,
) -> NDArray[np.float32]:
    """The offline embedding vectors of ``texts`` (rows of unit length), as the server gives them.

    >>> vectors = embed(["red apples", "green apples", "tax law"], dimensions=256)
    >>> bool(vectors[0] @ vectors[1] > vectors[0] @ vectors[2])
    True
    """
    if isinstance(texts, str):
        texts = [texts]
    spec = EMBEDDING_MODELS.get(model)
    if spec is None:
        raise KeyError(f"{model!r} is not an embedding model; known: {', '.join(EMBEDDING_MODELS)}")
    full = spec.dimensions
    size = full if dimensions is None else dimensions
    if not 1 <= size <= full:
        raise ValueError(f"dimensions must be between 1 and {full} for {model}, got {size}")
    vectors = np.zeros((len(texts), size), dtype=np.float32)
    for index, text in enumerate(texts):
        total = np.zeros(full, dtype=np.float64)
        for (kind, feature), count in _features(text).items():
            total += (_WEIGHTS[kind] * count) * _row(model, kind, feature, full)
        part = total[:size]
        norm = float(np.linalg.norm(part))
        if norm > 0:
            vectors[index] = part / norm
    return vectors


def embeddings_payload(request: EmbeddingRequest) -> dict[str, Any]:
    """The ``list`` body of ``POST /embeddings``, float arrays or base64 float32 strings."""
    vectors = embed(request.texts, request.model, request.dimensions)
    data: list[dict[str, Any]] = []
    for index, vector in enumerate(vectors):
        value: Any
        if request.encoding_format == "base64":
            value = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
        else:
            value = vector.tolist()
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = sum(request.token_counts)
    return {
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
