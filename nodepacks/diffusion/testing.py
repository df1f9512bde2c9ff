"""Tiny random-weight models in the real file formats, for tests, benchmarks and template runs.

``make_tiny_checkpoint(family, path)`` writes a single-file checkpoint in the original (LDM / MMDiT) key layout,
``make_tiny_diffusers_folder(family, folder)`` a diffusers pipeline folder written with ``save_pretrained``,
``make_tiny_lora(family, path)`` a kohya-style LoRA and ``make_tiny_upscaler(path)`` a 2x ESRGAN. The networks are
real diffusers/transformers classes with a few channels; the original layout is produced by the inverse of
diffusers' single-file conversion, so loading a tiny checkpoint runs the same conversion code as a real one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FAMILIES = ("sd1", "sdxl", "sd3", "sd2")  # flux has tiny models too, made only where a test asks

_CLIP_L: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "hidden_act": "quick_gelu",
}
_CLIP_H: dict[str, Any] = {  # SD2's OpenCLIP ViT-H, narrowed
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "hidden_act": "gelu",
}
_CLIP_G: dict[str, Any] = {
    "hidden_size": 48,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "hidden_act": "gelu",
}

_T5: dict[str, Any] = {"d_model": 32, "d_kv": 16, "d_ff": 64, "num_layers": 1, "num_heads": 2}
# The tiny T5 tokenizer's words (ids 3...); anything else is <unk> (2). 0 is <pad>, 1 is </s> as in T5.
_T5_WORDS = (  # noqa: SIM905 (a sentence reads better than a column of words)
    "a photo of the cat dog bottle with beautiful rainbow galaxy inside it on top wooden table in middle modern "
    "kitchen plate vegetables and mushrooms glass that contains planet earth apple pie portrait light"
).split()
T5_TINY_VOCAB = 64


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _clip(settings: dict[str, Any], *, projection: bool) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=49408,
        max_position_embeddings=77,
        num_attention_heads=1,
        projection_dim=32,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
        **settings,
    )
    cls = CLIPTextModelWithProjection if projection else CLIPTextModel
    return cls(config)


def _t5() -> Any:
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=T5_TINY_VOCAB,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
        use_cache=False,
        pad_token_id=0,
        eos_token_id=1,
        **_T5,
    )
    return T5EncoderModel(config)


def make_tiny_t5_tokenizer(path: str | Path) -> Path:
    """Write a tiny T5-style ``tokenizer.json`` (word level: <pad> 0, </s> 1, <unk> 2, a few prompt words, and the
    end token appended as T5's tokenizer does) for the tiny T5 encoder; returns its path."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in _T5_WORDS:
        vocab.setdefault(word, len(vocab))
    assert len(vocab) <= T5_TINY_VOCAB
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path


def _vae(family: str) -> Any:
    family = "sd1" if family == "sd2" else family
    from diffusers import AutoencoderKL

    flow = family in ("sd3", "flux")
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 32, 32, 32),
        layers_per_block=1,
        latent_channels=16 if flow else 4,
        norm_num_groups=32,
        sample_size=64,
        scaling_factor={"sd1": 0.18215, "sdxl": 0.13025, "sd3": 1.5305, "flux": 0.3611}[family],
        shift_factor={"sd3": 0.0609, "flux": 0.1159}.get(family),
        use_quant_conv=not flow,
        use_post_quant_conv=not flow,
    )


def _denoiser(family: str, in_channels: int = 4, *, guidance: bool = True) -> Any:
    from diffusers import SD3Transformer2DModel, UNet2DConditionModel

    if family == "sd2":  # 64-channel heads (one head at these widths), linear projections
        return UNet2DConditionModel(
            sample_size=32,
            in_channels=in_channels,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            block_out_channels=(32, 64),
            layers_per_block=1,
            cross_attention_dim=_CLIP_H["hidden_size"],
            attention_head_dim=(1, 1),
            use_linear_projection=True,
            norm_num_groups=32,
        )
    if family == "sd1":
        return UNet2DConditionModel(
            sample_size=32,
            in_channels=in_channels,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            block_out_channels=(32, 64),
            layers_per_block=1,
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=32,
        )
    if family == "sdxl":
        return UNet2DConditionModel(
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(32, 64),
            layers_per_block=1,
            cross_attention_dim=_CLIP_L["hidden_size"] + _CLIP_G["hidden_size"],
            attention_head_dim=(1, 1),
            transformer_layers_per_block=(1, 1),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=32 + 6 * 256,
            norm_num_groups=32,
        )
    if family == "flux":
        from diffusers import FluxTransformer2DModel

        return FluxTransformer2DModel(  # in_channels: packed 2x2 features; Fill adds 4 x (16 + 64)
            patch_size=1,
            in_channels=64 if in_channels == 4 else in_channels,
            out_channels=64,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=32,
            num_attention_heads=2,
            joint_attention_dim=_T5["d_model"],
            pooled_projection_dim=_CLIP_L["hidden_size"],
            guidance_embeds=guidance,
            axes_dims_rope=(4, 14, 14),
        )
    if family == "sd3":
        return SD3Transformer2DModel(
            sample_size=32,
            patch_size=2,
            in_channels=16,
            num_layers=1,
            attention_head_dim=32,
            num_attention_heads=1,
            joint_attention_dim=96,
            caption_projection_dim=32,
            pooled_projection_dim=64,
            out_channels=16,
            pos_embed_max_size=32,
        )
    raise ValueError(f"no tiny model for family {family!r}; tiny families: {', '.join(FAMILIES)}")


