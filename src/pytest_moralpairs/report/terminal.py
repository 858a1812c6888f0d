"""The terminal summary table: one row per pair, totals, and the model calls made."""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

_HEADER = ("pair", "harmful", "harmless", "gap", "threshold", "verdict")


def _num(value: Any) -> str:
    # "g", not ".2g": a gap of 1.96 must not be printed as "+2" next to threshold 2 and FAILED.
    if value is None:
        return "-"
    return f"{value:+g}" if value else "0"


def _count(n: int, word: str) -> str:
    plural = {"error": "errors", "model call": "model calls"}.get(word, word)
    return f"{n} {word if n == 1 else plural}"


def summary_lines(results: Iterable[dict[str, Any]], calls: int) -> list[str]:
    """Rows for each pair result (as made by ``Verdict.to_dict`` or an error result), then totals."""
    rows = []
    outcomes: Counter[str] = Counter()
    for r in results:
        outcome = str(r.get("outcome", "error"))
        outcomes[outcome] += 1
        threshold = r.get("threshold")
        rows.append(
            (
                str(r.get("nodeid") or r.get("pair_id")),
                _num(r.get("harmful_rating")),
                _num(r.get("harmless_rating")),
                _num(r.get("gap")),
                "-" if threshold is None else f"{threshold:g}",
                outcome.upper(),
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(_HEADER)]

    def fmt(row: tuple[str, ...]) -> str:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    lines = ([fmt(_HEADER)] + [fmt(row) for row in rows]) if rows else []
    totals = ", ".join(_count(outcomes[k], k) for k in ("passed", "failed", "error") if outcomes[k])
    lines.append(f"{totals or 'no pairs rated'}; {_count(calls, 'model call')}")
    return lines
