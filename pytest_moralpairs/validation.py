"""What the validators of the plugin's files share: a problem as a value, and the rules every
format applies (the file's preamble, keys, text, names, ids, numbers), each written once.

A format's own rules live in the module named after it: pair files in :mod:`.pairs`, persona files
in :mod:`.personas.files`, lexicon files and the rule for fillers in :mod:`.perturb.lexicon`.
Nothing here reads a file (YAML is read by :mod:`.yamlfile`) or knows a format: a validator is a
:class:`Checker` that collects :class:`Problem` values, each naming the file, the place, the pair
and what was wrong, and raises them together at the end.

A place is a line of a YAML file, or a :class:`Cell` (a row and a column) of a table: the rules
read it from the mapping they check (a :class:`Record` knows where its keys are), so they run
unchanged on a row of a CSV or JSONL file. Values from a file are never echoed whole into a
message: a file may be hostile or simply huge.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import difflib
import math
import re
import sys
import unicodedata
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, ClassVar, Iterable, Iterator

MAX_NAME_CHARS = 100
#: The longest path a file may give of another file it names (a persona file, a data file).
MAX_PATH_CHARS = 1000
#: A file with thousands of problems is reported by its first ones.
MAX_SHOWN_PROBLEMS = 50
_NUMERIC_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
#: Control characters (Unicode category Cc) other than tab and line feed. Printed raw they act on
#: the terminal instead of showing (ESC starts colour and cursor codes, CR overwrites the line); the
#: reader refuses them written raw, but YAML's escapes ("\e", "\0", "\r") put them in a string.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: What ``str.splitlines`` breaks a line at: a line feed, and the rarer breaks a model may read as one.
_LINE_BREAK_RE = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
#: How many keys of a document may be near misses of a format's keys (``pair:``), at most.
_NEAR = 100
#: Names that a template writes as {placeholders} or ``-m`` reads as markers: slot names, the
#: slot a template pair ``decides`` by, tags, grid dimensions.
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_RULE = f"up to {MAX_NAME_CHARS} letters, digits and '_', starting with a letter or '_'"
#: Ids name things in node ids and reports: pair ids may hold '.', persona and grid-value ids may
#: not (a grid cell's id joins its values' ids with '.').
_ID_RES = {True: re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*"), False: re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file the plugin reads (pair, persona or lexicon file).

    ``line`` is the line of a YAML file, or the row of a table, whose ``column`` then follows it
    (``file:row:column``).
    """

    path: str
    message: str
    pair: str | None = None
    line: int | None = None
    column: int | str | None = None
    #: What ``pair`` labels: the unit of the file's format.
    subject: ClassVar[str] = "pair"

    def __str__(self) -> str:
        where = self.path
        if self.line:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        if self.pair is not None:
            where += f" {self.subject} {self.pair}"
        return f"{where}: {self.message}"


class PairFileError(Exception):
    """A file that cannot be used; ``problems`` lists every reason found. (Named for pair files,
    the first kind; persona and lexicon files raise subclasses.)"""

    #: The problems of this kind of file (a format may label its units differently).
    problem_type: ClassVar[type[Problem]] = Problem
    #: What the file is, for "not a pair file".
    kind: ClassVar[str] = "pair file"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [str(p) for p in problems[:MAX_SHOWN_PROBLEMS]]
        if len(problems) > MAX_SHOWN_PROBLEMS:
            lines.append(f"... and {len(problems) - MAX_SHOWN_PROBLEMS} more problems")
        super().__init__("\n".join(lines))


class Cell(int):
    """Where a value of a table (a CSV or JSONL file) is: an int, its row, so that it goes wherever
    a YAML file's line goes through the rules unchanged, and its ``column``, which the problem
    reported there shows after the row."""

    column: int | str

    def __new__(cls, row: int, column: int | str) -> Cell:
        cell = super().__new__(cls, row)
        cell.column = column
        return cell

    def __getnewargs__(self) -> tuple[int, int | str]:  # type: ignore[override]
        return int(self), self.column  # a copy or a pickle keeps its column