def tiny_components(
    family: str, seed: int = 0, *, inpainting: bool = False, guidance: bool = True, image_concat: bool = False
) -> dict[str, Any]:
    """The tiny networks of ``family`` in diffusers/transformers form: denoiser, vae and text encoders by role.
    ``inpainting`` (sd1, sd2): a UNet with 9 input channels (latent, mask, masked image latent); (flux): a
    FLUX.1 Fill-like transformer with 384 input features (noisy latent, masked image latent, 8x8 mask blocks);
    ``guidance`` (flux): a dev-like transformer with guidance embedding, else schnell-like; ``image_concat``: a
    model that takes an image latent beside the noisy one (sd1: an instruct-pix2pix UNet with 8 input channels;
    flux: a FLUX.1 Canny/Depth-like transformer with 128 input features)."""
    if inpainting and family not in ("sd1", "sd2", "flux"):
        raise ValueError(f"no tiny inpainting model for family {family!r} (sd1, sd2 and flux have one)")
    if image_concat and family not in ("sd1", "flux"):
        raise ValueError(f"no tiny image-concat model for family {family!r} (sd1 and flux have one)")
    _seed(seed)
    channels = (384 if family == "flux" else 9) if inpainting else 4
    if image_concat:
        channels = 128 if family == "flux" else 8
    denoiser = _denoiser(family, channels, guidance=guidance)
    parts: dict[str, Any] = {"denoiser": denoiser, "vae": _vae(family)}
    if family == "flux":
        parts["clip_l"] = _clip(_CLIP_L, projection=False)
        parts["t5"] = _t5()
    elif family == "sd2":
        parts["clip_h"] = _clip(_CLIP_H, projection=True)
    elif family == "sd1":
        parts["clip_l"] = _clip(_CLIP_L, projection=False)
    else:
        parts["clip_l"] = _clip(_CLIP_L, projection=family == "sd3")
        parts["clip_g"] = _clip(_CLIP_G, projection=True)
    return {role: model.eval() for role, model in parts.items()}


# -- diffusers -> original layout ------------------------------------------------------------------------------

_RESNET = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)


def _renamed(rest: str, table: tuple[tuple[str, str], ...]) -> str:
    head, _, tail = rest.rpartition(".")
    for new, old in table:
        if head == new:
            return f"{old}.{tail}"
    return rest


def unet_to_original(state: dict[str, Any], config: Any) -> dict[str, Any]:
    """A diffusers UNet2DConditionModel state dict in the original LDM layout (no prefix)."""
    step = config["layers_per_block"] + 1
    attn_levels = {i for i, kind in enumerate(config["up_block_types"]) if kind.startswith("CrossAttn")}
    fixed = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "add_embedding.linear_1": "label_emb.0.0",
        "add_embedding.linear_2": "label_emb.0.2",
        "conv_in": "input_blocks.0.0",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
    }
    out: dict[str, Any] = {}
    for key, value in state.items():
        module, _, tail = key.rpartition(".")
        if module in fixed:
            out[f"{fixed[module]}.{tail}"] = value
            continue
        if m := re.match(r"down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            i, j, rest = int(m[1]), int(m[2]), m[3]
            out[f"input_blocks.{step * i + j + 1}.0.{_renamed(rest, _RESNET)}"] = value
        elif m := re.match(r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.*)", key):
            out[f"input_blocks.{step * int(m[1]) + int(m[2]) + 1}.1.{m[3]}"] = value
        elif m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            out[f"input_blocks.{step * (int(m[1]) + 1)}.0.op.{m[2]}"] = value
        elif m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
            out[f"middle_block.{2 * int(m[1])}.{_renamed(m[2], _RESNET)}"] = value
        elif m := re.match(r"mid_block\.attentions\.0\.(.*)", key):
            out[f"middle_block.1.{m[1]}"] = value
        elif m := re.match(r"up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            out[f"output_blocks.{step * int(m[1]) + int(m[2])}.0.{_renamed(m[3], _RESNET)}"] = value
        elif m := re.match(r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.*)", key):
            out[f"output_blocks.{step * int(m[1]) + int(m[2])}.1.{m[3]}"] = value
        elif m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            level = int(m[1])
            slot = 2 if level in attn_levels else 1
            out[f"output_blocks.{step * level + step - 1}.{slot}.conv.{m[2]}"] = value
        else:
            raise KeyError(f"no original-layout name for UNet key {key}")
    return out


_VAE_ATTN = (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out"))


def vae_to_original(state: dict[str, Any], levels: int) -> dict[str, Any]:
    """A diffusers AutoencoderKL state dict in the original layout (no prefix)."""
    resnet = (("conv_shortcut", "nin_shortcut"),)
    out: dict[str, Any] = {}
    for key, value in state.items():
        if m := re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            out[f"encoder.down.{m[1]}.block.{m[2]}.{_renamed(m[3], resnet)}"] = value
        elif m := re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            out[f"encoder.down.{m[1]}.downsample.conv.{m[2]}"] = value
        elif m := re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            out[f"decoder.up.{levels - 1 - int(m[1])}.block.{m[2]}.{_renamed(m[3], resnet)}"] = value
        elif m := re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            out[f"decoder.up.{levels - 1 - int(m[1])}.upsample.conv.{m[2]}"] = value
        elif m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key):
            out[f"{m[1]}.mid.block_{int(m[2]) + 1}.{_renamed(m[3], resnet)}"] = value
        elif m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)", key):
            renamed = _renamed(m[2], _VAE_ATTN)
            if value.ndim == 2:  # linear -> 1x1 conv, as the original VAE stores attention projections
                value = value[:, :, None, None]
            out[f"{m[1]}.mid.attn_1.{renamed}"] = value
        else:
            out[key.replace("conv_norm_out", "norm_out")] = value
    return out


def open_clip_from_hf(state: dict[str, Any]) -> dict[str, Any]:
    """HF CLIPTextModelWithProjection weights in OpenCLIP's layout (SDXL checkpoints hold CLIP-G this way)."""
    import torch

    out: dict[str, Any] = {}
    layers: dict[int, dict[str, Any]] = {}
    for key, value in state.items():
        if key == "text_model.embeddings.token_embedding.weight":
            out["token_embedding.weight"] = value
        elif key == "text_model.embeddings.position_embedding.weight":
            out["positional_embedding"] = value
        elif key.startswith("text_model.final_layer_norm."):
            out["ln_final." + key.rsplit(".", 1)[1]] = value
        elif key == "text_projection.weight":
            out["text_projection"] = value.T.contiguous()
        elif m := re.match(r"text_model\.encoder\.layers\.(\d+)\.(.*)", key):
            layers.setdefault(int(m[1]), {})[m[2]] = value
    names = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}
    for index, parts in layers.items():
        prefix = f"transformer.resblocks.{index}."
        for kind in ("weight", "bias"):
            qkv = [parts[f"self_attn.{p}_proj.{kind}"] for p in "qkv"]
            out[f"{prefix}attn.in_proj_{kind}"] = torch.cat(qkv, dim=0)
            out[f"{prefix}attn.out_proj.{kind}"] = parts[f"self_attn.out_proj.{kind}"]
            for new, old in names.items():
                out[f"{prefix}{old}.{kind}"] = parts[f"{new}.{kind}"]
    return out


