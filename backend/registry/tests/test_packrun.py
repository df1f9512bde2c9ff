"""Installed packs run, with real processes: a pack made with the CLI, built, published through the API and installed
in a team runs in its own environment and host from the API, with the local dispatcher and on a Celery worker;
two packs pinning conflicting versions of six share one run; a workflow version keeps its pack versions after an
upgrade; a pack the team lacks fails validation naming it; a pack never sees the worker's secrets.
"""

from __future__ import annotations

import io
import json
import secrets
import uuid
from pathlib import Path

import pytest
from PIL import Image

from backend.celery import app as celery_app
from backend.registry import tasks as registry_tasks
from backend.registry.models import NodePackVersion, Publisher
from backend.registry.tests.conftest import installed_packs_settings, make_cli_pack
from backend.runs import tasks
from backend.runs.scheduling import dispatch_next
from backend.runs.tests.services import (
    PYTHON,
    Process,
    checked_redis_url,
    service_env,
    submitting_through_celery,
    subprocess_database_url,
    wait_until,
)
from workers import cli
from workers.packs.build import build_pack
from workers.runtime.packhost.tests.conftest import make_pack_source

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = f"flowyard.cpu.packrun-{uuid.uuid4().hex[:8]}"
WORKER = f"packrun-{uuid.uuid4().hex[:8]}@127.0.0.1"
SECRET_KEY = f"packrun-secret-{secrets.token_hex(8)}"

TINT = '''

class Tint(sdk.Node):
    """Invert an image; say which version of the pack did it."""

    id = "demo.Tint"
    category = "demo"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        image: sdk.Image
        version: str

    def execute(self, inputs, ctx):
        return self.Outputs(image=1.0 - inputs.image, version=pack.version)


pack = sdk.Pack(
    name=pack.name, version=pack.version, sdk_api=pack.sdk_api, display_name=pack.display_name,
    description=pack.description, nodes=[Example, Tint],
)
'''

# A 8x4 image of 0x102030, inverted by demo.Tint and saved; the version that inverted it and a repeated text.
DEMO_GRAPH = {
    "nodes": {
        "1": {"type": "EmptyImage", "inputs": {"width": 8, "height": 4, "batch_size": 1, "color": 0x102030}},
        "2": {"type": "demo.Tint", "inputs": {"image": ["1", 0]}},
        "3": {"type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "tinted"}},
        "4": {"type": "PreviewAny", "inputs": {"source": ["2", 1]}},
        "5": {"type": "demo.Example", "inputs": {"text": "hi", "times": 3}},
        "6": {"type": "PreviewAny", "inputs": {"source": ["5", 0]}},
    }
}


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    """demo 1.0.0 and 1.1.0 (CLI-made, plus demo.Tint) and sixa/sixb pinning six 1.16.0 and 1.15.0."""
    root = tmp_path_factory.mktemp("packrun-src")
    return {
        "demo-1.0.0": make_cli_pack(root / "d1", "demo", "alice", "1.0.0", TINT),
        "demo-1.1.0": make_cli_pack(root / "d2", "demo", "alice", "1.1.0", TINT),
        "sixa": build_pack(make_pack_source(root, "sixa", "1.16.0"), root / "dist"),
        "sixb": build_pack(make_pack_source(root, "sixb", "1.15.0"), root / "dist"),
    }


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, Path]:
    """Blob store and pack environments shared by this process and the Celery worker."""
    root = tmp_path_factory.mktemp("packrun")
    return {"blobs": root / "blobs", "envs": root / "envs", "var": root / "var"}


@pytest.fixture(autouse=True)
def packrun_settings(settings, shared):
    with installed_packs_settings(settings, shared["blobs"], shared["envs"]):
        yield


