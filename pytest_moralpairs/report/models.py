"""Several models in one run: the results grouped by pair and by model, for every report.

A run with more than one ``--moral-model`` rates each pair once per model; its results carry
``model_name`` (the profile's name or the model string), ``gating`` and, against a
``--moral-reference``, ``reference``. Here they become one row per pair with a column group per
model, one line per model (pass rate, human alignment), and the pairs a model lost against the
reference, with intervals. The terminal summary, the JSON document, the HTML page and the
Markdown report all read these.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .. import stats
from .formatting import alignment_text, percents, plural, signed_or


def is_comparison(results: Iterable[dict[str, Any]]) -> bool:
    """Whether the results come from a run of several models."""
    return any(r.get("model_name") for r in results)


def models_of(results: Iterable[dict[str, Any]]) -> list[str]:
    """The models' names, in the order the run gave them (first seen)."""
    return list(dict.fromkeys(str(r["model_name"]) for r in results if r.get("model_name")))


def in_order(results: Iterable[dict[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    """The results with the models in the run's order (``--moral-model`` as given), whatever
    order they arrived or were sorted in (each model's own results keep theirs)."""
    rank = {name: index for index, name in enumerate(order)}
    return sorted(results, key=lambda r: rank.get(str(r.get("model_name")), len(rank)))


def pair_name(result: dict[str, Any], key: str) -> str:
    """The pair's key without its model: ``file::id[model]`` -> ``file::id``, and a generated
    check's ``file::id[check-model]`` -> ``file::id[check]``."""
    model = result.get("model_name")
    if not model:
        return key
    for suffix, keep in ((f"[{model}]", ""), (f"-{model}]", "]")):
        if key.endswith(suffix):
            return key[: -len(suffix)] + keep
    return key


def by_pair(results: Iterable[dict[str, Any]], key: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """pair -> model -> result, pairs in the order first seen; ``key(result)`` names a pair."""
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for r in results:
        if r.get("model_name"):
            grouped.setdefault(pair_name(r, key(r)), {})[str(r["model_name"])] = r
    return grouped


def verdict_text(r: dict[str, Any] | None) -> str:
    """``PASSED``, ``FAILED``, ``LOST`` (failed only against the reference) ... and ``-`` for none."""
    if r is None:
        return "-"
    outcome = str(r.get("outcome") or "error").upper()
    lost = bool((r.get("reference") or {}).get("lost"))
    if lost and stats.decide(*_interval(r), r.get("threshold") or 0) == stats.PASSED:
        outcome = "LOST"  # the gap was enough on its own: only the reference beat it
    elif lost:
        outcome += ", LOST"
    if r.get("regressed"):
        outcome = "REGRESSED"
    return outcome


def _interval(r: dict[str, Any]) -> tuple[float, float]:
    gap = r.get("gap") or 0.0
    low, high = r.get("gap_low"), r.get("gap_high")
    return (low, high) if low is not None and high is not None else (gap, gap)


def table(results: list[dict[str, Any]], key: Any) -> list[str]:
    """One row per pair, a column group (gap, verdict) per model, under a line naming the models."""
    models = models_of(results)
    rows = []
    for pair, found in by_pair(results, key).items():
        cells = [pair]
        for model in models:
            r = found.get(model)
            cells += [signed_or(r.get("gap"), r.get("threshold")) if r else "-", verdict_text(r)]
        rows.append(cells)
    header = ["pair"] + ["gap", "verdict"] * len(models)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    for index, model in enumerate(models):  # a group is at least as wide as its model's name
        gap, verdict = 1 + 2 * index, 2 + 2 * index
        short = len(model) - (widths[gap] + 2 + widths[verdict])
        if short > 0:
            widths[verdict] += short

    def fmt(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        pairs = enumerate(zip(row[1:], widths[1:], strict=True))
        cells += [cell.rjust(width) if i % 2 == 0 else cell.ljust(width) for i, (cell, width) in pairs]
        return "  ".join(cells).rstrip()

    groups = [" " * widths[0]]
    for index, model in enumerate(models):
        groups.append(model.ljust(widths[1 + 2 * index] + 2 + widths[2 + 2 * index]))
    return ["  ".join(groups).rstrip(), fmt(header)] + [fmt(row) for row in rows]


def model_summaries(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model: its name and model string, whether it gates, its counts, pass rate and human
    alignment, and the pairs it lost against the reference (with their intervals)."""
    results = list(results)
    summaries = []
    for model in models_of(results):
        mine = [r for r in results if r.get("model_name") == model]
        gate = stats.pass_rate(mine)
        lost = [r for r in mine if (r.get("reference") or {}).get("lost")]
        compared = [r for r in mine if r.get("reference")]
        summaries.append(
            {
                "name": model,
                "model": next((r.get("model") for r in mine if r.get("model")), None),
                "gating": all(r.get("gating") is not False for r in mine),
                "rated": gate["rated"],
                "passed": gate["passed_pairs"],
                "errors": gate["errors"],
                "pass_rate": gate["pass_rate"],
                "alignment": stats.alignment(mine),
                "reference": next((str(r["reference"].get("model")) for r in compared), None),
                "compared": len(compared),
                "lost": [r.get("nodeid") for r in lost],
            }
        )
    return summaries


def model_lines(results: list[dict[str, Any]]) -> list[str]:
    """A line per model: ``candidate (openai/gpt-4o-mini): 7 of 10 rated pairs passed (70%); ...``."""
    lines = []
    for s in model_summaries(results):
        rate = f" ({percents(s['pass_rate'], 0)[0]})" if s["pass_rate"] is not None else ""
        text = f"model {s['name']}"
        if s["model"] and s["model"] != s["name"]:
            text += f" ({s['model']})"
        text += f": {s['passed']} of {s['rated']} rated pairs passed{rate}"
        if s["errors"]:
            text += f", {s['errors']} not rated"
        if s["reference"]:
            text += f"; lost {plural(len(s['lost']), 'pair')} of {s['compared']} against {s['reference']}"
        if s["alignment"]["sentences_with_human"]:
            text += f"; human alignment: {alignment_text(s['alignment'])}"
        text += "" if s["gating"] else "; does not gate (--moral-gate)"
        lines.append(text)
    return lines


def reference_lines(results: list[dict[str, Any]], key: Any) -> list[str]:
    """The pairs each model lost against the reference, each with both gaps and the interval of
    their difference."""
    lines = []
    for model in models_of(results):
        lost = [r for r in results if r.get("model_name") == model and (r.get("reference") or {}).get("lost")]
        if not lost:
            continue
        reference = lost[0]["reference"]
        lines.append(
            f"{model} lost {plural(len(lost), 'pair')} against the reference {reference.get('model')} "
            f"(margin {reference.get('margin'):g}):"
        )
        for r in lost:
            lines.append(f"  {pair_name(r, key(r))}: {difference_text(r)}")
    return lines


def difference_text(r: dict[str, Any]) -> str:
    """``gap +0.50 against +3.00, difference -2.50 (95% interval -3.10 .. -1.90)``."""
    ref = r.get("reference") or {}
    text = f"gap {signed_or(r.get('gap'))} against {signed_or(ref.get('gap'))}"
    text += f", difference {signed_or(ref.get('difference'))}"
    if ref.get("low") is not None and ref.get("high") is not None:
        level = f"{ref['confidence']:.0%} " if isinstance(ref.get("confidence"), (int, float)) else ""
        text += f" ({level}interval {signed_or(ref['low'])} .. {signed_or(ref['high'])})"
    return text


def document_models(results: list[dict[str, Any]], configured: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run document's ``models``: each configured model (name, model string, whether it gates,
    whether it is the reference) with its summary (:func:`model_summaries`)."""
    summaries = {s["name"]: s for s in model_summaries(results)}
    return [{**summaries.get(m["name"], {}), **m} for m in configured]


def markdown_lines(doc: dict[str, Any]) -> list[str]:
    """What the Markdown report says of each model of a comparison: its line, and the pairs it
    lost against the reference (the first ten), as list items (plain text; the caller escapes)."""
    pairs = [p for p in doc.get("pairs") or () if isinstance(p, dict)]
    if not is_comparison(pairs):
        return []
    pairs = in_order(pairs, document_order(doc))
    lines = model_lines(pairs)
    lost = reference_lines(pairs, _nodeid)
    if len(lost) > 11:
        lost = lost[:11] + [f"  ... and {len(lost) - 11} more lines: the HTML and JSON reports hold every pair"]
    return lines + lost


def _nodeid(r: dict[str, Any]) -> str:
    return str(r.get("nodeid") or r.get("pair_id"))


def document_order(doc: dict[str, Any]) -> list[str]:
    """The models of a run document in the run's order (its ``models``)."""
    listed = doc.get("models") if isinstance(doc.get("models"), list) else []
    return [str(m.get("name")) for m in listed if isinstance(m, dict)]
