"""The persona parts of the HTML report: a panel per pair rated across personas, and its table cell.

A panel shows the distribution of each sentence's ratings across the personas (a histogram over
the whole ratings -4..4, inline SVG, with the spread against the pair's minimum drawn under it),
how many personas held the gap against how many must, the personas that failed and the
structural-consistency checks that failed (each in a ``<details>``), and the saved run's numbers.
Everything comes from a pair's ``personas`` (see ``schema/report.schema.json``); a block of
another shape is shown as far as it goes, never trusted.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..stats import finite as _num
from .document import persona_summary
from .formatting import OUTCOME_LABELS, fixed, plural, row_label, signed_or
from .formatting import escape as _e

# The page shows a dash where a number is missing, as typeset text does (see html.py).
_signed, _sd = partial(signed_or, missing="–"), partial(fixed, missing="–")
BUCKETS = tuple(range(-4, 5))
SIDES = ("harmful", "harmless")
#: A panel lists this many failing personas (or failed checks); the embedded JSON has them all.
MAX_LISTED = 100

# Histogram geometry (px): one bucket's width, the bars' tallest, and the rows above and below.
_BUCKET, _BARS, _TOP, _LEFT = 26, 60, 16, 8
_AXIS = _TOP + _BARS
_WIDTH, _HEIGHT = _LEFT * 2 + _BUCKET * len(BUCKETS), _AXIS + 44


def has_personas(p: dict[str, Any]) -> bool:
    return isinstance(p.get("personas"), dict)


def anchor(index: int) -> str:
    return f"personas-{index}"


def persona_cell(p: dict[str, Any], index: int) -> tuple[float | None, str, str]:
    """The pair table's ``personas`` cell: (sort value, content, tip). "70/72, sd 0.00/0.41": how
    many personas held the gap, and each sentence's spread of ratings; a link to the panel."""
    block = p.get("personas")
    if not isinstance(block, dict):
        return None, "–", ""
    counts = _dict(block.get("personas"))
    passed, count, required = _int(counts.get("passed")), _int(counts.get("count")), _int(counts.get("required"))
    spread = _dict(block.get("spread"))
    sds, tips = [], []
    for side in SIDES:
        check = _dict(spread.get(side))
        sd, minimum = _num(check.get("sd")), _num(check.get("minimum"))
        failed = check.get("passed") is False
        sds.append(f'<span class="{"failed" if failed else "sd"}">{_sd(sd)}</span>')
        tips.append(f"{side} {_sd(sd)}" + ("" if minimum is None else f" (minimum {_sd(minimum)})"))
    outcome = _outcome(p.get("persona_outcome") or block.get("outcome"))
    content = f'<a class="badge {outcome}" href="#{anchor(index)}">{_e(_of(passed, count))}</a>, sd {"/".join(sds)}'
    tip = f"gap held for {_of(passed, count)} personas (needs {_show(required)}); sd across personas: " + ", ".join(
        tips
    )
    before = _dict(_dict(p.get("previous")).get("personas"))
    if before:
        was = f"was {_of(_int(before.get('passed')), _int(before.get('count')))}"
        content += f'<div class="was">{_e(was)}, sd {_sd(_num(before.get("harmful_sd")))}/'
        content += f"{_sd(_num(before.get('harmless_sd')))}</div>"
        tip += f"; saved run: {_of(_int(before.get('passed')), _int(before.get('count')))}, {before.get('outcome')}"
    share = None if passed is None or not count else passed / count
    return share, content, tip


def persona_section(pairs: list[dict[str, Any]]) -> str:
    """The "Personas" section: one panel per pair rated across personas ('' when none was)."""
    panels = [_panel(p, index) for index, p in enumerate(pairs) if has_personas(p)]
    if not panels:
        return ""
    return (
        '<section id="personas"><h2>Personas</h2>'
        '<p class="note">Pairs rated once per persona. A pair holds across its personas when its gap '
        "reaches the threshold for enough of them, each sentence's ratings spread across them at least as "
        "much as the pair asks (a model answering as everyone alike gives them all one rating: a spread of "
        "0), and each broad persona's rating is within the allowed difference of the weighted mix of its "
        "sub-personas'. Bars: how many personas gave each rating; under them the mean ± one standard "
        "deviation, and dashed, the least spread asked for.</p>" + "\n".join(panels) + "</section>"
    )


