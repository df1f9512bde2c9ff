"""Publishing run events to the channel layer: the seam between the recorder and live clients.

Two groups carry runs:

- ``run.<run id>`` gets ``{"type": "run.events", "run": "<id>", "first": <seq>, "last": <seq>, "frame": "<the
  events as one JSON array>"}``, one message per batch the recorder stored, each event ``{"seq", "type", "node",
  "data", "time"}`` exactly as the events API replays it. The batch travels as its JSON text only, encoded once
  here: a socket that is up to date forwards it as is, and a channel layer copies or serializes one string
  rather than a list of dicts per watching socket; ``events_of`` decodes it for the consumers that need to;
- ``workspace.<workspace id>`` gets ``{"type": "run.status", "run": {...}, "private_to"}`` (``run_status``)
  whenever a run of the workspace is queued, starts, finishes or is cancelled, and ``{"type": "run.queue",
  "workspace", "runs": [{"id", "position", "private_to"}]}`` with the positions of its waiting runs.
  ``private_to`` (the author of a private workflow, else null) lets consumers hide runs a member may not see.

Events are stored before they are published, so a client that misses a message replays it from the database
(``GET /api/runs/<id>/events?after=<seq>``), and sockets notice a silent gap by themselves
(``backend/runs/feeds.py``). A failure to publish never fails nor blocks the run: the message waits in the
process's outbox (``_Outbox``, bounded) and is sent, in order, once the channel layer answers again, so a
socket open across a Redis outage still gets what happened during it.

Every send of a process goes through one long-lived event loop on a background thread (``_PublishLoop``): a
recorder's batch then costs one ``group_send`` (~0.3 ms on Redis) rather than a fresh loop and connection per
call (~6 ms with ``async_to_sync``). With the in-memory layer (one process, the local dispatcher) the sends run
on the loop that serves the websockets instead (the layer remembers it: ``backend/core/live.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer

from backend.core.live import LocalChannelLayer

if TYPE_CHECKING:
    from backend.runs.models import Run

logger = logging.getLogger(__name__)

STATUS_EVENTS = frozenset({"run_started", "run_finished", "run_paused"})
# How long a publisher waits for its batch to reach a healthy layer (waiting keeps tests and callers in step);
# while the layer is failing nobody waits: the batch stays in the outbox.
PUBLISH_WAIT_SECONDS = 1.0
SEND_TIMEOUT_SECONDS = 2.0  # one group_send to a layer that hangs rather than refuses
OUTBOX_LIMIT = 10_000  # messages held per process while the layer is down; beyond, the oldest are dropped
OUTBOX_MAX_AGE_SECONDS = 600.0  # older held messages are dropped (sockets fill gaps from the database)
RETRY_FIRST_SECONDS = 0.05
RETRY_MAX_SECONDS = 1.0
QUEUE_REPORTED = 1000  # positions beyond this many waiting runs are not sent


def run_group(run_id: Any) -> str:
    """The group a run's events go to."""
    return f"run.{run_id}"


def workspace_group(workspace_id: Any) -> str:
    """The group a workspace's run status changes go to."""
    return f"workspace.{workspace_id}"


def run_status(run: Run) -> dict[str, Any]:
    """The short form of a run sent on status changes."""
    return {
        "id": str(run.pk),
        "status": run.status,
        "workspace": run.workspace_id,
        "workflow": run.workflow_id,
        "created_by": run.created_by_id,
        "priority": run.priority,
        "created": _iso(run.created),
        "started": _iso(run.started),
        "finished": _iso(run.finished),
        "error": run.error,
        "last_seq": run.last_seq,
    }


def publish_run_events(run: Run, events_json: list[dict[str, Any]]) -> None:
    """Send one stored batch of ``run``'s events to its group, and its status to the workspace if it changed."""
    if not events_json:
        return
    messages = [(run_group(run.pk), events_message(run.pk, events_json))]
    changes = [event["type"] for event in events_json if event["type"] in STATUS_EVENTS]
    if changes:
        status = run_status_message(run)
        if changes[0] == "run_started" and run.is_finished():
            # Started and finished within one batch: watchers still see it running before its outcome.
            running = {**status["run"], "status": "running", "finished": None, "error": ""}
            messages.append((workspace_group(run.workspace_id), {**status, "run": running}))
        messages.append((workspace_group(run.workspace_id), status))
    _send(messages)
    if changes:
        publish_queue_soon([run.workspace_id])  # positions moved


