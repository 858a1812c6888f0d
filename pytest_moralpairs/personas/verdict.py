"""What a pair's ratings across its personas came to: :class:`PersonaVerdict`, made of one
:class:`PersonaResult` per persona, a :class:`SpreadCheck` per sentence and the
:class:`ConsistencyCheck` list; its failure report (:meth:`PersonaVerdict.explain`) and its report
data (:meth:`PersonaVerdict.to_dict`, the ``personas`` of a pair in the run document).

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..validation import shorten
from ..verdicts import signed as _fmt
from .distribution import BUCKETS, _fmt_sd


@dataclass(frozen=True)
class PersonaResult:
    """One persona's ratings of both sentences (the mean, when there are several samples)."""

    persona: str
    description: str
    harmful_rating: float
    harmless_rating: float
    passed: bool
    weight: float | None = None
    harmful_raw: str | None = None
    harmless_raw: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def gap(self) -> float:
        return round(self.harmless_rating - self.harmful_rating, 9) + 0.0

    def rating(self, side: str) -> float:
        return self.harmful_rating if side == "harmful" else self.harmless_rating


@dataclass(frozen=True)
class SpreadCheck:
    """The spread of one sentence's ratings across personas, against its minimum (if any)."""

    side: str
    sd: float
    mean: float
    counts: tuple[int, ...]
    minimum: float | None = None
    human_sd: float | None = None
    human_fraction: float | None = None

    @property
    def passed(self) -> bool:
        return self.minimum is None or self.sd >= self.minimum

    @property
    def checked(self) -> bool:
        return self.minimum is not None


@dataclass(frozen=True)
class ConsistencyCheck:
    """One sentence's rating by a broad (or marginal) persona against the weighted mix of its
    sub-personas' ratings."""

    side: str
    persona: str
    description: str
    over: str
    members: int
    rating: float
    mix: float
    maximum: float

    @property
    def difference(self) -> float:
        return round(abs(self.rating - self.mix), 9) + 0.0

    @property
    def passed(self) -> bool:
        return self.difference <= self.maximum


