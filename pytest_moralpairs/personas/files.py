"""Persona files (``*.personas.yaml``) and the inline persona lists of pair files: read, validated,
and turned into a :class:`~.sets.PersonaSet`.

Files are read with the pair files' safe loader and validated by the same shared rules
(:mod:`pytest_moralpairs.validation`; the editor schema is ``schema/personas.schema.json``):
every problem a :class:`~pytest_moralpairs.validation.Problem` naming the file, the key and the
line, all raised together as :class:`PersonaFileError`.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..validation import (
    Checker,
    PairFileError,
    describe,
    id_rule,
    is_id,
    line_of,
    shorten,
    too_large,
    with_lines,
)
from ..yamlfile import MAX_FILE_BYTES, gc_paused, read_regular, read_yaml, unreadable
from .sets import (
    _PLACEHOLDER_RE,
    BROAD_ID,
    Persona,
    PersonaGroup,
    PersonaSet,
    SamePersonas,
    expand_grid,
    persona_key,
    shares,
)

#: Every persona costs two model calls per pair; a grid of thousands is a mistake, not a plan.
MAX_PERSONAS = 1000
MAX_DESCRIPTION_CHARS = 500
MAX_VALUE_CHARS = 200

FILE_KEYS = frozenset({"version", "description", "personas", "dimensions", "broad", "template", "marginal"})
LIST_ITEM_KEYS = frozenset({"id", "description", "weight"})
#: A pair file's inline list has no weights: nothing there to compare a broad persona with.
INLINE_ITEM_KEYS = frozenset({"id", "description"})
VALUE_KEYS = frozenset({"id", "text", "weight"})


class PersonaFileError(PairFileError):
    """A persona file that cannot be used; ``problems`` lists every reason found."""

    kind = "persona file"


def load_personas(path: str | Path, name: str | None = None) -> PersonaSet:
    """Read and validate one persona file; ``name`` is how messages refer to it (default: the path).

    A file is parsed once until it changes: the result (or the error) is cached by the file's
    identity, size and modification time, so 10,000 pairs naming one file cost one parse.
    Raises :class:`PersonaFileError` listing every problem.
    """
    path = Path(path)
    name = name or str(path)
    try:
        info = path.stat()  # the cache's key: a changed file is read again
        outcome = _load_cached(str(path.resolve()), name, (info.st_ino, info.st_size, info.st_mtime_ns))
    except (OSError, ValueError) as exc:
        raise unreadable(name, exc, PersonaFileError) from None
    if isinstance(outcome, PersonaFileError):
        raise PersonaFileError(outcome.problems)
    return outcome


@functools.lru_cache(maxsize=64)
def _load_cached(real: str, name: str, stamp: tuple[int, int, int]) -> PersonaSet | PersonaFileError:
    data = read_regular(real, MAX_FILE_BYTES)  # an OSError is not cached: load_personas reports it
    try:
        return parse_personas(data, name)
    except PersonaFileError as exc:
        return PersonaFileError(exc.problems)  # kept without its traceback


def parse_personas(text: str | bytes, path: str = "<string>") -> PersonaSet:
    """Validate persona-file text; raises :class:`PersonaFileError` listing every problem."""
    with gc_paused():
        document, duplicates = read_yaml(text, path, PersonaFileError)
    return _PersonaValidator(path, duplicates).persona_set(document)


def slug(text: str, limit: int = 40) -> str:
    """A short id made of the words of ``text``: "a retired farmer from Iowa" -> "a-retired-farmer-from-iowa"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    out = ""
    for word in words:
        longer = f"{out}-{word}" if out else word
        if len(longer) > limit:
            break
        out = longer
    return out or (words[0][:limit] if words else "persona")


@dataclass
class _Value:
    id: str
    text: str
    weight: float | None
    line: int | None


@dataclass
class _Dimension:
    name: str
    values: list[_Value] = field(default_factory=list)


