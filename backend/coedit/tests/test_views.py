"""The draft over HTTP: reading it, and saving it as a version that versions, diff, restore and fork use."""

from __future__ import annotations

import pytest
from pycrdt import Array, Map

from backend.accounts.roles import Role
from backend.coedit import store
from backend.coedit.document import roots, set_widget
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import parse_document

pytestmark = pytest.mark.django_db

GRAPH = {"nodes": {"1": {"type": "core.Text", "inputs": {"text": "a cat"}}}}
LAYOUT = {"nodes": {"1": {"x": 0, "y": 0}}}


@pytest.fixture
def workflow(team, members):
    return do_create_workflow(members[Role.OWNER], team, "Shared", parse_document(GRAPH, LAYOUT))


def co_edit(workflow, change) -> None:
    """Store one update as a co-editor's socket would."""
    doc = store.draft_doc(workflow.pk)
    before = doc.get_state()
    change(doc)
    store.append_update(workflow.pk, None, doc.get_update(before))


def test_members_read_the_draft_and_outsiders_get_404(workflow, as_role):
    co_edit(workflow, lambda doc: set_widget(doc, "1", "text", "a dog"))
    for role in ("owner", "editor", "runner", "viewer"):
        response = as_role(role).get(f"/api/workflows/{workflow.pk}/draft")
        assert response.status_code == 200, role
        assert response.json()["graph"]["nodes"]["1"]["inputs"]["text"] == "a dog"
        assert response.json()["base_version"] == 1
    assert as_role("outsider").get(f"/api/workflows/{workflow.pk}/draft").status_code == 404


def test_saving_the_draft_makes_the_next_version_that_diff_restore_and_fork_use(workflow, as_role):
    editor = as_role("editor")
    co_edit(workflow, lambda doc: set_widget(doc, "1", "text", "a dog"))
    response = editor.post(
        f"/api/workflows/{workflow.pk}/draft/save", {"message": "from the draft"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["number"] == 2
    assert response.json()["graph"]["nodes"]["1"]["inputs"]["text"] == "a dog"
    again = editor.post(f"/api/workflows/{workflow.pk}/draft/save", {}, format="json")
    assert again.status_code == 200 and again.json()["number"] == 2
    diff = editor.get(f"/api/workflows/{workflow.pk}/diff?from=1&to=2").json()
    assert diff["changed"] == [{"node": "1", "inputs": ["text"]}]
    assert editor.post(f"/api/workflows/{workflow.pk}/versions/1/restore").status_code == 201
    body = {"name": "Copy", "workspace": workflow.workspace_id}
    fork = editor.post(f"/api/workflows/{workflow.pk}/fork", body, format="json")
    assert fork.status_code == 201, fork.json()


def test_readers_cannot_save_the_draft_and_outsiders_get_404(workflow, as_role):
    for role, code in (("viewer", 403), ("runner", 403), ("outsider", 404)):
        response = as_role(role).post(f"/api/workflows/{workflow.pk}/draft/save", {}, format="json")
        assert response.status_code == code, role
    assert workflow.versions.count() == 1


def test_an_invalid_draft_is_refused_naming_the_field(workflow, as_role):
    def expose_missing_node(doc):
        app = roots(doc)["app"]
        app["inputs"] = Array([Map({"name": '"x"', "node": '"9"', "input": '"text"'})])
        app["outputs"] = Array([])

    co_edit(workflow, expose_missing_node)
    response = as_role("editor").post(f"/api/workflows/{workflow.pk}/draft/save", {}, format="json")
    assert response.status_code == 400
    assert "layout.app.inputs.0.node" in str(response.json())
    too_long = as_role("editor").post(
        f"/api/workflows/{workflow.pk}/draft/save", {"message": "m" * 501}, format="json"
    )
    assert too_long.status_code == 400 and "message" in str(too_long.json())
