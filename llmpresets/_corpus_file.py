"""What a file named by ``offline.corpus`` must be, checked when the presets file is loaded.

So ``llmpresets validate`` refuses a binary or oversized corpus, instead of the first offline
run failing on it: a text corpus is UTF-8 without NUL bytes and at most
:data:`MAX_CORPUS_BYTES`; a saved model is an ``.npz`` archive or a ``.json`` object.
"""

from __future__ import annotations

import codecs
from pathlib import Path

__all__ = ["MAX_CORPUS_BYTES", "corpus_problem"]

# The most text the offline model is trained on at first use (the packaged corpus is ~100 KB).
MAX_CORPUS_BYTES = 64 * 1024 * 1024
_CORPUS_SNIFF_BYTES = 1024 * 1024


def corpus_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the offline corpus (checked when the file is loaded), or None."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(_CORPUS_SNIFF_BYTES)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if path.suffix == ".npz":
        return None if head.startswith(b"PK\x03\x04") else "is not an .npz archive"
    if path.suffix == ".json":
        return None if head.lstrip()[:1] == b"{" else "is not a JSON object (a saved model)"
    if size > MAX_CORPUS_BYTES:
        return f"has {size:,} bytes; a corpus may have at most {MAX_CORPUS_BYTES:,}"
    if b"\x00" in head:
        return "is binary (it has NUL bytes), not a text corpus"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) == size)
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text ({exc.reason} at byte {exc.start})"
    return None
