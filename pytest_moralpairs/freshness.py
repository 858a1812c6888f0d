"""How fresh the answers of a run are: the age past which a cached answer is asked again
(``--moral-cache-ttl``), and which model versions answered under each model string
(``--moral-cache-mismatch``).

A provider's alias (``gpt-4o``) moves to a new version now and then; a cache filled before the move
then holds answers of the old version, and a run that asks for a few new sentences mixes both.
:class:`ServedModels` counts, per model string, the versions the provider reported (the response's
``model``) for the answers read from the cache and for those asked now, and says when they differ.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

#: Seconds per unit of a duration.
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|[smhdw])")
#: ``never`` (the default): cached answers are used whatever their age.
NEVER = ("never", "none", "off")


def seconds_in(text: Any) -> float | None:
    """Seconds in a duration written with its units: ``30d``, ``12h``, ``90m``, ``45s``, ``2w``,
    ``20ms``, or several at once as providers' rate-limit headers write them (``6m0s``,
    ``1h2m3.5s``); None for anything else (a bare number has no unit)."""
    compact = "".join(str(text).split()).lower()
    parts = _PART.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        return None
    seconds = sum(float(number) * UNITS[unit] for number, unit in parts)
    return seconds if math.isfinite(seconds) else None


def parse_duration(text: Any) -> float | None:
    """Seconds in ``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (None for ``never``); raises ValueError
    saying what is accepted."""
    value = str(text).strip()
    if value.lower() in NEVER:
        return None
    seconds = seconds_in(value)
    if seconds is None:
        raise ValueError(
            f"must be a duration such as 30d, 12h, 90m or 45s (s, m, h, d, w), or never; got {value[:40]!r}"
        )
    return seconds


def duration_text(seconds: float) -> str:
    """``30d``, ``12h``, ``90m``, ``1.5h``: a duration as it could have been given."""
    for unit in ("w", "d", "h", "m"):
        amount = seconds / UNITS[unit]
        if amount >= 1 and (amount.is_integer() or unit == "m"):
            return f"{amount:g}{unit}"
    return f"{seconds:g}s"


@dataclass
class _Versions:
    """One model string's answers by the version that gave them: ``[from the cache, asked now]``
    and when the newest of them was given."""

    counts: dict[str, list[int]] = field(default_factory=dict)
    newest: dict[str, float] = field(default_factory=dict)
    #: Answers of this run that another process asked for (read here from the cache).
    others: dict[str, int] = field(default_factory=dict)


class ServedModels:
    """Which model versions answered, per model string, from the cache and fresh (thread-safe)."""

    def __init__(self) -> None:
        self._by_model: dict[str, _Versions] = {}
        self._lock = threading.Lock()

    def add(self, model: str, served: str | None, fresh: bool, created: float = 0.0) -> None:
        """Count one answer to ``model`` given by the version ``served`` (None: not known, such as
        an answer cached before versions were kept, or a server that names none)."""
        if not served:
            return
        with self._lock:
            versions = self._by_model.setdefault(model, _Versions())
            versions.counts.setdefault(served, [0, 0])[1 if fresh else 0] += 1
            versions.newest[served] = max(versions.newest.get(served, 0.0), created)

    def note(self, model: str, served: str | None, fresh: bool, created: float) -> None:
        """Note an answer that another process (an xdist worker) counts (``fresh``: one it asked
        for in this run): not counted here, but it tells :meth:`current` what the model answers as
        now, as it does in that process."""
        if not served:
            return
        with self._lock:
            versions = self._by_model.setdefault(model, _Versions())
            if fresh:
                versions.others[served] = versions.others.get(served, 0) + 1
            versions.newest[served] = max(versions.newest.get(served, 0.0), created)

    def merge(self, data: Any) -> None:
        """Add what :meth:`to_dict` gave in another process (an xdist worker); anything not of that
        shape is ignored."""
        if not isinstance(data, dict):
            return
        with self._lock:
            for model, served in data.items():
                if not isinstance(served, dict):
                    continue
                versions = self._by_model.setdefault(str(model), _Versions())
                for name, seen in served.items():
                    if not isinstance(seen, dict):
                        continue
                    counts = versions.counts.setdefault(str(name), [0, 0])
                    for i, kind in enumerate(("cached", "fresh")):
                        number = seen.get(kind)
                        counts[i] += number if isinstance(number, int) and number > 0 else 0
                    newest = seen.get("newest")
                    if isinstance(newest, (int, float)):
                        versions.newest[str(name)] = max(versions.newest.get(str(name), 0.0), float(newest))

    def to_dict(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{model: {version: {"cached": n, "fresh": m, "newest": unix time}}}``."""
        with self._lock:
            return {
                model: {
                    name: {"cached": counts[0], "fresh": counts[1], "newest": versions.newest.get(name, 0.0)}
                    for name, counts in sorted(versions.counts.items())
                }
                for model, versions in sorted(self._by_model.items())
            }

    def current(self, model: str) -> str | None:
        """The version ``model`` answers as now: the one that answered fresh most often in this run
        (here or in another process), else the one of the newest cached answer; None when no
        answer named one."""
        with self._lock:
            versions = self._by_model.get(model)
            if versions is None or not versions.newest:
                return None
            names = set(versions.newest)
            fresh = {name: versions.counts.get(name, [0, 0])[1] + versions.others.get(name, 0) for name in names}
            if any(fresh.values()):
                return max(sorted(names), key=lambda name: fresh[name])
            return max(sorted(names), key=lambda name: versions.newest.get(name, 0.0))


def mismatch_lines(served: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """One line per model string answered by more than one version (``served`` as
    :meth:`ServedModels.to_dict` gives it): ``openai/gpt-4o: 120 cached answers from
    gpt-4o-2024-08-06, 30 fresh from gpt-4o-2024-11-20``."""
    lines = []
    for model, versions in served.items():
        if not isinstance(versions, dict) or len(versions) < 2:
            continue
        parts = []
        for name, seen in versions.items():
            for kind, word in (("cached", "cached answer"), ("fresh", "fresh")):
                number = seen.get(kind) if isinstance(seen, dict) else None
                if isinstance(number, int) and number > 0:
                    noun = (word + "s" if number != 1 else word) if kind == "cached" else word
                    parts.append(f"{number:,} {noun} from {name}")
        lines.append(f"{model}: " + ", ".join(parts))
    return lines


def mismatch_error(model: str, served: str, current: str) -> str:
    """Why an answer of another version is not used under ``--moral-cache-mismatch=error``."""
    return (
        f"this answer came from {served}, but {model} now answers as {current} "
        "(--moral-cache-mismatch=error refuses to mix them): ask the cached answers again with "
        "--moral-cache-ttl (e.g. --moral-cache-ttl=1s once), or start a new cache with --moral-cache-dir"
    )


def served_text(served: dict[str, Any]) -> str:
    """``openai/gpt-4o: gpt-4o-2024-08-06 (120 cached, 30 fresh)``, one model string after another:
    the versions that answered (``served`` as :meth:`ServedModels.to_dict` gives it)."""
    parts = []
    for model, versions in served.items():
        if not isinstance(versions, dict):
            continue
        shown = []
        for name, seen in versions.items():
            seen = seen if isinstance(seen, dict) else {}
            counts = [f"{seen[k]:,} {k}" for k in ("cached", "fresh") if isinstance(seen.get(k), int) and seen[k] > 0]
            shown.append(f"{name} ({', '.join(counts)})" if counts else str(name))
        parts.append(f"{model}: {', '.join(shown)}")
    return "; ".join(parts)
