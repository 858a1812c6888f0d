"""Data files as rows: the tables a pair file may draw its pairs from (its ``source:``).

CSV and TSV (a header row naming the columns, then one row per record), JSON (a list of objects)
and JSON Lines (one object per line) are read with the standard library, CSV, TSV and JSON Lines
line by line; Parquet files through pyarrow, in batches, and Hugging Face datasets through
datasets, each an optional extra that a message names when it is missing. Every table yields
:class:`Row` values in order, each numbered as messages name it (``file:row:column``): the
spreadsheet's row for CSV and TSV (the header is row 1), the line for JSON Lines, the position
from 1 for JSON, Parquet and datasets.

A row that cannot be read (a line that is not JSON, a CSV row wider than its header) carries its
``problem`` and is that row's problem only: the rows after it are read on. What stops the whole
table (it cannot be opened, is not UTF-8 text, is not CSV at all) raises :class:`TableError`.

Values are what the format says they are: text in CSV and TSV (an empty cell is empty text), JSON's
types in JSON, the column's type in Parquet and datasets. Nothing here knows pairs: :mod:`.presets`
makes pairs of rows. Values of a file are never echoed whole into a message.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .validation import kind_of, shorten, show_key
from .yamlfile import require_regular

#: The formats by name, and the name each file extension stands for.
FORMATS = ("csv", "tsv", "json", "jsonl", "parquet")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
#: What to install for a format the standard library cannot read.
EXTRAS = {
    "parquet": "reading Parquet files needs pyarrow: pip install 'pytest-moralpairs[parquet]'",
    "dataset": "reading Hugging Face datasets needs datasets: pip install 'pytest-moralpairs[hf]'",
}
#: Rows a Parquet file or a dataset is read in at a time: memory stays flat whatever its size.
BATCH_ROWS = 1024


class TableError(Exception):
    """A table that cannot be read at all; ``row`` is where reading stopped, when it had begun."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row


class Row:
    """One row of a table: its ``number`` as messages name it, its ``cells`` by column (a mapping
    the row's own: never shared), or the ``problem`` that kept it from being read."""

    __slots__ = ("number", "cells", "problem")

    def __init__(self, number: int, cells: dict[str, Any], problem: str | None = None) -> None:
        self.number = number
        self.cells = cells
        self.problem = problem


@dataclass
class Table:
    """A table being read: ``rows`` in order (read as they are taken), the ``columns`` it has when
    its format says so up front (a header, a schema), else None; ``seen`` then gathers the keys
    of the rows read so far (JSON rows may each hold other keys)."""

    name: str
    rows: Iterator[Row]
    columns: tuple[str, ...] | None
    seen: set[str] = field(default_factory=set)
    close: Callable[[], None] = lambda: None

    def known_columns(self) -> tuple[str, ...]:
        """The columns it has: the header's or the schema's, else those of the rows read so far."""
        return self.columns if self.columns is not None else tuple(sorted(self.seen))


def format_of(path: str) -> str | None:
    """The format a file's extension stands for, or None."""
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


def open_table(path: Path, name: str, fmt: str) -> Table:
    """The rows of the data file at ``path`` in the format ``fmt`` (one of ``FORMATS``); ``name``
    is how messages refer to it. Raises :class:`TableError` when it cannot be read at all."""
    if fmt == "parquet":
        return _parquet(path, name)
    try:
        require_regular(os.stat(path).st_mode, "it")
        handle = open(path, "rb")  # noqa: SIM115 - closed by the table's reader, or below
    except OSError as exc:
        raise TableError(f"cannot read the file: {exc.strerror or exc}") from None
    except ValueError:  # a NUL in the path
        raise TableError("cannot read the file: not a usable path") from None
    try:
        require_regular(os.fstat(handle.fileno()).st_mode, "it")  # it may have been swapped since the look
        if fmt in ("csv", "tsv"):
            return _csv(handle, name, "," if fmt == "csv" else "\t")
        if fmt == "jsonl":
            table = Table(name, iter(()), None, close=handle.close)
            table.rows = _jsonl_rows(handle, table.seen)
            return table
        return _json(handle, name)
    except OSError as exc:
        handle.close()
        raise TableError(f"cannot read the file: {exc.strerror or exc}") from None
    except BaseException:
        handle.close()
        raise


