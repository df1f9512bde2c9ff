"""Import of ComfyUI workflow files (UI format and API format) and export as an API-format prompt."""

from __future__ import annotations

import pytest

from backend.compat.tests.conftest import png_bytes
from backend.runs.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

# A default-like image workflow as ComfyUI's editor saves it (schema 0.4): LoadImage -> ImageScale -> SaveImage,
# a Note, a group, a Primitive node feeding ImageScale's width, a Reroute, a Seed widget with its
# control_after_generate value, and a node type Flowyard does not have.
UI_WORKFLOW = {
    "id": "2f0c2f9e-0000-4000-8000-000000000001",
    "revision": 0,
    "last_node_id": 9,
    "last_link_id": 7,
    "nodes": [
        {"id": 1, "type": "LoadImage", "pos": [50, 100], "size": [315, 314], "flags": {}, "order": 0, "mode": 0,
         "inputs": [], "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]},
                                   {"name": "MASK", "type": "MASK", "links": None}],
         "properties": {"Node name for S&R": "LoadImage"}, "widgets_values": ["photo.png", "image"]},
        {"id": 2, "type": "ImageScale", "pos": [420, 100], "size": [315, 130], "flags": {}, "order": 2, "mode": 0,
         "inputs": [{"name": "image", "type": "IMAGE", "link": 2},
                    {"name": "width", "type": "INT", "widget": {"name": "width"}, "link": 4}],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [3]}],
         "properties": {"Node name for S&R": "ImageScale"},
         "widgets_values": ["nearest-exact", 512, 24, "disabled"]},
        {"id": 3, "type": "SaveImage", "pos": [800, 100], "size": [315, 270], "flags": {}, "order": 3, "mode": 0,
         "title": "Result", "inputs": [{"name": "images", "type": "IMAGE", "link": 3}], "outputs": [],
         "properties": {}, "widgets_values": ["flowyard_test"]},
        {"id": 4, "type": "Note", "pos": [50, 500], "size": [300, 100], "flags": {}, "order": 4, "mode": 0,
         "inputs": [], "outputs": [], "properties": {}, "widgets_values": ["Scale to 32 wide"]},
        {"id": 5, "type": "PrimitiveNode", "pos": [50, 700], "size": [210, 82], "flags": {}, "order": 1,
         "mode": 0, "inputs": [], "outputs": [{"name": "INT", "type": "INT", "links": [4],
                                               "widget": {"name": "width"}}],
         "properties": {"Run widget replace on values": False}, "widgets_values": [32, "fixed"]},
        {"id": 6, "type": "Reroute", "pos": [380, 300], "size": [75, 26], "flags": {}, "order": 1, "mode": 0,
         "inputs": [{"name": "", "type": "*", "link": 1}],
         "outputs": [{"name": "", "type": "IMAGE", "links": [2]}], "properties": {}},
        {"id": 7, "type": "Seed", "pos": [50, 900], "size": [210, 82], "flags": {}, "order": 5, "mode": 0,
         "inputs": [], "outputs": [{"name": "seed", "type": "INT", "links": None}],
         "properties": {}, "widgets_values": [1234, "randomize"]},
        {"id": 8, "type": "KSampler", "pos": [420, 600], "size": [315, 262], "flags": {}, "order": 6, "mode": 4,
         "inputs": [], "outputs": [], "properties": {},
         "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1]},
    ],
    "links": [[1, 1, 0, 6, 0, "IMAGE"], [2, 6, 0, 2, 0, "IMAGE"], [3, 2, 0, 3, 0, "IMAGE"],
              [4, 5, 0, 2, 1, "INT"]],
    "groups": [{"id": 1, "title": "Resize", "bounding": [400, 20, 360, 260], "color": "#3f789e",
                "font_size": 24, "flags": {}}],
    "config": {},
    "extra": {"ds": {"scale": 1, "offset": [0, 0]}},
    "version": 0.4,
}  # fmt: skip


