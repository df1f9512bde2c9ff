"""SD3 with T5-XXL: CLIP-L/G features zero-padded to T5's width with T5's 77-token sequence after them, when T5
weights and a T5 tokenizer are at hand; CLIP-L/G alone (as before) when the tokenizer is missing. Tiny models."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nodepacks.diffusion import nodes_loaders as loaders
from nodepacks.diffusion import testing
from nodepacks.diffusion.runtime import encode_text, prepare_denoiser
from nodepacks.sdk.testing import run_node
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager

CLIP_TOKENS, CLIP_WIDTH = 77, 32 + 48  # tiny CLIP-L + CLIP-G
T5_WIDTH = 32  # the tiny T5's d_model


def _sd3_checkpoint_with_t5(path: Path, t5: torch.nn.Module) -> Path:
    from safetensors.torch import save_file

    state = testing.original_state_dict("sd3", testing.tiny_components("sd3"))
    state.update({f"text_encoders.t5xxl.transformer.{k}": v for k, v in testing.t5_state(t5).items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sd3_t5")
    t5 = testing.tiny_components("flux")["t5"]
    # Two checkpoints in their own folders: one with the tokenizer beside it, one without (and none in the library).
    _sd3_checkpoint_with_t5(root / "checkpoints" / "with" / "sd3-t5.safetensors", t5)
    testing.make_tiny_t5_tokenizer(root / "checkpoints" / "with" / "tokenizer.json")
    _sd3_checkpoint_with_t5(root / "checkpoints" / "without" / "sd3-t5.safetensors", t5)
    testing.make_tiny_checkpoint("sd3", root / "checkpoints" / "sd3-plain.safetensors")
    parts = testing.make_tiny_component_files("sd3", root / "parts")
    encoders = root / "text_encoders"
    encoders.mkdir()
    for role in ("clip_l", "clip_g"):
        parts[role].rename(encoders / f"{role}.safetensors")
    (encoders / "t5").mkdir()
    from safetensors.torch import save_file

    save_file(testing.t5_state(t5), str(encoders / "t5" / "t5xxl.safetensors"))
    return root


@pytest.fixture
def models(root: Path, tmp_path: Path) -> ModelManager:
    return ModelManager(tmp_path / "cache", library=ModelLibrary([root]), vram_budget_bytes=0)


def clip_of(models: ModelManager, name: str):
    return run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name=name)["CLIP"]


def test_checkpoint_t5_with_a_tokenizer_appends_77_t5_tokens_that_follow_the_prompt(models) -> None:
    plain = encode_text(clip_of(models, "sd3-plain.safetensors"), models, "a photo of a cat")
    clip = clip_of(models, "with/sd3-t5.safetensors")
    assert [s.role for s in clip.sources][-1] == "t5_tokenizer"
    cat = encode_text(clip, models, "a photo of a cat")
    assert plain["cross_attn"].shape == (1, CLIP_TOKENS, CLIP_WIDTH)
    width = max(CLIP_WIDTH, T5_WIDTH)
    assert cat["cross_attn"].shape == (1, CLIP_TOKENS + 77, width)
    # The CLIP part is the plain checkpoint's (same seeds), the pooled output CLIP-L's and CLIP-G's alone.
    np.testing.assert_allclose(cat["cross_attn"][:, :CLIP_TOKENS], plain["cross_attn"], atol=1e-5)
    pooled, plain_pooled = cat["pooled_output"], plain["pooled_output"]
    assert pooled is not None and plain_pooled is not None
    np.testing.assert_allclose(pooled, plain_pooled, atol=1e-5)
    t5_part = cat["cross_attn"][:, CLIP_TOKENS:]
    assert np.abs(t5_part[..., :T5_WIDTH]).sum() > 0 and not t5_part[..., T5_WIDTH:].any()  # padded to width
    # T5's part follows T5's words (cat and dog are both in the tiny T5 tokenizer's vocabulary).
    dog = encode_text(clip, models, "a photo of a dog")
    assert not np.allclose(dog["cross_attn"][:, CLIP_TOKENS:], t5_part)
    # The T5 tokens reach the transformer: the prediction differs from the CLIP-only one.
    loaded = run_node(loaders.CheckpointLoaderSimple, models=models, ckpt_name="with/sd3-t5.safetensors")
    model = loaded["MODEL"]
    x = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.5])
    denoise = prepare_denoiser(model, models)
    with_t5, clip_only = denoise(x, sigma, [cat]), denoise(x, sigma, [plain])
    assert not torch.allclose(with_t5, clip_only, atol=1e-5)


def test_checkpoint_t5_without_a_tokenizer_runs_on_clip_alone_and_says_so(models, caplog) -> None:
    plain = encode_text(clip_of(models, "sd3-plain.safetensors"), models, "a photo of a cat")
    with caplog.at_level(logging.INFO, logger="nodepacks.diffusion.families.sd3"):
        clip = clip_of(models, "without/sd3-t5.safetensors")
    assert "T5 in sd3-t5.safetensors is not used" in caplog.text and "no T5 tokenizer" in caplog.text
    assert "t5_tokenizer" not in [s.role for s in clip.sources]
    cond = encode_text(clip, models, "a photo of a cat")
    assert cond["cross_attn"].shape == (1, CLIP_TOKENS, CLIP_WIDTH)
    np.testing.assert_allclose(cond["cross_attn"], plain["cross_attn"], atol=1e-5)


def test_triple_clip_loader_uses_t5_with_the_library_tokenizer(models, root: Path) -> None:
    values: dict[str, Any] = {"clip_name1": "t5/t5xxl.safetensors", "clip_name2": "clip_g.safetensors"}
    values["clip_name3"] = "clip_l.safetensors"
    alone = run_node(loaders.TripleCLIPLoader, models=models, **values)
    assert "is not used" in alone.ui.text[0]
    assert encode_text(alone["CLIP"], models, "a cat")["cross_attn"].shape == (1, CLIP_TOKENS, CLIP_WIDTH)
    tokenizer = testing.make_tiny_t5_tokenizer(root / "text_encoders" / "t5_tokenizer" / "tokenizer.json")
    try:
        used = run_node(loaders.TripleCLIPLoader, models=models, **values)
        assert "is used" in used.ui.text[0]
        cond = encode_text(used["CLIP"], models, "a cat")
    finally:
        tokenizer.unlink()
    assert cond["cross_attn"].shape == (1, CLIP_TOKENS + 77, CLIP_WIDTH)
    assert np.abs(cond["cross_attn"][:, CLIP_TOKENS:]).sum() > 0
