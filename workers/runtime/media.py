"""Turning node values into files people can open: PNG for images, text for the rest."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage


def image_frames(batch: np.ndarray) -> list[np.ndarray]:
    """Split an IMAGE value (B,H,W,3), a single (H,W,3) image or a MASK (B,H,W) into frames."""
    if batch.ndim == 4 or (batch.ndim == 3 and batch.shape[-1] not in (3, 4)):
        return [batch[i] for i in range(batch.shape[0])]
    return [batch]


def frame_to_png(frame: np.ndarray, *, compress_level: int = 4) -> bytes:
    """Encode one float frame in [0, 1] (H,W,3), (H,W,4) or (H,W) as PNG bytes."""
    data = np.clip(np.asarray(frame, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(data).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


CONTENT_TYPES = {
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


def content_type_for(file_format: str) -> str:
    """The MIME type of a file extension (``mp4``, ``flac``, ``webp``...); unknown ones are octet streams."""
    return CONTENT_TYPES.get(file_format.lower().lstrip("."), "application/octet-stream")
