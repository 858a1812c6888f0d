"""Answer text (or the log-probabilities of its tokens) -> a rating on the -4..4 scale, or an
:class:`UnparseableAnswer` saying why not.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Iterator, Sequence

from .prompt import SCALE_MAX, SCALE_MIN
from .validation import shorten

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
#: Control characters but tab, line feed and carriage return: an answer holding one carries a
#: terminal escape sequence or binary junk ("\x1b]2;PWNED\x07 five"), and no digit in it is a rating.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class UnparseableAnswer(ValueError):
    """The answer holds no single number in range; ``reason`` says which way it failed."""

    def __init__(self, reason: str, raw: str):
        self.reason = reason
        self.raw = raw
        super().__init__(f"{reason}: {shorten(raw, 300)!r}")


def parse_rating(text: str | None, low: float = SCALE_MIN, high: float = SCALE_MAX) -> float:
    """Read a rating from a model's answer: ``"-3"``, ``"−3"``, ``"Rating: -3"``, ``"**-3**"``, ``"-3."``,
    ``"+2"``, ``"2.5"``, ``"-3 (on a scale from -4 to 4)"``, ``"I'd say -3 out of 4"``.

    Restatements of the scale ("from -4 to 4", "out of 4") are not counted as numbers.

    Raises :class:`UnparseableAnswer` when there is no number, more than one distinct number,
    a number outside ``low..high``, or a control character (an escape sequence is not an answer).
    """
    if text is None or not text.strip():
        raise UnparseableAnswer("the answer is empty", text or "")
    if len(text) > MAX_ANSWER_CHARS:
        raise UnparseableAnswer("the answer is too long to be a rating", text)
    control = _CONTROL.search(text)
    if control is not None:
        raise UnparseableAnswer(
            f"the answer holds a control character (U+{ord(control.group()):04X} at position {control.start() + 1}), "
            "as an escape sequence does; no number in it is read",
            text,
        )
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


# --- log-probability scoring -------------------------------------------------------------------

#: The call options of a log-probability request: the top 20 alternatives of every answer token
#: (20 is the most OpenAI allows; enough to hold every number on the scale and its spellings).
LOGPROB_OPTIONS: tuple[tuple[str, Any], ...] = (("logprobs", True), ("top_logprobs", 20))

#: One answer position: the token the model produced there, and the tokens it could have produced
#: there (the sampled one included), each with its natural-log probability.
LogprobPosition = tuple[str, Sequence[tuple[str, float]]]

_SCALE = tuple(range(SCALE_MIN, SCALE_MAX + 1))
_TOKEN_DECORATION = " \t\r\n*_`#>\"'"
# A whole number in one token, perhaps with its sign and trailing punctuation: "-4", " 3", "+2", "3.".
_TOKEN_NUMBER = re.compile(r"([-+]?)(\d+)[.,;:!)]*")


def wants_logprobs(options: Iterable[tuple[str, Any]]) -> bool:
    """True when a request's call options ask for log-probabilities (see :data:`LOGPROB_OPTIONS`)."""
    return any(name == "logprobs" and bool(value) for name, value in options)


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def logprob_positions(logprobs: Any) -> tuple[LogprobPosition, ...] | None:
    """Per answer token, ``(token, ((alternative, logprob), ...))`` from a choice's ``logprobs``
    (litellm's ``ChoiceLogprobs`` or its dict form), or None when the model gave none.

    The sampled token joins its alternatives when they leave it out (sampling at a temperature can
    pick a token outside the top ones; a provider may send no alternatives at all).
    """
    content = _field(logprobs, "content") if logprobs is not None else None
    if not isinstance(content, (list, tuple)):
        return None
    positions = []
    for item in content:
        token = _field(item, "token")
        if not isinstance(token, str):
            continue
        alternatives = []
        for top in _field(item, "top_logprobs") or ():
            alternative, logprob = _field(top, "token"), _field(top, "logprob")
            if isinstance(alternative, str) and isinstance(logprob, (int, float)):
                alternatives.append((alternative, float(logprob)))
        logprob = _field(item, "logprob")
        if isinstance(logprob, (int, float)) and all(token != alternative for alternative, _ in alternatives):
            alternatives.append((token, float(logprob)))
        positions.append((token, tuple(alternatives)))
    return tuple(positions)


def _read_token(token: str) -> tuple[str, int | None] | None:
    """``(sign, magnitude)`` for a number token, ``(sign, None)`` for a bare sign, else None."""
    text = token.translate(_MINUS).strip(_TOKEN_DECORATION)
    if text in ("-", "+"):
        return text, None
    match = _TOKEN_NUMBER.fullmatch(text)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def _probabilities(alternatives: Sequence[tuple[str, float]]) -> Iterator[tuple[str, float]]:
    for token, logprob in alternatives:
        logprob = float(logprob)
        if not math.isnan(logprob):
            yield str(token), math.exp(min(logprob, 0.0))


