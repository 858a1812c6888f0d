"""What the plugin keeps on pytest's config and items (pytest adapter).

Below both the plugin, which puts the run here when pytest configures, and the collectors and
items that read it: neither imports the other to find it.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the run's module is loaded when a run is made, not when this one is
    from .run import MoralRun

#: The run's moral state, made in ``pytest_configure`` and closed in ``pytest_unconfigure``.
run_key = pytest.StashKey["MoralRun"]()
#: Results recorded on an item during a phase, attached to that phase's report by the plugin.
results_key = pytest.StashKey[list]()
#: How many pair files failed to load: their collection errors do not interrupt the run.
broken_files_key = pytest.StashKey[int]()


def moral_run(config: pytest.Config) -> MoralRun:
    """The run of this pytest session."""
    return config.stash[run_key]
