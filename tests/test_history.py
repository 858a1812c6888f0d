"""The run history (``--moral-history DIR``): each run kept with its commit, an index that two
writers at once cannot break, ``--moral-compare last[:MODEL]``, the HTML report's trend, and
``python -m pytest_moralpairs history DIR``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_moralpairs.history import (
    HistoryError,
    read_history,
    record_run,
    trend,
)
from pytest_moralpairs.report.document import build_document, load_document
from pytest_moralpairs.report.html import render_html
from tests.mock_answers import HELP, HURT, LIE, MODEL, TRUTH, answers
from tests.test_baselines import TWO_PAIRS
from tests.test_reports import Page, pair_result

SUITE = "moral/everyday.moral.yaml"


def run_document(created: str, model: str = "openai/gpt-4o-mini", **gaps: float) -> dict[str, Any]:
    """A run document made at ``created`` whose pairs have these gaps (threshold 2)."""
    results = [pair_result(name, SUITE, [-2.0], [-2.0 + gap]) for name, gap in gaps.items()]
    suites = [{"name": "core", "version": "1.0.0", "sha256": "ab" * 32, "source": "built-in"}]
    return build_document(results, {"model": model, "created": created, "moral_suites": suites})


# --- the folder -------------------------------------------------------------------------------------


def test_a_run_is_kept_as_its_document_with_the_commit_and_listed_in_the_index(tmp_path: Path) -> None:
    document = run_document("2025-06-01T10:00:00Z", lake=4.0, waiter=1.0)
    path, entry = record_run(tmp_path / "history", document, git="a" * 40)
    assert path == tmp_path / "history" / "runs" / "20250601T100000Z-openai-gpt-4o-mini.json"
    kept = load_document(path)
    assert kept["git"] == "a" * 40
    assert kept["pairs"] == document["pairs"] and kept["moral_suites"] == document["moral_suites"]
    index = json.loads((tmp_path / "history" / "index.json").read_text(encoding="utf-8"))
    assert index["format"] == "moralpairs-history" and index["version"] == 1
    assert index["runs"] == [
        {
            "file": "runs/20250601T100000Z-openai-gpt-4o-mini.json",
            "created": "2025-06-01T10:00:00Z",
            "model": "openai/gpt-4o-mini",
            "suites": [{"name": "core", "version": "1.0.0", "sha256": "ab" * 32}],
            "totals": document["totals"],
            "pass_rate": 0.5,
            "git": "a" * 40,
        }
    ]
    assert entry.pass_rate == 0.5


def test_two_runs_of_one_model_in_the_same_second_are_both_kept(tmp_path: Path) -> None:
    for gap in (4.0, 1.0):
        record_run(tmp_path, run_document("2025-06-01T10:00:00Z", lake=gap))
    entries = read_history(tmp_path)
    assert [e.file for e in entries] == [
        "runs/20250601T100000Z-openai-gpt-4o-mini.json",
        "runs/20250601T100000Z-openai-gpt-4o-mini_2.json",  # the newer of the two
    ]
    assert [e.totals["passed"] for e in entries] == [1, 0]


WRITER = """
import sys
from pytest_moralpairs.history import record_run
from tests.test_history import run_document

for i in range(5):
    record_run(sys.argv[1], run_document(f"2025-06-01T10:00:0{i}Z", model=f"model-{sys.argv[2]}", lake=float(i)))
