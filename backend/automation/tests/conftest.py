"""Automation fixtures: the runs test pack and workflows (backend/runs/tests), and a local HTTP receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from backend.runs.tests.conftest import image_workflow, private_workflow, runs_environment  # noqa: F401


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every request; ``answer(n)`` decides the n-th answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.answer: Callable[[int, str], tuple[int, dict[str, str], bytes]] = lambda n, path: (
            200,
            {},
            b"ok",
        )
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                        }
                    )
                    number = len(receiver.requests)
                code, headers, payload = receiver.answer(number, self.path)
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def allow_loopback(settings):
    """Webhooks may reach 127.0.0.1 (the local receiver) and nothing else private."""
    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.FLOWYARD_WEBHOOK_TIMEOUT_SECONDS = 5


@pytest.fixture
def wait_until():
    import time

    def wait(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not met within {timeout} s")
            time.sleep(0.02)

    return wait
