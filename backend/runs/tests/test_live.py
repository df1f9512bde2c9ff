"""Live progress over websockets: authentication, access, replay, reconnecting without loss or duplicates,
workspace status streams, and one run watched through a real ASGI server (daphne) with a websocket client."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from backend.accounts.actions import do_create_token
from backend.accounts.roles import Role
from backend.asgi import websocket_application
from backend.runs.actions import do_create_run
from backend.runs.models import Run, RunEvent
from backend.runs.publish import events_message, run_group
from backend.runs.tests.conftest import chain
from backend.runs.tests.services import daphne_server

pytestmark = pytest.mark.django_db(transaction=True)


def store_progress(run, *seqs: int) -> list[dict]:
    """Store progress events with these numbers for ``run``; return them as clients receive them."""
    rows = [
        RunEvent(run=run, seq=s, type="progress", node="1", data={"value": s}, time=float(s)) for s in seqs
    ]
    RunEvent.objects.bulk_create(rows)
    return [row.to_json() for row in rows]


APP = websocket_application()
IN_MEMORY = {"default": {"BACKEND": "backend.core.live.LocalChannelLayer"}}


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    """The embedded mode: in-memory channel layer, local dispatcher (whatever REDIS_URL says)."""
    settings.CHANNEL_LAYERS = IN_MEMORY


def slow(steps: int, step_seconds: float = 0.02) -> dict:
    return {
        "nodes": {"1": {"type": "test.Slow", "inputs": {"steps": steps, "step_seconds": step_seconds}}},
        "outputs": ["1"],
    }


def session_cookie(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return [(b"cookie", f"{name}={client.cookies[name].value}".encode())]


def bearer(user) -> str:
    return do_create_token(user, "live tests")[1]


def stored(run_id) -> list[dict]:
    return [event.to_json() for event in RunEvent.objects.filter(run_id=run_id).order_by("seq")]


async def open_socket(path: str, headers=None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(APP, path, headers=headers or [])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def close_code(path: str, headers=None) -> int:
    """Connect and return the code the server closed with."""
    communicator = await open_socket(path, headers)
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def events_until(communicator, stop, timeout: float = 20.0) -> list[dict]:
    """Events received until ``stop(event)`` is true for one (included)."""
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        event = await communicator.receive_json_from(timeout=max(0.01, deadline - time.monotonic()))
        events.append(event)
        if stop(event):
            return events


def finished(event: dict) -> bool:
    return event["type"] == "run_finished"


# Authentication and access


def test_session_and_token_users_get_the_whole_run_replayed_in_order(team, members, wait_for_run):
    rita = members[Role.RUNNER]
    run = do_create_run(rita, workspace=team, graph=chain(3))
    wait_for_run(run.pk)
    expected = stored(run.pk)
    cookie, token = session_cookie(members[Role.VIEWER]), bearer(rita)

    async def scenario():
        results = []
        for path, headers in [
            (f"/ws/runs/{run.pk}/", cookie),
            (f"/ws/runs/{run.pk}/?after=0&token={token}", []),
            (f"/ws/runs/{run.pk}/", [(b"authorization", f"Bearer {token}".encode())]),
        ]:
            communicator = await open_socket(path, headers)
            results.append(await events_until(communicator, finished))
            assert await communicator.receive_nothing(timeout=0.1)
            await communicator.disconnect()
        return results

    for events in async_to_sync(scenario)():
        assert events == expected
    assert [event["seq"] for event in expected] == list(range(1, len(expected) + 1))
    assert set(expected[0]) == {"seq", "type", "node", "data", "time"}


def test_outsiders_anonymous_and_missing_runs_are_closed_alike(team, members, oscar, wait_for_run):
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(1))
    wait_for_run(run.pk)
    outsider, member = session_cookie(oscar), session_cookie(members[Role.VIEWER])
    outsider_token = bearer(oscar)
    evil_origin = [*member, (b"origin", b"https://evil.example")]
    own_origin = [*member, (b"origin", b"http://localhost:8000")]

    async def scenario():
        return {
            "outsider": await close_code(f"/ws/runs/{run.pk}/", outsider),
            "outsider token": await close_code(f"/ws/runs/{run.pk}/?token={outsider_token}"),
            "missing": await close_code("/ws/runs/00000000-0000-0000-0000-000000000000/", member),
            "anonymous": await close_code(f"/ws/runs/{run.pk}/"),
            "wrong token": await close_code(f"/ws/runs/{run.pk}/?token=nope", member),
            "other site": await close_code(f"/ws/runs/{run.pk}/", evil_origin),
            "bad after": await close_code(f"/ws/runs/{run.pk}/?after=-1", member),
            "events anonymous": await close_code("/ws/events/"),
            "own site": (await events_until(await open_socket(f"/ws/runs/{run.pk}/", own_origin), finished))[
                -1
            ],
        }

    codes = async_to_sync(scenario)()
    assert codes.pop("own site")["type"] == "run_finished"
    assert codes == {
        "outsider": 4404,
        "outsider token": 4404,
        "missing": 4404,
        "anonymous": 4401,
        "wrong token": 4401,
        "other site": 4401,
        "bad after": 4400,
        "events anonymous": 4401,
    }


# Live streaming, reconnects and gaps


def test_a_socket_killed_mid_run_resumes_after_its_last_seq_with_nothing_lost_or_repeated(
    team, members, wait_for_run
):
    rita = members[Role.RUNNER]
    cookie = session_cookie(rita)
    run = do_create_run(rita, workspace=team, graph=slow(steps=60))

    async def scenario():
        first = await open_socket(f"/ws/runs/{run.pk}/?after=0", cookie)
        before = await events_until(first, lambda e: e["type"] == "progress" and e["data"]["value"] >= 10)
        await first.disconnect()  # the client goes away mid-run...
        await asyncio.sleep(0.2)  # ...while the run keeps producing events
        second = await open_socket(f"/ws/runs/{run.pk}/?after={before[-1]['seq']}", cookie)
        after = await events_until(second, finished)
        assert await second.receive_nothing(timeout=0.2)
        await second.disconnect()
        return before, after

    before, after = async_to_sync(scenario)()
    assert not any(finished(event) for event in before), "the first socket should have closed mid-run"
    wait_for_run(run.pk)
    assert before + after == stored(run.pk)
    assert [e["seq"] for e in before + after] == list(range(1, Run.objects.get(pk=run.pk).last_seq + 1))


def test_a_live_batch_after_a_gap_is_completed_from_the_database_and_repeats_are_dropped(team, members):
    run = Run.objects.create(workspace=team, graph={"nodes": {}}, created_by=members[Role.RUNNER])

    def store(*seqs):
        return store_progress(run, *seqs)

    store(1, 2, 3)
    cookie = session_cookie(members[Role.RUNNER])

    async def publish(events):
        await get_channel_layer().group_send(run_group(run.pk), events_message(run.pk, events))

    async def scenario():
        communicator = await open_socket(f"/ws/runs/{run.pk}/", cookie)
        seen = [await communicator.receive_json_from(timeout=5) for _ in range(3)]
        missed = await database_sync_to_async(store)(4, 5, 6)
        await publish(missed[-1:])  # only 6 arrives live: 4 and 5 come from the database
        seen += [await communicator.receive_json_from(timeout=5) for _ in range(3)]
        await publish(missed[1:])  # 5 and 6 again
        await publish([{"seq": 7, "type": "progress", "node": "1", "data": {"value": 7}, "time": 7.0}])
        seen.append(await communicator.receive_json_from(timeout=5))
        assert await communicator.receive_nothing(timeout=0.2)
        await communicator.disconnect()
        return seen

    seen = async_to_sync(scenario)()
    assert [event["seq"] for event in seen] == [1, 2, 3, 4, 5, 6, 7]
    assert seen[3] == {"seq": 4, "type": "progress", "node": "1", "data": {"value": 4}, "time": 4.0}


def test_batch_sockets_get_one_array_frame_per_replay_page_and_per_published_batch(
    team, members, wait_for_run
):
    run = Run.objects.create(workspace=team, graph={"nodes": {}}, created_by=members[Role.RUNNER])

    def store(*seqs):
        return store_progress(run, *seqs)

    first = store(1, 2, 3)
    cookie = session_cookie(members[Role.RUNNER])

    async def publish(events):
        await get_channel_layer().group_send(run_group(run.pk), events_message(run.pk, events))

    async def scenario():
        communicator = await open_socket(f"/ws/runs/{run.pk}/?batch=1", cookie)
        frames = [await communicator.receive_json_from(timeout=5)]  # the stored events: one frame
        live = await database_sync_to_async(store)(4, 5)
        await publish(live)  # follows what was sent: sent as published
        frames.append(await communicator.receive_json_from(timeout=5))
        missed = await database_sync_to_async(store)(6, 7, 8)
        await publish([live[-1], *missed[-1:]])  # 5 again, then 8: 6 and 7 come from the database
        frames.append(await communicator.receive_json_from(timeout=5))
        frames.append(await communicator.receive_json_from(timeout=5))
        assert await communicator.receive_nothing(timeout=0.2)
        await communicator.disconnect()
        return frames

    frames = async_to_sync(scenario)()
    assert frames[0] == first
    assert [[event["seq"] for event in frame] for frame in frames] == [[1, 2, 3], [4, 5], [6, 7], [8]]


def test_a_whole_run_over_a_batch_socket_is_the_stored_log(team, members, wait_for_run):
    rita = members[Role.RUNNER]
    run = do_create_run(rita, workspace=team, graph=chain(3))
    cookie = session_cookie(rita)

    async def scenario():
        communicator = await open_socket(f"/ws/runs/{run.pk}/?batch=1", cookie)
        events: list[dict] = []
        while not events or not finished(events[-1]):
            frame = await communicator.receive_json_from(timeout=20)
            assert isinstance(frame, list) and frame
            events += frame
        await communicator.disconnect()
        return events

    events = async_to_sync(scenario)()
    wait_for_run(run.pk)
    assert events == stored(run.pk)


# The workspace stream


def test_workspace_members_follow_run_statuses_and_queue_positions_they_may_see(
    team, members, oscar, private_workflow, settings, wait_for_run
):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 1
    settings.FLOWYARD_LEND_IDLE_WORKERS = False  # the second run waits although a worker is idle
    alice, rita, eddie = members[Role.OWNER], members[Role.RUNNER], members[Role.EDITOR]
    cookies = {user.username: session_cookie(user) for user in (alice, rita, oscar)}
    private_version = private_workflow.latest_version()

    async def scenario():
        sockets = {name: await open_socket("/ws/events/", headers) for name, headers in cookies.items()}
        create = database_sync_to_async(do_create_run)
        busy = await create(rita, workspace=team, graph=slow(steps=25))
        waiting = await create(rita, workspace=team, graph=chain(1))  # rita's one slot is taken
        private = await create(eddie, workspace=team, graph=chain(2), workflow_version=private_version)
        ids = {str(busy.pk), str(waiting.pk), str(private.pk)}

        async def until_all_finished(name):
            messages: list[dict] = []
            done: set[str] = set()
            while done != (ids if name == "alice" else ids - {str(private.pk)}):
                message = await sockets[name].receive_json_from(timeout=20)
                messages.append(message)
                if message["type"] == "run.status" and message["run"]["status"] == "succeeded":
                    done.add(message["run"]["id"])
            while not await sockets[name].receive_nothing(timeout=0.3):  # the queue update that follows
                messages.append(await sockets[name].receive_json_from())
            return messages

        seen = {name: await until_all_finished(name) for name in ("alice", "rita")}
        assert await sockets["oscar"].receive_nothing(timeout=0.2)
        for socket in sockets.values():
            await socket.disconnect()
        return seen, busy, waiting, private

    seen, busy, waiting, private = async_to_sync(scenario)()

    def statuses(messages, run):
        return [
            m["run"]["status"]
            for m in messages
            if m["type"] == "run.status" and m["run"]["id"] == str(run.pk)
        ]

    for name in ("alice", "rita"):
        assert statuses(seen[name], busy) == ["queued", "running", "succeeded"]
        assert statuses(seen[name], waiting) == ["queued", "running", "succeeded"]
        positions = [m["runs"] for m in seen[name] if m["type"] == "run.queue"]
        assert all(m["workspace"] == team.pk for m in seen[name] if m["type"] == "run.queue")
        queued_at = positions.index([{"id": str(waiting.pk), "position": 0}])
        assert [] in positions[queued_at:]  # it left the queue when it started
    assert statuses(seen["alice"], private) == ["queued", "running", "succeeded"]
    assert str(private.pk) not in json.dumps(seen["rita"])  # a private workflow's run: not for a runner
    status = next(m["run"] for m in seen["alice"] if m["type"] == "run.status")
    assert {"id", "status", "workspace", "workflow", "created_by", "created", "started", "finished"} <= set(
        status
    )
    assert "private_to" not in status
    wait_for_run(private.pk)


# Through a real server


def test_a_run_watched_through_daphne_with_a_websocket_client(team, members, tmp_path):
    import websockets
    from websockets.asyncio.client import connect

    rita = members[Role.RUNNER]
    token = bearer(rita)
    with daphne_server(tmp_path) as (base, _):
        request = urllib.request.Request(
            f"{base}/api/runs",
            data=json.dumps({"workspace": team.pk, "graph": slow(steps=30)}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            run_id = json.loads(response.read())["id"]

        async def watch():
            url = f"{base.replace('http', 'ws', 1)}/ws/runs/{run_id}/?after=0"
            events: list[dict] = []
            async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as socket:
                while not events or not finished(events[-1]):
                    events.append(json.loads(await asyncio.wait_for(socket.recv(), timeout=20)))
            try:
                async with connect(url.replace(token, "")) as socket:  # no credentials
                    await asyncio.wait_for(socket.recv(), timeout=5)
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None
                return events, closed.rcvd.code
            raise AssertionError("an anonymous socket was not closed")

        events, anonymous_code = asyncio.run(watch())
    assert anonymous_code == 4401
    assert events[-1]["data"]["status"] == "succeeded"
    assert events == stored(run_id)
    assert sum(event["type"] == "progress" for event in events) == 31
