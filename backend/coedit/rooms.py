"""One room per co-edited workflow per web process: the draft's Y.Doc in memory and who is connected here.

Every process that has sockets on a workflow holds its own copy of the document. An update a writer sends is
applied to the local copy, stored (``DraftUpdate``), then published to the workflow's group; every process
applies what the group brings once (by the update's id) and forwards it to its sockets. A room is loaded from the
database (snapshot and later updates) by its first socket and dropped, after a compaction, with its last.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from pycrdt import Decoder, Doc, Encoder, TransactionEvent

from backend.coedit import store

COMPACT_EVERY = 200  # stored updates folded into the snapshot each time this many were added by one room
# How often a room reads what it may have missed: the channel layer delivers at most once (Redis drops what is
# published while a process is away from it), so each room checks the database itself.
CATCH_UP_SECONDS = 5.0


def group_name(workflow_id: int) -> str:
    return f"coedit.{workflow_id}"


def decode_awareness(data: bytes) -> list[tuple[int, int, str]]:
    """The entries of an awareness update: (client id, clock, state as JSON text, "null" when it left)."""
    decoder = Decoder(data)
    entries = []
    for _ in range(decoder.read_var_uint()):
        client_id = decoder.read_var_uint()
        clock = decoder.read_var_uint()
        entries.append((client_id, clock, decoder.read_var_string()))
    return entries


def encode_awareness(entries: list[tuple[int, int, str]]) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(len(entries))
    for client_id, clock, state in entries:
        encoder.write_var_uint(client_id)
        encoder.write_var_uint(clock)
        encoder.write_var_string(state)
    return encoder.to_bytes()


@dataclass
class Room:
    workflow_id: int
    doc: Doc = field(default_factory=Doc)
    applied: set[int] = field(default_factory=set)
    sockets: set[Any] = field(default_factory=set)
    # Awareness entries seen (client id -> (clock, state JSON)), sent to each socket that joins.
    awareness: dict[int, tuple[int, str]] = field(default_factory=dict)
    added_since_compaction: int = 0
    merged_seen: int = 0  # the snapshot's updates_merged when this room last read it
    catching_up: asyncio.Task[None] | None = None
    _changed: bytes | None = None

    def __post_init__(self) -> None:
        self.doc.observe(self._on_change)

    def _on_change(self, event: TransactionEvent) -> None:
        self._changed = event.update

    def load(self, state: bytes, updates: list[tuple[int, bytes]], merged: int = 0) -> None:
        self.doc.apply_update(state)
        self.merged_seen = merged
        for pk, update in updates:
            self.apply_stored(pk, update)

    async def catch_up(self) -> int:
        """Apply what the database holds and this room lacks, and send it to the sockets here; returns how many
        changes that made (0 in the usual case: the group brought everything)."""
        from pycrdt import create_update_message

        state, self.merged_seen, updates = await database_sync_to_async(store.load_missing)(
            self.workflow_id, set(self.applied), self.merged_seen
        )
        changes = []
        for update in ([state] if state is not None else []) + [update for _, update in updates]:
            changed = self.apply(update)
            if changed is not None:
                changes.append(changed)
        self.applied.update(pk for pk, _ in updates)
        for changed in changes:
            for socket in list(self.sockets):
                await socket.send(bytes_data=create_update_message(changed))
        return len(changes)

    async def keep_up(self) -> None:
        while True:
            await asyncio.sleep(CATCH_UP_SECONDS)
            await self.catch_up()

    def apply(self, update: bytes) -> bytes | None:
        """Apply a writer's update; returns what it changed (an update), or None when it changed nothing."""
        self._changed = None
        self.doc.apply_update(update)
        changed, self._changed = self._changed, None
        return changed

    def apply_stored(self, pk: int, update: bytes) -> None:
        """Apply a stored update once (the group brings every process each update, its own ones included)."""
        if pk not in self.applied:
            self.applied.add(pk)
            self.doc.apply_update(update)

    def record_awareness(self, entries: list[tuple[int, int, str]]) -> None:
        for client_id, clock, state in entries:
            known = self.awareness.get(client_id)
            if known is None or known[0] <= clock:
                self.awareness[client_id] = (clock, state)

    def awareness_snapshot(self) -> bytes | None:
        """Every present client's awareness state as one update, None when nobody is there."""
        present = [(cid, clock, state) for cid, (clock, state) in self.awareness.items() if state != "null"]
        return encode_awareness(present) if present else None

    def leave_entries(self, client_ids: set[int]) -> list[tuple[int, int, str]]:
        """Awareness entries saying these clients left (a higher clock and a null state)."""
        return [(cid, self.awareness[cid][0] + 1, "null") for cid in client_ids if cid in self.awareness]

    async def compact(self) -> None:
        self.added_since_compaction = 0
        await database_sync_to_async(store.compact)(self.workflow_id)
        # Ids of folded updates can be forgotten: one arriving late again is applied again, which changes nothing.
        # The next catch-up reads the new snapshot once (its count changed), which changes nothing either.
        self.applied.clear()


_rooms: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Room]] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def rooms_here() -> dict[int, Room]:
    """The rooms of this event loop (one per process in production)."""
    return _rooms.setdefault(asyncio.get_running_loop(), {})


async def enter(workflow_id: int, socket: Any) -> Room:
    """The workflow's room, loaded from the database for its first socket, with ``socket`` in it."""
    locks = _locks.setdefault(asyncio.get_running_loop(), {})
    async with locks.setdefault(workflow_id, asyncio.Lock()):
        room = rooms_here().get(workflow_id)
        if room is None:
            room = Room(workflow_id)
            state, merged, updates = await database_sync_to_async(store.load_draft_counted)(workflow_id)
            room.load(state, updates, merged)
            room.catching_up = asyncio.get_running_loop().create_task(room.keep_up())
            rooms_here()[workflow_id] = room
        room.sockets.add(socket)
        return room


async def leave(room: Room, socket: Any) -> None:
    """Take ``socket`` out; the last one out compacts the draft and drops the room."""
    locks = _locks.setdefault(asyncio.get_running_loop(), {})
    async with locks.setdefault(room.workflow_id, asyncio.Lock()):
        room.sockets.discard(socket)
        if room.sockets:
            return
        if rooms_here().get(room.workflow_id) is room:
            del rooms_here()[room.workflow_id]
        if room.catching_up is not None:
            room.catching_up.cancel()
        await room.compact()


def stamp_awareness(entries: list[tuple[int, int, str]], user: dict[str, Any]) -> list[tuple[int, int, str]]:
    """Entries with the sender's real identity written over whatever ``user.id`` and ``user.name`` claimed."""
    stamped = []
    for client_id, clock, text in entries:
        try:
            state = json.loads(text)
        except ValueError:
            continue
        if isinstance(state, dict):
            claimed = state["user"] if isinstance(state.get("user"), dict) else {}
            state["user"] = {**claimed, **user}
            text = json.dumps(state, separators=(",", ":"))
        elif state is not None:
            continue
        stamped.append((client_id, clock, text))
    return stamped
