"""A paused run survives restarts: a Celery worker pauses it at the approval step and is stopped; a web process
started afterwards takes the approver's POST; a new worker resumes the run from the shared cache and finishes it
with the approved value passed on.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from backend.accounts.actions import do_create_token
from backend.accounts.roles import Role
from backend.approvals.tests.helpers import gated_graph, wait_for_approval
from backend.runs.models import NodeRun, Run, RunEvent, RunOutput
from backend.runs.tests.services import (
    PYTHON,
    Process,
    checked_redis_url,
    free_port,
    port_open,
    service_env,
    submitting_through_celery,
    subprocess_database_url,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

TAG = uuid.uuid4().hex[:8]
QUEUE = f"flowyard.cpu.approvals-{TAG}"


def environment(root, redis_url: str) -> dict[str, str]:
    """What every process of this test shares: the test database, the Redis queue and the blob directory."""
    return service_env(
        DATABASE_URL=subprocess_database_url(),
        REDIS_URL=redis_url,
        SECRET_KEY="approval-tests",
        FLOWYARD_DISPATCHER="celery",
        FLOWYARD_CPU_QUEUE=QUEUE,
        FLOWYARD_BLOB_DIR=str(root / "blobs"),
        FLOWYARD_VAR_DIR=str(root / "var"),
        FLOWYARD_NODE_PACKS="nodepacks.core,backend.runs.tests.testpack",
        FLOWYARD_PARALLELISM="2",
        MODELSCOPE_CACHE=str(root / "models"),
    )


def alive(process: Process) -> bool:
    """True while the process runs; fails the test with its output once it has exited."""
    process.check_alive()
    return True


def start_worker(env: dict[str, str], root, name: str, wait: bool = True) -> Process:
    """A Celery worker on the test's queue; with ``wait``, once it is ready (else see ``wait_ready``)."""
    args = [
        PYTHON,
        "-m",
        "celery",
        "-A",
        "backend",
        "worker",
        "-Q",
        QUEUE,
        "-c",
        "1",
        "-n",
        f"{name}@127.0.0.1",
    ]
    process = Process(
        [*args, "--without-gossip", "--without-mingle", "--loglevel=INFO"], env, root / f"{name}.log"
    )
    if wait:
        wait_ready(process, name)
    return process


def wait_ready(process: Process, name: str) -> None:
    wait_until(lambda: alive(process) and "ready." in process.output(), 40, f"worker {name}")


def start_web(env: dict[str, str], root) -> tuple[str, Process]:
    port = free_port()
    args = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "backend.asgi:application"]
    process = Process(args, env, root / "web.log")
    wait_until(lambda: alive(process) and port_open(port), 30, "the web process to listen")
    return f"http://127.0.0.1:{port}", process


def post_json(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status, json.loads(response.read())


def test_an_approval_survives_a_restart_of_web_and_workers_and_resumes_on_approve(
    settings, monkeypatch, tmp_path, team, members, as_role, wait_for_run
):
    redis_url = checked_redis_url()
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    env = environment(tmp_path, redis_url)
    processes: list[Process] = []
    try:
        with submitting_through_celery(settings, monkeypatch, redis_url, QUEUE):
            first = start_worker(env, tmp_path, f"approvals-a-{TAG}")
            processes.append(first)
            response = as_role("runner").post(
                "/api/runs", {"workspace": team.pk, "graph": gated_graph()}, format="json"
            )
            assert response.status_code == 201, response.json()
            run_id = response.json()["id"]
            wait_for_run(run_id, timeout=40, until=lambda run: run.status == Run.Status.AWAITING_APPROVAL)
            approval = wait_for_approval(run_id)
            first_worker = Run.objects.get(pk=run_id).worker
            assert first_worker.startswith(f"approvals-a-{TAG}@")

            first.stop()  # every process that saw the run go: only the database and the blob store remain
            assert Run.objects.get(pk=run_id).status == Run.Status.AWAITING_APPROVAL

            # The new worker and web process start together (each start is seconds of imports).
            second = start_worker(env, tmp_path, f"approvals-b-{TAG}", wait=False)
            processes.append(second)
            url, web = start_web(env, tmp_path)
            processes.append(web)
            wait_ready(second, f"approvals-b-{TAG}")
            _, token = do_create_token(members[Role.EDITOR], "approvals")
            posted = time.monotonic()
            status, body = post_json(
                f"{url}/api/runs/{run_id}/approvals/{approval.pk}",
                token,
                {"decision": "approve", "comment": "go"},
            )
            assert status == 200 and body["decision"] == "approve" and body["decided_by"] == "eddie"

            run = wait_for_run(run_id, timeout=40)
            resumed_in = time.monotonic() - posted
    finally:
        for process in reversed(processes):
            process.stop()
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.attempts == 2
    assert run.worker.startswith(f"approvals-b-{TAG}@"), "the new worker resumed it"
    shown = dict(RunOutput.objects.filter(run_id=run_id, kind="text").values_list("node_id", "text"))
    assert shown == {"gate": "1", "show": "value 2", "show_b": "value 5"}
    events = list(RunEvent.objects.filter(run_id=run_id).order_by("seq"))
    assert [event.seq for event in events] == list(range(1, run.last_seq + 1))
    decided = next(event for event in events if event.type == "approval_decided")
    started_after = {
        event.node for event in events if event.seq > decided.seq and event.type == "node_started"
    }
    assert started_after == {"gate", "3", "show"}, "node 1 and the other branch came from the shared cache"
    assert [event.type for event in events].count("run_finished") == 1
    assert set(NodeRun.objects.filter(run_id=run_id).values_list("status", flat=True)) == {"succeeded"}
    print(f"approved over HTTP to succeeded on the new worker: {resumed_in:.2f} s")
