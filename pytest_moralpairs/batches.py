"""Provider batch APIs (``--moral-batch``): the calls of a run sent as OpenAI-format batches.

Every request the engine would send to a model speaking OpenAI's protocol goes into one JSON Lines
file (a ``/v1/chat/completions`` body a line, its ``custom_id`` the request's cache key), uploaded
and started as a batch through litellm's files and batches API, at the provider's batch price. The
run then polls the batch (the interval growing from ``--moral-batch-poll``) and, once it is done,
reads its output file: each line becomes an answer, priced at batch rates and committed to the
response cache under its key, as any other answer is; each line of its error file becomes the
error of its request.

What a batch costs is paid once: its id, its input file and the keys it answers are written to a
record in the cache folder (``batches/<id>.json``) the moment it is created, so a run that is
killed, or stops waiting (``--moral-batch-wait``), leaves it there, and the next run polls that
batch instead of sending the requests again. The record goes once the batch's answers are in the
cache. A batch that failed, expired or was cancelled makes each request it did not answer an
error saying so (its answered lines are kept); the next run sends those in a new batch.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping

from .cache import CachedAnswer, CacheWarning, ResponseCache
from .faults import classify, clean_message
from .llm import load_litellm
from .openai_http import api_key, base_url, error_message, read_answer, request_body, unsupported
from .request import Answer, RatingRequest

#: The cache folder's subfolder of batch records.
FOLDER = "batches"
ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
#: Lines per batch: OpenAI's limit (a run with more sends several batches).
MAX_LINES = 50_000
#: Seconds before the first poll (``--moral-batch-poll``); each later wait is half as long again,
#: up to :data:`POLL_GROWTH_CAP` times the first.
DEFAULT_POLL = 30.0
POLL_GROWTH, POLL_GROWTH_CAP = 1.5, 10.0
#: Seconds a run waits for its batches (``--moral-batch-wait``): a day and an hour, past the 24 h
#: completion window.
DEFAULT_WAIT = 90000.0
#: Polls in a row that may fail (the provider unreachable) before the run stops waiting.
POLL_FAILURES = 5
#: Batch statuses after which nothing changes.
FINISHED = frozenset({"completed", "failed", "expired", "cancelled"})


class BatchFailed(Exception):
    """A request a batch did not answer: the batch failed, expired, was cancelled or is still
    running when the run stopped waiting, or its line came back as an error."""


@dataclass
class BatchRecord:
    """A batch in flight, as kept in the cache folder: enough to poll it and read its answers."""

    id: str
    input_file_id: str
    base_url: str
    #: The model each key was asked of, as the run names it (``openai/gpt-4o-mini``).
    keys: dict[str, str]
    created: float = field(default_factory=time.time)
    #: When it was last polled (wall clock): other processes of the run wait while it is recent.
    polled: float = field(default_factory=time.time)
    status: str = "validating"
    done: int = 0
    total: int = 0


class BatchStore:
    """The batch records of one cache folder, one JSON file each, written whole (a killed run
    leaves a record or none, never half of one)."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)

    def records(self) -> list[BatchRecord]:
        """Every readable record, oldest first (a file that is not one is left alone)."""
        found = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append(BatchRecord(**data))
            except (OSError, ValueError, TypeError):
                continue
        return sorted(found, key=lambda r: r.created)

    def path(self, batch_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in batch_id)
        return self.folder / f"{safe}.json"

    def save(self, record: BatchRecord) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(asdict(record), file)
        os.replace(temporary, self.path(record.id))

    def remove(self, batch_id: str) -> None:
        try:
            self.path(batch_id).unlink()
        except FileNotFoundError:
            pass

    def active(self, within: float) -> bool:
        """Whether a batch of this folder was polled in the last ``within`` seconds (another
        process of the run is waiting for it)."""
        now = time.time()
        return any(now - record.polled <= within for record in self.records())


def poll_waits(first: float) -> Iterable[float]:
    """The waits between polls: ``first``, then half as long again each time, up to
    :data:`POLL_GROWTH_CAP` times ``first``."""
    wait = first
    while True:
        yield wait
        wait = min(wait * POLL_GROWTH, first * POLL_GROWTH_CAP)


def batchable(kwargs: Mapping[str, Any]) -> bool:
    """Whether the call ``kwargs`` describe can go into an OpenAI-format batch: a model speaking
    OpenAI's protocol, with arguments that body carries (not the offline model, not a provider of
    another protocol, not an argument only litellm's own call sends)."""
    return unsupported(kwargs) is None


