"""The rating engine: :class:`RatingRequest` -> :class:`Rating`, batch-first.

Callers declare every request they will need; :meth:`RatingEngine.rate_all` deduplicates them
and makes the missing calls concurrently (bounded by ``concurrency``) on one event loop that lives
as long as the engine. Items then read finished ratings; nothing calls a model one item at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Coroutine, Iterable, TypeVar

from .answers import UnparseableAnswer, parse_rating, shorten
from .prompt import Message

T = TypeVar("T")


@dataclass(frozen=True)
class ModelSettings:
    """Which model answers, and how."""

    model: str
    api_base: str | None = None
    temperature: float = 0.0
    timeout: float = 60.0


@dataclass(frozen=True)
class RatingRequest:
    """One question to one model: the full messages, so the key covers the exact prompt."""

    model: ModelSettings
    messages: tuple[Message, ...]
    sentence: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        payload = json.dumps([self.model.model, self.model.api_base, self.model.temperature, self.messages])
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Rating:
    """The outcome of one request: a value on the scale, or the reason there is none."""

    request: RatingRequest
    value: float | None
    raw: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


class RatingError(Exception):
    """A rating could not be had: the call failed or the answer was not a number in range."""

    def __init__(self, rating: Rating, side: str | None = None):
        self.rating = rating
        self.side = side
        super().__init__(describe_rating_error(rating, side))


def describe_rating_error(rating: Rating, side: str | None = None) -> str:
    label = f"{side} sentence" if side else "sentence"
    lines = [
        f"could not rate the {label} with {rating.request.model.model}: {rating.error}",
        f"  sentence: {rating.request.sentence}",
    ]
    if rating.raw is not None:
        lines.append(f"  raw answer: {shorten(rating.raw)!r}")
    return "\n".join(lines)


#: ``async (request) -> answer text``; raises on a failed call.
Complete = Callable[[RatingRequest], Awaitable[str]]
#: ``(answer text, request) -> value``; raises :class:`UnparseableAnswer`.
Parse = Callable[[str, RatingRequest], float]


def _default_parse(text: str, request: RatingRequest) -> float:
    return parse_rating(text)


def _litellm_backend() -> Complete:
    from .llm import LiteLLMBackend  # imports litellm only when a call is really needed

    return LiteLLMBackend()


class _LoopThread:
    """One event loop in a daemon thread, so async HTTP clients outlive a single batch."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="moralpairs-engine", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("the rating engine cannot be called from inside one of its own model calls")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self, before: Callable[[], Awaitable[Any]] | None = None, timeout: float = 5.0) -> None:
        """Await ``before()``, cancel what still runs on the loop, then stop and close it.

        Tasks left pending on a closed loop (litellm's logging worker, a call abandoned by an
        interrupt) would otherwise print "Task was destroyed but it is pending!" at exit.
        """
        if self.loop.is_closed():
            return
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(before, timeout), self.loop).result(timeout * 2)
            except BaseException:  # noqa: BLE001 - closing must not fail: the run is over
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=timeout)
        if not self.loop.is_running():
            self.loop.close()

    async def _shutdown(self, before: Callable[[], Awaitable[Any]] | None, timeout: float) -> None:
        if before is not None:
            try:
                await asyncio.wait_for(before(), timeout)
            except Exception:  # noqa: BLE001 - a failing cleanup must not keep the loop alive
                pass
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()


#: Seconds a call may run beyond its model's ``timeout`` before the engine abandons it. The
#: backend enforces the timeout itself; this only keeps a call that ignores it from hanging a run.
DEADLINE_GRACE = 5.0