def _continuation(positions: Sequence[LogprobPosition], index: int) -> int | None:
    """The position holding the digits after a sign at ``index`` (whitespace between is allowed),
    if the model went on to write an unsigned number there."""
    for later in range(index + 1, len(positions)):
        token = positions[later][0]
        if not token.strip():
            continue
        read = _read_token(token)
        return later if read is not None and read[0] == "" and read[1] is not None else None
    return None


def rating_from_logprobs(positions: Sequence[LogprobPosition]) -> tuple[float, tuple[float, ...]]:
    """The probability-weighted rating of an answer, from the top log-probabilities of its tokens.

    Returns ``(expected value, distribution)``: the distribution gives the probability of each
    rating -4..4, renormalised over the mass that is a number on the scale (other tokens, and
    numbers off the scale, are dropped). The number is read at the first position whose sampled
    token begins one (leading "Rating:", whitespace or markdown tokens are skipped): "-4" or
    "−4" as one token, or a sign token followed by a digit token ("-", "4"), whose digit then
    comes from the next position's alternatives.

    Raises :class:`UnparseableAnswer` when no token begins a number or no mass lies on the scale.
    """
    positions = [(str(token), tuple(alternatives)) for token, alternatives in positions]
    raw = "".join(token for token, _ in positions)
    if not raw.strip():
        raise UnparseableAnswer("the answer is empty", raw)
    # The first token that begins a number: a whole one, or a sign with a digit token after it.
    for start, (token, _) in enumerate(positions):
        sampled = _read_token(token)
        after = _continuation(positions, start) if sampled is not None and sampled[1] is None else None
        if sampled is not None and (sampled[1] is not None or after is not None):
            break
    else:
        raise UnparseableAnswer("no token of the answer begins a number", raw)

    mass = dict.fromkeys(_SCALE, 0.0)
    bare_signs = {"-": 0.0, "+": 0.0}
    for token, probability in _probabilities(positions[start][1]):
        read = _read_token(token)
        if read is None:
            continue
        sign, magnitude = read
        if magnitude is None:
            bare_signs[sign] += probability
        else:
            value = -magnitude if sign == "-" else magnitude
            if value in mass:
                mass[value] += probability

    sampled_sign = sampled[0]
    if after is not None:
        # The model wrote the sign on its own: the next token's alternatives are the digits of
        # that branch, so its mass is spread exactly as the model would have continued.
        digits = {}
        for token, probability in _probabilities(positions[after][1]):
            read = _read_token(token)
            if read is not None and read[0] == "" and read[1] is not None and read[1] <= SCALE_MAX:
                digits[read[1]] = digits.get(read[1], 0.0) + probability
        total = sum(digits.values())
        if total > 0:
            for magnitude, probability in digits.items():
                value = -magnitude if sampled_sign == "-" else magnitude
                mass[value] += bare_signs[sampled_sign] * probability / total
            bare_signs[sampled_sign] = 0.0

    # A bare sign the model did not write (say "-" at 30% beside a sampled "2") has no known
    # continuation: its digit was never asked for. Its mass is not dropped, which would bias every
    # rating toward the sampled sign, nor spread uniformly over 1..4, which would ignore what the
    # model said: it takes the magnitudes of the numbers the model did weigh, mirrored to that
    # sign, with 0 counted as 1 (a sign announces a number other than 0, and a model hesitating
    # between 0 and a sign is hesitating about a small step from neutral). So "2" 60% / "1" 10% /
    # "-" 30% gives -2 and -1 the shares 6:1 of the 30%; "0" 60% / "-" 40% gives -1 40%.
    if any(bare_signs.values()):
        magnitudes: dict[int, float] = {}
        for value, probability in mass.items():
            magnitudes[max(abs(value), 1)] = magnitudes.get(max(abs(value), 1), 0.0) + probability
        known = sum(magnitudes.values())
        if known > 0:
            for sign, sign_mass in bare_signs.items():
                for magnitude, probability in magnitudes.items():
                    mass[-magnitude if sign == "-" else magnitude] += sign_mass * probability / known

    total = sum(mass.values())
    if not total > 0 or not math.isfinite(total):
        raise UnparseableAnswer(f"no log-probability mass falls on a number from {SCALE_MIN} to {SCALE_MAX}", raw)
    distribution = tuple(mass[value] / total for value in _SCALE)
    return sum(value * p for value, p in zip(_SCALE, distribution, strict=True)), distribution
