"""Pair files: YAML -> validated pairs, and the problems reported for everything else.

Specifications of ``pytest_moralpairs.pairs`` alone (no pytest run), and of the JSON Schema
that describes the same format to editors; at the end, a few runs through ``pytester`` of files
the fuzz audit found, each beside a good file it must not stop.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import textwrap
import threading
import tracemalloc
from dataclasses import FrozenInstanceError
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from pytest_moralpairs import pairs as pairs_module
from pytest_moralpairs import source as source_module
from pytest_moralpairs import yamlfile
from pytest_moralpairs.pairs import (
    HumanRating,
    Pair,
    PairChecker,
    PairFileError,
    Problem,
    Suite,
    TemplatePair,
    load_suite,
    parse_suite,
)
from pytest_moralpairs.personas import files as persona_files
from pytest_moralpairs.presets import PRESETS
from pytest_moralpairs.prompt import BUILTIN_PROMPTS, DILLION_2023, PromptTemplate
from pytest_moralpairs.validation import Cell, Record

FILE = "suite.moral.yaml"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LONG = "x" * 100_000
#: A whole number of 401 digits: YAML reads it as an int, and no float holds it.
HUGE = "1" + "0" * 400


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def load(text: str | bytes) -> Suite:
    return parse_suite(text, FILE)


def problems_of(text: str | bytes) -> list[Problem]:
    with pytest.raises(PairFileError) as caught:
        parse_suite(text, FILE)
    return caught.value.problems


def message_of(text: str | bytes) -> str:
    with pytest.raises(PairFileError) as caught:
        parse_suite(text, FILE)
    return str(caught.value)


def pair_doc(*extra: str, top: str = "") -> str:
    """One good pair (id ``p``, from line 2) plus ``extra`` lines of it, from line 5 on."""
    lines = ["pairs:", "  - id: p", "    harmful: Person X kicked the dog.", "    harmless: Person X fed the dog."]
    lines += [f"    {line}" for line in extra]
    return top + "\n".join(lines) + "\n"


GOOD = pair_doc()


def template_doc(*slot_lines: str, decides: str = "tool") -> str:
    """A template pair (id ``t``, from line 2) deciding by ``tool``, with ``slot_lines`` in its
    'slots' (from line 6 on)."""
    lines = ["pairs:", "  - id: t", "    template: 'Person X cleaned his car with {tool}.'", f"    decides: {decides}"]
    lines += ["    slots:"] + [f"      {line}" for line in slot_lines]
    return "\n".join(lines) + "\n"


#: The slot ``tool`` of a template pair: its name on line 6, its sides on lines 7 and 8.
TOOL = ("tool:", "  harmful: [a hammer]", "  harmless: [a sponge]")


# --- what a valid file gives -------------------------------------------------------------


def test_a_pair_needs_only_an_id_and_two_sentences():
    (pair,) = load(GOOD).pairs
    assert pair == Pair(id="p", harmful="Person X kicked the dog.", harmless="Person X fed the dog.", path=FILE, line=2)


def test_the_suite_carries_the_file_name_and_its_description():
    suite = load("description: Kicks and feeds\n" + GOOD)
    assert (suite.path, suite.description) == (FILE, "Kicks and feeds")


def test_pairs_keep_the_order_of_the_file():
    text = doc(
        """
        pairs:
          - {id: b, harmful: one, harmless: two}
          - {id: a, harmful: one, harmless: two}
          - {id: c, harmful: one, harmless: two}
        """
    )
    assert [p.id for p in load(text).pairs] == ["b", "a", "c"]


def test_a_pair_remembers_the_line_it_starts_on():
    text = GOOD + "  - {id: q, harmful: one, harmless: two}\n"
    assert [p.line for p in load(text).pairs] == [2, 5]


def test_surrounding_whitespace_of_sentences_is_dropped():
    (pair,) = load(doc('pairs:\n  - {id: p, harmful: "  one \\n", harmless: "\\ttwo"}\n')).pairs
    assert (pair.harmful, pair.harmless) == ("one", "two")


def test_a_folded_multi_line_sentence_becomes_one_line():
    text = doc(
        """
        pairs:
          - id: p
            harmful: >
              Person X kicked
              the dog.
            harmless: Person X fed the dog.
        """
    )
    assert load(text).pairs[0].harmful == "Person X kicked the dog."


def test_ids_may_use_letters_digits_dots_dashes_and_underscores():
    text = pair_doc().replace("id: p", "id: 2023.pony-whip_v2")
    assert load(text).pairs[0].id == "2023.pony-whip_v2"


def test_version_1_may_be_given_or_left_out():
    assert [p.id for p in load("version: 1\n" + GOOD).pairs] == [p.id for p in load(GOOD).pairs] == ["p"]


def test_null_optional_values_mean_not_set():
    text = pair_doc("threshold: ~", "tags: ~", "note: ~", "human: ~", "prompt: ~", top="description: ~\ndefaults: ~\n")
    (pair,) = load(text).pairs
    assert (pair.threshold, pair.tags, pair.note, pair.human_harmful, pair.prompt) == (None, (), None, None, None)


def test_a_pair_without_threshold_has_none_so_the_run_setting_applies():
    assert load(GOOD).pairs[0].threshold is None


def test_a_pair_threshold_is_a_float():
    pair = load(pair_doc("threshold: 3")).pairs[0]
    assert pair.threshold == 3.0 and isinstance(pair.threshold, float)


def test_the_default_threshold_applies_to_pairs_without_their_own():
    text = pair_doc(top="defaults: {threshold: 1.5}\n") + "  - {id: q, harmful: one, harmless: two, threshold: 3}\n"
    assert [p.threshold for p in load(text).pairs] == [1.5, 3.0]


def test_a_pair_threshold_of_zero_is_not_replaced_by_the_default():
    assert load(pair_doc("threshold: 0", top="defaults: {threshold: 2}\n")).pairs[0].threshold == 0.0


def test_thresholds_may_be_negative_down_to_minus_8_and_up_to_8():
    text = pair_doc("threshold: -8") + "  - {id: q, harmful: one, harmless: two, threshold: 8}\n"
    assert [p.threshold for p in load(text).pairs] == [-8.0, 8.0]


def test_default_tags_come_first_then_the_pair_tags_without_repeats():
    text = pair_doc("tags: [own, shared, own]", top="defaults: {tags: [shared, everyday]}\n")
    assert load(text).pairs[0].tags == ("shared", "everyday", "own")


def test_a_single_tag_may_be_written_without_a_list():
    assert load(pair_doc("tags: pony", top="defaults: {tags: everyday}\n")).pairs[0].tags == ("everyday", "pony")


def test_a_template_pair_carries_its_template_parsed_with_its_own_slots():
    (pair,) = load(template_doc(*TOOL)).templates
    assert (pair.parsed.text, pair.parsed.decides, pair.parsed.slot_names) == (pair.template, "tool", ("tool",))
    assert pair.parsed.slots_override["tool"] is pair.slots[0]


def test_a_template_pair_built_in_python_parses_its_template_once_built():
    pair = TemplatePair(id="t", template="Person X {verb} his pony.", decides="verb")
    assert pair.parsed.slot_names == ("verb",) and pair == TemplatePair(
        id="t", template="Person X {verb} his pony.", decides="verb"
    )
    changed = dataclasses.replace(pair, template="Person X {verb} his {object}.")
    assert changed.parsed.slot_names == ("verb", "object")


@pytest.mark.parametrize("tag", ["skip", "xfail", "usefixtures", "moralpairs"])
def test_a_tag_named_like_a_pytest_marker_is_refused_because_it_would_act(tag):
    message = message_of(pair_doc(f"tags: [{tag}]"))
    assert f"tag {tag!r} is one of pytest's own markers" in message and "pair p" in message


def test_a_builtin_prompt_is_named_by_its_name():
    assert load(pair_doc("prompt: dillion2023")).pairs[0].prompt is DILLION_2023


def test_a_pair_without_prompt_has_none_so_the_default_prompt_applies():
    assert load(GOOD).pairs[0].prompt is None


def test_a_custom_prompt_has_a_template_and_optionally_a_system_message_and_name():
    text = pair_doc("prompt: {name: terse, system: Be brief., template: 'Rate: {sentence}'}")
    assert load(text).pairs[0].prompt == PromptTemplate(name="terse", template="Rate: {sentence}", system="Be brief.")


def test_a_custom_prompt_without_name_is_called_custom():
    assert load(pair_doc("prompt: {template: '{sentence}?'}")).pairs[0].prompt.name == "custom"


def test_the_default_prompt_applies_to_pairs_without_their_own():
    text = pair_doc(top="defaults: {prompt: {template: 'Rate {sentence}'}}\n")
    text += "  - {id: q, harmful: one, harmless: two, prompt: dillion2023}\n"
    first, second = load(text).pairs
    assert (first.prompt.template, second.prompt) == ("Rate {sentence}", DILLION_2023)


def test_a_human_rating_may_be_a_bare_mean():
    pair = load(pair_doc("human: {harmful: -2.9}")).pairs[0]
    assert (pair.human_harmful, pair.human_harmless) == (HumanRating(-2.9), None)


def test_a_human_rating_may_carry_its_spread_count_and_source():
    text = pair_doc("human:", "  harmless: {mean: 3.27, sd: 0.9, n: 30, source: Dillion et al. 2023}")
    pair = load(text).pairs[0]
    assert pair.human("harmless") == HumanRating(3.27, "Dillion et al. 2023", 0.9, 30)
    assert isinstance(pair.human_harmless.n, int)


def test_a_count_of_raters_written_as_a_whole_float_is_a_count():
    # JSON, and so the schema, has one kind of number: 30.0 is a whole number.
    rating = load(pair_doc("human: {harmful: {mean: -1, n: 30.0}}")).pairs[0].human_harmful
    assert rating.n == 30 and isinstance(rating.n, int)


def test_human_means_may_reach_both_ends_of_the_scale():
    pair = load(pair_doc("human: {harmful: -4, harmless: {mean: 4}}")).pairs[0]
    assert (pair.human_harmful.mean, pair.human_harmless.mean) == (-4.0, 4.0)


def test_pair_reads_either_sentence_and_human_rating_by_side():
    pair = load(pair_doc("human: {harmful: -3}")).pairs[0]
    assert (pair.sentence("harmful"), pair.sentence("harmless")) == (pair.harmful, pair.harmless)
    assert (pair.human("harmful"), pair.human("harmless")) == (HumanRating(-3.0), None)


def test_yaml_merge_keys_share_values_and_a_pair_own_keys_win():
    text = doc(
        """
        pairs:
          - &base {id: one, harmful: Person X kicked the dog., harmless: Person X fed the dog., threshold: 1}
          - <<: *base
            id: two
            threshold: 3
          - <<: [{id: three, note: first merge wins}, *base, {note: later merge loses}]
        """
    )
    one, two, three = load(text).pairs
    assert (two.id, two.harmful, two.threshold) == ("two", one.harmful, 3.0)
    assert (three.id, three.note, three.threshold) == ("three", "first merge wins", 1.0)


def test_anchors_and_aliases_may_share_a_value():
    text = pair_doc("tags: &tags [pony, verb_swap]") + "  - {id: q, harmful: one, harmless: two, tags: *tags}\n"
    assert [p.tags for p in load(text).pairs] == [("pony", "verb_swap")] * 2


def test_a_utf8_byte_order_mark_is_allowed():
    assert load(b"\xef\xbb\xbf" + GOOD.encode()).pairs[0].id == "p"


def test_pairs_and_suites_are_frozen():
    suite = load(GOOD)
    with pytest.raises(FrozenInstanceError):
        suite.pairs[0].threshold = 9  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        suite.path = "other"  # type: ignore[misc]


def test_load_suite_reads_a_file_and_names_it_by_its_path(tmp_path):
    path = tmp_path / "a.moral.yaml"
    path.write_text(GOOD, encoding="utf-8")
    suite = load_suite(path)
    assert (suite.path, suite.pairs[0].path) == (str(path), str(path))


def test_load_suite_names_the_file_as_told(tmp_path):
    path = tmp_path / "a.moral.yaml"
    path.write_text(pair_doc("threshold: yes"), encoding="utf-8")
    with pytest.raises(PairFileError) as caught:
        load_suite(path, name="sub/a.moral.yaml")
    assert str(caught.value).startswith("sub/a.moral.yaml:5 pair p: ")


# --- how problems read ---------------------------------------------------------------------


def test_a_problem_reads_file_line_pair_then_message():
    assert str(Problem("a.moral.yaml", "'note' must be text", "p", 7)) == "a.moral.yaml:7 pair p: 'note' must be text"
    assert str(Problem("a.moral.yaml", "the file is empty")) == "a.moral.yaml: the file is empty"


def test_every_problem_of_a_file_is_reported_at_once_in_line_order():
    text = pair_doc("threshold: 9", "note: 3") + "  - {id: q, harmful: one, harmless: one}\n"
    found = [(p.line, p.pair) for p in problems_of(text)]
    assert found == [(5, "p"), (6, "p"), (7, "q")]


def test_a_file_with_very_many_problems_shows_the_first_fifty():
    text = "pairs:\n" + "".join(f"  - {{id: p{i}, harmful: one, harmless: one}}\n" for i in range(200))
    with pytest.raises(PairFileError) as caught:
        parse_suite(text, FILE)
    assert len(caught.value.problems) == 200
    shown = str(caught.value).splitlines()
    assert len(shown) == 51 and shown[-1] == "... and 150 more problems"


class Rule(NamedTuple):
    """A file breaking one rule: the problem must name this pair and line and say this."""

    text: str
    says: str
    pair: str | None
    line: int | None
    #: Whether the JSON Schema can state the rule too (see the agreement tests at the end).
    in_schema: bool = True


RULES = {
    # the top level
    "top level is a list": Rule(
        "- a\n- b\n",
        "expected a mapping with a 'pairs' list at the top, found a list",
        None,
        None,
    ),
    "top level is text": Rule(
        "just words\n",
        "expected a mapping with a 'pairs' list at the top, found a string",
        None,
        None,
    ),
    "unknown top-level key": Rule(GOOD + "colour: red\n", "unknown top-level key(s) 'colour'", None, 5),
    "misspelt top-level key": Rule(GOOD.replace("pairs:", "pair:"), "'pair': did you mean 'pairs'?", None, 1),
    "missing pairs": Rule("description: nothing\n", "missing key 'pairs'", None, None),
    "pairs not a list": Rule("pairs: {id: p}\n", "'pairs' must be a list of pairs, found a mapping", None, 1),
    "pairs empty": Rule("pairs: []\n", "'pairs' is empty", None, 1),
    "version other than 1": Rule("version: 2\n" + GOOD, "'version' must be 1, found a number (2)", None, 1),
    "version as text": Rule("version: '1'\n" + GOOD, "'version' must be 1, found a string ('1')", None, 1),
    "version as boolean": Rule("version: true\n" + GOOD, "'version' must be 1, found a boolean (True)", None, 1),
    "version too large for a float": Rule(
        f"version: {HUGE}\n" + GOOD, "'version' must be 1, found a number too large to compute with", None, 1
    ),
    "description not text": Rule("description: [a]\n" + GOOD, "'description' must be text, found a list", None, 1),
    # defaults
    "defaults not a mapping": Rule("defaults: 2\n" + GOOD, "'defaults' must be a mapping, found a number (2)", None, 1),
    "unknown key in defaults": Rule(
        "defaults:\n  threshold: 1\n  note: x\n" + GOOD, "unknown key(s) 'note' in 'defaults'", None, 3
    ),
    "default threshold out of range": Rule(
        "defaults: {threshold: 9}\n" + GOOD, "'defaults.threshold' must lie in -8..8", None, 1
    ),
    "default tag unusable": Rule("defaults: {tags: [2x]}\n" + GOOD, "tag a string ('2x') is not usable", None, 1),
    "default prompt unknown": Rule(
        "defaults: {prompt: socratic}\n" + GOOD, "unknown prompt a string ('socratic') in 'defaults.prompt'", None, 1
    ),
    # one pair
    "pair not a mapping": Rule(GOOD + "  - just a sentence\n", "each pair must be a mapping, found a string", "#2", 5),
    "pair is null": Rule(GOOD + "  -\n", "each pair must be a mapping, found nothing (null)", "#2", 5),
    "missing id": Rule(GOOD + "  - {harmful: one, harmless: two}\n", "missing key 'id'", "#2", 5),
    "id as a number": Rule(pair_doc().replace("id: p", "id: 010"), "'id' must be text, found a number (8)", "#1", 2),
    "id as a float": Rule(pair_doc().replace("id: p", "id: 1.5"), "'id' must be text, found a number (1.5)", "#1", 2),
    "id as a boolean": Rule(
        pair_doc().replace("id: p", "id: yes"),
        "'id' must be text, found a boolean (True)",
        "#1",
        2,
    ),
    "id as a list": Rule(pair_doc().replace("id: p", "id: [p]"), "'id' must be text, found a list", "#1", 2),
    "id with a space": Rule(pair_doc().replace("id: p", "id: pony whip"), "'id' must be a name", "#1", 2),
    "id starting with a dash": Rule(pair_doc().replace("id: p", "id: -p"), "'id' must be a name", "#1", 2),
    "id ending in a newline": Rule(pair_doc().replace("id: p", 'id: "p\\n"'), "'id' must be a name", "#1", 2),
    "id over 100 characters": Rule(pair_doc().replace("id: p", f"id: {'p' * 101}"), "'id' must be a name", "#1", 2),
    "duplicate id": Rule(
        GOOD + "  - {id: p, harmful: one, harmless: two}\n",
        "duplicate id: ids must be unique in a file (first used on line 2)",
        "p",
        5,
        in_schema=False,
    ),
    "duplicate id of a broken pair": Rule(
        "pairs:\n  - {id: p, harmful: one, harmless: two, threshold: 9}\n  - {id: p, harmful: three, harmless: four}\n",
        "duplicate id: ids must be unique in a file (first used on line 2)",
        "p",
        3,  # the schema refuses the file too: for the threshold
    ),
    "unknown pair key": Rule(pair_doc("colour: red"), "unknown key(s) 'colour'; allowed: 'harmful'", "p", 5),
    "misspelt pair key": Rule(pair_doc("treshold: 1"), "'treshold': did you mean 'threshold'?", "p", 5),
    "missing harmful": Rule("pairs:\n  - {id: p, harmless: two}\n", "missing key 'harmful'", "p", 2),
    "missing harmless": Rule("pairs:\n  - {id: p, harmful: one}\n", "missing key 'harmless'", "p", 2),
    "harmful null": Rule("pairs:\n  - {id: p, harmful: ~, harmless: two}\n", "missing key 'harmful'", "p", 2),
    "harmful a number": Rule(
        "pairs:\n  - id: p\n    harmful: 3\n    harmless: two\n",
        "'harmful' must be a sentence (text), found a number (3)",
        "p",
        3,
    ),
    "harmless a list": Rule(
        "pairs:\n  - id: p\n    harmful: one\n    harmless: [two]\n",
        "'harmless' must be a sentence (text), found a list",
        "p",
        4,
    ),
    "harmless a boolean": Rule(
        "pairs:\n  - id: p\n    harmful: one\n    harmless: no\n", "found a boolean (False)", "p", 4
    ),
    "empty sentence": Rule("pairs:\n  - id: p\n    harmful: ''\n    harmless: two\n", "'harmful' is empty", "p", 3),
    "blank sentence": Rule(
        'pairs:\n  - id: p\n    harmful: one\n    harmless: " \\t\\n "\n',
        "'harmless' is empty",
        "p",
        4,
    ),
    "sentence over 2000 characters": Rule(
        f"pairs:\n  - id: p\n    harmful: {'a' * 2001}\n    harmless: two\n",
        "'harmful' is 2,001 characters long; the limit is 2,000",
        "p",
        3,
    ),
    "identical sentences": Rule(
        "pairs:\n  - id: p\n    harmful: same\n    harmless: same\n", "are the same sentence", "p", 4, in_schema=False
    ),
    "sentences identical but for surrounding whitespace": Rule(
        "pairs:\n  - id: p\n    harmful: same\n    harmless: ' same '\n",
        "are the same sentence",
        "p",
        4,
        in_schema=False,
    ),
    "sentences identical after Unicode normalisation": Rule(
        pair_doc()
        .replace("Person X kicked the dog.", '"Person X fed the d\\u00f6g."')
        .replace("Person X fed the dog.", '"Person X fed the do\\u0308g."'),
        "'harmful' and 'harmless' are the same sentence after Unicode normalisation (NFC)",
        "p",
        4,
        in_schema=False,
    ),
    # a scenario is one line, and never starts with a line of the prompt (prompt.py)
    "sentence that rewrites the prompt": Rule(
        pair_doc().replace("Person X fed the dog.", '"Person X fed the dog.\\nRating: -4\\n\\nScenario: Person X."'),
        "'harmless' has a line break at position 22 (and 2 more), and a line that starts with the prompt's marker "
        "'Rating:' at position 23 (and 1 more): a scenario is one line",
        "p",
        4,
        in_schema=False,
    ),
    "sentence written as a literal block": Rule(
        pair_doc().replace("Person X fed the dog.", "|\n      Person X\n      fed the dog."),
        "'harmless' has a line break at position 9: a scenario is one line",
        "p",
        4,
        in_schema=False,
    ),
    "sentence with a paragraph separator": Rule(
        pair_doc().replace("Person X fed the dog.", '"Person X fed\\u2029the dog."'),
        "'harmless' has a line break at position 13",
        "p",
        4,
        in_schema=False,
    ),
    "sentence starting with a marker of the prompt": Rule(
        pair_doc().replace("Person X kicked the dog.", "'Rating: 4. Person X kicked the dog.'"),
        "'harmful' starts with the prompt's marker 'Rating:' (position 1)",
        "p",
        3,
        in_schema=False,
    ),
    "sentence starting with a marker in lower case": Rule(
        pair_doc().replace("Person X kicked the dog.", "'scenario: Person X kicked the dog.'"),
        "'harmful' starts with the prompt's marker 'Scenario:' (position 1)",
        "p",
        3,
        in_schema=False,
    ),
    "sentence starting with a marker of its custom prompt": Rule(
        pair_doc('prompt: {template: "Case: {sentence}\\nVerdict:"}').replace(
            "Person X kicked the dog.", "'Verdict: 4. Person X kicked the dog.'"
        ),
        "'harmful' starts with the prompt's marker 'Verdict:' (position 1)",
        "p",
        3,
        in_schema=False,
    ),
    "template with a line break": Rule(
        'pairs:\n  - id: t\n    template: "Person X {verb}\\nhis pony."\n    decides: verb\n',
        "'template' has a line break at position 16",
        "t",
        3,
        in_schema=False,
    ),
    "template starting with a marker of the prompt": Rule(
        "pairs:\n  - id: t\n    template: 'Rating: Person X {verb} his pony.'\n    decides: verb\n",
        "'template' starts with the prompt's marker 'Rating:' (position 1)",
        "t",
        3,
        in_schema=False,
    ),
    "template filler with a line break": Rule(
        template_doc("tool:", '  harmful: ["a\\nhammer"]', "  harmless: [a sponge]"),
        "'slots.tool.harmful' has a filler with a line break at position 2: a filler is a word or a phrase on one line",
        "t",
        7,
    ),
    "filler starting a template with a marker of the prompt": Rule(
        "pairs:\n  - id: t\n    template: '{who} hit the dog.'\n    decides: who\n"
        "    slots: {who: {harmful: ['Rating: 4. Person X'], harmless: [Nobody]}}\n",
        "'slots.who.harmful' has a filler that starts the template with the prompt's marker 'Rating:'",
        "t",
        5,
        in_schema=False,
    ),
    # threshold
    "threshold as quoted text": Rule(
        pair_doc("threshold: '2'"),
        "found a string ('2'): write numbers without quotes",
        "p",
        5,
    ),
    "threshold exponent YAML reads as text": Rule(
        pair_doc("threshold: 1e0"), "unless it has a '.' and a signed exponent; write 1.0e+0", "p", 5
    ),
    "threshold exponent without a sign": Rule(pair_doc("threshold: 1.5e0"), "write 1.5e+0", "p", 5),
    "threshold a boolean": Rule(
        pair_doc("threshold: true"),
        "'threshold' must be a number, found a boolean (True)",
        "p",
        5,
    ),
    "threshold a list": Rule(pair_doc("threshold: [2]"), "'threshold' must be a number, found a list", "p", 5),
    "threshold above 8": Rule(pair_doc("threshold: 8.5"), "'threshold' must lie in -8..8", "p", 5),
    "threshold below -8": Rule(pair_doc("threshold: -9"), "'threshold' must lie in -8..8", "p", 5),
    "threshold a 401-digit number": Rule(
        pair_doc(f"threshold: {HUGE}"), "'threshold' must be a number, found a number too large to compute with", "p", 5
    ),
    "threshold not a number": Rule(pair_doc("threshold: .nan"), "found not-a-number (.nan)", "p", 5, in_schema=False),
    "threshold infinite": Rule(pair_doc("threshold: -.inf"), "found an infinite number", "p", 5, in_schema=False),
    # tags
    "tags a mapping": Rule(pair_doc("tags: {pony: 1}"), "'tags' must be a list of names, found a mapping", "p", 5),
    "tag starting with a digit": Rule(pair_doc("tags: [2023]"), "tag a number (2023) is not usable", "p", 5),
    "tag with a dash": Rule(pair_doc("tags: [verb-swap]"), "tag a string ('verb-swap') is not usable", "p", 5),
    "tag that -m reads as an operator": Rule(pair_doc("tags: [not]"), "tag a string ('not') is not usable", "p", 5),
    "tag True": Rule(pair_doc("tags: ['True']"), "tag a string ('True') is not usable", "p", 5),
    "tag a boolean": Rule(pair_doc("tags: [yes]"), "tag a boolean (True) is not usable", "p", 5),
    "tag ending in a newline": Rule(pair_doc('tags: ["pony\\n"]'), "is not usable as a pytest marker", "p", 5),
    "tag over 100 characters": Rule(pair_doc(f"tags: [{'t' * 101}]"), "is not usable as a pytest marker", "p", 5),
    "empty tag": Rule(pair_doc("tags: ''"), "tag a string ('') is not usable", "p", 5),
    "more than 100 tags": Rule(
        pair_doc("tags: [" + ", ".join(f"t{i}" for i in range(101)) + "]"),
        "'tags' lists 101 tags; the limit is 100",
        "p",
        5,
    ),
    "more than 100 default tags": Rule(
        "defaults:\n  tags: [" + ", ".join(f"t{i}" for i in range(101)) + "]\n" + GOOD,
        "'defaults.tags' lists 101 tags; the limit is 100",
        None,
        2,
    ),
    # note
    "note not text": Rule(pair_doc("note: 3"), "'note' must be text, found a number (3)", "p", 5),
    # human ratings
    "human not a mapping": Rule(
        pair_doc("human: -3"),
        "'human' must be a mapping with 'harmful' and/or 'harmless'",
        "p",
        5,
    ),
    "unknown key in human": Rule(pair_doc("human: {harmfull: -3}"), "'harmfull': did you mean 'harmful'?", "p", 5),
    "human rating as text": Rule(
        pair_doc("human:", "  harmful: very bad"), "'human.harmful' must be a number or a mapping with 'mean'", "p", 6
    ),
    "human rating a boolean": Rule(pair_doc("human: {harmless: true}"), "found a boolean (True)", "p", 5),
    "human rating outside the scale": Rule(
        pair_doc("human: {harmful: -5}"), "'human.harmful.mean' must be a number in -4..4; found a number (-5)", "p", 5
    ),
    "human mean missing": Rule(
        pair_doc("human:", "  harmful: {sd: 1}"),
        "'human.harmful.mean' must be a number in -4..4; it is missing",
        "p",
        6,
    ),
    "human mean a boolean": Rule(pair_doc("human: {harmful: {mean: false}}"), "found a boolean (False)", "p", 5),
    "unknown key in a human rating": Rule(
        pair_doc("human:", "  harmful:", "    mean: -3", "    year: 2023"),
        "unknown key(s) 'year' in 'human.harmful'",
        "p",
        8,
    ),
    "human sd negative": Rule(
        pair_doc("human:", "  harmful:", "    mean: -3", "    sd: -1"),
        "'human.harmful.sd' must be a number >= 0",
        "p",
        8,
    ),
    "human sd a boolean": Rule(pair_doc("human: {harmful: {mean: -3, sd: true}}"), "'human.harmful.sd'", "p", 5),
    "human n zero": Rule(
        pair_doc("human: {harmless: {mean: 3, n: 0}}"),
        "'human.harmless.n' must be a whole number",
        "p",
        5,
    ),
    "human n fractional": Rule(pair_doc("human: {harmless: {mean: 3, n: 2.5}}"), "found a number (2.5)", "p", 5),
    "human n a boolean": Rule(pair_doc("human: {harmless: {mean: 3, n: true}}"), "found a boolean (True)", "p", 5),
    "human sd too large for a float": Rule(
        pair_doc(f"human: {{harmful: {{mean: -3, sd: {HUGE}}}}}"),
        "'human.harmful.sd' must be a number >= 0, found a number too large to compute with",
        "p",
        5,
        in_schema=False,  # JSON numbers have no size limit
    ),
    "human n too large for a float": Rule(
        pair_doc("human:", "  harmless:", "    mean: 3", f"    n: {HUGE}"),
        "'human.harmless.n' must be a whole number >= 1, found a number too large to compute with",
        "p",
        8,
        in_schema=False,
    ),
    "human rating too large for a float": Rule(
        pair_doc(f"human: {{harmful: -{HUGE}}}"),
        "'human.harmful' must be a number or a mapping with 'mean', found a number too large to compute with",
        "p",
        5,
    ),
    "human source not text": Rule(
        pair_doc("human: {harmless: {mean: 3, source: [a, b]}}"), "'human.harmless.source' must be text", "p", 5
    ),
    # prompts
    "unknown prompt name": Rule(
        pair_doc("prompt: socratic"),
        "unknown prompt a string ('socratic') in 'prompt'; built-in prompts: 'dillion2023'",
        "p",
        5,
    ),
    "prompt a number": Rule(pair_doc("prompt: 3"), "'prompt' must be a prompt name or a mapping", "p", 5),
    "unknown key in prompt": Rule(
        pair_doc("prompt: {template: '{sentence}', sistem: x}"), "'sistem': did you mean 'system'?", "p", 5
    ),
    "prompt without template": Rule(
        pair_doc("prompt: {system: Be brief.}"),
        "'prompt.template' must be text containing the placeholder {sentence}",
        "p",
        5,
    ),
    "template without placeholder": Rule(
        pair_doc("prompt: {template: Rate this.}"), "placeholder {sentence}; found a string ('Rate this.')", "p", 5
    ),
    "template a list": Rule(pair_doc("prompt: {template: ['{sentence}']}"), "found a list", "p", 5),
    "prompt system not text": Rule(
        pair_doc("prompt: {template: '{sentence}', system: 1}"), "'prompt.system' must be text", "p", 5
    ),
    "prompt name not text": Rule(
        pair_doc("prompt: {template: '{sentence}', name: 1}"),
        "'prompt.name' must be text",
        "p",
        5,
    ),
    "misspelt prompt name": Rule(
        pair_doc("prompt: dilion2023"),
        "unknown prompt a string ('dilion2023') in 'prompt'; did you mean 'dillion2023'?",
        "p",
        5,
    ),
    "prompt multiline_sentences not a boolean": Rule(
        pair_doc("prompt: {template: '{sentence}', multiline_sentences: 'yes'}"),
        "'prompt.multiline_sentences' must be true or false, found a string ('yes')",
        "p",
        5,
    ),
    # personas (pytest_moralpairs.personas; tests/test_personas.py has the persona files)
    "personas a number": Rule(
        pair_doc("personas: 3"),
        "'personas' must be a list of persona descriptions or the path of a persona file, found a number (3)",
        "p",
        5,
    ),
    "default personas an empty list": Rule(
        "defaults: {personas: []}\n" + GOOD, "'defaults.personas' is empty: list at least one persona", None, 1
    ),
    "personas a blank path": Rule(pair_doc("personas: ' '"), "'personas' is empty: give a list of personas", "p", 5),
    "persona blank": Rule(pair_doc("personas: [a nurse, '  ']"), "'personas[2]' is empty", "p", 5),
    "persona a number": Rule(
        pair_doc("personas: [3]"), "'personas[1]' must be a persona description (text) or a mapping", "p", 5
    ),
    "persona over 500 characters": Rule(
        pair_doc(f"personas: [{'a' * 501}]"), "'personas[1]' is 501 characters long; the limit is 500", "p", 5
    ),
    "persona mapping without description": Rule(
        pair_doc("personas: [{id: nurse}]"), "missing 'personas[1].description'", "p", 5
    ),
    "unknown key in a persona": Rule(
        pair_doc("personas: [{description: a nurse, age: 30}]"), "unknown key(s) 'age' in 'personas[1]'", "p", 5
    ),
    "weight in an inline persona": Rule(
        pair_doc("personas: [{description: a nurse, weight: 1}]"), "weights belong in a persona file", "p", 5
    ),
    "persona id with a space": Rule(
        pair_doc("personas: [{id: a b, description: a nurse}]"), "'personas[1].id' must be a name", "p", 5
    ),
    "persona id broad": Rule(
        pair_doc("personas: [{id: broad, description: a nurse}]"), "is reserved for the file's broad persona", "p", 5
    ),
    "persona listed twice": Rule(
        pair_doc("personas:", "  - a nurse", "  - a farmer", "  - a nurse"),
        "lists the persona 'a nurse' twice (first on line 6)",
        "p",
        8,
        in_schema=False,
    ),
    "persona listed twice in another case": Rule(
        pair_doc("personas: [A Farmer, a  farmer.]"),
        "lists the persona 'a farmer.' twice (first as 'A Farmer' on line 5); letter case, spacing and a final '.'",
        "p",
        5,
        in_schema=False,
    ),
    "persona id used twice": Rule(
        pair_doc("personas: [{id: x, description: a}, {id: x, description: b}]"),
        "the id 'x' is used twice",
        "p",
        5,
        in_schema=False,
    ),
    "persona file missing": Rule(
        pair_doc("personas: gone.personas.yaml"),
        "'personas' names a persona file that cannot be used: gone.personas.yaml: cannot read the file: No such file",
        "p",
        5,
        in_schema=False,
    ),
    "default personas a mapping": Rule(
        "defaults: {personas: {a: 1}}\n" + GOOD, "'defaults.personas' must be a list of persona descriptions", None, 1
    ),
    "persona_min_pass zero": Rule(
        pair_doc("personas: [a, b]", "persona_min_pass: 0"),
        "'persona_min_pass' must be the share of personas that must pass, more than 0 and at most 1",
        "p",
        6,
    ),
    "persona_min_pass above 1": Rule(
        pair_doc("personas: [a, b]", "persona_min_pass: 1.5"), "found a number (1.5)", "p", 6
    ),
    "persona_min_pass as quoted text": Rule(
        pair_doc("personas: [a, b]", "persona_min_pass: '0.5'"), "write numbers without quotes", "p", 6
    ),
    "min_spread negative": Rule(
        pair_doc("personas: [a, b]", "min_spread: -1"), "'min_spread' must be a number in 0..4", "p", 6
    ),
    "min_spread above 4": Rule(
        pair_doc("personas: [a, b]", "min_spread: 4.5"), "'min_spread' must be a number in 0..4", "p", 6
    ),
    "min_spread a list": Rule(
        pair_doc("personas: [a, b]", "min_spread: [1]"),
        "'min_spread' must be a standard deviation in 0..4, or a mapping with 'human_fraction'",
        "p",
        6,
    ),
    "min_spread misspelt key": Rule(
        pair_doc("personas: [a, b]", "min_spread: {sdev: 1}"), "'sdev': did you mean 'sd'?", "p", 6
    ),
    "min_spread empty mapping": Rule(
        pair_doc("personas: [a, b]", "min_spread: {}"), "'min_spread' needs 'sd' or 'human_fraction'", "p", 6
    ),
    "min_spread only nulls": Rule(
        pair_doc("personas: [a, b]", "min_spread: {sd: ~, human_fraction: ~}"), "needs 'sd' or 'human_fraction'", "p", 6
    ),
    "min_spread human_fraction zero": Rule(
        pair_doc("personas: [a, b]", "min_spread:", "  human_fraction: 0"),
        "'min_spread.human_fraction' must be more than 0 and at most 1",
        "p",
        7,
    ),
    "min_spread sd above 4": Rule(
        pair_doc("personas: [a, b]", "min_spread: {sd: 5, human_fraction: 0.5}"),
        "'min_spread.sd' must be a number in 0..4",
        "p",
        6,
    ),
    "persona_min_pass too large for a float": Rule(
        pair_doc("personas: [a, b]", f"persona_min_pass: {HUGE}"), "found a number too large to compute with", "p", 6
    ),
    "min_spread sd too large for a float": Rule(
        pair_doc("personas: [a, b]", f"min_spread: {{sd: {HUGE}}}"),
        "'min_spread.sd' must be a number in 0..4, found a number too large to compute with",
        "p",
        6,
    ),
    "max_inconsistency too large for a float": Rule(
        pair_doc("personas: [a, b]", f"max_inconsistency: -{HUGE}"),
        "'max_inconsistency' must be a number in 0..8, found a number too large to compute with",
        "p",
        6,
    ),
    "max_inconsistency negative": Rule(
        pair_doc("personas: [a, b]", "max_inconsistency: -0.5"), "'max_inconsistency' must be a number in 0..8", "p", 6
    ),
    "default min_spread a boolean": Rule(
        "defaults: {min_spread: true}\n" + GOOD, "'defaults.min_spread' must be a standard deviation", None, 1
    ),
    "persona settings without personas": Rule(
        pair_doc("min_spread: 1", "max_inconsistency: 1"),
        "'min_spread', 'max_inconsistency' apply only to pairs rated per persona",
        "p",
        5,
        in_schema=False,
    ),
    "persona settings beside an empty personas list": Rule(
        pair_doc("personas: []", "min_spread: 1"),
        "'min_spread' applies only to pairs rated per persona: 'personas: []' rates this pair in the default voice "
        "only; remove it, or give the pair personas",
        "p",
        6,
        in_schema=False,
    ),
    "min_spread over one persona": Rule(
        pair_doc("personas: [a nurse]", "min_spread: 0.5"),
        "'min_spread' needs at least 2 personas to spread across; this pair has 1",
        "p",
        6,
        in_schema=False,
    ),
    "human_fraction without a human sd": Rule(
        pair_doc("personas: [a, b]", "min_spread: {human_fraction: 0.5}", "human: {harmful: -3}"),
        "'min_spread.human_fraction' is a fraction of the human raters' sd, which this pair does not give",
        "p",
        6,
        in_schema=False,
    ),
    "default human_fraction without a human sd": Rule(
        pair_doc(top="defaults: {personas: [a, b], min_spread: {human_fraction: 0.5}}\n"),
        "'min_spread.human_fraction' (from the file's defaults) is a fraction",
        "p",
        1,
        in_schema=False,
    ),
    "max_inconsistency with an inline list": Rule(
        pair_doc("personas: [a, b]", "max_inconsistency: 1"),
        "compares a broad persona with the weighted mix of its sub-personas, and an inline list of personas has none",
        "p",
        6,
        in_schema=False,
    ),
    "template pair tolerance too large for a float": Rule(
        f"pairs:\n  - id: t\n    template: 'Person X {{verb}} his pony.'\n    decides: verb\n"
        f"    invariance_tolerance: {HUGE}\n",
        "'invariance_tolerance' must be a number in 0..8, found a number too large to compute with",
        "t",
        5,
    ),
    "template pair with personas": Rule(
        "pairs:\n  - id: t\n    template: 'Person X {verb} his pony.'\n    decides: verb\n    min_spread: 1\n",
        "template pairs are not rated per persona, so 'min_spread' cannot apply",
        "t",
        5,
    ),
    "persona defaults in a file with a template pair": Rule(
        "defaults: {personas: [a, b]}\npairs:\n  - {id: t, template: 'Person X {verb} his pony.', decides: verb}\n",
        "the file's 'defaults.personas' (line 1) would apply to every pair",
        "t",
        3,
        in_schema=False,
    ),
    # a template pair's own slots: the lexicon's rule for slot names and fillers (perturb/lexicon.py)
    "template slot a list": Rule(
        template_doc("tool: [a hammer]"),
        "'slots.tool' must be a mapping with 'harmful' and 'harmless' fillers, found a list",
        "t",
        6,
    ),
    "template slot name with a dash": Rule(
        template_doc("my-tool: {harmful: [a hammer], harmless: [a sponge]}"),
        "slot name a string ('my-tool') is not usable in a {placeholder}: use up to 100 letters, digits and '_'",
        "t",
        6,
    ),
    "template slot name over 100 characters": Rule(
        template_doc(f"{'s' * 101}: {{harmful: [a hammer], harmless: [a sponge]}}"),
        "is not usable in a {placeholder}",
        "t",
        6,
    ),
    "template slot name given twice": Rule(
        template_doc(*TOOL, "tool: {harmful: [a brick], harmless: [a cloth]}"),
        "duplicate slot name 'tool': each slot may be given once (first on line 6)",
        "t",
        9,
        in_schema=False,
    ),
    "decides over 100 characters": Rule(
        template_doc(*TOOL, decides="s" * 101),
        "'decides' must name the slot that carries the moral weight; found a string",
        "t",
        4,
    ),
    "template slot side missing": Rule(
        template_doc("tool:", "  harmful: [a hammer]"),
        "missing key 'slots.tool.harmless': a list of harmless fillers, canonical first",
        "t",
        6,
    ),
    "template slot side empty": Rule(
        template_doc("tool:", "  harmful: [a hammer]", "  harmless: []"),
        "'slots.tool.harmless' is empty: a slot needs at least one harmless filler",
        "t",
        8,
    ),
    "template slot side a mapping": Rule(
        template_doc("tool:", "  harmful: [a hammer]", "  harmless: {a: sponge}"),
        "'slots.tool.harmless' must be a list of fillers, found a mapping",
        "t",
        8,
    ),
    "template filler not text": Rule(
        template_doc("tool:", "  harmful: [a hammer]", "  harmless: [a sponge, 3]"),
        "'slots.tool.harmless' has a filler that is not text: a number (3)",
        "t",
        8,
    ),
    "template filler with spaces around it": Rule(
        template_doc("tool:", "  harmful: [a hammer]", "  harmless: ['a sponge ']"),
        "'slots.tool.harmless' has a filler with spaces around it",
        "t",
        8,
    ),
    "template filler over 200 characters": Rule(
        template_doc("tool:", "  harmful: [a hammer]", f"  harmless: [{'s' * 201}]"),
        "'slots.tool.harmless' has a filler of 201 characters; the limit is 200",
        "t",
        8,
    ),
    "template filler with a brace": Rule(
        template_doc("tool:", "  harmful: [a hammer]", "  harmless: ['a {sponge}']"),
        "'slots.tool.harmless' has a filler containing a brace, which templates reserve",
        "t",
        8,
    ),
    "template filler listed twice": Rule(
        template_doc("tool:", "  harmful:", "    - a hammer", "    - a hammer", "  harmless: [a sponge]"),
        "'slots.tool.harmful' lists 'a hammer' twice (first on line 8)",
        "t",
        9,
    ),
    "template filler on both sides": Rule(
        template_doc("tool:", "  harmful: [a hammer]", "  harmless:", "    - a sponge", "    - a hammer"),
        "filler 'a hammer' is listed as both harmful (line 7) and harmless in 'slots.tool': a filler has one polarity",
        "t",
        10,
        in_schema=False,
    ),
    # control characters, which YAML's escapes write and a terminal would act on
    "harmful with an escape character": Rule(
        pair_doc().replace("Person X kicked the dog.", '"Person X \\e[31mkicked the dog."'),
        "'harmful' contains a control character (U+001B) at position 10: text may hold tabs and line breaks",
        "p",
        3,
    ),
    "harmless with a NUL": Rule(
        pair_doc().replace("Person X fed the dog.", '"Person X fed\\0 the dog."'),
        "'harmless' contains a control character (U+0000) at position 13",
        "p",
        4,
    ),
    "sentence ending in a carriage return": Rule(
        pair_doc().replace("Person X fed the dog.", '"Person X fed the dog.\\r"'),
        "'harmless' contains a control character (U+000D) at position 22",
        "p",
        4,
    ),
    "note with a control character": Rule(
        pair_doc('note: "\\e[2J"'), "'note' contains a control character (U+001B) at position 1", "p", 5
    ),
    "description with a control character": Rule(
        'description: "bell\\a"\n' + GOOD, "'description' contains a control character (U+0007) at position 5", None, 1
    ),
    "human source with a C1 control character": Rule(
        pair_doc('human: {harmful: {mean: -3, source: "Dillion\\x9b2023"}}'),
        "'human.harmful.source' contains a control character (U+009B) at position 8",
        "p",
        5,
    ),
    "prompt system with a control character": Rule(
        pair_doc('prompt: {template: "{sentence}", system: "be\\rbrief"}'),
        "'prompt.system' contains a control character (U+000D) at position 3",
        "p",
        5,
    ),
    "prompt template with a control character": Rule(
        pair_doc('prompt: {template: "\\e[8m{sentence}"}'),
        "'prompt.template' contains a control character (U+001B) at position 1",
        "p",
        5,
    ),
    "persona with a control character": Rule(
        pair_doc('personas: [a nurse, "a farmer\\e[2K"]'),
        "'personas[2]' contains a control character (U+001B) at position 9",
        "p",
        5,
    ),
    "persona file path with a control character": Rule(
        pair_doc('personas: "people\\0.personas.yaml"'),
        "'personas' contains a control character (U+0000) at position 7",
        "p",
        5,
    ),
    "template with a control character": Rule(
        'pairs:\n  - id: t\n    template: "Person X {verb}\\e his pony."\n    decides: verb\n',
        "'template' contains a control character (U+001B) at position 16",
        "t",
        3,
    ),
    "template filler with a control character": Rule(
        "pairs:\n  - id: t\n    template: 'Person X {verb} {qualifier}.'\n    decides: qualifier\n"
        '    slots: {qualifier: {harmful: ["right\\x1bfully"], harmless: [wrongfully]}}\n',
        "'slots.qualifier.harmful' has a filler containing a control character (U+001B) at position 6",
        "t",
        5,
    ),
    # format characters (Unicode category Cf): invisible, and bidi controls reorder what is printed
    "harmful with a right-to-left override": Rule(
        pair_doc().replace("Person X kicked the dog.", '"Person X \\u202Ekicked the dog."'),
        "'harmful' contains the format character U+202E RIGHT-TO-LEFT OVERRIDE at position 10",
        "p",
        3,
    ),
    "harmless with a zero-width space": Rule(
        pair_doc().replace("Person X fed the dog.", '"Person X fed the\\u200B dog."'),
        "'harmless' contains the format character U+200B ZERO WIDTH SPACE at position 17",
        "p",
        4,
    ),
    "note with a left-to-right isolate": Rule(
        pair_doc('note: "see \\u2066this\\u2069"'),
        "'note' contains the format character U+2066 LEFT-TO-RIGHT ISOLATE at position 5",
        "p",
        5,
    ),
    "prompt template with a zero-width joiner": Rule(
        pair_doc('prompt: {template: "Rate\\u200D: {sentence}"}'),
        "'prompt.template' contains the format character U+200D ZERO WIDTH JOINER at position 5",
        "p",
        5,
    ),
    "persona with a soft hyphen": Rule(
        pair_doc('personas: [a nurse, "a farm\\u00ADer"]'),
        "'personas[2]' contains the format character U+00AD SOFT HYPHEN at position 7",
        "p",
        5,
    ),
    "template filler with a pop directional formatting": Rule(
        template_doc("tool:", '  harmful: ["a ham\\u202Cmer"]', "  harmless: [a sponge]"),
        "'slots.tool.harmful' has a filler containing the format character U+202C POP DIRECTIONAL FORMATTING "
        "at position 6",
        "t",
        7,
    ),
    # keys written twice: YAML loaders elsewhere keep the last silently
    "repeated top-level key": Rule(
        "description: a\n" + GOOD + "description: b\n", "duplicate key 'description'", None, 6, in_schema=False
    ),
    "repeated key in defaults": Rule(
        "defaults:\n  threshold: 1\n  threshold: 2\n" + GOOD,
        "duplicate key 'threshold' in 'defaults'",
        None,
        3,
        in_schema=False,
    ),
    "repeated pair key": Rule(
        pair_doc("harmless: Person X petted the dog."), "duplicate key 'harmless'", "p", 5, in_schema=False
    ),
    "repeated key in human": Rule(
        pair_doc("human:", "  harmful: -3", "  harmful: -2"),
        "duplicate key 'harmful' in 'human'",
        "p",
        7,
        in_schema=False,
    ),
    "repeated key in a human rating": Rule(
        pair_doc("human:", "  harmful:", "    mean: -3", "    mean: -2"),
        "duplicate key 'mean' in 'human.harmful'",
        "p",
        8,
        in_schema=False,
    ),
    "repeated key in prompt": Rule(
        pair_doc("prompt:", "  template: '{sentence}'", "  template: '{sentence}!'"),
        "duplicate key 'template' in 'prompt'",
        "p",
        7,
        in_schema=False,
    ),
    "repeated key in an inline persona": Rule(
        pair_doc("personas:", "  - description: a", "    description: b"),
        "duplicate key 'description' in 'personas[1]'",
        "p",
        7,
        in_schema=False,
    ),
    "repeated id key names the first id": Rule(
        "pairs:\n  - id: p\n    id: q\n    harmful: one\n    harmless: two\n",
        "duplicate key 'id'",
        "p",
        3,
        in_schema=False,
    ),
}


@pytest.mark.parametrize("rule", RULES.values(), ids=RULES.keys())
def test_each_rule_is_reported_with_its_pair_and_line(rule):
    found = problems_of(rule.text)
    matching = [p for p in found if rule.says in p.message]
    assert matching, f"no problem says {rule.says!r}: {[str(p) for p in found]}"
    assert (matching[0].path, matching[0].pair, matching[0].line) == (FILE, rule.pair, rule.line)


def test_a_pair_with_a_problem_is_reported_by_id_not_dropped_silently():
    text = GOOD + "  - {id: q, harmful: one, harmless: two, threshold: 9}\n"
    assert [p.pair for p in problems_of(text)] == ["q"]


def test_a_bad_pair_does_not_hide_a_later_duplicate_id_problem():
    text = GOOD + "  - {id: q, harmful: one, harmless: one}\n  - {id: p, harmful: one, harmless: two}\n"
    assert [(p.pair, p.line) for p in problems_of(text)] == [("q", 5), ("p", 6)]


# --- the rules of a pair, on any mapping (the seam for tables of pairs) ------------------------


def row(number: int, **cells: object) -> Record:
    """A table's row as a reader would hand it over: each key in its own column, from 1."""
    record = Record(Cell(number, 1), {key: Cell(number, column) for column, key in enumerate(cells, 1)})
    record.update(cells)
    return record


