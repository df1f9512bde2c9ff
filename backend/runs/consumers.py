"""Websocket consumers: one run's events live (``ws/runs/<id>/``), and the run statuses of the user's
workspaces (``ws/events/``). Protocol: docs/api.md, "Live progress".

A run consumer joins the run's group *before* it replays the stored events, so nothing published meanwhile is
missed; it then forwards live batches, dropping events it already sent and filling any gap from the database
(events are stored before they are published), so a client sees every ``seq`` exactly once, in order.

``?batch=1`` asks for one frame per published batch (a JSON array of events) instead of one frame per event:
with 200 watchers of a run, one frame per batch per socket rather than one per event per socket. The batch's
JSON is encoded once by the publisher (``frame``) and sent as is when the socket needs all of it; it is decoded
only when the socket needs part of it or one frame per event.

A socket can miss a batch for good (the channel layer delivers at most once, and Redis drops what is published
while it is away): every run socket is also on its process's heartbeat (``feeds.RunHeartbeat``), which replays
from the database what a socket is still missing one tick later, so a socket open across a Redis outage gets
every event of it, ``run_finished`` included. ``ws/events/`` sockets take their messages from their process's
``feeds.WorkspaceFeed`` through a bounded backlog: a socket that cannot keep up is sent ``{"type": "resync"}``
and closed (``CLOSE_RESYNC``) rather than let its backlog grow.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from rest_framework.exceptions import NotFound

from backend.accounts.access import access_run
from backend.accounts.models import Membership
from backend.accounts.roles import Role
from backend.core.live import CLOSE_BAD_REQUEST, CLOSE_NOT_FOUND, CLOSE_RESYNC, LiveConsumerMixin
from backend.runs import feeds
from backend.runs.models import RunEvent
from backend.runs.publish import events_of, run_group

REPLAY_PAGE = 500
# What a ws/events/ socket may have waiting to be sent before it is told to resync.
BACKLOG_FRAMES = 1000
BACKLOG_BYTES = 1024 * 1024
RESYNC = json.dumps({"type": "resync"})


class _Consumer(LiveConsumerMixin, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = await self.accept_signed_in()
        if user is not None:
            await self.start(user)

    async def start(self, user: Any) -> None:
        raise NotImplementedError

    def query(self, name: str) -> str | None:
        values = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get(name)
        return values[0] if values else None


class RunConsumer(_Consumer):
    """``ws/runs/<run id>/?after=<seq>[&batch=1]``: the run's events with ``seq > after``, stored ones first,
    then live; with ``batch=1`` each frame is a JSON array of events (a replay page or a published batch)."""

    last_seq = 0
    batch = False
    run_id: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sending = asyncio.Lock()  # live batches and heartbeat catch-ups take turns

    async def start(self, user: Any) -> None:
        try:
            self.last_seq = int(self.query("after") or 0)
            if self.last_seq < 0:
                raise ValueError
            self.batch = (self.query("batch") or "0") not in ("0", "", "false")
        except ValueError:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        self.run_id = await database_sync_to_async(_visible_run_id)(
            user, self.scope["url_route"]["kwargs"]["run_id"]
        )
        if self.run_id is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.join(run_group(self.run_id))
        async with self.sending:
            await self.replay()
        feeds.run_heartbeat().add(self)

    async def disconnect(self, code: int) -> None:
        feeds.run_heartbeat().discard(self)
        await super().disconnect(code)

    def followed_seqs(self) -> dict[str, int]:
        return {str(self.run_id): self.last_seq} if self.run_id is not None else {}

    async def catch_up(self, run_id: str) -> None:
        async with self.sending:
            await self.replay()

    async def replay(self, before: int | None = None) -> None:
        """Send the stored events after the last one sent (and before ``before``), in order."""
        while True:
            events = await database_sync_to_async(_stored_events)(self.run_id, self.last_seq, before)
            await self.send_events(events)
            if len(events) < REPLAY_PAGE:
                return

    async def send_events(self, events: list[dict[str, Any]]) -> None:
        """Send events in order: one frame each, or (``batch``) one array frame for all."""
        if not events:
            return
        if self.batch:
            await self.send(text_data=json.dumps(events))
        else:
            for event in events:
                await self.send_json(event)
        self.last_seq = events[-1]["seq"]

    async def run_events(self, message: dict[str, Any]) -> None:
        """A batch the recorder stored and published: forward what the client has not had yet."""
        async with self.sending:
            await self._forward(message)

    async def _forward(self, message: dict[str, Any]) -> None:
        if message["first"] == self.last_seq + 1 and self.batch:
            # The usual case: the batch follows what was sent, in order (the recorder numbers without gaps).
            await self.send(text_data=message["frame"])
            self.last_seq = message["last"]
            return
        if message["last"] <= self.last_seq:
            return  # already sent (replayed while the batch was on its way)
        events = events_of(message)
        pending: list[dict[str, Any]] = []
        for event in events:
            seq = event["seq"]
            last = pending[-1]["seq"] if pending else self.last_seq
            if seq <= last:
                continue
            if seq > last + 1:
                await self.send_events(pending)
                pending = []
                await self.replay(before=seq)
            pending.append(event)
        await self.send_events(pending)


class EventsConsumer(_Consumer):
    """``ws/events/[?batch=1]``: status changes and queue positions of the runs in every workspace the user
    belongs to; with ``batch=1`` each frame is a JSON array of the messages of one feed batch.

    Memberships are read when the socket connects; reconnect to follow a workspace joined later. The socket has
    no channel of its own: its process's ``WorkspaceFeed`` receives each workspace message once and hands it
    here (``deliver``); a writer task sends it. ``BACKLOG_FRAMES`` / ``BACKLOG_BYTES`` bound what may wait.
    """

    channel_layer_alias = "flowyard.feed-only"  # not configured: no channel per socket (the feed has one)
    batch = False
    feed: feeds.WorkspaceFeed | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outgoing: deque[str] = deque()
        self.outgoing_bytes = 0
        self.wake = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None
        self.resyncing = False

    async def start(self, user: Any) -> None:
        self.user_id = user.pk
        self.batch = (self.query("batch") or "0") not in ("0", "", "false")
        self.roles = await database_sync_to_async(_roles)(user)
        self.writer = asyncio.get_running_loop().create_task(self._write())
        self.feed = feeds.workspace_feed(get_channel_layer())
        await self.feed.add(self)

    async def disconnect(self, code: int) -> None:
        if self.feed is not None:
            await self.feed.discard(self)
        if self.writer is not None:
            self.writer.cancel()
        await super().disconnect(code)

    def deliver(self, items: list[str]) -> None:
        """Queue the feed's encoded messages; a socket this far behind is told to resync instead."""
        if self.resyncing:
            return
        frames = ["[" + ",".join(items) + "]"] if self.batch else items
        size = sum(len(frame) for frame in frames)
        if len(self.outgoing) + len(frames) > BACKLOG_FRAMES or self.outgoing_bytes + size > BACKLOG_BYTES:
            self.resyncing = True
            self.outgoing.clear()
            self.outgoing_bytes = 0
            self.outgoing.append(RESYNC)
        else:
            self.outgoing.extend(frames)
            self.outgoing_bytes += size
        self.wake.set()

    async def _write(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.outgoing:
                frame = self.outgoing.popleft()
                self.outgoing_bytes -= len(frame)
                await self.send(text_data=frame)
                if frame is RESYNC:
                    await self.close(code=CLOSE_RESYNC)
                    return


def _visible_run_id(user: Any, run_id: Any) -> Any:
    try:
        return access_run(user, run_id, graphs=False).pk
    except NotFound:
        return None


def _stored_events(run_id: Any, after: int, before: int | None) -> list[dict[str, Any]]:
    events = RunEvent.objects.filter(run_id=run_id, seq__gt=after)
    if before is not None:
        events = events.filter(seq__lt=before)
    return [event.to_json() for event in events.order_by("seq")[:REPLAY_PAGE]]


def _roles(user: Any) -> dict[int, Role]:
    return {
        workspace_id: Role(role)
        for workspace_id, role in Membership.objects.filter(user=user).values_list("workspace_id", "role")
    }