def validate_persona_list(
    checker: Checker, value: Any, what: str, pair: str | None, line: int | None, *, inline: bool = False
) -> tuple[Persona, ...] | None:
    """The personas of a list (a persona file's ``personas``, or a pair file's inline list),
    problems reported through ``checker``; None if there were any."""
    if not isinstance(value, list):
        hint = " or the path of a persona file" if inline else ""
        checker.problem(f"'{what}' must be a list of persona descriptions{hint}, found {describe(value)}", pair, line)
        return None
    if not value:
        checker.problem(f"'{what}' is empty: list at least one persona", pair, line)
        return None
    if len(value) > MAX_PERSONAS:
        checker.problem(
            f"'{what}' lists {len(value):,} personas; the limit is {MAX_PERSONAS:,} (each costs two calls per pair)",
            pair,
            line,
        )
        return None
    before = len(checker.problems)
    rows: list[tuple[str | None, str, Any, int | None]] = []
    for index, (raw, item_line) in enumerate(with_lines(value, line)):
        where = f"{what}[{index + 1}]"
        text_what = f"{where}.description"
        if isinstance(raw, str):
            raw, text_what = {"description": raw}, where
        elif isinstance(raw, dict):
            checker.keys(raw, LIST_ITEM_KEYS, where, pair)
            if inline and "weight" in raw:
                checker.problem(
                    f"'{where}.weight': weights belong in a persona file, whose 'broad' persona they are compared "
                    "against; an inline list has no weights",
                    pair,
                    line_of(raw, "weight", item_line),
                )
        else:
            checker.problem(
                f"'{where}' must be a persona description (text) or a mapping with 'description', "
                f"found {describe(raw)}",
                pair,
                item_line,
            )
            continue
        text = _text(checker, raw.get("description"), text_what, pair, line_of(raw, "description", item_line))
        raw_id = raw.get("id")
        if raw_id is not None and not _good_id(checker, raw_id, f"{where}.id", pair, line_of(raw, "id", item_line)):
            raw_id = None
        # A bad weight is reported here and kept: it was given, so it counts for "every one or none".
        weight = raw.get("weight") if not inline else None
        if weight is not None:
            _good_weight(checker, weight, f"{where}.weight", pair, line_of(raw, "weight"))
        if text is not None:
            rows.append((raw_id, text, weight, item_line))
    seen_text: dict[str, int] = {}
    seen_id: dict[str, int | None] = {}
    for index, (raw_id, text, _, item_line) in enumerate(rows):
        first = seen_text.setdefault(persona_key(text), index)
        if first != index:
            checker.problem(f"'{what}' lists {_twice(text, rows[first][1], rows[first][3])}", pair, item_line)
        if raw_id is not None:
            if raw_id in seen_id:
                checker.problem(f"'{what}': the id {raw_id!r} is used twice; ids must be unique", pair, item_line)
            seen_id.setdefault(raw_id, item_line)
    weighted = [w is not None for _, _, w, _ in rows]
    if any(weighted) and not all(weighted):
        checker.problem(
            f"'{what}': give every persona a 'weight', or none (some have one)",
            pair,
            next(r[3] for r in rows if r[2] is None),
        )
    if len(checker.problems) > before:
        return None
    # Slugs avoid the explicit ids, and each other.
    explicit = {r[0] for r in rows if r[0] is not None}
    ids: list[str] = []
    for raw_id, text, _, _ in rows:
        if raw_id is not None:
            ids.append(raw_id)
            continue
        base, candidate, n = slug(text), slug(text), 2
        while candidate in explicit or candidate in ids or candidate == BROAD_ID:
            candidate, n = f"{base}-{n}", n + 1
        ids.append(candidate)
    weights: list[float | None] = [None] * len(rows)
    if all(weighted):
        weights = list(shares([r[2] for r in rows]))
        for index, share in enumerate(weights):
            if share == 0:
                checker.problem(_too_light(f"{what}[{index + 1}].weight", rows[index][2]), pair, rows[index][3])
        if len(checker.problems) > before:
            return None
    return tuple(Persona(pid, text, weight) for pid, (_, text, _, _), weight in zip(ids, rows, weights, strict=True))


def _too_light(what: str, weight: Any) -> str:
    return (
        f"'{what}' ({weight:g}) is too small beside the largest weight to count: its share of the population "
        "rounds to 0; give it a larger weight, or leave it out"
    )


