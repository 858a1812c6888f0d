"""Calling at production scale, issue 15 items 4 to 6: an error budget, fresh caches, prompt caching.

Specifications run as a user runs pytest, against the local OpenAI-compatible server (each client:
the plugin's own OpenAI protocol and litellm), which can name the model version that answered, a
``system_fingerprint`` and the prompt tokens its prompt cache served.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_moralpairs.cache import FILE_NAME, CachedAnswer, ResponseCache
from pytest_moralpairs.plugin import EXIT_RATING_ERRORS
from pytest_moralpairs.prices import price
from pytest_moralpairs.prompt import CACHE_CONTROL, DILLION_2023, mark_fixed_prefix
from tests.mock_answers import SERVER_MODEL as MODEL
from tests.mock_answers import write_pairs

pytestmark = pytest.mark.each_client

PAIRS = [(f"p{i}", f"Person X hurt animal {i}.", f"Person X fed animal {i}.") for i in range(4)]


def rule(sentence: str, body: Any) -> str:
    """-3 for a harm, 3 for a help; a word, not a rating, for animal 0's harm."""
    if sentence == PAIRS[0][1]:
        return "five"
    return "-3" if "hurt" in sentence else "3"


def run(pytester: pytest.Pytester, server: Any, *args: str, model: str = MODEL) -> pytest.RunResult:
    return pytester.runpytest("--moral-model", model, "--moral-api-base", server.url, "--moral-retries", "0", *args)


def cache_args(pytester: pytest.Pytester) -> tuple[str, ...]:
    return ("--moral-cache-dir", str(pytester.path / "cache"))


# --- the error budget --------------------------------------------------------------------------


def test_unrated_pairs_within_the_error_budget_do_not_make_exit_status_10(pytester, openai_server):
    openai_server.answers = rule
    write_pairs(pytester, *PAIRS)

    result = run(pytester, openai_server, "--moral-cache=off", "--moral-max-error-rate", "25%")

    result.assert_outcomes(passed=3, errors=1)  # the pair is still reported as an error
    assert result.ret == 0
    result.stdout.fnmatch_lines(["1 of 4 pairs unrated (25%), within the error budget of 25%"])


def test_unrated_pairs_over_the_error_budget_fail_as_without_one(pytester, openai_server):
    openai_server.answers = rule
    write_pairs(pytester, *PAIRS)

    result = run(pytester, openai_server, "--moral-cache=off", "--moral-max-error-rate", "0.2")

    assert result.ret == EXIT_RATING_ERRORS
    result.stdout.fnmatch_lines(["1 of 4 pairs unrated (25%), over the error budget of 20%: *exit status 10*"])


def test_a_failed_pair_fails_the_run_whatever_the_error_budget(pytester, openai_server):
    openai_server.answers = lambda sentence, body: "3" if sentence == PAIRS[1][1] else rule(sentence, body)
    write_pairs(pytester, *PAIRS)

    result = run(pytester, openai_server, "--moral-cache=off", "--moral-max-error-rate", "0.5")

    result.assert_outcomes(passed=2, failed=1, errors=1)
    assert result.ret == 1


def test_the_json_and_markdown_reports_carry_the_error_budget(pytester, openai_server):
    openai_server.answers = rule
    write_pairs(pytester, *PAIRS)

    run(
        pytester,
        openai_server,
        "--moral-cache=off",
        "--moral-max-error-rate=0.3",
        "--moral-report=json:run.json",
        "--moral-report=md:run.md",
    )

    gate = json.loads((pytester.path / "run.json").read_text())["gate"]
    assert gate["max_error_rate"] == 0.3 and gate["pairs"] == 4 and gate["error_rate"] == 0.25
    assert gate["within_error_budget"] is True
    markdown = (pytester.path / "run.md").read_text()
    assert "**Error budget**: 1 of 4 pairs unrated (25%), within the error budget of 30%" in markdown
    assert "Moral pairs passed" in markdown


BAD_VALUES = [
    *(("max-error-rate", value, "must lie in 0..1") for value in ("1.5", "-0.1", "150%")),
    ("max-error-rate", "lots", "must be a number"),
    *(("cache-ttl", value, "must be a duration such as 30d, 12h, 90m") for value in ("30 days", "12", "1y", "-3d")),
    ("cache-mismatch", "ignore", "must be one of warn, error"),
]


