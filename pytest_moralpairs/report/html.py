"""The HTML report: one self-contained page (``--moral-report html:PATH``).

Rendered here, in Python, from the run document: the run header, a chart per suite (inline SVG,
readable without JavaScript or network), a panel per pair rated across personas
(``html_personas.py``), and a table of every pair that a few lines of inline JavaScript sort. The
document itself is embedded as JSON for anyone who wants the data back. Nothing is loaded from
anywhere: no URLs, no fonts, and a Content-Security-Policy that forbids fetching so that nothing
added later can either.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Iterable

from ..freshness import served_text
from ..stats import finite as _num
from . import html_personas, html_trend, models
from .document import SURROGATES, json_text, jsonable, write_atomic
from .formatting import OUTCOME_LABELS, alignment_text, fixed, percents, row_label, signed_or, usage_text
from .formatting import escape as _e

if TYPE_CHECKING:
    from ..history import Trend

SCALE = 4.0
# The page shows a dash where a number is missing, as typeset text does (the terminal keeps to ASCII).
_signed, _fixed = partial(signed_or, missing="–"), partial(fixed, missing="–")

# Chart geometry (px): the label column, the plot, the column for the gap at the right.
_WIDTH, _LABEL, _RIGHT, _ROW, _TOP = 860, 250, 96, 32, 40
_X0, _X1 = _LABEL + 16, _WIDTH - _RIGHT - 16
_LABEL_CHARS = 36


def render_html(document: dict[str, Any], trend: Trend | None = None) -> str:
    """The report page for a run document (as built by :func:`~.document.build_document`), with
    each pair's gap over the last runs when given their ``trend`` (``--moral-history``)."""
    doc = jsonable(document)
    pairs = [p for p in doc.get("pairs") or () if isinstance(p, dict)]
    model = ", ".join(models.document_order(doc)) or doc.get("model") or "no model"
    totals = doc.get("totals") or {}
    title = f"moralpairs: {model} — {_totals_text(totals)}"
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for pair in pairs:
        by_suite.setdefault(str(pair.get("suite") or ""), []).append(pair)
    suites = {str(s.get("suite") or ""): s for s in doc.get("suites") or () if isinstance(s, dict)}
    baseline = doc.get("baseline_model") or None
    charts = "\n".join(
        _chart(name, members, suites.get(name, {}), baseline) for name, members in sorted(by_suite.items())
    )
    css, personas = _CSS, ""
    if any(isinstance(p.get("personas"), dict) for p in pairs):
        css, personas = _CSS + html_personas.CSS, html_personas.persona_section(pairs)
    if trend is not None:
        css += html_trend.CSS
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{css}</style>",
        "</head>",
        "<body>",
        _header(doc),
        _suite_table(doc),
        _models_section(models.in_order(pairs, models.document_order(doc))),
        html_trend.history_section(trend) if trend is not None else "",
        '<section id="charts">',
        "<h2>Ratings</h2>",
        _LEGEND,
        charts or '<p class="empty">No pairs in this run.</p>',
        "</section>",
        personas,
        _pair_table(pairs, trend),
        f'<script type="application/json" id="moralpairs-data">{_embed(doc)}</script>',
        f"<script>{_JS}</script>",
        "</body>",
        "</html>",
    ]
    # What a browser shows for an undecodable byte; the embedded JSON keeps it as a \u escape.
    return SURROGATES.sub("\ufffd", "\n".join(parts) + "\n")


def write_html(path: str | os.PathLike[str], document: dict[str, Any], trend: Trend | None = None) -> Path:
    """Write the report page atomically (parent folders are created)."""
    return write_atomic(path, render_html(document, trend))


# --- several models ------------------------------------------------------------------------


