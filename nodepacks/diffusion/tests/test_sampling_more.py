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

from nodepacks.diffusion import nodes_sampling as nodes
from nodepacks.diffusion.handles import Cond, DiffusionModel, LatentFormat, ModelSampling
from nodepacks.diffusion.sampling import calculate_sigmas, prepare_noise
from nodepacks.diffusion.sampling import samplers as algorithms
from nodepacks.diffusion.sampling.analytic import GaussianDenoiser
from nodepacks.diffusion.sampling.guidance import Guided, rescale_cfg
from nodepacks.sdk.testing import run_node

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


def cond(mu: float) -> list[Cond]:
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


# -- sigma nodes ----------------------------------------------------------------------------------------------------


def test_split_and_set_first_sigma_nodes():
    sigmas = np.asarray([10.0, 5.0, 2.0, 1.0, 0.0], dtype=np.float32)
    split = run_node(nodes.SplitSigmas, sigmas=sigmas, step=1)
    assert split["high_sigmas"].tolist() == [10.0, 5.0] and split["low_sigmas"].tolist() == [
        5.0,
        2.0,
        1.0,
        0.0,
    ]
    by_denoise = run_node(nodes.SplitSigmasDenoise, sigmas=sigmas, denoise=0.25)
    assert by_denoise["high_sigmas"].tolist() == [10.0, 5.0, 2.0, 1.0]
    assert by_denoise["low_sigmas"].tolist() == [1.0, 0.0]
    first = run_node(nodes.SetFirstSigma, sigmas=sigmas, sigma=20.0)["sigmas"]
    assert first.tolist() == [20.0, 5.0, 2.0, 1.0, 0.0] and sigmas[0] == 10.0  # the input is not changed


def test_sd_turbo_beta_and_flux2_schedulers():
    table = MODEL.sampling.schedule()
    turbo = run_node(nodes.SDTurboScheduler, model=MODEL, steps=2, denoise=1.0)["sigmas"]
    assert np.allclose(turbo, [table[999], table[899], 0.0])
    half = run_node(nodes.SDTurboScheduler, model=MODEL, steps=1, denoise=0.5)["sigmas"]
    assert np.allclose(half, [table[499], 0.0])
    beta = run_node(nodes.BetaSamplingScheduler, model=MODEL, steps=10, alpha=0.6, beta=0.6)["sigmas"]
    assert np.allclose(beta, calculate_sigmas(MODEL.sampling, "beta", 10))
    skewed = run_node(nodes.BetaSamplingScheduler, model=MODEL, steps=10, alpha=3.0, beta=0.6)["sigmas"]
    assert skewed[5] > beta[5]  # alpha > beta spends more of the steps at high noise

    small = run_node(nodes.Flux2Scheduler, steps=8, width=512, height=512)["sigmas"]
    big = run_node(nodes.Flux2Scheduler, steps=8, width=2048, height=2048)["sigmas"]
    assert len(small) == 9 and small[0] == pytest.approx(1.0) and small[-1] == 0.0
    assert np.all(np.diff(small) < 0) and np.all(big[1:-1] > small[1:-1])  # bigger images: more shift
    # 2048^2 is 16384 tokens (> 4300): mu is the 200-step fit alone.
    shift = math.exp(0.00016927 * 16384 + 0.45666666)
    assert big[4] == pytest.approx(shift * 0.5 / (shift * 0.5 + 0.5), rel=1e-5)


# -- sampler nodes, guiders and model patches over the exact denoiser ----------------------------------------------


@pytest.fixture
def denoiser(monkeypatch):
    fake = GaussianDenoiser(MODEL.sampling, FORMAT)
    monkeypatch.setattr(nodes, "denoiser_for", lambda model, ctx: fake)
    return fake


def custom(sampler, sigmas, *, model=MODEL, positive=None, negative=None, cfg=1.0, latent=None):
    positive = positive or cond(0.5)
    negative = negative or cond(0.0)
    latent = latent or {"samples": np.zeros((1, 4, 16, 16), dtype=np.float32)}
    values = {"model": model, "add_noise": True, "noise_seed": 3, "cfg": cfg, "positive": positive}
    values |= {"negative": negative, "sampler": sampler, "sigmas": sigmas, "latent_image": latent}
    return run_node(nodes.SamplerCustom, **values)["output"]["samples"]


