"""ComfyUI's smaller utility nodes the official templates use: text formatting, JSON extraction, number and
colour conversion, lists, seeds, custom combos, image batching, cropping, padding, alpha and video slicing.

Autogrow inputs are spelled ``group.child`` (``values.a``, ``masks.mask0``, ``inputs.input0``) as ComfyUI's
workflows flatten them (see ``utility``). Flowyard's engine runs each node once (it does not map a node over a
list), so ComfyUI's list outputs are plain Python lists here (``LIST[ANY]``), read back with GetItemFromList.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

import numpy as np
from pydantic import create_model

from nodepacks import sdk
from nodepacks.core._imaging import MAX_RESOLUTION, as_mask_batch, resize
from nodepacks.core.utility import batch_images

FORMAT_NAMES = tuple(string.ascii_lowercase)

_StringFormatInputs: type[sdk.Inputs] = create_model(  # type: ignore[call-overload]
    "Inputs",
    __base__=sdk.Inputs,
    f_string=(str, sdk.text("{a}", multiline=True, tooltip="Python format string over a, b, c...")),
    **{
        f"values.{name}": (sdk.AnyValue, sdk.link(optional=True, tooltip=f"The value of {{{name}}}"))
        for name in FORMAT_NAMES
    },
)


class StringFormat(sdk.Node):
    """Python's ``str.format`` over the connected values a, b, c... (every format spec works). Returns STRING."""

    id = "StringFormat"
    display_name = "Format Text"
    category = "text"

    Inputs = _StringFormatInputs

    class Outputs(sdk.Outputs):
        STRING: str

    def execute(self, inputs: Any, ctx: sdk.Context) -> Outputs:
        values = {name: getattr(inputs, f"values.{name}") for name in FORMAT_NAMES}
        values = {name: value for name, value in values.items() if value is not None}
        try:
            text = inputs.f_string.format(**values)
        except KeyError as exc:
            raise sdk.NodeError(f"f_string: {{{exc.args[0]}}} names no connected value") from None
        except (IndexError, ValueError, AttributeError, TypeError) as exc:
            raise sdk.NodeError(f"f_string: {exc}") from None
        return self.Outputs(STRING=text)


class JsonExtractString(sdk.Node):
    """The value of ``key`` in the first JSON object found in the text (Markdown code fences and prose around it
    are skipped); "" when no object has one. Returns STRING."""

    id = "JsonExtractString"
    display_name = "Extract Text from JSON"
    category = "text"

    class Inputs(sdk.Inputs):
        json_string: str = sdk.text("", multiline=True)
        key: str = sdk.text("")

    class Outputs(sdk.Outputs):
        STRING: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        decoder = json.JSONDecoder()
        for match in re.finditer(r"\{", inputs.json_string):
            try:
                data, _ = decoder.raw_decode(inputs.json_string, match.start())
            except json.JSONDecodeError:
                continue
            value = data.get(inputs.key)
            if value is None:
                return self.Outputs(STRING="")
            # objects and lists come back as JSON text, not as Python's repr
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            return self.Outputs(STRING=text)
        return self.Outputs(STRING="")


