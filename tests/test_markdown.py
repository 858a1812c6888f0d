"""The Markdown report (``--moral-report md:PATH``) and GitHub's job summary.

The report is what a pull request shows: the verdict, the pairs that did not pass with their
sentences, then every pair folded away. It is read here as GitHub reads it, rendered to HTML
(Python-Markdown with tables, as close to GitHub-flavoured Markdown as a test needs), and held to
GitHub's limit on a comment however large the suite.
"""

from __future__ import annotations

import json
import textwrap
from html.parser import HTMLParser
from typing import Any

import markdown
import pytest

from pytest_moralpairs.report.document import build_document
from pytest_moralpairs.report.markdown import LIMIT, length, render_markdown
from tests.mock_answers import MODEL, TRUTH, answers
from tests.test_baselines import LAKE_PASSES as ANSWERS
from tests.test_baselines import TWO_PAIRS
from tests.test_reports import pair_result

SUITE = "moral/everyday.moral.yaml"


def document(*results: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return build_document(results, {"model": "openai/gpt-4o-mini", **meta})


def passing(name: str, **extra: Any) -> dict[str, Any]:
    return pair_result(name, SUITE, [-3.0], [2.0], **extra)


def failing(name: str, **extra: Any) -> dict[str, Any]:
    return pair_result(name, SUITE, [-1.0], [0.0], **extra)


class Tables(HTMLParser):
    """The rendered report's tables (each a list of rows of cell texts), headings and details."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.headings: list[str] = []
        self.summaries: list[str] = []
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None
        self._summary: list[str] | None = None
        self.feed(to_html(text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif tag in ("h3", "h4"):
            self._heading = []
        elif tag == "summary":
            self._summary = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag in ("h3", "h4") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None
        elif tag == "summary" and self._summary is not None:
            self.summaries.append("".join(self._summary))
            self._summary = None

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._heading, self._summary):
            if part is not None:
                part.append(data)


def to_html(text: str) -> str:
    """The report as GitHub shows it, near enough: Markdown inside ``<details>`` is read too."""
    return markdown.markdown(text.replace("<details>", '<details markdown="1">'), extensions=["tables", "md_in_html"])


def rows(table: list[list[str]]) -> list[dict[str, str]]:
    head, *body = table
    return [dict(zip(head, row, strict=True)) for row in body]


# --- the layout ---------------------------------------------------------------------------------


def test_the_headline_says_the_verdict_the_counts_and_the_gate() -> None:
    gate = {"min_pass_rate": 0.9, "pass_rate": 0.5, "passed": False}
    text = render_markdown(document(passing("lake"), failing("grandmother"), gate=gate), exit_status=1)
    lines = text.splitlines()
    assert lines[0] == "### ❌ Moral pairs failed: `openai/gpt-4o-mini`"
    assert "- **2 pairs**: 1 passed, 1 failed, 0 inconclusive, 0 not rated; pass rate 50.0%" in lines
    assert "- **Gate**: **FAILED** (pass rate 50.0%, minimum 90.0%)" in lines
    assert any(line.startswith("- exit status 1 · ") for line in lines)


@pytest.mark.parametrize(
    ("status", "headline"),
    [
        (0, "### ✅ Moral pairs passed"),
        (1, "### ❌ Moral pairs failed"),
        (10, "### ⚠️ Moral pairs could not rate every pair"),
        (2, "### ⛔ Moral pairs stopped (interrupted, or the credentials were refused)"),
    ],
)
def test_the_headline_follows_the_exit_status(status: int, headline: str) -> None:
    assert render_markdown(document(passing("lake")), exit_status=status).startswith(headline + ": ")


def test_without_an_exit_status_the_headline_follows_the_counts_and_the_inconclusive_policy() -> None:
    unsure = pair_result("unsure", SUITE, [-1.0, -2.0], [0.0, 1.0], outcome="inconclusive")
    assert render_markdown(document(passing("lake"))).startswith("### ✅ Moral pairs passed")
    assert render_markdown(document(failing("grandmother"))).startswith("### ❌ Moral pairs failed")
    error = passing("waiter", outcome="error", gap=None, error="the call failed")
    assert render_markdown(document(passing("lake"), error)).startswith("### ⚠️ Moral pairs could not rate")
    assert render_markdown(document(unsure)).startswith("### ❌")
    assert render_markdown(document(unsure, settings={"inconclusive": "warn"})).startswith("### ✅")


def test_pairs_that_did_not_pass_come_first_with_both_sentences_ratings_gap_and_change() -> None:
    previous = {"gap": 4.0, "outcome": "passed", "prompt_hash": None, "personas": None}
    regressed = failing("elder", previous=previous, gap_change=-3.0, regressed=True)
    results = [passing("lake", previous=previous, gap_change=1.0), failing("grandmother", previous=None), regressed]
    text = render_markdown(document(*results, settings={"compare": "last-release.json", "compare_fail": 1}))
    page = Tables(text)
    assert page.headings[1] == "Did not pass (2)"
    first, everything = (rows(t) for t in page.tables)
    assert [r["pair"] for r in first] == [f"{SUITE}::elder", f"{SUITE}::grandmother"]  # regressed first
    assert first[0] == {
        "pair": f"{SUITE}::elder",
        "outcome": "❌ regressed",
        "harmful": "-1",
        "harmless": "0",
        "gap": "+1",
        "threshold": "2",
        "change": "-3 ▼",
        "sentences": "− Person X did the harmful thing of elder.\n+ Person X did the harmless thing of elder.",
    }
    assert first[1]["change"] == "new"
    assert page.summaries == ["All 3 pairs"]
    assert [r["pair"] for r in everything] == [f"{SUITE}::{n}" for n in ("elder", "grandmother", "lake")]
    assert "sentences" not in everything[0]
    assert "**Compared with** `last-release.json`: 2 of 3 pairs found, 1 regressed" in text


def test_a_run_where_every_pair_passed_shows_only_the_folded_table() -> None:
    page = Tables(render_markdown(document(passing("lake"), passing("waiter"))))
    assert len(page.tables) == 1 and page.summaries == ["All 2 pairs"]
    assert "change" not in page.tables[0][0]  # no --moral-compare, no change column


def test_a_pair_that_could_not_be_rated_shows_why() -> None:
    error = passing("waiter", outcome="error", gap=None, harmful_rating=None, error="the call failed: 503")
    (first, _) = (rows(t) for t in Tables(render_markdown(document(error))).tables)
    assert first[0]["outcome"] == "⚠️ not rated"
    assert first[0]["gap"] == "–"
    assert first[0]["sentences"].endswith("⚠️ the call failed: 503")


def test_the_baseline_models_gap_is_a_column_of_its_own() -> None:
    baseline = {"model": "moralpairs/lexical", "harmful_rating": 0.0, "harmless_rating": 1.0, "gap": 1.0}
    (table,) = Tables(render_markdown(document(passing("lake", baseline=baseline)))).tables
    assert rows(table)[0]["baseline gap"] == "+1"


# --- escaping -------------------------------------------------------------------------------------


TRICKY = "Person X wrote `rm -rf /` | <script>alert(1)</script> *loud* _quiet_ [link](http://x) ~gone~ $5 \\ & done."


def test_sentences_with_pipes_angle_brackets_and_backticks_show_as_typed() -> None:
    text = render_markdown(document(failing("tricky|id", harmful=TRICKY)))
    first = rows(Tables(text).tables[0])
    assert first[0]["pair"] == f"{SUITE}::tricky|id"
    assert first[0]["sentences"].split("\n")[0] == f"− {TRICKY}"
    assert "<script>" not in to_html(text)


def test_a_mention_in_a_sentence_mentions_nobody() -> None:
    text = render_markdown(document(failing("mention", harmful="Person X emailed @octocat about it.")))
    assert "@octocat" not in text
    sentence = rows(Tables(text).tables[0])[0]["sentences"].split("\n")[0]
    assert sentence.replace("\u2060", "") == "− Person X emailed @octocat about it."


def test_a_model_name_with_backticks_stays_one_code_span() -> None:
    text = render_markdown(build_document([passing("lake")], {"model": "odd`model"}))
    assert text.splitlines()[0].endswith(": ``odd`model``")


# --- the cap --------------------------------------------------------------------------------------


def large_suite(pairs: int, failing_every: int) -> dict[str, Any]:
    """``pairs`` pairs with long sentences and long ids; every ``failing_every``-th fails."""
    long = "Person X did something that takes many words to describe, " * 5
    results = []
    for i in range(pairs):
        make = failing if i % failing_every == 0 else passing
        results.append(make(f"pair-{i:05d}-" + "x" * 60, harmful=f"{long} #{i}", harmless=f"{long} (fine) #{i}"))
    return document(*results)


@pytest.mark.parametrize(("pairs", "failing_every"), [(20_000, 2), (5_000, 10_000), (400, 3)])
def test_the_report_stays_under_65000_characters_however_big_the_suite(pairs: int, failing_every: int) -> None:
    text = render_markdown(large_suite(pairs, failing_every), exit_status=1)
    assert length(text) <= LIMIT == 65_000
    page = Tables(text)
    shown = sum(len(t) - 1 for t in page.tables)
    cut = [line for line in text.splitlines() if "not shown" in line]
    counted = sum(int(line.split("… ")[1].split(" ")[0].replace(",", "")) for line in cut)
    attention = len(range(0, pairs, failing_every))
    if len(page.tables) == 2:  # both tables: together they account for every pair, shown or counted
        assert shown + counted == attention + pairs
    else:  # the failing pairs alone filled it: the table of every pair is left out, and says so
        assert shown + counted == attention
        assert "*The table of every pair is left out: the HTML and JSON reports hold it.*" in text


def test_a_character_beyond_the_basic_plane_counts_twice_toward_the_cap() -> None:
    assert length("a😀") == 3
    emoji = large_suite(2_000, 1)
    for pair in emoji["pairs"]:
        pair["harmful"] = "😀" * 250
    assert length(render_markdown(emoji)) <= LIMIT


# --- the plugin writes it -------------------------------------------------------------------------


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".moral.yaml", pairs=textwrap.dedent(TWO_PAIRS))
    answers(pytester, ANSWERS)
    return pytester


def test_a_run_writes_the_markdown_report(project: pytest.Pytester) -> None:
    result = project.runpytest("--moral-model", MODEL, "--moral-report=md:out/run.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["md report written to out/run.md"])
    text = (project.path / "out" / "run.md").read_text(encoding="utf-8")
    assert text.startswith(f"### ❌ Moral pairs failed: `{MODEL}`")
    assert [r["pair"] for r in rows(Tables(text).tables[0])] == ["pairs.moral.yaml::grandmother"]


def test_a_report_kind_that_does_not_exist_is_a_usage_error_naming_the_kinds(project: pytest.Pytester) -> None:
    result = project.runpytest("--moral-model", MODEL, "--moral-report=pdf:run.pdf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--moral-report must be json:PATH, html:PATH or md:PATH, got 'pdf:run.pdf'"])


def test_github_actions_job_summary_gets_the_report_appended(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = project.path / "summary.md"
    summary.write_text("## An earlier step's summary\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.runpytest("--moral-model", MODEL)
    result.stdout.fnmatch_lines(["Markdown report appended to the job summary (GITHUB_STEP_SUMMARY)"])
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## An earlier step's summary\n### ❌ Moral pairs failed")
    assert "- exit status 1 · " in text


@pytest.mark.parametrize("off", [["--moral-step-summary=off"], ["-o", "moral_step_summary=off"]])
def test_the_job_summary_can_be_turned_off(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, off: list[str]
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project.path / "summary.md"))
    result = project.runpytest("--moral-model", MODEL, *off)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert not (project.path / "summary.md").exists()
    assert "job summary" not in result.stdout.str()


def test_a_run_that_rated_no_pair_adds_nothing_to_the_job_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "summary.md"))
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    assert pytester.runpytest().ret == pytest.ExitCode.OK
    assert not (pytester.path / "summary.md").exists()


def test_a_job_summary_that_cannot_be_written_is_said_and_fails_nothing(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project.path))  # a folder
    answers(project, {**ANSWERS, TRUTH: "3"})
    result = project.runpytest("--moral-model", MODEL)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["could not append the Markdown report to the job summary (GITHUB_STEP_SUMMARY): *"])


def test_under_xdist_the_controller_appends_the_job_summary_once(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.runpytest_subprocess("--moral-model", MODEL, "-n", "2", "-p", "no:cacheprovider")
    text = summary.read_text(encoding="utf-8")
    assert text.count("### ❌ Moral pairs failed") == 1
    assert "All 2 pairs" in text


def test_the_markdown_of_a_saved_run_is_the_markdown_of_its_document(project: pytest.Pytester) -> None:
    project.runpytest("--moral-model", MODEL, "--moral-save=run.json", "--moral-report=md:run.md")
    saved = json.loads((project.path / "run.json").read_text(encoding="utf-8"))
    assert render_markdown(saved, exit_status=1) == (project.path / "run.md").read_text(encoding="utf-8")
