"""A restore, or a version saved through the old path (``POST .../versions``), resets the draft for everyone
connected: they receive the change as an ordinary update, and no later draft save brings the old content back."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import Client
from pycrdt import Array, Map

from backend.accounts.roles import Role
from backend.coedit import store
from backend.coedit.document import doc_from_document, document_from_doc, move_node, roots, set_widget
from backend.coedit.models import DraftUpdate
from backend.coedit.reset import reset_doc
from backend.coedit.tests.test_consumer import GRAPH, LAYOUT, client_for, in_memory_layer, settle, workflow
from backend.workflows.documents import canonical_json, parse_document

__all__ = ["client_for", "in_memory_layer", "workflow"]  # fixtures shared with test_consumer

pytestmark = pytest.mark.django_db(transaction=True)

V2_GRAPH = {
    "nodes": {
        "1": {"type": "core.Text", "inputs": {"text": "version two"}},
        "3": {"type": "core.Text", "inputs": {"text": "a bird"}},
    },
    "outputs": ["3"],
}
V2_LAYOUT = {
    "nodes": {"1": {"x": 10, "y": 20, "title": "First"}, "3": {"x": 400, "y": 0}},
    "groups": [{"id": "g1", "title": "Birds", "x": 0, "y": 0, "width": 100, "height": 100}],
    "notes": [{"id": "n1", "text": "hello", "x": 1, "y": 2}],
}


def as_json(document) -> bytes:
    return canonical_json(document)


def test_reset_doc_turns_any_draft_into_the_version_and_changes_nothing_twice():
    doc = doc_from_document(V2_GRAPH, V2_LAYOUT)
    set_widget(doc, "1", "text", "edited")
    move_node(doc, "3", 5.0, 6.0)
    parts = roots(doc)
    parts["nodes"]["9"] = Map({"type": '"core.Text"', "inputs": Map({"text": '"added"'})})
    del parts["nodes"]["1"]["inputs"]["text"]
    parts["groups"].append(Map({"title": '"another"'}))
    parts["app"]["inputs"] = Array([Map({"node": '"1"'})])
    parts["meta"]["viewport"] = '{"x":1,"y":2,"zoom":1}'

    assert reset_doc(doc, GRAPH, LAYOUT) is not None
    assert as_json(document_from_doc(doc)) == as_json(document_from_doc(doc_from_document(GRAPH, LAYOUT)))
    assert reset_doc(doc, GRAPH, LAYOUT) is None
    assert reset_doc(doc, V2_GRAPH, V2_LAYOUT) is not None
    assert as_json(document_from_doc(doc)) == as_json(
        document_from_doc(doc_from_document(V2_GRAPH, V2_LAYOUT))
    )


def test_the_reset_merges_into_a_copy_that_missed_it():
    """An offline copy's own later edit survives on top of the reset; the reset's deletions stand."""
    server = doc_from_document(GRAPH, LAYOUT)
    offline = doc_from_document(GRAPH, LAYOUT)
    offline.apply_update(server.get_update())  # the same document, as a client that synced once
    server.apply_update(offline.get_update())
    update = reset_doc(server, V2_GRAPH, V2_LAYOUT)
    assert update is not None
    with offline.transaction():
        roots(offline)["nodes"]["1"]["width"] = "320"  # a key the reset does not touch
    set_widget(offline, "2", "text", "edited while away")  # node 2 is gone after the reset
    offline.apply_update(update)
    server.apply_update(offline.get_update())
    graph, layout = document_from_doc(server)
    assert graph["nodes"]["1"]["inputs"] == {"text": "version two"}
    assert (layout["nodes"]["1"]["x"], layout["nodes"]["1"]["width"]) == (10, 320)
    assert "2" not in graph["nodes"]
    assert as_json(document_from_doc(offline)) == as_json(document_from_doc(server))


async def pump_until(clients, check, seconds: float = 15) -> None:
    """Take in what the server sends until ``check(client)`` holds for every client (or time is up: the
    assertions after it say what differs)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(check(c) for c in clients):
        for c in clients:
            await c.pump(0.05)


def _post(user, path: str, data: dict | None = None):
    client = Client()
    client.force_login(user)
    return client.post(path, data or {}, content_type="application/json")


