"""The terminal summary table: one row per pair, totals, and what the model calls cost.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Iterable

from ..freshness import mismatch_lines
from ..prompt import DEFAULT_PROMPT
from ..stats import alignment
from .document import pair_key, persona_summary
from .formatting import alignment_text, budget_line, fixed, percents, plural, signed_or, usage_text
from .models import in_order, is_comparison, model_lines, models_of, reference_lines
from .models import table as comparison_table

_HEADER = ("pair", "harmful", "harmless", "gap", "threshold", "verdict")
#: A line of the summary and its colour, as pytest's terminal writer takes it (``{"red": True}``).
Line = tuple[str, dict[str, bool]]


def section(
    results: list[dict[str, Any]],
    usage: Any,
    settings: Any,
    compared_with: dict[str, Any] | None = None,
    gate: dict[str, Any] | None = None,
    written: Iterable[tuple[str, bool]] = (),
    hook_errors: Iterable[str] = (),
    suites: Iterable[dict[str, Any]] = (),
    served: dict[str, Any] | None = None,
) -> tuple[str, list[Line]]:
    """The run's section of the terminal summary: its title (the models rated) and its lines.

    The table and totals, what ``--moral-compare`` matched, the baseline model's misses, the
    persona and human-alignment lines, the suite gate, one line per report written (``(line,
    failed)``), and what went wrong in the users' result hooks; the error budget, and the models
    answered by more than one version (``served``, per model string).
    """
    results = in_order(results, getattr(settings, "models", ()))
    models = models_of(results) or sorted({str(r.get("model")) for r in results if r.get("model")})
    title = "moralpairs" + (": " + ", ".join(models) if models else "")
    lines: list[Line] = [(line, {}) for line in summary_lines(results, usage)]
    if is_comparison(results):
        # Several models: a row per pair with a column group per model, then a line per model.
        table = comparison_table(results, pair_key) + [lines[-1][0]]
        lines = [(line, {}) for line in table + model_lines(results)]
        lines += [(line, {"yellow": True}) for line in reference_lines(results, pair_key)]
    if settings.compare:
        compared = compare_lines(results, settings.compare, compared_with, settings, suites)
        lines += [(line, {"yellow": warn}) for line, warn in compared]
    if settings.baseline_model:
        lines += [(line, {"yellow": True}) for line in baseline_lines(results, settings.baseline_model)]
    lines += [(line, {}) for line in persona_lines(results) + alignment_lines(results, settings.baseline_model)]
    if gate is not None and gate["passed"] is not None:
        lines.append((gate_line(gate), {"red": not gate["passed"], "green": gate["passed"]}))
    if gate is not None and gate.get("within_error_budget") is not None and gate.get("errors"):
        within = bool(gate["within_error_budget"])
        lines.append((budget_line(gate), {"yellow": within, "red": not within}))
    error_mode = getattr(settings, "cache_mismatch", "warn") == "error"
    for line in mismatch_lines(served or {}):
        what = "the other version's answers ERROR" if error_mode else "the run mixes them"
        lines.append((f"model versions differ, {line}: {what}", {"yellow": not error_mode, "red": error_mode}))
    lines += [(line, {"red": failed}) for line, failed in written]
    lines += [(line, {"red": True}) for line in hook_errors]
    return title, lines


def _interval(r: dict[str, Any]) -> str:
    low, high = r.get("gap_low"), r.get("gap_high")
    if low is None or high is None or (r.get("samples") or 1) <= 1:
        return "-"
    # The bounds decide the verdict: never rounded onto the other side of the threshold.
    return f"[{signed_or(low, r.get('threshold'))}, {signed_or(high, r.get('threshold'))}]"


#: Optional columns: (header, shown when any result has this, cell).
_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], str]], ...] = (
    ("interval", lambda r: (r.get("samples") or 1) > 1, _interval),
    ("human gap", lambda r: r.get("human_gap") is not None, lambda r: signed_or(r.get("human_gap"))),
    ("baseline gap", lambda r: bool(r.get("baseline")), lambda r: signed_or((r.get("baseline") or {}).get("gap"))),
    ("change", lambda r: "previous" in r, lambda r: _change(r)),
    ("personas", lambda r: isinstance(r.get("personas"), dict), lambda r: _personas(r)),
)


def _personas(r: dict[str, Any]) -> str:
    counts = (r.get("personas") or {}).get("personas") or {}
    return f"{counts['passed']}/{counts['count']}" if counts else "-"


def _change(r: dict[str, Any]) -> str:
    if r.get("previous") is None:
        return "new" if r.get("outcome") != "error" else "-"
    change = r.get("gap_change")
    if change is None:
        return "-"
    low, high = r.get("gap_change_low"), r.get("gap_change_high")
    interval = f" [{signed_or(low)}, {signed_or(high)}]" if low is not None and high is not None else ""
    return signed_or(change) + interval + (" !" if r.get("regressed") else "")


def summary_lines(results: Iterable[dict[str, Any]], usage: Any) -> list[str]:
    """Rows for each pair result (as made by ``Verdict.to_dict`` or an error result), then totals
    and usage (a :class:`~pytest_moralpairs.engine.Usage`, or a bare count of calls).

    Columns for intervals, human gaps, the baseline model's gaps and the change against a saved
    run appear only when some result has them.
    """
    results = list(results)
    extra = [(header, cell) for header, shown, cell in _COLUMNS if any(shown(r) for r in results)]
    header = (*_HEADER[:4], *(h for h, _ in extra), *_HEADER[4:])
    rows = []
    outcomes: Counter[str] = Counter()
    for r in results:
        outcome = str(r.get("outcome", "error"))
        outcomes[outcome] += 1
        threshold = r.get("threshold")
        rows.append(
            (
                pair_key(r) + (f" ({r['examples']} examples)" if r.get("examples") else ""),
                signed_or(r.get("harmful_rating")),
                signed_or(r.get("harmless_rating")),
                signed_or(r.get("gap"), r.get("threshold")),
                *(cell(r) for _, cell in extra),
                "-" if threshold is None else f"{threshold:g}",
                "REGRESSED" if r.get("regressed") else outcome.upper(),
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]

    def fmt(row: tuple[str, ...]) -> str:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    lines = ([fmt(header)] + [fmt(row) for row in rows]) if rows else []
    totals = [f"{outcomes[k]:,} {k}" for k in ("passed", "failed", "inconclusive") if outcomes[k]]
    if outcomes["error"]:
        # Errors are no verdict on the model: the call failed or the answer was unusable.
        totals.append(plural(outcomes["error"], "error") + " (not rated)")
    lines.append(f"{', '.join(totals) or 'no pairs rated'}; {usage_text(usage)}")
    return lines


def alignment_lines(results: Iterable[dict[str, Any]], baseline_model: str | None = None) -> list[str]:
    """Per suite with human ratings: how the model's ratings follow the human raters'."""
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_suite.setdefault(str(r.get("suite") or "-"), []).append(r)
    lines = []
    for suite, rows in by_suite.items():
        a = alignment(rows)
        if a["sentences_with_human"]:
            lines.append(f"human alignment, {suite}: {alignment_text(a, baseline_model)}")
    return lines


def gate_line(gate: dict[str, Any]) -> str:
    """``suite gate: 7 of 10 rated pairs passed (70%), required 80%: FAILED``."""
    rate, minimum = percents(gate["pass_rate"], gate["min_pass_rate"])
    text = (
        f"suite gate: {gate['passed_pairs']} of {gate['rated']} rated pairs passed ({rate}), "
        f"required {minimum}: {'PASSED' if gate['passed'] else 'FAILED'}"
    )
    if gate.get("errors"):
        text += f" ({gate['errors']} not rated, counted apart)"
    return text


def _of(passed: Any, count: Any) -> str:
    """``11 of 14``; ``?`` for a count that is unknown."""
    return " of ".join("?" if isinstance(n, bool) or not isinstance(n, int) else str(n) for n in (passed, count))


def persona_lines(results: Iterable[dict[str, Any]]) -> list[str]:
    """One line per pair rated across personas: how many held, the spread of each sentence's
    ratings against its minimum, structural consistency, and the saved run's numbers."""
    lines = []
    for r in results:
        personas = r.get("personas")
        if not isinstance(personas, dict):
            continue
        counts = personas.get("personas") or {}
        parts = [f"gap held for {counts.get('passed')} of {counts.get('count')} (needs {counts.get('required')})"]
        spread = personas.get("spread") or {}
        sds = []
        for side in ("harmful", "harmless"):
            check = spread.get(side) or {}
            text = f"{side} {fixed(check.get('sd'))}"
            if check.get("minimum") is not None:
                text += f" (min {fixed(check.get('minimum'))}{'' if check.get('passed') else ', FAILED'})"
            sds.append(text)
        parts.append("sd " + ", ".join(sds))
        consistency = personas.get("consistency") or {}
        checks = consistency.get("checks") or []
        if checks:
            held = sum(bool(c.get("passed")) for c in checks)
            parts.append(f"consistency {held} of {len(checks)} within {consistency.get('max'):g}")
        before = (r.get("previous") or {}).get("personas")
        if before:
            saved = (
                f"saved run: {_of(before.get('passed'), before.get('count'))}, "
                f"sd {fixed(before.get('harmful_sd'))}/{fixed(before.get('harmless_sd'))}"
            )
            if before.get("consistency_checks") or checks:
                saved += f", consistency {_of(before.get('consistency_held'), before.get('consistency_checks'))}"
                now = persona_summary(personas) or {}
                then, now = fixed(before.get("consistency_worst")), fixed(now.get("consistency_worst"))
                if (then, now) != ("-", "-"):
                    saved += f", off by at most {then} (now {now})"
            parts.append(saved)
        outcome = str(personas.get("outcome", "")).upper()
        lines.append(f"personas, {pair_key(r)}: " + "; ".join(parts) + f": {outcome}")
    return lines


