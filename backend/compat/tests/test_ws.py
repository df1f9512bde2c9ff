"""The ComfyUI websocket: message shapes and order as ComfyUI's execution.py / main.py send them, binary
preview frames as protocol.py packs them, and who receives what."""

from __future__ import annotations

import base64
import copy
import io
import json
import struct
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from PIL import Image

from backend.asgi import websocket_application
from backend.compat.tests.conftest import IMAGE_PROMPT

pytestmark = pytest.mark.django_db(transaction=True)

APP = websocket_application()
SLOW: dict[str, dict[str, Any]] = {
    "1": {"class_type": "test.Slow", "inputs": {"steps": 30, "step_seconds": 0.02}},
    "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
}


async def open_socket(path, headers=None):
    communicator = WebsocketCommunicator(APP, path, headers=headers or [])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def receive_until(communicator, stop, timeout=20.0):
    """Frames (JSON dicts, or bytes for binary frames) until ``stop(frame)``."""
    frames = []
    deadline = time.monotonic() + timeout
    while True:
        output = await communicator.receive_output(timeout=max(0.01, deadline - time.monotonic()))
        assert output["type"] == "websocket.send", output
        frame = output["bytes"] if output.get("bytes") is not None else json.loads(output["text"])
        frames.append(frame)
        if stop(frame):
            return frames


def end_of(prompt_id):
    return lambda f: (
        isinstance(f, dict)
        and f["type"] == "executing"
        and f["data"] == {"node": None, "prompt_id": prompt_id}
    )


def post(client, prompt, **body):
    return database_sync_to_async(
        lambda: client.post("/comfy/prompt", {"prompt": prompt, **body}, format="json").json()
    )()


def test_a_prompt_streams_comfyuis_messages_in_order_and_cached_reruns_still_send_executed(
    alice, comfy_client, token_for
):
    client, token = comfy_client(alice), token_for(alice)

    async def scenario():
        socket = await open_socket(f"/comfy/ws?clientId=tab-1&token={token}")
        hello = await socket.receive_json_from(timeout=5)
        assert hello == {
            "type": "status",
            "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "tab-1"},
        }
        runs = []
        for _ in range(2):
            body = await post(client, IMAGE_PROMPT, client_id="tab-1")
            runs.append((body["prompt_id"], await receive_until(socket, end_of(body["prompt_id"]))))
        await socket.disconnect()
        return runs

    (first_id, first), (second_id, second) = async_to_sync(scenario)()
    kinds = [frame["type"] for frame in first]
    assert kinds[0] == "status" and first[0]["data"]["status"]["exec_info"]["queue_remaining"] == 1
    assert kinds[1:3] == ["execution_start", "execution_cached"]
    assert kinds[-3:] == ["execution_success", "status", "executing"]
    assert first[-2]["data"] == {"status": {"exec_info": {"queue_remaining": 0}}}
    start = first[1]["data"]
    assert set(start) == {"prompt_id", "timestamp"} and start["prompt_id"] == first_id
    assert isinstance(start["timestamp"], int) and start["timestamp"] > 1_600_000_000_000
    assert set(first[2]["data"]) == {"nodes", "prompt_id", "timestamp"} and first[2]["data"]["nodes"] == []
    executing = [frame["data"] for frame in first if frame["type"] == "executing" and frame["data"]["node"]]
    assert [data["node"] for data in executing] == ["1", "2", "3"]
    assert executing[0] == {"node": "1", "display_node": "1", "prompt_id": first_id}
    (executed,) = [frame["data"] for frame in first if frame["type"] == "executed"]
    assert executed == {
        "node": "3",
        "display_node": "3",
        "output": {"images": [{"filename": "ComfyUI_00001.png", "subfolder": first_id, "type": "output"}]},
        "prompt_id": first_id,
    }
    # Fully cached re-run: every node is listed as cached, none executes, SaveImage's output is still sent.
    cached = next(frame for frame in second if frame["type"] == "execution_cached")["data"]["nodes"]
    assert sorted(cached) == ["1", "2", "3"] or sorted(cached) == ["1", "2"]
    assert [frame["data"]["node"] for frame in second if frame["type"] == "executing"] in (
        ["3", None],
        [None],
    )
    (again,) = [frame["data"] for frame in second if frame["type"] == "executed"]
    assert again["node"] == "3" and again["output"]["images"][0]["subfolder"] == second_id


