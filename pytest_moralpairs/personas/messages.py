"""The system message that puts the model in a persona's place, and the prompt's messages with it.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .sets import Persona

#: The system message that states a persona; ``{description}`` is the persona.
PERSONA_INSTRUCTION = (
    "Answer as the following person would: {description}. "
    "Take their point of view, values and experience, and give the answer they would give, "
    "in exactly the form the question asks for."
)


def persona_instruction(persona: Persona) -> str:
    """The system text that states the persona."""
    description = persona.description.strip().rstrip(".")
    return PERSONA_INSTRUCTION.format(description=description)


def persona_messages(persona: Persona, messages: Sequence[Any], first: bool = False) -> Any:
    """``messages`` with the persona stated as a system message after them, just before the answer.

    The prompt's messages come first and unchanged, so every call of a run starts with the same
    fixed instructions and anchor examples: the prefix a server (llama.cpp, vLLM) or a provider
    (OpenAI, Anthropic) reuses from its prompt cache instead of reading it again for each persona.
    The persona still frames the answer: it is the last thing the model reads before answering.

    ``first=True`` puts it before them instead (the order of earlier versions), for a chat template that
    allows a system message only at the start: the persona then opens the chat, and a prompt that
    opens with a system message of its own keeps it after the persona, in the same message.

    Accepts the prompt's ``(role, content)`` tuples (returns a tuple of them) or the chat API's
    ``{"role", "content"}`` dicts (returns a list of new dicts; the input is not changed).
    """
    text = persona_instruction(persona)
    items = list(messages)
    as_dicts = bool(items) and isinstance(items[0], Mapping)
    if not first:
        if as_dicts:
            return [dict(m) for m in items] + [{"role": "system", "content": text}]
        return tuple((m[0], m[1]) for m in items) + (("system", text),)

    def role(message: Any) -> Any:
        return message.get("role") if isinstance(message, Mapping) else message[0]

    def content(message: Any) -> Any:
        return message.get("content") if isinstance(message, Mapping) else message[1]

    rest = items
    if items and role(items[0]) == "system" and isinstance(content(items[0]), str) and content(items[0]).strip():
        text = f"{text}\n\n{content(items[0])}"
        rest = items[1:]
    elif items and role(items[0]) == "system":
        rest = items[1:]  # an empty system message adds nothing
    if as_dicts:
        head = dict(items[0]) if items and role(items[0]) == "system" else {}
        head.update(role="system", content=text)
        return [head] + [dict(m) for m in rest]
    return (("system", text),) + tuple((m[0], m[1]) for m in rest)
