# mypy: disallow-untyped-defs=False
"""Video and audio uploads: sniffed with PyAV from real files made here, listed by kind for LoadVideo/LoadAudio."""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytest

from backend.uploads.files import upload_names
from backend.uploads.models import Upload
from backend.uploads.sniffing import sniff, sniff_media
from backend.uploads.tests.conftest import png_bytes


def video_bytes(container: str = "mp4", codec: str = "libx264", *, audio: str | None = None) -> bytes:
    """Four 32x24 frames (and, with ``audio``, a short tone) encoded into ``container``."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as box:
        stream: Any = box.add_stream(codec, rate=8)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        sound = box.add_stream(audio, rate=48000) if audio else None
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(np.full((24, 32, 3), 60 * i, np.uint8), format="rgb24")
            box.mux(stream.encode(frame))
        box.mux(stream.encode(None))
        if sound is not None:
            _encode_tone(box, sound)
    return out.getvalue()


def audio_bytes(container: str, codec: str, rate: int = 44100) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as box:
        _encode_tone(box, box.add_stream(codec, rate=rate))
    return out.getvalue()


def _encode_tone(box: Any, stream: Any) -> None:
    rate = stream.codec_context.sample_rate
    size = stream.codec_context.frame_size or 1024
    fmt = stream.codec_context.format.name
    t = np.arange(size * 8) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    scale, dtype = {"s16": (32767, np.int16), "s32": (2**31 - 1, np.int32), "flt": (1, np.float32)}[
        fmt.rstrip("p")
    ]
    for start in range(0, len(samples), size):
        chunk = (samples[None, start : start + size] * scale).astype(dtype)
        frame = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        box.mux(stream.encode(frame))
    box.mux(stream.encode(None))


@pytest.mark.parametrize(
    ("make", "kind", "content_type", "extension"),
    [
        (lambda: video_bytes("mp4", "libx264"), "video", "video/mp4", ".mp4"),
        (lambda: video_bytes("webm", "libvpx-vp9", audio="libopus"), "video", "video/webm", ".webm"),
        (lambda: video_bytes("matroska", "mpeg4"), "video", "video/x-matroska", ".mkv"),
        (lambda: audio_bytes("wav", "pcm_s16le"), "audio", "audio/wav", ".wav"),
        (lambda: audio_bytes("flac", "flac"), "audio", "audio/flac", ".flac"),
        (lambda: audio_bytes("mp3", "libmp3lame"), "audio", "audio/mpeg", ".mp3"),
        (lambda: audio_bytes("ipod", "aac"), "audio", "audio/mp4", ".m4a"),
    ],
    ids=["mp4", "webm", "mkv", "wav", "flac", "mp3", "m4a"],
)
def test_media_is_sniffed_from_its_bytes(make, kind, content_type, extension) -> None:
    data = make()
    sniffed = sniff(io.BytesIO(data), claims_image=False, kind=None)
    assert (sniffed.kind, sniffed.content_type, sniffed.extension) == (kind, content_type, extension)
    if kind == "video":
        assert (sniffed.width, sniffed.height) == (32, 24)
    assert sniff(io.BytesIO(data), claims_image=False, kind=kind).kind == kind


def test_a_video_with_sound_uploaded_as_audio_is_audio_and_a_silent_one_is_refused() -> None:
    with_sound = sniff(
        io.BytesIO(video_bytes("webm", "libvpx-vp9", audio="libopus")), claims_image=False, kind="audio"
    )
    assert (with_sound.kind, with_sound.content_type) == ("audio", "audio/webm")
    with pytest.raises(ValueError, match="not a audio file"):
        sniff(io.BytesIO(video_bytes()), claims_image=False, kind="audio")
    with pytest.raises(ValueError, match="sound only"):
        sniff(io.BytesIO(audio_bytes("flac", "flac")), claims_image=False, kind="video")


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00\x00\x18ftypmp42" + bytes(200),  # an mp4 header and nothing after it
        b"fLaC" + bytes(100),
        b"RIFF\x10\x00\x00\x00WAVEjunk",
        b"#EXTM3U\n#EXT-X-TARGETDURATION:1\nfile:///etc/passwd\n",  # never handed to FFmpeg's hls demuxer
        b"just some text",
    ],
)
def test_broken_or_other_bytes_are_not_media(data: bytes) -> None:
    assert sniff_media(io.BytesIO(data)) is None
    assert sniff(io.BytesIO(data), claims_image=False, kind=None).kind == "file"


def test_media_uploaded_as_file_stays_a_file_with_its_content_type() -> None:
    sniffed = sniff(io.BytesIO(audio_bytes("flac", "flac")), claims_image=False, kind="file")
    assert (sniffed.kind, sniffed.content_type) == ("file", "audio/flac")


@pytest.mark.django_db
def test_pickers_list_only_their_kind(client_for, alice, members, team, upload) -> None:
    owner = client_for(alice)
    for data, name, kind in [
        (video_bytes(), "clip.mp4", None),
        (audio_bytes("wav", "pcm_s16le"), "tone.wav", None),
        (audio_bytes("flac", "flac"), "song", "audio"),
        (png_bytes(), "photo.png", None),
    ]:
        response = upload(owner, team, data, name, **({"kind": kind} if kind else {}))
        assert response.status_code == 201, response.json()
    assert upload_names(team, "video") == ["clip.mp4"]
    assert upload_names(team, "audio") == ["song", "tone.wav"]
    assert upload_names(team, "image") == ["photo.png"]
    assert upload_names(team, "file") == ["clip.mp4", "photo.png", "song", "tone.wav"]
    listed = owner.get("/api/uploads", {"workspace": team.pk, "kind": "video"}).json()
    assert [(u["name"], u["kind"], u["width"], u["thumbnail_url"]) for u in listed] == [
        ("clip.mp4", "video", 32, None)
    ]
    content = owner.get(f"/api/uploads/{listed[0]['id']}/content", HTTP_RANGE="bytes=0-7")
    assert content.status_code == 206 and content["Content-Type"] == "video/mp4"
    assert b"".join(content.streaming_content)[4:8] == b"ftyp"


@pytest.mark.django_db
def test_a_file_uploaded_as_video_that_is_not_one_is_refused(
    client_for, alice, members, team, upload
) -> None:
    response = upload(client_for(alice), team, b"not a video at all", "clip.mp4", kind="video")
    assert response.status_code == 400
    assert "was uploaded as video but it is not a video file" in response.json()["detail"]
    assert not Upload.objects.exists()
