"""Where the suites of a run come from (``--moral-suite``): a suite shipped in this package, named
(``core``, or ``core@1.0.0`` to pin its version), or a folder of pair files. Each is resolved to
its name, version and a content hash, so that a run says exactly what it ran and a changed suite
is never silently compared with an old run.

A folder may name itself with a ``suite.yaml`` (``name``, ``version``, ``description``); without
one its name is the folder's and it has no version. The hash covers every file of the folder
(pair files, persona files, the manifest), by relative path and content, so editing any of them
changes it.

No pytest here.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable

from ..validation import Checker, PairFileError, Problem, describe, is_id, line_of
from ..yamlfile import read_file, read_yaml
from . import SUITE_FILE, SUITES_DIR

#: Characters of the content hash shown in headers and summaries (the reports keep all 64).
SHORT_HASH = 12
MANIFEST_KEYS = frozenset({"name", "version", "description", "licence", "kinds"})


class SuiteError(ValueError):
    """A ``--moral-suite`` value that names no usable suite; the message says why and what exists."""


class ManifestError(PairFileError):
    """A ``suite.yaml`` with problems."""


@dataclass(frozen=True)
class SuiteSource:
    """One suite of a run: its name, version, folder, pair files and content hash."""

    name: str
    version: str | None
    folder: Path
    files: tuple[Path, ...]
    sha256: str
    builtin: bool
    description: str | None = None

    @property
    def label(self) -> str:
        """``core 1.0.0 (sha256 3f2a9c0b11de)``, as headers and summaries show it."""
        version = f" {self.version}" if self.version else ""
        return f"{self.name}{version} (sha256 {self.sha256[:SHORT_HASH]})"

    def nodeid(self, path: Path) -> str:
        """The node id of one of its files: ``core/verb.moral.yaml`` for a shipped suite (the same on
        every machine, wherever the package is installed)."""
        return f"{self.name}/{path.relative_to(self.folder).as_posix()}"

    def to_dict(self) -> dict[str, Any]:
        """The suite as the run document records it (``moral_suites[]``)."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "source": "built-in" if self.builtin else "folder",
            "path": None if self.builtin else str(self.folder),
            "files": len(self.files),
        }


def builtin_suites() -> dict[str, Path]:
    """The suites shipped in this package, by name: folders of :data:`SUITES_DIR` with a manifest."""
    return {
        entry.name: entry for entry in sorted(SUITES_DIR.iterdir()) if entry.is_dir() and (entry / SUITE_FILE).is_file()
    }


def resolve(spec: str, base: Path, globs: Iterable[str]) -> SuiteSource:
    """The suite ``spec`` names: a built-in name (``core``), one pinned to a version
    (``core@1.0.0``), or a folder, relative to ``base``. ``globs`` say which files are pair files.
    Raises :class:`SuiteError` (a bad name, folder or pin) or :class:`ManifestError`."""
    text = str(spec).strip()
    if not text:
        raise SuiteError("is empty: give the name of a built-in suite (e.g. core) or a folder")
    name, pin = text, None
    shipped = builtin_suites()
    if "@" in text and not (base / text).exists():
        name, _, pin = text.partition("@")
        if name not in shipped:
            raise SuiteError(f"{text!r}: only a built-in suite can be pinned with @VERSION; {_offered(name, shipped)}")
    if name in shipped and not (base / name).is_dir():
        source = _load(shipped[name], globs, builtin=True)
        if pin is not None and source.version != pin.strip():
            raise SuiteError(
                f"{text!r}: the installed {name} suite is version {source.version}, not {pin.strip()} "
                "(install the pytest-moralpairs release that ships it, or change the pin)"
            )
        return source
    folder = (base / text).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "names no built-in suite and no folder"
        raise SuiteError(f"{text!r} {what}; {_offered(text, shipped)}, or give a folder of pair files")
    return _load(folder.resolve(), globs, builtin=False)


def _offered(name: str, shipped: dict[str, Path]) -> str:
    close = difflib.get_close_matches(name, list(shipped), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}built-in suites: {', '.join(shipped) or 'none'}"


def _load(folder: Path, globs: Iterable[str], builtin: bool) -> SuiteSource:
    globs = tuple(globs)
    everything = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not any(p.startswith(".") for p in path.parts[-1:])
    )
    pair_files = tuple(p for p in everything if any(fnmatch.fnmatch(p.name, g) for g in globs))
    manifest = folder / SUITE_FILE
    name, version, description = folder.name, None, None
    if manifest.is_file():
        name, version, description = read_manifest(manifest, folder.name)
    if not pair_files:
        raise SuiteError(f"the folder {folder} holds no pair files ({' '.join(globs)})")
    return SuiteSource(name, version, folder, pair_files, content_hash(folder, everything), builtin, description)


def content_hash(folder: Path, files: Iterable[Path]) -> str:
    """sha256 over every file's path relative to ``folder`` and its bytes: any edit changes it,
    and it is the same wherever the folder lies."""
    digest = hashlib.sha256()
    for path in files:
        relative = path.relative_to(folder).as_posix().encode()
        data = path.read_bytes()
        digest.update(len(relative).to_bytes(4, "big") + relative + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


class _ManifestChecker(Checker):
    error: ClassVar[type[PairFileError]] = ManifestError


def read_manifest(path: Path, default_name: str | None = None) -> tuple[str, str | None, str | None]:
    """``(name, version, description)`` of a suite's ``suite.yaml``; raises :class:`ManifestError`
    listing every problem. The name defaults to ``default_name`` (the folder's)."""
    default_name = default_name or path.parent.name
    shown = os.fspath(path)
    document, duplicates = read_yaml(read_file(path, shown, ManifestError), shown, ManifestError)
    checker = _ManifestChecker(shown, duplicates)
    description = checker.preamble(
        document, MANIFEST_KEYS, "a mapping with the suite's 'name' and 'version'", format_version=False
    )
    name = document.get("name", default_name)
    if not is_id(name, dots=True):
        checker.problem(
            f"'name' must be a short name (letters, digits, '_', '-', '.'), found {describe(name)}",
            line=line_of(document, "name"),
        )
    version = document.get("version")
    if version is not None and not isinstance(version, str):
        checker.problem(
            f"'version' must be text such as \"1.0.0\" (in quotes), found {describe(version)}",
            line=line_of(document, "version"),
        )
    checker.finish()
    return str(name), version, description


__all__ = [
    "ManifestError",
    "Problem",
    "SuiteError",
    "SuiteSource",
    "builtin_suites",
    "content_hash",
    "read_manifest",
    "resolve",
]
