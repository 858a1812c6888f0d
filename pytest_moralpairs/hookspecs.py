"""The plugin's own hooks. Implement them in a ``conftest.py`` or a plugin.

Mark conftest implementations ``@pytest.hookimpl(optionalhook=True)``: without it pytest stops
with "unknown hook" whenever this plugin is disabled (``-p no:moralpairs``).

A hook that raises fails only the items that need what it gives: they ERROR with a message naming
the hook and what it raised, and every other pair is rated. ``pytest.skip()``, ``pytest.fail()``
and ``pytest.xfail()`` count as raising too: the hooks run in the batch that rates every pair
before the first test, where a skip cannot mean one test. Choose the pairs to run with ``-m`` (tags
are markers), ``-k`` or ``pytest_collection_modifyitems`` instead.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("pytest")


@hookspec(firstresult=True)
def pytest_moralpairs_build_messages(sentence, prompt, pair, persona, config):
    """Return the chat messages that ask for the rating of ``sentence``.

    :param str sentence: the sentence to rate.
    :param pytest_moralpairs.prompt.PromptTemplate prompt: the prompt chosen for it (pair, file
        defaults, or the built-in default).
    :param pair: the :class:`pytest_moralpairs.pairs.Pair` the sentence belongs to, or ``None`` for
        sentences rated through the fixtures.
    :param persona: the :class:`pytest_moralpairs.personas.Persona` the model answers as, or
        ``None`` for the default voice. An implementation that returns messages for a persona is
        responsible for stating it (the default puts it first, as a system message); return
        ``None`` to leave that to the default.
    :param config: the pytest config.
    :return: a non-empty list (or other iterable) of ``{"role": ..., "content": ...}`` dicts whose
        role and content are ``str``, or ``None`` to let the next implementation (ultimately the
        prompt's own) decide. Anything else, or an exception, makes the items that need these
        messages ERROR with a message saying so.

    The messages are the cache key of the rating: two sentences that get the same messages are
    rated once.
    """


@hookspec(firstresult=True)
def pytest_moralpairs_parse_answer(text, request, config):
    """Turn a model's answer into a rating on the -4..4 scale.

    :param str text: the raw answer.
    :param pytest_moralpairs.engine.RatingRequest request: what was asked (``request.sentence`` is
        the sentence rated).
    :return: a number on the -4..4 scale, or ``None`` to defer to the next implementation
        (ultimately the built-in parser). Raise :class:`pytest_moralpairs.answers.UnparseableAnswer`
        to make the item ERROR. A number off the scale, a value that is not a number, or any other
        exception (``pytest.skip()`` included) also makes (only) that item ERROR, with the reason in
        its report.
    """


@hookspec
def pytest_moralpairs_completion_kwargs(request, kwargs, config):
    """Change the keyword arguments passed to ``litellm.acompletion`` for ``request`` in place
    (headers, ``max_tokens``, ``api_key``, provider-specific options...).

    ``kwargs`` already holds ``model``, ``messages``, ``temperature``, ``timeout``,
    ``num_retries=0`` and, when set, ``api_base``; ``request.sentence`` is the sentence being rated.
    Called once per request, on the main thread, before the response cache is consulted: what it
    sets is part of the cache key (a new ``max_tokens`` means new answers), except ``api_key``,
    ``headers``, ``extra_headers``, ``timeout``, ``num_retries`` and ``metadata``, which are never
    stored. Setting litellm's own ``mock_response`` here chooses the answer without any network:
    the way to test a project's pairs offline. An exception raised here (``pytest.skip()`` included)
    makes that request an error, its call never made nor tried again, and so its item ERROR."""


@hookspec
def pytest_moralpairs_result(result, config):
    """Called once per rated pair with its result, a plain ``dict`` (see ``Verdict.to_dict``), on
    the process that prints the summary (the controller under pytest-xdist). ``result["outcome"]``
    is ``"passed"``, ``"failed"``, ``"inconclusive"`` or ``"error"``; the other keys are those of the
    JSON report's ``pairs[]`` (``schema/report.schema.json``), ``result["personas"]`` included."""
