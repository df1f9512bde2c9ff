"""The sampler algorithms against closed forms (the exact denoiser of Gaussian data), against diffusers'
schedulers on the same sigmas, and for determinism."""

import math

import numpy as np
import pytest
import torch

from nodepacks.diffusion.handles import Cond, ModelSampling
from nodepacks.diffusion.sampling import calculate_sigmas, prepare_noise, sample
from nodepacks.diffusion.sampling import samplers as algorithms
from nodepacks.diffusion.sampling.analytic import GaussianDenoiser

SD = ModelSampling.discrete()
FLOW = ModelSampling.flow(shift=3.0)
MU = 0.7
SHAPE = (1, 4, 32, 32)


def conditioning(mu: float) -> list[Cond]:
    return [{"cross_attn": np.full((1, 3, 8), mu, dtype=np.float32)}]


def run(sampling, name, steps, *, seed=3, noise_seed=5, scheduler=None):
    denoiser = GaussianDenoiser(sampling)
    scheduler = scheduler or ("karras" if sampling.prediction != "flow" else "simple")
    sigmas = calculate_sigmas(sampling, scheduler, steps)
    noise = prepare_noise(SHAPE, noise_seed)
    out = sample(denoiser, torch.zeros(SHAPE), noise, sigmas, name, conditioning(MU), None, 1.0, seed=seed)
    start = sampling.noise_scaling(float(sigmas[0]), noise, torch.zeros(SHAPE), True)
    return out, denoiser.exact(start, float(sigmas[0]), MU), denoiser


ODE_ORDERS = {"euler": 1, "ddim": 1, "heun": 2, "dpm_2": 2, "dpmpp_2m": 2}


@pytest.mark.parametrize("sampling", [SD, FLOW], ids=["eps", "flow"])
@pytest.mark.parametrize("name", sorted(ODE_ORDERS))
def test_ode_samplers_converge_to_the_exact_solution_at_their_order(sampling, name):
    coarse, exact, _ = run(sampling, name, 8)
    fine, _, _ = run(sampling, name, 32)
    err_coarse = float((coarse - exact).abs().max())
    err_fine = float((fine - exact).abs().max())
    # Four times the steps: a first-order method cuts the error about 4x, a second-order one about 16x.
    assert err_coarse / err_fine > (3.0 if ODE_ORDERS[name] == 1 else 8.0), (err_coarse, err_fine)
    assert err_fine < (0.25 if ODE_ORDERS[name] == 1 else 0.06), err_fine


SDE_SAMPLERS = ["dpmpp_sde", "dpmpp_2m_sde", "dpmpp_2m_sde_heun", "dpmpp_3m_sde", "euler_ancestral"]


@pytest.mark.parametrize("sampling", [SD, FLOW], ids=["eps", "flow"])
@pytest.mark.parametrize("name", SDE_SAMPLERS)
def test_stochastic_samplers_draw_from_the_data_distribution(sampling, name):
    steps = 160 if name == "euler_ancestral" else 60  # ancestral Euler converges slowly
    out, _, _ = run(sampling, name, steps)
    assert float(out.mean()) == pytest.approx(MU, abs=0.03)
    assert float(out.std()) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("sampling", [SD, FLOW], ids=["eps", "flow"])
def test_lcm_matches_its_closed_form_variance(sampling):
    # LCM jumps to the mean prediction and re-noises: with the exact denoiser each jump scales the spread by the
    # denoiser's gain, and re-noising adds sigma_next^2 (flow: scaled by 1 - sigma_next).
    out, _, denoiser = run(sampling, "lcm", 6)
    sigmas = [
        float(s)
        for s in calculate_sigmas(sampling, "karras" if sampling.prediction != "flow" else "simple", 6)
    ]
    var, std2 = 0.0, denoiser.std**2
    first = sigmas[0]
    var = (first**2 + 1.0) if sampling.prediction != "flow" else first**2  # max_denoise start
    for sigma, nxt in zip(sigmas, sigmas[1:], strict=False):
        if sampling.prediction == "flow":
            gain = (1 - sigma) * std2 / ((1 - sigma) ** 2 * std2 + sigma**2)
            var = gain**2 * var
            var = (1 - nxt) ** 2 * var + nxt**2 if nxt > 0 else var
        else:
            gain = std2 / (std2 + sigma**2)
            var = gain**2 * var + (nxt**2 if nxt > 0 else 0.0)
    assert float(out.var()) == pytest.approx(var, rel=0.08)
    assert float(out.mean()) == pytest.approx(MU, abs=0.03)