def hf_clip_state(model: Any) -> dict[str, Any]:
    """A transformers CLIP text model's weights with the ``text_model.`` names that CLIP files use."""
    out = {}
    for key, value in model.state_dict().items():
        if key.endswith("position_ids"):
            continue
        if not key.startswith(("text_model.", "text_projection")):
            key = f"text_model.{key}"
        out[key] = value
    return out


def _swap_halves(value: Any) -> Any:
    import torch

    first, second = value.chunk(2, dim=0)
    return torch.cat([second, first], dim=0)


def sd3_to_original(state: dict[str, Any], num_layers: int) -> dict[str, Any]:
    """A diffusers SD3Transformer2DModel state dict in the original MMDiT layout (no prefix)."""
    import torch

    fixed = {
        "pos_embed.proj": "x_embedder.proj",
        "time_text_embed.timestep_embedder.linear_1": "t_embedder.mlp.0",
        "time_text_embed.timestep_embedder.linear_2": "t_embedder.mlp.2",
        "time_text_embed.text_embedder.linear_1": "y_embedder.mlp.0",
        "time_text_embed.text_embedder.linear_2": "y_embedder.mlp.2",
        "context_embedder": "context_embedder",
        "proj_out": "final_layer.linear",
    }
    block = {
        "attn.norm_q": "x_block.attn.ln_q",
        "attn.norm_k": "x_block.attn.ln_k",
        "attn.norm_added_q": "context_block.attn.ln_q",
        "attn.norm_added_k": "context_block.attn.ln_k",
        "attn.to_out.0": "x_block.attn.proj",
        "attn.to_add_out": "context_block.attn.proj",
        "norm1.linear": "x_block.adaLN_modulation.1",
        "norm1_context.linear": "context_block.adaLN_modulation.1",
        "ff.net.0.proj": "x_block.mlp.fc1",
        "ff.net.2": "x_block.mlp.fc2",
        "ff_context.net.0.proj": "context_block.mlp.fc1",
        "ff_context.net.2": "context_block.mlp.fc2",
    }
    out: dict[str, Any] = {"pos_embed": state["pos_embed.pos_embed"]}
    for key, value in state.items():
        module, _, tail = key.rpartition(".")
        if module in fixed:
            out[f"{fixed[module]}.{tail}"] = value
        elif module == "norm_out.linear":
            out[f"final_layer.adaLN_modulation.1.{tail}"] = _swap_halves(value)
        elif m := re.match(r"transformer_blocks\.(\d+)\.(.*)", module):
            index, inner = int(m[1]), m[2]
            if inner in block:
                last = index == num_layers - 1
                if inner == "norm1_context.linear" and last:
                    value = _swap_halves(value)
                out[f"joint_blocks.{index}.{block[inner]}.{tail}"] = value
    for index in range(num_layers):
        for side, names in (
            ("x_block", ("to_q", "to_k", "to_v")),
            ("context_block", ("add_q_proj", "add_k_proj", "add_v_proj")),
        ):
            for tail in ("weight", "bias"):
                parts = [state[f"transformer_blocks.{index}.attn.{name}.{tail}"] for name in names]
                out[f"joint_blocks.{index}.{side}.attn.qkv.{tail}"] = torch.cat(parts, dim=0)
    return out