def test_a_restore_and_an_old_path_save_reset_the_draft_for_everyone_connected(workflow, members, client_for):
    owner, editor = members[Role.OWNER], members[Role.EDITOR]
    base = f"/api/workflows/{workflow.pk}"

    async def scenario():
        a, b, reader = (client_for(r, workflow) for r in (Role.OWNER, Role.EDITOR, Role.VIEWER))
        for c in (a, b, reader):
            await c.connect()
        set_widget(a.doc, "1", "text", "draft edit")
        move_node(b.doc, "2", 300.0, 40.0)
        await settle(a, b, reader)
        edited = reader.document()

        # Version 2 through the old path: every copy becomes it.
        saved = await database_sync_to_async(_post)(
            editor, f"{base}/versions", {"graph": V2_GRAPH, "layout": V2_LAYOUT, "message": "old client"}
        )
        assert saved.status_code == 201, saved.content
        await pump_until((a, b, reader), lambda c: "3" in c.document()[0]["nodes"])
        after_save = [c.document() for c in (a, b, reader)]

        # Restore version 1: every copy goes back to it, live.
        restored = await database_sync_to_async(_post)(owner, f"{base}/versions/1/restore")
        assert restored.status_code == 201, restored.content
        await pump_until((a, b, reader), lambda c: "2" in c.document()[0]["nodes"])
        after_restore = [c.document() for c in (a, b, reader)]

        # A later edit and a draft save keep the restored content: nothing brings the draft edits back.
        set_widget(b.doc, "2", "text", "after the restore")
        await settle(a, b, reader)
        updates_before_save = await database_sync_to_async(DraftUpdate.objects.count)()
        saved_draft = await database_sync_to_async(_post)(owner, f"{base}/draft/save", {"message": "draft"})
        assert saved_draft.status_code == 201, saved_draft.content
        await a.pump(0.3)
        updates_after_save = await database_sync_to_async(DraftUpdate.objects.count)()
        for c in (a, b, reader):
            await c.communicator.disconnect()
        return edited, after_save, after_restore, saved_draft.json(), updates_before_save, updates_after_save

    edited, after_save, after_restore, draft_version, before, after = async_to_sync(scenario)()
    assert edited[0]["nodes"]["1"]["inputs"]["text"] == "draft edit"
    v2 = parse_document(V2_GRAPH, V2_LAYOUT).content_hash
    assert [parse_document(*d).content_hash for d in after_save] == [v2] * 3
    v1 = parse_document(GRAPH, LAYOUT).content_hash
    assert [parse_document(*d).content_hash for d in after_restore] == [v1] * 3
    assert parse_document(*store.draft_document(workflow.pk)).content_hash != v1  # the later edit
    graph = draft_version["graph"]
    assert graph["nodes"]["1"]["inputs"]["text"] == "a cat"  # not "draft edit"
    assert graph["nodes"]["2"]["inputs"]["text"] == "after the restore"
    assert draft_version["layout"]["nodes"]["2"] == {"x": 200, "y": 0}  # the draft's move was reset
    assert (draft_version["number"], before) == (
        4,
        after,
    )  # the draft's own save changed the draft in nothing


def test_a_save_that_changes_nothing_leaves_the_draft_and_no_draft_means_nothing_to_reset(
    workflow, members, client_for
):
    owner = members[Role.OWNER]
    base = f"/api/workflows/{workflow.pk}"
    # Nobody co-edited yet: a new version makes no draft (the first co-editor starts from the latest version).
    assert _post(owner, f"{base}/versions", {"graph": V2_GRAPH, "layout": V2_LAYOUT}).status_code == 201
    assert not DraftUpdate.objects.filter(workflow=workflow).exists()
    assert store.draft_document(workflow.pk)[0]["nodes"]["3"]["inputs"]["text"] == "a bird"

    async def scenario():
        a = client_for(Role.OWNER, workflow)
        await a.connect()
        set_widget(a.doc, "1", "text", "unsaved")
        await settle(a)
        again = await database_sync_to_async(_post)(
            owner, f"{base}/versions", {"graph": V2_GRAPH, "layout": V2_LAYOUT}
        )
        await a.pump(0.3)
        await a.communicator.disconnect()
        return again.status_code, a.document()

    status, (graph, _) = async_to_sync(scenario)()
    assert status == 200
    assert graph["nodes"]["1"]["inputs"]["text"] == "unsaved"
    # A reset would have been stored before the answer: the draft in the database says the same.
    assert store.draft_document(workflow.pk)[0]["nodes"]["1"]["inputs"]["text"] == "unsaved"
