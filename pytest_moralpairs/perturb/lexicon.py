"""Lexicons of swappable words with a moral polarity, and sentence templates that use them.

A **lexicon** has *slots* — places in a sentence where a word or phrase can be swapped — and a
list of *names* that may stand in for "Person X". Each :class:`Slot` lists ``harmful`` fillers
(lashed, a whip, to shame him) and ``harmless`` ones (caressed, a feather, to shave him), each list
ordered simplest and most canonical first: Hypothesis shrinks toward the first entry, so a shrunk
failure shows the canonical edit. The built-in lexicon is ``lexicon.yaml`` next to this module
(:meth:`Lexicon.builtin`); :func:`load_lexicon` reads a user's file of the same format, validated
like a pair file (every problem a :class:`LexiconProblem` naming the file, the slot and the line,
raised together as :class:`LexiconFileError`, a :class:`~pytest_moralpairs.pairs.PairFileError`).

The rule for fillers is :func:`check_slot`, the one check of a slot wherever it is written: a
lexicon file's slot, a pair file's template ``slots``, a :class:`Slot` or a template override
built in Python. Each side is a list of fillers (one string stands for a list of one), not empty,
no filler twice, each filler one line of text of at most ``MAX_FILLER_CHARS`` characters without
control or format characters, braces or spaces around it; and no filler is both harmful and
harmless.

Extending: :meth:`Lexicon.extend` adds a user lexicon's slots to a base one, a user slot replacing
the base slot of the same name whole, and a non-empty user ``names`` list replacing the base one.
A user file with ``replace: true`` at the top replaces the base lexicon entirely.
:meth:`Lexicon.merged` is ``Lexicon.builtin().extend(user)``.

A **template** is a sentence with ``{slot}`` placeholders, e.g.
``"Person X {verb} his pony with {instrument}."`` (``{{`` and ``}}`` stand for literal braces).

THE RULE — which filling is harmful
-----------------------------------
Exactly one slot of a template, ``decides``, carries the moral weight of the pair:

* the **harmful** sentence fills ``decides`` with one of that slot's *harmful* fillers;
* the **harmless** sentence fills ``decides`` with one of its *harmless* fillers;
* every **other** slot gets the **same** filler in both sentences, drawn from all of that slot's
  fillers, of either polarity (harmful ones first).

So the two sentences differ only in the decisive slot, and a free slot may hold a filler of either
polarity: deciding by ``instrument``, "Person X caressed his pony with a whip." (harmful) pairs
with "Person X caressed his pony with a feather." (harmless). Whether a filler is harmful can
depend on the sentence: "wrongfully" is harmful in "{qualifier} accused his colleague" but
*harmless* in "released {qualifier} convicted prisoners". A template therefore may override a
slot's fillers for its own context, ``Template(text, decides, slots_override={"qualifier":
Slot("qualifier", harmful=("rightfully",), harmless=("wrongfully",))})``; an override is used
instead of the lexicon's slot of that name, for that template only.

Nothing here imports pytest or Hypothesis; the strategies are in :mod:`pytest_moralpairs.strategies`.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import difflib
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Iterable, Mapping, Union

from ..prompt import SIDES, PromptTemplate
from ..validation import (
    Checker,
    PairFileError,
    Problem,
    describe,
    is_name,
    line_breaks,
    line_of,
    name_problem,
    one_or_many,
    shorten,
    unprintable,
    with_lines,
)
from ..yamlfile import AllowedDirs, gc_paused, read_file, read_yaml

#: A filler is a word or a phrase, never a paragraph.
MAX_FILLER_CHARS = 200
TOP_KEYS = frozenset({"version", "description", "replace", "slots", "names"})
SLOT_KEYS = frozenset({"harmful", "harmless", "note"})
#: A filler's polarity is the side of the pair whose sentence it goes in.
POLARITIES = SIDES
#: The placeholder for the actor that name edits replace.
PERSON = "Person X"

LexiconLike = Union["Lexicon", str, Path, None]


# --- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A swappable place in a sentence: its harmful and harmless fillers, canonical first."""

    name: str
    harmful: tuple[str, ...]
    harmless: tuple[str, ...]

    def __post_init__(self) -> None:
        # The rule a file's slot is held to (check_slot), its problems said without a place.
        checker = Checker("<slot>")
        name = name_problem("slot", self.name)
        if name is not None:
            checker.problem(name)
        sides = {side: tuple(one_or_many(getattr(self, side))) for side in POLARITIES}
        fillers = _fillers(checker, sides, "", None, None)
        if fillers is None or checker.problems:
            raise ValueError(f"slot {self.name!r}: " + "; ".join(p.message for p in checker.problems))
        object.__setattr__(self, "harmful", fillers[0])
        object.__setattr__(self, "harmless", fillers[1])

    @property
    def fillers(self) -> tuple[str, ...]:
        """Every filler, harmful ones first: what a free (non-decisive) slot draws from."""
        return self.harmful + self.harmless

    def polarity(self, filler: str) -> str | None:
        """``"harmful"``, ``"harmless"``, or None for a filler this slot does not list."""
        if filler in self.harmful:
            return "harmful"
        if filler in self.harmless:
            return "harmless"
        return None