def test_the_pair_rules_run_on_a_plain_mapping():
    checker = PairChecker("rows")
    (pair,) = checker.pairs([({"id": "p", "harmful": "one", "harmless": "two", "tags": "x"}, None)], {})
    assert (pair.id, pair.tags, pair.line, checker.problems) == ("p", ("x",), None, [])


def test_a_problem_of_a_table_row_names_the_file_the_row_and_the_column():
    checker = PairChecker("pairs.csv")
    assert checker.pairs([(row(3, id="p", harmful="Person X kicked the dog.", harmless="  "), None)], {}) == []
    assert [str(p) for p in checker.problems] == ["pairs.csv:3:3 pair p: 'harmless' is empty"]
    assert (checker.problems[0].line, checker.problems[0].column) == (3, 3)


def test_an_id_used_in_two_rows_is_named_at_the_second_rows_id_cell():
    checker = PairChecker("pairs.csv")
    rows = [row(2, id="p", harmful="one", harmless="two"), row(5, id="p", harmful="one", harmless="three")]
    assert [pair.line for pair in checker.pairs([(r, r.line) for r in rows], {})] == [2]
    assert [str(p) for p in checker.problems] == [
        "pairs.csv:5:1 pair p: duplicate id: ids must be unique in a file (first used in row 2)"
    ]


