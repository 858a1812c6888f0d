"""The on-disk response store: one SQLite file, one row per answered request.

Every answer is committed the moment it arrives (WAL journal), so Ctrl-C or ``kill -9`` loses
nothing already answered, and several processes (pytest-xdist workers) can share one file.
Only answers are stored — never errors, API keys or headers. A file that is corrupt or belongs
to something else is moved aside with a warning and a fresh cache starts in its place; a cache
that may be read but not written (a folder CI restored read-only) is read and never moved.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

SCHEMA = "moralpairs-cache-1"
MODES = ("readwrite", "read", "off")
FILE_NAME = "responses.sqlite3"


def _is_lock(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CORRUPT, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 3, 8, 11, 14, 26


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def _cannot_write(exc: sqlite3.Error) -> bool:
    """A file or folder this process may read but not write (or a read-only file system)."""
    text = str(exc).lower()
    return (
        _code(exc) in (_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CANTOPEN)
        or "readonly" in text
        or ("unable to open" in text)
    )


def _is_corrupt(exc: sqlite3.Error) -> bool:
    """A file that is damaged, not a database, or somebody else's database: the only kind of cache
    that is moved aside."""
    return isinstance(exc, NotOurs) or _code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "not a database" in str(exc)


class NotOurs(sqlite3.DatabaseError):
    """A database that is not a pytest-moralpairs cache of this version."""


class CacheWarning(UserWarning):
    """The cache file could not be used as it was; the run goes on with a fresh one."""


@dataclass(frozen=True)
class CachedAnswer:
    """An answer as it was received, with what it cost.

    ``logprobs`` (per answer token: the token and its top alternatives with their log-probabilities)
    is kept in the ``extra`` JSON column, so files written before it existed stay readable, and
    read the same. So are a reasoning model's ``reasoning`` and ``reasoning_tokens``,
    ``served_model`` (the model the provider said answered, e.g. ``gpt-4o-2024-08-06`` for
    ``gpt-4o``) and ``fingerprint`` (its ``system_fingerprint``): an answer cached before they were
    kept has none of them, and older versions of the plugin read and write the same file as before.
    ``created`` (Unix time) is when the answer was stored.
    """

    text: str
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    extra: str = "{}"
    logprobs: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] | None = None
    reasoning: str | None = None
    reasoning_tokens: int = 0
    served_model: str | None = None
    fingerprint: str | None = None
    created: float = field(default=0.0, compare=False)

    @property
    def details(self) -> dict[str, Any]:
        return json.loads(self.extra or "{}")

    def stored_extra(self) -> str:
        """The ``extra`` column to write: ``extra`` with the log-probabilities, the reasoning, the
        model that answered and its fingerprint added."""
        if self.logprobs is None and self.reasoning is None and self.served_model is None and self.fingerprint is None:
            return self.extra
        details = self.details
        if self.logprobs is not None:
            details["logprobs"] = [
                [token, [[t, lp] for t, lp in alternatives]] for token, alternatives in self.logprobs
            ]
        if self.reasoning is not None:
            details.update(reasoning=self.reasoning, reasoning_tokens=self.reasoning_tokens)
        for name in ("served_model", "fingerprint"):
            if getattr(self, name) is not None:
                details[name] = getattr(self, name)
        return json.dumps(details)

    @classmethod
    def from_row(
        cls,
        text: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float,
        extra: str,
        created: float = 0.0,
    ) -> CachedAnswer:
        logprobs = None
        if not extra or extra == "{}":
            return cls(text, model, prompt_tokens, completion_tokens, cost, extra, logprobs, created=created or 0.0)
        reasoning, thought = None, 0
        served = fingerprint = None
        try:
            details = json.loads(extra)
            if isinstance(details, dict) and isinstance(details.get("reasoning"), str):
                reasoning, thought = details.pop("reasoning"), details.pop("reasoning_tokens", 0)
                thought = thought if isinstance(thought, int) and thought > 0 else 0
                extra = json.dumps(details)
            if isinstance(details, dict) and details.get("logprobs") is not None:
                logprobs = tuple(
                    (str(token), tuple((str(t), float(lp)) for t, lp in alternatives))
                    for token, alternatives in details.pop("logprobs")
                )
                extra = json.dumps(details)
            if isinstance(details, dict) and ("served_model" in details or "fingerprint" in details):
                served, fingerprint = details.pop("served_model", None), details.pop("fingerprint", None)
                served = served if isinstance(served, str) else None
                fingerprint = fingerprint if isinstance(fingerprint, str) else None
                extra = json.dumps(details)
        except (ValueError, TypeError):
            pass  # a column this version cannot read: kept as it is, without log-probabilities
        return cls(
            text,
            model,
            prompt_tokens,
            completion_tokens,
            cost,
            extra,
            logprobs,
            reasoning=reasoning,
            reasoning_tokens=thought,
            served_model=served,
            fingerprint=fingerprint,
            created=created or 0.0,
        )


def unusable_folder(folder: str | os.PathLike[str], mode: str = "readwrite") -> str | None:
    """Why a cache opened in ``mode`` cannot be kept in ``folder`` (``it is not a folder``, the
    error the file system gave), or None. Found before any call is made rather than when the first
    answer is to be kept; nothing is created (a run that rates nothing leaves no cache behind)."""
    if mode == "off":
        return None
    try:
        path = Path(folder).absolute()
        if path.exists() and not path.is_dir():
            return "it is not a folder"
        if mode == "read":
            return None  # only read: a missing folder is an empty cache
        if (path / FILE_NAME).is_file():
            return None  # answers to read, even where none can be kept (the cache warns then)
        # The folder, or the nearest existing folder it will be made in, must take new files.
        existing = next(f for f in (path, *path.parents) if f.exists())
        if not existing.is_dir():
            return f"{existing} is not a folder"
        with tempfile.TemporaryFile(dir=existing):
            pass
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        return str(getattr(exc, "strerror", None) or exc)
    return None


class ResponseCache:
    """A key -> :class:`CachedAnswer` store; ``mode`` is ``readwrite``, ``read`` or ``off``."""

    def __init__(self, path: str | Path | None, mode: str = "readwrite", max_age: float | None = None):
        """``max_age``: seconds after which a stored answer is no longer used (``--moral-cache-ttl``):
        a read finds it missing (counted in :attr:`expired`), so it is asked again and replaced."""
        if mode not in MODES:
            raise ValueError(f"cache mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0
        self.writes = 0
        self.max_age = max_age
        #: Answers found but older than ``max_age`` (counted as misses too).
        self.expired = 0
        #: False once answers cannot be kept: read mode, a cache that cannot be written, a write that failed.
        self.writable = mode == "readwrite"
        #: A private copy of a read-only cache whose answers were still in its WAL file.
        self._copy_dir: str | None = None
        if mode != "off" and self.path is not None:
            self._db = self._open()
        if self._db is None:
            self.writable = False

    @property
    def enabled(self) -> bool:
        return self._db is not None

    # --- opening ---------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection | None:
        assert self.path is not None
        if self.mode == "read":
            return self._open_to_read() if self.path.exists() else None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # the folder cannot be made: the run goes on, uncached
            return self._without(f"cannot make the folder of the response cache {self.path}: {exc.strerror or exc}")
        try:
            return self._connect_waiting()
        except sqlite3.OperationalError as exc:
            if _is_lock(exc):  # busy for 30 s: somebody is using it; do without, never move it
                return self._without(f"the response cache {self.path} stayed locked: {exc}")
            if _cannot_write(exc) and self.path.is_file():
                # A cache restored read-only (CI does that), or a folder that takes no files: the
                # answers in it are still good. Read them; keep no new ones.
                return self._read_only_instead(exc)
            return self._unusable(exc)
        except sqlite3.DatabaseError as exc:
            return self._unusable(exc)

    def _open_to_read(self) -> sqlite3.Connection | None:
        """Open an existing cache for reading only (``read`` mode and replay)."""
        try:
            return self._connect_read_only()
        except sqlite3.DatabaseError as exc:
            warnings.warn(CacheWarning(f"cannot read the response cache {self.path}: {exc}; ignoring it"), stacklevel=4)
            return None

    def _read_only_instead(self, why: sqlite3.Error) -> sqlite3.Connection | None:
        try:
            db = self._connect_read_only()
        except sqlite3.DatabaseError as exc:
            return self._without(f"cannot read or write the response cache {self.path}: {exc}")
        self.writable = False
        warnings.warn(
            CacheWarning(
                f"the response cache {self.path} cannot be written ({why}): its answers are read, "
                "new answers are not kept"
            ),
            stacklevel=4,
        )
        return db

    def _without(self, why: str) -> None:
        warnings.warn(CacheWarning(f"{why}; running without it"), stacklevel=4)
        return None

    def _unusable(self, exc: sqlite3.DatabaseError) -> sqlite3.Connection | None:
        """A cache that could not be opened for writing: moved aside (and a fresh one started) only
        when it is corrupt or not ours; any other failure (I/O, permissions) leaves it alone."""
        assert self.path is not None
        # Another process (an xdist worker) may have replaced the bad file with a fresh cache
        # a moment ago: look again before moving anything aside.
        time.sleep(0.1)
        try:
            return self._connect()
        except sqlite3.DatabaseError:
            pass
        if not self.path.exists():  # nothing to move aside: the folder takes no new file
            return self._without(f"cannot create the response cache {self.path}: {exc}")
        if not _is_corrupt(exc):
            return self._without(f"cannot use the response cache {self.path}: {exc}")
        aside = self.path.with_name(f"{self.path.name}.unusable-{int(time.time())}-{os.getpid()}")
        warnings.warn(
            CacheWarning(f"the response cache {self.path} is unusable ({exc}); moved to {aside.name}, starting afresh"),
            stacklevel=3,
        )
        try:
            for suffix in ("", "-wal", "-shm"):
                old = Path(str(self.path) + suffix)
                if old.exists():
                    os.replace(old, Path(str(aside) + suffix))
            return self._connect()
        except (OSError, sqlite3.DatabaseError) as again:  # a folder that takes no files, say
            return self._without(f"cannot keep the response cache {self.path}: {again}")

    def _connect_waiting(self) -> sqlite3.Connection:
        # Another process (an xdist worker) may hold the lock while it creates the tables:
        # "locked" means wait, not "corrupt".
        deadline = time.monotonic() + 30
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as exc:
                if not _is_lock(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _connect_read_only(self) -> sqlite3.Connection:
        """The cache opened so that nothing is ever written, wherever it lies.

        SQLite opens a WAL database read-only only where it can create the ``-shm`` file beside
        it. In a read-only folder it cannot: then a cache whose answers are all in the main file
        (no ``-wal``, or an empty one: the last writer closed cleanly) is opened as immutable, and
        one with answers still in its ``-wal`` (a writer was killed) is read from a private copy.
        """
        assert self.path is not None
        try:
            return self._connect(self.path, "mode=ro")
        except sqlite3.OperationalError as exc:
            if not _cannot_write(exc):
                raise
        wal = Path(f"{self.path}-wal")
        if not wal.exists() or wal.stat().st_size == 0:
            return self._connect(self.path, "mode=ro&immutable=1")
        self._copy_dir = tempfile.mkdtemp(prefix="moralpairs-cache-")
        copy = Path(self._copy_dir) / self.path.name
        shutil.copyfile(self.path, copy)
        shutil.copyfile(wal, f"{copy}-wal")
        return self._connect(copy, "mode=ro")

    def _connect(self, path: Path | None = None, options: str = "") -> sqlite3.Connection:
        """Open ``path`` (the cache file by default) with SQLite URI ``options``; without
        options in ``readwrite`` mode, create the tables a new cache needs."""
        path = path if path is not None else self.path
        assert path is not None
        write = not options
        uri = f"file:{urllib.parse.quote(str(path))}" + (f"?{options}" if options else "")
        db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables:
                # An existing database is ours only if it says so (a table named "meta" is not
                # enough): somebody else's database is never written into, not even its journal mode.
                if "meta" not in tables:
                    raise NotOurs(f"not a pytest-moralpairs cache (tables {', '.join(sorted(tables))[:80]})")
                self._check_schema(db)
            if write:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.execute("BEGIN IMMEDIATE")
                db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA,))
                db.execute(
                    "CREATE TABLE IF NOT EXISTS answers ("
                    " key TEXT PRIMARY KEY, text TEXT NOT NULL, model TEXT NOT NULL,"
                    " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
                    " cost REAL NOT NULL, extra TEXT NOT NULL, created REAL NOT NULL)"
                )
                db.execute("COMMIT")
            else:
                db.execute("PRAGMA query_only = ON")
            self._check_schema(db)
            db.execute("SELECT key, text, model, prompt_tokens, completion_tokens, cost, extra FROM answers LIMIT 1")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @staticmethod
    def _check_schema(db: sqlite3.Connection) -> None:
        """Raise :class:`sqlite3.DatabaseError` unless ``db`` says it is a cache of this version."""
        row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is None or row[0] != SCHEMA:
            raise NotOurs(f"not a pytest-moralpairs cache (schema {str(row[0] if row else None)[:40]!r})")

    # --- use -----------------------------------------------------------------------------------

    def get(self, key: str, count: bool = True) -> CachedAnswer | None:
        """The stored answer for ``key``, or None; ``count`` adds it to ``hits`` / ``misses``."""
        return self.get_many([key], count).get(key)

    #: Keys per query: below SQLite's limit on bound parameters (999 in old builds).
    _BATCH = 500

    def get_many(self, keys: Iterable[str], count: bool = True) -> dict[str, CachedAnswer]:
        """The stored answers of those ``keys`` the cache has, in one query per 500 keys (none older
        than ``max_age``)."""
        keys = list(dict.fromkeys(keys))
        if self._db is None or not keys:
            return {}
        found: dict[str, CachedAnswer] = {}
        oldest = time.time() - self.max_age if self.max_age is not None else None
        expired = 0
        with self._lock:
            try:
                for start in range(0, len(keys), self._BATCH):
                    chunk = keys[start : start + self._BATCH]
                    rows = self._db.execute(
                        "SELECT key, text, model, prompt_tokens, completion_tokens, cost, extra, created FROM answers"
                        f" WHERE key IN ({','.join('?' * len(chunk))})",
                        chunk,
                    ).fetchall()
                    if oldest is not None:
                        fresh = [row for row in rows if row[7] >= oldest]
                        expired, rows = expired + len(rows) - len(fresh), fresh
                    found.update((row[0], CachedAnswer.from_row(*row[1:])) for row in rows)
            except sqlite3.DatabaseError as exc:
                warnings.warn(
                    CacheWarning(f"reading the response cache failed ({exc}); treating it as a miss"), stacklevel=2
                )
        if count:
            self.hits += len(found)
            self.misses += len(keys) - len(found)
            self.expired += expired
        return found

    def put(self, key: str, answer: CachedAnswer) -> None:
        """Store an answer now (one committed transaction), unless the cache is read-only or off."""
        if self._db is None or not self.writable:
            return
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        answer.text,
                        answer.model,
                        answer.prompt_tokens,
                        answer.completion_tokens,
                        answer.cost,
                        answer.stored_extra(),
                        time.time(),
                    ),
                )
                self.writes += 1
            except sqlite3.DatabaseError as exc:
                # A disk that filled up or turned read-only mid-run: said once, not once per answer.
                if _cannot_write(exc) or "full" in str(exc).lower():
                    self.writable = False
                    why = "answers from now on are not kept"
                else:
                    why = "answer not kept"
                warnings.warn(CacheWarning(f"writing to the response cache failed ({exc}); {why}"), stacklevel=2)

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            with self._lock:
                self._db.close()
                self._db = None
        if self._copy_dir is not None:
            shutil.rmtree(self._copy_dir, ignore_errors=True)
            self._copy_dir = None