_FLUX_FIXED = {
    "time_text_embed.timestep_embedder.linear_1": "time_in.in_layer",
    "time_text_embed.timestep_embedder.linear_2": "time_in.out_layer",
    "time_text_embed.text_embedder.linear_1": "vector_in.in_layer",
    "time_text_embed.text_embedder.linear_2": "vector_in.out_layer",
    "time_text_embed.guidance_embedder.linear_1": "guidance_in.in_layer",
    "time_text_embed.guidance_embedder.linear_2": "guidance_in.out_layer",
    "context_embedder": "txt_in",
    "x_embedder": "img_in",
    "proj_out": "final_layer.linear",
}
_FLUX_DOUBLE = {
    "norm1.linear": "img_mod.lin",
    "norm1_context.linear": "txt_mod.lin",
    "attn.to_out.0": "img_attn.proj",
    "attn.to_add_out": "txt_attn.proj",
    "ff.net.0.proj": "img_mlp.0",
    "ff.net.2": "img_mlp.2",
    "ff_context.net.0.proj": "txt_mlp.0",
    "ff_context.net.2": "txt_mlp.2",
}
_FLUX_NORMS = {
    "attn.norm_q": "img_attn.norm.query_norm",
    "attn.norm_k": "img_attn.norm.key_norm",
    "attn.norm_added_q": "txt_attn.norm.query_norm",
    "attn.norm_added_k": "txt_attn.norm.key_norm",
}


def flux_to_original(state: dict[str, Any]) -> dict[str, Any]:
    """A diffusers FluxTransformer2DModel state dict in Black Forest Labs' original layout (no prefix)."""
    import torch

    out: dict[str, Any] = {}
    for key, value in state.items():
        module, _, tail = key.rpartition(".")
        if module in _FLUX_FIXED:
            out[f"{_FLUX_FIXED[module]}.{tail}"] = value
        elif module == "norm_out.linear":
            out[f"final_layer.adaLN_modulation.1.{tail}"] = _swap_halves(value)
        elif m := re.match(r"transformer_blocks\.(\d+)\.(.*)", module):
            index, inner = m[1], m[2]
            if inner in _FLUX_DOUBLE:
                out[f"double_blocks.{index}.{_FLUX_DOUBLE[inner]}.{tail}"] = value
            elif inner in _FLUX_NORMS:
                out[f"double_blocks.{index}.{_FLUX_NORMS[inner]}.scale"] = value
            # attn.to_q/k/v and attn.add_q/k/v_proj are fused into qkv below
        elif m := re.match(r"single_transformer_blocks\.(\d+)\.(.*)", module):
            index, inner = m[1], m[2]
            if inner == "norm.linear":
                out[f"single_blocks.{index}.modulation.lin.{tail}"] = value
            elif inner in ("attn.norm_q", "attn.norm_k"):
                which = "query_norm" if inner == "attn.norm_q" else "key_norm"
                out[f"single_blocks.{index}.norm.{which}.scale"] = value
            elif inner == "proj_out":
                out[f"single_blocks.{index}.linear2.{tail}"] = value
        else:
            raise KeyError(f"no original-layout name for Flux key {key}")
    for index in {int(m[1]) for key in state if (m := re.match(r"transformer_blocks\.(\d+)\.", key))}:
        for side, names in (
            ("img_attn", ("to_q", "to_k", "to_v")),
            ("txt_attn", ("add_q_proj", "add_k_proj", "add_v_proj")),
        ):
            for tail in ("weight", "bias"):
                parts = [state[f"transformer_blocks.{index}.attn.{name}.{tail}"] for name in names]
                out[f"double_blocks.{index}.{side}.qkv.{tail}"] = torch.cat(parts, dim=0)
    for index in {int(m[1]) for key in state if (m := re.match(r"single_transformer_blocks\.(\d+)\.", key))}:
        for tail in ("weight", "bias"):
            pieces = ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")
            parts = [state[f"single_transformer_blocks.{index}.{name}.{tail}"] for name in pieces]
            out[f"single_blocks.{index}.linear1.{tail}"] = torch.cat(parts, dim=0)
    return out


def t5_state(model: Any) -> dict[str, Any]:
    """A T5EncoderModel's weights as T5-XXL files hold them (``shared.weight``, ``encoder.*``)."""
    return {k: v for k, v in model.state_dict().items() if k != "encoder.embed_tokens.weight"}


def _denoiser_original(family: str, network: Any) -> dict[str, Any]:
    if family == "sd3":
        return sd3_to_original(network.state_dict(), network.config.num_layers)
    if family == "flux":
        return flux_to_original(network.state_dict())
    return unet_to_original(network.state_dict(), network.config)


