"""Built-in model providers. ``lexical`` is pure Python; ``litellm_provider`` plugs it into litellm.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

PROVIDER = "moralpairs"
#: The offline models, as ``moralpairs/<name>``.
MODELS = ("lexical",)


def unknown_offline_model(model: str) -> str | None:
    """Why ``model`` cannot be used when it names a built-in model that does not exist (a typo
    would otherwise reach litellm, fail as a server error and be tried again), or None."""
    provider, sep, name = model.partition("/")
    if provider != PROVIDER or not sep or name in MODELS:
        return None
    offered = ", ".join(f"{PROVIDER}/{m}" for m in MODELS)
    return f"there is no built-in model {model!r}; {PROVIDER} offers: {offered}"
