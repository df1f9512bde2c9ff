"""FLUX.1 (dev, schnell): a rectified-flow transformer on 16-channel latents packed 2x2 into tokens, CLIP-L's pooled
output + T5-XXL's sequence as text, and for dev a distilled guidance value from the conditioning.

The network is diffusers' ``FluxTransformer2DModel``; original-layout weights (``double_blocks.*``/``single_blocks.*``,
bare or under ``model.diffusion_model.``) are converted with diffusers' single-file converter. The T5 encoder is
transformers' ``T5EncoderModel`` with its architecture read from the weights. No T5 tokenizer ships with the pack:
the loaders find ``tokenizer.json`` or ``spiece.model`` next to the T5 weights or in the model library's
``text_encoders/t5_tokenizer/`` folder (a diffusers folder has its own in ``tokenizer_2/``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodepacks import sdk
from nodepacks.diffusion.families import _common as common
from nodepacks.diffusion.families._common import _count
from nodepacks.diffusion.families._t5 import (
    T5_TOKENIZER_FOLDER,
    T5Tokens,
    diffusers_t5_tokenizer,
    encode_t5,
    find_t5_tokenizer,
    load_t5_state,
    t5_state,
)
from nodepacks.diffusion.families.registry import Family
from nodepacks.diffusion.handles import (
    Cond,
    DiffusionError,
    LatentFormat,
    ModelSampling,
    TextEncoder,
    WeightsSource,
)
from nodepacks.diffusion.tokenizers import EOS, clip_token_chunks
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

FLUX_DETECT_KEY = "double_blocks.0.img_attn.qkv.weight"
GUIDANCE_KEY = "guidance_in.in_layer.weight"
T5_MIN_TOKENS = 256  # ComfyUI pads Flux's T5 prompt to 256 tokens (id 0) after its end token
DEFAULT_GUIDANCE = 3.5  # ComfyUI's value when no FluxGuidance set one
# ComfyUI's ModelSamplingFlux: mu 1.15 for dev, 1.0 for schnell (the shift is exp(mu)), 10000 timesteps.
DEV_MU, SCHNELL_MU = 1.15, 1.0
FLUX_TIMESTEPS = 10000
_REAL_WIDTH = 3072  # FLUX.1's width, which diffusers' converter assumes when it splits single blocks
MASK_BLOCK = 8  # Fill: the pixel mask enters as 8x8 blocks, one channel per pixel of a latent pixel
# How reference latents' positions are laid out (ComfyUI's FluxKontextMultiReferenceLatentMethod; uxo/uno -> uxo).
REFERENCE_METHODS = ("offset", "index", "uxo")


def flux_sampling(mu: float) -> ModelSampling:
    """Flux's flow schedule for time shift ``mu`` (ComfyUI's ``shift``): timestep = sigma, 10000 steps."""
    return ModelSampling.flow(shift=math.exp(mu), multiplier=1.0, timesteps=FLUX_TIMESTEPS)


def transformer_config_from_original(state: dict[str, torch.Tensor], base: dict[str, Any]) -> dict[str, Any]:
    """A diffusers FluxTransformer2DModel config for original-layout Flux weights (prefix removed)."""
    config = {k: v for k, v in base.items() if not k.startswith("_")}
    width, in_channels = state["img_in.weight"].shape
    head_dim = int(state["double_blocks.0.img_attn.norm.query_norm.scale"].shape[0])
    axes = config.get("axes_dims_rope", [16, 56, 56])
    if sum(axes) != head_dim:
        # Only the positional split is not in the weights; FLUX.1 gives 1/8 to the index axis and halves the rest.
        first = head_dim // 8
        axes = [first, (head_dim - first) // 2, (head_dim - first) // 2]
    config.update(
        in_channels=int(in_channels),
        out_channels=int(state["final_layer.linear.weight"].shape[0]),
        num_layers=_count(state, r"double_blocks\.(\d+)\."),
        num_single_layers=_count(state, r"single_blocks\.(\d+)\."),
        attention_head_dim=head_dim,
        num_attention_heads=int(width) // head_dim,
        joint_attention_dim=int(state["txt_in.weight"].shape[1]),
        pooled_projection_dim=int(state["vector_in.in_layer.weight"].shape[1]),
        guidance_embeds=GUIDANCE_KEY in state,
        axes_dims_rope=axes,
    )
    return config


def convert_original(state: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Original Flux weights -> diffusers names with diffusers' converter.

    The converter splits each single block's fused ``linear1`` (q, k, v, mlp) at FLUX.1's width of 3072; at another
    width (the tests' tiny models) those four tensors are split here and the converter gets same-sized stand-ins."""
    import torch
    from diffusers.loaders.single_file_utils import convert_flux_transformer_checkpoint_to_diffusers

    width = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    state = dict(state)
    own: dict[str, torch.Tensor] = {}
    if width != _REAL_WIDTH:
        fused_rows = 3 * _REAL_WIDTH + 4 * _REAL_WIDTH
        for index in range(int(config["num_single_layers"])):
            prefix = f"single_blocks.{index}.linear1."
            for tail in ("weight", "bias"):
                fused = state[prefix + tail]
                q, k, v, mlp = torch.split(fused, [width, width, width, fused.shape[0] - 3 * width], dim=0)
                for name, part in (("attn.to_q", q), ("attn.to_k", k), ("attn.to_v", v), ("proj_mlp", mlp)):
                    own[f"single_transformer_blocks.{index}.{name}.{tail}"] = part
                shape = (fused_rows,) if tail == "bias" else (fused_rows, 1)
                state[prefix + tail] = torch.zeros((), dtype=fused.dtype).expand(shape)
    converted: dict[str, torch.Tensor] = convert_flux_transformer_checkpoint_to_diffusers(state)
    converted.update(own)
    return converted