def test_a_socket_opened_after_submitting_gets_progress_previews_and_text_output(
    alice, comfy_client, token_for
):
    client, token = comfy_client(alice), token_for(alice)

    async def scenario():
        body = await post(client, SLOW)
        basic = base64.b64encode(f"me:{token}".encode())
        socket = await open_socket("/comfy/ws?clientId=late", [(b"authorization", b"Basic " + basic)])
        frames = await receive_until(socket, end_of(body["prompt_id"]))
        await socket.disconnect()
        return body["prompt_id"], frames

    prompt_id, frames = async_to_sync(scenario)()
    assert frames[0]["type"] == "status" and frames[0]["data"]["sid"] == "late"
    assert frames[0]["data"]["status"]["exec_info"]["queue_remaining"] == 1
    progress = [frame["data"] for frame in frames if isinstance(frame, dict) and frame["type"] == "progress"]
    assert progress[-1] == {"value": 30.0, "max": 30.0, "prompt_id": prompt_id, "node": "1"}
    previews = [frame for frame in frames if isinstance(frame, bytes)]
    assert previews, "the Slow node's preview should arrive as a binary frame"
    event, image_type = struct.unpack(">II", previews[0][:8])
    assert (event, image_type) == (1, 1) and previews[0][8:].startswith(b"\xff\xd8")  # JPEG
    (executed,) = [
        frame["data"] for frame in frames if isinstance(frame, dict) and frame["type"] == "executed"
    ]
    assert executed["node"] == "2" and executed["output"] == {"text": ["30"]}


def test_preview_metadata_frames_for_clients_that_ask(alice, comfy_client, token_for):
    client, token = comfy_client(alice), token_for(alice)

    async def scenario():
        socket = await open_socket(f"/comfy/ws?token={token}")
        await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
        flags = await socket.receive_json_from(timeout=5)
        body = await post(client, SLOW)
        frames = await receive_until(socket, end_of(body["prompt_id"]))
        await socket.disconnect()
        return flags, body["prompt_id"], frames

    flags, prompt_id, frames = async_to_sync(scenario)()
    assert flags["type"] == "feature_flags" and flags["data"]["supports_preview_metadata"] is True
    preview = next(frame for frame in frames if isinstance(frame, bytes))
    event, length = struct.unpack(">II", preview[:8])
    metadata = json.loads(preview[8 : 8 + length])
    assert event == 4 and metadata["node_id"] == "1" and metadata["prompt_id"] == prompt_id
    assert metadata["image_type"] == "image/jpeg" and preview[8 + length :].startswith(b"\xff\xd8")


def test_failures_and_interrupts_send_comfyuis_error_messages(alice, comfy_client, token_for):
    client, token = comfy_client(alice), token_for(alice)
    failing = {
        "1": {"class_type": "test.Fail", "inputs": {}},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }
    slow = copy.deepcopy(SLOW)
    slow["1"]["inputs"].update(steps=500)

    async def scenario():
        socket = await open_socket(f"/comfy/ws?token={token}")
        await socket.receive_json_from(timeout=5)
        failed = await post(client, failing)
        failed_frames = await receive_until(socket, end_of(failed["prompt_id"]))
        stopped = await post(client, slow)
        await receive_until(socket, lambda f: isinstance(f, dict) and f["type"] == "progress")
        await database_sync_to_async(lambda: client.post("/comfy/interrupt", {}, format="json"))()
        stopped_frames = await receive_until(socket, end_of(stopped["prompt_id"]))
        await socket.disconnect()
        return failed["prompt_id"], failed_frames, stopped["prompt_id"], stopped_frames

    failed_id, failed_frames, stopped_id, stopped_frames = async_to_sync(scenario)()
    error = next(f["data"] for f in failed_frames if f["type"] == "execution_error")
    assert set(error) == {"prompt_id", "node_id", "node_type", "executed", "exception_message", "exception_type",
                          "traceback", "current_inputs", "current_outputs", "timestamp"}  # fmt: skip
    assert error["node_id"] == "1" and error["node_type"] == "test.Fail" and error["prompt_id"] == failed_id
    assert isinstance(error["traceback"], list) and error["traceback"]
    assert not any(f["type"] == "execution_success" for f in failed_frames if isinstance(f, dict))
    interrupted = next(
        f["data"] for f in stopped_frames if isinstance(f, dict) and f["type"] == "execution_interrupted"
    )
    assert set(interrupted) == {"prompt_id", "node_id", "node_type", "executed", "timestamp"}
    assert interrupted["node_id"] == "1" and interrupted["node_type"] == "test.Slow"


def queue_status(remaining):
    return lambda f: isinstance(f, dict) and f == {"type": "status", "data": {"status": {"exec_info": {
        "queue_remaining": remaining}}}}  # fmt: skip


