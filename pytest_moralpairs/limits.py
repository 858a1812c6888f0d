"""How fast each model is called: adaptive concurrency, requests and tokens per minute, and the
rate-limit headers providers send (pytest-free, no client imported).

One :class:`ModelLimiter` per model string, made by :class:`Limits`. A call takes a :class:`Slot`
before it is sent and gives it back when it ends, saying how it went:

* **Adaptive concurrency** (AIMD, as TCP's congestion control): the calls in flight start at the
  run's ``--moral-concurrency`` (or the model's own cap), are cut to 70 % when the provider says it
  is overloaded (429, 503, 529) and halved when a call times out while others were in flight (a
  server that queues them: the queue counts against the timeout), at most once per round of calls
  (the calls sent before a cut do not cut again), and grow back by
  one per round of answers; near the level where the last overload came, by one per eight rounds,
  so a provider that serves K at once is kept at K, not in a sawtooth beneath it.
* **Caps**: ``--moral-rpm`` and ``--moral-tpm`` are token buckets (a second's worth of burst);
  a call's tokens are estimated from its messages before it is sent and corrected by its usage.
* **Headers**: ``Retry-After`` / ``retry-after-ms`` pause every call of the model;
  ``x-ratelimit-remaining-requests`` / ``-tokens`` with ``x-ratelimit-reset-requests`` / ``-tokens``
  (durations such as ``6m0s``, ``1s``, ``20ms``) let that many more calls (tokens) go before the
  reset, then wait for it.

A failure that made the limiter back off, or that came to a call sent before it backed off, is the
limiter's probing, not the call's fault: :meth:`ModelLimiter.failed` says so, and the engine then
tries the call again without counting a try against ``--moral-retries``.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .faults import RATE_LIMIT, TIMEOUT, Fault, Wait, header_names, retry_after_in
from .freshness import seconds_in

#: HTTP statuses that say "too many, slow down": rate limited, unavailable, overloaded (Anthropic).
OVERLOAD_STATUSES = frozenset({429, 503, 529})
#: What the calls in flight are multiplied by when the provider says it is overloaded (429, 503,
#: 529: CUBIC's factor) and when calls time out queueing (a queue costs a timeout a try: halved).
BACK_OFF = 0.7
BACK_OFF_QUEUED = 0.5
#: Rounds of answers per step up once the limit is near where the last overload came.
PROBE_ROUNDS = 16
#: Seconds of a rate cap a bucket may spend at once (its burst).
BURST_SECONDS = 1.0
#: Tokens reserved for a rating's answer when a call's tokens are estimated.
ANSWER_TOKENS = 16
#: Most tries a call gets that do not count against ``--moral-retries`` (the limiter's probing).
MAX_FREE_TRIES = 16
#: A wait this long or longer is told to the progress line.
TOLD_WAIT = 1.0

#: The response headers that speak of a provider's limits, kept with an answer.
LIMIT_HEADERS = ("retry-after", "x-ratelimit-")


def parse_duration(value: Any) -> float | None:
    """Seconds in a rate-limit reset header: ``6m0s``, ``1s``, ``20ms``, ``1h2m3.5s``, or a bare
    number of seconds; None when it is none of those."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds: float | None = float(text)
    except ValueError:
        seconds = seconds_in(text)
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _count(value: Any) -> int | None:
    try:
        number = int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number >= 0 else None


@dataclass(frozen=True)
class RateHeaders:
    """What a provider's response headers say about its limits (None: not said)."""

    retry_after: float | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests: float | None = None
    reset_tokens: float | None = None

    @property
    def empty(self) -> bool:
        return self == RateHeaders()


def read_headers(headers: Mapping[str, Any] | None) -> RateHeaders:
    """The limits in ``headers`` (any case; litellm's ``llm_provider-`` prefix dropped)."""
    if not headers:
        return RateHeaders()
    try:
        found = header_names(headers)
    except Exception:  # noqa: BLE001 - an odd header object: nothing said
        return RateHeaders()
    return RateHeaders(
        retry_after=retry_after_in(found),
        remaining_requests=_count(found.get("x-ratelimit-remaining-requests")),
        remaining_tokens=_count(found.get("x-ratelimit-remaining-tokens")),
        reset_requests=parse_duration(found.get("x-ratelimit-reset-requests")),
        reset_tokens=parse_duration(found.get("x-ratelimit-reset-tokens")),
    )


