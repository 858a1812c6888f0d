"""Shared test set-up. Every test that runs the plugin does so through ``pytester``, as a user would."""

from __future__ import annotations

import os
import socket
from typing import Any, Callable

import pytest

# No test may reach the internet: litellm must never fetch its price map, including from the
# background work it does after a test's own environment changes have been undone.
os.environ["LITELLM_OFFLINE_MODE"] = "true"
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

try:
    # litellm imports the importlib_metadata backport, which swaps the standard library's
    # distribution finder for its own in sys.meta_path. pytester restores sys.meta_path after each
    # in-process run, which would drop that finder and leave none: "No package metadata was found
    # for pluggy". Importing the backport here installs its finder before any snapshot is taken.
    import importlib_metadata  # noqa: F401
except ImportError:  # pragma: no cover - litellm always brings it today
    pass

from openai_server import openai_server  # noqa: E402,F401 - the local OpenAI-compatible server fixture

# Variables a developer's shell may carry that would change what the plugin under test does.
_LEAKY_ENV = ("MORALPAIRS_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True, scope="session")
def _heavy_modules_imported_once() -> None:
    """Import Hypothesis and litellm, and make one call of each kind, once per test session.

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
    from openai_server import OpenAIServer, Reply

    from pytest_moralpairs.engine import ModelSettings, RatingEngine, RatingRequest
    from pytest_moralpairs.llm import load_litellm
    from pytest_moralpairs.prompt import DEFAULT_PROMPT

    with warnings.catch_warnings():  # litellm's pydantic models warn on import; not ours to fix
        warnings.simplefilter("ignore")
        litellm = load_litellm()
        message = [{"role": "user", "content": "Scenario: warm-up\nRating:"}]
        for model, extra in (("openai/warm-up", {"mock_response": "0"}), ("moralpairs/lexical", {})):
            asyncio.run(litellm.acompletion(model=model, messages=message, temperature=0.0, timeout=9.0, **extra))
        engine = RatingEngine()
        with OpenAIServer(answers={"fails": Reply.error(500)}, default="1") as server:
            settings = ModelSettings("openai/warm-up", api_base=server.url, timeout=5)
            try:
                engine.rate_all(RatingRequest(settings, DEFAULT_PROMPT.messages(s), s) for s in ("works", "fails"))
            finally:
                engine.close()


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Refuses, and records, every name lookup and connection to anything but this machine."""
    attempts: list[Any] = []
    real_getaddrinfo, real_connect, real_connect_ex = (
        socket.getaddrinfo,
        socket.socket.connect,
        socket.socket.connect_ex,
    )

    def local(host: Any) -> bool:
        return str(host) in ("127.0.0.1", "localhost", "::1")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not local(host):
            attempts.append(host)
            raise socket.gaierror(f"tests may not look up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded(real: Callable[..., Any]) -> Callable[..., Any]:
        def connect(self: socket.socket, address: Any) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6) and not local(address[0]):
                attempts.append(address)
                raise ConnectionRefusedError(f"tests may not connect to {address}")
            return real(self, address)

        return connect

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))
    return attempts
