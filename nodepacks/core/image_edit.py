"""Image nodes of our own (no ComfyUI core equivalent): solid colours, padding, free rotation, colour
adjustments and text drawing. Colours come from colour-picker widgets (``#rrggbb``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from nodepacks import sdk
from nodepacks.core._imaging import MAX_RESOLUTION, rgb_from_hex

# ITU-R BT.601 luma, the weights of PIL's "L" conversion
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class SolidColorImage(sdk.Node):
    """A batch of images filled with a colour picked in the editor. Returns IMAGE."""

    id = "SolidColorImage"
    display_name = "Solid Color Image"
    category = "image"

    class Inputs(sdk.Inputs):
        width: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)
        height: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)
        batch_size: int = sdk.number(1, min=1, max=4096)
        color: str = sdk.color("#000000")

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = np.empty((inputs.batch_size, inputs.height, inputs.width, 3), dtype=np.float32)
        image[...] = rgb_from_hex(inputs.color)
        return self.Outputs(image=image)


class ImagePadColor(sdk.Node):
    """The images with borders of a colour added on each side. Returns IMAGE and a MASK that is 1 on the borders."""

    id = "ImagePadColor"
    display_name = "Pad Image"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        left: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        top: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        right: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        bottom: int = sdk.number(0, min=0, max=MAX_RESOLUTION, step=1)
        color: str = sdk.color("#000000", tooltip="Colour of the new borders")

    class Outputs(sdk.Outputs):
        image: sdk.Image
        mask: sdk.Mask = sdk.output(tooltip="1 on the added borders, 0 on the original image")

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        batch, height, width, _ = inputs.image.shape
        new_height = height + inputs.top + inputs.bottom
        new_width = width + inputs.left + inputs.right
        padded = np.empty((batch, new_height, new_width, 3), dtype=np.float32)
        padded[...] = rgb_from_hex(inputs.color)
        rows = slice(inputs.top, inputs.top + height)
        cols = slice(inputs.left, inputs.left + width)
        padded[:, rows, cols] = inputs.image
        mask = np.ones((batch, new_height, new_width), dtype=np.float32)
        mask[:, rows, cols] = 0.0
        return self.Outputs(image=padded, mask=mask)


class ImageRotateAngle(sdk.Node):
    """The images rotated clockwise by any angle around their centre. Returns IMAGE.

    With expand the canvas grows to hold the whole rotated image; uncovered corners take the fill colour.
    """

    id = "ImageRotateAngle"
    display_name = "Rotate Image (Angle)"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        angle: float = sdk.number(0.0, min=-360.0, max=360.0, step=0.1, tooltip="Degrees clockwise")
        expand: bool = sdk.toggle(True, tooltip="Grow the canvas so no corner is cut off")
        resample: str = sdk.select(options=["bilinear", "nearest", "bicubic"])
        fill_color: str = sdk.color("#000000", tooltip="Colour of the areas the rotation uncovers")

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        resample = {
            "nearest": PILImage.Resampling.NEAREST,
            "bilinear": PILImage.Resampling.BILINEAR,
            "bicubic": PILImage.Resampling.BICUBIC,
        }[inputs.resample]
        fill = rgb_from_hex(inputs.fill_color)
        frames = []
        total = inputs.image.shape[0]
        for b in range(total):
            ctx.progress(b, total)
            # rotate each channel as a float plane: no 8-bit rounding; PIL turns counter-clockwise
            planes = [
                np.asarray(
                    PILImage.fromarray(
                        np.ascontiguousarray(inputs.image[b, :, :, c], dtype=np.float32)
                    ).rotate(-inputs.angle, resample=resample, expand=inputs.expand, fillcolor=fill[c])
                )
                for c in range(3)
            ]
            frames.append(np.stack(planes, axis=-1))
        return self.Outputs(image=np.clip(np.stack(frames), 0.0, 1.0).astype(np.float32))


class ImageGrayscale(sdk.Node):
    """The images in shades of grey (BT.601 luma in all three channels). Returns IMAGE."""

    id = "ImageGrayscale"
    display_name = "Grayscale Image"
    category = "image/color"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        luma = inputs.image @ _LUMA
        return self.Outputs(image=np.repeat(luma[..., None], 3, axis=-1).astype(np.float32))


class ImageAdjustColor(sdk.Node):
    """The images with brightness, contrast and saturation changed, clamped to [0, 1]. Returns IMAGE.

    Saturation mixes with the grey version, contrast scales around mid-grey, then brightness is added.
    """

    id = "ImageAdjustColor"
    display_name = "Brightness / Contrast / Saturation"
    category = "image/color"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        brightness: float = sdk.number(
            0.0, min=-1.0, max=1.0, step=0.01, slider=True, tooltip="Added to every channel"
        )
        contrast: float = sdk.number(
            1.0,
            min=0.0,
            max=3.0,
            step=0.01,
            slider=True,
            tooltip="1 unchanged, 0 flat grey, 2 twice as strong",
        )
        saturation: float = sdk.number(
            1.0, min=0.0, max=3.0, step=0.01, slider=True, tooltip="1 unchanged, 0 grey, 2 twice as vivid"
        )

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = inputs.image
        grey = (image @ _LUMA)[..., None]
        image = grey + (image - grey) * inputs.saturation
        image = (image - 0.5) * inputs.contrast + 0.5 + inputs.brightness
        return self.Outputs(image=np.clip(image, 0.0, 1.0).astype(np.float32))


class ImageDrawText(sdk.Node):
    """The images with text drawn on them, its top-left corner at (x, y). Returns IMAGE.

    Uses Pillow's built-in font; several lines are allowed. Text running past the edges is cut off.
    """

    id = "ImageDrawText"
    display_name = "Draw Text"
    category = "image"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        text: str = sdk.text("Hello", multiline=True)
        x: int = sdk.number(0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION, step=1)
        y: int = sdk.number(0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION, step=1)
        size: int = sdk.number(24, min=4, max=1024, step=1, tooltip="Font size in pixels")
        color: str = sdk.color("#ffffff")
        align: str = sdk.select(options=["left", "center", "right"], tooltip="Alignment of multi-line text")

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        _, height, width, _ = inputs.image.shape
        # draw the glyph coverage once as a greyscale mask, then blend the colour in at full float precision
        coverage = PILImage.new("L", (width, height), 0)
        font = ImageFont.load_default(size=inputs.size)
        ImageDraw.Draw(coverage).multiline_text(
            (inputs.x, inputs.y), inputs.text, fill=255, font=font, align=inputs.align
        )
        weights = (np.asarray(coverage, dtype=np.float32) / 255.0)[None, :, :, None]
        color = np.asarray(rgb_from_hex(inputs.color), dtype=np.float32)
        return self.Outputs(image=(inputs.image * (1.0 - weights) + color * weights).astype(np.float32))


NODES: list[type[sdk.Node]] = [
    SolidColorImage,
    ImagePadColor,
    ImageRotateAngle,
    ImageGrayscale,
    ImageAdjustColor,
    ImageDrawText,
]