class RatingEngine:
    """Resolves rating requests: deduplicated, concurrent, each made at most once per engine.

    All calls run on one event loop in a daemon thread owned by the engine, so :meth:`rate_all`
    is a plain blocking call that works the same from synchronous code and from code that is
    itself running inside an event loop.
    """

    def __init__(
        self,
        complete: Complete | None = None,
        parse: Parse | None = None,
        concurrency: int = 16,
        make_complete: Callable[[], Complete] | None = None,
        deadline_grace: float = DEADLINE_GRACE,
    ):
        """``complete`` answers requests; without it ``make_complete()`` builds one on the first
        call (by default the litellm backend, so litellm is imported only when needed).

        A ``complete`` with an async ``aclose()`` method has it awaited, on the engine's loop,
        by :meth:`close`."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._complete = complete
        self._make_complete = make_complete or _litellm_backend
        self._parse = parse or _default_parse
        self.concurrency = concurrency
        self.deadline_grace = deadline_grace
        self._ratings: dict[RatingRequest, Rating] = {}
        # Touched only on the engine loop: one task per request ever asked for, so that
        # overlapping batches (even from several threads) share a call instead of repeating it.
        self._calls: dict[RatingRequest, asyncio.Task[str | BaseException]] = {}
        self._limit: asyncio.Semaphore | None = None
        self._loop: _LoopThread | None = None
        self._loop_lock = threading.Lock()
        self._ratings_lock = threading.Lock()
        self.calls_made = 0

    def _completer(self) -> Complete:
        if self._complete is None:
            self._complete = self._make_complete()
        return self._complete

    def _loop_thread(self) -> _LoopThread:
        with self._loop_lock:
            if self._loop is None:
                self._loop = _LoopThread()
            return self._loop

    def rate_all(self, requests: Iterable[RatingRequest]) -> dict[RatingRequest, Rating]:
        """Rate every request not yet rated; return the ratings of all of them."""
        wanted = list(dict.fromkeys(requests))
        missing = [r for r in wanted if r not in self._ratings]
        if missing:
            answers = self._loop_thread().run(self._answers(missing))
            for request, answer in zip(missing, answers, strict=True):
                rating = self._to_rating(request, answer)
                with self._ratings_lock:
                    self._ratings.setdefault(request, rating)
        return {r: self._ratings[r] for r in wanted}

    def rate(self, request: RatingRequest) -> Rating:
        return self.rate_all([request])[request]

    async def _answers(self, requests: list[RatingRequest]) -> list[str | BaseException]:
        """The answers to ``requests``, starting a call only for those never asked before."""
        tasks = []
        for request in requests:
            task = self._calls.get(request)
            if task is None or task.cancelled():
                task = self._calls[request] = asyncio.ensure_future(self._call(request))
            tasks.append(task)
        # wait, not gather: an interrupted batch must not cancel calls another batch shares.
        if tasks:
            await asyncio.wait(tasks)
        return [t.result() if not t.cancelled() else asyncio.CancelledError("the call was cancelled") for t in tasks]

    async def _call(self, request: RatingRequest) -> str | BaseException:
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.concurrency)
        async with self._limit:
            self.calls_made += 1
            deadline = request.model.timeout + self.deadline_grace
            try:
                complete = self._completer()
                return await asyncio.wait_for(complete(request), deadline)
            except asyncio.TimeoutError:
                return TimeoutError(f"no answer after {deadline:g} s (the timeout is {request.model.timeout:g} s)")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed call is a value, reported on the item
                return exc

    def _to_rating(self, request: RatingRequest, answer: str | BaseException) -> Rating:
        if isinstance(answer, BaseException):
            return Rating(request, None, None, f"the call failed: {type(answer).__name__}: {shorten(str(answer))}")
        try:
            value = self._parse(answer, request)
        except UnparseableAnswer as exc:
            return Rating(request, None, answer, f"the answer is not a rating ({exc.reason})")
        return Rating(request, float(value), answer)

    def close(self) -> None:
        """Close the completer (its ``aclose()``, if any), cancel leftover tasks, stop the thread."""
        with self._loop_lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            aclose = getattr(self._complete, "aclose", None)
            loop.close(aclose if callable(aclose) else None)
        self._calls.clear()
        self._limit = None
