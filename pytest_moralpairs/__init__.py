"""pytest-moralpairs: minimal moral pairs as regression tests for language models.

The core (pairs, prompt, answers, engine, verdicts) works without pytest::

    from pytest_moralpairs import RatingEngine, RatingRequest, ModelSettings, load_suite

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from .answers import UnparseableAnswer, parse_rating
from .engine import ModelSettings, Rating, RatingEngine, RatingError, RatingRequest
from .pairs import HumanRating, Pair, PairFileError, Problem, Suite, load_suite, parse_suite
from .prompt import DEFAULT_PROMPT, PromptTemplate
from .verdicts import MoralGapFailure, Verdict, judge

__version__ = "0.1.0"

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
