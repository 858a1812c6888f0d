"""Specification of failure handling: which failed calls are worth another try, how long to wait
before it, and which answers are a model declining to rate.

``classify`` works on any exception. litellm's exceptions are recognised by their class names, an
HTTP ``status_code`` and the response headers they carry; here they are imitated by small fake
classes with the same names and attributes, so nothing imports litellm.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from pytest_moralpairs.answers import is_refusal
from pytest_moralpairs.faults import (
    AUTH,
    BAD_REQUEST,
    CONNECTION,
    MAX_RETRY_AFTER,
    OTHER,
    RATE_LIMIT,
    SERVER,
    TIMEOUT,
    Fault,
    RetryPolicy,
    Wait,
    classify,
    parse_retry_after,
)


def litellm_like(
    name: str,
    message: str = "it went wrong",
    status: int | None = None,
    headers: Any = None,
    **attributes: Any,
) -> Exception:
    """An exception of a class called ``name`` (as litellm names its own) with ``status_code`` and
    a ``response`` carrying ``headers``."""
    exc = type(name, (Exception,), {})(message)
    if status is not None:
        exc.status_code = status  # type: ignore[attr-defined]
    if headers is not None:
        exc.response = SimpleNamespace(status_code=status, headers=headers)  # type: ignore[attr-defined]
    for key, value in attributes.items():
        setattr(exc, key, value)
    return exc


def http_error(status: int, **headers: str) -> Exception:
    return litellm_like("APIStatusError", f"test says {status}", status, httpx.Headers(headers))


# --- classify: HTTP status codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "status, kind",
    [
        (429, RATE_LIMIT),
        (500, SERVER),
        (502, SERVER),
        (503, SERVER),
        (504, SERVER),
        (408, TIMEOUT),
    ],
)
def test_a_rate_limit_a_server_error_or_a_request_timeout_is_worth_another_try(status, kind):
    fault = classify(http_error(status))

    assert (fault.kind, fault.status, fault.retryable) == (kind, status, True)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_an_authentication_fault_that_no_retry_can_fix(status):
    fault = classify(http_error(status))

    assert (fault.kind, fault.retryable) == (AUTH, False)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_bad_request_is_not_retried_the_same_request_would_fail_again(status):
    fault = classify(http_error(status))

    assert (fault.kind, fault.retryable) == (BAD_REQUEST, False)


def test_a_fault_reads_as_status_kind_and_message():
    assert str(classify(http_error(503))) == "HTTP 503 server error: test says 503"


# --- classify: exceptions without a status -------------------------------------------------------


def test_a_timeout_error_is_a_timeout_worth_another_try():
    fault = classify(TimeoutError("no answer after 5 s"))

    assert (fault.kind, fault.status, fault.retryable) == (TIMEOUT, None, True)
    assert str(fault) == "timeout: no answer after 5 s"


def test_asyncios_timeout_is_a_timeout_too():
    assert classify(asyncio.TimeoutError()).kind == TIMEOUT


@pytest.mark.parametrize("exc", [ConnectionError("reset"), ConnectionRefusedError(111, "Connection refused")])
def test_a_lost_or_refused_connection_is_worth_another_try(exc):
    fault = classify(exc)

    assert (fault.kind, fault.retryable) == (CONNECTION, True)


def test_any_other_exception_is_not_retried_and_keeps_its_type_in_the_message():
    fault = classify(ValueError("unexpected keyword 'tempreature'"))

    assert (fault.kind, fault.retryable) == (OTHER, False)
    assert str(fault) == "ValueError: unexpected keyword 'tempreature'"


# --- classify: litellm's exceptions, by name --------------------------------------------------


@pytest.mark.parametrize(
    "name, status, kind",
    [
        ("RateLimitError", None, RATE_LIMIT),
        ("AuthenticationError", None, AUTH),
        ("PermissionDeniedError", None, AUTH),
        ("Timeout", 408, TIMEOUT),
        ("APIConnectionError", None, CONNECTION),
        ("APIConnectionError", 500, SERVER),  # litellm gives its connection errors a 500
        ("ServiceUnavailableError", 503, SERVER),
        ("InternalServerError", 500, SERVER),
        ("BadRequestError", 400, BAD_REQUEST),
        ("NotFoundError", 404, BAD_REQUEST),
    ],
)
def test_litellms_exception_classes_are_classified_by_name_and_status(name, status, kind):
    assert classify(litellm_like(name, status=status)).kind == kind


def test_litellms_missing_credentials_error_is_an_authentication_fault_without_an_invented_status():
    # What litellm raises for openai/... with no key: the SDK's complaint, wrapped as an HTTP 500,
    # before any request is sent.
    exc = litellm_like(
        "InternalServerError",
        "litellm.InternalServerError: InternalServerError: OpenAIException - Missing credentials. "
        "Please pass an `api_key`, or set the `OPENAI_API_KEY` environment variable.",
        status=500,
    )

    fault = classify(exc)

    assert (fault.kind, fault.status, fault.retryable) == (AUTH, None, False)
    assert str(fault).startswith("authentication: Missing credentials. Please pass an `api_key`")


def test_litellms_repeated_class_name_prefixes_are_dropped_from_the_message():
    exc = litellm_like("RateLimitError", "litellm.RateLimitError: RateLimitError: OpenAIException - slow down", 429)

    assert classify(exc).message == "slow down"


def test_a_very_long_message_is_shortened():
    message = classify(litellm_like("BadRequestError", "x" * 5000, 400)).message

    assert len(message) == 300 and message.endswith("...")


# --- Retry-After -------------------------------------------------------------------------------


def test_retry_after_in_seconds_is_read_from_the_response_headers():
    assert (
        classify(litellm_like("RateLimitError", status=429, headers=httpx.Headers({"Retry-After": "7"}))).retry_after
        == 7.0
    )


def test_retry_after_is_found_whatever_its_capitalisation_in_a_plain_dict():
    exc = litellm_like("RateLimitError", status=429, headers={"Retry-After": "7"})

    assert classify(exc).retry_after == 7.0


def test_retry_after_is_found_in_litellms_response_headers_when_the_response_has_none():
    exc = litellm_like(
        "RateLimitError",
        status=429,
        headers=httpx.Headers(),
        litellm_response_headers=httpx.Headers({"retry-after": "4"}),
    )

    assert classify(exc).retry_after == 4.0


def test_retry_after_ms_is_read_in_milliseconds():
    exc = litellm_like("RateLimitError", status=429, headers={"retry-after-ms": "1500", "retry-after": "2"})

    assert classify(exc).retry_after == 1.5


def test_without_retry_after_there_is_none():
    assert classify(http_error(429)).retry_after is None


def test_retry_after_as_an_http_date_is_the_time_until_that_date():
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 12, usegmt=True)  # "Tue, 14 Nov 2023 22:13:32 GMT"

    assert parse_retry_after(date, now=now) == pytest.approx(12.0)


def test_retry_after_as_an_http_date_without_a_zone_name_is_gmt_not_local_time(monkeypatch):
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 12)[:-5] + "-0000"  # RFC 2822 "-0000": parsed as naive
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        seconds = parse_retry_after(date, now=now)
    finally:
        monkeypatch.undo()
        time.tzset()

    assert seconds == pytest.approx(12.0)


def test_retry_after_an_http_date_in_the_past_is_no_wait():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retry_after_is_read_as_the_server_asked_even_beyond_the_wait_obeyed():
    # The policy caps what is obeyed; the progress line says what the server asked for.
    assert parse_retry_after("3600") == 3600.0


@pytest.mark.parametrize("value", ["1e400", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_retry_after_beyond_a_day_is_read_as_a_day(value):
    assert parse_retry_after(value, now=0) == 86400.0


@pytest.mark.parametrize("value, seconds", [("0", 0.0), ("-5", 0.0), (" 2.5 ", 2.5), (3, 3.0)])
def test_retry_after_seconds_are_read_as_a_non_negative_number(value, seconds):
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "Someday, 99 Foo 2015"])
def test_an_unreadable_retry_after_is_ignored(value):
    assert parse_retry_after(value) is None


# --- RetryPolicy.delay ---------------------------------------------------------------------------

SERVER_FAULT = Fault(SERVER, "test says 500", 500)


class Fixed(random.Random):
    """A random source that always draws the same number."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_the_backoff_doubles_with_each_attempt():
    policy = RetryPolicy(base=0.5, cap=100)

    assert [policy.delay(n, SERVER_FAULT, Fixed(1.0)) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_the_backoff_is_capped():
    policy = RetryPolicy(base=0.5, cap=3)

    assert [policy.delay(n, SERVER_FAULT, Fixed(1.0)) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_very_late_attempt_waits_the_cap_instead_of_overflowing():
    assert RetryPolicy(cap=30).delay(5000, SERVER_FAULT, Fixed(1.0)) == 30.0


def test_the_jitter_keeps_each_wait_between_half_and_all_of_its_step():
    policy = RetryPolicy(base=0.5, cap=30)
    rng = random.Random(2023)

    for attempt in range(8):
        step = min(30, 0.5 * 2**attempt)
        waits = [policy.delay(attempt, SERVER_FAULT, rng) for _ in range(200)]
        assert all(step / 2 <= wait <= step for wait in waits)
        assert max(waits) - min(waits) > step / 4  # the waits really do spread over the range


def test_the_jitter_is_reproducible_from_a_seed():
    policy = RetryPolicy()

    first = [policy.delay(n, SERVER_FAULT, random.Random(7)) for n in range(4)]
    again = [policy.delay(n, SERVER_FAULT, random.Random(7)) for n in range(4)]

    assert first == again


def test_the_wait_is_never_shorter_than_retry_after():
    fault = Fault(RATE_LIMIT, "slow down", 429, retry_after=10.0)

    assert RetryPolicy(base=0.5).delay(0, fault, random.Random(1)) == 10.0


def test_retry_after_beyond_the_backoff_cap_is_still_honoured():
    # The cap limits our own guesses, not what the server asked for (max_retry_after caps that).
    fault = Fault(RATE_LIMIT, "slow down", 429, retry_after=60.0)

    assert RetryPolicy(cap=30).delay(0, fault, random.Random(1)) == 60.0


def test_a_short_retry_after_does_not_shorten_the_backoff():
    fault = Fault(RATE_LIMIT, "slow down", 429, retry_after=0.1)

    assert RetryPolicy(base=4, cap=30).delay(0, fault, Fixed(0.0)) == 2.0


def test_the_longest_wait_from_a_classified_failure_is_bounded():
    exc = litellm_like("RateLimitError", status=429, headers=httpx.Headers({"Retry-After": "86400"}))

    assert RetryPolicy(cap=30).delay(3, classify(exc), random.Random(1)) == MAX_RETRY_AFTER == 120.0


def test_a_retry_after_longer_than_max_retry_after_is_waited_on_that_long():
    fault = Fault(RATE_LIMIT, "slow down", 429, retry_after=3600.0)

    assert RetryPolicy(max_retry_after=5).delay(0, fault, random.Random(1)) == 5.0


def test_a_max_retry_after_below_the_backoff_leaves_the_backoff():
    fault = Fault(RATE_LIMIT, "slow down", 429, retry_after=3600.0)

    assert RetryPolicy(base=4, max_retry_after=0).delay(0, fault, Fixed(1.0)) == 4.0


# --- Wait: what the progress line says of a waiting call ------------------------------------------


def test_a_wait_set_by_retry_after_says_so():
    fault = Fault(RATE_LIMIT, "slow down", 429, retry_after=118.0)

    wait = RetryPolicy().wait(0, fault, Fixed(1.0))

    assert wait == Wait(118.0, RATE_LIMIT, asked=118.0)
    assert wait.describe() == "rate limited: waiting 118 s (Retry-After)"


def test_a_wait_capped_by_max_retry_after_names_what_the_server_asked_for():
    fault = Fault(RATE_LIMIT, "slow down", 429, retry_after=3600.0)

    wait = RetryPolicy().wait(0, fault, Fixed(1.0))

    assert wait.describe() == "rate limited: waiting 120 s (Retry-After 3600 s, capped at 120 s)"


def test_a_wait_set_by_the_backoff_names_the_fault_and_the_backoff():
    wait = RetryPolicy(base=4).wait(1, SERVER_FAULT, Fixed(1.0))

    assert wait.describe() == "server error: waiting 8 s (backoff)"


def test_a_wait_counts_down_in_whole_seconds_never_showing_zero_while_it_lasts():
    wait = Wait(118.0, RATE_LIMIT, asked=118.0)

    assert [wait.describe(left) for left in (117.2, 0.3)] == [
        "rate limited: waiting 118 s (Retry-After)",
        "rate limited: waiting 1 s (Retry-After)",
    ]


# --- is_refusal ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "I can't rate that.",
        "I can\u2019t rate that.",
        "I cannot provide a rating for this scenario.",
        "I can not say.",
        "I won't judge this.",
        "I will not assign a number to that.",
        "I'm sorry, but I have to pass.",
        "I am sorry, that is not something I rate.",
        "I'm unable to rate this.",
        "I am not able to answer that.",
        "As an AI, I don't have moral opinions.",
        "I don't feel comfortable rating this.",
        "It is not appropriate for me to judge people.",
        "I must decline.",
        "I decline to rate this.",
        "Sorry, I cannot comply with this request.",
    ],
)
def test_an_answer_declining_to_rate_is_a_refusal(answer):
    assert is_refusal(answer)


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "",
        "-3",
        "Hard to say",
        "It depends on the context.",
        "The pony was hurt.",
        "I think it is wrong.",
        "I can rate that",
        "the AI can't",  # "AI", not "I"
    ],
)
def test_an_answer_that_is_merely_not_a_number_is_not_a_refusal(answer):
    assert not is_refusal(answer)


@pytest.mark.parametrize("answer", ["I\u2019m sorry, but I have to pass.", "I\u2019m unable to rate this."])
def test_a_refusal_with_a_typographic_apostrophe_in_im_is_a_refusal(answer):
    assert is_refusal(answer)
