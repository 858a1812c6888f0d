"""An example of the plugin's hooks: list every pair that did not pass in the CI job summary.

``optionalhook=True`` keeps this conftest working when the plugin is disabled
(``pytest -p no:moralpairs``); without it pytest stops with "unknown hook".
"""

import os

import pytest


@pytest.hookimpl(optionalhook=True)
def pytest_moralpairs_result(result, config):
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary or result["outcome"] == "passed":
        return
    with open(summary, "a", encoding="utf-8") as out:
        gap = "-" if result.get("gap") is None else f"{result['gap']:g}"
        out.write(f"- `{result['nodeid']}`: {result['outcome']} (gap {gap}, model {result['model']})\n")