@pytest.mark.parametrize("name", ["euler_ancestral", "dpmpp_sde", "dpmpp_2m_sde", "lcm"])
def test_same_seed_gives_identical_output_and_another_seed_does_not(name):
    first, _, _ = run(SD, name, 6, seed=11)
    again, _, _ = run(SD, name, 6, seed=11)
    other, _, _ = run(SD, name, 6, seed=12)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    other_noise, _, _ = run(SD, name, 6, seed=11, noise_seed=6)
    assert not torch.allclose(first, other_noise)


# -- diffusers on the same sigmas ---------------------------------------------------------------------------------


def eps_model(scaled: torch.Tensor) -> torch.Tensor:
    """A fake noise predictor of the scaled input (nonlinear, so the update rules are really exercised)."""
    return 0.6 * scaled + 0.2 * torch.sin(3 * scaled)


def our_denoiser(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return x - sigma * eps_model(x / math.sqrt(sigma**2 + 1))


def diffusers_scheduler(cls, **options):
    return cls(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", **options)


def quiet(step, x, denoised):
    pass


@pytest.mark.parametrize(
    ("ours", "theirs", "options"),
    [
        ("euler", "EulerDiscreteScheduler", {}),
        (
            "dpmpp_2m",
            "DPMSolverMultistepScheduler",
            {"algorithm_type": "dpmsolver++", "final_sigmas_type": "zero"},
        ),
    ],
)
def test_deterministic_samplers_match_diffusers(ours, theirs, options):
    import diffusers

    scheduler = diffusers_scheduler(getattr(diffusers, theirs), **options)
    scheduler.set_timesteps(12)
    sigmas = [float(s) for s in scheduler.sigmas]
    start = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    sample_ = start * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        scaled = scheduler.scale_model_input(sample_, t)
        sample_ = scheduler.step(eps_model(scaled), t, sample_).prev_sample
    # diffusers' DPM-Solver works on x / sqrt(sigma^2 + 1) (VP space), k-diffusion on x (VE space).
    x = start * (scheduler.init_noise_sigma if ours == "euler" else math.sqrt(sigmas[0] ** 2 + 1))
    mine = getattr(algorithms, ours)(our_denoiser, x, sigmas, algorithms.SamplerRun(SD, quiet))
    assert torch.allclose(mine, sample_, atol=2e-4, rtol=1e-4), float((mine - sample_).abs().max())


@pytest.mark.parametrize(
    ("ours", "theirs", "options"),
    [
        ("euler_ancestral", "EulerAncestralDiscreteScheduler", {}),
        (
            "dpmpp_2m_sde",
            "DPMSolverMultistepScheduler",
            {"algorithm_type": "sde-dpmsolver++", "final_sigmas_type": "zero"},
        ),
    ],
)
def test_ancestral_and_sde_samplers_match_diffusers_with_the_same_noise(ours, theirs, options):
    import diffusers

    scheduler = diffusers_scheduler(getattr(diffusers, theirs), **options)
    scheduler.set_timesteps(10)
    sigmas = [float(s) for s in scheduler.sigmas]
    start = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(42)
    sample_ = start * (scheduler.init_noise_sigma if ours == "euler_ancestral" else 1.0)
    for t in scheduler.timesteps:
        scaled = scheduler.scale_model_input(sample_, t)
        sample_ = scheduler.step(eps_model(scaled), t, sample_, generator=generator).prev_sample
    x = start * (scheduler.init_noise_sigma if ours == "euler_ancestral" else math.sqrt(sigmas[0] ** 2 + 1))
    # The same stream of per-step noise diffusers drew (its generator, one draw per step in order).
    stream = torch.Generator().manual_seed(42)

    def same_noise(sigma, sigma_next):
        return torch.randn(SHAPE, generator=stream)

    mine = getattr(algorithms, ours)(our_denoiser, x, sigmas, algorithms.SamplerRun(SD, quiet, same_noise))
    assert torch.allclose(mine, sample_, atol=5e-4, rtol=1e-4), float((mine - sample_).abs().max())
