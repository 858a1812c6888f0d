"""What a run does when the model's server misbehaves: specifications run as a user runs pytest.

Each test runs pytest (``--moral-model openai/test-model --moral-api-base URL``) against a real
OpenAI-compatible HTTP server on 127.0.0.1 that the test steers: errors, rate limits, garbage,
hangs, refusals, refused keys, prices. Transient faults are tried again (``--moral-retries``, with
backoff, honouring Retry-After); what cannot be rated ERRORs, is never a pass nor a moral failure,
and leaves the other pairs alone; refused credentials stop the run with one message.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest

from pytest_moralpairs.plugin import EXIT_RATING_ERRORS
from tests.mock_answers import SERVER_MODEL as MODEL
from tests.mock_answers import run_against as run
from tests.mock_answers import write_pairs
from tests.openai_server import OpenAIServer, Reply

#: Every spec that runs against the local server runs once per client: the same specs, both paths.
pytestmark = pytest.mark.each_client

REFUSAL = "I can't rate that."


class Script:
    """A server rule giving each sentence its own script of replies, in order, the last one
    repeated; a sentence without a script gets ``default``. Records when each request arrived.

    ``Script("3", bad_act=[Reply.error(500), "-3"])``: "bad act" fails once, then is rated -3
    (an underscore in a keyword stands for a space in the sentence).
    """

    def __init__(self, default: Any = "0", **scripts: list[Any]):
        self.scripts = {sentence.replace("_", " "): replies for sentence, replies in scripts.items()}
        self.default = default
        self.arrivals: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def __call__(self, sentence: str, body: dict) -> Any:
        with self._lock:
            arrivals = self.arrivals.setdefault(sentence, [])
            arrivals.append(time.monotonic())
            replies = self.scripts.get(sentence)
            return replies[min(len(arrivals), len(replies)) - 1] if replies else self.default

    def requests(self, sentence: str) -> int:
        return len(self.arrivals.get(sentence, []))


def steer(server: OpenAIServer, default: Any = "0", **scripts: list[Any]) -> Script:
    script = Script(default, **scripts)
    server.answers = script
    return script


def output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


# --- a transient fault, then an answer: the pair is rated ------------------------------------------


def test_a_rate_limited_call_is_tried_again_after_the_servers_retry_after_and_the_pair_passes(pytester, openai_server):
    script = steer(openai_server, "3", bad_act=[Reply.error(429, "slow down", retry_after=1), "-3"])
    write_pairs(pytester, ("p", "bad act", "good act"))

    result = run(pytester, openai_server, "--moral-retries", "1")

    result.assert_outcomes(passed=1)
    first, second = script.arrivals["bad act"]
    assert second - first >= 0.95  # the backoff alone would be 0.25..0.5 s


def test_a_retry_after_longer_than_max_retry_after_is_waited_on_that_long_then_tried_again(pytester, openai_server):
    script = steer(openai_server, "3", bad_act=[Reply.error(429, "slow down", retry_after=3600), "-3"])
    write_pairs(pytester, ("p", "bad act", "good act"))

    result = run(pytester, openai_server, "--moral-retries", "1", "--moral-max-retry-after", "1")

    result.assert_outcomes(passed=1)
    first, second = script.arrivals["bad act"]
    assert 0.95 <= second - first < 10


@pytest.mark.parametrize(
    "fault, args",
    [
        (Reply.error(500, "the model crashed"), ()),
        (Reply.error(503, "overloaded"), ()),
        (Reply.garbage(), ()),
        # One call at a time: a timeout among calls in flight would read as queueing (a free retry).
        (Reply.hanging(), ("--moral-timeout", "0.5", "--moral-concurrency", "1")),
    ],
    ids=["http-500", "http-503", "garbage-json", "hang-past-timeout"],
)
def test_a_call_that_fails_once_is_tried_again_and_the_pair_passes(pytester, openai_server, fault, args):
    script = steer(openai_server, "3", bad_act=[fault, "-3"])
    write_pairs(pytester, ("p", "bad act", "good act"))

    result = run(pytester, openai_server, "--moral-retries", "2", *args)

    result.assert_outcomes(passed=1)
    assert script.requests("bad act") == 2
    result.stdout.fnmatch_lines(["1 passed; 3 model calls, 1 retry*"])


# --- retries spent: the item ERRORs, the others are rated -----------------------------------------


def test_when_the_retries_are_spent_the_item_errors_naming_the_cause_and_the_tries(pytester, openai_server):
    script = steer(openai_server, "3", broken_harm=[Reply.error(500, "the model crashed")], good_harm=["-3"])
    write_pairs(pytester, ("good", "good harm", "good help"), ("broken", "broken harm", "broken help"))

    result = run(pytester, openai_server, "--moral-retries", "2")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of moral pair broken*",
            f"could not rate the harmful sentence with {MODEL}: "
            "the call failed after 3 tries: HTTP 500 server error: the model crashed",
        ]
    )
    assert script.requests("broken harm") == 3
    assert result.ret == EXIT_RATING_ERRORS  # no pair failed: the run could not decide


def test_the_summary_counts_an_unrated_pair_as_an_error_apart_from_failures_and_counts_the_retries(
    pytester, openai_server
):
    steer(openai_server, "3", broken_harm=[Reply.error(500)], failing_harm=["3"], good_harm=["-3"])
    write_pairs(
        pytester,
        ("good", "good harm", "good help"),
        ("failing", "failing harm", "failing help"),
        ("broken", "broken harm", "broken help"),
    )

    result = run(pytester, openai_server, "--moral-retries", "2")

    result.stdout.re_match_lines(
        [
            r"pairs\.moral\.yaml::broken +- +- +- +2 +ERROR$",
            r"1 passed, 1 failed, 1 error \(not rated\); 8 model calls, 2 retries\b",
        ]
    )


def test_a_bad_request_is_not_tried_again(pytester, openai_server):
    script = steer(openai_server, "3", bad_act=[Reply.error(400, "no such model")])
    write_pairs(pytester, ("p", "bad act", "good act"))

    result = run(pytester, openai_server, "--moral-retries", "2")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the call failed: HTTP 400 bad request: no such model"])
    assert script.requests("bad act") == 1


# --- refusals are asked once more --------------------------------------------------------------------


def test_a_sentence_refused_twice_errors_showing_the_refusal(pytester, openai_server):
    script = steer(openai_server, "3", bad_act=[REFUSAL])
    write_pairs(pytester, ("p", "bad act", "good act"))

    result = run(pytester, openai_server)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"could not rate the harmful sentence with {MODEL}: the model refused to rate twice",
            "  sentence: bad act",
            f"  raw answer: {REFUSAL!r}",
        ]
    )
    assert script.requests("bad act") == 2


@pytest.mark.parametrize("second_answer, outcome", [("-3", "passed"), ("3", "failed")])
def test_a_refusal_followed_by_a_rating_is_judged_on_that_rating(pytester, openai_server, second_answer, outcome):
    script = steer(openai_server, "3", bad_act=[REFUSAL, second_answer])
    write_pairs(pytester, ("p", "bad act", "good act"))

    result = run(pytester, openai_server)

    result.assert_outcomes(**{outcome: 1})
    assert script.requests("bad act") == 2


# --- refused credentials stop the run ----------------------------------------------------------------


def test_refused_credentials_stop_the_run_with_one_message_and_no_traceback(pytester, openai_server):
    steer(openai_server, Reply.error(401, "Incorrect API key provided"))
    write_pairs(pytester, *((f"p{i}", f"harm {i}", f"help {i}") for i in range(4)))

    result = run(pytester, openai_server, "--moral-concurrency", "1")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*Interrupted: moralpairs: the provider refused the credentials "
            "(HTTP 401 authentication: Incorrect API key provided)*"
        ]
    )
    assert "Traceback" not in output(result)
    assert result.parseoutcomes().get("errors", 0) <= 1  # not one error per pair
    assert len(re.findall(r"_ ERROR at setup of ", output(result))) <= 1


def test_no_request_is_sent_after_the_credentials_are_refused(pytester, openai_server):
    steer(openai_server, Reply.error(401, "Incorrect API key provided"))
    write_pairs(pytester, *((f"p{i}", f"harm {i}", f"help {i}") for i in range(4)))

    run(pytester, openai_server, "--moral-concurrency", "1", "--moral-retries", "3")

    assert openai_server.count == 1


def test_a_call_waiting_to_be_tried_again_is_not_retried_once_the_credentials_are_refused(pytester, openai_server):
    script = steer(
        openai_server,
        "3",
        bad_act=[Reply.error(503, "overloaded"), "-3"],
        good_act=[Reply.error(401, "Incorrect API key")],
    )
    write_pairs(pytester, ("p", "bad act", "good act"), ("q", "bad act 2", "good act 2"))

    result = run(pytester, openai_server, "--moral-concurrency", "2", "--moral-retries", "2")

    assert script.requests("bad act") == 1  # its 503 came first; the 401 arrived during its backoff
    assert openai_server.count == 2
    result.stdout.fnmatch_lines(
        ["*Interrupted: moralpairs: the provider refused the credentials (HTTP 401 authentication: Incorrect API key)*"]
    )
    assert result.parseoutcomes().get("errors", 0) == 0  # the run stops before any item reports


def test_a_missing_api_key_stops_the_run_with_the_same_message_before_any_request(pytester, openai_server, no_internet):
    # No --moral-api-base and no OPENAI_API_KEY (conftest clears it): litellm fails before any
    # request. Should it ever try, the guard refuses the connection and records it.
    write_pairs(pytester, *((f"p{i}", f"harm {i}", f"help {i}") for i in range(3)))

    result = pytester.runpytest("--moral-model", "openai/gpt-4o-mini", "-p", "no:cacheprovider")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*Interrupted: moralpairs: the provider refused the credentials (authentication: Missing credentials*"]
    )
    assert "Traceback" not in output(result)
    assert no_internet == []
    assert openai_server.count == 0


def test_a_baseline_model_that_refuses_the_credentials_never_stops_the_run(pytester, openai_server, no_internet):
    # --moral-baseline-model is a yardstick shown beside the verdicts, never part of them.
    steer(openai_server, "3", harm_0=["-3"], harm_1=["-3"])
    write_pairs(pytester, ("p0", "harm 0", "help 0"), ("p1", "harm 1", "help 1"))

    result = run(pytester, openai_server, "--moral-baseline-model", "openai/gpt-4o-mini")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["baseline openai/gpt-4o-mini could not rate 2 pairs: *authentication: Missing credentials*"]
    )
    assert no_internet == []


def test_a_baseline_named_like_the_model_under_test_is_that_model_and_its_refusal_stops_the_run(
    pytester, openai_server
):
    steer(openai_server, Reply.error(401, "Incorrect API key provided"))
    write_pairs(pytester, *((f"p{i}", f"harm {i}", f"help {i}") for i in range(4)))

    result = run(pytester, openai_server, "--moral-baseline-model", MODEL, "--moral-concurrency", "1")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*Interrupted: moralpairs: the provider refused the credentials*"])


def test_once_the_model_under_test_is_refused_no_baseline_call_is_made_either(pytester, openai_server):
    # The run is over: a yardstick's answers would be paid for and never shown.
    steer(openai_server, Reply.error(401, "Incorrect API key provided"))
    write_pairs(pytester, *((f"p{i}", f"harm {i}", f"help {i}") for i in range(20)))

    result = run(pytester, openai_server, "--moral-baseline-model", "moralpairs/lexical", "--moral-concurrency", "1")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert openai_server.count == 1
    result.stdout.fnmatch_lines(["no pairs rated; 1 model call*"])


def test_an_interrupted_run_does_not_replace_the_saved_run(pytester, openai_server):
    steer(openai_server, "3", harm_0=["-3"])
    write_pairs(pytester, ("p0", "harm 0", "help 0"))
    run(pytester, openai_server, "--moral-save", "release.json").assert_outcomes(passed=1)
    saved = (pytester.path / "release.json").read_text()
    steer(openai_server, Reply.error(401, "Incorrect API key provided"))

    result = run(pytester, openai_server, "--moral-compare", "release.json", "--moral-save", "release.json")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["the run was not saved to release.json: it was interrupted"])
    assert (pytester.path / "release.json").read_text() == saved


def test_a_run_stopped_by_x_does_not_replace_the_saved_run_but_still_writes_its_reports(pytester, openai_server):
    steer(openai_server, "3", harm_0=["-3"], harm_1=["-3"])
    write_pairs(pytester, ("p0", "harm 0", "help 0"), ("p1", "harm 1", "help 1"))
    run(pytester, openai_server, "--moral-save", "release.json").assert_outcomes(passed=2)
    saved = (pytester.path / "release.json").read_text()
    steer(openai_server, "0")

    result = run(pytester, openai_server, "-x", "--moral-save", "release.json", "--moral-report", "json:now.json")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "the run was not saved to release.json: it stopped early (stopping after 1 failures)",
            "json report written to now.json",
        ]
    )
    assert (pytester.path / "release.json").read_text() == saved
    assert (pytester.path / "now.json").is_file()


# --- exit status ---------------------------------------------------------------------------------


FAILING_PYTHON_TEST = "def test_plain():\n    assert 1 == 2\n"


@pytest.mark.parametrize(
    "first_harm, second_harm, python_test, status",
    [
        ("-3", "-3", None, 0),
        ("3", "-3", None, 1),
        ("-3", Reply.error(400), None, EXIT_RATING_ERRORS),
        ("3", Reply.error(400), None, 1),
        ("-3", Reply.error(400), FAILING_PYTHON_TEST, 1),
    ],
    ids=["all-passed", "moral-failure", "only-rating-errors", "moral-failure-and-error", "python-failure-and-error"],
)
def test_the_exit_status_tells_a_moral_failure_from_pairs_that_could_not_be_rated(
    pytester, openai_server, first_harm, second_harm, python_test, status
):
    # Every harmless sentence is rated 3: a harmful one rated -3 passes, one rated 3 fails.
    openai_server.answers, openai_server.default = {"harm 1": first_harm, "harm 2": second_harm}, "3"
    write_pairs(pytester, ("p1", "harm 1", "help 1"), ("p2", "harm 2", "help 2"))
    if python_test:
        pytester.makepyfile(test_plain=python_test)

    result = run(pytester, openai_server)

    assert result.ret == status


# --- the cost limit --------------------------------------------------------------------------------

PRICED_MODEL = "openai/moralpairs-priced-model"
#: One cent per answer token; the test server answers with exactly one completion token.
PRICE_CONFTEST = f"""
import litellm

