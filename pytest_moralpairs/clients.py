"""Which client makes each model call (``--moral-client``), and the engine's completer that routes
every call to it.

* ``openai``: OpenAI's protocol spoken directly (:mod:`.openai_http`), for ``openai/``,
  ``hosted_vllm/`` and ``lm_studio/`` models: no litellm import (seconds), a fraction of its CPU per
  call.
* the built-in offline model (``moralpairs/lexical``) answers in this process, with no client.
* ``litellm`` (:mod:`.llm`) for every other provider, and for any call the others cannot make.

``auto`` (the default) picks the first that can make the call; each answers alike (text, tokens,
cost, log-probabilities) and fails alike (:func:`faults.classify`), so the cache keys, retries and
verdicts do not depend on the client.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Callable, Iterable, Mapping

from .answers import logprob_positions
from .llm import LiteLLMBackend, user_settings
from .openai_http import PROVIDERS, OpenAIClient, UnsupportedCall, provider_of, unsupported
from .providers import PROVIDER
from .providers.lexical import answer, answer_logprobs
from .request import CLIENTS, Answer, RatingRequest, call_kwargs

#: Where a call goes.
OPENAI, OFFLINE, LITELLM = "openai", "offline", "litellm"
#: Call arguments the offline model takes (it answers the same whatever their values); any other
#: (litellm's ``mock_response``, say) is litellm's to honour.
OFFLINE_ARGUMENTS = frozenset(
    {
        "model",
        "messages",
        "temperature",
        "timeout",
        "num_retries",
        "max_retries",
        "api_base",
        "api_key",
        "headers",
        "extra_headers",
        "logprobs",
        "top_logprobs",
        "seed",
        "max_tokens",
        "max_completion_tokens",
        "top_p",
        "stop",
    }
)


def is_offline(model: Any) -> bool:
    return isinstance(model, str) and model.startswith(f"{PROVIDER}/")


def route(kwargs: Mapping[str, Any], client: str = "auto") -> str:
    """Which client makes the call ``kwargs`` describe under ``--moral-client=client``."""
    model = kwargs.get("model")
    if is_offline(model):
        return OFFLINE if client != LITELLM and set(kwargs) <= OFFLINE_ARGUMENTS else LITELLM
    if client == OPENAI:
        return OPENAI
    if client == "auto" and unsupported(kwargs) is None and not user_settings():
        return OPENAI
    return LITELLM


def unusable(model: str, client: str) -> str | None:
    """Why ``--moral-client=client`` cannot rate with ``model`` at all (found before any call), or None."""
    if client == OPENAI and not is_offline(model) and provider_of(model) is None:
        prefixes = ", ".join(f"{p}/" for p in PROVIDERS)
        return (
            f"--moral-client=openai speaks OpenAI's protocol, and {model!r} is not a model of a provider "
            f"that does ({prefixes}); use --moral-client=auto or litellm"
        )
    return None


def offline_answer(kwargs: Mapping[str, Any]) -> Answer:
    """The offline model's answer, made in this process: what litellm's custom provider gives."""
    model, messages = kwargs["model"], kwargs["messages"]
    logprobs = None
    if kwargs.get("logprobs"):
        content = answer_logprobs(model, messages, int(kwargs.get("top_logprobs") or 0))
        logprobs = logprob_positions({"content": content})
    return Answer(answer(model, messages), logprobs=logprobs)


class Clients:
    """The engine's completer: each call is made by the client :func:`route` names for it.

    Clients are made on first use, on the engine's loop; litellm is imported on a thread of its own
    (:meth:`prepare`, before a batch), so it never stalls the calls already in flight.
    """

    def __init__(self, client: str = "auto", kwargs_for: Callable[[RatingRequest], dict[str, Any]] = call_kwargs):
        if client not in CLIENTS:
            raise ValueError(f"client must be one of {', '.join(CLIENTS)}, got {client!r}")
        self.client = client
        self.kwargs_for = kwargs_for
        self._openai: OpenAIClient | None = None
        self._litellm: LiteLLMBackend | None = None
        self._loading: asyncio.Future[LiteLLMBackend] | None = None

    def route(self, request: RatingRequest) -> str:
        return route(self.kwargs_for(request), self.client)

    async def prepare(self, requests: Iterable[RatingRequest]) -> None:
        """Make the clients ``requests`` need now (importing litellm on a thread, aiohttp here):
        the batch's clock starts after, and no call's timeout runs while a client is imported."""
        routes = {self.route(r) for r in requests}
        if OPENAI in routes and self._openai is None:
            self._openai = OpenAIClient()
            self._openai.open()
        if LITELLM in routes and self._litellm is None:
            await self._litellm_backend()

    async def _litellm_backend(self) -> LiteLLMBackend:
        if self._litellm is None and "litellm" in sys.modules:
            self._litellm = LiteLLMBackend(self.kwargs_for)  # imported already: nothing to wait for
        if self._litellm is None:
            if self._loading is None:
                self._loading = asyncio.ensure_future(asyncio.to_thread(LiteLLMBackend, self.kwargs_for))
            self._litellm = await asyncio.shield(self._loading)
        return self._litellm

    async def __call__(self, request: RatingRequest) -> Answer:
        kwargs = self.kwargs_for(request)
        where = route(kwargs, self.client)
        if where == OFFLINE:
            return offline_answer(kwargs)
        if where == OPENAI:
            why = unsupported(kwargs)
            if why is not None:
                raise UnsupportedCall(f"--moral-client=openai cannot make this call: {why}; use --moral-client=auto")
            if self._openai is None:
                self._openai = OpenAIClient()
            return await self._openai.complete(kwargs)
        return await (await self._litellm_backend()).complete(kwargs)

    async def aclose(self) -> None:
        """Close the HTTP session and let litellm finish its callbacks (on the engine's loop)."""
        if self._openai is not None:
            await self._openai.aclose()
        if self._litellm is not None:
            await self._litellm.aclose()