def _models_section(pairs: list[dict[str, Any]]) -> str:
    """With several models: a line per model, then a row per pair with each model's gap and
    verdict side by side (and the difference against the reference, with its interval)."""
    if not models.is_comparison(pairs):
        return ""
    names = models.models_of(pairs)
    head = "".join(f'<th colspan="2" scope="colgroup">{_e(name)}</th>' for name in names)
    sub = "".join('<th scope="col">gap</th><th scope="col">verdict</th>' for _ in names)
    rows = []
    for pair, found in models.by_pair(pairs, row_label).items():
        cells = [f'<th scope="row">{_e(pair)}</th>']
        for name in names:
            r = found.get(name)
            outcome = r.get("outcome") if r and r.get("outcome") in OUTCOME_LABELS else "error"
            tip = models.difference_text(r) if r and r.get("reference") else ""
            gap = signed_or(r.get("gap"), r.get("threshold")) if r else "–"
            cells.append(f'<td class="num" title="{_e(tip)}">{_e(gap)}</td>')
            cells.append(f'<td class="outcome {outcome}">{_e(models.verdict_text(r))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    lines = "".join(f"<li>{_e(line)}</li>" for line in models.model_lines(pairs))
    lost = ""
    for line in models.reference_lines(pairs, row_label):  # a model's line, then its lost pairs indented
        if line.startswith(" "):
            lost += f'<li class="lost">{_e(line.strip())}</li>'
        else:
            lost += f"<li>{_e(line)}</li>"
    return (
        '<section id="models"><h2>Models</h2>'
        f"<ul>{lines}{lost}</ul>"
        f'<table class="models"><thead><tr><th rowspan="2" scope="col">pair</th>{head}</tr><tr>{sub}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


# --- header -------------------------------------------------------------------------------


def _header(doc: dict[str, Any]) -> str:
    totals = doc.get("totals") or {}
    rows = [("created", _e(doc.get("created") or "–"))]
    if doc.get("baseline_model"):
        rows.append(("baseline model", f"<code>{_e(doc['baseline_model'])}</code>"))
    versions = doc.get("versions") or {}
    if isinstance(versions, dict) and versions:
        names = {"pytest_moralpairs": "pytest-moralpairs", "python": "Python"}
        rows.append(
            (
                "versions",
                " · ".join(f"{_e(names.get(k, k))} {_e(v or '?')}" for k, v in sorted(versions.items())),
            )
        )
    if doc.get("prompt_hash"):
        rows.append(("prompt", f"<code>{_e(doc['prompt_hash'])}</code>"))
    usage = doc.get("usage")
    if isinstance(usage, dict):
        fields = {"calls": 0, "retries": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
        fields.update(cached_tokens=0, expired=0)
        fields.update({k: v for k, v in usage.items() if k in fields and isinstance(v, (int, float))})
        rows.append(("usage", _e(usage_text(SimpleNamespace(**fields)))))
    served = doc.get("served_models")
    if isinstance(served, dict) and served:
        rows.append(("model versions", _e(served_text(served))))
    settings = doc.get("settings")
    details = ""
    if isinstance(settings, dict) and settings:
        cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_setting(v))}</td></tr>" for k, v in sorted(settings.items()))
        details = f'<details class="settings"><summary>settings</summary><table>{cells}</table></details>'
    alignment = doc.get("alignment") or {}
    if alignment.get("sentences_with_human"):
        rows.append(("human alignment", _e(alignment_text(alignment, doc.get("baseline_model") or None))))
    facts = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in rows)
    name = ", ".join(models.document_order(doc)) or doc.get("model") or "no model"
    return (
        "<header>"
        f"<h1>Moral pairs: <code>{_e(name)}</code></h1>"
        f'<p class="totals">{_totals_html(totals)}</p>'
        f"{_gate_html(doc.get('gate'))}"
        f'<dl class="run">{facts}</dl>{details}'
        "</header>"
    )


def _totals_text(totals: dict[str, Any]) -> str:
    parts = [f"{totals.get(k) or 0} {k}" for k in ("passed", "failed", "inconclusive") if totals.get(k)]
    if totals.get("errors"):
        parts.append(f"{totals['errors']} not rated")
    return ", ".join(parts) or "no pairs rated"


def _totals_html(totals: dict[str, Any]) -> str:
    parts = [f'<span class="{k}">{totals.get(k) or 0} {k}</span>' for k in ("passed", "failed", "inconclusive")]
    parts.append(f'<span class="error">{totals.get("errors") or 0} not rated</span>')
    rate = totals.get("pass_rate")
    tail = f"; pass rate {_percent(rate)}" if isinstance(rate, (int, float)) else ""
    return f"{totals.get('pairs') or 0} pairs: " + ", ".join(parts) + tail


