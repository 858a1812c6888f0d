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


def persona_messages(persona: Persona, messages: Sequence[Any]) -> Any:
    """``messages`` with the persona stated first, as a system message.

    A prompt that already opens with a system message keeps it, after the persona: the persona
    frames who answers, the prompt's own instructions then say how. Accepts the prompt's
    ``(role, content)`` tuples (returns a tuple of them) or the chat API's ``{"role", "content"}``
    dicts (returns a list of new dicts; the input is not changed).
    """
    text = persona_instruction(persona)
    items = list(messages)
    as_dicts = bool(items) and isinstance(items[0], Mapping)

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
        first = dict(items[0]) if items and role(items[0]) == "system" else {}
        first.update(role="system", content=text)
        return [first] + [dict(m) for m in rest]
    return (("system", text),) + tuple((m[0], m[1]) for m in rest)
