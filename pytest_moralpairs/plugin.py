"""The pytest adapter: options, hooks, fixtures, the marker. Logic lives elsewhere.

What each option is (flag, ini name, help) is in settings.py, the summary's lines in
report/terminal.py, collection in collect.py, and what is kept on pytest's config in stash.py.
Imports nothing heavy: litellm is loaded by the engine on the first real model call.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import copy
import fnmatch
import os
from typing import Any, Callable, Generator

import pytest

from . import hookspecs
from .collect import (
    MoralItem,
    PairFile,
    PairItem,
    RatingSetupError,
    judge_and_record,
    own_errors,
    prefetchable,
    record_error,
)
from .prompt import PromptTemplate, as_prompt
from .report.progress import ProgressLine
from .request import Usage
from .run import MoralRun, hook_errors, hook_raised, is_xdist_worker
from .settings import (
    DEFAULT_FILE_GLOBS,
    FILES_INI_HELP,
    LEXICON_INI_HELP,
    MARKER_HELP,
    NO_MODEL_MESSAGE,
    OPTIONS,
    REPLAY,
    REPORT,
    SamplingWarning,  # noqa: F401 - still importable from here, as warning filters may name it
    SettingsError,
    SettingsWarning,
    check_setting,
    flag,
    ini_name,
    marker_overrides,
    resolve,
    setting_warnings,
    unusable_cache_dir,
)
from .stash import broken_files_key, moral_run, results_key, run_key
from .stats import INCONCLUSIVE, mean, pass_rate
from .verdicts import Verdict

FIXTURES_NEEDING_A_MODEL = frozenset({"moral_rate", "moral_pair", "moral_model"})

#: Exit status when no pair failed but some could not be rated (call failures, unusable answers,
#: replay misses, the cost limit): the gate could not decide, which is not a moral failure.
# Not 6: pytest 9.2 took that for --max-warnings (ExitCode.MAX_WARNINGS_ERROR); a gate must
# tell the two apart. Kept well above pytest's own codes, which grow one at a time.
EXIT_RATING_ERRORS = 10


#: Result fields written as JUnit XML properties (``moral_<name>``) of each pair's test case.
JUNIT_PROPERTIES = (
    "gap",
    "harmful_rating",
    "harmless_rating",
    "threshold",
    "model",
    "outcome",
    "gap_low",
    "gap_high",
    "samples",
    "human_gap",
    "gap_change",
    "persona_outcome",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("moralpairs", "moral minimal pairs (pytest-moralpairs)")
    for option in OPTIONS:
        dest = f"moral_{option.name}"
        group.addoption(option.flag, dest=dest, default=None, metavar=option.metavar, help=option.help)
        parser.addini(option.ini, help=option.help, default=None)
    group.addoption(REPLAY.flag, dest="moral_replay", action="store_const", const=True, default=None, help=REPLAY.help)
    # Read as text: settings.resolve names the option in its error and reads an empty value as unset.
    parser.addini(REPLAY.ini, help=REPLAY.ini_help or REPLAY.help, default=None)
    group.addoption(
        REPORT.flag, dest="moral_report", action="append", default=[], metavar=REPORT.metavar, help=REPORT.help
    )
    parser.addini(REPORT.ini, type="args", default=[], help=REPORT.ini_help or REPORT.help)
    parser.addini("moral_files", type="args", default=DEFAULT_FILE_GLOBS, help=FILES_INI_HELP)
    parser.addini("moral_lexicon", type="paths", default=[], help=LEXICON_INI_HELP)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)

    def lookup(name: str) -> tuple[str, Any]:
        value = config.getoption(f"moral_{name}")
        if value not in (None, "", []):  # [] : --moral-report not given
            return flag(name), value
        return f"ini option {ini_name(name)}", config.getini(ini_name(name))

    try:
        settings = resolve(lookup, dict(os.environ))
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-moralpairs: {exc}") from None

    def pytest_cache_dir() -> Any:
        cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
        return cache.mkdir("moralpairs") if cache is not None else None

    for warning in setting_warnings(settings):
        _warn(config, warning)
    problem = unusable_cache_dir(settings)
    if problem:
        raise pytest.UsageError(f"pytest-moralpairs: {problem}")
    run = MoralRun(settings, config, cache_dir=pytest_cache_dir)
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        run.share = (int(str(worker.get("workerid", "gw0"))[2:] or 0), int(worker.get("workercount", 1)))
        run.shared_folder = worker.get("moralpairs_shared")
    if settings.compare:
        from .report.document import DocumentError

        try:
            run.load_previous()  # now: a bad file stops the run before it starts
        except DocumentError as exc:
            raise pytest.UsageError(f"pytest-moralpairs: --moral-compare: {exc}") from None
    config.stash[run_key] = run
    config.pluginmanager.register(MoralReporter(config, run), "moralpairs-reporter")


def _warn(config: pytest.Config, warning: SettingsWarning) -> None:
    try:
        config.issue_config_time_warning(warning, stacklevel=3)
    except SettingsWarning:
        # ``-W error`` made it an error: a usage error that says so, not an INTERNALERROR.
        name = type(warning).__name__
        raise pytest.UsageError(
            f"pytest-moralpairs: {warning} (a {name}, turned into an error by the warning filters)"
        ) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(run_key, None)
    if run is not None:
        run.close()


def pytest_report_header(config: pytest.Config) -> str | None:
    run = config.stash.get(run_key, None)
    if run is None or not run.settings.model:
        return None
    generation = "derandomised (CI)" if run.derandomize else f"--moral-seed={run.seed}"
    return f"moral pairs: model {run.settings.model}, generated pairs {generation}"


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> PairFile | None:
    globs = parent.config.getini("moral_files") or DEFAULT_FILE_GLOBS
    if any(fnmatch.fnmatch(file_path.name, pattern) for pattern in globs):
        return PairFile.from_parent(parent, path=file_path)
    return None


# --- run loop and reports: one object per config, registered as a plugin ---------------


def _needs_model(item: pytest.Item) -> bool:
    """Whether the item rates sentences with the run's model (a marker's model needs none)."""
    if isinstance(item, MoralItem):
        return True
    if not FIXTURES_NEEDING_A_MODEL & set(getattr(item, "fixturenames", ())):
        return False
    marker = item.get_closest_marker("moralpairs")
    return not (marker is not None and marker.kwargs.get("model"))


class MoralReporter:
    """Prefetches the ratings, and carries results from the reports (so they survive
    pytest-xdist) into the summary and the exit status."""

    def __init__(self, config: pytest.Config, run: MoralRun):
        self.config = config
        self.run = run
        self.session: pytest.Session | None = None
        self.other_failures = 0
        self.verdict_failures = 0
        #: The suite gate (``stats.pass_rate``), decided when the session finishes.
        self.gate: dict[str, Any] | None = None
        #: One line per report written (or not: ``failed``), for the summary.
        self.written: list[tuple[str, bool]] = []
        #: What went wrong in the users' ``pytest_moralpairs_result`` hooks, for the summary.
        self.hook_errors: list[str] = []

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        # A broken pair file is a collection error that names it; it must not stop the other files.
        broken = self.config.stash.get(broken_files_key, 0)
        if broken and session.testsfailed == broken:
            self.config.option.continue_on_collection_errors = True
        if self.config.option.collectonly:
            return
        if session.testsfailed and not self.config.option.continue_on_collection_errors:
            return  # pytest's own loop stops the run for the collection errors: rate nothing first
        if self.run.settings.model is None and any(_needs_model(i) for i in session.items):
            raise pytest.UsageError(NO_MODEL_MESSAGE)
        pairs = [i for i in session.items if isinstance(i, PairItem)]
        if pairs and self.run.settings.model is not None:
            self._prefetch(pairs)

    def _prefetch(self, items: list[PairItem]) -> None:
        """Every selected pair's ratings in one concurrent batch, before the first item runs."""
        worker = getattr(self.config, "workerinput", None)
        if worker is not None and not self.run.shares_answers():
            # Every worker collected every item, and nothing carries answers between them (replay:
            # nothing is asked anyway): a batch of all of them would read each pair once per
            # worker. Each pair is rated as it runs, on the worker it was sent to.
            self.run.prefetched = True  # declined, not forgotten: items must not batch either
            return
        # Under xdist each worker asks for its share, and reads the rest from the shared cache (or
        # the run's own store) as the other workers write it.
        progress = None
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if worker is None and reporter is not None and self.config.get_verbosity() >= 0:
            # A terminal gets one line redrawn in place; a log gets whole lines now and then.
            write = (lambda text: reporter.write(text, flush=True)) if reporter.isatty else reporter.write_line
            progress = ProgressLine(write, tty=reporter.isatty)
            self.run.progress = progress
        try:
            requests = prefetchable(items)
            if progress is not None and reporter is not None and reporter.isatty:
                reporter.ensure_newline()
            self.run.prefetch(requests, meanwhile=self._needed_after_the_batch())
        finally:
            if progress is not None:
                progress.finish()
            self.run.progress = None
        fatal = self._fatal()
        if fatal and self.session is not None:
            # Bad credentials: one message and the run stops, before any item reports an error.
            if worker is not None:
                # Raised on a worker it would read as Ctrl-C, and xdist would restart the worker:
                # the controller stops the run with the message (and no item runs, below).
                self.session.shouldstop = fatal
                return
            raise self.session.Interrupted(fatal)

    def _needed_after_the_batch(self) -> list[str]:
        """What the rest of the run will import anyway, to import while the calls are in flight:
        the summary's modules, numpy for intervals, and Hypothesis, which its own pytest plugin
        imports at the end of every run (up to a second without bytecode)."""
        if is_xdist_worker(self.config):
            return []  # a worker prints no summary
        modules = ["pytest_moralpairs.report.terminal"]
        if self.run.settings.samples > 1:
            modules.append("numpy")
        if self.config.pluginmanager.has_plugin("hypothesispytest"):
            modules.append("hypothesis")
        return modules

    def _fatal(self) -> str | None:
        return f"moralpairs: {self.run.fatal}" if self.run.fatal else None

    def _stop_if_fatal(self) -> None:
        fatal = self._fatal()
        if fatal and self.session is not None:
            self.session.shouldstop = fatal

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> bool | None:
        # Nothing more is run once the run must stop: an xdist worker runs the item it was sent
        # before it looks at ``shouldstop``, and that item would only report the same message.
        return True if self._fatal() and is_xdist_worker(self.config) else None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        # Last result per pair: a Hypothesis test records one per example, its final one last.
        results = list({r.get("pair_id"): r for r in item.stash.get(results_key, [])}.values())
        item.stash[results_key] = []
        for result in results:
            for key in JUNIT_PROPERTIES:
                if result.get(key) is not None:
                    item.user_properties.append((f"moral_{key}", result[key]))
        report = yield
        exc = call.excinfo.value if call.excinfo is not None else None
        # Only a report that failed: an xfail-marked test that raised is "skipped" (xfailed) by now.
        if report.failed and exc is not None and isinstance(exc, own_errors()):
            from .engine import RatingError

            # The purpose-built explanation is the whole report: no plugin traceback.
            report.longrepr = str(exc)
            if isinstance(exc, (RatingError, RatingSetupError)) and call.when == "call":
                # No rating is not a verdict: like a YAML pair (rated in setup), the test ERRORs.
                report.moralpairs_error = True
        if results:
            report.moralpairs_results = results
        if isinstance(item, MoralItem) and call.when != "call" and report.passed and not report.sections:
            report.moralpairs_silent = True  # see _drop_silent_reports
        usage = self.run.unreported_usage()
        if usage != Usage():
            report.moralpairs_usage = usage.to_dict()
        return report

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, Any] | None:
        if getattr(report, "moralpairs_error", False):
            return "error", "E", ("ERROR", {"red": True})
        results = getattr(report, "moralpairs_results", ())
        if report.when == "call" and any(r.get("outcome") == INCONCLUSIVE for r in results):
            # Counted where the run's --moral-inconclusive put it; named for what it is.
            if report.failed:
                return "failed", "I", ("INCONCLUSIVE", {"red": True})
            if report.passed:
                return "passed", "I", ("INCONCLUSIVE", {"yellow": True})
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        usage = getattr(report, "moralpairs_usage", None)
        if usage:
            self.run.usage_seen.add(Usage(**usage))
        results = getattr(report, "moralpairs_results", ())
        if report.failed and not getattr(report, "moralpairs_error", False):
            if not results:
                self.other_failures += 1
            elif report.when == "call":
                self.verdict_failures += 1  # failed, inconclusive under "fail", or regressed
        for result in results:
            self.run.results.append(result)
            if not is_xdist_worker(self.config):
                self._announce(result)
        self._stop_if_fatal()

    def _announce(self, result: dict[str, Any]) -> None:
        """Hand a copy of ``result`` to the ``pytest_moralpairs_result`` hooks: what they change
        or raise cannot reach the summary, the reports or the exit status."""
        hook = self.config.hook.pytest_moralpairs_result
        if not hook.get_hookimpls():
            return
        try:
            hook(result=copy.deepcopy(result), config=self.config)
        except hook_errors() as exc:  # a user's hook: reported once at the end, the run goes on
            if not self.hook_errors:
                self.hook_errors.append(
                    f"{hook_raised('pytest_moralpairs_result', exc)} "
                    f"(for {result.get('nodeid')}; later failures of the hook are not shown)"
                )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.other_failures += 1

    def _usage(self) -> Usage:
        usage = self.run.usage_seen.copy()
        usage.add(self.run.unreported_usage())
        return usage

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if is_xdist_worker(self.config):
            return
        usage = self._usage()
        self.run.usage_seen = usage
        if not self.run.results and not usage.calls and not usage.cache_hits:
            return
        from .report.terminal import section

        title, lines = section(
            self._results(),
            usage,
            self.run.settings,
            self.run.compared_with,
            self.gate,
            self.written,
            self.hook_errors,
        )
        terminalreporter.write_sep("=", title)
        for line, markup in lines:
            terminalreporter.write_line(line, **markup)

    def _results(self) -> list[dict[str, Any]]:
        if getattr(self.config.option, "numprocesses", None):
            # Under xdist results arrive in completion order, which is noise: sort them by test.
            return sorted(self.run.results, key=lambda r: str(r.get("nodeid")))
        return list(self.run.results)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: where the workers leave their answers for each other."""
        folder = self.run.shared_folder_for_workers()
        if folder is not None:
            node.workerinput["moralpairs_shared"] = folder

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: the usage a worker had not yet sent on a report (e.g. a worker that
        rated its share of the requests but ran no pair itself)."""
        usage = getattr(node, "workeroutput", {}).get("moralpairs_usage")
        if usage:
            self.run.usage_seen.add(Usage(**usage))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        worker = getattr(self.config, "workeroutput", None)
        if worker is not None:
            worker["moralpairs_usage"] = self.run.unreported_usage().to_dict()
            return
        _drop_silent_reports(self.config)
        if self.config.option.collectonly:
            return
        settings = self.run.settings
        self.gate = pass_rate(self.run.results, settings.min_pass_rate)
        if session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            outcomes = [r.get("outcome") for r in self.run.results]
            if "error" in outcomes and not self.verdict_failures and not self.other_failures:
                session.exitstatus = EXIT_RATING_ERRORS
        if self.gate["passed"] is False and session.exitstatus in (pytest.ExitCode.OK, EXIT_RATING_ERRORS):
            # The suite gate fails the session even when every failing item was marked xfail.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.hook_errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # what the hook was for did not happen
        targets = [("json", settings.save)] if settings.save else []
        stopped = _stopped_early(session)
        if targets and stopped:
            # A saved run is the next release's yardstick: a partial one would replace it.
            self.written.append((f"the run was not saved to {settings.save}: {stopped}", True))
            targets = []
        targets += list(settings.reports)
        if targets:
            self._write(targets, session)

    def _write(self, targets: list[tuple[str, str]], session: pytest.Session) -> None:
        from .report.document import build_document, write_json
        from .report.html import write_html

        self.run.usage_seen = self._usage()
        meta = self.run.document_meta(self.run.usage_seen, self.gate or {})
        document = build_document(self._results(), meta)
        for kind, path in targets:
            target = self.config.invocation_params.dir / path
            try:
                (write_json if kind == "json" else write_html)(target, document)
            except (OSError, UnicodeError) as exc:  # UnicodeError: a path no file system can hold
                self.written.append((f"could not write the {kind} report {path}: {exc}", True))
                if session.exitstatus == pytest.ExitCode.OK:
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED
            else:
                self.written.append((f"{kind} report written to {path}", False))


