"""PNG thumbnails of uploaded images, for the editor's image widget."""

from __future__ import annotations

import io
from typing import BinaryIO

from PIL import Image, ImageOps

from backend.uploads.sniffing import IMAGE_FORMATS

THUMBNAIL_SIZES = (64, 128, 256, 512)
DEFAULT_THUMBNAIL_SIZE = 128


def render_thumbnail(source: BinaryIO, size: int) -> bytes:
    """Return PNG bytes of the first frame of ``source``, EXIF-oriented, its longest side at most ``size``."""
    with Image.open(source, formats=IMAGE_FORMATS) as image:
        image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much cheaper for big photos
        frame = ImageOps.exif_transpose(image)
        if frame.mode == "I":
            # 16-bit greyscale: bring it to the 8-bit range as LoadImage does
            frame = frame.point(lambda value: value * (1 / 255))
        has_alpha = "A" in frame.getbands() or (frame.mode == "P" and "transparency" in frame.info)
        frame = frame.convert("RGBA" if has_alpha else "RGB")
        frame.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        frame.save(out, format="PNG")
    return out.getvalue()
