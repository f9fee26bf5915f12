"""``count``: tokens of a text or a chat request, against the model's limits."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from . import CommandError
from ._common import add_config_option, formatter, load_book, load_json, print_json, read_input

if TYPE_CHECKING:
    from ..tokens.fit import Budget

EXAMPLES = """examples:
  llmpresets count README.md --model gpt-4.1
  git diff | llmpresets count --model gpt-4o-mini
  llmpresets count chat.json --messages --model gpt-5 --max-output-tokens 8000
  llmpresets count chat.json --messages --json | jq .remaining

--messages reads JSON: a list of chat messages, or an object with "messages" and optionally
"tools" (a whole chat request body works: its "model" and "max_tokens" /
"max_completion_tokens" are used unless given here).

Exit status: 0 when the input fits the model (or its limits are unknown), 1 when it does not
(or when the output reserved leaves no room for a prompt), 2 for unreadable input, invalid
JSON or a bad message shape."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "count",
        help="count the tokens of a text or a chat request",
        description="Count tokens with the model's own tokenizer (offline) and show how they "
        "sit in its context window: limits, percent used and what remains.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    parser.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        help="the input; '-' or nothing for standard input",
    )
    parser.add_argument("--model", "-m", help="the model (default: settings.default_model)")
    parser.add_argument(
        "--messages",
        action="store_true",
        help='the input is JSON chat messages (a list, or {"messages": [...], "tools": [...]})',
    )
    parser.add_argument(
        "--max-output-tokens",
        type=_positive_int,
        metavar="N",
        help="reserve N tokens for the reply (default: whatever room the prompt leaves, up to "
        "the model's max output)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_config_option(parser)
    parser.set_defaults(handler=_count)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _read(file: str | None) -> tuple[str, str]:
    """(source name, text) of FILE, or of standard input (bounded, see read_input)."""
    if file is None and sys.stdin.isatty():
        raise CommandError("no input: give a FILE, or pipe text in (use - for stdin)")
    return read_input(file or "-")


def _request(source: str, text: str) -> tuple[list[Any], list[Any] | None, dict[str, Any]]:
    """(messages, tools, the request body's own settings) from JSON text."""

    data = load_json(source, text)
    if isinstance(data, list):
        return data, None, {}
    if not isinstance(data, dict) or "messages" not in data:
        raise CommandError(
            f'{source}: expected a list of messages or an object with "messages", '
            f"got {type(data).__name__ if not isinstance(data, dict) else 'an object without it'}"
        )
    messages, tools = data["messages"], data.get("tools")
    if not isinstance(messages, list):
        raise CommandError(f'{source}: "messages" must be a list')
    if tools is not None and not isinstance(tools, list):
        raise CommandError(f'{source}: "tools" must be a list')
    return messages, tools, data


def _count(args: argparse.Namespace) -> int:
    # An unknown model's UnknownModelLimitsWarning is shown by the CLI's warning display.
    from .._errors import MessageFormatError
    from ..tokens.counting import count_message_tokens, count_tokens
    from ..tokens.fit import budget_for_tokens

    book = load_book(args)
    source, text = _read(args.file)
    model: str | None = args.model
    max_output: int | None = args.max_output_tokens
    message_count: int | None = None
    if args.messages:
        messages, tools, body = _request(source, text)
        model = model or _body_str(body, "model")
        if max_output is None:
            max_output = _body_int(body, "max_completion_tokens") or _body_int(body, "max_tokens")
        model = model or book.settings.default_model
        try:
            tokens = count_message_tokens(messages, model, tools, config=book)
        except MessageFormatError as exc:
            raise CommandError(f"{source}: {exc}") from None
        message_count = len(messages)
    else:
        model = model or book.settings.default_model
        tokens = count_tokens(text, model, config=book)
    budget = budget_for_tokens(tokens, model, max_output, config=book, strict=False)
    # What the prompt costs as input at the model's list price (None: prices unknown).
    input_cost = book.model(model).cost(tokens, 0)
    if args.json:
        print_json({**_as_json(budget, message_count), "input_cost_usd": input_cost})
    else:
        _print(budget, message_count, input_cost)
    return 0 if budget.fits else 1


def _body_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and value else None


def _body_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _no_room(budget: Budget) -> bool:
    """The output reserved fills the whole context window: no prompt can fit."""
    return budget.prompt_limit is not None and budget.prompt_limit <= 0


def _as_json(budget: Budget, message_count: int | None) -> dict[str, Any]:
    # No room for a prompt: the limit is 0, not negative, and no percentage (not Infinity).
    no_room = _no_room(budget)
    percent = None if no_room else budget.percent_used
    limit = 0 if no_room else budget.prompt_limit
    return {
        "model": budget.model,
        "encoding": budget.encoding,
        "tokens": budget.prompt_tokens,
        "exact": budget.exact,
        "messages": message_count,
        "context_window": budget.context_window,
        "max_input_tokens": budget.max_input_tokens,
        "max_output_tokens": budget.max_output_tokens,
        "reserved_output_tokens": budget.reserved_output_tokens,
        "prompt_limit": limit,
        "remaining": None if limit is None else limit - budget.prompt_tokens,
        "percent_used": None if percent is None else round(percent, 2),
        "fits": budget.fits,
    }


def _number(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _cost(input_cost: float | None) -> str:
    if input_cost is None:
        return "unknown (no price for this model in the registry)"
    return f"${input_cost:.6f}".rstrip("0").rstrip(".") + " as input, uncached"


def _print(budget: Budget, message_count: int | None, input_cost: float | None = None) -> None:
    what = f" in {_plural(message_count, 'message')}" if message_count is not None else ""
    rows = [
        ("model", f"{budget.model} ({budget.encoding})"),
        (
            "tokens",
            f"{budget.prompt_tokens:,}{what}"
            + (
                ""
                if budget.exact
                else " (estimate: the tokenizer is not public; o200k count with a safety margin)"
            ),
        ),
        (
            "limits",
            f"context window {_number(budget.context_window)}, max input "
            f"{_number(budget.max_input_tokens)}, max output {_number(budget.max_output_tokens)}",
        ),
    ]
    rows.append(("cost", _cost(input_cost)))
    reserved, model_max = budget.reserved_output_tokens, budget.max_output_tokens
    if budget.known and model_max is not None and reserved > model_max:
        rows.append(
            ("note", f"{reserved:,} reserved for output is over {budget.model}'s max output")
        )
    if budget.remaining is None:
        rows.append(("remaining", "unknown: declare the model under 'models:' in presets.yaml"))
    elif _no_room(budget):
        window = budget.context_window or 0
        fills = "exceed" if reserved > window else "fill"
        rows.append(
            (
                "remaining",
                f"none: the {reserved:,} tokens reserved for output {fills} the {window:,}-token "
                "context window, leaving no room for a prompt; reserve fewer",
            )
        )
    else:
        percent = budget.percent_used or 0.0
        shown = "<0.01" if 0 < percent < 0.01 else f"{percent:.2f}"
        rows.append(("used", f"{shown}% of the {budget.prompt_limit:,}-token prompt limit"))
        if budget.fits:
            rows.append(
                (
                    "remaining",
                    f"{_plural(budget.remaining, 'prompt token')} "
                    f"({budget.reserved_output_tokens:,} kept for output)",
                )
            )
        else:
            over = _plural(-budget.remaining, "token")
            rows.append(("remaining", f"none: over the limit by {over}"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")
