"""Websocket plumbing shared by every consumer: the two channel layers and the consumers' common part.

All of it exists for fan-out: one run watched by hundreds of sockets in one web process. Channels' defaults
cost, per published batch and per socket, a deep copy of the message, a sweep of every queue and group for
expired entries, and a round trip to a worker thread; with 200 sockets that is 200 copies, 40,000 checks and
200 serialized thread hops for every batch of events (benchmarks/api.py, ``api.ws_fanout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

CLEAN_EVERY_SECONDS = 1.0


class LocalChannelLayer(InMemoryChannelLayer):
    """The embedded default's channel layer (one process, the local dispatcher): Channels' in-memory layer with
    shared messages and an occasional expiry sweep.

    A message is put in every receiver's queue as is rather than deep-copied per receiver: receivers must treat
    messages as read-only (ours do; publishers build a fresh message per send). Expired messages and group
    memberships are swept at most once per ``CLEAN_EVERY_SECONDS`` instead of on every send and receive.
    """

    _cleaned = 0.0
    # The loop the consumers wait on (set when they make their channels): publishers on other threads put
    # messages in through it, since the layer's queues wake only that loop (backend/runs/publish.py).
    loop: asyncio.AbstractEventLoop | None = None

    async def new_channel(self, prefix: str = "specific.") -> str:
        self.loop = asyncio.get_running_loop()
        channel: str = await super().new_channel(prefix)
        return channel

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned < CLEAN_EVERY_SECONDS:
            return
        self._cleaned = now
        super()._clean_expired()

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        # Direct puts instead of one task per receiver; a full receiver misses the message, as in Channels.
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)


class RedisLayer(RedisPubSubChannelLayer):
    """The production channel layer: channels-redis' pub/sub layer, kept listening between sockets.

    Its receiver sleeps 100 ms whenever it has no subscription at all, and a socket that subscribes during that
    sleep gets nothing until it ends: on a quiet server the first events of a run came up to 100 ms late. The
    first channel made on an event loop is preceded by one that nobody sends to, which keeps a subscription
    open for good.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listening: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    async def new_channel(self, prefix: str = "specific.") -> str:
        layer = self._get_layer()
        loop = asyncio.get_running_loop()
        if loop not in self._listening:
            await layer.new_channel(prefix="flowyard.listening.")
            self._listening.add(loop)  # after: a channel that failed (Redis down) is made next time
        channel: str = await layer.new_channel(prefix)
        return channel

    async def flush(self) -> None:
        """Flush this loop's layer as channels-redis does; its listening channel goes with it, so the next channel
        made on the loop is preceded by a new one."""
        await self._get_layer().flush()
        self._listening.discard(asyncio.get_running_loop())


# Websocket close codes, one table for every consumer (sent after accepting, so that browsers see them: a refused
# handshake shows only 1006). docs/api.md lists them.
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_CROSS_SITE = 4403
CLOSE_NOT_FOUND = 4404  # missing and forbidden alike, as the HTTP API answers 404 for both
CLOSE_RESYNC = 4408  # ws/events/: the socket fell too far behind; reload from the API and reconnect
CLOSE_SERVER_ERROR = 4500  # the server could not store what was sent: reconnect


class LiveConsumerMixin:
    """What every Flowyard websocket consumer shares: the signed-in handshake, group membership left on
    disconnect, and dispatch straight to the handlers.

    Channels (4.2 and later) first runs ``close_old_connections`` through ``sync_to_async`` before every handler:
    a round trip to the one thread that sync code shares, per message per socket. Our consumers reach the
    database only through ``database_sync_to_async``, which closes stale connections around each call itself,
    so the extra hop buys nothing and serializes fan-out behind that thread.
    """

    channel_layer: Any
    channel_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups_joined: list[str] = []

    async def accept_signed_in(self) -> Any:
        """Accept the handshake and return the signed-in user; without one, close with
        ``CLOSE_UNAUTHENTICATED`` and return None."""
        consumer: Any = self  # a Channels websocket consumer, which this is mixed into
        await consumer.accept()
        user = consumer.scope.get("user")
        if user is None or not user.is_authenticated:
            await consumer.close(code=CLOSE_UNAUTHENTICATED)
            return None
        return user

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)
        if group in self.groups_joined:
            self.groups_joined.remove(group)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
