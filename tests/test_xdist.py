"""Specification of pair files under pytest-xdist (``pytest -n N``), against the local server.

Workers are separate processes sharing the response cache (or, when the cache keeps nothing, a store
of the run's own): each asks the model for its own share of the prompts (by cache key), in one
batch, and reads the others' answers as they arrive, so a prompt is asked for once however many
workers need it. ``--moral-concurrency`` is the run's limit, split across the workers. The
controller's summary covers every worker.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from tests.openai_server import OpenAIServer, Reply

MODEL = "openai/test-model"
PAIRS = 40
#: Pair i rates "harm {i % 10}" against "help {i}": ten harmful sentences, each shared by four pairs.
SENTENCES = {f"harm {i % 10}" for i in range(PAIRS)} | {f"help {i}" for i in range(PAIRS)}


def rule(sentence: str, body: dict) -> str:
    return "-3" if sentence.startswith("harm") else "3"


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.answers = rule
    return openai_server


@pytest.fixture
def suite(pytester: pytest.Pytester) -> list[str]:
    """Forty pairs sharing their harmful sentences; the pairs' ids."""
    pairs: list[dict[str, Any]] = [
        {"id": f"p{i}", "harmful": f"harm {i % 10}", "harmless": f"help {i}"} for i in range(PAIRS)
    ]
    pytester.makefile(".moral.yaml", pairs=yaml.safe_dump({"version": 1, "pairs": pairs}, sort_keys=False))
    return [p["id"] for p in pairs]


def moral_args(server: OpenAIServer, *args: str) -> list[str]:
    return ["--moral-model", MODEL, "--moral-api-base", server.url, "--moral-retries", "0", *args]


def run_n(pytester: pytest.Pytester, workers: int, *args: str) -> pytest.RunResult:
    """``pytest -n workers`` in a fresh process. Hypothesis's plugin is left out only because it
    imports Hypothesis in every worker at the end (seconds each); it has no part in these runs. A
    run that waits for answers nobody writes would hang for minutes: the timeout makes it fail."""
    return pytester.runpytest_subprocess("-p", "no:hypothesispytest", "-n", str(workers), *args, timeout=60)


def summary_rows(result: pytest.RunResult) -> dict[str, str]:
    """The moralpairs summary table: pair id -> its verdict."""
    rows = [line.split() for line in result.outlines if line.startswith("pairs.moral.yaml::")]
    return {row[0].split("::", 1)[1]: row[-1] for row in rows}


def test_n4_asks_the_model_once_per_unique_prompt_and_the_summary_covers_every_worker(pytester, server, suite):
    assert len(SENTENCES) == 50 < 2 * PAIRS

    result = run_n(pytester, 4, *moral_args(server))

    result.assert_outcomes(passed=PAIRS)
    assert len(server.sentences) == len(set(server.sentences)) == len(SENTENCES)
    assert set(server.sentences) == SENTENCES
    assert summary_rows(result) == dict.fromkeys(suite, "PASSED")
    # The calls of all four workers, added up by the controller.
    result.stdout.fnmatch_lines([f"{PAIRS} passed; {len(SENTENCES)} model calls*"])


def test_a_fully_cached_suite_under_n2_makes_no_request(pytester, server, suite):
    pytester.runpytest(*moral_args(server)).assert_outcomes(passed=PAIRS)
    server.reset()

    result = run_n(pytester, 2, *moral_args(server))

    result.assert_outcomes(passed=PAIRS)
    assert server.count == 0
    assert summary_rows(result) == dict.fromkeys(suite, "PASSED")
    result.stdout.fnmatch_lines([f"{PAIRS} passed; 0 model calls, * answers from the cache"])


