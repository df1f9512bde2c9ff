"""The request edge: body limits before Django reads a body, and outages of Postgres or Redis as 503 JSON."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import httpx
import kombu
import psycopg
import pytest
import redis
from asgiref.sync import async_to_sync
from redis.backoff import NoBackoff
from redis.retry import Retry

from backend.core.body_limits import BodyLimitMiddleware
from backend.core.unavailable import BROKER, DATABASE, unavailable_service
from backend.runs.tests.services import SERVICES_DOWN_REQUESTS, free_port, services_down_web

REPO = Path(__file__).resolve().parents[3]
MB = 1024 * 1024


def call(app, scope_headers: list[tuple[bytes, bytes]], chunks: list[bytes], path: str = "/api/runs"):
    """Run the ASGI ``app`` on one POST; returns the messages it sent and how many body chunks it read."""
    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": scope_headers,
             "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}  # fmt: skip
    sent: list[dict] = []
    pending = list(chunks)
    read = 0

    async def receive():
        nonlocal read
        if not pending:
            return {"type": "http.disconnect"}
        read += 1
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    async def run():
        await app(scope, receive, send)

    async_to_sync(run)()
    return sent, read


def status_and_body(sent: list[dict]) -> tuple[int, dict]:
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return start["status"], json.loads(body)


BEARER = (b"authorization", b"Bearer not-checked-here")


def test_a_declared_body_over_the_limit_is_refused_before_one_byte_is_read(settings):
    from backend.asgi import application

    settings.FLOWYARD_MAX_REQUEST_BYTES = 1 * MB
    headers = [BEARER, (b"content-type", b"application/json"), (b"content-length", str(400 * MB).encode())]
    sent, read = call(application, headers, [b"{}"])
    status, body = status_and_body(sent)
    assert (status, read) == (413, 0)
    assert body["errors"][0]["field"] == "body"
    assert "FLOWYARD_MAX_REQUEST_BYTES" in body["detail"] and body["limit"] == 1 * MB


def test_uploads_have_their_own_larger_limit(settings):
    settings.FLOWYARD_MAX_REQUEST_BYTES = 1 * MB
    settings.FLOWYARD_MAX_UPLOAD_BYTES = 10 * MB
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [BEARER, (b"content-length", str(5 * MB).encode())]
    sent, _ = call(BodyLimitMiddleware(inner), headers, [b""], path="/api/uploads")
    assert sent[0]["status"] == 204
    sent, _ = call(BodyLimitMiddleware(inner), headers, [b""], path="/comfy/upload/image")
    assert sent[0]["status"] == 204
    sent, _ = call(BodyLimitMiddleware(inner), headers, [b""], path="/api/workflows")
    assert status_and_body(sent)[0] == 413
    assert seen == ["/api/uploads", "/comfy/upload/image"]


def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit(settings):
    from backend.asgi import application

    settings.FLOWYARD_MAX_REQUEST_BYTES = 1 * MB
    chunks = [b"x" * (256 * 1024)] * 400  # 100 MB, no Content-Length (chunked)
    sent, read = call(application, [BEARER, (b"content-type", b"application/json")], chunks)
    status, body = status_and_body(sent)
    assert status == 413
    assert read == 5  # the fifth chunk passes 1 MB: nothing after it is read
    assert body["errors"][0]["field"] == "body"


def test_requests_without_credentials_get_the_tiny_limit(settings):
    from backend.asgi import application

    settings.FLOWYARD_MAX_ANONYMOUS_REQUEST_BYTES = 64 * 1024
    headers = [(b"content-type", b"application/json"), (b"content-length", str(200 * MB).encode())]
    sent, read = call(application, headers, [b"{}"], path="/api/uploads")
    status, body = status_and_body(sent)
    assert (status, read) == (413, 0)
    assert "Sign in first" in body["detail"]


def test_a_malformed_content_length_answers_400(settings):
    from backend.asgi import application

    sent, read = call(application, [BEARER, (b"content-length", b"12abc")], [b"{}"])
    status, body = status_and_body(sent)
    assert (status, read) == (400, 0)
    assert body["errors"][0]["field"] == "Content-Length"


def test_outage_errors_of_the_real_clients_are_classified():
    port = free_port()  # bound, then released: nothing listens there
    with pytest.raises(psycopg.OperationalError) as database:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/none", connect_timeout=2)
    assert unavailable_service(database.value) == DATABASE
    # No retries or waits between them (the clients' defaults spend 6 s of backoff): the error that ends the
    # retries is the same class as the first one.
    with pytest.raises(redis.exceptions.ConnectionError) as broker:
        redis.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)).ping()
    assert unavailable_service(broker.value) == BROKER
    connection = kombu.Connection(f"redis://127.0.0.1:{port}/0", connect_timeout=1)
    with pytest.raises(kombu.exceptions.OperationalError) as publish:
        connection.ensure_connection(max_retries=1, interval_start=0)
    assert unavailable_service(publish.value) == BROKER
    assert unavailable_service(ValueError("a bug")) is None


@pytest.fixture(scope="module")
def server_without_services(tmp_path_factory):
    """The web process (uvicorn) with Postgres and Redis pointed at closed ports; stopped by its PID.

    One for the module: its tests only send requests that fail the same way (nothing it could reach keeps
    state between them), and starting it costs seconds each time."""
    tmp_path = tmp_path_factory.mktemp("services-down")
    port = free_port()
    args, env = services_down_web(port, tmp_path)
    log = (tmp_path / "web.log").open("wb")
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "web.log").read_text()
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.parametrize(("method", "path", "body"), SERVICES_DOWN_REQUESTS)
def test_every_api_answers_503_json_while_the_database_is_down(server_without_services, method, path, body):
    headers = {"Authorization": "Bearer fy_some_token"}
    response = httpx.request(method, server_without_services + path, json=body, headers=headers, timeout=30)
    assert response.status_code == 503, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["unavailable"] == DATABASE
    assert "the database is unavailable" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    # How fast it answers (goal: within 2 s) is benchmarks.faults' "faults.api_database_down"; a hang is caught
    # by httpx's 30 s and pytest-timeout.


def test_health_answers_503_json_naming_both_outages(server_without_services):
    response = httpx.get(server_without_services + "/api/health", timeout=30)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"].startswith("error") and checks["channel_layer"].startswith("error")
