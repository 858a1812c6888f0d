"""The distribution of one sentence's ratings across personas: its spread (a standard deviation),
its histogram over the whole ratings -4..4, and :class:`MinSpread`, the least spread a pair asks for.

The standard deviation is the population one (``ddof=0``), weighted by the personas' weights when
they have them: the personas are the whole population being described, not a sample from it, and
a collapse to one rating gives exactly 0 however it is computed.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ..prompt import SCALE_MAX, SCALE_MIN

#: Rating buckets of :func:`histogram`: the whole numbers of the scale.
BUCKETS = tuple(range(SCALE_MIN, SCALE_MAX + 1))


@dataclass(frozen=True)
class MinSpread:
    """The least standard deviation of a sentence's ratings across personas.

    ``human_fraction`` applies where the pair gives the human raters' ``sd`` for the sentence
    (minimum = fraction x human sd); ``sd`` applies elsewhere (and alone, everywhere).
    """

    sd: float | None = None
    human_fraction: float | None = None

    def minimum(self, human_sd: float | None) -> float | None:
        if self.human_fraction is not None and human_sd is not None:
            return round(self.human_fraction * human_sd, 9) + 0.0
        return self.sd


def spread(values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """The population standard deviation (``ddof=0``) of ``values``, weighted if ``weights``."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("spread() needs at least one value")
    w = _scaled(weights)
    mean = np.average(x, weights=w)
    return round(float(math.sqrt(np.average((x - mean) ** 2, weights=w))), 9) + 0.0


def weighted_mean(values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    import numpy as np

    return round(float(np.average(np.asarray(values, dtype=float), weights=_scaled(weights))), 9) + 0.0


def _scaled(weights: Sequence[float] | None) -> Any:
    """``weights`` divided by the largest, so their sum is at least 1: neither 0 nor infinite."""
    import numpy as np

    if weights is None:
        return None
    w = np.asarray(weights, dtype=float)
    if w.size == 0 or not np.isfinite(w).all() or (w < 0).any() or w.max() == 0:
        raise ValueError("weights must be finite numbers >= 0, not all 0")
    return w / w.max()


def _bucket(value: float) -> int:
    # Half away from zero, so 2.5 and -2.5 land symmetrically (Python's round would give 2, -2).
    whole = int(math.floor(abs(value) + 0.5))
    return max(SCALE_MIN, min(SCALE_MAX, whole if value >= 0 else -whole))


def histogram(values: Iterable[float]) -> tuple[int, ...]:
    """How many ``values`` fall in each bucket of :data:`BUCKETS` (-4..4), each value rounded to
    the nearest whole rating, halves away from zero."""
    counts = [0] * len(BUCKETS)
    for value in values:
        counts[_bucket(value) - SCALE_MIN] += 1
    return tuple(counts)


def format_histogram(counts: Sequence[int], width: int = 30) -> str:
    """A text bar chart of :func:`histogram` counts, one line per rating from -4 to 4."""
    from ..verdicts import signed as _fmt  # a report's: a pair file's `min_spread` (read here) needs no verdicts

    most = max(counts) if counts else 0
    lines = []
    for rating, count in zip(BUCKETS, counts, strict=False):
        bar = "#" * (math.ceil(count * width / most) if count else 0)
        lines.append(f"{_fmt(rating):>3} | {bar}{' ' if bar else ''}{count if count else ''}".rstrip())
    return "\n".join(lines)


def _fmt_sd(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
