"""The ``llmpresets`` command line: parse, call the library, print. No logic of its own.

Each command lives in its own module exposing ``register(subparsers)``; the module's heavy
imports happen inside its handler, so ``llmpresets --help`` stays quick: ``_config_cmds.py``
(``presets``, ``validate``, ``schema``), ``_models_cmd.py`` (``models``), ``_count.py``,
``_run.py``, ``_explain.py``, ``_train.py``, ``_serve.py``; ``_common.py`` holds what they
share (reading input within bounds, loading the presets, printing JSON).

Exit codes: 0 success (also when the reader of the output goes away, ``| head``), 1 runtime or
API error (including output that cannot be written, e.g. ``> /dev/full``), 2 usage or
configuration error (bad arguments, files, input past its bounds), 130 interrupted (Ctrl-C, at
any point after the interpreter has started). None of them prints a traceback; an unexpected
internal error prints one line (and the traceback only with ``LLMPRESETS_DEBUG=1``).
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

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CommandError", "main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

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
    try:
        parser = build_parser()  # imports every command module: Ctrl-C may land here
        with warnings.catch_warnings():
            # The CLI is an application: it owns the warning filters (each warning shown once).
            warnings.resetwarnings()
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            code = _dispatch(parser, argv)
        sys.stdout.flush()  # a full disk shows here, not as an error at interpreter exit
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (`| head`)
        return EXIT_OK
    except OSError as exc:  # stdout (or stderr) cannot be written: /dev/full, a closed pipe
        _silence_stdout()
        _error(f"cannot write the output ({exc.strerror or exc})")
        return EXIT_ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the flush at interpreter exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to silence
        pass


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
    except (KeyboardInterrupt, BrokenPipeError):
        raise  # main() ends these quietly
    except OSError as exc:  # e.g. a write to a full disk while printing
        _silence_stdout()
        where = f" ({exc.filename})" if exc.filename else ""
        _error(f"input/output error: {exc.strerror or exc}{where}")
        return EXIT_ERROR
    except RecursionError:
        _error("the input is nested too deeply")
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("LLMPRESETS_DEBUG"):
            raise
        _error(
            f"internal error: {type(exc).__name__}: {exc} (please report it; set "
            "LLMPRESETS_DEBUG=1 to see the traceback)"
        )
        return EXIT_ERROR
