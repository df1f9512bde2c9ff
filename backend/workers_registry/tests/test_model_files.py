"""The model library through the backend: heartbeats, ``/api/models`` files by kind, submit validation of
``modelfiles.<kind>`` selects, and ``manage.py fetch_model_file``."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from backend.runs import nodes
from backend.workers_registry import catalog, process
from backend.workers_registry.heartbeat import WorkerPresence
from backend.workers_registry.models import Worker
from workers.runtime.models import register_local_model

pytestmark = pytest.mark.django_db

CKPT = {
    "name": "sd15/base.safetensors",
    "size_bytes": 10,
    "sha256": "ab" * 32,
    "source": None,
    "folder": False,
}


@pytest.fixture
def library(tmp_path, monkeypatch, settings):
    """This process's model library at tmp/models (and an empty ModelScope cache), forgotten afterwards."""
    settings.FLOWYARD_MODELS_DIR = tmp_path / "models"
    settings.FLOWYARD_EXTRA_MODEL_PATHS = []
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "modelscope"))
    monkeypatch.setattr(process, "_models", None)
    catalog.forget_local_models()
    yield tmp_path / "models"
    catalog.forget_local_models()


def put(root, kind: str, name: str, data: bytes = b"weights"):
    path = root / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_anonymous_users_cannot_list_models_or_files(anon):
    assert anon.get("/api/models").status_code == 401
    assert anon.get("/api/models", {"kind": "checkpoints"}).status_code == 401


def test_a_heartbeat_reports_the_worker_model_library(library):
    put(library, "loras", "style.safetensors")
    put(library, "unet", "flux.sft")
    presence = WorkerPresence("w1@host:1")
    presence.register()
    presence.beat()
    files = Worker.objects.get(name="w1@host:1").model_files
    assert [e["name"] for e in files["loras"]] == ["style.safetensors"]
    assert [e["name"] for e in files["diffusion_models"]] == ["flux.sft"]
    assert "path" not in files["loras"][0]


def test_files_by_kind_merge_live_workers_and_the_embedded_library(library, as_role, settings):
    put(library, "checkpoints", "local.safetensors", b"local")
    Worker.objects.create(name="w1@h:1", hostname="h", model_files={"checkpoints": [CKPT]})
    Worker.objects.create(
        name="w2@h:2", hostname="h", model_files={"checkpoints": [{**CKPT, "sha256": None}]}
    )
    Worker.objects.create(
        name="gone@h:3",
        hostname="h",
        model_files={"checkpoints": [{**CKPT, "name": "old.safetensors"}]},
        last_heartbeat=timezone.now() - timedelta(hours=1),
    )
    settings.FLOWYARD_DISPATCHER = "local"
    viewer = as_role("viewer")
    body = viewer.get("/api/models").json()
    assert body["results"] == [] and body["count"] == 0  # no ModelScope models; the listing keeps its shape
    files = body["files"]["checkpoints"]
    assert [(f["name"], f["workers"]) for f in files] == [
        ("local.safetensors", ["local"]),
        ("sd15/base.safetensors", ["w1@h:1", "w2@h:2"]),
    ]
    assert files[1]["sha256"] == "ab" * 32 and files[0]["size_bytes"] == 5

    assert viewer.get("/api/models", {"kind": "loras"}).json()["files"] == {"loras": []}
    put(library, "unet", "flux.sft")
    catalog.forget_local_models()
    assert [f["name"] for f in viewer.get("/api/models", {"kind": "unet"}).json()["files"]["unet"]] == [
        "flux.sft"
    ]
    assert viewer.get("/api/models", {"kind": "nonsense"}).json()["files"] == {"nonsense": []}

    settings.FLOWYARD_DISPATCHER = "celery"  # the web process runs nothing: its own library does not count
    names = [
        f["name"] for f in viewer.get("/api/models", {"kind": "checkpoints"}).json()["files"]["checkpoints"]
    ]
    assert names == ["sd15/base.safetensors"]


def test_a_model_file_select_accepts_only_files_a_live_worker_lists(team, as_role, library, settings):
    settings.FLOWYARD_NODE_PACKS = ["nodepacks.core", "backend.workers_registry.tests.modelfilepack"]
    settings.FLOWYARD_DISPATCHER = "celery"
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # accepted runs stay queued

    def graph(name: str) -> dict:
        return {"nodes": {"load": {"type": "modelfiletest.ReadCheckpoint", "inputs": {"ckpt_name": name}}}}

    client = as_role("runner")
    # Nobody reports a library: validation cannot tell, the run would say which file is missing.
    assert nodes.option_sources_for_workspace(team)("modelfiles.checkpoints") is None
    assert (
        client.post(
            "/api/runs", {"workspace": team.pk, "graph": graph("x.safetensors")}, format="json"
        ).status_code
        == 201
    )

    Worker.objects.create(name="w1@h:1", hostname="h", model_files={"checkpoints": [CKPT]})
    refused = client.post("/api/runs", {"workspace": team.pk, "graph": graph("x.safetensors")}, format="json")
    assert refused.status_code == 400
    text = json.dumps(refused.json())
    assert "x.safetensors" in text and "checkpoints model folder" in text
    assert '"node": "load"' in text and '"input": "ckpt_name"' in text
    accepted = client.post(
        "/api/runs", {"workspace": team.pk, "graph": graph("sd15/base.safetensors")}, format="json"
    )
    assert accepted.status_code == 201, accepted.json()


def test_fetch_model_file_copies_from_the_modelscope_cache_and_records_hash_and_source(
    tmp_path, library, as_role, settings
):
    # No hub in tests: the repo is registered into the ModelScope cache, and the command resolves it with
    # modelscope's own model_file_download in local-files-only mode (the same code path as a download, minus HTTP).
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "configuration.json").write_text("{}")
    (repo / "tiny.safetensors").write_bytes(b"tiny")
    register_local_model(repo, "acme/tiny", "v1", tmp_path / "modelscope")
    call_command(
        "fetch_model_file",
        "acme/tiny",
        "tiny.safetensors",
        "--kind",
        "checkpoints",
        "--revision",
        "v1",
        "--local-files-only",
    )
    assert (library / "checkpoints" / "tiny.safetensors").read_bytes() == b"tiny"
    settings.FLOWYARD_DISPATCHER = "local"
    (entry,) = as_role("viewer").get("/api/models", {"kind": "checkpoints"}).json()["files"]["checkpoints"]
    assert entry["sha256"] == hashlib.sha256(b"tiny").hexdigest()
    assert entry["source"] == {"modelscope": "acme/tiny", "revision": "v1", "file": "tiny.safetensors"}
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="v2"):
        call_command(
            "fetch_model_file",
            "acme/tiny",
            "tiny.safetensors",
            "--kind",
            "checkpoints",
            "--revision",
            "v2",
            "--name",
            "other.safetensors",
            "--local-files-only",
        )


def test_embedded_a_file_just_dropped_into_the_library_is_accepted_at_once(team, library, settings):
    settings.FLOWYARD_DISPATCHER = "local"
    options = nodes.option_sources_for_workspace(team)
    put(library, "checkpoints", "first.safetensors")
    assert options("modelfiles.checkpoints") == ["first.safetensors"]
    catalog.local_model_files()  # a remembered scan that does not know the next file
    put(library, "checkpoints", "second.safetensors")
    assert nodes.option_sources_for_workspace(team)("modelfiles.checkpoints") == [
        "first.safetensors",
        "second.safetensors",
    ]
    assert nodes.option_sources_for_workspace(team)("modelfiles.loras") == []
