"""Live delivery without gaps across a Redis outage, and ``ws/events/``'s bounded backlog.

The outage tests start their own redis-server (free port, own data directory), stop it by PID while sockets are
open and a run goes on, and start it again on the same port: events are stored before they are published, and
what the channel layer lost must still reach every socket, each ``seq`` once and in order.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from backend.accounts.roles import Role
from backend.asgi import websocket_application
from backend.runs import consumers, publish
from backend.runs.actions import do_create_run
from backend.runs.models import Run
from backend.runs.publish import run_group, workspace_group
from backend.runs.tests.conftest import chain
from backend.runs.tests.services import Process, free_port, port_open, unavailable, wait_until
from backend.runs.tests.test_live import session_cookie, slow, stored

pytestmark = pytest.mark.django_db(transaction=True)

APP = websocket_application()
HEARTBEAT = 0.2


class RedisServer:
    """A redis-server of this test's own (free port, own data directory), stopped and started by PID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory)]
        args += ["--save", "", "--appendonly", "no"]
        process = Process(args, {"PATH": "/usr/bin:/bin"}, self.directory / f"redis-{self.starts}.log")
        self.process = process
        wait_until(lambda: process.check_alive() or port_open(self.port), 10, "redis-server to listen")
        wait_until(lambda: _pings(self.url), 10, "redis-server to answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@contextmanager
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "backend.core.live.LocalChannelLayer"}}


@pytest.fixture
def redis_layer(settings, tmp_path):
    """This test's own Redis as the channel layer, and a fast heartbeat."""
    from backend.settings import redis_channel_layers

    with own_redis(tmp_path) as server:
        settings.CHANNEL_LAYERS = redis_channel_layers(server.url)
        settings.FLOWYARD_LIVE_HEARTBEAT_SECONDS = HEARTBEAT
        yield server


