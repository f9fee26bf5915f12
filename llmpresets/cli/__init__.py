"""The ``llmpresets`` command line: parse, call the library, print. No logic of its own.

Each command lives in its own module exposing ``register(subparsers)``; the module's heavy
imports happen inside its handler, so ``llmpresets --help`` stays quick. Exit codes: 0 success,
1 runtime or API error, 2 usage or configuration error. User errors never print a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from .._errors import (
    ConfigError,
    ContextWindowExceeded,
    LLMPresetsError,
    UnknownModelError,
    UnknownPresetError,
    UnsupportedParameterError,
)

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "CommandError", "main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

# Command modules, in the order `--help` lists them.
_COMMANDS = ("_config_cmds", "_models_cmd", "_count", "_run", "_explain", "_train", "_serve")

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A user error found by a command: printed as ``llmpresets: error: ...``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


_USAGE_ERRORS = (
    ConfigError,
    UnknownPresetError,
    UnknownModelError,
    UnsupportedParameterError,
    ContextWindowExceeded,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmpresets",
        description="Sampling presets per use case, token budgets, and an offline backend.",
        epilog="Run 'llmpresets COMMAND --help' for a command's options and an example.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"llmpresets {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f".{name}", __name__).register(subparsers)
    return parser


def _error(message: str) -> None:
    print(f"llmpresets: error: {message}", file=sys.stderr)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    # One readable line per warning instead of Python's file:line + source echo.
    print(f"llmpresets: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    with warnings.catch_warnings():
        # The CLI is an application: it owns the warning filters (each warning shown once).
        warnings.resetwarnings()
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        return _dispatch(parser, argv)


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help / --version (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return handler(args)
    except CommandError as exc:
        _error(str(exc))
        return exc.exit_code
    except _USAGE_ERRORS as exc:
        _error(str(exc))
        return EXIT_USAGE
    except LLMPresetsError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`); silence the flush at exit too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
