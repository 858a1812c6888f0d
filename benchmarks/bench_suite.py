"""A whole run against a model with latency: N pairs, `pytest` in a subprocess, BenchServer as model.

Generates N pairs (2N distinct sentences) in a temp dir, starts a BenchServer (bench_server.py) on
127.0.0.1 with the given latency, and runs

    pytest -q --moral-model openai/bench --moral-api-base <url> --moral-concurrency C [EXTRA...]

measuring the wall time (start-up included) and what the server saw (requests, unique prompts,
most in flight, and the span from its first request to its last answer). The start-up cost is
measured separately as the wall time of `pytest --co -q` with the same arguments on the same files,
so that

    run time after start-up = wall time - start-up time

can be held against the limit ceil(2N / C) * latency: the time C-wide waves of calls need for 2N
ratings when nothing else costs anything. `pytest --co` does not import litellm, so that import
(seconds) counts as run time; the timeline line splits a run by the server's clock into launch ->
first request (start-up, collection, litellm import), first request -> last answer (the calls),
and last answer -> exit (verdicts, reports, shutdown).

Usage:
    python benchmarks/bench_suite.py [--pairs 100] [--latency 0.2] [--concurrency 16]
        [--repeat 1] [--startup-runs 3] [--per-file 1000] [--keep DIR] [--allow-bytecode]
        [-- EXTRA PYTEST ARGS, e.g. --moral-cache-dir /tmp/c  or  -n 2]

Each run starts from a fresh directory, so pytest's cache dir (and with it the default response
cache) starts empty; --repeat R runs pytest R times in the same directory (runs after the first
see whatever the first recorded). Server counters are per run.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_server import BenchServer  # noqa: E402
from pairgen import write_pairs  # noqa: E402

ALLOW_BYTECODE = False
PYCACHE_PREFIX = str(Path(tempfile.gettempdir()) / "moralpairs-bench-pycache")


def child_env() -> dict[str, str]:
    """The environment of a pytest child: nothing inherited that steers pytest, the plugin or a proxy."""
    drop = ("PYTEST_", "MORALPAIRS_", "OPENAI_", "LITELLM_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    for proxy in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env.pop(proxy, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if ALLOW_BYTECODE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # Into a cache of the benchmark's own, never next to the sources of the shared venv.
        env["PYTHONPYCACHEPREFIX"] = PYCACHE_PREFIX
    return env


CHECKOUT = HERE.parent
#: What the copy of the checkout to install leaves behind (as tests/test_install.py's copy does).
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"
)


def installed_env(site: Path | None = None) -> dict[str, str]:
    """A child's environment (:func:`child_env`) with ``site``, an installed copy, first on the path."""
    found = child_env()
    found.pop("PYTHONPATH", None)
    if site is not None:
        found["PYTHONPATH"] = str(site)
    return found


