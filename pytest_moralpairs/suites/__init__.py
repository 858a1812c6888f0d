"""Suites of pairs shipped with the plugin, and the rules their pairs keep.

A shipped suite is a folder of pair files (one per edit kind) with a ``suite.yaml`` naming it.
Two rules make a suite measure meaning rather than wording, and both are plain functions here so
that the suite's tests and, later, the validation of a user's suite share them:

* the minimal edit (:func:`edit_span`): the two sentences of a pair differ in one contiguous
  span of at most :data:`MAX_SPAN_WORDS` words on each side, all else identical;
* the valence of that span (:func:`span_valence`): what the offline ``moralpairs/lexical`` rater
  would make of the edited words alone, looked up exactly as it looks them up.

Words are what ``str.split()`` gives: runs of non-space characters, punctuation kept attached
("whip." is one word, and differs from "whip"). Comparison is exact, case included. So an edit
that only moves a comma or changes a capital is still an edit of one word, which is what a
model reading the text sees.

No pytest here: scripts and notebooks use it too.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

#: The most words either side of a pair may change.
MAX_SPAN_WORDS = 4
#: Where the shipped suites live: one folder each.
SUITES_DIR = Path(__file__).resolve().parent
SUITE_FILE = "suite.yaml"
PAIR_FILE_GLOB = "*.moral.yaml"


@dataclass(frozen=True)
class EditSpan:
    """Two sentences as their shared prefix, the words each puts in between, and their shared suffix."""

    prefix: tuple[str, ...]
    harmful: tuple[str, ...]
    harmless: tuple[str, ...]
    suffix: tuple[str, ...]

    def problem(self, max_words: int = MAX_SPAN_WORDS) -> str | None:
        """Why this is not a minimal edit (each side changes 1 to ``max_words`` words), or None."""
        if not self.harmful and not self.harmless:
            return "the two sentences have the same words: a pair needs an edit"
        for side, span in (("harmful", self.harmful), ("harmless", self.harmless)):
            if not span:
                other = "harmless" if side == "harmful" else "harmful"
                return (
                    f"the {other} sentence only adds words ({_quote(self.harmless or self.harmful)}); "
                    f"an edit replaces 1 to {max_words} words on each side"
                )
            if len(span) > max_words:
                return (
                    f"the {side} sentence changes {len(span)} words ({_quote(span)}); "
                    f"the limit is {max_words}, in one contiguous span"
                )
        return None


def words(sentence: str) -> tuple[str, ...]:
    """The words of a sentence as the minimal-edit rule counts them: split on whitespace."""
    return tuple(sentence.split())


def edit_span(harmful: str, harmless: str) -> EditSpan:
    """Strip the longest common prefix, then the longest common suffix of what remains: the words
    left on each side are the edited span (contiguous by construction, possibly empty)."""
    a, b = words(harmful), words(harmless)
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end = 0
    while end < len(a) - start and end < len(b) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return EditSpan(a[:start], a[start : len(a) - end], b[start : len(b) - end], a[len(a) - end :])


def span_valence(span: Iterable[str]) -> float:
    """The summed VADER valence (each -4..4) of a span's words, looked up as the lexical rater
    looks them up: a plain suffix stripped when that finds an entry ("wrongfully" -> "wrong"),
    VADER's own tokens (a possessive such as "victim's" is not "victim"), case ignored, 0 for a
    word the lexicon lacks. The rater's rules for negation and emphasis do not apply: this is
    what the words say, not what the sentence scores."""
    from vaderSentiment.vaderSentiment import SentiText

    from ..providers import lexical

    lexicon = lexical._analyzer().lexicon
    text = lexical._WORD.sub(lambda m: lexical._stem_in_lexicon(m.group(0), lexicon), " ".join(span))
    return float(sum(lexicon.get(token.lower(), 0.0) for token in SentiText(text).words_and_emoticons))


def word_valence(word: str) -> float:
    """The :func:`span_valence` of one word."""
    return span_valence((word,))


def suite_files(name: str) -> list[Path]:
    """The pair files of the shipped suite ``name``, sorted by name."""
    known = sorted(path.parent.name for path in SUITES_DIR.glob(f"*/{SUITE_FILE}"))
    if name not in known:
        raise ValueError(f"there is no shipped suite {name!r}; shipped suites: {', '.join(known) or 'none'}")
    return sorted((SUITES_DIR / name).glob(PAIR_FILE_GLOB))


def _quote(span: Iterable[str]) -> str:
    return '"' + " ".join(span) + '"'


__all__ = [
    "MAX_SPAN_WORDS",
    "SUITES_DIR",
    "EditSpan",
    "edit_span",
    "span_valence",
    "suite_files",
    "word_valence",
    "words",
]
