"""The screenshots of "Gating a release" (docs/gating.md): the pull-request comment and the HTML
report's trend, each taken in a headless browser from what real runs of the plugin wrote.

A test fails when the page no longer renders, or when its committed image in docs/images/ is
missing. Images are compared with nothing (fonts differ between machines): to take them again,

    MORALPAIRS_UPDATE_SCREENSHOTS=1 .venv/bin/pytest tests/test_screenshots.py

and commit docs/images/.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from tests.mock_answers import MODEL, answers
from tests.test_markdown import to_html
from tests.test_reports import read_png

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "images"
UPDATE = os.environ.get("MORALPAIRS_UPDATE_SCREENSHOTS") == "1"

#: The example pairs the screenshots show: every pair of the two files, by id.
PAIRS = {
    pair["id"]: (pair["harmful"], pair["harmless"])
    for name in ("everyday.moral.yaml", "pony.moral.yaml")
    for pair in yaml.safe_load((REPO / "examples" / name).read_text(encoding="utf-8"))["pairs"]
}


def release(harmful_harmless: dict[str, tuple[int, int]]) -> dict[str, str]:
    """The model's answers: pair id -> (harmful rating, harmless rating)."""
    return {PAIRS[i][side]: str(r) for i, ratings in harmful_harmless.items() for side, r in enumerate(ratings)}


#: Three releases: the classmate pair's gap shrinks release after release, the pony pair is
#: always missed, the waiter pair comes and goes.
RELEASES = [
    {"neighbour-dog": (-4, 3), "classmate": (-3, 3), "waiter": (-2, 2), "pony-whip": (-1, 0), "pony-caress": (0, 0)},
    {"neighbour-dog": (-4, 3), "classmate": (-3, 2), "waiter": (-2, 1), "pony-whip": (-1, 0), "pony-caress": (0, 1)},
    {"neighbour-dog": (-4, 2), "classmate": (-2, 1), "waiter": (-2, 2), "pony-whip": (0, 0), "pony-caress": (0, 1)},
    {"neighbour-dog": (-4, 3), "classmate": (-2, 0), "waiter": (-1, 2), "pony-whip": (-1, 0), "pony-caress": (0, 1)},
]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    folder = pytester.mkdir("moral")
    for name in ("everyday.moral.yaml", "pony.moral.yaml"):
        shutil.copy(REPO / "examples" / name, folder / name)
    return pytester


def rate(project: pytest.Pytester, answers_of: dict[str, tuple[int, int]], *args: str) -> pytest.RunResult:
    answers(project, release(answers_of))
    result = project.runpytest("moral/", "--moral-model", MODEL, "--moral-cache=off", "-p", "no:cacheprovider", *args)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()[-3000:]
    return result


def keep(shot: Path, name: str) -> None:
    """The screenshot taken is a picture of something; the committed one is there."""
    pixels = read_png(shot.read_bytes())
    assert len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 50, f"the screenshot {name} is blank"
    target = IMAGES / name
    if UPDATE:
        IMAGES.mkdir(exist_ok=True)
        shutil.copy(shot, target)
    assert target.is_file(), (
        f"docs/images/{name} is missing: take it with MORALPAIRS_UPDATE_SCREENSHOTS=1 "
        ".venv/bin/pytest tests/test_screenshots.py, and commit it"
    )
    assert read_png(target.read_bytes()).shape[:2] == pixels.shape[:2]


def colour_drawn(pixels: np.ndarray, colour: str, at_least: int) -> bool:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels[..., :3].astype(int) - rgb).max(axis=-1) <= 8).sum()) >= at_least


