"""Specifications of the on-disk response store (pytest-free core)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from pytest_moralpairs.cache import CachedAnswer, CacheWarning, ResponseCache

ANSWER = CachedAnswer(text="-3", model="openai/m", prompt_tokens=120, completion_tokens=1, cost=0.0002)


def test_an_answer_put_is_read_back_by_a_new_cache_on_the_same_file(tmp_path):
    ResponseCache(tmp_path / "c.sqlite3").put("k", ANSWER)
    assert ResponseCache(tmp_path / "c.sqlite3").get("k") == ANSWER


def test_a_missing_key_is_a_miss_and_counted(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite3")
    assert cache.get("nope") is None
    assert (cache.hits, cache.misses) == (0, 1)


def test_read_mode_reads_but_never_writes(tmp_path):
    path = tmp_path / "c.sqlite3"
    ResponseCache(path).put("old", ANSWER)
    reader = ResponseCache(path, mode="read")
    reader.put("new", ANSWER)
    assert reader.get("old") == ANSWER
    assert ResponseCache(path).get("new") is None


def test_read_mode_without_a_file_creates_nothing(tmp_path):
    cache = ResponseCache(tmp_path / "absent.sqlite3", mode="read")
    assert cache.get("k") is None and not (tmp_path / "absent.sqlite3").exists()


def test_off_mode_neither_reads_nor_writes(tmp_path):
    path = tmp_path / "c.sqlite3"
    ResponseCache(path).put("k", ANSWER)
    off = ResponseCache(path, mode="off")
    off.put("x", ANSWER)
    assert off.get("k") is None and ResponseCache(path).get("x") is None


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="readwrite, read, off"):
        ResponseCache(None, mode="sometimes")


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["text", "truncated-sqlite"],
)
def test_a_corrupt_file_is_moved_aside_with_a_warning_and_a_fresh_cache_starts(tmp_path, content):
    path = tmp_path / "c.sqlite3"
    path.write_bytes(content)
    with pytest.warns(CacheWarning, match="unusable"):
        cache = ResponseCache(path)
    cache.put("k", ANSWER)
    assert cache.get("k") == ANSWER
    assert [p.name for p in tmp_path.iterdir() if "unusable" in p.name]


def test_a_foreign_sqlite_database_is_not_touched_but_moved_aside(tmp_path):
    path = tmp_path / "c.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE answers (id INTEGER)")
    db.commit()
    db.close()
    with pytest.warns(CacheWarning, match="not a pytest-moralpairs cache"):
        ResponseCache(path).put("k", ANSWER)
    aside = next(p for p in tmp_path.iterdir() if "unusable" in p.name and p.suffix != "-wal")
    assert sqlite3.connect(aside).execute("SELECT name FROM sqlite_master").fetchall() == [("answers",)]


def test_every_put_is_durable_even_if_the_process_is_killed(tmp_path):
    path = tmp_path / "c.sqlite3"
    script = (
        f"import os, sys; sys.path[:0] = {sys.path!r}\n"
        "from pytest_moralpairs.cache import ResponseCache, CachedAnswer\n"
        f"c = ResponseCache({str(path)!r})\n"
        "for i in range(50): c.put(f'k{i}', CachedAnswer(text='-3'))\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert done.returncode == -9
    assert len(ResponseCache(path)) == 50


def test_two_processes_can_write_the_same_file(tmp_path):
    path = tmp_path / "c.sqlite3"
    script = (
        "import sys; sys.path[:0] = %r\n"
        "from pytest_moralpairs.cache import ResponseCache, CachedAnswer\n"
        "c = ResponseCache(%r)\n"
        "for i in range(200): c.put(sys.argv[1] + str(i), CachedAnswer(text='1'))\n"
    ) % (sys.path, str(path))
    procs = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("a", "b")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert len(ResponseCache(path)) == 400


def test_nothing_but_the_answer_and_its_cost_is_stored(tmp_path):
    path = tmp_path / "c.sqlite3"
    ResponseCache(path).put("k", ANSWER)
    columns = [row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(answers)")]
    assert columns == ["key", "text", "model", "prompt_tokens", "completion_tokens", "cost", "extra", "created"]


def test_no_warning_for_a_healthy_cache(tmp_path):
    ResponseCache(tmp_path / "c.sqlite3").put("k", ANSWER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ResponseCache(tmp_path / "c.sqlite3").get("k") == ANSWER


def test_a_cache_dir_that_does_not_exist_yet_is_created(tmp_path):
    cache = ResponseCache(tmp_path / "deep" / "er" / "c.sqlite3")
    cache.put("k", ANSWER)
    assert Path(tmp_path / "deep" / "er" / "c.sqlite3").exists()


def test_a_folder_that_cannot_be_made_means_a_run_without_a_cache_and_a_warning(tmp_path):
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.warns(CacheWarning, match="cannot make the folder of the response cache .*; running without it"):
        cache = ResponseCache(tmp_path / "taken" / "cache" / "responses.sqlite3")
    assert not cache.enabled
    assert cache.get("anything") is None


def test_a_folder_that_takes_no_new_file_means_a_run_without_a_cache_and_a_warning(tmp_path, monkeypatch):
    # A read-only folder (root ignores permissions, so sqlite's own refusal is stood in for).
    import sqlite3

    from pytest_moralpairs import cache as cache_module

    def refuse(self):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(cache_module.ResponseCache, "_connect", refuse)
    with pytest.warns(CacheWarning, match="cannot create the response cache .*unable to open database file"):
        cache = ResponseCache(tmp_path / "responses.sqlite3")
    assert not cache.enabled
