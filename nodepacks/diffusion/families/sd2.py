"""Stable Diffusion 2.x: SD1's UNet shape with 64-channel attention heads, linear transformer projections and a
1024-wide cross attention over OpenCLIP ViT-H text (penultimate layer, final layer norm applied, padded with 0).

Recognised by its text encoder in a full checkpoint (``cond_stage_model.model.*``, OpenCLIP's layout, where SD1
has ``cond_stage_model.transformer.*``), or, for a bare UNet file, by its 1024-wide cross attention with linear
``proj_in`` layers. Checkpoints are eps or v prediction (512-base and 512-inpainting: eps; 768-v: v), and the
file does not say which in a field every checkpoint has; :meth:`SD2Family.sampling_for` decides, in this order:

1. the file's own word: safetensors metadata ``modelspec.prediction_type`` / ``prediction_type`` (``v``,
   ``v_prediction``, ``epsilon``, ``eps``) or kohya's ``ss_v_parameterization``; for a diffusers folder
   ``scheduler/scheduler_config.json``'s ``prediction_type``;
2. a UNet with extra input channels (inpainting, depth) is eps: Stability trained those from 512-base;
3. otherwise the weights: the 768-v fine-tune spread the first layer-norm bias of the last output block's
   transformer (``output_blocks.11.1.transformer_blocks.0.norm1.bias`` in the full model) far wider than eps
   training leaves it; a standard deviation above 0.09 means v (the rule ComfyUI uses for the same question).

``ModelSamplingDiscrete`` (in ``nodes_latent``) overrides the result in a workflow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodepacks.diffusion.families import _common as common
from nodepacks.diffusion.families.sd1 import SD1_RGB, SD1Family
from nodepacks.diffusion.handles import Cond, LatentFormat, ModelSampling, Prediction, WeightsSource
from nodepacks.diffusion.weights import DIFFUSION_MODEL_PREFIX, read_metadata, strip_prefix

if TYPE_CHECKING:  # pragma: no cover
    import torch

OPEN_CLIP_PREFIX = "cond_stage_model.model."
V_PREDICTION_STD = 0.09
_METADATA_KEYS = ("modelspec.prediction_type", "prediction_type")
_PREDICTIONS: dict[str, Prediction] = {
    "v": "v",
    "v_prediction": "v",
    "v-prediction": "v",
    "eps": "eps",
    "epsilon": "eps",
}


def _bare_unet_context_width(path: Path, keys: Collection[str]) -> tuple[int | None, bool]:
    """(cross-attention context width, linear ``proj_in``) of a UNet file, read from tensor shapes."""
    from safetensors import safe_open

    to_k = next((k for k in sorted(keys) if k.endswith("attn2.to_k.weight")), None)
    proj_in = next((k for k in sorted(keys) if k.endswith(".proj_in.weight")), None)
    if to_k is None or proj_in is None:
        return None, False
    with safe_open(str(path), framework="pt") as handle:
        width = int(handle.get_slice(to_k).get_shape()[1])
        linear = len(handle.get_slice(proj_in).get_shape()) == 2
    return width, linear


def prediction_from_metadata(metadata: dict[str, str]) -> Prediction | None:
    """eps or v when a safetensors file's metadata says which, else None."""
    for key in _METADATA_KEYS:
        value = str(metadata.get(key, "")).strip().lower()
        if value in _PREDICTIONS:
            return _PREDICTIONS[value]
    if str(metadata.get("ss_v_parameterization", "")).strip().lower() == "true":
        return "v"
    return None


def prediction_from_weights(path: str | Path, layout: str) -> Prediction:
    """eps or v from the UNet's weights (rules 2 and 3 of the module docstring)."""
    import torch
    from safetensors import safe_open

    prefix = DIFFUSION_MODEL_PREFIX if layout == "checkpoint" else ""
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())  # noqa: SIM118 (safe_open is not iterable)
        if prefix == "" and f"{DIFFUSION_MODEL_PREFIX}input_blocks.0.0.weight" in keys:
            prefix = DIFFUSION_MODEL_PREFIX
        conv_in = f"{prefix}input_blocks.0.0.weight"
        if conv_in in keys and int(handle.get_slice(conv_in).get_shape()[1]) != 4:
            return "eps"
        pattern = re.compile(
            re.escape(prefix) + r"output_blocks\.(\d+)\.1\.transformer_blocks\.0\.norm1\.bias$"
        )
        found = sorted(((int(m.group(1)), k) for k in keys if (m := pattern.match(k))), reverse=True)
        if not found:
            return "eps"
        bias = handle.get_tensor(found[0][1]).float()
    return "v" if float(torch.std(bias, unbiased=False)) > V_PREDICTION_STD else "eps"


