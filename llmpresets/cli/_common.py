"""Helpers shared by the command modules. Import nothing heavy at module level."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._presets import PresetBook

formatter = argparse.RawDescriptionHelpFormatter


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        action="append",
        help="a presets.yaml layered over the defaults (repeatable; default: "
        "$LLMPRESETS_CONFIG or ./presets.yaml)",
    )


def load_book(args: argparse.Namespace) -> PresetBook:
    from .._presets import load_presets

    return load_presets(getattr(args, "config", None))


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())
