"""A web process stopped mid-session loses nothing: a client of the next process gets every edit made before."""

from __future__ import annotations

import asyncio

import pytest

from backend.accounts.actions import do_create_token
from backend.accounts.roles import Role
from backend.coedit.document import move_node, set_widget
from backend.coedit.tests.yclient import SocketCommunicator, YClient
from backend.runs.tests.services import daphne_servers
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import canonical_json, parse_document

pytestmark = pytest.mark.django_db(transaction=True)

GRAPH = {"nodes": {"1": {"type": "core.Text", "inputs": {"text": "a cat"}}}}
LAYOUT = {"nodes": {"1": {"x": 0, "y": 0}}}


def test_edits_survive_a_restart_of_the_web_process(team, members, tmp_path):
    workflow = do_create_workflow(members[Role.OWNER], team, "Shared", parse_document(GRAPH, LAYOUT))
    token = do_create_token(members[Role.EDITOR], "coedit")[1]

    def client(base: str) -> YClient:
        url = f"{base.replace('http', 'ws', 1)}/ws/workflows/{workflow.pk}/doc/"
        return YClient(SocketCommunicator(url, {"Authorization": f"Bearer {token}"}))

    async def edit(base: str):
        editor = client(base)
        await editor.connect()
        for n in range(5):
            set_widget(editor.doc, "1", "text", f"edit {n}")
        move_node(editor.doc, "1", 30.0, 40.0)
        await editor.sync()  # stored: the server answered after handling them
        return editor.document()

    async def reopen(base: str):
        reader = client(base)
        await reader.connect()
        await reader.communicator.disconnect()
        return reader.document()

    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    # Both processes start at once (a start is seconds of imports); the second holds nothing of the workflow until
    # a client opens it there, after the first is gone: a restart as far as the draft is concerned.
    with daphne_servers([tmp_path / "first", tmp_path / "second"]) as [(first, process), (second, _)]:
        before = asyncio.run(edit(first))
        process.stop()  # SIGTERM with the socket still open: no compaction on leave
        after = asyncio.run(reopen(second))
    assert before[0]["nodes"]["1"]["inputs"]["text"] == "edit 4"
    assert canonical_json(after) == canonical_json(before)
