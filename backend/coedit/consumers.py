"""``ws/workflows/<id>/doc/``: the Yjs sync and awareness protocols (as y-websocket speaks them) for one
workflow's draft. Protocol: docs/api.md and docs/architecture.md, "Live co-editing".

Binary frames are Yjs messages: ``[0, 0, state]`` sync step 1, ``[0, 1, update]`` sync step 2, ``[0, 2, update]``
an update, ``[1, awareness update]``. Text frames are JSON the server sends about the session:
``{"type": "welcome", "can_write", "user"}`` first, ``{"type": "read_only", "message"}`` when an update of a
read-only member was dropped, ``{"type": "access_changed", "can_write"}`` after a change of role,
``{"type": "version_saved", "version", "created", "source"}`` when a version of the workflow was saved (by anyone,
any way: the draft saved, a version posted, a restore), after the updates that were stored before it.

Editors and above write; viewers and runners read (they receive every update and the presence of others, and the
server drops their updates). A member removed from the team, or whose workflow became invisible to them, is
disconnected with ``CLOSE_NOT_FOUND`` as soon as the change is committed (``signals.py``).
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from pycrdt import (
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    read_message,
    write_message,
)
from rest_framework.exceptions import NotFound

from backend.accounts.access import access_workflow_draft
from backend.coedit import rooms, store
from backend.core.live import CLOSE_BAD_REQUEST, CLOSE_NOT_FOUND, CLOSE_SERVER_ERROR, LiveConsumerMixin

EMPTY_UPDATE = b"\x00\x00"


def workspace_group(workspace_id: int) -> str:
    return f"coedit.workspace.{workspace_id}"


def sync_step2(update: bytes) -> bytes:
    """A sync step 2 message (the reply to a step 1) carrying ``update``."""
    return bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2]) + write_message(update)


class DocumentConsumer(LiveConsumerMixin, AsyncWebsocketConsumer):
    room: rooms.Room | None = None
    can_write = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_ids: set[int] = set()  # awareness clients this socket spoke for

    async def connect(self) -> None:
        user = await self.accept_signed_in()
        if user is None:
            return
        self.user = user
        self.workflow_id = int(self.scope["url_route"]["kwargs"]["workflow_id"])
        found = await database_sync_to_async(_access)(user, self.workflow_id)
        if found is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.workspace_id, self.can_write = found
        self.identity = {"id": user.pk, "name": user.get_username()}
        await self.join(rooms.group_name(self.workflow_id))
        await self.join(workspace_group(self.workspace_id))
        self.room = await rooms.enter(self.workflow_id, self)
        await self.send(
            text_data=json.dumps({"type": "welcome", "can_write": self.can_write, "user": self.identity})
        )
        await self.send(bytes_data=create_sync_message(self.room.doc))
        snapshot = self.room.awareness_snapshot()
        if snapshot is not None:
            await self.send(bytes_data=create_awareness_message(snapshot))

    async def disconnect(self, code: int) -> None:
        room, self.room = self.room, None
        if room is not None:
            gone = room.leave_entries(self.client_ids)
            if gone:
                room.record_awareness(gone)
                await self.channel_layer.group_send(
                    rooms.group_name(self.workflow_id),
                    {
                        "type": "coedit.awareness",
                        "data": rooms.encode_awareness(gone),
                        "sender": self.channel_name,
                    },
                )
            await rooms.leave(room, self)
        await super().disconnect(code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.room is None:
            return
        if not bytes_data:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        try:
            if bytes_data[0] == YMessageType.SYNC:
                await self.receive_sync(bytes_data[1], read_message(bytes_data[2:]))
            elif bytes_data[0] == YMessageType.AWARENESS:
                await self.receive_awareness(read_message(bytes_data[1:]))
        except (IndexError, ValueError, RuntimeError, AssertionError):
            await self.close(code=CLOSE_BAD_REQUEST)

    async def receive_sync(self, kind: int, payload: bytes) -> None:
        assert self.room is not None
        if kind == YSyncMessageType.SYNC_STEP1:
            await self.send(bytes_data=sync_step2(self.room.doc.get_update(payload)))
            return
        if payload == EMPTY_UPDATE:
            return
        if not self.can_write:
            # Step 2 is the handshake's reply: a reader's holds nothing of its own; only real edits are reported.
            if kind == YSyncMessageType.SYNC_UPDATE:
                message = "You can view this workflow but not edit it: your change was not saved."
                await self.send(text_data=json.dumps({"type": "read_only", "message": message}))
            return
        changed = self.room.apply(payload)
        if changed is None:
            return
        try:
            pk = await database_sync_to_async(store.append_update)(self.workflow_id, self.user.pk, changed)
        except Exception:
            # The copy in memory is ahead of the database: drop the room so that the next socket reloads it.
            rooms.rooms_here().pop(self.workflow_id, None)
            await self.close(code=CLOSE_SERVER_ERROR)
            raise
        self.room.applied.add(pk)
        self.room.added_since_compaction += 1
        await self.channel_layer.group_send(
            rooms.group_name(self.workflow_id),
            {"type": "coedit.update", "id": pk, "update": changed, "sender": self.channel_name},
        )
        if self.room.added_since_compaction >= rooms.COMPACT_EVERY:
            await self.room.compact()

    async def receive_awareness(self, payload: bytes) -> None:
        assert self.room is not None
        entries = rooms.stamp_awareness(rooms.decode_awareness(payload), self.identity)
        if not entries:
            return
        self.client_ids.update(cid for cid, _, state in entries if state != "null")
        self.room.record_awareness(entries)
        await self.channel_layer.group_send(
            rooms.group_name(self.workflow_id),
            {
                "type": "coedit.awareness",
                "data": rooms.encode_awareness(entries),
                "sender": self.channel_name,
            },
        )

    async def coedit_update(self, message: dict[str, Any]) -> None:
        if self.room is None:
            return
        self.room.apply_stored(message["id"], message["update"])
        if message["sender"] != self.channel_name:
            await self.send(bytes_data=create_update_message(message["update"]))

    async def coedit_awareness(self, message: dict[str, Any]) -> None:
        if self.room is None:
            return
        self.room.record_awareness(rooms.decode_awareness(message["data"]))
        if message["sender"] != self.channel_name:
            await self.send(bytes_data=create_awareness_message(message["data"]))

    async def coedit_version(self, message: dict[str, Any]) -> None:
        """A version of the workflow was saved (``signals.publish_version_saved``): the tab learns the latest."""
        if self.room is None:
            return
        notice = {"type": "version_saved", **{key: message[key] for key in ("version", "created", "source")}}
        await self.send(text_data=json.dumps(notice))

    async def coedit_membership(self, message: dict[str, Any]) -> None:
        """A membership of this workspace changed: check this socket's access again if it is theirs."""
        if self.room is None or message["user_id"] != self.user.pk:
            return
        found = await database_sync_to_async(_access)(self.user, self.workflow_id)
        if found is None:
            await self.close(code=CLOSE_NOT_FOUND)
            await self.disconnect(CLOSE_NOT_FOUND)
            return
        if found[1] != self.can_write:
            self.can_write = found[1]
            await self.send(text_data=json.dumps({"type": "access_changed", "can_write": self.can_write}))


def _access(user: Any, workflow_id: int) -> tuple[int, bool] | None:
    try:
        workflow, can_write = access_workflow_draft(user, workflow_id)
    except NotFound:
        return None
    return workflow.workspace_id, can_write
