"""ComfyUI's audio editing and saving nodes (comfy_extras/nodes_audio.py names): trim, concatenate, merge,
volume, silence, MP3/Opus saving and recorded audio, plus SaveWEBM.

Values are the SDK's ``Audio(samples (channels, n) float32, sample_rate)``; PyAV is imported only when a node
encodes or decodes. Save nodes hand the encoded bytes to the runtime as ``UI.files``, never writing files.
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Any

import numpy as np

from nodepacks import sdk
from nodepacks.core.video_audio import LoadAudio, _audio_frames, _av

MP3_QUALITIES = ("V0", "128k", "320k")
OPUS_QUALITIES = ("64k", "96k", "128k", "192k", "320k")
AUDIO_FORMATS = ("flac", "mp3", "opus")
_OPUS_RATES = (48000, 24000, 16000, 12000, 8000)


def _require(audio: sdk.Audio | None, node: str, name: str = "audio") -> sdk.Audio:
    if audio is None:
        raise sdk.NodeError(f"{node}: {name} is empty (the source video may have no audio track)")
    return audio


def _channels(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    return samples[None, :] if samples.ndim == 1 else samples


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """``samples`` (channels, n) at ``source_rate`` resampled to ``target_rate`` (linear interpolation)."""
    samples = _channels(samples)
    if source_rate == target_rate or samples.shape[1] == 0:
        return samples
    length = max(1, round(samples.shape[1] * target_rate / source_rate))
    old_t = np.arange(samples.shape[1]) / source_rate
    new_t = np.arange(length) / target_rate
    return np.stack([np.interp(new_t, old_t, channel) for channel in samples]).astype(np.float32)


def match_rates(first: sdk.Audio, second: sdk.Audio) -> tuple[np.ndarray, np.ndarray, int]:
    """Both sample arrays at the higher of the two rates, and that rate."""
    rate = max(first.sample_rate, second.sample_rate)
    return (
        resample(first.samples, first.sample_rate, rate),
        resample(second.samples, second.sample_rate, rate),
        rate,
    )


def encode_audio(audio: sdk.Audio, file_format: str, quality: str | None = None) -> bytes:
    """The audio encoded as FLAC (16-bit), MP3 (``V0`` VBR or a bit rate) or Opus in Ogg (a bit rate)."""
    av = _av()
    samples = _channels(audio.samples)[:2]
    rate = audio.sample_rate
    if file_format == "opus" and rate not in _OPUS_RATES:
        samples, rate = resample(samples, rate, 48000), 48000
    clip = sdk.Audio(samples=samples, sample_rate=rate)
    codec = {"flac": "flac", "mp3": "libmp3lame", "opus": "libopus"}[file_format]
    if codec not in av.codecs_available:
        raise sdk.NodeError(f"this PyAV build has no {codec} encoder for {file_format}")
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="ogg" if file_format == "opus" else file_format) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono" if samples.shape[0] == 1 else "stereo"
        if file_format == "flac":
            stream.format = "s16"
        if quality == "V0":
            stream.codec_context.qscale = True  # libmp3lame's VBR mode, at quality 0 (ffmpeg's -q:a 0)
            stream.codec_context.global_quality = 0
        elif quality:
            stream.bit_rate = int(quality.rstrip("k")) * 1000
        for frame in _frames_for(clip, stream, av):
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def _frames_for(audio: sdk.Audio, stream: Any, av: Any) -> Any:
    """Audio frames of the encoder's frame size (libmp3lame and libopus want exact sizes)."""
    size = stream.codec_context.frame_size or 1024
    samples = _channels(audio.samples)
    if size != 1024:
        layout = "mono" if samples.shape[0] == 1 else "stereo"
        data = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32)
        for start in range(0, data.shape[1], size):
            chunk = np.ascontiguousarray(data[:, start : start + size])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = audio.sample_rate
            frame.pts = start
            yield frame
        return
    yield from _audio_frames(audio, av)


def _saved(audio: sdk.Audio, file_format: str, quality: str | None, prefix: str) -> sdk.UI:
    data = encode_audio(audio, file_format, quality)
    return sdk.UI(files=[sdk.MediaFile(data, file_format, "audio")], saved=True, filename_prefix=prefix)


