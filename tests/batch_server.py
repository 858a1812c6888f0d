"""A local OpenAI-compatible server with the files and batches endpoints, for ``--moral-batch``.

:class:`BatchServer` is an :class:`~tests.openai_server.OpenAIServer` (chat completions answered
by the same rule, ``server.answers`` / ``server.default``) that also serves

* ``POST /v1/files`` (a multipart upload), ``GET /v1/files/{id}`` and ``GET /v1/files/{id}/content``;
* ``POST /v1/batches``, ``GET /v1/batches/{id}`` and ``POST /v1/batches/{id}/cancel``.

A batch is ``in_progress`` for :attr:`BatchServer.polls` retrievals, then ends as
:attr:`BatchServer.outcome` says: ``completed`` (every line answered by the rule: a reply with an
HTTP error status goes to the error file), ``failed`` (nothing answered, with an error saying why),
``expired`` or ``cancelled`` (only the first :attr:`BatchServer.answered_before_end` lines answered).
What a test reads: :attr:`BatchServer.created` (the batches created, in order), :attr:`BatchServer.uploads`
(the JSON Lines of each upload), :attr:`BatchServer.retrievals`.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from pytest_moralpairs.prompt import rated_sentence
from tests.openai_server import OpenAIServer


class BatchServer(OpenAIServer):
    """An OpenAI-compatible server that also runs batches (see the module's docstring)."""

    def __init__(self, *args: Any, polls: int = 2, outcome: str = "completed", **kwargs: Any):
        self.polls = polls
        self.outcome = outcome
        self.answered_before_end = 0
        self.files: dict[str, bytes] = {}
        self.uploads: list[list[dict[str, Any]]] = []
        self.batches: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []
        self.retrievals = 0
        super().__init__(*args, **kwargs)
        self._httpd.RequestHandlerClass = _with_batches(self, self._httpd.RequestHandlerClass)

    # --- files ---------------------------------------------------------------------------------

    def add_file(self, data: bytes, name: str, purpose: str) -> dict[str, Any]:
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = data
        return self.file_object(file_id, name, purpose)

    def file_object(self, file_id: str, name: str = "file.jsonl", purpose: str = "batch") -> dict[str, Any]:
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(self.files[file_id]),
            "created_at": int(time.time()),
            "filename": name,
            "purpose": purpose,
            "status": "processed",
        }

    # --- batches -------------------------------------------------------------------------------

    def create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        file_id = body.get("input_file_id")
        lines = [json.loads(line) for line in self.files[file_id].decode().splitlines() if line.strip()]
        with self._lock:
            batch_id = f"batch_{len(self.batches) + 1}"
            self.created.append(batch_id)
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body.get("endpoint"),
                "input_file_id": file_id,
                "completion_window": body.get("completion_window"),
                "created_at": int(time.time()),
                "status": "validating",
                "metadata": body.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_lines": lines,
                "_polls": 0,
            }
        return self.shown(batch_id)

    def shown(self, batch_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.batches[batch_id].items() if not k.startswith("_")}

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            self.retrievals += 1
            batch = self.batches[batch_id]
            batch["_polls"] += 1
            finished = batch["status"] in ("completed", "failed", "expired", "cancelled")
        if not finished:
            if batch["_polls"] >= self.polls:
                self._finish(batch, self.outcome)
            else:
                batch["status"] = "in_progress"
                total = batch["request_counts"]["total"]
                batch["request_counts"]["completed"] = total * batch["_polls"] // (self.polls + 1)
        return self.shown(batch_id)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        self._finish(self.batches[batch_id], "cancelled")
        return self.shown(batch_id)

    def _finish(self, batch: dict[str, Any], outcome: str) -> None:
        lines = batch["_lines"]
        if outcome == "failed":
            batch["status"] = "failed"
            batch["errors"] = {
                "object": "list",
                "data": [{"code": "invalid_request", "message": "the test server fails this batch", "line": 1}],
            }
            return
        answered = lines if outcome == "completed" else lines[: self.answered_before_end]
        output, errors = [], []
        for line in answered:
            body = line["body"]
            sentence = rated_sentence(body.get("messages"))
            reply = self.reply_for(sentence, body)
            if reply.status >= 400:
                response = {"status_code": reply.status, "request_id": "req", "body": reply.body}
                errors.append({"id": "e", "custom_id": line["custom_id"], "response": response, "error": None})
                continue
            completion = self.completion(reply.text or "", body, reply.logprobs)
            response = {"status_code": 200, "request_id": "req", "body": completion}
            output.append({"id": "o", "custom_id": line["custom_id"], "response": response, "error": None})
        for key, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                data = "".join(json.dumps(row) + "\n" for row in rows).encode()
                batch[key] = self.add_file(data, f"{key}.jsonl", "batch_output")["id"]
        batch["status"] = outcome
        batch["request_counts"] = {"total": len(lines), "completed": len(output), "failed": len(errors)}


def _with_batches(server: BatchServer, chat: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    class Handler(chat):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[:2] == ["v1", "batches"] and len(parts) == 3 and parts[2] in server.batches:
                return self._send(200, server.retrieve(parts[2]))
            if parts[:2] == ["v1", "files"] and len(parts) >= 3 and parts[2] in server.files:
                if parts[3:] == ["content"]:
                    return self._send(200, server.files[parts[2]], {"Content-Type": "application/octet-stream"})
                return self._send(200, server.file_object(parts[2]))
            return super().do_GET()

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["v1", "files"]:
                return self._upload()
            if parts == ["v1", "batches"]:
                raw, body = self._read()
                if not isinstance(body, dict) or body.get("input_file_id") not in server.files:
                    return self._send(400, {"error": {"message": "no such input file", "type": "invalid_request"}})
                return self._send(200, server.create_batch(body))
            if parts[:2] == ["v1", "batches"] and parts[3:] == ["cancel"] and parts[2] in server.batches:
                self._read()
                return self._send(200, server.cancel(parts[2]))
            return super().do_POST()

        def _upload(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            head = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
            fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
            file, purpose = fields.get("file"), fields.get("purpose")
            if file is None:
                return self._send(400, {"error": {"message": "no file in the upload", "type": "invalid_request"}})
            data = file.get_payload(decode=True) or b""
            server.uploads.append([json.loads(line) for line in data.decode().splitlines() if line.strip()])
            said = purpose.get_payload(decode=True).decode() if purpose is not None else "batch"
            self._send(200, server.add_file(data, file.get_filename() or "upload.jsonl", said))

    return Handler
