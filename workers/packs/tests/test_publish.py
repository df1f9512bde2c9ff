"""login stores a private token; publish uploads the built archive with it and prints the server's verdict."""

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from workers.cli import main


class _Registry(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
        answer = {
            "status": "pending",
            "message": "queued for review",
            "report": {
                "ok": True,
                "flagged": True,
                "source": "demo-0.1.0.flowyard.zip",
                "findings": [
                    {
                        "rule": "network",
                        "severity": "medium",
                        "file": "demo/__init__.py",
                        "line": 3,
                        "snippet": "import httpx",
                        "explanation": "Uses a network library.",
                    }
                ],
            },
        }
        payload = json.dumps(answer).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Registry.received = []
    server = HTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Registry.received
    server.shutdown()


def test_login_then_publish_uploads_the_archive(
    demo: Path,
    registry: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, received = registry
    config = tmp_path / "config"
    monkeypatch.setenv("FLOWYARD_CONFIG_DIR", str(config))
    assert main(["login", "--server", url, "--token", "s3cret"]) == 0
    credentials = config / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text()) == {"server": url, "token": "s3cret"}

    assert main(["pack", "publish", str(demo)]) == 0
    archive = (demo / "dist" / "demo-0.1.0.flowyard.zip").read_bytes()
    [request] = received
    assert request["path"] == "/api/packs/upload"
    assert request["auth"] == "Bearer s3cret"
    assert b'name="archive"; filename="demo-0.1.0.flowyard.zip"' in request["body"]
    assert archive in request["body"]
    out = capsys.readouterr().out
    assert "server: pending (202): queued for review" in out
    assert "MEDIUM network" in out and "demo/__init__.py:3" in out


def test_publish_refuses_an_invalid_pack_without_uploading(
    demo: Path,
    registry: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, received = registry
    monkeypatch.setenv("FLOWYARD_CONFIG_DIR", str(tmp_path / "config"))
    assert main(["login", "--server", url, "--token", "t"]) == 0
    init = demo / "demo" / "__init__.py"
    init.write_text(init.read_text().replace('"demo.Example"', '"Example"'))
    assert main(["pack", "publish", str(demo)]) == 2
    assert "nothing was uploaded" in capsys.readouterr().err
    assert received == []


def test_login_refuses_plain_http_to_a_remote_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOWYARD_CONFIG_DIR", str(tmp_path))
    assert main(["login", "--server", "http://registry.example.com", "--token", "t"]) == 2
    assert "use https" in capsys.readouterr().err
    assert main(["pack", "publish", "."]) == 2
    assert "not logged in" in capsys.readouterr().err
