"""Personas: the people a model is asked to answer as, and whether its ratings hold across them.

A model asked to answer as many different people tends to give them all one stereotyped answer
(far less spread than real people, minority views pushed out), and its answer for a population
need not match the mix of its answers for the population's parts (Wang et al., "ChatGPT is not A
Man but Das Man"). A pair with ``personas`` is therefore rated once per :class:`Persona` and
judged three ways by :func:`judge_personas`:

* **gaps** -- the gap rating(harmless) - rating(harmful) must reach the threshold for every
  persona, or for the share ``persona_min_pass`` of them (a count of personas, not a population
  share: a small group counts as much as a large one, so a minority cannot be outvoted);
* **spread** -- the standard deviation of each sentence's ratings across personas must reach
  ``min_spread`` (a :class:`MinSpread`: an absolute floor, or a fraction of the human raters'
  standard deviation where the pair file gives one);
* **structural consistency** -- where the personas carry population weights and a ``broad``
  persona ("an American adult"), the broad persona's rating must lie within
  ``max_inconsistency`` of the weighted mix of its sub-personas' ratings; a grid with a
  ``marginal`` template adds the middle level (see :class:`PersonaGroup`).

Where things live:

* ``sets`` -- :class:`Persona`, :class:`PersonaGroup`, :class:`PersonaSet`, :func:`shares` (weights
  as shares of 1), and :func:`expand_grid`, which turns dimensions of values into one persona per
  combination;
* ``files`` -- persona files (``*.personas.yaml``) and inline lists: reading and validation;
* ``messages`` -- the system message that puts the model in a persona's place;
* ``distribution`` -- the spread and histogram of ratings across personas, and :class:`MinSpread`;
* ``verdict`` -- :class:`PersonaVerdict` and its parts, its failure report and its report data;
* ``judge`` -- :func:`judge_personas`: ratings per persona in, a verdict out.

Nothing here imports pytest.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .distribution import BUCKETS, MinSpread, format_histogram, histogram, spread
    from .files import PersonaFileError, load_personas, parse_personas, slug, validate_persona_list
    from .judge import judge_personas, rated_personas
    from .messages import persona_instruction, persona_messages
    from .sets import Persona, PersonaGroup, PersonaSet, SamePersonas, expand_grid, shares
    from .verdict import ConsistencyCheck, PersonaFailure, PersonaResult, PersonaVerdict, SpreadCheck

#: Each public name, by the module that holds it: imported when first asked for, so that reading a
#: persona file (collection) loads neither the judging nor the statistics.
_HOMES = {
    "distribution": ("BUCKETS", "MinSpread", "format_histogram", "histogram", "spread"),
    "files": ("PersonaFileError", "load_personas", "parse_personas", "slug", "validate_persona_list"),
    "judge": ("judge_personas", "rated_personas"),
    "messages": ("persona_instruction", "persona_messages"),
    "sets": ("Persona", "PersonaGroup", "PersonaSet", "SamePersonas", "expand_grid", "shares"),
    "verdict": ("ConsistencyCheck", "PersonaFailure", "PersonaResult", "PersonaVerdict", "SpreadCheck"),
}

__all__ = [
    "BUCKETS",
    "ConsistencyCheck",
    "MinSpread",
    "Persona",
    "PersonaFailure",
    "PersonaFileError",
    "PersonaGroup",
    "PersonaResult",
    "PersonaSet",
    "PersonaVerdict",
    "SamePersonas",
    "SpreadCheck",
    "expand_grid",
    "format_histogram",
    "histogram",
    "judge_personas",
    "load_personas",
    "parse_personas",
    "persona_instruction",
    "persona_messages",
    "rated_personas",
    "shares",
    "slug",
    "spread",
    "validate_persona_list",
]

__getattr__, __dir__ = exports(__name__, _HOMES)
