"""``presets``, ``validate`` and ``schema``: look at and check configuration."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from ..config.params import API_NAMES
from ._common import add_config_option, formatter, load_book, print_json

if TYPE_CHECKING:
    from ..config.adapt import Target

EXAMPLES_PRESETS = """examples:
  llmpresets presets
  llmpresets presets --model gpt-6-sol --api responses
  llmpresets presets --config my-presets.yaml --json"""
EXAMPLES_VALIDATE = """examples:
  llmpresets validate presets.yaml      # exit 0 when valid, 2 with file:line: field: problem"""
EXAMPLES_SCHEMA = """examples:
  llmpresets schema > presets.schema.json
  # then in presets.yaml:  # yaml-language-server: $schema=./presets.schema.json"""

_COLUMNS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "frequency_penalty",
    "presence_penalty",
    "max_output_tokens",
    "reasoning_effort",
    "verbosity",
)
_HEADERS = (
    "use case",
    "temp",
    "top_p",
    "top_k",
    "min_p",
    "freq",
    "pres",
    "max_out",
    "effort",
    "verbosity",
    "description",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "presets",
        help="show the resolved presets (defaults + your file)",
        description="Show every preset after layering the packaged defaults and your file.",
        epilog=EXAMPLES_PRESETS,
        formatter_class=formatter,
    )
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--model",
        "-m",
        help="show what each preset sends to this model, and what it leaves out and why",
    )
    parser.add_argument(
        "--api",
        choices=(*API_NAMES, "anthropic", "gemini"),
        help="with --model: the endpoint (default: chat, or responses for a model served only "
        "there); anthropic / gemini: the kwargs of that provider's own SDK",
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="with --model: where the request goes (a provider's URL or a local server)",
    )
    parser.set_defaults(handler=_presets)

    parser = subparsers.add_parser(
        "validate",
        help="check a presets.yaml file",
        description="Validate FILE layered over the packaged defaults. Exit 0 if valid, 2 if not.",
        epilog=EXAMPLES_VALIDATE,
        formatter_class=formatter,
    )
    parser.add_argument("file", metavar="FILE", help="the YAML file to check")
    parser.set_defaults(handler=_validate)

    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of presets.yaml",
        description="Print a JSON Schema of presets.yaml for editor validation and completion.",
        epilog=EXAMPLES_SCHEMA,
        formatter_class=formatter,
    )
    parser.set_defaults(handler=_schema)


def _cell(value: object) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _presets(args: argparse.Namespace) -> int:
    book = load_book(args)
    if args.model:
        return _presets_for_model(args, book)
    if args.json:
        print_json(
            {
                "sources": list(book.sources),
                "presets": {name: book[name].model_dump(exclude={"name"}) for name in book.names()},
            }
        )
        return 0
    rows = [
        [
            name,
            *(_cell(getattr(book[name], column)) for column in _COLUMNS),
            book[name].description or "",
        ]
        for name in book.names()
    ]
    last = len(_HEADERS) - 1  # the description, not padded
    widths = [max(len(str(row[i])) for row in [list(_HEADERS), *rows]) for i in range(last)]
    for row in [list(_HEADERS), *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[last]]).rstrip())
    print(f"\nsources: {' < '.join(book.sources)}", file=sys.stderr)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from ..config.presets import load_presets

    book = load_presets(args.file)
    print(f"{args.file}: valid ({len(book)} presets, {len(book.models)} models)")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from ..config.presets import config_json_schema

    print(json.dumps(config_json_schema(), indent=2))
    return 0


def _presets_for_model(args: argparse.Namespace, book: Any) -> int:
    """Each preset as sent to ``--model`` on ``--api``: the kwargs, then what was adapted."""
    from ..config.adapt import resolve

    api: Target = args.api or (
        "chat" if "chat" in book.model(args.model).endpoints else "responses"
    )
    report = {}
    for name in book.names():
        resolution = resolve(
            name, args.model, api=api, config=book, policy="silent", base_url=args.base_url
        )
        report[name] = {"sent": resolution.kwargs, "adapted": resolution.dropped}
    if args.json:
        print_json({"model": args.model, "api": api, "presets": report})
        return 0
    for name, entry in report.items():
        sent = {k: v for k, v in entry["sent"].items() if k != "model"}
        shown = ", ".join(f"{key}={value}" for key, value in sent.items()) or "(nothing)"
        print(f"{name}: {shown}")
        for parameter, why in entry["adapted"].items():
            print(f"  {parameter}: {why}")
    return 0
