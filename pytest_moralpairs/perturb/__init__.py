"""Lexical perturbations: a lexicon of swappable words with a moral polarity, and templates.

The Hypothesis strategies that draw from them are in :mod:`pytest_moralpairs.strategies`; the rule
that decides which filling of a template is harmful is documented in :mod:`.lexicon`.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from .lexicon import (
    EDIT_KINDS,
    PERSON,
    Lexicon,
    LexiconFileError,
    LexiconProblem,
    Slot,
    Template,
    TemplateError,
    invariance_candidates,
    load_lexicon,
    load_lexicons,
    parse_lexicon,
    parse_template,
)

__all__ = [
    "EDIT_KINDS",
    "Lexicon",
    "LexiconFileError",
    "LexiconProblem",
    "PERSON",
    "Slot",
    "Template",
    "TemplateError",
    "invariance_candidates",
    "load_lexicon",
    "load_lexicons",
    "parse_lexicon",
    "parse_template",
]
