import io

import numpy as np
import pytest
from PIL import Image as PILImage

from nodepacks import sdk
from nodepacks.core.tests.helpers import MemoryFiles
from nodepacks.core.video_audio import (
    CreateVideo,
    GetVideoComponents,
    LoadAudio,
    LoadVideo,
    PreviewAudio,
    SaveAnimatedWEBP,
    SaveAudio,
    SaveVideo,
    decode_video,
)
from nodepacks.sdk.testing import NodeOutcome, run_node

pytest.importorskip("av")


def _frames(count: int = 6, height: int = 32, width: int = 48) -> np.ndarray:
    """Frames of flat colours that change from frame to frame (easy on lossy codecs)."""
    frames = np.zeros((count, height, width, 3), np.float32)
    for index in range(count):
        frames[index] = (0.1 + 0.12 * index, 0.8 - 0.1 * index, 0.5)
    return frames


def _tone(seconds: float = 0.5, rate: int = 16000, channels: int = 2) -> sdk.Audio:
    t = np.arange(int(seconds * rate)) / rate
    samples = np.stack([0.5 * np.sin(2 * np.pi * (220 * (c + 1)) * t) for c in range(channels)])
    return sdk.Audio(samples=samples.astype(np.float32), sample_rate=rate)


def _saved_file(outcome: NodeOutcome) -> sdk.MediaFile:
    assert outcome.ui.saved
    (file,) = outcome.ui.files
    return file


def test_a_saved_video_loads_back_with_its_frames_fps_and_audio():
    frames, tone = _frames(), _tone()
    video = run_node(CreateVideo, images=frames, fps=12.0, audio=tone)["video"]

    saved = run_node(SaveVideo, video=video, filename_prefix="clips/me")
    file = _saved_file(saved)
    assert (file.kind, file.format) == ("video", "mp4")
    assert saved.ui.filename_prefix == "clips/me"
    assert saved["video"] is video

    loaded = run_node(LoadVideo, files=MemoryFiles({"me.mp4": file.data}), file="me.mp4")["video"]
    assert loaded.frames.shape == frames.shape
    assert loaded.fps == pytest.approx(12.0)
    assert np.abs(loaded.frames - frames).max() < 0.05  # h264 at crf 18 on flat colours
    assert loaded.audio is not None
    assert loaded.audio.sample_rate == tone.sample_rate
    assert loaded.audio.samples.shape[0] == 2
    # AAC pads to whole 1024-sample frames and adds an encoder delay; the tone's energy survives
    assert abs(loaded.audio.samples.shape[1] - tone.samples.shape[1]) <= 2048
    rms = np.sqrt(np.mean(loaded.audio.samples**2, axis=1))
    np.testing.assert_allclose(rms, np.sqrt(np.mean(tone.samples**2, axis=1)), rtol=0.15)


def test_odd_sized_frames_are_padded_to_even_sides_for_yuv420():
    frames = _frames(count=2, height=31, width=33)
    video = sdk.Video(frames=frames, fps=8.0)
    file = _saved_file(run_node(SaveVideo, video=video))
    loaded = decode_video(io.BytesIO(file.data))
    assert loaded.frames.shape == (2, 32, 34, 3)
    assert loaded.audio is None
    assert np.abs(loaded.frames[:, :31, :33] - frames).max() < 0.05


def test_webm_is_vp9_and_h264_in_webm_is_refused():
    video = sdk.Video(frames=_frames(count=3), fps=10.0)
    file = _saved_file(run_node(SaveVideo, video=video, format="webm"))
    assert file.format == "webm"
    assert decode_video(io.BytesIO(file.data)).frames.shape[0] == 3
    with pytest.raises(sdk.NodeError, match="h264 cannot be stored in webm"):
        run_node(SaveVideo, video=video, format="webm", codec="h264")


def test_get_video_components_splits_frames_audio_and_fps():
    tone = _tone(channels=1)
    video = sdk.Video(frames=_frames(count=2), fps=24.0, audio=tone)
    outcome = run_node(GetVideoComponents, video=video)
    assert outcome["images"].shape == (2, 32, 48, 3)
    assert outcome["audio"] is tone
    assert outcome["fps"] == 24.0
    assert outcome["bit_depth"] == 8
    silent = run_node(GetVideoComponents, video=sdk.Video(frames=_frames(count=1), fps=1.0))
    assert silent["audio"] is None


def test_create_video_rejects_a_non_batch():
    with pytest.raises(sdk.NodeError, match="images"):
        run_node(CreateVideo, images=np.zeros((4, 4, 3), np.float32), fps=10.0)


def test_corrupt_or_missing_uploads_fail_naming_the_input():
    files = MemoryFiles({"bad.mp4": b"this is not a video", "song.flac": b"\x00" * 64})
    with pytest.raises(sdk.NodeError, match=r"file: video 'bad.mp4' could not be decoded"):
        run_node(LoadVideo, files=files, file="bad.mp4")
    with pytest.raises(sdk.NodeError, match=r"not available"):
        run_node(LoadVideo, files=files, file="gone.mp4")
    with pytest.raises(sdk.NodeError, match=r"audio: file 'song.flac' could not be decoded"):
        run_node(LoadAudio, files=files, audio="song.flac")


def test_an_image_file_has_no_audio_stream():
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(buffer, format="PNG")
    files = MemoryFiles({"still.png": buffer.getvalue()})
    with pytest.raises(sdk.NodeError, match="no audio stream"):
        run_node(LoadAudio, files=files, audio="still.png")


def test_saved_flac_loads_back_sample_exact_at_16_bits():
    tone = _tone(channels=1, rate=22050)
    saved = run_node(SaveAudio, audio=tone)
    file = _saved_file(saved)
    assert (file.kind, file.format, saved.ui.filename_prefix) == ("audio", "flac", "audio/ComfyUI")
    loaded = run_node(LoadAudio, files=MemoryFiles({"a.flac": file.data}), audio="a.flac")["audio"]
    assert loaded.sample_rate == 22050
    assert loaded.samples.shape == tone.samples.shape
    assert np.abs(loaded.samples - tone.samples).max() < 1 / 16000


def test_preview_audio_is_not_kept_and_empty_audio_is_an_error():
    outcome = run_node(PreviewAudio, audio=_tone(seconds=0.1))
    assert not outcome.ui.saved
    assert outcome.ui.files[0].kind == "audio"
    with pytest.raises(sdk.NodeError, match="audio input is empty"):
        run_node(SaveAudio, audio=None)


def test_animated_webp_holds_every_frame_at_the_frame_rate():
    frames = _frames(count=5, height=16, width=16)
    outcome = run_node(SaveAnimatedWEBP, images=frames, fps=4.0, lossless=True, quality=80, method="fastest")
    file = _saved_file(outcome)
    assert (file.kind, file.format) == ("image", "webp")
    webp = PILImage.open(io.BytesIO(file.data))
    assert getattr(webp, "n_frames", 1) == 5
    webp.seek(2)
    webp.load()
    assert webp.info["duration"] == 250
    np.testing.assert_allclose(np.asarray(webp.convert("RGB")) / 255.0, frames[2], atol=1 / 255)
    assert outcome["images"] is frames
