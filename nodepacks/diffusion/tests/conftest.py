"""Tiny real-format models in a ComfyUI-layout library, served by the worker's real ModelManager."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodepacks.diffusion import testing
from workers.runtime.model_library import ModelLibrary
from workers.runtime.models import ModelManager


@pytest.fixture(scope="session")
def library_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    for family in testing.FAMILIES:
        testing.make_tiny_checkpoint(family, root / "checkpoints" / f"tiny-{family}.safetensors")
    testing.make_tiny_diffusers_folder("sd1", root / "checkpoints" / "tiny-sd1-diffusers")
    files = testing.make_tiny_component_files("sdxl", root / "components")
    for folder in ("unet", "text_encoders", "vae"):
        (root / folder).mkdir()
    files["diffusion_model"].rename(root / "unet" / "tiny-sdxl-unet.safetensors")
    files["clip_l"].rename(root / "text_encoders" / "clip_l.safetensors")
    files["clip_g"].rename(root / "text_encoders" / "clip_g.safetensors")
    files["vae"].rename(root / "vae" / "tiny-sdxl-vae.safetensors")
    testing.make_tiny_lora("sd1", root / "loras" / "tiny-sd1-lora.safetensors")
    testing.make_tiny_lora("sdxl", root / "loras" / "tiny-sdxl-lora.safetensors")
    testing.make_tiny_upscaler(root / "upscale_models" / "tiny-2x.safetensors")
    return root


@pytest.fixture
def models(library_root: Path, tmp_path: Path) -> ModelManager:
    return ModelManager(tmp_path / "cache", library=ModelLibrary([library_root]), vram_budget_bytes=0)
