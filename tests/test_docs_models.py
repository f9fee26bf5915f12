"""docs/models.md cannot drift from the registry and the resolution code."""

from __future__ import annotations

from pathlib import Path

from llmpresets import load_presets
from llmpresets.cli._models_cmd import render_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "models.md"
MARKER = "Regenerate after editing presets.yaml. -->\n\n"


def test_generated_part_of_docs_models_matches_the_registry() -> None:
    """The tables in docs/models.md are exactly what `llmpresets models --markdown` prints."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text
    generated = text.split(MARKER, 1)[1]
    assert generated == render_markdown(load_presets([]))
