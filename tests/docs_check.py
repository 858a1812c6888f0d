"""Checks the fenced blocks of README.md and docs/*.md against real runs (used by test_docs.py).

The convention, by the block's language and the HTML comment on the line before it (invisible
on GitHub and on the built site):

``sh``
    Commands. A page's ``sh`` blocks run in order, in one project folder per page that holds a
    copy of ``examples/``, a ``moral/`` folder with two of its pair files and its persona files, and whatever ``file:``
    blocks the page showed before. ``pytest ...`` is a user's run in that folder:
    ``moralpairs/lexical`` runs for real, ``openai/...`` runs for real against a local
    OpenAI-compatible server (``--moral-api-base`` pointed at it), any other provider runs as
    ``pytest --co`` with the same options. ``.venv/bin/pytest examples`` runs the examples for
    real; ``.venv/bin/pytest`` with other arguments is the project's own test suite, collected
    (``--co``) in the repository. ``python -m pytest_moralpairs ...`` runs for real in the
    project and must exit 0. A few set-up commands are recognised and checked for what they
    name (pip extras, files). Any other command fails the check.
``text``
    Output. ``<!-- output: pytest ARGS -->`` names the run that prints it (in a fresh project, as
    above); ``<!-- output: scenario NAME -->`` names a run of ``docs_scenarios.py``. Every line
    must appear in that run's output, consecutive lines consecutively; a line ``...`` skips any
    number of lines, and ``*`` in a line matches anything. ``<!-- output: PATH after pytest ARGS -->``
    names a file that run writes: the block's lines must be in that file instead. ``<!-- diagram -->`` marks a text
    drawing, ``<!-- layout -->`` the tree of the package (every path in it must exist, and every
    module of the package must be in it).
``csv``
    A file (``<!-- file: PATH -->``: written, and every row as wide as the header) or a file a run
    writes (``<!-- output: PATH after pytest ARGS -->``, as for ``text``).
``json``
    A file (``<!-- file: PATH -->``): written, and ``*.jsonl`` must be one JSON value a line,
    ``*.json`` one JSON document.
``yaml``, ``python``, ``ini``
    Files. ``<!-- file: PATH -->`` writes the block to PATH in the page's project and checks it
    by its name: ``*.moral.yaml`` is loaded as a pair file, ``*.personas.yaml`` as a persona file,
    ``suite.yaml`` as a suite's manifest, other ``.yaml`` as a lexicon, ``test_*.py`` is run with
    pytest on the offline model,
    ``conftest.py`` must load with the plugin disabled too, ``pytest.ini`` may name only options
    that exist, a ``.yml`` workflow must parse. Without a marker a ``yaml`` block is a whole pair
    file and a ``python`` block a script run in the page's project. ``<!-- fragment -->`` marks a
    part of a file: it must only parse.

Every run sets ``CI=true``, so generated pairs draw the same examples each time, as in CI.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import csv
import fnmatch
import functools
import importlib.util
import io
import json
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
#: The pair files a page's ``moral/`` folder holds: what ``pytest moral/`` rates in the docs.
MORAL_FILES = ("everyday.moral.yaml", "pony.moral.yaml")
PAGES = ("README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")))
#: Exit statuses of a real run that rated pairs: every pair passed, or some failed.
RAN = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^<!--\s*(?P<text>.*?)\s*-->$")


class DocCheckFailed(AssertionError):
    """A block of a page does not hold: the message names the page, the line and what differs."""


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, counting from 1
    lang: str
    text: str
    marker: str  # the HTML comment on the line before, without <!-- -->; "" when none

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    def fail(self, message: str) -> DocCheckFailed:
        return DocCheckFailed(f"{self.where} ({self.lang} block): {message}")


def blocks(path: Path, name: str | None = None) -> list[Block]:
    """Every fenced block of a Markdown page, with the marker before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        body, j = [], i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        before = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
        marker = _MARKER.match(before)
        info = opening["info"].strip()
        found.append(
            Block(
                page=name or path.name,
                line=i + 1,
                lang=info.split()[0] if info else "",
                text="\n".join(body) + "\n",
                marker=marker["text"] if marker else "",
            )
        )
        i = j + 1
    return found


def all_blocks() -> list[Block]:
    return [b for page in PAGES for b in blocks(REPO / page, page)]


# --- output -------------------------------------------------------------------------------------


def _pattern(line: str) -> str:
    """A shown line as an fnmatch pattern in which only ``*`` is special (pair ids hold ``[...]``)."""
    return "".join({"[": "[[]", "?": "[?]"}.get(c, c) for c in line)


