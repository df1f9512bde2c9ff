"""What keeps one web process's websockets complete and cheap: the workspace feed and the run heartbeat.

Both exist because the channel layer delivers at most once: Redis pub/sub drops what is published while a
subscriber is disconnected, and a publisher's held messages (``backend/runs/publish.py``) can still be lost with
its process. The database holds every event and every status, so each process compares what its sockets were
sent with what is stored, every ``FLOWYARD_LIVE_HEARTBEAT_SECONDS``, and fills the difference from the database:
with one query per tick for all its sockets, and without the channel layer (a gap is filled even while Redis is
still down).

- ``RunHeartbeat`` (``ws/runs/<id>/`` and ComfyUI's ``/ws``): a socket still behind the run's stored
  ``last_seq`` of the previous tick replays the missing events from the database. Waiting one tick lets batches
  already on their way arrive first, so a healthy socket never reads the database.
- ``WorkspaceFeed`` (``ws/events/``): one subscription per workspace per process instead of one per socket;
  messages are decoded once, batched every ``FEED_BATCH_SECONDS`` (queue positions coalesced to the latest per
  workspace), each item encoded once per visibility, and handed to each socket's bounded backlog
  (``EventsConsumer.deliver``). Its heartbeat sends the current status of any run whose stored status differs,
  two ticks running, from the last one its sockets were sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import weakref
from collections import OrderedDict
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from backend.accounts.roles import Role
from backend.runs.models import Run
from backend.runs.publish import queue_messages, run_status_message, workspace_group

logger = logging.getLogger(__name__)

FEED_BATCH_SECONDS = 0.05
KNOWN_RUNS = 20_000  # run statuses remembered per process (oldest forgotten first)
RECONCILED_RUNS = 2_000  # runs read per workspace heartbeat at most
ACTIVE = (Run.Status.QUEUED, Run.Status.RUNNING)
_RANK: dict[str, int] = {"queued": 0, "running": 1}  # a run's status by how far on; else finished (2)


def heartbeat_seconds() -> float:
    """How often each process compares its sockets with the database."""
    return float(getattr(settings, "FLOWYARD_LIVE_HEARTBEAT_SECONDS", 2.0))


class _Ticking:
    """A task on the loop of the sockets that calls ``tick`` every heartbeat while it has members."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None

    def has_members(self) -> bool:
        raise NotImplementedError

    async def tick(self) -> None:
        raise NotImplementedError

    def start_ticking(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._tick_forever())

    def stop_ticking_if_idle(self) -> None:
        if not self.has_members() and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _tick_forever(self) -> None:
        while self.has_members():
            await asyncio.sleep(heartbeat_seconds())
            if not self.has_members():
                return
            try:
                await self.tick()
            except Exception as exc:  # the database may be down too: try again next time
                logger.warning("%s: heartbeat failed (%r)", type(self).__name__, exc)


# Run sockets


class RunFollower(Protocol):
    """A socket that sends runs' events in ``seq`` order (``RunConsumer``, ``ComfyConsumer``)."""

    def followed_seqs(self) -> dict[str, int]:
        """The last ``seq`` sent of each run followed."""
        ...

    async def catch_up(self, run_id: str) -> None:
        """Send the stored events of ``run_id`` after the last one sent."""
        ...


class RunHeartbeat(_Ticking):
    """The run sockets of one event loop, compared with the stored ``last_seq`` of their runs each tick."""

    def __init__(self) -> None:
        super().__init__()
        self.members: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()

    def add(self, follower: RunFollower) -> None:
        self.members.setdefault(follower, {})
        self.start_ticking()

    def discard(self, follower: RunFollower) -> None:
        self.members.pop(follower, None)
        self.stop_ticking_if_idle()

    def has_members(self) -> bool:
        return len(self.members) > 0

    async def tick(self) -> None:
        followers = list(self.members.items())
        run_ids = {run_id for follower, _ in followers for run_id in follower.followed_seqs()}
        if not run_ids:
            return
        stored = await database_sync_to_async(_stored_last_seqs)(run_ids)
        for follower, targets in followers:
            if follower not in self.members:
                continue  # disconnected meanwhile
            sent = follower.followed_seqs()
            for run_id, last_sent in sent.items():
                if last_sent < targets.get(run_id, 0):
                    logger.info(
                        "run %s: a socket missed events up to %d; replaying them", run_id, targets[run_id]
                    )
                    await follower.catch_up(run_id)
            self.members[follower] = {run_id: stored.get(run_id, 0) for run_id in sent}


def _stored_last_seqs(run_ids: set[str]) -> dict[str, int]:
    return {str(pk): seq for pk, seq in Run.objects.filter(pk__in=run_ids).values_list("pk", "last_seq")}


