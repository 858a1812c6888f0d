"""The package's layout: layers that import only downwards, and a core that needs no pytest.

A lower module never imports a higher one, not even lazily inside a function or for type checking
only: the import graph, read from the source, has no cycle. The pytest adapter is the top layer,
named in ``ADAPTERS``; everything else is the core, which a script or a notebook imports and uses
with pytest (and pluggy) unavailable, and without loading litellm until a model call is made.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from itertools import pairwise
from pathlib import Path

import pytest_moralpairs

PACKAGE = "pytest_moralpairs"
ROOT = Path(pytest_moralpairs.__file__).parent
EXAMPLES = Path(__file__).parent.parent / "examples"

#: The pytest adapter: the only modules that may import pytest or pluggy. Adding one is a
#: deliberate act, made here.
ADAPTERS = frozenset(
    {
        "pytest_moralpairs.plugin",  # options, hooks, fixtures, marker
        "pytest_moralpairs.collect",  # pair files as collectors, pairs as items
        "pytest_moralpairs.stash",  # what the plugin keeps on pytest's config and items
        "pytest_moralpairs.hookspecs",  # the plugin's own hooks (pluggy markers)
    }
)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> dict[str, int]:
    """The package's modules that ``name`` imports anywhere in its source (top level, inside
    functions, under ``TYPE_CHECKING``), each with the line of its first import."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]

    def module_of(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # ``from . import stats`` imports the module stats; ``from .engine import Rating``, engine.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            module = module_of(target) if target.startswith(PACKAGE) else None
            if module is not None and module != name:
                found.setdefault(module, node.lineno)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def knots(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """The groups of modules that import each other, directly or not (Tarjan's strongly
    connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(groups, key=min)


def cycle_in(group: set[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """The shortest way from the group's first module back to it, that module again at the end."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        module = queue.pop(0)
        for imported in sorted(graph[module]):
            if imported == start:
                return paths[module] + [start]
            if imported in group and imported not in paths:
                paths[imported] = paths[module] + [imported]
                queue.append(imported)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a knot always has one


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle per knot: each names the modules met in order, the first again at the end."""
    return [cycle_in(group, graph) for group in knots(graph)]


def describe(group: set[str], graph: dict[str, dict[str, int]]) -> str:
    known = modules()
    cycle = cycle_in(group, graph)
    steps = "; ".join(
        f"{a} imports {b} ({known[a].relative_to(ROOT.parent)}:{graph[a][b]})" for a, b in pairwise(cycle)
    )
    others = sorted(group - set(cycle))
    return steps + (f" (the same knot holds {', '.join(others)})" if others else "")


def test_the_import_graph_is_read_from_every_module() -> None:
    graph = import_graph()
    assert {"pytest_moralpairs.plugin", "pytest_moralpairs.report.html", "pytest_moralpairs.providers"} <= set(graph)
    # Relative, absolute, function-level and type-checking-only imports all count.
    assert "pytest_moralpairs.engine" in graph["pytest_moralpairs.verdicts"]
    assert "pytest_moralpairs.stats" in graph["pytest_moralpairs.verdicts"]  # from . import stats
    assert "pytest_moralpairs.report.document" in graph["pytest_moralpairs.run"]  # inside a method


def test_the_cycle_finder_names_each_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}, "e": {"f": 5}, "f": {"e": 6}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_module_of_the_package_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    found = knots(graph)
    assert not found, "import cycles (a lower module imports a higher one):\n" + "\n".join(
        describe(group, graph) for group in found
    )


def test_no_core_module_imports_the_pytest_adapter() -> None:
    graph = import_graph()
    assert ADAPTERS <= set(graph), "ADAPTERS names a module that does not exist"
    core = {module: imported for module, imported in graph.items() if module not in ADAPTERS}
    assert not sorted(f"{module} imports {a}" for module, imported in core.items() for a in imported if a in ADAPTERS)


#: Run in a fresh interpreter where pytest, _pytest and pluggy cannot be imported.
CORE_WITHOUT_PYTEST = """
import importlib, json, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest", "pluggy"):
            raise ModuleNotFoundError(f"blocked: {name}", name=name)
        return None

sys.meta_path.insert(0, Refuse())
for name in CORE:
    importlib.import_module(name)
litellm_on_import = "litellm" in sys.modules

from pytest_moralpairs import DEFAULT_PROMPT, ModelSettings, RatingEngine, RatingRequest, judge, load_suite
from pytest_moralpairs.clients import Clients

def verdicts(engine):
    found = []
    try:
        for pair in load_suite(PONY).pairs:
            prompt = pair.prompt or DEFAULT_PROMPT
            harmful, harmless = (RatingRequest(model, prompt.messages(s), s) for s in (pair.harmful, pair.harmless))
            ratings = engine.rate_all([harmful, harmless])
            verdict = judge(pair.id, ratings[harmful], ratings[harmless], pair.threshold or 2.0)
            found.append([pair.id, verdict.outcome, verdict.gap])
    finally:
        engine.close()
    return found

model = ModelSettings("moralpairs/lexical")
in_process = verdicts(RatingEngine())
litellm_on_call = "litellm" in sys.modules
# The same model through litellm's custom-provider path, as --moral-client=litellm makes it.
through_litellm = verdicts(RatingEngine(Clients("litellm")))
print(json.dumps({
    "verdicts": in_process,
    "through_litellm": through_litellm,
    "litellm_on_import": litellm_on_import,
    "litellm_on_call": litellm_on_call,
    "litellm_for_litellm": "litellm" in sys.modules,
    "pytest_loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("pytest", "_pytest", "pluggy")),
}))
"""


def test_the_core_imports_and_rates_without_pytest_or_litellm_and_through_litellm_alike() -> None:
    core = sorted(name for name in modules() if name not in ADAPTERS)
    script = f"CORE = {core!r}\nPONY = {str(EXAMPLES / 'pony.moral.yaml')!r}\n" + textwrap.dedent(CORE_WITHOUT_PYTEST)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["pytest_loaded"] == []
    assert out["litellm_on_import"] is False, "a core module imports litellm at import time"
    assert out["litellm_on_call"] is False, "the offline model is answered in this process"
    assert [pair_id for pair_id, _, _ in out["verdicts"]] == ["pony-whip", "pony-caress"]
    assert all(outcome in ("passed", "failed", "inconclusive") for _, outcome, _ in out["verdicts"])
    assert out["litellm_for_litellm"] is True  # the lexical model is a litellm provider too
    assert out["through_litellm"] == out["verdicts"]


def test_every_module_says_pytest_need_not_rewrite_it() -> None:
    """The package is taken off pytest's assertion rewriter's list (``lazy.skip_assertion_rewriting``):
    no module may hold an assert that would need rewriting for a user, and each says so."""
    docstrings = {
        name: ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) for name, path in modules().items()
    }
    assert [name for name, docstring in docstrings.items() if "PYTEST_DONT_REWRITE" not in (docstring or "")] == []