"""


def test_writers_at_the_same_time_each_end_up_in_the_index(tmp_path: Path) -> None:
    # Four CI jobs sharing one folder, each adding five runs while the others do.
    root = Path(__file__).parent.parent
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n)], cwd=root, stderr=subprocess.PIPE)
        for n in range(4)
    ]
    for writer in writers:
        assert writer.wait(timeout=120) == 0, writer.stderr.read().decode() if writer.stderr else ""
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert len(index["runs"]) == len(list((tmp_path / "runs").glob("*.json"))) == 20
    assert not (tmp_path / ".index.lock").exists()


def test_a_lost_or_broken_index_is_made_again_from_the_run_files(tmp_path: Path) -> None:
    record_run(tmp_path, run_document("2025-06-01T10:00:00Z", lake=4.0))
    (tmp_path / "index.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(HistoryError, match="not a run history index"):
        read_history(tmp_path)
    record_run(tmp_path, run_document("2025-06-02T10:00:00Z", lake=3.0))
    assert [e.created for e in read_history(tmp_path)] == ["2025-06-01T10:00:00Z", "2025-06-02T10:00:00Z"]


def test_an_index_from_a_newer_release_asks_for_an_upgrade(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text('{"format": "moralpairs-history", "version": 9, "runs": []}')
    with pytest.raises(HistoryError, match="index version 9.*upgrade"):
        read_history(tmp_path)


def test_the_trend_is_each_pairs_gap_over_the_models_last_runs_this_run_last(tmp_path: Path) -> None:
    for day, gap in enumerate([5.0, 4.0, 3.0, 2.5], start=1):
        record_run(tmp_path, run_document(f"2025-06-0{day}T10:00:00Z", lake=gap, waiter=1.0))
    record_run(tmp_path, run_document("2025-06-03T12:00:00Z", model="other", lake=-8.0))
    now = run_document("2025-06-09T10:00:00Z", lake=2.0, elder=3.0)
    found = trend(tmp_path, now, runs=3)
    assert [r["created"] for r in found.runs] == ["2025-06-03T10:00:00Z", "2025-06-04T10:00:00Z", now["created"]]
    assert found.gaps == {f"{SUITE}::lake": [3.0, 2.5, 2.0], f"{SUITE}::elder": [None, None, 3.0]}
    assert found.outcomes[f"{SUITE}::lake"] == ["passed", "passed", "passed"]


# --- the plugin ---------------------------------------------------------------------------------------


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".moral.yaml", pairs=textwrap.dedent(TWO_PAIRS))
    return pytester


def rate(project: pytest.Pytester, grandmother_truth: str, *args: str) -> pytest.RunResult:
    answers(project, {HURT: "-3", HELP: "3", LIE: "-1", TRUTH: grandmother_truth})
    return project.runpytest("--moral-model", MODEL, "-p", "no:cacheprovider", "--moral-cache=off", *args)


def test_a_run_with_a_history_folder_is_added_to_it_with_the_commit_checked_out(project: pytest.Pytester) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project.path, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"],
        cwd=project.path,
        check=True,
    )
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project.path, capture_output=True, text=True).stdout
    result = rate(project, "0", "--moral-history=moral-history")
    result.stdout.fnmatch_lines(["run added to the history moral-history (runs/*-openai-mock-model.json)"])
    (entry,) = read_history(project.path / "moral-history")
    assert entry.git == head.strip()
    assert entry.model == MODEL and entry.totals["pairs"] == 2


def test_compare_last_compares_with_the_newest_run_of_the_model(project: pytest.Pytester) -> None:
    rate(project, "3", "--moral-history=h")  # grandmother +4
    rate(project, "2", "--moral-history=h")  # +3: the newest
    result = rate(project, "0", "--moral-history=h", "--moral-compare=last", "--moral-compare-fail=1")
    (newest, _) = [e.file for e in read_history(project.path / "h")][1:]
    result.stdout.fnmatch_lines(
        ["*grandmother*-1*0*+1*-2 !*REGRESSED", f"compared with h/{newest}: 2 of 2 pairs found*"]
    )
    same = rate(project, "1", "--moral-history=h", f"--moral-compare=last:{MODEL}")
    same.stdout.fnmatch_lines(["compared with h/runs/*: 2 of 2 pairs found*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--moral-compare=last"], "*--moral-compare last compares with a run of the history: name it with*"),
        (
            ["--moral-compare=last", "--moral-history=none"],
            "*--moral-compare last: no run history in none (a run with --moral-history none starts one)",
        ),
        (
            ["--moral-compare=last:openai/other", "--moral-history=h"],
            f"*--moral-compare last:openai/other: the history h has no run of openai/other: it holds runs of {MODEL}",
        ),
    ],
)
def test_compare_last_without_such_a_run_is_a_usage_error(
    project: pytest.Pytester, args: list[str], message: str
) -> None:
    rate(project, "3", "--moral-history=h")
    result = rate(project, "3", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_run_stopped_early_is_not_added_to_the_history(project: pytest.Pytester) -> None:
    result = rate(project, "0", "--moral-history=h", "-x")
    result.stdout.fnmatch_lines(["the run was not added to the history h: it stopped early*"])
    assert not (project.path / "h").exists()


def test_under_xdist_the_controller_adds_the_run_once(project: pytest.Pytester) -> None:
    answers(project, {HURT: "-3", HELP: "3", LIE: "-1", TRUTH: "0"})
    args = ("--moral-model", MODEL, "-n", "2", "-p", "no:cacheprovider", "--moral-history=h")
    result = project.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (entry,) = read_history(project.path / "h")
    assert entry.totals["pairs"] == 2


def test_the_html_report_draws_each_pairs_gap_over_the_last_runs(project: pytest.Pytester) -> None:
    for truth in ("3", "2", "1", "0"):
        rate(project, truth, "--moral-history=h", "--moral-history-runs=3", "--moral-report=html:r.html")
    page = Page((project.path / "r.html").read_text(encoding="utf-8"))
    assert "trend" in page.columns
    html = (project.path / "r.html").read_text(encoding="utf-8")
    assert html.count('<svg class="spark"') == 3  # a line per pair, and the pass rate's
    assert "The last 3 runs of <code>openai/mock-model</code> in <code>h</code>" in html
    assert "gap in the last runs, oldest first: +3, +2, +1" in html  # grandmother, this run last


def test_a_history_folder_that_cannot_be_written_fails_the_run_and_says_so(project: pytest.Pytester) -> None:
    (project.path / "h").write_text("a file, not a folder", encoding="utf-8")
    result = rate(project, "3", "--moral-history=h")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["could not add the run to the history h: *"])


# --- in a browser: the trend drawn ------------------------------------------------------------------


def test_in_a_browser_the_trend_lines_are_drawn(tmp_path: Path, browser: Callable[..., Any]) -> None:
    for day, gap in enumerate([5.0, 4.0, 3.0, 1.0], start=1):
        record_run(tmp_path / "h", run_document(f"2025-06-0{day}T10:00:00Z", lake=gap, waiter=gap - 1))
    now = run_document("2025-06-09T10:00:00Z", lake=0.5, waiter=3.0)
    path = tmp_path / "report.html"
    path.write_text(render_html(now, trend(tmp_path / "h", now, runs=5)), encoding="utf-8")
    dom = browser("--dump-dom", path.as_uri()).stdout
    page = Page(dom)
    assert "trend" in page.columns and len(page.rows) == 2
    assert dom.count('class="spark-dot') == 3 * 5  # five runs, for two pairs and the pass rate


# --- the command line ---------------------------------------------------------------------------------


def history_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_moralpairs", "history", *args], capture_output=True, text=True, timeout=60
    )


def test_the_history_command_lists_the_runs_and_the_pass_rate_over_time_per_model(tmp_path: Path) -> None:
    record_run(tmp_path, run_document("2025-06-01T10:00:00Z", lake=4.0, waiter=1.0), git="0123456789ab" + "0" * 28)
    record_run(tmp_path, run_document("2025-06-02T10:00:00Z", model="moralpairs/lexical", lake=1.0))
    record_run(tmp_path, run_document("2025-06-03T10:00:00Z", lake=4.0, waiter=3.0))
    done = history_command(str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"3 runs in {tmp_path}",
        "",
        "created               model               suites      git           pairs  passed  failed  inconclusive"
        "  errors  pass rate",
        "2025-06-01T10:00:00Z  openai/gpt-4o-mini  core 1.0.0  0123456789ab  2      1       1       0"
        "             0       50.0%",
        "2025-06-02T10:00:00Z  moralpairs/lexical  core 1.0.0  -             1      0       1       0"
        "             0       0.0%",
        "2025-06-03T10:00:00Z  openai/gpt-4o-mini  core 1.0.0  -             2      2       0       0"
        "             0       100.0%",
        "",
        "pass rate over time",
        "created               moralpairs/lexical  openai/gpt-4o-mini",
        "2025-06-01T10:00:00Z                      50.0%",
        "2025-06-02T10:00:00Z  0.0%",
        "2025-06-03T10:00:00Z                      100.0%",
    ]


def test_the_history_command_filters_by_model_and_keeps_the_last_runs(tmp_path: Path) -> None:
    for day in (1, 2, 3):
        record_run(tmp_path, run_document(f"2025-06-0{day}T10:00:00Z", lake=4.0))
    record_run(tmp_path, run_document("2025-06-04T10:00:00Z", model="moralpairs/lexical", lake=4.0))
    done = history_command(str(tmp_path), "--model", "openai/gpt-4o-mini", "--last", "2")
    assert done.stdout.splitlines()[0] == f"2 runs of openai/gpt-4o-mini in {tmp_path}"
    assert "2025-06-01" not in done.stdout and "2025-06-03T10:00:00Z" in done.stdout


def test_the_history_command_on_a_folder_without_history_says_so(tmp_path: Path) -> None:
    done = history_command(str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "no run history in" in done.stderr
