"""Collection at release scale: `pytest --co -q` on 10,000 pairs (10 files x 1,000 by default).

Targets: wall time <= 5 s, peak memory (max RSS of the pytest process) <= 300 MB, and litellm
never imported (collection must not pay for the model client).

Usage:
    python benchmarks/bench_collect.py [--files 10] [--pairs-per-file 1000] [--runs 3]
                                       [--profile] [--keep DIR] [--allow-bytecode] [-- PYTEST_ARGS...]

Each run is a fresh `python -c "pytest.main(['--co', '-q'])"` child in a temp dir whose pytest.ini
sets `moral_model = moralpairs/lexical`; its wall time and max RSS come from os.wait4 (the child's
own rusage, not the maximum over all children). Also printed: the start-up floor (`pytest --co -q`
on one pair file of one pair) and the in-process time of pairs.load_suite over all files, so the
plugin's share of the wall time can be read off. --profile runs one more child under cProfile
and prints the top functions by cumulative and by own time. Arguments after `--` go to pytest
(e.g. `-- -p no:hypothesispytest`).

Start-up depends on the environment: with PYTHONDONTWRITEBYTECODE set, pytest cannot cache the
assertion-rewritten modules of installed pytest plugins (hypothesis, anyio, xdist, this one) and
recompiles them in every run. --allow-bytecode removes it from the children's environment (after
one warm-up run), as on a usual developer machine or CI runner; their byte code then goes to a
private cache (PYTHONPYCACHEPREFIX in the temp dir), never into the venv.
"""

from __future__ import annotations

import argparse
import cProfile  # noqa: F401 - imported here only so a missing module fails early
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pairgen import write_pair_files  # noqa: E402

TARGET_SECONDS = 5.0
TARGET_MB = 300.0

PROBE = """\
import sys
profile_to = sys.argv[1]
args = sys.argv[2:]
if profile_to:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
import pytest
code = pytest.main(args)
if profile_to:
    profiler.disable()
    profiler.dump_stats(profile_to)
sys.stdout.flush()
sys.stderr.write("litellm imported: %s\\n" % ("litellm" in sys.modules))
sys.exit(int(code))
"""


ALLOW_BYTECODE = False
PYCACHE_PREFIX = str(Path(tempfile.gettempdir()) / "moralpairs-bench-pycache")