def original_state_dict(family: str, parts: dict[str, Any]) -> dict[str, Any]:
    """A whole single-file checkpoint of ``family`` (every component under its original prefix)."""
    unet, vae = parts["denoiser"], parts["vae"]
    out: dict[str, Any] = {}
    body = _denoiser_original(family, unet)
    out.update({f"model.diffusion_model.{k}": v for k, v in body.items()})
    levels = len(vae.config.block_out_channels)
    vae_prefix = "vae." if family == "flux" else "first_stage_model."  # ComfyUI's Flux checkpoints say vae.
    out.update({f"{vae_prefix}{k}": v for k, v in vae_to_original(vae.state_dict(), levels).items()})
    clip_l = hf_clip_state(parts["clip_l"]) if "clip_l" in parts else {}
    if family == "flux":
        out.update({f"text_encoders.clip_l.transformer.{k}": v for k, v in clip_l.items()})
        out.update({f"text_encoders.t5xxl.transformer.{k}": v for k, v in t5_state(parts["t5"]).items()})
    elif family == "sd2":
        h = open_clip_from_hf(hf_clip_state(parts["clip_h"]))
        out.update({f"cond_stage_model.model.{k}": v for k, v in h.items()})
    elif family == "sd1":
        out.update({f"cond_stage_model.transformer.{k}": v for k, v in clip_l.items()})
    elif family == "sdxl":
        out.update({f"conditioner.embedders.0.transformer.{k}": v for k, v in clip_l.items()})
        g = open_clip_from_hf(hf_clip_state(parts["clip_g"]))
        out.update({f"conditioner.embedders.1.model.{k}": v for k, v in g.items()})
    else:
        out.update({f"text_encoders.clip_l.transformer.{k}": v for k, v in clip_l.items()})
        g = hf_clip_state(parts["clip_g"])
        out.update({f"text_encoders.clip_g.transformer.{k}": v for k, v in g.items()})
    return {k: v.contiguous() for k, v in out.items() if not k.endswith("position_ids")}


def _save(state: dict[str, Any], path: Path, metadata: dict[str, str] | None = None) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata=metadata)
    return path


def make_tiny_checkpoint(
    family: str,
    path: str | Path,
    seed: int = 0,
    *,
    inpainting: bool = False,
    metadata: dict[str, str] | None = None,
    guidance: bool = True,
    image_concat: bool = False,
) -> Path:
    """Write a tiny single-file checkpoint of ``family`` in the original key layout; returns its path.
    ``inpainting``: a 9-input-channel UNet (sd1, sd2); ``metadata``: safetensors metadata to store; ``guidance``
    (flux): dev-like with a guidance embedding, else schnell-like. A flux checkpoint's T5 needs a tokenizer
    beside it or in text_encoders/t5_tokenizer/ (``make_tiny_t5_tokenizer``)."""
    parts = tiny_components(family, seed, inpainting=inpainting, guidance=guidance, image_concat=image_concat)
    return _save(original_state_dict(family, parts), Path(path), metadata=metadata)


def make_tiny_component_files(
    family: str,
    folder: str | Path,
    seed: int = 0,
    *,
    guidance: bool = True,
    inpainting: bool = False,
    image_concat: bool = False,
) -> dict[str, Path]:
    """Separate tiny files as ComfyUI's folders hold them: ``diffusion_model`` (original layout, no prefix),
    ``vae`` (original layout), ``clip_l``/``clip_g`` (HF layout), ``t5`` (flux: T5-XXL's file layout);
    ``inpainting`` as in ``tiny_components`` (flux: a Fill transformer)."""
    folder = Path(folder)
    parts = tiny_components(family, seed, guidance=guidance, inpainting=inpainting, image_concat=image_concat)
    body = _denoiser_original(family, parts["denoiser"])
    files = {
        "diffusion_model": _save(body, folder / f"tiny-{family}-unet.safetensors"),
        "vae": _save(
            vae_to_original(parts["vae"].state_dict(), len(parts["vae"].config.block_out_channels)),
            folder / f"tiny-{family}-vae.safetensors",
        ),
    }
    for role in ("clip_l", "clip_g", "clip_h"):
        if role in parts:
            state = hf_clip_state(parts[role])
            files[role] = _save(state, folder / f"tiny-{family}-{role}.safetensors")
    if "t5" in parts:
        files["t5"] = _save(t5_state(parts["t5"]), folder / f"tiny-{family}-t5.safetensors")
    return files


_PIPELINES = {
    "sd1": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "sd3": "StableDiffusion3Pipeline",
    "flux": "FluxPipeline",
}


