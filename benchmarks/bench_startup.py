"""What the plugin adds to pytest's own start-up (issue 17, target 3), with PYTHONDONTWRITEBYTECODE=1.

Each case runs pytest in a fresh process on the same folder twice, alternately: with the plugin,
and with it disabled (``-p no:moralpairs``, which still pays pytest's own start-up and Hypothesis's
plugin). The difference of the medians is what the plugin costs:

    1-pair run, offline      one pair rated by moralpairs/lexical (no cache)          target +1.0 s
    1-pair run, server       one pair rated by openai/bench on a local server with no
                             latency, through the plugin's OpenAI client (no cache)   target +1.0 s
    cached 1,000-pair rerun  1,000 pairs whose 2,000 answers are all in the cache     target +1.0 s
    pytest --co examples     collecting the example suite                             target +0.1 s
    pytest --help            the options listed (no target: no slower than before)

Bytecode is never written (PYTHONDONTWRITEBYTECODE=1, as in CI images that set it). Two copies of
the plugin are measured:

    checkout   this checkout, installed editable (``pip install -e``), with no __pycache__ in it:
               every run compiles the plugin's modules from source.
    installed  a real, non-editable install (``pip install --target``) of a copy of this checkout,
               first on PYTHONPATH so that it shadows the editable one (checked before measuring):
               what users have. pip compiled a .pyc of every module at install time, but pytest
               imports the modules of a ``pytest11`` plugin through its assertion rewriter, which
               reads only .pyc files of its own (``*-pytest-X.Y.pyc``), never written here: any
               module still imported through it is parsed and compiled from source on every run.

Both copies are measured in every case; ``--quick`` skips the slow ones (the server, the cached
rerun).

Usage: python benchmarks/bench_startup.py [--runs 5] [--pairs 1000] [--quick]
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
from bench_suite import child_env, install_copy, run_command  # noqa: E402
from pairgen import write_pairs  # noqa: E402

CHECKOUT = HERE.parent
EXAMPLES = CHECKOUT / "examples"
NO_PLUGIN = ["-p", "no:moralpairs"]


def env(site: Path | None = None) -> dict[str, str]:
    """A pytest child's environment: bytecode never written; ``site`` (an installed copy) first on
    the path."""
    found = child_env()
    found["PYTHONDONTWRITEBYTECODE"] = "1"
    found.pop("PYTHONPYCACHEPREFIX", None)
    found.pop("PYTHONPATH", None)
    if site is not None:
        found["PYTHONPATH"] = str(site)
    return found


def pytest_wall(cwd: Path, args: list[str], site: Path | None = None) -> float:
    result = run_command([sys.executable, "-m", "pytest", *args], cwd, timeout=600, env=env(site))
    if result["code"] not in (0, 1, 5):  # 5: nothing collected (the plugin disabled)
        print(result["output"][-3000:])
        raise SystemExit(f"pytest {' '.join(args)} exited {result['code']}")
    return result["wall"]


def compare(name: str, cwd: Path, args: list[str], target: float | None, runs: int, site: Path | None = None) -> None:
    """``pytest ARGS`` against ``pytest -p no:moralpairs`` with ARGS less the plugin's options."""
    plain = [a for a in args if not a.startswith("--moral-")]
    with_plugin, without = [], []
    for _ in range(runs):
        with_plugin.append(pytest_wall(cwd, args, site))
        without.append(pytest_wall(cwd, [*plain, *NO_PLUGIN], site))
    ours, theirs = statistics.median(with_plugin), statistics.median(without)
    extra = ours - theirs
    if target is None:
        verdict = "(no target)"
    else:
        verdict = f"(target +{target:g} s)  " + ("OK" if extra <= target else "MISSED")
    copy = "installed" if site is not None else "checkout"
    print(
        f"  {name:<26} {copy:<9} {ours:5.2f} s with the plugin, {theirs:5.2f} s without: {extra:+.3f} s "
        f"{verdict}   [load {load()}]"
    )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (the median is shown)")
    parser.add_argument("--pairs", type=int, default=1000, help="pairs of the cached rerun")
    parser.add_argument("--quick", action="store_true", help="the cheap cases only: --co, --help, 1-pair offline")
    args = parser.parse_args()
    os.environ.update(env())
    print(f"medians of {args.runs} runs, PYTHONDONTWRITEBYTECODE=1; load average before: {load()}")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as holder, BenchServer(latency=0.0) as server:
        root = Path(holder)
        site = install_copy(root / "installed", env)
        one = root / "one"
        write_pairs(one, 1, model=None)
        offline = ["-q", "--moral-model=moralpairs/lexical", "--moral-cache=off"]
        for copy in (None, site):
            compare("pytest --co examples", EXAMPLES, ["--co", "-q"], 0.1, args.runs, copy)
            compare("pytest --help", EXAMPLES, ["--help"], None, args.runs, copy)
            compare("1-pair run, offline", one, offline, 1.0, args.runs, copy)
        if args.quick:
            print(f"load average after: {load()}")
            return 0
        server_args = ["-q", "--moral-model=openai/bench", f"--moral-api-base={server.url}", "--moral-cache=off"]
        for copy in (None, site):
            compare("1-pair run, server", one, server_args, 1.0, args.runs, copy)

        many = root / "many"
        write_pairs(many, args.pairs, model=None)
        cached = [
            "-q",
            "--moral-model=openai/bench",
            f"--moral-api-base={server.url}",
            f"--moral-cache-dir={root / 'c'}",
        ]
        server.reset()
        pytest_wall(many, cached)  # fill the cache
        requests = server.stats()["requests"]
        assert requests == 2 * args.pairs, requests
        for copy in (None, site):
            compare(f"cached {args.pairs:,}-pair rerun", many, cached, 1.0, args.runs, copy)
        assert server.stats()["requests"] == requests, "the rerun made model calls"
    print(f"load average after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
