"""Reasoning models: the thinking before the answer is kept, shown, cached and paid for.

The local server answers like DeepSeek, vLLM or llama.cpp (``reasoning_content``), OpenRouter
(``reasoning``) or Anthropic through litellm (``thinking_blocks``), each with its reasoning tokens in
``usage.completion_tokens_details``; every spec that uses it runs once per client.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pytest_moralpairs.cache import CachedAnswer, ResponseCache
from pytest_moralpairs.prices import price
from pytest_moralpairs.reasoning import (
    billed_completion_tokens,
    excerpt,
    progress_note,
    reasoning_text,
    reasoning_tokens,
)
from pytest_moralpairs.report.progress import QUIET, QUIET_LINE, ProgressLine
from pytest_moralpairs.request import ModelSettings, RatingRequest, cache_key, call_kwargs
from pytest_moralpairs.settings import REASONING_TIMEOUT
from tests.mock_answers import HELP, HURT, run_against, write_pairs
from tests.openai_server import OpenAIServer, Reply
from tests.test_reports import SCHEMA_PATH

pytestmark = pytest.mark.each_client

#: The harmful sentence's thinking holds a "-4" it then turns down; its answer is 3 (the model missed
#: the edit): a rating read from the reasoning would pass the pair.
DOUBT = "Pushing a child into a lake sounds like -4. But maybe it was a game, so it is fine."


def reasoning_model(server: OpenAIServer, field: str = "reasoning_content") -> None:
    server.answers = {
        HURT: Reply(text="3", reasoning=DOUBT, reasoning_field=field),
        HELP: Reply(text="4", reasoning="Saving a child is good.", reasoning_field=field),
    }


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def report(pytester: pytest.Pytester, name: str = "run.json") -> dict:
    return json.loads(Path(pytester.path, name).read_text())


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking_blocks"])
def test_the_rating_is_read_from_the_answer_never_from_the_reasoning(
    pytester: pytest.Pytester, openai_server: OpenAIServer, field: str
) -> None:
    write_pairs(pytester, ("push", HURT, HELP))
    reasoning_model(openai_server, field)
    result = run_against(pytester, openai_server, "--moral-report", "json:run.json")
    result.assert_outcomes(failed=1)  # 3 and 4: a gap of 1; the reasoning's -4 would have passed it
    pair = report(pytester)["pairs"][0]
    assert (pair["harmful_rating"], pair["harmless_rating"]) == (3, 4)
    assert pair["harmful_reasoning"] == DOUBT
    assert pair["harmless_reasoning"] == "Saving a child is good."
    assert list(validator().iter_errors(report(pytester))) == []  # documented in the run's schema


def test_the_failure_shows_each_sentences_reasoning_shortened(
    pytester: pytest.Pytester, openai_server: OpenAIServer
) -> None:
    long = DOUBT + " " + "Lakes are cold. " * 40 + "So I rate it 3."
    write_pairs(pytester, ("push", HURT, HELP))
    openai_server.answers = {HURT: Reply(text="3", reasoning=long), HELP: "4"}
    result = run_against(pytester, openai_server, "--moral-report", "json:run.json")
    result.stdout.fnmatch_lines([f"  harmful reasoning: {excerpt(long)!r}"])
    assert "harmless reasoning" not in result.stdout.str()  # none given: no line
    shown = excerpt(long)
    assert len(shown) <= 240 and shown.startswith("Pushing a child") and shown.endswith("So I rate it 3.")
    assert report(pytester)["pairs"][0]["harmful_reasoning"] == long  # in full in the JSON


def test_the_html_report_holds_the_reasoning_in_full_folded(
    pytester: pytest.Pytester, openai_server: OpenAIServer
) -> None:
    write_pairs(pytester, ("push", HURT, HELP))
    reasoning_model(openai_server)
    run_against(pytester, openai_server, "--moral-report", "html:run.html")
    page = Path(pytester.path, "run.html").read_text()
    assert '<details class="reasoning harmful"><summary>harmful reasoning</summary>' in page
    assert "<pre>Pushing a child into a lake sounds like -4. But maybe it was a game, so it is fine.</pre>" in page


def test_a_cached_answer_keeps_its_reasoning(pytester: pytest.Pytester, openai_server: OpenAIServer) -> None:
    write_pairs(pytester, ("push", HURT, HELP))
    reasoning_model(openai_server)
    args = ("--moral-cache=readwrite", "--moral-cache-dir", "cache", "--moral-report", "json:run.json")
    run_against(pytester, openai_server, *args).assert_outcomes(failed=1)
    calls = openai_server.count
    again = run_against(pytester, openai_server, *args)
    assert openai_server.count == calls  # every answer from the cache
    again.stdout.fnmatch_lines([f"  harmful reasoning: {DOUBT!r}"])
    assert report(pytester)["pairs"][0]["harmful_reasoning"] == DOUBT


def test_reasoning_tokens_are_counted_and_paid_for(pytester: pytest.Pytester, openai_server: OpenAIServer) -> None:
    write_pairs(pytester, ("push", HURT, HELP))
    reasoning_model(openai_server)
    run_against(pytester, openai_server, "--moral-report", "json:run.json")
    usage = report(pytester)["usage"]
    thought = len(DOUBT.split()) + len("Saving a child is good.".split())
    assert usage["reasoning_tokens"] == thought
    assert usage["completion_tokens"] == 2 + thought  # the answers' one token each, and the thinking


@pytest.mark.parametrize("counted", [True, False], ids=["within-completion-tokens", "left-out-of-them"])
def test_the_cost_pays_for_the_thinking(pytester: pytest.Pytester, openai_server: OpenAIServer, counted: bool) -> None:
    """A priced model (gpt-4o-mini's prices stand in for any): the thinking is billed as completion
    tokens, whether the server counted it in them (OpenAI) or left it out."""
    write_pairs(pytester, ("push", HURT, HELP))
    openai_server.answers = {
        HURT: Reply(text="3", reasoning=DOUBT, reasoning_counted=counted),
        HELP: Reply(text="4", reasoning="Saving a child is good.", reasoning_counted=counted),
    }
    run_against(pytester, openai_server, "--moral-report", "json:run.json", model="openai/gpt-4o-mini")
    usage = report(pytester)["usage"]
    rates = price("gpt-4o-mini")
    assert rates is not None
    thought = len(DOUBT.split()) + len("Saving a child is good.".split())
    assert usage["completion_tokens"] == 2 + thought
    assert usage["cost"] == pytest.approx(usage["prompt_tokens"] * rates[0] + (2 + thought) * rates[2])


def test_a_model_that_only_reasoned_gave_no_rating_and_says_why(
    pytester: pytest.Pytester, openai_server: OpenAIServer
) -> None:
    write_pairs(pytester, ("push", HURT, HELP))
    openai_server.answers = {HURT: Reply(text="", reasoning="Hmm, -4? Let me think more about"), HELP: "4"}
    result = run_against(pytester, openai_server)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the model reasoned but gave no final answer (did it run out of max_tokens?)*"])


def test_reasoning_effort_is_sent_only_when_set(pytester: pytest.Pytester, openai_server: OpenAIServer) -> None:
    write_pairs(pytester, ("push", HURT, HELP))
    openai_server.default = "1"
    run_against(pytester, openai_server)
    assert all("reasoning_effort" not in body for body in openai_server.bodies)
    openai_server.reset()
    run_against(pytester, openai_server, "--moral-reasoning-effort", "high")
    assert [body["reasoning_effort"] for body in openai_server.bodies] == ["high", "high"]


def test_reasoning_effort_is_part_of_the_cache_key_only_when_set(
    pytester: pytest.Pytester, openai_server: OpenAIServer
) -> None:
    write_pairs(pytester, ("push", HURT, HELP))
    openai_server.default = "1"
    cached = ("--moral-cache=readwrite", "--moral-cache-dir", "cache")
    for effort, new_calls in (
        ((), 2),
        ((), 0),
        (("--moral-reasoning-effort", "low"), 2),
        (("--moral-reasoning-effort", "low"), 0),
    ):
        before = openai_server.count
        run_against(pytester, openai_server, *cached, *effort)
        assert openai_server.count - before == new_calls, effort


def test_a_timed_out_call_says_a_reasoning_model_may_need_longer(
    pytester: pytest.Pytester, openai_server: OpenAIServer
) -> None:
    write_pairs(pytester, ("push", HURT, HELP))
    openai_server.default = Reply.hanging()
    result = run_against(pytester, openai_server, "--moral-timeout", "0.5", "--moral-reasoning-effort", "high")
    result.stdout.fnmatch_lines(
        [
            "*a reasoning model at reasoning effort high may think longer than the timeout of 0.5 s: "
            "give it more with --moral-timeout SECONDS*"
        ]
    )


# --- without a server ----------------------------------------------------------------------------


def test_reasoning_effort_without_a_timeout_waits_longer(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest

@pytest.hookimpl(optionalhook=True)
def pytest_moralpairs_completion_kwargs(request, kwargs, config):
    print("TIMEOUT", kwargs["timeout"], kwargs.get("reasoning_effort"))
    kwargs["mock_response"] = "0"
"""
    )
    write_pairs(pytester, ("push", HURT, HELP))
    base = ("--moral-model", "openai/mock-model", "--moral-cache=off", "-s", "--moral-client", "litellm")
    pytester.runpytest(*base, "--moral-reasoning-effort", "medium").stdout.fnmatch_lines(
        [f"*TIMEOUT {REASONING_TIMEOUT:g}* medium*"]
    )
    pytester.runpytest(*base, "--moral-reasoning-effort", "medium", "--moral-timeout", "30").stdout.fnmatch_lines(
        ["*TIMEOUT 30* medium*"]
    )


