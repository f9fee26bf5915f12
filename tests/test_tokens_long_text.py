"""Counting text of any shape: tiktoken's ids exactly, without its crash on long whitespace."""

from __future__ import annotations

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

import llmpresets
from llmpresets.tokens import safe_encoding as _safe_encoding
from llmpresets.tokens.encodings import get_encoding

ENCODINGS = ["o200k_base", "cl100k_base"]

# Pieces chosen to reach every rule of tiktoken's split around whitespace: runs of horizontal
# whitespace (ASCII and not), newlines in both styles, words, contractions, digits, punctuation
# (which swallows following newlines), '/', combining marks and a special token's text.
PIECES = [
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\xa0",
    "\u3000",
    "\x0b",
    "a",
    "Hello",
    "wORLD",
    "'s",
    "1234",
    "!",
    "?!",
    "/",
    "\u0301",
    "é",
    "日本",
    "<|endoftext|>",
]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@pytest.fixture
def short_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat any run of 3+ whitespace characters as long, so the split path runs on short text."""
    monkeypatch.setattr(_safe_encoding, "LONG_RUN", 3)


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=300, deadline=None)
@given(text=texts)
def test_split_encoding_gives_tiktokens_ids(name: str, text: str) -> None:
    """With the split path forced on, the ids equal tiktoken's own for every generated text."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_safe_encoding, "LONG_RUN", 3)
        ours = get_encoding(name)
        theirs = tiktoken.get_encoding(name)
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)
        assert ours.encode(text, allowed_special="all") == theirs.encode(
            text, allowed_special="all"
        )
        assert ours.encode(text, disallowed_special=()) == theirs.encode(
            text, disallowed_special=()
        )


@pytest.mark.parametrize("name", ENCODINGS)
def test_a_disallowed_special_token_is_still_refused(name: str, short_runs: None) -> None:
    """The split path keeps tiktoken's refusal of special-token text by default."""
    with pytest.raises(ValueError, match="disallowed special token"):
        get_encoding(name).encode("a    <|endoftext|>")


@pytest.mark.parametrize("name", ENCODINGS)
def test_a_long_run_at_the_real_threshold_matches_tiktoken(name: str) -> None:
    """150,000 spaces before and after a word: split at the real threshold, ids unchanged."""
    text = "start" + " " * 150_000 + "middle\n" + "\t" * 150_000 + "end" + " " * 150_000
    assert get_encoding(name).encode_ordinary(text) == tiktoken.get_encoding(name).encode_ordinary(
        text
    )


def test_a_million_spaces_are_counted_not_a_crash() -> None:
    """The text that made tiktoken panic counts like its shorter cousins: one piece of spaces."""
    text = "x" + " " * 1_200_000 + "y"
    count = llmpresets.count_tokens(text)
    # The long piece is byte-pair encoded on its own; the last space joins "y".
    encoding = tiktoken.get_encoding("o200k_base")
    expected = 1 + len(encoding._encode_single_piece(" " * 1_199_999)) + 1
    assert count == expected
    messages = [{"role": "user", "content": text}]
    assert llmpresets.count_message_tokens(messages) == count + 3 + 1 + 3


def test_a_tokenizer_panic_becomes_a_tokenizer_error() -> None:
    """Whatever tiktoken's Rust core raises (a BaseException panic) is a TokenizerError."""

    class PanicException(BaseException):  # the name pyo3 gives its panics
        pass

    failed = pytest.raises(llmpresets.TokenizerError, match="o200k_base tokenizer failed")
    with failed as caught, _safe_encoding.translate_tokenizer_errors("o200k_base"):
        raise PanicException("called `Result::unwrap()` on an `Err` value")
    assert isinstance(caught.value.__cause__, PanicException)


def test_keyboard_interrupt_is_not_translated() -> None:
    """Ctrl-C during counting stays a KeyboardInterrupt."""
    with pytest.raises(KeyboardInterrupt), _safe_encoding.translate_tokenizer_errors("o200k_base"):
        raise KeyboardInterrupt


def test_our_encoding_is_a_tiktoken_encoding() -> None:
    """Libraries that take a tiktoken Encoding take ours (same name and vocabulary)."""
    ours = get_encoding("o200k_base")
    assert isinstance(ours, tiktoken.Encoding)
    assert ours.n_vocab == tiktoken.get_encoding("o200k_base").n_vocab
