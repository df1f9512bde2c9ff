"""Document validation, hashing and diffs, without HTTP."""

from __future__ import annotations

import copy

import pytest

from backend.accounts.exceptions import ApiError
from backend.workflows.documents import diff_graphs, parse_document
from backend.workflows.tests.conftest import GRAPH, LAYOUT
from workers.engine.registry import default_registry


def test_same_content_hashes_the_same_whatever_the_key_order():
    reordered = {"nodes": {"2": GRAPH["nodes"]["2"], "1": GRAPH["nodes"]["1"]}}
    assert parse_document(GRAPH, LAYOUT).content_hash == parse_document(reordered, LAYOUT).content_hash


def test_layout_counts_in_the_hash():
    moved = copy.deepcopy(LAYOUT)
    moved["nodes"]["1"]["x"] = 10
    assert parse_document(GRAPH, LAYOUT).content_hash != parse_document(GRAPH, moved).content_hash


def test_packs_are_recorded():
    assert parse_document(GRAPH).packs == {"core": default_registry().packs["core"].version}


def test_incomplete_graphs_with_unknown_types_may_be_saved():
    document = parse_document({"nodes": {"1": {"type": "NotYetInstalled", "inputs": {}}}})
    assert document.packs == {}


def test_comfyui_api_format_is_stored_in_flowyard_form():
    document = parse_document({"1": {"class_type": "EmptyImage", "inputs": {"width": 8}}})
    assert document.graph == {"nodes": {"1": {"type": "EmptyImage", "inputs": {"width": 8}}}}


def test_graph_errors_name_the_node():
    with pytest.raises(ApiError) as caught:
        parse_document({"nodes": {"1": {"inputs": {}}, "2": "nope"}})
    errors = caught.value.payload["errors"]
    assert {e["node"] for e in errors} == {"1", "2"}
    assert all(set(e) == {"code", "message", "node", "input"} for e in errors)


@pytest.mark.parametrize(
    "layout,field",
    [
        ({"nodes": {"1": {"x": "10", "y": 0}}}, "layout.nodes.1.x"),
        ({"nodes": {"1": {"y": 0}}}, "layout.nodes.1.x"),
        ({"nodes": {"1": {"x": 0, "y": 0, "mode": "hidden"}}}, "layout.nodes.1.mode"),
        ({"viewport": {"x": 0, "y": 0, "zoom": 0}}, "layout.viewport.zoom"),
        (
            {"groups": [{"id": "g", "title": "G", "x": 0, "y": 0, "width": -1, "height": 1}]},
            "layout.groups.0.width",
        ),
        ({"colour": "red"}, "layout.colour"),
        ({"notes": [{"id": "n1", "x": 0, "y": 0}]}, "layout.notes.0.text"),
        (
            {"reroutes": [{"id": "r1", "x": 0, "y": 0, "source": "1", "output": -1, "targets": []}]},
            "layout.reroutes.0.output",
        ),
    ],
)
def test_layout_errors_name_the_field(layout, field):
    with pytest.raises(ApiError) as caught:
        parse_document(GRAPH, layout)
    assert caught.value.payload["errors"][0]["field"] == field


def test_documents_over_the_size_limit_are_refused(settings):
    settings.FLOWYARD_MAX_DOCUMENT_BYTES = 1000
    big = {"nodes": {"1": {"type": "PrimitiveString", "inputs": {"value": "x" * 2000}}}}
    with pytest.raises(ApiError) as caught:
        parse_document(big)
    assert caught.value.status_code == 413
    assert "limit" in caught.value.payload["detail"]


def test_diff_reports_added_removed_type_and_input_changes():
    old = {
        "nodes": {
            "1": {"type": "EmptyImage", "inputs": {"width": 64, "height": 64}},
            "2": {"type": "ImageInvert", "inputs": {"image": ["1", 0]}},
            "3": {"type": "PreviewImage", "inputs": {"images": ["2", 0]}},
            "10": {"type": "ImageBlur", "inputs": {}},
        }
    }
    new = {
        "nodes": {
            "1": {"type": "EmptyImage", "inputs": {"width": 128, "height": 64, "color": 1}},
            "2": {"type": "ImageFlip", "inputs": {"image": ["1", 0]}},
            "3": {"type": "PreviewImage", "inputs": {"images": ["4", 0]}},
            "4": {"type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        }
    }
    assert diff_graphs(old, new) == {
        "added": ["4"],
        "removed": ["10"],
        "changed": [{"node": "1", "inputs": ["color", "width"]}, {"node": "3", "inputs": ["images"]}],
        "type_changed": [{"node": "2", "from": "ImageInvert", "to": "ImageFlip"}],
    }


def test_diff_of_identical_graphs_is_empty():
    assert diff_graphs(GRAPH, GRAPH) == {"added": [], "removed": [], "changed": [], "type_changed": []}


def test_notes_and_reroutes_are_kept_in_the_layout_and_change_nothing_in_the_graph():
    layout = {
        **LAYOUT,
        "notes": [{"id": "n1", "x": 5, "y": 6, "text": "# Read me", "markdown": True}],
        "reroutes": [
            {"id": "r1", "x": 100, "y": 50, "source": "1", "output": 0, "targets": [["2", "image"]]}
        ],
    }
    document = parse_document(GRAPH, layout)
    assert document.layout["notes"] == layout["notes"]
    assert document.layout["reroutes"] == [{**layout["reroutes"][0], "targets": [["2", "image"]]}]
    assert document.graph == parse_document(GRAPH, LAYOUT).graph