@pytest.mark.parametrize("cache", ["off", "read"])
def test_with_a_cache_that_keeps_nothing_n2_still_asks_once_per_unique_prompt_in_one_batch(
    pytester, server, suite, cache, monkeypatch
):
    # The workers leave their answers for each other in the run's own store (in a temporary
    # folder the controller removes at the end), as they would in a cache they could write.
    monkeypatch.setenv("TMPDIR", str(pytester.mkdir("tmp")))
    server.latency = 0.2

    result = run_n(pytester, 2, *moral_args(server, f"--moral-cache={cache}", "--moral-concurrency", "8"))

    result.assert_outcomes(passed=PAIRS)
    assert sorted(server.sentences) == sorted(SENTENCES)
    assert server.max_in_flight == 8  # a batch: each worker keeps its half of the limit busy
    assert summary_rows(result) == dict.fromkeys(suite, "PASSED")
    result.stdout.fnmatch_lines([f"{PAIRS} passed; {len(SENTENCES)} model calls*"])
    result.stdout.no_fnmatch_line("*answers from the cache*")
    assert list((pytester.path / "tmp").iterdir()) == []
    assert not list(pytester.path.glob(".pytest_cache/d/moralpairs/*"))  # and no cache was written


CALLS_PER_WORKER = """
from pytest_moralpairs.stash import moral_run

def pytest_sessionfinish(session):
    worker = getattr(session.config, "workerinput", {}).get("workerid")
    if worker:
        calls = moral_run(session.config).engine.usage.calls
        (session.config.rootpath / f"calls-{worker}.txt").write_text(str(calls))
"""


@pytest.mark.parametrize("workers", [2, 3])
def test_the_workers_shares_of_the_first_batch_differ_by_one_call_at_most(pytester, server, suite, workers):
    # The run ends with the last share: a split by the keys' hash gave one worker waves of calls
    # more than another. Each worker deals the same sorted keys out in turn.
    pytester.makeconftest(CALLS_PER_WORKER)

    result = run_n(pytester, workers, *moral_args(server, "--moral-cache=off"))

    result.assert_outcomes(passed=PAIRS)
    calls = sorted(int(f.read_text()) for f in pytester.path.glob("calls-gw*.txt"))
    assert len(calls) == workers and sum(calls) == len(SENTENCES) == 50
    assert calls[-1] - calls[0] <= 1, calls


def test_moral_concurrency_is_the_limit_of_the_whole_run_split_across_workers(pytester, server, suite):
    server.latency = 0.2

    result = run_n(pytester, 4, *moral_args(server, "--moral-concurrency", "6"))

    result.assert_outcomes(passed=PAIRS)
    # 2 + 2 + 1 + 1, never more; all four at once unless a worker starts after another finished.
    assert 4 <= server.max_in_flight <= 6


@pytest.mark.parametrize("cache", ["readwrite", "off"])
def test_refused_credentials_under_n2_stop_the_run_with_one_message_and_no_crashed_worker(
    pytester, openai_server, suite, cache
):
    # Raised on a worker, the stop would read as Ctrl-C there: xdist would report a crash and
    # start new workers, each asking the model again.
    openai_server.answers = lambda sentence, body: Reply.error(401, "Incorrect API key provided")

    result = run_n(pytester, 2, *moral_args(openai_server, f"--moral-cache={cache}", "--moral-concurrency", "1"))

    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = "\n".join(result.outlines + result.errlines)
    result.stdout.fnmatch_lines(
        ["*Interrupted: moralpairs: the provider refused the credentials (HTTP 401 authentication: Incorrect API key*"]
    )
    assert "crashed while running" not in text and "Traceback" not in text and "keyboard-interrupt" not in text
    assert openai_server.count <= 2 * 2  # a call or two per worker before it knows, no restarts


