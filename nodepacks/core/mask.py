"""Mask nodes: ComfyUI's comfy_extras/nodes_mask.py set, plus filling the masked area of an image.

IMAGE carries no alpha channel here, so ImageToMask offers red, green and blue; the alpha of a loaded picture
arrives as LoadImage's MASK (1 where transparent).
"""

from __future__ import annotations

import numpy as np

from nodepacks import sdk
from nodepacks.core._imaging import MAX_RESOLUTION, as_mask_batch, repeat_to_batch, resize, rgb_from_hex

_CHANNELS = ("red", "green", "blue")


class ImageToMask(sdk.Node):
    """One colour channel of the images as a mask. Returns MASK."""

    id = "ImageToMask"
    display_name = "Convert Image to Mask"
    category = "mask"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        channel: str = sdk.select(options=_CHANNELS)

    class Outputs(sdk.Outputs):
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(mask=inputs.image[..., _CHANNELS.index(inputs.channel)].copy())


class MaskToImage(sdk.Node):
    """The masks as grey images (the value in all three channels). Returns IMAGE."""

    id = "MaskToImage"
    display_name = "Convert Mask to Image"
    category = "mask"

    class Inputs(sdk.Inputs):
        mask: sdk.Mask = sdk.link()

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        mask = as_mask_batch(inputs.mask)
        return self.Outputs(image=np.repeat(mask[..., None], 3, axis=-1))


class ImageColorToMask(sdk.Node):
    """A mask that is 1 where a pixel is exactly the colour (compared in 8-bit) and 0 elsewhere. Returns MASK."""

    id = "ImageColorToMask"
    display_name = "Convert Image Color to Mask"
    category = "mask"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        color: int = sdk.number(0, min=0, max=0xFFFFFF, step=1, tooltip="The colour as an integer 0xRRGGBB")

    class Outputs(sdk.Outputs):
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        rgb = np.rint(np.clip(inputs.image, 0.0, 1.0) * 255.0).astype(np.int64)
        packed = (rgb[..., 0] << 16) + (rgb[..., 1] << 8) + rgb[..., 2]
        return self.Outputs(mask=(packed == inputs.color).astype(np.float32))


class SolidMask(sdk.Node):
    """A width x height mask filled with one value. Returns MASK (batch of 1)."""

    id = "SolidMask"
    display_name = "Create Solid Mask"
    category = "mask"

    class Inputs(sdk.Inputs):
        value: float = sdk.number(1.0, min=0.0, max=1.0, step=0.01)
        width: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)
        height: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)

    class Outputs(sdk.Outputs):
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(mask=np.full((1, inputs.height, inputs.width), inputs.value, dtype=np.float32))


class InvertMask(sdk.Node):
    """1 − mask. Returns MASK."""

    id = "InvertMask"
    display_name = "Invert Mask"
    category = "mask"

    class Inputs(sdk.Inputs):
        mask: sdk.Mask = sdk.link()

    class Outputs(sdk.Outputs):
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(mask=(1.0 - inputs.mask).astype(np.float32))


class ThresholdMask(sdk.Node):
    """1 where the mask is above the value, 0 elsewhere. Returns MASK."""

    id = "ThresholdMask"
    display_name = "Threshold Mask"
    category = "mask"

    class Inputs(sdk.Inputs):
        mask: sdk.Mask = sdk.link()
        value: float = sdk.number(0.5, min=0.0, max=1.0, step=0.01, tooltip="Values strictly above become 1")

    class Outputs(sdk.Outputs):
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(mask=(inputs.mask > inputs.value).astype(np.float32))


class CropMask(sdk.Node):
    """The width x height region of the mask whose top-left is (x, y), cut short at the edges. Returns MASK."""

    id = "CropMask"
    display_name = "Crop Mask"
    category = "mask"

    class Inputs(sdk.Inputs):
        mask: sdk.Mask = sdk.link()
        x: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        y: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        width: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)
        height: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)

    class Outputs(sdk.Outputs):
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        mask = as_mask_batch(inputs.mask)
        region = mask[:, inputs.y : inputs.y + inputs.height, inputs.x : inputs.x + inputs.width]
        return self.Outputs(mask=region.copy())


