"""A rating request as data: the model asked, the messages, the call it becomes and the answer.

Below both the engine and the litellm backend: each builds on these types, and the cache key
(:func:`cache_key`, :func:`default_key`) is computed here without importing litellm, so a cache
filled by a script serves a pytest run and the other way round.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .prompt import Message

if TYPE_CHECKING:
    from .answers import LogprobPosition

#: What may make the calls (``--moral-client``): see :mod:`pytest_moralpairs.clients`.
CLIENTS = ("auto", "litellm", "openai")


@dataclass(frozen=True)
class ModelSettings:
    """Which model answers, and how.

    ``name`` is how the run calls it (a profile's name; None: the model string itself). The
    fields after ``timeout`` come from a model profile (:mod:`pytest_moralpairs.profiles`): those
    left None send nothing, so the call and its cache key stay what they were without them.
    ``headers`` are sent with the call but never keyed; prices (US dollars per token) price the
    calls of a model litellm's table does not know; ``concurrency``, ``rpm`` and ``tpm`` limit
    this model's calls within the run's own limits.
    """

    model: str
    api_base: str | None = None
    temperature: float = 0.0
    timeout: float = 60.0
    name: str | None = None
    max_tokens: int | None = None
    reasoning_effort: str | None = None
    thinking_budget: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    input_price: float | None = None
    output_price: float | None = None
    concurrency: int | None = None
    rpm: float | None = None
    tpm: float | None = None

    @property
    def label(self) -> str:
        """The model as reports and node ids name it: its profile's name, else its model string."""
        return self.name or self.model

    def priced(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What the tokens cost at the profile's prices, or None when it gives none."""
        if self.input_price is None and self.output_price is None:
            return None
        return prompt_tokens * (self.input_price or 0.0) + completion_tokens * (self.output_price or 0.0)


@dataclass(frozen=True)
class RatingRequest:
    """One question to one model: the full messages, so the key covers the exact prompt.

    ``sample`` tells repeated draws of the same question apart; ``options`` are further call
    parameters (name, value) that change the answer, such as a seed.
    """

    model: ModelSettings
    messages: tuple[Message, ...]
    sentence: str = field(default="", compare=False)
    sample: int = 0
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Answer:
    """What a model said, what it cost, and whether it came from the cache.

    ``logprobs``, when the request asked for them and the model gave them: per answer token, the
    token and its top alternatives with their log-probabilities. ``reasoning``: a reasoning
    model's thinking before it answered (never read for the rating), and ``reasoning_tokens`` its
    count, which ``completion_tokens`` includes. ``served_model`` is the model the provider says
    answered (``gpt-4o-2024-08-06`` for ``gpt-4o``), ``fingerprint`` its ``system_fingerprint``;
    ``cached_tokens`` the prompt tokens the provider read from its own prompt cache (part of
    ``prompt_tokens``). ``created``: when a cached answer was stored. ``headers``: what the
    response said about the provider's limits (``x-ratelimit-*``), for the engine's limiter;
    never cached.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached: bool = False
    logprobs: tuple[LogprobPosition, ...] | None = None
    reasoning: str | None = None
    reasoning_tokens: int = 0
    served_model: str | None = None
    fingerprint: str | None = None
    cached_tokens: int = 0
    created: float = field(default=0.0, compare=False)
    headers: dict[str, str] | None = field(default=None, compare=False, repr=False)


@dataclass
class Usage:
    """What a run cost: model calls (each retry counts), answers from the cache, tokens, dollars.

    ``cached_tokens``: the prompt tokens providers read from their prompt caches (part of
    ``prompt_tokens``, priced lower); ``expired``: cached answers too old for ``--moral-cache-ttl``,
    asked again."""

    calls: int = 0
    retries: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    #: Of the completion tokens, those a reasoning model thought in.
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    expired: int = 0

    def add(self, other: Usage) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def minus(self, other: Usage) -> Usage:
        return Usage(**{n: getattr(self, n) - getattr(other, n) for n in self.__dataclass_fields__})

    def copy(self) -> Usage:
        return Usage(**{n: getattr(self, n) for n in self.__dataclass_fields__})

    def to_dict(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self.__dataclass_fields__}


#: ``(request, kwargs)``: may change the keyword arguments given to ``litellm.acompletion``.
ConfigureCall = Callable[[RatingRequest, dict], None]

#: Call arguments that never reach the cache key: secrets, and settings that do not change the answer.
_NOT_IN_KEY = frozenset(
    {"api_key", "headers", "extra_headers", "timeout", "num_retries", "max_retries", "metadata", "client"}
)


def call_kwargs(request: RatingRequest, configure: ConfigureCall | None = None) -> dict[str, Any]:
    """The keyword arguments for ``litellm.acompletion`` (built without importing litellm)."""
    model = request.model
    kwargs: dict[str, Any] = {
        "model": model.model,
        "messages": [{"role": role, "content": content} for role, content in request.messages],
        "temperature": model.temperature,
        "timeout": model.timeout,
        # Without this the OpenAI client behind litellm retries twice (max_retries=2): a
        # failed call is made three times, a hanging one waits three timeouts. num_retries
        # also overrides max_retries and a global litellm.num_retries. Retries are the engine's.
        "num_retries": 0,
    }
    if model.api_base:
        kwargs["api_base"] = model.api_base
    # A profile's call options: only those it sets, so a request without a profile keys as before.
    if model.max_tokens is not None:
        kwargs["max_tokens"] = model.max_tokens
    if model.reasoning_effort is not None:
        kwargs["reasoning_effort"] = model.reasoning_effort
    if model.thinking_budget is not None:
        kwargs["thinking"] = {"type": "enabled", "budget_tokens": model.thinking_budget}
    if model.headers:
        kwargs["extra_headers"] = dict(model.headers)
    kwargs.update(request.options)
    if configure is not None:
        configure(request, kwargs)
    return kwargs


def cache_key(request: RatingRequest, kwargs: dict[str, Any]) -> str:
    """Names everything that can change an answer: the final call arguments (after the hooks),
    without secrets or headers, plus the sample index."""
    kept = {k: v for k, v in kwargs.items() if k not in _NOT_IN_KEY}
    payload = json.dumps([kept, request.sample], sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode()).hexdigest()


def default_key(request: RatingRequest) -> str:
    """The response-cache key of ``request`` as sent with no hooks: the same key the pytest
    plugin computes, so a cache filled by a script serves a pytest run and the other way round."""
    return cache_key(request, call_kwargs(request))
