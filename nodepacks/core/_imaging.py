"""Array helpers shared by the image nodes: PIL conversion, colours, resizing and gaussian filtering.

Resizing and filtering run in OpenCV (float32, multi-threaded) or Pillow's C resampler; the results match the
earlier pure numpy/Pillow code (kept in tests/reference_imaging.py) within the tolerances its tests state.

Images are float32 (batch, height, width, 3) in [0, 1] and masks float32 (batch, height, width), as in
ComfyUI; these helpers keep that layout so node code reads like ComfyUI's torch code.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from PIL import Image as PILImage

from nodepacks.sdk import NodeError

MAX_RESOLUTION = 16384
"""ComfyUI's MAX_RESOLUTION: the upper bound of width/height widgets."""

UPSCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")

# PIL filters standing in for ComfyUI's torch interpolation modes: PIL's NEAREST samples pixel centres
# like torch's "nearest-exact", and BOX averages source pixels like torch's "area".
_FILTERS = {
    "nearest-exact": PILImage.Resampling.NEAREST,
    "bilinear": PILImage.Resampling.BILINEAR,
    "area": PILImage.Resampling.BOX,
    "bicubic": PILImage.Resampling.BICUBIC,
    "lanczos": PILImage.Resampling.LANCZOS,
}


def to_pil(frame: np.ndarray) -> PILImage.Image:
    """Return one (H, W, 3) image or (H, W) mask as an 8-bit PIL image (RGB or L)."""
    data = np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)
    return PILImage.fromarray(data)


def from_pil(image: PILImage.Image) -> np.ndarray:
    """Return a PIL image as a float32 (H, W, 3) array in [0, 1]."""
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def rgb_from_hex(color: str) -> tuple[float, float, float]:
    """Return ``#rrggbb`` as three floats in [0, 1]."""
    value = int(color.lstrip("#"), 16)
    return rgb_from_int(value)


def rgb_from_int(color: int) -> tuple[float, float, float]:
    """Return a 0xRRGGBB integer as three floats in [0, 1] (ComfyUI's EmptyImage encoding)."""
    return (((color >> 16) & 0xFF) / 0xFF, ((color >> 8) & 0xFF) / 0xFF, (color & 0xFF) / 0xFF)


def as_mask_batch(mask: np.ndarray) -> np.ndarray:
    """Return a mask as (B, H, W): a single (H, W) mask gains a batch axis."""
    mask = np.asarray(mask, dtype=np.float32)
    return mask.reshape((-1, mask.shape[-2], mask.shape[-1]))