@pytest.mark.parametrize("option, value, said", BAD_VALUES)
def test_a_bad_error_budget_ttl_or_mismatch_mode_is_a_usage_error_naming_the_option(pytester, option, value, said):
    write_pairs(pytester, *PAIRS[:1])
    result = pytester.runpytest("--moral-model", "moralpairs/lexical", f"--moral-{option}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--moral-{option} {said}*"])


# --- fresh caches ------------------------------------------------------------------------------


def age_cache(pytester: pytest.Pytester, seconds: float) -> None:
    """Make every answer in the project's cache ``seconds`` older."""
    with sqlite3.connect(pytester.path / "cache" / FILE_NAME) as db:
        db.execute("UPDATE answers SET created = created - ?", (seconds,))


def test_answers_older_than_the_ttl_are_asked_again_and_replaced(pytester, openai_server):
    openai_server.default = "3"
    write_pairs(pytester, *PAIRS[1:])
    run(pytester, openai_server, *cache_args(pytester)).assert_outcomes(failed=3)
    age_cache(pytester, 2 * 86400)
    openai_server.reset()

    kept = run(pytester, openai_server, *cache_args(pytester), "--moral-cache-ttl", "3d")
    assert openai_server.count == 0  # two days old: within three
    again = run(pytester, openai_server, *cache_args(pytester), "--moral-cache-ttl", "36h")

    assert kept.ret == again.ret == 1
    again.stdout.fnmatch_lines(["moral pairs: *, cache * (readwrite, answers older than 36h asked again)"])
    assert openai_server.count == 6  # each sentence asked again
    again.stdout.fnmatch_lines(["*6 model calls, 6 too old for --moral-cache-ttl (asked again)*"])
    openai_server.reset()
    run(pytester, openai_server, *cache_args(pytester), "--moral-cache-ttl", "36h").assert_outcomes(failed=3)
    assert openai_server.count == 0  # replaced: fresh now


def test_the_model_version_and_fingerprint_that_answered_are_kept_with_each_answer(pytester, openai_server):
    openai_server.served_model, openai_server.system_fingerprint = "test-model-2024-08-06", "fp_44709d6fcb"
    write_pairs(pytester, *PAIRS[1:2])
    run(pytester, openai_server, *cache_args(pytester))

    cache = ResponseCache(pytester.path / "cache" / FILE_NAME, mode="read")
    with sqlite3.connect(pytester.path / "cache" / FILE_NAME) as db:
        keys = [row[0] for row in db.execute("SELECT key FROM answers")]
    answers = cache.get_many(keys).values()
    assert len(answers) == 2
    assert {(a.served_model, a.fingerprint) for a in answers} == {("test-model-2024-08-06", "fp_44709d6fcb")}


def test_a_cache_written_before_model_versions_were_kept_is_read_as_before(tmp_path):
    path = tmp_path / FILE_NAME
    ResponseCache(path).put("k", CachedAnswer(text="3", model=MODEL, served_model="x", fingerprint="fp"))
    with sqlite3.connect(path) as db:  # as an older version wrote it: nothing but the text and usage
        assert json.loads(db.execute("SELECT extra FROM answers").fetchone()[0]) == {
            "served_model": "x",
            "fingerprint": "fp",
        }
        db.execute("UPDATE answers SET extra = '{}'")
    found = ResponseCache(path).get("k")
    assert found is not None and found.text == "3" and (found.served_model, found.fingerprint) == (None, None)


def two_versions(pytester: pytest.Pytester, server: Any, *args: str) -> pytest.RunResult:
    """Rate p1 with one version of the model, then p1 (cached) and p2 (fresh) with another."""
    server.answers = rule
    server.served_model = "test-model-2024-08-06"
    write_pairs(pytester, *PAIRS[1:2])
    run(pytester, server, *cache_args(pytester)).assert_outcomes(passed=1)
    server.served_model = "test-model-2024-11-20"
    write_pairs(pytester, *PAIRS[1:3])
    return run(pytester, server, *cache_args(pytester), "--moral-report=json:run.json", *args)


def test_answers_of_two_versions_of_one_model_are_counted_with_a_warning(pytester, openai_server):
    result = two_versions(pytester, openai_server, "--moral-report=md:run.md", "--moral-report=html:run.html")

    result.assert_outcomes(passed=2)
    assert "**Model versions differ**: " in (pytester.path / "run.md").read_text()
    html = (pytester.path / "run.html").read_text()
    assert f"{MODEL}: test-model-2024-08-06 (2 cached), test-model-2024-11-20 (2 fresh)" in html
    result.stdout.fnmatch_lines(
        [
            f"model versions differ, {MODEL}: 2 cached answers from test-model-2024-08-06, "
            "2 fresh from test-model-2024-11-20: the run mixes them"
        ]
    )
    served = json.loads((pytester.path / "run.json").read_text())["served_models"][MODEL]
    assert {name: (seen["cached"], seen["fresh"]) for name, seen in served.items()} == {
        "test-model-2024-08-06": (2, 0),
        "test-model-2024-11-20": (0, 2),
    }


