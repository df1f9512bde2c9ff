"""End to end with a third-party ComfyUI client (comfy-api-simplified, from PyPI) against a real ASGI server:
daphne in a subprocess with the local dispatcher, serving the compat API at the site root, as that client
joins absolute paths (``/prompt``, ``/ws``) to its base URL. Authentication is the client's own HTTP Basic
(any user name, the API token as password), on HTTP and on the websocket."""

from __future__ import annotations

import asyncio
import io

import pytest
from comfy_api_simplified import ComfyApiWrapper, ComfyWorkflowWrapper
from PIL import Image

from backend.accounts.actions import do_create_token
from backend.compat.models import ComfyPrompt
from backend.compat.tests.conftest import png_bytes
from backend.runs.tests.services import daphne_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path):
    with daphne_server(tmp_path, FLOWYARD_COMFY_AT_ROOT="1") as started:
        yield started


def test_comfy_api_simplified_uploads_runs_streams_and_downloads(server, alice, tmp_path):
    url, process = server
    token = do_create_token(alice, "comfy-api-simplified")[1]
    api = ComfyApiWrapper(url, user="alice", password=token)

    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(color=(10, 200, 60), size=(12, 9)))
    uploaded = api.upload_image(photo, subfolder="inputs")
    assert uploaded == {"name": "photo.png", "subfolder": "inputs", "type": "input"}

    workflow = ComfyWorkflowWrapper(
        {
            "1": {"class_type": "LoadImage", "inputs": {"image": "inputs/photo.png"}, "_meta": {"title": "Load"}},
            "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}, "_meta": {"title": "Invert"}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "e2e"},
                  "_meta": {"title": "Save Image"}},
        }
    )  # fmt: skip
    workflow.set_node_param("Save Image", "filename_prefix", "client")
    images = api.queue_and_wait_images(workflow, "Save Image")
    assert list(images) == ["client_00001.png"]
    downloaded = Image.open(io.BytesIO(images["client_00001.png"]))
    pixel = downloaded.getpixel((0, 0))
    assert downloaded.size == (12, 9) and isinstance(pixel, tuple) and pixel[:3] == (245, 55, 195)

    # The websocket stream: a node that reports progress with a preview; the client collects binary frames.
    slow = {
        "1": {"class_type": "test.Slow", "inputs": {"steps": 20, "step_seconds": 0.02}},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }
    prompt_id, previews = asyncio.run(api.queue_prompt_and_wait(slow))
    assert previews and previews[0].startswith(b"\xff\xd8")  # JPEG, as ComfyUI sends
    history = api.get_history(prompt_id)
    assert history[prompt_id]["outputs"]["2"] == {"text": ["20"]}
    assert history[prompt_id]["status"]["completed"] is True

    assert api.get_queue() == {"queue_running": [], "queue_pending": []}
    assert api.get_object_info("ImageInvert")["ImageInvert"]["output"] == ["IMAGE"]
    assert api.get_system_stats()["devices"] == []
    assert api.get_embeddings() == []
    api.interrupt()
    assert ComfyPrompt.objects.filter(user=alice).count() == 2
    assert all(prompt.run.source == "comfy" for prompt in ComfyPrompt.objects.select_related("run"))
    assert token not in process.output()  # Basic auth: the token never appears in access logs
