"""Sampling end to end with the tiny real-format models: txt2img, img2img, inpaint, a flow-matching family, the
custom-sampling chain, determinism, cancel and wrong-family latents, through the real loaders and denoiser."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from nodepacks import sdk
from nodepacks.diffusion import nodes_latent as latent_nodes
from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import nodes_sampling as sampling_nodes
from nodepacks.sdk.testing import run_node


def load(models, family: str):
    out = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name=f"tiny-{family}.safetensors")
    return out["MODEL"], out["CLIP"], out["VAE"]


def encode(models, clip, text: str):
    return run_node(latent_nodes.CLIPTextEncode, models=models, clip=clip, text=text)["CONDITIONING"]


def ksample(models, model, positive, negative, latent, *, ctx=None, **values):
    args: dict[str, Any] = {
        "seed": 3,
        "steps": 3,
        "cfg": 6.0,
        "sampler_name": "euler",
        "scheduler": "karras",
        "denoise": 1.0,
    }
    args.update(values)
    outcome = run_node(
        sampling_nodes.KSampler,
        models=models,
        ctx=ctx,
        model=model,
        positive=positive,
        negative=negative,
        latent_image=latent,
        **args,
    )
    return outcome["latent"]


def test_txt2img_is_reproducible_and_decodes(models):
    model, clip, vae = load(models, "sd1")
    positive, negative = encode(models, clip, "a red fox"), encode(models, clip, "blurry")
    empty = run_node(latent_nodes.EmptyLatentImage, width=64, height=64, batch_size=1)["LATENT"]
    seen = []
    ctx = sdk.Context("k", models=models, on_progress=lambda node, v, t, preview: seen.append((v, preview)))
    first = ksample(models, model, positive, negative, empty, ctx=ctx, sampler_name="dpmpp_2m_sde")
    assert [v for v, _ in seen] == [1.0, 2.0, 3.0]
    assert seen[0][1] is not None and seen[0][1].shape == (8, 8, 3)
    again = ksample(models, model, positive, negative, empty, sampler_name="dpmpp_2m_sde")
    other = ksample(models, model, positive, negative, empty, sampler_name="dpmpp_2m_sde", seed=4)
    assert np.array_equal(first["samples"], again["samples"])
    assert not np.allclose(first["samples"], other["samples"])
    image = run_node(latent_nodes.VAEDecode, models=models, samples=first, vae=vae)["IMAGE"]
    assert image.shape == (1, 64, 64, 3) and np.isfinite(image).all()


def test_img2img_partial_denoise_stays_closer_to_the_input(models):
    model, clip, vae = load(models, "sd1")
    positive, negative = encode(models, clip, "a red fox"), encode(models, clip, "")
    pixels = np.random.default_rng(0).random((1, 64, 64, 3), dtype=np.float32)
    source = run_node(latent_nodes.VAEEncode, models=models, pixels=pixels, vae=vae)["LATENT"]
    light = ksample(models, model, positive, negative, source, denoise=0.3, steps=2)
    full = ksample(models, model, positive, negative, source, denoise=1.0, steps=2)
    assert (
        np.abs(light["samples"] - source["samples"]).mean()
        < np.abs(full["samples"] - source["samples"]).mean()
    )


def test_inpaint_changes_only_the_masked_area(models):
    model, clip, vae = load(models, "sd1")
    positive, negative = encode(models, clip, "a hat"), encode(models, clip, "")
    pixels = np.random.default_rng(1).random((1, 64, 64, 3), dtype=np.float32)
    source = run_node(latent_nodes.VAEEncode, models=models, pixels=pixels, vae=vae)["LATENT"]
    mask = np.zeros((1, 64, 64), dtype=np.float32)
    mask[:, :, 32:] = 1.0
    masked = run_node(latent_nodes.SetLatentNoiseMask, samples=source, mask=mask)["LATENT"]
    out = ksample(models, model, positive, negative, masked, sampler_name="euler_ancestral")["samples"]
    assert np.allclose(out[..., :3], source["samples"][..., :3], atol=1e-4)
    assert not np.allclose(out[..., 5:], source["samples"][..., 5:], atol=1e-3)


@pytest.mark.parametrize("sampler_name", ["euler", "dpmpp_2m_sde", "lcm"])
def test_flow_family_samples_with_the_custom_chain(models, sampler_name):
    model, clip, _ = load(models, "sd3")
    positive = encode(models, clip, "a lighthouse")
    empty = run_node(latent_nodes.EmptySD3LatentImage, width=64, height=64, batch_size=1)["LATENT"]
    sigmas = run_node(sampling_nodes.BasicScheduler, model=model, scheduler="simple", steps=2, denoise=1.0)[
        "sigmas"
    ]
    assert sigmas[0] == pytest.approx(1.0) and len(sigmas) == 3
    guider = run_node(sampling_nodes.BasicGuider, model=model, conditioning=positive)["guider"]
    outcome = run_node(
        sampling_nodes.SamplerCustomAdvanced,
        models=models,
        noise=run_node(sampling_nodes.RandomNoise, noise_seed=5)["noise"],
        guider=guider,
        sampler=run_node(sampling_nodes.KSamplerSelect, sampler_name=sampler_name)["sampler"],
        sigmas=sigmas,
        latent_image=empty,
    )
    out = outcome["output"]["samples"]
    assert out.shape == (1, 16, 8, 8) and np.isfinite(out).all() and np.abs(out).max() > 0


def test_cancel_stops_a_real_run_within_one_step(models):
    model, clip, _ = load(models, "sd1")
    positive = encode(models, clip, "a red fox")
    empty = run_node(latent_nodes.EmptyLatentImage, width=64, height=64, batch_size=1)["LATENT"]
    cancel = threading.Event()
    steps_seen = []

    def on_progress(node, value, total, preview):
        steps_seen.append(value)
        cancel.set()

    ctx = sdk.Context("k", models=models, on_progress=on_progress, cancel_event=cancel)
    with pytest.raises(sdk.Cancelled):
        ksample(models, model, positive, positive, empty, ctx=ctx, steps=10)
    assert steps_seen == [1.0]


def test_a_latent_of_another_family_is_refused(models):
    model, clip, _ = load(models, "sd3")
    positive = encode(models, clip, "x")
    sd1_latent = {"samples": np.ones((1, 4, 8, 8), dtype=np.float32)}
    with pytest.raises(
        sdk.NodeError, match="latent_image has 4 channels but the sd3 model works on 16-channel"
    ):
        ksample(models, model, positive, positive, sd1_latent)
