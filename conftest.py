"""What every test of this repository shares: pytester, no internet, the local OpenAI-compatible
server, and a headless browser that CI must have.

Loaded only when pytest runs from this folder (the project's own tests). ``pytest examples`` runs
from ``examples/pytest.ini``, whose folder is where pytest stops looking for conftest files, so a
user's run of the examples never meets anything here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

# No test may reach the internet: litellm must never fetch its price map, including from the
# background work it does after a test's own environment changes have been undone.
os.environ["LITELLM_OFFLINE_MODE"] = "true"
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
# Nor Hugging Face: datasets are loaded from folders the tests write, and cached outside the home
# folder (datasets reads these when it is imported).
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_CACHE"] = os.path.join(tempfile.gettempdir(), "moralpairs-tests-hf-datasets")

try:
    # litellm imports the importlib_metadata backport, which swaps the standard library's
    # distribution finder for its own in sys.meta_path. pytester restores sys.meta_path after each
    # in-process run, which would drop that finder and leave none: "No package metadata was found
    # for pluggy". Importing the backport here installs its finder before any snapshot is taken.
    import importlib_metadata  # noqa: F401
except ImportError:  # pragma: no cover - litellm always brings it today
    pass

from tests.openai_server import OpenAIServer  # noqa: E402

#: Tests run the plugin as a user does: through pytester.
pytest_plugins = ["pytester"]

#: Set by CI systems (GitHub Actions, GitLab, Azure's TF_BUILD aside): what may skip locally fails there.
IN_CI = bool(os.environ.get("CI"))
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


#: The clients a spec marked ``each_client`` runs against, once each: OpenAI's protocol spoken by
#: the plugin itself, and litellm. ``@pytest.mark.each_client("auto", "litellm")`` names others.
EACH_CLIENT = ("openai", "litellm")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "each_client(*clients): run this spec's pytest runs against the local server once per client "
        f"(--moral-client; default {', '.join(EACH_CLIENT)})",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("each_client")
    if marker is not None and "openai_server" in metafunc.fixturenames:
        metafunc.parametrize("moral_client", marker.args or EACH_CLIENT)


@pytest.fixture
def moral_client() -> str:
    """The ``--moral-client`` of the pytest runs a spec makes (``auto`` unless it is marked ``each_client``)."""
    return "auto"


@pytest.fixture
def openai_server(
    request: pytest.FixtureRequest, moral_client: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OpenAIServer]:
    """A running :class:`~tests.openai_server.OpenAIServer` on 127.0.0.1; set ``.answers`` /
    ``.default`` / ``.latency`` and use ``.url``. For a spec marked ``each_client``, every pytest run
    it makes (in this process or another) uses the client of this instance, ``moral_client``."""
    if moral_client != "auto":
        if "pytester" in request.fixturenames:
            request.getfixturevalue("pytester")  # first: it clears PYTEST_ADDOPTS as it starts
        monkeypatch.setenv("PYTEST_ADDOPTS", f"-o moral_client={moral_client}")
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Refuses, and records, every name lookup and connection to anything but this machine."""
    attempts: list[Any] = []
    real_getaddrinfo, real_connect, real_connect_ex = (
        socket.getaddrinfo,
        socket.socket.connect,
        socket.socket.connect_ex,
    )

    def local(host: Any) -> bool:
        return str(host) in ("127.0.0.1", "localhost", "::1")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not local(host):
            attempts.append(host)
            raise socket.gaierror(f"tests may not look up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded(real: Callable[..., Any]) -> Callable[..., Any]:
        def connect(self: socket.socket, address: Any) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6) and not local(address[0]):
                attempts.append(address)
                raise ConnectionRefusedError(f"tests may not connect to {address}")
            return real(self, address)

        return connect

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))
    return attempts


def chromium() -> str:
    """The Chromium to test with. In CI its absence is a failure: .ci/run installs it."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if IN_CI:
        pytest.fail(
            f"no headless browser found (looked for {', '.join(BROWSERS)} on PATH); in CI .ci/run should have "
            "installed Debian's chromium package (apt-get install chromium) before running the tests",
            pytrace=False,
        )
    pytest.skip("no Chromium on PATH (install Debian's chromium package; CI always runs this test)")


@pytest.fixture
def browser(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``browser(*args)`` runs headless Chromium with ``args`` (``--dump-dom URL``,
    ``--screenshot=PATH URL`` ...) in a fresh profile, and fails the test if it does not exit 0.
    Skips without a Chromium on PATH, except in CI, where that is a failure."""
    executable = chromium()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            # Without these Chromium tries hosts a closed network refuses, many at a time.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"chromium exited {done.returncode}:\n{done.stderr[-3000:]}"
        return done

    return run


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], Path]]:
    """``read_only(path)`` makes a folder or a file read-only for this process, for real, until
    the test ends. As a normal user through its permission bits; as root (CI runs as root), where
    permission bits do not bind, through a read-only bind mount. Skips where neither works, except
    in CI, where that is a failure."""
    undo: list[Callable[[], None]] = []

    def make(path: Path) -> Path:
        path = Path(path)
        if os.geteuid() != 0:
            targets = [path, *(p for p in path.iterdir() if p.is_file())] if path.is_dir() else [path]
            modes = {p: p.stat().st_mode for p in targets}
            for p, mode in modes.items():
                p.chmod(mode & ~0o222)
            undo.append(lambda: [p.chmod(mode) for p, mode in modes.items()])
            return path
        done = subprocess.run(
            f"mount --bind {shlex.quote(str(path))} {shlex.quote(str(path))} && "
            f"mount -o remount,bind,ro {shlex.quote(str(path))}",
            shell=True,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            subprocess.run(["umount", str(path)], capture_output=True, check=False)
            message = f"cannot make {path} read-only as root (a read-only bind mount failed: {done.stderr.strip()})"
            if IN_CI:
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        undo.append(lambda: subprocess.run(["umount", "--lazy", str(path)], capture_output=True, check=False))
        return path

    yield make
    for step in reversed(undo):
        step()
