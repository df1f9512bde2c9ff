"""ComfyUI-compatible image operations: scaling, filters, cropping, compositing, flips and rotations.

Ids, input names, widget bounds and semantics follow ComfyUI's nodes.py, comfy_extras/nodes_post_processing.py,
comfy_extras/nodes_images.py and comfy_extras/nodes_mask.py so that ComfyUI API prompts map onto them 1:1.
"""

from __future__ import annotations

import math

import numpy as np

from nodepacks import sdk
from nodepacks.core._imaging import (
    MAX_RESOLUTION,
    UPSCALE_METHODS,
    as_mask_batch,
    common_upscale,
    repeat_to_batch,
)

# Re-exported (``as``): benchmarks.image_ops calls these through this module, where it patches in the reference
# implementation the nodes then use.
from nodepacks.core._imaging import gaussian_blur as gaussian_blur
from nodepacks.core._imaging import resize as resize

_METHOD_TOOLTIP = (
    "Interpolation: nearest-exact keeps hard pixels, area is best for shrinking, lanczos for enlarging"
)


class ImageScale(sdk.Node):
    """Resize images to width x height. Returns IMAGE.

    A width or height of 0 keeps the aspect ratio from the other side; both 0 returns the images unchanged.
    crop=center first cuts the images to the target aspect around their centre.
    """

    id = "ImageScale"
    display_name = "Upscale Image"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        upscale_method: str = sdk.select(options=UPSCALE_METHODS, tooltip=_METHOD_TOOLTIP)
        width: int = sdk.number(512, min=0, max=MAX_RESOLUTION, step=1, tooltip="0 keeps the aspect ratio")
        height: int = sdk.number(512, min=0, max=MAX_RESOLUTION, step=1, tooltip="0 keeps the aspect ratio")
        crop: str = sdk.select(
            options=["disabled", "center"], tooltip="center: crop to the target aspect instead of stretching"
        )

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image, width, height = inputs.image, inputs.width, inputs.height
        if width == 0 and height == 0:
            return self.Outputs(image=image)
        if width == 0:
            width = max(1, round(image.shape[2] * height / image.shape[1]))
        elif height == 0:
            height = max(1, round(image.shape[1] * width / image.shape[2]))
        return self.Outputs(image=common_upscale(image, width, height, inputs.upscale_method, inputs.crop))


class ImageScaleBy(sdk.Node):
    """Resize images by a factor (each side rounded to whole pixels). Returns IMAGE."""

    id = "ImageScaleBy"
    display_name = "Upscale Image By"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        upscale_method: str = sdk.select(options=UPSCALE_METHODS, tooltip=_METHOD_TOOLTIP)
        scale_by: float = sdk.number(1.0, min=0.01, max=8.0, step=0.01)

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        height, width = inputs.image.shape[1:3]
        new_width = max(1, round(width * inputs.scale_by))
        new_height = max(1, round(height * inputs.scale_by))
        return self.Outputs(image=resize(inputs.image, new_width, new_height, inputs.upscale_method))


class ImageScaleToTotalPixels(sdk.Node):
    """Resize images to about ``megapixels`` million pixels, keeping the aspect ratio. Returns IMAGE."""

    id = "ImageScaleToTotalPixels"
    display_name = "Scale Image to Total Pixels"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        upscale_method: str = sdk.select(options=UPSCALE_METHODS, tooltip=_METHOD_TOOLTIP)
        megapixels: float = sdk.number(
            1.0, min=0.01, max=16.0, step=0.01, tooltip="Target size, in 1024² pixels"
        )
        resolution_steps: int = sdk.number(
            1, min=1, max=256, tooltip="Round each side to a multiple of this (e.g. 8 or 64 for models)"
        )

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        height, width = inputs.image.shape[1:3]
        scale_by = math.sqrt(inputs.megapixels * 1024 * 1024 / (width * height))
        steps = inputs.resolution_steps
        new_width = max(steps, round(width * scale_by / steps) * steps)
        new_height = max(steps, round(height * scale_by / steps) * steps)
        return self.Outputs(image=resize(inputs.image, new_width, new_height, inputs.upscale_method))