def test_a_ui_workflow_imports_saves_exports_and_runs(alice, client_for, comfy_client, wait_prompt):
    session = client_for(alice)
    answer = session.post("/api/import/comfy", UI_WORKFLOW, format="json")
    assert answer.status_code == 200, answer.content
    result = answer.json()
    graph, layout = result["document"]["graph"]["nodes"], result["document"]["layout"]
    assert graph["1"] == {"type": "LoadImage", "inputs": {"image": "photo.png"}}
    assert graph["2"] == {"type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact",
                          "width": ["5", 0], "height": 24, "crop": "disabled"}}  # fmt: skip
    assert graph["3"] == {
        "type": "SaveImage",
        "inputs": {"images": ["2", 0], "filename_prefix": "flowyard_test"},
    }
    assert graph["5"] == {"type": "PrimitiveInt", "inputs": {"value": 32}}
    assert graph["7"] == {"type": "Seed", "inputs": {"seed": 1234}}
    assert graph["8"]["type"] == "KSampler" and graph["8"]["inputs"]["widgets_values"][0] == 156680208700286
    assert "4" not in graph and "6" not in graph
    assert layout["nodes"]["1"] == {"x": 50, "y": 100, "width": 315, "height": 314}
    assert layout["nodes"]["3"]["title"] == "Result" and layout["nodes"]["8"]["mode"] == "bypass"
    assert layout["groups"] == [
        {"id": "1", "title": "Resize", "x": 400, "y": 20, "width": 360, "height": 260, "color": "#3f789e"}
    ]
    messages = {warning["node"]: warning["message"] for warning in result["warnings"]}
    assert "Scale to 32 wide" in messages["4"] and "KSampler" in messages["8"]
    assert result["missing"]["8"]["type"] == "KSampler"

    workspace = alice.personal_workspace
    saved = session.post(
        "/api/workflows", {"workspace": workspace.pk, "name": "Imported", **result["document"]}, format="json"
    )
    assert saved.status_code == 201, saved.content
    exported = session.get(f"/api/workflows/{saved.json()['id']}/export/comfy").json()
    assert exported["2"] == {
        "class_type": "ImageScale",
        "inputs": graph["2"]["inputs"],
        "_meta": {"title": "ImageScale"},
    }
    assert exported["3"]["_meta"] == {"title": "Result"} and "8" not in exported  # bypassed: left out

    client = comfy_client(alice)
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.post("/comfy/upload/image", {"image": SimpleUploadedFile("photo.png", png_bytes(size=(64, 48)))})
    del exported["7"]  # a Seed with no consumer is fine, but keep the prompt to the image path
    body = client.post("/comfy/prompt", {"prompt": exported}, format="json").json()
    assert body["node_errors"] == {}, body
    run = wait_prompt(body["prompt_id"])
    assert run.status == Run.Status.SUCCEEDED, run.error
    output = run.run_outputs.get(node_id="3")
    assert output.filename == "flowyard_test_00001.png"


def test_an_api_format_prompt_imports_with_titles_and_bad_input_is_refused(alice, client_for):
    session = client_for(alice)
    prompt = {
        "3": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8}, "_meta": {"title": "Canvas"}},
        "4": {
            "class_type": "PreviewImage",
            "inputs": {"images": ["3", 0]},
            "_meta": {"title": "PreviewImage"},
        },
    }
    result = session.post("/api/import/comfy", prompt, format="json").json()
    assert result["document"]["graph"]["nodes"]["4"] == {
        "type": "PreviewImage",
        "inputs": {"images": ["3", 0]},
    }
    assert result["document"]["layout"]["nodes"]["3"]["title"] == "Canvas"
    assert "title" not in result["document"]["layout"]["nodes"]["4"] and result["warnings"] == []
    assert session.post("/api/import/comfy", {"hello": 1}, format="json").status_code == 400
    assert session.get("/api/workflows/999999/export/comfy").status_code == 404
