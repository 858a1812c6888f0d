"""BenchServer with the limits of real servers: at most K requests at once (429 beyond), or N slots
that queue the rest (a llama.cpp server). For benchmarks/bench_limits.py.

``LimitServer(latency, capacity=K)`` answers at most K chat completions at once; one more gets a
429 at once (with ``Retry-After: retry_after`` on every ``retry_after_every``-th, when set).
``LimitServer(latency, slots=N)`` answers N at a time, each after ``latency``; the others wait
their turn, and a request whose client gave up (its timeout) is still answered in its turn, as a
server that does not notice a closed connection does.

Counters beyond BenchServer's: ``rejected`` (429s sent) and ``max_serving`` (most answered at once).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench_server import BenchServer


class LimitServer(BenchServer):
    def __init__(
        self,
        latency: float = 0.0,
        capacity: int | None = None,
        slots: int | None = None,
        retry_after: float | None = None,
        retry_after_every: int = 1,
        **kwargs: Any,
    ):
        self.capacity = capacity
        self.slots = slots
        self.retry_after = retry_after
        self.retry_after_every = max(1, retry_after_every)
        self._queue: asyncio.Semaphore | None = None
        super().__init__(latency=latency, **kwargs)

    def _reset_counters(self) -> None:
        super()._reset_counters()
        self.rejected = 0
        self.serving = 0
        self.max_serving = 0

    def stats(self) -> dict[str, Any]:
        stats = super().stats()
        stats.update(rejected=self.rejected, max_serving=self.max_serving)
        return stats

    async def _completion(self, raw: bytes) -> tuple[int, Any]:
        if self.capacity is not None and self.serving >= self.capacity:
            self.rejected += 1
            return 429, {"error": {"message": f"at most {self.capacity} at once", "type": "rate_limit_exceeded"}}
        self.serving += 1
        self.max_serving = max(self.max_serving, self.serving)
        try:
            if self.slots is None:
                return await super()._completion(raw)
            if self._queue is None:
                self._queue = asyncio.Semaphore(self.slots)
            async with self._queue:
                return await super()._completion(raw)
        finally:
            self.serving -= 1

    def _extra_headers(self, status: int) -> str:
        if status == 429 and self.retry_after is not None and self.rejected % self.retry_after_every == 0:
            return f"Retry-After: {self.retry_after:g}\r\n"
        return ""
