"""What a call cost, in US dollars, from litellm's price table read as data.

The table is the JSON file litellm ships in its package (the one litellm itself reads when told to
stay offline, as the plugin tells it), so both clients price a call alike without the OpenAI client
importing litellm. Once litellm is imported, its live table (with models a user registered) is read
instead.

A call made through a provider's batch API (``--moral-batch``) is priced at the table's batch prices
(``input_cost_per_token_batches``, ``output_cost_per_token_batches``), or at half the usual price
(:data:`BATCH_DISCOUNT`) for a model the table gives none.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

PRICE_FILE = "model_prices_and_context_window_backup.json"
#: A batch call's share of the usual price, for a model whose batch prices the table does not give
#: (OpenAI, Anthropic and Google all halve the price of a batch).
BATCH_DISCOUNT = 0.5


def token_count(value: Any) -> int:
    """A token count as a usage reports it: a positive whole number, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def field_of(item: Any, name: str) -> Any:
    """``item[name]`` of a response body's part (a dict: usage, message) or ``item.name`` of
    litellm's object."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def cached_prompt_tokens(usage: Any) -> int:
    """The prompt tokens a provider read from its prompt cache: OpenAI's
    ``prompt_tokens_details.cached_tokens``, else Anthropic's ``cache_read_input_tokens``."""
    details = field_of(usage, "prompt_tokens_details")
    cached = field_of(details, "cached_tokens") if details is not None else None
    return token_count(cached) or token_count(field_of(usage, "cache_read_input_tokens"))


@lru_cache(maxsize=1)
def _shipped_table() -> dict[str, Any]:
    """litellm's price file, found without importing litellm; empty when it cannot be read."""
    try:
        spec = importlib.util.find_spec("litellm")
        folders = list(spec.submodule_search_locations or ()) if spec is not None else []
        for folder in folders:
            path = Path(folder) / PRICE_FILE
            if path.is_file():
                table = json.loads(path.read_bytes())
                return table if isinstance(table, dict) else {}
    except (OSError, ValueError, ImportError):
        pass
    return {}


def _table() -> dict[str, Any]:
    litellm = sys.modules.get("litellm")
    live = getattr(litellm, "model_cost", None)
    return live if isinstance(live, dict) and live else _shipped_table()


def price(model: str, batch: bool = False) -> tuple[float, float, float] | None:
    """``(input, cached input, output)`` dollars per token of ``model`` (a name without its provider
    prefix, or a fine-tuned ``ft:BASE:...``), or None for a model the table does not price; with
    ``batch``, what a call of a provider's batch API costs."""
    table = _table()
    names = [model]
    if model.startswith("ft:"):
        names.append(":".join(model.split(":")[:2]))  # the fine-tuned price of its base model
    for name in names:
        entry = table.get(name)
        if not isinstance(entry, dict):
            continue
        prompt, completion = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if not isinstance(prompt, (int, float)) or not isinstance(completion, (int, float)):
            continue
        cached = entry.get("cache_read_input_token_cost")
        rates = float(prompt), float(cached if isinstance(cached, (int, float)) else prompt), float(completion)
        return _batch_rates(entry, rates) if batch else rates
    return None


def _batch_rates(entry: dict[str, Any], rates: tuple[float, float, float]) -> tuple[float, float, float]:
    """The batch prices of a table entry: its own, else :data:`BATCH_DISCOUNT` of ``rates``."""
    prompt, cached, completion = (rate * BATCH_DISCOUNT for rate in rates)
    own_prompt, own_completion = entry.get("input_cost_per_token_batches"), entry.get("output_cost_per_token_batches")
    if isinstance(own_prompt, (int, float)) and rates[0]:
        cached = float(own_prompt) * rates[1] / rates[0]  # the cached share of the price, as without a batch
        prompt = float(own_prompt)
    if isinstance(own_completion, (int, float)):
        completion = float(own_completion)
    return prompt, cached, completion


def cost(
    models: Iterable[str | None],
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
    batch: bool = False,
) -> float:
    """Dollars for the tokens at the price of the first of ``models`` the table knows (the model
    that answered, then the one asked for, as litellm prices it); 0 for none. ``batch``: at its
    batch price."""
    for model in models:
        rates = price(model, batch) if isinstance(model, str) and model else None
        if rates is not None:
            prompt, cached, completion = rates
            cached_tokens = min(max(cached_tokens, 0), prompt_tokens)
            return (prompt_tokens - cached_tokens) * prompt + cached_tokens * cached + completion_tokens * completion
    return 0.0
