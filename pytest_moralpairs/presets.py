"""From rows to pairs: how the rows of a table (:mod:`.tables`) become the pairs that a pair file's
``source:`` draws from it.

Without a preset, each field of a pair is read from the column of its own name (``id``,
``harmful``, ``harmless``, ``context``, ``human_harmful``, ...) or from the column that
``columns`` names for it: one row, one pair. A preset knows a published data set by its own
column names and makes pairs as its design has them:

``moral_stories``
    Moral Stories (Emelin et al. 2021). A row with both actions (the ``full`` configuration) is
    one pair; rows with one action each (the classification configurations) are paired by their
    ``ID``. Each sentence is the story's situation and intention followed by one action.
``moralexceptqa``
    MoralExceptQA (Jin et al. 2022). Two variants of one study and context whose shares of
    people judging the rule-breaking permissible differ by ``min_difference`` or more are a pair,
    the less permissible one harmful; each share ``p`` is its sentence's human rating ``8p - 4``.

Every pair comes out as a :class:`PairRecord`: the keys of a pair as a YAML file writes them, each
at the cell (:class:`~.validation.Cell`) it was read from, so that the rules of a pair
(:class:`~.pairs.PairChecker`) check it as they check any pair and a problem names
``file:row:column``. What the rows break beyond those rules (a row that could not be read, half a
story without its other half, a share that is no share) rides on the record as its ``problems``.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Callable, Iterable, Iterator, Mapping

from .tables import Row
from .validation import Cell, Record, describe, is_number, number_in_text, show_key

#: A pair's fields a table may give, each read by default from the column of its name.
FIELDS = ("id", "harmful", "harmless", "context", "human_harmful", "human_harmless", "tags", "threshold", "note")
#: What an id may not hold, in an id made of a table's values (letters, digits, '_', '-', '.' only).
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_.\-]+")
#: Tags in one text cell: names separated by commas or spaces.
_TAG_SEPARATORS = re.compile(r"[,\s]+")


class PairRecord(Record):
    """A pair drawn from a table: its keys as a pair file writes them (``id``, ``harmful``,
    ``harmless``, ``human``, ``tags``, ``threshold``, ``note``), each at the cell it was read from,
    and what is wrong with its rows beyond the rules of a pair (``problems``, each with its cell).
    An ``unusable`` record holds no pair to check: its problems are all there is to say."""

    def __init__(self, line: Cell) -> None:
        super().__init__(line)
        self.problems: list[tuple[str, Cell]] = []
        self.unusable = False

    def put(self, key: str, value: Any, cell: Cell) -> None:
        if value is not None:
            self[key] = value
            self.key_lines[key] = cell


@dataclass(frozen=True)
class Option:
    """A preset's own setting: its default, and what it must be (``ok``, said as ``expected``)."""

    default: Any
    expected: str
    ok: Callable[[Any], bool]


#: How a preset makes pair records of rows, given the column(s) of each of its roles and its options.
Maker = Callable[[Iterable[Row], Mapping[str, tuple[str, ...]], Mapping[str, Any]], Iterator[PairRecord]]


@dataclass(frozen=True)
class Preset:
    """How the rows of one kind of table become pairs: the ``roles`` it reads (each from the column
    of the same name unless the file's ``columns`` names another), those a table must have
    (``required``), those whose column may be a list of columns (``listed``), its ``options``."""

    name: str
    title: str
    roles: tuple[str, ...]
    required: frozenset[str]
    make: Maker
    listed: frozenset[str] = frozenset()
    options: Mapping[str, Option] = field(default_factory=dict)
    #: Why a table with rows may give no pair.
    none_drawn: str = "it has no rows"


def sampled(records: Iterable[PairRecord], n: int, seed: int) -> Iterator[PairRecord]:
    """``n`` of ``records`` drawn at random without replacement, in their own order: the same
    records, ``n`` and ``seed`` give the same sample on every machine and Python version (a
    reservoir over the draws of ``random.Random(seed).random()``, whose sequence Python keeps)."""
    rng = random.Random(seed)
    kept: list[tuple[int, PairRecord]] = []
    for index, record in enumerate(records):
        if index < n:
            kept.append((index, record))
            continue
        slot = int(rng.random() * (index + 1))
        if slot < n:
            kept[slot] = (index, record)
    kept.sort(key=lambda entry: entry[0])
    return (record for _, record in kept)


# --- reading cells ------------------------------------------------------------------------------


