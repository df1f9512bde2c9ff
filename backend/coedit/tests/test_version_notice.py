"""Every version saved in a workflow (the draft saved, a version posted, a restore) is told to every tab on its
document socket, writers and readers, after the updates stored before it: a tab that compares its graph with the
new version when the notice comes already holds what the version holds (the editor's "unsaved" mark)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import Client

from backend.accounts.roles import Role
from backend.coedit.document import set_widget
from backend.coedit.tests.test_consumer import GRAPH, client_for, in_memory_layer, settle, workflow
from backend.coedit.tests.yclient import YClient

__all__ = ["client_for", "in_memory_layer", "workflow"]  # fixtures shared with test_consumer

pytestmark = pytest.mark.django_db(transaction=True)


def _post(user, path: str, data: dict):
    client = Client()
    client.force_login(user)
    return client.post(path, data, content_type="application/json")


async def until_version_notice(client: YClient) -> tuple[dict[str, Any], str]:
    """Handle what the server sends up to the next ``version_saved`` notice; the notice, and node 1's text as the
    client held it when the notice came."""
    while True:
        message = await client.communicator.receive_output(timeout=10)
        assert message["type"] != "websocket.close", message
        if message.get("text") is None:
            await client._handle(message["bytes"])
            continue
        notice = json.loads(message["text"])
        client.notices.append(notice)
        if notice["type"] == "version_saved":
            return notice, client.document()[0]["nodes"]["1"]["inputs"]["text"]


def test_each_version_saved_is_told_to_every_tab_after_the_content_it_holds(workflow, members, client_for):
    editor, owner = members[Role.EDITOR], members[Role.OWNER]
    base = f"/api/workflows/{workflow.pk}"

    async def scenario():
        writer, reader = client_for(Role.EDITOR, workflow), client_for(Role.VIEWER, workflow)
        await writer.connect()
        await reader.connect()
        seen = []
        set_widget(writer.doc, "1", "text", "drafted")
        await settle(writer, reader)
        saved = await database_sync_to_async(_post)(editor, f"{base}/draft/save", {"message": "draft"})
        assert saved.status_code == 201, saved.content
        seen.append([await until_version_notice(c) for c in (writer, reader)])
        posted_graph = {"nodes": {**GRAPH["nodes"], "1": {"type": "core.Text", "inputs": {"text": "posted"}}}}
        posted = await database_sync_to_async(_post)(owner, f"{base}/versions", {"graph": posted_graph})
        assert posted.status_code == 201, posted.content
        seen.append([await until_version_notice(c) for c in (writer, reader)])
        restored = await database_sync_to_async(_post)(owner, f"{base}/versions/1/restore", {})
        assert restored.status_code == 201, restored.content
        seen.append([await until_version_notice(c) for c in (writer, reader)])
        unchanged = await database_sync_to_async(_post)(editor, f"{base}/draft/save", {})
        assert unchanged.status_code == 200, unchanged.content
        seen.append([await until_version_notice(c) for c in (writer, reader)])
        for c in (writer, reader):
            await c.communicator.disconnect()
        return seen

    seen = async_to_sync(scenario)()
    expected = [
        ({"type": "version_saved", "version": 2, "created": True, "source": "draft"}, "drafted"),
        ({"type": "version_saved", "version": 3, "created": True, "source": "save"}, "posted"),
        ({"type": "version_saved", "version": 4, "created": True, "source": "restore"}, "a cat"),
        ({"type": "version_saved", "version": 4, "created": False, "source": "draft"}, "a cat"),
    ]
    assert seen == [[step, step] for step in expected]
