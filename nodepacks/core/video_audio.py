"""Video and audio: load, build, split and save (ComfyUI's comfy_extras/nodes_video.py and nodes_audio.py names).

Decoding and encoding use PyAV (the ``models`` extra), imported only when a node runs. Values stay the SDK's:
``Video(frames (f, h, w, 3) float32, fps, audio)`` and ``Audio(samples (channels, n) float32, sample_rate)``
(ComfyUI's AUDIO is a dict with a batched waveform; ours has no batch axis). Save and preview nodes never write
files: they hand encoded bytes to the runtime as ``UI.files``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from typing import Any, BinaryIO

import numpy as np
from PIL import Image as PILImage

from nodepacks import sdk

VIDEO_FORMATS = ("auto", "mp4", "mkv", "webm")
VIDEO_CODECS = ("auto", "h264", "av1")
WEBP_METHODS = {"default": 4, "fastest": 0, "slowest": 6}
_AUDIO_CODEC = {"mp4": "aac", "mkv": "aac", "webm": "libopus"}
_AUDIO_FRAME = 1024  # samples per encoded audio frame (AAC's frame size)


def _av() -> Any:
    try:
        import av
    except ImportError:  # pragma: no cover - av ships with the models extra
        raise sdk.NodeError("video and audio need PyAV: install flowyard[models]") from None
    return av


def _decode_upload(ctx: sdk.Context, ref: str, label: str, decode: Callable[[Any], Any]) -> Any:
    """``decode`` of the uploaded file ``ref``; a missing or undecodable file is a NodeError naming ``label``
    (input and kind, e.g. ``"file: video"``) and the file."""
    av = _av()
    try:
        with ctx.files.open(ref) as handle:
            return decode(handle)
    except FileNotFoundError:
        raise sdk.NodeError(f"{label} {ref!r} is not available to this run") from None
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise sdk.NodeError(f"{label} {ref!r} could not be decoded: {exc}") from None


# --- decoding -----------------------------------------------------------------------------------------------


def _audio_from_stream(container: Any, stream: Any) -> sdk.Audio | None:
    """Every sample of an audio stream as float32 (channels, n), or None when it decodes to nothing."""
    av = _av()
    channels = stream.codec_context.channels or 1
    layout = "mono" if channels == 1 else "stereo" if channels == 2 else stream.codec_context.layout.name
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=stream.codec_context.sample_rate)
    chunks: list[np.ndarray] = []
    for frame in container.decode(stream):
        for converted in resampler.resample(frame):
            chunks.append(converted.to_ndarray())
    for converted in resampler.resample(None):
        chunks.append(converted.to_ndarray())
    if not chunks:
        return None
    samples = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return sdk.Audio(samples=samples, sample_rate=int(stream.codec_context.sample_rate))


def decode_audio(source: BinaryIO) -> sdk.Audio:
    """The first audio stream of a media file; raises ValueError when it has none."""
    av = _av()
    with av.open(source, mode="r") as container:
        if not container.streams.audio:
            raise ValueError("the file has no audio stream")
        audio = _audio_from_stream(container, container.streams.audio[0])
    if audio is None:
        raise ValueError("the audio stream holds no samples")
    return audio


def decode_video(source: BinaryIO) -> sdk.Video:
    """Every frame of the first video stream as RGB floats, its frame rate and the first audio stream."""
    av = _av()
    with av.open(source, mode="r") as container:
        if not container.streams.video:
            raise ValueError("the file has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(24)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        if not frames:
            raise ValueError("the video stream holds no frames")
        audio = None
        if container.streams.audio:
            container.seek(0)
            audio = _audio_from_stream(container, container.streams.audio[0])
    images = np.stack(frames).astype(np.float32) / 255.0
    return sdk.Video(frames=images, fps=float(rate), audio=audio)


# --- encoding -----------------------------------------------------------------------------------------------


def _rgb_uint8(frames: np.ndarray) -> np.ndarray:
    """Frames as (f, h, w, 3) uint8 with even sides (yuv420p needs them), the last row/column repeated."""
    data: np.ndarray = np.clip(np.asarray(frames, dtype=np.float32)[..., :3] * 255.0 + 0.5, 0, 255).astype(
        np.uint8
    )
    pad_h, pad_w = data.shape[1] % 2, data.shape[2] % 2
    if pad_h or pad_w:
        data = np.pad(data, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return data


def _video_codec(container_format: str, codec: str) -> str:
    av = _av()
    if codec == "av1" or container_format == "webm":
        for name in ("libsvtav1", "libaom-av1") if codec == "av1" else ("libvpx-vp9", "libsvtav1"):
            if name in av.codecs_available:
                return name
        raise sdk.NodeError(f"this PyAV build has no encoder for codec {codec!r} in {container_format}")
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _audio_frames(audio: sdk.Audio, av: Any) -> Iterator[Any]:
    samples = np.ascontiguousarray(np.clip(audio.samples, -1.0, 1.0), dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None, :]
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    if samples.shape[0] > 2:
        samples = samples[:2]
    for start in range(0, samples.shape[1], _AUDIO_FRAME):
        chunk = np.ascontiguousarray(samples[:, start : start + _AUDIO_FRAME])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = audio.sample_rate
        frame.pts = start
        yield frame


def encode_video(video: sdk.Video, container_format: str = "mp4", codec: str = "auto") -> bytes:
    """The video (and its audio) encoded in ``container_format``: h264 (libx264, else mpeg4) for mp4/mkv,
    VP9 for webm, AV1 when asked for."""
    av = _av()
    frames = _rgb_uint8(video.frames)
    buffer = io.BytesIO()
    rate = Fraction(round(float(video.fps) * 1000), 1000)
    with av.open(
        buffer, mode="w", format="matroska" if container_format == "mkv" else container_format
    ) as out:
        stream = out.add_stream(_video_codec(container_format, codec), rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if stream.codec_context.name == "libx264":
            stream.options = {"crf": "18", "preset": "veryfast"}
        elif stream.codec_context.name == "mpeg4":
            stream.codec_context.bit_rate = 8_000_000
        audio_stream = None
        if video.audio is not None and video.audio.samples.size:
            audio_stream = out.add_stream(_AUDIO_CODEC[container_format], rate=video.audio.sample_rate)
            audio_stream.layout = (
                "mono" if np.ndim(video.audio.samples) == 1 or video.audio.samples.shape[0] == 1 else "stereo"
            )
        for index, data in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(data, format="rgb24")
            frame.pts = index
            frame.time_base = 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if audio_stream is not None and video.audio is not None:
            for audio_frame in _audio_frames(video.audio, av):
                out.mux(audio_stream.encode(audio_frame))
            out.mux(audio_stream.encode(None))
    return buffer.getvalue()


def encode_flac(audio: sdk.Audio) -> bytes:
    """The audio as a FLAC file (16-bit, ComfyUI's SaveAudio format)."""
    av = _av()
    buffer = io.BytesIO()
    samples = np.asarray(audio.samples, dtype=np.float32)
    layout = "mono" if samples.ndim == 1 or samples.shape[0] == 1 else "stereo"
    with av.open(buffer, mode="w", format="flac") as out:
        stream = out.add_stream("flac", rate=audio.sample_rate)
        stream.layout = layout
        stream.format = "s16"
        for frame in _audio_frames(audio, av):
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def encode_animated_webp(
    images: np.ndarray, fps: float, *, lossless: bool, quality: int, method: int
) -> bytes:
    """The frames as one animated WebP looping forever, each shown 1/fps seconds."""
    data = np.clip(np.asarray(images, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if data.ndim == 3:
        data = data[None]
    frames = [PILImage.fromarray(frame if frame.shape[-1] in (3, 4) else frame[..., 0]) for frame in data]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=max(1, round(1000.0 / fps)),
        loop=0,
        lossless=lossless,
        quality=quality,
        method=method,
    )
    return buffer.getvalue()


# --- nodes --------------------------------------------------------------------------------------------------


def _require_audio(audio: sdk.Audio | None, node: str) -> sdk.Audio:
    if audio is None:
        raise sdk.NodeError(f"{node}: the audio input is empty (the source video may have no audio track)")
    return audio


class LoadVideo(sdk.Node):
    """Load an uploaded video file (every frame, its frame rate and its audio). Returns VIDEO."""

    id = "LoadVideo"
    display_name = "Load Video"
    category = "video"

    class Inputs(sdk.Inputs):
        file: str = sdk.upload(accept="video", tooltip="An uploaded video file (mp4, webm, mkv, mov...)")

    class Outputs(sdk.Outputs):
        video: sdk.VideoValue

    @classmethod
    def fingerprint(cls, inputs: Mapping[str, Any], files: sdk.FileProvider) -> str | None:
        """The uploaded file's content hash."""
        return files.sha256(inputs["file"])

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(video=_decode_upload(ctx, inputs.file, "file: video", decode_video))


class CreateVideo(sdk.Node):
    """Make a video from image frames at a frame rate, with optional audio. Returns VIDEO."""

    id = "CreateVideo"
    display_name = "Create Video"
    category = "video"

    class Inputs(sdk.Inputs):
        images: sdk.Image = sdk.link(tooltip="The frames of the video")
        fps: float = sdk.number(30.0, min=1.0, max=120.0, step=1.0)
        audio: sdk.AudioValue | None = sdk.link(optional=True, tooltip="The audio to add to the video")

    class Outputs(sdk.Outputs):
        video: sdk.VideoValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        frames = np.asarray(inputs.images, dtype=np.float32)
        if frames.ndim != 4 or frames.shape[0] == 0:
            raise sdk.NodeError(f"images: expected a batch of frames, got an array of shape {frames.shape}")
        return self.Outputs(
            video=sdk.Video(frames=frames[..., :3], fps=float(inputs.fps), audio=inputs.audio)
        )


class GetVideoComponents(sdk.Node):
    """Split a video into its frames, audio and frame rate. Returns IMAGE, AUDIO (empty when it has none),
    FLOAT fps, INT bit depth and the colour space."""

    id = "GetVideoComponents"
    display_name = "Get Video Components"
    category = "video"

    class Inputs(sdk.Inputs):
        video: sdk.VideoValue = sdk.link(tooltip="The video to extract components from")

    class Outputs(sdk.Outputs):
        images: sdk.Image
        audio: sdk.AudioValue | None = sdk.output(tooltip="None when the video has no audio")
        fps: float
        bit_depth: int
        color_space: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        video = inputs.video
        return self.Outputs(
            images=np.asarray(video.frames, dtype=np.float32),
            audio=video.audio,
            fps=float(video.fps),
            bit_depth=8,
            color_space="sRGB",
        )


class SaveVideo(sdk.Node):
    """Encode the video (h264 in mp4 by default) and keep it as a result of the run. Returns the video."""

    id = "SaveVideo"
    display_name = "Save Video"
    category = "video"
    output_node = True

    class Inputs(sdk.Inputs):
        video: sdk.VideoValue = sdk.link(tooltip="The video to save")
        filename_prefix: str = sdk.text("video/ComfyUI", tooltip="The prefix of the saved file's name")
        format: str = sdk.select(options=VIDEO_FORMATS, tooltip="The container: auto is mp4 (webm for av1)")
        codec: str = sdk.select(options=VIDEO_CODECS, tooltip="auto is h264 (VP9 in webm)")

    class Outputs(sdk.Outputs):
        video: sdk.VideoValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        container_format = inputs.format
        if container_format == "auto":
            container_format = "webm" if inputs.codec == "av1" else "mp4"
        if container_format == "webm" and inputs.codec == "h264":
            raise sdk.NodeError("codec: h264 cannot be stored in webm; choose mp4, mkv or auto")
        data = encode_video(inputs.video, container_format, inputs.codec)
        ui = sdk.UI(
            files=[sdk.MediaFile(data, container_format, "video")],
            saved=True,
            filename_prefix=inputs.filename_prefix,
        )
        return sdk.Result(outputs=self.Outputs(video=inputs.video), ui=ui)


class SaveAnimatedWEBP(sdk.Node):
    """Keep the frames as one animated WebP result. Returns the images unchanged."""

    id = "SaveAnimatedWEBP"
    display_name = "Save Animated WEBP"
    category = "image"
    output_node = True

    class Inputs(sdk.Inputs):
        images: sdk.Image = sdk.link()
        filename_prefix: str = sdk.text("ComfyUI")
        fps: float = sdk.number(6.0, min=0.01, max=1000.0, step=0.01)
        lossless: bool = sdk.toggle(True)
        quality: int = sdk.number(80, min=0, max=100)
        method: str = sdk.select(options=list(WEBP_METHODS), tooltip="Compression effort")

    class Outputs(sdk.Outputs):
        images: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        data = encode_animated_webp(
            inputs.images,
            inputs.fps,
            lossless=inputs.lossless,
            quality=inputs.quality,
            method=WEBP_METHODS[inputs.method],
        )
        ui = sdk.UI(
            files=[sdk.MediaFile(data, "webp", "image")], saved=True, filename_prefix=inputs.filename_prefix
        )
        return sdk.Result(outputs=self.Outputs(images=inputs.images), ui=ui)


class LoadAudio(sdk.Node):
    """Load an uploaded audio file (or the audio of a video file). Returns AUDIO."""

    id = "LoadAudio"
    display_name = "Load Audio"
    category = "audio"

    class Inputs(sdk.Inputs):
        audio: str = sdk.upload(accept="audio", tooltip="An uploaded audio file (wav, flac, mp3, ogg...)")

    class Outputs(sdk.Outputs):
        audio: sdk.AudioValue

    @classmethod
    def fingerprint(cls, inputs: Mapping[str, Any], files: sdk.FileProvider) -> str | None:
        """The uploaded file's content hash."""
        return files.sha256(inputs["audio"])

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(audio=_decode_upload(ctx, inputs.audio, "audio: file", decode_audio))


class SaveAudio(sdk.Node):
    """Keep the audio as a FLAC result of the run. Returns the audio."""

    id = "SaveAudio"
    display_name = "Save Audio (FLAC)"
    category = "audio"
    output_node = True

    class Inputs(sdk.Inputs):
        audio: sdk.AudioValue = sdk.link()
        filename_prefix: str = sdk.text("audio/ComfyUI")

    class Outputs(sdk.Outputs):
        audio: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        audio = _require_audio(inputs.audio, "SaveAudio")
        ui = sdk.UI(
            files=[sdk.MediaFile(encode_flac(audio), "flac", "audio")],
            saved=True,
            filename_prefix=inputs.filename_prefix,
        )
        return sdk.Result(outputs=self.Outputs(audio=audio), ui=ui)


class PreviewAudio(sdk.Node):
    """Play the audio in the editor without keeping it. Returns the audio."""

    id = "PreviewAudio"
    display_name = "Preview Audio"
    category = "audio"
    output_node = True

    class Inputs(sdk.Inputs):
        audio: sdk.AudioValue = sdk.link()

    class Outputs(sdk.Outputs):
        audio: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        audio = _require_audio(inputs.audio, "PreviewAudio")
        ui = sdk.UI(files=[sdk.MediaFile(encode_flac(audio), "flac", "audio")], saved=False)
        return sdk.Result(outputs=self.Outputs(audio=audio), ui=ui)


NODES: list[type[sdk.Node]] = [
    LoadVideo,
    CreateVideo,
    GetVideoComponents,
    SaveVideo,
    SaveAnimatedWEBP,
    LoadAudio,
    SaveAudio,
    PreviewAudio,
]