def make_tiny_diffusers_folder(family: str, folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny diffusers pipeline folder of ``family`` (``save_pretrained`` per component)."""
    folder = Path(folder)
    parts = tiny_components(family, seed)
    names = {"denoiser": "transformer" if family in ("sd3", "flux") else "unet", "vae": "vae"}
    names.update(clip_l="text_encoder", clip_g="text_encoder_2", t5="text_encoder_2")
    index: dict[str, Any] = {"_class_name": _PIPELINES[family], "_diffusers_version": "0.0.0"}
    for role, model in parts.items():
        model.save_pretrained(str(folder / names[role]), safe_serialization=True)
        library = "transformers" if role.startswith("clip") or role == "t5" else "diffusers"
        index[names[role]] = [library, type(model).__name__]
    if family == "flux":
        make_tiny_t5_tokenizer(folder / "tokenizer_2" / "tokenizer.json")
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder


_LORA_TARGETS = {
    # family -> (lora key prefix, module name regex of the denoiser, text encoder prefixes)
    "sd1": ("lora_unet_", r".*attn[12]\.to_[qkv]$", ("lora_te_",)),
    "sdxl": ("lora_unet_", r".*attn[12]\.to_[qkv]$", ("lora_te1_", "lora_te2_")),
    "sd3": ("lora_unet_", r"transformer_blocks\.\d+\.attn\.(to_[qkv]|add_[qkv]_proj)$", ()),
}
_LORA_ARCH = {
    "sd1": "stable-diffusion-v1/lora",
    "sdxl": "stable-diffusion-xl-v1-base/lora",
    "sd3": "stable-diffusion-v3-medium/lora",
}


def make_tiny_lora(
    family: str, path: str | Path, *, rank: int = 4, seed: int = 1, layout: str = "kohya"
) -> Path:
    """Write a kohya-style LoRA (``lora_unet_*``/``lora_te*_*`` with ``lora_down``/``lora_up``/``alpha``) for the
    tiny ``family`` networks, targeting the attention projections. For flux, ``layout`` ``kohya`` names Black
    Forest Labs' modules (fused qkv, single blocks' linear1/linear2), ``peft`` diffusers' own
    (``transformer.<module>.lora_A``/``lora_B``, no alpha)."""
    import torch

    parts = tiny_components(family, 0)
    _seed(seed)
    if family == "flux":
        return _save(_flux_lora(parts["denoiser"], rank, layout), Path(path))
    prefix, pattern, te_prefixes = _LORA_TARGETS[family]
    state: dict[str, Any] = {}

    def add(name: str, module: Any) -> None:
        down = torch.randn(rank, module.in_features) * 0.5
        up = torch.randn(module.out_features, rank) * 0.5
        state[f"{name}.lora_down.weight"] = down
        state[f"{name}.lora_up.weight"] = up
        state[f"{name}.alpha"] = torch.tensor(float(rank))

    for module_name, module in parts["denoiser"].named_modules():
        if re.match(pattern, module_name) and isinstance(module, torch.nn.Linear):
            add(prefix + module_name.replace(".", "_"), module)
    for te_prefix, role in zip(te_prefixes, ("clip_l", "clip_g"), strict=False):
        for module_name, module in parts[role].named_modules():
            if not module_name.startswith("text_model."):  # kohya names the modules as the files do
                module_name = f"text_model.{module_name}"
            if re.match(r"text_model\.encoder\.layers\.\d+\.self_attn\.[qv]_proj$", module_name):
                add(te_prefix + module_name.replace(".", "_"), module)
    return _save(state, Path(path), metadata={"modelspec.architecture": _LORA_ARCH[family]})


def _flux_lora(network: Any, rank: int, layout: str) -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {}
    if layout == "kohya":
        original = flux_to_original(network.state_dict())
        wanted = r"(double_blocks\.\d+\.(img_attn\.qkv|txt_attn\.qkv|img_attn\.proj|img_mlp\.0)|single_blocks\.\d+\.linear[12])"
        for key, value in original.items():
            module, _, tail = key.rpartition(".")
            if tail == "weight" and re.fullmatch(wanted, module):
                name = "lora_unet_" + module.replace(".", "_")
                state[f"{name}.lora_down.weight"] = torch.randn(rank, value.shape[1]) * 0.5
                state[f"{name}.lora_up.weight"] = torch.randn(value.shape[0], rank) * 0.5
                state[f"{name}.alpha"] = torch.tensor(float(rank) / 2)
        return state
    if layout != "peft":
        raise ValueError(f"layout {layout!r}: kohya or peft")
    wanted = r"(transformer_blocks\.\d+\.attn\.(to_[qkv]|add_[qkv]_proj)|single_transformer_blocks\.\d+\.(attn\.to_[qkv]|proj_mlp|proj_out))"
    for module_name, module in network.named_modules():
        if re.fullmatch(wanted, module_name) and isinstance(module, torch.nn.Linear):
            state[f"transformer.{module_name}.lora_A.weight"] = torch.randn(rank, module.in_features) * 0.5
            state[f"transformer.{module_name}.lora_B.weight"] = torch.randn(module.out_features, rank) * 0.5
    return state


def make_tiny_upscaler(path: str | Path, *, scale: int = 2, seed: int = 0) -> Path:
    """Write a tiny ESRGAN (RRDBNet, old original key layout) with ``scale`` 2 or 4 that spandrel loads."""
    import torch

    _seed(seed)
    features, growth, blocks = 8, 32, 1  # spandrel reads ESRGAN with its fixed growth of 32
    state: dict[str, Any] = {}

    def conv(name: str, cin: int, cout: int) -> None:
        state[f"{name}.weight"] = torch.randn(cout, cin, 3, 3) * 0.05
        state[f"{name}.bias"] = torch.zeros(cout)

    conv("model.0", 3, features)
    for block in range(blocks):
        for rdb in range(1, 4):
            for layer in range(1, 6):
                cin = features + (layer - 1) * growth
                cout = growth if layer < 5 else features
                conv(f"model.1.sub.{block}.RDB{rdb}.conv{layer}.0", cin, cout)
    conv(f"model.1.sub.{blocks}", features, features)
    index = 3
    for _ in range({2: 1, 4: 2}[scale]):
        conv(f"model.{index}", features, features)
        index += 3
    conv(f"model.{index - 1}", features, features)
    conv(f"model.{index + 1}", features, 3)
    return _save(state, Path(path))


# -- the SDXL refiner --------------------------------------------------------------------------------------------

_REFINER_CLIP_G = {**_CLIP_G, "projection_dim": _CLIP_G["hidden_size"]}  # pooled as wide as the context


def tiny_refiner_components(seed: int = 0) -> dict[str, Any]:
    """The tiny SDXL refiner in diffusers/transformers form: a 4-level UNet (its first and last levels without
    attention, as the refiner's) with 5 time ids, the SDXL VAE and an OpenCLIP-G-like text encoder."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    _seed(seed)
    width = _REFINER_CLIP_G["hidden_size"]
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(32, 32, 64, 64),
        layers_per_block=1,
        cross_attention_dim=width,
        attention_head_dim=(1, 1, 1, 1),
        transformer_layers_per_block=(1, 1, 1, 1),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=width + 5 * 256,
        norm_num_groups=32,
    )
    config = CLIPTextConfig(
        vocab_size=49408,
        max_position_embeddings=77,
        num_attention_heads=1,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
        **_REFINER_CLIP_G,
    )
    parts = {"denoiser": unet, "vae": _vae("sdxl"), "clip_g": CLIPTextModelWithProjection(config)}
    return {role: model.eval() for role, model in parts.items()}


