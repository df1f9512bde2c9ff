from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nodepacks.diffusion import nodes_latent_extra as extra
from nodepacks.diffusion import testing
from nodepacks.diffusion.handles import DiffusionError
from nodepacks.diffusion.nodes_latent import VAEEncode
from nodepacks.diffusion.nodes_loaders import VAELoader
from nodepacks.sdk.testing import run_node


def test_empty_video_and_flux2_latents_have_comfyui_shapes():
    hunyuan = run_node(extra.EmptyHunyuanLatentVideo, width=848, height=480, length=73, batch_size=1)[
        "LATENT"
    ]
    assert hunyuan["samples"].shape == (1, 16, 19, 60, 106)
    v15 = run_node(extra.EmptyHunyuanVideo15Latent, width=1280, height=720, length=121, batch_size=2)[
        "LATENT"
    ]
    assert v15["samples"].shape == (2, 32, 31, 45, 80)
    flux2 = run_node(extra.EmptyFlux2LatentImage, width=1248, height=832, batch_size=1)["LATENT"]
    assert flux2["samples"].shape == (1, 128, 52, 78) and not flux2["samples"].any()


def _video_latent() -> dict[str, Any]:
    return {"samples": np.arange(2 * 3 * 5 * 4 * 6, dtype=np.float32).reshape(2, 3, 5, 4, 6)}


def test_latent_cut_clamps_and_counts_from_the_end():
    latent = _video_latent()
    cut = run_node(extra.LatentCut, samples=latent, dim="t", index=1, amount=16384)["LATENT"]["samples"]
    assert np.array_equal(cut, latent["samples"][:, :, 1:])
    last = run_node(extra.LatentCut, samples=latent, dim="x", index=-2, amount=1)["LATENT"]["samples"]
    assert np.array_equal(last, latent["samples"][..., 4:5])
    with pytest.raises(DiffusionError):
        run_node(extra.LatentCut, samples={"samples": np.zeros((1, 4, 8, 8), np.float32)}, dim="t")


def test_latent_concat_orders_by_sign_and_checks_shapes():
    a = {"samples": np.zeros((1, 4, 2, 8, 8), np.float32)}
    b = {"samples": np.ones((1, 4, 3, 8, 8), np.float32)}
    out = run_node(extra.LatentConcat, samples1=a, samples2=b, dim="-t")["LATENT"]["samples"]
    assert out.shape == (1, 4, 5, 8, 8) and out[:, :, :3].all() and not out[:, :, 3:].any()
    with pytest.raises(DiffusionError):
        run_node(extra.LatentConcat, samples1=a, samples2=b, dim="x")


def test_latent_batch_and_from_batch():
    a = {"samples": np.zeros((2, 4, 8, 8), np.float32)}
    b = {"samples": np.ones((1, 4, 4, 4), np.float32)}
    batch = run_node(extra.LatentBatch, samples1=a, samples2=b)["LATENT"]
    assert batch["samples"].shape == (3, 4, 8, 8) and np.allclose(batch["samples"][2], 1.0)
    assert batch["batch_index"] == [0, 1, 2]
    picked = run_node(extra.LatentFromBatch, samples=batch, batch_index=1, length=5)["LATENT"]
    assert picked["samples"].shape[0] == 2 and picked["batch_index"] == [1, 2]


def test_encode_tiled_matches_whole_encoding_for_a_local_encoder():
    # a per-pixel encoder (8x8 average pooling) must give the same latent tiled or whole
    def encode(pixels: np.ndarray) -> np.ndarray:
        b, h, w, _ = pixels.shape
        pooled: np.ndarray = pixels.reshape(b, h // 8, 8, w // 8, 8, 3).mean(axis=(2, 4))
        return pooled.transpose(0, 3, 1, 2)

    pixels = np.random.default_rng(0).random((1, 96, 160, 3)).astype(np.float32)
    tiled = extra.encode_tiled(encode, pixels, tile=64, overlap=16)
    assert tiled.shape == (1, 3, 12, 20)
    assert np.allclose(tiled, encode(pixels), atol=1e-5)


@pytest.fixture(scope="module")
def vae_models(tmp_path_factory: pytest.TempPathFactory):
    from workers.runtime.model_library import ModelLibrary
    from workers.runtime.models import ModelManager

    root: Path = tmp_path_factory.mktemp("models")
    files = testing.make_tiny_component_files("sdxl", root / "components")
    (root / "vae").mkdir()
    files["vae"].rename(root / "vae" / "tiny-vae.safetensors")
    return ModelManager(root / "cache", library=ModelLibrary([root]), vram_budget_bytes=0)


def test_vae_encode_tiled_runs_a_real_vae_and_stays_close_to_whole_encoding(vae_models):
    vae = run_node(VAELoader, models=vae_models, vae_name="tiny-vae.safetensors")["VAE"]
    pixels = np.random.default_rng(1).random((1, 128, 64, 3)).astype(np.float32)
    whole = run_node(VAEEncode, models=vae_models, pixels=pixels, vae=vae)["LATENT"]["samples"]
    tiled = run_node(
        extra.VAEEncodeTiled, models=vae_models, pixels=pixels, vae=vae, tile_size=64, overlap=16
    )
    samples = tiled["LATENT"]["samples"]
    assert samples.shape == whole.shape
    assert np.isfinite(samples).all()
    # tiles see less context than the whole image, so values differ near seams but correlate strongly
    assert np.corrcoef(samples.ravel(), whole.ravel())[0, 1] > 0.5
