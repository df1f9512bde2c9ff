"""The samplers, schedulers, guiders and model patches added after the first set: UniPC (bh1/bh2) against
diffusers' UniPCMultistepScheduler and by convergence order, RES multistep, DPM-2 ancestral and DDPM on the exact
Gaussian denoiser; the sigma nodes; DualCFGGuider, RescaleCFG, CFGNorm, CFGZeroStar and DifferentialDiffusion
changing the result the documented way."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nodepacks.diffusion.handles import DiffusionModel, LatentFormat, ModelSampling
from nodepacks.diffusion.sampling import calculate_sigmas
from nodepacks.diffusion.sampling import samplers as algorithms

sys.path.insert(0, str(Path(__file__).parent))
from test_sampling_samplers import (  # noqa: E402
    FLOW,
    MU,
    SD,
    SHAPE,
    diffusers_scheduler,
    eps_model,
    our_denoiser,
    quiet,
    run,
)

FORMAT = LatentFormat(channels=4, scale_factor=1.0)
MODEL = DiffusionModel("sd15", "abc", "test", ModelSampling.discrete(), FORMAT)


def cond(mu: float) -> list[dict]:
    return [{"cross_attn": np.full((1, 3, 8), mu, dtype=np.float32)}]


# -- samplers -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampling", [SD, FLOW], ids=["eps", "flow"])
@pytest.mark.parametrize(("name", "ratio"), [("uni_pc", 20.0), ("uni_pc_bh2", 20.0), ("res_multistep", 8.0)])
def test_multistep_samplers_converge_at_their_order(sampling, name, ratio):
    coarse, exact, _ = run(sampling, name, 8)
    fine, _, _ = run(sampling, name, 32)
    err_coarse = float((coarse - exact).abs().max())
    err_fine = float((fine - exact).abs().max())
    # 4x the steps: second order cuts the error ~16x, UniPC (order 3 once warm) more.
    assert err_coarse / err_fine > ratio, (err_coarse, err_fine)
    assert err_fine < 0.03, err_fine


@pytest.mark.parametrize("variant", ["bh1", "bh2"])
def test_uni_pc_matches_diffusers_on_the_same_sigmas(variant):
    import diffusers

    scheduler = diffusers_scheduler(
        diffusers.UniPCMultistepScheduler,
        solver_order=3,
        solver_type=variant,
        predict_x0=True,
        lower_order_final=True,
        final_sigmas_type="sigma_min",  # a final sigma of 0 is infinite log-SNR in its bh1 formula
    )
    scheduler.set_timesteps(10)
    sigmas = [float(s) for s in scheduler.sigmas]
    assert sigmas[-1] > 0
    start = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    sample_ = start.clone()  # diffusers works on x / sqrt(sigma^2 + 1); init_noise_sigma is 1
    for t in scheduler.timesteps:
        sample_ = scheduler.step(eps_model(scheduler.scale_model_input(sample_, t)), t, sample_).prev_sample
    x = start * math.sqrt(sigmas[0] ** 2 + 1)
    calls = []

    def model(x, sigma):
        calls.append(sigma)
        return our_denoiser(x, sigma)

    mine = algorithms.uni_pc(model, x, sigmas, algorithms.SamplerRun(SD, quiet), variant=variant)
    theirs = sample_ * math.sqrt(sigmas[-1] ** 2 + 1)  # back to k-diffusion's space
    assert len(calls) == 10  # the corrector reuses the next step's model call
    assert torch.allclose(mine, theirs, atol=2e-4, rtol=1e-4), float((mine - theirs).abs().max())


def test_uni_pc_bh1_and_bh2_differ_and_ksampler_drops_the_penultimate_sigma():
    a, _, _ = run(SD, "uni_pc", 6)
    b, _, _ = run(SD, "uni_pc_bh2", 6)
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("sampling", [SD, FLOW], ids=["eps", "flow"])
def test_dpm_2_ancestral_draws_from_the_data_distribution(sampling):
    out, _, _ = run(sampling, "dpm_2_ancestral", 60)
    assert float(out.mean()) == pytest.approx(MU, abs=0.03)
    assert float(out.std()) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("sampling", [SD, FLOW], ids=["eps", "flow"])
def test_ddpm_matches_its_closed_form_variance(sampling):
    # Each DDPM step is x' = A x + B denoised + c n with the posterior's A, B, c; with the exact (affine)
    # denoiser the spread around the mean evolves in closed form: var' = (A + B gain)^2 var + c^2.
    steps = 8
    out, _, denoiser = run(sampling, "ddpm", steps)
    flow = sampling.prediction == "flow"
    scheduler = "simple" if flow else "karras"
    sigmas = [float(s) for s in calculate_sigmas(sampling, scheduler, steps)]
    std2 = denoiser.std**2
    var = sigmas[0] ** 2 if flow else sigmas[0] ** 2 + 1.0
    for sigma, nxt in zip(sigmas, sigmas[1:], strict=False):
        a_t, a_s = (1 - sigma, 1 - nxt) if flow else (1.0, 1.0)
        gain = a_t * std2 / (a_t**2 * std2 + sigma**2)
        if nxt == 0:
            var = (gain**2) * var
            continue
        var_ts = sigma**2 - (a_t / a_s) ** 2 * nxt**2
        big_a = (a_t / a_s) * nxt**2 / sigma**2
        big_b = a_s * var_ts / sigma**2
        var = (big_a + big_b * gain) ** 2 * var + var_ts * nxt**2 / sigma**2
    assert float(out.var()) == pytest.approx(var, rel=0.08)
    assert float(out.mean()) == pytest.approx(MU, abs=0.03)