def test_under_xdist_each_answer_is_counted_once_and_judged_alike(pytester, openai_server):
    # Each worker asks for its share and reads the others' from the cache: counted where asked.
    write_pairs(pytester, *PAIRS[1:])
    openai_server.served_model = "test-model-2024-08-06"
    run(pytester, openai_server, *cache_args(pytester), "--moral-cache-ttl=1h").assert_outcomes(passed=0, failed=3)
    age_cache(pytester, 7200)  # all asked again, by the next version
    openai_server.answers, openai_server.served_model = rule, "test-model-2024-11-20"
    write_pairs(pytester, *PAIRS[1:])

    result = run(pytester, openai_server, *cache_args(pytester), "--moral-cache-ttl=1h", "-n", "2")

    result.assert_outcomes(passed=3)
    result.stdout.no_fnmatch_line("*model versions differ*")
    assert openai_server.count == 12  # 6 sentences, each asked once in each run


@pytest.mark.parametrize("mode", ["warn", "error"])
def test_under_xdist_the_versions_are_counted_once_each(pytester, openai_server, mode):
    result = two_versions(pytester, openai_server, "-n", "2", f"--moral-cache-mismatch={mode}")

    result.stdout.fnmatch_lines(
        [f"model versions differ, {MODEL}: 2 cached answers from test-model-2024-08-06, 2 fresh from *-11-20: *"]
    )
    if mode == "error":
        result.assert_outcomes(passed=1, errors=1)
    else:
        result.assert_outcomes(passed=2)


def test_cache_mismatch_error_errors_the_pairs_answered_by_the_other_version(pytester, openai_server):
    result = two_versions(pytester, openai_server, "--moral-cache-mismatch=error")

    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == EXIT_RATING_ERRORS
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of moral pair p1*",
            f"could not rate the harmful sentence with {MODEL}: this answer came from test-model-2024-08-06, "
            f"but {MODEL} now answers as test-model-2024-11-20 (--moral-cache-mismatch=error refuses to mix "
            "them): ask the cached answers again with --moral-cache-ttl*",
        ]
    )


def test_the_options_can_be_set_in_the_ini_file(pytester, openai_server):
    openai_server.answers = rule
    write_pairs(pytester, *PAIRS)
    pytester.makeini("[pytest]\nmoral_max_error_rate = 30%\nmoral_cache_ttl = 12h\nmoral_cache_mismatch = error\n")
    result = run(pytester, openai_server, *cache_args(pytester))
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "moral pairs: *(readwrite, answers older than 12h asked again)",
            "1 of 4 pairs unrated (25%), within the error budget of 30%",
        ]
    )


def test_replay_uses_every_recorded_answer_whatever_the_ttl_with_a_warning(pytester, openai_server):
    openai_server.default = "3"
    write_pairs(pytester, *PAIRS[1:2])
    run(pytester, openai_server, *cache_args(pytester))
    age_cache(pytester, 86400)
    openai_server.reset()
    result = run(pytester, openai_server, *cache_args(pytester), "--moral-replay", "--moral-cache-ttl=1h")
    result.assert_outcomes(failed=1)  # rated from the cache: 3 and 3
    assert openai_server.count == 0
    result.stdout.fnmatch_lines(["*--moral-cache-ttl with --moral-replay: replay uses every recorded answer*"])


def test_one_version_answering_gives_no_warning(pytester, openai_server):
    openai_server.answers, openai_server.served_model = rule, "test-model-2024-08-06"
    write_pairs(pytester, *PAIRS[1:2])
    run(pytester, openai_server, *cache_args(pytester))
    write_pairs(pytester, *PAIRS[1:3])
    result = run(pytester, openai_server, *cache_args(pytester), "--moral-cache-mismatch=error")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*model versions differ*")


# --- prompt caching ----------------------------------------------------------------------------