class MaskComposite(sdk.Node):
    """Combine source into destination at (x, y) with an operation, clamped to [0, 1]. Returns MASK.

    and, or and xor work on the masks rounded to 0 or 1.
    """

    id = "MaskComposite"
    display_name = "Combine Masks"
    category = "mask"

    class Inputs(sdk.Inputs):
        destination: sdk.Mask = sdk.link()
        source: sdk.Mask = sdk.link()
        x: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        y: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        operation: str = sdk.select(options=["multiply", "add", "subtract", "and", "or", "xor"])

    class Outputs(sdk.Outputs):
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        output = as_mask_batch(inputs.destination).copy()
        source = as_mask_batch(inputs.source)
        left, top = inputs.x, inputs.y
        right = min(left + source.shape[-1], output.shape[-1])
        bottom = min(top + source.shape[-2], output.shape[-2])
        if right <= left or bottom <= top:
            return self.Outputs(mask=output)
        dest = output[:, top:bottom, left:right]
        src = source[:, : bottom - top, : right - left]
        binary_dest, binary_src = np.rint(dest) > 0, np.rint(src) > 0
        results = {
            "multiply": lambda: dest * src,
            "add": lambda: dest + src,
            "subtract": lambda: dest - src,
            "and": lambda: (binary_dest & binary_src).astype(np.float32),
            "or": lambda: (binary_dest | binary_src).astype(np.float32),
            "xor": lambda: (binary_dest ^ binary_src).astype(np.float32),
        }
        output[:, top:bottom, left:right] = results[inputs.operation]()
        return self.Outputs(mask=np.clip(output, 0.0, 1.0))


class FeatherMask(sdk.Node):
    """The mask faded linearly to 0 over the given number of pixels at each edge. Returns MASK."""

    id = "FeatherMask"
    display_name = "Feather Mask"
    category = "mask"

    class Inputs(sdk.Inputs):
        mask: sdk.Mask = sdk.link()
        left: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        top: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        right: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        bottom: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)

    class Outputs(sdk.Outputs):
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        output = as_mask_batch(inputs.mask).copy()
        height, width = output.shape[-2:]
        left, right = min(inputs.left, width), min(inputs.right, width)
        top, bottom = min(inputs.top, height), min(inputs.bottom, height)
        # ComfyUI multiplies the k-th pixel from an edge by (k + 1) / n; corners get both factors
        if left:
            output[:, :, :left] *= (np.arange(left) + 1.0) / left
        if right:
            output[:, :, width - right :] *= ((np.arange(right) + 1.0) / right)[::-1]
        if top:
            output[:, :top, :] *= ((np.arange(top) + 1.0) / top)[:, None]
        if bottom:
            output[:, height - bottom :, :] *= ((np.arange(bottom) + 1.0) / bottom)[::-1, None]
        return self.Outputs(mask=output.astype(np.float32))


class GrowMask(sdk.Node):
    """The mask grown (positive expand) or shrunk (negative) by that many pixels. Returns MASK.

    Each step takes the maximum (or minimum) over the 3x3 neighbourhood; tapered corners leave out its corners.
    """

    id = "GrowMask"
    display_name = "Grow Mask"
    category = "mask"

    class Inputs(sdk.Inputs):
        mask: sdk.Mask = sdk.link()
        expand: int = sdk.number(0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION, step=1)
        tapered_corners: bool = sdk.toggle(
            True, tooltip="Grow in a rounded (diamond) shape instead of a square"
        )

    class Outputs(sdk.Outputs):
        mask: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        masks = as_mask_batch(inputs.mask)
        steps = abs(inputs.expand)
        offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        if inputs.tapered_corners:
            offsets = [(dy, dx) for dy, dx in offsets if dy == 0 or dx == 0]
        reduce = np.maximum if inputs.expand > 0 else np.minimum
        out = np.empty_like(masks)
        for b in range(masks.shape[0]):
            ctx.progress(b, masks.shape[0])
            current = masks[b]
            height, width = current.shape
            for _ in range(steps):
                # scipy's grey morphology pads with the reflection of the edge ("reflect" = numpy "symmetric")
                padded = np.pad(current, 1, mode="symmetric")
                current = reduce.reduce(
                    [padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] for dy, dx in offsets]
                )
            out[b] = current
        return self.Outputs(mask=out)


class MaskFillColor(sdk.Node):
    """The images with the masked area (mask 1) painted in a colour; partial mask values blend. Returns IMAGE.

    Connect LoadImage's MASK to put a background behind a transparent picture.
    """

    id = "MaskFillColor"
    display_name = "Fill Masked Area"
    category = "mask"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        mask: sdk.Mask = sdk.link(tooltip="Resized to the image when the sizes differ")
        color: str = sdk.color("#ffffff", tooltip="Paint colour for the masked area")
        invert_mask: bool = sdk.toggle(False, tooltip="Paint where the mask is 0 instead")

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = inputs.image
        mask = as_mask_batch(inputs.mask)
        if mask.shape[1:] != image.shape[1:3]:
            mask = resize(mask, image.shape[2], image.shape[1], "bilinear")
        mask = repeat_to_batch(mask, image.shape[0])
        if inputs.invert_mask:
            mask = 1.0 - mask
        weights = mask[..., None]
        color = np.asarray(rgb_from_hex(inputs.color), dtype=np.float32)
        return self.Outputs(image=(image * (1.0 - weights) + color * weights).astype(np.float32))


NODES: list[type[sdk.Node]] = [
    ImageToMask,
    MaskToImage,
    ImageColorToMask,
    SolidMask,
    InvertMask,
    ThresholdMask,
    CropMask,
    MaskComposite,
    FeatherMask,
    GrowMask,
    MaskFillColor,
]
