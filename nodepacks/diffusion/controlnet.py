"""ControlNets (ComfyUI's ``CONTROL_NET``): finding them, loading them as diffusers ``ControlNetModel`` and running
them inside the denoiser.

A ControlNet is attached to conditioning entries as plain data so CONDITIONING stays cacheable: the entry's
``control`` is a list (the chain, oldest first: ComfyUI's ``previous_controlnet``) of dicts with ``controlnet``
(a reference: family, layout, path, sha256), ``hint`` (the control image, float32 (batch, h, w, channels) in
[0, 1]), ``strength``, ``start_percent`` and ``end_percent``. At each model call the denoiser wraps its network
(:func:`controlled`): every ControlNet of the chain whose range holds the current sigma runs on the same input,
timestep and text as the UNet, with the hint resized to the image size, and the sum of their down/mid residuals
(each scaled by its strength) goes into the UNet call (``down_block_additional_residuals`` /
``mid_block_additional_residual``). ``control_apply_to_uncond`` (ControlNetApply, the old node) lends a
positive entry's control to the negative prompt when the negative has none (:func:`share_with_uncond`).

Supported: SD1.x, SD2.x and SDXL ControlNets as a single file in the original layout (``control_model.*`` or
bare ``input_blocks``/``zero_convs`` keys, converted with diffusers' single-file converter), as a single file in
diffusers' key layout (``controlnet_cond_embedding.*``), or as a diffusers folder (``config.json`` +
weights). Nothing here imports torch at module level.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion.building import BUILD_LOCK, pick_device
from nodepacks.diffusion.handles import Cond, DiffusionError
from nodepacks.diffusion.weights import load_tensors, place, read_json, read_keys, shipped_config

if TYPE_CHECKING:  # pragma: no cover
    import torch

Layout = Literal["original", "diffusers_keys", "diffusers"]
FAMILIES = ("sd1", "sd2", "sdxl")
ORIGINAL_PREFIX = "control_model."
HINT_UPSCALE = "nearest-exact"  # ComfyUI's ControlNet hint resize
_FAMILY_NAMES = {"sd1": "SD1.x", "sd2": "SD2.x", "sdxl": "SDXL"}


@dataclass(frozen=True)
class ControlNet:
    """``CONTROL_NET``: a ControlNet file or folder of the model library and the family it was trained for."""

    family: str
    layout: Layout
    path: str
    sha256: str

    @property
    def key(self) -> str:
        """The warm-cache key of the loaded network."""
        return f"controlnet:{self.family}:{self.layout}:{self.sha256}"

    @property
    def name(self) -> str:
        return Path(self.path).name

    def reference(self) -> dict[str, str]:
        """What a conditioning entry keeps: plain strings, resolved again by the denoiser."""
        return {"family": self.family, "layout": self.layout, "path": self.path, "sha256": self.sha256}

    @staticmethod
    def from_reference(reference: Mapping[str, Any]) -> ControlNet:
        try:
            return ControlNet(
                family=str(reference["family"]),
                layout=reference["layout"],
                path=str(reference["path"]),
                sha256=str(reference["sha256"]),
            )
        except (KeyError, TypeError):
            raise DiffusionError(f"conditioning: a malformed ControlNet reference {reference!r}") from None


ControlNetType: Any = sdk.define_type("CONTROL_NET", ControlNet)


# -- detection (headers only) ----------------------------------------------------------------------------------


def open_controlnet(path: Path, sha256: str) -> ControlNet:
    """The handle of a ControlNet file or diffusers folder; ``DiffusionError`` naming it when it is none."""
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.exists():
            raise DiffusionError(f"{path.name}: not a diffusers ControlNet folder (no config.json)")
        config = read_json(config_file)
        if config.get("_class_name") != "ControlNetModel":
            raise DiffusionError(
                f"{path.name}: a {config.get('_class_name', '?')} folder, not a ControlNetModel "
                "(SD1.x, SD2.x and SDXL ControlNets are supported)"
            )
        return ControlNet(_family_of_config(config), "diffusers", str(path), sha256)
    keys = read_keys(path)
    shapes = _Shapes(path)
    if "controlnet_cond_embedding.conv_in.weight" in keys:
        family = _family_of_keys(keys, shapes, add_embedding="add_embedding.linear_1.weight")
        return ControlNet(family, "diffusers_keys", str(path), sha256)
    prefix = next((p for p in (ORIGINAL_PREFIX, "") if f"{p}zero_convs.0.0.weight" in keys), None)
    if prefix is None:
        raise DiffusionError(
            f"{path.name}: not a ControlNet this pack loads (SD1.x, SD2.x and SDXL ControlNets in the original "
            "control_model.* layout or diffusers' layout; T2I adapters, control-LoRAs and SD3/Flux ControlNets "
            "are not supported)"
        )
    bare = [k[len(prefix) :] for k in keys if k.startswith(prefix)]
    shapes.prefix = prefix
    return ControlNet(
        _family_of_keys(bare, shapes, add_embedding="label_emb.0.0.weight"), "original", str(path), sha256
    )


class _Shapes:
    """Tensor shapes of a safetensors file, read from its header."""

    def __init__(self, path: Path):
        self.path = path
        self.prefix = ""

    def __call__(self, key: str) -> tuple[int, ...]:
        from safetensors import safe_open

        with safe_open(str(self.path), framework="pt") as handle:
            return tuple(handle.get_slice(self.prefix + key).get_shape())


def _family_of_keys(keys: Collection[str], shapes: _Shapes, *, add_embedding: str) -> str:
    # SDXL has the size/crop embedding; SD2 has linear attention projections and 1024-wide text (SD1: 768, conv).
    if add_embedding in keys:
        return "sdxl"
    proj = next((k for k in keys if k.endswith(".proj_in.weight")), None)
    to_k = next((k for k in keys if k.endswith("attn2.to_k.weight")), None)
    if (proj is not None and len(shapes(proj)) == 2) or (to_k is not None and shapes(to_k)[1] == 1024):
        return "sd2"
    return "sd1"


def _family_of_config(config: Mapping[str, Any]) -> str:
    if config.get("addition_embed_type") == "text_time":
        return "sdxl"
    if config.get("use_linear_projection") or config.get("cross_attention_dim") == 1024:
        return "sd2"
    return "sd1"


def check_family(net: ControlNet, model_family: str, model_source: str) -> None:
    """``DiffusionError`` naming both when a ControlNet was trained for another family than the model's."""
    if net.family != model_family:
        raise DiffusionError(
            f"ControlNet {net.name} is for {_FAMILY_NAMES.get(net.family, net.family)} models but the model "
            f"{model_source} is {model_family}: use a ControlNet made for this model's family"
        )


