"""Failing pairs against passing ones: does a failure cost more than a pass? (issue 12, item 12)

Writes N pairs (2N distinct sentences, ``pairgen``) on the offline model, fills the response cache
once, then times ``pytest -q`` in a subprocess on the same pairs twice: every threshold set to 8
(no pair can reach it: all fail, each with its failure report) and to -8 (all pass). The cache is
warm for both, so the ratings cost the same and the difference is what a failure costs: its
report, the summary, pytest's own failure summary. Target: failing within 2x passing.

Usage:
    python benchmarks/bench_failing.py [--pairs 10000] [--repeat 3] [--per-file 1000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pairgen import write_pairs  # noqa: E402

_THRESHOLD = re.compile(r"threshold: -?[0-9.]+")


def set_thresholds(folder: Path, threshold: float) -> None:
    """Every pair and file default of the pair files in ``folder`` gets ``threshold``."""
    for path in folder.glob("*.moral.yaml"):
        text = _THRESHOLD.sub(f"threshold: {threshold}", path.read_text())
        path.write_text(text)


def timed_run(folder: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MORALPAIRS_"))}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    return elapsed, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--per-file", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="moralpairs-bench-failing-") as tmp:
        folder = Path(tmp)
        write_pairs(folder, total=args.pairs, per_file=args.per_file)
        set_thresholds(folder, 8.0)
        warm, last = timed_run(folder)  # fills the response cache: later runs make no call
        print(f"{args.pairs:,} pairs; cache filled in {warm:.1f} s ({last})")
        times: dict[str, list[float]] = {"failing": [], "passing": []}
        for _ in range(args.repeat):
            for kind, threshold in (("failing", 8.0), ("passing", -8.0)):
                set_thresholds(folder, threshold)
                elapsed, last = timed_run(folder)
                times[kind].append(elapsed)
                print(f"  {kind}: {elapsed:6.1f} s  ({last})")
        failing, passing = statistics.median(times["failing"]), statistics.median(times["passing"])
        print(
            f"median of {args.repeat}: {args.pairs:,} failing pairs {failing:.1f} s "
            f"({1000 * failing / args.pairs:.2f} ms a pair), {args.pairs:,} passing {passing:.1f} s "
            f"({1000 * passing / args.pairs:.2f} ms a pair); failing / passing = {failing / passing:.2f} "
            f"(target <= 2.0)"
        )


if __name__ == "__main__":
    main()
