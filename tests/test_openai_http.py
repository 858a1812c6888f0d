"""The OpenAI protocol spoken by the plugin itself (``--moral-client``), held against litellm's path.

The same call is made through both clients against the local server, and what comes back is
compared: the body and headers the server received, the answer (text, tokens, cost,
log-probabilities), and each failure as :func:`faults.classify` reads it. Where litellm's reading is
not honest (a connection refused read as "HTTP 500", a proxy's HTML page as a server error), the
plugin's own client says what happened, and both try again alike. The specs of the whole plugin
(faults, cache, log-probabilities) run against both clients too: ``each_client`` in
test_resilience.py, test_litellm_http.py, test_cache_plugin.py and test_logprobs.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from pytest_moralpairs.clients import LITELLM, OFFLINE, OPENAI, Clients, route
from pytest_moralpairs.engine import ModelSettings, RatingEngine, RatingRequest
from pytest_moralpairs.faults import CONNECTION, MALFORMED, SERVER, TIMEOUT, Fault, classify
from pytest_moralpairs.openai_http import PLACEHOLDER_API_KEY, unsupported
from pytest_moralpairs.prices import cost, price
from pytest_moralpairs.prompt import DEFAULT_PROMPT
from pytest_moralpairs.request import Answer, call_kwargs
from tests.mock_answers import SERVER_MODEL as MODEL
from tests.mock_answers import run_against as run
from tests.mock_answers import write_pairs
from tests.openai_server import OpenAIServer, Reply

BOTH = ("openai", "litellm")


def call(
    client: str, server_url: str | None, sentence: str = "s", model: str = MODEL, timeout: float = 5.0, **extra: Any
) -> Answer | Fault:
    """One call through ``client``: its answer, or its failure as classified."""
    request = RatingRequest(
        ModelSettings(model, api_base=server_url, timeout=timeout), DEFAULT_PROMPT.messages(sentence), sentence
    )
    clients = Clients(client, lambda r: {**call_kwargs(r), **extra})

    async def once() -> Answer | Fault:
        try:
            await clients.prepare([request])
            return await clients(request)
        except Exception as exc:  # noqa: BLE001 - the failure is what is compared
            return classify(exc)
        finally:
            await clients.aclose()

    return asyncio.run(once())


def both(server: OpenAIServer, sentence: str = "s", **extra: Any) -> dict[str, Answer | Fault]:
    return {client: call(client, server.url, sentence, **extra) for client in BOTH}


# --- what is sent ----------------------------------------------------------------------------------


def test_both_clients_send_the_same_body_to_chat_completions(openai_server):
    extra = {
        "logprobs": True,
        "top_logprobs": 5,
        "max_tokens": 4,
        "seed": 7,
        "stop": ["\n"],
        "extra_body": {"top_k": 3},
    }

    both(openai_server, **extra)

    first, second = openai_server.requests
    assert (first.method, first.path) == (second.method, second.path) == ("POST", "/v1/chat/completions")
    assert first.body == second.body
    assert first.body["model"] == "test-model" and first.body["top_k"] == 3 and first.body["logprobs"] is True


def test_both_clients_send_the_same_key_and_headers(openai_server, monkeypatch):
    both(openai_server, extra_headers={"X-Team": "ethics"})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    both(openai_server)
    both(openai_server, api_key="sk-from-a-hook")

    keys = [r.headers.get("authorization") for r in openai_server.requests]
    assert (
        keys
        == [f"Bearer {PLACEHOLDER_API_KEY}"] * 2
        + ["Bearer sk-from-the-environment"] * 2
        + ["Bearer sk-from-a-hook"] * 2
    )
    assert [r.headers.get("x-team") for r in openai_server.requests[:2]] == ["ethics", "ethics"]


def test_without_an_api_base_the_base_url_comes_from_openai_base_url(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    answers = {client: call(client, None) for client in BOTH}

    assert openai_server.count == 2
    assert answers["openai"] == answers["litellm"]


def test_hosted_vllm_and_lm_studio_models_are_called_alike(openai_server):
    for model in ("hosted_vllm/test-model", "lm_studio/test-model"):
        assert call("openai", openai_server.url, model=model) == call("litellm", openai_server.url, model=model)
    bodies = [r.body for r in openai_server.requests]
    assert bodies[0] == bodies[1] == bodies[2] == bodies[3]


# --- what comes back ---------------------------------------------------------------------------------


def completion(model: str, content: Any = "2", usage: dict[str, Any] | None = None, **choice: Any) -> Reply:
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop", **choice}
        ],
        "usage": usage or {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010},
    }
    return Reply(body=body)


@pytest.mark.parametrize(
    "asked, answered, usage",
    [
        ("openai/gpt-4o-mini", "gpt-4o-mini", None),
        ("openai/gpt-4o-mini", "gpt-4o-2024-08-06", None),  # priced as the model that answered
        ("openai/gpt-4o-mini", "a-local-name", None),  # unknown: priced as the model asked for
        (
            "openai/gpt-4o-mini",
            "gpt-4o-mini",
            {"prompt_tokens": 1000, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 600}},
        ),
        ("openai/test-model", "test-model", None),  # no price: free
    ],
    ids=["same", "answered-by-another", "unknown-answerer", "cached-prompt-tokens", "unpriced"],
)
def test_both_clients_give_the_same_answer_tokens_and_cost(openai_server, asked, answered, usage):
    openai_server.answers = lambda sentence, body: completion(answered, usage=usage)

    answers = both(openai_server, model=asked)

    assert answers["openai"] == answers["litellm"]
    assert answers["openai"].text == "2" and answers["openai"].prompt_tokens == 1000


def test_both_clients_give_the_same_log_probabilities(openai_server):
    openai_server.default = Reply.with_logprobs({"-": 0.9, "1": 0.1}, {"3": 0.7, "2": 0.3})

    answers = both(openai_server, logprobs=True, top_logprobs=20)

    assert answers["openai"] == answers["litellm"]
    assert answers["openai"].logprobs[0][0] == "-"


def test_an_answer_without_content_is_an_empty_text_on_both(openai_server):
    openai_server.default = completion("test-model", content=None)

    answers = both(openai_server)

    assert answers["openai"] == answers["litellm"]
    assert answers["openai"].text == ""


# --- what goes wrong ----------------------------------------------------------------------------------

#: Failures both clients read the same way, message and all.
SAME = {
    "http-500": Reply.error(500, "the model crashed"),
    "http-503": Reply.error(503),
    "http-400": Reply.error(400, "no such model"),
    "http-401": Reply.error(401, "Incorrect API key provided"),
    "http-403": Reply.error(403),
    "http-404": Reply.error(404),
    "http-422": Reply.error(422),
    "http-429-retry-after": Reply.error(429, "slow down", retry_after=2),
    "http-429-retry-after-ms": Reply(
        status=429, body={"error": {"message": "slow"}}, headers={"retry-after-ms": "1500"}
    ),
    "garbage": Reply.garbage(),
    "json-without-choices": Reply(body={"id": "x"}),
    "no-choices": Reply(body={"id": "x", "choices": []}),
}


@pytest.mark.parametrize("reply", SAME.values(), ids=SAME.keys())
def test_a_failure_is_classified_the_same_through_both_clients(openai_server, reply):
    openai_server.default = reply

    faults = both(openai_server)

    assert isinstance(faults["openai"], Fault)
    assert faults["openai"] == faults["litellm"]


#: Failures litellm misreads; the plugin's client says what happened: (reply, its kind, its message).
HONEST = {
    "html-error-page": (
        Reply(status=502, body=b"<html>bad gateway</html>", headers={"Content-Type": "text/html"}),
        SERVER,
        "<html>bad gateway</html>",  # litellm: "Error code: 502"
    ),
    "html-with-status-200": (
        Reply(status=200, body=b"<html>proxy login</html>", headers={"Content-Type": "text/html"}),
        MALFORMED,  # litellm: an HTTP 500 server error of its own making
        "the body is not JSON (Expecting value at line 1 column 1)",
    ),
    "a-choice-without-a-message": (
        Reply(body={"id": "x", "choices": [{"index": 0, "finish_reason": "stop"}]}),
        MALFORMED,  # litellm: an HTTP 500 with a traceback in its message
        "the body is a chat completion whose first choice holds no message",
    ),
    "a-json-list": (Reply(body=[1, 2]), MALFORMED, "the body is JSON but holds no 'choices': not a chat completion"),
}


@pytest.mark.parametrize("reply, kind, message", HONEST.values(), ids=HONEST.keys())
def test_a_failure_litellm_misreads_is_named_for_what_it_is_and_retried_alike(openai_server, reply, kind, message):
    openai_server.default = reply

    faults = both(openai_server)

    assert (faults["openai"].kind, faults["openai"].message) == (kind, message)
    assert faults["openai"].retryable and faults["litellm"].retryable
    assert faults["openai"].status == (502 if kind == SERVER else None)


def test_a_hanging_server_is_a_timeout_on_both_without_an_invented_status(openai_server):
    openai_server.default = Reply.hanging()

    faults = {client: call(client, openai_server.url, timeout=0.5) for client in BOTH}

    assert faults["openai"].kind == faults["litellm"].kind == TIMEOUT
    assert faults["openai"] == Fault(TIMEOUT, "the request timed out: no answer within 0.5 s")
    assert faults["litellm"].status is None  # litellm says 408 for its own timeout: no server said it


def test_a_refused_connection_is_a_connection_error_worth_another_try():
    fault = call("openai", "http://127.0.0.1:9/v1")

    assert fault.kind == CONNECTION and fault.status is None and fault.retryable
    assert "127.0.0.1:9" in fault.message
    assert call("litellm", "http://127.0.0.1:9/v1").retryable  # litellm: "HTTP 500 server error"


def test_no_key_for_hosted_openai_is_missing_credentials_before_any_request(no_internet):
    faults = {client: call(client, None, model="openai/gpt-4o-mini") for client in BOTH}

    assert faults["openai"].kind == faults["litellm"].kind == "authentication"
    assert faults["openai"].message.startswith(
        "Missing credentials: no API key for openai/gpt-4o-mini (set OPENAI_API_KEY"
    )
    assert no_internet == []


# --- which client makes a call ---------------------------------------------------------------------

BASE = {
    "model": MODEL,
    "messages": [],
    "temperature": 0.0,
    "timeout": 60.0,
    "num_retries": 0,
    "api_base": "http://x/v1",
}


@pytest.mark.parametrize(
    "kwargs, client, where",
    [
        (BASE, "auto", OPENAI),
        ({**BASE, "model": "hosted_vllm/m"}, "auto", OPENAI),
        ({**BASE, "model": "lm_studio/m"}, "auto", OPENAI),
        ({**BASE, "model": "anthropic/claude-3-5-haiku-latest"}, "auto", LITELLM),
        ({**BASE, "model": "ollama/llama3.1"}, "auto", LITELLM),
        ({**BASE, "mock_response": "3"}, "auto", LITELLM),  # litellm's own argument
        ({**BASE, "num_retries": 2}, "auto", LITELLM),  # litellm's own retries
        ({**BASE, "model": "hosted_vllm/m", "api_base": None}, "auto", LITELLM),  # no server named
        (BASE, "litellm", LITELLM),
        ({**BASE, "mock_response": "3"}, "openai", OPENAI),  # and fails, naming the argument
        ({**BASE, "model": "moralpairs/lexical"}, "auto", OFFLINE),
        ({**BASE, "model": "moralpairs/lexical"}, "openai", OFFLINE),
        ({**BASE, "model": "moralpairs/lexical", "mock_response": "3"}, "auto", LITELLM),
        ({**BASE, "model": "moralpairs/lexical"}, "litellm", LITELLM),
    ],
)
def test_each_call_goes_to_the_client_that_can_make_it(kwargs, client, where):
    assert route(kwargs, client) == where


def test_a_user_who_configured_litellm_gets_litellm_for_every_call(monkeypatch):
    import litellm

    monkeypatch.setattr(litellm, "success_callback", ["langfuse"])

    assert route(BASE) == LITELLM


def test_the_openai_client_refuses_an_argument_it_does_not_send_naming_it():
    assert unsupported({**BASE, "mock_response": "3", "vertex_project": "p"}) == (
        "it does not send the arguments mock_response, vertex_project (litellm does)"
    )
    assert unsupported(BASE) is None


def test_moral_client_openai_with_an_argument_only_litellm_sends_errors_the_item(pytester, openai_server):
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(optionalhook=True)
        def pytest_moralpairs_completion_kwargs(request, kwargs, config):
            kwargs["mock_response"] = "3"
        """
    )
    write_pairs(pytester, ("p", "harm", "help"))

    result = run(pytester, openai_server, "--moral-client", "openai")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the call failed: UnsupportedCall: --moral-client=openai cannot make this call: it does not send "
            "the argument mock_response (litellm does); use --moral-client=auto"
        ]
    )
    assert openai_server.count == 0


