"""The n-gram model's training: counting a corpus into compressed-row tables, and back.

:func:`derive_arrays` is the training proper (the arrays the on-disk cache stores);
:func:`expand_table` turns one table's arrays into the lookups the model reads at run time.
The model is :mod:`.model`; how it reads these tables (the suffix match) is :mod:`.view`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...._errors import ConfigError
from ....tokens.encodings import get_encoding
from ..corpus import Section, corpus_documents

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "Arrays",
    "Table",
    "derive_arrays",
    "expand_table",
    "history_codes",
    "tokenized_sections",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Arrays = dict[str, NDArray[Any]]

# Weight of a section's header words against one occurrence in its text, for classification.
_KEYWORD_WEIGHT = 10.0


@dataclass(frozen=True)
class Table:
    """One section's histories of one length: history -> row, the rows in compressed form.

    Row ``r`` holds ``lambdas[r]`` = T(h) / (c(h) + T(h)) and, for ``i`` in
    ``offsets[r]:offsets[r + 1]``, ``scaled[i]`` = c(h, w) / (c(h) + T(h)) for ``w = targets[i]``.
    """

    index: dict[int, int]  # a history's code (see NGramView.match) -> its row
    lambdas: list[float]
    offsets: list[int]
    targets: IntArray
    scaled: FloatArray


def derive_arrays(sections: Sequence[Section], encoding: tiktoken.Encoding, order: int) -> Arrays:
    """Count the corpus and derive every table the model reads (the training proper)."""
    eot = encoding.eot_token
    ids: set[int] = {eot}
    for section in sections:
        for document in section.documents:
            ids.update(document)
    vocabulary = np.array(sorted(ids), dtype=np.int64)
    position_of = {int(token): index for index, token in enumerate(vocabulary)}
    eot_position = position_of[eot]
    size = len(vocabulary)
    pad = (eot_position,) * (order - 1)
    arrays: Arrays = {"vocabulary": vocabulary}

    global_counts = np.zeros(size)
    section_counts: list[FloatArray] = []
    for number, section in enumerate(sections):
        # tables[n]: history of n positions -> {next position: count}
        tables: list[dict[tuple[int, ...], dict[int, int]]] = [{} for _ in range(order)]
        counts = np.zeros(size)
        for document in section.documents:
            positions = [*pad, *(position_of[token] for token in document)]
            positions.append(eot_position)
            for index in range(len(pad), len(positions)):
                target = positions[index]
                counts[target] += 1
                for n in range(1, order):
                    history = tuple(positions[index - n : index])
                    row = tables[n].setdefault(history, {})
                    row[target] = row.get(target, 0) + 1
        for n in range(1, order):
            arrays.update(_compress(tables[n], n, f"s{number}n{n}"))
        section_counts.append(counts)
        global_counts += counts
    global_unigram = global_counts / global_counts.sum()
    unigrams = []
    for counts in section_counts:
        types = float(np.count_nonzero(counts))
        unigrams.append((counts + types * global_unigram) / (counts.sum() + types))
    arrays["unigrams"] = np.array(unigrams)
    classifier = _classifier(sections, encoding)
    if classifier is not None:
        arrays["classifier_tokens"], arrays["classifier_table"] = classifier
    return arrays


def _classifier(
    sections: Sequence[Section], encoding: tiktoken.Encoding
) -> tuple[IntArray, FloatArray] | None:
    """Per section, log P(lower-cased token | section), for picking a section."""
    if len(sections) < 2:
        return None
    per_section: list[dict[int, float]] = []
    for section in sections:
        counts: dict[int, float] = {}
        text = "\n".join(encoding.decode(list(doc)) for doc in section.documents)
        for token in encoding.encode_ordinary(text.lower()):
            counts[token] = counts.get(token, 0.0) + 1.0
        for word in section.keywords.replace(",", " ").lower().split():
            for token in encoding.encode_ordinary(" " + word):
                counts[token] = counts.get(token, 0.0) + _KEYWORD_WEIGHT
        per_section.append(counts)
    tokens = sorted(set().union(*per_section))
    index = {token: i for i, token in enumerate(tokens)}
    table = np.full((len(sections), len(index)), 0.5)
    for row, counts in enumerate(per_section):
        for token, count in counts.items():
            table[row, index[token]] += count
    table = np.log(table / table.sum(axis=1, keepdims=True))
    return np.array(tokens, dtype=np.int64), table


def tokenized_sections(text: str, encoding: str) -> list[Section]:
    """The corpus text's sections, each document as the encoding's token ids."""
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
    return sections


def _compress(rows: dict[tuple[int, ...], dict[int, int]], n: int, prefix: str) -> Arrays:
    """One table of counts in compressed-row form, with each row's interpolation weights.

    The same floating-point operations, element by element, as interpolating from the counts
    directly: ``types / (total + types)`` and ``count / (total + types)``.
    """
    lengths = [len(row) for row in rows.values()]
    targets = [target for row in rows.values() for target in row]
    counts = np.array([count for row in rows.values() for count in row.values()], dtype=np.float64)
    totals = np.array([float(sum(row.values())) for row in rows.values()])
    types = np.array(lengths, dtype=np.float64)
    denominators = totals + types
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return {
        f"{prefix}_histories": np.array(list(rows), dtype=np.int64).reshape(len(rows), n),
        f"{prefix}_lambdas": types / denominators,
        f"{prefix}_offsets": offsets,
        f"{prefix}_targets": np.array(targets, dtype=np.int64),
        f"{prefix}_scaled": counts / np.repeat(denominators, lengths),
    }


def history_codes(histories: IntArray, size: int) -> IntArray:
    """Each row of ``histories`` (positions, oldest first) as one int: the positions as
    digits in base ``size``. The key of :attr:`Table.index` (``NGramView.match`` computes
    the same code for one history)."""
    codes = np.zeros(len(histories), dtype=np.int64)
    for column in range(histories.shape[1]):
        codes = codes * size + histories[:, column]
    return codes


def expand_table(arrays: Arrays, prefix: str, n: int, size: int) -> Table:
    """One table's arrays as the model reads them; histories keyed by :func:`history_codes`."""
    codes = history_codes(arrays[f"{prefix}_histories"].reshape(-1, n), size)
    return Table(
        index=dict(zip(codes.tolist(), range(len(codes)), strict=True)),
        lambdas=arrays[f"{prefix}_lambdas"].tolist(),
        offsets=arrays[f"{prefix}_offsets"].tolist(),
        targets=arrays[f"{prefix}_targets"],
        scaled=arrays[f"{prefix}_scaled"],
    )