def _gate_html(gate: Any) -> str:
    if not isinstance(gate, dict) or gate.get("min_pass_rate") is None:
        return '<p class="gate none">No pass-rate gate (--moral-min-pass-rate).</p>'
    rate, minimum, passed = gate.get("pass_rate"), gate["min_pass_rate"], gate.get("passed")
    state = {True: ("passed", "gate passed"), False: ("failed", "gate FAILED")}.get(passed, ("error", "gate undecided"))
    shown, least = "–", _percent(minimum)
    if _num(rate) is not None and _num(minimum) is not None:
        shown, least = percents(rate, minimum, fewest=1)
    return f'<p class="gate {state[0]}"><strong>{state[1]}</strong>: pass rate {shown}, minimum {least}</p>'


def _suite_table(doc: dict[str, Any]) -> str:
    suites = [s for s in doc.get("suites") or () if isinstance(s, dict)]
    if not suites:
        return ""
    baseline = bool(doc.get("baseline_model"))
    heads = [
        "suite",
        "pairs",
        "passed",
        "failed",
        "inconclusive",
        "not rated",
        "pass rate",
        "sentences with human ratings",
    ]
    heads += ["correlation", "sensitivity ratio"]
    if baseline:
        heads += ["baseline correlation", "baseline sensitivity"]

    def row(s: dict[str, Any], name: str, tag: str = "td") -> str:
        a = s.get("alignment") or {}
        cells = [s.get("pairs"), s.get("passed"), s.get("failed"), s.get("inconclusive"), s.get("errors")]
        values = [_e(v if v is not None else 0) for v in cells]
        values += [_percent(s.get("pass_rate")), _e(a.get("sentences_with_human") or 0)]
        values += [_fixed(a.get("correlation")), _fixed(a.get("sensitivity_ratio"))]
        if baseline:
            values += [_fixed(a.get("baseline_correlation")), _fixed(a.get("baseline_sensitivity_ratio"))]
        return f'<tr><{tag} class="text">{name}</{tag}>' + "".join(f"<td>{v}</td>" for v in values) + "</tr>"

    body = "".join(row(s, f"<code>{_e(s.get('suite') or '')}</code>") for s in suites)
    total = {**(doc.get("totals") or {}), "alignment": doc.get("alignment") or {}}
    foot = row(total, "all suites", "th") if len(suites) > 1 else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    return (
        '<section id="suites"><h2>Suites</h2>'
        f'<table class="suites"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        f"<tfoot>{foot}</tfoot></table>"
        '<p class="note">Correlation: Pearson\'s r of model and human ratings over the sentences with '
        "human ratings. Sensitivity ratio: the median of model gap / human gap (1: the model reacts to the "
        "edit as people do; 0: not at all).</p></section>"
    )


# --- the chart ------------------------------------------------------------------------------


def _x(value: float) -> float:
    # A little room beyond the scale, so a threshold out of reach still shows, at the edge.
    value = max(-SCALE - 0.25, min(SCALE + 0.25, value))
    return round(_X0 + (value + SCALE) / (2 * SCALE) * (_X1 - _X0), 1)


def _chart(suite: str, pairs: list[dict[str, Any]], summary: dict[str, Any], baseline: str | None = None) -> str:
    height = _TOP + _ROW * len(pairs) + 12
    out = [
        f'<figure class="chart" data-suite="{_e(suite)}">',
        f"<figcaption><code>{_e(suite or '(no suite)')}</code> "
        f'<span class="counts">{_e(_totals_text(summary or _count(pairs)))}</span>'
        + (
            f' <span class="align">· {_e(alignment_text(summary["alignment"], baseline))}</span>'
            if (summary.get("alignment") or {}).get("sentences_with_human")
            else ""
        )
        + "</figcaption>",
        f'<svg class="chart" role="img" width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" '
        f'aria-label="{_e(f"ratings of the {len(pairs)} pairs of {suite}")}">',
    ]
    bottom = height - 12
    for tick in range(-4, 5):
        x = _x(tick)
        out.append(
            f'<line class="grid{" zero" if tick == 0 else ""}" x1="{x}" y1="{_TOP - 6}" x2="{x}" y2="{bottom}"/>'
        )
        out.append(f'<text class="tick" x="{x}" y="{_TOP - 10}">{tick:+d}</text>' if tick else "")
    out.append(f'<text class="tick" x="{_x(0)}" y="{_TOP - 10}">0</text>')
    out.append(f'<text class="end" x="{_X0}" y="12">unethical</text>')
    out.append(f'<text class="end right" x="{_X1}" y="12">ethical</text>')
    out.append(f'<text class="gaphead" x="{_WIDTH - 8}" y="{_TOP - 10}">gap</text>')
    for index, pair in enumerate(pairs):
        out.append(_chart_row(pair, _TOP + index * _ROW + _ROW / 2, index))
    out.append("</svg></figure>")
    return "\n".join(line for line in out if line)