def check_slot(
    checker: Checker,
    name: str,
    sides: Mapping[str, Any],
    where: str,
    pair: str | None,
    line: int | None,
    *,
    hint: str = "",
) -> Slot | None:
    """The slot ``name`` whose fillers ``sides`` gives (``harmful`` and ``harmless``), held to the
    rule for fillers (see the module's docstring); None if it breaks it. Problems go to
    ``checker``, labelled ``pair``; ``where`` names the slot's mapping in them ('' for a lexicon's
    own slot, whose sides are its keys), and ``hint`` ends the problem of a filler on both sides."""
    fillers = _fillers(checker, sides, where, pair, line, hint)
    return None if fillers is None else Slot(name, *fillers)


def _fillers(
    checker: Checker, sides: Mapping[str, Any], where: str, pair: str | None, line: int | None, hint: str = ""
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    before = len(checker.problems)
    found: dict[str, dict[str, int | None]] = {}
    for side in POLARITIES:
        what = f"{where}.{side}" if where else side
        side_line = line_of(sides, side, line)
        if side not in sides:
            checker.problem(f"missing key '{what}': a list of {side} fillers, canonical first", pair, side_line)
            found[side] = {}
            continue
        found[side] = word_list(
            checker, sides[side], what, pair, side_line, noun="filler", empty=f"a slot needs at least one {side} filler"
        )
    inside = f" in '{where}'" if where else ""
    for filler, harmless_line in found["harmless"].items():
        if filler in found["harmful"]:
            first = found["harmful"][filler]
            checker.problem(
                f"filler {shorten(filler)!r} is listed as both harmful"
                + (f" (line {first})" if first else "")
                + f" and harmless{inside}: a filler has one polarity in a slot{hint}",
                pair,
                harmless_line,
            )
    if len(checker.problems) > before:
        return None
    return tuple(found["harmful"]), tuple(found["harmless"])


def word_list(
    checker: Checker,
    value: Any,
    what: str,
    pair: str | None,
    line: int | None,
    *,
    noun: str,
    empty: str,
    items: str = "",
) -> dict[str, int | None]:
    """The words of a list of fillers (or of a lexicon's names), in order, each with its line.

    One string stands for a list of one; the list must not be empty (``empty`` says why), nor
    list a word twice, and each word must be a usable filler. Problems name the list ``what`` and
    the word a ``noun``; ``items`` says what the list holds ("fillers" by default)."""
    value = one_or_many(value)
    if not isinstance(value, (list, tuple)):
        checker.problem(f"'{what}' must be a list of {items or noun + 's'}, found {describe(value)}", pair, line)
        return {}
    if not value:
        checker.problem(f"'{what}' is empty: {empty}", pair, line)
        return {}
    words: dict[str, int | None] = {}
    for word, item_line in with_lines(value, line):
        reason = _filler_problem(word, noun)
        if reason:
            checker.problem(f"'{what}' has {reason}", pair, item_line)
        elif word in words:
            first = words[word]
            checker.problem(
                f"'{what}' lists {shorten(word)!r} twice" + (f" (first on line {first})" if first else ""),
                pair,
                item_line,
            )
        else:
            words[word] = item_line
    return words


def _filler_problem(filler: Any, noun: str = "filler") -> str | None:
    if not isinstance(filler, str):
        return f"a {noun} that is not text: {describe(filler)}"
    unusable = unprintable(filler)
    if unusable is not None:  # fillers are printed in generated sentences and messages
        return f"a {noun} containing {unusable}"
    breaks = line_breaks(filler)
    if breaks:  # a generated sentence is one line, as every sentence rated
        return f"a {noun} with a line break at position {breaks[0]}: a {noun} is a word or a phrase on one line"
    if not filler.strip():
        return f"an empty {noun}"
    if filler != filler.strip():
        return f"a {noun} with spaces around it: {describe(filler)}"
    if len(filler) > MAX_FILLER_CHARS:
        return f"a {noun} of {len(filler):,} characters; the limit is {MAX_FILLER_CHARS}"
    if "{" in filler or "}" in filler:
        return f"a {noun} containing a brace, which templates reserve: {describe(filler)}"
    return None


@dataclass(frozen=True)
class Lexicon:
    """Slots by name and replacement names for "Person X".

    ``replace`` is true for a user lexicon that replaces, rather than extends, the one it is
    merged onto (``replace: true`` in the file); ``path`` names the file it came from.
    """

    slots: Mapping[str, Slot]
    names: tuple[str, ...] = ()
    replace: bool = False
    path: str | None = None

    def __post_init__(self) -> None:
        slots = dict(self.slots)
        for key, slot in slots.items():
            if not isinstance(slot, Slot) or slot.name != key:
                raise ValueError(f"slots must map each name to the Slot of that name; {key!r} does not")
        object.__setattr__(self, "slots", MappingProxyType(slots))
        object.__setattr__(self, "names", tuple(self.names))

    @staticmethod
    def builtin() -> Lexicon:
        """The lexicon shipped with the package (``perturb/lexicon.yaml``)."""
        return _builtin()

    @classmethod
    def merged(cls, user: Lexicon | None = None) -> Lexicon:
        """The built-in lexicon extended by ``user`` (or replaced by it, if it says ``replace``)."""
        return cls.builtin().extend(user)

    def extend(self, other: Lexicon | None) -> Lexicon:
        """This lexicon with ``other``'s slots added; ``other`` wins on a shared slot name.

        ``other``'s names replace these when it has any. An ``other`` with ``replace`` set is
        returned as it is: it replaces this lexicon entirely.
        """
        if other is None:
            return self
        if other.replace:
            return other
        slots = dict(self.slots)
        slots.update(other.slots)
        return Lexicon(slots, other.names or self.names, path=other.path or self.path)

    def slot(self, name: str) -> Slot:
        """The slot called ``name``; a :class:`TemplateError` with a suggestion if there is none."""
        try:
            return self.slots[name]
        except KeyError:
            raise TemplateError(f"unknown slot {{{shorten(name)}}}{_known(name, self.slots)}") from None


def _known(name: str, slots: Mapping[str, Slot]) -> str:
    close = difflib.get_close_matches(name, sorted(slots), n=1)
    hint = f"; did you mean {{{close[0]}}}?" if close else ""
    shown = ", ".join(sorted(slots)[:20]) + (" ..." if len(slots) > 20 else "")
    return f" (the lexicon has: {shown or 'no slots'}){hint}"


def as_lexicon(value: LexiconLike) -> Lexicon:
    """What the strategies' ``lexicon=`` argument accepts: None is the built-in lexicon, a
    :class:`Lexicon` is used as it is, and a path is a lexicon file merged onto the built-in."""
    if value is None:
        return Lexicon.builtin()
    if isinstance(value, Lexicon):
        return value
    if isinstance(value, (str, Path)):
        return Lexicon.merged(load_lexicon(value))
    raise TypeError(f"lexicon must be a Lexicon, a path to a lexicon file or None, not {type(value).__name__}")


# --- templates --------------------------------------------------------------------------------


class TemplateError(ValueError):
    """A template that cannot be filled: malformed braces, unknown slots, no decisive slot."""


def parse_template(text: str) -> tuple[str, ...]:
    """The slot names of ``text``'s ``{slot}`` placeholders, in order of first appearance.

    ``{{`` and ``}}`` are literal braces. Raises :class:`TemplateError` for unmatched braces and
    for placeholders that are not a bare slot name (``{}``, ``{0}``, ``{verb!r}``, ``{verb:>9}``).
    """
    if not isinstance(text, str):
        raise TemplateError(f"a template must be text, found {describe(text)}")
    shown = repr(shorten(text, 60))
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"malformed braces in template {shown}: {exc}; write {{{{ and }}}} for a literal brace"
        ) from None
    names: list[str] = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if not name:
            raise TemplateError(f"empty placeholder {{}} in template {shown}: write the slot name, as in {{verb}}")
        if not is_name(name) or spec or conversion:
            raise TemplateError(
                f"placeholder {{{shorten(name)}...}} in template {shown} is not a bare slot name such as {{verb}}"
            )
        if name not in names:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class Template:
    """A sentence with ``{slot}`` placeholders, the slot that ``decides`` the moral difference,
    and slots whose fillers this template overrides for its own context.

    ``slots_override`` maps a slot name to a :class:`Slot`, to ``{"harmful": [...], "harmless":
    [...]}``, or to a ``(harmful, harmless)`` pair of lists; it must name slots of the template.
    ``decides`` may be None for a template used only to make single sentences.
    """

    text: str
    decides: str | None = None
    slots_override: Mapping[str, Slot] = field(default_factory=dict)
    #: The slot names of the placeholders, in order of first appearance (parsed once, here).
    slot_names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = parse_template(self.text)
        object.__setattr__(self, "slot_names", names)
        shown = repr(shorten(self.text, 60))
        if not names:
            raise TemplateError(f"template {shown} has no {{slot}} placeholders: there is nothing to vary")
        if self.decides is not None and self.decides not in names:
            raise TemplateError(
                f"the decisive slot {{{shorten(str(self.decides))}}} is not in template {shown}, "
                f"which has {', '.join('{' + n + '}' for n in names)}"
            )
        overrides: dict[str, Slot] = {}
        for name, value in dict(self.slots_override).items():
            if name not in names:
                raise TemplateError(f"slots_override names {{{shorten(str(name))}}}, which template {shown} lacks")
            overrides[name] = _as_slot(name, value)
        object.__setattr__(self, "slots_override", MappingProxyType(overrides))

    @property
    def leading_slot(self) -> str | None:
        """The slot whose placeholder starts the template (its fillers start every sentence), if any."""
        match = re.match(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", self.text)
        return match.group(1) if match else None

    def prompt_problems(self, slots: Mapping[str, Slot], prompt: PromptTemplate) -> list[tuple[str, str, str]]:
        """The fillers of ``slots`` that would start a sentence of this template with a marker of
        ``prompt`` ("Rating:"), as ``(slot, side, marker)``: the sentence would rewrite the prompt."""
        name = self.leading_slot
        if name is None or name not in slots or prompt.multiline_sentences:
            return []
        found = []
        for side in POLARITIES:
            for filler in getattr(slots[name], side):
                marker = prompt.leading_marker(filler)
                if marker is not None:
                    found.append((name, side, marker))
                    break
        return found

    def resolve(self, lexicon: Lexicon) -> dict[str, Slot]:
        """Each slot of the template (in order) as this template uses it: its override, else the
        lexicon's slot. Raises :class:`TemplateError` for a slot the lexicon lacks."""
        out: dict[str, Slot] = {}
        for name in self.slot_names:
            slot = self.slots_override.get(name)
            if slot is None:
                if name not in lexicon.slots:
                    raise TemplateError(
                        f"template {shorten(self.text, 60)!r}: unknown slot {{{name}}}{_known(name, lexicon.slots)}"
                    )
                slot = lexicon.slots[name]
            out[name] = slot
        return out

    def render(self, filling: Mapping[str, str]) -> str:
        """The sentence with each ``{slot}`` replaced by ``filling[slot]``."""
        return self.text.format_map(filling)


def _as_slot(name: str, value: Any) -> Slot:
    if isinstance(value, Slot):
        return value if value.name == name else Slot(name, value.harmful, value.harmless)
    if isinstance(value, Mapping):
        extra = set(value) - {"harmful", "harmless"}
        if extra or not {"harmful", "harmless"} <= set(value):
            raise TemplateError(f"slots_override[{name!r}] needs exactly the keys 'harmful' and 'harmless'")
        harmful, harmless = value["harmful"], value["harmless"]
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        harmful, harmless = value
    else:
        raise TemplateError(f"slots_override[{name!r}] must be a Slot, a mapping or a (harmful, harmless) pair")
    try:
        return Slot(name, harmful, harmless)
    except ValueError as exc:
        raise TemplateError(f"slots_override: {exc}") from None


def as_template(template: Template | str, decides: str | None = None) -> Template:
    """A :class:`Template` from text or a Template, with ``decides`` set if given."""
    if isinstance(template, Template):
        if decides is None or decides == template.decides:
            return template
        if template.decides is not None:
            raise TemplateError(
                f"the template already decides by {{{template.decides}}}; decides={decides!r} contradicts it"
            )
        return Template(template.text, decides, template.slots_override)
    return Template(template, decides)


# --- invariance edits -------------------------------------------------------------------------

EDIT_KINDS = ("name", "pronoun", "synonym", "tense")
#: Past participles that differ from the simple past, for the "tense" edit.
_PARTICIPLES = {
    "beat": "beaten",
    "bit": "bitten",
    "broke": "broken",
    "drove": "driven",
    "gave": "given",
    "hid": "hidden",
    "shook": "shaken",
    "stole": "stolen",
    "threw": "thrown",
    "took": "taken",
    "tore": "torn",
    "wrote": "written",
    "ate": "eaten",
    "fell": "fallen",
    "forgot": "forgotten",
}
_PERSON_RE = re.compile(r"(?<!\w)Person X(?!\w)")
_PRONOUNS = {"he": "she", "him": "her", "his": "her", "himself": "herself"}
_PRONOUN_RE = re.compile(r"(?<!\w)(he|him|his|himself)(?!\w)", re.IGNORECASE)
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?]\s+)$")


