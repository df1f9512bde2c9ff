"""The co-editing socket with two and three Yjs clients (pycrdt) over the real consumer: convergence, read-only
members, persistence across a restart, compaction, access, and removed members disconnected at once."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from backend.accounts.actions import do_remove_member
from backend.accounts.roles import Role
from backend.asgi import websocket_application
from backend.coedit import rooms, store
from backend.coedit.document import move_node, set_widget
from backend.coedit.models import DraftSnapshot, DraftUpdate
from backend.coedit.tests.yclient import YClient
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import canonical_json, parse_document

pytestmark = pytest.mark.django_db(transaction=True)

APP = websocket_application()
GRAPH = {
    "nodes": {
        "1": {"type": "core.Text", "inputs": {"text": "a cat"}},
        "2": {"type": "core.Text", "inputs": {"text": "a dog"}},
    }
}
LAYOUT = {"nodes": {"1": {"x": 0, "y": 0}, "2": {"x": 200, "y": 0}}}


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "backend.core.live.LocalChannelLayer"}}


@pytest.fixture
def workflow(team, members):
    return do_create_workflow(members[Role.OWNER], team, "Shared", parse_document(GRAPH, LAYOUT))


def headers_for(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return [(b"cookie", f"{name}={client.cookies[name].value}".encode())]


@pytest.fixture
def client_for(members):
    """A YClient factory by role (session cookies made here: not from inside the event loop)."""
    cookies = {role: headers_for(user) for role, user in members.items()}

    def make(role: Role, workflow) -> YClient:
        path = f"/ws/workflows/{workflow.pk}/doc/"
        return YClient(WebsocketCommunicator(APP, path, headers=cookies[role]))

    return make


async def settle(*clients: YClient) -> None:
    """Send every client's edits, wait until the server handled them, then take in what the others sent."""
    for client in clients:
        await client.sync()
    for client in clients:
        await client.pump(0.2)


def same(*clients: YClient) -> bool:
    return len({canonical_json(client.document()) for client in clients}) == 1


def test_two_and_three_editors_converge_on_concurrent_edits(workflow, members, client_for):
    async def scenario():
        owner, editor, admin = (client_for(r, workflow) for r in (Role.OWNER, Role.EDITOR, Role.ADMIN))
        welcomes = [await c.connect() for c in (owner, editor)]
        assert [w["can_write"] for w in welcomes] == [True, True]
        assert owner.document()[0]["nodes"]["1"]["inputs"]["text"] == "a cat"
        set_widget(owner.doc, "1", "text", "a red cat")
        set_widget(editor.doc, "2", "text", "a blue dog")
        await settle(owner, editor)
        assert same(owner, editor)
        await admin.connect()  # a late joiner gets the current state
        set_widget(owner.doc, "1", "text", "owner's")
        set_widget(editor.doc, "1", "text", "editor's")
        move_node(admin.doc, "1", 40.0, 50.0)
        await settle(owner, editor, admin)
        for c in (owner, editor, admin):
            await c.communicator.disconnect()
        return owner.document(), same(owner, editor, admin)

    (graph, layout), converged = async_to_sync(scenario)()
    assert converged
    assert graph["nodes"]["2"]["inputs"]["text"] == "a blue dog"
    assert graph["nodes"]["1"]["inputs"]["text"] in ("owner's", "editor's")
    assert layout["nodes"]["1"]["x"] == 40.0
    assert canonical_json(store.draft_document(workflow.pk)) == canonical_json((graph, layout))


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RUNNER])
def test_a_reader_sees_live_changes_but_its_updates_are_dropped(workflow, members, role, client_for):
    async def scenario():
        editor, reader = client_for(Role.EDITOR, workflow), client_for(role, workflow)
        await editor.connect()
        welcome = await reader.connect()
        set_widget(editor.doc, "1", "text", "by the editor")
        await settle(editor, reader)
        seen = reader.document()[0]["nodes"]["1"]["inputs"]["text"]
        set_widget(reader.doc, "2", "text", "by the reader")
        await settle(reader, editor)
        await editor.communicator.disconnect()
        await reader.communicator.disconnect()
        return welcome, seen, editor.document(), reader.notices

    welcome, seen, (graph, _), notices = async_to_sync(scenario)()
    assert welcome["can_write"] is False
    assert seen == "by the editor"
    assert graph["nodes"]["2"]["inputs"]["text"] == "a dog"
    assert store.draft_document(workflow.pk)[0]["nodes"]["2"]["inputs"]["text"] == "a dog"
    assert [n["type"] for n in notices] == ["welcome", "read_only"]


