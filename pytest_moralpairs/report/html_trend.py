"""The HTML report's trend (with ``--moral-history``): each pair's gap over the model's last runs
as a small inline SVG line in the table of pairs, and the runs it covers with their pass rates.

Drawn here from a :class:`~pytest_moralpairs.history.Trend`; nothing is fetched.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from typing import Any

from ..history import Trend
from ..stats import finite
from .document import pair_key
from .formatting import escape as _e
from .formatting import signed_or

WIDTH, HEIGHT, PAD = 110, 26, 4


def _scale(values: list[float], threshold: float | None) -> tuple[float, float]:
    """The gaps' range with the threshold in it, at least 2 rating points tall."""
    low, high = min(values), max(values)
    if threshold is not None:
        low, high = min(low, threshold), max(high, threshold)
    if high - low < 2:
        middle = (high + low) / 2
        low, high = middle - 1, middle + 1
    return low, high


def sparkline(gaps: list[float | None], outcomes: list[str | None], threshold: float | None, tip: str) -> str:
    """An inline SVG of the gaps (oldest left, this run right): a line broken where a run had no
    gap, a dot per run coloured by its outcome, the threshold dashed."""
    points = [(i, g) for i, g in enumerate(gaps) if g is not None]
    if not points:
        return "–"
    low, high = _scale([g for _, g in points], threshold)
    step = (WIDTH - 2 * PAD) / max(len(gaps) - 1, 1)

    def x(i: int) -> float:
        return round(PAD + i * step, 1)

    def y(value: float) -> float:
        return round(PAD + (high - value) / (high - low) * (HEIGHT - 2 * PAD), 1)

    out = [
        f'<svg class="spark" role="img" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-label="{_e(tip)}"><title>{_e(tip)}</title>'
    ]
    if threshold is not None:
        level = y(threshold)
        out.append(f'<line class="spark-threshold" x1="{PAD}" y1="{level}" x2="{WIDTH - PAD}" y2="{level}"/>')
    run: list[str] = []
    for i, gap in enumerate([*gaps, None]):
        if gap is None:
            if len(run) > 1:
                out.append(f'<polyline class="spark-line" points="{" ".join(run)}"/>')
            run = []
        else:
            run.append(f"{x(i)},{y(gap)}")
    for i, gap in points:
        outcome = outcomes[i] if outcomes[i] in ("passed", "failed", "inconclusive") else "error"
        radius = 3 if i == len(gaps) - 1 else 2
        out.append(f'<circle class="spark-dot {outcome}" cx="{x(i)}" cy="{y(gap)}" r="{radius}"/>')
    out.append("</svg>")
    return "".join(out)


def trend_cell(trend: Trend, p: dict[str, Any]) -> tuple[float | None, str, str]:
    """The table cell of a pair: what it sorts by (the gap's change from the first run shown to
    this one), its content and its tooltip."""
    key = pair_key(p)
    gaps, outcomes = trend.gaps.get(key, []), trend.outcomes.get(key, [])
    shown = [g for g in gaps if g is not None]
    if not shown:
        return None, "–", ""
    tip = "gap in the last runs, oldest first: " + ", ".join(signed_or(g, missing="not run") for g in gaps)
    change = shown[-1] - shown[0] if len(shown) > 1 else None
    return change, sparkline(gaps, outcomes, finite(p.get("threshold")), tip), tip


def history_section(trend: Trend) -> str:
    """The runs the trend covers: a line of their pass rates, and each run in a folded table."""
    runs = trend.runs
    rates = [finite(r.get("pass_rate")) for r in runs]
    shown = [r for r in rates if r is not None]
    line = "–"
    if shown:
        tip = "pass rate in the last runs, oldest first: " + ", ".join(
            "–" if r is None else f"{r * 100:.1f}%" for r in rates
        )
        scaled = [None if r is None else r * 8 - 4 for r in rates]  # 0..1 drawn on the gap line's -4..4
        line = sparkline(scaled, ["passed"] * len(rates), None, tip)
    rows = "".join(
        f"<tr><td>{_e(r.get('created') or '–')}{' (this run)' if i == len(runs) - 1 else ''}</td>"
        f"<td><code>{_e((r.get('git') or '–')[:12])}</code></td>"
        f'<td class="num">{"–" if rates[i] is None else f"{rates[i] * 100:.1f}%"}</td></tr>'
        for i, r in enumerate(runs)
    )
    return (
        '<section id="history"><h2>History</h2>'
        f'<p class="trend-runs">The last {len(runs)} runs of <code>{_e(trend.model or "no model")}</code> in '
        f"<code>{_e(trend.folder)}</code>, this run last. Pass rate: {line}</p>"
        '<details class="runs"><summary>runs</summary><table class="runs"><thead><tr><th>created</th><th>commit</th>'
        f"<th>pass rate</th></tr></thead><tbody>{rows}</tbody></table></details>"
        "<p class=\"note\">The table's trend column draws each pair's gap in these runs (oldest left); the "
        "dashed line is its threshold, a dot's colour the run's outcome.</p></section>"
    )


CSS = """
svg.spark { vertical-align: middle; }
svg .spark-line { fill: none; stroke: #5f6368; stroke-width: 1.5; }
svg .spark-threshold { stroke: #1d1d1f; stroke-width: 1; stroke-dasharray: 3 2; opacity: 0.6; }
svg .spark-dot.passed { fill: var(--passed); } svg .spark-dot.failed { fill: var(--failed); }
svg .spark-dot.inconclusive { fill: var(--inconclusive); } svg .spark-dot.error { fill: var(--error); }
table.runs td, table.runs th { padding: 2px 10px 2px 0; text-align: left; } table.runs td.num { text-align: right; }
"""
