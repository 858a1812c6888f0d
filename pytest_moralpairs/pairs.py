"""Pair files: YAML text -> validated, frozen :class:`Suite` and :class:`Pair` objects.

Every problem is reported as a :class:`Problem` naming the file, the line, the pair and what was
wrong; a file with any problem raises :class:`PairFileError` carrying all of them at once. Values
from the file are never echoed whole into messages: a file may be hostile or simply huge. The
YAML itself is read by :mod:`pytest_moralpairs.yamlfile`, as persona and lexicon files are, and
the rules every format shares are in :mod:`pytest_moralpairs.validation`; the rules of a pair are
here, in :class:`PairChecker`, which runs them on any mapping (a YAML file's pair, or a table's
row whose places are cells, :class:`~.validation.Cell`). A file's ``source`` draws pairs from a
table (its block's rules are in :mod:`.source`, the table is read by :mod:`.tables` and its rows
paired by :mod:`.presets`): each is held to the same rules, and one that breaks any is a
:class:`BrokenRow`, an error of its own, while the others are the file's pairs.

The format is also described, for editors, by ``schema/pairfile.schema.json``; the two are kept
in agreement by the test suite. Persona files a pair file names are read by
:mod:`pytest_moralpairs.personas`, and their problems are reported as the pair file's; a template
pair's own ``slots`` follow the lexicon's rule for fillers (:func:`~.perturb.lexicon.check_slot`).

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .personas.files import PersonaFileError, load_personas, validate_persona_list
from .personas.sets import PersonaSet
from .perturb.lexicon import Slot, Template, TemplateError, check_slot
from .prompt import BUILTIN_PROMPTS, DEFAULT_PROMPT, SIDES, PromptTemplate, did_you_mean
from .source import SourceRules
from .validation import (
    MAX_PATH_CHARS,
    NAME_RULE,
    Cell,
    PairFileError,
    Problem,
    describe,
    id_rule,
    is_id,
    is_name,
    is_number,
    key_list,
    line_of,
    not_a_number,
    one_or_many,
    same_sentence,
    with_lines,
)
from .yamlfile import AllowedDirs, gc_paused, read_file, read_yaml

if TYPE_CHECKING:  # collecting a file without `source:` or `min_spread` loads neither the tables nor the statistics
    from .personas.distribution import MinSpread
    from .presets import PairRecord
    from .source import Source

#: Tags become pytest markers (``NAME_RULE``: what ``-m`` expressions can name), but not these words.
_RESERVED_TAGS = frozenset({"and", "or", "not", "True", "False", "None"})
#: pytest's own markers act when applied: a tag "skip" would silently skip the pair.
_PYTEST_MARKERS = frozenset(
    {"skip", "skipif", "xfail", "usefixtures", "parametrize", "filterwarnings", "tryfirst", "trylast", "moralpairs"}
)
MAX_SENTENCE_CHARS = 2000
#: Tags in one 'tags' list (the defaults' list and a pair's own): each becomes a pytest marker on the
#: pair, and a hand-written suite uses a handful; thousands are a generated file gone wrong.
MAX_TAGS = 100
#: A pair file shows this many problems of a persona file it names (the file's own check shows all).
MAX_PERSONA_FILE_PROBLEMS = 10

#: What a pair (or the file's defaults) may say about rating it once per persona.
PERSONA_KEYS = frozenset({"personas", "persona_min_pass", "min_spread", "max_inconsistency"})
PAIR_KEYS = frozenset({"id", "harmful", "harmless", "threshold", "tags", "note", "human", "prompt"}) | PERSONA_KEYS
TEMPLATE_KEYS = frozenset(
    {"id", "template", "decides", "slots", "checks", "threshold", "invariance_tolerance", "tags", "note", "prompt"}
)
CHECKS = ("directional", "invariance")
DEFAULT_INVARIANCE_TOLERANCE = 1.0
DEFAULT_KEYS = frozenset({"threshold", "tags", "prompt"}) | PERSONA_KEYS
TOP_KEYS = frozenset({"version", "description", "defaults", "pairs", "source"})
HUMAN_KEYS = frozenset({"harmful", "harmless"})
HUMAN_RATING_KEYS = frozenset({"mean", "sd", "n", "source"})
PROMPT_KEYS = frozenset({"name", "system", "template", "multiline_sentences"})
MIN_SPREAD_KEYS = frozenset({"sd", "human_fraction"})


@dataclass(frozen=True)
class HumanRating:
    """A published human mean rating of one sentence on the -4..4 scale."""

    mean: float
    source: str | None = None
    sd: float | None = None
    n: int | None = None


@dataclass(frozen=True)
class Pair:
    """A harmful sentence and a minimally edited harmless one.

    With ``personas`` the pair is also rated once per persona (see :mod:`pytest_moralpairs.personas`):
    its gap must hold for the share ``persona_min_pass`` of them, each sentence's ratings must
    spread by ``min_spread``, and broad personas must match their sub-personas within
    ``max_inconsistency``. A pair that writes ``personas: []`` has none, whatever the defaults say.
    """

    id: str
    harmful: str
    harmless: str
    threshold: float | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None
    human_harmful: HumanRating | None = None
    human_harmless: HumanRating | None = None
    prompt: PromptTemplate | None = None
    path: str = ""
    line: int | None = None
    personas: PersonaSet | None = None
    persona_min_pass: float = 1.0
    min_spread: MinSpread | None = None
    max_inconsistency: float | None = None

    def sentence(self, side: str) -> str:
        return self.harmful if side == "harmful" else self.harmless

    def human(self, side: str) -> HumanRating | None:
        return self.human_harmful if side == "harmful" else self.human_harmless


#: A template's own harmful and harmless fillers for one slot, canonical first: a lexicon's
#: :class:`~.perturb.lexicon.Slot`, held to the same rule.
SlotFillers = Slot


@dataclass(frozen=True)
class TemplatePair:
    """A pair written as a template with slots: pairs are generated from it by lexical swaps.

    The slot named by ``decides`` carries the moral weight (see :mod:`pytest_moralpairs.perturb`).
    ``parsed`` is the template as the generator fills it (its own ``slots`` overriding the
    lexicon's): parsed once, when the file is read (or when a pair is built in Python).
    """

    id: str
    template: str
    decides: str
    slots: tuple[Slot, ...] = ()
    checks: tuple[str, ...] = CHECKS
    threshold: float | None = None
    invariance_tolerance: float = DEFAULT_INVARIANCE_TOLERANCE
    tags: tuple[str, ...] = ()
    note: str | None = None
    prompt: PromptTemplate | None = None
    path: str = ""
    line: int | None = None
    parsed: Template = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        own = {slot.name: slot for slot in self.slots}
        given = self.parsed
        # Not given, or another pair's (dataclasses.replace keeps it): parse this pair's template.
        if given is None or (given.text, given.decides, given.slots_override) != (self.template, self.decides, own):
            object.__setattr__(self, "parsed", Template(self.template, self.decides, own))


@dataclass(frozen=True)
class Suite:
    """All pairs of one file, with the file's defaults already applied to each pair."""

    path: str
    pairs: tuple[Pair, ...]
    description: str | None = None
    templates: tuple[TemplatePair, ...] = ()
    #: The pairs of its ``source`` that cannot be used, each to be an error of its own.
    broken: tuple[BrokenRow, ...] = ()


@dataclass(frozen=True)
class BrokenRow:
    """A pair drawn from a table that cannot be used: ``problems`` say why, each at its
    ``file:row:column``. It is an error of its own (named ``name``: its id, else ``row-N``), while
    the other pairs of the file run."""

    name: str
    path: str
    row: int
    problems: tuple[Problem, ...]

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


#: Where the files a pair file names may be: an :class:`AllowedDirs`, or the directories themselves.
AllowedLike = AllowedDirs | Iterable[str | Path] | None


def load_suite(path: str | Path, name: str | None = None, *, allowed_dirs: AllowedLike = None) -> Suite:
    """Read and validate one pair file; ``name`` is how messages refer to it (default: the path).

    Persona files the pair file names are read relative to its directory; with ``allowed_dirs``
    (directories, or an :class:`~.yamlfile.AllowedDirs`), one whose real path (links resolved)
    lies outside them is refused unread.
    """
    path = Path(path)
    name = name or str(path)
    return parse_suite(read_file(path, name), name, base_dir=path.parent, allowed_dirs=allowed_dirs)


def parse_suite(
    text: str | bytes, path: str = "<string>", base_dir: str | Path | None = None, *, allowed_dirs: AllowedLike = None
) -> Suite:
    """Validate pair-file text; raises :class:`PairFileError` listing every problem.

    ``base_dir`` is where persona files named in the text are looked for (default: the directory
    of ``path``), and ``allowed_dirs`` where they may be (default: anywhere).
    """
    with gc_paused():
        document, duplicates = read_yaml(text, path)
        return PairChecker(path, duplicates, base_dir, allowed_dirs).suite(document)


def _uses_personas(raw: dict, defaults: Mapping[str, Any]) -> bool:
    """Whether a pair has persona keys of its own or the file's defaults have any (most do not)."""
    return "personas_broken" in defaults or not PERSONA_KEYS.isdisjoint(raw)


class PairChecker(SourceRules):
    """The rules of a pair file, and of a pair wherever it is written.

    :meth:`suite` checks a YAML pair file's document; :meth:`pairs` checks a sequence of pairs,
    each a mapping (a YAML file's pair, or a table's row as a :class:`~.validation.Record` whose
    places are cells, :class:`~.validation.Cell`), with the ids unique among them.
    """

    def __init__(
        self,
        path: str,
        duplicates: Iterable[Any] = (),
        base_dir: str | Path | None = None,
        allowed_dirs: AllowedLike = None,
    ) -> None:
        super().__init__(path, duplicates)
        self.base_dir = Path(base_dir) if base_dir is not None else Path(path).parent
        if allowed_dirs is not None and not isinstance(allowed_dirs, AllowedDirs):
            allowed_dirs = AllowedDirs.of(allowed_dirs)
        #: Where the persona files it names may be read from (None: anywhere).
        self.allowed_dirs = allowed_dirs
        #: Persona files named so far: the set, or the line where its problems were reported.
        self.persona_files: dict[str, PersonaSet | int | None] = {}

    def suite(self, document: Any) -> Suite:
        description = self.preamble(document, TOP_KEYS, "a mapping with a 'pairs' list")
        defaults = self.defaults(document.get("defaults"), line_of(document, "defaults"))
        source = self.source(document["source"], line_of(document, "source")) if "source" in document else None
        raw_pairs = document.get("pairs")
        pairs: list[Pair] = []
        templates: list[TemplatePair] = []
        seen: dict[str, tuple[str, int | None]] = {}
        if "pairs" not in document:
            if "source" not in document:
                self.problem("missing key 'pairs': a list of pairs (or 'source': a table to draw them from)")
        elif not isinstance(raw_pairs, list):
            self.problem(
                f"'pairs' must be a list of pairs, found {describe(raw_pairs)}", line=line_of(document, "pairs")
            )
        elif not raw_pairs:
            self.problem("'pairs' is empty: a pair file needs at least one pair", line=line_of(document, "pairs"))
        else:
            for pair in self.pairs(with_lines(raw_pairs, None), defaults, seen):
                (templates if isinstance(pair, TemplatePair) else pairs).append(pair)
        raw_defaults = document.get("defaults")
        if isinstance(raw_defaults, dict) and pairs and not any(p.personas is not None for p in pairs):
            # Persona settings that no pair uses: a typo, or personas forgotten; never silent.
            given = [k for k in ("persona_min_pass", "min_spread", "max_inconsistency") if k in raw_defaults]
            if given:
                self.problem(
                    f"{key_list([f'defaults.{k}' for k in given])} {'applies' if len(given) == 1 else 'apply'} "
                    "only to pairs rated per persona, and no pair of this file has 'personas'",
                    line=line_of(raw_defaults, given[0]),
                )
        self.finish()
        broken: list[BrokenRow] = []
        if source is not None:
            pairs += self.drawn(source, defaults, seen, broken, line_of(document, "source"))
        return Suite(self.path, tuple(pairs), description, tuple(templates), tuple(broken))

    def pairs(
        self,
        items: Iterable[tuple[Any, int | None]],
        defaults: Mapping[str, Any],
        seen: dict[str, tuple[str, int | None]] | None = None,
    ) -> list[Pair | TemplatePair]:
        """The valid pairs of ``items`` (each a pair as written and the place of the item), in
        order; problems, and an id used twice, are recorded. ``defaults`` are the file's, as
        :meth:`defaults` makes them (``{}`` for none); ``seen`` holds the ids met so far, where
        they were (the pairs of a file and of its table share their ids)."""
        seen = {} if seen is None else seen
        out: list[Pair | TemplatePair] = []
        for index, (raw, item_line) in enumerate(items):
            pair = self.checked_pair(raw, index, defaults, item_line, seen)
            if pair is not None:
                out.append(pair)
        return out

    def checked_pair(
        self,
        raw: Any,
        index: int,
        defaults: Mapping[str, Any],
        item_line: int | None,
        seen: dict[str, tuple[str, int | None]],
    ) -> Pair | TemplatePair | None:
        """One pair of :meth:`pairs`: checked, and its id held against those ``seen``."""
        pair = self.pair(raw, index, defaults, item_line)
        # A pair with other problems still holds its id: a clash is reported now, not
        # only once those are fixed.
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        pair_id = pair.id if pair is not None else raw_id if isinstance(raw_id, str) else None
        if pair_id is not None and pair_id in seen:
            self.problem(
                f"duplicate id: ids must be unique in a file{_first_use(*seen[pair_id], self.path)}",
                pair_id,
                line_of(raw, "id", item_line),
            )
            return None
        if pair_id is not None:
            seen[pair_id] = (self.path, line_of(raw, "id", item_line))
        return pair

    # --- source: pairs drawn from a table (its block is checked in source.py) ---------------------

    def drawn(
        self,
        source: Source,
        defaults: Mapping[str, Any],
        seen: dict[str, tuple[str, int | None]],
        broken: list[BrokenRow],
        line: int | None,
    ) -> list[Pair]:
        """The usable pairs ``source`` draws, each checked by the rules of a pair; those that break
        any go to ``broken``, each with its problems. A table that cannot be read, or lacks a
        column it must have, is a problem of the file: raised."""
        from .tables import TableError

        try:
            table = source.open()
        except TableError as exc:
            raise PairFileError([Problem(source.name, exc.message, line=exc.row)]) from None
        rows = PairChecker(source.name, (), self.base_dir, self.allowed_dirs)
        rows.persona_files = self.persona_files
        pairs: list[Pair] = []
        try:
            if table.columns is not None:  # a header or a schema: its columns are known before any row
                self.absent_columns(source, table, line)
            for index, record in enumerate(source.records(table)):
                pair = rows.drawn_pair(record, index, defaults, seen, broken)
                if pair is not None:
                    pairs.append(pair)
            if not pairs and not broken:
                because = source.preset.none_drawn if table.known_columns() else "it has no rows"
                raise PairFileError(
                    [Problem(self.path, f"'source' draws no pair from {source.name}: {because}", line=line)]
                )
            if table.columns is None:  # JSON: what the rows read hold
                self.absent_columns(source, table, line)
        except TableError as exc:
            raise PairFileError([Problem(source.name, exc.message, line=exc.row)]) from None
        finally:
            table.close()
        return pairs

    def drawn_pair(
        self,
        record: PairRecord,
        index: int,
        defaults: Mapping[str, Any],
        seen: dict[str, tuple[str, int | None]],
        broken: list[BrokenRow],
    ) -> Pair | None:
        """One pair drawn from a table, checked by the rules of a pair; unusable, it goes to ``broken``."""
        before = len(self.problems)
        raw_id = record.get("id")
        label = raw_id if isinstance(raw_id, str) else None
        taken = label in seen
        for message, cell in record.problems:
            self.problem(message, label, cell)
        pair = None if record.unusable else self.checked_pair(record, index, defaults, record.line, seen)
        if len(self.problems) == before:
            return pair  # type: ignore[return-value]  # a table's pair is never a template pair
        row = int(record.line) if record.line is not None else index + 1
        name = raw_id if label is not None and not taken and is_id(label, dots=True) else f"row-{row}"
        broken.append(BrokenRow(name, self.path, row, tuple(self.problems[before:])))
        del self.problems[before:]
        return None

    # --- pieces ---------------------------------------------------------------------------

    def threshold(self, value: Any, what: str, pair: str | None, line: int | None) -> float | None:
        if value is None:
            return None
        if not is_number(value):
            self.problem(f"'{what}' must be a number, found {not_a_number(value)}", pair, line)
            return None
        if not -8 <= value <= 8:
            self.problem(f"'{what}' must lie in -8..8 (the widest possible gap), found {describe(value)}", pair, line)
            return None
        return float(value)

    def tags(self, value: Any, what: str, pair: str | None, line: int | None) -> tuple[str, ...]:
        if value is None:
            return ()
        value = one_or_many(value)
        if not isinstance(value, list):
            self.problem(f"'{what}' must be a list of names, found {describe(value)}", pair, line)
            return ()
        if len(value) > MAX_TAGS:
            self.problem(
                f"'{what}' lists {len(value):,} tags; the limit is {MAX_TAGS} (each is a pytest marker of the pair)",
                pair,
                line,
            )
            return ()
        tags: dict[str, None] = {}  # a dict, not a list: the repeat check stays linear
        for tag in value:
            if isinstance(tag, str) and tag in _PYTEST_MARKERS:
                self.problem(
                    f"tag {tag!r} is one of pytest's own markers and would act as it, not label the pair; "
                    "choose another name",
                    pair,
                    line,
                )
            elif not is_name(tag) or tag in _RESERVED_TAGS:
                self.problem(
                    f"tag {describe(tag)} is not usable as a pytest marker: use {NAME_RULE} "
                    "(and not and/or/not/True/False/None)",
                    pair,
                    line,
                )
            else:
                tags[tag] = None
        return tuple(tags)

    def prompt(self, value: Any, what: str, pair: str | None, line: int | None) -> PromptTemplate | None:
        if value is None:
            return None
        if isinstance(value, str):
            if value in BUILTIN_PROMPTS:
                return BUILTIN_PROMPTS[value]
            hint = did_you_mean(value)
            self.problem(
                f"unknown prompt {describe(value)} in '{what}'"
                + (hint or f"; built-in prompts: {key_list(sorted(BUILTIN_PROMPTS))}, ")
                + ("" if hint else "or give a mapping with 'template' (and optional 'name' and 'system')"),
                pair,
                line,
            )
            return None
        if not isinstance(value, dict):
            self.problem(f"'{what}' must be a prompt name or a mapping, found {describe(value)}", pair, line)
            return None
        self.keys(value, PROMPT_KEYS, what, pair)
        template = value.get("template")
        template_line = line_of(value, "template", line)
        system = self.optional_text(value.get("system"), f"{what}.system", pair, line_of(value, "system", line))
        name = self.optional_text(value.get("name"), f"{what}.name", pair, line_of(value, "name", line)) or "custom"
        multiline = value.get("multiline_sentences")
        multiline = False if multiline is None else multiline
        if not isinstance(multiline, bool):
            self.problem(
                f"'{what}.multiline_sentences' must be true or false, found {describe(multiline)}",
                pair,
                line_of(value, "multiline_sentences", line),
            )
            return None
        if not isinstance(template, str) or "{sentence}" not in template:
            found = "it is missing" if template is None else f"found {describe(template)}"
            self.problem(
                f"'{what}.template' must be text containing the placeholder {{sentence}}; {found}",
                pair,
                template_line,
            )
            return None
        if self.control(template, f"{what}.template", pair, template_line):
            return None
        return PromptTemplate(name=name, template=template, system=system, multiline_sentences=multiline)

    def defaults(self, value: Any, line: int | None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(f"'defaults' must be a mapping, found {describe(value)}", line=line)
            return {}
        self.keys(value, DEFAULT_KEYS, "defaults", None)
        out = {
            "threshold": self.threshold(
                value.get("threshold"), "defaults.threshold", None, line_of(value, "threshold")
            ),
            "tags": self.tags(value.get("tags"), "defaults.tags", None, line_of(value, "tags")),
            "prompt": self.prompt(value.get("prompt"), "defaults.prompt", None, line_of(value, "prompt")),
        }
        if any(key in value for key in PERSONA_KEYS):
            out.update(self.persona_keys(value, "defaults.", None, lambda key: line_of(value, key)))
            out["personas_line"] = line_of(value, "personas") if value.get("personas") is not None else None
            # Where each setting a pair inherits is written: its problems are reported there.
            out["persona_lines"] = {key: line_of(value, key) for key in PERSONA_KEYS if key in value}
        return out

    # --- personas (see personas/files.py) ----------------------------------------------------

    def persona_keys(self, mapping: dict, prefix: str, pair: str | None, at: Any) -> dict[str, Any]:
        """The persona keys of a pair or of the defaults, each None when not given."""
        before = len(self.problems)
        personas = self.personas(mapping.get("personas"), f"{prefix}personas", pair, at("personas"))
        broken = len(self.problems) > before
        return {
            "personas": personas,
            "personas_broken": broken,
            "persona_min_pass": self.min_pass(
                mapping.get("persona_min_pass"), f"{prefix}persona_min_pass", pair, at("persona_min_pass")
            ),
            "min_spread": self.min_spread(mapping.get("min_spread"), f"{prefix}min_spread", pair, at("min_spread")),
            "max_inconsistency": self.bounded(
                mapping.get("max_inconsistency"), f"{prefix}max_inconsistency", pair, at("max_inconsistency"), 8
            ),
        }

    def pair_personas(
        self, raw: dict, label: str, at: Any, defaults: Mapping[str, Any], human: Mapping[str, HumanRating | None]
    ) -> dict[str, Any]:
        """The persona fields of a :class:`Pair`: its own keys, else the file's defaults.

        ``personas: []`` opts the pair out of the defaults' personas: it is rated in the default
        voice only (``personas: ~``, like any null, means "not set": the defaults apply).
        """
        own = self.persona_keys(raw, "", label, at)
        if raw.get("personas") is not None:
            personas, broken = own["personas"], own["personas_broken"]
        else:
            personas, broken = defaults.get("personas"), defaults.get("personas_broken", False)
        settings = {
            key: own[key] if own[key] is not None else defaults.get(key)
            for key in ("persona_min_pass", "min_spread", "max_inconsistency")
        }
        if broken:
            return {}
        if not personas:  # none, or the pair opted out with "personas: []"
            given = sorted((key for key in settings if raw.get(key) is not None), key=lambda key: at(key) or 0)
            if given:
                fix = (
                    "give the pair (or the file's defaults) 'personas'"
                    if personas is None
                    else f"'personas: []' rates this pair in the default voice only; remove "
                    f"{'it' if len(given) == 1 else 'them'}, or give the pair personas"
                )
                self.problem(
                    f"{key_list(given)} {'applies' if len(given) == 1 else 'apply'} only to pairs rated per "
                    f"persona: {fix}",
                    label,
                    at(given[0]),
                )
            return {}
        lines = defaults.get("persona_lines", {})

        def inherited(key: str) -> str:
            return "" if raw.get(key) is not None else " (from the file's defaults)"

        def where(key: str) -> int | None:
            return at(key) if raw.get(key) is not None else lines.get(key) or at(key)

        min_spread = settings["min_spread"]
        if min_spread is not None and len(personas) < 2:
            self.problem(
                f"'min_spread'{inherited('min_spread')} needs at least 2 personas to spread across; "
                f"this pair has {len(personas)}",
                label,
                where("min_spread"),
            )
        elif (
            min_spread is not None
            and min_spread.sd is None
            and all(rating is None or rating.sd is None for rating in human.values())
        ):
            self.problem(
                f"'min_spread.human_fraction'{inherited('min_spread')} is a fraction of the human raters' sd, "
                "which this pair does not give: add 'sd' to 'human.harmful' or 'human.harmless', or an absolute "
                "'min_spread.sd' for sentences without one",
                label,
                where("min_spread"),
            )
        if settings["max_inconsistency"] is not None and not personas.groups:
            source = f"the persona file {personas.path}" if personas.path else "an inline list of personas"
            self.problem(
                f"'max_inconsistency'{inherited('max_inconsistency')} compares a broad persona with the weighted "
                f"mix of its sub-personas, and {source} has none: use a persona file with weights and 'broad'",
                label,
                where("max_inconsistency"),
            )
        min_pass = settings["persona_min_pass"]
        return {
            "personas": personas,
            "persona_min_pass": 1.0 if min_pass is None else min_pass,
            "min_spread": min_spread,
            "max_inconsistency": settings["max_inconsistency"],
        }

    def personas(self, value: Any, what: str, pair: str | None, line: int | None) -> PersonaSet | None:
        if value is None:
            return None
        if isinstance(value, str):
            return self.persona_file(value, what, pair, line)
        if isinstance(value, list):
            if not value and pair is not None:
                return PersonaSet(())  # a pair's opt-out from the defaults' personas
            personas = validate_persona_list(self, value, what, pair, line, inline=True)
            return None if personas is None else PersonaSet(personas)
        self.problem(
            f"'{what}' must be a list of persona descriptions or the path of a persona file, found {describe(value)}",
            pair,
            line,
        )
        return None

    def persona_file(self, value: str, what: str, pair: str | None, line: int | None) -> PersonaSet | None:
        """The persona file the path ``value`` names, relative to the pair file; read once per file."""
        ref = self.required_text(
            value,
            what,
            pair,
            line,
            missing="",  # a path is text, never missing, by the time it gets here
            kind="text",
            limit=MAX_PATH_CHARS,
            empty="give a list of personas or the path of a persona file",
        )
        if ref is None:
            return None
        known = self.persona_files.get(ref, False)
        if isinstance(known, PersonaSet):
            return known
        absolute = os.path.isabs(ref)
        shown = ref if absolute else os.path.normpath(os.path.join(os.path.dirname(self.path), ref))
        if known is not False:
            self.problem(
                f"'{what}' names the persona file {shown}, which cannot be used"
                + (f" (its problems are listed at line {known})" if known else ""),
                pair,
                line,
            )
            return None
        target = ref if absolute else self.base_dir / ref
        refused = self.allowed_dirs.refusal(target) if self.allowed_dirs is not None else None
        if refused is not None:  # never read: it may be any file at all
            self.persona_files[ref] = line
            self.problem(f"'{what}' names the persona file {shown}, which {refused}", pair, line)
            return None
        try:
            loaded = load_personas(target, shown)
        except PersonaFileError as exc:
            self.persona_files[ref] = line
            for problem in exc.problems[:MAX_PERSONA_FILE_PROBLEMS]:
                self.problem(f"'{what}' names a persona file that cannot be used: {problem}", pair, line)
            if len(exc.problems) > MAX_PERSONA_FILE_PROBLEMS:
                more = len(exc.problems) - MAX_PERSONA_FILE_PROBLEMS
                self.problem(f"... and {more} more problems in the persona file {shown}", pair, line)
            return None
        self.persona_files[ref] = loaded
        return loaded

    def min_pass(self, value: Any, what: str, pair: str | None, line: int | None) -> float | None:
        return self.number(
            value,
            what,
            pair,
            line,
            expected="the share of personas that must pass, more than 0 and at most 1 (1: every persona)",
            ok=lambda v: 0 < v <= 1,
        )

    def min_spread(self, value: Any, what: str, pair: str | None, line: int | None) -> MinSpread | None:
        if value is None:
            return None
        from .personas.distribution import MinSpread

        if not isinstance(value, dict):
            if not is_number(value):
                self.problem(
                    f"'{what}' must be a standard deviation in 0..4, or a mapping with 'human_fraction' "
                    f"(and/or 'sd'), found {not_a_number(value)}",
                    pair,
                    line,
                )
                return None
            sd = self.bounded(value, what, pair, line, 4)
            return None if sd is None else MinSpread(sd=sd)
        self.keys(value, MIN_SPREAD_KEYS, what, pair)
        before = len(self.problems)
        sd = self.bounded(value.get("sd"), f"{what}.sd", pair, line_of(value, "sd", line), 4)
        fraction = self.number(
            value.get("human_fraction"),
            f"{what}.human_fraction",
            pair,
            line_of(value, "human_fraction", line),
            expected="more than 0 and at most 1 (a fraction of the human raters' sd)",
            ok=lambda v: 0 < v <= 1,
        )
        if len(self.problems) > before:
            return None
        if sd is None and fraction is None:
            self.problem(f"'{what}' needs 'sd' or 'human_fraction' (or both)", pair, line)
            return None
        return MinSpread(sd=sd, human_fraction=fraction)

    def sentence(self, value: Any, side: str, pair: str, line: int | None, prompt: PromptTemplate | None) -> str | None:
        """A sentence (or a template) the pair is rated with, held to the text rules and to the
        rule of ``prompt`` (None: a prompt that could not be read, whose rule is unknown)."""
        missing = f"missing key '{side}': the {side} sentence"
        text = self.required_text(
            value, side, pair, line, missing=missing, kind="a sentence (text)", limit=MAX_SENTENCE_CHARS
        )
        problem = prompt.sentence_problem(text) if text is not None and prompt is not None else None
        if problem is not None:
            self.problem(f"'{side}' {problem}", pair, line)
            return None
        return text

    @staticmethod
    def rated_with(raw: dict, prompt: PromptTemplate | None, defaults: Mapping[str, Any]) -> PromptTemplate | None:
        """The prompt a pair is rated with: its own, else the file's default, else the built-in
        default; None when the one it names could not be read."""
        if raw.get("prompt") is not None:
            return prompt
        return defaults.get("prompt") or DEFAULT_PROMPT

    def human(self, value: Any, pair: str, line: int | None) -> dict[str, HumanRating | None]:
        out: dict[str, HumanRating | None] = {"harmful": None, "harmless": None}
        if value is None:
            return out
        if not isinstance(value, dict):
            self.problem(
                f"'human' must be a mapping with 'harmful' and/or 'harmless', found {describe(value)}", pair, line
            )
            return out
        self.keys(value, HUMAN_KEYS, "human", pair)
        for side in SIDES:
            raw = value.get(side)
            where = f"human.{side}"
            side_line = line_of(value, side, line)
            if raw is None:
                continue
            if is_number(raw):
                raw = {"mean": raw}
            if not isinstance(raw, dict):
                self.problem(
                    f"'{where}' must be a number or a mapping with 'mean', found {not_a_number(raw)}", pair, side_line
                )
                continue
            self.keys(raw, HUMAN_RATING_KEYS, where, pair)
            mean, sd, n = raw.get("mean"), raw.get("sd"), raw.get("n")
            ok = True
            if not is_number(mean) or not -4 <= mean <= 4:
                found = "it is missing" if "mean" not in raw else f"found {not_a_number(mean)}"
                self.problem(
                    f"'{where}.mean' must be a number in -4..4; {found}", pair, line_of(raw, "mean", side_line)
                )
                ok = False
            if sd is not None and (not is_number(sd) or sd < 0):
                self.problem(
                    f"'{where}.sd' must be a number >= 0, found {not_a_number(sd)}", pair, line_of(raw, "sd", side_line)
                )
                ok = False
            # JSON has one kind of number: 30.0 is as whole as 30.
            if n is not None and (not is_number(n) or n < 1 or n != int(n)):
                n_line = line_of(raw, "n", side_line)
                found = not_a_number(n)
                self.problem(f"'{where}.n' must be a whole number >= 1, found {found}", pair, n_line)
                ok = False
            source = self.optional_text(raw.get("source"), f"{where}.source", pair, line_of(raw, "source", side_line))
            if ok:
                out[side] = HumanRating(
                    float(mean), source, None if sd is None else float(sd), None if n is None else int(n)
                )
        return out

    def pair_id(self, raw: dict, label: str, line: int | None) -> str | None:
        raw_id = raw.get("id")
        if raw_id is None:
            self.problem("missing key 'id': a short name, unique in the file", label, line)
        elif not isinstance(raw_id, str):
            # YAML reads an unquoted 010 as the number 8, and 1_000 as 1000: not the name written.
            self.problem(f"'id' must be text, found {describe(raw_id)}; put the id in quotes", label, line)
        elif not is_id(raw_id, dots=True):  # ids become part of pytest node ids: nothing to quote
            self.problem(f"'id' must be {id_rule(dots=True)}; found {describe(raw_id)}", label, line)
        else:
            return raw_id
        return None

    def pair(
        self, raw: Any, index: int, defaults: Mapping[str, Any], item_line: int | None
    ) -> Pair | TemplatePair | None:
        label = f"#{index + 1}"
        if not isinstance(raw, dict):
            self.problem(f"each pair must be a mapping, found {describe(raw)}", label, item_line)
            return None
        line = getattr(raw, "line", None) or item_line
        if "template" in raw:
            return self.template_pair(raw, label, defaults, line)
        before = len(self.problems)
        pair_id = self.pair_id(raw, label, line_of(raw, "id", line))
        label = pair_id or label
        self.keys(raw, PAIR_KEYS, "", label)

        key_lines = getattr(raw, "key_lines", {})

        def at(key: str) -> int | None:  # line_of(raw, key, line), called for every key of every pair
            return key_lines.get(key) or line

        prompt = self.prompt(raw.get("prompt"), "prompt", label, at("prompt"))
        rated_with = self.rated_with(raw, prompt, defaults)
        harmful = self.sentence(raw.get("harmful"), "harmful", label, at("harmful"), rated_with)
        harmless = self.sentence(raw.get("harmless"), "harmless", label, at("harmless"), rated_with)
        same = same_sentence(harmful, harmless) if harmful is not None and harmless is not None else None
        if same is not None:
            self.problem(
                f"'harmful' and 'harmless' are the same sentence{' ' + same if same else ''}: a pair needs an edit",
                label,
                at("harmless"),
            )
        threshold = self.threshold(raw.get("threshold"), "threshold", label, at("threshold"))
        tags = self.tags(raw.get("tags"), "tags", label, at("tags"))
        note = self.optional_text(raw.get("note"), "note", label, at("note"))
        human = self.human(raw.get("human"), label, at("human"))
        persona = self.pair_personas(raw, label, at, defaults, human) if _uses_personas(raw, defaults) else {}
        if pair_id is None or len(self.problems) > before or harmful is None or harmless is None:
            return None
        all_tags = tuple(dict.fromkeys(defaults.get("tags", ()) + tags))
        return Pair(
            id=pair_id,
            harmful=harmful,
            harmless=harmless,
            threshold=threshold if threshold is not None else defaults.get("threshold"),
            tags=all_tags,
            note=note,
            human_harmful=human["harmful"],
            human_harmless=human["harmless"],
            prompt=prompt or defaults.get("prompt"),
            path=self.path,
            line=line,
            **persona,
        )

    def template_pair(
        self, raw: dict, label: str, defaults: Mapping[str, Any], line: int | None
    ) -> TemplatePair | None:
        before = len(self.problems)
        pair_id = self.pair_id(raw, label, line_of(raw, "id", line))
        label = pair_id or label
        self.keys(raw, TEMPLATE_KEYS, "", label, ignore=PERSONA_KEYS)
        own = sorted((key for key in raw if key in PERSONA_KEYS), key=lambda key: line_of(raw, key, line) or 0)
        if own:
            self.problem(
                f"template pairs are not rated per persona, so {key_list(own)} cannot apply "
                "(every generated example would cost two calls per persona): write the pair out with "
                "'harmful' and 'harmless' to rate it per persona",
                label,
                line_of(raw, own[0], line),
            )
        elif defaults.get("personas") is not None or defaults.get("personas_broken"):
            first = defaults.get("personas_line")
            self.problem(
                "template pairs are not rated per persona, but the file's 'defaults.personas'"
                + (f" (line {first})" if first else "")
                + " would apply to every pair: put template pairs in a file without persona defaults",
                label,
                line,
            )

        def at(key: str) -> int | None:
            return line_of(raw, key, line)

        prompt = self.prompt(raw.get("prompt"), "prompt", label, at("prompt"))
        rated_with = self.rated_with(raw, prompt, defaults)
        template = self.sentence(raw.get("template"), "template", label, at("template"), rated_with)
        decides = raw.get("decides")
        if not is_name(decides):
            found = "it is missing" if decides is None else f"found {describe(decides)}"
            self.problem(f"'decides' must name the slot that carries the moral weight; {found}", label, at("decides"))
            decides = None
        slots = self.slots(raw.get("slots"), label, at("slots"))
        parsed = None
        if template is not None:
            # The template as the generator reads it: braces, placeholders, the decisive slot and
            # the file's own slots, checked by the one parser that fills it later (which then
            # takes it from the pair).
            try:
                parsed = Template(template, decides, {slot.name: slot for slot in slots})
            except TemplateError as exc:
                self.problem(f"'template': {exc}", label, at("template"))
        checks = one_or_many(raw.get("checks", list(CHECKS)))
        if not isinstance(checks, list) or not checks or any(c not in CHECKS for c in checks):
            self.problem(
                f"'checks' must be a list of {', '.join(CHECKS)}; found {describe(checks)}", label, at("checks")
            )
            checks = list(CHECKS)
        threshold = self.threshold(raw.get("threshold"), "threshold", label, at("threshold"))
        tolerance = self.bounded(
            raw.get("invariance_tolerance"), "invariance_tolerance", label, at("invariance_tolerance"), 8
        )
        tags = self.tags(raw.get("tags"), "tags", label, at("tags"))
        note = self.optional_text(raw.get("note"), "note", label, at("note"))
        if parsed is not None and rated_with is not None:
            for problem in leading_marker_problems(parsed, parsed.slots_override, rated_with):
                self.problem(problem, label, at("slots"))
        if pair_id is None or len(self.problems) > before or parsed is None or decides is None:
            return None
        return TemplatePair(
            id=pair_id,
            template=template,
            decides=decides,
            slots=slots,
            checks=tuple(dict.fromkeys(checks)),
            threshold=threshold if threshold is not None else defaults.get("threshold"),
            invariance_tolerance=DEFAULT_INVARIANCE_TOLERANCE if tolerance is None else tolerance,
            tags=tuple(dict.fromkeys(defaults.get("tags", ()) + tags)),
            note=note,
            prompt=prompt or defaults.get("prompt"),
            path=self.path,
            line=line,
            parsed=parsed,
        )

    def slots(self, value: Any, pair: str, line: int | None) -> tuple[Slot, ...]:
        """A template pair's own fillers for its slots, held to the lexicon's rule for fillers."""
        if value is None:
            return ()
        if not isinstance(value, dict):
            self.problem(f"'slots' must map slot names to fillers, found {describe(value)}", pair, line)
            return ()
        out = []
        for name, fillers, slot_line in self.named(value, "slot", pair):
            where = f"slots.{name}"
            if not isinstance(fillers, dict):
                self.problem(
                    f"'{where}' must be a mapping with 'harmful' and 'harmless' fillers, found {describe(fillers)}",
                    pair,
                    slot_line,
                )
                continue
            self.keys(fillers, frozenset(SIDES), where, pair)
            slot = check_slot(self, name, fillers, where, pair, slot_line)
            if slot is not None:
                out.append(slot)
        return tuple(out)


def _first_use(path: str, place: int | None, here: str) -> str:
    """Where an id was first used, for the message on its next use in the file (or table) ``here``."""
    if not place:
        return ""
    where = f"in row {int(place)}" if isinstance(place, Cell) else f"on line {place}"
    return f" (first used {where}{'' if path == here else f' of {path}'})"


def leading_marker_problems(
    template: Template, slots: Mapping[str, Slot], prompt: PromptTemplate, *, own: bool = True
) -> list[str]:
    """What to say of the fillers of ``slots`` (the template's ``own``, or the lexicon's) that
    would start a sentence of ``template`` with a marker of ``prompt`` (a template that begins
    with ``{who}``, and a filler "Rating: ...")."""
    return [
        (f"'slots.{slot}.{side}' has a filler" if own else f"the lexicon's slot {slot!r} has a {side} filler")
        + f" that starts the template with the prompt's marker {marker!r}: the prompt {prompt.name!r} would "
        "read the sentence as a line of its own"
        for slot, side, marker in template.prompt_problems(slots, prompt)
    ]


__all__ = [
    "BrokenRow",
    "HumanRating",
    "Pair",
    "PairFileError",
    "Problem",
    "SlotFillers",
    "Suite",
    "TemplatePair",
    "load_suite",
    "parse_suite",
]
