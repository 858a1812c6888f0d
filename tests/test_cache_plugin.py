"""Specification of the response cache as a user meets it: through pytest runs.

Every test runs pytest on a pair file against the local OpenAI-compatible server
(:mod:`openai_server`) and looks at three things only: what reached the server, what pytest
printed, and what is in the cache file. Runs that must be separate processes (what a process
imports, ``kill -9``, Ctrl-C) are real subprocesses.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.openai_server import OpenAIServer, Reply

#: Every spec that runs against the local server runs once per client: the same specs, both paths.
pytestmark = pytest.mark.each_client

MODEL = "openai/test-model"
#: Where the cache lives by default: the ``moralpairs`` folder of pytest's cache directory.
DEFAULT_CACHE = Path(".pytest_cache", "d", "moralpairs", "responses.sqlite3")

# The server rates every sentence in these tests by this rule: "harm ..." is -3, anything else 3,
# so a pair (harm X, help X) passes; a pair whose harmless sentence is also "harm ..." fails.


def rule(sentence: str, body: dict) -> str:
    return "-3" if sentence.startswith("harm") else "3"


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.answers = rule
    return openai_server


def write_pairs(
    pytester: pytest.Pytester, *pairs: tuple[str, str, str], name: str = "pairs", defaults: dict | None = None
) -> None:
    """A pair file with one ``(id, harmful, harmless)`` per pair."""
    document: dict[str, Any] = {"version": 1}
    if defaults:
        document["defaults"] = defaults
    document["pairs"] = [{"id": i, "harmful": a, "harmless": b} for i, a, b in pairs]
    pytester.makefile(".moral.yaml", **{name: yaml.safe_dump(document, sort_keys=False)})


def numbered_pairs(count: int) -> list[tuple[str, str, str]]:
    return [(f"p{i}", f"harm {i}", f"help {i}") for i in range(count)]


def moral_args(server: OpenAIServer | str, *args: str) -> list[str]:
    url = server if isinstance(server, str) else server.url
    # --moral-model repeats (each model rates every pair): a run given its own model gets that one only.
    model = [] if "--moral-model" in args else ["--moral-model", MODEL]
    return [*model, "--moral-api-base", url, "--moral-retries", "0", *args]


def run(pytester: pytest.Pytester, server: OpenAIServer | str, *args: str) -> pytest.RunResult:
    """Run in this process, with pytest's cache (and so the response cache) on unless ``args`` say otherwise."""
    return pytester.runpytest(*moral_args(server, *args))


def rows(path: Path) -> int:
    """Answers stored in the cache file at ``path`` (0 when there is none), read without writing."""
    if not path.exists():
        return 0
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])


def cache_files(folder: Path) -> dict[str, bytes]:
    """Every file of the SQLite cache in ``folder`` (database, -wal, -shm), by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("responses.sqlite3*"))}


def stored(folder: Path) -> tuple[bytes, bytes]:
    """What the cache in ``folder`` holds: the database file and its write-ahead log (an empty
    log when there is none; a read-only reader leaves an empty one, and an index, behind)."""
    wal = folder / "responses.sqlite3-wal"
    return (folder / "responses.sqlite3").read_bytes(), wal.read_bytes() if wal.exists() else b""


# --- 1. a second identical run is answered from the cache -----------------------------------------


def test_a_second_identical_run_makes_no_request_and_has_the_same_outcomes(pytester, server):
    write_pairs(pytester, ("good", "harm one", "help one"), ("bad", "harm two", "harm three"))
    first = run(pytester, server)
    first.assert_outcomes(passed=1, failed=1)
    assert server.count == 4

    server.reset()
    second = run(pytester, server)

    assert server.count == 0
    second.assert_outcomes(passed=1, failed=1)
    second.stdout.fnmatch_lines(
        [
            "*pairs.moral.yaml::good*-3*+3*+6*PASSED*",
            "*pairs.moral.yaml::bad*-3*-3*0*FAILED*",
            "1 passed, 1 failed; 0 model calls, 4 answers from the cache",
        ]
    )


LITELLM_PROBE = """
import sys

