"""What the built-in families share: building diffusers/transformers networks from original-layout weights.

Architectures are read from the weights' shapes (block widths, depths, context sizes) over the real model's
shipped config (for what shapes cannot show: head counts, activations), so a full-size checkpoint and a tiny test
checkpoint go through the same code. Key layouts are converted with diffusers' single-file utilities.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nodepacks.diffusion.handles import DiffusionError, TextEncoder, WeightsSource
from nodepacks.diffusion.tokenizers import EOS, clip_token_chunks
from nodepacks.diffusion.weights import (
    VAE_PREFIXES,
    diffusers_subfolder,
    load_tensors,
    read_keys,
    shipped_config,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

HF_CLIP_TOKEN_KEY = "text_model.embeddings.token_embedding.weight"
OPEN_CLIP_TOKEN_KEY = "token_embedding.weight"


def build(cls: Any, config: Any, state: dict[str, torch.Tensor], source: str, what: str) -> Any:
    """``cls`` built from ``config`` without random initialisation, its weights assigned from ``state``."""
    import torch
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
    expected = dict(model.named_parameters())
    state = _align_names(state, expected)
    missing = sorted(name for name in expected if name not in state)
    if missing:
        shown = ", ".join(missing[:4]) + (" ..." if len(missing) > 4 else "")
        raise DiffusionError(f"{source}: the {what} weights are incomplete ({len(missing)} missing: {shown})")
    for name, param in expected.items():
        if tuple(state[name].shape) != tuple(param.shape):
            raise DiffusionError(
                f"{source}: {what} weight {name} has shape {tuple(state[name].shape)}, expected {tuple(param.shape)}"
            )
    buffers = dict(model.named_buffers())
    model.load_state_dict(
        {k: v for k, v in state.items() if k in expected or k in buffers}, strict=False, assign=True
    )
    for name, buffer in model.named_buffers():
        if buffer.device.type == "meta":
            raise DiffusionError(f"{source}: the {what} weights lack buffer {name}")
    # fp16/bf16/fp8 files only: diffusers warns on every dtype cast.
    if any(param.dtype != torch.float32 for param in model.parameters()):
        model = model.to(torch.float32)
    return model


def _align_names(state: dict[str, torch.Tensor], expected: dict[str, Any]) -> dict[str, torch.Tensor]:
    # transformers 5 builds CLIPTextModel without the ``text_model.`` level that files (and the projection
    # variant) have.
    if all(name in state for name in expected):
        return state
    aligned = dict(state)
    for name in expected:
        if name not in aligned and f"text_model.{name}" in state:
            aligned[name] = state[f"text_model.{name}"]
    return aligned


def _count(keys: Any, pattern: str) -> int:
    regex = re.compile(pattern)
    found = {int(m.group(1)) for key in keys if (m := regex.match(key))}
    return max(found) + 1 if found else 0


# -- the UNet of SD1.x / SDXL --------------------------------------------------------------------------------------


def unet_config_from_ldm(state: dict[str, torch.Tensor], base: dict[str, Any], heads: Any) -> dict[str, Any]:
    """A diffusers UNet2DConditionModel config for an original-layout UNet state dict (prefix removed).

    ``heads(channels)`` gives the attention head count of a level (not visible in the weights)."""
    config = {k: v for k, v in base.items() if not k.startswith("_")}
    conv_in = state["input_blocks.0.0.weight"]
    levels: list[list[int]] = [[]]  # per level, the transformer depth of each resnet layer
    widths: list[int] = []
    index = 1
    while True:
        prefix = f"input_blocks.{index}."
        if f"{prefix}0.op.weight" in state:
            levels.append([])
        elif f"{prefix}0.in_layers.0.weight" in state:
            if len(levels[-1]) == 0:
                widths.append(int(state[f"{prefix}0.out_layers.3.weight"].shape[0]))
            levels[-1].append(_count(state, rf"input_blocks\.{index}\.1\.transformer_blocks\.(\d+)\."))
        else:
            break
        index += 1
    depths = [level[0] for level in levels]
    context = next((int(v.shape[1]) for k, v in state.items() if k.endswith("attn2.to_k.weight")), None)
    proj_in = next((v for k, v in state.items() if k.endswith(".proj_in.weight")), None)
    mid_depth = _count(state, r"middle_block\.1\.transformer_blocks\.(\d+)\.")
    config.update(
        in_channels=int(conv_in.shape[1]),
        out_channels=int(state["out.2.weight"].shape[0]),
        block_out_channels=widths,
        layers_per_block=len(levels[0]),
        down_block_types=["CrossAttnDownBlock2D" if d else "DownBlock2D" for d in depths],
        up_block_types=["CrossAttnUpBlock2D" if d else "UpBlock2D" for d in reversed(depths)],
        transformer_layers_per_block=[d or 1 for d in depths[:-1]] + [mid_depth or depths[-1] or 1],
        cross_attention_dim=context,
        use_linear_projection=bool(proj_in is not None and proj_in.ndim == 2),
        attention_head_dim=[heads(width) for width in widths],
    )
    if "label_emb.0.0.weight" in state:
        config["projection_class_embeddings_input_dim"] = int(state["label_emb.0.0.weight"].shape[1])
    return config


def load_ldm_unet(source: WeightsSource, base: dict[str, Any], heads: Any) -> Any:
    """A UNet2DConditionModel from a single file (full checkpoint or bare network) in the original layout."""
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    state = load_tensors(
        source.path,
        ("model.diffusion_model.", "") if source.layout != "checkpoint" else ("model.diffusion_model.",),
    )
    if "input_blocks.0.0.weight" not in state:
        raise DiffusionError(f"{Path(source.path).name}: holds no UNet in the original layout")
    config = unet_config_from_ldm(state, base, heads)
    prefixed = {f"model.diffusion_model.{k}": v for k, v in state.items()}
    converted = convert_ldm_unet_checkpoint(prefixed, config)
    return build(UNet2DConditionModel, config, converted, Path(source.path).name, "UNet")


def load_diffusers_component(cls: Any, folder: str, subfolder: str) -> Any:
    """A component of a diffusers pipeline folder, offline."""
    import torch

    sub = diffusers_subfolder(Path(folder), subfolder)
    try:
        model = cls.from_pretrained(str(sub), local_files_only=True, torch_dtype=torch.float32)
    except (OSError, ValueError, RuntimeError) as exc:
        raise DiffusionError(f"{sub}: cannot load {cls.__name__} ({exc})") from None
    return model


# -- the VAE ---------------------------------------------------------------------------------------------------


def vae_config_from_ldm(state: dict[str, torch.Tensor], base: dict[str, Any]) -> dict[str, Any]:
    """A diffusers AutoencoderKL config for an original-layout VAE state dict (prefix removed)."""
    config = {k: v for k, v in base.items() if not k.startswith("_")}
    levels = _count(state, r"encoder\.down\.(\d+)\.")
    widths = [int(state[f"encoder.down.{i}.block.0.conv1.weight"].shape[0]) for i in range(levels)]
    config.update(
        in_channels=int(state["encoder.conv_in.weight"].shape[1]),
        out_channels=int(state["decoder.conv_out.weight"].shape[0]),
        latent_channels=int(state["decoder.conv_in.weight"].shape[1]),
        block_out_channels=widths,
        layers_per_block=_count(state, r"encoder\.down\.0\.block\.(\d+)\."),
        down_block_types=["DownEncoderBlock2D"] * levels,
        up_block_types=["UpDecoderBlock2D"] * levels,
        use_quant_conv="quant_conv.weight" in state,
        use_post_quant_conv="post_quant_conv.weight" in state,
    )
    return config


def load_vae(source: WeightsSource, base: dict[str, Any]) -> Any:
    """An AutoencoderKL from a checkpoint, a bare VAE file or a diffusers folder."""
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    if source.layout == "diffusers":
        return load_diffusers_component(AutoencoderKL, source.path, "vae")
    name = Path(source.path).name
    if source.layout == "checkpoint":
        state = load_tensors(source.path, VAE_PREFIXES)
    else:
        state = load_tensors(source.path, (*VAE_PREFIXES, ""))
    if "encoder.conv_in.weight" not in state:
        raise DiffusionError(f"{name}: holds no VAE")
    if "encoder.down_blocks.0.resnets.0.conv1.weight" in state:  # already diffusers keys
        converted = state
        config = dict(base)
    else:
        config = vae_config_from_ldm(state, base)
        converted = convert_ldm_vae_checkpoint(
            {f"first_stage_model.{k}": v for k, v in state.items()}, config
        )
    return build(AutoencoderKL, config, converted, name, "VAE")


# -- CLIP text encoders ----------------------------------------------------------------------------------------


def clip_config_from_hf(state: dict[str, torch.Tensor], base: dict[str, Any]) -> Any:
    """A transformers CLIPTextConfig for HF-layout CLIP weights (``text_model.*``)."""
    from transformers import CLIPTextConfig

    vocab, hidden = state[HF_CLIP_TOKEN_KEY].shape
    values = {k: v for k, v in base.items() if k not in ("architectures",)}
    values.update(
        vocab_size=int(vocab),
        hidden_size=int(hidden),
        max_position_embeddings=int(state["text_model.embeddings.position_embedding.weight"].shape[0]),
        num_hidden_layers=_count(state, r"text_model\.encoder\.layers\.(\d+)\."),
        intermediate_size=int(state["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
        num_attention_heads=max(1, int(hidden) // 64),
    )
    if "text_projection.weight" in state:
        values["projection_dim"] = int(state["text_projection.weight"].shape[0])
    return CLIPTextConfig(**values)


def load_clip_state(state: dict[str, torch.Tensor], base: dict[str, Any], name: str, role: str) -> Any:
    """A CLIPTextModel (with projection when the weights have one) from HF or OpenCLIP layout weights."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    if OPEN_CLIP_TOKEN_KEY in state and HF_CLIP_TOKEN_KEY not in state:
        state = open_clip_to_hf(state, base)
    if HF_CLIP_TOKEN_KEY not in state:
        raise DiffusionError(f"{name}: holds no CLIP text encoder ({role})")
    config = clip_config_from_hf(state, base)
    cls = CLIPTextModelWithProjection if "text_projection.weight" in state else CLIPTextModel
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    return build(cls, config, state, name, f"text encoder {role}")


