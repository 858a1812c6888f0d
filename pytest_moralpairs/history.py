"""The run history (``--moral-history DIR``): every run kept, an index of them, and what is read
back from it: the newest run of a model (``--moral-compare last:MODEL``), each pair's gap over
the last runs (the HTML report's trend), and the pass rate over time (``python -m
pytest_moralpairs history DIR``).

The folder::

    DIR/runs/<created>-<model>.json   the run document, plus "git": the commit tested (or null)
    DIR/index.json                    {"format": "moralpairs-history", "version": 1, "runs": [...]}

A run file is written whole under a name no other writer can take, then the index is rewritten
under a lock, from the index as it is then plus any run file it does not list yet: two CI jobs
sharing a folder both end up in it.

No pytest here. PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .report.document import (
    DocumentError,
    index_pairs,
    json_text,
    jsonable,
    load_document,
    pair_key,
    write_atomic,
)

INDEX = "index.json"
RUNS = "runs"
LOCK = ".index.lock"
INDEX_FORMAT = "moralpairs-history"
INDEX_VERSION = 1
#: How long a writer waits for another to finish the index before it takes a lock left behind.
LOCK_PATIENCE = 30.0
#: ``--moral-compare last`` (this run's model) and ``last:MODEL``.
LAST = "last"


class HistoryError(Exception):
    """A history folder that cannot be read or written as asked; the message names the folder."""


@dataclass(frozen=True)
class HistoryEntry:
    """One run as the index lists it."""

    file: str  # relative to the history folder: runs/<created>-<model>.json
    created: str
    model: str | None
    suites: tuple[dict[str, Any], ...] = ()
    totals: dict[str, Any] = field(default_factory=dict)
    git: str | None = None

    @property
    def pass_rate(self) -> float | None:
        rate = self.totals.get("pass_rate")
        return float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "created": self.created,
            "model": self.model,
            "suites": [dict(s) for s in self.suites],
            "totals": dict(self.totals),
            "pass_rate": self.pass_rate,
            "git": self.git,
        }

    @classmethod
    def from_dict(cls, data: Any) -> HistoryEntry | None:
        """An entry read from an index (a file anyone may have edited): None unless it names a file."""
        if not isinstance(data, dict) or not isinstance(data.get("file"), str):
            return None
        suites = data.get("suites") if isinstance(data.get("suites"), list) else []
        return cls(
            file=data["file"],
            created=str(data.get("created") or ""),
            model=data.get("model") if isinstance(data.get("model"), str) else None,
            suites=tuple(s for s in suites if isinstance(s, dict)),
            totals=data.get("totals") if isinstance(data.get("totals"), dict) else {},
            git=data.get("git") if isinstance(data.get("git"), str) else None,
        )

    @classmethod
    def of(cls, file: str, document: dict[str, Any]) -> HistoryEntry:
        suites = document.get("moral_suites") if isinstance(document.get("moral_suites"), list) else []
        keep = ("name", "version", "sha256")
        return cls(
            file=file,
            created=str(document.get("created") or ""),
            model=document.get("model") if isinstance(document.get("model"), str) else None,
            suites=tuple({k: s.get(k) for k in keep} for s in suites if isinstance(s, dict)),
            totals=document.get("totals") if isinstance(document.get("totals"), dict) else {},
            git=document.get("git") if isinstance(document.get("git"), str) else None,
        )


# --- writing ---------------------------------------------------------------------------------


def slug(model: str | None) -> str:
    """A model as part of a file name: ``openai/gpt-4o-mini`` -> ``openai-gpt-4o-mini``."""
    text = re.sub(r"[^a-z0-9.]+", "-", str(model or "no-model").lower()).strip("-.")
    return text[:60].rstrip("-.") or "model"


def git_commit(folder: str | os.PathLike[str]) -> str | None:
    """The commit checked out in ``folder`` (``git rev-parse HEAD``), else the one CI names, else None."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is not None and done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", done.stdout.strip()):
        return done.stdout.strip()
    for name in ("GITHUB_SHA", "CI_COMMIT_SHA"):
        if re.fullmatch(r"[0-9a-f]{40,64}", os.environ.get(name, "")):
            return os.environ[name]
    return None


def record_run(
    folder: str | os.PathLike[str], document: dict[str, Any], git: str | None = None
) -> tuple[Path, HistoryEntry]:
    """Add a run document to the history in ``folder`` (created if need be): its run file, then
    the index. Returns the run file and its entry; raises OSError when the folder cannot be written."""
    root = Path(folder)
    runs = root / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    data = dict(jsonable(document), git=git)
    stamp = re.sub(r"[^0-9TZ]", "", str(data.get("created") or "")) or "undated"
    path = _claim(runs, f"{stamp}-{slug(data.get('model'))}", json_text(data, indent=2, sort_keys=True) + "\n")
    entry = HistoryEntry.of(f"{RUNS}/{path.name}", data)
    with _locked(root):
        entries = {e.file: e for e in _read_entries(root, rebuild=True)}
        entries[entry.file] = entry
        _write_index(root, _with_files_on_disk(root, entries))
    return path, entry


