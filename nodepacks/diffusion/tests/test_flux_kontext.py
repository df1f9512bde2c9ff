"""FLUX.1 Kontext (reference latents as extra image tokens) and FLUX.1 Fill (mask + masked image channels) on CPU
with tiny real-format models: the nodes (ReferenceLatent, FluxKontextMultiReferenceLatentMethod,
FluxKontextImageScale), the token layout the transformer sees, and the refusal by other families."""

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
from nodepacks.diffusion.families import get_family
from nodepacks.diffusion.handles import Cond, DiffusionError
from nodepacks.diffusion.nodes_flux import (
    FluxKontextImageScale,
    FluxKontextMultiReferenceLatentMethod,
    ReferenceLatent,
    kontext_size,
)
from nodepacks.diffusion.runtime import Denoiser, prepare_denoiser
from nodepacks.sdk.testing import run_node
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kontext_models")
    testing.make_tiny_checkpoint("flux", root / "checkpoints" / "flux-kontext.safetensors")
    testing.make_tiny_checkpoint("sd1", root / "checkpoints" / "sd1.safetensors")
    testing.make_tiny_t5_tokenizer(root / "text_encoders" / "t5_tokenizer" / "tokenizer.json")
    fill = testing.make_tiny_component_files("flux", root / "parts", seed=3, inpainting=True)
    (root / "diffusion_models").mkdir()
    fill["diffusion_model"].rename(root / "diffusion_models" / "flux1-fill-dev.safetensors")
    return root


@pytest.fixture
def models(root: Path, tmp_path: Path) -> ModelManager:
    return ModelManager(tmp_path / "cache", library=ModelLibrary([root]), vram_budget_bytes=0)


def load(models, name: str = "flux-kontext.safetensors"):
    out = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name=name)
    return out["MODEL"], out["CLIP"], out["VAE"]


def encode(models, clip, text: str = "make the bottle red") -> list[Cond]:
    conditioning: list[Cond] = run_node(latent_nodes.CLIPTextEncode, models=models, clip=clip, text=text)[
        "CONDITIONING"
    ]
    return conditioning


