"""OpenAI's chat-completions protocol spoken directly, over aiohttp: hosted OpenAI and every
OpenAI-compatible server (vLLM, llama.cpp, Ollama's ``/v1``, LM Studio ...), without litellm.

It takes the call arguments litellm would (after the ``completion_kwargs`` hook), sends the body
litellm would, and gives the same :class:`~pytest_moralpairs.request.Answer` (text, tokens, the cost
from litellm's price table, log-probabilities). Its failures carry what :func:`faults.classify` reads
(HTTP status, ``Retry-After`` / ``retry-after-ms``), so they are tried again, or not, as litellm's
are. :func:`unsupported` says which calls it cannot make: those go to litellm.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from .answers import logprob_positions
from .faults import MalformedResponse
from .limits import rate_headers
from .prices import cached_prompt_tokens, cost, token_count
from .reasoning import billed_completion_tokens, reasoning_text, reasoning_tokens
from .request import Answer

#: Sent as the API key to a keyless OpenAI-compatible server (Ollama, vLLM, llama.cpp ...): such
#: servers ignore it, and litellm's OpenAI client refuses to make a call without some key.
PLACEHOLDER_API_KEY = "moralpairs-no-key"


@dataclass(frozen=True)
class Provider:
    """Where a provider's base URL and key come from when the call names none (litellm's variables)."""

    base_variables: tuple[str, ...]
    key_variables: tuple[str, ...]
    default_base: str | None = None


#: The litellm provider prefixes whose models speak this protocol.
PROVIDERS = {
    "openai": Provider(("OPENAI_BASE_URL", "OPENAI_API_BASE"), ("OPENAI_API_KEY",), "https://api.openai.com/v1"),
    "hosted_vllm": Provider(("HOSTED_VLLM_API_BASE",), ("HOSTED_VLLM_API_KEY",)),
    "lm_studio": Provider(("LM_STUDIO_API_BASE",), ("LM_STUDIO_API_KEY",)),
}
#: Call arguments sent in the request body as they are.
BODY_ARGUMENTS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "reasoning_effort",
    }
)
#: Call arguments that say how to send the call, not what to ask.
TRANSPORT_ARGUMENTS = frozenset({"model", "messages", "timeout", "api_base", "api_key", "headers", "extra_headers"})
#: Retries are the engine's: a call asking for the client's own is litellm's to make.
RETRY_ARGUMENTS = frozenset({"num_retries", "max_retries"})
ARGUMENTS = BODY_ARGUMENTS | TRANSPORT_ARGUMENTS | RETRY_ARGUMENTS | {"extra_body"}


def provider_of(model: Any) -> tuple[str, str] | None:
    """``(provider, model name)`` for a model of a provider speaking this protocol, else None."""
    if not isinstance(model, str):
        return None
    provider, sep, name = model.partition("/")
    return (provider, name) if sep and name and provider in PROVIDERS else None


def _first_variable(names: tuple[str, ...]) -> str | None:
    return next((os.environ[name] for name in names if os.environ.get(name)), None)


def base_url(kwargs: Mapping[str, Any]) -> str | None:
    """The call's base URL: ``api_base`` > the provider's environment variables > OpenAI's."""
    found = provider_of(kwargs.get("model"))
    if found is None:
        return None
    provider = PROVIDERS[found[0]]
    return kwargs.get("api_base") or _first_variable(provider.base_variables) or provider.default_base


def api_key(kwargs: Mapping[str, Any]) -> str | None:
    """The call's key: ``api_key`` > the provider's environment variable > a placeholder for a
    server named by its base URL (a keyless local server ignores it), else None: no key for the
    provider's own service."""
    found = provider_of(kwargs.get("model"))
    if found is None:
        return None
    provider = PROVIDERS[found[0]]
    key = kwargs.get("api_key") or _first_variable(provider.key_variables)
    if key:
        return str(key)
    named = kwargs.get("api_base") or _first_variable(provider.base_variables)
    return PLACEHOLDER_API_KEY if named else None