def publish(upload, user, archive: Path, approver=None, client_for=None) -> NodePackVersion:
    """Upload through the API; approve (as a site admin) when the scan flagged it."""
    response = upload(user, archive)
    assert response.status_code == 201, response.json()
    body = response.json()
    if body["status"] == "flagged":
        approved = client_for(approver).post(f"/api/packs/versions/{body['version']['id']}/approve")
        assert approved.status_code == 200, approved.json()
    version = NodePackVersion.objects.get(pk=body["version"]["id"])
    assert version.status == "active", version.review_note
    return version


def install(client, team, pack: str, version: str | None = None) -> dict:
    body = {"pack": pack, **({"version": version} if version else {})}
    response = client.post(f"/api/workspaces/{team.pk}/packs", body, format="json")
    assert response.status_code in (200, 201), response.json()
    return response.json()


def run_and_wait(client, body: dict, wait_for_run, timeout: float = 60):
    response = client.post("/api/runs", body, format="json")
    assert response.status_code == 201, response.json()
    run = wait_for_run(response.json()["id"], timeout=timeout)
    detail = client.get(f"/api/runs/{run.pk}").json()
    assert run.status == "succeeded", (run.error, [n for n in detail["nodes"] if n["error"]])
    return run, detail


def texts(detail: dict) -> dict[str, str]:
    return {r["node_id"]: r["text"] for r in detail["results"] if r["kind"] == "text"}


def pixels(client, detail: dict) -> tuple[int, ...]:
    [image] = [r for r in detail["results"] if r["kind"] == "image"]
    response = client.get(image["url"])
    assert response.status_code == 200
    data = b"".join(response.streaming_content) if response.streaming else response.content
    picture = Image.open(io.BytesIO(data)).convert("RGB")
    assert picture.size == (8, 4)
    pixel = picture.getpixel((3, 2))
    assert isinstance(pixel, tuple)
    return pixel


INVERTED = (0xFF - 0x10, 0xFF - 0x20, 0xFF - 0x30)