def compare_lines(
    results: Iterable[dict[str, Any]],
    path: str,
    saved: dict[str, Any] | None,
    settings: Any,
    suites: Iterable[dict[str, Any]] = (),
) -> list[tuple[str, bool]]:
    """What ``--moral-compare`` matched, and what differs in how the saved run was made:
    ``(line, is a warning)``."""
    results = [r for r in results if "previous" in r]
    found = sum(r["previous"] is not None for r in results)
    saved = saved or {}
    held = plural(len(saved["pairs"]) if isinstance(saved.get("pairs"), list) else 0, "pair")
    what = "; --moral-compare-fail checked nothing" if settings.compare_fail is not None else ""
    if not results:
        line = f"this run rated no pair; the saved run holds {held}{what}"
    elif not found:
        line = f"none of the {len(results)} pairs is in the saved run, which holds {held}{what}"
    else:
        line = f"{found} of {len(results)} pairs found in the saved run"
    lines = [(f"compared with {path}: {line}", not found)]
    saved_settings = saved.get("settings") if isinstance(saved.get("settings"), dict) else {}
    for name, now, then in (
        ("model", settings.model, saved.get("model")),
        ("default prompt", DEFAULT_PROMPT.digest, saved.get("prompt_hash")),
        ("scoring", settings.scoring, saved_settings.get("scoring")),
        ("samples", settings.samples, saved_settings.get("samples")),
    ):
        if isinstance(then, (str, int)) and not isinstance(then, bool) and then != now:
            lines.append((f"the saved run used {name} {then}, this run {now}: the changes mix both", True))
    lines += [(line, True) for line in suite_changes(suites, saved.get("moral_suites"))]
    changed = [pair_key(r) for r in results if _prompt_changed(r, saved.get("prompt_hash"), DEFAULT_PROMPT.digest)]
    if changed:
        names = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        line = f"the prompt of {plural(len(changed), 'pair')} changed since the saved run ({names})"
        lines.append((f"{line}: the changes mix both", True))
    return lines


