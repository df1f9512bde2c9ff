"""The production path: runs submitted through the API go through Redis to a real Celery worker process, which
executes them and publishes their events over the Redis channel layer to websockets in this process.

The worker consumes a queue of its own (``flowyard.cpu.test-<random>``) on the test Redis database, so no other
worker on the same Redis takes these tasks, nor this one theirs.
"""

from __future__ import annotations

import io
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from PIL import Image

from backend.runs import dispatch
from backend.runs.actions import do_create_run
from backend.runs.models import NodeRun, Run, RunEvent
from backend.runs.tasks import execute_run_task
from backend.runs.tests.conftest import chain
from backend.runs.tests.services import (
    PYTHON,
    Process,
    checked_redis_url,
    service_env,
    submitting_through_celery,
    subprocess_database_url,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

QUEUE = f"flowyard.cpu.test-{uuid.uuid4().hex[:8]}"
WORKER = f"test-{uuid.uuid4().hex[:8]}@127.0.0.1"


@pytest.fixture(scope="module")
def redis_url():
    return checked_redis_url()


@pytest.fixture(scope="module")
def blob_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("celery-blobs")


@pytest.fixture(scope="module")
def worker(redis_url, blob_dir, tmp_path_factory, django_db_setup, django_db_blocker):
    """One Celery worker process for the module, on the test database and the test Redis database."""
    with django_db_blocker.unblock():
        database_url = subprocess_database_url()
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = service_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="celery-tests",
        FLOWYARD_DISPATCHER="celery",
        FLOWYARD_CPU_QUEUE=QUEUE,
        FLOWYARD_BLOB_DIR=str(blob_dir),
        FLOWYARD_VAR_DIR=str(blob_dir.parent / "var"),
        FLOWYARD_NODE_PACKS="nodepacks.core,backend.runs.tests.testpack",
        FLOWYARD_PARALLELISM="2",
    )
    args = [PYTHON, "-m", "celery", "-A", "backend", "worker", "-Q", QUEUE, "-c", "1"]
    args += ["-n", WORKER, "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    process = Process(args, env, log)
    try:
        wait_until(lambda: process.check_alive() or "ready." in process.output(), 30, "the worker to start")
        yield process
    finally:
        process.stop()


@pytest.fixture
def celery_mode(settings, monkeypatch, redis_url, blob_dir, worker):
    """This process submits through Celery and listens on the Redis channel layer, like a web process."""
    settings.FLOWYARD_BLOB_DIR = blob_dir
    with submitting_through_celery(settings, monkeypatch, redis_url, QUEUE):
        yield worker


def submit(client, body: dict) -> str:
    response = client.post("/api/runs", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def slow(steps: int, step_seconds: float = 0.02) -> dict:
    return {
        "nodes": {"1": {"type": "test.Slow", "inputs": {"steps": steps, "step_seconds": step_seconds}}},
        "outputs": ["1"],
    }


def test_a_worker_process_executes_the_run_and_its_events_reach_a_websocket_in_order(
    celery_mode, image_workflow, as_role, client_for, members, wait_for_run
):
    from backend.asgi import websocket_application

    client = as_role("runner", token=True)
    run_id = submit(client, {"workflow": image_workflow.pk})
    token = client._credentials["HTTP_AUTHORIZATION"].split()[1]

    async def watch():
        communicator = WebsocketCommunicator(websocket_application(), f"/ws/runs/{run_id}/?token={token}")
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        events: list[dict] = []
        while not events or events[-1]["type"] != "run_finished":
            events.append(await communicator.receive_json_from(timeout=20))
        await communicator.disconnect()
        return events

    events = async_to_sync(watch)()  # each frame within 20 s; pytest-timeout catches a hang
    run = wait_for_run(run_id)
    assert run.status == "succeeded", run.error
    assert run.worker.startswith(WORKER) and run.attempts == 1
    stored = [event.to_json() for event in RunEvent.objects.filter(run_id=run_id).order_by("seq")]
    assert events == stored
    assert [event["seq"] for event in events] == list(range(1, run.last_seq + 1))

    detail = client.get(f"/api/runs/{run_id}").json()
    [first, _] = [r for r in detail["results"] if r["kind"] == "image"]
    response = client.get(first["url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    pixels = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert pixels.size == (8, 4)


def test_a_redelivered_message_is_harmless(celery_mode, team, members, as_role, wait_for_run):
    client = as_role("runner")
    run_id = submit(client, {"workspace": team.pk, "graph": chain(3)})
    # A second delivery of the same run (as after a worker was lost with acks_late): it finds the run claimed.
    execute_run_task.apply_async(args=[run_id], queue=QUEUE)
    run = wait_for_run(run_id)
    assert execute_run_task.apply(args=[run_id]).get() is None  # and a third, in this process
    # The worker takes one message at a time: once a later run is done, the duplicate has been consumed.
    wait_for_run(submit(client, {"workspace": team.pk, "graph": chain(1)}))
    again = Run.objects.get(pk=run_id)
    assert (again.status, again.attempts, again.last_seq, again.worker) == (
        "succeeded",
        1,
        run.last_seq,
        run.worker,
    )
    seqs = list(RunEvent.objects.filter(run_id=run_id).values_list("seq", flat=True))
    assert seqs == list(range(1, run.last_seq + 1))
    assert again.node_runs.filter(status="succeeded").count() == 4


@pytest.mark.timeout(180)
def test_cancelling_a_running_run_reaches_the_node(celery_mode, team, as_role, wait_for_run):
    client = as_role("runner")
    steps = 50_000  # ~17 minutes if the cancel never reached the node: only a cancel ends this run in time
    run_id = submit(client, {"workspace": team.pk, "graph": slow(steps=steps)})
    wait_until(
        lambda: RunEvent.objects.filter(run_id=run_id, type="progress").exists(), 15, "the slow node to start"
    )
    response = client.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 200, response.json()
    reported = RunEvent.objects.filter(run_id=run_id, type="progress").order_by("-seq").first()
    assert reported is not None
    run = wait_for_run(run_id, timeout=150)  # how fast is benchmarks' business; pytest-timeout catches a hang
    assert run.status == "cancelled"
    node = NodeRun.objects.get(run_id=run_id, node_id="1")
    assert node.status == "cancelled"
    # The node stopped part-way (it never returned), its last progress event comes before the run's end, and
    # the run ended after the cancel was asked for (by the times the worker recorded).
    events = list(RunEvent.objects.filter(run_id=run_id).order_by("seq"))
    progress = [event for event in events if event.type == "progress"]
    assert progress[-1].data["value"] < steps
    assert progress[-1].seq < events[-1].seq and events[-1].type == "run_finished"
    assert events[-1].data["status"] == "cancelled"
    assert run.finished.timestamp() >= reported.time


def test_health_sees_the_worker_and_the_redis_channel_layer(celery_mode, client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["checks"] == {
        "database": "ok",
        "channel_layer": "ok",
        "storage": "ok",
        "workers": "ok",
        "pack_sandbox": "ok",  # CI installs bubblewrap: uploaded packs run sandboxed
    }


def test_runs_that_need_a_gpu_go_to_the_gpu_queue(celery_mode, team, members, settings):
    from backend.workers_registry.models import Worker

    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # decide queues without sending anything to them
    Worker.objects.create(name="gpu-worker", hostname="gpu", queues=[settings.FLOWYARD_GPU_QUEUE])
    runner = members["runner"]
    cpu = do_create_run(runner, workspace=team, graph=chain(1))
    graph = {
        "nodes": {
            "1": {"type": "test.GpuInc", "inputs": {"value": 1}},
            "2": {"type": "test.Show", "inputs": {"value": ["1", 0]}},
        }
    }
    gpu = do_create_run(runner, workspace=team, graph=graph)
    assert (cpu.requires_gpu, gpu.requires_gpu) == (False, True)
    dispatcher = dispatch.get_dispatcher()
    assert isinstance(dispatcher, dispatch.CeleryDispatcher)
    assert dispatcher.queue_for(cpu.pk) == QUEUE
    assert dispatcher.queue_for(gpu.pk) == settings.FLOWYARD_GPU_QUEUE == "flowyard.gpu"


def test_a_task_thread_keeps_its_connection_while_usable_and_young():
    """backend/runs/celery_worker.py: between tasks the worker keeps the task thread's connection instead of reconnecting,
    but drops it when a transaction was left open or it outlived FLOWYARD_WORKER_CONN_MAX_AGE."""
    from django.db import connection

    from backend.runs.celery_worker import _recycle_task_connections

    original = connection.settings_dict
    try:
        _recycle_task_connections(300)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        _recycle_task_connections(300)  # after the task, then before the next one
        _recycle_task_connections(300)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] == pid
        assert connection.settings_dict["CONN_HEALTH_CHECKS"]  # checked before its first query in a task

        connection.set_autocommit(False)  # a task that left a transaction open
        _recycle_task_connections(300)
        assert connection.connection is None

        connection.ensure_connection()
        connection.close_at = time.monotonic() - 1  # older than its maximum age
        _recycle_task_connections(300)
        assert connection.connection is None
    finally:
        connection.close()
        connection.settings_dict = original
