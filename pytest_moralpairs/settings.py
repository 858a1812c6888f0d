"""Run settings, resolved once from command line, environment and ini (pytest-free).

Also how a user gives them: each option's flag, ini name, help and metavar (:data:`OPTIONS`), the
``moralpairs`` marker's arguments, and the warnings for settings that work but miss their point.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .faults import MAX_RETRY_AFTER, RETRY_AFTER_CEILING
from .providers import unknown_offline_model
from .reasoning import EFFORTS
from .request import CLIENTS, ModelSettings
from .stats import DEFAULT_CONFIDENCE, DEFAULT_THRESHOLD

MODEL_ENV = "MORALPAIRS_MODEL"
DEFAULT_CONCURRENCY = 16
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 3
DEFAULT_MAX_EXAMPLES = 10
DEFAULT_HISTORY_RUNS = 10
#: ``--moral-survey-lists``: how many lists a survey sheet splits the pairs into (named by letters, A to Z).
DEFAULT_LISTS = 2
MAX_LISTS = 26
CACHE_MODES = ("readwrite", "read", "off")
#: ``--moral-cache-mismatch``: warn (default) or error (the answers of another version error).
MISMATCH_MODES = ("warn", "error")
#: What an inconclusive verdict (the threshold inside the gap's interval) does to the gate.
INCONCLUSIVE_POLICIES = ("fail", "pass", "warn")
#: ``text``: parse the answer; ``logprobs``: the probability-weighted rating of the first token.
SCORINGS = ("text", "logprobs")
REPORT_KINDS = ("json", "html", "md")
#: ``--moral-step-summary``: append the Markdown report to GitHub's job summary when it is there.
STEP_SUMMARY_MODES = ("on", "off")
#: Setting -> the values it may take.
CHOICES = {
    "cache": CACHE_MODES,
    "inconclusive": INCONCLUSIVE_POLICIES,
    "scoring": SCORINGS,
    "step_summary": STEP_SUMMARY_MODES,
    "client": CLIENTS,
    "cache_mismatch": MISMATCH_MODES,
}

NO_MODEL_MESSAGE = (
    "pytest-moralpairs: no model is configured, so the moral pairs cannot be rated.\n"
    "Set one with --moral-model=MODEL, the ini option moral_model, or the environment variable "
    f"{MODEL_ENV}; MODEL is any litellm model string (e.g. openai/gpt-4o-mini, "
    "anthropic/claude-3-5-haiku-latest, ollama/llama3.1), or moralpairs/lexical for the built-in "
    "offline rater."
)


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


class SettingsWarning(UserWarning):
    """Settings that work but do not do what was likely meant."""


class SamplingWarning(SettingsWarning):
    """Settings that make repeated samples pointless."""


def flag(name: str) -> str:
    """The command-line flag of setting ``name``: ``--moral-<name>`` with dashes."""
    return "--moral-" + name.replace("_", "-")


def ini_name(name: str) -> str:
    """The ini option of setting ``name``: ``moral_<name>``."""
    return "moral_" + name


@dataclass(frozen=True)
class Option:
    """A setting as a user gives it: ``--moral-<name>`` on the command line, ``moral_<name>`` in the
    ini file; ``help`` and ``metavar`` are what ``pytest --help`` shows (``ini_help``, where the ini
    option's differs)."""

    name: str
    metavar: str
    help: str
    ini_help: str | None = None

    @property
    def flag(self) -> str:
        return flag(self.name)

    @property
    def ini(self) -> str:
        return ini_name(self.name)


#: The settings that take a value, on the command line or in the ini file.
OPTIONS = (
    Option(
        "model",
        "MODEL",
        "litellm model string, e.g. openai/gpt-4o-mini or moralpairs/lexical, or a profile's name (ini "
        "moral_models); repeatable or a comma list, each pair then rated by each (also: env MORALPAIRS_MODEL)",
    ),
    Option("api_base", "URL", "base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp ...)"),
    Option("temperature", "T", "sampling temperature (default 0)"),
    Option("timeout", "SECONDS", "seconds to wait for one model answer (default 60)"),
    Option("threshold", "GAP", "minimum gap rating(harmless) - rating(harmful) for pairs that set none (default 2.0)"),
    Option(
        "concurrency",
        "N",
        "model calls in flight at once, in all: under pytest-xdist split across the workers, each "
        "at least one (default 16)",
    ),
    Option(
        "rpm",
        "N",
        "at most this many model calls a minute to each model, in all (under pytest-xdist each worker "
        "keeps to its part); default: no cap, the provider's rate-limit headers are heeded",
    ),
    Option(
        "tpm",
        "N",
        "at most this many tokens (prompt and answer, estimated before a call) a minute to each model, "
        "in all; default: no cap",
    ),
    Option(
        "retries",
        "N",
        "tries after a rate limit, server error, timeout or lost connection, with exponential backoff "
        "and jitter, honouring Retry-After (default 3)",
    ),
    Option(
        "max_retry_after",
        "SECONDS",
        "longest wait a server's Retry-After is obeyed for; a server asking for longer is tried again "
        f"after this many seconds (default {MAX_RETRY_AFTER:g})",
    ),
    Option(
        "max_cost",
        "USD",
        "stop making model calls once this many US dollars are spent (litellm's prices); the pairs left unrated ERROR",
    ),
    Option(
        "client",
        "auto|openai|litellm",
        "what makes the calls: auto (default) speaks OpenAI's protocol itself to openai/, hosted_vllm/ "
        "and lm_studio/ models, answers moralpairs/lexical in-process and sends the rest through "
        "litellm; openai only the former; litellm every call",
    ),
    Option(
        "cache",
        "readwrite|read|off",
        "response cache: readwrite (default) reads and records answers, read only reads, off neither",
    ),
    Option(
        "cache_dir",
        "DIR",
        "folder of the response cache (default: d/moralpairs/ in pytest's cache dir, .pytest_cache), e.g. one "
        "a CI job keeps",
    ),
    Option(
        "seed",
        "N",
        "seed of the generated pairs of template pairs (default: a new one each run, shown on failure); "
        "ignored when the CI environment variable is set, where generation is derandomised",
    ),
    Option("max_examples", "N", "generated examples tried per check of a template pair (default 10)"),
    Option(
        "samples",
        "K",
        "rate each sentence K times (at --moral-temperature; each sample its own cache entry) and judge the "
        "gap by its bootstrap confidence interval (default 1)",
    ),
    Option("confidence", "LEVEL", "confidence level of the gap's bootstrap interval (default 0.95)"),
    Option(
        "inconclusive",
        "fail|pass|warn",
        "what a pair whose interval contains the threshold does: fail (default), pass, or warn (passes with a warning)",
    ),
    Option(
        "scoring",
        "text|logprobs",
        "text (default): parse the answer; logprobs: the probability-weighted rating of the first answer "
        "token's top log-probabilities (needs a provider that returns them)",
    ),
    Option(
        "baseline_model",
        "MODEL",
        "also rate every pair with this reference model (e.g. moralpairs/lexical, the word-valence null "
        "model) and show its gaps and human alignment beside the model's; never decides a verdict",
    ),
    Option(
        "min_pass_rate",
        "R",
        "fail the session when fewer than this share of the rated pairs pass (0..1 or a percentage), "
        "xfail-marked pairs included; pairs that could not be rated are counted apart",
    ),
    Option("save", "PATH", "write this run (ratings, gaps, intervals, versions) as JSON to PATH"),
    Option(
        "compare",
        "PATH",
        "compare each pair's gap with a run saved by --moral-save (or a JSON report) and show the change; "
        "last (or last:MODEL) for the newest run of this model (or MODEL) in --moral-history",
    ),
    Option(
        "compare_fail",
        "DELTA",
        "fail pairs whose gap dropped by more than DELTA rating points against --moral-compare",
    ),
    Option("survey_lists", "N", "counterbalanced lists of the --moral-export-survey sheet (default 2)"),
    Option(
        "history",
        "DIR",
        "add this run to the run history in DIR (one file per run and an index), for --moral-compare last "
        "and the HTML report's trend; list it with python -m pytest_moralpairs history DIR",
    ),
    Option("history_runs", "N", "runs of the history the HTML report's trend shows per pair (default 10)"),
    Option(
        "step_summary",
        "on|off",
        "on (default): when GITHUB_STEP_SUMMARY names a file (GitHub Actions), append the Markdown report to it",
    ),
)

# --- reasoning models ------------------------------------------------------------------------
#: How long a call may take when the run asks for reasoning and names no --moral-timeout: a
#: reasoning model thinks for minutes where another answers in seconds.
REASONING_TIMEOUT = 600.0
OPTIONS += (
    Option(
        "reasoning_effort",
        "|".join(EFFORTS),
        "how hard a reasoning model thinks before it answers (sent as reasoning_effort; litellm maps it to "
        "other providers' thinking budgets); part of the cache key only when set. Without --moral-timeout "
        f"the timeout is then {REASONING_TIMEOUT:g} s",
    ),
)
CHOICES["reasoning_effort"] = EFFORTS
#: Issue 15: an error budget, fresh caches.
OPTIONS += (
    Option(
        "max_error_rate",
        "R",
        "up to this share of the pairs (0..1 or a percentage) may stay unrated (ERROR: failed calls, "
        "unusable answers) without exit status 10; above it the run fails as without it (default 0)",
    ),
    Option(
        "cache_ttl",
        "DURATION",
        "cached answers older than this (e.g. 30d, 12h, 90m) are not used: asked again and replaced "
        "(default never; replay uses every recorded answer)",
    ),
    Option(
        "cache_mismatch",
        "warn|error",
        "when the cached answers of a model came from another version of it than the fresh ones "
        "(the provider's model id): warn (default) with the counts, or error the answers of the "
        "other version",
    ),
)

#: ``--moral-replay``, a flag; its ini option takes true or false.
REPLAY = Option(
    "replay",
    "",
    "replay only: every rating must come from the response cache, a missing one ERRORs, no "
    "call is made (gate pull requests on recorded answers, offline and free)",
    ini_help="replay only (see --moral-replay): true or false",
)
#: ``--moral-batch``, a flag; its ini option takes true or false. Its poll interval and longest wait.
BATCH = Option(
    "batch",
    "",
    "send every uncached call to an OpenAI-protocol model (openai/, hosted_vllm/, lm_studio/) as one "
    "provider batch (files + batches API) at the batch price, poll it, and cache its answers; the batch "
    "is kept in the cache folder, so a run stopped meanwhile picks it up again",
    ini_help="provider batches (see --moral-batch): true or false",
)
BATCH_OPTIONS = (
    Option(
        "batch_poll",
        "SECONDS",
        "with --moral-batch: seconds before the first poll of a batch; each later wait is half as long "
        "again, up to ten times this (default 30)",
    ),
    Option(
        "batch_wait",
        "SECONDS",
        "with --moral-batch: the longest the run waits for its batches (default 90000, past the 24 h "
        "window); then the pairs still unanswered ERROR, and the next run collects them (0: send and stop)",
    ),
)
#: ``--moral-report KIND:PATH``, repeatable; its ini option lists them.
REPORT = Option(
    "report",
    "KIND:PATH",
    "write a report: json:PATH (machine-readable, documented schema), html:PATH (one "
    "self-contained page with charts and a sortable table) or md:PATH (GitHub-flavoured Markdown for a "
    "pull request or a job summary); repeatable",
    ini_help="report(s) to write, as for --moral-report",
)
#: ``--moral-suite NAME|PATH``, repeatable; its ini option lists them.
SUITE = Option(
    "suite",
    "NAME|PATH",
    "also collect a suite of pairs: a built-in one by name (core; core@1.0.0 pins its version) or a folder "
    "of pair files; repeatable. Without test paths on the command line, only the suites are collected",
    ini_help="suite(s) to collect, as for --moral-suite (folders relative to the ini file)",
)
#: ``--moral-export-survey PATH``: an action, like ``--co``, so a flag only (no ini option).
EXPORT_SURVEY = Option(
    "export_survey",
    "PATH.csv",
    "write the selected pairs' sentences as a survey sheet for people to rate (counterbalanced lists, "
    "attention checks, instructions beside it) and stop: nothing is rated, no model is needed",
)
#: ``--moral-human-ratings PATH``, repeatable; its ini option lists paths (relative to the ini file).
HUMAN_RATINGS = Option(
    "human_ratings",
    "PATH.csv",
    "people's ratings of the pairs' sentences (per participant or per sentence, by the survey sheet's "
    "item ids), for pairs whose file gives no human ratings; repeatable",
    ini_help="ratings file(s) of people, as for --moral-human-ratings (relative to this file)",
)
#: Many models in one run (see docs/comparing-models.md): who gates, who is the reference.
GATE = Option(
    "gate",
    "MODEL",
    "a model (of --moral-model) whose failures fail the run; repeatable or a comma list (default: every "
    "model). The others' failures are reported, never gate",
    ini_help="model(s) whose failures fail the run, as for --moral-gate",
)
COMPARISON_OPTIONS = (
    Option(
        "reference",
        "MODEL",
        "the model (of --moral-model) the others are held against: a pair also fails for a model whose gap "
        "is more than --moral-reference-margin below the reference's (with --moral-samples: when the paired "
        "bootstrap interval of the difference lies wholly below it)",
    ),
    Option("reference_margin", "D", "how far below the reference's gap a model's may fall (default 1)"),
    Option("baseline_api_base", "URL", "base URL of the --moral-baseline-model's server"),
)
MODELS_INI_HELP = "YAML file of named model profiles (model string, api_base, temperature, prices, limits ...)"
DEFAULT_REFERENCE_MARGIN = 1.0
#: The ini-only settings: which files are pair files, the lexicon files of template pairs, and where
#: the files they name may be read from.
DEFAULT_FILE_GLOBS = ["*.moral.yaml", "*.moral.yml"]
FILES_INI_HELP = "glob(s) naming pair files to collect (default: *.moral.yaml *.moral.yml)"
LEXICON_INI_HELP = (
    "lexicon file(s) that extend (or, with 'replace: true', replace) the built-in swap lexicon used by template pairs"
)
ALLOWED_DIRS_INI_HELP = (
    "directories outside the rootdir from which the files pair files name (persona files, data files of a source) "
    "and lexicon files may be read, relative to the ini file; any other file outside the rootdir is refused unread"
)


@dataclass(frozen=True)
class RunSettings:
    model: str | None
    api_base: str | None = None
    temperature: float = 0.0
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = DEFAULT_CONCURRENCY
    threshold: float = DEFAULT_THRESHOLD
    #: ``--moral-rpm`` / ``--moral-tpm``: calls and tokens a minute per model (None: no cap).
    rpm: float | None = None
    tpm: float | None = None
    retries: int = DEFAULT_RETRIES
    max_retry_after: float = MAX_RETRY_AFTER
    max_cost: float | None = None
    cache: str = "readwrite"
    cache_dir: str | None = None
    replay: bool = False
    seed: int | None = None
    max_examples: int = DEFAULT_MAX_EXAMPLES
    samples: int = 1
    confidence: float = DEFAULT_CONFIDENCE
    inconclusive: str = "fail"
    scoring: str = "text"
    client: str = "auto"
    baseline_model: str | None = None
    min_pass_rate: float | None = None
    save: str | None = None
    compare: str | None = None
    compare_fail: float | None = None
    history: str | None = None
    history_runs: int = DEFAULT_HISTORY_RUNS
    step_summary: str = "on"
    #: ``(kind, path)`` per ``--moral-report``, kind ``json``, ``html`` or ``md``.
    reports: tuple[tuple[str, str], ...] = ()
    #: ``--moral-suite`` values, as given (resolved by :mod:`pytest_moralpairs.suites.sources`).
    suites: tuple[str, ...] = ()
    #: Where ``--moral-export-survey`` writes the sheet (the run then rates nothing), and its lists.
    export_survey: str | None = None
    survey_lists: int = DEFAULT_LISTS
    #: People's ratings files (``--moral-human-ratings``).
    human_ratings: tuple[str, ...] = ()
    #: ``--moral-reasoning-effort``: low, medium or high; None sends none.
    reasoning_effort: str | None = None
    #: Provider batches (``--moral-batch``): first poll after ``batch_poll`` s, wait at most ``batch_wait`` s.
    batch: bool = False
    batch_poll: float = 30.0
    batch_wait: float = 90000.0
    #: Every ``--moral-model`` (``model`` is the first); the models whose failures gate (all when
    #: empty); the reference model and its margin; the baseline model's server.
    models: tuple[str, ...] = ()
    gate: tuple[str, ...] = ()
    reference: str | None = None
    reference_margin: float = DEFAULT_REFERENCE_MARGIN
    baseline_api_base: str | None = None

    #: Issue 15: the share of pairs that may stay unrated, the age past which a cached answer is
    #: asked again (seconds), what a mix of model versions does.
    max_error_rate: float | None = None
    cache_ttl: float | None = None
    cache_mismatch: str = "warn"

    def gates_model(self, label: str) -> bool:
        """Whether a failure of the model ``label`` fails the run (``--moral-gate``; all by default)."""
        return not self.gate or label in self.gate

    @property
    def cache_mode(self) -> str:
        """How the response cache is opened: replay reads recorded answers and never writes,
        whatever ``cache`` says."""
        return "read" if self.replay else self.cache

    def model_settings(self, **overrides: Any) -> ModelSettings:
        """The model to call, with per-test overrides (from the ``moralpairs`` marker) applied."""
        model = overrides.get("model") or self.model
        if not model:
            raise SettingsError(NO_MODEL_MESSAGE)
        return ModelSettings(
            model=model,
            api_base=overrides.get("api_base", self.api_base),
            temperature=float(overrides.get("temperature", self.temperature)),
            timeout=float(overrides.get("timeout", self.timeout)),
        )


#: The numeric settings: type and the closed range a value must lie in.
LIMITS: dict[str, tuple[Callable[[Any], Any], float, float]] = {
    "temperature": (float, 0.0, 2.0),
    "timeout": (float, 0.001, 86400.0),
    "concurrency": (int, 1, 10000),
    "rpm": (float, 0.001, 1e9),
    "tpm": (float, 1.0, 1e12),
    "threshold": (float, -8.0, 8.0),
    "retries": (int, 0, 100),
    "max_retry_after": (float, 0.0, RETRY_AFTER_CEILING),
    "max_cost": (float, 0.0, 1e9),
    "seed": (int, 0, 2**63 - 1),
    "max_examples": (int, 1, 100000),
    "samples": (int, 1, 1000),
    "confidence": (float, 0.5, 0.999),
    "min_pass_rate": (float, 0.0, 1.0),
    "compare_fail": (float, 0.0, 16.0),
    "survey_lists": (int, 2, MAX_LISTS),
    "history_runs": (int, 2, 1000),
    "batch_poll": (float, 0.01, 3600.0),
    "batch_wait": (float, 0.0, 7 * 86400.0),
    "reference_margin": (float, 0.0, 16.0),
    "max_error_rate": (float, 0.0, 1.0),
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _bound(value: float) -> str:
    """A limit as a person reads it: 86400, 0.999, 1,000,000,000, 2**63-1 (never 9.22337e+18)."""
    if value == 2**63 - 1:
        return "2**63-1"
    if abs(value) >= 1e6 and float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(name: str, value: Any, cast: Callable[[Any], Any], low: float, high: float) -> Any:
    kind = "a whole number" if cast is int else "a number"
    if isinstance(value, bool):
        raise SettingsError(f"{name} must be {kind}, got {value!r}")
    try:
        number = cast(value)
    except (TypeError, ValueError, OverflowError):
        raise SettingsError(f"{name} must be {kind}, got {str(value)[:40]!r}") from None
    if not (isinstance(number, (int, float)) and math.isfinite(number) and low <= number <= high):
        got = repr(number) if abs(number) < 1e6 else _bound(number)
        raise SettingsError(f"{name} must lie in {_bound(low)}..{_bound(high)}, got {got}")
    return number


def resolve(lookup: Callable[[str], tuple[str, Any]], env: dict[str, str]) -> RunSettings:
    """Build settings from ``lookup(setting) -> (label, raw value or None)``.

    ``lookup`` gives the command-line value when there is one (its label starts with ``--``) and
    the ini value otherwise. The model alone may also come from the environment, which beats the
    ini file: a pipeline overrides a committed config.
    """
    get = lookup
    model_where, model = get("model")
    if not model_where.startswith("--") and env.get(MODEL_ENV):
        model_where, model = f"the environment variable {MODEL_ENV}", env[MODEL_ENV]
    models = names_given(model)
    values: dict[str, Any] = {"model": models[0] if models else None, "models": models}
    where, api_base = get("api_base")
    values["api_base"] = (str(api_base).strip() if api_base else "") or None
    for name, (cast, low, high) in LIMITS.items():
        where, raw = get(name)
        if name in ("min_pass_rate", "max_error_rate") and isinstance(raw, str) and raw.strip().endswith("%"):
            # "80%" reads as well as 0.8.
            raw = _number(where, raw.strip()[:-1], float, 0.0, 100.0) / 100.0
        if raw not in (None, ""):
            values[name] = _number(where, raw, cast, low, high)
    for name, allowed in CHOICES.items():
        where, raw = get(name)
        if raw not in (None, ""):
            if str(raw).strip() not in allowed:
                raise SettingsError(f"{where} must be one of {', '.join(allowed)}, got {str(raw)[:40]!r}")
            values[name] = str(raw).strip()
    if values.get("reasoning_effort") and "timeout" not in values:
        values["timeout"] = REASONING_TIMEOUT
    for name in ("cache_dir", "baseline_model", "save", "compare", "export_survey", "history"):
        where, raw = get(name)
        values[name] = (str(raw).strip() if raw else "") or None
    named = [(model_where, name) for name in models] + [(get("baseline_model")[0], values["baseline_model"])]
    for where, name in named:
        # A name without a provider may be a profile's: its client is checked once profiles are read.
        unknown = name and (unknown_offline_model(name) or ("/" in name and _unusable(name, values)))
        if unknown:
            raise SettingsError(f"{where}: {unknown}")
    values.update(comparison(get, models))
    if values.get("compare_fail") is not None and not values["compare"]:
        raise SettingsError("--moral-compare-fail needs a saved run to compare with: --moral-compare PATH")
    if values["compare"] and not values["history"]:
        from .history import history_run  # the run history's reader, needed only here

        if history_run(values["compare"]) is not None:
            raise SettingsError(
                f"--moral-compare {values['compare']} compares with a run of the history: "
                "name it with --moral-history DIR"
            )
    where, ttl = get("cache_ttl")
    if ttl not in (None, ""):
        from .freshness import parse_duration  # the cache's time to live, needed only when given

        try:
            values["cache_ttl"] = parse_duration(ttl)
        except ValueError as exc:
            raise SettingsError(f"{where} {exc}") from None
    where, reports = get("report")
    values["reports"] = tuple(parse_report(where, spec) for spec in (reports or ()))
    where, suites = get("suite")
    values["suites"] = tuple(dict.fromkeys(str(spec).strip() for spec in (suites or ()) if str(spec).strip()))
    values["human_ratings"] = tuple(str(path).strip() for path in get("human_ratings")[1] or () if str(path).strip())
    where, replay = get("replay")
    if isinstance(replay, str):
        if replay.strip().lower() not in _TRUE + _FALSE:
            raise SettingsError(f"{where} must be true or false, got {replay[:40]!r}")
        replay = replay.strip().lower() in _TRUE
    values["replay"] = bool(replay)
    values["batch"] = _batch(get, values)
    return RunSettings(**values)


def _batch(get: Callable[[str], tuple[str, Any]], values: Mapping[str, Any]) -> bool:
    """``--moral-batch`` (or its ini option), checked against the settings it cannot go with."""
    where, batch = get("batch")
    if isinstance(batch, str):
        if batch.strip().lower() not in _TRUE + _FALSE:
            raise SettingsError(f"{where} must be true or false, got {batch[:40]!r}")
        batch = batch.strip().lower() in _TRUE
    if not batch:
        return False
    if values["replay"]:
        raise SettingsError(f"{where} sends batches, and --moral-replay sends nothing: use one of them")
    if values.get("cache", "readwrite") != "readwrite":
        raise SettingsError(
            f"{where} keeps its batches and their answers in the response cache: it needs --moral-cache=readwrite, "
            f"not {values['cache']}"
        )
    return True


def names_given(raw: Any) -> tuple[str, ...]:
    """The names of a repeatable option that also takes comma lists, in order, each once."""
    given = raw if isinstance(raw, (list, tuple)) else [raw] if raw else []
    return tuple(dict.fromkeys(name.strip() for value in given for name in str(value).split(",") if name.strip()))


def comparison(lookup: Callable[[str], tuple[str, Any]], models: tuple[str, ...]) -> dict[str, Any]:
    """``--moral-gate``, ``--moral-reference`` and ``--moral-baseline-api-base``, checked against
    the models of the run."""
    values: dict[str, Any] = {}
    where, raw = lookup("gate")
    values["gate"] = names_given(raw)
    for name in values["gate"]:
        if name not in models:
            raise SettingsError(f"{where}: {name!r} is not a model of this run ({', '.join(models) or 'none'})")
    where, raw = lookup("reference")
    reference = str(raw).strip() if raw else None
    if reference and reference not in models:
        raise SettingsError(f"{where}: {reference!r} is not a model of this run ({', '.join(models) or 'none'})")
    if reference and len(models) < 2:
        raise SettingsError(f"{where}: a reference needs another model to hold against it (--moral-model twice)")
    values["reference"] = reference or None
    where, raw = lookup("baseline_api_base")
    values["baseline_api_base"] = (str(raw).strip() if raw else "") or None
    return values


def _unusable(model: str, values: Mapping[str, Any]) -> str | None:
    """Why the chosen ``--moral-client`` cannot rate with ``model``, or None."""
    if values.get("client", "auto") == "auto":
        return None
    from .clients import unusable  # the clients are imported only where one was chosen

    return unusable(model, values["client"])


def parse_report(where: str, spec: Any) -> tuple[str, str]:
    """``json:PATH``, ``html:PATH`` or ``md:PATH`` -> ``(kind, path)``."""
    kind, sep, path = str(spec).strip().partition(":")
    if not sep or kind not in REPORT_KINDS or not path.strip():
        raise SettingsError(f"{where} must be json:PATH, html:PATH or md:PATH, got {str(spec)[:60]!r}")
    return kind, path.strip()


def check_setting(label: str, name: str, value: Any) -> Any:
    """Validate one value given for setting ``name`` (e.g. from a marker); ``label`` names where it
    came from in the error. Raises :class:`SettingsError`."""
    if name in LIMITS:
        cast, low, high = LIMITS[name]
        return _number(label, value, cast, low, high)
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{label} must be a non-empty string, got {str(value)[:40]!r}")
    unknown = unknown_offline_model(value.strip()) if name == "model" else None
    if unknown:
        raise SettingsError(f"{label}: {unknown}")
    return value.strip()


def setting_warnings(settings: RunSettings) -> list[SettingsWarning]:
    """What in ``settings`` works but does not do what was likely meant."""
    found: list[SettingsWarning] = []
    if settings.samples > 1 and settings.temperature == 0 and settings.scoring == "text":
        found.append(
            SamplingWarning(
                f"--moral-samples {settings.samples} at temperature 0: a deterministic model gives every sample "
                "the same answer, so the samples cost calls and measure no noise; set --moral-temperature "
                "(e.g. 0.7)"
            )
        )
    if settings.cache_ttl is not None and settings.replay:
        found.append(
            SettingsWarning(
                "--moral-cache-ttl with --moral-replay: replay uses every recorded answer, whatever its age "
                "(nothing could be asked again)"
            )
        )
    if settings.baseline_model and settings.baseline_model == settings.model:
        found.append(
            SettingsWarning(
                f"--moral-baseline-model is the model under test ({settings.model}): no baseline is shown; "
                "name another model as the yardstick"
            )
        )
    return found


def unusable_cache_dir(settings: RunSettings) -> str | None:
    """Why the response cache cannot live in ``--moral-cache-dir``, or None: found now, before any
    call is made, rather than as an INTERNALERROR when the first answer is to be kept."""
    if not settings.cache_dir or settings.cache == "off":
        return None
    from .cache import unusable_folder

    why = unusable_folder(settings.cache_dir, settings.cache_mode)
    if why is None:
        return None
    where = f"{flag('cache_dir')} / {ini_name('cache_dir')}"
    return f"the response cache cannot be kept in {settings.cache_dir!r} ({where}): {why}"


@dataclass(frozen=True)
class Output:
    """A file the run writes: how it was asked for (``--moral-report json:out.json``) and where it
    goes, against the folder pytest was started in, symlinks resolved."""

    label: str
    given: Path
    path: Path


def outputs(settings: RunSettings, base: Path, where: Callable[[str], str] = flag) -> tuple[Output, ...]:
    """The files the run writes (``--moral-save``, each ``--moral-report``); ``where(setting)``
    names how a setting was given (its flag, by default)."""

    def asked(name: str, value: str) -> str:
        given = where(name)
        return f"{given} {value}" if given.startswith("--") else f"{given} = {value}"

    found = [(asked("save", settings.save), settings.save)] if settings.save else []
    found += [(asked("report", f"{kind}:{path}"), path) for kind, path in settings.reports]
    written = []
    for label, path in found:
        given = base / path
        try:
            resolved = given.resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL: writing it says why
            resolved = given
        written.append(Output(label, given, resolved))
    return tuple(written)


def overwritten_input(
    written: Iterable[Output], globs: Iterable[str] = (), inputs: Mapping[Path, str] | None = None
) -> str | None:
    """Why a file the run writes would replace one it reads, or None: a file whose name matches a
    ``moral_files`` glob (a pair file, or one the next run would collect as a broken one), or one
    of ``inputs`` (resolved path -> what it is, e.g. "the persona file moral/us.personas.yaml")."""
    globs = tuple(globs)
    for output in written:
        what = (inputs or {}).get(output.path)
        if what is not None:
            return f"{output.label} would overwrite {what}; write it under another name"
        for path in dict.fromkeys((output.given, output.path)):
            pattern = next((g for g in globs if fnmatch.fnmatch(path.name, g)), None)
            if pattern is None:
                continue
            whose = "its name" if path == output.given else f"it links to {path}, whose name"
            why = f"({whose} matches moral_files {pattern!r})"
            done = "overwrite a pair file" if path.exists() else "write a file the next run collects as a pair file"
            return f"{output.label} would {done} {why}; write it under another name"
    return None


#: What the ``moralpairs`` marker takes: per-test settings of the moral_rate / moral_pair fixtures.
MARKER_KEYS = ("model", "threshold", "api_base", "temperature", "timeout")
MARKER_HELP = (
    "moralpairs(model=None, threshold=None, api_base=None, temperature=None, timeout=None): "
    "moral-pair settings for one test (used by the moral_rate / moral_pair fixtures)"
)


def marker_overrides(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The validated arguments of a ``moralpairs`` marker (those given as None left out); raises
    :class:`SettingsError` for a positional or unknown argument, or a value out of range."""
    unknown = sorted(set(kwargs) - set(MARKER_KEYS))
    if unknown or args:
        got = ", ".join([*(repr(a) for a in args), *unknown])
        takes = ", ".join(MARKER_KEYS)
        raise SettingsError(f"the moralpairs marker takes only the keyword arguments {takes}; got {got}")
    return {
        key: check_setting(f"moralpairs marker argument {key}", key, value)
        for key, value in kwargs.items()
        if value is not None
    }
