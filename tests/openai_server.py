"""A small, real OpenAI-compatible HTTP server for tests (standard library only).

It listens on 127.0.0.1 on a free port, in a background thread, and serves

* ``POST /v1/chat/completions``: reads the sentence being rated from the last user message
  (what follows its last ``Scenario:``, see :func:`pytest_moralpairs.prompt.scenario_of`) and
  answers by the rule the test sets;
* ``GET /v1/models``: lists the one model name it pretends to be.

A rule maps a sentence to a reply: ``server.answers = {"sentence": "3"}`` (anything not in the
mapping gets ``server.default``), or a callable ``rule(sentence, body) -> reply``. A reply is the
assistant's answer text, or a :class:`Reply` for anything else: an HTTP status, garbage JSON, a
delay, a connection that hangs, token log-probabilities (:meth:`Reply.with_logprobs`; sent only when
the request asks for them, as ``logprobs: true``, cut to its ``top_logprobs``).

Every chat request is recorded (:attr:`OpenAIServer.requests`: headers, JSON body, sentence),
and the server tracks how many were in flight at once (:attr:`OpenAIServer.max_in_flight`).

Limits, as providers and local servers have them (attributes, set before the calls):
``capacity = K`` serves at most K requests at once and answers a 429 to any beyond (with
``Retry-After: capacity_retry_after`` on every ``capacity_retry_after_every``-th one, if set);
``slots = N`` answers N at a time and queues the rest, as a llama.cpp server with N slots does
(a queued request's wait counts against the client's timeout; a request whose client gave up is
still answered in its turn). ``rejected`` counts the 429s, ``max_serving`` the most answered at once.

Use the ``openai_server`` fixture (the root conftest.py), or ``with OpenAIServer() as server: ...``.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Union

from pytest_moralpairs.prompt import rated_sentence

#: Longest a hanging reply waits before giving up by itself (the server's close ends it sooner).
HANG_LIMIT = 30.0


@dataclass(frozen=True)
class Reply:
    """What the server sends back for one request, when a bare answer text is not enough.

    ``text`` makes a normal completion; ``body`` (bytes, str or JSON-able) replaces the body whole;
    ``status`` and ``headers`` set the response line and headers; ``delay`` waits first;
    ``hang`` never answers (until the server closes or :data:`HANG_LIMIT` passes); ``logprobs``
    is OpenAI's ``choices[0].logprobs.content``, sent when the request asks for log-probabilities
    (without it such a request gets ``logprobs: null``, as from a server that has none).
    """

    text: str | None = None
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    logprobs: tuple[dict[str, Any], ...] | None = None
    #: A reasoning model's thinking, sent beside the answer in the message field ``reasoning_field``
    #: (``reasoning_content``: DeepSeek, vLLM, llama.cpp; ``reasoning``: OpenRouter, newer vLLM;
    #: ``thinking_blocks``: Anthropic's shape as litellm gives it), with its token count in
    #: ``usage.completion_tokens_details.reasoning_tokens`` (within ``completion_tokens``, as OpenAI's).
    reasoning: str | None = None
    reasoning_field: str = "reasoning_content"
    #: False: the reasoning tokens are left out of ``completion_tokens``, as some servers report them.
    reasoning_counted: bool = True

    @classmethod
    def error(cls, status: int, message: str | None = None, retry_after: float | None = None) -> "Reply":
        """An OpenAI-style error body with this HTTP status (429 may carry ``Retry-After``)."""
        message = message or f"test server says {status}"
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
        return cls(
            status=status, body={"error": {"message": message, "type": kind, "code": str(status)}}, headers=headers
        )

    @classmethod
    def garbage(cls, body: str = "<html>this is {not json") -> "Reply":
        """A 200 whose body is not JSON."""
        return cls(status=200, body=body.encode(), headers={"Content-Type": "application/json"})

    @classmethod
    def with_logprobs(cls, *positions: Mapping[str, float] | tuple[str, Mapping[str, float]]) -> "Reply":
        """An answer written token by token. Each position maps the tokens the model weighed there
        to their probabilities; the likeliest is the one written, unless the position is given as
        ``(written token, mapping)``. ``Reply.with_logprobs({"2": 0.6, "3": 0.4})`` answers "2";
        ``Reply.with_logprobs({"-": 0.9, "1": 0.1}, {"3": 1.0})`` answers "-3"."""
        content = []
        for position in positions:
            written, weighed = position if isinstance(position, tuple) else (max(position, key=position.get), position)
            probability = weighed.get(written)
            entry = _token_logprob(written, probability if probability else 1e-6)
            ranked = sorted(weighed.items(), key=lambda item: -item[1])
            content.append({**entry, "top_logprobs": [_token_logprob(t, p) for t, p in ranked]})
        return cls(text="".join(item["token"] for item in content), logprobs=tuple(content))

    @classmethod
    def hanging(cls) -> "Reply":
        """Never answer: for timeouts."""
        return cls(hang=True)


def _with_reasoning(completion: dict[str, Any], reasoning: str, field: str, counted: bool = True) -> dict[str, Any]:
    """``completion`` with a reasoning model's thinking in its message, and in its usage (its
    tokens within ``completion_tokens`` unless not ``counted``)."""
    message = completion["choices"][0]["message"]
    if field == "thinking_blocks":
        message[field] = [{"type": "thinking", "thinking": reasoning, "signature": "test"}]
    else:
        message[field] = reasoning
    thought = len(reasoning.split())
    usage = completion["usage"]
    if counted:
        usage["completion_tokens"] += thought
        usage["total_tokens"] += thought
    usage["completion_tokens_details"] = {"reasoning_tokens": thought}
    return completion


def _token_logprob(token: str, probability: float) -> dict[str, Any]:
    return {"token": token, "logprob": math.log(probability), "bytes": list(token.encode())}


Answer = Union[str, Reply]
Rule = Union[Mapping[str, Answer], Callable[[str, dict], Answer]]


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    raw: bytes
    body: Any  # the parsed JSON, or None
    sentence: str | None  # the rated sentence, for chat completions

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages", []))


class OpenAIServer:
    """An OpenAI-compatible chat completions server on 127.0.0.1, for one test."""

    model_name = "test-model"

    def __init__(self, answers: Rule | None = None, default: Answer = "0", latency: float = 0.0):
        self.answers: Rule = answers if answers is not None else {}
        self.default: Answer = default
        #: Seconds every chat request waits before being answered (on top of a reply's delay).
        self.latency = latency
        #: What a completion says about who answered: ``model`` (default: the model asked for), a
        #: ``system_fingerprint`` (default: none sent), and the prompt tokens read from a prompt
        #: cache (``usage.prompt_tokens_details.cached_tokens``; default: none sent).
        self.served_model: str | None = None
        self.system_fingerprint: str | None = None
        self.cached_tokens: int | None = None
        self.requests: list[Recorded] = []
        self.other_requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        #: Limits (see the module's docstring): None, none.
        self.capacity: int | None = None
        self.capacity_retry_after: float | None = None
        self.capacity_retry_after_every = 1
        self.slots: int | None = None
        self.rejected = 0
        self.serving = 0
        self.max_serving = 0
        self._slots: threading.Semaphore | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-test-server", daemon=True
        )
        self._thread.start()

    # --- what a test reads -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give a client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def count(self) -> int:
        """Chat completion requests received so far."""
        return len(self.requests)

    @property
    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    @property
    def sentences(self) -> list[str | None]:
        return [r.sentence for r in self.requests]

    def reset(self) -> None:
        """Forget what was recorded (the rule stays)."""
        with self._lock:
            self.requests.clear()
            self.other_requests.clear()
            self.max_in_flight = self.in_flight

    # --- answering ---------------------------------------------------------------------------

    def reply_for(self, sentence: str, body: dict) -> Reply:
        rule = self.answers
        if callable(rule):
            answer = rule(sentence, body)
        else:
            answer = rule.get(sentence, self.default)
        if answer is None:
            answer = self.default
        return answer if isinstance(answer, Reply) else Reply(text=str(answer))

    def completion(
        self, text: str, body: dict, logprobs: tuple[dict[str, Any], ...] | None = None, reply: Reply | None = None
    ) -> dict[str, Any]:
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        sent = None
        if body.get("logprobs") and logprobs is not None:
            top = int(body.get("top_logprobs") or 0)
            sent = {"content": [{**item, "top_logprobs": item["top_logprobs"][:top]} for item in logprobs]}
        if reply is not None and reply.reasoning is not None:
            completion = self.completion(text, body, logprobs)
            return _with_reasoning(completion, reply.reasoning, reply.reasoning_field, reply.reasoning_counted)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 1,
            "total_tokens": prompt_tokens + 1,
        }
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": min(self.cached_tokens, prompt_tokens)}
        extra = {"system_fingerprint": self.system_fingerprint} if self.system_fingerprint is not None else {}
        return {
            "id": f"chatcmpl-test-{self.count}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.served_model or body.get("model", self.model_name),
            **extra,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": sent,
                }
            ],
            "usage": usage,
        }

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _over_capacity(self) -> Reply | None:
        """The 429 for a request beyond ``capacity``, or None (then it is being served)."""
        with self._lock:
            if self.capacity is not None and self.serving >= self.capacity:
                self.rejected += 1
                every = max(1, self.capacity_retry_after_every)
                retry_after = self.capacity_retry_after if self.rejected % every == 0 else None
                return Reply.error(429, f"at most {self.capacity} requests at once", retry_after)
            self.serving += 1
            self.max_serving = max(self.max_serving, self.serving)
            return None

    def _slot(self) -> threading.Semaphore | None:
        with self._lock:
            if self.slots is not None and self._slots is None:
                self._slots = threading.Semaphore(self.slots)
            return self._slots

    def _wait(self, seconds: float) -> bool:
        """Sleep, but wake when the server closes; True when it is closing."""
        return self._closing.wait(seconds) if seconds > 0 else self._closing.is_set()

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving, release hanging requests and drop open connections."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self) -> "OpenAIServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do: clients pool connections

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server._connections.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass  # quiet: pytest output is what tests look at

        def _read(self) -> tuple[bytes, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return raw, json.loads(raw) if raw else None
            except ValueError:
                return raw, None

        def _send(self, status: int, body: Any, headers: Mapping[str, str] = {}) -> None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            self.send_response(status)
            names = {k.lower() for k in headers}
            if "content-type" not in names:
                self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def _record(self, raw: bytes, body: Any, sentence: str | None, into: list[Recorded]) -> None:
            recorded = Recorded(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                raw=raw,
                body=body,
                sentence=sentence,
            )
            with server._lock:
                into.append(recorded)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self._record(b"", None, None, server.other_requests)
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                model = {"id": server.model_name, "object": "model", "created": 0, "owned_by": "test"}
                self._send(200, {"object": "list", "data": [model]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            raw, body = self._read()
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._record(raw, body, None, server.other_requests)
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            if not isinstance(body, dict):
                self._record(raw, body, None, server.requests)
                self._send(
                    400, {"error": {"message": "the body is not a JSON object", "type": "invalid_request_error"}}
                )
                return
            sentence = rated_sentence(body.get("messages") if isinstance(body, dict) else None)
            self._record(raw, body, sentence, server.requests)
            server._enter()
            rejected = server._over_capacity()
            slot = server._slot() if rejected is None else None
            if slot is not None:
                slot.acquire()
            try:
                if rejected is not None:
                    self._send(rejected.status, rejected.body, rejected.headers)
                    return
                reply = server.reply_for(sentence, body)
                if server._wait(server.latency + reply.delay):
                    return
                if reply.hang:
                    server._wait(HANG_LIMIT)
                    self.close_connection = True
                    return  # no answer at all: the client must time out
                if reply.body is not None:
                    payload = reply.body
                else:
                    payload = server.completion(reply.text or "", body, reply.logprobs, reply)
                self._send(reply.status, payload, reply.headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up first (e.g. its timeout)
            finally:
                if slot is not None:
                    slot.release()
                if rejected is None:
                    with server._lock:
                        server.serving -= 1
                server._leave()

    return Handler
