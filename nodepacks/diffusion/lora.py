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

    from nodepacks.diffusion.families.registry import Family

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
    # Flux first: its double blocks have SD3's add_*_proj names too, but SD3 has no single blocks.
    if any(re.search(r"(double|single)_blocks|single_transformer_blocks", k) for k in keys):
        return "flux"
    if any("joint_blocks" in k or re.search(r"transformer_blocks[._]\d+[._]attn[._]add_", k) for k in keys):
        return "sd3"
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

    mapped: dict[str, torch.Tensor] = _maybe_map_sgm_blocks_to_diffusers(state, network.config)
    return mapped


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
    lookup = _lookup(network)
    if family.name == "flux":
        pairs = _merge_flux_original(pairs, lookup, patch.strength, source)
    if pairs:
        _apply(pairs, lookup, patch.strength, source, f"{family.name} diffusion model")


# Flux LoRAs in Black Forest Labs' original module names (kohya's ``lora_unet_double_blocks_0_img_attn_qkv`` or
# ComfyUI's dotted ``double_blocks.0.img_attn.qkv``) -> the diffusers modules they cover, in row order: fused
# projections (double blocks' qkv, single blocks' linear1 = q, k, v, mlp) are split by the modules' own widths.
_FLUX_ORIGINAL: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"double_blocks_(\d+)_img_attn_qkv", ("attn.to_q", "attn.to_k", "attn.to_v")),
    (r"double_blocks_(\d+)_txt_attn_qkv", ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj")),
    (r"double_blocks_(\d+)_img_attn_proj", ("attn.to_out.0",)),
    (r"double_blocks_(\d+)_txt_attn_proj", ("attn.to_add_out",)),
    (r"double_blocks_(\d+)_img_mlp_0", ("ff.net.0.proj",)),
    (r"double_blocks_(\d+)_img_mlp_2", ("ff.net.2",)),
    (r"double_blocks_(\d+)_txt_mlp_0", ("ff_context.net.0.proj",)),
    (r"double_blocks_(\d+)_txt_mlp_2", ("ff_context.net.2",)),
    (r"double_blocks_(\d+)_img_mod_lin", ("norm1.linear",)),
    (r"double_blocks_(\d+)_txt_mod_lin", ("norm1_context.linear",)),
    (r"single_blocks_(\d+)_linear1", ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")),
    (r"single_blocks_(\d+)_linear2", ("proj_out",)),
    (r"single_blocks_(\d+)_modulation_lin", ("norm.linear",)),
    (r"img_in", ("x_embedder",)),
    (r"txt_in", ("context_embedder",)),
    (r"time_in_in_layer", ("time_text_embed.timestep_embedder.linear_1",)),
    (r"time_in_out_layer", ("time_text_embed.timestep_embedder.linear_2",)),
    (r"vector_in_in_layer", ("time_text_embed.text_embedder.linear_1",)),
    (r"vector_in_out_layer", ("time_text_embed.text_embedder.linear_2",)),
    (r"guidance_in_in_layer", ("time_text_embed.guidance_embedder.linear_1",)),
    (r"guidance_in_out_layer", ("time_text_embed.guidance_embedder.linear_2",)),
    (r"final_layer_linear", ("proj_out",)),
    (r"final_layer_adaLN_modulation_1", ("norm_out.linear",)),  # (shift, scale) -> diffusers' (scale, shift)
)


def _flux_targets(name: str) -> tuple[str, ...] | None:
    flat = name.replace(".", "_")
    for pattern, modules in _FLUX_ORIGINAL:
        match = re.fullmatch(pattern, flat)
        if match is None:
            continue
        if not match.groups():
            return modules
        block = "transformer_blocks" if flat.startswith("double") else "single_transformer_blocks"
        return tuple(f"{block}.{match[1]}.{module}" for module in modules)
    return None


def _merge_flux_original(
    pairs: dict[str, _Pair], lookup: dict[str, Any], strength: float, source: str
) -> dict[str, _Pair]:
    """Merge the original-layout Flux layers of ``pairs`` (splitting fused projections); returns the others."""
    import torch

    rest: dict[str, _Pair] = {}
    for name, pair in pairs.items():
        targets = _flux_targets(name)
        if targets is None:
            rest[name] = pair
            continue
        missing = [t for t in targets if t not in lookup]
        if missing:
            raise DiffusionError(
                f"{source}: LoRA layer {name} maps to {missing[0]}, which the Flux transformer does not have: "
                "the LoRA is for another model"
            )
        modules = [lookup[t] for t in targets]
        assert pair.down is not None and pair.up is not None
        device = modules[0].weight.device
        down = pair.down.to(device, torch.float32).flatten(1)
        up = pair.up.to(device, torch.float32).flatten(1)
        scale = strength * ((pair.alpha / down.shape[0]) if pair.alpha is not None else 1.0)
        delta = up @ down
        rows = [int(m.weight.shape[0]) for m in modules]
        if delta.shape[0] != sum(rows) or any(m.weight.shape[1:].numel() != delta.shape[1] for m in modules):
            raise DiffusionError(
                f"{source}: LoRA layer {name} ({tuple(delta.shape)}) does not fit the Flux transformer's "
                f"{', '.join(targets)} ({sum(rows)} rows): the LoRA is for another model"
            )
        if name.replace(".", "_").startswith("final_layer_adaLN"):
            shift, scale_rows = delta.chunk(2, dim=0)
            delta = torch.cat([scale_rows, shift], dim=0)
        with torch.no_grad():
            for module, part in zip(modules, torch.split(delta, rows, dim=0), strict=True):
                module.weight.add_((part.reshape(module.weight.shape) * scale).to(module.weight.dtype))
    return rest


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
