import io

import numpy as np
import pytest

from nodepacks import sdk
from nodepacks.core import audio_extras as ax
from nodepacks.core.tests.helpers import MemoryFiles
from nodepacks.core.video_audio import decode_audio, decode_video
from nodepacks.sdk.testing import run_node

pytest.importorskip("av")


def _tone(seconds: float = 0.5, rate: int = 16000, channels: int = 2) -> sdk.Audio:
    t = np.arange(int(seconds * rate)) / rate
    samples = np.stack([0.5 * np.sin(2 * np.pi * 220 * (c + 1) * t) for c in range(channels)])
    return sdk.Audio(samples=samples.astype(np.float32), sample_rate=rate)


def test_trim_audio_duration_cuts_from_start_or_end():
    audio = sdk.Audio(samples=np.arange(100, dtype=np.float32)[None], sample_rate=10)
    out = run_node(ax.TrimAudioDuration, audio=audio, start_index=2.0, duration=3.0)["AUDIO"]
    assert out.samples[0, 0] == 20 and out.samples.shape == (1, 30)
    tail = run_node(ax.TrimAudioDuration, audio=audio, start_index=-1.0, duration=60.0)["AUDIO"]
    assert tail.samples[0].tolist() == list(range(90, 100))
    with pytest.raises(sdk.NodeError):
        run_node(ax.TrimAudioDuration, audio=audio, start_index=20.0, duration=1.0)


def test_audio_concat_makes_stereo_and_matches_rates():
    mono = sdk.Audio(samples=np.ones((1, 10), np.float32), sample_rate=10)
    stereo = sdk.Audio(samples=np.zeros((2, 20), np.float32), sample_rate=20)
    out = run_node(ax.AudioConcat, audio1=mono, audio2=stereo, direction="before")["AUDIO"]
    assert out.sample_rate == 20 and out.samples.shape == (2, 40)
    assert not out.samples[:, :20].any() and np.allclose(out.samples[:, 20:], 1.0)


def test_audio_merge_pads_to_audio1_and_normalises_clipping():
    one = sdk.Audio(samples=np.full((1, 8), 0.8, np.float32), sample_rate=8)
    two = sdk.Audio(samples=np.full((1, 4), 0.8, np.float32), sample_rate=8)
    out = run_node(ax.AudioMerge, audio1=one, audio2=two, merge_method="add")["AUDIO"].samples
    assert out.shape == (1, 8) and np.isclose(out.max(), 1.0) and np.isclose(out[0, -1], 0.5)
    mean = run_node(ax.AudioMerge, audio1=one, audio2=two, merge_method="mean")["AUDIO"].samples
    assert np.allclose(mean[0, :4], 0.8) and np.allclose(mean[0, 4:], 0.4)


def test_adjust_volume_in_decibels_and_empty_audio():
    audio = sdk.Audio(samples=np.full((1, 4), 0.1, np.float32), sample_rate=4)
    louder = run_node(ax.AudioAdjustVolume, audio=audio, volume=20)["AUDIO"]
    assert np.allclose(louder.samples, 1.0)
    empty = run_node(ax.EmptyAudio, duration=1.5, sample_rate=100, channels=1)["AUDIO"]
    assert empty.samples.shape == (1, 150) and not empty.samples.any()


@pytest.mark.parametrize(
    ("node", "values", "fmt"),
    [
        (ax.SaveAudioMP3, {"quality": "V0"}, "mp3"),
        (ax.SaveAudioOpus, {"quality": "64k"}, "opus"),
        (ax.SaveAudioAdvanced, {"format": "mp3", "quality": "128k"}, "mp3"),
        (ax.SaveAudioAdvanced, {"format": "flac"}, "flac"),
    ],
)
def test_saved_audio_decodes_back(node, values, fmt):
    tone = _tone()
    outcome = run_node(node, audio=tone, filename_prefix="audio/x", **values)
    (file,) = outcome.ui.files
    assert outcome.ui.saved and (file.kind, file.format) == ("audio", fmt)
    back = decode_audio(io.BytesIO(file.data))
    assert back.samples.shape[0] == 2
    assert abs(back.samples.shape[1] / back.sample_rate - 0.5) < 0.1
    assert np.abs(back.samples).max() > 0.3  # the tone survived, not silence


def test_save_audio_advanced_refuses_a_quality_of_the_other_format():
    with pytest.raises(sdk.NodeError, match="quality"):
        run_node(ax.SaveAudioAdvanced, audio=_tone(), format="opus", quality="V0")


def test_record_audio_loads_the_uploaded_recording():
    flac = run_node(ax.SaveAudioAdvanced, audio=_tone(), format="flac").ui.files[0].data
    audio = run_node(ax.RecordAudio, files=MemoryFiles({"rec.flac": flac}), audio="rec.flac")["audio"]
    assert audio.sample_rate == 16000 and audio.samples.shape == (2, 8000)
    with pytest.raises(sdk.NodeError, match="recorded"):
        run_node(ax.RecordAudio, files=MemoryFiles({}), audio="")


def test_save_webm_encodes_vp9():
    frames = np.zeros((4, 16, 24, 3), np.float32)
    frames[:, :, :, 0] = np.linspace(0.2, 0.8, 4)[:, None, None]
    outcome = run_node(ax.SaveWEBM, images=frames, codec="vp9", fps=8.0, crf=20.0)
    (file,) = outcome.ui.files
    assert file.format == "webm" and outcome["images"] is frames
    video = decode_video(io.BytesIO(file.data))
    assert video.frames.shape == (4, 16, 24, 3)
    assert np.abs(video.frames - frames).max() < 0.1
