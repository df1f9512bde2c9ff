"""The channel layers' contract: Flowyard's layers (``backend/core/live.py``) and the publish path that drives
them (``backend/runs/publish.py``) go through the behaviours that Channels' own layer tests
(``tests/test_inmemorychannel.py``) and channels_redis' (``tests/test_pubsub.py``) check.

Every behaviour runs against the stock layer too, so the suite is known to describe Channels and not ours: after
an upgrade, a behaviour that the stock layer still has and ours lost fails here. ``LocalChannelLayer`` re-implements
``send`` and ``group_send`` on Channels' private structures, and ``RedisLayer`` reaches into the pub/sub layer's
per-loop layer; the "machinery" tests pin those structures on the stock classes, so a change in them fails even
before a behaviour breaks.

Deliberate differences, not part of the contract (``backend/core/live.py`` says why): the local layer hands every
receiver the same message instead of a deep copy, and sweeps expired messages at most once per
``CLEAN_EVERY_SECONDS`` (the expiry tests set it to 0).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer

from backend.core import live
from backend.core.live import LocalChannelLayer, RedisLayer
from backend.runs import publish
from backend.runs.tests.services import checked_redis_url

LOCAL_LAYERS = pytest.mark.parametrize(
    "layer_class", [InMemoryChannelLayer, LocalChannelLayer], ids=["channels", "flowyard"]
)
REDIS_LAYERS = pytest.mark.parametrize(
    "layer_class", [RedisPubSubChannelLayer, RedisLayer], ids=["channels", "flowyard"]
)
NOTHING_ARRIVES_SECONDS = 0.3  # how long a receive waits for a message that must not come


Scenario = Callable[[], Coroutine[Any, Any, None]]


def run(scenario: Scenario) -> None:
    asyncio.run(scenario())


async def nothing_arrives(layer: Any, channel: str) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), NOTHING_ARRIVES_SECONDS)
    except TimeoutError:
        return True
    return False


@pytest.fixture
def sweep_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "CLEAN_EVERY_SECONDS", 0.0)


# --- in-memory: the embedded default's layer --------------------------------------------------------------------


@LOCAL_LAYERS
def test_a_message_sent_to_a_channel_is_received(layer_class: type[InMemoryChannelLayer]) -> None:
    async def scenario() -> None:
        layer = layer_class(capacity=3)
        await layer.send("test-channel-1", {"type": "test.message", "text": "Ahoy-hoy!"})
        message = await layer.receive("test-channel-1")
        assert message == {"type": "test.message", "text": "Ahoy-hoy!"}

    run(scenario)


@LOCAL_LAYERS
def test_a_full_channel_refuses_the_next_message(layer_class: type[InMemoryChannelLayer]) -> None:
    async def scenario() -> None:
        layer = layer_class(capacity=3)
        for _ in range(3):
            await layer.send("test-channel-1", {"type": "test.message"})
        with pytest.raises(ChannelFull):
            await layer.send("test-channel-1", {"type": "test.message"})
        # Receiving makes room again.
        await layer.receive("test-channel-1")
        await layer.send("test-channel-1", {"type": "test.message"})

    run(scenario)


@LOCAL_LAYERS
def test_each_channel_s_queue_is_sized_by_get_capacity(layer_class: type[InMemoryChannelLayer]) -> None:
    async def scenario() -> None:
        layer = layer_class(capacity=100)
        # Channels' in-memory layer keeps a channel_capacity argument as given, and get_capacity reads compiled
        # patterns (4.3: only the Redis layers compile it), so the patterns are compiled here.
        layer.channel_capacity = layer.compile_capacities({"small*": 1, "http.request": 2})
        assert layer.get_capacity("small.one") == 1 and layer.get_capacity("other") == 100
        await layer.send("small.one", {"type": "a"})
        with pytest.raises(ChannelFull):
            await layer.send("small.one", {"type": "b"})
        await layer.send("http.request", {"type": "a"})
        await layer.send("http.request", {"type": "b"})
        with pytest.raises(ChannelFull):
            await layer.send("http.request", {"type": "c"})

    run(scenario)


@LOCAL_LAYERS
def test_a_process_local_channel_gets_its_message(layer_class: type[InMemoryChannelLayer]) -> None:
    async def scenario() -> None:
        layer = layer_class(capacity=3)
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "test.message", "text": "Local only please"})
        assert (await layer.receive(channel))["text"] == "Local only please"

    run(scenario)


@LOCAL_LAYERS
def test_new_channel_names_are_valid_distinct_and_keep_their_prefix(
    layer_class: type[InMemoryChannelLayer],
) -> None:
    async def scenario() -> None:
        layer = layer_class()
        names = [await layer.new_channel() for _ in range(200)]
        assert len(set(names)) == len(names)
        for name in names:
            assert name.startswith("specific.") and "!" in name
            layer.require_valid_channel_name(name)
        named = await layer.new_channel(prefix="run-watch")
        assert named.startswith("run-watch")
        layer.require_valid_channel_name(named)

    run(scenario)


@LOCAL_LAYERS
def test_messages_come_out_of_a_channel_in_the_order_they_went_in(
    layer_class: type[InMemoryChannelLayer],
) -> None:
    async def scenario() -> None:
        layer = layer_class(capacity=3)
        for number in (1, 2, 3):
            await layer.send("test-channel-3", {"type": f"message.{number}"})
        assert [(await layer.receive("test-channel-3"))["type"] for _ in range(3)] == [
            "message.1",
            "message.2",
            "message.3",
        ]

    run(scenario)


@LOCAL_LAYERS
def test_a_group_send_reaches_the_members_and_not_a_discarded_one(
    layer_class: type[InMemoryChannelLayer],
) -> None:
    async def scenario() -> None:
        layer = layer_class(capacity=3)
        for channel in ("test-gr-chan-1", "test-gr-chan-2", "test-gr-chan-3"):
            await layer.group_add("test-group", channel)
        await layer.group_discard("test-group", "test-gr-chan-2")
        await layer.group_send("test-group", {"type": "message.1"})
        assert (await asyncio.wait_for(layer.receive("test-gr-chan-1"), 1))["type"] == "message.1"
        assert (await asyncio.wait_for(layer.receive("test-gr-chan-3"), 1))["type"] == "message.1"
        assert await nothing_arrives(layer, "test-gr-chan-2")
        # Another group's send does not reach them; a group nobody joined takes the send quietly.
        await layer.group_send("other-group", {"type": "message.2"})
        await layer.group_send("nobody", {"type": "message.3"})
        assert await nothing_arrives(layer, "test-gr-chan-1")

    run(scenario)


@LOCAL_LAYERS
def test_a_group_send_skips_a_full_member_and_reaches_the_others(
    layer_class: type[InMemoryChannelLayer],
) -> None:
    async def scenario() -> None:
        layer = layer_class(capacity=3)
        await layer.group_add("test-group", "test-gr-chan-1")
        for number in range(5):  # no ChannelFull escapes group_send
            await layer.group_send("test-group", {"type": f"message.{number}"})
        await layer.group_add("test-group", "test-gr-chan-2")
        await layer.group_send("test-group", {"type": "late"})
        assert [(await layer.receive("test-gr-chan-1"))["type"] for _ in range(3)] == [
            "message.0",
            "message.1",
            "message.2",
        ]
        assert (await layer.receive("test-gr-chan-2"))["type"] == "late"

    run(scenario)


@LOCAL_LAYERS
def test_discarding_a_channel_that_never_joined_is_harmless(layer_class: type[InMemoryChannelLayer]) -> None:
    async def scenario() -> None:
        layer = layer_class()
        await layer.group_discard("test-group", "test-gr-chan-1")
        await layer.group_add("test-group", "test-gr-chan-2")
        await layer.group_discard("test-group", "test-gr-chan-1")
        await layer.group_send("test-group", {"type": "message.1"})
        assert (await layer.receive("test-gr-chan-2"))["type"] == "message.1"

    run(scenario)


@LOCAL_LAYERS
def test_an_expired_message_is_dropped_and_its_channel_cleaned_up(
    layer_class: type[InMemoryChannelLayer], sweep_every_time: None
) -> None:
    async def scenario() -> None:
        layer = layer_class(expiry=0.1)
        await layer.send("test-channel-1", {"type": "message.1"})
        assert len(layer.channels) == 1
        await asyncio.sleep(0.15)
        assert await nothing_arrives(layer, "test-channel-1")
        assert len(layer.channels) == 0

    run(scenario)


@LOCAL_LAYERS
def test_an_unread_expired_message_is_cleaned_up_by_another_channel_s_receive(
    layer_class: type[InMemoryChannelLayer], sweep_every_time: None
) -> None:
    async def scenario() -> None:
        layer = layer_class(expiry=0.1)
        await layer.send("test-channel-1", {"type": "message.1"})
        await asyncio.sleep(0.15)
        await layer.send("test-channel-2", {"type": "message.2"})
        assert len(layer.channels) == 2
        assert (await layer.receive("test-channel-2"))["type"] == "message.2"
        assert len(layer.channels) == 0

    run(scenario)


@LOCAL_LAYERS
def test_only_the_expired_messages_of_a_channel_are_dropped(
    layer_class: type[InMemoryChannelLayer], sweep_every_time: None
) -> None:
    async def scenario() -> None:
        layer = layer_class(expiry=0.1)
        for number in (1, 2, 3):
            await layer.send("test-channel-1", {"type": f"message.{number}"})
        assert (await layer.receive("test-channel-1"))["type"] == "message.1"
        await asyncio.sleep(0.15)
        await layer.send("test-channel-1", {"type": "message.4"})
        assert (await layer.receive("test-channel-1"))["type"] == "message.4"
        assert await nothing_arrives(layer, "test-channel-1")
        assert len(layer.channels) == 0

    run(scenario)


@LOCAL_LAYERS
def test_an_expired_message_ends_its_channel_s_group_memberships(
    layer_class: type[InMemoryChannelLayer], sweep_every_time: None
) -> None:
    async def scenario() -> None:
        layer = layer_class(expiry=0.1)
        await layer.group_add("test-group", "test-gr-chan-1")
        await layer.group_add("test-group", "test-gr-chan-2")
        await layer.group_send("test-group", {"type": "unread"})
        await layer.receive("test-gr-chan-2")
        await asyncio.sleep(0.15)
        await layer.group_send("test-group", {"type": "after"})  # sweeps first: chan-1 is no member now
        assert (await layer.receive("test-gr-chan-2"))["type"] == "after"
        assert await nothing_arrives(layer, "test-gr-chan-1")

    run(scenario)


@LOCAL_LAYERS
def test_a_group_membership_expires_after_group_expiry(
    layer_class: type[InMemoryChannelLayer], sweep_every_time: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        layer = layer_class(group_expiry=10)
        await layer.group_add("test-group", "test-gr-chan-1")
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 60)  # the membership is a minute old now
        await layer.group_add("test-group", "test-gr-chan-2")  # joined "now": still a member
        await layer.group_send("test-group", {"type": "message.1"})
        assert (await layer.receive("test-gr-chan-2"))["type"] == "message.1"
        assert await nothing_arrives(layer, "test-gr-chan-1")

    run(scenario)


@LOCAL_LAYERS
def test_flush_forgets_every_message_and_group(layer_class: type[InMemoryChannelLayer]) -> None:
    async def scenario() -> None:
        layer = layer_class()
        channel = await layer.new_channel()
        await layer.group_add("test-group", channel)
        await layer.send(channel, {"type": "before"})
        await layer.flush()
        assert layer.channels == {} and layer.groups == {}
        await layer.group_send("test-group", {"type": "to nobody"})
        assert await nothing_arrives(layer, channel)
        await layer.send(channel, {"type": "after"})  # usable as new
        assert (await layer.receive(channel))["type"] == "after"
        await layer.close()

    run(scenario)


@LOCAL_LAYERS
def test_bad_names_and_messages_are_refused(layer_class: type[InMemoryChannelLayer]) -> None:
    async def scenario() -> None:
        layer = layer_class()
        with pytest.raises(TypeError):
            await layer.send("bad channel name", {"type": "a"})
        with pytest.raises(TypeError):
            await layer.send("x" * 200, {"type": "a"})
        with pytest.raises(AssertionError):
            await layer.send("test-channel-1", "not a dict")
        with pytest.raises(AssertionError):
            await layer.send("test-channel-1", {"type": "a", "__asgi_channel__": "x"})
        with pytest.raises(TypeError):
            await layer.group_send("bad group!", {"type": "a"})
        with pytest.raises(AssertionError):
            await layer.group_send("test-group", ["not a dict"])
        with pytest.raises(TypeError):
            await layer.group_add("test-group", "bad channel name")
        with pytest.raises(TypeError):
            await layer.receive("bad channel name")
        assert layer.channels == {}

    run(scenario)


def test_the_in_memory_machinery_local_channel_layer_builds_on_is_unchanged() -> None:
    """What ``LocalChannelLayer.send``/``group_send``/``_clean_expired`` read and write in Channels' layer: a dict of
    bounded ``asyncio.Queue`` per channel holding ``(expires at, message)``, groups as ``{channel: joined at}``,
    and the sweep and name checks it calls. A Channels release that changes them fails here."""

    async def scenario() -> None:
        layer = InMemoryChannelLayer(expiry=30, capacity=7)
        before = time.time()
        await layer.send("test-channel-1", {"type": "a"})
        queue = layer.channels["test-channel-1"]
        assert isinstance(queue, asyncio.Queue) and queue.maxsize == 7
        expires, message = queue._queue[0]  # type: ignore[attr-defined]  # the private deque Channels reads
        assert message == {"type": "a"} and before + 30 <= expires <= time.time() + 30
        await layer.group_add("test-group", "test-channel-1")
        assert set(layer.groups) == {"test-group"}
        assert before <= layer.groups["test-group"]["test-channel-1"] <= time.time()
        for name in ("_clean_expired", "_remove_from_groups", "require_valid_channel_name", "get_capacity"):
            assert callable(getattr(layer, name))
        assert layer.group_expiry == 86400 and layer.expiry == 30
        # Ours puts the same entries in the same queues, for Channels' receive and sweep to take out.
        ours = LocalChannelLayer(expiry=30, capacity=7)
        await ours.send("test-channel-1", {"type": "b"})
        ours_queue = ours.channels["test-channel-1"]
        assert isinstance(ours_queue, asyncio.Queue) and ours_queue.maxsize == 7
        ours_expires, ours_message = ours_queue._queue[0]  # type: ignore[attr-defined]
        assert ours_message == {"type": "b"} and before + 30 <= ours_expires <= time.time() + 30

    run(scenario)


# --- Redis pub/sub: the production layer ------------------------------------------------------------------------


@pytest.fixture
def redis_hosts() -> list[dict[str, Any]]:
    return [{"address": checked_redis_url()}]


def unique(name: str) -> str:
    """A group name of this test alone: pub/sub channels are shared by every database of the Redis server."""
    return f"{name}-{uuid.uuid4().hex[:12]}"


def run_redis(layer: Any, scenario: Scenario) -> None:
    async def with_flush() -> None:
        try:
            await scenario()
        finally:
            await asyncio.wait_for(layer.flush(), 5)

    asyncio.run(with_flush())


@REDIS_LAYERS
def test_redis_a_message_sent_to_a_new_channel_is_received(
    layer_class: type[RedisPubSubChannelLayer], redis_hosts: list[dict[str, Any]]
) -> None:
    layer = layer_class(hosts=redis_hosts)

    async def scenario() -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "test.message", "text": "Ahoy-hoy!"})
        assert await asyncio.wait_for(layer.receive(channel), 5) == {
            "type": "test.message",
            "text": "Ahoy-hoy!",
        }

    run_redis(layer, scenario)


@REDIS_LAYERS
def test_redis_messages_arrive_in_order(
    layer_class: type[RedisPubSubChannelLayer], redis_hosts: list[dict[str, Any]]
) -> None:
    layer = layer_class(hosts=redis_hosts)

    async def scenario() -> None:
        channel = await layer.new_channel()
        for number in (1, 2, 3):
            await layer.send(channel, {"type": f"message.{number}"})
        received = [(await asyncio.wait_for(layer.receive(channel), 5))["type"] for _ in range(3)]
        assert received == ["message.1", "message.2", "message.3"]

    run_redis(layer, scenario)


@REDIS_LAYERS
def test_redis_a_group_send_reaches_the_members_and_not_a_discarded_one(
    layer_class: type[RedisPubSubChannelLayer], redis_hosts: list[dict[str, Any]]
) -> None:
    layer = layer_class(hosts=redis_hosts)
    group = unique("test-group")

    async def scenario() -> None:
        names = [await layer.new_channel(prefix=f"test-gr-chan-{number}") for number in (1, 2, 3)]
        for name in names:
            await layer.group_add(group, name)
        await layer.group_discard(group, names[1])
        await layer.group_send(group, {"type": "message.1"})
        assert (await asyncio.wait_for(layer.receive(names[0]), 5))["type"] == "message.1"
        assert (await asyncio.wait_for(layer.receive(names[2]), 5))["type"] == "message.1"
        assert await nothing_arrives(layer, names[1])

    run_redis(layer, scenario)


@REDIS_LAYERS
def test_redis_channels_with_one_prefix_each_get_the_group_message(
    layer_class: type[RedisPubSubChannelLayer], redis_hosts: list[dict[str, Any]]
) -> None:
    layer = layer_class(hosts=redis_hosts)
    group = unique("test-group")

    async def scenario() -> None:
        names = [await layer.new_channel(prefix="test-gr-chan") for _ in range(3)]
        for name in names:
            await layer.group_add(group, name)
        await layer.group_send(group, {"type": "message.1"})
        for name in names:
            assert (await asyncio.wait_for(layer.receive(name), 5))["type"] == "message.1"

    run_redis(layer, scenario)


@REDIS_LAYERS
def test_redis_channel_names_do_not_repeat_after_a_random_seed_reset(
    layer_class: type[RedisPubSubChannelLayer], redis_hosts: list[dict[str, Any]]
) -> None:
    layer = layer_class(hosts=redis_hosts)

    async def scenario() -> None:
        random.seed(1)
        first = await layer.new_channel()
        random.seed(1)
        second = await layer.new_channel()
        assert first != second
        assert first.startswith("asgispecific.") and second.startswith("asgispecific.")

    run_redis(layer, scenario)


@REDIS_LAYERS
def test_redis_a_receive_with_nothing_sent_waits(
    layer_class: type[RedisPubSubChannelLayer], redis_hosts: list[dict[str, Any]]
) -> None:
    layer = layer_class(hosts=redis_hosts)

    async def scenario() -> None:
        channel = await layer.new_channel(prefix="test-channel")
        assert await nothing_arrives(layer, channel)

    run_redis(layer, scenario)


@REDIS_LAYERS
def test_redis_discarding_before_adding_is_harmless(
    layer_class: type[RedisPubSubChannelLayer], redis_hosts: list[dict[str, Any]]
) -> None:
    layer = layer_class(hosts=redis_hosts)

    async def scenario() -> None:
        channel = await layer.new_channel(prefix="test-channel")
        await layer.group_discard(unique("test-group"), channel)

    run_redis(layer, scenario)


@REDIS_LAYERS
def test_redis_a_layer_used_on_a_passing_loop_lets_it_go(
    layer_class: type[RedisPubSubChannelLayer], redis_hosts: list[dict[str, Any]]
) -> None:
    layer = layer_class(hosts=redis_hosts)

    async def round_trip() -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "test.message"})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "test.message"

    assert len(layer._layers) == 0
    async_to_sync(round_trip)()
    assert len(layer._layers) == 0  # closed with its loop: nothing of that loop is kept


@REDIS_LAYERS
def test_redis_a_flushed_layer_works_as_new(
    layer_class: type[RedisPubSubChannelLayer], redis_hosts: list[dict[str, Any]]
) -> None:
    layer = layer_class(hosts=redis_hosts)
    group = unique("test-group")

    async def scenario() -> None:
        old = await layer.new_channel()
        await layer.group_add(group, old)
        await layer.flush()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        await layer.group_send(group, {"type": "after"})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "after"

    run_redis(layer, scenario)


def test_redis_layer_listens_again_after_a_flush(redis_hosts: list[dict[str, Any]]) -> None:
    """The channel that keeps a subscription open is made again on a loop after ``flush`` dropped it."""
    layer = RedisLayer(hosts=redis_hosts)

    def listening() -> list[str]:
        return [name for name in layer._get_layer().channels if "flowyard.listening." in name]

    async def scenario() -> None:
        await layer.new_channel()
        assert len(listening()) == 1
        await layer.flush()
        await layer.new_channel()
        assert len(listening()) == 1

    run_redis(layer, scenario)


def test_the_pub_sub_machinery_the_redis_layer_builds_on_is_unchanged(
    redis_hosts: list[dict[str, Any]],
) -> None:
    """What ``RedisLayer.new_channel`` relies on in channels_redis: ``_get_layer()`` gives the running loop's
    ``RedisPubSubLoopLayer`` (one per loop), whose ``new_channel`` subscribes the name it returns and keeps it in
    ``channels``; the layer's own ``new_channel`` is reached through ``__getattr__`` (so ours, a method, wins)."""
    layer = RedisPubSubChannelLayer(hosts=redis_hosts)

    async def scenario() -> None:
        loop_layer = layer._get_layer()
        assert isinstance(loop_layer, RedisPubSubLoopLayer) and loop_layer is layer._get_layer()
        assert loop_layer.channel_layer is layer
        channel = await loop_layer.new_channel(prefix="flowyard.listening.")
        assert channel in loop_layer.channels and channel.startswith("asgiflowyard.listening.")
        [shard] = loop_layer._shards
        assert shard._pubsub.subscribed  # the subscription the receiver keeps listening on
        assert "new_channel" not in vars(RedisPubSubChannelLayer) and "new_channel" in vars(RedisLayer)

    run_redis(layer, scenario)


