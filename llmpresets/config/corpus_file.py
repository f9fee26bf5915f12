"""What a file named by ``offline.corpus`` must be, checked when the presets file is loaded.

So ``llmpresets validate`` refuses a binary or oversized corpus, instead of the first offline
run failing on it: a text corpus is UTF-8 without NUL bytes and at most
:data:`MAX_CORPUS_BYTES`; a saved model is an ``.npz`` archive or JSON text (its structure
is checked when it is read).
"""

from __future__ import annotations

import codecs
import stat
from pathlib import Path

__all__ = ["MAX_CORPUS_BYTES", "corpus_problem"]

# The most text the offline model is trained on at first use (the packaged corpus is ~100 KB).
MAX_CORPUS_BYTES = 64 * 1024 * 1024
_CORPUS_SNIFF_BYTES = 1024 * 1024


def corpus_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the offline corpus (checked when the file is loaded), or None.

    The reasons are worded as the corpus reader words them at run time.
    """
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):  # a FIFO would block the open below
            return "not a regular file" if not path.is_dir() else "is a directory, not a file"
        size = status.st_size
        with path.open("rb") as file:
            head = file.read(_CORPUS_SNIFF_BYTES)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if path.suffix in (".npz", ".json"):
        if size == 0:
            return "the model file is empty (0 bytes)"
        if path.suffix == ".npz" and not head.startswith(b"PK\x03\x04"):
            return "not a zip archive, as an .npz file is"
        if path.suffix == ".json" and _binary(head, size):
            return "not a readable llmpresets model file (it is binary, not JSON text)"
        return None
    if size == 0:
        return "the corpus is empty (0 bytes)"
    if size > MAX_CORPUS_BYTES:
        return f"the corpus has {size:,} bytes; at most {MAX_CORPUS_BYTES:,} are trained on"
    if b"\x00" in head:
        return "not a text corpus: it holds NUL bytes"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) == size)
    except UnicodeDecodeError as exc:
        return f"not a UTF-8 text corpus ({exc.reason} at byte {exc.start})"
    return None


def _binary(head: bytes, size: int) -> bool:
    """NUL bytes, or not UTF-8, in the first part of a file."""
    if b"\x00" in head:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) == size)
    except UnicodeDecodeError:
        return True
    return False
