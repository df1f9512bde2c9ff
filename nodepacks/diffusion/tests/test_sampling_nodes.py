"""The sampling nodes over the exact Gaussian denoiser: CFG, progress and previews, cancel, inpainting, wrong
latents, step windows and the custom-sampling family agreeing with KSampler."""

import threading
from typing import Any

import numpy as np
import pytest
import torch

from nodepacks import sdk
from nodepacks.diffusion import nodes_sampling as nodes
from nodepacks.diffusion.handles import DiffusionModel, LatentFormat, ModelSampling
from nodepacks.diffusion.sampling import Progress, calculate_sigmas, prepare_noise
from nodepacks.diffusion.sampling.analytic import GaussianDenoiser
from nodepacks.diffusion.sampling.guidance import Guided
from nodepacks.sdk.testing import run_node

FORMAT = LatentFormat(channels=4, scale_factor=1.0, rgb_factors=((0.3, 0.2, 0.1),) * 4)
MODEL = DiffusionModel("sd15", "abc", "test", ModelSampling.discrete(), FORMAT)


def cond(mu: float, **extra: Any) -> list[dict[str, Any]]:
    return [{"cross_attn": np.full((1, 3, 8), mu, dtype=np.float32), **extra}]


def latent(batch=1, channels=4, value=0.0, size=16) -> dict[str, Any]:
    return {"samples": np.full((batch, channels, size, size), value, dtype=np.float32)}


@pytest.fixture
def denoiser(monkeypatch):
    fake = GaussianDenoiser(MODEL.sampling, FORMAT)
    monkeypatch.setattr(nodes, "denoiser_for", lambda model, ctx: fake)
    return fake


def ksampler(**values):
    args: dict[str, Any] = {
        "model": MODEL,
        "seed": 1,
        "steps": 6,
        "cfg": 1.0,
        "sampler_name": "euler",
        "scheduler": "karras",
        "positive": cond(0.5),
        "negative": cond(0.0),
        "latent_image": latent(),
        "denoise": 1.0,
    }
    ctx = values.pop("ctx", None)
    args.update(values)
    return run_node(nodes.KSampler, ctx=ctx, **args)["latent"]


def test_cfg_runs_positive_and_negative_in_one_batch_and_follows_the_closed_form(denoiser):
    steps, cfg = 24, 3.0
    out = ksampler(steps=steps, cfg=cfg, sampler_name="dpmpp_2m", positive=cond(0.6), negative=cond(0.2))
    assert denoiser.calls == steps and set(denoiser.batch_sizes) == {2}  # cond and uncond in one forward
    sigmas = calculate_sigmas(MODEL.sampling, "karras", steps)
    start = prepare_noise((1, 4, 16, 16), 1) * float(np.sqrt(sigmas[0] ** 2 + 1))
    exact = denoiser.exact(start, float(sigmas[0]), 0.2 + cfg * (0.6 - 0.2))
    assert np.abs(out["samples"] - exact.numpy()).max() < 0.02


def test_cfg_one_skips_the_negative_prompt(denoiser):
    ksampler(steps=5, cfg=1.0)
    assert denoiser.calls == 5 and set(denoiser.batch_sizes) == {1}


def test_several_entries_are_averaged_by_strength_and_not_batched_with_the_negative(denoiser):
    combined = cond(1.0, strength=3.0) + cond(0.0, strength=1.0)
    out = ksampler(steps=12, cfg=2.0, sampler_name="heun", positive=combined, negative=cond(0.0))
    assert set(denoiser.batch_sizes) == {1}  # two forwards a step: the sides cannot be merged
    assert float(out["samples"].mean()) == pytest.approx(2.0 * 0.75, abs=0.06)


