"""Run settings, resolved once from command line, environment and ini (pytest-free).

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from .engine import ModelSettings
from .providers import unknown_offline_model
from .verdicts import DEFAULT_CONFIDENCE, DEFAULT_THRESHOLD

MODEL_ENV = "MORALPAIRS_MODEL"
DEFAULT_CONCURRENCY = 16
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 3
DEFAULT_MAX_EXAMPLES = 10
CACHE_MODES = ("readwrite", "read", "off")
#: What an inconclusive verdict (the threshold inside the gap's interval) does to the gate.
INCONCLUSIVE_POLICIES = ("fail", "pass", "warn")
#: ``text``: parse the answer; ``logprobs``: the probability-weighted rating of the first token.
SCORINGS = ("text", "logprobs")
REPORT_KINDS = ("json", "html")
#: Setting -> the values it may take.
CHOICES = {"cache": CACHE_MODES, "inconclusive": INCONCLUSIVE_POLICIES, "scoring": SCORINGS}

NO_MODEL_MESSAGE = (
    "pytest-moralpairs: no model is configured, so the moral pairs cannot be rated.\n"
    "Set one with --moral-model=MODEL, the ini option moral_model, or the environment variable "
    f"{MODEL_ENV}; MODEL is any litellm model string (e.g. openai/gpt-4o-mini, "
    "anthropic/claude-3-5-haiku-latest, ollama/llama3.1), or moralpairs/lexical for the built-in "
    "offline rater."
)


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class RunSettings:
    model: str | None
    api_base: str | None = None
    temperature: float = 0.0
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = DEFAULT_CONCURRENCY
    threshold: float = DEFAULT_THRESHOLD
    retries: int = DEFAULT_RETRIES
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
    baseline_model: str | None = None
    min_pass_rate: float | None = None
    save: str | None = None
    compare: str | None = None
    compare_fail: float | None = None
    #: ``(kind, path)`` per ``--moral-report``, kind ``json`` or ``html``.
    reports: tuple[tuple[str, str], ...] = ()

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
    "threshold": (float, -8.0, 8.0),
    "retries": (int, 0, 100),
    "max_cost": (float, 0.0, 1e9),
    "seed": (int, 0, 2**63 - 1),
    "max_examples": (int, 1, 100000),
    "samples": (int, 1, 1000),
    "confidence": (float, 0.5, 0.999),
    "min_pass_rate": (float, 0.0, 1.0),
    "compare_fail": (float, 0.0, 16.0),
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
    values: dict[str, Any] = {"model": (str(model).strip() if model else "") or None}
    where, api_base = get("api_base")
    values["api_base"] = (str(api_base).strip() if api_base else "") or None
    for name, (cast, low, high) in LIMITS.items():
        where, raw = get(name)
        if name == "min_pass_rate" and isinstance(raw, str) and raw.strip().endswith("%"):
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
    for name in ("cache_dir", "baseline_model", "save", "compare"):
        where, raw = get(name)
        values[name] = (str(raw).strip() if raw else "") or None
    for where, name in ((model_where, "model"), (get("baseline_model")[0], "baseline_model")):
        unknown = values[name] and unknown_offline_model(values[name])
        if unknown:
            raise SettingsError(f"{where}: {unknown}")
    if values.get("compare_fail") is not None and not values["compare"]:
        raise SettingsError("--moral-compare-fail needs a saved run to compare with: --moral-compare PATH")
    where, reports = get("report")
    values["reports"] = tuple(parse_report(where, spec) for spec in (reports or ()))
    where, replay = get("replay")
    if isinstance(replay, str):
        if replay.strip().lower() not in _TRUE + _FALSE:
            raise SettingsError(f"{where} must be true or false, got {replay[:40]!r}")
        replay = replay.strip().lower() in _TRUE
    values["replay"] = bool(replay)
    return RunSettings(**values)


def parse_report(where: str, spec: Any) -> tuple[str, str]:
    """``json:PATH`` or ``html:PATH`` -> ``(kind, path)``."""
    kind, sep, path = str(spec).strip().partition(":")
    if not sep or kind not in REPORT_KINDS or not path.strip():
        raise SettingsError(f"{where} must be json:PATH or html:PATH, got {str(spec)[:60]!r}")
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
