"""How the reports write numbers, counts and the human-alignment sentence.

The terminal summary and the HTML page both build on these, so the two say the same thing the
same way; each page or table only chooses what to show where a number is missing.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import html
from typing import Any

from ..stats import finite
from ..verdicts import signed

#: An outcome as the reports name it.
OUTCOME_LABELS = {"passed": "PASSED", "failed": "FAILED", "inconclusive": "INCONCLUSIVE", "error": "ERROR"}
_PLURALS = {"retry": "retries"}


def signed_or(value: Any, threshold: Any = None, missing: str = "-") -> str:
    """A rating or gap as :func:`~pytest_moralpairs.verdicts.signed` writes it (never rounded
    onto the other side of a number ``threshold``), or ``missing`` for None."""
    if value is None:
        return missing
    return signed(value, threshold if isinstance(threshold, (int, float)) else None)


def fixed(value: Any, missing: str = "-") -> str:
    """Two decimals (a correlation, a standard deviation), or ``missing`` for what is not a finite
    number."""
    return missing if finite(value) is None else f"{value:.2f}"


def plural(n: Any, word: str) -> str:
    """``1 pair``, ``2,712 pairs``, ``2 retries``."""
    if not isinstance(n, int) or isinstance(n, bool):
        return f"{n} {_PLURALS.get(word, word + 's')}"
    return f"{n:,} {word if n == 1 else _PLURALS.get(word, word + 's')}"


def usage_text(usage: Any) -> str:
    """``24 model calls, 2 retries, 10 answers from the cache; 2,712 tokens (1,024 prompt tokens
    cached by the provider), $0.0012``."""
    if isinstance(usage, int):
        return plural(usage, "model call")
    calls = [plural(usage.calls, "model call")]
    if usage.retries:
        calls.append(plural(usage.retries, "retry"))
    if usage.cache_hits:
        calls.append(plural(usage.cache_hits, "answer") + " from the cache")
    expired = getattr(usage, "expired", 0) or 0
    if expired:
        calls.append(f"{expired:,} too old for --moral-cache-ttl (asked again)")
    text = ", ".join(calls)
    tokens = usage.prompt_tokens + usage.completion_tokens
    spend = []
    thought = getattr(usage, "reasoning_tokens", 0)
    if tokens:
        cached = getattr(usage, "cached_tokens", 0) or 0
        notes = [f"{thought:,} reasoning"] if thought else []
        # The provider's own prompt cache: part of the prompt tokens, at its cached price.
        notes += [f"{cached:,} prompt tokens cached by the provider"] if cached else []
        spend.append(f"{tokens:,} tokens" + (f" ({'; '.join(notes)})" if notes else ""))
    if usage.cost:
        spend.append(f"${usage.cost:.4f}")
    return text + ("; " + ", ".join(spend) if spend else "")


def percents(rate: float, minimum: float, fewest: int = 0) -> tuple[str, str]:
    """A pass rate and its minimum as percentages, with as many decimals (from ``fewest``) as it
    takes for the two to compare as the numbers do: 57.1% against 57.5%, never 57% against 57%."""
    for decimals in range(fewest, 10):
        shown = f"{rate * 100:.{decimals}f}", f"{minimum * 100:.{decimals}f}"
        if (float(shown[0]) >= float(shown[1])) == (rate >= minimum):
            break
    return f"{shown[0]}%", f"{shown[1]}%"


def alignment_text(a: dict[str, Any], baseline_model: str | None = None) -> str:
    """How the model's ratings follow the human raters' (a :func:`~pytest_moralpairs.stats.alignment`
    dict): ``6 sentences with human ratings; correlation r = 0.89, sensitivity ratio 1.25 (median
    model gap / human gap, 3 pairs rated by humans on both sides)``, and the baseline model's r and
    ratio where it has them."""
    sentences, pairs = a.get("sentences_with_human") or 0, a.get("pairs_with_human") or 0
    text = (
        f"{plural(sentences, 'sentence')} with human ratings; correlation r = {fixed(a.get('correlation'), 'n/a')}, "
        f"sensitivity ratio {fixed(a.get('sensitivity_ratio'), 'n/a')} "
        f"(median model gap / human gap, {plural(pairs, 'pair')} rated by humans on both sides)"
    )
    r, ratio = a.get("baseline_correlation"), a.get("baseline_sensitivity_ratio")
    if baseline_model and (r is not None or ratio is not None):
        text += f"; baseline {baseline_model}: r = {fixed(r, 'n/a')}, ratio {fixed(ratio, 'n/a')}"
    return text


def row_label(p: dict[str, Any]) -> str:
    """A pair's name within its suite: its node id without the file, else its pair id."""
    nodeid, suite = str(p.get("nodeid") or ""), str(p.get("suite") or "")
    if nodeid and suite and nodeid.startswith(suite + "::"):
        return nodeid[len(suite) + 2 :]
    return nodeid or str(p.get("pair_id") or "")


def escape(value: Any) -> str:
    """``value`` as text safe in HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def budget_line(gate: dict[str, Any]) -> str:
    """``3 of 200 pairs unrated (1.5%), within the error budget of 2%``."""
    # Up to two decimals, none that say nothing: 1.5%, 2%, 33.33%.
    shares = (gate["error_rate"], gate["max_error_rate"])
    rate, budget = (f"{share * 100:.2f}".rstrip("0").rstrip(".") + "%" for share in shares)
    within = gate["within_error_budget"]
    return (
        f"{gate['errors']:,} of {gate['pairs']:,} pairs unrated ({rate}), "
        f"{'within' if within else 'over'} the error budget of {budget}"
        + ("" if within else ": they count as without one (exit status 10)")
    )