def test_an_unknown_reasoning_effort_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_pairs(pytester, ("push", HURT, HELP))
    result = pytester.runpytest("--moral-model", "moralpairs/lexical", "--moral-reasoning-effort", "max")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--moral-reasoning-effort must be one of low, medium, high, got 'max'*"])


def test_a_request_without_reasoning_effort_keeps_the_cache_key_it_had():
    request = RatingRequest(ModelSettings("openai/m"), (("user", "Scenario: x"),), "x")
    kwargs = call_kwargs(request)
    assert "reasoning_effort" not in kwargs
    with_effort = RatingRequest(request.model, request.messages, "x", options=(("reasoning_effort", "low"),))
    assert cache_key(with_effort, call_kwargs(with_effort)) != cache_key(request, kwargs)


def test_old_cache_rows_read_as_before_and_new_ones_keep_the_reasoning(tmp_path: Path):
    cache = ResponseCache(tmp_path / "responses.sqlite3")
    cache.put("old", CachedAnswer("3", "m", 10, 1, 0.0))  # as every earlier version wrote it
    cache.put("lp", CachedAnswer("3", "m", 10, 1, 0.0, logprobs=(("3", (("3", -0.1),)),)))
    cache.put("new", CachedAnswer("3", "m", 10, 5, 0.0, reasoning="It is -4? No: 3.", reasoning_tokens=4))
    old, lp, new = (cache.get(key) for key in ("old", "lp", "new"))
    assert old == CachedAnswer("3", "m", 10, 1, 0.0)
    assert lp.logprobs == (("3", (("3", -0.1),)),) and lp.reasoning is None
    assert (new.reasoning, new.reasoning_tokens, new.extra) == ("It is -4? No: 3.", 4, "{}")
    cache.close()


