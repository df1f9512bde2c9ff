# mypy: disallow-untyped-defs=False
"""ComfyUI's LoadVideo/LoadAudio pickers: videos and audio sent to /upload/image are listed by kind."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from backend.uploads.models import Upload
from backend.uploads.tests.test_media_uploads import audio_bytes, video_bytes


def test_videos_and_audio_uploaded_like_comfyui_fill_their_own_pickers(alice, comfy_client):
    client = comfy_client(alice)
    for name, data, content_type in [
        ("clip.mp4", video_bytes(), "video/mp4"),
        ("tone.wav", audio_bytes("wav", "pcm_s16le"), "audio/wav"),
    ]:
        response = client.post("/comfy/upload/image", {"image": SimpleUploadedFile(name, data, content_type)})
        assert response.status_code == 200, response.content
    assert dict(Upload.objects.values_list("name", "kind")) == {"clip.mp4": "video", "tone.wav": "audio"}
    info = client.get("/comfy/object_info").json()
    assert info["LoadVideo"]["input"]["required"]["file"][0] == ["clip.mp4"]
    assert info["LoadVideo"]["input"]["required"]["file"][1]["video_upload"] is True
    assert info["LoadAudio"]["input"]["required"]["audio"][0] == ["tone.wav"]
    assert info["LoadAudio"]["input"]["required"]["audio"][1]["audio_upload"] is True
    view = client.get("/comfy/view", {"filename": "clip.mp4", "type": "input"}, HTTP_RANGE="bytes=4-7")
    assert view.status_code == 206 and b"".join(view.streaming_content) == b"ftyp"
    assert view["Content-Range"].startswith("bytes 4-7/")