def test_sampler_euler_ancestral_options_reach_the_sampler(denoiser):
    sigmas = calculate_sigmas(MODEL.sampling, "karras", 6)
    euler = custom({"sampler_name": "euler"}, sigmas)
    no_eta = custom(run_node(nodes.SamplerEulerAncestral, eta=0.0, s_noise=1.0)["sampler"], sigmas)
    ancestral = custom(run_node(nodes.SamplerEulerAncestral, eta=1.0, s_noise=1.0)["sampler"], sigmas)
    assert np.allclose(no_eta, euler, atol=1e-5)  # eta 0: no noise, plain Euler
    assert not np.allclose(ancestral, euler, atol=1e-3)
    sde = run_node(nodes.SamplerDPMPP_2M_SDE, solver_type="heun", eta=1.0, s_noise=1.0, noise_device="cpu")
    assert sde["sampler"]["sampler_name"] == "dpmpp_2m_sde_heun"


def test_model_sampling_aura_flow_is_a_flow_model_with_timesteps_equal_to_sigma():
    model = run_node(nodes.ModelSamplingAuraFlow, model=MODEL, shift=3.0)["MODEL"]
    sampling = model.sampling
    assert sampling.prediction == "flow" and sampling.multiplier == 1.0 and MODEL.sampling.prediction == "eps"
    assert float(sampling.timestep(torch.tensor([0.25]))[0]) == pytest.approx(0.25)
    sigmas = calculate_sigmas(sampling, "simple", 4)
    times = np.asarray([1.0, 0.75, 0.5, 0.25])
    assert np.allclose(sigmas[:-1], 3.0 * times / (1 + 2.0 * times), atol=1e-6)
    out, exact, _ = run(sampling, "dpmpp_2m", 24)  # and it samples the data like any flow model
    assert float((out - exact).abs().max()) < 0.05


def guided_once(options=None, *, cfg=3.0, sigma=2.0, dual=None):
    positive, negative = cond(0.6), cond(0.1)
    fake = GaussianDenoiser(MODEL.sampling, FORMAT)
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 2.0
    guided = Guided(fake, positive, negative, cfg, 2, options=options, dual=dual)
    uncond = fake(x, torch.full((2,), sigma), negative)
    cond_ = fake(x, torch.full((2,), sigma), positive)
    return x, guided(x, sigma), cond_, uncond


def test_rescale_cfg_matches_the_positive_spread_in_v_space():
    sigma, cfg = 2.0, 3.0
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 8, 8, generator=gen) * 2.0
    cond_ = torch.randn(2, 4, 8, 8, generator=gen) * 0.5
    uncond = cond_ * 0.3 + torch.randn(2, 4, 8, 8, generator=gen) * 0.2  # another spread and direction

    def v(denoised):  # the v-prediction of a denoised prediction at sigma
        return (x / (sigma**2 + 1) - denoised) * math.sqrt(sigma**2 + 1) / sigma

    plain = torch.lerp(uncond, cond_, cfg)
    assert torch.allclose(rescale_cfg(x, sigma, cond_, uncond, cfg, 0.0), plain, atol=1e-5)
    full = rescale_cfg(x, sigma, cond_, uncond, cfg, 1.0)
    std = [float(v(full)[i].std()) for i in range(2)]
    assert std == pytest.approx([float(v(cond_)[i].std()) for i in range(2)], rel=1e-4)
    assert float(v(plain).std()) > float(v(cond_).std()) * 1.2  # CFG 3 did widen it
    part = rescale_cfg(x, sigma, cond_, uncond, cfg, 0.7)
    assert torch.allclose(part, 0.7 * full + 0.3 * plain, atol=1e-5)
    # The RescaleCFG node's option is what the guider applies.
    model = run_node(nodes.RescaleCFG, model=MODEL, multiplier=0.7)["MODEL"]
    x, guided, c, u = guided_once(model.options, cfg=cfg, sigma=sigma)
    assert torch.allclose(guided, rescale_cfg(x, sigma, c, u, cfg, 0.7), atol=1e-6)
    assert "rescale_cfg" not in MODEL.options


def test_cfg_norm_caps_the_guided_norm_at_the_positive_one():
    x, plain, cond_, _ = guided_once(cfg=4.0)
    _, normed, _, _ = guided_once({"post_cfg": (("cfg_norm", 1.0),)}, cfg=4.0)
    _, half, _, _ = guided_once({"post_cfg": (("cfg_norm", 0.5),)}, cfg=4.0)
    cond_norm, plain_norm = cond_.norm(dim=1), plain.norm(dim=1)
    assert bool((plain_norm > cond_norm).any())
    assert torch.allclose(normed.norm(dim=1), torch.minimum(plain_norm, cond_norm), rtol=1e-4, atol=1e-5)
    assert torch.allclose(half, normed * 0.5, atol=1e-6)


