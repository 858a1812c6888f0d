"""How the package's modules are loaded: each only when needed, and each from its bytecode.

:func:`exports`: a package's re-exported names, each imported from its module when first asked for
(PEP 562). ``import pytest_moralpairs`` and ``import pytest_moralpairs.personas`` then load only the
modules whose names are used: collecting pair files (``pytest --co``) loads no judging.

:func:`skip_assertion_rewriting`: pytest imports every module of a ``pytest11`` plugin through its
assertion rewriter, which parses and compiles the module from source unless it finds a ``.pyc`` of
its own (``*-pytest-X.Y.pyc``, never written with ``PYTHONDONTWRITEBYTECODE=1``): the ``.pyc`` files
pip compiled at install time went unused, and an installed plugin paid twice the compile time of a
checkout on every run. No module here holds an assert made on a user's behalf (each says
``PYTEST_DONT_REWRITE``, so the rewriter leaves its code as it is): the package is taken off the
rewriter's list as soon as it is imported, and its modules load as any other package's do.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping


def skip_assertion_rewriting(package: str) -> None:
    """Take ``package`` (and so its modules) off the list of pytest's assertion rewriter, if one is
    installed (pytest puts it first on ``sys.meta_path``; its list is ``_must_rewrite``). Without
    pytest, or with a pytest whose rewriter keeps it otherwise, nothing changes but the speed."""
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        if isinstance(marked, set) and package in marked:
            marked.discard(package)
            cache = getattr(finder, "_marked_for_rewrite_cache", None)
            if isinstance(cache, dict):
                cache.clear()


def exports(package: str, homes: Mapping[str, tuple[str, ...]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose public names are ``homes``: each
    submodule's name with the names it holds. A name is looked up in its module each time, never
    kept on the package: after pytester's in-process run drops the modules it imported, the next
    run imports them afresh, and must not mix their classes with the old copies'."""
    home_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = home_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{module}", package), name)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *home_of})

    return __getattr__, __dir__