def open_clip_to_hf(state: dict[str, torch.Tensor], base: dict[str, Any]) -> dict[str, torch.Tensor]:
    """OpenCLIP text weights (SDXL's CLIP-G in a checkpoint) -> HF CLIP names, with diffusers' converter."""
    from types import SimpleNamespace

    from diffusers.loaders.single_file_utils import convert_open_clip_checkpoint

    hidden = int(state[OPEN_CLIP_TOKEN_KEY].shape[1])
    stub = SimpleNamespace(config=SimpleNamespace(hidden_size=hidden))
    prefix = "conditioner.embedders.1.model."  # not SD2's prefix: diffusers drops SD2's last layer there
    converted: dict[str, torch.Tensor] = convert_open_clip_checkpoint(
        stub, {prefix + k: v for k, v in state.items()}, prefix=prefix
    )
    return converted


def clip_state_for_role(
    source: WeightsSource, role: str, checkpoint_prefixes: dict[str, str]
) -> dict[str, torch.Tensor]:
    """The weights of text encoder ``role`` in ``source`` (a checkpoint under its prefix, or a bare file)."""
    if source.layout == "checkpoint":
        prefix = checkpoint_prefixes[role]
        state = load_tensors(source.path, (prefix,))
        if not state:
            raise DiffusionError(f"{Path(source.path).name}: the checkpoint holds no {role} text encoder")
        return state
    keys = read_keys(source.path)
    for prefix in ("", "transformer.", "model.", "text_encoder."):
        if prefix + HF_CLIP_TOKEN_KEY in keys or prefix + OPEN_CLIP_TOKEN_KEY in keys:
            return load_tensors(source.path, (prefix,))
    raise DiffusionError(f"{Path(source.path).name}: not a CLIP text encoder file")