def test_a_report_over_a_persona_file_under_n2_is_a_usage_error_before_any_call(pytester, server, suite):
    # Found by the workers, which collect: raised there it would crash them.
    (pytester.path / "voices.personas.yaml").write_text("personas: [a nurse, a farmer]\n", encoding="utf-8")
    pairs = pytester.path / "pairs.moral.yaml"
    pairs.write_text(
        pairs.read_text().replace("version: 1\n", "version: 1\ndefaults: {personas: voices.personas.yaml}\n")
    )

    result = run_n(pytester, 2, *moral_args(server, "--moral-report", "json:voices.personas.yaml"))

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-moralpairs: --moral-report json:voices.personas.yaml would overwrite*"])
    assert "INTERNALERROR" not in "\n".join(result.outlines + result.errlines)
    assert (pytester.path / "voices.personas.yaml").read_text() == "personas: [a nurse, a farmer]\n"
    assert server.count == 0


def test_a_provider_without_log_probs_under_n2_stops_the_run_naming_the_option(pytester, server, suite):
    result = run_n(pytester, 2, *moral_args(server, "--moral-scoring=logprobs"))

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*Interrupted: moralpairs: *returned no log-probabilities*use --moral-scoring=text*"])
    assert "crashed while running" not in "\n".join(result.outlines + result.errlines)


def test_with_a_read_only_cache_n2_asks_once_for_each_prompt_not_recorded(pytester, server, suite):
    # Only p0's sentences are recorded, and no worker may write the cache: the others' answers
    # travel through the run's own store (the default patience is minutes; see run_n).
    pytester.runpytest(*moral_args(server, "-k", "p0")).assert_outcomes(passed=1)
    server.reset()

    result = run_n(pytester, 2, *moral_args(server, "--moral-cache=read"))

    result.assert_outcomes(passed=PAIRS)
    assert sorted(server.sentences) == sorted(SENTENCES - {"harm 0", "help 0"})
    assert summary_rows(result) == dict.fromkeys(suite, "PASSED")


def test_in_replay_n2_reads_every_answer_and_asks_for_nothing(pytester, server, suite):
    pytester.runpytest(*moral_args(server)).assert_outcomes(passed=PAIRS)
    server.reset()

    result = run_n(pytester, 2, *moral_args(server, "--moral-replay"))

    result.assert_outcomes(passed=PAIRS)
    assert server.count == 0


def test_calls_of_a_worker_that_ran_no_pair_still_reach_the_summary(pytester, server):
    # Two pairs, four workers: some worker rates its share of the prompts but runs no pair, so no
    # test report carries its calls; they travel back when the worker shuts down.
    pytester.makefile(
        ".moral.yaml",
        pairs="pairs:\n"
        "  - {id: a, harmful: harm 1, harmless: help 1}\n"
        "  - {id: b, harmful: harm 2, harmless: help 2}\n",
    )

    result = run_n(pytester, 4, *moral_args(server))

    result.assert_outcomes(passed=2)
    assert server.count == 4
    result.stdout.fnmatch_lines(["2 passed; 4 model calls*"])


def test_under_n2_a_worker_runs_its_pairs_as_their_ratings_arrive_not_after_its_whole_share(pytester, server, suite):
    # Each worker's share is some 25 calls, one at a time at 0.2 s: its first pair runs once its
    # own two ratings are in, while its share is still being asked for, not after all of it.
    asked: list[float] = []

    def timed(sentence: str, body: dict) -> str:
        asked.append(time.time())
        return rule(sentence, body)

    server.answers = timed
    server.latency = 0.2
    pytester.makeconftest(
        """
        import time

        def pytest_runtest_teardown(item):
            with open(item.config.rootpath / "finished.txt", "a") as out:
                out.write(f"{time.time()}\\n")
        """
    )

    result = run_n(pytester, 2, *moral_args(server, "--moral-concurrency", "2", "--moral-cache=off"))

    result.assert_outcomes(passed=PAIRS)
    finished = [float(line) for line in (pytester.path / "finished.txt").read_text().split()]
    assert len(asked) == len(SENTENCES)
    assert min(finished) < sorted(asked)[len(asked) // 2]
