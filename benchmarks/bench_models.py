"""Two models in one run against one model alone: N pairs each, one local server with latency.

Issue 14's target: two models x 100 pairs at 200 ms latency finish within 1.25x the wall time of one
model, because all models' requests go out in one batch, each model with its own concurrency.

One BenchServer (bench_server.py) on 127.0.0.1 answers both models (distinct model names, so
distinct prompts and cache keys). Each run starts from a fresh directory with the cache off:

    pytest -q --moral-model openai/bench-a                          (one model)
    pytest -q --moral-model openai/bench-a,openai/bench-b           (two models)

both with --moral-api-base <url> --moral-concurrency C, and prints the wall times, their ratio
against the target, what the server saw, and the load average.

Usage:
    python benchmarks/bench_models.py [--pairs 100] [--latency 0.2] [--concurrency 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_server import BenchServer  # noqa: E402
from bench_suite import run_pytest, summary_line  # noqa: E402
from pairgen import write_pairs  # noqa: E402

TARGET = 1.25


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=100, help="N: pairs to generate (2N distinct sentences)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server takes per request")
    parser.add_argument("--concurrency", type=int, default=16, help="--moral-concurrency (each model's)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the medians are compared")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a pytest child is killed")
    args = parser.parse_args()
    n, latency = args.pairs, args.latency
    with tempfile.TemporaryDirectory(prefix="moralpairs-bench-models-") as holder:
        root = Path(holder)
        write_pairs(root / "suite", n, 1000, model=None)
        with BenchServer(latency=latency, lifetime=args.timeout * args.runs * 2 + 60) as server:
            base = ["-q", "-p", "no:randomly", "--moral-api-base", server.url, "--moral-cache=off"]
            base += ["--moral-concurrency", str(args.concurrency)]
            walls: dict[str, list[float]] = {"one": [], "two": []}
            for run in range(args.runs):
                for name, models in (("one", "openai/bench-a"), ("two", "openai/bench-a,openai/bench-b")):
                    server.reset()
                    result = run_pytest(root / "suite", [*base, "--moral-model", models], args.timeout)
                    stats = server.stats()
                    if result["code"] not in (0, 1):
                        print(result["output"][-3000:])
                        return 1
                    walls[name].append(result["wall"])
                    print(
                        f"run {run + 1}, {name} model(s): {result['wall']:.2f} s; {summary_line(result['output'])}; "
                        f"server {stats['requests']} requests, max {stats['max_in_flight']} in flight"
                    )
    one, two = statistics.median(walls["one"]), statistics.median(walls["two"])
    ratio = two / one
    verdict = "OK" if ratio <= TARGET else "OVER"
    print(
        f"\n{n} pairs at {latency:g} s latency: one model {one:.2f} s, two models {two:.2f} s (medians of "
        f"{args.runs}); ratio {ratio:.2f}, target <= {TARGET:g} -> {verdict}"
    )
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
