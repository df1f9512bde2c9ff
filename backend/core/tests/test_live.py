"""The websocket plumbing of backend/core/live.py: the embedded channel layer and keeping the Redis pub/sub
layer's receiver awake."""

from __future__ import annotations

import asyncio

import pytest

from backend.core import live
from backend.core.live import LocalChannelLayer, RedisLayer
from backend.runs.tests.services import checked_redis_url


def test_the_local_layer_hands_one_shared_message_to_every_member_of_a_group():
    async def scenario():
        layer = LocalChannelLayer(capacity=2)
        channels = [await layer.new_channel() for _ in range(3)]
        for channel in channels:
            await layer.group_add("run.1", channel)
        await layer.group_add("run.2", channels[0])
        message = {"type": "run.events", "frame": "[]"}
        await layer.group_send("run.1", message)
        received = [await layer.receive(channel) for channel in channels]
        assert all(got is message for got in received)  # shared, not copied per receiver
        # A full receiver misses the message; the others still get it.
        await layer.group_send("run.1", {"type": "a"})
        await layer.group_send("run.1", {"type": "b"})
        await layer.group_send("run.1", {"type": "c"})
        assert [(await layer.receive(channels[1]))["type"] for _ in range(2)] == ["a", "b"]
        await layer.group_discard("run.1", channels[2])
        await layer.group_send("run.2", {"type": "other"})
        assert (await layer.receive(channels[0]))["type"] == "a"

    asyncio.run(scenario())


def test_the_local_layer_still_expires_old_messages_and_memberships(monkeypatch):
    async def scenario():
        layer = LocalChannelLayer(expiry=1, group_expiry=1)
        channel = await layer.new_channel()
        await layer.group_add("run.1", channel)
        await layer.group_send("run.1", {"type": "stale"})
        monkeypatch.setattr(live, "CLEAN_EVERY_SECONDS", 0.0)
        real_time = live.time.time
        monkeypatch.setattr(live.time, "time", lambda: real_time() + 5)  # everything above is now old
        layer._clean_expired()
        assert channel not in layer.channels and channel not in layer.groups.get("run.1", {})

    asyncio.run(scenario())


@pytest.mark.django_db
def test_the_redis_layer_keeps_its_receiver_subscribed_when_every_socket_is_gone():
    url = checked_redis_url()

    async def scenario():
        layer = RedisLayer(hosts=[{"address": url, "socket_timeout": None}])
        try:
            channel = await layer.new_channel()  # a socket's channel: the first on this loop
            await layer.group_add("run.x", channel)
            await layer.group_discard("run.x", channel)
            loop_layer = layer._get_layer()
            [shard] = loop_layer._shards
            await shard.unsubscribe(channel)  # the last socket's own channel goes too
            await asyncio.sleep(0.5)  # the receiver reads Redis' confirmations of the unsubscriptions
            # Without the listening channel the receiver would now sleep 100 ms between checks.
            assert shard._pubsub.subscribed
            listening = [name for name in loop_layer.channels if "flowyard.listening." in name]
            assert len(listening) == 1
            await layer.new_channel()  # one listening channel per loop, not per socket
            assert [name for name in loop_layer.channels if "flowyard.listening." in name] == listening
            # A socket that subscribes now gets its message.
            late = await layer.new_channel()
            await layer.group_add("run.y", late)
            await layer.group_send("run.y", {"type": "run.events"})
            assert (await asyncio.wait_for(layer.receive(late), 5))["type"] == "run.events"
        finally:
            await layer.flush()

    asyncio.run(scenario())


def test_the_local_layer_remembers_the_loop_its_consumers_wait_on():
    layer = LocalChannelLayer()

    async def make_channel():
        await layer.new_channel()
        return asyncio.get_running_loop()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(make_channel()) is layer.loop is loop
    finally:
        loop.close()