#: ``(text)``: what the batches are doing, for the progress line.
Status = Callable[[str], None]


class BatchCompleter:
    """The engine's completer under ``--moral-batch``.

    :meth:`prepare` (the engine awaits it before a batch of calls) sends the requests that can go
    into a provider batch as batches, or finds them in a batch an earlier run sent, and waits for
    the answers; each call then takes its answer (or its error). Calls that cannot be batched are
    made by ``inner`` as they would be without ``--moral-batch``.
    """

    def __init__(
        self,
        inner: Any,
        kwargs_for: Callable[[RatingRequest], dict[str, Any]],
        key: Callable[[RatingRequest], str],
        store: BatchStore,
        cache: ResponseCache | None = None,
        poll: float = DEFAULT_POLL,
        wait: float = DEFAULT_WAIT,
        status: Status | None = None,
        api: Callable[[], Any] = load_litellm,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        when: Callable[[], bool] = lambda: True,
    ):
        """``when()`` says whether the engine's batch now goes out as provider batches (the plugin:
        only the batch of every pair made before the first item; the calls made later, one
        generated example at a time, are made directly)."""
        self.inner = inner
        self.kwargs_for = kwargs_for
        self.key = key
        self.store = store
        self.cache = cache
        self.poll = poll
        self.wait = wait
        self.status = status
        self._api = api
        self._sleep = sleep
        self.when = when
        #: Per request: its batch answer or why it has none, taken by the call.
        self._results: dict[RatingRequest, Answer | BaseException] = {}
        #: Batches created by this process (for tests and the summary).
        self.created: list[str] = []

    # --- the engine's completer ----------------------------------------------------------------

    async def prepare(self, requests: Iterable[RatingRequest]) -> None:
        requests = list(requests)
        kwargs = {r: self.kwargs_for(r) for r in requests}
        batched = [r for r in requests if batchable(kwargs[r])] if self.when() else []
        others = [r for r in requests if r not in set(batched)]
        prepare = getattr(self.inner, "prepare", None)
        if others and prepare is not None:
            await prepare(others)
        # A batch asks one model of one server (OpenAI's rule), with one key.
        groups: dict[tuple[str, str, str | None], list[RatingRequest]] = {}
        for request in batched:
            url = str(base_url(kwargs[request])).rstrip("/")
            groups.setdefault((url, str(kwargs[request]["model"]), api_key(kwargs[request])), []).append(request)
        if groups:
            await asyncio.gather(*(self._group(where[0], group, kwargs) for where, group in groups.items()))

    async def __call__(self, request: RatingRequest) -> Answer:
        result = self._results.pop(request, None)
        if result is None:
            return await self.inner(request)
        if isinstance(result, BaseException):
            raise result
        return result

    async def aclose(self) -> None:
        aclose = getattr(self.inner, "aclose", None)
        if aclose is not None:
            await aclose()

    # --- one server's batches ------------------------------------------------------------------

    def _say(self, text: str) -> None:
        if self.status is not None:
            self.status(text)

    async def _group(self, url: str, requests: list[RatingRequest], kwargs: dict[RatingRequest, Any]) -> None:
        """Send ``requests`` (all to one model of the server at ``url``) in batches, resume those earlier runs
        sent, and wait for all of them; every request ends with an answer or an error."""
        for request in requests:
            self._results.pop(request, None)
        try:
            api = self._api()
        except Exception as exc:  # noqa: BLE001 - litellm missing or broken: each request says so
            self._fail(requests, BatchFailed(f"litellm, which sends the batches, could not be loaded: {exc}"))
            return
        # litellm prices a finished batch with code Pydantic deprecates: its warnings, not the user's.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"litellm(\.|$)")
        by_key = {self.key(r): r for r in requests}
        connection = {"custom_llm_provider": "openai", "api_base": url, "api_key": api_key(kwargs[requests[0]])}
        records = [r for r in self.store.records() if r.base_url == url and by_key.keys() & r.keys.keys()]
        covered = {key for record in records for key in record.keys}
        new = [k for k in by_key if k not in covered]
        try:
            for start in range(0, len(new), MAX_LINES):
                chunk = new[start : start + MAX_LINES]
                records.append(await self._submit(api, url, connection, {k: by_key[k] for k in chunk}, kwargs))
        except Exception as exc:  # noqa: BLE001 - each request not sent says why
            why = BatchFailed(f"the batch could not be sent to {url}: {classify(exc)}")
            self._fail([by_key[k] for k in new if by_key[k] not in self._results], why)
            if not records:
                return
        answers = await self._wait_for(api, connection, records, kwargs_of=lambda key: kwargs.get(by_key.get(key)))
        for key, request in by_key.items():
            if request in self._results:
                continue
            self._results[request] = answers.get(key) or BatchFailed("no batch answered this request")

    async def _submit(
        self,
        api: Any,
        url: str,
        connection: dict[str, Any],
        requests: dict[str, RatingRequest],
        kwargs: dict[RatingRequest, Any],
    ) -> BatchRecord:
        lines = [
            json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": request_body(kwargs[request])})
            for key, request in requests.items()
        ]
        data = ("\n".join(lines) + "\n").encode()
        self._say(f"moralpairs: uploading a batch of {len(lines)} requests to {url}")
        uploaded = await api.acreate_file(
            file=("moralpairs-batch.jsonl", data, "application/jsonl"), purpose="batch", **connection
        )
        batch = await api.acreate_batch(
            completion_window=COMPLETION_WINDOW,
            endpoint=ENDPOINT,
            input_file_id=uploaded.id,
            metadata={"description": "pytest-moralpairs"},
            **connection,
        )
        record = BatchRecord(
            id=str(batch.id),
            input_file_id=str(uploaded.id),
            base_url=url,
            keys={key: request.model.model for key, request in requests.items()},
            status=str(getattr(batch, "status", "validating")),
            total=len(lines),
        )
        # Kept at once: from here on the batch is paid for, and only this record finds it again.
        self._keep(record)
        self.created.append(record.id)
        return record

    async def _wait_for(
        self,
        api: Any,
        connection: dict[str, Any],
        records: list[BatchRecord],
        kwargs_of: Callable[[str], Mapping[str, Any] | None],
    ) -> dict[str, Answer | BaseException]:
        """Poll ``records`` until each is finished (its answers read) or the wait is over."""
        answers: dict[str, Answer | BaseException] = {}
        started = time.monotonic()
        waits = poll_waits(self.poll)
        failures = 0
        pending = list(records)
        while pending:
            still = []
            for record in pending:
                try:
                    batch = await api.aretrieve_batch(batch_id=record.id, **connection)
                except Exception as exc:  # noqa: BLE001 - asked again at the next poll
                    failures += 1
                    if failures >= POLL_FAILURES:
                        self._give_up(record, answers, f"could not be polled {failures} times ({classify(exc)})")
                        continue
                    still.append(record)
                    continue
                failures = 0
                self._update(record, batch)
                if record.status in FINISHED:
                    self._say(f"moralpairs: batch {record.id} {record.status} {record.done}/{record.total}")
                    answers.update(await self._collect(api, connection, record, batch, kwargs_of))
                else:
                    still.append(record)
            pending = still
            if not pending:
                break
            waited = time.monotonic() - started
            if waited >= self.wait:
                for record in pending:
                    self._give_up(
                        record,
                        answers,
                        f"is still {record.status} ({record.done}/{record.total} done) after {_seconds(waited)} s "
                        "(--moral-batch-wait)",
                    )
                break
            pause = min(next(waits), max(self.wait - waited, 0.0))
            shown = ", ".join(f"batch {r.id} {r.status} {r.done}/{r.total}" for r in pending)
            self._say(f"moralpairs: {shown}, waiting {_seconds(pause)} s")
            await self._sleep(pause)
        return answers

    def _update(self, record: BatchRecord, batch: Any) -> None:
        record.status = str(getattr(batch, "status", None) or "unknown")
        counts = getattr(batch, "request_counts", None)
        record.done = int(getattr(counts, "completed", 0) or 0) + int(getattr(counts, "failed", 0) or 0)
        record.total = int(getattr(counts, "total", 0) or 0) or len(record.keys)
        record.polled = time.time()
        if record.status not in FINISHED:
            self._keep(record)

    def _keep(self, record: BatchRecord) -> None:
        """Write ``record``; a folder that takes no file costs only the resuming, not this run's wait."""
        try:
            self.store.save(record)
        except OSError as exc:
            message = (
                f"batch {record.id} cannot be kept in {self.store.folder} ({exc}): a run stopped meanwhile loses it"
            )
            warnings.warn(CacheWarning(message), stacklevel=2)

    def _give_up(self, record: BatchRecord, answers: dict[str, Answer | BaseException], why: str) -> None:
        """Stop waiting for ``record`` (kept: the next run polls it again, and no other process of
        this run waits for it any longer)."""
        record.polled = 0.0
        self._keep(record)
        message = f"batch {record.id} {why}; kept in the cache folder, the next run collects it (nothing is sent twice)"
        for key in record.keys:
            answers.setdefault(key, BatchFailed(message))

    async def _collect(
        self,
        api: Any,
        connection: dict[str, Any],
        record: BatchRecord,
        batch: Any,
        kwargs_of: Callable[[str], Mapping[str, Any] | None],
    ) -> dict[str, Answer | BaseException]:
        """The answers and errors of a finished batch, its answers committed to the cache, then its
        record removed."""
        answers: dict[str, Answer | BaseException] = {}
        try:
            for file_id in (getattr(batch, "output_file_id", None), getattr(batch, "error_file_id", None)):
                if file_id:
                    content = await api.afile_content(file_id=file_id, **connection)
                    for line in _content(content).splitlines():
                        self._read_line(record, line, answers, kwargs_of)
        except Exception as exc:  # noqa: BLE001 - the record stays: the next run reads them again
            message = f"is {record.status}, but its results could not be read ({classify(exc)})"
            self._give_up(record, answers, message)
            return answers
        why = _unanswered(record, batch)
        for key in record.keys:
            answers.setdefault(key, BatchFailed(why))
        self.store.remove(record.id)
        return answers

    def _read_line(
        self,
        record: BatchRecord,
        line: str,
        answers: dict[str, Answer | BaseException],
        kwargs_of: Callable[[str], Mapping[str, Any] | None],
    ) -> None:
        try:
            item = json.loads(line)
        except ValueError:
            return  # a blank or broken line: its request ends as unanswered
        key = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(key, str) or key not in record.keys:
            return
        response = item.get("response") if isinstance(item.get("response"), dict) else {}
        status, body = response.get("status_code"), response.get("body")
        if item.get("error") or not isinstance(status, int) or status >= 400:
            answers[key] = BatchFailed(f"batch {record.id} answered this request with an error: {_line_error(item)}")
            return
        kwargs = kwargs_of(key) or {"model": record.keys[key]}
        try:
            answer = read_answer(json.dumps(body).encode(), kwargs, batch=True)
        except Exception as exc:  # noqa: BLE001 - a line that is not a chat completion
            answers[key] = BatchFailed(f"batch {record.id} answered this request with {classify(exc)}")
            return
        answers[key] = answer
        if answer.logprobs is None and kwargs.get("logprobs"):
            return  # not kept, as the engine keeps no such answer: the next run asks again
        if self.cache is not None:
            self.cache.put(
                key,
                CachedAnswer(
                    text=answer.text,
                    model=record.keys[key],
                    prompt_tokens=answer.prompt_tokens,
                    completion_tokens=answer.completion_tokens,
                    cost=answer.cost,
                    logprobs=answer.logprobs,
                ),
            )

    def _fail(self, requests: Iterable[RatingRequest], why: BaseException) -> None:
        for request in requests:
            self._results[request] = why


