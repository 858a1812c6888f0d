"""Reading the plugin's YAML files (pair, persona and lexicon files) safely, with line numbers.

The loader is YAML's safe one, made stricter: duplicate keys are recorded (and reported), Python
tags are refused, aliases may not expand without bound, nesting is limited, and every mapping (a
:class:`~.validation.Record`) and list remembers the lines of its keys and items. A file that
cannot be read or is not YAML raises its format's error with one problem (see
:mod:`.validation`, where the rules that check the document live); values from the file are never
echoed whole into a message: a file may be hostile or simply huge.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import gc
import os
import re
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml
from yaml.constructor import ConstructorError
from yaml.events import (
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

from .validation import PairFileError, Record, shorten

#: Far above any hand-written suite; stops a stray multi-gigabyte file from being read whole.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: How many values YAML aliases may repeat in total. Aliases share one object, so a "billion
#: laughs" file costs nothing to load, but anything walking the data would expand it.
MAX_ALIAS_EXPANSION = 100_000
#: A pair file needs 6 levels (top, pairs, pair, human, side, mean); the rest is hostile.
MAX_NESTING = 50
#: Text in quotes in the YAML library's words, or in a value's error: it comes from the file.
_QUOTED_RE = re.compile(r"""\s*(?:'[^']*'|"[^"]*")""")
#: One character in quotes, as the library shows one it cannot read ('\t', '%'): no file's secret.
_ONE_CHARACTER_RE = re.compile(r"""\s*(?:'(?:[^'\\]|\\[a-z0-9]{1,9})'|"(?:[^"\\]|\\[a-z0-9]{1,9})")""")
#: A tag the refusal names: a Python tag, or a word such as !include. Any other is not quoted: a
#: value such as "password: !s3cret" is a tag to YAML.
_NAMED_TAG_RE = re.compile(r"!!python/[\w./:-]{1,60}|!{1,2}[A-Za-z][A-Za-z_-]{0,30}")


# --- YAML loading ------------------------------------------------------------------------

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_STR_TAG = "tag:yaml.org,2002:str"


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
        self.duplicates: list[tuple[Record, Any, int]] = []
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
            reason = unquoted(str(exc)) if isinstance(exc, ValueError) else ""
            reason = f": {shorten(reason, 100)}" if reason else ""
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
    data = Record(node.start_mark.line + 1)
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
    named = f"the tag {tag!r}" if _NAMED_TAG_RE.fullmatch(tag) else "a tag"
    raise _RefusedValue(None, None, f"{named} is not allowed: the plugin's files are plain YAML", node.start_mark)


def unquoted(text: str) -> str:
    """``text`` without what it quotes but single characters: the words of the YAML library or of
    a value's error quote the file (an alias name, a value that is no number), which may be any
    file at all (a link to a key file)."""
    kept = _QUOTED_RE.sub(lambda match: match.group() if _ONE_CHARACTER_RE.fullmatch(match.group()) else "", text)
    return kept.strip().rstrip(":")


_SafeLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_SafeLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_SafeLoader.add_constructor(None, _construct_undefined)


class _NotPlain(Exception):
    """The document needs the full loader: an anchor, alias, tag, merge key, repeated key, a key
    that is a collection, deep nesting, a value that cannot be constructed, or a YAML error."""


def _read_plain(loader: _SafeLoader) -> Any:
    """The document built straight from the parser's events, for the usual file: plain mappings,
    lists and scalars, each key once (what the full loader returns for it, lines included).

    The full loader composes a tree of nodes (each with two marks) and then walks it: on a file
    of 100,000 pairs that is millions of objects alive at once. Here each event is used and
    dropped. Anything beyond plain data raises :class:`_NotPlain`, and the full loader reads the
    file again, so every refusal and message stays its own.
    """
    get = loader.get_event
    resolvers = loader.yaml_implicit_resolvers
    constructors = loader.yaml_constructors
    tags: dict[str, str] = {}  # the tag of each plain value met
    get()  # the stream's start
    if isinstance(get(), StreamEndEvent):
        return None  # no document at all
    root: Any = None
    # One frame per open collection: [the collection, is a mapping, the pending key, its line].
    stack: list[list[Any]] = []
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                raise _NotPlain
            value: Any = event.value
            if event.implicit[0] and (not value or value[0] in resolvers):
                tag = tags.get(value)
                if tag is None:
                    tag = loader.resolve(ScalarNode, value, event.implicit)
                    if len(tags) < 1000:  # the keys, mostly: "tags", "threshold", "n"
                        tags[value] = tag
                if tag != _STR_TAG:
                    constructor = constructors.get(tag)
                    if constructor is None:  # a merge key, "=", or a tag the loader refuses
                        raise _NotPlain
                    try:
                        value = constructor(loader, ScalarNode(tag, value, event.start_mark, event.end_mark))
                    except Exception:  # noqa: BLE001 - the full loader says what is wrong with it
                        raise _NotPlain from None
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or event.tag is not None or len(stack) >= MAX_NESTING - 2:
                raise _NotPlain
            line = event.start_mark.line + 1
            value = Record(line) if kind is MappingStartEvent else _LineList(line, [])
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop()
            continue
        elif kind is DocumentEndEvent:
            if not isinstance(get(), StreamEndEvent):
                raise _NotPlain  # a second document: the full loader refuses it
            return root
        else:  # an alias
            raise _NotPlain
        if stack:
            frame = stack[-1]
            parent = frame[0]
            if not frame[1]:
                parent.append(value)
                parent.item_lines.append(event.start_mark.line + 1)
            elif frame[3] is None:  # a key
                if kind is not ScalarEvent or value in parent:
                    raise _NotPlain
                frame[2], frame[3] = value, event.start_mark.line + 1
            else:
                parent[frame[2]] = value
                parent.key_lines[frame[2]] = frame[3]
                frame[3] = None
        else:
            root = value
        if kind is not ScalarEvent:
            stack.append([value, kind is MappingStartEvent, None, None])