#: A plain page for the comment: GitHub's look is not the point, a readable rendering is.
COMMENT_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pull request comment</title>
<style>
body {{ font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color: #1f2328;
  margin: 0; padding: 16px; background: #f6f8fa; }}
.comment {{ border: 1px solid #d0d7de; border-radius: 6px; background: #fff; max-width: 1060px; }}
.who {{ background: #f6f8fa; border-bottom: 1px solid #d0d7de; padding: 8px 16px; color: #59636e;
  border-radius: 6px 6px 0 0; }}
.who strong {{ color: #1f2328; }}
.body {{ padding: 8px 16px 12px; }}
h3 {{ font-size: 18px; margin: 8px 0; }} h4 {{ font-size: 15px; margin: 16px 0 8px; }}
code {{ font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #eff1f3; padding: 1px 4px;
  border-radius: 4px; }}
ul {{ padding-left: 22px; margin: 4px 0; }}
table {{ border-collapse: collapse; margin: 4px 0; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 10px; font-size: 13px; }}
th {{ background: #f6f8fa; }} tr:nth-child(even) td {{ background: #f6f8fa; }}
details summary {{ cursor: pointer; margin: 8px 0; }}
sub {{ color: #59636e; }}
</style></head>
<body><div class="comment"><div class="who"><strong>github-actions</strong> commented</div>
<div class="body">{body}</div></div></body></html>
"""


def test_the_pull_request_comment_renders(
    project: pytest.Pytester, browser: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rate(project, RELEASES[0], "--moral-save=last-release.json")
    result = rate(
        project,
        RELEASES[3],
        "--moral-compare=last-release.json",
        "--moral-compare-fail=1",
        "--moral-min-pass-rate=60%",
        "--moral-report=md:moral-reports/moral-report.md",
    )
    report = (project.path / "moral-reports" / "moral-report.md").read_text(encoding="utf-8")
    monkeypatch.syspath_prepend(str(REPO / "ci" / "github"))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/models")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    import pr_comment

    comment = pr_comment.body(report, pr_comment.MARKER)
    page = tmp_path / "comment.html"
    page.write_text(COMMENT_PAGE.format(body=to_html(comment)), encoding="utf-8")
    dom = browser("--dump-dom", page.as_uri()).stdout
    assert "Moral pairs failed" in dom and dom.count("<tr>") == 1 + 2 + 1 + 5  # two pairs did not pass, of five
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    shot = tmp_path / "pr-comment.png"
    browser("--window-size=1100,640", f"--screenshot={shot}", page.as_uri())
    keep(shot, "pr-comment.png")


def test_the_html_trend_renders(project: pytest.Pytester, browser: Callable[..., Any], tmp_path: Path) -> None:
    for answers_of in RELEASES:
        rate(project, answers_of, "--moral-history=moral-history", "--moral-report=html:moral-reports/report.html")
    page = project.path / "moral-reports" / "report.html"
    dom = browser("--dump-dom", page.as_uri() + "?sort=trend").stdout
    assert dom.count('<svg class="spark"') == len(PAIRS) + 1  # a line per pair, and the pass rate's
    # The picture is of the trend: the report without its suite table and charts, which other
    # pages show, so that the history and the table of pairs fit in one screen.
    trimmed = tmp_path / "trend.html"
    hide = "<style>#suites, #charts, dl.run, details.settings, #pairs > .note { display: none; }</style></head>"
    trimmed.write_text(page.read_text(encoding="utf-8").replace("</head>", hide, 1), encoding="utf-8")
    shot = tmp_path / "html-trend.png"
    browser("--window-size=1180,640", f"--screenshot={shot}", trimmed.as_uri() + "?sort=trend")
    pixels = read_png(shot.read_bytes())
    for colour in ("#1a9641", "#d7191c"):  # the passed and failed dots
        assert colour_drawn(pixels, colour, 20), f"nothing of colour {colour} was drawn"
    keep(shot, "html-trend.png")


def test_the_gating_page_shows_both_screenshots() -> None:
    page = (REPO / "docs" / "gating.md").read_text(encoding="utf-8")
    for name in ("pr-comment.png", "html-trend.png"):
        assert f"(images/{name})" in page


def test_the_screenshots_are_taken_as_the_module_says() -> None:
    assert "MORALPAIRS_UPDATE_SCREENSHOTS=1 .venv/bin/pytest tests/test_screenshots.py" in textwrap.dedent(
        __doc__ or ""
    )
