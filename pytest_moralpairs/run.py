"""One pytest run's moral state: settings, the engine, and the results to summarise.

Kept on the pytest config by the plugin. It reaches pytest only through ``config.hook`` and
``config.stash``-free attributes, so it stays importable (and usable) without pytest internals.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import importlib
import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from .pairs import Pair
from .prompt import DEFAULT_PROMPT, SCALE_MAX, SCALE_MIN, Message, PromptTemplate
from .providers import PROVIDER as OFFLINE_PROVIDER
from .request import ModelSettings, RatingRequest, Usage, cache_key, call_kwargs
from .settings import RunSettings, SettingsError
from .stats import BUDGET_KEYS, FAILED, INCONCLUSIVE, PASSED, GapDifference, finite, paired_gap_difference, rounded
from .validation import shorten


@dataclass(frozen=True)
class PairRequests:
    """The requests one pair needs: each sentence once per sample; with a baseline model each
    sentence once more for it; with personas each sentence once per sample and persona."""

    harmful: tuple[RatingRequest, ...]
    harmless: tuple[RatingRequest, ...]
    baseline: tuple[RatingRequest, RatingRequest] | None = None
    #: ``(persona id, harmful samples, harmless samples)`` per persona rated.
    personas: tuple[tuple[str, tuple[RatingRequest, ...], tuple[RatingRequest, ...]], ...] = ()

    @property
    def all(self) -> tuple[RatingRequest, ...]:
        by_persona = tuple(r for _, harmful, harmless in self.personas for r in harmful + harmless)
        return self.harmful + self.harmless + (self.baseline or ()) + by_persona


if TYPE_CHECKING:
    # The engine and the cache are loaded when the first rating is needed: collecting, or
    # running only Python tests, needs neither.
    from .cache import ResponseCache
    from .engine import Rating, RatingEngine
    from .faults import Wait
    from .personas import Persona
    from .survey import HumanRatings
    from .verdicts import Verdict


@dataclass
class PairRatings:
    """What :meth:`MoralRun.rate_pair` found: the samples of each sentence, the baseline model's
    ratings (or None), and per persona id the samples of each sentence."""

    harmful: list[Rating]
    harmless: list[Rating]
    baseline: tuple[Rating, Rating] | None = None
    personas: dict[str, tuple[list[Rating], list[Rating]]] = field(default_factory=dict)


#: The run's own answer store in :attr:`MoralRun.shared_folder`.
SHARED_FILE_NAME = "answers.sqlite3"


class MoralRun:
    def __init__(
        self,
        settings: RunSettings,
        config: Any,
        engine: RatingEngine | None = None,
        cache_dir: Path | None = None,
        make_cache_dir: Callable[[], Any] | None = None,
    ):
        """``cache_dir`` is where the response cache lives when the settings name no folder (the
        plugin gives moralpairs/ in pytest's cache directory; None: no cache then); before a
        cache is made there, ``make_cache_dir()`` is called (pytest's cache plugin makes its folder
        with the files that keep it out of version control)."""
        self.settings = settings
        self.config = config
        self._engine = engine
        self._default_cache_dir = cache_dir
        self._make_cache_dir = make_cache_dir
        self.results: list[dict[str, Any]] = []
        self.usage_reported = Usage()
        self.usage_seen = Usage()
        self.prefetched = False
        self.progress: Callable[[int, int], None] | None = None
        #: Told when a call starts to wait before its next try (see ``RatingEngine``'s ``waiting``).
        self.waiting: Callable[[Wait], None] | None = None
        #: Modules to import while a prefetch's calls are in flight, and the thread importing them.
        self._meanwhile: list[str] = []
        self._loading: threading.Thread | None = None
        #: True while the batch of every selected pair is rated (``--moral-batch`` sends that one).
        self._prefetching = False
        #: The calls :meth:`start_prefetch` started, done when they all are.
        self._started: Any = None
        #: Under pytest-xdist: which worker asks for each request of the first batch (by key).
        self._dealt: dict[str, int] = {}
        #: Set once the engine's calls go out (or there were none to make).
        self._calls_out = threading.Event()
        #: Under pytest-xdist: ``(worker index, worker count)``; each worker asks only for its share.
        self.share: tuple[int, int] | None = None
        #: Under pytest-xdist: the folder of the run's own answer store, where the workers leave
        #: their answers for each other when the response cache does not (off, read-only).
        self.shared_folder: str | None = None
        self._own_shared_folder = False
        #: When the run started (under xdist: the controller's start): a cached answer stored
        #: since is one of this run's calls, counted as fresh where it was made.
        self.started = time.time()
        #: What each xdist worker's engine counted of the model versions that answered.
        self.served_from_workers: list[dict[str, Any]] = []
        self._backend: Any = None
        self._kwargs: dict[RatingRequest, dict[str, Any] | Exception] = {}
        self._previous: dict[str, dict[str, Any]] | None = None
        #: The default voice's messages per (sentence, prompt, pair): the hook is asked once.
        self._default_voice: dict[tuple[str, PromptTemplate, int], tuple[Message, ...]] = {}
        #: The saved results by :func:`_moved_key`: found when a pair file moved to another folder.
        self._previous_moved: dict[tuple[str, str, str], dict[str, Any]] = {}
        #: The ``--moral-compare`` document, once loaded.
        self.compared_with: dict[str, Any] | None = None
        #: The suites ``--moral-suite`` named, resolved (:class:`~pytest_moralpairs.suites.sources.SuiteSource`).
        self.suite_sources: tuple[Any, ...] = ()
        #: People's ratings (``--moral-human-ratings``), given to the pairs as they are collected.
        self.human_ratings: HumanRatings | None = None
        #: Seed of the generated checks: the one given, else a new one each run (shown on failure).
        self.seed: int = settings.seed if settings.seed is not None else random.randrange(2**32)
        #: In CI (the ``CI`` environment variable set) generation is derandomised: same examples
        #: every run, and no example database.
        # Presence, as Hypothesis itself decides (it then turns its database off).
        self.derandomize = "CI" in os.environ or "TF_BUILD" in os.environ
        #: The model profiles of the ini option ``moral_models`` (name -> :class:`~.profiles.Profile`).
        self.profiles: dict[str, Any] = {}
        #: Every ``--moral-model``, resolved (:meth:`resolve_models`); the first is the default one.
        self.models: tuple[ModelSettings, ...] = ()

    # --- engine wiring -------------------------------------------------------------------

    @property
    def engine(self) -> RatingEngine:
        """Built on first use, so a run that rates nothing opens no cache file."""
        if self._engine is None:
            from .engine import RatingEngine
            from .faults import RetryPolicy
            from .limits import Limits

            cache = self._open_cache()
            waiting = lambda wait: self.waiting(wait) if self.waiting else None  # noqa: E731
            self._engine = RatingEngine(
                parse=self._parse,
                concurrency=self.concurrency,
                # Adaptive per model; the caps are the run's, each worker keeping to its part.
                limits=Limits(
                    self.concurrency,
                    self.settings.rpm,
                    self.settings.tpm,
                    workers=self.share[1] if self.share is not None else 1,
                    waiting=waiting,
                ),
                make_complete=self._make_completer,
                cache=cache,
                shared=self._open_shared(cache),
                others=self.share is not None,
                replay=self.settings.replay,
                retry=RetryPolicy(retries=self.settings.retries, max_retry_after=self.settings.max_retry_after),
                max_cost=self.settings.max_cost,
                key=self._cache_key,
                progress=self._progressed,
                waiting=waiting,
                # The yardstick's and the non-gating models' failures never stop the run.
                advisory=self.advisory_models(),
                mismatch=self.settings.cache_mismatch,
                fresh_since=self.started,
                counts=self.owned if self.share is not None else None,
            )
        return self._engine

    @property
    def fatal(self) -> str | None:
        """Why the run must stop (a model under test refused the credentials or gives no
        log-probs), or None; never builds the engine."""
        return self._engine.fatal if self._engine is not None else None

    @property
    def concurrency(self) -> int:
        """The calls this process may have in flight: ``--moral-concurrency`` is the run's, so an
        xdist worker takes its part of it (at least one). With several models each has its own
        limit (:meth:`resolve_models`), and the run's is their sum."""
        total = self.settings.concurrency
        if len(self.models) > 1:
            return sum(m.concurrency or 1 for m in self.models)
        return self._part(total)

    def _part(self, total: int) -> int:
        if self.share is None:
            return total
        index, count = self.share
        part, left = divmod(total, count)
        return max(1, part + (1 if index < left else 0))

    # --- the models of the run -------------------------------------------------------------

    def resolve_models(self) -> None:
        """Every ``--moral-model`` as :class:`ModelSettings`: a profile's, else the bare model
        string with the run's options. Raises :class:`~.profiles.UnknownModel` or
        :class:`SettingsError` for a model that cannot be rated."""
        from .profiles import run_models

        models = run_models(
            self.settings.models, self.profiles, self._defaults(), self.settings.concurrency, self._part
        )
        if self.settings.client != "auto":
            from .clients import unusable

            for model in models:
                why = unusable(model.model, self.settings.client)
                if why:
                    raise SettingsError(f"--moral-model {model.label}: {why}")
        self.models = tuple(models)

    def _defaults(self) -> dict[str, Any]:
        settings = self.settings
        return {"api_base": settings.api_base, "temperature": settings.temperature, "timeout": settings.timeout}

    @property
    def labels(self) -> tuple[str, ...]:
        """The models' names when the run rates several (each pair an item per model), else ()."""
        return tuple(m.label for m in self.models) if len(self.models) > 1 else ()

    def model_settings(self, label: str | None = None, **overrides: Any) -> ModelSettings:
        """The model named ``label`` (default: the first), with a marker's overrides applied; a
        marker's ``model`` may name a profile too."""
        if overrides.get("model"):
            from .profiles import UnknownModel, model_settings

            try:
                model = model_settings(overrides["model"], self.profiles, **self._defaults())
            except UnknownModel as exc:
                raise SettingsError(str(exc)) from None
        elif label is not None:
            model = next(m for m in self.models if m.label == label)
        elif self.models:
            model = self.models[0]
        else:
            return self.settings.model_settings(**overrides)
        changed = {k: overrides[k] for k in ("api_base", "temperature", "timeout") if k in overrides}
        return replace(model, **changed) if changed else model

    def gating(self, model: ModelSettings) -> bool:
        """Whether this model's failures fail the run (``--moral-gate``; every model by default)."""
        return len(self.models) < 2 or self.settings.gates_model(model.label)

    def reference_model(self) -> ModelSettings | None:
        """The ``--moral-reference`` model, or None."""
        name = self.settings.reference
        return next((m for m in self.models if m.label == name), None) if name else None

    def advisory_models(self) -> list[str]:
        """Model strings whose refused credentials stop only their own calls: the baseline model
        and the models that do not gate (unless a gating model uses the same string)."""
        gating = {m.model for m in self.models if self.gating(m)} or {self.settings.model}
        named = [m.model for m in self.models if not self.gating(m)]
        baseline = self.baseline_model(self.models[0]) if self.models else None
        named += [baseline.model] if baseline is not None else []
        return [name for name in dict.fromkeys(named) if name not in gating]

    def limits_status(self) -> str | None:
        """What the progress line says of the calls' pace (``concurrency 4 of 16`` once it backed
        off), or None; never builds the engine."""
        return self._engine.limits.describe() if self._engine is not None else None

    def shared_folder_for_workers(self) -> str | None:
        """The folder (made now, removed when the run closes) where xdist workers leave their
        answers for each other, or None when no worker will make a call (no model, replay)."""
        if self.shared_folder is None and self.settings.model and not self.settings.replay:
            self.shared_folder = tempfile.mkdtemp(prefix="moralpairs-run-")
            self._own_shared_folder = True
        return self.shared_folder

    def _open_shared(self, cache: ResponseCache | None) -> ResponseCache | None:
        """The run's own answer store, for a worker whose response cache will not carry answers to
        the other workers (off, read-only, replay aside), or None."""
        if self.shared_folder is None or self.settings.replay or (cache is not None and cache.writable):
            return None
        from .cache import ResponseCache

        with self._cache_warnings_to_pytest():
            return ResponseCache(Path(self.shared_folder) / SHARED_FILE_NAME, mode="readwrite")

    def cache_path(self) -> Path | None:
        """The response cache's file, or None when the run keeps none; nothing is made."""
        if self.settings.cache == "off":
            return None
        from .cache import FILE_NAME

        folder = Path(self.settings.cache_dir) if self.settings.cache_dir else self._default_cache_dir
        return folder / FILE_NAME if folder is not None else None

    def describe_cache(self, base: Path, off_by: str) -> str:
        """Where the response cache is and how it is used, for the run's header (nothing opened):
        its path (relative to ``base`` when inside it) and mode, or that it is off, by ``off_by``."""
        path = self.cache_path()
        if path is None:
            return f"cache off ({off_by})"
        absolute = path.absolute()
        shown = absolute.relative_to(base) if absolute.is_relative_to(base) else absolute
        how = "replay: nothing is sent" if self.settings.replay else self.settings.cache
        if self.settings.cache_ttl is not None and not self.settings.replay:
            from .freshness import duration_text

            how += f", answers older than {duration_text(self.settings.cache_ttl)} asked again"
        return f"cache {shown} ({how})"

    def _open_cache(self) -> ResponseCache | None:
        path = self.cache_path()
        if path is None:
            return None
        if not self.settings.cache_dir and self._make_cache_dir is not None and self.settings.cache_mode == "readwrite":
            self._make_cache_dir()
        from .cache import ResponseCache

        with self._cache_warnings_to_pytest():
            # Replay reads every recorded answer: nothing could be asked again.
            max_age = None if self.settings.replay else self.settings.cache_ttl
            return ResponseCache(path, mode=self.settings.cache_mode, max_age=max_age)

    @contextmanager
    def _cache_warnings_to_pytest(self) -> Iterator[None]:
        """Hand the :class:`CacheWarning` s raised inside to pytest, so its warnings summary shows them.

        The cache is opened, and the prefetch batch runs, in ``pytest_runtestloop``: outside every
        test, where pytest records no warning, so a plain ``warnings.warn`` would only reach stderr
        and never the warnings summary. Other warnings are passed on as they were.
        """
        from .cache import CacheWarning

        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CacheWarning)
                yield
        finally:
            issue = getattr(self.config, "issue_config_time_warning", None)
            for record in caught:
                if issubclass(record.category, CacheWarning) and callable(issue):
                    try:
                        issue(record.message, stacklevel=2)
                    except Warning:
                        # ``filterwarnings = error``: the cache was already replaced, and a cache
                        # problem must not abort the run (an INTERNALERROR here); show it instead.
                        text = warnings.formatwarning(record.message, record.category, record.filename, record.lineno)
                        sys.stderr.write(text)
                else:
                    warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)

    def _configure_call(self, request: RatingRequest, kwargs: dict) -> None:
        try:
            self.config.hook.pytest_moralpairs_completion_kwargs(request=request, kwargs=kwargs, config=self.config)
        except hook_errors() as exc:
            raise HookFailed(hook_raised(KWARGS_HOOK, exc)) from None

    def call_kwargs(self, request: RatingRequest) -> dict[str, Any]:
        """The arguments of the call for ``request``, the hook applied once per request; a hook
        that raised (:class:`HookFailed`) raises again here, each time it is asked."""
        kwargs = self._kwargs_or_failure(request)
        if isinstance(kwargs, Exception):
            raise kwargs
        return dict(kwargs)

    def _kwargs_or_failure(self, request: RatingRequest) -> dict[str, Any] | Exception:
        """The call's arguments, built once (not copied: read them only), or the hook's failure."""
        kwargs = self._kwargs.get(request)
        if kwargs is None:
            try:
                kwargs = call_kwargs(request, self._configure_call)
            except HookFailed as exc:  # reported on the items that need this call, never sent
                kwargs = exc
            self._kwargs[request] = kwargs
        return kwargs

    def _cache_key(self, request: RatingRequest) -> str:
        # A request whose completion_kwargs hook raised is never keyed: _rate_all and owned()
        # take it out first.
        return cache_key(request, self.call_kwargs(request))

    def _make_completer(self) -> Any:
        if self._backend is None:
            from .clients import Clients  # imported when a call is to be made, not with the run

            self._backend = Clients(self.settings.client, kwargs_for=self.call_kwargs)
            if self.settings.batch:
                self._backend = self._batch_completer(self._backend)
        return self._backend

    # --- provider batches (--moral-batch) --------------------------------------------------

    def batch_store(self) -> Any:
        """Where ``--moral-batch`` keeps the batches in flight: beside the response cache."""
        from .batches import FOLDER, BatchStore

        path = self.cache_path()
        return BatchStore(path.parent / FOLDER) if path is not None else None

    def _batch_completer(self, inner: Any) -> Any:
        from .batches import BatchCompleter

        return BatchCompleter(
            inner,
            kwargs_for=self.call_kwargs,
            key=self._cache_key,
            store=self.batch_store(),
            cache=self._engine.cache if self._engine is not None else None,
            poll=self.settings.batch_poll,
            wait=self.settings.batch_wait,
            status=self._batch_status,
            when=lambda: self._prefetching,
        )

    def _batch_status(self, text: str) -> None:
        note = getattr(self.progress, "note", None)
        if note is not None:
            note(text)

    def _not_in_the_batch(self, waited: list[RatingRequest]) -> dict[RatingRequest, Rating]:
        """Under ``--moral-batch`` and pytest-xdist: an error rating for each request another
        worker's batch was to answer and did not (that worker's pairs say why); never sent again
        here, one by one at full price."""
        if not (self.settings.batch and waited):
            return {}
        from .engine import ERROR_NOT_CALLED, Rating

        have = set(self.engine.cached(waited))
        why = "the run's batch (sent by the first worker) did not answer it: its pairs say why; run again"
        return {r: Rating(r, None, None, why, ERROR_NOT_CALLED) for r in waited if r not in have}

    def _batch_running(self) -> bool:
        """Under ``--moral-batch``: whether a batch another process waits for was polled lately
        (so a worker waiting for its answers keeps waiting)."""
        if not self.settings.batch:
            return False
        from .batches import POLL_GROWTH_CAP

        store = self.batch_store()
        return store is not None and store.active(within=2 * self.settings.batch_poll * POLL_GROWTH_CAP + 60.0)

    def _parse(self, text: str, request: RatingRequest) -> float:
        """The first ``pytest_moralpairs_parse_answer`` hook that answers, else the built-in parser.

        Whatever a hook returns is held to the same rule as the built-in parser: one finite
        number on the scale. A hook that raises makes the rating an error (the item ERRORs);
        it must not abort the batch that rates every other pair.
        """
        from .answers import UnparseableAnswer, parse_rating  # rating: not needed to collect

        try:
            value = self.config.hook.pytest_moralpairs_parse_answer(text=text, request=request, config=self.config)
        except UnparseableAnswer:
            raise
        except hook_errors() as exc:  # a broken hook is reported on the item, not the run
            raise UnparseableAnswer(hook_raised(PARSE_HOOK, exc), text) from None
        if value is None:
            return parse_rating(text)
        off_scale = f"outside the scale {SCALE_MIN}..{SCALE_MAX}"
        if isinstance(value, bool):
            raise UnparseableAnswer(f"a {PARSE_HOOK} hook returned {value!r}, not a number", text)
        try:
            number = float(value)
        except OverflowError:  # a whole number no float holds, such as 10**400
            raise UnparseableAnswer(f"a {PARSE_HOOK} hook returned {_shown(value, 40)}, {off_scale}", text) from None
        except Exception:  # noqa: BLE001 - whatever float() of the hook's value raises
            raise UnparseableAnswer(f"a {PARSE_HOOK} hook returned {_shown(value, 40)}, not a number", text) from None
        if not (math.isfinite(number) and SCALE_MIN <= number <= SCALE_MAX):
            raise UnparseableAnswer(f"a {PARSE_HOOK} hook returned {number!r}, {off_scale}", text)
        return number

    # --- requests ------------------------------------------------------------------------

    def messages(
        self, sentence: str, prompt: PromptTemplate | None, pair: Pair | None, persona: Persona | None = None
    ) -> tuple[Message, ...]:
        """The chat messages for ``sentence`` (as ``persona``): the build_messages hook's, else
        the prompt's. Raises :class:`SettingsError` naming the pair (and persona) for a hook that
        raised or returned something that is not messages."""
        prompt = prompt or DEFAULT_PROMPT
        if persona is None:
            # Asked once per sentence and pair: the persona requests compare against it.
            key = (sentence, prompt, id(pair))
            if key not in self._default_voice:
                built = self._hook_messages(sentence, prompt, pair, None)
                self._default_voice[key] = built if built is not None else prompt.messages(sentence)
            return self._default_voice[key]
        built = self._hook_messages(sentence, prompt, pair, persona)
        default_voice = self.messages(sentence, prompt, pair)
        if built is None or built == default_voice:
            # No hook stated the persona: a hook that gives a persona the default voice's very
            # messages does not know personas (e.g. it was written before they existed, without
            # a ``persona`` argument). Rating those as they are would collapse every persona into
            # one answer: a min_spread failure that would be the plugin's, not the model's.
            from .personas import persona_messages

            return persona_messages(persona, default_voice)
        return built

    def _hook_messages(
        self, sentence: str, prompt: PromptTemplate, pair: Pair | None, persona: Persona | None
    ) -> tuple[Message, ...] | None:
        where = (f" for pair {pair.id!r}" if pair is not None else "") + (
            f", persona {persona.id!r}" if persona is not None else ""
        )
        try:
            built = self.config.hook.pytest_moralpairs_build_messages(
                sentence=sentence, prompt=prompt, pair=pair, persona=persona, config=self.config
            )
            if not isinstance(built, (str, bytes, dict)) and hasattr(built, "__iter__"):
                # Read here: a generator runs the hook's own code as it is read.
                built = list(built)
        except hook_errors() as exc:  # reported on the items that need these messages
            raise SettingsError(hook_raised(BUILD_HOOK, exc, where)) from None
        if built is None:
            return None
        messages = _chat_messages(built)
        if isinstance(messages, str):
            raise SettingsError(f"a {BUILD_HOOK} hook {messages}{where}")
        return messages

    def request(
        self,
        sentence: str,
        model: ModelSettings,
        prompt: PromptTemplate | None = None,
        pair: Pair | None = None,
        sample: int = 0,
        persona: Persona | None = None,
    ) -> RatingRequest:
        from .answers import LOGPROB_OPTIONS

        options = LOGPROB_OPTIONS if self.settings.scoring == "logprobs" else ()
        # Only when set (the cache keys of other runs stay as they were), and not to the offline
        # model, which does not think (a baseline of moralpairs/lexical beside a reasoning model).
        if self.settings.reasoning_effort and not model.model.startswith(f"{OFFLINE_PROVIDER}/"):
            options += (("reasoning_effort", self.settings.reasoning_effort),)
        messages = self.messages(sentence, prompt, pair, persona)
        return RatingRequest(model=model, messages=messages, sentence=sentence, sample=sample, options=options)

    def samples(
        self,
        sentence: str,
        model: ModelSettings,
        prompt: PromptTemplate | None = None,
        pair: Pair | None = None,
        persona: Persona | None = None,
    ) -> tuple[RatingRequest, ...]:
        """One request per sample (``--moral-samples``); each sample is its own cache entry."""
        first = self.request(sentence, model, prompt, pair, persona=persona)
        return (first,) + tuple(replace(first, sample=i) for i in range(1, self.settings.samples))

    def baseline_model(self, model: ModelSettings) -> ModelSettings | None:
        """The yardstick (``--moral-baseline-model``: a profile, or a model string), asked like the
        model under test, on its own server (``--moral-baseline-api-base``); never gating."""
        name = self.settings.baseline_model
        if not name or name in (model.model, model.label):
            return None
        from .profiles import model_settings

        defaults = {"api_base": self.settings.baseline_api_base, "temperature": model.temperature}
        return model_settings(name, self.profiles, **defaults, timeout=model.timeout)

    def baseline_requests(
        self,
        harmful: str,
        harmless: str,
        model: ModelSettings,
        prompt: PromptTemplate | None = None,
        pair: Pair | None = None,
    ) -> tuple[RatingRequest, RatingRequest] | None:
        """The reference model's requests for both sentences (one sample, text scoring: the
        baseline is a fixed yardstick), or None without ``--moral-baseline-model``."""
        reference = self.baseline_model(model)
        if reference is None:
            return None
        return (
            RatingRequest(reference, self.messages(harmful, prompt, pair), harmful),
            RatingRequest(reference, self.messages(harmless, prompt, pair), harmless),
        )

    def pair_requests(self, pair: Pair, model: ModelSettings) -> PairRequests:
        from .personas import rated_personas

        return PairRequests(
            harmful=self.samples(pair.harmful, model, pair.prompt, pair),
            harmless=self.samples(pair.harmless, model, pair.prompt, pair),
            baseline=self.baseline_requests(pair.harmful, pair.harmless, model, pair.prompt, pair),
            personas=tuple(
                (
                    persona.id,
                    self.samples(pair.harmful, model, pair.prompt, pair, persona),
                    self.samples(pair.harmless, model, pair.prompt, pair, persona),
                )
                for persona in rated_personas(pair)
            ),
        )

    def shares_answers(self) -> bool:
        """Whether answers this process gets reach the others: through a cache that records them,
        else through the run's own store (xdist). In replay nothing is asked, so no worker may wait
        for another's answers: each reads what it needs."""
        if self.settings.replay:
            return False
        cache = self.engine.cache
        return self.engine.shared is not None or (cache is not None and cache.enabled and cache.writable)

    def owned(self, request: RatingRequest) -> bool:
        """Whether this process asks for ``request`` (always, unless the work is shared out)."""
        if self.share is None or not self.shares_answers() or self._unsendable(request) is not None:
            return True
        index, count = self.share
        if self.settings.batch:
            return index == 0  # one batch for the run: the first worker sends it, the others wait
        key = self.engine.key(request)
        dealt = self._dealt.get(key)
        return (dealt if dealt is not None else int(key[:12], 16) % count) == index

    def _deal(self, requests: list[RatingRequest]) -> None:
        """Under pytest-xdist: deal the first batch's requests out to the workers in turn, each
        model's by their sorted keys. Every worker collected the same items, so each deals alike,
        and the workers' shares differ by one call at most (a split by the keys' hash left one of
        two workers some twenty calls more of 2,000: waves of calls after the other was done).
        Later requests (fixtures, generated examples) are split by hash."""
        if self.share is None or not self.shares_answers() or self.settings.batch:
            return
        by_model: dict[str, set[str]] = {}
        for request in requests:
            if self._unsendable(request) is None:
                by_model.setdefault(request.model.model, set()).add(self.engine.key(request))
        count = self.share[1]
        for keys in by_model.values():
            self._dealt.update((key, turn % count) for turn, key in enumerate(sorted(keys)))

    def prefetch(self, requests: Iterable[RatingRequest], meanwhile: Iterable[str] = ()) -> None:
        """Rate, in one concurrent batch, every request this process owns; once its calls are
        in flight, import the modules ``meanwhile`` names (this thread only waits then)."""
        self.prefetched = True
        self._meanwhile = list(meanwhile)
        self._prefetching = True
        try:
            with self._cache_warnings_to_pytest():
                requests = list(requests)
                self._deal(requests)
                self._rate_all(r for r in requests if self.owned(r))
                if self.settings.cache_mismatch == "error" and self.share is not None and self.shares_answers():
                    # Every worker judges a mix of versions by the whole batch's answers: the other
                    # workers' too, read once they are in.
                    theirs = [r for r in requests if not self.owned(r)]
                    self.await_others(theirs)
                    self._rate_all(theirs)
                    self.engine.recheck_mixed()
        finally:
            self._meanwhile = []
            self._prefetching = False
            loading, self._loading = self._loading, None
            if loading is not None:
                # Joined before anything else is imported here: pytest's assertion rewriter is not
                # meant for two threads importing at once.
                loading.join()

    def streams_its_batch(self) -> bool:
        """Whether an xdist worker may run its items while its batch is in flight
        (:meth:`start_prefetch`): not when the batch must be whole first, as a provider batch
        (``--moral-batch``) or the check of model versions across every worker's answers
        (``--moral-cache-mismatch=error``) needs it."""
        return not self.settings.batch and self.settings.cache_mismatch != "error"

    def start_prefetch(self, requests: Iterable[RatingRequest]) -> None:
        """Start the calls of every request this process owns, and return (an xdist worker's
        batch): its items run as their ratings arrive, meanwhile. :meth:`finish_prefetch` waits
        for the calls, which other workers may be waiting for."""
        self.prefetched = True
        with self._cache_warnings_to_pytest():
            requests = list(requests)
            self._deal(requests)
            owned = [r for r in requests if self.owned(r) and self._unsendable(r) is None]
            self._started = self.engine.start(owned)

    def wait_for_calls_out(self, at_most: float = 1.0) -> None:
        """Wait (``at_most`` seconds) until the calls :meth:`start_prefetch` started go out:
        until then the engine's thread is making its client and the requests, and work on this
        thread (an import) would hold it up, both needing the one interpreter lock."""
        started = self._started
        if started is None:
            return
        started.add_done_callback(lambda _: self._calls_out.set())
        self._calls_out.wait(at_most)

    @property
    def calls_started(self) -> bool:
        """Whether calls :meth:`start_prefetch` started may still be under way."""
        return self._started is not None

    def finish_prefetch(self, stop: bool = False) -> None:
        """Wait for the calls :meth:`start_prefetch` started; with ``stop`` (the run stops early),
        for those in flight only: no waiting call is started."""
        started, self._started = self._started, None
        if started is None:
            return
        if stop:
            self.engine.interrupted = True
        started.result()

    def _progressed(self, done: int, total: int) -> None:
        """The engine's progress (on its thread): shown, and the first time calls go out in a
        prefetch, the imports it waits on started."""
        if total:
            self._calls_out.set()
        if self._meanwhile and self._loading is None and total:
            self._loading = _import_in_background(self._meanwhile)
        if self.progress is not None:
            self.progress(done, total)

    def rate_pair(self, requests: PairRequests) -> PairRatings:
        """The ratings of every request of the pair, in the shape of the requests."""
        wanted = requests.all
        waited = [r for r in wanted if not self.owned(r)]
        self.await_others(waited)
        left = self._not_in_the_batch(waited)
        ratings = self._rate_all(r for r in wanted if r not in left)
        ratings.update(left)
        baseline = None
        if requests.baseline is not None:
            baseline = (ratings[requests.baseline[0]], ratings[requests.baseline[1]])
        return PairRatings(
            harmful=[ratings[r] for r in requests.harmful],
            harmless=[ratings[r] for r in requests.harmless],
            baseline=baseline,
            personas={
                persona: ([ratings[r] for r in harmful], [ratings[r] for r in harmless])
                for persona, harmful, harmless in requests.personas
            },
        )

    def rate_samples(self, *sentences: tuple[RatingRequest, ...]) -> list[list[Rating]]:
        """Rate groups of sample requests in one batch; the ratings in the same shape."""
        ratings = self._rate_all(r for group in sentences for r in group)
        return [[ratings[r] for r in group] for group in sentences]

    def _rate_all(self, requests: Iterable[RatingRequest]) -> dict[RatingRequest, Rating]:
        """The engine's ratings of ``requests``, but for those whose call cannot be made: an error
        rating each, never sent (and so never tried again)."""
        wanted = list(dict.fromkeys(requests))
        unsendable = {r: rating for r in wanted if (rating := self._unsendable(r)) is not None}
        ratings = self.engine.rate_all(r for r in wanted if r not in unsendable)
        return {r: unsendable[r] if r in unsendable else ratings[r] for r in wanted}

    def _unsendable(self, request: RatingRequest) -> Rating | None:
        """The error rating of a request whose completion_kwargs hook raised, else None."""
        failure = self._kwargs_or_failure(request)
        if isinstance(failure, Exception):
            from .engine import ERROR_NOT_CALLED, Rating

            return Rating(request, None, None, str(failure), ERROR_NOT_CALLED)
        return None

    def await_others(self, requests: list[RatingRequest], poll: float = 0.05) -> None:
        """Wait for another worker to put the answers to ``requests`` in the shared cache (or the
        run's own store).

        Gives up (and lets this worker make the calls) once the store has not grown for as long
        as the slowest single call could take: the owner is gone or slower than a call.
        """
        store = self.engine.shared if self.engine.shared is not None else self.engine.cache
        if not requests or store is None or not self.shares_answers():
            return
        patience = max(r.model.timeout for r in requests) * (self.settings.retries + 1) + 5.0
        size, last_growth = -1, time.monotonic()
        while True:
            if self.engine.fatal:
                return  # this worker's own calls found the run must stop: so will the others'
            have = set(self.engine.cached(requests))
            missing = [r for r in requests if r not in have]
            if not missing:
                return
            now_size = len(store)
            if now_size != size:
                size, last_growth = now_size, time.monotonic()
            elif time.monotonic() - last_growth > patience and not self._batch_running():
                return
            requests = missing
            time.sleep(poll)

    # --- verdicts ------------------------------------------------------------------------

    def verdict(
        self,
        pair_id: str,
        harmful: Rating | Sequence[Rating],
        harmless: Rating | Sequence[Rating],
        threshold: float | None,
        pair: Pair | None = None,
    ) -> Verdict:
        """Judge the ratings (one, or every sample) of both sentences; raises :class:`RatingError`
        when any of them has no value."""
        from .engine import Rating, RatingError
        from .verdicts import judge

        for ratings, side in ((harmful, "harmful"), (harmless, "harmless")):
            for rating in (ratings,) if isinstance(ratings, Rating) else ratings:
                if not rating.ok:
                    raise RatingError(rating, side)
        human_harmful = pair.human_harmful if pair else None
        human_harmless = pair.human_harmless if pair else None
        sources = {h.source for h in (human_harmful, human_harmless) if h is not None and h.source}
        return judge(
            pair_id,
            harmful,
            harmless,
            self.settings.threshold if threshold is None else threshold,
            human_harmful=human_harmful.mean if human_harmful else None,
            human_harmless=human_harmless.mean if human_harmless else None,
            source="; ".join(sorted(sources)) or None,
            confidence=self.settings.confidence,
        )

    def gates(self, verdict: Verdict) -> bool:
        """Whether the verdict fails its test: a failure, or an inconclusive one when the run
        says ``--moral-inconclusive=fail``."""
        if verdict.outcome == FAILED:
            return True
        return verdict.outcome == INCONCLUSIVE and self.settings.inconclusive == "fail"

    def describe(
        self,
        result: dict[str, Any],
        nodeid: str,
        kind: str,
        baseline: tuple[Rating, Rating] | None = None,
        personas: Any = None,
        prompt: PromptTemplate | None = None,
        *,
        label: str | None = None,
        reference: Any = None,
    ) -> dict[str, Any]:
        """A verdict's result dict for reports, completed with where it comes from, how it was
        scored, the baseline model's ratings, the verdict across personas (a
        :class:`~pytest_moralpairs.personas.PersonaVerdict`), the change against the saved run,
        and, with several models, which model (``label``) and the check against the reference
        (a :class:`~pytest_moralpairs.reference.ReferenceCheck`)."""
        suite = nodeid.split("::", 1)[0]
        result = dict(result, nodeid=nodeid, suite=suite, kind=kind, scoring=self.settings.scoring)
        if label is not None:
            result["model_name"] = label
            result["gating"] = self.settings.gates_model(label)
        if reference is not None:
            result["reference"] = reference.to_dict()
            if reference.lost and result.get("outcome") != "error":
                result["outcome"] = FAILED  # counted as a failure by the totals and the suite gate too
        result.setdefault("confidence", self.settings.confidence)
        result["personas"] = personas.to_dict() if personas is not None else None
        result["persona_outcome"] = personas.outcome if personas is not None else None
        if personas is not None and not personas.passed and result.get("outcome") != "error":
            # The test fails: counted as a failure by the totals and the suite gate too.
            result["outcome"] = FAILED
        if baseline is not None and not (baseline[0].ok and baseline[1].ok):
            failed = baseline[0] if not baseline[0].ok else baseline[1]
            result["baseline_error"] = f"{failed.request.model.model}: {failed.error}"
        if baseline is not None and baseline[0].ok and baseline[1].ok:
            low, high = float(baseline[0].value), float(baseline[1].value)  # type: ignore[arg-type]
            result["baseline"] = {
                "model": baseline[0].request.model.model,
                "harmful_rating": low,
                "harmless_rating": high,
                "gap": rounded(high - low),
            }
        # The pair's own prompt template (the default when it names none): a saved run tells which.
        result["prompt_hash"] = (prompt or DEFAULT_PROMPT).digest
        previous = self.previous(nodeid, str(result.get("pair_id")), result.get("harmful"), result.get("harmless"))
        if self.settings.compare:
            result["previous"] = None  # compared, and new since the saved run
        if previous is not None:
            from .report.document import count_of, one_of, persona_summary, within

            # A saved run is a file anyone may have edited: what is not of the documented shape
            # is unknown, so the comparison (and the report that carries it) stays valid.
            before = within(previous.get("gap"), -2 * SCALE_MAX, 2 * SCALE_MAX)
            result["previous"] = {
                "gap": before,
                "outcome": one_of(previous.get("outcome"), (PASSED, FAILED, INCONCLUSIVE, "error")),
                "prompt_hash": one_of(previous.get("prompt_hash")),
                "personas": persona_summary(previous.get("personas")),
            }
            result["previous"]["samples"] = count_of(previous.get("samples"))
            gap = result.get("gap")
            if finite(gap) is not None and before is not None:
                result["gap_change"] = rounded(gap - before)
                limit = self.settings.compare_fail
                result["regressed"] = limit is not None and result["gap_change"] < -limit
                change = self.sampled_change(result, previous)
                if change is not None:
                    # Samples on both sides: noise must not fail a release, so a pair regresses
                    # only when the whole interval of the change lies below -limit.
                    result.update(gap_change=change.estimate, gap_change_low=change.low, gap_change_high=change.high)
                    result["regressed"] = limit is not None and change.wholly_below(limit)
                if result["regressed"]:
                    # The test fails: counted as a failure by the totals and the suite gate too.
                    result["outcome"] = FAILED
        # The final outcome decides: a pair failed across its personas or regressed is not passed.
        result["passed"] = result.get("outcome") == PASSED
        return result

    def sampled_change(self, result: dict[str, Any], previous: dict[str, Any]) -> GapDifference | None:
        """The paired bootstrap of the gap's change against the saved pair, when both runs rated
        each sentence more than once; None otherwise (the raw gaps are compared then)."""
        from .report.document import samples_of

        now = [samples_of(list(result.get(f"{side}_samples") or ())) for side in ("harmful", "harmless")]
        before = [samples_of(previous.get(f"{side}_samples")) for side in ("harmful", "harmless")]
        if any(s is None or len(s) < 2 for s in (*now, *before)):
            return None
        seed = zlib.crc32(f"{result.get('harmful')}\x00{result.get('harmless')}".encode())
        return paired_gap_difference(*now, *before, confidence=self.settings.confidence, seed=seed)  # type: ignore[misc]

    # --- the saved run to compare with -----------------------------------------------------

    def load_previous(self) -> None:
        """Read the ``--moral-compare`` run (once); raises DocumentError naming the file."""
        if self._previous is not None or not self.settings.compare:
            return
        from .report.document import index_pairs, load_document, pair_key

        document = load_document(self.settings.compare)
        self.compared_with = document
        self._previous = index_pairs(document)
        moved: dict[tuple[str, str, str], Any] = {}
        for result in self._previous.values():
            key = _moved_key(pair_key(result), result.get("harmful"), result.get("harmless"))
            if key is not None:
                moved[key] = None if key in moved else result  # None: ambiguous
        self._previous_moved = {k: v for k, v in moved.items() if v is not None}

    def previous(self, nodeid: str, pair_id: str, harmful: Any = None, harmless: Any = None) -> dict[str, Any] | None:
        """This pair's result in the ``--moral-compare`` run, or None (a new pair, or no compare).

        Found by test id; failing that (the pair file moved to another folder), by the file's name,
        the pair's id and both its sentences, when they name one saved pair only: a pair of another
        folder's file of the same name, with other sentences, is another pair.
        """
        if not self.settings.compare:
            return None
        from .report.document import pair_key

        self.load_previous()
        key = pair_key({"nodeid": nodeid, "pair_id": pair_id})
        found = self._previous.get(key)
        if found is None:
            moved = _moved_key(key, harmful, harmless)
            found = self._previous_moved.get(moved) if moved is not None else None
        return found if isinstance(found, dict) else None

    def document_meta(
        self, usage: Usage, gate: dict[str, Any], results: Sequence[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        """What a saved run or a report says about the run: model, versions, prompt, settings, and
        with several models each model's summary (from ``results``)."""
        from datetime import datetime, timezone
        from importlib.metadata import PackageNotFoundError, version

        def installed(dist: str) -> str | None:
            try:
                return version(dist)
            except PackageNotFoundError:
                return None

        settings = asdict(self.settings)
        settings["reports"] = [f"{kind}:{path}" for kind, path in self.settings.reports]
        return {
            "model": self.settings.model,
            "baseline_model": self.settings.baseline_model,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "versions": {
                "pytest_moralpairs": installed("pytest-moralpairs"),
                "litellm": installed("litellm"),
                "pytest": installed("pytest"),
                "python": sys.version.split()[0],
            },
            "prompt_hash": DEFAULT_PROMPT.digest,
            "settings": settings,
            "usage": usage.to_dict(),
            "gate": {k: gate.get(k) for k in ("min_pass_rate", "pass_rate", "passed", *BUDGET_KEYS) if k in gate},
            "served_models": self.served_models(),
            "moral_suites": [source.to_dict() for source in self.suite_sources],
            **self._models_meta(results),
        }

    def _models_meta(self, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if not self.labels:
            return {}
        from .report.models import document_models

        configured = [
            {
                "name": m.label,
                "model": m.model,
                "gating": self.gating(m),
                "is_reference": m.label == self.settings.reference,
            }
            for m in self.models
        ]
        return {"models": document_models(list(results), configured), "reference": self.settings.reference}

    def served_models(self) -> dict[str, Any]:
        """The model versions that answered, per model string (this process's and the xdist
        workers'), as :meth:`~pytest_moralpairs.freshness.ServedModels.to_dict` gives them."""
        from .freshness import ServedModels

        served = ServedModels()
        if self._engine is not None:
            served.merge(self._engine.served.to_dict())
        for data in self.served_from_workers:
            served.merge(data)
        return served.to_dict()

    def threshold_for(self, pair_threshold: float | None) -> float:
        return self.settings.threshold if pair_threshold is None else pair_threshold

    def unreported_usage(self) -> Usage:
        """Usage since the last time this was asked (so each report carries its own share)."""
        if self._engine is None or self._engine.usage == self.usage_reported:
            return Usage()  # nothing new: asked once per phase of every test
        now = self._engine.usage.copy()
        delta = now.minus(self.usage_reported)
        self.usage_reported = now
        return delta

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            for store in (self._engine.cache, self._engine.shared):
                if store is not None:
                    store.close()
        if self._own_shared_folder and self.shared_folder is not None:
            shutil.rmtree(self.shared_folder, ignore_errors=True)


def _import_in_background(modules: Iterable[str]) -> threading.Thread | None:
    """A daemon thread importing ``modules`` (those not imported yet), started; an import that
    fails is left for the code that needs the module to report."""
    names = [name for name in dict.fromkeys(modules) if name not in sys.modules]
    if not names:
        return None

    def load() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - reported where the module is needed
                pass

    thread = threading.Thread(target=load, name="moralpairs-import", daemon=True)
    thread.start()
    return thread


def _moved_key(key: str, harmful: Any, harmless: Any) -> tuple[str, str, str] | None:
    """What a pair keeps when its file moves to another folder: the file's name with the pair's
    id (``moral/old/pony.moral.yaml::whip`` -> ``pony.moral.yaml::whip``) and both sentences.
    None without both sentences: such a result is found by its test id only."""
    if not (isinstance(harmful, str) and isinstance(harmless, str)):
        return None
    path, sep, rest = key.partition("::")
    return path.replace("\\", "/").rsplit("/", 1)[-1] + sep + rest, harmful, harmless


BUILD_HOOK = "pytest_moralpairs_build_messages"
PARSE_HOOK = "pytest_moralpairs_parse_answer"
KWARGS_HOOK = "pytest_moralpairs_completion_kwargs"


class HookFailed(Exception):
    """A user's hook raised; the message names the hook and what it raised."""


def hook_errors() -> tuple[type[BaseException], ...]:
    """What a user's hook may raise that fails the items needing it, not the run: any Exception,
    and ``pytest.skip()`` / ``fail()`` / ``xfail()`` (pytest's OutcomeException, a BaseException).
    Never KeyboardInterrupt or SystemExit. Found without importing pytest: a hook that raised one
    has loaded it."""
    outcomes = sys.modules.get("_pytest.outcomes")
    return (Exception, outcomes.OutcomeException) if outcomes is not None else (Exception,)


def hook_raised(hook: str, exc: BaseException, where: str = "") -> str:
    """``the <hook> hook raised ValueError<where>: boom``."""
    text = shorten(_text(exc), 120)
    return f"the {hook} hook raised {type(exc).__name__}{where}" + (f": {text}" if text else "")


def _shown(value: Any, limit: int) -> str:
    """``repr(value)`` shortened for a message, even for a value whose ``repr`` raises."""
    return shorten(_text(value, repr), limit)


def _text(value: Any, how: Callable[[Any], str] = str) -> str:
    try:
        return how(value)
    except Exception:  # noqa: BLE001 - a user's object that cannot show itself
        return f"<{type(value).__name__} that cannot be shown>"


def _chat_messages(built: Any) -> tuple[Message, ...] | str:
    """The ``(role, content)`` pairs of what a build_messages hook returned, or what is wrong with it."""
    shape = "{'role': ..., 'content': ...} dicts"
    if not isinstance(built, list) or not built:
        return f"must return a non-empty list of {shape} (or None), got {_shown(built, 80)}"
    messages = []
    for number, message in enumerate(built, 1):
        if not isinstance(message, dict):
            return f"must return a list of {shape}, got {_shown(message, 60)} as message {number}"
        for key in ("role", "content"):
            if not isinstance(message.get(key), str):
                return (
                    f"must return messages whose {key} is a str, got {_shown(message.get(key), 60)} in message {number}"
                )
        messages.append((message["role"], message["content"]))
    return tuple(messages)


def is_xdist_worker(config: Any) -> bool:
    return hasattr(config, "workerinput")
