"""Issue 15's targets for adaptive concurrency: whole pytest runs against servers with limits.

1. **K at once, 429 beyond.** N pairs (2N distinct sentences, default 500 -> 1,000 calls) with
   ``--moral-concurrency 32`` against a server that answers at most K (default 4) at once, each
   after ``latency`` (default 0.05 s), and a 429 (no Retry-After) to any request beyond. Target:
   0 errors, and the run after start-up within 1.3 x ceil(2N / K) * latency.
2. **One slot, a queue.** M pairs (default 24 -> 48 calls) with the default ``--moral-concurrency``
   (16) and ``--moral-timeout 8`` against a server that answers one request at a time, 0.5 s
   each, queueing the others (a request whose client timed out is still answered in its turn).
   Target: 0 errors.

Each run: ``pytest -q --moral-model openai/bench --moral-api-base URL --moral-cache=off`` in a
fresh folder, in a child process. "After start-up" subtracts the median wall time of
``pytest --co -q`` on the same files and arguments (as bench_suite.py does); the server's own clock
gives the span from its first request to its last answer. The load average is printed with every
figure: the machine is shared.

Usage:
    python benchmarks/bench_limits.py [--pairs 500] [--capacity 4] [--latency 0.05]
        [--concurrency 32] [--queue-pairs 24] [--queue-latency 0.5] [--timeout 8]
        [--only capacity|queue] [--repeat 1]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_suite import run_pytest, summary_line  # noqa: E402
from limit_server import LimitServer  # noqa: E402
from pairgen import write_pairs  # noqa: E402


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def errors_in(output: str) -> int:
    """ERRORed pairs, from pytest's final line."""
    found = re.search(r"(\d+) errors?\b", summary_line(output))
    return int(found.group(1)) if found else 0


def progress_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("moralpairs: ") and "model calls" in line]


def measure(name: str, root: Path, pairs: int, server: LimitServer, args: list[str], repeat: int) -> list[dict]:
    suite = root / name
    write_pairs(suite, pairs, 1000, model=None)
    common = [
        "-q", "--moral-model", "openai/bench", "--moral-api-base", server.url, "--moral-cache=off",
        "-p", "no:randomly", "-p", "no:cacheprovider", *args,
    ]  # fmt: skip
    startup = []
    for _ in range(3):
        co = run_pytest(suite, ["--co", *common], 300)
        if co["code"] != 0:
            print(co["output"][-3000:])
            raise SystemExit(f"pytest --co failed with exit code {co['code']}")
        startup.append(co["wall"])
    start_up = statistics.median(startup)
    runs = []
    for _ in range(repeat):
        server.reset()
        result = run_pytest(suite, common, 900, clock=server.clock)
        stats = server.stats()
        span = None
        if stats["first_request"] is not None and stats["last_response"] is not None:
            span = stats["last_response"] - stats["first_request"]
        runs.append(
            {
                "code": result["code"],
                "summary": summary_line(result["output"]),
                "errors": errors_in(result["output"]),
                "wall": result["wall"],
                "start_up": start_up,
                "after": result["wall"] - start_up,
                "span": span,
                "requests": stats["requests"] + stats["rejected"],
                "rejected": stats["rejected"],
                "max_serving": stats["max_serving"],
                "cpu": result["cpu"],
                "progress": progress_lines(result["output"]),
                "load": load(),
                "output": result["output"],
            }
        )
    return runs


def report(run: dict, limit: float | None) -> bool:
    ok = run["errors"] == 0 and run["code"] in (0, 1)
    print(f"  pytest exit code {run['code']}: {run['summary']}")
    if run["code"] not in (0, 1):
        print(run["output"][-4000:])
    print(f"  errors: {run['errors']} (target 0) -> {'OK' if run['errors'] == 0 else 'OVER'}")
    line = f"  wall {run['wall']:.2f} s, start-up {run['start_up']:.2f} s, after start-up {run['after']:.2f} s"
    if limit is not None:
        within = run["after"] <= limit
        ok = ok and within
        line += f"; target {limit:.2f} s -> {'OK' if within else 'OVER'} ({run['after'] / (limit / 1.3):.2f} x ideal)"
    print(line)
    if run["span"] is not None:
        print(f"  server: first request -> last answer {run['span']:.2f} s")
    print(
        f"  server: {run['requests']} requests, {run['rejected']} answered 429, most answered at once "
        f"{run['max_serving']}; pytest child {run['cpu']:.2f} s CPU"
    )
    for line in run["progress"][-2:]:
        print(f"  progress: {line}")
    print(f"  {run['load']}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--capacity", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--queue-pairs", type=int, default=24)
    parser.add_argument("--queue-latency", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=8.0)
    parser.add_argument("--only", choices=("capacity", "queue"))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="moralpairs-bench-limits-") as folder:
        root = Path(folder)
        if args.only in (None, "capacity"):
            calls = 2 * args.pairs
            ideal = math.ceil(calls / args.capacity) * args.latency
            print(
                f"{args.pairs} pairs ({calls} calls), --moral-concurrency {args.concurrency}, server: at most "
                f"{args.capacity} at once, 429 beyond, {args.latency:g} s each; ideal ceil({calls}/{args.capacity})"
                f"*{args.latency:g} = {ideal:.2f} s, target 1.3 x = {1.3 * ideal:.2f} s ({load()})"
            )
            with LimitServer(latency=args.latency, capacity=args.capacity) as server:
                for run in measure(
                    "capacity", root, args.pairs, server, ["--moral-concurrency", str(args.concurrency)], args.repeat
                ):
                    ok = report(run, 1.3 * ideal) and ok
        if args.only in (None, "queue"):
            calls = 2 * args.queue_pairs
            print(
                f"\n{args.queue_pairs} pairs ({calls} calls), default --moral-concurrency (16), --moral-timeout "
                f"{args.timeout:g}, server: one slot, {args.queue_latency:g} s each, the rest queued; "
                f"one at a time would take {calls * args.queue_latency:.1f} s ({load()})"
            )
            with LimitServer(latency=args.queue_latency, slots=1) as server:
                for run in measure(
                    "queue", root, args.queue_pairs, server, ["--moral-timeout", str(args.timeout)], args.repeat
                ):
                    ok = report(run, None) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
