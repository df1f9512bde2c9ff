"""CLIP vision encoders (ComfyUI's ``CLIP_VISION`` / ``CLIP_VISION_OUTPUT``), Flux Redux style models
(``STYLE_MODEL``) and the unCLIP image embedding SDXL revision feeds to the UNet.

- A CLIP vision file (``models/clip_vision``) is a transformers-layout vision tower (``vision_model.*`` +
  ``visual_projection.weight``: ComfyUI's clip_vision_g / clip_vision_h; SigLIP ``vision_model.*`` without a class
  embedding: sigclip_vision_patch14_384) or an OpenCLIP one (``visual.*``). It loads as transformers'
  ``CLIPVisionModelWithProjection`` or ``SiglipVisionModel``, the architecture read from the weights' shapes over
  the configs shipped in ``configs/clip_vision/``.
- :func:`encode` preprocesses as ComfyUI does (shortest side resized to the model's size with antialiased bicubic
  and center-cropped, or stretched with crop "none"; quantised to 8 bits; CLIP or SigLIP mean/std) and returns a
  plain dict of float32 arrays (``image_embeds``, ``last_hidden_state``, ``penultimate_hidden_states``), so
  CLIP_VISION_OUTPUT is cacheable.
- A Redux style model (``models/style_models``: ``redux_up``/``redux_down`` linear layers) turns SigLIP's last
  hidden state into text-width tokens: ``redux_down(silu(redux_up(x)))`` (:func:`style_tokens`).
- unCLIP (SDXL revision): a conditioning entry's ``unclip_conditioning`` list replaces the pooled text embedding
  with the noise-augmented image embeddings (:func:`unclip_pooled`).

Nothing here imports torch at module level.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion.building import BUILD_LOCK, pick_device
from nodepacks.diffusion.handles import Cond, DiffusionError
from nodepacks.diffusion.weights import load_tensors, place, read_keys, shipped_config

if TYPE_CHECKING:  # pragma: no cover
    import torch

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SIGLIP_MEAN = (0.5, 0.5, 0.5)
SIGLIP_STD = (0.5, 0.5, 0.5)
OPEN_CLIP_PREFIX = "visual."
# The families whose network reads unCLIP image embeddings (SDXL revision: the pooled / adm input).
UNCLIP_FAMILIES = ("sdxl",)
# ComfyUI's SDXL noise augmentor: 1000 levels of the squared-cosine schedule over the embedding.
UNCLIP_NOISE_LEVELS = 1000
UNCLIP_NOISE_SEED = 0


@dataclass(frozen=True)
class ClipVision:
    """``CLIP_VISION``: a vision tower file of the model library, what it is and how images are prepared for it."""

    kind: Literal["clip", "siglip"]
    layout: Literal["hf", "open_clip"]
    config: str  # the shipped config the architecture starts from
    path: str
    sha256: str
    image_size: int

    @property
    def key(self) -> str:
        return f"clip_vision:{self.kind}:{self.layout}:{self.sha256}"

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def mean(self) -> tuple[float, float, float]:
        return SIGLIP_MEAN if self.kind == "siglip" else CLIP_MEAN

    @property
    def std(self) -> tuple[float, float, float]:
        return SIGLIP_STD if self.kind == "siglip" else CLIP_STD


@dataclass(frozen=True)
class StyleModel:
    """``STYLE_MODEL``: a Flux Redux image encoder (vision features ``in_features`` -> text-width ``out_features``)."""

    path: str
    sha256: str
    in_features: int
    out_features: int

    @property
    def key(self) -> str:
        return f"style_model:redux:{self.sha256}"

    @property
    def name(self) -> str:
        return Path(self.path).name


ClipVisionType: Any = sdk.define_type("CLIP_VISION", ClipVision)
ClipVisionOutput: Any = sdk.define_type("CLIP_VISION_OUTPUT", dict)
StyleModelType: Any = sdk.define_type("STYLE_MODEL", StyleModel)


# -- detection (headers only) ----------------------------------------------------------------------------------


def _shapes(path: Path, keys: Sequence[str]) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return {key: tuple(handle.get_slice(key).get_shape()) for key in keys}


def open_clip_vision(path: Path, sha256: str) -> ClipVision:
    """The handle of a CLIP vision file; ``DiffusionError`` naming it when it holds none this pack loads."""
    keys = set(read_keys(path))
    if f"{OPEN_CLIP_PREFIX}transformer.resblocks.0.attn.in_proj_weight" in keys:
        shapes = _shapes(path, [f"{OPEN_CLIP_PREFIX}positional_embedding", f"{OPEN_CLIP_PREFIX}conv1.weight"])
        positions = shapes[f"{OPEN_CLIP_PREFIX}positional_embedding"][0]
        width, _, patch, _ = shapes[f"{OPEN_CLIP_PREFIX}conv1.weight"]
        return ClipVision(
            "clip", "open_clip", _clip_config(width), str(path), sha256, _side(positions - 1, patch, path)
        )
    patch_key = "vision_model.embeddings.patch_embedding.weight"
    if patch_key in keys:
        shapes = _shapes(path, [patch_key, "vision_model.embeddings.position_embedding.weight"])
        positions = shapes["vision_model.embeddings.position_embedding.weight"][0]
        width, patch = shapes[patch_key][0], shapes[patch_key][-1]
        if len(shapes[patch_key]) != 4:
            raise DiffusionError(f"{path.name}: a NaFlex SigLIP 2 vision model, which is not supported")
        if "vision_model.embeddings.class_embedding" in keys:
            side = _side(positions - 1, patch, path)
            return ClipVision("clip", "hf", _clip_config(width), str(path), sha256, side)
        return ClipVision("siglip", "hf", "siglip_384.json", str(path), sha256, _side(positions, patch, path))
    raise DiffusionError(
        f"{path.name}: not a CLIP vision model this pack loads (CLIP / SigLIP vision towers in transformers' "
        "vision_model.* layout or OpenCLIP's visual.* layout)"
    )


def _side(patches: int, patch: int, path: Path) -> int:
    grid = math.isqrt(patches)
    if grid * grid != patches:
        raise DiffusionError(f"{path.name}: {patches} position embeddings are not a square grid of patches")
    return grid * patch


def _clip_config(width: int) -> str:
    return {1280: "clip_vision_h.json", 1024: "clip_vision_vitl.json"}.get(width, "clip_vision_g.json")


def open_style_model(path: Path, sha256: str) -> StyleModel:
    """The handle of a style model file (Flux Redux); others are refused naming the file."""
    keys = set(read_keys(path))
    if {"redux_up.weight", "redux_down.weight"} <= keys:
        shapes = _shapes(path, ["redux_up.weight", "redux_down.weight"])
        up, down = shapes["redux_up.weight"], shapes["redux_down.weight"]
        if len(up) != 2 or len(down) != 2 or down[1] != up[0]:
            raise DiffusionError(f"{path.name}: the Redux layers' shapes {up} and {down} do not fit together")
        return StyleModel(str(path), sha256, in_features=up[1], out_features=down[0])
    if "style_embedding" in keys:
        raise DiffusionError(
            f"{path.name}: a T2I style adapter (SD1.x), which is not supported; Flux Redux style models are"
        )
    raise DiffusionError(
        f"{path.name}: not a style model this pack loads (Flux Redux: redux_up / redux_down)"
    )


# -- loading (torch) -------------------------------------------------------------------------------------------


def open_clip_to_hf(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An OpenCLIP ``visual.*`` state dict in transformers' CLIPVisionModelWithProjection names."""
    out: dict[str, torch.Tensor] = {}
    top = {
        "class_embedding": "vision_model.embeddings.class_embedding",
        "conv1.weight": "vision_model.embeddings.patch_embedding.weight",
        "positional_embedding": "vision_model.embeddings.position_embedding.weight",
        "ln_pre.weight": "vision_model.pre_layrnorm.weight",
        "ln_pre.bias": "vision_model.pre_layrnorm.bias",
        "ln_post.weight": "vision_model.post_layernorm.weight",
        "ln_post.bias": "vision_model.post_layernorm.bias",
    }
    block = {
        "ln_1": "layer_norm1",
        "ln_2": "layer_norm2",
        "attn.out_proj": "self_attn.out_proj",
        "mlp.c_fc": "mlp.fc1",
        "mlp.c_proj": "mlp.fc2",
    }
    pattern = re.compile(r"transformer\.resblocks\.(\d+)\.(attn\.in_proj|.+)[._](weight|bias)$")
    for name, tensor in state.items():
        if name in top:
            out[top[name]] = tensor
        elif name == "proj":  # (width, projection) applied as x @ proj
            out["visual_projection.weight"] = tensor.t().contiguous()
        elif match := pattern.match(name):
            index, module, tail = match.groups()
            prefix = f"vision_model.encoder.layers.{index}."
            if module == "attn.in_proj":
                for part, chunk in zip(("q", "k", "v"), tensor.chunk(3, dim=0), strict=True):
                    out[f"{prefix}self_attn.{part}_proj.{tail}"] = chunk.contiguous()
            elif module in block:
                out[f"{prefix}{block[module]}.{tail}"] = tensor
    return out


