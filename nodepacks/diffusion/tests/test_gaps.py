"""The pack's remaining gaps: ModelSamplingDiscrete's lcm/x0/zsnr, SamplerLCM, the SDXL refiner family, the text
encoder loaders (TripleCLIPLoader, CLIPLoader for SD2) and SD2 LoRA text-encoder keys; tiny models on CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nodepacks.diffusion import nodes_latent as latent_nodes
from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import nodes_sampling as sampling_nodes
from nodepacks.diffusion import testing
from nodepacks.diffusion.handles import ModelSampling
from nodepacks.diffusion.runtime import encode_text, prepare_denoiser
from nodepacks.diffusion.sampling.samplers import SamplerRun, lcm
from nodepacks.sdk.testing import run_node
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gap_models")
    testing.make_tiny_checkpoint("sd1", root / "checkpoints" / "sd1.safetensors")
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
        return run_node(sampling_nodes.SamplerCustom, models=models, sampler=sampler, **values)["output"][
            "samples"
        ]

    plain = sample({"sampler_name": "lcm"})
    same = sample(
        run_node(sampling_nodes.SamplerLCM, s_noise=1.0, s_noise_end=1.0, noise_clip_std=0.0)["sampler"]
    )
    quiet = sample(
        run_node(sampling_nodes.SamplerLCM, s_noise=0.0, s_noise_end=0.0, noise_clip_std=0.0)["sampler"]
    )
    assert np.allclose(plain, same, atol=1e-6) and np.isfinite(quiet).all()
    assert not np.allclose(plain, quiet, atol=1e-4)