class ImageBlur(sdk.Node):
    """Gaussian blur with a (2·radius+1)² kernel, edges reflected. Returns IMAGE."""

    id = "ImageBlur"
    display_name = "Blur Image"
    category = "image/filter"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        blur_radius: int = sdk.number(1, min=1, max=31, step=1, tooltip="Kernel half-width in pixels")
        sigma: float = sdk.number(
            1.0,
            min=0.1,
            max=10.0,
            step=0.1,
            tooltip="Spread of the kernel, relative to the radius (1 = radius)",
        )

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        total = inputs.image.shape[0]
        blurred = gaussian_blur(
            inputs.image, inputs.blur_radius, inputs.sigma, on_frame=lambda i: ctx.progress(i, total)
        )
        return self.Outputs(image=blurred)


class ImageSharpen(sdk.Node):
    """Unsharp mask: image + 10·alpha·(image − gaussian blur), clamped to [0, 1]. Returns IMAGE."""

    id = "ImageSharpen"
    display_name = "Sharpen Image"
    category = "image/filter"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        sharpen_radius: int = sdk.number(1, min=1, max=31, step=1, tooltip="Kernel half-width in pixels")
        sigma: float = sdk.number(
            1.0, min=0.1, max=10.0, step=0.01, tooltip="Spread of the blur being removed"
        )
        alpha: float = sdk.number(
            1.0, min=0.0, max=5.0, step=0.01, tooltip="Strength; 0 leaves the image as is"
        )

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        # ComfyUI's kernel is s·G with its centre raised so it sums to 1, s = -10·alpha; that equals
        # (1 - s)·image + s·blur, computed here with the separable blur.
        total = inputs.image.shape[0]
        blurred = gaussian_blur(
            inputs.image, inputs.sharpen_radius, inputs.sigma, on_frame=lambda i: ctx.progress(i, total)
        )
        amount = 10.0 * inputs.alpha
        # in place on the blur's buffer, in float32: image·(1 + amount) − blur·amount
        sharpened = np.multiply(blurred, -amount, out=blurred)
        sharpened += np.multiply(inputs.image, 1.0 + amount, dtype=np.float32)
        return self.Outputs(image=np.clip(sharpened, 0.0, 1.0, out=sharpened))


class ImageInvert(sdk.Node):
    """Invert the colours (1 − value). Returns IMAGE."""

    id = "ImageInvert"
    display_name = "Invert Image Colors"
    category = "image/color"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(image=np.subtract(1.0, inputs.image, dtype=np.float32))


class ImageCrop(sdk.Node):
    """Cut a width x height region whose top-left corner is (x, y). Returns IMAGE.

    x and y are clamped inside the image; the region is cut short where it runs past the right or bottom edge.
    """

    id = "ImageCrop"
    display_name = "Crop Image"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        width: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)
        height: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)
        x: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1, tooltip="Left edge of the region")
        y: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1, tooltip="Top edge of the region")

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = inputs.image
        x = min(inputs.x, image.shape[2] - 1)
        y = min(inputs.y, image.shape[1] - 1)
        return self.Outputs(image=image[:, y : y + inputs.height, x : x + inputs.width].copy())


class ImageCompositeMasked(sdk.Node):
    """Paste ``source`` onto ``destination`` with its top-left at (x, y), through an optional mask. Returns IMAGE.

    The source is clipped at the destination's borders; the mask is resized to the source; batches of source
    and mask are cycled to the destination's batch size.
    """

    id = "ImageCompositeMasked"
    display_name = "Image Composite Masked"
    category = "image/compositing"

    class Inputs(sdk.Inputs):
        destination: sdk.Image = sdk.link()
        source: sdk.Image = sdk.link()
        x: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        y: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        resize_source: bool = sdk.toggle(False, tooltip="Stretch the source to the destination's size first")
        mask: sdk.Mask | None = sdk.link(optional=True, tooltip="1 takes the source, 0 keeps the destination")

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(
            image=composite(
                inputs.destination, inputs.source, inputs.x, inputs.y, inputs.mask, inputs.resize_source
            )
        )


