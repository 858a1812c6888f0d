"""The only module that imports litellm, and only when a call is really about to be made."""

from __future__ import annotations

import os
from typing import Any, Callable

from .engine import RatingRequest

#: ``(request, kwargs)``: may change the keyword arguments given to ``litellm.acompletion``.
ConfigureCall = Callable[[RatingRequest, dict], None]

_litellm: Any = None


def load_litellm() -> Any:
    """Import litellm once: offline cost map, no debug banner, our providers registered."""
    global _litellm
    if _litellm is None:
        # Without this litellm fetches a price map from the internet at import time.
        os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        from .providers.litellm_provider import register

        register(litellm)
        _litellm = litellm
    return _litellm


class LiteLLMBackend:
    """Makes one chat completion per request through ``litellm.acompletion``."""

    def __init__(self, configure: ConfigureCall | None = None):
        self.litellm = load_litellm()
        self.configure = configure

    def kwargs(self, request: RatingRequest) -> dict[str, Any]:
        model = request.model
        kwargs: dict[str, Any] = {
            "model": model.model,
            "messages": [{"role": role, "content": content} for role, content in request.messages],
            "temperature": model.temperature,
            "timeout": model.timeout,
        }
        if model.api_base:
            kwargs["api_base"] = model.api_base
        if self.configure is not None:
            self.configure(request, kwargs)
        return kwargs

    async def __call__(self, request: RatingRequest) -> str:
        response = await self.litellm.acompletion(**self.kwargs(request))
        content = response.choices[0].message.content
        return content if isinstance(content, str) else ""
