"""What went wrong with a model call, whether to try again, and how long to wait first.

Works on any exception: litellm's carry an HTTP ``status_code`` (and often the response headers),
the rest are recognised by type. Nothing here imports litellm.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import random
import time
from dataclasses import dataclass
from typing import Any

#: Kinds of failure. Only the first five are worth another try.
RATE_LIMIT, SERVER, TIMEOUT, CONNECTION, MALFORMED, AUTH, BAD_REQUEST, OTHER = (
    "rate limit",
    "server error",
    "timeout",
    "connection error",
    "malformed response",
    "authentication",
    "bad request",
    "error",
)
#: A malformed response (a proxy's error page sent with status 200, a body cut short) is often
#: passing, so it is tried again like a server error.
RETRYABLE = frozenset({RATE_LIMIT, SERVER, TIMEOUT, CONNECTION, MALFORMED})
#: What provider SDKs say when no key or a bad one was given, before any HTTP status exists.
_AUTH_SIGNS = ("missing credentials", "api_key client option must be set", "invalid api key", "incorrect api key")
#: The longest a server's ``Retry-After`` is obeyed by default (``--moral-max-retry-after``): a
#: server that asks for longer is waited on this long, then tried again.
MAX_RETRY_AFTER = 120.0
#: Beyond a day a ``Retry-After`` is nonsense (``1e400``, the year 9999): read as a day.
RETRY_AFTER_CEILING = 86400.0
#: How a waiting call's fault reads on the progress line.
_WAITING_AFTER = {RATE_LIMIT: "rate limited", TIMEOUT: "timed out"}


@dataclass(frozen=True)
class Fault:
    """A classified call failure."""

    kind: str
    message: str
    status: int | None = None
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    def __str__(self) -> str:
        status = f"HTTP {self.status} " if self.status else ""
        return f"{status}{self.kind}: {self.message}" if self.kind != OTHER else f"{status}{self.message}"


def _status(exc: BaseException) -> int | None:
    for name in ("status_code", "status", "http_status"):
        value = getattr(exc, name, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _retry_after(exc: BaseException) -> float | None:
    """The server's ``Retry-After`` (or ``retry-after-ms``) from whichever of the exception's header
    sets carries one: litellm may give a bare ``response`` while the real headers sit in
    ``litellm_response_headers``."""
    for source in (getattr(exc, "response", None), exc):
        for name in ("headers", "litellm_response_headers", "response_headers"):
            headers = getattr(source, name, None)
            if not callable(getattr(headers, "items", None)):
                continue
            try:
                seconds = retry_after_in(headers)
            except Exception:  # noqa: BLE001 - odd header objects: look elsewhere
                continue
            if seconds is not None:
                return seconds
    return None


def header_names(headers: Any) -> dict[str, Any]:
    """``headers`` by lower-case name (a plain dict keeps the server's capitalisation), without the
    ``llm_provider-`` prefix litellm puts on a provider's headers; the first of a name wins."""
    named: dict[str, Any] = {}
    for key, value in headers.items():
        name = str(key).lower()
        named.setdefault(name.removeprefix("llm_provider-"), value)
    return named


def retry_after_in(headers: Any) -> float | None:
    """Seconds to wait that ``headers`` ask for: ``retry-after-ms``, else ``Retry-After``."""
    named = header_names(headers)
    milliseconds = named.get("retry-after-ms")
    if milliseconds is not None:
        try:
            seconds = parse_retry_after(float(str(milliseconds).strip()) / 1000)
        except ValueError:
            seconds = None
        if seconds is not None:
            return seconds
    return parse_retry_after(named.get("retry-after"))


def parse_retry_after(value: Any, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date, as the server
    asked (up to a day); :class:`RetryPolicy` caps what is obeyed."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            date = email.utils.parsedate_to_datetime(text)
            if date.tzinfo is None:  # "-0000": HTTP dates are always GMT, never local time
                date = date.replace(tzinfo=datetime.timezone.utc)
            when = date.timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = when - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, RETRY_AFTER_CEILING))