def rate_headers(headers: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Only the headers about limits (``retry-after*``, ``x-ratelimit-*``, any case or litellm
    prefix), to keep with an answer; None when there are none."""
    if not headers:
        return None
    kept = {name: str(value) for name, value in header_names(headers).items() if name.startswith(LIMIT_HEADERS)}
    return kept or None


def headers_of(source: Any) -> Mapping[str, Any] | None:
    """The response headers an answer or an exception carries: an HTTP client's ``headers``, a
    litellm exception's ``litellm_response_headers`` or ``response.headers``, a litellm response's
    ``_hidden_params["additional_headers"]`` (``llm_provider-`` prefixed) or ``_response_headers``."""
    candidates: list[Any] = []
    for holder in (source, getattr(source, "response", None)):
        if holder is None:
            continue
        for name in ("headers", "litellm_response_headers", "response_headers", "_response_headers"):
            try:
                candidates.append(getattr(holder, name, None))
            except Exception:  # noqa: BLE001 - a property that raises: look elsewhere
                continue
    hidden = getattr(source, "_hidden_params", None)
    if isinstance(hidden, Mapping):
        candidates.insert(0, hidden.get("additional_headers"))
    for headers in candidates:
        if headers is not None and callable(getattr(headers, "items", None)):
            try:
                if any(True for _ in headers.items()):
                    return headers
            except Exception:  # noqa: BLE001
                continue
    return None


def estimate_tokens(messages: Iterable[tuple[str, str]]) -> int:
    """A call's tokens before it is made: about four characters a token, and the answer's."""
    return sum(len(content) // 4 + 4 for _, content in messages) + ANSWER_TOKENS


class TokenBucket:
    """``per_minute`` units a minute, spent as they come, with ``BURST_SECONDS`` of them at once;
    a spend larger than the burst goes when the bucket is full (and leaves it in debt)."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * BURST_SECONDS)
        self.level = self.capacity
        self.clock = clock
        self._at = clock()

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self._at) * self.rate)
        self._at = now

    def delay(self, amount: float, now: float | None = None) -> float:
        """Seconds until ``amount`` may be spent (0: now)."""
        now = self.clock() if now is None else now
        self._refill(now)
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def spend(self, amount: float, now: float | None = None) -> None:
        self._refill(self.clock() if now is None else now)
        self.level -= amount


class Slot:
    """One call's place in flight: what it was sent under, to judge how it ended."""

    __slots__ = ("tokens", "epoch", "in_flight", "full", "released")

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.epoch = 0
        #: Calls of the model in flight when this one was sent, itself included.
        self.in_flight = 0
        #: Whether the limit was in use when it was sent, half of it at least (only then does its
        #: success raise the limit: a limit never reached proves nothing).
        self.full = False
        self.released = False


def is_overload(fault: Fault) -> bool:
    return fault.status in OVERLOAD_STATUSES or fault.kind == RATE_LIMIT