def test_start_and_end_percent_switch_entries_by_sigma():
    fake = GaussianDenoiser(MODEL.sampling, FORMAT)
    early, late = cond(1.0, end_percent=0.5), cond(-1.0, start_percent=0.5)
    guided = Guided(fake, early + late, None, 1.0, batch=1)
    noisy, clean = MODEL.sampling.sigma_max, MODEL.sampling.sigma_min
    x = torch.zeros(1, 4, 2, 2)
    # D(0) = mu * (1 - gain): only the entry active at that sigma sets mu.
    assert float(guided(x, noisy).mean()) == pytest.approx(1.0 * (1 - 0.25 / (0.25 + noisy**2)), rel=1e-4)
    assert float(guided(x, clean).mean()) == pytest.approx(-1.0 * (1 - 0.25 / (0.25 + clean**2)), rel=1e-4)


def test_progress_reports_every_step_with_a_preview(denoiser):
    seen = []
    ctx = sdk.Context(
        "k", on_progress=lambda node, value, total, preview: seen.append((value, total, preview))
    )
    ksampler(steps=7, ctx=ctx)
    assert [(v, t) for v, t, _ in seen] == [(float(i), 7.0) for i in range(1, 8)]
    first = seen[0][2]
    assert first is not None and first.shape == (16, 16, 3) and first.dtype == np.float32


def test_previews_come_at_most_every_quarter_second_from_a_strided_latent():
    times = iter([0.0, 0.1, 0.2, 0.3, 0.35, 0.6])
    reports = []
    progress = Progress(
        lambda step, total, preview=None: reports.append(preview is not None),
        FORMAT,
        max_side=8,
        clock=lambda: next(times),
    )
    big = torch.randn(1, 4, 64, 64)
    for step in range(1, 7):
        progress(step, 6, big, big)
    assert reports == [True, False, False, True, False, True]
    assert progress.preview(big).shape == (8, 8, 3)


def test_cancel_stops_within_one_step_and_frees_the_run_tensors(denoiser):
    cancel = threading.Event()
    denoiser.keep_refs = True

    def on_progress(node, value, total, preview):
        if value == 2:
            cancel.set()

    ctx = sdk.Context("k", on_progress=on_progress, cancel_event=cancel)
    with pytest.raises(sdk.Cancelled):
        ksampler(steps=20, sampler_name="heun", ctx=ctx)
    assert denoiser.calls == 3  # heun: two calls for step 1, one for step 2, none after the cancel
    assert all(ref() is None for ref in denoiser.inputs)


def test_inpaint_keeps_the_masked_out_latent(denoiser):
    source = np.random.default_rng(0).normal(size=(1, 4, 16, 16)).astype(np.float32)
    mask = np.zeros((1, 1, 128, 128), dtype=np.float32)  # image resolution: resized to the latent
    mask[..., :, 64:] = 1.0
    for name in ("euler", "ddim", "dpmpp_2m_sde"):
        out = ksampler(latent_image={"samples": source, "noise_mask": mask}, sampler_name=name)["samples"]
        assert np.allclose(out[..., :7], source[..., :7], atol=1e-5), name
        assert not np.allclose(out[..., 9:], source[..., 9:], atol=0.1), name


def test_a_latent_of_another_family_is_refused_naming_both_channel_counts(denoiser):
    with pytest.raises(sdk.NodeError, match=r"latent_image has 16 channels .* 4-channel"):
        ksampler(latent_image=latent(channels=16, value=0.5))
    assert denoiser.calls == 0
    empty = ksampler(
        latent_image=latent(channels=16, value=0.0)
    )  # an empty latent is made to fit, as ComfyUI
    assert empty["samples"].shape == (1, 4, 16, 16)


def test_denoise_zero_and_an_empty_step_window_return_the_latent(denoiser):
    source = latent(value=0.3)
    assert np.array_equal(ksampler(latent_image=source, denoise=0.0)["samples"], source["samples"])
    advanced = run_node(
        nodes.KSamplerAdvanced,
        model=MODEL,
        noise_seed=1,
        steps=4,
        positive=cond(0.5),
        negative=cond(0.0),
        latent_image=source,
        start_at_step=4,
        end_at_step=10000,
    )["latent"]
    assert np.array_equal(advanced["samples"], source["samples"]) and denoiser.calls == 0


