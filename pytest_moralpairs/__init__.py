"""pytest-moralpairs: minimal moral pairs as regression tests for language models.

The core (pairs, prompt, answers, engine, verdicts) works without pytest::

    from pytest_moralpairs import RatingEngine, RatingRequest, ModelSettings, load_suite

Each name is imported from its module when first asked for: importing the plugin (``pytest --co``,
``pytest --help``) loads only what collecting pair files needs.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import exports, skip_assertion_rewriting

skip_assertion_rewriting(__name__)  # first: every module below loads from its .pyc where there is one

if TYPE_CHECKING:
    from .answers import UnparseableAnswer, parse_rating
    from .engine import ModelSettings, Rating, RatingEngine, RatingError, RatingRequest
    from .pairs import HumanRating, Pair, PairFileError, Problem, Suite, load_suite, parse_suite
    from .prompt import DEFAULT_PROMPT, PromptTemplate
    from .verdicts import MoralGapFailure, Verdict, judge

__version__ = "0.1.0"

#: Each public name, by the module that holds it.
_HOMES = {
    "answers": ("UnparseableAnswer", "parse_rating"),
    "engine": ("ModelSettings", "Rating", "RatingEngine", "RatingError", "RatingRequest"),
    "pairs": ("HumanRating", "Pair", "PairFileError", "Problem", "Suite", "load_suite", "parse_suite"),
    "prompt": ("DEFAULT_PROMPT", "PromptTemplate"),
    "verdicts": ("MoralGapFailure", "Verdict", "judge"),
}

__all__ = [
    "DEFAULT_PROMPT",
    "HumanRating",
    "ModelSettings",
    "MoralGapFailure",
    "Pair",
    "PairFileError",
    "Problem",
    "PromptTemplate",
    "Rating",
    "RatingEngine",
    "RatingError",
    "RatingRequest",
    "Suite",
    "UnparseableAnswer",
    "Verdict",
    "judge",
    "load_suite",
    "parse_rating",
    "parse_suite",
]

__getattr__, __dir__ = exports(__name__, _HOMES)
