"""Between Flowyard values and what ModelScope pipelines take and give (numpy and PIL only, no torch)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image as PILImage

IMAGE_KEYS = ("output_img", "output_imgs")
"""Result keys ModelScope pipelines use for images: HxWx3 uint8 in BGR order (OpenCV's), or a list of them."""

_MAX_JSON_ARRAY = 4096  # larger arrays are summarised in the JSON result


def image_to_pil(image: np.ndarray) -> list[PILImage.Image]:
    """A Flowyard IMAGE batch (B, H, W, 3) float in [0, 1] as RGB PIL images."""
    pixels = (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return [PILImage.fromarray(frame, "RGB") for frame in pixels]


def to_image(value: Any, *, bgr: bool) -> np.ndarray:
    """One pipeline image (PIL, or HxW / HxWx3 / HxWx4 array, uint8 or float) as a (1, H, W, 3) IMAGE."""
    if isinstance(value, PILImage.Image):
        pixels = np.asarray(value.convert("RGB"))
        bgr = False
    else:
        pixels = np.asarray(value)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"an image of shape {pixels.shape} is not HxW or HxWx3")
    pixels = pixels[:, :, :3]
    if bgr:
        pixels = pixels[:, :, ::-1]
    if pixels.dtype == np.uint8:
        frame = pixels.astype(np.float32) / 255.0
    else:
        frame = pixels.astype(np.float32)
        if frame.max(initial=0.0) > 1.0:
            frame = frame / 255.0
    return np.ascontiguousarray(np.clip(frame, 0.0, 1.0))[None]


def images_in(result: Any) -> list[np.ndarray]:
    """The images a pipeline result holds, each as a (1, H, W, 3) IMAGE."""
    if not isinstance(result, dict):
        return []
    found: list[np.ndarray] = []
    for key in IMAGE_KEYS:
        value = result.get(key)
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            found.append(to_image(item, bgr=True))
    return found


def stack_images(frames: list[np.ndarray]) -> np.ndarray | None:
    """Frames as one batch, or None when there are none; raises ValueError when their sizes differ."""
    if not frames:
        return None
    sizes = {frame.shape[1:3] for frame in frames}
    if len(sizes) > 1:
        raise ValueError(f"the pipeline returned images of different sizes {sorted(sizes)}")
    return np.concatenate(frames, axis=0)


def to_json(value: Any) -> Any:
    """A pipeline result as JSON: arrays and tensors become lists (large ones a shape summary), images are
    replaced by a summary (they go to the IMAGE output)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, np.generic):
        return to_json(value.item())
    if isinstance(value, PILImage.Image):
        return {"image": {"width": value.width, "height": value.height}}
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.size > _MAX_JSON_ARRAY:
            return {"array": {"shape": list(value.shape), "dtype": str(value.dtype)}}
        return to_json(value.tolist())
    if isinstance(value, dict):
        return {
            str(key): ({"images": "see the image output"} if key in IMAGE_KEYS else to_json(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return repr(value)
