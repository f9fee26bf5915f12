"""Next-token sources: where the offline backend's distributions come from.

A source is anything with ``next_logits(context_ids) -> logits`` (the :class:`NextTokenSource`
protocol), or a plain callable ``(context_ids) -> logits``. The context is the tokenizer ids
of the rendered prompt (:func:`render_prompt`), then ``<|endofprompt|>``, then the ids generated
so far. Logits are a 1-D array; position ``i`` is token id ``i`` unless the source has a
``vocabulary`` attribute listing the token id of each position (the n-gram model does: its
support is the corpus vocabulary). ``-inf`` marks an impossible token. Generation ends when
the tokenizer's ``<|endoftext|>`` is sampled.

Optional attributes a source may have: ``vocabulary`` (above), ``encoding_name`` (the
tokenizer it speaks; default: the requested model's), and ``bind(prompt_ids)`` returning a
function of the *positions* generated so far (a fast path the n-gram model uses).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..._errors import ConfigError, SourceError

if TYPE_CHECKING:
    import tiktoken

    from ...config.presets import PresetBook

__all__ = [
    "CallableSource",
    "NextTokenSource",
    "as_source",
    "next_token_distribution",
    "render_prompt",
    "source_for_model",
]

FloatArray = NDArray[np.float64]
Stepper = Callable[[Sequence[int]], FloatArray]
# Why a source's settler stopped a run of steps (see NGramModel.bind's BoundPrompt.settler):
# the budget was used, the end of text came, or a step is left to the sampler.
RUN_BUDGET, RUN_END, RUN_SAMPLE = 0, 1, 2


@runtime_checkable
class NextTokenSource(Protocol):
    """Anything that gives next-token logits for a context of tokenizer ids.

    >>> import numpy as np
    >>> class Uniform:
    ...     def next_logits(self, context_ids):
    ...         return np.zeros(1000)
    >>> isinstance(Uniform(), NextTokenSource)
    True
    """

    def next_logits(self, context_ids: Sequence[int]) -> ArrayLike: ...


class CallableSource:
    """Adapt a plain function ``(context_ids) -> logits`` to :class:`NextTokenSource`.

    >>> import numpy as np
    >>> source = CallableSource(lambda context: np.zeros(5), vocabulary=[10, 11, 12, 13, 14])
    >>> source.next_logits([1, 2]).shape
    (5,)
    """

    def __init__(
        self,
        function: Callable[[Sequence[int]], ArrayLike],
        *,
        vocabulary: Sequence[int] | None = None,
        encoding_name: str | None = None,
    ) -> None:
        self.function = function
        self.vocabulary = None if vocabulary is None else np.asarray(vocabulary, dtype=np.int64)
        self.encoding_name = encoding_name

    def next_logits(self, context_ids: Sequence[int]) -> FloatArray:
        return np.asarray(self.function(context_ids), dtype=np.float64)

    def __repr__(self) -> str:
        return f"CallableSource({self.function!r})"


def as_source(source: object) -> NextTokenSource:
    """``source`` itself when it has ``next_logits``; a callable is wrapped; else TypeError."""
    if isinstance(source, NextTokenSource):
        return source
    if callable(source):
        return CallableSource(source)
    raise TypeError(
        f"source must have next_logits(context_ids) or be a callable returning logits, "
        f"got {type(source).__name__}"
    )


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable) and not isinstance(content, (bytes, Mapping)):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def render_prompt(messages: Iterable[Mapping[str, Any]]) -> str:
    """The text a source sees as the prompt: message contents joined by blank lines.

    >>> render_prompt([{"role": "system", "content": "Be brief."},
    ...                {"role": "user", "content": "Hi"}])
    'Be brief.\\n\\nHi'
    """
    return "\n\n".join(
        text for text in (_text_of(message.get("content")) for message in messages) if text
    )


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The text of the last user message (what scripted rules match), if any."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return None


def end_of_prompt(encoding: tiktoken.Encoding) -> int:
    return int(encoding.encode_single_token("<|endofprompt|>"))


@functools.lru_cache(maxsize=64)
def _takes_style(function: Callable[..., object]) -> bool:
    # Once per source class, not per request: inspecting a signature costs tens of µs.
    return "style" in inspect.signature(function).parameters


def make_stepper(
    source: NextTokenSource,
    prompt_ids: Sequence[int],
    encoding: tiktoken.Encoding,
    *,
    style: str | None = None,
) -> tuple[Stepper, NDArray[np.int64] | None]:
    """A function from generated positions to checked logits, and the position -> id map.

    ``style`` is the use case the Client sent (header
    ``llmpresets.config.headers.USE_CASE_HEADER``);
    a source whose ``bind`` takes a ``style`` keyword (the n-gram model) uses it to choose its
    section.
    """
    vocabulary = getattr(source, "vocabulary", None)
    vocab = None if vocabulary is None else np.asarray(vocabulary, dtype=np.int64)
    bind = getattr(source, "bind", None)
    if callable(bind):
        function = getattr(bind, "__func__", bind)
        try:
            takes_style = _takes_style(function)
        except TypeError:  # an unhashable callable object
            takes_style = "style" in inspect.signature(bind).parameters
        bound: Stepper = bind(prompt_ids, style=style) if takes_style else bind(prompt_ids)
        return bound, vocab
    context = [*prompt_ids, end_of_prompt(encoding)]
    fixed = len(context)
    limit = encoding.n_vocab if vocab is None else len(vocab)

    def step(positions: Sequence[int]) -> FloatArray:
        del context[fixed:]
        if vocab is not None:
            context.extend(int(vocab[position]) for position in positions)
        else:
            context.extend(positions)
        return _checked_logits(source, context, limit)

    return step, vocab


def _checked_logits(source: NextTokenSource, context: list[int], limit: int) -> FloatArray:
    """``source.next_logits(context)`` as float64, or a SourceError saying what was wrong."""
    try:
        logits = np.asarray(source.next_logits(list(context)), dtype=np.float64)
    except Exception as exc:
        raise SourceError(f"the next-token source {source!r} failed: {exc!r}") from exc
    if logits.ndim != 1 or not 0 < logits.shape[0] <= limit:
        raise SourceError(
            f"the next-token source returned logits of shape {logits.shape}; expected a 1-D "
            f"array of at most {limit} values (one per token id)"
        )
    if np.isnan(logits).any() or np.isposinf(logits).any() or np.isneginf(logits).all():
        raise SourceError("the next-token source returned NaN or +inf logits, or all -inf")
    return logits


_position_cache: dict[bytes, dict[int, int]] = {}
_POSITION_CACHE_LIMIT = 16


def _positions(vocab: NDArray[np.int64]) -> dict[int, int]:
    """Each token id's position in ``vocab``, cached per vocabulary: building the dict costs
    about a millisecond for a few thousand tokens, and every structured request needs it."""
    key = vocab.tobytes()
    cached = _position_cache.get(key)
    if cached is None:
        cached = {int(token): index for index, token in enumerate(vocab.tolist())}
        if len(_position_cache) >= _POSITION_CACHE_LIMIT:
            _position_cache.clear()
        _position_cache[key] = cached
    return cached


def make_token_stepper(
    source: NextTokenSource,
    prompt_ids: Sequence[int],
    encoding: tiktoken.Encoding,
    *,
    style: str | None = None,
) -> tuple[Stepper, NDArray[np.int64] | None]:
    """As :func:`make_stepper`, but the function takes the generated *token ids*.

    For constrained decoding, where a grammar may force tokens the source's vocabulary lacks
    (JSON punctuation the n-gram corpus never saw): such a token is passed to a ``bind``
    source as position ``-1`` (no history matches it; the n-gram model backs off past it),
    and to any other source as itself, in the context of ids.
    """
    step, vocab = make_stepper(source, prompt_ids, encoding, style=style)
    if vocab is None:
        return step, None
    if callable(getattr(source, "bind", None)):
        position_of = _positions(vocab)
        positions: list[int] = []  # the positions of ``mirrored``, the caller's list of ids
        mirrored: Sequence[int] | None = None

        def by_position(token_ids: Sequence[int]) -> FloatArray:
            # Called once a step with a reply's list of ids, one or a few longer each time;
            # another list (the next reply, the next tool call) is mapped afresh.
            nonlocal mirrored
            known = len(positions)
            if token_ids is not mirrored or len(token_ids) < known:
                mirrored = token_ids
                positions[:] = [position_of.get(int(t), -1) for t in token_ids]
            elif len(token_ids) == known + 1:  # one token more: the usual step
                positions.append(position_of.get(int(token_ids[known]), -1))
            elif len(token_ids) > known:
                positions.extend([position_of.get(int(t), -1) for t in token_ids[known:]])
            return step(positions)

        return by_position, vocab
    context = [*prompt_ids, end_of_prompt(encoding)]
    fixed = len(context)

    def by_id(token_ids: Sequence[int]) -> FloatArray:
        del context[fixed:]
        context.extend(int(token) for token in token_ids)
        return _checked_logits(source, context, len(vocab))

    return by_id, vocab


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
    encoding = get_encoding(getattr(source, "encoding_name", None) or book.model(model).encoding)
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


_corpus_models: dict[tuple[str, int, int, str], NextTokenSource] = {}
_corpus_lock = threading.Lock()


def source_for_model(book: PresetBook, model: str) -> NextTokenSource:
    """The default source for ``model``: ``offline.corpus`` when configured, else the packaged
    model, in the model's encoding (each trained once per process)."""
    from .ngram.files import default_language_model
    from .ngram.model import NGramModel

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
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, encoding)
    with _corpus_lock:
        source = _corpus_models.get(key)
        if source is None:
            source = NGramModel.from_file(path, encoding=encoding)
            _corpus_models[key] = source
    return source


def token_text(encoding: tiktoken.Encoding, token: int) -> str:
    """A token as the API shows it: its text, or ``bytes:\\xNN`` for a partial character."""
    key = (encoding.name, token)
    text = _token_texts.get(key)  # at most one entry per vocabulary id: bounded
    if text is None:
        data = encoding.decode_single_token_bytes(token)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = "bytes:" + "".join(f"\\x{byte:02x}" for byte in data)
        _token_texts[key] = text
    return text


_token_texts: dict[tuple[str, int], str] = {}
