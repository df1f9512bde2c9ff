"""Collecting pack environments nothing may run any more (backend/registry/envgc.py) and the heartbeat thread's
periodic work that does it on every worker."""

from __future__ import annotations

import json
import threading

import pytest
from django.core.management import call_command

from backend.registry import runtime
from backend.registry.envgc import collect_pack_environments, environments_in_use
from backend.registry.models import NodePack, NodePackVersion, Publisher, TeamPackInstall
from backend.runs.models import Run
from backend.workers_registry.heartbeat import Periodic, WorkerPresence
from backend.workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(alice, team):
    """demo 1.0.0 installed; 1.1.0 pinned by a saved version; 1.2.0 recorded by a queued run; 1.3.0 only by a
    finished run; other 0.1.0 by nothing."""
    publisher = Publisher.objects.create(slug="alice", display_name="Alice", user=alice)
    demo = NodePack.objects.create(publisher=publisher, name="demo", display_name="Demo")
    other = NodePack.objects.create(publisher=publisher, name="other", display_name="Other")

    def version(pack, number):
        sha = f"{pack.name}-{number}".encode().hex().ljust(64, "0")[:64]
        return NodePackVersion.objects.create(pack=pack, version=number, archive_sha256=sha, archive_size=1)

    made = {v: version(demo, v) for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0")}
    made["other"] = version(other, "0.1.0")
    TeamPackInstall.objects.create(workspace=team, pack=demo, version=made["1.0.0"], installed_by=alice)
    workflow = Workflow.objects.create(workspace=team, name="w", created_by=alice)
    WorkflowVersion.objects.create(
        workflow=workflow, number=1, graph={"nodes": {}}, content_hash="x", packs={"demo": "1.1.0"}
    )
    Run.objects.create(workspace=team, graph={"nodes": {}}, packs={"demo": "1.2.0"})
    Run.objects.create(
        workspace=team, graph={"nodes": {}}, packs={"demo": "1.3.0"}, status=Run.Status.SUCCEEDED
    )
    return made


def test_what_is_installed_pinned_or_waiting_to_run_is_in_use(versions):
    keep = environments_in_use()
    assert keep == {versions[v].archive_sha256 for v in ("1.0.0", "1.1.0", "1.2.0")}


def test_collecting_removes_the_environments_of_versions_nothing_may_run(versions, settings, tmp_path):
    root = tmp_path / "envs"
    settings.FLOWYARD_PACK_ENV_ROOT = root
    assert collect_pack_environments() == []  # nothing built on this machine yet: nothing to do
    for name, version in versions.items():
        folder = root / f"env-{name}"
        folder.mkdir(parents=True)
        (folder / "env.json").write_text(json.dumps({"sha256": version.archive_sha256}))
    removed = collect_pack_environments()
    assert sorted(removed) == ["env-1.3.0", "env-other"]
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [
        "env-1.0.0",
        "env-1.1.0",
        "env-1.2.0",
    ]
    # The team uninstalls demo: 1.0.0 goes at the next collection (by hand here).
    TeamPackInstall.objects.all().delete()
    call_command("collect_pack_envs")
    assert not (root / "env-1.0.0").exists() and (root / "env-1.1.0").exists()
    runtime._environments.clear()


@pytest.mark.django_db(transaction=True)  # the heartbeat thread writes the worker row on its own connection
def test_the_heartbeat_runs_periodic_work_at_start_or_after_its_interval(settings):
    settings.FLOWYARD_WORKER_HEARTBEAT_SECONDS = 0.05
    ran: dict[str, threading.Event] = {"at_start": threading.Event(), "later": threading.Event()}
    presence = WorkerPresence(
        "periodic-test",
        periodic=[
            Periodic(ran["at_start"].set, 60.0),
            Periodic(ran["later"].set, 60.0, at_start=False),
            Periodic(lambda: None, 0.0),  # 0: never
        ],
    )
    presence.start()
    try:
        assert ran["at_start"].wait(10)
        assert not ran["later"].wait(0.3)  # due only after 60 s
    finally:
        presence.stop()
