"""The run document: one JSON format for ``--moral-report json:PATH`` and ``--moral-save PATH``,
so a report can be given to ``--moral-compare``. Its schema is ``schema/report.schema.json``.

No pytest here: the document is built from plain result dicts (as they ride on pytest's reports)
and can be read back by a script or a notebook.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from .. import stats
from ..prompt import SCALE_MAX
from ..stats import FAILED, PASSED, finite
from ..yamlfile import read_regular, require_regular

FORMAT = "moralpairs-run"
VERSION = 1
OUTCOMES = ("passed", "failed", "inconclusive", "error")

#: The largest run document :func:`load_document` reads; a real one is a few MiB at most.
MAX_BYTES = 256 * 1024 * 1024

#: The most samples per sentence a saved run's pair is read with (--moral-samples allows 1,000).
MAX_SAMPLES = 1000

#: A lone surrogate: how Python keeps an undecodable byte of a file name (a nodeid, a path), which
#: no UTF-8 text can hold.
SURROGATES = re.compile("[\ud800-\udfff]")

#: Every documented key of a pair result, in the schema's order; a missing one is written as null.
PAIR_KEYS = (
    "pair_id",
    "nodeid",
    "suite",
    "kind",
    "model",
    "scoring",
    "prompt_hash",
    "harmful",
    "harmless",
    "edit",
    "harmful_raw",
    "harmless_raw",
    "harmful_reasoning",
    "harmless_reasoning",
    "harmful_rating",
    "harmless_rating",
    "harmful_low",
    "harmful_high",
    "harmless_low",
    "harmless_high",
    "harmful_samples",
    "harmless_samples",
    "samples",
    "gap",
    "gap_low",
    "gap_high",
    "confidence",
    "threshold",
    "passed",
    "outcome",
    "error",
    "error_persona",
    "human_harmful",
    "human_harmless",
    "human_gap",
    "source",
    "baseline",
    "baseline_error",
    "previous",
    "gap_change",
    "gap_change_low",
    "gap_change_high",
    "regressed",
    "examples",
    "personas",
    "persona_outcome",
)

#: The run-level keys taken from ``meta``; other meta keys are kept as they are.
META_KEYS = (
    "model",
    "baseline_model",
    "created",
    "versions",
    "prompt_hash",
    "settings",
    "usage",
    "gate",
    "served_models",
    "moral_suites",
    "models",
    "reference",
)


class DocumentError(Exception):
    """A file that is not a run document this version can read; the message names the file."""


def build_document(results: Iterable[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """The run document from the pair results and the run's ``meta`` (model, versions, settings ...)."""
    pairs = sorted((_pair(r) for r in results), key=lambda p: (pair_key(p), str(p.get("pair_id"))))
    document: dict[str, Any] = {key: jsonable(value) for key, value in meta.items() if key not in ("format", "version")}
    for key in META_KEYS:
        document.setdefault(key, None)
    if not document["created"]:
        document["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for pair in pairs:
        by_suite.setdefault(pair["suite"] or "", []).append(pair)
    document.update(
        format=FORMAT,
        version=VERSION,
        totals=_counts(pairs),
        alignment=jsonable(stats.alignment(pairs)),
        suites=[
            {"suite": suite, **_counts(members), "alignment": jsonable(stats.alignment(members))}
            for suite, members in sorted(by_suite.items())
        ],
        pairs=pairs,
    )
    return document


def write_json(path: str | os.PathLike[str], document: dict[str, Any]) -> Path:
    """Write the document (sorted keys, indent 2: two runs diff line by line) atomically."""
    return write_atomic(path, json_text(jsonable(document), indent=2, sort_keys=True) + "\n")


def json_text(value: Any, **options: Any) -> str:
    """JSON that is always UTF-8 text: a lone surrogate is written as its ``\\u`` escape, which
    reads back as the same string (so a pair in a file with an undecodable name is still found)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, **options)
    return SURROGATES.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text through a temporary file and a rename, creating parent folders: a reader
    (or a CI upload) never sees half a file, and an interrupted run leaves the old one.

    A symlink is written through (its target is replaced, in the target's folder); an existing
    file that is not a regular one (a device, a FIFO, a folder) is refused with an OSError."""
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        raise OSError(f"{path!r} cannot be encoded as a file name on this system") from None
    target = Path(os.path.realpath(path))  # a dangling symlink resolves to the file it will create
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG | 0o644  # mkstemp's 0600 would hide a report from the rest of a CI job
    require_regular(mode, str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, stat.S_IMODE(mode))
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Path(path)


def load_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run document (a ``--moral-save`` file or a JSON report); :class:`DocumentError` says
    which file and what is wrong with it."""
    where = str(path)
    hint = "write one with --moral-save PATH or --moral-report json:PATH"
    try:
        data = read_regular(path, MAX_BYTES)
        if len(data) > MAX_BYTES:
            raise OSError(f"it is larger than {MAX_BYTES // 2**20} MiB, the most a run document may be")
    except OSError as exc:
        raise DocumentError(f"{where}: cannot read the run document: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentError(f"{where}: not a moralpairs run document: the file is not UTF-8 text ({hint})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"{where}: not a moralpairs run document: not JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); {hint}"
        ) from None
    except ValueError as exc:  # a number with more digits than Python converts
        reason = str(exc).split(";")[0]
        raise DocumentError(f"{where}: not a moralpairs run document: unreadable JSON ({reason}); {hint}") from None
    except RecursionError:
        raise DocumentError(f"{where}: not a moralpairs run document: JSON nested too deeply to read; {hint}") from None
    if not isinstance(document, dict):
        raise DocumentError(
            f"{where}: not a moralpairs run document: expected a JSON object, found {_json_type(document)}; {hint}"
        )
    found = document.get("format")
    if found != FORMAT:
        what = 'it has no "format"' if found is None else f'"format" is {_short(found)}'
        raise DocumentError(f"{where}: not a moralpairs run document: {what}, expected {FORMAT!r}; {hint}")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DocumentError(f'{where}: "version" is {_short(version)}, expected a whole number from 1 up')
    if version > VERSION:
        raise DocumentError(
            f"{where}: written by a newer pytest-moralpairs (format version {version}; this one reads "
            f"version {VERSION}): upgrade pytest-moralpairs to read it"
        )
    pairs = document.get("pairs")
    if not isinstance(pairs, list):
        what = 'has no "pairs"' if pairs is None else f'has "pairs" as {_json_type(pairs)}'
        raise DocumentError(f"{where}: the run document {what}, expected a list of pair results")
    for index, pair in enumerate(pairs):
        if not isinstance(pair, dict):
            raise DocumentError(f"{where}: pairs[{index}] is {_json_type(pair)}, expected an object")
        if not pair.get("nodeid") and not pair.get("pair_id"):
            raise DocumentError(f'{where}: pairs[{index}] has neither "nodeid" nor "pair_id"')
    return document


def pair_key(pair: dict[str, Any]) -> str:
    """What identifies a pair across runs: its nodeid (``file::id`` for a YAML pair), with the pair
    id added when one test checks several pairs (``test_x.py::test_two::lake``); else
    ``suite::pair_id``."""
    nodeid, pair_id = pair.get("nodeid"), pair.get("pair_id")
    if nodeid:
        nodeid = str(nodeid)
        last = nodeid.rsplit("::", 1)[-1]
        if pair_id is None or last == str(pair_id) or last == f"{pair_id}[{pair.get('model_name')}]":
            return nodeid
        return f"{nodeid}::{pair_id}"
    suite = pair.get("suite")
    return f"{suite}::{pair_id}" if suite else str(pair_id)


def index_pairs(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The document's pair results keyed by :func:`pair_key`."""
    return {pair_key(pair): pair for pair in document.get("pairs") or () if isinstance(pair, dict)}


def jsonable(value: Any) -> Any:
    """Plain JSON data: numpy scalars as Python numbers, tuples as lists, NaN and infinity as null."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)  # a numpy array or scalar
    if callable(tolist):
        try:
            return jsonable(tolist())
        except (TypeError, ValueError):
            pass
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return jsonable(to_dict())
    return str(value)


# --- helpers ---------------------------------------------------------------------------------


def _pair(result: dict[str, Any]) -> dict[str, Any]:
    """One result with every documented key (null when unknown), the rating intervals filled in,
    and every other key passed through."""
    pair = {key: jsonable(value) for key, value in result.items()}
    for key in PAIR_KEYS:
        pair.setdefault(key, None)
    if pair["regressed"] is None:
        pair["regressed"] = False
    if pair["outcome"] not in OUTCOMES:
        pair["outcome"] = "error"
    pair["passed"] = pair["outcome"] == "passed"  # a convenience that never contradicts the verdict
    if not pair["suite"] and pair["nodeid"]:
        pair["suite"] = str(pair["nodeid"]).split("::", 1)[0]
    if pair["human_gap"] is None and _number(pair["human_harmful"]) and _number(pair["human_harmless"]):
        pair["human_gap"] = pair["human_harmless"] - pair["human_harmful"]
    for side in ("harmful", "harmless"):
        if pair[f"{side}_low"] is None and pair[f"{side}_high"] is None:
            bounds = _rating_interval(pair, side)
            pair[f"{side}_low"], pair[f"{side}_high"] = bounds
    return pair


def _rating_interval(pair: dict[str, Any], side: str) -> tuple[float | None, float | None]:
    """A result that carries no interval of its own (a verdict carries both sides', from the
    gap's resamples): the rating, twice, or nulls without one."""
    rating = pair[f"{side}_rating"]
    return (rating, rating) if _number(rating) else (None, None)


def _counts(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes = Counter(p["outcome"] for p in pairs)
    rate = stats.pass_rate(pairs)["pass_rate"]  # the suite gate's own rule
    return {
        "pairs": len(pairs),
        "passed": outcomes["passed"],
        "failed": outcomes["failed"],
        "inconclusive": outcomes["inconclusive"],
        "errors": outcomes["error"],
        "pass_rate": None if rate is None else round(rate, 9),
    }


def _number(value: Any) -> bool:
    return stats.finite(value) is not None


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else "an object"


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = [
    "FORMAT",
    "VERSION",
    "DocumentError",
    "build_document",
    "index_pairs",
    "json_text",
    "jsonable",
    "load_document",
    "pair_key",
    "write_atomic",
    "write_json",
]


# --- reading results back (a saved run is a file anyone may have edited) ---------------------


def persona_summary(personas: Any) -> dict[str, Any] | None:
    """What a persona result is compared on, the saved run's and this run's alike: how many
    personas held, the spread, and how many structural-consistency checks held (with the largest
    difference found). Whatever is not of the documented shape counts as unknown (None)."""
    if not isinstance(personas, dict):
        return None

    def part(data: Any, key: str) -> Any:
        return data.get(key) if isinstance(data, dict) else None

    counts, spread = part(personas, "personas"), part(personas, "spread")
    checks = part(part(personas, "consistency"), "checks")
    checks = [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []
    differences = [d for d in (within(c.get("difference"), 0.0, 2 * SCALE_MAX) for c in checks) if d is not None]
    return {
        "passed": count_of(part(counts, "passed")),
        "count": count_of(part(counts, "count")),
        "harmful_sd": within(part(part(spread, "harmful"), "sd"), 0.0, SCALE_MAX),
        "harmless_sd": within(part(part(spread, "harmless"), "sd"), 0.0, SCALE_MAX),
        "consistency_held": sum(c.get("passed") is True for c in checks) if checks else None,
        "consistency_checks": len(checks) or None,
        "consistency_worst": max(differences) if differences else None,
        "outcome": one_of(personas.get("outcome"), (PASSED, FAILED)),
    }


def count_of(value: Any) -> int | None:
    """A count read from a saved run: a whole number from 0 up, else unknown."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def within(value: Any, low: float, high: float) -> float | None:
    """A number read from a saved run: finite and within ``low..high``, else unknown."""
    number = finite(value)
    return number if number is not None and low <= number <= high else None


def samples_of(value: Any, most: int = MAX_SAMPLES) -> tuple[float, ...] | None:
    """A sentence's sample ratings read from a saved run: a list of 1 to ``most`` numbers on the
    rating scale, else unknown (a file anyone may edit must not make a bootstrap of millions)."""
    if not isinstance(value, list) or not 0 < len(value) <= most:
        return None
    numbers = [within(v, -SCALE_MAX, SCALE_MAX) for v in value]
    return None if None in numbers else tuple(numbers)  # type: ignore[arg-type]


def one_of(value: Any, allowed: Sequence[str] | None = None) -> str | None:
    """A text read from a saved run (one of ``allowed``, when given), else unknown."""
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        return None
    return value
