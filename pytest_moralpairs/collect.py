"""Pair files as pytest collectors and pairs as pytest items.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import pytest

from .pairs import BrokenRow, Pair, PairFileError, TemplatePair, load_suite
from .run import MoralRun, PairRequests
from .settings import SettingsError
from .stash import broken_files_key, moral_run, results_key, run_key
from .stats import INCONCLUSIVE, mean
from .validation import Cell
from .yamlfile import gc_paused


class PairFile(pytest.File):
    """A ``*.moral.yaml`` file: one item per pair, or one collection error naming every problem.

    The pairs a file draws from a table (its ``source``) are items too; a row whose pair cannot be
    used is an item of its own that errors, naming ``file:row:column``, while the other rows run.
    """

    def collect(self) -> Iterator[pytest.Item]:
        try:
            suite = load_suite(self.path, name=_display_path(self), allowed_dirs=allowed_dirs(self.config))
            templates = [(t, self._template(t)) for t in suite.templates]
        except PairFileError as exc:
            self.config.stash[broken_files_key] = self.config.stash.get(broken_files_key, 0) + 1
            raise self.CollectError(f"invalid pair file\n{exc}") from None
        ratings = moral_run(self.config).human_ratings  # people's ratings join the pairs here, and only here
        pairs = suite.pairs if ratings is None else [ratings.attach(pair) for pair in suite.pairs]
        # With several models, each pair is an item per model (``id[model]``); with one, ``id`` as ever.
        labels: tuple[str | None, ...] = moral_run(self.config).labels or (None,)
        with gc_paused():  # thousands of items that all live as long as the run (see gc_paused)
            items: list[pytest.Item] = [
                PairItem.from_parent(self, name=_named(pair.id, label), pair=pair, label=label)
                for pair in pairs
                for label in labels
            ]
        for pair, template in templates:
            items += [
                GeneratedItem.from_parent(
                    self,
                    name=f"{pair.id}[{check}{'-' + label if label else ''}]",
                    pair=pair,
                    template=template,
                    check=check,
                    label=label,
                )
                for check in pair.checks
                for label in labels
            ]
        # Registered first, all at once: with --strict-markers an unknown marker is an error, and
        # pytest rereads every registered marker for each name it has not met since its last
        # reading, so tags registered one by one between markings would make that quadratic.
        tags = dict.fromkeys(tag for item in items for tag in item.pair.tags)  # type: ignore[attr-defined]
        _register_tags(self.config, tags)
        # One marker object per name, shared by the items: pytest.mark.<name> looks the name up
        # among the registered markers each time, which on 100,000 pairs took seconds.
        marks = {name: getattr(pytest.mark, name) for name in ("moralpairs", *tags)}
        moralpairs = marks["moralpairs"]
        for item in items:
            item.add_marker(moralpairs)
            for tag in item.pair.tags:  # type: ignore[attr-defined]
                item.add_marker(marks[tag])
        yield from items
        for row in suite.broken:
            broken = BrokenRowItem.from_parent(self, name=row.name, row=row)
            broken.add_marker("moralpairs")
            yield broken

    def _template(self, pair: TemplatePair) -> Any:
        """The pair's template checked against the lexicon: a bad slot is a problem of this file.
        (With a broken lexicon it is not checked: its items ERROR, naming the lexicon's problems.)"""
        from .pairs import Problem, leading_marker_problems
        from .perturb import LexiconFileError, TemplateError
        from .prompt import DEFAULT_PROMPT

        template = pair.parsed  # parsed once, when the file was read
        try:
            slots = template.resolve(moral_lexicon(self.config))
        except LexiconFileError:
            return template
        except TemplateError as exc:
            raise PairFileError([Problem(_display_path(self), str(exc), pair.id, pair.line)]) from None
        # The template's own slots were checked with the file; the lexicon's are checked here.
        lexicon_slots = {name: slot for name, slot in slots.items() if name not in template.slots_override}
        problems = leading_marker_problems(template, lexicon_slots, pair.prompt or DEFAULT_PROMPT, own=False)
        if problems:
            raise PairFileError([Problem(_display_path(self), problem, pair.id, pair.line) for problem in problems])
        return template


def _named(pair_id: str, label: str | None) -> str:
    return pair_id if label is None else f"{pair_id}[{label}]"


#: From this many items on, the objects collection made (items, pairs: they live as long as the
#: session) are moved out of the cyclic garbage collector's sight once collection is over
#: (gc.freeze): each full collection of the run, and the last ones when the process ends, would
#: walk them all again (on 20,000 cached pairs, 15% of the run's CPU). They are let back in when
#: the next session of this process starts (pytest run in-process again); when the process ends
#: it does not wait for a collection over them. (Frozen file by file, during collection, it made
#: collecting 100,000 pairs slower.)
LARGE_SUITE = 10_000
_frozen: list[bool] = []  # one entry while a session's objects are frozen


def freeze_what_collection_made(items: int) -> None:
    """With :data:`LARGE_SUITE` ``items`` or more, freeze what the process holds (unless something
    else froze objects already)."""
    if items < LARGE_SUITE or gc.get_freeze_count():
        return
    gc.freeze()
    _frozen.append(True)


def thaw_what_collection_made() -> None:
    """Let the garbage collector see again what :func:`freeze_what_collection_made` froze in an
    earlier session of this process."""
    if _frozen:
        _frozen.clear()
        gc.unfreeze()


@dataclass
class _KnownMarkers:
    """The marker names registered in this run, read from the first ``lines_read`` lines of the
    ``markers`` ini list (which only grows)."""

    names: set[str] = field(default_factory=set)
    lines_read: int = 0


_markers_key = pytest.StashKey[_KnownMarkers]()


def _register_tags(config: pytest.Config, tags: Iterable[str]) -> None:
    """Register as a marker each tag no one registered yet, so each is registered once.

    Only the ``markers`` lines added since the last call are read (by a plugin or a conftest
    loaded meanwhile, or by this function): linear in the tags of the whole run.
    """
    known = config.stash.setdefault(_markers_key, _KnownMarkers())
    lines = config.getini("markers")
    known.names.update(line.split(":", 1)[0].split("(", 1)[0].strip() for line in lines[known.lines_read :])
    for tag in tags:
        if tag not in known.names:
            config.addinivalue_line("markers", f"{tag}: tag from moral pair files")
            known.names.add(tag)
    known.lines_read = len(config.getini("markers"))


def _display_path(node: pytest.Collector) -> str:
    try:
        return str(node.path.relative_to(node.config.rootpath))
    except ValueError:
        # A suite's file outside the project (a built-in suite lives in site-packages): its node
        # id, "core/verb.moral.yaml", is the name a user knows it by.
        return node.nodeid.split("::", 1)[0] or str(node.path)


def collect_suites(session: pytest.Session, sources: Iterable[Any], collected: set[Any]) -> Iterator[pytest.Item]:
    """The items of the ``--moral-suite`` suites: one :class:`PairFile` per pair file, collected and
    reported as pytest collects any file (a broken one is a collection error; the others run).

    A file already collected from the command line's paths is not collected twice. A file outside
    the rootdir gets the suite's own node id (``core/verb.moral.yaml``), the same wherever the
    package is installed, so saved runs and ``--lf`` find its pairs again.
    """
    rootpath = session.config.rootpath
    for source in sources:
        for path in source.files:
            if path in collected:
                continue
            collected.add(path)
            inside = path.is_relative_to(rootpath)
            nodeid = None if inside else source.nodeid(path)
            node = PairFile.from_parent(session, path=path, nodeid=nodeid)
            node.ihook.pytest_collectstart(collector=node)
            report = node.ihook.pytest_make_collect_report(collector=node)
            node.ihook.pytest_collectreport(report=report)
            if report.passed:
                for item in report.result:
                    if isinstance(item, pytest.Item):
                        item.ihook.pytest_itemcollected(item=item)  # as pytest's own collection does
                        yield item


class ExplainedItem(pytest.Item):
    """An item whose own failures are shown as their message alone, without a traceback."""

    # A failure is explained by its own message. Returning it here, instead of letting pytest
    # format a traceback that the plugin then throws away, saves ~0.1 s of source parsing per
    # failure: seconds on a suite of hundreds of pairs.
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, own_errors()):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        # pytest formats setup errors (an unusable rating) through this method, not repr_failure.
        if isinstance(excinfo.value, own_errors()):
            return str(excinfo.value)
        return super()._repr_failure_py(excinfo, style=style)


