"""``--moral-compare-fail`` against a saved run when both runs drew samples: the paired bootstrap.

With one sample per sentence the raw gaps are compared (tests/test_baselines.py). With samples in
both runs a pair regresses only when the whole interval of the change lies below -DELTA, and the
interval is shown in the failure, the summary and the JSON. The model is the local server, each
sentence's answers given in turn, so every run's samples are known exactly.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from pytest_moralpairs.stats import paired_gap_difference
from tests.openai_server import OpenAIServer
from tests.test_reasoning import validator
from tests.test_statistics import HELP, HURT, Cycled, pair_file, run

SAVED = {HURT: ["-3", "-2", "-3", "-2", "-3"], HELP: ["3", "2", "3", "2", "3"]}  # gap +5.2
#: Now: the gap is 1.2 lower (+4), more than the margin of 1, but within the noise of 5 samples.
NOISE = {HURT: ["-2", "-2", "-3", "-1", "-2"], HELP: ["2", "3", "1", "3", "1"]}
#: Now: the harmless sentence rated nearly like the harmful one (gap +1.4): a change of -3.8.
WORSE = {HURT: ["-3", "-3", "-2", "-3", "-3"], HELP: ["-1", "-2", "-1", "-1", "-2"]}


def saved_then(pytester: pytest.Pytester, server: OpenAIServer, now: dict[str, list[str]], *args: str):
    pair_file(pytester, threshold=0.5)
    server.answers = Cycled(SAVED)
    saved = run(pytester, server, "--moral-samples", "5", "--moral-save", "saved.json")
    saved.assert_outcomes(passed=1)
    server.answers = Cycled(now)
    return run(
        pytester,
        server,
        "--moral-samples",
        "5",
        "--moral-compare",
        "saved.json",
        "--moral-compare-fail",
        "1",
        "--moral-report",
        "json:now.json",
        *args,
    )


def pair_of(pytester: pytest.Pytester, name: str) -> dict:
    return json.loads(Path(pytester.path, name).read_text())["pairs"][0]


def test_a_drop_beyond_the_margin_within_the_noise_of_the_samples_does_not_fail(
    pytester: pytest.Pytester, openai_server: OpenAIServer
) -> None:
    result = saved_then(pytester, openai_server, NOISE)
    result.assert_outcomes(passed=1)
    pair = pair_of(pytester, "now.json")
    assert pair["gap_change"] == -1.2  # the raw gaps alone would have failed it
    assert pair["regressed"] is False
    assert pair["gap_change_low"] < -1.2 < pair["gap_change_high"]
    assert pair["gap_change_high"] >= -1.0


def test_a_real_regression_fails_with_the_interval_of_the_change(
    pytester: pytest.Pytester, openai_server: OpenAIServer
) -> None:
    result = saved_then(pytester, openai_server, WORSE, "--moral-report", "md:now.md")
    result.assert_outcomes(failed=1)
    pair = pair_of(pytester, "now.json")
    assert pair["regressed"] is True and pair["gap_change"] == -3.8
    low, high = pair["gap_change_low"], pair["gap_change_high"]
    assert low < -3.8 < high < -1.0
    shown = f"[{low:+.4g}, {high:+.4g}]"
    output = result.stdout.str()
    assert (
        "moral pair 'pony': gap dropped by 3.8 against the saved run (+5.2 -> +1.4): "
        f"its 95% interval of the change {shown} lies wholly below -1 (--moral-compare-fail), "
        "5 samples per sentence now, 5 then"
    ) in output
    assert f"-3.8 {shown} !" in output  # the summary's change column
    result.stdout.fnmatch_lines(["*pony*REGRESSED"])
    assert f"-3.8 {shown} ▼" in Path(pytester.path, "now.md").read_text()  # the Markdown report's change column


def test_the_interval_is_the_paired_bootstrap_of_the_saved_and_the_new_samples(
    pytester: pytest.Pytester, openai_server: OpenAIServer
) -> None:
    saved_then(pytester, openai_server, WORSE)
    now, before = pair_of(pytester, "now.json"), pair_of(pytester, "saved.json")
    assert before["harmful_samples"] and len(before["harmless_samples"]) == 5  # the saved run keeps them
    assert now["previous"]["samples"] == 5
    assert list(validator().iter_errors(json.loads(Path(pytester.path, "now.json").read_text()))) == []
    expected = paired_gap_difference(
        now["harmful_samples"],
        now["harmless_samples"],
        before["harmful_samples"],
        before["harmless_samples"],
        seed=zlib.crc32(f"{HURT}\x00{HELP}".encode()),  # seeded by the pair's sentences
    )
    assert (now["gap_change"], now["gap_change_low"], now["gap_change_high"]) == (
        expected.estimate,
        expected.low,
        expected.high,
    )


def test_one_sample_in_the_saved_run_compares_the_raw_gaps(
    pytester: pytest.Pytester, openai_server: OpenAIServer
) -> None:
    pair_file(pytester, threshold=0.5)
    openai_server.answers = Cycled(SAVED)
    run(pytester, openai_server, "--moral-save", "saved.json").assert_outcomes(passed=1)  # gap -3 -> +3: +6
    openai_server.answers = Cycled(NOISE)
    args = ("--moral-samples", "5", "--moral-compare", "saved.json", "--moral-compare-fail", "1")
    result = run(pytester, openai_server, *args, "--moral-report", "json:now.json")
    result.assert_outcomes(failed=1)
    pair = pair_of(pytester, "now.json")
    assert pair["regressed"] is True and pair["gap_change"] == -2.0
    assert pair["gap_change_low"] is None and pair["gap_change_high"] is None
    raw = "gap dropped by 2 against the saved run (+6 -> +4), more than --moral-compare-fail 1"
    result.stdout.fnmatch_lines([f"*{raw}"])
