"""Blob store fixtures: a local store in a temp dir, and an S3 store on a real moto server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.storage.blobs import BlobStore, LocalBlobStore, S3BlobStore

S3_CREDENTIALS: dict[str, Any] = {
    "access_key_id": "testing",
    "secret_access_key": "testing",
    "region": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"S3 test server unavailable in CI: {reason}")
    pytest.skip(f"S3 test server unavailable: {reason}")


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``moto_server`` on a free port for the session; yield its URL; stop it by its PID."""
    executable = Path(sys.executable).parent / "moto_server"
    if not executable.exists():
        _unavailable(f"{executable} not found (pip install 'moto[server]')")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                _unavailable(f"moto_server exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    _unavailable(f"moto_server did not answer on {endpoint}: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_store(moto_endpoint: str) -> S3BlobStore:
    """An S3 blob store on its own fresh bucket."""
    store = S3BlobStore(
        f"test-{uuid.uuid4().hex[:12]}", "blobs/", endpoint_url=moto_endpoint, **S3_CREDENTIALS
    )
    assert store.ensure_bucket()
    return store


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    """A local blob store in a temp directory (fsync off: tests need no durability)."""
    return LocalBlobStore(tmp_path / "blobs", fsync=False)


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest) -> BlobStore:
    """Each blob store implementation in turn."""
    store: BlobStore = request.getfixturevalue(f"{request.param}_store")
    return store
