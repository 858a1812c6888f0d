"""A live progress line for a batch of model calls: done / total, rate, ETA, and what the calls
that wait are waiting for (pytest-free).

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..faults import Wait

#: Answers a batch needs before the line shows a rate and an ETA.
ESTIMATE_AFTER = 5
#: Seconds between redraws of a terminal line while calls wait: the wait counts down.
TICK = 1.0
#: Seconds without an answer before a batch of slow calls (a reasoning model's) says how long
#: it has waited, and how often a log is told so meanwhile.
QUIET, QUIET_LINE = 10.0, 30.0


class ProgressLine:
    """Redraws one terminal line as calls finish; on a non-terminal, writes a line now and then.

    ``write(text)`` receives whole lines (without newline) on a non-terminal, and ``"\\r"``-led
    redraws on a terminal. Called from the engine's thread.

    While calls wait before trying again (:meth:`waiting`), the line names the longest wait left
    ("rate limited: waiting 118 s (Retry-After)"): on a terminal it counts down, redrawn every
    ``tick`` seconds by a thread of its own (None: only when calls finish); on a non-terminal a
    line is written when a wait of ``min_interval`` or more starts, so a log never goes silent
    longer than that without saying why.

    ``slow``, for calls known to take long (a reasoning model's): once no answer has come for
    :data:`QUIET` seconds the line says for how long, and why (``slow``); a terminal's counts up,
    a log is told every :data:`QUIET_LINE` seconds, so neither looks hung.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        tty: bool,
        min_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick: float | None = TICK,
        slow: str | None = None,
    ):
        self.slow = slow
        #: When the last answer came (or the batch started).
        self._last_answer: float | None = None
        self.write = write
        self.tty = tty
        self.min_interval = min_interval if min_interval is not None else (0.1 if tty else 5.0)
        self.clock = clock
        self.tick_every = tick
        self._lock = threading.Lock()
        self._start: float | None = None
        self._last_draw = float("-inf")
        self._width = 0
        self.done = 0
        self.total = 0
        #: ``(when it ends, the wait)`` per call waiting now.
        self._waits: list[tuple[float, Wait]] = []
        #: When the last wait a non-terminal was told of ends.
        self._told_until = float("-inf")
        self._ticker: threading.Event | None = None
        #: What else the line says while calls remain (``concurrency 4 of 16`` once the limiter
        #: backed off), asked at each redraw; None: nothing.
        self.status: Callable[[], str | None] | None = None

    def __call__(self, done: int, total: int) -> None:
        """``(0, total)`` starts a batch, and its clock: the engine says it when the first request
        is about to go out (after the model client is loaded); then ``(done, total)`` as each call
        finishes."""
        with self._lock:
            now = self.clock()
            if self._start is None or done == 0 or done < self.done:
                self._start = now
                self._last_draw = now if not self.tty else float("-inf")
            if done == 0 or done != self.done:
                self._last_answer = now
            self.done, self.total = done, total
            if self.slow and done < total:
                self._start_ticking()
            if done < total and now - self._last_draw < self.min_interval:
                return
            self._last_draw = now
            self._draw(self.line(now))

    def waiting(self, wait: Wait) -> None:
        """A call starts to wait ``wait.seconds`` before its next try (the engine's ``waiting``)."""
        with self._lock:
            now = self.clock()
            until = now + wait.seconds
            self._waits = [w for w in self._waits if w[0] > now] + [(until, wait)]
            if self.tty:
                if now - self._last_draw >= self.min_interval:
                    self._last_draw = now
                    self._draw(self.line(now))
                self._start_ticking()
            elif wait.seconds >= self.min_interval and until - self._told_until >= self.min_interval:
                # Once for calls that wait alike (a burst of 429s): again only for a wait that
                # ends well after the one told.
                self._told_until = until
                self._last_draw = now
                self._draw(self.line(now))

    def _start_ticking(self) -> None:
        if self.tick_every is None or self._ticker is not None:
            return
        stop = self._ticker = threading.Event()

        def tick() -> None:
            while not stop.wait(self.tick_every) and self._tick(stop):
                pass

        threading.Thread(target=tick, name="moralpairs-progress", daemon=True).start()

    def tick(self) -> bool:
        """Redraw a terminal line while calls wait, so the wait counts down; False (after one last
        redraw, without the wait) once none waits."""
        return self._tick(None)

    def _tick(self, stop: threading.Event | None) -> bool:
        with self._lock:
            if stop is not None and stop.is_set():
                return False
            now = self.clock()
            waiting = self._longest_wait(now) is not None
            slow = bool(self.slow) and self.done < self.total
            if self._width:
                self._last_draw = now
                self._draw(self.line(now))
            elif not self.tty and slow and self._quiet(now) >= QUIET and now - self._last_draw >= QUIET_LINE:
                self._last_draw = now
                self._draw(self.line(now))
            if not (waiting or slow) and stop is not None:
                self._ticker = None
            return waiting or slow

    def _quiet(self, now: float) -> float:
        """Seconds since the last answer of the batch (or its start)."""
        return now - self._last_answer if self._last_answer is not None else 0.0

    def _longest_wait(self, now: float) -> tuple[float, Wait] | None:
        pending = [w for w in self._waits if w[0] > now]
        return max(pending, key=lambda w: w[0]) if pending else None

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - (self._start or now), 1e-9)
        rate = self.done / elapsed if self.done else 0.0
        text = f"moralpairs: {self.done}/{self.total} model calls"
        status = self.status() if self.status is not None else None
        if self.done >= self.total:
            text += (f", {rate:.1f}/s" if self.done else "") + f" in {elapsed:.1f} s"
            return text + (f"; {status}" if status else "")
        if self.done >= ESTIMATE_AFTER and rate > 0:
            # The first answers of a concurrent batch all arrive after one latency: a rate read
            # from them says "1706 s" for a job of seconds.
            text += f", {rate:.1f}/s, ETA {(self.total - self.done) / rate:.0f} s"
        if status:
            text += "; " + status
        longest = self._longest_wait(now)
        if longest is not None:
            until, wait = longest
            text += "; " + wait.describe(until - now)
        if self.slow and self._quiet(now) >= QUIET:
            text += f"; no answer for {self._quiet(now):.0f} s ({self.slow})"
        return text

    def _draw(self, text: str) -> None:
        if self.tty:
            pad = max(0, self._width - len(text))
            self._width = len(text)
            self.write("\r" + text + " " * pad)
        else:
            self.write(text)

    def note(self, text: str) -> None:
        """Show ``text`` as the line, until calls finish again (what the provider batches of
        ``--moral-batch`` are doing: "batch b_1 in_progress 120/500, waiting 30 s")."""
        with self._lock:
            self._last_draw = self.clock()
            self._draw(text)

    def finish(self) -> None:
        """End a terminal line that was being redrawn (and its countdown)."""
        with self._lock:
            if self._ticker is not None:
                self._ticker.set()
                self._ticker = None
            self._waits = []
            if self.tty and self._width:
                self.write("\n")
                self._width = 0


