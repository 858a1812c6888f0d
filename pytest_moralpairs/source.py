"""A pair file's ``source:``: the block that draws its pairs from a table, its rules, and what it
says once checked (:class:`Source`): where the rows are (a data file, or a Hugging Face dataset),
how they become pairs (a preset of :mod:`.presets`, its options, the column of each field) and
which of them are drawn (a sample, or the first ones).

:class:`SourceRules` holds the block's rules, in the words every format's rules use
(:class:`~.validation.Checker`); the pair file's checker (:class:`~.pairs.PairChecker`) has them,
and holds each pair drawn to the rules of a pair. A data file is read only from where the files a
pair file names may be (:class:`~.yamlfile.AllowedDirs`), as persona files are.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from .validation import MAX_PATH_CHARS, Checker, describe, key_list, line_of, show_key
from .yamlfile import AllowedDirs

if TYPE_CHECKING:  # the presets and the table readers are loaded by a file that has a `source`, not by every pair file
    from .presets import PairRecord, Preset
    from .tables import Table

#: Where a file's ``source`` finds its rows (a data file, or a Hugging Face dataset), how they become
#: pairs, and which are drawn.
SOURCE_KEYS = frozenset({"path", "format", "dataset", "config", "split", "columns", "preset", "sample", "limit"})
SAMPLE_KEYS = frozenset({"n", "seed"})


@dataclass(frozen=True)
class Source:
    """A pair file's ``source:`` as checked: where the rows are (a file, or a Hugging Face
    dataset), how they become pairs (the preset, its options, the column of each role) and which
    of them are drawn (``sample`` as ``(n, seed)``, or the first ``limit``).

    ``named`` are the roles whose column the file names: each must be a column of the table, as
    the preset's ``required`` roles must."""

    name: str
    preset: Preset
    columns: Mapping[str, tuple[str, ...]]
    named: frozenset[str] = frozenset()
    options: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    format: str | None = None
    dataset: str | None = None
    config: str | None = None
    split: str | None = None
    sample: tuple[int, int] | None = None
    limit: int | None = None

    def open(self) -> Table:
        """The table; raises :class:`~.tables.TableError` when it cannot be read at all."""
        from .tables import open_dataset, open_table

        if self.dataset is not None:
            return open_dataset(str(self.path or self.dataset), self.name, self.config, self.split)
        return open_table(self.path, self.name, self.format)  # type: ignore[arg-type]  # a file's source has both

    def absent(self, columns: Iterable[str]) -> list[tuple[str, str]]:
        """The roles (with their column) that must be read and are not among ``columns``."""
        have = set(columns)
        wanted = sorted(self.preset.required | self.named, key=self.preset.roles.index)
        return [(role, column) for role in wanted for column in self.columns[role] if column not in have]

    def records(self, table: Table) -> Iterator[PairRecord]:
        """The pairs drawn from the table's rows, in the order of their first rows."""
        from .presets import sampled

        made = self.preset.make(table.rows, self.columns, self.options)
        if self.limit is not None:
            return islice(made, self.limit)
        if self.sample is not None:
            return sampled(made, *self.sample)
        return made


