"""The GitHub Action (``action.yml``) and the GitLab CI template, run the way CI runs them.

No test needs GitHub: each step of the composite action is a script of this repository, run here
with the environment GitHub gives a step (``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``,
``GITHUB_EVENT_PATH`` and an event file, ``GITHUB_REPOSITORY``, ``GITHUB_API_URL`` ...), its
``${{ ... }}`` expressions filled in from the inputs and the earlier steps' outputs. The GitHub
API the comment script talks to is a server on 127.0.0.1 that keeps comments as GitHub does
(pages of them, a ``Link`` header to the next).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
STEPS = {step["id"]: step for step in ACTION["runs"]["steps"] if "id" in step}
SCRIPTS = REPO / "ci" / "github"
GITLAB = yaml.safe_load((REPO / "ci" / "gitlab" / "moral-gate.gitlab-ci.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


# --- running a step as GitHub does ------------------------------------------------------------------


def defaults() -> dict[str, str]:
    """The inputs' defaults, their own expressions filled in (``${{ github.token }}``)."""
    return {name: expand(str(spec.get("default", "")), {}, {}) for name, spec in ACTION["inputs"].items()}


def expand(text: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    """``${{ inputs.X }}``, ``${{ steps.S.outputs.O }}``, ``${{ github.action_path }}`` and
    ``${{ github.token }}`` as GitHub fills them in."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("inputs."):
            return inputs[expression[len("inputs.") :]]
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if step:
            return outputs.get(step.group(1), {}).get(step.group(2), "")
        known = {"github.action_path": str(REPO), "github.token": "the-job-token"}
        if expression in known:
            return known[expression]
        raise AssertionError(f"a test cannot fill in ${{{{ {expression} }}}}")

    return EXPRESSION.sub(value, text)


def read_outputs(path: Path) -> dict[str, str]:
    """A step's ``$GITHUB_OUTPUT`` file: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    outputs, lines = {}, path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        name, sep, delimiter = lines[i].partition("<<")
        if sep:
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        else:
            name, _, value = lines[i].partition("=")
            outputs[name] = value
            i += 1
    return outputs


class Job:
    """One job's runner folder and context: the workspace, the files GitHub gives a step, and the
    outputs of the steps run so far."""

    def __init__(self, workspace: Path, tmp: Path, event: dict[str, Any] | None = None, **inputs: str):
        self.workspace = workspace
        self.tmp = tmp
        self.inputs = {**defaults(), **inputs}
        self.outputs: dict[str, dict[str, str]] = {}
        self.summary = tmp / "step_summary.md"
        self.event = tmp / "event.json"
        self.event.write_text(json.dumps(event or {"ref": "refs/heads/main"}), encoding="utf-8")
        self.env = {
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_PATH": str(self.event),
            "GITHUB_EVENT_NAME": "pull_request" if event and "pull_request" in event else "push",
            "GITHUB_REPOSITORY": "octo/models",
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_STEP_SUMMARY": str(self.summary),
        }

    def run(self, step_id: str, **env: str) -> subprocess.CompletedProcess[str]:
        step = STEPS[step_id]
        output = self.tmp / f"output-{step_id}"
        output.write_text("", encoding="utf-8")
        step_env = {k: expand(str(v), self.inputs, self.outputs) for k, v in (step.get("env") or {}).items()}
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        full_env = {**os.environ, **self.env, "GITHUB_OUTPUT": str(output), "PATH": path, **step_env, **env}
        for leaky in ("MORALPAIRS_MODEL", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"):
            full_env.pop(leaky, None)
        folder = self.workspace / expand(step.get("working-directory", "."), self.inputs, self.outputs)
        done = subprocess.run(
            [step.get("shell", "bash"), "-e", "-c", expand(step["run"], self.inputs, self.outputs)],
            cwd=folder,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.outputs[step_id] = read_outputs(output)
        return done


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository that ships a model: two example pair files in moral/."""
    workspace = tmp_path / "workspace"
    (workspace / "moral").mkdir(parents=True)
    for name in ("everyday.moral.yaml", "pony.moral.yaml"):
        shutil.copy(EXAMPLES / name, workspace / "moral" / name)
    return workspace


# --- the action's shape ---------------------------------------------------------------------------


def test_the_action_is_composite_and_every_input_is_used() -> None:
    assert ACTION["runs"]["using"] == "composite"
    steps = yaml.safe_dump(ACTION["runs"]["steps"])
    unused = [name for name in ACTION["inputs"] if f"inputs.{name} " not in steps.replace("}}", " }}")]
    assert not unused, f"inputs no step uses: {unused}"
    used = set(re.findall(r"inputs\.([\w-]+)", steps))
    undeclared = used - set(ACTION["inputs"])
    assert not undeclared, f"steps use inputs the action does not declare: {undeclared}"


def scripts_run() -> list[str]:
    return [m for step in ACTION["runs"]["steps"] for m in re.findall(r"ci/github/([\w]+\.py)", step.get("run", ""))]


def test_every_script_the_action_runs_exists_and_every_script_is_run() -> None:
    run = scripts_run()
    assert run == ["cache_key.py", "run_gate.py", "pr_comment.py"]
    shared = {"actions_env.py"}
    assert sorted(p.name for p in SCRIPTS.glob("*.py")) == sorted({*run, *shared})


def test_each_script_is_given_exactly_the_inputs_it_reads() -> None:
    for step in ACTION["runs"]["steps"]:
        found = re.search(r"ci/github/(\w+\.py)", step.get("run", ""))
        if not found:
            continue
        tree = ast.parse((SCRIPTS / found.group(1)).read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "read_input"]
        assert all(isinstance(c.args[0], ast.Constant) for c in calls), "read_input of a name known only at run time"
        read = {"INPUT_" + c.args[0].value.upper().replace("-", "_") for c in calls}
        given = {name for name in step.get("env") or {} if name.startswith("INPUT_")}
        assert read == given, f"{found.group(1)} reads {sorted(read)}, its step gives {sorted(given)}"


def outputs_set_by(script: str) -> set[str]:
    """The outputs a script sets: keywords of its ``set_outputs(...)`` calls, and the keys of the
    dict it builds them in (``outputs = {...}``, ``outputs.update(...)``)."""
    tree = ast.parse((SCRIPTS / script).read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
            "set_outputs",
            "update",
        ):
            names |= {kw.arg for kw in node.keywords if kw.arg}
        elif isinstance(node, ast.Dict):
            names |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return {name.replace("_", "-") for name in names}


def test_every_output_comes_from_a_step_whose_script_sets_it() -> None:
    by_step = {sid: re.search(r"ci/github/(\w+\.py)", step["run"]).group(1) for sid, step in STEPS.items()}
    referenced = re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", yaml.safe_dump(ACTION))
    assert referenced
    for step_id, name in referenced:
        assert step_id in STEPS, f"no step {step_id}"
        assert name in outputs_set_by(by_step[step_id]), f"{by_step[step_id]} sets no output {name}"


def test_the_actions_it_uses_are_githubs_own_pinned_to_a_major_version() -> None:
    uses = [step["uses"] for step in ACTION["runs"]["steps"] if "uses" in step]
    assert uses == [
        "actions/setup-python@v5",
        "actions/cache/restore@v4",
        "actions/cache/restore@v4",
        "actions/cache/save@v4",
        "actions/cache/save@v4",
        "actions/upload-artifact@v4",
    ]


def test_what_runs_after_the_gate_runs_whatever_the_gate_said() -> None:
    after = ACTION["runs"]["steps"][[s.get("id") for s in ACTION["runs"]["steps"]].index("gate") + 1 :]
    assert after and all(str(step.get("if", "")).startswith("always()") for step in after)


# --- the cache keys -------------------------------------------------------------------------------


def test_the_cache_key_is_made_of_the_model_and_the_suite_hash_and_changes_with_the_pairs(
    project: Path, tmp_path: Path
) -> None:
    job = Job(project, tmp_path, model="openai/gpt-4o-mini", suite="core", paths="moral", history="moral-history")
    done = job.run("keys")
    assert done.returncode == 0, done.stderr
    keys = job.outputs["keys"]
    assert re.fullmatch(r"moralpairs-openai-gpt-4o-mini-[0-9a-f]{16}-4242-1", keys["key"])
    same_pairs = keys["key"].removesuffix("4242-1")
    assert keys["restore-keys"].splitlines() == [same_pairs, "moralpairs-openai-gpt-4o-mini-"]
    assert keys["cache-path"] == str(project / ".moral-cache")
    assert keys["history-key"] == "moralpairs-history-openai-gpt-4o-mini-4242-1"
    assert keys["history-path"] == str(project / "moral-history")

    (project / "moral" / "pony.moral.yaml").write_text("version: 1\npairs: []\n", encoding="utf-8")
    job.run("keys")
    assert job.outputs["keys"]["key"] != keys["key"]
    assert job.outputs["keys"]["key"].startswith("moralpairs-openai-gpt-4o-mini-")
    other = Job(project, tmp_path, model="moralpairs/lexical", suite="core", paths="moral")
    other.run("keys")
    assert other.outputs["keys"]["key"].startswith("moralpairs-moralpairs-lexical-")
    assert other.outputs["keys"]["history-key"] == ""


def test_the_suite_in_the_key_is_the_hash_the_plugin_records() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_moralpairs", "suite", "core"], capture_output=True, text=True, check=True
    )
    from pytest_moralpairs.suites.sources import resolve

    assert json.loads(done.stdout)["sha256"] == resolve("core", REPO, ["*.moral.yaml"]).sha256


# --- the gate -------------------------------------------------------------------------------------


def test_the_gate_step_rates_writes_every_report_and_sets_the_outputs(project: Path, tmp_path: Path) -> None:
    job = Job(project, tmp_path, model="moralpairs/lexical", paths="moral", **{"min-pass-rate": "0.5"})
    done = job.run("gate")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]  # the pony pairs fail
    out = job.outputs["gate"]
    reports = project / "moral-reports"
    assert out["exit-status"] == "1"
    assert out["pass-rate"] == "0.6000"  # 3 of 5
    assert out["html-report"] == str(reports / "moral-report.html")
    assert out["markdown-report"] == str(reports / "moral-report.md")
    assert out["artifact-files"].splitlines() == [
        str(reports / n) for n in ("moral-report.html", "moral-report.json", "moral-junit.xml", "moral-report.md")
    ]
    assert all(Path(p).is_file() for p in out["artifact-files"].splitlines())
    assert "--moral-min-pass-rate=0.5" in done.stdout and "--moral-cache-dir=.moral-cache" in done.stdout
    # The plugin put the report in the job summary by itself.
    assert job.summary.read_text(encoding="utf-8").startswith("### ❌ Moral pairs failed: `moralpairs/lexical`")


def test_the_gate_step_passes_extra_arguments_and_uploads_only_the_reports_asked_for(
    project: Path, tmp_path: Path
) -> None:
    inputs = {"model": "moralpairs/lexical", "paths": "moral", "reports": "md, junit"}
    inputs["extra-args"] = "-k 'dog or waiter'"
    job = Job(project, tmp_path, **inputs)
    done = job.run("gate")
    assert done.returncode == 0, done.stdout[-3000:]
    out = job.outputs["gate"]
    assert out["exit-status"] == "0" and out["pass-rate"] == "1.0000"
    assert [Path(p).name for p in out["artifact-files"].splitlines()] == ["moral-report.md", "moral-junit.xml"]


def test_more_than_one_model_is_refused_before_anything_runs(project: Path, tmp_path: Path) -> None:
    job = Job(project, tmp_path, model="openai/gpt-4o-mini, moralpairs/lexical", paths="moral")
    done = job.run("gate")
    assert done.returncode == 4
    assert "::error::pytest-moralpairs rates one model per run, and the model input names 2" in done.stdout
    assert job.outputs["gate"] == {"exit-status": "4"}


def test_compare_last_on_the_first_run_is_left_out_with_a_notice_then_used(project: Path, tmp_path: Path) -> None:
    inputs = {"model": "moralpairs/lexical", "paths": "moral", "history": "moral-history", "compare": "last"}
    first = Job(project, tmp_path, **inputs).run("gate")
    assert "::notice::no run of moralpairs/lexical in the history moral-history yet" in first.stdout
    assert "--moral-compare" not in first.stdout.split("$ pytest", 1)[1].splitlines()[0]
    second = Job(project, tmp_path, **inputs, **{"compare-fail": "1"}).run("gate")
    assert "--moral-compare=last --moral-compare-fail=1" in second.stdout
    assert "compared with moral-history/runs/" in second.stdout


# --- the pull-request comment ---------------------------------------------------------------------


class FakeGitHub(ThreadingHTTPServer):
    """GitHub's issue-comment API as the comment script uses it: pages of ``per_page`` comments
    (at most ``page_size``) with a ``Link`` to the next, create, update; every request logged."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.page_size = 2
        self.fail: int | None = None
        self.next_id = 100

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, number: int, body: str) -> dict[str, Any]:
        self.next_id += 1
        comment = {"id": self.next_id, "body": body, "html_url": f"https://github.example/c/{self.next_id}"}
        self.comments.setdefault(number, []).append(comment)
        return comment


class _Handler(BaseHTTPRequestHandler):
    server: FakeGitHub

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((method, self.path, self.headers.get("Authorization")))
        if self.server.fail:
            return self._reply(self.server.fail, {"message": "Resource not accessible by integration"})
        if self.headers.get("Authorization") != "Bearer the-job-token":
            return self._reply(401, {"message": "Bad credentials"})
        url = urlparse(self.path)
        listing = re.fullmatch(r"/repos/octo/models/issues/(\d+)/comments", url.path)
        edit = re.fullmatch(r"/repos/octo/models/issues/comments/(\d+)", url.path)
        if method == "GET" and listing:
            query = parse_qs(url.query)
            size = min(int(query.get("per_page", ["30"])[0]), self.server.page_size)
            page = int(query.get("page", ["1"])[0])
            comments = self.server.comments.get(int(listing.group(1)), [])
            headers = {}
            if page * size < len(comments):
                headers["Link"] = f'<{self.server.url}{url.path}?per_page={size}&page={page + 1}>; rel="next"'
            return self._reply(200, comments[(page - 1) * size : page * size], headers)
        if method == "POST" and listing:
            return self._reply(201, self.server.add(int(listing.group(1)), payload["body"]))
        if method == "PATCH" and edit:
            for comment in (c for cs in self.server.comments.values() for c in cs):
                if comment["id"] == int(edit.group(1)):
                    comment["body"] = payload["body"]
                    return self._reply(200, comment)
        return self._reply(404, {"message": "Not Found"})

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


PULL_REQUEST = {"action": "synchronize", "number": 7, "pull_request": {"number": 7}}


def commented(
    tmp_path: Path, github: FakeGitHub, report: str, event: dict[str, Any] = PULL_REQUEST, **inputs: str
) -> Job:
    markdown = tmp_path / "moral-report.md"
    markdown.write_text(report, encoding="utf-8")
    job = Job(tmp_path, tmp_path, event, **inputs)
    job.outputs["gate"] = {"markdown-report": str(markdown)}
    done = job.run("comment", GITHUB_API_URL=github.url)
    assert done.returncode == 0, done.stderr
    job.stdout = done.stdout  # type: ignore[attr-defined]
    return job


def test_the_first_push_writes_a_comment_with_the_marker_the_report_and_the_runs_link(
    tmp_path: Path, github: FakeGitHub
) -> None:
    job = commented(tmp_path, github, "### ❌ Moral pairs failed: `m`\n")
    (comment,) = github.comments[7]
    assert comment["body"].splitlines()[:2] == ["<!-- pytest-moralpairs -->", "### ❌ Moral pairs failed: `m`"]
    assert "(https://github.example/octo/models/actions/runs/4242)" in comment["body"]
    assert [r[:2] for r in github.requests] == [
        ("GET", "/repos/octo/models/issues/7/comments?per_page=100"),
        ("POST", "/repos/octo/models/issues/7/comments"),
    ]
    assert all(auth == "Bearer the-job-token" for _, _, auth in github.requests)
    assert job.outputs["comment"] == {"comment-url": comment["html_url"]}


def test_later_pushes_update_that_comment_found_on_a_later_page_never_adding_one(
    tmp_path: Path, github: FakeGitHub
) -> None:
    for text in ("Looks good to me", "Please rebase", "Ping", "<!-- pytest-moralpairs:other -->\nanother run's"):
        github.add(7, text)
    commented(tmp_path, github, "first push\n")
    for text in ("More talk", "And more"):
        github.add(7, text)
    commented(tmp_path, github, "second push\n")
    job = commented(tmp_path, github, "third push\n")
    bodies = [c["body"] for c in github.comments[7]]
    ours = [b for b in bodies if b.startswith("<!-- pytest-moralpairs -->\n")]
    assert len(bodies) == 7 and len(ours) == 1
    assert ours[0].splitlines()[1] == "third push"
    assert bodies[3] == "<!-- pytest-moralpairs:other -->\nanother run's"  # another key's comment is left alone
    pages = [path for method, path, _ in github.requests[-5:] if method == "GET"]
    assert pages == [
        "/repos/octo/models/issues/7/comments?per_page=100",
        "/repos/octo/models/issues/7/comments?per_page=2&page=2",
        "/repos/octo/models/issues/7/comments?per_page=2&page=3",
        "/repos/octo/models/issues/7/comments?per_page=2&page=4",
    ]
    assert github.requests[-1][0] == "PATCH"
    assert "updated the moral-pair comment on pull request #7" in job.stdout  # type: ignore[attr-defined]


def test_a_comment_key_keeps_one_comment_per_model_of_a_matrix(tmp_path: Path, github: FakeGitHub) -> None:
    for model in ("openai/gpt-4o-mini", "moralpairs/lexical", "openai/gpt-4o-mini"):
        commented(tmp_path, github, f"report of {model}\n", **{"comment-key": model})
    assert sorted(c["body"].splitlines()[0] for c in github.comments[7]) == [
        "<!-- pytest-moralpairs:moralpairs/lexical -->",
        "<!-- pytest-moralpairs:openai/gpt-4o-mini -->",
    ]


def test_an_api_error_is_a_warning_and_fails_nothing(tmp_path: Path, github: FakeGitHub) -> None:
    github.fail = 403
    job = commented(tmp_path, github, "report\n")
    assert "::warning::could not comment on pull request #7: GET " in job.stdout  # type: ignore[attr-defined]
    assert "403 Resource not accessible by integration" in job.stdout  # type: ignore[attr-defined]
    assert job.outputs["comment"] == {}


def test_an_event_that_is_not_a_pull_request_writes_no_comment(tmp_path: Path, github: FakeGitHub) -> None:
    job = commented(tmp_path, github, "report\n", event={"ref": "refs/heads/main"})
    assert "::notice::not a pull request: no comment written" in job.stdout  # type: ignore[attr-defined]
    assert github.requests == []


def test_a_missing_report_is_a_warning_and_writes_no_comment(tmp_path: Path, github: FakeGitHub) -> None:
    job = Job(tmp_path, tmp_path, PULL_REQUEST)
    job.outputs["gate"] = {"markdown-report": str(tmp_path / "never-written.md")}
    done = job.run("comment", GITHUB_API_URL=github.url)
    assert done.returncode == 0 and "::warning::no Markdown report to comment with" in done.stdout
    assert github.requests == []


def test_the_whole_pull_request_run_rates_then_comments_with_its_report(
    project: Path, tmp_path: Path, github: FakeGitHub
) -> None:
    job = Job(project, tmp_path, PULL_REQUEST, model="moralpairs/lexical", paths="moral")
    assert job.run("keys").returncode == 0
    assert job.run("gate").returncode == 1
    done = job.run("comment", GITHUB_API_URL=github.url)
    assert done.returncode == 0, done.stderr
    (comment,) = github.comments[7]
    report = (project / "moral-reports" / "moral-report.md").read_text(encoding="utf-8")
    assert comment["body"].startswith("<!-- pytest-moralpairs -->\n" + report.rstrip())


# --- GitLab -----------------------------------------------------------------------------------------


def test_the_gitlab_template_keeps_the_junit_report_and_every_other_report() -> None:
    job = GITLAB[".moral-gate"]
    script = "\n".join(job["script"])
    junit = re.search(r"--junitxml=(\S+)", script).group(1)
    assert job["artifacts"]["reports"]["junit"] == junit
    assert job["artifacts"]["when"] == "always" and job["cache"]["when"] == "always"
    written = re.findall(r"--moral-report=\w+:(\S+)", script)
    assert [Path(p).suffix for p in written] == [".html", ".json", ".md"]
    assert all(any(p.startswith(folder) for folder in job["artifacts"]["paths"]) for p in [*written, junit])
    assert job["cache"]["paths"] == [job["variables"]["MORAL_CACHE_DIR"] + "/"]


def test_every_variable_of_the_gitlab_template_is_used() -> None:
    job = GITLAB[".moral-gate"]
    text = "\n".join(job["before_script"] + job["script"])
    assert [v for v in job["variables"] if f"${v}" not in text] == []


def test_the_gitlab_script_rates_and_fails_the_job_as_the_run_did(project: Path) -> None:
    job = GITLAB[".moral-gate"]
    env = {**os.environ, **{k: str(v) for k, v in job["variables"].items()}}
    env.update(
        MORAL_MODEL="moralpairs/lexical",
        MORAL_PATHS="moral/",
        MORAL_MIN_PASS_RATE="50%",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        CI="true",
    )
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        ["sh", "-e", "-c", "\n".join(job["script"])], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "suite gate: 3 of 5 rated pairs passed (60%), required 50%: PASSED" in done.stdout
    for path in ("moral-junit.xml", "moral-report.html", "moral-report.json", "moral-report.md"):
        assert (project / "moral-reports" / path).is_file()
