"""ComfyUI subgraphs (``definitions.subgraphs``) imported as Flowyard subgraph definitions, flattened to run."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from backend.compat.workflows import export_comfy, import_comfy
from backend.runs.models import NodeRun
from workers.engine import NodeRegistry, parse_graph, validate_graph
from workers.engine.subgraphs import flatten

REGISTRY = NodeRegistry.from_modules(["nodepacks.core"])
SCALE = "5e2a3f70-0000-4000-8000-00000000aaaa"  # EmptyImage -> [Scale: ImageScale, muted ImageInvert] -> Save
OUTER = "5e2a3f70-0000-4000-8000-00000000bbbb"  # wraps Scale, to check nesting

WORKFLOW: dict[str, Any] = {
    "version": 0.4,
    "nodes": [
        {"id": 1, "type": "EmptyImage", "pos": [0, 0], "mode": 0, "inputs": [],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}], "widgets_values": [64, 48, 1, 0]},
        {"id": 12, "type": OUTER, "pos": [300, 0], "mode": 0,
         "inputs": [{"name": "image", "type": "IMAGE", "link": 1},
                    {"label": "w", "name": "width", "type": "INT", "widget": {"name": "width"}, "link": None}],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [2]}], "widgets_values": [40]},
        {"id": 3, "type": "SaveImage", "pos": [600, 0], "mode": 0,
         "inputs": [{"name": "images", "type": "IMAGE", "link": 2}], "outputs": [], "widgets_values": ["out"]},
    ],
    "links": [[1, 1, 0, 12, 0, "IMAGE"], [2, 12, 0, 3, 0, "IMAGE"]],
    "groups": [],
    "definitions": {"subgraphs": [
        {"id": OUTER, "name": "Outer", "inputNode": {"id": -10}, "outputNode": {"id": -20},
         "inputs": [{"id": "a", "name": "image", "type": "IMAGE", "linkIds": [10]},
                    {"id": "b", "name": "width", "type": "INT", "linkIds": [11]}],
         "outputs": [{"id": "c", "name": "IMAGE", "type": "IMAGE", "linkIds": [12]}],
         "nodes": [
             {"id": 34, "type": SCALE, "pos": [0, 0], "mode": 0,
              "inputs": [{"name": "image", "type": "IMAGE", "link": 10},
                         {"name": "width", "type": "INT", "widget": {"name": "width"}, "link": 11}],
              "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [12]}], "widgets_values": [99]},
         ],
         "links": [{"id": 10, "origin_id": -10, "origin_slot": 0, "target_id": 34, "target_slot": 0, "type": "IMAGE"},
                   {"id": 11, "origin_id": -10, "origin_slot": 1, "target_id": 34, "target_slot": 1, "type": "INT"},
                   {"id": 12, "origin_id": 34, "origin_slot": 0, "target_id": -20, "target_slot": 0, "type": "IMAGE"}],
         "groups": []},
        {"id": SCALE, "name": "Scale", "inputNode": {"id": -10}, "outputNode": {"id": -20},
         "inputs": [{"id": "d", "name": "image", "type": "IMAGE", "linkIds": [20]},
                    {"id": "e", "name": "width", "type": "INT", "linkIds": [21]},
                    {"id": "f", "name": "unused", "type": "INT", "linkIds": []}],
         "outputs": [{"id": "g", "name": "IMAGE", "type": "IMAGE", "linkIds": [23]}],
         "nodes": [
             {"id": 5, "type": "ImageScale", "pos": [10, 20], "mode": 0,
              "inputs": [{"name": "image", "type": "IMAGE", "link": 20},
                         {"name": "width", "type": "INT", "widget": {"name": "width"}, "link": 21}],
              "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [22]}],
              "widgets_values": ["bilinear", 16, 24, "disabled"]},
             {"id": 6, "type": "ImageInvert", "pos": [300, 20], "mode": 2,
              "inputs": [{"name": "image", "type": "IMAGE", "link": 22}],
              "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": []}]},
             {"id": 7, "type": "Note", "pos": [0, 300], "mode": 0, "inputs": [], "outputs": [],
              "widgets_values": ["inside"]},
         ],
         "links": [{"id": 20, "origin_id": -10, "origin_slot": 0, "target_id": 5, "target_slot": 0, "type": "IMAGE"},
                   {"id": 21, "origin_id": -10, "origin_slot": 1, "target_id": 5, "target_slot": 1, "type": "INT"},
                   {"id": 22, "origin_id": 5, "origin_slot": 0, "target_id": 6, "target_slot": 0, "type": "IMAGE"},
                   {"id": 23, "origin_id": 5, "origin_slot": 0, "target_id": -20, "target_slot": 0, "type": "IMAGE"}],
         "groups": [{"id": 1, "title": "Inside", "bounding": [0, 0, 100, 100]}]},
    ]},
}  # fmt: skip


def test_definitions_become_flowyard_subgraphs_with_widgets_boundary_links_and_modes() -> None:
    result = import_comfy(WORKFLOW, REGISTRY)
    graph, layout = result["document"]["graph"], result["document"]["layout"]
    assert graph["nodes"]["12"] == {"type": f"subgraph:{OUTER}", "inputs": {"image": ["1", 0], "width": 40}}
    scale = graph["subgraphs"][SCALE]
    assert scale["name"] == "Scale"
    assert scale["inputs"] == [
        {"name": "image", "type": "IMAGE", "targets": [["5", "image"]]},
        {"name": "width", "type": "INT", "targets": [["5", "width"]]},
        {"name": "unused", "type": "INT", "targets": []},
    ]
    assert scale["outputs"] == [{"name": "IMAGE", "type": "IMAGE", "source": ["5", 0]}]
    assert scale["nodes"]["5"] == {
        "type": "ImageScale",
        "inputs": {"upscale_method": "bilinear", "width": 16, "height": 24, "crop": "disabled"},
    }
    assert scale["nodes"]["6"]["inputs"] == {"image": ["5", 0]}
    assert "7" not in scale["nodes"]
    assert graph["subgraphs"][OUTER]["nodes"]["34"]["type"] == f"subgraph:{SCALE}"
    assert layout["subgraphs"][SCALE]["nodes"]["6"]["mode"] == "mute"
    assert layout["subgraphs"][SCALE]["groups"][0]["title"] == "Inside"
    assert any("inside" in w["message"] and w["node"] == "Scale › 7" for w in result["warnings"])
    assert result["missing"] == {}


def test_the_imported_document_flattens_and_validates_with_the_instance_widget_reaching_inside() -> None:
    graph = import_comfy(WORKFLOW, REGISTRY)["document"]["graph"]
    flat = flatten(graph)
    assert sorted(flat["nodes"]) == ["1", "12:34:5", "12:34:6", "3"]
    assert flat["nodes"]["12:34:5"]["inputs"]["width"] == 40
    assert flat["nodes"]["12:34:5"]["inputs"]["image"] == ["1", 0]
    assert flat["nodes"]["3"]["inputs"]["images"] == ["12:34:5", 0]
    assert validate_graph(parse_graph(flat), REGISTRY) == []


def test_an_unconnected_instance_input_keeps_the_inner_value_and_export_flattens_without_muted_nodes() -> (
    None
):
    workflow = copy.deepcopy(WORKFLOW)
    workflow["nodes"][1]["widgets_values"] = []  # ComfyUI's proxyWidgets: the value lives inside
    document = import_comfy(workflow, REGISTRY)["document"]
    assert flatten(document["graph"])["nodes"]["12:34:5"]["inputs"]["width"] == 99
    prompt = export_comfy(document["graph"], document["layout"])
    assert sorted(prompt) == ["1", "12:34:5", "3"]
    assert prompt["3"]["inputs"]["images"] == ["12:34:5", 0]
    assert prompt["12:34:5"]["class_type"] == "ImageScale"


@pytest.mark.django_db(transaction=True)
def test_the_import_endpoint_and_a_flattened_api_prompt_with_path_ids_run(
    alice, client_for, comfy_client, wait_prompt
):
    answer = client_for(alice).post("/api/import/comfy", WORKFLOW, format="json")
    assert answer.status_code == 200, answer.content
    assert set(answer.json()["document"]["graph"]["subgraphs"]) == {SCALE, OUTER}
    # What ComfyUI's frontend posts for it: already flattened, inner nodes under "12:34:5"-style ids.
    prompt = export_comfy(answer.json()["document"]["graph"], answer.json()["document"]["layout"])
    response = comfy_client(alice).post("/comfy/prompt", {"prompt": prompt}, format="json")
    assert response.status_code == 200, response.json()
    run = wait_prompt(response.json()["prompt_id"])
    assert run.status == "succeeded", run.error
    assert set(NodeRun.objects.filter(run=run).values_list("node_id", flat=True)) == {"1", "12:34:5", "3"}
