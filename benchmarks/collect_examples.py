"""Wall time of `pytest --co examples/` (collection only: litellm must not be imported).

Usage: python benchmarks/collect_examples.py [--runs N]
Prints the median, min and max wall time over N runs, and whether litellm was imported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = (
    "import sys, runpy; sys.argv = ['pytest', '--co', '-q', '-p', 'no:cacheprovider', 'examples'];"
    "import pytest; code = pytest.main(sys.argv[1:]);"
    "print('litellm imported:', 'litellm' in sys.modules); sys.exit(code)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    times = []
    imported = None
    for _ in range(args.runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"pytest --co failed:\n{done.stdout}\n{done.stderr}")
        imported = "litellm imported: True" in done.stdout
    print(
        f"pytest --co examples/: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s over {args.runs} runs; litellm imported: {imported}"
    )


if __name__ == "__main__":
    main()
