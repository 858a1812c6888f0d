"""How fast a model is called: adaptive concurrency, --moral-rpm / --moral-tpm, the providers'
rate-limit headers, and timeouts that say what they are.

The specs run pytest against the local server (``tests/openai_server.py``) with the limits real
servers have: ``capacity`` (at most K at once, 429 beyond) and ``slots`` (one at a time, the rest
queued against the client's timeout); each runs once per client. The units check the header
parsing and the limiter's arithmetic.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from pytest_moralpairs.engine import RatingEngine
from pytest_moralpairs.faults import RATE_LIMIT, TIMEOUT, Fault, classify
from pytest_moralpairs.limits import (
    PROBE_ROUNDS,
    Limits,
    ModelLimiter,
    TokenBucket,
    headers_of,
    parse_duration,
    rate_headers,
    read_headers,
)
from pytest_moralpairs.report.progress import LaterCalls, ProgressLine
from tests.mock_answers import run_against as run
from tests.mock_answers import write_pairs
from tests.openai_server import Reply
from tests.test_engine import FakeModel, request
from tests.test_generated import PONY

pytestmark = pytest.mark.each_client


def pairs(count: int) -> list[tuple[str, str, str]]:
    return [(f"p{i}", f"harm number {i}", f"help number {i}") for i in range(count)]


def rating(sentence: str) -> str:
    """What the server says of the pairs below: the harm -3, the help 3 (every pair passes)."""
    return "-3" if sentence.startswith("harm") else "3"


class Arrivals:
    """A server rule recording when each request came; the reply is ``answer(request number,
    sentence)`` (None: :func:`rating`)."""

    def __init__(self, answer: Any = None):
        self.answer = answer
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, sentence: str, body: dict) -> Any:
        with self._lock:
            self.times.append(time.monotonic())
            number = len(self.times)
        said = self.answer(number, sentence) if self.answer is not None else None
        return rating(sentence) if said is None else said


# --- adaptive concurrency --------------------------------------------------------------------------


def test_against_a_server_that_serves_two_at_once_every_pair_is_rated_without_a_single_retry_allowed(
    pytester, openai_server
):
    openai_server.answers = Arrivals()
    openai_server.capacity, openai_server.latency = 2, 0.05
    write_pairs(pytester, *pairs(12))

    # --moral-retries 0: the 429s of calls beyond the server's capacity are the limiter's probing,
    # tried again at the lower concurrency without counting a try.
    result = run(pytester, openai_server, "--moral-concurrency", "8")

    result.assert_outcomes(passed=12)
    assert openai_server.rejected > 0  # the server did say no
    assert openai_server.max_serving <= 2
    result.stdout.fnmatch_lines(["*24/24 model calls*; concurrency * of 8"])


def test_a_server_at_capacity_that_sometimes_says_when_to_come_back_is_waited_for(pytester, openai_server):
    arrivals = openai_server.answers = Arrivals()
    openai_server.capacity, openai_server.latency = 2, 0.05
    openai_server.capacity_retry_after, openai_server.capacity_retry_after_every = 0.3, 3
    write_pairs(pytester, *pairs(8))

    result = run(pytester, openai_server, "--moral-concurrency", "8", "--moral-retries", "3")

    result.assert_outcomes(passed=8)
    assert openai_server.rejected >= 3
    assert arrivals.times[-1] - arrivals.times[0] >= 0.3  # a Retry-After held the calls


def test_against_a_server_that_answers_one_at_a_time_calls_that_time_out_queueing_back_off_and_are_rated(
    pytester, openai_server
):
    openai_server.answers = Arrivals()
    openai_server.slots, openai_server.latency = 1, 0.2
    write_pairs(pytester, *pairs(5))

    result = run(pytester, openai_server, "--moral-concurrency", "10", "--moral-timeout", "1.2", "--moral-retries", "1")

    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*10/10 model calls*; concurrency * of 10*"])


def test_a_call_that_times_out_says_so_with_the_calls_in_flight_and_what_to_try_never_an_http_status(
    pytester, openai_server
):
    openai_server.default = Reply.hanging()
    write_pairs(pytester, *pairs(2))

    # The limiter backs off to one call at a time (those tries are its own), then the call's own
    # try times out too: said with the crowd of the first tries, and the one thing left to try.
    result = run(pytester, openai_server, "--moral-timeout", "0.5", "--moral-concurrency", "4")

    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*could not rate the * sentence with *: the call failed after * tries: timeout: no answer within 0.5 s, "
            "even as the only call in flight (* were at an earlier try); try a longer --moral-timeout"
        ]
    )
    result.stdout.no_fnmatch_line("*HTTP 408*")


def test_a_timeout_among_calls_in_flight_names_them_and_suggests_fewer(monkeypatch):
    # Once the limiter can back off no further (here: at once), a timeout among others says so.
    monkeypatch.setattr("pytest_moralpairs.engine.MAX_FREE_TRIES", 0)
    model = FakeModel(default="1")
    model.delay = 3600.0
    engine = RatingEngine(model, concurrency=3, deadline_grace=0.05)
    try:
        ratings = engine.rate_all([request(f"s{i}", timeout=0.3) for i in range(3)])
    finally:
        engine.close()

    said = {rating.error for rating in ratings.values()}
    assert any(
        "no answer within 0.3 s (abandoned after 0.35 s); 3 calls were in flight; "
        "try --moral-concurrency 1 or a longer --moral-timeout" in error
        for error in said
    ), said


def test_a_lone_call_that_times_out_suggests_a_longer_timeout_only(pytester, openai_server):
    openai_server.answers = Arrivals(lambda number, sentence: Reply.hanging() if sentence == "harm number 0" else None)
    write_pairs(pytester, ("p0", "harm number 0", "help number 0"))

    result = run(pytester, openai_server, "--moral-timeout", "0.5", "--moral-concurrency", "1")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the call failed: timeout: no answer within 0.5 s, the only call in flight; try a longer --moral-timeout"]
    )
    result.stdout.no_fnmatch_line("*HTTP 408*")


# --- caps and headers -------------------------------------------------------------------------------


def test_moral_rpm_spaces_the_calls_out(pytester, openai_server):
    arrivals = Arrivals()
    openai_server.answers = arrivals
    write_pairs(pytester, *pairs(3))

    result = run(pytester, openai_server, "--moral-rpm", "120")

    result.assert_outcomes(passed=3)
    # 2 a second, a second's worth at once: 2 calls at once, then one every half second.
    assert len(arrivals.times) == 6
    assert arrivals.times[-1] - arrivals.times[0] >= 1.8


def test_moral_tpm_spaces_the_calls_out_by_their_tokens(pytester, openai_server):
    arrivals = Arrivals()
    openai_server.answers = arrivals
    write_pairs(pytester, *pairs(2))

    # 200 tokens a second; a rating call is estimated at some 400 before it is sent, and uses
    # about 110 (the server's count), which corrects the estimate: about two a second.
    result = run(pytester, openai_server, "--moral-tpm", "12000", "--moral-concurrency", "4")

    result.assert_outcomes(passed=2)
    assert len(arrivals.times) == 4
    assert arrivals.times[-1] - arrivals.times[0] >= 1.0


def test_no_remaining_requests_in_the_headers_holds_the_next_call_until_the_reset(pytester, openai_server):
    spent = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "700ms"}
    arrivals = Arrivals(lambda number, sentence: Reply(text=rating(sentence), headers=spent if number == 1 else {}))
    openai_server.answers = arrivals
    write_pairs(pytester, *pairs(1))

    result = run(pytester, openai_server, "--moral-concurrency", "1")

    result.assert_outcomes(passed=1)
    first, second = arrivals.times
    assert second - first >= 0.65


def test_a_retry_after_on_a_429_holds_every_call_of_the_model(pytester, openai_server):
    def answer(number: int, sentence: str) -> Any:
        return Reply.error(429, "slow down", retry_after=1) if number == 1 else None

    arrivals = Arrivals(answer)
    openai_server.answers = arrivals
    write_pairs(pytester, *pairs(2))

    result = run(pytester, openai_server, "--moral-concurrency", "1", "--moral-retries", "1")

    result.assert_outcomes(passed=2)
    assert len(arrivals.times) == 5
    assert min(later - arrivals.times[0] for later in arrivals.times[1:]) >= 0.95


# --- units ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("6m0s", 360.0),
        ("1s", 1.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0.5", 0.5),
        ("17", 17.0),
        (" 2S ", 2.0),
        ("", None),
        ("soon", None),
        ("5x", None),
        ("1s and more", None),
        ("-3", None),
        (None, None),
    ],
)
def test_reset_durations_read_as_providers_write_them(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_rate_limit_headers_are_read_in_any_case_and_under_litellms_prefix():
    said = read_headers(
        {
            "llm_provider-X-RateLimit-Remaining-Requests": "12",
            "x-ratelimit-reset-requests": "6m0s",
            "X-RATELIMIT-REMAINING-TOKENS": "900",
            "x-ratelimit-reset-tokens": "20ms",
            "Retry-After": "30",
            "retry-after-ms": "1500",
        }
    )
    assert said.remaining_requests == 12
    assert said.reset_requests == 360.0
    assert said.remaining_tokens == 900
    assert said.reset_tokens == pytest.approx(0.02)
    assert said.retry_after == 1.5  # the milliseconds are the finer of the two
    assert read_headers({"retry-after": "2"}).retry_after == 2.0
    assert read_headers({"x-ratelimit-remaining-requests": "lots"}).empty


def test_the_headers_are_found_on_a_litellm_response_and_on_exceptions():
    class LiteLLMResponse:
        _hidden_params = {"additional_headers": {"llm_provider-x-ratelimit-remaining-requests": "3", "other": "x"}}

    class Response:
        headers = {"Retry-After": "4"}

    class Failure(Exception):
        response = Response()

    assert rate_headers(headers_of(LiteLLMResponse())) == {"x-ratelimit-remaining-requests": "3"}
    assert read_headers(headers_of(Failure("429"))).retry_after == 4.0
    assert headers_of(Exception("no headers")) is None


def test_litellms_own_timeout_is_not_an_http_408():
    class Timeout(Exception):
        status_code = 408

    class ServerTimeout(Exception):
        status_code = 408
        response = object()

    assert classify(Timeout("litellm.Timeout: Request timed out")).status is None
    assert classify(ServerTimeout("Request Timeout")).status == 408


def test_a_token_bucket_gives_a_seconds_worth_at_once_then_its_rate():
    now = [0.0]
    bucket = TokenBucket(120, clock=lambda: now[0])  # 2 a second
    assert bucket.delay(1) == 0
    bucket.spend(1)
    bucket.spend(1)
    assert bucket.delay(1) == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.delay(1) == 0
    bucket.spend(5)  # more than it holds: goes into debt
    assert bucket.delay(1) == pytest.approx(2.5)


def run_limiter(limiter: ModelLimiter, calls: Any) -> Any:
    return asyncio.run(calls(limiter))


def test_an_overload_cuts_the_calls_in_flight_once_per_round_and_success_grows_them_back_one_by_one():
    async def calls(limiter: ModelLimiter) -> list[Any]:
        slots = [await limiter.acquire() for _ in range(10)]
        seen = [limiter.current]
        # Four of them come back 429: the first cuts, the others were sent before the cut.
        free = [limiter.failed(slot, Fault(RATE_LIMIT, "slow down", 429)) for slot in slots[:4]]
        seen.append(limiter.current)
        for slot in slots[4:]:
            limiter.succeeded(slot)
        seen.append(limiter.current)
        steps = []
        while limiter.current < 10 and len(steps) < 100:
            before = limiter.current
            round_ = [await limiter.acquire() for _ in range(limiter.current)]
            for slot in round_:
                limiter.succeeded(slot)
            steps.append(limiter.current - before)
        return [free, seen, steps, limiter.backoffs]

    free, seen, steps, backoffs = run_limiter(ModelLimiter("m", 10), calls)
    assert free == [True] * 4
    assert backoffs == 1
    assert seen == [10, 7, 7]
    assert set(steps) <= {0, 1}  # one at a time, at most one a round
    assert 0 < steps.count(1) == 3
    # Near the level of the overload (10), a step takes PROBE_ROUNDS times as many rounds.
    assert len(steps) >= PROBE_ROUNDS


def test_a_call_sent_alone_that_is_refused_is_not_the_limiters_doing():
    async def calls(limiter: ModelLimiter) -> list[Any]:
        slot = await limiter.acquire()
        return [limiter.failed(slot, Fault(RATE_LIMIT, "slow down", 429)), limiter.current]

    assert run_limiter(ModelLimiter("m", 8), calls) == [False, 8]


def test_a_timeout_while_others_are_in_flight_halves_the_calls_and_a_lone_one_does_not():
    async def calls(limiter: ModelLimiter) -> list[Any]:
        slots = [await limiter.acquire() for _ in range(8)]
        queued = limiter.failed(slots[0], Fault(TIMEOUT, "no answer"))
        for slot in slots[1:]:
            limiter.succeeded(slot)
        lone = await limiter.acquire()
        return [queued, limiter.current, limiter.failed(lone, Fault(TIMEOUT, "no answer"))]

    assert run_limiter(ModelLimiter("m", 8), calls) == [True, 4, False]


def test_a_model_profiles_own_caps_replace_the_runs_and_workers_share_them():
    class Profile:
        model = "openai/slow"
        # This worker's part of the profile's 4 (the run divides a model's limit, see run_models).
        concurrency, rpm, tpm = 2, 600, None

    limits = Limits(16, rpm=60, tpm=1000, workers=2)
    slow, other = limits.model(Profile()), limits.model("openai/other")
    assert (slow.ceiling, slow.rpm, slow.tpm) == (2, 300, 500)
    assert (other.ceiling, other.rpm, other.tpm) == (16, 30, 500)
    assert limits.model("openai/other") is other


def test_the_progress_line_says_the_concurrency_once_it_backed_off():
    lines: list[str] = []
    line = ProgressLine(lines.append, tty=False, min_interval=0, tick=None)
    line.status = lambda: "concurrency 4 of 32"
    line(0, 10)
    line(10, 10)
    assert lines[-1].startswith("moralpairs: 10/10 model calls")
    assert lines[-1].endswith("; concurrency 4 of 32")


def test_calls_after_the_first_batch_are_counted_across_their_small_batches_once_they_last():
    now = [0.0]
    lines: list[str] = []
    later = LaterCalls(lines.append, min_interval=5.0, clock=lambda: now[0])
    later.status = lambda: "concurrency 2 of 16"
    for _example in range(12):  # Hypothesis's examples: a batch of two calls each, a second apart
        later(0, 2)
        later(1, 2)
        later(2, 2)
        now[0] += 1.0
    later.finish()
    assert later.done == 24
    assert lines[0].startswith("moralpairs: 11 model calls after the first batch (generated examples, fixtures), 2.2/s")
    assert lines[0].endswith("; concurrency 2 of 16")
    assert len(lines) == 3  # at 5 s and 10 s, then the total
    assert lines[-1].startswith("moralpairs: 24 model calls after the first batch (generated examples, fixtures), ")
    assert " in 12.0 s" in lines[-1]


def test_brief_calls_after_the_first_batch_write_nothing():
    lines: list[str] = []
    later = LaterCalls(lines.append, min_interval=5.0)
    later(0, 2)
    later(2, 2)
    later.finish()
    assert lines == []


@pytest.mark.each_client("openai")
def test_generated_examples_rated_as_hypothesis_draws_them_get_a_progress_line(pytester, openai_server):
    openai_server.latency = 0.8
    pytester.makefile(
        ".moral.yaml",
        pony=f"""
pairs:
  - id: pony
    template: "{PONY}"
    decides: instrument
    checks: [directional, invariance]
""",
    )

    result = run(pytester, openai_server, "--moral-max-examples", "8")

    result.stdout.fnmatch_lines(
        [
            "moralpairs: * model calls after the first batch (generated examples, fixtures), */s",
            "moralpairs: * model calls after the first batch (generated examples, fixtures), */s in * s",
        ]
    )
