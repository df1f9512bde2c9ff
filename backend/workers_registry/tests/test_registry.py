"""The worker registry: a worker's own row through its life, the workers and models APIs, model options."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from backend.accounts.roles import Role
from backend.runs import nodes
from backend.runs.models import Run
from backend.workers_registry import catalog, process
from backend.workers_registry.heartbeat import WorkerPresence
from backend.workers_registry.models import Worker

pytestmark = pytest.mark.django_db

MODEL = {
    "model_id": "damo/enhance",
    "revision": "master",
    "path": "/models/damo--enhance",
    "size_bytes": 1234,
    "task": "image-color-enhancement",
    "framework": "pytorch",
    "layout": "snapshots",
}


@pytest.fixture
def model_cache(tmp_path, monkeypatch):
    """An empty local model cache for this process (MODELSCOPE_CACHE), forgotten afterwards."""
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "models"))
    monkeypatch.setattr(process, "_models", None)
    catalog.forget_local_models()
    yield tmp_path / "models"
    catalog.forget_local_models()


def a_model_dir(tmp_path, task: str):
    source = tmp_path / f"src-{task}"
    source.mkdir()
    (source / "configuration.json").write_text(json.dumps({"task": task, "framework": "pytorch"}))
    (source / "weights.bin").write_bytes(b"0" * 64)
    return source


def test_a_worker_registers_reports_its_runs_and_says_goodbye(team, members, model_cache):
    presence = WorkerPresence("w1@host:42", queues=["flowyard.cpu"], concurrency=2)
    presence.register()
    run = Run.objects.create(
        workspace=team, graph={}, created_by=members[Role.RUNNER], status="running", worker="w1@host:42/77"
    )
    presence.beat()
    row = Worker.objects.get(name="w1@host:42")
    assert row.status == "online" and row.is_alive()
    assert row.queues == ["flowyard.cpu"] and row.concurrency == 2
    assert row.current_runs == [str(run.pk)]
    assert row.capabilities["cpu_count"] >= 1 and row.capabilities["gpus"] == []
    assert "core" in row.capabilities["packs"]
    presence.stop()
    row.refresh_from_db()
    assert row.status == "stopped" and row.current_runs == []


def test_staff_see_everything_about_workers_and_members_see_names_capabilities_and_status(
    alice, as_role, client_for, anon
):
    Worker.objects.create(
        name="w1@host:42",
        hostname="gpu-box-7",
        pid=42,
        capabilities={"cpu_count": 8, "gpus": [{"name": "A100", "memory_bytes": 1}], "packs": {"core": "1"}},
        current_runs=["r1"],
        warm_models=[MODEL],
    )
    staff = client_for(alice).get("/api/workers").json()
    assert staff[0]["hostname"] == "gpu-box-7" and staff[0]["current_runs"] == ["r1"]
    assert staff[0]["warm_models"][0]["model_id"] == "damo/enhance"
    member = as_role("runner").get("/api/workers").json()
    assert member == [
        {
            "name": "w1@host:42",
            "kind": "celery",
            "status": "online",
            "alive": True,
            "busy": True,
            "queues": [],
            "concurrency": 1,
            "capabilities": {
                "cpu_count": 8,
                "gpus": [{"name": "A100", "memory_bytes": 1}],
                "packs": {"core": "1"},
            },
            "last_heartbeat": member[0]["last_heartbeat"],
        }
    ]
    assert anon.get("/api/workers").status_code == 401
    assert anon.get("/api/models").status_code == 401


def test_models_come_from_live_workers_heartbeats_and_the_local_cache(
    tmp_path, as_role, model_cache, settings
):
    Worker.objects.create(name="w1@h:1", hostname="h", available_models=[MODEL], warm_models=[MODEL])
    Worker.objects.create(
        name="gone@h:2",
        hostname="h",
        available_models=[{**MODEL, "model_id": "damo/old"}],
        last_heartbeat=timezone.now() - timedelta(hours=1),
    )
    call_command("register_model", str(a_model_dir(tmp_path, "text-classification")), "me/classifier")

    settings.FLOWYARD_DISPATCHER = "local"
    listed = as_role("viewer").get("/api/models").json()["results"]
    assert [(m["model_id"], m["workers"], m["warm_on"]) for m in listed] == [
        ("damo/enhance", ["w1@h:1"], ["w1@h:1"]),
        ("me/classifier", ["local"], []),
    ]
    assert "path" not in listed[0]
    only = as_role("viewer").get("/api/models", {"task": "text-classification"}).json()["results"]
    assert [m["model_id"] for m in only] == ["me/classifier"]

    settings.FLOWYARD_DISPATCHER = "celery"  # the web process runs nothing: its own cache does not count
    assert [m["model_id"] for m in as_role("viewer").get("/api/models").json()["results"]] == ["damo/enhance"]


def test_a_model_select_accepts_only_models_a_worker_can_load(team, as_role, model_cache, settings):
    settings.FLOWYARD_NODE_PACKS = ["nodepacks.core", "nodepacks.modelscope"]
    options = nodes.option_sources_for_workspace(team)
    assert options("models.image-color-enhancement") is None  # nobody reports models: cannot tell
    Worker.objects.create(name="w1@h:1", hostname="h", available_models=[MODEL])
    assert options("models.image-color-enhancement") == ["damo/enhance"]
    assert options("models.text-classification") == []

    def graph(model_id: str) -> dict:
        return {
            "nodes": {
                "1": {"type": "EmptyImage", "inputs": {"width": 8, "height": 8}},
                "2": {"type": "modelscope.ColorEnhance", "inputs": {"image": ["1", 0], "model_id": model_id}},
                "3": {"type": "PreviewImage", "inputs": {"images": ["2", 0]}},
            }
        }

    client = as_role("runner")
    refused = client.post("/api/runs", {"workspace": team.pk, "graph": graph("nobody/absent")}, format="json")
    assert refused.status_code == 400
    assert "nobody/absent" in json.dumps(refused.json())
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # accepted, but left queued: no model to run it here
    accepted = client.post("/api/runs", {"workspace": team.pk, "graph": graph("damo/enhance")}, format="json")
    assert accepted.status_code == 201, accepted.json()


def test_the_modelscope_pack_is_built_in_and_loads_without_torch():
    import subprocess
    import sys

    from backend.runs.tests.services import REPO

    code = (
        "import sys; import nodepacks.core; "
        "from workers.engine.registry import load_pack; load_pack('nodepacks.modelscope'); "
        "print('torch' in sys.modules, 'modelscope' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    # Cheap to load because neither heavy library is imported (a load time would depend on the machine's load).
    assert out.stdout.split() == ["False", "False"]
