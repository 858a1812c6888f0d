"""Lexicons of swappable words with a moral polarity, and sentence templates that use them.

A **lexicon** has *slots* — places in a sentence where a word or phrase can be swapped — and a
list of *names* that may stand in for "Person X". Each :class:`Slot` lists ``harmful`` fillers
(lashed, a whip, to shame him) and ``harmless`` ones (caressed, a feather, to shave him), each list
ordered simplest and most canonical first: Hypothesis shrinks toward the first entry, so a shrunk
failure shows the canonical edit. The built-in lexicon is ``lexicon.yaml`` next to this module
(:meth:`Lexicon.builtin`); :func:`load_lexicon` reads a user's file of the same format, validated
like a pair file (every problem a :class:`LexiconProblem` naming the file, the slot and the line,
raised together as :class:`LexiconFileError`, a :class:`~pytest_moralpairs.pairs.PairFileError`).

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
from typing import Any, Mapping, Union

from ..yamlfile import (
    MAX_NAME_CHARS,
    Checker,
    PairFileError,
    Problem,
    control_character,
    describe,
    gc_paused,
    line_of,
    read_file,
    read_yaml,
    shorten,
)

#: Slot names appear in ``{slot}`` placeholders: keep them to Python identifiers.
_SLOT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A filler is a word or a phrase, never a paragraph.
MAX_FILLER_CHARS = 200
TOP_KEYS = frozenset({"version", "description", "replace", "slots", "names"})
SLOT_KEYS = frozenset({"harmful", "harmless", "note"})
POLARITIES = ("harmful", "harmless")
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
        for side in POLARITIES:
            value = getattr(self, side)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, side, tuple(value))
        problems = _slot_problems(self.name, self.harmful, self.harmless)
        if problems:
            raise ValueError(f"slot {self.name!r}: " + "; ".join(problems))

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


def _slot_problems(name: Any, harmful: tuple[Any, ...], harmless: tuple[Any, ...]) -> list[str]:
    """What is wrong with a slot built in Python (a file gets the detailed, per-line check)."""
    problems = []
    if not isinstance(name, str) or not _SLOT_RE.fullmatch(name) or len(name) > MAX_NAME_CHARS:
        problems.append(f"the name must be an identifier (letters, digits, '_'), found {describe(name)}")
    for side, fillers in (("harmful", harmful), ("harmless", harmless)):
        if not fillers:
            problems.append(f"'{side}' is empty")
        for filler in fillers:
            reason = _filler_problem(filler)
            if reason:
                problems.append(f"'{side}' has {reason}")
        if len(set(fillers)) != len(fillers):
            problems.append(f"'{side}' lists a filler twice")
    both = [f for f in harmful if f in harmless]
    if both:
        problems.append(f"{shorten(both[0])!r} is listed as both harmful and harmless")
    return problems


def _filler_problem(filler: Any) -> str | None:
    if not isinstance(filler, str):
        return f"a filler that is not text: {describe(filler)}"
    control = control_character(filler)
    if control is not None:  # fillers are printed in generated sentences and messages
        return f"a filler containing {control}"
    if not filler.strip():
        return "an empty filler"
    if filler != filler.strip():
        return f"a filler with spaces around it: {describe(filler)}"
    if len(filler) > MAX_FILLER_CHARS:
        return f"a filler of {len(filler):,} characters; the limit is {MAX_FILLER_CHARS}"
    if "{" in filler or "}" in filler:
        return f"a filler containing a brace, which templates reserve: {describe(filler)}"
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
        if not _SLOT_RE.fullmatch(name) or spec or conversion:
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

    def __post_init__(self) -> None:
        names = parse_template(self.text)
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
    def slot_names(self) -> tuple[str, ...]:
        return parse_template(self.text)

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

    @property
    def slot(self) -> str | None:
        return self.pair

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        if self.pair is not None:
            where += f" slot {self.pair}"
        return f"{where}: {self.message}"


class LexiconFileError(PairFileError):
    """A lexicon file that cannot be used; ``problems`` lists every reason found."""


def load_lexicon(path: str | Path, name: str | None = None) -> Lexicon:
    """Read and validate one lexicon file (the format of the built-in ``lexicon.yaml``).

    Returns the file's own lexicon; merge it with :meth:`Lexicon.merged` (or ``base.extend``).
    Raises :class:`LexiconFileError` listing every problem.
    """
    path = Path(path)
    name = name or str(path)
    try:
        data = read_file(path, name)
    except PairFileError as exc:
        raise _lexicon_error(exc) from None
    return parse_lexicon(data, name)


def _lexicon_error(exc: PairFileError) -> LexiconFileError:
    return LexiconFileError([LexiconProblem(p.path, p.message, line=p.line) for p in exc.problems])


def parse_lexicon(text: str | bytes, path: str = "<string>") -> Lexicon:
    """Validate lexicon-file text; raises :class:`LexiconFileError` listing every problem."""
    with gc_paused():
        try:
            document, duplicates = read_yaml(text, path)
        except PairFileError as exc:
            raise _lexicon_error(exc) from None
    return _LexiconValidator(path, duplicates).lexicon(document)


class _LexiconValidator(Checker):
    """The pair-file validator's checks (keys, text) applied to a lexicon file."""

    def problem(self, message: str, pair: str | None = None, line: int | None = None) -> None:
        self.problems.append(LexiconProblem(self.path, message, pair, line))

    def lexicon(self, document: Any) -> Lexicon:
        if document is None:
            raise LexiconFileError([LexiconProblem(self.path, "the file is empty; expected a mapping with 'slots'")])
        if not isinstance(document, dict):
            raise LexiconFileError(
                [LexiconProblem(self.path, f"expected a mapping with 'slots' at the top, found {describe(document)}")]
            )
        self.document = document
        self.keys(document, TOP_KEYS, "", None)
        version = document.get("version", 1)
        if isinstance(version, bool) or version != 1:
            self.problem(f"'version' must be 1, found {describe(version)}", line=line_of(document, "version"))
        self.optional_text(document.get("description"), "description", None, line_of(document, "description"))
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
        self.finish(LexiconFileError)
        return Lexicon(slots, names, replace=replace, path=self.path)

    def slots(self, value: Any, line: int | None) -> dict[str, Slot]:
        if not isinstance(value, dict):
            self.problem(f"'slots' must be a mapping of slot names to slots, found {describe(value)}", line=line)
            return {}
        if not value:
            self.problem("'slots' is empty: list at least one slot, or leave 'slots' out", line=line)
            return {}
        self.checked.add(id(value))
        firsts = getattr(value, "key_lines", {})
        for key, dup_line in getattr(value, "duplicates", ()):
            first = firsts.get(key)
            self.problem(
                "duplicate slot name: each slot may be defined once" + (f" (first on line {first})" if first else ""),
                shorten(key) if isinstance(key, str) else describe(key),
                dup_line,
            )
        out: dict[str, Slot] = {}
        for key, raw in value.items():
            slot_line = line_of(value, key, line)
            if not isinstance(key, str) or len(key) > MAX_NAME_CHARS or not _SLOT_RE.fullmatch(key):
                self.problem(
                    f"slot name {describe(key)} is not usable in a {{placeholder}}: use up to {MAX_NAME_CHARS} "
                    "letters, digits and '_', starting with a letter or '_'",
                    None,
                    slot_line,
                )
                continue
            slot = self.slot(key, raw, slot_line)
            if slot is not None:
                out[key] = slot
        return out

    def slot(self, name: str, raw: Any, line: int | None) -> Slot | None:
        if not isinstance(raw, dict):
            self.problem(f"a slot must be a mapping with 'harmful' and 'harmless', found {describe(raw)}", name, line)
            return None
        before = len(self.problems)
        self.keys(raw, SLOT_KEYS, "", name)
        self.optional_text(raw.get("note"), "note", name, line_of(raw, "note", line))
        sides: dict[str, tuple[str, ...]] = {}
        side_lines: dict[str, dict[str, int | None]] = {}
        for side in POLARITIES:
            side_line = line_of(raw, side, line)
            fillers, lines = self.fillers(raw.get(side), side, side in raw, name, side_line)
            sides[side], side_lines[side] = fillers, lines
        for filler in sides["harmless"]:
            if filler in side_lines["harmful"]:
                self.problem(
                    f"filler {shorten(filler)!r} is listed as both harmful (line {side_lines['harmful'][filler]}) "
                    "and harmless: a filler has one polarity in a slot (override it in a template where context "
                    "flips it)",
                    name,
                    side_lines["harmless"][filler],
                )
        if len(self.problems) > before:
            return None
        return Slot(name, sides["harmful"], sides["harmless"])

    def fillers(
        self, value: Any, side: str, present: bool, slot: str, line: int | None
    ) -> tuple[tuple[str, ...], dict[str, int | None]]:
        if not present:
            self.problem(f"missing key '{side}': a list of {side} fillers, canonical first", slot, line)
            return (), {}
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(f"'{side}' must be a list of fillers, found {describe(value)}", slot, line)
            return (), {}
        if not value:
            self.problem(f"'{side}' is empty: a slot needs at least one {side} filler", slot, line)
            return (), {}
        item_lines = getattr(value, "item_lines", [])
        fillers: list[str] = []
        lines: dict[str, int | None] = {}
        for index, filler in enumerate(value):
            item_line = item_lines[index] if index < len(item_lines) else line
            reason = _filler_problem(filler)
            if reason:
                self.problem(f"'{side}' has {reason}", slot, item_line)
            elif filler in lines:
                self.problem(
                    f"'{side}' lists {shorten(filler)!r} twice (first on line {lines[filler]})", slot, item_line
                )
            else:
                fillers.append(filler)
                lines[filler] = item_line
        return tuple(fillers), lines

    def names(self, value: Any, line: int | None) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(f"'names' must be a list of replacements for {PERSON!r}, found {describe(value)}", line=line)
            return ()
        if not value:
            self.problem("'names' is empty: list at least one name, or leave 'names' out", line=line)
            return ()
        item_lines = getattr(value, "item_lines", [])
        names: list[str] = []
        for index, name in enumerate(value):
            item_line = item_lines[index] if index < len(item_lines) else line
            reason = _filler_problem(name)
            if reason:
                self.problem(f"'names' has {reason.replace('filler', 'name')}", line=item_line)
            elif name == PERSON:
                self.problem(f"'names' lists {PERSON!r} itself: replacing it by itself is no edit", line=item_line)
            elif name in names:
                self.problem(f"'names' lists {shorten(name)!r} twice", line=item_line)
            else:
                names.append(name)
        return tuple(names)


@lru_cache(maxsize=1)
def _builtin() -> Lexicon:
    text = resources.files("pytest_moralpairs.perturb").joinpath("lexicon.yaml").read_bytes()
    return parse_lexicon(text, "<built-in lexicon>")


__all__ = [
    "EDIT_KINDS",
    "Lexicon",
    "LexiconFileError",
    "LexiconProblem",
    "PERSON",
    "Slot",
    "Template",
    "TemplateError",
    "as_lexicon",
    "as_template",
    "invariance_candidates",
    "load_lexicon",
    "parse_lexicon",
    "parse_template",
]