def test_the_queue_count_follows_a_queued_prompt_cancelled_through_the_native_api(
    alice, comfy_client, token_for, settings
):
    """A socket counts a prompt off its queue when it sends the prompt's finish; a queued prompt cancelled
    elsewhere has no finish to send, and is counted off within a heartbeat (the prompt discovery's tick)."""
    from backend.runs.actions import do_cancel_run
    from backend.runs.models import Run

    settings.FLOWYARD_MAX_RUNNING_PER_USER = 1
    settings.FLOWYARD_LEND_IDLE_WORKERS = False  # the second prompt waits for the first
    settings.FLOWYARD_LIVE_HEARTBEAT_SECONDS = 0.2
    client, token = comfy_client(alice), token_for(alice)
    slow = copy.deepcopy(SLOW)
    slow["1"]["inputs"].update(steps=10_000)  # stopped below

    def cancel(prompt_id):
        do_cancel_run(Run.objects.get(comfy_prompt__prompt_id=prompt_id))

    async def scenario():
        socket = await open_socket(f"/comfy/ws?token={token}")
        await socket.receive_json_from(timeout=5)
        running = await post(client, slow)
        waiting = await post(client, IMAGE_PROMPT)
        queued = await receive_until(socket, queue_status(2))
        await database_sync_to_async(cancel)(waiting["prompt_id"])
        counted_off = await receive_until(socket, queue_status(1))
        await database_sync_to_async(cancel)(running["prompt_id"])
        stopped = await receive_until(socket, end_of(running["prompt_id"]))
        await socket.disconnect()
        return waiting["prompt_id"], queued, counted_off, stopped

    waiting_id, queued, counted_off, stopped = async_to_sync(scenario)()
    assert not any(isinstance(f, dict) and f["data"].get("prompt_id") == waiting_id for f in counted_off)
    kinds = [f["type"] for f in stopped if isinstance(f, dict)]
    assert kinds[-3:] == ["execution_interrupted", "status", "executing"]
    assert queue_status(0)(stopped[-2])


def test_sockets_get_only_their_users_prompts_and_need_a_token(alice, oscar, comfy_client, token_for):
    client, other_token = comfy_client(alice), token_for(oscar)

    async def scenario():
        outsider = await open_socket(f"/comfy/ws?token={other_token}")
        await outsider.receive_json_from(timeout=5)
        body = await post(client, IMAGE_PROMPT)
        owner_token = await database_sync_to_async(token_for)(alice)
        owner = await open_socket(f"/comfy/t/{owner_token}/ws")
        await receive_until(owner, end_of(body["prompt_id"]))
        nothing = await outsider.receive_nothing(timeout=0.3)
        anonymous = await open_socket("/comfy/ws")
        closed = await anonymous.receive_output(timeout=5)
        wrong = await open_socket("/comfy/ws?token=nope")
        closed_wrong = await wrong.receive_output(timeout=5)
        for socket in (outsider, owner):
            await socket.disconnect()
        return nothing, closed, closed_wrong

    nothing, closed, closed_wrong = async_to_sync(scenario)()
    assert nothing
    assert closed == {"type": "websocket.close", "code": 4401}
    assert closed_wrong == {"type": "websocket.close", "code": 4401}


def test_a_sampler_streams_progress_per_step_and_few_small_jpeg_previews(alice, comfy_client, token_for):
    """Each step's ``progress``; previews throttled to one per 0.25 s, JPEG, 512 px at most; their bytes counted
    (what each watching socket pays for previews)."""
    client, token = comfy_client(alice), token_for(alice)
    steps = 12
    prompt = {"1": {"class_type": "test.Sampler", "inputs": {"steps": steps, "step_seconds": 0.05,
                                                            "width": 1024, "height": 768}},
              "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}  # fmt: skip

    async def scenario():
        socket = await open_socket(f"/comfy/ws?clientId=tab&token={token}")
        await socket.receive_json_from(timeout=5)
        body = await post(client, prompt, client_id="tab")
        frames = await receive_until(socket, end_of(body["prompt_id"]))
        await socket.disconnect()
        return body["prompt_id"], frames

    prompt_id, frames = async_to_sync(scenario)()
    progress = [frame["data"] for frame in frames if isinstance(frame, dict) and frame["type"] == "progress"]
    assert progress == [
        {"value": float(step), "max": float(steps), "prompt_id": prompt_id, "node": "1"}
        for step in range(1, steps + 1)
    ]
    previews = [frame for frame in frames if isinstance(frame, bytes)]
    assert 1 <= len(previews) < steps
    for frame in previews:
        assert struct.unpack(">II", frame[:8]) == (1, 1)  # PREVIEW_IMAGE, JPEG
        assert Image.open(io.BytesIO(frame[8:])).size == (512, 384)
    preview_bytes = sum(len(frame) for frame in previews)
    assert preview_bytes < 60_000 * len(previews), preview_bytes
