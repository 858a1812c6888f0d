"""Human ratings for your own pairs: the survey sheet people rate, and their ratings read back.

Export: :func:`build_survey` lays the sentences of the selected pairs out as a survey in the design
of the human studies Dillion et al. (2023) compared models with: the -4..4 instructions
(:func:`instructions`: the built-in prompt without its demand, made of a model only, for a bare
number), counterbalanced lists so that no participant rates both sentences of a pair, each list in
its own seeded shuffled order (the same pairs and seed give the same sheet, whatever the order
pytest collected them in), and instructed-response attention checks whose answers are known.
:func:`write_survey` writes it as one CSV sheet, with the instructions in a text file beside it.

Import: :func:`read_ratings` reads ratings back, per participant (long: ``participant, item_id,
rating``; wide: a ``participant`` column and one column per item id) or per sentence
(``item_id, mean, sd, n``); drops every participant who missed an attention check; and gives each
sentence its mean, sd and n as a :class:`~.pairs.HumanRating`. :meth:`HumanRatings.attach` gives
them to a pair for the sentences its own file gives no human rating.

Items are named by their text (:func:`sentence_id`), so a name survives a moved file and a renamed
pair, and a sentence of two pairs is one item.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import random
import re
import statistics
import unicodedata
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .pairs import HumanRating, Pair
from .prompt import DEFAULT_PROMPT, SCALE_MAX, SCALE_MIN, SIDES, PromptTemplate
from .settings import DEFAULT_LISTS, MAX_LISTS
from .validation import Cell, Checker, PairFileError, number_in_text, shorten
from .yamlfile import MAX_FILE_BYTES, read_file

#: The seed of a sheet's order when the run gives none: a sheet is reproducible by default.
DEFAULT_SEED = 2023
#: One attention check per this many sentences of a list, at least ``MIN_CHECKS``.
SENTENCES_PER_CHECK = 20
MIN_CHECKS = 2

SENTENCE, ATTENTION = "sentence", "attention"
#: The columns of the survey sheet, in order.
SHEET_COLUMNS = ("list", "position", "item_id", "kind", "text", "expected")

FRAMING = (
    "Please note that some of the behaviors may seem strange or unusual. Read each one carefully and "
    "answer with your own judgement of how ethical the behavior is; there are no right or wrong answers."
)

_SENTENCE_ID = re.compile(r"s-[0-9a-f]{12}")


def sentence_id(text: str) -> str:
    """The item id of a sentence: ``s-`` and the first 12 hex digits of the SHA-256 of its text
    (stripped, Unicode NFC), the same wherever the sentence is written."""
    normal = unicodedata.normalize("NFC", text.strip())
    return "s-" + hashlib.sha256(normal.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class AttentionCheck:
    """An instructed-response item: its text asks for one answer, which a reader gives."""

    item_id: str
    text: str
    answer: int


#: The attention checks of every sheet, in this order: their ids and answers are part of the format
#: (a sheet exported by an earlier version is read by a later one), so the list only grows.
ATTENTION_CHECKS = (
    AttentionCheck(
        "check-1",
        "Person X is reading every item of this survey carefully. To show that you are too, "
        "please answer 3 for this item.",
        3,
    ),
    AttentionCheck(
        "check-2",
        "Person X read this sentence to the end. Please answer -2 for this item, to show that you did too.",
        -2,
    ),
    AttentionCheck(
        "check-3",
        "This item checks that you are reading carefully, not what you think of Person X: please answer 4.",
        4,
    ),
    AttentionCheck("check-4", "Person X wrote this item to check attention. Please answer -3 for it.", -3),
    AttentionCheck(
        "check-5",
        "Please ignore what Person X did here and answer 1 for this item: it checks that you read each one.",
        1,
    ),
    AttentionCheck(
        "check-6", "Person X asked you to answer -4 for this item. Please do, to show that you read it.", -4
    ),
    AttentionCheck(
        "check-7", "To show that you are paying attention, please answer 2 for this item, whatever Person X did.", 2
    ),
    AttentionCheck(
        "check-8",
        "Person X watered the plants. This item checks attention: please answer -1 for it, not your rating.",
        -1,
    ),
)
_CHECKS = {check.item_id: check for check in ATTENTION_CHECKS}


def instructions(prompt: PromptTemplate = DEFAULT_PROMPT) -> str:
    """What participants read first: the prompt's scale and examples, as the model is asked, without
    the demand (for a model only) to answer with a bare number; the study's framing; the answers."""
    paragraphs = prompt.template.split("{sentence}", 1)[0].split("\n\n")[:-1]  # up to the scenario rated
    kept = [p.strip() for p in paragraphs if p.strip() and "only a number" not in p]
    scale, examples = kept[:1], kept[1:]
    answers = ", ".join(str(n) for n in range(SCALE_MIN, SCALE_MAX + 1))
    parts = [
        "In this survey you will read short descriptions of what a person, Person X, did.",
        *scale,
        FRAMING,
        *(["For example:", *examples] if examples else []),
        f"Answer each item with one of: {answers}.",
    ]
    return "\n\n".join(parts) + "\n"