class Record(dict):
    """A mapping read from a file that remembers where it is (``line``), where each key is
    (``key_lines``: lines, or the cells of a table, :class:`Cell`) and which keys it repeated."""

    def __init__(self, line: int | None, key_lines: dict[Any, int] | None = None) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {} if key_lines is None else key_lines
        self.duplicates: list[tuple[Any, int]] = []


def line_of(mapping: Any, key: Any, default: int | None = None) -> int | None:
    """Where ``key`` of a read mapping is, else ``default``, else where the mapping is."""
    lines = getattr(mapping, "key_lines", {})
    return lines.get(key) or default or getattr(mapping, "line", None)


def with_lines(items: Iterable[Any], line: int | None) -> Iterator[tuple[Any, int | None]]:
    """Each item of a read list with where it is (a YAML list knows its ``item_lines``), else ``line``."""
    lines = getattr(items, "item_lines", ())
    for index, item in enumerate(items):
        yield item, lines[index] if index < len(lines) else line


# --- saying what a value is, without echoing it -------------------------------------------------


def describe(value: Any) -> str:
    """Name a value's type for an error message without echoing the value itself."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if too_large(value):
        return "a number too large to compute with (a float holds at most about 1.8e+308)"
    if isinstance(value, float) and not math.isfinite(value):
        return "not-a-number (.nan)" if math.isnan(value) else "an infinite number"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})" if abs(value) < 1e12 else "a number"
    if isinstance(value, str):
        return f"a string ({shorten(value)!r})"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"a mapping with {len(value)} keys"
    return f"a value of type {type(value).__name__}"


def kind_of(value: Any) -> str:
    """Name a value's type only: what a document that is not one of the plugin's files is said to
    be, since it may be any file at all (a link to a key file, say), whose text must not be shown."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return describe(value)  # a list or a mapping by its size, anything else by its type


