"""Real services for the live tests: free ports, the test database's URL, Redis, and subprocesses by PID.

In CI (``CI=true``) a missing service fails the test; locally it skips with the reason.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[3]
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/9"


def unavailable(reason: str) -> None:
    """Fail in CI, skip elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"service missing in CI: {reason}")
    pytest.skip(reason)


def subprocess_database_url() -> str:
    """The URL of the database the tests use (pytest-django's ``test_<name>``), for other processes."""
    if connection.vendor != "postgresql":
        unavailable(
            "subprocess tests need Postgres (DATABASE_URL=postgres://...): SQLite test DBs are private"
        )
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def checked_redis_url() -> str:
    """``FLOWYARD_TEST_REDIS_URL`` (its own database number) after checking Redis answers."""
    import redis

    url = os.environ.get("FLOWYARD_TEST_REDIS_URL") or DEFAULT_TEST_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is not reachable at {url} ({exc}); run scripts/ensure-services.sh")
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Poll ``condition`` until it returns something truthy (returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """A subprocess started in its own session and stopped by its PID, with its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self) -> bool:
        """False while it runs (so it chains with ``or`` in a wait condition); raises once it has exited."""
        if self.popen.poll() is not None:
            raise AssertionError(
                f"process {self.pid} exited ({self.popen.returncode}):\n{self.output()[-4000:]}"
            )
        return False

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)  # its own session: the process and any children it forked
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout)
        self._log_file.close()


def service_env(**overrides: str) -> dict[str, str]:
    """The environment of a service subprocess: this one's, minus what would point it elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "REDIS_URL", "CELERY_"))}
    env.update(DJANGO_SETTINGS_MODULE="backend.settings", PYTHONUNBUFFERED="1", **overrides)
    return env


PYTHON = sys.executable

# What answers 503 while the database is down (test_edge checks the bodies, benchmarks.faults times them).
SERVICES_DOWN_REQUESTS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/api/workflows", None),
    ("GET", "/api/runs", None),
    ("POST", "/api/runs", {"workspace": 1, "graph": {"nodes": {}}}),
    ("POST", "/api/auth/login", {"username": "a", "password": "b"}),
    ("POST", "/comfy/prompt", {"prompt": {}}),
    ("GET", "/comfy/queue", None),
]


def services_down_web(port: int, var_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a uvicorn web process on ``port`` whose Postgres and Redis are closed
    ports (nothing listens there): what the API answers during an outage."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "FLOWYARD_"))
    }
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/flowyard",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        FLOWYARD_DISPATCHER="celery",
        FLOWYARD_VAR_DIR=str(var_dir),
        SECRET_KEY="services-down",
        ALLOWED_HOSTS="127.0.0.1",
    )
    args = [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
            "backend.asgi:application"]  # fmt: skip
    return args, env


@contextmanager
def daphne_server(tmp_path: Path, **env: str) -> Iterator[tuple[str, Process]]:
    """A web process (daphne, the local dispatcher, the test pack) on a free port, on this test's database;
    yields its base URL and process. Logs in ``tmp_path / "daphne.log"``."""
    with daphne_servers([tmp_path], **env) as [started]:
        yield started


@contextmanager
def daphne_servers(roots: list[Path], **env: str) -> Iterator[list[tuple[str, Process]]]:
    """``daphne_server`` for each folder of ``roots`` (its own var and blob directories, its log), all started
    at once and then waited for: a start is seconds of imports, and they overlap."""
    processes: list[tuple[str, Process]] = []
    try:
        for root in roots:
            port = free_port()
            environment = service_env(
                DATABASE_URL=subprocess_database_url(),
                SECRET_KEY="daphne-tests",
                FLOWYARD_VAR_DIR=str(root / "var"),
                FLOWYARD_BLOB_DIR=str(root / "blobs"),
                FLOWYARD_DISPATCHER="local",
                FLOWYARD_NODE_PACKS="nodepacks.core,backend.runs.tests.testpack",
                **env,
            )
            args = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "backend.asgi:application"]
            processes.append((f"http://127.0.0.1:{port}", Process(args, environment, root / "daphne.log")))
        for base, process in processes:
            port = int(base.rsplit(":", 1)[1])
            wait_until(lambda: process.check_alive() or port_open(port), 30, "daphne to listen")  # noqa: B023
        yield processes
    finally:
        for _, process in processes:
            process.stop()


@contextmanager
def submitting_through_celery(settings, monkeypatch, redis_url: str, queue: str) -> Iterator[None]:
    """Make this test process submit runs through Celery on ``queue`` and use the Redis channel layer, like a
    web process of the production setup (the worker subprocess is the test's own fixture)."""
    from backend.celery import app as celery_app
    from backend.runs import dispatch
    from backend.settings import redis_channel_layers
    from backend.storage.blobs import get_blob_store

    settings.FLOWYARD_DISPATCHER = "celery"
    settings.FLOWYARD_CPU_QUEUE = queue
    settings.CELERY_BROKER_URL = redis_url
    settings.CHANNEL_LAYERS = redis_channel_layers(redis_url)
    monkeypatch.setattr(dispatch, "_dispatchers", {})
    get_blob_store.cache_clear()
    celery_app.close()
    monkeypatch.setitem(celery_app.conf, "broker_url", redis_url)
    try:
        yield
    finally:
        celery_app.close()
        get_blob_store.cache_clear()
