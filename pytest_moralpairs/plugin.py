"""The pytest adapter: options, hooks, fixtures, the marker. Logic lives elsewhere.

What each option is (flag, ini name, help) is in settings.py, the summary's lines in
report/terminal.py, collection in collect.py, and what is kept on pytest's config in stash.py.
Imports nothing heavy: litellm is loaded by the engine on the first real model call.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import copy
import fnmatch
import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generator

import pytest

from . import hookspecs
from .collect import (
    MoralItem,
    PairFile,
    PairItem,
    RatingSetupError,
    collect_suites,
    freeze_what_collection_made,
    judge_and_record,
    own_errors,
    prefetchable,
    record_error,
    thaw_what_collection_made,
)
from .prompt import DEFAULT_PROMPT, PromptTemplate, as_prompt
from .request import Usage
from .run import MoralRun, hook_errors, hook_raised, is_xdist_worker
from .settings import (
    ALLOWED_DIRS_INI_HELP,
    BATCH,
    BATCH_OPTIONS,
    COMPARISON_OPTIONS,
    DEFAULT_FILE_GLOBS,
    EXPORT_SURVEY,
    FILES_INI_HELP,
    GATE,
    HUMAN_RATINGS,
    LEXICON_INI_HELP,
    MARKER_HELP,
    MODELS_INI_HELP,
    NO_MODEL_MESSAGE,
    OPTIONS,
    REPLAY,
    REPORT,
    SUITE,
    Output,
    SamplingWarning,  # noqa: F401 - still importable from here, as warning filters may name it
    SettingsError,
    SettingsWarning,
    check_setting,
    flag,
    ini_name,
    marker_overrides,
    outputs,
    overwritten_input,
    resolve,
    setting_warnings,
    unusable_cache_dir,
)
from .stash import broken_files_key, moral_run, results_key, run_key
from .stats import INCONCLUSIVE, error_budget, mean, pass_rate
from .validation import same_sentence

if TYPE_CHECKING:  # loaded by the hooks and fixtures that rate, after collection (`pytest --co` needs neither)
    from .report.progress import LaterCalls
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
    "model_name",
    "gating",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("moralpairs", "moral minimal pairs (pytest-moralpairs)")
    for option in (*OPTIONS, *COMPARISON_OPTIONS):
        dest = f"moral_{option.name}"
        # --moral-model repeats: many models in one run (a comma list works too).
        action = "append" if option.name == "model" else "store"
        group.addoption(option.flag, dest=dest, default=None, action=action, metavar=option.metavar, help=option.help)
        parser.addini(option.ini, help=option.help, default=None)
    group.addoption(GATE.flag, dest="moral_gate", action="append", default=[], metavar=GATE.metavar, help=GATE.help)
    parser.addini(GATE.ini, type="args", default=[], help=GATE.ini_help or GATE.help)
    parser.addini("moral_models", help=MODELS_INI_HELP, default=None)
    group.addoption(REPLAY.flag, dest="moral_replay", action="store_const", const=True, default=None, help=REPLAY.help)
    # Read as text: settings.resolve names the option in its error and reads an empty value as unset.
    parser.addini(REPLAY.ini, help=REPLAY.ini_help or REPLAY.help, default=None)
    group.addoption(BATCH.flag, dest="moral_batch", action="store_const", const=True, default=None, help=BATCH.help)
    parser.addini(BATCH.ini, help=BATCH.ini_help or BATCH.help, default=None)
    for option in BATCH_OPTIONS:
        group.addoption(
            option.flag, dest=f"moral_{option.name}", default=None, metavar=option.metavar, help=option.help
        )
        parser.addini(option.ini, help=option.help, default=None)
    group.addoption(
        REPORT.flag, dest="moral_report", action="append", default=[], metavar=REPORT.metavar, help=REPORT.help
    )
    parser.addini(REPORT.ini, type="args", default=[], help=REPORT.ini_help or REPORT.help)
    group.addoption(SUITE.flag, dest="moral_suite", action="append", default=[], metavar=SUITE.metavar, help=SUITE.help)
    parser.addini(SUITE.ini, type="args", default=[], help=SUITE.ini_help or SUITE.help)
    group.addoption(
        EXPORT_SURVEY.flag, dest="moral_export_survey", metavar=EXPORT_SURVEY.metavar, help=EXPORT_SURVEY.help
    )
    group.addoption(
        HUMAN_RATINGS.flag,
        dest="moral_human_ratings",
        action="append",
        default=[],
        metavar=HUMAN_RATINGS.metavar,
        help=HUMAN_RATINGS.help,
    )
    parser.addini(HUMAN_RATINGS.ini, type="paths", default=[], help=HUMAN_RATINGS.ini_help or HUMAN_RATINGS.help)
    parser.addini("moral_files", type="args", default=DEFAULT_FILE_GLOBS, help=FILES_INI_HELP)
    parser.addini("moral_lexicon", type="paths", default=[], help=LEXICON_INI_HELP)
    parser.addini("moral_allowed_dirs", type="paths", default=[], help=ALLOWED_DIRS_INI_HELP)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    if config.getoption("moral_export_survey") and getattr(config.option, "numprocesses", None):
        # The sheet is written by the one process that collects every pair: no pytest-xdist workers.
        config.option.numprocesses, config.option.dist, config.option.tx = 0, "no", []


def pytest_configure(config: pytest.Config) -> None:
    thaw_what_collection_made()  # a previous session's, in this process
    config.addinivalue_line("markers", MARKER_HELP)

    def lookup(name: str) -> tuple[str, Any]:
        value = config.getoption(f"moral_{name}")
        if value not in (None, "", []) or name == EXPORT_SURVEY.name:  # [] : --moral-report not given
            return flag(name), value
        return f"ini option {ini_name(name)}", config.getini(ini_name(name))

    try:
        settings = resolve(lookup, dict(os.environ))
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-moralpairs: {exc}") from None

    settings = _compare_with_history(settings)
    for warning in setting_warnings(settings):
        _warn(config, warning)
    written = outputs(settings, config.invocation_params.dir, lambda name: lookup(name)[0])
    lexicons = {Path(path).resolve(): f"the lexicon file {path}" for path in config.getini("moral_lexicon")}
    problem = unusable_cache_dir(settings) or overwritten_input(written, _file_globs(config), lexicons)
    if problem:
        raise pytest.UsageError(f"pytest-moralpairs: {problem}")
    folder = moral_cache_dir(config)
    run = MoralRun(settings, config, cache_dir=folder, make_cache_dir=lambda: _make_cache_dir(config, folder))
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        run.share = (int(str(worker.get("workerid", "gw0"))[2:] or 0), int(worker.get("workercount", 1)))
        run.shared_folder = worker.get("moralpairs_shared")
        run.started = float(worker.get("moralpairs_started", run.started))
    if settings.compare:
        from .report.document import DocumentError

        try:
            run.load_previous()  # now: a bad file stops the run before it starts
        except DocumentError as exc:
            raise pytest.UsageError(f"pytest-moralpairs: --moral-compare: {exc}") from None
    _model_profiles(config, run)
    run.suite_sources = _suite_sources(config, settings.suites)
    if settings.human_ratings:
        run.human_ratings = _human_ratings(config, settings.human_ratings)
    config.stash[run_key] = run
    config.pluginmanager.register(MoralReporter(config, run, written), "moralpairs-reporter")


def _model_profiles(config: pytest.Config, run: MoralRun) -> None:
    """The ini option ``moral_models``'s profiles read (relative to the ini file), and the run's
    models resolved with them: a broken file or an unknown name is a usage error."""
    from .profiles import ProfileFileError, UnknownModel, load_profiles

    path = config.getini("moral_models")
    try:
        if path:
            base = config.inipath.parent if config.inipath is not None else config.rootpath
            shown = str(path)
            run.profiles = load_profiles(base / shown, shown)
        run.resolve_models()
        if run.models:
            run.baseline_model(run.models[0])  # a misspelt baseline profile: said now
    except (ProfileFileError, UnknownModel, SettingsError) as exc:
        raise pytest.UsageError(f"pytest-moralpairs: {exc}") from None


def moral_cache_dir(config: pytest.Config) -> Path:
    """The response cache's default folder: ``d/moralpairs/`` in pytest's cache directory, found
    without pytest's cache plugin (``-p no:cacheprovider`` must not turn the response cache off)."""
    try:
        name = config.getini("cache_dir")
    except ValueError:  # the cache plugin is disabled, and its ini option with it: its default
        tox = os.environ.get("TOX_ENV_DIR")
        name = os.path.join(tox, ".pytest_cache") if tox else ".pytest_cache"
    return config.rootpath / os.path.expandvars(os.path.expanduser(name)) / "d" / "moralpairs"


