"""Fetching ModelScope files into the model library from the API: ``POST /api/models/fetch`` (site admins) makes
a job; embedded, a thread of this process runs the library's real ``fetch_file``; with Celery a task goes to the
workers' queue. No hub in tests: repos are registered into a temporary ModelScope cache and fetched with
``local_files_only`` through modelscope's own resolver (docs/models.md "What is tested how")."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from backend.workers_registry import catalog, fetching, process
from backend.workers_registry.models import ModelFetch, Worker
from backend.workers_registry.tasks import fetch_model_file_task
from workers.runtime.models import register_local_model

WEIGHTS = b"tiny weights"
# The payloads the models page's tests replay (frontend/src/models/models-page.test.tsx).
FRONTEND_SAMPLES = Path(__file__).parents[3] / "frontend/src/models/__fixtures__/models-samples.json"


@pytest.fixture
def library(tmp_path, monkeypatch, settings):
    """This process's library at tmp/models and a ModelScope cache holding ``acme/tiny`` at ``v1``."""
    settings.FLOWYARD_MODELS_DIR = tmp_path / "models"
    settings.FLOWYARD_EXTRA_MODEL_PATHS = []
    settings.FLOWYARD_DISPATCHER = "local"
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "modelscope"))
    monkeypatch.setattr(process, "_models", None)
    repo = tmp_path / "repo"
    (repo / "unet").mkdir(parents=True)
    (repo / "configuration.json").write_text("{}")
    (repo / "unet" / "tiny.safetensors").write_bytes(WEIGHTS)
    register_local_model(repo, "acme/tiny", "v1", tmp_path / "modelscope")
    catalog.forget_local_models()
    yield tmp_path / "models"
    catalog.forget_local_models()


def wait_for_fetch(job_id: int, timeout: float = 20.0) -> ModelFetch:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ModelFetch.objects.get(pk=job_id)
        if job.is_finished():
            return job
        time.sleep(0.05)
    raise AssertionError(f"fetch {job_id} still {job.status} after {timeout} s")


def fetch(client, **fields):
    body = {"repo_id": "acme/tiny", "file": "unet/tiny.safetensors", "kind": "unet", "revision": "v1"}
    body.update(fields)
    return client.post("/api/models/fetch", body, format="json")


@pytest.mark.django_db(transaction=True)  # the fetch thread writes the job on its own connection
def test_an_admin_fetch_runs_embedded_and_the_listing_shows_the_file_with_its_hash(
    library, alice, members, client_for
):
    admin = client_for(alice)
    answer = fetch(admin, local_files_only=True)
    assert answer.status_code == 202, answer.json()
    queued = answer.json()
    assert queued["status"] in ("queued", "running", "done")
    assert queued["kind"] == "diffusion_models" and queued["requested_by"] == "alice"

    job = wait_for_fetch(queued["id"])
    assert job.status == "done", job.error
    assert (library / "diffusion_models" / "tiny.safetensors").read_bytes() == WEIGHTS
    assert job.sha256 == hashlib.sha256(WEIGHTS).hexdigest() and job.size_bytes == len(WEIGHTS)
    assert job.name == "tiny.safetensors" and job.worker == "local" and job.finished is not None

    viewer = client_for(members["viewer"])
    files = viewer.get("/api/models").json()["files"]
    (entry,) = files["diffusion_models"]
    assert entry["name"] == "tiny.safetensors"
    assert entry["sha256"] == hashlib.sha256(WEIGHTS).hexdigest()
    assert entry["source"] == {"modelscope": "acme/tiny", "revision": "v1", "file": "unet/tiny.safetensors"}

    (listed,) = admin.get("/api/models/fetches").json()
    assert listed["id"] == queued["id"] and listed["status"] == "done" and listed["sha256"] == job.sha256

    samples = json.loads(FRONTEND_SAMPLES.read_text())  # the page's fixtures keep the API's shape
    assert set(samples["fetch_done"]) == set(listed) and set(samples["fetch_queued"]) == set(queued)
    assert set(samples["models"]["files"]["checkpoints"][0]) == set(entry)


@pytest.mark.django_db(transaction=True)
def test_a_fetch_of_a_repo_the_cache_lacks_ends_failed_naming_it(library, alice, client_for):
    answer = fetch(client_for(alice), repo_id="acme/absent", local_files_only=True)
    assert answer.status_code == 202
    job = wait_for_fetch(answer.json()["id"])
    assert job.status == "failed"
    assert "could not fetch acme/absent@v1 unet/tiny.safetensors" in job.error
    assert not (library / "diffusion_models").exists()
    # a file already there is not replaced unless asked to
    done = wait_for_fetch(fetch(client_for(alice), local_files_only=True).json()["id"])
    assert done.status == "done"
    again = wait_for_fetch(fetch(client_for(alice), local_files_only=True).json()["id"])
    assert again.status == "failed" and "already exists" in again.error


@pytest.mark.django_db
def test_only_site_admins_fetch_and_see_fetches(library, members, client_for, anon):
    for role in ("admin", "editor", "viewer"):  # a team's admin is no site admin (alice, the first user, is)
        client = client_for(members[role])
        assert fetch(client).status_code == 403
        assert client.get("/api/models/fetches").status_code == 403
    assert fetch(anon).status_code == 401
    assert anon.get("/api/models/fetches").status_code == 401
    assert not ModelFetch.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"repo_id": "tiny"}, "repo_id"),
        ({"repo_id": "acme/../etc"}, "repo_id"),
        ({"revision": ""}, "revision"),
        ({"revision": "../v1"}, "revision"),
        ({"file": "../secrets.safetensors"}, "file"),
        ({"file": "/etc/passwd"}, "file"),
        ({"kind": "weights"}, "kind"),
        ({"file": "", "kind": "checkpoints"}, "file"),
    ],
)
def test_invalid_fields_are_refused_naming_the_field(library, alice, client_for, fields, field):
    answer = fetch(client_for(alice), **fields)
    assert answer.status_code == 400
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert not ModelFetch.objects.exists()


@pytest.mark.django_db
def test_with_celery_the_job_goes_to_the_workers_queue_and_the_task_runs_it(
    library, alice, client_for, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.FLOWYARD_DISPATCHER = "celery"
    sent: list[tuple[str, list, str]] = []
    monkeypatch.setattr(
        fetching.celery_app, "send_task", lambda name, args, queue, **kw: sent.append((name, args, queue))
    )
    with django_capture_on_commit_callbacks(execute=True):
        job_id = fetch(client_for(alice), local_files_only=True).json()["id"]
    # Sent by name: the name the worker's task is registered under.
    assert sent == [(fetch_model_file_task.name, [job_id], settings.FLOWYARD_CPU_QUEUE)]
    assert ModelFetch.objects.get(pk=job_id).status == "queued"

    Worker.objects.create(name="gpu@h:1", hostname="h", queues=[settings.FLOWYARD_GPU_QUEUE])
    assert fetching.fetch_queue() == settings.FLOWYARD_GPU_QUEUE  # diffusion models are loaded there

    # What the worker runs: the task itself, in this process (the library is this process's here).
    assert fetch_model_file_task.run(job_id) == "done"
    assert fetch_model_file_task.run(job_id) is None  # a redelivered message finds it claimed
    job = ModelFetch.objects.get(pk=job_id)
    assert job.status == "done" and job.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert (library / "diffusion_models" / "tiny.safetensors").exists()