def repeat_to_batch(array: np.ndarray, batch: int) -> np.ndarray:
    """Return ``array`` with its first axis cycled or cut to ``batch`` entries (comfy.utils.repeat_to_batch_size)."""
    if array.shape[0] == batch:
        return array
    if array.shape[0] > batch:
        return array[:batch]
    reps = -(-batch // array.shape[0])
    return np.concatenate([array] * reps, axis=0)[:batch]


def resize(images: np.ndarray, width: int, height: int, method: str) -> np.ndarray:
    """Return float32 images (B, H, W, C) or masks (B, H, W) resized to width x height, clamped to [0, 1].

    Every method gives Pillow's float32 ("F" mode) result: OpenCV computes it where its filter is the same
    (nearest-exact always; bilinear when enlarging; area when enlarging or shrinking by whole factors), Pillow
    itself otherwise, one plane per thread.
    """
    if method not in _FILTERS:
        raise NodeError(f"unknown upscale method {method!r}; use one of {', '.join(UPSCALE_METHODS)}")
    if width < 1 or height < 1:
        raise NodeError(f"cannot resize to {width}x{height}: both sides must be at least 1 pixel")
    has_channels = images.ndim == 4
    planes = images if has_channels else images[..., None]
    old_height, old_width = planes.shape[1:3]
    if (old_height, old_width) == (height, width):
        return images.astype(np.float32, copy=False)
    enlarging = height >= old_height and width >= old_width
    whole_enlarge = enlarging and height % old_height == 0 and width % old_width == 0
    whole_shrink = old_height % height == 0 and old_width % width == 0
    # Pillow's box filter on a whole-factor enlargement picks the source pixel under each output centre, like
    # nearest-exact (no centre falls on a pixel border); on a whole-factor shrink, OpenCV's INTER_AREA averages
    # the same blocks Pillow's box filter does.
    if method == "nearest-exact" or (method == "area" and whole_enlarge):
        out = _opencv_resize(planes, width, height, cv2.INTER_NEAREST_EXACT)
    elif method == "bilinear" and enlarging:
        out = _opencv_resize(planes, width, height, cv2.INTER_LINEAR)
    elif method == "area" and whole_shrink:
        out = _opencv_resize(planes, width, height, cv2.INTER_AREA)
    else:
        out = _pillow_resize(planes, width, height, _FILTERS[method])
    # bicubic and lanczos overshoot at hard edges; keep values in range like the 8-bit paths do
    np.clip(out, 0.0, 1.0, out=out)
    return out if has_channels else out[..., 0]


def _opencv_resize(planes: np.ndarray, width: int, height: int, interpolation: int) -> np.ndarray:
    """Return (B, H, W, C) float32 planes resized by OpenCV (multi-threaded), frame by frame."""
    out = np.empty((planes.shape[0], height, width, planes.shape[3]), dtype=np.float32)
    for b in range(planes.shape[0]):
        _per_channel_group(
            np.ascontiguousarray(planes[b], dtype=np.float32),
            out[b],
            lambda src, dst: cv2.resize(src, (width, height), dst=dst, interpolation=interpolation),
        )
    return out


def _pillow_resize(planes: np.ndarray, width: int, height: int, resample: int) -> np.ndarray:
    """Return (B, H, W, C) float32 planes resized by Pillow's float ("F") resampler, planes in parallel threads.

    Pillow releases the GIL while it resamples, so the planes of a batch use every core.
    """
    batch, _, _, channels = planes.shape
    source = np.ascontiguousarray(planes.transpose(0, 3, 1, 2), dtype=np.float32)
    out = np.empty((batch, channels, height, width), dtype=np.float32)

    def one(index: int) -> None:
        b, c = divmod(index, channels)
        plane = PILImage.fromarray(source[b, c])
        out[b, c] = np.asarray(plane.resize((width, height), resample))

    if batch * channels == 1:
        one(0)
    else:
        list(_threads().map(one, range(batch * channels)))
    return np.ascontiguousarray(out.transpose(0, 2, 3, 1))


@functools.cache
def _threads() -> ThreadPoolExecutor:
    """The pool that runs Pillow's per-plane resampling, one thread per core."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="flowyard-imaging")


def _per_channel_group(
    frame: np.ndarray, dst: np.ndarray, op: Callable[[np.ndarray, np.ndarray], object]
) -> None:
    """Run the OpenCV call ``op(src, dst)`` on one contiguous (H, W, C) frame, writing into ``dst``.

    OpenCV takes one channel as a 2-D array and handles at most 4 channels per call, so masks pass as 2-D
    planes and wider images go through in groups of 4 channels.
    """
    channels = frame.shape[-1]
    if channels == 1:
        op(frame[..., 0], dst[..., 0])
    elif channels <= 4:
        op(frame, dst)
    else:
        for start in range(0, channels, 4):
            group = np.ascontiguousarray(frame[..., start : start + 4])
            result = np.empty(dst.shape[:2] + group.shape[2:], dtype=np.float32)
            _per_channel_group(group, result, op)
            dst[..., start : start + 4] = result


def center_crop_to_aspect(images: np.ndarray, width: int, height: int) -> np.ndarray:
    """Return images cropped around their centre to the aspect of width x height (ComfyUI's crop="center")."""
    old_height, old_width = images.shape[1], images.shape[2]
    old_aspect = old_width / old_height
    new_aspect = width / height
    x = y = 0
    if old_aspect > new_aspect:
        x = round((old_width - old_width * (new_aspect / old_aspect)) / 2)
    elif old_aspect < new_aspect:
        y = round((old_height - old_height * (old_aspect / new_aspect)) / 2)
    return images[:, y : old_height - y, x : old_width - x]


def common_upscale(images: np.ndarray, width: int, height: int, method: str, crop: str) -> np.ndarray:
    """Return images scaled to width x height, first cropped to that aspect when ``crop`` is "center"."""
    if crop == "center":
        images = center_crop_to_aspect(images, width, height)
    return resize(images, width, height, method)


def gaussian_kernel_1d(kernel_size: int, sigma: float) -> np.ndarray:
    """Return the 1-D factor of ComfyUI's gaussian kernel (sampled on linspace(-1, 1), normalised).

    ComfyUI's 2-D kernel exp(-(x²+y²)/2σ²) is the outer product of this vector with itself.
    """
    x = np.linspace(-1.0, 1.0, kernel_size, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    normalised: np.ndarray = g / g.sum()
    return normalised


def gaussian_blur(
    images: np.ndarray, radius: int, sigma: float, on_frame: Callable[[int], None] | None = None
) -> np.ndarray:
    """Return images (B, H, W, C) convolved with ComfyUI's (2r+1)² gaussian kernel, reflect-padded at edges.

    The kernel is separable, so OpenCV filters rows then columns in float32 on every core; its
    BORDER_REFLECT_101 mirrors around the edge pixel like numpy's and torch's "reflect" padding that ComfyUI uses.
    ``on_frame(i)`` is called before each frame (progress and cancellation).
    """
    kernel = gaussian_kernel_1d(2 * radius + 1, sigma).astype(np.float32)
    out = np.empty(images.shape, dtype=np.float32)
    for b in range(images.shape[0]):
        if on_frame is not None:
            on_frame(b)
        _per_channel_group(
            np.ascontiguousarray(images[b], dtype=np.float32),
            out[b],
            lambda src, dst: cv2.sepFilter2D(
                src, cv2.CV_32F, kernel, kernel, dst=dst, borderType=cv2.BORDER_REFLECT_101
            ),
        )
    return out
