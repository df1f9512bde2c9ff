"""More of ComfyUI's current templates run as a user would: the basic/utility ones (data types, masks, image
stitching, GAN video upscaling, image compare) and SDXL Turbo's one-step custom sampler, on uploads and tiny models.

Same path as ``test_templates_run``: ``POST /api/import/comfy``, ``POST /api/runs`` on the embedded dispatcher, then
the saved outputs are read back.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path

import av
import numpy as np
import pytest

from backend.compat.tests.test_templates_run import (
    assert_real_image,
    import_and_run,
    png,
    saved_images,
    upload,
)
from backend.runs.models import RunOutput
from backend.storage.blobs import get_blob_store
from backend.workers_registry import process
from nodepacks.diffusion.testing import make_tiny_checkpoint, make_tiny_upscaler

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TEMPLATES = resources.files("comfyui_workflow_templates_json") / "templates"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    (root / "upscale_models").mkdir()
    make_tiny_checkpoint("sdxl", root / "checkpoints" / "sd_xl_turbo_1.0_fp16.safetensors", seed=11)
    make_tiny_upscaler(root / "upscale_models" / "RealESRGAN_x4plus.safetensors", scale=4)
    return root


@pytest.fixture(autouse=True)
def diffusion_site(settings, model_dir, monkeypatch):
    settings.FLOWYARD_NODE_PACKS = ["nodepacks.core", "nodepacks.diffusion"]
    settings.FLOWYARD_MODELS_DIR = model_dir
    settings.FLOWYARD_EXTRA_MODEL_PATHS = []
    monkeypatch.setattr(process, "_models", None)


def template(name: str) -> dict:
    return json.loads((TEMPLATES / f"{name}.json").read_text())


def mp4(frames: int = 6, size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(frames):
            pixels = np.full((size[1], size[0], 3), index * 40, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def outputs(run, kind: str) -> list[RunOutput]:
    return list(RunOutput.objects.filter(run=run, kind=kind).exclude(filename__startswith="preview-"))


def test_basic_datatype_conversion(alice, team, client_for, wait_for_run):
    run = import_and_run(client_for(alice), team, template("basic_datatype_conversion"), wait_for_run)
    assert run.node_runs.filter(status="succeeded").count() >= 15


def test_basic_mask_operations_and_compositing(alice, team, client_for, wait_for_run):
    client = client_for(alice)
    upload(client, team, "example.png", png((96, 64), hole=True))
    run = import_and_run(client, team, template("basic_mask_operations_and_compositing"), wait_for_run)
    assert (
        len(outputs(run, RunOutput.Kind.IMAGE)) >= 10
    )  # every MaskPreview and PreviewImage showed something


def test_image_stitch(alice, team, client_for, wait_for_run):
    client = client_for(alice)
    for index in range(1, 5):
        upload(client, team, f"angle_{index}.png", png((40 + index, 30)))  # distinct files (uploads dedupe)
    run = import_and_run(client, team, template("utility_image_stitch"), wait_for_run)
    (image,) = saved_images(run)
    assert image.shape[0] > 30 and image.shape[1] > 40 and image.std() > 1.0


def test_image_compare_upscale(alice, team, client_for, wait_for_run):
    client = client_for(alice)
    upload(client, team, "pray.png", png((40, 30)))
    run = import_and_run(client, team, template("utility_interpolation_image_upscale"), wait_for_run)
    assert (60, 80, 3) in [image.shape for image in saved_images(run)]  # lanczos x2


def test_gan_video_upscaler(alice, team, client_for, wait_for_run):
    client = client_for(alice)
    upload(client, team, "gan_input.mp4", mp4())
    run = import_and_run(client, team, template("utility-gan_upscaler"), wait_for_run)
    (video,) = outputs(run, RunOutput.Kind.VIDEO)
    assert video.blob_sha
    with av.open(io.BytesIO(get_blob_store().read(video.blob_sha))) as container:
        assert isinstance(container, av.container.InputContainer)
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (128, 96)  # 4x by the tiny ESRGAN
        assert sum(1 for _ in container.decode(stream)) == 6


def test_sdxl_turbo_one_step_custom_sampler(alice, team, client_for, wait_for_run):
    run = import_and_run(client_for(alice), team, template("sdxlturbo_example"), wait_for_run)
    (image,) = saved_images(run)
    assert_real_image(image, (128, 128))