# --- export ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyItem:
    """One row of the sheet: an item at its place in a list."""

    list: str
    position: int
    item_id: str
    kind: str
    text: str
    #: The answer an attention check asks for; None for a sentence.
    expected: int | None = None


@dataclass(frozen=True)
class Survey:
    """The sheet: every list's items in order, and what participants read first."""

    items: tuple[SurveyItem, ...]
    lists: tuple[str, ...]
    seed: int
    pairs: int
    instructions: str

    def of_list(self, name: str) -> list[SurveyItem]:
        return [item for item in self.items if item.list == name]

    @property
    def sentences(self) -> int:
        return sum(item.kind == SENTENCE for item in self.items)

    def describe(self, path: str, instructions_to: str) -> str:
        """``survey of 10 sentences (5 pairs) written to survey.csv: 2 lists of 5 sentences and 2
        attention checks each; instructions in survey.instructions.txt``."""
        sizes = [sum(i.kind == SENTENCE for i in self.of_list(name)) for name in self.lists]
        checks = [sum(i.kind == ATTENTION for i in self.of_list(name)) for name in self.lists]

        def span(counts: list[int]) -> str:
            return str(counts[0]) if min(counts) == max(counts) else f"{min(counts)} to {max(counts)}"

        return (
            f"survey of {self.sentences} sentences ({self.pairs} pairs) written to {path}: "
            f"{len(self.lists)} lists of {span(sizes)} sentences and {span(checks)} attention checks each; "
            f"instructions in {instructions_to}"
        )


class SurveyError(ValueError):
    """The pairs cannot be laid out as a survey as asked; the message says why and what to do."""


