"""The Action's pull-request comment: the Markdown report, kept in one comment that each push
updates in place.

The comment starts with a hidden marker (``<!-- pytest-moralpairs -->``, or
``<!-- pytest-moralpairs:KEY -->`` with the ``comment-key`` input, one comment per model of a
matrix). The script pages through the pull request's comments for it, PATCHes the one it finds,
else POSTs a new one. The API is ``$GITHUB_API_URL`` (GitHub's, or a GitHub Enterprise server's),
the token the ``github-token`` input's. A comment that cannot be written (a fork's read-only
token, an API error) is a warning: the gate's verdict is the gate step's, not this one's.

Output: ``comment-url``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from actions_env import command, read_input, set_outputs

MARKER = "<!-- pytest-moralpairs -->"
#: GitHub refuses a comment body longer than this.
MAX_BODY = 65_536


class ApiError(Exception):
    """A request the API refused or never answered; the message says which and why."""


def marker(key: str) -> str:
    return f"<!-- pytest-moralpairs:{re.sub(r'[^A-Za-z0-9._/:-]+', '-', key)} -->" if key else MARKER


def pull_request_number(event_path: str) -> int | None:
    """The pull request the workflow runs for (``pull_request``, ``pull_request_target``, or an
    ``issue_comment`` on a pull request), from the event file; None for any other event."""
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(event, dict):
        return None
    number = (event.get("pull_request") or {}).get("number")
    issue = event.get("issue") or {}
    if number is None and issue.get("pull_request"):
        number = issue.get("number")
    return number if isinstance(number, int) else None


def body(report: str, tag: str) -> str:
    """The comment: the marker, the report, and a link to the run that wrote it."""
    server, repository, run = (
        os.environ.get(name, "") for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    link = f"{server}/{repository}/actions/runs/{run}"
    footer = f"\n<sub>[The workflow run]({link}) holds the HTML and JSON reports.</sub>\n"
    text = f"{tag}\n{report.rstrip()}\n" + (footer if server and repository and run else "")
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 2] + "…\n"


class GitHub:
    def __init__(self, api: str, token: str):
        self.api = api.rstrip("/")
        self.token = token

    def request(self, method: str, url: str, payload: dict[str, Any] | None = None) -> tuple[Any, dict[str, str]]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "pytest-moralpairs-action")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null"), dict(response.headers)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except (ValueError, AttributeError):
                pass
            raise ApiError(f"{method} {url}: {exc.code} {detail}".strip()) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ApiError(f"{method} {url}: {getattr(exc, 'reason', exc)}") from None

    def comments(self, repository: str, number: int) -> list[dict[str, Any]]:
        """Every comment of the pull request, following the ``Link: <...>; rel="next"`` pages."""
        url: str | None = f"{self.api}/repos/{repository}/issues/{number}/comments?per_page=100"
        found: list[dict[str, Any]] = []
        while url:
            page, headers = self.request("GET", url)
            found += [c for c in page or () if isinstance(c, dict)]
            following = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("Link", "") or headers.get("link", ""))
            url = following.group(1) if following and following.group(1).startswith(self.api) else None
        return found


def main() -> int:
    number = pull_request_number(os.environ.get("GITHUB_EVENT_PATH", ""))
    if number is None:
        command("notice", "not a pull request: no comment written")
        return 0
    report_path = read_input("markdown")
    try:
        report = Path(report_path).read_text(encoding="utf-8") if report_path else ""
    except OSError:
        report = ""
    if not report:
        command("warning", f"no Markdown report to comment with ({report_path or 'the gate wrote none'})")
        return 0
    token, repository = os.environ.get("GITHUB_TOKEN", ""), os.environ.get("GITHUB_REPOSITORY", "")
    if not token or not repository:
        command("warning", "no comment written: the github-token input (or GITHUB_REPOSITORY) is empty")
        return 0
    tag = marker(read_input("comment-key"))
    github = GitHub(os.environ.get("GITHUB_API_URL", "https://api.github.com"), token)
    text = body(report, tag)
    try:
        mine = [c for c in github.comments(repository, number) if str(c.get("body") or "").startswith(tag + "\n")]
        if mine:
            url = f"{github.api}/repos/{repository}/issues/comments/{mine[0]['id']}"
            comment, _ = github.request("PATCH", url, {"body": text})
        else:
            url = f"{github.api}/repos/{repository}/issues/{number}/comments"
            comment, _ = github.request("POST", url, {"body": text})
    except ApiError as exc:
        command("warning", f"could not comment on pull request #{number}: {exc}")
        return 0
    url = comment.get("html_url", "") if isinstance(comment, dict) else ""
    print(f"{'updated' if mine else 'wrote'} the moral-pair comment on pull request #{number}: {url}")
    set_outputs(comment_url=url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
