"""The image operations as they were before the OpenCV paths (issue 14), kept verbatim as the reference.

The pixel-equivalence tests (test_image_ops_native.py) compare the fast paths in ``nodepacks.core._imaging`` and
``nodepacks.core.image_ops`` against these functions, and ``benchmarks/image_ops.py`` times them as "before".
They are slow on purpose (float64 numpy convolution, one Pillow call per plane on one thread): do not use them
in node code.
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from nodepacks.core._imaging import as_mask_batch, repeat_to_batch

FILTERS = {
    "nearest-exact": PILImage.Resampling.NEAREST,
    "bilinear": PILImage.Resampling.BILINEAR,
    "area": PILImage.Resampling.BOX,
    "bicubic": PILImage.Resampling.BICUBIC,
    "lanczos": PILImage.Resampling.LANCZOS,
}


def resize(images: np.ndarray, width: int, height: int, method: str) -> np.ndarray:
    """Return images (B, H, W, C) or masks (B, H, W) resized with Pillow, one float32 plane at a time."""
    has_channels = images.ndim == 4
    planes = images if has_channels else images[..., None]
    if planes.shape[1:3] == (height, width):
        return images.astype(np.float32, copy=False)
    out = np.empty((planes.shape[0], height, width, planes.shape[3]), dtype=np.float32)
    resample = FILTERS[method]
    for b in range(planes.shape[0]):
        for c in range(planes.shape[3]):
            plane = PILImage.fromarray(np.ascontiguousarray(planes[b, :, :, c], dtype=np.float32))
            out[b, :, :, c] = np.asarray(plane.resize((width, height), resample))
    np.clip(out, 0.0, 1.0, out=out)
    return out if has_channels else out[..., 0]


def gaussian_kernel_1d(kernel_size: int, sigma: float) -> np.ndarray:
    """Return the 1-D factor of ComfyUI's gaussian kernel (sampled on linspace(-1, 1), normalised)."""
    x = np.linspace(-1.0, 1.0, kernel_size, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    normalised: np.ndarray = g / g.sum()
    return normalised


def gaussian_blur(images: np.ndarray, radius: int, sigma: float) -> np.ndarray:
    """Return images convolved with ComfyUI's (2r+1)² gaussian kernel in float64, reflect-padded at edges."""
    kernel = gaussian_kernel_1d(2 * radius + 1, sigma)
    height, width = images.shape[1], images.shape[2]
    out = np.empty(images.shape, dtype=np.float32)
    for b in range(images.shape[0]):
        frame = np.pad(images[b].astype(np.float64), ((radius, radius), (radius, radius), (0, 0)), "reflect")
        rows = sum(kernel[i] * frame[i : i + height] for i in range(kernel.size))
        out[b] = sum(kernel[i] * rows[:, i : i + width] for i in range(kernel.size))
    return out


def sharpen(images: np.ndarray, radius: int, sigma: float, alpha: float) -> np.ndarray:
    """Return ImageSharpen's result: image + 10·alpha·(image − blur), clamped to [0, 1]."""
    blurred = gaussian_blur(images, radius, sigma)
    amount = 10.0 * alpha
    sharpened = images * (1.0 + amount) - blurred * amount
    return np.clip(sharpened, 0.0, 1.0).astype(np.float32)


def invert(images: np.ndarray) -> np.ndarray:
    """Return ImageInvert's result: 1 − value."""
    return (1.0 - images).astype(np.float32)


def composite(
    destination: np.ndarray,
    source: np.ndarray,
    x: int,
    y: int,
    mask: np.ndarray | None = None,
    resize_source: bool = False,
) -> np.ndarray:
    """Return ImageCompositeMasked's result: ``source`` blended onto a copy of ``destination`` at (x, y)."""
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
    if mask is None:
        weights = np.ones((output.shape[0], visible_height, visible_width, 1), dtype=np.float32)
    else:
        full = resize(as_mask_batch(mask), src_width, src_height, "bilinear")
        weights = repeat_to_batch(full, output.shape[0])[:, :visible_height, :visible_width, None]
    region = (slice(None), slice(top, top + visible_height), slice(left, left + visible_width))
    patch = source[:, :visible_height, :visible_width]
    output[region] = weights * patch + (1.0 - weights) * output[region]
    return output
