"""The personas a pair is rated for: one :class:`Persona`, the :class:`PersonaSet` they form, and
:func:`expand_grid`, which makes a set from dimensions of values (every combination one persona).

A set may also carry the broad persona ("an American adult") and groups (:class:`PersonaGroup`) that say
whose weighted mix its rating should match: the structural-consistency check.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

#: The id of a set's broad persona; no persona or grid value may take it.
BROAD_ID = "broad"
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Persona:
    """One person a model is asked to answer as.

    ``id`` is a short stable name for reports; ``description`` is the text the system message
    uses; ``weight`` is the persona's share of the population (normalised over its set), or None;
    ``attributes`` are the grid values it stands for, as ``(dimension, value id)`` pairs.
    """

    id: str
    description: str
    weight: float | None = None
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PersonaGroup:
    """A persona standing for a population, and the personas whose weighted mix should match it.

    ``members`` are ``(persona id, weight)`` with the weights normalised to sum to 1. ``over`` says
    what the members are: ``"personas"`` for the set's own personas (the grid cells), or a
    dimension name for that dimension's marginal personas. A weighted grid with a ``broad``
    persona has the group broad ~ all cells; with a ``marginal`` template also, per dimension,
    broad ~ that dimension's marginals and each marginal ("an American adult who leans
    Democrat") ~ its cells.
    """

    persona: Persona
    members: tuple[tuple[str, float], ...]
    over: str = "personas"


@dataclass(frozen=True)
class PersonaSet:
    """The personas a pair is rated for, and what structural consistency compares.

    ``personas`` are the ones every gap and the spread are judged on (a list, or the cells of a
    grid); ``broad`` and the marginal personas of ``groups`` are rated only for the consistency
    check. ``path`` names the persona file, if the set came from one.
    """

    personas: tuple[Persona, ...]
    broad: Persona | None = None
    groups: tuple[PersonaGroup, ...] = ()
    description: str | None = None
    path: str | None = None
    dimensions: tuple[str, ...] = ()

    @property
    def weighted(self) -> bool:
        return bool(self.personas) and all(p.weight is not None for p in self.personas)

    @property
    def aggregates(self) -> tuple[Persona, ...]:
        """The broad and marginal personas (those of ``groups``), each once, broad first."""
        seen: dict[str, Persona] = {}
        for group in self.groups:
            seen.setdefault(group.persona.id, group.persona)
        return tuple(seen.values())

    def to_rate(self, consistency: bool = False) -> tuple[Persona, ...]:
        """Every persona to rate each sentence for: the personas, plus the aggregates when the
        consistency check is wanted."""
        return self.personas + (self.aggregates if consistency else ())

    def __len__(self) -> int:
        return len(self.personas)


def expand_grid(
    dimensions: Mapping[str, Sequence[tuple[str, str, float | None]]],
    *,
    template: str | None = None,
    broad: str | None = None,
    marginal: str | None = None,
    description: str | None = None,
    path: str | None = None,
) -> PersonaSet:
    """Every combination of one value per dimension, as a :class:`PersonaSet`.

    ``dimensions`` maps each dimension (in order) to its values ``(id, text, weight or None)``.
    A cell's id joins its value ids with '.'; its description is ``template`` with each
    ``{dimension}`` (and ``{broad}``) filled in, by default the broad text and the value texts
    joined by ", ". With weights, each dimension's become shares (:func:`shares`) and a cell weighs
    their product (so the grid treats the dimensions as independent). With weights and ``broad``,
    the set compares the broad persona with the weighted mix of the cells; with ``marginal`` too
    (a template with ``{value}``), one persona per dimension value (id ``dimension=value``) sits
    between them, compared with its cells, and each dimension's marginals with the broad persona.

    Raises ``ValueError`` for weights that are not finite numbers > 0, a cell whose weight rounds
    to 0, or :class:`SamePersonas` for two cells described alike.
    """

    names = list(dimensions)
    if not names or any(not dimensions[n] for n in names):
        raise ValueError("expand_grid() needs at least one dimension, each with at least one value")
    weighted = all(w is not None for n in names for _, _, w in dimensions[n])
    share: dict[str, dict[str, float]] = {}
    if weighted:
        for n in names:
            ids = [vid for vid, _, _ in dimensions[n]]
            share[n] = dict(zip(ids, shares([w for _, _, w in dimensions[n]]), strict=True))  # type: ignore[arg-type]
    if template is None:
        template = ", ".join(["{broad}"] * (broad is not None) + ["{" + n + "}" for n in names])
    cells = []
    for combination in itertools.product(*(dimensions[n] for n in names)):
        texts = {n: text for n, (_, text, _) in zip(names, combination, strict=True)}
        if broad is not None:
            texts["broad"] = broad
        weight = (
            math.prod(share[n][vid] for n, (vid, _, _) in zip(names, combination, strict=True)) if weighted else None
        )
        cells.append(
            Persona(
                ".".join(vid for vid, _, _ in combination),
                _render(template, texts),
                weight,
                tuple((n, vid) for n, (vid, _, _) in zip(names, combination, strict=True)),
            )
        )
    light = next((c for c in cells if c.weight == 0), None)
    if light is not None:
        raise ValueError(f"expand_grid(): the weight of cell {light.id!r} rounds to 0 beside the others")
    twins = same_personas(cells)
    if twins is not None:
        raise SamePersonas(*twins)
    if broad is None or not weighted:
        return PersonaSet(tuple(cells), description=description, path=path, dimensions=tuple(names))
    broad_persona = Persona(BROAD_ID, broad, None)
    groups = [PersonaGroup(broad_persona, tuple((c.id, c.weight) for c in cells))]  # type: ignore[misc]
    if marginal is not None:
        for n in names:
            marginals = []
            for vid, text, _ in dimensions[n]:
                persona = Persona(
                    f"{n}={vid}", _render(marginal, {"value": text, "broad": broad}), share[n][vid], ((n, vid),)
                )
                members = [c for c in cells if (n, vid) in c.attributes]
                mix = shares([c.weight for c in members])  # type: ignore[arg-type]
                marginals.append(PersonaGroup(persona, tuple(zip((c.id for c in members), mix, strict=True))))
            groups.append(PersonaGroup(broad_persona, tuple((g.persona.id, g.persona.weight) for g in marginals), n))  # type: ignore[misc]
            groups.extend(marginals)
    return PersonaSet(tuple(cells), broad_persona, tuple(groups), description, path, tuple(names))


def shares(weights: Sequence[float]) -> tuple[float, ...]:
    """``weights`` as shares that sum to 1.

    Each weight is divided by the largest before they are summed, so weights near the limits of a
    float (1.0e+308 twice, or 4.9e-324) neither overflow nor vanish. A weight far smaller than the
    largest may still give a share of 0, which the caller must reject. Raises ``ValueError`` for
    no weights, or weights that are not finite numbers > 0.
    """
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past the largest float
        values = []
    if not values or not all(0 < v < math.inf for v in values):
        raise ValueError("shares() needs weights that are finite numbers > 0")
    largest = max(values)
    scaled = [v / largest for v in values]
    total = math.fsum(scaled)  # at least 1: the largest scaled weight is 1
    return tuple(s / total for s in scaled)


def persona_key(description: str) -> str:
    """What makes two descriptions the same persona: letter case, spaces and a final '.' aside
    (the system message drops a final '.')."""
    return " ".join(description.split()).rstrip(".").rstrip().casefold()


def same_personas(personas: Sequence[Persona]) -> tuple[Persona, Persona] | None:
    """The first two of ``personas`` that describe the same person (see :func:`persona_key`)."""
    seen: dict[str, int] = {}
    for index, persona in enumerate(personas):
        first = seen.setdefault(persona_key(persona.description), index)
        if first != index:
            return personas[first], persona
    return None


class SamePersonas(ValueError):
    """Two personas of one set describe the same person: it would be counted twice."""

    def __init__(self, first: Persona, second: Persona):
        super().__init__(f"personas {first.id!r} and {second.id!r} are both described as {second.description!r}")
        self.first, self.second = first, second


def _render(template: str, values: Mapping[str, str]) -> str:
    # One pass, so a value containing "{age}" is not filled again.
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), template)