def install_copy(root: Path, env: Callable[..., dict[str, str]] | None = None) -> Path:
    """A copy of this checkout installed as pip installs a release (not editable, a .pyc compiled
    for every module), into ``root/site``; checked to be the copy a pytest child imports.
    ``env(site)`` is a child's environment with ``site`` first on the path (default:
    :func:`installed_env`)."""
    env = env or installed_env
    source, site = root / "source", root / "site"
    shutil.copytree(CHECKOUT, source, ignore=NOT_COPIED)
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--target"]
    # pip compiles the .pyc files whatever PYTHONDONTWRITEBYTECODE says; unset it all the same,
    # as on a machine where the package was installed before the variable was set.
    build_env = {k: v for k, v in env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([*pip, str(site), "."], cwd=source, env=build_env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pip install --target failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    package = site / "pytest_moralpairs"
    compiled = list((package / "__pycache__").glob("plugin.*.pyc"))
    probe = "import pytest_moralpairs.plugin as m; print(m.__file__)"
    found = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env(site), capture_output=True, text=True)
    imported = Path(found.stdout.strip() or "?")
    if not compiled or imported.parent != package:
        raise SystemExit(f"the installed copy is not what is imported ({imported}) or has no .pyc ({compiled})")
    return site


def run_command(
    command: list[str],
    cwd: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict:
    """Run ``command`` in a child: wall time, its start and end on ``clock``, CPU time, max RSS,
    exit code, output."""
    env = dict(env if env is not None else child_env())
    with tempfile.TemporaryFile() as out, tempfile.TemporaryDirectory(prefix="moralpairs-bench-tmp-") as tmp:
        # A temp dir of the child's own: pytest deletes old pytest-of-USER/pytest-N folders at exit
        # (xdist's controller always makes one), and what other sessions left there is not ours to time.
        env["TMPDIR"] = tmp
        began = clock()
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        ended = clock()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return {
        "wall": wall,
        "began": began,
        "ended": ended,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "code": proc.returncode,
        "output": text,
    }


def run_pytest(cwd: Path, args: list[str], timeout: float, clock: Callable[[], float] = time.perf_counter) -> dict:
    """Run pytest in a child (see :func:`run_command`)."""
    return run_command([sys.executable, "-m", "pytest", *args], cwd, timeout, clock=clock)


def summary_line(output: str) -> str:
    """pytest's final line ("== 3 passed, 2 failed in 1.2s ==") without the decoration."""
    for line in reversed(output.splitlines()):
        if re.search(r"\b(passed|failed|error|errors|no tests ran)\b", line):
            return line.strip("= ").strip()
    return "(no summary line)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=100, help="N: pairs to generate (2N distinct sentences)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server takes per request")
    parser.add_argument("--concurrency", type=int, default=16, help="--moral-concurrency")
    parser.add_argument("--repeat", type=int, default=1, help="pytest runs in the same directory")
    parser.add_argument("--startup-runs", type=int, default=3, help="runs of `pytest --co -q` for the start-up time")
    parser.add_argument("--per-file", type=int, default=1000, help="pairs per file")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a pytest child is killed")
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

    holder = None
    if args.keep:
        root = Path(args.keep)
    else:
        holder = tempfile.TemporaryDirectory(prefix="moralpairs-bench-suite-")
        root = Path(holder.name)
    n, latency, conc = args.pairs, args.latency, args.concurrency
    limit = math.ceil(2 * n / conc) * latency
    try:
        files = write_pairs(root / "suite", n, args.per_file, model=None)
        print(f"{n:,} pairs ({2 * n:,} distinct sentences) in {len(files)} file(s) under {root / 'suite'}")
        lifetime = args.timeout * (args.repeat + args.startup_runs + 1) + 60
        with BenchServer(latency=latency, lifetime=lifetime) as server:
            moral = [
                "--moral-model", "openai/bench",
                "--moral-api-base", server.url,
                "--moral-concurrency", str(conc),
            ]  # fmt: skip
            common = ["-q", *moral, *args.pytest_args]
            print(f"server {server.url}, latency {latency:g} s; pytest {' '.join(common)}")
            if ALLOW_BYTECODE:  # warm-up: byte-compile pytest, the plugins and litellm into the private cache
                run_pytest(root / "suite", ["--co", *common], args.timeout)
                warm = "from pytest_moralpairs.llm import load_litellm; load_litellm()"
                subprocess.run([sys.executable, "-c", warm], env=child_env(), check=False, timeout=args.timeout)

            startup = []
            for _ in range(args.startup_runs):
                co = run_pytest(root / "suite", ["--co", *common], args.timeout)
                if co["code"] != 0:
                    print(co["output"][-3000:])
                    print(f"pytest --co failed with exit code {co['code']}")
                    return 1
                startup.append(co["wall"])
            if server.stats()["requests"]:
                print(f"WARNING: collection made {server.stats()['requests']} model requests")
            start_up = statistics.median(startup)
            print(
                f"start-up (pytest --co -q, same files and args): median {start_up:.2f} s "
                f"(min {min(startup):.2f}, max {max(startup):.2f}, {len(startup)} runs)"
            )

            for run in range(1, args.repeat + 1):
                server.reset()
                result = run_pytest(root / "suite", common, args.timeout, clock=server.clock)
                stats = server.stats()
                after = result["wall"] - start_up
                print(f"\nrun {run}: pytest exit code {result['code']}: {summary_line(result['output'])}")
                if result["code"] not in (0, 1):
                    print(result["output"][-5000:])
                print(
                    f"  wall time (start-up included): {result['wall']:.2f} s; after start-up: {after:.2f} s  "
                    f"limit ceil(2*{n}/{conc})*{latency:g} = {limit:.2f} s  -> {'OK' if after <= limit else 'OVER'}"
                )
                print(
                    f"  server: {stats['requests']} requests, {stats['unique_prompts']} unique prompts, "
                    f"{stats['unique_sentences']} unique sentences (expected {2 * n} on a cold cache), "
                    f"max {stats['max_in_flight']} in flight (concurrency {conc}), {stats['connections']} connections"
                )
                if stats["first_request"] is not None and stats["last_response"] is not None:
                    first, last = stats["first_request"], stats["last_response"]
                    print(
                        f"  timeline: launch -> first request {first - result['began']:.2f} s, "
                        f"first request -> last answer {last - first:.2f} s (ideal {limit:.2f} s), "
                        f"last answer -> exit {result['ended'] - last:.2f} s"
                    )
                print(f"  pytest child: {result['cpu']:.2f} s CPU, max RSS {result['rss_mb']:.0f} MB")
        return 0
    finally:
        if holder is not None:
            holder.cleanup()


if __name__ == "__main__":
    sys.exit(main())
