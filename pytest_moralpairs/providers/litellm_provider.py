"""``moralpairs/lexical`` as a litellm custom provider, so it runs through the same call path
as any hosted model. Imported only after litellm itself.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import time
from typing import Any

from . import PROVIDER
from .lexical import answer, answer_logprobs


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
