"""Suites of 100,000 pairs: collection, and a fully cached run (issue 15, item 8).

Targets: `pytest --co -q` on 100,000 pairs within 10 s and 500 MB (max RSS of the pytest
process), and a fully cached run of them within 90 s, on the offline model.

Generates N pairs (2N distinct sentences; benchmarks/pairgen.py) in files of --per-file pairs
(`--per-file 100000`: one file) with a pytest.ini setting `moral_model = moralpairs/lexical`, then

1. `pytest --co -q` (--runs times): wall time, CPU time and max RSS of the child;
2. `pytest -q` once, which rates every sentence with the offline model and fills the response
   cache (in pytest's cache folder, as a user's first run does);
3. `pytest -q` again (--runs times): every answer from the cache, no model call.

Each child's wall time, CPU time and max RSS come from os.wait4 (bench_suite.run_command); the
load average is printed with the figures (on a shared machine the wall time is the CPU time
stretched by the load: compare CPU times across runs). Arguments after `--` go to every pytest
child (e.g. `-- -p no:randomly`).

Usage:
    python benchmarks/bench_scale.py [--pairs 100000] [--per-file 1000] [--runs 1]
        [--keep DIR] [--skip-run] [-- PYTEST_ARGS...]
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

from bench_suite import child_env, run_command, summary_line  # noqa: E402
from pairgen import write_pairs  # noqa: E402

COLLECT_SECONDS = 10.0
COLLECT_MB = 500.0
CACHED_RUN_SECONDS = 90.0


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def pytest_child(cwd: Path, args: list[str], timeout: float) -> dict:
    env = child_env()
    return run_command([sys.executable, "-m", "pytest", *args], cwd, timeout, env=env)


def show(what: str, runs: list[dict], target_s: float, target_mb: float | None = None) -> bool:
    wall = statistics.median(r["wall"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    rss = max(r["rss_mb"] for r in runs)
    ok = wall <= target_s and (target_mb is None or rss <= target_mb)
    limit = f"<= {target_s:g} s" + (f", <= {target_mb:g} MB" if target_mb else "")
    print(
        f"{what}: wall {wall:.2f} s, CPU {cpu:.2f} s, max RSS {rss:.0f} MB (median of {len(runs)}; "
        f"target {limit}) -> {'OK' if ok else 'OVER'}  [{load()}]"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--per-file", type=int, default=1000, help="pairs per file (--pairs: one file)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each timed command")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it (default: a temp dir)")
    parser.add_argument("--skip-run", action="store_true", help="time the collection only")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()

    holder = None
    if args.keep:
        root = Path(args.keep)
    else:
        holder = tempfile.TemporaryDirectory(prefix="moralpairs-bench-scale-")
        root = Path(holder.name)
    try:
        files = write_pairs(root, args.pairs, args.per_file)
        size = sum(f.stat().st_size for f in files) / 2**20
        print(f"{args.pairs:,} pairs in {len(files)} file(s), {size:.1f} MiB, under {root}; {load()}")
        co = [pytest_child(root, ["--co", "-q", *args.pytest_args], args.timeout) for _ in range(args.runs)]
        if any(r["code"] != 0 for r in co):
            print(co[-1]["output"][-3000:])
            return 1
        ok = show("pytest --co -q", co, COLLECT_SECONDS, COLLECT_MB)
        if args.skip_run:
            return 0 if ok else 1
        first = pytest_child(root, ["-q", *args.pytest_args], args.timeout)
        print(
            f"first run (rates {2 * args.pairs:,} sentences, fills the cache): wall {first['wall']:.2f} s, "
            f"CPU {first['cpu']:.2f} s, max RSS {first['rss_mb']:.0f} MB: {summary_line(first['output'])}  [{load()}]"
        )
        cached = [pytest_child(root, ["-q", *args.pytest_args], args.timeout) for _ in range(args.runs)]
        for run in cached:
            print(f"  cached run: {summary_line(run['output'])}")
            calls = [line for line in run["output"].splitlines() if "model calls" in line]
            print(f"  {calls[-1].strip() if calls else '(no moralpairs summary line)'}")
        ok = show("fully cached pytest -q", cached, CACHED_RUN_SECONDS) and ok
        print(f"result: {'all targets met' if ok else 'TARGETS MISSED'}")
        return 0 if ok else 1
    finally:
        if holder is not None:
            holder.cleanup()


if __name__ == "__main__":
    sys.exit(main())