def suite_changes(now: Iterable[dict[str, Any]], then: Any) -> list[str]:
    """A line for each suite of this run that the saved run ran in another content (a new
    version, or edited files): its pairs' changes compare different pairs."""
    saved = {s.get("name"): s for s in then if isinstance(s, dict)} if isinstance(then, list) else {}
    lines = []
    for suite in now:
        before = saved.get(suite["name"])
        if before is None or before.get("sha256") == suite["sha256"]:
            continue
        lines.append(
            f"the saved run ran suite {suite['name']} {_suite_label(before)}, this run {_suite_label(suite)}: "
            "its pairs changed, so their changes compare different pairs"
        )
    return lines


def _suite_label(suite: dict[str, Any]) -> str:
    version = f"{suite.get('version')} " if isinstance(suite.get("version"), str) else ""
    digest = suite.get("sha256")
    return f"{version}(sha256 {str(digest)[:12] if isinstance(digest, str) else 'unknown'})"


def _prompt_changed(r: dict[str, Any], saved_default: Any, default: str) -> bool:
    """Whether the pair was asked with another prompt template than in the saved run; a change
    of the default prompt alone is left to the run-wide line."""
    then, now = (r.get("previous") or {}).get("prompt_hash"), r.get("prompt_hash")
    if not isinstance(then, str) or not isinstance(now, str) or then == now:
        return False
    return not (then == saved_default and now == default)


def baseline_lines(results: Iterable[dict[str, Any]], model: str) -> list[str]:
    """Why the baseline model's column is missing where it is: it could not rate those pairs."""
    errors = [str(r["baseline_error"]) for r in results if r.get("baseline_error")]
    if not errors:
        return []
    return [f"baseline {model} could not rate {plural(len(errors), 'pair')}: {errors[0]}"]
