"""ComfyUI's own templates, imported and run as a user would, on tiny models of the same family.

The classic workflows come from the ``comfyui-workflow-templates`` 0.1.51 package (the last release that ships
ComfyUI's default txt2img, image2image, inpaint (SD2 inpainting), LoRA and ESRGAN workflows); the SDXL and SD3.5
ones from today's ``comfyui-workflow-templates-json``. Each is imported through ``POST /api/import/comfy``,
run through ``POST /api/runs`` on the embedded dispatcher, and checked by its saved image. The checkpoint, LoRA and
upscaler files the templates name are tiny random-weight models written in the original single-file layout into
a model library folder, and loaded by the real loading code (nodepacks.diffusion, workers.runtime.models).
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.runs.models import Run, RunOutput
from backend.storage.blobs import get_blob_store
from backend.workers_registry import process
from nodepacks.diffusion.testing import (
    make_tiny_checkpoint,
    make_tiny_clip_vision,
    make_tiny_component_files,
    make_tiny_controlnet,
    make_tiny_lora,
    make_tiny_redux,
    make_tiny_refiner_checkpoint,
    make_tiny_t5_tokenizer,
    make_tiny_upscaler,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def flux_part(role: str, *, guidance: bool = True, fill: bool = False, image_concat: bool = False):
    """Writes one of the tiny flux component files (same seed, so they belong together) at the given path;
    ``guidance=False``: of a schnell-like model; ``fill``: a FLUX.1 Fill transformer (384 input features);
    ``image_concat``: a FLUX.1 Canny/Depth transformer (128 input features)."""

    def make(path: Path) -> None:
        with tempfile.TemporaryDirectory() as folder:
            files = make_tiny_component_files(
                "flux", folder, seed=9, guidance=guidance, inpainting=fill, image_concat=image_concat
            )
            shutil.move(files[role], path)

    return make


TEMPLATES = resources.files("comfyui_workflow_templates") / "templates"
CURRENT_TEMPLATES = resources.files("comfyui_workflow_templates_json") / "templates"
MODEL_FILES = {
    "checkpoints/v1-5-pruned-emaonly-fp16.safetensors": lambda p: make_tiny_checkpoint("sd1", p, seed=0),
    "checkpoints/dreamshaper_8.safetensors": lambda p: make_tiny_checkpoint("sd1", p, seed=1),
    "checkpoints/DreamShaper_8_pruned.safetensors": lambda p: make_tiny_checkpoint("sd1", p, seed=2),
    "loras/MoXinV1.safetensors": lambda p: make_tiny_lora("sd1", p, seed=3),
    "loras/blindbox_v1_mix.safetensors": lambda p: make_tiny_lora("sd1", p, seed=4),
    "upscale_models/RealESRGAN_x4plus.safetensors": lambda p: make_tiny_upscaler(p, scale=4),
    "checkpoints/512-inpainting-ema.safetensors": lambda p: make_tiny_checkpoint(
        "sd2", p, seed=7, inpainting=True
    ),
    "checkpoints/sd_xl_base_1.0.safetensors": lambda p: make_tiny_checkpoint("sdxl", p, seed=5),
    "checkpoints/sd_xl_refiner_1.0.safetensors": lambda p: make_tiny_refiner_checkpoint(p, seed=10),
    "checkpoints/sd3.5_large_fp8_scaled.safetensors": lambda p: make_tiny_checkpoint("sd3", p, seed=6),
    "checkpoints/flux1-schnell-fp8.safetensors": lambda p: make_tiny_checkpoint(
        "flux", p, seed=8, guidance=False
    ),
    "diffusion_models/flux1-dev.safetensors": flux_part("diffusion_model"),
    "diffusion_models/flux1-schnell.safetensors": flux_part("diffusion_model", guidance=False),
    "text_encoders/clip_l.safetensors": flux_part("clip_l"),
    "text_encoders/t5xxl_fp16.safetensors": flux_part("t5"),
    "vae/ae.safetensors": flux_part("vae"),
    # FLUX.1 Kontext dev is FLUX.1 dev's architecture (the reference image enters as extra tokens).
    "diffusion_models/flux1-dev-kontext_fp8_scaled.safetensors": flux_part("diffusion_model"),
    "text_encoders/t5xxl_fp8_e4m3fn_scaled.safetensors": flux_part("t5"),
    "diffusion_models/flux1-fill-dev.safetensors": flux_part("diffusion_model", fill=True),
    "diffusion_models/flux1-canny-dev.safetensors": flux_part("diffusion_model", image_concat=True),
    # ComfyUI's classic SD1.5 ControlNet examples: the checkpoints and ControlNets of the same tiny SD1 UNet.
    "checkpoints/architecturerealmix_v11.safetensors": lambda p: make_tiny_checkpoint("sd1", p, seed=11),
    "checkpoints/awpainting_v14.safetensors": lambda p: make_tiny_checkpoint("sd1", p, seed=12),
    "controlnet/control_v11f1p_sd15_depth_fp16.safetensors": lambda p: make_tiny_controlnet(
        "sd1", p, seed=11
    ),
    "controlnet/control_v11p_sd15_scribble_fp16.safetensors": lambda p: make_tiny_controlnet(
        "sd1", p, seed=12
    ),
    "controlnet/control_v11p_sd15_openpose_fp16.safetensors": lambda p: make_tiny_controlnet(
        "sd1", p, seed=13, layout="diffusers_keys"
    ),
    "vae/vae-ft-mse-840000-ema-pruned.safetensors": lambda p: shutil.move(
        make_tiny_component_files("sd1", p.parent / "sd1-parts", seed=12)["vae"], p
    ),
    # SDXL revision's OpenCLIP ViT-G (projected to the tiny SDXL's pooled width) and Flux Redux's SigLIP + Redux.
    "clip_vision/clip_vision_g.safetensors": lambda p: make_tiny_clip_vision(p, "clip", seed=14),
    "clip_vision/sigclip_vision_patch14_384.safetensors": lambda p: make_tiny_clip_vision(
        p, "siglip", seed=15
    ),
    "style_models/flux1-redux-dev.safetensors": lambda p: make_tiny_redux(p, seed=16),
    # Where the flux loaders look for the T5 tokenizer (none ships with the pack; ComfyUI bundles its own).
    "text_encoders/t5_tokenizer/tokenizer.json": make_tiny_t5_tokenizer,
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    for name, make in MODEL_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        make(root / name)
    return root


@pytest.fixture(autouse=True)
def diffusion_site(settings, model_dir, monkeypatch):
    settings.FLOWYARD_NODE_PACKS = ["nodepacks.core", "nodepacks.diffusion"]
    settings.FLOWYARD_MODELS_DIR = model_dir
    settings.FLOWYARD_EXTRA_MODEL_PATHS = []
    monkeypatch.setattr(
        process, "_models", None
    )  # a manager over this library, warm across this module's runs


def template(name: str, folder=TEMPLATES) -> dict:
    return json.loads((folder / f"{name}.json").read_text())


def png(size: tuple[int, int], *, hole: bool = False) -> bytes:
    """Random RGB pixels; with ``hole``, an RGBA image whose transparent centre is LoadImage's mask."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, (size[1], size[0], 4 if hole else 3), dtype=np.uint8)
    if hole:
        pixels[..., 3] = 255
        pixels[size[1] // 4 : size[1] * 3 // 4, size[0] // 4 : size[0] * 3 // 4, 3] = 0
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client, workspace, name: str, data: bytes) -> None:
    body = {"file": io.BytesIO(data), "workspace": workspace.pk}
    body["file"].name = name
    response = client.post("/api/uploads", body, format="multipart")
    assert response.status_code == 201, response.content