class FluxFamily(Family):
    """FLUX.1 dev (guidance-distilled), schnell (timestep-distilled), Kontext (reference latents as extra image
    tokens) and Fill (mask and masked image latent as 320 extra input features)."""

    name = "flux"
    display_name = "FLUX.1"
    latent_format = LatentFormat(channels=16, scale_factor=0.3611, shift_factor=0.1159)
    input_packing = 4
    reference_latents = True
    clip_roles = ("clip_l", "t5")
    config_dir = "flux"
    pipelines = ("FluxPipeline", "FluxImg2ImgPipeline")
    checkpoint_clip_prefixes = {
        "clip_l": "text_encoders.clip_l.transformer.",
        "t5": "text_encoders.t5xxl.transformer.",
    }
    diffusers_clip_folders = {"clip_l": "text_encoder", "t5": "text_encoder_2"}

    def default_sampling(self) -> ModelSampling:
        return flux_sampling(DEV_MU)

    def detect_keys(self, keys: Collection[str]) -> bool:
        return FLUX_DETECT_KEY in strip_prefix(set(keys), DIFFUSION_MODEL_PREFIX)

    def detect_diffusers(self, model_index: dict[str, Any]) -> bool:
        return model_index.get("_class_name") in self.pipelines

    def sampling_for(self, source: WeightsSource) -> ModelSampling:
        return flux_sampling(DEV_MU if self.has_guidance(source) else SCHNELL_MU)

    def has_guidance(self, source: WeightsSource) -> bool:
        """True for a guidance-distilled (dev-like) transformer, False for schnell-like."""
        if source.layout == "diffusers":
            config = Path(source.path) / "transformer" / "config.json"
            try:
                return bool(json.loads(config.read_text()).get("guidance_embeds", False))
            except (OSError, ValueError):
                return True
        return GUIDANCE_KEY in strip_prefix(set(read_keys(source.path)), DIFFUSION_MODEL_PREFIX)

    def text_sources(
        self, models: sdk.ModelProvider, sources: tuple[WeightsSource, ...]
    ) -> tuple[WeightsSource, ...]:
        """``sources`` and the T5 tokenizer they need (a diffusers folder brings its own)."""
        if any(s.layout == "diffusers" or s.role == "t5_tokenizer" for s in sources):
            return sources
        t5 = next((s for s in sources if s.layout == "checkpoint" or s.role == "t5"), None)
        if t5 is None:
            return sources
        return (*sources, find_t5_tokenizer(models, Path(t5.path)))

    # -- loading ------------------------------------------------------------------------------------------------

    def load_diffusion_model(self, source: WeightsSource, device: str, dtype: torch.dtype) -> Any:
        from diffusers import FluxTransformer2DModel

        if source.layout == "diffusers":
            return common.load_diffusers_component(FluxTransformer2DModel, source.path, "transformer")
        prefixes = (
            (DIFFUSION_MODEL_PREFIX,) if source.layout == "checkpoint" else (DIFFUSION_MODEL_PREFIX, "")
        )
        state = load_tensors(source.path, prefixes)
        name = Path(source.path).name
        if FLUX_DETECT_KEY not in state:
            raise DiffusionError(f"{name}: holds no Flux transformer in the original layout")
        config = transformer_config_from_original(state, shipped_config(self.config_dir, "transformer.json"))
        converted = convert_original(state, config)
        return common.build(FluxTransformer2DModel, config, converted, name, "Flux transformer")

    def load_vae(self, source: WeightsSource, device: str, dtype: torch.dtype) -> Any:
        return common.load_vae(source, shipped_config(self.config_dir, "vae.json"))

    def load_text_encoders(self, clip: TextEncoder, device: str, dtype: torch.dtype) -> Any:
        from transformers import CLIPTextModel, CLIPTextModelWithProjection, T5EncoderModel

        stack: dict[str, Any] = {}
        main = next((s for s in clip.sources if s.layout in ("checkpoint", "diffusers")), None)
        if main is not None and main.layout == "diffusers":
            folder = Path(main.path)
            clip_config = (folder / "text_encoder" / "config.json").read_text()
            clip_cls = CLIPTextModelWithProjection if "WithProjection" in clip_config else CLIPTextModel
            stack["clip_l"] = common.load_diffusers_component(clip_cls, main.path, "text_encoder")
            stack["t5"] = common.load_diffusers_component(T5EncoderModel, main.path, "text_encoder_2")
            tokenizer = diffusers_t5_tokenizer(folder, "tokenizer_2")
            if tokenizer is None:
                raise DiffusionError(
                    f"{folder}: diffusers folder has no tokenizer_2/tokenizer.json or spiece.model"
                )
        else:
            clip_source = main or self._role(clip, "clip_l")
            state = common.clip_state_for_role(clip_source, "clip_l", self.checkpoint_clip_prefixes)
            base = shipped_config(self.config_dir, "clip_l.json")
            stack["clip_l"] = common.load_clip_state(state, base, Path(clip_source.path).name, "clip_l")
            t5_source = main or self._role(clip, "t5")
            stack["t5"] = load_t5_state(
                t5_state(t5_source, self.checkpoint_clip_prefixes["t5"]),
                shipped_config(self.config_dir, "t5xxl.json"),
                Path(t5_source.path).name,
            )
            tokenizer = Path(self._role(clip, "t5_tokenizer").path)
        models = {role: place(model, device, dtype) for role, model in stack.items()}
        return {**models, "t5_tokens": T5Tokens(tokenizer, T5_MIN_TOKENS)}

    def _role(self, clip: TextEncoder, role: str) -> WeightsSource:
        for source in clip.sources:
            if source.role == role:
                return source
        if role == "t5_tokenizer":
            raise DiffusionError(
                "the Flux text encoder has no T5 tokenizer: load it with DualCLIPLoader (type flux) or a "
                f"checkpoint loader, with tokenizer.json or spiece.model in text_encoders/{T5_TOKENIZER_FOLDER}/"
            )
        raise DiffusionError(f"the flux text encoder needs a {role} model, none was given")

    # -- running ------------------------------------------------------------------------------------------------

    def encode_text(self, stack: Any, text: str, layer: int | None) -> Cond:
        return self.encode_pair(stack, text, text)

    def encode_pair(self, stack: Any, clip_text: str, t5_text: str) -> Cond:
        """CLIP-L's pooled output of ``clip_text`` and T5's sequence of ``t5_text`` (CLIPTextEncodeFlux)."""
        import torch

        clip, t5 = stack["clip_l"], stack["t5"]
        ids = clip_token_chunks(clip_text)[0]
        with torch.inference_mode():
            # CLIP-L's pooled output without projection: the final hidden state at the first end token.
            hidden = clip(input_ids=torch.tensor([ids], device=clip.device), output_hidden_states=True)
            last = hidden.last_hidden_state
            pooled = last[:, ids.index(EOS) if EOS in ids else len(ids) - 1]
        sequence = encode_t5(t5, stack["t5_tokens"], t5_text)
        return Cond(
            cross_attn=sequence.float().cpu().numpy(),
            pooled_output=pooled.float().cpu().numpy(),
        )

    def concat_input(self, cond: dict[str, Any], x: torch.Tensor, extra_channels: int) -> torch.Tensor | None:
        """FLUX.1 Fill's 80 extra channels (ComfyUI's order): the masked image's latent (16, denoiser space) and
        the pixel mask cut into 8x8 blocks (64 channels, one per pixel of a latent pixel); a 16-channel model
        (Canny/Depth) takes the image latent alone. Without a mask all of it regenerates (ones), without an image
        latent a zero latent is used, as ComfyUI does."""
        import torch

        channels = self.latent_format.channels
        if extra_channels not in (channels, channels + MASK_BLOCK * MASK_BLOCK):
            raise DiffusionError(
                f"this Flux transformer takes {extra_channels} input channels beyond the {channels}-channel "
                f"latent; only Fill ({channels} + {MASK_BLOCK * MASK_BLOCK}) and Canny/Depth ({channels}) "
                "models are supported"
            )
        batch, _, height, width = x.shape
        image = cond.get("concat_latent_image")
        if image is None:
            image_t = torch.zeros(batch, channels, height, width, device=x.device, dtype=torch.float32)
        else:
            image_t = torch.as_tensor(image).to(x.device, torch.float32)
            if image_t.ndim != 4 or image_t.shape[1] != channels:
                raise DiffusionError(
                    f"the conditioning's image latent has shape {tuple(image_t.shape)} but Flux works on "
                    f"{channels}-channel latents: encode the image with the Flux VAE"
                )
            if image_t.shape[-2:] != (height, width):
                image_t = torch.nn.functional.interpolate(image_t, size=(height, width), mode="bilinear")
        parts = [_to_batch(self.latent_format.process_in(image_t), batch)]
        if extra_channels > channels:
            mask = cond.get("concat_mask")
            size = (height * MASK_BLOCK, width * MASK_BLOCK)
            if mask is None:
                mask_t = torch.ones(batch, 1, *size, device=x.device, dtype=torch.float32)
            else:
                mask_t = torch.as_tensor(mask).to(x.device, torch.float32)
                if mask_t.ndim == 2:  # (h, w)
                    mask_t = mask_t[None]
                if mask_t.ndim == 3:  # (b, h, w)
                    mask_t = mask_t[:, None]
                mask_t = mask_t.mean(dim=1, keepdim=True)
                if tuple(mask_t.shape[-2:]) != size:
                    mask_t = torch.nn.functional.interpolate(mask_t, size=size, mode="bilinear")
            blocks = mask_t.reshape(-1, height, MASK_BLOCK, width, MASK_BLOCK).permute(0, 2, 4, 1, 3)
            parts.append(_to_batch(blocks.reshape(-1, MASK_BLOCK * MASK_BLOCK, height, width), batch))
        return torch.cat(parts, dim=1)

    def predict(
        self, network: Any, x: torch.Tensor, timestep: torch.Tensor, cond: dict[str, Any]
    ) -> torch.Tensor:
        import torch

        batch, _, height, width = x.shape
        tokens, rows, cols = _pack(x)
        img_ids = _positions(rows, cols, x.device)
        references = cond.get("reference_latents") or ()
        if len(references):
            ref_tokens, ref_ids = self._reference_tokens(network, references, cond, batch, rows, cols, x)
            tokens = torch.cat([tokens, *ref_tokens], dim=1)
            img_ids = torch.cat([img_ids, *ref_ids], dim=0)
        context = cond["cross_attn"]
        txt_ids = torch.zeros(context.shape[1], 3, device=x.device, dtype=torch.float32)
        guidance = None
        if network.config.guidance_embeds:
            value = float(cond.get("guidance", DEFAULT_GUIDANCE))
            guidance = torch.full((batch,), value, device=x.device, dtype=torch.float32)
        out: torch.Tensor = network(
            hidden_states=tokens,
            encoder_hidden_states=context,
            pooled_projections=cond["pooled_output"],
            timestep=timestep.reshape(-1).expand(batch),
            img_ids=img_ids,
            txt_ids=txt_ids,
            guidance=guidance,
        ).sample
        out = out[:, : rows * cols]  # the reference tokens' outputs are not part of the prediction
        out_channels = out.shape[-1] // 4
        out = out.reshape(batch, rows, cols, out_channels, 2, 2).permute(0, 3, 1, 4, 2, 5)
        return out.reshape(batch, out_channels, rows * 2, cols * 2)[..., :height, :width]

    def _reference_tokens(
        self,
        network: Any,
        references: Any,
        cond: dict[str, Any],
        batch: int,
        rows: int,
        cols: int,
        x: torch.Tensor,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Flux Kontext: each reference latent packed into extra image tokens, with positions laid out by the
        conditioning's ``reference_latents_method`` (ComfyUI's): ``offset`` (the default) gives them index 1 and
        places each beside or below the previous ones, ``index`` gives the n-th reference index n at the origin,
        ``uxo`` index 0 past the noisy latent's bottom-right corner and each after the previous one."""
        import torch

        method = str(cond.get("reference_latents_method") or "offset")
        if method not in REFERENCE_METHODS:
            raise DiffusionError(
                f"reference_latents_method {method!r} is not supported by Flux; use one of "
                f"{', '.join(REFERENCE_METHODS)}"
                + (
                    " (index_timestep_zero needs a per-token timestep the Flux transformer here does not take)"
                    if method == "index_timestep_zero"
                    else ""
                )
            )
        features = int(network.config.in_channels)
        channels = self.latent_format.channels
        if features != channels * 4:
            raise DiffusionError(
                f"reference latents are for Flux Kontext (a {channels * 4}-feature transformer); this Flux "
                f"transformer takes {features} input features (a Fill or Canny/Depth model)"
            )
        tokens: list[torch.Tensor] = []
        ids: list[torch.Tensor] = []
        h = w = 0  # the extent taken by the previous references, in latent pixels
        index = 0
        for reference in references:
            ref = torch.as_tensor(reference).to(x.device, torch.float32)
            if ref.ndim != 4 or ref.shape[1] != channels:
                raise DiffusionError(
                    f"a reference latent has shape {tuple(ref.shape)} but Flux works on {channels}-channel "
                    "latents: encode the reference image with the Flux VAE"
                )
            ref_h, ref_w = int(ref.shape[-2]), int(ref.shape[-1])
            if method == "index":
                index, h_offset, w_offset = index + 1, 0, 0
            elif method == "uxo":
                index, h_offset, w_offset = 0, rows * 2 + h, cols * 2 + w
                h, w = h + ref_h, w + ref_w
            else:
                index, h_offset, w_offset = 1, 0, 0
                if ref_h + h > ref_w + w:
                    w_offset = w
                else:
                    h_offset = h
                h, w = max(h, ref_h + h_offset), max(w, ref_w + w_offset)
            packed, ref_rows, ref_cols = _pack(self.latent_format.process_in(ref).to(x.dtype))
            tokens.append(_to_batch(packed, batch))
            ids.append(
                _positions(ref_rows, ref_cols, x.device, index, (h_offset + 1) // 2, (w_offset + 1) // 2)
            )
        return tokens, ids


def _pack(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """(b, c, h, w) -> (b, rows * cols, c * 4) tokens of 2x2 patches (an odd side padded by replication)."""
    import torch

    batch, channels, height, width = x.shape
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    rows, cols = x.shape[-2] // 2, x.shape[-1] // 2
    tokens = x.reshape(batch, channels, rows, 2, cols, 2).permute(0, 2, 4, 1, 3, 5)
    return tokens.reshape(batch, rows * cols, channels * 4), rows, cols


def _positions(
    rows: int, cols: int, device: Any, index: int = 0, row_offset: int = 0, col_offset: int = 0
) -> torch.Tensor:
    """The (rows * cols, 3) rotary positions of packed tokens: (index, row, column), float32."""
    import torch

    ids = torch.zeros(rows, cols, 3, device=device, dtype=torch.float32)
    ids[..., 0] = float(index)
    ids[..., 1] = torch.arange(row_offset, row_offset + rows, device=device, dtype=torch.float32)[:, None]
    ids[..., 2] = torch.arange(col_offset, col_offset + cols, device=device, dtype=torch.float32)[None, :]
    return ids.reshape(-1, 3)


def _to_batch(tensor: torch.Tensor, batch: int) -> torch.Tensor:
    if tensor.shape[0] == batch:
        return tensor
    reps = -(-batch // tensor.shape[0])
    return tensor.repeat(reps, *([1] * (tensor.ndim - 1)))[:batch]
