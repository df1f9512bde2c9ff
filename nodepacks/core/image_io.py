"""Image sources and sinks: EmptyImage, LoadImage, SaveImage, PreviewImage (ComfyUI's names and inputs).

Nodes never write files: SaveImage and PreviewImage hand their images to the runtime through ``UI``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, ImageSequence, UnidentifiedImageError

from nodepacks import sdk
from nodepacks.core._imaging import MAX_RESOLUTION, rgb_from_int


class EmptyImage(sdk.Node):
    """A batch of images filled with one colour. Returns IMAGE (batch_size, height, width, 3)."""

    id = "EmptyImage"
    display_name = "Empty Image"
    category = "image"

    class Inputs(sdk.Inputs):
        width: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)
        height: int = sdk.number(512, min=1, max=MAX_RESOLUTION, step=1)
        batch_size: int = sdk.number(1, min=1, max=4096)
        color: int = sdk.number(
            0, min=0, max=0xFFFFFF, step=1, tooltip="Fill colour as an integer 0xRRGGBB (0xFF8000 is orange)"
        )

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        shape = (inputs.batch_size, inputs.height, inputs.width, 3)
        image = np.empty(shape, dtype=np.float32)
        image[...] = rgb_from_int(inputs.color)
        return self.Outputs(image=image)


class LoadImage(sdk.Node):
    """Load an uploaded image (every frame of an animated one). Returns IMAGE and MASK.

    The mask is 1 - alpha, so transparent pixels are 1; an image without alpha gives a (batch, 64, 64) mask
    of zeros, as in ComfyUI. EXIF orientation is applied.
    """

    id = "LoadImage"
    display_name = "Load Image"
    category = "image"

    class Inputs(sdk.Inputs):
        image: str = sdk.upload(accept="image", tooltip="An uploaded image file")

    class Outputs(sdk.Outputs):
        image: sdk.Image
        mask: sdk.Mask = sdk.output(tooltip="1 where the image is transparent, 0 where opaque")

    @classmethod
    def fingerprint(cls, inputs: Mapping[str, Any], files: sdk.FileProvider) -> str | None:
        """The uploaded file's content hash, so that a re-upload under the same name re-runs the node."""
        return files.sha256(inputs["image"])

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        try:
            with ctx.files.open(inputs.image) as handle:
                source = PILImage.open(handle)
                source.load()
                frames, masks = _decode_frames(source)
        except FileNotFoundError:
            raise sdk.NodeError(f"image {inputs.image!r} is not available to this run") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise sdk.NodeError(f"image {inputs.image!r} could not be decoded: {exc}") from None
        return self.Outputs(image=np.stack(frames), mask=np.stack(masks))


def _decode_frames(source: PILImage.Image) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return the frames of an opened image as RGB arrays and their 1 - alpha masks (ComfyUI's load_image)."""
    frames: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    size: tuple[int, int] | None = None
    for raw in ImageSequence.Iterator(source):
        frame = ImageOps.exif_transpose(raw)
        if frame.mode == "I":
            # 16-bit greyscale PNGs decode to 32-bit integers; bring them to the 8-bit range first
            frame = frame.point(lambda value: value * (1 / 255))
        rgb = frame.convert("RGB")
        if size is None:
            size = rgb.size
        elif rgb.size != size:  # frames of another size cannot share a batch; ComfyUI skips them too
            continue
        frames.append(np.asarray(rgb, dtype=np.float32) / 255.0)
        if "A" in frame.getbands():
            alpha = np.asarray(frame.getchannel("A"), dtype=np.float32) / 255.0
            masks.append(1.0 - alpha)
        elif frame.mode == "P" and "transparency" in frame.info:
            alpha = np.asarray(frame.convert("RGBA").getchannel("A"), dtype=np.float32) / 255.0
            masks.append(1.0 - alpha)
        else:
            masks.append(np.zeros((64, 64), dtype=np.float32))
    if any(mask.shape != masks[0].shape for mask in masks):
        # a mix of frames with and without alpha: give the opaque ones full-size empty masks
        height, width = frames[0].shape[:2]
        masks = [
            mask if mask.shape == (height, width) else np.zeros((height, width), np.float32) for mask in masks
        ]
    return frames, masks


class SaveImage(sdk.Node):
    """Keep the images as results of the run (the runtime stores them). Returns the images unchanged."""

    id = "SaveImage"
    display_name = "Save Image"
    category = "image"
    output_node = True

    class Inputs(sdk.Inputs):
        images: sdk.Image = sdk.link(tooltip="The images to save")
        filename_prefix: str = sdk.text(
            "ComfyUI",
            tooltip="The prefix of the saved files' names; may contain folders, e.g. 'portraits/me'",
        )

    class Outputs(sdk.Outputs):
        images: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        ui = sdk.UI(images=[inputs.images], saved=True, filename_prefix=inputs.filename_prefix)
        return sdk.Result(outputs=self.Outputs(images=inputs.images), ui=ui)


class PreviewImage(sdk.Node):
    """Show the images in the editor without keeping them as results. Returns the images unchanged."""

    id = "PreviewImage"
    display_name = "Preview Image"
    category = "image"
    output_node = True

    class Inputs(sdk.Inputs):
        images: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        images: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        ui = sdk.UI(images=[inputs.images], saved=False)
        return sdk.Result(outputs=self.Outputs(images=inputs.images), ui=ui)


NODES: list[type[sdk.Node]] = [EmptyImage, LoadImage, SaveImage, PreviewImage]