def code_point(char: str) -> str:
    """A character as a message names it, without printing it: ``U+202E RIGHT-TO-LEFT OVERRIDE``."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'without a name')}"


def not_a_number(value: Any) -> str:
    """``describe`` for a value that should have been a number, with a hint for numbers in quotes."""
    if isinstance(value, str) and _NUMERIC_RE.fullmatch(value.strip()):
        written = value.strip().lower()
        if "e" in written:
            # YAML 1.1, as PyYAML reads it: 1.0e+2 is a number, but 1e2, 1e+2 and 1.0e2 are text.
            mantissa, _, exponent = written.partition("e")
            mantissa += "" if "." in mantissa else ".0"
            exponent = exponent if exponent[0] in "+-" else "+" + exponent
            if f"{mantissa}e{exponent}" != written:
                spelling = f"{mantissa}e{exponent}" if len(written) <= 30 else "1.0e+2"
                return (
                    f"{describe(value)}: YAML reads a number with an exponent as text unless it has a '.' and a "
                    f"signed exponent; write {spelling}"
                )
        return f"{describe(value)}: write numbers without quotes"
    return describe(value)


def number_in_text(text: str) -> int | float | str | None:
    """The number a cell of a table holds as text (a CSV cell, a spreadsheet's export): None for an
    empty cell, a whole number as an int (said "7", not "7.0"; a very long one as the float it
    overflows to), else a float; text that is no number is returned as it is, for a rule to say so.
    A typographic minus (U+2212), as a spreadsheet may write one, is a minus."""
    written = text.strip().replace("\u2212", "-")
    if not written:
        return None
    if not _NUMERIC_RE.fullmatch(written):
        return text
    return int(written) if written.lstrip("+-").isdigit() and len(written) < 20 else float(written)


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_key(key: Any) -> str:
    return repr(shorten(key)) if isinstance(key, str) else describe(key)


def key_list(keys: Iterable[Any], limit: int = 8) -> str:
    shown = [show_key(k) for k in keys]
    if len(shown) > limit:
        return ", ".join(shown[:limit]) + f" and {len(shown) - limit} more"
    return ", ".join(shown)


# --- the rules for values -----------------------------------------------------------------------


def is_number(value: Any) -> bool:
    """A finite real number a float holds; YAML's booleans are ints to Python but not numbers here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not too_large(value) if isinstance(value, int) else math.isfinite(value)


def too_large(value: Any) -> bool:
    """A whole number of 309 digits or more: no float holds it, and ``float()`` of it raises."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max


def control_character(text: str) -> str | None:
    """The first control character of ``text`` but tab and line feed, said for a message; else None."""
    found = _CONTROL_RE.search(text)
    if found is None:
        return None
    return f"a control character (U+{ord(found.group()):04X}) at position {found.start() + 1}"


def format_character(text: str) -> str | None:
    """The first format character of ``text`` (Unicode category Cf: bidi overrides and isolates,
    zero-width spaces and joiners, soft hyphens...), said for a message; else None. Invisible, it
    makes two different sentences look alike, and a bidi control reorders the text printed after it."""
    if text.isascii():  # the usual sentence: ASCII has no format characters
        return None
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cf":
            return f"the format character {code_point(char)} at position {index + 1}"
    return None


def unprintable(text: str) -> str | None:
    """The first character of ``text`` that must not be printed as it is (a control or a format
    character), said for a message; else None."""
    return control_character(text) or format_character(text)


def line_breaks(text: str) -> list[int]:
    """The positions (from 1) of the line breaks in ``text``."""
    if _LINE_BREAK_RE.search(text) is None:  # the usual sentence: one line
        return []
    return [found.start() + 1 for found in _LINE_BREAK_RE.finditer(text)]


def on_one_line(text: str) -> str:
    """``text`` with its line breaks written as escapes (``\\n``, ``\\u2028``): one line of a report."""
    if _LINE_BREAK_RE.search(text) is None:
        return text
    return _LINE_BREAK_RE.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


def same_sentence(first: str, second: str) -> str | None:
    """Whether two sentences are the same: "" when written alike, "after Unicode normalisation
    (NFC)" when they differ only in how a character is encoded (é as one code point, or as e and
    a combining accent: they look and read alike); None when they differ."""
    if first == second:
        return ""
    if first.isascii() and second.isascii():  # the usual pair: ASCII text is its own normal form
        return None
    if unicodedata.normalize("NFC", first) == unicodedata.normalize("NFC", second):
        return "after Unicode normalisation (NFC)"
    return None


def is_name(value: Any) -> bool:
    """Whether ``value`` is a name a {placeholder} or a marker can hold (see ``NAME_RULE``)."""
    return isinstance(value, str) and len(value) <= MAX_NAME_CHARS and _NAME_RE.fullmatch(value) is not None


def name_problem(kind: str, value: Any) -> str | None:
    """The problem with ``value`` as the name of a ``kind`` that templates write as {placeholders}."""
    if is_name(value):
        return None
    return f"{kind} name {describe(value)} is not usable in a {{placeholder}}: use {NAME_RULE}"


def is_id(value: Any, dots: bool) -> bool:
    """Whether ``value`` is an id (see :func:`id_rule`); ``dots``: whether it may hold '.'."""
    return isinstance(value, str) and len(value) <= MAX_NAME_CHARS and _ID_RES[dots].fullmatch(value) is not None


def id_rule(dots: bool) -> str:
    """What an id must be, for a message."""
    marks = "'_', '-' or '.'" if dots else "'_' or '-'"
    return f"a name of up to {MAX_NAME_CHARS} letters, digits, {marks}, starting with a letter or digit"


def one_or_many(value: Any) -> Any:
    """A list of names or words as written: one string stands for a list of that one string."""
    return [value] if isinstance(value, str) else value


def _near_miss(key: Any, keys: frozenset[str]) -> bool:
    """Whether ``key`` is a near miss of one of a format's ``keys`` (``pair`` for ``pairs``): a
    document with a key of the format, or a near miss of one, is a file of that format, whose
    other keys may then be named."""
    return isinstance(key, str) and len(key) <= MAX_NAME_CHARS and bool(difflib.get_close_matches(key, keys, n=1))


# --- the checker --------------------------------------------------------------------------------


class Checker:
    """A validator's state and the rules every format shares: the problems found so far, the
    mappings whose keys were checked, and at the end the repeated keys nobody looked at.

    A format's validator subclasses it and sets ``error``, the exception its problems are raised
    as (its ``problem_type`` is the kind of problem made).
    """

    error: ClassVar[type[PairFileError]] = PairFileError

    def __init__(self, path: str, duplicates: Iterable[tuple[Record, Any, int]] = ()) -> None:
        self.path = path
        self.problems: list[Problem] = []
        #: Every repeated key of the document, so none goes unreported even in a mapping no rule reads.
        self.duplicates = duplicates
        #: The mappings whose keys were checked (their repeated keys reported with them).
        self.checked: set[int] = set()
        self.document: Any = None

    def problem(self, message: str, pair: str | None = None, line: int | None = None) -> None:
        """Record a problem at ``line`` (a YAML line, or a :class:`Cell` of a table)."""
        at = None if line is None else int(line)
        self.problems.append(self.error.problem_type(self.path, message, pair, at, getattr(line, "column", None)))

    def preamble(
        self, document: Any, top_keys: frozenset[str], expected: str, format_version: bool = True
    ) -> str | None:
        """What every file opens with: a mapping (``expected`` says of what, as in "a mapping
        with 'slots'"), of ``top_keys`` only, whose ``version`` is 1 (the format's; a file whose
        ``version`` is its own, as a suite manifest's is, says ``format_version=False``) and whose
        ``description`` is text where given. Returns the description; a file that is empty, not a
        mapping, or a mapping with none of ``top_keys`` (nor a near miss of one) raises at once, its
        one problem being all there is to say."""
        if document is None:
            raise self.error([self.error.problem_type(self.path, f"the file is empty; expected {expected}")])
        # A file that is not of this format may be any file at all (a pair file may be a link to a
        # key file): it is said to be none, without a word or a key of it.
        not_ours = f"not a {self.error.kind}: "
        if not isinstance(document, dict):
            not_ours += f"expected {expected} at the top, found {kind_of(document)}"
        elif top_keys.isdisjoint(document) and not any(_near_miss(key, top_keys) for key in islice(document, _NEAR)):
            not_ours += f"it has none of the keys {', '.join(sorted(top_keys))}"
        else:
            not_ours = ""
        if not_ours:
            raise self.error([self.error.problem_type(self.path, not_ours)])
        self.document = document
        self.keys(document, top_keys, "", None)
        version = document.get("version", 1) if format_version else 1
        if isinstance(version, bool) or version != 1:
            self.problem(f"'version' must be 1, found {describe(version)}", line=line_of(document, "version"))
        return self.optional_text(document.get("description"), "description", None, line_of(document, "description"))

    def keys(
        self, mapping: dict, allowed: frozenset[str], where: str, pair: str | None, ignore: frozenset[str] = frozenset()
    ) -> None:
        """Report repeated and unknown keys; ``where`` names the mapping ('' for a pair's own).

        Keys in ``ignore`` are neither allowed nor reported here: the caller explains them.
        """
        self.checked.add(id(mapping))
        inside = f" in '{where}'" if where else ""
        for key, line in getattr(mapping, "duplicates", ()):
            self.problem(f"duplicate key {show_key(key)}{inside}: a key may appear only once", pair, line)
        unknown = [key for key in mapping if key not in allowed and key not in ignore]
        if not unknown:
            return
        unknown.sort(key=lambda key: line_of(mapping, key) or 0)
        hints = ""
        for key in unknown[:3]:
            if not isinstance(key, str) or len(key) > MAX_NAME_CHARS:
                continue
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            if close:
                hints += f" ({show_key(key)}: did you mean {close[0]!r}?)"
        label = "top-level key" if mapping is self.document else "key"
        self.problem(
            f"unknown {label}(s) {key_list(unknown)}{inside}; allowed: {key_list(sorted(allowed))}{hints}",
            pair,
            line_of(mapping, unknown[0]),
        )

    def named(
        self, mapping: dict, kind: str, pair: str | None, *, by_name: bool = False
    ) -> list[tuple[str, Any, int | None]]:
        """The entries of a mapping whose keys are names of ``kind`` that templates write as
        {placeholders} (slots, grid dimensions), each with its line. A name given twice, or one
        that is no name, is reported and left out; ``by_name`` labels a repeated one with the name
        itself (a lexicon's slots are its units, as a pair file's pairs are)."""
        self.checked.add(id(mapping))
        first = getattr(mapping, "key_lines", {})
        for key, line in getattr(mapping, "duplicates", ()):
            label = (shorten(key) if isinstance(key, str) else describe(key)) if by_name else pair
            where = f" (first on line {first[key]})" if first.get(key) else ""
            self.problem(f"duplicate {kind} name {show_key(key)}: each {kind} may be given once{where}", label, line)
        entries = []
        for key, value in mapping.items():
            line = line_of(mapping, key)
            problem = name_problem(kind, key)
            if problem is not None:
                self.problem(problem, pair, line)
            else:
                entries.append((key, value, line))
        return entries

    def optional_text(
        self, value: Any, what: str, pair: str | None, line: int | None, kind: str = "text"
    ) -> str | None:
        """Text the file may give (None when it does not), as written: a str (named ``kind`` in
        the problem), free of control characters."""
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(f"'{what}' must be {kind}, found {describe(value)}", pair, line)
            return None
        if self.control(value, what, pair, line):
            return None
        return value

    def required_text(
        self,
        value: Any,
        what: str,
        pair: str | None,
        line: int | None,
        *,
        missing: str,
        kind: str,
        limit: int,
        empty: str = "",
    ) -> str | None:
        """Text the file must give, stripped: present (else the ``missing`` problem), optional
        text's rules, not blank (``empty`` may say what to write instead), at most ``limit`` long."""
        if value is None:
            self.problem(missing, pair, line)
            return None
        text = self.optional_text(value, what, pair, line, kind)
        if text is None:
            return None
        text = text.strip()
        if not text:
            self.problem(f"'{what}' is empty" + (f": {empty}" if empty else ""), pair, line)
            return None
        if len(text) > limit:
            self.problem(f"'{what}' is {len(text):,} characters long; the limit is {limit:,}", pair, line)
            return None
        return text

    def control(self, text: str, what: str, pair: str | None, line: int | None) -> bool:
        """Report a control or a format character in ``text`` (the file's text is printed, and sent
        to a model); whether it has one."""
        found = control_character(text)
        if found is not None:
            self.problem(
                f"'{what}' contains {found}: text may hold tabs and line breaks, no other control characters",
                pair,
                line,
            )
            return True
        found = format_character(text)
        if found is not None:
            self.problem(
                f"'{what}' contains {found}: an invisible character makes different texts look alike, or "
                "reorders what is printed after it",
                pair,
                line,
            )
        return found is not None

    def number(
        self, value: Any, what: str, pair: str | None, line: int | None, *, expected: str, ok: Callable[[Any], bool]
    ) -> float | None:
        """A number the file may give (None when it does not): one a float holds, for which ``ok``
        is true; else the problem "'what' must be ``expected``, found ..."."""
        if value is None:
            return None
        if not is_number(value) or not ok(value):
            self.problem(f"'{what}' must be {expected}, found {not_a_number(value)}", pair, line)
            return None
        return float(value)

    def bounded(self, value: Any, what: str, pair: str | None, line: int | None, top: float) -> float | None:
        """A number in 0..``top`` the file may give."""
        return self.number(value, what, pair, line, expected=f"a number in 0..{top:g}", ok=lambda v: 0 <= v <= top)

    def unchecked_duplicates(self) -> None:
        """Report the repeated keys of mappings no check has looked at."""
        for mapping, key, line in self.duplicates:
            if id(mapping) not in self.checked:
                self.problem(f"duplicate key {show_key(key)}: a key may appear only once in a mapping", line=line)

    def finish(self) -> None:
        """Report the repeated keys no check has reported; raise ``error`` with every problem, in
        line order, if there is any."""
        self.unchecked_duplicates()
        if self.problems:
            raise self.error(sorted(self.problems, key=lambda p: p.line or 0))