def composite(
    destination: np.ndarray,
    source: np.ndarray,
    x: int,
    y: int,
    mask: np.ndarray | None = None,
    resize_source: bool = False,
) -> np.ndarray:
    """Return a copy of ``destination`` with ``source`` blended in at (x, y) (ComfyUI's nodes_mask.composite)."""
    output = destination.astype(np.float32, copy=True)
    dest_height, dest_width = output.shape[1:3]
    if resize_source:
        source = resize(source, dest_width, dest_height, "bilinear")
    source = repeat_to_batch(source, output.shape[0])
    src_height, src_width = source.shape[1:3]
    left = max(0, min(x, dest_width))
    top = max(0, min(y, dest_height))
    visible_width = min(src_width, dest_width - left)
    visible_height = min(src_height, dest_height - top)
    if visible_width <= 0 or visible_height <= 0:
        return output
    region = output[:, top : top + visible_height, left : left + visible_width]
    patch = source[:, :visible_height, :visible_width]
    if mask is None:  # a weight of 1 everywhere: the source replaces the region
        region[...] = patch
        return output
    full = resize(as_mask_batch(mask), src_width, src_height, "bilinear")
    weights = repeat_to_batch(full, output.shape[0])[:, :visible_height, :visible_width, None]
    # weights·patch + (1 − weights)·region, as region + weights·(patch − region) in place
    difference = np.subtract(patch, region, dtype=np.float32)
    difference *= weights
    region += difference
    return output


class ImageFlip(sdk.Node):
    """Mirror images: "x-axis: vertically" turns them upside down, "y-axis: horizontally" left to right. Returns IMAGE."""

    id = "ImageFlip"
    display_name = "Flip Image"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        flip_method: str = sdk.select(options=["x-axis: vertically", "y-axis: horizontally"])

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        axis = 1 if inputs.flip_method.startswith("x") else 2
        return self.Outputs(image=np.flip(inputs.image, axis=axis).copy())


class ImageRotate(sdk.Node):
    """Rotate images clockwise by a quarter, half or three-quarter turn. Returns IMAGE."""

    id = "ImageRotate"
    display_name = "Rotate Image"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        rotation: str = sdk.select(options=["none", "90 degrees", "180 degrees", "270 degrees"])

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        turns = {"none": 0, "90 degrees": 1, "180 degrees": 2, "270 degrees": 3}[inputs.rotation]
        # axes (2, 1) turn from x towards y: clockwise on screen, as torch.rot90(dims=[2, 1]) in ComfyUI
        return self.Outputs(image=np.rot90(inputs.image, k=turns, axes=(2, 1)).copy())


class ImageBlend(sdk.Node):
    """Blend image2 over image1 with a blend mode, mixed by blend_factor. Returns IMAGE.

    image2 is resized (bicubic, centre-cropped) to image1's size when they differ.
    """

    id = "ImageBlend"
    display_name = "Blend Images"
    category = "image/compositing"

    class Inputs(sdk.Inputs):
        image1: sdk.Image = sdk.link(tooltip="The base image")
        image2: sdk.Image = sdk.link(tooltip="The image blended over the base")
        blend_factor: float = sdk.number(
            0.5, min=0.0, max=1.0, step=0.01, tooltip="0 gives image1, 1 the full blend"
        )
        blend_mode: str = sdk.select(
            options=["normal", "multiply", "screen", "overlay", "soft_light", "difference"]
        )

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image1, image2 = inputs.image1, inputs.image2
        if image1.shape[1:3] != image2.shape[1:3]:
            image2 = common_upscale(image2, image1.shape[2], image1.shape[1], "bicubic", "center")
        if image2.shape[0] != image1.shape[0] and 1 not in (image1.shape[0], image2.shape[0]):
            raise sdk.NodeError(
                f"image1 has {image1.shape[0]} images and image2 has {image2.shape[0]}: "
                "batches must match or one must hold a single image"
            )
        blended = _blend(image1, image2, inputs.blend_mode)
        mixed = image1 * (1.0 - inputs.blend_factor) + blended * inputs.blend_factor
        return self.Outputs(image=np.clip(mixed, 0.0, 1.0).astype(np.float32))


