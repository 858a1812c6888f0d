"""The offline null model: rate a sentence by the valence of its words, not by its meaning.

Scores come from VADER (Hutto & Gilbert, 2014): a lexicon of about 7,500 words whose valence
human raters placed on the same -4..4 scale, plus VADER's rules for negation, intensifiers and
contrast. A word missing from the lexicon borrows the entry of its stem when a plain suffix
strip finds one ("wrongfully" -> "wrong", "poisoned" -> "poison"). The compound score in -1..1
is scaled to -4..4 and rounded, as a model answering "only a number" would. Asked for
log-probabilities, it splits the unrounded score between the two ratings around it.

So the rater passes a pair whose edit swaps a valenced word ("to shame him" -> "to shave him")
and fails a pair whose edit changes the meaning through words the lexicon does not weigh
("with a whip" -> "with a blade of grass"): exactly the failure this plugin exists to catch.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from ..prompt import SCALE_MAX, SCALE_MIN, rated_sentence
from . import PROVIDER, unknown_offline_model

_WORD = re.compile(r"[A-Za-z]+")
_SUFFIXES = ("fully", "ingly", "edly", "ness", "ment", "ing", "ed", "ly", "es", "s", "d")
_NO_UNDOUBLING = ("ss", "ll", "ff", "zz")


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _stem_in_lexicon(word: str, lexicon: dict[str, float]) -> str:
    lower = word.lower()
    if lower in lexicon:
        return word
    for suffix in _SUFFIXES:
        if lower.endswith(suffix) and len(lower) - len(suffix) >= 3:
            base = lower[: -len(suffix)]
            candidates = [base, base + "e"]
            if base[-1] == base[-2] and base[-2:] not in _NO_UNDOUBLING:
                candidates.append(base[:-1])  # "stopped" -> "stop"
            for candidate in candidates:
                if candidate in lexicon:
                    return candidate
    return word


def lexical_valence(sentence: str) -> float:
    """VADER's compound valence of the sentence, in -1..1."""
    analyzer = _analyzer()
    text = _WORD.sub(lambda m: _stem_in_lexicon(m.group(0), analyzer.lexicon), sentence)
    return float(analyzer.polarity_scores(text)["compound"])


def lexical_score(sentence: str) -> float:
    """The null model's rating before rounding: the valence scaled to -4..4."""
    return max(float(SCALE_MIN), min(float(SCALE_MAX), lexical_valence(sentence) * SCALE_MAX))


def lexical_rating(sentence: str) -> int:
    """The integer rating in -4..4 that the null model gives the sentence."""
    return int(round(lexical_score(sentence)))


def lexical_distribution(sentence: str) -> dict[int, float]:
    """The null model's probability of each rating: the score split between the two integers
    around it, so that the mean is the unrounded score and the rounded rating is the likeliest."""
    score = lexical_score(sentence)
    low = min(math.floor(score), SCALE_MAX - 1)
    upper = score - low
    return {rating: p for rating, p in ((low, 1.0 - upper), (low + 1, upper)) if p > 0}


def _sentence(model: str, messages: list[dict[str, Any]]) -> str:
    name = model.split("/", 1)[-1]  # litellm passes "lexical"; a direct caller may pass "moralpairs/lexical"
    unknown = unknown_offline_model(f"{PROVIDER}/{name}")
    if unknown:
        raise ValueError(unknown)
    return rated_sentence(messages)


def answer(model: str, messages: list[dict[str, Any]]) -> str:
    """What the offline model says: a bare number, as the prompt asks."""
    return str(lexical_rating(_sentence(model, messages)))


def _token(token: str, probability: float) -> dict[str, Any]:
    return {"token": token, "logprob": math.log(probability), "bytes": list(token.encode())}


def answer_logprobs(model: str, messages: list[dict[str, Any]], top: int = 20) -> list[dict[str, Any]]:
    """The log-probabilities of the offline model's answer tokens, in OpenAI's ``logprobs.content``
    form, with up to ``top`` alternatives each. A negative rating is two tokens, "-" and its digit,
    as most tokenizers write it, so the built-in model exercises that path too."""
    sentence = _sentence(model, messages)
    distribution = lexical_distribution(sentence)
    rating = lexical_rating(sentence)
    first: dict[str, float] = {}
    for value, probability in distribution.items():
        token = "-" if value < 0 else str(value)
        first[token] = first.get(token, 0.0) + probability
    positions = [("-" if rating < 0 else str(rating), first)]
    if rating < 0:
        negative = sum(p for value, p in distribution.items() if value < 0)
        positions.append((str(-rating), {str(-v): p / negative for v, p in distribution.items() if v < 0}))
    content = []
    for sampled, alternatives in positions:
        ranked = sorted(alternatives.items(), key=lambda item: -item[1])[:top]
        content.append({**_token(sampled, alternatives[sampled]), "top_logprobs": [_token(t, p) for t, p in ranked]})
    return content
