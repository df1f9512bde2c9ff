"""The workflows API for the owner, every role and an outsider."""

from __future__ import annotations

import copy

import pytest

from backend.accounts.roles import Role
from backend.workflows.models import ImmutableVersionError, Workflow, WorkflowVersion
from backend.workflows.tests.conftest import GRAPH, LAYOUT

pytestmark = pytest.mark.django_db

MEMBERS = ["owner", "admin", "editor", "runner", "viewer"]
EDITORS = {"owner", "admin", "editor"}


def edited_graph(width: int = 128) -> dict:
    graph = copy.deepcopy(GRAPH)
    graph["nodes"]["1"]["inputs"]["width"] = width
    return graph


# Listing


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_list_workflows_of_a_workspace(role, team, workflow, as_role):
    response = as_role(role).get(f"/api/workflows?workspace={team.pk}")
    if role == "outsider":
        assert response.status_code == 404
        return
    assert response.status_code == 200
    [item] = response.json()
    assert item["id"] == workflow.pk and item["latest_version"] == 1
    assert set(item) >= {
        "id",
        "name",
        "description",
        "workspace",
        "visibility",
        "is_template",
        "latest_version",
        "updated",
        "forked_from",
    }


@pytest.mark.parametrize(
    "role,sees_private",
    [("owner", True), ("admin", True), ("editor", True), ("runner", False), ("viewer", False)],
)
def test_private_workflows_are_listed_for_creator_and_admins_only(
    role, sees_private, workflow, private_workflow, as_role
):
    ids = {item["id"] for item in as_role(role).get("/api/workflows").json()}
    assert workflow.pk in ids
    assert (private_workflow.pk in ids) == sees_private


def test_outsider_lists_none_of_the_teams_workflows(workflow, as_role):
    assert as_role("outsider").get("/api/workflows").json() == []


def test_list_filters_by_template_and_query(team, workflow, private_workflow, as_role):
    client = as_role("owner")
    Workflow.objects.filter(pk=private_workflow.pk).update(is_template=True)
    assert [w["id"] for w in client.get("/api/workflows?template=1").json()] == [private_workflow.pk]
    assert [w["id"] for w in client.get("/api/workflows?q=inv").json()] == [workflow.pk]
    response = client.get("/api/workflows?workspace=abc")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "workspace"


# Creating


@pytest.mark.parametrize(
    "role,expected",
    [("owner", 201), ("admin", 201), ("editor", 201), ("runner", 403), ("viewer", 403), ("outsider", 404)],
)
def test_create_workflow(role, expected, team, as_role):
    body = {"workspace": team.pk, "name": "New", "graph": GRAPH, "layout": LAYOUT, "message": "init"}
    response = as_role(role).post("/api/workflows", body, format="json")
    assert response.status_code == expected
    if expected == 201:
        data = response.json()
        assert data["latest_version"] == 1 and data["visibility"] == "team"
        assert data["version"]["number"] == 1 and data["version"]["message"] == "init"
        assert data["version"]["graph"] == GRAPH
        assert data["version"]["layout"] == LAYOUT
        assert data["permissions"]["edit"] is True


def test_create_in_own_personal_workspace(oscar, client_for):
    body = {"workspace": oscar.personal_workspace.pk, "name": "Mine", "graph": {"nodes": {}}}
    response = client_for(oscar).post("/api/workflows", body, format="json")
    assert response.status_code == 201
    assert response.json()["version"]["layout"] == {"nodes": {}, "groups": []}