# --- CSV and TSV ----------------------------------------------------------------------------


def _csv(handle: Any, name: str, delimiter: str) -> Table:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    # A cell may hold up to the csv module's 131,072 characters; a longer one stops the file (the
    # reader cannot go on after it), a sentence being at most 2,000.
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        text.close()
        raise _csv_problem(exc, 1) from None
    if header is None or not any(cell.strip() for cell in header):
        text.close()
        raise TableError("the file is empty; expected a header row naming the columns", 1 if header else None)
    columns = [cell.strip() for cell in header]
    first: dict[str, int] = {}
    for position, column in enumerate(columns, 1):
        if column and column in first:
            text.close()
            raise TableError(
                f"the header names the column {show_key(column)} twice (cells {first[column]} and {position})", 1
            )
        first[column] = position
    return Table(name, _csv_rows(reader, columns), tuple(c for c in columns if c), close=text.close)


def _csv_rows(reader: Any, columns: list[str]) -> Iterator[Row]:
    width = len(columns)
    named = [(index, column) for index, column in enumerate(columns) if column]
    number = 1
    while True:
        try:
            cells = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise _csv_problem(exc, number + 1) from None
        if cells is None:
            return
        number += 1  # a spreadsheet's row: one per record, however many lines its cells span
        if not any(cell.strip() for cell in cells):
            continue  # a blank row separates nothing from nothing
        if len(cells) > width:
            yield Row(number, {}, f"the row has {len(cells)} cells, the header {width}")
            continue
        if len(cells) < width:
            cells += [""] * (width - len(cells))  # cells left off at the end are empty, as a spreadsheet shows them
        yield Row(number, {column: cells[index] for index, column in named})


def _csv_problem(exc: Exception, row: int) -> TableError:
    if isinstance(exc, UnicodeDecodeError):
        return TableError("the file is not UTF-8 text: save it as CSV in UTF-8", row)
    # The csv module's words quote no cell ("field larger than field limit", "unexpected end of data").
    return TableError(f"not a CSV file: {shorten(str(exc), 100)}", row)


# --- JSON and JSON Lines --------------------------------------------------------------------


class _Object(dict):
    """A JSON object that repeated a key: JSON keeps the last silently, the plugin's files do not."""

    repeated: str = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    made = dict(pairs)
    if len(made) == len(pairs):
        return made
    seen: set[str] = set()
    repeated = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
    made = _Object(made)
    made.repeated = repeated
    return made


def _row(number: int, value: Any, seen: set[str]) -> Row:
    if not isinstance(value, dict):
        return Row(number, {}, f"a row must be a JSON object, found {kind_of(value)}")
    seen.update(value)
    if isinstance(value, _Object):
        return Row(number, {}, f"duplicate key {show_key(value.repeated)}: a key may appear only once in a row")
    return Row(number, value)


def _jsonl_rows(handle: Any, seen: set[str]) -> Iterator[Row]:
    try:
        for number, line in enumerate(handle, 1):
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            line = line.rstrip(b"\r\n")  # a character is then at its column of the line
            if not line.strip():
                continue
            try:
                value = json.loads(line, object_pairs_hook=_object)
            except UnicodeDecodeError:
                yield Row(number, {}, "the line is not UTF-8 text")
                continue
            except ValueError as exc:  # JSONDecodeError: its words quote nothing of the line
                yield Row(number, {}, f"the line is not JSON: {_json_error(exc)}")
                continue
            except RecursionError:
                yield Row(number, {}, "the line is not JSON this reader can read: nested too deeply")
                continue
            yield _row(number, value, seen)
    finally:
        handle.close()