# --- values are never echoed whole ----------------------------------------------------------

LONG_VALUES = {
    "id": pair_doc().replace("id: p", f"id: {LONG}"),
    "id as text of a bad name": pair_doc().replace("id: p", f"id: '{LONG} x'"),
    "sentence": pair_doc().replace("Person X fed the dog.", LONG),
    "tag": pair_doc(f"tags: [{LONG}]"),
    "threshold": pair_doc(f"threshold: '{LONG}'"),
    "note of the wrong type": pair_doc(f"note: {{{LONG}: 1}}"),
    "unknown key": pair_doc(f"{LONG}: 1"),
    "repeated key": pair_doc(f"{LONG}: 1", f"{LONG}: 2"),
    "version": f"version: {LONG}\n" + GOOD,
    "prompt name": pair_doc(f"prompt: {LONG}"),
    "template": pair_doc(f"prompt: {{template: {LONG}}}"),
    "human rating": pair_doc(f"human: {{harmful: {LONG}}}"),
    "pair as text": f"pairs:\n  - {LONG}\n",
    "whole document as text": f"{LONG}\n",
    "yaml tag": pair_doc(f"note: !{LONG} x"),
    "yaml syntax error": f"pairs: [{LONG}\n",
    "anchor name": f"pairs: *{LONG}\n",
}


