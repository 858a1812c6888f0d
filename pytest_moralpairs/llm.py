"""The only module that imports litellm, and only when a call is really about to be made.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from .answers import logprob_positions
from .faults import MalformedResponse
from .limits import headers_of, rate_headers
from .openai_http import PLACEHOLDER_API_KEY
from .prices import cached_prompt_tokens, cost, token_count
from .prompt import mark_fixed_prefix
from .reasoning import billed_completion_tokens, reasoning_text, reasoning_tokens
from .request import Answer, RatingRequest, call_kwargs

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


__all__ = ["PLACEHOLDER_API_KEY", "LiteLLMBackend", "load_litellm", "user_settings"]

#: The settings of litellm's module a user may change (in a conftest.py, say) that the calls must
#: honour: callbacks that must see every call, keys, a base URL, headers, parameter rewriting.
_USER_SETTINGS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "input_callback",
    "_async_success_callback",
    "_async_failure_callback",
    "api_key",
    "openai_key",
    "api_base",
    "headers",
    "organization",
    "drop_params",
    "modify_params",
)


def user_settings() -> list[str]:
    """Which of litellm's module settings a user changed, when something has imported litellm
    (never importing it here): calls must then go through litellm, which honours them."""
    litellm = sys.modules.get("litellm")
    if litellm is None:
        return []
    return [name for name in _USER_SETTINGS if getattr(litellm, name, None)]


#: Providers that go through the OpenAI client and so demand a key even for a local server.
#: (litellm's hosted_vllm/, lm_studio/ and llamafile/ already send a fake key of their own.)
_KEYED_OPENAI_PROVIDERS = frozenset({"openai", "custom_openai", "text-completion-openai"})


class LiteLLMBackend:
    """Makes one chat completion per request through ``litellm.acompletion``.

    Defaults: no retries (neither litellm's nor the OpenAI client's), the model's temperature and
    timeout, and a placeholder key when an ``api_base`` is given to an OpenAI-compatible provider
    and no key is configured anywhere.
    """

    def __init__(self, kwargs_for: Callable[[RatingRequest], dict[str, Any]] = call_kwargs):
        """``kwargs_for(request)`` gives each call's arguments (the plugin's: built once per
        request, with its hook applied)."""
        self.litellm = load_litellm()
        self.kwargs_for = kwargs_for

    def kwargs(self, request: RatingRequest) -> dict[str, Any]:
        kwargs = self.kwargs_for(request)
        if self.needs_placeholder_key(kwargs):
            kwargs["api_key"] = PLACEHOLDER_API_KEY
        return kwargs

    def needs_placeholder_key(self, kwargs: dict[str, Any]) -> bool:
        """True for a call to an OpenAI-compatible ``api_base`` with no API key from anywhere."""
        if not kwargs.get("api_base") or kwargs.get("api_key"):
            return False
        litellm = self.litellm
        if os.environ.get("OPENAI_API_KEY") or litellm.api_key or litellm.openai_key:
            return False
        try:
            _, provider, key, _ = litellm.get_llm_provider(
                model=kwargs["model"],
                custom_llm_provider=kwargs.get("custom_llm_provider"),
                api_base=kwargs["api_base"],
            )
        except Exception:  # an unknown provider: let the call itself report it
            return False
        return provider in _KEYED_OPENAI_PROVIDERS and not key

    async def aclose(self) -> None:
        """Let litellm finish the logging callbacks it queued (a user's ``litellm.callbacks``)
        before the engine closes its loop, which would cancel them. Called on that loop."""
        try:
            from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
        except ImportError:  # pragma: no cover - a litellm without a logging worker
            return
        flush = getattr(GLOBAL_LOGGING_WORKER, "flush", None)
        if flush is not None:
            await flush()

    async def __call__(self, request: RatingRequest) -> Answer:
        return await self.complete(self.kwargs_for(request))

    async def complete(self, kwargs: dict[str, Any]) -> Answer:
        """Make the call ``kwargs`` describe (a key of its own added for a keyless server)."""
        if self.needs_placeholder_key(kwargs):
            kwargs = {**kwargs, "api_key": PLACEHOLDER_API_KEY}
        if self.explicit_prompt_cache(kwargs):
            # Not in the cache key (computed before): a marker changes where the provider caches,
            # not what the model reads.
            kwargs = {**kwargs, "messages": mark_fixed_prefix(kwargs["messages"])}
        response = await self.litellm.acompletion(**kwargs)
        if not getattr(response, "choices", None):
            raise MalformedResponse("the body is a chat completion with no choices: the model gave no answer")
        choice = response.choices[0]
        content = choice.message.content
        usage = getattr(response, "usage", None)
        thought = reasoning_tokens(usage)
        told = token_count(getattr(usage, "completion_tokens", 0))
        billed, prompt_tokens = billed_completion_tokens(told, thought), token_count(getattr(usage, "prompt_tokens", 0))
        price = self.cost(response)
        if billed > told:
            # A server that left the thinking out of completion_tokens: litellm's price counts part
            # of it (the larger of the two counts); priced from the same table as the OpenAI client's.
            price = cost((getattr(response, "model", None), kwargs.get("model")), prompt_tokens, billed) or price
        served = getattr(response, "model", None)
        prefix = str(kwargs.get("model")).partition("/")[0] + "/"
        if isinstance(served, str) and served.startswith(prefix):
            served = served[len(prefix) :]  # litellm names some providers' models with their prefix
        fingerprint = getattr(response, "system_fingerprint", None)
        return Answer(
            text=content if isinstance(content, str) else "",
            prompt_tokens=prompt_tokens,
            completion_tokens=billed,
            cost=price,
            logprobs=logprob_positions(getattr(choice, "logprobs", None)),
            reasoning=reasoning_text(choice.message),
            reasoning_tokens=thought,
            served_model=served if isinstance(served, str) and served else None,
            fingerprint=fingerprint if isinstance(fingerprint, str) and fingerprint else None,
            cached_tokens=min(cached_prompt_tokens(usage), prompt_tokens),
            # litellm keeps the provider's headers in the response's hidden parameters.
            headers=rate_headers(headers_of(response)),
        )

    def explicit_prompt_cache(self, kwargs: dict[str, Any]) -> bool:
        """Whether the call goes to a provider whose prompt cache must be asked for (Anthropic's
        ``cache_control``); OpenAI and most servers cache a shared prefix by themselves."""
        messages = kwargs.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return False
        try:
            _, provider, _, _ = self.litellm.get_llm_provider(
                model=kwargs["model"], custom_llm_provider=kwargs.get("custom_llm_provider")
            )
        except Exception:  # an unknown provider: the call itself reports it
            return False
        return provider == "anthropic"

    def cost(self, response: Any) -> float:
        """Dollars, from litellm's price data; 0 for a model it has no price for."""
        try:
            return float(self.litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:  # unknown model, local server: no price
            return 0.0
