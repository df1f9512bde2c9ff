"""Loader nodes with ComfyUI's names and inputs: checkpoints, diffusion models, text encoders, VAEs, LoRAs,
upscale models, and the model-sampling overrides. Loaders only resolve files and detect families (reading
safetensors headers); the networks load when a node first needs them, through ``ctx.models``."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from nodepacks import sdk
from nodepacks.diffusion import library
from nodepacks.diffusion.families import Family, detect_family, get_family
from nodepacks.diffusion.handles import (
    Clip,
    DiffusionError,
    Model,
    ModelSampling,
    Patch,
    UpscaleModel,
    UpscaleModelType,
    Vae,
    WeightsSource,
)
from nodepacks.diffusion.weights import read_keys

CLIP_TYPES = ("stable_diffusion", "sd3", "sdxl")  # CLIPLoader types this pack knows
SD2_TEXT_WIDTH = 1024  # a "stable_diffusion" text encoder this wide is SD2's OpenCLIP-H
_log = logging.getLogger(__name__)
DUAL_CLIP_TYPES = ("sdxl", "sd3", "flux")
_CLIP_TYPE_FAMILY = {"stable_diffusion": "sd1", "sdxl": "sdxl", "sd3": "sd3", "flux": "flux"}


class CheckpointLoaderSimple(sdk.Node):
    """Load a checkpoint (single .safetensors file or diffusers folder). Returns MODEL, CLIP and VAE."""

    id = "CheckpointLoaderSimple"
    display_name = "Load Checkpoint"
    category = "loaders"

    class Inputs(sdk.Inputs):
        ckpt_name: str = sdk.model_file("checkpoints", tooltip="The checkpoint (model) to load")

    class Outputs(sdk.Outputs):
        MODEL: Model
        CLIP: Clip
        VAE: Vae

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        path, sha256 = library.resolve(ctx.models, "checkpoints", inputs.ckpt_name, "ckpt_name")
        family, source = library.open_checkpoint(path, sha256, "ckpt_name")
        return self.Outputs(
            MODEL=library.model_handle(family, source),
            CLIP=library.clip_handle(family, *_text_sources(ctx, family, source)),
            VAE=library.vae_handle(family, source),
        )


class UNETLoader(sdk.Node):
    """Load a diffusion model file (ComfyUI's unet / diffusion_models folder). Returns MODEL."""

    id = "UNETLoader"
    display_name = "Load Diffusion Model"
    category = "advanced/loaders"

    class Inputs(sdk.Inputs):
        unet_name: str = sdk.model_file("diffusion_models")
        weight_dtype: str = sdk.select(
            options=["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"],
            tooltip="Accepted for ComfyUI workflows; weights load in the device's dtype (fp8 storage is not used)",
        )

    class Outputs(sdk.Outputs):
        MODEL: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        path, sha256 = library.resolve(ctx.models, "diffusion_models", inputs.unet_name, "unet_name")
        if path.is_dir():
            family, source = library.open_checkpoint(path, sha256, "unet_name")
        else:
            try:
                family = detect_family(read_keys(path), source=path.name, path=path)
            except DiffusionError as exc:
                raise DiffusionError(f"unet_name: {exc}") from None
            source = WeightsSource(str(path), "diffusion_model", sha256)
        return self.Outputs(MODEL=library.model_handle(family, source))


def _clip_family(clip_type: str, input_name: str) -> str:
    if clip_type not in _CLIP_TYPE_FAMILY:
        raise DiffusionError(
            f"{input_name}: CLIP type {clip_type!r} is not supported (known: {', '.join(CLIP_TYPES)})"
        )
    return _CLIP_TYPE_FAMILY[clip_type]


def _text_width(path: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        for key in handle.keys():  # noqa: SIM118 (safe_open is not iterable)
            if key.endswith(("token_embedding.weight", "embed_tokens.weight", "shared.weight")):
                return int(handle.get_slice(key).get_shape()[1])
    raise DiffusionError(f"{path.name}: not a text encoder file")


def _text_sources(ctx: sdk.Context, family: Family, *sources: WeightsSource) -> tuple[WeightsSource, ...]:
    try:
        return family.text_sources(ctx.models, sources)
    except DiffusionError as exc:
        raise DiffusionError(f"clip: {exc}") from None


def _clip_l_and_t5(first: tuple[Path, str], second: tuple[Path, str]) -> list[tuple[Path, str]]:
    # Told apart by T5's block names, not width: tiny test encoders can be equally wide.
    from nodepacks.diffusion.families._t5 import t5_prefix

    is_t5 = [t5_prefix(read_keys(path)) is not None for path, _ in (first, second)]
    if is_t5.count(True) != 1:
        names = f"{first[0].name} and {second[0].name}"
        raise DiffusionError(f"type flux needs one CLIP-L and one T5-XXL file; {names} are not that pair")
    return [second, first] if is_t5[0] else [first, second]


class CLIPLoader(sdk.Node):
    """Load one text encoder file for a model type. Returns CLIP."""

    id = "CLIPLoader"
    display_name = "Load CLIP"
    category = "advanced/loaders"

    class Inputs(sdk.Inputs):
        clip_name: str = sdk.model_file("text_encoders")
        type: str = sdk.select(options=list(CLIP_TYPES))
        device: str = sdk.select(options=["default", "cpu"])

    class Outputs(sdk.Outputs):
        CLIP: Clip

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        family = get_family(_clip_family(inputs.type, "type"))
        path, sha256 = library.resolve(ctx.models, "text_encoders", inputs.clip_name, "clip_name")
        if len(family.clip_roles) != 1:
            raise DiffusionError(
                f"type: {inputs.type} needs {' and '.join(family.clip_roles)}: use DualCLIPLoader"
            )
        width = _text_width(
            path
        )  # a readable text encoder file, or a clear error now rather than at encode time
        if inputs.type == "stable_diffusion" and width >= SD2_TEXT_WIDTH:
            family = get_family("sd2")  # OpenCLIP-H (1024 wide), not SD1's CLIP-L (768)
        source = WeightsSource(str(path), "text_encoder", sha256, role=family.clip_roles[0])
        return self.Outputs(CLIP=library.clip_handle(family, source))


def _is_t5(path: Path) -> bool:
    keys = read_keys(path)
    return any(k.endswith("shared.weight") or ".block.0.layer.0.SelfAttention." in k for k in keys)


class TripleCLIPLoader(sdk.Node):
    """Load SD3's three text encoders: CLIP-L, CLIP-G and T5-XXL, in any order. Returns CLIP.

    T5 is used where a T5 tokenizer (tokenizer.json or spiece.model) is found next to its weights or in the model
    library's text_encoders/t5_tokenizer/ folder (none ships with the pack); without one SD3 conditions on CLIP-L/G
    alone (ComfyUI's behaviour without T5). The node's text says which, and why."""

    id = "TripleCLIPLoader"
    display_name = "TripleCLIPLoader"
    category = "advanced/loaders"

    class Inputs(sdk.Inputs):
        clip_name1: str = sdk.model_file("text_encoders")
        clip_name2: str = sdk.model_file("text_encoders")
        clip_name3: str = sdk.model_file("text_encoders")

    class Outputs(sdk.Outputs):
        CLIP: Clip

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        files = [
            library.resolve(ctx.models, "text_encoders", name, f"clip_name{index}")
            for index, name in enumerate((inputs.clip_name1, inputs.clip_name2, inputs.clip_name3), start=1)
        ]
        t5 = [entry for entry in files if _is_t5(entry[0])]
        clips = [entry for entry in files if entry not in t5]
        if len(clips) != 2 or len(t5) != 1:
            raise DiffusionError(
                f"clip_name1..3: SD3 needs CLIP-L, CLIP-G and T5-XXL, got {len(clips)} CLIP and {len(t5)} T5 files"
            )
        widths = [_text_width(path) for path, _ in clips]
        ordered = clips if widths[0] <= widths[1] else clips[::-1]  # CLIP-G is the wider
        sources = [
            WeightsSource(str(path), "text_encoder", sha256, role=role)
            for (path, sha256), role in zip(ordered, ("clip_l", "clip_g"), strict=True)
        ]
        t5_path, t5_sha256 = t5[0]
        sources.append(WeightsSource(str(t5_path), "text_encoder", t5_sha256, role="t5"))
        family = get_family("sd3")
        found = _text_sources(ctx, family, *sources)
        tokenizer = next((s for s in found if s.role == "t5_tokenizer"), None)
        if tokenizer is not None:
            note = f"T5 ({t5_path.name}) is used, with the T5 tokenizer {Path(tokenizer.path).name}"
        else:
            note = (
                f"T5 ({t5_path.name}) is not used: no T5 tokenizer (tokenizer.json or spiece.model) next to it or "
                "in text_encoders/t5_tokenizer/; SD3 runs on CLIP-L and CLIP-G alone"
            )
        _log.info("TripleCLIPLoader: %s", note)
        clip = library.clip_handle(family, *found)
        return sdk.Result(outputs=self.Outputs(CLIP=clip), ui=sdk.UI(text=[note]))


class DualCLIPLoader(sdk.Node):
    """Load two text encoder files (CLIP-L and CLIP-G, or CLIP-L and T5-XXL for flux; either order). Returns
    CLIP."""

    id = "DualCLIPLoader"
    display_name = "DualCLIPLoader"
    category = "advanced/loaders"

    class Inputs(sdk.Inputs):
        clip_name1: str = sdk.model_file("text_encoders")
        clip_name2: str = sdk.model_file("text_encoders")
        type: str = sdk.select(options=list(DUAL_CLIP_TYPES))
        device: str = sdk.select(options=["default", "cpu"])

    class Outputs(sdk.Outputs):
        CLIP: Clip

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        family = get_family(_clip_family(inputs.type, "type"))
        first = library.resolve(ctx.models, "text_encoders", inputs.clip_name1, "clip_name1")
        second = library.resolve(ctx.models, "text_encoders", inputs.clip_name2, "clip_name2")
        # CLIP-G is the wider of the two (1280 against CLIP-L's 768).
        widths = [_text_width(first[0]), _text_width(second[0])]
        ordered = [first, second] if widths[0] <= widths[1] else [second, first]
        roles = ("clip_l", "clip_g")
        if family.name == "flux":
            ordered, roles = _clip_l_and_t5(first, second), ("clip_l", "t5")
        sources = [
            WeightsSource(str(path), "text_encoder", sha256, role=role)
            for (path, sha256), role in zip(ordered, roles, strict=True)
        ]
        return self.Outputs(CLIP=library.clip_handle(family, *_text_sources(ctx, family, *sources)))


class VAELoader(sdk.Node):
    """Load a VAE file. Returns VAE."""

    id = "VAELoader"
    display_name = "Load VAE"
    category = "loaders"

    class Inputs(sdk.Inputs):
        vae_name: str = sdk.model_file("vae")

    class Outputs(sdk.Outputs):
        VAE: Vae

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        path, sha256 = library.resolve(ctx.models, "vae", inputs.vae_name, "vae_name")
        if path.is_dir():
            family, source = library.open_checkpoint(path, sha256, "vae_name")
            return self.Outputs(VAE=library.vae_handle(family, source))
        try:
            family = library.vae_family_of(path, "vae_name")
        except DiffusionError as exc:
            raise DiffusionError(f"vae_name: {exc}") from None
        return self.Outputs(VAE=library.vae_handle(family, WeightsSource(str(path), "vae", sha256)))


def _lora_patch(ctx: sdk.Context, name: str, strength: float, family: str) -> Patch:
    from nodepacks.diffusion import lora

    path, sha256 = library.resolve(ctx.models, "loras", name, "lora_name")
    lora.check_family(path, family)
    return Patch(kind="lora", sha256=sha256, path=str(path), strength=float(strength))


class LoraLoader(sdk.Node):
    """Apply a LoRA to the diffusion model and the text encoder. Returns MODEL and CLIP."""

    id = "LoraLoader"
    display_name = "Load LoRA"
    category = "loaders"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link(tooltip="The diffusion model the LoRA is applied to")
        clip: Clip = sdk.link(tooltip="The CLIP model the LoRA is applied to")
        lora_name: str = sdk.model_file("loras")
        strength_model: float = sdk.number(1.0, min=-100.0, max=100.0, step=0.01)
        strength_clip: float = sdk.number(1.0, min=-100.0, max=100.0, step=0.01)

    class Outputs(sdk.Outputs):
        MODEL: Model
        CLIP: Clip

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.strength_model == 0 and inputs.strength_clip == 0:
            return self.Outputs(MODEL=inputs.model, CLIP=inputs.clip)
        model, clip = inputs.model, inputs.clip
        if inputs.strength_model != 0:
            model = model.with_patches(
                _lora_patch(ctx, inputs.lora_name, inputs.strength_model, model.family)
            )
        if inputs.strength_clip != 0:
            clip = clip.with_patches(_lora_patch(ctx, inputs.lora_name, inputs.strength_clip, clip.family))
        return self.Outputs(MODEL=model, CLIP=clip)


class LoraLoaderModelOnly(sdk.Node):
    """Apply a LoRA to the diffusion model only. Returns MODEL."""

    id = "LoraLoaderModelOnly"
    display_name = "LoraLoaderModelOnly"
    category = "loaders"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        lora_name: str = sdk.model_file("loras")
        strength_model: float = sdk.number(1.0, min=-100.0, max=100.0, step=0.01)

    class Outputs(sdk.Outputs):
        MODEL: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.strength_model == 0:
            return self.Outputs(MODEL=inputs.model)
        patch = _lora_patch(ctx, inputs.lora_name, inputs.strength_model, inputs.model.family)
        return self.Outputs(MODEL=inputs.model.with_patches(patch))


class CLIPSetLastLayer(sdk.Node):
    """Use the output of an earlier text encoder layer (-1 the last, -2 the one before...). Returns CLIP."""

    id = "CLIPSetLastLayer"
    display_name = "CLIP Set Last Layer"
    category = "conditioning"

    class Inputs(sdk.Inputs):
        clip: Clip = sdk.link()
        stop_at_clip_layer: int = sdk.number(-1, min=-24, max=-1, step=1)

    class Outputs(sdk.Outputs):
        CLIP: Clip

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(CLIP=inputs.clip.with_layer(inputs.stop_at_clip_layer))


class UpscaleModelLoader(sdk.Node):
    """Load a super-resolution model (ESRGAN, SwinIR, SPAN... anything spandrel reads). Returns UPSCALE_MODEL."""

    id = "UpscaleModelLoader"
    display_name = "Load Upscale Model"
    category = "loaders"

    class Inputs(sdk.Inputs):
        model_name: str = sdk.model_file("upscale_models")

    class Outputs(sdk.Outputs):
        UPSCALE_MODEL: UpscaleModelType

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        from nodepacks.diffusion import upscale

        path, sha256 = library.resolve(ctx.models, "upscale_models", inputs.model_name, "model_name")
        descriptor = upscale.load_descriptor(str(path), "model_name")
        handle = UpscaleModel(
            path=str(path),
            sha256=sha256,
            scale=int(descriptor.scale),
            architecture=str(descriptor.architecture.name),
        )
        ctx.models.cached(handle.key, lambda: descriptor)
        return self.Outputs(UPSCALE_MODEL=handle)


class ModelSamplingSD3(sdk.Node):
    """Set the flow-matching time shift of an SD3-style model. Returns MODEL."""

    id = "ModelSamplingSD3"
    display_name = "ModelSamplingSD3"
    category = "advanced/model"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        shift: float = sdk.number(3.0, min=0.0, max=100.0, step=0.01)

    class Outputs(sdk.Outputs):
        MODEL: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        sampling = ModelSampling.flow(shift=inputs.shift, multiplier=1000.0)
        return self.Outputs(MODEL=inputs.model.with_sampling(sampling))


class ModelSamplingFlux(sdk.Node):
    """Set Flux's resolution-dependent time shift (mu from base_shift/max_shift at width x height). Returns MODEL."""

    id = "ModelSamplingFlux"
    display_name = "ModelSamplingFlux"
    category = "advanced/model"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        max_shift: float = sdk.number(1.15, min=0.0, max=100.0, step=0.01)
        base_shift: float = sdk.number(0.5, min=0.0, max=100.0, step=0.01)
        width: int = sdk.number(1024, min=16, max=16384, step=8)
        height: int = sdk.number(1024, min=16, max=16384, step=8)

    class Outputs(sdk.Outputs):
        MODEL: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        # mu grows linearly with the number of 2x2 latent patches, from base_shift at 256 to max_shift at 4096.
        slope = (inputs.max_shift - inputs.base_shift) / (4096 - 256)
        mu = inputs.width * inputs.height / (8 * 8 * 2 * 2) * slope + inputs.base_shift - slope * 256
        # Flux's exp(mu)/(exp(mu) + (1/t - 1)) is ModelSampling's shift formula with shift = exp(mu).
        # ComfyUI's ModelSamplingFlux tabulates 10000 timesteps (the "simple" scheduler picks from that table).
        sampling = ModelSampling.flow(
            shift=math.exp(mu), multiplier=inputs.model.sampling.multiplier, timesteps=10000
        )
        return self.Outputs(MODEL=inputs.model.with_sampling(sampling))


NODES = [
    CheckpointLoaderSimple,
    UNETLoader,
    CLIPLoader,
    DualCLIPLoader,
    TripleCLIPLoader,
    VAELoader,
    LoraLoader,
    LoraLoaderModelOnly,
    CLIPSetLastLayer,
    UpscaleModelLoader,
    ModelSamplingSD3,
    ModelSamplingFlux,
]
