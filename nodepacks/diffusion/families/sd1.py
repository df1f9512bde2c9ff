"""Stable Diffusion 1.x: a UNet on 4-channel latents, CLIP-L text, the scaled-linear eps schedule."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from nodepacks.diffusion.families import _common as common
from nodepacks.diffusion.families.registry import Family
from nodepacks.diffusion.handles import Cond, LatentFormat, ModelSampling, TextEncoder, WeightsSource
from nodepacks.diffusion.weights import DIFFUSION_MODEL_PREFIX, place, shipped_config, strip_prefix

if TYPE_CHECKING:  # pragma: no cover
    import torch

# Latent -> RGB projection factors for SD1.x latents (a least-squares fit published with many UIs).
SD1_RGB = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)


class SD1Family(Family):
    """SD1.x (eps prediction)."""

    name = "sd1"
    display_name = "Stable Diffusion 1.x"
    latent_format = LatentFormat(channels=4, scale_factor=0.18215, rgb_factors=SD1_RGB)
    clip_roles: tuple[str, ...] = ("clip_l",)
    config_dir = "sd1"
    pipelines: tuple[str, ...] = ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline")
    checkpoint_clip_prefixes = {"clip_l": "cond_stage_model.transformer."}
    diffusers_clip_folders = {"clip_l": "text_encoder"}

    def default_sampling(self) -> ModelSampling:
        return ModelSampling.discrete("eps", beta_start=0.00085, beta_end=0.012)

    def detect_keys(self, keys: Collection[str]) -> bool:
        bare = strip_prefix(set(keys), DIFFUSION_MODEL_PREFIX)
        return (
            "input_blocks.0.0.weight" in bare
            and "label_emb.0.0.weight" not in bare
            and "cond_stage_model.model.token_embedding.weight" not in keys  # SD2.x's OpenCLIP text encoder
        )

    def detect_diffusers(self, model_index: dict[str, Any]) -> bool:
        return model_index.get("_class_name") in self.pipelines

    def heads(self, width: int) -> int:
        return 8

    def load_diffusion_model(self, source: WeightsSource, device: str, dtype: torch.dtype) -> Any:
        from diffusers import UNet2DConditionModel

        if source.layout == "diffusers":
            return common.load_diffusers_component(UNet2DConditionModel, source.path, "unet")
        return common.load_ldm_unet(source, shipped_config(self.config_dir, "unet.json"), self.heads)

    def load_vae(self, source: WeightsSource, device: str, dtype: torch.dtype) -> Any:
        return common.load_vae(source, shipped_config(self.config_dir, "vae.json"))

    def load_text_encoders(self, clip: TextEncoder, device: str, dtype: torch.dtype) -> Any:
        bases = {role: shipped_config(self.config_dir, f"{role}.json") for role in self.clip_roles}
        models = common.load_clip_models(
            clip,
            self.clip_roles,
            self.optional_roles,
            self.checkpoint_clip_prefixes,
            self.diffusers_clip_folders,
            bases,
        )
        return {role: place(model, device, dtype) for role, model in models.items()}

    def encode_text(self, stack: Any, text: str, layer: int | None) -> Cond:
        hidden, pooled = common.encode_clip(
            stack["clip_l"], text, -1 if layer is None else layer, final_norm=True
        )
        return Cond(cross_attn=hidden, pooled_output=pooled)

    def predict(
        self, network: Any, x: torch.Tensor, timestep: torch.Tensor, cond: dict[str, Any]
    ) -> torch.Tensor:
        prediction: torch.Tensor = network(x, timestep, encoder_hidden_states=cond["cross_attn"]).sample
        return prediction
