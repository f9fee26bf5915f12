"""The default next-token source: a small interpolated n-gram model over tokenizer ids.

The model (Witten-Bell interpolation, the classic smoothing for small corpora):

    P_s(w | h) = (c_s(h, w) + T_s(h) * P_s(w | h')) / (c_s(h) + T_s(h))

where ``h'`` drops the oldest token of ``h``, ``T_s(h)`` is the number of distinct tokens seen
after ``h`` in section ``s``, and the recursion ends in the section's unigram, itself
interpolated with the unigram of the whole corpus. Every token of the corpus vocabulary keeps a
non-zero probability after every context: the tail is real, so temperature and top_p visibly
change what is sampled. (The corpus format is in :mod:`llmpresets.offline.lm.corpus`; counting
a corpus into tables in :mod:`.tables`; the tables as the model reads them in :mod:`.view`;
model files and the on-disk cache in :mod:`.files`.)

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

Speed: training leaves, per section and history length, the counts in compressed-row form
(each history's interpolation weight and its scaled counts, ready to add), so the logits of a
context not seen before cost a few vector operations; logits already computed are kept in a
cache bounded by :data:`CACHE_BYTES` and returned read-only, so the sampler can keep their
filtered distributions too (see :class:`llmpresets.sampling.Sampler`). Most steps at a chat-like
preset need no logits at all: when top_p can leave only one token, the bound prompt's shortcut
finds it from the history's few observed continuations (:mod:`.fast`), which is exactly the
token the sampler would draw without a random number. The shortcut is pure speed behind one
switch, :attr:`NGramModel.fast`: turned off, every step is sampled from its logits, and seeded
replies are the same.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...._cache import BoundedCache
from ...._errors import ConfigError
from ....tokens.encodings import get_encoding
from ..corpus import Section
from ..protocol import Shortcut, SourceBase, Stepper
from .fast.settler import Settler
from .files import SavedModel, read_corpus, read_model_file, write_model_file
from .tables import Arrays, Table, derive_arrays, tokenized_sections
from .view import NGramView, Reading

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "CACHE_BYTES",
    "DEFAULT_ORDER",
    "OPENING_BYTES",
    "PROMPT_BOOST",
    "READING_BYTES",
    "STYLE_PRIOR",
    "BoundPrompt",
    "NGramModel",
]

DEFAULT_ORDER = 5
# Logits kept per model (1,792 float64 each for the packaged corpus: about 3,500 contexts,
# more than 300 replies of 64 tokens at temperature 1 visit).
CACHE_BYTES = 48 << 20
# Boosted logits of replies' opening steps, kept per prompt for the next request (a prompt's
# replies open a few to a few dozen ways: 16 MB holds about 1,100 of the packaged model's).
OPENING_BYTES = 16 << 20
# Prompts read (their section and boosted positions; ~40 bytes a prompt token, and the dense
# boost factors, ~14 KB on the packaged model): about 256 prompts, as before the byte budget.
# More would keep more objects alive for the garbage collector to traverse, which a varied
# suite pays for in full collections (benchmarks/bench_suite.py).
READING_BYTES = 4 << 20
# Histories whose suffix-match key is remembered (see _logits): 65,536 of ~200 bytes.
_SUFFIX_KEY_BYTES = (1 << 16) * 200
# In the first order-1 steps of a reply, a token of the prompt is this much likelier (_step).
PROMPT_BOOST = 3.0
# Head start, in nats, of the section named by the request's use case (see section_for).
STYLE_PRIOR = 3.0
# Use cases whose corpus section has another name.
_STYLE_SECTIONS = {"creative": "stories"}

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _boost_factors(boosted: Sequence[int], size: int) -> FloatArray | None:
    """:data:`PROMPT_BOOST` at the ``boosted`` positions, 1 elsewhere (None: nothing boosted)."""
    if not boosted:
        return None
    boost: FloatArray = np.ones(size)
    boost[list(boosted)] = PROMPT_BOOST
    return boost


class NGramModel(SourceBase):
    """A smoothed n-gram language model over one tokenizer's ids, in sections of style.

    Train it on your own text, save it, and give it to the offline transport:

    >>> model = NGramModel.train("def add(a, b):\\n    return a + b\\n", encoding="o200k_base")
    >>> model.stats()["documents"]
    1
    >>> logits = model.next_logits(model.encoding.encode("def"))
    >>> len(logits) == len(model.vocabulary)
    True

    ``OfflineTransport(source=model)`` then answers every request from it.

    ``fast`` (default True) switches the shortcut that settles steps without their logits
    (:mod:`llmpresets.offline.lm.ngram.fast`); off, every step is sampled from its logits, to
    the same replies, slower. It can be flipped at any time (``model.fast = False``).
    """

    vocabulary: IntArray  # the tokenizer id of each position of the logits
    encoding_name: str

    def __init__(
        self,
        sections: Sequence[Section],
        *,
        encoding: str = "o200k_base",
        order: int = DEFAULT_ORDER,
        arrays: Arrays | None = None,
        fast: bool = True,
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
        # The switch of the shortcut past the logits (see BoundPrompt.shortcut): off, every
        # step is sampled from its logits, to the same replies, slower.
        self.fast = fast
        # ``arrays``: what training derives (see derived_arrays), e.g. read back from the cache.
        self._install(arrays if arrays is not None else self._derive())
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
        """Train on corpus text (one string, or several joined; format in
        :mod:`llmpresets.offline.lm.corpus`).

        >>> NGramModel.train(["### a\\nOne.\\n---\\nTwo.\\n"]).stats()["sections"]
        ['a']
        """
        text = texts if isinstance(texts, str) else "\n".join(texts)
        return cls(tokenized_sections(text, encoding), encoding=encoding, order=order)

    @classmethod
    def from_file(
        cls, path: str | Path, *, encoding: str = "o200k_base", order: int = DEFAULT_ORDER
    ) -> NGramModel:
        """A saved model (``.npz`` / ``.json``) or a corpus text file to train on."""
        path = Path(path)
        if path.suffix in (".npz", ".json"):
            return cls.load(path)
        text = read_corpus(path)
        try:
            return cls.train(text, encoding=encoding, order=order)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.message}", file=str(path)) from None

    def save(self, path: str | Path) -> Path:
        """Write the model to ``.npz`` (compact) or ``.json``; :meth:`load` reads it back.

        The file holds the tokenized corpus and settings; loading rebuilds the counts.
        """
        return write_model_file(
            Path(path), SavedModel(self.encoding_name, self.order, self.sections)
        )

    @classmethod
    def load(cls, path: str | Path) -> NGramModel:
        """Read a model written by :meth:`save`; a bad file is a ConfigError naming it."""
        saved = read_model_file(Path(path))
        return cls(saved.sections, encoding=saved.encoding, order=saved.order)

    def derived_arrays(self) -> Arrays:
        """What training computed from the counts, as plain arrays (for the on-disk cache)."""
        return dict(self.view.arrays)

    def _derive(self) -> Arrays:
        """Count the corpus and derive every table the model reads (the training proper)."""
        return derive_arrays(self.sections, self.encoding, self.order)

    def _install(self, arrays: Arrays) -> None:
        """Set the model up from derived arrays (fresh from training or from the cache)."""
        vocabulary: IntArray = arrays["vocabulary"]
        vocabulary.setflags(write=False)
        self.vocabulary = vocabulary
        self._vocabulary_ids: list[int] = vocabulary.tolist()
        self._position = dict(zip(self._vocabulary_ids, range(len(vocabulary)), strict=True))
        self._eot_position = self._position[self.end_of_text]
        # What the logits and the shortcut both read: the tables, the suffix match.
        self.view = NGramView(arrays, len(self.sections), self.order, self._eot_position)
        self._classifier: tuple[dict[int, int], FloatArray] | None = None
        if "classifier_tokens" in arrays:
            tokens = arrays["classifier_tokens"].tolist()
            index = dict(zip(tokens, range(len(tokens)), strict=True))
            self._classifier = (index, arrays["classifier_table"])
        self._stem_index = self._build_stems()
        # The logits of each matched history, (section, length, code) -> read-only logits.
        self._logits_cache: BoundedCache[tuple[int, int, int], FloatArray] = BoundedCache(
            "lm n-gram logits", CACHE_BYTES
        )
        # A history's last ``order - 1`` positions -> its key in the logits cache: match walks
        # the suffixes in Python, and a constrained reply asks for the same histories again
        # and again (a cached step needs the logits' identity, not their values).
        self._suffix_keys: BoundedCache[tuple[int, ...], tuple[int, int, int]] = BoundedCache(
            "lm n-gram suffix keys", _SUFFIX_KEY_BYTES
        )
        self._readings: BoundedCache[tuple[object, ...], Reading] = BoundedCache(
            "lm n-gram prompt readings", READING_BYTES
        )
        self._reading_serials = itertools.count()
        # (reading serial, *generated positions) -> the opening step's boosted logits.
        self._openings: BoundedCache[tuple[int, ...], FloatArray] = BoundedCache(
            "lm n-gram opening logits", OPENING_BYTES
        )
        # Steps drawn from their history's support, past the logits (see .fast).
        self.settler = Settler(self.view, len(self.sections), PROMPT_BOOST)

    # ------------------------------------------------------------------ querying

    def section_for(self, prompt_ids: Sequence[int], style: str | None = None) -> int:
        """The index of the section whose style best matches the prompt (0 when no signal).

        ``style``, a use case such as ``"code"``, is a prior: its section (``creative`` is the
        ``stories`` section) gets a head start of :data:`STYLE_PRIOR` nats, enough to settle an
        ambiguous prompt, not enough to turn "Ideas for a party" into Python.

        >>> from llmpresets.offline import default_language_model
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
        width = self.order - 1
        tail = (section, *positions[-width:]) if len(positions) >= width else None
        key = self._suffix_keys.peek(tail) if tail is not None else None
        matched = None
        if key is None:
            matched = self.view.match(section, positions)
            _, codes, longest = matched
            key = (section, longest, codes[longest])
            if tail is not None:
                self._suffix_keys.put(tail, key, nbytes=200)
        cached = self._logits_cache.peek(key)  # oldest-inserted forgotten first, as before
        if cached is not None:
            return cached
        tables, codes, longest = matched or self.view.match(section, positions)
        logits = self._dense(section, tables, codes, longest)
        logits.setflags(write=False)
        self._logits_cache.put(key, logits, nbytes=logits.nbytes)
        return logits

    def _dense(
        self, section: int, tables: list[Table | None], codes: list[int], longest: int
    ) -> FloatArray:
        """The logits over the whole vocabulary after a matched history (the interpolation)."""
        probabilities = self.view.unigrams[section].copy()
        for n in range(1, longest + 1):
            table = tables[n]
            assert table is not None
            row = table.index[codes[n]]
            probabilities *= table.lambdas[row]
            begin, end = table.offsets[row], table.offsets[row + 1]
            probabilities[table.targets[begin:end]] += table.scaled[begin:end]
        # Real models never tie exactly; counts do (see NGramView.tie_break).
        logits: FloatArray = np.log(probabilities)
        np.subtract(logits, self.view.tie_break, out=logits)
        return logits

    def _positions(self, token_ids: Iterable[int]) -> list[int]:
        # A token outside the corpus vocabulary matches no history: the model backs off.
        return [self._position.get(int(token), -1) for token in token_ids]

    def _boosted(self, prompt_ids: Sequence[int]) -> list[int]:
        """The positions an opening favours, ascending: the prompt's own tokens and words.

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
        return sorted(positions)

    def _build_stems(self) -> dict[str, list[tuple[int, str]]]:
        """Vocabulary words of 4+ letters as (position, lower-case word), by their first 4."""
        stems: dict[str, list[tuple[int, str]]] = {}
        decode = self.encoding.decode_single_token_bytes
        for position, token in enumerate(self.vocabulary.tolist()):
            word = decode(token).decode("utf-8", "replace").strip(" _\n\t").lower()
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

    def _opening(self, reading: Reading, generated: Sequence[int]) -> FloatArray:
        """:meth:`_step` for a reply's opening, kept per prompt (read-only) for the next reply."""
        key = (reading.serial, *generated)
        logits = self._openings.get(key)
        if logits is None:
            if reading.factors is None:
                reading.factors = _boost_factors(reading.boosted, self.view.size)
            logits = self._step(reading.section, reading.factors, generated)
            logits.setflags(write=False)
            self._openings.put(key, logits, nbytes=logits.nbytes)
        return logits

    def bind(self, prompt_ids: Sequence[int], style: str | None = None) -> BoundPrompt:
        """Fast path for generation: read the prompt once; then logits from positions.

        The returned :class:`BoundPrompt` takes the *positions* (indices into
        :attr:`vocabulary`) of all the tokens generated so far and returns the next logits
        (read-only arrays, which the model may hand out again). ``style`` is as for
        :meth:`section_for`.
        """
        key = (style, *prompt_ids)
        reading = self._readings.get(key)
        if reading is None:
            boosted = self._boosted(prompt_ids)
            serial = next(self._reading_serials)
            reading = Reading(self.section_for(prompt_ids, style), boosted, serial)
            factors = 8 * self.view.size if boosted else 0  # made when an opening needs them
            nbytes = 400 + 40 * (len(key) + len(boosted)) + factors
            self._readings.put(key, reading, nbytes=nbytes)
        return BoundPrompt(self, reading)

    def next_logits(self, context_ids: Sequence[int]) -> FloatArray:
        """Logits over :attr:`vocabulary` after ``context_ids`` (the source protocol).

        The context is the prompt's tokenizer ids, then ``<|endofprompt|>``, then the ids
        generated so far; without ``<|endofprompt|>`` the whole context counts as generated
        and the first section is used.
        """
        context = list(context_ids)
        marker = int(self.encoding.encode_single_token("<|endofprompt|>"))
        if marker in context:
            cut = len(context) - 1 - context[::-1].index(marker)
            prompt_ids, generated = context[:cut], context[cut + 1 :]
        else:
            prompt_ids, generated = [], context
        section = self.section_for(prompt_ids)
        boost = _boost_factors(self._boosted(prompt_ids), len(self.vocabulary))
        return self._step(section, boost, self._positions(generated))

    # ------------------------------------------------------------------ reporting

    def stats(self) -> dict[str, Any]:
        """Sizes of the model: tokens, vocabulary, n-gram histories, training time."""
        tokens = sum(len(doc) for section in self.sections for doc in section.documents)
        histories = {
            f"{n + 1}-gram contexts": sum(
                len(table.index)
                for section in range(len(self.sections))
                if (table := self.view.tables(section)[n]) is not None
            )
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


class BoundPrompt(Stepper):
    """:meth:`NGramModel.bind`'s step function for one prompt, and its shortcut."""

    __slots__ = ("_model", "_opening", "_reading")

    def __init__(self, model: NGramModel, reading: Reading) -> None:
        self._model = model
        self._reading = reading
        self._opening = model.order - 1 if reading.boosted else 0

    @property
    def token_ids(self) -> list[int]:
        """The tokenizer id of each position (the model's vocabulary, as a list)."""
        return self._model._vocabulary_ids

    def __call__(self, generated_positions: Sequence[int]) -> FloatArray:
        """The next logits after the positions generated so far (read-only)."""
        if len(generated_positions) < self._opening:
            return self._model._opening(self._reading, generated_positions)
        return self._model._logits(self._reading.section, generated_positions)

    def shortcut(
        self,
        *,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        min_p: float | None,
        exclude: int | None = None,
    ) -> Shortcut | None:
        """The shortcut past the logits (:mod:`.fast`) for these settings, or None: the
        model's :attr:`~NGramModel.fast` switch is off, or the settings are not ones it handles
        (it handles top_p alone, or no filter). Replies are the same either way.
        """
        if not self._model.fast:
            return None
        return self._model.settler.shortcut(
            self._reading,
            self._opening,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            min_p=min_p,
            exclude=exclude,
        )