def test_the_draft_survives_a_restart_and_compaction(workflow, members, monkeypatch, client_for):
    monkeypatch.setattr(rooms, "COMPACT_EVERY", 5)

    async def session(edits: int, start: int):
        editor = client_for(Role.EDITOR, workflow)
        await editor.connect()
        before = editor.document()
        for n in range(start, start + edits):
            set_widget(editor.doc, "1", "text", f"edit {n}")
            await editor.flush()
        await editor.sync()
        room = rooms.rooms_here()[workflow.pk]
        rooms.rooms_here().clear()  # a "restart": the next socket loads the room from the database
        room.sockets.clear()
        assert room.catching_up is not None
        room.catching_up.cancel()
        return before, editor

    before, first = async_to_sync(session)(7, 0)
    assert before[0]["nodes"]["1"]["inputs"]["text"] == "a cat"
    assert DraftSnapshot.objects.get(workflow=workflow).updates_merged == 5
    assert DraftUpdate.objects.filter(workflow=workflow).count() == 2
    again, _ = async_to_sync(session)(1, 7)
    assert again[0]["nodes"]["1"]["inputs"]["text"] == "edit 6"
    assert store.draft_document(workflow.pk)[0]["nodes"]["1"]["inputs"]["text"] == "edit 7"
    assert store.compact(workflow.pk) == 3
    assert store.draft_document(workflow.pk)[0]["nodes"]["1"]["inputs"]["text"] == "edit 7"


def test_outsiders_anonymous_and_missing_workflows_are_closed(workflow, oscar):
    async def code(path: str, headers) -> int:
        communicator = WebsocketCommunicator(APP, path, headers=headers)
        await communicator.connect(timeout=5)
        message = await communicator.receive_output(timeout=5)
        assert message["type"] == "websocket.close"
        return message["code"]

    assert async_to_sync(code)(f"/ws/workflows/{workflow.pk}/doc/", headers_for(oscar)) == 4404
    assert async_to_sync(code)(f"/ws/workflows/{workflow.pk}/doc/", []) == 4401
    assert async_to_sync(code)(f"/ws/workflows/{workflow.pk + 999}/doc/", headers_for(oscar)) == 4404


def test_a_removed_member_is_disconnected_at_once_and_a_demoted_one_becomes_read_only(
    team, workflow, members, client_for
):
    from backend.accounts.actions import do_change_role

    owner = members[Role.OWNER]

    async def scenario():
        from channels.db import database_sync_to_async

        editor, admin, stays = (client_for(r, workflow) for r in (Role.EDITOR, Role.ADMIN, Role.VIEWER))
        for c in (editor, admin, stays):
            await c.connect()
        await database_sync_to_async(do_remove_member)(team, owner, Role.OWNER, members[Role.EDITOR].pk)
        await editor.pump(0.5)
        await database_sync_to_async(do_change_role)(
            team, owner, Role.OWNER, members[Role.ADMIN].pk, Role.VIEWER
        )
        await admin.pump(0.5)
        await stays.pump(0.2)
        set_widget(admin.doc, "1", "text", "after demotion")
        await settle(admin)
        for c in (admin, stays):
            await c.communicator.disconnect()
        return editor.closed, admin.notices, stays.closed

    editor_code, admin_notices, stays_code = async_to_sync(scenario)()
    assert editor_code == 4404
    assert stays_code is None
    assert [n["type"] for n in admin_notices] == ["welcome", "access_changed", "read_only"]
    assert store.draft_document(workflow.pk)[0]["nodes"]["1"]["inputs"]["text"] == "a cat"


def test_presence_carries_the_real_user_and_clears_when_they_leave(workflow, members, client_for):
    async def scenario():
        editor, viewer = client_for(Role.EDITOR, workflow), client_for(Role.VIEWER, workflow)
        await editor.connect()
        await viewer.connect()
        await editor.announce(
            4242, 1, {"user": {"id": 1, "name": "someone else", "color": "#f00"}, "cursor": [1, 2]}
        )
        await viewer.pump(0.2)
        shown = dict(viewer.awareness)
        await editor.communicator.disconnect()
        await viewer.pump(0.2)
        await viewer.communicator.disconnect()
        return shown, viewer.awareness

    shown, after = async_to_sync(scenario)()
    eddie = [m for r, m in members.items() if r == Role.EDITOR][0]
    assert shown[4242]["user"] == {"id": eddie.pk, "name": eddie.username, "color": "#f00"}
    assert shown[4242]["cursor"] == [1, 2]
    assert after[4242] is None


def test_a_room_catches_up_on_an_update_whose_group_message_it_missed(workflow, members, client_for):
    async def scenario():
        from channels.db import database_sync_to_async

        editor, viewer = client_for(Role.EDITOR, workflow), client_for(Role.VIEWER, workflow)
        await editor.connect()
        await viewer.connect()
        room = rooms.rooms_here()[workflow.pk]

        def stored_elsewhere() -> None:
            # Another process stored this update; its message over Redis never arrived here.
            doc = store.draft_doc(workflow.pk)
            before = doc.get_state()
            set_widget(doc, "2", "text", "from a process whose message was lost")
            store.append_update(workflow.pk, None, doc.get_update(before))
            store.compact(workflow.pk)  # and folded into the snapshot there

        await database_sync_to_async(stored_elsewhere)()
        changes = await room.catch_up()
        await viewer.pump(0.2)
        again = await room.catch_up()
        for c in (editor, viewer):
            await c.communicator.disconnect()
        return changes, again, viewer.document()

    changes, again, (graph, _) = async_to_sync(scenario)()
    assert changes == 1 and again == 0
    assert graph["nodes"]["2"]["inputs"]["text"] == "from a process whose message was lost"
