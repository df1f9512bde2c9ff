"""ComfyUI's websocket (``/ws?clientId=``) over Flowyard's run events.

On connect the socket gets ``status`` (the caller's own queue, and its ``sid``), then follows every ComfyUI
prompt of the user that is queued or running, and each one the user submits while it is open (whatever its
``client_id``: a socket opened after submitting still gets the prompt's events, stored ones first). A prompt is
followed only while ``access_run`` lets the user see its run, checked when it is followed: a member removed from
a team gets nothing of that team's runs, their own included. A handshake signed in by HTTP Basic from another
site's page is refused (4403), as the session cookie is (``backend.asgi``). For each
followed run it joins the run's channel-layer group and replays stored events first, so every event is
translated once, in order (``live.PromptTranslator``); the process's run heartbeat (``backend.runs.feeds``)
replays from the database what a followed run's socket missed for good (a Redis outage), and
``live.PromptDiscovery`` finds the prompts whose ``comfy.prompt`` notice was lost. Progress previews go out as ComfyUI's binary frames:
``uint32 1`` (PREVIEW_IMAGE), ``uint32 1`` (JPEG; 2 for PNG), the bytes; or, to clients that sent
``feature_flags`` with ``supports_preview_metadata``, ``uint32 4``, ``uint32`` JSON length, the JSON metadata, the
bytes (``preview_frame``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone
from rest_framework.exceptions import NotFound

from backend.accounts.access import sees_run
from backend.accounts.authentication import authenticate_token
from backend.compat import history as comfy_history
from backend.compat.auth import handshake_token
from backend.compat.csrf import origin_is_site
from backend.compat.live import (
    Preview,
    PromptTranslator,
    QueueStatus,
    Translation,
    known_translation,
    prompt_discovery,
    status_message,
    user_group,
)
from backend.core.live import CLOSE_CROSS_SITE, CLOSE_UNAUTHENTICATED, LiveConsumerMixin
from backend.runs import feeds
from backend.runs.models import RunEvent, RunOutput
from backend.runs.publish import events_of, run_group
from backend.uploads.handlers import max_upload_bytes

logger = logging.getLogger(__name__)

REPLAY_PAGE = 500
PREVIEW_IMAGE = 1
PREVIEW_IMAGE_WITH_METADATA = 4
JPEG = 1
PNG = 2


@dataclass
class _Followed:
    run_id: str
    translator: PromptTranslator
    last_seq: int = 0


class ComfyConsumer(LiveConsumerMixin, AsyncWebsocketConsumer):
    """One ComfyUI client connection."""

    user: Any = None
    sid = ""
    supports_metadata = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.followed: dict[str, _Followed] = {}
        self.known_prompts: set[str] = set()  # prompts taken up (followed, finished, or not visible)
        # The runs (hex ids) of the user's prompts that were queued or running at the last count, less those this
        # socket has seen finish since: the queue a prompt's finish reports, without asking the database again (a new
        # prompt, a ComfyUI cancel and a connect count afresh; ``live.PromptDiscovery`` counts off within a
        # heartbeat the runs that finished without an event to send, such as a queued run cancelled elsewhere).
        self.counted: set[str] = set()
        self.watch_from = timezone.now()
        self.user_id = 0
        self.sending = asyncio.Lock()  # live batches, new prompts and heartbeat catch-ups take turns

    async def connect(self) -> None:
        await self.accept()
        path_token = self.scope.get("url_route", {}).get("kwargs", {}).get("token")
        raw, via = handshake_token(self.scope, path_token)
        if via == "basic" and _cross_site(self.scope):
            await self.close(code=CLOSE_CROSS_SITE)
            return
        if raw is not None:
            self.user = await database_sync_to_async(authenticate_token)(raw)
        else:
            user = self.scope.get("user")
            self.user = user if user is not None and user.is_authenticated else None
        if self.user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.sid = (query.get("clientId") or [""])[0][:200] or uuid.uuid4().hex
        self.user_id = self.user.pk
        self.watch_from = (
            timezone.now()
        )  # prompts created from now on are this socket's (notice or discovery)
        await self.join(user_group(self.user.pk))
        await self.send_status(sid=self.sid)
        for prompt_id, run_id in await _active_prompts_async(self.user):
            await self.follow(prompt_id, run_id)
        feeds.run_heartbeat().add(self)
        prompt_discovery().add(self)

    async def disconnect(self, code: int) -> None:
        feeds.run_heartbeat().discard(self)
        prompt_discovery().discard(self)
        await super().disconnect(code)

    def followed_seqs(self) -> dict[str, int]:
        return {run_id: followed.last_seq for run_id, followed in self.followed.items()}

    async def catch_up(self, run_id: str) -> None:
        async with self.sending:
            followed = self.followed.get(run_id)
            if followed is not None:
                await self.replay(followed)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not text_data or self.user is None:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "feature_flags":
            data = message.get("data")
            if not isinstance(data, dict):
                data = {}
            self.supports_metadata = bool(data.get("supports_preview_metadata"))
            flags = {"supports_preview_metadata": True, "max_upload_size": max_upload_bytes()}
            await self.send_json({"type": "feature_flags", "data": flags})

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message))

    async def send_status(self, sid: str | None = None) -> None:
        self.counted = await _active_runs(self.user)
        await self.send_json(status_message(len(self.counted), sid))

    # Following runs

    async def follow(
        self, prompt_id: str, run_id: str, *, status: bool = False, known: Translation | None = None
    ) -> None:
        """Follow the prompt's run: its stored events first, then the live ones. ``status``: send the queue's
        ``status`` first (a new prompt), read in the same trip to the database as the prompt and its events.
        ``known``: the prompt's translation, from its notice; the queue is then the one counted plus this
        prompt, and the trip only checks that the user may see the run and reads its stored events."""
        if prompt_id in self.known_prompts:
            if status:
                await self.send_status()
            return  # a notice and the discovery both found it, or it ended already
        self.known_prompts.add(prompt_id)
        async with self.sending:
            if run_id in self.followed:
                if status:
                    await self.send_status()
                return
            # Joined before the stored events are read, so no later event is missed; a layer that is down (a
            # Redis outage) leaves the run to the heartbeat's catch-up (``feeds``), as for a lost batch.
            try:
                await self.join(run_group(run_id))
            except Exception:
                logger.warning("run %s: could not join its group; the heartbeat replays it", run_id)
            # One trip to the database for what a new prompt needs (it was three or four: a burst's sockets
            # queued on the one thread that database calls share).
            counted, translator, events = await _take_up(
                self.user, prompt_id, run_id, status and known is None, known
            )
            if status and known is not None:
                counted = self.counted | ({uuid.UUID(run_id).hex} if translator is not None else set())
            if counted is not None:
                self.counted = counted
                await self.send_json(status_message(len(counted)))
            if translator is None:
                with contextlib.suppress(Exception):
                    await self.leave(run_group(run_id))
                return
            followed = self.followed[run_id] = _Followed(run_id, translator)
            await self.handle_events(followed, events)
            if len(events) >= REPLAY_PAGE:
                await self.replay(followed)

    async def replay(self, followed: _Followed, before: int | None = None) -> None:
        while True:
            events = await _stored_events_async(followed.run_id, followed.last_seq, before)
            await self.handle_events(followed, events)
            if len(events) < REPLAY_PAGE:
                return

    async def handle_events(self, followed: _Followed, events: list[dict[str, Any]]) -> None:
        for event in events:
            if followed.run_id not in self.followed:
                return  # finished (its last event was among them)
            await self.handle_event(followed, event)

    async def handle_event(self, followed: _Followed, event: dict[str, Any]) -> None:
        followed.last_seq = event["seq"]
        for message in followed.translator.translate(event):
            if isinstance(message, QueueStatus):  # the prompt's finish: one prompt less in the queue
                self.counted.discard(followed.run_id.replace("-", ""))
                await self.send_json(status_message(len(self.counted)))
            elif isinstance(message, Preview):
                await self.send_preview(followed.translator.prompt_id, message)
            else:
                await self.send_json(message)
        if followed.translator.finished:
            self.followed.pop(followed.run_id, None)
            await self.leave(run_group(followed.run_id))

    async def send_preview(self, prompt_id: str, preview: Preview) -> None:
        found = await database_sync_to_async(_preview_bytes)(preview.output_id)
        if found is None:
            return  # replaced by a newer preview of the node since (only the latest is kept)
        image, content_type = found
        frame = preview_frame(
            image, content_type, prompt_id=prompt_id, node=preview.node, metadata=self.supports_metadata
        )
        await self.send(bytes_data=frame)

    # Channel-layer messages

    async def run_events(self, message: dict[str, Any]) -> None:
        """A stored batch of a followed run's events: forward what this socket has not had, in order."""
        async with self.sending:
            await self._forward(message)

    async def _forward(self, message: dict[str, Any]) -> None:
        followed = self.followed.get(str(message.get("run")))
        if followed is None:
            return
        if message["last"] <= followed.last_seq:
            return
        for event in events_of(message):
            if followed.run_id not in self.followed:
                return
            seq = event["seq"]
            if seq <= followed.last_seq:
                continue
            if seq > followed.last_seq + 1:
                await self.replay(followed, before=seq)
            await self.handle_event(followed, event)

    async def comfy_prompt(self, message: dict[str, Any]) -> None:
        """The user queued a prompt: report the longer queue and follow it."""
        if message["prompt_id"] in self.known_prompts:
            return  # taken up already: its notice was held through an outage and the discovery came first
        await self.follow(message["prompt_id"], message["run"], status=True, known=known_translation(message))

    async def discovered(self, prompt_id: str, run_id: str) -> None:
        """A prompt the user queued whose notice was lost (``live.PromptDiscovery``): as ``comfy_prompt``."""
        await self.follow(prompt_id, run_id, status=True)

    async def comfy_queue(self, message: dict[str, Any]) -> None:
        await self.send_status()

    async def finished_elsewhere(self, finished: dict[str, int]) -> None:
        """Runs counted in the queue that have finished (``{hex id: stored last seq}``, from the discovery's tick).
        A followed run whose stored events were all sent without a finish among them (a queued run cancelled: no
        event) is let go; the queue is counted off and sent when it shrank. Runs with events still to send are
        counted off at their finish, in order."""
        async with self.sending:
            shrank = False
            for key, last_seq in finished.items():
                run_id = str(uuid.UUID(key))
                followed = self.followed.get(run_id)
                if followed is not None:
                    if followed.last_seq < last_seq:
                        continue
                    del self.followed[run_id]
                    with contextlib.suppress(Exception):
                        await self.leave(run_group(run_id))
                if key in self.counted:
                    self.counted.discard(key)
                    shrank = True
            if shrank:
                await self.send_json(status_message(len(self.counted)))


