"""What a run leaves behind when it ends: the reports (``--moral-report``, ``--moral-save``), the
run added to the history (``--moral-history``), and the Markdown report appended to GitHub's job
summary. Each says in one line what it wrote, or why it could not.

No pytest here: the plugin calls :func:`publish` once, on the process that writes reports (the
controller under pytest-xdist). Every run asks :func:`step_summary_file`, so the writers (the
history, HTML and Markdown modules) are imported only when something is to be written.
PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any, Callable

#: The environment variable GitHub Actions sets to the file a step appends its job summary to.
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

#: ``(line for the summary, whether it says something failed)``
Line = tuple[str, bool]


def publish(
    document: dict[str, Any],
    targets: list[tuple[str, str]],
    base: Path,
    exit_status: int,
    history: str | None = None,
    history_runs: int = 10,
    rootdir: Path | None = None,
) -> list[Line]:
    """Add the run to ``history`` (a folder relative to ``base``), then write each ``(kind, path)``
    of ``targets``: the HTML report draws the trend of the history, the Markdown report names
    ``exit_status``. An OSError is a failed line, never an exception."""
    from ..history import HistoryError, git_commit, record_run, trend
    from .document import write_json
    from .html import write_html
    from .markdown import write_markdown

    lines: list[Line] = []
    runs_trend = None
    if history:
        this_run = None
        try:
            path, entry = record_run(base / history, document, git_commit(rootdir or base))
            this_run = entry.file
            lines.append((f"run added to the history {history} ({entry.file})", False))
        except (OSError, UnicodeError, HistoryError) as exc:
            lines.append((f"could not add the run to the history {history}: {exc}", True))
        runs_trend = trend(base / history, document, history_runs, this_run)
        runs_trend.folder = history  # as the user named it
    writers: dict[str, Callable[[Path, dict[str, Any]], Any]] = {
        "json": write_json,
        "html": partial(write_html, trend=runs_trend),
        "md": partial(write_markdown, exit_status=exit_status),
    }
    for kind, path in targets:
        try:
            writers[kind](base / path, document)
        except (OSError, UnicodeError) as exc:  # UnicodeError: a path no file system can hold
            lines.append((f"could not write the {kind} report {path}: {exc}", True))
        else:
            lines.append((f"{kind} report written to {path}", False))
    return lines


def step_summary_file(setting: str, environ: dict[str, str] | None = None) -> str | None:
    """The job summary file to append to: GitHub's, unless ``--moral-step-summary`` is off."""
    path = (os.environ if environ is None else environ).get(STEP_SUMMARY_ENV, "").strip()
    return path if path and setting != "off" else None


def append_step_summary(path: str, document: dict[str, Any], exit_status: int) -> Line:
    """Append the Markdown report to the job summary; a failure is shown, and fails nothing."""
    from .markdown import append_markdown

    try:
        append_markdown(path, document, exit_status)
    except (OSError, UnicodeError) as exc:
        return f"could not append the Markdown report to the job summary ({STEP_SUMMARY_ENV}): {exc}", True
    return f"Markdown report appended to the job summary ({STEP_SUMMARY_ENV})", False


__all__ = ["STEP_SUMMARY_ENV", "append_step_summary", "publish", "step_summary_file"]
