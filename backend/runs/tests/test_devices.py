"""Device needs: where a run with GPU nodes goes, and when it is refused at submit (through the runs API).

Celery cases submit through the real ``CeleryDispatcher`` (the helper the Celery tests use) with
Celery's ``send_task`` recording the queue instead of sending: which queue a run goes to is the point, not its execution.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.celery import app as celery_app
from backend.runs import dispatch
from backend.runs.models import Run
from backend.runs.tasks import execute_run_task
from backend.runs.tests.services import checked_redis_url, submitting_through_celery
from backend.workers_registry.models import Worker
from nodepacks import sdk

pytestmark = pytest.mark.django_db

CPU_QUEUE = "flowyard.cpu.devices-test"


def graph_of(node_type: str) -> dict:
    return {
        "nodes": {
            "1": {"type": "test.Inc", "inputs": {"value": 1}},
            "2": {"type": node_type, "inputs": {"value": ["1", 0]}},
            "3": {"type": "test.Show", "inputs": {"value": ["2", 0]}},
        }
    }


class Celery:
    """Submits through the API in Celery mode; ``sent`` lists the ``(run id, queue)`` the dispatcher sent."""

    def __init__(self, on_commit) -> None:
        self.on_commit = on_commit
        self.sent: list[tuple[str, str]] = []

    def submit(self, client, workspace, graph: dict):
        with self.on_commit(execute=True):  # the dispatcher sends after the submit's transaction commits
            return submit(client, workspace, graph)


@pytest.fixture
def celery(settings, monkeypatch, django_capture_on_commit_callbacks):
    mode = Celery(django_capture_on_commit_callbacks)

    def send_task(name, args, task_id, queue, ignore_result):
        assert (name, args, ignore_result) == (
            execute_run_task.name,
            [task_id],
            execute_run_task.ignore_result,
        )
        mode.sent.append((task_id, queue))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    settings.FLOWYARD_GPU_FALLBACK_TO_CPU = False  # the production default
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 10  # nothing finishes here: let every run be sent
    with submitting_through_celery(settings, monkeypatch, checked_redis_url(), CPU_QUEUE):
        yield mode


def gpu_worker(name: str = "gpu-1", heard: timedelta = timedelta(0), queue: str = "flowyard.gpu") -> Worker:
    return Worker.objects.create(
        name=name,
        hostname="gpu-host",
        queues=[queue],
        capabilities={"gpus": [{"name": "Test GPU", "memory_bytes": 8 << 30}]},
        last_heartbeat=timezone.now() - heard,
    )


def submit(client, workspace, graph: dict):
    return client.post("/api/runs", {"workspace": workspace.pk, "graph": graph}, format="json")


# The SDK


def test_device_is_declared_on_the_node_and_served_in_its_schema():
    from backend.runs.tests.testpack import GpuInc, Inc, PrefersGpuInc

    assert (Inc.schema().device, PrefersGpuInc.schema().device, GpuInc.schema().device) == (
        "cpu",
        "gpu",
        "gpu-only",
    )
    assert (PrefersGpuInc.schema().requires_gpu, GpuInc.schema().requires_gpu) == (False, True)
    assert GpuInc.schema().to_json()["device"] == "gpu-only"

    class OnlyGpu(sdk.Node):
        id = "test.OnlyGpu"
        device = "gpu-only"

        def execute(self, inputs, ctx):
            return self.Outputs()

    assert OnlyGpu.schema().requires_gpu is True  # older clients read requires_gpu


def test_an_unknown_device_fails_at_import():
    with pytest.raises(TypeError, match="device must be one of cpu, gpu, gpu-only"):

        class Tpu(sdk.Node):
            id = "test.Tpu"
            device = "tpu"

            def execute(self, inputs, ctx):
                return self.Outputs()


# Celery: a live GPU worker, or none


def test_a_run_with_a_gpu_node_goes_to_the_gpu_queue_while_a_gpu_worker_is_live(celery, team, as_role):
    gpu_worker()
    for node_type in ("test.PrefersGpuInc", "test.GpuInc"):
        response = celery.submit(as_role("runner"), team, graph_of(node_type))
        assert response.status_code == 201, response.json()
    cpu = celery.submit(as_role("runner"), team, graph_of("test.Inc"))
    assert cpu.status_code == 201
    queues = dict(celery.sent)
    assert sorted(queues.values()) == [CPU_QUEUE, "flowyard.gpu", "flowyard.gpu"]
    assert queues[cpu.json()["id"]] == CPU_QUEUE


def test_without_a_gpu_worker_a_run_preferring_a_gpu_is_refused_unless_the_admin_allows_the_cpu(
    celery, team, as_role, settings
):
    gpu_worker("cpu-only", queue=CPU_QUEUE)  # a live worker, but not on the GPU queue
    gpu_worker("gone", heard=timedelta(minutes=5))  # served the GPU queue, presumed dead
    refused = celery.submit(as_role("runner"), team, graph_of("test.PrefersGpuInc"))
    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert (error["code"], error["node"]) == ("gpu_unavailable", "2")
    assert "test.PrefersGpuInc needs a GPU and no GPU worker is online" in error["message"]
    assert "FLOWYARD_GPU_FALLBACK_TO_CPU" in error["message"]
    assert not Run.objects.exists() and not celery.sent

    settings.FLOWYARD_GPU_FALLBACK_TO_CPU = True
    allowed = celery.submit(as_role("runner"), team, graph_of("test.PrefersGpuInc"))
    assert allowed.status_code == 201, allowed.json()
    assert celery.sent == [(allowed.json()["id"], CPU_QUEUE)]


def test_without_a_gpu_worker_a_gpu_only_node_is_refused_even_when_the_cpu_is_allowed(
    celery, team, as_role, settings
):
    settings.FLOWYARD_GPU_FALLBACK_TO_CPU = True
    graph = graph_of("test.PrefersGpuInc")
    graph["nodes"]["4"] = {"type": "test.GpuInc", "inputs": {"value": ["2", 0]}}
    graph["nodes"]["5"] = {"type": "test.Show", "inputs": {"value": ["4", 0]}}
    response = celery.submit(as_role("runner"), team, graph)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["node"] == "4"
    assert error["message"] == "test.GpuInc runs only on a GPU and no GPU worker is online."
    assert not celery.sent


# Embedded: everything runs in this process


@pytest.mark.django_db(transaction=True)
def test_embedded_runs_a_node_preferring_a_gpu_on_the_cpu_and_refuses_a_gpu_only_one(
    team, as_role, settings, monkeypatch, wait_for_run
):
    settings.FLOWYARD_GPU_FALLBACK_TO_CPU = True  # the embedded default
    monkeypatch.setattr(dispatch, "local_gpus", lambda: 0)
    response = submit(as_role("runner"), team, graph_of("test.PrefersGpuInc"))
    assert response.status_code == 201, response.json()
    assert wait_for_run(response.json()["id"]).status == Run.Status.SUCCEEDED

    refused = submit(as_role("runner"), team, graph_of("test.GpuInc"))
    assert refused.status_code == 400
    assert (
        refused.json()["errors"][0]["message"]
        == "test.GpuInc runs only on a GPU and this machine has no GPU."
    )

    monkeypatch.setattr(dispatch, "local_gpus", lambda: 1)
    on_gpu = submit(as_role("runner"), team, graph_of("test.GpuInc"))
    assert on_gpu.status_code == 201, on_gpu.json()
    run = wait_for_run(on_gpu.json()["id"])
    assert (run.status, run.requires_gpu) == (Run.Status.SUCCEEDED, True)
