"""InstructPixToPixConditioning on an instruct-pix2pix SD1 UNet (8 input channels) and a FLUX.1 Canny/Depth-like
transformer (128 input features), and Flux LoRAs in kohya's original names and diffusers/peft names, on tiny
real-format models."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from nodepacks.diffusion import lora, testing
from nodepacks.diffusion import nodes_latent as latent_nodes
from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import nodes_sampling as sampling_nodes
from nodepacks.diffusion.families import get_family
from nodepacks.diffusion.handles import DiffusionError, Patch
from nodepacks.diffusion.nodes_ip2p import InstructPixToPixConditioning
from nodepacks.diffusion.runtime import load_diffusion_network, prepare_denoiser, vae_encode
from nodepacks.diffusion.weights import load_tensors
from nodepacks.sdk.testing import run_node
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ip2p_models")
    testing.make_tiny_checkpoint("sd1", root / "checkpoints" / "ip2p.safetensors", image_concat=True)
    testing.make_tiny_checkpoint("flux", root / "checkpoints" / "flux.safetensors")
    testing.make_tiny_t5_tokenizer(root / "text_encoders" / "t5_tokenizer" / "tokenizer.json")
    canny = testing.make_tiny_component_files("flux", root / "parts", seed=3, image_concat=True)
    (root / "diffusion_models").mkdir()
    canny["diffusion_model"].rename(root / "diffusion_models" / "flux1-canny-dev.safetensors")
    testing.make_tiny_lora("flux", root / "loras" / "flux-kohya.safetensors", layout="kohya")
    testing.make_tiny_lora("flux", root / "loras" / "flux-peft.safetensors", layout="peft")
    testing.make_tiny_lora("sd1", root / "loras" / "sd1.safetensors")
    return root


@pytest.fixture
def models(root: Path, tmp_path: Path) -> ModelManager:
    return ModelManager(tmp_path / "cache", library=ModelLibrary([root]), vram_budget_bytes=0)


def load(models, name: str):
    out = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name=name)
    return out["MODEL"], out["CLIP"], out["VAE"]


def encode(models, clip, text: str = "make it snow"):
    return run_node(latent_nodes.CLIPTextEncode, models=models, clip=clip, text=text)["CONDITIONING"]


def pixels(seed: int, size: tuple[int, int] = (32, 32)) -> np.ndarray:
    return np.random.default_rng(seed).random((1, *size, 3)).astype(np.float32)


def ip2p(models, vae, positive, negative, image):
    return run_node(
        InstructPixToPixConditioning,
        models=models,
        positive=positive,
        negative=negative,
        vae=vae,
        pixels=image,
    )


def test_node_puts_the_cropped_images_latent_in_both_conditionings_and_returns_an_empty_latent(
    models,
) -> None:
    _, clip, vae = load(models, "ip2p.safetensors")
    positive, negative = encode(models, clip), encode(models, clip, "")
    image = pixels(1, (36, 43))  # cropped around the centre to 32x40
    out = ip2p(models, vae, positive, negative, image)
    expected = vae_encode(vae, models, image[:, 2:34, 1:41])
    assert out["latent"]["samples"].shape == expected.shape == (1, 4, 4, 5)
    assert not out["latent"]["samples"].any()
    for conds, original in ((out["positive"], positive), (out["negative"], negative)):
        assert len(conds) == 1
        np.testing.assert_allclose(conds[0]["concat_latent_image"], expected, atol=1e-5)
        np.testing.assert_array_equal(conds[0]["cross_attn"], original[0]["cross_attn"])
    again = ip2p(models, vae, out["positive"], out["negative"], pixels(2))  # a second node replaces the image
    assert again["positive"][0]["concat_latent_image"].shape == (1, 4, 4, 4)


def test_instruct_pix2pix_unet_takes_the_image_latent_as_its_extra_channels(models) -> None:
    model, clip, vae = load(models, "ip2p.safetensors")
    denoiser = prepare_denoiser(model, models)
    assert denoiser.concat_channels == 4
    positive, negative = encode(models, clip), encode(models, clip, "")
    first = ip2p(models, vae, positive, negative, pixels(1))
    second = ip2p(models, vae, positive, negative, pixels(2))
    x = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([float(model.sampling.sigma_max) * 0.5])
    a = denoiser(x, sigma, first["positive"])
    b = denoiser(x, sigma, second["positive"])
    assert torch.isfinite(a).all() and not torch.allclose(a, b)
    # What the UNet sees: the noisy input and the image latent in denoiser space, concatenated.
    seen: list[torch.Tensor] = []
    hook = denoiser.network.conv_in.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    try:
        denoiser(x, sigma, first["positive"])
    finally:
        hook.remove()
    image = torch.from_numpy(first["positive"][0]["concat_latent_image"])
    torch.testing.assert_close(seen[0][:, 4:], model.latent_format.process_in(image), atol=1e-5, rtol=1e-5)
    sampled = run_node(
        sampling_nodes.KSampler,
        models=models,
        model=model,
        seed=1,
        steps=2,
        cfg=1.5,
        sampler_name="euler",
        scheduler="normal",
        positive=first["positive"],
        negative=first["negative"],
        latent_image=first["latent"],
        denoise=1.0,
    )["latent"]["samples"]
    assert sampled.shape == (1, 4, 4, 4) and np.isfinite(sampled).all() and sampled.any()


def test_flux_canny_depth_transformer_reads_the_image_latent(models) -> None:
    _, clip, vae = load(models, "flux.safetensors")
    canny = run_node(
        loaders.UNETLoader, models=models, unet_name="flux1-canny-dev.safetensors", weight_dtype="default"
    )["MODEL"]
    denoiser = prepare_denoiser(canny, models)
    assert denoiser.concat_channels == 16  # 128 features / 4 - 16
    positive = run_node(latent_nodes.FluxGuidance, conditioning=encode(models, clip), guidance=30.0)
    negative = run_node(latent_nodes.ConditioningZeroOut, conditioning=positive["CONDITIONING"])
    first = ip2p(models, vae, positive["CONDITIONING"], negative["CONDITIONING"], pixels(1))
    second = ip2p(models, vae, positive["CONDITIONING"], negative["CONDITIONING"], pixels(2))
    assert first["latent"]["samples"].shape == (1, 16, 4, 4)
    x = torch.randn(1, 16, 4, 4, generator=torch.Generator().manual_seed(0))
    a = denoiser(x, torch.tensor([0.7]), first["positive"])
    b = denoiser(x, torch.tensor([0.7]), second["positive"])
    assert torch.isfinite(a).all() and not torch.allclose(a, b)


def flux_prediction(models, model) -> torch.Tensor:
    _, clip, _ = load(models, "flux.safetensors")
    x = torch.randn(1, 16, 4, 4, generator=torch.Generator().manual_seed(0))
    return prepare_denoiser(model, models)(x, torch.tensor([0.6]), encode(models, clip))


@pytest.mark.parametrize("name", ["flux-kohya.safetensors", "flux-peft.safetensors"])
def test_flux_lora_changes_the_prediction(models, name: str) -> None:
    model, _, _ = load(models, "flux.safetensors")
    patched = run_node(
        loaders.LoraLoaderModelOnly, models=models, model=model, lora_name=name, strength_model=0.8
    )
    base = flux_prediction(models, model)
    changed = flux_prediction(models, patched["MODEL"])
    assert torch.isfinite(changed).all() and not torch.allclose(base, changed, atol=1e-4)


def test_flux_kohya_lora_merges_fused_qkv_and_linear1_split_like_diffusers(models, root: Path) -> None:
    model, _, _ = load(models, "flux.safetensors")
    family = get_family("flux")
    base = load_diffusion_network(model, models)
    path = root / "loras" / "flux-kohya.safetensors"
    state = load_tensors(path)
    zero = copy.deepcopy(base)
    lora.apply_to_diffusion_model(zero, family, Patch("lora", "x", str(path), 0.0))
    for (key, before), after in zip(base.state_dict().items(), zero.state_dict().values(), strict=True):
        torch.testing.assert_close(after, before, msg=key)  # strength 0 changes nothing
    merged = copy.deepcopy(base)
    lora.apply_to_diffusion_model(merged, family, Patch("lora", "x", str(path), 0.5))
    width = base.config.num_attention_heads * base.config.attention_head_dim
    name = "lora_unet_single_blocks_0_linear1"
    delta = state[f"{name}.lora_up.weight"] @ state[f"{name}.lora_down.weight"]
    scale = 0.5 * float(state[f"{name}.alpha"]) / state[f"{name}.lora_down.weight"].shape[0]
    block, merged_block = base.single_transformer_blocks[0], merged.single_transformer_blocks[0]
    torch.testing.assert_close(
        merged_block.attn.to_k.weight - block.attn.to_k.weight, delta[width : 2 * width] * scale
    )
    torch.testing.assert_close(
        merged_block.proj_mlp.weight - block.proj_mlp.weight, delta[3 * width :] * scale
    )
    name = "lora_unet_double_blocks_0_txt_attn_qkv"
    delta = state[f"{name}.lora_up.weight"] @ state[f"{name}.lora_down.weight"]
    pair = (
        base.transformer_blocks[0].attn.add_v_proj.weight,
        merged.transformer_blocks[0].attn.add_v_proj.weight,
    )
    torch.testing.assert_close(pair[1] - pair[0], delta[2 * width :] * scale)


def test_sd1_lora_on_flux_is_refused(models) -> None:
    model, _, _ = load(models, "flux.safetensors")
    with pytest.raises(Exception, match="sd1"):
        run_node(
            loaders.LoraLoaderModelOnly,
            models=models,
            model=model,
            lora_name="sd1.safetensors",
            strength_model=1.0,
        )


def test_mismatched_flux_lora_is_refused(tmp_path: Path) -> None:
    network = testing.tiny_components("flux", 0)["denoiser"]
    path = tmp_path / "wide.safetensors"
    from safetensors.torch import save_file

    save_file(
        {
            "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": torch.zeros(2, 64),
            "lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight": torch.zeros(999, 2),
        },
        str(path),
    )
    with pytest.raises(DiffusionError, match="does not fit"):
        lora.apply_to_diffusion_model(network, get_family("flux"), Patch("lora", "x", str(path), 1.0))
