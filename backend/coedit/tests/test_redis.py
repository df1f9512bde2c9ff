"""Co-editing across two web processes (daphne) on Redis: each process holds its own copy of the draft, and
updates cross through the channel layer group; a viewer on either process sees every change."""

from __future__ import annotations

import asyncio

import pytest

from backend.accounts.actions import do_create_token
from backend.accounts.roles import Role
from backend.coedit import store
from backend.coedit.document import move_node, set_widget
from backend.coedit.tests.yclient import SocketCommunicator, YClient
from backend.runs.tests.services import checked_redis_url, daphne_server
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import canonical_json, parse_document

pytestmark = pytest.mark.django_db(transaction=True)

GRAPH = {"nodes": {"1": {"type": "core.Text", "inputs": {"text": "a cat"}}}}
LAYOUT = {"nodes": {"1": {"x": 0, "y": 0}}}


def test_editors_on_two_web_processes_converge_through_redis(team, members, tmp_path):
    redis_url = checked_redis_url()
    workflow = do_create_workflow(members[Role.OWNER], team, "Shared", parse_document(GRAPH, LAYOUT))
    tokens = {
        role: do_create_token(members[role], "coedit")[1] for role in (Role.OWNER, Role.EDITOR, Role.VIEWER)
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        daphne_server(tmp_path / "a", REDIS_URL=redis_url) as (base_a, _),
        daphne_server(tmp_path / "b", REDIS_URL=redis_url) as (base_b, _),
    ):

        def client(base: str, role: Role) -> YClient:
            url = f"{base.replace('http', 'ws', 1)}/ws/workflows/{workflow.pk}/doc/"
            return YClient(SocketCommunicator(url, {"Authorization": f"Bearer {tokens[role]}"}))

        async def scenario():
            owner, editor, viewer = (
                client(base_a, Role.OWNER),
                client(base_b, Role.EDITOR),
                client(base_a, Role.VIEWER),
            )
            for c in (owner, editor, viewer):
                await c.connect()
            set_widget(owner.doc, "1", "text", "from process a")
            move_node(editor.doc, "1", 10.0, 20.0)
            for c in (owner, editor):
                await c.sync()
            for _ in range(20):  # the other process's changes come through Redis
                for c in (owner, editor, viewer):
                    await c.pump(0.1)
                if len({canonical_json(c.document()) for c in (owner, editor, viewer)}) == 1:
                    break
            documents = [c.document() for c in (owner, editor, viewer)]
            for c in (owner, editor, viewer):
                await c.communicator.disconnect()
            return documents

        documents = asyncio.run(scenario())
    assert canonical_json(documents[0]) == canonical_json(documents[1]) == canonical_json(documents[2])
    graph, layout = documents[0]
    assert graph["nodes"]["1"]["inputs"]["text"] == "from process a"
    assert layout["nodes"]["1"]["x"] == 10.0
    assert canonical_json(store.draft_document(workflow.pk)) == canonical_json(documents[0])