def pytest_sessionfinish(session):
    (session.config.rootpath / "litellm-imported.txt").write_text(str("litellm" in sys.modules))
"""


def litellm_was_imported(pytester: pytest.Pytester) -> bool:
    return {"True": True, "False": False}[(pytester.path / "litellm-imported.txt").read_text()]


def run_subprocess(pytester: pytest.Pytester, server: OpenAIServer, *args: str) -> pytest.RunResult:
    """Run in a fresh process. (Hypothesis's plugin, no part of these runs, is left out: it imports
    Hypothesis at the end of every run, which only costs time.)"""
    return pytester.runpytest_subprocess("-p", "no:hypothesispytest", *moral_args(server, *args), timeout=60)


def test_a_fully_cached_run_does_not_import_litellm(pytester, server, moral_client):
    pytester.makeconftest(LITELLM_PROBE)
    write_pairs(pytester, ("p", "harm one", "help one"))
    first = run_subprocess(pytester, server)
    first.assert_outcomes(passed=1)
    assert server.count == 2
    # The control: the probe sees litellm imported for a call, where litellm makes the calls.
    assert litellm_was_imported(pytester) is (moral_client == "litellm")
    server.reset()

    second = run_subprocess(pytester, server)

    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["1 passed; 0 model calls, 2 answers from the cache"])
    assert server.count == 0
    assert litellm_was_imported(pytester) is False


# --- 2. the key covers what changes an answer, and nothing else ----------------------------------

HOOK_CONFTEST = """
import pytest

@pytest.hookimpl(optionalhook=True)
def pytest_moralpairs_completion_kwargs(request, kwargs, config):
    kwargs.update({kwargs!r})
"""


def completion_kwargs_hook(pytester: pytest.Pytester, **kwargs: Any) -> None:
    """A conftest whose ``completion_kwargs`` hook adds ``kwargs`` to every call."""
    pytester.makeconftest(HOOK_CONFTEST.format(kwargs=kwargs))


# Each change below makes a run whose answers may differ: ``change(pytester, other_server)``
# edits the project and returns extra command-line arguments.


def another_temperature(pytester: pytest.Pytester, other: OpenAIServer) -> list[str]:
    return ["--moral-temperature", "0.5"]


def another_api_base(pytester: pytest.Pytester, other: OpenAIServer) -> list[str]:
    return ["--moral-api-base", other.url]


def another_model(pytester: pytest.Pytester, other: OpenAIServer) -> list[str]:
    return ["--moral-model", "openai/another-model"]


def another_prompt(pytester: pytest.Pytester, other: OpenAIServer) -> list[str]:
    template = "Judge this.\nScenario: {sentence}\nRating:"
    write_pairs(pytester, ("p", "harm one", "help one"), defaults={"prompt": {"template": template}})
    return []


def a_parameter_added_by_a_hook(pytester: pytest.Pytester, other: OpenAIServer) -> list[str]:
    completion_kwargs_hook(pytester, max_tokens=4)
    return []


ANSWER_CHANGES = {
    "temperature": another_temperature,
    "api_base": another_api_base,
    "model": another_model,
    "file-prompt": another_prompt,
    "hook-parameter": a_parameter_added_by_a_hook,
}


@pytest.mark.parametrize("change", list(ANSWER_CHANGES))
def test_a_change_that_can_change_the_answer_makes_new_requests(pytester, server, change):
    write_pairs(pytester, ("p", "harm one", "help one"))
    run(pytester, server).assert_outcomes(passed=1)
    server.reset()

    with OpenAIServer(answers=rule) as other:
        result = run(pytester, server, *ANSWER_CHANGES[change](pytester, other))

        result.assert_outcomes(passed=1)
        assert sorted(server.sentences + other.sentences) == ["harm one", "help one"]
    result.stdout.fnmatch_lines(["1 passed; 2 model calls*"])


@pytest.mark.parametrize(
    "added",
    [{"extra_headers": {"X-Team": "ethics"}}, {"api_key": "sk-another-key"}],
    ids=["header", "api_key"],
)
def test_a_header_or_api_key_set_by_a_hook_does_not_change_the_key(pytester, server, added):
    write_pairs(pytester, ("p", "harm one", "help one"))
    run(pytester, server).assert_outcomes(passed=1)
    server.reset()
    completion_kwargs_hook(pytester, **added)
    write_pairs(pytester, ("new", "harm new", "help new"), name="more")

    result = run(pytester, server)

    result.assert_outcomes(passed=2)
    # Only the new pair is asked for, and with the hook in force (so it did run for the old one too).
    assert sorted(server.sentences) == ["harm new", "help new"]
    header, value = ("x-team", "ethics") if "extra_headers" in added else ("authorization", "Bearer sk-another-key")
    assert {r.headers.get(header) for r in server.requests} == {value}
    result.stdout.fnmatch_lines(["2 passed; 2 model calls, 2 answers from the cache*"])


# --- 3. no secret is ever stored -----------------------------------------------------------------

SNAPSHOT_CONFTEST = """
import shutil
import pytest

