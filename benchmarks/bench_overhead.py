"""CPU the plugin's engine spends per model call beyond litellm's own.

Three measurements in this process, against a local OpenAI-compatible server with no latency:

1. litellm alone: ``litellm.acompletion`` for N distinct prompts at concurrency C on one loop;
2. the engine: the same N requests through ``RatingEngine`` with the litellm backend (dedupe,
   semaphore, retry bookkeeping, parsing, the SQLite cache committing every answer);
3. the engine with an instant in-process completer (no litellm, no HTTP): the engine's own cost.

Target: (2 - 1) / N <= 1 ms of CPU per call. CPU is process time (all threads, the server's
included, which is the same in 1 and 2), so the difference is the engine's.

Usage: python benchmarks/bench_overhead.py [--calls 400] [--concurrency 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

from bench_server import BenchServer  # noqa: E402

from pytest_moralpairs.cache import ResponseCache  # noqa: E402
from pytest_moralpairs.engine import Answer, ModelSettings, RatingEngine, RatingRequest  # noqa: E402
from pytest_moralpairs.faults import RetryPolicy  # noqa: E402
from pytest_moralpairs.llm import LiteLLMBackend, load_litellm  # noqa: E402
from pytest_moralpairs.prompt import DEFAULT_PROMPT  # noqa: E402


def requests(n: int, model: ModelSettings, tag: str) -> list[RatingRequest]:
    sentences = [f"Person X did thing number {i} ({tag})." for i in range(n)]
    return [RatingRequest(model, DEFAULT_PROMPT.messages(s), s) for s in sentences]


def raw_litellm(batch: list[RatingRequest], concurrency: int) -> float:
    backend = LiteLLMBackend()
    limit = asyncio.Semaphore(concurrency)

    async def one(request: RatingRequest) -> None:
        async with limit:
            await backend.litellm.acompletion(**backend.kwargs(request))

    async def everything() -> None:
        await asyncio.gather(*(one(r) for r in batch))
        await backend.aclose()

    start = time.process_time()
    asyncio.run(everything())
    return time.process_time() - start


def through_engine(batch: list[RatingRequest], concurrency: int, folder: str) -> float:
    cache = ResponseCache(Path(folder) / f"c{time.monotonic_ns()}.sqlite3")
    engine = RatingEngine(concurrency=concurrency, cache=cache, retry=RetryPolicy(retries=3))
    start = time.process_time()
    ratings = engine.rate_all(batch)
    spent = time.process_time() - start
    engine.close()
    assert all(r.ok for r in ratings.values()), [r.error for r in ratings.values() if not r.ok][:3]
    assert len(cache) == len(batch)
    return spent


def engine_only(batch: list[RatingRequest], concurrency: int, folder: str) -> float:
    async def instant(request: RatingRequest) -> Answer:
        return Answer("-2")

    cache = ResponseCache(Path(folder) / f"e{time.monotonic_ns()}.sqlite3")
    engine = RatingEngine(instant, concurrency=concurrency, cache=cache)
    start = time.process_time()
    engine.rate_all(batch)
    spent = time.process_time() - start
    engine.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load_litellm()
    n, c = args.calls, args.concurrency
    with BenchServer(latency=0.0) as server, tempfile.TemporaryDirectory() as folder:
        model = ModelSettings("openai/bench", api_base=server.url, timeout=30)
        raw_litellm(requests(32, model, "warm-up raw"), c)  # litellm imports much of itself on first use
        through_engine(requests(32, model, "warm-up engine"), c, folder)
        raw, eng, own = [], [], []
        for round_ in range(args.rounds):
            raw.append(raw_litellm(requests(n, model, f"raw {round_}"), c))
            eng.append(through_engine(requests(n, model, f"engine {round_}"), c, folder))
            own.append(engine_only(requests(n, model, f"own {round_}"), c, folder))
    raw_ms, eng_ms, own_ms = (statistics.median(x) / n * 1000 for x in (raw, eng, own))
    print(f"{n} calls at concurrency {c}, median of {args.rounds} rounds, CPU per call:")
    print(f"  litellm.acompletion alone:              {raw_ms:6.2f} ms")
    print(f"  through RatingEngine (cache, retries):  {eng_ms:6.2f} ms")
    print(f"  engine beyond litellm:                  {eng_ms - raw_ms:6.2f} ms   (target <= 1 ms)")
    print(f"  engine with an instant completer:       {own_ms:6.2f} ms   (no litellm, no HTTP)")


if __name__ == "__main__":
    main()
