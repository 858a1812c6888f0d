"""An OpenAI-compatible chat server for benchmarks: asyncio, 127.0.0.1 only, fixed latency.

Every chat completion waits ``latency`` seconds (asyncio.sleep, so hundreds of requests in flight
cost nothing) and answers a rating in -4..4 chosen by a deterministic rule from the sentence
after the last "Scenario:" of the last user message (the built-in prompt's format; the whole
message if it has none): by default a hash of the sentence, so the same sentence always gets the
same rating and different sentences spread over the scale.

Routes:
    POST /v1/chat/completions   (also /chat/completions) the rating, as an OpenAI chat completion
    GET  /v1/models             the one model it pretends to be
    GET  /stats                 counters as JSON (see BenchServer.stats)
    POST /stats/reset           zero the counters

From Python (the server runs on its own event loop in a daemon thread):

    from bench_server import BenchServer
    with BenchServer(latency=0.2) as server:
        ...  # point a client at server.url (http://127.0.0.1:PORT/v1)
        print(server.stats())

The server stops by itself after ``lifetime`` seconds (default 900) even if nobody stops it.

Command line:
    python benchmarks/bench_server.py [--latency 0.2] [--port 0] [--lifetime 900]
        serve until Ctrl-C or the lifetime ends; prints the base URL first
    python benchmarks/bench_server.py --check [--concurrency 200] [--latency 0.2]
        self-test: that many concurrent requests from an aiohttp client must finish in about
        one latency; prints the figures
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import threading
import time
from typing import Any, Callable

from pytest_moralpairs.prompt import rated_sentence

HOST = "127.0.0.1"
DEFAULT_LIFETIME = 900.0
MODEL_NAME = "bench"
#: Largest request body accepted: a rating prompt is a few kilobytes.
MAX_BODY = 8 * 1024 * 1024
#: Seconds an idle keep-alive connection is kept open.
IDLE_TIMEOUT = 75.0


def hash_rating(sentence: str) -> str:
    """A rating in -4..4 fixed by the sentence: the default rule."""
    digest = hashlib.sha256(sentence.encode("utf-8")).digest()
    return str(int.from_bytes(digest[:4], "big") % 9 - 4)


class _HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
}


class BenchServer:
    """An OpenAI-compatible server on 127.0.0.1 answering ``rule(sentence)`` after ``latency`` s."""

    def __init__(
        self,
        latency: float = 0.0,
        port: int = 0,
        lifetime: float = DEFAULT_LIFETIME,
        rule: Callable[[str], str] = hash_rating,
    ):
        self.latency = latency
        self.lifetime = lifetime
        self.rule = rule
        self.port = port
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._reset_counters()
        self._thread = threading.Thread(target=self._run, name="bench-server", daemon=True)

    # --- what a caller reads -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL for an OpenAI client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://{HOST}:{self.port}/v1"

    @property
    def stats_url(self) -> str:
        return f"http://{HOST}:{self.port}/stats"

    def stats(self) -> dict[str, Any]:
        """Counters since start (or the last reset).

        ``requests``: chat completions received; ``unique_prompts``: distinct message lists among
        them; ``unique_sentences``: distinct rated sentences; ``max_in_flight``: most answered at
        once; ``first_request`` / ``last_response``: seconds since the server started (None before
        any), so ``last_response - first_request`` is the span the server was busy;
        ``other_requests``: anything else (models, stats, 404s); ``connections``: TCP connections
        accepted.
        """
        with self._lock:
            return {
                "requests": self._requests,
                "unique_prompts": len(self._prompts),
                "unique_sentences": len(self._sentences),
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "first_request": self._first_request,
                "last_response": self._last_response,
                "other_requests": self._other_requests,
                "connections": self._connections,
                "latency": self.latency,
                "uptime": round(time.monotonic() - self._started, 3),
            }

    def reset(self) -> None:
        """Zero the counters (the server keeps running)."""
        self._reset_counters()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "BenchServer":
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"the bench server did not start: {self._error}") from self._error
        if not self._ready.is_set():
            raise RuntimeError("the bench server did not start within 10 s")
        return self

    def close(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed() and not self._stopped.is_set():
            try:
                loop.call_soon_threadsafe(self._stop_event.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread.is_alive():
            self._thread.join(10)

    def wait(self) -> None:
        """Block until the server stops (its lifetime ends or :meth:`close` is called)."""
        while not self._stopped.wait(0.5):
            pass

    def __enter__(self) -> "BenchServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the server ----------------------------------------------------------------------------

    def _reset_counters(self) -> None:
        with self._lock:
            self._started = getattr(self, "_started", time.monotonic())
            self._requests = 0
            self._other_requests = 0
            self._connections = 0
            self._prompts: set[str] = set()
            self._sentences: set[str] = set()
            self._in_flight = 0
            self._max_in_flight = 0
            self._first_request: float | None = None
            self._last_response: float | None = None

    def clock(self) -> float:
        """Seconds since the server started: the clock of ``first_request`` and ``last_response``."""
        return round(time.monotonic() - self._started, 4)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
        finally:
            self._stopped.set()
            self._ready.set()

    async def _main(self) -> None:
        self._stop_event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, HOST, self.port, backlog=2048)
        self.port = self._server.sockets[0].getsockname()[1]
        self._started = time.monotonic()
        self._ready.set()
        try:
            await asyncio.wait_for(self._stop_event.wait(), self.lifetime)
        except asyncio.TimeoutError:
            pass
        self._server.close()
        # Connections a client keeps alive, and requests still waiting out their latency, end here:
        # each handler is cancelled and awaited, so none is left for asyncio.run to cancel.
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self._connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
                    return
                keep_alive = await self._exchange(head, reader, writer)
                if not keep_alive:
                    return
        except (ConnectionError, OSError):
            return
        except asyncio.CancelledError:
            # Only the server's shutdown cancels a handler. Ending normally, not cancelled, keeps
            # asyncio's stream callback from logging the cancellation as an unhandled error.
            return
        finally:
            if task is not None:
                self._handlers.discard(task)
            writer.close()

    async def _exchange(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection stays open."""
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await self._send(writer, 400, {"error": {"message": "bad request line"}}, False)
            return False
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        try:
            body = await self._body(headers, reader)
            status, payload = await self._route(method, target.split("?", 1)[0].rstrip("/"), body)
        except _HTTPError as exc:
            status, payload, keep_alive = exc.status, {"error": {"message": exc.message}}, False
        await self._send(writer, status, payload, keep_alive)
        return keep_alive

    async def _body(self, headers: dict[str, str], reader: asyncio.StreamReader) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers expected
                    return b"".join(parts)
                if size > MAX_BODY:
                    raise _HTTPError(413, "body too large")
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise _HTTPError(413, "body too large")
        return await reader.readexactly(length) if length else b""

    async def _route(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        if path in ("/v1/chat/completions", "/chat/completions"):
            if method != "POST":
                raise _HTTPError(405, "use POST")
            return await self._completion(raw)
        with self._lock:
            self._other_requests += 1
        if path == "/stats" and method == "GET":
            return 200, self.stats()
        if path == "/stats/reset" and method == "POST":
            self.reset()
            return 200, {"reset": True}
        if path in ("/v1/models", "/models") and method == "GET":
            return 200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "bench"}]}
        raise _HTTPError(404, f"no route {method} {path[:100]}")

    async def _completion(self, raw: bytes) -> tuple[int, Any]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _HTTPError(400, "the body is not a JSON object")
        sentence = rated_sentence(body.get("messages") if isinstance(body, dict) else None)
        prompt = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
        with self._lock:
            self._requests += 1
            number = self._requests
            self._prompts.add(prompt)
            self._sentences.add(sentence)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            if self._first_request is None:
                self._first_request = self.clock()
        try:
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            answer = self.rule(sentence)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._last_response = self.clock()
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []) or [])
        return 200, {
            "id": f"chatcmpl-bench-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", MODEL_NAME),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 1, "total_tokens": prompt_tokens + 1},
        }

    def _extra_headers(self, status: int) -> str:
        """Header lines (each ending in CRLF) a response of ``status`` carries besides the usual."""
        return ""

    async def _send(self, writer: asyncio.StreamWriter, status: int, payload: Any, keep_alive: bool) -> None:
        data = json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            "Content-Type: application/json\r\n"
            f"{self._extra_headers(status)}Content-Length: {len(data)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        ).encode("latin-1")
        writer.write(head + data)
        await writer.drain()


