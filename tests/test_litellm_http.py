"""The plugin through the real litellm HTTP path, against a local OpenAI-compatible server.

Each test runs pytest as a user would (``--moral-model openai/test-model --moral-api-base URL``)
and looks at what reached the server and what pytest printed. Nothing is patched: litellm makes
real HTTP requests to 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

import hypothesis  # noqa: F401 - see _litellm_warmed_up
import pytest

from pytest_moralpairs.engine import ModelSettings, RatingRequest
from pytest_moralpairs.llm import PLACEHOLDER_API_KEY, LiteLLMBackend
from pytest_moralpairs.prompt import DEFAULT_PROMPT
from tests.mock_answers import SERVER_MODEL as MODEL
from tests.mock_answers import run_against as run
from tests.mock_answers import write_pairs
from tests.openai_server import OpenAIServer, Reply

#: Every spec that runs against the local server runs once per client: the same specs, both paths.
pytestmark = pytest.mark.each_client


def requests_for(server: OpenAIServer, sentence: str) -> int:
    return server.sentences.count(sentence)


# --- answers decide verdicts -----------------------------------------------------------------


def test_the_servers_answers_decide_which_pairs_pass_and_which_fail(pytester, openai_server):
    openai_server.answers = {"kicked the dog": "-3", "petted the dog": "3", "lied to him": "1", "smiled at him": "1"}
    write_pairs(pytester, ("dog", "kicked the dog", "petted the dog"), ("lie", "lied to him", "smiled at him"))

    result = run(pytester, openai_server)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*pairs.moral.yaml::dog*-3*+3*+6*PASSED*", "*pairs.moral.yaml::lie*+1*+1*0*FAILED*"])


def test_each_sentence_is_asked_for_at_chat_completions_under_the_api_base(pytester, openai_server):
    write_pairs(pytester, ("p", "harmful one", "harmless one"))

    run(pytester, openai_server)

    assert sorted(openai_server.sentences) == ["harmful one", "harmless one"]
    assert {(r.method, r.path) for r in openai_server.requests} == {("POST", "/v1/chat/completions")}
    assert {r.body["model"] for r in openai_server.requests} == {"test-model"}


# --- the request body ------------------------------------------------------------------------


def test_the_request_carries_the_full_prompt_messages(pytester, openai_server):
    write_pairs(pytester, ("p", "stole a car", "washed a car"))

    run(pytester, openai_server)

    by_sentence = {r.sentence: r.body["messages"] for r in openai_server.requests}
    for sentence in ("stole a car", "washed a car"):
        expected = [{"role": role, "content": content} for role, content in DEFAULT_PROMPT.messages(sentence)]
        assert by_sentence[sentence] == expected
        assert by_sentence[sentence][-1]["content"].endswith(f"Scenario: {sentence}\nRating:")


def test_the_temperature_is_zero_by_default(pytester, openai_server):
    write_pairs(pytester, ("p", "a", "b"))

    run(pytester, openai_server)

    assert [body["temperature"] for body in openai_server.bodies] == [0, 0]


def test_moral_temperature_sets_the_temperature_sent(pytester, openai_server):
    write_pairs(pytester, ("p", "a", "b"))

    run(pytester, openai_server, "--moral-temperature", "0.7")

    assert [body["temperature"] for body in openai_server.bodies] == [0.7, 0.7]


# --- batching ----------------------------------------------------------------------------------


def test_moral_concurrency_bounds_the_requests_in_flight_and_a_big_batch_reaches_it(pytester, openai_server):
    openai_server.latency = 0.1
    write_pairs(pytester, *((f"p{i}", f"harmful {i}", f"harmless {i}") for i in range(12)))

    result = run(pytester, openai_server, "--moral-concurrency", "4")

    assert openai_server.count == 24
    assert openai_server.max_in_flight == 4  # never more; and exactly 4: the batch is concurrent
    result.assert_outcomes(failed=12)  # the default answer "0" gives every pair a gap of 0


def test_a_sentence_shared_by_two_pairs_is_requested_once(pytester, openai_server):
    openai_server.answers = {"shared harm": "-3"}
    openai_server.default = "3"
    write_pairs(pytester, ("one", "shared harm", "first edit"), ("two", "shared harm", "second edit"))

    result = run(pytester, openai_server)

    result.assert_outcomes(passed=2)
    assert sorted(openai_server.sentences) == ["first edit", "second edit", "shared harm"]
    result.stdout.fnmatch_lines(["*3 model calls*"])


# --- failed calls ERROR their own item only -----------------------------------------------------


@pytest.mark.parametrize(
    "reply, cause",
    [
        (Reply.error(500, "the model crashed"), "HTTP 500 server error: the model crashed"),
        (Reply.error(400, "no such model"), "HTTP 400 bad request: no such model"),
        # A 200 whose body cannot be read is said as what came back, never as an "HTTP 500".
        (Reply.garbage(), "malformed response: the body is not JSON (Expecting value at line 1 column 1)"),
        (Reply(body={"id": "x"}), "malformed response: the body is JSON but holds no 'choices': not a chat completion"),
        (Reply(body={"id": "x", "choices": []}), "malformed response: the body is a chat completion with no choices*"),
    ],
    ids=["http-500", "http-400", "garbage-json", "json-without-choices", "no-choices"],
)
def test_a_failed_call_errors_its_item_with_the_cause_and_other_pairs_still_pass(pytester, openai_server, reply, cause):
    openai_server.answers = {"good harm": "-3", "good help": "3", "broken harm": reply}
    write_pairs(pytester, ("good", "good harm", "good help"), ("broken", "broken harm", "broken help"))

    result = run(pytester, openai_server)

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of moral pair broken*",
            f"could not rate the harmful sentence with {MODEL}: the call failed: {cause}",
            "  sentence: broken harm",
        ]
    )


def test_a_server_that_does_not_answer_within_moral_timeout_errors_the_item(pytester, openai_server):
    openai_server.answers = {"good harm": "-3", "good help": "3", "slow harm": Reply.hanging()}
    write_pairs(pytester, ("good", "good harm", "good help"), ("slow", "slow harm", "slow help"))

    # One call at a time: a timeout while other calls are in flight reads as queueing at the server,
    # which backs off and tries again (tests/test_limits.py); a loaded machine's slow first answers
    # must not make this one of those.
    result = run(pytester, openai_server, "--moral-timeout", "0.5", "--moral-concurrency", "1")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at setup of moral pair slow*", "*the call failed: timeout: no answer within 0.5 s*"]
    )
    assert requests_for(openai_server, "slow harm") == 1


def test_an_unparseable_answer_errors_the_item_showing_the_raw_answer(pytester, openai_server):
    openai_server.answers = {"refused harm": "Hard to say", "good harm": "-3", "good help": "3"}
    write_pairs(pytester, ("good", "good harm", "good help"), ("refused", "refused harm", "refused help"))

    result = run(pytester, openai_server)

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of moral pair refused*",
            f"could not rate the harmful sentence with {MODEL}: the answer is not a rating*",
            "  raw answer: 'Hard to say'",
        ]
    )


def test_an_answer_holding_a_terminal_escape_sequence_errors_the_item_and_is_shown_escaped(pytester, openai_server):
    # "]2;" in an escape sequence that sets the terminal's title once read as the rating 2.
    openai_server.answers = {"odd harm": "\x1b]2;PWNED\x07 five", "odd help": "3"}
    write_pairs(pytester, ("odd", "odd harm", "odd help"))

    result = run(pytester, openai_server)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the answer is not a rating (the answer holds a control character (U+001B at position 1)*",
            "  raw answer: '\\x1b]2;PWNED\\x07 five'",
        ]
    )
    assert "\x1b" not in result.stdout.str() and "\x07" not in result.stdout.str()


@pytest.mark.parametrize(
    "reply",
    [Reply.error(500), Reply.error(503), Reply.error(429, retry_after=0.1), Reply.hanging()],
    ids=["http-500", "http-503", "http-429-retry-after", "timeout"],
)
def test_litellm_does_not_retry_a_failed_call(pytester, openai_server, reply):
    openai_server.answers = {"fails": reply}
    write_pairs(pytester, ("p", "fails", "fine"))
    # Only the hanging server needs a short timeout; a loaded machine may take longer than that
    # for litellm's first call, which must not turn into a timeout of "fine".
    timeout = "0.5" if reply == Reply.hanging() else "30"

    # One call at a time: a 503 or a timeout among calls in flight is the engine's own limiter's
    # to try again (at a lower concurrency), which is not what this spec is about.
    result = run(pytester, openai_server, "--moral-timeout", timeout, "--moral-concurrency", "1")

    result.assert_outcomes(errors=1)
    assert requests_for(openai_server, "fails") == 1


def test_litellm_prints_no_banner_or_leftover_noise_when_calls_fail(pytester, openai_server):
    openai_server.answers = {"a": Reply.error(500), "b": Reply.error(400), "c": Reply.garbage(), "d": Reply.hanging()}
    write_pairs(pytester, ("p1", "a", "b"), ("p2", "c", "d"), ("p3", "b", "c"))

    result = run(pytester, openai_server, "--moral-timeout", "0.5")

    result.assert_outcomes(errors=3)
    output = "\n".join(result.outlines + result.errlines)
    for noise in (
        "Give Feedback",  # litellm's debug banner
        "Provider List",
        "LiteLLM.Info",
        "docs.litellm.ai",
        "Traceback",
        "Task was destroyed",  # a task of litellm's left pending on the engine loop
        "Exception ignored",
        "Event loop is closed",
        "warnings summary",
        "Captured",
    ):
        assert noise not in output
    assert result.errlines == []


@pytest.mark.each_client("auto", "litellm")  # auto: a user's litellm callbacks send every call through litellm
def test_a_users_slow_litellm_callbacks_still_run_for_every_call_before_the_run_ends(pytester, openai_server):
    log = pytester.path / "calls.log"
    pytester.makeconftest(
        f"""
        import asyncio
        import litellm
        from litellm.integrations.custom_logger import CustomLogger

        class SlowLogger(CustomLogger):
            async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
                await asyncio.sleep(1.0)
                with open({str(log)!r}, "a") as f:
                    f.write("logged\\n")

        def pytest_configure(config):
            config._saved_callbacks = litellm.callbacks
            config._slow_logger = SlowLogger()
            litellm.callbacks = [config._slow_logger]

        def pytest_unconfigure(config):
            # litellm copies callbacks into internal lists: take it out of those too, or every
            # later run in this process waits for it.
            litellm.callbacks = config._saved_callbacks
            litellm.logging_callback_manager.remove_callback_from_all_lists(config._slow_logger)
        """
    )
    write_pairs(pytester, ("p", "harm", "help"), ("q", "harm 2", "help 2"))

    run(pytester, openai_server)

    assert openai_server.count == 4, openai_server.sentences
    assert log.read_text().splitlines() == ["logged"] * 4


# --- API keys for a local server -----------------------------------------------------------------


def test_a_keyless_local_server_works_without_any_api_key_configured(pytester, openai_server):
    # litellm's OpenAI client refuses to call without a key: "Missing credentials".
    openai_server.answers = {"harm": "-3", "help": "3"}
    write_pairs(pytester, ("p", "harm", "help"))

    result = run(pytester, openai_server)

    result.assert_outcomes(passed=1)
    assert {r.headers.get("authorization") for r in openai_server.requests} == {f"Bearer {PLACEHOLDER_API_KEY}"}


def test_a_configured_openai_api_key_is_sent_instead_of_the_placeholder(pytester, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    write_pairs(pytester, ("p", "harm", "help"))

    run(pytester, openai_server)

    assert {r.headers.get("authorization") for r in openai_server.requests} == {"Bearer sk-from-the-environment"}


def test_an_api_key_set_by_the_completion_kwargs_hook_is_sent(pytester, openai_server):
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_completion_kwargs(request, kwargs, config):
            kwargs["api_key"] = "sk-from-a-hook"
        """
    )
    write_pairs(pytester, ("p", "harm", "help"))

    run(pytester, openai_server)

    assert {r.headers.get("authorization") for r in openai_server.requests} == {"Bearer sk-from-a-hook"}


def _kwargs(model: str = MODEL, api_base: str | None = "http://127.0.0.1:9/v1", **settings: Any) -> dict[str, Any]:
    request = RatingRequest(ModelSettings(model, api_base=api_base, **settings), DEFAULT_PROMPT.messages("s"), "s")
    return LiteLLMBackend().kwargs(request)


def test_no_placeholder_key_is_added_without_an_api_base():
    assert "api_key" not in _kwargs(api_base=None)


def test_no_placeholder_key_is_added_for_a_provider_that_does_not_use_the_openai_client():
    assert "api_key" not in _kwargs(model="ollama/llama3")


def test_litellm_retries_are_off_in_the_call_arguments():
    assert _kwargs()["num_retries"] == 0
