"""``run``: send a prompt with a use case's preset, online with a key, offline without one."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from typing import TYPE_CHECKING, Any

from ..config.params import API_NAMES, PARAMETERS
from . import CommandError
from ._common import add_config_option, formatter, load_book, print_json, read_input

if TYPE_CHECKING:
    from ..client.client import ChatResult, Client
    from ..config.presets import PresetBook

EXAMPLES = """examples:
  llmpresets run "Write a function that reverses a string" --use-case code
  echo "Name three colours" | llmpresets run - --use-case brainstorm --n 3
  llmpresets run "Tell me a story" --use-case creative --temperature 1.1 --stream
  llmpresets run "Ideas for a team offsite" --compare --samples 3 --seed 1
  llmpresets run "hi" --json | jq .usage

Offline (the local sampler, no key, no network) is the default when OPENAI_API_KEY is not set;
--offline forces it. The sampling settings are the preset's, adapted to --model, with your
overrides on top."""


def _flag_type(kind: str) -> Any:
    return {"float": float, "int": int}.get(kind, str)


# The sampling / reasoning flags come from the parameter table: (flag, type, choices, name).
_OVERRIDES = tuple(
    (entry.cli_flag, _flag_type(entry.kind), entry.choices or None, name)
    for name, entry in PARAMETERS.items()
    if entry.cli_flag is not None
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="send a prompt with a use case's preset (offline without a key)",
        description="Send PROMPT with the preset of --use-case and print the reply.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    parser.add_argument("prompt", nargs="?", metavar="PROMPT", help="the prompt, or - for stdin")
    parser.add_argument("--use-case", "-u", default="chat", help="preset to use (default: chat)")
    parser.add_argument("--model", "-m", help="model name (default: settings.default_model)")
    parser.add_argument("--system", help="a system message to send first")
    parser.add_argument("--seed", type=int, help="seed: the same seed gives the same reply")
    parser.add_argument("--n", type=int, default=None, help="number of choices")
    parser.add_argument("--stream", action="store_true", help="print the reply as it arrives")
    parser.add_argument(
        "--api",
        choices=API_NAMES,
        help="endpoint: chat (/v1/chat/completions) or responses (/v1/responses); default: "
        "chat, or responses for a model served only there",
    )
    parser.add_argument("--offline", action="store_true", help="use the offline backend")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.add_argument(
        "--compare", action="store_true", help="run the prompt under every preset, side by side"
    )
    parser.add_argument(
        "--samples", type=int, default=3, help="samples per preset with --compare (default: 3)"
    )
    group = parser.add_argument_group("sampling and reasoning overrides (beat the preset)")
    for flag, kind, choices, _ in _OVERRIDES:
        group.add_argument(flag, type=kind, choices=choices, metavar="X" if not choices else None)
    add_config_option(parser)
    parser.set_defaults(handler=_run)


def _read_prompt(args: argparse.Namespace) -> str:
    prompt = args.prompt
    if prompt is None and not sys.stdin.isatty():
        prompt = "-"
    if prompt is None:
        raise CommandError("give a PROMPT argument, or - to read it from stdin")
    if prompt == "-":
        prompt = read_input("-", what="prompt")[1]
    if not prompt.strip():
        raise CommandError("the prompt is empty")
    return str(prompt)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    values = {name: getattr(args, flag[2:].replace("-", "_")) for flag, _, _, name in _OVERRIDES}
    overrides = {name: value for name, value in values.items() if value is not None}
    if args.n is not None:
        if args.n < 1:
            raise CommandError(f"--n must be at least 1, got {args.n}")
        overrides["n"] = args.n
    if args.seed is not None:
        overrides["seed"] = args.seed
    return overrides


def _make_client(args: argparse.Namespace, book: PresetBook) -> Client:
    from .._errors import MissingAPIKeyError
    from ..client.client import Client

    try:
        return Client(
            args.model, offline=True if args.offline else None, seed=args.seed, config=book
        )
    except MissingAPIKeyError:
        print(
            "llmpresets: no OPENAI_API_KEY set; running offline (local sampler, no network)",
            file=sys.stderr,
        )
        return Client(args.model, offline=True, seed=args.seed, config=book)


def _messages(args: argparse.Namespace, prompt: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": args.system}] if args.system else []
    return [*messages, {"role": "user", "content": prompt}]


def _summary(result: ChatResult, use_case: str) -> str:
    shown = {k: v for k, v in result.params.items() if k not in ("model", "stream_options", "seed")}
    settings = " ".join(f"{k}={v}" for k, v in shown.items())
    usage = result.usage
    tokens = f"{usage.prompt_tokens}+{usage.completion_tokens} tokens" if usage else "usage n/a"
    return f"[{use_case} · {result.model} · {settings} · {tokens} · {result.finish_reason}]"


def _result_json(result: ChatResult, use_case: str, offline: bool) -> dict[str, Any]:
    return {
        "use_case": use_case,
        "offline": offline,
        "model": result.model,
        "text": result.text,
        "texts": result.texts,
        "finish_reason": result.finish_reason,
        "usage": result.usage.model_dump() if result.usage else None,
        "params": result.params,
        "dropped": result.dropped,
        "cost_usd": result.cost,
        "budget": dataclasses.asdict(result.budget),
    }


def _run(args: argparse.Namespace) -> int:
    prompt = _read_prompt(args)
    book = load_book(args)
    if args.compare:
        return _compare(args, book, prompt)
    book[args.use_case]  # an unknown use case fails here, before any client is made
    client = _make_client(args, book)
    messages = _messages(args, prompt)
    overrides = _overrides(args)
    if _api(args, book) == "responses":
        return _run_responses(args, client, prompt, overrides)
    if args.stream and overrides.get("n", 1) > 1:
        raise CommandError("--stream prints one reply as it arrives; drop --n or --stream")
    if args.stream and not args.json:
        stream = client.stream(messages, args.use_case, **overrides)
        for delta in stream:
            sys.stdout.write(delta)
            sys.stdout.flush()
        sys.stdout.write("\n")
        print(_summary(stream.result, args.use_case), file=sys.stderr)
        return 0
    result = client.chat(messages, args.use_case, **overrides)
    if args.json:
        print_json(_result_json(result, args.use_case, client.offline))
        return 0
    for index, text in enumerate(result.texts):
        if len(result.texts) > 1:
            print(f"--- choice {index}")
        print(text)
    print(_summary(result, args.use_case), file=sys.stderr)
    return 0


def _api(args: argparse.Namespace, book: PresetBook) -> str:
    """--api, else chat unless the model is served only on /v1/responses."""
    if args.api is not None:
        return str(args.api)
    endpoints = book.model(args.model or book.settings.default_model).endpoints
    return "chat" if "chat" in endpoints else "responses"


def _run_responses(
    args: argparse.Namespace, client: Client, prompt: str, overrides: dict[str, Any]
) -> int:
    """The same run through the Responses API (no n, seed or stop there)."""
    if "n" in overrides:
        raise CommandError("--n is a chat completions option; the Responses API has no n")
    overrides.pop("seed", None)  # the backend is seeded by the client; the API has no seed
    if args.stream and not args.json:
        stream = client.respond_stream(prompt, args.use_case, instructions=args.system, **overrides)
        for event in stream:
            if event.type == "response.output_text.delta":
                sys.stdout.write(event.delta)
                sys.stdout.flush()
        sys.stdout.write("\n")
        result = stream.result
    else:
        result = client.respond(prompt, args.use_case, instructions=args.system, **overrides)
        if args.json:
            print_json(
                {
                    "use_case": args.use_case,
                    "offline": client.offline,
                    "api": "responses",
                    "model": result.model,
                    "id": result.id,
                    "text": result.text,
                    "status": result.status,
                    "usage": result.usage.model_dump() if result.usage else None,
                    "params": result.params,
                    "dropped": result.dropped,
                    "cost_usd": result.cost,
                }
            )
            return 0
        print(result.text)
    shown = {k: v for k, v in result.params.items() if k != "model"}
    settings = " ".join(f"{k}={v}" for k, v in shown.items())
    usage = result.usage
    tokens = f"{usage.input_tokens}+{usage.output_tokens} tokens" if usage else "usage n/a"
    print(
        f"[{args.use_case} · {result.model} · responses · {settings} · {tokens} · {result.status}]",
        file=sys.stderr,
    )
    return 0


def _distinct_bigram_ratio(texts: list[str]) -> float:
    bigrams = [
        (a, b) for text in texts for a, b in zip(text.split(), text.split()[1:], strict=False)
    ]
    return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def _compare(args: argparse.Namespace, book: PresetBook, prompt: str) -> int:
    if args.samples < 1:
        raise CommandError(f"--samples must be at least 1, got {args.samples}")
    client = _make_client(args, book)
    messages = _messages(args, prompt)
    overrides = _overrides(args)
    base_seed = overrides.pop("seed", None)
    report: dict[str, Any] = {}
    # Coolest first, so the rows read from focused to diverse.
    order = sorted(
        book.names(),
        key=lambda name: (book[name].temperature is None, book[name].temperature or 0.0, name),
    )
    for use_case in order:
        texts = []
        params: dict[str, Any] = {}
        for sample in range(args.samples):
            seed = None if base_seed is None else base_seed + sample
            result = client.chat(messages, use_case, seed=seed, **overrides)
            texts.append(result.text)
            params = {k: v for k, v in result.params.items() if k not in ("model", "seed")}
        report[use_case] = {
            "params": params,
            "texts": texts,
            "distinct": len(set(texts)),
            "distinct_bigram_ratio": round(_distinct_bigram_ratio(texts), 3),
        }
    if args.json:
        print_json({"prompt": prompt, "offline": client.offline, "presets": report})
        return 0
    width = max(40, min(shutil.get_terminal_size((100, 24)).columns, 160))
    for use_case, entry in report.items():
        settings = " ".join(f"{k}={v}" for k, v in entry["params"].items())
        print(f"== {use_case}  ({settings})")
        print(
            f"   {entry['distinct']}/{args.samples} distinct · "
            f"distinct-bigram ratio {entry['distinct_bigram_ratio']:.2f}"
        )
        for index, text in enumerate(entry["texts"], 1):
            flat = " ".join(text.split())
            room = width - 6
            shown = flat if len(flat) <= room else flat[: room - 1] + "…"
            print(f"  {index}. {shown}")
        print()
    return 0