def latent(shape: tuple[int, ...], seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {"samples": rng.standard_normal(shape).astype(np.float32)}


def reference(conditioning: list[Cond], *latents: dict[str, Any]) -> list[Cond]:
    for item in latents:
        conditioning = run_node(ReferenceLatent, conditioning=conditioning, latent=item)["CONDITIONING"]
    return conditioning


def method(conditioning, name: str):
    return run_node(
        FluxKontextMultiReferenceLatentMethod, conditioning=conditioning, reference_latents_method=name
    )["CONDITIONING"]


class Recorder:
    """Wraps a transformer to keep the token and position inputs of its last call."""

    def __init__(self, network: Any):
        self.network = network
        self.config = network.config
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.network(**kwargs)


X = torch.randn(1, 16, 4, 6, generator=torch.Generator().manual_seed(0))  # 2 x 3 tokens


def denoise(denoiser: Denoiser, cond: list[Cond], x: torch.Tensor = X) -> torch.Tensor:
    return denoiser(x, torch.tensor([0.7]), cond)


def test_reference_latent_appends_float32_latents_and_the_method_node_sets_comfyui_names(models) -> None:
    _, clip, _ = load(models)
    cond = encode(models, clip)
    assert run_node(ReferenceLatent, conditioning=cond)["CONDITIONING"] == cond  # no latent: unchanged
    first, second = latent((1, 16, 4, 4), 1), latent((1, 16, 6, 2), 2)
    first["samples"] = first["samples"].astype(np.float64)
    chained = reference(cond, first, second)
    refs = chained[0]["reference_latents"]
    assert [r.shape for r in refs] == [(1, 16, 4, 4), (1, 16, 6, 2)]
    assert all(r.dtype == np.float32 for r in refs)
    np.testing.assert_allclose(refs[1], second["samples"])
    assert "reference_latents" not in cond[0]  # the input conditioning is not changed
    assert method(chained, "uxo/uno")[0]["reference_latents_method"] == "uxo"
    assert method(chained, "index")[0]["reference_latents_method"] == "index"


def test_reference_tokens_follow_the_noisy_ones_with_their_own_positions(models) -> None:
    model, clip, _ = load(models)
    denoiser = prepare_denoiser(model, models)
    recorder = Recorder(denoiser.network)
    denoiser.network = recorder
    cond = encode(models, clip)
    plain = denoise(denoiser, cond)
    refs = (latent((1, 16, 4, 4), 1), latent((1, 16, 2, 6), 2))  # 2x2 and 1x3 tokens
    edited = denoise(denoiser, reference(cond, *refs))
    assert edited.shape == plain.shape == X.shape  # only the noisy tokens' output is the prediction
    assert (edited - plain).abs().max() > 1e-4
    tokens, ids = recorder.calls[-1]["hidden_states"], recorder.calls[-1]["img_ids"]
    assert tokens.shape == (1, 6 + 4 + 3, 64) and ids.shape == (13, 3)
    # The noisy latent: index 0, rows 0-1, columns 0-2.
    assert ids[:6].tolist() == [[0, r, c] for r in range(2) for c in range(3)]
    # offset (the default): index 1; the first reference at the origin, the second (wider than tall) below it.
    assert ids[6:10].tolist() == [[1, r, c] for r in range(2) for c in range(2)]
    assert ids[10:].tolist() == [[1, 2, c] for c in range(3)]
    # The reference tokens are the latent in denoiser space, packed like the noisy one.
    scaled = (torch.from_numpy(refs[0]["samples"]) - 0.1159) * 0.3611
    torch.testing.assert_close(tokens[0, 6, :4], scaled[0, 0, :2, :2].reshape(-1))

    denoise(denoiser, method(reference(cond, *refs), "index"))
    ids = recorder.calls[-1]["img_ids"]
    assert ids[6:10].tolist() == [[1, r, c] for r in range(2) for c in range(2)]
    assert ids[10:].tolist() == [[2, 0, c] for c in range(3)]
    denoise(denoiser, method(reference(cond, *refs), "uxo/uno"))
    ids = recorder.calls[-1]["img_ids"]  # index 0, past the noisy latent's corner (4 x 6 latent pixels)
    assert ids[6:10].tolist() == [[0, 2 + r, 3 + c] for r in range(2) for c in range(2)]
    assert ids[10:].tolist() == [[0, 4, 5 + c] for c in range(3)]


def test_index_and_offset_methods_give_different_predictions(models) -> None:
    model, clip, _ = load(models)
    denoiser = prepare_denoiser(model, models)
    cond = encode(models, clip)
    one = reference(cond, latent((1, 16, 4, 4), 1))
    # One reference: both methods put it at index 1 at the origin (ComfyUI's layouts agree there).
    torch.testing.assert_close(
        denoise(denoiser, method(one, "index")), denoise(denoiser, method(one, "offset"))
    )
    two = reference(cond, latent((1, 16, 4, 4), 1), latent((1, 16, 4, 4), 2))
    by_index, by_offset = denoise(denoiser, method(two, "index")), denoise(denoiser, method(two, "offset"))
    assert (by_index - by_offset).abs().max() > 1e-5
    with pytest.raises(DiffusionError, match="index_timestep_zero"):
        denoise(denoiser, method(two, "index_timestep_zero"))


def test_cfg_with_reference_latents_batches_both_prompts_as_separate_calls_would(models) -> None:
    model, clip, _ = load(models)
    positive = reference(encode(models, clip), latent((1, 16, 4, 4), 1))
    negative: list[Cond] = run_node(latent_nodes.ConditioningZeroOut, conditioning=positive)["CONDITIONING"]
    # A copy of the negative's reference (another array, equal values) still runs in one doubled batch.
    copied = [Cond(**{**negative[0], "reference_latents": [np.copy(negative[0]["reference_latents"][0])]})]
    separate = [Cond(**negative[0], strength=1.0)]  # another field set: the two prompts run apart

    def sample(neg):
        return run_node(
            sampling_nodes.KSampler,
            models=models,
            model=model,
            seed=3,
            steps=2,
            cfg=2.5,
            sampler_name="euler",
            scheduler="simple",
            positive=positive,
            negative=neg,
            latent_image=latent((1, 16, 4, 4), 5),
            denoise=1.0,
        )["latent"]["samples"]

    batched = sample(copied)
    np.testing.assert_allclose(batched, sample(separate), atol=1e-5)
    assert np.isfinite(batched).all()


def test_other_families_refuse_reference_latents(models) -> None:
    model, clip, _ = load(models, "sd1.safetensors")
    cond = reference(encode(models, clip), latent((1, 4, 4, 4), 1))
    with pytest.raises(DiffusionError, match="ReferenceLatent"):
        run_node(
            sampling_nodes.KSampler,
            models=models,
            model=model,
            seed=0,
            steps=1,
            cfg=1.0,
            sampler_name="euler",
            scheduler="simple",
            positive=cond,
            negative=cond,
            latent_image=latent((1, 4, 4, 4), 2),
            denoise=1.0,
        )


def test_fill_mask_enters_as_8x8_blocks_after_the_image_latent() -> None:
    family = get_family("flux")
    x = torch.zeros(1, 16, 2, 3)
    mask = np.zeros((1, 1, 16, 24), dtype=np.float32)
    mask[0, 0, 8 + 3, 16 + 5] = 1.0  # pixel (3, 5) of latent pixel (1, 2)
    image = np.full((1, 16, 2, 3), 0.5, dtype=np.float32)
    extra = family.concat_input({"concat_mask": mask, "concat_latent_image": image}, x, 80)
    assert extra is not None and extra.shape == (1, 80, 2, 3)
    torch.testing.assert_close(extra[:, :16], torch.full((1, 16, 2, 3), (0.5 - 0.1159) * 0.3611))
    assert extra[0, 16 + 3 * 8 + 5, 1, 2] == 1.0 and extra[:, 16:].sum() == 1.0
    # Nothing given: a zero image latent (in denoiser space) and an all-ones mask.
    blank = family.concat_input({}, x, 80)
    assert blank is not None and (blank[:, 16:] == 1).all()
    torch.testing.assert_close(blank[:, :16], torch.full((1, 16, 2, 3), -0.1159 * 0.3611))
    with pytest.raises(DiffusionError, match="Fill"):
        family.concat_input({}, x, 17)


def test_fill_model_inpaints_with_a_mask_and_differs_without(models) -> None:
    model, clip, vae = load(models)
    fill = run_node(
        loaders.UNETLoader, models=models, unet_name="flux1-fill-dev.safetensors", weight_dtype="default"
    )["MODEL"]
    denoiser = prepare_denoiser(fill, models)
    assert denoiser.concat_channels == 80  # 384 features / 4 - 16
    positive = run_node(latent_nodes.FluxGuidance, conditioning=encode(models, clip), guidance=30.0)
    negative = run_node(latent_nodes.ConditioningZeroOut, conditioning=positive["CONDITIONING"])
    pixels = np.random.default_rng(4).random((1, 32, 32, 3)).astype(np.float32)
    mask = np.zeros((1, 32, 32), dtype=np.float32)
    mask[:, 8:24, 8:24] = 1.0
    inpaint = run_node(
        latent_nodes.InpaintModelConditioning,
        models=models,
        positive=positive["CONDITIONING"],
        negative=negative["CONDITIONING"],
        vae=vae,
        pixels=pixels,
        mask=mask,
        noise_mask=True,
    )

    def sample(pos, neg, latent_image):
        return run_node(
            sampling_nodes.KSampler,
            models=models,
            model=fill,
            seed=1,
            steps=2,
            cfg=1.0,
            sampler_name="euler",
            scheduler="normal",
            positive=pos,
            negative=neg,
            latent_image=latent_image,
            denoise=1.0,
        )["latent"]["samples"]

    with_mask = sample(inpaint["positive"], inpaint["negative"], inpaint["latent"])
    assert with_mask.shape == (1, 16, 4, 4) and np.isfinite(with_mask).all()
    # Outside the mask the image's latent comes back (the noise mask); inside it was regenerated.
    original = inpaint["latent"]["samples"]
    np.testing.assert_allclose(with_mask[..., 0, :], original[..., 0, :], atol=1e-5)
    assert np.abs(with_mask[..., 1:3, 1:3] - original[..., 1:3, 1:3]).max() > 1e-3
    # One prediction with and without the fill channels' mask and masked image: they are network inputs.
    filled: list[Cond] = inpaint["positive"]
    plain = [Cond(**c) for c in filled]
    for c in plain:
        del c["concat_mask"], c["concat_latent_image"]
    x = torch.randn(1, 16, 4, 4, generator=torch.Generator().manual_seed(2))
    conditioned = denoise(denoiser, filled, x)
    assert (conditioned - denoise(denoiser, plain, x)).abs().max() > 1e-4
    other_mask: list[Cond] = [{**c, "concat_mask": 1.0 - c["concat_mask"]} for c in filled]
    assert (conditioned - denoise(denoiser, other_mask, x)).abs().max() > 1e-4
    # Without InpaintModelConditioning's channels a LATENT's noise mask fills them (runtime.inpaint_conds, as
    # ComfyUI's denoise mask), with the unmasked latent as the image: another result than the greyed one.
    from_latent = sample(plain, negative["CONDITIONING"], inpaint["latent"])
    assert np.abs(from_latent - with_mask).max() > 1e-4


def test_reference_latents_on_a_fill_model_are_refused(models) -> None:
    fill = run_node(
        loaders.UNETLoader, models=models, unet_name="flux1-fill-dev.safetensors", weight_dtype="default"
    )["MODEL"]
    _, clip, _ = load(models)
    cond = reference(encode(models, clip), latent((1, 16, 4, 4), 1))
    with pytest.raises(DiffusionError, match="Kontext"):
        denoise(prepare_denoiser(fill, models), cond)


def test_kontext_image_scale_picks_the_nearest_preferred_resolution() -> None:
    assert kontext_size(100, 50) == (1456, 720)  # 2.02 is the nearest ratio to 2
    assert kontext_size(64, 64) == (1024, 1024)
    assert kontext_size(30, 100) == (672, 1568)  # beyond the narrowest: the narrowest
    image = np.zeros((1, 100, 300, 3), dtype=np.float32)
    image[..., 0] = 0.25
    image[:, :, :30] = 1.0  # a white band at the left edge, cropped away (3:1 -> 1568x672, 2.33:1)
    out = run_node(FluxKontextImageScale, image=image)["IMAGE"]
    assert out.shape == (1, 672, 1568, 3) and out.dtype == np.float32
    assert out[..., 0].mean() == pytest.approx(0.25, abs=0.01) and out[..., 1].max() < 0.02
