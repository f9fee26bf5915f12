"""``train``: train the offline backend's n-gram model on your own text and report its size."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import formatter, print_json

EXAMPLES = """examples:
  llmpresets train my-corpus.txt
  llmpresets train my-corpus.txt --output model.npz
  llmpresets train my-corpus.txt --encoding cl100k_base --order 4 --json

corpus format: plain UTF-8 text; a line '---' ends a document (without any, blank lines
separate documents); a line '### NAME: words' starts a section of one style, the words
describing the prompts it answers. Use the saved model with
  offline:
    corpus: model.npz          # in presets.yaml (a .txt corpus works too: trained at first use)
or OfflineTransport(source=NGramModel.load("model.npz"))."""

MAX_ORDER = 12  # longer contexts only memorise the corpus, at a growing cost


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the offline language model on a corpus",
        description="Train the offline backend's n-gram model on CORPUS (UTF-8 text), print "
        "its statistics, and optionally save it for presets.yaml's offline.corpus.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    parser.add_argument("corpus", metavar="CORPUS", help="the text file to train on")
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="save the model to FILE (.npz, compact; or .json, readable)",
    )
    parser.add_argument(
        "--encoding",
        default="o200k_base",
        choices=("o200k_base", "cl100k_base"),
        help="tokenizer of the models it will answer for (default: o200k_base)",
    )
    parser.add_argument(
        "--order",
        type=int,
        default=None,
        metavar="N",
        help=f"n-gram order: tokens of context plus one, 1 to {MAX_ORDER} (default: 5)",
    )
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from ..offline import NGramModel
    from ..offline.lm.ngram.model import DEFAULT_ORDER
    from . import CommandError

    order = DEFAULT_ORDER if args.order is None else args.order
    if not 1 <= order <= MAX_ORDER:
        raise CommandError(f"--order must be between 1 and {MAX_ORDER}, got {order}")
    output = Path(args.output) if args.output else None
    if output is not None:
        _check_output(output)
    corpus = Path(args.corpus)
    if corpus.is_dir():
        raise CommandError(f"{corpus}: is a directory; give the corpus text file")
    if not corpus.exists():
        raise CommandError(f"{corpus}: no such file")
    if corpus.suffix in (".npz", ".json"):
        raise CommandError(f"{corpus}: this is a model file; train on a text corpus")
    # Unreadable, binary, non-UTF-8 or empty text: a ConfigError naming the file (exit 2).
    model = NGramModel.from_file(corpus, encoding=args.encoding, order=order)
    stats = model.stats()
    if output is not None:
        try:
            model.save(output)
        except OSError as exc:
            raise CommandError(f"--output {output}: cannot write ({_reason(exc)})") from None
        stats["output"] = str(output)
    if args.json:
        print_json(stats)
        return 0
    width = max(len(key) for key in stats)
    for key, value in stats.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key:<{width}}  {shown}")
    return 0


def _check_output(output: Path) -> None:
    """Refuse, before training, an --output that cannot be written."""
    from . import CommandError

    if output.suffix not in (".npz", ".json"):
        raise CommandError(f"--output {output}: the file name must end in .npz or .json")
    if output.is_dir():
        raise CommandError(f"--output {output}: is a directory; give a file name")
    folder = output.parent
    if not folder.is_dir():
        problem = "is not a directory" if folder.exists() else "does not exist"
        raise CommandError(f"--output {output}: the folder {folder} {problem}")


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
