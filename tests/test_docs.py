"""The docs a reader can walk: every command and every output shown in README.md and docs/*.md is
checked against a real run, so the docs cannot drift from the plugin.

The convention each fenced block follows (``sh`` commands, ``text`` output naming what printed it,
``yaml`` / ``python`` / ``ini`` files) is described in ``tests/docs_check.py`` and, for writers,
in ``docs/contributing.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests import docs_scenarios
from tests.docs_check import (
    PAGES,
    REPO,
    Block,
    DocCheckFailed,
    Runner,
    all_blocks,
    blocks,
    check_page,
    classify,
    earlier_files,
    known_ini_options,
    lexical_server_rule,
    make_project,
    producer,
    pytest_help,
    run_producer,
    unmatched,
)

README = REPO / "README.md"
SETUP_AND_MAIN_JOB = 'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/pytest examples'
TESTS = ".venv/bin/pytest"

OUTPUTS = [b for b in all_blocks() if b.lang in ("text", "csv") and b.marker.startswith("output:")]

#: Output of each producer, run once per test session (the example suite takes seconds).
_printed: dict[tuple[str, ...], str] = {}


@pytest.fixture
def runner(pytester: pytest.Pytester, openai_server, monkeypatch: pytest.MonkeyPatch) -> Runner:
    # As in CI: generated pairs draw the same examples every run. 80 columns, as a log has.
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("COLUMNS", "80")
    openai_server.answers = lexical_server_rule
    return Runner(pytester, openai_server, monkeypatch)


def fake_page(tmp_path: Path, text: str) -> list[Block]:
    page = tmp_path / "fake.md"
    page.write_text(text, encoding="utf-8")
    return blocks(page, "fake.md")


# --- the pages ----------------------------------------------------------------------------------


def test_every_block_of_every_page_follows_the_docs_convention() -> None:
    for block in all_blocks():
        classify(block)  # raises, naming the page and line, for a block no rule covers


@pytest.mark.parametrize("page", PAGES)
def test_the_commands_scripts_and_files_of_each_page_run(page: str, runner: Runner) -> None:
    make_project(runner.pytester.path)
    check_page(blocks(REPO / page, page), runner)


@pytest.mark.parametrize("block", OUTPUTS, ids=[b.where for b in OUTPUTS])
def test_each_output_block_is_what_a_real_run_prints(block: Block, runner: Runner) -> None:
    name, files = producer(block), earlier_files(block)
    key = (name, *(f.where for f in files))
    if key not in _printed:
        _printed[key] = run_producer(name, runner, docs_scenarios.SCENARIOS, tuple(files))
    problem = unmatched(block.text, _printed[key])
    if problem:
        pytest.fail(f"{block.where}: {problem}\n--- `{name}` printed:\n{_printed[key]}", pytrace=False)


def test_every_scenario_is_shown_by_some_output_block() -> None:
    shown = {producer(b)[len("scenario ") :] for b in OUTPUTS if producer(b).startswith("scenario ")}
    assert shown == set(docs_scenarios.SCENARIOS)


# --- the README and the site ----------------------------------------------------------------------


def test_the_readme_is_the_front_door_of_at_most_12000_characters() -> None:
    assert len(README.read_text(encoding="utf-8")) <= 12_000


def test_the_readme_shows_the_two_commands_exactly_and_ci_ends_with_the_test_command() -> None:
    commands = [b.text.strip() for b in blocks(README, "README.md") if b.lang == "sh"]
    assert commands[:2] == [SETUP_AND_MAIN_JOB, TESTS]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == TESTS


def _links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _section(path: Path, heading: str) -> str:
    text = path.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return text


def test_the_readme_links_resolve_and_its_contents_mirror_the_docs_home() -> None:
    for link in _links(README.read_text(encoding="utf-8")):
        if not link.startswith(("http://", "https://", "#")):
            assert (REPO / link.split("#")[0]).exists(), link
    documentation = _links(_section(README, "Documentation"))
    readme = [link.removeprefix("docs/") for link in documentation if link != "docs/index.md"]
    home = _links(_section(REPO / "docs" / "index.md", "Contents"))
    assert readme == home
    assert sorted(home) == sorted(p.name for p in (REPO / "docs").glob("*.md") if p.name != "index.md")


def test_the_site_navigation_lists_every_docs_page_once() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(entries: list) -> list[str]:
        found = []
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            found += pages(value) if isinstance(value, list) else [value]
        return found

    listed = pages(config["nav"])
    assert sorted(listed) == sorted(p.name for p in (REPO / "docs").glob("*.md"))
    assert len(listed) == len(set(listed))


# --- the checker can fail -------------------------------------------------------------------------


def test_a_misspelt_option_in_a_command_fails_the_check(tmp_path: Path, runner: Runner) -> None:
    page = fake_page(tmp_path, "```sh\npytest examples --moral-modle=moralpairs/lexical\n```\n")
    make_project(runner.pytester.path)
    with pytest.raises(DocCheckFailed, match="fake.md:2: .*exited 4"):
        check_page(page, runner)


def test_a_bad_option_value_fails_even_where_the_command_is_only_collected(tmp_path: Path, runner: Runner) -> None:
    page = fake_page(tmp_path, "```sh\npytest moral/ --moral-model=anthropic/claude --moral-temperature=hot\n```\n")
    make_project(runner.pytester.path)
    with pytest.raises(DocCheckFailed, match="exited 4"):
        check_page(page, runner)


def test_a_command_no_check_knows_fails(tmp_path: Path, runner: Runner) -> None:
    page = fake_page(tmp_path, "```sh\ncurl https://example.invalid\n```\n")
    with pytest.raises(DocCheckFailed, match="no check knows the command"):
        check_page(page, runner)


def test_an_output_line_the_run_does_not_print_fails() -> None:
    printed = "pair  verdict\npony  FAILED\nelder PASSED\n"
    assert unmatched("pony  FAILED\nelder PASSED\n", printed) is None
    assert unmatched("pony  *\n...\nelder PASSED\n", printed) is None
    assert "pony  PASSED" in unmatched("pony  PASSED\n", printed)  # type: ignore[operator]
    assert unmatched("pair  verdict\nelder PASSED\n", printed) is not None  # not consecutive, no "..."
    assert unmatched("", printed) is not None


def test_an_invalid_pair_file_block_fails(tmp_path: Path, runner: Runner) -> None:
    page = fake_page(tmp_path, "```yaml\npairs:\n  - id: a\n    harmful: x\n    harmles: y\n```\n")
    with pytest.raises(DocCheckFailed, match="not a valid pair file"):
        check_page(page, runner)


def test_a_text_block_that_names_no_producer_fails(tmp_path: Path) -> None:
    (block,) = fake_page(tmp_path, "```text\n7 passed\n```\n")
    with pytest.raises(DocCheckFailed, match="needs <!-- output"):
        classify(block)


def test_an_output_block_naming_an_unknown_scenario_fails(tmp_path: Path, runner: Runner) -> None:
    (block,) = fake_page(tmp_path, "<!-- output: scenario nowhere -->\n```text\n7 passed\n```\n")
    with pytest.raises(DocCheckFailed, match="no 'scenario nowhere'"):
        run_producer(producer(block), runner, docs_scenarios.SCENARIOS)


def test_every_option_pytest_lists_is_in_the_options_page() -> None:
    # A new option is documented where a user looks for options, or this fails.
    page = (REPO / "docs" / "options.md").read_text(encoding="utf-8")
    flags = set(re.findall(r"(--moral-[a-z-]+)", pytest_help()))
    missing = sorted(name for name in flags | known_ini_options() if f"`{name}" not in page)
    assert len(flags) > 20 and not missing, f"docs/options.md does not name {missing}"
