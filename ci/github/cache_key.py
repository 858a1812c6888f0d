"""The Action's cache keys: the response cache keyed on the model and what is rated (the suites'
content hashes and the pair files under ``paths``), the history keyed on the model.

GitHub's cache entries never change once saved, so each key ends with the run (a new entry per
run); the restore keys find the newest earlier entry: the same pairs first, then any of the model.

Outputs: ``key``, ``restore-keys``, ``cache-path``; ``history-key``, ``history-restore-keys``,
``history-path`` (empty without the ``history`` input).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from actions_env import read_input, set_outputs, words

#: Files that change what is rated: pair files, persona files, lexicons, suite manifests.
RATED = ("*.yaml", "*.yml")


def slug(model: str) -> str:
    text = re.sub(r"[^a-z0-9.]+", "-", model.lower()).strip("-.")
    return text[:60] or "no-model"


def suite_hash(spec: str) -> str:
    """The suite's content hash, as the plugin computes it (``python -m pytest_moralpairs suite``)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest_moralpairs", "suite", spec], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"cache_key: the suite {spec!r}: {done.stderr.strip() or done.stdout.strip()}")
    return json.loads(done.stdout)["sha256"]


def files_hash(paths: list[str]) -> str:
    """sha256 over each rated file under ``paths``: its path and its bytes."""
    digest = hashlib.sha256()
    for given in paths:
        root = Path(given)
        found = [root] if root.is_file() else sorted(p for glob in RATED for p in root.rglob(glob) if p.is_file())
        for path in found:
            digest.update(path.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def main() -> int:
    model = ",".join(words(read_input("model"))) or os.environ.get("MORALPAIRS_MODEL", "")
    content = hashlib.sha256()
    for spec in words(read_input("suite")):
        content.update(f"suite {spec} {suite_hash(spec)}\n".encode())
    paths = words(read_input("paths"))
    content.update(f"files {files_hash(paths)}\n".encode())
    run = f"{os.environ.get('GITHUB_RUN_ID', 'local')}-{os.environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    prefix = f"moralpairs-{slug(model)}-"
    same_pairs = f"{prefix}{content.hexdigest()[:16]}-"
    outputs = {
        "key": same_pairs + run,
        "restore_keys": f"{same_pairs}\n{prefix}",
        "cache_path": str(Path(read_input("cache-dir", ".moral-cache")).resolve()),
        "history_key": "",
        "history_restore_keys": "",
        "history_path": "",
    }
    history = read_input("history")
    if history:
        outputs.update(
            history_key=f"moralpairs-history-{slug(model)}-{run}",
            history_restore_keys=f"moralpairs-history-{slug(model)}-",
            history_path=str(Path(history).resolve()),
        )
    set_outputs(**outputs)
    print(f"moral-pair cache key {outputs['key']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
