"""The default next-token source: a small interpolated n-gram model over tokenizer ids.

Training text format (the packaged corpus under ``corpus/`` and any user corpus alike):

- plain UTF-8 text; a line ``---`` ends a document, and every document ends with the
  tokenizer's ``<|endoftext|>``, so replies end by themselves (finish_reason ``stop``);
- a line ``### NAME: words...`` starts a *section* (a style: ``code``, ``factual``...); the
  words after the colon describe the prompts it answers and help pick it;
- a file without ``---`` lines is split into documents at blank lines; a file without
  ``###`` lines is one section named ``text``.

The model (Witten-Bell interpolation, the classic smoothing for small corpora):

    P_s(w | h) = (c_s(h, w) + T_s(h) * P_s(w | h')) / (c_s(h) + T_s(h))

where ``h'`` drops the oldest token of ``h``, ``T_s(h)`` is the number of distinct tokens seen
after ``h`` in section ``s``, and the recursion ends in the section's unigram, itself
interpolated with the unigram of the whole corpus. Every token of the corpus vocabulary keeps a
non-zero probability after every context: the tail is real, so temperature and top_p visibly
change what is sampled.

Which section answers a request is decided once per request from the prompt (a naive Bayes
classifier over lower-cased prompt tokens, fed by each section's text and its header words),
with the request's use case, when the Client sends it, as a prior of :data:`STYLE_PRIOR` nats
for its section; generation then starts at a document start of that section. While the history
still reaches back to that start (the first ``order - 1`` tokens), tokens that occur in the
prompt, or whose word shares a stem with a prompt word ("reverses" / "reverse"), are
:data:`PROMPT_BOOST` times likelier (then renormalised), so "the largest item" opens
``def largest`` rather than another function. Exact ties between counts are broken by a
1e-9 nudge towards the lower token id, as a real model's logits never tie.

The model works in a compact index space (the corpus vocabulary, a few thousand ids):
``vocabulary[i]`` is the tokenizer id of position ``i`` of every logits vector it returns.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .._encodings import get_encoding
from .._errors import ConfigError

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "DEFAULT_ORDER",
    "NGramModel",
    "corpus_documents",
    "default_language_model",
    "packaged_corpus_text",
]

DEFAULT_ORDER = 5
_FORMAT = "llmpresets-ngram"
_FORMAT_VERSION = 1
_SECTION = re.compile(r"^###\s*([A-Za-z0-9_.-]+)\s*(?::(.*))?$")
_CACHE_LIMIT = 1024
_PROMPT_CACHE_LIMIT = 256
# In the first order-1 steps of a reply, a token of the prompt is this much likelier (_step).
PROMPT_BOOST = 3.0
# Head start, in nats, of the section named by the request's use case (see section_for).
STYLE_PRIOR = 3.0
# Use cases whose corpus section has another name.
_STYLE_SECTIONS = {"creative": "stories"}
# Weight of a section's header words against one occurrence in its text, for classification.
_KEYWORD_WEIGHT = 10.0

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Section:
    """One style of the corpus: its documents as tokenizer ids and its header words."""

    name: str
    keywords: str
    documents: tuple[tuple[int, ...], ...]


def corpus_documents(text: str) -> list[tuple[str, str, list[str]]]:
    """Split corpus text into ``(section, keywords, documents)`` (see the module docstring).

    >>> corpus_documents("### greet: hello\\nHi!\\n---\\nHello!\\n")
    [('greet', 'hello', ['Hi!', 'Hello!'])]
    """
    sections: list[tuple[str, str, list[str]]] = []
    name, keywords = "text", ""
    lines: list[str] = []
    chunks: list[tuple[str, str, list[str]]] = []

    def close() -> None:
        if any(line.strip() for line in lines) or chunks:
            chunks.append((name, keywords, list(lines)))

    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            close()
            lines = []
            name, keywords = header.group(1), (header.group(2) or "").strip()
            continue
        lines.append(line)
    close()
    has_separators = any(line.strip() == "---" for _, _, body in chunks for line in body)
    for section_name, section_keywords, body in chunks:
        joined = "\n".join(body)
        if has_separators:
            parts = re.split(r"(?m)^---[ \t]*$", joined)
        else:
            parts = re.split(r"\n[ \t]*\n", joined)
        documents = [part.strip("\n") for part in parts if part.strip()]
        if not documents:
            continue
        for existing in sections:
            if existing[0] == section_name:
                existing[2].extend(documents)
                break
        else:
            sections.append((section_name, section_keywords, documents))
    return sections


def packaged_corpus_text() -> str:
    """The corpus shipped with the package: one file per section, concatenated."""
    folder = resources.files(__package__ or "llmpresets.offline").joinpath("corpus")
    names = sorted(item.name for item in folder.iterdir() if item.name.endswith(".txt"))
    return "\n".join(folder.joinpath(name).read_text(encoding="utf-8") for name in names)


class NGramModel:
    """A smoothed n-gram language model over one tokenizer's ids, in sections of style.

    Train it on your own text, save it, and give it to the offline transport:

    >>> model = NGramModel.train("def add(a, b):\\n    return a + b\\n", encoding="o200k_base")
    >>> model.stats()["documents"]
    1
    >>> logits = model.next_logits(model.encoding.encode("def"))
    >>> len(logits) == len(model.vocabulary)
    True

    ``OfflineTransport(source=model)`` then answers every request from it.
    """

    def __init__(
        self,
        sections: Sequence[Section],
        *,
        encoding: str = "o200k_base",
        order: int = DEFAULT_ORDER,
    ) -> None:
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        if not sections or not any(section.documents for section in sections):
            raise ConfigError("an n-gram model needs at least one non-empty document")
        started = time.perf_counter()
        self.encoding_name = encoding
        self.encoding: tiktoken.Encoding = get_encoding(encoding)
        self.order = order
        self.sections: tuple[Section, ...] = tuple(sections)
        self.end_of_text: int = self.encoding.eot_token
        self._build()
        self.training_seconds = time.perf_counter() - started

    # ------------------------------------------------------------------ construction

    @classmethod
    def train(
        cls,
        texts: str | Iterable[str],
        *,
        encoding: str = "o200k_base",
        order: int = DEFAULT_ORDER,
    ) -> NGramModel:
        """Train on corpus text (one string, or several joined; format in the module docstring).

        >>> NGramModel.train(["### a\\nOne.\\n---\\nTwo.\\n"]).stats()["sections"]
        ['a']
        """
        text = texts if isinstance(texts, str) else "\n".join(texts)
        encoder = get_encoding(encoding)
        sections = [
            Section(
                name,
                keywords,
                tuple(tuple(encoder.encode_ordinary(document)) for document in documents),
            )
            for name, keywords, documents in corpus_documents(text)
        ]
        if not sections:
            raise ConfigError("the corpus is empty: no document to train on")
        return cls(sections, encoding=encoding, order=order)

    @classmethod
    def from_file(
        cls, path: str | Path, *, encoding: str = "o200k_base", order: int = DEFAULT_ORDER
    ) -> NGramModel:
        """A saved model (``.npz`` / ``.json``) or a corpus text file to train on."""
        path = Path(path)
        if path.suffix in (".npz", ".json"):
            return cls.load(path)
        data = _read_bytes(path, "the corpus")
        try:
            text = data.decode("utf-8")
            if "\0" in text:
                raise ValueError("it holds NUL bytes: a binary file, not text")
        except ValueError as exc:  # UnicodeDecodeError too
            reason = getattr(exc, "reason", exc)
            at = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
            problem = f"{path}: not a UTF-8 text corpus ({reason}{at})"
            raise ConfigError(problem, file=str(path)) from None
        try:
            return cls.train(text, encoding=encoding, order=order)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.message}", file=str(path)) from None

    def _build(self) -> None:
        eot = self.end_of_text
        ids: set[int] = {eot}
        for section in self.sections:
            for document in section.documents:
                ids.update(document)
        self.vocabulary: NDArray[np.int64] = np.array(sorted(ids), dtype=np.int64)
        self.vocabulary.setflags(write=False)
        self._position = {int(token): index for index, token in enumerate(self.vocabulary)}
        self._eot_position = self._position[eot]
        size = len(self.vocabulary)
        pad = (self._eot_position,) * (self.order - 1)

        global_counts = np.zeros(size)
        # _tables[s][n]: history of n positions -> {next position: count}
        self._tables: list[list[dict[tuple[int, ...], dict[int, int]]]] = []
        self._section_unigram: list[FloatArray] = []
        section_counts: list[FloatArray] = []
        for section in self.sections:
            tables: list[dict[tuple[int, ...], dict[int, int]]] = [{} for _ in range(self.order)]
            counts = np.zeros(size)
            for document in section.documents:
                positions = [*pad, *(self._position[token] for token in document)]
                positions.append(self._eot_position)
                for index in range(len(pad), len(positions)):
                    target = positions[index]
                    counts[target] += 1
                    for n in range(1, self.order):
                        history = tuple(positions[index - n : index])
                        row = tables[n].setdefault(history, {})
                        row[target] = row.get(target, 0) + 1
            self._tables.append(tables)
            section_counts.append(counts)
            global_counts += counts
        self._global_unigram: FloatArray = global_counts / global_counts.sum()
        for counts in section_counts:
            types = float(np.count_nonzero(counts))
            self._section_unigram.append(
                (counts + types * self._global_unigram) / (counts.sum() + types)
            )
        self._classifier = self._build_classifier()
        self._stem_index = self._build_stems()
        self._tie_break: FloatArray = np.arange(size, dtype=np.float64) * (1e-9 / size)
        self._cache: dict[tuple[int, tuple[int, ...]], FloatArray] = {}
        self._prompts: dict[tuple[object, ...], tuple[int, FloatArray | None]] = {}
        self._lock = threading.Lock()

    def _build_classifier(self) -> tuple[dict[int, int], FloatArray] | None:
        """Per section, log P(lower-cased token | section), for picking a section."""
        if len(self.sections) < 2:
            return None
        per_section: list[dict[int, float]] = []
        for section in self.sections:
            counts: dict[int, float] = {}
            text = "\n".join(self.encoding.decode(list(doc)) for doc in section.documents)
            for token in self.encoding.encode_ordinary(text.lower()):
                counts[token] = counts.get(token, 0.0) + 1.0
            for word in section.keywords.replace(",", " ").lower().split():
                for token in self.encoding.encode_ordinary(" " + word):
                    counts[token] = counts.get(token, 0.0) + _KEYWORD_WEIGHT
            per_section.append(counts)
        index = {token: i for i, token in enumerate(sorted(set().union(*per_section)))}
        table = np.full((len(self.sections), len(index)), 0.5)
        for row, counts in enumerate(per_section):
            for token, count in counts.items():
                table[row, index[token]] += count
        table = np.log(table / table.sum(axis=1, keepdims=True))
        return index, table

    # ------------------------------------------------------------------ querying

    def section_for(self, prompt_ids: Sequence[int], style: str | None = None) -> int:
        """The index of the section whose style best matches the prompt (0 when no signal).

        ``style``, a use case such as ``"code"``, is a prior: its section (``creative`` is the
        ``stories`` section) gets a head start of :data:`STYLE_PRIOR` nats, enough to settle an
        ambiguous prompt, not enough to turn "Ideas for a party" into Python.

        >>> model = default_language_model()
        >>> enc = model.encoding
        >>> model.sections[model.section_for(enc.encode("Write a Python function"))].name
        'code'
        >>> model.sections[model.section_for(enc.encode("Is 7 prime?"), style="code")].name
        'code'
        """
        wanted = _STYLE_SECTIONS.get(style, style) if style is not None else None
        hinted = [i for i, section in enumerate(self.sections) if section.name == wanted]
        if self._classifier is None or not prompt_ids:
            return hinted[0] if hinted else 0
        index, table = self._classifier
        text = self.encoding.decode(list(prompt_ids)).lower()
        columns = [index[token] for token in self.encoding.encode_ordinary(text) if token in index]
        if not columns:
            return hinted[0] if hinted else 0
        scores = table[:, columns].sum(axis=1)
        if hinted:
            scores[hinted[0]] += STYLE_PRIOR
        return int(np.argmax(scores))

    def _logits(self, section: int, positions: Sequence[int]) -> FloatArray:
        """Log-probabilities after the history ``positions`` (compact ids) in ``section``."""
        tables = self._tables[section]
        start = max(0, len(positions) - self.order + 1)
        history = tuple(positions[start:]) if self.order > 1 else ()
        if len(history) < self.order - 1:
            history = (self._eot_position,) * (self.order - 1 - len(history)) + history
        longest = 0
        for n in range(len(history), 0, -1):
            if history[len(history) - n :] in tables[n]:
                longest = n
                break
        key = (section, history[len(history) - longest :] if longest else ())
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        probabilities = self._section_unigram[section].copy()
        for n in range(1, longest + 1):
            row = tables[n][history[len(history) - n :]]
            total = float(sum(row.values()))
            types = float(len(row))
            probabilities *= types / (total + types)
            targets = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
            counts = np.fromiter(row.values(), dtype=np.float64, count=len(row))
            probabilities[targets] += counts / (total + types)
        # Real models never tie exactly; counts do. A 1e-9 nudge towards the lower position
        # makes greedy-ish settings pick one continuation instead of a coin flip.
        logits: FloatArray = np.log(probabilities) - self._tie_break
        logits.setflags(write=False)
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = logits
        return logits

    def _positions(self, token_ids: Iterable[int]) -> list[int]:
        # A token outside the corpus vocabulary matches no history: the model backs off.
        return [self._position.get(int(token), -1) for token in token_ids]

    def _prompt_boost(self, prompt_ids: Sequence[int]) -> FloatArray | None:
        """Per vocabulary position, the factor an opening token gets for being in the prompt.

        A token counts when it is one of the prompt's tokens, or when its word shares a stem with
        a prompt word (one a prefix of the other, 4+ letters): "reverses" favours "reverse".
        """
        positions = {
            position
            for position in self._positions(prompt_ids)
            if position >= 0 and position != self._eot_position
        }
        words = {
            word
            for word in re.findall(r"[a-z]{4,}", self.encoding.decode(list(prompt_ids)).lower())
        }
        for word in words:
            for position, stem in self._stem_index.get(word[:4], ()):
                if word.startswith(stem) or stem.startswith(word):
                    positions.add(position)
        positions.discard(self._eot_position)
        if not positions:
            return None
        boost: FloatArray = np.ones(len(self.vocabulary))
        boost[sorted(positions)] = PROMPT_BOOST
        return boost

    def _build_stems(self) -> dict[str, list[tuple[int, str]]]:
        """Vocabulary words of 4+ letters as (position, lower-case word), by their first 4."""
        stems: dict[str, list[tuple[int, str]]] = {}
        for position, token in enumerate(self.vocabulary):
            raw = self.encoding.decode_single_token_bytes(int(token))
            word = raw.decode("utf-8", "replace").strip(" _\n\t").lower()
            if len(word) >= 4 and word.isalpha():
                stems.setdefault(word[:4], []).append((position, word))
        return stems

    def _step(self, section: int, boost: FloatArray | None, generated: Sequence[int]) -> FloatArray:
        logits = self._logits(section, generated)
        if boost is None or len(generated) >= self.order - 1:
            return logits
        # The reply's opening still sees the document start: among the continuations the model
        # finds plausible, favour the prompt's own words (a product of the two, renormalised).
        weights = np.exp(logits) * boost
        mixed: FloatArray = np.log(weights / weights.sum())
        return mixed

    def bind(
        self, prompt_ids: Sequence[int], style: str | None = None
    ) -> Callable[[Sequence[int]], FloatArray]:
        """Fast path for generation: read the prompt once; then logits from positions.

        The returned function takes the *positions* (indices into :attr:`vocabulary`) of all
        the tokens generated so far and returns the next logits. ``style`` is as for
        :meth:`section_for`.
        """
        key = (style, *prompt_ids)
        reading = self._prompts.get(key)
        if reading is None:
            reading = (self.section_for(prompt_ids, style), self._prompt_boost(prompt_ids))
            with self._lock:
                if len(self._prompts) >= _PROMPT_CACHE_LIMIT:
                    self._prompts.clear()
                self._prompts[key] = reading
        section, boost = reading

        def step(generated_positions: Sequence[int]) -> FloatArray:
            return self._step(section, boost, generated_positions)

        return step

    def next_logits(self, context_ids: Sequence[int]) -> FloatArray:
        """Logits over :attr:`vocabulary` after ``context_ids`` (the source protocol).

        The context is the prompt's tokenizer ids, then ``<|endofprompt|>``, then the ids
        generated so far; without ``<|endofprompt|>`` the whole context counts as generated
        and the first section is used.
        """
        context = list(context_ids)
        marker = _end_of_prompt(self.encoding)
        if marker in context:
            cut = len(context) - 1 - context[::-1].index(marker)
            prompt_ids, generated = context[:cut], context[cut + 1 :]
        else:
            prompt_ids, generated = [], context
        section = self.section_for(prompt_ids)
        return self._step(section, self._prompt_boost(prompt_ids), self._positions(generated))

    # ------------------------------------------------------------------ reporting, files

    def stats(self) -> dict[str, Any]:
        """Sizes of the model: tokens, vocabulary, n-gram histories, training time."""
        tokens = sum(len(doc) for section in self.sections for doc in section.documents)
        histories = {
            f"{n + 1}-gram contexts": sum(len(tables[n]) for tables in self._tables)
            for n in range(1, self.order)
        }
        return {
            "encoding": self.encoding_name,
            "order": self.order,
            "sections": [section.name for section in self.sections],
            "documents": sum(len(section.documents) for section in self.sections),
            "tokens": tokens,
            "vocabulary": len(self.vocabulary),
            **histories,
            "training_seconds": round(self.training_seconds, 4),
        }

    def save(self, path: str | Path) -> Path:
        """Write the model to ``.npz`` (compact) or ``.json``; :meth:`load` reads it back.

        The file holds the tokenized corpus and settings; loading rebuilds the counts.
        """
        path = Path(path)
        meta = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "encoding": self.encoding_name,
            "order": self.order,
            "sections": [
                {"name": section.name, "keywords": section.keywords} for section in self.sections
            ],
        }
        if path.suffix == ".json":
            meta["documents"] = [
                [list(doc) for doc in section.documents] for section in self.sections
            ]
            path.write_text(json.dumps(meta), encoding="utf-8")
        elif path.suffix == ".npz":
            arrays: dict[str, Any] = {"meta": np.array(json.dumps(meta))}
            for number, section in enumerate(self.sections):
                flat = [token for doc in section.documents for token in (*doc, -1)]
                arrays[f"section_{number}"] = np.array(flat, dtype=np.int64)
            with path.open("wb") as handle:
                np.savez_compressed(handle, **arrays)
        else:
            raise ConfigError(f"{path}: a model file must end in .npz or .json", file=str(path))
        return path

    @classmethod
    def load(cls, path: str | Path) -> NGramModel:
        """Read a model written by :meth:`save`; a bad file is a ConfigError naming it."""
        path = Path(path)
        where = str(path)
        if path.suffix not in (".npz", ".json"):
            raise ConfigError(f"{where}: a model file must end in .npz or .json", file=where)
        data = _read_bytes(path, "the model file")
        try:
            if path.suffix == ".json":
                meta = json.loads(data.decode("utf-8"))
                documents = meta.get("documents") if isinstance(meta, dict) else None
            else:
                if not data.startswith(b"PK"):  # else np.load would try it as a pickle
                    raise ValueError("not a zip archive, as an .npz file is")
                with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                    meta = json.loads(str(archive["meta"]))
                    documents = []
                    for number in range(len(meta.get("sections", []))):
                        flat = archive[f"section_{number}"].tolist()
                        docs: list[list[int]] = []
                        current: list[int] = []
                        for token in flat:
                            if token == -1:
                                docs.append(current)
                                current = []
                            else:
                                current.append(token)
                        documents.append(docs)
        except (*_CORRUPT, *_CORRUPT_ZIP) as exc:
            raise ConfigError(
                f"{where}: not a readable llmpresets model file ({type(exc).__name__}: {exc}); "
                "create one with `llmpresets train CORPUS.txt --output model.npz`",
                file=where,
            ) from exc
        return cls._from_meta(meta, documents, where)

    @classmethod
    def _from_meta(cls, meta: Any, documents: Any, where: str) -> NGramModel:
        def bad(problem: str) -> ConfigError:
            return ConfigError(
                f"{where}: not a valid llmpresets model file: {problem}; create one with "
                "`llmpresets train CORPUS.txt --output model.npz`",
                file=where,
            )

        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise bad(f"'format' is not {_FORMAT!r}")
        if meta.get("version") != _FORMAT_VERSION:
            raise bad(f"version {meta.get('version')!r} is not supported (expected 1)")
        encoding, order = meta.get("encoding"), meta.get("order")
        if not isinstance(encoding, str) or not isinstance(order, int) or order < 1:
            raise bad("'encoding' must be a string and 'order' an integer >= 1")
        section_meta = meta.get("sections")
        if (
            not isinstance(section_meta, list)
            or not isinstance(documents, list)
            or len(documents) != len(section_meta)
        ):
            raise bad("'sections' and the documents do not match")
        n_vocab = get_encoding(encoding).n_vocab
        sections = []
        for info, docs in zip(section_meta, documents, strict=True):
            if not isinstance(info, dict) or not isinstance(docs, list):
                raise bad("a section is malformed")
            for doc in docs:
                if not isinstance(doc, list) or not all(
                    isinstance(token, int) and 0 <= token < n_vocab for token in doc
                ):
                    raise bad(f"a document holds something other than {encoding} token ids")
            sections.append(
                Section(
                    str(info.get("name", "text")),
                    str(info.get("keywords", "")),
                    tuple(tuple(doc) for doc in docs),
                )
            )
        return cls(sections, encoding=encoding, order=order)


# Every way a damaged model file fails to parse (bad JSON or UTF-8 are ValueErrors).
_CORRUPT = (ValueError, LookupError, TypeError, AttributeError, EOFError, RecursionError, OSError)
_CORRUPT_ZIP = (zipfile.BadZipFile, zlib.error)


def _read_bytes(path: Path, what: str) -> bytes:
    """The bytes of a user's file; missing, a directory, unreadable or empty: a ConfigError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, IsADirectoryError) or path.is_dir():
            reason = "it is a directory, not a file"
        raise ConfigError(f"{path}: cannot read {what}: {reason.lower()}", file=str(path)) from None
    if not data:
        raise ConfigError(f"{path}: {what} is empty (0 bytes)", file=str(path))
    return data


def _end_of_prompt(encoding: tiktoken.Encoding) -> int:
    return int(encoding.encode_single_token("<|endofprompt|>"))


_default_models: dict[tuple[str, int], NGramModel] = {}
_default_lock = threading.Lock()


def default_language_model(
    encoding_name: str = "o200k_base", *, order: int = DEFAULT_ORDER
) -> NGramModel:
    """The packaged-corpus model for one encoding, trained on first use, once per process.

    >>> model = default_language_model("o200k_base")
    >>> sorted(model.stats()["sections"])
    ['brainstorm', 'chat', 'code', 'factual', 'stories']
    """
    key = (encoding_name, order)
    model = _default_models.get(key)
    if model is not None:
        return model
    with _default_lock:
        model = _default_models.get(key)
        if model is None:
            model = NGramModel.train(packaged_corpus_text(), encoding=encoding_name, order=order)
            _default_models[key] = model
    return model
