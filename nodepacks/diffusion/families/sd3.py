"""Stable Diffusion 3 / 3.5: an MMDiT on 16-channel latents, rectified flow with shift 3.0, CLIP-L + CLIP-G text,
and T5-XXL text when its weights and a T5 tokenizer are at hand.

As in ComfyUI, CLIP-L's and CLIP-G's hidden states are joined on the feature axis and zero-padded to T5's width,
and T5's sequence (at least 77 tokens) follows on the token axis; the pooled output is CLIP-L's and CLIP-G's side
by side. No T5 tokenizer ships with the pack (see ``_t5``): where the weights are there but no tokenizer is found,
SD3 runs on CLIP-L/G alone (ComfyUI's behaviour without T5) and a log line says so. The features are zero-padded
to the transformer's joint attention width at the network call.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nodepacks.diffusion.families import _common as common
from nodepacks.diffusion.families._common import _count
from nodepacks.diffusion.families._t5 import T5Tokens, encode_t5, find_t5_tokenizer, load_t5_state, t5_state
from nodepacks.diffusion.families.sd1 import SD1Family
from nodepacks.diffusion.handles import (
    Cond,
    DiffusionError,
    LatentFormat,
    ModelSampling,
    TextEncoder,
    WeightsSource,
)
from nodepacks.diffusion.weights import (
    DIFFUSION_MODEL_PREFIX,
    load_tensors,
    place,
    read_keys,
    shipped_config,
    strip_prefix,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

SD3_DETECT_KEY = "joint_blocks.0.context_block.adaLN_modulation.1.bias"
T5_CHECKPOINT_PREFIX = "text_encoders.t5xxl.transformer."
T5_MIN_TOKENS = 77  # ComfyUI pads SD3's T5 prompt to 77 tokens (id 0) after its end token

_log = logging.getLogger(__name__)


def transformer_config_from_original(state: dict[str, torch.Tensor], base: dict[str, Any]) -> dict[str, Any]:
    """A diffusers SD3Transformer2DModel config for original-layout MMDiT weights (prefix removed)."""
    config = {k: v for k, v in base.items() if not k.startswith("_")}
    hidden, in_channels, patch, _ = state["x_embedder.proj.weight"].shape
    layers = _count(state, r"joint_blocks\.(\d+)\.")
    # MMDiT ties width to depth: 64 channels per head, one head per block.
    config.update(
        patch_size=int(patch),
        in_channels=int(in_channels),
        num_layers=layers,
        num_attention_heads=layers,
        attention_head_dim=int(hidden) // layers,
        joint_attention_dim=int(state["context_embedder.weight"].shape[1]),
        caption_projection_dim=int(hidden),
        pooled_projection_dim=int(state["y_embedder.mlp.0.weight"].shape[1]),
        out_channels=int(state["final_layer.linear.weight"].shape[0]) // int(patch * patch),
        pos_embed_max_size=int(math.isqrt(int(state["pos_embed"].shape[1]))),
        qk_norm="rms_norm" if "joint_blocks.0.x_block.attn.ln_q.weight" in state else None,
        dual_attention_layers=[
            i for i in range(layers) if f"joint_blocks.{i}.x_block.attn2.qkv.weight" in state
        ],
    )
    return config


class SD3Family(SD1Family):
    """SD3 medium and SD3.5 (flow matching)."""

    name = "sd3"
    display_name = "Stable Diffusion 3 / 3.5"
    latent_format = LatentFormat(channels=16, scale_factor=1.5305, shift_factor=0.0609)
    clip_roles = ("clip_l", "clip_g")
    config_dir = "sd3"
    pipelines = ("StableDiffusion3Pipeline", "StableDiffusion3Img2ImgPipeline")
    checkpoint_clip_prefixes = {
        "clip_l": "text_encoders.clip_l.transformer.",
        "clip_g": "text_encoders.clip_g.transformer.",
    }
    diffusers_clip_folders = {"clip_l": "text_encoder", "clip_g": "text_encoder_2"}

    def default_sampling(self) -> ModelSampling:
        return ModelSampling.flow(shift=3.0, multiplier=1000.0)

    def detect_keys(self, keys: Collection[str]) -> bool:
        return SD3_DETECT_KEY in strip_prefix(set(keys), DIFFUSION_MODEL_PREFIX)

    def text_sources(self, models: Any, sources: tuple[WeightsSource, ...]) -> tuple[WeightsSource, ...]:
        """``sources`` plus the T5 tokenizer where T5 weights are among them (a checkpoint's
        ``text_encoders.t5xxl.*`` or a ``t5`` file); without a tokenizer the T5 weights are left out (a ``t5``
        source is dropped) and SD3 runs on CLIP-L/G alone, which a log line says."""
        if any(s.layout == "diffusers" or s.role == "t5_tokenizer" for s in sources):
            return sources
        t5 = next((s for s in sources if s.role == "t5"), None)
        if t5 is None:
            t5 = next((s for s in sources if s.layout == "checkpoint" and _holds_t5(s)), None)
        if t5 is None:
            return sources
        try:
            tokenizer = find_t5_tokenizer(models, Path(t5.path))
        except DiffusionError as exc:
            _log.info(
                "sd3: T5 in %s is not used (%s); SD3 runs on CLIP-L and CLIP-G alone", Path(t5.path).name, exc
            )
            return tuple(s for s in sources if s.role != "t5")
        return (*sources, tokenizer)

    def load_diffusion_model(self, source: WeightsSource, device: str, dtype: torch.dtype) -> Any:
        from diffusers import SD3Transformer2DModel
        from diffusers.loaders.single_file_utils import convert_sd3_transformer_checkpoint_to_diffusers

        if source.layout == "diffusers":
            return common.load_diffusers_component(SD3Transformer2DModel, source.path, "transformer")
        prefixes = (
            (DIFFUSION_MODEL_PREFIX,) if source.layout == "checkpoint" else (DIFFUSION_MODEL_PREFIX, "")
        )
        state = load_tensors(source.path, prefixes)
        name = Path(source.path).name
        if SD3_DETECT_KEY not in state:
            raise DiffusionError(f"{name}: holds no SD3 transformer in the original layout")
        config = transformer_config_from_original(state, shipped_config(self.config_dir, "transformer.json"))
        converted = convert_sd3_transformer_checkpoint_to_diffusers(dict(state))
        return common.build(SD3Transformer2DModel, config, converted, name, "SD3 transformer")

    def load_text_encoders(self, clip: TextEncoder, device: str, dtype: torch.dtype) -> Any:
        stack = super().load_text_encoders(clip, device, dtype)
        tokenizer = next((s for s in clip.sources if s.role == "t5_tokenizer"), None)
        if tokenizer is None:
            return stack
        source = next((s for s in clip.sources if s.role == "t5"), None)
        source = source or next((s for s in clip.sources if s.layout == "checkpoint"), None)
        if source is None:
            raise DiffusionError("the sd3 text encoder has a T5 tokenizer but no T5 weights")
        t5 = load_t5_state(
            t5_state(source, T5_CHECKPOINT_PREFIX),
            shipped_config("flux", "t5xxl.json"),  # the same T5-XXL encoder as Flux's
            Path(source.path).name,
        )
        return {
            **stack,
            "t5": place(t5, device, dtype),
            "t5_tokens": T5Tokens(Path(tokenizer.path), T5_MIN_TOKENS),
        }

    def encode_text(self, stack: Any, text: str, layer: int | None) -> Cond:
        chosen = -2 if layer is None else layer
        hidden_l, pooled_l = common.encode_clip(stack["clip_l"], text, chosen, final_norm=False)
        hidden_g, pooled_g = common.encode_clip(stack["clip_g"], text, chosen, final_norm=False, pad_token=0)
        clip_hidden = np.concatenate([hidden_l, hidden_g], axis=-1)
        pooled = np.concatenate([pooled_l, pooled_g], axis=-1)
        if "t5" not in stack:
            return Cond(cross_attn=clip_hidden, pooled_output=pooled)
        sequence = encode_t5(stack["t5"], stack["t5_tokens"], text).float().cpu().numpy()
        # CLIP features zero-padded to T5's width (4096 for T5-XXL), then T5's tokens after CLIP's.
        width = max(clip_hidden.shape[-1], sequence.shape[-1])
        parts = [np.pad(p, ((0, 0), (0, 0), (0, width - p.shape[-1]))) for p in (clip_hidden, sequence)]
        return Cond(cross_attn=np.concatenate(parts, axis=1), pooled_output=pooled)

    def predict(
        self, network: Any, x: torch.Tensor, timestep: torch.Tensor, cond: dict[str, Any]
    ) -> torch.Tensor:
        import torch

        context = cond["cross_attn"]
        width = int(network.config.joint_attention_dim)
        if context.shape[-1] < width:
            context = torch.nn.functional.pad(context, (0, width - context.shape[-1]))
        prediction: torch.Tensor = network(
            hidden_states=x,
            encoder_hidden_states=context[..., :width],
            pooled_projections=cond["pooled_output"],
            timestep=timestep,
        ).sample
        return prediction


def _holds_t5(source: WeightsSource) -> bool:
    return any(key.startswith(T5_CHECKPOINT_PREFIX) for key in read_keys(source.path))