def test_a_cli_pack_published_and_installed_runs_isolated_and_saved_workflows_keep_their_version(
    live_server, trusted, archives, upload, alice, team, members, as_role, client_for, wait_for_run,
    tmp_path, monkeypatch, capsys, settings,
):  # fmt: skip
    owner = client_for(alice)
    token = owner.post("/api/tokens", {"name": "cli"}, format="json").json()["token"]
    monkeypatch.setenv("FLOWYARD_CONFIG_DIR", str(tmp_path / "config"))
    assert cli.main(["login", "--server", live_server.url, "--token", token]) == 0
    assert cli.main(["pack", "publish", str(archives["demo-1.0.0"])]) == 0
    assert "server: active (201)" in capsys.readouterr().out
    assert install(owner, team, "demo")["version"] == "1.0.0"
    catalog = owner.get(f"/api/nodes?workspace={team.pk}").json()
    assert next(p for p in catalog["packs"] if p["name"] == "demo")["nodes_known"] is False

    editor, runner = as_role("editor"), as_role("runner")
    created = editor.post(
        "/api/workflows", {"workspace": team.pk, "name": "tint", "graph": DEMO_GRAPH}, format="json"
    )
    assert created.status_code == 201, created.json()
    workflow = created.json()
    assert workflow["version"]["packs"]["demo"] == "1.0.0" and workflow["missing_packs"] == []

    # (a) the local dispatcher: the node runs in the pack's host, the result comes back through the API.
    run, detail = run_and_wait(runner, {"workflow": workflow["id"]}, wait_for_run)
    assert texts(detail) == {"4": "1.0.0", "6": "hi hi hi"}
    assert pixels(runner, detail) == INVERTED
    # Describing the pack recorded its node schemas: the editor's catalog now shows its nodes.
    catalog = owner.get(f"/api/nodes?workspace={team.pk}").json()
    assert next(p for p in catalog["packs"] if p["name"] == "demo")["nodes_known"] is True
    tint = next(n for n in catalog["nodes"] if n["type"] == "demo.Tint")
    assert tint["pack"] == {"name": "demo", "version": "1.0.0"}
    assert [o["name"] for o in tint["outputs"]] == ["image", "version"]

    assert detail["packs"] == {"demo": "1.0.0"}

    # A run submitted before an upgrade runs on the version it was validated with, though it starts after.
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # it waits for a slot
    waiting = runner.post("/api/runs", {"workspace": team.pk, "graph": DEMO_GRAPH}, format="json").json()
    assert waiting["status"] == "queued" and waiting["packs"] == {"demo": "1.0.0"}

    # Upgrading the team to 1.1.0: the saved version keeps running on 1.0.0, new graphs and saves use 1.1.0.
    publish(upload, alice, archives["demo-1.1.0"])
    assert install(owner, team, "demo", "1.1.0")["version"] == "1.1.0"
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 2
    dispatch_next()
    detail = runner.get(f"/api/runs/{wait_for_run(waiting['id']).pk}").json()
    assert detail["status"] == "succeeded" and texts(detail)["4"] == "1.0.0"
    _, detail = run_and_wait(runner, {"workflow": workflow["id"]}, wait_for_run)
    assert texts(detail)["4"] == "1.0.0"
    assert editor.get(f"/api/workflows/{workflow['id']}").json()["missing_packs"] == []
    _, detail = run_and_wait(runner, {"workspace": team.pk, "graph": DEMO_GRAPH}, wait_for_run)
    assert texts(detail)["4"] == "1.1.0" and pixels(runner, detail) == INVERTED
    changed = json.loads(json.dumps(DEMO_GRAPH))
    changed["nodes"]["5"]["inputs"]["times"] = 2
    saved = editor.post(f"/api/workflows/{workflow['id']}/versions", {"graph": changed}, format="json")
    assert saved.status_code == 201 and saved.json()["packs"]["demo"] == "1.1.0"
    _, detail = run_and_wait(runner, {"workflow": workflow["id"]}, wait_for_run)
    assert texts(detail) == {"4": "1.1.0", "6": "hi hi"}
    _, detail = run_and_wait(runner, {"workflow": workflow["id"], "version": 1}, wait_for_run)
    assert texts(detail)["4"] == "1.0.0"

    # A team without the pack: validation names the pack and offers the install.
    assert owner.delete(f"/api/workspaces/{team.pk}/packs/demo").status_code == 204
    refused = runner.post("/api/runs", {"workflow": workflow["id"], "version": 1}, format="json")
    assert refused.status_code == 400, refused.json()
    body = refused.json()
    assert body["detail"] == (
        "The graph cannot run: it uses pack demo 1.0.0, which this workspace has not installed; a team admin "
        f'can install it: POST /api/workspaces/{team.pk}/packs {{"pack": "demo", "version": "1.0.0"}}.'
    )
    tint_error = next(e for e in body["errors"] if e["node"] == "2")
    assert (
        tint_error["message"]
        == "demo.Tint comes from pack demo 1.0.0, which this workspace has not installed"
    )
    assert {(e["node"], e["code"], e["pack"]) for e in body["errors"]} == {
        ("2", "missing_pack", "demo"),
        ("5", "missing_pack", "demo"),
    }
    assert tint_error["install"] == {"pack": "demo", "version": "1.0.0"}
    missing = editor.get(f"/api/workflows/{workflow['id']}").json()["missing_packs"]
    assert [(m["pack"], m["status"]) for m in missing] == [("demo", "missing")]