def unsupported(kwargs: Mapping[str, Any]) -> str | None:
    """Why this client cannot make the call ``kwargs`` describe (litellm can), or None."""
    model = kwargs.get("model")
    if provider_of(model) is None:
        prefixes = ", ".join(f"{p}/" for p in PROVIDERS)
        return f"the model {model!r} is not one of a provider speaking OpenAI's protocol ({prefixes})"
    others = sorted(str(key) for key in kwargs if key not in ARGUMENTS)
    if others:
        return f"it does not send the argument{'s' if len(others) > 1 else ''} {', '.join(others)} (litellm does)"
    if any(kwargs.get(name) for name in RETRY_ARGUMENTS):
        return "the call asks for the client's own retries (litellm makes them)"
    if base_url(kwargs) is None:
        return f"no base URL is set for {model!r} (--moral-api-base)"
    for name in ("headers", "extra_headers", "extra_body"):
        if kwargs.get(name) is not None and not isinstance(kwargs[name], Mapping):
            return f"its {name} is not a mapping"
    return None


def request_body(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of the call: the model's own name, the messages, the body arguments given (not
    None), then ``extra_body`` merged in, as OpenAI's client sends it."""
    found = provider_of(kwargs["model"])
    body: dict[str, Any] = {"model": found[1] if found else kwargs["model"], "messages": kwargs["messages"]}
    body.update((k, v) for k, v in kwargs.items() if k in BODY_ARGUMENTS and v is not None)
    body.update(kwargs.get("extra_body") or {})
    return body


def request_headers(kwargs: Mapping[str, Any], key: str) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "pytest-moralpairs",
    }
    found = provider_of(kwargs.get("model"))
    if found is not None and found[0] == "openai":
        organization = os.environ.get("OPENAI_ORGANIZATION") or os.environ.get("OPENAI_ORG_ID")
        if organization:
            headers["OpenAI-Organization"] = organization
        if os.environ.get("OPENAI_PROJECT_ID"):
            headers["OpenAI-Project"] = os.environ["OPENAI_PROJECT_ID"]
    for name in ("headers", "extra_headers"):
        headers.update({str(k): str(v) for k, v in (kwargs.get(name) or {}).items()})
    return headers


class APIStatusError(Exception):
    """The server answered with an HTTP error status; ``headers`` carry its ``Retry-After``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str]):
        super().__init__(message)
        self.status_code = status
        self.headers = dict(headers)


class AuthenticationError(Exception):
    """No key to send: the call is not made."""


class APIConnectionError(ConnectionError):
    """No answer came back: the connection could not be made, or was lost or cut short."""


class APITimeoutError(Exception):
    """No answer within the call's timeout (not a :class:`TimeoutError`: that is the engine's own
    deadline; :func:`faults.classify` knows this one by its name)."""


def error_message(status: int, raw: bytes) -> str:
    """What an error response says: OpenAI's ``error.message`` (or ``error``, ``detail``,
    ``message``), else the start of the body as it came."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        for said in (
            error.get("message") if isinstance(error, dict) else error,
            body.get("detail"),
            body.get("message"),
        ):
            if isinstance(said, str) and said.strip():
                return said
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text[:300] if text else f"an empty response with status {status}"


def read_answer(
    raw: bytes, kwargs: Mapping[str, Any], headers: Mapping[str, str] | None = None, batch: bool = False
) -> Answer:
    """The :class:`Answer` in a chat completion body (with the rate-limit ``headers`` of the
    response); raises what :func:`faults.classify` reads as a malformed response when the body is
    not one. ``batch``: an answer of a provider's batch API, priced as such."""
    try:
        body = json.loads(raw)  # a json.JSONDecodeError is named for what it is by faults.classify
    except UnicodeDecodeError:
        raise MalformedResponse("the body is not text (not UTF-8): not a chat completion") from None
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list):
        raise MalformedResponse("the body is JSON but holds no 'choices': not a chat completion")
    if not choices:
        raise MalformedResponse("the body is a chat completion with no choices: the model gave no answer")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise MalformedResponse("the body is a chat completion whose first choice holds no message")
    content = message.get("content")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    prompt_tokens, completion_tokens = (
        token_count(usage.get("prompt_tokens")),
        token_count(usage.get("completion_tokens")),
    )
    thought = reasoning_tokens(usage)
    completion_tokens = billed_completion_tokens(completion_tokens, thought)
    cached_tokens = cached_prompt_tokens(usage)
    provider, asked = provider_of(kwargs.get("model")) or ("", None)
    answered = body.get("model") if isinstance(body.get("model"), str) else None
    # Priced as litellm prices it: the model that answered, else the one asked for; by its name
    # alone, or with the provider's prefix (as a user's litellm.register_model may name it).
    names = (answered, f"{provider}/{answered}", f"{provider}/{asked}", asked)
    return Answer(
        text=content if isinstance(content, str) else "",
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=cost(names, prompt_tokens, completion_tokens, cached_tokens, batch),
        logprobs=logprob_positions(choice.get("logprobs")),
        reasoning=reasoning_text(message),
        reasoning_tokens=thought,
        served_model=answered,
        fingerprint=body.get("system_fingerprint") if isinstance(body.get("system_fingerprint"), str) else None,
        cached_tokens=min(cached_tokens, prompt_tokens),
        headers=rate_headers(headers),
    )