def events_message(run_id: Any, events_json: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``run.events`` message of one stored batch (not empty) of a run's events."""
    return {
        "type": "run.events",
        "run": str(run_id),
        "first": events_json[0]["seq"],
        "last": events_json[-1]["seq"],
        "frame": json.dumps(events_json, separators=(",", ":")),
    }


def events_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a ``run.events`` message."""
    events: list[dict[str, Any]] = json.loads(message["frame"])
    return events


def publish_run_status(run: Run) -> None:
    """Tell the run's workspace that the run's status changed (queued, cancelled, deleted...).

    Sent without waiting for the channel layer (a submit's answer does not wait on the event loop); the outbox
    keeps it ahead of everything published after it.
    """
    _send([(workspace_group(run.workspace_id), run_status_message(run))], wait=False)
    publish_queue_soon([run.workspace_id])


def run_status_message(run: Run) -> dict[str, Any]:
    """The ``run.status`` message of ``run`` as it is now (its workflow is read if not loaded)."""
    workflow = run.workflow if run.workflow_id is not None else None
    private_to = _private_to(workflow.visibility, workflow.created_by_id) if workflow is not None else None
    return {"type": "run.status", "run": run_status(run), "private_to": private_to}


def publish_messages(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send ``(group, message)`` pairs through this process's outbox, without waiting for the layer."""
    _send(messages, wait=False)


def publish_queue(also: Iterable[int] = ()) -> None:
    """Tell every workspace with waiting runs (and those in ``also``) where its runs stand in the queue.

    One query and one message per such workspace, now (``publish_queue_soon`` coalesces the frequent cases).
    """
    _send(queue_messages(also))


def queue_messages(also: Iterable[int] = ()) -> list[tuple[str, dict[str, Any]]]:
    """The ``run.queue`` message of every workspace with waiting runs and of those in ``also``, with its group.

    Only of the workspaces someone listens to, where the channel layer can tell: the embedded stack's in-process
    layer knows every socket of the installation, and while none follows a workspace (a ComfyUI client's burst)
    nothing is read. Positions are places in the whole installation's queue, so a start moves every workspace's:
    the waiting runs are read whole when anyone listens (on Redis, whose sockets are in other processes, always).
    """
    from backend.runs.models import Run

    listened = _listened_workspaces()
    if listened is not None:
        also = [workspace_id for workspace_id in also if workspace_id in listened]
        if not listened:
            return []
    waiting = (
        Run.objects.filter(status=Run.Status.QUEUED, dispatched__isnull=True)
        .order_by("-priority", "created", "id")
        .values_list("id", "workspace_id", "workflow__visibility", "workflow__created_by_id")[:QUEUE_REPORTED]
    )
    per_workspace: dict[int, list[dict[str, Any]]] = {workspace_id: [] for workspace_id in also}
    for position, (run_id, workspace_id, visibility, creator_id) in enumerate(waiting):
        per_workspace.setdefault(workspace_id, []).append(
            {"id": str(run_id), "position": position, "private_to": _private_to(visibility, creator_id)}
        )
    return [
        (workspace_group(workspace_id), {"type": "run.queue", "workspace": workspace_id, "runs": runs})
        for workspace_id, runs in per_workspace.items()
        if listened is None or workspace_id in listened
    ]


def _listened_workspaces() -> set[int] | None:
    """The workspaces whose group has a member, when the layer can tell (the in-process layer); None otherwise."""
    layer = get_channel_layer()
    if not isinstance(layer, LocalChannelLayer):
        return None
    prefix = workspace_group("")
    # A copy taken at once (the loop's thread changes the groups): a socket that joins after it learns the
    # positions from the next change, or from the API it read them from when it opened.
    groups = list(layer.groups.items())
    return {
        int(group[len(prefix) :])
        for group, members in groups
        if members and group.startswith(prefix) and group[len(prefix) :].isdigit()
    }


def publish_queue_soon(workspace_ids: Iterable[int]) -> None:
    """Publish the queue positions (``queue_messages``, including ``workspace_ids``) shortly, coalesced.

    Positions move at every submit, start and finish; reading every waiting run for each of them made a burst
    cost O(queue) per event. Instead each process publishes them at most once per
    ``QUEUE_PUBLISH_INTERVAL_SECONDS`` from a thread of its own: a burst of submits and finishes costs one read and one message per workspace per
    window, always of the latest positions, sent after the status messages that moved them.
    """
    global _queue_publisher
    with _queue_publisher_lock:
        # A forked process (a Celery prefork child) has the parent's object but not its thread.
        if (
            _queue_publisher is None
            or _queue_publisher.pid != os.getpid()
            or not _queue_publisher.thread.is_alive()
        ):
            _queue_publisher = _QueuePublisher()
        publisher = _queue_publisher
    publisher.mark(workspace_ids)


# Positions are published at most this often per process, and this long after the first change of a quiet spell.
QUEUE_PUBLISH_INTERVAL_SECONDS = 0.1
QUEUE_SETTLE_SECONDS = 0.005
# Seconds the positions thread keeps its database connection; 0 (web processes: their pool; tests): closed after
# each pass. Celery workers set it (backend/runs/celery_worker.py) to FLOWYARD_WORKER_CONN_MAX_AGE.
QUEUE_CONNECTION_MAX_AGE = 0


class _QueuePublisher:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.pending: set[int] = set()
        self.passing = False  # a pass is reading or sending positions
        self.condition = threading.Condition()
        self.thread = threading.Thread(target=self._loop, name="flowyard-queue-positions", daemon=True)
        self.thread.start()

    def mark(self, workspace_ids: Iterable[int]) -> None:
        with self.condition:
            self.pending.update(workspace_ids)
            self.condition.notify()

    def _loop(self) -> None:
        from django.db import close_old_connections, connection

        if QUEUE_CONNECTION_MAX_AGE > 0:
            # This thread lives as long as the process: keep its connection (a copy of the shared settings).
            connection.settings_dict = {
                **connection.settings_dict,
                "CONN_MAX_AGE": QUEUE_CONNECTION_MAX_AGE,
                "CONN_HEALTH_CHECKS": True,
            }
        last = -QUEUE_PUBLISH_INTERVAL_SECONDS
        while True:
            with self.condition:
                while not self.pending:
                    self.condition.wait()
            # At most one pass per interval; what moves meanwhile goes out in the next pass.
            time.sleep(max(QUEUE_SETTLE_SECONDS, last + QUEUE_PUBLISH_INTERVAL_SECONDS - time.monotonic()))
            last = time.monotonic()
            with self.condition:
                also, self.pending = self.pending, set()
                self.passing = True
            try:
                try:
                    messages = queue_messages(also)
                finally:
                    close_old_connections()
                _send(messages, wait=False)
            except Exception:
                # Dropped: each web process's heartbeat re-reads positions for its sockets (feeds.py).
                logger.warning("could not publish the queue positions", exc_info=True)
            finally:
                with self.condition:
                    self.passing = False
                    self.condition.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is pending and no pass is running; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while self.pending or self.passing:
                left = deadline - time.monotonic()
                if left <= 0 or not self.thread.is_alive():
                    return False
                self.condition.wait(min(left, 0.05))
        return True


def wait_queue_positions_idle(timeout: float = 10.0) -> bool:
    """True once this process's queue-positions thread (if it has one) has nothing pending and is not reading:
    tests call it before their database is emptied, which a pass reading the tables could deadlock with."""
    publisher = _queue_publisher
    if publisher is None or publisher.pid != os.getpid():
        return True
    return publisher.wait_idle(timeout)


_queue_publisher: _QueuePublisher | None = None
_queue_publisher_lock = threading.Lock()


class _PublishLoop:
    """An event loop on a daemon thread of this process: every publish goes through it, so a batch costs one
    ``group_send`` on a warm connection instead of a new loop and connection per call (``async_to_sync``)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="flowyard-publish", daemon=True)
        self.thread.start()


_publish_loop: _PublishLoop | None = None
_publish_loop_lock = threading.Lock()


def _loop_for(layer: Any) -> asyncio.AbstractEventLoop:
    global _publish_loop
    if isinstance(layer, LocalChannelLayer) and layer.loop is not None and layer.loop.is_running():
        return layer.loop  # the loop its consumers wait on
    with _publish_loop_lock:
        # A forked process (a Celery prefork child) has the parent's object but not its thread.
        if _publish_loop is None or _publish_loop.pid != os.getpid():
            _publish_loop = _PublishLoop()
        return _publish_loop.loop


def _send(messages: list[tuple[str, dict[str, Any]]], wait: bool = True) -> None:
    if not messages:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _loop_for(layer)
    outbox = _outbox_for(loop)
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        outbox.add(layer, messages)  # called from the loop's own thread: waiting would deadlock
        return
    # The in-process layer, on the loop its consumers wait on, puts a message in their queues at once and cannot
    # fail or fall behind a server, so there is nothing to wait for: a wait cost the loop a task and a future per
    # publish and held the publishing thread (the run's recorder) until the loop, busy with a burst's requests,
    # got to it. Without that loop running (a script or a test reading the layer itself), the publish waits as
    # for Redis, so a reader that starts after it returns finds the message.
    in_process = isinstance(layer, LocalChannelLayer) and loop is layer.loop
    if outbox.failing or not wait or in_process:
        loop.call_soon_threadsafe(outbox.add, layer, messages)
        return
    # Waiting (briefly) keeps a publisher in step with a healthy layer; the outbox keeps the order either way.
    future = asyncio.run_coroutine_threadsafe(outbox.add_and_wait(layer, messages), loop)
    with contextlib.suppress(TimeoutError):  # still in the outbox then: it goes out when the layer answers
        future.result(timeout=PUBLISH_WAIT_SECONDS)


@dataclass
class _Held:
    layer: Any
    group: str
    message: dict[str, Any]
    since: float
    done: asyncio.Future[None] | None = None


class _Outbox:
    """A process's messages on their way to the channel layer, sent one at a time and in order by one task.

    A send that fails is retried (backoff up to ``RETRY_MAX_SECONDS``) with everything behind it held, so
    messages published while Redis is down go out, in order, once it is back. At most ``OUTBOX_LIMIT`` messages
    wait; beyond that (or after ``OUTBOX_MAX_AGE_SECONDS``) the oldest are dropped, which costs delivery latency
    only: events are stored, and sockets fill gaps from the database.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.held: deque[_Held] = deque()
        self.failing = False
        self.dropped = 0
        self.wake: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None

    def add(self, layer: Any, messages: list[tuple[str, dict[str, Any]]]) -> _Held:
        """Queue ``messages`` (on the outbox's loop); return the last one's entry."""
        now = time.monotonic()
        for group, message in messages:
            self.held.append(_Held(layer, group, message, now))
        while len(self.held) > OUTBOX_LIMIT:
            self._drop(self.held.popleft())
        if self.wake is None:
            self.wake = asyncio.Event()
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._drain())
        self.wake.set()
        return self.held[-1]

    async def add_and_wait(self, layer: Any, messages: list[tuple[str, dict[str, Any]]]) -> None:
        last = self.add(layer, messages)
        last.done = self.loop.create_future()
        await asyncio.shield(last.done)

    def _drop(self, entry: _Held) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            logger.warning("channel layer outbox full or stale: dropped %d message(s) so far", self.dropped)
        self._settle(entry)

    @staticmethod
    def _settle(entry: _Held) -> None:
        if entry.done is not None and not entry.done.done():
            entry.done.set_result(None)

    async def _drain(self) -> None:
        assert self.wake is not None
        delay = RETRY_FIRST_SECONDS
        failed_at = 0.0
        while True:
            if not self.held:
                self.wake.clear()
                await self.wake.wait()
                continue
            entry = self.held.popleft()
            if time.monotonic() - entry.since > OUTBOX_MAX_AGE_SECONDS:
                self._drop(entry)
                continue
            try:
                sending = entry.layer.group_send(entry.group, entry.message)
                if isinstance(entry.layer, LocalChannelLayer):
                    await sending  # queue puts that never wait: no timeout task needed
                else:
                    await asyncio.wait_for(sending, SEND_TIMEOUT_SECONDS)
            except Exception as exc:
                self.held.appendleft(entry)
                for held in self.held:  # nobody waits on a failing layer: the run goes on
                    self._settle(held)
                if not self.failing:
                    self.failing, failed_at = True, time.monotonic()
                    logger.warning(
                        "could not publish to the channel layer (%r): holding messages, retrying", exc
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            self._settle(entry)
            if self.failing:
                self.failing, delay = False, RETRY_FIRST_SECONDS
                logger.warning(
                    "channel layer back after %.1f s: sending the %d message(s) still held",
                    time.monotonic() - failed_at,
                    len(self.held),
                )


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox] = weakref.WeakKeyDictionary()


def _outbox_for(loop: asyncio.AbstractEventLoop) -> _Outbox:
    with _publish_loop_lock:
        outbox = _outboxes.get(loop)
        if outbox is None:
            outbox = _outboxes[loop] = _Outbox(loop)
        return outbox


def _private_to(visibility: str | None, creator_id: int | None) -> int | None:
    """Who besides privileged members may see a run: its private workflow's author; None: every member."""
    return creator_id if visibility == "private" else None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
