"""Set-up of the tests in this folder (what the whole repository shares is in the root conftest.py):
a clean environment, and the heavy modules imported once."""

from __future__ import annotations

import pytest

# Variables a developer's shell may carry that would change what the plugin under test does.
_LEAKY_ENV = (
    "MORALPAIRS_MODEL",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    # Set in GitHub Actions: every run that rates pairs would append its report to the job summary.
    "GITHUB_STEP_SUMMARY",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True, scope="session")
def _heavy_modules_imported_once() -> None:
    """Import Hypothesis, litellm and aiohttp, and make one call of each kind, once per test session.

    pytester's in-process runs drop every module first imported inside them. Hypothesis's plugin
    imports Hypothesis at the end of each run, and litellm imports much of itself lazily on the
    first call, so without this every run would import them again: about 1.5 s a run, and
    pydantic warnings that a real run never shows. numpy, which the plugin imports only when it
    computes statistics, must be imported here too: pytester would drop it after a run, and its C
    extension refuses to be initialised a second time in one process.
    """
    import asyncio
    import warnings

    import hypothesis  # noqa: F401
    import numpy  # noqa: F401 - loaded lazily by the plugin; a C extension cannot be imported twice

    from pytest_moralpairs.clients import CLIENTS, Clients
    from pytest_moralpairs.engine import ModelSettings, RatingEngine, RatingRequest
    from pytest_moralpairs.llm import load_litellm
    from pytest_moralpairs.prompt import DEFAULT_PROMPT
    from tests.openai_server import OpenAIServer, Reply

    with warnings.catch_warnings():  # litellm's pydantic models warn on import; not ours to fix
        warnings.simplefilter("ignore")
        litellm = load_litellm()
        message = [{"role": "user", "content": "Scenario: warm-up\nRating:"}]
        for model, extra in (("openai/warm-up", {"mock_response": "0"}), ("moralpairs/lexical", {})):
            asyncio.run(litellm.acompletion(model=model, messages=message, temperature=0.0, timeout=9.0, **extra))
        with OpenAIServer(answers={"fails": Reply.error(500)}, default="1") as server:
            settings = ModelSettings("openai/warm-up", api_base=server.url, timeout=5)
            for client in CLIENTS[1:]:  # each client's HTTP path, litellm's and aiohttp's
                engine = RatingEngine(Clients(client))
                try:
                    engine.rate_all(RatingRequest(settings, DEFAULT_PROMPT.messages(s), s) for s in ("works", "fails"))
                finally:
                    engine.close()
