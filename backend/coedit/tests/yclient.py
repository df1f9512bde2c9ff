"""A Yjs client in Python (pycrdt) over a test websocket: what a browser tab does, as the tests need it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.testing import WebsocketCommunicator
from pycrdt import (
    Doc,
    TransactionEvent,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    read_message,
    write_message,
)

from backend.coedit import rooms
from backend.coedit.document import document_from_doc


def sync_step2(update: bytes) -> bytes:
    """A sync step 2 message (the reply to a step 1) carrying ``update``."""
    return bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2]) + write_message(update)


class YClient:
    def __init__(self, communicator: WebsocketCommunicator | SocketCommunicator) -> None:
        self.communicator = communicator
        self.doc: Doc[Any] = Doc()
        self.notices: list[dict[str, Any]] = []
        self.awareness: dict[int, dict[str, Any] | None] = {}
        self.closed: int | None = None
        self._local: list[bytes] = []
        self.doc.observe(self._on_change)
        self._applying = False
        self.step2_seen = 0

    def _on_change(self, event: TransactionEvent) -> None:
        if not self._applying:
            self._local.append(event.update)

    async def connect(self) -> dict[str, Any]:
        connected, _ = await self.communicator.connect(timeout=5)
        assert connected
        # Until the server's sync step 2 (the room's state) is applied, not until a quiet spell: on a loaded
        # machine the server may be silent for longer than any pause while it loads the room.
        await self.sync()
        await self.pump()
        return self.notices[0] if self.notices else {}

    async def pump(self, timeout: float = 0.3) -> None:
        """Handle what the server sends until it is quiet for ``timeout`` seconds."""
        while self.closed is None:
            # receive_nothing, not a timed-out receive_output: that one cancels the application.
            if await self.communicator.receive_nothing(timeout=timeout):
                return
            message = await self.communicator.receive_output(timeout=1)
            if message["type"] == "websocket.close":
                self.closed = message.get("code")
                return
            if message.get("text") is not None:
                self.notices.append(json.loads(message["text"]))
                continue
            await self._handle(message["bytes"])

    async def _handle(self, data: bytes) -> None:
        if data[0] == YMessageType.SYNC:
            payload = read_message(data[2:])
            if data[1] == YSyncMessageType.SYNC_STEP1:
                await self.communicator.send_to(bytes_data=sync_step2(self.doc.get_update(payload)))
            else:
                if data[1] == YSyncMessageType.SYNC_STEP2:
                    self.step2_seen += 1
                self._applying = True
                try:
                    self.doc.apply_update(payload)
                finally:
                    self._applying = False
        elif data[0] == YMessageType.AWARENESS:
            for client_id, _, state in rooms.decode_awareness(read_message(data[1:])):
                self.awareness[client_id] = json.loads(state)

    async def flush(self) -> None:
        """Send the local edits made since the last flush, one update message each."""
        local, self._local = self._local, []
        for update in local:
            await self.communicator.send_to(bytes_data=create_update_message(update))

    async def sync(self) -> None:
        """Send what is pending and wait until the server has handled it (its reply to a sync step 1 comes after)."""
        await self.flush()
        seen = self.step2_seen
        await self.communicator.send_to(bytes_data=create_sync_message(self.doc))
        while self.step2_seen == seen and self.closed is None:
            message = await self.communicator.receive_output(timeout=5)
            if message["type"] == "websocket.close":
                self.closed = message.get("code")
            elif message.get("text") is not None:
                self.notices.append(json.loads(message["text"]))
            else:
                await self._handle(message["bytes"])

    async def announce(self, client_id: int, clock: int, state: dict[str, Any] | None) -> None:
        text = json.dumps(state)
        data = rooms.encode_awareness([(client_id, clock, text)])
        await self.communicator.send_to(bytes_data=create_awareness_message(data))

    def document(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return document_from_doc(self.doc)


class SocketCommunicator:
    """The part of ``WebsocketCommunicator`` YClient uses, over a real websocket (``websockets``), for tests
    against running web processes."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.socket: Any = None
        self.stash: list[dict[str, Any]] = []

    async def connect(self, timeout: float = 5) -> tuple[bool, None]:
        from websockets.asyncio.client import connect

        self.socket = await asyncio.wait_for(connect(self.url, additional_headers=self.headers), timeout)
        return True, None

    async def send_to(self, bytes_data: bytes) -> None:
        await self.socket.send(bytes_data)

    async def _next(self, timeout: float) -> dict[str, Any]:
        import websockets

        try:
            data = await asyncio.wait_for(self.socket.recv(), timeout)
        except websockets.ConnectionClosed as closed:
            return {"type": "websocket.close", "code": closed.rcvd.code if closed.rcvd else None}
        if isinstance(data, str):
            return {"type": "websocket.send", "text": data}
        return {"type": "websocket.send", "bytes": data}

    async def receive_nothing(self, timeout: float = 0.1) -> bool:
        if self.stash:
            return False
        try:
            self.stash.append(await self._next(timeout))
        except TimeoutError:
            return True
        return False

    async def receive_output(self, timeout: float = 1) -> dict[str, Any]:
        return self.stash.pop(0) if self.stash else await self._next(timeout)

    async def disconnect(self) -> None:
        await self.socket.close()