def unmatched(shown: str, printed: str) -> str | None:
    """None when ``shown`` appears in ``printed`` (see the module docstring); else what is missing."""
    if not shown.strip():
        return "the block is empty: copy the lines to show from the run's output below"
    out = [line.rstrip() for line in printed.splitlines() if line.strip()]
    segments: list[list[str]] = [[]]
    for line in shown.splitlines():
        if line.strip() == "...":
            segments.append([])
        elif line.strip():
            segments[-1].append(line.rstrip())
    position = 0
    for segment in filter(None, segments):
        patterns = [_pattern(line) for line in segment]
        for start in range(position, len(out) - len(segment) + 1):
            if all(fnmatch.fnmatchcase(out[start + k], p) for k, p in enumerate(patterns)):
                position = start + len(segment)
                break
        else:
            # Name the first line of the segment that is not where it should be.
            for k, line in enumerate(segment):
                if not any(
                    fnmatch.fnmatchcase(out[s + k], patterns[k])
                    and all(fnmatch.fnmatchcase(out[s + m], patterns[m]) for m in range(k))
                    for s in range(position, len(out) - k)
                ):
                    return f"this line is not in the run's output where the block puts it:\n    {line}"
            return "these lines are not in the run's output in this order:\n    " + "\n    ".join(segment)
    return None


# --- the project a page runs in -------------------------------------------------------------------