class TrimAudioDuration(sdk.Node):
    """``duration`` seconds of the audio from ``start_index`` seconds (negative counts from the end).
    Returns AUDIO."""

    id = "TrimAudioDuration"
    display_name = "Trim Audio Duration"
    category = "audio"

    class Inputs(sdk.Inputs):
        audio: sdk.AudioValue = sdk.link()
        start_index: float = sdk.number(0.0, min=-1e9, max=1e9, step=0.01, tooltip="Start time in seconds")
        duration: float = sdk.number(60.0, min=0.0, max=1e9, step=0.01, tooltip="Duration in seconds")

    class Outputs(sdk.Outputs):
        AUDIO: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        audio = _require(inputs.audio, "TrimAudioDuration")
        samples, rate = _channels(audio.samples), audio.sample_rate
        length = samples.shape[1]
        if length == 0:
            return self.Outputs(AUDIO=audio)
        start = round(inputs.start_index * rate)
        start = max(0, min(length + start if inputs.start_index < 0 else start, length))
        end = max(0, min(start + round(inputs.duration * rate), length))
        if start >= end:
            raise sdk.NodeError("start_index: the start must lie before the end, inside the audio")
        return self.Outputs(AUDIO=sdk.Audio(samples=np.array(samples[:, start:end]), sample_rate=rate))


class AudioConcat(sdk.Node):
    """audio2 appended after (or before) audio1; mono becomes stereo and rates meet at the higher one.
    Returns AUDIO."""

    id = "AudioConcat"
    display_name = "Concatenate Audio"
    category = "audio"

    class Inputs(sdk.Inputs):
        audio1: sdk.AudioValue = sdk.link()
        audio2: sdk.AudioValue = sdk.link()
        direction: str = sdk.select(options=["after", "before"], tooltip="Where audio2 goes")

    class Outputs(sdk.Outputs):
        AUDIO: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        first = _require(inputs.audio1, "AudioConcat", "audio1")
        second = _require(inputs.audio2, "AudioConcat", "audio2")
        one, two, rate = match_rates(first, second)
        one, two = (np.repeat(s, 2, axis=0) if s.shape[0] == 1 else s for s in (one, two))
        if one.shape[0] != two.shape[0]:
            raise sdk.NodeError(f"audio2: {two.shape[0]} channels cannot follow {one.shape[0]}")
        parts = [one, two] if inputs.direction == "after" else [two, one]
        return self.Outputs(AUDIO=sdk.Audio(samples=np.concatenate(parts, axis=1), sample_rate=rate))