class SD2Family(SD1Family):
    """SD2.x (512-base, 768-v, 512-inpainting...): eps or v prediction, see the module docstring."""

    name = "sd2"
    display_name = "Stable Diffusion 2.x"
    latent_format = LatentFormat(channels=4, scale_factor=0.18215, rgb_factors=SD1_RGB)
    clip_roles: tuple[str, ...] = ("clip_h",)
    config_dir = "sd2"
    pipelines: tuple[str, ...] = (
        "StableDiffusionPipeline",
        "StableDiffusionImg2ImgPipeline",
        "StableDiffusionInpaintPipeline",
    )
    checkpoint_clip_prefixes = {"clip_h": OPEN_CLIP_PREFIX}
    diffusers_clip_folders = {"clip_h": "text_encoder"}

    def default_sampling(self) -> ModelSampling:
        return ModelSampling.discrete("eps", beta_start=0.00085, beta_end=0.012)

    def sampling_for(self, source: WeightsSource) -> ModelSampling:
        prediction: Prediction | None
        if source.layout == "diffusers":
            scheduler = Path(source.path) / "scheduler" / "scheduler_config.json"
            try:
                value = json.loads(scheduler.read_text()).get("prediction_type", "epsilon")
            except (OSError, ValueError):
                value = "epsilon"
            prediction = _PREDICTIONS.get(str(value).lower(), "eps")
        else:
            prediction = prediction_from_metadata(read_metadata(source.path))
            if prediction is None:
                prediction = prediction_from_weights(source.path, source.layout)
        return ModelSampling.discrete(prediction, beta_start=0.00085, beta_end=0.012)

    # -- detection ----------------------------------------------------------------------------------------------

    def detect_keys(self, keys: Collection[str]) -> bool:
        bare = strip_prefix(set(keys), DIFFUSION_MODEL_PREFIX)
        return (
            "input_blocks.0.0.weight" in bare
            and "label_emb.0.0.weight" not in bare
            and (
                f"{OPEN_CLIP_PREFIX}token_embedding.weight" in keys
                or f"{OPEN_CLIP_PREFIX}transformer.resblocks.0.attn.in_proj_weight" in keys
            )
        )

    def detect_file(self, keys: Collection[str], path: Path | None) -> bool:
        if self.detect_keys(keys):
            return True
        if path is None or any(k.startswith("cond_stage_model.") for k in keys):
            return False  # a full checkpoint with another text encoder (SD1's CLIP-L)
        bare = strip_prefix(set(keys), DIFFUSION_MODEL_PREFIX)
        if "input_blocks.0.0.weight" not in bare or "label_emb.0.0.weight" in bare:
            return False
        width, linear = _bare_unet_context_width(path, keys)
        return width == 1024 and linear

    def detect_diffusers_folder(self, folder: Path, model_index: dict[str, Any]) -> bool:
        if model_index.get("_class_name") not in self.pipelines:
            return False
        try:
            config = json.loads((folder / "unet" / "config.json").read_text())
        except (OSError, ValueError):
            return False
        return int(config.get("cross_attention_dim") or 0) == 1024

    def detect_diffusers(self, model_index: dict[str, Any]) -> bool:
        return False  # needs the folder: the pipeline class is SD1's

    def heads(self, width: int) -> int:
        return max(1, width // 64)

    # -- text ---------------------------------------------------------------------------------------------------

    def load_text_encoders(self, clip: Any, device: str, dtype: torch.dtype) -> Any:
        stack = super().load_text_encoders(clip, device, dtype)
        # diffusers' SD2 folders store the text encoder without its last layer (23 of 24): their last layer is
        # the checkpoint's penultimate one.
        stack["dropped_last_layer"] = any(source.layout == "diffusers" for source in clip.sources)
        return stack

    def encode_text(self, stack: Any, text: str, layer: int | None) -> Cond:
        chosen = -2 if layer is None else layer
        if stack.get("dropped_last_layer"):
            chosen = min(-1, chosen + 1)
        hidden, pooled = common.encode_clip(stack["clip_h"], text, chosen, final_norm=True, pad_token=0)
        return Cond(cross_attn=hidden, pooled_output=pooled)
