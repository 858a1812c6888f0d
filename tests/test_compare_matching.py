"""Specification of which saved pair ``--moral-compare`` compares each pair of this run with.

A pair is found in the saved run by its test id (``file::id``). A pair file moved to another
folder keeps its file's name, its pairs' ids and their sentences: a pair found that way is the
same pair. A pair of another file that only shares the file's name and the pair's id is another
pair, new to the comparison.

The offline word-valence rater rates every sentence, so no answer needs to be chosen.
"""

from __future__ import annotations

import textwrap

import pytest

LEXICAL = "moralpairs/lexical"
#: What the offline rater says of them: +4 between INSULT and THANK, 0 between PUSH and PULL.
INSULT, THANK = "I insulted the waiter.", "I thanked the waiter."
PUSH, PULL = "I pushed the child into the lake.", "I pulled the child out of the lake."


def pair_file(pytester: pytest.Pytester, path: str, harmful: str, harmless: str, pair_id: str = "waiter") -> None:
    target = pytester.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        textwrap.dedent(
            f"""
            pairs:
              - id: {pair_id}
                harmful: {harmful}
                harmless: {harmless}
            """
        )
    )


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Threshold 0: every pair here passes; only a regression against the saved run fails one.
    return pytester.runpytest(f"--moral-model={LEXICAL}", "--moral-cache=off", "--moral-threshold=0", *args)


def save(pytester: pytest.Pytester) -> None:
    run(pytester, "--moral-save=saved.json").assert_outcomes(passed=1)


def test_a_pair_of_another_folders_file_of_the_same_name_is_new_not_the_saved_pair(pytester: pytest.Pytester) -> None:
    pair_file(pytester, "a/pairs.moral.yaml", INSULT, THANK)
    save(pytester)
    pair_file(pytester, "b/pairs.moral.yaml", PUSH, PULL)
    result = run(pytester, "--moral-compare=saved.json", "--moral-compare-fail=1")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["compared with saved.json: 1 of 2 pairs found in the saved run"])
    result.stdout.re_match_lines([r"a/pairs\.moral\.yaml::waiter .* \+4 +0 .* PASSED$"])
    result.stdout.re_match_lines([r"b/pairs\.moral\.yaml::waiter .* new .* PASSED$"])
    result.stdout.no_fnmatch_line("*REGRESSED*")


def test_a_pair_file_moved_to_another_folder_is_still_the_saved_pair(pytester: pytest.Pytester) -> None:
    pair_file(pytester, "a/pairs.moral.yaml", INSULT, THANK)
    save(pytester)
    (pytester.path / "b").mkdir()
    (pytester.path / "a" / "pairs.moral.yaml").rename(pytester.path / "b" / "pairs.moral.yaml")
    result = run(pytester, "--moral-compare=saved.json")
    result.stdout.fnmatch_lines(["compared with saved.json: 1 of 1 pairs found in the saved run"])
    result.stdout.re_match_lines([r"b/pairs\.moral\.yaml::waiter .* \+4 +0 .* PASSED$"])


def test_a_moved_pair_whose_sentences_changed_is_new(pytester: pytest.Pytester) -> None:
    pair_file(pytester, "a/pairs.moral.yaml", INSULT, THANK)
    save(pytester)
    (pytester.path / "a" / "pairs.moral.yaml").unlink()
    pair_file(pytester, "b/pairs.moral.yaml", INSULT, "I tipped the waiter.")
    result = run(pytester, "--moral-compare=saved.json")
    result.stdout.fnmatch_lines(
        ["compared with saved.json: none of the 1 pairs is in the saved run, which holds 1 pair"]
    )


def test_moved_files_of_the_same_name_are_each_found_by_their_sentences(pytester: pytest.Pytester) -> None:
    pair_file(pytester, "a/pairs.moral.yaml", INSULT, THANK)
    pair_file(pytester, "b/pairs.moral.yaml", PUSH, PULL)
    run(pytester, "--moral-save=saved.json").assert_outcomes(passed=2)
    (pytester.path / "a").rename(pytester.path / "c")
    (pytester.path / "b").rename(pytester.path / "d")
    result = run(pytester, "--moral-compare=saved.json", "--moral-compare-fail=1")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["compared with saved.json: 2 of 2 pairs found in the saved run"])
    result.stdout.re_match_lines([r"c/pairs\.moral\.yaml::waiter .* \+4 +0 .* PASSED$"])
    result.stdout.re_match_lines([r"d/pairs\.moral\.yaml::waiter .* 0 +0 .* PASSED$"])
