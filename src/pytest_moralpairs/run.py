"""One pytest run's moral state: settings, the engine, and the results to summarise.

Kept on the pytest config by the plugin. It reaches pytest only through ``config.hook`` and
``config.stash``-free attributes, so it stays importable (and usable) without pytest internals.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Iterable

from .answers import UnparseableAnswer, parse_rating, shorten
from .engine import ModelSettings, Rating, RatingEngine, RatingError, RatingRequest
from .pairs import Pair
from .prompt import DEFAULT_PROMPT, SCALE_MAX, SCALE_MIN, Message, PromptTemplate
from .settings import RunSettings, SettingsError
from .verdicts import Verdict, judge


@dataclass(frozen=True)
class PairRequests:
    """The two requests one pair needs."""

    harmful: RatingRequest
    harmless: RatingRequest


class MoralRun:
    def __init__(self, settings: RunSettings, config: Any, engine: RatingEngine | None = None):
        self.settings = settings
        self.config = config
        self.engine = engine or RatingEngine(
            parse=self._parse, concurrency=settings.concurrency, make_complete=self._make_completer
        )
        self.results: list[dict[str, Any]] = []
        self.calls_reported = 0
        self.calls_seen = 0
        self.prefetched = False
        self._backend: Any = None

    # --- engine wiring -------------------------------------------------------------------

    def _make_completer(self) -> Any:
        if self._backend is None:
            from .llm import LiteLLMBackend

            hook = self.config.hook

            def configure(request: RatingRequest, kwargs: dict) -> None:
                hook.pytest_moralpairs_completion_kwargs(request=request, kwargs=kwargs, config=self.config)

            self._backend = LiteLLMBackend(configure=configure)
        return self._backend

    def _parse(self, text: str, request: RatingRequest) -> float:
        """The first ``pytest_moralpairs_parse_answer`` hook that answers, else the built-in parser.

        Whatever a hook returns is held to the same rule as the built-in parser: one finite
        number on the scale. A hook that raises makes the rating an error (the item ERRORs);
        it must not abort the batch that rates every other pair.
        """
        try:
            value = self.config.hook.pytest_moralpairs_parse_answer(text=text, request=request, config=self.config)
        except UnparseableAnswer:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken hook is reported on the item, not the run
            reason = f"the parse_answer hook raised {type(exc).__name__}: {shorten(str(exc), 120)}"
            raise UnparseableAnswer(reason, text) from None
        if value is None:
            return parse_rating(text)
        if isinstance(value, bool):
            raise UnparseableAnswer(f"a parse_answer hook returned {value!r}, not a number", text)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UnparseableAnswer(
                f"a parse_answer hook returned {shorten(repr(value), 40)}, not a number", text
            ) from None
        if not (math.isfinite(number) and SCALE_MIN <= number <= SCALE_MAX):
            raise UnparseableAnswer(
                f"a parse_answer hook returned {number!r}, outside the scale {SCALE_MIN}..{SCALE_MAX}", text
            )
        return number

    # --- requests ------------------------------------------------------------------------

    def messages(self, sentence: str, prompt: PromptTemplate | None, pair: Pair | None) -> tuple[Message, ...]:
        prompt = prompt or DEFAULT_PROMPT
        built = self.config.hook.pytest_moralpairs_build_messages(
            sentence=sentence, prompt=prompt, pair=pair, config=self.config
        )
        if built is None:
            return prompt.messages(sentence)
        try:
            messages = tuple((str(m["role"]), str(m["content"])) for m in built)
        except (TypeError, KeyError, IndexError):
            messages = ()
        if not messages:
            raise SettingsError(
                "a pytest_moralpairs_build_messages hook must return a non-empty list of "
                f"{{'role': ..., 'content': ...}} dicts (or None), got {shorten(repr(built), 80)}"
            )
        return messages

    def request(
        self, sentence: str, model: ModelSettings, prompt: PromptTemplate | None = None, pair: Pair | None = None
    ) -> RatingRequest:
        return RatingRequest(model=model, messages=self.messages(sentence, prompt, pair), sentence=sentence)

    def pair_requests(self, pair: Pair, model: ModelSettings) -> PairRequests:
        return PairRequests(
            harmful=self.request(pair.harmful, model, pair.prompt, pair),
            harmless=self.request(pair.harmless, model, pair.prompt, pair),
        )

    def prefetch(self, requests: Iterable[RatingRequest]) -> None:
        self.engine.rate_all(requests)

    def rate_pair(self, requests: PairRequests) -> tuple[Rating, Rating]:
        ratings = self.engine.rate_all([requests.harmful, requests.harmless])
        return ratings[requests.harmful], ratings[requests.harmless]

    # --- verdicts ------------------------------------------------------------------------

    def verdict(
        self, pair_id: str, harmful: Rating, harmless: Rating, threshold: float | None, pair: Pair | None = None
    ) -> Verdict:
        """Judge two ratings; raises :class:`RatingError` when either has no value."""
        if not harmful.ok:
            raise RatingError(harmful, "harmful")
        if not harmless.ok:
            raise RatingError(harmless, "harmless")
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
        )

    def threshold_for(self, pair_threshold: float | None) -> float:
        return self.settings.threshold if pair_threshold is None else pair_threshold

    def unreported_calls(self) -> int:
        """Calls made since the last time this was asked (so each report carries its own share)."""
        delta = self.engine.calls_made - self.calls_reported
        self.calls_reported = self.engine.calls_made
        return delta

    def close(self) -> None:
        self.engine.close()


def is_xdist_worker(config: Any) -> bool:
    return hasattr(config, "workerinput")


def environ() -> dict[str, str]:
    return dict(os.environ)
