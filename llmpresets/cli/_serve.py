"""``serve``: the offline backend on a local HTTP server, for any client in any language."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from typing import Any

from . import EXIT_ERROR, EXIT_OK, CommandError
from ._common import add_config_option, formatter

KEY_VARIABLE = "LLMPRESETS_SERVE_API_KEY"

EXAMPLES = f"""examples:
  llmpresets serve                          # http://127.0.0.1:8000/v1
  llmpresets serve --port 0 --seed 7        # a free port (printed), reproducible replies
  llmpresets serve --api-key sk-local       # a missing or wrong key gets the API's 401
  llmpresets serve --latency 0.3,40         # 0.3 s to the first token, then 40 tokens/s
  llmpresets serve --cassette tests/cassettes/test_app/test_summary.yaml --on-miss error
                                            # replay recorded replies for any language

then point any OpenAI client at the printed URL:
  curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{{"model": "gpt-4o", "messages": [{{"role": "user", "content": "Hi"}}]}}'

The key can also come from ${KEY_VARIABLE} (it never shows in the process list, the log or
any output). Scripted candidates and faults come from --config's offline: section. SIGINT or
SIGTERM stops the server: open streams get 5 s to finish, exit status 0."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the offline backend over HTTP (OpenAI-compatible, under /v1)",
        description="Run the offline backend on a local HTTP server: chat completions, "
        "completions, embeddings, models and whatever else it answers, in OpenAI's wire format.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; anything else is reachable by others)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port (default: 8000; 0: a free one, printed)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible replies")
    add_config_option(parser)
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        default=None,
        help=f"require this key as 'Authorization: Bearer KEY' (or set ${KEY_VARIABLE})",
    )
    parser.add_argument(
        "--latency",
        metavar="SECONDS[,TOKENS_PER_S]",
        default=None,
        help="simulated latency: delay to the first token, then tokens per second",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        metavar="N",
        help="largest request body accepted, larger gets a 413 (default: 32 MiB)",
    )
    parser.add_argument(
        "--cassette",
        metavar="FILE",
        default=None,
        help="answer from a recorded cassette (llmpresets.Cassette); requests it lacks go to "
        "the offline backend with a warning, or get a 404 with --on-miss error",
    )
    parser.add_argument(
        "--on-miss",
        choices=("offline", "error"),
        default="offline",
        help="with --cassette: what a request the cassette lacks gets (default: offline)",
    )
    parser.add_argument(
        "--cassette-timing",
        action="store_true",
        help="with --cassette: send stream chunks at their recorded times (default: at once)",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log on stderr")
    parser.set_defaults(handler=_serve)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _cassette_answer(args: argparse.Namespace, transport: Any) -> Any:
    """``--cassette FILE``: the cassette's replay, falling back to ``transport``; else None."""
    if args.cassette is None:
        if args.on_miss != "offline" or args.cassette_timing:
            raise CommandError("--on-miss and --cassette-timing need --cassette FILE")
        return None
    from ..testing.cassette import Cassette

    if not os.path.isfile(args.cassette):
        raise CommandError(f"--cassette: {args.cassette}: no such file")
    cassette = Cassette(
        args.cassette,
        mode="replay",
        on_miss=args.on_miss,
        offline=transport,
        realtime=args.cassette_timing,
    )
    return cassette.answer


def _serve(args: argparse.Namespace) -> int:
    from ..offline import OfflineTransport
    from ..offline.server.asgi import DEFAULT_MAX_BODY_BYTES, Latency, OfflineApp
    from ..offline.server.run import run_server
    from ._common import load_book

    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port: {args.port} is not a port; allowed: 0 (any free) to 65535")
    max_body = args.max_body_bytes or DEFAULT_MAX_BODY_BYTES
    if max_body < 1:
        raise CommandError(f"--max-body-bytes: {max_body}; allowed: at least 1")
    try:
        latency = Latency.parse(args.latency) if args.latency else None
    except ValueError as exc:
        raise CommandError(f"--{exc}") from None
    api_key = args.api_key or os.environ.get(KEY_VARIABLE) or None
    book = load_book(args)
    transport = OfflineTransport(seed=args.seed, config=book)
    app = OfflineApp(
        transport,
        api_key=api_key,
        latency=latency,
        max_body_bytes=max_body,
        answer=_cassette_answer(args, transport),
    )
    if not _is_loopback(args.host):
        print(
            f"llmpresets: warning: listening on {args.host}, not loopback: other machines can "
            "reach this server" + ("" if api_key else " (and no --api-key is set)"),
            file=sys.stderr,
        )
    serve_log = logging.getLogger("llmpresets.serve")
    handler: logging.Handler | None = None
    level = serve_log.level
    if not args.quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        serve_log.addHandler(handler)
        serve_log.setLevel(logging.INFO)

    def ready(base_url: str) -> None:
        key = " (API key required)" if api_key else ""
        what = f"the cassette {args.cassette}" if args.cassette else "the offline backend"
        print(f"llmpresets: serving {what} at {base_url}{key}", flush=True)

    try:  # run_server loads the model before it announces the URL
        run_server(app, args.host, args.port, on_ready=ready)
    except OSError as exc:
        raise CommandError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_ERROR
        ) from None
    finally:
        # The access log's handler belongs to this command: run in-process (a test, a
        # notebook), it must not outlive it and write to a stream closed since.
        if handler is not None:
            serve_log.removeHandler(handler)
            serve_log.setLevel(level)
    print("llmpresets: server stopped", file=sys.stderr, flush=True)
    return EXIT_OK
