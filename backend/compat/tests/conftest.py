"""Compat test fixtures: the runs test pack (slow, failing nodes), a blob store per test, token clients."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from rest_framework.test import APIClient

from backend.accounts.actions import do_create_token
from backend.runs.tests import testpack
from backend.workers_registry import process

IMAGE_PROMPT = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 4, "batch_size": 1, "color": 0x102030},
          "_meta": {"title": "Empty"}},
    "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "ComfyUI"}},
}  # fmt: skip


@pytest.fixture(autouse=True)
def compat_environment(settings, tmp_path, monkeypatch):
    settings.FLOWYARD_NODE_PACKS = ["nodepacks.core", "backend.runs.tests.testpack"]
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    settings.FLOWYARD_DISPATCHER = "local"
    settings.FLOWYARD_GPU_FALLBACK_TO_CPU = True  # the embedded default, whatever the environment says
    settings.FLOWYARD_PARALLELISM = 2
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "backend.core.live.LocalChannelLayer"}}
    monkeypatch.setattr(process, "_memory", None)
    testpack.executions.clear()
    yield


@pytest.fixture
def token_for():
    def make(user) -> str:
        return do_create_token(user, "comfy tests")[1]

    return make


@pytest.fixture
def comfy_client(token_for):
    """``comfy_client(user)``: an APIClient sending the user's token as Bearer."""

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make


@pytest.fixture
def wait_prompt():
    """Poll until the prompt's run has finished; return the run."""
    from backend.compat.models import ComfyPrompt

    def wait(prompt_id: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while True:
            run = ComfyPrompt.objects.select_related("run").get(prompt_id=prompt_id).run
            if run.is_finished():
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"prompt {prompt_id} is still {run.status}")
            time.sleep(0.02)

    return wait


def png_bytes(color=(200, 30, 30), size=(6, 5)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()
