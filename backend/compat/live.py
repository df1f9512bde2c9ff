"""Run events as ComfyUI's websocket messages, and the notices that tell a user's sockets about new prompts.

``PromptTranslator`` turns one run's stored events (``{"seq", "type", "node", "data", "time"}``) into the
messages ComfyUI's server sends for a prompt, in its order (execution.py, main.py ``prompt_worker``):
``execution_start``, ``execution_cached``, then per node ``executing`` / ``progress`` / ``executed``, then
``execution_success`` | ``execution_error`` | ``execution_interrupted``, a ``status`` with the queue left, and
``executing`` with ``node: null``. ``executed`` is sent for every node that showed something, cached or not.
Timestamps are milliseconds, as ComfyUI's.

A new prompt reaches its user's open sockets by a ``comfy.prompt`` notice on the channel layer; a notice lost to a
Redis outage is made good by ``PromptDiscovery``, which finds the user's new prompts in the database every
``FLOWYARD_LIVE_HEARTBEAT_SECONDS`` (as ``backend/runs/feeds.py`` fills the gaps of run events and statuses).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.utils import timezone

from backend.runs.feeds import _Ticking, heartbeat_seconds
from backend.runs.models import Run
from backend.runs.publish import publish_messages

# A run paused at an approval step has not finished: ComfyUI clients see it pending, not in the history.
ACTIVE = (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.AWAITING_APPROVAL)

logger = logging.getLogger(__name__)

ADD_MESSAGE_TYPES = ("execution_start", "execution_cached", "execution_success", "execution_error",
                     "execution_interrupted")  # fmt: skip


def user_group(user_id: Any) -> str:
    """The channel-layer group of a user's ComfyUI sockets."""
    return f"comfy.user.{user_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    # Through the process's publish outbox (one long-lived loop): ``async_to_sync`` started a thread and an event
    # loop per notice (~5 ms of a small prompt's submit), and a notice lost to an outage is retried there.
    publish_messages([(group, message)])


# A prompt's node types and constant inputs (``translation``), as its translator takes them.
Translation = tuple[dict[str, str], dict[str, dict[str, Any]]]

# A notice carries its prompt's translation up to this many nodes: a socket taking up a small prompt then reads
# neither its node rows nor its stored graph (a burst's prompts are small; a big one is read as before).
NOTICE_NODES = 64


def translation(nodes: list[tuple[str, str]], graph: Mapping[str, Any]) -> Translation:
    """What a prompt's translator needs of its run: ``{node id: type}`` in the run's order (its node rows'
    positions), and each node's constant inputs (those that are not links) from the stored graph."""
    constants: dict[str, dict[str, Any]] = {}
    for node_id, node in (graph.get("nodes") or {}).items():
        inputs = node.get("inputs") or {}
        constants[node_id] = {
            name: value
            for name, value in inputs.items()
            if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str))
        }
    return dict(nodes), constants


def notify_prompt(prompt: Any, known: Translation | None = None) -> None:
    """Tell the submitting user's sockets that a prompt was queued (they follow its events from now on), with
    its translation when the submit knows it (``NOTICE_NODES``)."""
    message: dict[str, Any] = {
        "type": "comfy.prompt",
        "prompt_id": prompt.prompt_id,
        "run": str(prompt.run_id),
    }
    if known is not None:
        node_types, constants = known
        message["nodes"] = [[node_id, node_type] for node_id, node_type in node_types.items()]
        message["constants"] = constants
    _send(user_group(prompt.user_id), message)


def known_translation(message: Mapping[str, Any]) -> Translation | None:
    """The translation a ``comfy.prompt`` notice carries, or None (a big prompt, or a notice without one)."""
    nodes, constants = message.get("nodes"), message.get("constants")
    if not isinstance(nodes, list) or not isinstance(constants, dict):
        return None
    return {str(node_id): str(node_type) for node_id, node_type in nodes}, constants


def notify_queue(user_id: Any) -> None:
    """Tell the user's sockets that their queue changed (prompts deleted or interrupted)."""
    _send(user_group(user_id), {"type": "comfy.queue"})


class PromptWatcher(Protocol):
    """A ComfyUI socket: whose prompts it follows, since when, which it has taken up already, and the runs its
    queue count holds."""

    user_id: int
    watch_from: datetime.datetime
    known_prompts: set[str]
    counted: set[str]

    async def discovered(self, prompt_id: str, run_id: str) -> None:
        """Take up a prompt whose ``comfy.prompt`` notice never came."""
        ...

    async def finished_elsewhere(self, finished: dict[str, int]) -> None:
        """Count off runs of its queue that have finished (``{hex id: stored last seq}``)."""
        ...


