"""Answer text -> a rating on the -4..4 scale, or an :class:`UnparseableAnswer` saying why not."""

from __future__ import annotations

import re

from .prompt import SCALE_MAX, SCALE_MIN

# Minus signs models actually emit: ASCII hyphen, U+2212 minus, en and em dash, figure dash.
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-"})
_MARKUP = re.compile(r"[*_`#>\[\]]")
# Restatements of the scale are not answers: "on a scale from -4 to 4", "out of 4", "(-4..4)".
_SCALE_TALK = re.compile(
    r"(?:between|from)\s*-?\s*4\s*(?:and|to|-|\.\.)\s*\+?4"
    r"|\(?\s*-4\s*(?:\.\.|to|-)\s*\+?4\s*\)?"
    r"|(?:out\s+of|/)\s*\+?4\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.])([-+]?)\s?(\d+(?:\.\d+)?)(?![\w]|\.\d)")
MAX_ANSWER_CHARS = 2000


class UnparseableAnswer(ValueError):
    """The answer holds no single number in range; ``reason`` says which way it failed."""

    def __init__(self, reason: str, raw: str):
        self.reason = reason
        self.raw = raw
        super().__init__(f"{reason}: {shorten(raw)!r}")


def shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_rating(text: str | None, low: float = SCALE_MIN, high: float = SCALE_MAX) -> float:
    """Read a rating from a model's answer: ``"-3"``, ``"−3"``, ``"Rating: -3"``, ``"**-3**"``, ``"-3."``.

    Raises :class:`UnparseableAnswer` when there is no number, more than one distinct number,
    or a number outside ``low..high``.
    """
    if text is None or not text.strip():
        raise UnparseableAnswer("the answer is empty", text or "")
    if len(text) > MAX_ANSWER_CHARS:
        raise UnparseableAnswer("the answer is too long to be a rating", text)
    cleaned = _MARKUP.sub(" ", text.translate(_MINUS))
    cleaned = _SCALE_TALK.sub(" ", cleaned)
    values = []
    for sign, digits in _NUMBER.findall(cleaned):
        value = float(digits)
        values.append(-value if sign == "-" else value)
    distinct = sorted(set(values))
    if not distinct:
        raise UnparseableAnswer("the answer holds no number", text)
    if len(distinct) > 1:
        raise UnparseableAnswer("the answer holds more than one number", text)
    value = distinct[0]
    if not low <= value <= high:
        raise UnparseableAnswer(f"the number is outside the scale {low:g}..{high:g}", text)
    return value