def _chart_row(p: dict[str, Any], y: float, index: int) -> str:
    outcome = p.get("outcome") if p.get("outcome") in OUTCOME_LABELS else "error"
    label = row_label(p)
    shown = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
    regressed = " ▼" if p.get("regressed") else ""
    out = [f'<g class="row {outcome}" data-nodeid="{_e(p.get("nodeid") or "")}">']
    if index % 2:
        out.append(f'<rect class="stripe" x="0" y="{y - _ROW / 2}" width="{_WIDTH}" height="{_ROW}"/>')
    out.append(
        f'<text class="label" x="{_LABEL}" y="{y + 4}"><title>{_e(p.get("nodeid") or label)}</title>'
        f"{_e(shown)}{regressed}</text>"
    )
    h, s = _num(p.get("harmful_rating")), _num(p.get("harmless_rating"))
    if h is None or s is None:
        if outcome == "error":
            why = "not rated: " + str(p.get("error") or "no rating")
        elif isinstance(p.get("personas"), dict):
            why = "rated per persona only; see Personas below"
        else:
            why = "no single rating per sentence; see the table"
        out.append(f'<text class="unrated" x="{_X0}" y="{y + 4}">{_e(_clip(why, 100))}</text>')
        out.append(
            f'<text class="gapvalue {outcome}" x="{_WIDTH - 8}" y="{y + 4}">{OUTCOME_LABELS[outcome]}</text></g>'
        )
        return "".join(out)
    yh, ys = y - 5, y + 5
    threshold = _num(p.get("threshold"))
    if threshold is not None and p.get("kind") == "invariance":
        left, right = _x(h - abs(threshold)), _x(h + abs(threshold))
        out.append(
            f'<rect class="tolerance" x="{left}" y="{y - 12}" width="{round(right - left, 1)}" height="24">'
            f"<title>tolerance: the edited sentence must stay within ±{threshold:g} of the original</title></rect>"
        )
    elif threshold is not None:
        x = _x(h + threshold)
        out.append(
            f'<line class="threshold" x1="{x}" y1="{y - 13}" x2="{x}" y2="{y + 13}">'
            f"<title>threshold: the harmless rating must reach {_signed(h + threshold)} "
            f"(harmful {_signed(h)} + {threshold:g})</title></line>"
        )
    out.append(f'<line class="gap {outcome}" x1="{_x(h)}" y1="{y}" x2="{_x(s)}" y2="{y}"/>')
    for side, rating, yy in (("harmful", h, yh), ("harmless", s, ys)):
        low, high = _num(p.get(f"{side}_low")), _num(p.get(f"{side}_high"))
        if low is not None and high is not None and high > low:
            x1, x2 = _x(low), _x(high)
            out.append(
                f'<path class="whisker {side}" d="M{x1} {yy - 3}V{yy + 3}M{x1} {yy}H{x2}M{x2} {yy - 3}V{yy + 3}"/>'
            )
        human = _num(p.get(f"human_{side}"))
        if human is not None:
            out.append(_mark(side, human, yy, "human", f"human raters: {_signed(human)}"))
        sentence = str(p.get(side) or "")
        interval = f" [{_signed(low)}, {_signed(high)}]" if low is not None and high is not None and high > low else ""
        out.append(_mark(side, rating, yy, "mark", f"{side}: rated {_signed(rating)}{interval} — {sentence}"))
    gap = _num(p.get("gap"))
    out.append(
        f'<text class="gapvalue {outcome}" x="{_WIDTH - 8}" y="{y + 4}"><title>{OUTCOME_LABELS[outcome]}</title>'
        f"{_e(_signed(gap, _num(p.get('threshold'))))} {_SYMBOLS[outcome]}</text>"
    )
    out.append("</g>")
    return "".join(out)


_SYMBOLS = {"passed": "✓", "failed": "✗", "inconclusive": "?", "error": "!"}


