"""``models``: the model registry — limits, efforts, sampling rule, rejected parameters, prices."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..config.params import SAMPLING_RULE_PARAMETERS
from ..config.providers import PROVIDER_NAMES
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
        "--provider",
        metavar="P",
        choices=PROVIDER_NAMES,
        help=f"only this provider's models ({', '.join(PROVIDER_NAMES)})",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the rules per model and the resolution table as Markdown (docs/models.md)",
    )
    parser.add_argument(
        "--providers-markdown",
        action="store_true",
        help="print one table per provider and what each preset becomes there (docs/providers.md)",
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
        "provider": spec.provider,
        "ranges": {name: list(bounds) for name, bounds in spec.ranges.items()},
        "conflicts": [conflict.model_dump(exclude_none=True) for conflict in spec.conflicts],
        "errors": dict(spec.errors),
        "thinking": spec.thinking,
        "sampling_with_thinking": spec.sampling_with_thinking,
        "tokenizer_public": spec.tokenizer_public,
        "notes": spec.notes,
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
    if args.providers_markdown:
        print(render_providers_markdown(book), end="")
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
    if args.provider:
        specs = [spec for spec in specs if spec.provider == args.provider]
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
        if spec.provider != "openai":
            continue  # docs/providers.md has the other providers
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


# The model each provider's "what each preset becomes" table is shown for (docs/providers.md).
FLAGSHIPS = {
    "anthropic": "claude-opus-5-5",
    "google": "gemini-3.1-pro-preview",
    "xai": "grok-4.7",
    "deepseek": "deepseek-v4-pro",
    "mistral": "mistral-large-latest",
    "openai-compatible": "my-local-model",
}
_LOCAL_URL = "http://localhost:8000/v1"


def render_providers_markdown(book: PresetBook) -> str:
    """One table per provider (knobs, ranges, refused combinations with the API's words,
    sources) and what each preset becomes on its flagship, as Markdown (docs/providers.md)."""
    from ..config.adapt import resolve
    from ..config.params import PARAMETERS
    from ..config.providers import PROVIDERS

    lines: list[str] = []
    for name, info in PROVIDERS.items():
        if name == "openai":
            continue
        lines += [
            f"## {info.label}",
            "",
            f"Endpoint: `{info.base_url or 'your server'}`; key: "
            + " or ".join(f"`{key}`" for key in info.key_env)
            + f"; source: {info.source} (checked {info.checked}). {info.notes}",
            "",
            "| knob | OpenAI-compatible endpoint | "
            + (f'`api="{info.native_api}"` | ' if info.native_api else "")
            + "range |",
            "|---|---|" + ("---|" if info.native_api else "") + "---|",
        ]
        for knob, entry in PARAMETERS.items():
            if knob in info.compat_ignored:
                compat = "ignored (not sent)"
            elif knob in info.extra_body:
                compat = "`extra_body`"
            elif info.takes(knob):
                compat = f"`{entry.spelling('chat') or knob}`"
            else:
                compat = "–"
            native = ""
            if info.native_api:
                spelled = info.native_params.get(knob)
                if knob == "reasoning_effort":
                    spelled = (
                        "thinking / output_config.effort"
                        if info.native_api == "anthropic"
                        else "thinking_config"
                    )
                native = f"`{spelled}` | " if spelled else "– | "
            lines.append(f"| `{knob}` | {compat} | {native}{_cell(entry.describe_range())} |")
        lines += [
            "",
            "| model | context | max output | efforts (default) | sampling | ranges | "
            "refused (the API's words) | counts | $/1M in / out | source |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for model in sorted(book.models):
            spec = book.model(model)
            if spec.provider != name:
                continue
            default = f" ({spec.default_effort})" if spec.default_effort else ""
            sampling = _SAMPLING[spec.sampling]
            if spec.efforts("chat") and spec.sampling != "always":
                sampling += f"; while thinking: {spec.sampling_with_thinking}"
            elif spec.sampling_with_thinking == "discouraged":
                sampling += "; defaults advised"
            refused = [
                f"{c.params[0]} + {c.params[1]} ({c.when}): “{c.message}”" for c in spec.conflicts
            ]
            refused += [
                f"{param}: “{spec.errors[param]}”" if param in spec.errors else param
                for param in sorted(spec.rejects)
            ]
            refused += [
                f"{param}: “{text}”"
                for param, text in sorted(spec.errors.items())
                if param not in spec.rejects
            ]
            ranges = ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in spec.ranges.items())
            cells = (
                model,
                _number(spec.context_window),
                _number(spec.max_output_tokens),
                (_efforts(spec) + default) if spec.efforts("chat") else "-",
                sampling,
                ranges or "-",
                "; ".join(refused) or "-",
                "exact" if spec.tokenizer_public else f"estimate ×{spec.estimate_factor:g}",
                _price(spec),
                f"[{spec.checked or 'unverified'}]({spec.source})" if spec.source else "-",
            )
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
            if spec.notes:
                lines.append(f"| | | | | | | _{_cell(spec.notes)}_ | | | |")
        flagship = FLAGSHIPS[name]
        targets: list[tuple[str, str, str | None]] = [
            (
                "chat",
                "OpenAI-compatible endpoint",
                _LOCAL_URL if name == "openai-compatible" else None,
            )
        ]
        if info.native_api:
            targets.append((info.native_api, f'`api="{info.native_api}"`', None))
        lines += [
            "",
            f"What each preset becomes on `{flagship}`:",
            "",
            "| use case | " + " | ".join(label for _, label, _ in targets) + " |",
            "|---|" + "---|" * len(targets),
        ]
        for use_case in book.names():
            shown_cells: list[str] = []
            for api, _, url in targets:
                sent = resolve(
                    use_case,
                    flagship,
                    api=api,  # type: ignore[arg-type]
                    config=book,
                    policy="silent",
                    base_url=url,
                ).kwargs
                shown = ", ".join(f"{k}={v}" for k, v in sent.items() if k != "model")
                shown_cells.append(_cell(shown or "(nothing)"))
            lines.append(f"| {use_case} | " + " | ".join(shown_cells) + " |")
        lines.append("")
    return "\n".join(lines)
