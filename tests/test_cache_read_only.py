"""A response cache that may be read but not written: a folder CI restored read-only, a read-only
file, a read-only file system. Its answers are still good: read and replay modes answer from it,
readwrite mode reads it and warns once, and nothing is ever moved aside or bought again.

The folder or file is made read-only for real (the ``read_only`` fixture of the root conftest: a
read-only bind mount when the tests run as root, as CI does, where permission bits do not bind).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import warnings
from contextlib import closing
from pathlib import Path

import pytest

from pytest_moralpairs.cache import CachedAnswer, CacheWarning, ResponseCache
from tests.openai_server import OpenAIServer
from tests.test_cache_plugin import numbered_pairs, rule, run, write_pairs

ANSWER = CachedAnswer(text="-3", model="openai/m")


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.answers = rule
    return openai_server


def rows(path: Path) -> int:
    """Answers in a cache file that lies in a read-only folder (SQLite's immutable open)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as db:
        return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])


def record(pytester: pytest.Pytester, server, count: int = 2) -> Path:
    """A run that records ``count`` pairs in the cache folder ``cache``; returns the folder."""
    write_pairs(pytester, *numbered_pairs(count))
    run(pytester, server, "--moral-cache-dir", "cache").assert_outcomes(passed=count)
    assert len(server.requests) == 2 * count
    server.reset()
    return pytester.path / "cache"


@pytest.mark.parametrize("mode", [["--moral-replay"], ["--moral-cache", "read"]], ids=["replay", "read"])
def test_a_read_only_cache_folder_answers_every_pair_without_a_call(pytester, server, read_only, mode):
    folder = read_only(record(pytester, server))

    result = run(pytester, server, "--moral-cache-dir", "cache", *mode)

    result.assert_outcomes(passed=2, warnings=0)
    result.stdout.fnmatch_lines(["*; 0 model calls, 4 answers from the cache*"])
    assert server.count == 0
    assert sorted(p.name for p in folder.iterdir()) == ["responses.sqlite3"]


def test_readwrite_reads_a_read_only_cache_folder_warns_once_and_calls_only_for_new_pairs(pytester, server, read_only):
    folder = read_only(record(pytester, server, count=2))
    write_pairs(pytester, *numbered_pairs(3))  # one pair more than was recorded

    result = run(pytester, server, "--moral-cache-dir", "cache")

    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*CacheWarning: the response cache cache*responses.sqlite3 cannot be written*its answers are read, "
            "new answers are not kept*"
        ]
    )
    assert sorted(server.sentences) == ["harm 2", "help 2"]
    assert rows(folder / "responses.sqlite3") == 4


def test_a_read_only_cache_file_in_a_writable_folder_is_read_and_never_moved_aside(pytester, server, read_only):
    folder = record(pytester, server)
    read_only(folder / "responses.sqlite3")

    result = run(pytester, server, "--moral-cache-dir", "cache")

    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(["*CacheWarning: the response cache *cannot be written*"])
    result.stdout.no_fnmatch_line("*unusable*")
    assert server.count == 0
    assert not list(folder.glob("*unusable*"))


def test_answers_still_in_the_wal_file_of_a_killed_writer_are_replayed_from_a_read_only_folder(
    pytester, server, read_only, tmp_path
):
    # A writer killed before it closed the cache leaves answers in responses.sqlite3-wal only.
    write_pairs(pytester, *numbered_pairs(2))
    run(pytester, server, "--moral-cache-dir", "cache").assert_outcomes(passed=2)
    server.reset()
    folder = pytester.path / "cache"
    script = (
        "import os, sqlite3\n"
        f"db = sqlite3.connect({str(folder / 'responses.sqlite3')!r})\n"
        "db.execute('PRAGMA wal_autocheckpoint = 0')\n"
        'db.execute("UPDATE answers SET created = created + 1")\n'
        "db.commit()\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    assert (folder / "responses.sqlite3-wal").stat().st_size > 0
    read_only(folder)

    result = run(pytester, server, "--moral-cache-dir", "cache", "--moral-replay")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*; 0 model calls, 4 answers from the cache*"])
    assert server.count == 0


# --- the core, without pytest -------------------------------------------------------------------


def test_the_core_reads_a_read_only_cache_in_every_mode(tmp_path, read_only):
    folder = tmp_path / "cache"
    folder.mkdir()
    writer = ResponseCache(folder / "responses.sqlite3")
    writer.put("k", ANSWER)
    writer.close()
    read_only(folder)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reader = ResponseCache(folder / "responses.sqlite3", mode="read")
        assert reader.get("k") == ANSWER and not reader.writable
    with pytest.warns(CacheWarning, match="cannot be written") as caught:
        cache = ResponseCache(folder / "responses.sqlite3")
        cache.put("new", ANSWER)  # not kept, and no second warning
    assert len(caught) == 1
    assert cache.get("k") == ANSWER and cache.get("new") is None and not cache.writable
    reader.close()
    cache.close()


def test_a_damaged_cache_is_still_moved_aside(tmp_path):
    path = tmp_path / "responses.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.warns(CacheWarning, match="unusable"):
        cache = ResponseCache(path)
    assert cache.writable and list(tmp_path.glob("*unusable*"))
    cache.close()
