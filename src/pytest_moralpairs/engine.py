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
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


class RatingEngine:
    """Resolves rating requests: deduplicated, concurrent, each made at most once per engine."""

    def __init__(
        self,
        complete: Complete | None = None,
        parse: Parse | None = None,
        concurrency: int = 16,
        make_complete: Callable[[], Complete] | None = None,
    ):
        """``complete`` answers requests; without it ``make_complete()`` builds one on the first
        call (by default the litellm backend, so litellm is imported only when needed)."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._complete = complete
        self._make_complete = make_complete or _litellm_backend
        self._parse = parse or _default_parse
        self.concurrency = concurrency
        self._ratings: dict[RatingRequest, Rating] = {}
        self._loop: _LoopThread | None = None
        self.calls_made = 0

    def _completer(self) -> Complete:
        if self._complete is None:
            self._complete = self._make_complete()
        return self._complete

    def rate_all(self, requests: Iterable[RatingRequest]) -> dict[RatingRequest, Rating]:
        """Rate every request not yet rated; return the ratings of all of them."""
        wanted = list(dict.fromkeys(requests))
        missing = [r for r in wanted if r not in self._ratings]
        if missing:
            if self._loop is None:
                self._loop = _LoopThread()
            answers = self._loop.run(self._gather(missing))
            for request, answer in zip(missing, answers):
                self._ratings[request] = self._to_rating(request, answer)
        return {r: self._ratings[r] for r in wanted}

    def rate(self, request: RatingRequest) -> Rating:
        return self.rate_all([request])[request]

    async def _gather(self, requests: list[RatingRequest]) -> list[str | BaseException]:
        complete = self._completer()
        limit = asyncio.Semaphore(self.concurrency)

        async def one(request: RatingRequest) -> str | BaseException:
            async with limit:
                self.calls_made += 1
                try:
                    return await complete(request)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a failed call is a value, reported on the item
                    return exc

        return await asyncio.gather(*(one(r) for r in requests))

    def _to_rating(self, request: RatingRequest, answer: str | BaseException) -> Rating:
        if isinstance(answer, BaseException):
            return Rating(request, None, None, f"the call failed: {type(answer).__name__}: {shorten(str(answer))}")
        try:
            value = self._parse(answer, request)
        except UnparseableAnswer as exc:
            return Rating(request, None, answer, f"the answer is not a rating ({exc.reason})")
        return Rating(request, float(value), answer)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None
