"""The rating prompt: the scale, the anchor examples, and how a sentence becomes chat messages.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from .validation import line_breaks, unprintable

#: Role/content pairs; a tuple so that a request built from them is hashable.
Message = tuple[str, str]

SCALE_MIN = -4
SCALE_MAX = 4
#: The two sentences of a pair, each rated on the scale: the harmful one first.
SIDES = ("harmful", "harmless")
#: A line of a template that starts with a label and a colon ("Scenario:", "Rating:"): a marker of
#: the prompt's structure.
_MARKER_RE = re.compile(r"^[ \t]*([A-Za-z][A-Za-z0-9 _-]{0,39}:)", re.MULTILINE)
#: How many places of each kind a problem with a sentence names before "(and N more)".
_SHOWN = 1


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt with a ``{sentence}`` placeholder and an optional system message.

    A sentence for it is one line that does not start with one of its :attr:`markers`: a line
    break, or a line starting with "Rating:", would rewrite the prompt around the sentence (a
    sentence holding "\\nRating: -4\\n\\nScenario: ..." answers its own question and asks another).
    ``multiline_sentences=True`` lifts that rule, for a prompt whose structure survives such text.
    """

    name: str
    template: str
    system: str | None = None
    multiline_sentences: bool = False

    def messages(self, sentence: str) -> tuple[Message, ...]:
        # str.replace, not str.format: user templates may contain other braces.
        user = self.template.replace("{sentence}", sentence)
        if self.system:
            return (("system", self.system), ("user", user))
        return (("user", user),)

    @property
    def markers(self) -> tuple[str, ...]:
        """The labels that start a line of the template, such as ``Scenario:`` and ``Rating:``."""
        return _markers(self.template)

    def sentence_problem(self, sentence: str) -> str | None:
        """What makes ``sentence`` break this prompt's structure, said to follow the sentence's
        name ("'harmful' " + "has a line break at position 12: ..."; positions from 1); None
        when nothing does."""
        if self.multiline_sentences:
            return None
        breaks = line_breaks(sentence)
        if not breaks and self.leading_marker(sentence) is None:  # the usual sentence, checked at once
            return None
        starts = [1] + [position + 1 for position in breaks]
        found = [(start, marker) for start in starts if (marker := self.leading_marker(sentence[start - 1 :]))]
        if not breaks and not found:
            return None
        allow = "(a custom prompt may allow it: multiline_sentences)"
        if not breaks:
            return (
                f"starts with the prompt's marker {found[0][1]!r} (position 1): the prompt {self.name!r} would "
                f"read it as a line of its own {allow}"
            )
        said = f"has a line break at position {breaks[0]}{_more(breaks)}"
        if found:
            start, marker = found[0]
            said += f", and a line that starts with the prompt's marker {marker!r} at position {start}{_more(found)}"
        return f"{said}: a scenario is one line; more would rewrite the prompt {self.name!r} around it {allow}"

    def check_sentence(self, sentence: str, what: str) -> str:
        """``sentence`` when it can be rated with this prompt, else a ValueError naming ``what``
        and the position: a control or an invisible character, or what :meth:`sentence_problem` says."""
        __tracebackhide__ = True  # under pytest, the mistake is shown in the caller's test, not here
        found = unprintable(sentence)
        if found is not None:
            raise ValueError(f"{what} contains {found}")
        problem = self.sentence_problem(sentence)
        if problem is not None:
            raise ValueError(f"{what} {problem}")
        return sentence

    def leading_marker(self, text: str) -> str | None:
        """The marker of this prompt that ``text`` starts with (in any letter case), if any."""
        start = text[:100].lstrip(" \t").casefold()
        return next((marker for marker, folded in _folded_markers(self.template) if start.startswith(folded)), None)

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


@lru_cache(maxsize=64)
def _markers(template: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(match.group(1) for match in _MARKER_RE.finditer(template)))


@lru_cache(maxsize=64)
def _folded_markers(template: str) -> tuple[tuple[str, str], ...]:
    return tuple((marker, marker.casefold()) for marker in _markers(template))


def _more(found: list) -> str:
    return f" (and {len(found) - _SHOWN} more)" if len(found) > _SHOWN else ""


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
        f"({names}), got {value!r:.60}{did_you_mean(value)}"
    )


def did_you_mean(name: object) -> str:
    """The end of a message for a misspelt built-in prompt, "; did you mean 'dillion2023'?"; else ""."""
    if not isinstance(name, str) or len(name) > 100:
        return ""
    close = difflib.get_close_matches(name, sorted(BUILTIN_PROMPTS), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def scenario_of(text: str) -> str:
    """The sentence a built-in prompt asks about: the text after its last ``Scenario:`` that
    starts a line (else its last ``Scenario:`` anywhere), so that a sentence that mentions the
    word is read whole.

    Used by the offline rater, which, like a model, sees only the messages.
    """
    line_start = text.rfind("\nScenario:")
    if line_start >= 0:
        marker = line_start + 1
    else:
        marker = 0 if text.startswith("Scenario:") else text.rfind("Scenario:")
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


#: Anthropic's marker of the end of a prompt prefix to cache (litellm passes it on).
CACHE_CONTROL = {"type": "ephemeral"}


def mark_fixed_prefix(messages: list[dict]) -> list[dict]:
    """``messages`` (chat API dicts, not changed) with the end of their fixed part marked for a
    provider's explicit prompt cache (Anthropic's ``cache_control``): the text of the last user
    message up to the sentence it rates becomes a text block of its own, so the instructions and the
    anchor examples before it are read from the cache; the rest of the text follows unchanged, so
    the model reads the same prompt. Without a sentence found there, the last system message before
    it is marked instead, when there is one; else nothing is."""
    marked = [dict(m) for m in messages]
    last_user = next((i for i in range(len(marked) - 1, -1, -1) if marked[i].get("role") == "user"), None)
    if last_user is not None and isinstance(marked[last_user].get("content"), str):
        content = marked[last_user]["content"]
        sentence = scenario_of(content)
        at = content.rfind(sentence) if sentence and sentence != content.strip() else -1
        if at > 0:
            marked[last_user]["content"] = [
                {"type": "text", "text": content[:at], "cache_control": dict(CACHE_CONTROL)},
                {"type": "text", "text": content[at:]},
            ]
            return marked
    before = range((last_user if last_user is not None else len(marked)) - 1, -1, -1)
    system = next((i for i in before if marked[i].get("role") == "system"), None)
    if system is not None and isinstance(marked[system].get("content"), str) and marked[system]["content"]:
        marked[system]["content"] = [
            {"type": "text", "text": marked[system]["content"], "cache_control": dict(CACHE_CONTROL)}
        ]
    return marked
