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


class NotMedia(ValueError):
    """The file was uploaded as a video or audio but PyAV cannot read it as one."""


MEDIA_HINT = "videos must be mp4, mov, mkv, webm, avi or ogg, audio wav, flac, mp3, ogg, m4a or webm"


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


def _container_of(head: bytes) -> str | None:
    """The FFmpeg demuxer for a file's first bytes, from its magic numbers; None: not a container we read."""
    if head[4:8] == b"ftyp":
        return "mov"  # mp4, mov, m4a, 3gp
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"  # mkv, webm
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or (
        len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 in (0xE2, 0xE4, 0xE6)
    ):
        return "mp3"  # an ID3 tag, or an MPEG audio layer III/II frame header
    return None


_WEBM_CODECS = {"vp8", "vp9", "av1", "opus", "vorbis"}
_MEDIA_EXTENSIONS = {
    "video/quicktime": "mov", "audio/mp4": "m4a", "video/x-matroska": "mkv", "audio/x-matroska": "mka",
    "audio/mpeg": "mp3", "video/x-msvideo": "avi",
}  # fmt: skip
"""The file extension of a media type whose subtype is not one (``video/mp4`` gives mp4)."""


def _media_type(container: str, streams: list[tuple[str, str]], brand: str) -> str:
    """The MIME type of a media file: its demuxer, its (stream type, codec) pairs, the MP4 major brand."""
    has_video = any(kind == "video" for kind, _ in streams)
    if container == "mov":
        if brand.startswith("qt"):
            return "video/quicktime"
        return "video/mp4" if has_video else "audio/mp4"
    if container == "matroska":
        webm = all(codec in _WEBM_CODECS for _, codec in streams)
        if webm:
            return "video/webm" if has_video else "audio/webm"
        return "video/x-matroska" if has_video else "audio/x-matroska"
    if container == "ogg":
        return "video/ogg" if has_video else "audio/ogg"
    return {"wav": "audio/wav", "avi": "video/x-msvideo", "flac": "audio/flac", "mp3": "audio/mpeg"}[
        container
    ]


def sniff_media(fileobj: BinaryIO, *, as_audio: bool = False) -> Sniffed | None:
    """A video (``kind`` video, with its size) or audio file (``kind`` audio), read with PyAV; None: neither.
    ``as_audio``: a video with sound is audio (its sound is what is wanted).

    Only the demuxer its magic numbers name parses it (mp4/mov, mkv/webm, wav, avi, flac, ogg, mp3), never one
    FFmpeg would guess (some, like hls or concat, open other files), and one packet of the stream is read.
    """
    import av

    fileobj.seek(0)
    container_name = _container_of(fileobj.read(16))
    fileobj.seek(0)
    if container_name is None:
        return None
    try:
        with av.open(fileobj, mode="r", format=container_name) as container:
            streams = [(stream.type, stream.codec_context.name or "") for stream in container.streams]
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            if as_audio:
                video = None
            stream = video or audio
            if stream is None or next(container.demux(stream), None) is None:
                return None
            brand = str(container.metadata.get("major_brand", "")).lower()
            content_type = _media_type(
                container_name, [s for s in streams if video or s[0] != "video"], brand
            )
            extension = _MEDIA_EXTENSIONS.get(content_type, content_type.split("/")[1])
            if video is not None:
                width = int(video.codec_context.width or 0) or None
                height = int(video.codec_context.height or 0) or None
                return Sniffed(Upload.Kind.VIDEO, content_type, width, height, extension)
            return Sniffed(Upload.Kind.AUDIO, content_type, format=extension)
    except (av.FFmpegError, OSError, ValueError, IndexError, StopIteration):
        return None
    finally:
        fileobj.seek(0)


def sniff(fileobj: BinaryIO, *, claims_image: bool, kind: str | None) -> Sniffed:
    """What ``fileobj`` holds. ``kind`` is what the client asked for (None: decide); ``claims_image`` says the
    client's name or content type made it look like an image, so that failing to open it is an error.

    ``video`` must hold a video stream, ``audio`` an audio stream (a video with sound uploaded as audio is
    audio); otherwise ``NotMedia``."""
    if kind in (Upload.Kind.VIDEO, Upload.Kind.AUDIO):
        media = sniff_media(fileobj, as_audio=kind == Upload.Kind.AUDIO)
        if media is None:
            raise NotMedia(f"it is not a {kind} file Flowyard can read; {MEDIA_HINT}")
        if media.kind != kind:
            raise NotMedia("it holds sound only, no video")
        return media
    if kind == Upload.Kind.IMAGE or (kind is None and claims_image):
        return sniff_image(fileobj)
    try:
        image = sniff_image(fileobj)
    except NotAnImage:
        media = sniff_media(fileobj)
        if media is not None and kind is None:
            return media
        if media is not None:  # kind=file: kept as bytes, served with the media's content type
            return Sniffed(Upload.Kind.FILE, media.content_type, format=media.format)
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
