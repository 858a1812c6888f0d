"""The Markdown report (``--moral-report md:PATH``, and GitHub's job summary): GitHub-flavoured
Markdown for a pull-request comment, built from the run document as the HTML page is.

The verdict comes first, then the pairs that did not pass with both sentences, their ratings, gap
and change, then every pair in a folded table (``<details>``). However large the suite, the text
stays within :data:`LIMIT` characters, as GitHub counts them (it refuses a comment of more than
65,536): the tables are cut, with a count of the pairs left out. Sentences and names are escaped,
so a ``|``, ``<``, ``$`` or backtick in a sentence shows as typed and a ``@name`` mentions nobody.

No pytest here. PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..freshness import mismatch_lines
from ..stats import finite
from .document import SURROGATES, jsonable, pair_key, write_atomic
from .formatting import budget_line, percents, plural, signed_or
from .models import document_order, markdown_lines

#: The most characters a Markdown report holds (UTF-16 code units: a character beyond the Basic
#: Multilingual Plane, such as an emoji, counts twice, as GitHub counts it).
LIMIT = 65_000
#: What one cell may show of a sentence, a name, an error; what a line of the head may show of a
#: model name or a path.
SENTENCE_CHARS, NAME_CHARS, ERROR_CHARS, HEAD_CHARS = 300, 160, 200, 160
#: Room kept for the line that says how many pairs a table leaves out.
NOTE_ROOM = 200

OUTCOME_MARKS = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "inconclusive": "❔ inconclusive",
    "error": "⚠️ not rated",
}
#: What the run's exit status means, as the report's headline says it.
STATUS_VERDICTS = {
    0: ("✅", "passed"),
    1: ("❌", "failed"),
    2: ("⛔", "stopped (interrupted, or the credentials were refused)"),
    5: ("⚪", "found no tests"),
    10: ("⚠️", "could not rate every pair"),
}


#: What Markdown (GitHub's included) could read as syntax inside a table cell.
_SPECIAL = re.compile(r"[\\`*_\[\]|~$<>#]")


def length(text: str) -> int:
    """How long GitHub counts ``text``: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def md(value: Any, limit: int = SENTENCE_CHARS) -> str:
    """Text safe in a Markdown table cell: on one line, at most ``limit`` characters, with
    Markdown's and HTML's special characters shown as typed and ``@`` mentioning nobody."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # Character references rather than backslashes: no Markdown reads them as syntax, GitHub's
    # tables and math included, and they show as the character itself.
    text = html.escape(text, quote=False)
    text = _SPECIAL.sub(lambda m: f"&#{ord(m.group())};", text)
    return text.replace("@", "@&#8288;")  # a word joiner: "@name" is no mention


def code(value: Any, limit: int = HEAD_CHARS) -> str:
    """``value`` as an inline code span (never in a table: a ``|`` would end its cell)."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# --- columns: what a table of pairs shows ---------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a table of pairs: its heading, whether numbers (right-aligned), and its cell.
    A column for the change against a reference model (another issue's) is one more of these."""

    heading: str
    cell: Callable[[dict[str, Any]], str]
    numeric: bool = True


def _number(value: Any, threshold: Any = None) -> str:
    return signed_or(finite(value), finite(threshold), missing="–")


def _outcome(p: dict[str, Any]) -> str:
    if p.get("regressed"):
        return "❌ regressed"
    return OUTCOME_MARKS.get(str(p.get("outcome")), OUTCOME_MARKS["error"])


def _change(p: dict[str, Any]) -> str:
    if not isinstance(p.get("previous"), dict):
        return "new" if p.get("outcome") != "error" else "–"
    change = finite(p.get("gap_change"))
    if change is None:
        return "–"
    low, high = finite(p.get("gap_change_low")), finite(p.get("gap_change_high"))
    interval = f" [{_number(low)}, {_number(high)}]" if low is not None and high is not None else ""
    return _number(change) + interval + (" ▼" if p.get("regressed") else "")


def _sentences(p: dict[str, Any]) -> str:
    lines = [f"{sign} {md(p[side])}" for sign, side in (("−", "harmful"), ("+", "harmless")) if p.get(side)]
    if p.get("error"):
        lines.append(f"⚠️ {md(p['error'], ERROR_CHARS)}")
    return "<br>".join(lines) or "–"


def _threshold(p: dict[str, Any]) -> str:
    threshold = finite(p.get("threshold"))
    return "–" if threshold is None else f"{threshold:g}"


def columns(doc: dict[str, Any], pairs: list[dict[str, Any]], sentences: bool) -> list[Column]:
    """The columns of a table of ``pairs``: the change against ``--moral-compare`` when the run
    compared, the baseline model's gap when some pair has one, the sentences when asked."""
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    found = [
        Column("pair", lambda p: md(pair_key(p), NAME_CHARS), numeric=False),
        Column("outcome", _outcome, numeric=False),
        Column("harmful", lambda p: _number(p.get("harmful_rating"))),
        Column("harmless", lambda p: _number(p.get("harmless_rating"))),
        Column("gap", lambda p: _number(p.get("gap"), p.get("threshold"))),
        Column("threshold", _threshold),
    ]
    if settings.get("compare"):
        found.append(Column("change", _change))
    if any(isinstance(p.get("baseline"), dict) for p in pairs):
        found.append(Column("baseline gap", lambda p: _number((p.get("baseline") or {}).get("gap"))))
    if sentences:
        found.append(Column("sentences", _sentences, numeric=False))
    return found


def _header(cols: list[Column]) -> str:
    heads = "| " + " | ".join(c.heading for c in cols) + " |"
    rule = "|" + "|".join("--:" if c.numeric else ":--" for c in cols) + "|"
    return f"{heads}\n{rule}\n"


def _row(cols: list[Column], p: dict[str, Any]) -> str:
    return "| " + " | ".join(c.cell(p) for c in cols) + " |\n"


# --- the head: the verdict ------------------------------------------------------------------------


def verdict(doc: dict[str, Any], exit_status: int | None = None) -> tuple[str, str]:
    """The headline's mark and words: from the run's exit status when known, else from the counts,
    the gate and ``--moral-inconclusive``."""
    if exit_status is not None:
        return STATUS_VERDICTS.get(int(exit_status), ("⚠️", f"ended with exit status {int(exit_status)}"))
    totals = doc.get("totals") if isinstance(doc.get("totals"), dict) else {}
    gate = doc.get("gate") if isinstance(doc.get("gate"), dict) else {}
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    inconclusive_fails = settings.get("inconclusive", "fail") == "fail" and totals.get("inconclusive")
    if totals.get("failed") or gate.get("passed") is False or inconclusive_fails:
        return STATUS_VERDICTS[1]
    if totals.get("errors") and gate.get("within_error_budget") is not True:
        return STATUS_VERDICTS[10]
    if not totals.get("pairs"):
        return ("⚪", "rated no pairs")
    return STATUS_VERDICTS[0]


def _totals(totals: dict[str, Any]) -> str:
    counts = [f"{totals.get(k) or 0:,} {k}" for k in ("passed", "failed", "inconclusive")]
    counts.append(f"{totals.get('errors') or 0:,} not rated")
    rate = finite(totals.get("pass_rate"))
    tail = "" if rate is None else f"; pass rate {rate * 100:.1f}%"
    return f"**{plural(totals.get('pairs') or 0, 'pair')}**: " + ", ".join(counts) + tail


def _gate(gate: Any) -> str:
    if not isinstance(gate, dict) or finite(gate.get("min_pass_rate")) is None:
        return "**Gate**: none (no `--moral-min-pass-rate`)"
    minimum, rate = gate["min_pass_rate"], finite(gate.get("pass_rate"))
    if rate is None:
        return f"**Gate**: undecided (no pair rated; minimum {minimum * 100:.1f}%)"
    shown, least = percents(rate, minimum, fewest=1)
    return f"**Gate**: {'passed' if gate.get('passed') else '**FAILED**'} (pass rate {shown}, minimum {least})"


def _budget(gate: Any) -> str | None:
    """``**Error budget**: 3 of 200 pairs unrated (1.5%), within 2%``; None without a budget."""
    if not isinstance(gate, dict) or finite(gate.get("max_error_rate")) is None:
        return None
    try:
        return "**Error budget**: " + md(budget_line(gate), 200)
    except (KeyError, TypeError, ValueError):  # a document someone edited: no line rather than a wrong one
        return None


def _versions(doc: dict[str, Any]) -> str | None:
    """``**Model versions differ**: openai/gpt-4o: 120 cached answers from ..., 30 fresh from ...``."""
    served = doc.get("served_models")
    lines = mismatch_lines(served) if isinstance(served, dict) else []
    return ("**Model versions differ**: " + "; ".join(md(line, 300) for line in lines)) if lines else None


def _compared(doc: dict[str, Any], pairs: list[dict[str, Any]]) -> str | None:
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    if not settings.get("compare"):
        return None
    compared = [p for p in pairs if isinstance(p.get("previous"), dict)]
    regressed = sum(bool(p.get("regressed")) for p in pairs)
    lower = sum((finite(p.get("gap_change")) or 0) < 0 for p in compared)
    new = sum(p.get("previous") is None and p.get("outcome") != "error" for p in pairs)
    parts = [f"{len(compared)} of {plural(len(pairs), 'pair')} found"]
    limit = finite(settings.get("compare_fail"))
    if limit is not None:
        parts.append(f"{regressed} regressed (gap down by more than {limit:g})")
    parts.append(f"{lower} with a lower gap")
    if new:
        parts.append(f"{new} new")
    return f"**Compared with** {code(settings['compare'])}: " + ", ".join(parts)


def _suites(doc: dict[str, Any]) -> str | None:
    suites = [s for s in doc.get("moral_suites") or () if isinstance(s, dict)]
    if not suites:
        return None
    labels = []
    for s in suites[:5]:
        version = f" {s['version']}" if isinstance(s.get("version"), str) else ""
        digest = f" (sha256 {str(s['sha256'])[:12]})" if isinstance(s.get("sha256"), str) else ""
        labels.append(code(f"{s.get('name')}{version}", NAME_CHARS) + digest)
    more = f" and {len(suites) - 5} more" if len(suites) > 5 else ""
    return f"**{'Suites' if len(suites) > 1 else 'Suite'}**: " + ", ".join(labels) + more


def _head(doc: dict[str, Any], pairs: list[dict[str, Any]], exit_status: int | None) -> str:
    mark, words = verdict(doc, exit_status)
    model = code(", ".join(document_order(doc)) or doc.get("model") or "no model")
    totals = doc.get("totals") if isinstance(doc.get("totals"), dict) else {}
    facts = [_totals(totals), _gate(doc.get("gate")), _budget(doc.get("gate")), _versions(doc), _compared(doc, pairs)]
    facts.append(_suites(doc))
    run = [f"exit status {int(exit_status)}"] if exit_status is not None else []
    if isinstance(doc.get("created"), str):
        run.append(md(doc["created"], 40))
    versions = doc.get("versions") if isinstance(doc.get("versions"), dict) else {}
    if isinstance(versions.get("pytest_moralpairs"), str):
        run.append(f"pytest-moralpairs {md(versions['pytest_moralpairs'], 40)}")
    facts.append(" · ".join(run) or None)
    # Several models: a line per model and the pairs lost against the reference.
    facts += [md(line.strip(), 300) for line in markdown_lines(doc)]
    lines = [f"### {mark} Moral pairs {words}: {model}", ""] + [f"- {fact}" for fact in facts if fact]
    return "\n".join(lines) + "\n"


# --- the whole report -------------------------------------------------------------------------------


def _needs_attention(p: dict[str, Any]) -> bool:
    return p.get("outcome") != "passed" or bool(p.get("regressed"))


def _severity(p: dict[str, Any]) -> tuple[int, float]:
    """Regressed, failed, inconclusive, not rated; within each, the furthest below the threshold first."""
    rank = 0 if p.get("regressed") else {"failed": 1, "inconclusive": 2}.get(str(p.get("outcome")), 3)
    gap, threshold = finite(p.get("gap")), finite(p.get("threshold"))
    return rank, (gap - threshold) if gap is not None and threshold is not None else float("inf")


def _table(cols: list[Column], pairs: list[dict[str, Any]], budget: int) -> tuple[str, int]:
    """The table of as many of ``pairs`` as fit in ``budget`` (a line saying how many were left
    out included), and how many it shows; ``("", 0)`` when not even its header fits."""
    header = _header(cols)
    used = length(header) + NOTE_ROOM
    if used > budget:
        return "", 0
    rows = []
    for p in pairs:
        row = _row(cols, p)
        if used + length(row) > budget:
            break
        rows.append(row)
        used += length(row)
    text = header + "".join(rows)
    if len(rows) < len(pairs):
        left_out = plural(len(pairs) - len(rows), "more pair")
        text += f"\n*… {left_out} not shown: the HTML and JSON reports hold every pair.*\n"
    return text, len(rows)


def render_markdown(document: dict[str, Any], exit_status: int | None = None, limit: int = LIMIT) -> str:
    """The Markdown report of a run document; ``exit_status`` is the run's, when known (the
    headline then says what it means). Never longer than ``limit`` (see :func:`length`)."""
    doc = jsonable(document)
    pairs = [p for p in doc.get("pairs") or () if isinstance(p, dict)]
    attention = sorted((p for p in pairs if _needs_attention(p)), key=_severity)
    text = _head(doc, pairs, exit_status)
    folded_open = f"\n<details><summary>All {plural(len(pairs), 'pair')}</summary>\n\n"
    folded_close = "\n</details>\n"
    # The folded table of every pair keeps room for its frame and a line saying it was left out.
    room_for_all = length(folded_open + folded_close) + NOTE_ROOM if pairs else 0
    if attention:
        title = f"\n#### Did not pass ({len(attention):,})\n\n"
        budget = limit - length(text + title) - room_for_all
        table, shown = _table(columns(doc, pairs, sentences=True), attention, budget)
        text += title + (table or f"*{plural(len(attention), 'pair')} left out: see the HTML and JSON reports.*\n")
        if shown < len(attention):
            pairs = []  # no room for every pair when not even these fit
            text += "\n*The table of every pair is left out: the HTML and JSON reports hold it.*\n"
    if pairs:
        budget = limit - length(text + folded_open + folded_close)
        table, _ = _table(columns(doc, pairs, sentences=False), pairs, budget)
        text += folded_open + (table or "*Left out: the HTML and JSON reports hold every pair.*\n") + folded_close
    text = SURROGATES.sub("\ufffd", text)
    while length(text) > limit:  # pragma: no cover - the budget above keeps every table within it
        text = text[: len(text) - (length(text) - limit) - 1]
    return text


def write_markdown(path: str | os.PathLike[str], document: dict[str, Any], exit_status: int | None = None) -> Path:
    """Write the Markdown report atomically (parent folders are created)."""
    return write_atomic(path, render_markdown(document, exit_status))


def append_markdown(path: str | os.PathLike[str], document: dict[str, Any], exit_status: int | None = None) -> Path:
    """Append the Markdown report to ``path`` (GitHub's job summary, which other steps append to too)."""
    with open(path, "a", encoding="utf-8", newline="\n") as handle:
        handle.write(render_markdown(document, exit_status) + "\n")
    return Path(path)


__all__ = ["LIMIT", "Column", "append_markdown", "columns", "length", "md", "render_markdown", "write_markdown"]