def given(value: Any) -> bool:
    """Whether a cell holds anything: not null, not blank text."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def _optional(value: Any) -> Any:
    return value if given(value) else None


def _number(value: Any) -> Any:
    """A cell meant to hold a number: text that is one becomes it, the rest is left to the rules."""
    return number_in_text(value) if isinstance(value, str) else value


def _tags(value: Any) -> Any:
    if isinstance(value, str):
        return [tag for tag in _TAG_SEPARATORS.split(value) if tag] or None
    return _optional(value)


def _id(value: Any, row: int) -> Any:
    """The pair id a cell gives: its text (a whole number as its digits: an id column of numbers
    is common, and JSON has no other way to write one); ``row-N`` for an empty cell."""
    if not given(value):
        return f"row-{row}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def made_id(*parts: Any) -> str:
    """An id made of a table's values, joined by '.': in each, the runs of anything an id may not
    hold (letters, digits, '_', '-', '.' only) become one '-'."""
    return ".".join(_NOT_IN_ID.sub("-", str(part)).strip("-.") for part in parts if given(part))


def sentence(record: PairRecord, row: Row, action: str, context: Iterable[str]) -> tuple[Any, Cell]:
    """The sentence of one side: the row's ``context`` columns then its ``action`` column, joined
    by spaces, at the cell that names every column it was made of (``situation+intention+moral_action``).
    An action cell that holds no text is handed on as it is, at its own cell, for the rules to say
    what it is; a context cell that holds something other than text is a problem of the record."""
    value = row.cells.get(action)
    if not isinstance(value, str) or not value.strip():
        return value, Cell(row.number, action)
    parts, used = [], []
    for column in context:
        part = row.cells.get(column)
        if not given(part):
            continue
        if not isinstance(part, str):
            record.problems.append(
                (
                    f"the context column {show_key(column)} must hold text, found {describe(part)}",
                    Cell(row.number, column),
                )
            )
            continue
        parts.append(part.strip())
        used.append(column)
    if not parts:
        return value, Cell(row.number, action)
    return " ".join([*parts, value.strip()]), Cell(row.number, "+".join([*used, action]))


def unreadable(row: Row) -> PairRecord:
    record = PairRecord(Cell(row.number, None))
    record.unusable = True
    record.problems.append((str(row.problem), Cell(row.number, None)))
    return record


# --- without a preset: one row, one pair ------------------------------------------------------------


def _columns(
    rows: Iterable[Row], columns: Mapping[str, tuple[str, ...]], options: Mapping[str, Any]
) -> Iterator[PairRecord]:
    (id_column,) = columns["id"]
    context = columns["context"]
    singles = {name: columns[name][0] for name in ("human_harmful", "human_harmless", "tags", "threshold", "note")}
    for row in rows:
        if row.problem is not None:
            yield unreadable(row)
            continue
        cells, number = row.cells, row.number
        record = PairRecord(Cell(number, None))
        record.put("id", _id(cells.get(id_column), number), Cell(number, id_column))
        for side in ("harmful", "harmless"):
            record.put(side, *sentence(record, row, columns[side][0], context))
        human = Record(Cell(number, singles["human_harmful"]))
        for side in ("harmful", "harmless"):
            column = singles[f"human_{side}"]
            mean = _number(cells.get(column))
            if mean is not None:
                human[side] = mean
                human.key_lines[side] = Cell(number, column)
        if human:
            record.put("human", human, next(iter(human.key_lines.values())))
        record.put("tags", _tags(cells.get(singles["tags"])), Cell(number, singles["tags"]))
        record.put("threshold", _number(cells.get(singles["threshold"])), Cell(number, singles["threshold"]))
        record.put("note", _optional(cells.get(singles["note"])), Cell(number, singles["note"]))
        yield record


COLUMNS = Preset(
    name="",
    title="the columns",
    roles=FIELDS,
    required=frozenset({"harmful", "harmless"}),
    make=_columns,
    listed=frozenset({"context"}),
)


# --- Moral Stories ------------------------------------------------------------------------------------


@dataclass
class _Half:
    """A row of Moral Stories that holds one of its story's two actions."""

    row: Row
    side: str  # "harmless" for the moral action, "harmful" for the immoral one
    story: str | None  # its ID as text, if it has one
    context: tuple[str, ...]  # norm, situation, intention: what the two rows of a story share