def run_child(cwd: Path, args: list[str], profile_to: str = "") -> dict:
    """Run the probe; wall time, max RSS (MB), exit code, output and whether litellm was imported."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MORALPAIRS_"))}
        if ALLOW_BYTECODE:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            # Into a cache of the benchmark's own, never next to the sources of the shared venv.
            env["PYTHONPYCACHEPREFIX"] = PYCACHE_PREFIX
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", PROBE, profile_to, *args], cwd=cwd, stdout=out, stderr=err, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    return {
        "wall": wall,
        "rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "cpu": usage.ru_utime + usage.ru_stime,
        "code": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
        "litellm": "litellm imported: True" in stderr,
    }


def print_profile(cwd: Path, args: list[str], stats_file: str, top: int) -> None:
    """Run the probe once more under cProfile; print its ``top`` functions by cumulative and own time."""
    prof = run_child(cwd, args, profile_to=stats_file)
    print(f"\nprofile (one run under cProfile, {prof['wall']:.2f} s with profiling overhead):")
    stats = pstats.Stats(stats_file, stream=sys.stdout)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def collected_count(stdout: str) -> int:
    return sum(1 for line in stdout.splitlines() if "::" in line and " " not in line)


def load_time(paths: list[Path]) -> tuple[float, int]:
    """In-process seconds to load and validate every file with pairs.load_suite (best of 3)."""
    from pytest_moralpairs.pairs import load_suite

    best, count = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        count = sum(len(load_suite(p).pairs) for p in paths)
        best = min(best, time.perf_counter() - start)
    return best, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--pairs-per-file", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also profile one run with cProfile")
    parser.add_argument("--top", type=int, default=25, help="functions to show per profile table")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it (default: a temp dir)")
    parser.add_argument(
        "--allow-bytecode",
        action="store_true",
        help="unset PYTHONDONTWRITEBYTECODE for the pytest children (their caches go to a private temp dir)",
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    global ALLOW_BYTECODE
    ALLOW_BYTECODE = args.allow_bytecode
    co = ["--co", "-q", *args.pytest_args]

    holder = None
    if args.keep:
        root = Path(args.keep)
    else:
        holder = tempfile.TemporaryDirectory(prefix="moralpairs-bench-collect-")
        root = Path(holder.name)
    try:
        suite_dir, floor_dir = root / "suite", root / "floor"
        paths = write_pair_files(suite_dir, args.files, args.pairs_per_file)
        write_pair_files(floor_dir, 1, 1)
        total = args.files * args.pairs_per_file
        size_mb = sum(p.stat().st_size for p in paths) / 2**20
        print(
            f"pair files: {args.files} x {args.pairs_per_file:,} = {total:,} pairs, {size_mb:.1f} MiB, in {suite_dir}"
        )

        print(
            f"python {sys.version.split()[0]}, PYTHONDONTWRITEBYTECODE "
            f"{'unset for the children' if ALLOW_BYTECODE else repr(os.environ.get('PYTHONDONTWRITEBYTECODE'))}, "
            f"pytest args: {' '.join(co)}"
        )
        if ALLOW_BYTECODE:
            run_child(floor_dir, co)  # warm-up: writes the rewritten-module caches
        floor = [run_child(floor_dir, co) for _ in range(args.runs)]
        runs = [run_child(suite_dir, co) for _ in range(args.runs)]
        for r in floor + runs:
            if r["code"] != 0:
                print(r["stdout"][-3000:], r["stderr"][-3000:], sep="\n")
                print(f"pytest --co failed with exit code {r['code']}")
                return 1
        counts = {collected_count(r["stdout"]) for r in runs}
        walls = [r["wall"] for r in runs]
        rss = [r["rss_mb"] for r in runs]
        wall = statistics.median(walls)
        peak = max(rss)
        floor_wall = statistics.median(r["wall"] for r in floor)
        floor_rss = max(r["rss_mb"] for r in floor)
        litellm = any(r["litellm"] for r in floor + runs)
        load_seconds, loaded = load_time(paths)

        print(f"items collected: {', '.join(f'{c:,}' for c in sorted(counts))} (expected {total:,})")
        print(
            f"pytest --co -q, {total:,} pairs: wall median {wall:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}, "
            f"{args.runs} runs)  target <= {TARGET_SECONDS:g} s  -> {'OK' if wall <= TARGET_SECONDS else 'OVER'}"
        )
        cpu = statistics.median(r["cpu"] for r in runs)
        floor_cpu = statistics.median(r["cpu"] for r in floor)
        print(f"CPU time (user+sys) of the pytest process: median {cpu:.2f} s (start-up floor {floor_cpu:.2f} s)")
        print(
            f"peak memory (max RSS of the pytest process): {peak:.0f} MB  target <= {TARGET_MB:g} MB  "
            f"-> {'OK' if peak <= TARGET_MB else 'OVER'}"
        )
        print(f"litellm imported: {litellm}  target: False  -> {'OK' if not litellm else 'FAIL'}")
        print(f"start-up floor (pytest --co -q on 1 pair): wall median {floor_wall:.2f} s, max RSS {floor_rss:.0f} MB")
        print(
            f"collection beyond start-up: {wall - floor_wall:.2f} s, {peak - floor_rss:.0f} MB; "
            f"of which pairs.load_suite in-process: {load_seconds:.2f} s for {loaded:,} pairs "
            f"({load_seconds / max(loaded, 1) * 1e6:.0f} us/pair)"
        )

        if args.profile:
            stats_file = str(root / "collect.prof")
            print_profile(suite_dir, co, stats_file, args.top)
        ok = counts == {total} and wall <= TARGET_SECONDS and peak <= TARGET_MB and not litellm
        print(f"result: {'all targets met' if ok else 'TARGETS MISSED'}")
        return 0
    finally:
        if holder is not None:
            holder.cleanup()


if __name__ == "__main__":
    sys.exit(main())