def _mark(side: str, value: float, y: float, kind: str, tip: str) -> str:
    x = _x(value)
    if side == "harmful":
        shape = f'<circle class="{kind} harmful" cx="{x}" cy="{y}" r="5">'
        return shape + f"<title>{_e(tip)}</title></circle>"
    return (
        f'<path class="{kind} harmless" d="M{x} {y - 6}L{x + 6} {y}L{x} {y + 6}L{x - 6} {y}Z">'
        f"<title>{_e(tip)}</title></path>"
    )


_LEGEND = (
    '<svg class="legend" role="img" aria-label="legend" width="940" height="30" viewBox="0 0 940 30">'
    '<circle class="mark harmful legend-mark" cx="10" cy="15" r="5"/><text x="20" y="19">harmful (model)</text>'
    '<path class="mark harmless legend-mark" d="M130 9L136 15L130 21L124 15Z"/>'
    '<text x="142" y="19">harmless (model)</text>'
    '<circle class="human harmful" cx="262" cy="15" r="5"/>'
    '<path class="human harmless" d="M280 9L286 15L280 21L274 15Z"/><text x="292" y="19">human raters</text>'
    '<path class="whisker harmful" d="M392 12V18M392 15H420M420 12V18"/><text x="426" y="19">interval</text>'
    '<line class="threshold" x1="498" y1="5" x2="498" y2="25"/><text x="506" y="19">threshold</text>'
    '<rect class="tolerance" x="572" y="7" width="24" height="16"/><text x="602" y="19">tolerance</text>'
    '<line class="gap passed" x1="676" y1="15" x2="700" y2="15"/><text x="704" y="19">passed</text>'
    '<line class="gap failed" x1="756" y1="15" x2="780" y2="15"/><text x="784" y="19">failed</text>'
    '<line class="gap inconclusive" x1="830" y1="15" x2="854" y2="15"/><text x="858" y="19">inconclusive</text>'
    "</svg>"
    '<p class="note">Each row is one pair: its two sentences rated on −4 (extremely unethical) … +4 (extremely '
    "ethical), joined by the gap, coloured by outcome. The harmless rating must reach the dashed threshold "
    "line (for an invariance check, the edited sentence must stay inside the shaded tolerance). Whiskers: "
    "the rating's bootstrap interval over its samples. Hover a mark for the sentence.</p>"
)


# --- the table ------------------------------------------------------------------------------

# (column key for ?sort=, heading, type); the optional ones are left out when no pair has a value.
_COLUMNS = (
    ("pair", "pair", "text"),
    ("outcome", "outcome", "text"),
    ("harmful", "harmful", "num"),
    ("harmless", "harmless", "num"),
    ("gap", "gap", "num"),
    ("interval", "interval", "num"),
    ("threshold", "threshold", "num"),
    ("human", "human", "num"),
    ("baseline", "baseline", "num"),
    ("change", "change", "num"),
    ("personas", "personas", "num"),
    ("trend", "trend", "num"),
    ("sentences", "sentences", "text"),
)
_HEADING_TIPS = {
    "gap": "rating(harmless) - rating(harmful)",
    "interval": "the gap's bootstrap confidence interval over the samples",
    "threshold": "the gap the pair must reach (invariance: the largest change allowed)",
    "human": "the human raters' gap, where the pair file gives human ratings",
    "baseline": "the baseline model's gap (--moral-baseline-model)",
    "change": "gap minus the gap in the run given to --moral-compare",
    "personas": "personas whose gap held / personas; sd of the harmful / harmless ratings across them",
    "trend": "the gap in the last runs of the history (--moral-history), oldest left; sorts by its change",
}
_OPTIONAL = {
    "interval": lambda p: _num(p.get("gap_low")) != _num(p.get("gap_high")),
    "human": lambda p: _num(p.get("human_gap")) is not None,
    "baseline": lambda p: isinstance(p.get("baseline"), dict),
    "change": lambda p: _num(p.get("gap_change")) is not None or isinstance(p.get("previous"), dict),
    "personas": lambda p: isinstance(p.get("personas"), dict),
}


