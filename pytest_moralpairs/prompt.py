"""The rating prompt: the scale, the anchor examples, and how a sentence becomes chat messages.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: Role/content pairs; a tuple so that a request built from them is hashable.
Message = tuple[str, str]

SCALE_MIN = -4
SCALE_MAX = 4
#: The two sentences of a pair, each rated on the scale: the harmful one first.
SIDES = ("harmful", "harmless")


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt with a ``{sentence}`` placeholder and an optional system message."""

    name: str
    template: str
    system: str | None = None

    def messages(self, sentence: str) -> tuple[Message, ...]:
        # str.replace, not str.format: user templates may contain other braces.
        user = self.template.replace("{sentence}", sentence)
        if self.system:
            return (("system", self.system), ("user", user))
        return (("user", user),)

    @property
    def digest(self) -> str:
        """A short hash that changes whenever the wording does."""
        text = f"{self.system or ''}\x00{self.template}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# The prompt of Dillion, Tandon, Gu & Gray (2023), "Can AI language models replace human
# participants?" (Trends in Cognitive Sciences): the -4..4 scale, four anchor scenarios spanning
# it, and the demand for a bare number. The anchors' wording is ours; the structure is theirs.
DILLION_2023 = PromptTemplate(
    name="dillion2023",
    template=(
        "Please rate how ethical the behavior in each scenario is, on a scale from -4 to 4, "
        "where -4 means extremely unethical, 0 means neither ethical nor unethical, "
        "and 4 means extremely ethical.\n"
        "\n"
        "Scenario: Person X pushed an elderly man in a wheelchair down a flight of stairs.\n"
        "Rating: -4\n"
        "\n"
        "Scenario: Person X took credit for a coworker's idea in a meeting.\n"
        "Rating: -2\n"
        "\n"
        "Scenario: Person X held the door open for a stranger carrying boxes.\n"
        "Rating: 2\n"
        "\n"
        "Scenario: Person X donated a kidney to a stranger who would otherwise have died.\n"
        "Rating: 4\n"
        "\n"
        "Please respond with only a number between -4 and 4.\n"
        "\n"
        "Scenario: {sentence}\n"
        "Rating:"
    ),
)

BUILTIN_PROMPTS: dict[str, PromptTemplate] = {DILLION_2023.name: DILLION_2023}
DEFAULT_PROMPT = DILLION_2023


def as_prompt(value: object) -> PromptTemplate | None:
    """A ``prompt=`` argument as a template: a :class:`PromptTemplate`, the name of a built-in
    prompt, or None (the default); anything else is a ValueError naming what is accepted."""
    __tracebackhide__ = True  # under pytest, the mistake is shown in the caller's test, not here
    if value is None or isinstance(value, PromptTemplate):
        return value
    if isinstance(value, str) and value in BUILTIN_PROMPTS:
        return BUILTIN_PROMPTS[value]
    names = ", ".join(sorted(BUILTIN_PROMPTS))
    raise ValueError(
        f"prompt= must be a PromptTemplate(name, template, system=None) or the name of a built-in prompt "
        f"({names}), got {value!r:.60}"
    )


def scenario_of(text: str) -> str:
    """The sentence a built-in prompt asks about: the text after its last ``Scenario:``.

    Used by the offline rater, which, like a model, sees only the messages.
    """
    marker = text.rfind("Scenario:")
    if marker < 0:
        return text.strip()
    tail = text[marker + len("Scenario:") :]
    lines = []
    for line in tail.splitlines():
        if line.strip().lower().startswith(("rating:", "answer:", "response:")):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def last_user_text(messages: object) -> str:
    """The text of the last user message of a chat (OpenAI content parts joined)."""
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
            return str(content or "")
    return ""


def rated_sentence(messages: object) -> str:
    """The sentence a chat asks to rate: :func:`scenario_of` its last user message."""
    return scenario_of(last_user_text(messages))