def _seconds(seconds: float) -> str:
    """``30``, or ``0.3`` for a wait under ten seconds."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"


def _content(content: Any) -> str:
    """The text of a file litellm read (an httpx-like response, bytes or text)."""
    for name in ("text", "content"):
        value = getattr(content, name, None)
        if isinstance(value, str):
            return value
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode("utf-8", "replace")
    if isinstance(content, (bytes, bytearray)):
        return bytes(content).decode("utf-8", "replace")
    return str(content)


def _line_error(item: Mapping[str, Any]) -> str:
    """What an error line says: its ``error`` (code and message), else its response's status and body."""
    error = item.get("error")
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        return f"{code}: {message}" if code and message else str(message or code or error)
    response = item.get("response") if isinstance(item.get("response"), dict) else {}
    status = response.get("status_code")
    said = error_message(status if isinstance(status, int) else 0, json.dumps(response.get("body")).encode())
    return f"HTTP {status}: {said}" if isinstance(status, int) else said


def _unanswered(record: BatchRecord, batch: Any) -> str:
    """Why a request of a finished batch has no line in its files."""
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    said = "; ".join(
        clean_message(Exception(getattr(e, "message", None) or (e.get("message") if isinstance(e, dict) else e)))
        for e in errors
    )
    status = record.status
    if status == "failed":
        return f"batch {record.id} failed" + (f": {said}" if said else "") + "; run again to send it in a new batch"
    if status in ("expired", "cancelled"):
        when = "before it expired (the provider's 24 h window)" if status == "expired" else "before it was cancelled"
        return f"batch {record.id} did not answer this request {when}; run again to send it in a new batch"
    return f"batch {record.id} is {status} but gave no answer to this request; run again to send it in a new batch"