def _line_at(text: str | bytes, position: int | None) -> int | None:
    if position is None or position < 0:
        return None
    newline = b"\n" if isinstance(text, bytes) else "\n"
    return text[:position].count(newline) + 1  # type: ignore[arg-type]


def _yaml_problem(exc: yaml.YAMLError, text: str | bytes) -> tuple[str, int | None]:
    """What is wrong with text the loader refused, and on which line."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = _line_at(text, exc.position)
        if "character" in str(exc.reason) and isinstance(exc.character, int):
            return f"not a text file: it contains the control character U+{exc.character:04X}", line
        return "not a text file: it holds bytes that are not valid UTF-8 text", line
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, _RefusedValue):  # our own words, quoting nothing of the file's but a named tag
        what = shorten(str(exc.problem), 200)
    else:  # the library's words may quote the file (an alias name, say): that is left out
        what = shorten(unquoted(str(getattr(exc, "problem", None) or type(exc).__name__)), 80)
    context = shorten(unquoted(str(getattr(exc, "context", None) or "")), 80)
    if context:
        what = f"{context} {what}" if what.startswith("but ") else f"{what} ({context})"
    return f"invalid YAML: {what}", line


@dataclass(frozen=True)
class AllowedDirs:
    """The directories from which a file may read the files it names (a pair file's persona files,
    an ini file's lexicon files), their links resolved: a path such as ``../../../etc/passwd``, or a
    link to a file elsewhere, must not make the plugin read, and report on, any file at all.

    ``where`` names the directories in a refusal and ``how`` says how to allow another one.
    """

    dirs: tuple[str, ...]
    where: str = ""
    how: str = ""

    @classmethod
    def of(cls, dirs: Iterable[str | os.PathLike[str]], where: str = "", how: str = "") -> AllowedDirs:
        real = tuple(os.path.realpath(d) for d in dirs)
        return cls(real, where or "the directories it may be read from (" + ", ".join(real) + ")", how)

    def refusal(self, path: str | os.PathLike[str]) -> str | None:
        """Why the file at ``path`` may not be read, as in "the file ...": "is outside the
        rootdir /p: ...", "is a link to /s/x, outside ..."; None when it may be."""
        real = os.path.realpath(path)
        if any(real == d or real.startswith(d.rstrip(os.sep) + os.sep) for d in self.dirs):
            return None
        if os.path.islink(path):
            where = f"is a link to {real}, outside"
        elif real != os.path.abspath(path):
            where = f"resolves to {real}, outside"
        else:
            where = "is outside"
        return f"{where} {self.where}" + (f": {self.how}" if self.how else "")


def read_file(path: Path, name: str, error: type[PairFileError] = PairFileError) -> bytes:
    """The bytes of one file the plugin reads (pair, persona or lexicon file), at most one byte
    past the size limit; raises ``error`` naming it when it cannot be read."""
    try:
        return read_regular(path, MAX_FILE_BYTES)
    except (OSError, ValueError) as exc:
        raise unreadable(name, exc, error) from None


def unreadable(name: str, exc: OSError | ValueError, error: type[PairFileError] = PairFileError) -> PairFileError:
    """The error for the file ``name`` that could not be looked at or read (``exc`` says why)."""
    if isinstance(exc, OSError):
        return error([error.problem_type(name, f"cannot read the file: {exc.strerror or exc}")])
    # os.stat and open raise ValueError for a NUL in the path
    return error([error.problem_type(shorten(name, 100), "cannot read the file: not a usable path")])


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


def read_yaml(
    text: str | bytes, path: str, error: type[PairFileError] = PairFileError
) -> tuple[Any, list[tuple[Record, Any, int]]]:
    """Parse one YAML document with the safe loader every file of the plugin uses (pair, lexicon
    and persona files): ``(document, duplicate keys found)``. A file that is too big, binary,
    not YAML, or shaped to exhaust memory raises ``error`` with one problem."""

    def refused(message: str, line: int | None = None) -> PairFileError:
        return error([error.problem_type(path, message, line=line)])

    if len(text) > MAX_FILE_BYTES:
        raise refused(f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB")
    nul = text.find(b"\x00" if isinstance(text, bytes) else "\x00")  # type: ignore[arg-type]
    if nul >= 0:
        raise refused("not a text file: it contains NUL bytes", _line_at(text, nul))
    loader = None
    try:
        loader = _SafeLoader(text)
        try:
            return _read_plain(loader), []
        except (_NotPlain, yaml.YAMLError):
            loader.dispose()
            loader = _SafeLoader(text)
        return loader.get_single_data(), loader.duplicates
    except _ShapeProblem as exc:
        raise refused(exc.message, exc.line) from None
    except yaml.YAMLError as exc:
        raise refused(*_yaml_problem(exc, text)) from None
    except RecursionError:
        raise refused("invalid YAML: nested too deeply") from None
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