def make_project(folder: Path) -> None:
    """``examples/`` and ``moral/`` as every page's commands expect them."""
    shutil.copytree(EXAMPLES, folder / "examples", ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (folder / "moral").mkdir(exist_ok=True)
    for name in MORAL_FILES:
        shutil.copy(EXAMPLES / name, folder / "moral" / name)
    shutil.copytree(EXAMPLES / "personas", folder / "moral" / "personas")


def lexical_server_rule(sentence: str, body: dict) -> Any:
    """The local server answers as the offline model would, log-probabilities included."""
    from pytest_moralpairs.providers.lexical import lexical_rating
    from tests.openai_server import Reply

    return Reply.with_logprobs({str(lexical_rating(sentence)): 1.0})


@dataclass
class Runner:
    """Runs a page's commands the way the module docstring says, in ``pytester.path``."""

    pytester: pytest.Pytester
    server: Any  # tests.openai_server.OpenAIServer
    monkeypatch: pytest.MonkeyPatch

    def pytest_run(self, args: list[str], env: dict[str, str], where: str) -> pytest.RunResult:
        """A user's ``pytest ARGS``: for real, against the local server, or collected only."""
        args = _no_workers(args)
        model = _option(args, "--moral-model") or env.get("MORALPAIRS_MODEL")
        if model is None and any(a.startswith("examples") for a in args):
            model = "moralpairs/lexical"  # examples/pytest.ini
        collect_only = not (model is None or model.startswith(("moralpairs/", "openai/")))
        if model and model.startswith("openai/"):
            args = [*_without(args, "--moral-api-base"), f"--moral-api-base={self.server.url}"]
        if collect_only and "--help" not in args:
            args = ["--co", *args]
        with self.monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            result = self.pytester.runpytest(*args)
        wanted = (pytest.ExitCode.OK,) if collect_only or "--help" in args or "--co" in args else RAN
        if result.ret not in wanted or "INTERNALERROR" in result.stdout.str():
            statuses = " or ".join(str(int(w)) for w in wanted)
            raise DocCheckFailed(
                f"{where}: `pytest {shlex.join(args)}` exited {int(result.ret)} (wanted {statuses})\n{_tail(result)}"
            )
        return result

    def command(self, command: list[str], where: str) -> None:
        """One command of an ``sh`` block (no ``&&``), checked by what it is."""
        env = {}
        while command and re.match(r"^[A-Z_][A-Z0-9_]*=", command[0]):
            name, _, value = command.pop(0).partition("=")
            env[name] = value
        program, args = command[0], command[1:]
        if program == "pytest":
            self.pytest_run(args, env, where)
        elif program == ".venv/bin/pytest":
            if args and args[0].split("/")[0] == "examples":  # the examples, run as a user would
                self.pytest_run(args, env, where)
            else:
                own_tests(args, where)
        elif command[:3] == ["python3", "-m", "venv"]:
            pass  # the standard library's; nothing of this project to check
        elif program.endswith("pip") and args[:1] == ["install"]:
            pip_install(args[1:], where)
        elif program.endswith("mkdocs") and args[:1] in (["build"], ["serve"]):
            if not (REPO / "mkdocs.yml").is_file():
                raise DocCheckFailed(f"{where}: mkdocs {args[0]}, but there is no mkdocs.yml")
        elif program == "cp" and len(args) == 2:
            source = self.pytester.path / args[0]
            if not source.is_file():
                raise DocCheckFailed(f"{where}: cp {args[0]}: no such file in the page's project")
            shutil.copy(source, self.pytester.path / args[1])
        elif program in ("python", "python3") and args[:2] == ["-m", "pytest_moralpairs"]:
            self.module_command(args[2:], where)
        elif command[:1] == ["bash"] or program.startswith(("python", ".venv/bin/python")):
            script = next((a for a in args if not a.startswith("-")), "")
            if not (REPO / script).is_file():
                raise DocCheckFailed(f"{where}: `{shlex.join(command)}` names {script}, which does not exist")
        else:
            raise DocCheckFailed(f"{where}: no check knows the command `{shlex.join(command)}`")

    def module_command(self, args: list[str], where: str) -> str:
        """``python -m pytest_moralpairs ARGS``, run for real in the project folder: it must exit 0."""
        done = subprocess.run(
            [sys.executable, "-m", "pytest_moralpairs", *args],
            cwd=self.pytester.path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            command = shlex.join(["python", "-m", "pytest_moralpairs", *args])
            printed = done.stdout[-2000:] + done.stderr[-2000:]
            raise DocCheckFailed(f"{where}: `{command}` exited {done.returncode}\n{printed}")
        return done.stdout

    def script(self, block: Block) -> None:
        """Run a Python block as a script in the project folder (what it prints is not shown)."""
        with self.monkeypatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
            patch.chdir(self.pytester.path)
            try:
                runpy.run_path(str(self._write(block, f"doc_script_{block.line}.py")), run_name="__main__")
            except Exception as exc:
                raise block.fail(f"the script raised {type(exc).__name__}: {exc}") from exc

    def _write(self, block: Block, path: str) -> Path:
        target = self.pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text, encoding="utf-8")
        return target

    def file(self, block: Block, path: str) -> None:
        """Write a ``file:`` block into the project and check it by its name."""
        from pytest_moralpairs.pairs import PairFileError, load_suite
        from pytest_moralpairs.personas.files import PersonaFileError, load_personas
        from pytest_moralpairs.perturb.lexicon import LexiconFileError, load_lexicon
        from pytest_moralpairs.profiles import load_profiles
        from pytest_moralpairs.suites.sources import read_manifest

        target = self._write(block, path)
        name = target.name
        try:
            if re.search(r"\.moral\.ya?ml$", name):
                load_suite(target)
            elif re.search(r"\.personas\.ya?ml$", name):
                load_personas(target)
            elif name == "suite.yaml":
                read_manifest(target)
            elif name == "models.yaml" or name.endswith(".models.yaml"):
                load_profiles(target)
            elif name.endswith(".yaml"):
                load_lexicon(target)
            elif name.endswith(".yml"):
                yaml.safe_load(block.text)
            elif name == "pytest.ini":
                ini_options(block)
            elif name.endswith(".csv"):
                table(block)
            elif name.endswith((".json", ".jsonl")):
                json_file(block, lines=name.endswith(".jsonl"))
            elif name == "conftest.py":
                for args in (["--co", "-p", "no:moralpairs"], ["--co"]):
                    result = self.pytester.runpytest(*args)
                    if result.ret not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
                        command = f"pytest {shlex.join(args)}"
                        raise block.fail(f"`{command}` with this conftest exited {int(result.ret)}\n{_tail(result)}")
            elif name.startswith("test_") and name.endswith(".py"):
                result = self.pytest_run([path, "--moral-model=moralpairs/lexical"], {}, block.where)
                if result.parseoutcomes().get("errors") or result.parseoutcomes().get("error"):
                    raise block.fail(f"the test module has errors\n{_tail(result)}")
            else:
                raise block.fail(f"no check knows a file named {name}")
        except (PairFileError, PersonaFileError, LexiconFileError, yaml.YAMLError) as exc:
            raise block.fail(f"{path} is not valid: {exc}") from exc


def _tail(result: pytest.RunResult, lines: int = 40) -> str:
    return "\n".join((result.stdout.lines + result.stderr.lines)[-lines:])


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return None


def _without(args: list[str], name: str) -> list[str]:
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            kept.append(arg)
    return kept


def _no_workers(args: list[str]) -> list[str]:
    """``-n N`` as ``-n 0``: the option is checked (pytest-xdist must know it), the run stays in
    this process, where pytester can read it."""
    out = list(args)
    for i, arg in enumerate(out):
        if arg == "-n" and i + 1 < len(out):
            out[i + 1] = "0"
        elif re.fullmatch(r"-n\d+", arg):
            out[i] = "-n0"
    return out


_collected: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}


