"""SD2.x (eps and v prediction) and inpainting UNets (9 input channels), with tiny real-format models on CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from nodepacks.diffusion import nodes_latent as latent_nodes
from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import testing
from nodepacks.diffusion.families import detect_family
from nodepacks.diffusion.handles import Cond, DiffusionError
from nodepacks.diffusion.runtime import inpaint_conds, prepare_denoiser
from nodepacks.diffusion.tokenizers import clip_token_chunks
from nodepacks.diffusion.weights import read_keys
from nodepacks.sdk.testing import run_node
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager

NORM_BIAS = "model.diffusion_model.output_blocks.3.1.transformer_blocks.0.norm1.bias"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("more_models")
    ckpts = root / "checkpoints"
    testing.make_tiny_checkpoint("sd2", ckpts / "sd2.safetensors")
    testing.make_tiny_checkpoint(
        "sd2", ckpts / "sd2-meta-v.safetensors", metadata={"modelspec.prediction_type": "v"}
    )
    # The last output block's first norm bias spread wide, as v training leaves it.
    state = load_file(str(ckpts / "sd2.safetensors"))
    state[NORM_BIAS] = torch.randn(state[NORM_BIAS].shape, generator=torch.Generator().manual_seed(3)) * 0.3
    save_file(state, str(ckpts / "sd2-spread.safetensors"))
    testing.make_tiny_checkpoint("sd1", ckpts / "sd1.safetensors")
    testing.make_tiny_checkpoint("sd1", ckpts / "sd1-inpaint.safetensors", inpainting=True)
    testing.make_tiny_checkpoint("sd2", ckpts / "sd2-inpaint.safetensors", inpainting=True)
    state = load_file(str(ckpts / "sd2-inpaint.safetensors"))
    state[NORM_BIAS] = state[NORM_BIAS] + torch.randn(state[NORM_BIAS].shape) * 0.3
    save_file(state, str(ckpts / "sd2-inpaint-spread.safetensors"))
    return root


@pytest.fixture
def models(root: Path, tmp_path: Path) -> ModelManager:
    return ModelManager(tmp_path / "cache", library=ModelLibrary([root]), vram_budget_bytes=0)


def load(models, name: str):
    out = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name=name)
    return out["MODEL"], out["CLIP"], out["VAE"]


def encode(models, clip, text: str = "a teacup on a pink tablecloth") -> list[Cond]:
    conditioning: list[Cond] = run_node(latent_nodes.CLIPTextEncode, models=models, clip=clip, text=text)[
        "CONDITIONING"
    ]
    return conditioning


def test_sd2_checkpoint_is_detected_and_encodes_the_penultimate_open_clip_layer(models) -> None:
    model, clip, vae = load(models, "sd2.safetensors")
    assert (model.family, clip.family, vae.family) == ("sd2", "sd2", "sd2")
    assert model.sampling.prediction == "eps"  # no metadata, narrow norm bias
    cond = encode(models, clip)
    # The reference: the same tiny HF text model, penultimate layer + final norm, padded with 0 as SD2 does.
    reference = testing.tiny_components("sd2")["clip_h"]
    ids = clip_token_chunks("a teacup on a pink tablecloth", pad_token=0)
    assert ids[0][-1] == 0
    with torch.no_grad():
        out = reference(input_ids=torch.tensor(ids), output_hidden_states=True)
        expected = reference.text_model.final_layer_norm(out.hidden_states[-2])
    np.testing.assert_allclose(cond[0]["cross_attn"], expected.numpy(), atol=1e-5)
    denoiser = prepare_denoiser(model, models)
    denoised = denoiser(torch.randn(1, 4, 8, 8), torch.tensor([2.0]), cond)
    assert denoised.shape == (1, 4, 8, 8) and torch.isfinite(denoised).all()


def test_bare_unets_are_told_apart_by_cross_attention_width(tmp_path: Path) -> None:
    from diffusers import UNet2DConditionModel

    unet: Any = UNet2DConditionModel(
        sample_size=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(32, 32),
        layers_per_block=1,
        cross_attention_dim=1024,
        attention_head_dim=(1, 1),
        use_linear_projection=True,
        norm_num_groups=32,
    )
    path = tmp_path / "sd2-unet.safetensors"
    save_file(testing.unet_to_original(unet.state_dict(), unet.config), str(path))
    assert detect_family(read_keys(path), path=path).name == "sd2"
    sd1 = testing.tiny_components("sd1")["denoiser"]
    path = tmp_path / "sd1-unet.safetensors"
    save_file(testing.unet_to_original(sd1.state_dict(), sd1.config), str(path))
    assert detect_family(read_keys(path), path=path).name == "sd1"


def test_v_prediction_from_metadata_weights_and_the_override_node(models) -> None:
    eps, clip, _ = load(models, "sd2.safetensors")
    meta_v, _, _ = load(models, "sd2-meta-v.safetensors")
    spread_v, _, _ = load(models, "sd2-spread.safetensors")
    inpaint, _, _ = load(models, "sd2-inpaint-spread.safetensors")
    assert meta_v.sampling.prediction == "v" and spread_v.sampling.prediction == "v"
    assert inpaint.sampling.prediction == "eps"  # inpainting models are eps whatever their weights look like
    overridden = run_node(latent_nodes.ModelSamplingDiscrete, model=spread_v, sampling="eps", zsnr=False)[
        "MODEL"
    ]
    assert overridden.sampling.prediction == "eps" and overridden.key == spread_v.key
    # The same weights read as eps and as v: at x = 0 eps gives -out * sigma, v -out * sigma / sqrt(sigma^2 + 1).
    cond = encode(models, clip)
    x, sigma = torch.zeros(1, 4, 8, 8), torch.tensor([1.5])
    as_eps = prepare_denoiser(eps, models)(x, sigma, cond)
    as_v = prepare_denoiser(meta_v, models)(x, sigma, cond)
    assert torch.count_nonzero(as_eps) > 0
    torch.testing.assert_close(as_v, as_eps / (1.5**2 + 1) ** 0.5, atol=1e-5, rtol=1e-5)
    zsnr = run_node(latent_nodes.ModelSamplingDiscrete, model=eps, sampling="v_prediction", zsnr=True)[
        "MODEL"
    ]
    assert zsnr.sampling.prediction == "v" and zsnr.sampling.sigma_max > 1000  # zero terminal SNR (test_gaps)


def _pixels_and_mask() -> tuple[np.ndarray, np.ndarray]:
    pixels = np.random.default_rng(0).random((1, 64, 64, 3), dtype=np.float32)
    mask = np.zeros((1, 64, 64), np.float32)
    mask[:, 16:48, 8:40] = 1.0
    return pixels, mask


@pytest.mark.parametrize("family", ["sd1", "sd2"])
def test_inpainting_unet_sees_the_mask_and_the_masked_image(models, family: str) -> None:
    model, clip, vae = load(models, f"{family}-inpaint.safetensors")
    assert model.family == family
    pixels, mask = _pixels_and_mask()
    latent = run_node(
        latent_nodes.VAEEncodeForInpaint, models=models, pixels=pixels, vae=vae, mask=mask, grow_mask_by=0
    )["LATENT"]
    assert latent["concat_latent"].dtype == np.float32 and latent["noise_mask"].shape == (1, 1, 64, 64)
    denoiser = prepare_denoiser(model, models)
    assert denoiser.concat_channels == 5
    cond = encode(models, clip)
    positive, negative = inpaint_conds(denoiser, latent, cond, cond)
    assert negative is not None and "concat_mask" in positive[0] and "concat_mask" not in cond[0]
    x, sigma = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1)), torch.tensor([3.0])
    got = denoiser(x, sigma, positive)
    # The reference: the same diffusers UNet called by hand on [x_in, mask, scaled masked-image latent].
    unet = testing.tiny_components(family, inpainting=True)["denoiser"]
    small_mask = torch.nn.functional.interpolate(
        torch.from_numpy(latent["noise_mask"]), size=(8, 8), mode="bilinear"
    )
    image = torch.from_numpy(latent["concat_latent"]) * 0.18215
    x_in = x / (sigma**2 + 1) ** 0.5
    timestep = model.sampling.timestep(sigma)
    with torch.no_grad():
        eps = unet(
            torch.cat([x_in, small_mask.round(), image], dim=1),
            timestep,
            encoder_hidden_states=torch.from_numpy(positive[0]["cross_attn"]),
        ).sample
    torch.testing.assert_close(got, x - eps * sigma, atol=1e-4, rtol=1e-4)
    # Without the latent's mask the model regenerates everything (full mask, grey image): another prediction.
    assert not torch.allclose(got, denoiser(x, sigma, cond), atol=1e-4)


def test_inpaint_model_conditioning_feeds_the_same_concat(models) -> None:
    model, clip, vae = load(models, "sd1-inpaint.safetensors")
    pixels, mask = _pixels_and_mask()
    cond = encode(models, clip)
    out = run_node(
        latent_nodes.InpaintModelConditioning,
        models=models,
        positive=cond,
        negative=cond,
        vae=vae,
        pixels=pixels,
        mask=mask,
        noise_mask=True,
    )
    encoded = run_node(latent_nodes.VAEEncode, models=models, pixels=pixels, vae=vae)["LATENT"]
    np.testing.assert_allclose(out["latent"]["samples"], encoded["samples"], atol=1e-6)  # the unmasked image
    assert out["latent"]["noise_mask"].shape == (1, 1, 64, 64)
    for_inpaint = run_node(
        latent_nodes.VAEEncodeForInpaint, models=models, pixels=pixels, vae=vae, mask=mask, grow_mask_by=0
    )["LATENT"]
    np.testing.assert_allclose(out["positive"][0]["concat_latent_image"], for_inpaint["samples"], atol=1e-6)
    denoiser = prepare_denoiser(model, models)
    # The conditioning's own concat wins over the latent's (here: the unmasked image's samples).
    positive, _ = inpaint_conds(denoiser, out["latent"], out["positive"], out["negative"])
    x, sigma = torch.randn(1, 4, 8, 8), torch.tensor([2.0])
    from_conds = denoiser(x, sigma, positive)
    from_latent = denoiser(x, sigma, inpaint_conds(denoiser, for_inpaint, cond, None)[0])
    torch.testing.assert_close(from_conds, from_latent, atol=1e-5, rtol=1e-5)


def test_ksampler_runs_an_inpainting_model_from_vae_encode_for_inpaint(models) -> None:
    from nodepacks.diffusion import nodes_sampling

    model, clip, vae = load(models, "sd2-inpaint.safetensors")
    pixels, mask = _pixels_and_mask()
    latent = run_node(
        latent_nodes.VAEEncodeForInpaint, models=models, pixels=pixels, vae=vae, mask=mask, grow_mask_by=0
    )["LATENT"]
    cond = encode(models, clip)
    kwargs: dict[str, Any] = dict(
        seed=1, steps=2, cfg=4.0, sampler_name="euler", scheduler="normal", denoise=1.0
    )
    out = run_node(
        nodes_sampling.KSampler,
        models=models,
        model=model,
        positive=cond,
        negative=cond,
        latent_image=latent,
        **kwargs,
    )["latent"]
    assert out["samples"].shape == (1, 4, 8, 8) and np.isfinite(out["samples"]).all()
    keep = torch.nn.functional.interpolate(
        torch.from_numpy(1 - latent["noise_mask"]), size=(8, 8), mode="bilinear"
    )
    outside = (keep == 1).expand(1, 4, 8, 8).numpy()
    np.testing.assert_allclose(out["samples"][outside], latent["samples"][outside], atol=1e-4)


def test_inpainting_errors_are_clear(models) -> None:
    model, clip, _ = load(models, "sd1-inpaint.safetensors")
    denoiser = prepare_denoiser(model, models)
    cond = encode(models, clip)
    x, sigma = torch.randn(1, 4, 8, 8), torch.tensor([2.0])
    mask = np.ones((1, 1, 8, 8), np.float32)
    with pytest.raises(DiffusionError, match="without the masked image's latent"):
        denoiser(x, sigma, [{**cond[0], "concat_mask": mask}])
    wrong = np.zeros((1, 16, 8, 8), np.float32)
    with pytest.raises(DiffusionError, match="16"):
        denoiser(x, sigma, [{**cond[0], "concat_mask": mask, "concat_latent_image": wrong}])
    # 8-channel instruct-pix2pix UNets are supported now (test_ip2p_lora.py).