def _drop_silent_reports(config: pytest.Config) -> None:
    """Forget the passed setup and teardown reports of moral items that captured nothing.

    pytest's failure summary looks up each failed test's teardown report by scanning every passed
    setup and teardown report of the run (``TerminalReporter._get_teardown_reports``): quadratic
    in the number of tests, 28 of the 37 s of a run of 3,000 failing pairs, and 20 minutes for
    20,000. Those reports are in the reporter's ``stats[""]`` only for that lookup, and one that
    captured no output has nothing to show there, so dropping them (before the summary, which
    pytest prints after every ``pytest_sessionfinish``) changes no output.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", None)
    if isinstance(stats, dict) and stats.get(""):
        stats[""] = [r for r in stats[""] if not getattr(r, "moralpairs_silent", False)]


def _stopped_early(session: pytest.Session) -> str | None:
    """Why the session ended before running every selected item (Ctrl-C, refused credentials,
    ``-x``/``--maxfail``), or None."""
    if session.exitstatus == pytest.ExitCode.INTERRUPTED:
        return "it was interrupted"
    why = session.shouldfail or session.shouldstop
    return f"it stopped early ({why})" if why else None


# --- fixtures ------------------------------------------------------------------------------


def _marker_overrides(node: pytest.Item) -> dict[str, Any]:
    """The validated keyword arguments of the closest ``moralpairs`` marker; a bad marker is a
    :class:`RatingSetupError` naming the test, so the test ERRORs with that message alone."""
    marker = node.get_closest_marker("moralpairs")
    if marker is None:
        return {}
    try:
        return marker_overrides(marker.args, marker.kwargs)
    except SettingsError as exc:
        raise RatingSetupError(f"{node.nodeid}: {exc}") from None


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
    __tracebackhide__ = True
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty sentence (a str), got {value!r:.60}")
    return value.strip()


def _samples(run: MoralRun, sentence: str, model: Any, prompt: Any) -> Any:
    __tracebackhide__ = True
    prompt = as_prompt(prompt)
    try:
        return run.samples(sentence, model, prompt)
    except SettingsError as exc:
        raise RatingSetupError(str(exc)) from None


@pytest.fixture
def moral_rate(request: pytest.FixtureRequest, moral_model: Any) -> Callable[..., float]:
    """``moral_rate(sentence, prompt=None) -> float``: rate one sentence on the -4..4 scale (the
    mean of its ``--moral-samples``).

    An answer that is not a number on the scale makes the test ERROR, showing the raw answer.
    """
    from .engine import RatingError  # a fixture that rates: the engine is needed now

    run = moral_run(request.config)

    def rate(sentence: str, prompt: PromptTemplate | None = None) -> float:
        __tracebackhide__ = True
        (ratings,) = run.rate_samples(_samples(run, _sentence(sentence, "the sentence"), moral_model, prompt))
        for rating in ratings:
            if not rating.ok:
                raise RatingError(rating)
        # The mean over --moral-samples (one sample by default).
        return mean(float(r.value) for r in ratings)  # type: ignore[arg-type]

    return rate


@pytest.fixture
def moral_pair(request: pytest.FixtureRequest, moral_model: Any) -> Callable[..., Verdict]:
    """``moral_pair(harmful, harmless, threshold=None, id=None, prompt=None) -> Verdict``.

    Rates both sentences and fails the test, with the same report as a YAML pair, when
    rating(harmless) - rating(harmful) is below the threshold (argument, else the ``moralpairs``
    marker's, else the run's); with ``--moral-samples`` the verdict reads the gap's interval as a
    YAML pair's does. An unusable rating makes the test ERROR, as it does a YAML pair.
    """
    from .engine import RatingError  # a fixture that rates: the engine is needed now

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
        prompt = as_prompt(prompt)
        groups = [_samples(run, harmful, moral_model, prompt), _samples(run, harmless, moral_model, prompt)]
        reference = run.baseline_requests(harmful, harmless, moral_model, prompt)
        if reference is not None:  # --moral-baseline-model: beside the model, as for a YAML pair
            groups += [reference[:1], reference[1:]]
        harmful_ratings, harmless_ratings, *baseline_ratings = run.rate_samples(*groups)
        baseline = (baseline_ratings[0][0], baseline_ratings[1][0]) if baseline_ratings else None
        limit = threshold if threshold is not None else marker_threshold
        for side, ratings in (("harmful", harmful_ratings), ("harmless", harmless_ratings)):
            for rating in ratings:
                if not rating.ok:
                    record_error(node, pair_id, rating, side, limit, "fixture", prompt=prompt)
                    raise RatingError(rating, side)
        verdict = run.verdict(pair_id, harmful_ratings, harmless_ratings, limit)
        judge_and_record(node, verdict, "fixture", baseline, prompt=prompt)
        return verdict

    return check
