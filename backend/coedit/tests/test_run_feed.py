"""``ws/workflows/<id>/runs/``: a run queued in a workflow reaches every open editor of it who may read its runs
(owner, team members of any role), never an outsider; a raw-graph run reaches them when its starter shares it."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from backend.accounts.actions import do_remove_member
from backend.accounts.roles import Role
from backend.asgi import websocket_application
from backend.coedit.tests.test_consumer import GRAPH, headers_for, in_memory_layer, workflow
from backend.runs.models import Run
from backend.workflows.actions import do_create_workflow
from backend.workflows.documents import parse_document

__all__ = ["in_memory_layer", "workflow"]  # fixtures shared with test_consumer

pytestmark = pytest.mark.django_db(transaction=True)

APP = websocket_application()
IMAGE_GRAPH = {
    "nodes": {
        "1": {"type": "EmptyImage", "inputs": {"width": 8, "height": 4, "batch_size": 1, "color": 0x102030}},
        "2": {"type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
}


@pytest.fixture
def runnable(settings, tmp_path, team, members):
    """A workflow of the team that runs (on the embedded dispatcher, its blobs in a temporary folder)."""
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    settings.FLOWYARD_DISPATCHER = "local"
    document = parse_document(IMAGE_GRAPH, {"nodes": {}, "groups": []})
    yield do_create_workflow(members[Role.OWNER], team, "Invert", document)


@pytest.fixture
def feed_for(members, oscar):
    cookies = {role: headers_for(user) for role, user in members.items()}
    cookies["outsider"] = headers_for(oscar)

    def make(who, workflow) -> WebsocketCommunicator:
        return WebsocketCommunicator(APP, f"/ws/workflows/{workflow.pk}/runs/", headers=cookies[who])

    return make


async def frames(feed: WebsocketCommunicator, at_least: int = 0, quiet: float = 0.3) -> list[dict]:
    """The next ``at_least`` frames (waited for), then what the feed sent until it was quiet for ``quiet``
    seconds; a close as ``{"close": code}``, after which nothing more is read."""
    out: list[dict] = []
    while len(out) < at_least or not await feed.receive_nothing(timeout=quiet):
        message = await feed.receive_output(timeout=10)
        if message["type"] == "websocket.close":
            out.append({"close": message.get("code")})
            return out
        out.append(json.loads(message["text"]))
    return out


async def joined(workflow_id: int, sockets: int) -> None:
    """Wait until ``sockets`` feeds of the workflow are in its group (the in-memory layer's groups), so that what
    is published next reaches them: the handshake is accepted before access is checked and the group joined."""
    import asyncio

    from channels.layers import get_channel_layer

    from backend.coedit.run_feed import runs_group

    layer = get_channel_layer()
    for _ in range(500):
        if len(layer.groups.get(runs_group(workflow_id), {})) >= sockets:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{sockets} feeds did not join within 10 s")


def _post(user, path: str, data: dict):
    client = Client()
    client.force_login(user)
    return client.post(path, data, content_type="application/json")


def test_a_run_of_the_workflow_reaches_every_member_in_it_and_no_outsider(runnable, members, feed_for):
    editor, workflow = members[Role.EDITOR], runnable

    async def scenario():
        feeds = {who: feed_for(who, workflow) for who in (Role.OWNER, Role.VIEWER, Role.RUNNER, "outsider")}
        for feed in feeds.values():
            assert (await feed.connect(timeout=5))[0]
        outsider = await frames(feeds.pop("outsider"), 1)
        await joined(workflow.pk, len(feeds))
        answer = await database_sync_to_async(_post)(
            editor, "/api/runs", {"workflow": workflow.pk, "version": 1}
        )
        assert answer.status_code == 201, answer.content
        seen = {who: await frames(feed, 1) for who, feed in feeds.items()}
        for feed in feeds.values():
            await feed.disconnect()
        return outsider, answer.json()["id"], seen

    outsider, run_id, seen = async_to_sync(scenario)()
    assert outsider == [{"close": 4404}]
    for who, got in seen.items():
        runs = [f["run"] for f in got if f.get("type") == "run"]
        assert [r["id"] for r in runs] == [run_id], who
        assert runs[0]["created_by"] == {"id": editor.pk, "name": editor.username}
        assert runs[0]["workflow"] == workflow.pk


def test_a_late_joiner_is_told_of_the_unfinished_runs_and_a_removed_member_is_closed(
    team, workflow, members, feed_for
):
    owner = members[Role.OWNER]
    Run.objects.create(  # finished: not told
        workspace=team, workflow=workflow, graph=GRAPH, created_by=owner, status=Run.Status.SUCCEEDED
    )
    waiting = Run.objects.create(workspace=team, workflow=workflow, graph=GRAPH, created_by=owner)
    Run.objects.create(workspace=team, graph=GRAPH, created_by=owner)  # a raw-graph run: not told

    async def scenario():
        viewer = feed_for(Role.VIEWER, workflow)
        assert (await viewer.connect(timeout=5))[0]
        first = await frames(viewer, 1)
        await database_sync_to_async(do_remove_member)(team, owner, Role.OWNER, members[Role.VIEWER].pk)
        return first, await frames(viewer, 1)

    first, after = async_to_sync(scenario)()
    assert [f["run"]["id"] for f in first] == [str(waiting.pk)]
    assert after == [{"close": 4404}]


def test_a_raw_graph_run_is_shared_by_its_starter_only_and_only_within_the_workspace(
    team, workflow, members, feed_for, make_user
):
    from backend.accounts.actions import do_create_team

    editor, owner = members[Role.EDITOR], members[Role.OWNER]
    raw = Run.objects.create(workspace=team, graph=GRAPH, created_by=editor)
    someone_elses = Run.objects.create(workspace=team, graph=GRAPH, created_by=owner)
    other_team = do_create_team(editor, "Elsewhere")
    other_workspace = Run.objects.create(workspace=other_team, graph=GRAPH, created_by=editor)
    path = f"/api/workflows/{workflow.pk}/shared-runs"
    olga = make_user("olga")

    async def scenario():
        viewer = feed_for(Role.VIEWER, workflow)
        assert (await viewer.connect(timeout=5))[0]
        await joined(workflow.pk, 1)
        statuses = []
        for run in (someone_elses, other_workspace, raw):
            answer = await database_sync_to_async(_post)(editor, path, {"run": str(run.pk)})
            statuses.append(answer.status_code)
        outsider = await database_sync_to_async(_post)(olga, path, {"run": str(raw.pk)})
        got = await frames(viewer, 1)
        # A late joiner is told of the shared run while it is unfinished, not after.
        late = feed_for(Role.RUNNER, workflow)
        assert (await late.connect(timeout=5))[0]
        told = await frames(late, 1)
        await late.disconnect()
        await database_sync_to_async(Run.objects.filter(pk=raw.pk).update)(status=Run.Status.SUCCEEDED)
        later = feed_for(Role.RUNNER, workflow)
        assert (await later.connect(timeout=5))[0]
        await joined(workflow.pk, 2)
        told_later = await frames(later, quiet=1.0)  # the finished run is not named
        await later.disconnect()
        await viewer.disconnect()
        return statuses, outsider.status_code, got, told, told_later

    statuses, outsider, got, told, told_later = async_to_sync(scenario)()
    assert statuses == [404, 404, 204]
    assert outsider == 404
    assert [(f["run"]["id"], f["run"]["workflow"]) for f in got] == [(str(raw.pk), None)]
    assert [f["run"]["id"] for f in told] == [str(raw.pk)]
    assert told_later == []


def test_a_private_workflows_runs_reach_only_those_who_may_see_it(team, members, feed_for):
    document = parse_document(GRAPH, {"nodes": {}})
    private = do_create_workflow(members[Role.EDITOR], team, "Eddie's", document, visibility="private")

    async def scenario():
        codes = {}
        for who in (Role.EDITOR, Role.OWNER, Role.VIEWER, Role.RUNNER):
            feed = feed_for(who, private)
            assert (await feed.connect(timeout=5))[0]
            refused = who in (Role.VIEWER, Role.RUNNER)
            got = await frames(feed, at_least=1 if refused else 0, quiet=0.5)
            codes[who] = got[-1].get("close") if got else None
            await feed.disconnect()
        return codes

    codes = async_to_sync(scenario)()
    # As for each of its runs (access_run): its author and the team's owners and admins see it, not the others.
    assert codes == {Role.EDITOR: None, Role.OWNER: None, Role.VIEWER: 4404, Role.RUNNER: 4404}


def test_a_shared_raw_graph_run_is_stored_and_told_to_the_members_who_join_later_not_to_outsiders(
    team, workflow, members, feed_for
):
    """The share is read from the database on connect: no feed was open when it was shared (no process saw it go
    by), and the owner and a team member joining later are told of it; an outsider is closed."""
    from backend.coedit.models import SharedRun

    editor = members[Role.EDITOR]
    raw = Run.objects.create(workspace=team, graph=GRAPH, created_by=editor)
    answer = _post(editor, f"/api/workflows/{workflow.pk}/shared-runs", {"run": str(raw.pk)})
    assert answer.status_code == 204, answer.content
    share = SharedRun.objects.get(run=raw)
    assert (share.workflow_id, share.shared_by_id) == (workflow.pk, editor.pk)

    async def scenario():
        told = {}
        for who in (Role.OWNER, Role.VIEWER, "outsider"):
            feed = feed_for(who, workflow)
            assert (await feed.connect(timeout=5))[0]
            told[who] = await frames(feed, 1)
            await feed.disconnect()
        return told

    told = async_to_sync(scenario)()
    for who in (Role.OWNER, Role.VIEWER):
        assert [(f["run"]["id"], f["run"]["workflow"]) for f in told[who]] == [(str(raw.pk), None)], who
        assert told[who][0]["run"]["created_by"] == {"id": editor.pk, "name": editor.username}
    assert told["outsider"] == [{"close": 4404}]


def test_a_run_is_shared_in_one_workflow_and_only_runs_of_the_workspace_are_told(
    team, workflow, members, feed_for
):
    from backend.accounts.actions import do_create_team
    from backend.coedit.models import SharedRun

    editor = members[Role.EDITOR]
    other = do_create_workflow(members[Role.OWNER], team, "Other", parse_document(GRAPH, {"nodes": {}}))
    raw = Run.objects.create(workspace=team, graph=GRAPH, created_by=editor)
    assert _post(editor, f"/api/workflows/{workflow.pk}/shared-runs", {"run": str(raw.pk)}).status_code == 204
    again = _post(editor, f"/api/workflows/{workflow.pk}/shared-runs", {"run": str(raw.pk)})
    elsewhere = _post(editor, f"/api/workflows/{other.pk}/shared-runs", {"run": str(raw.pk)})
    assert (again.status_code, elsewhere.status_code) == (204, 404)
    assert list(SharedRun.objects.values_list("workflow_id", flat=True)) == [workflow.pk]
    # A row naming a run of another workspace (never made by the endpoint) is not told: the feed checks.
    foreign = Run.objects.create(
        workspace=do_create_team(editor, "Elsewhere"), graph=GRAPH, created_by=editor
    )
    SharedRun.objects.create(run=foreign, workflow=workflow, shared_by=editor)

    async def scenario():
        feed = feed_for(Role.RUNNER, workflow)
        assert (await feed.connect(timeout=5))[0]
        got = await frames(feed, 1)
        await feed.disconnect()
        return got

    assert [f["run"]["id"] for f in async_to_sync(scenario)()] == [str(raw.pk)]


def test_the_shares_of_finished_runs_are_deleted_when_the_next_run_is_shared(team, workflow, members):
    from backend.coedit.models import SharedRun

    editor = members[Role.EDITOR]
    path = f"/api/workflows/{workflow.pk}/shared-runs"
    first, second = (Run.objects.create(workspace=team, graph=GRAPH, created_by=editor) for _ in range(2))
    for run in (first, second):
        assert _post(editor, path, {"run": str(run.pk)}).status_code == 204
    Run.objects.filter(pk=first.pk).update(status=Run.Status.SUCCEEDED)
    third = Run.objects.create(workspace=team, graph=GRAPH, created_by=editor)
    assert _post(editor, path, {"run": str(third.pk)}).status_code == 204
    assert set(SharedRun.objects.values_list("run_id", flat=True)) == {second.pk, third.pk}
