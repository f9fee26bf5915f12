"""Helpers shared by the command modules. Import nothing heavy at module level."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from .._errors import UnknownModelError

if TYPE_CHECKING:
    from ..config.presets import PresetBook

formatter = argparse.RawDescriptionHelpFormatter

# Bounds on what a command reads (past them: a clear error, exit 2): text from a file or
# stdin, and JSON nesting.
MAX_INPUT_CHARS = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64


def read_input(file: str, *, what: str = "input") -> tuple[str, str]:
    """(source name, text) of FILE, or of standard input for ``-``; at most MAX_INPUT_CHARS.

    Every failure is a CommandError (exit 2) naming the file and why.
    """
    from pathlib import Path

    from . import CommandError

    if file == "-":
        source, text = "<stdin>", sys.stdin.read(MAX_INPUT_CHARS + 1)
    else:
        source = file
        try:
            with Path(file).open(encoding="utf-8") as stream:
                text = stream.read(MAX_INPUT_CHARS + 1)
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except IsADirectoryError:
            raise CommandError(f"{file}: is a directory") from None
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        except OSError as exc:
            raise CommandError(f"{file}: cannot read ({exc.strerror})") from None
        except ValueError:  # a NUL byte in the name
            raise CommandError(f"{file!r}: not a valid file name") from None
    if len(text) > MAX_INPUT_CHARS:
        raise CommandError(
            f"{source}: the {what} is longer than {MAX_INPUT_CHARS:,} characters (the limit)"
        )
    return source, text


def load_json(source: str, text: str) -> Any:
    """Parse JSON text, refusing nesting deeper than MAX_JSON_DEPTH (a CommandError, exit 2)."""
    from . import CommandError

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        data = None
        depth = MAX_JSON_DEPTH + 1
    else:
        depth = _depth(data)
    if depth > MAX_JSON_DEPTH:
        raise CommandError(f"{source}: JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return data


def _depth(data: Any) -> int:
    """How deeply lists and objects nest in ``data`` (iteratively: no recursion limit)."""
    deepest = 0
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        pending.extend((child, depth + 1) for child in children)
    return deepest


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        action="append",
        help="a presets.yaml layered over the defaults (repeatable; default: "
        "$LLMPRESETS_CONFIG or ./presets.yaml)",
    )


def load_book(args: argparse.Namespace) -> PresetBook:
    """The presets the command runs with; a ``--model`` that misspells a known model is a
    usage error (exit 2) naming the model it probably means."""
    from ..config.presets import load_presets

    book = load_presets(getattr(args, "config", None))
    model = getattr(args, "model", None)
    if isinstance(model, str):
        check_model_name(model, book)
    return book


def check_model_name(model: str, book: PresetBook) -> None:
    """Raise UnknownModelError (exit 2) when ``model`` is unknown and close to a known model."""
    from ..config.suggest import did_you_mean

    suggestion = did_you_mean(model, book)
    if suggestion is not None:
        raise UnknownModelError(model, sorted(book.models), suggestion=suggestion)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())