def _pair_table(pairs: list[dict[str, Any]], trend: Trend | None = None) -> str:
    columns = [c for c in _COLUMNS if c[0] not in _OPTIONAL or any(_OPTIONAL[c[0]](p) for p in pairs)]
    columns = [c for c in columns if c[0] != "trend" or trend is not None]
    head = "".join(
        f'<th data-col="{key}" data-type="{kind}" aria-sort="none" class="{kind}" '
        f'title="{_e(_HEADING_TIPS.get(key, ""))}">'
        f'<button type="button">{_e(label)}</button></th>'
        for key, label, kind in columns
    )
    keys = [c[0] for c in columns]
    rows = "\n".join(_table_row(p, i, keys, trend) for i, p in enumerate(pairs))
    return (
        '<section id="pairs"><h2>Pairs</h2>'
        '<p class="note">Click a heading to sort (again to reverse); <code>?sort=gap&amp;desc=1</code> in the '
        "address does the same.</p>"
        f'<div class="scroll"><table id="pair-table" class="pairs"><thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n'
        "</tbody></table></div></section>"
    )


def _table_row(p: dict[str, Any], index: int, keys: list[str], trend: Trend | None = None) -> str:
    outcome = p.get("outcome") if p.get("outcome") in OUTCOME_LABELS else "error"
    low, high = _num(p.get("gap_low")), _num(p.get("gap_high"))
    threshold = _num(p.get("threshold"))
    interval = (
        f"[{_signed(low, threshold)}, {_signed(high, threshold)}]"
        if low is not None and high is not None and high > low
        else "–"
    )
    baseline = p.get("baseline") if isinstance(p.get("baseline"), dict) else {}
    change = _num(p.get("gap_change"))
    previous = p.get("previous") if isinstance(p.get("previous"), dict) else {}
    change_tip = f"previous gap {_signed(_num(previous.get('gap')))}, {previous.get('outcome')}" if previous else ""
    change_low, change_high = _num(p.get("gap_change_low")), _num(p.get("gap_change_high"))
    if change_tip and change_low is not None and change_high is not None:
        level = _num(p.get("confidence")) or 0.95
        change_tip += f"; {level:.0%} interval of the change [{_signed(change_low)}, {_signed(change_high)}]"
    sentences = "".join(f'<div class="{side}">{_e(p[side])}</div>' for side in ("harmful", "harmless") if p.get(side))
    if p.get("error"):
        sentences += f'<div class="error">{_e(p["error"])}</div>'
    sentences += reasoning_details(p)
    examples = f" ({p['examples']} examples)" if p.get("examples") else ""
    where = " · ".join(str(v) for v in (p.get("kind"), p.get("suite")) if v)
    name = (
        f'<span class="name" title="{_e(p.get("nodeid") or "")}">{_e(row_label(p))}</span>{_e(examples)}'
        f'<div class="suite">{_e(where)}</div>'
    )
    samples, confidence = _num(p.get("samples")), _num(p.get("confidence"))
    interval_tip = f"{confidence:.0%} interval; {samples:g} samples per sentence" if samples and confidence else ""
    cells = {
        "pair": _cell(p.get("nodeid") or p.get("pair_id"), name),
        "outcome": _cell(outcome, f'<span class="badge {outcome}">{OUTCOME_LABELS[outcome]}</span>'),
        "harmful": _num_cell(_num(p.get("harmful_rating")), _human_tip(p, "harmful")),
        "harmless": _num_cell(_num(p.get("harmless_rating")), _human_tip(p, "harmless")),
        "gap": _num_cell(_num(p.get("gap")), threshold=_num(p.get("threshold"))),
        "interval": _cell(low, _e(interval), numeric=True, tip=interval_tip),
        "threshold": _cell(threshold, "–" if threshold is None else f"{threshold:g}", numeric=True),
        "human": _num_cell(_num(p.get("human_gap"))),
        "baseline": _num_cell(_num(baseline.get("gap")), f"{baseline.get('model') or ''}"),
        "change": _cell(
            change,
            ("▼ " if p.get("regressed") else "") + (_e(_signed(change)) if previous else "new"),
            numeric=True,
            tip=change_tip,
            extra=" regressed" if p.get("regressed") else "",
        ),
        "sentences": _cell(f"{p.get('harmful') or ''} / {p.get('harmless') or ''}", sentences, extra=" sentences"),
    }
    if "personas" in keys:
        share, content, tip = html_personas.persona_cell(p, index)
        cells["personas"] = _cell(share, content, numeric=True, tip=tip)
    if trend is not None:
        change, content, tip = html_trend.trend_cell(trend, p)
        cells["trend"] = _cell(change, content, numeric=True, tip=tip)
    return (
        f'<tr class="{outcome}" data-index="{index}" data-nodeid="{_e(p.get("nodeid") or "")}">'
        + "".join(cells[key] for key in keys)
        + "</tr>"
    )


