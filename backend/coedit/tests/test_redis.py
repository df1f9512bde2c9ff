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
from backend.runs.tests.services import checked_redis_url, daphne_servers
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
    with daphne_servers([tmp_path / "a", tmp_path / "b"], REDIS_URL=redis_url) as [(base_a, _), (base_b, _)]:

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


RUNNABLE = {
    "nodes": {
        "1": {"type": "test.Inc", "inputs": {"value": 0}},
        "show": {"type": "test.Show", "inputs": {"value": ["1", 0]}},
    }
}


def test_a_restore_and_a_run_made_on_one_process_reach_the_other_through_redis(team, members, tmp_path):
    import json

    import httpx
    from websockets.asyncio.client import connect

    redis_url = checked_redis_url()
    workflow = do_create_workflow(
        members[Role.OWNER], team, "Shared", parse_document(RUNNABLE, {"nodes": {}})
    )
    tokens = {role: do_create_token(members[role], "coedit")[1] for role in (Role.OWNER, Role.VIEWER)}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with daphne_servers([tmp_path / "a", tmp_path / "b"], REDIS_URL=redis_url) as [(base_a, _), (base_b, _)]:
        owner_b = {"Authorization": f"Bearer {tokens[Role.OWNER]}"}
        viewer_a = {"Authorization": f"Bearer {tokens[Role.VIEWER]}"}
        ws_a = base_a.replace("http", "ws", 1)

        async def scenario():
            viewer = YClient(SocketCommunicator(f"{ws_a}/ws/workflows/{workflow.pk}/doc/", viewer_a))
            await viewer.connect()
            async with (
                connect(f"{ws_a}/ws/workflows/{workflow.pk}/runs/", additional_headers=viewer_a) as feed,
                httpx.AsyncClient(base_url=base_b, headers=owner_b, timeout=30) as http,
            ):
                changed = {
                    **RUNNABLE,
                    "nodes": {**RUNNABLE["nodes"], "1": {"type": "test.Inc", "inputs": {"value": 5}}},
                }
                saved = await http.post(f"/api/workflows/{workflow.pk}/versions", json={"graph": changed})
                assert saved.status_code == 201, saved.text
                for _ in range(150):  # the reset comes from process b through Redis
                    await viewer.pump(0.1)
                    if viewer.document()[0]["nodes"]["1"]["inputs"]["value"] == 5:
                        break
                after_save = viewer.document()[0]["nodes"]["1"]["inputs"]["value"]
                run = await http.post("/api/runs", json={"workflow": workflow.pk})
                assert run.status_code == 201, run.text
                announced = json.loads(await asyncio.wait_for(feed.recv(), 10))
            await viewer.communicator.disconnect()
            return after_save, run.json()["id"], announced

        after_save, run_id, announced = asyncio.run(scenario())
    assert after_save == 5
    assert announced["type"] == "run" and announced["run"]["id"] == run_id


def test_a_late_joiner_on_the_other_process_is_told_of_an_unfinished_raw_graph_run(team, members, tmp_path):
    """The editor on process b queues a raw-graph run and shares it (its own feed open there); a member joining on
    process a, whose feeds never saw it go by, is told of it while it runs: from the database."""
    import json

    import httpx
    from websockets.asyncio.client import connect

    redis_url = checked_redis_url()
    workflow = do_create_workflow(
        members[Role.OWNER], team, "Shared", parse_document(RUNNABLE, {"nodes": {}})
    )
    # A raw graph (not the workflow's) that runs for about 30 s: unfinished while the test looks.
    slow = {
        "nodes": {
            "1": {"type": "test.Slow", "inputs": {"steps": 1500, "step_seconds": 0.02}},
            "show": {"type": "test.Show", "inputs": {"value": ["1", 0]}},
        }
    }
    tokens = {role: do_create_token(members[role], "coedit")[1] for role in (Role.EDITOR, Role.VIEWER)}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with daphne_servers([tmp_path / "a", tmp_path / "b"], REDIS_URL=redis_url) as [(base_a, _), (base_b, _)]:
        editor_b = {"Authorization": f"Bearer {tokens[Role.EDITOR]}"}
        viewer_a = {"Authorization": f"Bearer {tokens[Role.VIEWER]}"}
        runs_path = f"/ws/workflows/{workflow.pk}/runs/"

        async def scenario():
            async with (
                connect(base_b.replace("http", "ws", 1) + runs_path, additional_headers=editor_b) as own,
                httpx.AsyncClient(base_url=base_b, headers=editor_b, timeout=30) as http,
            ):
                queued = await http.post("/api/runs", json={"workspace": team.pk, "graph": slow})
                assert queued.status_code == 201, queued.text
                run_id = queued.json()["id"]
                shared = await http.post(f"/api/workflows/{workflow.pk}/shared-runs", json={"run": run_id})
                assert shared.status_code == 204, shared.text
                on_b = json.loads(await asyncio.wait_for(own.recv(), 10))
                async with connect(
                    base_a.replace("http", "ws", 1) + runs_path, additional_headers=viewer_a
                ) as late:
                    on_a = json.loads(await asyncio.wait_for(late.recv(), 10))
                await http.post(f"/api/runs/{run_id}/cancel")
            return run_id, on_b, on_a

        run_id, on_b, on_a = asyncio.run(scenario())
    assert on_b["run"]["id"] == run_id
    assert on_a == {"type": "run", "run": on_b["run"]}
    assert on_a["run"]["workflow"] is None
