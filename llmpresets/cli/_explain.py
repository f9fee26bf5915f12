"""``explain``: picture what temperature, top-k, top-p and min-p do to a next-token distribution.

Every number comes from ``llmpresets.sampling.steps``, so the picture is the maths the sampler
runs, step by step.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ..config.params import PARAMETERS
from . import CommandError
from ._common import add_config_option, formatter, load_book, print_json, use_color

if TYPE_CHECKING:
    from ..config.presets import Preset, PresetBook
    from ..sampling import SamplingStep

EXAMPLES = """examples:
  llmpresets explain                              # the chat preset on "The cat ..."
  llmpresets explain --use-case code
  llmpresets explain --use-case creative --temperature 1.5
  llmpresets explain --temperature 0.7 --top-p 0.9 --probs "yes=0.6,no=0.3,maybe=0.1"
  llmpresets explain --use-case factual --prompt "The capital of France is"
  llmpresets explain --use-case chat --json | jq '.steps[-1].kept'

With no --use-case and no sampling flags, the chat preset is shown. With a use case, the settings
are those run would send to --model (OpenAI has no top-k / min-p; reasoning models take no
sampling parameters at an effort), and the notes say what is not sent and why. Sampling flags
override the preset's values and take the ranges run and presets.yaml take (temperature 0-2,
top-k >= 1, top-p in (0, 1], min-p in [0, 1]); --top-p 1 and --min-p 0 filter nothing. The default
distribution is the classic example: after "The cat", sat 40%, walked 25%, jumped 18%, ran 10%,
flew 5%, other 2%. --prompt asks the offline model for its first reply token instead, and a
note says which output contract the offline backend reads from that prompt (and --system's
text, a system message), e.g. "reading the prompt: labels(billing|bug|feature|other)"."""

CLASSIC_PROMPT = "The cat"
CLASSIC = (
    ("sat", 0.40),
    ("walked", 0.25),
    ("jumped", 0.18),
    ("ran", 0.10),
    ("flew", 0.05),
    ("other", 0.02),
)
SHOWN = 12  # rows per step; a bigger vocabulary gets an "(N others)" row
MIN_WIDTH, MAX_WIDTH = 40, 400
EIGHTHS = " ▏▎▍▌▋▊▉"
FIELDS = ("temperature", "top_k", "top_p", "min_p")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show what a preset's sampling settings do to a next-token distribution",
        description="Show a next-token distribution before and after each sampling step "
        "(temperature, top-k, top-p, min-p): which tokens each step cuts, how many remain, "
        "and the entropy before and after.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    parser.add_argument("--use-case", "-u", metavar="NAME", help="a preset (e.g. code, chat)")
    parser.add_argument(
        "--temperature",
        "-t",
        type=_number("temperature"),
        metavar="T",
        help=f"{PARAMETERS['temperature'].describe_range()}; 0 = greedy",
    )
    parser.add_argument(
        "--top-k",
        type=_whole("top-k"),
        metavar="K",
        help=f"keep the K likeliest tokens ({PARAMETERS['top_k'].describe_range()})",
    )
    parser.add_argument(
        "--top-p",
        type=_number("top-p"),
        metavar="P",
        help=f"{PARAMETERS['top_p'].describe_range()}; 1 filters nothing",
    )
    parser.add_argument(
        "--min-p",
        type=_number("min-p"),
        metavar="M",
        help=f"{PARAMETERS['min_p'].describe_range()}; 0 filters nothing",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--probs",
        metavar="LIST",
        help='your own distribution, e.g. "yes=0.6,no=0.3,maybe=0.1" (normalised if needed)',
    )
    source.add_argument(
        "--prompt", metavar="TEXT", help="use the offline model's first reply token for TEXT"
    )
    parser.add_argument(
        "--system",
        metavar="TEXT",
        help="with --prompt: a system message, read with it for an output contract",
    )
    parser.add_argument(
        "--model",
        "-m",
        help="the model whose rules decide what is sent, as run does; with --prompt also its "
        "tokenizer (default: settings.default_model)",
    )
    parser.add_argument(
        "--width",
        type=_whole("width"),
        metavar="N",
        help=f"columns, {MIN_WIDTH} to {MAX_WIDTH} (default: the terminal's)",
    )
    parser.add_argument("--json", action="store_true", help="print every number as JSON")
    add_config_option(parser)
    parser.set_defaults(handler=_explain)


def _number(flag: str) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        return value

    parse.__name__ = flag
    return parse


def _whole(flag: str) -> Any:
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None

    parse.__name__ = flag
    return parse


# --------------------------------------------------------------------------- inputs


@dataclass
class _Distribution:
    title: str
    tokens: list[str]
    weights: list[float]  # positive and finite; proportional to the probabilities
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)


def _parse_probs(text: str) -> _Distribution:
    """``"a=0.5,b=0.3"`` as a distribution: names unique, numbers finite and positive;
    normalised (with a note) when they do not sum to 1."""
    tokens: list[str] = []
    values: list[float] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, number = item.rpartition("=")
        name = name.strip()
        if not equals or not name:
            raise CommandError(
                f"--probs: expected NAME=NUMBER items separated by commas, got {item!r}"
            )
        if name in tokens:
            raise CommandError(f"--probs: {name!r} appears twice; names must be unique")
        tokens.append(name)
        values.append(_weight(name, number.strip()))
    if not tokens:
        raise CommandError('--probs: no NAME=NUMBER items, e.g. --probs "yes=0.6,no=0.4"')
    try:
        total: float | None = math.fsum(values)
    except OverflowError:  # e.g. 1e308 + 1e308; the weights themselves are still fine
        total = None
    notes = []
    if total is None or not math.isfinite(total):
        total = None
        notes.append("the numbers sum past the largest float; normalised to 1")
    elif abs(total - 1.0) > 1e-9:
        notes.append(f"the probabilities summed to {total:g}; normalised to 1")
    return _Distribution(
        "Next token: your distribution",
        tokens,
        values,
        notes,
        {"kind": "probs", "sum": total},
    )


def _weight(name: str, number: str) -> float:
    """One --probs number: positive and finite (a weight; normalising comes later)."""
    try:
        value = float(number)
    except ValueError:
        raise CommandError(f"--probs: {name}: {number!r} is not a number") from None
    if math.isinf(value) and "inf" not in number.lower():
        raise CommandError(f"--probs: {name}: {number} is too large for a float")
    if value == 0 and any(digit in "123456789" for digit in number.lower().partition("e")[0]):
        raise CommandError(f"--probs: {name}: {number} is too small for a float (it is 0)")
    if not (math.isfinite(value) and value > 0):
        raise CommandError(
            f"--probs: {name}: probability must be a finite positive number, got {number}"
        )
    return value


def _classic() -> _Distribution:
    return _Distribution(
        f"Next token after {CLASSIC_PROMPT!r}",
        [token for token, _ in CLASSIC],
        [weight for _, weight in CLASSIC],
        source={"kind": "example", "prompt": CLASSIC_PROMPT},
    )


def _from_prompt(prompt: str, model: str, book: PresetBook, use_case: str | None) -> _Distribution:
    from ..offline import next_token_distribution

    pairs = next_token_distribution(prompt, model, top=None, config=book, use_case=use_case)
    pairs = [(token, probability) for token, probability in pairs if probability > 0]
    if not pairs:
        raise CommandError(f"the offline model gave no next token for {prompt!r}")
    return _Distribution(
        f"First reply token to {prompt!r} (offline model, {model})",
        [token for token, _ in pairs],
        [weight for _, weight in pairs],
        source={"kind": "prompt", "prompt": prompt, "model": model},
    )


def _reading_note(prompt: str, system: str | None, book: PresetBook) -> str:
    """What the offline backend reads from the prompt: the output contract, if any."""
    if not book.offline.read_prompt:
        return "reading the prompt: off (offline.read_prompt: false)"
    from ..offline import read_contract

    messages = [{"role": "system", "content": system}] if system else []
    contract = read_contract([*messages, {"role": "user", "content": prompt}])
    if contract is None:
        return "reading the prompt: no output contract (free text)"
    return f"reading the prompt: {contract.summary}"


def _label(token: str) -> str:
    """A token as shown: quoted when spaces at its ends or control characters would hide."""
    if token and token == token.strip() and token.isprintable():
        return token
    return repr(token)


class _Settings(NamedTuple):
    temperature: float
    top_k: int | None
    top_p: float | None
    min_p: float | None


def _settings(
    args: argparse.Namespace, book: PresetBook
) -> tuple[Preset | None, _Settings, list[str]]:
    """The preset (if any), the settings to explain, and notes on what the model takes.

    With a use case, the settings are exactly what ``run`` would send to ``--model`` (the
    library's own resolution: OpenAI has no top_k / min_p, reasoning models take no sampling
    parameters at an effort); flags are per-call overrides. With flags only, the flags as given.
    Filters that filter nothing (top_p 1, min_p 0) become None."""
    from ..config.adapt import resolve

    flags = {name: getattr(args, name) for name in FIELDS}
    _check_flags(flags)
    use_case = args.use_case
    if use_case is None and all(value is None for value in flags.values()):
        use_case = "chat"
    preset = book[use_case] if use_case is not None else None
    notes: list[str] = []
    if preset is not None or args.model is not None:
        model = args.model or book.settings.default_model
        given = {name: value for name, value in flags.items() if value is not None}
        name = preset.name if preset is not None else None
        resolution = resolve(name, model, config=book, policy="silent", **given)
        sent = {**resolution.kwargs, **resolution.kwargs.get("extra_body", {})}
        settings: dict[str, float | int | None] = {name: sent.get(name) for name in FIELDS}
        shown = ", ".join(
            f"{name}={value}" for name, value in resolution.kwargs.items() if name != "model"
        )
        where = "" if resolution.provider == "openai" else f" ({resolution.provider})"
        notes.append(f"sent to {model}{where}: {shown or 'nothing but the prompt'}")
        notes.extend(f"adapted: {name}: {why}" for name, why in resolution.dropped.items())
    else:
        settings = dict(flags)
    if settings["temperature"] is None:
        settings["temperature"] = 1.0
    for name, off in (("top_p", 1.0), ("min_p", 0.0)):
        if settings[name] == off:
            settings[name] = None
    return preset, _Settings(**settings), notes  # type: ignore[arg-type]


def _check_flags(flags: dict[str, float | int | None]) -> None:
    """The library's per-call ranges (those of presets.yaml and ``run``), message per flag."""
    from .._errors import ConfigError
    from ..config.validation import check_sampling_values

    for name, value in flags.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        try:
            check_sampling_values({name: value}, source=flag)
        except ConfigError as exc:
            raise CommandError(str(exc).replace(" (or null)", f" (or omit {flag})")) from None


