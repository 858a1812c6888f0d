"""Provider batches (``--moral-batch``) at scale against the local batch server: N pairs, `pytest` in
a subprocess.

Generates N pairs (2N distinct sentences), starts ``tests/batch_server.py``'s BatchServer (the batch
finishes at its second poll) and times

1. ``pytest --moral-batch --moral-batch-poll P``: one upload of 2N lines, polled, answers cached;
2. the same again: every answer from the cache, nothing sent;
3. without ``--moral-batch`` and without a cache: 2N chat completions one by one (for comparison).

It prints each run's wall time, what the server saw (batches created, lines uploaded, chat requests)
and the load average, so a figure is read against how busy the machine was.

Usage:
    python benchmarks/bench_batch.py [--pairs 500] [--poll 0.5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_suite import child_env  # noqa: E402
from pairgen import write_pairs  # noqa: E402

from pytest_moralpairs.providers.lexical import lexical_rating  # noqa: E402
from tests.batch_server import BatchServer  # noqa: E402


def lexical(sentence: str, body: dict) -> str:
    """Answers as the offline model would."""
    return str(lexical_rating(sentence))


def run(folder: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args],
        cwd=folder,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    last = (done.stdout.strip().splitlines() or [""])[-1]
    return elapsed, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--poll", type=float, default=0.5)
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="moralpairs-bench-batch-") as temporary,
        BatchServer(lexical, polls=2) as server,
    ):
        folder = Path(temporary)
        write_pairs(folder, options.pairs, per_file=1000, model=None)
        model = ["--moral-model", "openai/bench", "--moral-api-base", server.url, "--moral-retries", "0"]
        batch = [*model, "--moral-batch", "--moral-batch-poll", str(options.poll)]
        print(f"{options.pairs} pairs, load average {os.getloadavg()[0]:.2f} at start")
        for label, args in (
            ("batch", batch),
            ("batch, cached", batch),
            ("one by one, no cache", [*model, "--moral-cache", "off"]),
        ):
            before = (len(server.created), sum(len(u) for u in server.uploads), server.count)
            elapsed, last = run(folder, *args)
            after = (len(server.created), sum(len(u) for u in server.uploads), server.count)
            created, lines, chats = (b - a for a, b in zip(before, after, strict=True))
            print(
                f"{label:22} {elapsed:6.2f} s  batches {created}, lines {lines}, chat requests {chats}  "
                f"| {last}  (load {os.getloadavg()[0]:.2f})"
            )


if __name__ == "__main__":
    main()
