"""ComfyUI's websocket across a Redis outage: what the channel layer lost still arrives, once and in order."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from backend.compat.tests.test_ws import SLOW, end_of, open_socket, post, receive_until
from backend.runs.models import Run
from backend.runs.tests.services import wait_until
from backend.runs.tests.test_delivery_gaps import own_redis

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_comfy_socket_open_across_a_redis_outage_gets_the_rest_of_its_prompt_once(
    alice, comfy_client, token_for, settings, tmp_path
):
    from backend.settings import redis_channel_layers

    client, token = comfy_client(alice), token_for(alice)
    with own_redis(tmp_path) as server:
        settings.CHANNEL_LAYERS = redis_channel_layers(server.url)
        settings.FLOWYARD_LIVE_HEARTBEAT_SECONDS = 0.2

        async def scenario():
            socket = await open_socket(f"/comfy/ws?clientId=tab-1&token={token}")
            await socket.receive_json_from(timeout=5)  # status
            prompt_id = (await post(client, SLOW, client_id="tab-1"))["prompt_id"]
            before = await receive_until(socket, lambda f: isinstance(f, dict) and f["type"] == "progress")
            server.stop()
            await database_sync_to_async(wait_until)(
                lambda: Run.objects.filter(comfy_prompt__prompt_id=prompt_id, status="succeeded").exists(),
                20,
                "the prompt's run to succeed",
            )
            after = await receive_until(socket, end_of(prompt_id))
            server.start()
            quiet = await socket.receive_nothing(timeout=2.0)  # the held messages came back: not sent twice
            await socket.disconnect()
            return before + after, quiet

        frames, quiet = async_to_sync(scenario)()
    steps = [
        frame["data"]["value"] for frame in frames if isinstance(frame, dict) and frame["type"] == "progress"
    ]
    assert steps == list(range(0, 31)) or steps == list(range(1, 31))
    assert [frame["type"] for frame in frames if isinstance(frame, dict)][-2:] == ["status", "executing"]
    assert quiet


def test_a_prompt_submitted_while_redis_is_down_reaches_the_comfy_sockets_already_open_once(
    alice, comfy_client, token_for, settings, tmp_path
):
    from backend.settings import redis_channel_layers

    client, token = comfy_client(alice), token_for(alice)
    with own_redis(tmp_path) as server:
        settings.CHANNEL_LAYERS = redis_channel_layers(server.url)
        settings.FLOWYARD_LIVE_HEARTBEAT_SECONDS = 0.2

        async def scenario():
            socket = await open_socket(f"/comfy/ws?clientId=tab-1&token={token}")
            await socket.receive_json_from(timeout=5)  # status
            server.stop()
            prompt_id = (await post(client, SLOW, client_id="tab-1"))["prompt_id"]  # its notice is lost
            frames = await receive_until(socket, end_of(prompt_id))
            server.start()
            quiet = await socket.receive_nothing(timeout=2.0)  # neither the notice nor the events come twice
            await socket.disconnect()
            return prompt_id, frames, quiet

        prompt_id, frames, quiet = async_to_sync(scenario)()
    messages = [frame for frame in frames if isinstance(frame, dict) and frame["type"] != "status"]
    assert messages[0] == {"type": "execution_start", "data": messages[0]["data"]}
    assert messages[0]["data"]["prompt_id"] == prompt_id
    steps = [frame["data"]["value"] for frame in messages if frame["type"] == "progress"]
    assert steps == list(range(0, 31)) or steps == list(range(1, 31))
    assert [frame["type"] for frame in messages].count("execution_success") == 1
    assert quiet
