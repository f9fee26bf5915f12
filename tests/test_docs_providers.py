"""docs/providers.md cannot drift from the capability table and the resolution code."""

from __future__ import annotations

from pathlib import Path

from llmpresets import load_presets
from llmpresets.cli._models_cmd import render_providers_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "providers.md"
MARKER = "Regenerate after editing presets.yaml. -->\n\n"


def test_generated_part_of_docs_providers_matches_the_library() -> None:
    """The per-provider tables are exactly what `llmpresets models --providers-markdown` prints."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text
    assert text.split(MARKER, 1)[1] == render_providers_markdown(load_presets([]))