def _human_tip(p: dict[str, Any], side: str) -> str:
    human = _num(p.get(f"human_{side}"))
    return "" if human is None else f"human raters: {_signed(human)}" + (f" ({p['source']})" if p.get("source") else "")


def reasoning_details(p: dict[str, Any]) -> str:
    """Each sentence's reasoning (a reasoning model's thinking before its answer), in full, folded."""
    shown = ""
    for side in ("harmful", "harmless"):
        thought = p.get(f"{side}_reasoning")
        if isinstance(thought, str) and thought:
            shown += (
                f'<details class="reasoning {side}"><summary>{side} reasoning</summary>'
                f"<pre>{_e(thought)}</pre></details>"
            )
    return shown


def _num_cell(value: float | None, tip: str = "", threshold: float | None = None) -> str:
    return _cell(value, _e(_signed(value, threshold)), numeric=True, tip=tip)


def _cell(value: Any, content: str, numeric: bool = False, tip: str = "", extra: str = "") -> str:
    sort = "" if value is None else (repr(float(value)) if numeric else str(value))
    title = f' title="{_e(tip)}"' if tip else ""
    kind = "num" if numeric else "text"
    return f'<td class="{kind}{extra}" data-value="{_e(sort)}"{title}>{content}</td>'


# --- small helpers ----------------------------------------------------------------------------


def _count(pairs: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "inconclusive": 0, "errors": 0}
    for p in pairs:
        key = p.get("outcome") if p.get("outcome") in ("passed", "failed", "inconclusive") else "errors"
        counts[str(key)] += 1
    return counts


def _percent(value: Any) -> str:
    return "–" if _num(value) is None else f"{value * 100:.1f}%"


