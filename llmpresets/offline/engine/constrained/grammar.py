"""Grammars for constrained decoding: llguidance tokenizers and compiled grammars, kept.

:func:`tokenizer_for` builds llguidance's tokenizer from a tiktoken ``Encoding`` (about a
second for o200k, so once per encoding and process). :func:`json_schema_grammar`,
:func:`json_object_grammar`, :func:`lark_grammar` and :func:`regex_grammar` compile a grammar
once per (encoding, grammar text) and return a :class:`Grammar`; :meth:`Grammar.matcher`
gives a fresh matcher (the per-reply parser state) in microseconds, and
:meth:`Grammar.mask_buffer` a buffer that llguidance writes a matcher's next-token mask into
(half the cost of a fresh ``bytes`` mask per step).

JSON is compact, as OpenAI writes it: no whitespace between tokens (``{"a":1,"b":[2]}``).
A grammar llguidance cannot compile raises :class:`GrammarError` (the API's 400, never a 500).

>>> from llmpresets.tokens.encodings import get_encoding
>>> grammar = json_schema_grammar(get_encoding("o200k_base"), {"type": "boolean"})
>>> matcher = grammar.matcher()
>>> matcher.consume_tokens(get_encoding("o200k_base").encode("true")), matcher.is_accepting()
(True, True)
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...._cache import BoundedCache
from ....tokens.encodings import bpe_tables

if TYPE_CHECKING:
    import llguidance
    import tiktoken

__all__ = [
    "Grammar",
    "GrammarError",
    "MaskBuffer",
    "json_object_grammar",
    "json_schema_grammar",
    "lark_grammar",
    "regex_grammar",
    "tokenizer_for",
]

# llguidance's tokenizers, per (encoding, for_json): about a second each to build, so once per
# process and never dropped (not a cache clear_caches empties; at most two per encoding).
_tokenizers: dict[tuple[str, bool], llguidance.LLTokenizer] = {}
_lock = threading.Lock()
_thread_buffers = threading.local()  # Grammar.mask_buffer's, per vocabulary size
# Compiled grammars per (encoding, kind, text), least recently used dropped first; a compiled
# matcher is counted as _GRAMMAR_BYTES plus a few bytes per character of its text.
_GRAMMAR_BYTES = 1 << 16
_grammars: BoundedCache[tuple[str, str, str], Grammar] = BoundedCache("compiled grammars", 16 << 20)


class GrammarError(ValueError):
    """A schema or grammar that llguidance cannot compile; ``message`` says why."""


# llguidance's parser limits (``LLParserLimits``), each bounding what one request's grammar may
# cost: building its lexer, one mask step, its lexer's states (memory, about 1-2 kB a state).
# Its defaults let a short pattern of nested counted repeats build a lexer of hundreds of MB;
# these hold every schema the tests and benchmarks use with room to spare. A grammar past them
# is refused when it compiles (the API's 400), or its reply is cut if it reaches them later.
# docs/limits.md, "Grammar limits", lists them.
PARSER_LIMITS = {
    "initial_lexer_fuel": 1_000_000,  # building the lexer's regexes (~20 ms)
    "step_lexer_fuel": 200_000,  # one mask step's lexer work (~15 ms)
    "step_max_items": 50_000,  # one mask step's Earley items (~3 ms)
    "max_lexer_states": 20_000,  # the lexer's states (~20-40 MB)
    "max_grammar_size": 500_000,  # symbols in the grammar's productions
}


def tokenizer_for(encoding: tiktoken.Encoding, *, for_json: bool = False) -> llguidance.LLTokenizer:
    """llguidance's tokenizer for ``encoding`` (built once per encoding name, then cached).

    ``for_json=True``: the tokenizer JSON grammars use. It leaves out the tokens of more than one
    byte that hold a raw control character (0x00-0x1F): compact JSON never contains one (a
    string escapes it), so no JSON grammar allows such a token, and without them llguidance
    walks a smaller token trie (a string's first mask: about 27 -> 17 µs for o200k). Every
    other token keeps its id and its bytes, so the masks, the forced tokens and the
    tokenization of forced bytes (which hold no control character) are the same.
    """
    key = (encoding.name, for_json)
    tokenizer = _tokenizers.get(key)
    if tokenizer is None:
        import llguidance
        from llguidance.tiktoken import lltokenizer_from_encoding

        # What lltokenizer_from_encoding calls, given the ranks chosen here (an llguidance
        # without it gets the whole tokenizer, the one already built: the same masks, slower).
        from_tiktoken = getattr(llguidance.LLTokenizer, "from_tiktoken", None)
        if for_json and from_tiktoken is None:
            return tokenizer_for(encoding)
        with _lock:
            tokenizer = _tokenizers.get(key)
            if tokenizer is None:
                if for_json:
                    assert from_tiktoken is not None
                    ranks, pattern, special = bpe_tables(encoding)
                    tokenizer = from_tiktoken(
                        encoder={
                            data: rank
                            for data, rank in ranks.items()
                            if len(data) == 1 or not _CONTROL.search(data)
                        },
                        special_tokens=special,
                        pattern=pattern,
                        eos_token=encoding.eot_token,
                        n_vocab=encoding.n_vocab,
                    )
                else:
                    tokenizer = lltokenizer_from_encoding(encoding)
                _tokenizers[key] = tokenizer
    return tokenizer


_CONTROL = re.compile(b"[\\x00-\\x1f]")


@dataclass(frozen=True)
class Grammar:
    """A grammar compiled for one tokenizer; :meth:`matcher` starts a parse of one reply."""

    kind: str
    text: str
    encoding_name: str
    _template: llguidance.LLMatcher
    vocab_size: int  # llguidance's tokenizer: bits in a mask

    def matcher(self) -> llguidance.LLMatcher:
        """A fresh matcher at the grammar's start (a copy of the compiled one)."""
        return self._template.deep_copy()

    def forget(self) -> None:
        """Drop this grammar from the compiled-grammar cache (the next request compiles it
        afresh). For a grammar whose matcher reached a parser limit mid-reply: its copies share
        the lexer it built, so every later reply would meet the limit at once."""
        key = (self.encoding_name, self.kind, self.text)
        if _grammars.peek(key) is self:
            _grammars.pop(key)

    def mask_buffer(self) -> MaskBuffer:
        """A buffer for this grammar's masks, written in place: this thread's own, the same
        one reply after reply (a reply is drawn in one go, without yielding the thread), so
        the memory llguidance writes stays in the processor's caches."""
        size = (self.vocab_size + 31) // 32
        buffers: dict[int, MaskBuffer] | None = getattr(_thread_buffers, "by_size", None)
        if buffers is None:
            buffers = _thread_buffers.by_size = {}
        buffer = buffers.get(size)
        if buffer is None:
            buffer = buffers[size] = MaskBuffer(size)
        return buffer


class MaskBuffer:
    """32-bit words that llguidance fills with a matcher's next-token mask, in place.

    Bit ``t & 31`` of word ``t >> 5`` is set when token ``t`` is allowed, as in the ``bytes``
    of ``LLMatcher.compute_bitmask``; :meth:`fill` writes through the buffer's address
    (llguidance's ``fill_next_token_bitmask``, without its per-call checks).
    """

    __slots__ = ("_address", "raw", "words")

    def __init__(self, size: int) -> None:
        # ``raw`` compares with a mask's bytes without a copy (``bytearray == bytes``).
        self.raw = bytearray(4 * size)
        self.words: NDArray[np.uint32] = np.frombuffer(self.raw, dtype=np.uint32)
        self._address = self.words.ctypes.data

    def fill(self, matcher: llguidance.LLMatcher) -> NDArray[np.uint32]:
        """The mask of ``matcher``'s next token (this buffer's words, overwritten)."""
        matcher.unsafe_compute_mask_ptr(self._address, self.words.nbytes)
        return self.words


def _compile(encoding: tiktoken.Encoding, kind: str, text: str) -> Grammar:
    key = (encoding.name, kind, text)
    cached = _grammars.get(key)
    if cached is not None:
        return cached
    import llguidance

    tokenizer = tokenizer_for(encoding, for_json=kind == "json")
    try:
        # JSON is compact, the API's own style: no whitespace choices to waste tokens on.
        if kind == "json":
            source = llguidance.LLMatcher.grammar_from_json_schema(
                text, overrides={"whitespace_flexible": False}
            )
        elif kind == "lark":
            source = llguidance.LLMatcher.grammar_from_lark(text)
        else:
            source = llguidance.LLMatcher.grammar_from_regex(text)
    except ValueError as exc:
        raise GrammarError(str(exc)) from None
    limits = _limits()
    error = llguidance.LLMatcher.validate_grammar(source, tokenizer, limits=limits)
    if error:
        dead = error.startswith("NoExtension")  # its stop reason: nothing can be written
        raise GrammarError(
            _DEAD_END.format(nothing=_NOTHING[kind == "json"]) if dead else _first_line(error)
        )
    template = llguidance.LLMatcher(tokenizer, source, log_level=0, limits=limits)
    if template.is_error():
        raise GrammarError(_matcher_problem(template, kind))
    _probe(template, kind)
    grammar = Grammar(kind, text, encoding.name, template, tokenizer.vocab_size)
    _grammars.put(key, grammar, _GRAMMAR_BYTES + 16 * len(text))
    return grammar


def _limits() -> llguidance.LLParserLimits:
    import llguidance

    return llguidance.LLParserLimits(
        initial_lexer_fuel=PARSER_LIMITS["initial_lexer_fuel"],
        step_lexer_fuel=PARSER_LIMITS["step_lexer_fuel"],
        step_max_items=PARSER_LIMITS["step_max_items"],
        max_lexer_states=PARSER_LIMITS["max_lexer_states"],
        max_grammar_size=PARSER_LIMITS["max_grammar_size"],
        verbose_errors=False,  # llguidance's state dumps quote the whole grammar
    )


def _probe(template: llguidance.LLMatcher, kind: str) -> None:
    """Refuse, when it compiles, a grammar that cannot give any text or that reaches the
    parser limits at once: its first mask (after the bytes it forces) is computed on a copy.

    No text satisfies a grammar whose first free step allows nothing short of acceptance,
    or whose forced text never ends (a schema whose ``$ref`` cycle has no way out, such as a
    required property ``{"$ref": "#"}``).
    """
    probe = template.deep_copy()
    forced = probe.compute_ff_tokens()
    if forced and not probe.consume_tokens(forced):
        raise GrammarError(
            f"{_NOTHING[kind == 'json']}: the text it forces has no end (a '$ref' cycle with "
            "no way out), or it is too complex for the parser limits (docs/limits.md)."
        )
    mask = probe.compute_bitmask()
    if probe.is_error():
        raise GrammarError(_matcher_problem(probe, kind))
    if not probe.is_accepting() and not any(mask):
        raise GrammarError(_DEAD_END.format(nothing=_NOTHING[kind == "json"]))


_NOTHING = {True: "no JSON value satisfies the schema", False: "no text matches the grammar"}


_DEAD_END = (
    "{nothing}: every way through it needs itself again (a '$ref' cycle with no way out) "
    "or contradicts itself."
)


def _matcher_problem(matcher: llguidance.LLMatcher, kind: str) -> str:
    """A matcher's error in words: no text possible, a parser limit reached, or llguidance's
    own message."""
    reason = matcher.stop_reason()
    if reason in ("NoExtension", "NoExtensionBias") or matcher.get_error().startswith(
        "NoExtension"
    ):
        return _DEAD_END.format(nothing=_NOTHING[kind == "json"])
    if reason in ("LexerTooComplex", "ParserTooComplex"):
        part = "lexer" if reason == "LexerTooComplex" else "parser"
        return (
            f"the grammar is too complex for the offline backend's parser limits (its {part} "
            "reached them; docs/limits.md, Grammar limits)."
        )
    return _first_line(matcher.get_error())


def _first_line(message: str) -> str:
    """llguidance's message on one line, bounded (it can quote a whole grammar)."""
    text = " ".join(line.strip() for line in message.strip().splitlines() if line.strip())
    return (text[:300] + "...") if len(text) > 300 else (text or "invalid grammar")


def json_schema_grammar(encoding: tiktoken.Encoding, schema: Mapping[str, Any]) -> Grammar:
    """The grammar of JSON texts valid for ``schema`` (cached per encoding and schema).

    Properties come out in the schema's order, as the API writes them.
    """
    return _compile(encoding, "json", json.dumps(schema, separators=(",", ":")))


def json_object_grammar(encoding: tiktoken.Encoding) -> Grammar:
    """Any JSON object (``response_format: {"type": "json_object"}``)."""
    return json_schema_grammar(encoding, {"type": "object"})


def lark_grammar(encoding: tiktoken.Encoding, lark: str) -> Grammar:
    """A Lark grammar (custom tools with ``format: grammar``, syntax ``lark``)."""
    return _compile(encoding, "lark", lark)


def regex_grammar(encoding: tiktoken.Encoding, regex: str) -> Grammar:
    """Texts matching ``regex`` (custom tools with ``format: grammar``, syntax ``regex``)."""
    return _compile(encoding, "regex", regex)