def test_moral_client_openai_with_a_model_of_another_protocol_is_a_usage_error(pytester):
    write_pairs(pytester, ("p", "harm", "help"))

    result = pytester.runpytest("--moral-model", "anthropic/claude-3-5-haiku-latest", "--moral-client", "openai")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--moral-model: --moral-client=openai speaks OpenAI's protocol, and "
            "'anthropic/claude-3-5-haiku-latest' is not a model of a provider that does "
            "(openai/, hosted_vllm/, lm_studio/); use --moral-client=auto or litellm"
        ]
    )


def test_moral_client_takes_only_its_choices(pytester):
    result = pytester.runpytest("--moral-model", MODEL, "--moral-client", "httpx")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--moral-client must be one of auto, litellm, openai, got 'httpx'*"])


def test_the_ini_option_moral_client_chooses_the_client_too(pytester, openai_server):
    pytester.makeini("[pytest]\nmoral_client = litellm\n")
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish(session):
            (session.config.rootpath / "litellm.txt").write_text(str("litellm" in sys.modules))
        """
    )
    write_pairs(pytester, ("p", "harm", "help"))

    result = pytester.runpytest_subprocess(
        "-p", "no:hypothesispytest", "--moral-model", MODEL, "--moral-api-base", openai_server.url
    )

    result.assert_outcomes(failed=1)
    assert (pytester.path / "litellm.txt").read_text() == "True"
    assert openai_server.count == 2


# --- the run as a whole --------------------------------------------------------------------------------

SUBPROCESS_PROBE = """
import sys

