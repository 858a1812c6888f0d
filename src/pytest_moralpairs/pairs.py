"""Pair files: YAML text -> validated, frozen :class:`Suite` and :class:`Pair` objects.

Every problem is reported as a :class:`Problem` naming the file, the pair and what was wrong;
a file with any problem raises :class:`PairFileError` carrying all of them at once. Values from
the file are never echoed whole into messages: a file may be hostile or simply huge.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from .prompt import BUILTIN_PROMPTS, PromptTemplate

#: Pair ids become part of pytest node ids: keep them to characters that need no quoting.
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: Tags become pytest markers; this is what ``-m`` expressions can name.
_TAG_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_TAGS = frozenset({"and", "or", "not", "True", "False", "None"})
MAX_SENTENCE_CHARS = 2000

PAIR_KEYS = frozenset({"id", "harmful", "harmless", "threshold", "tags", "note", "human", "prompt"})
DEFAULT_KEYS = frozenset({"threshold", "tags", "prompt"})
TOP_KEYS = frozenset({"version", "description", "defaults", "pairs"})
HUMAN_KEYS = frozenset({"harmful", "harmless"})
HUMAN_RATING_KEYS = frozenset({"mean", "sd", "n", "source"})
PROMPT_KEYS = frozenset({"name", "system", "template"})
SIDES = ("harmful", "harmless")


@dataclass(frozen=True)
class HumanRating:
    """A published human mean rating of one sentence on the -4..4 scale."""

    mean: float
    source: str | None = None
    sd: float | None = None
    n: int | None = None


@dataclass(frozen=True)
class Pair:
    """A harmful sentence and a minimally edited harmless one."""

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

    def sentence(self, side: str) -> str:
        return self.harmful if side == "harmful" else self.harmless

    def human(self, side: str) -> HumanRating | None:
        return self.human_harmful if side == "harmful" else self.human_harmless


@dataclass(frozen=True)
class Suite:
    """All pairs of one file, with the file's defaults already applied to each pair."""

    path: str
    pairs: tuple[Pair, ...]
    description: str | None = None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pair file."""

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
    """A pair file that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def describe(value: Any) -> str:
    """Name a value's type for an error message without echoing the value itself."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})" if abs(value) < 1e12 else "a number"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"a mapping with {len(value)} keys"
    return f"a value of type {type(value).__name__}"


def _key_list(keys: Any) -> str:
    return ", ".join(sorted(repr(k)[:40] for k in keys))


# --- YAML loading ------------------------------------------------------------------------

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineDict(dict):
    """A mapping that remembers the line it started on, for error messages."""

    line: int | None = None


class _PairLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that rejects duplicate keys and records mapping line numbers."""


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> Any:
    data = _LineDict()
    data.line = node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found a mapping key that is not a plain value", key_node.start_mark
            ) from None
        if key in data:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {str(key)[:40]!r}", key_node.start_mark
            )
        data[key] = loader.construct_object(value_node, deep=True)


_PairLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _yaml_problem(path: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(exc, "problem", None) or type(exc).__name__
    if isinstance(exc, yaml.reader.ReaderError):
        return Problem(path, "not a text file: it holds bytes that are not valid UTF-8 text")
    if "could not determine a constructor" in str(what) or "python/" in str(what):
        what = "a YAML tag that safe loading refuses (only plain YAML is allowed)"
    return Problem(path, f"invalid YAML: {str(what)[:200]}", line=line)


def load_suite(path: str | Path, name: str | None = None) -> Suite:
    """Read and validate one pair file; ``name`` is how messages refer to it (default: the path)."""
    path = Path(path)
    name = name or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PairFileError([Problem(name, f"cannot read the file: {exc.strerror}")]) from None
    return parse_suite(data, name)


def parse_suite(text: str | bytes, path: str = "<string>") -> Suite:
    """Validate pair-file text; raises :class:`PairFileError` listing every problem."""
    if isinstance(text, bytes) and b"\x00" in text:
        raise PairFileError([Problem(path, "not a text file: it contains NUL bytes")])
    try:
        document = yaml.load(text, Loader=_PairLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PairFileError([_yaml_problem(path, exc)]) from None
    except RecursionError:
        raise PairFileError([Problem(path, "invalid YAML: nested too deeply")]) from None
    return _Validator(path).suite(document)


class _Validator:
    def __init__(self, path: str):
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, message: str, pair: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(self.path, message, pair, line))

    def suite(self, document: Any) -> Suite:
        if document is None:
            raise PairFileError([Problem(self.path, "the file is empty; expected a mapping with a 'pairs' list")])
        if not isinstance(document, dict):
            raise PairFileError(
                [Problem(self.path, f"expected a mapping with a 'pairs' list at the top, found {describe(document)}")]
            )
        unknown = set(document) - TOP_KEYS
        if unknown:
            self.problem(f"unknown top-level key(s) {_key_list(unknown)}; allowed: {_key_list(TOP_KEYS)}")
        version = document.get("version", 1)
        if version != 1 or isinstance(version, bool):
            self.problem(f"'version' must be 1, found {describe(version)}")
        description = self.optional_text(document.get("description"), "description")
        defaults = self.defaults(document.get("defaults"))
        raw_pairs = document.get("pairs")
        pairs: list[Pair] = []
        if "pairs" not in document:
            self.problem("missing key 'pairs': a list of pairs")
        elif not isinstance(raw_pairs, list):
            self.problem(f"'pairs' must be a list of pairs, found {describe(raw_pairs)}")
        elif not raw_pairs:
            self.problem("'pairs' is empty: a pair file needs at least one pair")
        else:
            seen: dict[str, int | None] = {}
            for index, raw in enumerate(raw_pairs):
                pair = self.pair(raw, index, defaults)
                if pair is None:
                    continue
                if pair.id in seen:
                    first = seen[pair.id]
                    self.problem(
                        "duplicate id: ids must be unique in a file" + (f" (first used on line {first})" if first else ""),
                        pair.id,
                        pair.line,
                    )
                    continue
                seen[pair.id] = pair.line
                pairs.append(pair)
        if self.problems:
            raise PairFileError(self.problems)
        return Suite(self.path, tuple(pairs), description)

    # --- pieces ---------------------------------------------------------------------------

    def optional_text(self, value: Any, what: str, pair: str | None = None, line: int | None = None) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(f"'{what}' must be text, found {describe(value)}", pair, line)
            return None
        return value

    def threshold(self, value: Any, pair: str | None = None, line: int | None = None) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.problem(f"'threshold' must be a number, found {describe(value)}", pair, line)
            return None
        if not -8 <= value <= 8:
            self.problem(f"'threshold' must lie in -8..8 (the widest possible gap), found {value!r}", pair, line)
            return None
        return float(value)

    def tags(self, value: Any, pair: str | None = None, line: int | None = None) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(f"'tags' must be a list of names, found {describe(value)}", pair, line)
            return ()
        tags: list[str] = []
        for tag in value:
            if not isinstance(tag, str) or not _TAG_RE.match(tag) or tag in _RESERVED_TAGS:
                self.problem(
                    f"tag {describe(tag)} is not usable as a pytest marker: "
                    "use letters, digits and '_', starting with a letter",
                    pair,
                    line,
                )
            elif tag not in tags:
                tags.append(tag)
        return tuple(tags)

    def prompt(self, value: Any, pair: str | None = None, line: int | None = None) -> PromptTemplate | None:
        if value is None:
            return None
        if isinstance(value, str):
            if value in BUILTIN_PROMPTS:
                return BUILTIN_PROMPTS[value]
            self.problem(
                f"unknown prompt {describe(value)}; built-in prompts: {_key_list(BUILTIN_PROMPTS)}, "
                "or give a mapping with 'template' (and optional 'system')",
                pair,
                line,
            )
            return None
        if not isinstance(value, dict):
            self.problem(f"'prompt' must be a prompt name or a mapping, found {describe(value)}", pair, line)
            return None
        unknown = set(value) - PROMPT_KEYS
        if unknown:
            self.problem(f"unknown key(s) {_key_list(unknown)} in 'prompt'; allowed: {_key_list(PROMPT_KEYS)}", pair, line)
        template = value.get("template")
        system = self.optional_text(value.get("system"), "prompt.system", pair, line)
        name = self.optional_text(value.get("name"), "prompt.name", pair, line) or "custom"
        if not isinstance(template, str) or "{sentence}" not in template:
            self.problem("'prompt.template' must be text containing the placeholder {sentence}", pair, line)
            return None
        return PromptTemplate(name=name, template=template, system=system)

    def defaults(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(f"'defaults' must be a mapping, found {describe(value)}")
            return {}
        unknown = set(value) - DEFAULT_KEYS
        if unknown:
            self.problem(f"unknown key(s) {_key_list(unknown)} in 'defaults'; allowed: {_key_list(DEFAULT_KEYS)}")
        return {
            "threshold": self.threshold(value.get("threshold"), "defaults"),
            "tags": self.tags(value.get("tags"), "defaults"),
            "prompt": self.prompt(value.get("prompt"), "defaults"),
        }

    def sentence(self, value: Any, side: str, pair: str, line: int | None) -> str | None:
        if value is None:
            self.problem(f"missing key '{side}': the {side} sentence", pair, line)
            return None
        if not isinstance(value, str):
            self.problem(f"'{side}' must be a sentence (text), found {describe(value)}", pair, line)
            return None
        text = value.strip()
        if not text:
            self.problem(f"'{side}' is empty", pair, line)
            return None
        if len(text) > MAX_SENTENCE_CHARS:
            self.problem(f"'{side}' is {len(text)} characters long; the limit is {MAX_SENTENCE_CHARS}", pair, line)
            return None
        return text

    def human(self, value: Any, pair: str, line: int | None) -> dict[str, HumanRating | None]:
        out: dict[str, HumanRating | None] = {"harmful": None, "harmless": None}
        if value is None:
            return out
        if not isinstance(value, dict):
            self.problem(f"'human' must be a mapping with 'harmful' and/or 'harmless', found {describe(value)}", pair, line)
            return out
        unknown = set(value) - HUMAN_KEYS
        if unknown:
            self.problem(f"unknown key(s) {_key_list(unknown)} in 'human'; allowed: {_key_list(HUMAN_KEYS)}", pair, line)
        for side in SIDES:
            raw = value.get(side)
            if raw is None:
                continue
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                raw = {"mean": raw}
            if not isinstance(raw, dict):
                self.problem(f"'human.{side}' must be a number or a mapping with 'mean', found {describe(raw)}", pair, line)
                continue
            unknown = set(raw) - HUMAN_RATING_KEYS
            if unknown:
                self.problem(
                    f"unknown key(s) {_key_list(unknown)} in 'human.{side}'; allowed: {_key_list(HUMAN_RATING_KEYS)}",
                    pair,
                    line,
                )
            mean, sd, n = raw.get("mean"), raw.get("sd"), raw.get("n")
            if isinstance(mean, bool) or not isinstance(mean, (int, float)) or not -4 <= mean <= 4:
                self.problem(f"'human.{side}.mean' must be a number in -4..4, found {describe(mean)}", pair, line)
                continue
            if sd is not None and (isinstance(sd, bool) or not isinstance(sd, (int, float)) or sd < 0):
                self.problem(f"'human.{side}.sd' must be a number >= 0, found {describe(sd)}", pair, line)
                continue
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
                self.problem(f"'human.{side}.n' must be a whole number >= 1, found {describe(n)}", pair, line)
                continue
            source = self.optional_text(raw.get("source"), f"human.{side}.source", pair, line)
            out[side] = HumanRating(float(mean), source, None if sd is None else float(sd), n)
        return out

    def pair(self, raw: Any, index: int, defaults: Mapping[str, Any]) -> Pair | None:
        label = f"#{index + 1}"
        if not isinstance(raw, dict):
            self.problem(f"each pair must be a mapping, found {describe(raw)}", label)
            return None
        line = getattr(raw, "line", None)
        raw_id = raw.get("id")
        if raw_id is None:
            self.problem("missing key 'id': a short name, unique in the file", label, line)
            pair_id = None
        elif isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not _ID_RE.match(str(raw_id)):
            self.problem(
                f"'id' must be a name of letters, digits, '_', '-' or '.', found {describe(raw_id)}", label, line
            )
            pair_id = None
        else:
            pair_id = str(raw_id)
            label = pair_id
        before = len(self.problems)
        unknown = set(raw) - PAIR_KEYS
        if unknown:
            self.problem(f"unknown key(s) {_key_list(unknown)}; allowed: {_key_list(PAIR_KEYS)}", label, line)
        harmful = self.sentence(raw.get("harmful"), "harmful", label, line)
        harmless = self.sentence(raw.get("harmless"), "harmless", label, line)
        if harmful is not None and harmless is not None and harmful == harmless:
            self.problem("'harmful' and 'harmless' are the same sentence: a pair needs an edit", label, line)
        threshold = self.threshold(raw.get("threshold"), label, line)
        tags = self.tags(raw.get("tags"), label, line)
        note = self.optional_text(raw.get("note"), "note", label, line)
        human = self.human(raw.get("human"), label, line)
        prompt = self.prompt(raw.get("prompt"), label, line)
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
        )


__all__ = ["HumanRating", "Pair", "PairFileError", "Problem", "Suite", "load_suite", "parse_suite"]