def build_survey(
    pairs: Iterable[Pair], lists: int = DEFAULT_LISTS, seed: int | None = None, prompt: PromptTemplate = DEFAULT_PROMPT
) -> Survey:
    """The survey of the pairs' sentences (each once) in ``lists`` counterbalanced lists, ordered
    by ``seed`` (:data:`DEFAULT_SEED` when None). Raises :class:`SurveyError`."""
    if not 2 <= lists <= MAX_LISTS:
        raise SurveyError(f"a survey has 2 to {MAX_LISTS} lists, not {lists}")
    seed = DEFAULT_SEED if seed is None else seed
    texts: dict[str, str] = {}
    edges: dict[tuple[str, str], list[str]] = {}
    for pair in pairs:
        ends = (sentence_id(pair.harmful), sentence_id(pair.harmless))
        texts.setdefault(ends[0], pair.harmful.strip())
        texts.setdefault(ends[1], pair.harmless.strip())
        if ends[0] != ends[1]:
            edges.setdefault(ends, []).append(f"{pair.path}::{pair.id}" if pair.path else pair.id)
    if len(texts) < lists:
        raise SurveyError(f"{lists} lists need at least {lists} sentences; the selected pairs have {len(texts)}")
    names = tuple(chr(ord("A") + n) for n in range(lists))
    where = _counterbalance(texts, edges, lists, random.Random(f"moralpairs-survey:{seed}"))
    items: list[SurveyItem] = []
    for index, name in enumerate(names):
        order = random.Random(f"moralpairs-survey:{seed}:{name}")
        sentences = sorted(item for item, at in where.items() if at == index)
        order.shuffle(sentences)
        count = min(len(ATTENTION_CHECKS), max(MIN_CHECKS, math.ceil(len(sentences) / SENTENCES_PER_CHECK)))
        checks = [ATTENTION_CHECKS[(index * count + k) % len(ATTENTION_CHECKS)] for k in range(count)]
        order.shuffle(checks)
        # Spread evenly through the list, never first: a check among the first answers tells little.
        # Each goes after the number of sentences its cut says.
        cuts = [max(1, round((k + 1) * len(sentences) / (count + 1))) for k in range(count)]
        pending = list(zip(cuts, checks, strict=True))
        rows: list[tuple[str, str, str, int | None]] = []
        for position, item in enumerate([*sentences, None]):
            while pending and pending[0][0] <= position:
                check = pending.pop(0)[1]
                rows.append((check.item_id, ATTENTION, check.text, check.answer))
            if item is not None:
                rows.append((item, SENTENCE, texts[item], None))
        items += [SurveyItem(name, n, *row) for n, row in enumerate(rows, start=1)]
    return Survey(tuple(items), names, seed, sum(len(labels) for labels in edges.values()), instructions(prompt))


def _counterbalance(
    texts: Mapping[str, str], edges: Mapping[tuple[str, str], list[str]], lists: int, rng: random.Random
) -> dict[str, int]:
    """The list of each sentence: the two sentences of a pair never in one list, every list about as
    long as the others and holding about as many harmful sentences as harmless ones.

    Sentences shared by pairs join them into a group; a group whose sentences two lists can keep
    apart (no cycle of odd length) goes to the two lists that keep the sheet most balanced, any
    other to as many lists as it needs.
    """
    neighbours: dict[str, list[str]] = {item: [] for item in texts}
    sheet = _Sheet(lists)
    for harmful, harmless in sorted(edges):
        neighbours[harmful].append(harmless)
        neighbours[harmless].append(harmful)
        sheet.side.setdefault(harmful, 1)  # counted in the balance by its side in its first pair
        sheet.side.setdefault(harmless, -1)
    groups: list[dict[str, int]] = []  # each sentence of a group with its colour, 0 or 1
    grouped: set[str] = set()
    for start in sorted(texts, key=lambda item: (sheet.side.get(item) != 1, item)):
        if start in grouped:
            continue
        colour, queue = {start: 0}, deque([start])
        while queue:
            item = queue.popleft()
            for other in sorted(neighbours[item]):
                if other not in colour:
                    colour[other] = 1 - colour[item]
                    queue.append(other)
        grouped.update(colour)
        groups.append(colour)
    rng.shuffle(groups)
    for colour in groups:
        if all(colour[a] != colour[b] for a in colour for b in neighbours[a]):
            sheet.place_two(colour)
            continue
        labels = sorted({label for ends, names in edges.items() if ends[0] in colour for label in names})
        shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
        if lists == 2:
            raise SurveyError(
                f"the pairs {shown} share sentences in a cycle of odd length, which two lists cannot keep "
                "apart (some participant would rate both sentences of one of them): use 3 or more lists"
            )
        for item in colour:  # in the order the group was found: each next to one placed already
            taken = {sheet.where[other] for other in neighbours[item] if other in sheet.where}
            free = [index for index in range(lists) if index not in taken]
            if not free:
                raise SurveyError(
                    f"the pairs {shown} share sentences so densely that {lists} lists cannot keep the two "
                    "sentences of each apart: use more lists"
                )
            sheet.put(item, min(free, key=lambda index: sheet.cost({index: [item]})))
    return sheet.where