def preview_frame(image: bytes, content_type: str, *, prompt_id: str, node: str, metadata: bool) -> bytes:
    """ComfyUI's binary preview frame for ``image`` (what a socket sends; its ``len`` is the preview's cost)."""
    if metadata:
        meta = json.dumps(
            {
                "node_id": node,
                "prompt_id": prompt_id,
                "display_node_id": node,
                "parent_node_id": None,
                "real_node_id": node,
                "image_type": content_type,
            }
        ).encode()
        return struct.pack(">II", PREVIEW_IMAGE_WITH_METADATA, len(meta)) + meta + image
    return struct.pack(">II", PREVIEW_IMAGE, PNG if content_type == "image/png" else JPEG) + image


def _cross_site(scope: dict[str, Any]) -> bool:
    """True when the handshake's ``Origin`` is another site's (no ``Origin``: not a browser)."""
    headers = {name.lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    origin = headers.get(b"origin")
    if origin is None:
        return False
    secure = scope.get("scheme") in ("wss", "https")
    return not origin_is_site(origin, headers.get(b"host", ""), secure)


def _active_prompts(user: Any) -> list[tuple[str, str]]:
    rows = comfy_history.user_prompts(user).filter(run__status__in=comfy_history.ACTIVE).order_by("created")
    return [(prompt_id, str(run_id)) for prompt_id, run_id in rows.values_list("prompt_id", "run_id")]


def _translator(user: Any, prompt_id: str) -> PromptTranslator | None:
    """The prompt's translator, if the user may see its run (``access_run``)."""
    try:
        record = comfy_history.access_prompt(user, prompt_id)
    except NotFound:
        return None
    return comfy_history.translator_for(record)


def _take_up_sync(
    user: Any, prompt_id: str, run_id: str, count: bool, known: Translation | None = None
) -> tuple[set[str] | None, PromptTranslator | None, list[dict[str, Any]]]:
    """For a prompt a socket takes up: the user's queue (``active_prompt_runs``, when ``count``), its translator
    (None when the user may not see its run; made from ``known`` when its notice carried it) and the first page
    of its stored events."""
    counted = comfy_history.active_prompt_runs(user) if count else None
    if known is not None:
        translator = PromptTranslator(prompt_id, *known) if sees_run(user, run_id) else None
    else:
        translator = _translator(user, prompt_id)
    events = _stored_events(run_id, 0, None) if translator is not None else []
    return counted, translator, events


def _stored_events(run_id: str, after: int, before: int | None) -> list[dict[str, Any]]:
    events = RunEvent.objects.filter(run_id=run_id, seq__gt=after)
    if before is not None:
        events = events.filter(seq__lt=before)
    return [event.to_json() for event in events.order_by("seq")[:REPLAY_PAGE]]


# Built once: a SyncToAsync wrapper per call cost as much as the call's hop to the database thread.
_take_up = database_sync_to_async(_take_up_sync)
_active_runs = database_sync_to_async(comfy_history.active_prompt_runs)
_stored_events_async = database_sync_to_async(_stored_events)
_active_prompts_async = database_sync_to_async(_active_prompts)


def _preview_bytes(output_id: int) -> tuple[bytes, str] | None:
    from backend.storage.blobs import BlobNotFound, get_blob_store

    row = RunOutput.objects.filter(pk=output_id).values_list("blob_sha", "content_type").first()
    if row is None or not row[0]:
        return None
    try:
        with get_blob_store().open(row[0]) as handle:
            return handle.read(), row[1] or "image/png"
    except BlobNotFound:
        return None