# --- the publish path: backend/runs/publish.py's sends through each layer ---------------------------------------


def test_publishing_from_a_worker_thread_reaches_local_sockets_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layer = LocalChannelLayer()
    monkeypatch.setattr(publish, "get_channel_layer", lambda: layer)

    async def scenario() -> None:
        channel = await layer.new_channel()  # a socket's channel: the layer learns the consumers' loop
        await layer.group_add("run.contract", channel)
        batches = [[("run.contract", {"type": "run.events", "first": n, "last": n})] for n in range(1, 21)]
        for messages in batches[:10]:  # waiting publishers, one thread after another (a recorder's batches)
            await asyncio.to_thread(publish._send, messages)
        for messages in batches[10:]:  # and the ones that do not wait (a submit's status)
            await asyncio.to_thread(publish._send, messages, False)
        firsts = [(await asyncio.wait_for(layer.receive(channel), 5))["first"] for _ in range(20)]
        assert firsts == list(range(1, 21))
        # A publisher on the consumers' own loop queues without waiting (waiting would deadlock it).
        publish._send([("run.contract", {"type": "run.events", "first": 21, "last": 21})])
        assert (await asyncio.wait_for(layer.receive(channel), 5))["first"] == 21

    run(scenario)


def test_publishing_through_redis_reaches_a_socket_in_order(
    monkeypatch: pytest.MonkeyPatch, redis_hosts: list[dict[str, Any]]
) -> None:
    layer = RedisLayer(hosts=redis_hosts)
    monkeypatch.setattr(publish, "get_channel_layer", lambda: layer)
    # A publishing loop and outbox of its own: the process's may still hold earlier tests' messages for Redis
    # servers they stopped (held, in order, ahead of these, until they expire).
    monkeypatch.setattr(publish, "_publish_loop", None)
    monkeypatch.setattr(publish, "_outboxes", {})
    group = unique("run")

    async def scenario() -> None:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        for number in range(1, 21):
            # From this thread's point of view a worker: the sends go through the publish loop's own thread.
            await asyncio.to_thread(publish._send, [(group, {"type": "run.events", "first": number})])
        firsts = [(await asyncio.wait_for(layer.receive(channel), 5))["first"] for _ in range(20)]
        assert firsts == list(range(1, 21))

    run_redis(layer, scenario)
