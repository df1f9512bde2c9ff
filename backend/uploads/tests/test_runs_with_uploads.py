"""Uploads through the runs API: a run reads its workspace's uploads, and names it lacks are refused at submit."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from backend.uploads.tests.conftest import png_bytes
from backend.workers_registry import process

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def local_runs(settings, monkeypatch):
    settings.FLOWYARD_DISPATCHER = "local"
    monkeypatch.setattr(process, "_memory", None)
    yield


def load_and_save(name: str) -> dict:
    return {
        "nodes": {
            "1": {"type": "LoadImage", "inputs": {"image": name}},
            "2": {"type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "copy"}},
        }
    }


def test_runner_uploads_an_image_and_runs_a_graph_reading_it(as_role, team, upload, wait_for_run):
    client = as_role("runner")
    name = upload(client, team, png_bytes(6, 4, (10, 200, 30)), "input.png").json()["name"]
    response = client.post("/api/runs", {"workspace": team.pk, "graph": load_and_save(name)}, format="json")
    assert response.status_code == 201, response.json()
    run = wait_for_run(response.json()["id"])
    assert run.status == "succeeded", run.error
    detail = client.get(f"/api/runs/{run.pk}").json()
    image = next(result for result in detail["results"] if result["kind"] == "image")
    pixels = np.asarray(Image.open(io.BytesIO(b"".join(client.get(image["url"]).streaming_content))))
    assert pixels.shape == (4, 6, 3) and tuple(pixels[2, 3]) == (10, 200, 30)


def test_graph_naming_a_file_the_workspace_lacks_is_refused_naming_node_and_input(
    as_role, alice, team, upload
):
    client = as_role("owner")
    upload(client, alice.personal_workspace, png_bytes(), "mine.png")  # in another workspace
    response = client.post(
        "/api/runs", {"workspace": team.pk, "graph": load_and_save("mine.png")}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(error["node"], error["input"]) for error in errors] == [("1", "image")]
    assert "mine.png" in errors[0]["message"]