def refiner_state_dict(parts: dict[str, Any]) -> dict[str, Any]:
    """A whole SDXL refiner single-file checkpoint: UNet, VAE and OpenCLIP-G at ``conditioner.embedders.0``."""
    unet, vae = parts["denoiser"], parts["vae"]
    out = {
        f"model.diffusion_model.{k}": v for k, v in unet_to_original(unet.state_dict(), unet.config).items()
    }
    levels = len(vae.config.block_out_channels)
    out.update({f"first_stage_model.{k}": v for k, v in vae_to_original(vae.state_dict(), levels).items()})
    g = open_clip_from_hf(hf_clip_state(parts["clip_g"]))
    out.update({f"conditioner.embedders.0.model.{k}": v for k, v in g.items()})
    return {k: v.contiguous() for k, v in out.items()}


def make_tiny_refiner_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """Write a tiny SDXL refiner single-file checkpoint (sd_xl_refiner_1.0's layout); returns its path."""
    return _save(refiner_state_dict(tiny_refiner_components(seed)), Path(path))


def make_tiny_refiner_unet(path: str | Path, seed: int = 0) -> Path:
    """Write the tiny refiner's UNet alone (original layout, no prefix), as ComfyUI's unet folder holds it."""
    unet = tiny_refiner_components(seed)["denoiser"]
    return _save(unet_to_original(unet.state_dict(), unet.config), Path(path))


