"""N-gram model files: what a saved model and the on-disk cache hold, written and read back.

Model files (``llmpresets train CORPUS --output model.npz``) hold the tokenized corpus and the
settings (:class:`SavedModel`); loading one retrains the counts. The *cache* is different: it
also holds everything training derives (the model's ``derived_arrays()``), so the packaged
model of each encoding is trained once per machine instead of once per process. Its files live
in ``$LLMPRESETS_CACHE_DIR`` if set (an empty value turns the cache off), else
``$XDG_CACHE_HOME/llmpresets``, else ``~/.cache/llmpresets``; each file is named by a digest
of the corpus text, the tokenizer and the training code's version, so a change of any of them
trains afresh. Files are written to a temporary name and renamed into place (atomic, so
concurrent processes never see half a file); a cache that cannot be read or written is
skipped, silently: the model is then trained in memory as before.

This module reads and writes arrays and settings only; the model builds itself from them
(:class:`llmpresets.offline.lm.ngram.model.NGramModel`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ...._errors import ConfigError
from ....config.corpus_file import MAX_CORPUS_BYTES
from ....config.user_files import FileTooLargeError, read_user_file
from ....tokens.encodings import get_encoding
from ..corpus import Section
from .tables import Arrays

__all__ = [
    "CACHE_ENV",
    "UNREADABLE",
    "SavedModel",
    "cache_directory",
    "cache_file",
    "read_cached",
    "read_corpus",
    "read_model_file",
    "write_cached",
    "write_model_file",
]

_FORMAT = "llmpresets-ngram"
_FORMAT_VERSION = 1
# Bump when training derives anything differently: old cache files are then never read.
_DERIVATION_VERSION = 1
CACHE_ENV = "LLMPRESETS_CACHE_DIR"

# Every way a damaged file fails to parse (bad JSON or UTF-8 are ValueErrors; a bad zip).
UNREADABLE = (
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    EOFError,
    RecursionError,
    OSError,
    zipfile.BadZipFile,
    zlib.error,
)


class SavedModel(NamedTuple):
    """What a model file holds: the tokenizer, the order and the tokenized sections."""

    encoding: str
    order: int
    sections: Sequence[Section]


# --------------------------------------------------------------------------- model files


def read_corpus(path: Path) -> str:
    """The text of a corpus file to train on; unreadable or not UTF-8 text: a ConfigError."""
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
    return text


def _meta(encoding: str, order: int, sections: Sequence[Section]) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "version": _FORMAT_VERSION,
        "encoding": encoding,
        "order": order,
        "sections": [{"name": section.name, "keywords": section.keywords} for section in sections],
    }


def _flat_documents(sections: Sequence[Section]) -> dict[str, Any]:
    return {
        f"section_{number}": np.array(
            [token for doc in section.documents for token in (*doc, -1)], dtype=np.int64
        )
        for number, section in enumerate(sections)
    }


def _split_documents(flat: list[int]) -> list[list[int]]:
    docs: list[list[int]] = []
    current: list[int] = []
    for token in flat:
        if token == -1:
            docs.append(current)
            current = []
        else:
            current.append(token)
    return docs


def write_model_file(path: Path, saved: SavedModel) -> Path:
    """Write a model to ``.npz`` (compact) or ``.json`` (see ``NGramModel.save``)."""
    meta = _meta(*saved)
    if path.suffix == ".json":
        meta["documents"] = [[list(doc) for doc in section.documents] for section in saved.sections]
        path.write_text(json.dumps(meta), encoding="utf-8")
    elif path.suffix == ".npz":
        arrays: dict[str, Any] = {"meta": np.array(json.dumps(meta))}
        arrays.update(_flat_documents(saved.sections))
        with path.open("wb") as handle:
            np.savez_compressed(handle, **arrays)
    else:
        raise ConfigError(f"{path}: a model file must end in .npz or .json", file=str(path))
    return path


def read_model_file(path: Path) -> SavedModel:
    """Read a model written by :func:`write_model_file`; a bad file is a ConfigError naming it."""
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
                documents = [
                    _split_documents(archive[f"section_{number}"].tolist())
                    for number in range(len(meta.get("sections", [])))
                ]
    except UNREADABLE as exc:
        raise ConfigError(
            f"{where}: not a readable llmpresets model file ({type(exc).__name__}: {exc}); "
            "create one with `llmpresets train CORPUS.txt --output model.npz`",
            file=where,
        ) from exc
    return _from_meta(meta, documents, where)


def _from_meta(meta: Any, documents: Any, where: str) -> SavedModel:
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
    return SavedModel(encoding, order, sections)


# The most a saved model file may hold (a model of a MAX_CORPUS_BYTES corpus is well under it).
MAX_MODEL_FILE_BYTES = 512 * 1024 * 1024


def _read_bytes(path: Path, what: str) -> bytes:
    """The bytes of a user's file; missing, a directory, unreadable or empty: a ConfigError.

    Read within a bound (a corpus: ``MAX_CORPUS_BYTES``; a model file:
    :data:`MAX_MODEL_FILE_BYTES`) and only from a regular file, so ``/dev/zero`` or a FIFO
    is refused at once rather than read without end or waited on.
    """
    limit = MAX_CORPUS_BYTES if what == "the corpus" else MAX_MODEL_FILE_BYTES
    try:
        data = read_user_file(path, limit)
    except FileTooLargeError:
        problem = f"{what} has more than {limit:,} bytes, the most that is read"
        raise ConfigError(f"{path}: {problem}", file=str(path)) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, IsADirectoryError) or path.is_dir():
            reason = "it is a directory, not a file"
        reason = reason[:1].lower() + reason[1:]
        raise ConfigError(f"{path}: cannot read {what}: {reason}", file=str(path)) from None
    if not data:
        raise ConfigError(f"{path}: {what} is empty (0 bytes)", file=str(path))
    return data


# --------------------------------------------------------------------------- the cache


def cache_directory() -> Path | None:
    """Where trained models are cached (see the module docstring); None when turned off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "llmpresets"


