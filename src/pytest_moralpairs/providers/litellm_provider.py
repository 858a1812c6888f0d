"""``moralpairs/lexical`` as a litellm custom provider, so it runs through the same call path
as any hosted model. Imported only after litellm itself."""

from __future__ import annotations

import time
from typing import Any

from ..prompt import rated_sentence
from .lexical import lexical_rating

PROVIDER = "moralpairs"
MODELS = ("lexical",)


def answer(model: str, messages: list[dict[str, Any]]) -> str:
    """What the offline model says: a bare number, as the prompt asks."""
    name = model.split("/", 1)[-1]  # litellm passes "lexical"; a direct caller may pass "moralpairs/lexical"
    if name not in MODELS:
        offered = ", ".join(f"{PROVIDER}/{m}" for m in MODELS)
        raise ValueError(f"unknown model {PROVIDER + '/' + name!r}; {PROVIDER} offers: {offered}")
    return str(lexical_rating(rated_sentence(messages)))


def register(litellm: Any) -> None:
    """Add the ``moralpairs/...`` models to litellm, once."""
    if any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        return

    from litellm import CustomLLM, ModelResponse
    from litellm.types.utils import Usage

    def respond(model: str, messages: list[dict[str, Any]]) -> Any:
        text = answer(model, messages)
        return ModelResponse(
            model=f"{PROVIDER}/{model.split('/', 1)[-1]}",
            created=int(time.time()),
            choices=[{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            # No tokenizer, no tokens: a usage of zero keeps the run's token count honest.
            usage=Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0),
        )

    class LexicalProvider(CustomLLM):
        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            return respond(model, messages)

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            return respond(model, messages)

    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": PROVIDER, "custom_handler": LexicalProvider()},
    ]