def test_cfg_zero_star_scales_the_negative_by_its_least_squares_fit():
    cfg = 4.0
    x, plain, cond_, uncond = guided_once(cfg=cfg)
    _, zero_star, _, _ = guided_once({"post_cfg": (("cfg_zero_star",),)}, cfg=cfg)
    for i in range(2):
        pos, neg = (x[i] - cond_[i]).reshape(-1, 1), (x[i] - uncond[i]).reshape(-1, 1)
        alpha = float(torch.linalg.lstsq(neg, pos).solution)
        expected = alpha * uncond[i] + cfg * (cond_[i] - alpha * uncond[i])
        assert torch.allclose(zero_star[i], expected, atol=1e-4)
    assert not torch.allclose(zero_star, plain, atol=1e-3)


@pytest.mark.parametrize("style", ["regular", "nested"])
def test_dual_cfg_guider_combines_three_predictions(denoiser, style):
    c1, c2, neg, s1, s2 = 0.9, 0.5, 0.1, 2.0, 1.5
    guider = run_node(
        nodes.DualCFGGuider,
        model=MODEL,
        cond1=cond(c1),
        cond2=cond(c2),
        negative=cond(neg),
        cfg_conds=s1,
        cfg_cond2_negative=s2,
        style=style,
    )["guider"]
    sigmas = calculate_sigmas(MODEL.sampling, "karras", 24)
    latent = {"samples": np.zeros((1, 4, 16, 16), dtype=np.float32)}
    noise = run_node(nodes.RandomNoise, noise_seed=3)["noise"]
    sampler = {"sampler_name": "dpmpp_2m"}
    values = {"noise": noise, "guider": guider, "sampler": sampler, "sigmas": sigmas, "latent_image": latent}
    out = run_node(nodes.SamplerCustomAdvanced, **values)["output"]["samples"]
    # The exact denoiser is affine in mu, so the guidance samples the data of the combined mean.
    if style == "regular":
        mu = neg + s2 * (c2 - neg) + s1 * (c1 - c2)
    else:
        mu = neg + s2 * (c2 + s1 * (c1 - c2) - neg)
    start = prepare_noise((1, 4, 16, 16), 3) * float(np.sqrt(sigmas[0] ** 2 + 1))
    exact = denoiser.exact(start, float(sigmas[0]), mu).numpy()
    assert np.abs(out - exact).max() < 0.03
    assert set(denoiser.batch_sizes) == {1, 2} and denoiser.calls == 2 * 24  # cond1+negative batched


def test_differential_diffusion_starts_each_pixel_when_the_run_passes_its_mask(monkeypatch):
    flow = DiffusionModel("sd3", "abc", "test", ModelSampling.flow(shift=3.0), FORMAT)
    fake = GaussianDenoiser(flow.sampling, FORMAT)
    monkeypatch.setattr(nodes, "denoiser_for", lambda model, ctx: fake)
    steps = 8
    sigmas = calculate_sigmas(flow.sampling, "simple", steps)
    samples = np.full((1, 4, 16, 16), 0.8, dtype=np.float32)
    mask = np.zeros((1, 16, 16), dtype=np.float32)
    mask[:, :, :8] = 0.5  # left half: half-way; right half: kept
    latent = {"samples": samples, "noise_mask": mask}
    patched = run_node(nodes.DifferentialDiffusion, model=flow, strength=1.0)["MODEL"]
    assert "denoise_mask_function" not in flow.options
    sampler = {"sampler_name": "euler"}
    out = custom(sampler, sigmas, model=patched, latent=latent, positive=cond(0.2))
    soft = custom(sampler, sigmas, model=flow, latent=latent, positive=cond(0.2))

    # Flow timesteps are linear in sigma: pixel m starts at the first step whose progress threshold
    # (sigma - sigma_min) / (sigma_0 - sigma_min) is at most m; before it the pixel is the noised input.
    sigma_min = flow.sampling.sigma_min
    thresholds = (sigmas[:-1] - sigma_min) / (sigmas[0] - sigma_min)
    start = int(np.argmax(thresholds <= 0.5))
    assert 0 < start < steps
    late = custom(sampler, sigmas[start:], model=flow, latent={"samples": samples}, positive=cond(0.2))
    assert np.allclose(out[..., :8], late[..., :8], atol=1e-5)
    assert np.allclose(out[..., 8:], 0.8, atol=1e-5)  # mask 0 is never regenerated
    assert not np.allclose(soft[..., :8], out[..., :8], atol=1e-2)  # without the patch a soft mask blends
