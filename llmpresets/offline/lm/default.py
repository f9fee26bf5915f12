"""The default next-token source of a request: the packaged model, or the configured corpus.

:func:`source_for_model` is what a request without a source of its own samples from:
``offline.corpus`` when the configuration names one, else :func:`default_language_model`, the
packaged corpus's n-gram model in the requested model's encoding. Models are kept in memory
(:data:`MODEL_BYTES`) and the packaged one on disk too (:func:`cached_model`, the files in
:mod:`llmpresets.offline.lm.ngram.files`). :func:`next_token_distribution` shows the default
model's first step for a prompt (``llmpresets explain --prompt``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..._cache import BoundedCache
from ..._errors import ConfigError
from .corpus import packaged_corpus_text
from .ngram.files import UNREADABLE, SavedModel, cache_file, read_cached, write_cached
from .ngram.model import DEFAULT_ORDER, NGramModel
from .ngram.tables import tokenized_sections
from .prompt import render_prompt
from .sources import make_stepper, token_text

if TYPE_CHECKING:
    from ...config.presets import PresetBook

__all__ = [
    "MODEL_BYTES",
    "cached_model",
    "default_language_model",
    "next_token_distribution",
    "source_for_model",
]

# Trained models kept in memory, each counted as eight times its derived arrays (what its
# tables take once expanded; about 10 MB for the packaged corpus; its logits and shortcut
# caches have budgets of their own): the packaged model of every encoding and a few corpora.
MODEL_BYTES = 256 << 20
_models: BoundedCache[Hashable, NGramModel] = BoundedCache("lm n-gram models", MODEL_BYTES)
_models_lock = threading.Lock()  # a model is trained once, however many threads want it


def _kept(key: Hashable, train: Callable[[], NGramModel]) -> NGramModel:
    model = _models.get(key)
    if model is None:
        with _models_lock:
            model = _models.get(key)
            if model is None:
                model = train()
                footprint = 8 * sum(array.nbytes for array in model.derived_arrays().values())
                _models.put(key, model, nbytes=footprint)
    return model


def cached_model(text: str, *, encoding: str, order: int) -> NGramModel:
    """The model trained on ``text``: read from the on-disk cache, else trained and cached."""
    path = cache_file(text, encoding, order)
    if path is not None:
        cached = read_cached(path, encoding, order)
        if cached is not None:
            sections, arrays = cached
            try:
                return NGramModel(sections, encoding=encoding, order=order, arrays=arrays)
            except (*UNREADABLE, ConfigError):
                pass  # arrays of another version, or damaged: train afresh
    model = NGramModel(tokenized_sections(text, encoding), encoding=encoding, order=order)
    if path is not None:
        write_cached(path, SavedModel(encoding, order, model.sections), model.derived_arrays())
    return model


def default_language_model(
    encoding_name: str = "o200k_base", *, order: int = DEFAULT_ORDER
) -> NGramModel:
    """The packaged-corpus model for one encoding: once per process, trained once per machine
    (kept in the on-disk cache, see :mod:`llmpresets.offline.lm.ngram.files`).

    >>> model = default_language_model("o200k_base")
    >>> sorted(model.stats()["sections"])
    ['brainstorm', 'chat', 'code', 'factual', 'stories']
    """
    key = ("packaged", encoding_name, order)
    return _kept(
        key, lambda: cached_model(packaged_corpus_text(), encoding=encoding_name, order=order)
    )


def source_for_model(book: PresetBook, model: str) -> NGramModel:
    """The default source for ``model``: ``offline.corpus`` when configured, else the packaged
    model, in the model's encoding (each trained once per process)."""
    encoding = book.model(model).encoding
    corpus = book.offline.corpus
    if not corpus:
        return default_language_model(encoding)
    path = Path(corpus).expanduser()
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(
            f"offline.corpus: {corpus}: no such file (it existed when the configuration "
            "was loaded; a relative path is taken from the file that sets it)",
            field="offline.corpus",
        ) from exc
    key = ("corpus", str(path.resolve()), stat.st_mtime_ns, stat.st_size, encoding)
    return _kept(key, lambda: NGramModel.from_file(path, encoding=encoding))


def next_token_distribution(
    prompt: str,
    model: str = "gpt-4o",
    *,
    top: int | None = 10,
    config: PresetBook | None = None,
    use_case: str | None = None,
) -> list[tuple[str, float]]:
    """The offline model's first-token distribution for ``prompt`` as a user message.

    Returns ``(token text, probability)`` pairs, most likely first: the raw model distribution,
    before temperature or any filter (``llmpresets explain --prompt`` shows how a preset
    reshapes it). ``top=None`` returns every token of the model's support (the probabilities
    then sum to 1, ready for :func:`llmpresets.sampling.probabilities` on their logs).
    ``use_case`` steers the model's style as the Client's requests do.

    >>> pairs = next_token_distribution("Write a Python function", top=3)
    >>> len(pairs), pairs[0][0]
    (3, 'def')
    """
    from ...config.presets import default_book
    from ...tokens.encodings import get_encoding

    book = config or default_book()
    source = source_for_model(book, model)
    encoding = get_encoding(source.encoding_name)
    prompt_ids = encoding.encode_ordinary(render_prompt([{"role": "user", "content": prompt}]))
    step, vocab = make_stepper(source, prompt_ids, encoding, style=use_case)
    logits = step([])
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    order = np.argsort(-probabilities, kind="stable")[:top]  # [:None] keeps all
    result = []
    for position in order:
        token = int(vocab[position]) if vocab is not None else int(position)
        result.append((token_text(encoding, token), float(probabilities[position])))
    return result