def clean_message(exc: BaseException, limit: int = 300) -> str:
    """The exception's message without litellm's repeated class-name prefixes."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    name = type(exc).__name__
    changed = True
    while changed:
        if " - " in text[:40] and text.split(" - ", 1)[0].endswith("Exception"):
            text = text.split(" - ", 1)[1]  # litellm's "OpenAIException - ..."
        changed = False
        for prefix in (f"litellm.{name}:", f"{name}:", "litellm."):
            if text.startswith(prefix) and len(text) > len(prefix):
                text = text[len(prefix) :].lstrip()
                changed = True
    return text if len(text) <= limit else text[: limit - 3] + "..."


class MalformedResponse(Exception):
    """The server answered, but not with a chat completion a rating can be read from."""


def _malformed(exc: BaseException) -> str | None:
    """What was wrong with a response that came back but could not be read, or None.

    litellm reports a body it could not parse as JSON as an "HTTP 500" of its own making (the
    provider's status is not kept): the cause, a :class:`json.JSONDecodeError`, is in the chain.
    """
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, MalformedResponse):
            return clean_message(current)
        if isinstance(current, json.JSONDecodeError):
            return f"the body is not JSON ({current.msg} at line {current.lineno} column {current.colno})"
        current, seen = current.__cause__ or current.__context__, seen + 1
    text = str(exc)
    if "no 'choices'" in text or "no choices" in text:
        return "the body is JSON but holds no 'choices': not a chat completion"
    return None


def _own_timeout(exc: BaseException) -> bool:
    """A client's own timeout dressed as HTTP 408 (litellm's ``Timeout``, OpenAI's
    ``APITimeoutError``): no server response rides on it."""
    return type(exc).__name__ in ("Timeout", "APITimeoutError") and getattr(exc, "response", None) is None


def classify(exc: BaseException) -> Fault:
    """Name the failure and whether another try may help."""
    status = _status(exc)
    name = type(exc).__name__
    message = clean_message(exc)
    lowered = message.lower()
    retry_after = _retry_after(exc)
    malformed = _malformed(exc)
    if malformed is not None:
        # Said as what came back: no status is shown, the server's own was not an error.
        return Fault(MALFORMED, malformed, None, retry_after)
    if status == 429 or name in ("RateLimitError",):
        kind = RATE_LIMIT
    elif (
        status in (401, 403)
        or name in ("AuthenticationError", "PermissionDeniedError")
        or any(sign in lowered for sign in _AUTH_SIGNS)
    ):
        kind = AUTH
    elif status == 408 or isinstance(exc, TimeoutError) or "timeout" in name.lower():
        kind = TIMEOUT
    elif status is not None and status >= 500:
        kind = SERVER
    elif name in ("APIConnectionError", "ServiceUnavailableError", "InternalServerError") or isinstance(
        exc, (ConnectionError, OSError)
    ):
        kind = CONNECTION if status is None and name != "InternalServerError" else SERVER
    elif status is not None and 400 <= status < 500:
        kind = BAD_REQUEST
    else:
        kind = OTHER
        message = f"{name}: {message}"
    if kind == TIMEOUT and status == 408 and _own_timeout(exc):
        # litellm's Timeout says 408 for its client's own timeout: no server answered.
        status = None
    if kind == AUTH and status is not None and status >= 500:
        # litellm wraps an SDK's "Missing credentials" (raised before any request) as an HTTP 500
        # InternalServerError: no server answered, so no status is shown.
        status = None
    return Fault(kind, message, status, retry_after)


@dataclass(frozen=True)
class Wait:
    """A call waiting before its next try: how long, after which fault, and what decided it.

    ``asked``: the server's ``Retry-After`` when that set the wait (``capped`` when it asked for
    more than the policy obeys); None when the backoff did. ``reason``: what else set it (a rate
    cap, a rate-limit header), said in its place.
    """

    seconds: float
    fault: str
    asked: float | None = None
    capped: bool = False
    reason: str | None = None

    def describe(self, remaining: float | None = None) -> str:
        """``rate limited: waiting 118 s (Retry-After)``, with ``remaining`` seconds (default: all)."""
        left = self.seconds if remaining is None else remaining
        what = _WAITING_AFTER.get(self.fault, self.fault)
        if self.reason is not None:
            why = self.reason
        elif self.asked is None:
            why = "backoff"
        elif self.capped:
            why = f"Retry-After {self.asked:.0f} s, capped at {self.seconds:g} s"
        else:
            why = "Retry-After"
        return f"{what}: waiting {math.ceil(max(left, 0.0)):.0f} s ({why})"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a server's ``Retry-After`` is a floor, not a suggestion,
    obeyed up to ``max_retry_after`` seconds (asked for longer, the call waits that long and is
    tried again)."""

    retries: int = 3
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = MAX_RETRY_AFTER

    def delay(self, attempt: int, fault: Fault, rng: random.Random | None = None) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 0)."""
        return self.wait(attempt, fault, rng).seconds

    def wait(self, attempt: int, fault: Fault, rng: random.Random | None = None) -> Wait:
        """The wait before try number ``attempt + 1``, and why it is that long."""
        rng = rng or random
        try:
            backoff = min(self.cap, self.base * (2.0**attempt))
        except OverflowError:  # a late enough attempt: 2**attempt is beyond any float
            backoff = self.cap
        jittered = backoff * (0.5 + rng.random() / 2)  # "equal jitter": never less than half the step
        if fault.retry_after is not None:
            obeyed = min(fault.retry_after, self.max_retry_after)
            if obeyed >= jittered:
                return Wait(obeyed, fault.kind, fault.retry_after, fault.retry_after > self.max_retry_after)
        return Wait(jittered, fault.kind)
