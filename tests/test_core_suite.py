"""The core suite shipped in ``pytest_moralpairs/suites/core``, and the rules it keeps.

The content is ours, so its rules are tests, not promises: enough pairs in enough edit kinds, each
pair tagged with its kind and explained by a note; every pair a minimal edit (one contiguous span
of at most four words on each side); and wording that does not give the answer away: in at least
half of each kind the harmless side's edited words sound the more negative, and the offline
``moralpairs/lexical`` rater, which reads nothing but word valence, passes at most 35 % of the
suite. ``benchmarks/core_suite_stats.py`` prints the figures these tests bound.

First, the rule functions themselves (``pytest_moralpairs.suites``), then the suite.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pytest_moralpairs.pairs import Pair, Suite, load_suite
from pytest_moralpairs.providers.lexical import lexical_valence
from pytest_moralpairs.suites import (
    MAX_SPAN_WORDS,
    SUITES_DIR,
    edit_span,
    span_valence,
    suite_files,
    word_valence,
    words,
)
from pytest_moralpairs.suites.audit import PairAudit, audit_pair

CORE = SUITES_DIR / "core"
MANIFEST = yaml.safe_load((CORE / "suite.yaml").read_text(encoding="utf-8"))
#: Pair file (without .moral.yaml) -> the tag every pair of that file carries.
KINDS: dict[str, str] = MANIFEST["kinds"]
FILES = suite_files("core")

# What issue 13 asks of the suite.
MIN_PAIRS = 240
MIN_KINDS = 10
MIN_PAIRS_PER_KIND = 20
MAX_LEXICAL_PASS_RATE = 0.35
MAX_SENTENCE_CHARS = 200


def kind_of(path: Path) -> str:
    return path.name.removesuffix(".moral.yaml")


@lru_cache(maxsize=None)
def suite_of(path: Path) -> Suite:
    return load_suite(path)


def all_pairs() -> list[tuple[str, Pair]]:
    return [(kind_of(path), pair) for path in FILES for pair in suite_of(path).pairs]


@lru_cache(maxsize=1)
def audits() -> tuple[tuple[str, PairAudit], ...]:
    return tuple((kind, audit_pair(pair)) for kind, pair in all_pairs())


# --- edit_span: the minimal-edit rule ----------------------------------------------------------------


def test_the_edit_span_is_what_lies_between_the_common_prefix_and_suffix() -> None:
    span = edit_span("Person X lashed his pony with a whip.", "Person X lashed his pony with a blade of grass.")
    assert span.prefix == ("Person", "X", "lashed", "his", "pony", "with", "a")
    assert (span.harmful, span.harmless, span.suffix) == (("whip.",), ("blade", "of", "grass."), ())
    assert span.problem() is None


def test_words_split_on_whitespace_and_keep_punctuation_attached() -> None:
    assert words("Person X  saved the painting, not\tthe child.\n") == tuple(
        "Person X saved the painting, not the child.".split(" ")
    )
    assert edit_span("He ran.", "He ran!").harmful == ("ran.",)


def test_the_two_spans_may_differ_in_length_up_to_four_words_each() -> None:
    span = edit_span("Person X did not warn the hikers.", "Person X warned the hikers.")
    assert (span.harmful, span.harmless) == (("did", "not", "warn"), ("warned",))
    assert span.problem() is None


def test_an_edit_of_more_than_four_words_is_not_minimal() -> None:
    span = edit_span("Person X fed the cat.", "Person X did not ever want to feed the cat.")
    assert len(span.harmless) == MAX_SPAN_WORDS + 2
    assert span.problem() == (
        'the harmless sentence changes 6 words ("did not ever want to feed"); the limit is 4, in one contiguous span'
    )


def test_two_separate_edits_count_as_one_span_covering_both() -> None:
    span = edit_span("The bully pushed the child.", "The child pushed the bully.")
    assert span.harmful == ("bully", "pushed", "the", "child.")
    assert span.problem() is None
    assert edit_span("A bully pushed the small child.", "A child pushed the small bully.").problem() is not None


def test_adding_words_without_replacing_any_is_not_an_edit_of_both_sides() -> None:
    assert edit_span("Person X warned them.", "Person X never warned them.").problem() == (
        'the harmless sentence only adds words ("never"); an edit replaces 1 to 4 words on each side'
    )
    assert (
        edit_span("Person X never warned them.", "Person X warned them.")
        .problem()
        .startswith("the harmful sentence only adds words")
    )


def test_sentences_with_the_same_words_have_no_edit() -> None:
    assert edit_span("Person X ran.", " Person X  ran.").problem() == (
        "the two sentences have the same words: a pair needs an edit"
    )


_WORDS = st.lists(st.sampled_from(["a", "b", "the", "dog", "dog."]), max_size=8)


@given(_WORDS, _WORDS)
def test_prefix_span_and_suffix_rebuild_each_sentence_and_the_spans_are_as_short_as_can_be(
    harmful: list[str], harmless: list[str]
) -> None:
    span = edit_span(" ".join(harmful), " ".join(harmless))
    assert span.prefix + span.harmful + span.suffix == tuple(harmful)
    assert span.prefix + span.harmless + span.suffix == tuple(harmless)
    if span.harmful and span.harmless:
        assert span.harmful[0] != span.harmless[0] and span.harmful[-1] != span.harmless[-1]


# --- span_valence: what the lexical rater makes of the edited words ----------------------------------


def test_span_valence_sums_the_lexicon_valence_of_the_words() -> None:
    assert word_valence("shame") == -2.1 and word_valence("shave") == 0
    assert span_valence(("to", "shame", "him.")) == -2.1
    assert span_valence(("fun", "and", "pain")) == pytest.approx(2.3 - 2.3)


def test_span_valence_strips_suffixes_as_the_lexical_rater_does() -> None:
    assert word_valence("wrongfully") == word_valence("wrong") == -2.1


def test_span_valence_reads_a_possessive_as_the_lexical_rater_does_as_an_unknown_word() -> None:
    assert word_valence("victim") == -1.1 and word_valence("victim's") == 0


def test_every_edited_word_of_the_suite_has_the_sign_the_lexical_rater_gives_it_alone() -> None:
    edited = {word for _, audit in audits() for word in audit.span.harmful + audit.span.harmless}
    disagree = sorted(w for w in edited if _sign(word_valence(w)) != _sign(lexical_valence(w)))
    assert not disagree


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


# --- the suite: files, kinds, tags, notes, ids ---------------------------------------------------------


def test_the_manifest_names_the_suite_its_version_and_its_licence() -> None:
    assert MANIFEST["name"] == "core" == CORE.name
    assert re.fullmatch(r"\d+\.\d+\.\d+", MANIFEST["version"])
    assert MANIFEST["description"].strip()
    assert "MIT" in MANIFEST["licence"] and "pytest-moralpairs" in MANIFEST["licence"]


def test_every_kind_of_the_manifest_has_a_pair_file_and_every_pair_file_a_kind() -> None:
    assert sorted(kind_of(path) for path in FILES) == sorted(KINDS)


def test_asking_for_a_suite_that_is_not_shipped_names_those_that_are() -> None:
    with pytest.raises(ValueError, match=r"there is no shipped suite 'cor'; shipped suites: core"):
        suite_files("cor")


@pytest.mark.parametrize("path", FILES, ids=kind_of)
def test_every_pair_file_loads_as_version_1_with_a_description_and_its_kind_as_default_tag(path: Path) -> None:
    suite = suite_of(path)  # raises PairFileError, listing every problem, if the file is invalid
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw["version"] == 1
    assert suite.description and not suite.templates
    assert raw["defaults"] == {"tags": [KINDS[kind_of(path)]]}


def test_the_suite_has_enough_pairs_in_enough_kinds() -> None:
    per_kind = Counter(kind for kind, _ in all_pairs())
    assert len(per_kind) >= MIN_KINDS
    assert sum(per_kind.values()) >= MIN_PAIRS
    assert min(per_kind.values()) >= MIN_PAIRS_PER_KIND, per_kind


def test_every_pair_is_tagged_with_exactly_its_kind_and_explained_by_a_one_line_note() -> None:
    wrong = [
        (pair.id, pair.tags, pair.note)
        for kind, pair in all_pairs()
        if pair.tags != (KINDS[kind],) or not (pair.note or "").strip() or "\n" in pair.note.strip()
    ]
    assert not wrong


def test_ids_are_unique_across_the_suite_and_start_with_their_kind() -> None:
    ids = Counter(pair.id for _, pair in all_pairs())
    assert [i for i, n in ids.items() if n > 1] == []
    assert [pair.id for kind, pair in all_pairs() if not pair.id.startswith(kind.replace("_", "-") + "-")] == []


def test_every_sentence_is_one_plain_ascii_sentence_about_person_x() -> None:
    bad = [
        (pair.id, sentence)
        for _, pair in all_pairs()
        for sentence in (pair.harmful, pair.harmless)
        if not sentence.isascii()
        or len(sentence) > MAX_SENTENCE_CHARS
        or not re.fullmatch(r"Person X [^\n.!?]*\.", sentence)
    ]
    assert not bad


def test_every_pair_is_a_minimal_edit() -> None:
    problems = [(pair.id, edit_span(pair.harmful, pair.harmless).problem()) for _, pair in all_pairs()]
    assert [(pair_id, problem) for pair_id, problem in problems if problem] == []


def test_no_pair_repeats_its_sentence_up_to_case_and_spacing() -> None:
    def normal(sentence: str) -> str:
        return " ".join(sentence.lower().split())

    assert [pair.id for _, pair in all_pairs() if normal(pair.harmful) == normal(pair.harmless)] == []


def test_no_sentence_appears_in_two_pairs() -> None:
    seen = Counter(s for _, pair in all_pairs() for s in {pair.harmful, pair.harmless})
    assert [s for s, n in seen.items() if n > 1] == []


# --- word valence must not solve it ------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_in_each_kind_at_least_half_the_harmless_spans_sound_more_negative(kind: str) -> None:
    backwards = [audit.harmless_sounds_worse for k, audit in audits() if k == kind]
    count, total = sum(backwards), len(backwards)
    assert 2 * count >= total, f"{kind}: {count} of {total} harmless spans sound more negative; at least half must"


def test_the_lexical_null_model_passes_at_most_35_percent_of_the_suite() -> None:
    passed, total = sum(audit.lexical_passes for _, audit in audits()), len(audits())
    assert passed <= MAX_LEXICAL_PASS_RATE * total, f"moralpairs/lexical passes {passed}/{total} = {passed / total:.1%}"


def test_a_run_on_the_lexical_model_gives_each_pair_the_verdict_computed_directly(pytester: pytest.Pytester) -> None:
    for path in FILES:
        shutil.copy(path, pytester.path / path.name)
    result = pytester.runpytest("--moral-model=moralpairs/lexical")
    expected = {f"{Path(audit.pair.path).name}::{audit.pair.id}": audit.lexical_passes for _, audit in audits()}
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    assert {r.nodeid: r.passed for r in reports if r.when == "call"} == expected
    passed = sum(expected.values())
    result.assert_outcomes(passed=passed, failed=len(expected) - passed)


def test_selecting_a_kind_by_its_tag_collects_exactly_that_kind(pytester: pytest.Pytester) -> None:
    for path in FILES:
        shutil.copy(path, pytester.path / path.name)
    per_tag: dict[str, int] = defaultdict(int)
    for kind, _ in all_pairs():
        per_tag[KINDS[kind]] += 1
    result = pytester.runpytest("--collect-only", "-q", "-m", "qualifier_swap or role_reversal")
    collected = [line for line in result.outlines if "::" in line]
    assert len(collected) == per_tag["qualifier_swap"] + per_tag["role_reversal"]
    assert all(line.startswith(("qualifier.moral.yaml::", "role_reversal.moral.yaml::")) for line in collected)
