"""What an uploaded file is, decided from its bytes (never from the client's name or content type)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from backend.uploads.models import Upload

# Formats Pillow decodes itself; others (EPS through Ghostscript, for one) are never opened on upload.
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")  # JPEG includes MPO (camera JPEGs)
IMAGE_EXTENSIONS = {
    ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".gif", ".webp", ".bmp", ".tif", ".tiff",
    ".svg", ".heic", ".heif", ".avif", ".ico", ".psd",
}  # fmt: skip
TEXT_SNIFF_BYTES = 8192


class NotAnImage(ValueError):
    """The file claims to be an image but Pillow cannot read it as one of ``IMAGE_FORMATS``."""


class ImageTooLarge(ValueError):
    """The image has more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` allows (a decompression bomb, maybe)."""


@dataclass(frozen=True)
class Sniffed:
    """What the bytes are: the kind, a content type, and for images the size in pixels and the format."""

    kind: str
    content_type: str
    width: int | None = None
    height: int | None = None
    format: str | None = None

    @property
    def extension(self) -> str:
        """A file extension fitting the content, for names made up when the client gave none."""
        return {"JPEG": ".jpg", "MPO": ".jpg", "TIFF": ".tif"}.get(
            self.format or "", f".{self.format.lower()}" if self.format else ""
        )


def max_image_pixels() -> int | None:
    """The pixel limit of a single image (Pillow's ``MAX_IMAGE_PIXELS``; None: no limit)."""
    limit = Image.MAX_IMAGE_PIXELS
    return int(limit) if limit else None


def sniff_image(fileobj: BinaryIO) -> Sniffed:
    """Open ``fileobj`` as an image and check it; raise ``NotAnImage`` or ``ImageTooLarge``."""
    limit = max_image_pixels()
    try:
        with warnings.catch_warnings():
            # Above the limit Pillow only warns (errors at twice the limit); we refuse at the limit itself.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            fileobj.seek(0)
            with Image.open(fileobj, formats=IMAGE_FORMATS) as image:
                width, height = image.size
                frames = getattr(image, "n_frames", 1) or 1
                image_format = image.format or ""
                mime = image.get_format_mimetype() or Image.MIME.get(image_format, "")
                if limit is not None and width * height * frames > limit:
                    raise ImageTooLarge(_too_large(width, height, frames, limit))
            fileobj.seek(0)
            with Image.open(fileobj, formats=IMAGE_FORMATS) as image:
                image.verify()
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"the image has too many pixels ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, ImageTooLarge):
            raise
        raise NotAnImage(_not_an_image(exc)) from None
    finally:
        fileobj.seek(0)
    return Sniffed(Upload.Kind.IMAGE, mime or "application/octet-stream", width, height, image_format)


def sniff_file(fileobj: BinaryIO) -> Sniffed:
    """Decide a plain file's content type from its first bytes: UTF-8 text or octet-stream."""
    fileobj.seek(0)
    head = fileobj.read(TEXT_SNIFF_BYTES)
    fileobj.seek(0)
    try:
        # A cut in the middle of a multi-byte character at the end of the sample is still text.
        head.decode("utf-8") if len(head) < TEXT_SNIFF_BYTES else head[:-4].decode("utf-8")
        is_text = b"\x00" not in head
    except UnicodeDecodeError:
        is_text = False
    return Sniffed(Upload.Kind.FILE, "text/plain; charset=utf-8" if is_text else "application/octet-stream")


def sniff(fileobj: BinaryIO, *, claims_image: bool, kind: str | None) -> Sniffed:
    """What ``fileobj`` holds. ``kind`` is what the client asked for (None: decide); ``claims_image`` says the
    client's name or content type made it look like an image, so that failing to open it is an error."""
    if kind == Upload.Kind.IMAGE or (kind is None and claims_image):
        return sniff_image(fileobj)
    try:
        image = sniff_image(fileobj)
    except NotAnImage:
        return sniff_file(fileobj)
    except ImageTooLarge:
        if kind == Upload.Kind.FILE:  # kept as bytes only: no node decodes it as an image
            return Sniffed(Upload.Kind.FILE, "application/octet-stream")
        raise
    if kind == Upload.Kind.FILE:
        return Sniffed(Upload.Kind.FILE, image.content_type, format=image.format)
    return image


def _too_large(width: int, height: int, frames: int, limit: int) -> str:
    frames_text = f" x {frames} frames" if frames > 1 else ""
    return f"the image is {width}x{height}{frames_text} pixels; at most {limit:,} pixels are allowed"


def _not_an_image(exc: Exception) -> str:
    formats = ", ".join(IMAGE_FORMATS)
    reason = str(exc).split("\n")[0] if not isinstance(exc, UnidentifiedImageError) else ""
    detail = f" ({reason})" if reason else ""
    return f"it is not an image Flowyard can read{detail}; images must be one of {formats}"