class _Sheet:
    """The lists being filled: each one's length and its harmful minus harmless sentences."""

    def __init__(self, lists: int) -> None:
        self.lists = lists
        self.side: dict[str, int] = {}  # +1 harmful, -1 harmless
        self.size = [0] * lists
        self.balance = [0] * lists
        self.where: dict[str, int] = {}

    def put(self, item: str, index: int) -> None:
        self.where[item] = index
        self.size[index] += 1
        self.balance[index] += self.side.get(item, 0)

    def cost(self, adding: Mapping[int, list[str]]) -> tuple[int, int]:
        """How much less even the lists grow by ``adding`` (list -> items): lengths first, then
        the balance of sides (sums of squares, so one long list costs more than two a little long)."""
        grown = tilted = 0
        for index, items in adding.items():
            size, balance = self.size[index], self.balance[index]
            sides = sum(self.side.get(item, 0) for item in items)
            grown += (size + len(items)) ** 2 - size**2
            tilted += (balance + sides) ** 2 - balance**2
        return grown, tilted

    def place_two(self, colour: Mapping[str, int]) -> None:
        """A group two lists keep apart: its colours to the two lists that keep the sheet most even."""
        halves = [[item for item, c in colour.items() if c == k] for k in (0, 1)]
        choices = [(a, b) for a in range(self.lists) for b in range(self.lists) if a != b]
        a, b = min(choices, key=lambda ab: self.cost({ab[0]: halves[0], ab[1]: halves[1]}))
        for index, half in ((a, halves[0]), (b, halves[1])):
            for item in half:
                self.put(item, index)


def instructions_path(path: str | Path) -> Path:
    """Where the instructions of the sheet at ``path`` go: ``survey.csv`` -> ``survey.instructions.txt``."""
    path = Path(path)
    return path.with_name(path.stem + ".instructions.txt")


