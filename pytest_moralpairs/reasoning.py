"""A reasoning model's thinking: read from an answer (either client's), its tokens, and the excerpt
a failure shows.

The reasoning is where a user sees *why* a model missed an edit; the rating is never read from it
(its "-4" may be a thought the model turned down), only from the final answer.

Where it comes: OpenAI-compatible servers (DeepSeek, vLLM, llama.cpp, SGLang) send the message
field ``reasoning_content``, some (OpenRouter, newer vLLM) ``reasoning``; litellm normalises both
to ``reasoning_content`` and gives Anthropic's extended thinking as ``thinking_blocks``. Its token
count is ``usage.completion_tokens_details.reasoning_tokens``.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import re
from typing import Any

from .prices import field_of, token_count

#: Reasoning efforts a call may ask for (``--moral-reasoning-effort``: OpenAI's, and litellm's
#: mapping of them to other providers' thinking budgets).
EFFORTS = ("low", "medium", "high")
#: The most characters of reasoning kept per answer (in the cache and reports); a longer trace is
#: cut in the middle, keeping its start and its conclusion.
MAX_CHARS = 50_000
#: Characters of reasoning a failure's text shows per sentence.
EXCERPT_CHARS = 240
#: The fields a message may carry its reasoning text in, in the order they are read.
TEXT_FIELDS = ("reasoning_content", "reasoning")
#: Control characters but tab and line breaks: a trace is shown in terminals and HTML.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def reasoning_text(message: Any) -> str | None:
    """The reasoning in a chat completion's ``message`` (a dict, or litellm's object), or None when
    it holds none: ``reasoning_content``, else ``reasoning``, else the text of its thinking blocks."""
    for name in TEXT_FIELDS:
        value = field_of(message, name)
        if isinstance(value, str) and value.strip():
            return kept(value)
    blocks = field_of(message, "thinking_blocks")
    if isinstance(blocks, (list, tuple)):
        parts = [field_of(b, "thinking") for b in blocks if field_of(b, "type") == "thinking"]
        text = "\n\n".join(p for p in parts if isinstance(p, str) and p.strip())
        if text:
            return kept(text)
    return None


def kept(text: str) -> str:
    """``text`` as stored: no control characters, at most :data:`MAX_CHARS` (its middle cut)."""
    text = _CONTROL.sub("", text).strip()
    if len(text) <= MAX_CHARS:
        return text
    half = (MAX_CHARS - 5) // 2
    return f"{text[:half]} [..] {text[-half:]}"


def reasoning_tokens(usage: Any) -> int:
    """``usage.completion_tokens_details.reasoning_tokens`` (dict or object), 0 when absent."""
    details = field_of(usage, "completion_tokens_details") if usage is not None else None
    return token_count(field_of(details, "reasoning_tokens") if details is not None else None)


def billed_completion_tokens(completion_tokens: int, thinking_tokens: int) -> int:
    """The completion tokens a call is priced by. OpenAI's ``completion_tokens`` include the
    reasoning tokens; a server reporting more reasoning tokens than completion tokens left them
    out, and they are added (a model is billed for what it thought)."""
    return completion_tokens + thinking_tokens if thinking_tokens > completion_tokens else completion_tokens


def timeout_hint(timeout: float, options: Any = ()) -> str:
    """What a timed-out call's error adds when the call asked for reasoning (a ``reasoning_effort``
    in its ``options``): reasoning models think for minutes, and where the timeout is set. Other
    calls' timeouts say what to try already (the engine's message)."""
    effort = dict(options).get("reasoning_effort")
    if not effort:
        return ""
    return (
        f"; a reasoning model at reasoning effort {effort} may think longer than the timeout of {timeout:g} s: "
        "give it more with --moral-timeout SECONDS"
    )


def progress_note(effort: str | None) -> str | None:
    """What the progress line says while a reasoning model's calls take long, or None."""
    return f"reasoning effort {effort}: answers may take minutes" if effort else None


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """The reasoning on one line for a failure's text: whitespace folded, and when longer than
    ``limit`` its start and its end (where the model concludes), cut between words and joined by
    `` ... ``: at most ``limit`` characters."""
    if not text:
        return ""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head, tail = flat[: limit * 2 // 5], flat[-(limit - limit * 2 // 5 - 5) :]
    # Cut between words where a word boundary is near: "scissors or ... unless stated", not "whi ...".
    head = head.rsplit(" ", 1)[0] if " " in head[-20:] else head
    tail = tail.split(" ", 1)[1] if " " in tail[:20] else tail
    return f"{head.rstrip()} ... {tail.lstrip()}"