class ComfyNumberConvert(sdk.Node):
    """A number, numeric text or boolean as FLOAT and INT (the INT truncates toward zero)."""

    id = "ComfyNumberConvert"
    display_name = "Convert Number"
    category = "utils"

    class Inputs(sdk.Inputs):
        value: Any = sdk.link(type="BOOLEAN|FLOAT|INT|STRING", tooltip="The value to convert")

    class Outputs(sdk.Outputs):
        FLOAT: float
        INT: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        value = inputs.value
        if isinstance(value, bool | int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise sdk.NodeError(f"value: {value!r} is not a number") from None
        else:
            raise sdk.NodeError(f"value: cannot convert a {type(value).__name__} to a number")
        if not np.isfinite(number):
            raise sdk.NodeError(f"value: {value!r} is not a finite number")
        whole = value if isinstance(value, int) and not isinstance(value, bool) else int(number)
        return self.Outputs(FLOAT=number, INT=whole)


class ColorToRGBInt(sdk.Node):
    """A colour as the integer 0xRRGGBB (EmptyImage's colour), its hex text and its alpha (1.0).
    Returns INT, STRING, FLOAT."""

    id = "ColorToRGBInt"
    display_name = "Color to RGB Int"
    category = "utils"

    class Inputs(sdk.Inputs):
        color: str = sdk.color("#ffffff")

    class Outputs(sdk.Outputs):
        rgb_int: int
        hex: str
        alpha: float

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        value = int(inputs.color.lstrip("#")[:6], 16)
        return self.Outputs(rgb_int=value, hex=inputs.color.lower(), alpha=1.0)


CREATE_LIST_INPUTS = 16

_CreateListInputs: type[sdk.Inputs] = create_model(  # type: ignore[call-overload]
    "Inputs",
    __base__=sdk.Inputs,
    **{
        f"inputs.input{i}": (sdk.AnyValue, sdk.link(optional=True, tooltip="An item (a list adds its items)"))
        for i in range(CREATE_LIST_INPUTS)
    },
)


class CreateList(sdk.Node):
    """A list of the connected values in input order (a connected list adds its items). Returns LIST[ANY]."""

    id = "CreateList"
    display_name = "Create List"
    category = "utils"

    Inputs = _CreateListInputs

    class Outputs(sdk.Outputs):
        list: list[Any]

    def execute(self, inputs: Any, ctx: sdk.Context) -> Outputs:
        items: list[Any] = []
        for index in range(CREATE_LIST_INPUTS):
            value = getattr(inputs, f"inputs.input{index}")
            if value is None:
                continue
            items.extend(value if isinstance(value, list) else [value])
        return self.Outputs(list=items)


class GetItemFromList(sdk.Node):
    """The item at ``index`` of a list (negative counts from the end). Returns ANY."""

    id = "GetItemFromList"
    display_name = "Get Item From List"
    category = "utils"

    class Inputs(sdk.Inputs):
        list: Any = sdk.link(type="ANY", tooltip="A list (from Create List)")
        index: int = sdk.number(0, min=-4096, max=4096)

    class Outputs(sdk.Outputs):
        item: sdk.AnyValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        items = inputs.list if isinstance(inputs.list, list | tuple) else [inputs.list]
        if not -len(items) <= inputs.index < len(items):
            raise sdk.NodeError(f"index: {inputs.index} is outside a list of {len(items)} item(s)")
        return self.Outputs(item=items[inputs.index])


class SeedNode(sdk.Node):
    """A seed the editor randomizes, increments or keeps after each run (ComfyUI's Seed node). Returns INT."""

    id = "SeedNode"
    display_name = "Seed"
    category = "utils"

    class Inputs(sdk.Inputs):
        seed: int = sdk.seed(0)

    class Outputs(sdk.Outputs):
        seed: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(seed=inputs.seed)


class CustomCombo(sdk.Node):
    """A choice among options the workflow's author wrote; passes the chosen text and its index on.
    Returns STRING, INT."""

    id = "CustomCombo"
    display_name = "Custom Combo"
    category = "utils"

    class Inputs(sdk.Inputs):
        choice: str = sdk.text("", tooltip="The chosen option")
        index: int = sdk.number(0, min=0, max=4096, tooltip="The position of the chosen option")

    class Outputs(sdk.Outputs):
        STRING: str
        INDEX: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(STRING=inputs.choice, INDEX=inputs.index)


PAD_INTERPOLATIONS = ("area", "bicubic", "nearest-exact", "bilinear", "lanczos")


class ResizeAndPadImage(sdk.Node):
    """Scale images to fit inside target_width x target_height keeping their aspect, then pad the rest evenly
    with white or black. Returns IMAGE."""

    id = "ResizeAndPadImage"
    display_name = "Resize and Pad Image"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        target_width: int = sdk.number(512, min=1, max=MAX_RESOLUTION)
        target_height: int = sdk.number(512, min=1, max=MAX_RESOLUTION)
        padding_color: str = sdk.select(options=["white", "black"])
        interpolation: str = sdk.select(options=PAD_INTERPOLATIONS)

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = np.asarray(inputs.image, dtype=np.float32)
        height, width = image.shape[1:3]
        target_w, target_h = inputs.target_width, inputs.target_height
        scale = min(target_w / width, target_h / height)
        new_w, new_h = max(1, int(width * scale)), max(1, int(height * scale))
        scaled = resize(image, new_w, new_h, inputs.interpolation)
        fill = 1.0 if inputs.padding_color == "white" else 0.0
        out = np.full((image.shape[0], target_h, target_w, image.shape[3]), fill, np.float32)
        top, left = (target_h - new_h) // 2, (target_w - new_w) // 2
        out[:, top : top + new_h, left : left + new_w] = scaled
        return self.Outputs(IMAGE=out)


class ImageBatch(sdk.Node):
    """Join two image batches; image2 is scaled (centre-cropped to image1's aspect) to image1's size.
    Returns IMAGE."""

    id = "ImageBatch"
    display_name = "Batch Images"
    category = "image"

    class Inputs(sdk.Inputs):
        image1: sdk.Image = sdk.link()
        image2: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(IMAGE=batch_images([inputs.image1, inputs.image2]))


class RepeatImageBatch(sdk.Node):
    """The image batch repeated ``amount`` times. Returns IMAGE."""

    id = "RepeatImageBatch"
    display_name = "Repeat Image Batch"
    category = "image/batch"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        amount: int = sdk.number(1, min=1, max=4096)

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(IMAGE=np.tile(inputs.image, (inputs.amount, 1, 1, 1)))


class RebatchImages(sdk.Node):
    """Pass on the images in batches of at most ``batch_size``. Flowyard runs a node once rather than once per
    batch, so the images must fit in one batch; a smaller batch_size is refused. Returns IMAGE."""

    id = "RebatchImages"
    display_name = "Rebatch Images"
    category = "image/batch"

    class Inputs(sdk.Inputs):
        images: sdk.Image = sdk.link()
        batch_size: int = sdk.number(1, min=1, max=4096)

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count = inputs.images.shape[0]
        if count > inputs.batch_size:
            raise sdk.NodeError(
                f"batch_size: {count} images in batches of {inputs.batch_size} would make a list of batches, "
                f"which Flowyard does not run nodes over; raise batch_size to at least {count}"
            )
        return self.Outputs(IMAGE=inputs.images)


def _crop_region(value: Any) -> dict[str, int]:
    if isinstance(value, str):
        try:
            value = json.loads(value or "{}")
        except ValueError:
            raise sdk.NodeError(f"crop_region: {value!r} is not JSON") from None
    if not isinstance(value, dict):
        raise sdk.NodeError("crop_region: expected an object {x, y, width, height}")
    region = {"x": 0, "y": 0, "width": 512, "height": 512}
    for key in region:
        if key in value:
            try:
                region[key] = int(value[key])
            except (TypeError, ValueError):
                raise sdk.NodeError(f"crop_region: {key} is not a number: {value[key]!r}") from None
    return region


class ImageCropV2(sdk.Node):
    """Crop images to a region ``{x, y, width, height}`` (clipped to the image). Returns IMAGE."""

    id = "ImageCropV2"
    display_name = "Crop Image"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        crop_region: sdk.JSONValue = sdk.text(
            '{"x": 0, "y": 0, "width": 512, "height": 512}',
            multiline=True,
            tooltip="The region as JSON {x, y, width, height} in pixels",
        )

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        region = _crop_region(inputs.crop_region)
        image = inputs.image
        if region["width"] < 1 or region["height"] < 1:
            raise sdk.NodeError("crop_region: width and height must be at least 1")
        x = max(0, min(region["x"], image.shape[2] - 1))
        y = max(0, min(region["y"], image.shape[1] - 1))
        return self.Outputs(IMAGE=np.array(image[:, y : y + region["height"], x : x + region["width"]]))


class ResizeImagesByLongerEdge(sdk.Node):
    """Scale images so that their longer side is ``longer_edge`` pixels, keeping the aspect (Lanczos).
    Returns IMAGE."""

    id = "ResizeImagesByLongerEdge"
    display_name = "Resize Images by Longer Edge"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        images: sdk.Image = sdk.link()
        longer_edge: int = sdk.number(1024, min=1, max=8192)

    class Outputs(sdk.Outputs):
        images: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        height, width = inputs.images.shape[1:3]
        scale = inputs.longer_edge / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        return self.Outputs(images=resize(inputs.images, new_w, new_h, "lanczos"))


BATCH_MASK_INPUTS = 16

_BatchMasksInputs: type[sdk.Inputs] = create_model(  # type: ignore[call-overload]
    "Inputs",
    __base__=sdk.Inputs,
    **{
        f"masks.mask{i}": (sdk.Mask | None, sdk.link(optional=True, tooltip="A mask batch to append"))
        for i in range(BATCH_MASK_INPUTS)
    },
)


class BatchMasksNode(sdk.Node):
    """Join the connected mask batches into one, in input order, each scaled (bilinear) to the first's size.
    Returns MASK."""

    id = "BatchMasksNode"
    display_name = "Batch Masks"
    category = "mask"

    Inputs = _BatchMasksInputs

    class Outputs(sdk.Outputs):
        MASK: sdk.Mask

    def execute(self, inputs: Any, ctx: sdk.Context) -> Outputs:
        masks = [getattr(inputs, f"masks.mask{i}") for i in range(BATCH_MASK_INPUTS)]
        batches = [as_mask_batch(mask) for mask in masks if mask is not None]
        if not batches:
            raise sdk.NodeError("masks: connect at least one mask")
        height, width = batches[0].shape[1:]
        parts = [resize(mask, width, height, "bilinear") for mask in batches]
        return self.Outputs(MASK=np.concatenate(parts, axis=0))


class SplitImageWithAlpha(sdk.Node):
    """Split RGBA images into RGB and a mask (1 - alpha; all zeros when there is no alpha). Returns IMAGE, MASK."""

    id = "SplitImageWithAlpha"
    display_name = "Split Image with Alpha"
    category = "mask/compositing"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image
        MASK: sdk.Mask

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = np.asarray(inputs.image, dtype=np.float32)
        alpha = image[..., 3] if image.shape[-1] > 3 else np.ones(image.shape[:3], np.float32)
        return self.Outputs(IMAGE=np.array(image[..., :3]), MASK=1.0 - alpha)


class ImageRemoveAlpha(sdk.Node):
    """Drop the alpha channel of RGBA images (comfyui_essentials' "ImageRemoveAlpha+"). Returns IMAGE."""

    id = "ImageRemoveAlpha+"
    display_name = "Image Remove Alpha"
    category = "image"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        IMAGE: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(IMAGE=np.array(inputs.image[..., :3], dtype=np.float32))


class VideoSlice(sdk.Node):
    """Cut a video to ``duration`` seconds from ``start_time`` (negative counts from the end; duration 0 keeps
    the rest), its audio with it. With strict_duration a video too short for the duration is an error.
    Returns VIDEO."""

    id = "Video Slice"
    display_name = "Video Slice"
    category = "video"

    class Inputs(sdk.Inputs):
        video: sdk.VideoValue = sdk.link()
        start_time: float = sdk.number(0.0, min=-1e5, max=1e5, step=0.001, tooltip="Start time in seconds")
        duration: float = sdk.number(
            0.0, min=0.0, max=1e5, step=0.001, tooltip="Duration in seconds, or 0 for the rest of the video"
        )
        strict_duration: bool = sdk.toggle(
            False, tooltip="Fail when the video is shorter than start_time + duration"
        )

    class Outputs(sdk.Outputs):
        VIDEO: sdk.VideoValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        video = inputs.video
        fps = float(video.fps)
        count = video.frames.shape[0]
        total = count / fps
        start = inputs.start_time + total if inputs.start_time < 0 else inputs.start_time
        start = max(0.0, start)
        if start >= total:
            raise sdk.NodeError(f"start_time: {inputs.start_time}s is past the video's end ({total:.3f}s)")
        end = total if inputs.duration == 0 else start + inputs.duration
        if inputs.strict_duration and end > total + 1e-6:
            raise sdk.NodeError(
                f"duration: the video is {total:.3f}s long, too short for {inputs.duration}s from {start:.3f}s"
            )
        first, last = round(start * fps), min(count, round(min(end, total) * fps))
        if last <= first:
            raise sdk.NodeError("duration: the slice holds no frame")
        audio = video.audio
        if audio is not None:
            rate = audio.sample_rate
            samples = np.asarray(audio.samples)[..., round(first / fps * rate) : round(last / fps * rate)]
            audio = sdk.Audio(samples=np.array(samples, dtype=np.float32), sample_rate=rate)
        return self.Outputs(VIDEO=sdk.Video(frames=np.array(video.frames[first:last]), fps=fps, audio=audio))


NODES: list[type[sdk.Node]] = [
    StringFormat,
    JsonExtractString,
    ComfyNumberConvert,
    ColorToRGBInt,
    CreateList,
    GetItemFromList,
    SeedNode,
    CustomCombo,
    ResizeAndPadImage,
    ImageBatch,
    RepeatImageBatch,
    RebatchImages,
    ImageCropV2,
    ResizeImagesByLongerEdge,
    BatchMasksNode,
    SplitImageWithAlpha,
    ImageRemoveAlpha,
    VideoSlice,
]