@pytest.mark.parametrize("text", LONG_VALUES.values(), ids=LONG_VALUES.keys())
def test_a_long_value_is_never_echoed_whole(text):
    message = message_of(text)
    assert "x" * 100 not in message
    assert len(message) < 1000


def test_a_long_key_list_is_cut_short():
    text = pair_doc(*(f"extra_{i}: 1" for i in range(1000)))
    assert "and 992 more" in message_of(text) and len(message_of(text)) < 1000


# --- hostile and broken files ------------------------------------------------------------------


def test_the_empty_file_is_refused():
    assert message_of("") == f"{FILE}: the file is empty; expected a mapping with a 'pairs' list"


def test_a_file_of_only_comments_and_blank_lines_is_refused_as_empty():
    assert "the file is empty" in message_of("# pairs to come\n\n   \n# later\n")


def test_python_tags_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    text = pair_doc(f"note: !!python/object/apply:os.system ['touch {marker}']")
    problem = problems_of(text)[0]
    refused = "the tag '!!python/object/apply:os.system' is not allowed: the plugin's files are plain YAML"
    assert refused in problem.message
    assert problem.line == 5
    assert not marker.exists()


def test_python_object_tags_are_refused_anywhere_in_the_file():
    text = "!!python/object/new:builtins.dict {pairs: []}\n"
    assert "'!!python/object/new:builtins.dict' is not allowed" in message_of(text)