# Workspace sockets


class FeedListener(Protocol):
    """A ``ws/events/`` socket: who it is, what it may see, and where its frames go."""

    user_id: int
    roles: dict[int, Role]

    def deliver(self, items: list[str]) -> None:
        """Queue these encoded messages for the client (never waits)."""
        ...


class WorkspaceFeed(_Ticking):
    """One process's (one event loop's) subscription to the workspace groups of its ``ws/events/`` sockets."""

    def __init__(self, layer: Any) -> None:
        super().__init__()
        self.layer = layer
        self.members: dict[int, set[FeedListener]] = {}
        self.joined: set[int] = set()  # workspaces whose group the channel is in
        self.channel: str | None = None
        self.receiver: asyncio.Task[None] | None = None
        self.pending: list[dict[str, Any]] = []
        self.flush_at: asyncio.TimerHandle | None = None
        self.lock = asyncio.Lock()
        # The status last sent for each run (or seen stored when its workspace was first watched: not sent); a
        # stored status that differs twice running is sent again.
        self.known: OrderedDict[str, tuple[str, int, bool]] = OrderedDict()
        self.suspect: dict[str, str] = {}
        self.seeded: set[int] = set()
        self.reconciled: datetime.datetime | None = None

    def has_members(self) -> bool:
        return bool(self.members)

    async def add(self, listener: FeedListener) -> None:
        async with self.lock:
            for workspace_id in listener.roles:
                self.members.setdefault(workspace_id, set()).add(listener)
            await self._join_missing()
        self.start_ticking()

    async def discard(self, listener: FeedListener) -> None:
        async with self.lock:
            for workspace_id in listener.roles:
                members = self.members.get(workspace_id)
                if members is None:
                    continue
                members.discard(listener)
                if not members:
                    del self.members[workspace_id]
                    self.seeded.discard(workspace_id)
                    if workspace_id in self.joined:
                        self.joined.discard(workspace_id)
                        with contextlib.suppress(Exception):  # Redis may be down: the group then expires
                            await self.layer.group_discard(workspace_group(workspace_id), self.channel)
            if not self.members and self.receiver is not None:
                self.receiver.cancel()  # channels-redis unsubscribes the channel when its receive is cancelled
                self.receiver, self.channel = None, None
                self.joined.clear()
        self.stop_ticking_if_idle()

    async def _join_missing(self) -> None:
        """Make the feed's channel and join the groups of the workspaces with members; what fails (Redis down)
        is retried next tick, and the heartbeat sends the statuses meanwhile."""
        try:
            if self.channel is None and self.members:
                channel = await self.layer.new_channel(prefix="flowyard.feed.")
                self.channel = channel
                self.receiver = asyncio.get_running_loop().create_task(self._receive(channel))
            for workspace_id in list(self.members):
                if workspace_id not in self.joined and self.channel is not None:
                    await self.layer.group_add(workspace_group(workspace_id), self.channel)
                    self.joined.add(workspace_id)
        except Exception as exc:
            logger.warning("workspace feed: could not subscribe (%r); retrying", exc)

    async def _receive(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("workspace feed: receive failed (%r)", exc)
                await asyncio.sleep(1)
                continue
            self.queue(message)

    def queue(self, message: dict[str, Any]) -> None:
        """Take one workspace message; the batch goes out ``FEED_BATCH_SECONDS`` after its first message."""
        self.pending.append(message)
        if self.flush_at is None:
            self.flush_at = asyncio.get_running_loop().call_later(FEED_BATCH_SECONDS, self.flush)

    def flush(self) -> None:
        """Hand the pending messages to the sockets that may see them, each item encoded once per view."""
        messages, self.pending, self.flush_at = self.pending, [], None
        latest_queue = {m["workspace"]: i for i, m in enumerate(messages) if m.get("type") == "run.queue"}
        out: dict[FeedListener, list[str]] = {}
        for index, message in enumerate(messages):
            kind = message.get("type")
            if kind == "run.status":
                run = message["run"]
                if not self._is_news(run):
                    continue  # sent already (a held message resent, or the heartbeat came first) or older
                self._remember(run["id"], run["status"], run["last_seq"])
                workspace_id = run["workspace"]
                encoded: str | None = None
                for listener in self.members.get(workspace_id, ()):
                    if _may_see(listener, workspace_id, message.get("private_to")):
                        if encoded is None:
                            encoded = json.dumps({"type": "run.status", "run": run})
                        out.setdefault(listener, []).append(encoded)
            elif kind == "run.queue" and latest_queue[message["workspace"]] == index:
                workspace_id = message["workspace"]
                views: dict[Any, str] = {}
                has_private = any(entry.get("private_to") is not None for entry in message["runs"])
                for listener in self.members.get(workspace_id, ()):
                    view = (
                        listener.user_id
                        if has_private and not listener.roles[workspace_id].can_see_private_workflows
                        else None
                    )
                    if view not in views:
                        runs = [
                            {"id": entry["id"], "position": entry["position"]}
                            for entry in message["runs"]
                            if _may_see(listener, workspace_id, entry.get("private_to"))
                        ]
                        views[view] = json.dumps(
                            {"type": "run.queue", "workspace": workspace_id, "runs": runs}
                        )
                    out.setdefault(listener, []).append(views[view])
        for listener, items in out.items():
            listener.deliver(items)

    def _is_news(self, run: dict[str, Any]) -> bool:
        """Whether this status of a run is later than the last one sent: later in its event log, or at the same
        point in it but further on (queued, running, finished)."""
        known = self.known.get(run["id"])
        if known is None or not known[2]:
            return True  # not sent yet: only seen stored when its workspace was first watched
        news: bool = (run["last_seq"], _RANK.get(run["status"], 2)) > (known[1], _RANK.get(known[0], 2))
        return news

    def _remember(self, run_id: str, status: str, last_seq: int, sent: bool = True) -> None:
        self.known[run_id] = (status, last_seq, sent)
        self.known.move_to_end(run_id)
        while len(self.known) > KNOWN_RUNS:
            self.known.popitem(last=False)

    async def tick(self) -> None:
        async with self.lock:
            await self._join_missing()
        workspaces = list(self.members)
        if not workspaces:
            return
        active = [run_id for run_id, (status, _, _) in self.known.items() if status in ACTIVE]
        now = timezone.now()
        since = (
            self.reconciled - datetime.timedelta(seconds=2 * heartbeat_seconds()) if self.reconciled else None
        )
        statuses = await database_sync_to_async(_current_statuses)(workspaces, active, since)
        self.reconciled = now
        changed: list[dict[str, Any]] = []
        suspect: dict[str, str] = {}
        for message in statuses:
            run = message["run"]
            known = self.known.get(run["id"])
            if run["workspace"] not in self.seeded:
                self._remember(run["id"], run["status"], run["last_seq"], sent=False)
            elif known is None or known[0] != run["status"]:
                if self.suspect.get(run["id"]) == run["status"]:
                    changed.append(message)
                else:
                    suspect[run["id"]] = run["status"]
        self.suspect = suspect
        self.seeded.update(workspaces)
        if not changed:
            return
        logger.info("workspace feed: %d run status(es) missed; sending them from the database", len(changed))
        touched = {message["run"]["workspace"] for message in changed}
        queues = await database_sync_to_async(queue_messages)(touched)
        for message in changed:
            self.queue(message)
        for _, message in queues:
            if message["workspace"] in touched:
                self.queue(message)


def _may_see(listener: FeedListener, workspace_id: int, private_to: int | None) -> bool:
    role = listener.roles.get(workspace_id)
    if role is None:
        return False
    return private_to is None or private_to == listener.user_id or role.can_see_private_workflows


def _current_statuses(
    workspaces: list[int], active: list[str], since: datetime.datetime | None
) -> list[dict[str, Any]]:
    """``run.status`` messages of the runs of ``workspaces`` that are active, were last known active, or were
    created or finished since ``since``."""
    changed = Q(status__in=ACTIVE) | Q(pk__in=active)
    if since is not None:
        changed |= Q(created__gte=since) | Q(finished__gte=since)
    runs = Run.objects.filter(changed, workspace_id__in=workspaces).select_related("workflow")
    return [run_status_message(run) for run in runs.order_by("created")[:RECONCILED_RUNS]]


# One of each per event loop (the channel layer is per loop too)

_heartbeats: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RunHeartbeat] = weakref.WeakKeyDictionary()
_feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WorkspaceFeed] = weakref.WeakKeyDictionary()


def run_heartbeat() -> RunHeartbeat:
    """This event loop's run heartbeat."""
    loop = asyncio.get_running_loop()
    heartbeat = _heartbeats.get(loop)
    if heartbeat is None:
        heartbeat = _heartbeats[loop] = RunHeartbeat()
    return heartbeat


def workspace_feed(layer: Any) -> WorkspaceFeed:
    """This event loop's workspace feed on ``layer`` (a new one when the settings changed the layer)."""
    loop = asyncio.get_running_loop()
    feed = _feeds.get(loop)
    if feed is None or feed.layer is not layer:
        feed = _feeds[loop] = WorkspaceFeed(layer)
    return feed
