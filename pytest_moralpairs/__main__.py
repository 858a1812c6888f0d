"""``python -m pytest_moralpairs``: what a run leaves behind, read without running pytest.

- ``history DIR``: the runs of a history (``--moral-history DIR``) and the pass rate over time,
  a column per model.
- ``suite NAME|PATH``: a suite's name, version and content hash as JSON (what a CI cache key is
  made of).

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .history import HistoryError, pass_rate_table, read_history, runs_table
from .settings import DEFAULT_FILE_GLOBS


def history(folder: str, model: str | None, last: int | None) -> int:
    try:
        entries = read_history(folder)
    except HistoryError as exc:
        print(f"pytest_moralpairs history: {exc}", file=sys.stderr)
        return 2
    if model is not None:
        entries = [e for e in entries if e.model == model]
    if last is not None:
        entries = entries[-last:]
    which = f" of {model}" if model is not None else ""
    print(f"{len(entries)} run{'' if len(entries) == 1 else 's'}{which} in {folder}")
    if entries:
        print()
        print("\n".join(runs_table(entries)))
        print()
        print("pass rate over time")
        print("\n".join(pass_rate_table(entries)))
    return 0


def suite(spec: str) -> int:
    from .suites.sources import ManifestError, SuiteError, resolve

    try:
        source = resolve(spec, Path.cwd(), DEFAULT_FILE_GLOBS)
    except (SuiteError, ManifestError) as exc:
        print(f"pytest_moralpairs suite: {exc}", file=sys.stderr)
        return 2
    described = source.to_dict()
    print(json.dumps({k: described[k] for k in ("name", "version", "sha256", "files")}, sort_keys=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_moralpairs", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("history", help="list the runs of a history folder and the pass rate over time")
    listing.add_argument("folder", metavar="DIR", help="the folder given to --moral-history")
    listing.add_argument("--model", help="only the runs of this model")
    listing.add_argument("--last", type=int, metavar="N", help="only the last N runs")
    described = commands.add_parser("suite", help="print a suite's name, version and sha256 as JSON")
    described.add_argument("spec", metavar="NAME|PATH", help="a built-in suite (core, core@1.0.0) or a folder")
    args = parser.parse_args(argv)
    if args.command == "history":
        if args.last is not None and args.last < 1:
            parser.error("--last must be 1 or more")
        return history(args.folder, args.model, args.last)
    return suite(args.spec)


if __name__ == "__main__":
    sys.exit(main())