PRICE = {{"{PRICED_MODEL}": {{"input_cost_per_token": 0.0, "output_cost_per_token": 0.01,
                              "litellm_provider": "openai", "mode": "chat"}}}}
FREE = {{"{PRICED_MODEL}": {{"input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
                             "litellm_provider": "openai", "mode": "chat"}}}}

def pytest_configure(config):
    litellm.register_model(PRICE)

def pytest_unconfigure(config):
    litellm.register_model(FREE)
"""


def test_calls_stop_at_the_cost_limit_and_the_pairs_left_unrated_error(pytester, openai_server):
    pytester.makeconftest(PRICE_CONFTEST)
    openai_server.answers, openai_server.default = {"harm 1": "-3", "harm 2": "-3", "harm 3": "-3"}, "3"
    write_pairs(pytester, *((f"p{i}", f"harm {i}", f"help {i}") for i in (1, 2, 3)))

    result = run(pytester, openai_server, "--moral-concurrency", "1", "--moral-max-cost", "0.025", model=PRICED_MODEL)

    assert openai_server.count == 3  # $0.01 each: the third call crosses $0.025; 6 were wanted
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of moral pair p2*",
            f"could not rate the harmless sentence with {PRICED_MODEL}: "
            "not sent: the cost limit of $0.025 was reached ($0.0300 spent)",
        ]
    )


def test_a_failed_call_is_not_retried_once_the_cost_limit_is_reached(pytester, openai_server):
    pytester.makeconftest(PRICE_CONFTEST)
    script = steer(openai_server, "3", bad_act=[Reply.error(503, "overloaded"), "-3"])
    write_pairs(pytester, ("p", "bad act", "good act"))

    result = run(
        pytester,
        openai_server,
        *("--moral-concurrency", "2", "--moral-retries", "2", "--moral-max-cost", "0.005"),
        model=PRICED_MODEL,
    )

    assert script.requests("bad act") == 1  # "good act" was answered, for $0.01, during its backoff
    result.stdout.fnmatch_lines(["*not tried again after 1 try (*): the cost limit of $0.005 was reached*"])


def test_the_summary_shows_the_dollars_spent(pytester, openai_server):
    pytester.makeconftest(PRICE_CONFTEST)
    openai_server.answers, openai_server.default = {"harm": "-3"}, "3"
    write_pairs(pytester, ("p", "harm", "help"))

    result = run(pytester, openai_server, model=PRICED_MODEL)

    result.stdout.fnmatch_lines(["1 passed; 2 model calls; * tokens, $0.0200"])


# --- the live progress line ---------------------------------------------------------------------------


def test_a_fast_batch_prints_one_progress_line_with_the_time_it_took(pytester, openai_server):
    write_pairs(pytester, ("p", "harm", "help"), ("q", "harm 2", "help 2"))

    result = run(pytester, openai_server)

    lines = [line for line in result.outlines if line.startswith("moralpairs: ")]
    assert len(lines) == 1
    assert re.fullmatch(r"moralpairs: 4/4 model calls, [\d.]+/s in \d+\.\d s", lines[0])


def test_a_log_is_told_at_once_when_a_call_starts_a_long_wait_and_why(pytester, openai_server):
    # Not a terminal: the progress line is written now and then, but a call that waits for
    # minutes must not leave the log silent. A wait of 5 s (the log's interval) is long.
    steer(openai_server, "3", bad_act=[Reply.error(429, "slow down", retry_after=3600), "-3"])
    write_pairs(pytester, ("p", "bad act", "good act"))

    result = run(pytester, openai_server, "--moral-retries", "1", "--moral-max-retry-after", "5")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "moralpairs: ?/2 model calls; rate limited: waiting 5 s (Retry-After 3600 s, capped at 5 s)",
            "moralpairs: 2/2 model calls, *",
        ]
    )


def test_quiet_runs_print_no_progress_line(pytester, openai_server):
    write_pairs(pytester, ("p", "harm", "help"), ("q", "harm 2", "help 2"))

    result = run(pytester, openai_server, "-q")

    assert not [line for line in result.outlines if "model calls," in line and "/4" in line]
    result.stdout.no_fnmatch_line("moralpairs: */* model calls*")