class PromptDiscovery(_Ticking):
    """The ComfyUI sockets of one event loop; each tick reads, in one query, the prompts their users submitted
    since the previous tick and hands each socket those it has not taken up (its notice was lost); and, in the
    same trip to the database, which runs the sockets count as queued have finished (a socket counts a prompt off
    its queue when it sends the prompt's finish; a run that finishes without an event, such as a queued run
    cancelled through the native API, is counted off here, within a heartbeat)."""

    def __init__(self) -> None:
        super().__init__()
        self.members: weakref.WeakSet[Any] = weakref.WeakSet()
        self.reconciled: datetime.datetime | None = None

    def add(self, watcher: PromptWatcher) -> None:
        self.members.add(watcher)
        self.start_ticking()

    def discard(self, watcher: PromptWatcher) -> None:
        self.members.discard(watcher)
        self.stop_ticking_if_idle()

    def has_members(self) -> bool:
        return len(self.members) > 0

    async def tick(self) -> None:
        watchers: list[PromptWatcher] = list(self.members)
        if not watchers:
            return
        since = min(watcher.watch_from for watcher in watchers)
        if self.reconciled is not None:  # prompts committed late still fall in the window
            since = max(since, self.reconciled - datetime.timedelta(seconds=2 * heartbeat_seconds()))
        now = timezone.now()
        counted = set().union(*(watcher.counted for watcher in watchers))
        found, finished = await _tick_reads({w.user_id for w in watchers}, since, counted)
        self.reconciled = now
        for watcher in watchers:
            if watcher not in self.members:
                continue  # disconnected meanwhile
            for user_id, prompt_id, run_id, created in found:
                mine = user_id == watcher.user_id and created >= watcher.watch_from
                if mine and prompt_id not in watcher.known_prompts:
                    logger.info("prompt %s: its notice was lost; following it from the database", prompt_id)
                    await watcher.discovered(prompt_id, run_id)
            theirs = {run_id: seq for run_id, seq in finished.items() if run_id in watcher.counted}
            if theirs and watcher in self.members:
                await watcher.finished_elsewhere(theirs)


def _tick_reads_sync(
    user_ids: set[int], since: datetime.datetime, counted: set[str]
) -> tuple[list[tuple[int, str, str, datetime.datetime]], dict[str, int]]:
    return _prompts_since(user_ids, since), _finished_runs(counted) if counted else {}


_tick_reads = database_sync_to_async(_tick_reads_sync)


def _finished_runs(run_ids: set[str]) -> dict[str, int]:
    """``{hex id: last_seq}`` of the runs among ``run_ids`` (hex ids) that are no longer queued or running (or are
    gone)."""
    rows = Run.objects.filter(pk__in=run_ids).values_list("pk", "status", "last_seq")
    present = {pk.hex: (status, seq) for pk, status, seq in rows}
    return {
        run_id: present[run_id][1] if run_id in present else 0
        for run_id in run_ids
        if run_id not in present or present[run_id][0] not in ACTIVE
    }


def _prompts_since(
    user_ids: set[int], since: datetime.datetime
) -> list[tuple[int, str, str, datetime.datetime]]:
    from backend.compat.models import ComfyPrompt

    rows = ComfyPrompt.objects.filter(user_id__in=user_ids, created__gte=since).order_by("created")
    return [
        (user_id, prompt_id, str(run_id), created)
        for user_id, prompt_id, run_id, created in rows.values_list(
            "user_id", "prompt_id", "run_id", "created"
        )
    ]


_discoveries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PromptDiscovery] = (
    weakref.WeakKeyDictionary()
)


def prompt_discovery() -> PromptDiscovery:
    """This event loop's prompt discovery."""
    loop = asyncio.get_running_loop()
    discovery = _discoveries.get(loop)
    if discovery is None:
        discovery = _discoveries[loop] = PromptDiscovery()
    return discovery


@dataclass(frozen=True)
class Preview:
    """A binary preview frame to send: the stored preview output's id and the node that sent it."""

    output_id: int
    node: str


@dataclass(frozen=True)
class QueueStatus:
    """Marks where the ``status`` message with the caller's remaining queue goes."""


Message = dict[str, Any] | Preview | QueueStatus


def output_images(results: Iterable[Mapping[str, Any]], prompt_id: str) -> dict[str, Any]:
    """ComfyUI's ``output`` of a node from our result references (images, videos, audio, text, data).

    As in ComfyUI, videos and animated images are listed under ``images`` with ``animated: [true]``, and audio
    under ``audio``.
    """
    output: dict[str, Any] = {}
    for ref in results:
        kind = ref.get("kind")
        if kind == "image":
            output.setdefault("images", []).append(image_ref(ref, prompt_id))
            if ref.get("content_type") == "image/webp":
                output["animated"] = [True]
        elif kind == "video":
            output.setdefault("images", []).append(image_ref(ref, prompt_id))
            output["animated"] = [True]
        elif kind == "audio":
            output.setdefault("audio", []).append(image_ref(ref, prompt_id))
        elif kind == "text":
            output.setdefault("text", []).append(ref.get("text", ""))
        elif kind == "json" and isinstance(ref.get("data"), Mapping):
            for key, value in ref["data"].items():
                output.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    return output


