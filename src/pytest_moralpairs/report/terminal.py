"""The terminal summary table: one row per pair, totals, and what the model calls cost."""

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
    plural = {"error": "errors", "model call": "model calls", "retry": "retries", "answer": "answers"}.get(word, word)
    return f"{n:,} {word if n == 1 else plural}"


def usage_text(usage: Any) -> str:
    """``24 model calls, 2 retries, 10 answers from the cache; 2,712 tokens, $0.0012``."""
    if isinstance(usage, int):
        return _count(usage, "model call")
    calls = [_count(usage.calls, "model call")]
    if usage.retries:
        calls.append(_count(usage.retries, "retry"))
    if usage.cache_hits:
        calls.append(_count(usage.cache_hits, "answer") + " from the cache")
    text = ", ".join(calls)
    tokens = usage.prompt_tokens + usage.completion_tokens
    spend = []
    if tokens:
        spend.append(f"{tokens:,} tokens")
    if usage.cost:
        spend.append(f"${usage.cost:.4f}")
    return text + ("; " + ", ".join(spend) if spend else "")


def summary_lines(results: Iterable[dict[str, Any]], usage: Any) -> list[str]:
    """Rows for each pair result (as made by ``Verdict.to_dict`` or an error result), then totals
    and usage (a :class:`~pytest_moralpairs.engine.Usage`, or a bare count of calls)."""
    rows = []
    outcomes: Counter[str] = Counter()
    for r in results:
        outcome = str(r.get("outcome", "error"))
        outcomes[outcome] += 1
        threshold = r.get("threshold")
        rows.append(
            (
                str(r.get("nodeid") or r.get("pair_id"))
                + (f" ({r['examples']} examples)" if r.get("examples") else ""),
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
    totals = [_count(outcomes[k], k) for k in ("passed", "failed") if outcomes[k]]
    if outcomes["error"]:
        # Errors are no verdict on the model: the call failed or the answer was unusable.
        totals.append(_count(outcomes["error"], "error") + " (not rated)")
    lines.append(f"{', '.join(totals) or 'no pairs rated'}; {usage_text(usage)}")
    return lines
