"""CPU the plugin spends per model call: each client alone, and through the engine.

Measurements in this process, against a local OpenAI-compatible server with no latency (it runs in
a thread of this process, so its CPU is in every figure alike):

1. aiohttp alone: one ClientSession posting N distinct prompts at concurrency C (the floor);
2. the plugin's OpenAI client through ``RatingEngine`` (``--moral-client=openai``): dedupe,
   semaphore, retry bookkeeping, parsing, the SQLite cache committing every answer;
3. litellm alone: ``litellm.acompletion`` for the same prompts;
4. litellm through ``RatingEngine`` (``--moral-client=litellm``);
5. the engine with an instant in-process completer (no client, no HTTP): the engine's own cost.

Targets (issue 17): (2) <= 1 ms of CPU per call, the client's and the engine's together; the
engine beyond its client, (4 - 3), <= 1 ms.

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
from pytest_moralpairs.clients import Clients  # noqa: E402
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


def raw_aiohttp(batch: list[RatingRequest], concurrency: int) -> float:
    import aiohttp

    from pytest_moralpairs.request import call_kwargs

    bodies = [{"model": "bench", "messages": call_kwargs(r)["messages"], "temperature": 0.0} for r in batch]
    url = batch[0].model.api_base + "/chat/completions"

    async def everything() -> None:
        limit = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one(body: dict) -> None:
                async with limit:
                    async with session.post(url, json=body) as response:
                        await response.json()

            await asyncio.gather(*(one(b) for b in bodies))

    start = time.process_time()
    asyncio.run(everything())
    return time.process_time() - start


def through_engine(batch: list[RatingRequest], concurrency: int, folder: str, client: str = "litellm") -> float:
    cache = ResponseCache(Path(folder) / f"c{time.monotonic_ns()}.sqlite3")
    engine = RatingEngine(Clients(client), concurrency=concurrency, cache=cache, retry=RetryPolicy(retries=3))
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
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with BenchServer(latency=0.0) as server, tempfile.TemporaryDirectory() as folder:
        model = ModelSettings("openai/bench", api_base=server.url, timeout=30)
        # litellm imports much of itself on first use; each path is warmed up once.
        raw_litellm(requests(32, model, "warm-up raw"), c)
        raw_aiohttp(requests(32, model, "warm-up aiohttp"), c)
        for client in ("openai", "litellm"):
            through_engine(requests(32, model, f"warm-up {client}"), c, folder, client)
        found: dict[str, list[float]] = {name: [] for name in ("aiohttp", "openai", "litellm", "engine-litellm", "own")}
        for round_ in range(args.rounds):
            found["aiohttp"].append(raw_aiohttp(requests(n, model, f"aiohttp {round_}"), c))
            found["openai"].append(through_engine(requests(n, model, f"openai {round_}"), c, folder, "openai"))
            found["litellm"].append(raw_litellm(requests(n, model, f"raw {round_}"), c))
            found["engine-litellm"].append(through_engine(requests(n, model, f"engine {round_}"), c, folder))
            found["own"].append(engine_only(requests(n, model, f"own {round_}"), c, folder))
    ms = {name: statistics.median(values) / n * 1000 for name, values in found.items()}
    print(f"{n} calls at concurrency {c}, median of {args.rounds} rounds, CPU per call (the server's included):")
    print(f"  aiohttp alone:                                {ms['aiohttp']:6.2f} ms")
    print(f"  through RatingEngine, --moral-client=openai:  {ms['openai']:6.2f} ms   (target <= 1 ms)")
    print(f"  litellm.acompletion alone:                    {ms['litellm']:6.2f} ms")
    print(f"  through RatingEngine, --moral-client=litellm: {ms['engine-litellm']:6.2f} ms")
    beyond = ms["engine-litellm"] - ms["litellm"]
    print(f"  engine beyond litellm:                        {beyond:6.2f} ms   (target <= 1 ms)")
    print(f"  engine with an instant completer:             {ms['own']:6.2f} ms   (no client, no HTTP)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