def _make_cache_dir(config: pytest.Config, folder: Path) -> None:
    """Make ``folder`` as pytest's cache plugin would: its cache directory comes with a
    ``.gitignore``, so that no one commits the cache by mistake."""
    cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
    try:
        if cache is not None:
            cache.mkdir(folder.name)
            return
        top = folder.parent.parent
        top.mkdir(parents=True)
        (top / ".gitignore").write_text("# Created by pytest-moralpairs automatically.\n*\n", encoding="utf-8")
    except OSError:  # it exists (made by another process), or cannot be made: the cache says why
        pass


def _compare_with_history(settings: Any) -> Any:
    """``--moral-compare last`` / ``last:MODEL`` as the history's run file it names."""
    if not settings.compare:
        return settings  # nothing to compare with: the history's reader is not even imported
    from dataclasses import replace

    from .history import HistoryError, compare_path

    try:
        path = compare_path(settings.compare, settings.history, settings.model)
    except HistoryError as exc:
        raise pytest.UsageError(f"pytest-moralpairs: --moral-compare {settings.compare}: {exc}") from None
    return settings if path is None else replace(settings, compare=path)


def _suite_sources(config: pytest.Config, specs: tuple[str, ...]) -> tuple[Any, ...]:
    """The suites ``--moral-suite`` (or the ini option) names, resolved now: a bad name, folder or
    pin is a usage error before anything is collected."""
    if not specs:
        return ()
    from .suites.sources import ManifestError, SuiteError
    from .suites.sources import resolve as resolve_suite

    given_here = bool(config.getoption("moral_suite"))
    base = config.invocation_params.dir if given_here or config.inipath is None else config.inipath.parent
    where = SUITE.flag if given_here else f"ini option {SUITE.ini}"
    globs = config.getini("moral_files") or DEFAULT_FILE_GLOBS
    sources = []
    for spec in specs:
        try:
            sources.append(resolve_suite(spec, base, globs))
        except (SuiteError, ManifestError) as exc:
            raise pytest.UsageError(f"pytest-moralpairs: {where} {exc}") from None
    if given_here and config.args_source != pytest.Config.ArgsSource.ARGS:
        # `pytest --moral-suite core`: the suite is what to run, not the folder pytest would
        # otherwise collect by default.
        config.args = []
    return tuple(sources)


