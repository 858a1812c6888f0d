"""Specification of the live progress line shown while a batch of model calls runs.

The engine reports ``(0, total)`` when a batch starts and ``(done, total)`` as each call finishes.
On a terminal the line is redrawn in place (``"\\r"``), at most every ``min_interval`` seconds; on
anything else (a CI log) whole lines are written, far less often. The last call of a batch is
always shown, with the time the batch took. A fake clock and writer stand in for time and output.
"""

from __future__ import annotations

import time

import pytest

from pytest_moralpairs.faults import RATE_LIMIT, SERVER, Wait
from pytest_moralpairs.report.progress import ESTIMATE_AFTER, ProgressLine


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def written() -> list[str]:
    return []


def progress(written: list[str], clock: Clock, tty: bool, **kwargs) -> ProgressLine:
    kwargs.setdefault("tick", None)  # redraws come from the test, not from a thread
    return ProgressLine(written.append, tty=tty, clock=clock, **kwargs)


def retry_after(seconds: float) -> Wait:
    return Wait(seconds, RATE_LIMIT, asked=seconds)


def run_batch(line: ProgressLine, clock: Clock, total: int, step: float) -> None:
    """A batch of ``total`` calls, one finishing every ``step`` seconds."""
    line(0, total)
    for done in range(1, total + 1):
        clock.now += step
        line(done, total)


# --- on a terminal -----------------------------------------------------------------------------


def test_a_terminal_sees_the_batch_start_at_once(written, clock):
    line = progress(written, clock, tty=True)

    line(0, 10)

    assert written == ["\rmoralpairs: 0/10 model calls"]


def test_a_terminal_line_is_not_redrawn_sooner_than_the_minimum_interval(written, clock):
    line = progress(written, clock, tty=True, min_interval=0.25)
    line(0, 10)

    clock.now += 0.125
    line(1, 10)
    clock.now += 0.1
    line(2, 10)

    assert len(written) == 1


def test_a_terminal_line_is_redrawn_once_the_minimum_interval_has_passed(written, clock):
    line = progress(written, clock, tty=True, min_interval=0.25)
    line(0, 10)
    clock.now += 0.125
    line(1, 10)

    clock.now += 0.125
    line(2, 10)

    assert written[-1].startswith("\rmoralpairs: 2/10 model calls")
    assert len(written) == 2


def test_the_default_redraw_interval_on_a_terminal_is_a_tenth_of_a_second():
    assert ProgressLine(print, tty=True).min_interval == 0.1


def test_the_last_call_of_a_batch_is_always_drawn_however_soon_it_comes(written, clock):
    line = progress(written, clock, tty=True, min_interval=10)
    line(0, 3)
    line(1, 3)
    line(2, 3)

    clock.now += 0.001
    line(3, 3)

    assert [text.split(",")[0] for text in written] == [
        "\rmoralpairs: 0/3 model calls",
        "\rmoralpairs: 3/3 model calls",
    ]


def test_the_final_line_gives_the_rate_and_the_elapsed_time(written, clock):
    line = progress(written, clock, tty=True)

    run_batch(line, clock, total=4, step=0.5)

    assert written[-1] == "\rmoralpairs: 4/4 model calls, 2.0/s in 2.0 s"


def test_the_eta_is_the_calls_left_at_the_rate_so_far(written, clock):
    line = progress(written, clock, tty=True)
    line(0, 20)

    clock.now += 2.5
    line(5, 20)  # 2 calls a second; 15 left

    assert written[-1] == "\rmoralpairs: 5/20 model calls, 2.0/s, ETA 8 s"


def test_no_rate_or_eta_is_shown_before_a_few_answers(written, clock):
    # Concurrent calls all answer after one latency: the first answers say nothing of the rate.
    line = progress(written, clock, tty=True, min_interval=0)
    line(0, 100)

    for done in range(1, ESTIMATE_AFTER):
        clock.now += 3.0
        line(done, 100)
        assert written[-1].rstrip(" ") == f"\rmoralpairs: {done}/100 model calls"
    clock.now += 3.0
    line(ESTIMATE_AFTER, 100)

    assert ", ETA " in written[-1]


def test_a_shorter_redraw_blanks_what_is_left_of_the_longer_line_before_it(written, clock):
    line = progress(written, clock, tty=True, min_interval=0)
    line(0, 10)
    clock.now += 5.0
    line(5, 10)  # "..., 1.0/s, ETA 5 s"
    longer = written[-1]

    clock.now += 5.0
    line(10, 10)  # "..., 1.0/s in 10.0 s"

    assert len(written[-1]) >= len(longer)
    assert written[-1].rstrip(" ") == "\rmoralpairs: 10/10 model calls, 1.0/s in 10.0 s"


def test_a_new_batch_starts_its_own_clock(written, clock):
    line = progress(written, clock, tty=True)
    run_batch(line, clock, total=2, step=5.0)

    run_batch(line, clock, total=2, step=0.5)

    assert written[-1].rstrip(" ") == "\rmoralpairs: 2/2 model calls, 2.0/s in 1.0 s"


def test_finish_ends_a_drawn_terminal_line_with_one_newline(written, clock):
    line = progress(written, clock, tty=True)
    run_batch(line, clock, total=2, step=0.1)

    line.finish()
    line.finish()

    assert written[-1] == "\n"
    assert written.count("\n") == 1


def test_finish_writes_nothing_on_a_terminal_where_nothing_was_drawn(written, clock):
    line = progress(written, clock, tty=True)

    line.finish()

    assert written == []


