"""SDXL: a UNet with CLIP-L + CLIP-G text, the pooled CLIP-G embedding and size/crop time ids."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np

from nodepacks.diffusion.families import _common as common
from nodepacks.diffusion.families.sd1 import SD1Family
from nodepacks.diffusion.handles import Cond, LatentFormat, ModelSampling
from nodepacks.diffusion.weights import DIFFUSION_MODEL_PREFIX, strip_prefix

if TYPE_CHECKING:  # pragma: no cover
    import torch

SDXL_RGB = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)


class SDXLFamily(SD1Family):
    """SDXL base (eps prediction); the refiner is the ``sdxl_refiner`` family."""

    name = "sdxl"
    display_name = "Stable Diffusion XL"
    latent_format = LatentFormat(
        channels=4, scale_factor=0.13025, rgb_factors=SDXL_RGB, rgb_bias=(0.1084, -0.0175, -0.0011)
    )
    clip_roles: tuple[str, ...] = ("clip_l", "clip_g")
    config_dir = "sdxl"
    pipelines = ("StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline")
    checkpoint_clip_prefixes = {
        "clip_l": "conditioner.embedders.0.transformer.",
        "clip_g": "conditioner.embedders.1.model.",
    }
    diffusers_clip_folders = {"clip_l": "text_encoder", "clip_g": "text_encoder_2"}

    def default_sampling(self) -> ModelSampling:
        return ModelSampling.discrete("eps", beta_start=0.00085, beta_end=0.012)

    def detect_keys(self, keys: Collection[str]) -> bool:
        bare = strip_prefix(set(keys), DIFFUSION_MODEL_PREFIX)
        return (
            "input_blocks.0.0.weight" in bare
            and "label_emb.0.0.weight" in bare
            and "conditioner.embedders.0.model.text_projection" not in keys  # the refiner: CLIP-G only
        )

    def heads(self, width: int) -> int:
        return max(1, width // 64)

    def encode_text(self, stack: Any, text: str, layer: int | None) -> Cond:
        chosen = -2 if layer is None else layer
        hidden_l, _ = common.encode_clip(stack["clip_l"], text, chosen, final_norm=False)
        hidden_g, pooled_g = common.encode_clip(stack["clip_g"], text, chosen, final_norm=False, pad_token=0)
        return Cond(cross_attn=np.concatenate([hidden_l, hidden_g], axis=-1), pooled_output=pooled_g)

    def encode_text_lg(self, stack: Any, text_l: str, text_g: str, layer: int | None) -> Cond:
        """CLIPTextEncodeSDXL: CLIP-L reads ``text_l`` and CLIP-G ``text_g``; the shorter is padded with empty-prompt
        chunks to the other's length (as ComfyUI does), the pooled output is CLIP-G's."""
        chosen = -2 if layer is None else layer
        hidden_l, _ = common.encode_clip(stack["clip_l"], text_l, chosen, final_norm=False)
        hidden_g, pooled_g = common.encode_clip(
            stack["clip_g"], text_g, chosen, final_norm=False, pad_token=0
        )
        if hidden_l.shape[1] < hidden_g.shape[1]:
            empty, _ = common.encode_clip(stack["clip_l"], "", chosen, final_norm=False)
            repeats = (hidden_g.shape[1] - hidden_l.shape[1]) // empty.shape[1]
            hidden_l = np.concatenate([hidden_l, *([empty] * repeats)], axis=1)
        elif hidden_g.shape[1] < hidden_l.shape[1]:
            empty, _ = common.encode_clip(stack["clip_g"], "", chosen, final_norm=False, pad_token=0)
            repeats = (hidden_l.shape[1] - hidden_g.shape[1]) // empty.shape[1]
            hidden_g = np.concatenate([hidden_g, *([empty] * repeats)], axis=1)
        return Cond(cross_attn=np.concatenate([hidden_l, hidden_g], axis=-1), pooled_output=pooled_g)

    def predict(
        self, network: Any, x: torch.Tensor, timestep: torch.Tensor, cond: dict[str, Any]
    ) -> torch.Tensor:
        import torch

        # ComfyUI's defaults: the conditioning's width/height, else 768, no crop, target = size.
        width = float(cond.get("width", 768))
        height = float(cond.get("height", 768))
        ids = [height, width, float(cond.get("crop_h", 0)), float(cond.get("crop_w", 0))]
        ids += [float(cond.get("target_height", height)), float(cond.get("target_width", width))]
        time_ids = torch.tensor([ids], device=x.device, dtype=x.dtype).expand(x.shape[0], -1)
        pooled = cond["pooled_output"]
        if cond.get("unclip_conditioning"):  # revision: the image embeddings replace the pooled text
            from nodepacks.diffusion.clip_vision import unclip_pooled

            pooled = unclip_pooled(cond["unclip_conditioning"], int(pooled.shape[-1]), pooled)
        added = {"text_embeds": pooled, "time_ids": time_ids}
        prediction: torch.Tensor = network(
            x, timestep, encoder_hidden_states=cond["cross_attn"], added_cond_kwargs=added
        ).sample
        return prediction