def _panel(p: dict[str, Any], index: int) -> str:
    block: dict[str, Any] = p["personas"]
    outcome = _outcome(p.get("persona_outcome") or block.get("outcome"))
    counts = _dict(block.get("personas"))
    passed, count, required = _int(counts.get("passed")), _int(counts.get("count")), _int(counts.get("required"))
    threshold = _num(block.get("threshold"))
    shown = "–" if threshold is None else f"{threshold:g}"
    needs = (
        "every persona must pass"
        if required is not None and count is not None and required >= count
        else f"{_show(required)} must pass ({_min_pass(counts.get('min_pass'))})"
    )
    where = " · ".join(_e(v) for v in (p.get("suite"), counts.get("source"), block.get("model")) if v)
    out = [
        f'<article class="persona-pair {outcome}" id="{anchor(index)}" data-nodeid="{_e(p.get("nodeid") or "")}">',
        f'<h3><span class="name">{_e(row_label(p))}</span> '
        f'<span class="badge {outcome}">{OUTCOME_LABELS[outcome]}</span> <span class="suite">{where}</span></h3>',
        f'<p class="held">gap ≥ {_e(shown)} held for <strong>{_e(_of(passed, count))}</strong> '
        f"personas; {_e(needs)}</p>",
    ]
    reasons = [r for r in block.get("reasons") or () if isinstance(r, str)]
    if reasons:
        out.append('<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>" for r in reasons) + "</ul>")
    spread = _dict(block.get("spread"))
    out.append(
        '<div class="histograms">'
        + "".join(
            _histogram(side, _dict(spread.get(side)), str(block.get(side) or p.get(side) or "")) for side in SIDES
        )
        + "</div>"
    )
    before = _dict(_dict(p.get("previous")).get("personas"))
    if before:
        out.append(_previous(before, block, passed, count))
    out.append(_failed_personas(block, shown))
    out.append(_consistency(_dict(block.get("consistency"))))
    out.append("</article>")
    return "".join(part for part in out if part)


def _histogram(side: str, check: dict[str, Any], sentence: str) -> str:
    raw = check.get("histogram")
    counts = [c if isinstance(c, int) and not isinstance(c, bool) and c > 0 else 0 for c in raw or ()]
    counts = (counts + [0] * len(BUCKETS))[: len(BUCKETS)]
    most = max(counts) or 1
    sd, mean, minimum = _num(check.get("sd")), _num(check.get("mean")), _num(check.get("minimum"))
    failed = check.get("passed") is False
    total = sum(counts)
    out = [
        f'<figure class="histogram {side}{" failed" if failed else ""}" data-side="{side}">',
        f'<svg class="histogram" role="img" width="{_WIDTH}" height="{_HEIGHT}" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'aria-label="{_e(f"{side} sentence: ratings across {total} personas")}">',
        f'<line class="axis" x1="{_LEFT}" y1="{_AXIS}" x2="{_WIDTH - _LEFT}" y2="{_AXIS}"/>',
    ]
    for rating, count in zip(BUCKETS, counts, strict=True):
        x = _LEFT + (rating + 4) * _BUCKET
        centre = x + _BUCKET / 2
        if count:
            height = max(2.0, round(count / most * _BARS, 1))
            out.append(
                f'<rect class="bar {side}" x="{x + 3}" y="{round(_AXIS - height, 1)}" width="{_BUCKET - 6}" '
                f'height="{height}"><title>{_e(plural(count, "persona"))} rated {_signed(rating)}</title></rect>'
                f'<text class="count" x="{centre}" y="{round(_AXIS - height - 3, 1)}">{count}</text>'
            )
        out.append(f'<text class="tick" x="{centre}" y="{_AXIS + 13}">{_signed(float(rating))}</text>')
    y = _AXIS + 30
    if mean is not None and minimum is not None and minimum > 0:
        x1, x2 = _x(mean - minimum), _x(mean + minimum)
        out.append(
            f'<rect class="minimum" x="{x1}" y="{y - 7}" width="{round(x2 - x1, 1)}" height="14">'
            f"<title>the least spread asked for: sd {_sd(minimum)}</title></rect>"
        )
    if mean is not None and sd is not None:
        x1, x2 = _x(mean - sd), _x(mean + sd)
        out.append(
            f'<path class="sd {side}" d="M{x1} {y - 4}V{y + 4}M{x1} {y}H{x2}M{x2} {y - 4}V{y + 4}">'
            f"<title>mean {_signed(mean)} ± sd {_sd(sd)}</title></path>"
            f'<circle class="mean {side}" cx="{_x(mean)}" cy="{y}" r="3.5"/>'
        )
    out.append("</svg>")
    verdict = ""
    if minimum is not None:
        word = ("collapsed" if sd == 0 else "too uniform") if failed else "ok"
        verdict = f' <span class="{"failed" if failed else "passed"}">{word}</span>'
    human = ""
    if _num(check.get("human_fraction")) is not None and _num(check.get("human_sd")) is not None:
        human = f" ({check['human_fraction']:g} × human sd {check['human_sd']:g})"
    limit = "" if minimum is None else f", minimum {_sd(minimum)}{human}"
    out.append(
        f'<figcaption><strong class="{side}">{side}</strong> <span class="sentence">{_e(sentence)}</span><br>'
        f"mean {_e(_signed(mean))}, sd {_sd(sd)}{_e(limit)}{verdict}</figcaption></figure>"
    )
    return "".join(out)


def _x(value: float) -> float:
    # Bucket r spans [r - 0.5, r + 0.5]; a little room past the ends for a wide spread.
    value = max(-4.75, min(4.75, value))
    return round(_LEFT + (value + 4.5) * _BUCKET, 1)


def _previous(before: dict[str, Any], block: dict[str, Any], passed: int | None, count: int | None) -> str:
    """The saved run's numbers, and this run's beside them where they changed."""
    spread = _dict(block.get("spread"))
    then_of, now_of = _of(_int(before.get("passed")), _int(before.get("count"))), _of(passed, count)
    parts = [f"gap held for {then_of}" + ("" if then_of == now_of else f" → {now_of}")]
    for side in SIDES:
        then, now = _sd(_num(before.get(f"{side}_sd"))), _sd(_num(_dict(spread.get(side)).get("sd")))
        parts.append(f"{side} sd {then}" + ("" if then == now else f" → {now}"))
    summary = persona_summary(block) or {}
    if _int(before.get("consistency_checks")) or summary.get("consistency_checks"):
        then_of = _of(_int(before.get("consistency_held")), _int(before.get("consistency_checks")))
        checks = summary.get("consistency_checks")
        now_of = _of(summary.get("consistency_held"), checks) if checks else "none"
        then, now = _sd(_num(before.get("consistency_worst"))), _sd(summary.get("consistency_worst"))
        text = f"consistency held {then_of}" + ("" if then_of == now_of else f" → {now_of}")
        if (then, now) != ("–", "–"):
            text += f", off by at most {then}" + ("" if then == now else f" → {now}")
        parts.append(text)
    was, now_outcome = _label(before.get("outcome")), _label(block.get("outcome"))
    parts.append(was + ("" if was == now_outcome else f" → {now_outcome}"))
    return f'<p class="previous">against the saved run: {_e("; ".join(parts))}</p>'


def _failed_personas(block: dict[str, Any], threshold: str) -> str:
    ratings = [r for r in block.get("ratings") or () if isinstance(r, dict)]
    failed = [r for r in ratings if r.get("passed") is False]
    if not failed:
        return ""
    shared = _shared(failed, ratings)
    summary = f"{plural(len(failed), 'persona')} of {len(ratings)} failed (gap < {threshold})"
    if shared:
        summary += "; every failing persona has " + ", ".join(f"{d}={v}" for d, v in shared)
    weighted = any(_num(r.get("weight")) is not None for r in failed)
    heads = ["persona"] + ["weight"] * weighted + ["harmful", "harmless", "gap", "description"]
    rows = []
    for r in failed[:MAX_LISTED]:
        cells = [f'<td class="text"><code>{_e(r.get("id") or "")}</code></td>']
        if weighted:
            weight = _num(r.get("weight"))
            cells.append(f'<td class="num">{"–" if weight is None else f"{weight:.1%}"}</td>')
        cells += [f'<td class="num">{_e(_signed(_num(r.get(k))))}</td>' for k in ("harmful", "harmless", "gap")]
        cells.append(f'<td class="text">{_e(r.get("description") or "")}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return _details("failed-personas", summary, heads, rows, len(failed))


def _shared(failed: list[dict[str, Any]], ratings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The grid values every failing persona has, when some but not all failed: the likely cause."""
    if len(failed) == len(ratings):
        return []
    first = _dict(failed[0].get("attributes"))
    return [
        (str(d), str(v)) for d, v in first.items() if all(_dict(r.get("attributes")).get(d) == v for r in failed[1:])
    ]


def _consistency(consistency: dict[str, Any]) -> str:
    checks = [c for c in consistency.get("checks") or () if isinstance(c, dict)]
    if not checks:
        return ""
    bad = [c for c in checks if c.get("passed") is False]
    limit = _num(consistency.get("max"))
    shown = "–" if limit is None else f"{limit:g}"
    line = (
        f'<p class="consistency">structural consistency: {len(checks) - len(bad)} of {len(checks)} checks held '
        f"(a broad persona's rating within {_e(shown)} of the weighted mix of its sub-personas' ratings)</p>"
    )
    if not bad:
        return line
    heads = ["persona", "sentence", "rated", "weighted mix", "off by", "description"]
    rows = []
    for c in bad[:MAX_LISTED]:
        over = c.get("over")
        members = _int(c.get("members"))
        of = f"of {members} " + ("personas" if over == "personas" else f"{over} groups") if members else ""
        rows.append(
            f'<tr><td class="text"><code>{_e(c.get("persona") or "")}</code></td>'
            f'<td class="text">{_e(c.get("side") or "")}</td>'
            f'<td class="num">{_e(_signed(_num(c.get("rating"))))}</td>'
            f'<td class="num" title="{_e(of)}">{_e(_signed(_num(c.get("mix"))))}</td>'
            f'<td class="num">{_sd(_num(c.get("difference")))}</td>'
            f'<td class="text">{_e(c.get("description") or "")}</td></tr>'
        )
    summary = f"{plural(len(bad), 'consistency check')} off by more than {shown}"
    return line + _details("failed-checks", summary, heads, rows, len(bad))


def _details(kind: str, summary: str, heads: list[str], rows: list[str], total: int) -> str:
    more = (
        f'<p class="note">… and {total - len(rows)} more (all of them are in the embedded JSON).</p>'
        if total > len(rows)
        else ""
    )
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    return (
        f'<details class="{kind}"><summary>{_e(summary)}</summary>'
        f'<table class="personas"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{more}'
        "</details>"
    )


# --- small helpers ----------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _show(value: int | None) -> str:
    return "?" if value is None else str(value)


def _of(passed: int | None, count: int | None) -> str:
    return f"{_show(passed)}/{_show(count)}"


def _min_pass(value: Any) -> str:
    share = _num(value)
    return "–" if share is None else f"{share * 100:g}%"


def _label(value: Any) -> str:
    return OUTCOME_LABELS.get(value, "–") if isinstance(value, str) else "–"


def _outcome(value: Any) -> str:
    return value if value in ("passed", "failed") else "error"


CSS = """
section#personas article { border-top: 1px solid var(--line); padding: 8px 0 12px; }
section#personas article:target { background: #fffbe6; }
section#personas h3 { font-size: 15px; margin: 4px 0; } section#personas h3 .suite { color: var(--muted);
  font-weight: normal; font-size: 12px; }
section#personas .held, section#personas .previous, section#personas .consistency { margin: 2px 0; }
section#personas .previous { color: var(--muted); }
section#personas ul.reasons { margin: 2px 0; padding-left: 20px; color: var(--failed); }
.histograms { display: flex; flex-wrap: wrap; gap: 8px 32px; margin: 6px 0; }
figure.histogram { margin: 0; max-width: 420px; } figure.histogram figcaption { font-size: 12.5px; }
figure.histogram .sentence { color: var(--muted); } figure.histogram strong.harmful { color: var(--harmful); }
figure.histogram strong.harmless { color: var(--harmless); }
figure.histogram .failed, table.pairs td .failed { color: var(--failed); font-weight: 600; }
figure.histogram .passed { color: var(--passed); }
svg.histogram .bar.harmful { fill: #c2a5cf; stroke: var(--harmful); }
svg.histogram .bar.harmless { fill: #92c5de; stroke: var(--harmless); }
svg.histogram .axis { stroke: #a0a0a8; } svg.histogram .count, svg.histogram .tick { text-anchor: middle; }
svg.histogram .tick { fill: var(--muted); } svg.histogram .count { font-size: 11px; }
svg.histogram .sd { fill: none; stroke-width: 2; } svg.histogram .sd.harmful { stroke: var(--harmful); }
svg.histogram .sd.harmless { stroke: var(--harmless); }
svg.histogram .mean.harmful { fill: var(--harmful); } svg.histogram .mean.harmless { fill: var(--harmless); }
svg.histogram .minimum { fill: none; stroke: var(--ink); stroke-dasharray: 3 2; }
figure.histogram.failed svg .minimum { stroke: var(--failed); }
details.failed-personas, details.failed-checks { margin: 4px 0; } details summary { cursor: pointer; }
table.personas td, table.personas th { border-bottom: 1px solid var(--line); padding: 2px 6px; text-align: left; }
table.personas td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.pairs td .was { color: var(--muted); font-size: 12px; }
"""


__all__ = ["CSS", "has_personas", "persona_cell", "persona_section"]