# --- on anything else (a CI log, a pipe) --------------------------------------------------------


def test_a_fast_batch_on_a_non_terminal_writes_one_line_with_the_time_it_took(written, clock):
    line = progress(written, clock, tty=False)

    run_batch(line, clock, total=6, step=0.1)

    assert written == ["moralpairs: 6/6 model calls, 10.0/s in 0.6 s"]


def test_a_non_terminal_writes_whole_lines_no_more_often_than_its_interval(written, clock):
    line = progress(written, clock, tty=False, min_interval=5)

    run_batch(line, clock, total=12, step=1.0)  # 12 s: lines at 5 s, 10 s and the end

    assert written == [
        "moralpairs: 5/12 model calls, 1.0/s, ETA 7 s",
        "moralpairs: 10/12 model calls, 1.0/s, ETA 2 s",
        "moralpairs: 12/12 model calls, 1.0/s in 12.0 s",
    ]


def test_the_default_interval_on_a_non_terminal_is_five_seconds():
    assert ProgressLine(print, tty=False).min_interval == 5.0


def test_finish_writes_nothing_on_a_non_terminal(written, clock):
    line = progress(written, clock, tty=False)
    run_batch(line, clock, total=2, step=0.1)
    before = list(written)

    line.finish()

    assert written == before


# --- while calls wait before trying again -------------------------------------------------------


def test_a_terminal_line_says_when_a_call_waits_on_a_rate_limit(written, clock):
    line = progress(written, clock, tty=True, min_interval=0)
    line(0, 200)
    for done in range(1, 41):
        clock.now += 0.25
        line(done, 200)

    line.waiting(retry_after(118))

    assert written[-1].rstrip(" ") == (
        "\rmoralpairs: 40/200 model calls, 4.0/s, ETA 40 s; rate limited: waiting 118 s (Retry-After)"
    )


def test_the_wait_shown_is_the_longest_left_and_counts_down_on_redraws(written, clock):
    line = progress(written, clock, tty=True, min_interval=0)
    line(0, 10)
    line.waiting(retry_after(30))
    clock.now += 5
    line.waiting(Wait(4, SERVER))  # shorter than the 25 s left of the first

    clock.now += 2
    line(1, 10)

    assert written[-1].rstrip(" ").endswith("; rate limited: waiting 23 s (Retry-After)")


def test_the_wait_leaves_the_line_once_it_is_over(written, clock):
    line = progress(written, clock, tty=True, min_interval=0)
    line(0, 10)
    line.waiting(retry_after(3))

    clock.now += 3
    line(1, 10)

    assert written[-1].rstrip(" ") == "\rmoralpairs: 1/10 model calls"


def test_a_tick_redraws_a_waiting_terminal_line_though_no_call_finished(written, clock):
    line = progress(written, clock, tty=True, min_interval=0)
    line(0, 10)
    line.waiting(retry_after(118))

    clock.now += 1
    assert line.tick() is True

    assert written[-1].rstrip(" ") == "\rmoralpairs: 0/10 model calls; rate limited: waiting 117 s (Retry-After)"


def test_the_last_tick_after_a_wait_redraws_the_line_without_it_and_says_no_call_waits(written, clock):
    line = progress(written, clock, tty=True, min_interval=0)
    line(0, 10)
    line.waiting(retry_after(2))

    clock.now += 2
    assert line.tick() is False

    assert written[-1].rstrip(" ") == "\rmoralpairs: 0/10 model calls"


def test_a_terminal_line_counts_a_wait_down_by_itself(written):
    # The real clock and the line's own thread: nothing finishes, yet the line moves.
    line = ProgressLine(written.append, tty=True, min_interval=0, tick=0.05)
    line(0, 10)
    line.waiting(retry_after(60))

    deadline = time.monotonic() + 5
    while len(written) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    line.finish()

    assert len(written) >= 4
    assert all("rate limited: waiting" in text for text in written[1:4])


def test_finish_stops_the_countdown(written):
    line = ProgressLine(written.append, tty=True, min_interval=0, tick=0.02)
    line(0, 10)
    line.waiting(retry_after(60))

    line.finish()
    before = list(written)
    time.sleep(0.1)

    assert written == before


def test_a_non_terminal_writes_a_line_when_a_long_wait_starts(written, clock):
    line = progress(written, clock, tty=False)
    line(0, 200)
    clock.now += 1
    line(3, 200)

    line.waiting(retry_after(118))

    assert written == ["moralpairs: 3/200 model calls; rate limited: waiting 118 s (Retry-After)"]


def test_a_non_terminal_is_not_told_of_a_wait_shorter_than_its_interval(written, clock):
    line = progress(written, clock, tty=False, min_interval=5)
    line(0, 200)

    line.waiting(Wait(2, SERVER))

    assert written == []


def test_a_non_terminal_is_told_once_of_a_burst_of_calls_waiting_alike(written, clock):
    line = progress(written, clock, tty=False, min_interval=5)
    line(0, 200)

    for _ in range(16):
        clock.now += 0.01
        line.waiting(retry_after(118))

    assert len(written) == 1


def test_a_non_terminal_is_told_again_of_a_wait_that_ends_well_after_the_one_told(written, clock):
    line = progress(written, clock, tty=False, min_interval=5)
    line(0, 200)
    line.waiting(retry_after(60))

    clock.now += 30
    line.waiting(retry_after(60))  # ends 30 s after the first

    assert [text.split("; ")[1] for text in written] == [
        "rate limited: waiting 60 s (Retry-After)",
        "rate limited: waiting 60 s (Retry-After)",
    ]
