"""CLIP vision, Flux Redux and SDXL revision (unCLIP) with tiny random-weight files in ComfyUI's layouts, through
the real loaders and the worker's ModelManager: the layouts load the same network, ComfyUI's preprocessing (crop
or stretch), the Redux tokens against the file's own weights, strength, and unCLIP changing an SDXL result while
other families refuse it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nodepacks.diffusion import clip_vision, testing
from nodepacks.diffusion import nodes_clip_vision as cv_nodes
from nodepacks.diffusion import nodes_latent as latent_nodes
from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import nodes_sampling as sampling_nodes
from nodepacks.diffusion.handles import Cond, DiffusionError
from nodepacks.diffusion.weights import load_tensors
from nodepacks.sdk.testing import run_node
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager


@pytest.fixture(scope="module")
def cv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cv_models")
    vision = root / "clip_vision"
    testing.make_tiny_clip_vision(vision / "clip_vision_g.safetensors", "clip", seed=3)
    testing.make_tiny_clip_vision(vision / "open_clip_g.safetensors", "clip", seed=3, layout="open_clip")
    testing.make_tiny_clip_vision(vision / "sigclip_vision_patch14_384.safetensors", "siglip", seed=4)
    testing.make_tiny_redux(root / "style_models" / "flux1-redux-dev.safetensors", seed=5)
    testing.make_tiny_checkpoint("sdxl", root / "checkpoints" / "tiny-sdxl.safetensors")
    testing.make_tiny_checkpoint("sd1", root / "checkpoints" / "tiny-sd1.safetensors")
    from safetensors.torch import save_file

    save_file({"style_embedding": torch.zeros(1, 8, 4)}, str(root / "style_models" / "t2i-style.safetensors"))
    save_file({"something.weight": torch.zeros(2, 2)}, str(vision / "not-a-vision-model.safetensors"))
    return root


@pytest.fixture
def models(cv_root: Path, tmp_path: Path) -> ModelManager:
    return ModelManager(tmp_path / "cache", library=ModelLibrary([cv_root]), vram_budget_bytes=0)


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((1, height, width, 3), dtype=np.float32)


def _vision(models: Any, name: str) -> clip_vision.ClipVision:
    vision: clip_vision.ClipVision = run_node(cv_nodes.CLIPVisionLoader, models=models, clip_name=name)[
        "CLIP_VISION"
    ]
    return vision


def _encode(models: Any, vision: Any, image: np.ndarray, crop: str = "center") -> dict[str, np.ndarray]:
    output: dict[str, np.ndarray] = run_node(
        cv_nodes.CLIPVisionEncode, models=models, clip_vision=vision, image=image, crop=crop
    )["CLIP_VISION_OUTPUT"]
    return output


def test_clip_vision_layouts_and_comfyui_outputs(models: ModelManager) -> None:
    hf = _vision(models, "clip_vision_g.safetensors")
    assert (hf.kind, hf.layout, hf.image_size) == ("clip", "hf", 28)
    open_clip = _vision(models, "open_clip_g.safetensors")
    assert open_clip.layout == "open_clip"
    image = _image(28, 28)
    out = _encode(models, hf, image)
    assert out["image_embeds"].shape == (1, 32) and out["image_embeds"].dtype == np.float32
    assert out["last_hidden_state"].shape == (1, 5, 32)  # class token + 2x2 patches
    assert out["penultimate_hidden_states"].shape == (1, 5, 32)
    # The OpenCLIP file holds the same weights: the same encoding.
    np.testing.assert_allclose(
        _encode(models, open_clip, image)["image_embeds"], out["image_embeds"], atol=1e-5
    )
    # Against the network that wrote the file, on an image of the model's size (no resize: 8-bit quantised and
    # normalised with CLIP's mean/std).
    reference = testing.tiny_clip_vision("clip", seed=3)
    mean = np.array(clip_vision.CLIP_MEAN, np.float32)
    std = np.array(clip_vision.CLIP_STD, np.float32)
    pixels = (np.round(image * 255) / 255 - mean) / std
    with torch.no_grad():
        expected = reference(
            pixel_values=torch.from_numpy(pixels).permute(0, 3, 1, 2), output_hidden_states=True
        )
    np.testing.assert_allclose(out["image_embeds"], expected.image_embeds.numpy(), atol=1e-4)
    np.testing.assert_allclose(out["last_hidden_state"], expected.last_hidden_state.numpy(), atol=1e-4)
    np.testing.assert_allclose(
        out["penultimate_hidden_states"], expected.hidden_states[-2].numpy(), atol=1e-4
    )


def test_center_crop_and_stretch(models: ModelManager) -> None:
    vision = _vision(models, "clip_vision_g.safetensors")
    wide = _image(28, 56, seed=1)
    centre = _encode(models, vision, wide, "center")["image_embeds"]
    np.testing.assert_allclose(centre, _encode(models, vision, wide[:, :, 14:42])["image_embeds"], atol=1e-5)
    stretched = _encode(models, vision, wide, "none")["image_embeds"]
    assert not np.allclose(stretched, centre, atol=1e-3)
    # A larger image is resized on its shortest side first: 56x112 -> 28x56, then the centre.
    big = _encode(models, vision, _image(56, 112, seed=2), "center")
    assert big["last_hidden_state"].shape == (1, 5, 32)


def test_siglip_and_refusals(models: ModelManager) -> None:
    sig = _vision(models, "sigclip_vision_patch14_384.safetensors")
    assert (sig.kind, sig.image_size, sig.mean) == ("siglip", 28, (0.5, 0.5, 0.5))
    out = _encode(models, sig, _image(40, 40))
    assert out["last_hidden_state"].shape == (1, 4, 32)  # 2x2 patches, no class token
    with pytest.raises(DiffusionError, match="clip_name: not-a-vision-model.safetensors: not a CLIP vision"):
        _vision(models, "not-a-vision-model.safetensors")
    with pytest.raises(DiffusionError, match="T2I style adapter"):
        run_node(cv_nodes.StyleModelLoader, models=models, style_model_name="t2i-style.safetensors")


def _conditioning(width: int, tokens: int = 3) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    return [{"cross_attn": rng.random((1, tokens, width), dtype=np.float32), "guidance": 3.5}]


def test_redux_tokens_follow_the_files_weights_and_strength(models: ModelManager, cv_root: Path) -> None:
    style = run_node(cv_nodes.StyleModelLoader, models=models, style_model_name="flux1-redux-dev.safetensors")
    style = style["STYLE_MODEL"]
    assert (style.in_features, style.out_features) == (32, 32)
    out = _encode(models, _vision(models, "sigclip_vision_patch14_384.safetensors"), _image(28, 28))
    cond = _conditioning(32)
    applied = run_node(
        cv_nodes.StyleModelApply, models=models, conditioning=cond, style_model=style, clip_vision_output=out,
        strength=0.5, strength_type="multiply",
    )["CONDITIONING"]  # fmt: skip
    weights = load_tensors(cv_root / "style_models" / "flux1-redux-dev.safetensors")
    hidden = torch.from_numpy(out["last_hidden_state"])
    up = torch.nn.functional.linear(hidden, weights["redux_up.weight"], weights["redux_up.bias"])
    tokens = torch.nn.functional.linear(
        torch.nn.functional.silu(up), weights["redux_down.weight"], weights["redux_down.bias"]
    )
    entry = applied[0]
    assert entry["cross_attn"].shape == (1, 3 + 4, 32) and entry["guidance"] == 3.5
    np.testing.assert_array_equal(entry["cross_attn"][:, :3], cond[0]["cross_attn"])
    np.testing.assert_allclose(entry["cross_attn"][:, 3:], 0.5 * tokens.numpy(), atol=1e-5)
    with pytest.raises(DiffusionError, match="attn_bias"):
        run_node(
            cv_nodes.StyleModelApply, models=models, conditioning=cond, style_model=style, clip_vision_output=out,
            strength=0.5, strength_type="attn_bias",
        )  # fmt: skip
    with pytest.raises(DiffusionError, match="Flux Redux works with FLUX.1"):
        run_node(
            cv_nodes.StyleModelApply, models=models, conditioning=_conditioning(80), style_model=style,
            clip_vision_output=out, strength=1.0, strength_type="multiply",
        )  # fmt: skip
    clip_out = _encode(models, _vision(models, "clip_vision_g.safetensors"), _image(28, 28))
    with pytest.raises(DiffusionError, match="SigLIP"):
        clip_vision.style_tokens(
            style, models, {**clip_out, "last_hidden_state": np.zeros((1, 5, 16), np.float32)}
        )


def test_unclip_pooled_is_the_noise_augmented_embedding() -> None:
    embeds = np.random.default_rng(3).standard_normal((1, 32)).astype(np.float32)
    like = torch.zeros(2, 32)
    one = clip_vision.unclip_pooled(
        [{"image_embeds": embeds, "strength": 1.0, "noise_augmentation": 0.0}], 32, like
    )
    two = clip_vision.unclip_pooled(
        [{"image_embeds": embeds, "strength": 2.0, "noise_augmentation": 0.0}], 32, like
    )
    assert one.shape == (2, 32)
    torch.testing.assert_close(two, 2 * one)
    # Level 0 of the squared-cosine schedule keeps the embedding nearly whole: sqrt(1 - alpha_bar_0) is ~0.006.
    alpha0 = math.cos(0.009 / 1.008 * math.pi / 2) ** 2 / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    assert math.sqrt(1 - alpha0) < 0.01
    np.testing.assert_allclose(one[0].numpy(), embeds[0], atol=0.05)
    noisy = clip_vision.unclip_pooled(
        [{"image_embeds": embeds, "strength": 1.0, "noise_augmentation": 1.0}], 32, like
    )
    assert float((noisy[0] - torch.from_numpy(embeds[0])).abs().mean()) > 0.3
    with pytest.raises(DiffusionError, match="clip_vision_g"):
        clip_vision.unclip_pooled([{"image_embeds": embeds, "strength": 1.0}], 48, like)


def _sample(models: Any, model: Any, positive: list[Cond], negative: list[Cond]) -> np.ndarray:
    latent = run_node(latent_nodes.EmptyLatentImage, width=64, height=64, batch_size=1)["LATENT"]
    out = run_node(
        sampling_nodes.KSampler, models=models, model=model, positive=positive, negative=negative,
        latent_image=latent, seed=1, steps=2, cfg=4.0, sampler_name="euler", scheduler="normal", denoise=1.0,
    )  # fmt: skip
    samples: np.ndarray = out["latent"]["samples"]
    return samples


def test_unclip_conditioning_steers_sdxl_and_is_refused_elsewhere(models: ModelManager) -> None:
    vision = _vision(models, "clip_vision_g.safetensors")
    out = _encode(models, vision, _image(28, 28))
    ckpt = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name="tiny-sdxl.safetensors")
    positive = run_node(latent_nodes.CLIPTextEncode, models=models, clip=ckpt["CLIP"], text="a car")[
        "CONDITIONING"
    ]
    negative = run_node(latent_nodes.CLIPTextEncode, models=models, clip=ckpt["CLIP"], text="text")[
        "CONDITIONING"
    ]

    def unclip(cond: list[Cond], **values: Any) -> list[Cond]:
        args = {"strength": 0.75, "noise_augmentation": 0.0, **values}
        conditioning: list[Cond] = run_node(
            cv_nodes.UnCLIPConditioning, conditioning=cond, clip_vision_output=out, **args
        )["CONDITIONING"]
        return conditioning

    assert "unclip_conditioning" not in unclip(positive, strength=0.0)[0]  # strength 0: unchanged
    revised = unclip(
        unclip(positive), noise_augmentation=0.3
    )  # two images, as the revision template chains them
    assert len(revised[0]["unclip_conditioning"]) == 2
    plain = _sample(models, ckpt["MODEL"], positive, negative)
    with_images = _sample(models, ckpt["MODEL"], revised, negative)
    assert np.isfinite(with_images).all()
    assert np.abs(with_images - plain).max() > 1e-3
    np.testing.assert_array_equal(
        with_images, _sample(models, ckpt["MODEL"], revised, negative)
    )  # fixed noise

    sd1 = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name="tiny-sd1.safetensors")
    text = run_node(latent_nodes.CLIPTextEncode, models=models, clip=sd1["CLIP"], text="a car")[
        "CONDITIONING"
    ]
    with pytest.raises(DiffusionError, match="unCLIPConditioning"):
        _sample(models, sd1["MODEL"], unclip(text), text)