def smaller(graph: dict, side: int = 128) -> None:
    """The template as it is, but 3 sampling steps and ``side`` pixels instead of 512-768 (CPU test time): the
    samplers, schedulers, cfg, seeds, prompts, strengths and wiring stay the template's own."""
    subgraphs = (graph.get("subgraphs") or {}).values()
    for node in [
        node for nodes in (graph["nodes"], *(s["nodes"] for s in subgraphs)) for node in nodes.values()
    ]:
        if node["type"] in ("KSampler", "KSamplerAdvanced"):
            node["inputs"]["steps"] = 3
        elif node["type"] in ("EmptyLatentImage", "EmptySD3LatentImage"):
            node["inputs"].update(width=side, height=side)
        elif node["type"] == "ImageScaleToTotalPixels":
            node["inputs"]["megapixels"] = 0.02


def import_and_run(client, workspace, workflow: dict, wait_for_run, overrides: dict | None = None) -> Run:
    imported = client.post("/api/import/comfy", workflow, format="json")
    assert imported.status_code == 200, imported.content
    assert not imported.json()["missing"]
    graph = imported.json()["document"]["graph"]
    smaller(graph)
    for node_id, values in (overrides or {}).items():
        graph["nodes"][node_id]["inputs"].update(values)
    response = client.post("/api/runs", {"workspace": workspace.pk, "graph": graph}, format="json")
    assert response.status_code == 201, response.content
    run = wait_for_run(response.json()["id"], timeout=240)
    assert run.status == Run.Status.SUCCEEDED, run.error
    return run


