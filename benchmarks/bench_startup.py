"""Start-up cost: `import llmpresets` and `llmpresets --help`, as ratios to `import openai`.

Reported beside them, because `import llmpresets` is lazy and flatters the library: what a user
actually pays, `from llmpresets import Client` (which imports the openai SDK) and a whole
offline `llmpresets run` (imports, tokenizer, model from its cache, one reply).

Each figure is the median wall time of fresh interpreter processes measured in this run, so
the ratios compare like with like on this machine. Targets (issues #2 and #5):
`import llmpresets` <= 0.25 x `import openai`; `llmpresets --help` <= 0.5 x `import openai`.
The interpreter's own start-up (`python -c pass`) is measured too and reported.

Run: python benchmarks/bench_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def median_seconds(args: list[str], repeat: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    python = sys.executable
    # Warm the OS file cache and .pyc files once, untimed.
    for code in ("import openai", "import llmpresets"):
        subprocess.run([python, "-c", code], check=True)

    bare = median_seconds([python, "-c", "pass"], args.repeat)
    openai_import = median_seconds([python, "-c", "import openai"], args.repeat)
    ours = median_seconds([python, "-c", "import llmpresets"], args.repeat)
    cli_help = median_seconds([python, "-m", "llmpresets", "--help"], args.repeat)
    client_import = median_seconds([python, "-c", "from llmpresets import Client"], args.repeat)
    offline = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    offline["LLMPRESETS_OFFLINE"] = "1"
    run_command = [python, "-m", "llmpresets", "run", "Say hello", "--seed", "1"]
    subprocess.run(run_command, check=True, stdout=subprocess.DEVNULL, env=offline)  # warm cache
    run_offline = median_seconds(run_command, args.repeat, offline)
    heavy = subprocess.run(
        [
            python,
            "-c",
            "import sys, llmpresets; "
            "print(sorted(m for m in ('openai', 'numpy', 'pydantic', 'httpx2', 'tiktoken', 'yaml')"
            " if m in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    print(f"python -c pass            {bare * 1000:8.1f} ms")
    print(f"import openai             {openai_import * 1000:8.1f} ms  (baseline)")
    print(f"import llmpresets         {ours * 1000:8.1f} ms  ratio {ours / openai_import:.3f}")
    print(
        f"llmpresets --help         {cli_help * 1000:8.1f} ms  ratio {cli_help / openai_import:.3f}"
    )
    print(
        f"from llmpresets import Client {client_import * 1000:5.1f} ms  "
        f"ratio {client_import / openai_import:.3f}  (imports the openai SDK; no target)"
    )
    print(
        f"llmpresets run (offline)  {run_offline * 1000:8.1f} ms  "
        f"ratio {run_offline / openai_import:.3f}  (whole command, one reply; no target)"
    )
    print(f"heavy modules after `import llmpresets`: {heavy}")
    ok_import = ours / openai_import <= 0.25
    ok_help = cli_help / openai_import <= 0.5
    print(f"import target <= 0.25: {'PASS' if ok_import else 'FAIL'}")
    print(f"--help target <= 0.50: {'PASS' if ok_help else 'FAIL'}")
    return 0 if ok_import and ok_help and heavy == "[]" else 1


if __name__ == "__main__":
    raise SystemExit(main())