def _claim(folder: Path, stem: str, text: str) -> Path:
    """Write ``text`` to ``folder/<stem>.json``, or ``<stem>_2.json`` ... when another run took that
    name: written whole to a temporary file, then linked under a name that must not exist yet."""
    fd, temp = tempfile.mkstemp(prefix=".run.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        for number in range(1, 1000):
            target = folder / (f"{stem}.json" if number == 1 else f"{stem}_{number}.json")
            try:
                os.link(temp, target)
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links: the rename may race, rarely
                if target.exists():
                    continue
                os.replace(temp, target)
            return target
        raise OSError(f"{folder}: 999 runs named {stem} already")
    finally:
        Path(temp).unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold the history's lock: a file created only if it does not exist. One left behind by a
    writer that died is taken over after :data:`LOCK_PATIENCE` seconds."""
    lock = root / LOCK
    deadline = time.monotonic() + LOCK_PATIENCE
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if time.monotonic() > deadline:
                lock.unlink(missing_ok=True)
                deadline = time.monotonic() + LOCK_PATIENCE
            time.sleep(0.05)
            continue
        break
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        yield
    finally:
        lock.unlink(missing_ok=True)


def _with_files_on_disk(root: Path, entries: dict[str, HistoryEntry]) -> list[HistoryEntry]:
    """The index's entries whose run file is there, plus one for each run file it does not list
    (written by a writer that has not reached the index yet, or before the index was lost)."""
    on_disk = {f"{RUNS}/{p.name}": p for p in (root / RUNS).glob("*.json")}
    kept = {name: entry for name, entry in entries.items() if name in on_disk}
    for name, path in on_disk.items():
        if name not in kept:
            try:
                kept[name] = HistoryEntry.of(name, load_document(path))
            except DocumentError:
                continue  # not a run document: not a run of the history
    return sorted(kept.values(), key=_order)


def _order(entry: HistoryEntry) -> tuple[str, int, str]:
    """Oldest first; runs made in the same second in the order their files were claimed
    (``<created>-<model>.json``, then ``..._2.json`` ...)."""
    counter = re.search(r"_(\d+)\.json$", entry.file)
    return entry.created, int(counter.group(1)) if counter else 1, entry.file


def _write_index(root: Path, entries: list[HistoryEntry]) -> None:
    index = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "runs": [e.to_dict() for e in entries]}
    write_atomic(root / INDEX, json_text(index, indent=2, sort_keys=True) + "\n")


# --- reading ---------------------------------------------------------------------------------


def _read_entries(root: Path, rebuild: bool = False) -> list[HistoryEntry]:
    """The index's entries. An index that cannot be read is an error, or, to a writer
    (``rebuild``), no index: it is made again from the run files."""
    path = root / INDEX
    if not path.exists():
        return []
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
            raise ValueError(f'no "format": "{INDEX_FORMAT}"')
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        if rebuild:
            return []
        raise HistoryError(f"{path}: not a run history index ({exc})") from None
    version = index.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > INDEX_VERSION:
        raise HistoryError(
            f"{path}: written by a newer pytest-moralpairs (index version {version}): upgrade to read it"
        )
    runs = index.get("runs") if isinstance(index.get("runs"), list) else []
    return [e for e in (HistoryEntry.from_dict(r) for r in runs) if e is not None]


def read_history(folder: str | os.PathLike[str]) -> list[HistoryEntry]:
    """Every run of the history, oldest first; :class:`HistoryError` when there is no history there."""
    root = Path(folder)
    if not root.is_dir():
        raise HistoryError(f"no run history in {folder} (a run with --moral-history {folder} starts one)")
    entries = {e.file: e for e in _read_entries(root)}
    return _with_files_on_disk(root, entries)


def history_run(spec: Any) -> str | None:
    """What ``--moral-compare SPEC`` asks of the history: ``""`` for ``last`` (the newest run of
    this run's model), ``MODEL`` for ``last:MODEL``; None for a path."""
    if not isinstance(spec, str):
        return None
    if spec == LAST:
        return ""
    if spec.startswith(LAST + ":") and spec[len(LAST) + 1 :].strip():
        return spec[len(LAST) + 1 :].strip()
    return None


def newest_run(folder: str | os.PathLike[str], model: str) -> Path:
    """The run file of ``model``'s newest run in the history; :class:`HistoryError` says why there
    is none."""
    entries = read_history(folder)
    mine = [e for e in entries if e.model == model]
    if not mine:
        models = sorted({e.model or "no model" for e in entries})
        holds = f"it holds runs of {', '.join(models)}" if models else "it holds no run yet"
        raise HistoryError(f"the history {folder} has no run of {model}: {holds}")
    return Path(folder) / mine[-1].file


def compare_path(spec: Any, folder: str | None, model: str | None) -> str | None:
    """The run file ``--moral-compare SPEC`` names when SPEC is ``last`` (the newest run of
    ``model``) or ``last:MODEL``, in the history ``folder``; None when SPEC is a path.
    :class:`HistoryError` says why there is no such run."""
    wanted = history_run(spec)
    if wanted is None:
        return None
    if not folder:
        raise HistoryError("it compares with a run of the history: name the history with --moral-history DIR")
    if not (wanted or model):
        raise HistoryError("it compares with the newest run of this run's model, and no model is set")
    return str(newest_run(folder, wanted or str(model)))


# --- the trend: each pair's gap over the last runs ----------------------------------------------


@dataclass
class Trend:
    """A model's last runs, oldest first, this run last: each run's facts, and per pair (by
    :func:`~.report.document.pair_key`) its gap and outcome in each run (None where it was not run)."""

    model: str | None
    folder: str
    runs: list[dict[str, Any]]
    gaps: dict[str, list[float | None]]
    outcomes: dict[str, list[str | None]]


def trend(folder: str | os.PathLike[str], document: dict[str, Any], runs: int, this_run: str | None = None) -> Trend:
    """The trend of ``document``'s pairs over its model's last ``runs`` runs in the history, this
    run (``document``; its run file ``this_run`` when already recorded) the last of them. Runs whose
    file cannot be read are left out."""
    model = document.get("model")
    try:
        entries = [e for e in read_history(folder) if e.model == model and e.file != this_run]
    except HistoryError:
        entries = []
    documents = []
    for entry in reversed(entries):
        if len(documents) == runs - 1:
            break
        try:
            documents.append((entry, load_document(Path(folder) / entry.file)))
        except DocumentError:
            continue
    documents.reverse()
    documents.append((HistoryEntry.of(this_run or "", document), document))
    keys = [pair_key(p) for p in document.get("pairs") or () if isinstance(p, dict)]
    gaps: dict[str, list[float | None]] = {key: [] for key in keys}
    outcomes: dict[str, list[str | None]] = {key: [] for key in keys}
    for _, doc in documents:
        pairs = index_pairs(doc)
        for key in keys:
            pair = pairs.get(key) or {}
            gap = pair.get("gap")
            ok = isinstance(gap, (int, float)) and not isinstance(gap, bool)
            gaps[key].append(float(gap) if ok else None)
            outcome = pair.get("outcome")
            outcomes[key].append(outcome if isinstance(outcome, str) else None)
    facts = [
        {"created": e.created, "git": e.git, "pass_rate": e.pass_rate, "file": e.file or None} for e, _ in documents
    ]
    return Trend(model=model, folder=str(folder), runs=facts, gaps=gaps, outcomes=outcomes)


# --- the command line's tables --------------------------------------------------------------------


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]


def runs_table(entries: list[HistoryEntry]) -> list[str]:
    """One line per run: when, model, suites, commit, counts and pass rate."""
    rows = []
    for e in entries:
        suites = ", ".join(f"{s.get('name')} {s.get('version') or ''}".strip() for s in e.suites) or "-"
        counts = [e.totals.get(k) for k in ("pairs", "passed", "failed", "inconclusive", "errors")]
        rows.append(
            [e.created, e.model or "-", suites, (e.git or "-")[:12]]
            + [str(c) if isinstance(c, int) else "-" for c in counts]
            + [_percent(e.pass_rate)]
        )
    header = ["created", "model", "suites", "git", "pairs", "passed", "failed", "inconclusive", "errors", "pass rate"]
    return _table(header, rows)


def pass_rate_table(entries: list[HistoryEntry]) -> list[str]:
    """The pass rate over time: a line per run, a column per model."""
    models = sorted({e.model or "no model" for e in entries})
    rows = []
    for e in entries:
        rows.append([e.created, *(_percent(e.pass_rate) if (e.model or "no model") == m else "" for m in models)])
    return _table(["created", *models], rows)


__all__ = [
    "HistoryEntry",
    "HistoryError",
    "Trend",
    "compare_path",
    "git_commit",
    "history_run",
    "newest_run",
    "pass_rate_table",
    "read_history",
    "record_run",
    "runs_table",
    "slug",
    "trend",
]
