"""``moralpairs/lexical`` as a litellm custom provider, so it runs through the same call path
as any hosted model. Imported only after litellm itself.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..prompt import rated_sentence
from . import PROVIDER, unknown_offline_model
from .lexical import lexical_distribution, lexical_rating


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


def register(litellm: Any) -> None:
    """Add the ``moralpairs/...`` models to litellm, once."""
    if any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        return

    from litellm import CustomLLM, ModelResponse
    from litellm.types.utils import Usage

    def respond(model: str, messages: list[dict[str, Any]], options: dict[str, Any] | None) -> Any:
        choice: dict[str, Any] = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": answer(model, messages)},
        }
        if options and options.get("logprobs"):
            top = int(options.get("top_logprobs") or 0)
            choice["logprobs"] = {"content": answer_logprobs(model, messages, top)}
        return ModelResponse(
            model=f"{PROVIDER}/{model.split('/', 1)[-1]}",
            created=int(time.time()),
            choices=[choice],
            # No tokenizer, no tokens: a usage of zero keeps the run's token count honest.
            usage=Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0),
        )

    class LexicalProvider(CustomLLM):
        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            return respond(model, messages, kwargs.get("optional_params"))

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            return respond(model, messages, kwargs.get("optional_params"))

    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": PROVIDER, "custom_handler": LexicalProvider()},
    ]