class OpenAIClient:
    """Makes chat completions on one aiohttp session, opened on the engine's loop at the first call
    and closed by :meth:`aclose`. No retries of its own: they are the engine's."""

    def __init__(self) -> None:
        self._session: Any = None
        #: Per server (scheme and host): its proxy from the environment, and the proxy's credentials.
        self._proxies: dict[tuple[str, str], tuple[Any, Any]] = {}

    def open(self) -> Any:
        """The session (made at the first call, or before a batch, on the engine's loop)."""
        import aiohttp

        if self._session is None:
            # No connection limit here: the engine's --moral-concurrency bounds the calls in flight.
            # No cookies: a rating call needs none, and a jar is read on every request.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=("User-Agent",)
            )
        return self._session

    def _proxy(self, url: str) -> tuple[Any, Any]:
        """The proxy the environment names for ``url`` (HTTPS_PROXY, NO_PROXY ...), as litellm's
        client honours them, and its credentials; looked up once per server (aiohttp's
        ``trust_env`` would look on a thread, twice per request)."""
        from aiohttp.helpers import get_env_proxy_for_url
        from yarl import URL

        parsed = URL(url)
        server = (parsed.scheme, parsed.host or "")
        if server not in self._proxies:
            try:
                self._proxies[server] = get_env_proxy_for_url(parsed)
            except LookupError:
                self._proxies[server] = (None, None)
        return self._proxies[server]

    async def complete(self, kwargs: Mapping[str, Any]) -> Answer:
        """Make the call ``kwargs`` describe (one :func:`unsupported` accepts)."""
        import aiohttp

        key = api_key(kwargs)
        if key is None:
            # As OpenAI's own client does: nothing is sent without a key to the provider's service.
            variables = " or ".join(PROVIDERS[provider_of(kwargs["model"])[0]].key_variables)  # type: ignore[index]
            raise AuthenticationError(
                f"Missing credentials: no API key for {kwargs['model']} (set {variables}, or give api_key "
                "in a pytest_moralpairs_completion_kwargs hook)"
            )
        session = self.open()
        url = str(base_url(kwargs)).rstrip("/") + "/chat/completions"
        timeout = float(kwargs.get("timeout") or 600.0)
        data = json.dumps(request_body(kwargs)).encode()
        try:
            proxy, proxy_auth = self._proxy(url)
            async with session.post(
                url,
                data=data,
                headers=request_headers(kwargs, key),
                timeout=aiohttp.ClientTimeout(total=timeout),
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except asyncio.TimeoutError:
            raise APITimeoutError(f"the request timed out: no answer within {timeout:g} s") from None
        except aiohttp.InvalidURL:
            raise UnsupportedCall(f"the base URL {base_url(kwargs)!r} is not a URL (--moral-api-base)") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
            said = " ".join(str(exc).split()) or type(exc).__name__
            raise APIConnectionError(f"{said} ({url})") from None
        if status >= 400:
            raise APIStatusError(status, error_message(status, raw), headers)
        return read_answer(raw, kwargs, headers)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class UnsupportedCall(Exception):
    """A call this client cannot make (an argument only litellm sends, a base URL that is not one)."""
