"""Specification of provider batches (``--moral-batch``), against a local server with the files and
batches endpoints (``tests/batch_server.py``).

Every uncached call goes out as one OpenAI-format batch (its lines keyed by the response cache's
keys), the run polls it and caches its answers like any other; the batch is kept in the cache
folder until its answers are in the cache, so a run stopped meanwhile is picked up by the next one
without sending anything twice; the calls cost the batch price; a batch that fails or expires, and
a line that comes back as an error, make their pairs ERROR saying why.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from pytest_moralpairs import prices
from pytest_moralpairs.batches import BatchRecord, BatchStore, poll_waits
from pytest_moralpairs.prompt import rated_sentence
from pytest_moralpairs.report.progress import ProgressLine
from tests.batch_server import BatchServer
from tests.openai_server import Reply

#: litellm's own: it prices a finished batch with code Pydantic deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Accessing the .model_:DeprecationWarning")

MODEL = "openai/test-model"
PAIRS = 6
#: Pair i rates "harm {i % 3}" against "help {i}": three harmful sentences, each shared by two pairs.
SENTENCES = {f"harm {i % 3}" for i in range(PAIRS)} | {f"help {i}" for i in range(PAIRS)}


def rule(sentence: str, body: dict) -> str:
    return "-3" if sentence.startswith("harm") else "3"


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer(rule, polls=2) as running:
        yield running


@pytest.fixture
def suite(pytester: pytest.Pytester) -> list[str]:
    pairs: list[dict[str, Any]] = [
        {"id": f"p{i}", "harmful": f"harm {i % 3}", "harmless": f"help {i}"} for i in range(PAIRS)
    ]
    pytester.makefile(".moral.yaml", pairs=yaml.safe_dump({"version": 1, "pairs": pairs}, sort_keys=False))
    return [p["id"] for p in pairs]


def batch_args(server: BatchServer, *args: str, model: str = MODEL) -> list[str]:
    return [
        "--moral-model",
        model,
        "--moral-api-base",
        server.url,
        "--moral-batch",
        "--moral-batch-poll",
        "0.05",
        "--moral-retries",
        "0",
        *args,
    ]


def records(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / ".pytest_cache" / "d" / "moralpairs" / "batches").glob("*.json"))


def test_a_batch_run_rates_every_pair_through_one_batch_and_a_second_run_is_fully_cached(pytester, server, suite):
    result = pytester.runpytest(*batch_args(server))

    result.assert_outcomes(passed=PAIRS)
    assert server.created == ["batch_1"]
    assert server.count == 0  # no chat completion was asked one by one
    (lines,) = server.uploads
    assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    assert {line["body"]["model"] for line in lines} == {"test-model"}
    assert len(lines) == len({line["custom_id"] for line in lines}) == len(SENTENCES)
    assert records(pytester) == []  # its answers are in the cache: the record is gone

    again = pytester.runpytest(*batch_args(server))

    again.assert_outcomes(passed=PAIRS)
    assert server.created == ["batch_1"]
    again.stdout.fnmatch_lines(["*0 model calls*"])


def test_a_run_that_stops_waiting_leaves_its_batch_and_the_next_run_collects_it_without_sending_again(
    pytester, server, suite
):
    server.polls = 10_000  # never done while the first run waits

    first = pytester.runpytest(*batch_args(server, "--moral-batch-wait", "0.3"))

    first.assert_outcomes(errors=PAIRS)
    first.stdout.fnmatch_lines(
        ["*batch batch_1 is still in_progress (0/9 done) after * s (--moral-batch-wait); kept in the cache folder*"]
    )
    (record,) = records(pytester)
    assert json.loads(record.read_text())["id"] == "batch_1"

    server.polls = 0
    second = pytester.runpytest(*batch_args(server))

    second.assert_outcomes(passed=PAIRS)
    assert server.created == ["batch_1"]  # polled again, never sent again
    assert len(server.uploads) == 1
    assert records(pytester) == []


def test_a_killed_run_is_resumed_by_the_next_from_the_batch_kept_in_the_cache_folder(pytester, server, suite):
    server.polls = 10_000
    running = pytester.popen(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", *batch_args(server)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while server.retrievals == 0 and running.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.created == ["batch_1"] and server.retrievals > 0
    finally:
        running.kill()
        running.wait()
    assert len(records(pytester)) == 1

    server.polls = 0
    result = pytester.runpytest(*batch_args(server))

    result.assert_outcomes(passed=PAIRS)
    assert server.created == ["batch_1"]
    assert server.count == 0


def test_a_failed_batch_errors_every_pair_saying_so_and_the_next_run_sends_a_new_one(pytester, server, suite):
    server.outcome = "failed"

    result = pytester.runpytest(*batch_args(server))

    result.assert_outcomes(errors=PAIRS)
    result.stdout.fnmatch_lines(
        ["*batch batch_1 failed: the test server fails this batch; run again to send it in a new batch*"]
    )
    assert records(pytester) == []

    server.outcome = "completed"
    pytester.runpytest(*batch_args(server)).assert_outcomes(passed=PAIRS)
    assert server.created == ["batch_1", "batch_2"]


@pytest.mark.parametrize(
    ("outcome", "said"), [("expired", "before it expired"), ("cancelled", "before it was cancelled")]
)
def test_an_expired_or_cancelled_batch_keeps_the_lines_it_answered_and_the_next_run_sends_only_the_others(
    pytester, server, suite, outcome, said
):
    server.outcome, server.answered_before_end = outcome, 5

    result = pytester.runpytest(*batch_args(server))

    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) >= 1 and outcomes.get("errors", 0) + outcomes.get("passed", 0) == PAIRS
    result.stdout.fnmatch_lines([f"*did not answer this request {said}*run again to send it in a new batch*"])

    server.outcome = "completed"
    pytester.runpytest(*batch_args(server)).assert_outcomes(passed=PAIRS)
    first, second = server.uploads
    assert len(second) == len(first) - 5
    assert not {line["custom_id"] for line in second} & {line["custom_id"] for line in first[:5]}


def test_a_line_the_batch_answers_with_an_error_errors_only_its_pair(pytester, server, suite):
    server.answers = lambda sentence, body: (
        Reply.error(500, "no capacity") if sentence == "help 4" else rule(sentence, body)
    )

    result = pytester.runpytest(*batch_args(server))

    result.assert_outcomes(passed=PAIRS - 1, errors=1)
    result.stdout.fnmatch_lines(["*batch batch_1 answered this request with an error: HTTP 500: no capacity*"])


def test_batch_calls_cost_the_batch_price(pytester, server, suite):
    model = "openai/gpt-4o-mini"
    pytester.runpytest(*batch_args(server, "--moral-save", "batch.json", model=model)).assert_outcomes(passed=PAIRS)
    direct = [a for a in batch_args(server, model=model) if a != "--moral-batch"]
    direct += ["--moral-save", "direct.json", "--moral-cache", "off"]
    pytester.runpytest(*direct).assert_outcomes(passed=PAIRS)

    batch_usage = json.loads((pytester.path / "batch.json").read_text())["usage"]
    direct_usage = json.loads((pytester.path / "direct.json").read_text())["usage"]
    assert batch_usage["prompt_tokens"] == direct_usage["prompt_tokens"] > 0
    rates, batch_rates = prices.price("gpt-4o-mini"), prices.price("gpt-4o-mini", batch=True)
    assert batch_rates is not None and rates is not None and batch_rates[0] < rates[0]
    expected = batch_usage["prompt_tokens"] * batch_rates[0] + batch_usage["completion_tokens"] * batch_rates[2]
    assert batch_usage["cost"] == pytest.approx(expected) and batch_usage["cost"] < direct_usage["cost"]


def test_a_model_without_batch_prices_costs_half_its_price_in_a_batch(monkeypatch):
    table = {"plain-model": {"input_cost_per_token": 4e-6, "output_cost_per_token": 8e-6}}
    monkeypatch.setattr(prices, "_table", lambda: table)

    assert prices.price("plain-model", batch=True) == (2e-6, 2e-6, 4e-6)
    assert prices.cost(["plain-model"], 10, 5, batch=True) == pytest.approx(prices.cost(["plain-model"], 10, 5) / 2)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--moral-replay"], "--moral-batch sends batches, and --moral-replay sends nothing: use one of them"),
        (["--moral-cache", "off"], "--moral-batch keeps its batches and their answers in the response cache*"),
    ],
)
def test_batch_with_replay_or_without_a_cache_is_a_usage_error(pytester, server, suite, args, said):
    result = pytester.runpytest(*batch_args(server, *args))

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{said}*"])
    assert server.created == []


def test_under_n2_one_worker_sends_the_one_batch_and_the_other_waits_for_its_answers(pytester, server, suite):
    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest", "-n", "2", *batch_args(server), timeout=90)

    result.assert_outcomes(passed=PAIRS)
    assert server.created == ["batch_1"]
    assert server.count == 0
    (lines,) = server.uploads
    assert len(lines) == len(SENTENCES)


def test_calls_no_batch_can_carry_are_made_as_without_batches(pytester, server, suite):
    result = pytester.runpytest(*batch_args(server, model="moralpairs/lexical"))

    assert result.ret in (0, 1)
    assert server.created == [] and server.uploads == []


def test_a_refusal_in_the_batch_is_asked_once_more_in_a_second_batch(pytester, server, suite):
    asked: list[str] = []

    def refuse_once(sentence: str, body: dict) -> str:
        asked.append(sentence)
        return "I cannot rate this." if sentence == "help 2" and asked.count(sentence) == 1 else rule(sentence, body)

    server.answers = refuse_once

    result = pytester.runpytest(*batch_args(server))

    result.assert_outcomes(passed=PAIRS)
    assert server.created == ["batch_1", "batch_2"]
    (again,) = server.uploads[1]
    assert rated_sentence(again["body"]["messages"]) == "help 2"
    assert again["custom_id"] in {line["custom_id"] for line in server.uploads[0]}


def test_calls_made_after_the_first_item_go_one_by_one(pytester, server):
    pytester.makepyfile(
        test_fixture="""
        def test_rated_by_the_fixture(moral_rate):
            assert moral_rate("harm 9") < moral_rate("help 9")
        """
    )

    result = pytester.runpytest(*batch_args(server))

    result.assert_outcomes(passed=1)
    assert server.created == []
    assert sorted(server.sentences) == ["harm 9", "help 9"]


def test_a_server_without_the_batch_endpoints_errors_every_pair_saying_the_batch_could_not_be_sent(
    pytester, openai_server, suite
):
    openai_server.answers = rule

    result = pytester.runpytest(*batch_args(openai_server))

    result.assert_outcomes(errors=PAIRS)
    result.stdout.fnmatch_lines([f"*the batch could not be sent to {openai_server.url}: HTTP 404*"])
    assert openai_server.count == 0
    assert records(pytester) == []


def test_a_batch_record_is_written_whole_and_read_back(tmp_path):
    store = BatchStore(tmp_path / "batches")
    assert store.records() == [] and not store.active(within=60)
    record = BatchRecord(id="batch/1", input_file_id="file-1", base_url="http://x/v1", keys={"k": MODEL})

    store.save(record)
    (tmp_path / "batches" / "broken.json").write_text("{not json", encoding="utf-8")

    assert store.records() == [record]
    assert store.active(within=60)
    assert [p.name for p in (tmp_path / "batches").iterdir() if p.suffix == ".tmp"] == []
    store.remove(record.id)
    assert store.records() == []


def test_polls_wait_longer_each_time_up_to_ten_times_the_first():
    waits = poll_waits(30.0)
    first = [next(waits) for _ in range(10)]

    assert first[:3] == [30.0, 45.0, 67.5]
    assert first == sorted(first) and max(first) == 300.0


def test_each_model_gets_a_batch_of_its_own(pytester, server, suite, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)  # where the baseline model is asked too

    result = pytester.runpytest(*batch_args(server, "--moral-baseline-model", "openai/baseline-model"))

    result.assert_outcomes(passed=PAIRS)
    assert sorted(server.created) == ["batch_1", "batch_2"]
    models = sorted(sorted({line["body"]["model"] for line in upload}) for upload in server.uploads)
    assert models == [["baseline-model"], ["test-model"]]


def test_the_progress_line_shows_what_the_batch_is_doing():
    written: list[str] = []
    line = ProgressLine(written.append, tty=True, tick=None)

    line.note("moralpairs: batch batch_1 in_progress 120/500, waiting 30 s")
    line.note("moralpairs: batch batch_1 completed 500/500")
    line(0, 500)

    assert written[0] == "\rmoralpairs: batch batch_1 in_progress 120/500, waiting 30 s"
    assert written[1].startswith("\rmoralpairs: batch batch_1 completed 500/500")
    # The calls' count over the batch's line, padded so that nothing of it is left on screen.
    assert written[2].rstrip() == "\rmoralpairs: 0/500 model calls"
    assert len(written[2]) >= len("\rmoralpairs: batch batch_1 completed 500/500")


def test_under_n2_a_failed_batch_errors_the_pairs_of_every_worker_and_none_is_asked_one_by_one(pytester, server, suite):
    server.outcome = "failed"
    args = batch_args(server, "--moral-timeout", "1")  # the other worker waits 6 s at most for answers

    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest", "-n", "2", *args, timeout=90)

    result.assert_outcomes(errors=PAIRS)
    assert server.created == ["batch_1"]
    assert server.count == 0
