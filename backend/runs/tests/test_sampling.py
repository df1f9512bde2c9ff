"""Running GPU-style work through the runs API: per-step progress with throttled JPEG previews of which only the
latest is kept, cancel within one step, GPU memory given back after a cancelled or failed run, and a clear error
when memory runs out twice. ``test.Sampler`` stands in for a diffusion sampler (it reports every step)."""

from __future__ import annotations

import io
import sys
import types

import pytest
from PIL import Image

from backend.runs import execution
from backend.runs.dispatch import LocalDispatcher, get_dispatcher
from backend.runs.models import NodeRun, Run, RunEvent, RunOutput
from backend.runs.tests import testpack
from backend.storage.blobs import get_blob_store
from workers.engine.executor import out_of_memory_message

pytestmark = pytest.mark.django_db(transaction=True)


def sampler(steps: int, step_seconds: float, **sizes: int) -> dict:
    return {
        "nodes": {
            "s": {"type": "test.Sampler", "inputs": {"steps": steps, "step_seconds": step_seconds, **sizes}}
        }
    }


def submit(client, workspace, graph: dict, outputs=("s",)) -> str:
    body = {"workspace": workspace.pk, "graph": graph, "outputs": list(outputs)}
    response = client.post("/api/runs", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def executed() -> None:
    """Wait until the worker thread is done with the run (its status is written before it cleans up)."""
    dispatcher = get_dispatcher()
    assert isinstance(dispatcher, LocalDispatcher)
    assert dispatcher.wait_idle(5)


@pytest.fixture(autouse=True)
def fresh_sampler():
    testpack.sampler_steps.clear()
    testpack.sampler_done.clear()


@pytest.fixture
def fake_cuda(monkeypatch):
    """A stand-in for an imported torch whose CUDA has started: counts ``empty_cache`` calls."""
    calls = []
    cuda = types.SimpleNamespace(
        is_initialized=lambda: True, is_available=lambda: True, empty_cache=lambda: calls.append(1)
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    return calls


def test_progress_every_step_and_throttled_jpeg_previews_of_which_only_the_latest_is_kept(
    team, as_role, wait_for_run, settings
):
    client = as_role("runner")
    run_id = submit(client, team, sampler(12, 0.05, width=1024, height=768))
    run = wait_for_run(run_id)
    assert run.status == Run.Status.SUCCEEDED

    progress = [e.data for e in RunEvent.objects.filter(run=run, type="progress").order_by("seq")]
    assert [(p["value"], p["max"]) for p in progress] == [(float(step), 12.0) for step in range(1, 13)]
    refs = [p["preview"] for p in progress if "preview" in p]
    # At most one preview per 0.25 s (each stored preview is what every watching socket receives).
    times = list(RunEvent.objects.filter(run=run, type="progress").values_list("time", flat=True))
    span = max(times) - min(times)
    assert 2 <= len(refs) <= span / execution.PREVIEW_EVERY_SECONDS + 2 and len(refs) < 12, (len(refs), span)
    assert all(ref["content_type"] == "image/jpeg" for ref in refs)

    [kept] = RunOutput.objects.filter(run=run, kind=RunOutput.Kind.PREVIEW)
    assert kept.pk == refs[-1]["id"]
    assert kept.blob_sha is not None
    with get_blob_store().open(kept.blob_sha) as handle:
        image = Image.open(io.BytesIO(handle.read()))
    assert (image.format, image.size) == ("JPEG", (512, 384))  # at most 512 px on the long side
    assert kept.size < 60_000
    # The replaced previews are gone, rows and blobs (the run had stored each one while it ran).
    replaced = [ref for ref in refs[:-1]]
    assert not RunOutput.objects.filter(pk__in=[ref["id"] for ref in replaced]).exists()
    assert client.get(replaced[0]["url"]).status_code == 404
    assert client.get(refs[-1]["url"]).status_code == 200
    # Of the previews' blobs only the kept one is left (the other blob holds the sampler's cached output).
    jpegs = [
        p for p in settings.FLOWYARD_BLOB_DIR.rglob("*") if p.is_file() and p.read_bytes()[:2] == b"\xff\xd8"
    ]
    assert [path.name for path in jpegs] == [kept.blob_sha]


@pytest.mark.timeout(120)
def test_cancel_stops_a_sampler_within_a_step_and_gives_the_gpu_memory_back(
    team, as_role, wait_for_run, fake_cuda
):
    client = as_role("runner")
    run_id = submit(client, team, sampler(100_000, 0.01))  # ~17 minutes if the cancel never reached it
    wait_for_run(run_id, until=lambda run: testpack.sampler_steps.get("s", 0) >= 3)
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 200
    # The answer comes after the commit that told this process's executor to stop: the sampler may finish the
    # step it is in, and its next progress report raises. One step more at most, however slow the machine is.
    steps_when_answered = testpack.sampler_steps["s"]
    run = wait_for_run(run_id, timeout=100)  # pytest-timeout catches a hang
    assert run.status == Run.Status.CANCELLED
    executed()
    assert testpack.sampler_done["s"] is False
    assert testpack.sampler_steps["s"] <= steps_when_answered + 1, (
        steps_when_answered,
        testpack.sampler_steps,
    )
    assert NodeRun.objects.get(run=run, node_id="s").status == NodeRun.Status.CANCELLED
    assert fake_cuda, "the cancelled run's cached GPU memory should have been emptied"


def test_a_succeeded_run_leaves_the_allocator_alone_and_no_run_imports_torch(team, as_role, wait_for_run,
                                                                            fake_cuda, monkeypatch):  # fmt: skip
    run_id = submit(as_role("runner"), team, sampler(2, 0.0))
    assert wait_for_run(run_id).status == Run.Status.SUCCEEDED
    executed()
    assert not fake_cuda
    monkeypatch.delitem(sys.modules, "torch")
    assert execution.release_gpu_memory() is False
    assert "torch" not in sys.modules


def test_out_of_memory_twice_fails_the_node_with_a_clear_message_and_no_traceback(
    team, as_role, wait_for_run, fake_cuda, monkeypatch
):
    released = []
    real = execution.release_gpu_memory
    monkeypatch.setattr(execution, "release_gpu_memory", lambda: released.append(real()))
    graph = {"nodes": {"oom": {"type": "test.OutOfMemory", "inputs": {"value": 1}}}}
    run = wait_for_run(submit(as_role("runner"), team, graph, outputs=["oom"]))
    assert run.status == Run.Status.FAILED
    executed()
    node = NodeRun.objects.get(run=run, node_id="oom")
    assert node.error.startswith("out of memory on GPU 0: try a smaller size or batch (CUDA out of memory.")
    assert (node.error_type, node.traceback) == ("OutOfMemory", "")
    assert testpack.executions["test.OutOfMemory"] == 2  # freed the warm models and tried once more
    [retry] = RunEvent.objects.filter(run=run, type="node_retry")
    assert retry.data["reason"] == "out_of_memory"
    assert released == [True]  # the failed run gave its cached GPU memory back


def test_out_of_memory_names_the_device():
    assert (
        out_of_memory_message(MemoryError()) == "out of memory on the CPU (RAM): try a smaller size or batch"
    )
    torch_like = testpack.FakeCudaOutOfMemory("CUDA out of memory. Tried to allocate 20.00 MiB")
    assert out_of_memory_message(torch_like) == (
        "out of memory on the GPU: try a smaller size or batch (CUDA out of memory. Tried to allocate 20.00 MiB)"
    )