async def open_socket(path: str, headers, app=APP) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(app, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def run_events_until_finished(communicator, timeout: float = 20.0) -> list[dict]:
    events: list[dict] = []
    while not events or events[-1]["type"] != "run_finished":
        events.append(await communicator.receive_json_from(timeout=timeout))
    return events


async def statuses_until(communicator, run_id: str, status: str, timeout: float = 20.0) -> list[str]:
    """The statuses of ``run_id`` that ``ws/events/`` sends, up to ``status`` (included)."""
    seen: list[str] = []
    while status not in seen:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == "run.status" and message["run"]["id"] == run_id:
            seen.append(message["run"]["status"])
    return seen


def test_sockets_open_across_a_redis_outage_get_every_seq_once_and_the_runs_end(
    team, members, redis_layer, settings
):
    alice = members[Role.OWNER]
    cookie = session_cookie(alice)

    async def scenario():
        feed = await open_socket("/ws/events/", cookie)
        await asyncio.sleep(0.2)  # the socket is accepted before its feed subscribes
        run = await database_sync_to_async(do_create_run)(alice, workspace=team, graph=slow(40, 0.04))
        run_id = str(run.pk)
        watcher = await open_socket(f"/ws/runs/{run_id}/", cookie)
        received = [await watcher.receive_json_from(timeout=10) for _ in range(3)]
        assert await statuses_until(feed, run_id, "running") == ["queued", "running"]

        redis_layer.stop()  # mid-run: what the worker publishes from now on cannot reach the layer
        finished = await database_sync_to_async(_wait_finished)(run_id)
        assert finished.status == Run.Status.SUCCEEDED
        # Redis is still down: the web process's heartbeat fills both sockets from the database.
        received += await run_events_until_finished(watcher)
        assert await statuses_until(feed, run_id, "succeeded") == ["succeeded"]

        redis_layer.start()  # the held messages go out now: nothing may arrive twice
        await asyncio.sleep(2.5)
        assert await watcher.receive_nothing(timeout=0.2)
        assert not [m for m in await _drain(feed) if m["type"] == "run.status"]

        # The feed's subscription came back with Redis: with the heartbeat out of the way, a new run's statuses
        # arrive through the layer.
        settings.FLOWYARD_LIVE_HEARTBEAT_SECONDS = 600
        await asyncio.sleep(2 * HEARTBEAT)
        second = await database_sync_to_async(do_create_run)(alice, workspace=team, graph=chain(1))
        assert await statuses_until(feed, str(second.pk), "succeeded") == ["queued", "running", "succeeded"]
        await watcher.disconnect()
        await feed.disconnect()
        return run_id, received

    run_id, received = async_to_sync(scenario)()
    assert received == stored(run_id)  # every seq once, in order, ending with run_finished
    assert [event["seq"] for event in received] == list(range(1, len(received) + 1))


def test_a_run_socket_whose_run_finished_while_redis_was_down_gets_run_finished(team, members, redis_layer):
    alice = members[Role.OWNER]
    cookie = session_cookie(alice)

    async def scenario():
        run = await database_sync_to_async(do_create_run)(alice, workspace=team, graph=slow(15, 0.03))
        watcher = await open_socket(f"/ws/runs/{run.pk}/?batch=1", cookie)
        first = await watcher.receive_json_from(timeout=10)
        redis_layer.stop()
        await database_sync_to_async(_wait_finished)(str(run.pk))
        frames = [first]
        while frames[-1][-1]["type"] != "run_finished":
            frames.append(await watcher.receive_json_from(timeout=10))
        redis_layer.start()
        await asyncio.sleep(2.0)
        assert await watcher.receive_nothing(timeout=0.2)
        await watcher.disconnect()
        return str(run.pk), [event for frame in frames for event in frame]

    run_id, received = async_to_sync(scenario)()
    assert received == stored(run_id)


def test_messages_published_while_redis_is_down_go_out_in_order_once_it_is_back(redis_layer, monkeypatch):
    """The publisher's outbox: nothing waits on a failing layer, and what it held is sent, in order, after.

    The waits are bounds on a hang, not on speed (each retry against the stopped Redis waits out a connect
    attempt, slow on a loaded machine)."""
    # A publishing loop and outbox of this test's own: the process's may still hold earlier tests' messages for
    # their stopped Redis servers (seen in a full run: more than five held, out of this test's order).
    monkeypatch.setattr(publish, "_publish_loop", None)
    monkeypatch.setattr(publish, "_outboxes", {})
    layer = get_channel_layer()
    redis_layer.stop()
    for n in range(5):
        publish._send([(run_group("outbox"), {"type": "run.events", "n": n})])
    outbox = publish._outbox_for(publish._loop_for(layer))
    # The first publish finds Redis down (on a loaded machine its failed connect can outlast the publisher's
    # brief wait, so this is waited for rather than asserted at once).
    wait_until(lambda: outbox.failing, 30, "the outbox to see Redis down")
    wait_until(lambda: len(outbox.held) == 5, 30, "the outbox to hold all five")

    # Hold the publishing loop while Redis restarts and a subscriber listens, so that no retry goes first.
    paused, release = threading.Event(), threading.Event()

    def hold() -> None:
        paused.set()
        release.wait(60)

    outbox.loop.call_soon_threadsafe(hold)
    assert paused.wait(30)
    redis_layer.start()
    subscriber = redis.Redis.from_url(redis_layer.url).pubsub()
    subscriber.subscribe("asgi__group__run.outbox")  # the group's channel as channels-redis names it
    assert subscriber.get_message(timeout=30)["type"] == "subscribe"
    release.set()

    got: list[int] = []
    while len(got) < 5:
        message = subscriber.get_message(ignore_subscribe_messages=True, timeout=30)
        assert message is not None, f"only {got} arrived"
        got.append(layer.deserialize(message["data"])["n"])
    subscriber.close()
    assert got == [0, 1, 2, 3, 4]
    wait_until(lambda: not outbox.failing and not outbox.held, 30, "the outbox to empty")
    # The loop's thread idles on (a daemon); kept referenced so that its waiting task is never collected
    # mid-suite (asyncio logs a pending task it destroys). Stopping it from here once hung in CI.
    _OWN_OUTBOXES.append(outbox)


_OWN_OUTBOXES: list[publish._Outbox] = []


# The bounded backlog of ws/events/


def gated(app, gate: asyncio.Event):
    """``app`` behind a server that sends a websocket frame only once ``gate`` is set: a client that does not
    read (an ASGI server with backpressure makes the application's send wait for it)."""

    async def wrapper(scope, receive, send):
        async def slow_send(message):
            if message["type"] == "websocket.send":
                await gate.wait()
            await send(message)

        await app(scope, receive, slow_send)

    return wrapper


def test_a_workspace_socket_that_falls_behind_is_told_to_resync_and_closed(
    team, members, monkeypatch, in_memory_layer
):
    monkeypatch.setattr(consumers, "BACKLOG_FRAMES", 5)
    cookie = session_cookie(members[Role.VIEWER])

    async def scenario():
        gate = asyncio.Event()
        socket = await open_socket("/ws/events/", cookie, app=gated(APP, gate))
        await asyncio.sleep(0.1)  # accepted before the feed subscribes
        layer = get_channel_layer()
        for n in range(20):  # 20 batches: one frame each
            await layer.group_send(workspace_group(team.pk), queue_message(team.pk, n))
            await asyncio.sleep(0.08)
        gate.set()
        frames: list[dict] = []
        while True:
            output = await socket.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                await socket.disconnect()
                return frames, output["code"]
            frames.append(json.loads(output["text"]))

    frames, code = async_to_sync(scenario)()
    assert code == consumers.CLOSE_RESYNC
    assert frames[-1] == {"type": "resync"}
    # What waited was bounded: the frame being sent when the backlog filled, then nothing but the resync.
    assert len(frames) <= consumers.BACKLOG_FRAMES + 2
    assert frames[0]["runs"][0]["position"] == 0


def test_batched_workspace_sockets_get_one_frame_per_batch_with_the_latest_queue(
    team, members, oscar, in_memory_layer
):
    cookies = {"viewer": session_cookie(members[Role.VIEWER]), "oscar": session_cookie(oscar)}

    async def scenario():
        sockets = {name: await open_socket("/ws/events/?batch=1", cookie) for name, cookie in cookies.items()}
        await asyncio.sleep(0.1)  # accepted before the feed subscribes
        layer = get_channel_layer()
        group = workspace_group(team.pk)
        status = {"id": "r1", "status": "running", "workspace": team.pk, "last_seq": 1}
        await layer.group_send(group, queue_message(team.pk, 0))
        await layer.group_send(group, {"type": "run.status", "run": status, "private_to": None})
        await layer.group_send(group, queue_message(team.pk, 1))
        frame = await sockets["viewer"].receive_json_from(timeout=5)
        nothing_for_outsiders = await sockets["oscar"].receive_nothing(timeout=0.3)
        for socket in sockets.values():
            await socket.disconnect()
        return frame, nothing_for_outsiders

    frame, nothing_for_outsiders = async_to_sync(scenario)()
    assert [message["type"] for message in frame] == ["run.status", "run.queue"]
    assert frame[1]["runs"] == [{"id": "q1", "position": 0}]  # only the latest positions
    assert nothing_for_outsiders


def queue_message(workspace_id: int, n: int) -> dict:
    return {"type": "run.queue", "workspace": workspace_id, "runs": [{"id": f"q{n}", "position": 0}]}


async def _drain(communicator) -> list[dict]:
    messages = []
    while not await communicator.receive_nothing(timeout=0.3):
        messages.append(await communicator.receive_json_from())
    return messages


def _wait_finished(run_id: str, timeout: float = 20.0) -> Run:
    return wait_until(
        lambda: (run := Run.objects.get(pk=run_id)).is_finished() and run, timeout, f"run {run_id} to finish"
    )