def test_create_with_a_broken_graph_lists_every_error(team, as_role):
    graph = {"nodes": {"1": {"inputs": {}}, "2": {"type": "EmptyImage", "inputs": []}}}
    response = as_role("editor").post(
        "/api/workflows", {"workspace": team.pk, "name": "x", "graph": graph}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("The graph has 2 problems")
    assert [e["node"] for e in body["errors"]] == ["1", "2"]
    assert not Workflow.objects.exists()


def test_create_with_a_bad_layout_names_the_field(team, as_role):
    body = {
        "workspace": team.pk,
        "name": "x",
        "graph": GRAPH,
        "layout": {"nodes": {"1": {"x": "left", "y": 0}}},
    }
    response = as_role("editor").post("/api/workflows", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "layout.nodes.1.x"


def test_create_requires_fields_and_names_them(team, as_role):
    response = as_role("editor").post("/api/workflows", {"workspace": team.pk}, format="json")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"name", "graph"}


def test_too_large_document_is_refused_with_a_clear_error(team, as_role, settings):
    settings.FLOWYARD_MAX_DOCUMENT_BYTES = 2000
    graph = {"nodes": {"1": {"type": "PrimitiveString", "inputs": {"value": "x" * 3000}}}}
    response = as_role("editor").post(
        "/api/workflows", {"workspace": team.pk, "name": "big", "graph": graph}, format="json"
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


# Reading, changing, deleting


@pytest.mark.parametrize("role", [*MEMBERS, "outsider"])
def test_get_workflow(role, workflow, as_role):
    response = as_role(role).get(f"/api/workflows/{workflow.pk}")
    assert response.status_code == (404 if role == "outsider" else 200)
    if role != "outsider":
        assert response.json()["version"]["graph"] == GRAPH
        assert response.json()["role"] == role


@pytest.mark.parametrize(
    "role,expected",
    [("owner", 200), ("admin", 200), ("editor", 200), ("runner", 404), ("viewer", 404), ("outsider", 404)],
)
def test_get_private_workflow(role, expected, private_workflow, as_role):
    assert as_role(role).get(f"/api/workflows/{private_workflow.pk}").status_code == expected


def test_missing_workflow_answers_404(as_role):
    assert as_role("owner").get("/api/workflows/999999").status_code == 404


@pytest.mark.parametrize(
    "role,expected",
    [("owner", 200), ("admin", 200), ("editor", 200), ("runner", 403), ("viewer", 403), ("outsider", 404)],
)
def test_patch_workflow(role, expected, workflow, as_role):
    body = {"name": "Renamed", "description": "d", "is_template": True}
    response = as_role(role).patch(f"/api/workflows/{workflow.pk}", body, format="json")
    assert response.status_code == expected
    workflow.refresh_from_db()
    assert (workflow.name == "Renamed" and workflow.is_template) == (expected == 200)


def test_only_site_admins_set_site_template(workflow, members, as_role, client_for):
    response = as_role("admin").patch(
        f"/api/workflows/{workflow.pk}", {"is_site_template": True}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "is_site_template"
    assert members[Role.OWNER].is_site_admin  # alice was the installation's first user
    response = client_for(members[Role.OWNER]).patch(
        f"/api/workflows/{workflow.pk}", {"is_site_template": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["is_site_template"] is True


@pytest.mark.parametrize(
    "role,expected",
    [("owner", 204), ("admin", 204), ("editor", 204), ("runner", 403), ("viewer", 403), ("outsider", 404)],
)
def test_delete_workflow(role, expected, workflow, as_role):
    assert as_role(role).delete(f"/api/workflows/{workflow.pk}").status_code == expected
    assert Workflow.objects.filter(pk=workflow.pk).exists() == (expected != 204)


# Versions


@pytest.mark.parametrize(
    "role,expected",
    [("owner", 201), ("admin", 201), ("editor", 201), ("runner", 403), ("viewer", 403), ("outsider", 404)],
)
def test_save_new_version(role, expected, workflow, as_role):
    body = {"graph": edited_graph(), "layout": LAYOUT, "message": "wider"}
    response = as_role(role).post(f"/api/workflows/{workflow.pk}/versions", body, format="json")
    assert response.status_code == expected
    if expected == 201:
        assert response.json()["number"] == 2 and response.json()["message"] == "wider"


def test_saving_unchanged_content_returns_the_latest_version(workflow, as_role):
    client = as_role("editor")
    response = client.post(
        f"/api/workflows/{workflow.pk}/versions", {"graph": GRAPH, "layout": LAYOUT}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["number"] == 1
    assert workflow.versions.count() == 1


def test_versions_are_numbered_and_listed_newest_first(workflow, as_role):
    client = as_role("editor")
    for width in (100, 200):
        client.post(f"/api/workflows/{workflow.pk}/versions", {"graph": edited_graph(width)}, format="json")
    listed = as_role("viewer").get(f"/api/workflows/{workflow.pk}/versions").json()
    assert [v["number"] for v in listed] == [3, 2, 1]
    assert set(listed[0]) == {"number", "message", "author", "created", "content_hash", "packs"}
    assert listed[0]["author"]["username"] == "eddie"
    assert listed[0]["packs"] == listed[2]["packs"] == {"core": listed[0]["packs"]["core"]}
    assert as_role("outsider").get(f"/api/workflows/{workflow.pk}/versions").status_code == 404


def test_get_one_version(workflow, as_role):
    response = as_role("runner").get(f"/api/workflows/{workflow.pk}/versions/1")
    assert response.status_code == 200 and response.json()["graph"] == GRAPH
    assert as_role("runner").get(f"/api/workflows/{workflow.pk}/versions/7").status_code == 404
    assert as_role("outsider").get(f"/api/workflows/{workflow.pk}/versions/1").status_code == 404


def test_versions_are_immutable(workflow, as_role):
    version = workflow.versions.get()
    version.message = "rewritten"
    with pytest.raises(ImmutableVersionError):
        version.save()
    with pytest.raises(ImmutableVersionError):
        WorkflowVersion.objects.filter(pk=version.pk).update(message="rewritten")
    client = as_role("owner")
    url = f"/api/workflows/{workflow.pk}/versions/1"
    assert client.patch(url, {"message": "x"}, format="json").status_code == 405
    assert client.put(url, {"graph": GRAPH}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert WorkflowVersion.objects.get(pk=version.pk).message == "first"


def test_deleting_the_author_keeps_the_versions(workflow, members):
    members[Role.OWNER].delete()
    version = WorkflowVersion.objects.get()
    assert version.author is None and version.graph == GRAPH


# Diff and restore


def test_diff_between_versions(workflow, as_role):
    graph = edited_graph()
    graph["nodes"]["3"] = {"type": "PreviewImage", "inputs": {"images": ["2", 0]}}
    graph["nodes"]["2"]["type"] = "ImageFlip"
    as_role("editor").post(f"/api/workflows/{workflow.pk}/versions", {"graph": graph}, format="json")
    response = as_role("viewer").get(f"/api/workflows/{workflow.pk}/diff?from=1&to=2")
    assert response.status_code == 200
    assert response.json() == {
        "added": ["3"],
        "removed": [],
        "changed": [{"node": "1", "inputs": ["width"]}],
        "type_changed": [{"node": "2", "from": "ImageInvert", "to": "ImageFlip"}],
    }
    assert as_role("outsider").get(f"/api/workflows/{workflow.pk}/diff?from=1&to=2").status_code == 404


def test_diff_parameters_are_checked(workflow, as_role):
    client = as_role("viewer")
    missing = client.get(f"/api/workflows/{workflow.pk}/diff?to=1")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "from"
    assert client.get(f"/api/workflows/{workflow.pk}/diff?from=1&to=9").status_code == 404


@pytest.mark.parametrize(
    "role,expected", [("owner", 201), ("editor", 201), ("runner", 403), ("viewer", 403), ("outsider", 404)]
)
def test_restore_an_old_version_as_a_new_one(role, expected, workflow, as_role):
    as_role("editor").post(f"/api/workflows/{workflow.pk}/versions", {"graph": edited_graph()}, format="json")
    response = as_role(role).post(f"/api/workflows/{workflow.pk}/versions/1/restore")
    assert response.status_code == expected
    if expected == 201:
        body = response.json()
        assert body["number"] == 3 and body["graph"] == GRAPH and body["message"] == "Restored version 1"
        assert body["content_hash"] == workflow.versions.get(number=1).content_hash


def test_restoring_the_latest_version_changes_nothing(workflow, as_role):
    response = as_role("editor").post(f"/api/workflows/{workflow.pk}/versions/1/restore")
    assert response.status_code == 200 and response.json()["number"] == 1


# Forks


@pytest.mark.parametrize("role", MEMBERS)
def test_any_member_forks_into_their_personal_workspace(role, workflow, members, as_role):
    target = members[Role(role)].personal_workspace
    response = as_role(role).post(
        f"/api/workflows/{workflow.pk}/fork", {"workspace": target.pk}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["workspace"] == target.pk and body["name"] == "Invert"
    assert body["forked_from"] == {"workflow": workflow.pk, "version": 1}
    assert body["version"]["graph"] == GRAPH and body["latest_version"] == 1


def test_fork_into_team_needs_edit_rights_there(workflow, team, as_role):
    url = f"/api/workflows/{workflow.pk}/fork"
    assert as_role("viewer").post(url, {"workspace": team.pk}, format="json").status_code == 403
    response = as_role("editor").post(url, {"workspace": team.pk, "name": "Copy"}, format="json")
    assert response.status_code == 201 and response.json()["name"] == "Copy"


def test_outsider_cannot_fork_or_fork_into_a_foreign_workspace(workflow, team, oscar, as_role):
    url = f"/api/workflows/{workflow.pk}/fork"
    assert (
        as_role("outsider").post(url, {"workspace": oscar.personal_workspace.pk}, format="json").status_code
        == 404
    )
    assert (
        as_role("editor").post(url, {"workspace": oscar.personal_workspace.pk}, format="json").status_code
        == 404
    )


def test_fork_survives_deletion_of_its_source(workflow, members, as_role):
    target = members[Role.EDITOR].personal_workspace
    fork_id = (
        as_role("editor")
        .post(f"/api/workflows/{workflow.pk}/fork", {"workspace": target.pk}, format="json")
        .json()["id"]
    )
    workflow.delete()
    fork = Workflow.objects.get(pk=fork_id)
    latest = fork.latest_version()
    assert fork.forked_from is None and latest is not None and latest.graph == GRAPH


# Sharing


@pytest.mark.parametrize(
    "role,expected",
    [("owner", 200), ("admin", 200), ("editor", 200), ("runner", 403), ("viewer", 403), ("outsider", 404)],
)
def test_share_changes_visibility(role, expected, workflow, as_role):
    response = as_role(role).post(
        f"/api/workflows/{workflow.pk}/share", {"visibility": "private"}, format="json"
    )
    assert response.status_code == expected
    workflow.refresh_from_db()
    assert (workflow.visibility == "private") == (expected == 200)


def test_private_workflow_disappears_for_viewers_and_comes_back(workflow, as_role):
    owner = as_role("owner")
    owner.post(f"/api/workflows/{workflow.pk}/share", {"visibility": "private"}, format="json")
    assert as_role("viewer").get(f"/api/workflows/{workflow.pk}").status_code == 404
    owner.post(f"/api/workflows/{workflow.pk}/share", {"visibility": "team"}, format="json")
    assert as_role("viewer").get(f"/api/workflows/{workflow.pk}").status_code == 200


def test_public_link_is_readable_anonymously_until_revoked(workflow, as_role, anon):
    client = as_role("editor")
    response = client.post(f"/api/workflows/{workflow.pk}/share", {"public": True}, format="json")
    assert response.status_code == 200
    url = response.json()["public_url"]
    assert url.startswith("http://testserver/api/public/")
    path = url.removeprefix("http://testserver")
    public = anon.get(path)
    assert public.status_code == 200
    assert public.json()["name"] == "Invert" and public.json()["version"]["graph"] == GRAPH
    assert "workspace" not in public.json() and public.json()["version"]["author"] is None
    assert anon.get(path, HTTP_AUTHORIZATION="Bearer stale").status_code == 200
    revoked = client.post(f"/api/workflows/{workflow.pk}/share", {"public": False}, format="json")
    assert revoked.json() == {"visibility": "team", "public_url": None}
    assert anon.get(path).status_code == 404
    again = client.post(f"/api/workflows/{workflow.pk}/share", {"public": True}, format="json").json()[
        "public_url"
    ]
    assert again != url


def test_share_needs_something_to_change(workflow, as_role):
    response = as_role("owner").post(f"/api/workflows/{workflow.pk}/share", {}, format="json")
    assert response.status_code == 400
    bad = as_role("owner").post(f"/api/workflows/{workflow.pk}/share", {"visibility": "world"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "visibility"


def test_unknown_public_token_answers_404(anon):
    assert anon.get("/api/public/not-a-token").status_code == 404


# Templates


@pytest.fixture
def site_template(db, make_user, alice):
    """A workflow in someone else's personal workspace, published to the site-wide gallery."""
    from backend.workflows.actions import do_create_workflow
    from backend.workflows.documents import parse_document

    author = make_user("curator")
    template = do_create_workflow(author, author.personal_workspace, "Starter", parse_document(GRAPH))
    Workflow.objects.filter(pk=template.pk).update(is_template=True, is_site_template=True)
    return template


def test_templates_gallery_has_team_and_site_templates(team, workflow, site_template, as_role):
    Workflow.objects.filter(pk=workflow.pk).update(is_template=True)
    listed = as_role("viewer").get(f"/api/templates?workspace={team.pk}").json()
    assert [(w["id"], w["is_site_template"]) for w in listed] == [
        (site_template.pk, True),
        (workflow.pk, False),
    ]
    assert [w["id"] for w in as_role("outsider").get("/api/templates").json()] == [site_template.pk]
    assert as_role("outsider").get(f"/api/templates?workspace={team.pk}").status_code == 404


def test_anyone_signed_in_can_view_and_fork_but_not_edit_a_site_template(
    site_template, oscar, client_for, anon
):
    client = client_for(oscar)
    assert client.get(f"/api/workflows/{site_template.pk}").status_code == 200
    assert (
        client.patch(f"/api/workflows/{site_template.pk}", {"name": "mine"}, format="json").status_code == 403
    )
    response = client.post(
        f"/api/workflows/{site_template.pk}/fork", {"workspace": oscar.personal_workspace.pk}, format="json"
    )
    assert response.status_code == 201
    assert anon.get(f"/api/workflows/{site_template.pk}").status_code == 401


# Token clients


def test_token_clients_use_the_same_rules(workflow, as_role):
    assert as_role("viewer", token=True).get(f"/api/workflows/{workflow.pk}").status_code == 200
    body = {"graph": edited_graph()}
    assert (
        as_role("viewer", token=True)
        .post(f"/api/workflows/{workflow.pk}/versions", body, format="json")
        .status_code
        == 403
    )
    assert (
        as_role("editor", token=True)
        .post(f"/api/workflows/{workflow.pk}/versions", body, format="json")
        .status_code
        == 201
    )


def test_session_writes_need_the_csrf_token(workflow, members, team):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(members[Role.EDITOR])
    url = f"/api/workflows/{workflow.pk}/versions"
    assert client.post(url, {"graph": edited_graph()}, format="json").status_code == 403
    csrf = client.get("/api/auth/csrf").json()["csrf_token"]
    response = client.post(url, {"graph": edited_graph()}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201


def test_access_workflow_loads_object_and_role_in_one_query(workflow, members, django_assert_num_queries):
    from backend.accounts.access import access_workflow

    with django_assert_num_queries(1):
        loaded = access_workflow(members[Role.RUNNER], workflow.pk)
    assert loaded.role == Role.RUNNER and loaded.workspace.name == "Studio"


def test_workflow_list_query_count_does_not_grow_with_workflows(
    team, workflow, as_role, django_assert_max_num_queries
):
    from backend.workflows.actions import do_create_workflow
    from backend.workflows.documents import parse_document

    for n in range(5):
        do_create_workflow(workflow.created_by, team, f"w{n}", parse_document(edited_graph(n + 1)))
    client = as_role("viewer")
    with django_assert_max_num_queries(4):  # session, user, workspace access, the list
        assert len(client.get(f"/api/workflows?workspace={team.pk}").json()) == 6
