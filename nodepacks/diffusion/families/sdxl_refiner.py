"""The SDXL refiner (sd_xl_refiner_1.0): SDXL's latent space and VAE, a 4-level UNet (384 base channels) over
OpenCLIP ViT-G text alone (penultimate layer, 1280 wide, its pooled projection too) and five time ids per image:
height, width, crop top, crop left and an aesthetic score (ComfyUI's defaults: 768, 768, 0, 0 and 6).

Recognised in a full checkpoint by its one text encoder, OpenCLIP-G at ``conditioner.embedders.0.model.`` (the
base model has CLIP-L there and OpenCLIP-G at ``embedders.1``; diffusers tells them apart the same way); a bare
UNet file by its added-conditioning width: pooled text (as wide as the cross attention) plus 5 x 256 time-id
features, where the base has 6 time ids and a pooled width (1280) unlike its 2048-wide context. A diffusers folder
is an ``StableDiffusionXLImg2ImgPipeline`` without ``text_encoder`` (``requires_aesthetics_score``).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodepacks.diffusion.families import _common as common
from nodepacks.diffusion.families.sdxl import SDXLFamily
from nodepacks.diffusion.handles import Cond
from nodepacks.diffusion.weights import DIFFUSION_MODEL_PREFIX, strip_prefix

if TYPE_CHECKING:  # pragma: no cover
    import torch

REFINER_CLIP_PREFIX = "conditioner.embedders.0.model."
TIME_ID_FEATURES = 256  # addition_time_embed_dim: the sinusoidal features of each time id
REFINER_TIME_IDS = 5
DEFAULT_AESTHETIC_SCORE = 6.0  # ComfyUI's default for a positive prompt (2.5 for a negative one)


def _added_widths(path: Path, keys: Collection[str]) -> tuple[int, int] | None:
    """(added-conditioning input width, cross-attention width) of a UNet file, from tensor shapes."""
    from safetensors import safe_open

    prefix = DIFFUSION_MODEL_PREFIX if f"{DIFFUSION_MODEL_PREFIX}label_emb.0.0.weight" in keys else ""
    to_k = next((k for k in sorted(keys) if k.endswith("attn2.to_k.weight")), None)
    if to_k is None:
        return None
    with safe_open(str(path), framework="pt") as handle:
        added = int(handle.get_slice(f"{prefix}label_emb.0.0.weight").get_shape()[1])
        context = int(handle.get_slice(to_k).get_shape()[1])
    return added, context


class SDXLRefinerFamily(SDXLFamily):
    """The SDXL refiner (eps prediction, SDXL's schedule and latents)."""

    name = "sdxl_refiner"
    display_name = "Stable Diffusion XL Refiner"
    clip_roles: tuple[str, ...] = ("clip_g",)
    config_dir = "sdxl_refiner"
    pipelines = ("StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLPipeline")
    checkpoint_clip_prefixes = {"clip_g": REFINER_CLIP_PREFIX}
    diffusers_clip_folders = {"clip_g": "text_encoder_2"}

    # -- detection ----------------------------------------------------------------------------------------------

    def detect_keys(self, keys: Collection[str]) -> bool:
        bare = strip_prefix(set(keys), DIFFUSION_MODEL_PREFIX)
        return (
            "input_blocks.0.0.weight" in bare
            and "label_emb.0.0.weight" in bare
            and (
                f"{REFINER_CLIP_PREFIX}text_projection" in keys
                or f"{REFINER_CLIP_PREFIX}token_embedding.weight" in keys
            )
        )

    def detect_file(self, keys: Collection[str], path: Path | None) -> bool:
        if self.detect_keys(keys):
            return True
        if path is None or any(k.startswith(("conditioner.", "cond_stage_model.")) for k in keys):
            return False  # a full checkpoint with the base model's text encoders
        bare = strip_prefix(set(keys), DIFFUSION_MODEL_PREFIX)
        if "input_blocks.0.0.weight" not in bare or "label_emb.0.0.weight" not in bare:
            return False
        widths = _added_widths(path, keys)
        return widths is not None and widths[0] - widths[1] == REFINER_TIME_IDS * TIME_ID_FEATURES

    def detect_diffusers_folder(self, folder: Path, model_index: dict[str, Any]) -> bool:
        if model_index.get("_class_name") not in self.pipelines:
            return False
        if model_index.get("requires_aesthetics_score") is True:
            return True
        text_encoder = model_index.get("text_encoder")
        has_first = isinstance(text_encoder, list) and text_encoder[0] is not None
        if has_first or not (folder / "unet" / "config.json").exists():
            return False
        try:
            config = json.loads((folder / "unet" / "config.json").read_text())
        except (OSError, ValueError):
            return False
        return (
            int(config.get("cross_attention_dim") or 0)
            == int(config.get("projection_class_embeddings_input_dim") or 0)
            - REFINER_TIME_IDS * TIME_ID_FEATURES
        )

    def detect_diffusers(self, model_index: dict[str, Any]) -> bool:
        return False  # needs the folder: the pipeline class is the base model's too

    # -- text ---------------------------------------------------------------------------------------------------

    def encode_text(self, stack: Any, text: str, layer: int | None) -> Cond:
        chosen = -2 if layer is None else layer
        hidden_g, pooled_g = common.encode_clip(stack["clip_g"], text, chosen, final_norm=False, pad_token=0)
        return Cond(cross_attn=hidden_g, pooled_output=pooled_g)

    def predict(
        self, network: Any, x: torch.Tensor, timestep: torch.Tensor, cond: dict[str, Any]
    ) -> torch.Tensor:
        import torch

        width = float(cond.get("width", 768))
        height = float(cond.get("height", 768))
        score = float(cond.get("aesthetic_score", DEFAULT_AESTHETIC_SCORE))
        ids = [height, width, float(cond.get("crop_h", 0)), float(cond.get("crop_w", 0)), score]
        time_ids = torch.tensor([ids], device=x.device, dtype=x.dtype).expand(x.shape[0], -1)
        added = {"text_embeds": cond["pooled_output"], "time_ids": time_ids}
        prediction: torch.Tensor = network(
            x, timestep, encoder_hidden_states=cond["cross_attn"], added_cond_kwargs=added
        ).sample
        return prediction