# --------------------------------------------------------------------------- the command


def _explain(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import sampling

    if args.width is not None and not MIN_WIDTH <= args.width <= MAX_WIDTH:
        raise CommandError(f"--width must be from {MIN_WIDTH} to {MAX_WIDTH}, got {args.width}")
    if args.system is not None and args.prompt is None:
        raise CommandError("--system is read with --prompt; give --prompt TEXT too")
    book = load_book(args)
    preset, settings, sent_notes = _settings(args, book)
    if args.probs is not None:
        distribution = _parse_probs(args.probs)
    elif args.prompt is not None:
        model = args.model or book.settings.default_model
        distribution = _from_prompt(args.prompt, model, book, args.use_case)
        distribution.notes.append(_reading_note(args.prompt, args.system, book))
    else:
        distribution = _classic()
    # Weights are positive and finite, so their logs are finite; softmax normalises them.
    logits = np.log(np.asarray(distribution.weights, dtype=np.float64))
    try:
        result = sampling.steps(logits, **settings._asdict())
    except ValueError as exc:  # flags were checked above; this is the distribution
        raise CommandError(str(exc)) from None
    distribution = dataclasses.replace(distribution, notes=[*sent_notes, *distribution.notes])
    if args.json:
        print_json(_as_json(distribution, preset, settings, result))
        return 0
    columns = shutil.get_terminal_size((80, 24)).columns
    width = args.width or min(max(MIN_WIDTH, columns), MAX_WIDTH)
    painter = _Painter(use_color())
    print("\n".join(_picture(distribution, preset, settings, result, width, painter)))
    return 0


def _as_json(
    distribution: _Distribution,
    preset: Preset | None,
    settings: _Settings,
    result: list[SamplingStep],
) -> dict[str, Any]:
    return {
        "source": {"title": distribution.title, **distribution.source},
        "notes": distribution.notes,
        "use_case": preset.name if preset else None,
        "description": preset.description if preset else None,
        "recommended": preset.recommended if preset else {},
        "settings": settings._asdict(),
        "tokens": distribution.tokens,
        "steps": [
            {
                "name": step.name,
                "value": step.value,
                "kept": step.kept,
                "entropy_bits": step.entropy_bits,
                "probabilities": step.probabilities.tolist(),
                "removed": [distribution.tokens[i] for i in step.removed.nonzero()[0]],
            }
            for step in result
        ],
    }


# --------------------------------------------------------------------------- the picture


class _Painter:
    """ANSI styling, or none at all."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled and text else text


BOLD, DIM, GREEN, RED, CYAN = "1", "2", "32", "31", "36"


def _step_title(step: SamplingStep) -> str:
    if step.name == "input":
        return "input (softmax at temperature 1)"
    assert step.value is not None
    if step.name == "temperature":
        greedy = " (greedy)" if step.value < 1e-5 else ""
        return f"temperature {step.value:g}{greedy}"
    return f"{step.name} {step.value:g}"


def _fmt_settings(settings: _Settings, preset: Preset | None) -> str:
    recommended = preset.recommended if preset is not None else {}
    shown = []
    for name, value in settings._asdict().items():
        if value is None:
            continue
        text = f"{name} {value:g}"
        low, high = recommended.get(name, (-math.inf, math.inf))
        if not low <= value <= high:
            text += f" (outside the recommended {low:g}–{high:g})"
        shown.append(text)
    return ", ".join(shown) or "none"


def _picture(
    distribution: _Distribution,
    preset: Preset | None,
    settings: _Settings,
    result: list[SamplingStep],
    width: int,
    paint: _Painter,
) -> list[str]:
    import textwrap

    import numpy as np

    lines: list[str] = []

    def say(text: str, style: str = "", indent: str = "") -> None:
        for line in textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False):
            lines.append(paint(line, style) if style else line)

    say(distribution.title, BOLD)
    if preset is not None:
        about = f" — {preset.description}" if preset.description else ""
        say(f"use case {preset.name}{about}", indent="  ")
        if preset.recommended:
            ranges = ", ".join(
                f"{name} {low:g}–{high:g}" for name, (low, high) in preset.recommended.items()
            )
            say(f"recommended: {ranges}", indent="  ")
    say(f"settings: {_fmt_settings(settings, preset)}", indent="  ")
    for note in distribution.notes:
        say(f"note: {note}", DIM, indent="  ")

    vocabulary = len(distribution.tokens)
    # Rows in input order of probability, so each token stays on its row from step to step;
    # past SHOWN rows the rest are summed in one "(N others)" row.
    order = np.argsort(-result[0].probabilities, kind="stable")
    shown, rest = order[:SHOWN], order[SHOWN:]
    labels = [_label(distribution.tokens[i]) for i in shown]
    if rest.size:
        labels.append(f"({rest.size} others)")
    label_width = min(max(len(label) for label in labels), max(8, width // 4))
    if rest.size and len(labels[-1]) > label_width:
        labels[-1] = f"(+{rest.size})"
        label_width = max(label_width, len(labels[-1]))
    # label, space, bar, space, "100.0%", space, "✗ some"
    bar_width = width - label_width - 16
    scale = max(
        max(float(step.probabilities[shown].max()) for step in result),
        max((float(step.probabilities[rest].sum()) for step in result), default=0.0),
    )
    layout = (label_width, bar_width, scale, paint)

    previous: SamplingStep | None = None
    for number, step in enumerate(result, 1):
        lines.append("")
        if previous is None:
            stats = f"{_plural(step.kept, 'token')}, entropy {step.entropy_bits:.2f} bits"
        else:
            cut = int(step.removed.sum())
            stats = (
                f"kept {step.kept} of {previous.kept}"
                + (f", cut {cut}" if cut else "")
                + f"; entropy {previous.entropy_bits:.2f} → {step.entropy_bits:.2f} bits"
            )
        say(f"{number}. {_step_title(step)}", BOLD)
        say(stats, CYAN, indent="   ")
        for row, token in enumerate(shown):
            probability = float(step.probabilities[token])
            mark = "✗ cut" if step.removed[token] else ""
            lines.append(_row(labels[row], probability, mark, *layout))
        if rest.size:
            mass = float(step.probabilities[rest].sum())
            mark = "✗ cut" if mass == 0 else "✗ some" if step.removed[rest].any() else ""
            lines.append(_row(labels[-1], mass, mark, *layout))
        previous = step
    first, last = result[0], result[-1]
    lines.append("")
    say(
        f"Sampling draws from {last.kept} of {_plural(vocabulary, 'token')}; entropy "
        f"{first.entropy_bits:.2f} → {last.entropy_bits:.2f} bits.",
        BOLD,
    )
    return lines


def _row(
    label: str,
    probability: float,
    mark: str,
    label_width: int,
    bar_width: int,
    scale: float,
    paint: _Painter,
) -> str:
    """One row: label, bar, percentage, and ``mark`` (what this step cut), all within width."""
    if len(label) > label_width:
        label = label[: label_width - 1] + "…"
    label = f"{label:<{label_width}}"
    if probability == 0 and not mark:
        label = paint(label, DIM)  # cut by an earlier step
    bar = _bar(probability / scale if scale else 0.0, bar_width)
    padding = " " * (bar_width - len(bar))
    text = f"{label} {paint(bar, GREEN)}{padding} {_percent(probability):>6}"
    return f"{text} {paint(mark, RED)}" if mark else text


def _bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``fraction * width`` cells, in eighths; a sliver for anything > 0."""
    if fraction <= 0:
        return ""
    eighths = max(1, round(min(fraction, 1.0) * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _percent(probability: float) -> str:
    if probability == 0:
        return "0%"
    if probability < 0.0005:
        return "<0.1%"
    return f"{probability:.1%}"
