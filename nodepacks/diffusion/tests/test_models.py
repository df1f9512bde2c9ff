"""The diffusion pack's models part on CPU with tiny real-format models: families, loaders, text encoding, VAE,
LoRA, upscaling and the errors users see."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nodepacks.diffusion import nodes_latent as latent_nodes
from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion.families import Family, detect_family, known_families, register_family
from nodepacks.diffusion.families.registry import _FAMILIES as REGISTERED
from nodepacks.diffusion.handles import DiffusionError, ModelSampling
from nodepacks.diffusion.runtime import prepare_denoiser
from nodepacks.diffusion.tokenizers import clip_tokenizer
from nodepacks.sdk.testing import run_node

CHANNELS = {"sd1": 4, "sdxl": 4, "sd3": 16}


def load_checkpoint(models, name: str):
    out = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name=name)
    return out["MODEL"], out["CLIP"], out["VAE"]


def encode(models, clip, text: str = "a photo of a cat"):
    return run_node(latent_nodes.CLIPTextEncode, models=models, clip=clip, text=text)["CONDITIONING"]


def denoise(models, model, cond, seed: int = 0) -> torch.Tensor:
    denoiser = prepare_denoiser(model, models)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, model.latent_format.channels, 8, 8, generator=generator)
    sigma = torch.tensor([float(model.sampling.sigma_max) * 0.5])
    return denoiser(x, sigma, cond)


def test_clip_tokenizer_gives_openai_clip_ids() -> None:
    assert clip_tokenizer()("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]


@pytest.mark.parametrize("family", ["sd1", "sdxl", "sd3"])
def test_checkpoint_of_each_family_loads_encodes_denoises_and_decodes(models, family: str) -> None:
    model, clip, vae = load_checkpoint(models, f"tiny-{family}.safetensors")
    assert (model.family, clip.family, vae.family) == (family, family, family)
    cond = encode(models, clip)
    assert cond[0]["cross_attn"].shape[:2] == (1, 77)
    assert cond[0]["cross_attn"].shape[2] == {"sd1": 32, "sdxl": 80, "sd3": 80}[family]
    denoised = denoise(models, model, cond)
    assert denoised.shape == (1, CHANNELS[family], 8, 8) and torch.isfinite(denoised).all()
    pixels = np.random.default_rng(0).random((1, 64, 64, 3), dtype=np.float32)
    latent = run_node(latent_nodes.VAEEncode, models=models, pixels=pixels, vae=vae)["LATENT"]
    assert latent["samples"].shape == (1, CHANNELS[family], 8, 8)
    image = run_node(latent_nodes.VAEDecode, models=models, samples=latent, vae=vae)["IMAGE"]
    assert image.shape == (1, 64, 64, 3) and image.min() >= 0.0 and image.max() <= 1.0


def test_sd3_is_flow_matching_with_shift_3_and_model_sampling_sd3_changes_it(models) -> None:
    model, _, _ = load_checkpoint(models, "tiny-sd3.safetensors")
    assert model.sampling.prediction == "flow" and model.sampling.shift == 3.0
    shifted = run_node(loaders.ModelSamplingSD3, model=model, shift=6.0)["MODEL"]
    assert shifted.sampling.shift == 6.0 and shifted.key == model.key  # same warm network
    flux = run_node(
        loaders.ModelSamplingFlux, model=model, max_shift=1.15, base_shift=0.5, width=1024, height=1024
    )
    assert flux["MODEL"].sampling.shift == pytest.approx(np.exp(1.15))


def test_diffusers_folder_gives_the_same_predictions_as_the_single_file(models) -> None:
    single, single_clip, _ = load_checkpoint(models, "tiny-sd1.safetensors")
    folder, folder_clip, folder_vae = load_checkpoint(models, "tiny-sd1-diffusers")
    assert folder.weights is not None and folder.weights.layout == "diffusers"
    cond_single, cond_folder = encode(models, single_clip), encode(models, folder_clip)
    np.testing.assert_allclose(cond_single[0]["cross_attn"], cond_folder[0]["cross_attn"], atol=1e-5)
    torch.testing.assert_close(denoise(models, single, cond_single), denoise(models, folder, cond_folder))
    image = run_node(
        latent_nodes.VAEDecode,
        models=models,
        samples={"samples": np.zeros((1, 4, 4, 4), np.float32)},
        vae=folder_vae,
    )["IMAGE"]
    assert image.shape == (1, 32, 32, 3)


def test_separate_unet_dual_clip_and_vae_files_match_the_checkpoint(models) -> None:
    model, clip, _ = load_checkpoint(models, "tiny-sdxl.safetensors")
    unet = run_node(loaders.UNETLoader, models=models, unet_name="tiny-sdxl-unet.safetensors")["MODEL"]
    # CLIP-G first: the loader tells the two apart by width.
    dual = run_node(
        loaders.DualCLIPLoader,
        models=models,
        clip_name1="clip_g.safetensors",
        clip_name2="clip_l.safetensors",
        type="sdxl",
    )["CLIP"]
    vae = run_node(loaders.VAELoader, models=models, vae_name="tiny-sdxl-vae.safetensors")["VAE"]
    assert (unet.family, dual.family, vae.latent_format.channels) == ("sdxl", "sdxl", 4)
    cond, dual_cond = encode(models, clip), encode(models, dual)
    np.testing.assert_allclose(cond[0]["cross_attn"], dual_cond[0]["cross_attn"], atol=1e-5)
    np.testing.assert_allclose(cond[0]["pooled_output"], dual_cond[0]["pooled_output"], atol=1e-5)
    torch.testing.assert_close(denoise(models, model, cond), denoise(models, unet, dual_cond))


def test_clip_set_last_layer_changes_the_encoding(models) -> None:
    _, clip, _ = load_checkpoint(models, "tiny-sd1.safetensors")
    skipped = run_node(loaders.CLIPSetLastLayer, clip=clip, stop_at_clip_layer=-2)["CLIP"]
    assert not np.allclose(encode(models, clip)[0]["cross_attn"], encode(models, skipped)[0]["cross_attn"])


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_lora_changes_the_unet_output_and_the_text_encoding(models, family: str) -> None:
    model, clip, _ = load_checkpoint(models, f"tiny-{family}.safetensors")
    out = run_node(
        loaders.LoraLoader,
        models=models,
        model=model,
        clip=clip,
        lora_name=f"tiny-{family}-lora.safetensors",
        strength_model=1.0,
        strength_clip=1.0,
    )
    patched, patched_clip = out["MODEL"], out["CLIP"]
    assert patched.key != model.key and patched_clip.key != clip.key
    cond, patched_cond = encode(models, clip), encode(models, patched_clip)
    assert not np.allclose(cond[0]["cross_attn"], patched_cond[0]["cross_attn"])
    plain, lora = denoise(models, model, cond), denoise(models, patched, cond)
    assert (plain - lora).abs().max() > 1e-4
    torch.testing.assert_close(denoise(models, model, cond), plain)  # the unpatched network is untouched
    only = run_node(
        loaders.LoraLoaderModelOnly,
        models=models,
        model=model,
        lora_name=f"tiny-{family}-lora.safetensors",
        strength_model=0.0,
    )["MODEL"]
    assert only is model


def test_lora_of_another_family_is_refused_naming_both(models) -> None:
    model, clip, _ = load_checkpoint(models, "tiny-sd1.safetensors")
    with pytest.raises(DiffusionError, match=r"tiny-sdxl-lora\.safetensors is a sdxl LoRA, the model is sd1"):
        run_node(
            loaders.LoraLoader,
            models=models,
            model=model,
            clip=clip,
            lora_name="tiny-sdxl-lora.safetensors",
            strength_model=1.0,
            strength_clip=1.0,
        )


def test_upscale_model_scales_the_image(models) -> None:
    upscaler = run_node(loaders.UpscaleModelLoader, models=models, model_name="tiny-2x.safetensors")[
        "UPSCALE_MODEL"
    ]
    assert upscaler.scale == 2
    image = np.random.default_rng(0).random((2, 16, 24, 3), dtype=np.float32)
    out = run_node(latent_nodes.ImageUpscaleWithModel, models=models, upscale_model=upscaler, image=image)[
        "IMAGE"
    ]
    assert out.shape == (2, 32, 48, 3)


def test_latent_nodes_follow_comfyui_shapes() -> None:
    latent = run_node(latent_nodes.EmptyLatentImage, width=64, height=48, batch_size=2)["LATENT"]
    assert latent["samples"].shape == (2, 4, 6, 8)
    sd3 = run_node(latent_nodes.EmptySD3LatentImage, width=64, height=64, batch_size=1)["LATENT"]
    assert sd3["samples"].shape == (1, 16, 8, 8)
    up = run_node(latent_nodes.LatentUpscaleBy, samples=latent, upscale_method="bilinear", scale_by=2.0)[
        "LATENT"
    ]
    assert up["samples"].shape == (2, 4, 12, 16)
    sized = run_node(
        latent_nodes.LatentUpscale,
        samples=latent,
        upscale_method="nearest-exact",
        width=128,
        height=0,
        crop="disabled",
    )["LATENT"]
    assert sized["samples"].shape == (2, 4, 12, 16)
    masked = run_node(latent_nodes.SetLatentNoiseMask, samples=latent, mask=np.ones((1, 48, 64), np.float32))
    repeated = run_node(latent_nodes.RepeatLatentBatch, samples=masked["LATENT"], amount=3)["LATENT"]
    assert repeated["samples"].shape == (6, 4, 6, 8) and repeated["noise_mask"].shape == (1, 1, 48, 64)


def test_conditioning_nodes(models) -> None:
    _, clip, _ = load_checkpoint(models, "tiny-sd1.safetensors")
    cond = encode(models, clip)
    both = run_node(latent_nodes.ConditioningCombine, conditioning_1=cond, conditioning_2=cond)[
        "CONDITIONING"
    ]
    assert len(both) == 2
    zero = run_node(latent_nodes.ConditioningZeroOut, conditioning=cond)["CONDITIONING"]
    assert not zero[0]["cross_attn"].any() and cond[0]["cross_attn"].any()
    guided = run_node(latent_nodes.FluxGuidance, conditioning=cond, guidance=2.5)["CONDITIONING"]
    assert guided[0]["guidance"] == 2.5 and "guidance" not in cond[0]


def test_inpaint_encode_keeps_the_grown_mask(models) -> None:
    _, _, vae = load_checkpoint(models, "tiny-sd1.safetensors")
    mask = np.zeros((1, 64, 64), np.float32)
    mask[:, 24:40, 24:40] = 1.0
    pixels = np.ones((1, 64, 64, 3), np.float32)
    latent = run_node(
        latent_nodes.VAEEncodeForInpaint, models=models, pixels=pixels, vae=vae, mask=mask, grow_mask_by=4
    )["LATENT"]
    assert latent["samples"].shape == (1, 4, 8, 8)
    assert latent["noise_mask"].shape == (1, 1, 64, 64) and latent["noise_mask"].sum() == 24 * 24


def test_tiled_decode_matches_the_image_size(models) -> None:
    _, _, vae = load_checkpoint(models, "tiny-sd1.safetensors")
    samples = {"samples": np.random.default_rng(0).standard_normal((1, 4, 12, 20)).astype(np.float32)}
    image = run_node(
        latent_nodes.VAEDecodeTiled,
        models=models,
        samples=samples,
        vae=vae,
        tile_size=64,
        overlap=32,
        temporal_size=64,
        temporal_overlap=8,
    )["IMAGE"]
    assert image.shape == (1, 96, 160, 3)


# -- errors -------------------------------------------------------------------------------------------------


def test_missing_file_names_the_input(models) -> None:
    with pytest.raises(DiffusionError, match="ckpt_name: .*nope.safetensors"):
        load_checkpoint(models, "nope.safetensors")


def test_truncated_file_is_reported_as_corrupt(models, library_root: Path) -> None:
    data = (library_root / "checkpoints" / "tiny-sd1.safetensors").read_bytes()
    (library_root / "checkpoints" / "broken.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(DiffusionError, match="ckpt_name: broken.safetensors: .*corrupt or truncated"):
        load_checkpoint(models, "broken.safetensors")


def test_unknown_family_lists_the_known_ones(models, library_root: Path) -> None:
    from safetensors.torch import save_file

    save_file({"some.layer.weight": torch.zeros(2, 2)}, str(library_root / "checkpoints" / "odd.safetensors"))
    with pytest.raises(
        DiffusionError,
        match=r"ckpt_name: odd.safetensors: not a model of a known family "
        r"\(known: .*sd1.*\)",
    ):
        load_checkpoint(models, "odd.safetensors")


def test_latent_of_another_family_is_refused(models) -> None:
    model, clip, vae = load_checkpoint(models, "tiny-sd1.safetensors")
    sd3_latent = run_node(latent_nodes.EmptySD3LatentImage, width=64, height=64, batch_size=1)["LATENT"]
    with pytest.raises(
        DiffusionError, match="samples: the latent has 16 channels but this sd1 VAE works on 4"
    ):
        run_node(latent_nodes.VAEDecode, models=models, samples=sd3_latent, vae=vae)
    with pytest.raises(DiffusionError, match="16 channels but a sd1 model works on 4"):
        prepare_denoiser(model, models)(torch.zeros(1, 16, 8, 8), torch.ones(1), encode(models, clip))


def test_sizes_not_divisible_by_8_are_refused() -> None:
    with pytest.raises(DiffusionError, match="width: 500 is not a multiple of 8"):
        run_node(latent_nodes.EmptyLatentImage, width=500, height=512, batch_size=1)


def test_a_pack_can_register_a_family() -> None:
    class Toy(Family):
        name = "toy"

        def detect_keys(self, keys) -> bool:
            return "toy.core.weight" in keys

        def default_sampling(self) -> ModelSampling:
            return ModelSampling.flow()

    register_family(Toy())
    try:
        assert detect_family({"toy.core.weight"}).name == "toy"
        assert "toy" in known_families()
    finally:
        REGISTERED[:] = [family for family in REGISTERED if family.name != "toy"]


def test_importing_the_pack_does_not_import_torch() -> None:
    code = "import sys, nodepacks.diffusion; print('torch' in sys.modules, 'diffusers' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.stdout.strip() == "False False"