@pytest.hookimpl(optionalhook=True)
def pytest_moralpairs_completion_kwargs(request, kwargs, config):
    kwargs["extra_headers"] = {{"X-Secret": "hdr-secret"}}
    kwargs.update({extra!r})

def pytest_sessionfinish(session):
    # The cache while the run still holds it open: the new rows are in the -wal file then.
    folder = session.config.rootpath / ".pytest_cache" / "d" / "moralpairs"
    shutil.copytree(folder, session.config.rootpath / "snapshot")
"""


@pytest.mark.parametrize(
    "key_from, key",
    [("environment", "sk-secret-xyz"), ("hook", "sk-hook-secret")],
)
def test_no_api_key_or_header_is_ever_written_to_the_cache_files(pytester, server, monkeypatch, key_from, key):
    if key_from == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", key)
    pytester.makeconftest(SNAPSHOT_CONFTEST.format(extra={"api_key": key} if key_from == "hook" else {}))
    write_pairs(pytester, ("p", "harm one", "help one"), ("q", "harm two", "help two"))

    run(pytester, server).assert_outcomes(passed=2)

    # The secrets were really sent...
    assert {r.headers.get("authorization") for r in server.requests} == {f"Bearer {key}"}
    assert {r.headers.get("x-secret") for r in server.requests} == {"hdr-secret"}
    # ... and are in no cache file, neither during the run (-wal) nor after it.
    during = cache_files(pytester.path / "snapshot")
    after = cache_files(pytester.path / DEFAULT_CACHE.parent)
    assert "responses.sqlite3-wal" in during
    assert "responses.sqlite3" in after
    everything = b"".join([*during.values(), *after.values()])
    assert MODEL.encode() in everything  # the rows are there to be searched
    assert key.encode() not in everything
    assert b"hdr-secret" not in everything


# --- 4. errors are never cached ------------------------------------------------------------------


def test_a_failed_call_is_not_cached_and_the_next_run_makes_it_again(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))
    server.answers = {"harm one": Reply.error(500, "the model crashed")}
    run(pytester, server).assert_outcomes(errors=1)
    assert rows(pytester.path / DEFAULT_CACHE) == 1  # only the answer that came
    server.reset()
    server.answers = rule

    result = run(pytester, server)

    result.assert_outcomes(passed=1)
    assert server.sentences == ["harm one"]
    assert rows(pytester.path / DEFAULT_CACHE) == 2


# --- 5. cache modes and where the cache lives ------------------------------------------------------


def test_cache_read_answers_from_the_cache_but_stores_no_new_answer(pytester, server):
    write_pairs(pytester, ("old", "harm old", "help old"))
    run(pytester, server).assert_outcomes(passed=1)
    before = stored(pytester.path / DEFAULT_CACHE.parent)
    write_pairs(pytester, ("new", "harm new", "help new"), name="more")
    server.reset()

    run(pytester, server, "--moral-cache=read").assert_outcomes(passed=2)
    assert sorted(server.sentences) == ["harm new", "help new"]
    server.reset()
    run(pytester, server, "--moral-cache=read").assert_outcomes(passed=2)

    assert sorted(server.sentences) == ["harm new", "help new"]  # asked again: never stored
    assert rows(pytester.path / DEFAULT_CACHE) == 2
    assert stored(pytester.path / DEFAULT_CACHE.parent) == before


def test_cache_read_with_no_cache_yet_creates_no_file(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))

    run(pytester, server, "--moral-cache=read").assert_outcomes(passed=1)

    assert server.count == 2
    assert list(pytester.path.rglob("responses.sqlite3*")) == []


def test_cache_off_neither_reads_the_cache_nor_writes_to_it(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))
    run(pytester, server).assert_outcomes(passed=1)
    before = stored(pytester.path / DEFAULT_CACHE.parent)
    write_pairs(pytester, ("new", "harm new", "help new"), name="more")
    server.reset()

    result = run(pytester, server, "--moral-cache=off")

    result.assert_outcomes(passed=2)
    assert sorted(server.sentences) == ["harm new", "harm one", "help new", "help one"]
    assert stored(pytester.path / DEFAULT_CACHE.parent) == before
    result.stdout.no_fnmatch_line("*from the cache*")


def test_cache_off_creates_no_file(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))

    run(pytester, server, "--moral-cache=off").assert_outcomes(passed=1)

    assert list(pytester.path.rglob("responses.sqlite3*")) == []


def test_moral_cache_dir_puts_the_cache_in_that_folder(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))
    folder = pytester.path / "kept-by-ci"

    run(pytester, server, "--moral-cache-dir", str(folder)).assert_outcomes(passed=1)
    server.reset()
    again = run(pytester, server, "--moral-cache-dir", str(folder))

    assert rows(folder / "responses.sqlite3") == 2
    assert not (pytester.path / DEFAULT_CACHE).exists()
    assert server.count == 0
    again.stdout.fnmatch_lines(["*0 model calls, 2 answers from the cache"])


def test_without_pytests_cache_provider_the_response_cache_is_kept_where_it_always_is(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))
    run(pytester, server).assert_outcomes(passed=1)  # recorded with pytest's cache plugin
    server.reset()

    again = run(pytester, server, "-p", "no:cacheprovider")

    again.assert_outcomes(passed=1)
    assert server.count == 0
    again.stdout.fnmatch_lines(["*0 model calls, 2 answers from the cache"])


def test_without_pytests_cache_provider_a_new_cache_folder_is_kept_out_of_version_control(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))

    run(pytester, server, "-p", "no:cacheprovider").assert_outcomes(passed=1)

    assert rows(pytester.path / DEFAULT_CACHE) == 2
    assert (pytester.path / ".pytest_cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_without_pytests_cache_provider_its_cache_dir_default_is_used(pytester, server, monkeypatch):
    # Its cache_dir ini option is gone with it: the cache is where pytest's default would put it.
    monkeypatch.delenv("TOX_ENV_DIR", raising=False)
    pytester.makeini("[pytest]\n")
    write_pairs(pytester, ("p", "harm one", "help one"))

    run(pytester, server, "-p", "no:cacheprovider").assert_outcomes(passed=1)

    assert rows(pytester.path / DEFAULT_CACHE) == 2


def test_the_response_cache_follows_pytests_cache_dir(pytester, server):
    pytester.makeini("[pytest]\ncache_dir = elsewhere\n")
    write_pairs(pytester, ("p", "harm one", "help one"))

    result = run(pytester, server)

    assert rows(pytester.path / "elsewhere" / "d" / "moralpairs" / "responses.sqlite3") == 2
    result.stdout.fnmatch_lines(["moral pairs: *, cache elsewhere/d/moralpairs/responses.sqlite3 (readwrite)"])


# --- the run's header says where the cache is --------------------------------------------------------


@pytest.mark.parametrize(
    "args, said",
    [
        ((), "cache .pytest_cache/d/moralpairs/responses.sqlite3 (readwrite)"),
        (("-p", "no:cacheprovider"), "cache .pytest_cache/d/moralpairs/responses.sqlite3 (readwrite)"),
        (("--moral-cache=read",), "cache .pytest_cache/d/moralpairs/responses.sqlite3 (read)"),
        (("--moral-replay",), "cache .pytest_cache/d/moralpairs/responses.sqlite3 (replay: nothing is sent)"),
        (("--moral-cache-dir=kept",), "cache kept/responses.sqlite3 (readwrite)"),
        (("--moral-cache=off",), "cache off (--moral-cache=off)"),
    ],
    ids=["default", "no-cacheprovider", "read", "replay", "cache-dir", "off"],
)
def test_the_header_says_where_the_cache_is_and_how_it_is_used(pytester, server, args, said):
    write_pairs(pytester, ("p", "harm one", "help one"))

    result = run(pytester, server, *args)

    result.stdout.fnmatch_lines([f"moral pairs: model {MODEL}, generated pairs *, {said}"])


def test_the_header_names_the_ini_option_that_turned_the_cache_off(pytester, server):
    pytester.makeini("[pytest]\nmoral_cache = off\n")
    write_pairs(pytester, ("p", "harm one", "help one"))

    result = run(pytester, server)

    result.stdout.fnmatch_lines(["moral pairs: *, cache off (moral_cache = off)"])


def test_the_header_shows_a_cache_folder_outside_the_project_by_its_whole_path(pytester, server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ci-cache")
    write_pairs(pytester, ("p", "harm one", "help one"))

    result = run(pytester, server, "--moral-cache-dir", str(folder))

    result.stdout.fnmatch_lines([f"moral pairs: *, cache {folder / 'responses.sqlite3'} (readwrite)"])


def test_saying_where_the_cache_is_creates_no_cache(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))

    result = run(pytester, server, "-k", "nothing-is-selected")

    result.stdout.fnmatch_lines(["moral pairs: *, cache .pytest_cache/d/moralpairs/responses.sqlite3 (readwrite)"])
    assert not (pytester.path / DEFAULT_CACHE).parent.exists()


def test_moral_cache_dir_caches_even_without_pytests_cache_provider(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))
    folder = pytester.path / "kept-by-ci"

    run(pytester, server, "-p", "no:cacheprovider", "--moral-cache-dir", str(folder)).assert_outcomes(passed=1)
    run(pytester, server, "-p", "no:cacheprovider", "--moral-cache-dir", str(folder)).assert_outcomes(passed=1)

    assert server.count == 2
    assert rows(folder / "responses.sqlite3") == 2


# --- 6. replay -------------------------------------------------------------------------------------


def test_replay_of_a_recorded_run_makes_no_request_and_passes(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"), ("q", "harm two", "help two"))
    run(pytester, server).assert_outcomes(passed=2)
    server.reset()

    result = run(pytester, server, "--moral-replay")

    result.assert_outcomes(passed=2)
    assert server.count == 0
    result.stdout.fnmatch_lines(["2 passed; 0 model calls, 4 answers from the cache"])


def test_replay_errors_a_pair_never_recorded_naming_it_and_passes_the_recorded_ones(pytester, server):
    write_pairs(pytester, ("recorded", "harm one", "help one"))
    run(pytester, server).assert_outcomes(passed=1)
    write_pairs(pytester, ("recorded", "harm one", "help one"), ("unrecorded", "harm one", "help never seen"))
    server.reset()

    result = run(pytester, server, "--moral-replay")

    result.assert_outcomes(passed=1, errors=1)
    assert server.count == 0
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of moral pair unrecorded*",
            f"could not rate the harmless sentence with {MODEL}: "
            "replay mode: no recorded answer for this request (cache key *)",
            "  sentence: help never seen",
        ]
    )
    result.stdout.re_match_lines([r".*replay mode: no recorded answer .*\(cache key [0-9a-f]{16}\)"])


def test_replay_never_writes_to_the_cache(pytester, server):
    write_pairs(pytester, ("recorded", "harm one", "help one"))
    run(pytester, server).assert_outcomes(passed=1)
    before = stored(pytester.path / DEFAULT_CACHE.parent)
    write_pairs(pytester, ("unrecorded", "harm new", "help new"), name="more")

    run(pytester, server, "--moral-replay").assert_outcomes(passed=1, errors=1)

    assert stored(pytester.path / DEFAULT_CACHE.parent) == before


def test_replay_needs_no_server_at_all(pytester):
    write_pairs(pytester, ("p", "harm one", "help one"))
    with OpenAIServer(answers=rule) as gone:
        run(pytester, gone).assert_outcomes(passed=1)
    # Nothing listens there any more: a call would fail.
    run(pytester, gone.url, "--moral-cache=off").assert_outcomes(errors=1)

    result = run(pytester, gone.url, "--moral-replay")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 passed; 0 model calls, 2 answers from the cache"])


# --- 7. nothing already answered is lost -----------------------------------------------------------


class CountingServer(OpenAIServer):
    """Also counts the answers it has finished sending (written and flushed to the socket)."""

    def __init__(self, **kwargs: Any):
        self.sent = 0
        super().__init__(**kwargs)

    def _leave(self) -> None:
        super()._leave()
        with self._lock:
            self.sent += 1


PAIRS_FOR_INTERRUPT = 30  # 60 sentences at 0.3 s, 2 at a time: 9 s, far longer than the test waits
CONCURRENCY = 2


def start_pytest(pytester: pytest.Pytester, server: OpenAIServer, *args: str) -> subprocess.Popen:
    """``python -m pytest`` in the test project, as its own process; its output goes to a file."""
    with open(pytester.path / "interrupted-run.txt", "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:hypothesispytest", *moral_args(server, *args)],
            cwd=pytester.path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout:g} s")
        time.sleep(0.01)


def rows_after_a_crash(path: Path) -> int:
    """Answers in the cache as the next run will find them: opened read-write, as a run opens
    it, so SQLite can recover the write-ahead log of a killed writer."""
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_an_interrupted_run_keeps_every_answer_it_got_and_the_rerun_asks_only_for_the_rest(pytester, signum):
    pairs = numbered_pairs(PAIRS_FOR_INTERRUPT)
    write_pairs(pytester, *pairs)
    sentences = {s for _, harmful, harmless in pairs for s in (harmful, harmless)}
    with CountingServer(answers=rule, latency=0.3) as server:
        child = start_pytest(pytester, server, "--moral-concurrency", str(CONCURRENCY))
        try:
            wait_until(lambda: server.sent >= 6 or child.poll() is not None)
            assert child.poll() is None, (pytester.path / "interrupted-run.txt").read_text()
            answered = server.sent  # answers that had left the server before the signal
            os.kill(child.pid, signum)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        asked = server.count
        kept = rows_after_a_crash(pytester.path / DEFAULT_CACHE)

        expected_status = -signal.SIGKILL if signum == signal.SIGKILL else pytest.ExitCode.INTERRUPTED
        assert child.returncode == expected_status, (pytester.path / "interrupted-run.txt").read_text()
        assert asked < len(sentences)  # the run was cut short
        # Each answer the client may have read is kept. Calls hold one of the CONCURRENCY slots
        # from request to commit, so at most that many sent answers can have been still unread.
        assert answered - CONCURRENCY <= kept <= asked

        server.reset()
        server.latency = 0.0
        result = run(pytester, server)

    # The rerun asks for exactly what is missing, each once.
    result.assert_outcomes(passed=PAIRS_FOR_INTERRUPT)
    assert len(server.sentences) == len(set(server.sentences)) == len(sentences) - kept
    result.stdout.fnmatch_lines([f"*; {len(sentences) - kept} model calls, {kept} answers from the cache*"])


# --- 8. an unusable cache file is replaced, with a warning -----------------------------------------


def foreign_database(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('alice')")
        db.commit()


def foreign_database_with_a_meta_table(path: Path) -> None:
    # Another program's database that happens to have a table named like the cache's own.
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('owner', 'some other tool')")
        db.commit()


@pytest.mark.parametrize(
    "make",
    [lambda path: path.write_bytes(os.urandom(3000)), foreign_database, foreign_database_with_a_meta_table],
    ids=["random-bytes", "foreign-sqlite-database", "foreign-database-with-a-meta-table"],
)
def test_an_unusable_cache_file_is_set_aside_with_a_cache_warning_and_the_run_passes(pytester, server, make):
    write_pairs(pytester, ("p", "harm one", "help one"))
    path = pytester.path / DEFAULT_CACHE
    path.parent.mkdir(parents=True)
    make(path)
    original = path.read_bytes()

    result = run(pytester, server)

    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*warnings summary*", "*CacheWarning: the response cache *responses.sqlite3 is unusable*starting afresh*"]
    )
    assert rows(path) == 2
    (aside,) = path.parent.glob("responses.sqlite3.unusable-*")
    assert aside.read_bytes() == original  # set aside untouched, never written into


def test_a_healthy_cache_gives_no_warning(pytester, server):
    write_pairs(pytester, ("p", "harm one", "help one"))
    run(pytester, server).assert_outcomes(passed=1)

    result = run(pytester, server)

    result.assert_outcomes(passed=1, warnings=0)
    result.stdout.no_fnmatch_line("*CacheWarning*")


def test_an_unusable_cache_file_does_not_abort_a_run_that_turns_warnings_into_errors(pytester, server):
    # filterwarnings = error is common; the cache has been replaced by then, so the run goes on.
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    write_pairs(pytester, ("p", "harm one", "help one"))
    path = pytester.path / DEFAULT_CACHE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database" * 100)

    result = run(pytester, server)

    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["*CacheWarning: the response cache *responses.sqlite3 is unusable*"])
    assert rows(path) == 2


def test_a_cache_filled_by_a_script_with_the_core_serves_a_pytest_run(pytester: pytest.Pytester, server) -> None:
    from pytest_moralpairs import ModelSettings, RatingEngine, RatingRequest
    from pytest_moralpairs.cache import ResponseCache
    from pytest_moralpairs.prompt import DEFAULT_PROMPT

    model = ModelSettings(MODEL, api_base=server.url)
    folder = pytester.path / "shared-cache"
    folder.mkdir()
    engine = RatingEngine(cache=ResponseCache(folder / "responses.sqlite3"))
    try:
        engine.rate_all(RatingRequest(model, DEFAULT_PROMPT.messages(s), s) for s in ("harm 1", "help 1"))
    finally:
        engine.close()
        engine.cache.close()
    assert len(server.requests) == 2
    write_pairs(pytester, ("p1", "harm 1", "help 1"))
    result = run(pytester, server, "--moral-cache-dir", str(folder))
    result.assert_outcomes(passed=1)
    assert len(server.requests) == 2  # both answers came from the script's cache
    result.stdout.fnmatch_lines(["*0 model calls, 2 answers from the cache*"])