def test_reasoning_is_read_from_every_shape_a_message_may_carry_it_in():
    assert reasoning_text({"content": "3", "reasoning_content": "a"}) == "a"
    assert reasoning_text({"content": "3", "reasoning": "b"}) == "b"
    blocks = [{"type": "thinking", "thinking": "c"}, {"type": "redacted_thinking", "data": "x"}]
    assert reasoning_text({"content": "3", "thinking_blocks": blocks}) == "c"
    assert reasoning_text({"content": "3", "reasoning_content": None, "reasoning": "  "}) is None
    assert reasoning_text({"reasoning_content": "\x1b]2;PWNED\x07think"}) == "]2;PWNEDthink"


def test_reasoning_tokens_missing_from_the_completion_tokens_are_added():
    assert reasoning_tokens({"completion_tokens_details": {"reasoning_tokens": 7}}) == 7
    assert reasoning_tokens({"completion_tokens_details": None}) == 0
    assert billed_completion_tokens(10, 7) == 10  # OpenAI's: included
    assert billed_completion_tokens(1, 7) == 8  # a server that left them out


def test_the_offline_model_is_not_asked_for_a_reasoning_effort(pytester: pytest.Pytester) -> None:
    """It does not think: a run of it (or a baseline of it beside a reasoning model) rates as ever."""
    write_pairs(pytester, ("push", HURT, HELP))
    args = ("--moral-model=moralpairs/lexical", "--moral-cache=off")
    plain = pytester.runpytest(*args).parseoutcomes()
    assert pytester.runpytest(*args, "--moral-reasoning-effort=high").parseoutcomes() == plain
    assert "errors" not in plain


# --- the progress line -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_log_is_told_how_long_a_reasoning_model_has_not_answered() -> None:
    clock, written = Clock(), []
    line = ProgressLine(written.append, tty=False, clock=clock, tick=None, slow=progress_note("high"))
    line(0, 4)
    for _ in range(int(QUIET_LINE) + 1):
        clock.now += 1
        line.tick()
    assert (
        written[-1]
        == "moralpairs: 0/4 model calls; no answer for 30 s (reasoning effort high: answers may take minutes)"
    )
    told = len(written)
    for _ in range(10):  # not again until QUIET_LINE more seconds have passed
        clock.now += 1
        line.tick()
    assert len(written) == told
    clock.now += 1
    line(1, 4)  # an answer: the quiet starts again
    assert "no answer" not in line.line()


def test_a_terminal_counts_up_the_wait_for_a_reasoning_models_answers() -> None:
    clock, written = Clock(), []
    line = ProgressLine(written.append, tty=True, clock=clock, tick=None, slow=progress_note("low"))
    line(0, 2)
    clock.now += QUIET + 2
    assert line.tick() is True  # keeps ticking while calls are out
    assert written[-1].startswith("\rmoralpairs: 0/2 model calls; no answer for 12 s (reasoning effort low")


def test_without_reasoning_the_progress_line_says_nothing_of_quiet() -> None:
    clock, written = Clock(), []
    line = ProgressLine(written.append, tty=False, clock=clock, tick=None)
    line(0, 4)
    clock.now += 120
    assert line.tick() is False and written == []