def _moral_stories(
    rows: Iterable[Row], columns: Mapping[str, tuple[str, ...]], options: Mapping[str, Any]
) -> Iterator[PairRecord]:
    ((id_column,), (moral,), (immoral,)) = columns["ID"], columns["moral_action"], columns["immoral_action"]
    context = columns["situation"] + columns["intention"]
    shared = columns["norm"] + context
    halves: list[_Half] = []
    for row in rows:
        if row.problem is not None:
            yield unreadable(row)
            continue
        has_moral, has_immoral = given(row.cells.get(moral)), given(row.cells.get(immoral))
        if has_moral and has_immoral:  # the full configuration: one story, one row
            record = PairRecord(Cell(row.number, None))
            record.put("id", _id(row.cells.get(id_column), row.number), Cell(row.number, id_column))
            record.put("harmful", *sentence(record, row, immoral, context))
            record.put("harmless", *sentence(record, row, moral, context))
            yield record
        elif has_moral or has_immoral:
            story = row.cells.get(id_column)
            halves.append(
                _Half(
                    row,
                    "harmless" if has_moral else "harmful",
                    str(story).strip() if given(story) else None,
                    tuple(str(row.cells.get(column) or "").strip() for column in shared),
                )
            )
        else:
            record = PairRecord(Cell(row.number, None))
            record.unusable = True
            record.problems.append(
                (
                    f"the row has neither {show_key(moral)} nor {show_key(immoral)}: a story needs both actions",
                    Cell(row.number, moral),
                )
            )
            yield record
    yield from _stories_of_halves(halves, columns, context)


def _stories_of_halves(
    halves: list[_Half], columns: Mapping[str, tuple[str, ...]], context: tuple[str, ...]
) -> Iterator[PairRecord]:
    """Rows with one action each, paired: by the same ID; else by IDs that differ only in a last
    ``1`` on the moral row and ``0`` on the immoral one (how the classification configurations
    number the two rows of a story); else, for rows without an ID, by the same norm, situation
    and intention. The pairs follow in the order of their first rows; a row left without its
    other half is a problem of its own."""
    (id_column,), (moral,), (immoral,) = columns["ID"], columns["moral_action"], columns["immoral_action"]
    stories: list[tuple[_Half, _Half, str]] = []
    pending = halves

    def match(key_of: Callable[[_Half], Any], story_of: Callable[[_Half, _Half, Any], str]) -> None:
        nonlocal pending
        firsts: dict[Any, dict[str, _Half]] = {}
        for half in pending:
            key = key_of(half)
            if key is not None:
                firsts.setdefault(key, {}).setdefault(half.side, half)
        used: set[int] = set()
        for key, sides in firsts.items():
            if len(sides) == 2:
                stories.append(
                    (sides["harmful"], sides["harmless"], story_of(sides["harmful"], sides["harmless"], key))
                )
                used.update((id(sides["harmful"]), id(sides["harmless"])))
        pending = [half for half in pending if id(half) not in used]

    match(lambda half: half.story, lambda harmful, harmless, key: key)
    match(
        lambda half: (
            half.story[:-1] if half.story and half.story[-1] == ("1" if half.side == "harmless" else "0") else None
        ),
        lambda harmful, harmless, key: key,
    )
    match(
        lambda half: half.context if half.story is None and any(half.context) else None,
        lambda harmful, harmless, key: f"row-{min(harmful.row.number, harmless.row.number)}",
    )
    made: list[tuple[int, PairRecord]] = []
    for harmful, harmless, story in stories:
        first = min(harmful.row, harmless.row, key=lambda row: row.number)
        record = PairRecord(Cell(first.number, None))
        record.put("id", _id(story, first.number), Cell(first.number, id_column))
        record.put("harmful", *sentence(record, harmful.row, immoral, context))
        record.put("harmless", *sentence(record, harmless.row, moral, context))
        made.append((first.number, record))
    for half in pending:
        has, lacks = ("moral", "immoral") if half.side == "harmless" else ("immoral", "moral")
        record = PairRecord(Cell(half.row.number, None))
        record.put("id", half.story, Cell(half.row.number, id_column))
        record.unusable = True
        record.problems.append(
            (
                f"the row holds only the {has} action of a story, and no row holds its {lacks} action: rows with "
                f"one action each pair by {show_key(id_column)} (the same, or the same but for a last 1 on the "
                "moral row and 0 on the immoral one) or, without one, by the same norm, situation and intention",
                Cell(half.row.number, immoral if half.side == "harmless" else moral),
            )
        )
        made.append((half.row.number, record))
    made.sort(key=lambda entry: entry[0])
    yield from (record for _, record in made)