def make_tiny_refiner_diffusers_folder(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny SDXL refiner diffusers folder (an img2img pipeline without ``text_encoder``)."""
    folder = Path(folder)
    parts = tiny_refiner_components(seed)
    names = {"denoiser": "unet", "vae": "vae", "clip_g": "text_encoder_2"}
    index: dict[str, Any] = {
        "_class_name": "StableDiffusionXLImg2ImgPipeline",
        "_diffusers_version": "0.0.0",
        "requires_aesthetics_score": True,
        "force_zeros_for_empty_prompt": False,
        "text_encoder": [None, None],
        "tokenizer": [None, None],
    }
    for role, model in parts.items():
        model.save_pretrained(str(folder / names[role]), safe_serialization=True)
        index[names[role]] = ["transformers" if role == "clip_g" else "diffusers", type(model).__name__]
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder


# -- ControlNets ---------------------------------------------------------------------------------------------------


def tiny_controlnet(family: str, seed: int = 0) -> Any:
    """A ControlNetModel made from the tiny ``family`` UNet of the same seed (diffusers' ``from_unet``), its
    zero-initialised output convolutions filled with small random weights so that it changes the result."""
    import torch
    from diffusers import ControlNetModel

    if family not in ("sd1", "sd2", "sdxl"):
        raise ValueError(f"no tiny ControlNet for family {family!r} (sd1, sd2 and sdxl have one)")
    _seed(seed)
    unet = _denoiser(family)
    net = ControlNetModel.from_unet(unet)
    generator = torch.Generator().manual_seed(seed + 1)
    zeroed = [*net.controlnet_down_blocks, net.controlnet_mid_block, net.controlnet_cond_embedding.conv_out]
    with torch.no_grad():
        for module in zeroed:
            for param in module.parameters():
                param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
    return net.eval()


def controlnet_to_original(state: dict[str, Any], config: Any) -> dict[str, Any]:
    """A diffusers ControlNetModel state dict in the original ControlNet layout (no ``control_model.`` prefix)."""
    blocks = len({k.split(".")[2] for k in state if k.startswith("controlnet_cond_embedding.blocks.")})
    hint = {"conv_in": 0, "conv_out": 2 * (blocks + 1)}
    out: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for key, value in state.items():
        if m := re.match(r"controlnet_down_blocks\.(\d+)\.(.*)", key):
            out[f"zero_convs.{m[1]}.0.{m[2]}"] = value
        elif m := re.match(r"controlnet_mid_block\.(.*)", key):
            out[f"middle_block_out.0.{m[1]}"] = value
        elif m := re.match(r"controlnet_cond_embedding\.blocks\.(\d+)\.(.*)", key):
            out[f"input_hint_block.{2 * (int(m[1]) + 1)}.{m[2]}"] = value
        elif m := re.match(r"controlnet_cond_embedding\.(conv_in|conv_out)\.(.*)", key):
            out[f"input_hint_block.{hint[m[1]]}.{m[2]}"] = value
        else:
            body[key] = value
    out.update(unet_to_original(body, {"layers_per_block": config["layers_per_block"], "up_block_types": []}))
    return out


def make_tiny_controlnet(family: str, path: str | Path, seed: int = 0, *, layout: str = "original") -> Path:
    """Write a tiny ControlNet for the tiny ``family`` checkpoint: ``original`` (a single file with
    ``control_model.*`` keys, as lllyasviel's ControlNet-v1-1 files), ``diffusers_keys`` (a single file in
    diffusers' names, as controlnet-canny-sdxl-1.0's weights) or ``diffusers`` (a folder, ``save_pretrained``)."""
    net = tiny_controlnet(family, seed)
    path = Path(path)
    if layout == "diffusers":
        net.save_pretrained(str(path), safe_serialization=True)
        return path
    state = net.state_dict()
    if layout == "original":
        body = controlnet_to_original(state, net.config)
        return _save({f"control_model.{k}": v for k, v in body.items()}, path)
    if layout == "diffusers_keys":
        return _save(dict(state), path)
    raise ValueError(f"unknown ControlNet layout {layout!r}: original, diffusers_keys or diffusers")


# -- CLIP vision and Flux Redux --------------------------------------------------------------------------------

_VISION: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 16,  # the real towers' count, which the loader takes from its shipped configs
    "patch_size": 14,
    "image_size": 28,
}


def tiny_clip_vision(
    kind: str = "clip", seed: int = 0, *, projection_dim: int = 32, head: bool = True
) -> Any:
    """A tiny random vision tower: ``clip`` (CLIPVisionModelWithProjection, GELU as OpenCLIP's ViT-G/H) or
    ``siglip`` (SiglipVisionModel, with its attention-pooling head when ``head``)."""
    from transformers import (
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    _seed(seed)
    if kind == "siglip":
        config = SiglipVisionConfig(**_VISION, hidden_act="gelu_pytorch_tanh", vision_use_head=head)
        return SiglipVisionModel(config).eval()
    clip_config = CLIPVisionConfig(**_VISION, hidden_act="gelu", projection_dim=projection_dim)
    return CLIPVisionModelWithProjection(clip_config).eval()


def clip_vision_to_open_clip(state: dict[str, Any]) -> dict[str, Any]:
    """transformers' CLIP vision names -> OpenCLIP's ``visual.*`` layout (the inverse of the loader's conversion)."""
    import torch

    top = {
        "vision_model.embeddings.class_embedding": "class_embedding",
        "vision_model.embeddings.patch_embedding.weight": "conv1.weight",
        "vision_model.embeddings.position_embedding.weight": "positional_embedding",
        "vision_model.pre_layrnorm.weight": "ln_pre.weight",
        "vision_model.pre_layrnorm.bias": "ln_pre.bias",
        "vision_model.post_layernorm.weight": "ln_post.weight",
        "vision_model.post_layernorm.bias": "ln_post.bias",
    }
    block = {
        "layer_norm1": "ln_1",
        "layer_norm2": "ln_2",
        "self_attn.out_proj": "attn.out_proj",
        "mlp.fc1": "mlp.c_fc",
        "mlp.fc2": "mlp.c_proj",
    }
    out: dict[str, Any] = {}
    layers = {int(m[1]) for k in state if (m := re.match(r"vision_model\.encoder\.layers\.(\d+)\.", k))}
    for name, value in state.items():
        if name in top:
            out[f"visual.{top[name]}"] = value
        elif name == "visual_projection.weight":
            out["visual.proj"] = value.t().contiguous()
    for index in sorted(layers):
        old = f"vision_model.encoder.layers.{index}."
        new = f"visual.transformer.resblocks.{index}."
        for source, target in block.items():
            for tail in ("weight", "bias"):
                out[f"{new}{target}.{tail}"] = state[f"{old}{source}.{tail}"]
        for tail in ("weight", "bias"):
            parts = [state[f"{old}self_attn.{p}_proj.{tail}"] for p in "qkv"]
            out[f"{new}attn.in_proj_{tail}"] = torch.cat(parts, dim=0)
    return out


def make_tiny_clip_vision(
    path: str | Path, kind: str = "clip", seed: int = 0, *, layout: str = "hf", projection_dim: int = 32
) -> Path:
    """Write a tiny CLIP vision file in ComfyUI's layouts: ``hf`` (``vision_model.*`` + ``visual_projection``, as
    clip_vision_g / clip_vision_h; for ``siglip``: sigclip_vision_patch14_384's ``vision_model.*``) or
    ``open_clip`` (``visual.*``, CLIP only)."""
    model = tiny_clip_vision(kind, seed, projection_dim=projection_dim)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    if kind == "siglip":  # transformers 5 names SiglipVisionModel's weights without the file's prefix
        state = {k if k.startswith("vision_model.") else f"vision_model.{k}": v for k, v in state.items()}
    if layout == "open_clip":
        if kind != "clip":
            raise ValueError("the OpenCLIP layout is for CLIP vision towers")
        state = clip_vision_to_open_clip(state)
    elif layout != "hf":
        raise ValueError(f"unknown CLIP vision layout {layout!r}: hf or open_clip")
    return _save(state, Path(path))


def make_tiny_redux(
    path: str | Path, seed: int = 0, *, in_features: int = 32, out_features: int = 32
) -> Path:
    """Write a tiny Flux Redux style model (``redux_up``: in -> 3 x out, ``redux_down``: 3 x out -> out) for the tiny
    SigLIP (``in_features``) and the tiny Flux text width (``out_features``, the tiny T5's)."""
    import torch

    _seed(seed)
    up = torch.nn.Linear(in_features, out_features * 3)
    down = torch.nn.Linear(out_features * 3, out_features)
    state = {
        "redux_up.weight": up.weight.detach(),
        "redux_up.bias": up.bias.detach(),
        "redux_down.weight": down.weight.detach(),
        "redux_down.bias": down.bias.detach(),
    }
    return _save(state, Path(path))