def _match_case(word: str, replacement: str) -> str:
    if len(word) > 1 and word.isupper():
        return replacement.upper()
    if word[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


def invariance_candidates(
    sentence: str, lexicon: Lexicon, kinds: tuple[str, ...] = EDIT_KINDS
) -> list[tuple[str, str]]:
    """Every invariance edit of ``sentence`` as ``(kind, edited)``, in a stable order (by kind,
    then lexicon order), none equal to the sentence and none repeated. Kinds:

    * ``name``: every "Person X" replaced by one of the lexicon's names (capitalised at the start
      of a sentence);
    * ``pronoun``: he/him/his/himself replaced by she/her/her/herself, all of them, whole words;
    * ``synonym``: a lexicon filler found in the sentence (as whole words) replaced everywhere by
      another filler of the same slot and the same polarity;
    * ``tense``: a past-tense verb (a filler of the ``verb`` slot) right after "Person X" put in the
      present perfect ("Person X lashed" -> "Person X has lashed").
    """
    unknown = [k for k in kinds if k not in EDIT_KINDS]
    if unknown:
        raise ValueError(f"unknown edit kind(s) {', '.join(map(repr, unknown))}; kinds are {', '.join(EDIT_KINDS)}")
    found: dict[str, str] = {}

    def add(kind: str, edited: str) -> None:
        if edited != sentence and edited not in found:
            found[edited] = kind

    if "name" in kinds and _PERSON_RE.search(sentence):
        for name in lexicon.names:

            def person(match: re.Match[str], name: str = name) -> str:
                start = _SENTENCE_START_RE.search(sentence[: match.start()]) is not None
                return name[0].upper() + name[1:] if start else name

            add("name", _PERSON_RE.sub(person, sentence))
    if "pronoun" in kinds:
        add("pronoun", _PRONOUN_RE.sub(lambda m: _match_case(m.group(0), _PRONOUNS[m.group(0).lower()]), sentence))
    if "synonym" in kinds:
        for slot in lexicon.slots.values():
            for side in POLARITIES:
                fillers = getattr(slot, side)
                for filler in fillers:
                    if filler not in sentence:  # most fillers are absent: no pattern to build
                        continue
                    pattern = re.compile(r"(?<!\w)" + re.escape(filler) + r"(?!\w)")
                    if not pattern.search(sentence):
                        continue
                    for other in fillers:
                        if other != filler:
                            add("synonym", pattern.sub(lambda _m, other=other: other, sentence))
    if "tense" in kinds and "verb" in lexicon.slots:
        for verb in lexicon.slots["verb"].fillers:
            pattern = re.compile(r"(\bPerson X )" + re.escape(verb) + r"(?!\w)")
            if pattern.search(sentence):
                participle = _PARTICIPLES.get(verb, verb)
                add("tense", pattern.sub(lambda m, p=participle: m.group(1) + "has " + p, sentence))
    return [(kind, edited) for edited, kind in found.items()]


# --- lexicon files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LexiconProblem(Problem):
    """One thing wrong with a lexicon file; ``pair`` (also ``slot``) names the slot, if any."""

    subject: ClassVar[str] = "slot"

    @property
    def slot(self) -> str | None:
        return self.pair


class LexiconFileError(PairFileError):
    """A lexicon file that cannot be used; ``problems`` lists every reason found."""

    problem_type = LexiconProblem
    kind = "lexicon file"


def load_lexicon(path: str | Path, name: str | None = None) -> Lexicon:
    """Read and validate one lexicon file (the format of the built-in ``lexicon.yaml``).

    Returns the file's own lexicon; merge it with :meth:`Lexicon.merged` (or ``base.extend``).
    Raises :class:`LexiconFileError` listing every problem.
    """
    path = Path(path)
    name = name or str(path)
    return parse_lexicon(read_file(path, name, LexiconFileError), name)


def load_lexicons(
    paths: Iterable[str | Path], *, allowed_dirs: AllowedDirs | Iterable[str | Path] | None = None
) -> Lexicon:
    """The built-in lexicon extended by each lexicon file of ``paths`` in turn (see
    :meth:`Lexicon.extend`). Raises :class:`LexiconFileError` listing every problem of every file.

    With ``allowed_dirs`` (directories, or an :class:`~.yamlfile.AllowedDirs`), a file whose real
    path (links resolved) lies outside them is refused unread.
    """
    if allowed_dirs is not None and not isinstance(allowed_dirs, AllowedDirs):
        allowed_dirs = AllowedDirs.of(allowed_dirs)
    lexicon = Lexicon.builtin()
    problems: list[Problem] = []
    for path in paths:
        refused = allowed_dirs.refusal(path) if allowed_dirs is not None else None
        if refused is not None:
            problems.append(LexiconProblem(str(path), f"the lexicon file {refused}"))
            continue
        try:
            lexicon = lexicon.extend(load_lexicon(path, name=str(path)))
        except LexiconFileError as exc:
            problems += exc.problems
    if problems:
        raise LexiconFileError(problems)
    return lexicon


def parse_lexicon(text: str | bytes, path: str = "<string>") -> Lexicon:
    """Validate lexicon-file text; raises :class:`LexiconFileError` listing every problem."""
    with gc_paused():
        document, duplicates = read_yaml(text, path, LexiconFileError)
    return _LexiconValidator(path, duplicates).lexicon(document)


class _LexiconValidator(Checker):
    """The rules of a lexicon file (a slot's problems are labelled with its name)."""

    error = LexiconFileError

    def lexicon(self, document: Any) -> Lexicon:
        self.preamble(document, TOP_KEYS, "a mapping with 'slots'")
        replace = document.get("replace", False)
        if not isinstance(replace, bool):
            self.problem(
                f"'replace' must be true or false, found {describe(replace)}", line=line_of(document, "replace")
            )
            replace = False
        if "slots" not in document and "names" not in document:
            self.problem("a lexicon file needs 'slots' (and may have 'names'); it has neither")
        slots = self.slots(document.get("slots"), line_of(document, "slots")) if "slots" in document else {}
        names = self.names(document.get("names"), line_of(document, "names")) if "names" in document else ()
        self.finish()
        return Lexicon(slots, names, replace=replace, path=self.path)

    def slots(self, value: Any, line: int | None) -> dict[str, Slot]:
        if not isinstance(value, dict):
            self.problem(f"'slots' must be a mapping of slot names to slots, found {describe(value)}", line=line)
            return {}
        if not value:
            self.problem("'slots' is empty: list at least one slot, or leave 'slots' out", line=line)
            return {}
        out: dict[str, Slot] = {}
        for name, raw, slot_line in self.named(value, "slot", None, by_name=True):
            slot = self.slot(name, raw, slot_line)
            if slot is not None:
                out[name] = slot
        return out

    def slot(self, name: str, raw: Any, line: int | None) -> Slot | None:
        if not isinstance(raw, dict):
            self.problem(f"a slot must be a mapping with 'harmful' and 'harmless', found {describe(raw)}", name, line)
            return None
        before = len(self.problems)
        self.keys(raw, SLOT_KEYS, "", name)
        self.optional_text(raw.get("note"), "note", name, line_of(raw, "note", line))
        slot = check_slot(self, name, raw, "", name, line, hint=" (override it in a template where context flips it)")
        return slot if len(self.problems) == before else None

    def names(self, value: Any, line: int | None) -> tuple[str, ...]:
        words = word_list(
            self,
            value,
            "names",
            None,
            line,
            noun="name",
            empty="list at least one name, or leave 'names' out",
            items=f"replacements for {PERSON!r}",
        )
        if PERSON in words:
            self.problem(f"'names' lists {PERSON!r} itself: replacing it by itself is no edit", line=words.pop(PERSON))
        return tuple(words)


@lru_cache(maxsize=1)
def _builtin() -> Lexicon:
    text = resources.files("pytest_moralpairs.perturb").joinpath("lexicon.yaml").read_bytes()
    return parse_lexicon(text, "<built-in lexicon>")