def _blend(base: np.ndarray, top: np.ndarray, mode: str) -> np.ndarray:
    """Return the blend of ``top`` over ``base`` before mixing (ComfyUI's Blend.blend_mode)."""
    blended: np.ndarray
    if mode == "normal":
        blended = top
    elif mode == "multiply":
        blended = base * top
    elif mode == "screen":
        blended = 1 - (1 - base) * (1 - top)
    elif mode == "overlay":
        blended = np.where(base <= 0.5, 2 * base * top, 1 - 2 * (1 - base) * (1 - top))
    elif mode == "soft_light":
        g = np.where(base <= 0.25, ((16 * base - 12) * base + 4) * base, np.sqrt(base))
        blended = np.where(
            top <= 0.5, base - (1 - 2 * top) * base * (1 - base), base + (2 * top - 1) * (g - base)
        )
    elif mode == "difference":
        blended = base - top
    else:
        raise sdk.NodeError(f"unknown blend mode {mode!r}")
    return blended


class ImagePadForOutpaint(sdk.Node):
    """Add grey (0.5) borders for outpainting. Returns IMAGE and a MASK that is 1 on the new borders.

    With feathering, the mask also fades in over that many pixels inside the padded edges.
    """

    id = "ImagePadForOutpaint"
    display_name = "Pad Image for Outpainting"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        left: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=8)
        top: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=8)
        right: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=8)
        bottom: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=8)
        feathering: int = sdk.number(
            40, min=0, max=MAX_RESOLUTION, step=1, tooltip="Width of the mask's soft edge inside the image"
        )

    class Outputs(sdk.Outputs):
        image: sdk.Image
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = inputs.image
        batch, height, width, channels = image.shape
        left, top, right, bottom = inputs.left, inputs.top, inputs.right, inputs.bottom
        padded = np.full(
            (batch, height + top + bottom, width + left + right, channels), 0.5, dtype=np.float32
        )
        padded[:, top : top + height, left : left + width] = image
        mask = np.ones((height + top + bottom, width + left + right), dtype=np.float32)
        inner = np.zeros((height, width), dtype=np.float32)
        feather = inputs.feathering
        if feather > 0 and feather * 2 < height and feather * 2 < width:
            rows = np.arange(height)[:, None]
            cols = np.arange(width)[None, :]
            # distance to each padded edge; an edge that is not padded never feathers
            distance = np.minimum.reduce(
                [
                    np.broadcast_to(rows if top else height, (height, width)),
                    np.broadcast_to(height - rows if bottom else height, (height, width)),
                    np.broadcast_to(cols if left else width, (height, width)),
                    np.broadcast_to(width - cols if right else width, (height, width)),
                ]
            )
            fade = (feather - distance) / feather
            inner = np.where(distance < feather, fade * fade, 0.0).astype(np.float32)
        mask[top : top + height, left : left + width] = inner
        return self.Outputs(image=padded, mask=mask[None])


class GetImageSize(sdk.Node):
    """The width, height and batch size of an image batch. Returns three INTs."""

    id = "GetImageSize"
    display_name = "Get Image Size"
    category = "image"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        width: int
        height: int
        batch_size: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        batch, height, width = inputs.image.shape[:3]
        return self.Outputs(width=int(width), height=int(height), batch_size=int(batch))


NODES: list[type[sdk.Node]] = [
    ImageScale,
    ImageScaleBy,
    ImageScaleToTotalPixels,
    ImageBlur,
    ImageSharpen,
    ImageInvert,
    ImageCrop,
    ImageCompositeMasked,
    ImageFlip,
    ImageRotate,
    ImageBlend,
    ImagePadForOutpaint,
    GetImageSize,
]