class MoralItem(ExplainedItem):
    """An item that rates sentences with the run's model (``label``: which of the run's models,
    None: the first); its failures explain themselves."""

    label: str | None = None

    @property
    def run(self) -> MoralRun:
        return moral_run(self.config)

    def model(self) -> Any:
        return self.run.model_settings(self.label)


class BrokenRowItem(ExplainedItem):
    """A row of a pair file's table whose pair cannot be used: it errors, naming every problem at
    its ``file:row:column``, and needs no model."""

    def __init__(self, *, row: BrokenRow, **kwargs: Any):
        super().__init__(**kwargs)
        self.row = row

    def setup(self) -> None:
        # Its problems alone: the first one is what pytest's short summary shows of the error.
        raise InvalidRowError(str(self.row))

    def runtest(self) -> None:  # pragma: no cover - setup always raises
        raise InvalidRowError(str(self.row))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"row {self.row.row} of {self.row.path}"


class PairItem(MoralItem):
    """One minimal pair: rated in ``setup`` (an unusable rating is an ERROR), judged in ``runtest``."""

    def __init__(self, *, pair: Pair, label: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.pair = pair
        self.label = label
        self._requests: PairRequests | None = None
        self._ratings: Any = None
        self._reference: tuple[list[Any], list[Any]] | None = None
        self._advisory_error: tuple[Any, str, str | None] | None = None

    def requests(self) -> PairRequests:
        if self._requests is None:
            self._requests = self.run.pair_requests(self.pair, self.model())
        return self._requests

    def setup(self) -> None:
        from .engine import RatingError

        run = self.run
        self._advisory_error = None
        try:
            if not run.prefetched:
                # Batch-first: normally done before the first item runs (see the plugin's run
                # loop); this covers items run some other way.
                run.prefetch(prefetchable([i for i in self.session.items if isinstance(i, PairItem)]))
            rated = run.rate_pair(self.requests())
            self._reference = self._reference_ratings()
        except SettingsError as exc:
            raise RatingSetupError(str(exc)) from None
        sides: list[tuple[list[Any], str, str | None]] = [
            (rated.harmful, "harmful", None),
            (rated.harmless, "harmless", None),
        ]
        for persona, (harmful, harmless) in rated.personas.items():
            sides += [(harmful, "harmful", persona), (harmless, "harmless", persona)]
        for ratings, side, persona in sides:
            failed = next((r for r in ratings if not r.ok), None)
            if failed is not None:
                if not run.gating(self.model()):
                    # A model that does not gate: its error is reported by runtest, never raised.
                    self._advisory_error = (failed, side, persona)
                    return
                record_error(self, self.pair.id, failed, side, self.pair.threshold, "pair", self.pair, persona)
                raise RatingError(failed, side, persona)
        self._ratings = rated

    def _reference_ratings(self) -> tuple[list[Any], list[Any]] | None:
        """The reference model's ratings of this pair (``--moral-reference``), when this item's
        model is another; rated in the same batch as the reference's own item."""
        requests = self.reference_requests()
        if requests is None:
            return None
        rated = self.run.rate_pair(requests)
        return rated.harmful, rated.harmless

    def reference_requests(self) -> PairRequests | None:
        """The reference model's requests for this pair's sentences, when this item's model is
        another (so that the batch holds them even when ``-k`` left the reference's items out)."""
        reference = self.run.reference_model()
        if reference is None or reference == self.model():
            return None
        requests = self.run.pair_requests(self.pair, reference)
        return PairRequests(requests.harmful, requests.harmless)

    def runtest(self) -> None:
        if self._advisory_error is not None:
            failed, side, persona = self._advisory_error
            record_error(self, self.pair.id, failed, side, self.pair.threshold, "pair", self.pair, persona)
            return
        rated, run, pair = self._ratings, self.run, self.pair
        verdict = run.verdict(pair.id, rated.harmful, rated.harmless, pair.threshold, pair)
        across = None
        if rated.personas:
            from .personas import judge_personas

            across = judge_personas(pair, rated.personas, threshold=run.threshold_for(pair.threshold))
        judge_and_record(self, verdict, "pair", rated.baseline, across, pair.prompt, self._against_reference(rated))

    def _against_reference(self, rated: Any) -> Any:
        """The check against the reference's ratings, or None (no reference, or it could not rate)."""
        if self._reference is None or not all(r.ok for side in self._reference for r in side):
            return None
        from .reference import check_against_reference

        run = self.run
        values = [[float(r.value) for r in side] for side in (rated.harmful, rated.harmless, *self._reference)]
        return check_against_reference(
            run.settings.reference or "",
            *values,
            margin=run.settings.reference_margin,
            confidence=run.settings.confidence,
        )

    def reportinfo(self) -> tuple[Any, int | None, str]:
        pair = self.pair
        if isinstance(pair.line, Cell):  # drawn from a table: the row, not a line of the pair file
            return self.path, None, f"moral pair {pair.id} (row {int(pair.line)} of {pair.path})"
        return self.path, (pair.line - 1 if pair.line else None), f"moral pair {pair.id}"


def prefetchable(items: list[PairItem]) -> list[Any]:
    """The requests of every item whose requests can be built. An item whose cannot (a hook or
    marker problem) is left out: it reports that problem itself when it runs, and no other item
    is held up by it."""
    requests = []
    for item in items:
        try:
            requests += item.requests().all
            reference = item.reference_requests()
            requests += reference.all if reference is not None else ()
        except Exception:  # noqa: BLE001 - a SettingsError naming the problem; any other, raised again in setup
            continue
    return requests


class GeneratedItem(MoralItem):
    """One generated check of a template pair: Hypothesis draws pairs (or edits) from the
    template, each is rated through the engine, and a failure is shrunk to the smallest edit."""

    def __init__(self, *, pair: TemplatePair, template: Any, check: str, label: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.label = label
        self.pair = pair
        self.template = template
        self.check = check

    def setup(self) -> None:
        from .perturb import LexiconFileError

        try:
            moral_lexicon(self.config)
        except LexiconFileError as exc:
            # Only the template pairs need the lexicon: the other pairs of the file run.
            raise RatingSetupError(f"invalid lexicon (needed by the template pairs)\n{exc}") from None

    def runtest(self) -> None:
        # The checks by their module's full name, not as an attribute of the package: after pytester's
        # in-process run drops the modules it imported, the package still holds the old one, whose
        # failures are not the fresh verdicts module's.
        from hypothesis.errors import Unsatisfiable

        from .engine import Rating, RatingError, RatingRequest
        from .perturb.checks import Exploration, GeneratedFailure, InvarianceFailure, InvarianceVerdict, explore
        from .strategies import directional_pairs, invariance_edits, sentences
        from .verdicts import MoralGapFailure

        run, pair = self.run, self.pair
        lexicon = moral_lexicon(self.config)
        try:
            model = self.model()
        except SettingsError as exc:
            raise RatingSetupError(str(exc)) from None
        label = f"{pair.id}[{self.check}]"

        def rate(*sentences_: str) -> list[list[Any]]:
            groups = []
            for sentence in sentences_:
                try:
                    groups.append(run.samples(sentence, model, pair.prompt))
                except SettingsError as exc:
                    # No messages (a build_messages hook raised): no rating, which ends the check
                    # as an ERROR, not as a failing example for Hypothesis to shrink.
                    raise RatingError(Rating(RatingRequest(model, (), sentence), None, error=str(exc))) from None
            return run.rate_samples(*groups)

        def directional(generated: Any) -> Any:
            harmful, harmless = rate(generated.harmful, generated.harmless)
            verdict = run.verdict(label, harmful, harmless, pair.threshold)
            if run.gates(verdict):
                raise MoralGapFailure(verdict)
            return verdict

        def invariance(edit: Any) -> Any:
            original, edited = rate(edit.original, edit.edited)
            for ratings, side in ((original, "original"), (edited, "edited")):
                for rating in ratings:
                    if not rating.ok:
                        raise RatingError(rating, side)
            verdict = InvarianceVerdict(
                label,
                model.model,
                edit.kind,
                edit.original,
                edit.edited,
                mean(float(r.value) for r in original),  # type: ignore[arg-type]
                mean(float(r.value) for r in edited),  # type: ignore[arg-type]
                pair.invariance_tolerance,
                original[0].raw,
                edited[0].raw,
            )
            if not verdict.passed:
                raise InvarianceFailure(verdict)
            return verdict

        if self.check == "directional":
            strategy, check = directional_pairs(self.template, lexicon=lexicon), directional
        else:
            strategy, check = invariance_edits(sentences(self.template, lexicon), lexicon), invariance
        seed, derandomize = run.seed, run.derandomize
        exploration = Exploration()
        try:
            explore(
                strategy,
                check,
                max_examples=run.settings.max_examples,
                seed=seed,
                derandomize=derandomize,
                database_key=f"{self.nodeid}\x00{pair.template}".encode(),
                exploration=exploration,
            )
        except (MoralGapFailure, InvarianceFailure) as failure:
            self._record(failure.verdict, exploration.examples)
            if not run.gating(model):
                return  # reported, never failing: this model does not gate
            reproduce = (
                f"pytest '{self.nodeid}' (examples are derandomised because CI is set)"
                if derandomize
                else f"pytest '{self.nodeid}' --moral-seed={seed}; the example database also replays it first"
            )
            raise GeneratedFailure(failure, pair.template, self.check, exploration.examples, reproduce) from None
        except RatingError as error:
            record_error(self, label, error.rating, error.side or "", pair.threshold, self.check, prompt=pair.prompt)
            if not run.gating(model):
                return
            raise
        except Unsatisfiable:
            # Every example was filtered out: no edit applies to any sentence of the template.
            raise RatingSetupError(
                f"{self.check} check of {pair.id!r}: no example can be generated from template {pair.template!r}: "
                "no invariance edit applies to any of its sentences (no 'Person X', no he/him/his, and no "
                "filler with a synonym of the same polarity); list only the checks that apply, e.g. "
                "checks: [directional]"
            ) from None
        if exploration.last is not None:
            self._record(exploration.last, exploration.examples)

    def _record(self, verdict: Any, examples: int) -> None:
        """Keep the check's result: its last verdict (the shrunk failure, else the last example)."""
        from .perturb.checks import verdict_result

        result = verdict_result(verdict, self.check, examples)
        record(self, self.run.describe(result, self.nodeid, self.check, prompt=self.pair.prompt, label=self.label))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, (self.pair.line - 1 if self.pair.line else None), f"{self.check} check of {self.pair.id}"


_lexicon_key = pytest.StashKey[Any]()
_allowed_dirs_key = pytest.StashKey[Any]()


def moral_lexicon(config: pytest.Config) -> Any:
    """The built-in lexicon extended by the ``moral_lexicon`` ini files, read once per run; a
    :class:`~.perturb.LexiconFileError` naming every problem of every file when any is broken."""
    if _lexicon_key not in config.stash:
        from .perturb import LexiconFileError, load_lexicons

        try:
            paths = config.getini("moral_lexicon")
            config.stash[_lexicon_key] = load_lexicons(paths, allowed_dirs=allowed_dirs(config))
        except LexiconFileError as exc:
            config.stash[_lexicon_key] = exc
    found = config.stash[_lexicon_key]
    if isinstance(found, Exception):
        raise type(found)(found.problems)  # a fresh one: each raise would lengthen a kept one's traceback
    return found


def allowed_dirs(config: pytest.Config) -> Any:
    """Where the files that pair files and the ini file name may be read from: the rootdir, the
    directories of the ini option ``moral_allowed_dirs``, and the folders of ``--moral-suite``
    (named by the user, so their own persona files may be read wherever they lie)."""
    if _allowed_dirs_key not in config.stash:
        from .yamlfile import AllowedDirs

        listed = config.getini("moral_allowed_dirs")
        run = config.stash.get(run_key, None)
        suites = [source.folder for source in (run.suite_sources if run is not None else ())]
        where = f"the rootdir {config.rootpath}" + (" and the directories of moral_allowed_dirs" if listed else "")
        where += " and the folders of --moral-suite" if suites else ""
        how = "add its directory to the ini option moral_allowed_dirs to read it"
        config.stash[_allowed_dirs_key] = AllowedDirs.of([config.rootpath, *listed, *suites], where, how)
    return config.stash[_allowed_dirs_key]


class RatingSetupError(Exception):
    """A configuration problem found while rating; shown as its message alone."""


class InvalidRowError(Exception):
    """A row of a pair file's table that holds no usable pair; shown as its message alone."""


def own_errors() -> tuple[type[BaseException], ...]:
    """The plugin's own failures: each message is the whole report, shown without a traceback."""
    from .engine import RatingError  # loaded by then: only a rating raises one
    from .verdicts import ExplainedFailure

    return (ExplainedFailure, RatingError, RatingSetupError, InvalidRowError)


class InconclusiveWarning(UserWarning):
    """A pair whose gap interval contains the threshold, run with ``--moral-inconclusive=warn``."""


def judge_and_record(
    node: Any,
    verdict: Any,
    kind: str,
    baseline: Any = None,
    personas: Any = None,
    prompt: Any = None,
    reference: Any = None,
) -> None:
    """Record the verdict's result on ``node`` (with the baseline model's and the saved run's
    gaps, the verdict across personas and the check against the reference model), then fail as
    the run's gate says: a failed (or, by choice, inconclusive) pair, a pair that did not hold
    across its personas, a gap that dropped by more than ``--moral-compare-fail`` against the
    saved run, or one that lost against the reference. A model that does not gate
    (``--moral-gate``) never fails: its result says what it would have."""
    from .verdicts import MoralGapFailure, PairFailure, explain_failure, explain_regression, explain_verdict

    run = moral_run(node.config)
    label = getattr(node, "label", None)
    result = run.describe(
        verdict.to_dict(), node.nodeid, kind, baseline, personas, prompt, label=label, reference=reference
    )
    record(node, result)
    if result.get("gating") is False:
        return
    regression = explain_regression(result, run.settings.compare_fail) if result.get("regressed") else None
    reports = []
    # Its message is the explanation, made once: on a large suite with many failures it adds up.
    gap_failure = MoralGapFailure(verdict) if run.gates(verdict) else None
    if gap_failure is not None:
        reports.append(str(gap_failure))
    if personas is not None and not personas.passed:
        reports.append(personas.explain())
    if regression:
        reports.append(regression if reports else f"{regression}\n{explain_verdict(verdict)}")
    if reference is not None and reference.lost:
        lost = reference.explain(label or verdict.model)
        reports.append(lost if reports else f"{lost}\n{explain_verdict(verdict)}")
    if reports:
        failure = gap_failure or PairFailure()
        failure.args = ("\n".join(reports),)
        raise failure
    if verdict.outcome == INCONCLUSIVE and run.settings.inconclusive == "warn":
        try:
            warnings.warn(InconclusiveWarning(explain_failure(verdict)), stacklevel=2)
        except InconclusiveWarning as exc:
            # ``-W error`` (or ``filterwarnings = error``) made the warning an error: the pair
            # fails with the explanation, not with the plugin's frames.
            raise PairFailure(f"{exc}\n(an InconclusiveWarning, turned into an error by the warning filters)") from None


def record(node: Any, result: dict[str, Any]) -> None:
    """Keep a result (from :meth:`MoralRun.describe`) for this phase's report."""
    node.stash.setdefault(results_key, []).append(result)


def record_error(
    node: Any,
    pair_id: str,
    rating: Any,
    side: str,
    threshold: float | None,
    kind: str,
    pair: Any = None,
    persona: str | None = None,
    prompt: Any = None,
) -> None:
    """Record that the pair could not be rated (with its saved run's result, if any)."""
    run = moral_run(node.config)
    result = error_result(node.nodeid, pair_id, rating, side, run.threshold_for(threshold))
    if pair is not None:
        result.update(harmful=pair.harmful, harmless=pair.harmless)
    if persona is not None:
        result["error"] = f"{side}, as persona {persona!r}: {rating.error}"
        result["error_persona"] = persona
    prompt = prompt or getattr(pair, "prompt", None)
    record(node, run.describe(result, node.nodeid, kind, prompt=prompt, label=getattr(node, "label", None)))


def error_result(nodeid: str, pair_id: str, rating: Any, side: str, threshold: float | None = None) -> dict[str, Any]:
    return {
        "pair_id": pair_id,
        "nodeid": nodeid,
        "model": rating.request.model.model,
        "outcome": "error",
        "error": f"{side}: {rating.error}",
        "harmful": rating.request.sentence if side == "harmful" else None,
        "harmless": rating.request.sentence if side == "harmless" else None,
        "harmful_rating": None,
        "harmless_rating": None,
        "gap": None,
        "threshold": threshold,
    }
