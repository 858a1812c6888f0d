"""A live progress line for a batch of model calls: done / total, rate, ETA (pytest-free).

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

#: Answers a batch needs before the line shows a rate and an ETA.
ESTIMATE_AFTER = 5


class ProgressLine:
    """Redraws one terminal line as calls finish; on a non-terminal, writes a line now and then.

    ``write(text)`` receives whole lines (without newline) on a non-terminal, and ``"\\r"``-led
    redraws on a terminal. Called from the engine's thread.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        tty: bool,
        min_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.write = write
        self.tty = tty
        self.min_interval = min_interval if min_interval is not None else (0.1 if tty else 5.0)
        self.clock = clock
        self._lock = threading.Lock()
        self._start: float | None = None
        self._last_draw = float("-inf")
        self._width = 0
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        """``(0, total)`` starts a batch, and its clock: the engine says it when the first request
        is about to go out (after the model client is loaded); then ``(done, total)`` as each call
        finishes."""
        with self._lock:
            now = self.clock()
            if self._start is None or done == 0 or done < self.done:
                self._start = now
                self._last_draw = now if not self.tty else float("-inf")
            self.done, self.total = done, total
            if done < total and now - self._last_draw < self.min_interval:
                return
            self._last_draw = now
            self._draw(self.line(now))

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - (self._start or now), 1e-9)
        rate = self.done / elapsed if self.done else 0.0
        text = f"moralpairs: {self.done}/{self.total} model calls"
        if self.done >= self.total:
            return text + (f", {rate:.1f}/s" if self.done else "") + f" in {elapsed:.1f} s"
        if self.done >= ESTIMATE_AFTER and rate > 0:
            # The first answers of a concurrent batch all arrive after one latency: a rate read
            # from them says "1706 s" for a job of seconds.
            text += f", {rate:.1f}/s, ETA {(self.total - self.done) / rate:.0f} s"
        return text

    def _draw(self, text: str) -> None:
        if self.tty:
            pad = max(0, self._width - len(text))
            self._width = len(text)
            self.write("\r" + text + " " * pad)
        else:
            self.write(text)

    def finish(self) -> None:
        """End a terminal line that was being redrawn."""
        with self._lock:
            if self.tty and self._width:
                self.write("\n")
                self._width = 0