def _count_layers(state: Mapping[str, Any]) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(r"vision_model\.encoder\.layers\.(\d+)\.", k))}
    return max(found) + 1 if found else 0


def vision_config(vision: ClipVision, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The transformers config of the vision tower: shapes from the weights over the shipped config."""
    config = {k: v for k, v in shipped_config("clip_vision", vision.config).items() if not k.startswith("_")}
    patch = state["vision_model.embeddings.patch_embedding.weight"]
    width = int(patch.shape[0])
    heads = int(config["num_attention_heads"])
    config.update(
        hidden_size=width,
        intermediate_size=int(state["vision_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
        num_hidden_layers=_count_layers(state),
        num_attention_heads=heads if width % heads == 0 else math.gcd(width, heads),
        patch_size=int(patch.shape[-1]),
        image_size=vision.image_size,
    )
    if vision.kind == "clip":
        if "visual_projection.weight" not in state:
            raise DiffusionError(
                f"{vision.name}: the CLIP vision model has no projection (visual_projection)"
            )
        config["projection_dim"] = int(state["visual_projection.weight"].shape[0])
    else:
        config["vision_use_head"] = "vision_model.head.probe" in state
    return config


def load_network(vision: ClipVision) -> Any:
    """The vision tower of ``vision`` in float32 on the CPU (the caller moves it)."""
    from transformers import (
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    from nodepacks.diffusion.families import _common as common

    if vision.layout == "open_clip":
        state = open_clip_to_hf(load_tensors(vision.path, (OPEN_CLIP_PREFIX,)))
    else:
        state = load_tensors(vision.path)
    if vision.kind == "siglip":
        config: Any = SiglipVisionConfig(**vision_config(vision, state))
        if not any(name.startswith("vision_model.") for name in _parameter_names(SiglipVisionModel, config)):
            # transformers 5 names the tower's weights without the file's ``vision_model.`` level
            state = {k.removeprefix("vision_model."): v for k, v in state.items()}
        return common.build(SiglipVisionModel, config, state, vision.name, "SigLIP vision")
    config = CLIPVisionConfig(**vision_config(vision, state))
    return common.build(CLIPVisionModelWithProjection, config, state, vision.name, "CLIP vision")


def _parameter_names(cls: Any, config: Any) -> set[str]:
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return {name for name, _ in cls(config).named_parameters()}


def warm_network(vision: ClipVision, models: sdk.ModelProvider) -> Any:
    """The loaded vision tower on the run's device, once per content hash through ``models.cached``."""
    device, dtype = pick_device()

    def load() -> Any:
        with BUILD_LOCK:
            network = load_network(vision)
            return place(network, device, dtype)

    return models.cached(vision.key, load)


# -- encoding --------------------------------------------------------------------------------------------------


def preprocess(
    image: np.ndarray, size: int, mean: Sequence[float], std: Sequence[float], *, crop: bool
) -> torch.Tensor:
    """ComfyUI's CLIP preprocessing of an IMAGE (batch, h, w, channels) in [0, 1] -> (batch, 3, size, size):
    the shortest side resized to ``size`` (antialiased bicubic) and the centre cut out, or (``crop`` off) the
    whole image stretched to a square; then quantised to 8 bits and normalised."""
    import torch

    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 3:
        pixels = pixels[None]
    if pixels.ndim != 4 or pixels.shape[-1] not in (1, 3, 4):
        raise DiffusionError(f"image: not an IMAGE (batch, height, width, channels): shape {pixels.shape}")
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    tensor = torch.from_numpy(np.ascontiguousarray(pixels[..., :3])).movedim(-1, 1)
    height, width = tensor.shape[-2:]
    if (height, width) != (size, size):
        if crop:
            scale = size / min(height, width)
            target = (round(scale * height), round(scale * width))
        else:
            target = (size, size)
        tensor = torch.nn.functional.interpolate(tensor, size=target, mode="bicubic", antialias=True)
        top = (tensor.shape[-2] - size) // 2
        left = (tensor.shape[-1] - size) // 2
        tensor = tensor[..., top : top + size, left : left + size]
    tensor = torch.clip(tensor * 255.0, 0, 255).round() / 255.0
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (tensor - mean_t) / std_t


def encode(vision: ClipVision, models: sdk.ModelProvider, image: np.ndarray, *, crop: bool) -> dict[str, Any]:
    """CLIP_VISION_OUTPUT of ``image``: ``image_embeds`` (batch, dim) for CLIP (SigLIP: its normalised last hidden
    state, as ComfyUI has it), ``last_hidden_state`` and ``penultimate_hidden_states`` (batch, tokens, width),
    all float32 numpy."""
    import torch

    network = warm_network(vision, models)
    pixels = preprocess(image, vision.image_size, vision.mean, vision.std, crop=crop)
    parameter = next(network.parameters())
    with torch.inference_mode():
        out = network(pixel_values=pixels.to(parameter.device, parameter.dtype), output_hidden_states=True)
    last = out.last_hidden_state.float()
    embeds = last if vision.kind == "siglip" else out.image_embeds.float()
    return {
        "image_embeds": embeds.cpu().numpy(),
        "last_hidden_state": last.cpu().numpy(),
        "penultimate_hidden_states": out.hidden_states[-2].float().cpu().numpy(),
    }


def check_output(output: Any, input_name: str = "clip_vision_output") -> Mapping[str, Any]:
    if not isinstance(output, Mapping) or "image_embeds" not in output or "last_hidden_state" not in output:
        raise DiffusionError(f"{input_name}: not a CLIP_VISION_OUTPUT (connect a CLIPVisionEncode node)")
    return output


# -- Flux Redux --------------------------------------------------------------------------------------------------


def _warm_style_model(style: StyleModel, models: sdk.ModelProvider) -> Any:
    device, dtype = pick_device()

    def load() -> Any:
        import torch

        state = load_tensors(style.path)
        hidden = int(state["redux_up.weight"].shape[0]) if "redux_up.weight" in state else 0
        with BUILD_LOCK:
            up = torch.nn.Linear(style.in_features, hidden)
            down = torch.nn.Linear(hidden, style.out_features)
            network = torch.nn.Sequential(up, torch.nn.SiLU(), down)
        try:
            network.load_state_dict(
                {
                    "0.weight": state["redux_up.weight"],
                    "0.bias": state["redux_up.bias"],
                    "2.weight": state["redux_down.weight"],
                    "2.bias": state["redux_down.bias"],
                }
            )
        except (KeyError, RuntimeError) as exc:
            raise DiffusionError(f"{style.name}: the Redux weights are incomplete ({exc})") from None
        return place(network, device, dtype)

    return models.cached(style.key, load)


def style_tokens(style: StyleModel, models: sdk.ModelProvider, output: Mapping[str, Any]) -> np.ndarray:
    """The Redux tokens of a CLIP_VISION_OUTPUT: (1, images x tokens, text width) float32 (every image's tokens
    one after the other, as ComfyUI flattens them)."""
    import torch

    hidden = np.asarray(output["last_hidden_state"], dtype=np.float32)
    if hidden.ndim != 3 or hidden.shape[-1] != style.in_features:
        raise DiffusionError(
            f"style model {style.name} takes {style.in_features}-wide vision features but the CLIP vision output's "
            f"last hidden state has shape {hidden.shape}: use the SigLIP vision model Redux was trained with "
            "(sigclip_vision_patch14_384)"
        )
    network = _warm_style_model(style, models)
    parameter = next(network.parameters())
    with torch.inference_mode():
        tokens = network(torch.from_numpy(hidden).to(parameter.device, parameter.dtype)).float()
    sequence: np.ndarray = tokens.reshape(1, -1, tokens.shape[-1]).cpu().numpy()
    return sequence


def apply_style(
    conds: Sequence[Mapping[str, Any]], tokens: np.ndarray, strength: float, strength_type: str
) -> list[dict[str, Any]]:
    """StyleModelApply: ``tokens`` (scaled by ``strength`` for "multiply") appended to every entry's text."""
    if strength_type == "attn_bias" and strength != 1.0:
        raise DiffusionError(
            "strength_type attn_bias: weighting the style tokens through an attention bias is not supported "
            "(the Flux transformer here takes no attention mask); use multiply"
        )
    if strength_type not in ("multiply", "attn_bias"):
        raise DiffusionError(f"strength_type: {strength_type!r} is not multiply or attn_bias")
    if strength_type == "multiply":
        tokens = tokens * np.float32(strength)
    out = []
    for cond in conds:
        text = np.asarray(cond["cross_attn"], dtype=np.float32)
        if text.shape[-1] != tokens.shape[-1]:
            raise DiffusionError(
                f"conditioning: the style model's tokens are {tokens.shape[-1]} wide but the text conditioning is "
                f"{text.shape[-1]} wide: Flux Redux works with FLUX.1 models' text encoders"
            )
        extra = np.broadcast_to(tokens, (text.shape[0], *tokens.shape[1:]))
        out.append({**cond, "cross_attn": np.concatenate([text, extra], axis=1).astype(np.float32)})
    return out


# -- unCLIP (SDXL revision) ------------------------------------------------------------------------------------


def add_unclip(
    conds: Sequence[Cond], output: Mapping[str, Any], strength: float, noise_augmentation: float
) -> list[Cond]:
    """unCLIPConditioning: every entry gets the image embeddings appended to its ``unclip_conditioning``."""
    embeds = np.asarray(output["image_embeds"], dtype=np.float32)
    if embeds.ndim != 2:
        raise DiffusionError(
            f"clip_vision_output: image embeddings of shape {embeds.shape}, not (images, width): unCLIP needs a "
            "CLIP vision model with a projection (clip_vision_g for SDXL)"
        )
    use = {
        "image_embeds": embeds,
        "strength": float(strength),
        "noise_augmentation": float(noise_augmentation),
    }
    return [
        {**cond, "unclip_conditioning": [*(cond.get("unclip_conditioning") or ()), use]} for cond in conds
    ]


def check_unclip(family: str, family_label: str, model_source: str, cond: Mapping[str, Any]) -> None:
    """unCLIP image embeddings reach only a family that reads them; never silently ignored."""
    if cond.get("unclip_conditioning") and family not in UNCLIP_FAMILIES:
        raise DiffusionError(
            f"conditioning: unCLIP image embeddings (unCLIPConditioning) are read by SDXL models (revision); this "
            f"{family_label} model ({model_source}) does not use them: remove the unCLIPConditioning node"
        )


@cache
def _alphas_cumprod() -> tuple[float, ...]:
    """The squared-cosine ("squaredcos_cap_v2") schedule's cumulative alphas over the noise levels."""

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    levels = UNCLIP_NOISE_LEVELS
    betas = [min(1 - alpha_bar((i + 1) / levels) / alpha_bar(i / levels), 0.999) for i in range(levels)]
    return tuple(float(v) for v in np.cumprod(1.0 - np.asarray(betas, dtype=np.float64)))


def _augment(x: torch.Tensor, level: int, generator: torch.Generator) -> torch.Tensor:
    import torch

    alpha = _alphas_cumprod()[level]
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float32)
    return x * math.sqrt(alpha) + noise * math.sqrt(1.0 - alpha)


