"""Smoke test through a running cluster (``make cluster`` then ``make cluster-test``).

Runs only when ``FLOWYARD_CLUSTER_URL`` names the cluster's web address (``make cluster-test`` sets it to
http://127.0.0.1:$PORT): signs up through the API, creates a token, submits graphs, watches one over the
websocket and downloads its image from S3 through the presigned redirect. Nothing here touches the database
directly: it is what a user's script sees.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

CLUSTER_URL = os.environ.get("FLOWYARD_CLUSTER_URL", "").rstrip("/")

pytestmark = pytest.mark.skipif(not CLUSTER_URL, reason="set FLOWYARD_CLUSTER_URL (make cluster-test)")


def image_graph(color: int) -> dict:
    return {
        "nodes": {
            "1": {
                "type": "EmptyImage",
                "inputs": {"width": 16, "height": 8, "batch_size": 1, "color": color},
            },
            "2": {"type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "smoke"}},
        },
        "outputs": ["2"],
    }


def chain_graph(length: int, start: int) -> dict:
    nodes: dict = {"0": {"type": "PrimitiveInt", "inputs": {"value": start}}}
    for i in range(1, length):
        nodes[str(i)] = {"type": "IntMath", "inputs": {"a": [str(i - 1), 0], "b": 1, "operation": "add"}}
    return {"nodes": nodes, "outputs": [str(length - 1)]}


@pytest.fixture(scope="module")
def session() -> dict:
    """A new user (signed up through the API) and a personal API token."""
    with httpx.Client(base_url=CLUSTER_URL, timeout=20) as browser:
        csrf = browser.get("/api/auth/csrf")
        assert csrf.status_code == 200, csrf.text
        token = browser.cookies["csrftoken"]
        name = f"smoke-{uuid.uuid4().hex[:10]}"
        headers = {"X-CSRFToken": token, "Referer": CLUSTER_URL + "/"}
        credentials = {"username": name, "password": f"pw-{uuid.uuid4().hex}"}
        signup = browser.post("/api/auth/signup", json=credentials, headers=headers)
        assert signup.status_code == 202, signup.text  # the same answer for a taken name: sign in next
        login = browser.post("/api/auth/login", json=credentials, headers=headers)
        assert login.status_code == 200, login.text
        user = login.json()
        headers["X-CSRFToken"] = browser.cookies.get("csrftoken") or token
        created = browser.post("/api/tokens", json={"name": "smoke"}, headers=headers)
        assert created.status_code == 201, created.text
    return {"user": user, "token": created.json()["token"], "workspace": user["personal_workspace"]["id"]}


@pytest.fixture(scope="module")
def api(session):
    with httpx.Client(
        base_url=CLUSTER_URL, timeout=20, headers={"Authorization": f"Bearer {session['token']}"}
    ) as client:
        yield client


def submit(api: httpx.Client, workspace: int, graph: dict) -> str:
    response = api.post("/api/runs", json={"workspace": workspace, "graph": graph})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def watch(run_id: str, token: str, timeout: float = 60) -> list[dict]:
    from websockets.sync.client import connect

    ws_url = CLUSTER_URL.replace("http", "ws", 1) + f"/ws/runs/{run_id}/?token={token}"
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    with connect(ws_url, open_timeout=10) as socket:
        while not events or events[-1]["type"] != "run_finished":
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no run_finished within {timeout} s; got {[e['type'] for e in events]}"
            events.append(json.loads(socket.recv(timeout=remaining)))
    return events


def test_the_cluster_is_healthy_with_workers():
    body = httpx.get(f"{CLUSTER_URL}/api/health", timeout=10).json()
    assert body["status"] == "ok", body
    assert body["checks"]["workers"] == "ok", body


def test_a_run_is_watched_over_the_websocket_and_its_image_comes_from_s3(api, session):
    run_id = submit(api, session["workspace"], image_graph(0xFF8000))
    events = watch(run_id, session["token"])

    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_started"
    assert events[-1]["data"]["status"] == "succeeded", events[-1]
    detail = api.get(f"/api/runs/{run_id}").json()
    assert detail["status"] == "succeeded" and detail["worker"], detail
    [image] = [r for r in detail["results"] if r["kind"] == "image"]

    redirect = api.get(image["url"], follow_redirects=False)
    assert redirect.status_code in (302, 307), redirect.status_code
    location = redirect.headers["location"]
    assert "X-Amz-Signature" in location or "Signature" in location, location
    assert urlsplit(location).netloc != urlsplit(CLUSTER_URL).netloc, "served by web, not by S3"
    blob = httpx.get(location, timeout=20)  # no credentials: the signature alone grants access
    assert blob.status_code == 200, blob.text[:300]
    picture = Image.open(io.BytesIO(blob.content))
    pixel = picture.getpixel((0, 0))
    assert picture.size == (16, 8) and isinstance(pixel, tuple) and pixel[:3] == (255, 128, 0)


def test_runs_spread_over_the_workers(api, session):
    """Several chains at once: all succeed, and with two idle workers both take part."""
    ids = [submit(api, session["workspace"], chain_graph(20, start)) for start in range(6)]
    deadline = time.monotonic() + 60
    details: list[dict] = []
    while time.monotonic() < deadline:
        details = [api.get(f"/api/runs/{run_id}").json() for run_id in ids]
        if all(d["status"] in ("succeeded", "failed", "cancelled") for d in details):
            break
        time.sleep(0.2)
    assert [d["status"] for d in details] == ["succeeded"] * len(ids), [d["error"] for d in details]
    workers = {d["worker"].split("@")[0] for d in details}
    print("runs executed by:", sorted(workers))
    assert workers <= {"worker-a", "worker-b"}, workers
    assert len(workers) == 2, f"only {workers} executed runs"
