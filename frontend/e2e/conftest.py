"""Real-browser end-to-end tests: Chromium (Playwright, sync API) against the real server.

The server is ``daphne backend.asgi:application`` on a free port, on the embedded default (SQLite, local blob
store, in-process dispatcher, in-memory channel layer) in a fresh temporary directory, so every session starts
from an empty installation. The frontend is not built here: ``make e2e`` builds it first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FLOWYARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
PASSWORD = "a-long-password-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/api/health", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"the server did not answer /api/health within {timeout} s:\n{log.read_text()[-3000:]}"
    )


def server_env(tmp: Path, base: str, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an embedded-default server whose files live in ``tmp``."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "FLOWYARD_DISPATCHER"}
    }
    env.update(
        {
            "FLOWYARD_VAR_DIR": str(tmp),
            "DATABASE_URL": f"sqlite:///{tmp / 'flowyard.sqlite3'}",
            "FLOWYARD_BLOB_DIR": str(tmp / "blobs"),
            "FLOWYARD_DISPATCHER": "local",
            "SECRET_KEY": "e2e-" + uuid.uuid4().hex,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": base,
            "DEBUG": "0",
            **(extra_env or {}),
        }
    )
    return env


def start_daphne(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """Start daphne on ``port`` (its output appended to ``log``) and wait until it answers."""
    daphne = Path(sys.executable).with_name("daphne")
    cmd = [
        str(daphne) if daphne.exists() else "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "backend.asgi:application",
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
    except BaseException:
        stop_process(proc)
        raise
    return proc


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class RestartableServer:
    """A fresh installation served by daphne that a test may stop and start again on the same database and
    port (what a deploy or a crash does to the browsers connected to it)."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        if not (ROOT / "frontend" / "dist" / "index.html").exists():
            raise RuntimeError("frontend/dist is missing: run `make frontend` (make e2e does) first")
        self.tmp = Path(tempfile.mkdtemp(prefix=f"flowyard_e2e_{uuid.uuid4().hex[:8]}_"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = server_env(self.tmp, self.base, extra_env)
        self.log = self.tmp / "server.log"
        self.proc: subprocess.Popen | None = None
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )

    def start(self) -> None:
        self.proc = start_daphne(self.env, self.port, self.log)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def run_server(extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """A fresh installation served by daphne; yields its base URL, then stops it and removes its files."""
    server = RestartableServer(extra_env)
    try:
        server.start()
        yield server.base
    finally:
        server.close()


def chromium_or_fail() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium; make e2e does this)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    with run_server() as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    executable = chromium_or_fail()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Session:
    """One person: a browser context (own cookies) with its page and console errors."""

    def __init__(self, browser, base: str):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=base)
        self.context.set_default_timeout(15_000)
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def api(self, method: str, path: str, data=None):
        """Call the API with this person's session cookie and CSRF token."""
        request = self.context.request
        if not any(c["name"] == "csrftoken" for c in self.context.cookies()):
            request.get("/api/auth/csrf")
        token = next(c["value"] for c in self.context.cookies() if c["name"] == "csrftoken")
        response = request.fetch(path, method=method, data=data, headers={"X-CSRFToken": token})
        assert response.ok, f"{method} {path}: {response.status} {response.text()}"
        return response.json() if response.status != 204 else None

    def signup(self, username: str) -> dict:
        """Sign up, then sign in (sign-up answers the same for taken names, so it does not sign in itself)."""
        self.api("POST", "/api/auth/signup", {"username": username, "password": PASSWORD})
        return self.api("POST", "/api/auth/login", {"username": username, "password": PASSWORD})

    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def person(browser, server):
    """A factory of people, each with their own browser context; closed after the test."""
    made: list[Session] = []

    def make(base: str = server) -> Session:
        s = Session(browser, base)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    # Every page of every test runs under the site's Content-Security-Policy: a violation is a bug.
    assert not [v for s in made for v in s.csp_violations()]


@pytest.fixture
def restartable_server() -> Iterator[RestartableServer]:
    """A server of this test's own that it may stop and start again (``person(server.base)`` for its people)."""
    server = RestartableServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


# A three-node image workflow (EmptyImage -> ImageBlur -> PreviewImage) as the API stores it.
IMAGE_DOC: dict[str, Any] = {
    "graph": {
        "nodes": {
            "1": {
                "type": "EmptyImage",
                "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": 16711680},
            },
            "2": {"type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 2, "sigma": 1.0}},
            "3": {"type": "PreviewImage", "inputs": {"images": ["2", 0]}},
        }
    },
    "layout": {
        "nodes": {"1": {"x": 0, "y": 0}, "2": {"x": 320, "y": 0}, "3": {"x": 640, "y": 0}},
        "groups": [],
    },
}


# ---- a server with a model library (test_generative.py) ----

# ComfyUI's default txt2img template names this checkpoint; the library holds a tiny random-weight SD1 model
# under that name (nodepacks.diffusion.testing writes it in the original single-file layout).
TEMPLATE_CHECKPOINT = "v1-5-pruned-emaonly-fp16.safetensors"


@pytest.fixture(scope="session")
def model_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FLOWYARD_MODELS_DIR in ComfyUI's layout with one tiny SD1 checkpoint."""
    from nodepacks.diffusion.testing import make_tiny_checkpoint

    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    make_tiny_checkpoint("sd1", root / "checkpoints" / TEMPLATE_CHECKPOINT)
    return root


@pytest.fixture(scope="session")
def models_server(model_library: Path) -> Iterator[str]:
    """The embedded default (diffusion pack included, GPU nodes fall back to the CPU) over ``model_library``."""
    with run_server({"FLOWYARD_MODELS_DIR": str(model_library), "FLOWYARD_EXTRA_MODEL_PATHS": ""}) as base:
        yield base


@pytest.fixture
def models_person(browser: Any, models_server: str) -> Iterator[Callable[[], Session]]:
    """Like ``person``, on the server with the model library."""
    made: list[Session] = []

    def make() -> Session:
        s = Session(browser, models_server)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    # Every page of every test runs under the site's Content-Security-Policy: a violation is a bug.
    assert not [v for s in made for v in s.csp_violations()]
