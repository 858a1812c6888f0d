"""Specification of pair files that draw their pairs from data files (``source:``): the tables
(``pytest_moralpairs.tables``), the presets that pair their rows (``pytest_moralpairs.presets``),
and what a run makes of them: one item per pair, one erroring item per row that holds no usable
pair, naming ``file:row:column``, while the other rows run.

Every table is written by the test itself; the rows shaped like Moral Stories and MoralExceptQA are
invented in their published columns, and no test reaches a network (Hugging Face datasets are
loaded from local folders, offline).
"""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_moralpairs.pairs import PairFileError, load_suite
from pytest_moralpairs.presets import EXCEPT_QA_SOURCE, sampled
from pytest_moralpairs.tables import EXTRAS, TableError, open_table

LEXICAL = "--moral-model=moralpairs/lexical"

#: Invented stories in the columns of Moral Stories (its "full" configuration: both actions a row).
STORIES = [
    {
        "ID": "3A0EX8ZRNA1",
        "norm": "It is kind to help a neighbour.",
        "situation": "Dana's neighbour drops a bag of groceries on the stairs.",
        "intention": "Dana wants to get home quickly.",
        "moral_action": "Dana stops and picks up the groceries for her neighbour.",
        "moral_consequence": "The neighbour thanks Dana.",
        "immoral_action": "Dana steps over the groceries and walks on.",
        "immoral_consequence": "The neighbour struggles alone.",
        "label": 1,
    },
    {
        "ID": "3B9KQ2LWMP7",
        "norm": "You should not read other people's letters.",
        "situation": "Omar finds a letter addressed to his sister.",
        "intention": "Omar is curious about who wrote to her.",
        "moral_action": "Omar hands the letter to his sister unopened.",
        "moral_consequence": "His sister trusts him.",
        "immoral_action": "Omar opens the letter and reads it.",
        "immoral_consequence": "His sister is upset.",
        "label": 1,
    },
]

#: Invented variants in the columns of MoralExceptQA: the share of people judging each permissible.
VARIANTS = [
    ("quiet.room", "phonecall", "chat", "In a quiet reading room, Sam takes a call to chat about the weekend.", 0.05),
    ("quiet.room", "phonecall", "fire", "In a quiet reading room, Sam takes a call warning of a fire next door.", 0.95),
    ("quiet.room", "phonecall", "doctor", "In a quiet reading room, Sam takes a call from his doctor.", 0.60),
    ("quiet.room", "music", "loud", "In a quiet reading room, Sam plays music from his phone.", 0.10),
    ("quiet.room", "music", "soft", "In a quiet reading room, Sam hums a tune very softly.", 0.20),
]
EXCEPT_COLUMNS = ("study", "context", "condition", "scenario", "human.response")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None, delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def variants(rows: list[tuple[Any, ...]] = VARIANTS) -> list[dict[str, Any]]:
    return [dict(zip(EXCEPT_COLUMNS, row, strict=True)) for row in rows]


