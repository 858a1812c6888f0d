"""Issue 17's table: the same rating requests sent to the same server by this plugin (through each
client), by a bare aiohttp script, and by promptfoo; wall time, CPU, and the targets.

One BenchServer (bench_server.py) on 127.0.0.1 with a fixed latency answers every tool. Each tool
sends R distinct prompts (the built-in rating prompt for the sentences of R/2 generated pairs,
pairgen.py), at most C at once, each request made once (no cache to read: a fresh cache folder per
plugin run, promptfoo's cache off). Each tool is a fresh process, timed from launch to exit, so
its start-up counts; CPU is the child's (user + system). Per-request CPU is the CPU of the run
beyond the CPU of the same tool on 2 requests, divided by the requests beyond those 2.

    moralpairs-openai   pytest -q --moral-model openai/bench --moral-api-base URL --moral-concurrency C
                        --moral-client openai --moral-cache-dir FRESH   (OpenAI's protocol, aiohttp)
    moralpairs-litellm  the same with --moral-client litellm
    moralpairs-installed  moralpairs-openai from a real install of this checkout (pip install --target,
                        first on PYTHONPATH; pip compiled every module's .pyc): what users run, where
                        the checkout (no __pycache__, PYTHONDONTWRITEBYTECODE=1) compiles every module
    aiohttp             a script: one ClientSession, a semaphore of C, the same bodies (the floor)
    promptfoo           promptfoo eval -c CONFIG --max-concurrency C --no-cache --no-write --no-table
                        (provider openai:chat:bench with apiBaseUrl URL; the prompt as one user message)

The limit of a workload is ceil(R / C) * latency: C-wide waves with nothing else costing anything.
A tool's fixed part is what a run of 1 pair (2 requests, one wave) costs beyond its one latency:
start-up, client import, summary, exit. Its variable part is its wall time less that fixed part.
(Less the start-up of `pytest --co` on the same files instead, the plugin's variable part is shown
too: it then also holds the costs of a run that `--co` does not pay.) Targets (issue 17):

    1. moralpairs-openai total wall <= 0.5 x promptfoo's at C=32 (200 requests, 200 ms), <= 1.0 x at C=8
    2. variable part <= 1.15 x the limit at C=16 and C=32 (200 requests, 200 ms), and
       <= 1.5 x the limit for 2,000 requests at 50 ms, C=32
    4. client CPU per request <= 1 ms (moralpairs-openai)

The server rates every harmful sentence -3 and every harmless one 3: every pair passes, as most do
in a release pipeline, so the plugin's figures hold no failure reports.

Benchmarks are meaningless on a busy machine: the script prints the load average before and after.

Usage:
    python benchmarks/bench_vs_promptfoo.py [--runs 3] [--tools moralpairs-openai,aiohttp,...]
        [--promptfoo PATH] [--workloads 200:0.2:8,200:0.2:16,200:0.2:32,2000:0.05:32]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_server import BenchServer  # noqa: E402
from bench_suite import child_env, install_copy, installed_env, run_command, run_pytest, summary_line  # noqa: E402
from pairgen import pair_for, write_pairs  # noqa: E402

from pytest_moralpairs.prompt import DEFAULT_PROMPT  # noqa: E402

DEFAULT_PROMPTFOO = "/work/tools/promptfoo/node_modules/.bin/promptfoo"
TOOLS = ("moralpairs-openai", "moralpairs-installed", "moralpairs-litellm", "aiohttp", "promptfoo")
#: The installed copy of the checkout (``moralpairs-installed``), made once when that tool runs.
SITE: Path | None = None
WORKLOADS = "200:0.2:8,200:0.2:16,200:0.2:32,2000:0.05:32"
#: (requests, latency, concurrency) -> target on the plugin's total wall / promptfoo's.
WALL_TARGETS = {(200, 0.2, 32): 0.5, (200, 0.2, 8): 1.0}
#: (requests, latency, concurrency) -> target on the plugin's variable part / the limit.
VARIABLE_TARGETS = {(200, 0.2, 16): 1.15, (200, 0.2, 32): 1.15, (2000, 0.05, 32): 1.5}
CPU_TARGET_MS = 1.0

RAW_AIOHTTP = """
import asyncio, json, sys
import aiohttp

url, concurrency, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bodies = json.load(open(path))

async def main():
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def one(body):
            async with limit:
                async with session.post(url + "/chat/completions", json=body,
                                        headers={"Authorization": "Bearer bench"}) as response:
                    data = await response.json()
                    return data["choices"][0]["message"]["content"]
        answers = await asyncio.gather(*(one(b) for b in bodies))
    print(len(answers), "answers")