def cache_file(text: str, encoding: str, order: int) -> Path | None:
    """The cache file of a model trained on ``text`` (None: the cache is turned off)."""
    directory = cache_directory()
    if directory is None:
        return None
    tokenizer = get_encoding(encoding)
    digest = hashlib.sha256()
    for part in (
        f"{_FORMAT}/{_FORMAT_VERSION}/{_DERIVATION_VERSION}",
        f"{encoding}/{tokenizer.n_vocab}/{tokenizer.eot_token}/{order}",
        text,
    ):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return directory / f"ngram-{encoding}-o{order}-{digest.hexdigest()[:24]}.npz"


def read_cached(path: Path, encoding: str, order: int) -> tuple[list[Section], Arrays] | None:
    """The sections and derived arrays in a cache file, or None when it is missing or
    unreadable in any way (the arrays are checked when the model is built from them)."""
    try:
        data = path.read_bytes()  # whole, so a damaged file leaves no handle open
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("encoding") != encoding or meta.get("order") != order:
            return None
        sections = [
            Section(
                str(info["name"]),
                str(info["keywords"]),
                tuple(tuple(doc) for doc in _split_documents(arrays.pop(f"section_{n}").tolist())),
            )
            for n, info in enumerate(meta["sections"])
        ]
    except (*UNREADABLE, ConfigError):
        return None
    return sections, arrays


def write_cached(path: Path, saved: SavedModel, arrays: Arrays) -> None:
    """Write a model's derived arrays atomically; any failure leaves no file behind."""
    everything: dict[str, Any] = {"meta": np.array(json.dumps(_meta(*saved)))}
    everything.update(_flat_documents(saved.sections))
    everything.update(arrays)
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".ngram-", suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **everything)  # uncompressed: reading it back is the point
        os.replace(temporary, path)
        temporary = None
    except OSError:
        pass  # a read-only or full disk: the model still works, it is just not kept
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