def load_clip_models(
    clip: TextEncoder,
    roles: tuple[str, ...],
    optional: tuple[str, ...],
    checkpoint_prefixes: dict[str, str],
    diffusers_folders: dict[str, str],
    bases: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Role -> loaded CLIP model, from the handle's sources (one checkpoint/folder, or one file per role)."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    models: dict[str, Any] = {}
    for role in roles:
        source = _source_for_role(clip, role)
        if source is None:
            if role in optional:
                continue
            raise DiffusionError(f"the {clip.family} text encoder needs a {role} model, none was given")
        if source.layout == "diffusers":
            folder = diffusers_folders[role]
            config_file = Path(source.path) / folder / "config.json"
            if not config_file.exists():
                if role in optional:
                    continue
                raise DiffusionError(f"{source.path}: diffusers folder has no {folder}")
            with_projection = "WithProjection" in config_file.read_text()
            cls = CLIPTextModelWithProjection if with_projection else CLIPTextModel
            models[role] = load_diffusers_component(cls, source.path, folder)
        else:
            state = clip_state_for_role(source, role, checkpoint_prefixes)
            models[role] = load_clip_state(state, bases[role], Path(source.path).name, role)
    return models


def _source_for_role(clip: TextEncoder, role: str) -> WeightsSource | None:
    for source in clip.sources:
        if source.layout in ("checkpoint", "diffusers") or source.role == role:
            return source
    return None


def encode_clip(
    model: Any, text: str, layer: int, *, final_norm: bool, pad_token: int = EOS
) -> tuple[np.ndarray, np.ndarray]:
    """(hidden states (1, 77*chunks, dim) of ``layer``, pooled/projected output (1, dim)) of ``text``."""
    import torch

    chunks = clip_token_chunks(text, pad_token=pad_token)
    device = next(model.parameters()).device
    hidden_parts = []
    pooled = None
    with torch.inference_mode():
        for chunk in chunks:
            ids = torch.tensor([chunk], device=device)
            out = model(input_ids=ids, output_hidden_states=True)
            states = out.hidden_states[layer] if layer != -1 else out.last_hidden_state
            if layer != -1 and final_norm:
                states = getattr(model, "text_model", model).final_layer_norm(states)
            hidden_parts.append(states.float())
            if pooled is None:
                pooled = (out.text_embeds if hasattr(out, "text_embeds") else out.pooler_output).float()
    assert pooled is not None
    return torch.cat(hidden_parts, dim=1).cpu().numpy(), pooled.cpu().numpy()


def configs(*names: str) -> dict[str, dict[str, Any]]:
    """Shipped configs by role name, e.g. ``configs("sd1/clip_l")``."""
    return {name.rsplit("/", 1)[-1]: shipped_config(*f"{name}.json".split("/")) for name in names}