def _twice(text: str, first: str, line: int | None) -> str:
    found = ("" if first == text else f" as {shorten(first)!r}") + (f" on line {line}" if line else "")
    hint = "" if first == text else "; letter case, spacing and a final '.' do not make another persona"
    return f"the persona {shorten(text)!r} twice" + (f" (first{found})" if found else "") + hint


def _text(checker: Checker, value: Any, what: str, pair: str | None, line: int | None) -> str | None:
    missing = f"missing '{what}': the text that describes the persona"
    text = checker.required_text(value, what, pair, line, missing=missing, kind="text", limit=MAX_DESCRIPTION_CHARS)
    # One line, single spaces: the text goes into a system message.
    return " ".join(text.split()) if text is not None else None


def _good_id(checker: Checker, value: Any, what: str, pair: str | None, line: int | None) -> bool:
    # No '.' in a persona's or a grid value's id: it joins the value ids of a grid cell.
    if not is_id(value, dots=False):
        checker.problem(f"'{what}' must be {id_rule(dots=False)}; found {describe(value)}", pair, line)
        return False
    if value == BROAD_ID:
        checker.problem(f"'{what}': the id {BROAD_ID!r} is reserved for the file's broad persona", pair, line)
        return False
    return True


def _good_weight(checker: Checker, value: Any, what: str, pair: str | None, line: int | None) -> bool:
    if too_large(value) and value > 0:  # a whole number of 309 digits or more: no float holds it
        checker.problem(f"'{what}' is too large to compute with (at most 1.0e+308): scale the weights down", pair, line)
        return False
    share = checker.number(value, what, pair, line, expected="a number > 0 (a population share)", ok=lambda v: v > 0)
    return share is not None