def image_ref(ref: Mapping[str, Any], prompt_id: str) -> dict[str, str]:
    """``{filename, subfolder, type}`` of one image result: ``/view`` finds it by the prompt id as subfolder."""
    return {
        "filename": ref.get("filename", ""),
        "subfolder": prompt_id,
        "type": "output" if ref.get("saved") else "temp",
    }


@dataclass
class PromptTranslator:
    """Translates one run's events, in ``seq`` order, into ComfyUI messages."""

    prompt_id: str
    node_types: dict[str, str]
    constants: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The nodes that finished, in order (a dict as an ordered set: a 5,000-node prompt checked a list per node)
    executed: dict[str, None] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    running: str | None = None
    failed_sent: bool = False
    finished: bool = False
    _pending_cached: list[str] | None = None
    _pending_time: float = 0.0

    def _data(self, event_time: float, **data: Any) -> dict[str, Any]:
        return {**data, "prompt_id": self.prompt_id, "timestamp": int(event_time * 1000)}

    def translate(self, event: Mapping[str, Any]) -> list[Message]:
        """The messages for one event."""
        kind = event["type"]
        node = event.get("node")
        data = event.get("data") or {}
        at = float(event.get("time") or 0.0)
        out: list[Message] = []
        if kind == "run_started":
            planned = set(data.get("nodes", ()))
            out.append({"type": "execution_start", "data": self._data(at)})
            self._pending_cached = [node_id for node_id in self.node_types if node_id not in planned]
            self._pending_time = at
            return out
        if kind == "nodes_cached":
            if self._pending_cached is not None:
                self._pending_cached.extend(data.get("nodes", ()))
            else:
                self.cached.extend(data.get("nodes", ()))
            return out
        out.extend(self._flush_cached())
        if kind == "node_started":
            self.running = node
            out.append(
                {
                    "type": "executing",
                    "data": {"node": node, "display_node": node, "prompt_id": self.prompt_id},
                }
            )
        elif kind == "progress":
            out.append(
                {
                    "type": "progress",
                    "data": {"value": data.get("value"), "max": data.get("max"), "prompt_id": self.prompt_id,
                             "node": node},
                }
            )  # fmt: skip
            preview = data.get("preview")
            if isinstance(preview, Mapping) and preview.get("id") is not None and node is not None:
                out.append(Preview(int(preview["id"]), node))
        elif kind == "node_finished":
            if node is not None:
                self.executed.setdefault(node, None)
            results = [ref for ref in data.get("results") or () if ref.get("kind") != "preview"]
            if results:
                out.append(
                    {
                        "type": "executed",
                        "data": {"node": node, "display_node": node,
                                 "output": output_images(results, self.prompt_id), "prompt_id": self.prompt_id},
                    }
                )  # fmt: skip
        elif kind == "node_failed":
            self.failed_sent = True
            out.append({"type": "execution_error", "data": self._error(node, data, at)})
        elif kind == "run_finished":
            out.extend(self._finish(data, at))
        return out

    def _flush_cached(self) -> list[Message]:
        if self._pending_cached is None:
            return []
        nodes, self._pending_cached = list(dict.fromkeys(self._pending_cached)), None
        self.cached.extend(nodes)
        return [{"type": "execution_cached", "data": self._data(self._pending_time, nodes=nodes)}]

    def _error(self, node: str | None, data: Mapping[str, Any], at: float) -> dict[str, Any]:
        traceback = data.get("traceback") or ""
        lines = traceback.splitlines(keepends=True) if traceback else []
        inputs = self.constants.get(node or "", {})
        return self._data(
            at,
            node_id=node,
            node_type=self.node_types.get(node or "", data.get("type")),
            executed=list(self.executed),
            exception_message=str(data.get("error", "")),
            exception_type=str(data.get("error_type", "")),
            traceback=lines,
            current_inputs={name: [value] for name, value in inputs.items()},
            current_outputs=[*self.cached, *self.executed],
        )

    def _finish(self, data: Mapping[str, Any], at: float) -> list[Message]:
        self.finished = True
        status = data.get("status")
        out: list[Message] = []
        if status == "succeeded":
            out.append({"type": "execution_success", "data": self._data(at)})
        elif status == "cancelled":
            out.append(
                {
                    "type": "execution_interrupted",
                    "data": self._data(at, node_id=self.running, node_type=self.node_types.get(self.running or ""),
                                       executed=list(self.executed)),
                }
            )  # fmt: skip
        elif not self.failed_sent:
            out.append(
                {"type": "execution_error", "data": self._error(None, {"error": data.get("error", "")}, at)}
            )
        out.append(QueueStatus())
        out.append({"type": "executing", "data": {"node": None, "prompt_id": self.prompt_id}})
        return out


def status_message(queue_remaining: int, sid: str | None = None) -> dict[str, Any]:
    """ComfyUI's ``status`` message (``sid`` only in the first one a socket gets)."""
    data: dict[str, Any] = {"status": {"exec_info": {"queue_remaining": queue_remaining}}}
    if sid is not None:
        data["sid"] = sid
    return {"type": "status", "data": data}
