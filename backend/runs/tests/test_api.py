"""The runs API without execution: validation at submit, listing, and who may do what on every endpoint."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backend.accounts.roles import Role
from backend.runs.actions import do_create_run
from backend.runs.models import NodeRun, Run, RunEvent, RunOutput
from backend.runs.tests.conftest import chain

pytestmark = pytest.mark.django_db

MEMBERS = ["owner", "admin", "editor", "runner", "viewer"]
RUNNERS = {"owner", "admin", "editor", "runner"}
EDITORS = {"owner", "admin", "editor"}


def finished_run(user, workspace, status: str = Run.Status.FAILED) -> Run:
    """A run as a worker leaves it: finished, with an event and a PNG output (no execution needed)."""
    from backend.storage.blobs import get_blob_store

    run = do_create_run(user, workspace=workspace, graph=chain(2))
    Run.objects.filter(pk=run.pk).update(
        status=status, started=timezone.now(), finished=timezone.now(), last_seq=1
    )
    RunEvent.objects.create(run=run, seq=1, type="run_started", data={"nodes": []}, time=1.0)
    sha = get_blob_store().put(b"\x89PNG fake")
    RunOutput.objects.create(
        run=run,
        node_id="show",
        kind="image",
        blob_sha=sha,
        filename="a.png",
        content_type="image/png",
        size=9,
    )
    run.refresh_from_db()
    return run


# Submitting


def test_invalid_graph_answers_400_naming_every_node_and_input(team, as_role):
    graph = {
        "nodes": {
            "1": {"type": "EmptyImage", "inputs": {"width": -5, "colour": 3}},
            "2": {"type": "NoSuchNode", "inputs": {}},
            "3": {"type": "ImageInvert", "inputs": {}},
            "4": {"type": "SaveImage", "inputs": {"images": ["3", 0]}},
        }
    }
    response = as_role("runner").post("/api/runs", {"workspace": team.pk, "graph": graph}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("The graph cannot run")
    found = {(e["code"], e["node"], e["input"]) for e in body["errors"]}
    assert ("unknown_node_type", "2", None) in found
    assert ("missing_input", "3", "image") in found
    assert Run.objects.count() == 0


def test_overrides_are_validated_and_name_their_node(image_workflow, as_role):
    client = as_role("runner")
    response = client.post(
        "/api/runs",
        {"workflow": image_workflow.pk, "overrides": {"1": {"width": 0}, "99": {"x": 1}}},
        format="json",
    )
    assert response.status_code == 400
    assert [(e["code"], e["node"]) for e in response.json()["errors"]] == [("unknown_node", "99")]
    response = client.post(
        "/api/runs", {"workflow": image_workflow.pk, "overrides": {"1": {"width": 0}}}, format="json"
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["code"], error["node"], error["input"]) == ("invalid_value", "1", "width")


def test_malformed_graph_and_missing_fields_name_the_field(team, as_role):
    client = as_role("runner")
    response = client.post("/api/runs", {"workspace": team.pk, "graph": {"nodes": []}}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "invalid_graph"
    response = client.post("/api/runs", {"workspace": team.pk}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "graph"
    response = client.post("/api/runs", {"graph": chain(1), "priority": 99}, format="json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert response.status_code == 400 and "priority" in fields


def test_submit_creates_a_queued_run_with_a_row_per_needed_node(image_workflow, as_role):
    response = as_role("runner").post(
        "/api/runs", {"workflow": image_workflow.pk, "outputs": ["2"], "priority": 3}, format="json"
    )
    assert response.status_code == 201
    run = response.json()
    assert run["status"] == "queued" and run["priority"] == 3 and run["source"] == "ui"
    assert run["outputs"] == ["2"]
    assert [(n["node_id"], n["status"]) for n in run["nodes"]] == [("1", "queued"), ("2", "queued")]
    assert NodeRun.objects.filter(run_id=run["id"]).count() == 2


def test_submit_answers_from_memory_with_as_many_queries_for_300_nodes_as_for_3(team, as_role):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_role("runner")
    counts, bodies = [], []
    for length in (3, 300):
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/api/runs", {"workspace": team.pk, "graph": chain(length)}, format="json")
        assert response.status_code == 201
        counts.append(len(queries))
        bodies.append(response.json())
    assert counts[0] == counts[1]
    created = bodies[1]
    detail = client.get(f"/api/runs/{created['id']}").json()
    assert created == detail
    assert len(created["nodes"]) == 301 and created["results"] == []


def test_a_version_can_be_chosen_and_a_missing_one_is_404(image_workflow, as_role):
    client = as_role("runner")
    assert (
        client.post("/api/runs", {"workflow": image_workflow.pk, "version": 1}, format="json").status_code
        == 201
    )
    assert (
        client.post("/api/runs", {"workflow": image_workflow.pk, "version": 7}, format="json").status_code
        == 404
    )


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_who_may_start_runs(role, team, image_workflow, as_role):
    client = as_role(role)
    by_workflow = client.post("/api/runs", {"workflow": image_workflow.pk}, format="json")
    by_graph = client.post("/api/runs", {"workspace": team.pk, "graph": chain(1)}, format="json")
    expected = 201 if role in RUNNERS else 403 if role == "viewer" else 404
    assert (by_workflow.status_code, by_graph.status_code) == (expected, expected)


# Seeing runs


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_who_may_see_a_run_its_events_and_outputs(role, team, members, as_role):
    run = finished_run(members[Role.RUNNER], team)
    output = run.run_outputs.get()
    client = as_role(role)
    answers = [
        client.get(f"/api/runs/{run.pk}").status_code,
        client.get(f"/api/runs/{run.pk}/events").status_code,
        client.get(f"/api/runs/{run.pk}/outputs/{output.pk}").status_code,
    ]
    assert answers == ([200, 200, 200] if role != "outsider" else [404, 404, 404])
    listed = client.get("/api/runs").json()["results"]
    assert (str(run.pk) in {item["id"] for item in listed}) == (role != "outsider")


@pytest.mark.parametrize(
    "role,sees", [("owner", True), ("admin", True), ("editor", True), ("runner", False), ("viewer", False)]
)
def test_runs_of_a_private_workflow_are_seen_by_who_sees_the_workflow(
    role, sees, private_workflow, members, as_role
):
    version = private_workflow.latest_version()
    run = do_create_run(members[Role.EDITOR], workspace=private_workflow.workspace, workflow_version=version)
    client = as_role(role)
    assert client.get(f"/api/runs/{run.pk}").status_code == (200 if sees else 404)
    assert (str(run.pk) in {r["id"] for r in client.get("/api/runs").json()["results"]}) == sees


def test_list_filters_and_paginates(team, image_workflow, members, as_role, make_user):
    rita, eddie = members[Role.RUNNER], members[Role.EDITOR]
    mine = do_create_run(rita, workspace=team, graph=chain(1))
    theirs = do_create_run(
        eddie, workspace=image_workflow.workspace, workflow_version=image_workflow.latest_version()
    )
    failed = finished_run(eddie, team)
    client = as_role("runner")

    def ids(query: str) -> set[str]:
        response = client.get(f"/api/runs?{query}")
        assert response.status_code == 200
        return {item["id"] for item in response.json()["results"]}

    assert ids("mine=1") == {str(mine.pk)}
    assert ids(f"workflow={image_workflow.pk}") == {str(theirs.pk)}
    assert ids("status=failed") == {str(failed.pk)}
    assert ids(f"workspace={team.pk}") == {str(mine.pk), str(theirs.pk), str(failed.pk)}
    page = client.get("/api/runs?limit=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert client.get("/api/runs?status=bogus").status_code == 400
    outsider_team = make_user("olga").personal_workspace
    assert client.get(f"/api/runs?workspace={outsider_team.pk}").status_code == 404


def test_unknown_or_malformed_ids_are_404(as_role, team, members):
    client = as_role("owner")
    assert client.get("/api/runs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/api/runs/not-a-uuid").status_code == 404
    run = finished_run(members[Role.OWNER], team)
    assert client.get(f"/api/runs/{run.pk}/outputs/999999").status_code == 404


def test_anonymous_callers_get_401(anon, team, members):
    run = finished_run(members[Role.OWNER], team)
    assert anon.get("/api/runs").status_code == 401
    assert anon.get(f"/api/runs/{run.pk}").status_code == 401


# Changing runs


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_who_may_cancel_a_run_started_by_someone_else(role, team, members, as_role):
    run = do_create_run(members[Role.ADMIN], workspace=team, graph=chain(1))
    response = as_role(role).post(f"/api/runs/{run.pk}/cancel")
    expected = {"owner": 200, "admin": 200, "editor": 200, "runner": 403, "viewer": 403, "outsider": 404}[
        role
    ]
    assert response.status_code == expected
    if expected == 200:
        run.refresh_from_db()
        assert run.status == "cancelled" and run.finished is not None
        assert set(run.node_runs.values_list("status", flat=True)) == {"cancelled"}


def test_a_runner_may_cancel_and_delete_their_own_runs(team, members, as_role):
    client = as_role("runner")
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(1))
    assert client.delete(f"/api/runs/{run.pk}").status_code == 409  # still queued: cancel first
    assert client.post(f"/api/runs/{run.pk}/cancel").status_code == 200
    assert client.post(f"/api/runs/{run.pk}/cancel").status_code == 409
    assert client.delete(f"/api/runs/{run.pk}").status_code == 204
    assert not Run.objects.filter(pk=run.pk).exists()


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_who_may_delete_a_run_started_by_someone_else(role, team, members, as_role):
    run = finished_run(members[Role.ADMIN], team)
    response = as_role(role).delete(f"/api/runs/{run.pk}")
    expected = {"owner": 204, "admin": 204, "editor": 204, "runner": 403, "viewer": 403, "outsider": 404}[
        role
    ]
    assert response.status_code == expected
    assert Run.objects.filter(pk=run.pk).exists() == (expected != 204)


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_who_may_rerun_and_resume(role, team, members, as_role):
    run = finished_run(members[Role.ADMIN], team, status=Run.Status.FAILED)
    client = as_role(role)
    expected = 201 if role in RUNNERS else 403 if role == "viewer" else 404
    for action in ("rerun", "resume"):
        response = client.post(f"/api/runs/{run.pk}/{action}")
        assert response.status_code == expected, action
        if expected == 201:
            new = response.json()
            assert new["rerun_of"] == str(run.pk) and new["created_by"]["id"] == members[Role(role)].pk
            assert new["graph"] == run.graph


def test_only_failed_or_cancelled_runs_resume(team, members, as_role):
    done = finished_run(members[Role.RUNNER], team, status=Run.Status.SUCCEEDED)
    response = as_role("runner").post(f"/api/runs/{done.pk}/resume")
    assert response.status_code == 409 and "failed or cancelled" in response.json()["detail"]
