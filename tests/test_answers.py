"""Specification of the answer parser: what a model may say and still be understood as a rating.

A rating is one number on the -4..4 scale. Decoration around it (markdown, "Rating:", a restated
scale) is ignored; anything else that is not exactly one number in range is refused, because a
refused answer makes the pair ERROR, while a misread one would silently pass or fail it.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pytest_moralpairs.answers import MAX_ANSWER_CHARS, UnparseableAnswer, parse_rating


@pytest.mark.parametrize(
    "answer, rating",
    [
        ("-3", -3),
        ("\u22123", -3),  # U+2212 MINUS SIGN
        ("Rating: -3", -3),
        ("**-3**", -3),
        ("-3.", -3),
        (" 4 ", 4),
        ("+2", 2),
        ("2.5", 2.5),
        ("-3 (on a scale from -4 to 4)", -3),
        ("I'd say -3 out of 4", -3),
    ],
)
def test_accepts_a_single_number_on_the_scale_in_common_decorations(answer: str, rating: float) -> None:
    assert parse_rating(answer) == rating


@pytest.mark.parametrize("dash", ["\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\ufe63", "\uff0d"])
def test_reads_every_unicode_dash_before_a_number_as_a_minus_sign(dash: str) -> None:
    assert parse_rating(f"{dash}3") == -3


def test_keeps_the_minus_sign_when_it_follows_a_word_directly() -> None:
    # "Rating-3" used to be read as +3: the sign was silently dropped.
    assert parse_rating("Rating-3") == -3


def test_reads_a_number_without_a_leading_zero() -> None:
    assert parse_rating("-.5") == -0.5


def test_ignores_a_restated_scale_written_with_an_ellipsis() -> None:
    assert parse_rating("-3 (scale -4...4)") == -3


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("five", "no number"),
        ("-5", "outside the scale"),
        ("9", "outside the scale"),
        ("between -3 and -2", "more than one number"),
        ("3-4", "more than one number"),
        ("x" * (MAX_ANSWER_CHARS + 1), "too long"),
        ("Let me think. " * 200 + "-3", "too long"),
    ],
    ids=[
        "empty",
        "blank",
        "a-word",
        "below-scale",
        "above-scale",
        "two-numbers",
        "a-range",
        "long",
        "long-with-number",
    ],
)
def test_refuses_an_answer_that_is_not_exactly_one_number_on_the_scale(answer: str, reason: str) -> None:
    with pytest.raises(UnparseableAnswer, match=reason) as info:
        parse_rating(answer)
    assert info.value.raw == answer


@pytest.mark.parametrize(
    "answer",
    ["\x1b]2;PWNED\x07 five", "\x1b[31m-3\x1b[0m", "\x9b2m 4", "3\x00", "\x08-2"],
    ids=["osc-title", "colour", "c1-csi", "nul", "backspace"],
)
def test_an_answer_with_a_control_character_is_never_read_as_a_rating(answer: str) -> None:
    # An escape sequence can hold digits ("]2;" sets a window title); none of them is a rating.
    with pytest.raises(UnparseableAnswer, match=r"control character \(U\+00") as info:
        parse_rating(answer)
    assert info.value.raw == answer
    assert "\x1b" not in str(info.value).replace("\\x1b", "")  # shown escaped, never raw


def test_line_endings_are_not_control_characters_here() -> None:
    assert parse_rating("Rating:\t-3\r\n") == -3


def test_refusal_message_quotes_the_answer_shortened() -> None:
    with pytest.raises(UnparseableAnswer) as info:
        parse_rating("I cannot rate this. " * 20)
    assert "I cannot rate this." in str(info.value)
    assert len(str(info.value)) < 400


def test_refuses_none() -> None:
    with pytest.raises(UnparseableAnswer, match="empty"):
        parse_rating(None)


# --- property: every rating on the scale survives the decorations models put around it ----------

_MINUSES = ["-", "\u2212", "\u2013", "\u2014", "\u2010"]
_PREFIXES = [
    "",
    "Rating: ",
    "Rating:",
    "rating = ",
    "Answer: ",
    "I'd say ",
    "I would rate it ",
    "**",
    "`",
    "> ",
    "## ",
    "Rating: **",
    "\n\n",
]
_SUFFIXES = [
    "",
    ".",
    "**",
    "`",
    " out of 4",
    "/4",
    " (on a scale from -4 to 4)",
    " on a scale of \u22124 to +4",
    " (-4..4)",
    "\n",
    "!",
    " \u2014 unethical",
    ".**",
]


@st.composite
def decorated_ratings(draw: st.DrawFn) -> tuple[float, str]:
    hundredths = draw(st.integers(-400, 400))
    value = hundredths / 100
    decimals = draw(st.sampled_from([0, 1, 2])) if hundredths % 100 == 0 else 2
    digits = f"{abs(value):.{decimals}f}"
    if value < 0:
        sign = draw(st.sampled_from(_MINUSES)) + draw(st.sampled_from(["", " "]))
    else:
        sign = draw(st.sampled_from(["", "+"]))
    text = draw(st.sampled_from(_PREFIXES)) + sign + digits + draw(st.sampled_from(_SUFFIXES))
    padding = draw(st.sampled_from(["", " ", "\n", "  \t"]))
    return value, padding + text + padding


@given(decorated_ratings())
@example((-4.0, "-4 (on a scale from -4 to 4)"))
@example((4.0, "4/4"))
@example((-3.0, "I'd say \u22123 out of 4."))
def test_every_value_on_the_scale_round_trips_through_decorations(case: tuple[float, str]) -> None:
    value, text = case
    assert parse_rating(text) == pytest.approx(value, abs=1e-9)


@given(st.integers(5, 10_000) | st.integers(-10_000, -5), st.sampled_from(_PREFIXES))
def test_a_whole_number_off_the_scale_is_never_accepted(number: int, prefix: str) -> None:
    with pytest.raises(UnparseableAnswer):
        parse_rating(f"{prefix}{number}")