def saved_images(run: Run) -> list[np.ndarray]:
    store = get_blob_store()
    rows = RunOutput.objects.filter(run=run, kind=RunOutput.Kind.IMAGE).exclude(
        filename__startswith="preview-"
    )
    images = []
    for row in rows:
        assert row.blob_sha, row.filename  # a stored output has its blob
        images.append(np.asarray(Image.open(io.BytesIO(store.read(row.blob_sha))).convert("RGB")))
    return images


def assert_real_image(image: np.ndarray, size: tuple[int, int]) -> None:
    assert image.shape == (size[1], size[0], 3)
    assert image.std() > 1.0, "the decoded image is flat: nothing was generated"


def test_default_txt2img_template(alice, team, client_for, wait_for_run):
    run = import_and_run(client_for(alice), team, template("default"), wait_for_run)
    (image,) = saved_images(run)
    assert_real_image(image, (128, 128))


def test_image2image_template(alice, team, client_for, wait_for_run):
    client = client_for(alice)
    upload(client, team, "example.png", png((128, 96)))
    run = import_and_run(client, team, template("image2image"), wait_for_run)
    (image,) = saved_images(run)
    # ImageScaleToTotalPixels keeps 4:3; the VAE round trip crops to a multiple of 8.
    assert image.shape[2] == 3 and abs(image.shape[1] / image.shape[0] - 4 / 3) < 0.05
    assert image.shape[0] % 8 == 0 and image.shape[1] % 8 == 0
    assert image.std() > 1.0


def test_inpaint_template_on_a_9_channel_sd2_inpainting_model(alice, team, client_for, wait_for_run):
    """SD2 inpainting checkpoint (OpenCLIP-H text encoder, UNet with mask + masked-image channels), LoadImage's
    alpha as the mask, VAEEncodeForInpaint growing it by 6 px, and ComfyUI's uni_pc_bh2 sampler."""
    client = client_for(alice)
    upload(client, team, "input.png", png((128, 96), hole=True))
    run = import_and_run(client, team, template("inpaint_example"), wait_for_run)
    (image,) = saved_images(run)
    assert abs(image.shape[1] / image.shape[0] - 4 / 3) < 0.05 and image.std() > 1.0


def test_lora_template_and_the_loras_change_the_image(alice, team, client_for, wait_for_run):
    workflow = template("lora")
    client = client_for(alice)
    with_loras = saved_images(import_and_run(client, team, workflow, wait_for_run))[0]
    assert_real_image(with_loras, (128, 128))
    lora_nodes = [str(node["id"]) for node in workflow["nodes"] if node["type"] == "LoraLoader"]
    off = {node_id: {"strength_model": 0.0, "strength_clip": 0.0} for node_id in lora_nodes}
    without = saved_images(import_and_run(client, team, workflow, wait_for_run, overrides=off))[0]
    assert np.abs(with_loras.astype(int) - without.astype(int)).mean() > 0.5


def test_esrgan_upscale_template(alice, team, client_for, wait_for_run):
    run = import_and_run(client_for(alice), team, template("esrgan_example"), wait_for_run)
    sizes = sorted(image.shape for image in saved_images(run))
    assert sizes == [(128, 128, 3), (512, 512, 3)], (
        sizes
    )  # the preview of the generated image, and 4x upscaled


@pytest.mark.parametrize("name", ["image_sdxl_simple", "sd3.5_simple_example"])
def test_current_sdxl_and_sd3_templates(name, alice, team, client_for, wait_for_run):
    """Today's SDXL (dpmpp_2m, karras) and SD3.5 (flow matching, sgm_uniform) txt2img templates."""
    run = import_and_run(client_for(alice), team, template(name, CURRENT_TEMPLATES), wait_for_run)
    (image,) = saved_images(run)
    assert_real_image(image, (128, 128))