class _PersonaValidator(Checker):
    """The rules of a persona file."""

    error = PersonaFileError

    def persona_set(self, document: Any) -> PersonaSet:
        description = self.preamble(document, FILE_KEYS, "a mapping with 'personas' or 'dimensions'")
        broad = None
        if document.get("broad") is not None:
            broad = _text(self, document.get("broad"), "broad", None, line_of(document, "broad"))
        has_list, has_grid = "personas" in document, "dimensions" in document
        result: PersonaSet | None = None
        if has_list and has_grid:
            self.problem(
                "give either 'personas' (a list) or 'dimensions' (a grid), not both",
                line=line_of(document, "dimensions"),
            )
        elif not has_list and not has_grid:
            self.problem("missing key 'personas' (a list of personas) or 'dimensions' (a grid to expand)")
        elif has_list:
            for key in ("template", "marginal"):
                if key in document:
                    self.problem(
                        f"'{key}' describes the personas of a grid: it needs 'dimensions', not a 'personas' list",
                        line=line_of(document, key),
                    )
            personas = validate_persona_list(
                self, document["personas"], "personas", None, line_of(document, "personas")
            )
            if personas is not None:
                result = self.list_set(personas, broad, description, document)
        else:
            result = self.grid_set(document, broad, description)
        self.finish()
        if result is None:  # every way here reports a problem first; never a silent None all the same
            raise PersonaFileError(self.problems)
        return result

    def list_set(self, personas: tuple[Persona, ...], broad: str | None, description: str | None, doc: dict) -> Any:
        weighted = all(p.weight is not None for p in personas)
        if broad is not None and not weighted:
            self.no_weights_for_broad(doc)
            return None
        if broad is None:
            return PersonaSet(personas, description=description, path=self.path)
        broad_persona = Persona(BROAD_ID, broad, None)
        group = PersonaGroup(broad_persona, tuple((p.id, p.weight) for p in personas))  # type: ignore[misc]
        return PersonaSet(personas, broad_persona, (group,), description, self.path)

    def no_weights_for_broad(self, doc: dict) -> None:
        self.problem(
            "'broad' is compared with the weighted mix of the personas, which have no weights: "
            "give them weights, or leave 'broad' out",
            line=line_of(doc, "broad"),
        )

    def grid_set(self, doc: dict, broad: str | None, description: str | None) -> PersonaSet | None:
        before = len(self.problems)
        dimensions = self.dimensions(doc.get("dimensions"), line_of(doc, "dimensions"))
        names = [d.name for d in dimensions]
        template = self.template(doc, "template", set(names) | {"broad"}, required=set(names), broad=broad)
        marginal = self.template(doc, "marginal", {"value", "broad"}, required={"value"}, broad=broad)
        if len(self.problems) > before or not dimensions:
            return None
        values = [v for d in dimensions for v in d.values]
        weighted = [v.weight is not None for v in values]
        if any(weighted) and not all(weighted):
            missing = next(v for v in values if v.weight is None)
            self.problem(
                "give every value of every dimension a 'weight', or none (a grid with weights gets the "
                "structural-consistency check; some values have one)",
                line=missing.line,
            )
            return None
        weighted_grid = all(weighted)
        if broad is not None and not weighted_grid:
            self.no_weights_for_broad(doc)
            return None
        if marginal is not None and broad is None:
            self.problem(
                "'marginal' personas sit between 'broad' and the grid cells: give 'broad' too",
                line=line_of(doc, "marginal"),
            )
            return None
        count = math.prod(len(d.values) for d in dimensions)
        if count > MAX_PERSONAS:
            self.problem(
                f"the grid expands to {count:,} personas; the limit is {MAX_PERSONAS:,} (each costs two calls per "
                "pair): drop values or dimensions",
                line=line_of(doc, "dimensions"),
            )
            return None
        if weighted_grid and not self.weights_usable(dimensions):
            return None
        try:
            return expand_grid(
                {d.name: [(v.id, v.text, v.weight) for v in d.values] for d in dimensions},
                template=template,
                broad=broad,
                marginal=marginal,
                description=description,
                path=self.path,
            )
        except SamePersonas as twins:
            texts = {(d.name, v.id): v.text for d in dimensions for v in d.values}
            first, second = (
                "(" + ", ".join(f"{n}: {shorten(texts[n, vid])}" for n, vid in cell.attributes) + ")"
                for cell in (twins.first, twins.second)
            )
            self.problem(
                f"the cells {first} and {second} are both described as {shorten(twins.second.description)!r} "
                "(letter case, spacing and a final '.' aside): one persona would count twice; make the "
                + ("'template' tell the values apart" if template is not None else "values differ"),
                line=line_of(doc, "template") if template is not None else line_of(doc, "dimensions"),
            )
        except ValueError as exc:  # the checks above leave none; never a traceback all the same
            self.problem(f"cannot expand the grid: {exc}", line=line_of(doc, "dimensions"))
        return None

    def weights_usable(self, dimensions: list[_Dimension]) -> bool:
        """Whether every value's share, and every cell's (their product), is more than 0."""
        before = len(self.problems)
        lightest = []
        for d in dimensions:
            values = list(zip(d.values, shares([v.weight for v in d.values]), strict=True))  # type: ignore[arg-type]
            for index, (value, share) in enumerate(values):
                if share == 0:
                    self.problem(_too_light(f"dimensions.{d.name}[{index + 1}].weight", value.weight), line=value.line)
            lightest.append(min(values, key=lambda item: item[1]))
        if len(self.problems) > before:
            return False
        # The lightest cell combines each dimension's lightest value; its weight is their product.
        if math.prod(share for _, share in lightest) == 0:
            cell = ", ".join(f"{d.name}: {shorten(v.text)}" for d, (v, _) in zip(dimensions, lightest, strict=True))
            self.problem(
                f"the cell ({cell}) is too small a share of the population to count: the product of its values' "
                "shares rounds to 0; give these values larger weights",
                line=min(lightest, key=lambda item: item[1])[0].line,
            )
            return False
        return True

    def template(self, doc: dict, key: str, allowed: set[str], *, required: set[str], broad: str | None) -> str | None:
        value = doc.get(key)
        if value is None:
            return None
        line = line_of(doc, key)
        text = _text(self, value, key, None, line)
        if text is None:
            return None
        used = _PLACEHOLDER_RE.findall(text)
        unknown = [u for u in used if u not in allowed]
        if unknown:
            choices = ", ".join("{" + a + "}" for a in sorted(allowed))
            self.problem(
                f"'{key}' has the placeholder {{{shorten(unknown[0])}}}, which names nothing; it may use {choices}",
                line=line,
            )
            return None
        absent = sorted(required - set(used))
        if absent:
            self.problem(
                f"'{key}' leaves out {', '.join('{' + a + '}' for a in absent)}: "
                + ("every dimension must appear in a cell's description" if key == "template" else "say which value"),
                line=line,
            )
            return None
        if "broad" in used and broad is None:
            self.problem(f"'{key}' uses {{broad}}, but the file has no 'broad'", line=line)
            return None
        return text

    def dimensions(self, value: Any, line: int | None) -> list[_Dimension]:
        if not isinstance(value, dict):
            self.problem(
                f"'dimensions' must map dimension names to lists of values, found {describe(value)}", line=line
            )
            return []
        if not value:
            self.problem("'dimensions' is empty: a grid needs at least one dimension", line=line)
            return []
        out = []
        for name, raw, dim_line in self.named(value, "dimension", None):
            if name in ("broad", "value"):
                self.problem(f"dimension name {name!r} is reserved (templates use {{{name}}})", line=dim_line)
                continue
            dimension = self.dimension(name, raw, dim_line)
            if dimension is not None:
                out.append(dimension)
        return out

    def dimension(self, name: str, raw: Any, line: int | None) -> _Dimension | None:
        what = f"dimensions.{name}"
        if not isinstance(raw, list) or not raw:
            self.problem(f"'{what}' must be a non-empty list of values, found {describe(raw)}", line=line)
            return None
        before = len(self.problems)
        dimension = _Dimension(name)
        for index, (item, item_line) in enumerate(with_lines(raw, line)):
            where = f"{what}[{index + 1}]"
            if isinstance(item, str):
                item = {"text": item}
            elif isinstance(item, dict):
                self.keys(item, VALUE_KEYS, where, None)
            else:
                self.problem(
                    f"'{where}' must be a value's text or a mapping with 'text' (and optional 'id' and 'weight'), "
                    f"found {describe(item)}",
                    line=item_line,
                )
                continue
            text = self.value_text(item.get("text"), f"{where}.text", line_of(item, "text", item_line))
            raw_id = item.get("id")
            if raw_id is not None and not _good_id(self, raw_id, f"{where}.id", None, line_of(item, "id", item_line)):
                continue
            weight = item.get("weight")
            if weight is not None and not _good_weight(self, weight, f"{where}.weight", None, line_of(item, "weight")):
                continue
            if text is None:
                continue
            value_id = raw_id if raw_id is not None else slug(text, 30)
            for other in dimension.values:
                if persona_key(other.text) == persona_key(text):
                    written = "" if other.text == text else f" ({shorten(other.text)!r})"
                    hint = ": letter case, spacing and a final '.' do not make another value" if written else ""
                    self.problem(
                        f"'{where}' has the same text {shorten(text)!r} as the value on line {other.line}"
                        + written
                        + hint,
                        line=item_line,
                    )
                    break
                if other.id == value_id:
                    hint = " (an id made from its text; give each an 'id')" if raw_id is None else ""
                    self.problem(
                        f"'{where}' has the same id {value_id!r} as the value on line {other.line}{hint}",
                        line=item_line,
                    )
                    break
            else:
                if value_id == BROAD_ID:
                    self.problem(f"'{where}': the id {BROAD_ID!r} is reserved for the broad persona", line=item_line)
                    continue
                dimension.values.append(_Value(value_id, text, weight, item_line))
        if len(self.problems) > before:
            return None
        return dimension

    def value_text(self, value: Any, what: str, line: int | None) -> str | None:
        kind = "the value's text, as the persona's description uses it"
        text = self.required_text(
            value, what, None, line, missing=f"'{what}' must be {kind}; it is missing", kind=kind, limit=MAX_VALUE_CHARS
        )
        return " ".join(text.split()) if text is not None else None