@pytest.fixture(scope="module")
def worker(shared, django_db_setup, django_db_blocker):
    """A Celery worker process with secrets in its environment, sharing blobs and pack environments."""
    redis_url = checked_redis_url()
    with django_db_blocker.unblock():
        database_url = subprocess_database_url()
    shared["var"].mkdir(parents=True, exist_ok=True)
    env = service_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=SECRET_KEY,
        FLOWYARD_DISPATCHER="celery",
        FLOWYARD_CPU_QUEUE=QUEUE,
        FLOWYARD_BLOB_DIR=str(shared["blobs"]),
        FLOWYARD_VAR_DIR=str(shared["var"]),
        FLOWYARD_PACK_ENV_ROOT=str(shared["envs"]),
        FLOWYARD_NODE_PACKS="nodepacks.core",
        FLOWYARD_PARALLELISM="4",
    )
    args = [PYTHON, "-m", "celery", "-A", "backend", "worker", "-Q", QUEUE, "-c", "1"]
    args += ["-n", WORKER, "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    process = Process(args, env, shared["var"] / "worker.log")
    try:

        def ready() -> bool:
            process.check_alive()
            return "ready." in process.output()

        wait_until(ready, 30, "the worker to start")
        yield process, redis_url, database_url
    finally:
        process.stop()


@pytest.fixture
def celery_mode(settings, monkeypatch, worker):
    """This process submits through Celery and publishes on the Redis channel layer, like a web process."""
    _, redis_url, _ = worker
    # Registered in this process too, so submitting can send them: the worker validates uploads and runs.
    assert {tasks.execute_run_task.name, registry_tasks.validate_pack_version_task.name} <= set(
        celery_app.tasks
    )
    with submitting_through_celery(settings, monkeypatch, redis_url, QUEUE):
        yield worker


@pytest.mark.services
def test_packs_pinning_conflicting_six_share_one_run_on_a_celery_worker_and_never_see_its_secrets(
    celery_mode, trusted, archives, upload, alice, team, as_role, client_for, wait_for_run
):
    process, _, database_url = celery_mode
    Publisher.objects.create(slug="flowyard-tests", display_name="Tests", workspace=team, trusted=True)
    owner = client_for(alice)
    for name in ("sixa", "sixb", "demo-1.0.0"):
        version = publish(upload, alice, archives[name], approver=alice, client_for=client_for)
        install(owner, team, version.pack.name)
    graph = {
        "nodes": {
            **DEMO_GRAPH["nodes"],
            "a": {"type": "sixa.Version", "inputs": {}},
            "b": {"type": "sixb.Version", "inputs": {}},
            "pa": {"type": "PreviewAny", "inputs": {"source": ["a", 0]}},
            "pb": {"type": "PreviewAny", "inputs": {"source": ["b", 0]}},
            "env": {"type": "sixa.Environ", "inputs": {}},
            "penv": {"type": "PreviewAny", "inputs": {"source": ["env", 0]}},
            "sh": {"type": "sixb.Shell", "inputs": {"command": "env; echo $SECRET_KEY $DATABASE_URL"}},
            "psh": {"type": "PreviewAny", "inputs": {"source": ["sh", 0]}},
            "where": {"type": "sixa.Where", "inputs": {}},
            "pwhere": {"type": "PreviewAny", "inputs": {"source": ["where", 0]}},
        }
    }
    runner = as_role("runner")
    created = as_role("editor").post(
        "/api/workflows", {"workspace": team.pk, "name": "six", "graph": graph}, format="json"
    )
    assert created.json()["version"]["packs"] == {"core": created.json()["version"]["packs"]["core"],
                                                  "demo": "1.0.0", "sixa": "1.0.0", "sixb": "1.0.0"}  # fmt: skip
    run, detail = run_and_wait(runner, {"workflow": created.json()["id"]}, wait_for_run, timeout=90)
    assert run.worker.startswith(WORKER)
    shown = texts(detail)
    assert (shown["pa"], shown["pb"], shown["4"], shown["6"]) == ("1.16.0", "1.15.0", "1.0.0", "hi hi hi")
    assert pixels(runner, detail) == INVERTED
    # Each pack's six comes from its own environment (under the shared root), numpy from the host layer.
    where = json.loads(shown["pwhere"])
    assert "/venv/" in where["six"] and "/_layer-" in where["numpy"]
    for seen in (shown["penv"], shown["psh"]):
        for secret in ("SECRET_KEY", SECRET_KEY, "DATABASE_URL", database_url, "REDIS_URL"):
            assert secret not in seen
