"""The package as a user installs it: a wheel, in a fresh virtual environment, run from elsewhere.

The wheel is built from a copy of this checkout without network (``--no-build-isolation``, with
this environment's setuptools), installed without its dependencies into a new venv that sees this
environment's packages through a ``.pth`` file, and run from a folder outside the checkout: the
``pytest11`` entry point, the package data (schemas, lexicon) and ``pytest --pyargs`` all come
from the installed copy, never from the source tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import pytest_moralpairs

CHECKOUT = Path(pytest_moralpairs.__file__).parent.parent
#: What the copy of the checkout leaves behind: environments, caches and earlier builds.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"
)
PACKAGE_DATA = (
    "pytest_moralpairs/py.typed",
    "pytest_moralpairs/perturb/lexicon.yaml",
    "pytest_moralpairs/schema/pairfile.schema.json",
    "pytest_moralpairs/schema/personas.schema.json",
    "pytest_moralpairs/schema/report.schema.json",
    "pytest_moralpairs/schema/models.schema.json",
)
PAIRS = """\
pairs:
  - id: cat
    harmful: "Person X tortured a stray cat."
    harmless: "Person X rescued a stray cat."
  - id: pony
    harmful: "Person X lashed his pony with a whip."
    harmless: "Person X lashed his pony with a blade of grass."
  - id: elder
    template: "Person X cut the beard off a local elder {purpose}."
    decides: purpose
    checks: [directional]
"""


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def user_environment() -> dict[str, str]:
    """This process's environment without what would point a new interpreter back at this
    checkout or change how pytest starts (PYTHONPATH, PYTEST_ADDOPTS, xdist's worker variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST_", "VIRTUAL_ENV"))}
    env.pop("MORALPAIRS_MODEL", None)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the checkout (so no build/ or egg-info lands in it)."""
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    shutil.copytree(CHECKOUT, source, ignore=NOT_COPIED, dirs_exist_ok=True)
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, ".",
        cwd=source,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (found,) = dist.glob("pytest_moralpairs-*.whl")
    return found


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed; this environment's packages (pytest, litellm, ...)
    visible after its own, so the wheel's copy of the plugin is the one imported."""
    home = tmp_path / "fresh"
    made = run(sys.executable, "-m", "venv", "--without-pip", home, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # This environment's pip, installing into the new one (a pip of its own would take seconds to
    # install); before the .pth exists, so pip sees no other copy of the package to replace.
    installed = run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    where = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path)
    ours = {sysconfig.get_paths()[kind] for kind in ("purelib", "platlib")}
    (Path(where.stdout.strip()) / "_this_environment.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


def test_the_wheel_holds_the_package_and_its_data_only(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    assert set(PACKAGE_DATA) <= set(names)
    assert "pytest_moralpairs/plugin.py" in names
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"pytest_moralpairs", "pytest_moralpairs-0.1.0.dist-info"}, tops  # no tests/, examples/, ...
    entry_points = archive.read("pytest_moralpairs-0.1.0.dist-info/entry_points.txt").decode()
    assert "[pytest11]\nmoralpairs = pytest_moralpairs.plugin" in entry_points


def test_the_installed_wheel_runs_a_pair_file_from_outside_the_checkout(tmp_path: Path, wheel: Path) -> None:
    python = fresh_venv(tmp_path, wheel)
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    env = user_environment()

    found = run(python, "-c", "import pytest_moralpairs as m; print(m.__file__)", cwd=elsewhere, env=env)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(python.parent.parent), found.stdout

    (elsewhere / "x.moral.yaml").write_text(PAIRS)
    result = run(
        python, "-m", "pytest", "x.moral.yaml", "--moral-model=moralpairs/lexical", "-p", "no:cacheprovider",
        "--moral-seed=0", "--moral-max-examples=3",
        cwd=elsewhere, env=env,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 1, out + result.stderr  # one pair failed: pytest's TESTS_FAILED
    assert "plugins: moralpairs-0.1.0" in out  # loaded through the pytest11 entry point
    assert "moral pairs: model moralpairs/lexical" in out
    assert " moralpairs: moralpairs/lexical " in out  # the summary's section
    assert "x.moral.yaml::cat" in out and "PASSED" in out
    assert "x.moral.yaml::elder[directional] (3 examples)" in out  # from the installed swap lexicon
    assert "moral pair 'pony': gap 0 < threshold 2" in out
    assert "1 failed, 2 passed" in out

    # The built-in suite is package data: --pyargs collects it from the installed package.
    collected = run(python, "-m", "pytest", "--pyargs", "pytest_moralpairs.suites", "--co", "-q",
                    "-p", "no:cacheprovider", cwd=elsewhere, env=env)  # fmt: skip
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert re.search(r"^(\d+) tests collected", collected.stdout, re.M), collected.stdout[-500:]
    count = int(re.search(r"^(\d+) tests collected", collected.stdout, re.M).group(1))
    assert count >= 240, collected.stdout[-500:]
    assert "core/verb.moral.yaml::verb-" in collected.stdout
    assert "error" not in (collected.stdout + collected.stderr).lower()


RECORD_LOADERS = """
import sys

def pytest_sessionfinish(session):
    ours = sorted(m for m in sys.modules if m.startswith("pytest_moralpairs"))
    with open("loaders.txt", "w") as out:
        for name in [*ours, "conftest"]:
            module = sys.modules[name]
            out.write(f"{name} {type(module.__loader__).__name__} {getattr(module, '__cached__', None)}\\n")
"""


def test_the_installed_plugin_loads_from_the_bytecode_pip_compiled_not_through_the_assertion_rewriter(
    tmp_path: Path, wheel: Path
) -> None:
    """pytest imports a pytest11 plugin's modules through its assertion rewriter, which compiles them
    from source on every run where it may not write a .pyc of its own: none of ours holds an assert
    made for a user, so they load as any package's do, from the .pyc pip compiled."""
    python = fresh_venv(tmp_path, wheel)
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    (elsewhere / "x.moral.yaml").write_text(PAIRS)
    (elsewhere / "conftest.py").write_text(RECORD_LOADERS)
    env = {**user_environment(), "PYTHONDONTWRITEBYTECODE": "1"}
    result = run(python, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", "--moral-model=moralpairs/lexical",
                 cwd=elsewhere, env=env)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    loaders = {name: (loader, cached) for name, loader, cached in (line.split(" ", 2) for line in
               (elsewhere / "loaders.txt").read_text().splitlines())}  # fmt: skip
    # The control: the rewriter is on, and a conftest goes through it.
    assert loaders.pop("conftest")[0] == "AssertionRewritingHook"
    assert {"pytest_moralpairs", "pytest_moralpairs.plugin", "pytest_moralpairs.pairs"} <= set(loaders)
    # Only the package and the module that takes it off the rewriter's list come before.
    rewritten = {name for name, (loader, _) in loaders.items() if loader != "SourceFileLoader"}
    assert rewritten == {"pytest_moralpairs", "pytest_moralpairs.lazy"}
    assert all(Path(cached).is_file() for _, cached in loaders.values() if cached != "None"), loaders
