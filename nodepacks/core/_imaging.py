"""Array helpers shared by the image nodes: PIL conversion, colours, resizing and gaussian filtering.

Images are float32 (batch, height, width, 3) in [0, 1] and masks float32 (batch, height, width), as in
ComfyUI; these helpers keep that layout so node code reads like ComfyUI's torch code.
"""

from __future__ import annotations

from collections.abc import Callable

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
    """Return images (B, H, W, C) or masks (B, H, W) resized to width x height with an upscale method.

    Each channel is resized as a 32-bit float plane so no precision is lost to 8-bit quantisation.
    """
    if method not in _FILTERS:
        raise NodeError(f"unknown upscale method {method!r}; use one of {', '.join(UPSCALE_METHODS)}")
    if width < 1 or height < 1:
        raise NodeError(f"cannot resize to {width}x{height}: both sides must be at least 1 pixel")
    has_channels = images.ndim == 4
    planes = images if has_channels else images[..., None]
    if planes.shape[1:3] == (height, width):
        return images.astype(np.float32, copy=False)
    out = np.empty((planes.shape[0], height, width, planes.shape[3]), dtype=np.float32)
    resample = _FILTERS[method]
    for b in range(planes.shape[0]):
        for c in range(planes.shape[3]):
            plane = PILImage.fromarray(np.ascontiguousarray(planes[b, :, :, c], dtype=np.float32))
            out[b, :, :, c] = np.asarray(plane.resize((width, height), resample))
    # bicubic and lanczos overshoot at hard edges; keep values in range like the 8-bit paths do
    np.clip(out, 0.0, 1.0, out=out)
    return out if has_channels else out[..., 0]


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
    return g / g.sum()


def gaussian_blur(
    images: np.ndarray, radius: int, sigma: float, on_frame: Callable[[int], None] | None = None
) -> np.ndarray:
    """Return images (B, H, W, C) convolved with ComfyUI's (2r+1)² gaussian kernel, reflect-padded at edges.

    ``on_frame(i)`` is called before each frame (progress and cancellation).
    """
    kernel = gaussian_kernel_1d(2 * radius + 1, sigma)
    height, width = images.shape[1], images.shape[2]
    out = np.empty(images.shape, dtype=np.float32)
    for b in range(images.shape[0]):
        if on_frame is not None:
            on_frame(b)
        frame = np.pad(images[b].astype(np.float64), ((radius, radius), (radius, radius), (0, 0)), "reflect")
        rows = sum(kernel[i] * frame[i : i + height] for i in range(kernel.size))
        out[b] = sum(kernel[i] * rows[:, i : i + width] for i in range(kernel.size))
    return out
