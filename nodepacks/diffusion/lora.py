"""LoRA files: which family they are for, and merging them into a network's weights at a strength.

Two key layouts are read: kohya's (``lora_unet_*``, ``lora_te_*``/``lora_te1_*``/``lora_te2_*`` with
``lora_down``/``lora_up``/``alpha``; SGM-style UNet block names are mapped with diffusers' own utility) and the
diffusers/peft one (``unet.``/``transformer.``/``text_encoder.``/``text_encoder_2.`` + module + ``lora_A``/
``lora_B``). The low-rank product is merged into the weights (``W += strength * alpha / rank * up @ down``), so a
patched network runs at the speed of the plain one; the model manager keeps it as its own warm entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodepacks.diffusion.handles import DiffusionError, Patch
from nodepacks.diffusion.weights import load_tensors, read_keys, read_metadata

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nodepacks.diffusion.families import Family

_ARCHITECTURES = (
    ("stable-diffusion-xl", "sdxl"),
    ("sdxl", "sdxl"),
    ("stable-diffusion-v3", "sd3"),
    ("sd3", "sd3"),
    ("flux", "flux"),
    ("stable-diffusion-v2", "sd2"),
    ("sd_v2", "sd2"),
    ("stable-diffusion-v1", "sd1"),
    ("sd_v1", "sd1"),
)


def guess_family(path: str | Path) -> str | None:
    """The family a LoRA file was trained for, from its metadata or its key names; None when it cannot tell."""
    metadata = read_metadata(path)
    for field in ("modelspec.architecture", "ss_base_model_version"):
        value = metadata.get(field, "").lower()
        for needle, family in _ARCHITECTURES:
            if needle in value:
                return family
    keys = read_keys(path)
    if any(k.startswith(("lora_te2_", "text_encoder_2.")) for k in keys):
        return "sdxl"
    if any("joint_blocks" in k or re.search(r"transformer_blocks[._]\d+[._]attn[._]add_", k) for k in keys):
        return "sd3"
    if any("double_blocks" in k or "single_transformer_blocks" in k for k in keys):
        return "flux"
    return None


def check_family(path: str | Path, family: str) -> None:
    """``DiffusionError`` naming the file and both families when a LoRA is for another family."""
    found = guess_family(path)
    if found is not None and found != family:
        raise DiffusionError(f"lora_name: {Path(path).name} is a {found} LoRA, the model is {family}")


class _Pair:
    __slots__ = ("down", "up", "alpha")

    def __init__(self) -> None:
        self.down: torch.Tensor | None = None
        self.up: torch.Tensor | None = None
        self.alpha: float | None = None


def _pairs(state: dict[str, torch.Tensor]) -> dict[str, _Pair]:
    """LoRA module name (as written in the file, without the up/down suffix) -> its tensors."""
    pairs: dict[str, _Pair] = {}
    suffixes = {
        ".lora_down.weight": "down",
        ".lora_up.weight": "up",
        ".lora_A.weight": "down",
        ".lora_B.weight": "up",
        ".lora.down.weight": "down",
        ".lora.up.weight": "up",
        ".alpha": "alpha",
    }
    for key, value in state.items():
        for suffix, part in suffixes.items():
            if key.endswith(suffix):
                pair = pairs.setdefault(key[: -len(suffix)], _Pair())
                if part == "alpha":
                    pair.alpha = float(value.item())
                else:
                    setattr(pair, part, value)
                break
    return {name: pair for name, pair in pairs.items() if pair.down is not None and pair.up is not None}


def _lookup(module: Any, extra_prefixes: Iterable[str] = ("",)) -> dict[str, Any]:
    """Kohya-style (underscored) and dotted names -> the module's weight-bearing submodules."""
    table: dict[str, Any] = {}
    for name, sub in module.named_modules():
        if not hasattr(sub, "weight") or sub.weight is None:
            continue
        for prefix in extra_prefixes:
            full = prefix + name
            table[full] = sub
            table[full.replace(".", "_")] = sub
    return table


def _merge(target: Any, pair: _Pair, strength: float, name: str, source: str) -> None:
    import torch

    weight = target.weight
    assert pair.down is not None and pair.up is not None
    down = pair.down.to(weight.device, torch.float32)
    up = pair.up.to(weight.device, torch.float32)
    rank = down.shape[0]
    scale = strength * ((pair.alpha / rank) if pair.alpha is not None else 1.0)
    delta = (up.flatten(1) @ down.flatten(1)).reshape(-1)
    if delta.numel() != weight.numel():
        raise DiffusionError(f"{source}: LoRA layer {name} does not fit the model (shapes differ)")
    with torch.no_grad():
        weight.add_((delta.reshape(weight.shape) * scale).to(weight.dtype))


def _apply(pairs: dict[str, _Pair], lookup: dict[str, Any], strength: float, source: str, what: str) -> int:
    missing = [name for name in pairs if name not in lookup]
    if missing:
        raise DiffusionError(
            f"{source}: {len(missing)} of {len(pairs)} LoRA layers are not in the {what} "
            f"(e.g. {missing[0]}): the LoRA is for another model"
        )
    for name, pair in pairs.items():
        _merge(lookup[name], pair, strength, name, source)
    return len(pairs)


def _sgm_to_diffusers(state: dict[str, torch.Tensor], network: Any) -> dict[str, torch.Tensor]:
    if not any(re.search(r"lora_unet_(input_blocks|middle_block|output_blocks)_", k) for k in state):
        return state
    from diffusers.loaders.lora_conversion_utils import _maybe_map_sgm_blocks_to_diffusers

    return _maybe_map_sgm_blocks_to_diffusers(state, network.config)


def apply_to_diffusion_model(network: Any, family: Family, patch: Patch) -> None:
    """Merge the denoiser part of LoRA ``patch`` into ``network`` (in place)."""
    source = Path(patch.path).name
    check_family(patch.path, family.name)
    state = load_tensors(patch.path)
    state = _sgm_to_diffusers(state, network)
    unet_prefixes = ("lora_unet_", "unet.", "transformer.", "diffusion_model.")
    pairs = {
        name[len(prefix) :]: pair
        for name, pair in _pairs(state).items()
        for prefix in unet_prefixes
        if name.startswith(prefix)
    }
    if not pairs:
        raise DiffusionError(f"{source}: the LoRA has no diffusion model layers")
    _apply(pairs, _lookup(network), patch.strength, source, f"{family.name} diffusion model")


_TEXT_PREFIXES = {
    "clip_l": ("lora_te_", "lora_te1_", "text_encoder."),
    "clip_g": ("lora_te2_", "text_encoder_2."),
    "clip_h": ("lora_te_", "text_encoder."),  # SD2's OpenCLIP-H, named as HF CLIP by kohya and diffusers
}


def apply_to_text_encoders(stack: dict[str, Any], family: Family, patch: Patch) -> None:
    """Merge the text-encoder part of LoRA ``patch`` into the family's text encoders (in place)."""
    source = Path(patch.path).name
    check_family(patch.path, family.name)
    all_pairs = _pairs(load_tensors(patch.path))
    for role, model in stack.items():
        prefixes = _TEXT_PREFIXES.get(role, ())
        if family.name == "sd1" and role == "clip_l":
            prefixes = ("lora_te_", "text_encoder.")
        pairs = {
            name[len(prefix) :]: pair
            for name, pair in all_pairs.items()
            for prefix in prefixes
            if name.startswith(prefix)
        }
        if pairs:
            lookup = _lookup(model, ("", "text_model."))
            _apply(pairs, lookup, patch.strength, source, f"{family.name} text encoder {role}")