# --- self-test ------------------------------------------------------------------------------------


async def _concurrent_requests(url: str, count: int, distinct: bool = True) -> tuple[float, list[str]]:
    import aiohttp

    def body(i: int) -> dict[str, Any]:
        sentence = f"Person X helped neighbour number {i if distinct else 0}."
        return {
            "model": MODEL_NAME,
            "messages": [{"role": "user", "content": f"Rate it.\n\nScenario: {sentence}\nRating:"}],
        }

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> str:
            async with session.post(f"{url}/chat/completions", json=body(i)) as response:
                data = await response.json()
                return data["choices"][0]["message"]["content"]

        start = time.perf_counter()
        answers = await asyncio.gather(*(one(i) for i in range(count)))
        return time.perf_counter() - start, answers


def check(concurrency: int, latency: float, rounds: int = 3) -> bool:
    """``rounds`` bursts of ``concurrency`` concurrent requests; each should take about ``latency``."""
    ok = True
    with BenchServer(latency=latency, lifetime=120) as server:
        print(f"bench server at {server.url}, latency {latency:g} s")
        for round_ in range(1, rounds + 1):
            server.reset()
            elapsed, answers = asyncio.run(_concurrent_requests(server.url, concurrency))
            stats = server.stats()
            ratings = sorted({int(a) for a in answers})
            good = (
                stats["requests"] == concurrency
                and stats["max_in_flight"] == concurrency
                and all(-4 <= r <= 4 for r in ratings)
                and elapsed < latency + 0.25
            )
            ok = ok and good
            print(
                f"round {round_}: {concurrency} concurrent requests in {elapsed:.3f} s "
                f"(target ~{latency:g} s, limit {latency + 0.25:g} s); server counted {stats['requests']} requests, "
                f"{stats['unique_prompts']} unique prompts, max {stats['max_in_flight']} in flight, "
                f"{stats['connections']} connections; ratings seen {ratings}  -> {'OK' if good else 'SLOW/WRONG'}"
            )
        # The same sentence is always rated the same.
        server.reset()
        _, answers = asyncio.run(_concurrent_requests(server.url, 20, distinct=False))
        same = len(set(answers)) == 1 and server.stats()["unique_prompts"] == 1
        ok = ok and same
        print(
            f"20 requests for one sentence: answers {sorted(set(answers))}, unique prompts "
            f"{server.stats()['unique_prompts']}  -> {'OK' if same else 'WRONG'}"
        )
    print(f"result: {'OK' if ok else 'FAILED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each chat request waits (default 0.2)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--lifetime", type=float, default=DEFAULT_LIFETIME, help="stop after this many seconds")
    parser.add_argument("--check", action="store_true", help="run the concurrency self-test and exit")
    parser.add_argument("--concurrency", type=int, default=200, help="requests at once for --check (default 200)")
    args = parser.parse_args()
    if args.check:
        return 0 if check(args.concurrency, args.latency) else 1
    server = BenchServer(latency=args.latency, port=args.port, lifetime=args.lifetime).start()
    print(
        f"serving {server.url} (stats: {server.stats_url}); latency {args.latency:g} s; "
        f"stops after {args.lifetime:g} s or Ctrl-C",
        flush=True,
    )
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        print(json.dumps(server.stats()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
