"""What the Action's scripts share: reading inputs, setting step outputs, workflow commands.

Standard library only: the scripts run before the plugin is installed, or beside it. A composite
action hands its inputs to a script through the step's ``env`` (``INPUT_<NAME>``, upper case,
dashes as underscores), as ``action.yml`` sets them.
"""

from __future__ import annotations

import os
import re
import uuid


def read_input(name: str, default: str = "") -> str:
    """The Action's input ``name`` (``min-pass-rate`` from ``INPUT_MIN_PASS_RATE``), stripped."""
    value = os.environ.get("INPUT_" + name.upper().replace("-", "_"))
    return default if value is None or not value.strip() else value.strip()


def words(value: str) -> list[str]:
    """A list input: items separated by commas, spaces or new lines."""
    return [word for word in re.split(r"[\s,]+", value) if word]


def set_outputs(**values: str) -> None:
    """Append step outputs to ``$GITHUB_OUTPUT`` (``name<<DELIMITER`` blocks: values may span
    lines); printed instead when the variable is not set (a local run)."""
    path = os.environ.get("GITHUB_OUTPUT")
    lines = []
    for name, value in values.items():
        delimiter = f"moralpairs_{uuid.uuid4().hex}"
        lines.append(f"{name.replace('_', '-')}<<{delimiter}\n{value}\n{delimiter}\n")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.writelines(lines)
    else:
        for name, value in values.items():
            print(f"output {name.replace('_', '-')}: {value}")


def command(kind: str, message: str) -> None:
    """A workflow command (``notice``, ``warning``, ``error``): shown on the run's page."""
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    print(f"::{kind}::{escaped}", flush=True)
