"""The rating engine: :class:`RatingRequest` -> :class:`Rating`, batch-first.

Callers declare every request they will need; :meth:`RatingEngine.rate_all` deduplicates them,
answers what it can from the response cache (without ever loading the model backend), and makes
the missing calls concurrently (bounded by ``concurrency``) on one event loop that lives as long as
the engine: with retries and backoff on transient faults, one more try for a refusal, a cost
budget, and every answer committed to the cache the moment it arrives. Items then read finished
ratings; nothing calls a model one item at a time.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Coroutine, Iterable, TypeVar

from .answers import (
    UnparseableAnswer,
    is_refusal,
    parse_rating,
    rating_from_logprobs,
    shorten,
    wants_logprobs,
)
from .cache import CachedAnswer, ResponseCache
from .faults import AUTH, BAD_REQUEST, TIMEOUT, Fault, RetryPolicy, Wait, classify
from .freshness import ServedModels, mismatch_error
from .limits import MAX_FREE_TRIES, Limits, ModelLimiter, Slot, estimate_tokens, headers_of
from .reasoning import timeout_hint
from .request import (  # noqa: F401 - ModelSettings, Usage: the engine's API
    Answer,
    ModelSettings,
    RatingRequest,
    Usage,
    default_key,
)

T = TypeVar("T")

#: What the cache keeps of an answer besides its text and cost (:class:`CachedAnswer` and
#: :class:`Answer` name them alike): stored with each answer, given back with each hit.
_KEPT_WITH_ANSWER = ("logprobs", "reasoning", "reasoning_tokens", "served_model", "fingerprint")


#: Why a rating has no value.
ERROR_ANSWER, ERROR_REFUSAL, ERROR_CALL, ERROR_NOT_CALLED = "answer", "refusal", "call", "not called"
ERROR_NO_LOGPROBS = "no logprobs"
#: An answer of another version of the model than the one it answers as now (``--moral-cache-mismatch=error``).
ERROR_MISMATCH = "model mismatch"


@dataclass(frozen=True)
class Rating:
    """The outcome of one request: a value on the scale, or the reason there is none.

    ``distribution``, for log-probability scoring: the probability of each rating -4..4, of which
    ``value`` is the mean. ``reasoning``: what a reasoning model thought before its answer (the
    value is read from ``raw``, the answer, only).
    """

    request: RatingRequest
    value: float | None
    raw: str | None = None
    error: str | None = None
    error_kind: str | None = None
    cached: bool = False
    distribution: tuple[float, ...] | None = None
    reasoning: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


class CallFailed(Exception):
    """A call that failed for good (retries spent, or a fault no retry can fix)."""

    def __init__(self, fault: Fault, attempts: int, headers: Any = None):
        self.fault = fault
        self.attempts = attempts
        #: The failed response's headers (its rate limits), when it had any.
        self.headers = headers
        tries = f" after {attempts} tries" if attempts > 1 else ""
        super().__init__(f"the call failed{tries}: {fault}")


class NotCalled(Exception):
    """A request the engine decided not to send (replay miss, cost limit, bad credentials)."""


class RatingError(Exception):
    """A rating could not be had: the call failed or the answer was not a number in range."""

    def __init__(self, rating: Rating, side: str | None = None, persona: str | None = None):
        self.rating = rating
        self.side = side
        self.persona = persona
        super().__init__(describe_rating_error(rating, side, persona))


def describe_rating_error(rating: Rating, side: str | None = None, persona: str | None = None) -> str:
    label = (f"{side} sentence" if side else "sentence") + (f" as persona {persona!r}" if persona else "")
    lines = [
        f"could not rate the {label} with {rating.request.model.model}: {rating.error}",
        f"  sentence: {rating.request.sentence}",
    ]
    if rating.raw is not None:
        lines.append(f"  raw answer: {shorten(rating.raw)!r}")
    return "\n".join(lines)


def _no_logprobs_message(request: RatingRequest, refused: bool = False) -> str:
    what = "does not accept a request for log-probabilities" if refused else "returned no log-probabilities"
    return (
        f"the model {request.model.model} {what}, which --moral-scoring=logprobs "
        "needs (OpenAI, vLLM and llama.cpp servers give them; Anthropic and Ollama do not): "
        "use --moral-scoring=text"
    )


def _refuses_logprobs(fault: Fault) -> bool:
    """A bad request refusing the log-prob parameters as such: litellm's "anthropic does not
    support parameters: ['logprobs', 'top_logprobs']", or a server's "logprobs are not supported".
    Not a limit on them ("top_logprobs 20 exceeds max 5"): that is an ordinary bad request."""
    text = fault.message.lower()
    return "logprobs" in text and any(sign in text for sign in ("not support", "unsupported", "not available"))


#: ``async (request) -> Answer`` (or the answer text); raises on a failed call.
Complete = Callable[[RatingRequest], Awaitable["Answer | str"]]
#: ``(answer text, request) -> value``; raises :class:`UnparseableAnswer`.
Parse = Callable[[str, RatingRequest], float]
#: ``(calls done, calls in this batch)``, called on the engine's thread as calls finish.
Progress = Callable[[int, int], None]
#: Told, on the engine's thread, each time a call starts to wait before its next try.
Waiting = Callable[[Wait], None]


def _default_parse(text: str, request: RatingRequest) -> float:
    return parse_rating(text)


def _default_clients() -> Complete:
    from .clients import Clients  # imported when a call is to be made, not with the engine

    return Clients()


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
    """Resolves rating requests: deduplicated, cached, concurrent, each made at most once.

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
        *,
        cache: ResponseCache | None = None,
        replay: bool = False,
        retry: RetryPolicy | None = None,
        max_cost: float | None = None,
        key: Callable[[RatingRequest], str] | None = None,
        progress: Progress | None = None,
        advisory: Iterable[str] = (),
        waiting: Waiting | None = None,
        shared: ResponseCache | None = None,
        others: bool = False,
        mismatch: str = "warn",
        fresh_since: float | None = None,
        counts: Callable[[RatingRequest], bool] | None = None,
        limits: Limits | None = None,
    ):
        """``complete`` answers requests; without it ``make_complete()`` builds one on the first
        call (by default :class:`~pytest_moralpairs.clients.Clients`, which imports a client, and
        litellm only for the calls that need it, when a call is really to be made).

        ``cache`` answers repeated requests and keeps every new answer; with ``replay`` nothing
        is sent at all and a request missing from the cache is an error. ``shared`` is where the
        processes of one run (pytest-xdist workers) leave their answers for each other when
        ``cache`` does not keep them: read like the cache, but its answers are not counted as
        cache hits (they are calls of this run). With ``others``, other processes may answer the
        same requests meanwhile: the stores are read again just before each call. ``retry`` says how often
        to try again after a transient fault (default: never). Once ``max_cost`` dollars are
        spent no further call is made. ``key`` names a request in the cache (default
        :func:`default_key`, the key the plugin uses too). ``progress(done, total)`` is told as
        calls finish, ``waiting(wait)`` when a call starts to wait before trying again (a rate
        limit's Retry-After, backoff), so a long silence can be explained. A ``complete`` with an async
        ``aclose()`` has it awaited by :meth:`close`. A model named in ``advisory`` that refuses
        the credentials stops only its own calls, never the run (:attr:`fatal`).

        :attr:`served` counts the model versions that answered (from the cache and fresh); with
        ``mismatch="error"`` an answer of another version than the one the model answers as now
        (see :meth:`~pytest_moralpairs.freshness.ServedModels.current`) is an error rating. A
        cached answer stored at or after ``fresh_since`` (default: when the engine was made) is a
        call of this run made by another process: counted where it was made, not here; and with
        ``counts``, only the requests it accepts are counted here (an xdist worker's share).

        ``limits`` pace each model's calls (:class:`~pytest_moralpairs.limits.Limits`: adaptive concurrency up to
        ``concurrency``, rate caps, the providers' rate-limit headers); by default adaptive
        concurrency alone.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._complete = complete
        # Built only once a call is really needed.
        self._make_complete = make_complete or _default_clients
        self._parse = parse or _default_parse
        self.concurrency = concurrency
        self.limits = limits if limits is not None else Limits(concurrency, waiting=waiting)
        self.deadline_grace = deadline_grace
        self.cache = cache
        self.shared = shared if shared is not None and shared.enabled else None
        self.others = others
        self.replay = replay
        self.retry = retry or RetryPolicy(retries=0)
        if self.limits.max_pause is None:
            self.limits.max_pause = self.retry.max_retry_after
        self.max_cost = max_cost
        self._key_of = key or default_key
        self._keys: dict[RatingRequest, str] = {}
        self.progress = progress
        self.waiting = waiting
        self._ratings: dict[RatingRequest, Rating] = {}
        # Touched only on the engine loop: one task per request ever asked for, so that
        # overlapping batches (even from several threads) share a call instead of repeating it.
        self._calls: dict[RatingRequest, asyncio.Task[Answer | BaseException]] = {}
        self._limit: asyncio.Semaphore | None = None
        self._loop: _LoopThread | None = None
        self._loop_lock = threading.Lock()
        self._ratings_lock = threading.Lock()
        self.usage = Usage()
        #: Model -> why no further call may be made to it (refused credentials, no log-probs).
        self.fatal_by_model: dict[str, str] = {}
        #: Models whose failure does not stop the run (``--moral-baseline-model``, a yardstick):
        #: their requests end as errors, and :attr:`fatal` ignores them.
        self.advisory = frozenset(advisory)
        #: Set when the caller was interrupted (Ctrl-C) mid-batch: calls not yet started never are.
        self.interrupted = False
        self.served = ServedModels()
        self._served_lock = threading.Lock()
        self._served_counted: set[RatingRequest] = set()
        self.mismatch = mismatch
        self.fresh_since = time.time() if fresh_since is None else fresh_since
        self._counts = counts
        #: The version that gave each answer (when the provider named one).
        self._served_by: dict[RatingRequest, str] = {}

    @property
    def fatal(self) -> str | None:
        """Why the run must stop (a model under test refused the credentials or gives no
        log-probs), or None."""
        return next((why for model, why in self.fatal_by_model.items() if model not in self.advisory), None)

    def _stop(self, request: RatingRequest, why: str) -> None:
        self.fatal_by_model.setdefault(request.model.model, why)

    @property
    def calls_made(self) -> int:
        """Model calls attempted, each retry included."""
        return self.usage.calls

    def key(self, request: RatingRequest) -> str:
        key = self._keys.get(request)
        if key is None:
            key = self._keys[request] = self._key_of(request)
        return key

    def _completer(self) -> Complete:
        if self._complete is None:
            self._complete = self._make_complete()
        return self._complete

    def _loop_thread(self) -> _LoopThread:
        with self._loop_lock:
            if self._loop is None:
                self._loop = _LoopThread()
            return self._loop

    # --- batches -------------------------------------------------------------------------------

    def rate_all(self, requests: Iterable[RatingRequest]) -> dict[RatingRequest, Rating]:
        """Rate every request not yet rated; return the ratings of all of them."""
        wanted = list(dict.fromkeys(requests))
        missing = [r for r in wanted if r not in self._ratings]
        if missing:
            # A call this engine started (:meth:`start`) is awaited, not read back from the cache
            # it filled: its answer is this process's call, counted as such, never as a cache hit.
            answers = self._cached_answers([r for r in missing if r not in self._calls])
            to_call = [r for r in missing if r not in answers]
            if to_call and self.replay:
                for request in to_call:
                    answers[request] = NotCalled(
                        f"replay mode: no recorded answer for this request (cache key {self.key(request)[:16]})"
                    )
            elif to_call:
                answers.update(zip(to_call, self._run(self._answers(to_call)), strict=True))
            ratings = {r: self._to_rating(r, answers[r]) for r in missing}
            self._count_served(answers)
            # A refusal fresh from the model gets one more try; a cached one was already retried.
            refused = [r for r in missing if ratings[r].error_kind == ERROR_REFUSAL and not ratings[r].cached]
            if refused:
                again = self._run(self._answers(refused, fresh=True))
                for request, answer in zip(refused, again, strict=True):
                    ratings[request] = self._to_rating(request, answer, retried_refusal=True)
            if self.mismatch == "error":
                self._refuse_mixed(ratings)
            with self._ratings_lock:
                for request, rating in ratings.items():
                    self._ratings.setdefault(request, rating)
        return {r: self._ratings[r] for r in wanted}

    def _count_served(self, answers: dict[RatingRequest, Answer | BaseException]) -> None:
        with self._served_lock:
            for request, answer in answers.items():
                if isinstance(answer, Answer) and request not in self._served_counted:
                    self._served_counted.add(request)  # once, whether started or rated first
                    self._count_one_served(request, answer)

    def _count_one_served(self, request: RatingRequest, answer: Answer) -> None:
        if answer.served_model and self.mismatch == "error":
            self._served_by[request] = answer.served_model
        created = answer.created or time.time()  # a fresh answer is of now
        # A cached answer stored since the run started is another process's call of this run.
        fresh = not answer.cached or answer.created >= self.fresh_since
        if (self._counts is not None and not self._counts(request)) or (answer.cached and fresh):
            # Counted in the process that asked for it (or owns it); still told to current(),
            # so that every process judges a mix alike.
            self.served.note(request.model.model, answer.served_model, fresh, created)
        else:
            self.served.add(request.model.model, answer.served_model, fresh, created)

    def _refuse_mixed(self, ratings: dict[RatingRequest, Rating]) -> None:
        """Make an error of each rating whose answer came from another version of its model than
        the one the model answers as now (``--moral-cache-mismatch=error``)."""
        for request, rating in list(ratings.items()):
            served = self._served_by.get(request)
            current = self.served.current(request.model.model) if served else None
            if served and current and served != current and rating.error_kind != ERROR_MISMATCH:
                message = mismatch_error(request.model.model, served, current)
                ratings[request] = Rating(request, None, rating.raw, message, ERROR_MISMATCH, rating.cached)

    def recheck_mixed(self) -> None:
        """Judge every rating made so far again by what is known now of the versions that answered
        (another process's answers read since): those of another version become errors."""
        with self._ratings_lock:
            self._refuse_mixed(self._ratings)

    def rate(self, request: RatingRequest) -> Rating:
        return self.rate_all([request])[request]

    def start(self, requests: Iterable[RatingRequest]) -> Future[Any] | None:
        """Start, without waiting, the calls of ``requests`` that no rating, cache or store
        answers yet (none in replay), in order; done when they all are. A later :meth:`rate_all`
        of any of them shares its call and waits for that one alone."""
        if self.replay or self.interrupted:
            return None
        wanted = [r for r in dict.fromkeys(requests) if r not in self._ratings]
        answered = set(self.cached(wanted))
        if answered:
            # Rated from the cache now, as a whole batch would be: counted here (hits, the model
            # versions that answered), as another process may run their items.
            self.rate_all([r for r in wanted if r in answered])
        to_call = [r for r in wanted if r not in answered]
        if not to_call:
            return None

        async def answer_and_count() -> None:
            # Counted here: another process may run the items of these requests.
            self._count_served(dict(zip(to_call, await self._answers(to_call), strict=True)))

        return asyncio.run_coroutine_threadsafe(answer_and_count(), self._loop_thread().loop)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self._loop_thread().run(coro)
        except BaseException:
            # Ctrl-C: calls in flight finish (and are cached); no waiting call is started.
            self.interrupted = True
            raise

    def _stores(self) -> list[ResponseCache]:
        return [store for store in (self.cache, self.shared) if store is not None and store.enabled]

    def cached(self, requests: Iterable[RatingRequest]) -> list[RatingRequest]:
        """Those of ``requests`` that the cache (or the run's shared store) can answer now, without
        counting them as hits."""
        requests = list(requests)
        have: set[str] = set()
        for store in self._stores():
            have.update(store.get_many((self.key(r) for r in requests if self.key(r) not in have), count=False))
        return [r for r in requests if self.key(r) in have]

    def _cached_answers(self, requests: list[RatingRequest]) -> dict[RatingRequest, Answer | BaseException]:
        answers: dict[RatingRequest, Answer | BaseException] = {}
        if self.cache is not None and self.cache.enabled:
            hits = self.cache.get_many(self.key(r) for r in requests)
            self.usage.expired = self.cache.expired
            answers.update((r, self._from_cache(hits[self.key(r)])) for r in requests if self.key(r) in hits)
        if self.shared is not None:
            rest = [r for r in requests if r not in answers]
            found = self.shared.get_many((self.key(r) for r in rest), count=False)
            answers.update((r, self._from_shared(found[self.key(r)])) for r in rest if self.key(r) in found)
        return answers

    def _from_cache(self, hit: CachedAnswer) -> Answer:
        self.usage.cache_hits += 1
        return self._from_shared(hit)

    @staticmethod
    def _from_shared(hit: CachedAnswer) -> Answer:
        # Counted where the call was made; ``cached``: a refusal in it was already asked again.
        kept = {name: getattr(hit, name) for name in _KEPT_WITH_ANSWER}
        return Answer(
            hit.text, hit.prompt_tokens, hit.completion_tokens, hit.cost, cached=True, created=hit.created, **kept
        )

    def _stored(self, request: RatingRequest) -> Answer | None:
        """The answer another process of the run has stored for ``request`` meanwhile, or None."""
        key = self.key(request)
        if self.cache is not None and self.cache.enabled:
            hit = self.cache.get(key, count=False)
            if hit is not None:
                return self._from_cache(hit)
        hit = self.shared.get(key, count=False) if self.shared is not None else None
        return self._from_shared(hit) if hit is not None else None

    async def _answers(self, requests: list[RatingRequest], fresh: bool = False) -> list[Answer | BaseException]:
        """The answers to ``requests``, starting a call only for those never asked before
        (``fresh``: a new call for each, past the cache)."""
        tasks = []
        total, done = len(requests), 0

        def finished(_: Any) -> None:
            nonlocal done
            done += 1
            if self.progress is not None:
                self.progress(done, total)

        if requests and not self.interrupted:
            # The clients first (importing litellm takes seconds): the batch's clock, and so its
            # rate and ETA, starts when the first request can go out, and no call's timeout runs
            # while a client is imported.
            try:
                prepare = getattr(self._completer(), "prepare", None)
                if prepare is not None:
                    await prepare(requests)
            except Exception:  # noqa: BLE001 - reported by each call that needs it
                pass
        if self.progress is not None:
            self.progress(0, total)
        for request in requests:
            task = None if fresh else self._calls.get(request)
            if task is None or task.cancelled():
                task = asyncio.ensure_future(self._call(request, fresh))
                if not fresh:
                    self._calls[request] = task
            task.add_done_callback(finished)
            tasks.append(task)
        # wait, not gather: an interrupted batch must not cancel calls another batch shares.
        if tasks:
            await asyncio.wait(tasks)
        return [t.result() if not t.cancelled() else asyncio.CancelledError("the call was cancelled") for t in tasks]

    async def _call(self, request: RatingRequest, fresh: bool = False) -> Answer | BaseException:
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.concurrency)
        limiter = self.limits.model(request.model)
        tokens = estimate_tokens(request.messages)
        attempt = free = 0
        last: Fault | None = None
        #: The most calls of the model in flight at any of its tries (said if it times out).
        crowd = 1
        while True:
            # The model's limiter first (its concurrency, caps, pauses), then the run's: a call
            # waiting for its model's turn holds no place another model's call could use.
            slot = await limiter.acquire(tokens)
            try:
                async with self._limit:
                    if attempt == free == 0 and not fresh and self.others:
                        # Another process sharing the cache (an xdist worker) may have asked meanwhile.
                        stored = self._stored(request)
                        if stored is not None:
                            return stored
                    stop = self._stop_reason(request)
                    if stop is not None:
                        if attempt or free:
                            tries = "1 try" if attempt + free == 1 else f"{attempt + free} tries"
                            return NotCalled(f"not tried again after {tries} ({last}): {stop}")
                        return NotCalled(f"not sent: {stop}")
                    answer = await self._attempt(request, slot, limiter, crowd)
            except CallFailed as failure:
                fault = failure.fault
                crowd = max(crowd, limiter.in_flight)
                probing = limiter.failed(slot, fault, failure.headers)
                if fault.kind == AUTH:
                    self._stop(request, f"the provider refused the credentials ({fault})")
                elif fault.kind == BAD_REQUEST and wants_logprobs(request.options) and _refuses_logprobs(fault):
                    # Refused before any answer (Anthropic, Ollama through litellm): say so as
                    # for a server that answers without them, naming the option to change.
                    self._stop(request, _no_logprobs_message(request, refused=True))
                last = fault
                if not fault.retryable:
                    return CallFailed(fault, attempt + free + 1)
                if fault.retry_after is not None:
                    # Every call of the model waits, not just this one.
                    limiter.pause(min(fault.retry_after, self.retry.max_retry_after), fault.kind, "Retry-After")
                if probing and free < MAX_FREE_TRIES:
                    # The limiter backed off for it: tried again at the new limit, not counted.
                    free += 1
                    self.usage.retries += 1
                    if fault.retry_after is not None and self.waiting is not None:
                        self.waiting(self.retry.wait(attempt, fault))
                    continue
                if attempt == self.retry.retries:
                    return CallFailed(fault, attempt + free + 1)
                wait = self.retry.wait(attempt, fault)
                if self.waiting is not None:
                    self.waiting(wait)
                await asyncio.sleep(wait.seconds)
                attempt += 1
                self.usage.retries += 1
                continue
            else:
                limiter.succeeded(slot, answer.prompt_tokens + answer.completion_tokens, answer.headers)
                self._account(request, answer)
                return answer
            finally:
                limiter.release(slot)  # given back once, whichever way the try ended

    def _stop_reason(self, request: RatingRequest) -> str | None:
        """Why no further call may be made for ``request`` (Ctrl-C, its model's refused
        credentials, the cost limit), or None."""
        if self.interrupted:
            return "the run was interrupted"
        # The run stops for a model under test: nothing more is sent, to any model. A yardstick's
        # failure stops only its own calls.
        fatal = self.fatal or self.fatal_by_model.get(request.model.model)
        if fatal is not None:
            return fatal
        if self.max_cost is not None and self.usage.cost >= self.max_cost:
            return f"the cost limit of ${self.max_cost:g} was reached (${self.usage.cost:.4f} spent)"
        return None

    async def _attempt(
        self, request: RatingRequest, slot: Slot | None = None, limiter: ModelLimiter | None = None, crowd: int = 1
    ) -> Answer:
        self.usage.calls += 1
        deadline = request.model.timeout + self.deadline_grace
        try:
            complete = self._completer()
            result = await asyncio.wait_for(complete(request), deadline)
        except asyncio.TimeoutError:
            raise CallFailed(self._timed_out(request, limiter, crowd, deadline), 1) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed call is a value, reported on the item
            fault = classify(exc)
            if fault.kind == TIMEOUT and fault.status is None:
                fault = self._timed_out(request, limiter, crowd)
            raise CallFailed(fault, 1, headers_of(exc)) from None
        return result if isinstance(result, Answer) else Answer(str(result))

    @staticmethod
    def _timed_out(
        request: RatingRequest,
        limiter: ModelLimiter | None,
        crowd: int = 1,
        abandoned: float | None = None,
    ) -> Fault:
        """The client's own timeout, said as what it is (never an HTTP status), with the calls of
        the model still in flight as it gave up (``crowd``: the most at an earlier try's end) and
        what to try (``abandoned``: the engine gave up on a call that ignored its timeout, after
        that long)."""
        timeout = request.model.timeout
        in_flight = limiter.in_flight if limiter is not None else 1
        said = f"no answer within {timeout:g} s" + (f" (abandoned after {abandoned:g} s)" if abandoned else "")
        if in_flight > 1:
            said += f"; {in_flight} calls were in flight; try --moral-concurrency 1 or a longer --moral-timeout"
        elif crowd > 1:
            said += f", even as the only call in flight ({crowd} were at an earlier try); try a longer --moral-timeout"
        else:
            said += ", the only call in flight; try a longer --moral-timeout"
        return Fault(TIMEOUT, said)

    def _account(self, request: RatingRequest, answer: Answer) -> None:
        priced = request.model.priced(answer.prompt_tokens, answer.completion_tokens)
        if priced is not None:  # the profile's prices, for a model litellm's table does not know
            answer = replace(answer, cost=priced)
        self.usage.prompt_tokens += answer.prompt_tokens
        self.usage.completion_tokens += answer.completion_tokens
        self.usage.reasoning_tokens += answer.reasoning_tokens
        self.usage.cost += answer.cost
        self.usage.cached_tokens += answer.cached_tokens
        if answer.logprobs is None and wants_logprobs(request.options):
            # The model's other answers will lack them too: no further call is made. The answer
            # is not kept either: the next run asks again (perhaps a server that now gives them).
            self._stop(request, _no_logprobs_message(request))
            return
        stores = self._stores()
        if stores:
            kept = CachedAnswer(
                text=answer.text,
                model=request.model.model,
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                cost=answer.cost,
                **{name: getattr(answer, name) for name in _KEPT_WITH_ANSWER},
            )
            # Committed now: an interrupted run keeps every answer it got. Failures never get here.
            for store in stores:
                store.put(self.key(request), kept)

    def _to_rating(
        self, request: RatingRequest, answer: Answer | BaseException, retried_refusal: bool = False
    ) -> Rating:
        if isinstance(answer, NotCalled):
            return Rating(request, None, None, str(answer), ERROR_NOT_CALLED)
        if isinstance(answer, CallFailed):
            hint = timeout_hint(request.model.timeout, request.options) if answer.fault.kind == TIMEOUT else ""
            return Rating(request, None, None, str(answer) + hint, ERROR_CALL)
        if isinstance(answer, BaseException):
            message = f"the call failed: {type(answer).__name__}: {shorten(str(answer))}"
            return Rating(request, None, None, message, ERROR_CALL)
        distribution = None
        try:
            if wants_logprobs(request.options):
                if answer.logprobs is None:
                    return self._no_logprobs(request, answer)
                value, distribution = rating_from_logprobs(answer.logprobs)
            else:
                value = self._parse(answer.text, request)
        except UnparseableAnswer as exc:
            thought = answer.reasoning
            if is_refusal(answer.text):
                tries = "twice" if retried_refusal else "when asked"
                why = f"the model refused to rate {tries}"
                return Rating(request, None, answer.text, why, ERROR_REFUSAL, answer.cached, reasoning=thought)
            why = f"the answer is not a rating ({exc.reason})"
            if thought and not answer.text.strip():
                # The rating is read from the answer alone, never from the thinking before it.
                why += ": the model reasoned but gave no final answer (did it run out of max_tokens?)"
            return Rating(request, None, answer.text, why, ERROR_ANSWER, answer.cached, reasoning=thought)
        return Rating(
            request,
            float(value),
            answer.text,
            cached=answer.cached,
            distribution=distribution,
            reasoning=answer.reasoning,
        )

    def _no_logprobs(self, request: RatingRequest, answer: Answer) -> Rating:
        # The run is stopped where the answer arrived (_account); a cached answer without them
        # (a row whose log-probs could not be read) errors only its own item.
        return Rating(request, None, answer.text, _no_logprobs_message(request), ERROR_NO_LOGPROBS, answer.cached)

    def close(self) -> None:
        """Close the completer (its ``aclose()``, if any), cancel leftover tasks, stop the thread."""
        with self._loop_lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            aclose = getattr(self._complete, "aclose", None)
            loop.close(aclose if callable(aclose) else None)
        self._calls.clear()
        self._limit = None