def test_two_advanced_passes_with_leftover_noise_equal_one_full_run(denoiser):
    common: dict[str, Any] = {
        "model": MODEL,
        "noise_seed": 4,
        "steps": 8,
        "cfg": 2.0,
        "sampler_name": "euler",
        "scheduler": "normal",
    }
    common |= {"positive": cond(0.6), "negative": cond(0.1)}
    full = run_node(nodes.KSamplerAdvanced, latent_image=latent(), **common)["latent"]
    first = run_node(
        nodes.KSamplerAdvanced,
        latent_image=latent(),
        end_at_step=3,
        return_with_leftover_noise="enable",
        **common,
    )["latent"]
    second = run_node(
        nodes.KSamplerAdvanced, latent_image=first, add_noise="disable", start_at_step=3, **common
    )["latent"]
    assert np.allclose(second["samples"], full["samples"], atol=1e-5)
    assert not np.allclose(first["samples"], full["samples"], atol=0.1)


def test_custom_sampling_chain_equals_ksampler(denoiser):
    reference = ksampler(steps=6, cfg=4.0, sampler_name="dpmpp_2m_sde", scheduler="karras", seed=9)
    sampler = run_node(nodes.KSamplerSelect, sampler_name="dpmpp_2m_sde")["sampler"]
    sigmas = run_node(nodes.BasicScheduler, model=MODEL, scheduler="karras", steps=6, denoise=1.0)["sigmas"]
    noise = run_node(nodes.RandomNoise, noise_seed=9)["noise"]
    guider = run_node(nodes.CFGGuider, model=MODEL, positive=cond(0.5), negative=cond(0.0), cfg=4.0)["guider"]
    outcome = run_node(
        nodes.SamplerCustomAdvanced,
        noise=noise,
        guider=guider,
        sampler=sampler,
        sigmas=sigmas,
        latent_image=latent(),
    )
    assert np.array_equal(outcome["output"]["samples"], reference["samples"])
    custom = run_node(
        nodes.SamplerCustom,
        model=MODEL,
        noise_seed=9,
        cfg=4.0,
        positive=cond(0.5),
        negative=cond(0.0),
        sampler=sampler,
        sigmas=sigmas,
        latent_image=latent(),
    )
    assert np.array_equal(custom["output"]["samples"], reference["samples"])
    # The denoised output is the last step's prediction: at the last sigma it is already (nearly) the result.
    assert np.allclose(custom["denoised_output"]["samples"], reference["samples"], atol=0.05)


def test_manual_sigmas_and_disable_noise_with_a_basic_guider(denoiser):
    sigmas = run_node(nodes.ManualSigmas, sigmas="14.6, 3, 0.5, 0")["sigmas"]
    assert sigmas.dtype == np.float32 and sigmas.tolist() == pytest.approx([14.6, 3.0, 0.5, 0.0])
    guider = run_node(nodes.BasicGuider, model=MODEL, conditioning=cond(0.4))["guider"]
    no_noise = run_node(nodes.DisableNoise)["noise"]
    sampler = run_node(nodes.KSamplerSelect, sampler_name="euler")["sampler"]
    out = run_node(
        nodes.SamplerCustomAdvanced,
        noise=no_noise,
        guider=guider,
        sampler=sampler,
        sigmas=sigmas,
        latent_image=latent(),
    )["output"]
    # No noise on an empty latent: every element follows the same ODE path from 0, to the same value.
    assert np.ptp(out["samples"]) < 1e-6 and denoiser.calls == 3


def test_same_seed_same_latent_and_batch_index_reproduces_one_image_of_a_batch(denoiser):
    one = ksampler(sampler_name="euler_ancestral", seed=7)
    again = ksampler(sampler_name="euler_ancestral", seed=7)
    other = ksampler(sampler_name="euler_ancestral", seed=8)
    assert np.array_equal(one["samples"], again["samples"])
    assert not np.allclose(one["samples"], other["samples"])
    batch = ksampler(latent_image=latent(batch=3), seed=7)
    third = ksampler(latent_image=latent() | {"batch_index": [2]}, seed=7)
    assert np.allclose(third["samples"][0], batch["samples"][2], atol=1e-6)
    assert third["batch_index"] == [2]
