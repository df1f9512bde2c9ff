"""The flux family on CPU with tiny real-format models: detection of checkpoints, bare transformers and diffusers
folders, CLIP-L + T5 text encoding with a T5 tokenizer found beside the weights or in text_encoders/t5_tokenizer/,
the guidance input of dev-like models, and txt2img through KSampler and the custom-sampling chain."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nodepacks.diffusion import nodes_latent as latent_nodes
from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import nodes_sampling as sampling_nodes
from nodepacks.diffusion import testing
from nodepacks.diffusion.families import detect_family
from nodepacks.diffusion.handles import DiffusionError
from nodepacks.diffusion.runtime import prepare_denoiser
from nodepacks.diffusion.weights import read_keys
from nodepacks.sdk.testing import run_node
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flux_models")
    testing.make_tiny_checkpoint("flux", root / "checkpoints" / "flux-dev.safetensors")
    testing.make_tiny_checkpoint("flux", root / "checkpoints" / "flux-schnell.safetensors", guidance=False)
    testing.make_tiny_t5_tokenizer(root / "text_encoders" / "t5_tokenizer" / "tokenizer.json")
    files = testing.make_tiny_component_files("flux", root / "parts")
    for kind, role, name in (
        ("diffusion_models", "diffusion_model", "flux1-dev.safetensors"),
        ("text_encoders", "clip_l", "clip_l.safetensors"),
        ("text_encoders", "t5", "t5xxl_fp16.safetensors"),
        ("vae", "vae", "ae.safetensors"),
    ):
        (root / kind).mkdir(exist_ok=True)
        files[role].rename(root / kind / name)
    testing.make_tiny_diffusers_folder("flux", root / "checkpoints" / "flux-diffusers")
    return root


@pytest.fixture
def models(root: Path, tmp_path: Path) -> ModelManager:
    return ModelManager(tmp_path / "cache", library=ModelLibrary([root]), vram_budget_bytes=0)


def load(models, name: str):
    out = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name=name)
    return out["MODEL"], out["CLIP"], out["VAE"]


def encode(models, clip, text: str = "a bottle with a rainbow galaxy inside it"):
    return run_node(latent_nodes.CLIPTextEncode, models=models, clip=clip, text=text)["CONDITIONING"]


def denoise(models, model, cond) -> torch.Tensor:
    x = torch.randn(1, 16, 4, 6, generator=torch.Generator().manual_seed(0))  # 3 token columns, 2 rows
    return prepare_denoiser(model, models)(x, torch.tensor([0.7]), cond)


def ksample(models, model, positive, negative, *, steps: int = 2, seed: int = 1):
    empty = run_node(latent_nodes.EmptySD3LatentImage, width=32, height=32, batch_size=1)["LATENT"]
    return run_node(
        sampling_nodes.KSampler,
        models=models,
        model=model,
        seed=seed,
        steps=steps,
        cfg=1.0,
        sampler_name="euler",
        scheduler="simple",
        positive=positive,
        negative=negative,
        latent_image=empty,
        denoise=1.0,
    )["latent"]


def guided(conditioning, value: float):
    return run_node(latent_nodes.FluxGuidance, conditioning=conditioning, guidance=value)["CONDITIONING"]


def test_checkpoints_bare_transformers_and_diffusers_folders_are_flux(root: Path, models) -> None:
    for path in (
        root / "checkpoints" / "flux-dev.safetensors",
        root / "diffusion_models" / "flux1-dev.safetensors",
    ):
        assert detect_family(read_keys(path), source=path.name).name == "flux"
    dev, clip, vae = load(models, "flux-dev.safetensors")
    schnell, _, _ = load(models, "flux-schnell.safetensors")
    folder, folder_clip, _ = load(models, "flux-diffusers")
    bare = run_node(
        loaders.UNETLoader, models=models, unet_name="flux1-dev.safetensors", weight_dtype="default"
    )
    assert {dev.family, clip.family, vae.family, folder.family, bare["MODEL"].family} == {"flux"}
    assert dev.latent_format.channels == 16 and dev.latent_format.scale_factor == pytest.approx(0.3611)
    # ComfyUI's ModelSamplingFlux: mu 1.15 for dev, 1.0 for schnell, timestep = sigma.
    assert dev.sampling.prediction == "flow" and dev.sampling.multiplier == 1.0
    assert dev.sampling.shift == pytest.approx(math.exp(1.15))
    assert schnell.sampling.shift == pytest.approx(math.exp(1.0))
    assert folder.sampling.shift == pytest.approx(math.exp(1.15))
    assert [s.role for s in clip.sources] == ["", "t5_tokenizer"]  # the library's t5_tokenizer/ was found


def test_checkpoint_separate_files_and_diffusers_folder_encode_and_predict_the_same(models) -> None:
    model, clip, _ = load(models, "flux-dev.safetensors")
    cond = encode(models, clip)
    assert cond[0]["cross_attn"].shape == (1, 256, 32) and cond[0]["pooled_output"].shape == (1, 32)
    reference = denoise(models, model, cond)
    assert reference.shape == (1, 16, 4, 6) and torch.isfinite(reference).all()

    bare = run_node(
        loaders.UNETLoader, models=models, unet_name="flux1-dev.safetensors", weight_dtype="default"
    )
    dual = run_node(
        loaders.DualCLIPLoader,
        models=models,
        clip_name1="t5xxl_fp16.safetensors",  # either order
        clip_name2="clip_l.safetensors",
        type="flux",
        device="default",
    )
    cond_files = encode(models, dual["CLIP"])
    np.testing.assert_allclose(cond_files[0]["cross_attn"], cond[0]["cross_attn"], atol=1e-5)
    np.testing.assert_allclose(cond_files[0]["pooled_output"], cond[0]["pooled_output"], atol=1e-5)
    torch.testing.assert_close(denoise(models, bare["MODEL"], cond_files), reference)

    folder, folder_clip, _ = load(models, "flux-diffusers")
    cond_folder = encode(models, folder_clip)
    np.testing.assert_allclose(cond_folder[0]["cross_attn"], cond[0]["cross_attn"], atol=1e-5)
    torch.testing.assert_close(denoise(models, folder, cond_folder), reference)


def test_t5_prompt_ends_with_its_end_token_and_is_padded_to_256(models) -> None:
    _, clip, _ = load(models, "flux-dev.safetensors")
    long_prompt = encode(models, clip, " ".join(["cat"] * 300))
    assert long_prompt[0]["cross_attn"].shape[1] == 301  # 300 words and the end token, nothing cut
    cat, dog = encode(models, clip, "a cat"), encode(models, clip, "a dog")
    assert not np.allclose(cat[0]["cross_attn"], dog[0]["cross_attn"])


def test_txt2img_with_flux_guidance_and_ksampler(models) -> None:
    model, clip, vae = load(models, "flux-dev.safetensors")
    positive, negative = encode(models, clip), encode(models, clip, "")
    latent = ksample(models, model, guided(positive, 3.5), negative)
    assert latent["samples"].shape == (1, 16, 4, 4) and np.isfinite(latent["samples"]).all()
    image = run_node(latent_nodes.VAEDecode, models=models, samples=latent, vae=vae)["IMAGE"]
    assert image.shape == (1, 32, 32, 3) and image.std() > 0
    # Guidance is a network input on a dev-like model (3.5 is also the value without FluxGuidance).
    assert np.array_equal(ksample(models, model, positive, negative)["samples"], latent["samples"])
    low = ksample(models, model, guided(positive, 1.0), negative)
    assert np.abs(low["samples"] - latent["samples"]).max() > 1e-4


def test_schnell_ignores_guidance(models) -> None:
    model, clip, _ = load(models, "flux-schnell.safetensors")
    positive, negative = encode(models, clip), encode(models, clip, "")
    high = ksample(models, model, guided(positive, 3.5), negative)["samples"]
    low = ksample(models, model, guided(positive, 1.0), negative)["samples"]
    np.testing.assert_array_equal(high, low)


def test_custom_sampling_chain_with_model_sampling_flux(models) -> None:
    model, clip, vae = load(models, "flux-dev.safetensors")
    shifted = run_node(
        loaders.ModelSamplingFlux, model=model, max_shift=1.15, base_shift=0.5, width=32, height=32
    )["MODEL"]
    assert shifted.sampling.shift < model.sampling.shift  # a small image: mu near base_shift
    sigmas = run_node(sampling_nodes.BasicScheduler, model=shifted, scheduler="simple", steps=2, denoise=1.0)[
        "sigmas"
    ]
    assert len(sigmas) == 3 and sigmas[0] == pytest.approx(1.0) and sigmas[-1] == 0.0
    guider = run_node(
        sampling_nodes.BasicGuider, model=shifted, conditioning=guided(encode(models, clip), 3.5)
    )
    outcome = run_node(
        sampling_nodes.SamplerCustomAdvanced,
        models=models,
        noise=run_node(sampling_nodes.RandomNoise, noise_seed=5)["noise"],
        guider=guider["guider"],
        sampler=run_node(sampling_nodes.KSamplerSelect, sampler_name="euler")["sampler"],
        sigmas=sigmas,
        latent_image=run_node(latent_nodes.EmptySD3LatentImage, width=32, height=32, batch_size=1)["LATENT"],
    )
    samples = outcome["output"]["samples"]
    assert samples.shape == (1, 16, 4, 4) and np.isfinite(samples).all() and np.abs(samples).max() > 0
    image = run_node(latent_nodes.VAEDecode, models=models, samples=outcome["output"], vae=vae)["IMAGE"]
    assert image.shape == (1, 32, 32, 3)


def test_missing_t5_tokenizer_names_both_places(root: Path, tmp_path: Path) -> None:
    bare = tmp_path / "library"
    for kind, name in (("checkpoints", "flux-dev.safetensors"), ("text_encoders", "t5xxl_fp16.safetensors")):
        (bare / kind).mkdir(parents=True, exist_ok=True)
        os.link(root / kind / name, bare / kind / name)
    os.link(root / "text_encoders" / "clip_l.safetensors", bare / "text_encoders" / "clip_l.safetensors")
    models = ModelManager(tmp_path / "cache", library=ModelLibrary([bare]), vram_budget_bytes=0)
    with pytest.raises(DiffusionError) as caught:
        load(models, "flux-dev.safetensors")
    message = str(caught.value)
    assert "tokenizer.json" in message and "spiece.model" in message
    assert str(bare / "checkpoints") in message and "text_encoders/t5_tokenizer/" in message
    with pytest.raises(DiffusionError, match="t5_tokenizer"):
        run_node(
            loaders.DualCLIPLoader,
            models=models,
            clip_name1="clip_l.safetensors",
            clip_name2="t5xxl_fp16.safetensors",
            type="flux",
            device="default",
        )
    # A tokenizer beside the T5 file is found too.
    testing.make_tiny_t5_tokenizer(bare / "text_encoders" / "tokenizer.json")
    dual = run_node(
        loaders.DualCLIPLoader,
        models=models,
        clip_name1="clip_l.safetensors",
        clip_name2="t5xxl_fp16.safetensors",
        type="flux",
        device="default",
    )
    assert encode(models, dual["CLIP"])[0]["cross_attn"].shape == (1, 256, 32)


def test_clip_text_encode_flux_takes_separate_prompts_and_the_guidance(models) -> None:
    from nodepacks.diffusion.nodes_flux import CLIPTextEncodeFlux

    _, clip, _ = load(models, "flux-dev.safetensors")

    def flux_encode(clip_l: str, t5xxl: str):
        inputs: dict[str, Any] = {"clip_l": clip_l, "t5xxl": t5xxl, "guidance": 2.5}
        return run_node(CLIPTextEncodeFlux, models=models, clip=clip, **inputs)["CONDITIONING"][0]

    same = flux_encode("a cat", "a cat")
    plain = encode(models, clip, "a cat")[0]
    np.testing.assert_allclose(same["cross_attn"], plain["cross_attn"])
    assert same["guidance"] == 2.5
    other_clip, other_t5 = flux_encode("a dog", "a cat"), flux_encode("a cat", "a dog")
    np.testing.assert_allclose(other_clip["cross_attn"], same["cross_attn"])
    assert not np.allclose(other_clip["pooled_output"], same["pooled_output"])
    np.testing.assert_allclose(other_t5["pooled_output"], same["pooled_output"])
    assert not np.allclose(other_t5["cross_attn"], same["cross_attn"])
