"""What the plugin adds to pytest's own start-up (issue 17, target 3), with PYTHONDONTWRITEBYTECODE=1.

Each case runs pytest in a fresh process on the same folder twice, alternately: with the plugin,
and with it disabled (``-p no:moralpairs``, which still pays pytest's own start-up and Hypothesis's
plugin). The difference of the medians is what the plugin costs:

    1-pair run, offline      one pair rated by moralpairs/lexical (no cache)          target +1.0 s
    1-pair run, server       one pair rated by openai/bench on a local server with no
                             latency, through the plugin's OpenAI client (no cache)   target +1.0 s
    cached 1,000-pair rerun  1,000 pairs whose 2,000 answers are all in the cache     target +1.0 s
    pytest --co examples     collecting the example suite                             target +0.1 s

Bytecode is never written (PYTHONDONTWRITEBYTECODE=1, as in CI images that set it), so every run
compiles the plugin's modules from source: what a checkout without __pycache__ pays each time.

Usage: python benchmarks/bench_startup.py [--runs 5] [--pairs 1000]
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
from bench_suite import child_env, run_pytest  # noqa: E402
from pairgen import write_pairs  # noqa: E402

EXAMPLES = HERE.parent / "examples"
NO_PLUGIN = ["-p", "no:moralpairs"]


def env() -> dict[str, str]:
    found = child_env()
    found["PYTHONDONTWRITEBYTECODE"] = "1"
    found.pop("PYTHONPYCACHEPREFIX", None)
    return found


def pytest_wall(cwd: Path, args: list[str]) -> float:
    result = run_pytest(cwd, args, timeout=600)
    if result["code"] not in (0, 1, 5):  # 5: nothing collected (the plugin disabled)
        print(result["output"][-3000:])
        raise SystemExit(f"pytest {' '.join(args)} exited {result['code']}")
    return result["wall"]


def compare(name: str, cwd: Path, args: list[str], target: float, runs: int) -> None:
    """``pytest ARGS`` against ``pytest -p no:moralpairs`` with ARGS less the plugin's options."""
    plain = [a for a in args if not a.startswith("--moral-")]
    with_plugin, without = [], []
    for _ in range(runs):
        with_plugin.append(pytest_wall(cwd, args))
        without.append(pytest_wall(cwd, [*plain, *NO_PLUGIN]))
    ours, theirs = statistics.median(with_plugin), statistics.median(without)
    extra = ours - theirs
    verdict = "OK" if extra <= target else "MISSED"
    print(
        f"  {name:<26} {ours:5.2f} s with the plugin, {theirs:5.2f} s without: {extra:+.2f} s "
        f"(target +{target:g} s)  {verdict}   [load {load()}]"
    )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (the median is shown)")
    parser.add_argument("--pairs", type=int, default=1000, help="pairs of the cached rerun")
    args = parser.parse_args()
    os.environ.update(env())
    import bench_suite

    bench_suite.child_env = env  # the children of run_pytest: bytecode never written
    print(f"medians of {args.runs} runs, PYTHONDONTWRITEBYTECODE=1; load average before: {load()}")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as holder, BenchServer(latency=0.0) as server:
        root = Path(holder)
        one = root / "one"
        write_pairs(one, 1, model=None)
        compare(
            "1-pair run, offline", one, ["-q", "--moral-model=moralpairs/lexical", "--moral-cache=off"], 1.0, args.runs
        )
        server_args = ["-q", "--moral-model=openai/bench", f"--moral-api-base={server.url}", "--moral-cache=off"]
        compare("1-pair run, server", one, server_args, 1.0, args.runs)

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
        compare(f"cached {args.pairs:,}-pair rerun", many, cached, 1.0, args.runs)
        assert server.stats()["requests"] == requests, "the rerun made model calls"

        compare("pytest --co examples", EXAMPLES, ["--co", "-q"], 0.1, args.runs)
    print(f"load average after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