class AudioMerge(sdk.Node):
    """audio2 laid over audio1 (add, mean, subtract or multiply), cut or padded with silence to audio1's
    length; the result is scaled down when it would clip. Returns AUDIO."""

    id = "AudioMerge"
    display_name = "Merge Audio"
    category = "audio"

    class Inputs(sdk.Inputs):
        audio1: sdk.AudioValue = sdk.link()
        audio2: sdk.AudioValue = sdk.link()
        merge_method: str = sdk.select(options=["add", "mean", "subtract", "multiply"])

    class Outputs(sdk.Outputs):
        AUDIO: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        first = _require(inputs.audio1, "AudioMerge", "audio1")
        second = _require(inputs.audio2, "AudioMerge", "audio2")
        one, two, rate = match_rates(first, second)
        if one.shape[1] == 0 or two.shape[1] == 0:
            return self.Outputs(AUDIO=sdk.Audio(samples=one, sample_rate=rate))
        if two.shape[0] != one.shape[0]:
            if 1 not in (one.shape[0], two.shape[0]):
                raise sdk.NodeError(f"audio2: {two.shape[0]} channels cannot merge with {one.shape[0]}")
            channels = max(one.shape[0], two.shape[0])
            one, two = (
                np.repeat(one, channels // one.shape[0], 0),
                np.repeat(two, channels // two.shape[0], 0),
            )
        length = one.shape[1]
        two = two[:, :length] if two.shape[1] >= length else np.pad(two, ((0, 0), (0, length - two.shape[1])))
        merged = {
            "add": lambda: one + two,
            "mean": lambda: (one + two) / 2,
            "subtract": lambda: one - two,
            "multiply": lambda: one * two,
        }[inputs.merge_method]()
        peak = float(np.abs(merged).max())
        if peak > 1.0:
            merged = merged / peak
        return self.Outputs(AUDIO=sdk.Audio(samples=merged.astype(np.float32), sample_rate=rate))


class AudioAdjustVolume(sdk.Node):
    """The audio louder or softer by ``volume`` decibels (+6 about doubles it). Returns AUDIO."""

    id = "AudioAdjustVolume"
    display_name = "Adjust Audio Volume"
    category = "audio"

    class Inputs(sdk.Inputs):
        audio: sdk.AudioValue = sdk.link()
        volume: int = sdk.number(1, min=-100, max=100, tooltip="Change in decibels; 0 leaves it as it is")

    class Outputs(sdk.Outputs):
        AUDIO: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        audio = _require(inputs.audio, "AudioAdjustVolume")
        if inputs.volume == 0:
            return self.Outputs(AUDIO=audio)
        gain = 10.0 ** (inputs.volume / 20.0)
        samples = (np.asarray(audio.samples, dtype=np.float32) * gain).astype(np.float32)
        return self.Outputs(AUDIO=sdk.Audio(samples=samples, sample_rate=audio.sample_rate))


class EmptyAudio(sdk.Node):
    """Silence of ``duration`` seconds. Returns AUDIO."""

    id = "EmptyAudio"
    display_name = "Empty Audio"
    category = "audio"

    class Inputs(sdk.Inputs):
        duration: float = sdk.number(60.0, min=0.0, max=1e6, step=0.01, tooltip="Length in seconds")
        sample_rate: int = sdk.number(44100, min=1, max=192000)
        channels: int = sdk.number(2, min=1, max=2, tooltip="1 for mono, 2 for stereo")

    class Outputs(sdk.Outputs):
        AUDIO: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        count = round(inputs.duration * inputs.sample_rate)
        samples = np.zeros((inputs.channels, count), np.float32)
        return self.Outputs(AUDIO=sdk.Audio(samples=samples, sample_rate=inputs.sample_rate))


class SaveAudioMP3(sdk.Node):
    """Keep the audio as an MP3 result (V0 is the best VBR quality). Returns the audio."""

    id = "SaveAudioMP3"
    display_name = "Save Audio (MP3)"
    category = "audio"
    output_node = True

    class Inputs(sdk.Inputs):
        audio: sdk.AudioValue = sdk.link()
        filename_prefix: str = sdk.text("audio/ComfyUI")
        quality: str = sdk.select(options=MP3_QUALITIES)

    class Outputs(sdk.Outputs):
        audio: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        audio = _require(inputs.audio, "SaveAudioMP3")
        ui = _saved(audio, "mp3", inputs.quality, inputs.filename_prefix)
        return sdk.Result(outputs=self.Outputs(audio=audio), ui=ui)


class SaveAudioOpus(sdk.Node):
    """Keep the audio as an Opus (Ogg) result at a bit rate. Returns the audio."""

    id = "SaveAudioOpus"
    display_name = "Save Audio (Opus)"
    category = "audio"
    output_node = True

    class Inputs(sdk.Inputs):
        audio: sdk.AudioValue = sdk.link()
        filename_prefix: str = sdk.text("audio/ComfyUI")
        quality: str = sdk.select("128k", options=OPUS_QUALITIES)

    class Outputs(sdk.Outputs):
        audio: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        audio = _require(inputs.audio, "SaveAudioOpus")
        ui = _saved(audio, "opus", inputs.quality, inputs.filename_prefix)
        return sdk.Result(outputs=self.Outputs(audio=audio), ui=ui)


class SaveAudioAdvanced(sdk.Node):
    """Keep the audio as FLAC, MP3 or Opus. ``format.quality`` is the MP3 (V0, 128k, 320k) or Opus bit rate
    (64k-320k); FLAC ignores it. Returns the audio."""

    id = "SaveAudioAdvanced"
    display_name = "Save Audio (Advanced)"
    category = "audio"
    output_node = True

    class Inputs(sdk.Inputs):
        audio: sdk.AudioValue = sdk.link()
        filename_prefix: str = sdk.text("audio/ComfyUI")
        format: str = sdk.select(options=AUDIO_FORMATS, tooltip="The file format")
        quality: str = sdk.select(
            "V0", options=sorted(set(MP3_QUALITIES + OPUS_QUALITIES)), tooltip="MP3 or Opus quality"
        )

    class Outputs(sdk.Outputs):
        audio: sdk.AudioValue

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        audio = _require(inputs.audio, "SaveAudioAdvanced")
        quality: str | None = None
        if inputs.format != "flac":
            allowed = MP3_QUALITIES if inputs.format == "mp3" else OPUS_QUALITIES
            if inputs.quality not in allowed:
                raise sdk.NodeError(
                    f"quality: {inputs.format} takes {', '.join(allowed)}, not {inputs.quality}"
                )
            quality = inputs.quality
        ui = _saved(audio, inputs.format, quality, inputs.filename_prefix)
        return sdk.Result(outputs=self.Outputs(audio=audio), ui=ui)


class RecordAudio(LoadAudio):
    """Audio recorded in the browser and uploaded (ComfyUI's microphone widget). Returns AUDIO."""

    id = "RecordAudio"
    display_name = "Record Audio"
    category = "audio"

    def execute(self, inputs: LoadAudio.Inputs, ctx: sdk.Context) -> LoadAudio.Outputs:
        if not inputs.audio:
            raise sdk.NodeError("audio: nothing was recorded")
        return super().execute(inputs, ctx)


def encode_webm(images: np.ndarray, fps: float, codec: str, crf: float) -> bytes:
    """Frames (f, h, w, 3|4) as WebM: VP9 (keeping an alpha channel as yuva420p) or AV1, at ``crf``."""
    av = _av()
    data = np.clip(np.asarray(images, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    alpha = data.shape[-1] == 4 and codec == "vp9"
    names = ("libvpx-vp9",) if codec == "vp9" else ("libsvtav1", "libaom-av1")
    name = next((n for n in names if n in av.codecs_available), None)
    if name is None:
        raise sdk.NodeError(f"codec: this PyAV build has no {codec} encoder")
    pad_h, pad_w = data.shape[1] % 2, data.shape[2] % 2
    if pad_h or pad_w:
        data = np.pad(data, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    rate = Fraction(round(fps * 1000), 1000)
    with av.open(buffer, mode="w", format="webm") as out:
        stream = out.add_stream(name, rate=rate)
        stream.width, stream.height = data.shape[2], data.shape[1]
        stream.pix_fmt = "yuva420p" if alpha else "yuv420p"
        stream.bit_rate = 0
        stream.options = {"crf": str(int(crf))}
        for index, pixels in enumerate(data):
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(pixels if alpha else pixels[..., :3]),
                format="rgba" if alpha else "rgb24",
            )
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


class SaveWEBM(sdk.Node):
    """Keep the frames as a WebM video result (VP9 keeps RGBA transparency). Returns the images."""

    id = "SaveWEBM"
    display_name = "Save WEBM"
    category = "video"
    output_node = True

    class Inputs(sdk.Inputs):
        images: sdk.Image = sdk.link()
        filename_prefix: str = sdk.text("ComfyUI")
        codec: str = sdk.select(options=["vp9", "av1"])
        fps: float = sdk.number(24.0, min=0.01, max=1000.0, step=0.01)
        crf: float = sdk.number(
            32.0, min=0.0, max=63.0, step=1.0, tooltip="Higher is smaller and lower quality"
        )

    class Outputs(sdk.Outputs):
        images: sdk.Image

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        data = encode_webm(inputs.images, inputs.fps, inputs.codec, inputs.crf)
        ui = sdk.UI(
            files=[sdk.MediaFile(data, "webm", "video")], saved=True, filename_prefix=inputs.filename_prefix
        )
        return sdk.Result(outputs=self.Outputs(images=inputs.images), ui=ui)


NODES: list[type[sdk.Node]] = [
    TrimAudioDuration,
    AudioConcat,
    AudioMerge,
    AudioAdjustVolume,
    EmptyAudio,
    SaveAudioMP3,
    SaveAudioOpus,
    SaveAudioAdvanced,
    RecordAudio,
    SaveWEBM,
]
