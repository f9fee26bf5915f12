"""Corpus text for the n-gram model: its format, split into sections, and the packaged corpus.

(Tokenizing the sections is :func:`llmpresets.offline.lm.ngram.tables.tokenized_sections`.)

Training text format (the packaged corpus under ``corpus/`` and any user corpus alike):

- plain UTF-8 text; a line ``---`` ends a document, and every document ends with the
  tokenizer's ``<|endoftext|>``, so replies end by themselves (finish_reason ``stop``);
- a line ``### NAME: words...`` starts a *section* (a style: ``code``, ``factual``...); the
  words after the colon describe the prompts it answers and help pick it;
- a file without ``---`` lines is split into documents at blank lines; a file without
  ``###`` lines is one section named ``text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

__all__ = ["Section", "corpus_documents", "packaged_corpus_text"]

_SECTION = re.compile(r"^###\s*([A-Za-z0-9_.-]+)\s*(?::(.*))?$")


@dataclass(frozen=True)
class Section:
    """One style of the corpus: its documents as tokenizer ids and its header words."""

    name: str
    keywords: str
    documents: tuple[tuple[int, ...], ...]


def corpus_documents(text: str) -> list[tuple[str, str, list[str]]]:
    """Split corpus text into ``(section, keywords, documents)`` (see the module docstring).

    >>> corpus_documents("### greet: hello\\nHi!\\n---\\nHello!\\n")
    [('greet', 'hello', ['Hi!', 'Hello!'])]
    """
    sections: list[tuple[str, str, list[str]]] = []
    name, keywords = "text", ""
    lines: list[str] = []
    chunks: list[tuple[str, str, list[str]]] = []

    def close() -> None:
        if any(line.strip() for line in lines) or chunks:
            chunks.append((name, keywords, list(lines)))

    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            close()
            lines = []
            name, keywords = header.group(1), (header.group(2) or "").strip()
            continue
        lines.append(line)
    close()
    has_separators = any(line.strip() == "---" for _, _, body in chunks for line in body)
    for section_name, section_keywords, body in chunks:
        joined = "\n".join(body)
        if has_separators:
            parts = re.split(r"(?m)^---[ \t]*$", joined)
        else:
            parts = re.split(r"\n[ \t]*\n", joined)
        documents = [part.strip("\n") for part in parts if part.strip()]
        if not documents:
            continue
        for existing in sections:
            if existing[0] == section_name:
                existing[2].extend(documents)
                break
        else:
            sections.append((section_name, section_keywords, documents))
    return sections


def packaged_corpus_text() -> str:
    """The corpus shipped with the package: one file per section, concatenated."""
    folder = resources.files("llmpresets.offline").joinpath("corpus")
    names = sorted(item.name for item in folder.iterdir() if item.name.endswith(".txt"))
    return "\n".join(folder.joinpath(name).read_text(encoding="utf-8") for name in names)