asyncio.run(main())
"""


def sentences(requests: int) -> list[str]:
    pairs = [pair_for(k) for k in range(math.ceil(requests / 2))]
    return [s for p in pairs for s in (p["harmful"], p["harmless"])][:requests]


def model_rule(requests: int) -> Any:
    """A model that rates every generated harmful sentence -3 and every harmless one 3, so every
    pair passes (as most do in a release pipeline) and no tool pays for failure reports."""
    ratings = {}
    for k in range(math.ceil(max(requests, 2) / 2)):
        pair = pair_for(k)
        ratings[pair["harmful"]], ratings[pair["harmless"]] = "-3", "3"
    return lambda sentence: ratings.get(sentence, "0")


class Workspace:
    """The files each tool needs for R requests, written once."""

    def __init__(self, root: Path, requests: int):
        self.root = root
        self.requests = requests
        self.suite = root / "suite"
        write_pairs(self.suite, math.ceil(requests / 2), per_file=1000, model=None)
        texts = sentences(requests)
        messages = [DEFAULT_PROMPT.messages(s) for s in texts]
        self.bodies = root / "bodies.json"
        self.bodies.write_text(
            json.dumps(
                [
                    {"model": "bench", "messages": [{"role": r, "content": c} for r, c in m], "temperature": 0.0}
                    for m in messages
                ]
            )
        )
        self.promptfoo = root / "promptfoo"
        self.promptfoo.mkdir()
        # The rating prompt with the sentence as a variable: one user message, as the plugin sends.
        (template,) = DEFAULT_PROMPT.messages("{{sentence}}")
        (self.promptfoo / "prompt.txt").write_text(template[1])
        (self.promptfoo / "tests.json").write_text(json.dumps([{"vars": {"sentence": s}} for s in texts]))

    def promptfoo_config(self, url: str, concurrency: int) -> Path:
        config = {
            "description": "issue 17 benchmark",
            "prompts": ["file://prompt.txt"],
            "providers": [
                {"id": "openai:chat:bench", "config": {"apiBaseUrl": url, "apiKey": "bench", "temperature": 0}}
            ],
            "tests": "file://tests.json",
            "evaluateOptions": {"maxConcurrency": concurrency, "cache": False, "showProgressBar": False},
        }
        path = self.promptfoo / f"promptfooconfig-{concurrency}.json"
        path.write_text(json.dumps(config))
        return path


def command_for(tool: str, space: Workspace, url: str, concurrency: int, promptfoo: str) -> tuple[list[str], Path]:
    if tool.startswith("moralpairs"):
        client = "openai" if tool == "moralpairs-installed" else tool.split("-", 1)[1]
        cache = tempfile.mkdtemp(prefix="bench-cache-", dir=space.root)
        args = [
            "-q", "-p", "no:cacheprovider",
            "--moral-model", "openai/bench", "--moral-api-base", url,
            "--moral-concurrency", str(concurrency), "--moral-client", client, "--moral-cache-dir", cache,
        ]  # fmt: skip
        return [sys.executable, "-m", "pytest", *args], space.suite
    if tool == "aiohttp":
        return [sys.executable, "-c", RAW_AIOHTTP, url, str(concurrency), str(space.bodies)], space.root
    config = space.promptfoo_config(url, concurrency)
    args = ["eval", "-c", str(config), "--max-concurrency", str(concurrency), "--no-cache", "--no-write"]
    return [promptfoo, *args, "--no-table", "--no-progress-bar"], space.promptfoo


def tool_env(tool: str, root: Path) -> dict[str, str]:
    env = installed_env(SITE) if tool == "moralpairs-installed" else child_env()
    if tool == "promptfoo":
        env.update(
            PROMPTFOO_CONFIG_DIR=str(root / "promptfoo-home"),
            PROMPTFOO_DISABLE_TELEMETRY="1",
            PROMPTFOO_DISABLE_UPDATE="1",
            PROMPTFOO_DISABLE_REMOTE_GENERATION="1",
            OPENAI_API_KEY="bench",
            NODE_NO_WARNINGS="1",
        )
    return env


def measure(
    tool: str, space: Workspace, server: BenchServer, concurrency: int, promptfoo: str, timeout: float
) -> dict[str, Any]:
    command, cwd = command_for(tool, space, server.url, concurrency, promptfoo)
    server.reset()
    result = run_command(command, cwd, timeout, env=tool_env(tool, space.root))
    stats = server.stats()
    result.update(
        requests=stats["requests"],
        in_flight=stats["max_in_flight"],
        span=(stats["last_response"] - stats["first_request"]) if stats["first_request"] is not None else None,
    )
    if result["code"] not in (0, 1) or stats["requests"] != space.requests:
        tail = result["output"][-1500:]
        print(f"    WARNING: {tool} exited {result['code']} after {stats['requests']} requests:\n{tail}")
    return result


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report_targets(ours: str, findings: dict[tuple[int, float, int], dict[str, dict[str, Any]]]) -> None:
    """The issue's targets, as ``ours`` met them."""
    print(f"\ntargets ({ours}):")
    for key, target in WALL_TARGETS.items():
        row = findings.get(key, {})
        if ours in row and "promptfoo" in row:
            ratio = row[ours]["wall"] / row["promptfoo"]["wall"]
            verdict = "OK" if ratio <= target else "MISSED"
            print(f"  1. {key}: total wall {ratio:.2f} x promptfoo's (target <= {target})  {verdict}")
    for key, target in VARIABLE_TARGETS.items():
        row = findings.get(key, {})
        if ours in row and "variable" in row[ours]:
            limit = math.ceil(key[0] / key[2]) * key[1]
            ratio = row[ours]["variable"] / limit
            verdict = "OK" if ratio <= target else "MISSED"
            print(f"  2. {key}: variable part {ratio:.2f} x limit (target <= {target})  {verdict}")
    for key, row in findings.items():
        if ours in row:
            ms = row[ours]["per_request_ms"]
            verdict = "OK" if ms <= CPU_TARGET_MS else "MISSED"
            print(f"  4. {key}: {ms:.2f} ms CPU per request (target <= {CPU_TARGET_MS:g})  {verdict}")


