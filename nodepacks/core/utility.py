"""ComfyUI's newer utility nodes: switch, batching, resolution, stitching, resizing, edges, math expressions,
text and advanced image saving.

Inputs ComfyUI groups (an ``Autogrow`` list or the options of a ``DynamicCombo``) are spelled the way ComfyUI's
prompts and workflows flatten them, ``group.child`` (``images.image0``, ``values.a``, ``resize_type.width``), so
links and API prompts land on the right inputs.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import create_model

from nodepacks import sdk
from nodepacks.core._imaging import (
    MAX_RESOLUTION,
    UPSCALE_METHODS,
    as_mask_batch,
    common_upscale,
    resize,
)


class ComfySwitchNode(sdk.Node):
    """Pass on on_true when switch is on, on_false when it is off; with only one connected, pass that one."""

    id = "ComfySwitchNode"
    display_name = "Switch"
    category = "logic"

    class Inputs(sdk.Inputs):
        switch: bool = sdk.toggle(False)
        on_false: sdk.AnyValue = sdk.link(optional=True)
        on_true: sdk.AnyValue = sdk.link(optional=True)

    class Outputs(sdk.Outputs):
        output: sdk.AnyValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        chosen, other = ("on_true", "on_false") if inputs.switch else ("on_false", "on_true")
        value = getattr(inputs, chosen)
        if value is None:
            value = getattr(inputs, other)
            if value is None or inputs.model_fields_set >= {"on_false", "on_true"}:
                raise sdk.NodeError(f"switch is {inputs.switch} but nothing is connected to {chosen}")
        return self.Outputs(output=value)


BATCH_IMAGE_INPUTS = 16

_BatchImagesInputs: type[sdk.Inputs] = create_model(  # type: ignore[call-overload]
    "Inputs",
    __base__=sdk.Inputs,
    **{
        f"images.image{i}": (sdk.Image | None, sdk.link(optional=True, tooltip="An image batch to append"))
        for i in range(BATCH_IMAGE_INPUTS)
    },
)


def batch_images(images: list[np.ndarray]) -> np.ndarray:
    """One batch of images: channels padded with 1 to the most any has, sizes matched to the first image
    (bilinear, centre-cropped to its aspect)."""
    channels = max(image.shape[-1] for image in images)
    height, width = images[0].shape[1:3]
    parts = []
    for image in images:
        image = np.asarray(image, dtype=np.float32)
        if image.shape[-1] < channels:
            pad = np.ones((*image.shape[:-1], channels - image.shape[-1]), np.float32)
            image = np.concatenate([image, pad], axis=-1)
        if image.shape[1:3] != (height, width):
            image = common_upscale(image, width, height, "bilinear", "center")
        parts.append(image)
    return np.concatenate(parts, axis=0)


class BatchImagesNode(sdk.Node):
    """Join the connected image batches into one batch, in input order. Returns IMAGE."""

    id = "BatchImagesNode"
    display_name = "Batch Images"
    category = "image"

    Inputs = _BatchImagesInputs

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Any, ctx: sdk.Context) -> Outputs:
        names = [f"images.image{i}" for i in range(BATCH_IMAGE_INPUTS)]
        images = [getattr(inputs, name) for name in names if getattr(inputs, name) is not None]
        if not images:
            raise sdk.NodeError("images: connect at least one image")
        return self.Outputs(image=batch_images(images))


ASPECT_RATIOS = {
    "1:1 (Square)": (1, 1),
    "3:2 (Photo)": (3, 2),
    "4:3 (Standard)": (4, 3),
    "16:9 (Widescreen)": (16, 9),
    "21:9 (Ultrawide)": (21, 9),
    "2:3 (Portrait Photo)": (2, 3),
    "3:4 (Portrait Standard)": (3, 4),
    "9:16 (Portrait Widescreen)": (9, 16),
}


class ResolutionSelector(sdk.Node):
    """Width and height for an aspect ratio and a number of megapixels, each rounded to a multiple of 8.
    Returns INT width, INT height."""

    id = "ResolutionSelector"
    display_name = "Resolution Selector"
    category = "utils"

    class Inputs(sdk.Inputs):
        aspect_ratio: str = sdk.select(options=list(ASPECT_RATIOS))
        megapixels: float = sdk.number(1.0, min=0.1, max=16.0, step=0.1, tooltip="1.0 is 1024x1024")

    class Outputs(sdk.Outputs):
        width: int
        height: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        w_ratio, h_ratio = ASPECT_RATIOS[inputs.aspect_ratio]
        scale = math.sqrt(inputs.megapixels * 1024 * 1024 / (w_ratio * h_ratio))
        return self.Outputs(width=round(w_ratio * scale / 8) * 8, height=round(h_ratio * scale / 8) * 8)


class SaveText(sdk.Node):
    """Keep the text as a .txt, .md or .json file result. Returns the text."""

    id = "SaveText"
    display_name = "Save Text"
    category = "text"
    output_node = True

    class Inputs(sdk.Inputs):
        text: str = sdk.text(None, mode="socket")
        filename_prefix: str = sdk.text("ComfyUI")
        format: str = sdk.select(options=["txt", "md", "json"])

    class Outputs(sdk.Outputs):
        text: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        body = inputs.text
        if inputs.format == "json":
            try:
                body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
            except ValueError as exc:
                raise sdk.NodeError(f"text: not valid JSON ({exc})") from None
        ui = sdk.UI(
            text=[inputs.text],
            files=[sdk.MediaFile(body.encode("utf-8"), inputs.format, "file")],
            saved=True,
            filename_prefix=inputs.filename_prefix,
        )
        return sdk.Result(outputs=self.Outputs(text=inputs.text), ui=ui)


class ImageCompare(sdk.Node):
    """Show two images one after the other to compare them (image_a first)."""

    id = "ImageCompare"
    display_name = "Image Compare"
    category = "image"
    output_node = True

    class Inputs(sdk.Inputs):
        image_a: sdk.Image | None = sdk.link(optional=True)
        image_b: sdk.Image | None = sdk.link(optional=True)

    class Outputs(sdk.Outputs):
        pass

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        images = [image for image in (inputs.image_a, inputs.image_b) if image is not None and len(image)]
        counts = {"a_images": 0 if inputs.image_a is None else len(inputs.image_a)}
        counts["b_images"] = 0 if inputs.image_b is None else len(inputs.image_b)
        return sdk.Result(outputs=self.Outputs(), ui=sdk.UI(images=images, data={"compare": counts}))


def png16(frame: np.ndarray) -> bytes:
    """One (H, W, 3|4) or (H, W) float frame in [0, 1] as a 16-bit PNG."""
    data = np.clip(np.asarray(frame, dtype=np.float64) * 65535.0 + 0.5, 0, 65535).astype(">u2")
    if data.ndim == 2:
        data = data[..., None]
    height, width, channels = data.shape
    color_type = {1: 0, 3: 2, 4: 6}[channels]
    rows = b"".join(b"\x00" + data[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 6))
        + chunk(b"IEND", b"")
    )


_SaveImageAdvancedInputs: type[sdk.Inputs] = create_model(  # type: ignore[call-overload]
    "Inputs",
    __base__=sdk.Inputs,
    images=(sdk.Image, sdk.link(tooltip="The images to save")),
    filename_prefix=(str, sdk.text("ComfyUI")),
    format=(str, sdk.select(options=["png"])),
    **{
        "format.bit_depth": (str, sdk.select(options=["8-bit", "16-bit"])),
        "format.input_color_space": (str, sdk.select(options=["sRGB"])),
    },
)


class SaveImageAdvanced(sdk.Node):
    """Keep the images as PNG results, 8 or 16 bits per channel. Returns the images unchanged."""

    id = "SaveImageAdvanced"
    display_name = "Save Image (Advanced)"
    category = "image"
    output_node = True

    Inputs = _SaveImageAdvancedInputs

    class Outputs(sdk.Outputs):
        images: sdk.Image

    def execute(self, inputs: Any, ctx: sdk.Context) -> sdk.Result:
        images = inputs.images
        if getattr(inputs, "format.bit_depth") == "8-bit":
            ui = sdk.UI(images=[images], saved=True, filename_prefix=inputs.filename_prefix)
        else:
            frames = images if images.ndim == 4 else images[None]
            files = [sdk.MediaFile(png16(frame), "png", "image") for frame in frames]
            ui = sdk.UI(files=files, saved=True, filename_prefix=inputs.filename_prefix)
        return sdk.Result(outputs=self.Outputs(images=images), ui=ui)


class MaskPreview(sdk.Node):
    """Show a mask in the editor as a greyscale image."""

    id = "MaskPreview"
    display_name = "Preview Mask"
    category = "mask"
    output_node = True

    class Inputs(sdk.Inputs):
        mask: sdk.Mask = sdk.link(tooltip="The mask to preview")

    class Outputs(sdk.Outputs):
        pass

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        return sdk.Result(outputs=self.Outputs(), ui=sdk.UI(images=[as_mask_batch(inputs.mask)]))


RESIZE_TYPES = (
    "scale dimensions",
    "scale by multiplier",
    "scale longer dimension",
    "scale shorter dimension",
    "scale width",
    "scale height",
    "scale total pixels",
    "match size",
    "scale to multiple",
)

_ResizeInputs: type[sdk.Inputs] = create_model(  # type: ignore[call-overload]
    "Inputs",
    __base__=sdk.Inputs,
    input=(Any, sdk.link(type="IMAGE|MASK", tooltip="The image or mask to resize")),
    resize_type=(
        str,
        sdk.select(
            options=list(RESIZE_TYPES),
            shows={
                "scale dimensions": ["resize_type.width", "resize_type.height", "resize_type.crop"],
                "scale by multiplier": ["resize_type.multiplier"],
                "scale longer dimension": ["resize_type.longer_size"],
                "scale shorter dimension": ["resize_type.shorter_size"],
                "scale width": ["resize_type.width"],
                "scale height": ["resize_type.height"],
                "scale total pixels": ["resize_type.megapixels"],
                "match size": ["resize_type.match"],
                "scale to multiple": ["resize_type.multiple"],
            },
        ),
    ),
    **{
        "resize_type.width": (int, sdk.number(512, min=0, max=MAX_RESOLUTION, tooltip="0: from the height")),
        "resize_type.height": (int, sdk.number(512, min=0, max=MAX_RESOLUTION, tooltip="0: from the width")),
        "resize_type.crop": (str, sdk.select("center", options=["disabled", "center"])),
        "resize_type.multiplier": (float, sdk.number(1.0, min=0.01, max=8.0, step=0.01)),
        "resize_type.longer_size": (int, sdk.number(512, min=0, max=MAX_RESOLUTION)),
        "resize_type.shorter_size": (int, sdk.number(512, min=0, max=MAX_RESOLUTION)),
        "resize_type.megapixels": (float, sdk.number(1.0, min=0.01, max=16.0, step=0.01)),
        "resize_type.match": (Any, sdk.link(optional=True, type="IMAGE|MASK", tooltip="For 'match size'")),
        "resize_type.multiple": (int, sdk.number(8, min=1, max=MAX_RESOLUTION)),
    },
    scale_method=(str, sdk.select("area", options=list(UPSCALE_METHODS))),
)


def _scaled(array: np.ndarray, width: int, height: int, method: str, crop: str = "disabled") -> np.ndarray:
    return common_upscale(array, max(1, width), max(1, height), method, crop)


def resize_image_or_mask(
    array: np.ndarray, resize_type: str, options: dict[str, Any], method: str
) -> np.ndarray:
    """``array`` (IMAGE or MASK) resized as ComfyUI's ResizeImageMaskNode does for ``resize_type``."""
    height, width = array.shape[1], array.shape[2]
    if resize_type in ("scale dimensions", "scale width", "scale height"):
        new_w = options["width"] if resize_type != "scale height" else 0
        new_h = options["height"] if resize_type != "scale width" else 0
        crop = options["crop"] if resize_type == "scale dimensions" else "disabled"
        if new_w == 0 and new_h == 0:
            return array
        if new_w == 0:
            new_w = round(width * new_h / height)
        elif new_h == 0:
            new_h = round(height * new_w / width)
        return _scaled(array, new_w, new_h, method, crop)
    if resize_type == "scale by multiplier":
        return _scaled(
            array, round(width * options["multiplier"]), round(height * options["multiplier"]), method
        )
    if resize_type in ("scale longer dimension", "scale shorter dimension"):
        size = options["longer_size" if resize_type == "scale longer dimension" else "shorter_size"]
        longer = resize_type == "scale longer dimension"
        if width == height:
            return _scaled(array, size, size, method)
        if (height > width) == longer:
            return _scaled(array, round(width / height * size), size, method)
        return _scaled(array, size, round(height / width * size), method)
    if resize_type == "scale total pixels":
        scale = math.sqrt(int(options["megapixels"] * 1024 * 1024) / (width * height))
        return _scaled(array, round(width * scale), round(height * scale), method)
    if resize_type == "match size":
        match = options["match"]
        if match is None:
            raise sdk.NodeError("resize_type.match: connect the image or mask to match")
        return _scaled(array, match.shape[2], match.shape[1], method, options["crop"])
    if resize_type == "scale to multiple":
        multiple = options["multiple"]
        target_w, target_h = (width // multiple) * multiple, (height // multiple) * multiple
        if multiple <= 1 or target_w == 0 or target_h == 0 or (target_w, target_h) == (width, height):
            return array
        # cover the target, then cut the overflow around the centre
        scale = max(target_w / width, target_h / height)
        scaled_w, scaled_h = max(target_w, math.ceil(width * scale)), max(target_h, math.ceil(height * scale))
        scaled = _scaled(array, scaled_w, scaled_h, method)
        x0, y0 = (scaled_w - target_w) // 2, (scaled_h - target_h) // 2
        return scaled[:, y0 : y0 + target_h, x0 : x0 + target_w]
    raise sdk.NodeError(f"resize_type: unknown option {resize_type!r}")


class ResizeImageMaskNode(sdk.Node):
    """Resize an image or a mask: to dimensions, by a factor, by a side, to megapixels, to another image's size
    or to a multiple. Returns the same type as its input."""

    id = "ResizeImageMaskNode"
    display_name = "Resize Image/Mask"
    category = "transform"

    Inputs = _ResizeInputs

    class Outputs(sdk.Outputs):
        resized: Any = sdk.output(type="IMAGE|MASK")

    def execute(self, inputs: Any, ctx: sdk.Context) -> Outputs:
        array = np.asarray(inputs.input, dtype=np.float32)
        if array.ndim not in (3, 4):
            raise sdk.NodeError(f"input: expected an IMAGE or a MASK, got an array of shape {array.shape}")
        prefix = "resize_type."
        options = {
            name[len(prefix) :]: getattr(inputs, name)
            for name in type(inputs).model_fields
            if name.startswith(prefix)
        }
        return self.Outputs(
            resized=resize_image_or_mask(array, inputs.resize_type, options, inputs.scale_method)
        )


# --- math expressions ---------------------------------------------------------------------------------------

MAX_EXPONENT = 4000
MAX_SHIFT = 4096
MAX_EXPRESSION = 2000
EXPRESSION_VARIABLES = "abcdefghij"


def _power(base: Any, exponent: Any) -> Any:
    if abs(exponent) > MAX_EXPONENT:
        raise ValueError(f"exponent {exponent} is larger than {MAX_EXPONENT}")
    return operator.pow(base, exponent)


def _shift(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def shifted(left: Any, right: Any) -> Any:
        if abs(right) > MAX_SHIFT:
            raise ValueError(f"shift by {right} is larger than {MAX_SHIFT}")
        return op(left, right)

    return shifted


def _sum(*args: Any) -> Any:
    return sum(args[0]) if len(args) == 1 and isinstance(args[0], list) else sum(args)


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: _shift(operator.lshift),
    ast.RShift: _shift(operator.rshift),
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
    ast.Not: operator.not_,
    ast.Invert: operator.invert,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
MATH_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sum": _sum,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "pow": _power,
    "sqrt": math.sqrt,
    "ceil": math.ceil,
    "floor": math.floor,
    "log": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "int": int,
    "float": float,
}
MATH_CONSTANTS = {"pi": math.pi, "e": math.e}


class ExpressionError(ValueError):
    """An expression that is not allowed or cannot be evaluated."""


def evaluate_expression(expression: str, names: dict[str, Any]) -> Any:
    """Evaluate a small arithmetic expression over ``names`` by walking its syntax tree (never ``eval``).

    Allowed: numbers, booleans, the names given and ``pi``/``e``, arithmetic, bitwise and unary operators,
    comparisons, ``and``/``or``/``not``, ``x if c else y``, and calls of ``MATH_FUNCTIONS``.
    """
    if len(expression) > MAX_EXPRESSION:
        raise ExpressionError(f"the expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}") from None
    scope = {**MATH_CONSTANTS, **names}

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in scope:
                raise ExpressionError(f"unknown name {node.id!r} (connect values.{node.id} or fix the name)")
            return scope[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            left = walk(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = walk(right_node)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            values = (walk(value) for value in node.values)
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.IfExp):
            return walk(node.body) if walk(node.test) else walk(node.orelse)
        if isinstance(node, ast.List | ast.Tuple):
            return [walk(item) for item in node.elts]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in MATH_FUNCTIONS
            and not node.keywords
        ):
            return MATH_FUNCTIONS[node.func.id](*(walk(arg) for arg in node.args))
        raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")

    try:
        return walk(tree)
    except ExpressionError:
        raise
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ExpressionError(str(exc)) from None


_MathInputs: type[sdk.Inputs] = create_model(  # type: ignore[call-overload]
    "Inputs",
    __base__=sdk.Inputs,
    expression=(str, sdk.text("a + b", multiline=True)),
    **{
        f"values.{name}": (
            Any,
            sdk.link(optional=True, type="BOOLEAN|FLOAT|INT", tooltip=f"The value of {name}"),
        )
        for name in EXPRESSION_VARIABLES
    },
)


class ComfyMathExpression(sdk.Node):
    """Evaluate a math expression over the connected values a, b, c... Returns FLOAT, INT and BOOL."""

    id = "ComfyMathExpression"
    display_name = "Math Expression"
    category = "logic"

    Inputs = _MathInputs

    class Outputs(sdk.Outputs):
        FLOAT: float
        INT: int
        BOOL: bool

    def execute(self, inputs: Any, ctx: sdk.Context) -> Outputs:
        if not inputs.expression.strip():
            raise sdk.NodeError("expression: cannot be empty")
        names = {n: getattr(inputs, f"values.{n}") for n in EXPRESSION_VARIABLES}
        names = {n: v for n, v in names.items() if v is not None}
        names["values"] = list(names.values())
        try:
            result = evaluate_expression(inputs.expression, names)
        except ExpressionError as exc:
            raise sdk.NodeError(f"expression {inputs.expression!r}: {exc}") from None
        if isinstance(result, list) or not isinstance(result, int | float):
            raise sdk.NodeError(f"expression {inputs.expression!r} must give a number, not {result!r}")
        if not math.isfinite(result):
            raise sdk.NodeError(f"expression {inputs.expression!r} gave {result}, not a finite number")
        return self.Outputs(FLOAT=float(result), INT=int(result), BOOL=bool(result))


# --- images -------------------------------------------------------------------------------------------------

_SPACING_COLORS = {
    "white": (1.0, 1.0, 1.0),
    "black": (0.0, 0.0, 0.0),
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
}


def _pad_centre(image: np.ndarray, axis: int, size: int, value: float) -> np.ndarray:
    missing = size - image.shape[axis]
    if missing <= 0:
        return image
    widths = [(0, 0)] * image.ndim
    widths[axis] = (missing // 2, missing - missing // 2)
    return np.pad(image, widths, constant_values=value)


def stitch(
    image1: np.ndarray, image2: np.ndarray, direction: str, match_size: bool, spacing: int, color: str
) -> np.ndarray:
    """image2 joined to image1 on the side ``direction`` names (ComfyUI's ImageStitch)."""
    horizontal = direction in ("left", "right")
    batch = max(image1.shape[0], image2.shape[0])
    image1, image2 = (
        np.concatenate([im] + [im[-1:]] * (batch - im.shape[0])) if im.shape[0] < batch else im
        for im in (np.asarray(image1, np.float32), np.asarray(image2, np.float32))
    )
    if match_size:
        (h1, w1), (h2, w2) = image1.shape[1:3], image2.shape[1:3]
        size = (max(1, int(h1 * w2 / h2)), h1) if horizontal else (w1, max(1, int(w1 / (w2 / h2))))
        image2 = resize(image2, size[0], size[1], "lanczos")
    else:
        axis = 1 if horizontal else 2
        size = max(image1.shape[axis], image2.shape[axis])
        fill = 1.0 if color == "white" else 0.0
        image1, image2 = _pad_centre(image1, axis, size, fill), _pad_centre(image2, axis, size, fill)
    channels = max(image1.shape[-1], image2.shape[-1])
    image1, image2 = (
        np.concatenate([im, np.ones((*im.shape[:-1], channels - im.shape[-1]), np.float32)], axis=-1)
        if im.shape[-1] < channels
        else im
        for im in (image1, image2)
    )
    parts = [image2, image1] if direction in ("left", "up") else [image1, image2]
    if spacing > 0:
        spacing += spacing % 2
        if horizontal:
            shape = (batch, max(image1.shape[1], image2.shape[1]), spacing, channels)
        else:
            shape = (batch, spacing, max(image1.shape[2], image2.shape[2]), channels)
        gap = np.zeros(shape, np.float32)
        gap[..., :3] = _SPACING_COLORS[color]
        if channels == 4:
            gap[..., 3] = 1.0
        parts.insert(1, gap)
    return np.concatenate(parts, axis=2 if horizontal else 1)


class ImageStitch(sdk.Node):
    """Stitch image2 to image1 on the right, below, on the left or above; without image2, image1 unchanged.
    Returns IMAGE."""

    id = "ImageStitch"
    display_name = "Stitch Images"
    category = "image/transform"

    class Inputs(sdk.Inputs):
        image1: sdk.Image = sdk.link()
        direction: str = sdk.select("right", options=["right", "down", "left", "up"])
        match_image_size: bool = sdk.toggle(True, tooltip="Scale image2 to image1's height (or width)")
        spacing_width: int = sdk.number(0, min=0, max=1024, step=2)
        spacing_color: str = sdk.select("white", options=list(_SPACING_COLORS))
        image2: sdk.Image | None = sdk.link(optional=True)

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        if inputs.image2 is None:
            return self.Outputs(image=inputs.image1)
        image = stitch(
            inputs.image1,
            inputs.image2,
            inputs.direction,
            inputs.match_image_size,
            inputs.spacing_width,
            inputs.spacing_color,
        )
        return self.Outputs(image=image)


class ImageFromBatch(sdk.Node):
    """``length`` images from ``batch_index`` on (negative counts from the end; clamped to the batch).
    Returns IMAGE."""

    id = "ImageFromBatch"
    display_name = "Get Image from Batch"
    category = "image/batch"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        batch_index: int = sdk.number(0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION)
        length: int = sdk.number(1, min=1, max=4096)

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = inputs.image
        index = inputs.batch_index + image.shape[0] if inputs.batch_index < 0 else inputs.batch_index
        index = max(0, min(image.shape[0] - 1, index))
        length = min(image.shape[0] - index, inputs.length)
        return self.Outputs(image=np.array(image[index : index + length]))


def _filter2d(plane: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate one 2-D plane with a small kernel, reflect-padded (the size is kept)."""
    ky, kx = kernel.shape
    padded = np.pad(plane, ((ky // 2, ky // 2), (kx // 2, kx // 2)), mode="reflect")
    height, width = plane.shape
    out = np.zeros_like(plane)
    for y in range(ky):
        for x in range(kx):
            if kernel[y, x]:
                out += kernel[y, x] * padded[y : y + height, x : x + width]
    return out


_SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
_GAUSS_5 = np.outer(
    *(2 * [np.exp(-(np.arange(-2, 3) ** 2) / 2.0) / np.exp(-(np.arange(-2, 3) ** 2) / 2.0).sum()])
)


def canny(gray: np.ndarray, low: float, high: float) -> np.ndarray:
    """Canny edges of one (H, W) plane in [0, 1]: gaussian blur (5x5, sigma 1), Sobel gradients, non-maximum
    suppression along the gradient, then hysteresis: weak edges (>= low) kept where they touch strong ones
    (>= high). Returns a float32 0/1 plane."""
    blurred = _filter2d(gray.astype(np.float64), _GAUSS_5)
    gx, gy = _filter2d(blurred, _SOBEL_X), _filter2d(blurred, _SOBEL_X.T)
    magnitude = np.hypot(gx, gy)
    angle = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    sector = (np.round(angle / 45.0).astype(int)) % 4  # 0: horizontal gradient, 1: 45°, 2: vertical, 3: 135°
    padded = np.pad(magnitude, 1)
    height, width = magnitude.shape
    neighbours = {0: ((0, 1), (0, -1)), 1: ((1, 1), (-1, -1)), 2: ((1, 0), (-1, 0)), 3: ((1, -1), (-1, 1))}
    keep = np.zeros(magnitude.shape, bool)
    for index, ((dy1, dx1), (dy2, dx2)) in neighbours.items():
        first = padded[1 + dy1 : 1 + dy1 + height, 1 + dx1 : 1 + dx1 + width]
        second = padded[1 + dy2 : 1 + dy2 + height, 1 + dx2 : 1 + dx2 + width]
        keep |= (sector == index) & (magnitude >= first) & (magnitude >= second)
    thin = np.where(keep, magnitude, 0.0)
    strong = thin >= high
    weak = thin >= low
    edges = strong
    while True:
        grown = np.pad(edges, 1)
        near = np.zeros_like(edges)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                near |= grown[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
        grown_edges = edges | (weak & near)
        if np.array_equal(grown_edges, edges):
            return edges.astype(np.float32)
        edges = grown_edges


class Canny(sdk.Node):
    """Canny edge detection: white edges on black. Returns IMAGE."""

    id = "Canny"
    category = "image/preprocessors"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        low_threshold: float = sdk.number(0.4, min=0.01, max=0.99, step=0.01)
        high_threshold: float = sdk.number(0.8, min=0.01, max=0.99, step=0.01)

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = np.asarray(inputs.image, dtype=np.float32)
        gray = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
        edges = []
        for index, plane in enumerate(gray):
            ctx.progress(index, len(gray))
            edges.append(canny(plane, inputs.low_threshold, inputs.high_threshold))
        return self.Outputs(image=np.repeat(np.stack(edges)[..., None], 3, axis=-1))


class JoinImageWithAlpha(sdk.Node):
    """Add an alpha channel to images from a mask (alpha = 1 - mask, ComfyUI's convention). Returns an RGBA
    IMAGE."""

    id = "JoinImageWithAlpha"
    display_name = "Join Image with Alpha"
    category = "mask/compositing"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        alpha: sdk.Mask = sdk.link()

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = np.asarray(inputs.image, dtype=np.float32)
        mask = as_mask_batch(inputs.alpha)
        height, width = image.shape[1:3]
        if mask.shape[1:] != (height, width):
            mask = resize(mask, width, height, "bilinear")
        batch = min(image.shape[0], mask.shape[0])
        alpha = 1.0 - mask[:batch, ..., None]
        return self.Outputs(image=np.concatenate([image[:batch, ..., :3], alpha], axis=-1))


class ImageScaleToMaxDimension(sdk.Node):
    """Scale images so that their longer side is ``largest_size``, keeping the aspect. Returns IMAGE."""

    id = "ImageScaleToMaxDimension"
    display_name = "Scale Image to Max Dimension"
    category = "image/upscaling"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()
        upscale_method: str = sdk.select(options=["area", "lanczos", "bilinear", "nearest-exact", "bicubic"])
        largest_size: int = sdk.number(512, min=0, max=MAX_RESOLUTION)

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        image = inputs.image
        height, width = image.shape[1:3]
        size = inputs.largest_size
        if height > width:
            width, height = round(width / height * size), size
        elif width > height:
            width, height = size, round(height / width * size)
        else:
            width = height = size
        if width < 1 or height < 1:
            raise sdk.NodeError(f"largest_size: {size} gives an empty image")
        return self.Outputs(image=resize(image, width, height, inputs.upscale_method))


NODES: list[type[sdk.Node]] = [
    ComfySwitchNode,
    BatchImagesNode,
    ResolutionSelector,
    SaveText,
    ImageCompare,
    SaveImageAdvanced,
    MaskPreview,
    ResizeImageMaskNode,
    ComfyMathExpression,
    ImageStitch,
    ImageFromBatch,
    Canny,
    JoinImageWithAlpha,
    ImageScaleToMaxDimension,
]