# -- loading (torch) -------------------------------------------------------------------------------------------


def _count(keys: Collection[str], pattern: str) -> int:
    regex = re.compile(pattern)
    found = {int(m.group(1)) for key in keys if (m := regex.match(key))}
    return max(found) + 1 if found else 0


def original_to_diffusers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An original-layout ControlNet state dict (prefix removed) in diffusers' names, with diffusers' converter
    (plus SDXL's size/crop embedding, which the converter leaves out)."""
    from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint

    per_level = 0
    index = 1
    while f"input_blocks.{index}.0.in_layers.0.weight" in state:
        per_level += 1
        index += 1
    if per_level == 0:
        raise DiffusionError("holds no ControlNet input blocks")
    converted = convert_controlnet_checkpoint(state, {"layers_per_block": per_level})
    for old, new in (
        ("label_emb.0.0", "add_embedding.linear_1"),
        ("label_emb.0.2", "add_embedding.linear_2"),
    ):
        for tail in ("weight", "bias"):
            if f"{old}.{tail}" in state:
                converted[f"{new}.{tail}"] = state[f"{old}.{tail}"]
    return {k: v for k, v in converted.items() if v is not None}


def config_from_state(state: Mapping[str, torch.Tensor], family: str) -> dict[str, Any]:
    """A ControlNetModel config for diffusers-named weights: shapes over the family's shipped config."""
    from nodepacks.diffusion.families import get_family

    config = {
        k: v for k, v in shipped_config("controlnet", f"{family}.json").items() if not k.startswith("_")
    }
    levels = _count(state, r"down_blocks\.(\d+)\.")
    widths = [int(state[f"down_blocks.{i}.resnets.0.conv2.weight"].shape[0]) for i in range(levels)]
    depths = [
        _count(state, rf"down_blocks\.{i}\.attentions\.0\.transformer_blocks\.(\d+)\.") for i in range(levels)
    ]
    mid_depth = _count(state, r"mid_block\.attentions\.0\.transformer_blocks\.(\d+)\.")
    to_k = next((v for k, v in state.items() if k.endswith("attn2.to_k.weight")), None)
    proj_in = next((v for k, v in state.items() if k.endswith(".proj_in.weight")), None)
    embedding = [int(state["controlnet_cond_embedding.conv_in.weight"].shape[0])]
    blocks = _count(state, r"controlnet_cond_embedding\.blocks\.(\d+)\.")
    embedding += [
        int(state[f"controlnet_cond_embedding.blocks.{j}.weight"].shape[0]) for j in range(1, blocks, 2)
    ]
    heads = getattr(get_family(family), "heads", lambda width: 8)
    config.update(
        in_channels=int(state["conv_in.weight"].shape[1]),
        conditioning_channels=int(state["controlnet_cond_embedding.conv_in.weight"].shape[1]),
        conditioning_embedding_out_channels=embedding,
        block_out_channels=widths,
        layers_per_block=_count(state, r"down_blocks\.0\.resnets\.(\d+)\."),
        down_block_types=["CrossAttnDownBlock2D" if d else "DownBlock2D" for d in depths],
        transformer_layers_per_block=[d or 1 for d in depths[:-1]] + [mid_depth or depths[-1] or 1],
        mid_block_type="UNetMidBlock2DCrossAttn" if mid_depth else "UNetMidBlock2D",
        attention_head_dim=[heads(width) for width in widths],
        use_linear_projection=bool(proj_in is not None and proj_in.ndim == 2),
    )
    if to_k is not None:
        config["cross_attention_dim"] = int(to_k.shape[1])
    if "add_embedding.linear_1.weight" in state:
        config["addition_embed_type"] = "text_time"
        config["projection_class_embeddings_input_dim"] = int(state["add_embedding.linear_1.weight"].shape[1])
    else:
        config.update(
            addition_embed_type=None, addition_time_embed_dim=None, projection_class_embeddings_input_dim=None
        )
    return config


def load_network(net: ControlNet) -> Any:
    """The ControlNetModel of ``net`` in float32 on the CPU (the caller moves it)."""
    import torch
    from diffusers import ControlNetModel

    from nodepacks.diffusion.families import _common as common

    if net.layout == "diffusers":
        try:
            return ControlNetModel.from_pretrained(net.path, local_files_only=True, torch_dtype=torch.float32)
        except (OSError, ValueError, RuntimeError) as exc:
            raise DiffusionError(f"{net.name}: cannot load the ControlNet folder ({exc})") from None
    if net.layout == "original":
        raw = load_tensors(net.path, (ORIGINAL_PREFIX, ""))
        try:
            state = original_to_diffusers(raw)
        except DiffusionError as exc:
            raise DiffusionError(f"{net.name}: {exc}") from None
    else:
        state = load_tensors(net.path)
    config = config_from_state(state, net.family)
    return common.build(ControlNetModel, config, state, net.name, "ControlNet")


def warm_network(net: ControlNet, models: sdk.ModelProvider) -> Any:
    """The loaded ControlNet on the run's device, once per content hash through ``models.cached``."""
    device, dtype = pick_device()

    def load() -> Any:
        with BUILD_LOCK:
            network = load_network(net)
            return place(network, device, dtype)

    return models.cached(net.key, load)


# -- conditioning ------------------------------------------------------------------------------------------------


def hint_from_image(image: np.ndarray, input_name: str = "image") -> np.ndarray:
    """A ComfyUI IMAGE (batch, h, w, channels) in [0, 1] as the float32 hint a conditioning entry keeps."""
    hint = np.asarray(image, dtype=np.float32)
    if hint.ndim == 3:
        hint = hint[None]
    if hint.ndim != 4 or hint.shape[-1] not in (1, 3, 4):
        raise DiffusionError(
            f"{input_name}: not an IMAGE (batch, height, width, channels): shape {hint.shape}"
        )
    if hint.shape[-1] == 1:
        hint = np.repeat(hint, 3, axis=-1)
    return np.ascontiguousarray(hint[..., :3])


def attach(
    conds: Sequence[Cond],
    net: ControlNet,
    hint: np.ndarray,
    strength: float,
    start_percent: float,
    end_percent: float,
    *,
    apply_to_uncond: bool,
) -> list[Cond]:
    """Copies of ``conds`` with the ControlNet added at the end of each entry's chain."""
    use = {
        "controlnet": net.reference(),
        "hint": hint,
        "strength": float(strength),
        "start_percent": float(start_percent),
        "end_percent": float(end_percent),
    }
    out = []
    for cond in conds:
        entry = Cond(**cond)
        entry["control"] = [*(cond.get("control") or ()), use]
        entry["control_apply_to_uncond"] = apply_to_uncond
        out.append(entry)
    return out


def share_with_uncond(
    positive: Sequence[Mapping[str, Any]], negative: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The negative conditioning with the controls of positive entries marked ``control_apply_to_uncond`` (the old
    ControlNetApply) lent to it, as ComfyUI does: only when no negative entry has a control of its own."""
    lent = [
        c["control"]
        for c in positive
        if c.get("control") and c.get("control_apply_to_uncond") and "area" not in c
    ]
    if not lent or any(c.get("control") for c in negative):
        return list(negative)
    targets = [i for i, c in enumerate(negative) if "area" not in c]
    if not targets:
        return list(negative)
    out: list[Mapping[str, Any]] = list(negative)
    for number, control in enumerate(lent):
        index = targets[number % len(targets)]
        entry = {**negative[index], "control": control, "control_apply_to_uncond": True}
        if number < len(targets):
            out[index] = entry
        else:
            out.append(entry)
    return out


# -- running (torch) ---------------------------------------------------------------------------------------------


def _resize_hint(hint: np.ndarray, height: int, width: int, batch: int, like: torch.Tensor) -> torch.Tensor:
    """The hint as (batch, 3, height, width) on ``like``'s device and dtype: center-cropped to the aspect ratio and
    resized nearest-exact (ComfyUI's ``common_upscale(..., "center")``), repeated to the batch."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(hint)).movedim(-1, 1).to(like.device, torch.float32)
    old_h, old_w = tensor.shape[-2:]
    if old_w * height != old_h * width:
        old_aspect, new_aspect = old_w / old_h, width / height
        if old_aspect > new_aspect:
            keep = round(old_w * (new_aspect / old_aspect))
            left = (old_w - keep) // 2
            tensor = tensor[..., :, left : left + keep]
        else:
            keep = round(old_h * (old_aspect / new_aspect))
            top = (old_h - keep) // 2
            tensor = tensor[..., top : top + keep, :]
    if tuple(tensor.shape[-2:]) != (height, width):
        tensor = torch.nn.functional.interpolate(tensor, size=(height, width), mode=HINT_UPSCALE)
    if tensor.shape[0] != batch:
        reps = -(-batch // tensor.shape[0])
        tensor = tensor.repeat(reps, 1, 1, 1)[:batch]
    return tensor.to(like.dtype)


class _Controlled:
    """The UNet with the active ControlNets' residuals added to its call; every other attribute is the UNet's."""

    def __init__(self, network: Any, uses: list[tuple[Any, dict[str, Any]]]):
        self._network = network
        self._uses = uses

    def __getattr__(self, name: str) -> Any:
        return getattr(self._network, name)

    def __call__(self, sample: torch.Tensor, timestep: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        context = kwargs.get("encoder_hidden_states", args[0] if args else None)
        down_total: list[torch.Tensor] | None = None
        mid_total: torch.Tensor | None = None
        for net, use in self._uses:
            x = sample[:, : int(net.config.in_channels)]
            hint = _resize_hint(use["hint"], x.shape[-2] * 8, x.shape[-1] * 8, x.shape[0], x)
            down, mid = net(
                x,
                timestep,
                encoder_hidden_states=context,
                controlnet_cond=hint,
                conditioning_scale=float(use["strength"]),
                added_cond_kwargs=kwargs.get("added_cond_kwargs"),
                return_dict=False,
            )
            if down_total is None or mid_total is None:
                down_total, mid_total = list(down), mid
            else:
                down_total = [a + b for a, b in zip(down_total, down, strict=True)]
                mid_total = mid_total + mid
        if down_total is not None:
            kwargs["down_block_additional_residuals"] = tuple(down_total)
            kwargs["mid_block_additional_residual"] = mid_total
        return self._network(sample, timestep, *args, **kwargs)


def controlled(denoiser: Any, network: Any, control: Sequence[Mapping[str, Any]], sigma: float) -> Any:
    """``network`` wrapped to add the residuals of the ControlNets of ``control`` (a conditioning entry's chain)
    whose range holds ``sigma``; ``network`` itself when none does. Every ControlNet is checked against the
    model's family, active or not."""
    models = getattr(denoiser, "models", None)
    model = denoiser.model
    uses: list[tuple[Any, dict[str, Any]]] = []
    for use in control:
        net = ControlNet.from_reference(use["controlnet"])
        check_family(net, model.family, model.source)
        start = denoiser.sampling.percent_to_sigma(float(use.get("start_percent", 0.0)))
        end = denoiser.sampling.percent_to_sigma(float(use.get("end_percent", 1.0)))
        if not end <= sigma <= start:
            continue
        if models is None:
            raise DiffusionError(f"ControlNet {net.name}: this runtime has no model provider to load it")
        uses.append((warm_network(net, models), dict(use)))
    return _Controlled(network, uses) if uses else network