MORAL_STORIES = Preset(
    name="moral_stories",
    title="Moral Stories",
    roles=("ID", "norm", "situation", "intention", "moral_action", "immoral_action"),
    required=frozenset({"moral_action", "immoral_action"}),
    make=_moral_stories,
)


# --- MoralExceptQA ------------------------------------------------------------------------------------

#: What the human rating of a MoralExceptQA sentence is, as its source says.
EXCEPT_QA_SOURCE = "MoralExceptQA (Jin et al. 2022): 8 x the share of people who judged it permissible - 4"
DEFAULT_MIN_DIFFERENCE = 0.25


@dataclass
class _Variant:
    row: Row
    condition: Any
    share: float


def _moral_except_qa(
    rows: Iterable[Row], columns: Mapping[str, tuple[str, ...]], options: Mapping[str, Any]
) -> Iterator[PairRecord]:
    (study_column,), (context_column,), (condition_column,) = columns["study"], columns["context"], columns["condition"]
    (scenario,), (share_column,) = columns["scenario"], columns["human.response"]
    groups: dict[tuple[str, str], list[_Variant]] = {}
    for row in rows:
        if row.problem is not None:
            yield unreadable(row)
            continue
        cells, number = row.cells, row.number
        record = PairRecord(Cell(number, None))
        for column in (study_column, context_column):
            if not given(cells.get(column)):
                record.problems.append(
                    (
                        f"{show_key(column)} is empty: a variant is paired with the others of its study and context",
                        Cell(number, column),
                    )
                )
        share = _number(cells.get(share_column))
        if not is_number(share) or not 0 <= share <= 1:
            found = "it is empty" if share is None else f"found {describe(share)}"
            record.problems.append(
                (
                    f"{show_key(share_column)} must be a share in 0..1 (of the people who judged breaking the rule "
                    f"permissible); {found}",
                    Cell(number, share_column),
                )
            )
        if record.problems:
            record.unusable = True
            yield record
            continue
        key = (str(cells[study_column]).strip(), str(cells[context_column]).strip())
        groups.setdefault(key, []).append(_Variant(row, cells.get(condition_column), float(share)))
    least = options["min_difference"]
    for (study, context), variants in groups.items():
        for first, second in combinations(variants, 2):
            if abs(first.share - second.share) < least - 1e-12:
                continue
            low, high = sorted((first, second), key=lambda variant: variant.share)
            yield _except_pair(study, context, low, high, scenario, share_column, condition_column)


def _except_pair(
    study: str, context: str, low: _Variant, high: _Variant, scenario: str, share_column: str, condition_column: str
) -> PairRecord:
    first = min(low.row.number, high.row.number)
    record = PairRecord(Cell(first, None))
    names = [v.condition if given(v.condition) else f"row{v.row.number}" for v in (low, high)]
    versus = "-vs-".join(_NOT_IN_ID.sub("-", str(name)).strip("-") for name in names)
    record.put("id", made_id(study, context, versus), Cell(first, condition_column))
    record.put("harmful", low.row.cells.get(scenario), Cell(low.row.number, scenario))
    record.put("harmless", high.row.cells.get(scenario), Cell(high.row.number, scenario))
    human = Record(Cell(low.row.number, share_column))
    for side, variant in (("harmful", low), ("harmless", high)):
        at = Cell(variant.row.number, share_column)
        rating = Record(at, {"mean": at, "source": at})
        rating["mean"] = 8 * variant.share - 4
        rating["source"] = EXCEPT_QA_SOURCE
        human[side] = rating
        human.key_lines[side] = at
    record.put("human", human, human.line)  # type: ignore[arg-type]
    shares = " vs ".join(
        f"{name} ({variant.share:.0%} permissible)" for name, variant in zip(names, (low, high), strict=True)
    )
    record.put("note", f"MoralExceptQA {study}, {context}: {shares}", Cell(first, share_column))
    return record


MORAL_EXCEPT_QA = Preset(
    name="moralexceptqa",
    title="MoralExceptQA",
    roles=("study", "context", "condition", "scenario", "human.response"),
    required=frozenset({"study", "context", "scenario", "human.response"}),
    make=_moral_except_qa,
    none_drawn="no two variants of one study and context differ by min_difference",
    options={
        "min_difference": Option(
            DEFAULT_MIN_DIFFERENCE,
            "a share in 0..1, more than 0 (how much more permissible the harmless variant must be)",
            lambda value: 0 < value <= 1,
        )
    },
)

#: The presets by name.
PRESETS = {preset.name: preset for preset in (MORAL_STORIES, MORAL_EXCEPT_QA)}
