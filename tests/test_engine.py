"""RatingEngine on its own: deduplication, bounded concurrency, failures as values, its loop thread.

Models here are fake ``complete`` callables, the engine's injection point: ``async (request) -> text``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from pytest_moralpairs.answers import UnparseableAnswer
from pytest_moralpairs.engine import ModelSettings, RatingEngine, RatingRequest
from pytest_moralpairs.faults import RATE_LIMIT, RetryPolicy
from pytest_moralpairs.prompt import DEFAULT_PROMPT


def request(sentence: str, model: str = "fake/model", **settings: Any) -> RatingRequest:
    return RatingRequest(ModelSettings(model, **settings), DEFAULT_PROMPT.messages(sentence), sentence)


class FakeModel:
    """An async completer that answers from a dict and records what it was asked, and where."""

    def __init__(self, answers: dict[str, Any] | None = None, default: Any = "0", delay: float = 0.0):
        self.answers = answers or {}
        self.default = default
        self.delay = delay
        self.asked: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.loops: set[asyncio.AbstractEventLoop] = set()
        self.threads: set[threading.Thread] = set()

    async def __call__(self, req: RatingRequest) -> str:
        self.asked.append(req.sentence)
        self.loops.add(asyncio.get_running_loop())
        self.threads.add(threading.current_thread())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            answer = self.answers.get(req.sentence, self.default)
            if isinstance(answer, BaseException):
                raise answer
            return answer
        finally:
            self.in_flight -= 1


@pytest.fixture
def make_engine():
    engines: list[RatingEngine] = []

    def make(complete: Any = None, **kwargs: Any) -> RatingEngine:
        engine = RatingEngine(complete=complete, **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


# --- ratings ------------------------------------------------------------------------------


def test_each_request_gets_the_rating_its_answer_says(make_engine):
    engine = make_engine(FakeModel({"kicked a dog": "-3", "petted a dog": "Rating: 3"}))
    a, b = request("kicked a dog"), request("petted a dog")

    ratings = engine.rate_all([a, b])

    assert (ratings[a].value, ratings[a].raw, ratings[a].error) == (-3.0, "-3", None)
    assert (ratings[b].value, ratings[b].raw, ratings[b].error) == (3.0, "Rating: 3", None)


def test_rate_returns_the_rating_of_one_request(make_engine):
    engine = make_engine(FakeModel(default="2"))

    assert engine.rate(request("helped")).value == 2.0


def test_the_parse_callback_turns_every_answer_into_its_value(make_engine):
    seen: list[tuple[str, str]] = []

    def parse(text: str, req: RatingRequest) -> float:
        seen.append((text, req.sentence))
        return {"good": 4, "bad": -4}[text]

    engine = make_engine(FakeModel({"s1": "good", "s2": "bad"}), parse=parse)
    ratings = engine.rate_all([request("s1"), request("s2")])

    assert [r.value for r in ratings.values()] == [4.0, -4.0]
    assert sorted(seen) == [("bad", "s2"), ("good", "s1")]


def test_an_unparseable_answer_is_an_error_rating_that_keeps_the_raw_text(make_engine):
    engine = make_engine(FakeModel(default="Probably fine"))

    rating = engine.rate(request("lied"))

    assert rating.value is None and not rating.ok
    assert rating.raw == "Probably fine"
    assert rating.error == "the answer is not a rating (the answer holds no number)"


def test_a_parse_callback_rejects_an_answer_by_raising_unparseable_answer(make_engine):
    def parse(text: str, req: RatingRequest) -> float:
        raise UnparseableAnswer("not in my format", text)

    rating = make_engine(FakeModel(default="3"), parse=parse).rate(request("lied"))

    assert (rating.value, rating.raw, rating.error) == (None, "3", "the answer is not a rating (not in my format)")


def test_a_failed_call_is_an_error_rating_and_the_other_requests_are_still_rated(make_engine):
    model = FakeModel({"breaks": ConnectionError("server went away")}, default="1")
    engine = make_engine(model)
    requests = [request("before"), request("breaks"), request("after")]

    ratings = engine.rate_all(requests)

    broken = ratings[requests[1]]
    assert broken.value is None and broken.raw is None
    assert broken.error == "the call failed: connection error: server went away"
    assert [ratings[r].value for r in (requests[0], requests[2])] == [1.0, 1.0]


def test_a_call_that_never_returns_is_abandoned_after_its_timeout_and_a_grace(make_engine):
    model = FakeModel({"hangs": "0"}, default="1")
    model.delay = 3600.0
    engine = make_engine(model, deadline_grace=0.05)

    started = time.monotonic()
    rating = engine.rate(request("hangs", timeout=0.05))

    assert time.monotonic() - started < 2
    assert rating.value is None
    assert rating.error.startswith("the call failed: timeout: no answer within 0.05 s (abandoned after 0.1 s)")


# --- deduplication ------------------------------------------------------------------------


def test_a_request_asked_twice_in_one_batch_is_one_call(make_engine):
    model = FakeModel()
    engine = make_engine(model)

    ratings = engine.rate_all([request("same"), request("same"), request("other")])

    assert sorted(model.asked) == ["other", "same"]
    assert len(ratings) == 2


def test_the_same_prompt_to_different_model_settings_is_a_separate_call(make_engine):
    model = FakeModel()
    engine = make_engine(model)

    engine.rate_all([request("same"), request("same", temperature=0.7), request("same", model="fake/other")])

    assert model.asked == ["same", "same", "same"]


def test_a_request_is_made_at_most_once_across_batches(make_engine):
    model = FakeModel()
    engine = make_engine(model)

    engine.rate_all([request("a"), request("b")])
    engine.rate_all([request("b"), request("c")])
    engine.rate(request("a"))

    assert sorted(model.asked) == ["a", "b", "c"]
    assert engine.calls_made == 3


def test_a_failed_request_is_not_called_again_by_a_later_batch(make_engine):
    model = FakeModel({"breaks": RuntimeError("boom")})
    engine = make_engine(model)

    first = engine.rate(request("breaks"))
    again = engine.rate(request("breaks"))

    assert model.asked == ["breaks"]
    assert again == first and again.error == "the call failed: RuntimeError: boom"


def test_batches_from_two_threads_at_once_share_their_common_calls(make_engine):
    model = FakeModel(delay=0.1)
    engine = make_engine(model)
    batches = [[request("shared"), request("left")], [request("shared"), request("right")]]
    results: list[Any] = [None, None]

    def rate(i: int) -> None:
        results[i] = engine.rate_all(batches[i])

    threads = [threading.Thread(target=rate, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)

    assert sorted(model.asked) == ["left", "right", "shared"]
    assert all(r is not None and all(rating.ok for rating in r.values()) for r in results)


# --- concurrency --------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_calls_in_flight_reach_but_never_exceed_the_concurrency_limit(make_engine, limit):
    model = FakeModel(delay=0.02)
    engine = make_engine(model, concurrency=limit)

    engine.rate_all(request(f"sentence {i}") for i in range(3 * limit + 1))

    assert model.max_in_flight == limit


def test_the_limit_holds_for_batches_from_two_threads_together(make_engine):
    model = FakeModel(delay=0.05)
    engine = make_engine(model, concurrency=2)
    threads = [
        threading.Thread(target=engine.rate_all, args=([request(f"{side} {i}") for i in range(4)],))
        for side in ("left", "right")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)

    assert len(model.asked) == 8
    assert model.max_in_flight == 2


def test_a_batch_runs_concurrently_not_one_call_after_another(make_engine):
    model = FakeModel(delay=0.2)
    engine = make_engine(model, concurrency=10)

    started = time.monotonic()
    engine.rate_all(request(f"sentence {i}") for i in range(10))

    assert time.monotonic() - started < 1.0  # one after another would take 2 s


def test_concurrency_below_one_is_refused():
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        RatingEngine(complete=FakeModel(), concurrency=0)


# --- the completer and the loop thread ------------------------------------------------------


def test_the_completer_is_built_on_the_first_call_and_only_once(make_engine):
    built: list[FakeModel] = []

    def make_complete() -> FakeModel:
        built.append(FakeModel())
        return built[-1]

    engine = make_engine(make_complete=make_complete)
    assert built == []

    engine.rate_all([request("a"), request("b")])
    engine.rate(request("c"))

    assert len(built) == 1 and sorted(built[0].asked) == ["a", "b", "c"]


def test_every_call_runs_on_one_event_loop_in_the_engines_own_thread(make_engine):
    model = FakeModel()
    engine = make_engine(model)

    engine.rate(request("a"))
    engine.rate(request("b"))

    assert len(model.loops) == 1 and len(model.threads) == 1
    (thread,) = model.threads
    assert thread is not threading.current_thread() and thread.daemon
    assert thread.name == "moralpairs-engine"


def test_rate_all_works_when_called_from_inside_a_running_event_loop(make_engine):
    model = FakeModel(default="-2")
    engine = make_engine(model)

    async def caller() -> tuple[Any, asyncio.AbstractEventLoop]:
        return engine.rate_all([request("a"), request("b")]), asyncio.get_running_loop()

    ratings, caller_loop = asyncio.run(caller())

    assert [r.value for r in ratings.values()] == [-2.0, -2.0]
    assert caller_loop not in model.loops


def test_the_engine_cannot_be_called_from_inside_one_of_its_own_calls(make_engine):
    engine: RatingEngine

    async def reentrant(req: RatingRequest) -> str:
        engine.rate(request("inner"))
        return "1"

    engine = make_engine(reentrant)
    rating = engine.rate(request("outer"))

    assert rating.value is None
    assert "cannot be called from inside one of its own model calls" in rating.error


def test_close_stops_the_engine_thread(make_engine):
    model = FakeModel()
    engine = make_engine(model)
    engine.rate(request("a"))
    (thread,) = model.threads
    (loop,) = model.loops

    engine.close()

    assert not thread.is_alive()
    assert loop.is_closed()


def test_close_without_any_call_does_nothing(make_engine):
    engine = make_engine(FakeModel())

    engine.close()
    engine.close()

    assert engine.calls_made == 0


def test_close_awaits_the_completers_aclose_on_the_engine_loop(make_engine):
    closed_on: list[asyncio.AbstractEventLoop] = []

    class ClosableModel(FakeModel):
        async def aclose(self) -> None:
            closed_on.append(asyncio.get_running_loop())

    model = ClosableModel()
    engine = make_engine(model)
    engine.rate(request("a"))

    engine.close()

    assert closed_on == list(model.loops)


def test_close_cancels_tasks_left_running_on_the_engine_loop(make_engine):
    # As litellm leaves a logging worker behind: a pending task on a closed loop is noise at exit.
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def leaves_a_task(req: RatingRequest) -> str:
        leaves_a_task.task = asyncio.ensure_future(forever())  # type: ignore[attr-defined]
        return "1"

    engine = make_engine(leaves_a_task)
    engine.rate(request("a"))

    engine.close()

    assert cancelled.is_set()


def test_an_engine_keeps_its_ratings_and_rates_new_requests_after_close(make_engine):
    model = FakeModel(default="1")
    engine = make_engine(model)
    engine.rate(request("a"))
    engine.close()

    ratings = engine.rate_all([request("a"), request("b")])

    assert [r.value for r in ratings.values()] == [1.0, 1.0]
    assert model.asked == ["a", "b"]
    assert len(model.loops) == 2


def test_after_ctrl_c_calls_in_flight_finish_but_no_waiting_call_is_started(make_engine):
    import os
    import signal
    import time

    model = FakeModel(delay=0.1)
    engine = make_engine(model, concurrency=1)
    timer = threading.Timer(0.15, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.rate_all(request(f"sentence {i}") for i in range(20))
    finally:
        timer.cancel()
    asked_at_interrupt = len(model.asked)
    time.sleep(0.5)  # long enough for several more calls, were any started

    assert 1 <= asked_at_interrupt <= 3
    assert len(model.asked) == asked_at_interrupt


def test_a_batchs_progress_clock_starts_once_the_model_client_is_loaded() -> None:
    # Loading litellm takes seconds: counted in the rate, the first ETA said "1706 s" for 6.5 s.
    events: list[str] = []

    def make_complete() -> Any:
        events.append("client loaded")

        async def complete(request: RatingRequest) -> str:
            return "1"

        return complete

    engine = RatingEngine(make_complete=make_complete, progress=lambda done, total: events.append(f"{done}/{total}"))
    try:
        engine.rate_all(request(s) for s in ("a", "b"))
    finally:
        engine.close()

    assert events[:2] == ["client loaded", "0/2"]


def test_the_engine_says_when_a_call_starts_to_wait_before_trying_again(make_engine):
    class RateLimited(Exception):
        status_code = 429

    error = RateLimited("slow down")
    error.response = type("Response", (), {"headers": {"Retry-After": "0.2"}})()
    model = FakeModel(answers={"busy": error})
    waits: list[Any] = []
    engine = make_engine(model, retry=RetryPolicy(retries=2, base=0.01), waiting=waits.append)

    engine.rate(request("busy"))

    assert [(w.fault, w.seconds, w.asked) for w in waits] == [(RATE_LIMIT, 0.2, 0.2)] * 2
