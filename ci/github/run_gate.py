"""The Action's gate: rate the pairs with pytest, write every report, set the step outputs, and
exit with pytest's status (0 passed, 1 failed, 10 could not rate, 2 stopped, 4 usage), so the
step, and the job, fail as the run did.

Reports go to the ``report-dir`` input: ``moral-report.html``, ``.json``, ``.md`` and
``moral-junit.xml``; the ``reports`` input says which of them the artifact holds. Outputs:
``exit-status``, ``pass-rate``, ``html-report``, ``json-report``, ``markdown-report``,
``junit-report``, ``report-dir``, ``artifact-files`` (one path a line).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from actions_env import command, read_input, set_outputs, words

#: Exit status of a usage error, as pytest's own.
USAGE = 4
#: Report kind (the ``reports`` input's words) -> the file it is written to in the report folder.
REPORTS = {
    "html": "moral-report.html",
    "json": "moral-report.json",
    "md": "moral-report.md",
    "junit": "moral-junit.xml",
}


def has_run_of(history: str, model: str) -> bool:
    """Whether the history folder lists a run of ``model`` (``--moral-compare last`` needs one)."""
    try:
        index = json.loads((Path(history) / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    runs = index.get("runs") if isinstance(index, dict) else None
    return any(isinstance(r, dict) and r.get("model") == model for r in runs or ())


def pytest_args(report_dir: Path) -> list[str] | None:
    """pytest's arguments from the inputs; None (after an error command) for inputs that cannot work."""
    models = words(read_input("model"))
    if len(models) > 1:
        command(
            "error",
            f"pytest-moralpairs rates one model per run, and the model input names {len(models)}: "
            "run the action once per model (a matrix over the models, with comment-key set to the model)",
        )
        return None
    args = words(read_input("paths"))
    args += [f"--moral-model={m}" for m in models]
    args += [f"--moral-suite={s}" for s in words(read_input("suite"))]
    compare, history = read_input("compare"), read_input("history")
    for option, value in (
        ("threshold", read_input("threshold")),
        ("min-pass-rate", read_input("min-pass-rate")),
        ("history", history),
    ):
        if value:
            args.append(f"--moral-{option}={value}")
    model = models[0] if models else os.environ.get("MORALPAIRS_MODEL", "")
    wanted = model if compare == "last" else compare[len("last:") :] if compare.startswith("last:") else None
    if wanted is not None and history and not has_run_of(history, wanted):
        command("notice", f"no run of {wanted} in the history {history} yet: this run is compared with none")
        compare = ""
    compare_fail = read_input("compare-fail")
    if compare:
        args.append(f"--moral-compare={compare}")
        if compare_fail:
            args.append(f"--moral-compare-fail={compare_fail}")
    cache_dir = read_input("cache-dir", ".moral-cache")
    args.append(f"--moral-cache-dir={cache_dir}")
    for kind in ("html", "json", "md"):
        args.append(f"--moral-report={kind}:{report_dir / REPORTS[kind]}")
    args.append(f"--junitxml={report_dir / REPORTS['junit']}")
    try:
        return args + shlex.split(read_input("extra-args"))
    except ValueError as exc:
        command("error", f"the extra-args input cannot be read as shell words: {exc}")
        return None


def pass_rate(report: Path) -> str:
    try:
        rate = json.loads(report.read_text(encoding="utf-8"))["totals"]["pass_rate"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return "" if rate is None else f"{rate:.4f}"


def main() -> int:
    report_dir = Path(read_input("report-dir", "moral-reports")).resolve()
    args = pytest_args(report_dir)
    if args is None:
        set_outputs(exit_status=str(USAGE))
        return USAGE
    print("$ pytest " + shlex.join(args), flush=True)
    status = subprocess.run([sys.executable, "-m", "pytest", *args], check=False).returncode
    paths = {kind: report_dir / name for kind, name in REPORTS.items()}
    uploaded = [str(paths[k]) for k in words(read_input("reports", "html json junit md")) if k in paths]
    set_outputs(
        exit_status=str(status),
        pass_rate=pass_rate(paths["json"]),
        html_report=str(paths["html"]),
        json_report=str(paths["json"]),
        markdown_report=str(paths["md"]),
        junit_report=str(paths["junit"]),
        report_dir=str(report_dir),
        artifact_files="\n".join(p for p in uploaded if Path(p).is_file()),
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
