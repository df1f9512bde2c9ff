"""The pack's remaining gaps: ModelSamplingDiscrete's lcm/x0/zsnr, SamplerLCM, the SDXL refiner family, the text
encoder loaders (TripleCLIPLoader, CLIPLoader for SD2) and SD2 LoRA text-encoder keys; tiny models on CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nodepacks.diffusion import nodes_latent as latent_nodes
from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import nodes_sampling as sampling_nodes
from nodepacks.diffusion import testing
from nodepacks.diffusion.handles import Cond, ModelSampling
from nodepacks.diffusion.runtime import encode_text, prepare_denoiser
from nodepacks.diffusion.sampling.samplers import SamplerRun, lcm
from nodepacks.sdk.testing import run_node
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gap_models")
    testing.make_tiny_checkpoint("sd1", root / "checkpoints" / "sd1.safetensors")
    testing.make_tiny_checkpoint("sdxl", root / "checkpoints" / "sdxl.safetensors")
    testing.make_tiny_refiner_checkpoint(root / "checkpoints" / "refiner.safetensors")
    testing.make_tiny_refiner_diffusers_folder(root / "checkpoints" / "refiner-diffusers")
    testing.make_tiny_refiner_unet(root / "diffusion_models" / "refiner-unet.safetensors")
    testing.make_tiny_checkpoint("sd2", root / "checkpoints" / "sd2.safetensors")
    encoders = root / "text_encoders"
    encoders.mkdir()
    sd3 = testing.make_tiny_component_files("sd3", root / "sd3-parts")
    for role in ("clip_l", "clip_g"):
        sd3[role].rename(encoders / f"sd3-{role}.safetensors")
    flux = testing.make_tiny_component_files("flux", root / "flux-parts")
    flux["t5"].rename(encoders / "t5xxl.safetensors")
    return root


@pytest.fixture
def models(root: Path, tmp_path: Path) -> ModelManager:
    return ModelManager(tmp_path / "cache", library=ModelLibrary([root]), vram_budget_bytes=0)


def load(models: ModelManager, name: str):
    out = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name=name)
    return out["MODEL"], out["CLIP"], out["VAE"]


def with_sampling(model, sampling: str, zsnr: bool = False):
    return run_node(latent_nodes.ModelSamplingDiscrete, model=model, sampling=sampling, zsnr=zsnr)["MODEL"]


# -- ModelSamplingDiscrete ---------------------------------------------------------------------------------------


def test_x0_and_lcm_read_the_same_network_output_their_own_way(models) -> None:
    eps, clip, _ = load(models, "sd1.safetensors")
    cond = [encode_text(clip, models, "a cat")]
    x0_model, lcm_model = with_sampling(eps, "x0"), with_sampling(eps, "lcm")
    assert x0_model.key == eps.key == lcm_model.key  # the same warm network
    kept = lcm_model.sampling.sigmas
    assert len(kept) == 50 and kept[-1] == pytest.approx(eps.sampling.sigmas[-1])
    assert kept[0] == pytest.approx(eps.sampling.sigmas[19])
    k = 30  # a sigma on the distilled grid: training timestep 20 * 30 + 19 for both schedules
    sigma = torch.tensor([kept[k]])
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    as_eps = prepare_denoiser(eps, models)(x, sigma, cond)
    # eps: denoised = x - out * sigma, so the raw output is (x - denoised) / sigma; x0 returns it as is.
    raw = (x - as_eps) / sigma
    torch.testing.assert_close(prepare_denoiser(x0_model, models)(x, sigma, cond), raw, atol=1e-4, rtol=1e-4)
    t = 10.0 * (20 * k + 19)
    c_skip, c_out = 0.25 / (t**2 + 0.25), t / (t**2 + 0.25) ** 0.5
    expected = c_out * as_eps + c_skip * x
    torch.testing.assert_close(
        prepare_denoiser(lcm_model, models)(x, sigma, cond), expected, atol=1e-4, rtol=1e-4
    )
    # Off the grid the network sees the nearest kept sigma's timestep (an integer), not an interpolated one.
    between = torch.tensor([(kept[10] * kept[11]) ** 0.5 * 1.01])
    assert float(lcm_model.sampling.timestep(between)) == 20 * 11 + 19
    assert float(lcm_model.sampling.timestep(torch.tensor([kept[0]]))) == 19.0


def test_zsnr_rescales_the_schedule_to_zero_terminal_snr(models) -> None:
    from diffusers.schedulers.scheduling_ddim import rescale_zero_terminal_snr

    eps, _, _ = load(models, "sd1.safetensors")
    zsnr = with_sampling(eps, "v_prediction", zsnr=True)
    sigmas = np.asarray(zsnr.sampling.sigmas)
    assert zsnr.sampling.prediction == "v" and np.all(np.diff(sigmas) > 0)
    assert sigmas[0] == pytest.approx(eps.sampling.sigmas[0], rel=1e-6)
    assert sigmas[-1] == pytest.approx(((1 - 4.8973451890853435e-08) / 4.8973451890853435e-08) ** 0.5)
    # diffusers' Algorithm 1 from the betas gives the same schedule (its last alpha_bar is exactly 0).
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    alpha_bar = torch.cumprod(1 - rescale_zero_terminal_snr(betas), dim=0).numpy()
    reference = ((1 - alpha_bar[:-1]) / alpha_bar[:-1]) ** 0.5
    np.testing.assert_allclose(sigmas[:-1], reference, rtol=1e-6)
    # Rebuilt from the family's schedule: a second override does not compound.
    again = with_sampling(zsnr, "eps", zsnr=True)
    np.testing.assert_allclose(again.sampling.sigmas, sigmas)
    plain = with_sampling(zsnr, "eps")
    assert plain.sampling.sigmas == eps.sampling.sigmas
    # A KSampler run starts from the huge terminal sigma and still gives a finite latent.
    steps = run_node(sampling_nodes.BasicScheduler, model=zsnr, scheduler="normal", steps=3, denoise=1.0)
    assert float(steps["sigmas"][0]) == pytest.approx(sigmas[-1], rel=1e-3)


def test_img_to_img_and_flow_models_are_refused(models) -> None:
    from nodepacks.diffusion.handles import DiffusionError

    eps, _, _ = load(models, "sd1.safetensors")
    with pytest.raises(DiffusionError, match="img_to_img"):
        with_sampling(eps, "img_to_img")


# -- SamplerLCM --------------------------------------------------------------------------------------------------


def test_lcm_sampler_noise_schedule_and_clamp() -> None:
    sampling = ModelSampling.discrete()
    fresh = torch.tensor([[-4.0, -1.0, 0.5, 3.0]]).reshape(1, 1, 2, 2)
    seen: list[torch.Tensor] = []

    def model(x: torch.Tensor, sigma: float) -> torch.Tensor:
        seen.append(x.clone())
        return torch.zeros_like(x)  # denoised = 0: x after a step is the scaled noise alone

    sigmas = [8.0, 4.0, 2.0, 1.0, 0.0]
    run = SamplerRun(sampling, lambda *a: None, noise=lambda s, n: fresh.clone(), s_noise=2.0)
    lcm(model, torch.zeros(1, 1, 2, 2), sigmas, run, s_noise_end=0.5, noise_clip_std=0.0)
    # The factor goes linearly 2.0 -> 0.5 over the 4 steps (2.0, 1.5, 1.0, 0.5); the last step adds none.
    for step, (factor, sigma_next) in enumerate(zip((2.0, 1.5, 1.0), (4.0, 2.0, 1.0), strict=True)):
        torch.testing.assert_close(seen[step + 1], fresh * factor * sigma_next)
    seen.clear()
    run = SamplerRun(sampling, lambda *a: None, noise=lambda s, n: fresh.clone())
    lcm(model, torch.zeros(1, 1, 2, 2), [8.0, 4.0, 0.0], run, noise_clip_std=1.0)
    limit = float(fresh.std())
    torch.testing.assert_close(seen[1], fresh.clamp(-limit, limit) * 4.0)


def test_sampler_lcm_node_options_reach_the_sampler(models) -> None:
    model, clip, _ = load(models, "sd1.safetensors")
    node = run_node(sampling_nodes.SamplerLCM, s_noise=1.0, s_noise_end=1.0, noise_clip_std=2.5)["sampler"]
    assert node == {
        "sampler_name": "lcm",
        "options": {"s_noise": 1.0, "s_noise_end": 1.0, "noise_clip_std": 2.5},
    }
    cond = [encode_text(clip, models, "a cat")]
    sigmas = run_node(sampling_nodes.BasicScheduler, model=model, scheduler="simple", steps=3, denoise=1.0)
    values = {
        "model": model,
        "add_noise": True,
        "noise_seed": 3,
        "cfg": 1.0,
        "positive": cond,
        "negative": cond,
    }
    values |= {"sigmas": sigmas["sigmas"], "latent_image": {"samples": np.zeros((1, 4, 8, 8), np.float32)}}

    def sample(sampler) -> np.ndarray:
        samples: np.ndarray = run_node(
            sampling_nodes.SamplerCustom, models=models, sampler=sampler, **values
        )["output"]["samples"]
        return samples

    plain = sample({"sampler_name": "lcm"})
    same = sample(
        run_node(sampling_nodes.SamplerLCM, s_noise=1.0, s_noise_end=1.0, noise_clip_std=0.0)["sampler"]
    )
    quiet = sample(
        run_node(sampling_nodes.SamplerLCM, s_noise=0.0, s_noise_end=0.0, noise_clip_std=0.0)["sampler"]
    )
    assert np.allclose(plain, same, atol=1e-6) and np.isfinite(quiet).all()
    assert not np.allclose(plain, quiet, atol=1e-4)


# -- the SDXL refiner --------------------------------------------------------------------------------------------


def test_refiner_is_told_apart_from_the_base_in_every_layout(root: Path, tmp_path: Path) -> None:
    from nodepacks.diffusion.families import detect_diffusers_family, detect_family
    from nodepacks.diffusion.weights import read_keys

    def family_of(path: Path) -> str:
        return detect_family(read_keys(path), path=path).name

    assert family_of(root / "checkpoints" / "refiner.safetensors") == "sdxl_refiner"
    assert family_of(root / "checkpoints" / "sdxl.safetensors") == "sdxl"
    assert family_of(root / "diffusion_models" / "refiner-unet.safetensors") == "sdxl_refiner"
    base_unet = testing.make_tiny_component_files("sdxl", tmp_path / "base")["diffusion_model"]
    assert family_of(base_unet) == "sdxl"
    assert detect_diffusers_family(root / "checkpoints" / "refiner-diffusers").name == "sdxl_refiner"
    base_folder = testing.make_tiny_diffusers_folder("sdxl", tmp_path / "base-diffusers")
    assert detect_diffusers_family(base_folder).name == "sdxl"


def test_shipped_refiner_config_is_sd_xl_refiner_1_0() -> None:
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    from nodepacks.diffusion.weights import shipped_config

    config = shipped_config("sdxl_refiner", "unet.json")
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(config)
    assert unet.add_embedding.linear_1.in_features == 1280 + 5 * 256
    assert list(unet.config.block_out_channels) == [384, 768, 1536, 1536]
    assert unet.config.cross_attention_dim == 1280


def test_refiner_loads_from_a_file_and_a_folder_and_reads_the_aesthetic_score(models) -> None:
    from nodepacks.diffusion.runtime import prepare_denoiser

    model, clip, vae = load(models, "refiner.safetensors")
    folder_model, folder_clip, _ = load(models, "refiner-diffusers")
    assert model.family == folder_model.family == clip.family == vae.family == "sdxl_refiner"

    def encode(clip, ascore: float) -> list[Cond]:
        values = {"ascore": ascore, "width": 64, "height": 64, "text": "a cat", "clip": clip}
        conditioning: list[Cond] = run_node(latent_nodes.CLIPTextEncodeSDXLRefiner, models=models, **values)[
            "CONDITIONING"
        ]
        return conditioning

    good, bad = encode(clip, 6.0), encode(clip, 2.5)
    pooled = good[0]["pooled_output"]
    assert good[0]["cross_attn"].shape == (1, 77, 48) and pooled is not None and pooled.shape == (1, 48)
    assert good[0]["aesthetic_score"] == 6.0 and good[0]["width"] == 64
    np.testing.assert_allclose(encode(folder_clip, 6.0)[0]["cross_attn"], good[0]["cross_attn"], atol=1e-5)
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    sigma = torch.tensor([2.0])
    denoiser = prepare_denoiser(model, models)
    out_good, out_bad = denoiser(x, sigma, good), denoiser(x, sigma, bad)
    assert not torch.allclose(out_good, out_bad, atol=1e-6)  # the score is a time id the network sees
    torch.testing.assert_close(
        prepare_denoiser(folder_model, models)(x, sigma, good), out_good, atol=1e-4, rtol=1e-3
    )
    unet_only = run_node(
        loaders.UNETLoader, models=models, unet_name="refiner-unet.safetensors", weight_dtype="default"
    )
    torch.testing.assert_close(
        prepare_denoiser(unet_only["MODEL"], models)(x, sigma, good), out_good, atol=1e-4, rtol=1e-3
    )


def test_clip_text_encode_sdxl_gives_each_encoder_its_text(models) -> None:
    from nodepacks.diffusion.families import get_family
    from nodepacks.diffusion.runtime import load_text_stack

    _, clip, _ = load(models, "sdxl.safetensors")
    long_g = " ".join(["a red cat on a table"] * 20)  # more than one 77-token chunk
    values: dict[str, Any] = {"clip": clip, "width": 1024, "height": 768, "crop_w": 8, "crop_h": 16}
    values |= {"target_width": 512, "target_height": 256, "text_g": long_g, "text_l": "a dog"}
    cond = run_node(latent_nodes.CLIPTextEncodeSDXL, models=models, **values)["CONDITIONING"][0]
    assert cond["cross_attn"].shape == (1, 154, 32 + 48)
    assert (cond["crop_w"], cond["crop_h"], cond["target_width"], cond["target_height"]) == (8, 16, 512, 256)
    stack = load_text_stack(clip, models)
    family = get_family("sdxl")
    dog = family.encode_text(stack, "a dog", None)
    long = family.encode_text(stack, long_g, None)
    empty = family.encode_text(stack, "", None)
    np.testing.assert_allclose(cond["cross_attn"][:, :77, :32], dog["cross_attn"][:, :, :32], atol=1e-5)
    np.testing.assert_allclose(cond["cross_attn"][:, 77:, :32], empty["cross_attn"][:, :, :32], atol=1e-5)
    np.testing.assert_allclose(cond["cross_attn"][:, :, 32:], long["cross_attn"][:, :, 32:], atol=1e-5)
    np.testing.assert_allclose(cond["pooled_output"], np.asarray(long["pooled_output"]), atol=1e-5)
    _, refiner_clip, _ = load(models, "refiner.safetensors")
    from nodepacks.diffusion.handles import DiffusionError

    with pytest.raises(DiffusionError, match="SDXL CLIP"):
        run_node(latent_nodes.CLIPTextEncodeSDXL, models=models, **(values | {"clip": refiner_clip}))


# -- text encoder loaders and SD2 LoRA text keys -----------------------------------------------------------------


def test_triple_clip_loader_takes_clip_l_g_and_t5_in_any_order_and_says_whether_t5_is_used(
    models, root: Path
) -> None:
    values: dict[str, Any] = {"clip_name1": "t5xxl.safetensors", "clip_name2": "sd3-clip_g.safetensors"}
    values["clip_name3"] = "sd3-clip_l.safetensors"
    outcome = run_node(loaders.TripleCLIPLoader, models=models, **values)
    clip = outcome["CLIP"]
    assert clip.family == "sd3" and [s.role for s in clip.sources] == ["clip_l", "clip_g"]
    assert "no T5 tokenizer" in outcome.ui.text[0]
    cond = encode_text(clip, models, "a cat")
    assert cond["cross_attn"].shape == (1, 77, 32 + 48)  # CLIP-L and CLIP-G features, no T5 tokens
    (root / "text_encoders" / "tokenizer.json").write_text("{}")
    try:
        found = run_node(loaders.TripleCLIPLoader, models=models, **values)
        assert "is used, with the T5 tokenizer tokenizer.json" in found.ui.text[0]  # test_sd3_t5 encodes
        assert [s.role for s in found["CLIP"].sources] == ["clip_l", "clip_g", "t5", "t5_tokenizer"]
    finally:
        (root / "text_encoders" / "tokenizer.json").unlink()
    from nodepacks.diffusion.handles import DiffusionError

    with pytest.raises(DiffusionError, match="2 CLIP and 1 T5|3 CLIP and 0 T5"):
        run_node(
            loaders.TripleCLIPLoader, models=models, **(values | {"clip_name1": "sd3-clip_l.safetensors"})
        )


def test_clip_loader_stable_diffusion_with_a_1024_wide_encoder_is_sd2(models, root: Path) -> None:
    from safetensors.torch import save_file

    # Only the header is read: a token embedding 1024 wide (OpenCLIP-H's width) with a short vocabulary.
    wide = {"text_model.embeddings.token_embedding.weight": torch.zeros(4, 1024)}
    save_file(wide, str(root / "text_encoders" / "open_clip_h.safetensors"))
    clip = run_node(
        loaders.CLIPLoader,
        models=models,
        clip_name="open_clip_h.safetensors",
        type="stable_diffusion",
        device="default",
    )["CLIP"]
    assert clip.family == "sd2" and clip.sources[0].role == "clip_h"
    narrow = run_node(
        loaders.CLIPLoader,
        models=models,
        clip_name="sd3-clip_l.safetensors",
        type="stable_diffusion",
        device="default",
    )["CLIP"]
    assert narrow.family == "sd1" and narrow.sources[0].role == "clip_l"


def _sd2_text_lora(path: Path, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    clip_h = testing.tiny_components("sd2")["clip_h"]
    state = {}
    generator = torch.Generator().manual_seed(4)
    for name, module in clip_h.named_modules():
        name = name if name.startswith("text_model.") else f"text_model.{name}"
        if name.endswith(("self_attn.q_proj", "self_attn.v_proj")):
            key = "lora_te_" + name.replace(".", "_")
            state[f"{key}.lora_down.weight"] = torch.randn(2, module.in_features, generator=generator)
            state[f"{key}.lora_up.weight"] = torch.randn(module.out_features, 2, generator=generator)
            state[f"{key}.alpha"] = torch.tensor(2.0)
    save_file(state, str(path), metadata=metadata)


def test_sd2_lora_text_encoder_keys_patch_open_clip_h(models, root: Path) -> None:
    from nodepacks.diffusion import lora
    from nodepacks.diffusion.handles import DiffusionError

    (root / "loras").mkdir(exist_ok=True)
    _sd2_text_lora(
        root / "loras" / "sd2-te.safetensors", {"modelspec.architecture": "stable-diffusion-v2-768-v/lora"}
    )
    assert lora.guess_family(root / "loras" / "sd2-te.safetensors") == "sd2"
    model, clip, _ = load(models, "sd2.safetensors")
    values: dict[str, Any] = {"model": model, "clip": clip, "lora_name": "sd2-te.safetensors"}
    values["strength_model"] = 0.0
    patched = run_node(loaders.LoraLoader, models=models, strength_clip=1.0, **values)["CLIP"]
    plain = encode_text(clip, models, "a cat")["cross_attn"]
    changed = encode_text(patched, models, "a cat")["cross_attn"]
    assert np.abs(changed - plain).max() > 1e-3
    sd1_model, sd1_clip, _ = load(models, "sd1.safetensors")
    with pytest.raises(DiffusionError, match="sd2 LoRA"):
        run_node(
            loaders.LoraLoader,
            models=models,
            **(values | {"model": sd1_model, "clip": sd1_clip}),
            strength_clip=1.0,
        )
