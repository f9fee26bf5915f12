"""Tokens into a reply: text pieces under the length cap and stop sequences, and logprobs.

Every decoding loop (free text, constrained, scripted) hands its tokens to an
:class:`Emitter`, which turns them into the stream's per-token text pieces (UTF-8 split across
tokens is joined as it completes), ends the reply with ``length`` at ``max_tokens`` and cuts
it at the first stop sequence (``stop``). What a token shows comes from one place: its bytes
(:func:`token_bytes`, one table per encoding) and its text as the API shows it
(:func:`~llmpresets.offline.lm.sources.token_text`); :func:`token_logprob` builds a
``logprobs`` entry from the numbers a loop computed, reporting ``-inf`` as ``-9999.0`` as the
API does.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..._cache import BoundedCache
from ..lm.sources import PARTIAL_PREFIX, token_text
from .types import Generation, SamplingSettings, TokenLogprob

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "VERY_UNLIKELY",
    "Alternatives",
    "Emitter",
    "alternatives",
    "reported",
    "token_bytes",
    "token_bytes_table",
    "token_logprob",
]

VERY_UNLIKELY = -9999.0
"""The logprob the API reports for an impossible token (and anything less likely)."""

# (token text, its bytes, logprob): one of a logprobs entry's most likely alternatives.
Alternatives = list[tuple[str, list[int], float]]

# Per encoding, each token's bytes once looked up: a table holds at most one entry per
# vocabulary id, so it is budgeted as the whole vocabulary (a hit is one dict lookup; a
# constrained reply reads the bytes of every token it makes).
_TABLE_BYTES_PER_TOKEN = 96
_token_tables: BoundedCache[str, dict[int, bytes]] = BoundedCache(
    "token bytes per encoding", 64 << 20
)


def token_bytes_table(encoding: tiktoken.Encoding) -> dict[int, bytes]:
    """The table :func:`token_bytes` fills for ``encoding`` (a miss there: call it)."""
    table = _token_tables.peek(encoding.name)
    if table is None:
        table = {}
        _token_tables.put(encoding.name, table, encoding.n_vocab * _TABLE_BYTES_PER_TOKEN)
    return table


def token_bytes(encoding: tiktoken.Encoding, token: int) -> bytes:
    """The token's bytes (``encoding.decode_single_token_bytes``), looked up once."""
    table = token_bytes_table(encoding)
    data = table.get(token)
    if data is None:
        data = encoding.decode_single_token_bytes(token)
        table[token] = data
    return data


def reported(logprob: float) -> float:
    """``logprob`` as the API reports it: at least :data:`VERY_UNLIKELY` (``-inf`` included)."""
    return logprob if logprob > VERY_UNLIKELY else VERY_UNLIKELY


def alternatives(encoding: tiktoken.Encoding, pairs: Iterable[tuple[int, float]]) -> Alternatives:
    """``top_logprobs`` entries for ``(token, logprob)`` pairs, in their order."""
    return [
        (token_text(encoding, token), list(token_bytes(encoding, token)), reported(logprob))
        for token, logprob in pairs
    ]


def token_logprob(
    encoding: tiktoken.Encoding, token: int, logprob: float, top: Alternatives
) -> TokenLogprob:
    """The ``logprobs`` entry of a generated token (``top``: from :func:`alternatives`)."""
    return TokenLogprob(
        token_text(encoding, token), list(token_bytes(encoding, token)), reported(logprob), top
    )


class Emitter:
    """Turns a reply's tokens into text pieces, watching the cap and the stop sequences.

    :meth:`add` takes one token (and its logprobs entry); :meth:`add_plain` several at once
    when there are no stop sequences; :meth:`finish` ends the reply. ``done`` says whether it
    has ended, ``result`` is the :class:`~llmpresets.offline.engine.types.Generation`.
    """

    def __init__(self, encoding: tiktoken.Encoding, settings: SamplingSettings) -> None:
        self.encoding = encoding
        self.settings = settings
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.result = Generation(logprobs=[] if settings.logprobs else None)
        self.tail = ""  # the last characters, enough to find a stop sequence across pieces
        self.longest_stop = max((len(stop) for stop in settings.stop), default=0)
        self.pending = False  # whether the decoder holds bytes of a character split across tokens
        self.done = False

    def add(self, token: int, info: TokenLogprob | None) -> None:
        """One token, with its logprobs entry when the request asks for them."""
        result = self.result
        piece = self._piece(token)
        result.completion_tokens += 1
        if info is not None and result.logprobs is not None:
            result.logprobs.append(info)
        if self.longest_stop and piece:
            window = self.tail + piece
            found = [window.find(stop) for stop in self.settings.stop]
            cut = min((index for index in found if index >= 0), default=-1)
            if cut >= 0:
                self._cut(len(self.tail), window, cut)
                return
            self.tail = window[-(self.longest_stop - 1) :] if self.longest_stop > 1 else ""
        result.pieces.append(piece)
        if result.completion_tokens >= self.settings.max_tokens:
            self.finish("length")

    @property
    def emitted(self) -> int:
        """Tokens emitted so far."""
        return self.result.completion_tokens

    def add_plain(self, tokens: list[int]) -> None:
        """:meth:`add` for several tokens without logprobs, when there are no stop sequences
        (at most the room left under ``max_tokens``)."""
        if not tokens:
            return
        result = self.result
        result.pieces.extend(map(self._piece, tokens))  # one at a time: the decoder has state
        result.completion_tokens += len(tokens)
        if result.completion_tokens >= self.settings.max_tokens:
            self.finish("length")

    def _piece(self, token: int) -> str:
        """The token's text: a whole UTF-8 token after a whole one is its own text;
        otherwise the incremental decoder joins bytes split across tokens (for a whole token
        it gives the same text)."""
        if not self.pending:
            text = token_text(self.encoding, token)
            if not text.startswith(PARTIAL_PREFIX):
                return text
        decoder = self.decoder
        piece = decoder.decode(token_bytes(self.encoding, token))
        self.pending = bool(decoder.getstate()[0])
        return piece

    def _cut(self, tail_length: int, window: str, cut: int) -> None:
        """A stop sequence starts at ``window[cut]``: drop it and everything after it.

        Earlier pieces are trimmed in place (never removed), so piece ``i`` stays token ``i``.
        """
        pieces = self.result.pieces
        if cut >= tail_length:
            pieces.append(window[tail_length:cut])
        else:
            remove = tail_length - cut
            index = len(pieces) - 1
            while remove and index >= 0:
                take = min(remove, len(pieces[index]))
                pieces[index] = pieces[index][: len(pieces[index]) - take]
                remove -= take
                index -= 1
            pieces.append("")
        self.finish("stop", flush=False)

    def finish(self, reason: str, *, flush: bool = True) -> None:
        """End the reply with ``reason`` (``flush``: bytes of a split character still
        pending become their replacement character)."""
        if flush:
            rest = self.decoder.decode(b"", final=True)
            if rest:
                if self.result.pieces:
                    self.result.pieces[-1] += rest
                else:
                    self.result.pieces.append(rest)
        self.result.finish_reason = reason
        self.done = True