def main() -> int:
    global SITE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and workload (the median is shown)")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}")
    parser.add_argument("--promptfoo", default=DEFAULT_PROMPTFOO, help="promptfoo's executable (skipped when absent)")
    parser.add_argument("--workloads", default=WORKLOADS, help="REQUESTS:LATENCY:CONCURRENCY, comma-separated")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a child is killed")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    if "promptfoo" in tools and not Path(args.promptfoo).is_file():
        print(f"promptfoo not found at {args.promptfoo}: skipped")
        tools.remove("promptfoo")
    workloads = [(int(r), float(lat), int(c)) for r, lat, c in (w.split(":") for w in args.workloads.split(","))]
    print(f"load average before: {load()}; tools: {', '.join(tools)}; medians of {args.runs}")

    findings: dict[tuple[int, float, int], dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-vs-promptfoo-") as holder:
        root = Path(holder)
        if "moralpairs-installed" in tools:
            SITE = install_copy(root / "installed")
        spaces = {r: Workspace(root / f"r{r}", r) for r in sorted({w[0] for w in workloads} | {2})}
        for requests, latency, concurrency in workloads:
            limit = math.ceil(requests / concurrency) * latency
            print(
                f"\n{requests} requests, {latency * 1000:g} ms latency, concurrency {concurrency}: limit {limit:.2f} s"
            )
            row: dict[str, dict[str, Any]] = {}
            rule = model_rule(requests)
            with BenchServer(latency=latency, lifetime=args.timeout * 20, rule=rule) as server:
                for tool in tools:
                    runs = [measure(tool, spaces[requests], server, concurrency, args.promptfoo, args.timeout)]
                    runs += [
                        measure(tool, spaces[requests], server, concurrency, args.promptfoo, args.timeout)
                        for _ in range(args.runs - 1)
                    ]
                    small = [
                        measure(tool, spaces[2], server, concurrency, args.promptfoo, args.timeout)
                        for _ in range(args.runs)
                    ]
                    wall = statistics.median(r["wall"] for r in runs)
                    cpu = statistics.median(r["cpu"] for r in runs)
                    per_request = (cpu - statistics.median(r["cpu"] for r in small)) / (requests - 2) * 1000
                    fixed = statistics.median(r["wall"] for r in small) - latency
                    spans = [r["span"] for r in runs if r["span"] is not None]
                    row[tool] = {
                        "wall": wall,
                        "cpu": cpu,
                        "per_request_ms": per_request,
                        "runs": runs,
                        "variable": wall - fixed,
                    }
                    print(
                        f"  {tool:<19} wall {wall:6.2f} s ({wall / limit:4.2f} x limit)  CPU {cpu:6.2f} s, "
                        f"{per_request:5.2f} ms/request  fixed {fixed:5.2f} s, variable {wall - fixed:5.2f} s "
                        f"({(wall - fixed) / limit:4.2f} x limit)  server busy {statistics.median(spans):5.2f} s, "
                        f"max {max(r['in_flight'] for r in runs)} in flight"
                    )
                if any(t.startswith("moralpairs") for t in tools):
                    suite = spaces[requests].suite
                    co = [
                        run_pytest(suite, ["--co", "-q", "--moral-model", "openai/bench"], args.timeout)["wall"]
                        for _ in range(args.runs)
                    ]
                    start_up = statistics.median(co)
                    for tool in (t for t in tools if t.startswith("moralpairs")):
                        after = row[tool]["wall"] - start_up
                        print(
                            f"  {tool:<19} after the start-up of pytest --co ({start_up:.2f} s): {after:.2f} s = "
                            f"{after / limit:.2f} x limit; {summary_line(row[tool]['runs'][0]['output'])}"
                        )
            findings[(requests, latency, concurrency)] = row

    print(f"\nload average after: {load()}")
    for ours in (t for t in ("moralpairs-openai", "moralpairs-installed") if t in tools):
        report_targets(ours, findings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