def _setting(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _embed(document: dict[str, Any]) -> str:
    """JSON that cannot end its <script> element early: <, > and & as \\u escapes."""
    text = json_text(document, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_CSS = """
table.models th, table.models td { padding: 2px 10px; text-align: left; }
table.models td.num { text-align: right; }
#models li.lost { margin-left: 1.5em; list-style: circle; }
:root { --harmful: #7b3294; --harmless: #0571b0; --passed: #1a9641; --failed: #d7191c;
  --inconclusive: #e08a00; --error: #8c8c8c; --ink: #1d1d1f; --muted: #5f6368; --line: #d9d9de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); margin: 0 auto; padding: 16px 24px 48px; max-width: 1600px; }
.scroll { overflow-x: auto; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.totals { font-size: 15px; margin: 4px 0; }
.totals .passed, .badge.passed { color: var(--passed); } .totals .failed, .badge.failed { color: var(--failed); }
.totals .inconclusive, .badge.inconclusive { color: var(--inconclusive); }
.totals .error, .badge.error { color: var(--error); }
.gate { margin: 4px 0; } .gate.passed strong { color: var(--passed); } .gate.failed strong { color: var(--failed); }
.gate.none { color: var(--muted); }
dl.run { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 8px 0; }
dl.run div { display: flex; gap: 6px; } dl.run dt { color: var(--muted); } dl.run dd { margin: 0; }
details.settings table { margin-top: 4px; } details.settings th { text-align: left; font-weight: normal;
  color: var(--muted); padding-right: 12px; }
.note { color: var(--muted); font-size: 12.5px; max-width: 860px; }
table { border-collapse: collapse; }
table.suites td, table.suites th, table.pairs td, table.pairs th { border-bottom: 1px solid var(--line);
  padding: 4px 6px; vertical-align: top; }
table.suites td { text-align: right; } table.suites .text { text-align: left; }
table.pairs td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.pairs th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer;
  color: inherit; white-space: nowrap; }
table.pairs th[aria-sort="ascending"] button::after { content: " ▲"; }
table.pairs th[aria-sort="descending"] button::after { content: " ▼"; }
table.pairs thead th { text-align: left; vertical-align: bottom; }
table.pairs th.num { text-align: right; }
td.sentences { min-width: 300px; max-width: 520px; }
table.pairs .suite { color: var(--muted); font-size: 12px; }
td.sentences div.harmful::before { content: "− "; color: var(--harmful); font-weight: 700; }
td.sentences div.harmless::before { content: "+ "; color: var(--harmless); font-weight: 700; }
td.sentences div.error { color: var(--error); font-style: italic; }
td.regressed { color: var(--failed); font-weight: 600; }
details.reasoning summary { cursor: pointer; font-size: 0.85em; }
details.reasoning pre { white-space: pre-wrap; max-height: 24em; overflow: auto; font-size: 0.85em; }
.badge { font-weight: 600; font-size: 12px; }
figure.chart { margin: 12px 0 20px; } figure.chart figcaption { margin-bottom: 2px; }
figure.chart .counts, figure.chart .align { color: var(--muted); }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); }
svg .label { text-anchor: end; } svg .tick { text-anchor: middle; fill: var(--muted); }
svg .end { fill: var(--muted); font-style: italic; } svg .end.right { text-anchor: end; }
svg .gaphead { text-anchor: end; fill: var(--muted); }
svg .gapvalue { text-anchor: end; font-weight: 600; font-variant-numeric: tabular-nums; }
svg .gapvalue.passed { fill: var(--passed); } svg .gapvalue.failed { fill: var(--failed); }
svg .gapvalue.inconclusive { fill: var(--inconclusive); } svg .gapvalue.error, svg .unrated { fill: var(--error); }
svg .grid { stroke: var(--line); stroke-width: 1; } svg .grid.zero { stroke: #a0a0a8; }
svg .stripe { fill: #f6f6f8; }
svg .gap { stroke-width: 5; stroke-linecap: round; opacity: 0.55; }
svg .gap.passed { stroke: var(--passed); } svg .gap.failed { stroke: var(--failed); }
svg .gap.inconclusive { stroke: var(--inconclusive); } svg .gap.error { stroke: var(--error); }
svg .threshold { stroke: var(--ink); stroke-width: 1.5; stroke-dasharray: 3 2; }
svg .tolerance { fill: rgba(0, 0, 0, 0.06); stroke: var(--muted); stroke-dasharray: 3 2; }
svg .whisker { fill: none; stroke-width: 1.5; }
svg .whisker.harmful { stroke: var(--harmful); } svg .whisker.harmless { stroke: var(--harmless); }
svg .mark.harmful { fill: var(--harmful); } svg .mark.harmless { fill: var(--harmless); }
svg .human { fill: #fff; stroke-width: 2; }
svg .human.harmful { stroke: var(--harmful); } svg .human.harmless { stroke: var(--harmless); }
"""

# Sorting: sortTable(column, desc) is what a click on a heading calls and what ?sort=COLUMN&desc=1
# in the address calls on load. Missing values sort last either way; ties keep the document order.
_JS = """
(function () {
  "use strict";
  var table = document.getElementById("pair-table");
  if (!table) { return; }
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(row, index, numeric) {
    var raw = row.cells[index].getAttribute("data-value");
    if (raw === null || raw === "") { return null; }
    return numeric ? parseFloat(raw) : raw.toLowerCase();
  }
  function sortTable(column, desc) {
    var index = -1;
    headers.forEach(function (th, i) { if (th.getAttribute("data-col") === column) { index = i; } });
    if (index < 0) { return false; }
    var numeric = headers[index].getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, index, numeric), y = key(b, index, numeric), order = 0;
      if (x === null || y === null) {
        order = x === y ? 0 : (x === null ? 1 : -1);
      } else {
        order = numeric ? x - y : x.localeCompare(y);
        if (desc) { order = -order; }
      }
      return order || (Number(a.getAttribute("data-index")) - Number(b.getAttribute("data-index")));
    });
    rows.forEach(function (row) { body.appendChild(row); });
    headers.forEach(function (th, i) {
      th.setAttribute("aria-sort", i === index ? (desc ? "descending" : "ascending") : "none");
    });
    table.setAttribute("data-sort", column);
    table.setAttribute("data-desc", desc ? "1" : "0");
    return true;
  }
  window.sortTable = sortTable;
  headers.forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var column = th.getAttribute("data-col");
      var desc = table.getAttribute("data-sort") === column && table.getAttribute("data-desc") !== "1";
      sortTable(column, desc);
      try {
        history.replaceState(null, "", "?sort=" + encodeURIComponent(column) + (desc ? "&desc=1" : ""));
      } catch (e) { /* some browsers refuse it for file: pages; sorting does not need it */ }
    });
  });
  var params = new URLSearchParams(window.location.search);
  if (params.get("sort")) { sortTable(params.get("sort"), params.get("desc") === "1"); }
})();
"""


__all__ = ["render_html", "write_html"]
