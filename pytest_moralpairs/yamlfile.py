"""Reading the plugin's YAML files (pair, persona and lexicon files) safely, with line numbers,
and what their validators share.

The loader is YAML's safe one, made stricter: duplicate keys are recorded (and reported), Python
tags are refused, aliases may not expand without bound, nesting is limited, and every mapping and
list remembers the lines of its keys and items. A problem is a :class:`Problem` naming the file,
the line, the pair and what was wrong; values from the file are never echoed whole into a message:
a file may be hostile or simply huge.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import difflib
import gc
import math
import os
import re
import stat
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

MAX_NAME_CHARS = 100
_NUMERIC_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
#: Control characters (Unicode category Cc) other than tab and line feed. Printed raw they act on
#: the terminal instead of showing (ESC starts colour and cursor codes, CR overwrites the line); the
#: reader refuses them written raw, but YAML's escapes ("\e", "\0", "\r") put them in a string.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Far above any hand-written suite; stops a stray multi-gigabyte file from being read whole.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: How many values YAML aliases may repeat in total. Aliases share one object, so a "billion
#: laughs" file costs nothing to load, but anything walking the data would expand it.
MAX_ALIAS_EXPANSION = 100_000
#: A pair file needs 6 levels (top, pairs, pair, human, side, mean); the rest is hostile.
MAX_NESTING = 50
#: A file with thousands of problems is reported by its first ones.
MAX_SHOWN_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file the plugin reads (pair, persona or lexicon file)."""

    path: str
    message: str
    pair: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        if self.pair is not None:
            where += f" pair {self.pair}"
        return f"{where}: {self.message}"


class PairFileError(Exception):
    """A file that cannot be used; ``problems`` lists every reason found. (Named for pair files,
    the first kind; persona and lexicon files raise subclasses.)"""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [str(p) for p in problems[:MAX_SHOWN_PROBLEMS]]
        if len(problems) > MAX_SHOWN_PROBLEMS:
            lines.append(f"... and {len(problems) - MAX_SHOWN_PROBLEMS} more problems")
        super().__init__("\n".join(lines))


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


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_key(key: Any) -> str:
    return repr(shorten(key)) if isinstance(key, str) else describe(key)


def key_list(keys: Iterable[Any], limit: int = 8) -> str:
    shown = [show_key(k) for k in keys]
    if len(shown) > limit:
        return ", ".join(shown[:limit]) + f" and {len(shown) - limit} more"
    return ", ".join(shown)


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


# --- YAML loading ------------------------------------------------------------------------

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_STR_TAG = "tag:yaml.org,2002:str"