class LaterCalls:
    """Progress of the calls made after the first batch (generated examples as Hypothesis draws
    them, pairs rated by fixtures), counted across their many small batches.

    Nothing is written while they are brief: once calls have gone on for ``min_interval`` seconds a
    whole line (``write`` takes lines) says how many, how fast, the concurrency and any wait, and
    again at most every ``min_interval`` seconds; :meth:`finish` writes the total if a line was
    written. Called from the engine's thread.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        min_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.write = write
        self.min_interval = min_interval
        self.clock = clock
        self._lock = threading.Lock()
        self._first: float | None = None
        self._last_line: float | None = None
        self._before = 0  # calls of the batches before this one
        self._batch = 0  # calls done in this batch
        self._wait: tuple[float, Wait] | None = None
        self.status: Callable[[], str | None] | None = None
        self.lines = 0

    @property
    def done(self) -> int:
        return self._before + self._batch

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            now = self.clock()
            if done == 0:
                self._before += self._batch
                self._batch = 0
                if self._first is None and total:
                    self._first = now
                return
            self._batch = done
            self._maybe_write(now)

    def waiting(self, wait: Wait) -> None:
        with self._lock:
            now = self.clock()
            self._wait = (now + wait.seconds, wait)
            self._maybe_write(now)

    def _maybe_write(self, now: float) -> None:
        if self._first is None or now - self._first < self.min_interval:
            return
        if self._last_line is not None and now - self._last_line < self.min_interval:
            return
        self._last_line = now
        self.lines += 1
        self.write(self.line(now))

    def line(self, now: float | None = None, final: bool = False) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - (now if self._first is None else self._first), 1e-9)
        text = f"moralpairs: {self.done} model calls after the first batch (generated examples, fixtures)"
        text += f", {self.done / elapsed:.1f}/s" + (f" in {elapsed:.1f} s" if final else "")
        status = self.status() if self.status is not None else None
        if status:
            text += "; " + status
        if not final and self._wait is not None and self._wait[0] > now:
            text += "; " + self._wait[1].describe(self._wait[0] - now)
        return text

    def finish(self) -> None:
        """The total, when a line about these calls was written (else they were brief: nothing)."""
        with self._lock:
            if self.lines:
                self.write(self.line(final=True))
                self.lines = 0
