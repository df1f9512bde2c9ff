"""Videos and audio a node saves become run outputs served with their content type, and ComfyUI's history lists
them the way ComfyUI does."""

from __future__ import annotations

import io

import pytest

from backend.compat.live import output_images
from backend.runs.models import RunOutput

pytest.importorskip("av")
pytestmark = pytest.mark.django_db(transaction=True)

VIDEO_GRAPH = {
    "nodes": {
        "1": {
            "type": "EmptyImage",
            "inputs": {"width": 16, "height": 16, "batch_size": 3, "color": 0x336699},
        },
        "2": {"type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": 8.0}},
        "3": {"type": "SaveVideo", "inputs": {"video": ["2", 0], "filename_prefix": "clips/blue"}},
        "4": {"type": "SaveAnimatedWEBP", "inputs": {"images": ["1", 0], "filename_prefix": "anim"}},
    }
}


def test_saved_video_and_webp_are_downloadable_with_their_content_types(team, as_role, wait_for_run):
    import av

    client = as_role("runner", token=True)
    response = client.post("/api/runs", {"workspace": team.pk, "graph": VIDEO_GRAPH}, format="json")
    assert response.status_code == 201, response.json()
    done = wait_for_run(response.json()["id"])
    assert done.status == "succeeded", done.error

    detail = client.get(f"/api/runs/{done.pk}").json()
    results = {r["node_id"]: r for r in detail["results"]}
    video, webp = results["3"], results["4"]
    assert (video["kind"], video["filename"], video["content_type"], video["saved"]) == (
        "video",
        "clips_blue_00001.mp4",
        "video/mp4",
        True,
    )
    assert (webp["kind"], webp["filename"], webp["content_type"]) == (
        "image",
        "anim_00001.webp",
        "image/webp",
    )

    served = client.get(video["url"])
    assert served.status_code == 200 and served["Content-Type"] == "video/mp4"
    with av.open(io.BytesIO(b"".join(served.streaming_content)), mode="r") as container:
        assert sum(1 for _ in container.decode(video=0)) == 3

    refs = [output.to_ref() for output in RunOutput.objects.filter(run=done, node_id="3")]
    listed = output_images(refs, "p1")
    assert listed == {
        "images": [{"filename": "clips_blue_00001.mp4", "subfolder": "p1", "type": "output"}],
        "animated": [True],
    }


def test_history_lists_audio_under_audio():
    ref = {"kind": "audio", "filename": "a_00001.flac", "saved": False, "content_type": "audio/flac"}
    assert output_images([ref], "p") == {
        "audio": [{"filename": "a_00001.flac", "subfolder": "p", "type": "temp"}]
    }
