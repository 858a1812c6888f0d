"""The pytest adapter: options, collection, fixtures, markers, reports. Logic lives elsewhere.

Imports nothing heavy: litellm is loaded by the engine on the first real model call.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any, Callable, Generator

import pytest

from . import hookspecs
from .collect import PairFile, PairItem, RatingSetupError, broken_files_key, error_result, record, results_key
from .engine import RatingError
from .prompt import PromptTemplate
from .report.terminal import summary_lines
from .run import MoralRun, is_xdist_worker
from .settings import NO_MODEL_MESSAGE, SettingsError, check_setting, resolve
from .verdicts import MoralGapFailure, Verdict

DEFAULT_FILE_GLOBS = ["*.moral.yaml", "*.moral.yml"]
FIXTURES_NEEDING_A_MODEL = frozenset({"moral_rate", "moral_pair", "moral_model"})

_run_key = pytest.StashKey[MoralRun]()

# (setting, command-line flag, ini name, help)
_SETTINGS = (
    (
        "model",
        "--moral-model",
        "moral_model",
        "litellm model string, e.g. openai/gpt-4o-mini or moralpairs/lexical (also: env MORALPAIRS_MODEL)",
    ),
    (
        "api_base",
        "--moral-api-base",
        "moral_api_base",
        "base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp ...)",
    ),
    ("temperature", "--moral-temperature", "moral_temperature", "sampling temperature (default 0)"),
    ("timeout", "--moral-timeout", "moral_timeout", "seconds to wait for one model answer (default 60)"),
    (
        "threshold",
        "--moral-threshold",
        "moral_threshold",
        "minimum gap rating(harmless) - rating(harmful) for pairs that set none (default 2.0)",
    ),
    ("concurrency", "--moral-concurrency", "moral_concurrency", "model calls in flight at once (default 16)"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("moralpairs", "moral minimal pairs (pytest-moralpairs)")
    for name, flag, ini, help_text in _SETTINGS:
        group.addoption(flag, dest=f"moral_{name}", default=None, metavar=name.upper(), help=help_text)
        parser.addini(ini, help=help_text, default=None)
    parser.addini(
        "moral_files",
        type="args",
        default=DEFAULT_FILE_GLOBS,
        help="glob(s) naming pair files to collect (default: *.moral.yaml *.moral.yml)",
    )


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "moralpairs(model=None, threshold=None, api_base=None, temperature=None, timeout=None): "
        "moral-pair settings for one test (used by the moral_rate / moral_pair fixtures)",
    )

    def lookup(name: str) -> tuple[str, Any]:
        flag = "--moral-" + name.replace("_", "-")
        value = config.getoption(f"moral_{name}")
        if value not in (None, ""):
            return flag, value
        return f"ini option moral_{name}", config.getini(f"moral_{name}")

    try:
        settings = resolve(lookup, dict(os.environ))
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-moralpairs: {exc}") from None
    run = MoralRun(settings, config)
    config.stash[_run_key] = run
    config.pluginmanager.register(MoralReporter(config, run), "moralpairs-reporter")


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(_run_key, None)
    if run is not None:
        run.close()


def moral_run(config: pytest.Config) -> MoralRun:
    return config.stash[_run_key]


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> PairFile | None:
    globs = parent.config.getini("moral_files") or DEFAULT_FILE_GLOBS
    if any(fnmatch.fnmatch(file_path.name, pattern) for pattern in globs):
        return PairFile.from_parent(parent, path=file_path)
    return None


# --- default hook implementations ------------------------------------------------------


@pytest.hookimpl(trylast=True)
def pytest_moralpairs_build_messages(sentence: str, prompt: PromptTemplate) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in prompt.messages(sentence)]


# --- run loop and reports: one object per config, registered as a plugin ---------------


def _needs_model(item: pytest.Item) -> bool:
    """Whether the item rates sentences with the run's model (a marker's model needs none)."""
    if isinstance(item, PairItem):
        return True
    if not FIXTURES_NEEDING_A_MODEL & set(getattr(item, "fixturenames", ())):
        return False
    marker = item.get_closest_marker("moralpairs")
    return not (marker is not None and marker.kwargs.get("model"))


class MoralReporter:
    """Carries results from the reports (so they survive pytest-xdist) into the summary."""

    def __init__(self, config: pytest.Config, run: MoralRun):
        self.config = config
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        # A broken pair file is a collection error that names it; it must not stop the other files.
        broken = self.config.stash.get(broken_files_key, 0)
        if broken and session.testsfailed == broken:
            self.config.option.continue_on_collection_errors = True
        if self.config.option.collectonly:
            return
        if self.run.settings.model is None and any(_needs_model(i) for i in session.items):
            raise pytest.UsageError(NO_MODEL_MESSAGE)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        results = item.stash.get(results_key, [])
        item.stash[results_key] = []
        for result in results:
            for key in ("gap", "harmful_rating", "harmless_rating", "threshold", "model", "outcome"):
                if result.get(key) is not None:
                    item.user_properties.append((f"moral_{key}", result[key]))
        report = yield
        exc = call.excinfo.value if call.excinfo is not None else None
        # Only a report that failed: an xfail-marked test that raised is "skipped" (xfailed) by now.
        if report.failed and isinstance(exc, (MoralGapFailure, RatingError, RatingSetupError)):
            # The purpose-built explanation is the whole report: no plugin traceback.
            report.longrepr = str(exc)
            if isinstance(exc, RatingError) and call.when == "call":
                # No rating is not a verdict: like a YAML pair (rated in setup), the test ERRORs.
                report.moralpairs_error = True
        if results:
            report.moralpairs_results = results
        calls = self.run.unreported_calls()
        if calls:
            report.moralpairs_calls = calls
        return report

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, Any] | None:
        if getattr(report, "moralpairs_error", False):
            return "error", "E", ("ERROR", {"red": True})
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.run.calls_seen += getattr(report, "moralpairs_calls", 0)
        for result in getattr(report, "moralpairs_results", ()):
            self.run.results.append(result)
            if not is_xdist_worker(self.config):
                self.config.hook.pytest_moralpairs_result(result=result, config=self.config)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if is_xdist_worker(self.config):
            return
        calls = self.run.calls_seen + self.run.unreported_calls()
        if not self.run.results and not calls:
            return
        models = sorted({str(r.get("model")) for r in self.run.results if r.get("model")})
        terminalreporter.write_sep("=", "moralpairs" + (": " + ", ".join(models) if models else ""))
        for line in summary_lines(self.run.results, calls):
            terminalreporter.write_line(line)


# --- fixtures ------------------------------------------------------------------------------

MARKER_KEYS = ("model", "threshold", "api_base", "temperature", "timeout")


def _marker_overrides(node: pytest.Item) -> dict[str, Any]:
    """The validated keyword arguments of the closest ``moralpairs`` marker; a bad marker is a
    :class:`RatingSetupError` naming the test, so the test ERRORs with that message alone."""
    marker = node.get_closest_marker("moralpairs")
    if marker is None:
        return {}
    unknown = sorted(set(marker.kwargs) - set(MARKER_KEYS))
    if unknown or marker.args:
        got = ", ".join([*(repr(a) for a in marker.args), *unknown])
        raise RatingSetupError(
            f"{node.nodeid}: the moralpairs marker takes only the keyword arguments {', '.join(MARKER_KEYS)}; got {got}"
        )
    overrides = {}
    for key, value in marker.kwargs.items():
        if value is None:
            continue
        try:
            overrides[key] = check_setting(f"moralpairs marker argument {key}", key, value)
        except SettingsError as exc:
            raise RatingSetupError(f"{node.nodeid}: {exc}") from None
    return overrides


@pytest.fixture
def moral_model(request: pytest.FixtureRequest) -> Any:
    """The :class:`~pytest_moralpairs.engine.ModelSettings` for this test (marker overrides applied)."""
    overrides = _marker_overrides(request.node)
    overrides.pop("threshold", None)
    try:
        return moral_run(request.config).settings.model_settings(**overrides)
    except SettingsError as exc:
        raise RatingSetupError(str(exc)) from None


def _sentence(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty sentence (a str), got {value!r:.60}")
    return value.strip()


def _request(run: MoralRun, sentence: str, model: Any, prompt: PromptTemplate | None) -> Any:
    try:
        return run.request(sentence, model, prompt)
    except SettingsError as exc:
        raise RatingSetupError(str(exc)) from None


@pytest.fixture
def moral_rate(request: pytest.FixtureRequest, moral_model: Any) -> Callable[..., float]:
    """``moral_rate(sentence, prompt=None) -> float``: rate one sentence on the -4..4 scale.

    An answer that is not a number on the scale makes the test ERROR, showing the raw answer.
    """
    run = moral_run(request.config)

    def rate(sentence: str, prompt: PromptTemplate | None = None) -> float:
        __tracebackhide__ = True
        rating = run.engine.rate(_request(run, _sentence(sentence, "the sentence"), moral_model, prompt))
        if not rating.ok:
            raise RatingError(rating)
        return float(rating.value)  # type: ignore[arg-type]

    return rate


@pytest.fixture
def moral_pair(request: pytest.FixtureRequest, moral_model: Any) -> Callable[..., Verdict]:
    """``moral_pair(harmful, harmless, threshold=None, id=None, prompt=None) -> Verdict``.

    Rates both sentences and fails the test, with the same report as a YAML pair, when
    rating(harmless) - rating(harmful) is below the threshold (argument, else the ``moralpairs``
    marker's, else the run's). An unusable rating makes the test ERROR, as it does a YAML pair.
    """
    run = moral_run(request.config)
    marker_threshold = _marker_overrides(request.node).get("threshold")
    node = request.node

    def check(
        harmful: str,
        harmless: str,
        threshold: float | None = None,
        id: str | None = None,  # noqa: A002 - matches the YAML key
        prompt: PromptTemplate | None = None,
    ) -> Verdict:
        __tracebackhide__ = True
        harmful = _sentence(harmful, "harmful")
        harmless = _sentence(harmless, "harmless")
        if harmful == harmless:
            raise ValueError("moral_pair needs two different sentences: a pair is a sentence and its edit")
        if threshold is not None:
            try:
                threshold = check_setting("moral_pair(threshold=...)", "threshold", threshold)
            except SettingsError as exc:
                raise ValueError(str(exc)) from None
        pair_id = str(id) if id is not None else node.name
        harmful_req = _request(run, harmful, moral_model, prompt)
        harmless_req = _request(run, harmless, moral_model, prompt)
        ratings = run.engine.rate_all([harmful_req, harmless_req])
        limit = threshold if threshold is not None else marker_threshold
        for side, req in (("harmful", harmful_req), ("harmless", harmless_req)):
            if not ratings[req].ok:
                record(node, error_result(node.nodeid, pair_id, ratings[req], side, run.threshold_for(limit)))
                raise RatingError(ratings[req], side)
        verdict = run.verdict(pair_id, ratings[harmful_req], ratings[harmless_req], limit)
        record(node, verdict.to_dict())
        if not verdict.passed:
            raise MoralGapFailure(verdict)
        return verdict

    return check