class _LineDict(dict):
    """A mapping that remembers where it and each key are, and which keys were repeated."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line: int | None = line
        self.key_lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []


class _LineList(list):
    """A list that remembers the line of each item (a pair that is not a mapping has no other)."""

    def __init__(self, line: int, item_lines: list[int]) -> None:
        super().__init__()
        self.line: int | None = line
        self.item_lines = item_lines


class _RefusedValue(ConstructorError):
    """A value this loader refuses; its message is ours and already short."""


class _ShapeProblem(yaml.YAMLError):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message = message
        self.line = line


class _SafeLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that records lines and repeated keys, and refuses alias bombs."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        #: Every repeated key, so none goes unreported even in a mapping the validator skips.
        self.duplicates: list[tuple[_LineDict, Any, int]] = []
        #: An alias needs an anchor, and an anchor is written with a literal '&': text without one
        #: composes to a plain tree, which no alias can make large or circular.
        self.may_alias = not isinstance(stream, (str, bytes)) or ("&" if isinstance(stream, str) else b"&") in stream

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        if self.may_alias or not _within_nesting(node):
            _check_shape(node)
        return self.construct_document(node)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, RecursionError, MemoryError):
            raise
        except Exception as exc:  # e.g. the date 2020-13-45, or an int of 5,000 digits
            what = shorten(node.tag.rsplit(":", 1)[-1])
            reason = f": {shorten(str(exc), 100)}" if isinstance(exc, ValueError) else ""
            raise _RefusedValue(None, None, f"not a valid {what}{reason}", node.start_mark) from None


def _within_nesting(root: Node) -> bool:
    """Whether a document composed without aliases (a tree) is nested at most ``MAX_NESTING`` deep.

    The fast path of :func:`_check_shape` for the usual file: it visits collections only and keeps
    no tables. When it says no, :func:`_check_shape` runs to report the problem exactly as always.
    """
    stack: list[tuple[Node, int]] = [(root, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        children = node.value
        if not children:
            continue
        depth += 1  # the depth of this node's children; a scalar child counts as a level too
        if depth > MAX_NESTING:
            return False
        if isinstance(node, MappingNode):
            for key, value in children:
                if isinstance(key, CollectionNode):
                    push((key, depth))
                if isinstance(value, CollectionNode):
                    push((value, depth))
        else:
            for child in children:
                if isinstance(child, CollectionNode):
                    push((child, depth))
    return True


def _check_shape(root: Node) -> None:
    """Refuse a document nested too deeply, whose aliases repeat too much of it, or that contains itself."""
    if not isinstance(root, CollectionNode):
        return
    # Collections only: a scalar (size 1, height 1) is counted by its parent, as it can contain nothing.
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}
    scalars: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[Node, list[Node] | None]] = [(root, None)]
    while stack:
        node, children = stack.pop()
        key = id(node)
        if children is not None:  # every child is done: size and height of this node
            on_path.discard(key)
            size, below = 1, 0
            for child in children:
                if isinstance(child, CollectionNode):
                    size += sizes[id(child)]
                    below = max(below, heights[id(child)])
                else:
                    scalars.add(id(child))
                    size += 1
                    below = max(below, 1)
            sizes[key] = size
            heights[key] = below + 1
            if below + 1 > MAX_NESTING:
                # Deeper than any pair file needs, and deep enough to exhaust Python's stack later.
                raise _ShapeProblem(
                    f"invalid YAML: values nested more than {MAX_NESTING} levels deep", node.start_mark.line + 1
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _ShapeProblem("invalid YAML: an alias refers to a value that contains it", node.start_mark.line + 1)
        on_path.add(key)
        children = _children(node)
        stack.append((node, children))
        stack.extend(
            (child, None) for child in children if isinstance(child, CollectionNode) and id(child) not in sizes
        )
    repeated = sizes[id(root)] - len(sizes) - len(scalars)
    if repeated > MAX_ALIAS_EXPANSION:
        raise _ShapeProblem(
            f"invalid YAML: its aliases (*name) expand to {repeated:.3g} repeated values, more than the "
            f"{MAX_ALIAS_EXPANSION:,} allowed; is this a 'billion laughs' file?",
            None,
        )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for entry in node.value for part in entry]
    return []


def _mapping_entries(node: MappingNode) -> tuple[list[tuple[Node, Node]], list[tuple[Node, Node]]]:
    """The mapping's own entries, and those it merges in with ``<<`` (in order of precedence)."""
    own: list[tuple[Node, Node]] = []
    merged: list[tuple[Node, Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE_TAG:
            if key_node.tag == _VALUE_TAG:  # a plain "=" key, as PyYAML's own loader reads it
                key_node.tag = _STR_TAG
            own.append((key_node, value_node))
            continue
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise _RefusedValue(
                    "while constructing a mapping",
                    node.start_mark,
                    f"'<<' merges mappings only, found a {source.id}",
                    source.start_mark,
                )
            source_own, source_merged = _mapping_entries(source)
            merged += source_own + source_merged
    return own, merged


def _construct(loader: _SafeLoader, node: Node) -> Any:
    """``loader.construct_object(node, deep=True)``, short-cut for the most common value: text."""
    if node.tag == _STR_TAG and isinstance(node, ScalarNode):
        return node.value  # what SafeConstructor.construct_yaml_str returns, without the bookkeeping
    return loader.construct_object(node, deep=True)


def _construct_mapping(loader: _SafeLoader, node: MappingNode) -> Any:
    data = _LineDict(node.start_mark.line + 1)
    yield data
    own, merged = _mapping_entries(node)
    for entries, is_own in ((own, True), (merged, False)):
        for key_node, value_node in entries:
            key = _construct(loader, key_node)
            try:
                hash(key)
            except TypeError:
                raise _RefusedValue(
                    None, None, "found a mapping key that is not a plain value", key_node.start_mark
                ) from None
            line = key_node.start_mark.line + 1
            if key in data:
                # Own keys may override merged ones, and earlier merges override later ones.
                if is_own:
                    data.duplicates.append((key, line))
                    loader.duplicates.append((data, key, line))
                continue
            data[key] = _construct(loader, value_node)
            data.key_lines[key] = line


def _construct_sequence(loader: _SafeLoader, node: SequenceNode) -> Any:
    data = _LineList(node.start_mark.line + 1, [child.start_mark.line + 1 for child in node.value])
    yield data
    data.extend(_construct(loader, child) for child in node.value)


def _construct_undefined(loader: _SafeLoader, node: Node) -> Any:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    raise _RefusedValue(
        None, None, f"the tag {shorten(tag, 60)!r} is not allowed: the plugin's files are plain YAML", node.start_mark
    )


_SafeLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_SafeLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_SafeLoader.add_constructor(None, _construct_undefined)


def _line_at(text: str | bytes, position: int | None) -> int | None:
    if position is None or position < 0:
        return None
    newline = b"\n" if isinstance(text, bytes) else "\n"
    return text[:position].count(newline) + 1  # type: ignore[arg-type]


def _yaml_problem(path: str, exc: yaml.YAMLError, text: str | bytes) -> Problem:
    if isinstance(exc, yaml.reader.ReaderError):
        line = _line_at(text, exc.position)
        if "character" in str(exc.reason) and isinstance(exc.character, int):
            return Problem(path, f"not a text file: it contains the control character U+{exc.character:04X}", line=line)
        return Problem(path, "not a text file: it holds bytes that are not valid UTF-8 text", line=line)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    # The library's own words may quote a value (an alias name, say): keep them short.
    limit = 200 if isinstance(exc, _RefusedValue) else 80
    what = shorten(str(getattr(exc, "problem", None) or type(exc).__name__), limit)
    context = shorten(str(getattr(exc, "context", None) or ""), 80)
    if context:
        what = f"{context} {what}" if what.startswith("but ") else f"{what} ({context})"
    return Problem(path, f"invalid YAML: {what}", line=line)


def read_file(path: Path, name: str) -> bytes:
    """The bytes of one file the plugin reads (pair, persona or lexicon file), at most one byte
    past the size limit; raises :class:`PairFileError` naming it when it cannot be read."""
    try:
        return read_regular(path, MAX_FILE_BYTES)
    except OSError as exc:
        raise PairFileError([Problem(name, f"cannot read the file: {exc.strerror or exc}")]) from None
    except ValueError:  # a NUL in the path
        raise PairFileError([Problem(shorten(name, 100), "cannot read the file: not a usable path")]) from None


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a regular file (one past the limit tells the caller it is too
    big). Anything else is an OSError saying what it is: a FIFO would block the run, a device may
    never end, a socket cannot even be opened."""
    require_regular(os.stat(path).st_mode, "it")  # look before opening
    # O_NONBLOCK: should a FIFO take the file's place meanwhile, opening it does not wait for a writer.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        require_regular(os.fstat(fd).st_mode, "it")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit + 1)
    finally:
        os.close(fd)


def require_regular(mode: int, name: str) -> None:
    """Raise an OSError unless ``mode`` (from a stat) is a regular file's."""
    if not stat.S_ISREG(mode):
        raise OSError(f"{name} is {_file_kind(mode)}, not a regular file")


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")


def read_yaml(text: str | bytes, path: str) -> tuple[Any, Any]:
    """Parse one YAML document with the safe loader every file of the plugin uses (pair, lexicon
    and persona files): ``(document, duplicate keys found)``. A file that is too big, binary,
    not YAML, or shaped to exhaust memory raises :class:`PairFileError` with one problem."""
    if len(text) > MAX_FILE_BYTES:
        raise PairFileError([Problem(path, f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB")])
    nul = text.find(b"\x00" if isinstance(text, bytes) else "\x00")  # type: ignore[arg-type]
    if nul >= 0:
        raise PairFileError([Problem(path, "not a text file: it contains NUL bytes", line=_line_at(text, nul))])
    loader = None
    try:
        loader = _SafeLoader(text)
        return loader.get_single_data(), loader.duplicates
    except _ShapeProblem as exc:
        raise PairFileError([Problem(path, exc.message, line=exc.line)]) from None
    except yaml.YAMLError as exc:
        raise PairFileError([_yaml_problem(path, exc, text)]) from None
    except RecursionError:
        raise PairFileError([Problem(path, "invalid YAML: nested too deeply")]) from None
    finally:
        if loader is not None:
            loader.dispose()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while one file is parsed.

    A parse allocates hundreds of thousands of objects (YAML nodes and their marks) that all live
    until it ends, so the collector promotes them and then runs full collections over the whole
    heap, which grows with every file of a run. In `pytest --co` on 10,000 pairs those collections
    cost as much as the parsing itself. Reference counting frees those objects when the parse
    ends; whatever garbage it cannot free waits for the next collection, which runs as usual once
    the collector is back on. (If the collector was already off, it stays off.)
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def line_of(mapping: Any, key: Any, default: int | None = None) -> int | None:
    """The line of ``key`` in a loaded mapping, else ``default``, else the mapping's own line."""
    lines = getattr(mapping, "key_lines", {})
    return lines.get(key) or default or getattr(mapping, "line", None)


class Checker:
    """What the validators of pair, persona and lexicon files share: the problems found so far,
    reported keys, text checks, and at the end the repeated keys of mappings nobody looked at."""

    def __init__(self, path: str, duplicates: list[tuple[_LineDict, Any, int]] = ()):  # type: ignore[assignment]
        self.path = path
        self.problems: list[Problem] = []
        self.duplicates = duplicates
        #: The mappings whose keys were checked (their repeated keys reported with them).
        self.checked: set[int] = set()
        self.document: Any = None

    def problem(self, message: str, pair: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(self.path, message, pair, line))

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

    def optional_text(self, value: Any, what: str, pair: str | None, line: int | None) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(f"'{what}' must be text, found {describe(value)}", pair, line)
            return None
        if self.control(value, what, pair, line):
            return None
        return value

    def required_text(
        self, value: Any, what: str, pair: str | None, line: int | None, *, missing: str, kind: str, limit: int
    ) -> str | None:
        """Text the file must give, stripped: present (else the ``missing`` problem), a str (named
        ``kind`` in the problem), free of control characters, not blank, at most ``limit`` long."""
        if value is None:
            self.problem(missing, pair, line)
            return None
        if not isinstance(value, str):
            self.problem(f"'{what}' must be {kind}, found {describe(value)}", pair, line)
            return None
        if self.control(value, what, pair, line):
            return None
        text = value.strip()
        if not text:
            self.problem(f"'{what}' is empty", pair, line)
            return None
        if len(text) > limit:
            self.problem(f"'{what}' is {len(text):,} characters long; the limit is {limit:,}", pair, line)
            return None
        return text

    def control(self, text: str, what: str, pair: str | None, line: int | None) -> bool:
        """Report a control character in ``text`` (the file's text is printed); whether it has one."""
        found = control_character(text)
        if found is not None:
            self.problem(
                f"'{what}' contains {found}: text may hold tabs and line breaks, no other control characters",
                pair,
                line,
            )
        return found is not None

    def unchecked_duplicates(self) -> None:
        """Report the repeated keys of mappings no check has looked at."""
        for mapping, key, line in self.duplicates:
            if id(mapping) not in self.checked:
                self.problem(f"duplicate key {show_key(key)}: a key may appear only once in a mapping", line=line)

    def finish(self, error: type[PairFileError]) -> None:
        """Report the repeated keys no check has reported; raise ``error`` with every problem, in
        line order, if there is any."""
        self.unchecked_duplicates()
        if self.problems:
            raise error(sorted(self.problems, key=lambda p: p.line or 0))
