"""Crash recovery on real processes: two Celery workers and celery beat on the test Redis, one worker SIGKILLed
in the middle of a run. Beat's ``flowyard.sweep`` (on the surviving worker) marks the dead worker lost and
re-queues the run; the survivor resumes it from the shared cache and finishes it with the same results as an
uninterrupted run and an event log without gaps or duplicates.
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid

import pytest

from backend.runs.models import NodeRun, Run, RunEvent, RunOutput
from backend.runs.tests.services import (
    PYTHON,
    Process,
    checked_redis_url,
    service_env,
    submitting_through_celery,
    subprocess_database_url,
    wait_until,
)
from backend.workers_registry.models import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

TAG = uuid.uuid4().hex[:8]
QUEUE = f"flowyard.cpu.recovery-{TAG}"
NAMES = [f"recovery-a-{TAG}@127.0.0.1", f"recovery-b-{TAG}@127.0.0.1"]
HEARTBEAT_SECONDS = "0.5"
LOST_SECONDS = "2"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, django_db_setup, django_db_blocker):
    """Two worker processes and a beat process sharing a queue, the test database and a blob directory."""
    redis_url = checked_redis_url()
    with django_db_blocker.unblock():
        database_url = subprocess_database_url()
    root = tmp_path_factory.mktemp("recovery")
    env = service_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="recovery-tests",
        FLOWYARD_DISPATCHER="celery",
        FLOWYARD_CPU_QUEUE=QUEUE,
        FLOWYARD_BLOB_DIR=str(root / "blobs"),
        FLOWYARD_VAR_DIR=str(root / "var"),
        FLOWYARD_NODE_PACKS="nodepacks.core,backend.runs.tests.testpack",
        FLOWYARD_PARALLELISM="2",
        FLOWYARD_WORKER_HEARTBEAT_SECONDS=HEARTBEAT_SECONDS,
        FLOWYARD_WORKER_LOST_SECONDS=LOST_SECONDS,
        FLOWYARD_SWEEP_SECONDS="1",
        MODELSCOPE_CACHE=str(root / "models"),
    )
    processes: dict[str, Process] = {}
    try:
        for name in NAMES:
            args = [PYTHON, "-m", "celery", "-A", "backend", "worker", "-Q", QUEUE, "-c", "1", "-n", name]
            args += ["--without-gossip", "--without-mingle", "--loglevel=INFO"]
            processes[name] = Process(args, env, root / f"{name.split('@')[0]}.log")
        beat = [PYTHON, "-m", "celery", "-A", "backend", "beat", "--max-interval", "1"]
        beat += ["-s", str(root / "beat-schedule"), "--loglevel=INFO"]
        processes["beat"] = Process(beat, env, root / "beat.log")
        for name in NAMES:
            process = processes[name]

            def ready(p: Process = process) -> bool:
                return p.check_alive() or "ready." in p.output()

            wait_until(ready, 40, f"worker {name}")
        yield processes, root
    finally:
        for process in processes.values():  # all at once: each waits for its own warm shutdown
            if process.popen.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            process.stop()


@pytest.fixture
def celery_mode(settings, monkeypatch, cluster):
    _, root = cluster
    redis_url = checked_redis_url()
    settings.FLOWYARD_BLOB_DIR = root / "blobs"
    settings.FLOWYARD_WORKER_LOST_SECONDS = float(LOST_SECONDS)
    with submitting_through_celery(settings, monkeypatch, redis_url, QUEUE):
        yield cluster


def slow_graph(seed: int) -> dict:
    """Two slow nodes in a chain (~1.2 s, then ~3 s) and a Show; ``seed`` makes its cache keys new."""
    return {
        "nodes": {
            "1": {"type": "test.Slow", "inputs": {"value": seed, "steps": 40, "step_seconds": 0.03}},
            "2": {"type": "test.Slow", "inputs": {"value": ["1", 0], "steps": 60, "step_seconds": 0.05}},
            "show": {"type": "test.Show", "inputs": {"value": ["2", 0]}},
        }
    }


def results(run_id) -> list[tuple]:
    return list(
        RunOutput.objects.filter(run_id=run_id)
        .exclude(kind=RunOutput.Kind.PREVIEW)
        .order_by("node_id", "kind", "index")
        .values_list("node_id", "kind", "index", "text", "data", "saved")
    )


def test_a_run_whose_worker_is_killed_finishes_on_the_other_worker_from_the_shared_cache(
    celery_mode, team, as_role, wait_for_run
):
    processes, _ = celery_mode
    wait_until(
        lambda: (
            Worker.objects.filter(name__startswith="recovery-", status="online", name__contains=TAG).count()
            == 2
        ),
        10,
        "both workers to register",
    )
    client = as_role("runner")
    seed = random.randrange(1_000_000)
    response = client.post("/api/runs", {"workspace": team.pk, "graph": slow_graph(seed)}, format="json")
    assert response.status_code == 201, response.json()
    run_id = response.json()["id"]

    # Node 1 is done (and in the shared cache) once node 2 reports progress: kill that worker now.
    wait_until(
        lambda: RunEvent.objects.filter(run_id=run_id, type="progress", node="2").exists(),
        30,
        "node 2 to run",
    )
    victim = Run.objects.get(pk=run_id).worker
    [victim_name] = [name for name in NAMES if victim.startswith(f"{name}:")]
    [survivor_name] = [name for name in NAMES if name != victim_name]
    killed_at = time.monotonic()
    os.killpg(processes[victim_name].pid, signal.SIGKILL)

    run = wait_for_run(run_id, timeout=40)
    recovered_in = time.monotonic() - killed_at
    assert run.status == "succeeded", run.error
    assert run.attempts == 2
    assert run.worker.startswith(f"{survivor_name}:")

    events = list(RunEvent.objects.filter(run_id=run_id).order_by("seq"))
    assert [event.seq for event in events] == list(range(1, run.last_seq + 1))
    [requeued] = [event for event in events if event.type == "run_requeued"]
    assert requeued.data["attempt"] == 2 and requeued.data["reason"] == "worker_lost"
    assert requeued.data["previous_worker"] == victim
    after = [event for event in events if event.seq > requeued.seq]
    started_again = {event.node for event in after if event.type == "node_started"}
    assert started_again == {"2", "show"}, "node 1 should come from the shared cache, not run again"
    assert [event.type for event in events].count("run_finished") == 1
    statuses = dict(NodeRun.objects.filter(run_id=run_id).values_list("node_id", "status"))
    assert statuses == {"1": "succeeded", "2": "succeeded", "show": "succeeded"}

    dead = Worker.objects.get(name__startswith=f"{victim_name}:")
    assert dead.status == "lost"
    assert Worker.objects.get(name__startswith=f"{survivor_name}:").status == "online"

    # The same graph again, uninterrupted (and now from the cache): the same results.
    again = client.post("/api/runs", {"workspace": team.pk, "graph": slow_graph(seed)}, format="json").json()
    assert wait_for_run(again["id"], timeout=20).status == "succeeded"
    expected_value = seed + 40 + 60
    assert [row[1:] for row in results(run_id)] == [row[1:] for row in results(again["id"])]
    assert ("show", "text", 0, f"value {expected_value}", None, False) in results(run_id)
    # How fast is benchmarks.faults' "faults.worker_sigkill"; wait_for_run's 40 s and pytest-timeout catch a hang.
    print(f"recovered {recovered_in:.1f} s after the SIGKILL")
