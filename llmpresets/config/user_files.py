"""Reading a file a user names: regular files only, within a byte bound, never blocking.

A presets file, a corpus to train on or a saved model is read through :func:`read_user_file`:
the file is opened without blocking (so a FIFO with no writer cannot hang the process),
anything but a regular file (a FIFO, a device such as ``/dev/zero``, a socket, a directory)
is refused, and no more than ``limit`` bytes are ever read (the size is checked before
reading, and again while reading, for a file that grows).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["FileTooLargeError", "NotRegularFileError", "read_user_file"]

_CHUNK = 1024 * 1024


class NotRegularFileError(OSError):
    """The path is a FIFO, a device, a socket or a directory; ``kind`` says which."""

    def __init__(self, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file (it is {kind})")
        self.kind = kind


class FileTooLargeError(OSError):
    """The file holds more than ``limit`` bytes (``size`` is what it holds, or ``limit + 1``)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit:,} bytes")
        self.size = size
        self.limit = limit


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_user_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes.

    Raises ``FileNotFoundError`` (a broken symbolic link too), ``IsADirectoryError``,
    :class:`NotRegularFileError`, :class:`FileTooLargeError` or another ``OSError``
    (``ELOOP`` for a symbolic link loop, ``EACCES``...); ``ValueError`` for a NUL in the name.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(_kind(mode))
        size = os.fstat(descriptor).st_size
        if size > limit:
            raise FileTooLargeError(size, limit)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(descriptor, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileTooLargeError(total, limit)
        return b"".join(chunks)
    finally:
        os.close(descriptor)