@pytest.mark.parametrize(
    "name",
    [
        "flux_schnell",
        "flux_dev_checkpoint_example",
        "flux_dev_full_text_to_image",
        "flux_schnell_full_text_to_image",
    ],
)
def test_flux_templates(name, alice, team, client_for, wait_for_run):
    """FLUX.1 schnell from a whole fp8-named checkpoint (CLIP-L, T5-XXL and VAE inside); FLUX.1 dev and schnell
    from UNETLoader + DualCLIPLoader (type flux) + VAELoader (dev's inside a subgraph), ConditioningZeroOut as the
    negative, schnell's prompt from CLIPTextEncodeFlux; all KSampler euler/simple at cfg 1, the T5 tokenizer from
    text_encoders/t5_tokenizer/."""
    run = import_and_run(client_for(alice), team, template(name, CURRENT_TEMPLATES), wait_for_run)
    (image,) = saved_images(run)
    assert_real_image(image, (128, 128))


@pytest.mark.parametrize("name", ["sdxl_simple_example", "sdxl_refiner_prompt_example"])
def test_sdxl_base_and_refiner_templates(name, alice, team, client_for, wait_for_run):
    """SDXL base then refiner: two KSamplerAdvanced sharing one schedule, the base returning its leftover noise at
    the switch step and the refiner (OpenCLIP-G only, aesthetic-score time ids) finishing without adding noise.
    The switch moves from step 20 of 25 to step 1 of 3 so that the refiner has most of the denoising (on tiny
    random models the last step of three changes too little to tell); the refiner's share is checked to change
    the image against a run where it has none."""
    client = client_for(alice)
    imported = client.post("/api/import/comfy", template(name, CURRENT_TEMPLATES), format="json")
    assert imported.status_code == 200, imported.content
    assert not imported.json()["missing"]
    graph = imported.json()["document"]["graph"]
    smaller(graph)
    samplers = [node for node in graph["nodes"].values() if node["type"] == "KSamplerAdvanced"]
    base = next(node for node in samplers if node["inputs"].get("add_noise") == "enable")
    refiner = next(node for node in samplers if node["inputs"].get("add_noise") == "disable")
    base["inputs"].update(steps=3, end_at_step=1)
    refiner["inputs"].update(steps=3, start_at_step=1)

    def run_graph() -> np.ndarray:
        response = client.post("/api/runs", {"workspace": team.pk, "graph": graph}, format="json")
        assert response.status_code == 201, response.content
        run = wait_for_run(response.json()["id"], timeout=240)
        assert run.status == Run.Status.SUCCEEDED, run.error
        (image,) = saved_images(run)
        return image

    image = run_graph()
    assert_real_image(image, (128, 128))
    refiner["inputs"].update(
        start_at_step=3
    )  # the refiner's share empty: the base's leftover noise is decoded
    assert np.abs(run_graph().astype(float) - image.astype(float)).mean() > 1.0