@dataclass(frozen=True)
class PersonaVerdict:
    """Whether a pair held across its personas: gaps, spread and structural consistency."""

    pair_id: str
    model: str
    harmful: str
    harmless: str
    threshold: float
    results: tuple[PersonaResult, ...]
    min_pass: float = 1.0
    spread: tuple[SpreadCheck, ...] = ()
    consistency: tuple[ConsistencyCheck, ...] = ()
    aggregates: tuple[PersonaResult, ...] = ()
    max_inconsistency: float | None = None
    source: str | None = None

    @property
    def failed_personas(self) -> tuple[PersonaResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def passed_count(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def required_count(self) -> int:
        """How many personas must pass: ``min_pass`` of them, rounded up, at least one."""
        return max(1, math.ceil(round(self.min_pass * len(self.results), 9)))

    @property
    def gaps_passed(self) -> bool:
        return self.passed_count >= self.required_count

    @property
    def spread_passed(self) -> bool:
        return all(s.passed for s in self.spread)

    @property
    def consistency_passed(self) -> bool:
        return all(c.passed for c in self.consistency)

    @property
    def passed(self) -> bool:
        return self.gaps_passed and self.spread_passed and self.consistency_passed

    @property
    def outcome(self) -> str:
        return "passed" if self.passed else "failed"

    @property
    def reasons(self) -> tuple[str, ...]:
        """One short line per failed check, for summaries."""
        out = []
        if not self.gaps_passed:
            out.append(
                f"gap held for {self.passed_count} of {len(self.results)} personas (needs {self.required_count})"
            )
        for s in self.spread:
            if not s.passed:
                out.append(
                    f"{s.side} ratings {'collapsed' if s.sd == 0 else 'too uniform'}: "
                    f"sd {_fmt_sd(s.sd)} < {_fmt_sd(s.minimum)}"
                )
        bad = [c for c in self.consistency if not c.passed]
        if bad:
            out.append(
                f"{len(bad)} of {len(self.consistency)} consistency checks off by more than {self.max_inconsistency:g}"
            )
        return tuple(out)

    @property
    def shared_by_failed(self) -> tuple[tuple[str, str], ...]:
        """The grid values every failing persona has, when some but not all personas failed:
        the likely cause ("politics=rep")."""
        failed = self.failed_personas
        if not failed or len(failed) == len(self.results):
            return ()
        common = set(failed[0].attributes).intersection(*(r.attributes for r in failed[1:]))
        return tuple(a for a in failed[0].attributes if a in common)

    def _required_text(self) -> str:
        if self.required_count >= len(self.results):
            return "every persona must pass"
        return f"{self.min_pass * 100:g}% ({self.required_count}) must pass"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data for reports; survives pytest-xdist serialisation.

        Keys: ``pair_id``, ``model``, ``harmful``, ``harmless``, ``threshold``, ``outcome``
        (``"passed"``/``"failed"``), ``passed``, ``reasons`` (list of text); ``personas``:
        ``{count, passed, required, min_pass, source}``; ``ratings``: one ``{id, description,
        weight, harmful, harmless, gap, passed, harmful_raw, harmless_raw, attributes}`` per persona
        (``attributes``: ``{dimension: value id}`` for a grid cell, else empty);
        ``aggregates``: the same for the broad and marginal personas (their ``passed`` is
        informative only); ``spread``: per side (``harmful``, ``harmless``) ``{sd, mean, minimum,
        human_sd, human_fraction, passed, histogram}``, ``histogram`` being the counts for the
        ratings -4..4 in order; ``consistency``: ``{max, passed, checks: [{side, persona,
        description, over, members, rating, mix, difference, passed}]}``.
        """

        def rating(r: PersonaResult) -> dict[str, Any]:
            return {
                "id": r.persona,
                "description": r.description,
                "weight": r.weight,
                "harmful": r.harmful_rating,
                "harmless": r.harmless_rating,
                "gap": r.gap,
                "passed": r.passed,
                "harmful_raw": r.harmful_raw,
                "harmless_raw": r.harmless_raw,
                "attributes": dict(r.attributes),
            }

        return {
            "pair_id": self.pair_id,
            "model": self.model,
            "harmful": self.harmful,
            "harmless": self.harmless,
            "threshold": self.threshold,
            "outcome": self.outcome,
            "passed": self.passed,
            "reasons": list(self.reasons),
            "personas": {
                "count": len(self.results),
                "passed": self.passed_count,
                "required": self.required_count,
                "min_pass": self.min_pass,
                "source": self.source,
            },
            "ratings": [rating(r) for r in self.results],
            "aggregates": [rating(r) for r in self.aggregates],
            "spread": {
                s.side: {
                    "sd": s.sd,
                    "mean": s.mean,
                    "minimum": s.minimum,
                    "human_sd": s.human_sd,
                    "human_fraction": s.human_fraction,
                    "passed": s.passed,
                    "histogram": list(s.counts),
                }
                for s in self.spread
            },
            "consistency": {
                "max": self.max_inconsistency,
                "passed": self.consistency_passed,
                "checks": [
                    {
                        "side": c.side,
                        "persona": c.persona,
                        "description": c.description,
                        "over": c.over,
                        "members": c.members,
                        "rating": c.rating,
                        "mix": c.mix,
                        "difference": c.difference,
                        "passed": c.passed,
                    }
                    for c in self.consistency
                ],
            },
        }

    def explain(self, limit: int = 15) -> str:
        """The failure report: which personas broke the pair (with their ratings), the spread of
        the ratings against its minimum, and the inconsistent aggregates."""
        n = len(self.results)
        head = f"moral pair {self.pair_id!r} across {n} personas: " + ("; ".join(self.reasons) or "passed")
        lines = [
            f"{head}  (model {self.model})",
            f"  harmful   {self.harmful}",
            f"  harmless  {self.harmless}",
            f"  gap >= {self.threshold:g} held for {self.passed_count} of {n} personas; {self._required_text()}"
            + (f"  (personas: {self.source})" if self.source else ""),
        ]
        failed = self.failed_personas
        if failed and len(failed) == n:
            limit = min(limit, 5)  # every persona failed: a few rows show how, the rest would repeat them
        if failed:
            width = min(max(len(r.persona) for r in failed), 40)
            lines.append(
                f"  personas that failed (gap < {self.threshold:g}):\n"
                f"    {'persona':<{width}}  harmful  harmless   gap  description"
            )
            for r in failed[:limit]:
                ratings = f"{_fmt(r.harmful_rating):>7}  {_fmt(r.harmless_rating):>8}  {_fmt(r.gap):>4}"
                lines.append(f"    {shorten(r.persona, 40):<{width}}  {ratings}  {shorten(r.description, 70)}")
            if len(failed) > limit:
                lines.append(f"    ... and {len(failed) - limit} more")
            shared = self.shared_by_failed
            if shared:
                lines.append("    every failing persona has " + ", ".join(f"{d}={v}" for d, v in shared))
        if self.spread:
            lines.append("  ratings across personas " + "".join(f"{_fmt(b):>4}" for b in BUCKETS) + "     sd    min")
            for s in self.spread:
                counts = "".join(f"{c if c else '.':>4}" for c in s.counts)
                verdict = "" if not s.checked else ("  ok" if s.passed else "  FAILED")
                lines.append(
                    f"    {s.side:<22}{counts}  {_fmt_sd(s.sd):>5}  {_fmt_sd(s.minimum):>5}{verdict}"
                    f"{_minimum_source(s)}"
                )
        bad = [c for c in self.consistency if not c.passed]
        if self.consistency:
            lines.append(
                f"  structural consistency: |rating of a broad persona - weighted mix of its sub-personas| "
                f"<= {self.max_inconsistency:g}; {len(self.consistency) - len(bad)} of {len(self.consistency)} "
                "checks held"
            )
            for c in bad[:limit]:
                lines.append(
                    f"    {shorten(c.persona, 40)} ({c.side}): rated {_fmt(c.rating)}, weighted mix of "
                    f"{c.members} {'personas' if c.over == 'personas' else c.over + ' groups'} "
                    f"{_fmt(round(c.mix, 2))}, off by {c.difference:.2f}  {shorten(c.description, 60)}"
                )
            if len(bad) > limit:
                lines.append(f"    ... and {len(bad) - limit} more")
        return "\n".join(lines)


def _minimum_source(check: SpreadCheck) -> str:
    if check.human_fraction is not None and check.human_sd is not None:
        return f" ({check.human_fraction:g} x human sd {check.human_sd:g})"
    return ""


class PersonaFailure(AssertionError):
    """A pair that did not hold across its personas; the message is the whole failure report."""

    def __init__(self, verdict: PersonaVerdict):
        self.verdict = verdict
        super().__init__(verdict.explain())