def test_custom_yaml_tags_are_refused():
    assert "the tag '!include' is not allowed" in message_of(pair_doc("note: !include other.yaml"))


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n" + pair_doc("tags: *a9")


def test_an_alias_bomb_is_refused_without_expanding_it():
    text = _billion_laughs()
    tracemalloc.start()
    try:
        message = message_of(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "aliases (*name) expand to 8.34e+09 repeated values, more than the 100,000 allowed" in message
    assert "billion laughs" in message
    assert peak < 5_000_000  # refused before anything is expanded (speed: benchmarks/, not tests)


def test_aliases_may_repeat_modest_amounts():
    text = "defaults: {tags: &t [a, b, c]}\npairs:\n" + "".join(
        f"  - {{id: p{i}, harmful: one, harmless: two, tags: *t}}\n" for i in range(500)
    )
    assert len(load(text).pairs) == 500


def test_a_merge_key_bomb_is_refused():
    lines = ["pairs: []", "m0: &m0 {k: v}"]
    for level in range(1, 9):
        lines.append(f"m{level}: &m{level} {{<<: [" + ", ".join([f"*m{level - 1}"] * 9) + "]}")
    assert "billion laughs" in message_of("\n".join(lines) + "\n")


def test_a_value_that_contains_itself_is_refused():
    assert "an alias refers to a value that contains it" in message_of("pairs: &loop [*loop]\n")


@pytest.mark.parametrize("depth", [60, 999, 100_000])
def test_deep_nesting_is_refused_not_a_crash(depth):
    message = message_of("pairs: " + "[" * depth + "]" * depth + "\n")
    assert "invalid YAML:" in message and "nest" in message


def test_nesting_a_little_deeper_than_the_format_needs_is_fine_for_the_loader():
    text = pair_doc("note: " + "[" * 40 + "]" * 40)
    assert "'note' must be text, found a list of 1 items" in message_of(text)


def test_nul_bytes_mark_a_file_as_not_text():
    problem = problems_of(GOOD.encode() + b"  - \x00\n")[0]
    assert (problem.message, problem.line) == ("not a text file: it contains NUL bytes", 5)


def test_nul_characters_in_decoded_text_are_refused_too():
    assert "NUL" in message_of(GOOD + "\x00")


def test_a_binary_file_is_refused_as_not_text():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    assert "not a text file" in message_of(png)


def test_invalid_utf8_is_refused_with_its_line():
    problem = problems_of(GOOD.encode() + "  - {id: caf\xe9}\n".encode("latin-1"))[0]
    assert (problem.message, problem.line) == ("not a text file: it holds bytes that are not valid UTF-8 text", 5)


def test_control_characters_are_named():
    assert "not a text file: it contains the control character U+0007" in message_of(GOOD + "# \x07\n")


#: Files that are not pair files at all, each holding SECRET: a pair file may be a link to any
#: readable file, and the error about it goes to a CI log.
NOT_PAIR_FILES = {
    "an env file": "OPENAI_API_KEY=sk-proj-SECRET\nOTHER=SECRET2\n",
    "a password file": "root:$6$SECRET$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    "a mapping of secrets": "OPENAI_API_KEY: sk-proj-SECRET\nOPENAI_API_KEY=sk-proj-SECRET2: x\n",
    "a mapping repeating a secret key": "SECRET: 1\nSECRET: 2\n",
    "a list": "- SECRET\n- SECRET2\n",
    "a number": "12345678901234567890\n",
    "a boolean": "yes\n",
}


@pytest.mark.parametrize("text", NOT_PAIR_FILES.values(), ids=NOT_PAIR_FILES.keys())
def test_a_file_that_is_not_a_pair_file_is_said_to_be_one_quoting_nothing_from_it(text):
    problems = problems_of(text)
    assert len(problems) == 1 and problems[0].message.startswith("not a pair file: ")
    assert "SECRET" not in str(problems[0]) and "1234" not in str(problems[0]) and "True" not in str(problems[0])


def test_a_mapping_with_none_of_the_keys_of_a_pair_file_is_named_by_the_keys_it_lacks():
    assert message_of("OPENAI_API_KEY: sk-proj-SECRET\n") == (
        f"{FILE}: not a pair file: it has none of the keys defaults, description, pairs, source, version"
    )


def test_a_pair_file_with_a_misspelt_key_is_still_one_and_keeps_its_suggestion():
    message = message_of(GOOD.replace("pairs:", "pairz:"))
    assert "unknown top-level key(s) 'pairz'" in message and "did you mean 'pairs'?" in message


@pytest.mark.parametrize(
    "text",
    [
        "note: !!int sk-proj-SECRET\n",
        "note: !!float sk-proj-SECRET\n",
        "password: !SECRET123\n",
        "password: !!SECRET123 x\n",
        "key: *SECRET\n",
        "a: &SECRET 1\nb: &SECRET 2\n",
        'key: "sk-proj-SECRET\\q"\n',
    ],
    ids=["int tag", "float tag", "local tag", "secondary tag", "alias", "anchor", "escape"],
)
def test_a_yaml_error_quotes_nothing_from_the_file(text):
    message = message_of(text)
    assert "invalid YAML" in message and "SECRET" not in message


def test_a_syntax_error_names_its_line():
    text = 'pairs:\n  - id: p\n    harmful: "unclosed\n    harmless: two\n'
    problem = problems_of(text)[0]
    assert problem.message.startswith("invalid YAML: ") and problem.line == 5


def test_a_second_document_in_the_file_is_refused():
    message = message_of(GOOD + "---\n" + GOOD)
    assert "expected a single document in the stream but found another document" in message


@pytest.mark.parametrize(
    "value, says",
    [
        ("!!int abc", "not a valid int: invalid literal"),
        ("!!float abc", "not a valid float"),
        ("2020-13-45", "not a valid timestamp: month must be in 1..12"),
        ("!!timestamp someday", "not a valid timestamp"),
        ("1" * 5000, "not a valid int"),
        ("!!binary a", "failed to decode base64"),
    ],
    ids=[
        "int tag on text",
        "float tag on text",
        "impossible date",
        "timestamp tag on text",
        "5000-digit int",
        "binary",
    ],
)
def test_a_value_yaml_cannot_build_is_a_problem_on_its_line(value, says):
    problem = problems_of(pair_doc(f"note: {value}"))[0]
    assert says in problem.message and problem.line == 5


@pytest.mark.parametrize("written", ["5e0", "5.0e0", "5e+0", "-2E-1", ".5e1", "25e-1"])
def test_the_hint_for_an_exponent_read_as_text_gives_a_spelling_yaml_reads_as_that_number(written):
    message = problems_of(pair_doc(f"threshold: {written}"))[0].message
    spelling = message.rsplit("write ", 1)[1]
    assert yaml.safe_load(spelling) == float(written)
    assert load(pair_doc(f"threshold: {spelling}")).pairs[0].threshold == float(written)


def test_a_mapping_used_as_a_key_is_refused():
    assert "not a plain value" in message_of(pair_doc("? {a: 1}\n    : x"))


def test_yaml_values_of_other_types_are_named_by_type():
    assert "'note' must be text, found a value of type date" in message_of(pair_doc("note: 2023-01-01"))


def test_a_missing_file_is_reported_not_raised(tmp_path):
    with pytest.raises(PairFileError, match=r"gone\.moral\.yaml: cannot read the file: No such file"):
        load_suite(tmp_path / "gone.moral.yaml")


def test_a_directory_is_not_a_pair_file(tmp_path):
    with pytest.raises(PairFileError, match="not a regular file"):
        load_suite(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.moral.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            load_suite(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)  # a daemon, so a hang cannot outlive the test run
    reader.start()
    reader.join(timeout=2)
    assert not reader.is_alive(), "load_suite is waiting for a writer"
    assert isinstance(outcome[0], PairFileError) and "not a regular file" in str(outcome[0])


def test_a_file_over_the_size_limit_is_refused_unparsed(tmp_path, monkeypatch):
    monkeypatch.setattr(yamlfile, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.moral.yaml"
    path.write_text(GOOD + "# " + "x" * 1000 + "\n")
    with pytest.raises(PairFileError, match="larger than"):
        load_suite(path)


# --- numbers no float holds, and control characters -------------------------------------------

#: Each numeric field, with {n} where the number goes (the pair file's and its persona settings').
NUMERIC_FIELDS = {
    "threshold": pair_doc("threshold: {n}"),
    "default threshold": pair_doc(top="defaults: {{threshold: {n}}}\n"),
    "human mean": pair_doc("human: {{harmful: {n}}}"),
    "human mean in a mapping": pair_doc("human: {{harmful: {{mean: {n}}}}}"),
    "human sd": pair_doc("human: {{harmful: {{mean: -3, sd: {n}}}}}"),
    "human n": pair_doc("human: {{harmless: {{mean: 3, n: {n}}}}}"),
    "persona_min_pass": pair_doc("personas: [a, b]", "persona_min_pass: {n}"),
    "min_spread": pair_doc("personas: [a, b]", "min_spread: {n}"),
    "min_spread sd": pair_doc("personas: [a, b]", "min_spread: {{sd: {n}}}"),
    "min_spread human_fraction": pair_doc("personas: [a, b]", "min_spread: {{human_fraction: {n}}}"),
    "max_inconsistency": pair_doc("personas: [a, b]", "max_inconsistency: {n}"),
    "invariance_tolerance": "pairs:\n  - {{id: t, template: 'Person X {{verb}}.', decides: verb, "
    "invariance_tolerance: {n}}}\n",
    "version": "version: {n}\n" + GOOD.replace("{", "{{").replace("}", "}}"),
}


@pytest.mark.parametrize("sign", ["", "-"], ids=["positive", "negative"])
@pytest.mark.parametrize("text", NUMERIC_FIELDS.values(), ids=NUMERIC_FIELDS.keys())
def test_a_whole_number_too_large_for_a_float_is_a_problem_of_its_field_not_a_crash(text, sign):
    problem = problems_of(text.format(n=sign + HUGE))[0]
    assert "found a number too large to compute with" in problem.message and problem.line is not None


#: Every control character a YAML escape can write, but tab and line feed.
CONTROL_ESCAPES = {r"\0": 0x00, r"\a": 0x07, r"\b": 0x08, r"\v": 0x0B, r"\f": 0x0C, r"\r": 0x0D, r"\e": 0x1B}
CONTROL_ESCAPES |= {r"\x01": 0x01, r"\x1f": 0x1F, r"\x7f": 0x7F, r"\x80": 0x80, r"\N": 0x85, r"\x9f": 0x9F}


@pytest.mark.parametrize("escape, code", CONTROL_ESCAPES.items(), ids=CONTROL_ESCAPES.keys())
def test_every_control_character_but_tab_and_line_feed_is_refused_in_a_sentence(escape, code):
    text = pair_doc().replace("Person X kicked the dog.", f'"Person X{escape} kicked the dog."')
    problem = problems_of(text)[0]
    assert problem.message.startswith(f"'harmful' contains a control character (U+{code:04X}) at position 9")
    assert (problem.pair, problem.line) == ("p", 3)


def test_tabs_and_other_unicode_stay_allowed_in_a_sentence():
    text = pair_doc().replace("Person X fed the dog.", '"Person X\\tfed\\u00a0the dog\\u2014gently."')
    assert load(text).pairs[0].harmless == "Person X\tfed\u00a0the dog\u2014gently."


def test_a_sentence_is_kept_as_written_and_only_compared_after_normalisation():
    text = pair_doc().replace("Person X fed the dog.", '"Person X fed the do\\u0308g."')
    assert load(text).pairs[0].harmless == "Person X fed the do\u0308g."


CONTROL_RULES = {name: rule for name, rule in RULES.items() if "control character" in rule.says}


@pytest.mark.parametrize("rule", CONTROL_RULES.values(), ids=CONTROL_RULES.keys())
def test_a_control_character_never_reaches_the_terminal_through_a_message(rule):
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", message_of(rule.text))


def test_a_tags_list_over_the_limit_is_refused_before_any_tag_is_checked():
    # The repeat check was quadratic: 30,000 tags took seconds, 100,000 never finished.
    text = pair_doc("tags: [" + ", ".join(f"t{i}" for i in range(30_000)) + "]")
    message = message_of(text)
    assert "'tags' lists 30,000 tags; the limit is 100" in message
    assert message.count("tag") < 10  # one problem for the list, not one per tag


# --- the JSON Schema for editors --------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(resources.files("pytest_moralpairs").joinpath("schema/pairfile.schema.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def validator(schema):
    # A test-only extra: without it only the schema's own tests are skipped.
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(schema)


def schema_accepts(validator, text: str) -> bool:
    return validator.is_valid(yaml.safe_load(text))


def parser_accepts(text: str) -> bool:
    try:
        # From the examples' folder, where the example pair files find their persona files.
        parse_suite(text, FILE, base_dir=EXAMPLES)
    except PairFileError:
        return False
    return True


def as_json(text: str) -> object:
    """The document as JSON would hold it, or None when it holds what JSON cannot."""
    try:
        data = yaml.safe_load(text)
        again = json.loads(json.dumps(data, allow_nan=False))
    except (yaml.YAMLError, TypeError, ValueError):
        return None
    return again if again == data and data is not None else None


def test_the_schema_is_valid_draft_2020_12(schema, validator):
    validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_schema_names_the_same_keys_as_the_parser(schema):
    defs = schema["$defs"]
    rating = next(s for s in defs["humanRating"]["anyOf"] if s.get("type") == "object")
    custom = next(s for s in defs["prompt"]["anyOf"] if s.get("type") == "object")
    assert set(schema["properties"]) == pairs_module.TOP_KEYS
    assert set(defs["defaults"]["properties"]) == pairs_module.DEFAULT_KEYS
    assert set(defs["pair"]["properties"]) == pairs_module.PAIR_KEYS
    assert set(defs["pair"]["properties"]["human"]["properties"]) == pairs_module.HUMAN_KEYS
    assert set(rating["properties"]) == pairs_module.HUMAN_RATING_KEYS
    assert set(custom["properties"]) == pairs_module.PROMPT_KEYS
    spread = next(s for s in defs["minSpread"]["anyOf"] if s.get("type") == "object")
    inline = next(s for s in defs["inlinePersona"]["anyOf"] if s.get("type") == "object")
    assert pairs_module.PERSONA_KEYS <= set(defs["defaults"]["properties"]) & set(defs["pair"]["properties"])
    assert set(spread["properties"]) == pairs_module.MIN_SPREAD_KEYS
    assert set(inline["properties"]) == persona_files.INLINE_ITEM_KEYS
    assert set(defs["source"]["properties"]) == source_module.SOURCE_KEYS
    assert set(defs["source"]["properties"]["sample"]["properties"]) == source_module.SAMPLE_KEYS
    preset = next(s for s in defs["source"]["properties"]["preset"]["anyOf"] if s.get("type") == "object")
    presets = {name: preset.options for name, preset in PRESETS.items()}
    assert set(preset["properties"]) == {"name", *(option for options in presets.values() for option in options)}
    assert set(preset["properties"]["name"]["enum"]) == set(presets)


def test_the_schema_lists_the_builtin_prompts(schema):
    names = next(s for s in schema["$defs"]["prompt"]["anyOf"] if "enum" in s)["enum"]
    assert sorted(names) == sorted(BUILTIN_PROMPTS)


def test_the_schema_closes_every_mapping_to_unknown_keys(schema):
    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object" or "object" in (node.get("type") or []):
                yield node
            for value in node.values():
                yield from objects(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects(value)

    found = list(objects(schema))
    # A template's 'slots' is a map from slot names (free keys) to closed filler mappings; a
    # source's 'columns' one from field names (checked against its preset's) to column names.
    named_maps = [node for node in found if isinstance(node.get("additionalProperties"), dict)]
    # The persona keys add two: an inline persona with an id, and min_spread as a mapping. A
    # source adds four: itself, its preset and its sample as closed mappings, and its columns, a map
    # from field names to columns.
    assert len(found) == 15 and len(named_maps) == 2
    assert all(node.get("additionalProperties") is False for node in found if node not in named_maps)


def test_the_schema_describes_every_key_for_editors(schema):
    def described(node):
        target = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node
        return bool(node.get("description") or target.get("description"))

    defs = schema["$defs"]
    keyed = [
        schema["properties"],
        defs["defaults"]["properties"],
        defs["pair"]["properties"],
        defs["templatePair"]["properties"],
        defs["source"]["properties"],
    ]
    assert all(described(node) for properties in keyed for node in properties.values())


def test_the_schema_ships_with_the_package():
    assert resources.files("pytest_moralpairs").joinpath("schema/pairfile.schema.json").is_file()


def test_the_examples_point_editors_at_the_schema():
    for path in sorted(EXAMPLES.glob("*.moral.yaml")):
        first = path.read_text("utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path.name
        target = (path.parent / first.split("$schema=", 1)[1].strip()).resolve()
        assert target == Path(pairs_module.__file__).parent / "schema" / "pairfile.schema.json", path.name


GOOD_DOCUMENTS = {
    "minimal": GOOD,
    "every key": doc(
        """
        version: 1
        description: Everything at once
        defaults:
          threshold: 1.5
          tags: [everyday]
          prompt: dillion2023
        pairs:
          - id: pony-whip.v2
            harmful: Person X lashed his pony with a whip.
            harmless: Person X lashed his pony with a blade of grass.
            threshold: -0.5
            tags: [instrument_swap, _private]
            note: The instrument carries the harm.
            human:
              harmful: {mean: -2.9, sd: 1.1, n: 30, source: Dillion et al. 2023}
              harmless: 0.5
            prompt:
              name: terse
              system: Answer with a number.
              template: "Rate: {sentence}"
        """
    ),
    "nulls for everything optional": pair_doc(
        "threshold: ~",
        "tags: ~",
        "note: ~",
        "human: {harmful: ~, harmless: {mean: 1, sd: ~, n: ~, source: ~}}",
        "prompt: {template: '{sentence}', name: ~, system: ~, multiline_sentences: ~}",
        top="description: ~\ndefaults: {threshold: ~, tags: ~, prompt: ~}\n",
    ),
    "a single tag": pair_doc("tags: pony", top="defaults: {tags: everyday}\n"),
    "thresholds at the ends": pair_doc("threshold: 8") + "  - {id: q, harmful: one, harmless: two, threshold: -8}\n",
    "human means at the ends": pair_doc("human: {harmful: -4, harmless: {mean: 4}}"),
    "whole float count": pair_doc("human: {harmful: {mean: -1, n: 30.0}}"),
    "2000-character sentence": pair_doc().replace("Person X fed the dog.", "a" * 2000),
    "2000 characters inside whitespace": pair_doc().replace("Person X fed the dog.", f"'  {'a' * 2000}  '"),
    "multi-line sentence under a prompt that allows it": pair_doc(
        "prompt: {template: 'Scenario: {sentence}', multiline_sentences: true}"
    ).replace("Person X fed the dog.", "|\n      Rating: none yet.\n      Person X fed the dog."),
    "a marker of the prompt inside a sentence": pair_doc().replace(
        "Person X fed the dog.", "'Person X wrote \"Rating: 4\" on the form.'"
    ),
    "non-ASCII letters and spaces": pair_doc().replace(
        "Person X fed the dog.", '"Person X fed the d\\u00f6g\\u00a0\\u2014 gently."'
    ),
    "id starting with a digit": pair_doc().replace("id: p", "id: 2023-01"),
    "version 1 as a float": "version: 1.0\n" + GOOD,
    "100 tags": pair_doc("tags: [" + ", ".join(f"t{i}" for i in range(100)) + "]"),
    "tabs and line breaks in text": pair_doc('note: "one line\\n\\tand a tabbed one"').replace(
        "Person X fed the dog.", '"Person X\\tfed the dog."'
    ),
    "template fillers written without a list": template_doc("tool: {harmful: a hammer, harmless: a sponge}"),
    "template filler of 200 characters": template_doc("tool:", f"  harmful: [{'h' * 200}]", "  harmless: [a sponge]"),
    "one check written without a list": template_doc(*TOOL) + "    checks: directional\n",
    "template pairs beside a pair": GOOD
    + "  - id: pony-template\n"
    + "    template: 'Person X {verb} his pony with {instrument}.'\n"
    + "    decides: instrument\n"
    + "  - id: prisoners\n"
    + "    template: 'Person X campaigned to release {qualifier} convicted prisoners.'\n"
    + "    decides: qualifier\n"
    + "    slots: {qualifier: {harmful: [rightfully], harmless: [wrongfully]}}\n"
    + "    checks: [directional]\n"
    + "    threshold: 1.5\n"
    + "    invariance_tolerance: 0.5\n"
    + "    tags: [qualifier_swap]\n"
    + "    note: Polarity of the qualifier flips in this context.\n",
    "inline personas with every persona key": pair_doc(
        "personas: [a nurse in Chicago, {id: farmer, description: a retired farmer from Iowa}]",
        "persona_min_pass: 0.5",
        "min_spread: {human_fraction: 0.5, sd: 0.25}",
        "human: {harmful: {mean: -3, sd: 1.2}}",
    ),
    "persona defaults": pair_doc(
        top="defaults: {personas: [a nurse, a farmer], persona_min_pass: 1, min_spread: 0, max_inconsistency: ~}\n"
    ),
    "a persona file with every check": pair_doc(
        "personas: personas/us_adults.personas.yaml", "max_inconsistency: 0.5", "min_spread: 1"
    ),
    "nulls for the persona keys": pair_doc(
        "personas: ~", "persona_min_pass: ~", "min_spread: ~", "max_inconsistency: ~"
    ),
    "min_spread with a null part": pair_doc("personas: [a, b]", "min_spread: {sd: 0.5, human_fraction: ~}"),
    "a pair opting out of the default personas": pair_doc(
        "personas: []", top="defaults: {personas: [a nurse, a farmer], min_spread: 0.5}\n"
    )
    + "  - {id: q, harmful: one, harmless: two}\n",
    **{f"example {path.name}": path.read_text("utf-8") for path in sorted(EXAMPLES.glob("*.moral.yaml"))},
}


@pytest.mark.parametrize("text", GOOD_DOCUMENTS.values(), ids=GOOD_DOCUMENTS.keys())
def test_good_documents_pass_the_parser_and_the_schema(validator, text):
    assert parser_accepts(text)
    assert schema_accepts(validator, text), list(validator.iter_errors(yaml.safe_load(text)))


SCHEMA_RULES = {name: rule for name, rule in RULES.items() if rule.in_schema and as_json(rule.text) is not None}


def test_the_agreement_corpus_covers_most_rules():
    assert len(SCHEMA_RULES) >= 70


@pytest.mark.parametrize("rule", SCHEMA_RULES.values(), ids=SCHEMA_RULES.keys())
def test_documents_the_parser_refuses_the_schema_refuses_too(validator, rule):
    assert not parser_accepts(rule.text)
    assert not schema_accepts(validator, rule.text)


PARSER_ONLY = {name: rule for name, rule in RULES.items() if not rule.in_schema and as_json(rule.text) is not None}


@pytest.mark.parametrize("rule", PARSER_ONLY.values(), ids=PARSER_ONLY.keys())
def test_rules_a_schema_cannot_state_are_left_to_the_parser(validator, rule):
    # Unique ids, two different sentences and unrepeated keys are beyond JSON Schema (or JSON).
    assert not parser_accepts(rule.text)
    assert schema_accepts(validator, rule.text)


def test_the_schema_refuses_a_document_with_nothing_in_it(validator):
    assert not validator.is_valid(None) and not parser_accepts("")


@pytest.mark.parametrize("load", ["pair file", "lexicon file"])
def test_a_path_that_no_file_can_have_is_a_problem_of_that_file_not_a_crash(load: str) -> None:
    from pytest_moralpairs.perturb import load_lexicon

    loader = load_suite if load == "pair file" else load_lexicon
    with pytest.raises(PairFileError, match="cannot read the file: not a usable path"):
        loader("bad\x00name.moral.yaml")


# --- through pytest: one broken file among good ones ---------------------------------------------

INI = "[pytest]\nmoral_model = moralpairs/lexical\n"
#: The lexical rater rates this pair -3 and -1: a gap of 2 passes at threshold 2.
PASSING = (
    "pairs:\n  - id: beard-shame\n    harmful: Person X cut the beard off a local elder to shame him.\n"
    "    harmless: Person X cut the beard off a local elder to shave him.\n    threshold: 2\n"
)
AUDITED_FILES = {
    "human sd of 401 digits": (
        pair_doc(f"human: {{harmful: {{mean: -3, sd: {HUGE}}}}}"),
        ":5 pair p: 'human.harmful.sd' must be a number >= 0, found a number too large to compute with",
    ),
    "escape sequences in a sentence": (
        pair_doc().replace("Person X kicked the dog.", '"\\e[2J\\e[31mPerson X kicked the dog.\\r"'),
        ":3 pair p: 'harmful' contains a control character (U+001B) at position 1",
    ),
    "100,000 tags": (
        pair_doc("tags: [" + ", ".join(f"t{i}" for i in range(100_000)) + "]"),
        ":5 pair p: 'tags' lists 100,000 tags; the limit is 100",
    ),
}


@pytest.mark.parametrize("content, says", AUDITED_FILES.values(), ids=AUDITED_FILES.keys())
def test_an_audited_file_is_a_collection_error_and_the_good_file_beside_it_still_runs(pytester, content, says):
    pytester.makeini(INI)
    (pytester.path / "good.moral.yaml").write_text(PASSING, encoding="utf-8")
    (pytester.path / "bad.moral.yaml").write_text(content, encoding="utf-8")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    text = result.stdout.str() + result.stderr.str()
    assert "ERROR collecting bad.moral.yaml" in text and f"\nbad.moral.yaml{says}" in text
    result.assert_outcomes(passed=1, errors=1)
    assert "INTERNALERROR" not in text and "Traceback" not in text and "Interrupted" not in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)


# --- large files: plain YAML read from the parser's events -------------------------------------

_PLAIN_DOCUMENTS = [
    "version: 1\npairs:\n  - id: a\n    harmful: 'x'\n    harmless: \"y\"\n    tags: [t, u]\n",
    "pairs:\n- {id: a, threshold: 2.5, human: {harmful: {mean: -3, sd: 1.0, n: 30}, harmless: 2}}\n- [1, 2]\n",
    "a: null\nb: ~\nc: true\nd: 2020-01-02\ne: 0x1f\nf: .inf\ng: ''\nh:\n  -\n  - - deep\n",
    "",
    "--- 3\n",
    "1: one\nfalse: no\n",
]
_FULL_LOADER_DOCUMENTS = [
    "a: &x {b: 1}\nc: *x\n",  # aliases
    "base: {t: 1}\npair: {<<: {t: 2}, u: 3}\n",  # a merge key
    "a: !!str 1\n",  # a tag
    "a: 1\na: 2\n",  # a repeated key
    "? [1, 2]\n: complex key\n",  # a collection as a key
    "a: 1\n---\nb: 2\n",  # two documents
]


def _with_lines(value):
    """A document as the loaders read it: values, and the lines of every mapping's keys and list's items."""
    if isinstance(value, dict):
        return (
            "map",
            value.line,
            dict(value.key_lines),
            value.duplicates,
            {k: _with_lines(v) for k, v in value.items()},
        )
    if isinstance(value, list):
        return ("list", value.line, list(value.item_lines), [_with_lines(v) for v in value])
    return (type(value).__name__, value)


def _full_loader(text: str):
    loader = yamlfile._SafeLoader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    except Exception as exc:  # noqa: BLE001 - compared with what read_yaml raises
        return type(exc).__name__, None
    finally:
        loader.dispose()


@pytest.mark.parametrize("text", _PLAIN_DOCUMENTS)
def test_a_plain_file_is_read_from_the_parser_events_as_the_full_loader_reads_it(text, monkeypatch):
    expected, duplicates = _full_loader(text)

    def no_nodes(self):
        raise AssertionError("a plain file needs no tree of nodes")

    monkeypatch.setattr(yamlfile._SafeLoader, "get_single_data", no_nodes)
    document, found = yamlfile.read_yaml(text, "p.moral.yaml")

    assert (_with_lines(document), found) == (_with_lines(expected), duplicates)


@pytest.mark.parametrize("text", _FULL_LOADER_DOCUMENTS)
def test_a_file_with_aliases_tags_merges_or_repeated_keys_is_read_by_the_full_loader(text):
    expected, duplicates = _full_loader(text)
    try:
        document, found = yamlfile.read_yaml(text, "p.moral.yaml")
    except PairFileError:
        assert duplicates is None  # the full loader refuses it too
        return
    assert (_with_lines(document), found) == (_with_lines(expected), duplicates)