def jpeg(size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_flux_kontext_template(alice, team, client_for, wait_for_run):
    """FLUX.1 Kontext dev image editing inside a subgraph: two LoadImage inputs joined by ImageStitch, resized by
    FluxKontextImageScale to the preferred resolution of their aspect ratio (128x64 -> 1456x720), encoded and
    added to the prompt by ReferenceLatent (the same latent is KSampler's input), FluxGuidance 2.5, the
    conditioning zeroed as the negative, euler/simple at cfg 1."""
    client = client_for(alice)
    upload(client, team, "flux_kontext_dev_basic_input_image.jpg", jpeg((64, 64)))
    run = import_and_run(client, team, template("flux_kontext_dev_basic", CURRENT_TEMPLATES), wait_for_run)
    (image,) = saved_images(run)
    assert_real_image(image, (1456, 720))


def test_flux_fill_inpaint_template(alice, team, client_for, wait_for_run):
    """FLUX.1 Fill dev inpainting inside a subgraph: LoadImage's alpha as the mask, InpaintModelConditioning
    giving the fill transformer its masked-image latent and 8x8-blocked mask channels (384 input features),
    DifferentialDiffusion, FluxGuidance 30, euler/normal at cfg 1; the unmasked border comes back unchanged."""
    client = client_for(alice)
    upload(client, team, "flux_fill_inpaint_example_input_image.png", png((128, 96), hole=True))
    run = import_and_run(client, team, template("flux_fill_inpaint_example", CURRENT_TEMPLATES), wait_for_run)
    (image,) = saved_images(run)
    assert abs(image.shape[1] / image.shape[0] - 4 / 3) < 0.05 and image.std() > 1.0


@pytest.mark.parametrize(
    ("name", "images"),
    [
        ("depth_controlnet", ["depth_input (1).png"]),
        ("mixing_controlnets", ["image (72).png", "image (70).png"]),
    ],
)
def test_sd15_controlnet_templates(name, images, alice, team, client_for, wait_for_run):
    """ComfyUI's SD1.5 ControlNet examples: ControlNetLoader + ControlNetApplyAdvanced (two chained in
    mixing_controlnets, one file in diffusers' key layout) steering KSampler with the uploaded hint images."""
    client = client_for(alice)
    for number, image_name in enumerate(images):  # distinct pixels: an identical upload is deduplicated
        upload(client, team, image_name, png((96 + 8 * number, 128)))
    run = import_and_run(client, team, template(name), wait_for_run)
    (image,) = saved_images(run)
    assert_real_image(image, (128, 128))


def test_flux_fill_outpaint_template(alice, team, client_for, wait_for_run):
    """FLUX.1 Fill dev outpainting: ImagePadForOutpaint adds 400 px left, right and below (feathered 24 px) and
    its mask tells InpaintModelConditioning (noise_mask off) where the fill transformer paints."""
    client = client_for(alice)
    upload(client, team, "flux_fill_outpaint_example_input_image.png", png((128, 96)))
    run = import_and_run(
        client, team, template("flux_fill_outpaint_example", CURRENT_TEMPLATES), wait_for_run
    )
    (image,) = saved_images(run)
    assert_real_image(image, (128 + 800, 96 + 400))


def test_flux_canny_template(alice, team, client_for, wait_for_run):
    """FLUX.1 Canny dev: LoadImage -> Canny edges -> InstructPixToPixConditioning, whose edge-image latent enters
    the Canny transformer as 16 extra channels (128 input features) and whose empty latent of the image's size is
    KSampler's input; FluxGuidance 30, the conditioning zeroed as the negative, euler/normal at cfg 1."""
    client = client_for(alice)
    upload(client, team, "flux_canny_model_example_input_image.png", png((128, 96)))
    run = import_and_run(client, team, template("flux_canny_model_example", CURRENT_TEMPLATES), wait_for_run)
    # PreviewImage of the Canny edges (black and white) and SaveImage's generated image.
    edges, image = sorted(saved_images(run), key=lambda found: len(np.unique(found)))
    assert set(np.unique(edges)) <= {0, 255}  # Canny's black and white edge map
    assert_real_image(image, (128, 96))
    assert len(np.unique(image)) > 2


def test_sdxl_revision_template(alice, team, client_for, wait_for_run):
    """SDXL revision: two LoadImage references encoded by CLIPVisionEncode (clip_vision_g, center crop) and
    chained through unCLIPConditioning (strength 0.75) onto the text prompt, whose pooled input they replace;
    KSampler dpmpp_3m_sde_gpu/exponential at cfg 8."""
    client = client_for(alice)
    upload(client, team, "sdxl_revision_text_prompts_ref_image1.png", png((96, 64)))
    upload(client, team, "sdxl_revision_text_prompts_ref_image2.png", png((64, 64)))
    run = import_and_run(
        client, team, template("sdxl_revision_text_prompts", CURRENT_TEMPLATES), wait_for_run
    )
    (image,) = saved_images(run)
    assert_real_image(image, (128, 128))


def test_flux_redux_template(alice, team, client_for, wait_for_run):
    """Flux Redux: two reference images encoded by the SigLIP vision model, turned into text-width tokens by the
    Redux style model and appended to the prompt by two chained StyleModelApply (multiply, strength 1);
    FluxGuidance, BasicGuider, SamplerCustomAdvanced (BasicScheduler's steps cut to 3) and ModelSamplingFlux."""
    client = client_for(alice)
    upload(client, team, "flux_redux_model_example_reference_image_1.png", png((64, 96)))
    upload(client, team, "flux_redux_model_example_reference_image_2.png", png((80, 80)))
    workflow = template("flux_redux_model_example", CURRENT_TEMPLATES)
    run = import_and_run(client, team, workflow, wait_for_run, overrides={"17": {"steps": 3}})
    (image,) = saved_images(run)
    assert_real_image(image, (128, 128))