def unclip_pooled(entries: Sequence[Mapping[str, Any]], width: int, like: torch.Tensor) -> torch.Tensor:
    """The pooled input an SDXL UNet sees for ``entries`` (ComfyUI's unclip_adm, cut to the pooled width): each
    image embedding noise-augmented at ``round(999 * noise_augmentation)`` and scaled by its strength; several are
    summed and augmented again at level 0. The noise comes from a fixed seed, so every step (and every run) sees
    the same embedding. Returned as ``like``'s batch, device and dtype."""
    import torch

    generator = torch.Generator().manual_seed(UNCLIP_NOISE_SEED)
    parts: list[torch.Tensor] = []
    for entry in entries:
        embeds = torch.as_tensor(np.asarray(entry["image_embeds"], dtype=np.float32))
        if embeds.shape[-1] != width:
            raise DiffusionError(
                f"unCLIP: the image embeddings are {embeds.shape[-1]} wide but this model's pooled input is {width} "
                "wide: SDXL revision uses clip_vision_g"
            )
        level = round((UNCLIP_NOISE_LEVELS - 1) * float(entry.get("noise_augmentation", 0.0)))
        for row in embeds.reshape(-1, width):
            parts.append(_augment(row[None], level, generator) * float(entry.get("strength", 1.0)))
    if not parts:
        raise DiffusionError("unCLIP: the conditioning's unclip_conditioning holds no image embeddings")
    pooled = parts[0] if len(parts) == 1 else _augment(torch.stack(parts).sum(0), 0, generator)
    return pooled.to(like.device, like.dtype).expand(like.shape[0], -1)
