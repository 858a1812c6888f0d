"""Answer text -> a rating on the -4..4 scale, or an :class:`UnparseableAnswer` saying why not."""

from __future__ import annotations

import re

from .prompt import SCALE_MAX, SCALE_MIN

# Minus signs models actually emit: ASCII hyphen, U+2212 minus, the Unicode hyphens and dashes
# (hyphen, non-breaking hyphen, figure dash, en and em dash, bar), small and full-width forms.
# A sign that is not recognised must never be dropped silently: "\u2010" + "3" is not +3.
_MINUS_CHARS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u02d7\u2796\ufe58\ufe63\uff0d"
_PLUS_CHARS = "\ufe62\uff0b\u2795"
_MINUS = str.maketrans({**{c: "-" for c in _MINUS_CHARS}, **{c: "+" for c in _PLUS_CHARS}})
_MARKUP = re.compile(r"[*_`#>\[\]]")
# Restatements of the scale are not answers: "on a scale from -4 to 4", "out of 4", "(-4..4)".
_SCALE_TALK = re.compile(
    r"(?:between|from)\s*-?\s*4\s*(?:and|to|-|\.{2,3}|\u2026)\s*\+?4"
    r"|\(?\s*-4\s*(?:\.{2,3}|\u2026|to|-)\s*\+?4\s*\)?"
    r"|(?:out\s+of|/)\s*\+?4\b",
    re.IGNORECASE,
)
# A signed number: the sign may follow a letter ("Rating:-3", "Rating-3") but not a digit ("3-4" is a
# range, two numbers). An unsigned number must not continue a word or a number ("gpt4", "1.5.2").
_NUMBER = re.compile(
    r"(?:(?<![\d.])([-+])\s?|(?<![\w.]))"
    r"(\d+(?:\.\d+)?|\.\d+)"
    r"(?![\w]|\.\d)"
)
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
    """Read a rating from a model's answer: ``"-3"``, ``"−3"``, ``"Rating: -3"``, ``"**-3**"``, ``"-3."``,
    ``"+2"``, ``"2.5"``, ``"-3 (on a scale from -4 to 4)"``, ``"I'd say -3 out of 4"``.

    Restatements of the scale ("from -4 to 4", "out of 4") are not counted as numbers.

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
        values.append(-value if sign == "-" else value)  # -0.0 == 0.0: one distinct value
    distinct = sorted(set(values))
    if not distinct:
        raise UnparseableAnswer("the answer holds no number", text)
    if len(distinct) > 1:
        raise UnparseableAnswer("the answer holds more than one number", text)
    value = distinct[0]
    if not low <= value <= high:
        raise UnparseableAnswer(f"the number is outside the scale {low:g}..{high:g}", text)
    return value


# A refusal rather than a rating: an apology or a statement that the model will not judge.
_REFUSAL = re.compile(
    r"\b(?:I\s*(?:can(?:'|\u2019)?t|cannot|can\s+not|won(?:'|\u2019)?t|will\s+not|am\s+(?:not\s+able|unable)|"
    r"(?:'|\u2019)m\s+(?:not\s+able|unable|sorry)|am\s+sorry|do\s+not\s+feel|don(?:'|\u2019)?t\s+feel)|"
    r"as\s+an\s+AI|not\s+(?:comfortable|appropriate)\s+(?:to|for\s+me)|I\s+must\s+decline|decline\s+to)",
    re.IGNORECASE,
)


def is_refusal(text: str | None) -> bool:
    """True when an answer that holds no rating reads as the model declining to give one."""
    return bool(text) and _REFUSAL.search(text or "") is not None
