"""Flux nodes with ComfyUI's names: CLIPTextEncodeFlux (separate CLIP-L and T5 prompts with the guidance value),
and for FLUX.1 Kontext (image editing) ReferenceLatent, FluxKontextImageScale and
FluxKontextMultiReferenceLatentMethod."""

from __future__ import annotations

import numpy as np

from nodepacks import sdk
from nodepacks.diffusion import runtime
from nodepacks.diffusion.families import get_family
from nodepacks.diffusion.handles import Clip, Cond, Conditioning, DiffusionError, Latent

# (width, height): the resolutions FLUX.1 Kontext was trained at, about one megapixel each (ComfyUI's
# PREFERED_KONTEXT_RESOLUTIONS, from Black Forest Labs' reference code).
PREFERRED_KONTEXT_RESOLUTIONS = (
    (672, 1568),
    (688, 1504),
    (720, 1456),
    (752, 1392),
    (800, 1328),
    (832, 1248),
    (880, 1184),
    (944, 1104),
    (1024, 1024),
    (1104, 944),
    (1184, 880),
    (1248, 832),
    (1328, 800),
    (1392, 752),
    (1456, 720),
    (1504, 688),
    (1568, 672),
)
REFERENCE_METHOD_OPTIONS = ("offset", "index", "uxo/uno", "index_timestep_zero")


class CLIPTextEncodeFlux(sdk.Node):
    """Encode a CLIP-L prompt (pooled) and a T5-XXL prompt (sequence) for Flux, with its guidance. Returns
    CONDITIONING."""

    id = "CLIPTextEncodeFlux"
    display_name = "CLIPTextEncodeFlux"
    category = "advanced/conditioning/flux"
    device = "gpu"

    class Inputs(sdk.Inputs):
        clip: Clip = sdk.link()
        clip_l: str = sdk.text("", multiline=True)
        t5xxl: str = sdk.text("", multiline=True)
        guidance: float = sdk.number(3.5, min=0.0, max=100.0, step=0.1)

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.clip is None:
            raise DiffusionError("clip: no CLIP model (a checkpoint without a text encoder?)")
        family = get_family(inputs.clip.family)
        encode_pair = getattr(family, "encode_pair", None)
        if encode_pair is None:
            raise DiffusionError(
                f"clip: CLIPTextEncodeFlux needs a flux text encoder, this one is {family.name}"
            )
        stack = runtime.load_text_stack(inputs.clip, ctx.models)
        cond: Cond = encode_pair(stack, inputs.clip_l, inputs.t5xxl)
        return self.Outputs(CONDITIONING=[Cond(**cond, guidance=float(inputs.guidance))])


class ReferenceLatent(sdk.Node):
    """Add a latent to the conditioning's reference latents, the images an edit model (FLUX.1 Kontext) looks
    at; chain several for several references. Without a latent the conditioning is unchanged. Returns
    CONDITIONING."""

    id = "ReferenceLatent"
    display_name = "ReferenceLatent"
    category = "advanced/conditioning/edit_models"

    class Inputs(sdk.Inputs):
        conditioning: Conditioning = sdk.link()
        latent: Latent | None = sdk.link(optional=True)

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.latent is None:
            return self.Outputs(CONDITIONING=inputs.conditioning)
        samples = inputs.latent.get("samples") if isinstance(inputs.latent, dict) else None
        if not isinstance(samples, np.ndarray) or samples.ndim != 4:
            raise DiffusionError("latent: not a LATENT (a dict with 'samples' of shape (batch, c, h, w))")
        reference = np.ascontiguousarray(samples, dtype=np.float32)
        out = [
            Cond(**{**cond, "reference_latents": [*(cond.get("reference_latents") or ()), reference]})
            for cond in inputs.conditioning
        ]
        return self.Outputs(CONDITIONING=out)


class FluxKontextMultiReferenceLatentMethod(sdk.Node):
    """Set how an edit model places several reference latents: ``offset`` (FLUX.1 Kontext's default: side by
    side), ``index`` (each its own index, all at the origin) or ``uxo/uno`` (past the generated image's corner).
    Returns CONDITIONING."""

    id = "FluxKontextMultiReferenceLatentMethod"
    display_name = "Edit Model Reference Method"
    category = "advanced/conditioning/flux"

    class Inputs(sdk.Inputs):
        conditioning: Conditioning = sdk.link()
        reference_latents_method: str = sdk.select("offset", options=REFERENCE_METHOD_OPTIONS)

    class Outputs(sdk.Outputs):
        CONDITIONING: Conditioning

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        method = inputs.reference_latents_method
        if "uxo" in method or "uso" in method:  # ComfyUI's spelling for the UNO/USO layout
            method = "uxo"
        out = [Cond(**{**cond, "reference_latents_method": method}) for cond in inputs.conditioning]
        return self.Outputs(CONDITIONING=out)


def kontext_size(width: int, height: int) -> tuple[int, int]:
    """The preferred Kontext resolution (width, height) whose aspect ratio is nearest to ``width / height``."""
    aspect = width / height
    return min(PREFERRED_KONTEXT_RESOLUTIONS, key=lambda size: (abs(aspect - size[0] / size[1]), size))


def resize_center_crop(images: np.ndarray, width: int, height: int) -> np.ndarray:
    """Images (b, h, w, c) in [0, 1] cropped around the centre to the target's aspect ratio, then resized with
    Lanczos through 8-bit PIL images (as ComfyUI's ``common_upscale`` with ``lanczos``/``center`` does)."""
    from PIL import Image

    old_h, old_w = images.shape[1:3]
    old_aspect, new_aspect = old_w / old_h, width / height
    x = y = 0
    if old_aspect > new_aspect:
        x = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
    elif old_aspect < new_aspect:
        y = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
    cropped = images[:, y : old_h - y, x : old_w - x]
    data = np.clip(np.rint(cropped * 255.0), 0, 255).astype(np.uint8)
    out = np.empty((images.shape[0], height, width, images.shape[3]), dtype=np.float32)
    for b in range(images.shape[0]):
        for c in range(images.shape[3]):
            channel = Image.fromarray(data[b, :, :, c]).resize((width, height), Image.Resampling.LANCZOS)
            out[b, :, :, c] = np.asarray(channel, dtype=np.float32) / 255.0
    return out


class FluxKontextImageScale(sdk.Node):
    """Resize an image to the FLUX.1 Kontext resolution nearest its aspect ratio (about one megapixel),
    cropping the excess around the centre. Returns IMAGE."""

    id = "FluxKontextImageScale"
    display_name = "FluxKontextImageScale"
    category = "advanced/conditioning/flux"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        images = np.asarray(inputs.image, dtype=np.float32)
        if images.ndim != 4 or images.shape[1] == 0 or images.shape[2] == 0:
            raise DiffusionError(f"image: not an image batch (shape {images.shape})")
        width, height = kontext_size(images.shape[2], images.shape[1])
        return self.Outputs(IMAGE=resize_center_crop(images, width, height))


NODES = [CLIPTextEncodeFlux, ReferenceLatent, FluxKontextMultiReferenceLatentMethod, FluxKontextImageScale]
