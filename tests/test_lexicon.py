"""Specification of lexicons (built-in and user files) and of sentence templates."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

import pytest_moralpairs
from pytest_moralpairs.pairs import PairFileError, parse_suite
from pytest_moralpairs.perturb import (
    Lexicon,
    LexiconFileError,
    LexiconProblem,
    Slot,
    Template,
    TemplateError,
    load_lexicon,
    load_lexicons,
    parse_lexicon,
    parse_template,
)

PACKAGE = Path(pytest_moralpairs.__file__).parent
BUILTIN_YAML = PACKAGE / "perturb" / "lexicon.yaml"


def lexicon_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems_of(text: str | bytes, path: str = "my.lexicon.yaml") -> list[LexiconProblem]:
    with pytest.raises(LexiconFileError) as caught:
        parse_lexicon(lexicon_text(text) if isinstance(text, str) else text, path)
    return caught.value.problems


def only_problem(text: str | bytes) -> LexiconProblem:
    problems = problems_of(text)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


GOOD = """
    slots:
      tool:
        harmful: [a hammer, a brick]
        harmless: [a pillow]
    names: [Ada]
"""


# --- the built-in lexicon ------------------------------------------------------------------------


def test_the_builtin_lexicon_has_the_documented_slots():
    assert set(Lexicon.builtin().slots) == {"verb", "instrument", "purpose", "qualifier", "object"}


@pytest.mark.parametrize(
    "slot, harmful, harmless",
    [
        ("verb", "lashed", "caressed"),
        ("instrument", "a whip", "a blade of grass"),
        ("purpose", "to shame him", "to shave him"),
        ("qualifier", "wrongfully", "rightfully"),
        ("object", "stray cats", "rats"),
    ],
)
def test_builtin_slots_list_the_canonical_filler_first(slot, harmful, harmless):
    found = Lexicon.builtin().slots[slot]
    assert (found.harmful[0], found.harmless[0]) == (harmful, harmless)


def test_no_builtin_filler_is_both_harmful_and_harmless():
    for slot in Lexicon.builtin().slots.values():
        assert not set(slot.harmful) & set(slot.harmless), slot.name


def test_no_builtin_filler_is_listed_twice_on_one_side():
    for slot in Lexicon.builtin().slots.values():
        assert len(set(slot.harmful)) == len(slot.harmful) and len(set(slot.harmless)) == len(slot.harmless)


def test_the_builtin_lexicon_has_names_to_replace_person_x():
    names = Lexicon.builtin().names
    assert names[0] == "Maria" and "a neighbour" in names and "the new teacher" in names


def test_the_builtin_lexicon_file_documents_itself_with_comments():
    text = BUILTIN_YAML.read_text()
    assert text.count("\n#") >= 10 and "replace: true" in text and "FIRST" in text


def test_the_builtin_lexicon_file_passes_the_user_file_validation():
    assert load_lexicon(BUILTIN_YAML).slots == Lexicon.builtin().slots


def test_the_builtin_lexicon_is_loaded_once():
    assert Lexicon.builtin() is Lexicon.builtin()


# --- values built in Python ------------------------------------------------------------------------


def test_a_free_slot_draws_from_harmful_fillers_first_then_harmless():
    slot = Slot("tool", ("a hammer", "a brick"), ("a pillow",))
    assert slot.fillers == ("a hammer", "a brick", "a pillow")


def test_a_slot_knows_the_polarity_of_its_fillers():
    slot = Slot("tool", ("a hammer",), ("a pillow",))
    assert [slot.polarity(f) for f in ("a hammer", "a pillow", "a rose")] == ["harmful", "harmless", None]


def test_a_slot_built_in_python_refuses_a_filler_of_both_polarities():
    with pytest.raises(ValueError, match="both harmful and harmless"):
        Slot("tool", ("a hammer",), ("a hammer",))


def test_a_slot_built_in_python_refuses_an_empty_side():
    with pytest.raises(ValueError, match="'harmless' is empty"):
        Slot("tool", ("a hammer",), ())


def test_a_lexicon_is_immutable():
    lexicon = Lexicon.builtin()
    with pytest.raises(TypeError):
        lexicon.slots["verb"] = lexicon.slots["object"]  # type: ignore[index]


# --- user lexicon files ---------------------------------------------------------------------------


def test_a_user_lexicon_file_loads_in_file_order(tmp_path):
    path = tmp_path / "my.lexicon.yaml"
    path.write_text(lexicon_text(GOOD))
    lexicon = load_lexicon(path)
    assert lexicon.slots["tool"] == Slot("tool", ("a hammer", "a brick"), ("a pillow",))
    assert lexicon.names == ("Ada",) and lexicon.replace is False and lexicon.path == str(path)


def test_a_user_lexicon_extends_the_builtin_one():
    merged = Lexicon.merged(parse_lexicon(lexicon_text(GOOD)))
    assert {"tool", "verb", "instrument"} <= set(merged.slots)


def test_a_user_slot_replaces_the_builtin_slot_of_the_same_name_whole():
    user = parse_lexicon("slots:\n  verb:\n    harmful: [slapped]\n    harmless: [hugged]\n")
    assert Lexicon.merged(user).slots["verb"] == Slot("verb", ("slapped",), ("hugged",))


def test_user_names_replace_the_builtin_names():
    assert Lexicon.merged(parse_lexicon(lexicon_text(GOOD))).names == ("Ada",)


def test_a_user_lexicon_without_names_keeps_the_builtin_names():
    user = parse_lexicon("slots:\n  tool:\n    harmful: [a hammer]\n    harmless: [a pillow]\n")
    assert Lexicon.merged(user).names == Lexicon.builtin().names


def test_replace_true_drops_the_builtin_lexicon_entirely():
    user = parse_lexicon("replace: true\n" + lexicon_text(GOOD))
    merged = Lexicon.merged(user)
    assert set(merged.slots) == {"tool"} and merged.names == ("Ada",)


def test_extend_leaves_both_lexicons_unchanged():
    base, user = Lexicon.builtin(), parse_lexicon(lexicon_text(GOOD))
    base.extend(user)
    assert "tool" not in base.slots and "verb" not in user.slots


def test_a_slot_may_carry_a_note():
    text = "slots:\n  tool:\n    harmful: [a hammer]\n    harmless: [a pillow]\n    note: what it is done with\n"
    assert "tool" in parse_lexicon(text).slots


def test_lexicon_file_errors_are_pair_file_errors():
    assert issubclass(LexiconFileError, PairFileError)


# --- malformed user lexicons: every problem named, with the file, the slot and the line ---------


def test_an_unknown_slot_key_is_named_with_its_slot_line_and_a_suggestion():
    problems = problems_of(
        """
        slots:
          tool:
            harmful: [a hammer]
            harmles: [a pillow]
        """
    )
    problem = next(p for p in problems if "unknown" in p.message)
    assert problem.slot == "tool" and problem.line == 4
    assert "'harmles'" in problem.message and "did you mean 'harmless'" in problem.message


def test_the_message_names_the_file_the_line_and_the_slot():
    problem = only_problem("slots:\n  tool:\n    harmful: [a hammer]\n    harmless: []\n")
    assert str(problem).startswith("my.lexicon.yaml:4 slot tool: ")


def test_an_unknown_top_level_key_is_named():
    problem = only_problem("slot:\n  tool: {harmful: [a], harmless: [b]}\nnames: [Ada]\n")
    assert "unknown top-level key(s) 'slot'" in problem.message and "did you mean 'slots'" in problem.message


def test_an_empty_filler_list_is_a_problem():
    problem = only_problem("slots:\n  tool:\n    harmful: []\n    harmless: [a pillow]\n")
    assert "'harmful' is empty" in problem.message and problem.line == 3


def test_a_missing_side_is_a_problem():
    problem = only_problem("slots:\n  tool:\n    harmful: [a hammer]\n")
    assert "missing key 'harmless'" in problem.message and problem.slot == "tool"


def test_a_filler_that_is_not_text_is_named_by_its_type_and_line():
    problem = only_problem("slots:\n  tool:\n    harmful:\n      - a hammer\n      - 12\n    harmless: [a pillow]\n")
    assert "not text: a number (12)" in problem.message and problem.line == 5


def test_an_empty_filler_is_a_problem():
    problem = only_problem("slots:\n  tool:\n    harmful: ['  ']\n    harmless: [a pillow]\n")
    assert "an empty filler" in problem.message


def test_a_filler_with_a_brace_is_refused_because_templates_reserve_braces():
    problem = only_problem("slots:\n  tool:\n    harmful: ['a {hammer}']\n    harmless: [a pillow]\n")
    assert "brace" in problem.message


@pytest.mark.parametrize(
    "escape, code", [(r"\e", 0x1B), (r"\0", 0x00), (r"\r", 0x0D), (r"\x7f", 0x7F), (r"\x9b", 0x9B)]
)
def test_a_filler_with_a_control_character_is_refused_with_the_character_and_its_position(escape, code):
    problem = only_problem(
        f'slots:\n  tool:\n    harmful: [a hammer, "a {escape}[31mbrick"]\n    harmless: [a pillow]\n'
    )
    assert problem.message == f"'harmful' has a filler containing a control character (U+{code:04X}) at position 3"
    assert (problem.slot, problem.line) == ("tool", 3)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", str(problem))


def test_a_name_with_a_control_character_is_refused():
    problem = only_problem('names: [Ada, "Bob\\e]0;owned\\a"]\n')
    assert "'names' has a name containing a control character (U+001B) at position 4" in problem.message


@pytest.mark.parametrize("key", ["description", "note"])
def test_a_description_or_note_with_a_control_character_is_refused(key):
    text = 'description: "\\e[2J"\n' + lexicon_text(GOOD)
    if key == "note":
        text = lexicon_text(GOOD).replace("harmless: [a pillow]", 'harmless: [a pillow]\n    note: "\\e[2J"')
    problem = only_problem(text)
    assert f"'{key}' contains a control character (U+001B) at position 1" in problem.message


def test_a_tab_inside_a_filler_is_still_allowed():
    lexicon = parse_lexicon('slots:\n  tool:\n    harmful: ["a\\thammer"]\n    harmless: [a pillow]\n')
    assert lexicon.slots["tool"].harmful == ("a\thammer",)


def test_a_slot_built_in_python_refuses_a_filler_with_a_control_character():
    with pytest.raises(ValueError, match=r"control character \(U\+001B\)"):
        Slot("tool", ("a \x1b[31mhammer",), ("a pillow",))


def test_a_version_too_large_for_a_float_is_a_problem_not_a_crash():
    problem = only_problem("version: 1" + "0" * 400 + "\n" + lexicon_text(GOOD))
    assert "'version' must be 1, found a number too large to compute with" in problem.message


def test_a_filler_listed_as_both_harmful_and_harmless_is_named_with_both_lines():
    problem = only_problem(
        """
        slots:
          tool:
            harmful:
              - a hammer
            harmless:
              - a pillow
              - a hammer
        """
    )
    assert "'a hammer' is listed as both harmful (line 4) and harmless" in problem.message and problem.line == 7


def test_a_filler_listed_twice_on_one_side_is_a_problem():
    problem = only_problem("slots:\n  tool:\n    harmful: [a hammer, a hammer]\n    harmless: [a pillow]\n")
    assert "lists 'a hammer' twice" in problem.message


def test_a_name_listed_twice_is_named_with_its_first_line():
    problem = only_problem("names:\n  - Ada\n  - Ada\n")
    assert (problem.message, problem.line) == ("'names' lists 'Ada' twice (first on line 2)", 3)


def test_a_duplicate_slot_name_is_named_with_both_lines():
    problem = only_problem(
        """
        slots:
          tool:
            harmful: [a hammer]
            harmless: [a pillow]
          tool:
            harmful: [a brick]
            harmless: [a rose]
        """
    )
    assert problem.slot == "tool" and problem.line == 5
    assert "duplicate slot name" in problem.message and "first on line 2" in problem.message


def test_a_slot_name_that_cannot_be_a_placeholder_is_refused():
    problem = only_problem("slots:\n  my tool:\n    harmful: [a hammer]\n    harmless: [a pillow]\n")
    assert "slot name a string ('my tool') is not usable" in problem.message


def test_a_slot_that_is_not_a_mapping_is_a_problem():
    problem = only_problem("slots:\n  tool: [a hammer]\n")
    assert problem.slot == "tool" and "found a list of 1 items" in problem.message


def test_replace_must_be_a_boolean():
    problem = only_problem("replace: sometimes\n" + lexicon_text(GOOD))
    assert "'replace' must be true or false" in problem.message


def test_names_must_be_text():
    problem = only_problem("names: [Ada, 3]\n")
    assert "'names' has a name that is not text" in problem.message and problem.line == 1


def test_names_may_not_list_person_x_itself():
    assert "no edit" in only_problem("names: [Person X]\n").message


def test_a_file_with_neither_slots_nor_names_is_a_problem():
    assert "neither" in only_problem("version: 1\n").message


def test_an_empty_file_is_a_problem():
    assert "the file is empty" in only_problem("").message


def test_every_problem_of_a_file_is_reported_together():
    problems = problems_of(
        """
        colour: blue
        slots:
          tool:
            harmful: []
            harmless: [3]
          verb:
            harmful: [hit]
            harmless: [hit]
        """
    )
    assert [p.line for p in problems] == [1, 4, 5, 8]
    assert [p.slot for p in problems] == [None, "tool", "tool", "verb"]


def test_bad_yaml_is_a_problem_with_its_line():
    problem = only_problem("slots:\n  tool:\n    harmful: [a hammer\n    harmless: [a pillow]\n")
    assert problem.message.startswith("invalid YAML") and problem.line is not None


def test_a_binary_file_is_refused_as_not_text():
    assert "not a text file" in only_problem(b"slots:\n  tool: \x00\x01\x02\n").message


def test_a_file_that_is_not_utf8_is_refused_as_not_text():
    assert "not a text file" in only_problem(b"names: [\xff\xfe]\n").message


def test_python_tags_are_refused_by_the_safe_loader():
    problem = only_problem("names: [!!python/object/apply:os.system ['echo hi']]\n")
    assert "is not allowed" in problem.message


def test_a_long_value_is_never_echoed_whole():
    long = "x" * 150
    problem = only_problem(f"slots:\n  tool:\n    harmful: [{long}, {long}]\n    harmless: [a pillow]\n")
    assert long not in str(problem) and "x" * 37 + "..." in str(problem)


def test_a_missing_file_is_a_lexicon_file_error_naming_it(tmp_path):
    with pytest.raises(LexiconFileError) as caught:
        load_lexicon(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(caught.value) and "cannot read the file" in str(caught.value)


def test_a_file_that_is_not_a_lexicon_file_is_said_to_be_one_quoting_nothing_from_it():
    problem = only_problem("OPENAI_API_KEY: sk-proj-SECRET\n")
    assert problem.message == "not a lexicon file: it has none of the keys description, names, replace, slots, version"
    assert "SECRET" not in only_problem("OPENAI_API_KEY=sk-proj-SECRET\n").message


def test_a_filler_with_a_line_break_is_refused_with_its_position():
    problem = only_problem('slots:\n  tool:\n    harmful: ["a\\nhammer"]\n    harmless: [a pillow]\n')
    assert problem.message == (
        "'harmful' has a filler with a line break at position 2: a filler is a word or a phrase on one line"
    )


def test_a_name_with_a_zero_width_space_is_refused_naming_the_code_point():
    problem = only_problem('names: [Ada, "Bo\\u200bb"]\n')
    assert problem.message == (
        "'names' has a name containing the format character U+200B ZERO WIDTH SPACE at position 3"
    )


def test_a_slot_built_in_python_refuses_a_filler_with_a_line_break():
    with pytest.raises(ValueError, match="line break at position 6"):
        Slot("tool", ("a big\nhammer",), ("a pillow",))


def test_several_lexicon_files_are_merged_onto_the_builtin_one_in_order(tmp_path):
    (tmp_path / "one.yaml").write_text("slots:\n  tool: {harmful: [a hammer], harmless: [a pillow]}\n", "utf-8")
    (tmp_path / "two.yaml").write_text("slots:\n  tool: {harmful: [a brick], harmless: [a sponge]}\n", "utf-8")
    lexicon = load_lexicons([tmp_path / "one.yaml", tmp_path / "two.yaml"])
    assert lexicon.slots["tool"].harmful == ("a brick",) and "verb" in lexicon.slots


def test_every_problem_of_every_lexicon_file_is_reported_at_once(tmp_path):
    (tmp_path / "one.yaml").write_text("slots:\n  tool: {harmful: [], harmless: [a pillow]}\n", "utf-8")
    (tmp_path / "two.yaml").write_text("slot: {}\nnames: [Ada, Ada]\n", "utf-8")
    with pytest.raises(LexiconFileError) as caught:
        load_lexicons([tmp_path / "one.yaml", tmp_path / "gone.yaml", tmp_path / "two.yaml"])
    shown = [str(p) for p in caught.value.problems]
    names = ("one.yaml", "gone.yaml", "two.yaml", "two.yaml")
    assert [line.split(":")[0] for line in shown] == [str(tmp_path / name) for name in names]
    assert "'harmful' is empty" in shown[0] and "cannot read the file" in shown[1]
    assert "did you mean 'slots'" in shown[2] and "lists 'Ada' twice" in shown[3]


def test_a_lexicon_file_outside_the_allowed_directories_is_refused_unread(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "words.yaml").write_text("OPENAI_API_KEY: SECRET\n", "utf-8")
    with pytest.raises(LexiconFileError) as caught:
        load_lexicons([tmp_path / "words.yaml"], allowed_dirs=[tmp_path / "proj"])
    (problem,) = caught.value.problems
    assert problem.message.startswith("the lexicon file is outside ") and str(tmp_path / "proj") in problem.message
    assert "SECRET" not in str(problem) and problem.path == str(tmp_path / "words.yaml")


# --- templates ---------------------------------------------------------------------------------------


def test_parse_template_returns_slot_names_in_order_of_first_appearance():
    assert parse_template("Person X {verb} his pony with {instrument}, then {verb} it again.") == (
        "verb",
        "instrument",
    )


def test_double_braces_are_literal_braces():
    assert parse_template("{{not a slot}} {verb}") == ("verb",)
    assert Template("{{x}} {verb}").render({"verb": "fed"}) == "{x} fed"


@pytest.mark.parametrize("text", ["Person X {verb his pony.", "Person X verb} his pony.", "a { b"])
def test_unmatched_braces_are_a_template_error(text):
    with pytest.raises(TemplateError, match="malformed braces"):
        parse_template(text)


@pytest.mark.parametrize("text", ["Person X {} his pony.", "{0}", "{verb!r}", "{verb:>9}", "{verb.x}"])
def test_a_placeholder_must_be_a_bare_slot_name(text):
    with pytest.raises(TemplateError, match="placeholder"):
        parse_template(text)


def test_a_template_without_placeholders_is_a_template_error():
    with pytest.raises(TemplateError, match="no {slot} placeholders"):
        Template("Person X fed his pony.")


def test_a_template_must_contain_its_decisive_slot():
    with pytest.raises(TemplateError, match=r"decisive slot \{instrument\} is not in template"):
        Template("Person X {verb} his pony.", decides="instrument")


def test_an_unknown_slot_is_a_template_error_with_a_suggestion():
    with pytest.raises(TemplateError, match=r"unknown slot \{instrumant\}.*did you mean \{instrument\}"):
        Template("Person X hit it with {instrumant}.").resolve(Lexicon.builtin())


def test_a_template_override_replaces_the_lexicon_slot_for_that_template_only():
    template = Template(
        "Person X released {qualifier} convicted prisoners.",
        decides="qualifier",
        slots_override={"qualifier": {"harmful": ["rightfully"], "harmless": ["wrongfully"]}},
    )
    assert template.resolve(Lexicon.builtin())["qualifier"] == Slot("qualifier", ("rightfully",), ("wrongfully",))
    assert Lexicon.builtin().slots["qualifier"].harmful[0] == "wrongfully"


def test_an_override_for_a_slot_the_template_lacks_is_a_template_error():
    with pytest.raises(TemplateError, match=r"slots_override names \{object\}"):
        Template("Person X {verb} his pony.", slots_override={"object": (["a"], ["b"])})


def test_an_override_with_a_filler_of_both_polarities_is_a_template_error():
    with pytest.raises(TemplateError, match="both harmful and harmless"):
        Template("Person X {verb} his pony.", slots_override={"verb": (["hit"], ["hit"])})


def test_a_template_renders_each_placeholder_with_its_filler():
    template = Template("Person X {verb} his pony with {instrument}.")
    assert template.render({"verb": "fed", "instrument": "a feather"}) == "Person X fed his pony with a feather."


# --- the rule for fillers, one rule wherever a slot is written -----------------------------------

FORMATS = ["lexicon file", "pair file", "Slot", "template override"]


def slot_in(form: str, harmful: str, harmless: str) -> Slot:
    """The slot ``tool`` written in ``form`` with its sides as these YAML values; raises what that
    form raises for a slot that breaks the rule."""
    if form == "lexicon file":
        return parse_lexicon(f"slots:\n  tool:\n    harmful: {harmful}\n    harmless: {harmless}\n").slots["tool"]
    if form == "pair file":
        text = (
            "pairs:\n  - id: t\n    template: 'Person X cleaned his car with {tool}.'\n    decides: tool\n"
            f"    slots:\n      tool:\n        harmful: {harmful}\n        harmless: {harmless}\n"
        )
        return parse_suite(text, "car.moral.yaml").templates[0].slots[0]
    sides = yaml.safe_load(f"[{harmful}, {harmless}]")
    if form == "Slot":
        return Slot("tool", *sides)
    return Template("Person X cleaned his car with {tool}.", "tool", {"tool": sides}).slots_override["tool"]


@pytest.mark.parametrize("form", FORMATS)
def test_one_filler_may_stand_without_a_list_in_every_format(form):
    assert slot_in(form, "a hammer", "[a pillow, a sponge]") == Slot("tool", ("a hammer",), ("a pillow", "a sponge"))


#: Slots that break the rule for fillers: (harmful, harmless) as YAML, and what every format says.
BROKEN_SLOTS = {
    "a filler twice on one side": ("[a hammer, a brick, a hammer]", "a pillow", "harmful' lists 'a hammer' twice"),
    "a filler on both sides": ("[a hammer]", "[a pillow, a hammer]", "filler 'a hammer' is listed as both harmful"),
    "an empty side": ("[a hammer]", "[]", "harmless' is empty: a slot needs at least one harmless filler"),
    "a filler with a brace": ("['a {hammer}']", "a pillow", "has a filler containing a brace, which templates reserve"),
}


@pytest.mark.parametrize("form", FORMATS)
@pytest.mark.parametrize("harmful, harmless, says", BROKEN_SLOTS.values(), ids=BROKEN_SLOTS.keys())
def test_a_slot_breaking_the_rule_is_refused_alike_in_every_format(form, harmful, harmless, says):
    with pytest.raises((PairFileError, ValueError)) as caught:
        slot_in(form, harmful, harmless)
    assert says in str(caught.value)


@pytest.mark.parametrize("form", ["lexicon file", "pair file"])
def test_a_file_names_each_bad_filler_at_its_own_line(form):
    with pytest.raises(PairFileError) as caught:
        slot_in(form, "\n        - a hammer\n        - 3\n        - ' a brick'", "a pillow")
    lines = [p.line for p in caught.value.problems]
    assert len(lines) == 2 and lines[1] == lines[0] + 1


@pytest.mark.parametrize(
    "form, text",
    [
        ("lexicon file", "slots:\n  {name}: {{harmful: a, harmless: b}}\n"),
        (
            "pair file",
            "pairs:\n  - id: t\n    template: 'Person X {{{name}}}.'\n    decides: verb\n"
            "    slots: {{{name}: {{harmful: a, harmless: b}}}}\n",
        ),
    ],
)
def test_a_slot_name_of_over_100_characters_is_refused_in_every_file(form, text):
    name = "s" * 101
    load = parse_lexicon if form == "lexicon file" else parse_suite
    with pytest.raises(PairFileError, match=r"slot name a string \('s+\.\.\.'\) is not usable in a \{placeholder\}"):
        load(text.format(name=name))


def test_a_slot_name_of_over_100_characters_is_refused_in_python_and_in_a_template():
    name = "s" * 101
    with pytest.raises(ValueError, match="is not usable in a {placeholder}: use up to 100 letters"):
        Slot(name, ("a",), ("b",))
    with pytest.raises(TemplateError, match="is not a bare slot name"):
        parse_template(f"Person X {{{name}}}.")
