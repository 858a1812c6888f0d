"""Model profiles (the ini option ``moral_models``): named models with their call options.

A profiles file is YAML, read with the pair files' safe loader and checked by the same shared rules
(:mod:`pytest_moralpairs.validation`; the editor schema is ``schema/models.schema.json``): every
problem names the file, the profile and the line, all raised together as :class:`ProfileFileError`.
Keys never live in the file: they come from the provider's environment variable, and a key-shaped
value (an ``api_key``, a ``sk-...`` header) is refused unread.

``--moral-model NAME`` names a profile, or is a bare litellm model string: :func:`model_settings`
turns either into the :class:`~pytest_moralpairs.request.ModelSettings` a request carries.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .providers import unknown_offline_model
from .request import ModelSettings
from .validation import Checker, PairFileError, Problem, describe, id_rule, is_id, line_of, shorten
from .yamlfile import MAX_FILE_BYTES, gc_paused, read_regular, read_yaml, unreadable

FILE_KEYS = frozenset({"version", "description", "models"})
PROFILE_KEYS = frozenset(
    {
        "model",
        "description",
        "api_base",
        "temperature",
        "max_tokens",
        "reasoning_effort",
        "thinking_budget",
        "headers",
        "input_price",
        "output_price",
        "concurrency",
        "rpm",
        "tpm",
        "timeout",
    }
)
#: What a profile's ``reasoning_effort`` may be (litellm passes it to the provider as it is).
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
#: Keys that would hold a secret: refused with the environment variable to use instead.
SECRET_KEYS = frozenset({"api_key", "key", "token", "secret", "password", "authorization"})
#: Headers that carry credentials, whatever their value looks like.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key"})
#: A value shaped like a provider's key: ``sk-...``, ``sk-ant-...``, ``gsk_...``, ``AIza...``, a bearer token.
_KEY_SHAPED = re.compile(
    r"^\s*(bearer\s+\S{8,}|(sk|rk|pk|gsk|xai|hf|r8)[-_][A-Za-z0-9_\-]{16,}|AIza[0-9A-Za-z_\-]{20,})"
)
#: name -> (type, low, high) of a profile's numeric options.
NUMBERS: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 2.0),
    "max_tokens": (int, 1, 10_000_000),
    "thinking_budget": (int, 1, 10_000_000),
    "input_price": (float, 0.0, 1.0),
    "output_price": (float, 0.0, 1.0),
    "concurrency": (int, 1, 10000),
    "rpm": (float, 0.001, 1e9),
    "tpm": (float, 0.001, 1e12),
    "timeout": (float, 0.001, 86400.0),
}
MAX_PROFILES = 1000
MAX_TEXT_CHARS = 1000


class ProfileProblem(Problem):
    subject = "profile"


class ProfileFileError(PairFileError):
    """A model profiles file that cannot be used; ``problems`` lists every reason found."""

    problem_type = ProfileProblem
    kind = "model profiles file"


@dataclass(frozen=True)
class Profile:
    """One named model: its litellm model string and the call options the file gives."""

    name: str
    model: str
    options: tuple[tuple[str, Any], ...] = ()
    description: str | None = None

    def settings(self, **defaults: Any) -> ModelSettings:
        """The profile as :class:`ModelSettings`; what it leaves out comes from ``defaults``."""
        return ModelSettings(**{**defaults, **dict(self.options), "model": self.model, "name": self.name})


def load_profiles(path: str | Path, name: str | None = None) -> dict[str, Profile]:
    """Read and check one profiles file; ``name`` is how messages refer to it (default: the path).
    Raises :class:`ProfileFileError` listing every problem."""
    name = name or str(path)
    try:
        data = read_regular(path, MAX_FILE_BYTES)
    except (OSError, ValueError) as exc:
        raise unreadable(name, exc, ProfileFileError) from None
    return parse_profiles(data, name)


def parse_profiles(text: str | bytes, path: str = "<string>") -> dict[str, Profile]:
    """Check profiles-file text; raises :class:`ProfileFileError` listing every problem."""
    with gc_paused():
        document, duplicates = read_yaml(text, path, ProfileFileError)
    checker = _ProfileChecker(path, duplicates)
    checker.preamble(document, FILE_KEYS, "a mapping with 'models'")
    models = document.get("models")
    line = line_of(document, "models")
    profiles: dict[str, Profile] = {}
    if not isinstance(models, dict) or not models:
        found = "nothing" if models is None else describe(models)
        checker.problem(f"'models' must map profile names to profiles, found {found}", line=line)
    elif len(models) > MAX_PROFILES:
        checker.problem(f"'models' names {len(models):,} profiles; the limit is {MAX_PROFILES:,}", line=line)
    else:
        checker.checked.add(id(models))
        for key, line_ in getattr(models, "duplicates", ()):
            checker.problem(f"the profile name {key!r} is given twice; each profile may be given once", line=line_)
        for key, value in models.items():
            profile = checker.profile(key, value, line_of(models, key, line))
            if profile is not None:
                profiles[profile.name] = profile
    checker.finish()
    return profiles


class _ProfileChecker(Checker):
    error = ProfileFileError

    def profile(self, name: Any, value: Any, line: int | None) -> Profile | None:
        if not is_id(name, dots=True):
            shown = repr(shorten(name)) if isinstance(name, str) else describe(name)
            self.problem(f"profile name {shown} is not usable in a node id: use {id_rule(True)}", line=line)
            return None
        if isinstance(value, str):  # a profile may be just its model string
            value = {"model": value}
        if not isinstance(value, dict):
            self.problem(f"a profile must be a mapping with 'model', found {describe(value)}", name, line)
            return None
        before = len(self.problems)
        secrets = [key for key in value if isinstance(key, str) and key.lower() in SECRET_KEYS]
        for key in secrets:
            self.problem(
                f"'{key}': keys never live in a profiles file (it is committed and shown); set the provider's "
                "environment variable instead (e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY)",
                name,
                line_of(value, key, line),
            )
        self.keys(value, PROFILE_KEYS, "", name, ignore=frozenset(secrets))
        model = self.required_text(
            value.get("model"),
            "model",
            name,
            line_of(value, "model", line),
            missing="the profile names no 'model' (a litellm model string, e.g. openai/gpt-4o-mini)",
            kind="a litellm model string",
            limit=MAX_TEXT_CHARS,
        )
        unknown = unknown_offline_model(model) if model else None
        if unknown:
            self.problem(f"'model': {unknown}", name, line_of(value, "model", line))
        options: dict[str, Any] = {}
        description = self.optional_text(value.get("description"), "description", name, line_of(value, "description"))
        api_base = self.optional_text(value.get("api_base"), "api_base", name, line_of(value, "api_base"), "a URL")
        if api_base is not None:
            if not re.match(r"^https?://\S+$", api_base.strip()):
                self.problem("'api_base' must be an http:// or https:// URL", name, line_of(value, "api_base"))
            options["api_base"] = api_base.strip()
        for key, (cast, low, high) in NUMBERS.items():
            if key in value:
                number = self._number(value[key], key, cast, low, high, name, line_of(value, key, line))
                if number is not None:
                    options[key] = number
        effort = value.get("reasoning_effort")
        if effort is not None:
            if effort not in REASONING_EFFORTS:
                self.problem(
                    f"'reasoning_effort' must be one of {', '.join(REASONING_EFFORTS)}, found {describe(effort)}",
                    name,
                    line_of(value, "reasoning_effort", line),
                )
            else:
                options["reasoning_effort"] = effort
        if "headers" in value:
            headers = self._headers(value["headers"], name, line_of(value, "headers", line))
            if headers:
                options["headers"] = headers
        if len(self.problems) > before or model is None:
            return None
        return Profile(name, model, tuple(sorted(options.items())), description)

    def _number(
        self, value: Any, key: str, cast: type, low: float, high: float, name: str, line: int | None
    ) -> int | float | None:
        whole = cast is int
        kind = f"a whole number in {low:g}..{high:g}" if whole else f"a number in {low:g}..{high:g}"

        def ok(v: Any) -> bool:
            return math.isfinite(v) and low <= v <= high and (not whole or float(v).is_integer())

        number = self.number(value, key, name, line, expected=kind, ok=ok)
        return None if number is None else cast(number)

    def _headers(self, value: Any, name: str, line: int | None) -> tuple[tuple[str, str], ...] | None:
        if not isinstance(value, dict):
            self.problem(f"'headers' must map header names to text, found {describe(value)}", name, line)
            return None
        self.checked.add(id(value))
        headers = []
        for header, text in value.items():
            at = line_of(value, header, line)
            if not isinstance(header, str) or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}", header):
                self.problem(f"'headers': {describe(header)} is not an HTTP header name", name, at)
                continue
            if not isinstance(text, str) or self.control(text, f"headers.{header}", name, at):
                if not isinstance(text, str):
                    self.problem(f"'headers.{header}' must be text, found {describe(text)}", name, at)
                continue
            if header.lower() in SECRET_HEADERS or _KEY_SHAPED.match(text):
                # The value is not shown: it may be a real key.
                self.problem(
                    f"'headers.{header}' holds what looks like a key: keys never live in a profiles file; "
                    "set the provider's environment variable, or add the header in a "
                    "pytest_moralpairs_completion_kwargs hook that reads it from the environment",
                    name,
                    at,
                )
                continue
            headers.append((header, text))
        return tuple(headers)


class UnknownModel(ValueError):
    """A model name that is neither a profile nor a litellm model string."""


def model_settings(name: str, profiles: Mapping[str, Profile], **defaults: Any) -> ModelSettings:
    """``name`` as :class:`ModelSettings`: a profile's (its options over ``defaults``), else a bare
    litellm model string with ``defaults`` (named by itself, as before profiles)."""
    profile = profiles.get(name)
    if profile is not None:
        return profile.settings(**defaults)
    close = difflib.get_close_matches(name, list(profiles), n=1) if "/" not in name else []
    if close:
        # Most likely a misspelt profile: sent to litellm as a model it would fail on every call.
        raise UnknownModel(f"{name!r} is no model profile (did you mean {close[0]!r}?) and no provider/model string")
    return ModelSettings(model=name, **{k: v for k, v in defaults.items() if k != "name"})


def run_models(
    names: Sequence[str],
    profiles: Mapping[str, Profile],
    defaults: Mapping[str, Any],
    concurrency: int,
    part: Callable[[int], int] = lambda n: n,
) -> list[ModelSettings]:
    """The run's ``--moral-model`` names as :class:`ModelSettings`. With several, each model gets
    its own limit of calls in flight (its profile's, else ``concurrency``; ``part`` takes this
    process's share of it under pytest-xdist). Raises :class:`UnknownModel` for a misspelt profile
    or a model named twice."""
    models = [model_settings(name, profiles, **defaults) for name in names]
    # Two providers side by side: each model its own limit of calls in flight (this process's
    # share of it); one model keeps the run's unless its profile sets one.
    models = [
        replace(m, concurrency=part(m.concurrency or concurrency)) if len(models) > 1 or m.concurrency else m
        for m in models
    ]
    labels = [m.label for m in models]
    twice = next((label for label in labels if labels.count(label) > 1), None)
    if twice is not None:
        raise UnknownModel(f"--moral-model names {twice!r} twice (a profile and a model string alike)")
    return models