class ModelLimiter:
    """The calls of one model: how many in flight, how fast they start; on the engine's loop."""

    def __init__(
        self,
        model: str,
        ceiling: int,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        waiting: Callable[[Wait], None] | None = None,
        max_pause: float | None = None,
    ):
        self.model = model
        self.ceiling = max(1, int(ceiling))
        self.limit = float(self.ceiling)
        self.rpm, self.tpm = rpm, tpm
        self.clock = clock
        self.waiting = waiting
        self.max_pause = max_pause
        self.in_flight = 0
        #: Raised at each back-off: failures of calls sent before it are not the limit's.
        self.epoch = 0
        #: The calls in flight when the provider was last overloaded (None: never).
        self.overloaded_at: float | None = None
        self.backoffs = 0
        self.lowest = self.ceiling
        self._requests = TokenBucket(rpm, clock) if rpm else None
        self._tokens = TokenBucket(tpm, clock) if tpm else None
        self._paused_until = float("-inf")
        self._pause_why: tuple[str, str] = ("", "")
        #: From the headers: ``(calls, tokens)`` that may still start before ``reset``, and when.
        self._window_requests: tuple[int, float] | None = None
        self._window_tokens: tuple[int, float] | None = None
        self._queue: deque[tuple[asyncio.Future[None], Slot]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._told_until = float("-inf")

    # --- taking and giving back slots ---------------------------------------------------------

    @property
    def current(self) -> int:
        """Calls that may be in flight now."""
        return max(1, int(self.limit))

    async def acquire(self, tokens: int = 0) -> Slot:
        """A slot for a call of about ``tokens`` tokens, when the limits allow it (first come,
        first served)."""
        slot = Slot(tokens)
        if not self._queue and self._blocked(slot, self.clock())[0] == 0.0:
            self._start(slot)
            return slot
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((future, slot))
        self._dispatch()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(slot)  # granted as it was cancelled: give it back
            self._dispatch()
            raise
        return slot

    def release(self, slot: Slot) -> None:
        if slot.released:
            return
        slot.released = True
        self.in_flight -= 1
        self._dispatch()

    def _start(self, slot: Slot) -> None:
        now = self.clock()
        self.in_flight += 1
        slot.epoch = self.epoch
        slot.in_flight = self.in_flight
        slot.full = self.in_flight * 2 >= self.current
        if self._requests is not None:
            self._requests.spend(1, now)
        if self._tokens is not None:
            self._tokens.spend(slot.tokens, now)
        if self._window_requests is not None:
            left, reset = self._window_requests
            self._window_requests = (left - 1, reset)
        if self._window_tokens is not None:
            left, reset = self._window_tokens
            self._window_tokens = (left - slot.tokens, reset)

    def _blocked(self, slot: Slot, now: float) -> tuple[float, Wait | None]:
        """Seconds until ``slot`` may start (0: now; inf: when a call ends), and the wait to tell."""
        if self.in_flight >= self.current:
            return math.inf, None
        waits: list[tuple[float, Wait | None]] = []
        if self._paused_until > now:
            kind, why = self._pause_why
            waits.append((self._paused_until - now, Wait(self._paused_until - now, kind, reason=why)))
        for window, header in ((self._window_requests, "requests"), (self._window_tokens, "tokens")):
            if window is not None:
                left, reset = window
                if reset <= now:
                    continue
                need = 1 if header == "requests" else slot.tokens
                if left < need:
                    why = f"x-ratelimit-remaining-{header} {max(left, 0)}"
                    waits.append((reset - now, Wait(reset - now, RATE_LIMIT, reason=why)))
        for bucket, amount, flag in ((self._requests, 1, "rpm"), (self._tokens, slot.tokens, "tpm")):
            if bucket is not None:
                delay = bucket.delay(amount, now)
                if delay > 0:
                    cap = self.rpm if flag == "rpm" else self.tpm
                    waits.append((delay, Wait(delay, "paced", reason=f"--moral-{flag} {cap:g}")))
        if not waits:
            return 0.0, None
        return max(waits, key=lambda w: w[0])

    def _dispatch(self) -> None:
        now = self.clock()
        while self._queue:
            future, slot = self._queue[0]
            if future.done():
                self._queue.popleft()
                continue
            delay, wait = self._blocked(slot, now)
            if delay > 0:
                if math.isfinite(delay):
                    self._wake_in(delay, wait)
                return
            self._queue.popleft()
            self._start(slot)
            future.set_result(None)

    def _wake_in(self, delay: float, wait: Wait | None) -> None:
        loop = asyncio.get_running_loop()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(delay, self._dispatch)
        until = self.clock() + delay
        if wait is not None and self.waiting is not None and delay >= TOLD_WAIT and until > self._told_until + 0.5:
            self._told_until = until
            self.waiting(wait)

    # --- how calls ended ------------------------------------------------------------------------

    def succeeded(self, slot: Slot, tokens: int | None = None, headers: Mapping[str, Any] | None = None) -> None:
        """A call answered: one more step up (its ``tokens`` used correct the estimate)."""
        if self._tokens is not None and tokens is not None and tokens > 0:
            self._tokens.spend(tokens - slot.tokens)
        self.observe(headers)
        if slot.full and slot.epoch == self.epoch and self.limit < self.ceiling:
            step = 1.0 / self.limit
            if self.overloaded_at is not None and self.limit + 1 >= self.overloaded_at:
                step /= PROBE_ROUNDS
            self.limit = min(float(self.ceiling), self.limit + step)
        self.release(slot)

    def failed(self, slot: Slot, fault: Fault, headers: Mapping[str, Any] | None = None) -> bool:
        """A call failed (not given back yet); True when the failure is the limiter's probing (it
        backed off for it, or had already since the call was sent): try it again without counting
        a try. An overload that says when to come back (``Retry-After``) is a pause of the model,
        not a cut (the engine pauses it), and counts as a try; so does a failure while no other
        call was in flight: fewer at once would not have helped."""
        self.observe(headers, failure=True)
        free = False
        if is_overload(fault) and fault.retry_after is None:
            free = self._back_off(slot, BACK_OFF)
        elif self.queued(slot, fault):
            free = self._back_off(slot, BACK_OFF_QUEUED)
        self.release(slot)
        return free

    def queued(self, slot: Slot, fault: Fault) -> bool:
        """A client's own timeout while other calls are still in flight (it is not given back
        yet): the server made it queue behind them."""
        return fault.kind == TIMEOUT and fault.status is None and self.in_flight > 1

    def _back_off(self, slot: Slot, factor: float) -> bool:
        if slot.epoch < self.epoch:
            return True  # sent at the old limit: already backed off for
        level = min(self.limit, float(self.in_flight))
        if level <= 1:
            return False  # alone in flight: fewer calls at once would not have helped
        self.overloaded_at = level
        self.limit = max(1.0, level * factor)
        self.lowest = min(self.lowest, self.current)
        self.epoch += 1
        self.backoffs += 1
        return True

    def pause(self, seconds: float, kind: str, why: str) -> None:
        """No call of the model starts for ``seconds`` (a server's ``Retry-After``)."""
        if self.max_pause is not None:
            seconds = min(seconds, self.max_pause)
        until = self.clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self._pause_why = (kind, why)

    def observe(self, headers: Mapping[str, Any] | None, failure: bool = False) -> None:
        """Heed what a response's headers say about the limits."""
        said = read_headers(headers)
        if said.empty:
            return
        now = self.clock()
        if failure and said.retry_after is not None:
            self.pause(said.retry_after, RATE_LIMIT, "Retry-After")
        if said.remaining_requests is not None and said.reset_requests is not None:
            self._window_requests = (said.remaining_requests, now + said.reset_requests)
        if said.remaining_tokens is not None and said.reset_tokens is not None:
            self._window_tokens = (said.remaining_tokens, now + said.reset_tokens)

    def describe(self) -> str | None:
        """``concurrency 4 of 32`` when the limiter has backed off, else None."""
        if self.current >= self.ceiling:
            return None
        return f"concurrency {self.current} of {self.ceiling}"


class Limits:
    """The limiters of a run's models, made on first use, keyed by the model string.

    ``concurrency`` (calls in flight at once, in all) is this process's part (under pytest-xdist
    the run gives each worker its part); ``rpm`` and ``tpm`` (per model) are the run's, and each of
    the ``workers`` processes keeps to its part of them. A model's own ``concurrency`` / ``rpm`` /
    ``tpm`` (attributes of its settings, when it has them) replace the run's for that model: its
    ``concurrency`` as this process's part already (the run divides it), its caps divided among the
    workers here.
    """

    def __init__(
        self,
        concurrency: int,
        rpm: float | None = None,
        tpm: float | None = None,
        workers: int = 1,
        clock: Callable[[], float] = time.monotonic,
        waiting: Callable[[Wait], None] | None = None,
        max_pause: float | None = None,
    ):
        self.concurrency = max(1, int(concurrency))
        self.rpm, self.tpm = rpm, tpm
        self.workers = max(1, int(workers))
        self.clock = clock
        self.waiting = waiting
        self.max_pause = max_pause
        self._by_model: dict[str, ModelLimiter] = {}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._by_model.values()))

    def model(self, settings: Any) -> ModelLimiter:
        """The limiter of ``settings.model`` (a model's settings, or the model string)."""
        name = settings if isinstance(settings, str) else str(settings.model)
        limiter = self._by_model.get(name)
        if limiter is None:
            own = {key: getattr(settings, key, None) for key in ("concurrency", "rpm", "tpm")}
            ceiling = self.concurrency
            if own["concurrency"]:
                # Already this process's part: the run divides a model's limit among the workers.
                ceiling = min(ceiling, max(1, int(own["concurrency"])))
            rpm, tpm = own["rpm"] or self.rpm, own["tpm"] or self.tpm
            rpm = rpm / self.workers if rpm else None
            tpm = tpm / self.workers if tpm else None
            limiter = self._by_model[name] = ModelLimiter(
                name, ceiling, rpm, tpm, self.clock, self._waiting, self.max_pause
            )
        return limiter

    def _waiting(self, wait: Wait) -> None:
        if self.waiting is not None:
            self.waiting(wait)

    def describe(self) -> str | None:
        """What the progress line says of the limits: ``concurrency 4 of 32`` per model that
        backed off (named when there are several), else None."""
        said = [(limiter.model, text) for limiter in self if (text := limiter.describe())]
        if not said:
            return None
        if len(self._by_model) == 1:
            return said[0][1]
        return ", ".join(f"{model}: {text}" for model, text in said)
