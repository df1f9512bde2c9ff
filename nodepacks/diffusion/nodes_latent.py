"""Conditioning, latent and VAE nodes with ComfyUI's names, inputs and semantics, and model upscaling."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion import runtime
from nodepacks.diffusion.handles import (
    Clip,
    Cond,
    Conditioning,
    DiffusionError,
    Latent,
    Model,
    Prediction,
    UpscaleModelType,
    Vae,
)

MAX_RESOLUTION = 16384
LATENT_UPSCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "bislerp")


def _multiple_of_8(value: int, input_name: str) -> None:
    if value % 8:
        raise DiffusionError(
            f"{input_name}: {value} is not a multiple of 8 (latents are 1/8 of the image size)"
        )


def _samples(latent: dict[str, Any], input_name: str = "samples") -> np.ndarray:
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not isinstance(samples, np.ndarray) or samples.ndim != 4:
        raise DiffusionError(f"{input_name}: not a LATENT (a dict with 'samples' of shape (batch, c, h, w))")
    return samples


class CLIPTextEncode(sdk.Node):
    """Encode a prompt with a text encoder. Returns CONDITIONING."""

    id = "CLIPTextEncode"
    display_name = "CLIP Text Encode (Prompt)"
    category = "conditioning"
    device = "gpu"

    class Inputs(sdk.Inputs):
        text: str = sdk.text("", multiline=True, tooltip="The text to be encoded")
        clip: Clip = sdk.link(tooltip="The CLIP model used for encoding the text")

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.clip is None:
            raise DiffusionError("clip: no CLIP model (a checkpoint without a text encoder?)")
        return self.Outputs(CONDITIONING=[runtime.encode_text(inputs.clip, ctx.models, inputs.text)])


class CLIPTextEncodeSDXLRefiner(sdk.Node):
    """Encode a prompt for the SDXL refiner with its aesthetic score and image size. Returns CONDITIONING."""

    id = "CLIPTextEncodeSDXLRefiner"
    display_name = "CLIPTextEncodeSDXLRefiner"
    category = "advanced/conditioning"
    device = "gpu"

    class Inputs(sdk.Inputs):
        ascore: float = sdk.number(
            6.0, min=0.0, max=1000.0, step=0.01, tooltip="The aesthetic score to ask for"
        )
        width: int = sdk.number(1024, min=0, max=MAX_RESOLUTION)
        height: int = sdk.number(1024, min=0, max=MAX_RESOLUTION)
        text: str = sdk.text("", multiline=True)
        clip: Clip = sdk.link()

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.clip is None:
            raise DiffusionError("clip: no CLIP model (a checkpoint without a text encoder?)")
        cond = runtime.encode_text(inputs.clip, ctx.models, inputs.text)
        extra = Cond(aesthetic_score=float(inputs.ascore), width=int(inputs.width), height=int(inputs.height))
        return self.Outputs(CONDITIONING=[Cond(**cond, **extra)])


class CLIPTextEncodeSDXL(sdk.Node):
    """Encode a prompt for SDXL: one text for CLIP-G and one for CLIP-L, with the size and crop time ids.
    Returns CONDITIONING."""

    id = "CLIPTextEncodeSDXL"
    display_name = "CLIPTextEncodeSDXL"
    category = "advanced/conditioning"
    device = "gpu"

    class Inputs(sdk.Inputs):
        clip: Clip = sdk.link()
        width: int = sdk.number(1024, min=0, max=MAX_RESOLUTION)
        height: int = sdk.number(1024, min=0, max=MAX_RESOLUTION)
        crop_w: int = sdk.number(0, min=0, max=MAX_RESOLUTION)
        crop_h: int = sdk.number(0, min=0, max=MAX_RESOLUTION)
        target_width: int = sdk.number(1024, min=0, max=MAX_RESOLUTION)
        target_height: int = sdk.number(1024, min=0, max=MAX_RESOLUTION)
        text_g: str = sdk.text("", multiline=True)
        text_l: str = sdk.text("", multiline=True)

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        from nodepacks.diffusion.families import get_family

        if inputs.clip is None:
            raise DiffusionError("clip: no CLIP model (a checkpoint without a text encoder?)")
        family = get_family(inputs.clip.family)
        encode_lg = getattr(family, "encode_text_lg", None)
        if encode_lg is None or "clip_l" not in family.clip_roles:
            raise DiffusionError(
                f"clip: CLIPTextEncodeSDXL needs an SDXL CLIP (CLIP-L and CLIP-G), this one is {family.name}"
            )
        stack = runtime.load_text_stack(inputs.clip, ctx.models)
        cond: Cond = encode_lg(stack, inputs.text_l, inputs.text_g, inputs.clip.layer)
        extra = Cond(
            width=int(inputs.width),
            height=int(inputs.height),
            crop_w=int(inputs.crop_w),
            crop_h=int(inputs.crop_h),
            target_width=int(inputs.target_width),
            target_height=int(inputs.target_height),
        )
        return self.Outputs(CONDITIONING=[Cond(**cond, **extra)])


class ConditioningCombine(sdk.Node):
    """Both conditionings, applied together (their predictions averaged). Returns CONDITIONING."""

    id = "ConditioningCombine"
    display_name = "Conditioning (Combine)"
    category = "conditioning"

    class Inputs(sdk.Inputs):
        conditioning_1: Conditioning = sdk.link()
        conditioning_2: Conditioning = sdk.link()

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(CONDITIONING=[*inputs.conditioning_1, *inputs.conditioning_2])


class ConditioningZeroOut(sdk.Node):
    """The same conditioning with its text embeddings and pooled output set to zero. Returns CONDITIONING."""

    id = "ConditioningZeroOut"
    display_name = "ConditioningZeroOut"
    category = "advanced/conditioning"

    class Inputs(sdk.Inputs):
        conditioning: Conditioning = sdk.link()

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        out = []
        for cond in inputs.conditioning:
            zeroed = Cond(**cond)
            zeroed["cross_attn"] = np.zeros_like(cond["cross_attn"])
            if cond.get("pooled_output") is not None:
                zeroed["pooled_output"] = np.zeros_like(cond["pooled_output"])
            out.append(zeroed)
        return self.Outputs(CONDITIONING=out)


class FluxGuidance(sdk.Node):
    """Set the distilled guidance value Flux models read from the conditioning. Returns CONDITIONING."""

    id = "FluxGuidance"
    display_name = "FluxGuidance"
    category = "advanced/conditioning/flux"

    class Inputs(sdk.Inputs):
        conditioning: Conditioning = sdk.link()
        guidance: float = sdk.number(3.5, min=0.0, max=100.0, step=0.1)

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        out: list[Cond] = [{**cond, "guidance": float(inputs.guidance)} for cond in inputs.conditioning]
        return self.Outputs(CONDITIONING=out)


class EmptyLatentImage(sdk.Node):
    """A batch of empty 4-channel latents (SD1.x/SDXL). Returns LATENT."""

    id = "EmptyLatentImage"
    display_name = "Empty Latent Image"
    category = "latent"

    class Inputs(sdk.Inputs):
        width: int = sdk.number(512, min=16, max=MAX_RESOLUTION, step=8)
        height: int = sdk.number(512, min=16, max=MAX_RESOLUTION, step=8)
        batch_size: int = sdk.number(1, min=1, max=4096)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    channels = 4

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        _multiple_of_8(inputs.width, "width")
        _multiple_of_8(inputs.height, "height")
        shape = (inputs.batch_size, self.channels, inputs.height // 8, inputs.width // 8)
        return self.Outputs(LATENT={"samples": np.zeros(shape, dtype=np.float32)})


class EmptySD3LatentImage(EmptyLatentImage):
    """A batch of empty 16-channel latents (SD3, Flux). Returns LATENT."""

    id = "EmptySD3LatentImage"
    display_name = "EmptySD3LatentImage"
    category = "latent/sd3"
    channels = 16

    class Inputs(sdk.Inputs):
        width: int = sdk.number(1024, min=16, max=MAX_RESOLUTION, step=16)
        height: int = sdk.number(1024, min=16, max=MAX_RESOLUTION, step=16)
        batch_size: int = sdk.number(1, min=1, max=4096)


class VAEDecode(sdk.Node):
    """Decode latents into images. Returns IMAGE."""

    id = "VAEDecode"
    display_name = "VAE Decode"
    category = "latent"
    device = "gpu"

    class Inputs(sdk.Inputs):
        samples: Latent = sdk.link(tooltip="The latent to be decoded")
        vae: Vae = sdk.link(tooltip="The VAE model used for decoding the latent")

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(IMAGE=runtime.vae_decode(inputs.vae, ctx.models, _samples(inputs.samples)))


class VAEDecodeTiled(sdk.Node):
    """Decode latents tile by tile (less memory for large images). Returns IMAGE."""

    id = "VAEDecodeTiled"
    display_name = "VAE Decode (Tiled)"
    category = "_for_testing"
    device = "gpu"

    class Inputs(sdk.Inputs):
        samples: Latent = sdk.link()
        vae: Vae = sdk.link()
        tile_size: int = sdk.number(512, min=64, max=4096, step=32)
        overlap: int = sdk.number(64, min=0, max=4096, step=32)
        temporal_size: int = sdk.number(64, min=8, max=4096, step=4, tooltip="Video VAEs only (unused here)")
        temporal_overlap: int = sdk.number(
            8, min=4, max=4096, step=4, tooltip="Video VAEs only (unused here)"
        )

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        tile = max(8, inputs.tile_size // 8)
        overlap = min(inputs.overlap // 8, tile // 4)
        images = runtime.vae_decode(
            inputs.vae, ctx.models, _samples(inputs.samples), tile=tile, overlap=overlap
        )
        return self.Outputs(IMAGE=images)


def _crop_to_8(pixels: np.ndarray) -> np.ndarray:
    # ComfyUI crops images to a multiple of 8 around the centre before encoding.
    height, width = (pixels.shape[1] // 8) * 8, (pixels.shape[2] // 8) * 8
    if height == 0 or width == 0:
        raise DiffusionError(f"pixels: the image ({pixels.shape[2]}x{pixels.shape[1]}) is smaller than 8x8")
    top, left = (pixels.shape[1] - height) // 2, (pixels.shape[2] - width) // 2
    return pixels[:, top : top + height, left : left + width]


class VAEEncode(sdk.Node):
    """Encode images into latents (cropped to a multiple of 8 around the centre, as ComfyUI does). Returns LATENT."""

    id = "VAEEncode"
    display_name = "VAE Encode"
    category = "latent"
    device = "gpu"

    class Inputs(sdk.Inputs):
        pixels: sdk.Image = sdk.link()
        vae: Vae = sdk.link()

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        latent = runtime.vae_encode(inputs.vae, ctx.models, _crop_to_8(inputs.pixels))
        return self.Outputs(LATENT={"samples": latent})


def _grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    if pixels <= 0:
        return mask
    import torch

    tensor = torch.from_numpy(mask)[:, None]
    grown = torch.nn.functional.max_pool2d(tensor, kernel_size=2 * pixels + 1, stride=1, padding=pixels)
    return grown[:, 0].numpy()


def _resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    import torch

    tensor = torch.from_numpy(np.asarray(mask, dtype=np.float32).reshape(-1, 1, *mask.shape[-2:]))
    return torch.nn.functional.interpolate(tensor, size=(height, width), mode="bilinear")[:, 0].numpy()


class VAEEncodeForInpaint(sdk.Node):
    """Encode images for inpainting: masked pixels greyed out, the mask (grown) kept as the noise mask.
    Returns LATENT."""

    id = "VAEEncodeForInpaint"
    display_name = "VAE Encode (for Inpainting)"
    category = "latent/inpaint"
    device = "gpu"

    class Inputs(sdk.Inputs):
        pixels: sdk.Image = sdk.link()
        vae: Vae = sdk.link()
        mask: sdk.Mask = sdk.link()
        grow_mask_by: int = sdk.number(6, min=0, max=64, step=1)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        pixels = _crop_to_8(inputs.pixels)
        height, width = pixels.shape[1:3]
        mask = np.clip(_resize_mask(inputs.mask, height, width), 0.0, 1.0)
        grown = np.round(np.clip(_grow(mask, inputs.grow_mask_by), 0.0, 1.0))
        keep = (1.0 - np.round(mask))[..., None]
        if keep.shape[0] != pixels.shape[0]:
            keep = np.broadcast_to(keep[:1], (pixels.shape[0], *keep.shape[1:]))
        greyed = (pixels[..., :3] - 0.5) * keep + 0.5
        latent = runtime.vae_encode(inputs.vae, ctx.models, greyed.astype(np.float32))
        # concat_latent: the masked image an inpainting model is conditioned on, kept apart from the samples
        # that sampling replaces (a second pass over the result still sees the masked original).
        out = {"samples": latent, "noise_mask": grown[:, None].astype(np.float32), "concat_latent": latent}
        return self.Outputs(LATENT=out)


class InpaintModelConditioning(sdk.Node):
    """Condition an inpainting model on an image and a mask: the masked image's latent and the mask go into
    both conditionings, the unmasked image's latent (with the mask as noise mask) is the LATENT to sample.
    Returns positive, negative and latent."""

    id = "InpaintModelConditioning"
    display_name = "InpaintModelConditioning"
    category = "conditioning/inpaint"
    device = "gpu"

    class Inputs(sdk.Inputs):
        positive: Conditioning = sdk.link()
        negative: Conditioning = sdk.link()
        vae: Vae = sdk.link()
        pixels: sdk.Image = sdk.link()
        mask: sdk.Mask = sdk.link()
        noise_mask: bool = sdk.toggle(
            True,
            tooltip="Add the mask to the latent as its noise mask, so only the masked area changes",
        )

    class Outputs(sdk.Outputs):
        positive: Conditioning
        negative: Conditioning
        latent: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        pixels = _crop_to_8(inputs.pixels)[..., :3].astype(np.float32)
        height, width = pixels.shape[1:3]
        mask = np.clip(_resize_mask(inputs.mask, height, width), 0.0, 1.0).astype(np.float32)
        keep = (1.0 - np.round(mask))[..., None]
        if keep.shape[0] != pixels.shape[0]:
            keep = np.broadcast_to(keep[:1], (pixels.shape[0], *keep.shape[1:]))
        greyed = ((pixels - 0.5) * keep + 0.5).astype(np.float32)
        concat = runtime.vae_encode(inputs.vae, ctx.models, greyed)
        original = runtime.vae_encode(inputs.vae, ctx.models, pixels)
        mask4 = mask[:, None]
        latent: dict[str, Any] = {"samples": original}
        if inputs.noise_mask:
            latent["noise_mask"] = mask4

        def conditioned(conds: list[Cond]) -> list[Cond]:
            return [Cond(**c, concat_latent_image=concat, concat_mask=mask4) for c in conds]

        return self.Outputs(
            positive=conditioned(inputs.positive), negative=conditioned(inputs.negative), latent=latent
        )


class ModelSamplingDiscrete(sdk.Node):
    """Set what a discrete-schedule model (SD1.x, SD2.x, SDXL) predicts and its schedule. Returns MODEL.

    ``eps``/``v_prediction``: noise / velocity; ``lcm``: a latent consistency model (eps with LCM's
    c_skip/c_out boundary scalings on the 50-step distilled schedule); ``x0``: the clean latent itself. ``zsnr``
    rescales the schedule to zero terminal SNR. The schedule is rebuilt from the family's, as ComfyUI rebuilds
    it from the model config, so chained overrides do not compound."""

    id = "ModelSamplingDiscrete"
    display_name = "ModelSamplingDiscrete"
    category = "advanced/model"

    class Inputs(sdk.Inputs):
        model: Model = sdk.link()
        sampling: str = sdk.select(options=["eps", "v_prediction", "lcm", "x0", "img_to_img"])
        zsnr: bool = sdk.toggle(False)

    class Outputs(sdk.Outputs):
        MODEL: Model

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        from nodepacks.diffusion.families import get_family

        model = inputs.model
        if model.sampling.prediction == "flow":
            raise DiffusionError(
                f"model: {model.source} is a flow-matching model, not a discrete-schedule one"
            )
        predictions: dict[str, Prediction] = {"eps": "eps", "v_prediction": "v", "lcm": "lcm", "x0": "x0"}
        if inputs.sampling not in predictions:
            raise DiffusionError(
                f"sampling: {inputs.sampling!r} is not supported (known: {', '.join(predictions)})"
            )
        base = get_family(model.family).default_sampling()
        if base.prediction == "flow" or not base.sigmas:
            base = model.sampling
        sampling = replace(base, prediction=predictions[inputs.sampling])
        if inputs.sampling == "lcm":
            sampling = sampling.distilled()
        if inputs.zsnr:
            sampling = sampling.zero_terminal_snr()
        return self.Outputs(MODEL=model.with_sampling(sampling))


class SetLatentNoiseMask(sdk.Node):
    """Limit sampling to the masked area of a latent. Returns LATENT."""

    id = "SetLatentNoiseMask"
    display_name = "Set Latent Noise Mask"
    category = "latent/inpaint"

    class Inputs(sdk.Inputs):
        samples: Latent = sdk.link()
        mask: sdk.Mask = sdk.link()

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        _samples(inputs.samples)
        mask = np.asarray(inputs.mask, dtype=np.float32).reshape(-1, 1, *inputs.mask.shape[-2:])
        return self.Outputs(LATENT={**inputs.samples, "noise_mask": mask})


def _upscale_latent(samples: np.ndarray, width: int, height: int, method: str, crop: str) -> np.ndarray:
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if crop == "center":
        old_w, old_h = tensor.shape[3], tensor.shape[2]
        old_aspect, new_aspect = old_w / old_h, width / height
        if old_aspect > new_aspect:
            cut = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
            tensor = tensor[..., cut : old_w - cut]
        elif old_aspect < new_aspect:
            cut = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
            tensor = tensor[..., cut : old_h - cut, :]
    if method == "bislerp":
        method = "bilinear"  # spherical blending is not implemented; bilinear is its closest plain method
    kwargs = {"align_corners": False} if method in ("bilinear", "bicubic") else {}
    out = torch.nn.functional.interpolate(tensor, size=(height, width), mode=method, **kwargs)
    return out.numpy().astype(np.float32)


class LatentUpscale(sdk.Node):
    """Resize latents to width x height pixels (0 keeps the aspect ratio from the other side). Returns LATENT."""

    id = "LatentUpscale"
    display_name = "Upscale Latent"
    category = "latent"

    class Inputs(sdk.Inputs):
        samples: Latent = sdk.link()
        upscale_method: str = sdk.select(options=list(LATENT_UPSCALE_METHODS))
        width: int = sdk.number(512, min=0, max=MAX_RESOLUTION, step=8)
        height: int = sdk.number(512, min=0, max=MAX_RESOLUTION, step=8)
        crop: str = sdk.select(options=["disabled", "center"])

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        samples = _samples(inputs.samples)
        _multiple_of_8(inputs.width, "width")
        _multiple_of_8(inputs.height, "height")
        width, height = inputs.width // 8, inputs.height // 8
        if width == 0 and height == 0:
            return self.Outputs(LATENT=inputs.samples)
        if width == 0:
            width = max(1, round(samples.shape[3] * height / samples.shape[2]))
        elif height == 0:
            height = max(1, round(samples.shape[2] * width / samples.shape[3]))
        out = _upscale_latent(samples, width, height, inputs.upscale_method, inputs.crop)
        return self.Outputs(LATENT={**_without_mask(inputs.samples), "samples": out})


def _without_mask(latent: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in latent.items() if k != "noise_mask"}


class LatentUpscaleBy(sdk.Node):
    """Resize latents by a factor. Returns LATENT."""

    id = "LatentUpscaleBy"
    display_name = "Upscale Latent By"
    category = "latent"

    class Inputs(sdk.Inputs):
        samples: Latent = sdk.link()
        upscale_method: str = sdk.select(options=list(LATENT_UPSCALE_METHODS))
        scale_by: float = sdk.number(1.5, min=0.01, max=8.0, step=0.01)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        samples = _samples(inputs.samples)
        width = max(1, round(samples.shape[3] * inputs.scale_by))
        height = max(1, round(samples.shape[2] * inputs.scale_by))
        out = _upscale_latent(samples, width, height, inputs.upscale_method, "disabled")
        return self.Outputs(LATENT={**_without_mask(inputs.samples), "samples": out})


class RepeatLatentBatch(sdk.Node):
    """Repeat a latent batch ``amount`` times (with its noise mask). Returns LATENT."""

    id = "RepeatLatentBatch"
    display_name = "Repeat Latent Batch"
    category = "latent/batch"

    class Inputs(sdk.Inputs):
        samples: Latent = sdk.link()
        amount: int = sdk.number(1, min=1, max=64)

    class Outputs(sdk.Outputs):
        LATENT: Latent

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        samples = _samples(inputs.samples)
        out: dict[str, Any] = {**inputs.samples, "samples": np.tile(samples, (inputs.amount, 1, 1, 1))}
        mask = inputs.samples.get("noise_mask")
        if mask is not None and mask.shape[0] > 1:
            if mask.shape[0] < samples.shape[0]:
                reps = -(-samples.shape[0] // mask.shape[0])
                mask = np.tile(mask, (reps, 1, 1, 1))[: samples.shape[0]]
            out["noise_mask"] = np.tile(mask, (inputs.amount, 1, 1, 1))
        if "batch_index" in inputs.samples:
            offsets = list(inputs.samples["batch_index"])
            step = max(offsets) - min(offsets) + 1
            out["batch_index"] = [i + step * n for n in range(inputs.amount) for i in offsets]
        return self.Outputs(LATENT=out)


class ImageUpscaleWithModel(sdk.Node):
    """Upscale images with a super-resolution model. Returns IMAGE."""

    id = "ImageUpscaleWithModel"
    display_name = "Upscale Image (using Model)"
    category = "image/upscaling"
    device = "gpu"

    class Inputs(sdk.Inputs):
        upscale_model: UpscaleModelType = sdk.link()
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        from nodepacks.diffusion import upscale

        return self.Outputs(IMAGE=upscale.upscale(inputs.upscale_model, ctx.models, inputs.image))


NODES = [
    CLIPTextEncode,
    CLIPTextEncodeSDXL,
    CLIPTextEncodeSDXLRefiner,
    ConditioningCombine,
    ConditioningZeroOut,
    FluxGuidance,
    EmptyLatentImage,
    EmptySD3LatentImage,
    VAEDecode,
    VAEDecodeTiled,
    VAEEncode,
    VAEEncodeForInpaint,
    SetLatentNoiseMask,
    InpaintModelConditioning,
    ModelSamplingDiscrete,
    LatentUpscale,
    LatentUpscaleBy,
    RepeatLatentBatch,
    ImageUpscaleWithModel,
]