class SourceRules(Checker):
    """The rules of a pair file's ``source``, for a checker that knows where the file is (``path``,
    ``base_dir``) and where the files it names may be read from (``allowed_dirs``)."""

    base_dir: Path
    allowed_dirs: AllowedDirs | None

    def source(self, value: Any, line: int | None) -> Source | None:
        """The file's ``source``, checked: where its rows are, how they become pairs, which are drawn."""
        if not isinstance(value, dict):
            self.problem(
                "'source' must be a mapping with 'path' (a data file) or 'dataset' (a Hugging Face dataset), "
                f"found {describe(value)}",
                line=line,
            )
            return None
        self.keys(value, SOURCE_KEYS, "source", None)
        before = len(self.problems)

        def at(key: str) -> int | None:
            return line_of(value, key, line)

        preset, options = self.preset(value.get("preset"), at("preset"))
        columns, named = self.columns(value.get("columns"), preset, at("columns"))
        where = self.table(value, at, line)
        limit = self.count(value.get("limit"), "source.limit", at("limit"))
        sample = self.sample(value.get("sample"), at("sample"))
        if sample is not None and limit is not None:
            self.problem(
                "'source' gives 'sample' and 'limit': draw a sample or the first rows, not both", line=at("limit")
            )
        if len(self.problems) > before or where is None:
            return None
        return Source(preset=preset, columns=columns, named=named, options=options, sample=sample, limit=limit, **where)

    def table(self, value: dict, at: Any, line: int | None) -> dict[str, Any] | None:
        """Where the rows of ``source`` are: ``path`` (a data file, its ``format``) or ``dataset``
        (a Hugging Face dataset, its ``config`` and ``split``), read only from where files may be."""
        given = [key for key in ("path", "dataset") if value.get(key) is not None]
        if len(given) != 1:
            self.problem(
                "'source' needs 'path' (a data file: csv, tsv, json, jsonl, parquet) or 'dataset' (a Hugging Face "
                "dataset)" + (", not both" if given else ""),
                line=at("dataset") if given else line,
            )
            return None
        key = given[0]
        misplaced = ["format"] if key == "dataset" else ["config", "split"]
        for other in misplaced:
            if value.get(other) is not None:
                applies = "a data file's ('path')" if other == "format" else "a Hugging Face dataset's ('dataset')"
                self.problem(f"'source.{other}' is {applies} only", line=at(other))
        ref = self.required_text(
            value[key], f"source.{key}", None, at(key), missing="", kind="text", limit=MAX_PATH_CHARS
        )
        if ref is None:
            return None
        absolute = os.path.isabs(ref)
        shown = ref if absolute else os.path.normpath(os.path.join(os.path.dirname(self.path), ref))
        target = Path(ref) if absolute else self.base_dir / ref
        if key == "dataset":
            config = self.optional_text(value.get("config"), "source.config", None, at("config"))
            split = self.optional_text(value.get("split"), "source.split", None, at("split"))
            local = os.path.exists(target)  # a folder of data files; else a name on the Hub
            if local and self.refused(target, f"'source.dataset' names the folder {shown}", at(key)):
                return None
            label = "/".join(part for part in (config, split) if part)
            name = (shown if local else ref) + (f"[{label}]" if label else "")
            return {"name": name, "dataset": ref, "path": target if local else None, "config": config, "split": split}
        from .tables import FORMATS, format_of

        fmt = value.get("format")
        if fmt is None:
            fmt = format_of(ref)
            if fmt is None:
                self.problem(
                    f"'source.path' {show_key(ref)} does not say its format by its extension (.csv, .tsv, .json, "
                    f".jsonl, .parquet): give 'source.format', one of {', '.join(FORMATS)}",
                    line=at(key),
                )
                return None
        elif fmt not in FORMATS:
            self.problem(
                f"'source.format' must be one of {', '.join(FORMATS)}; found {describe(fmt)}", line=at("format")
            )
            return None
        if self.refused(target, f"'source.path' names the data file {shown}", at(key)):
            return None
        return {"name": shown, "path": target, "format": fmt}

    def refused(self, target: Path, named: str, line: int | None) -> bool:
        """Whether the file at ``target`` lies outside where files may be read from (a problem: it
        is never read, as it may be any file at all)."""
        refusal = self.allowed_dirs.refusal(target) if self.allowed_dirs is not None else None
        if refusal is not None:
            self.problem(f"{named}, which {refusal}", line=line)
        return refusal is not None

    def preset(self, value: Any, line: int | None) -> tuple[Preset, dict[str, Any]]:
        """The preset ``source.preset`` names (by name, or a mapping with 'name' and its options),
        with its options; none: each field from the column of its name."""
        from .presets import COLUMNS, PRESETS

        if value is None:
            return COLUMNS, {}
        given: Mapping[str, Any] = value if isinstance(value, dict) else {}
        name = value.get("name") if isinstance(value, dict) else value
        preset = PRESETS.get(name) if isinstance(name, str) else None
        if preset is None:
            close = difflib.get_close_matches(name, sorted(PRESETS), n=1) if isinstance(name, str) else []
            self.problem(
                f"unknown preset {describe(name)} in 'source.preset'"
                + (f" (did you mean {close[0]!r}?)" if close else "")
                + f"; presets: {key_list(sorted(PRESETS))}, or a mapping with 'name' and the preset's options",
                line=line,
            )
            return COLUMNS, {}
        if isinstance(value, dict):
            self.keys(value, frozenset({"name", *preset.options}), "source.preset", None)
        options = {}
        for option, rule in preset.options.items():
            chosen = self.number(
                given.get(option),
                f"source.preset.{option}",
                None,
                line_of(given, option, line),
                expected=rule.expected,
                ok=rule.ok,
            )
            options[option] = rule.default if chosen is None else chosen
        return preset, options

    def columns(
        self, value: Any, preset: Preset, line: int | None
    ) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
        """The column(s) of each role of ``preset``: the role's own name unless ``source.columns``
        names another; and the roles it names."""
        columns = {role: (role,) for role in preset.roles}
        if value is None:
            return columns, frozenset()
        if not isinstance(value, dict):
            self.problem(
                f"'source.columns' must map fields to the columns holding them, found {describe(value)}", line=line
            )
            return columns, frozenset()
        self.keys(value, frozenset(preset.roles), "source.columns", None)
        named = set()
        for role, column in value.items():
            if role not in preset.roles:
                continue
            where, at = f"source.columns.{role}", line_of(value, role, line)
            names = column if isinstance(column, list) and role in preset.listed else [column]
            if role in preset.listed and not names:
                self.problem(f"'{where}' is empty: name a column, or a list of columns", line=at)
                continue
            kind = "a column name, or a list of them" if role in preset.listed else "a column name"
            texts = [self.required_text(n, where, None, at, missing="", kind=kind, limit=MAX_PATH_CHARS) for n in names]
            if all(text is not None for text in texts):
                columns[role] = tuple(texts)  # type: ignore[arg-type]
                named.add(role)
        return columns, frozenset(named)

    def count(self, value: Any, what: str, line: int | None) -> int | None:
        number = self.number(
            value, what, None, line, expected="a whole number >= 1", ok=lambda v: v >= 1 and v == int(v)
        )
        return None if number is None else int(number)

    def sample(self, value: Any, line: int | None) -> tuple[int, int] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(f"'source.sample' must be a mapping with 'n' (and 'seed'), found {describe(value)}", line=line)
            return None
        self.keys(value, SAMPLE_KEYS, "source.sample", None)
        if value.get("n") is None:
            self.problem("'source.sample' needs 'n': how many pairs to draw", line=line)
        n = self.count(value.get("n"), "source.sample.n", line_of(value, "n", line))
        seed = self.number(
            value.get("seed"),
            "source.sample.seed",
            None,
            line_of(value, "seed", line),
            expected="a whole number >= 0",
            ok=lambda v: v >= 0 and v == int(v),
        )
        return None if n is None else (n, 0 if seed is None else int(seed))

    def absent_columns(self, source: Source, table: Table, line: int | None) -> None:
        """Raise the problem of each column the table must have and lacks."""
        have = table.known_columns()
        theirs = f"; its columns: {key_list(have)}" if have else ""
        for role, column in source.absent(have):
            close = difflib.get_close_matches(column, have, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if role in source.named:
                self.problem(
                    f"'source.columns.{role}' names the column {show_key(column)}, which {table.name} does not "
                    f"have{hint}{theirs}",
                    line=line,
                )
            else:
                reader = f"the preset {source.preset.name!r}" if source.preset.name else "a source"
                self.problem(
                    f"{table.name} has no column {show_key(column)}, which {reader} reads{hint}{theirs}: name the "
                    f"column that holds it in 'source.columns' ({role}: COLUMN)",
                    line=line,
                )
        self.finish()