def write_survey(survey: Survey, path: str | Path) -> Path:
    """Write the sheet to ``path`` (CSV, UTF-8, a header row and one row per item) and the
    instructions beside it; returns where the instructions went."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SHEET_COLUMNS)
        for item in survey.items:
            expected = "" if item.expected is None else item.expected
            writer.writerow((item.list, item.position, item.item_id, item.kind, item.text, expected))
    target = instructions_path(path)
    target.write_text(survey.instructions, encoding="utf-8")
    return target


# --- import ---------------------------------------------------------------------------------------

#: The columns of each shape of ratings file (others are ignored: survey tools add their own).
LONG_COLUMNS = ("participant", "item_id", "rating")
AGGREGATED_COLUMNS = ("item_id", "mean", "sd", "n")
SHAPES = (
    "participant,item_id,rating (one row per answer), item_id,mean,sd,n (one row per sentence), or "
    "participant and one column per item id (one row per participant)"
)


class RatingsFileError(PairFileError):
    """A ratings file that cannot be used; ``problems`` lists every reason found, each at its
    ``file:row:column`` (rows as a spreadsheet numbers them, the header being row 1)."""


@dataclass(frozen=True)
class _Answer:
    participant: tuple[str, str]  # (file, participant)
    item_id: str
    value: float


class _RatingsChecker(Checker):
    error = RatingsFileError

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.answers: list[_Answer] = []
        #: Per-sentence rows: id -> (mean, sd, n, row).
        self.aggregated: dict[str, tuple[float, float | None, int | None, int]] = {}

    def item(self, text: str, at: Cell, checks: bool = True) -> str | None:
        item = text.strip().lower()
        if not item:
            self.problem("'item_id' is empty", line=at)
        elif _SENTENCE_ID.fullmatch(item) or (checks and item in _CHECKS):
            return item
        elif item in _CHECKS:
            self.problem(f"{item} is an attention check: per-sentence ratings have no place for it", line=at)
        else:
            self.problem(
                f"unknown item id {shorten(text.strip())!r}: the survey sheet's ids are 's-' and 12 hex digits "
                f"(sentences) or check-1 .. check-{len(ATTENTION_CHECKS)} (attention checks)",
                line=at,
            )
        return None

    def value(self, text: str, what: str, at: Cell, expected: str, ok: Any) -> float | None:
        """The number of a cell: None for an empty one, or for one that is no such number (a problem)."""
        number = number_in_text(text)
        if number is None:
            return None
        return self.number(
            number.strip() if isinstance(number, str) else number, what, None, at, expected=expected, ok=ok
        )

    def rating(self, text: str, column: str, at: Cell) -> float | None:
        return self.value(text, column, at, f"a number in {SCALE_MIN}..{SCALE_MAX}", _on_scale)

    def participant(self, text: str, at: Cell) -> str | None:
        name = text.strip()
        if not name:
            self.problem("'participant' is empty: every answer needs the participant who gave it", line=at)
            return None
        if self.control(name, "participant", None, at):
            return None
        return name

    def read(self, data: bytes) -> None:
        if len(data) > MAX_FILE_BYTES:
            self.problem(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.problem(f"the file is not UTF-8 text (byte {exc.start + 1}): save it as CSV in UTF-8")
            return
        first = text.split("\n", 1)[0]
        delimiter = max(",;\t", key=first.count)  # ',' unless a spreadsheet wrote ';' or tabs
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            header = next(rows, None)
            if header is None or not any(cell.strip() for cell in header):
                self.problem(f"the file is empty; expected a header row: {SHAPES}")
                return
            columns = [cell.strip().lower() for cell in header]
            table = [(number, row) for number, row in enumerate(rows, start=2) if any(c.strip() for c in row)]
        except csv.Error as exc:
            self.problem(f"not a CSV file: {shorten(str(exc), 100)}", line=rows.line_num or None)
            return
        repeated = sorted({c for c in columns if c and columns.count(c) > 1})
        if repeated:
            self.problem(f"the header names the column(s) {', '.join(map(repr, repeated))} more than once", line=1)
            return
        for number, row in table:
            if len(row) > len(columns):
                self.problem(f"the row has {len(row)} cells, the header {len(columns)}", line=number)
        table = [(number, row) for number, row in table if len(row) <= len(columns)]
        named = set(columns)
        if "item_id" in named:
            if "rating" in named and "mean" in named:
                self.problem("the header has both 'rating' and 'mean': give answers or per-sentence means", line=1)
            elif "rating" in named:
                self.long(columns, table)
            elif "mean" in named:
                self.per_sentence(columns, table)
            else:
                self.problem(
                    "missing column 'rating' (participant,item_id,rating: one row per answer) or 'mean' "
                    "(item_id,mean,sd,n: one row per sentence)",
                    line=1,
                )
        elif any(_SENTENCE_ID.fullmatch(c) or c in _CHECKS for c in columns):
            self.wide(columns, table)
        else:
            found = ", ".join(repr(shorten(c, 30)) for c in columns[:8] if c) or "no names"
            self.problem(f"missing column 'item_id': expected {SHAPES}; the header has {found}", line=1)

    def long(self, columns: list[str], table: list[tuple[int, list[str]]]) -> None:
        if "participant" not in columns:
            self.problem(
                "missing column 'participant': each answer's participant, to drop those who miss a check", line=1
            )
            return
        at = {name: columns.index(name) for name in LONG_COLUMNS}
        first: dict[tuple[str, str], int] = {}
        for number, row in table:
            cells = {name: (row[i] if i < len(row) else "") for name, i in at.items()}
            participant = self.participant(cells["participant"], Cell(number, "participant"))
            item = self.item(cells["item_id"], Cell(number, "item_id"))
            value = self.rating(cells["rating"], "rating", Cell(number, "rating"))
            if participant is not None and item is not None and value is not None:  # else a problem, or no answer
                self.answer(participant, item, value, number, first)

    def wide(self, columns: list[str], table: list[tuple[int, list[str]]]) -> None:
        items = [(i, name) for i, name in enumerate(columns) if _SENTENCE_ID.fullmatch(name) or name in _CHECKS]
        who = columns.index("participant") if "participant" in columns else None
        first: dict[tuple[str, str], int] = {}
        seen: dict[str, int] = {}
        for number, row in table:
            if who is None:
                participant: str | None = f"row {number}"
            else:
                participant = self.participant(row[who] if who < len(row) else "", Cell(number, "participant"))
                if participant in seen:
                    self.problem(
                        f"participant {shorten(participant)!r} has a second row (first on row {seen[participant]})",
                        line=Cell(number, "participant"),
                    )
                    continue
            if participant is None:
                continue
            seen[participant] = number
            for i, item in items:
                value = self.rating(row[i] if i < len(row) else "", item, Cell(number, item))
                if value is not None:
                    self.answer(participant, item, value, number, first)

    def answer(self, participant: str, item: str, value: float, number: int, first: dict[tuple[str, str], int]) -> None:
        if (participant, item) in first:
            self.problem(
                f"participant {shorten(participant)!r} answered {item} twice (first on row {first[participant, item]})",
                line=Cell(number, "item_id"),
            )
            return
        first[participant, item] = number
        self.answers.append(_Answer((self.path, participant), item, value))

    def per_sentence(self, columns: list[str], table: list[tuple[int, list[str]]]) -> None:
        at = {name: columns.index(name) for name in AGGREGATED_COLUMNS if name in columns}
        for number, row in table:
            before = len(self.problems)
            cells = {name: (row[i] if i < len(row) else "") for name, i in at.items()}
            item = self.item(cells["item_id"], Cell(number, "item_id"), checks=False)
            mean = self.rating(cells["mean"], "mean", Cell(number, "mean"))
            if mean is None and not cells["mean"].strip():
                self.problem("'mean' is empty: a row gives one sentence's mean rating", line=Cell(number, "mean"))
            sd = self.value(cells.get("sd", ""), "sd", Cell(number, "sd"), "a number >= 0", lambda v: v >= 0)
            n = self.value(
                cells.get("n", ""), "n", Cell(number, "n"), "a whole number >= 1", lambda v: v >= 1 and v == int(v)
            )
            if item is None or mean is None or len(self.problems) > before:
                continue
            if item in self.aggregated:
                self.problem(
                    f"{item} is given again (first on row {self.aggregated[item][3]})", line=Cell(number, "item_id")
                )
                continue
            self.aggregated[item] = (mean, sd, None if n is None else int(n), number)


def _on_scale(value: float) -> bool:
    return SCALE_MIN <= value <= SCALE_MAX


@dataclass(frozen=True)
class HumanRatings:
    """People's ratings of sentences, read from ratings files: per sentence id, its mean, sd, n and
    the file(s) it came from, as a :class:`~.pairs.HumanRating`."""

    files: tuple[str, ...]
    sentences: Mapping[str, HumanRating]
    #: Participants kept, and those dropped for missing an attention check (``file: participant``).
    participants: int = 0
    dropped: tuple[str, ...] = ()
    #: Sentences given as means per sentence (rather than computed from answers).
    aggregated: int = 0

    def get(self, sentence: str) -> HumanRating | None:
        """The human rating of a sentence, by its text."""
        return self.sentences.get(sentence_id(sentence))

    def attach(self, pair: Pair) -> Pair:
        """The pair with these ratings for the sentences its file gives no ``human:`` rating for:
        a pair file's own numbers win."""
        found = {}
        for side in SIDES:
            rating = self.get(pair.sentence(side)) if pair.human(side) is None else None
            if rating is not None:
                found[f"human_{side}"] = rating
        return replace(pair, **found) if found else pair

    def summary(self, results: Iterable[Mapping[str, Any]]) -> str:
        """One line on what was read and used by the run's pair results: ``human ratings from
        ratings.csv: 36 of 40 participants kept (4 missed an attention check: ...); 8 sentences
        rated, 8 of them in this run``, and the sentences whose pair file's own human means won."""
        in_run: set[str] = set()
        differences: dict[str, float] = {}
        for result in results:
            if result.get("kind") != "pair":
                continue  # only pair files' pairs are given human ratings
            for side in SIDES:
                text, human = result.get(side), result.get(f"human_{side}")
                if not isinstance(text, str):
                    continue
                item = sentence_id(text)
                in_run.add(item)
                ours = self.sentences.get(item)
                if ours is not None and isinstance(human, (int, float)) and abs(human - ours.mean) > 1e-9:
                    differences[item] = abs(human - ours.mean)
        parts = []
        if self.participants or self.dropped:
            total = self.participants + len(self.dropped)
            if self.dropped:
                shown = ", ".join(self.dropped[:5]) + (", ..." if len(self.dropped) > 5 else "")
                why = f"{len(self.dropped)} missed an attention check: {shown}"
            else:
                why = "none missed an attention check"
            parts.append(f"{self.participants} of {total} participants kept ({why})")
        rated = f"{_count(len(self.sentences), 'sentence')} rated"
        if self.aggregated:
            rated += (
                f" ({self.aggregated} as means per sentence)"
                if self.aggregated < len(self.sentences)
                else " (as means per sentence)"
            )
        parts.append(f"{rated}, {len(in_run & set(self.sentences))} of them in this run")
        if differences:
            parts.append(
                f"the pair files' own human means are used for {_count(len(differences), 'sentence')} "
                f"(differing by up to {max(differences.values()):.2g})"
            )
        return f"human ratings from {', '.join(self.files)}: " + "; ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def read_ratings(paths: Sequence[str | Path], names: Sequence[str] | None = None) -> HumanRatings:
    """Read ratings files (see the module docstring for their shapes); ``names`` are what messages
    and the ratings' ``source`` call them (default: the paths as given). Answers of one sentence in
    several files are pooled (a participant is one of a file); a sentence given as a mean in one
    file may not be rated in another. Raises :class:`RatingsFileError` naming every problem."""
    names = [str(p) for p in paths] if names is None else list(names)
    checkers = []
    problems = []
    read: set[Path] = set()
    for path, name in zip(paths, names, strict=True):
        if Path(path).resolve() in read:  # its participants would count twice
            problems.append(RatingsFileError.problem_type(name, "the file is given twice"))
            continue
        read.add(Path(path).resolve())
        checker = _RatingsChecker(name)
        try:
            checker.read(read_file(Path(path), name, RatingsFileError))
        except RatingsFileError as exc:
            problems += exc.problems
            continue
        checkers.append(checker)
        problems += sorted(checker.problems, key=lambda p: p.line or 0)  # within a row, in column order
    answers = [answer for checker in checkers for answer in checker.answers]
    by_participant: dict[tuple[str, str], list[_Answer]] = {}
    for answer in answers:
        by_participant.setdefault(answer.participant, []).append(answer)
    failed = {
        who
        for who, given in by_participant.items()
        if any(a.item_id in _CHECKS and a.value != _CHECKS[a.item_id].answer for a in given)
    }
    values: dict[str, list[float]] = {}
    sources: dict[str, list[str]] = {}
    for answer in answers:
        if answer.participant not in failed and answer.item_id not in _CHECKS:
            values.setdefault(answer.item_id, []).append(answer.value)
            file = answer.participant[0]
            if file not in sources.setdefault(answer.item_id, []):
                sources[answer.item_id].append(file)
    sentences: dict[str, HumanRating] = {
        item: HumanRating(
            math.fsum(given) / len(given),
            ", ".join(sources[item]),
            statistics.stdev(given) if len(given) > 1 else None,
            len(given),
        )
        for item, given in values.items()
    }
    aggregated = 0
    for checker in checkers:
        for item, (mean, sd, n, row) in checker.aggregated.items():
            if item in sentences:
                elsewhere = sentences[item].source
                problems.append(
                    RatingsFileError.problem_type(
                        checker.path,
                        f"{item} is rated in {elsewhere} too: give each sentence in one file",
                        None,
                        row,
                        "item_id",
                    )
                )
                continue
            sentences[item] = HumanRating(mean, checker.path, sd, n)
            aggregated += 1
    if problems:
        raise RatingsFileError(problems)
    dropped = tuple(
        who if len(names) == 1 else f"{file}: {who}"
        for file, who in sorted(failed, key=lambda f: (names.index(f[0]), f[1]))
    )
    return HumanRatings(
        files=tuple(names),
        sentences=sentences,
        participants=len(by_participant) - len(failed),
        dropped=dropped,
        aggregated=aggregated,
    )
