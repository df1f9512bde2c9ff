"""Websocket consumers: one run's events live (``ws/runs/<id>/``), and the run statuses of the user's
workspaces (``ws/events/``). Protocol: docs/api.md, "Live progress".

A run consumer joins the run's group *before* it replays the stored events, so nothing published meanwhile is
missed; it then forwards live batches, dropping events it already sent and filling any gap from the database
(events are stored before they are published), so a client sees every ``seq`` exactly once, in order.

``?batch=1`` asks for one frame per published batch (a JSON array of events) instead of one frame per event:
with 200 watchers of a run, one frame per batch per socket rather than one per event per socket. The batch's
JSON is encoded once by the publisher (``frame``) and sent as is when the socket needs all of it; it is decoded
only when the socket needs part of it or one frame per event.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import NotFound

from backend.accounts.access import access_run
from backend.accounts.models import Membership
from backend.accounts.roles import Role
from backend.core.live import LiveConsumerMixin
from backend.runs.models import RunEvent
from backend.runs.publish import events_of, run_group, workspace_group

# Close codes (sent after accepting, so that browsers see them; a refused handshake shows only "1006").
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404  # missing and forbidden alike, as the HTTP API answers 404 for both
REPLAY_PAGE = 500


class _Consumer(LiveConsumerMixin, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
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
    """``ws/events/``: status changes and queue positions of the runs in every workspace the user belongs to.

    Memberships are read when the socket connects; reconnect to follow a workspace joined later.
    """

    async def start(self, user: Any) -> None:
        self.user_id = user.pk
        self.roles = await database_sync_to_async(_roles)(user)
        for workspace_id in self.roles:
            await self.join(workspace_group(workspace_id))

    def may_see(self, workspace_id: int, private_to: int | None) -> bool:
        role = self.roles.get(workspace_id)
        if role is None:
            return False
        return private_to is None or private_to == self.user_id or role.can_see_private_workflows

    async def run_status(self, message: dict[str, Any]) -> None:
        run = message["run"]
        if self.may_see(run["workspace"], message.get("private_to")):
            await self.send_json({"type": "run.status", "run": run})

    async def run_queue(self, message: dict[str, Any]) -> None:
        workspace_id = message["workspace"]
        if workspace_id not in self.roles:
            return
        runs = [
            {"id": entry["id"], "position": entry["position"]}
            for entry in message["runs"]
            if self.may_see(workspace_id, entry.get("private_to"))
        ]
        await self.send_json({"type": "run.queue", "workspace": workspace_id, "runs": runs})


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