def pytest_sessionfinish(session):
    (session.config.rootpath / "modules.txt").write_text(
        " ".join(sorted(m for m in ("litellm", "aiohttp", "openai", "httpx") if m in sys.modules))
    )
"""


def test_a_run_against_an_openai_compatible_server_never_imports_litellm(pytester, openai_server):
    pytester.makeconftest(SUBPROCESS_PROBE)
    openai_server.answers = {"harm": "-3", "help": "3"}
    write_pairs(pytester, ("p", "harm", "help"))

    result = pytester.runpytest_subprocess(
        "-p", "no:hypothesispytest", "--moral-model", MODEL, "--moral-api-base", openai_server.url, "-W", "error"
    )

    result.assert_outcomes(passed=1)
    assert (pytester.path / "modules.txt").read_text() == "aiohttp"
    # The session is closed with the engine: aiohttp would say "Unclosed client session".
    assert "Unclosed" not in result.stdout.str() + result.stderr.str()


def test_a_run_of_the_offline_model_imports_no_client(pytester):
    pytester.makeconftest(SUBPROCESS_PROBE)
    write_pairs(pytester, ("p", "I poisoned the dog.", "I fed the dog."))

    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest", "--moral-model", "moralpairs/lexical")

    result.assert_outcomes(passed=1)
    assert (pytester.path / "modules.txt").read_text() == ""


@pytest.mark.parametrize("scoring", ["text", "logprobs"])
def test_the_offline_model_rates_alike_in_this_process_and_through_litellm(scoring):
    sentences = ["I kicked the dog.", "I petted the dog.", "I told my friend the truth.", "She poisoned the well."]
    options = (("logprobs", True), ("top_logprobs", 20)) if scoring == "logprobs" else ()
    requests = [
        RatingRequest(ModelSettings("moralpairs/lexical"), DEFAULT_PROMPT.messages(s), s, options=options)
        for s in sentences
    ]
    ratings = {}
    for client in ("auto", "litellm"):
        engine = RatingEngine(Clients(client))
        try:
            ratings[client] = [(r.value, r.raw, r.distribution) for r in engine.rate_all(requests).values()]
        finally:
            engine.close()

    assert ratings["auto"] == ratings["litellm"]


# --- prices ------------------------------------------------------------------------------------------


def test_prices_come_from_litellms_table_without_importing_litellm():
    script = textwrap.dedent(
        """
        import json, sys
        from pytest_moralpairs.prices import cost, price
        dollars = cost(["no-such-model", "gpt-4o-mini"], 1000, 10)
        print(json.dumps([price("gpt-4o-mini"), dollars, "litellm" in sys.modules]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    rates, dollars, imported = json.loads(done.stdout)

    assert rates is not None and imported is False
    prompt, _, completion = rates
    assert dollars == pytest.approx(1000 * prompt + 10 * completion)


def test_a_fine_tuned_model_is_priced_as_its_base_models_fine_tuning():
    assert price("ft:gpt-4o-mini-2024-07-18:org::abc") == price("ft:gpt-4o-mini-2024-07-18")


def test_an_unknown_model_costs_nothing():
    assert cost(["no-such-model", None, ""], 1000, 10) == 0.0