def _json(handle: Any, name: str) -> Table:
    with handle:
        data = handle.read()
    try:
        document = json.loads(data, object_pairs_hook=_object)
    except UnicodeDecodeError:
        raise TableError("the file is not UTF-8 text") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise TableError(f"not a JSON file: {_json_error(exc)}", line) from None
    except RecursionError:
        raise TableError("not a JSON file this reader can read: nested too deeply") from None
    if not isinstance(document, list):
        raise TableError(f"expected a list of objects (one per row) at the top, found {kind_of(document)}")
    table = Table(name, iter(()), None)
    table.rows = (_row(number, value, table.seen) for number, value in enumerate(document, 1))
    return table


def _json_error(exc: ValueError) -> str:
    message = getattr(exc, "msg", None) or "invalid JSON"
    column = getattr(exc, "colno", None)
    return f"{shorten(message, 80)}" + (f" (character {column} of the line)" if column else "")


# --- Parquet and Hugging Face datasets ---------------------------------------------------------


def _parquet(path: Path, name: str) -> Table:
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise TableError(EXTRAS["parquet"]) from None
    try:
        require_regular(os.stat(path).st_mode, "it")
        handle = open(path, "rb")  # noqa: SIM115 - closed by the table
    except OSError as exc:
        raise TableError(f"cannot read the file: {exc.strerror or exc}") from None
    except ValueError:
        raise TableError("cannot read the file: not a usable path") from None
    try:
        require_regular(os.fstat(handle.fileno()).st_mode, "it")
        source = parquet.ParquetFile(handle)
        columns = tuple(source.schema_arrow.names)
    except OSError as exc:
        handle.close()
        raise TableError(f"cannot read the file: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow's ArrowInvalid and kin: not a Parquet file
        handle.close()
        raise TableError(f"not a Parquet file pyarrow can read ({type(exc).__name__})") from None
    return Table(name, _batched(source.iter_batches(batch_size=BATCH_ROWS), handle.close), columns, close=handle.close)


def _batched(batches: Any, close: Callable[[], None]) -> Iterator[Row]:
    number = 0
    try:
        for batch in batches:
            for cells in batch.to_pylist():
                number += 1
                yield Row(number, cells)
    except Exception as exc:  # noqa: BLE001 - a damaged page deep in the file
        raise TableError(f"the rest of the file cannot be read ({type(exc).__name__})", number + 1) from None
    finally:
        close()


def open_dataset(source: str, name: str, config: str | None, split: str | None) -> Table:
    """The rows of the Hugging Face dataset ``source`` (a name on the Hub, or a local folder), as
    ``datasets.load_dataset(source, config, split=split)`` gives them; without ``split``, its only
    split. ``name`` is how messages refer to it."""
    try:
        import datasets
    except ImportError:
        raise TableError(EXTRAS["dataset"]) from None
    quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # a progress bar per split on the terminal of a collection
    try:
        loaded = datasets.load_dataset(source, config, split=split)
    except Exception as exc:  # noqa: BLE001 - offline, unknown name, config or split: its own words say which
        raise TableError(f"cannot load the dataset: {shorten(str(exc) or type(exc).__name__, 300)}") from None
    finally:
        if not quiet:
            datasets.enable_progress_bars()
    if isinstance(loaded, dict):  # a DatasetDict: no split was named
        if len(loaded) != 1:
            splits = ", ".join(repr(s) for s in loaded) or "none"
            raise TableError(f"the dataset has the splits {splits}: name one with 'split'")
        loaded = next(iter(loaded.values()))
    columns = tuple(loaded.column_names)
    return Table(name, _dataset_rows(loaded, columns), columns)


def _dataset_rows(dataset: Any, columns: tuple[str, ...]) -> Iterator[Row]:
    number = 0
    for batch in dataset.iter(batch_size=BATCH_ROWS):
        for values in zip(*(batch[column] for column in columns), strict=True):
            number += 1
            yield Row(number, dict(zip(columns, values, strict=True)))
