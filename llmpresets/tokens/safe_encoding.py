"""tiktoken's ``Encoding`` without its crash on long whitespace runs, and with its errors ours.

tiktoken splits text with a regex before byte-pair encoding each piece. In the ``o200k_base``
pattern, the alternative ``\\s+(?!\\S)`` over a run of about a million spaces, tabs or other
horizontal whitespace overflows the regex engine's stack, and tiktoken raises
``pyo3_runtime.PanicException`` -- a ``BaseException``, which no ``except Exception`` catches.

The workaround, in the spirit of tiktoken's own advice to encode long text in pieces, splits the
text only where tiktoken's own split puts a boundary, and byte-pair encodes the long run with
tiktoken's regex-free path, so the ids stay exactly tiktoken's:

* A horizontal-whitespace run ``R`` of at least :data:`LONG_RUN` characters that is *not*
  followed by a newline (the only shape that reaches ``\\s+(?!\\S)`` with a huge match) is one
  regex piece: ``R`` minus its last character when text follows (that character joins the next
  word, as in ``" hello"``), or all of ``R`` at the end of the text. The piece before it ends
  where ``R`` starts (a word, number or punctuation piece stops at whitespace; a newline piece
  stops at its last newline), and the split after a piece depends only on the text after it
  (the patterns have no look-behind). So ``encode(text) == encode(text[:start]) +
  bpe(piece) + encode(text[start + len(piece):])``.
* A run followed by a newline is matched by ``\\s*[\\r\\n]+``, which tiktoken handles at any
  length, so it is left to tiktoken.

``tests/test_tokens_long_text.py`` checks the equality against tiktoken on generated text, with
the threshold lowered so every path runs. Anything else tiktoken raises from below (its panics,
a surrogate it cannot mend) becomes a :class:`~llmpresets.TokenizerError` here, the one boundary.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Iterator
from collections.abc import Set as AbstractSet
from typing import Literal

import tiktoken

from .._errors import TokenizerError

__all__ = ["LONG_RUN", "SafeEncoding", "translate_tokenizer_errors"]

# A run this long is encoded in pieces; tiktoken's o200k regex fails near 1,000,000.
LONG_RUN = 100_000
# Unicode White_Space (what the Rust regex's \s matches), without \r and \n.
_HORIZONTAL_WS = "\t\x0b\x0c \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Every run, found in one linear pass ("[...]{100000,}" would rescan each shorter run per start).
_HORIZONTAL_RUN = re.compile(f"[{_HORIZONTAL_WS}]+")
# The encodings whose split pattern has the whitespace rules the argument above relies on.
_SPLITTABLE = frozenset({"o200k_base", "cl100k_base"})


@contextlib.contextmanager
def translate_tokenizer_errors(name: str) -> Iterator[None]:
    """Turn what tiktoken's Rust core raises (panics included) into :class:`TokenizerError`."""
    try:
        yield
    except TokenizerError:
        raise
    except (ValueError, TypeError):
        raise  # tiktoken's own argument errors (e.g. a disallowed special token) are the user's
    except BaseException as exc:
        # pyo3_runtime.PanicException derives from BaseException; it cannot be imported by name.
        if type(exc).__name__ != "PanicException" and not isinstance(exc, Exception):
            raise  # KeyboardInterrupt, SystemExit, MemoryError's cousins: not ours to translate
        raise TokenizerError(
            f"the {name} tokenizer failed on this text ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no message'})"
        ) from exc


class SafeEncoding(tiktoken.Encoding):
    """A tiktoken ``Encoding`` (same ids, same vocabulary) that survives any text.

    Made from a loaded encoding by :meth:`wrap`, sharing its tables; ``isinstance(x,
    tiktoken.Encoding)`` holds, so libraries that take an ``Encoding`` take this one.
    """

    def __init__(self) -> None:  # pragma: no cover - built by wrap(), never directly
        raise TypeError("use SafeEncoding.wrap(encoding)")

    @classmethod
    def wrap(cls, encoding: tiktoken.Encoding) -> SafeEncoding:
        """The same encoding, made safe (the tables are shared, not copied)."""
        safe = cls.__new__(cls)
        safe.__dict__.update(encoding.__dict__)
        return safe

    def encode_ordinary(self, text: str) -> list[int]:
        """tiktoken's ``encode_ordinary``, exact, for text of any shape."""
        with translate_tokenizer_errors(self.name):
            if len(text) < LONG_RUN or self.name not in _SPLITTABLE:
                return super().encode_ordinary(text)
            return self._encode_in_pieces(text)

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = set(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """tiktoken's ``encode``, exact, for text of any shape."""
        with translate_tokenizer_errors(self.name):
            if len(text) < LONG_RUN or self.name not in _SPLITTABLE:
                return super().encode(
                    text, allowed_special=allowed_special, disallowed_special=disallowed_special
                )
            if allowed_special == "all":
                allowed_special = self.special_tokens_set
            if disallowed_special == "all":
                disallowed_special = self.special_tokens_set - set(allowed_special)
            for token in disallowed_special:
                if token in text:  # tiktoken raises its own error for it
                    super().encode(token, allowed_special=set(), disallowed_special=(token,))
            if not allowed_special:
                return self._encode_in_pieces(text)
            # ... then, as tiktoken's core does, split at the allowed special tokens.
            specials = "|".join(
                re.escape(token) for token in sorted(allowed_special, key=len)[::-1]
            )
            ids: list[int] = []
            position = 0
            for match in re.finditer(specials, text):
                ids += self._encode_in_pieces(text[position : match.start()])
                ids.append(self._special_tokens[match.group()])
                position = match.end()
            return ids + self._encode_in_pieces(text[position:])

    def decode_bytes(self, tokens: list[int]) -> bytes:  # type: ignore[override]
        """tiktoken's ``decode_bytes``; an unknown id is a :class:`TokenizerError`."""
        with translate_tokenizer_errors(self.name):
            return super().decode_bytes(tokens)

    def _encode_in_pieces(self, text: str) -> list[int]:
        ids: list[int] = []
        position = 0
        encode = super().encode_ordinary
        for run in _HORIZONTAL_RUN.finditer(text):
            end = run.end()
            if end - run.start() < LONG_RUN:
                continue
            if end < len(text) and text[end] in "\r\n":
                continue  # matched by \s*[\r\n]+, which tiktoken handles at any length
            start = run.start()
            piece_end = end if end == len(text) else end - 1
            ids += encode(text[position:start])
            ids += self._encode_single_piece(text[start:piece_end])
            position = piece_end
        return ids + encode(text[position:])
