"""``models``: the model registry — limits, efforts, sampling rule, rejected parameters, prices."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..config.params import SAMPLING_RULE_PARAMETERS
from ._common import add_config_option, check_model_name, formatter, load_book, print_json

if TYPE_CHECKING:
    from ..config.models import ModelSpec, Prices
    from ..config.presets import PresetBook

EXAMPLES = """examples:
  llmpresets models                  # one line per model
  llmpresets models gpt-6.2-astra    # everything known about one model
  llmpresets models --json | jq '.["gpt-5.1"].prices'

Facts come from each model's official page (source, checked date); declare your own models
under models: in presets.yaml (see `llmpresets schema`)."""

_SAMPLING = {
    "always": "always",
    "effort_none": "at effort none",
    "never": "never",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the model registry (limits, efforts, sampling rule, prices)",
        description="Show the models the registry knows, or everything about NAME.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="one model (snapshots resolve)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the rules per model and the resolution table as Markdown (docs/models.md)",
    )
    add_config_option(parser)
    parser.set_defaults(handler=_models)


def model_facts(spec: ModelSpec) -> dict[str, Any]:
    """Everything the registry says of one model, as plain data."""
    return {
        "name": spec.name,
        "known": spec.known,
        "family": spec.family,
        "context_window": spec.context_window,
        "max_input_tokens": spec.max_input_tokens,
        "max_output_tokens": spec.max_output_tokens,
        "encoding": spec.encoding,
        "encoding_published": spec.encoding_published,
        "reasoning": spec.reasoning,
        **spec.capabilities,
        "prices": spec.prices.model_dump() if spec.prices is not None else None,
        "source": spec.source,
        "checked": spec.checked,
    }


def _number(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _price(spec: ModelSpec) -> str:
    prices = spec.prices
    if prices is None:
        return "?"
    cached = "" if prices.cached_input is None else f" (cached {prices.cached_input:g})"
    return f"${prices.input:g}{cached} / ${prices.output:g}"


def _efforts(spec: ModelSpec) -> str:
    chat, responses = spec.efforts("chat"), spec.efforts("responses")
    if not chat and not responses:
        return "-"
    text = ",".join(chat)
    extra = [effort for effort in responses if effort not in chat]
    if extra:
        text += f" (+{','.join(extra)} on responses)"
    return text


def _long_context(prices: Prices) -> str:
    long = prices.long_context
    if long is None:
        return ""
    return (
        f" (above {long.above_input_tokens:,} in: {long.input_multiplier:g}x / "
        f"{long.output_multiplier:g}x)"
    )


def _tools_with_effort(spec: ModelSpec) -> str:
    if spec.tools_with_effort:
        return "yes"
    if "none" in spec.efforts("chat"):
        return "only on /v1/responses (chat: effort none)"
    return "only on /v1/responses"


def _models(args: argparse.Namespace) -> int:
    book = load_book(args)
    if args.markdown:
        print(render_markdown(book), end="")
        return 0
    if args.name:
        check_model_name(args.name, book)
        spec = book.model(args.name)
        if args.json:
            print_json(model_facts(spec))
            return 0
        _print_one(spec)
        return 0
    specs = [book.model(name) for name in sorted(book.models)]
    if args.json:
        print_json({spec.name: model_facts(spec) for spec in specs})
        return 0
    headers = ("model", "context", "output", "efforts", "sampling", "$/1M in / out")
    rows = [
        (
            spec.name,
            _number(spec.context_window),
            _number(spec.max_output_tokens),
            _efforts(spec),
            _SAMPLING[spec.sampling],
            _price(spec),
        )
        for spec in specs
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    print(f"\n{len(rows)} models; `llmpresets models NAME` for one in full", file=sys.stderr)
    return 0


def _print_one(spec: ModelSpec) -> None:
    status = (
        ""
        if spec.known
        else (
            f"  (not in the registry: rules of {spec.family}, limits unknown)"
            if spec.family
            else "  (not in the registry: limits and rules unknown)"
        )
    )
    lines = [
        f"{spec.name}{status}",
        f"  context window     {_number(spec.context_window)} tokens",
        f"  max input          {_number(spec.max_input_tokens)} tokens",
        f"  max output         {_number(spec.max_output_tokens)} tokens (reasoning included)",
        f"  encoding           {spec.encoding} "
        f"({'published' if spec.encoding_published else 'presumed'})",
        f"  reasoning efforts  {_efforts(spec)}"
        + (f"; default {spec.default_effort}" if spec.default_effort else ""),
        f"  sampling params    {_SAMPLING[spec.sampling]} ({', '.join(SAMPLING_RULE_PARAMETERS)})",
        f"  rejects            {', '.join(sorted(spec.rejects)) or '-'}",
        f"  verbosity          {'yes' if spec.verbosity else 'no'}",
        f"  tools with effort  {_tools_with_effort(spec)}",
        f"  endpoints          {', '.join(spec.endpoints)}",
        f"  prices per 1M      {_price(spec)}",
    ]
    if spec.prices is not None and spec.prices.long_context is not None:
        long = spec.prices.long_context
        lines.append(
            f"  long prompts       above {long.above_input_tokens:,} input tokens: "
            f"{long.input_multiplier:g}x input, {long.output_multiplier:g}x output"
        )
    lines.append(f"  source             {spec.source or '-'} (checked {spec.checked or '-'})")
    print("\n".join(lines))


# One model per rule set, for the resolution table of docs/models.md.
RESOLUTION_MODELS = (
    "gpt-4o",
    "o3",
    "gpt-5",
    "gpt-5.1",
    "gpt-6-sol",
    "gpt-6-astra",
    "gpt-6.2-astra",
)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")


def render_markdown(book: PresetBook) -> str:
    """The registry's rules per model and what each preset sends, as Markdown tables."""
    from ..config.adapt import resolve
    from ..config.params import API_NAMES, PARAMETERS

    lines = [
        "## The parameter table",
        "",
        "| our name | " + " | ".join(f"`{api}` endpoint" for api in API_NAMES) + " | values | "
        "providers |",
        "|---|" + "---|" * len(API_NAMES) + "---|---|",
    ]
    for name, entry in PARAMETERS.items():
        spelled = []
        for api in API_NAMES:
            plain, reasoning = entry.spelling(api), entry.spelling(api, reasoning=True)
            text = "–" if plain is None else f"`{plain}`"
            if reasoning != plain and reasoning is not None:
                text += f" (reasoning models: `{reasoning}`)"
            spelled.append(text)
        providers = "OpenAI-compatible only (`extra_body`)" if entry.compatible_only else "all"
        lines.append(
            f"| `{name}` | "
            + " | ".join(spelled)
            + f" | {_cell(entry.describe_range())} | {providers} |"
        )
    lines += [
        "",
        "## Rules per model",
        "",
        "| model | context | max output | efforts (default) | sampling | rejects | "
        "tools + effort on chat | verbosity | $/1M in / cached / out | checked |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted(book.models):
        spec = book.model(name)
        default = f" ({spec.default_effort})" if spec.default_effort else ""
        prices = spec.prices
        price = (
            "?"
            if prices is None
            else f"{prices.input:g} / "
            f"{'-' if prices.cached_input is None else f'{prices.cached_input:g}'} / "
            f"{prices.output:g}" + _long_context(prices)
        )
        lines.append(
            "| "
            + " | ".join(
                _cell(cell)
                for cell in (
                    f"[{name}]({spec.source})" if spec.source else name,
                    _number(spec.context_window),
                    _number(spec.max_output_tokens),
                    _efforts(spec) + default,
                    _SAMPLING[spec.sampling],
                    ", ".join(sorted(spec.rejects)) or "-",
                    "yes" if spec.tools_with_effort else "no",
                    "yes" if spec.verbosity else "no",
                    price,
                    spec.checked or "unverified",
                )
            )
            + " |"
        )
    lines += [
        "",
        "## What each preset sends",
        "",
        "`resolve_params(use_case, model)` for `/v1/chat/completions` (what `Client.chat` "
        "sends); packaged defaults the model does not take are left out quietly.",
        "",
        "| use case | " + " | ".join(RESOLUTION_MODELS) + " |",
        "|---|" + "---|" * len(RESOLUTION_MODELS),
    ]
    for use_case in book.names():
        cells = []
        for model in RESOLUTION_MODELS:
            sent = resolve(use_case, model, config=book, policy="silent").kwargs
            shown = ", ".join(f"{k}={v}" for k, v in sent.items() if k != "model")
            cells.append(_cell(shown or "(nothing)"))
        lines.append(f"| {use_case} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
