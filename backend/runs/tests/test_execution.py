"""Runs end to end through the API and the local dispatcher: outputs, failures, cancel, rerun, resume, delete."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from backend.runs.models import NodeRun, Run, RunEvent, RunOutput
from backend.runs.tests import testpack
from backend.runs.tests.conftest import IMAGE_GRAPH, chain

pytestmark = pytest.mark.django_db(transaction=True)


def submit(client, body: dict) -> dict:
    response = client.post("/api/runs", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_run_of_a_workflow_succeeds_with_downloadable_images(image_workflow, as_role, wait_for_run):
    client = as_role("runner")
    run = submit(client, {"workflow": image_workflow.pk})
    assert run["status"] in ("queued", "running") and run["workflow_version"] == 1
    wait_for_run(run["id"])

    detail = client.get(f"/api/runs/{run['id']}").json()
    assert detail["status"] == "succeeded" and detail["error"] == ""
    assert [(n["node_id"], n["type"], n["status"]) for n in detail["nodes"]] == [
        ("1", "EmptyImage", "succeeded"),
        ("2", "ImageInvert", "succeeded"),
        ("3", "SaveImage", "succeeded"),
    ]
    for node in detail["nodes"]:
        assert node["started"] and node["finished"] and node["duration"] >= 0
    assert detail["nodes"][1]["outputs"][0]["summary"] == "IMAGE 2x4x8x3"
    assert detail["started"] and detail["finished"] and detail["duration"] >= 0
    assert detail["queue_position"] is None

    images = [r for r in detail["results"] if r["kind"] == "image"]
    assert [(r["node_id"], r["index"], r["filename"], r["saved"]) for r in images] == [
        ("3", 0, "inverted_00001.png", True),
        ("3", 1, "inverted_00002.png", True),
    ]
    response = client.get(images[0]["url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(b"".join(response.streaming_content))))
    assert pixels.shape == (4, 8, 3)
    assert tuple(pixels[0, 0]) == (255 - 0x10, 255 - 0x20, 255 - 0x30)


def test_events_are_stored_in_order_and_replayed(image_workflow, as_role, wait_for_run):
    client = as_role("owner")
    run = submit(client, {"workflow": image_workflow.pk})
    wait_for_run(run["id"])
    seqs = list(RunEvent.objects.filter(run_id=run["id"]).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert Run.objects.get(pk=run["id"]).last_seq == len(seqs)

    page = client.get(f"/api/runs/{run['id']}/events?after=0&limit=2").json()
    assert [e["seq"] for e in page["events"]] == [1, 2] and page["more"] is True
    assert set(page["events"][0]) == {"seq", "type", "node", "data", "time"}
    rest = client.get(f"/api/runs/{run['id']}/events?after=2").json()
    events = page["events"] + rest["events"]
    assert rest["more"] is False and rest["last_seq"] == len(seqs)
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert events[-1]["data"]["status"] == "succeeded"
    [saved] = [e for e in events if e["type"] == "node_finished" and e["node"] == "3"]
    assert [(r["kind"], r["filename"]) for r in saved["data"]["results"]] == [
        ("image", "inverted_00001.png"),
        ("image", "inverted_00002.png"),
    ]
    assert saved["data"]["results"][0]["url"].startswith(f"/api/runs/{run['id']}/outputs/")


def test_overrides_change_the_graph_that_runs(image_workflow, as_role, wait_for_run):
    client = as_role("editor")
    run = submit(client, {"workflow": image_workflow.pk, "overrides": {"1": {"width": 3, "batch_size": 1}}})
    assert run["graph"]["nodes"]["1"]["inputs"]["width"] == 3
    wait_for_run(run["id"])
    [image] = RunOutput.objects.filter(run_id=run["id"], kind="image")
    response = client.get(image.url())
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (3, 4)


def test_raw_graph_run_with_text_and_json_outputs(team, as_role, wait_for_run):
    client = as_role("runner", token=True)
    run = submit(client, {"workspace": team.pk, "graph": chain(3)})
    assert run["workflow"] is None and run["source"] == "api"
    done = wait_for_run(run["id"])
    assert done.status == "succeeded"
    outputs = {o.kind: o for o in RunOutput.objects.filter(run=done)}
    assert outputs["text"].text == "value 3" and outputs["json"].data == {"value": 3}
    detail = client.get(f"/api/runs/{run['id']}").json()
    assert {r["kind"]: r["url"] for r in detail["results"]} == {"text": None, "json": None}


def test_failure_records_traceback_and_skips_dependents(team, as_role, wait_for_run):
    graph = {
        "nodes": {
            "a": {"type": "test.Inc", "inputs": {"value": 1}},
            "boom": {"type": "test.Fail", "inputs": {"value": ["a", 0]}},
            "after": {"type": "test.Inc", "inputs": {"value": ["boom", 0]}},
            "show": {"type": "test.Show", "inputs": {"value": ["after", 0]}},
            "other": {"type": "test.Show", "inputs": {"value": ["a", 0]}},
        }
    }
    client = as_role("runner")
    run = submit(client, {"workspace": team.pk, "graph": graph})
    wait_for_run(run["id"])
    detail = client.get(f"/api/runs/{run['id']}").json()
    assert detail["status"] == "failed"
    assert detail["error"].startswith("node boom (test.Fail) failed: ZeroDivisionError")
    nodes = {n["node_id"]: n for n in detail["nodes"]}
    assert {k: n["status"] for k, n in nodes.items()} == {
        "a": "succeeded",
        "boom": "failed",
        "after": "skipped",
        "show": "skipped",
        "other": "succeeded",
    }
    assert nodes["boom"]["error_type"] == "ZeroDivisionError"
    assert "Traceback" in nodes["boom"]["traceback"] and "always fails" in nodes["boom"]["traceback"]


def test_cancel_stops_a_running_run(team, as_role, wait_for_run):
    graph = {
        "nodes": {
            "slow": {"type": "test.Slow", "inputs": {"steps": 1000, "step_seconds": 0.01}},
            "show": {"type": "test.Show", "inputs": {"value": ["slow", 0]}},
        }
    }
    client = as_role("runner")
    run = submit(client, {"workspace": team.pk, "graph": graph})
    wait_for_run(
        run["id"], until=lambda r: NodeRun.objects.filter(run=r, node_id="slow", status="running").exists()
    )
    response = client.post(f"/api/runs/{run['id']}/cancel")
    assert response.status_code == 200 and response.json()["cancel_requested"] is True
    done = wait_for_run(run["id"], timeout=5)
    assert done.status == "cancelled" and done.error == "Cancelled."
    statuses = dict(done.node_runs.values_list("node_id", "status"))
    assert statuses == {"slow": "cancelled", "show": "cancelled"}
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 409
    # The progress preview the slow node sent was stored as a small JPEG.
    [preview] = RunOutput.objects.filter(run=done, kind="preview")
    assert client.get(preview.url()).status_code == 200


def test_cancel_of_a_run_polled_from_the_database(team, members, as_role, wait_for_run):
    """A worker in another process learns of a cancel from the row (the recorder polls it)."""
    graph = {"nodes": {"slow": {"type": "test.Slow", "inputs": {"steps": 1000, "step_seconds": 0.01}}}}
    client = as_role("runner")
    run = submit(client, {"workspace": team.pk, "graph": graph, "outputs": ["slow"]})
    wait_for_run(run["id"], until=lambda r: r.status == "running")
    Run.objects.filter(pk=run["id"]).update(cancel_requested=True)
    assert wait_for_run(run["id"], timeout=5).status == "cancelled"


def test_rerun_runs_the_same_graph_again(team, as_role, wait_for_run):
    client = as_role("runner")
    first = submit(client, {"workspace": team.pk, "graph": chain(2), "overrides": {"1": {"value": 10}}})
    wait_for_run(first["id"])
    second = client.post(f"/api/runs/{first['id']}/rerun")
    assert second.status_code == 201
    second = second.json()
    assert second["rerun_of"] == first["id"] and second["graph"] == first["graph"]
    done = wait_for_run(second["id"])
    assert done.status == "succeeded"
    assert RunOutput.objects.get(run=done, kind="text").text == "value 12"


def test_resume_executes_only_the_failed_node_and_its_descendants(team, as_role, wait_for_run):
    graph = {
        "nodes": {
            "a": {"type": "test.Inc", "inputs": {"value": 1}},
            "b": {"type": "test.Inc", "inputs": {"value": ["a", 0]}},
            "flaky": {"type": "test.Flaky", "inputs": {"value": ["b", 0]}},
            "c": {"type": "test.Inc", "inputs": {"value": ["flaky", 0]}},
            "show": {"type": "test.Show", "inputs": {"value": ["c", 0]}},
            "side": {"type": "test.Show", "inputs": {"value": ["b", 0]}},
        }
    }
    client = as_role("runner")
    first = submit(client, {"workspace": team.pk, "graph": graph})
    assert wait_for_run(first["id"]).status == "failed"
    testpack.flaky_state["fail"] = False
    testpack.executions.clear()
    resumed = client.post(f"/api/runs/{first['id']}/resume")
    assert resumed.status_code == 201
    done = wait_for_run(resumed.json()["id"])
    assert done.status == "succeeded"
    statuses = dict(done.node_runs.values_list("node_id", "status"))
    executed = {node for node, status in statuses.items() if status == "succeeded"}
    assert executed == {"flaky", "c", "show"}
    assert statuses["a"] == statuses["b"] == "cached"
    assert testpack.executions == {"test.Flaky": 1, "test.Inc": 1, "test.Show": 1}
    # Only failed or cancelled runs resume.
    assert client.post(f"/api/runs/{done.pk}/resume").status_code == 409


def test_delete_removes_the_run_and_its_output_blobs(image_workflow, as_role, wait_for_run, settings):
    from backend.storage.blobs import get_blob_store

    settings.FLOWYARD_CACHE_PROTECT_SECONDS = 0
    client = as_role("runner")
    run = submit(client, {"workflow": image_workflow.pk})
    wait_for_run(run["id"])
    shas = {
        sha for sha in RunOutput.objects.filter(run_id=run["id"]).values_list("blob_sha", flat=True) if sha
    }
    assert len(shas) == 1 and all(get_blob_store().exists(sha) for sha in shas)  # two equal frames, one blob
    # The shared cache stores the same PNGs for SaveImage's UI: while it refers to them they stay.
    from backend.cache.models import CacheRecord

    assert client.delete(f"/api/runs/{run['id']}").status_code == 204
    assert all(get_blob_store().exists(sha) for sha in shas)

    run = submit(client, {"workflow": image_workflow.pk})
    wait_for_run(run["id"])
    CacheRecord.objects.all().delete()
    assert client.delete(f"/api/runs/{run['id']}").status_code == 204
    assert not Run.objects.filter(pk=run["id"]).exists()
    assert not RunEvent.objects.filter(run_id=run["id"]).exists()
    assert not RunOutput.objects.filter(run_id=run["id"]).exists()
    assert not any(get_blob_store().exists(sha) for sha in shas)
    assert client.get(f"/api/runs/{run['id']}").status_code == 404


def test_graph_json_is_stored_with_validated_constants(team, as_role, wait_for_run):
    graph = {"nodes": {"1": {"type": "test.Inc", "inputs": {"value": 2.0}}}, "outputs": ["1"]}
    run = submit(as_role("runner"), {"workspace": team.pk, "graph": graph})
    assert run["graph"]["nodes"]["1"]["inputs"]["value"] == 2 and run["outputs"] is None
    assert wait_for_run(run["id"]).status == "succeeded"


def test_image_graph_constant(image_workflow):
    assert image_workflow.latest_version().graph["nodes"] == IMAGE_GRAPH["nodes"]