def halves(stories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stories as the classification configurations give them: one row per action, the moral row's
    ID ending in 1 and the immoral row's in 0."""
    rows = []
    for story in stories:
        shared = {key: story[key] for key in ("norm", "situation", "intention")}
        rows.append({"ID": story["ID"] + "1", **shared, "moral_action": story["moral_action"], "label": 1})
        rows.append({"ID": story["ID"] + "0", **shared, "immoral_action": story["immoral_action"], "label": 0})
    return rows


def source_file(folder: Path, source: str, name: str = "table.moral.yaml") -> Path:
    return write(folder / name, source)


def outcomes(result: pytest.RunResult) -> tuple[int, int]:
    """(items rated and judged, passed or failed; items that errored)."""
    found = result.parseoutcomes()
    return found.get("passed", 0) + found.get("failed", 0), found.get("errors", found.get("error", 0))


def rated(result: pytest.RunResult) -> int:
    """How many items were rated and judged (passed or failed), none of them erroring."""
    outcomes = result.parseoutcomes()
    assert not outcomes.get("errors") and not outcomes.get("error"), "\n".join(result.outlines[-30:])
    return outcomes.get("passed", 0) + outcomes.get("failed", 0)


GOOD_ROWS = [
    {"id": "lake", "harmful": "Person X pushed the child into the lake.", "harmless": "Person X pulled the child out."},
    {"id": "dog", "harmful": "Person X kicked the dog.", "harmless": "Person X fed the dog."},
]


# --- tables: rows numbered as messages name them ------------------------------------------------


def rows_of(path: Path, fmt: str) -> list[tuple[int, dict[str, Any], str | None]]:
    table = open_table(path, path.name, fmt)
    try:
        return [(row.number, row.cells, row.problem) for row in table.rows]
    finally:
        table.close()


def test_csv_rows_are_numbered_as_a_spreadsheet_does_and_hold_text(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", 'id,harmful,n\na,"one,\nline two",3\n\nb,x,\n')
    assert rows_of(path, "csv") == [
        (2, {"id": "a", "harmful": "one,\nline two", "n": "3"}, None),
        (4, {"id": "b", "harmful": "x", "n": ""}, None),
    ]


def test_tsv_is_csv_with_tabs(tmp_path: Path) -> None:
    path = write(tmp_path / "t.tsv", "id\tharmful\na\tone, two\n")
    assert rows_of(path, "tsv") == [(2, {"id": "a", "harmful": "one, two"}, None)]


def test_a_csv_row_wider_than_its_header_is_its_own_problem_and_a_shorter_one_has_empty_cells(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "t.csv", "a,b\n1,2,3\n4\n")
    assert rows_of(path, "csv") == [(2, {}, "the row has 3 cells, the header 2"), (3, {"a": "4", "b": ""}, None)]


def test_a_csv_file_that_is_not_utf8_stops_the_table_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n\xff\xfe,3\n")
    with pytest.raises(TableError, match="not UTF-8 text"):
        rows_of(path, "csv")


def test_a_csv_header_naming_a_column_twice_stops_the_table(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="the column 'a' twice"):
        rows_of(write(tmp_path / "t.csv", "a,b,a\n1,2,3\n"), "csv")


def test_json_lines_are_numbered_by_line_and_a_bad_line_is_a_problem_of_its_row_only(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", '{"a": 1}\n\n{"a": \n[1, 2]\n{"a": 2, "a": 3}\n{"a": "x"}\n')
    assert rows_of(path, "jsonl") == [
        (1, {"a": 1}, None),
        (3, {}, "the line is not JSON: Expecting value (character 7 of the line)"),
        (4, {}, "a row must be a JSON object, found a list of 2 items"),
        (5, {}, "duplicate key 'a': a key may appear only once in a row"),
        (6, {"a": "x"}, None),
    ]


def test_a_json_file_is_a_list_of_rows_numbered_from_one(tmp_path: Path) -> None:
    path = write(tmp_path / "t.json", '[{"a": 1}, "x", {"a": null}]')
    assert rows_of(path, "json") == [
        (1, {"a": 1}, None),
        (2, {}, "a row must be a JSON object, found a string"),
        (3, {"a": None}, None),
    ]
    with pytest.raises(TableError, match="expected a list of objects"):
        rows_of(write(tmp_path / "m.json", '{"rows": []}'), "json")


def test_parquet_rows_keep_their_types(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist([{"a": "x", "n": 1.5}, {"a": None, "n": 2.0}]), path)
    assert rows_of(path, "parquet") == [(1, {"a": "x", "n": 1.5}, None), (2, {"a": None, "n": 2.0}, None)]
    with pytest.raises(TableError, match="not a Parquet file"):
        rows_of(write(tmp_path / "x.parquet", "a,b\n"), "parquet")


@pytest.mark.parametrize(("module", "fmt", "extra"), [("pyarrow", "parquet", "parquet"), ("datasets", "dataset", "hf")])
def test_a_missing_optional_library_is_named_with_the_extra_that_installs_it(
    module: str, fmt: str, extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    if fmt == "parquet":
        monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    write(tmp_path / "t.parquet", "x")
    source = (
        "source: {path: t.parquet}\n" if fmt == "parquet" else "source: {dataset: someone/something, split: test}\n"
    )
    with pytest.raises(PairFileError) as caught:
        load_suite(source_file(tmp_path, source))
    assert f"pip install 'pytest-moralpairs[{extra}]'" in str(caught.value)
    assert EXTRAS[fmt] in str(caught.value)


# --- a pair file with a source: one item per pair, one erroring item per bad row ------------------


def test_each_row_of_a_csv_is_a_pair_item_rated_as_a_pair_written_in_yaml(pytester: pytest.Pytester) -> None:
    write_csv(pytester.path / "moral" / "pairs.csv", GOOD_ROWS)
    source_file(pytester.path / "moral", "source: {path: pairs.csv}\n")
    result = pytester.runpytest("moral", LEXICAL, "-v")
    assert rated(result) == 2
    result.stdout.fnmatch_lines(["*moral/table.moral.yaml::lake *", "*moral/table.moral.yaml::dog *"])


def test_a_bad_row_is_an_error_of_its_own_naming_file_row_and_column_while_the_other_rows_run(
    pytester: pytest.Pytester,
) -> None:
    rows = [
        *GOOD_ROWS,
        {"id": "blank", "harmful": "Person X hit the man.", "harmless": "   "},
        {"id": "same", "harmful": "Person X hugged the man.", "harmless": "Person X hugged the man."},
        {"id": "breaks", "harmful": "Person X lied.\nRating: 4", "harmless": "Person X told the truth."},
    ]
    write_csv(pytester.path / "moral" / "pairs.csv", rows)
    source_file(pytester.path / "moral", "source: {path: pairs.csv}\n")
    result = pytester.runpytest("moral", LEXICAL)
    assert outcomes(result) == (2, 3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of row 4 of moral/pairs.csv*",
            "moral/pairs.csv:4:harmless pair blank: 'harmless' is empty",
            "*ERROR at setup of row 5 of moral/pairs.csv*",
            "moral/pairs.csv:5:harmless pair same: 'harmful' and 'harmless' are the same sentence: *",
            "*ERROR at setup of row 6 of moral/pairs.csv*",
            "moral/pairs.csv:6:harmful pair breaks: 'harmful' has a line break at position 15, *",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_thousands_of_rows_with_three_bad_ones_stop_only_those_three(pytester: pytest.Pytester) -> None:
    rows = [
        {"harmful": f"Person X kicked dog number {n}.", "harmless": f"Person X fed dog number {n}."}
        for n in range(2000)
    ]
    for bad in (10, 1000, 1999):
        rows[bad]["harmless"] = ""
    write_csv(pytester.path / "moral" / "pairs.csv", rows)
    source_file(pytester.path / "moral", "source: {path: pairs.csv}\n")
    result = pytester.runpytest("moral", "--co", "-q")
    assert result.ret == 0
    collected = [line for line in result.outlines if "::" in line]
    assert len(collected) == 2000
    assert "moral/table.moral.yaml::row-12" in collected  # its own item, whose setup will error
    chosen = [f"moral/table.moral.yaml::row-{row}" for row in (12, 13, 1002)]
    assert outcomes(pytester.runpytest(*chosen, LEXICAL, "-q")) == (1, 2)


def test_without_an_id_column_a_pair_is_named_by_its_row(pytester: pytest.Pytester) -> None:
    write_csv(pytester.path / "moral" / "pairs.csv", [{k: v for k, v in r.items() if k != "id"} for r in GOOD_ROWS])
    source_file(pytester.path / "moral", "source: {path: pairs.csv}\n")
    result = pytester.runpytest("moral", "--co", "-q")
    result.stdout.fnmatch_lines(["moral/table.moral.yaml::row-2", "moral/table.moral.yaml::row-3"])


def test_an_id_used_twice_is_an_error_of_the_later_row_named_by_its_row(pytester: pytest.Pytester) -> None:
    write_csv(pytester.path / "moral" / "pairs.csv", [*GOOD_ROWS, {**GOOD_ROWS[1], "harmless": "Person X petted it."}])
    source_file(pytester.path / "moral", "source: {path: pairs.csv}\n")
    result = pytester.runpytest("moral", LEXICAL, "-rE")
    assert outcomes(result) == (2, 1)
    result.stdout.fnmatch_lines(
        ["moral/pairs.csv:4:id pair dog: duplicate id: ids must be unique in a file (first used in row 3)"]
    )
    assert "moral/table.moral.yaml::row-4" in result.stdout.str()


def test_pairs_listed_in_yaml_and_drawn_from_a_table_share_their_ids(tmp_path: Path) -> None:
    write_csv(tmp_path / "pairs.csv", GOOD_ROWS)
    path = source_file(
        tmp_path,
        """
        source: {path: pairs.csv}
        pairs:
          - {id: dog, harmful: Person X hit the cat., harmless: Person X fed the cat.}
        """,
    )
    suite = load_suite(path)
    assert [pair.id for pair in suite.pairs] == ["dog", "lake"]
    (broken,) = suite.broken
    assert (broken.name, broken.row) == ("row-3", 3)
    assert str(broken) == f"{tmp_path / 'pairs.csv'}:3:id pair dog: duplicate id: ids must be unique in a file " + (
        f"(first used on line 3 of {path})"
    )


def test_columns_name_where_each_field_is_and_context_columns_go_before_both_sentences(tmp_path: Path) -> None:
    rows = [
        {
            "key": "k1",
            "where": "At the lake,",
            "who": "Person X",
            "bad": "pushed the child in.",
            "good": "pulled it out.",
        }
    ]
    write_csv(tmp_path / "pairs.csv", rows)
    path = source_file(
        tmp_path,
        "source:\n  path: pairs.csv\n  columns: {id: key, harmful: bad, harmless: good, context: [where, who]}\n",
    )
    (pair,) = load_suite(path).pairs
    assert (pair.id, pair.harmful, pair.harmless) == (
        "k1",
        "At the lake, Person X pushed the child in.",
        "At the lake, Person X pulled it out.",
    )


def test_human_tags_threshold_and_note_columns_give_a_pair_what_yaml_would(tmp_path: Path) -> None:
    row = {**GOOD_ROWS[0], "human_harmful": "\u22123.5", "human_harmless": "2", "tags": "lake, rescue"}
    write_csv(tmp_path / "pairs.csv", [{**row, "threshold": "1.5", "note": "a rescue"}])
    path = source_file(tmp_path, "defaults: {tags: [table]}\nsource: {path: pairs.csv}\n")
    (pair,) = load_suite(path).pairs
    assert (pair.human_harmful.mean, pair.human_harmless.mean) == (-3.5, 2.0)  # type: ignore[union-attr]
    assert (pair.tags, pair.threshold, pair.note) == (("table", "lake", "rescue"), 1.5, "a rescue")


def test_a_json_lines_file_keeps_its_types_and_a_numeric_id_is_its_digits(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "pairs.jsonl", [{**GOOD_ROWS[0], "id": 7, "threshold": 1, "tags": ["a", "b"]}])
    (pair,) = load_suite(source_file(tmp_path, "source: {path: pairs.jsonl}\n")).pairs
    assert (pair.id, pair.threshold, pair.tags) == ("7", 1.0, ("a", "b"))


def test_a_value_of_the_wrong_type_is_named_at_its_cell(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "pairs.jsonl", [{**GOOD_ROWS[0], "threshold": "high"}, {"harmful": 3, "harmless": "x"}])
    suite = load_suite(source_file(tmp_path, "source: {path: pairs.jsonl}\n"))
    assert [str(b).replace(str(tmp_path) + "/", "") for b in suite.broken] == [
        "pairs.jsonl:1:threshold pair lake: 'threshold' must be a number, found a string ('high')",
        "pairs.jsonl:2:harmful pair row-2: 'harmful' must be a sentence (text), found a number (3)",
    ]


def test_a_line_that_cannot_be_read_is_an_error_of_its_row(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pairs.jsonl", GOOD_ROWS)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "cut", "harmful": "Person X\n')
    suite = load_suite(source_file(tmp_path, "source: {path: pairs.jsonl}\n"))
    assert [p.id for p in suite.pairs] == ["lake", "dog"]
    assert [(b.name, str(b).replace(str(tmp_path) + "/", "")) for b in suite.broken] == [
        ("row-3", "pairs.jsonl:3: the line is not JSON: Unterminated string starting at (character 26 of the line)")
    ]


def test_a_table_without_rows_draws_no_pair_and_says_so(tmp_path: Path) -> None:
    write(tmp_path / "pairs.csv", "id,harmful,harmless\n")
    with pytest.raises(PairFileError, match="'source' draws no pair from .*pairs.csv: it has no rows"):
        load_suite(source_file(tmp_path, "source: {path: pairs.csv}\n"))
    write_csv(tmp_path / "except.csv", variants(VARIANTS[3:]))
    with pytest.raises(PairFileError, match="no two variants of one study and context differ by min_difference"):
        load_suite(source_file(tmp_path, "source: {path: except.csv, preset: moralexceptqa}\n"))


def test_a_long_cell_is_never_echoed_whole(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "pairs.jsonl", [{"harmful": "x" * 100_000, "harmless": "y", "tags": "z" * 100_000}])
    (broken,) = load_suite(source_file(tmp_path, "source: {path: pairs.jsonl}\n")).broken
    assert "x" * 100 not in str(broken) and "z" * 100 not in str(broken) and len(str(broken)) < 1000


# --- problems of the source itself: one collection error, as a broken YAML file is -----------------

SOURCE_PROBLEMS = {
    "missing file": ("source: {path: nowhere.csv}\n", "nowhere.csv: cannot read the file: No such file"),
    "unknown column": (
        "source: {path: pairs.csv, columns: {harmful: harmfull}}\n",
        "'source.columns.harmful' names the column 'harmfull', which * does not have (did you mean 'harmful'?); "
        "its columns: 'id', 'harmful', 'harmless'",
    ),
    "unknown field": ("source: {path: pairs.csv, columns: {harmles: x}}\n", "'harmles': did you mean 'harmless'?"),
    "unknown preset": ("source: {path: pairs.csv, preset: moral_story}\n", "did you mean 'moral_stories'?"),
    "unknown option": (
        "source: {path: pairs.csv, preset: {name: moral_stories, min_difference: 0.1}}\n",
        "unknown key(s) 'min_difference' in 'source.preset'",
    ),
    "no format": ("source: {path: pairs.txt}\n", "does not say its format by its extension"),
    "bad format": ("source: {path: pairs.csv, format: xlsx}\n", "'source.format' must be one of csv, tsv, json"),
    "both path and dataset": ("source: {path: pairs.csv, dataset: x/y}\n", "not both"),
    "neither": ("source: {limit: 3}\n", "'source' needs 'path'"),
    "sample and limit": ("source: {path: pairs.csv, limit: 1, sample: {n: 1}}\n", "not both"),
    "sample without n": ("source: {path: pairs.csv, sample: {seed: 1}}\n", "'source.sample' needs 'n'"),
    "limit of zero": ("source: {path: pairs.csv, limit: 0}\n", "'source.limit' must be a whole number >= 1"),
    "split of a file": ("source: {path: pairs.csv, split: test}\n", "'source.split' is a Hugging Face dataset's"),
    "not a mapping": ("source: pairs.csv\n", "'source' must be a mapping with 'path'"),
}


@pytest.mark.parametrize("case", SOURCE_PROBLEMS, ids=SOURCE_PROBLEMS)
def test_a_problem_of_the_source_is_a_problem_of_the_pair_file(case: str, tmp_path: Path) -> None:
    text, says = SOURCE_PROBLEMS[case]
    write_csv(tmp_path / "pairs.csv", GOOD_ROWS)
    with pytest.raises(PairFileError) as caught:
        load_suite(source_file(tmp_path, text))
    assert any(fnmatch_in(says, str(problem)) for problem in caught.value.problems), str(caught.value)


def fnmatch_in(pattern: str, text: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(text, f"*{pattern}*")


def test_a_source_file_without_a_needed_column_says_how_to_name_it(tmp_path: Path) -> None:
    write_csv(tmp_path / "pairs.csv", [{"bad": "x", "good": "y"}])
    with pytest.raises(PairFileError) as caught:
        load_suite(source_file(tmp_path, "source: {path: pairs.csv}\n"))
    assert "pairs.csv has no column 'harmful', which a source reads; its columns: 'bad', 'good': name the column " in (
        str(caught.value)
    )
    assert "in 'source.columns' (harmful: COLUMN)" in str(caught.value)


def test_a_json_lines_column_no_row_has_is_one_problem_of_the_file_not_one_per_row(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "pairs.jsonl", [{"harmful": "a", "harmless": f"b{n}"} for n in range(50)])
    with pytest.raises(PairFileError) as caught:
        load_suite(source_file(tmp_path, "source: {path: pairs.jsonl, columns: {note: remark}}\n"))
    (problem,) = caught.value.problems
    assert "names the column 'remark', which" in problem.message


def test_a_broken_source_is_a_collection_error_and_the_other_files_run(pytester: pytest.Pytester) -> None:
    source_file(pytester.path / "moral", "source: {path: nowhere.csv}\n")
    write(
        pytester.path / "moral" / "ok.moral.yaml",
        "pairs:\n  - {id: p, harmful: Person X hit it., harmless: Person X fed it.}\n",
    )
    result = pytester.runpytest("moral", LEXICAL)
    result.assert_outcomes(errors=1, passed=0, failed=1)
    result.stdout.fnmatch_lines(["*moral/nowhere.csv: cannot read the file: No such file or directory*"])


def test_a_data_file_outside_the_rootdir_is_refused_unread_unless_its_directory_is_allowed(
    pytester: pytest.Pytester,
) -> None:
    outside = pytester.path.parent / f"{pytester.path.name}-data"
    write_csv(outside / "pairs.csv", GOOD_ROWS)
    pytester.makeini("[pytest]\n")
    source_file(pytester.path / "moral", f"source: {{path: ../../{outside.name}/pairs.csv}}\n")
    refused = pytester.runpytest("moral", "--co", "-q")
    refused.stdout.fnmatch_lines(["*'source.path' names the data file *pairs.csv, which is outside the rootdir*"])
    pytester.makeini(f"[pytest]\nmoral_allowed_dirs = ../{outside.name}\n")
    allowed = pytester.runpytest("moral", "--co", "-q")
    allowed.stdout.fnmatch_lines(["moral/table.moral.yaml::lake", "moral/table.moral.yaml::dog"])


# --- which rows: a sample, or the first ones ------------------------------------------------------


def numbered(count: int) -> list[dict[str, str]]:
    return [
        {"id": f"p{n}", "harmful": f"Person X hit dog {n}.", "harmless": f"Person X fed dog {n}."} for n in range(count)
    ]


def test_a_sample_draws_n_pairs_the_same_for_the_same_seed_in_file_order(tmp_path: Path) -> None:
    write_csv(tmp_path / "pairs.csv", numbered(100))
    one = [
        p.id for p in load_suite(source_file(tmp_path, "source: {path: pairs.csv, sample: {n: 5, seed: 1}}\n")).pairs
    ]
    again = [
        p.id for p in load_suite(source_file(tmp_path, "source: {path: pairs.csv, sample: {n: 5, seed: 1}}\n")).pairs
    ]
    other = [
        p.id for p in load_suite(source_file(tmp_path, "source: {path: pairs.csv, sample: {n: 5, seed: 2}}\n")).pairs
    ]
    assert one == again and one != other and len(set(one)) == 5
    assert one == sorted(one, key=lambda pair_id: int(pair_id[1:]))


def test_the_sample_of_a_seed_is_part_of_the_format_the_same_on_every_machine() -> None:
    # random.Random(seed).random() is the one sequence Python promises to keep across versions.
    assert list(sampled(range(100), 5, 1)) == [10, 13, 76, 77, 96]  # type: ignore[arg-type]
    assert list(sampled(range(3), 5, 1)) == [0, 1, 2]  # type: ignore[arg-type]


def test_a_limit_takes_the_first_pairs_and_reads_no_further(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pairs.jsonl", numbered(3))
    with path.open("a", encoding="utf-8") as handle:
        handle.write("not json at all\n")
    suite = load_suite(source_file(tmp_path, "source: {path: pairs.jsonl, limit: 2}\n"))
    assert ([p.id for p in suite.pairs], suite.broken) == (["p0", "p1"], ())


# --- presets ---------------------------------------------------------------------------------------


def test_a_moral_stories_file_of_whole_stories_gives_a_pair_a_story(pytester: pytest.Pytester) -> None:
    write_jsonl(pytester.path / "moral" / "data" / "moral_stories.jsonl", STORIES)
    source_file(pytester.path / "moral", "source: {preset: moral_stories, path: data/moral_stories.jsonl}\n")
    suite = load_suite(pytester.path / "moral" / "table.moral.yaml")
    first = suite.pairs[0]
    assert first.id == "3A0EX8ZRNA1"
    assert first.harmful == (
        "Dana's neighbour drops a bag of groceries on the stairs. Dana wants to get home quickly. "
        "Dana steps over the groceries and walks on."
    )
    assert first.harmless.endswith(
        "Dana wants to get home quickly. Dana stops and picks up the groceries for her neighbour."
    )
    result = pytester.runpytest("moral", LEXICAL, "-v")
    result.stdout.fnmatch_lines(["*table.moral.yaml::3A0EX8ZRNA1 *", "*table.moral.yaml::3B9KQ2LWMP7 *"])
    assert result.ret in (0, 1) and not result.parseoutcomes().get("errors")


def test_moral_stories_rows_of_one_action_each_are_paired_by_their_ids(tmp_path: Path) -> None:
    rows = halves(STORIES)
    rows[2], rows[3] = rows[3], rows[2]  # the immoral row first: order does not matter
    write_jsonl(tmp_path / "ms.jsonl", rows)
    suite = load_suite(source_file(tmp_path, "source: {preset: moral_stories, path: ms.jsonl}\n"))
    assert [(p.id, p.harmful.split(". ")[-1]) for p in suite.pairs] == [
        ("3A0EX8ZRNA1", "Dana steps over the groceries and walks on."),
        ("3B9KQ2LWMP7", "Omar opens the letter and reads it."),
    ]
    assert suite.broken == ()


def test_moral_stories_rows_sharing_an_id_or_without_ids_but_one_story_are_paired(tmp_path: Path) -> None:
    same_id = [{**row, "ID": row["ID"][:-1]} for row in halves(STORIES[:1])]
    no_id = [{k: v for k, v in row.items() if k != "ID"} for row in halves(STORIES[1:])]
    write_jsonl(tmp_path / "ms.jsonl", same_id + no_id)
    suite = load_suite(source_file(tmp_path, "source: {preset: moral_stories, path: ms.jsonl}\n"))
    assert [p.id for p in suite.pairs] == ["3A0EX8ZRNA1", "row-3"]


def test_a_moral_stories_row_without_its_other_half_is_an_error_of_its_own(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "ms.jsonl", halves(STORIES)[:3])
    suite = load_suite(source_file(tmp_path, "source: {preset: moral_stories, path: ms.jsonl}\n"))
    assert [p.id for p in suite.pairs] == ["3A0EX8ZRNA1"]
    (broken,) = suite.broken
    assert str(broken).startswith(
        f"{tmp_path / 'ms.jsonl'}:3:immoral_action pair 3B9KQ2LWMP71: the row holds only the moral action"
    )
    assert broken.name == "3B9KQ2LWMP71"


def test_a_moralexceptqa_file_pairs_variants_whose_shares_differ_enough(pytester: pytest.Pytester) -> None:
    write_csv(pytester.path / "moral" / "except.csv", variants())
    source_file(pytester.path / "moral", "source: {preset: moralexceptqa, path: except.csv}\n")
    suite = load_suite(pytester.path / "moral" / "table.moral.yaml")
    assert [p.id for p in suite.pairs] == [
        "quiet.room.phonecall.chat-vs-fire",
        "quiet.room.phonecall.chat-vs-doctor",
        "quiet.room.phonecall.doctor-vs-fire",
    ]  # music: 0.10 and 0.20 differ by less than 0.25
    chat_fire = suite.pairs[0]
    assert chat_fire.harmful.startswith("In a quiet reading room, Sam takes a call to chat")
    assert chat_fire.human_harmful.mean == pytest.approx(8 * 0.05 - 4)  # type: ignore[union-attr]
    assert chat_fire.human_harmless.mean == pytest.approx(8 * 0.95 - 4)  # type: ignore[union-attr]
    assert chat_fire.human_harmful.source == EXCEPT_QA_SOURCE  # type: ignore[union-attr]
    result = pytester.runpytest("moral", LEXICAL)
    result.stdout.fnmatch_lines(["human alignment, moral/table.moral.yaml: * sentences with human ratings; *"])


def test_moralexceptqa_min_difference_sets_how_far_apart_a_pairs_shares_must_be(tmp_path: Path) -> None:
    write_csv(tmp_path / "except.csv", variants())
    path = source_file(tmp_path, "source: {preset: {name: moralexceptqa, min_difference: 0.5}, path: except.csv}\n")
    assert [p.id for p in load_suite(path).pairs] == [
        "quiet.room.phonecall.chat-vs-fire",
        "quiet.room.phonecall.chat-vs-doctor",
    ]
    loose = source_file(tmp_path, "source: {preset: {name: moralexceptqa, min_difference: 0.1}, path: except.csv}\n")
    assert "quiet.room.music.loud-vs-soft" in [p.id for p in load_suite(loose).pairs]


def test_a_moralexceptqa_row_without_a_share_is_an_error_of_its_own(tmp_path: Path) -> None:
    rows = variants()
    rows[2]["human.response"] = "1.4"
    write_csv(tmp_path / "except.csv", rows)
    suite = load_suite(source_file(tmp_path, "source: {preset: moralexceptqa, path: except.csv}\n"))
    assert [p.id for p in suite.pairs] == ["quiet.room.phonecall.chat-vs-fire"]
    (broken,) = suite.broken
    assert broken.name == "row-4"
    assert "except.csv:4:human.response: 'human.response' must be a share in 0..1" in str(broken)


def test_a_preset_reads_renamed_columns(tmp_path: Path) -> None:
    rows = [{**row, "share": row.pop("human.response")} for row in variants()]
    write_jsonl(tmp_path / "except.jsonl", rows)
    path = source_file(
        tmp_path, "source: {preset: moralexceptqa, path: except.jsonl, columns: {human.response: share}}\n"
    )
    assert len(load_suite(path).pairs) == 3


@pytest.fixture(scope="module")
def table_libraries() -> None:
    """pyarrow and datasets, imported before any in-process run: pytester drops the modules a run
    imports, and a C extension cannot be initialised twice in one process."""
    pytest.importorskip("pyarrow.parquet")
    pytest.importorskip("datasets")


def test_a_parquet_file_runs_as_any_table(pytester: pytest.Pytester, table_libraries: None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (pytester.path / "moral").mkdir()
    pq.write_table(pa.Table.from_pylist(STORIES), pytester.path / "moral" / "ms.parquet")
    source_file(pytester.path / "moral", "source: {preset: moral_stories, path: ms.parquet}\n")
    result = pytester.runpytest("moral", LEXICAL)
    assert result.ret in (0, 1) and sum(result.parseoutcomes().get(k, 0) for k in ("passed", "failed")) == 2


def test_a_hugging_face_dataset_folder_is_loaded_offline_by_config_and_split(
    pytester: pytest.Pytester, table_libraries: None, no_internet: list[Any]
) -> None:
    write_jsonl(pytester.path / "moral" / "hf" / "test.jsonl", halves(STORIES))
    write_jsonl(pytester.path / "moral" / "hf" / "train.jsonl", halves(STORIES[:1]))
    source_file(pytester.path / "moral", "source: {preset: moral_stories, dataset: hf, split: test}\n")
    result = pytester.runpytest("moral", "--co", "-q")
    result.stdout.fnmatch_lines(["moral/table.moral.yaml::3A0EX8ZRNA1", "moral/table.moral.yaml::3B9KQ2LWMP7"])
    source_file(pytester.path / "moral", "source: {preset: moral_stories, dataset: hf}\n")
    result = pytester.runpytest("moral", "--co", "-q")
    result.stdout.fnmatch_lines(["moral/hf: the dataset has the splits *'test'*: name one with 'split'"])
    assert no_internet == []


def test_a_dataset_that_cannot_be_had_offline_is_a_problem_of_the_pair_file(
    tmp_path: Path, table_libraries: None, no_internet: list[Any]
) -> None:
    with pytest.raises(PairFileError, match=r"someone/nothing\[test\]: cannot load the dataset"):
        load_suite(source_file(tmp_path, "source: {dataset: someone/nothing, split: test}\n"))


# --- the JSON Schema describes the source as the parser reads it -------------------------------------


@pytest.fixture(scope="module")
def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("pytest_moralpairs").joinpath("schema/pairfile.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


SCHEMA_GOOD = [
    "source: {path: pairs.csv}",
    "source: {path: pairs.csv, format: csv, columns: {harmful: bad, context: [a, b]}, sample: {n: 3, seed: 1}}",
    "source: {dataset: demelin/moral_stories, config: full, split: train, preset: moral_stories, limit: 10}",
    "source: {path: x.csv, preset: {name: moralexceptqa, min_difference: 0.5}}",
    "source: {path: pairs.csv}\npairs: [{id: p, harmful: a, harmless: b}]",
]
SCHEMA_BAD = [
    "source: pairs.csv",
    "source: {path: pairs.csv, dataset: x}",
    "source: {limit: 3}",
    "source: {path: pairs.csv, sample: {n: 3}, limit: 2}",
    "source: {path: pairs.csv, preset: moral_story}",
    "source: {path: pairs.csv, limit: 0}",
    "source: {path: pairs.csv, colour: red}",
    "description: neither pairs nor source",
]


@pytest.mark.parametrize("text", SCHEMA_GOOD)
def test_sources_the_parser_accepts_the_schema_accepts(text: str, validator: Any) -> None:
    assert validator.is_valid(yaml.safe_load(text))


@pytest.mark.parametrize("text", SCHEMA_BAD)
def test_sources_the_parser_refuses_the_schema_refuses_too(text: str, validator: Any, tmp_path: Path) -> None:
    write_csv(tmp_path / "pairs.csv", GOOD_ROWS)
    with pytest.raises(PairFileError):
        load_suite(source_file(tmp_path, text + "\n"))
    assert not validator.is_valid(yaml.safe_load(text))
