"""Test projects whose model answers are chosen per sentence, with no network.

The project's conftest sets litellm's own ``mock_response`` argument through the plugin's
``pytest_moralpairs_completion_kwargs`` hook, so the real litellm call path runs.
"""

from __future__ import annotations

import pytest

MODEL = "openai/mock-model"

HURT = "I pushed the child into the lake."
HELP = "I pulled the child out of the lake."
LIE = "I lied to my grandmother about her illness."
TRUTH = "I was honest with my grandmother about her illness."

ANSWERS_CONFTEST = """
import pytest

ANSWERS = {answers!r}

@pytest.hookimpl(optionalhook=True)
def pytest_moralpairs_completion_kwargs(request, kwargs, config):
    kwargs["mock_response"] = ANSWERS[request.sentence]
"""


def answers(pytester: pytest.Pytester, mapping: dict[str, str]) -> None:
    """The model under test answers ``mapping[sentence]``."""
    pytester.makeconftest(ANSWERS_CONFTEST.format(answers=mapping))