def own_tests(args: list[str], where: str) -> None:
    """The project's own test command: collected in the repository (running it would run this).
    ``-q`` and ``-n N`` change how it runs, not what: ``-n`` needs only pytest-xdist installed."""
    if any(a == "-n" or re.fullmatch(r"-n\d+", a) for a in args) and importlib.util.find_spec("xdist") is None:
        raise DocCheckFailed(f"{where}: -n needs pytest-xdist, which the test extra should install")
    args = [a for a in _without(args, "-n") if a != "-q" and not re.fullmatch(r"-n\d+", a)]
    if tuple(args) not in _collected:
        _collected[tuple(args)] = _collect_own_tests(args)
    done = _collected[tuple(args)]
    if done.returncode != 0:
        command = f"pytest --co {shlex.join(args)}"
        raise DocCheckFailed(
            f"{where}: `{command}` in the repository exited {done.returncode}\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )


def _collect_own_tests(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def pip_install(args: list[str], where: str) -> None:
    """``pip install -e ".[extras]"`` names extras that exist; ``pip install NAME`` this project."""
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    extras_known = set(re.findall(r"^([\w-]+)\s*=", section, re.MULTILINE))
    name = re.search(r'^name\s*=\s*"([^"]+)"', pyproject, re.MULTILINE)[1]  # type: ignore[index]
    for arg in args:
        if arg.startswith("-"):
            continue
        extras = re.fullmatch(r"\.(?:\[(?P<extras>[\w,-]+)\])?", arg)
        if extras:
            missing = set((extras["extras"] or "").split(",")) - extras_known - {""}
            if missing:
                lacking = ", ".join(sorted(missing))
                raise DocCheckFailed(f"{where}: pip install names extras pyproject.toml lacks: {lacking}")
        elif arg.split("[")[0] not in (name, "pytest-xdist"):
            raise DocCheckFailed(f"{where}: pip install {arg}: not this project")


@functools.lru_cache(maxsize=1)
def pytest_help() -> str:
    """What ``pytest --help`` prints, with this plugin loaded (run once per test session)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return done.stdout


def known_ini_options() -> frozenset[str]:
    """The plugin's ini options, as ``pytest --help`` lists them (so a new one needs no list here)."""
    return frozenset(re.findall(r"^  (moral_\w+) ", pytest_help(), flags=re.M))


def ini_options(block: Block) -> None:
    known = known_ini_options()
    assert "moral_model" in known, "pytest --help lists no moral_* ini option"
    parser = configparser.ConfigParser()
    parser.read_string(block.text)
    for key in parser["pytest"] if parser.has_section("pytest") else ():
        if key.startswith("moral_") and key not in known:
            raise block.fail(f"the ini option {key} does not exist")


def commands(block: Block) -> Iterator[tuple[str, list[str]]]:
    """Each command of an ``sh`` block with where it is: continuation lines joined, comments
    dropped, ``&&`` split."""
    pending, first = "", 0
    for number, line in enumerate(block.text.splitlines(), start=block.line + 1):
        if not pending:
            first = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        words, pending = shlex.split(pending + line, comments=True), ""
        command: list[str] = []
        for word in [*words, "&&"]:
            if word != "&&":
                command.append(word)
            elif command:
                yield f"{block.page}:{first}", command
                command = []


def check_page(page: list[Block], runner: Runner) -> None:
    """Run a page's commands, scripts and files in order, in one project folder."""
    for block in page:
        kind = classify(block)
        if kind == "commands":
            for where, command in commands(block):
                runner.command(command, where)
        elif kind == "script":
            runner.script(block)
        elif kind.startswith("file:"):
            runner.file(block, kind[len("file:") :])
        elif kind == "pair file":
            from pytest_moralpairs.pairs import PairFileError, parse_suite

            try:
                parse_suite(block.text, path=block.where, base_dir=runner.pytester.path / "examples")
            except PairFileError as exc:
                raise block.fail(f"not a valid pair file: {exc}") from exc
        elif kind == "fragment":
            fragment(block)
        elif kind == "layout":
            layout(block)


def classify(block: Block) -> str:
    """What a block is, by the convention of the module docstring; a block no rule covers fails."""
    marker = block.marker
    if marker.startswith("file:"):
        if block.lang not in ("yaml", "python", "ini", "csv", "json"):
            raise block.fail("only yaml, python, ini, csv and json blocks can be files")
        return "file:" + marker[len("file:") :].strip()
    if marker == "fragment" and block.lang in ("yaml", "python", "ini"):
        return "fragment"
    if block.lang == "sh" and not marker:
        return "commands"
    if block.lang == "csv" and marker.startswith("output:"):
        return "output"  # a file the run writes
    if block.lang == "text":
        if marker.startswith("output:"):
            return "output"
        if marker in ("diagram", "layout"):
            return marker
        raise block.fail(
            "a text block is output and needs <!-- output: pytest ARGS --> or <!-- output: scenario NAME -->"
        )
    if block.lang == "yaml" and not marker:
        return "pair file"
    if block.lang == "python" and not marker:
        return "script"
    raise block.fail(f"no rule of the docs convention covers a {block.lang or 'plain'} block marked {marker!r}")


def table(block: Block) -> None:
    """A CSV file: every row as wide as its header."""
    rows = list(csv.reader(io.StringIO(block.text)))
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) != len(rows[0]):
            raise block.fail(f"row {number} has {len(row)} cells, the header {len(rows[0])}")


def json_file(block: Block, lines: bool) -> None:
    """A JSON file: one document, or (JSON Lines) one value on each line that is not blank."""
    documents = [line for line in block.text.splitlines() if line.strip()] if lines else [block.text]
    for number, document in enumerate(documents, start=1):
        try:
            json.loads(document)
        except ValueError as exc:
            raise block.fail(f"{'line ' + str(number) if lines else 'the file'} is not JSON: {exc}") from exc


def fragment(block: Block) -> None:
    try:
        if block.lang == "yaml":
            yaml.safe_load(block.text)
        elif block.lang == "python":
            ast.parse(block.text)
        else:
            configparser.ConfigParser().read_string(block.text)
    except (yaml.YAMLError, SyntaxError, configparser.Error) as exc:
        raise block.fail(f"does not parse: {exc}") from exc


def layout(block: Block) -> None:
    """Every path the tree names exists, and every module of the package is named (itself, or
    the subpackage holding it)."""
    named, top = set(), ""
    for line in block.text.splitlines():
        entry = re.match(r"^(?P<indent> *)(?P<name>[\w.-]+/|[\w.-]+\.py)(?:\s|$)", line)
        if not entry or len(entry["indent"]) > 4:  # not an entry, or a description's next line
            continue
        name = entry["name"]
        if not entry["indent"]:
            path, top = name, (name if name.endswith("/") else "")
        else:
            path = top + name
        if not (REPO / path).exists():
            raise block.fail(f"the layout names {path}, which does not exist")
        named.add(path.rstrip("/"))
    package = REPO / "pytest_moralpairs"
    for module in sorted(package.rglob("*.py")):
        relative = module.relative_to(REPO).as_posix()
        folder = relative.rsplit("/", 1)[0]
        in_named_subpackage = folder in named and folder != package.name
        if relative == "pytest_moralpairs/__init__.py" or relative in named or in_named_subpackage:
            continue
        raise block.fail(f"the layout does not name {relative}: say which concern lives there")


# --- what produced an output block ---------------------------------------------------------------


def producer(block: Block) -> str:
    return block.marker[len("output:") :].strip()


def earlier_files(block: Block) -> list[Block]:
    """The ``file:`` blocks of the block's page above it: a reader has them when they reach it."""
    page = blocks(REPO / block.page, block.page)
    return [b for b in page if b.line < block.line and b.marker.startswith("file:")]


def run_producer(
    name: str, runner: Runner, scenarios: dict[str, Callable[..., Any]], files: tuple[Block, ...] = ()
) -> str:
    """The output of the run an output block names, in a fresh project (holding ``files``)."""
    if name.startswith("scenario "):
        scenario = scenarios.get(name[len("scenario ") :].strip())
        if scenario is None:
            raise DocCheckFailed(f"no {name!r} in tests/docs_scenarios.py")
        return scenario(runner.pytester, runner.server)
    words = shlex.split(name)
    written = words[0] if words[1:2] == ["after"] else None
    if written is not None:  # "PATH after pytest ARGS": the file the run writes is the output
        words = words[2:]
    if words[:1] not in (["pytest"], [".venv/bin/pytest"]):
        raise DocCheckFailed(f"an output block names {name!r}: neither `pytest ARGS` nor `scenario NAME`")
    make_project(runner.pytester.path)
    for block in files:
        runner._write(block, block.marker[len("file:") :].strip())
    printed = runner.pytest_run(words[1:], {}, name).stdout.str()
    if written is None:
        return printed
    if not (runner.pytester.path / written).is_file():
        raise DocCheckFailed(f"`{shlex.join(words)}` wrote no {written}")
    return (runner.pytester.path / written).read_text(encoding="utf-8")