def test_prompt_tokens_from_the_providers_cache_are_counted_at_the_cached_price(pytester, openai_server):
    openai_server.default, openai_server.cached_tokens = "3", 40
    write_pairs(pytester, *PAIRS[1:2])

    report = "--moral-report=json:run.json"
    result = run(pytester, openai_server, "--moral-cache=off", report, model="openai/gpt-4o-mini")

    usage = json.loads((pytester.path / "run.json").read_text())["usage"]
    prompts = [sum(len(str(m["content"]).split()) for m in body["messages"]) for body in openai_server.bodies]
    full, cached, out = price("gpt-4o-mini")
    assert cached < full  # the table prices cached prompt tokens lower
    expected = sum((p - 40) * full + 40 * cached + 1 * out for p in prompts)
    assert usage["cached_tokens"] == 80 and usage["cost"] == pytest.approx(expected)
    result.stdout.fnmatch_lines(["*tokens (80 prompt tokens cached by the provider), $*"])


def test_the_fixed_prefix_is_marked_for_a_provider_that_caches_on_request():
    messages = [{"role": r, "content": c} for r, c in DILLION_2023.messages("Person X fed a cat.")]

    marked = mark_fixed_prefix(messages)

    fixed, rest = marked[0]["content"]
    assert fixed["cache_control"] == CACHE_CONTROL and "cache_control" not in rest
    assert fixed["text"] + rest["text"] == messages[0]["content"]  # the same prompt, read the same
    assert fixed["text"].endswith("Scenario: ") and rest["text"] == "Person X fed a cat.\nRating:"
    assert messages[0]["content"] == DILLION_2023.messages("Person X fed a cat.")[0][1]  # not changed in place


@pytest.mark.each_client("litellm")
def test_only_anthropic_calls_through_litellm_carry_cache_control(monkeypatch, openai_server):
    from pytest_moralpairs.llm import LiteLLMBackend

    backend = LiteLLMBackend()
    sent: list[dict[str, Any]] = []

    async def acompletion(**kwargs: Any) -> Any:
        sent.append(kwargs)
        raise RuntimeError("not sent")

    monkeypatch.setattr(backend.litellm, "acompletion", acompletion)
    messages = [{"role": r, "content": c} for r, c in DILLION_2023.messages("Person X fed a cat.")]
    import asyncio

    for model in ("anthropic/claude-3-5-haiku-latest", "openai/gpt-4o-mini"):
        with pytest.raises(RuntimeError):
            asyncio.run(backend.complete({"model": model, "messages": messages, "api_key": "k"}))
    anthropic, openai = (call["messages"][0]["content"] for call in sent)
    assert isinstance(anthropic, list) and anthropic[0]["cache_control"] == CACHE_CONTROL
    assert openai == messages[0]["content"]  # OpenAI caches a shared prefix by itself


def test_both_clients_read_the_version_fingerprint_and_cached_tokens_alike(pytester, openai_server):
    openai_server.served_model, openai_server.system_fingerprint, openai_server.cached_tokens = "m-1", "fp_1", 7
    write_pairs(pytester, *PAIRS[1:2])
    run(pytester, openai_server, *cache_args(pytester), "--moral-report=json:run.json")

    report = json.loads(Path(pytester.path / "run.json").read_text())
    assert report["usage"]["cached_tokens"] == 14
    served = report["served_models"][MODEL]
    assert list(served) == ["m-1"] and (served["m-1"]["cached"], served["m-1"]["fresh"]) == (0, 2)
    assert served["m-1"]["newest"] == pytest.approx(time.time(), abs=60)
    answers = ResponseCache(pytester.path / "cache" / FILE_NAME, mode="read")
    with sqlite3.connect(pytester.path / "cache" / FILE_NAME) as db:
        keys = [row[0] for row in db.execute("SELECT key FROM answers")]
    assert {(a.served_model, a.fingerprint) for a in answers.get_many(keys).values()} == {("m-1", "fp_1")}


def test_cached_prompt_tokens_are_read_from_openai_and_anthropic_usage_alike():
    from types import SimpleNamespace

    from pytest_moralpairs.llm import cached_prompt_tokens

    openai = SimpleNamespace(prompt_tokens=900, prompt_tokens_details=SimpleNamespace(cached_tokens=768))
    openai_dict = SimpleNamespace(prompt_tokens=900, prompt_tokens_details={"cached_tokens": 512})
    anthropic = SimpleNamespace(prompt_tokens=2100, prompt_tokens_details=None, cache_read_input_tokens=2048)
    nothing = SimpleNamespace(prompt_tokens=10)
    assert [cached_prompt_tokens(u) for u in (openai, openai_dict, anthropic, nothing)] == [768, 512, 2048, 0]
