"""What word valence alone makes of a pair: the measures behind a suite's rules, for any pair.

A suite that measures meaning must not be solvable by wording. For each pair this records the
edited span, what its words weigh in the lexicon on each side, and the verdict of the offline
``moralpairs/lexical`` rater, which judges sentences by those weights and nothing else.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..pairs import Pair
from ..providers.lexical import lexical_rating
from ..stats import DEFAULT_THRESHOLD
from . import EditSpan, edit_span, span_valence


@dataclass(frozen=True)
class PairAudit:
    """One pair seen by word valence: its edit, the valence of each side's span, and the lexical
    rater's ratings of both sentences against the pair's threshold."""

    pair: Pair
    span: EditSpan
    harmful_valence: float
    harmless_valence: float
    harmful_rating: int
    harmless_rating: int
    threshold: float

    @property
    def harmless_sounds_worse(self) -> bool:
        """The harmless side's edited words weigh strictly more negative than the harmful side's,
        as "wrongfully" does against "rightfully": wording points the wrong way."""
        return self.harmless_valence < self.harmful_valence

    @property
    def lexical_gap(self) -> int:
        return self.harmless_rating - self.harmful_rating

    @property
    def lexical_passes(self) -> bool:
        """Whether the lexical rater passes the pair, as a run with ``--moral-model=moralpairs/lexical`` would."""
        return self.lexical_gap >= self.threshold


def audit_pair(pair: Pair, threshold: float = DEFAULT_THRESHOLD) -> PairAudit:
    """Audit one pair; ``threshold`` applies when the pair sets none."""
    span = edit_span(pair.harmful, pair.harmless)
    return PairAudit(
        pair=pair,
        span=span,
        harmful_valence=span_valence(span.harmful),
        harmless_valence=span_valence(span.harmless),
        harmful_rating=lexical_rating(pair.harmful),
        harmless_rating=lexical_rating(pair.harmless),
        threshold=pair.threshold if pair.threshold is not None else threshold,
    )