def _human_ratings(config: pytest.Config, paths: tuple[str, ...]) -> Any:
    """The ratings files read (a flag's path is relative to where pytest was started, an ini
    option's is already absolute), each named as given or relative to the rootdir."""
    from .survey import RatingsFileError, read_ratings

    files = [config.invocation_params.dir / path for path in paths]
    names = []
    for path, file in zip(paths, files, strict=True):
        try:
            names.append(str(file.relative_to(config.rootpath)) if os.path.isabs(path) else path)
        except ValueError:
            names.append(path)
    try:
        return read_ratings(files, names)
    except RatingsFileError as exc:
        raise pytest.UsageError(f"pytest-moralpairs: {HUMAN_RATINGS.flag} / {HUMAN_RATINGS.ini}:\n{exc}") from None


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


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    run = config.stash.get(run_key, None)
    if run is None:
        return None
    lines = []
    if run.settings.model:
        generation = "derandomised (CI)" if run.derandomize else f"--moral-seed={run.seed}"
        off_by = f"{flag('cache')}=off" if config.getoption("moral_cache") else f"{ini_name('cache')} = off"
        cache = run.describe_cache(config.invocation_params.dir, off_by)
        models = ", ".join(run.labels) or run.settings.model
        lines.append(f"moral pairs: model{'s' if run.labels else ''} {models}, generated pairs {generation}, {cache}")
    if run.suite_sources:
        lines.append("moral suites: " + ", ".join(source.label for source in run.suite_sources))
    return lines or None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the ``--moral-suite`` pairs, before -k and -m select among the items."""
    run = config.stash.get(run_key, None)
    if run is not None and run.suite_sources:
        items.extend(collect_suites(session, run.suite_sources, {item.path for item in items}))


def _file_globs(config: pytest.Config) -> list[str]:
    return config.getini("moral_files") or DEFAULT_FILE_GLOBS


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> PairFile | None:
    if any(fnmatch.fnmatch(file_path.name, pattern) for pattern in _file_globs(parent.config)):
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

    def __init__(self, config: pytest.Config, run: MoralRun, written: tuple[Output, ...] = ()):
        self.config = config
        self.run = run
        #: The files the run writes, and the persona files its pairs read (as the pairs name them).
        self.outputs = written
        self.persona_files: set[str] = set()
        #: An xdist worker's usage error, for the controller to raise.
        self.usage_error: str | None = None
        self.session: pytest.Session | None = None
        #: The calls made after the first batch, shown as they go (:class:`LaterCalls`).
        self.later_calls: LaterCalls | None = None
        self.other_failures = 0
        self.verdict_failures = 0
        #: The suite gate (``stats.pass_rate``), decided when the session finishes.
        self.gate: dict[str, Any] | None = None
        #: One line per report written (or not: ``failed``), for the summary.
        self.written: list[tuple[str, bool]] = []
        #: What went wrong in the users' ``pytest_moralpairs_result`` hooks, for the summary.
        self.hook_errors: list[str] = []
        #: xdist controller: whether the modules its summary needs were imported early.
        self._imported_for_summary = False

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        # Every item, also those -k will deselect: their persona files are read all the same.
        personas = getattr(getattr(item, "pair", None), "personas", None)
        if self.outputs and personas is not None and personas.path:
            self.persona_files.add(personas.path)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """A report or a saved run must not replace a persona file a pair reads: found now, before
        any model call."""
        freeze_what_collection_made(len(session.items))
        root = self.config.rootpath
        inputs = {(root / path).resolve(): f"the persona file {path}" for path in self.persona_files}
        problem = overwritten_input(self.outputs, inputs=inputs)
        if not problem:
            return
        worker = getattr(self.config, "workeroutput", None)
        if worker is None:
            raise pytest.UsageError(f"pytest-moralpairs: {problem}")
        # Raised on an xdist worker it would crash the worker: the controller raises it instead
        # (pytest_testnodedown), and this worker rates and runs nothing.
        worker["moralpairs_usage_error"] = self.usage_error = f"pytest-moralpairs: {problem}"
        session.shouldstop = self.usage_error

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        # A broken pair file is a collection error that names it; it must not stop the other files.
        broken = self.config.stash.get(broken_files_key, 0)
        if broken and session.testsfailed == broken:
            self.config.option.continue_on_collection_errors = True
        if self.run.settings.export_survey:
            self._export_survey(session)
            return True  # exported: nothing is rated
        if self.config.option.collectonly or self.usage_error:
            return None
        if session.testsfailed and not self.config.option.continue_on_collection_errors:
            return None  # pytest's own loop stops the run for the collection errors: rate nothing first
        if self.run.settings.model is None and any(_needs_model(i) for i in session.items):
            raise pytest.UsageError(NO_MODEL_MESSAGE)
        pairs = [i for i in session.items if isinstance(i, PairItem)]
        if pairs and self.run.settings.model is not None:
            self._prefetch(pairs)
        self._show_later_calls()
        return None

    def _show_later_calls(self) -> None:
        """From here on (the items run), calls made after the first batch are shown now and then."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if is_xdist_worker(self.config) or reporter is None or self.config.get_verbosity() < 0:
            return
        from .report.progress import LaterCalls

        def write_line(text: str) -> None:
            if getattr(reporter._tw, "width_of_current_line", 0):
                reporter.write("\n")  # after pytest's last "[100%]": its line is not ended yet
            reporter.write_line(text)

        later = self.later_calls = LaterCalls(write_line, min_interval=2.0 if reporter.isatty else 5.0)
        later.status = self.run.limits_status
        self.run.progress, self.run.waiting = later, later.waiting

    def _export_survey(self, session: pytest.Session) -> None:
        """``--moral-export-survey``: the selected pairs' sentences as a survey sheet, when every
        file was collected (a sheet missing a broken file's pairs would look complete)."""
        from .survey import SurveyError, build_survey, instructions_path, write_survey

        settings = self.run.settings
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        write = reporter.write_line if reporter is not None else (lambda line: None)
        if session.testsfailed:
            write(f"moralpairs: the survey was not written: {session.testsfailed} file(s) could not be collected")
            return
        pairs = [item.pair for item in session.items if isinstance(item, PairItem)]
        templates = {id(i.pair) for i in session.items if isinstance(i, MoralItem) and not isinstance(i, PairItem)}
        path = str(settings.export_survey)
        try:
            if not pairs:
                raise SurveyError("no pairs are selected")
            survey = build_survey(pairs, settings.survey_lists, settings.seed)
            write_survey(survey, self.config.invocation_params.dir / path)
        except (SurveyError, OSError, UnicodeError) as exc:
            raise pytest.UsageError(f"pytest-moralpairs: {EXPORT_SURVEY.flag} {path}: {exc}") from None
        write(f"moralpairs: {survey.describe(path, str(instructions_path(path)))}")
        if templates:
            write(f"moralpairs: {len(templates)} template pair(s) left out: their sentences are generated")

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
        if worker is not None and self.run.streams_its_batch():
            # Started, not waited for: the worker runs its items as their ratings arrive, so its
            # own and xdist's per-item costs overlap the calls instead of following them.
            self.run.start_prefetch(prefetchable(items))
            # Imported here, on this thread, while the first calls are in flight on the engine's:
            # once they are out, not while that thread still makes its client and the requests.
            self.run.wait_for_calls_out()
            self._import_needed_after_the_batch()
            return
        progress = None
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if worker is None and reporter is not None and self.config.get_verbosity() >= 0:
            # A terminal gets one line redrawn in place; a log gets whole lines now and then.
            from .reasoning import progress_note
            from .report.progress import ProgressLine

            write = (lambda text: reporter.write(text, flush=True)) if reporter.isatty else reporter.write_line
            progress = ProgressLine(write, tty=reporter.isatty, slow=progress_note(self.run.settings.reasoning_effort))
            progress.status = self.run.limits_status
            self.run.progress, self.run.waiting = progress, progress.waiting
        try:
            requests = prefetchable(items)
            if progress is not None and reporter is not None and reporter.isatty:
                reporter.ensure_newline()
            self.run.prefetch(requests, meanwhile=self._needed_after_the_batch())
        finally:
            if progress is not None:
                progress.finish()
            self.run.progress = self.run.waiting = None
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
        modules = []
        if not is_xdist_worker(self.config):  # a worker prints no summary, but Hypothesis's plugin runs there too
            modules.append("pytest_moralpairs.report.terminal")
        if self.run.settings.samples > 1:
            modules.append("numpy")
        if self.config.pluginmanager.has_plugin("hypothesispytest"):
            modules.append("hypothesis")
        return modules

    def _import_needed_after_the_batch(self) -> None:
        for module in self._needed_after_the_batch():
            try:
                importlib.import_module(module)
            except ImportError:  # left for the code that needs it to report
                pass

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
        if not is_xdist_worker(self.config):
            return None
        if isinstance(item, PairItem) and self.run.calls_started and not self._fatal():
            self._rate_before_running(item)
        return True if self._fatal() or self.usage_error else None

    def _rate_before_running(self, item: PairItem) -> None:
        """A worker's item, its batch still under way: its ratings first, so that a reason to stop
        (refused credentials) found by its calls stops the run before the item reports."""
        try:
            self.run.rate_pair(item.requests())
        except Exception:  # noqa: BLE001 - the item's setup reports it
            return
        fatal = self._fatal()
        if fatal and self.session is not None:
            self.session.shouldstop = fatal

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
        if report.when == "call" and report.passed and any(_advisory(r, self.run) for r in results):
            # A model that does not gate (--moral-gate): its failure or error is shown and counted
            # apart, as the baseline model's misses are, and never fails the run.
            return "advisory", "a", ("ADVISORY", {"yellow": True})
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
        if not self._imported_for_summary and getattr(report, "node", None) is not None:
            self._import_for_the_summary()  # a report from an xdist worker

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
            [source.to_dict() for source in self.run.suite_sources],
            self.run.served_models(),
        )
        terminalreporter.write_sep("=", title)
        for line, markup in lines:
            terminalreporter.write_line(line, **markup)
        if self.run.human_ratings is not None:
            terminalreporter.write_line(self.run.human_ratings.summary(self.run.results))

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
        node.workerinput["moralpairs_started"] = self.run.started

    def _import_for_the_summary(self) -> None:
        """xdist controller: what its summary will import, imported once the workers' first
        items report (it only waits meanwhile) — not while they start, collect and send their
        first calls, which is when they need every core."""
        if self._imported_for_summary or self.config.option.collectonly:
            return
        self._imported_for_summary = True
        self._import_needed_after_the_batch()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: the usage a worker had not yet sent on a report (e.g. a worker that
        rated its share of the requests but ran no pair itself)."""
        output = getattr(node, "workeroutput", {})
        if output.get("moralpairs_usage"):
            self.run.usage_seen.add(Usage(**output["moralpairs_usage"]))
        if output.get("moralpairs_served"):
            self.run.served_from_workers.append(output["moralpairs_served"])
        if output.get("moralpairs_usage_error"):
            raise pytest.UsageError(output["moralpairs_usage_error"])

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        worker = getattr(self.config, "workeroutput", None)
        if worker is not None:
            # Its share of the calls, which the other workers may be waiting for, ends first.
            stopping = bool(session.shouldstop or session.shouldfail) or exitstatus == pytest.ExitCode.INTERRUPTED
            self.run.finish_prefetch(stop=stopping)
            worker["moralpairs_usage"] = self.run.unreported_usage().to_dict()
            worker["moralpairs_served"] = self.run.served_models()
            return
        later, self.later_calls = self.later_calls, None
        if later is not None:
            later.finish()
            self.run.progress = self.run.waiting = None
        _drop_silent_reports(self.config)
        if self.config.option.collectonly or self.run.settings.export_survey:
            return
        if session.exitstatus == pytest.ExitCode.USAGE_ERROR:
            return  # a usage error stopped the run before it rated anything: nothing to write
        settings = self.run.settings
        gating = [r for r in self.run.results if r.get("gating") is not False]
        self.gate = error_budget(pass_rate(gating, settings.min_pass_rate), settings.max_error_rate)
        if session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            outcomes = [r.get("outcome") for r in gating]
            if "error" in outcomes and not self.verdict_failures and not self.other_failures:
                session.exitstatus = EXIT_RATING_ERRORS
        if session.exitstatus == EXIT_RATING_ERRORS and self.gate["within_error_budget"]:
            session.exitstatus = pytest.ExitCode.OK  # --moral-max-error-rate: few enough unrated pairs
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
        history = settings.history
        if history and stopped:
            self.written.append((f"the run was not added to the history {history}: {stopped}", True))
            history = None
        from .report.publish import step_summary_file

        summary = step_summary_file(settings.step_summary) if self.run.results else None
        if targets or history or summary:
            self._write(targets, session, history, summary)

    def _write(
        self, targets: list[tuple[str, str]], session: pytest.Session, history: str | None, summary: str | None
    ) -> None:
        from .report.document import build_document
        from .report.publish import append_step_summary, publish

        self.run.usage_seen = self._usage()
        results = self._results()
        meta = self.run.document_meta(self.run.usage_seen, self.gate or {}, results)
        document = build_document(results, meta)
        base, runs = self.config.invocation_params.dir, self.run.settings.history_runs
        lines = publish(document, targets, base, int(session.exitstatus), history, runs, self.config.rootpath)
        self.written += lines
        if any(failed for _, failed in lines) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if summary:
            # GitHub Actions' job summary: shown on the run's page, whatever the step's outcome.
            self.written.append(append_step_summary(summary, document, int(session.exitstatus)))


def _advisory(result: dict[str, Any], run: MoralRun) -> bool:
    """Whether ``result`` is a non-gating model's failure, error, or gating-inconclusive verdict."""
    if result.get("gating") is not False:
        return False
    outcome = result.get("outcome")
    return outcome in ("failed", "error") or (outcome == INCONCLUSIVE and run.settings.inconclusive == "fail")


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
        return moral_run(request.config).model_settings(**overrides)
    except SettingsError as exc:
        raise RatingSetupError(str(exc)) from None


def _sentence(value: Any, what: str, prompt: PromptTemplate | None) -> str:
    __tracebackhide__ = True
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty sentence (a str), got {value!r:.60}")
    return (prompt or DEFAULT_PROMPT).check_sentence(value.strip(), what)


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
        prompt = as_prompt(prompt)
        (ratings,) = run.rate_samples(_samples(run, _sentence(sentence, "the sentence", prompt), moral_model, prompt))
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
        prompt = as_prompt(prompt)
        harmful = _sentence(harmful, "harmful", prompt)
        harmless = _sentence(harmless, "harmless", prompt)
        same = same_sentence(harmful, harmless)
        if same is not None:
            alike = f", and these are the same {same}" if same else ""
            raise ValueError(f"moral_pair needs two different sentences{alike}: a pair is a sentence and its edit")
        if threshold is not None:
            try:
                threshold = check_setting("moral_pair(threshold=...)", "threshold", threshold)
            except SettingsError as exc:
                raise ValueError(str(exc)) from None
        pair_id = str(id) if id is not None else node.name
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
